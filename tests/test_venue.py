"""The venue protocol (issue 11): the order book is a venue, and its depth profile reads right."""

import numpy as np
import pytest

from marginloops import OrderBook
from marginloops.venue import Venue


def test_the_order_book_is_a_venue():
    assert isinstance(OrderBook.from_levels([99, 98], [1, 2], [101], [3]), Venue)


def test_depth_profile_gives_the_levels_in_the_range_best_first():
    book = OrderBook.from_levels([99, 98, 97, 96], [1, 2, 3, 4], [101, 102], [5, 6])
    prices, sizes = book.depth_profile("bid", 96.5, 98)
    assert prices.tolist() == [98, 97] and sizes.tolist() == [2, 3]
    prices, sizes = book.depth_profile("ask", 100, 101.5)
    assert prices.tolist() == [101] and sizes.tolist() == [5]
    book.market_sell(2.5)  # takes 99 and 1.5 of 98
    assert book.depth_profile("bid", 0, 200)[1].tolist() == [0.5, 3, 4]


def test_depth_profile_refuses_an_upside_down_range():
    book = OrderBook.from_levels([99], [1])
    with pytest.raises(ValueError, match="lo must be <= hi, got lo=99 and hi=98"):
        book.depth_profile("bid", 99, 98)
    with pytest.raises(ValueError, match="side must be 'bid' or 'ask'"):
        book.depth_profile("middle", 1, 2)
    assert np.isfinite(book.best_bid)


def test_a_cascade_on_a_pool_says_pool_in_its_records_and_sentences():
    from marginloops import Scenario, narrate
    from marginloops.narration import narrate_end
    book_run = Scenario.preset("crowded-longs").cascade().run()
    pool_run = Scenario.preset("crowded-longs").replace(venue="pool").cascade().run()
    assert {r.venue for r in book_run} == {"book"} and {r.venue for r in pool_run} == {"pool"}
    traded = next(r for r in pool_run[1:] if r.filled_qty > 0)
    assert "units into the pool" in narrate(traded) and "book" not in narrate(traded)
    assert "units into the book" in narrate(next(r for r in book_run[1:] if r.filled_qty > 0))
    assert "book" not in narrate_end(pool_run)


def test_the_package_exports_the_venues_accounts_and_mechanisms():
    import marginloops
    from marginloops.accounts import Accounts, PerpetualAccounts
    from marginloops.mechanisms import MECHANISMS
    from marginloops.pool import ConstantProductPool
    assert marginloops.Venue is Venue and marginloops.ConstantProductPool is ConstantProductPool
    assert marginloops.Accounts is Accounts and marginloops.PerpetualAccounts is PerpetualAccounts
    assert marginloops.MECHANISMS is MECHANISMS
    assert isinstance(ConstantProductPool.from_depth(100.0, 2e6), marginloops.Venue)
    assert set(marginloops.__all__) >= {"Venue", "ConstantProductPool", "Accounts",
                                        "PerpetualAccounts", "MECHANISMS"}


def test_the_shock_stage_on_a_pool_says_pool_words():
    from marginloops import Scenario
    from marginloops.narration import narrate_shock
    market = Scenario.preset("crowded-longs").replace(venue="pool")
    shock = market.cascade().step()
    text = narrate_shock(shock, market.shock)
    assert text.startswith("The shock: an outside seller sells ") and "bid" not in text
    assert "to the pool, until its price is 3.0% below " in text
