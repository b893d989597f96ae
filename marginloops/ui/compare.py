"""The CompareExplorer: two cascades stepped together and drawn on the same axes.

A lesson shows "the same crash, with and without X" with one line:
``CompareExplorer(scenario, scenario.replace(depth_1pct=6e6), labels=("thin", "deep"))``.
"""

from __future__ import annotations

import html
import math
from dataclasses import dataclass

import bqplot as bq
import ipywidgets as widgets
import numpy as np

from .. import narration as say
from ..compare import (
    MEASURES,
    OPTIONAL_MEASURES,
    LockStep,
    Summary,
    compare,
    differences,
    end_words,
)
from ..numbers import number, signed_percent
from . import style
from .chartkit import (
    Chart,
    axis_x,
    axis_y,
    caption,
    figure,
    fit,
    fit_rounds,
    rounds_span,
    set_traits,
    stylesheet,
)
from .run_controller import NarrationLog, RunController, chart_grid
from .time_controls import RESET_MESSAGE
from .view import View, liquidated_notional


@dataclass(frozen=True)
class RunStyle:
    """How one run is drawn: colour, line style, marker, and the symbol used in keys."""

    colour: str
    line_style: str
    marker: str
    symbol: str
    words: str


#: Run A solid with circles, run B dashed with squares: told apart without colour too.
RUN_STYLES = (RunStyle(style.BLUE, "solid", "circle", "●━", "solid line, circles"),
              RunStyle(style.ORANGE, "dashed", "square", "■╌", "dashed line, squares"))

#: Rows of the live summary table, chosen from :data:`marginloops.compare.MEASURES`, in its
#: order: those of :data:`TABLE_ROWS` always, those of
#: :data:`marginloops.compare.OPTIONAL_MEASURES` (the mechanisms' measures) once either run has
#: something in them.
TABLE_ROWS = ("final price", "price change", "amplification", "positions closed",
              "notional liquidated", "bad debt", "insurance fund left")
ALL_TABLE_ROWS = tuple(m for m in MEASURES if m in TABLE_ROWS or m in OPTIONAL_MEASURES)
#: Row headings that read differently while the runs are still going.
_SO_FAR = {"final price": "price now"}


@dataclass(frozen=True)
class CompareView:
    """Axis ranges covering both runs, found by playing each to its end in advance.

    Prices, rounds and liquidated notional are the union of each run's :class:`View`; bad debt
    has its own range.
    """

    price_lo: float
    price_hi: float
    rounds: int
    notional_max: float
    debt_max: float

    @classmethod
    def of(cls, lock: LockStep, debt: float) -> CompareView:
        """Ranges for ``lock``'s two runs (left reset); ``debt`` is the larger final bad debt."""
        views = [View.of(c) for c in lock.cascades]
        # At least 1K USD: with no bad debt the flat line sits on readable ticks, not milli-USD.
        return cls(price_lo=min(v.price_lo for v in views),
                   price_hi=max(v.price_hi for v in views),
                   rounds=max(v.rounds for v in views),
                   notional_max=max(v.notional_max for v in views),
                   debt_max=max(debt * 1.15, 1_000.0))


def _key(run: int, text: str) -> tuple[str, str, str]:
    """A key item of run ``run``; ``text`` is plain text (escaped here: the key is HTML)."""
    s = RUN_STYLES[run]
    return (s.colour, s.symbol, html.escape(text))


def _run_lines(scales, labels, tooltip_labels, formats):
    """One Lines mark per run, styled by :data:`RUN_STYLES`."""
    return tuple(
        bq.Lines(x=[], y=[], scales=scales, colors=[s.colour], line_style=s.line_style,
                 stroke_width=3, marker=s.marker, marker_size=40, labels=[label],
                 tooltip=bq.Tooltip(fields=["x", "y"], labels=tooltip_labels, formats=formats))
        for s, label in zip(RUN_STYLES, labels, strict=True))


