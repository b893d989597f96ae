"""The core's hooks for issue 12: the price margins are checked at (a mark), and accounts
settled each at its own fill (liquidation orders limited at each one's bankruptcy price).

Each is exercised by a toy mechanism added to the cascade's registry for the test only."""

import numpy as np
import pytest

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
