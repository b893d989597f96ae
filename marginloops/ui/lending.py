"""The LendingExplorer and LendingCompare (issue 13): a lending market's liquidation loop,
round by round, with the same time control, phase mode and projector mode as the
:class:`~marginloops.ui.explorer.CascadeExplorer`.

A borrower's collateral falls, the health factor drops below 1 at the oracle's price,
liquidators repay debt and seize collateral plus a bonus, sell it on the venue, the venue's
price falls, the oracle reports it, and more accounts fall below 1. A lesson shows it with one
line: ``LendingExplorer(LENDING_PRESETS["eth-pool"])``.
"""

from __future__ import annotations

import dataclasses
import html
import math

import bqplot as bq
import ipywidgets as widgets
import numpy as np
import traitlets

from .. import narration as say
from ..lending import (
    LENDING_PRESETS,
    LendingCascade,
    LendingScenario,
    compare_lending,
    narrate_lending,
    narrate_lending_end,
)
from ..lending.compare import COMPARE_ROWS
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
    set_changed,
    stylesheet,
)
from .compare import RUN_STYLES
from .lending_charts import (
    BadDebtChart,
    HealthMapChart,
    LendingPriceChart,
    LendingVenuePanel,
    LendingView,
    RepaidChart,
    finite_points,
)
from .lending_controls import DEFAULT_PRESET, LendingControls, lending_market_name
from .market_explorer import MarketExplorer
from .run_controller import NarrationLog, RunController, chart_grid
from .time_controls import RESET_MESSAGE

__all__ = ["LENDING_ROUND_STAGES", "LENDING_SHOCK_STAGE", "LENDING_SHOCK_STAGES",
           "LendingCompare", "LendingExplorer"]

#: A round's stages in phase mode, in order (round 0 has :data:`LENDING_SHOCK_STAGES`).
LENDING_ROUND_STAGES = ("oracle update", "check health", "liquidate", "sell on the venue",
                        "new price")
LENDING_SHOCK_STAGE = "the shock"
#: Round 0's stages: the shock alone, then its new price.
LENDING_SHOCK_STAGES = (LENDING_SHOCK_STAGE, "new price")


def _things(n, word: str) -> str:
    n = int(n)
    return f"{number(n, 0)} {word}{'' if n == 1 else 's'}"


def _num(value, default=0.0) -> float:
    try:
        value = float(value)
    except (TypeError, ValueError):
        return default
    return value if math.isfinite(value) else default


def _snapshot(cascade):
    """The accounts now: threshold prices, debt, collateral (copies)."""
    acc = cascade.accounts
    return (np.array(acc.threshold_price(), float), np.array(acc.debt, float),
            np.array(acc.collateral, float))


def _venue_word(rec_or_scenario) -> str:
    return "pool" if getattr(rec_or_scenario, "venue", "pool") == "pool" else "order book"


# ------------------------------------------------------------------ phase-mode sentences
def oracle_sentence(rec) -> str:
    """Phase mode's "oracle update" stage in words."""
    before, now = _num(rec.oracle_before, math.nan), _num(rec.oracle_price, math.nan)
    if rec.oracle_updated:
        return (f"Oracle update: the oracle now reports {say.price(now)}, the venue's price"
                + (f" (it reported {say.price(before)})." if math.isfinite(before) else "."))
    return (f"Oracle update: none this round. The oracle still reports {say.price(now)}, "
            f"whatever the venue's price: health is checked at this stale price.")


def check_sentence(rec, debt_under: float) -> str:
    """Phase mode's "check health" stage in words (``debt_under``: their debt, USD)."""
    n = int(rec.n_below_one)
    if n == 0:
        return (f"Check health: at the oracle price {say.price(rec.oracle_price)} no account "
                f"has a health factor under 1.")
    return (f"Check health: at the oracle price {say.price(rec.oracle_price)}, "
            f"{_things(n, 'account')} {'has' if n == 1 else 'have'} a health factor under 1 "
            f"({say.money(debt_under)} of debt).")


