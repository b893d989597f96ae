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
