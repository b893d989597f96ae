"""Controls: the scenario knobs (each slider paired with a labelled number box), the "Breaking
the loop" panel of mechanisms, and the time control every lesson shares (Step, Play, Reset...).
"""

from __future__ import annotations

import dataclasses
import decimal
import functools
import html
import math
import numbers
import re
from dataclasses import dataclass

import ipywidgets as widgets
import traitlets

from ..cases import CASES
from ..numbers import number, percent
from ..positions import DEFAULT_LEVERAGE_MIX
from ..scenarios import PRESETS, Scenario
from ..tiers import BINANCE_STYLE_TIERS

#: Named leverage mixes offered in the menu: (label, ((leverage, weight), ...)).
LEVERAGE_MIXES = (
    ("cautious: 2x-10x", ((2.0, 0.4), (3.0, 0.3), (5.0, 0.2), (10.0, 0.1))),
    ("mixed: 2x-100x", DEFAULT_LEVERAGE_MIX),
    ("squeezable: 10x-50x", ((10.0, 0.3), (25.0, 0.3), (50.0, 0.4))),
    ("crowded: 10x-100x", ((10.0, 0.3), (25.0, 0.3), (50.0, 0.25), (100.0, 0.15))),
    ("extreme: 50x-100x", ((50.0, 0.6), (100.0, 0.4))),
)
CUSTOM = "custom"
#: What Reset says: it rewinds the run and keeps the knobs.
RESET_MESSAGE = "Reset: back to round 0, before the shock; the knobs stay as they are."
#: The Reset button's colour: Okabe-Ito's vermillion darkened for white text (5.2:1).
RESET_COLOUR = "#B34F00"
_LABEL_WIDTH = "165px"


def max_mmr_pct(mix) -> float:
    """Largest maintenance rate (in %, on a 0.05 grid) that every leverage in ``mix`` allows.

    >>> max_mmr_pct(((100, 1.0),)), max_mmr_pct(((50, 1.0),))  # not 0.9500000000000001
    (0.95, 1.9)
    """
    top = max(lev for lev, _ in mix)
    return round(math.floor(min(5.0, 100.0 / top * 0.95) / 0.05 + 1e-9) * 0.05, 2)


# ------------------------------------------------------------------ callbacks that never raise
def problem_sentence(exc: BaseException) -> str:
    """``exc`` as one plain sentence for the narration: what went wrong, and that the widget
    still works."""
    text = " ".join(str(exc).split()) or f"an unexpected {type(exc).__name__}"
    if len(text) > 300:
        text = text[:297] + "..."
    return f"That could not be done ({text.rstrip('.')}); nothing else changed, try again."


def guarded(handler, report):
    """``handler`` made safe to register as a widget callback (``observe``, ``on_click``,
    ``on_submit``): an exception it raises is not let out (the browser would only log it and
    the widget would stop answering) but shown by ``report(sentence)`` as one plain sentence.

    Every callback in ``marginloops.ui`` is registered through this, so that no widget can be
    left half-updated by an error (a test forces one in each).
    """
    @functools.wraps(handler)
    def run(*args, **kwargs):
        try:
            return handler(*args, **kwargs)
        except Exception as exc:  # noqa: BLE001 - a widget callback must never let one out
            try:
                report(problem_sentence(exc))
            except Exception:  # noqa: BLE001 - the report itself failed: nothing more to do
                pass
            return None
    return run


def message_html(sentence: str) -> str:
    """A widget's own message area showing ``sentence`` (escaped); "" hides it."""
    if not sentence:
        return ""
    return (f"<div role='alert' style='color:#a04000;margin:2px 0'>{html.escape(sentence)}"
            f"</div>")


class StopsOnProblem:
    """For an explorer (a ``time`` :class:`TimeControls` and a ``_log_note(text)`` narration):
    its callbacks report errors in the narration, and an error also stops Play, so that a
    failing step is reported once, not on every tick."""

    def _guard(self, handler):
        """``handler`` as a callback whose errors the narration reports (:func:`guarded`)."""
        return guarded(handler, self._problem)

    def _problem(self, sentence: str) -> None:
        self.time.stop()
        self._log_note(sentence)


class Reports:
    """A widget that reports problems in one plain sentence: to the callbacks registered with
    :meth:`on_problem` (an explorer's narration), or while there are none in its own message
    area ``message`` (an HTML widget the class places in its children)."""

    def _init_reports(self) -> None:
        self._problem_callbacks = []
        # hidden while empty: no blank line in a layout that has nothing to say
        self.message = widgets.HTML(layout={"display": "none", "flex": "1 0 100%"})
        self.message.observe(self.guard(self._show_message), names="value")

    def _show_message(self, change) -> None:
        self.message.layout.display = None if change.new else "none"

    def on_problem(self, callback) -> None:
        """Call ``callback(sentence)`` for each problem instead of showing it in ``message``."""
        self._problem_callbacks.append(callback)

    def report(self, sentence: str) -> None:
        """Show ``sentence`` (a refused value, a callback's error)."""
        if self._problem_callbacks:
            for callback in self._problem_callbacks:
                callback(sentence)
        else:
            self.message.value = message_html(sentence)

    def guard(self, handler):
        """``handler`` as a callback whose errors this widget reports (see :func:`guarded`)."""
        return guarded(handler, self.report)


# ------------------------------------------------------------------ knob values
def _finite_real(value) -> bool:
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
        if not _finite_real(value):
            return _refused(self, obj, value)
        return super().validate(obj, value)


class _RealInt(traitlets.CInt):
    """An int trait that refuses what is not a finite real number, keeping the old value."""

    def validate(self, obj, value):
        if not _finite_real(value):
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

    def _bounds(self) -> tuple:
        return self.min, self.max

    def _tidy(self, value):
        return _clean(value)

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
        return _clean(self.base ** self.min), _clean(self.base ** self.max)

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
    return (f"{_fmt(bound)} is the {'most' if hi else 'least'}: {_fmt(typed)} was set to "
            f"{_fmt(bound)}")


