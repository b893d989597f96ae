"""The rebound: when something moves the price back (arbitrageurs buying the perpetual up
towards its index), the opposite side's positions the move reaches are liquidated too: a
crash's wick liquidates shorts on the way back up (issue 12, item 4).

The basic model only ever moves the price one way (a crash falls, a squeeze rises), so the
opposite side is never checked. A mechanism that can move the price back declares
``moves_both_ways`` (the mark-price mechanism does when ``arbitrage > 0``); then this one is
switched on with it (``follows_both_ways``), the cascade keeps both sides' accounts
(:meth:`marginloops.accounts.PerpetualAccounts.check_opposite`), and after every other
mechanism's ``after_trade`` (the arbitrage), it

1. checks the opposite side at the price margins are checked at
   (:meth:`marginloops.Cascade.check_price`: the last traded price, or the mark);
2. closes the accounts it reached whole, by one market order the other way on the same venue
   (shorts buy back in a crash), so the price moves on in the rebound's direction: the wick;
3. settles them as any close (:meth:`~marginloops.accounts.PerpetualAccounts.close_opposite`:
   equity at the order's average fill to the insurance fund, a shortfall out of it, bad debt
   beyond it), and moves the last traded price to the order's last fill.

Simplifications, said where they are: a rebound's liquidations are market orders and close
whole positions (partial liquidation, orders at the bankruptcy price and auto-deleveraging
act on the liquidated side only); their units the venue cannot take pass to the fund at their
bankruptcy price (``rebound_unfilled``); the round's other fields (``n_liquidated``,
``qty_liquidated``, ``notional_liquidated``) count the liquidated side only, and
``to_fund``/``bad_debt`` include the rebound's money.

The chasers
-----------
A position open before the crash is solvent at the starting price, so its liquidation price
lies beyond it: a short open at the start is reached only if the rebound climbs back above the
price the crash started from. The shorts a real wick liquidates are mostly younger: traders who
sold the breakdown on the way down, at high leverage, and are caught when the price snaps
back. ``chasers`` (a share of the starting open interest, default 0: none) adds them:
:data:`CHASERS_N` positions of equal size, their entries evenly spaced over the
:data:`CHASE_RANGE` below the start (above it in a squeeze), at ``chaser_leverage`` and the
population's median maintenance rate. Each opens when the price first trades through its
entry (the lowest price of the round: the liquidation order's last fill), sold to dip buyers
at its entry off the venue (a simplification: their selling does not add to the crash), and
is checked and liquidated with the opposite side from then on. A chaser the check price has
already reached when the price goes through its entry (a mark still far above a crashed last
price) cannot open: the venue checks a new position's margin on that price too. They are
counted in the ``rebound_*`` fields and in ``chasers_open``, not in ``open_interest`` nor on
the liquidation map.
"""

from __future__ import annotations

import numpy as np

from ..accounts import split_fee
from ..params import Control, Param
from . import Mechanism, RecordField, TableColumn

#: How many chasers there are, and the range below the start their entries spread over.
CHASERS_N = 200
CHASE_RANGE = 0.3


def _count(n) -> str:
    from ..narration import count

    return count(n)


