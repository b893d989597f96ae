"""The chart kit every marginloops chart is built with: axes, a figure, a key under it, round
tick values, axis fits (the rounds axis written once, :func:`fit_rounds`), the base class
:class:`Chart` with projector mode, the stylesheet and the scrolling narration log.

Public names only: a chart module imports what it needs from here.
"""

from __future__ import annotations

import html

import bqplot as bq
import ipywidgets as widgets
import numpy as np

from . import style

__all__ = ["Chart", "axis_x", "axis_y", "caption", "caption_html", "copy_value", "figure",
           "fit", "fit_rounds", "nice_ticks", "projector_changes", "px", "round_ticks",
           "rounds_span", "same_value", "scrolling_log", "set_changed", "set_traits",
           "stylesheet"]


def axis_x(scale, label, fmt=None) -> bq.Axis:
    """A chart's x axis on ``scale``, labelled ``label``, ticks formatted by ``fmt`` (d3)."""
    return bq.Axis(scale=scale, label=label, tick_format=fmt, grid_lines="none",
                   label_offset="35px")


def axis_y(scale, label, fmt=".3s", side="left") -> bq.Axis:
    """A chart's y axis on ``scale``; on the left with dashed grid lines, on the right without."""
    return bq.Axis(scale=scale, label=label, tick_format=fmt, side=side,
                   grid_lines="dashed" if side == "left" else "none",
                   label_offset="55px" if side == "left" else "50px")


def figure(title, marks, axes) -> bq.Figure:
    """A chart's figure: no animation, the explorers' margins and size (:mod:`.style`)."""
    return bq.Figure(title=title, marks=marks, axes=axes, animation_duration=0,
                     fig_margin=dict(style.FIG_MARGIN), layout=dict(style.FIG_LAYOUT),
                     title_style={"font-size": "16px"})


def caption_html(*items) -> str:
    """The HTML of a chart's key: (colour, symbol, words) items."""
    keys = " &nbsp;·&nbsp; ".join(
        f"<span style='color:{colour};font-weight:bold' aria-hidden='true'>{symbol}</span> "
        f"{words}" for colour, symbol, words in items)
    return f"<div style='font-size:13px;line-height:1.5'>{keys}</div>"


def caption(*items) -> widgets.HTML:
    """A key under a chart: (colour, symbol, words) items; symbols differ, not only colours."""
    return widgets.HTML(caption_html(*items), layout={"margin": "0 0 0 60px"})


def copy_value(value):
    """A copy of a trait value that later changes cannot reach (dicts and lists)."""
    if isinstance(value, dict):
        return dict(value)
    if isinstance(value, list):
        return list(value)
    return value


