"""Lending accounts: borrowers with collateral coins and a stablecoin debt, as
:class:`~marginloops.accounts.Accounts`.

The account protocol's ideas map onto a lending position: the **threshold price** is the
oracle price at which the health factor reaches 1, ``debt / (collateral · LT)``; the **equity
at a price** is ``collateral · price - debt``; a check at a price catches every open account
whose threshold is above it (health factor below 1). The lending cascade
(:class:`~marginloops.lending.LendingCascade`) settles Aave's liquidation calls through
:meth:`LendingAccounts.apply`; the protocol's ``close`` does the same for a caught set.

Everything is vectorised: the state is a few float64 arrays (collateral, debt, the threshold
price) sorted once by the starting threshold price, updated where a round liquidated.
"""

from __future__ import annotations

import numpy as np

from .._checks import readonly
from ..accounts import Closing, Settled

__all__ = ["BUCKET_SHIFT", "CANDIDATE_MARGIN", "LendingAccounts"]

#: Bits of a float64 threshold dropped to make its bucket: 52 - 7 (7 bits of mantissa left).
BUCKET_SHIFT = 45
#: The last bucket (int16): accounts without debt, and thresholds below ``top·2^-255``.
LAST_BUCKET = 32767

#: An account a liquidation lifted to a threshold this far below the price of the check is
#: parked (see :meth:`LendingAccounts.under_pos`): 3%.
CANDIDATE_MARGIN = 0.03