class ComparePriceChart(Chart):
    """Both runs' last traded price after each round, on one pair of axes.

    With ``halts`` (a circuit breaker in either run) the rounds in which trading was halted are
    marked with grey crosses, and the key says so.
    """

    def __init__(self, labels, halts=False):
        self.x = bq.LinearScale()
        self.y = bq.LinearScale()
        sc = {"x": self.x, "y": self.y}
        self.start_line = bq.Lines(x=[0.0, 1.0], y=[[0.0, 0.0]] * 2, scales=sc,
                                   colors=[style.GREY], line_style="dotted",
                                   labels=["start price"])
        self.lines = _run_lines(sc, labels, ["round", "price"], ["", ",.2f"])
        # Drawn behind the runs' lines and bigger than their markers (grey, 3.3:1 on white,
        # no black outline): a halted round's square or circle stays on top, whole, and the
        # cross's arms show around it.
        self.halted = bq.Scatter(x=[], y=[], scales=sc, colors=[style.GREY], marker="cross",
                                 default_size=170, stroke=style.GREY, stroke_width=0.5,
                                 labels=["trading halted"],
                                 tooltip=bq.Tooltip(fields=["x", "y"],
                                                    labels=["halted round", "price"],
                                                    formats=["", ",.2f"]))
        halted_key = ((style.GREY, "✚", "trading halted by the circuit breaker (a cross behind "
                                     "the round's point)"),) if halts else ()
        self.caption = caption(*(_key(i, f"{label} ({RUN_STYLES[i].words})")
                                  for i, label in enumerate(labels)),
                                (style.GREY, "┈┈", "price before the shock"), *halted_key)
        self.figure = figure("Price by round", [self.start_line, self.halted, *self.lines],
                              [axis_x(self.x, "round", "d"),
                               axis_y(self.y, "price (USD)", ",.2f")])

    def reset(self, lock: LockStep, view: CompareView):
        """Fix the axes to ``view`` and draw the runs as they stand."""
        x_axis, y_axis = self.figure.axes
        fit_rounds(x_axis, view.rounds)
        fit(y_axis, view.price_lo, view.price_hi)
        set_traits(self.start_line, x=list(rounds_span(view.rounds)),
                   y=[[c.start_price] * 2 for c in lock.cascades])
        self.update(*(c.history for c in lock.cascades))

    def update(self, hist_a, hist_b):
        """Draw the rounds of both histories (lists of :class:`RoundRecord`)."""
        for line, hist in zip(self.lines, (hist_a, hist_b), strict=True):
            with line.hold_sync():
                line.x = [r.round for r in hist]
                line.y = [r.price_after for r in hist]
        halted = [r for hist in (hist_a, hist_b) for r in hist if r.halted]
        with self.halted.hold_sync():
            self.halted.x = [r.round for r in halted]
            self.halted.y = [r.price_after for r in halted]


class CompareLiquidationsChart(Chart):
    """Notional liquidated per round, a pair of bars per round: run A left, run B right."""

    def __init__(self, labels):
        self.x = bq.LinearScale()
        self.y = bq.LinearScale(min=0.0)
        self.rounds = 10
        self.bars = bq.Bars(x=np.arange(11), y=np.zeros((2, 11)),
                            scales={"x": self.x, "y": self.y}, type="grouped",
                            colors=[s.colour for s in RUN_STYLES], labels=list(labels),
                            padding=0.2, stroke=style.BLACK, stroke_width=1.0,
                            tooltip=bq.Tooltip(fields=["x", "y"], labels=["round", "USD"],
                                               formats=["", ",.0f"]))
        self.caption = caption((RUN_STYLES[0].colour, "▮",
                                 f"left bar: {html.escape(labels[0])}"),
                                (RUN_STYLES[1].colour, "▮",
                                 f"right bar: {html.escape(labels[1])}"),
                                (style.BLACK, "", "valued at the price that triggered them"))
        self.figure = figure("Liquidated notional by round", [self.bars],
                              [axis_x(self.x, "round", "d"),
                               axis_y(self.y, "liquidated (USD)")])

    def reset(self, lock: LockStep, view: CompareView):
        """Fix the axes to ``view`` and draw the runs as they stand."""
        x_axis, y_axis = self.figure.axes
        fit_rounds(x_axis, view.rounds)
        fit(y_axis, 0.0, view.notional_max)
        self.rounds = view.rounds
        self.update(*(c.history for c in lock.cascades))

    def update(self, hist_a, hist_b):
        """Draw the rounds of both histories (lists of :class:`RoundRecord`)."""
        # One slot for every round on the axis, zero until played: a Bars mark given a single
        # x value draws its band scale reversed in the browser and never recovers.
        n = max(self.rounds + 1, len(hist_a), len(hist_b))
        y = np.zeros((2, n))
        for row, hist in zip(y, (hist_a, hist_b), strict=True):
            for r in hist:
                row[r.round] = liquidated_notional(r)
        with self.bars.hold_sync():
            self.bars.x = np.arange(n)
            self.bars.y = y


