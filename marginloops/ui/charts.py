"""Live bqplot charts of a cascade: price, liquidations, order book, liquidation map, open interest.

Each chart builds its figure and marks once and changes their data in place under
``hold_sync()``. A :class:`View` fixes every axis for a whole run, so nothing jumps while
stepping.
"""

from __future__ import annotations

from dataclasses import dataclass

import bqplot as bq
import numpy as np

from ..cascade import Cascade
from . import style

BOOK_BINS = 120
MAP_BINS = 90


@dataclass(frozen=True)
class View:
    """Axis ranges for one run, found by playing it once in advance (then ``reset()``).

    The price range covers the whole move and as much again beyond it, so the next cluster of
    liquidation prices is on screen before the price gets there.
    """

    price_lo: float
    price_hi: float
    rounds: int
    notional_max: float
    oi_max: float
    money_max: float
    depth_max: float

    @classmethod
    def of(cls, cascade: Cascade) -> View:
        cascade.reset()
        start = cascade.start_price
        down = cascade.direction == "down"
        edges = None
        depth_max = 0.0
        prices = [start]
        while True:
            if edges is None:
                span = max(start * cascade.shock, start * 0.02)
                lo, hi = (start - 1.6 * span, start + 0.3 * span) if down else (
                    start - 0.3 * span, start + 1.6 * span)
                edges = np.linspace(max(lo, 1e-9), hi, BOOK_BINS + 1)
            depth_max = max(depth_max, book_histogram(cascade.book, edges).max(initial=0.0))
            rec = cascade.step()
            if rec is None:
                break
            prices.append(rec.price_after)
        hist = cascade.history
        cascade.reset()
        move = max(abs(p - start) for p in prices)
        span = max(move, start * cascade.shock, start * 0.02)
        if down:
            lo, hi = start - 1.6 * span, start + 0.3 * span
        else:
            lo, hi = start - 0.3 * span, start + 1.6 * span
        lo = max(lo, 0.0)
        notional = max((r.notional_liquidated for r in hist), default=0.0)
        money = max((max(r.insurance_fund, r.bad_debt) for r in hist), default=0.0)
        oi0 = float(cascade.positions.size.sum()) * start
        return cls(price_lo=lo, price_hi=hi, rounds=max(10, len(hist) - 1),
                   notional_max=notional * 1.15 or 1.0,
                   oi_max=max(oi0, max((r.open_interest_notional for r in hist), default=0.0))
                   * 1.1 or 1.0,
                   money_max=money * 1.15 or 1.0, depth_max=depth_max * 1.15 or 1.0)

    def edges(self, bins) -> np.ndarray:
        return np.linspace(self.price_lo, self.price_hi, bins + 1)


def book_histogram(book, edges) -> np.ndarray:
    """Units resting in ``book`` per price bin (bids and asks together)."""
    bp, bs = book.bids()
    ap, as_ = book.asks()
    return (np.histogram(bp, edges, weights=bs)[0] + np.histogram(ap, edges, weights=as_)[0])


def _axis_x(scale, label, fmt=None):
    return bq.Axis(scale=scale, label=label, tick_format=fmt, grid_lines="none",
                   label_offset="35px")


def _axis_y(scale, label, fmt=".3s", side="left"):
    return bq.Axis(scale=scale, label=label, tick_format=fmt,
                   side=side, grid_lines="dashed", label_offset="55px" if side == "left"
                   else "-45px")


def _figure(title, marks, axes, legend="top-right"):
    return bq.Figure(title=title, marks=marks, axes=axes, animation_duration=0,
                     fig_margin=dict(style.FIG_MARGIN), layout=dict(style.FIG_LAYOUT),
                     legend_location=legend, title_style={"font-size": "16px"},
                     legend_text={"font-size": "13px"})


class PriceChart:
    """Last traded price after each round, the shock marked, the starting price dashed."""

    def __init__(self):
        self.x = bq.LinearScale()
        self.y = bq.LinearScale()
        sc = {"x": self.x, "y": self.y}
        self.start_line = bq.Lines(x=[0.0, 1.0], y=[0.0, 0.0], scales=sc, colors=[style.GREY],
                                   line_style="dashed", labels=["start price"],
                                   display_legend=True)
        self.line = bq.Lines(x=[], y=[], scales=sc, colors=[style.BLUE], stroke_width=3,
                             marker="circle", marker_size=40, labels=["price"],
                             display_legend=True,
                             tooltip=bq.Tooltip(fields=["x", "y"], labels=["round", "price"],
                                                formats=["", ",.2f"]))
        self.shock = bq.Scatter(x=[], y=[], scales=sc, colors=[style.VERMILLION],
                                marker="triangle-down", default_size=160,
                                labels=["after the shock"], display_legend=True)
        self.figure = _figure("Price by round", [self.start_line, self.line, self.shock],
                              [_axis_x(self.x, "round", "d"), _axis_y(self.y, "price (USD)",
                                                                     ",.2f")])

    def reset(self, cascade, view: View):
        with self.figure.hold_sync():
            self.x.min, self.x.max = -0.5, view.rounds + 0.5
            self.y.min, self.y.max = view.price_lo, view.price_hi
            self.start_line.x = [-0.5, view.rounds + 0.5]
            self.start_line.y = [cascade.start_price] * 2
        self.update(cascade.history)

    def update(self, hist):
        """Draw the rounds of ``hist`` (a list of :class:`RoundRecord`)."""
        with self.line.hold_sync():
            self.line.x = [r.round for r in hist]
            self.line.y = [r.price_after for r in hist]
        with self.shock.hold_sync():
            self.shock.x = [0] if hist else []
            self.shock.y = [hist[0].price_after] if hist else []


