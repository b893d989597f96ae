"""A knob: a slider and a labelled number box kept equal, that refuses what is not a finite
number, rounds a value typed or dragged to its step and says when it clamped one
(:class:`Knob`); the traits and widgets it is made of; the knobs' number words."""

from __future__ import annotations

import decimal
import html
import math
import numbers
import re

import ipywidgets as widgets
import traitlets

from ..numbers import number
from .reports import guarded

__all__ = ["ClampNote", "Knob", "LABEL_WIDTH", "link_pair", "RealFloatLogSlider", "RealFloatSlider",
           "RealFloatText", "RealIntSlider", "RealIntText", "clamp_sentence", "clean",
           "finite_real", "format_value", "max_mmr_pct", "on_step", "quote_value"]

#: Width of a knob's label column (the seed's row lines up with it).
LABEL_WIDTH = "165px"


def max_mmr_pct(mix) -> float:
    """Largest maintenance rate (in %, on a 0.05 grid) that every leverage in ``mix`` allows.

    >>> max_mmr_pct(((100, 1.0),)), max_mmr_pct(((50, 1.0),))  # not 0.9500000000000001
    (0.95, 1.9)
    """
    top = max(lev for lev, _ in mix)
    return round(math.floor(min(5.0, 100.0 / top * 0.95) / 0.05 + 1e-9) * 0.05, 2)


def clean(x: float) -> float:
    """``x`` without the binary noise of a unit conversion (12 significant digits kept).

    >>> clean(7 * 0.01), clean(100 * (1 + 0.15))
    (0.07, 115.0)
    """
    return float(f"{x:.12g}")



def format_value(x) -> str:
    """A knob's value as the narration reads it: at most 4 significant digits after the
    point, thousands separators, never scientific notation (12,345 not 1.234e+04)."""
    return number(x, 4, sig=4, trim=True)


def finite_real(value) -> bool:
    """A finite real number: bools, strings, None, NaN and infinities are not."""
    return (isinstance(value, numbers.Real) and not isinstance(value, bool)
            and type(value).__name__ != "bool_" and math.isfinite(value))


def _refused(trait, obj, value):
    """Keep ``obj``'s current value of ``trait`` and tell its refusal listeners."""
    if not obj.trait_has_value(trait.name):  # at construction: nothing to keep
        raise traitlets.TraitError(f"value must be a finite number, got {value!r:.40}")
    old = getattr(obj, trait.name)
    for callback in getattr(obj, "refusal_callbacks", ()):
        callback(value, old)
    return old


class _RealFloat(traitlets.CFloat):
    """A float trait that refuses what is not a finite real number, keeping the old value."""

    def validate(self, obj, value):
        if not finite_real(value):
            return _refused(self, obj, value)
        return super().validate(obj, value)


class _RealInt(traitlets.CInt):
    """An int trait that refuses what is not a finite real number, keeping the old value."""

    def validate(self, obj, value):
        if not finite_real(value):
            return _refused(self, obj, value)
        return super().validate(obj, int(round(value)))


def _decimals(step) -> int:
    """How many digits after the point a multiple of ``step`` needs (0.05: 2, 100: 0)."""
    return max(0, -decimal.Decimal(f"{step:.12g}").normalize().as_tuple().exponent)


def on_step(x, step):
    """``x`` rounded to the nearest multiple of ``step``, without binary noise.

    ``round(x / step) * step`` alone gives ``19 * 0.05 = 0.9500000000000001``; the result is
    rounded again to the step's own decimals, so that it prints as a person would write it.

    >>> on_step(0.96, 0.05), on_step(114.99999999999999, 0.1), on_step(1234, 100)
    (0.95, 115.0, 1200)
    """
    value = round(round(x / step) * step, _decimals(step))
    return int(value) if isinstance(step, int) and isinstance(x, int) else value


