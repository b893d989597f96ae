"""Input checks shared by the model core.

Each check raises ``ValueError`` naming the parameter, the value it got and the allowed range,
so that a student can act on the message.

One rule for every number the API takes: **real numbers only**. Python ``int`` and ``float``,
numpy integer and floating scalars, and arrays of them are accepted; bools (``True``, numpy
``bool_``, bool arrays), strings (even numeric ones such as ``"1"``), ``None``, complex numbers
and other objects are refused. A wrong type is reported with ``ValueError`` too (not
``TypeError``), like a value out of range: the message says what was expected and what came,
and a caller catches one exception class for every bad input.

Magnitudes are capped at :data:`MAX_MAGNITUDE` (see there why), and so are totals of sizes
(:func:`check_total`), so that every order the model builds from them is a valid input again.
The one exception is a price a book is walked to (a limit, ``to_price``, ``within``): it is
compared, never summed, so any finite value is a valid "that far" (``cap=False``); likewise a
notional looked up in a bracket table.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

#: Largest magnitude accepted for any number or array element the model sums or multiplies
#: (sizes, prices, weights, notionals, amounts). The core sums up to a few million positions or
#: book levels and multiplies prices by sizes: with every input at most 1e15, a product is at
#: most 1e30 and a sum of ten million of them 1e37, far below float64's 1.8e308, so no sum
#: overflows and no numpy warning escapes. 1e15 also stays below 2**53 (about 9e15), so a whole
#: number that large is still represented exactly; and it is ten thousand times any real market
#: figure the lessons use (total crypto open interest is about 1e11 USD).
MAX_MAGNITUDE = 1e15

_REAL_SCALARS = (int, float, np.integer, np.floating)
_BOOLS = (bool, np.bool_)


def _show(value) -> str:
    if isinstance(value, float):
        return repr(value) if not math.isfinite(value) else f"{value:g}"
    return repr(value)


def _short(value, limit=60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit - 3] + "..."


def is_real(value) -> bool:
    """True for a real number scalar (int, float, numpy integer/floating), False for a bool."""
    return isinstance(value, _REAL_SCALARS) and not isinstance(value, _BOOLS)


def _cap_range(lo, hi, lo_open, hi_open):
    """The range actually allowed once :data:`MAX_MAGNITUDE` bounds it."""
    if lo is None or lo < -MAX_MAGNITUDE:
        lo, lo_open = -MAX_MAGNITUDE, False
    if hi is None or hi > MAX_MAGNITUDE:
        hi, hi_open = MAX_MAGNITUDE, False
    return lo, hi, lo_open, hi_open


def check_number(name: str, value, *, lo=None, hi=None, lo_open=False, hi_open=False,
                 cap=True) -> float:
    """Return ``value`` as a float after checking it is a finite number in the given range.

    ``lo``/``hi`` are the bounds; ``lo_open``/``hi_open`` make them strict. Magnitudes above
    :data:`MAX_MAGNITUDE` are refused whatever the bounds, unless ``cap`` is False: only for a
    threshold that is compared and never summed (a limit price a book is walked to).

    >>> check_number("shock", 0.05, lo=0, hi=1)
    0.05
    >>> check_number("size", True, lo=0)
    Traceback (most recent call last):
    ...
    ValueError: size must be a number >= 0, got True
    >>> check_number("size", 1e308, lo=0, lo_open=True)
    Traceback (most recent call last):
    ...
    ValueError: size must be in (0, 1e15] (larger magnitudes cannot be summed exactly), got 1e+308
    """
    # The range in words is written only for a message (a sweep checks fields many thousand
    # times, and every check passes).
    if not is_real(value):
        rng = describe_range(lo, hi, lo_open, hi_open)
        raise ValueError(f"{name} must be {f'a number {rng}'.strip()}, got {_short(value)}")
    try:
        x = float(value)
    except OverflowError:  # a Python int too big for a float
        raise ValueError(f"{name} must be {describe_range(*_cap_range(lo, hi, lo_open, hi_open))}"
                         f", got {_whole(value)}") from None
    if not math.isfinite(x):
        rng = describe_range(lo, hi, lo_open, hi_open)
        raise ValueError(f"{name} must be {f'a finite number {rng}'.strip()}, got {_show(x)}")
    if (lo is not None and (x < lo or (lo_open and x == lo))) or \
            (hi is not None and (x > hi or (hi_open and x == hi))):
        raise ValueError(f"{name} must be {describe_range(lo, hi, lo_open, hi_open)}, got "
                         f"{_show(x)}")
    if cap and abs(x) > MAX_MAGNITUDE:
        raise ValueError(f"{name} must be {describe_range(*_cap_range(lo, hi, lo_open, hi_open))}"
                         f" (larger magnitudes cannot be summed exactly), got {_show(x)}")
    return x


def check_int(name: str, value, *, lo=None, hi=None) -> int:
    """Return ``value`` as an int after checking it is a whole number in ``[lo, hi]``.

    Magnitudes above :data:`MAX_MAGNITUDE` are refused whatever the bounds.
    """
    if isinstance(value, _BOOLS) or not isinstance(value, (int, np.integer)):
        rng = describe_range(lo, hi, False, False)
        raise ValueError(f"{name} must be {f'a whole number {rng}'.strip()}, got "
                         f"{_short(value)}")
    x = int(value)
    if (lo is not None and x < lo) or (hi is not None and x > hi):
        raise ValueError(f"{name} must be {describe_range(lo, hi, False, False)}, got "
                         f"{_whole(x)}")
    if abs(x) > MAX_MAGNITUDE:
        lo_c, hi_c, _, _ = _cap_range(lo, hi, False, False)
        raise ValueError(f"{name} must be {describe_range(lo_c, hi_c)}, got {_whole(x)}")
    return x


def _whole(x: int) -> str:
    """A whole number for a message: spelled out up to 16 digits, else only its length (Python
    refuses to print ints above 4,300 digits, and nobody reads 400)."""
    if abs(x) < 10**16:
        return str(x)
    digits = int(abs(x).bit_length() * 0.30103) + 1  # within one of the exact count
    return f"a {'negative ' if x < 0 else ''}whole number of about {digits:,} digits"


def _num(x) -> str:
    if abs(x) >= MAX_MAGNITUDE:  # the cap and beyond: 1e15, not 1000000000000000
        return f"{x:g}".replace("e+", "e")
    return str(int(x)) if float(x).is_integer() and abs(x) < 1e16 else f"{x:g}"


def describe_range(lo, hi, lo_open=False, hi_open=False) -> str:
    if lo is not None and hi is not None:
        return f"in {'(' if lo_open else '['}{_num(lo)}, {_num(hi)}{')' if hi_open else ']'}"
    if lo is not None:
        return f"{'>' if lo_open else '>='} {_num(lo)}"
    if hi is not None:
        return f"{'<' if hi_open else '<='} {_num(hi)}"
    return ""


def _refuse(name, what, detail):
    raise ValueError(f"{name} must be {what}, got {detail}")


def as_float_array(name: str, values, *, ndim=1, what=None, cap=True) -> np.ndarray:
    """``values`` as a float64 array; refuses anything but real numbers, NaN, inf and magnitudes
    above :data:`MAX_MAGNITUDE`.

    ``ndim`` is the number of dimensions required (a single number counts as a 1-d array of
    one when ``ndim`` is 1); ``None`` accepts any. ``what`` describes the values expected, for
    the messages (default: "a number or a flat array of numbers"). ``cap=False`` skips the
    magnitude cap, for lookups that sum nothing.

    >>> as_float_array("size", [1, 2.5])
    array([1. , 2.5])
    >>> as_float_array("size", [[1], [1, 2]])  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: size must be a number or a flat array of numbers, got a ragged sequence [[1], ...
    """
    if what is None:
        what = {1: "a number or a flat array of numbers",
                None: "a number or an array of numbers"}.get(ndim, f"a {ndim}-d array of numbers")
    if isinstance(values, (str, bytes)):
        _refuse(name, what, f"the string {_short(values)}")
    if isinstance(values, _BOOLS):
        _refuse(name, what, f"{values!r} (true/false is not a number)")
    if isinstance(values, np.ndarray):
        arr = values
    else:
        try:
            arr = np.asarray(values)
        except (ValueError, TypeError):
            _refuse(name, what, f"a ragged sequence {_short(values)}")
    kind = arr.dtype.kind
    if kind == "O":
        # Python objects: numbers too big for int64, or things that are not numbers at all.
        flat = arr.ravel()
        for i, v in enumerate(flat):
            if not is_real(v):
                at = f" at index {i}" if arr.ndim else ""
                if isinstance(v, (list, tuple, np.ndarray)):
                    _refuse(name, what, f"a ragged sequence {_short(values)}")
                _refuse(name, what, f"{_short(v)}{at}")
        try:
            arr = arr.astype(np.float64)
        except OverflowError:
            _refuse(name, f"numbers at most {_num(MAX_MAGNITUDE)} in magnitude (larger "
                          "magnitudes cannot be summed exactly)", "a number too big for a float")
    elif kind == "b":
        _refuse(name, what, f"true/false values {_short(values)}")
    elif kind in "US":
        _refuse(name, what, f"strings {_short(values)}")
    elif kind not in "iuf":
        _refuse(name, what, f"{_short(values)} of type {arr.dtype}")
    elif not isinstance(values, np.ndarray) and arr.size and not isinstance(values, _REAL_SCALARS):
        # A list such as [True, 1.0] becomes a float array: find the bools numpy hid.
        for i, v in enumerate(np.asarray(values, dtype=object).ravel()):
            if isinstance(v, _BOOLS):
                _refuse(name, what, f"{v!r} at index {i} (true/false is not a number)")
    arr = np.asarray(arr, dtype=np.float64)
    if ndim == 1 and arr.ndim == 0:
        arr = arr.reshape(1)
    if ndim is not None and arr.ndim != ndim:
        if ndim == 1:
            _refuse(name, what, f"an array of shape {arr.shape}")
        raise ValueError(f"{name} must be a {ndim}-d array, got shape {arr.shape}")
    finite = np.isfinite(arr)
    if not finite.all():
        i = int(np.flatnonzero(~finite)[0])
        raise ValueError(f"{name} must contain finite numbers only, got {arr.flat[i]!r} at "
                         f"index {i}")
    big = np.abs(arr) > MAX_MAGNITUDE if cap else None
    if cap and big.any():
        i = int(np.flatnonzero(big)[0])
        raise ValueError(f"{name} must hold numbers at most {_num(MAX_MAGNITUDE)} in magnitude "
                         f"(larger magnitudes cannot be summed exactly), got {arr.flat[i]:g} at "
                         f"index {i}")
    return arr


def check_array_range(name: str, arr: np.ndarray, *, lo=None, hi=None, lo_open=False,
                      hi_open=False) -> None:
    """Raise if any element of ``arr`` lies outside the range; the message names the first one."""
    bad = np.zeros(arr.shape, dtype=bool)
    if lo is not None:
        bad |= (arr <= lo) if lo_open else (arr < lo)
    if hi is not None:
        bad |= (arr >= hi) if hi_open else (arr > hi)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        rng = describe_range(lo, hi, lo_open, hi_open)
        raise ValueError(f"{name} must be {rng}, got {arr.flat[i]:g} at index {i}")


def check_total(name: str, arr: np.ndarray, what: str) -> None:
    """Raise if the non-negative numbers in ``arr`` add up to more than :data:`MAX_MAGNITUDE`.

    Sizes are summed into orders and open interest: their total, not just each one, must stay
    within the cap, so that every order the model builds from them is a valid input again.
    """
    total = float(arr.sum())
    if total > MAX_MAGNITUDE:
        raise ValueError(f"{name} must add up to at most {_num(MAX_MAGNITUDE)} ({what}), got "
                         f"{total:.6g} in total")


def readonly(arr: np.ndarray) -> np.ndarray:
    """Mark ``arr`` read-only and return it (records and positions never change in place)."""
    arr.flags.writeable = False
    return arr


def same_fields(a, b) -> bool:
    """Whether two dataclass records hold the same values, field by field: arrays by value,
    and NaN equal to NaN, so that two histories of one run compare equal (the round records
    of the perpetuals and of the lending market)."""
    for f in dataclasses.fields(a):
        x, y = getattr(a, f.name), getattr(b, f.name)
        if isinstance(x, np.ndarray) or isinstance(y, np.ndarray):
            if not np.array_equal(x, y):
                return False
        elif x != y and not (isinstance(x, float) and isinstance(y, float)
                             and math.isnan(x) and math.isnan(y)):
            return False
    return True
