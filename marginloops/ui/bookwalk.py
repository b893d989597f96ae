"""BookWalkView: one market order walking an order book, for lesson 2 (order books and slippage).

Knobs set the order size, the book's 1% depth, its shape and the side; a bqplot chart (built
once, updated in place) shows the levels, what the order took, and the start, average and last
fill prices; a readout says the same in words. The book and the walk are the model's
(:mod:`marginloops.bookwalk`, :class:`marginloops.OrderBook`): nothing is recomputed here.
"""

from __future__ import annotations

import html
import math

import bqplot as bq
import ipywidgets as widgets
import numpy as np

from .. import bookwalk as model
from .._checks import check_number
from ..numbers import number
from . import style
from .chartkit import (
    axis_x,
    axis_y,
    caption_html,
    figure,
    fit,
    nice_ticks,
    set_traits,
    stylesheet,
)
from .knobs import Knob
from .reports import Reports

#: Price windows the chart can show, as a fraction of the start price on the walked side: the
#: smallest that holds the walk is used, so small changes move the bars, not the axis.
WINDOWS = (0.02, 0.05, 0.1, 0.2, 0.5)
#: At most this many bars: wider windows put several levels in one bar.
MAX_BARS = 100
SIDE_OPTIONS = (("sell into the bids", "sell"), ("buy from the asks", "buy"))
SHAPE_OPTIONS = (("flat", "flat"), ("deep", "deep"), ("thin", "thin"))
#: Pixels between the tallest bar the order took and the baseline of its "taken" label.
TAKEN_LABEL_GAP = 14
# Text on white needs 4.5:1 contrast: darker shades of the Okabe-Ito green and vermilion.
_DARK_GREEN, _DARK_VERMILLION = "#006b4f", "#a04000"