def liquidate_sentence(rec) -> str:
    """Phase mode's "liquidate" stage in words."""
    skipped = int(rec.n_skipped_gas)
    skip = (f" {_things(skipped, 'account')} skipped: seizing {'it' if skipped == 1 else 'them'}"
            f" would not pay the gas cost." if skipped else "")
    if int(rec.n_liquidated) == 0:
        return "Liquidate: nobody is liquidated this round." + skip
    closed = int(rec.n_closed)
    return (f"Liquidate: liquidators repay {say.money(rec.repaid_usd)} of debt on "
            f"{_things(rec.n_liquidated, 'account')} and seize {say.units(rec.seized_qty)} of "
            f"collateral, bonus included ({say.units(rec.protocol_fee_qty)} of it the protocol "
            f"keeps as its fee)"
            + (f"; {_things(closed, 'account')} closed" if closed else "") + "." + skip)


def sell_sentence(rec) -> str:
    """Phase mode's "sell on the venue" stage in words."""
    where = "the pool" if rec.venue == "pool" else "the order book"
    sold, unsold = _num(rec.sold_qty), _num(rec.unsold_qty)
    if not sold > 0:
        text = f"Sell on the venue: the liquidators sell nothing on {where} this round."
    else:
        text = (f"Sell on the venue: the liquidators sell {say.units(sold)} on {where} at an "
                f"average {say.price(rec.avg_fill_price)} (slippage "
                f"{say.percent(_num(rec.slippage))}).")
    if unsold > 0:
        text += (f" {say.units(unsold)} could not be sold: the liquidators hold "
                 f"{say.units(rec.held_qty)} so far.")
    return text


def new_price_sentence(rec) -> str:
    """Phase mode's "new price" stage in words."""
    before, after = _num(rec.price_before), _num(rec.price_after)
    if after == before:
        return f"New price: the venue's price stays at {say.price(after)}."
    return (f"New price: the venue's price is now {say.price(after)} "
            f"({signed_percent(after / before - 1) if before > 0 else '–'} this round); the "
            f"next round's oracle update may report it.")


def shock_sentence(rec, scenario) -> str:
    """Phase mode's first stage of round 0: the outside seller (the oracle has not seen it)."""
    return (f"The shock: an outside seller sells {say.units(rec.shock_qty)} on the "
            f"{_venue_word(rec)}, pushing its price {say.percent(scenario.shock)} below "
            f"{say.price(rec.price_before)}. The oracle has not seen it yet: it reads the venue "
            f"at the start of the next round.")


