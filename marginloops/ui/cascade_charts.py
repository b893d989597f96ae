"""The explorer's live bqplot charts of one cascade: price, liquidations, order book,
liquidation map, open interest.

Each chart builds its figure and marks once and changes their data in place, each mark's
changed traits in one message (:func:`.chartkit.set_changed`): a mark whose data did not
change is not sent, so the browser does not redraw it. A :class:`~marginloops.ui.view.View`
fixes every axis for a whole run, so nothing jumps while stepping.

The two histograms that change every round (the book's take and the liquidation map) are drawn
as filled step lines (:func:`step_layers`), not ``bqplot.Bars``: a Bars mark rewrites every
rect's attributes whenever its ``y`` changes (about 600 DOM mutations per Step on the map's 360
stacked bars, 315 on the book's), where a ``Lines`` mark rewrites one path per layer. Issue 11
measured the click-to-settled time of a Step; ``benchmarks/bench_browser.py`` keeps measuring it.
"""

from __future__ import annotations

import copy

import bqplot as bq
import numpy as np

from . import style
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
from .view import (
    BOOK_BINS,
    EMPTY_AXIS_MAX,
    MAP_BINS,
    View,
    book_histogram,
    liquidated_notional,
)

__all__ = ["BookChart", "LiquidationMapChart", "LiquidationsChart", "OpenInterestChart",
           "PriceChart", "outline_bins", "step_layers"]


def step_layers(series) -> np.ndarray:
    """The stacked ``series`` (rows, one value per bin) as the rows of a filled step-line mark
    drawn from the top layer down.

    Row ``k`` is the top of the stack up to the series ``n - 1 - k`` (the whole stack first,
    the first series alone last), each with its last value repeated so that a line with
    ``interpolation="step-after"`` over ``edges`` (one point more than bins) draws every bin
    flat across its width. Filled to the bottom and drawn in this order, each layer covers the
    lower part of the one before: the picture of stacked bars with no gap between bins.
    """
    tops = np.cumsum(np.asarray(series, float), axis=0)[::-1]
    return np.concatenate([tops, tops[:, -1:]], axis=1)


def outline_bins(edges, bottom, top, mask) -> tuple[np.ndarray, np.ndarray]:
    """One polyline outlining every bin where ``mask`` holds, from ``bottom`` to ``top``: five
    corners a bin (closing on the first), bins separated by a NaN, which a ``Lines`` mark leaves
    as a gap. Empty where ``mask`` holds nowhere. It never ends on a NaN: bqplot places a
    line's (hidden) label at its last point, and a NaN there is an error in the browser."""
    idx = np.flatnonzero(mask)
    left, right = edges[idx], edges[idx + 1]
    lo, hi, gap = bottom[idx], top[idx], np.full(idx.size, np.nan)
    x = np.stack([left, right, right, left, left, gap], axis=1).ravel()
    y = np.stack([hi, hi, lo, lo, hi, gap], axis=1).ravel()
    return x[:-1], y[:-1]