class LendingAccounts:
    """Borrowers of one collateral coin against a stablecoin debt.

    Parameters
    ----------
    collateral : coins per account (> 0)
    debt : USD per account (>= 0)
    liquidation_threshold : LT, shared by every account (one collateral asset)
    bonus, protocol_fee : used by the protocol's :meth:`close` only (the cascade passes its
        scenario's rules to :func:`~marginloops.lending.liquidation_call` itself)

    Read in the caller's order (fresh arrays on each read, as the run left them):
    ``collateral``, ``debt``, ``liquidated_in`` (the round each account was first liquidated
    in, -1: never), ``start_collateral``, ``start_debt``.

    Inside, the accounts are ordered once by their starting threshold price, highest first, in
    buckets at most 0.8% wide (``order``: position -> caller's index; a radix sort of the bucket
    numbers), as :class:`~marginloops.PerpetualAccounts` sorts by liquidation price: a check
    then reaches new accounts as a prefix, and every array it reads is read in increasing
    positions. Methods ending in ``_pos`` and :meth:`apply` speak
    in those positions.
    """

    sign = 1  # collateral is sold when a liquidation seizes it

    def __init__(self, collateral, debt, liquidation_threshold, *, bonus=1.05,
                 protocol_fee=0.10):
        c = np.ascontiguousarray(collateral, dtype=float)
        d = np.ascontiguousarray(debt, dtype=float)
        if c.shape != d.shape or c.ndim != 1:
            raise ValueError(f"collateral and debt must be 1-d arrays of one length, got shapes "
                             f"{c.shape} and {d.shape}")
        # min and max carry a NaN through, so these refuse NaN too
        if len(c) and not (c.min() > 0 and c.max() < np.inf):
            raise ValueError("collateral must be finite numbers > 0")
        if len(d) and not (d.min() >= 0 and d.max() < np.inf):
            raise ValueError("debt must be finite numbers >= 0")
        self.lt = float(liquidation_threshold)
        self.bonus, self.protocol_fee = float(bonus), float(protocol_fee)  # for close()
        # Bucket the accounts by starting threshold price, highest first, and order them by
        # bucket (a radix sort of int16 bucket numbers, cheaper than a full sort): a check then
        # reaches new accounts bucket by bucket, as a prefix. A bucket is the threshold's
        # float64 bits without their last BUCKET_SHIFT: the exponent and 7 bits of mantissa,
        # so thresholds 2^-7 (0.8%) apart at most share one, and the order of the bits is the
        # order of the (positive) numbers.
        thr = c * self.lt
        np.divide(d, thr, out=thr)  # 0 where no debt
        keys = thr.view(np.int64) >> BUCKET_SHIFT
        del thr
        top = int(keys.max()) if len(keys) else 0
        np.subtract(top, keys, out=keys)
        np.minimum(keys, LAST_BUCKET, out=keys)
        if not (d > 0).all():
            keys[d <= 0] = LAST_BUCKET
        buckets = keys.astype(np.int16)
        del keys
        order = np.argsort(buckets, kind="stable")  # radix sort for int16
        counts = np.bincount(buckets, minlength=LAST_BUCKET + 1)
        del buckets
        self._starts = readonly(np.concatenate(([0], np.cumsum(counts))))
        self._top = top
        self.order = readonly(order)
        self._c0 = readonly(c[order])
        self._d0 = readonly(d[order])
        thr = self._c0 * self.lt
        np.divide(self._d0, thr, out=thr)
        thr[self._d0 <= 0] = -np.inf
        self._thr0 = readonly(thr)
        self.positions = None
        self.version = 0  # counts the changes apply() made (and resets)
        self._dirty = True
        self.reset()

    def __len__(self) -> int:
        return len(self.order)

    def reset(self) -> None:
        """Every account as at the start."""
        if not self._dirty:
            return
        self._dirty = False
        self.version += 1
        self._c = self._c0.copy()
        self._d = self._d0.copy()
        self._thr = self._thr0.copy()  # -inf where no debt
        self._liq_in = np.full(len(self._c), -1, dtype=np.int32)
        self._head = 0  # positions below it were reached by some check
        self._next_bucket = 0  # the first bucket not reached yet (its start is _head)
        self._active = np.zeros(0, dtype=np.intp)  # reached, open, near: checked one by one
        self._parked = np.zeros(0, dtype=np.intp)  # reached, open, thresholds <= _park_line
        self._park_line = -np.inf
        self.n_open = int(np.count_nonzero(self._d0 > 0))
        self.debt_left = float(self._d0.sum())
        self.collateral_left = float(self._c0.sum())
        self.open_interest = (self.collateral_left if self.n_open == len(self._c)
                              else float(self._c0[self._d0 > 0].sum()))
        self.inventory = 0.0  # coins liquidators hold unsold

    # ------------------------------------------------------------------ the caller's order
    def _caller(self, internal) -> np.ndarray:
        out = np.empty_like(internal)
        out[self.order] = internal
        return out

    @property
    def collateral(self) -> np.ndarray:
        """Collateral of each account now, coins (a fresh array, the caller's order)."""
        return self._caller(self._c)

    @property
    def debt(self) -> np.ndarray:
        """Debt of each account now, USD (a fresh array, the caller's order)."""
        return self._caller(self._d)

    @property
    def liquidated_in(self) -> np.ndarray:
        """The round each account was first liquidated in, -1 if never (the caller's order)."""
        return self._caller(self._liq_in)

    @property
    def start_collateral(self) -> np.ndarray:
        return self._caller(self._c0)

    @property
    def start_debt(self) -> np.ndarray:
        return self._caller(self._d0)

    def state(self, pos) -> tuple[np.ndarray, np.ndarray]:
        """``(collateral, debt)`` of the accounts at the positions ``pos``."""
        return self._c[pos], self._d[pos]

    # ------------------------------------------------------------------------- reading
    def health_factor(self, price) -> np.ndarray:
        """Each account's health factor at ``price`` (``inf`` where no debt is left)."""
        from .rules import health_factor
        return np.asarray(health_factor(self.collateral, price, self.lt, self.debt))

    def threshold_price(self, surcharge: float = 0.0) -> np.ndarray:
        """The oracle price at which each account's health factor is 1,
        ``debt / (collateral · LT)`` (NaN where no debt is left), in the caller's order."""
        out = self._caller(self._thr)
        out[~np.isfinite(out)] = np.nan
        return out

    def under_pos(self, price) -> np.ndarray:
        """Positions (ascending) of the open accounts whose threshold price is above ``price``
        (health factor below 1 there).

        Without a pass over every account. Positions from ``_head`` on were never reached by a
        check, so never liquidated: their thresholds are their starting ones, in buckets at most
        0.8% wide, and a check reaches them as a prefix: the buckets that can hold a threshold
        above the price join the active accounts. Reached accounts are **active** (checked one
        by one, in increasing positions) or **parked**: a liquidation lifted their health factor
        so that their threshold fell to ``_park_line`` or below (:data:`CANDIDATE_MARGIN` below
        the price of the check that parked them). A parked account is not liquidated, so its
        threshold stays; a check below ``_park_line`` looks at them again. Accounts with no debt
        left are dropped.
        """
        # every account whose threshold is above the price is in a bucket up to the price's
        want = self._top - (int(np.float64(price).view(np.int64)) >> BUCKET_SHIFT) + 1
        want = min(max(want, 0), LAST_BUCKET + 1)
        if want > self._next_bucket:
            new = int(self._starts[want])
            self._active = np.concatenate((self._active, np.arange(self._head, new)))
            self._head, self._next_bucket = new, want
        line = price * (1.0 - CANDIDATE_MARGIN)
        if price <= self._park_line and len(self._parked):
            parked = self._parked
            back = self._thr[parked] > line
            if back.any():
                self._active = np.sort(np.concatenate((self._active, parked[back])))
                self._parked = parked[~back]
            self._park_line = line
        act = self._active
        thr = self._thr[act]
        near = thr > line
        n_far = len(act) - int(np.count_nonzero(near))
        if n_far * 8 > len(act):  # closed (threshold -inf), or fell far below the price: park
            # (a few far ones are left in place until there are more: they are never under)
            far = act[~near & (thr > -np.inf)]
            if len(far):
                self._parked = np.concatenate((self._parked, far))
                self._park_line = max(self._park_line, line)
            act, thr = act[near], thr[near]
            self._active = act
        return act[thr > price]

    def under(self, price) -> np.ndarray:
        """Indices (the caller's order) of the open accounts under a health factor of 1 at
        ``price``."""
        return self.order[self.under_pos(price)]

    def pending(self, price, surcharge: float = 0.0) -> int:
        return len(self.under_pos(price))

    def in_reach(self, price, surcharge: float = 0.0) -> np.ndarray:
        return self.under(price)

    def open_mask(self) -> np.ndarray:
        return self.debt > 0

    def open_size(self) -> np.ndarray:
        """Collateral each open account still holds, coins (0 once closed)."""
        return self._caller(np.where(self._d > 0, self._c, 0.0))

    def liquidated_round(self) -> np.ndarray:
        return self.liquidated_in

    def n_reduced_open(self) -> int:
        """Accounts liquidated at least once and still open."""
        return int(np.count_nonzero((self._liq_in >= 0) & (self._d > 0)))

    def underwater(self, price, among=None) -> tuple[int, float]:
        """Open accounts whose collateral at ``price`` is worth less than their debt: how many,
        and their debt (USD). ``C·P < D`` is ``threshold > P / LT``. ``among``: look only at
        these positions (a superset of the answer: the accounts under 1 at ``price`` or at a
        lower price, none liquidated since)."""
        if among is None:
            pos = self.under_pos(price / self.lt)
        else:
            pos = among[self._thr[among] > price / self.lt]
        return len(pos), float(self._d[pos].sum())

    # ------------------------------------------------------------------------- protocol
    def equity_at(self, price, closing: Closing) -> np.ndarray:
        """``collateral · price - debt`` of the accounts of ``closing``, USD."""
        return closing.q * price - closing.margin

    def check(self, price, surcharge: float = 0.0) -> Closing:
        """The accounts whose health factor is below 1 at ``price`` (``where``: positions):
        ``q`` their collateral (coins), ``margin`` their debt (USD)."""
        hit = self.under_pos(price)
        c = Closing(hit, self._c[hit], self._d[hit])
        c.equity_now = c.q * price - c.margin
        c.x = np.ones(len(hit))
        return c

    def choose_whole(self, closing: Closing) -> None:
        """Nothing to choose here: the close factor decides how much each call repays."""

    def close(self, closing: Closing, fill, qty, round_no, fee, *, p_before,
              off_venue_units=0.0, off_venue_closed=0) -> Settled:
        """Liquidate the caught accounts as far as Aave's default rules allow at ``p_before``
        (the oracle's price), with the accounts' ``bonus`` and ``protocol_fee``; ``fill`` is
        not used (a liquidation is priced by the oracle, not the sale)."""
        from .rules import liquidation_call
        liq = liquidation_call(closing.q, closing.margin, p_before, liquidation_threshold=self.lt,
                               bonus=self.bonus, protocol_fee=self.protocol_fee)
        n_closed, n_reduced = self.apply(closing.where, liq, round_no)
        return Settled(0.0, 0.0, 0.0, float(np.sum(liq.bad_debt)), n_closed, n_reduced)

    def apply(self, pos, liq, round_no, mask=None) -> tuple[int, int]:
        """Settle the liquidations ``liq`` (a :class:`~marginloops.lending.Liquidation` over the
        accounts at the positions ``pos``; reverted calls change nothing; ``mask``: settle
        only these of them): collateral and debt after, bad debt removed. Returns ``(closed,
        reduced)``: accounts left without debt, and accounts liquidated and still open."""
        done = ~np.asarray(liq.reverted)
        if mask is not None:
            done &= mask
        if done.all():
            sel, pick = pos, (lambda a: np.asarray(a))
        else:
            sel, pick = pos[done], (lambda a: np.asarray(a)[done])
        self._dirty = True
        self.version += 1
        c_after, d_after = pick(liq.collateral_after), pick(liq.debt_after)
        seized = float(pick(liq.seized).sum())
        self.collateral_left -= seized
        self.debt_left -= float(pick(liq.repaid).sum()) + float(pick(liq.bad_debt).sum())
        self._c[sel] = c_after
        self._d[sel] = d_after
        first = sel[self._liq_in[sel] < 0]
        self._liq_in[first] = round_no
        closed = d_after <= 0
        thr = c_after * self.lt
        np.divide(d_after, thr, out=thr, where=~closed)
        thr[closed] = -np.inf
        self._thr[sel] = thr
        n_closed = int(np.count_nonzero(closed))
        self.n_open -= n_closed
        self.open_interest -= seized + float(c_after[closed].sum())
        return n_closed, len(sel) - n_closed
