"""The lending explorer's live bqplot charts (issue 13): the venue price and the oracle by
round, debt repaid and collateral seized per round, the health-factor map, the venue (a pool's
reserves curve or a book's depth) and bad debt by round.

As in :mod:`.cascade_charts`, each chart builds its marks once and changes their data in place
(:func:`.chartkit.set_changed`), and a :class:`LendingView` (the run played once in advance)
fixes every axis for the whole run, so nothing jumps while stepping. No line ends on a NaN
(bqplot places a line's hidden label at its last point, and a NaN there is an error in the
browser): every series is filtered to finite points.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import bqplot as bq
import numpy as np

from .. import narration as say
from ..orderbook import Fill
from . import style
from .cascade_charts import BookChart, step_layers
from .chartkit import (
    Chart,
    axis_x,
    axis_y,
    caption,
    caption_html,
    figure,
    fit,
    fit_rounds,
    rounds_span,
    set_changed,
)
from .pool import ReservesChart
from .view import EMPTY_AXIS_MAX, book_edges, book_histogram

__all__ = ["BadDebtChart", "HealthMapChart", "LendingPriceChart", "LendingVenuePanel",
           "LendingView", "MAP_BINS", "RepaidChart", "finite_points", "map_series",
           "sale_fill"]

#: Bins of the health-factor map.
MAP_BINS = 80


def finite_points(x, y) -> tuple[list, list]:
    """The points of ``(x, y)`` whose y is a finite number (a line must not end on a NaN)."""
    pts = [(float(a), float(b)) for a, b in zip(x, y, strict=True)
           if b is not None and math.isfinite(float(b))]
    return [p[0] for p in pts], [p[1] for p in pts]


def _finite(value, default=math.nan) -> float:
    try:
        value = float(value)
    except (TypeError, ValueError):
        return default
    return value if math.isfinite(value) else default


def map_series(edges, start_threshold, start_debt, threshold, debt, collateral, oracle):
    """The health-factor map's three stacked series (USD of debt per bin of the price at which
    an account's health factor reaches 1): open debt not yet under 1 at ``oracle``, open debt
    under 1 there (threshold above ``oracle``: liquidated next), and debt already gone (repaid
    or written off as bad debt), drawn at each account's starting threshold price.

    ``threshold`` and ``debt`` are the accounts now, ``start_threshold`` and ``start_debt``
    before the shock. An account is open while it has debt and collateral; accounts whose
    threshold lies outside ``edges`` are not drawn (``numpy.histogram`` drops them).
    """
    threshold = np.asarray(threshold, float)
    debt = np.asarray(debt, float)
    open_ = (debt > 0) & (np.asarray(collateral, float) > 0) & np.isfinite(threshold)
    reached = open_ & (threshold > oracle) if math.isfinite(oracle) else np.zeros_like(open_)
    safe = open_ & ~reached
    gone = np.clip(np.asarray(start_debt, float) - np.where(open_, debt, 0.0), 0.0, None)
    ok = np.isfinite(start_threshold)
    return np.array([
        np.histogram(threshold[safe], edges, weights=debt[safe])[0],
        np.histogram(threshold[reached], edges, weights=debt[reached])[0],
        np.histogram(np.asarray(start_threshold)[ok], edges, weights=gone[ok])[0],
    ], float)


def sale_fill(rec) -> Fill | None:
    """The liquidators' sale of record ``rec`` as a :class:`~marginloops.orderbook.Fill` (the
    levels it took, best first), for the pool chart; None when nothing was sold."""
    qty = np.asarray(getattr(rec, "book_qty", ()), float)
    prices = np.asarray(getattr(rec, "book_prices", ()), float)
    filled = float(qty.sum()) if qty.size else 0.0
    if not filled > 0 or prices.size != qty.size:
        return None
    return Fill(side="sell", requested=filled, filled=filled, unfilled=0.0,
                avg_price=float((prices * qty).sum() / filled), last_price=float(prices[-1]),
                level_prices=prices, level_qty=qty)


def _snapshot(cascade):
    """The accounts of ``cascade`` now: threshold prices, debt, collateral (copies)."""
    acc = cascade.accounts
    return (np.array(acc.threshold_price(), float), np.array(acc.debt, float),
            np.array(acc.collateral, float))


@dataclass(frozen=True)
class LendingView:
    """Axis ranges for one lending run, found by playing it once in advance (then ``reset``).

    The price range holds every venue and oracle price of the run and a margin below; the map's
    range reaches further below the lowest price (so the next accounts to fall under 1 are on
    screen before the price gets there) and down to every borrower's starting threshold price,
    unless that is below 30% of the start price (the map's key counts the debt left out).
    """

    start: float
    price_lo: float
    price_hi: float
    map_lo: float
    map_hi: float
    map_max: float
    rounds: int
    usd_max: float
    debt_max: float
    depth_max: float
    tick: float | None = None

    @classmethod
    def of(cls, cascade) -> LendingView:
        """Play ``cascade`` to the end, then reset it."""
        cascade.reset()
        start = _finite(cascade.price, 1.0)
        t0, d0, _ = _snapshot(cascade)
        prices, frames = [start], []
        hist = []
        while (rec := cascade.step()) is not None:
            hist.append(rec)
            prices += [_finite(getattr(rec, n, math.nan)) for n in
                       ("price_after", "oracle_price", "avg_fill_price")]
            frames.append((_snapshot(cascade), _finite(rec.oracle_price, start)))
        prices = [p for p in prices if math.isfinite(p) and p > 0]
        low = min(prices)
        move = max(start - low, start * 0.02)
        price_lo = max(low - 0.25 * move, 0.0)
        price_hi = max(max(prices), start) + 0.1 * move
        # the map reaches below the run's lowest price, and down to every borrower's starting
        # threshold unless it lies below 30% of the start (HF above ~3.3: said in the key)
        map_lo = max(start - 2.2 * move, 0.0)
        t_ok = t0[np.isfinite(t0) & (d0 > 0)]
        if t_ok.size:
            map_lo = min(map_lo, max(float(t_ok.min()) - 0.01 * start, 0.3 * start))
        map_hi = start + 0.15 * move
        edges = np.linspace(map_lo, map_hi, MAP_BINS + 1)
        tallest = float(map_series(edges, t0, d0, t0, d0, np.ones_like(d0), start)
                        .sum(axis=0).max(initial=0.0))
        for (t, d, c), oracle in frames:
            tallest = max(tallest, float(map_series(edges, t0, d0, t, d, c, oracle)
                                         .sum(axis=0).max(initial=0.0)))
        usd = max((max(_finite(r.repaid_usd, 0.0),
                       _finite(r.seized_qty, 0.0) * _finite(r.oracle_price, 0.0))
                   for r in hist), default=0.0)
        debt = max((max(_finite(r.bad_debt, 0.0), _finite(r.underwater_debt, 0.0))
                    for r in hist), default=0.0)
        cascade.reset()
        tick, depth_max = None, 0.0
        venue = cascade.venue
        if getattr(venue, "kind", "pool") == "book":
            tick = getattr(venue, "tick", None)
            bedges = book_edges(price_lo, price_hi, tick)
            depth_max = book_histogram(venue, bedges).max(initial=0.0)
            while cascade.step() is not None:
                depth_max = max(depth_max, book_histogram(cascade.venue, bedges).max(initial=0.0))
            cascade.reset()
        return cls(start=start, price_lo=price_lo, price_hi=price_hi, map_lo=map_lo,
                   map_hi=map_hi, map_max=tallest * 1.15 or EMPTY_AXIS_MAX,
                   rounds=max(10, len(hist) - 1), usd_max=usd * 1.15 or EMPTY_AXIS_MAX,
                   debt_max=debt * 1.15 or EMPTY_AXIS_MAX,
                   depth_max=depth_max * 1.15 or EMPTY_AXIS_MAX, tick=tick)

    def map_edges(self) -> np.ndarray:
        return np.linspace(self.map_lo, self.map_hi, MAP_BINS + 1)


class LendingPriceChart(Chart):
    """The venue's price after each round (solid, circles) and the price the oracle reports
    (dashed, diamonds; a step line for a push oracle, which holds its price between updates),
    the price before the shock dotted."""

    KEY = ((style.BLUE, "●━", "venue price after each round"),
           (style.VERMILLION, "◆╌", "oracle price: what the protocol checks health at (dashed)"),
           (style.GREY, "┈┈", "price before the shock"))
    PUSH_KEY = (style.BLACK, "", "a push oracle holds its price until the deviation or the "
                                 "heartbeat updates it (steps)")

    def __init__(self):
        self.x = bq.LinearScale()
        self.y = bq.LinearScale()
        sc = {"x": self.x, "y": self.y}
        self.start_line = bq.Lines(x=[0.0, 1.0], y=[0.0, 0.0], scales=sc, colors=[style.GREY],
                                   line_style="dotted", labels=["start price"])
        self.line = bq.Lines(x=[], y=[], scales=sc, colors=[style.BLUE], stroke_width=3,
                             marker="circle", marker_size=40, labels=["venue price"],
                             tooltip=bq.Tooltip(fields=["x", "y"], labels=["round", "venue"],
                                                formats=["", ",.2f"]))
        self.oracle = bq.Lines(x=[], y=[], scales=sc, colors=[style.VERMILLION],
                               stroke_width=2.5, line_style="dashed", marker="diamond",
                               marker_size=36, labels=["oracle price"],
                               tooltip=bq.Tooltip(fields=["x", "y"], labels=["round", "oracle"],
                                                  formats=["", ",.2f"]))
        self.caption = caption(*self.KEY)
        self.figure = figure("Venue price and oracle price by round",
                             [self.start_line, self.oracle, self.line],
                             [axis_x(self.x, "round", "d"),
                              axis_y(self.y, "price (USD)", ",.2f")])

    def reset(self, cascade, view: LendingView, push: bool = False):
        x_axis, y_axis = self.figure.axes
        fit_rounds(x_axis, view.rounds)
        fit(y_axis, view.price_lo, view.price_hi)
        set_changed(self.start_line, x=list(rounds_span(view.rounds)), y=[view.start] * 2)
        set_changed(self.oracle, interpolation="step-after" if push else "linear")
        self.caption.value = caption_html(*self.KEY, *((self.PUSH_KEY,) if push else ()))

    def update(self, venue_hist, oracle_hist=None):
        """Draw the venue price of the records ``venue_hist`` and the oracle price of
        ``oracle_hist`` (default: the same records; phase mode shows a round's oracle before
        its new venue price)."""
        oracle_hist = venue_hist if oracle_hist is None else oracle_hist
        set_changed(self.line, **dict(zip(("x", "y"), finite_points(
            [r.round for r in venue_hist], [r.price_after for r in venue_hist]), strict=True)))
        set_changed(self.oracle, **dict(zip(("x", "y"), finite_points(
            [r.round for r in oracle_hist], [r.oracle_price for r in oracle_hist]),
            strict=True)))


class RepaidChart(Chart):
    """Per round, the debt liquidators repaid (USD) and the collateral they seized, valued at
    the oracle price (USD), side by side."""

    KEY = ((style.BLUE, "■", "debt repaid by liquidators (left bar)"),
           (style.ORANGE, "▣", "collateral seized, at the oracle price (right bar, outlined)"))

    def __init__(self):
        self.x = bq.LinearScale()
        self.y = bq.LinearScale(min=0.0)
        self.rounds = 10
        self.bars = bq.Bars(x=np.arange(11), y=np.zeros((2, 11)),
                            scales={"x": self.x, "y": self.y}, type="grouped",
                            colors=[style.BLUE, style.ORANGE],
                            labels=["debt repaid", "collateral seized"], padding=0.2,
                            stroke=style.BLACK, stroke_width=1.0,
                            tooltip=bq.Tooltip(fields=["x", "y"], labels=["round", "USD"],
                                               formats=["", ",.0f"]))
        self.caption = caption(*self.KEY)
        self.figure = figure("Liquidations by round: repaid and seized",
                             [self.bars],
                             [axis_x(self.x, "round", "d"), axis_y(self.y, "USD")])

    def reset(self, view: LendingView):
        x_axis, y_axis = self.figure.axes
        fit_rounds(x_axis, view.rounds)
        fit(y_axis, 0.0, view.usd_max)
        self.rounds = view.rounds

    def update(self, hist):
        # One slot for every round on the axis, zero until played: a Bars mark given a single
        # x value draws its band scale reversed in the browser and never recovers.
        n = max(self.rounds + 1, len(hist))
        y = np.zeros((2, n))
        for r in hist:
            y[0, r.round] = _finite(r.repaid_usd, 0.0)
            y[1, r.round] = _finite(r.seized_qty, 0.0) * _finite(r.oracle_price, 0.0)
        #: The numbers drawn: row 0 debt repaid, row 1 collateral seized (USD), per round.
        self.values = y
        set_changed(self.bars, x=np.arange(n), y=y)


class HealthMapChart(Chart):
    """Debt by the price at which each account's health factor reaches 1 (the liquidation
    map of a lending market): open debt (solid), debt under 1 at the oracle price (liquidated
    next, a diamond above each bin), debt already gone (hollow, at its starting price); the
    oracle price dashed, the venue price dotted."""

    KEY = ((style.BLUE, "■", "open debt, health factor above 1"),
           (style.VERMILLION, "◆", "under 1 at the oracle's next check: liquidated next "
                                   "(◆ above)"),
           (style.BLACK, "□", "already repaid or written off (hollow)"),
           (style.BLACK, "┆", "oracle price (dashed)"),
           (style.GREEN, "┊", "venue price (dotted)"))
    FILLS = (style.BLUE, style.VERMILLION, "white")

    def __init__(self):
        self.x = bq.LinearScale()
        self.y = bq.LinearScale(min=0.0)
        sc = {"x": self.x, "y": self.y}
        self.layers = bq.Lines(
            x=[0.0, 1.0], y=[[0.0, 0.0]] * 3, scales=sc, colors=[style.BLACK] * 3,
            fill="bottom", fill_colors=list(self.FILLS[::-1]), fill_opacities=[1.0] * 3,
            interpolation="step-after", stroke_width=0.75,
            labels=["already gone (whole stack)", "under 1: liquidated next", "open debt"],
            tooltip=bq.Tooltip(fields=["x", "y"],
                               labels=["price where HF = 1 (bin from)", "USD, stacked to here"],
                               formats=[",.2f", ",.0f"]))
        self.reached = bq.Scatter(x=[], y=[], scales=sc, colors=[style.VERMILLION],
                                  marker="diamond", default_size=36, stroke=style.BLACK,
                                  stroke_width=1.0, labels=["under 1: liquidated next"])
        self.oracle = bq.Lines(x=[0.0, 0.0], y=[0.0, 1.0], scales=sc, colors=[style.BLACK],
                               line_style="dashed", stroke_width=2, labels=["oracle price"])
        self.venue = bq.Lines(x=[0.0, 0.0], y=[0.0, 1.0], scales=sc, colors=[style.GREEN],
                              line_style="dotted", stroke_width=2.5, labels=["venue price"])
        self.caption = caption(*self.KEY)
        self.figure = figure("Health-factor map: where loans reach HF 1",
                             [self.layers, self.reached, self.oracle, self.venue],
                             [axis_x(self.x, "price at which HF = 1 (USD)", ",.4~g"),
                              axis_y(self.y, "debt (USD)")])
        self.figure.padding_y = 0.0
        self.edges = np.linspace(0.0, 1.0, MAP_BINS + 1)
        #: The debt per bin last drawn: open, under 1 (liquidated next), already gone (USD).
        self.series = np.zeros((3, MAP_BINS))

    def reset(self, view: LendingView):
        self.edges = view.map_edges()
        x_axis, y_axis = self.figure.axes
        fit(x_axis, view.map_lo, view.map_hi)
        fit(y_axis, 0.0, view.map_max)

    def update(self, start, now, oracle, venue, reached_at=None):
        """Draw the accounts ``now`` (threshold prices, debt, collateral) against their
        ``start`` (threshold prices, debt), the lines at ``oracle`` and ``venue``; the accounts
        under 1 at ``reached_at`` (default ``oracle``; NaN: none) are marked as liquidated
        next (after a whole round: at the oracle's next price; in phase mode's "check
        health" stage: at the price it checks)."""
        t, d, c = now
        self._note_off_axis(t, d, c)
        reached_at = oracle if reached_at is None else reached_at
        #: The price the accounts marked "liquidated next" are under 1 at (NaN: none marked).
        self.reached_at = _finite(reached_at)
        self.series = map_series(self.edges, start[0], start[1], t, d, c, self.reached_at)
        set_changed(self.layers, x=self.edges, y=step_layers(self.series))
        centers = 0.5 * (self.edges[1:] + self.edges[:-1])
        top = float(self.y.max) if self.y.max is not None else 1.0
        stack = self.series.sum(axis=0)
        hit = self.series[1] > 0
        set_changed(self.reached, x=centers[hit],
                    y=np.minimum(stack[hit] + 0.05 * top, 0.97 * top))
        self.set_prices(oracle, venue)

    def _note_off_axis(self, t, d, c) -> None:
        """The key says how much open debt the axis leaves out (accounts whose health factor
        reaches 1 far below the price: the map shows the range the run can reach)."""
        t, d = np.asarray(t, float), np.asarray(d, float)
        open_ = (d > 0) & (np.asarray(c, float) > 0) & np.isfinite(t)
        below = open_ & (t < self.edges[0])
        #: Open debt (USD) and accounts whose threshold price lies below the map's axis.
        self.off_axis = (float(d[below].sum()), int(below.sum()))
        usd, n = self.off_axis
        extra = ((style.BLACK, "", f"not drawn: {say.money(usd)} of debt on "
                  f"{say.count(n)} account{'' if n == 1 else 's'} whose HF reaches 1 below "
                  f"{say.price(self.edges[0])}"),) if n else ()
        value = caption_html(*self.KEY, *extra)
        if self.caption.value != value:
            self.caption.value = value

    def set_prices(self, oracle, venue) -> None:
        top = float(self.y.max) if self.y.max is not None else 1.0
        for line, p in ((self.oracle, oracle), (self.venue, venue)):
            p = _finite(p)
            if math.isfinite(p):
                set_changed(line, x=[p] * 2, y=[0.0, top], visible=True)
            else:
                set_changed(line, visible=False)


class BadDebtChart(Chart):
    """Bad debt so far (debt left with no collateral: a reserve deficit) and underwater debt
    (debt of open accounts whose collateral is worth less, at the oracle) by round."""

    KEY = ((style.VERMILLION, "▲━", "bad debt so far (solid)"),
           (style.PURPLE, "■╌", "underwater debt: open, collateral worth less (dashed)"))

    def __init__(self):
        self.x = bq.LinearScale()
        self.y = bq.LinearScale(min=0.0)
        sc = {"x": self.x, "y": self.y}
        tip = bq.Tooltip(fields=["x", "y"], labels=["round", "USD"], formats=["", ",.0f"])
        self.debt = bq.Lines(x=[], y=[], scales=sc, colors=[style.VERMILLION], stroke_width=3,
                             marker="triangle-up", marker_size=36, labels=["bad debt"],
                             tooltip=tip)
        self.underwater = bq.Lines(x=[], y=[], scales=sc, colors=[style.PURPLE],
                                   stroke_width=2.5, line_style="dashed", marker="square",
                                   marker_size=30, labels=["underwater debt"], tooltip=tip)
        self.caption = caption(*self.KEY)
        self.figure = figure("Bad debt and underwater debt by round",
                             [self.underwater, self.debt],
                             [axis_x(self.x, "round", "d"), axis_y(self.y, "USD")])

    def reset(self, view: LendingView):
        x_axis, y_axis = self.figure.axes
        fit_rounds(x_axis, view.rounds)
        fit(y_axis, 0.0, view.debt_max)

    def update(self, hist):
        x = [r.round for r in hist]
        set_changed(self.debt, **dict(zip(("x", "y"), finite_points(
            x, [r.bad_debt for r in hist]), strict=True)))
        set_changed(self.underwater, **dict(zip(("x", "y"), finite_points(
            x, [r.underwater_debt for r in hist]), strict=True)))


class LendingVenuePanel:
    """The venue the liquidators sell on: a pool's reserves curve (:class:`ReservesChart`,
    its point and the path of the round's sale) or a book's depth (:class:`BookChart`, the
    levels the sale took). ``chart`` is the one on show; ``load`` picks it for a run."""

    def __init__(self):
        self.book_chart = BookChart()
        self.pool_chart = None
        self.chart = self.book_chart
        self.kind = "book"

    def load(self, cascade, view: LendingView, projector: bool = False) -> bool:
        """A new run: the chart for its venue, fitted. Returns whether the chart on show
        changed (the explorer swaps it in)."""
        venue = cascade.venue
        kind = getattr(venue, "kind", "pool")
        old = self.chart
        if kind == "pool":
            if self.pool_chart is None:
                self.pool_chart = ReservesChart(venue)
            self.pool_chart.quote_side = "sell"
            self.pool_chart.reset_frame()
            self.chart = self.pool_chart
        else:
            chart = self.book_chart
            chart.edges = book_edges(view.price_lo, view.price_hi, view.tick)
            x_axis, y_axis = chart.figure.axes
            fit(x_axis, view.price_lo, view.price_hi)
            fit(y_axis, 0.0, view.depth_max)
            self.chart = chart
        self.kind = kind
        if self.chart is not old:
            self.chart.set_projector(projector)
        return self.chart is not old

    def show(self, cascade, rec=None) -> None:
        """The venue as it is now, ``rec``'s sale marked (None: no sale to mark)."""
        if self.kind == "pool":
            self.pool_chart.pool = cascade.venue
            self.pool_chart.update(sale_fill(rec) if rec is not None else None)
        else:
            self.book_chart.show_walk(cascade.venue, rec)
            price = _finite(cascade.price)
            # no bid left (the book ran out): no price line to draw
            set_changed(self.book_chart.price, visible=math.isfinite(price))
            if math.isfinite(price):
                self.book_chart.set_price(price)
