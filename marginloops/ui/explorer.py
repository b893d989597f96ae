"""The CascadeExplorer: controls, the time control, live charts, status and narration.

The one place that wires controls to charts. A lesson shows it with one line:
``CascadeExplorer(Scenario.preset("crowded-longs"))``.
"""

from __future__ import annotations

import html

import ipywidgets as widgets
import traitlets

from .. import narration as say
from ..analysis import crowding
from ..numbers import number, signed_percent
from ..scenarios import PRESETS, Scenario
from . import style
from .cascade_charts import (
    LiquidationMapChart,
    LiquidationsChart,
    OpenInterestChart,
    PriceChart,
)
from .market_explorer import MarketExplorer
from .pool import ReservesChart
from .run_controller import chart_grid
from .scenario_controls import ScenarioControls, market_name
from .venue_panels import BookPanel, PoolPanel, panel_for
from .view import View, liquidated_notional

__all__ = ["CascadeExplorer", "HALT_STAGES"]


def _things(n: int, word: str) -> str:
    """``n`` things in words: "1 position", "1,804 positions" ("more" stays "more")."""
    return f"{number(n, 0)} {word}{'' if n == 1 or word == 'more' else 's'}"


#: Phase mode shows a halted round as one stage: nothing is checked, liquidated or walked.
HALT_STAGES = ("trading halted",)