class BookWalkView(Reports, widgets.VBox):
    """A market order walking the book: order size, 1% depth, book shape and side as controls.

    Parameters
    ----------
    order_size : float
        Units of the asset in the order, in [``SIZE_RANGE``].
    depth_1pct : float
        USD resting within 1% of the price on each side, in [``DEPTH_RANGE``] (shown in M USD).
    shape : {"flat", "deep", "thin"}
        The book's shape (see :func:`marginloops.bookwalk.lesson_book`).
    side : {"sell", "buy"}
        Sell into the bids or buy from the asks.

    Attributes
    ----------
    book : OrderBook
        The book as built, before the order (never consumed: the walk runs on a copy).
    fill : Fill
        What the order did.
    start : float
        The price before the order: the best bid (sell) or best ask (buy), USD.
    """

    SIZE_RANGE = (10.0, 1_000_000.0)
    DEPTH_RANGE = (100_000.0, 20_000_000.0)

    def __init__(self, order_size: float = 25_000.0, depth_1pct: float = 2_000_000.0,
                 shape: str = "flat", side: str = "sell"):
        order_size = check_number("order_size", order_size, lo=self.SIZE_RANGE[0],
                                  hi=self.SIZE_RANGE[1])
        depth_1pct = check_number("depth_1pct", depth_1pct, lo=self.DEPTH_RANGE[0],
                                  hi=self.DEPTH_RANGE[1])
        if shape not in model.SHAPES:
            raise ValueError(f"shape must be one of {model.SHAPES}, got {shape!r}")
        if side not in model.SIDES:
            raise ValueError(f"side must be one of {model.SIDES}, got {side!r}")
        self.size_knob = Knob("Order size (units)",
                              "How many units of the asset the market order trades",
                              lo=self.SIZE_RANGE[0], hi=self.SIZE_RANGE[1], step=1,
                              value=order_size, log=True)
        self.depth_knob = Knob("1% depth (M USD)",
                               "Dollars of resting orders within 1% of the price, on each "
                               "side of the book", lo=self.DEPTH_RANGE[0] / 1e6,
                               hi=self.DEPTH_RANGE[1] / 1e6, step=0.1, value=depth_1pct / 1e6,
                               log=True)
        self.shape_buttons = widgets.ToggleButtons(
            options=SHAPE_OPTIONS, value=shape, description="Book shape",
            tooltips=[model.SHAPE_WORDS[s] for _, s in SHAPE_OPTIONS],
            style={"button_width": "70px", "description_width": "90px"})
        self.side_buttons = widgets.ToggleButtons(
            options=SIDE_OPTIONS, value=side, description="Order",
            tooltips=["A market sell: takes the bids, best (highest) first",
                      "A market buy: takes the asks, best (lowest) first"],
            style={"button_width": "140px", "description_width": "90px"})

        self._build_chart()
        self.readout = widgets.HTML(layout={"margin": "4px 0 0 60px", "max_width": "760px"})
        # Callbacks through guard(): a problem is one sentence in ``message``, not a traceback.
        self._init_reports()
        for knob in (self.size_knob, self.depth_knob):
            knob.slider.observe(self.guard(self._changed), names="value")
            knob.on_refuse(self.report)
        for buttons in (self.shape_buttons, self.side_buttons):
            buttons.observe(self.guard(self._changed), names="value")
        controls = widgets.VBox([self.size_knob, self.depth_knob, self.shape_buttons,
                                 self.side_buttons])
        super().__init__([stylesheet(), controls, self.message, self.figure, self.caption,
                          self.readout],
                         layout={"min_width": "360px"})
        self.add_class(style.ROOT_CLASS)  # the stylesheet's visible keyboard focus
        self._redraw()

    # ----------------------------------------------------------------------------- reading
    @property
    def order_size(self) -> float:
        """Units in the order."""
        return float(self.size_knob.value)

    @property
    def depth_1pct(self) -> float:
        """USD within 1% of the price on each side."""
        return float(self.depth_knob.value) * 1e6

    @property
    def shape(self) -> str:
        return self.shape_buttons.value

    @property
    def side(self) -> str:
        return self.side_buttons.value

    @property
    def summary(self) -> str:
        """The readout as plain text: the walk in sentences, then the 1% question."""
        return "\n".join([*self._sentences, self._move_sentence])

    # ----------------------------------------------------------------------------- chart
    def _build_chart(self):
        self.x = bq.LinearScale()
        self.y = bq.LinearScale(min=0.0)
        sc = {"x": self.x, "y": self.y}
        tip = bq.Tooltip(fields=["x", "y"], labels=["price", "units"], formats=[",.2f", ",.0f"])
        # Three stacked series, one bar per price step: the bids left after the order, the
        # asks left, and on top of the side it walked, what the order took (paler, outlined).
        self.bars = bq.Bars(x=np.arange(2.0), y=np.zeros((3, 2)), scales=sc, type="stacked",
                            colors=[style.BLUE, style.ORANGE, style.VERMILLION],
                            opacities=[1.0, 1.0, 0.55], padding=0.05, stroke=style.BLACK,
                            stroke_width=0.6, tooltip=tip,
                            labels=["bids left", "asks left", "taken by the order"])
        self.start_rule = self._rule(style.BLACK, "dashed", "start price")
        self.avg_rule = self._rule(style.GREEN, "dotted", "average fill")
        self.last_rule = self._rule(style.VERMILLION, "solid", "last fill")
        self.rule_labels = bq.Label(x=[0.0, 0.0, 0.0], y=[0.0, 0.0, 0.0], scales=sc,
                                    text=["", "", ""],
                                    colors=[style.BLACK, _DARK_GREEN, _DARK_VERMILLION],
                                    font_weight="bold", default_size=13, align="start",
                                    x_offset=4)
        # 14 px above the tallest bar it names (its baseline; 6 px left the text touching
        # the bar tops), under the rule labels, which start at 82% of the axis.
        self.taken_label = bq.Label(x=[0.0], y=[0.0], scales=sc, text=[""],
                                    colors=[_DARK_VERMILLION], default_size=13, align="middle",
                                    y_offset=-TAKEN_LABEL_GAP)
        self.figure = figure("A market order walking the book",
                              [self.bars, self.start_rule, self.avg_rule, self.last_rule,
                               self.rule_labels, self.taken_label],
                              [axis_x(self.x, "price (USD)", ",.2f"),
                               axis_y(self.y, "units resting per level")])
        self.figure.layout.height = "340px"
        self.caption = widgets.HTML(layout={"margin": "0 0 0 60px"})

    def _rule(self, colour, line_style, label):
        return bq.Lines(x=[0.0, 0.0], y=[0.0, 1.0], scales={"x": self.x, "y": self.y},
                        colors=[colour], line_style=line_style, stroke_width=2.5,
                        labels=[label])

    # ----------------------------------------------------------------------------- updating
    def _changed(self, _change=None):
        self._redraw()

    def _redraw(self):
        self.message.value = ""  # a problem reported before is over once a change draws
        side, tick = self.side, model.TICK
        self.book = model.lesson_book(self.shape, self.depth_1pct)
        self.start = model.start_price(self.book, side)
        self.fill = model.walk(self.book, self.order_size, side)
        self._sentences = model.describe_walk(self.fill, self.start)
        self._move_sentence = model.describe_move(self.book, 0.01, side)
        sign = -1.0 if side == "sell" else 1.0
        moved = model.price_move(self.fill, self.start)
        window = next((w for w in WINDOWS if moved <= 0.9 * w), WINDOWS[-1])
        far = self.start * (1 + sign * window)
        near = self.start - sign * 0.25 * window * self.start  # a little of the other side
        lo, hi = min(far, near), max(far, near)
        per_bar = max(1, math.ceil((hi - lo) / tick / MAX_BARS))
        # Bar edges half a tick outside the touch, then every per_bar ticks: a bar never holds
        # a bid and an ask together, and no level sits on an edge.
        width, anchor = per_bar * tick, self.start - sign * tick / 2
        edges = anchor + width * np.arange(math.floor((lo - anchor) / width),
                                           math.ceil((hi - anchor) / width) + 1)
        centers = 0.5 * (edges[1:] + edges[:-1])
        bid_p, bid_q = self.book.bids()
        ask_p, ask_q = self.book.asks()
        bids = np.histogram(bid_p, edges, weights=bid_q)[0]
        asks = np.histogram(ask_p, edges, weights=ask_q)[0]
        taken = np.histogram(self.fill.level_prices, edges, weights=self.fill.level_qty)[0]
        if side == "sell":
            bids = np.maximum(bids - taken, 0.0)
        else:
            asks = np.maximum(asks - taken, 0.0)
        top = float((bids + asks + taken).max(initial=0.0)) * 1.45 or 1.0
        per = ("level" if per_bar == 1
               else f"{number(per_bar, 0)} levels ({number(per_bar * tick, 2)} USD)")
        x_axis, y_axis = self.figure.axes
        fit(x_axis, edges[0], edges[-1], nice_ticks(edges[0], edges[-1], 7))
        fit(y_axis, 0.0, top)
        y_axis.label = f"units resting per {per}"
        set_traits(self.bars, x=centers, y=np.vstack([bids, asks, taken]))
        filled = self.fill.filled > 0
        prices = [self.start, self.fill.avg_price if filled else self.start,
                  self.fill.last_price if filled else self.start]
        for rule, price in zip((self.start_rule, self.avg_rule, self.last_rule), prices,
                               strict=True):
            set_traits(rule, x=[price, price], y=[0.0, top])
        # Labels at three heights so that close rules do not print over each other.
        set_traits(self.rule_labels, x=prices, y=[0.96 * top, 0.89 * top, 0.82 * top],
                   text=[f"start {number(prices[0], 2)}",
                         f"average {number(prices[1], 2)}" if filled else "",
                         f"last {number(prices[2], 2)}" if filled else ""],
                   align="end" if side == "sell" else "start",
                   x_offset=-4 if side == "sell" else 4)
        hit = taken > 0
        set_traits(self.taken_label,
                   x=[float(centers[hit].mean()) if hit.any() else prices[0]],
                   y=[float((bids + asks + taken)[hit].max()) if hit.any() else 0.0],
                   text=[f"taken: {number(self.fill.filled, 0)} units" if filled else ""])
        self.caption.value = caption_html(
            (style.BLUE if side == "sell" else style.ORANGE, "■",
             f"{'bids' if side == 'sell' else 'asks'} left after the order"),
            (style.ORANGE if side == "sell" else style.BLUE, "■",
             f"{'asks' if side == 'sell' else 'bids'} (the other side)"),
            (style.VERMILLION, "▨", "taken by the order (paler, labelled)"),
            (style.BLACK, "╌", "start price"), (style.GREEN, "┈", "average fill (dotted)"),
            (style.VERMILLION, "━", "last fill: the new price"))
        self.readout.value = (
            "<div role='status' aria-live='polite' style='font-size:14px;line-height:1.5'>"
            + "".join(f"<div>{html.escape(s)}</div>" for s in self._sentences[:-1])
            + f"<div><b>{html.escape(self._sentences[-1])}</b></div>"
            + f"<div style='margin-top:4px'>{html.escape(self._move_sentence)}</div></div>")

    @property
    def marks(self) -> dict:
        """The chart's marks by name (for tests and lessons that read the drawing)."""
        return {"bars": self.bars, "start": self.start_rule, "average": self.avg_rule,
                "last": self.last_rule, "labels": self.rule_labels, "taken": self.taken_label}
