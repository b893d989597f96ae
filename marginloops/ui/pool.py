"""The constant-product pool drawn: its reserves curve ``x·y = k``, where the pool stands on it,
and the path of its last trade (:class:`ReservesChart`); with Sell / Buy / Reset buttons and a
sentence per trade (:class:`PoolView`), for lesson 2's comparison of a book and a pool.

The pool and its trades are the model's (:class:`marginloops.pool.ConstantProductPool`); the
chart only reads the reserves and the :class:`~marginloops.orderbook.Fill` of the last trade.
"""

from __future__ import annotations

import html

import bqplot as bq
import ipywidgets as widgets
import numpy as np

from ..bookwalk import MID
from ..numbers import number, signed_percent
from ..orderbook import Fill
from ..pool import ConstantProductPool
from . import style
from .chartkit import Chart, axis_x, axis_y, caption_html, figure, fit, nice_ticks, stylesheet

__all__ = ["CURVE_POINTS", "WINDOWS", "PoolView", "ReservesChart", "describe_trade",
           "trade_path"]

#: Half-widths of the coin axis the chart can show, as a fraction of the coins at its centre.
#: The chart keeps its frame while the pool stays in it (so trades after trades march along
#: the curve), and otherwise takes the smallest of these that holds the last trade. Even the
#: smallest shows the curve bend (y spans 0.8 to 1.33 times the centre's).
WINDOWS = (0.25, 0.5, 0.75, 0.9)
#: A point closer than this fraction of the axis to its edge makes the chart refit.
EDGE = 0.05
#: Points of the drawn curve.
CURVE_POINTS = 160
#: The pool :class:`PoolView` opens with: spot 100 USD, 2M USD of 1% depth (lesson 2's market).
DEFAULT_DEPTH_1PCT = 2_000_000.0
_DARK_VERMILLION = "#a04000"  # text on white needs 4.5:1


def trade_path(pool: ConstantProductPool, fill: Fill) -> tuple[np.ndarray, np.ndarray]:
    """The reserves ``(x, y)`` the pool passed through during ``fill``, its last trade (the
    pool's reserves now are the path's end), one point per step of the Fill's levels.

    A sell of ``Δ`` coins adds them to ``x`` and pays ``level_prices · level_qty`` USD out of
    ``y``; a buy does the opposite. Empty arrays when nothing traded.
    """
    if fill.filled <= 0:
        return np.zeros(0), np.zeros(0)
    coins = np.concatenate([[0.0], np.cumsum(fill.level_qty)])
    usd = np.concatenate([[0.0], np.cumsum(fill.level_prices * fill.level_qty)])
    sign = 1.0 if fill.side == "sell" else -1.0  # coins into the pool, USD out of it
    x, y = pool.base_reserve, pool.quote_reserve
    return x - sign * (coins[-1] - coins), y + sign * (usd[-1] - usd)


def describe_trade(fill: Fill, spot_before: float, k_before: float, pool: ConstantProductPool
                   ) -> str:
    """One or two sentences on ``fill``, the pool's last trade (``pool`` as it is after it).

    >>> pool = ConstantProductPool(100, 10_000)
    >>> print(describe_trade(pool.market_sell(10), 100.0, 1e6, pool))
    ... # doctest: +NORMALIZE_WHITESPACE
    Sold 10 units to the pool for 906.61 USD: 90.66 USD a unit on average. The price y/x
    moved from 100.00 to 82.67 (-17.3%); x·y grew by 0.03%, the fee kept in the pool.
    """
    qty = number(fill.requested, 2, trim=True)
    if fill.filled <= 0:
        if fill.requested <= 0:
            return "Nothing traded: the order was empty."
        return (f"The pool refuses to sell {qty} units: it holds only "
                f"{number(pool.base_reserve, 0)}, and its last unit would cost infinitely many "
                f"USD. Nothing traded.")
    usd = fill.avg_price * fill.filled
    verb, to = ("Sold", "to") if fill.side == "sell" else ("Bought", "from")
    return (f"{verb} {qty} units {to} the pool for {number(usd, 2)} USD: "
            f"{number(fill.avg_price, 2)} USD a unit on average. The price y/x moved from "
            f"{number(spot_before, 2)} to {number(fill.last_price, 2)} "
            f"({signed_percent(fill.last_price / spot_before - 1)}); x·y grew by "
            f"{number((pool.k / k_before - 1) * 100, 2)}%, the fee kept in the pool.")