def _shown_value(value) -> str:
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
        # Narrow, its text wrapping onto two lines: shown, it must not widen the column of
        # knobs so much that the controls' second column drops below the first.
        self.widget = widgets.HTML(layout={"display": "none", "margin": "0 0 0 6px",
                                           "width": "104px"})
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


class Knob(widgets.HBox):
    """A slider with a labelled number box beside it, kept equal by ``widgets.link``.

    ``value`` is the slider's value; typing in the box moves the slider and vice versa. A
    value that is not a finite number (NaN, an infinity, a bool, a string), typed, sent or set
    from code on the slider, the box or ``value``, is refused: the knob keeps its value and
    calls each ``on_refuse`` callback with a sentence saying so.

    A value typed or dragged is rounded to ``step`` (so the box never shows binary noise such
    as 0.9500000000000001); a typed value outside the range is clamped into it and the row
    says so in ``note`` ("90 is the most: 99 was set to 90") until the next change. A value
    set from code keeps its digits, clamped into the range (see :class:`_Settles`).
    """

    def __init__(self, label, tooltip, *, lo, hi, step, value, integer=False, log=False,
                 label_width=_LABEL_WIDTH):
        common = dict(continuous_update=False, tooltip=tooltip)
        self.log_scale = log
        self.step = step
        self.label_widget = label_w = widgets.Label(label, tooltip=tooltip,
                                                    layout={"width": label_width})
        lo, hi = _clean(lo), _clean(hi)
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
        self._link = widgets.link((self.slider, "value"), (self.box, "value"))
        super().__init__([label_w, self.slider, self.box, self.note],
                         layout={"align_items": "center", "flex_flow": "row wrap"})
        self.label = label

    @property
    def note_text(self) -> str:
        """The row's clamp message as plain text ("" when there is none)."""
        return self._clamp_note.text

    def on_refuse(self, callback) -> None:
        """Call ``callback(sentence)`` when the knob refuses a value that is not a number."""
        self._refuse_callbacks.append(callback)

    def _refused(self, value, old) -> None:
        sentence = (f"{self.label}: {_shown_value(value)} is not a number this knob can take, "
                    f"so it stays at {_fmt(old)}.")
        for callback in self._refuse_callbacks:
            callback(sentence)

    @property
    def value(self):
        return self.slider.value

    @value.setter
    def value(self, v):
        self.slider.value = v

    @property
    def range(self) -> tuple:
        """The (lo, hi) the knob allows now, in shown units."""
        return self.box.min, self.box.max

    def set_range(self, lo, hi):
        """Allow [lo, hi]; a value outside is clamped into it."""
        lo, hi = _clean(lo), _clean(hi)
        bounds = {self.box: (lo, hi),
                  self.slider: (math.log10(lo), math.log10(hi)) if self.log_scale else (lo, hi)}
        for w, (a, b) in bounds.items():  # widen to the union first: min never passes max
            w.max = max(w.max, b)
            w.min = min(w.min, a)
            w.min, w.max = a, b

    def set_disabled(self, disabled: bool) -> None:
        self.slider.disabled = self.box.disabled = disabled


#: What a choice's buttons hold for a field value of None (a selection widget cannot hold None).
OFF = "off"


@dataclass(frozen=True)
class Setting:
    """One control of the "Breaking the loop" panel, bound to one :class:`Scenario` field.

    Parameters
    ----------
    field : the Scenario field it sets
    group : the heading it appears under (see :data:`MECHANISM_COLUMNS`)
    label, tooltip : what the student reads, and the explanation on hover
    kind : "knob" (a :class:`Knob`), "check" (a checkbox for a True/False field), "choice"
        (ToggleButtons), "radio" (RadioButtons, for long option labels) or "menu" (a Dropdown)
        over ``options``, ``((label, value, tooltip), ...)``; a value None is shown as
        :data:`OFF`
    lo, hi, step, integer : the knob's range in shown units; it must only allow valid values
        (a scenario's value outside it widens it)
    per_unit : field value of one shown unit: 0.01 shows a fraction in %, 1e6 USD in M USD
    switch, switch_tooltip : for a field that a checkbox turns on and off: the checkbox's
        label; unticked, the field is ``off`` and the knob is hidden
    off : the field's value while it is off (its switch unticked, or a choice on it)
    default : what the control shows while a switched field is off (a knob's number, a
        choice's option value)
    under : the field this control belongs to: shown only while that field is on (its switch
        ticked, or its choice not ``off``)
    note : ``note(value)`` is a line shown under the control while the field is on
    says, says_off : the change in words for the narration, "{}" is the shown value
        (switched fields; other controls say "label old → new")
    short : the panel title's words while the field differs from its Scenario default
        ("{}" is the shown value); None: never in the title
    """

    field: str
    group: str
    label: str
    tooltip: str
    kind: str = "knob"
    lo: float = 0.0
    hi: float = 1.0
    step: float = 1.0
    per_unit: float = 1.0
    integer: bool = False
    options: tuple = ()
    switch: str | None = None
    switch_tooltip: str = ""
    off: object = None
    default: object = 0.0
    under: str | None = None
    note: object = None
    says: str = ""
    says_off: str = ""
    short: str | None = None

    @property
    def selects(self) -> bool:
        """True for a control that picks one of ``options``."""
        return self.kind in ("choice", "radio", "menu")

    def shown(self, value):
        """The field's value in the units the control shows."""
        if self.selects:
            return OFF if value is None else value
        if self.kind != "knob":
            return value
        return int(value) if self.integer else _clean(value / self.per_unit)

    def value(self, shown):
        """The field's value for what the control shows."""
        if self.selects:
            return None if shown == OFF else shown
        if self.kind != "knob":
            return shown
        return int(shown) if self.integer else _clean(shown * self.per_unit)

    def words(self, shown) -> str:
        """``shown`` as the student reads it: the option's label for a choice."""
        if self.selects:
            return next((o[0] for o in self.options if self.shown(o[1]) == shown),
                        "from the scenario")
        return _fmt(shown) if self.kind == "knob" else ("on" if shown else "off")


def clean(x: float) -> float:
    """``x`` without the binary noise of a unit conversion (12 significant digits kept).

    >>> clean(7 * 0.01), clean(100 * (1 + 0.15))
    (0.07, 115.0)
    """
    return float(f"{x:.12g}")