class PriceChart(Chart):
    """Last traded price after each round, the shock marked, the starting price dashed, and
    the rounds a circuit breaker halted marked with grey squares (keyed only when it is on)."""

    KEY = ((style.BLUE, "●━", "last traded price after each round"),
           (style.VERMILLION, "▼", "after the shock (round 0)"),
           (style.GREY, "╌╌", "price before the shock"))
    HALTED_KEY = (style.GREY, "■", "trading halted by the circuit breaker: no trade, no "
                                   "liquidation")
    #: Keyed only when the run's records carry them (a mark price from an index, issue 12).
    MARK_KEY = (style.PURPLE, "◆╌", "mark price: the price margins are checked at (dashed)")
    INDEX_KEY = (style.GREEN, "▲┈", "index price: the spot venues' average (dotted)")
    #: Keyed only when some round's own order ended away from the round's price (arbitrage
    #: moved the price back after it: the wick), in a crash and in a squeeze.
    WICK_KEYS = {"down": (style.BLUE, "▽", "the wick: the round's lowest trade, before "
                                          "arbitrage lifted the price back"),
                 "up": (style.BLUE, "△", "the wick: the round's highest trade, before "
                                        "arbitrage pushed the price back")}

    def __init__(self):
        self.x = bq.LinearScale()
        self.y = bq.LinearScale()
        sc = {"x": self.x, "y": self.y}
        self.start_line = bq.Lines(x=[0.0, 1.0], y=[0.0, 0.0], scales=sc, colors=[style.GREY],
                                   line_style="dashed", labels=["start price"])
        self.line = bq.Lines(x=[], y=[], scales=sc, colors=[style.BLUE], stroke_width=3,
                             marker="circle", marker_size=40, labels=["price"],
                             tooltip=bq.Tooltip(fields=["x", "y"], labels=["round", "price"],
                                                formats=["", ",.2f"]))
        self.shock = bq.Scatter(x=[], y=[], scales=sc, colors=[style.VERMILLION],
                                marker="triangle-down", default_size=160,
                                labels=["after the shock"])
        self.halted = bq.Scatter(x=[], y=[], scales=sc, colors=[style.GREY], marker="square",
                                 default_size=110, stroke=style.BLACK, stroke_width=1.0,
                                 labels=["trading halted"],
                                 tooltip=bq.Tooltip(fields=["x", "y"],
                                                    labels=["halted round", "price"],
                                                    formats=["", ",.2f"]))
        self.wick = bq.Scatter(x=[], y=[], scales=sc, colors=[style.BLUE], marker="triangle-down",
                               default_size=70, fill=False, stroke=style.BLUE, stroke_width=1.5,
                               labels=["the wick"],
                               tooltip=bq.Tooltip(fields=["x", "y"],
                                                  labels=["round", "the wick's extreme"],
                                                  formats=["", ",.2f"]))
        self.mark = bq.Lines(x=[], y=[], scales=sc, colors=[style.PURPLE], stroke_width=2.5,
                             line_style="dashed", marker="diamond", marker_size=30,
                             labels=["mark price"],
                             tooltip=bq.Tooltip(fields=["x", "y"], labels=["round", "mark"],
                                                formats=["", ",.2f"]))
        self.index = bq.Lines(x=[], y=[], scales=sc, colors=[style.GREEN], stroke_width=2.5,
                              line_style="dotted", marker="triangle-up", marker_size=30,
                              labels=["index price"],
                              tooltip=bq.Tooltip(fields=["x", "y"], labels=["round", "index"],
                                                 formats=["", ",.2f"]))
        self._keys = ()
        self.caption = caption(*self.KEY)
        self.figure = figure("Price by round",
                              [self.start_line, self.index, self.mark, self.line, self.wick,
                               self.halted, self.shock],
                              [axis_x(self.x, "round", "d"), axis_y(self.y, "price (USD)",
                                                                     ",.2f")])

    def reset(self, cascade, view: View):
        self._breaker = cascade.breaker is not None
        self._keys = None
        x_axis, y_axis = self.figure.axes
        fit_rounds(x_axis, view.rounds)
        fit(y_axis, view.price_lo, view.price_hi)
        set_changed(self.start_line, x=list(rounds_span(view.rounds)),
                    y=[cascade.start_price] * 2)
        self.update(cascade.history)

    @staticmethod
    def finite_series(hist, name) -> tuple[list, list]:
        """The rounds of ``hist`` whose record has a finite ``name`` (read with a NaN
        default: a record without the field has none), and those values. Only finite points:
        a line ending on a NaN is an error in the browser (see :func:`outline_bins`)."""
        pts = [(r.round, float(v)) for r in hist
               if np.isfinite(v := float(getattr(r, name, np.nan)))]
        return [p[0] for p in pts], [p[1] for p in pts]

    @staticmethod
    def wick_of(rec) -> float | None:
        """The round's wick: its own order's last fill (the shock's, the liquidations') when
        the price ended the round back from it, against the run's direction (arbitrage lifted
        it in a crash, pushed it down in a squeeze); None otherwise (a fund's sale that took
        the price further the same way is no wick). Finite values only."""
        low = float(getattr(rec, "last_fill_price", np.nan))
        up = getattr(rec, "direction", "down") == "up"
        if not np.isfinite(low) or low == rec.price_after:
            return None
        return low if (low > rec.price_after if up else low < rec.price_after) else None

    @classmethod
    def wicks(cls, hist) -> tuple[list, list]:
        """The rounds of ``hist`` with a wick (:meth:`wick_of`), and its extreme prices."""
        pts = [(r.round, w) for r in hist if (w := cls.wick_of(r)) is not None]
        return [p[0] for p in pts], [p[1] for p in pts]

    @classmethod
    def price_path(cls, hist) -> tuple[list, list]:
        """The price line's points: each round's price after it, passing first through the
        round's wick where it has one (in a crash with arbitrage: the order traded down to
        its last fill, then arbitrage lifted the price), so the line shows the wick's low."""
        x, y = [], []
        for r in hist:
            wick = cls.wick_of(r)
            if wick is not None:
                x.append(r.round)
                y.append(wick)
            x.append(r.round)
            y.append(r.price_after)
        return x, y

    def update(self, hist):
        """Draw the rounds of ``hist`` (a list of :class:`RoundRecord`): the last traded
        price (through each round's wick), and the mark and index prices where the records
        have them."""
        mx, my = self.finite_series(hist, "mark_price")
        ix, iy = self.finite_series(hist, "index_price")
        wx, wy = self.wicks(hist)
        set_changed(self.mark, x=mx, y=my)
        set_changed(self.index, x=ix, y=iy)
        up = bool(hist) and getattr(hist[0], "direction", "down") == "up"
        set_changed(self.wick, x=wx, y=wy, marker="triangle-up" if up else "triangle-down")
        keys = ((self.WICK_KEYS["up" if up else "down"],) if wx else ()) + (
            (self.MARK_KEY,) if mx else ()) + ((self.INDEX_KEY,) if ix else ()) + (
            (self.HALTED_KEY,) if getattr(self, "_breaker", False) else ())
        if keys != self._keys:
            self._keys = keys
            self.caption.value = caption_html(*self.KEY, *keys)
        px_, py_ = self.price_path(hist)
        set_changed(self.line, x=px_, y=py_)
        # the shock's marker where the shock's own order took the price (its wick's low)
        shock_at = None
        if hist:
            wick = self.wick_of(hist[0])
            shock_at = hist[0].price_after if wick is None else wick
        set_changed(self.shock, x=[0] if hist else [], y=[shock_at] if hist else [])
        halted = [r for r in hist if r.halted]
        set_changed(self.halted, x=[r.round for r in halted], y=[r.price_after for r in halted])