def nice_ticks(lo: float, hi: float, target: int = 8) -> np.ndarray:
    """About ``target`` round tick values (steps of 1, 2 or 5 times a power of ten) in [lo, hi]."""
    span = hi - lo
    if not span > 0:
        return np.array([lo])
    raw = span / target
    power = 10.0 ** np.floor(np.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    first = np.ceil(lo / step) * step
    ticks = np.arange(first, hi + step * 1e-9, step)
    return np.round(ticks, 10)


def fit(axis: bq.Axis, lo: float, hi: float, ticks=None) -> None:
    """Fix ``axis``'s scale to [lo, hi] with round tick values (no jumping, no odd labels).

    The scale's two changes go in one message (``hold_sync``), the axis's ticks in another.
    """
    set_traits(axis.scale, min=float(lo), max=float(hi))
    axis.tick_values = nice_ticks(lo, hi) if ticks is None else np.asarray(ticks, float)


def round_ticks(rounds: int) -> np.ndarray:
    """Tick values of a rounds axis showing rounds 0 to ``rounds``: every round up to 12, else
    about ten ticks.

    >>> round_ticks(5).tolist(), round_ticks(40).tolist()[:3]
    ([0, 1, 2, 3, 4, 5], [0, 4, 8])
    """
    return np.arange(0, rounds + 1, 1 if rounds <= 12 else max(1, round(rounds / 10)))


def set_traits(widget, **values) -> None:
    """Set several traits of one ``widget``, sent to the browser in one message
    (``hold_sync`` batches the changes of the widget it is called on, and only those)."""
    with widget.hold_sync():
        for name, value in values.items():
            setattr(widget, name, value)


def same_value(old, new) -> bool:
    """Whether trait value ``new`` equals ``old`` as the browser would draw it: numbers and
    arrays (a list of arrays as a 2-d array) compared by value, NaN equal to NaN.

    bqplot's array traits (traittypes ``Array``) already skip an assignment ``np.array_equal``
    to the old value, but count NaN unequal to NaN, and a trait set to a list is compared
    only after conversion; this compares first, for any trait (:func:`set_changed`).
    """
    if old is None or new is None:
        return old is new
    try:
        a, b = np.asarray(old), np.asarray(new)
    except (ValueError, TypeError):
        return False
    if a.shape != b.shape:
        return False
    if a.dtype.kind in "fc" or b.dtype.kind in "fc":
        try:
            return bool(np.array_equal(a.astype(float), b.astype(float), equal_nan=True))
        except (ValueError, TypeError):
            return False
    try:
        return bool(np.array_equal(a, b))
    except (ValueError, TypeError):
        return False


def set_changed(widget, **values) -> tuple[str, ...]:
    """Set the traits of ``widget`` whose new value differs from the one it has
    (:func:`same_value`), in one message; unchanged ones are not re-sent. Returns the names
    set (none: nothing is sent and the browser redraws nothing)."""
    changed = {name: value for name, value in values.items()
               if not same_value(getattr(widget, name), value)}
    if changed:
        set_traits(widget, **changed)
    return tuple(changed)


def rounds_span(rounds: int) -> tuple[float, float]:
    """The x range of a rounds axis showing rounds 0 to ``rounds``: half a round each side."""
    return -0.5, rounds + 0.5


def fit_rounds(axis: bq.Axis, rounds: int) -> None:
    """Fix a rounds axis to rounds 0 to ``rounds`` (:func:`rounds_span`, :func:`round_ticks`)."""
    fit(axis, *rounds_span(rounds), round_ticks(rounds))


def px(value, add) -> str:
    """A CSS length in px (``"35px"``) lengthened by ``add`` px."""
    return f"{float(str(value).removesuffix('px')) + add:g}px"


def projector_changes(figure: bq.Figure) -> list[tuple[object, str, object]]:
    """What projector mode changes in ``figure``: ``(widget, trait, new value)`` triples.

    Lines get thicker and their markers bigger, scatter markers bigger, outlines wider, the
    palette's light colours darker in lines, outlines and fills
    (:data:`style.PROJECTOR_COLOURS`); axes, tick labels and the title get bigger and black,
    with the margins to hold them.
    """
    out = []
    for mark in figure.marks:
        if isinstance(mark, bq.Lines):
            out.append((mark, "stroke_width", mark.stroke_width * style.PROJECTOR_LINE_SCALE))
            out.append((mark, "marker_size", mark.marker_size * style.PROJECTOR_MARKER_SCALE))
        elif isinstance(mark, bq.Scatter):
            out.append((mark, "default_size", mark.default_size * style.PROJECTOR_MARKER_SCALE))
            out.append((mark, "stroke_width", mark.stroke_width + style.PROJECTOR_OUTLINE_ADD))
        elif isinstance(mark, bq.Bars):
            out.append((mark, "stroke_width", mark.stroke_width + style.PROJECTOR_OUTLINE_ADD))
        for trait in ("colors", "fill_colors"):
            given = list(getattr(mark, trait, None) or ())
            colours = [style.projector_colour(c) for c in given]
            if colours != given:
                out.append((mark, trait, colours))
        if getattr(mark, "stroke", None) and style.projector_colour(mark.stroke) != mark.stroke:
            out.append((mark, "stroke", style.projector_colour(mark.stroke)))
    for axis in figure.axes:
        out.append((axis, "tick_style", {**axis.tick_style, "font-size": style.PROJECTOR_TICK_FONT,
                                         "fill": style.BLACK}))
        out.append((axis, "color", style.BLACK))
        out.append((axis, "label_color", style.BLACK))
        if axis.label_offset:
            out.append((axis, "label_offset",
                        px(axis.label_offset, style.PROJECTOR_LABEL_OFFSET_ADD)))
    out.append((figure, "title_style", {**figure.title_style,
                                        "font-size": style.PROJECTOR_TITLE_FONT,
                                        "fill": style.BLACK}))
    margin = dict(figure.fig_margin)
    out.append((figure, "fig_margin", {side: margin[side] + style.PROJECTOR_MARGIN_ADD.get(side, 0)
                                       for side in margin}))
    out.append((figure.layout, "height", style.PROJECTOR_FIG_HEIGHT))
    return out


class Chart:
    """A figure and the key under it; ``widget`` is what a layout shows.

    ``set_projector(True)`` switches the figure to projector mode (thicker lines, bigger
    markers and fonts, black axes, darker light colours); ``set_projector(False)`` puts back
    exactly what was there before.
    """

    figure: bq.Figure
    caption: widgets.HTML
    #: While projector mode is on: ``(widget, trait, value before)`` for every change it made.
    _normal: list | None = None

    @property
    def projector(self) -> bool:
        """Whether projector mode is on."""
        return self._normal is not None

    def set_projector(self, on: bool) -> None:
        """Projector mode on (bigger and bolder, for a projector or a bright room) or off."""
        if bool(on) == self.projector:
            return
        if on:
            changes = projector_changes(self.figure)
            self._normal = [(obj, name, copy_value(getattr(obj, name)))
                            for obj, name, _ in changes]
        else:
            changes, self._normal = list(reversed(self._normal)), None
        by_widget: dict[int, tuple] = {}  # one message per widget, in the order first changed
        for obj, name, value in changes:
            by_widget.setdefault(id(obj), (obj, {}))[1][name] = value
        for obj, values in by_widget.values():
            set_traits(obj, **values)

    def set_style(self, obj, name, value) -> None:
        """Set a trait that projector mode also changes (a mark's outline width): the normal
        value is ``value``; in projector mode it is shown made over for the projector."""
        on = self.projector
        self.set_projector(False)
        setattr(obj, name, value)
        self.set_projector(on)

    @property
    def widget(self) -> widgets.VBox:
        if getattr(self, "_widget", None) is None:
            # overflow visible: the figure's 2px margins make it 4px wider than 100%, which
            # would make the box a scrollable region that a keyboard cannot reach.
            self._widget = widgets.VBox([self.figure, self.caption],
                                        layout={"min_width": "360px", "overflow": "visible"})
        return self._widget


def stylesheet() -> widgets.HTML:
    """An invisible widget holding the explorers' stylesheet (:data:`style.CSS`): a visible
    keyboard focus ring and projector mode's text, for roots of class :data:`style.ROOT_CLASS`."""
    return widgets.HTML(f"<style>{style.CSS}</style>", layout={"display": "none"})


def scrolling_log(label: str, items: str, height: str) -> str:
    """The HTML of a narration log: a list (``items``, ``<li>`` elements) in a box of fixed
    ``height`` that scrolls; named ``label`` and focusable, so the keyboard can scroll it, and
    announced politely as it grows (``role='log'``)."""
    return (f"<div role='log' aria-live='polite' aria-label='{html.escape(label, quote=True)}' "
            f"tabindex='0' style='height:{height};overflow-y:auto;box-sizing:border-box;"
            f"padding:4px 8px'><ul style='padding-left:18px;margin:4px 0'>{items}</ul></div>")