_clean = clean


def _usd(x: float) -> str:
    """A round amount of USD, short: 50K USD, 2.5M USD, 950 USD."""
    for size, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "K")):
        if abs(x) >= size:
            return f"{number(x / size, 3, sig=4, trim=True)}{suffix} USD"
    return f"{number(x, 2, sig=4, trim=True)} USD"


def describe_tiers(brackets) -> str:
    """Maintenance-margin brackets in words: "0.4% below 50K USD, 0.5% from 50K USD, ..."."""
    out = []
    for i, (floor, rate) in enumerate(brackets):
        where = (f"below {_usd(brackets[1][0])}" if i == 0 and len(brackets) > 1
                 else "at any size" if i == 0 else f"from {_usd(floor)}")
        out.append(f"{percent(rate, 3, trim=True)} {where}")
    return ", ".join(out)


def _tiers_note(brackets) -> str:
    return (f"These replace the flat maintenance margin knob: {describe_tiers(brackets)} of a "
            "position's value; leverage is capped at 1 / (2 × rate).")


#: The "Breaking the loop" panel, one row per Scenario field, in display order. Add a
#: mechanism here (and its group to MECHANISM_COLUMNS): the panel, the reading and writing of
#: scenarios and the narration of changes all follow from this table.
MECHANISMS = (
    Setting("mmr_tiers", "Margin and liquidation", "Maintenance margin",
            "One maintenance rate for every position (the maintenance margin knob above), or "
            "exchange-style brackets: the rate grows with the position's size, and the "
            "brackets replace the flat rate", kind="menu", off=(), short="tiered margin",
            note=_tiers_note,
            options=(("one rate (the maintenance margin knob)", (),
                      "Every position keeps the same share of its value"),
                     ("tiered brackets (Binance style)", BINANCE_STYLE_TIERS.brackets,
                      "Bigger positions keep a larger share of their value: "
                      + describe_tiers(BINANCE_STYLE_TIERS.brackets)))),
    Setting("dynamic_margin", "Margin and liquidation", "Rise (× the move)",
            "Every maintenance rate rises by this many times the price move of the last "
            "rounds: at 2, a 3% move adds 6 percentage points (the margin spiral)",
            lo=0.5, hi=10.0, step=0.5, off=0.0, default=2.0, switch="dynamic margin",
            switch_tooltip="Raise the maintenance margin when the price has moved fast, as "
                           "exchanges and lenders do in a crash: more positions are "
                           "liquidated (Brunnermeier and Pedersen's margin spiral)",
            says="dynamic margin on: maintenance rates rise {}× the recent move",
            says_off="dynamic margin off", short="dynamic margin {}×"),
    Setting("dynamic_window", "Margin and liquidation", "Window (rounds)",
            "Over how many past rounds the move that raises the margin is measured",
            lo=1, hi=10, step=1, integer=True, under="dynamic_margin"),
    Setting("partial", "Margin and liquidation", "Partial liquidation",
            "Close a reached position at once, or reduce it in slices", kind="radio",
            short="partial liquidation: {}",
            options=(("no (close whole positions)", None,
                      "A position the price reaches is closed at once"),
                     ("a fraction per round", "fraction",
                      "Close a slice of each reached position per round, until it is safe "
                      "again or gone"),
                     ("just enough to restore margin", "restore",
                      "Close just enough of each reached position (at least a slice) for "
                      "the rest to meet its maintenance margin again"))),
    Setting("partial_fraction", "Margin and liquidation", "Slice (%)",
            "The share of a reached position closed in one round (a fraction per round), or "
            "the least share closed (just enough)", lo=1.0, hi=100.0, step=1.0, per_unit=0.01,
            under="partial"),
    Setting("insurance_fund", "Who pays for losses", "Insurance fund (M USD)",
            "Money set aside to pay for positions closed beyond their bankruptcy price; what "
            "the fund cannot pay is bad debt", lo=0.0, hi=10.0, step=0.05, per_unit=1e6),
    Setting("liquidation_fee", "Who pays for losses", "Fee (% of the close)",
            "The fee as % of the closed position's value, at most the margin it has left; the "
            "fee goes to the insurance fund, the rest of the margin back to the trader",
            lo=0.0, hi=10.0, step=0.1, per_unit=0.01, default=1.0,
            switch="charge a liquidation fee",
            switch_tooltip="Ticked: liquidated traders pay a fee into the insurance fund and get "
                           "the rest of their margin back. Unticked: all the margin a liquidated "
                           "position has left goes to the fund",
            says="liquidation fee {}% of the close",
            says_off="no liquidation fee: all remaining margin goes to the fund", short="fee {}%"),
    Setting("adl", "Who pays for losses", "auto-deleveraging",
            "When the insurance fund cannot absorb the positions already past their bankruptcy "
            "price, close them at that price against the most profitable, most leveraged "
            "traders on the other side, instead of selling them into the book",
            kind="check", short="auto-deleveraging"),
    Setting("withdrawal", "Market makers", "Quote withdrawal",
            "How hard market makers pull their quotes after a fast move: a move of x% cancels "
            "min(1, withdrawal·x) of the depth within 1% of the price (0: they never pull, "
            "0.2: a 5% move cancels all of it)", lo=0.0, hi=20.0, step=0.05,
            short="quote withdrawal {}"),
    Setting("refill_at", "Market makers", "Refill at",
            "Where market makers put depth back (resilience, and recovery in a pause)",
            kind="choice", short="refill at {}",
            options=(("touch", "touch", "At the best remaining price: the price stays where the "
                                        "last trade left it"),
                     ("old levels", "levels", "At the price levels the orders took, nearest "
                                              "first: the next trades fill higher, so the price "
                                              "can climb back"))),
    Setting("breaker_move", "Halts and auctions", "Halts after a move of (%)",
            "Trading halts when the price moves more than this", lo=0.5, hi=50.0, step=0.5,
            per_unit=0.01, default=2.0, switch="circuit breaker",
            switch_tooltip="Halt trading for a few rounds when the price moves too far: no "
                           "trade and no liquidation while market makers restore depth",
            says="circuit breaker on: halts after a move of {}%", says_off="circuit breaker off",
            short="circuit breaker {}%"),
    Setting("breaker_rounds", "Halts and auctions", "Halt rounds",
            "How many rounds a halt lasts", lo=1, hi=10, step=1, integer=True,
            under="breaker_move"),
    Setting("breaker_reference", "Halts and auctions", "Move measured",
            "Which move trips the breaker", kind="choice", under="breaker_move",
            options=(("within a round", "round", "The move from the start to the end of one "
                                                 "round"),
                     ("from the last start", "start", "The move from the price trading started "
                                                      "or last resumed at"))),
    Setting("call_auction", "Halts and auctions", "call auction",
            "Collect each round's liquidations and clear them in one batch at a single price, "
            "after market makers have restored part of the depth, instead of walking a thin "
            "book", kind="check", short="call auction"),
    Setting("recovery", "Halts and auctions", "Recovery in a pause (%)",
            "Market makers restore during a pause: the share of the depth used up so far that "
            "they put back in each halted round and before each call auction", lo=0.0,
            hi=100.0, step=5.0, per_unit=0.01),
)
#: How the panel lays out the groups of :data:`MECHANISMS`: columns of group names.
MECHANISM_COLUMNS = (("Margin and liquidation", "Who pays for losses"),
                     ("Market makers", "Halts and auctions"))