class LiquidationsChart(Chart):
    """Notional liquidated per round, as bars; longs and shorts stacked and labelled (shorts
    with a thick outline, as in the liquidation map); a diamond above each round a call
    auction cleared (keyed only when auctions are on)."""

    KEY = ((style.BLUE, "■", "longs liquidated (a crash)"),
           (style.ORANGE, "▣", "shorts liquidated (a squeeze; outlined)"),
           (style.BLACK, "", "valued at the price that triggered them"))
    #: Outline width of the bars: a run liquidates one side only, so the mark's one stroke
    #: width can tell shorts (a squeeze) from longs by more than colour.
    STROKE = {"down": 1.0, "up": 3.0}
    AUCTION_KEY = (style.BLACK, "◆", "above a bar: cleared by a call auction at one price")

    def __init__(self):
        self.x = bq.LinearScale()
        self.y = bq.LinearScale(min=0.0)
        self.rounds = 10
        self.bars = bq.Bars(x=np.arange(11), y=np.zeros((2, 11)),
                            scales={"x": self.x, "y": self.y}, type="stacked",
                            colors=[style.BLUE, style.ORANGE],
                            labels=["longs liquidated", "shorts liquidated"], padding=0.2,
                            stroke=style.BLACK, stroke_width=1.0,
                            tooltip=bq.Tooltip(fields=["x", "y"], labels=["round", "USD"],
                                               formats=["", ",.0f"]))
        self.auction = bq.Scatter(x=[], y=[], scales={"x": self.x, "y": self.y},
                                  colors=[style.BLACK], marker="diamond", default_size=70,
                                  labels=["cleared by a call auction"],
                                  tooltip=bq.Tooltip(fields=["x"],
                                                     labels=["call auction, round"],
                                                     formats=[""]))
        self.caption = caption(*self.KEY)
        self.figure = figure("Liquidated notional by round", [self.bars, self.auction],
                              [axis_x(self.x, "round", "d"),
                               axis_y(self.y, "liquidated (USD)")])

    def reset(self, cascade, view: View):
        auction = cascade.call_auction
        self.caption.value = caption_html(*self.KEY, *((self.AUCTION_KEY,) if auction else ()))
        self.set_style(self.bars, "stroke_width", self.STROKE[cascade.direction])
        x_axis, y_axis = self.figure.axes
        fit_rounds(x_axis, view.rounds)
        fit(y_axis, 0.0, view.notional_max)
        self.rounds = view.rounds
        self.update(cascade.history)

    def update(self, hist):
        """Draw the rounds of ``hist`` (a list of :class:`RoundRecord`)."""
        # One bar slot for every round on the axis, zero until played: a Bars mark given a
        # single x value draws its band scale reversed in the browser and never recovers.
        n = max(self.rounds + 1, len(hist))
        longs, shorts = np.zeros(n), np.zeros(n)
        for r in hist:
            (longs if r.direction == "down" else shorts)[r.round] = liquidated_notional(r)
        set_changed(self.bars, x=np.arange(n), y=[longs, shorts])
        # The diamond sits just above its bar, inside the axis.
        top = float(self.y.max) if self.y.max is not None else 1.0
        auctions = [r for r in hist if r.uniform_price]
        set_changed(self.auction, x=[r.round for r in auctions],
                    y=[min(liquidated_notional(r) + 0.05 * top, 0.97 * top) for r in auctions])


