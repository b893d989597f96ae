"""Accounts: the leveraged traders a cascade checks and closes, behind one protocol.

Issue 11: the round pipeline (:mod:`marginloops.cascade`) asks an account model three things,
named by :class:`Accounts`: each account's **threshold price** (where the check catches it),
its **equity at a price**, and to **close a fraction** of the accounts the check caught. The
isolated-margin perpetuals implement it here (:class:`PerpetualAccounts`); a lending position
with a health factor can implement the same protocol.

:class:`PerpetualAccounts` keeps the liquidatable side sorted by liquidation price, once. When
no mechanism moves a threshold after that sort (no partial closes, no dynamic margin, no
auto-deleveraging), a check is one ``searchsorted`` and the accounts it catches are a slice:
the fast path. Otherwise (``moving=True``) it keeps each account's remaining size and margin
and checks every open account of the side, vectorised.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np

from ._checks import readonly
from .positions import Positions

__all__ = ["Accounts", "Closing", "PerpetualAccounts", "split_fee"]


@dataclass
class Closing:
    """The accounts one round's check caught, and how much of each the round closes.

    ``where``: a slice of the sorted order (fast path) or an index array; ``q``, ``margin``:
    their remaining size and margin; ``entry``: entry prices (moving accounts) and
    ``bankrupt``: bankruptcy prices (fast path); ``equity_now``: equity at the check price
    (moving accounts); ``x``: the fraction of each closed (1: whole); ``close``: units each
    sends to the venue; ``margin_book``: the margin of what goes to the venue; ``diverted``:
    per account, units closed off the venue (auto-deleveraging), or None.

    ``sold`` and ``sold_price`` (moving accounts only; None by default): when a mechanism
    sends each account's close as its own order (a liquidation limited at its own bankruptcy
    price), the units of ``close`` each one sold on the venue and their average price (any
    value where nothing sold). The accounts then settle each at its own fill instead of the
    round's one fill fraction and average (see :meth:`PerpetualAccounts.close`).
    """

    where: object
    q: np.ndarray
    margin: np.ndarray
    entry: np.ndarray | None = None
    bankrupt: np.ndarray | None = None
    equity_now: np.ndarray | None = None
    x: np.ndarray | None = None
    close: np.ndarray | None = None
    margin_book: np.ndarray | None = None
    diverted: np.ndarray | None = None
    sold: np.ndarray | None = None
    sold_price: np.ndarray | None = None

    @property
    def n(self) -> int:
        return len(self.q)

    @property
    def qty(self) -> float:
        """Units this round sends to the venue."""
        return float((self.q if self.close is None else self.close).sum())


@dataclass
class Settled:
    """What closing a :class:`Closing` at a fill brought: money to the fund, fees, counts."""

    to_fund: float
    returned: float
    fees: float
    margin_lost: float
    n_closed: int
    n_reduced: int


def split_fee(equity: np.ndarray, fee: np.ndarray | None) -> tuple[float, float, float]:
    """``(to_fund, returned, fees)`` of closes with remaining ``equity`` (per account, USD).

    No fee (None): all the equity goes to the fund (a negative one comes out of it). A fee
    (per account): the fund takes at most the equity left as the fee, the rest goes back to
    the trader, and a shortfall still comes out of the fund.
    """
    if fee is None:
        return float(equity.sum()), 0.0, 0.0
    fee = np.minimum(fee, np.maximum(equity, 0.0))
    fees = float(np.sum(fee))
    return fees + float(np.minimum(equity, 0.0).sum()), \
        float(np.maximum(equity, 0.0).sum()) - fees, fees


@runtime_checkable
class Accounts(Protocol):
    """What the round pipeline asks of an account model (the perpetuals here; a lending book
    next). Its three ideas: a **threshold price** per account, the **equity at a price** of the
    accounts a check caught, and **closing a fraction** of them. The rest is bookkeeping the
    record reads.

    Attributes it keeps: ``positions`` (the population, for charts), ``sign`` (+1: the run
    closes longs by selling, -1: shorts by buying), ``open_interest`` (units still open),
    ``n_open`` (accounts still open), ``inventory`` (units the fund took over unsold).
    """

    def reset(self) -> None:
        """Every account open again, as before the shock."""

    def threshold_price(self, surcharge: float = 0.0) -> np.ndarray:
        """Each account's threshold price now (NaN when closed), in the caller's order."""

    def equity_at(self, price: float, closing: Closing) -> np.ndarray:
        """The equity of the accounts of ``closing`` at ``price``, USD."""

    def check(self, price: float, surcharge: float = 0.0) -> Closing:
        """The open accounts the check at ``price`` catches (``x``: close them whole)."""

    def choose_whole(self, closing: Closing) -> None:
        """Settle ``closing.x``: what must be closed whole is (bankrupt, or too small left)."""

    def close(self, closing: Closing, fill, qty: float, round_no: int, fee, *, p_before,
              off_venue_units=0.0, off_venue_closed=0) -> Settled:
        """Close ``closing.x`` of each caught account at ``fill``; settle the money."""

    def pending(self, price: float, surcharge: float = 0.0) -> int:
        """Open accounts a check at ``price`` would catch."""

    def in_reach(self, price: float, surcharge: float = 0.0) -> np.ndarray:
        """Their indices, in the caller's order."""

    def open_mask(self) -> np.ndarray:
        """True for accounts still open."""

    def open_size(self) -> np.ndarray:
        """Units each account still holds."""

    def liquidated_round(self) -> np.ndarray:
        """The round each account was closed in, -1 while open."""

    def n_reduced_open(self) -> int:
        """Accounts partly closed and still open."""


