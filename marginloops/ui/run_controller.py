"""What every explorer that steps a run shares: the time control (Step, Play/Pause, speed, Run
to end, Reset) wired to the explorer, the Play tick, the buttons' state, the narration log and
the grid the charts sit in, and the round as an observable trait.

:class:`RunController` is the base of :class:`~marginloops.ui.explorer.CascadeExplorer` and
:class:`~marginloops.ui.compare.CompareExplorer`. A subclass says what a step, a run to the end
and a reset do, when the run is over (:meth:`RunController.run_ended`), which round is shown
(:meth:`RunController.round_shown`) and what the counter reads; the rest is here, once.

``round`` and ``ended`` are traits: ``explorer.observe(callback, names="round")`` is told each
round, and ``traitlets.dlink((explorer, "round"), (label, "value"), str)`` shows it elsewhere.
"""

from __future__ import annotations

import html

import ipywidgets as widgets
import traitlets

from .chartkit import scrolling_log
from .projector import ProjectorMode
from .reports import StopsOnProblem
from .time_controls import RESET_MESSAGE, TimeControls, projector_toggle

__all__ = ["GRID_LAYOUT", "NarrationLog", "RunController", "chart_grid"]

#: The layout of a grid of charts: as many columns of at least 420px as fit.
GRID_LAYOUT = {"grid_template_columns": "repeat(auto-fit, minmax(420px, 1fr))",
               "grid_gap": "8px", "width": "100%", "overflow": "visible"}


def chart_grid(children) -> widgets.GridBox:
    """``children`` (chart widgets, logs, tables) in columns of at least 420px, as many as fit."""
    return widgets.GridBox(list(children), layout=dict(GRID_LAYOUT))


class NarrationLog:
    """A run's narration: sentences kept oldest first, shown newest first in a scrolling,
    focusable HTML region (``widget``) named ``label`` and ``height`` tall.

    ``lines`` is the list of sentences; change it with :meth:`append`, :meth:`extend` or
    :meth:`clear` and show it with :meth:`render` (append renders at once).
    """

    def __init__(self, label: str, height: str):
        self.label, self.height = label, height
        self.lines: list[str] = []
        # The log scrolls inside its HTML (a focusable region, so the keyboard can scroll it).
        self.widget = widgets.HTML(layout={"border": "1px solid #8C8C8C"})

    def box(self, title_html: str) -> widgets.VBox:
        """The log under its title (HTML), as a grid cell."""
        return widgets.VBox([widgets.HTML(title_html), self.widget],
                            layout={"min_width": "360px", "overflow": "visible"})

    def clear(self, *lines: str) -> None:
        """Forget every sentence; keep ``lines`` (not rendered)."""
        self.lines = list(lines)

    def extend(self, lines) -> None:
        """Add sentences (not rendered)."""
        self.lines.extend(lines)

    def append(self, line: str) -> None:
        """Add one sentence and show the log."""
        self.lines.append(line)
        self.render()

    def render(self) -> None:
        """Show the sentences, newest first."""
        items = "".join(f"<li>{html.escape(line)}</li>" for line in reversed(self.lines))
        self.widget.value = scrolling_log(self.label, items, self.height)


class RunController(StopsOnProblem, ProjectorMode, widgets.VBox):
    """The base of an explorer that steps a run: a :class:`TimeControls` ``time`` and a
    "Projector mode" button ``projector_toggle``, wired by :meth:`_wire_run_controls`.

    A subclass builds ``time`` and ``projector_toggle`` with :meth:`_make_run_controls`,
    its own widgets and charts, calls ``super().__init__(children, ...)`` and then
    :meth:`_wire_run_controls`; it defines :meth:`step`, :meth:`run_to_end`, :meth:`reset`,
    :meth:`run_ended`, :meth:`round_shown`, :meth:`_log_note` and ``_charts()``, and may
    override :meth:`_update_counter` and :meth:`_counter_follows`.
    """

    round = traitlets.Int(None, allow_none=True, read_only=True,
                          help="The last round played (0: the shock), None before the shock")
    ended = traitlets.Bool(False, read_only=True,
                           help="True once the run is over: Step, Play and Run to end are off")

    def _make_run_controls(self) -> None:
        self.time = TimeControls()
        self.projector_toggle = projector_toggle()

    def _wire_run_controls(self) -> None:
        """Every callback through :meth:`_guard`: an error is one sentence in the narration,
        never a traceback in the browser's log with the widget stuck half-updated."""
        guard = self._guard
        self.time.on_problem(self._log_note)
        self.time.step_button.on_click(guard(lambda _: self.step()))
        self.time.run_button.on_click(guard(lambda _: self.run_to_end()))
        self.time.reset_button.on_click(guard(lambda _: self.reset()))
        self.time.observe(guard(self._play_tick), names="tick")
        self.time.play.observe(guard(self._sync_buttons), names="playing")
        self.projector_toggle.observe(guard(lambda change: self.set_projector(change.new)),
                                      names="value")

    # ------------------------------------------------------------- what a subclass defines
    def step(self) -> None:  # pragma: no cover - defined by each explorer
        raise NotImplementedError

    def run_to_end(self) -> None:  # pragma: no cover
        raise NotImplementedError

    def reset(self, message: str = RESET_MESSAGE) -> None:  # pragma: no cover
        raise NotImplementedError

    def run_ended(self) -> bool:  # pragma: no cover
        """Whether the run is over (nothing left to step)."""
        raise NotImplementedError

    def round_shown(self) -> int | None:  # pragma: no cover
        """The last round played (0: the shock), None before the shock."""
        raise NotImplementedError

    def _log_note(self, text: str) -> None:  # pragma: no cover
        raise NotImplementedError

    def _update_counter(self, text: str | None = None) -> None:
        """The round counter: ``text``, or "Round k" (with "(end)" once the run is over)."""
        if text is None:
            k = self.round_shown()
            text = f"Round {k}" if k is not None else "Round –"
            if self.run_ended():
                text += " (end)"
        self.time.counter.value = f"<b>{html.escape(text)}</b>"

    def _counter_follows(self) -> bool:
        """Whether :meth:`_sync_buttons` rewrites the counter (always, unless a subclass shows
        something else there for a while)."""
        return True

    # ------------------------------------------------------------------------ shared
    def _play_tick(self, _change=None) -> None:
        """One tick of a playing Play (``time.tick`` moved): a step; Play stops once the run is
        over."""
        self.step()
        if self.run_ended():
            self.time.stop()

    def _sync_buttons(self, *_) -> None:
        """The buttons say what can be done: nothing to step once the run is over, no Step
        while Play steps; the counter, ``round`` and ``ended`` follow the run."""
        done = self.run_ended()
        self.time.step_button.disabled = done or self.time.play.playing
        self.time.run_button.disabled = done
        self.time.play.disabled = done
        if self._counter_follows():
            self._update_counter()
        self.set_trait("round", self.round_shown())
        self.set_trait("ended", done)
