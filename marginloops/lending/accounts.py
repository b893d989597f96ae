"""Lending accounts: borrowers with collateral coins and a stablecoin debt, as
:class:`~marginloops.accounts.Accounts`.

The account protocol's ideas map onto a lending position: the **threshold price** is the
oracle price at which the health factor reaches 1, ``debt / (collateral · LT)``; the **equity
at a price** is ``collateral · price - debt``; a check at a price catches every open account
whose threshold is above it (health factor below 1). The lending cascade
(:class:`~marginloops.lending.LendingCascade`) settles Aave's liquidation calls through
:meth:`LendingAccounts.apply`; the protocol's ``close`` does the same for a caught set.

Everything is vectorised: the state is a few float64 arrays (collateral, debt, the threshold
price), updated where a round liquidated.
"""

from __future__ import annotations

import math

import numpy as np

from .._checks import readonly
from ..accounts import Closing, Settled

__all__ = ["CANDIDATE_MARGIN", "LendingAccounts"]

#: How far below the price it checks :meth:`LendingAccounts.under` brings accounts into view
#: when it must look at all of them again: 3%.
CANDIDATE_MARGIN = 0.03


class LendingAccounts:
    """Borrowers of one collateral coin against a stablecoin debt.

    Parameters
    ----------
    collateral : coins per account (> 0)
    debt : USD per account (>= 0)
    liquidation_threshold : LT, shared by every account (one collateral asset)

    Arrays (in the caller's order, updated as the run liquidates): ``collateral``, ``debt``;
    ``liquidated_in``: the round each account was first liquidated in (-1: never).
    """

    sign = 1  # collateral is sold when a liquidation seizes it

    def __init__(self, collateral, debt, liquidation_threshold):
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
        self.start_collateral = readonly(c.copy())
        self.start_debt = readonly(d.copy())
        self.positions = None
        self.version = 0  # counts the changes apply() made (and resets)
        self._dirty = True
        self.reset()

    def __len__(self) -> int:
        return len(self.start_debt)

    def reset(self) -> None:
        """Every account as at the start."""
        if not self._dirty:
            return
        self._dirty = False
        self.version += 1
        self._bound = np.inf  # see under(): accounts not yet in view have thresholds <= it
        self._active = np.zeros(0, dtype=np.intp)
        self._parked = np.zeros(0, dtype=np.intp)
        self._band = np.zeros(0, dtype=np.intp)
        self._band_keys = np.zeros(0)
        self.collateral = self.start_collateral.copy()
        self.debt = self.start_debt.copy()
        self._thr = np.empty_like(self.debt)
        np.multiply(self.collateral, self.lt, out=self._thr)
        np.divide(self.debt, self._thr, out=self._thr)
        self._thr[self.debt <= 0] = -np.inf
        if not hasattr(self, "_thr0"):
            self._thr0 = readonly(self._thr.copy())
        self.liquidated_in = np.full(len(self.debt), -1, dtype=np.int32)
        self.n_open = int(np.count_nonzero(self.debt > 0))
        self.open_interest = float(self.collateral[self.debt > 0].sum())
        self.debt_left = float(self.debt.sum())
        self.collateral_left = float(self.collateral.sum())
        self.inventory = 0.0  # coins liquidators hold unsold
        self._reduced = 0

    # ------------------------------------------------------------------------- reading
    def health_factor(self, price) -> np.ndarray:
        """Each account's health factor at ``price`` (``inf`` where no debt is left)."""
        from .rules import health_factor
        return np.asarray(health_factor(self.collateral, price, self.lt, self.debt))

    def threshold_price(self, surcharge: float = 0.0) -> np.ndarray:
        """The oracle price at which each account's health factor is 1,
        ``debt / (collateral · LT)`` (NaN where no debt is left)."""
        out = self._thr.copy()
        out[~np.isfinite(out)] = np.nan
        return out

    def _extend(self, price) -> None:
        """Bring every account whose threshold may be above ``price`` into view (see
        :meth:`under`): one pass over the starting thresholds of the accounts not yet in
        view, down to :data:`CANDIDATE_MARGIN` below ``price``."""
        bound = price * (1.0 - CANDIDATE_MARGIN)
        thr0 = self._thr0
        mask = thr0 > bound
        if math.isfinite(self._bound):
            mask &= thr0 <= self._bound
        idx = np.flatnonzero(mask)
        del mask
        t = thr0[idx]
        above = t > price
        parked = self._parked
        back = self._thr[parked] > bound
        self._parked = parked[~back]
        self._active = np.concatenate((self._active, parked[back], idx[above]))
        below = ~above
        self._band = np.concatenate((self._band, idx[below]))
        self._band_keys = np.concatenate((self._band_keys, t[below]))
        self._bound = bound

    def under(self, price) -> np.ndarray:
        """Indices of the open accounts whose threshold price is above ``price`` (health factor
        below 1 there).

        Without a pass over every account: the accounts are kept in three groups. **Active**
        ones were in reach of some earlier check (their thresholds may have moved since, by a
        liquidation); they are checked one by one (those with no debt left are dropped). The
        **band**: accounts never in reach whose starting threshold is between ``_bound`` and the
        last price checked, their starting thresholds side by side, so that a check reads a few
        percent of the accounts only. The **rest**, below ``_bound``: no account there was ever
        in reach, so none was liquidated and its threshold is still its starting one; a check at
        a price below ``_bound`` first extends the band (:meth:`_extend`, one pass over the
        starting thresholds): in a crash, once every few percent of fall.
        """
        if not price >= self._bound:
            self._extend(price)
        if len(self._band):
            take = self._band_keys > price
            if take.any():
                self._active = np.concatenate((self._active, self._band[take]))
                keep = ~take
                self._band, self._band_keys = self._band[keep], self._band_keys[keep]
        act = self._active
        thr = self._thr[act]
        near = thr > self._bound
        if not near.all():  # closed (threshold -inf), or moved below the bound: park them
            far = act[~near & (thr > -np.inf)]
            if len(far):
                self._parked = np.concatenate((self._parked, far))
            act, thr = act[near], thr[near]
            self._active = act
        return act[thr > price]

    def pending(self, price, surcharge: float = 0.0) -> int:
        return len(self.under(price))

    def in_reach(self, price, surcharge: float = 0.0) -> np.ndarray:
        return self.under(price)

    def open_mask(self) -> np.ndarray:
        return self.debt > 0

    def open_size(self) -> np.ndarray:
        """Collateral each open account still holds, coins (0 once closed)."""
        return np.where(self.debt > 0, self.collateral, 0.0)

    def liquidated_round(self) -> np.ndarray:
        return self.liquidated_in.copy()

    def n_reduced_open(self) -> int:
        """Accounts liquidated at least once and still open."""
        return int(np.count_nonzero((self.liquidated_in >= 0) & (self.debt > 0)))

    def underwater(self, price, among=None) -> tuple[int, float]:
        """Open accounts whose collateral at ``price`` is worth less than their debt: how many,
        and their debt (USD). ``C·P < D`` is ``threshold > P / LT``. ``among``: look only at
        these indices (a superset of the answer: the accounts under 1 at ``price`` or at a
        lower price, none liquidated since)."""
        if among is None:
            idx = self.under(price / self.lt)  # price / LT >= price: inside the candidates
        else:
            idx = among[self._thr[among] > price / self.lt]
        return len(idx), float(self.debt[idx].sum())

    # ------------------------------------------------------------------------- protocol
    def equity_at(self, price, closing: Closing) -> np.ndarray:
        """``collateral · price - debt`` of the accounts of ``closing``, USD."""
        return closing.q * price - closing.margin

    def check(self, price, surcharge: float = 0.0) -> Closing:
        """The accounts whose health factor is below 1 at ``price``: ``q`` their collateral
        (coins), ``margin`` their debt (USD)."""
        hit = self.under(price)
        c = Closing(hit, self.collateral[hit], self.debt[hit])
        c.equity_now = c.q * price - c.margin
        c.x = np.ones(len(hit))
        return c

    def choose_whole(self, closing: Closing) -> None:
        """Nothing to choose here: the close factor decides how much each call repays."""

    def close(self, closing: Closing, fill, qty, round_no, fee, *, p_before,
              off_venue_units=0.0, off_venue_closed=0) -> Settled:
        """Liquidate the caught accounts as far as Aave's default rules allow at ``p_before``
        (the oracle's price), with a 5% bonus and no protocol fee; ``fill`` is not used (a
        liquidation is priced by the oracle, not the sale)."""
        from .rules import liquidation_call
        liq = liquidation_call(closing.q, closing.margin, p_before,
                               liquidation_threshold=self.lt, bonus=1.05, protocol_fee=0.0)
        n_closed, n_reduced = self.apply(closing.where, liq, round_no)
        return Settled(0.0, 0.0, 0.0, float(np.sum(liq.bad_debt)), n_closed, n_reduced)

    def apply(self, idx, liq, round_no) -> tuple[int, int]:
        """Settle the liquidations ``liq`` (a :class:`~marginloops.lending.Liquidation` over the
        accounts ``idx``; reverted calls change nothing): collateral and debt after, bad debt
        removed. Returns ``(closed, reduced)``: accounts left without debt, and accounts
        liquidated and still open."""
        done = ~np.asarray(liq.reverted)
        if done.all():
            sel, pick = idx, (lambda a: np.asarray(a))
        else:
            sel, pick = idx[done], (lambda a: np.asarray(a)[done])
        self._dirty = True
        self.version += 1
        c_after, d_after = pick(liq.collateral_after), pick(liq.debt_after)
        seized = float(pick(liq.seized).sum())
        self.collateral_left -= seized
        self.debt_left -= float(pick(liq.repaid).sum()) + float(pick(liq.bad_debt).sum())
        self.collateral[sel] = c_after
        self.debt[sel] = d_after
        first = sel[self.liquidated_in[sel] < 0]
        self.liquidated_in[first] = round_no
        closed = d_after <= 0
        thr = c_after * self.lt
        np.divide(d_after, thr, out=thr, where=~closed)
        thr[closed] = -np.inf
        self._thr[sel] = thr
        n_closed = int(np.count_nonzero(closed))
        keep = ~closed
        self.n_open -= n_closed
        self.open_interest -= seized + float(c_after[closed].sum())
        return n_closed, int(np.count_nonzero(keep))