class CompareBadDebtChart(Chart):
    """Both runs' bad debt so far (losses the insurance fund could not cover), by round."""

    def __init__(self, labels):
        self.x = bq.LinearScale()
        self.y = bq.LinearScale(min=0.0)
        self.lines = _run_lines({"x": self.x, "y": self.y}, labels, ["round", "USD"],
                                ["", ",.0f"])
        self.caption = caption(*(_key(i, f"{label} ({RUN_STYLES[i].words})")
                                  for i, label in enumerate(labels)))
        self.figure = figure("Bad debt so far", list(self.lines),
                              [axis_x(self.x, "round", "d"), axis_y(self.y, "bad debt (USD)")])

    def reset(self, lock: LockStep, view: CompareView):
        """Fix the axes to ``view`` and draw the runs as they stand."""
        x_axis, y_axis = self.figure.axes
        fit_rounds(x_axis, view.rounds)
        fit(y_axis, 0.0, view.debt_max)
        self.update(*(c.history for c in lock.cascades))

    def update(self, hist_a, hist_b):
        """Draw the rounds of both histories (lists of :class:`RoundRecord`)."""
        for line, hist in zip(self.lines, (hist_a, hist_b), strict=True):
            with line.hold_sync():
                line.x = [r.round for r in hist]
                line.y = [r.bad_debt for r in hist]


def _show(value) -> str:
    """A scenario field's value for the title line (None, a mechanism switched off: "off")."""
    if value is None:
        return "off"
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, (int, float)):
        return number(value, 6, sig=6, trim=True)
    return html.escape(str(value))


