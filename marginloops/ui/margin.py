"""One leveraged position under a mark price the student moves: its equity, its maintenance
margin, and the liquidation and bankruptcy prices where they meet (lesson 1).

The numbers come from :mod:`marginloops.margin` (the model, numpy only; ``MarginState``,
``margin_state`` and ``readout_table`` are re-exported here); this module only draws them.
"""

from __future__ import annotations

import html
import math

import bqplot as bq
import ipywidgets as widgets
import numpy as np

from .._checks import check_number
from ..margin import MarginState, margin_state, readout_table
from ..numbers import number
from ..positions import Positions
from . import style
from .chartkit import axis_x, axis_y, caption, figure, fit, nice_ticks, set_traits, stylesheet
from .knobs import Knob, clean, max_mmr_pct, on_step
from .reports import Reports, not_listening

#: Text colour of the liquidation label and message: a darker vermilion, 4.5:1 on white.
ALARM = "#a04000"
#: How far either side of the entry the mark-price knob reaches, in units of 1/leverage
#: (the bankruptcy distance): the liquidation and bankruptcy prices are always on the chart.
SPAN = 1.5
#: Leverage and entry-price ranges of the knobs.
LEVERAGE_RANGE = (1, 100)
ENTRY_RANGE = (10.0, 1000.0)

__all__ = ["MarginState", "MarginView", "margin_state", "mark_knob_range", "mark_range",
           "readout_table"]


def mark_range(entry, leverage) -> tuple[float, float]:
    """The mark prices the knob offers: ``entry (1 ± SPAN / leverage)``, above 0.

    Wide enough to hold the liquidation and the bankruptcy price of every allowed position.
    """
    half = SPAN / float(leverage)
    return clean(max(entry * (1 - half), entry * 0.05)), clean(entry * (1 + half))


def _nice_step(lo, hi, points=300) -> float:
    """A power of ten giving the range between ``points`` and ten times as many steps: a
    power of ten (not 2 or 5) so that a whole-dollar entry price is always on the grid."""
    return clean(10.0 ** math.floor(math.log10((hi - lo) / points) + 1e-9))


def mark_knob_range(entry, leverage) -> tuple[float, float, float]:
    """The mark-price knob's (lo, hi, step): :func:`mark_range` widened to whole steps, so
    that both ends, and every value the slider reaches, are multiples of the step (no
    114.99999999999999 in the box).

    >>> mark_knob_range(100, 10)
    (85.0, 115.0, 0.1)
    """
    lo, hi = mark_range(entry, leverage)
    step = _nice_step(lo, hi)
    lo = max(on_step(math.floor(lo / step + 1e-9) * step, step), step)
    return lo, on_step(math.ceil(hi / step - 1e-9) * step, step), step


