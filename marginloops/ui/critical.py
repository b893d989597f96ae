"""The critical ratio as a picture: amplification against the crowding ratio n/D, the closed
form beside the simulation, and a marker for the market the student sets with two knobs.
"""

from __future__ import annotations

import html

import bqplot as bq
import ipywidgets as widgets
import numpy as np

from .._checks import check_number
from ..analysis import closed_form_amplification
from ..critical import RATIO_GRID, simulated_amplification
from ..numbers import number, percent
from . import style
from .chartkit import caption_html, figure, stylesheet
from .knobs import Knob
from .reports import Reports

X_MAX = 2.5          # the chart's crowding-ratio axis: 0 .. X_MAX
Y_MIN, Y_MAX = 1.0, 50.0   # amplification, log scale
Y_TICKS = (1, 2, 5, 10, 20, 50)


class CriticalRatioView(Reports, widgets.VBox):
    """Amplification against the crowding ratio ``n/D`` of a flat-band market.

    The blue curve is the closed form ``1 / (1 - n/D)`` (infinite from 1 on: not drawn
    there); the vermilion dots are simulations of the flat-band market
    (:func:`marginloops.critical.flat_band_market`): liquidation prices spread evenly
    over a band of ``band`` below the price, a flat book. Left of ``n/D = 1`` the loop dies
    out; right of it (shaded) it runs through the whole band. The orange diamond is the market
    the two knobs describe: its 1% depth ``D`` and its liquidations per 1% of price ``n``,
    both in M USD, so that ``n/D`` is their quotient.

    Parameters
    ----------
    depth : float
        1% depth at the start, M USD, in [0.5, 10].
    density : float
        Liquidations per 1% of price at the start, M USD, in [0.05, 5].
    shock : float
        The shock as a fraction of the price, in (0, 0.1].
    band : float
        How far below the price the evenly spread liquidation prices reach, in [0.1, 0.5].

    Attributes
    ----------
    depth_knob, density_knob : the two :class:`Knob` (a slider and a labelled number box each)
    figure : the bqplot Figure; ``curve``, ``points``, ``marker``, ``region``, ``boundary``,
        ``labels``: its marks
    readout : ``role='status'`` text: n/D, predicted and simulated amplification (the chart's
        text alternative)
    """

    DEPTH_RANGE = (0.5, 10.0)
    DENSITY_RANGE = (0.05, 5.0)

    def __init__(self, depth: float = 2.0, density: float = 1.0, *, shock: float = 0.02,
                 band: float = 0.3):
        depth = check_number("depth", depth, lo=self.DEPTH_RANGE[0], hi=self.DEPTH_RANGE[1])
        density = check_number("density", density, lo=self.DENSITY_RANGE[0],
                               hi=self.DENSITY_RANGE[1])
        self.band = check_number("band", band, lo=0.1, hi=0.5)
        self.shock = check_number("shock", shock, lo=0, hi=0.1, lo_open=True)
        self.depth_knob = Knob(
            "1% depth D (M USD)", "Dollars of buy orders resting within each 1% below the "
            "price: the book's depth", lo=self.DEPTH_RANGE[0], hi=self.DEPTH_RANGE[1],
            step=0.05, value=depth, label_width="230px")
        self.density_knob = Knob(
            "Liquidations per 1% n (M USD)", "Dollars of positions whose liquidation prices "
            "lie within each 1% below the price: how crowded the leverage is",
            lo=self.DENSITY_RANGE[0], hi=self.DENSITY_RANGE[1], step=0.05, value=density,
            label_width="230px")

        self.x = bq.LinearScale(min=0.0, max=X_MAX)
        self.y = bq.LogScale(min=Y_MIN, max=Y_MAX)
        sc = {"x": self.x, "y": self.y}
        self.region = bq.Lines(
            x=[1.0, X_MAX, X_MAX, 1.0], y=[Y_MIN, Y_MIN, Y_MAX, Y_MAX], scales=sc,
            fill="inside", colors=[style.GREY], fill_colors=[style.ORANGE],
            fill_opacities=[0.18], stroke_width=0, labels=["runs through the whole band"])
        self.boundary = bq.Lines(x=[1.0, 1.0], y=[Y_MIN, Y_MAX], scales=sc,
                                 colors=[style.BLACK], line_style="dashed", stroke_width=2,
                                 labels=["n/D = 1"])
        self.labels = bq.Label(
            x=[0.5, 1.75], y=[35.0, 1.25], scales=sc, colors=[style.BLACK, style.BLACK],
            text=["dies out (n/D < 1)", "runs through the whole band (n/D ≥ 1)"],
            align="middle", default_size=14, font_weight="bold")
        r = np.linspace(0.0, 1.0 - 1.0 / Y_MAX, 200)  # up to where 1 / (1 - r) = Y_MAX
        self.curve = bq.Lines(x=r, y=1.0 / (1.0 - r), scales=sc, colors=[style.BLUE],
                              stroke_width=3, labels=["closed form 1 / (1 - n/D)"])
        grid = np.array(RATIO_GRID)
        self.simulated_grid = simulated_amplification(grid, shock=self.shock, band=self.band)
        self.points = bq.Scatter(
            x=grid, y=np.clip(self.simulated_grid, Y_MIN, Y_MAX), scales=sc,
            colors=[style.VERMILLION], marker="circle", default_size=50, stroke=style.BLACK,
            stroke_width=0.5, labels=["simulated"],
            tooltip=bq.Tooltip(fields=["x", "y"], labels=["n/D", "amplification"],
                               formats=[".2f", ".2f"]))
        self.marker = bq.Scatter(
            x=[0.0], y=[1.0], scales=sc, colors=[style.ORANGE], marker="diamond",
            default_size=320, stroke=style.BLACK, stroke_width=2.0, labels=["your market"],
            tooltip=bq.Tooltip(fields=["x", "y"], labels=["your n/D", "amplification"],
                               formats=[".2f", ".2f"]))
        x_axis = bq.Axis(scale=self.x, label="crowding ratio n/D (liquidations ÷ depth)",
                         tick_format=".2~f", tick_values=np.arange(0.0, X_MAX + 0.01, 0.25),
                         grid_lines="none", label_offset="35px")
        y_axis = bq.Axis(scale=self.y, label="amplification (total fall ÷ shock)",
                         tick_format="~g", tick_values=list(Y_TICKS), side="left",
                         grid_lines="dashed", label_offset="45px")
        self.figure = figure("Critical ratio: does the loop die out?",
                              [self.region, self.boundary, self.curve, self.points,
                               self.labels, self.marker], [x_axis, y_axis])
        self.figure.layout.height = "380px"
        self.caption = widgets.HTML(caption_html(
            (style.BLUE, "━", "closed form: 1 / (1 − n/D)"),
            (style.VERMILLION, "●", f"simulated (liquidation prices spread evenly over the "
                                    f"{percent(self.band, 0)} below the price, flat book, "
                                    f"{percent(self.shock, 0)} shock)"),
            (style.ORANGE, "◆", "your market: the two knobs"),
            (style.BLACK, "┆", "n/D = 1; the shaded side runs through the whole band"),
        ) + "<div style='font-size:13px'>Log scale: each step up the axis multiplies the "
            "fall. A dot or diamond beyond the chart sits on its edge.</div>",
            layout={"margin": "0 0 0 60px"})
        self.readout = widgets.HTML(layout={"margin": "4px 0"})
        # Callbacks through guard(): a problem is one sentence in ``message``, not a traceback.
        self._init_reports()
        for knob in (self.depth_knob, self.density_knob):
            knob.slider.observe(self.guard(self._changed), names="value")
            knob.on_refuse(self.report)
        intro = widgets.HTML("<b>Your market</b>: set the book's depth and how crowded the "
                             "liquidation prices are.")
        super().__init__([stylesheet(), intro,
                          self.depth_knob, self.density_knob, self.message, self.readout,
                          self.figure, self.caption], layout={"width": "100%"})
        self.add_class(style.ROOT_CLASS)  # the stylesheet's visible keyboard focus
        self._update()

    # ------------------------------------------------------------------------- reading
    @property
    def ratio(self) -> float:
        """The crowding ratio of the market the knobs describe: ``n / D``."""
        return self.density_knob.value / self.depth_knob.value

    @property
    def predicted(self) -> float:
        """The closed form's amplification for :attr:`ratio` (``inf`` from 1 on)."""
        return closed_form_amplification(self.ratio)

    @property
    def simulated(self) -> float:
        """The simulated amplification of the market the knobs describe."""
        return self._simulated

    def set_market(self, depth: float, density: float) -> None:
        """Set both knobs (M USD); values outside the knobs' ranges raise ``ValueError``."""
        depth = check_number("depth", depth, lo=self.DEPTH_RANGE[0], hi=self.DEPTH_RANGE[1])
        density = check_number("density", density, lo=self.DENSITY_RANGE[0],
                               hi=self.DENSITY_RANGE[1])
        self.depth_knob.value, self.density_knob.value = depth, density

    # ------------------------------------------------------------------------- drawing
    def _changed(self, _change) -> None:
        self._update()

    def _update(self) -> None:
        self.message.value = ""  # a problem reported before is over once a change draws
        ratio = self.ratio
        self._simulated = float(simulated_amplification(ratio, shock=self.shock,
                                                        band=self.band)[0])
        with self.marker.hold_sync():
            self.marker.x = [min(ratio, X_MAX)]
            self.marker.y = [float(np.clip(self._simulated, Y_MIN, Y_MAX))]
        self.readout.value = self._words(ratio)

    def _words(self, ratio: float) -> str:
        d, n = self.depth_knob.value, self.density_knob.value
        predicted = self.predicted
        sim = self._simulated
        shock = self.shock
        if np.isfinite(predicted) and shock * predicted >= self.band:
            # near n/D = 1 the formula's fall passes the end of the positions (even 100%)
            says = (f"amplification <b>{number(predicted, 2)}</b>, so a {percent(shock, 0)} "
                    f"shock would become a fall of more than the {percent(self.band, 0)} band "
                    f"that holds the liquidation prices: the loop dies out only after eating "
                    f"nearly all of it")
        elif np.isfinite(predicted):
            says = (f"amplification <b>{number(predicted, 2)}</b> (a {percent(shock, 0)} shock "
                    f"becomes a {percent(shock * predicted, 1)} fall): the loop dies out")
        else:
            says = "no finite fall (n/D ≥ 1): the loop runs through the whole band"
        where = " (beyond the chart: the diamond sits on its edge)" if (
            ratio > X_MAX or sim > Y_MAX) else ""
        gap = ""
        if np.isfinite(predicted) and abs(sim - predicted) > 0.02 * predicted:
            gap = (f" The simulation falls short of the closed form because its "
                   f"liquidation prices stop {percent(self.band, 0)} below the price.")
        return (f"<div role='status' aria-live='polite' style='line-height:1.5'>"
                f"Your market: n = {number(n, 2)}M USD of liquidations per 1%, D = "
                f"{number(d, 2)}M USD of depth per 1%, so <b>n/D = {number(ratio, 2)}</b>"
                f"{html.escape(where)}. Closed form: {says}. Simulation: amplification "
                f"<b>{number(sim, 2)}</b> (a {percent(shock * sim, 1)} fall)."
                f"{html.escape(gap)}</div>")