class ReservesChart(Chart):
    """A pool's reserves: the curve ``x·y = k`` (coins across, USD up), the pool's point on it,
    the path of its last trade and, through the point, the tangent whose slope is minus the
    spot price ``y/x``.

    Call :meth:`update` after the pool trades (with the trade's Fill) or after liquidity
    changes (without one). Built once; :meth:`update` changes the marks' data in place. The
    axes stay put while the pool and its last trade stay well inside them, so several trades
    walk along one picture of the curve; they refit when a trade leaves it.
    """

    def __init__(self, pool: ConstantProductPool):
        if not isinstance(pool, ConstantProductPool):
            raise ValueError(f"pool must be a ConstantProductPool, got {type(pool).__name__}")
        self.pool = pool
        self.fill: Fill | None = None
        #: Which tiny trade's price the point's label adds to the spot y/x: "sell" (the pool's
        #: bid, what a sale gets after the fee: the price a crash's explorer starts from),
        #: "buy" (its ask) or None (the spot alone).
        self.quote_side: str | None = None
        self._frame = None  # (x_lo, x_hi, y_lo, y_hi, half-width) the axes show
        self.x = bq.LinearScale()
        self.y = bq.LinearScale()
        sc = {"x": self.x, "y": self.y}
        self.curve = bq.Lines(x=[0.0, 1.0], y=[0.0, 1.0], scales=sc, colors=[style.BLUE],
                              stroke_width=2.5, labels=["x·y = k"])
        self.tangent = bq.Lines(x=[0.0, 1.0], y=[0.0, 1.0], scales=sc, colors=[style.BLACK],
                                line_style="dashed", stroke_width=1.5,
                                labels=["slope: minus the price"])
        self.path = bq.Lines(x=[0.0], y=[0.0], scales=sc, colors=[style.VERMILLION],
                             stroke_width=4, labels=["last trade"])
        self.before = bq.Scatter(x=[0.0], y=[0.0], scales=sc, colors=[style.BLACK],
                                 fill=False, stroke=style.BLACK, stroke_width=2,
                                 default_size=90, marker="circle", labels=["before"])
        self.point = bq.Scatter(x=[0.0], y=[0.0], scales=sc, colors=[style.VERMILLION],
                                stroke=style.BLACK, stroke_width=1, default_size=110,
                                marker="diamond", labels=["now"])
        self.label = bq.Label(x=[0.0], y=[0.0], scales=sc, text=[""],
                              colors=[_DARK_VERMILLION], default_size=13, font_weight="bold",
                              align="start", x_offset=10, y_offset=-10)
        # A second line under the first (with quote_side): what a tiny trade gets there.
        self.quote_label = bq.Label(x=[0.0], y=[0.0], scales=sc, text=[""],
                                    colors=[_DARK_VERMILLION], default_size=13,
                                    align="start", x_offset=10, y_offset=-10)
        self.figure = figure("The pool's reserves: x·y = k",
                             [self.curve, self.tangent, self.path, self.before, self.point,
                              self.label, self.quote_label],
                             [axis_x(self.x, "units of the coin in the pool (x)", ".3s"),
                              axis_y(self.y, "USD in the pool (y)", ".3s")])
        self.figure.layout.height = "340px"
        self.caption = widgets.HTML(caption_html(
            (style.BLUE, "━", "x·y = k: every reserve the pool can trade to"),
            (style.BLACK, "◇", "the pool now (filled diamond)"),
            (style.VERMILLION, "━", "the last trade's path (thick)"),
            (style.BLACK, "○", "before it"),
            (style.BLACK, "╌", "slope = minus the price y/x")), layout={"margin": "0 0 0 60px"})
        self.update()

    def reset_frame(self) -> None:
        """Forget the frame: the next :meth:`update` fits the axes around the pool afresh."""
        self._frame = None

    def _holds(self, xs, ys) -> bool:
        x_lo, x_hi, y_lo, y_hi, _ = self._frame
        mx, my = EDGE * (x_hi - x_lo), EDGE * (y_hi - y_lo)
        return bool((xs >= x_lo + mx).all() and (xs <= x_hi - mx).all()
                    and (ys >= y_lo + my).all() and (ys <= y_hi - my).all())

    @staticmethod
    def _fit_frame(xs, ys, k):
        """Axes around the points ``(xs, ys)``: the coin axis centred on them, as wide as the
        smallest of :data:`WINDOWS` that holds them within its middle 60%; the USD axis from
        the curve's lowest to its highest point there, padded, and holding every point."""
        centre = 0.5 * (xs.min() + xs.max())
        reach = 0.5 * (xs.max() - xs.min()) / centre
        half = next((w for w in WINDOWS if reach <= 0.6 * w), WINDOWS[-1])
        x_lo, x_hi = centre * (1 - half), centre * (1 + half)
        y_lo, y_hi = min(k / x_hi, ys.min()), max(k / x_lo, ys.max())
        pad = 0.06 * (y_hi - y_lo)
        return x_lo, x_hi, y_lo - pad, y_hi + pad, half

    def label_lines(self) -> tuple[str, str]:
        """The point's label, two lines: the spot ``y/x`` and, with :attr:`quote_side`, the
        price a tiny sale gets or a tiny buy pays there, the fee included
        (:meth:`ConstantProductPool.best_bid` and ``best_ask``): ``("y/x 100.30", "a sale gets
        100.00")``; without it ``("price 100.30", "")``."""
        pool = self.pool
        if self.quote_side is None or pool.empty:
            return f"price {number(pool.spot, 2)}", ""
        if self.quote_side == "sell":
            return f"y/x {number(pool.spot, 2)}", f"a sale gets {number(pool.best_bid, 2)}"
        return f"y/x {number(pool.spot, 2)}", f"a buy pays {number(pool.best_ask, 2)}"

    @property
    def marks(self) -> dict:
        """The chart's marks by name (for tests and lessons that read the drawing)."""
        return {"curve": self.curve, "tangent": self.tangent, "path": self.path,
                "before": self.before, "point": self.point, "label": self.label,
                "quote_label": self.quote_label}

    def update(self, fill: Fill | None = None) -> None:
        """Redraw from the pool as it is now; ``fill`` is the trade that just brought it here
        (None: no trade to show, as after a reset or a change of liquidity)."""
        if fill is not None and not isinstance(fill, Fill):
            raise ValueError(f"fill must be a Fill or None, got {type(fill).__name__}")
        self.fill = fill
        pool = self.pool
        x_now, y_now, k = pool.base_reserve, pool.quote_reserve, pool.k
        px, py = trade_path(pool, fill) if fill is not None else (np.zeros(0), np.zeros(0))
        xs, ys = np.concatenate([px, [x_now]]), np.concatenate([py, [y_now]])
        if self._frame is None or not self._holds(xs, ys):
            self._frame = self._fit_frame(xs, ys, k)
        x_lo, x_hi, y_lo, y_hi, half = self._frame
        centre = 0.5 * (x_lo + x_hi)
        grid = np.linspace(x_lo, x_hi, CURVE_POINTS)
        slope = -y_now / x_now
        run = 0.35 * half * centre
        x_axis, y_axis = self.figure.axes
        with self.figure.hold_sync():
            fit(x_axis, x_lo, x_hi, nice_ticks(x_lo, x_hi, 6))
            fit(y_axis, y_lo, y_hi, nice_ticks(y_lo, y_hi, 6))
            self.curve.x, self.curve.y = grid, k / grid
            self.tangent.x = [x_now - run, x_now + run]
            self.tangent.y = [y_now - slope * run, y_now + slope * run]
            self.point.x, self.point.y = [x_now], [y_now]
            self.label.x, self.label.y = [x_now], [y_now]
            first, second = self.label_lines()
            self.label.text, self.quote_label.text = [first], [second]
            # one line above the point, or two: the spot, then the quote just above it
            self.label.y_offset = -26 if second else -10
            self.quote_label.x, self.quote_label.y = [x_now], [y_now]
            if px.size:
                self.path.x, self.path.y = px, py
                self.before.x, self.before.y = px[:1], py[:1]
                self.path.visible = self.before.visible = True
            else:
                self.path.x, self.path.y = [x_now], [y_now]
                self.before.x, self.before.y = [x_now], [y_now]
                self.path.visible = self.before.visible = False