class ReboundLiquidation(Mechanism):
    name = "rebound"
    title = "rebound wicks"
    params = (
        Param("chasers", "number", 0.0, lo=0, hi=1, fraction=True,
              doc="traders who open the other way as the price moves (shorts selling the "
                  "breakdown in a crash), as a share of the starting open interest, [0, 1]; "
                  "a rebound liquidates them (only with arbitrage)",
              control=Control(
                  "Index and arbitrage", "Chasers (% of OI)",
                  "Traders who short the breakdown on the way down (buy the breakout in a "
                  "squeeze), at high leverage: when arbitrage makes the price rebound, their "
                  "liquidations make the wick",
                  lo=0.0, hi=50.0, step=1.0, per_unit=0.01, off=0.0, short="chasers {}%")),
        Param("chaser_leverage", "number", 20.0, lo=1, hi=100,
              doc="the chasers' leverage, [1, 100]",
              control=Control(
                  "Index and arbitrage", "Chasers' leverage (x)",
                  "The leverage of the traders who chase the move", lo=1.0, hi=100.0,
                  step=1.0, under="chasers", short="at {}x")),
    )
    follows_both_ways = True
    record_fields = (
        RecordField("rebound_n_liquidated", int, 0, "opposite-side positions (shorts in a "
                    "crash) liquidated this round because the price moved back to their "
                    "liquidation price (a rebound: only when arbitrage can move it back)"),
        RecordField("rebound_qty", float, 0.0, "units their liquidation traded the other way "
                    "(bought, in a crash)"),
        RecordField("rebound_avg_price", float, float("nan"), "the average price of that order "
                    "(NaN when none)"),
        RecordField("rebound_to_fund", float, 0.0, "what their closes brought the insurance "
                    "fund (negative: a shortfall), USD; included in to_fund"),
        RecordField("rebound_bad_debt", float, 0.0, "the part of a shortfall the fund could not "
                    "pay, USD; included in bad_debt_round"),
        RecordField("rebound_unfilled", float, 0.0, "units of that order the venue could not "
                    "take (taken over by the fund at their bankruptcy price)"),
        RecordField("chasers_open", int, 0, "chasers (traders who opened the other way as the "
                    "price moved) open after the round"),
    )
    table_columns = (TableColumn(
        "rebound", "rebound (positions)", lambda r, p: _count(r.rebound_n_liquidated),
        lambda history: any(r.rebound_n_liquidated for r in history), after="liquidated"),)

    @property
    def active(self) -> bool:
        return False  # on only with a mechanism that moves the price back (follows_both_ways)

    def reset(self, run) -> None:
        """The chasers, none open yet (see the module's notes)."""
        s = -float(run.accounts.sign)  # the chasers' side: short (-1) in a crash
        p0 = run.start_price
        oi_units = float(run.positions.size.sum())
        n = CHASERS_N if self.chasers > 0 and oi_units > 0 else 0  # a share of nothing: none
        # entries evenly spaced over the range the move goes through, the nearest first
        self.c_entry = p0 * (1.0 + s * CHASE_RANGE * (np.arange(1, n + 1) / max(n, 1)))
        self.c_size = np.full(n, self.chasers * oi_units * p0 / n) / self.c_entry if n else \
            np.zeros(0)
        self.c_margin = self.c_size * self.c_entry / self.chaser_leverage
        self.c_mmr = float(np.median(run.positions.mmr)) if len(run.positions) else 0.005
        # liquidation price: M + s q (P - E) = m q P  ->  P = (E - s M / q) / (1 - s m)
        self.c_liq = (self.c_entry - s * self.c_margin / self.c_size) / (1.0 - s * self.c_mmr) \
            if n else np.zeros(0)
        # 0 not open yet, 1 open, 2 closed, 3 refused (the check price had reached it)
        self.c_state = np.zeros(n, dtype=np.int8)
        self.low = p0
        self._note_check(run, run.price)

    def _note_check(self, run, last) -> None:
        """The price margins are checked at before this round's trade, when it is not the
        last traded price (a mark): new chasers are checked against it."""
        check = run.check_price()
        self.open_check = None if check == last else check

    def before_trade(self, run, st) -> None:
        self._note_check(run, st.p_before)

    def _open_chasers(self, run, st) -> None:
        """Chasers whose entry the round's extreme price went through open now."""
        if not len(self.c_state):
            return
        down = run.direction == "down"
        fill = st.fill
        prices = [run.price] + ([fill.last_price] if fill is not None and fill.filled > 0
                                else [])
        self.low = min([self.low, *prices]) if down else max([self.low, *prices])
        s = -1.0 if down else 1.0  # the chasers' side
        through = (self.c_state == 0) & (s * (self.low - self.c_entry) >= 0)
        # The venue checks a new position's margin at its check price: a chaser the mark in
        # force while it trades has already reached cannot open, and never will (state 3).
        # (On the last price it opens at its entry, never past its liquidation price.)
        refused = through & False
        if self.open_check is not None:
            refused = through & (s * (self.c_liq - self.open_check) >= 0)
        self.c_state[through & ~refused] = 1
        self.c_state[refused] = 3

    def after_trade(self, run, st) -> None:
        self._open_chasers(run, st)
        acc = run.accounts
        check = run.check_price()
        closing = acc.check_opposite(check)
        s = -float(acc.sign)
        chased = np.flatnonzero((self.c_state == 1) & (s * (self.c_liq - check) >= 0)) \
            if len(self.c_state) else np.zeros(0, dtype=int)
        if not closing.n and not chased.size:
            return
        q_c = self.c_size[chased]
        qty = closing.qty + float(q_c.sum())
        down = run.direction == "down"
        fill = run.venue.market_buy(qty) if down else run.venue.market_sell(qty)
        to_fund = fees = returned = 0.0
        if closing.n:  # one order: each settles at its average, its unfilled share to the fund
            done = acc.close_opposite(closing, fill, qty, run.round, run.fee_rule,
                                      p_before=run.price)
            to_fund, fees, returned = done.to_fund, done.fees, done.returned
        if chased.size:
            t, r, f = self._close_chasers(run, chased, fill, qty)
            to_fund, returned, fees = to_fund + t, returned + r, fees + f
        if fill.filled > 0:
            run.price = fill.last_price
            run.path[-1] = run.price
        debt = st.debt
        st.to_fund += to_fund
        st.fees += fees
        st.returned += returned
        run.book_to_fund(to_fund, st)
        st.values.update(rebound_n_liquidated=closing.n + int(chased.size),
                         rebound_qty=fill.filled, rebound_avg_price=fill.avg_price,
                         rebound_to_fund=to_fund, rebound_bad_debt=st.debt - debt,
                         rebound_unfilled=fill.unfilled)

    def _close_chasers(self, run, idx, fill, qty) -> tuple:
        """Settle the chasers ``idx`` closed by ``fill`` (of the round's ``qty``) as the
        accounts settle a whole close: the filled share at the average fill, the rest taken
        over by the fund at the bankruptcy price and carried at the last traded price.
        Returns ``(to_fund, returned, fees)``."""
        s = -float(run.accounts.sign)
        q, e, m = self.c_size[idx], self.c_entry[idx], self.c_margin[idx]
        frac = fill.filled / qty if qty > 0 else 0.0
        mark = fill.last_price if fill.filled > 0 else run.price
        equity = frac * (m + s * q * (fill.avg_price - e)) if fill.filled > 0 else 0.0 * q
        if frac < 1.0:
            equity = equity + (1.0 - frac) * (m + s * q * (mark - e))
        charged = None
        if run.fee_rule is not None:
            charged = run.fee_rule(frac, q, fill.avg_price) if fill.filled > 0 else 0.0 * q
        self.c_state[idx] = 2
        return split_fee(equity, charged)

    def keeps_going(self, run) -> bool:
        """Opposite positions within reach of the check price: the next round closes them."""
        check = run.check_price()
        s = -float(run.accounts.sign)
        chased = bool(len(self.c_state)) and bool(
            np.any((self.c_state == 1) & (s * (self.c_liq - check) >= 0)))
        return chased or run.accounts.pending_opposite(check) > 0

    def record(self, run, st) -> dict:
        out = {k: v for k, v in st.values.items() if k.startswith("rebound_")}
        out["chasers_open"] = int(np.count_nonzero(self.c_state == 1))
        return out

    # ------------------------------------------------------------------ words
    @staticmethod
    def sentence(rec) -> str:
        from ..narration import money, plural, price, units

        if not rec.rebound_n_liquidated:
            return ""
        crash = rec.direction == "down"
        other = "short" if crash else "long"
        way = "back up" if crash else "back down"
        verb = "buying back" if crash else "selling"
        text = (f" On the way {way}, the price reached the liquidation price of "
                f"{plural(rec.rebound_n_liquidated, other)}: {verb} "
                f"{units(rec.rebound_qty)} at {price(rec.rebound_avg_price)} on average took "
                f"the price to {price(rec.price_after)}, a wick")
        if rec.rebound_to_fund < 0:
            text += f"; their closes cost the insurance fund {money(-rec.rebound_to_fund)}"
        if rec.rebound_bad_debt > 0:
            text += f", {money(rec.rebound_bad_debt)} of it bad debt"
        return text + "."

    @staticmethod
    def notes(rec) -> list[str]:
        return ["rebound liquidations"] if rec.rebound_n_liquidated else []