_MECH_LABEL_WIDTH = "175px"


class ScenarioControls(Reports, widgets.VBox):
    """The knobs a teacher talks about, producing a checked :class:`Scenario`.

    ``scenario`` is the current scenario; ``on_change(callback)`` registers
    ``callback(scenario, what)`` where ``what`` says in words what changed.

    The market knobs are always on screen; a scenario value beyond a knob's usual range widens
    that knob, so the controls always show the scenario that runs. The mechanisms that feed or
    stop a cascade sit in the "Breaking the loop" panel (``mechanisms_panel``, closed at
    first), built from :data:`MECHANISMS`: ``mechanisms[field]`` is a field's control and
    ``switches[field]`` the checkbox of a field a checkbox turns on and off (liquidation fee,
    dynamic margin, circuit breaker).

    The market menu names the market that runs, as :func:`market_name` does: a preset's name
    while it is that preset unchanged, a named market's own name (it gets a menu entry), and
    "custom" after any change. Choosing "custom" keeps the current settings as a custom market.
    A value a knob refuses, settings the scenario refuses (the controls go back to the last
    market that worked) and an error inside a callback are reported in one sentence
    (:meth:`on_problem`, or the ``message`` area under the controls).
    """

    #: Each market knob: (Scenario field, shown units per field unit, usual lo, usual hi).
    #: The maintenance margin's hi is set by the leverage mix (see ``max_mmr_pct``).
    KNOB_FIELDS = {
        "shock": ("shock", 100.0, 0.5, 90.0),
        "long_share": ("long_share", 100.0, 0.0, 100.0),
        "mmr": ("mmr", 100.0, 0.0, None),
        "depth_1pct": ("depth_1pct", 1e-6, 0.05, 50.0),
        "resilience": ("resilience", 100.0, 0.0, 100.0),
        "open_interest": ("open_interest", 1e-6, 1.0, 500.0),
        "n_positions": ("n_positions", 1, 0, 20_000),
    }
    _MMR_LABEL = "Maintenance margin (%)"
    _MMR_TOOLTIP = "Equity a position must keep, as % of its value, before it is liquidated"

    def __init__(self, scenario: Scenario | None = None):
        if scenario is not None and not isinstance(scenario, Scenario):
            raise ValueError(f"scenario must be a Scenario, got {type(scenario).__name__}")
        base = scenario if scenario is not None else PRESETS["crowded-longs"]
        self._init_reports()
        self._base = base
        self._name = market_name(base)
        base = self._good = base.replace(name=self._name) if base.name != self._name else base
        self._named = {}  # named markets (not presets) shown so far: their menu entries
        self._callbacks = []
        self._quiet = False
        self.preset = widgets.Dropdown(
            options=self._menu_options(base), value=self._name,
            description="Market", tooltip="Start from a named market set-up",
            # as wide as a knob's row: a case study's title fits
            style={"description_width": "70px"}, layout={"width": "400px"})
        self.direction = widgets.ToggleButtons(
            options=[("crash (down)", "down"), ("squeeze (up)", "up")], value=base.direction,
            tooltips=["An outside seller pushes the price down: longs are liquidated",
                      "An outside buyer pushes the price up: shorts are liquidated"],
            description="Shock", style={"button_width": "120px", "description_width": "60px"})
        self.book_shape = widgets.ToggleButtons(
            options=[("flat", "flat"), ("growing", "growing")], value=base.book_shape,
            tooltips=["Same size at every price level: impact grows linearly with order size",
                      "More size further from the price: impact grows like a square root"],
            description="Book", style={"button_width": "90px", "description_width": "60px"})
        mixes = list(LEVERAGE_MIXES)
        if base.leverage_mix not in [m for _, m in mixes]:
            mixes.append(("from the scenario", base.leverage_mix))
        self.leverage_mix = widgets.Dropdown(
            options=mixes, value=base.leverage_mix, description="Leverage",
            tooltip="Which leverage traders use, and how many use each",
            style={"description_width": "70px"}, layout={"width": "330px"})

        def knob(name, label, tooltip, **kw):
            lo, hi = self._range_for(name, base)
            return Knob(label, tooltip, lo=lo, hi=hi, value=self._shown(name, base), **kw)

        self.knobs = {
            "shock": knob("shock", "Shock size (%)", "How far the outside order moves the "
                          "price in round 0", step=0.5),
            "long_share": knob("long_share", "Longs (% of traders)",
                               "Share of positions that are long", step=5.0),
            "mmr": knob("mmr", self._MMR_LABEL, self._MMR_TOOLTIP, step=0.05),
            "depth_1pct": knob("depth_1pct", "1% depth (M USD)", "Dollars of resting orders "
                               "within 1% of the price on each side of the book", step=0.01,
                               log=True),
            "resilience": knob("resilience", "Resilience (%)", "Share of the depth each round "
                               "used up that market makers put back", step=5.0),
            "open_interest": knob("open_interest", "Open interest (M USD)", "Total value of "
                                  "the leveraged positions", step=1.0, log=True),
            "n_positions": knob("n_positions", "Positions", "Number of leveraged traders",
                                step=100, integer=True),
        }
        # The seed's row lines up with the knobs' rows: its label in the labels' column (not
        # a right-aligned description), its box under the sliders and number boxes.
        seed_tip = "Same seed, same traders: change it to draw another population"
        self.seed = RealIntText(
            value=base.seed, min=0, max=2**32 - 1, step=1, description="Seed",
            tooltip=seed_tip, style={"description_width": "0px"}, layout={"width": "234px"})
        self.seed_note = ClampNote(self.seed)
        self.seed_row = widgets.HBox(
            [widgets.Label("Seed", tooltip=seed_tip, layout={"width": _LABEL_WIDTH}),
             self.seed, self.seed_note.widget], layout={"align_items": "center"})
        self.mechanisms_panel = self._build_mechanisms(base)
        for w in (self.direction, self.book_shape, self.leverage_mix, self.seed,
                  *(k.slider for k in self.knobs.values()), *self.switches.values(),
                  *(self._value_widget(f) for f in self.mechanisms)):
            w.observe(self.guard(self._changed), names="value")
        self.preset.observe(self.guard(self._preset_changed), names="value")
        self.seed.refusal_callbacks = [lambda value, old: self.report(
            f"Seed: {_shown_value(value)} is not a whole number the seed can take, so it "
            f"stays at {old}.")]
        for knob in [*self.knobs.values(), *self.mechanisms.values()]:
            if isinstance(knob, Knob):
                knob.on_refuse(self.report)
        self.mechanisms_panel.on_problem(self.report)
        k = self.knobs
        left = widgets.VBox([self.preset, self.direction, k["shock"], self.leverage_mix,
                             k["mmr"], k["long_share"]])
        right = widgets.VBox([self.book_shape, k["depth_1pct"], k["resilience"],
                              k["open_interest"], k["n_positions"], self.seed_row])
        super().__init__([widgets.HBox([left, right], layout={"flex_flow": "row wrap",
                                                              "grid_gap": "24px"}),
                          self.mechanisms_panel, self.message])

    # ------------------------------------------------------------------ the market knobs
    def _shown(self, name, scenario: Scenario):
        """``scenario``'s value for knob ``name``, in the knob's units."""
        field, scale, _, _ = self.KNOB_FIELDS[name]
        value = getattr(scenario, field)
        return int(value) if isinstance(scale, int) else _clean(value * scale)

    def _range_for(self, name, scenario: Scenario) -> tuple:
        """The knob's usual range, widened to hold ``scenario``'s value."""
        _, _, lo, hi = self.KNOB_FIELDS[name]
        if hi is None:  # the maintenance margin: as high as every leverage of the mix allows
            hi = max_mmr_pct(scenario.leverage_mix)
        shown = self._shown(name, scenario)
        return min(lo, shown), max(hi, shown)

    def _fit_mmr_to(self, mix) -> None:
        """Limit the maintenance margin knob to what every leverage of ``mix`` allows, keeping
        a higher value that is still valid (one a scenario brought) on the knob."""
        knob = self.knobs["mmr"]
        top = max(lev for lev, _ in mix)
        hi = max_mmr_pct(mix)
        if knob.value > hi and knob.value / 100 * top < 1:
            hi = knob.value
        knob.set_range(0.0, hi)

    # ------------------------------------------------------------- the mechanisms panel
    def _build_mechanisms(self, base: Scenario) -> Disclosure:
        """The "Breaking the loop" panel, built from :data:`MECHANISMS`, closed at first.

        ``mechanisms[field]`` is each field's control (a Knob, Checkbox, ToggleButtons,
        RadioButtons or Dropdown), ``switches[field]`` the checkbox of a switched field.
        """
        self.mechanisms: dict[str, widgets.Widget] = {}
        self.switches: dict[str, widgets.Checkbox] = {}
        self._settings = {m.field: m for m in MECHANISMS}
        self._dependents: dict[str, widgets.VBox] = {}  # field -> rows shown while it is on
        self._notes: dict[str, widgets.HTML] = {}
        parents = {m.under for m in MECHANISMS if m.under}
        groups: dict[str, list] = {}
        for m in MECHANISMS:
            value = getattr(base, m.field)
            shown = m.default if m.switch and value == m.off else m.shown(value)
            if m.kind == "knob":
                control = row = Knob(m.label, m.tooltip, lo=min(m.lo, shown),
                                     hi=max(m.hi, shown), step=m.step, value=shown,
                                     integer=m.integer, label_width=_MECH_LABEL_WIDTH)
            elif m.kind == "check":
                control = row = widgets.Checkbox(value=shown, description=m.label,
                                                 tooltip=m.tooltip, indent=False,
                                                 layout={"width": "auto"})
            else:  # the label beside the choice, as a Knob's is beside its slider
                control = self._selection(m, shown)
                row = widgets.HBox([widgets.Label(m.label, tooltip=m.tooltip,
                                                  layout={"width": _MECH_LABEL_WIDTH}),
                                    control], layout={"align_items": "center"})
            self.mechanisms[m.field] = control
            rows = groups.setdefault(m.group, [])
            if m.switch:
                self.switches[m.field] = widgets.Checkbox(
                    value=value != m.off, description=m.switch, tooltip=m.switch_tooltip,
                    indent=False, layout={"width": "auto"})
                box = widgets.VBox([row], layout={"margin": "0 0 0 20px"})
                self._dependents[m.field] = box
                rows += [self.switches[m.field], box]
            elif m.under:
                self._dependents[m.under].children += (row,)
            else:
                rows.append(row)
                if m.field in parents or m.note:
                    self._dependents[m.field] = box = widgets.VBox(
                        [], layout={"margin": "0 0 0 20px"})
                    rows.append(box)
            if m.note:
                self._notes[m.field] = note = widgets.HTML(
                    layout={"max_width": "400px", "margin": "0 0 4px 0"})
                self._dependents[m.field].children += (note,)
        columns = [widgets.VBox([w for g in names for w in (
            widgets.HTML(f"<b>{g}</b>", layout={"margin": "6px 0 0 0"}), *groups[g])])
            for names in MECHANISM_COLUMNS]
        panel = Disclosure(
            widgets.HBox(columns, layout={"flex_flow": "row wrap", "grid_gap": "24px"}),
            "Breaking the loop",
            tooltip="Show or hide the mechanisms that can break the loop: margin rules, who "
                    "pays for losses, market makers, halts and auctions")
        self._show_dependents()
        self._title(panel)
        return panel

    @staticmethod
    def _selection(m: Setting, shown) -> widgets.Widget:
        """The selection widget of a choice, radio or menu Setting, showing ``shown``."""
        options = [(o[0], m.shown(o[1])) for o in m.options]
        if shown not in [v for _, v in options]:
            options.append(("from the scenario", shown))
        if m.kind == "choice":
            return widgets.ToggleButtons(
                options=options, value=shown, tooltips=[o[2] for o in m.options],
                tooltip=m.tooltip, style={"button_width": "auto"}, layout={"width": "auto"})
        if m.kind == "radio":  # its description would show above the buttons: the row's
            # label says it; the buttons' own labels name each option
            return widgets.RadioButtons(options=options, value=shown, tooltip=m.tooltip,
                                        layout={"width": "auto"})
        return widgets.Dropdown(options=options, value=shown, tooltip=m.tooltip,
                                description=m.label, style={"description_width": "0px"},
                                layout={"width": "290px"})

    def _value_widget(self, field):
        """The widget whose ``value`` holds the field's shown value (a Knob's slider)."""
        control = self.mechanisms[field]
        return control.slider if isinstance(control, Knob) else control

    def _mechanism_values(self) -> dict:
        """The Scenario fields the panel sets, as the panel shows them."""
        out = {}
        for field, m in self._settings.items():
            switch = self.switches.get(field)
            if switch is not None and not switch.value:
                out[field] = m.off
            else:
                out[field] = m.value(self._value_widget(field).value)
        return out

    def _is_on(self, field) -> bool:
        """A switched field's checkbox is ticked, or a choice is not its ``off`` option."""
        if field in self.switches:
            return self.switches[field].value
        m = self._settings[field]
        return m.value(self._value_widget(field).value) != m.off

    def _show_mechanisms(self, scenario: Scenario) -> None:
        """Set the panel to ``scenario``'s values (a knob's range grows to hold an odd one, a
        choice gains a "from the scenario" option)."""
        for field, m in self._settings.items():
            value = getattr(scenario, field)
            control = self.mechanisms[field]
            if field in self.switches:
                self.switches[field].value = value != m.off
                if value == m.off:  # hidden: back to what a fresh panel shows
                    control.set_range(m.lo, m.hi)
                    control.value = m.default
                    continue
            shown = m.shown(value)
            if isinstance(control, Knob):
                control.set_range(min(m.lo, shown), max(m.hi, shown))
                control.value = shown
            elif m.selects:
                options = [(o[0], m.shown(o[1])) for o in m.options]
                if shown not in [v for _, v in options]:
                    options.append(("from the scenario", shown))
                if list(control.options) != options:
                    control.options = options
                control.value = shown
            else:
                control.value = shown
        self._show_dependents()

    def _show_dependents(self) -> None:
        """Show the rows that belong to a mechanism only while it is on; while tiered margin
        is on, the flat maintenance margin knob is greyed out and says why."""
        for field, box in self._dependents.items():
            box.layout.display = None if self._is_on(field) else "none"
        for field, note in self._notes.items():
            m = self._settings[field]
            on = self._is_on(field)
            note.value = (f"<div style='font-size:12px;line-height:1.4'>"
                          f"{html.escape(m.note(self._mechanism_values()[field]))}</div>"
                          if on else "")
        tiered = self._is_on("mmr_tiers")
        mmr = self.knobs["mmr"]
        mmr.set_disabled(tiered)
        mmr.label_widget.value = "Maint. margin: tiered" if tiered else self._MMR_LABEL
        mmr.label_widget.tooltip = (
            "Not used: the tiered brackets chosen in \"Breaking the loop\" set each "
            "position's maintenance margin" if tiered else self._MMR_TOOLTIP)

    def _title(self, panel=None) -> None:
        """The panel's title names the mechanisms that are on, so a closed panel still says."""
        panel = panel or self.mechanisms_panel
        defaults = {f.name: f.default for f in dataclasses.fields(Scenario)}
        values = self._mechanism_values()
        on = [m.short.format(m.words(self._value_widget(m.field).value))
              for m in MECHANISMS if m.short and values[m.field] is not None
              and values[m.field] != defaults[m.field]]
        panel.set_title(0, "Breaking the loop" + (f" (on: {', '.join(on)})" if on else ""))

    # --------------------------------------------------------------------- reading
    @property
    def scenario(self) -> Scenario:
        values = {}
        for name, (field, scale, _, _) in self.KNOB_FIELDS.items():
            shown = self.knobs[name].value
            values[field] = int(shown) if isinstance(scale, int) else _clean(shown / scale)
        return self._base.replace(
            name=self._name,
            direction=self.direction.value, leverage_mix=self.leverage_mix.value,
            book_shape=self.book_shape.value, seed=int(self.seed.value),
            **values, **self._mechanism_values())

    def on_change(self, callback) -> None:
        """Call ``callback(scenario, what)`` after every change of a control."""
        self._callbacks.append(callback)

    # --------------------------------------------------------------------- writing
    def set_scenario(self, scenario: Scenario, what: str | None = None, *,
                     notify: bool = True) -> None:
        """Show ``scenario`` in the controls; callbacks fire once, afterwards (not at all with
        ``notify=False``). ``what`` says in words why (default: "market set to <name>")."""
        if not isinstance(scenario, Scenario):
            raise ValueError(f"scenario must be a Scenario, got {type(scenario).__name__}")
        if what is not None and not isinstance(what, str):
            raise ValueError(f"what must be a string or None, got {type(what).__name__}")
        if not isinstance(notify, bool):
            raise ValueError(f"notify must be True or False, got {notify!r:.40}")
        self._show_scenario(scenario)
        if notify:
            self._fire(what or f"market set to {self._name}")

    def _show_scenario(self, scenario: Scenario) -> None:
        """Set every control to ``scenario`` without telling the callbacks."""
        self._quiet = True
        try:
            self._base = scenario
            self._name = market_name(scenario)
            if scenario.leverage_mix not in [v for _, v in self.leverage_mix.options]:
                self.leverage_mix.options = [*LEVERAGE_MIXES,
                                             ("from the scenario", scenario.leverage_mix)]
            self.leverage_mix.value = scenario.leverage_mix
            self.direction.value = scenario.direction
            self.book_shape.value = scenario.book_shape
            for name, knob in self.knobs.items():
                knob.set_range(*self._range_for(name, scenario))
                knob.value = self._shown(name, scenario)
            self.seed.value = scenario.seed
            self._show_mechanisms(scenario)
            options = self._menu_options(scenario)
            if list(self.preset.options) != options:
                self.preset.options = options
            self.preset.value = self._name
        finally:
            self._quiet = False
        self._title()

    def _menu_options(self, scenario: Scenario) -> list:
        """The market menu: the presets, each named market shown so far, then "custom"."""
        name = market_name(scenario)
        if name not in PRESETS and name != CUSTOM:
            self._named[name] = scenario
        return ([(f"preset: {n}", n) for n in PRESETS]
                + [(market_label(n, m), n) for n, m in self._named.items()]
                + [(CUSTOM, CUSTOM)])

    def _preset_changed(self, change):
        if self._quiet:
            return
        if change.new == CUSTOM:  # keep the current settings, as a market of one's own
            self._name = CUSTOM
            self._fire("market set to custom: your current settings")
        elif change.new in PRESETS:
            self.set_scenario(PRESETS[change.new], f"market set to the preset {change.new}")
        else:
            self.set_scenario(self._named[change.new], f"market set to {change.new}")

    def _changed(self, change):
        if self._quiet:
            return
        what = self._describe(change)
        self._quiet = True
        try:
            if change.owner is self.leverage_mix or (
                    change.owner is self._value_widget("mmr_tiers") and change.new == ()):
                # a flat rate again: it must suit every leverage of the mix
                before = self.knobs["mmr"].value
                self._fit_mmr_to(self.leverage_mix.value)
                if self.knobs["mmr"].value != before:
                    what += (f"; {self._MMR_LABEL} {_fmt(before)} → "
                             f"{_fmt(self.knobs['mmr'].value)}, the most this leverage allows")
            self._name = CUSTOM
            self.preset.value = CUSTOM
        finally:
            self._quiet = False
        self._show_dependents()
        self._title()
        self._fire(what)

    def _describe(self, change) -> str:
        owner = change.owner
        for knob in self.knobs.values():
            if owner is knob.slider:
                return f"{knob.label} {_fmt(change.old)} → {_fmt(change.new)}"
        for field, m in self._settings.items():
            if owner is self.switches.get(field):
                if not change.new:
                    return m.says_off
                return m.says.format(m.words(self._value_widget(field).value))
            if owner is self._value_widget(field):
                if m.kind == "check":
                    return f"{m.label} {'on' if change.new else 'off'}"
                if m.selects:
                    return f"{m.label.lower()}: {m.words(change.old)} → {m.words(change.new)}"
                return f"{m.label} {_fmt(change.old)} → {_fmt(change.new)}"
        if owner is self.leverage_mix:
            names = dict((v, k) for k, v in self.leverage_mix.options)
            return f"leverage mix → {names.get(change.new, 'custom')}"
        old, new = (_fmt(v) if _finite_real(v) else v for v in (change.old, change.new))
        return f"{owner.description.lower()} {old} → {new}"

    def _fire(self, what):
        try:
            scenario = self.scenario
        except ValueError as exc:  # a combination the ranges let through but Scenario refuses
            self._show_scenario(self._good)
            self.report(f"Those settings cannot be used ({' '.join(str(exc).split())}); the "
                        f"controls are back to the market that runs.")
            return
        self._good = scenario
        self.message.value = ""
        for callback in self._callbacks:
            callback(scenario, what)