class PoolView(widgets.VBox):
    """A pool to trade with: an order size, **Sell** / **Buy** / **Reset** buttons, the
    :class:`ReservesChart` and a sentence on the last trade.

    Parameters
    ----------
    pool : ConstantProductPool, optional
        The pool to start from (copied: Reset goes back to it). Default: spot 100 USD and
        2M USD of 1% depth, lesson 2's market (:meth:`ConstantProductPool.from_depth`).
    order_size : float
        The order size the box opens with, units of the coin.
    """

    SIZE_RANGE = (1.0, 1e9)

    def __init__(self, pool: ConstantProductPool | None = None, order_size: float = 100_000.0):
        if pool is None:
            pool = ConstantProductPool.from_depth(MID, DEFAULT_DEPTH_1PCT)
        elif not isinstance(pool, ConstantProductPool):
            raise ValueError(f"pool must be a ConstantProductPool, got {type(pool).__name__}")
        lo, hi = self.SIZE_RANGE
        if not isinstance(order_size, (int, float)) or not lo <= order_size <= hi:
            raise ValueError(f"order_size must be in [{lo:g}, {hi:g}], got {order_size!r}")
        self.start_pool = pool.copy()
        self.pool = pool.copy()
        self.size_box = widgets.BoundedFloatText(
            value=float(order_size), min=lo, max=hi, step=1000, description="Order size (units)",
            style={"description_width": "130px"}, layout={"width": "300px"})
        self.sell_button = widgets.Button(description="Sell",
                                          tooltip="Sell this many units to the pool")
        self.buy_button = widgets.Button(description="Buy",
                                         tooltip="Buy this many units from the pool")
        self.reset_button = widgets.Button(description="Reset",
                                           tooltip="Back to the pool before any trade")
        self.sell_button.on_click(lambda _b: self.sell())
        self.buy_button.on_click(lambda _b: self.buy())
        self.reset_button.on_click(lambda _b: self.reset())
        self.chart = ReservesChart(self.pool)
        self.readout = widgets.HTML(layout={"margin": "4px 0 0 60px", "max_width": "760px"})
        self.sentence = ""
        controls = widgets.HBox([self.size_box, self.sell_button, self.buy_button,
                                 self.reset_button])
        super().__init__([stylesheet(), controls, self.chart.widget, self.readout],
                         layout={"min_width": "360px"})
        self.add_class(style.ROOT_CLASS)
        self._say(self._state_sentence())

    def sell(self, qty: float | None = None) -> Fill:
        """Sell ``qty`` units (default: the box's size) to the pool; returns the Fill."""
        return self._trade("sell", qty)

    def buy(self, qty: float | None = None) -> Fill:
        """Buy ``qty`` units (default: the box's size) from the pool; returns the Fill."""
        return self._trade("buy", qty)

    def reset(self) -> None:
        """Back to the pool as it was before any trade."""
        self.pool = self.start_pool.copy()
        self.chart.pool = self.pool
        self.chart.reset_frame()
        self.chart.update()
        self._say(self._state_sentence())

    def _trade(self, side, qty) -> Fill:
        qty = float(self.size_box.value) if qty is None else qty
        spot, k = self.pool.spot, self.pool.k
        fill = self.pool.market_sell(qty) if side == "sell" else self.pool.market_buy(qty)
        self.chart.update(fill if fill.filled > 0 else None)
        self._say(describe_trade(fill, spot, k, self.pool))
        return fill

    def _state_sentence(self) -> str:
        p = self.pool
        return (f"The pool holds {number(p.base_reserve, 0)} units and "
                f"{number(p.quote_reserve, 0)} USD: price y/x = {number(p.spot, 2)} USD. "
                f"Sell or buy to move along the curve.")

    def _say(self, text: str) -> None:
        self.sentence = text
        self.readout.value = ("<div role='status' aria-live='polite' "
                              "style='font-size:14px;line-height:1.5'>"
                              f"{html.escape(text)}</div>")
