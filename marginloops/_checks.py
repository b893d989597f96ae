"""Input checks shared by the model core.

Each check raises ``ValueError`` naming the parameter, the value it got and the allowed range,
so that a student can act on the message.
"""

from __future__ import annotations

import math

import numpy as np


def _show(value) -> str:
    if isinstance(value, float):
        return repr(value) if not math.isfinite(value) else f"{value:g}"
    return repr(value)


def check_number(name: str, value, *, lo=None, hi=None, lo_open=False, hi_open=False) -> float:
    """Return ``value`` as a float after checking it is a finite number in the given range.

    ``lo``/``hi`` are the bounds; ``lo_open``/``hi_open`` make them strict.
    """
    rng = describe_range(lo, hi, lo_open, hi_open)
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ValueError(f"{name} must be a number {rng}, got {value!r}")
    x = float(value)
    if not math.isfinite(x):
        raise ValueError(f"{name} must be a finite number {rng}, got {_show(x)}")
    if lo is not None and (x < lo or (lo_open and x == lo)):
        raise ValueError(f"{name} must be {rng}, got {_show(x)}")
    if hi is not None and (x > hi or (hi_open and x == hi)):
        raise ValueError(f"{name} must be {rng}, got {_show(x)}")
    return x


def check_int(name: str, value, *, lo=None, hi=None) -> int:
    """Return ``value`` as an int after checking it is a whole number in ``[lo, hi]``."""
    rng = describe_range(lo, hi, False, False)
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"{name} must be a whole number {rng}, got {value!r}")
    x = int(value)
    if (lo is not None and x < lo) or (hi is not None and x > hi):
        raise ValueError(f"{name} must be {rng}, got {x}")
    return x


def _num(x) -> str:
    return str(int(x)) if float(x).is_integer() and abs(x) < 1e16 else f"{x:g}"


def describe_range(lo, hi, lo_open=False, hi_open=False) -> str:
    if lo is not None and hi is not None:
        return f"in {'(' if lo_open else '['}{_num(lo)}, {_num(hi)}{')' if hi_open else ']'}"
    if lo is not None:
        return f"{'>' if lo_open else '>='} {_num(lo)}"
    if hi is not None:
        return f"{'<' if hi_open else '<='} {_num(hi)}"
    return ""


def as_float_array(name: str, values, *, ndim=1) -> np.ndarray:
    """``values`` as a float64 array of ``ndim`` dimensions; rejects non-numbers and NaN."""
    try:
        arr = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be an array of numbers, got {values!r:.80}") from None
    if ndim == 1 and arr.ndim == 0:
        arr = arr.reshape(1)
    if arr.ndim != ndim:
        raise ValueError(f"{name} must be a {ndim}-d array, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        bad = arr[~np.isfinite(arr)][0]
        i = int(np.flatnonzero(~np.isfinite(arr))[0])
        raise ValueError(f"{name} must contain finite numbers only, got {bad!r} at index {i}")
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


def readonly(arr: np.ndarray) -> np.ndarray:
    """Mark ``arr`` read-only and return it (records and positions never change in place)."""
    arr.flags.writeable = False
    return arr