class _Settles:
    """What every slider and number box of a knob does with a value (a mixin).

    A value that comes from the browser (typed in a box, dragged on a slider) is rounded to
    the knob's step ``grid`` (None: not rounded), then clamped into the range, and each of
    ``typed_callbacks`` is called with ``(value, bound)``: ``bound`` is the end of the range
    the value was clamped to, or None when it was in range. A value set from code keeps its
    digits (a scenario's 3.33% shock stays 3.33, not the step's 3.5: the controls show the
    scenario that runs) but loses its binary noise (12 significant digits). What the kernel
    keeps is sent back to the browser even when it equals the old value (99 typed at 90):
    ipywidgets' ``set_state`` sends a value that differs from the one received
    (``Widget._should_send_property``), a test checks it.

    Such a value settled back to the one the widget had is no change, and observers are not
    told of it. (``set_state`` sets the value inside ``hold_trait_notifications``, which
    validates it only when the hold ends and then reports the held change with its settled
    value: "-5" typed into a box at 0 would be reported as a change from 0 to 0.)
    """

    grid = None
    typed_callbacks = ()
    _from_browser = False

    def set_state(self, sync_data):
        self._from_browser = True
        try:
            super().set_state(sync_data)
        finally:
            self._from_browser = False

    def _notify_observers(self, event):
        # Reached after Widget.notify_change has sent the settled value to the browser: only
        # the observers are spared a change from a value to itself.
        if event.get("type") == "change" and event.get("name") == "value" and (
                event.get("old") == event.get("new")):
            return
        super()._notify_observers(event)

    def _bounds(self) -> tuple:
        return self.min, self.max

    def _tidy(self, value):
        return clean(value)

    def _settle(self, value):
        sent = value
        if self._from_browser and self.grid:
            value = on_step(value, self.grid)
        lo, hi = self._bounds()
        bound = lo if value < lo else hi if value > hi else None
        if self._from_browser:  # told what the student typed, not its rounding
            for callback in self.typed_callbacks:
                callback(sent, bound)
        return self._tidy(value if bound is None else bound)


# A knob's slider and number box: a value that is not a finite number (NaN, an infinity, a
# bool, a string: typed, sent by a browser or set from code) is refused and the old value kept;
# a finite one is settled by _Settles (rounded to the step if typed, clamped into the range).
class RealFloatSlider(_Settles, widgets.FloatSlider):
    value = _RealFloat(0.0, help="Float value").tag(sync=True)

    @traitlets.validate("value")
    def _validate_value(self, proposal):
        return self._settle(proposal["value"])


class RealFloatLogSlider(_Settles, widgets.FloatLogSlider):
    value = _RealFloat(1.0, help="Float value").tag(sync=True)

    def _bounds(self) -> tuple:
        return clean(self.base ** self.min), clean(self.base ** self.max)

    @traitlets.validate("value")
    def _validate_value(self, proposal):
        return self._settle(proposal["value"])


class RealIntSlider(_Settles, widgets.IntSlider):
    value = _RealInt(0, help="Int value").tag(sync=True)

    def _tidy(self, value):
        return int(value)

    @traitlets.validate("value")
    def _validate_value(self, proposal):
        return self._settle(proposal["value"])


# The number boxes are Bounded* in Python but drawn by the browser as plain FloatText/IntText:
# a BoundedFloatText's view clamps a typed value itself before sending it (ipywidgets 8,
# FloatTextView.handleChanged: Math.min(max, value) whenever the model has a max), so the
# kernel would never see the 99 that became 90 and could not say so. Here min and max stay in
# the kernel (not synced), which clamps and tells ``typed_callbacks``.
class RealFloatText(_Settles, widgets.BoundedFloatText):
    _model_name = traitlets.Unicode("FloatTextModel").tag(sync=True)
    value = _RealFloat(0.0, help="Float value").tag(sync=True)
    min = traitlets.CFloat(0.0, help="Least value (kept in the kernel, which clamps)")
    max = traitlets.CFloat(100.0, help="Largest value (kept in the kernel, which clamps)")

    @traitlets.validate("value")
    def _validate_value(self, proposal):
        return self._settle(proposal["value"])