class LiquidationsChart:
    """Notional liquidated per round, as bars; longs and shorts stacked and labelled."""

    def __init__(self):
        self.x = bq.LinearScale()
        self.y = bq.LinearScale(min=0.0)
        self.bars = bq.Bars(x=[0.0], y=[[0.0], [0.0]], scales={"x": self.x, "y": self.y},
                            type="stacked", colors=[style.BLUE, style.ORANGE],
                            labels=["longs liquidated", "shorts liquidated"],
                            display_legend=True, padding=0.2, stroke=style.BLACK,
                            stroke_width=1.0,
                            tooltip=bq.Tooltip(fields=["x", "y"], labels=["round", "USD"],
                                               formats=["", ",.0f"]))
        self.figure = _figure("Liquidated notional by round", [self.bars],
                              [_axis_x(self.x, "round", "d"),
                               _axis_y(self.y, "liquidated (USD)")], legend="top-right")

    def reset(self, cascade, view: View):
        with self.figure.hold_sync():
            self.x.min, self.x.max = -0.5, view.rounds + 0.5
            self.y.max = view.notional_max
        self.update(cascade.history)

    def update(self, hist):
        """Draw the rounds of ``hist`` (a list of :class:`RoundRecord`)."""
        rounds = [r.round for r in hist] or [0]
        longs = [r.notional_liquidated if r.direction == "down" else 0.0 for r in hist] or [0.0]
        shorts = [r.notional_liquidated if r.direction == "up" else 0.0 for r in hist] or [0.0]
        with self.bars.hold_sync():
            self.bars.x = rounds
            self.bars.y = [longs, shorts]


class BookChart:
    """Units resting in the book per price bin, with what this round's orders took marked."""

    def __init__(self):
        self.x = bq.LinearScale()
        self.y = bq.LinearScale(min=0.0)
        sc = {"x": self.x, "y": self.y}
        tip = bq.Tooltip(fields=["x", "y"], labels=["price", "units"], formats=[",.2f", ",.0f"])
        self.resting = bq.Lines(x=[], y=[], scales=sc, colors=[style.BLUE], fill="bottom",
                                fill_opacities=[0.35], stroke_width=2, labels=["resting orders"],
                                display_legend=True, tooltip=tip)
        self.taken = bq.Bars(x=[0.0], y=[0.0], scales=sc, colors=[style.VERMILLION],
                             labels=["taken this round"], display_legend=True, padding=0.0,
                             stroke=style.BLACK, stroke_width=0.5, tooltip=tip)
        self.price = bq.Lines(x=[0.0, 0.0], y=[0.0, 1.0], scales=sc, colors=[style.BLACK],
                              line_style="dashed", stroke_width=2, labels=["price"],
                              display_legend=True)
        self.figure = _figure("Order book: depth near the price",
                              [self.resting, self.taken, self.price],
                              [_axis_x(self.x, "price (USD)", ",.2f"),
                               _axis_y(self.y, "units resting")])
        self.edges = np.linspace(0.0, 1.0, BOOK_BINS + 1)

    def reset(self, cascade, view: View):
        self.edges = view.edges(BOOK_BINS)
        with self.figure.hold_sync():
            self.x.min, self.x.max = view.price_lo, view.price_hi
            self.y.max = view.depth_max
        self.update(cascade.book, cascade.price)

    def update(self, book, price, rec=None):
        """Draw ``book`` with the current ``price``; ``rec``'s consumed levels are marked."""
        centers = 0.5 * (self.edges[1:] + self.edges[:-1])
        resting = book_histogram(book, self.edges)
        if rec is not None and rec.book_qty.size:
            taken = np.histogram(rec.book_prices, self.edges, weights=rec.book_qty)[0]
        else:
            taken = np.zeros_like(resting)
        with self.resting.hold_sync():
            self.resting.x, self.resting.y = centers, resting
        with self.taken.hold_sync():
            self.taken.x, self.taken.y = centers, taken
        with self.price.hold_sync():
            self.price.x = [price] * 2
            self.price.y = [0.0, float(self.y.max)]