def market_name(scenario: Scenario) -> str:
    """The one name a market is shown under (menu, narration, ``explorer.scenario.name``).

    A preset's name while it is that preset unchanged; a scenario that carries a preset's name
    but differs from it is "custom"; a scenario with a name of its own (a lesson's market)
    keeps it; an empty name is "custom".
    """
    if scenario.name in PRESETS:
        return scenario.name if PRESETS[scenario.name] == scenario else CUSTOM
    return scenario.name.strip() or CUSTOM


def market_label(name: str, scenario: Scenario) -> str:
    """The market menu's entry for a named market (not a preset): a case study's scenario is
    shown by the case's title ("case: Black Thursday: Bitcoin on BitMEX"), any other
    market as "market: <name>"."""
    case = CASES.get(name)
    if case is not None and case.scenario == scenario:
        return f"case: {case.title}"
    return f"market: {name}"


def _fmt(x) -> str:
    """A knob's value as the narration reads it: at most 4 significant digits after the
    point, thousands separators, never scientific notation (12,345 not 1.234e+04)."""
    return number(x, 4, sig=4, trim=True)


class Disclosure(Reports, widgets.VBox):
    """A titled panel that its title button opens and closes.

    The keyboard-operable stand-in for a one-page ``widgets.Accordion`` (ipywidgets 8 draws an
    Accordion's title as a ``div`` that Tab never reaches, so its contents were out of a
    keyboard user's reach); it keeps the part of the Accordion API the controls use:
    ``titles``, ``set_title(0, text)`` and ``selected_index`` (None closed, 0 open).
    """

    selected_index = traitlets.Int(None, allow_none=True, help="0 open, None closed")

    def __init__(self, child: widgets.Widget, title: str, *, tooltip: str = "",
                 open: bool = False):
        self.header = widgets.Button(description=title, icon="caret-right", tooltip=tooltip,
                                     layout={"width": "auto", "max_width": "100%"},
                                     style={"font_weight": "bold"})
        self.contents = widgets.Box([child], layout={"padding": "4px 8px"})
        self._init_reports()
        super().__init__([self.header, self.contents, self.message],
                         layout={"border": "1px solid #8C8C8C", "margin": "6px 0 0 0"})
        self.header.on_click(self.guard(lambda _: self.toggle()))
        self.observe(self.guard(self._show), names="selected_index")
        self.selected_index = 0 if open else None
        self._show()

    @property
    def titles(self) -> tuple:
        return (self.header.description,)

    def set_title(self, index: int, title: str) -> None:
        if index != 0:
            raise ValueError(f"index must be 0 (a Disclosure has one page), got {index}")
        self.header.description = title

    def toggle(self) -> None:
        """Open a closed panel, close an open one (what its title button does)."""
        self.selected_index = None if self.selected_index == 0 else 0

    def _show(self, *_) -> None:
        is_open = self.selected_index == 0
        self.contents.layout.display = None if is_open else "none"
        self.header.icon = "caret-down" if is_open else "caret-right"