class CompareExplorer(RunController):
    """Two markets hit by a shock and stepped together, one round of each per click.

    Parameters
    ----------
    scenario_a, scenario_b : Scenario
        The two markets. Make B from A (``a.replace(depth_1pct=6e6)``) to see what one change
        does: the same traders (seed) and the same shock.
    labels : tuple of two str
        The runs' names in the title, the keys, the table and the narration.

    Attributes
    ----------
    lock : LockStep
        The two runs: ``lock.a.history`` and ``lock.b.history`` hold every round's record.
    comparison : Comparison
        Both runs played to the end in advance (it fixes the axes; its verdict is shown once
        both runs have ended).
    view : CompareView
        The axis ranges.
    time : TimeControls
        Step, Play, Run to end, Reset and the round counter.
    round : int or None
        The last round played (0: the shock; None before it), a trait to observe.
    ended : bool
        Whether both runs are over, a trait to observe.
    projector_toggle : ToggleButton
        The "Projector mode" button (see :meth:`set_projector`).
    price_chart, liquidations_chart, debt_chart : the charts; ``title``, ``statuses``,
        ``summary``, ``stories``: the text panels (the charts' text alternative).
    """

    def __init__(self, scenario_a, scenario_b, labels=("without", "with")):
        self.comparison = compare(scenario_a, scenario_b, labels=labels)  # checks the inputs
        self.labels = self.comparison.labels
        self.lock = LockStep(scenario_a, scenario_b)
        self.view = CompareView.of(self.lock, max(s.bad_debt for s in self.comparison.summaries))
        self._make_run_controls()
        self.time.step_button.tooltip = "Play one round of both runs"
        self.title = widgets.HTML(self._title(), layout={"margin": "0 0 4px 0"})
        self.statuses = tuple(widgets.HTML(layout={"margin": "2px 0"}) for _ in self.labels)
        self.summary = widgets.HTML(layout={"min_width": "360px"})
        self.narration_logs = tuple(NarrationLog(f"Narration of {label}", "260px")
                                    for label in self.labels)
        self.stories = tuple(log.widget for log in self.narration_logs)
        self.price_chart = ComparePriceChart(
            self.labels, halts=any(c.breaker is not None for c in self.lock.cascades))
        self.liquidations_chart = CompareLiquidationsChart(self.labels)
        self.debt_chart = CompareBadDebtChart(self.labels)
        for chart in self._charts():
            chart.reset(self.lock, self.view)
        grid = chart_grid([self.price_chart.widget, self.liquidations_chart.widget,
                           self.debt_chart.widget, self.summary])
        logs = chart_grid(
            log.box(f"<b>{self._mark(i)} {html.escape(label)}: what happened, newest first</b>")
            for i, (label, log) in enumerate(zip(self.labels, self.narration_logs, strict=True)))
        super().__init__([stylesheet(), self.title, self.time,
                          widgets.HBox([self.projector_toggle]), *self.statuses, grid, logs],
                         layout={"width": "100%"})
        self.add_class(style.ROOT_CLASS)

        # Every callback through guard(): an error is one sentence in both runs' narration.
        self._wire_run_controls()
        self.reset("Press Step to apply the shock to both runs.")

    # ------------------------------------------------------------------------- public
    @property
    def narration(self) -> tuple[list[str], list[str]]:
        """Every sentence so far of run A and of run B, oldest first (shown newest first)."""
        return tuple(list(log.lines) for log in self.narration_logs)

    def step(self) -> None:
        """One click of Step: the next round of each run that has not ended."""
        if self.lock.ended:
            return
        before = [len(c.history) for c in self.lock.cascades]
        self.lock.step()
        self._narrate_new(before)
        self._sync_buttons()  # first: the page shows the buttons' state before the verdict
        self._redraw()

    def run_to_end(self) -> None:
        """Play every remaining round of both runs, then draw once."""
        self.time.stop()
        before = [len(c.history) for c in self.lock.cascades]
        self.lock.run()
        self._narrate_new(before)
        self._sync_buttons()  # first: the page shows Step disabled before the verdict
        self._redraw()

    def reset(self, message: str = RESET_MESSAGE) -> None:
        """Both runs back to round 0 of the same markets."""
        self.time.stop()
        self.lock.reset()
        for log in self.narration_logs:
            log.clear(message)
        self._redraw()
        self._sync_buttons()

    # ------------------------------------------------------------------------ wiring
    def _log_note(self, text: str) -> None:
        """Add ``text`` to both runs' narration and show it."""
        for log in self.narration_logs:
            log.append(text)

    def run_ended(self) -> bool:
        """Whether both runs are over."""
        return self.lock.ended

    def round_shown(self) -> int | None:
        """The last round played (0: the shock), None before the shock."""
        return self.lock.steps - 1 if self.lock.steps else None

    def _charts(self):
        return (self.price_chart, self.liquidations_chart, self.debt_chart)

    def _narrate_new(self, before) -> None:
        """Add the sentences of the rounds played since the histories had ``before`` records."""
        for log, cas, n in zip(self.narration_logs, self.lock.cascades, before, strict=True):
            hist = cas.history
            log.extend(say.narrate(r, cas.check_price() if i == len(hist) - 1
                                   else _finite_or_none(hist[i + 1], "check_price"))
                       for i, r in enumerate(hist[n:], start=n))
            if cas.ended and len(cas.history) > n:
                log.extend([say.narrate_end(cas.history)])

    # ------------------------------------------------------------------- drawing
    @staticmethod
    def _mark(run: int) -> str:
        s = RUN_STYLES[run]
        return (f"<span style='color:{s.colour};font-weight:bold' aria-hidden='true'>"
                f"{s.symbol}</span>")

    def _title(self) -> str:
        a, b = self.labels
        diff = differences(*self.lock.scenarios)
        if diff:
            what = "; ".join(f"{name} {_show(va)} → {_show(vb)}" for name, va, vb in diff)
            what = f"The same market except: {what}."
        else:
            what = "The two scenarios are the same market."
        return (f"<div style='font-size:16px'><b>Compare:</b> {self._mark(0)} "
                f"<b>{html.escape(a)}</b> ({RUN_STYLES[0].words}) and {self._mark(1)} "
                f"<b>{html.escape(b)}</b> ({RUN_STYLES[1].words})</div>"
                f"<div style='font-size:13px'>{what}</div>")

    def _redraw(self) -> None:
        hists = [c.history for c in self.lock.cascades]
        for chart in self._charts():
            chart.update(*hists)
        for i, (status, cas) in enumerate(zip(self.statuses, self.lock.cascades, strict=True)):
            status.value = self._status(i, cas)
        self._update_summary()
        self._render_logs()

    def _render_logs(self) -> None:
        for log in self.narration_logs:
            log.render()

    def _status(self, run: int, cas) -> str:
        hist = cas.history
        label = html.escape(self.labels[run])
        if not hist:
            where = f"before the shock · price <b>{say.price(cas.price)}</b>"
        else:
            last = hist[-1]
            where = (f"round {last.round} · price <b>{say.price(last.price_after)}</b> "
                     f"({signed_percent(last.price_after / cas.start_price - 1)} from "
                     f"{say.price(cas.start_price)})")
            if last.halted:
                where += " · trading halted by the circuit breaker"
            if cas.ended:
                where += f" · stopped: {end_words(last.end_reason)}"
        return f"<div role='status'>{self._mark(run)} <b>{label}</b>: {where}</div>"

    def _update_summary(self) -> None:
        hists = [c.history for c in self.lock.cascades]
        summaries = [Summary.of(h) if h else None for h in hists]
        cells = [s.cells() if s else ("–",) * len(MEASURES) for s in summaries]
        # a row only some markets have (a mechanism's measure) shows once a run has it
        rows = [m for m in ALL_TABLE_ROWS if m in TABLE_ROWS
                or any(s is not None and s.shows(m) for s in summaries)]
        done = self.lock.ended
        head = "".join(f"<th style='text-align:right;padding:2px 8px'>{self._mark(i)} "
                       f"{html.escape(label)}</th>" for i, label in enumerate(self.labels))
        body = "".join(
            f"<tr><th scope='row' style='text-align:left;padding:2px 8px;font-weight:normal;"
            f"white-space:nowrap'>"
            f"{html.escape(measure if done else _SO_FAR.get(measure, measure))}</th>"
            + "".join(f"<td style='text-align:right;padding:2px 8px'>"
                      f"{html.escape(c[MEASURES.index(measure)])}</td>" for c in cells) + "</tr>"
            for measure in rows)
        caption = "At the end of both runs" if done else "So far"
        verdict = ""
        if done:
            verdict = (f"<p role='status' style='margin:6px 8px'>"
                       f"{html.escape(self.comparison.verdict())}</p>")
        self.summary.value = (
            f"<div style='font-size:14px;line-height:1.4'><table aria-label='Summary of both "
            f"runs' style='border-collapse:collapse;width:100%'><caption style='text-align:left;"
            f"font-weight:bold;padding:2px 8px'>{caption}</caption><tr><th></th>{head}</tr>"
            f"{body}</table>"
            f"{verdict}</div>")


def _finite_or_none(rec, name):
    """``rec``'s field ``name`` when it is a finite number, else None."""
    value = getattr(rec, name, None)
    return value if isinstance(value, float) and math.isfinite(value) else None
