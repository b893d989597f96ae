"""The core's hooks for issue 12: the price margins are checked at (a mark), and accounts
settled each at its own fill (liquidation orders limited at each one's bankruptcy price).

Each is exercised by a toy mechanism added to the cascade's registry for the test only."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from test_properties import FAST, _key, markets

import marginloops.cascade as cascade_module
from marginloops import Cascade, OrderBook, Positions
from marginloops.mechanisms import Mechanism


class CheckTwoBelow(Mechanism):
    """Checks margins 2 USD below the last traded price (a mark that lags a rebound)."""

    name = "toy_check"
    params = ()

    @property
    def active(self):
        return True

    def check_price(self, run):
        return run.price - 2.0


class OwnFills(Mechanism):
    """Sells each caught account's close on its own: the first sells all of it at 86, the
    second half of it at 84 (numbers given, not found: the accounts settle what they are told)."""

    name = "toy_fills"
    params = ()
    moves_thresholds = True

    @property
    def active(self):
        return True

    def divert(self, run, st, closing):
        self.closing = closing

    def adjust_fill(self, run, st, fill):
        c = self.closing
        c.sold = np.array([2.0, 0.5])
        c.sold_price = np.array([86.0, 84.0])
        return run.venue.market_sell(2.5)


def test_a_mechanism_s_check_price_decides_who_is_reached(monkeypatch):
    # One long: entry 100, 10x, mmr 5%: bankrupt at 90, liquidated at 90 / 0.95 = 94.74.
    pos = Positions.from_arrays([1], [1.0], [100.0], [10.0], [0.05])
    book = OrderBook.from_levels([100, 99, 96, 90], [1, 1, 1, 10], [101], [5])
    # The shock sells through 96 (levels 100, 99, 96): the last price is 96, above 94.74.
    plain = Cascade(pos, book, shock=0.04)
    assert [r.n_liquidated for r in plain.run()] == [0]
    assert plain.history[0].price_after == 96 and plain.history[0].end_reason == "fixed_point"
    monkeypatch.setattr(cascade_module, "MECHANISMS",
                        cascade_module.MECHANISMS + (CheckTwoBelow,))
    marked = Cascade(pos, book, shock=0.04)
    marked.step()
    # Checked at 96 - 2 = 94 <= 94.74: reached, though the last trade (96) is above it.
    assert marked.check_price() == 94.0 and marked.pending() == 1
    assert list(marked.in_reach()) == [0]
    r = marked.step()
    assert r.n_liquidated == 1 and r.price_before == 96  # notional and slippage from the last
    assert r.avg_fill_price == 90


def test_accounts_settle_each_at_its_own_fill(monkeypatch):
    # Two longs, entry 100, 10x, mmr 5%: margins 20 and 10, bankrupt at 90, reached at 94.74.
    pos = Positions.from_arrays([1, 1], [2.0, 1.0], [100.0, 100.0], [10.0, 10.0], [0.05, 0.05])
    book = OrderBook.from_levels([100, 96, 92, 85], [1, 1, 3, 10], [101], [5])
    monkeypatch.setattr(cascade_module, "MECHANISMS", cascade_module.MECHANISMS + (OwnFills,))
    cas = Cascade(pos, book, shock=0.08)
    assert cas.step().price_after == 92  # through 92: both reached
    r = cas.step()
    # The first: 2 units at 86: 2 (86 - 90) = -8. The second: 0.5 unit sold at 84:
    # 0.5 (84 - 90) = -3; its unsold 0.5 unit passes to the fund at 90, carried at the last
    # trade 85: 0.5 (85 - 90) = -2.5. Together -13.5, all bad debt (no fund).
    assert r.filled_qty == 2.5 and r.last_fill_price == 85
    assert r.to_fund == pytest.approx(-13.5)
    assert r.bad_debt == pytest.approx(13.5)
    assert r.inventory_qty == pytest.approx(0.5)
    assert r.n_closed == 2 and r.open_interest == 0


class PushUp(Mechanism):
    """Moves the price back up after the first liquidation round: buys 3 units on the venue
    (a stand-in for arbitrageurs buying the perpetual up to its index)."""

    name = "toy_push"
    params = ()
    moves_both_ways = True

    @property
    def active(self):
        return True

    def after_trade(self, run, st):
        if run.round == 1:
            f = run.venue.market_buy(3.0)
            run.price = f.last_price


def test_a_rebound_liquidates_the_opposite_side_it_reaches(monkeypatch):
    # A long (entry 100, 10x, mmr 5%: reached at 94.74) and two shorts, entry 100, mmr 1%:
    # S1 1 unit at 50x: bankrupt at 102, liquidated at 102 / 1.01 = 100.99;
    # S2 2 units at 20x: bankrupt at 105, liquidated at 105 / 1.01 = 103.96.
    pos = Positions.from_arrays([1, -1, -1], [1.0, 1.0, 2.0], [100.0, 100.0, 100.0],
                                [10.0, 50.0, 20.0], [0.05, 0.01, 0.01])
    book = OrderBook.from_levels([100, 96, 92, 85], [1, 1, 3, 10], [100.5, 101, 102, 104],
                                 [1, 2, 1, 5])
    mechs = cascade_module.MECHANISMS  # the push trades before the rebound checks (last)
    monkeypatch.setattr(cascade_module, "MECHANISMS", mechs[:-1] + (PushUp,) + mechs[-1:])
    cas = Cascade(pos, book, shock=0.08, insurance_fund=100.0)
    hist = cas.run()
    r = hist[1]
    # Round 0 sold through 92 (all of its 3 units): 85 is the best bid left.
    # Round 1: the long sells 1 unit at 85 (equity 10 + (85 - 100) = -5 from the fund). Then the
    # push buys 3 units: 100.5 x1, 101 x2: the price is 101 >= 100.99, S1 is reached, S2 not.
    # S1 buys back 1 unit: the 102 level: equity 2 - (102 - 100) = 0, nothing to the fund;
    # the price ends at 102, below S2's 103.96.
    assert r.n_liquidated == 1 and r.rebound_n_liquidated == 1
    assert r.rebound_qty == 1 and r.rebound_avg_price == 102 and r.price_after == 102
    assert r.rebound_to_fund == pytest.approx(0.0) and r.to_fund == pytest.approx(-5.0)
    assert r.insurance_fund == pytest.approx(95.0) and r.bad_debt == 0
    assert r.n_open == 1 and r.open_interest == pytest.approx(2.0)  # S2 only
    assert list(cas.liquidated_round) == [1, 1, -1]
    assert list(cas.open_mask) == [False, False, True]
    assert r.end_reason == "fixed_point" and len(hist) == 2


def test_chasers_open_on_the_way_down_and_a_rebound_liquidates_them(monkeypatch):
    from marginloops.mechanisms.rebound import CHASE_RANGE, CHASERS_N

    assert (CHASERS_N, CHASE_RANGE) == (200, 0.3)
    # One long (entry 100, 10x, mmr 2%: bankrupt at 90, reached at 90 / 0.98 = 91.84), size 1:
    # the open interest is 1 unit, 100 USD. chasers 0.5: 50 USD of shorts in 200 chasers of
    # 0.25 USD each, entries 100 (1 - 0.3 k / 200) = 99.85, 99.70, ..., 70.00; at 20x and the
    # population's mmr 2%, a chaser's liquidation price is E (1 + 1/20) / 1.02 = 1.0294 E.
    pos = Positions.from_arrays([1], [1.0], [100.0], [10.0], [0.02])
    book = OrderBook.from_levels([100, 96, 91, 85], [1, 1, 3, 10], [100.5, 101, 102, 104],
                                 [1, 2, 1, 5])
    mechs = cascade_module.MECHANISMS
    monkeypatch.setattr(cascade_module, "MECHANISMS", mechs[:-1] + (PushUp,) + mechs[-1:])
    cas = Cascade(pos, book, shock=0.09, insurance_fund=10.0, chasers=0.5)
    r0 = cas.step()
    # The shock sells through 91 (100, 96, 91): the chasers with entries >= 91 open: k <= 60.
    assert r0.price_after == 91 and r0.chasers_open == 60
    r1 = cas.step()
    # Round 1: the long sells 1 unit at 85: chasers down to 85 are open (k <= 100). The push
    # buys 100.5 x1, 101 x2: at 101 the chasers with 1.0294 E <= 101, E <= 98.11 (k >= 13),
    # are reached: k = 13..100, 88 of them, buying back sum(0.25 / E) units at 102.
    k = np.arange(13, 101)
    e = 100 * (1 - 0.3 * k / 200)
    units = float((0.25 / e).sum())
    assert r1.rebound_n_liquidated == 88 and r1.chasers_open == 12
    assert r1.rebound_qty == pytest.approx(units) and r1.rebound_avg_price == 102
    # Each: margin 0.25 / 20 less (102 - E) on 0.25 / E units: 0.2625 - 25.5 / E.
    assert r1.rebound_to_fund == pytest.approx(float((0.2625 - 25.5 / e).sum()))
    assert r1.price_after == 102 and r1.end_reason is None
    # At 102 the chasers with E <= 102 / 1.0294 = 99.09 (k >= 7) are within reach: round 2
    # closes k = 7..12, at 102 again (the level has 1 - units left), and the run ends.
    r2 = cas.step()
    k2 = np.arange(7, 13)
    assert r2.n_liquidated == 0 and r2.rebound_n_liquidated == 6 and r2.chasers_open == 6
    assert r2.rebound_qty == pytest.approx(float((0.25 / (100 * (1 - 0.3 * k2 / 200))).sum()))
    assert r2.end_reason == "fixed_point"
    # Money: the fund holds its start, the long's close (10 + 85 - 100 = -5) and the rebound's.
    assert cas.history[1].to_fund == pytest.approx(-5 + r1.rebound_to_fund)
    total = sum(r.to_fund for r in cas.history)
    assert r2.insurance_fund == pytest.approx(10.0 + total) and r2.bad_debt == 0


class RandomPush(Mechanism):
    """Buys (sells, in a squeeze) ``push`` units on the venue after each round: a rebound of
    random strength (the property test sets ``push``)."""

    name = "toy_random_push"
    params = ()
    moves_both_ways = True
    push = 0.0

    @property
    def active(self):
        return True

    def after_trade(self, run, st):
        down = run.direction == "down"
        f = run.venue.market_buy(self.push) if down else run.venue.market_sell(self.push)
        if f.filled > 0:
            run.price = f.last_price


@FAST
@given(markets(), st.sampled_from([0.0, 0.5, 3.0]), st.sampled_from([0.0, 0.2, 1.0]),
       st.booleans())
def test_rebound_invariants(monkeypatch_market, push, chasers, adl):
    pos, book, kwargs = monkeypatch_market
    kwargs = {**kwargs, "adl": adl or kwargs.get("adl", False), "chasers": chasers}
    mechs = cascade_module.MECHANISMS
    RandomPush.push = push
    saved = cascade_module.MECHANISMS
    cascade_module.MECHANISMS = mechs[:-1] + (RandomPush,) + mechs[-1:]
    try:
        cas = Cascade(pos, book, **kwargs)
    finally:
        cascade_module.MECHANISMS = saved
    hist = cas.run()
    s = 1 if kwargs["direction"] == "down" else -1
    acc = cas.accounts
    rounds = cas.liquidated_round
    rebound = next(m for m in cas.mechanisms if m.name == "rebound")
    # Every opposite position closed once at most, in a round that says so; with the chasers.
    opposite_closed = int((rounds[pos.side == -s] >= 0).sum())  # round 0 rebounds too
    chasers_closed = int((rebound.c_state == 2).sum())
    assert opposite_closed + chasers_closed == sum(r.rebound_n_liquidated for r in hist)
    assert hist[-1].chasers_open == int((rebound.c_state == 1).sum())
    # The fund and bad debt follow the rounds' flows (the rebound's included in to_fund).
    fund, debt = kwargs["insurance_fund"], 0.0
    for r in hist:
        fund += r.to_fund
        if fund < 0:
            debt, fund = debt - fund, 0.0
        assert r.insurance_fund == pytest.approx(fund, abs=1e-6)
        assert r.bad_debt == pytest.approx(debt, abs=1e-6)
        assert r.rebound_bad_debt <= r.bad_debt_round + 1e-9
    # Open interest: both sides' remaining units (auto-deleveraging and the rebound shrink the
    # opposite side's, one array).
    assert (acc.opposite_left >= 0).all()
    assert hist[-1].open_interest == pytest.approx(acc.opposite_left.sum() + acc.q_left.sum(),
                                                   abs=1e-9)
    # At a fixed point nobody on either side is within reach of the check price.
    if hist[-1].end_reason == "fixed_point":
        assert cas.pending() == 0 and acc.pending_opposite(cas.check_price()) == 0
    cas.reset()
    assert [_key(r) for r in cas.run()] == [_key(r) for r in hist]


class MarkAbove(Mechanism):
    """Checks margins 1 USD above the last traded price (a mark that has not followed a
    crash), and moves the price both ways (so the chasers are on)."""

    name = "toy_mark_above"
    params = ()
    moves_both_ways = True

    @property
    def active(self):
        return True

    def check_price(self, run):
        return run.price + 1.0


def test_a_chaser_the_check_price_has_reached_cannot_open(monkeypatch):
    # As in the test above (one long reached at 91.84; chasers' liquidation price 1.0294 E),
    # with margins checked 1 USD above the last price. Before the shock that is 101: of the
    # chasers the shock takes the price through (to 91: k <= 60), those with 1.0294 E <= 101,
    # E <= 98.11 (k >= 13), are refused: 12 open (k = 1..12), 48 never will.
    pos = Positions.from_arrays([1], [1.0], [100.0], [10.0], [0.02])
    book = OrderBook.from_levels([100, 96, 91, 85], [1, 1, 3, 10], [100.5, 101, 102, 104],
                                 [1, 2, 1, 5])
    mechs = cascade_module.MECHANISMS
    monkeypatch.setattr(cascade_module, "MECHANISMS", mechs[:-1] + (MarkAbove,) + mechs[-1:])
    cas = Cascade(pos, book, shock=0.09, chasers=0.5)
    r0 = cas.step()
    assert r0.price_after == 91 and r0.chasers_open == 12 and r0.rebound_n_liquidated == 0
    rebound = next(m for m in cas.mechanisms if m.name == "rebound")
    assert (rebound.c_state[:12] == 1).all() and (rebound.c_state[12:60] == 3).all()