class MarginView(Reports, widgets.VBox):
    """One leveraged position and a mark price to drag: its equity meets the maintenance line.

    Controls: side (long/short), entry price, leverage and maintenance margin, each range
    allowing only valid positions (the maintenance rate stays below 1/leverage), and the mark
    price. The chart (built once, changed in place) draws the equity and the maintenance
    margin against the mark price, the current mark price, and the liquidation and
    bankruptcy prices as labelled vertical rules; a readout (``role='status'``) says the same
    in words and says LIQUIDATED once the mark price has reached the liquidation price.

    Parameters
    ----------
    side : "long" or "short"
    entry : entry price in USD, in ``ENTRY_RANGE``
    leverage : whole number in ``LEVERAGE_RANGE``
    mmr : maintenance-margin rate as a fraction, in ``[0, 1/leverage)`` (the knob shows %;
        it allows up to 95% of 1/leverage, and at most 5%)
    mark : starting mark price (default: the entry price)
    margin : the trader's own money in USD (the initial margin), fixed: leverage says how much
        is borrowed on top of it
    """

    def __init__(self, side="long", entry=100.0, leverage=10, mmr=0.005, mark=None,
                 margin=1000.0):
        entry = check_number("entry", entry, lo=ENTRY_RANGE[0], hi=ENTRY_RANGE[1])
        check_number("leverage", leverage, lo=LEVERAGE_RANGE[0], hi=LEVERAGE_RANGE[1])
        if leverage != int(leverage):
            raise ValueError(f"leverage must be a whole number in [1, 100], got {leverage:g}")
        leverage = int(leverage)
        first = margin_state(side, entry, leverage, mmr, mark, margin)  # checks the rest
        self.margin = first.margin
        top = max_mmr_pct(((leverage, 1.0),))
        if not mmr * 100 <= top + 1e-9:
            raise ValueError(f"mmr must be in [0, {top / 100:g}] for leverage {leverage} (the "
                             f"knob allows up to 95% of 1/leverage, at most 0.05), got {mmr:g}")
        mark_lo, mark_hi = mark_range(entry, leverage)
        check_number("mark", first.mark, lo=mark_lo, hi=mark_hi)
        lo, hi, mark_step = mark_knob_range(entry, leverage)

        self.side = widgets.ToggleButtons(
            options=[("long: bet on a rise", "long"), ("short: bet on a fall", "short")],
            value=first.side, description="Side", tooltips=[
                "Buy with borrowed money: you gain when the price rises",
                "Sell borrowed coins: you gain when the price falls"],
            style={"button_width": "auto"})
        self.entry = Knob("Entry price (USD)", "The price at which the position was opened",
                          lo=ENTRY_RANGE[0], hi=ENTRY_RANGE[1], step=1.0, value=entry)
        self.leverage = Knob("Leverage (x)", "Position value / your own money: 10x means 10 USD "
                             "of position for every 1 USD of yours", lo=LEVERAGE_RANGE[0],
                             hi=LEVERAGE_RANGE[1], step=1, value=leverage, integer=True)
        self.mmr = Knob("Maint. margin (%)", "Maintenance-margin rate: the least equity the "
                        "exchange lets you keep, as a % of the position's value; it stays "
                        "below 100 / leverage", lo=0.0, hi=top, step=0.05, value=mmr * 100)
        self.mark = Knob("Mark price (USD)", "Drag (or type) the price the exchange uses to "
                         "value the position", lo=lo, hi=hi, step=mark_step,
                         value=first.mark)
        self.mark.slider.continuous_update = True  # cheap: the marker follows the drag
        self.mark.slider.layout.width = "320px"
        self.mark.box.layout.width = "100px"
        self.position_text = widgets.HTML()
        self.readout = widgets.HTML()

        self._build_chart()
        # Callbacks through guard(): a problem is one sentence in ``message``, not a traceback.
        self._init_reports()
        on_position, on_mark = self.guard(self._position_changed), self.guard(self._mark_changed)
        #: What the view listens to: ``(widget, handler, trait)``.
        self._listeners = [(w, on_position, "value") for w in (
            self.side, self.entry.slider, self.leverage.slider, self.mmr.slider)]
        self._listeners.append((self.mark.slider, on_mark, "value"))
        for widget, handler, name in self._listeners:
            widget.observe(handler, names=name)
        for knob in (self.entry, self.leverage, self.mmr, self.mark):
            knob.on_refuse(self.report)

        controls = widgets.VBox([widgets.HTML("<b>The position</b>"), self.side, self.entry,
                                 self.leverage, self.mmr, self.position_text,
                                 widgets.HTML("<b>Move the price</b>"), self.mark])
        super().__init__([stylesheet(), controls, self.message, self.figure, self.caption,
                          self.readout], layout={"min_width": "360px"})
        self.add_class(style.ROOT_CLASS)  # the stylesheet's visible keyboard focus
        self._redraw(position=True)

    # ------------------------------------------------------------------ reading
    @property
    def state(self) -> MarginState:
        """The position at the current mark price, as the controls show it."""
        return margin_state(self.side.value, self.entry.value, self.leverage.value,
                            self.mmr.value / 100, self.mark.value, self.margin)

    def text(self) -> str:
        """The readout as plain text."""
        return self.state.text()

    # ------------------------------------------------------------------ chart
    def _build_chart(self):
        self.x = bq.LinearScale()
        self.y = bq.LinearScale()
        sc = {"x": self.x, "y": self.y}
        self.zero_line = bq.Lines(x=[0.0, 1.0], y=[0.0, 0.0], scales=sc, colors=[style.GREY],
                                  stroke_width=1, labels=["zero"])
        self.equity_line = bq.Lines(x=[], y=[], scales=sc, colors=[style.BLUE], stroke_width=3,
                                    labels=["equity"])
        self.maint_line = bq.Lines(x=[], y=[], scales=sc, colors=[style.VERMILLION],
                                   stroke_width=3, line_style="dashed",
                                   labels=["maintenance margin"])
        self.liq_rule = bq.Lines(x=[], y=[], scales=sc, colors=[style.VERMILLION],
                                 stroke_width=2, labels=["liquidation price"])
        self.bankrupt_rule = bq.Lines(x=[], y=[], scales=sc, colors=[style.BLACK],
                                      stroke_width=2, line_style="dotted",
                                      labels=["bankruptcy price"])
        self.mark_rule = bq.Lines(x=[], y=[], scales=sc, colors=[style.GREEN], stroke_width=2,
                                  line_style="dash_dotted", labels=["mark price"])
        self.marker = bq.Scatter(x=[], y=[], scales=sc, colors=[style.GREEN], marker="diamond",
                                 default_size=180, stroke=style.BLACK, stroke_width=1.5,
                                 labels=["equity at the mark price"])
        self.liq_label = bq.Label(x=[], y=[], text=[], scales=sc, colors=[ALARM],
                                  default_size=13, font_weight="bold")
        self.bankrupt_label = bq.Label(x=[], y=[], text=[], scales=sc, colors=[style.BLACK],
                                       default_size=13, font_weight="bold")
        self.mark_label = bq.Label(x=[], y=[], text=[], scales=sc, colors=[style.BLACK],
                                   default_size=13, font_weight="bold", y_offset=-12)
        self.figure = figure(
            "Equity against the mark price",
            [self.zero_line, self.maint_line, self.equity_line, self.bankrupt_rule,
             self.liq_rule, self.mark_rule, self.marker, self.liq_label, self.bankrupt_label,
             self.mark_label],
            [axis_x(self.x, "mark price (USD)", ",.2f"), axis_y(self.y, "USD", ",.0f")])
        self.figure.layout.height = "340px"
        self.caption = caption(
            (style.BLUE, "━━", "equity: your money plus the profit or loss at that price"),
            (style.VERMILLION, "╌╌", "maintenance margin: the least equity allowed"),
            (ALARM, "│", "liquidation price: equity meets maintenance"),
            (style.BLACK, "┆", "bankruptcy price: equity is zero"),
            (style.GREEN, "◆ ┆", "the mark price you set: a diamond on the equity line and a "
                                 "dash-dotted line"))
        self.caption.layout.margin = "0 0 6px 60px"

    def _redraw(self, position: bool) -> None:
        self.message.value = ""  # a problem reported before is over once a change draws
        st = self.state
        s = st.sign
        if position:
            lo, hi = self.mark.range
            xs = np.array([lo, hi])
            one = Positions.from_arrays(s, st.size, st.entry, st.leverage, st.mmr)
            eq = one.equity(xs)
            maint = st.mmr * st.size * xs
            ylo = min(eq.min(), 0.0)
            yhi = max(eq.max(), maint.max())
            pad = 0.08 * (yhi - ylo)
            ylo, yhi = ylo - pad, yhi + 2 * pad  # room above for the labels
            fit(self.figure.axes[0], lo, hi, nice_ticks(lo, hi, 8))
            fit(self.figure.axes[1], ylo, yhi)
            self.zero_line.x = xs
            set_traits(self.equity_line, x=xs, y=eq)
            set_traits(self.maint_line, x=xs, y=maint)
            for rule, price in ((self.liq_rule, st.liquidation),
                                (self.bankrupt_rule, st.bankruptcy)):
                shown = lo <= price <= hi
                set_traits(rule, x=[price, price] if shown else [],
                           y=[ylo, yhi] if shown else [])
            # the two rules are close: the label of the one nearer the entry goes on the
            # entry's side, the other's on the far side, at different heights
            toward_entry = "start" if s > 0 else "end"
            away = "end" if s > 0 else "start"
            self._label(self.liq_label, st.liquidation, yhi - 0.06 * (yhi - ylo),
                        f"liquidation {number(st.liquidation, 2)}", toward_entry, lo, hi)
            self._label(self.bankrupt_label, st.bankruptcy, yhi - 0.14 * (yhi - ylo),
                        f"bankruptcy {number(st.bankruptcy, 2)}", away, lo, hi)
            self._ylo, self._yhi = ylo, yhi
            self.position_text.value = (
                f"<div style='font-size:13px;max-width:640px'>"
                f"{html.escape(st.summary())}</div>")
        set_traits(self.mark_rule, x=[st.mark, st.mark], y=[self._ylo, self._yhi])
        set_traits(self.marker, x=[st.mark], y=[st.equity])
        left = (st.mark - self.mark.range[0]) < 0.5 * (self.mark.range[1] - self.mark.range[0])
        set_traits(self.mark_label, align="start" if left else "end",
                   x_offset=8 if left else -8, x=[st.mark], y=[st.equity],
                   text=[f"mark {number(st.mark, 2)}"])
        self.readout.value = self._render(st)

    @staticmethod
    def _label(label, x, y, text, align, lo, hi):
        if not lo <= x <= hi:
            set_traits(label, x=[], y=[], text=[])
            return
        set_traits(label, align=align, x_offset=5 if align == "start" else -5, x=[x], y=[y],
                   text=[text])

    @staticmethod
    def _render(st: MarginState) -> str:
        lines = st.lines()
        items = []
        for i, line in enumerate(lines):
            text = html.escape(line)
            if st.liquidated and i == 0:
                items.append(f"<div style='color:{ALARM};font-weight:bold;font-size:15px;"
                             f"margin-bottom:4px'><span aria-hidden='true'>⚠ </span>{text}</div>")
            else:
                items.append(f"<div>{text}</div>")
        border = ALARM if st.liquidated else "#bbb"
        return (f"<div role='status' aria-live='polite' style='border:2px solid {border};"
                f"padding:6px 10px;font-size:14px;line-height:1.5;max-width:720px'>"
                f"{''.join(items)}</div>")

    # ------------------------------------------------------------------ wiring
    def _position_changed(self, change):
        # the ranges below may clamp the maintenance rate and the mark: not a student's change
        with not_listening(self._listeners):
            lev = self.leverage.value
            top = max_mmr_pct(((lev, 1.0),))
            self.mmr.set_range(0.0, top)  # a rate at or above 1/leverage cannot be set
            lo, hi, step = mark_knob_range(self.entry.value, lev)
            self.mark.set_range(lo, hi)  # the mark price stays, clamped into the new range
            self.mark.slider.step = self.mark.box.step = step
            self.mark.slider.grid = self.mark.box.grid = self.mark.step = step
        self._redraw(position=True)

    def _mark_changed(self, change):
        self._redraw(position=False)