class BookChart(Chart):
    """Units resting in the book per price bin, with what this round's orders took marked."""

    def __init__(self):
        self.x = bq.LinearScale()
        self.y = bq.LinearScale(min=0.0)
        sc = {"x": self.x, "y": self.y}
        tip = bq.Tooltip(fields=["x", "y"], labels=["price", "units"], formats=[",.2f", ",.0f"])
        self.resting = bq.Lines(x=[], y=[], scales=sc, colors=[style.BLUE], fill="bottom",
                                fill_opacities=[0.35], stroke_width=2,
                                labels=["resting orders"], tooltip=tip)
        # A filled step line over the bins' edges (see step_layers), not Bars: cheap to redraw.
        self.taken = bq.Lines(x=[0.0, 1.0], y=[0.0, 0.0], scales=sc, colors=[style.BLACK],
                              fill="bottom", fill_colors=[style.VERMILLION],
                              fill_opacities=[1.0], interpolation="step-after",
                              stroke_width=0.5, labels=["taken this round"],
                              tooltip=bq.Tooltip(fields=["x", "y"],
                                                 labels=["price (bin from)", "units taken"],
                                                 formats=[",.2f", ",.0f"]))
        self.price = bq.Lines(x=[0.0, 0.0], y=[0.0, 1.0], scales=sc, colors=[style.BLACK],
                              line_style="dashed", stroke_width=2, labels=["price"])
        self.caption = caption((style.BLUE, "▆", "orders resting in the book (shaded)"),
                                (style.VERMILLION, "▮", "taken by this round's orders"),
                                (style.BLACK, "┆", "price (dashed)"))
        self.figure = figure("Order book: depth near the price",
                              [self.resting, self.taken, self.price],
                              [axis_x(self.x, "price (USD)", ",.4~g"),
                               axis_y(self.y, "units resting")])
        # No padding under zero: the filled layers fill down to the plot's bottom edge.
        self.figure.padding_y = 0.0
        self.edges = np.linspace(0.0, 1.0, BOOK_BINS + 1)
        #: Units each bin lost to the last order drawn (what the "taken" layer shows).
        self.taken_units = np.zeros(BOOK_BINS)

    def reset(self, cascade, view: View):
        self.edges = view.book_edges()
        x_axis, y_axis = self.figure.axes
        fit(x_axis, view.price_lo, view.price_hi)
        fit(y_axis, 0.0, view.depth_max)
        self.update(cascade.book, cascade.price)

    def update(self, book, price, rec=None):
        """Draw ``book`` with the current ``price``; ``rec``'s consumed levels are marked."""
        self.show_walk(book, rec)
        self.set_price(price)

    def show_walk(self, book, rec=None) -> None:
        """Draw the resting orders of ``book`` and mark the levels ``rec``'s order took (none
        without ``rec``); the price line stays where it is. ``taken_units`` holds what each bin
        lost to ``rec``'s order."""
        centers = 0.5 * (self.edges[1:] + self.edges[:-1])
        resting = book_histogram(book, self.edges)
        if rec is not None and rec.book_qty.size:
            taken = np.histogram(rec.book_prices, self.edges, weights=rec.book_qty)[0]
        else:
            taken = np.zeros_like(resting)
        self.taken_units = taken
        set_changed(self.resting, x=centers, y=resting)
        set_changed(self.taken, x=self.edges, y=step_layers([taken])[0])

    def set_price(self, price) -> None:
        """Move the dashed price line to ``price``; nothing else is redrawn."""
        set_changed(self.price, x=[price] * 2, y=[0.0, float(self.y.max)])


