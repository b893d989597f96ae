"""The phase diagram: a measure of the cascade over two scenario fields, as a heat map that
fills in while :func:`marginloops.sweep` runs, with the closed form's boundary n/D = 1 drawn on
it; a click on a cell opens that market in a :class:`~marginloops.ui.CascadeExplorer`.
"""

from __future__ import annotations

import dataclasses
import html
import math
import numbers
import time

import bqplot as bq
import ipywidgets as widgets
import numpy as np

from .. import narration as say
from ..analysis import crowding
from ..numbers import number
from ..scenarios import FRACTION_FIELDS, PRESETS, Scenario, fraction_text
from ..sweeps import sweep
from . import style
from .chartkit import caption_html, stylesheet
from .explorer import CascadeExplorer
from .reports import Reports, problem_sentence

__all__ = ["DEFAULT_GRID", "PHASE_MEASURES", "RUNAWAY", "PhaseDiagramView"]

#: The default grid: 16 depths from 0.5M to 8M USD (geometric, so n/D steps evenly on the
#: log axis) and 10 shocks from 1% to 10%.
DEFAULT_GRID = {
    "depth_1pct": tuple(float(f"{d:.3g}") for d in np.geomspace(0.5e6, 8e6, 16)),
    "shock": tuple(k / 100 for k in range(1, 11)),
}

#: A market "runs away" in the narration when its amplification is at least this: the closed
#: form 1 / (1 - n/D) reaches 5 at n/D = 0.8, where each round's drop is still 80% of the one
#: before.
RUNAWAY = 5.0


@dataclasses.dataclass(frozen=True)
class _Measure:
    label: str        # the menu's words
    short: str        # the colour bar's
    tick_format: str  # d3 format of the colour bar's ticks
    lo: float         # the colour scale's bottom
    cap: float | None  # its top (None: the largest value swept)


#: The measures the menu offers (names of :data:`marginloops.MEASURES`), and how each is
#: coloured. Amplification's colours stop at 10 (a runaway market can reach 50): a cell in the
#: top colour had 10 or more, as the key says; its hover text has the value.
PHASE_MEASURES = {
    "amplification": _Measure("amplification (total fall ÷ shock)", "amplification", ".0f",
                              1.0, 10.0),
    "fall": _Measure("fall from the start price", "fall", ".0%", 0.0, None),
    "rounds": _Measure("rounds until the loop stops", "rounds", ".0f", 0.0, None),
    "bad_debt": _Measure("bad debt (USD)", "bad debt", ".2s", 0.0, None),
}
#: What the view asks the sweep to measure (the menu's measures, and the hover text's).
_SWEPT = ("fall", "amplification", "rounds", "liquidated", "bad_debt", "end_reason")
_MONEY_FIELDS = ("depth_1pct", "initial_fund", "notional")
_EMPTY_PATTERN = "marginloops-phase-empty"
_PHASE_CLASS = "marginloops-phase"

# Cells not swept yet: bqplot gives a NaN cell no fill of its own (its colour scale maps NaN to
# nothing), so this rule's hatching shows through: white with grey stripes, unlike any colour
# of the scale, in colour and in grey.
_CSS = f"""
.{_PHASE_CLASS} .heatmapcell {{ fill: url(#{_EMPTY_PATTERN}); }}
"""
_PATTERN_SVG = (
    f"<svg width='0' height='0' style='position:absolute' aria-hidden='true'><defs>"
    f"<pattern id='{_EMPTY_PATTERN}' width='6' height='6' patternUnits='userSpaceOnUse' "
    f"patternTransform='rotate(45)'><rect width='6' height='6' fill='#FFFFFF'/>"
    f"<rect width='2' height='6' fill='#BDBDBD'/></pattern></defs></svg>")


