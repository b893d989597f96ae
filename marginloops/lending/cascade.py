"""The lending cascade: shock, oracle, health check, liquidators, sale, settlement, record.

One round (round 0 is the shock alone):

0. **Shock** (round 0 only): an outside seller pushes the venue's price down by ``shock``.
   The oracle has not seen it yet: it reads the venue at the start of the next round.
1. **Oracle**: the "venue" oracle reads the venue's price; the "push" oracle (Chainlink-style)
   reports it only when it is at least ``deviation`` away from its last report, or when
   ``heartbeat`` rounds have passed since that report.
2. **Check**: every account's health factor at the oracle's price.
3. **Liquidators**: for every account under 1, one ``liquidationCall`` repaying as much as the
   close factor allows (:func:`~marginloops.lending.liquidation_call`); a liquidator skips an
   account when ``to_liquidator · venue price - repaid - gas_cost < 0`` (it expects to sell at
   the venue's price before this round's sales), and a call the dust rule would revert
   changes nothing (the liquidator cannot repay more than the close factor allows, so it
   waits). One call per account per round: an account still under 1 afterwards is called
   again next round.
4. **Sale**: the liquidators sell all the coins they received (``to_liquidator``) as one
   market sell on the venue; what the venue cannot take they hold. The protocol's fee coins
   are kept by the protocol's treasury, not sold.
5. **Settle**: collateral and debt after each call; debt left where no collateral is left is
   bad debt (burned from the borrower, the reserve's deficit: Aave v3.3).
6. **Record** (:class:`LendingRecord`), and decide the end.

The end (``end_reason`` of the last record): "venue_exhausted" when the venue could not take
the whole sale (or has no bid left); else "fixed_point" when no account would be liquidated at
the oracle's next price **and** none at the price the oracle will eventually report if the
venue does not move (the venue's price, when the oracle will update: always for the "venue"
oracle, for the "push" oracle when the deviation is reached or a heartbeat is set; else its
stale price). So a run whose push oracle lags the pool goes on through quiet rounds until the
heartbeat brings the oracle to the pool's price, when that would liquidate someone; it ends
when nothing more can happen. Else "max_rounds" after ``max_rounds`` rounds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .._checks import readonly, same_fields
from .accounts import LendingAccounts
from .rules import liquidation_arrays
from .scenario import LendingScenario

__all__ = ["END_REASONS", "LendingCascade", "LendingRecord"]

END_REASONS = ("fixed_point", "venue_exhausted", "max_rounds")


@dataclass(frozen=True, eq=False)
class LendingRecord:
    """The immutable record of one round of a lending cascade (round 0 is the shock).

    round : 0 for the shock, then 1, 2, ...
    price_before, price_after : the venue's price (its best bid: what a seller of one coin
        gets) before and after the round, USD
    oracle_before, oracle_price : the oracle's price before the round and the one this round
        checked health factors at, USD
    oracle_updated : the oracle reported this round
    oracle_next_in : rounds until the oracle's next report if the venue's price stays where it
        is (1: next round; -1: never, a push oracle without heartbeat below its deviation)
    n_below_one : accounts whose health factor at ``oracle_price`` was below 1
    n_liquidated : liquidation calls made (one per account)
    n_skipped_gas : accounts under 1 the liquidators skipped because the call would not pay:
        the coins it brings at the venue's price, less the debt repaid and ``gas_cost``, is
        negative (small accounts; or an oracle above the venue's price)
    n_skipped_dust : accounts under 1 whose call the dust rule reverts
    n_closed : accounts left with no debt this round (repaid in full, or bad debt written off)
    repaid_usd : debt repaid, USD
    seized_qty : collateral taken, coins (the protocol's fee included)
    protocol_fee_qty : coins the protocol's treasury kept (not sold)
    liquidator_profit_usd : the liquidators' USD from this round's sale, plus the coins they
        could not sell at ``price_after``, less ``repaid_usd`` and the gas of the calls
    sold_qty, unsold_qty : coins of the liquidators' sale the venue took, and could not take
    held_qty : coins the liquidators hold unsold, so far
    avg_fill_price : the sale's average price (NaN when nothing sold; round 0: the shock's)
    slippage : ``|avg_fill_price - price_before| / price_before`` (0 when nothing sold)
    book_prices, book_qty : the levels (a pool: price steps) this round's sale took, best
        first, and the coins taken from each (read-only arrays)
    shock_qty : coins the outside seller sold (round 0)
    bad_debt_round, bad_debt : debt written off where collateral ran out, this round / so far
    underwater_debt : debt of open accounts whose collateral at ``oracle_price`` is worth less
        than the debt (economically bad debt, not written off while collateral remains)
    debt_left : debt of all accounts, USD; collateral_left : their collateral, coins
    n_open : accounts with debt
    pending : accounts under 1 at the oracle's next price (next round's check)
    base_reserve, quote_reserve : the pool's coins and USD after the round (NaN for a book)
    end_reason : None, or why the run stops after this round (:data:`END_REASONS`)
    venue : "pool" or "book"
    """

    round: int
    price_before: float
    price_after: float
    oracle_before: float
    oracle_price: float
    oracle_updated: bool
    oracle_next_in: int
    n_below_one: int
    n_liquidated: int
    n_skipped_gas: int
    n_skipped_dust: int
    n_closed: int
    repaid_usd: float
    seized_qty: float
    protocol_fee_qty: float
    liquidator_profit_usd: float
    sold_qty: float
    unsold_qty: float
    held_qty: float
    avg_fill_price: float
    slippage: float
    book_prices: np.ndarray
    book_qty: np.ndarray
    shock_qty: float
    bad_debt_round: float
    bad_debt: float
    underwater_debt: float
    debt_left: float
    collateral_left: float
    n_open: int
    pending: int
    base_reserve: float
    quote_reserve: float
    end_reason: str | None
    venue: str

    __hash__ = None

    def __eq__(self, other):
        """Field by field; arrays by value and NaN equal to NaN, so histories compare."""
        if not isinstance(other, LendingRecord):
            return NotImplemented
        return same_fields(self, other)

    @property
    def is_shock(self) -> bool:
        return self.round == 0

    @property
    def price_change(self) -> float:
        """The venue's move this round as a fraction of ``price_before`` (negative: down)."""
        return self.price_after / self.price_before - 1.0


