"""Declared parameters: one check per parameter, shared by :class:`~marginloops.Scenario` and
:class:`~marginloops.Cascade` (issue 11), and the plain data a control row is drawn from.

A :class:`Param` names a parameter, its kind (a number, a whole number, a choice, a flag), its
allowed range and its default; :meth:`Param.check` is the one place that range is enforced.
A :class:`Control` says how a widget shows it (label, range, step, unit) without importing any
widget library: the interface layer reads it.

One rule for every number (see :mod:`marginloops._checks`): real numbers only; bools and strings
are refused, and every message names the parameter, the value and the allowed range.
"""

from __future__ import annotations

import reprlib
from dataclasses import dataclass

import numpy as np

from ._checks import MAX_MAGNITUDE, check_int, check_number, describe_range, is_real

__all__ = ["KINDS", "Control", "Param", "show", "check_real", "check_whole", "check_choice",
           "check_flag"]

#: What a parameter holds.
KINDS = ("number", "whole", "choice", "flag")

_REPR = reprlib.Repr()
_REPR.maxstring, _REPR.maxother, _REPR.maxlist, _REPR.maxtuple, _REPR.maxdict = 40, 40, 4, 4, 4
_REPR.maxlevel = 3


def show(value) -> str:
    """A short, safe repr for messages (deeply nested or huge values are cut)."""
    try:
        return _REPR.repr(value)
    except Exception:  # a hostile __repr__ must not hide the real message
        return f"a {type(value).__name__}"


def check_real(label, value, *, none=False, **bounds) -> float:
    """``value`` as a float in the range ``bounds`` (see :func:`~marginloops._checks.
    check_number`); ``none`` only adds "(or none)" to the message of a wrong type."""
    if not is_real(value):
        also = " (or none)" if none else ""
        raise ValueError(f"{label} must be a number {_range(bounds)}{also}, got {show(value)}")
    try:
        float(value)
    except OverflowError:  # a Python int beyond float range
        raise ValueError(f"{label} must be {_range(bounds)}, got a number too large for a "
                         "float") from None
    return check_number(label, value, **bounds)


def _range(bounds) -> str:
    """The range in words, written only for a message (checks that pass need none)."""
    return describe_range(bounds.get("lo"), bounds.get("hi"), bounds.get("lo_open", False),
                          bounds.get("hi_open", False))


def check_whole(label, value, *, lo, hi) -> int:
    """``value`` as an int in ``[lo, hi]``; bools, floats and strings refused."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"{label} must be a whole number {describe_range(lo, hi)}, got "
                         f"{show(value)}")
    if abs(int(value)) > 10**18:  # not spelled out digit by digit in the message
        raise ValueError(f"{label} must be {describe_range(lo, hi)}, got a number with more "
                         "than 18 digits")
    return check_int(label, value, lo=lo, hi=hi)


def check_choice(label, value, allowed):
    """``value`` if it is one of ``allowed`` (strings or None)."""
    if not isinstance(value, (str, type(None))) or value not in allowed:
        raise ValueError(f"{label} must be one of {allowed}, got {show(value)}")
    return value


def check_flag(label, value, *, python=False) -> bool:
    """``value`` if it is True or False (the message spells them as Python does when
    ``python``, else as a scenario file does)."""
    if not isinstance(value, bool):
        words = "True or False" if python else "true or false"
        raise ValueError(f"{label} must be {words}, got {show(value)}")
    return value


@dataclass(frozen=True)
class Control:
    """How the explorer's mechanism panel shows a parameter, as plain data (no widget library
    here: the interface layer reads it).

    group : the heading it appears under; label, tooltip : what the student reads, and the
    explanation on hover; kind : "knob" (a slider with a box), "check" (a checkbox), "choice"
    (toggle buttons), "radio" or "menu" over ``options``, ``((label, value, tooltip), ...)``;
    lo, hi, step, integer : the knob's range in shown units; per_unit : the value of one shown
    unit (0.01 shows a fraction in %); switch, switch_tooltip : the checkbox that turns an
    optional parameter on and off; off : the value while it is off; default : what the control
    shows while off; under : the parameter this row belongs to (shown only while that one is
    on); says, says_off : the change in words ("{}" is the shown value); short : the panel
    title's words while the value differs from its default.
    """

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
    default: object = None
    under: str | None = None
    says: str | None = None
    says_off: str | None = None
    short: str | None = None


@dataclass(frozen=True)
class Param:
    """One declared parameter.

    name : the field name (in :class:`~marginloops.Scenario`, and the keyword of
    :class:`~marginloops.Cascade` unless ``cascade_name`` says otherwise); kind : one of
    :data:`KINDS`; default; lo, hi, lo_open, hi_open : the range of a number or whole number;
    choices : the allowed values of a choice; optional : None is allowed (a switch: None is off);
    doc : one line for docs and messages; fraction : shown as a percentage; control : how a
    control row shows it (None: no row of its own).
    """

    name: str
    kind: str
    default: object
    lo: float | None = None
    hi: float | None = None
    lo_open: bool = False
    hi_open: bool = False
    choices: tuple = ()
    optional: bool = False
    doc: str = ""
    fraction: bool = False
    control: Control | None = None

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {self.kind!r}")

    @property
    def range_text(self) -> str:
        """The allowed values in words: "in [0, 0.1]", "one of (None, 'fraction')"."""
        if self.kind == "choice":
            return f"one of {self.choices}"
        if self.kind == "flag":
            return "true or false"
        return describe_range(self.lo, self.hi, self.lo_open, self.hi_open)

    def check(self, value, label: str | None = None, *, python=False):
        """``value`` checked (and converted: float, int), or ``ValueError`` naming ``label``
        (the parameter's name by default), the value and the allowed range (``python``: the
        caller is Python code, so a flag's message says True/False, not true/false)."""
        kind = self.kind
        # The common case, a float or an int already in range, passes without the general
        # checks (a sweep makes about 70 of these per run); anything else, valid or not, takes
        # the general path below, which writes the messages.
        if kind == "number" and type(value) is float and abs(value) <= MAX_MAGNITUDE and (
                self.lo is None or value > self.lo or (value == self.lo and not self.lo_open)) \
                and (self.hi is None or value < self.hi
                     or (value == self.hi and not self.hi_open)):
            return value
        if kind == "whole" and type(value) is int and self.lo is not None \
                and self.hi is not None and self.lo <= value <= self.hi \
                and abs(value) <= MAX_MAGNITUDE:
            return value
        label = self.name if label is None else label
        if value is None and self.optional:
            return None
        if self.kind == "number":
            return check_real(label, value, none=self.optional, lo=self.lo, hi=self.hi,
                              lo_open=self.lo_open, hi_open=self.hi_open)
        if self.kind == "whole":
            return check_whole(label, value, lo=self.lo, hi=self.hi)
        if self.kind == "choice":
            return check_choice(label, value, self.choices)
        return check_flag(label, value, python=python)

    def is_off(self, value) -> bool:
        """True when ``value`` leaves the mechanism this parameter switches on inactive."""
        if self.kind == "flag":
            return value is False
        if value is None:
            return True
        # An optional number is on whenever given (a fee rate of 0 is a fee, not "no fee").
        return self.kind == "number" and not self.optional and value == 0