def projector_toggle() -> widgets.ToggleButton:
    """The "Projector mode" button every explorer shows (its owner observes ``value``)."""
    return widgets.ToggleButton(
        value=False, description="Projector mode", icon="desktop",
        tooltip="Projector mode: bigger text, thicker lines, bigger markers and darker colours, "
                "readable on a projector or in a bright room; press again for the normal look",
        layout={"width": "auto"})


class TimeControls(Reports, widgets.HBox):
    """Step · Play (with speed) · Run to end · round counter ... Reset, the same in every lesson."""

    def __init__(self):
        self.step_button = widgets.Button(description="Step", icon="step-forward",
                                          button_style="primary",
                                          tooltip="Play one round (in phase mode: one stage)")
        # ipywidgets' Play draws its play/pause and stop buttons as bare icons, with no text,
        # title or aria-label (PlayView.render in @jupyter-widgets/controls 8), and no trait
        # reaches them. So Play stays (its browser-side timer sends the ticks) but hidden, and
        # a labelled toggle button plays and pauses it; Reset and Run to end stop it.
        self.play = widgets.Play(value=0, min=0, max=10**9, interval=700, show_repeat=False,
                                 description="Play", tooltip="Play / pause: step automatically",
                                 layout={"display": "none"})
        self.play_button = widgets.ToggleButton(
            value=False, description="Play", icon="play",
            tooltip="Play: step automatically at the speed set beside it; press again to pause",
            layout={"width": "auto"})
        self._play_link = widgets.link((self.play_button, "value"), (self.play, "playing"))
        self._play_disabled = widgets.dlink((self.play, "disabled"),
                                            (self.play_button, "disabled"))
        self.speed = RealFloatSlider(value=1.5, min=0.5, max=8.0, step=0.5,
                                     description="Speed (steps/s)", readout_format=".1f",
                                     tooltip="How many steps Play takes per second",
                                     style={"description_width": "110px"},
                                     layout={"width": "300px"})
        self.speed_box = RealFloatText(value=1.5, min=0.5, max=8.0, step=0.5,
                                       description="Speed (steps/s)",
                                       tooltip="How many steps Play takes per second",
                                       layout={"width": "70px"})
        self.speed_box.style.description_width = "0px"
        self.speed.readout = False
        self.speed.grid = self.speed_box.grid = 0.5
        self._link = widgets.link((self.speed, "value"), (self.speed_box, "value"))
        self._init_reports()
        self.speed.refusal_callbacks = self.speed_box.refusal_callbacks = [
            lambda value, old: self.report(f"Speed: {_shown_value(value)} is not a number of "
                                           f"steps per second, so it stays at {_fmt(old)}.")]
        self.speed_box.typed_callbacks = [
            lambda value, bound: bound is not None and self.report(
                f"Speed (steps/s): {clamp_sentence(value, bound, value > bound)}.")]
        self.play.observe(self.guard(self._playing_changed), names="playing")
        self.speed.observe(self.guard(self._speed_changed), names="value")
        self._tick_callbacks = []
        self._stopping = False
        self.run_button = widgets.Button(description="Run to end", icon="fast-forward",
                                         tooltip="Play every remaining round at once")
        self.counter = widgets.HTML("<b>Round –</b>", layout={"width": "190px"})
        # Not button_style="warning": its white on orange has a contrast of 2.7:1; this dark
        # vermillion has 5.2:1.
        self.reset_button = widgets.Button(description="Reset", icon="undo",
                                           style={"button_color": RESET_COLOUR,
                                                  "text_color": "#FFFFFF"},
                                           tooltip="Back to the market before the shock")
        spacer = widgets.Box(layout={"flex": "1 1 auto", "min_width": "40px"})
        super().__init__([self.step_button, self.play_button, self.play, self.speed,
                          self.speed_box,
                          self.run_button, self.counter, spacer, self.reset_button,
                          self.message],
                         layout={"align_items": "center", "flex_flow": "row wrap"})

    def _speed_changed(self, change):
        self.play.interval = int(round(1000 / change.new))

    def _playing_changed(self, change) -> None:
        """The play button says what pressing it will do: Play, or Pause while playing."""
        self.play_button.description = "Pause" if change.new else "Play"
        self.play_button.icon = "pause" if change.new else "play"

    def on_tick(self, callback) -> None:
        """Call ``callback()`` on each tick of a playing Play (one step each)."""
        if not self._tick_callbacks:
            self.play.observe(self.guard(self._ticked), names="value")
        self._tick_callbacks.append(callback)

    def _ticked(self, change) -> None:
        # A tick the browser sent before Play was stopped (by Reset, Run to end or a control)
        # arrives late: only a playing Play steps.
        if self._stopping or not self.play.playing or change.new <= change.old:
            return
        for callback in self._tick_callbacks:
            callback()

    def stop(self) -> None:
        """Stop Play and rewind it, so that it works at once when pressed again."""
        self._stopping = True
        try:
            self.play.playing = False
            self.play.value = 0
        finally:
            self._stopping = False