class PerpetualAccounts:
    """Isolated-margin linear perpetuals (:class:`~marginloops.Positions`) as :class:`Accounts`.

    Parameters
    ----------
    positions : Positions
    direction : {"down", "up"}
        Longs are liquidated in a crash ("down"), shorts in a squeeze.
    start : float
        The starting price; every position must be solvent there.
    moving : bool
        Thresholds move after the sort (partial closes, dynamic margin, auto-deleveraging):
        keep remaining sizes and margins and check every open account.
    opposite : bool
        Also track the opposite side's remaining sizes (auto-deleveraging reduces them).
    both : bool
        The price can move back (arbitrage against an index): the opposite side's accounts
        can be checked and closed too (:meth:`check_opposite`, :meth:`close_opposite`), kept
        in an inner :class:`PerpetualAccounts` of the other direction whose remaining sizes
        are the ones auto-deleveraging reduces. Implies ``moving`` and ``opposite``.
    """

    def __init__(self, positions: Positions, direction: str, start: float, *, moving=False,
                 opposite=False, both=False):
        self.positions = positions
        moving = moving or both
        opposite = opposite or both
        self.moving = moving
        self.other = None
        if both:  # built first: it checks that the opposite side is solvent at the start too
            self.other = PerpetualAccounts(positions, "up" if direction == "down" else "down",
                                           start, moving=True)
        liq = positions.liquidation_price
        under = np.flatnonzero((positions.side > 0) & (liq >= start)
                               | (positions.side < 0) & (liq <= start))
        if under.size:
            i = int(under[0])
            raise ValueError(
                f"positions must all be solvent at the starting price {start:g}, but "
                f"{under.size} are already at or past their liquidation price (first: index {i}, "
                f"liquidation price {liq[i]:g}); remove them or change their entry or leverage")
        # The side this run can liquidate, sorted once so that rounds are slices: in a crash the
        # longs by descending liquidation price (key -P_liq), in a squeeze the shorts ascending.
        down = direction == "down"
        self.sign = 1 if down else -1             # side of the positions liquidated
        self._key_sign = -1.0 if down else 1.0
        # The fields a round needs are stored in that order too, so a round reads contiguous
        # slices instead of gathering scattered positions.
        idx = np.flatnonzero(positions.side == self.sign)
        keys = self._key_sign * liq[idx]
        order = np.argsort(keys)
        self._keys = readonly(keys[order])
        del keys
        idx = idx[order]
        del order
        self.order = readonly(idx.astype(np.int32) if len(positions) < 2**31 else idx)
        del idx
        o = self.order
        self.size = readonly(positions.size[o])
        lev = positions.leverage[o]
        entry = positions.entry[o]
        self.margin = readonly(self.size * entry / lev)
        np.divide(-float(self.sign), lev, out=lev)
        lev += 1.0
        entry *= lev
        self.bankrupt = readonly(entry)  # E (1 - s/L)
        del lev, entry
        self.opposite = None
        if self.other is not None:  # in the inner accounts' (sorted) order
            self.opposite = self.other.order
        elif opposite:  # the opposite side, whose profitable positions absorb bankrupt ones
            self.opposite = readonly(np.flatnonzero(positions.side == -self.sign))
        if moving:
            self.entry_s = readonly(positions.entry[o])
            self.mmr_s = readonly(positions.mmr[o])
            self.amount_s = readonly(positions.maint_amount[o])
        self.reset()

    def reset(self) -> None:
        """Every account open again, as before the shock."""
        self._next = 0  # positions self.order[:_next] are closed (fast path)
        self._bounds: list[tuple[int, int, int]] = []  # (round, start, stop) in sorted order
        self.open_interest = float(self.positions.size.sum())
        self.n_open = len(self.positions)
        self.inventory = 0.0
        self.opposite_inventory = 0.0  # units of opposite closes the venue could not take
        if self.moving:  # the state that partial closes change, in sorted order
            self.q_left = self.size.copy()
            self.m_left = self.margin.copy()
            self.closed_in = np.full(len(self.size), -1, dtype=np.int32)
        if self.other is not None:
            # One array: what auto-deleveraging takes from the opposite side and what a
            # rebound closes are the same remaining sizes.
            self.other.reset()
            self.opposite_left = self.other.q_left
            self._other_q = self.other.q_left.copy()
        elif self.opposite is not None:
            self.opposite_left = self.positions.size[self.opposite].copy()

    # ------------------------------------------------------------------------- checking
    def _reach(self, price) -> int:
        """Number of sorted positions whose liquidation price ``price`` has reached."""
        return int(np.searchsorted(self._keys, self._key_sign * price, side="right"))

    def _reached(self, price, surcharge) -> np.ndarray:
        """Sorted-order mask of open positions whose equity is at or below maintenance."""
        s = float(self.sign)
        q = self.q_left
        equity = self.m_left + s * q * (price - self.entry_s)
        rate = np.minimum(self.mmr_s + surcharge, 0.99)
        maintenance = rate * q * price - self.amount_s * (q / self.size)
        return (self.closed_in < 0) & (equity <= maintenance)

    def pending(self, price, surcharge=0.0) -> int:
        """Open accounts the check at ``price`` would catch (0 if it moved back away)."""
        if self.moving:
            return int(np.count_nonzero(self._reached(price, surcharge)))
        return max(self._reach(price) - self._next, 0)

    def in_reach(self, price, surcharge=0.0) -> np.ndarray:
        """Indices (in the caller's order) of the accounts the check at ``price`` catches."""
        if self.moving:
            return self.order[self._reached(price, surcharge)].copy()
        return self.order[self._next:self._reach(price)].copy()

    def check(self, price, surcharge=0.0) -> Closing:
        if not self.moving:
            where = slice(self._next, self._reach(price))
            return Closing(where, self.size[where], self.margin[where],
                           bankrupt=self.bankrupt[where])
        hit = np.flatnonzero(self._reached(price, surcharge))
        q, margin = self.q_left[hit], self.m_left[hit]
        entry = self.entry_s[hit]
        c = Closing(hit, q, margin, entry=entry)
        c.equity_now = self.equity_at(price, c)
        c.x = np.ones(len(hit))
        return c

    def maintenance(self, closing: Closing, price, surcharge=0.0) -> np.ndarray:
        """The maintenance requirement of the caught accounts at ``price`` (moving only)."""
        hit, q = closing.where, closing.q
        rate = np.minimum(self.mmr_s[hit] + surcharge, 0.99)
        return rate * q * price - self.amount_s[hit] * (q / self.size[hit])

    def equity_at(self, price, closing: Closing) -> np.ndarray:
        """Equity ``M + s q (P - E)`` of the caught accounts at ``price``."""
        if closing.entry is None:
            return float(self.sign) * closing.q * (price - closing.bankrupt)
        return closing.margin + float(self.sign) * closing.q * (price - closing.entry)

    def choose_whole(self, closing: Closing) -> None:
        """Bankrupt at the check price, or too small to keep: close it all (moving only)."""
        if closing.x is None:
            return
        x, q = closing.x, closing.q
        x[(closing.equity_now < 0) | ((1.0 - x) * q < 0.01 * self.size[closing.where])] = 1.0
        closing.close = x * q
        closing.margin_book = closing.margin

    # ------------------------------------------------------------------------- closing
    def close(self, closing: Closing, fill, qty, round_no, fee, *, p_before,
              off_venue_units=0.0, off_venue_closed=0) -> Settled:
        """Close the caught accounts at ``fill`` (the venue's fill of ``qty`` units), settle
        their equity (``fee(frac, close, avg)``: each one's fee, or None without a fee), and
        take them out of the open interest. Units the venue could not take pass to the fund at
        the bankruptcy price, marked at the last traded price.

        With ``closing.sold`` set (moving accounts), each account is settled at its own fill:
        ``sold`` units of its ``close`` at ``sold_price``; the rest of a whole close passes to
        the fund as above, the rest of a partial close stays with the trader."""
        if not self.moving:
            return self._close_slice(closing, fill, qty, round_no, fee, p_before)
        return self._close_fractions(closing, fill, qty, round_no, fee, p_before,
                                     off_venue_units, off_venue_closed)

    def _close_slice(self, c, fill, qty, round_no, fee, p_before) -> Settled:
        # Each position is closed at the round's average fill A: its remaining equity is
        # s q (A - B). Units the book could not take pass to the fund at B and are marked at
        # the last traded price P: the fund books s q (P - B) on them at once.
        s, q, bankrupt = float(self.sign), c.q, c.bankrupt
        frac = fill.filled / qty
        mark = fill.last_price if fill.filled > 0 else p_before
        equity = s * q * (frac * (fill.avg_price - bankrupt) if fill.filled > 0 else 0.0)
        if frac < 1.0:
            equity = equity + s * (1.0 - frac) * q * (mark - bankrupt)
        charged = None
        if fee is not None:
            charged = fee(frac, q, fill.avg_price) if fill.filled > 0 else np.zeros_like(q)
        to_fund, returned, fees = split_fee(equity, charged)
        self.inventory += qty - fill.filled
        start, stop = c.where.start, c.where.stop
        self._bounds.append((round_no, start, stop))
        self._next = stop
        n = stop - start
        self.n_open -= n
        self.open_interest = max(self.open_interest - qty, 0.0) if self.n_open else 0.0
        return Settled(to_fund, returned, fees, float(self.margin[start:stop].sum()), n, 0)

    def _close_fractions(self, c, fill, qty, round_no, fee, p_before, off_units,
                         off_closed) -> Settled:
        s = float(self.sign)
        q, margin, entry, close, m_book = c.q, c.margin, c.entry, c.close, c.margin_book
        q_book = q if c.diverted is None else q - c.diverted
        x = c.x
        full = x >= 1.0
        mark = fill.last_price if fill.filled > 0 else p_before
        if c.sold is not None:  # each account sold on its own: its own share and average
            frac = np.zeros_like(q)
            np.divide(c.sold, close, out=frac, where=close > 0)
            frac = np.minimum(frac, 1.0)
            sold_any = c.sold > 0
            avg = np.where(sold_any, c.sold_price, entry)
            pnl = np.where(sold_any, s * c.sold * (avg - entry), 0.0)
            charged = np.zeros_like(q)
            if fee is not None and sold_any.any():
                charged = np.where(sold_any, fee(frac, close, avg), 0.0)
            left_share = 1.0 - frac[full]
        else:
            # qty is 0 when auto-deleveraging took every position, or when a halt let the
            # recent move, and with it the margin surcharge, fade.
            frac = fill.filled / qty if qty > 0 else 0.0
            pnl = (s * frac * close * (fill.avg_price - entry) if fill.filled > 0
                   else np.zeros_like(q))
            charged = np.zeros_like(q)
            if fee is not None and fill.filled > 0:
                charged = fee(frac, close, fill.avg_price)
            left_share = 1.0 - frac
        # Whole closes: the filled share of the margin plus the realised PnL is the equity at
        # close; the unfilled share passes to the fund with its units, marked at the last
        # traded price. (A position matched by auto-deleveraging in full closes at its
        # bankruptcy price with zero equity: its book share, margin and units, are zero.)
        f_full = frac[full] if c.sold is not None else frac
        eq_full = f_full * m_book[full] + pnl[full]
        if np.any(left_share > 0):
            eq_full = eq_full + left_share * (m_book[full]
                                              + s * q_book[full] * (mark - entry[full]))
        to_fund, returned, fees = split_fee(eq_full, None if fee is None else charged[full])
        # Partial closes: the position keeps its margin plus the realised PnL, less the fee; a
        # margin driven below zero is topped up by the fund (the position is closed next round).
        part = ~full
        kept = margin[part] + pnl[part]
        fee_part = np.minimum(charged[part], np.maximum(kept, 0.0))
        kept -= fee_part
        fees += float(fee_part.sum())
        to_fund += float(fee_part.sum() + np.minimum(kept, 0.0).sum())
        kept = np.maximum(kept, 0.0)

        hit = c.where
        idx_full, idx_part = hit[full], hit[part]
        if c.sold is not None:
            self.inventory += float((close[full] - c.sold[full]).sum())
            part_sold = c.sold[part]
        else:
            self.inventory += (1.0 - frac) * float(close[full].sum())
            part_sold = frac * close[part]
        self.q_left[idx_part] -= part_sold
        self.m_left[idx_part] = kept
        self.q_left[idx_full] = 0.0
        self.m_left[idx_full] = 0.0
        self.closed_in[idx_full] = round_no
        self.n_open -= len(idx_full)
        removed = float(q[full].sum()) + float(part_sold.sum())
        # Both sides of each auto-deleveraging match leave the market: this side's units are
        # in q[full], the opposite side's are removed here.
        removed += off_units
        self.n_open -= off_closed
        self.open_interest = max(self.open_interest - removed, 0.0) if self.n_open else 0.0
        return Settled(to_fund, returned, fees, float(margin[full].sum()), len(idx_full),
                       int(part.sum()))

    # ------------------------------------------------------------------- the other side
    def _sync_other(self) -> None:
        """Auto-deleveraging reduced some opposite accounts' sizes (``opposite_left``): their
        margin shrinks in proportion (as its ranking assumes), and one reduced to nothing is
        gone (not liquidated: it keeps round -1)."""
        o = self.other
        changed = np.flatnonzero(o.q_left != self._other_q)
        if changed.size:
            before = self._other_q[changed]
            o.m_left[changed] *= np.divide(o.q_left[changed], before,
                                           out=np.zeros(changed.size), where=before > 0)
            self._other_q[changed] = o.q_left[changed]

    def check_opposite(self, price) -> Closing:
        """The opposite side's open accounts that ``price`` has reached (a short's
        liquidation price after a crash rebounds), to be closed whole (``both`` only)."""
        hit = self._other_reached(price)
        o = self.other
        c = Closing(hit, o.q_left[hit], o.m_left[hit], entry=o.entry_s[hit])
        c.equity_now = o.equity_at(price, c)
        c.x = np.ones(len(hit))
        o.choose_whole(c)
        return c

    def close_opposite(self, closing: Closing, fill, qty, round_no, fee, *, p_before) -> Settled:
        """Close the accounts :meth:`check_opposite` caught at ``fill`` (an order the other way
        on the venue), as :meth:`close` closes this side's; they leave the open interest."""
        o = self.other
        inventory = o.inventory
        done = o.close(closing, fill, qty, round_no, fee, p_before=p_before)
        self._other_q[closing.where] = o.q_left[closing.where]
        self.n_open -= done.n_closed
        removed = float(closing.q.sum())
        self.open_interest = max(self.open_interest - removed, 0.0) if self.n_open else 0.0
        self.opposite_inventory += o.inventory - inventory
        return done

    def pending_opposite(self, price) -> int:
        """Opposite accounts ``price`` has reached (0 unless ``both``)."""
        if self.other is None:
            return 0
        return len(self._other_reached(price))

    def _other_reached(self, price) -> np.ndarray:
        """Sorted-order indices of the open opposite accounts ``price`` has reached. Their
        thresholds never move (auto-deleveraging shrinks size and margin in proportion, and
        no other mechanism acts on this side): a ``searchsorted`` on the sorted liquidation
        prices, and a look at the accounts before that point only."""
        self._sync_other()
        o = self.other
        k = o._reach(price)
        return np.flatnonzero((o.closed_in[:k] < 0) & (o.q_left[:k] > 0))

    # ------------------------------------------------------------------------- reading
    def n_reduced_open(self) -> int:
        """Partly closed accounts still open (a partial close leaves less than the size)."""
        if not self.moving:
            return 0
        return int(np.count_nonzero((self.closed_in < 0) & (self.q_left < self.size)))

    def liquidated_round(self) -> np.ndarray:
        """Per account, the round it was closed in, or -1 while open (a new array)."""
        out = np.full(len(self.positions), -1, dtype=np.int32)
        if self.moving:
            out[self.order] = self.closed_in
            if self.other is not None:
                out[self.other.order] = self.other.closed_in
            return out
        for k, a, b in self._bounds:
            out[self.order[a:b]] = k
        return out

    def open_mask(self) -> np.ndarray:
        """True for accounts still open (a new array)."""
        out = np.ones(len(self.positions), dtype=bool)
        if self.moving:
            out[self.order] = self.closed_in < 0
            if self.opposite is not None:
                out[self.opposite] = self.opposite_left > 0
            return out
        out[self.order[:self._next]] = False
        return out

    def open_size(self) -> np.ndarray:
        """Units each account still holds (a new array)."""
        out = np.array(self.positions.size, dtype=np.float64)
        if not self.moving:
            out[self.order[:self._next]] = 0.0
            return out
        out[self.order] = self.q_left
        if self.opposite is not None:
            out[self.opposite] = self.opposite_left
        return out

    def threshold_price(self, surcharge=0.0) -> np.ndarray:
        r"""Each open account's liquidation price now, USD; NaN for closed accounts.

        Equity :math:`M + s q (P - E)` equals maintenance :math:`r q P - A q / q_0`
        (:math:`q_0` the original size, :math:`r = \min(m + \sigma, 0.99)`) at
        :math:`P = (E - s M / q - s A / q_0) / (1 - s r)`, which is
        :attr:`Positions.liquidation_price` when nothing has changed (then that array's value
        is returned as it is).
        """
        out = np.array(self.positions.liquidation_price, dtype=np.float64)
        if not self.moving:
            out[self.order[:self._next]] = np.nan
            return out
        s, q = float(self.sign), self.q_left
        is_open = self.closed_in < 0
        changed = is_open & ((q != self.size) | (self.m_left != self.margin))
        if surcharge != 0:
            changed = is_open
        k = np.flatnonzero(changed)
        if k.size:
            rate = np.minimum(self.mmr_s[k] + surcharge, 0.99)
            qk = q[k]
            num = (self.entry_s[k] - s * self.m_left[k] / qk
                   - s * self.amount_s[k] / self.size[k])
            out[self.order[k]] = num / (1.0 - s * rate)
        out[self.order[~is_open]] = np.nan
        if self.opposite is not None:
            out[self.opposite[self.opposite_left <= 0]] = np.nan
        return out
