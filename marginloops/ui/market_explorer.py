"""What every market explorer shares: one flow from controls to a run, for the perpetuals'
:class:`~marginloops.ui.explorer.CascadeExplorer` and the lending market's
:class:`~marginloops.ui.lending.LendingExplorer` (DESIGN §6: one run controller for every
explorer).

:class:`MarketExplorer` holds the page's order (controls, time control, phase and projector
toggles, status, stage, charts), Step / Run to end / Reset over a model with ``step()``,
``ended``, ``reset()`` and ``history``, phase mode's switch, and the round trip of a market
between the controls, the ``scenario`` trait and the run, where a market the model refuses
leaves the old one running and says so. Controls that are not on the page are built only when
something first needs them: hundreds of widgets, each a message to the browser, saved.
"""

from __future__ import annotations

import ipywidgets as widgets
import traitlets

from .chartkit import stylesheet
from .reports import problem_sentence
from .run_controller import NarrationLog, RunController
from .time_controls import RESET_MESSAGE

__all__ = ["MarketExplorer"]


class MarketExplorer(RunController):
    """The flow an explorer of one market shares (see the module's notes).

    A subclass defines a ``scenario`` trait, hands :meth:`_set_up_controls` the factory of its
    ``controls`` (called with a market; they have a ``scenario`` trait, ``what``,
    ``set_scenario(s, notify=True)`` and ``on_problem``), builds ``phase_toggle``,
    ``status``, ``stage`` and ``narration_log`` (:meth:`_make_page_widgets`), lays them out
    with :meth:`_page`, calls ``super().__init__`` and then
    :meth:`_wire_market` with its first market. It defines :meth:`_load` (build the run, raise
    if the market is refused, end with :meth:`reset`), :meth:`_narrate`, :meth:`_mid_round`,
    :meth:`_show_round`, :meth:`_advance_stage`, :meth:`_finish_stage_display`,
    :meth:`_redraw_all`, :meth:`_set_stage` and :meth:`_note_end`, and may extend
    :meth:`_rewound`.
    """

    @staticmethod
    def _check_flags(phase_mode, show_controls) -> None:
        for name, value in (("phase_mode", phase_mode), ("show_controls", show_controls)):
            if not isinstance(value, bool):
                raise ValueError(f"{name} must be True or False, got {value!r:.40}")

    def _set_up_controls(self, make_controls, scenario, show_controls: bool) -> None:
        """The market's controls, ``make_controls(market)``: built now for ``scenario`` if they
        are on the page (``show_controls``), else the first time :attr:`controls` is used."""
        self._controls_factory = make_controls
        self._controls = make_controls(scenario) if show_controls else None

    def _make_page_widgets(self, phase_mode: bool, stages: str) -> None:
        """The time control, the phase-mode box (``stages``: the round's stages, for its
        tooltip), the status and stage lines and the narration log."""
        self._make_run_controls()
        self.phase_toggle = widgets.Checkbox(
            value=phase_mode, description="Phase mode: one stage of the round per click",
            tooltip=f"Split each round into {stages}", indent=False, layout={"width": "360px"})
        self.status = widgets.HTML(layout={"margin": "4px 0"})
        self.stage = widgets.HTML(layout={"min_height": "24px"})
        self.narration_log = NarrationLog("Narration", "300px")
        self.story = self.narration_log.widget

    def _page(self, show_controls: bool, grid) -> list:
        """The explorer's children, top to bottom."""
        parts = [stylesheet()] + ([self.controls] if show_controls else [])
        return parts + [self.time,
                        widgets.HBox([self.phase_toggle, self.projector_toggle],
                                     layout={"align_items": "center", "flex_flow": "row wrap"}),
                        self.status, self.stage, grid]

    def _wire_market(self, scenario) -> None:
        """Every callback through ``guard()``: an error is one sentence in the narration,
        never a traceback in the browser's log with the widget stuck half-updated."""
        self._scenario = None  # the market that runs (the trait follows once it is loaded)
        guard = self._guard
        if self._controls is not None:  # on the page (else wired when built: ``controls``)
            self._wire_controls()
        self._wire_run_controls()
        self.phase_toggle.observe(guard(self._phase_toggled), names="value")
        self._load(scenario, f"Market: {scenario.name}. Press Step to apply the shock.")

    def _wire_controls(self) -> None:
        """The controls' problems go to the narration, their market to the run."""
        self._controls.on_problem(self._log_note)
        self._controls.observe(self._guard(self._controls_changed), names="scenario")

    # ------------------------------------------------------------------------- public
    @property
    def controls(self):
        """The market's controls, showing the market that runs. Not on the page
        (``show_controls=False``), they are built the first time they are used, or when
        another market is set from code (:meth:`set_scenario`, the ``scenario`` trait), which
        goes through them as it does when they are on the page."""
        if self._controls is None:
            # Until now only the first market ran: these are the controls it would have built.
            self._controls = self._controls_factory(self._scenario)
            self._wire_controls()
        return self._controls

    @property
    def phase_mode(self) -> bool:
        return self.phase_toggle.value

    @property
    def narration(self) -> list[str]:
        """Every sentence so far, oldest first (the log shows them newest first)."""
        return list(self.narration_log.lines)

    def set_scenario(self, scenario) -> None:
        """Show another market (the controls follow); the run restarts."""
        self.controls.set_scenario(scenario)

    def step(self) -> None:
        """One click of Step: a whole round, or in phase mode the next stage of one."""
        if self.run_ended():
            return
        if self.phase_mode:
            self._advance_stage()
        else:
            self._finish_stage_display()
            if not self.cascade.ended and self.cascade.step() is not None:
                self._show_round()
        self._sync_buttons()

    def run_to_end(self) -> None:
        """Stop Play, play every remaining round, then draw once."""
        self.time.stop()
        self._finish_stage_display()
        while not self.cascade.ended and self.cascade.step() is not None:
            self.narration_log.lines.append(self._narrate(self.cascade.history[-1]))
        self._redraw_all()
        self._set_stage("")
        self._note_end()
        self._sync_buttons()

    def reset(self, message: str = RESET_MESSAGE) -> None:
        """Back to round 0 of the same market."""
        self.time.stop()
        self.cascade.reset()
        self._rewound()
        self.narration_log.clear()
        self._redraw_all()
        self._set_stage("")
        self._log_note(message)
        self._sync_buttons()

    def run_ended(self) -> bool:
        """Whether the run is over: the model has ended and no stage is left to show."""
        return bool(self.cascade.ended) and not self._mid_round()

    def round_shown(self) -> int | None:
        """The last round the model played (0: the shock), None before the shock."""
        hist = self.cascade.history
        return hist[-1].round if hist else None

    # ------------------------------------------------------------------------ wiring
    def _counter_follows(self) -> bool:
        # A stage on show keeps its "stage k/n" in the counter (a round's last stage too),
        # until the run ends ("(end)").
        return not self._mid_round() and (self.run_ended() or not self.stage.value)

    def _log_note(self, text: str) -> None:
        self.narration_log.append(text)

    def _rewound(self) -> None:
        """The run went back to round 0: forget a round shown in part (phase mode)."""

    @traitlets.observe("scenario")
    def _scenario_set(self, change) -> None:
        """``scenario`` set from code: the controls show it, and tell :meth:`_controls_changed`
        (a market that already runs is left alone, and controls not built yet stay unbuilt for
        it: built later, they show the market that runs)."""
        if self._controls is None and change.new == self._scenario:
            return
        if change.new != self.controls.scenario:
            self.controls.set_scenario(change.new)

    def _controls_changed(self, change) -> None:
        """The controls' market changed: run it (unless it already runs)."""
        if change.new != self._scenario:
            self._run_market(change.new, self.controls.what)

    def _run_market(self, scenario, what: str) -> None:
        old = self._scenario
        try:
            self._load(scenario, f"Settings changed ({what}): the run starts again from "
                                 "round 0." if what else
                                 "Settings changed: the run starts again from round 0.")
        except Exception as exc:  # noqa: BLE001 - the old market stays, and the controls say so
            self.controls.set_scenario(old, notify=False)
            if self._scenario is old:  # nothing was replaced: the old run stays on screen
                self._log_note(f"{problem_sentence(exc)} The controls are back to the market "
                               "that runs.")
            else:
                self._load(old, f"{problem_sentence(exc)} The controls are back to the market "
                                "that ran before; it starts again from round 0.")
        self.scenario = self._scenario  # what runs, whoever set the trait