def _value_words(field: str, value) -> str:
    """A field's value as the page says it: a fraction as a percentage, USD as money."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return str(value)
    if field in FRACTION_FIELDS or field in ("shock", "band"):
        return fraction_text(value)
    if field in _MONEY_FIELDS:
        return say.money(value)
    return number(value, 6, sig=4, trim=True)


def _measure_words(name: str, value) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    if name == "fall":
        return fraction_text(round(value, 3))
    if name == "bad_debt":
        return say.money(value)
    if name in ("rounds", "liquidated"):
        return number(value, 0)
    if name == "amplification":
        return number(value, 2)
    return html.escape(str(value).replace("_", " "))


def _bounds(pos: np.ndarray, log: bool) -> np.ndarray:
    """Cell edges around sorted positions ``pos``: midpoints (geometric on a log axis), the
    outer edges half a step out."""
    p = np.log(pos) if log else np.asarray(pos, float)
    if len(p) == 1:
        step = 0.1 if log else max(abs(p[0]) * 0.1, 0.5)
        edges = np.array([p[0] - step, p[0] + step])
    else:
        mid = (p[1:] + p[:-1]) / 2
        edges = np.concatenate([[p[0] - (p[1] - p[0]) / 2], mid, [p[-1] + (p[-1] - p[-2]) / 2]])
    return np.exp(edges) if log else edges


def _numeric(values) -> bool:
    return all(isinstance(v, numbers.Real) and not isinstance(v, bool) for v in values)


class PhaseDiagramView(Reports, widgets.VBox):
    """Where does the loop run away? A heat map of one measure of the cascade over two fields
    of a scenario, filled in cell by cell while :func:`marginloops.sweep` runs.

    When the x field is ``depth_1pct`` the x axis reads as the crowding ratio n/D within 5% of
    the price (:func:`marginloops.analysis.crowding` of each column's market, measured before
    the sweep), on a log scale, and the closed form's boundary n/D = 1 is drawn as a dashed
    line: below it each round's drop is n/D times the one before and the loop dies out, above
    it the loop runs through the crowd. With :class:`~marginloops.FlatBandScenario`'s ``ratio``
    on x, the same line at ratio 1.

    The colours are viridis (van der Walt and Smith, 2015, matplotlib's default): perceptually
    uniform, readable with the common colour-vision deficiencies, and its lightness rises
    steadily from dark purple to yellow, so the map still reads in grey (a printout, a washed
    out projector). Amplification's colours stop at 10 (a runaway market reaches 50): the top
    colour means 10 or more, as the key says. A cell not swept yet is hatched white and grey,
    unlike any colour of the scale. Hovering on a cell shows its fields and measures.

    Parameters
    ----------
    scenario : a scenario (frozen dataclass with ``.cascade()``), default the crowded-longs
        preset
    grid : dict of exactly two fields -> values (the first on x, the second on y); default
        :data:`DEFAULT_GRID` (depth x shock)
    measure : the measure coloured at first, one of :data:`PHASE_MEASURES`
    seeds, executor : passed to :func:`marginloops.sweep` (values are averaged over seeds)
    autorun : sweep at once

    Attributes
    ----------
    figure, heatmap, boundary, boundary_label : the bqplot figure and its marks
    sweep_button, measure_menu : the controls; ``status`` (count and time), ``story`` (what
        the picture shows, in words: the chart's text alternative)
    result : the last :class:`~marginloops.SweepResult` (None before a sweep)
    explorer : the :class:`CascadeExplorer` a click on a cell opens (None before one);
        ``opened`` says which cell it shows, ``opened_cell`` the cell's index in the grid
    x_positions : where each x value sits on the x axis (n/D for depth), in grid order
    """

    def __init__(self, scenario=None, grid=None, *, measure: str = "amplification", seeds=1,
                 executor=None, autorun: bool = False):
        scenario = PRESETS["crowded-longs"] if scenario is None else scenario
        if not dataclasses.is_dataclass(scenario) or isinstance(scenario, type) \
                or not callable(getattr(scenario, "cascade", None)):
            raise ValueError("scenario must be a scenario (a dataclass with .cascade(), such as "
                             f"Scenario or FlatBandScenario), got {type(scenario).__name__}")
        grid = DEFAULT_GRID if grid is None else grid
        if not isinstance(grid, dict) or len(grid) != 2:
            raise ValueError("grid must be a dict of exactly two fields (x first, then y), got "
                             f"{grid!r:.120}")
        names = {f.name for f in dataclasses.fields(scenario)}
        for field, values in grid.items():
            if field not in names:
                raise ValueError(f"grid field {field!r} is not a field of "
                                 f"{type(scenario).__name__} (fields: {sorted(names)})")
            if isinstance(values, (str, bytes)) or not hasattr(values, "__len__") \
                    or len(values) < 2:
                raise ValueError(f"grid[{field!r}] must be a list of at least 2 values (a map "
                                 f"needs two columns and two rows), got {values!r:.80}")
            plain = [v.item() if hasattr(v, "item") else v for v in values]
            if any(plain[i] in plain[:i] for i in range(len(plain))):
                raise ValueError(f"grid[{field!r}] must not repeat a value (each is one column "
                                 f"or row of the map), got {values!r:.80}")
        if measure not in PHASE_MEASURES:
            raise ValueError(f"measure must be one of {list(PHASE_MEASURES)}, got {measure!r}")
        if not isinstance(autorun, bool):
            raise ValueError(f"autorun must be True or False, got {autorun!r}")
        self.scenario, self.seeds, self.executor = scenario, seeds, executor
        (self.x_field, xs), (self.y_field, ys) = ((k, [v.item() if hasattr(v, "item") else v
                                                        for v in vals])
                                                  for k, vals in grid.items())
        self.grid = {self.x_field: xs, self.y_field: ys}
        self.result = None
        self.explorer = None
        self.opened_cell = None
        self._running = False
        self._init_reports()
        self._axes_from_grid(xs, ys)
        self._build_figure()
        self._build_controls(measure)
        self._clear_cells()
        self._draw()
        self._update_story()
        self.status.value = self._status_html(
            f"{number(len(xs) * len(ys), 0)} markets to sweep ({number(len(xs), 0)} "
            f"{html.escape(self.x_field)} × {number(len(ys), 0)} {html.escape(self.y_field)}"
            f"{self._seed_words()}): press Sweep.")
        if autorun:
            self.run()

    # ------------------------------------------------------------------------ building
    def _axes_from_grid(self, xs, ys) -> None:
        """Where each value sits on its axis, and the axes' kind: n/D for depth, the values
        themselves for other numbers, their order for anything else."""
        self.crowding_axis = False
        self.boundary_at = None
        self._x_note = ""
        if self.x_field == "depth_1pct" and _numeric(xs):
            pos = self._crowding_of(xs, ys)
            if pos is not None:
                self.crowding_axis, self.boundary_at = True, 1.0
                self.x_label = "crowding ratio n/D (within 5%)"
                self.x_short = "n/D"
            else:
                pos = np.asarray(xs, float)
                self._x_note = (" (n/D changes with the other field too, so the x axis is the "
                                "depth itself)")
                self.x_label, self.x_short = "1% depth (USD)", "1% depth"
        elif _numeric(xs):
            pos = np.asarray(xs, float)
            self.x_label = self.x_short = self.x_field
            if self.x_field == "ratio":
                self.crowding_axis, self.boundary_at = True, 1.0
                self.x_label, self.x_short = "crowding ratio n/D", "n/D"
        else:
            pos = np.arange(len(xs), dtype=float)
            self.x_label = self.x_short = self.x_field
        self.x_positions = pos
        ypos = np.asarray(ys, float) if _numeric(ys) else np.arange(len(ys), dtype=float)
        self.y_positions = ypos
        self._xorder = np.argsort(pos, kind="stable")   # column c shows x value xorder[c]
        self._yorder = np.argsort(ypos, kind="stable")
        self._xcol = np.argsort(self._xorder)           # x value i sits in column xcol[i]
        self._yrow = np.argsort(self._yorder)
        self._xlog = bool(self.crowding_axis and np.all(pos > 0) and pos.max() / pos.min() >= 4)
        self._x_numeric, self._y_numeric = _numeric(xs), _numeric(ys)

    def _crowding_of(self, depths, ys) -> np.ndarray | None:
        """n/D within 5% of each depth's market (at the first and the last y value: None if
        they differ, when the y field moves n/D too)."""
        out = []
        for d in depths:
            ratios = []
            for y in (ys[0], ys[-1]):
                s = dataclasses.replace(self.scenario, **{"depth_1pct": d, self.y_field: y})
                ratios.append(crowding(s.cascade(), band=0.05).ratio)
            if not np.isclose(ratios[0], ratios[1], rtol=1e-3) or not np.isfinite(ratios[0]):
                return None
            out.append(ratios[0])
        return np.array(out)

    def _build_figure(self) -> None:
        xs_sorted = self.x_positions[self._xorder]
        ys_sorted = self.y_positions[self._yorder]
        self._xedges = _bounds(xs_sorted, self._xlog)
        self._yedges = _bounds(ys_sorted, False)
        self.x_scale = bq.LogScale() if self._xlog else bq.LinearScale()
        self.x_scale.min, self.x_scale.max = float(self._xedges[0]), float(self._xedges[-1])
        self.y_scale = bq.LinearScale(min=float(self._yedges[0]), max=float(self._yedges[-1]))
        first = PHASE_MEASURES["amplification"]
        self.color_scale = bq.ColorScale(scheme="viridis", min=first.lo, max=first.cap)
        self.hover_text = widgets.HTML(layout={"padding": "4px 8px"})
        ny, nx = len(ys_sorted), len(xs_sorted)
        self.heatmap = bq.GridHeatMap(
            color=np.full((ny, nx), np.nan), row=self._yedges, column=self._xedges,
            scales={"row": self.y_scale, "column": self.x_scale, "color": self.color_scale},
            stroke="white", null_color="white", tooltip=self.hover_text,
            interactions={"hover": "tooltip"})
        sc = {"x": self.x_scale, "y": self.y_scale}
        y0, y1 = float(self._yedges[0]), float(self._yedges[-1])
        # the cell open in the explorer: its outline (hidden until a cell is opened)
        x0 = float(self._xedges[0])  # (a point inside the axes: 0 has no place on a log scale)
        self.outline = bq.Lines(x=[x0, x0], y=[y0, y0], scales=sc, colors=[style.VERMILLION],
                                stroke_width=4, visible=False)
        marks = [self.heatmap]
        self.boundary = self.boundary_halo = self.boundary_label = None
        if self.boundary_at is not None and self._xedges[0] < 1.0 < self._xedges[-1]:
            # a white halo under the black dashes: visible on dark purple and on yellow alike
            self.boundary_halo = bq.Lines(x=[1.0, 1.0], y=[y0, y1], scales=sc,
                                          colors=["white"], stroke_width=6)
            self.boundary = bq.Lines(x=[1.0, 1.0], y=[y0, y1], scales=sc, colors=[style.BLACK],
                                     line_style="dashed", stroke_width=3,
                                     labels=["closed form: n/D = 1"])
            self.boundary_label = bq.Label(
                x=[1.0], y=[y1], scales=sc, text=["n/D = 1"], colors=[style.BLACK],
                align="middle", default_size=14, font_weight="bold", y_offset=-8,
                apply_clip=False)
            marks += [self.boundary_halo, self.boundary, self.boundary_label]
        marks.append(self.outline)
        x_axis = bq.Axis(scale=self.x_scale, label=self.x_label, grid_lines="none",
                         label_offset="35px", **self._x_ticks(xs_sorted))
        y_axis = bq.Axis(scale=self.y_scale, label=self.y_field,
                         side="left", grid_lines="none", label_offset="50px",
                         **self._y_ticks(ys_sorted))
        self.color_axis = bq.ColorAxis(scale=self.color_scale,
                                       side="right", label=first.short, tick_format=".0f")
        title = ("Phase diagram: where does the loop run away?" if self.crowding_axis
                 else f"Phase diagram over {self.x_field} and {self.y_field}")
        self.figure = bq.Figure(
            title=title, marks=marks, axes=[x_axis, y_axis, self.color_axis],
            animation_duration=0, title_style={"font-size": "16px"},
            fig_margin={"top": 50, "bottom": 55, "left": 80, "right": 110},
            layout={"width": "100%", "height": "420px", "min_width": "420px"})
        self.heatmap.on_hover(self.guard(self._hovered))
        self.heatmap.on_element_click(self.guard(self._clicked))

    def _x_ticks(self, xs_sorted) -> dict:
        if self._xlog:
            lo, hi = self._xedges[0], self._xedges[-1]
            ticks = [t for t in (0.1, 0.25, 0.5, 1, 2, 4, 8, 16) if lo <= t <= hi]
            return {"tick_values": ticks, "tick_format": ".2~f"}
        if not self._x_numeric:
            return self._labelled_ticks(self.x_field)
        if self.x_field in FRACTION_FIELDS or self.x_field == "shock":
            return {"tick_format": ".0%"}
        return {"tick_format": ".3~s" if self.x_field in _MONEY_FIELDS else ".3~g"}

    def _y_ticks(self, ys_sorted) -> dict:
        ticks = {"tick_values": list(map(float, ys_sorted))} if len(ys_sorted) <= 12 else {}
        if not self._y_numeric:
            return self._labelled_ticks(self.y_field)
        if self.y_field in FRACTION_FIELDS or self.y_field in ("shock", "band"):
            return {**ticks, "tick_format": ".0%"}
        return {**ticks, "tick_format": ".3~s" if self.y_field in _MONEY_FIELDS else ".3~g"}

    def _labelled_ticks(self, field) -> dict:
        """Ticks of a field whose values are not numbers: their order on the axis, each
        labelled with its value."""
        values = self.grid[field]
        return {"tick_values": list(map(float, range(len(values)))),
                "tick_labels": {str(i): str(v) for i, v in enumerate(values)}}

    def _build_controls(self, measure: str) -> None:
        self.sweep_button = widgets.Button(
            description="Sweep", button_style="primary", icon="play",
            tooltip="Run the cascade for every cell of the grid and colour the map",
            layout={"width": "140px"})
        self.measure_menu = widgets.Dropdown(
            options=[(m.label, name) for name, m in PHASE_MEASURES.items()], value=measure,
            description="Colour by", layout={"width": "380px"})
        self.status = widgets.HTML(layout={"margin": "4px 0"})
        self.story = widgets.HTML(layout={"margin": "4px 0"})
        self.caption = widgets.HTML(layout={"margin": "0 0 0 80px"})
        self.opened = widgets.HTML()
        self.explorer_box = widgets.VBox([self.opened],
                                         layout={"display": "none", "flex": "1 1 560px",
                                                 "min_width": "360px"})
        self.map_box = widgets.VBox([self.figure, self.caption],
                                    layout={"flex": "1 1 520px", "min_width": "420px",
                                            "overflow": "visible"})
        # The keyboard's way to a cell (a click needs a mouse): its two values and a button.
        self.pick_x = widgets.Dropdown(
            options=[(self._x_option(i), i) for i in self._xorder], description=self.x_short,
            layout={"width": "300px"})
        self.pick_y = widgets.Dropdown(
            options=[(_value_words(self.y_field, self.grid[self.y_field][i]), i)
                     for i in self._yorder],
            description=self.y_field, layout={"width": "220px"})
        self.open_button = widgets.Button(
            description="Open in the explorer", icon="search",
            tooltip="Open the market of these two values in an explorer beside the map",
            layout={"width": "200px"})
        self.open_button.on_click(self.guard(lambda _b: self.open_market(
            self.pick_x.value * len(self.y_positions) + self.pick_y.value)))
        self.sweep_button.on_click(self.guard(lambda _b: self.run()))
        self.measure_menu.observe(self.guard(self._measure_changed), names="value")
        css = widgets.HTML(f"<style>{_CSS}</style>{_PATTERN_SVG}",
                           layout={"height": "0px", "overflow": "hidden"})
        super().__init__([
            stylesheet(), css,
            widgets.HBox([self.sweep_button, self.measure_menu],
                         layout={"align_items": "center", "flex_flow": "row wrap"}),
            self.status, self.message, self.story,
            widgets.HBox([widgets.HTML("Open a market:"), self.pick_x, self.pick_y,
                          self.open_button],
                         layout={"align_items": "center", "flex_flow": "row wrap"}),
            widgets.HBox([self.map_box, self.explorer_box],
                         # overflow visible: the figure's 2px margins make it wider than
                         # the box, which would be a scrollable region a keyboard cannot reach
                         layout={"flex_flow": "row wrap", "align_items": "flex-start",
                                 "width": "100%", "overflow": "visible"})],
            layout={"width": "100%"})
        self.add_class(style.ROOT_CLASS)
        self.add_class(_PHASE_CLASS)

    def _x_option(self, i) -> str:
        """The x menu's words for x value ``i``: n/D and the depth, or the value."""
        value = self.grid[self.x_field][int(i)]
        if self.crowding_axis and self.x_field == "depth_1pct":
            return f"{number(self.x_positions[int(i)], 2)} (1% depth {say.money(value)})"
        return _value_words(self.x_field, value)

    # --------------------------------------------------------------------- the cells
    @property
    def measure(self) -> str:
        """The measure the colours show (the menu's)."""
        return self.measure_menu.value

    def _clear_cells(self) -> None:
        ny, nx = len(self.y_positions), len(self.x_positions)
        self._sums = {m: np.zeros((ny, nx)) for m in PHASE_MEASURES}
        self._counts = np.zeros((ny, nx))
        self._cell_rows: dict[int, list] = {}

    def _cell_at(self, row: int, col: int) -> int:
        """The grid's cell index (first field slowest) of the map's row and column."""
        ix, iy = int(self._xorder[col]), int(self._yorder[row])
        return ix * len(self.y_positions) + iy

    def _place(self, cell: int) -> tuple[int, int]:
        ix, iy = divmod(int(cell), len(self.y_positions))
        return int(self._yrow[iy]), int(self._xcol[ix])

    def values(self, measure: str | None = None) -> np.ndarray:
        """The map's values of ``measure`` (default: the one shown), shape (rows, columns)
        in the map's order (y ascending up, x ascending right); NaN where not swept yet.
        Averaged over seeds."""
        measure = self.measure if measure is None else measure
        with np.errstate(invalid="ignore", divide="ignore"):
            out = self._sums[measure] / self._counts
        out[self._counts == 0] = np.nan
        return out

    def _on_rows(self, rows) -> None:
        """A chunk of the sweep came back: add its rows and redraw (in place)."""
        for row in rows:
            r, c = self._place(row["cell"])
            for m in PHASE_MEASURES:
                v = row.get(m)
                self._sums[m][r, c] += np.nan if v is None else float(v)
            self._counts[r, c] += 1
            self._cell_rows.setdefault(int(row["cell"]), []).append(row)
        self._draw()
        done = int(self._counts.sum())
        self.status.value = self._status_html(
            f"Sweeping: {number(done, 0)} of {number(self._expected, 0)} runs done, "
            f"{number(time.perf_counter() - self._started, 1)} s so far…")

    def _draw(self) -> None:
        """Colour the cells with the measure shown, and fit the colour scale to it."""
        spec = PHASE_MEASURES[self.measure]
        values = self.values()
        finite = values[np.isfinite(values)]
        if spec.cap is not None:
            top = spec.cap
        else:
            top = float(finite.max()) if finite.size else spec.lo + 1
            if self.measure == "fall":
                top = min(1.0, math.ceil(top * 10 - 1e-9) / 10) if top > 0 else 0.1
            top = max(top, spec.lo + (0.1 if self.measure == "fall" else 1))
        with self.color_scale.hold_sync():
            self.color_scale.min, self.color_scale.max = float(spec.lo), float(top)
        with self.color_axis.hold_sync():
            self.color_axis.label = spec.short
            self.color_axis.tick_format = spec.tick_format
        with self.heatmap.hold_sync():   # the cells change in place: one message
            self.heatmap.color = values
        self._caption(spec, top)

    def _caption(self, spec, top) -> None:
        items = [(style.BLACK, "▦", "hatched: not swept yet")]
        if self.boundary is not None:
            items.insert(0, (style.BLACK, "┆", "n/D = 1: the closed form's boundary (below it "
                                               "the loop dies out, above it it runs away)"))
        capped = ""
        if spec.cap is not None:
            capped = (f"Colours stop at {number(spec.cap, 0)}: a cell in the top (yellow) colour "
                      f"had an amplification of {number(spec.cap, 0)} or more (hover for its "
                      f"value).")
        self.caption.value = caption_html(*items) + (
            f"<div style='font-size:13px'>Viridis colours: darker is less, lighter is more, in "
            f"colour and in grey. {capped} Click a cell to open that market in the explorer."
            f"</div>")

    # ------------------------------------------------------------------------ sweeping
    def run(self):
        """Sweep the grid (the Sweep button does this), filling the map in as rows come
        back; returns the :class:`~marginloops.SweepResult`. A kernel interrupt stops it with
        the rows done kept; an error is said in the status line and raised."""
        if self._running:
            return self.result
        self._running = True
        self._clear_cells()
        self._draw()
        ny, nx = len(self.y_positions), len(self.x_positions)
        nseeds = self.seeds if isinstance(self.seeds, int) else len(self.seeds)
        self._expected = nx * ny * nseeds
        self._started = time.perf_counter()
        with self.sweep_button.hold_sync():
            self.sweep_button.disabled = True
            self.sweep_button.description = "Sweeping…"
            self.sweep_button.icon = "hourglass-half"
        self.message.value = ""
        self.status.value = self._status_html(
            f"Sweeping: 0 of {number(self._expected, 0)} runs done…")
        result = None
        try:
            result = sweep(self.scenario, self.grid, measures=_SWEPT, seeds=self.seeds,
                           executor=self.executor, progress=False, on_rows=self._on_rows)
        except KeyboardInterrupt:
            self._said_stop("Interrupted")
        except Exception as exc:
            self._said_stop(f"The sweep failed ({problem_sentence(exc)})")
            raise
        finally:
            self._running = False
            with self.sweep_button.hold_sync():
                self.sweep_button.disabled = False
                self.sweep_button.description = "Sweep"
                self.sweep_button.icon = "play"
        if result is None:
            return None
        self.result = result
        elapsed = time.perf_counter() - self._started
        if result.complete:
            self._fill_from(result)
            what = "markets" if nseeds == 1 else (
                f"runs ({number(nx * ny, 0)} markets{self._seed_words()})")
            self.status.value = self._status_html(
                f"Swept {number(len(result), 0)} of {number(result.expected, 0)} {what} in "
                f"{number(elapsed, 1)} s.")
        else:
            self.status.value = self._status_html(
                f"Interrupted: swept {number(len(result), 0)} of {number(result.expected, 0)} "
                f"runs in {number(elapsed, 1)} s; the hatched cells were not run. Press Sweep "
                f"to run them all again.")
        self._update_story()
        return result

    def _said_stop(self, what: str) -> None:
        done = int(self._counts.sum())
        self.status.value = self._status_html(
            f"{what} after {number(done, 0)} of {number(self._expected, 0)} runs; the hatched "
            f"cells were not run. Press Sweep to try again.")
        self._update_story()

    def _fill_from(self, result) -> None:
        """The map's values from the finished table (its seed averages: grid2d)."""
        for m in PHASE_MEASURES:
            _, _, vals = result.grid2d(self.x_field, self.y_field, m)
            self._sums[m] = vals[np.ix_(self._yorder, self._xorder)].copy()
        self._counts = np.ones_like(self._counts)
        self._draw()

    def _seed_words(self) -> str:
        n = self.seeds if isinstance(self.seeds, int) else len(self.seeds)
        return f", {number(n, 0)} seeds each, averaged" if n != 1 else ""

    @staticmethod
    def _status_html(text: str) -> str:
        return f"<div role='status' aria-live='polite'>{text}</div>"

    def _measure_changed(self, _change) -> None:
        self._draw()

    # --------------------------------------------------------------------- words
    def _cell_words(self, cell: int) -> str:
        """A cell's fields and (if swept) its measures, for the hover text and the explorer."""
        ix, iy = divmod(int(cell), len(self.y_positions))
        x, y = self.grid[self.x_field][ix], self.grid[self.y_field][iy]
        where = f"{html.escape(self.y_field)} {html.escape(_value_words(self.y_field, y))}"
        if self.crowding_axis and self.x_field == "depth_1pct":
            head = (f"n/D {number(self.x_positions[ix], 2)} (1% depth "
                    f"{html.escape(say.money(x))}), {where}")
        else:
            head = (f"{html.escape(self.x_field)} "
                    f"{html.escape(_value_words(self.x_field, x))}, {where}")
        rows = self._cell_rows.get(int(cell))
        if not rows:
            return f"<b>{head}</b><br>not swept yet"
        r, c = self._place(cell)

        def mean(m):
            return self._sums[m][r, c] / self._counts[r, c] if m in self._sums else float(
                np.mean([row[m] for row in rows]))

        ends = sorted({str(row.get("end_reason")).replace("_", " ") for row in rows})
        seeds = f" (mean of {len(rows)} seeds)" if len(rows) > 1 else ""
        amp = _measure_words("amplification", mean("amplification"))
        return (f"<b>{head}</b><br>amplification <b>{amp}</b> · "
                f"fall {_measure_words('fall', mean('fall'))} · "
                f"{_measure_words('rounds', mean('rounds'))} rounds · "
                f"{_measure_words('liquidated', np.mean([row['liquidated'] for row in rows]))} "
                f"positions liquidated · bad debt {_measure_words('bad_debt', mean('bad_debt'))}"
                f" · ended: {html.escape(', '.join(ends))}{seeds}")

    def _hovered(self, _mark, content) -> None:
        point = content.get("point") or content.get("data") or {}
        if "rowNum" not in point or "columnNum" not in point:
            return
        cell = self._cell_at(int(point["rowNum"]), int(point["columnNum"]))
        self.hover_text.value = (f"<div style='font-size:13px;line-height:1.5'>"
                                 f"{self._cell_words(cell)}</div>")

    def _update_story(self) -> None:
        self.story.value = f"<div style='line-height:1.5'>{self._story()}</div>"

    def _story(self) -> str:
        """What the map shows, computed from the amplification of the cells swept."""
        amp = self.values("amplification")
        swept = np.isfinite(amp)
        if not swept.any():
            guess = (" Predict first: where will the cells turn bright? The dashed line is the "
                     "closed form's n/D = 1." if self.boundary is not None else "")
            return f"Nothing swept yet.{guess}"
        xs = self.x_positions[self._xorder]
        ys = [self.grid[self.y_field][i] for i in self._yorder]
        runs = amp >= RUNAWAY
        full = swept.all(axis=0)
        every = full & runs.all(axis=0)
        none = full & ~runs.any(axis=0)
        xw = self.x_short

        def span(mask):
            vals = xs[mask]
            if self.crowding_axis:
                lo, hi = number(vals.min(), 2), number(vals.max(), 2)
            else:
                words = [_value_words(self.x_field, self.grid[self.x_field][int(i)])
                         for i in self._xorder[mask]]
                if not self._x_numeric:   # values with no order between them: each named
                    return f"{xw} {', '.join(words)}"
                lo, hi = words[0], words[-1]
            return f"{xw} {lo}" if lo == hi else f"{xw} {lo} to {hi}"

        parts = [f"{number(int(runs.sum()), 0)} of {number(int(swept.sum()), 0)} markets swept "
                 f"run away (amplification {number(RUNAWAY, 0)} or more: the closed form's value "
                 f"at n/D = 0.8)."]
        if every.any():
            parts.append(f"At {span(every)} every {html.escape(self.y_field)} runs away.")
        if none.any():
            top = np.nanmax(amp[:, none])
            parts.append(f"At {span(none)} none does (at most {number(top, 1)}×).")
        onsets = {}
        for label, r in (("smallest", 0), ("largest", len(ys) - 1)):
            row = runs[r] & swept[r]
            if swept[r].all() and len(ys) > 1:
                what = (f"a {html.escape(_value_words(self.y_field, ys[r]))} "
                        f"{html.escape(self.y_field)} (the {label})")
                parts.append(f"With {what} the loop runs away at {span(row)}." if row.any()
                             else f"With {what} it never does.")
                onsets[label] = xs[row].min() if row.any() else np.inf
        if self.crowding_axis and len(onsets) == 2 and onsets["largest"] > onsets["smallest"]:
            parts.append(f"The bigger the {html.escape(self.y_field)}, the more crowding it "
                         f"takes to multiply it {number(RUNAWAY, 0)} times: the crowd of "
                         f"positions it can set off is finite.")
        if self.boundary is not None:
            parts.append("The closed form for a flat book puts the boundary at n/D = 1 (dashed).")
        parts.append(self._x_note)
        return " ".join(p for p in parts if p)

    # ----------------------------------------------------------------- opening a cell
    def _clicked(self, _mark, content) -> None:
        data = content.get("data") or {}
        if "rowNum" not in data or "columnNum" not in data:
            return
        self.open_market(self._cell_at(int(data["rowNum"]), int(data["columnNum"])))

    def open_market(self, cell: int) -> None:
        """Open grid cell ``cell``'s market (its first seed) in :attr:`explorer`, beside the
        map, and mark the cell on the map."""
        ncells = len(self.x_positions) * len(self.y_positions)
        if isinstance(cell, bool) or not isinstance(cell, numbers.Integral) \
                or not 0 <= cell < ncells:
            raise ValueError(f"cell must be a whole number in [0, {ncells - 1}], got {cell!r}")
        ix, iy = divmod(int(cell), len(self.y_positions))
        changes = {self.x_field: self.grid[self.x_field][ix],
                   self.y_field: self.grid[self.y_field][iy]}
        if hasattr(self.scenario, "seed"):  # the sweep's first seed (seeds=k: the scenario's)
            changes["seed"] = (self.scenario.seed if isinstance(self.seeds, numbers.Integral)
                               else int(list(self.seeds)[0]))
        scenario = dataclasses.replace(self.scenario, **changes)
        if not isinstance(scenario, Scenario):
            self.report(f"This market ({type(scenario).__name__}) cannot open in the explorer, "
                        "which runs a Scenario; its values are in the hover text.")
            return
        if self.explorer is None:
            self.explorer = CascadeExplorer(scenario)
            # shown before the explorer goes in: its charts then draw at their size, not at 0
            self.explorer_box.layout.display = None
            self.explorer_box.children = (self.opened, self.explorer)
        else:
            self.explorer.set_scenario(scenario)
        self.opened_cell = int(cell)
        self.pick_x.value, self.pick_y.value = ix, iy
        r, c = self._place(cell)
        x0, x1 = float(self._xedges[c]), float(self._xedges[c + 1])
        y0, y1 = float(self._yedges[r]), float(self._yedges[r + 1])
        with self.outline.hold_sync():
            self.outline.x, self.outline.y = [x0, x1, x1, x0, x0], [y0, y0, y1, y1, y0]
            self.outline.visible = True
        self.opened.value = (f"<div role='status' style='margin:4px 0'>In the explorer: the cell "
                             f"outlined in vermilion, {self._cell_words(cell)}</div>")
        self.explorer_box.layout.display = None
