"""The order book: bid and ask price levels, walked by market orders.

Holds :class:`OrderBook` (builders from levels or from the "1% depth" a data vendor publishes)
and :class:`Fill`, the result of one market order.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._checks import (
    MAX_MAGNITUDE,
    as_float_array,
    check_array_range,
    check_int,
    check_number,
    check_total,
    readonly,
)

BOOK_SHAPES = ("flat", "growing")
#: Where refilled liquidity goes: at the best remaining level, or back at the levels it left.
REFILL_PLACES = ("touch", "levels")
_FIRST_WINDOW = 64  # levels summed at first by a walk; grown 4x until the order is covered


@dataclass(frozen=True)
class Fill:
    """What one market order did.

    Attributes
    ----------
    side : {"sell", "buy"}
    requested : float
        Units asked for.
    filled, unfilled : float
        Units that traded, and units left over because the book ran out
        (``filled + unfilled == requested``).
    avg_price : float
        Size-weighted average fill price, USD (NaN when nothing filled).
    last_price : float
        Price of the last (worst) fill, USD (NaN when nothing filled).
    level_prices, level_qty : ndarray, shape (k,)
        The levels this order took liquidity from, best first, and the units taken from each.
    """

    side: str
    requested: float
    filled: float
    unfilled: float
    avg_price: float
    last_price: float
    level_prices: np.ndarray
    level_qty: np.ndarray

    @property
    def exhausted(self) -> bool:
        """True when the book ran out before the order was filled."""
        return self.unfilled > 0


class _Side:
    """One side of the book: prices best first, remaining sizes, and the index of the touch."""

    __slots__ = ("prices", "sizes", "orig", "top", "sign", "left")

    def __init__(self, prices, sizes, sign):
        self.prices, self.sizes, self.sign, self.top = prices, sizes, sign, 0
        self.orig = readonly(sizes.copy())  # the sizes as built: what "old levels" restores
        self.left = float(sizes.sum())  # units resting, kept as orders take and refills add
        self._skip_empty()

    def copy(self) -> _Side:
        other = _Side.__new__(_Side)
        other.prices, other.sizes, other.orig = self.prices, self.sizes.copy(), self.orig
        other.sign, other.top, other.left = self.sign, self.top, self.left
        return other

    def _skip_empty(self) -> None:
        n = len(self.sizes)
        if self.top < n and self.sizes[self.top] <= 0:
            # Look ahead in growing windows: the cost follows the empty levels skipped.
            window = _FIRST_WINDOW
            while self.top < n:
                nz = np.flatnonzero(self.sizes[self.top:self.top + window] > 0)
                if nz.size:
                    self.top += int(nz[0])
                    break
                self.top = min(self.top + window, n)
                window *= 4
        if self.top >= n:
            self.left = 0.0

    def best(self):
        return float(self.prices[self.top]) if self.top < len(self.prices) else None

    def n_through(self, limit) -> int:
        """Number of levels (from the best) priced at or better-for-the-taker than ``limit``."""
        # Bids (sign -1) are descending: take price >= limit; asks ascending: price <= limit.
        if self.sign < 0:  # reversed view is ascending: count the prices >= limit
            n = len(self.prices)
            return n - int(np.searchsorted(self.prices[::-1], limit, side="left"))
        return int(np.searchsorted(self.prices, limit, side="right"))

    def _window(self, qty) -> tuple:
        """``(end, cum)``: the levels from the touch to ``end`` hold ``qty`` units (or are all
        there is), ``cum`` their cumulative sizes; the window grows 4x at a time, so a small
        order reads a few levels of a deep book."""
        top, n = self.top, len(self.prices)
        window = _FIRST_WINDOW
        while True:
            end = min(top + window, n)
            cum = np.cumsum(self.sizes[top:end])
            if cum[-1] >= qty or end == n:
                return end, cum
            window *= 4

    def take(self, qty, kind) -> Fill:
        """Walk the levels from the touch, taking ``qty`` units (or all there is)."""
        top, n = self.top, len(self.prices)
        if qty <= 0 or top >= n:
            return _fill(kind, qty, 0.0, self.prices[:0], self.sizes[:0])
        end, cum = self._window(qty)
        k = int(np.searchsorted(cum, qty, side="left"))
        if k == len(cum):  # book exhausted: take everything that is left
            taken = self.sizes[top:end].copy()
            self.sizes[top:end] = 0.0
            self.top, self.left = n, 0.0
            return _fill(kind, qty, float(cum[-1]), self.prices[top:end], taken)
        taken = self.sizes[top:top + k + 1].copy()
        partial = qty - (cum[k - 1] if k else 0.0)
        taken[k] = partial
        self.sizes[top:top + k] = 0.0
        left = self.sizes[top + k] - partial
        self.sizes[top + k] = left if left > 1e-12 * self.sizes[top + k] else 0.0
        self.top = top + k
        self.left = max(self.left - qty, 0.0)
        self._skip_empty()
        return _fill(kind, qty, qty, self.prices[top:top + k + 1], taken)

    def reach(self, qty):
        """The price of the last level a market order of ``qty`` units would take from the
        touch (all there is, if less), without taking it; None when it would take nothing."""
        top, n = self.top, len(self.prices)
        if qty <= 0 or top >= n:
            return None
        _, cum = self._window(qty)
        k = min(int(np.searchsorted(cum, qty, side="left")), len(cum) - 1)
        last = np.flatnonzero(self.sizes[top:top + k + 1] > 0)  # skip emptied levels
        return float(self.prices[top + int(last[-1])]) if last.size else None

    def take_through(self, limit, kind) -> Fill:
        """Take every level priced at or beyond ``limit`` (bids >= limit, asks <= limit)."""
        top, end = self.top, max(self.n_through(limit), self.top)
        taken = self.sizes[top:end].copy()
        self.sizes[top:end] = 0.0
        self.top = end
        qty = float(taken.sum())
        self.left = max(self.left - qty, 0.0)
        self._skip_empty()
        return _fill(kind, qty, qty, self.prices[top:end], taken)

    def add_at_touch(self, qty) -> float:
        if self.top < len(self.sizes) and qty > 0:
            self.sizes[self.top] += qty
            self.left += qty
            return float(qty)
        return 0.0

    def add_at_levels(self, qty) -> float:
        """Put up to ``qty`` back where it was taken, nearest the touch first; units placed."""
        end = min(self.top + 1, len(self.sizes))
        if qty <= 0 or end == 0:
            return 0.0
        gaps = np.maximum(self.orig[:end] - self.sizes[:end], 0.0)[::-1]  # touch outwards
        cum = np.cumsum(gaps)
        k = int(np.searchsorted(cum, qty, side="left"))
        add = gaps.copy()
        if k < len(gaps):
            add[k] = qty - (cum[k - 1] if k else 0.0)
            add[k + 1:] = 0.0
        self.sizes[:end] += add[::-1]
        placed = float(add.sum())
        self.left += placed
        filled = np.flatnonzero(self.sizes[:end] > 0)
        if filled.size:
            self.top = min(self.top, int(filled[0]))
        return placed

    def shift_to(self, best, tick) -> float:
        """Move every level by one amount so that the touch is at ``best`` (sizes kept), only
        towards the other side: returns how far the touch moved (USD, >= 0)."""
        if self.top >= len(self.prices):
            return 0.0
        k = round((float(self.prices[self.top]) - best) * self.sign / tick)  # ticks to move
        if k <= 0:
            return 0.0
        inv = 1.0 / tick
        per_unit = round(inv)
        if per_unit >= 1 and abs(inv - per_unit) < 1e-9:  # on a decimal grid: exact prices
            moved = (np.round(self.prices * per_unit) - self.sign * k) / per_unit
        else:
            moved = self.prices - self.sign * k * tick
        if (moved[self.top:] <= 0).any():
            return 0.0
        self.prices = readonly(moved)
        return float(k * tick)

    def withdraw(self, fraction, limit) -> float:
        """Cancel ``fraction`` of every level from the touch to ``limit``; units cancelled."""
        end = max(self.n_through(limit), self.top)
        if fraction <= 0 or end <= self.top:
            return 0.0
        cut = self.sizes[self.top:end] * fraction
        self.sizes[self.top:end] -= cut
        removed = float(cut.sum())
        self.left = max(self.left - removed, 0.0)
        self._skip_empty()
        return removed


def _fill(kind, requested, filled, prices, taken) -> Fill:
    keep = taken > 0
    prices, taken = prices[keep], taken[keep]
    if filled > 0 and taken.size:
        # An average lies between the prices it averages; clip away floating-point rounding.
        # (min/max of Python floats: np.clip's own result, without its overhead on a scalar)
        avg = min(max(float(prices @ taken / taken.sum()), float(prices.min())),
                  float(prices.max()))
        last = float(prices[-1])
    else:
        avg = last = float("nan")
        filled = 0.0
    requested = float(requested)
    return Fill(kind, requested, filled, max(requested - filled, 0.0), avg, last,
                readonly(prices.copy()), readonly(taken))


class OrderBook:
    """Bids and asks as price levels with sizes (asset units), consumed by market orders.

    The book is mutable: :meth:`market_sell` and :meth:`market_buy` remove the liquidity they
    take. Use :meth:`copy` to keep an untouched version. Walking the book costs one cumulative
    sum and one ``searchsorted`` over the levels the order reaches.
    """

    #: What the venue is called in the narration ("selling 3,456 units into the book").
    kind = "book"

    def __init__(self, bids: _Side, asks: _Side, tick=None):
        self._bids, self._asks, self.tick = bids, asks, tick

    # ----------------------------------------------------------------------------- builders
    @classmethod
    def from_levels(cls, bid_prices, bid_sizes, ask_prices=(), ask_sizes=(), tick=None):
        """Build a book from explicit levels.

        Bid prices must be strictly decreasing (best first), ask prices strictly increasing,
        all prices > 0, sizes >= 0 (units), and the best bid below the best ask.
        """
        sides = []
        for label, prices, sizes, sign in (("bid", bid_prices, bid_sizes, -1),
                                           ("ask", ask_prices, ask_sizes, 1)):
            p = as_float_array(f"{label}_prices", prices).copy()
            q = as_float_array(f"{label}_sizes", sizes).copy()
            if len(p) != len(q):
                raise ValueError(f"{label}_sizes must have the same length as {label}_prices "
                                 f"({len(p)}), got length {len(q)}")
            check_array_range(f"{label}_prices", p, lo=0, lo_open=True)
            check_array_range(f"{label}_sizes", q, lo=0)
            check_total(f"{label}_sizes", q, "units resting on the side")
            steps = np.diff(p) * sign
            if (steps <= 0).any():
                i = int(np.flatnonzero(steps <= 0)[0]) + 1
                order = "decreasing (best bid first)" if sign < 0 else "increasing (best ask first)"
                raise ValueError(f"{label}_prices must be strictly {order}, got {p[i]:g} after "
                                 f"{p[i - 1]:g} at index {i}")
            sides.append(_Side(readonly(p), q, sign))
        bb, ba = sides[0].best(), sides[1].best()
        if bb is not None and ba is not None and bb >= ba:
            raise ValueError(f"bid_prices must lie below ask_prices: best bid {bb:g} >= "
                             f"best ask {ba:g}")
        if tick is not None:
            tick = check_number("tick", tick, lo=0, lo_open=True)
        return cls(sides[0], sides[1], tick)

    @classmethod
    def from_depth(cls, mid, depth_1pct, *, shape="flat", tick=0.01, book_range=0.5,
                   levels=None):
        """Build a symmetric book from the figures a market-data vendor publishes.

        Parameters
        ----------
        mid : float
            Mid price, USD. The best bid is one tick below it, the best ask one tick above.
        depth_1pct : float
            USD of resting orders within 1% of ``mid`` on each side ("1% depth").
        shape : {"flat", "growing"}
            "flat": equal size at every level (price impact linear in order size).
            "growing": level size grows linearly with the distance from ``mid`` (impact grows
            like the square root of order size).
        tick : float
            Price step between levels, USD.
        book_range : float
            How far each side reaches, as a fraction of ``mid`` in (0, 1): bids go down to
            ``mid * (1 - book_range)``.
        levels : int, optional
            Number of levels on each side instead of ``book_range`` (bids must stay above 0).
        """
        # Asks reach up to mid * (1 + book_range) < 2 mid: keep them within the magnitude cap.
        mid = check_number("mid", mid, lo=0, hi=MAX_MAGNITUDE / 2, lo_open=True)
        depth_1pct = check_number("depth_1pct", depth_1pct, lo=0, lo_open=True)
        if not isinstance(shape, str) or shape not in BOOK_SHAPES:
            raise ValueError(f"shape must be one of {BOOK_SHAPES}, got {shape!r}")
        tick = check_number("tick", tick, lo=0, hi=0.01 * mid, lo_open=True)
        most = 10_000_000
        if levels is None:
            book_range = check_number("book_range", book_range, lo=0.01, hi=1, hi_open=True)
            # A tiny tick makes the ratio huge (even inf): compare it as a float first.
            ratio = np.floor(book_range * mid / tick + 1e-9)
            if not 1 <= ratio <= most:
                raise ValueError(f"number of levels (book_range * mid / tick) must be in "
                                 f"[1, {most}], got {ratio:.6g}")
            n = int(ratio)
        else:
            room = mid / tick - 1e-9  # levels that fit between mid and 0
            n = check_int("levels", levels, lo=1, hi=int(room) if room < most else most)
        steps = np.arange(1, n + 1, dtype=np.float64)
        inv = 1.0 / tick  # inf for a tick below 1e-308; below 0.5 for a tick above 2
        per_unit = round(inv) if np.isfinite(inv) else 0
        center = round(mid / tick)
        on_grid = (per_unit >= 1 and abs(inv - per_unit) < 1e-9
                   and abs(mid / tick - center) < 1e-9)
        if on_grid:  # exact decimal prices such as 99.99, not 99.99000000000001
            bids, asks = (center - steps) / per_unit, (center + steps) / per_unit
        else:
            bids, asks = mid - steps * tick, mid + steps * tick
        weight = np.ones(n) if shape == "flat" else steps
        within = steps * tick <= 0.01 * mid * (1 + 1e-12)
        # Each side holds exactly depth_1pct USD within 1% of mid. A tiny mid with a large depth
        # needs level sizes beyond what the book may hold: say so rather than overflow.
        with np.errstate(over="ignore"):
            bid_sizes = weight * (depth_1pct / (bids[within] * weight[within]).sum())
            ask_sizes = weight * (depth_1pct / (asks[within] * weight[within]).sum())
        biggest = max(bid_sizes.max(), ask_sizes.max())
        if not biggest <= MAX_MAGNITUDE:
            raise ValueError(f"depth_1pct must put at most {MAX_MAGNITUDE:.0e} units on a level "
                             f"(lower it, or raise mid or tick), got {depth_1pct:g} USD within 1% "
                             f"of mid {mid:g}: {biggest:.3g} units per level")
        return cls.from_levels(bids, bid_sizes, asks, ask_sizes, tick=tick)

    # ------------------------------------------------------------------------------ reading
    @property
    def best_bid(self):
        """Highest remaining bid price, USD (None when no bids remain)."""
        return self._bids.best()

    @property
    def best_ask(self):
        """Lowest remaining ask price, USD (None when no asks remain)."""
        return self._asks.best()

    def bids(self):
        """Remaining bid levels as ``(prices, sizes)``, best first (copies)."""
        s = self._bids
        keep = s.sizes[s.top:] > 0
        return s.prices[s.top:][keep].copy(), s.sizes[s.top:][keep].copy()

    def asks(self):
        """Remaining ask levels as ``(prices, sizes)``, best first (copies)."""
        s = self._asks
        keep = s.sizes[s.top:] > 0
        return s.prices[s.top:][keep].copy(), s.sizes[s.top:][keep].copy()

    def bid_depth(self, to_price=None) -> float:
        """Units resting on the bid side at prices >= ``to_price`` (all bids when None)."""
        s = self._bids
        if to_price is not None:
            to_price = check_number("to_price", to_price, lo=0, cap=False)
        end = len(s.prices) if to_price is None else max(s.n_through(to_price), s.top)
        return float(s.sizes[s.top:end].sum())

    def ask_depth(self, to_price=None) -> float:
        """Units resting on the ask side at prices <= ``to_price`` (all asks when None)."""
        s = self._asks
        if to_price is not None:
            to_price = check_number("to_price", to_price, lo=0, cap=False)
        end = len(s.prices) if to_price is None else max(s.n_through(to_price), s.top)
        return float(s.sizes[s.top:end].sum())

    def depth_profile(self, side, lo, hi):
        """Resting levels of ``side`` ("bid" or "ask") priced in ``[lo, hi]`` (USD), as
        ``(prices, sizes)`` best first (copies): the venue protocol's depth profile
        (:class:`marginloops.venue.Venue`)."""
        lo = check_number("lo", lo, lo=0, cap=False)
        hi = check_number("hi", hi, lo=0, cap=False)
        if not lo <= hi:
            raise ValueError(f"lo must be <= hi, got lo={lo:g} and hi={hi:g}")
        prices, sizes = self.bids() if self._side(side) is self._bids else self.asks()
        keep = (prices >= lo) & (prices <= hi)
        return prices[keep], sizes[keep]

    def units_left(self, side) -> float:
        """Units resting on ``side`` ("bid" or "ask"), from a running total (no scan)."""
        return self._side(side).left

    def copy(self) -> OrderBook:
        """An independent copy: orders on the copy leave this book untouched."""
        return OrderBook(self._bids.copy(), self._asks.copy(), self.tick)

    def __repr__(self) -> str:
        return (f"OrderBook(best_bid={self.best_bid}, best_ask={self.best_ask}, "
                f"bid_units={self.bid_depth():.6g}, ask_units={self.ask_depth():.6g})")

    # ------------------------------------------------------------------------------ trading
    def market_sell(self, qty) -> Fill:
        """Sell ``qty`` units (>= 0) into the bids, best first; returns the :class:`Fill`.

        An order larger than the book fills what there is and reports the rest as
        ``unfilled``: exhaustion is an outcome, not an error.
        """
        qty = check_number("qty", qty, lo=0)
        return self._bids.take(qty, "sell")

    def market_buy(self, qty) -> Fill:
        """Buy ``qty`` units (>= 0) from the asks, best first; returns the :class:`Fill`."""
        qty = check_number("qty", qty, lo=0)
        return self._asks.take(qty, "buy")

    def sell_through(self, limit) -> Fill:
        """Sell into every bid priced at or above ``limit`` (USD): a shock down to ``limit``."""
        limit = check_number("limit", limit, lo=0, cap=False)  # compared, never summed
        return self._bids.take_through(limit, "sell")

    def buy_through(self, limit) -> Fill:
        """Buy every ask priced at or below ``limit`` (USD): a squeeze up to ``limit``."""
        limit = check_number("limit", limit, lo=0, cap=False)
        return self._asks.take_through(limit, "buy")

    def refill(self, side, qty, at="touch") -> float:
        """Put ``qty`` units back on ``side`` ("bid" or "ask"); returns the units placed.

        Models market makers restoring part of the depth orders consumed. ``at="touch"`` adds
        them at the best remaining level (nothing when the side is empty: no touch to quote
        at); ``at="levels"`` puts them back at the price levels they were taken from, nearest
        the touch first, never above a level's original size (so at most what was consumed).
        """
        qty = check_number("qty", qty, lo=0)
        book_side = self._side(side)
        if not isinstance(at, str) or at not in REFILL_PLACES:
            raise ValueError(f"at must be one of {REFILL_PLACES}, got {at!r}")
        return book_side.add_at_touch(qty) if at == "touch" else book_side.add_at_levels(qty)

    def withdraw(self, side, fraction, within) -> float:
        """Cancel ``fraction`` (in [0, 1]) of each level of ``side`` from the touch out to the
        price ``within``: market makers pulling quotes. Returns the units cancelled."""
        fraction = check_number("fraction", fraction, lo=0, hi=1)
        within = check_number("within", within, lo=0, cap=False)
        return self._side(side).withdraw(fraction, within)

    def reach(self, side, qty):
        """The price a market order of ``qty`` units on ``side`` ("bid": a sell, "ask": a buy)
        would trade its last unit at (its ``Fill.last_price``), without trading: the book is
        left as it is. None when it would trade nothing. Costs one cumulative sum over the
        levels the order would reach, as the order itself (no copy of the book)."""
        qty = check_number("qty", qty, lo=0)
        return self._side(side).reach(qty)

    def requote(self, side) -> float:
        """Market makers re-quote ``side`` ("bid" or "ask") next to the other side's best: every
        level of ``side`` moves by the same amount, keeping its size, so that its best is one
        tick from the other side's best (a crash sells the bids down; the asks, left at the old
        prices by a static book, follow). Only towards the other side: a side already within
        one tick, or with no other side to follow, stays. Returns how far its best moved, USD.

        The tick is the book's ``tick``, else the step between the side's first two levels.
        """
        own = self._side(side)
        other = self._asks if own is self._bids else self._bids
        target = other.best()
        if target is None or own.best() is None:
            return 0.0
        tick = self.tick
        if tick is None:
            steps = np.abs(np.diff(own.prices[:2]))
            if not steps.size:
                return 0.0
            tick = float(steps[0])
        # bids sit below the asks: a bid side's best goes to one tick under the best ask
        return own.shift_to(target + own.sign * tick, tick)

    def _side(self, side) -> _Side:
        if not isinstance(side, str) or side not in ("bid", "ask"):
            raise ValueError(f"side must be 'bid' or 'ask', got {side!r}")
        return self._bids if side == "bid" else self._asks