class LendingExplorer(MarketExplorer):
    """Step through a lending market's liquidation loop one round (or one stage) at a time.

    Parameters
    ----------
    scenario : LendingScenario, optional
        The market to start from (default: the "eth-pool" preset).
    phase_mode : bool
        Start with each round split into its stages (oracle update → check health →
        liquidate → sell on the venue → new price), one click each.
    show_controls : bool
        Show the market's controls (the time control is always shown). Without them on the
        page, ``controls`` is built only when first used or when another market is set from
        code.

    Attributes
    ----------
    scenario : LendingScenario
        The market that runs, a trait (set it to run another; the controls follow).
    round, ended : traits of the run (see :class:`RunController`).
    cascade : LendingCascade
        The model: ``explorer.cascade.history`` holds every round's record.
    controls, time, phase_toggle, projector_toggle : the controls (not on the page,
        ``controls`` is built on first use).
    price_chart, repaid_chart, map_chart, venue_chart, debt_chart : the charts (the venue
        chart is a pool's reserves curve or a book's depth: ``venue_panel`` picks it);
        ``status``, ``stage``, ``story``: the text panels (the charts' text alternative).

    Notes
    -----
    Changing a control resets the run, and the narration says so. No callback lets an
    exception out: a refused value or combination is one sentence, with the controls back on
    the market that runs.
    """

    scenario = traitlets.Instance(LendingScenario, help="The market that runs")

    def __init__(self, scenario: LendingScenario | None = None, *, phase_mode: bool = False,
                 show_controls: bool = True):
        if scenario is not None and not isinstance(scenario, LendingScenario):
            raise ValueError(f"scenario must be a LendingScenario, got "
                             f"{type(scenario).__name__}")
        self._check_flags(phase_mode, show_controls)
        scenario = scenario if scenario is not None else LENDING_PRESETS[DEFAULT_PRESET]
        if scenario.name != lending_market_name(scenario):
            scenario = scenario.replace(name=lending_market_name(scenario))
        self._set_up_controls(LendingControls, scenario, show_controls)
        self._make_page_widgets(
            phase_mode, "oracle update → check health → liquidate → sell on the venue → new price")
        self.price_chart = LendingPriceChart()
        self.repaid_chart = RepaidChart()
        self.map_chart = HealthMapChart()
        self.debt_chart = BadDebtChart()
        self.venue_panel = LendingVenuePanel()
        self.venue_box = widgets.VBox([self.venue_panel.chart.widget],
                                      layout={"min_width": "360px", "overflow": "visible"})
        grid = chart_grid([self.price_chart.widget, self.repaid_chart.widget,
                           self.map_chart.widget, self.venue_box, self.debt_chart.widget,
                           self.narration_log.box("<b>What happened, newest first</b>")])
        super().__init__(self._page(show_controls, grid), layout={"width": "100%"})
        self.add_class(style.ROOT_CLASS)
        self._pending = None  # phase mode: [record, stages, next stage index, accounts before]
        self._wire_market(scenario)

    # ------------------------------------------------------------------------- public
    @property
    def venue_chart(self):
        """The venue's chart on show: a pool's reserves curve or a book's depth."""
        return self.venue_panel.chart

    # ------------------------------------------------------------------------ wiring
    def _load(self, scenario: LendingScenario, message: str) -> None:
        cascade = LendingCascade(scenario)  # built first: a market that fails leaves the old
        view = LendingView.of(cascade)
        self._scenario, self.cascade, self.view = scenario, cascade, view
        push = scenario.oracle == "push"
        self.price_chart.reset(cascade, view, push=push)
        self.repaid_chart.reset(view)
        self.map_chart.reset(view)
        self.debt_chart.reset(view)
        if self.venue_panel.load(cascade, view, bool(self.projector_toggle.value)) or (
                self.venue_box.children != (self.venue_panel.chart.widget,)):
            self.venue_box.children = (self.venue_panel.chart.widget,)
        self.reset(message)
        self.scenario = scenario

    def _charts(self):
        return (self.price_chart, self.repaid_chart, self.map_chart, self.venue_chart,
                self.debt_chart)

    def _mid_round(self) -> bool:
        return self._pending is not None

    def _rewound(self) -> None:
        self._start = _snapshot(self.cascade)
        self._pending = None

    def _narrate(self, rec) -> str:
        return narrate_lending(rec)

    def _phase_toggled(self, change) -> None:
        if not change.new:
            self._finish_stage_display()
            self._set_stage("")
        self._sync_buttons()

    # ------------------------------------------------------------------- drawing
    def _redraw_all(self) -> None:
        cas = self.cascade
        hist = cas.history
        self.price_chart.update(hist)
        self.repaid_chart.update(hist)
        self.debt_chart.update(hist)
        self.venue_panel.show(cas, hist[-1] if hist else None)
        # the accounts the next round's check will find under 1: at the oracle's next price
        self.map_chart.update(self._start, _snapshot(cas), _num(cas.oracle_price, math.nan),
                              _num(cas.price, math.nan), reached_at=self._next_oracle())
        self._update_status()
        self.narration_log.render()

    def _next_oracle(self) -> float:
        """The price the next round's check will use if the venue stays where it is (NaN once
        the run is over: nobody is liquidated next)."""
        if self.cascade.ended:
            return math.nan
        return _num(self.cascade.next_oracle()[0], math.nan)

    def _show_round(self) -> None:
        self.narration_log.lines.append(narrate_lending(self.cascade.history[-1]))
        self._redraw_all()
        self._set_stage("")
        self._note_end()

    def _note_end(self) -> None:
        if not self.cascade.ended:
            return
        end = narrate_lending_end(self.cascade.history)
        if end and (not self.narration_log.lines or self.narration_log.lines[-1] != end):
            self.narration_log.append(end)

    def _stages(self, rec) -> tuple[str, ...]:
        """Round 0 is the shock alone (the oracle reads the venue at the next round's start)."""
        return LENDING_SHOCK_STAGES if rec.round == 0 else LENDING_ROUND_STAGES

    def _advance_stage(self) -> None:
        """One click in phase mode: each stage changes the marks its name says.

        =================  ==========================================================
        stage              what changes on screen
        =================  ==========================================================
        the shock          (round 0, then "new price") the venue chart: the outside
                           seller's order
        oracle update      the price chart's oracle point; the map's oracle line
        check health       the map: the accounts under 1 at the oracle (◆)
        liquidate          the repaid/seized bars; the map: liquidated debt hollow, no ◆
        sell on the venue  the venue chart: the liquidators' sale
        new price          the venue price point, bad debt, the status line, the
                           round's sentence in the log; the map marks (◆) the accounts
                           under 1 at the oracle's next price
        =================  ==========================================================
        """
        cas = self.cascade
        if self._pending is None:
            before = _snapshot(cas)
            prev_price = _num(cas.price)
            rec = cas.step()
            if rec is None:
                return
            self._pending = [rec, self._stages(rec), 0, before, prev_price]
        rec, stages, k, before, prev_price = self._pending
        stage = stages[k]
        hist = cas.history
        settled = hist[:-1]
        if stage == LENDING_SHOCK_STAGE:
            self.venue_panel.show(cas, rec)
            text = shock_sentence(rec, self._scenario)
        elif stage == "oracle update":
            self.price_chart.update(settled, hist)
            self.map_chart.update(self._start, before, rec.oracle_price, prev_price,
                                  reached_at=math.nan)
            text = oracle_sentence(rec)
        elif stage == "check health":
            self.map_chart.update(self._start, before, rec.oracle_price, prev_price)
            t, d, c = before
            under = (d > 0) & (c > 0) & (t > rec.oracle_price)
            text = check_sentence(rec, float(d[under].sum()))
        elif stage == "liquidate":
            self.repaid_chart.update(hist)
            self.map_chart.update(self._start, _snapshot(cas), rec.oracle_price, prev_price,
                                  reached_at=math.nan)
            text = liquidate_sentence(rec)
        elif stage == "sell on the venue":
            self.venue_panel.show(cas, rec)
            text = sell_sentence(rec)
        else:  # "new price": the round is complete
            self._pending = None
            self.narration_log.lines.append(narrate_lending(rec))
            self.price_chart.update(hist)
            self.debt_chart.update(hist)
            self.map_chart.update(self._start, _snapshot(cas), rec.oracle_price,
                                  rec.price_after, reached_at=self._next_oracle())
            self.narration_log.render()
            self._set_stage(new_price_sentence(rec), k + 1, stages, rec.round)
            self._note_end()
            return
        self._pending[2] = k + 1
        self._set_stage(text, k + 1, stages, rec.round)

    def _finish_stage_display(self) -> None:
        """Leaving phase mode (or running on) mid-round: complete the round on screen."""
        if self._pending is None:
            return
        self._pending = None
        self._show_round()

    def _set_stage(self, text, k=None, stages=None, round_no=None) -> None:
        if not text:
            self.stage.value = ""
            self._update_counter()
            return
        title = f"Round {round_no}, stage {k} of {len(stages)} ({stages[k - 1]})"
        self.stage.value = (f"<div role='status' aria-live='polite'><b>{html.escape(title)}:</b> "
                            f"{html.escape(text)}</div>")
        self._update_counter(f"Round {round_no} · stage {k}/{len(stages)}")
        self._update_status(title)

    def _update_status(self, where: str | None = None) -> None:
        """The status line, from the records whose new price is on screen."""
        cas = self.cascade
        hist = cas.history
        settled = hist[:-1] if self._pending is not None else hist
        start = self.view.start
        last = settled[-1] if settled else None
        price = (last.price_after if last else hist[-1].price_before if hist else start)
        price = _num(price, math.nan)
        oracle = _num(last.oracle_price, start) if last else start
        if self._pending is not None and hist[-1].round > 0:  # shown from "oracle update" on
            oracle = _num(hist[-1].oracle_price, oracle)
        if where is None:
            where = f"round {last.round}" if last else "before the shock"
        liquidated = sum(int(r.n_liquidated) for r in settled)
        repaid = sum(_num(r.repaid_usd) for r in settled)
        bad = _num(last.bad_debt) if last else 0.0
        under = _num(last.underwater_debt) if last else 0.0
        held = _num(last.held_qty) if last else 0.0
        n_open = int(last.n_open) if last else int((self._start[1] > 0).sum())
        skipped = sum(int(r.n_skipped_gas) for r in settled)
        if math.isfinite(price):
            price_words = (f"venue price <b>{say.price(price)}</b> "
                           f"({signed_percent(price / start - 1)} from {say.price(start)})")
        else:
            price_words = "venue price <b>none: no bid left</b>"
        self.status.value = (
            f"<div role='status'><b>{html.escape(where[:1].upper() + where[1:])}</b>"
            f" · market {html.escape(self._scenario.name)}"
            f" · {price_words} · oracle <b>{say.price(oracle)}</b>"
            f" · open accounts {number(n_open, 0)} · liquidations so far "
            f"{number(liquidated, 0)} ({say.money(repaid)} repaid)"
            + (f" · skipped for gas {number(skipped, 0)}" if skipped else "")
            + f" · bad debt <b>{say.money(bad)}</b> · underwater debt {say.money(under)}"
            + (f" · held by liquidators {say.units(held)}" if held > 0 else "")
            + (f" · stopped: {html.escape(self._end_words(last.end_reason))}"
               if last is not None and last.end_reason else "")
            + "</div>")

    @staticmethod
    def _end_words(reason) -> str:
        return {"fixed_point": "nobody left that liquidators would liquidate, now or at the "
                               "price the oracle will report",
                "venue_exhausted": "the venue has nothing left to buy with",
                "max_rounds": "the last round allowed"}.get(reason, str(reason))