class LiquidationMapChart:
    """Open notional by liquidation price, the current price as a line.

    Four stacked series: open longs, open shorts, positions the price has reached (to be
    liquidated next), and positions already liquidated.
    """

    def __init__(self):
        self.x = bq.LinearScale()
        self.y = bq.LinearScale(min=0.0)
        sc = {"x": self.x, "y": self.y}
        self.bars = bq.Bars(
            x=[0.0], y=[[0.0]] * 4, scales=sc, type="stacked",
            colors=[style.BLUE, style.ORANGE, style.VERMILLION, style.GREY],
            opacities=[1.0, 1.0, 1.0, 0.45],
            labels=["open longs", "open shorts", "reached: liquidated next", "liquidated"],
            display_legend=True, padding=0.0, stroke=style.BLACK, stroke_width=0.3,
            tooltip=bq.Tooltip(fields=["x", "y"], labels=["liquidation price", "USD"],
                               formats=[",.2f", ",.0f"]))
        self.price = bq.Lines(x=[0.0, 0.0], y=[0.0, 1.0], scales=sc, colors=[style.BLACK],
                              line_style="dashed", stroke_width=2, labels=["price"],
                              display_legend=True)
        self.figure = _figure("Liquidation map: where positions get liquidated",
                              [self.bars, self.price],
                              [_axis_x(self.x, "liquidation price (USD)", ",.2f"),
                               _axis_y(self.y, "notional (USD)")], legend="top-left")
        self.edges = np.linspace(0.0, 1.0, MAP_BINS + 1)

    def reset(self, cascade, view: View):
        self.edges = view.edges(MAP_BINS)
        pos = cascade.positions
        _, longs, shorts = pos.liquidation_map(price_range=(view.price_lo, view.price_hi),
                                               bins=MAP_BINS)
        top = float((longs + shorts).max(initial=0.0)) * 1.15 or 1.0
        with self.figure.hold_sync():
            self.x.min, self.x.max = view.price_lo, view.price_hi
            self.y.max = top
        self.update(cascade.positions, cascade.open_mask, cascade.price)

    def update(self, pos, open_mask, price, reached=None):
        """Draw ``pos`` split by ``open_mask``; ``reached`` indices are shown as reached."""
        rng = (float(self.edges[0]), float(self.edges[-1]))
        reach = np.zeros(len(pos), bool)
        if reached is not None and len(reached):
            reach[reached] = True
        def binned(mask):
            _, longs, shorts = pos.liquidation_map(price_range=rng, bins=MAP_BINS,
                                                   open_mask=mask)
            return longs, shorts
        open_longs, open_shorts = binned(open_mask & ~reach)
        reached_n = sum(binned(reach))
        gone = sum(binned(~open_mask))
        centers = 0.5 * (self.edges[1:] + self.edges[:-1])
        with self.bars.hold_sync():
            self.bars.x = centers
            self.bars.y = [open_longs, open_shorts, reached_n, gone]
        with self.price.hold_sync():
            self.price.x = [price] * 2
            self.price.y = [0.0, float(self.y.max)]


class OpenInterestChart:
    """Open interest (left axis) and the insurance fund and bad debt (right axis) by round."""

    def __init__(self):
        self.x = bq.LinearScale()
        self.y = bq.LinearScale(min=0.0)
        self.y2 = bq.LinearScale(min=0.0)
        tip = bq.Tooltip(fields=["x", "y"], labels=["round", "USD"], formats=["", ",.0f"])
        self.oi = bq.Lines(x=[], y=[], scales={"x": self.x, "y": self.y}, colors=[style.BLUE],
                           stroke_width=3, marker="circle", marker_size=30,
                           labels=["open interest"], display_legend=True, tooltip=tip)
        self.fund = bq.Lines(x=[], y=[], scales={"x": self.x, "y": self.y2},
                             colors=[style.GREEN], line_style="dashed", stroke_width=2.5,
                             marker="square", marker_size=30, labels=["insurance fund"],
                             display_legend=True, tooltip=tip)
        self.debt = bq.Lines(x=[], y=[], scales={"x": self.x, "y": self.y2},
                             colors=[style.VERMILLION], line_style="dotted", stroke_width=2.5,
                             marker="triangle-up", marker_size=30, labels=["bad debt"],
                             display_legend=True, tooltip=tip)
        self.figure = _figure("Open interest, insurance fund, bad debt",
                              [self.oi, self.fund, self.debt],
                              [_axis_x(self.x, "round", "d"),
                               _axis_y(self.y, "open interest (USD)"),
                               _axis_y(self.y2, "fund / bad debt (USD)", side="right")])

    def reset(self, cascade, view: View):
        with self.figure.hold_sync():
            self.x.min, self.x.max = -0.5, view.rounds + 0.5
            self.y.max = view.oi_max
            self.y2.max = view.money_max
        self.update(cascade.history)

    def update(self, hist):
        """Draw the rounds of ``hist`` (a list of :class:`RoundRecord`)."""
        x = [r.round for r in hist]
        with self.oi.hold_sync():
            self.oi.x, self.oi.y = x, [r.open_interest_notional for r in hist]
        with self.fund.hold_sync():
            self.fund.x, self.fund.y = x, [r.insurance_fund for r in hist]
        with self.debt.hold_sync():
            self.debt.x, self.debt.y = x, [r.bad_debt for r in hist]
