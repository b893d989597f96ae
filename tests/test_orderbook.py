"""Book walks worked by hand, exhaustion, builders from 1% depth, and input checks."""

import numpy as np
import pytest

from marginloops import OrderBook


def small_book():
    return OrderBook.from_levels([100, 99, 98], [1, 2, 3], [101, 102], [4, 5])


def test_multi_level_sell_by_hand():
    book = small_book()
    fill = book.market_sell(2.5)
    # 1 @ 100 + 1.5 @ 99 = 248.5 for 2.5 units -> 99.4
    assert (fill.filled, fill.unfilled) == (2.5, 0.0)
    assert fill.avg_price == pytest.approx(99.4)
    assert fill.last_price == 99
    np.testing.assert_array_equal(fill.level_prices, [100, 99])
    np.testing.assert_array_equal(fill.level_qty, [1, 1.5])
    prices, sizes = book.bids()
    np.testing.assert_array_equal(prices, [99, 98])
    np.testing.assert_array_equal(sizes, [0.5, 3])
    assert book.best_bid == 99


def test_exact_level_boundary_moves_the_touch():
    book = small_book()
    fill = book.market_sell(3.0)
    assert fill.last_price == 99 and fill.avg_price == pytest.approx((100 + 2 * 99) / 3)
    assert book.best_bid == 98


def test_exhaustion_is_reported_not_raised():
    book = small_book()
    fill = book.market_sell(10)
    assert fill.filled == 6 and fill.unfilled == 4 and fill.exhausted
    assert fill.avg_price == pytest.approx((100 + 2 * 99 + 3 * 98) / 6)
    assert fill.last_price == 98
    assert book.best_bid is None
    empty = book.market_sell(1)
    assert empty.filled == 0 and empty.unfilled == 1 and np.isnan(empty.avg_price)


def test_buy_walks_asks():
    book = small_book()
    fill = book.market_buy(6)
    assert fill.avg_price == pytest.approx((4 * 101 + 2 * 102) / 6)
    assert fill.last_price == 102 and book.best_ask == 102 and book.best_bid == 100


def test_zero_order_does_nothing():
    book = small_book()
    fill = book.market_sell(0)
    assert fill.filled == 0 and fill.unfilled == 0
    assert book.bid_depth() == 6


def test_sell_through_takes_every_bid_at_or_above_limit():
    book = small_book()
    fill = book.sell_through(99)
    assert fill.filled == 3 and fill.last_price == 99 and book.best_bid == 98


def test_copy_is_independent():
    book = small_book()
    twin = book.copy()
    twin.market_sell(5)
    assert book.bid_depth() == 6 and twin.bid_depth() == 1


def test_refill_at_touch():
    book = small_book()
    book.market_sell(1.5)
    book.refill("bid", 2.0)
    prices, sizes = book.bids()
    np.testing.assert_array_equal(prices[:1], [99])
    assert sizes[0] == pytest.approx(1.5 + 2.0)  # 0.5 of 2 sold at 99, then 2 added


def test_long_walk_crosses_many_windows():
    n = 10_000
    prices = 100 - 0.01 * np.arange(n)
    book = OrderBook.from_levels(prices, np.ones(n))
    fill = book.market_sell(5000.5)
    assert fill.last_price == pytest.approx(prices[5000])
    assert fill.avg_price == pytest.approx((prices[:5000].sum() + 0.5 * prices[5000]) / 5000.5)
    assert book.bid_depth() == pytest.approx(n - 5000.5)


@pytest.mark.parametrize("shape", ["flat", "growing"])
def test_from_depth_has_the_1pct_depth_asked_for(shape):
    book = OrderBook.from_depth(100.0, 2_000_000.0, shape=shape, tick=0.01, book_range=0.5)
    bp, bs = book.bids()
    ap, as_ = book.asks()
    assert bp[0] == 99.99 and ap[0] == 100.01
    within_bid, within_ask = bp >= 99.0, ap <= 101.0
    assert (bp[within_bid] * bs[within_bid]).sum() == pytest.approx(2_000_000.0)
    assert (ap[within_ask] * as_[within_ask]).sum() == pytest.approx(2_000_000.0)
    assert len(bp) == 5000 and bp[-1] == pytest.approx(50.0)
    if shape == "flat":
        assert np.ptp(bs) == pytest.approx(0.0)
    else:  # size grows linearly with distance: 10 ticks out holds 10x the touch
        assert bs[9] == pytest.approx(10 * bs[0])


def test_growing_book_has_square_root_impact():
    book = OrderBook.from_depth(100.0, 1e6, shape="growing", tick=0.001, book_range=0.5)
    moves = []
    for qty in (1_000.0, 4_000.0):
        fill = book.copy().market_sell(qty)
        moves.append(100.0 - fill.last_price)
    assert moves[1] / moves[0] == pytest.approx(2.0, rel=0.02)  # 4x the size, 2x the move


def test_flat_book_has_linear_impact():
    book = OrderBook.from_depth(100.0, 1e6, shape="flat", tick=0.001, book_range=0.5)
    moves = [100.0 - book.copy().market_sell(q).last_price for q in (1_000.0, 4_000.0)]
    assert moves[1] / moves[0] == pytest.approx(4.0, rel=0.02)


@pytest.mark.parametrize("kwargs,needle", [
    (dict(bid_prices=[100, 101], bid_sizes=[1, 1]), "bid_prices must be strictly decreasing"),
    (dict(bid_prices=[100, 99], bid_sizes=[1, -1]), "bid_sizes must be >= 0, got -1 at index 1"),
    (dict(bid_prices=[100, 99], bid_sizes=[1]), "bid_sizes must have the same length"),
    (dict(bid_prices=[100], bid_sizes=[1], ask_prices=[100], ask_sizes=[1]),
     "bid_prices must lie below ask_prices"),
    (dict(bid_prices=[np.nan], bid_sizes=[1]), "bid_prices must contain finite numbers"),
    (dict(bid_prices=[-1], bid_sizes=[1]), "bid_prices must be > 0"),
])
def test_from_levels_rejects_bad_input(kwargs, needle):
    with pytest.raises(ValueError) as err:
        OrderBook.from_levels(**kwargs)
    assert needle in str(err.value)


def test_orders_and_builders_reject_bad_input():
    with pytest.raises(ValueError, match="qty must be >= 0, got -1"):
        small_book().market_sell(-1)
    with pytest.raises(ValueError, match="qty must be a finite number"):
        small_book().market_buy(float("inf"))
    with pytest.raises(ValueError, match="shape must be one of"):
        OrderBook.from_depth(100, 1e6, shape="round")
    with pytest.raises(ValueError, match="depth_1pct must be > 0"):
        OrderBook.from_depth(100, 0)
    with pytest.raises(ValueError, match="tick must be in"):
        OrderBook.from_depth(100, 1e6, tick=5)


def test_from_depth_by_number_of_levels():
    book = OrderBook.from_depth(100.0, 1e6, tick=0.01, levels=300)
    bp, _ = book.bids()
    ap, _ = book.asks()
    assert len(bp) == len(ap) == 300 and bp[-1] == pytest.approx(97.0)
    with pytest.raises(ValueError, match="levels must be in"):
        OrderBook.from_depth(100.0, 1e6, tick=0.01, levels=10_000)  # bids would reach 0