# ======================================================================= compare mode
class _ComparePrice(Chart):
    """Both runs' venue price (thick) and oracle price (thin, dashed) by round."""

    def __init__(self, labels):
        self.x, self.y = bq.LinearScale(), bq.LinearScale()
        sc = {"x": self.x, "y": self.y}
        self.start_line = bq.Lines(x=[0.0, 1.0], y=[0.0, 0.0], scales=sc, colors=[style.GREY],
                                   line_style="dotted", labels=["start price"])
        self.lines, self.oracles = [], []
        for s, label in zip(RUN_STYLES, labels, strict=True):
            self.lines.append(bq.Lines(
                x=[], y=[], scales=sc, colors=[s.colour], line_style=s.line_style,
                stroke_width=3, marker=s.marker, marker_size=40, labels=[f"{label}: venue"],
                tooltip=bq.Tooltip(fields=["x", "y"], labels=["round", "venue"],
                                   formats=["", ",.2f"])))
            self.oracles.append(bq.Lines(
                x=[], y=[], scales=sc, colors=[s.colour], line_style="dash_dotted",
                stroke_width=1.5, marker="diamond", marker_size=20,
                interpolation="step-after", labels=[f"{label}: oracle"],
                tooltip=bq.Tooltip(fields=["x", "y"], labels=["round", "oracle"],
                                   formats=["", ",.2f"])))
        self.caption = caption(
            *((s.colour, s.symbol, f"{html.escape(label)}: venue price ({s.words})")
              for s, label in zip(RUN_STYLES, labels, strict=True)),
            *((s.colour, "◆┈", f"{html.escape(label)}: oracle (thin, dash-dotted steps)")
              for s, label in zip(RUN_STYLES, labels, strict=True)),
            (style.GREY, "┈┈", "price before the shock"))
        self.figure = figure("Venue and oracle price by round",
                             [self.start_line, *self.oracles, *self.lines],
                             [axis_x(self.x, "round", "d"),
                              axis_y(self.y, "price (USD)", ",.2f")])

    def reset(self, views, rounds):
        x_axis, y_axis = self.figure.axes
        fit_rounds(x_axis, rounds)
        fit(y_axis, min(v.price_lo for v in views), max(v.price_hi for v in views))
        set_changed(self.start_line, x=list(rounds_span(rounds)), y=[views[0].start] * 2)

    def update(self, hists):
        for line, oracle, hist in zip(self.lines, self.oracles, hists, strict=True):
            x = [r.round for r in hist]
            set_changed(line, **dict(zip(("x", "y"), finite_points(
                x, [r.price_after for r in hist]), strict=True)))
            set_changed(oracle, **dict(zip(("x", "y"), finite_points(
                x, [r.oracle_price for r in hist]), strict=True)))