class RealIntText(_Settles, widgets.BoundedIntText):
    _model_name = traitlets.Unicode("IntTextModel").tag(sync=True)
    value = _RealInt(0, help="Int value").tag(sync=True)
    min = traitlets.CInt(0, help="Least value (kept in the kernel, which clamps)")
    max = traitlets.CInt(100, help="Largest value (kept in the kernel, which clamps)")

    def _tidy(self, value):
        return int(value)

    @traitlets.validate("value")
    def _validate_value(self, proposal):
        return self._settle(proposal["value"])


def clamp_sentence(typed, bound, hi) -> str:
    """What a knob's row says when a typed value was clamped: "90 is the most: 99 was set
    to 90" (``hi``: ``bound`` is the top of the range)."""
    return (f"{format_value(bound)} is the {'most' if hi else 'least'}: "
            f"{format_value(typed)} was set to {format_value(bound)}")


def quote_value(value) -> str:
    """A refused value as the refusal sentence quotes it."""
    text = repr(value) if not isinstance(value, float) else str(value)
    return text if len(text) <= 40 else text[:37] + "..."



class ClampNote:
    """The short message beside a number box that says a typed value was clamped ("90 is the
    most: 99 was set to 90"); ``widget`` (an HTML, hidden while empty) goes in the box's row.

    A good value typed, or any later change of ``watched`` (the box, or the slider linked to
    it), clears it.
    """

    def __init__(self, box, watched=None):
        # On a line of its own under the row (the row wraps; min-width 100% takes the row's
        # whole width) and adding no width of its own to the column (width 0: a percentage
        # min-width counts as 0 when the browser sizes the column to its content). Shown, it
        # must not widen the column of knobs, or the controls' second column drops below the
        # first (seen in JupyterLab with the note beside the box, 104 px wide: the course walk).
        self.widget = widgets.HTML(layout={"display": "none", "margin": "0 0 4px 0",
                                           "flex": "0 0 auto", "width": "0",
                                           "min_width": "100%"})
        self._clamped_to = None
        box.typed_callbacks = [self._typed]
        (watched or box).observe(guarded(self._moved, self._say), names="value")

    @property
    def text(self) -> str:
        """The message as plain text ("" when there is none)."""
        return html.unescape(re.sub(r"<[^>]+>", "", self.widget.value))

    def _typed(self, value, bound) -> None:
        if bound is None:
            self._say("")
            return
        self._clamped_to = bound
        self._say(clamp_sentence(value, bound, value > bound))

    def _moved(self, change) -> None:
        # the change a clamp itself makes keeps its message; any later change clears it
        keep = self._clamped_to is not None and change.new == self._clamped_to
        self._clamped_to = None
        if not keep:
            self._say("")

    def _say(self, sentence: str) -> None:
        self.widget.value = (f"<div role='status' style='color:#a04000;font-size:12px;"
                             f"line-height:1.25;white-space:normal'>{html.escape(sentence)}"
                             f"</div>" if sentence else "")
        self.widget.layout.display = None if sentence else "none"


def link_pair(slider, box) -> tuple:
    """Keep ``slider`` and its number ``box`` equal: in the browser at once (``jslink``: a
    drag or a typed number shows in the other without a round trip to the kernel), and in the
    kernel (``link``), which rounds, clamps and refuses values (:class:`_Settles`) and which
    code and tests read. What the kernel settles on is sent back to both.

    Returns the two links ``(jslink, link)``.
    """
    return (widgets.jslink((slider, "value"), (box, "value")),
            widgets.link((slider, "value"), (box, "value")))


