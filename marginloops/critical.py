"""The critical ratio n/D: the flat-band market of the closed form (liquidation prices spread
evenly over a band, a flat book), its simulated amplification at each crowding ratio, and the
two side by side (lesson 4's model, numpy only).

:class:`marginloops.ui.critical.CriticalRatioView` draws it, and
:mod:`marginloops.course.lesson04` re-exports it for the lesson.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from ._checks import check_int, check_number
from .analysis import amplification, closed_form_amplification
from .cascade import Cascade
from .numbers import number, percent
from .orderbook import OrderBook
from .positions import Positions

__all__ = ["RATIO_GRID", "FlatBandScenario", "critical_table", "flat_band_market",
           "simulated_amplification",
           "units_per_dollar"]


def units_per_dollar(usd_per_1pct: float, price: float) -> float:
    """USD per 1% of ``price`` as asset units per dollar of price: ``X / P / (0.01 P)``."""
    usd_per_1pct = check_number("usd_per_1pct", usd_per_1pct, lo=0)
    price = check_number("price", price, lo=0, lo_open=True)
    return usd_per_1pct / price / (0.01 * price)


def flat_band_market(ratio: float, *, band: float = 0.3, price: float = 100.0,
                     depth_1pct: float = 1_000_000.0, tick: float = 0.01,
                     book_range: float = 0.9) -> tuple[Positions, OrderBook]:
    """The closed form's market: liquidation prices spread evenly over a band, a flat book.

    One long per tick below ``price`` down to ``price * (1 - band)`` (liquidation prices at
    ``price - tick/2``, ``price - 3 tick/2``, ...), each of ``n * tick`` units, so ``n`` units
    are liquidated per dollar the price falls; bids at every tick from ``price`` down over
    ``book_range`` of it, ``D * tick`` units each. ``D`` is ``depth_1pct`` in units per dollar
    and ``n = ratio * D``: the crowding ratio is ``ratio``. Built with array operations only.

    Returns ``(positions, book)`` for :class:`~marginloops.Cascade`.
    """
    ratio = check_number("ratio", ratio, lo=0, lo_open=True, hi=100)
    band = check_number("band", band, lo=0, hi=0.9, lo_open=True)
    price = check_number("price", price, lo=0, lo_open=True, hi=1e9)
    tick = check_number("tick", tick, lo=0, lo_open=True, hi=0.01 * price)
    book_range = check_number("book_range", book_range, lo=band, hi=1, hi_open=True)
    depth = units_per_dollar(check_number("depth_1pct", depth_1pct, lo=0, lo_open=True), price)
    k = int(np.floor(band * price / tick + 1e-9))
    check_int("positions in the band (band * price / tick)", k, lo=1, hi=2_000_000)
    liq = price - tick * (np.arange(k) + 0.5)
    # 10x, no maintenance margin: entry = P_liq / 0.9, every position solvent at the price.
    positions = Positions.from_arrays(1, np.full(k, ratio * depth * tick), liq / 0.9, 10.0, 0.0)
    levels = int(np.floor(book_range * price / tick + 1e-9))
    prices = np.round(price - tick * np.arange(levels), 9)
    book = OrderBook.from_levels(prices, np.full(levels, depth * tick), tick=tick)
    return positions, book


@dataclass(frozen=True)
class FlatBandScenario:
    """The closed form's market (:func:`flat_band_market`) and its shock, as a scenario.

    A frozen dataclass like :class:`~marginloops.Scenario`, so :func:`marginloops.sweep` can
    vary its fields: sweeping ``ratio`` x ``shock`` is the closed-form test of the phase
    diagram (amplification ``1 / (1 - ratio)`` below 1 while the fall stays inside the band,
    the loop running through the whole band at 1 and above). No randomness, so no seed.

    Fields
    ------
    ratio : the crowding ratio n/D, (0, 100]
    shock : round 0's fall, a fraction in (0, band)
    band : the band of liquidation prices below the price, a fraction in (0, 0.9]
    price : USD, (0, 1e9]
    depth_1pct : USD resting within 1% of the price, > 0
    tick : USD between levels (and between liquidation prices), (0, 0.01 price]
    book_range : how far the book reaches below the price, [band, 1)

    Examples
    --------
    >>> from marginloops.analysis import amplification
    >>> round(amplification(FlatBandScenario(ratio=0.5).cascade().run()), 3)
    2.0
    """

    ratio: float
    shock: float = 0.02
    band: float = 0.3
    price: float = 100.0
    depth_1pct: float = 1_000_000.0
    tick: float = 0.01
    book_range: float = 0.9

    def __post_init__(self):
        # The checks flat_band_market and simulated_amplification make, in their order.
        put = object.__setattr__
        put(self, "ratio", check_number("ratio", self.ratio, lo=0, lo_open=True, hi=100))
        put(self, "band", check_number("band", self.band, lo=0, hi=0.9, lo_open=True))
        put(self, "price", check_number("price", self.price, lo=0, lo_open=True, hi=1e9))
        put(self, "tick", check_number("tick", self.tick, lo=0, lo_open=True,
                                       hi=0.01 * self.price))
        put(self, "book_range", check_number("book_range", self.book_range, lo=self.band, hi=1,
                                             hi_open=True))
        put(self, "depth_1pct", check_number("depth_1pct", self.depth_1pct, lo=0,
                                             lo_open=True))
        put(self, "shock", check_number("shock", self.shock, lo=0, hi=self.band, lo_open=True,
                                        hi_open=True))
        k = int(np.floor(self.band * self.price / self.tick + 1e-9))
        check_int("positions in the band (band * price / tick)", k, lo=1, hi=2_000_000)

    def replace(self, **changes) -> FlatBandScenario:
        """A checked copy with some fields changed."""
        return dataclasses.replace(self, **changes)

    def market(self) -> tuple[Positions, OrderBook]:
        """``(positions, book)``: :func:`flat_band_market` of these fields."""
        return flat_band_market(self.ratio, band=self.band, price=self.price,
                                depth_1pct=self.depth_1pct, tick=self.tick,
                                book_range=self.book_range)

    def cascade(self) -> Cascade:
        """A fresh :class:`~marginloops.Cascade` of this market and shock."""
        return Cascade(*self.market(), shock=self.shock)


def simulated_amplification(ratios, *, shock: float = 0.02, band: float = 0.3,
                            **market) -> np.ndarray:
    """Amplification (total fall / the shock's fall) of the flat-band market at each ratio.

    ``ratios`` is a number or a 1-d array of crowding ratios in (0, 100]; ``market`` passes on
    to :func:`flat_band_market`. Below 1 the result matches ``1 / (1 - ratio)`` (the closed
    form) to within a tick while the total fall stays inside the band; at 1 and above the loop
    runs through the whole band.
    """
    shock = check_number("shock", shock, lo=0, hi=band, lo_open=True, hi_open=True)
    r = np.atleast_1d(np.asarray(ratios, dtype=float))
    if r.ndim != 1:
        raise ValueError(f"ratios must be a number or a 1-d array, got shape {r.shape}")
    out = np.empty(len(r))
    for i, ratio in enumerate(r):  # one cascade per grid point; each is vectorised inside
        out[i] = amplification(Cascade(*flat_band_market(ratio, band=band, **market),
                                       shock=shock).run())
    return out


#: The grid of crowding ratios the picture simulates.
RATIO_GRID = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95, 1.0, 1.1, 1.25, 1.5,
              1.75, 2.0, 2.25, 2.5)


def critical_table(ratios=RATIO_GRID, *, shock: float = 0.02, band: float = 0.3) -> str:
    """Crowding ratio, closed form and simulation side by side, as text."""
    sim = simulated_amplification(ratios, shock=shock, band=band)
    lines = [f"{'n/D':>5}{'closed form':>13}{'simulated':>11}{'total fall':>12}  the loop"]
    for ratio, amp in zip(ratios, sim, strict=True):
        cf = closed_form_amplification(ratio)
        words = ("runs through the whole band" if ratio >= 1 else "dies out" if abs(
            amp - cf) <= 0.02 * cf else "dies out, but reaches the band's end")
        cf_text = number(cf, 2) if np.isfinite(cf) else "infinite"
        lines.append(f"{number(ratio, 2):>5}{cf_text:>13}{number(amp, 2):>11}"
                     f"{percent(amp * shock, 1):>12}  {words}")
    return "\n".join(lines)