class _CompareDebt(Chart):
    """Both runs' bad debt so far by round."""

    def __init__(self, labels):
        self.x, self.y = bq.LinearScale(), bq.LinearScale(min=0.0)
        sc = {"x": self.x, "y": self.y}
        self.lines = [bq.Lines(x=[], y=[], scales=sc, colors=[s.colour],
                               line_style=s.line_style, stroke_width=3, marker=s.marker,
                               marker_size=40, labels=[label],
                               tooltip=bq.Tooltip(fields=["x", "y"], labels=["round", "USD"],
                                                  formats=["", ",.0f"]))
                      for s, label in zip(RUN_STYLES, labels, strict=True)]
        self.caption = caption(*((s.colour, s.symbol, f"{html.escape(label)} ({s.words})")
                                 for s, label in zip(RUN_STYLES, labels, strict=True)))
        self.figure = figure("Bad debt so far", list(self.lines),
                             [axis_x(self.x, "round", "d"), axis_y(self.y, "bad debt (USD)")])

    def reset(self, views, rounds):
        x_axis, y_axis = self.figure.axes
        fit_rounds(x_axis, rounds)
        fit(y_axis, 0.0, max(v.debt_max for v in views))

    def update(self, hists):
        for line, hist in zip(self.lines, hists, strict=True):
            set_changed(line, **dict(zip(("x", "y"), finite_points(
                [r.round for r in hist], [r.bad_debt for r in hist]), strict=True)))