class Knob(widgets.HBox):
    """A slider with a labelled number box beside it, kept equal by :func:`link_pair`.

    ``value`` is the slider's value, a trait: ``knob.observe(callback, names="value")`` is
    told each change, and ``traitlets.link`` can tie it to another widget. Typing in the box
    moves the slider and vice versa. A
    value that is not a finite number (NaN, an infinity, a bool, a string), typed, sent or set
    from code on the slider, the box or ``value``, is refused: the knob keeps its value and
    calls each ``on_refuse`` callback with a sentence saying so.

    A value typed or dragged is rounded to ``step`` (so the box never shows binary noise such
    as 0.9500000000000001); a typed value outside the range is clamped into it and the row
    says so in ``note`` ("90 is the most: 99 was set to 90") until the next change. A value
    set from code keeps its digits, clamped into the range (see :class:`_Settles`).
    """

    value = traitlets.Any(help="The knob's value: the slider's, which the box shows")

    def __init__(self, label, tooltip, *, lo, hi, step, value, integer=False, log=False,
                 label_width=LABEL_WIDTH):
        common = dict(continuous_update=False, tooltip=tooltip)
        self.log_scale = log
        self.step = step
        self.label_widget = label_w = widgets.Label(label, tooltip=tooltip,
                                                    layout={"width": label_width})
        lo, hi = clean(lo), clean(hi)
        if log:
            self.slider = RealFloatLogSlider(value=value, base=10, min=math.log10(lo),
                                             max=math.log10(hi), step=0.05, readout=False,
                                             description=label, **common)
        elif integer:
            self.slider = RealIntSlider(value=value, min=lo, max=hi, step=step,
                                        readout=False, description=label, **common)
        else:
            self.slider = RealFloatSlider(value=value, min=lo, max=hi, step=step,
                                          readout=False, description=label, **common)
        self.slider.style.description_width = "0px"  # the visible label is label_w
        self.slider.layout.width = "150px"
        box_cls = RealIntText if integer else RealFloatText
        self.box = box_cls(value=value, min=lo, max=hi, step=step, description=label,
                           layout={"width": "80px"}, **common)
        self.box.style.description_width = "0px"
        self.slider.grid = self.box.grid = step
        # The clamp message, in the knob's row; a live region, so a screen reader says it.
        self._clamp_note = ClampNote(self.box, self.slider)
        self.note = self._clamp_note.widget
        self._refuse_callbacks = []
        self.slider.refusal_callbacks = self.box.refusal_callbacks = [self._refused]
        #: The slider and the box kept equal: ``(jslink, link)`` (see :func:`link_pair`).
        self.links = link_pair(self.slider, self.box)
        super().__init__([label_w, self.slider, self.box, self.note],
                         layout={"align_items": "center", "flex_flow": "row wrap"})
        self.label = label
        self.slider.observe(self._slider_moved, names="value")

    @traitlets.default("value")
    def _slider_value(self):
        return self.slider.value

    @traitlets.validate("value")
    def _settle_value(self, proposal):
        """A value set on the knob is set on the slider, which refuses, clamps or keeps it:
        the knob's value is what the slider then holds."""
        self.slider.value = proposal["value"]
        return self.slider.value

    def _slider_moved(self, change) -> None:
        self.value = change.new

    @property
    def note_text(self) -> str:
        """The row's clamp message as plain text ("" when there is none)."""
        return self._clamp_note.text

    def on_refuse(self, callback) -> None:
        """Call ``callback(sentence)`` when the knob refuses a value that is not a number."""
        self._refuse_callbacks.append(callback)

    def _refused(self, value, old) -> None:
        sentence = (f"{self.label}: {quote_value(value)} is not a number this knob can take, "
                    f"so it stays at {format_value(old)}.")
        for callback in self._refuse_callbacks:
            callback(sentence)

    @property
    def range(self) -> tuple:
        """The (lo, hi) the knob allows now, in shown units."""
        return self.box.min, self.box.max

    def set_range(self, lo, hi):
        """Allow [lo, hi]; a value outside is clamped into it."""
        lo, hi = clean(lo), clean(hi)
        bounds = {self.box: (lo, hi),
                  self.slider: (math.log10(lo), math.log10(hi)) if self.log_scale else (lo, hi)}
        for w, (a, b) in bounds.items():  # widen to the union first: min never passes max
            w.max = max(w.max, b)
            w.min = min(w.min, a)
            w.min, w.max = a, b

    def set_disabled(self, disabled: bool) -> None:
        self.slider.disabled = self.box.disabled = disabled