class LiquidationMapChart(Chart):
    """Open notional by liquidation price, the current price as a line.

    Four stacked series, drawn as filled steps over the bins (:func:`step_layers`) and told
    apart by more than colour: open longs (solid), open shorts (solid, each bin outlined
    thickly), positions the price has reached (to be liquidated next; a diamond above each
    bin that holds some) and positions already liquidated (hollow). ``series`` holds the
    numbers drawn.

    Open positions are drawn at their liquidation price *now*
    (:meth:`Cascade.effective_liquidation_price`: with dynamic margin's surcharge, the
    maintenance amount and what partial closes left), valued at what they still hold; so every
    position the next round liquidates is on the reached side of the price line. Closed
    positions, and the closed part of partly closed ones, stay where they were liquidated
    from: at their starting liquidation price.
    """

    KEY = ((style.BLUE, "■", "open longs"),
           (style.ORANGE, "▣", "open shorts (outlined)"),
           (style.VERMILLION, "◆", "reached: liquidated next (a ◆ above each bar)"),
           (style.BLACK, "□", "already liquidated (hollow)"),
           (style.BLACK, "┆", "price (dashed)"))
    #: Fill colours of the series, in stacking order (open longs at the bottom).
    FILLS = (style.BLUE, style.ORANGE, style.VERMILLION, "white")

    def __init__(self):
        self.x = bq.LinearScale()
        self.y = bq.LinearScale(min=0.0)
        sc = {"x": self.x, "y": self.y}
        # The four stacked series as filled step lines (see step_layers), drawn from the
        # whole stack down to the open longs: one path each to redraw, where stacked Bars
        # rewrote 360 rects every round.
        self.layers = bq.Lines(
            x=[0.0, 1.0], y=[[0.0, 0.0]] * 4, scales=sc, colors=[style.BLACK] * 4,
            fill="bottom", fill_colors=list(self.FILLS[::-1]), fill_opacities=[1.0] * 4,
            interpolation="step-after", stroke_width=0.75,
            labels=["liquidated (whole stack)", "reached: liquidated next", "open shorts",
                    "open longs"],
            tooltip=bq.Tooltip(fields=["x", "y"],
                               labels=["liquidation price (bin from)", "USD, stacked to here"],
                               formats=[",.2f", ",.0f"]))
        # Drawn over the layers: a thick outline around the open shorts of each bin (a gap
        # where a bin has none).
        self.shorts_edge = bq.Lines(x=[], y=[], scales=sc, colors=[style.BLACK],
                                    stroke_width=3.0, labels=["open shorts (outline)"])
        self.reached = bq.Scatter(x=[], y=[], scales=sc, colors=[style.VERMILLION],
                                  marker="diamond", default_size=36, stroke=style.BLACK,
                                  stroke_width=1.0,
                                  labels=["reached: liquidated next"],
                                  tooltip=bq.Tooltip(fields=["x"],
                                                     labels=["reached, liquidation price"],
                                                     formats=[",.2f"]))
        self.price = bq.Lines(x=[0.0, 0.0], y=[0.0, 1.0], scales=sc, colors=[style.BLACK],
                              line_style="dashed", stroke_width=2, labels=["price"])
        self.caption = caption(*self.KEY)
        self.figure = figure("Liquidation map: where positions get liquidated",
                              [self.layers, self.shorts_edge, self.reached, self.price],
                              [axis_x(self.x, "liquidation price (USD)", ",.4~g"),
                               axis_y(self.y, "notional (USD)")])
        # No padding under zero: the filled layers fill down to the plot's bottom edge.
        self.figure.padding_y = 0.0
        self.edges = np.linspace(0.0, 1.0, MAP_BINS + 1)
        #: The notional per bin of the four series last drawn, in stacking order: open longs,
        #: open shorts, reached (liquidated next), already liquidated (USD).
        self.series = np.zeros((4, MAP_BINS))
        self._cascade = None

    def reset(self, cascade, view: View):
        self.edges = view.edges(MAP_BINS)
        self._cascade = cascade
        pos = cascade.positions
        _, longs, shorts = pos.liquidation_map(price_range=(view.price_lo, view.price_hi),
                                               bins=MAP_BINS)
        top = float((longs + shorts).max(initial=0.0))
        if cascade.dynamic_margin > 0 or cascade.partial is not None or cascade.adl:
            top = max(top, self._tallest(cascade))
        top = top * 1.15 or EMPTY_AXIS_MAX
        x_axis, y_axis = self.figure.axes
        fit(x_axis, view.price_lo, view.price_hi)
        fit(y_axis, 0.0, top)
        self.update(cascade.positions, cascade.open_mask, cascade.price)

    def _tallest(self, cascade) -> float:
        """The tallest stack a run with moving thresholds will draw, played on a copy: its
        positions move towards the price as they are drawn at their effective liquidation
        prices (a partial "restore" close leaves a position right at the price), so bins can
        fill beyond the starting picture's tallest."""
        sim = copy.deepcopy(cascade)
        sim.reset()
        pos, tallest = sim.positions, 0.0
        while True:
            series = self._series(pos, sim.open_mask, np.zeros(len(pos), bool),
                                  sim.effective_liquidation_price(), sim.open_size())
            tallest = max(tallest, float(sum(series).max(initial=0.0)))
            if sim.step() is None:
                return tallest

    def _series(self, pos, open_mask, reach, liquidation_price, open_size):
        """The four stacked series: open longs, open shorts, reached, liquidated (USD per bin).

        Open positions at ``liquidation_price`` (NaN or None: their own), valued at
        ``open_size`` (None: their size); closed ones, and what partial closes took, at their
        starting liquidation price.
        """
        base = pos.liquidation_price
        liq = base if liquidation_price is None else np.asarray(liquidation_price, float)
        liq = np.where(np.isnan(liq), base, liq)
        size = pos.size if open_size is None else np.asarray(open_size, float)
        w_open = size * liq
        w_base = pos.size * base
        longs = pos.side > 0

        def binned(prices, weights, mask):
            """Notional of ``mask``'s longs and shorts per bin, as ``Positions.liquidation_map``
            sums it."""
            out = []
            for side in (mask & longs, mask & ~longs):
                out.append(np.histogram(prices[side], self.edges, weights=weights[side])[0])
            return out

        open_longs, open_shorts = binned(liq, w_open, open_mask & ~reach)
        reached_n = sum(binned(liq, w_open, reach))
        gone = sum(binned(base, w_base, ~open_mask))
        part = open_mask & (size < pos.size)
        if part.any():  # what partial closes and auto-deleveraging took from open positions
            gone = gone + sum(binned(base, (pos.size - size) * base, part))
        return open_longs, open_shorts, reached_n, gone

    def update(self, pos, open_mask, price, reached=None, *, liquidation_price=None,
               open_size=None):
        """Draw ``pos`` split by ``open_mask``; ``reached`` indices are shown as reached.

        Open positions are placed at ``liquidation_price`` and valued at ``open_size`` (arrays
        like ``pos.size``); by default, the effective prices and open sizes of the cascade the
        chart was last reset with, when ``pos`` is its positions, else ``pos``'s own.
        """
        reach = np.zeros(len(pos), bool)
        if reached is not None and len(reached):
            reach[reached] = True
        cas = self._cascade
        if liquidation_price is None and cas is not None and cas.positions is pos:
            liquidation_price = cas.effective_liquidation_price()
        if open_size is None and cas is not None and cas.positions is pos:
            open_size = cas.open_size()
        open_longs, open_shorts, reached_n, gone = self._series(
            pos, np.asarray(open_mask, bool), reach, liquidation_price, open_size)
        self.series = np.array([open_longs, open_shorts, reached_n, gone])
        centers = 0.5 * (self.edges[1:] + self.edges[:-1])
        top = float(self.y.max) if self.y.max is not None else 1.0
        set_changed(self.layers, x=self.edges, y=step_layers(self.series))
        edge_x, edge_y = outline_bins(self.edges, open_longs, open_longs + open_shorts,
                                      open_shorts > 0)
        set_changed(self.shorts_edge, x=edge_x, y=edge_y)
        stack = self.series.sum(axis=0)
        hit = reached_n > 0
        set_changed(self.reached, x=centers[hit],
                    y=np.minimum(stack[hit] + 0.05 * top, 0.97 * top))
        self.set_price(price)

    def set_price(self, price) -> None:
        """Move the dashed price line to ``price``; the layers and diamonds stay as they are."""
        top = float(self.y.max) if self.y.max is not None else 1.0
        set_changed(self.price, x=[price] * 2, y=[0.0, top])