def _cell(label, value) -> str:
    """A :func:`compare_lending` value in words, by its row's unit (:data:`COMPARE_ROWS`)."""
    unit = dict(COMPARE_ROWS).get(label)
    try:
        value = float(value)
    except (TypeError, ValueError):
        return str(value)
    if not math.isfinite(value):
        return "–"
    if unit == "fraction":
        return say.percent(value)
    if unit == "USD":
        return f"{say.price(value)} USD" if label == "lowest price" else say.money(value)
    if unit == "count":
        return say.count(int(round(value)))
    if unit == "coins":
        return say.units(value)
    return number(value, 2, sig=4, trim=True)


def scenario_differences(a, b) -> list[tuple[str, object, object]]:
    """The fields (but name and description) in which lending scenarios ``a`` and ``b``
    differ: ``(field, value in a, value in b)``, in field order."""
    return [(f.name, getattr(a, f.name), getattr(b, f.name)) for f in dataclasses.fields(a)
            if f.name not in ("name", "description")
            and getattr(a, f.name) != getattr(b, f.name)]


def _shown(value) -> str:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return number(value, 6, sig=6, trim=True)
    return str(value)


class LendingCompare(RunController):
    """Two lending markets hit by the same shock and stepped together, one round of each per
    click: overlaid price (venue and oracle) and bad-debt charts, and a table of
    :func:`~marginloops.lending.compare_lending` rows.

    Parameters
    ----------
    scenario_a, scenario_b : LendingScenario
        The two markets; make B from A (``a.replace(heartbeat=0)``) to see one change.
    labels : tuple of two str
        The runs' names in the keys, the table and the narration.
    """

    def __init__(self, scenario_a, scenario_b, labels=("A", "B")):
        for name, s in (("scenario_a", scenario_a), ("scenario_b", scenario_b)):
            if not isinstance(s, LendingScenario):
                raise ValueError(f"{name} must be a LendingScenario, got {type(s).__name__}")
        if (not isinstance(labels, (tuple, list)) or len(labels) != 2
                or not all(isinstance(x, str) and x.strip() for x in labels)):
            raise ValueError(f"labels must be two non-empty strings, got {labels!r:.60}")
        self.labels = tuple(labels)
        self.scenarios = (scenario_a, scenario_b)
        self.cascades = tuple(LendingCascade(s) for s in self.scenarios)
        self.views = tuple(LendingView.of(c) for c in self.cascades)
        self.rounds = max(v.rounds for v in self.views)
        self._make_run_controls()
        self.time.step_button.tooltip = "Play one round of both runs"
        self.statuses = tuple(widgets.HTML(layout={"margin": "2px 0"}) for _ in self.labels)
        self.table = widgets.HTML(layout={"min_width": "360px"})
        self.narration_logs = tuple(NarrationLog(f"Narration of {label}", "240px")
                                    for label in self.labels)
        self.price_chart = _ComparePrice(self.labels)
        self.debt_chart = _CompareDebt(self.labels)
        for chart in self._charts():
            chart.reset(self.views, self.rounds)
        diff = scenario_differences(*self.scenarios)
        what = ("The same market except: " + "; ".join(
            f"{name} {_shown(a)} → {_shown(b)}" for name, a, b in diff) + "."
            if diff else "The two scenarios are the same market.")
        self.title = widgets.HTML(
            "<div style='font-size:16px'><b>Compare:</b> "
            + " and ".join(f"{self._mark(i)} <b>{html.escape(label)}</b> "
                           f"({RUN_STYLES[i].words})" for i, label in enumerate(self.labels))
            + f"</div><div style='font-size:13px'>{html.escape(what)}</div>")
        title = self.title
        grid = chart_grid([self.price_chart.widget, self.debt_chart.widget, self.table])
        logs = chart_grid(log.box(f"<b>{self._mark(i)} {html.escape(label)}: what happened, "
                                  f"newest first</b>")
                          for i, (label, log) in enumerate(zip(self.labels, self.narration_logs,
                                                               strict=True)))
        super().__init__([stylesheet(), title, self.time, widgets.HBox([self.projector_toggle]),
                          *self.statuses, grid, logs], layout={"width": "100%"})
        self.add_class(style.ROOT_CLASS)
        self._wire_run_controls()
        self.reset("Press Step to apply the shock to both runs.")

    @staticmethod
    def _mark(run: int) -> str:
        s = RUN_STYLES[run]
        return (f"<span style='color:{s.colour};font-weight:bold' aria-hidden='true'>"
                f"{s.symbol}</span>")

    @property
    def narration(self) -> tuple[list[str], list[str]]:
        return tuple(list(log.lines) for log in self.narration_logs)

    def step(self) -> None:
        """One click of Step: the next round of each run that has not ended."""
        if self.run_ended():
            return
        self._advance()
        self._sync_buttons()
        self._redraw()

    def run_to_end(self) -> None:
        """Play every remaining round of both runs, then draw once."""
        self.time.stop()
        while not self.run_ended():
            self._advance()
        self._sync_buttons()
        self._redraw()

    def _advance(self) -> None:
        """The next round of each run that has not ended, narrated (not drawn)."""
        for cas, log in zip(self.cascades, self.narration_logs, strict=True):
            if not cas.ended and cas.step() is not None:
                log.lines.append(narrate_lending(cas.history[-1]))
                if cas.ended:
                    log.lines.append(narrate_lending_end(cas.history))

    def reset(self, message: str = RESET_MESSAGE) -> None:
        self.time.stop()
        for cas, log in zip(self.cascades, self.narration_logs, strict=True):
            cas.reset()
            log.clear(message)
        self._redraw()
        self._sync_buttons()

    def run_ended(self) -> bool:
        return all(c.ended for c in self.cascades)

    def round_shown(self) -> int | None:
        n = max(len(c.history) for c in self.cascades)
        return n - 1 if n else None

    def _log_note(self, text: str) -> None:
        for log in self.narration_logs:
            log.append(text)

    def _charts(self):
        return (self.price_chart, self.debt_chart)

    def _redraw(self) -> None:
        hists = [c.history for c in self.cascades]
        for chart in self._charts():
            chart.update(hists)
        for i, (status, cas) in enumerate(zip(self.statuses, self.cascades, strict=True)):
            status.value = self._status(i, cas)
        self._update_table()
        for log in self.narration_logs:
            log.render()

    def _status(self, run: int, cas) -> str:
        hist = cas.history
        label = html.escape(self.labels[run])
        start = self.views[run].start
        if not hist:
            where = f"before the shock · price <b>{say.price(start)}</b>"
        else:
            last = hist[-1]
            p = _num(last.price_after, math.nan)
            venue = (f"venue <b>{say.price(p)}</b> ({signed_percent(p / start - 1)})"
                     if math.isfinite(p) else "venue <b>no bid left</b>")
            where = (f"round {last.round} · {venue} · oracle {say.price(last.oracle_price)}"
                     f" · bad debt {say.money(last.bad_debt)}")
            if cas.ended:
                where += f" · stopped: {html.escape(LendingExplorer._end_words(last.end_reason))}"
        return f"<div role='status'>{self._mark(run)} <b>{label}</b>: {where}</div>"

    def rows(self) -> list[tuple]:
        """The table's rows: :func:`compare_lending` of the two runs' histories so far (none
        before the shock)."""
        if not all(c.history for c in self.cascades):
            return []
        return list(compare_lending(*(list(c.history) for c in self.cascades)))

    def _update_table(self) -> None:
        rows = self.rows()
        head = "".join(f"<th style='text-align:right;padding:2px 8px'>{self._mark(i)} "
                       f"{html.escape(label)}</th>" for i, label in enumerate(self.labels))
        body = "".join(
            f"<tr><th scope='row' style='text-align:left;padding:2px 8px;font-weight:normal'>"
            f"{html.escape(str(label))}</th>"
            f"<td style='text-align:right;padding:2px 8px'>{html.escape(_cell(label, a))}</td>"
            f"<td style='text-align:right;padding:2px 8px'>{html.escape(_cell(label, b))}</td>"
            "</tr>"
            for label, a, b in rows)
        if not rows:
            body = ("<tr><td colspan='3' style='padding:2px 8px'>Press Step: the table fills "
                    "in as both runs play.</td></tr>")
        cap = "At the end of both runs" if self.run_ended() else "So far"
        self.table.value = (
            f"<div style='font-size:14px;line-height:1.4'><table aria-label='Both runs "
            f"compared' style='border-collapse:collapse;width:100%'><caption style='text-align:"
            f"left;font-weight:bold;padding:2px 8px'>{cap}</caption><tr><th></th>{head}</tr>"
            f"{body}</table></div>")