class CascadeExplorer(MarketExplorer):
    """Step through a margin-call cascade one round (or one stage) at a time.

    Parameters
    ----------
    scenario : Scenario, optional
        The market to start from (default: the "crowded-longs" preset).
    phase_mode : bool
        Start with each round split into its stages (check margins, liquidate, walk the book,
        new price), one click each.
    show_controls : bool
        Show the scenario knobs (the time control is always shown). Without them on the page,
        ``controls`` is built only when first used or when another market is set from code.

    Attributes
    ----------
    scenario : Scenario
        The market that runs, a trait: observe it, or set it (as :meth:`set_scenario` does) to
        run another market; the controls follow.
    round : int or None
        The last round played (0: the shock; None before it), a trait to observe.
    ended : bool
        Whether the run is over, a trait to observe.
    cascade : Cascade
        The model behind the pictures: ``explorer.cascade.history`` holds every round's record.
    crowding : Crowding
        How crowded the leverage is within 5% of the price (shown in the status line).
    projector_toggle : the "Projector mode" button (see :meth:`set_projector`).
    controls, time : the control panels (the mechanisms that break the loop are in
        ``controls.mechanisms_panel``; not on the page, ``controls`` is built on first use);
        ``price_chart``, ``liquidations_chart``, ``book_chart``, ``map_chart``,
        ``oi_chart``: the charts (halted rounds are grey squares
        on the price chart, call-auction rounds diamonds over their bars; in the liquidation
        map open shorts are outlined, reached positions carry a diamond and liquidated ones
        are hollow); on a market whose ``venue`` is "pool", ``pool_chart`` (the pool's
        reserves curve, :class:`~marginloops.ui.pool.ReservesChart`) stands where the book
        chart would, and ``venue_chart`` is whichever is shown; ``status``, ``stage``,
        ``story``: the text panels (the charts' text
        alternative; the status line also shows dynamic margin's surcharge and how many
        positions were only partly closed).

    Notes
    -----
    The market is shown under one name (:func:`~marginloops.ui.controls.market_name`): a
    preset changed in any way is "custom" in the menu, the narration, the status line and
    ``explorer.scenario.name``. No callback lets an exception out: a knob refuses a value that
    is not a number, and any other error is one sentence in the narration, with the controls
    back on the market that runs.
    """

    scenario = traitlets.Instance(Scenario, help="The market that runs (set it to run another)")

    def __init__(self, scenario: Scenario | None = None, *, phase_mode: bool = False,
                 show_controls: bool = True):
        if scenario is not None and not isinstance(scenario, Scenario):
            raise ValueError(f"scenario must be a Scenario, got {type(scenario).__name__}")
        scenario = scenario if scenario is not None else PRESETS["crowded-longs"]
        self._check_flags(phase_mode, show_controls)
        # One name everywhere: a preset changed is "custom" in the menu and here alike.
        if scenario.name != market_name(scenario):
            scenario = scenario.replace(name=market_name(scenario))
        self._set_up_controls(ScenarioControls, scenario, show_controls)
        self._make_page_widgets(
            phase_mode, "check margins → liquidate → walk the book → new price")
        self.price_chart = PriceChart()
        self.liquidations_chart = LiquidationsChart()
        # The venue's panel by kind (venue_panels): the book's is built now, the others for
        # the first market on such a venue; the one on show is swapped in on load.
        self._panels = {BookPanel.kind: BookPanel()}
        self.book_chart = self._panels[BookPanel.kind].chart
        self.venue_box = widgets.VBox([self.book_chart.widget],
                                      layout={"min_width": "360px", "overflow": "visible"})
        self.map_chart = LiquidationMapChart()
        self.oi_chart = OpenInterestChart()
        grid = chart_grid(
            [self.price_chart.widget, self.liquidations_chart.widget, self.map_chart.widget,
             self.venue_box, self.oi_chart.widget,
             self.narration_log.box("<b>What happened, newest first</b>")])
        super().__init__(self._page(show_controls, grid), layout={"width": "100%"})
        self.add_class(style.ROOT_CLASS)
        self._pending_stage = None  # phase mode: the next stage of the round in progress
        self._wire_market(scenario)

    # ------------------------------------------------------------------------- public
    @property
    def venue_panel(self):
        """The panel of the venue the market trades on (:mod:`.venue_panels`, by the venue's
        ``kind``): its chart and how it shows a round's trade."""
        return self._panels[self.cascade.venue.kind]

    @property
    def venue_chart(self):
        """The chart of the venue the market trades on, the one on show: ``book_chart`` (an
        order book's depth) or ``pool_chart`` (a constant-product pool's reserves curve)."""
        return self.venue_panel.chart

    @property
    def pool_chart(self) -> ReservesChart | None:
        """The pool's reserves curve, built for the first market on a pool (None before)."""
        panel = self._panels.get(PoolPanel.kind)
        return panel.chart if panel is not None else None

    # ------------------------------------------------------------------------ wiring
    def _load(self, scenario: Scenario, message: str) -> None:
        cascade = scenario.cascade()  # built first: a market that fails leaves the old one
        crowd = crowding(cascade, band=0.05)
        kind = cascade.venue.kind
        panel = self._panels.get(kind) or panel_for(cascade.venue)  # before anything changes
        view = View.of(cascade)
        self._scenario, self.cascade, self.crowding, self.view = scenario, cascade, crowd, view
        self._panels[kind] = panel
        for chart in (self.price_chart, self.liquidations_chart, self.map_chart,
                      self.oi_chart):
            chart.reset(cascade, view)
        panel.load(cascade, view)
        shown = panel.chart
        if self.venue_box.children != (shown.widget,):
            shown.set_projector(bool(self.projector_toggle.value))
            self.venue_box.children = (shown.widget,)
        self.reset(message)
        self.scenario = scenario

    def _charts(self):
        return (self.price_chart, self.liquidations_chart, self.venue_chart, self.map_chart,
                self.oi_chart)

    def _mid_round(self) -> bool:
        return self._pending_stage is not None

    def _rewound(self) -> None:
        self._pending_stage = None

    def _phase_toggled(self, change) -> None:
        if change.new:
            # Between rounds: the map loses its "reached" marks; the next click checks margins.
            self._draw_map()
        else:
            if self._pending_stage is None:
                # A whole round's view: the positions in reach are marked, no stage named.
                self._draw_map()
                self._update_status()
            else:
                self._finish_stage_display()
            self._set_stage("")
        self._sync_buttons()

    # ------------------------------------------------------------------- drawing
    def _redraw_all(self) -> None:
        cas = self.cascade
        hist = cas.history
        self.price_chart.update(hist)
        self.liquidations_chart.update(hist)
        self.oi_chart.update(hist)
        self._show_venue_trade(hist[-1] if hist else None)
        self._set_venue_price(cas.price)
        self._draw_map()
        self._update_status()
        self.narration_log.render()

    def _draw_map(self, reached: bool | None = None) -> None:
        """The liquidation map at the current price. Positions the price has already reached
        are shown apart (the next round's sellers) after a whole round; in phase mode only
        from the "check margins" stage on (``reached`` says so; default: not in phase mode)."""
        cas = self.cascade
        if reached is None:
            reached = not self.phase_mode
        self.map_chart.update(cas.positions, cas.open_mask, cas.price,
                              cas.in_reach() if reached else None)

    def _narrate(self, rec) -> str:
        """The round's sentence; for the latest round, told the price the next check uses
        (a mark price: "the mark price, 98.49, has reached their liquidation price")."""
        cas = self.cascade
        last = bool(cas.history) and cas.history[-1] is rec
        return say.narrate(rec, cas.check_price() if last else None)

    def _show_round(self) -> None:
        rec = self.cascade.history[-1]
        self.narration_log.lines.append(self._narrate(rec))
        self._redraw_all()
        self._set_stage("")
        self._note_end()

    def _note_end(self) -> None:
        end = say.narrate_end(self.cascade.history)
        if end and (not self.narration_log.lines or self.narration_log.lines[-1] != end):
            self.narration_log.append(end)

    def _advance_stage(self) -> None:
        """One click in phase mode: each stage changes exactly the marks its name says.

        ================  ==========================================================
        stage             what changes on screen (nothing else is redrawn)
        ================  ==========================================================
        the shock         the order book: the levels the outside order took
        check margins     the liquidation map: the positions reached (◆)
        liquidate         the liquidations chart's bar; on the map, reached → hollow;
                          the status line's "liquidated so far"
        walk the book     the order book: the levels the liquidation order took (on a
                          pool, "trade with the pool": its point and the trade's path)
        new price         the price chart, open interest, fund and bad debt, both
                          price lines, the status line's price; the round's sentence
                          in the log
        trading halted    the whole round at once (one stage)
        ================  ==========================================================
        """
        cas = self.cascade
        stage = self._pending_stage
        if stage is None:  # start a new round
            if cas.history and cas.history[-1].halt_rounds_left > 0:  # a halted round
                rec = cas.step()
                self.narration_log.lines.append(self._narrate(rec))
                self._show_new_price()
                self._show_venue_trade(rec)  # nothing traded; market makers refilled it
                self._draw_map(reached=False)
                self._set_stage(self._narrate(rec), 1, HALT_STAGES, rec.round)
                self._note_end()
            elif cas.round == 0:
                rec = cas.step()
                self._show_venue_trade(rec)
                self._pending_stage = "price"
                self._set_stage(say.narrate_shock(rec, cas.shock), 1, say.SHOCK_STAGES)
            else:
                reached = cas.in_reach()
                notional = float(cas.open_size()[reached].sum()) * cas.price
                side = "long" if cas.direction == "down" else "short"
                self._draw_map(reached=True)
                # the book's "taken" layer still shows the last round's take
                self.venue_panel.label_taken(cas.history[-1].round)
                self._pending_stage = "liquidate"
                self._set_stage(say.narrate_check(cas.price, len(reached), notional, side), 1,
                                self._round_stages())
        elif stage == "liquidate":
            rec = cas.step()
            self.liquidations_chart.update(cas.history)
            # The closed positions turn hollow; the price line waits for "new price".
            self.map_chart.update(cas.positions, cas.open_mask, rec.price_before)
            self._pending_stage = "walk"
            self._set_stage(say.narrate_liquidate(rec), 2, self._round_stages())
        elif stage == "walk":
            rec = cas.history[-1]
            self._show_venue_trade(rec)
            self._pending_stage = "price"
            self._set_stage(self._walk_sentence(rec), 3, self._round_stages())
        else:  # "price": the round is complete
            rec = cas.history[-1]
            stages = say.SHOCK_STAGES if rec.is_shock else self._round_stages()
            self._pending_stage = None
            self.narration_log.lines.append(self._narrate(rec))
            self._show_new_price()
            self._set_stage(say.narrate_new_price(rec), len(stages), stages, rec.round)
            self._note_end()

    def _show_new_price(self) -> None:
        """Phase mode's last stage: the marks that show a round's new price (and its open
        interest, fund and bad debt), and the log; the book and the map keep their bars."""
        cas = self.cascade
        hist = cas.history
        self.price_chart.update(hist)
        self.oi_chart.update(hist)
        self._set_venue_price(cas.price)
        self.map_chart.set_price(cas.price)
        self.narration_log.render()

    def _round_stages(self) -> tuple[str, ...]:
        """A round's stages; the third is the venue's (a pool has no book to walk)."""
        return tuple(self.venue_panel.trade_stage if s == "walk the book" else s
                     for s in say.ROUND_STAGES)

    def _walk_sentence(self, rec) -> str:
        """Stage 3's sentence: the order walking the book, or on a pool the pool's trade."""
        return self.venue_panel.trade_sentence(self.cascade, rec)

    def _show_venue_trade(self, rec) -> None:
        """The venue's chart after ``rec``'s trade (None: no trade to mark)."""
        self.venue_panel.show_trade(self.cascade, rec)

    def _set_venue_price(self, price: float) -> None:
        """The venue chart's price line moves to ``price`` (a pool's point is its price)."""
        self.venue_panel.set_price(price)

    def _finish_stage_display(self) -> None:
        """Leaving phase mode (or running on) mid-round: complete the round on screen."""
        if self._pending_stage is None:
            return
        if self._pending_stage == "liquidate":  # margins checked but nothing traded yet
            self._pending_stage = None
            self._redraw_all()
            self._set_stage("")
            return
        self._pending_stage = None
        self._show_round()

    def _set_stage(self, text, k=None, stages=None, round_no=None) -> None:
        """Show a phase-mode stage (``k`` of ``stages``) of round ``round_no``; "" clears it."""
        if not text:
            self.stage.value = ""
            self._update_counter()
            return
        if round_no is None:  # the round in progress: already recorded unless margins only
            round_no = self.cascade.round if self._pending_stage == "liquidate" else (
                self.cascade.history[-1].round)
        title = f"Round {round_no}, stage {k} of {len(stages)} ({stages[k - 1]})"
        self.stage.value = (f"<div role='status' aria-live='polite'><b>{html.escape(title)}:</b> "
                            f"{html.escape(text)}</div>")
        self._update_counter(f"Round {round_no} · stage {k}/{len(stages)}")
        self._update_status(title)

    def _shown(self) -> tuple[list, list]:
        """The records the charts show: those whose new price is on screen, and those whose
        liquidations are (in phase mode, a round's liquidations show two stages before its
        price)."""
        hist = self.cascade.history
        if self._pending_stage in ("walk", "price"):  # the last round's price still to come
            return hist[:-1], hist
        return hist, hist

    def _update_status(self, where: str | None = None) -> None:
        """The status line, from exactly the records the charts show (:meth:`_shown`); in
        phase mode ``where`` names the stage, and at "check margins" the positions reached
        are counted as the map marks them."""
        cas = self.cascade
        settled, liquidated = self._shown()
        start = cas.start_price
        price = settled[-1].price_after if settled else start
        change = price / start - 1
        # Positions, not liquidation events: a position reduced in three slices is one position.
        closed = sum(r.n_closed for r in liquidated)
        reduced = liquidated[-1].n_reduced_open if liquidated else 0
        partly = f", {_things(reduced, 'more')} partly closed and still open" if reduced else ""
        notional = sum(liquidated_notional(r) for r in liquidated)
        # Open interest falls with the closes: from "liquidate" on, the positions still open
        # after the round's closes, valued at the price on show until "new price".
        if len(liquidated) > len(settled):
            oi = liquidated[-1].open_interest * price
        else:
            oi = settled[-1].open_interest_notional if settled else float(
                cas.positions.size.sum()) * start
        fund = settled[-1].insurance_fund if settled else cas.initial_fund
        debt = settled[-1].bad_debt if settled else 0.0
        reached = ""
        if self._pending_stage == "liquidate":
            reached = (f" · <b>reached: {_things(len(cas.in_reach()), 'position')}</b>, "
                       "liquidated next")
        if where is None:
            where = f"round {settled[-1].round}" if settled else "before the shock"
        self.status.value = (
            f"<div role='status'><b>{html.escape(where[:1].upper() + where[1:])}</b>"
            f"{self._halt_words(settled)}"
            f" · market {html.escape(self._scenario.name)}"
            f" · price <b>{say.price(price)}"
            f"</b> ({signed_percent(change)} from {say.price(start)}) · liquidated so far: "
            f"{_things(closed, 'position')} closed{partly}"
            # (no "(0 USD)" when the fund took every one over without an order)
            f"{f' ({say.money(notional)})' if notional > 0 or not (closed or reduced) else ''}"
            f"{reached}{self._margin_words(liquidated)} · open interest {say.money(oi)}"
            f" · insurance fund {say.money(fund)}{self._inventory_words(settled)}"
            f" · bad debt {say.money(debt)}"
            f" · <span title='Units of positions whose liquidation price lies within 5% of the "
            f"start price, divided by the units resting in the book there'>crowding within 5%: "
            f"{number(self.crowding.ratio, 2)}</span></div>")

    def _inventory_words(self, hist) -> str:
        """What the insurance fund holds after the last round of ``hist``, for the status line
        (liquidation orders at the bankruptcy price; "" when it never took anything over)."""
        if getattr(self.cascade, "liquidation_orders", "market") == "market":
            return ""
        held = hist[-1].fund_inventory if hist else 0.0
        price = hist[-1].price_after if hist else self.cascade.start_price
        return (f" <span title='Units of liquidated positions the insurance fund took over at "
                f"their bankruptcy price and has not sold yet, valued at the price'>(its "
                f"inventory: <b>{html.escape(say.units(held))}</b>, "
                f"{html.escape(say.money(held * price))})</span>")

    def _margin_words(self, hist) -> str:
        """Dynamic margin's surcharge at the last check of ``hist``, for the status line."""
        surcharge = hist[-1].mmr_surcharge if hist else 0.0
        if not surcharge > 0:
            return ""
        return (f" · <span title='Dynamic margin added "
                f"{number(surcharge * 100, 3, sig=3, trim=True)} percentage points "
                f"to every maintenance rate at this round&#39;s check, because the price moved "
                f"fast'>margin <b>+{number(surcharge * 100, 1)} pts</b> (dynamic)</span>")

    def _halt_words(self, hist) -> str:
        """The circuit breaker's state after the last round of ``hist``, for the status line
        ("" if none, and once the run has ended)."""
        if not hist or hist[-1].end_reason is not None:
            return ""
        rec = hist[-1]
        left = rec.halt_rounds_left
        if rec.halted:
            more = f"{number(left, 0)} more round{'' if left == 1 else 's'}" if left else (
                "resumes next round")
            return f" · <b>trading halted</b> ({more})"
        if rec.breaker_tripped:
            return (f" · <b>circuit breaker tripped</b>: trading halts for {number(left, 0)} "
                    f"round{'' if left == 1 else 's'}")
        return ""
