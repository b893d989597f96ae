"""Numbers that summarise a market or a run: how crowded the leverage is against the book,
and how much a cascade amplified its shock.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._checks import check_number
from .cascade import Cascade, RoundRecord


@dataclass(frozen=True)
class Crowding:
    """Liquidations waiting within a band beyond the price, against the book in that band.

    Attributes
    ----------
    band : fraction of the start price examined (e.g. 0.05: the 5% below it in a crash)
    lo, hi : the band's prices, USD
    liquidation_units : units of positions whose liquidation price lies in the band
    book_units : units resting in the book in the band
    ratio : ``liquidation_units / book_units`` (inf when the band holds no book).

    A ratio near or above 1 means the forced orders there can eat the book that is meant to
    absorb them: the closed form of a flat book (drops shrinking by n/D each round) says the
    loop dies out below 1 and runs through the band at or above it.
    """

    band: float
    lo: float
    hi: float
    liquidation_units: float
    book_units: float
    ratio: float


def crowding(cascade: Cascade, band: float = 0.05) -> Crowding:
    """Measure how crowded the leverage is within ``band`` (a fraction in (0, 1)) of the price.

    Uses the cascade's state before the shock (its starting price and venue copy).
    """
    band = check_number("band", band, lo=0, hi=1, lo_open=True, hi_open=True)
    start = cascade.start_price
    down = cascade.direction == "down"
    lo, hi = (start * (1 - band), start) if down else (start, start * (1 + band))
    pos = cascade.positions
    liq = pos.liquidation_price
    side = pos.side == (1 if down else -1)
    in_band = side & (liq >= lo) & (liq <= hi)
    # The venue's resting depth in the band, through the venue protocol (a book's levels, a
    # pool's grid).
    _, sizes = cascade.initial_book.depth_profile("bid" if down else "ask", lo, hi)
    book_units = float(sizes.sum())
    liq_units = float(pos.size[in_band].sum())
    ratio = liq_units / book_units if book_units > 0 else float("inf")
    return Crowding(band, lo, hi, liq_units, book_units, ratio)


def amplification(history: list[RoundRecord]) -> float:
    """Total price move of a run divided by the move of its shock alone (1 = no cascade).

    NaN when the shock did not move the price (a shock smaller than one tick).
    """
    if not history:
        raise ValueError("history must hold at least the shock round, got an empty list")
    start = history[0].price_before
    shock = history[0].price_after - start
    total = history[-1].price_after - start
    return float(total / shock) if shock != 0 else float(np.nan)


def closed_form_amplification(ratio: float) -> float:
    """Amplification the flat-book closed form predicts for a density / depth ratio ``n/D``.

    Per-round drops form a geometric series with ratio ``n/D``, so the total move is the shock
    times ``1 / (1 - n/D)`` when ``n/D < 1``; at or above 1 the series does not converge (the
    loop runs through the whole crowd of positions): ``inf``.
    """
    ratio = check_number("ratio", ratio, lo=0)
    return 1.0 / (1.0 - ratio) if ratio < 1 else float("inf")
