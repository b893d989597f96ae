"""Numbers as a student reads them: the one formatter every sentence, table and label uses.

Thousands separators, never scientific notation, never a negative zero, and an amount too small
to show at the chosen resolution reads "less than 0.01" (or 0.001 ...), not ``7.49e-05``.
"""

from __future__ import annotations

import math


def number(x, decimals: int = 2, *, sig: int | None = None, trim: bool = False) -> str:
    """``x`` with thousands separators and at most ``decimals`` decimals.

    Parameters
    ----------
    x : real number
    decimals : int
        The finest decimal shown (2: hundredths). A non-zero ``|x|`` that would round to 0 at
        this resolution reads ``"less than 0.01"`` (``"less than 1"`` for ``decimals=0``).
    sig : int or None
        If given, show only as many decimals as ``sig`` significant digits need (never more
        than ``decimals``; the digits before the point are always all shown).
    trim : bool
        Drop trailing zeros after the point (and the point itself): ``2.50`` reads ``2.5``.

    Returns
    -------
    str
        ``"n/a"`` for NaN, ``"unbounded"`` for ±inf; otherwise plain digits.

    Examples
    --------
    >>> number(12345)
    '12,345.00'
    >>> number(12345, 0)
    '12,345'
    >>> number(-0.001)
    '0.00'
    >>> number(-0.001, 2, trim=True)
    '0'
    >>> number(7.49e-05, 2)
    'less than 0.01'
    >>> number(7.49e-05, 3, sig=3, trim=True)
    'less than 0.001'
    >>> number(0.9500000000000001, 4, trim=True)
    '0.95'
    >>> number(114.99999999999999, 2)
    '115.00'
    >>> number(2.5, 3, sig=3, trim=True)
    '2.5'
    """
    x = float(x)
    if math.isnan(x):
        return "n/a"
    if math.isinf(x):
        return "unbounded" if x > 0 else "-unbounded"
    decimals = max(int(decimals), 0)
    if sig is not None and x != 0:
        lead = math.floor(math.log10(abs(x)))
        decimals = min(decimals, max(int(sig) - 1 - lead, 0))
    text = f"{x:,.{decimals}f}"
    if x != 0 and float(text.replace(",", "")) == 0:
        tiny = "1" if decimals == 0 else "0." + "0" * (decimals - 1) + "1"
        # A loss that rounds away still reads as zero (no "-0.00"); a positive amount that
        # rounds away is named as small rather than hidden.
        if x > 0:
            return f"less than {tiny}"
        text = f"{0:.{decimals}f}"
    if trim and "." in text:
        text = text.rstrip("0").rstrip(".")
    if text.startswith("-") and float(text.replace(",", "")) == 0:
        text = text[1:]
    return text


def percent(x, decimals: int = 1, *, trim: bool = False) -> str:
    """A fraction as a percentage: ``percent(0.0234)`` is ``"2.3%"``; never ``"-0.0%"``.

    >>> percent(-0.00001)
    '0.0%'
    >>> percent(0.00001)
    'less than 0.1%'
    >>> percent(0.15)
    '15.0%'
    """
    return number(float(x) * 100.0, decimals, trim=trim) + "%"


def signed_percent(x, decimals: int = 1) -> str:
    """A change with its sign: ``"+2.3%"``, ``"-15.0%"``, ``"0.0%"`` (never ``"-0.0%"``).

    >>> signed_percent(-0.15)
    '-15.0%'
    >>> signed_percent(-0.0000001)
    '0.0%'
    >>> signed_percent(0.0234, 2)
    '+2.34%'
    """
    x = float(x)
    text = f"{abs(x) * 100:,.{max(int(decimals), 0)}f}"
    if float(text.replace(",", "")) == 0 or not math.isfinite(x):
        return number(0.0, decimals) + "%" if math.isfinite(x) else number(x) + "%"
    return ("+" if x > 0 else "-") + text + "%"