def venue_price(venue) -> float:
    """What a seller of one coin gets on ``venue`` now (its best bid), NaN when nothing."""
    bid = venue.best_bid
    return math.nan if bid is None else float(bid)


class LendingCascade:
    """A lending market's liquidation cascade, one round per :meth:`step`.

    ``LendingCascade(scenario)`` builds the borrowers and the venue from a
    :class:`LendingScenario`; ``accounts`` (a :class:`LendingAccounts`) may be given instead of
    the scenario's seeded population (the benchmark does; its ``liquidation_threshold`` should
    be the scenario's).

    Attributes: ``scenario``; ``accounts`` (:class:`LendingAccounts`: ``collateral``,
    ``debt``, ``health_factor(price)``, ``threshold_price()``); ``venue`` (the working pool or
    book) and ``initial_venue`` (before the shock); ``price`` (the venue's price now: its best
    bid, what a seller of one coin gets; the pool is placed at spot ``price / (1 - pool_fee)``
    so that it starts at the scenario's price); ``oracle_price``; ``history``; ``ended``;
    ``end_reason``; ``bad_debt``, ``held`` (coins the liquidators could not sell),
    ``protocol_fee_qty`` (coins the protocol's treasury kept) so far.
    """

    def __init__(self, scenario: LendingScenario | None = None, *, accounts=None):
        if scenario is None:
            scenario = LendingScenario()
        if not isinstance(scenario, LendingScenario):
            raise ValueError(f"scenario must be a LendingScenario, got {type(scenario).__name__}")
        self.scenario = s = scenario
        if accounts is None:
            accounts = LendingAccounts(*s.population(), s.liquidation_threshold, bonus=s.bonus,
                                       protocol_fee=s.protocol_fee)
        self.accounts = accounts
        self.initial_venue = s.venue_model()
        # the venue's best bid is the scenario's price up to rounding (the pool's is (1 - fee)
        # times a spot placed at price / (1 - fee)): start from the price as given
        self.start_price = s.price
        self._rules = dict(liquidation_threshold=s.liquidation_threshold, bonus=s.bonus,
                           protocol_fee=s.protocol_fee, close_factor=s.close_factor,
                           full_below=s.full_below, small_usd=s.small_usd, dust_usd=s.dust_usd)
        self.reset()

    def reset(self) -> None:
        """Back to before the shock."""
        self.venue = self.initial_venue.copy()
        self.accounts.reset()
        self.price = self.start_price
        self.oracle_price = self.start_price
        self._last_update = 0
        self.round = 0
        self.history: list[LendingRecord] = []
        self.end_reason: str | None = None
        self.bad_debt = 0.0
        self._plan_cache = None
        self.held = 0.0
        self.protocol_fee_qty = 0.0

    @property
    def ended(self) -> bool:
        return self.end_reason is not None

    # ------------------------------------------------------------------------- oracle
    def next_oracle(self, round_no=None) -> tuple[float, bool]:
        """The oracle's price in round ``round_no`` (default: the next one) if the venue stays
        at its price now, and whether it reports then."""
        s = self.scenario
        r = self.round if round_no is None else round_no
        v, o = self.price, self.oracle_price
        if s.oracle == "venue":
            return v, True
        if not math.isfinite(v):
            return o, False
        if abs(v / o - 1.0) >= s.deviation or (s.heartbeat and r - self._last_update
                                               >= s.heartbeat):
            return v, True
        return o, False

    def _next_in(self) -> int:
        """Rounds until the oracle's next report if the venue stays (-1: never)."""
        s = self.scenario
        if s.oracle == "venue" or abs(self.price / self.oracle_price - 1.0) >= s.deviation:
            return 1
        if not s.heartbeat:
            return -1
        return max(s.heartbeat - (self.round - self._last_update), 1)

    # ------------------------------------------------------------------------- liquidators
    def plan(self, oracle: float):
        """What the liquidators would do at the oracle price ``oracle`` with the venue as it
        is: ``(idx, liq, go, skipped_gas)``: the accounts under 1 (indices in the caller's
        order), Aave's call on each (:func:`liquidation_call`, as much as allowed), the calls
        they make, and the accounts skipped because the call would not pay its gas."""
        pos, liq, go, skipped = self._plan(oracle)
        return self.accounts.order[pos], liq, go, skipped

    def _plan(self, oracle: float):
        """:meth:`plan` with the accounts' positions (:class:`LendingAccounts` order)."""
        acc = self.accounts
        key = (oracle, self.price, acc.version, id(acc))
        if self._plan_cache is not None and self._plan_cache[0] == key:
            return self._plan_cache[1]
        pos = acc.under_pos(oracle)
        c, d = acc.state(pos)
        liq = liquidation_arrays(c, d, float(oracle), **self._rules)
        profit = liq.to_liquidator * self.price - liq.repaid - self.scenario.gas_cost
        ok = ~liq.reverted
        go = ok & (profit >= 0.0)
        out = pos, liq, go, ok & (profit < 0.0)
        self._plan_cache = (key, out)
        return out

    # ------------------------------------------------------------------------- rounds
    def step(self) -> LendingRecord | None:
        """Play one round (the first call is round 0, the shock); None once ended."""
        if self.ended:
            return None
        s, acc = self.scenario, self.accounts
        r = self.round
        p_before, o_before = self.price, self.oracle_price
        out = dict(n_below_one=0, n_liquidated=0, n_skipped_gas=0, n_skipped_dust=0,
                   n_closed=0, repaid_usd=0.0, seized_qty=0.0, protocol_fee_qty=0.0,
                   liquidator_profit_usd=0.0, shock_qty=0.0, bad_debt_round=0.0,
                   oracle_updated=False)
        if r == 0:
            limit = (1.0 - s.shock) * p_before * (1.0 - 1e-12)
            if s.venue == "pool":
                limit /= 1.0 - s.pool_fee  # the pool's best bid is (1 - fee) times its spot
            fill = self.venue.sell_through(limit)
            out["shock_qty"] = fill.filled
            sold = fill.filled
        else:
            oracle, updated = self.next_oracle(r)
            if updated:
                self._last_update = r
            self.oracle_price = oracle
            out["oracle_updated"] = updated
            idx, liq, go, skipped = self._plan(oracle)
            out["n_below_one"] = int(np.count_nonzero(liq.liquidatable))
            out["n_skipped_gas"] = int(np.count_nonzero(skipped))
            out["n_skipped_dust"] = int(np.count_nonzero(liq.dust))
            n = int(np.count_nonzero(go))
            every = n == len(go)
            n_closed, _ = acc.apply(idx, liq, r, mask=None if every else go)

            def total(a):
                return float((a if every else a[go]).sum())

            to_liq, repaid = total(liq.to_liquidator), total(liq.repaid)
            bad, fee, seized = total(liq.bad_debt), total(liq.protocol_fee), total(liq.seized)
            fill = self.venue.market_sell(to_liq)
            sold = fill.filled
            self.held += fill.unfilled
            acc.inventory = self.held
            self.bad_debt += bad
            self.protocol_fee_qty += fee
            out.update(n_liquidated=n, n_closed=n_closed, repaid_usd=repaid,
                       seized_qty=seized, protocol_fee_qty=fee,
                       bad_debt_round=bad)
        self.price = venue_price(self.venue)
        if r > 0:
            usd = fill.filled * fill.avg_price if fill.filled > 0 else 0.0
            held_value = fill.unfilled * self.price if math.isfinite(self.price) else 0.0
            out["liquidator_profit_usd"] = (usd + held_value - out["repaid_usd"]
                                            - s.gas_cost * out["n_liquidated"])
        # the end
        end = None
        o_next, _ = self.next_oracle(r + 1)
        pending = len(self._plan(o_next)[0]) if math.isfinite(o_next) else 0
        if fill.unfilled > 0 or not math.isfinite(self.price):
            end = "venue_exhausted"
        else:
            if not self._acts(o_next):
                eventual = self.price if (s.oracle == "venue" or s.heartbeat
                                          or o_next == self.price) else self.oracle_price
                if eventual == o_next or not self._acts(eventual):
                    end = "fixed_point"
            if end is None and r >= s.max_rounds:
                end = "max_rounds"
        # accounts under water at the oracle's price are under 1 there: among this round's
        _, underwater = acc.underwater(self.oracle_price, among=idx if r > 0 else None)
        pool = s.venue == "pool"
        filled = sold > 0
        rec = LendingRecord(
            round=r, price_before=p_before, price_after=self.price, oracle_before=o_before,
            oracle_price=self.oracle_price, oracle_next_in=self._next_in(),
            sold_qty=fill.filled if r > 0 else 0.0, unsold_qty=fill.unfilled if r > 0 else 0.0,
            held_qty=self.held, avg_fill_price=fill.avg_price,
            slippage=abs(fill.avg_price - p_before) / p_before if filled else 0.0,
            book_prices=readonly(np.array(fill.level_prices, dtype=float)),
            book_qty=readonly(np.array(fill.level_qty, dtype=float)),
            bad_debt=self.bad_debt, underwater_debt=underwater, debt_left=acc.debt_left,
            collateral_left=acc.collateral_left, n_open=acc.n_open, pending=pending,
            base_reserve=self.venue.base_reserve if pool else math.nan,
            quote_reserve=self.venue.quote_reserve if pool else math.nan,
            end_reason=end, venue=self.venue.kind, **out)
        self.history.append(rec)
        self.round += 1
        self.end_reason = end
        return rec

    def _acts(self, oracle) -> bool:
        """Would the liquidators make a call at the oracle price ``oracle``?"""
        if not math.isfinite(oracle):
            return False
        return bool(self._plan(oracle)[2].any())

    def run(self) -> list[LendingRecord]:
        """Play rounds to the end; the whole history."""
        while self.step() is not None:
            pass
        return list(self.history)
