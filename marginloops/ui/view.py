"""The axis ranges of one run (:class:`View`), found by playing it once in advance, and the
order book binned for the book chart (:func:`book_histogram`)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..cascade import Cascade
from ..narration import liquidated_notional

__all__ = ["BOOK_BINS", "EMPTY_AXIS_MAX", "MAP_BINS", "View", "book_edges", "book_histogram",
           "liquidated_notional"]

BOOK_BINS = 120
MAP_BINS = 90
#: The top of an axis with nothing to show yet (nothing liquidated, no fund, no bad debt): a
#: whole 1,000, so its ticks read 0.00, 200 ... 1.00k, never the SI milli "800m" that the
#: ".3s" tick format gives below 1 (which a student reads as 800 million).
EMPTY_AXIS_MAX = 1_000.0


@dataclass(frozen=True)
class View:
    """Axis ranges for one run, found by playing it once in advance (then ``reset()``).

    The price range covers the whole move and as much again beyond it, so the next cluster of
    liquidation prices is on screen before the price gets there.
    """

    price_lo: float
    price_hi: float
    rounds: int
    notional_max: float
    oi_max: float
    money_max: float
    depth_max: float
    tick: float | None = None

    @classmethod
    def of(cls, cascade: Cascade) -> View:
        """Play ``cascade`` to the end (ranges; on a book a second time, for its depth), then
        reset it. Any venue: on a pool the depth axis is not used (``depth_max`` is the empty
        axis's top, ``tick`` None)."""
        start = cascade.start_price
        cascade.reset()
        hist = cascade.run()
        move = max(abs(p - start) for r in hist
                   for p in (r.price_after, r.last_fill_price,  # (the wick's low too)
                             getattr(r, "mark_price", math.nan),
                             getattr(r, "index_price", math.nan)) if math.isfinite(p))
        span = max(move, start * cascade.shock, start * 0.02)
        if cascade.direction == "down":
            lo, hi = max(start - 1.6 * span, 0.0), start + 0.3 * span
        else:
            lo, hi = start - 0.3 * span, start + 1.6 * span
        cascade.reset()
        tick, depth_max = None, 0.0
        if cascade.venue.kind == "book":
            # The depth axis must hold the fullest bin the book chart will draw, in its own
            # bins. (A pool has no depth chart: the explorer draws its reserves curve.)
            tick = cascade.venue.tick
            edges = book_edges(lo, hi, tick)
            depth_max = book_histogram(cascade.venue, edges).max(initial=0.0)
            while cascade.step() is not None:
                depth_max = max(depth_max, book_histogram(cascade.venue, edges).max(initial=0.0))
            cascade.reset()
        notional = max(liquidated_notional(r) for r in hist)
        money = max(max(r.insurance_fund, r.bad_debt) for r in hist)
        # (the left axis also holds the insurance fund's inventory at the price, when it
        # takes any over: liquidation orders at the bankruptcy price)
        oi = max(float(cascade.positions.size.sum()) * start,
                 max(r.open_interest_notional for r in hist),
                 max(getattr(r, "fund_inventory", 0.0) * r.price_after for r in hist))
        return cls(price_lo=lo, price_hi=hi, rounds=max(10, len(hist) - 1),
                   notional_max=notional * 1.15 or EMPTY_AXIS_MAX,
                   oi_max=oi * 1.1 or EMPTY_AXIS_MAX, money_max=money * 1.15 or EMPTY_AXIS_MAX,
                   depth_max=depth_max * 1.15 or EMPTY_AXIS_MAX,
                   tick=tick)

    def edges(self, bins) -> np.ndarray:
        """``bins`` equal bins over the price range."""
        return np.linspace(self.price_lo, self.price_hi, bins + 1)

    def book_edges(self) -> np.ndarray:
        """Bins for the order book: whole numbers of ticks wide, edges between levels."""
        return book_edges(self.price_lo, self.price_hi, self.tick)


def book_edges(lo, hi, tick) -> np.ndarray:
    """About BOOK_BINS bins over [lo, hi]; with a tick, each holds the same number of levels
    (no saw-tooth from bins catching 25 levels, then 26)."""
    if not tick:
        return np.linspace(lo, hi, BOOK_BINS + 1)
    width = max(1, round((hi - lo) / BOOK_BINS / tick)) * tick
    first = np.floor(lo / tick) * tick - tick / 2
    n = int(np.ceil((hi - first) / width))
    return first + width * np.arange(n + 1)


def book_histogram(book, edges) -> np.ndarray:
    """Units resting in ``book`` per price bin (bids and asks together)."""
    bp, bs = book.bids()
    ap, as_ = book.asks()
    return (np.histogram(bp, edges, weights=bs)[0] + np.histogram(ap, edges, weights=as_)[0])