class OpenInterestChart(Chart):
    """Open interest (left axis) and the insurance fund and bad debt (right axis) by round;
    with liquidation orders at the bankruptcy price, also the insurance fund's inventory (the
    units it took over, valued at the price: USD on the left axis, keyed only then)."""

    KEY = ((style.BLUE, "●━", "open interest (left axis)"),
           (style.GREEN, "■╌", "insurance fund (right axis, dashed)"),
           (style.VERMILLION, "▲┈", "bad debt (right axis, dotted)"))
    INVENTORY_KEY = (style.ORANGE, "◆━", "the fund's inventory: units it took over and has not "
                                          "sold yet, valued at the price (left axis)")

    def __init__(self):
        self.x = bq.LinearScale()
        self.y = bq.LinearScale(min=0.0)
        self.y2 = bq.LinearScale(min=0.0)
        tip = bq.Tooltip(fields=["x", "y"], labels=["round", "USD"], formats=["", ",.0f"])
        self.oi = bq.Lines(x=[], y=[], scales={"x": self.x, "y": self.y}, colors=[style.BLUE],
                           stroke_width=3, marker="circle", marker_size=30,
                           labels=["open interest"], tooltip=tip)
        self.fund = bq.Lines(x=[], y=[], scales={"x": self.x, "y": self.y2},
                             colors=[style.GREEN], line_style="dashed", stroke_width=2.5,
                             marker="square", marker_size=30, labels=["insurance fund"],
                             tooltip=tip)
        self.debt = bq.Lines(x=[], y=[], scales={"x": self.x, "y": self.y2},
                             colors=[style.VERMILLION], line_style="dotted", stroke_width=2.5,
                             marker="triangle-up", marker_size=30, labels=["bad debt"], tooltip=tip)
        self.inventory = bq.Lines(
            x=[], y=[], scales={"x": self.x, "y": self.y}, colors=[style.ORANGE],
            stroke_width=2.5, marker="diamond", marker_size=30,
            labels=["fund's inventory"],
            tooltip=bq.Tooltip(fields=["x", "y"], labels=["round", "fund's inventory (USD)"],
                               formats=["", ",.0f"]))
        self.caption = caption(*self.KEY)
        self.figure = figure("Open interest, insurance fund, bad debt",
                              [self.oi, self.inventory, self.fund, self.debt],
                              [axis_x(self.x, "round", "d"),
                               axis_y(self.y, "open interest (USD)"),
                               axis_y(self.y2, "fund / bad debt (USD)", side="right")])
        self.figure.fig_margin = {**style.FIG_MARGIN, "right": 75}

    def reset(self, cascade, view: View):
        x_axis, y_axis, y2_axis = self.figure.axes
        fit_rounds(x_axis, view.rounds)
        fit(y_axis, 0.0, view.oi_max)
        fit(y2_axis, 0.0, view.money_max)
        #: Whether the fund can take over inventory in this run (its line and key shown).
        self.holds = getattr(cascade, "liquidation_orders", "market") != "market"
        self.caption.value = caption_html(*self.KEY,
                                          *((self.INVENTORY_KEY,) if self.holds else ()))
        y_axis.label = ("open interest / fund's inventory (USD)" if self.holds
                        else "open interest (USD)")
        self.figure.title = ("Open interest, insurance fund and its inventory, bad debt"
                             if self.holds else "Open interest, insurance fund, bad debt")
        self.update(cascade.history)

    def update(self, hist):
        """Draw the rounds of ``hist`` (a list of :class:`RoundRecord`)."""
        x = [r.round for r in hist]
        set_changed(self.oi, x=x, y=[r.open_interest_notional for r in hist])
        if getattr(self, "holds", False):
            set_changed(self.inventory, x=x, y=[r.fund_inventory * r.price_after for r in hist])
        else:
            set_changed(self.inventory, x=[], y=[])
        set_changed(self.fund, x=x, y=[r.insurance_fund for r in hist])
        set_changed(self.debt, x=x, y=[r.bad_debt for r in hist])
