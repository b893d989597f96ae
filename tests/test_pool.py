"""The constant-product pool (issue 11): Uniswap v2's swap rule, worked by hand, its invariants
with hypothesis, the venue protocol, and the messages for bad input."""

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from marginloops import Fill, OrderBook
from marginloops.pool import FILL_LEVELS, ConstantProductPool
from marginloops.venue import Venue

FAST = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def pool(x=100.0, y=10_000.0, fee=0.003):
    return ConstantProductPool(x, y, fee)


# ----------------------------------------------------------------------- hand-worked numbers
def test_a_sell_pays_uniswaps_amount_out():
    # x = 100 coins, y = 10,000 USD, fee 0.3%: sell 10 coins.
    # gamma*qty = 0.997 * 10 = 9.97; out = 9.97 * 10,000 / (100 + 9.97) = 99,700 / 109.97.
    # 109.97 * 906 = 99,632.82, remainder 67.18 / 109.97 = 0.61089: out = 906.61089 USD.
    p = pool()
    fill = p.market_sell(10)
    assert isinstance(fill, Fill) and fill.side == "sell"
    assert fill.filled == 10 and fill.unfilled == 0 and fill.requested == 10
    assert fill.avg_price * 10 == pytest.approx(906.61089, abs=1e-5)
    # The whole 10 coins stay in the pool (fee included): x = 110, y = 10,000 - 906.61089.
    assert p.base_reserve == 110
    assert p.quote_reserve == pytest.approx(9_093.38911, abs=1e-5)
    # last_price is the new spot: 9,093.38911 / 110 = 82.66717.
    assert fill.last_price == pytest.approx(82.66717, abs=1e-5)
    # k went from 1,000,000 to 110 * 9,093.38911 = 1,000,272.8: the fee stayed in the pool.
    assert p.k == pytest.approx(1_000_272.80, abs=0.01)


def test_a_sell_without_fee_keeps_k():
    # fee 0: out = 10 * 10,000 / 110 = 909.0909; x*y = 110 * 9,090.909 = 1,000,000.
    p = pool(fee=0.0)
    fill = p.market_sell(10)
    assert fill.avg_price * 10 == pytest.approx(909.090909, abs=1e-6)
    assert p.k == pytest.approx(1e6, rel=1e-12)


def test_a_buy_pays_uniswaps_amount_in():
    # Buy 10 of the 100 coins: cost = y * qty / (gamma * (x - qty)) = 100,000 / (0.997 * 90)
    # = 100,000 / 89.73; 89.73 * 1,114 = 99,959.22, remainder 40.78 / 89.73 = 0.45447:
    # 1,114.45447 USD (UniswapV2Library.getAmountIn without its integer rounding).
    p = pool()
    fill = p.market_buy(10)
    assert fill.side == "buy" and fill.filled == 10 and fill.unfilled == 0
    assert fill.avg_price * 10 == pytest.approx(1_114.45447, abs=1e-5)
    # New spot: (10,000 + 1,114.45447) / 90 = 123.49394.
    assert p.base_reserve == 90
    assert fill.last_price == pytest.approx(123.49394, abs=1e-5)


def test_best_bid_and_ask_are_the_spot_less_and_plus_the_fee():
    # spot 100; a tiny sell gets 0.997 * 100 = 99.7; a tiny buy pays 100 / 0.997 = 100.30090.
    p = pool()
    assert p.spot == 100
    assert p.best_bid == pytest.approx(99.7, abs=1e-12)
    assert p.best_ask == pytest.approx(100.300903, abs=1e-6)
    # ... and they are the limits of a small trade's average price.
    tiny = pool().market_sell(1e-6)
    assert tiny.avg_price == pytest.approx(99.7, rel=1e-7)
    assert pool().market_buy(1e-6).avg_price == pytest.approx(100.300903, rel=1e-7)


def test_sell_through_solves_the_quadratic_by_hand():
    # Without a fee the spot after selling D is x*y / (x + D)^2: spot 90 needs
    # (100 + D)^2 = 1,000,000 / 90 = 11,111.11, 100 + D = 105.4093, D = 5.4093.
    p = pool(fee=0.0)
    fill = p.sell_through(90)
    assert fill.filled == pytest.approx(5.409255, abs=1e-6)
    assert fill.last_price == pytest.approx(90, rel=1e-12)
    # With 0.3%: 0.997 D^2 + 199.7 D + 10,000 - 11,111.11 = 0. Check the root by its residual:
    # D = 5.4174 gives 0.997 * 29.348 + 199.7 * 5.4174 = 29.26 + 1,081.85 = 1,111.11.
    p = pool()
    d = p.sell_through(90).filled
    assert 0.997 * d * d + 199.7 * d - (1e6 / 90 - 1e4) == pytest.approx(0, abs=1e-9)
    assert d == pytest.approx(5.4174, abs=1e-4)
    assert p.spot == pytest.approx(90, rel=1e-12)


def test_buy_through_lands_on_the_limit():
    # Without a fee the spot after buying D is x*y / (x - D)^2: spot 121 needs
    # (100 - D)^2 = 1,000,000 / 121, 100 - D = 90.909, D = 9.0909.
    p = pool(fee=0.0)
    fill = p.buy_through(121)
    assert fill.filled == pytest.approx(9.090909, abs=1e-6)
    assert p.spot == pytest.approx(121, rel=1e-12) and fill.last_price == pytest.approx(121)


def test_trading_to_the_price_it_is_at_trades_nothing():
    p = pool()
    for fill in (p.sell_through(100), p.sell_through(150), p.buy_through(100),
                 p.buy_through(50), p.market_sell(0), p.market_buy(0)):
        assert fill.filled == 0 and math.isnan(fill.avg_price) and math.isnan(fill.last_price)
        assert fill.level_prices.size == 0 and fill.level_qty.size == 0
    assert (p.base_reserve, p.quote_reserve) == (100, 10_000)


def test_a_sell_never_runs_out_but_a_buy_of_the_whole_reserve_is_refused():
    # A sell of 1,000,000 coins into 100 still gets USD: 0.997e6 * 1e4 / (100 + 0.997e6) < 1e4.
    p = pool()
    fill = p.market_sell(1e6)
    assert fill.unfilled == 0 and 0 < fill.avg_price * 1e6 < 10_000
    assert p.units_left("bid") == math.inf
    # Buying all 100 coins (or more) would cost infinitely many USD: Uniswap v2 reverts.
    p = pool()
    assert p.units_left("ask") == 100
    for qty in (100, 250):
        fill = p.market_buy(qty)
        assert fill.filled == 0 and fill.unfilled == qty and fill.exhausted
        assert (p.base_reserve, p.quote_reserve) == (100, 10_000)
    # A buy costing more USD than the model adds up exactly (1e15) is refused the same way:
    # 9.99 of 10 coins from 1e14 USD would cost 1e14 * 9.99 / (0.997 * 0.01) = 1.0e17 USD.
    big = ConstantProductPool(10, 1e14)
    assert big.market_buy(9.99).unfilled == 9.99 and big.base_reserve == 10
    # 99 of them fill, at 10,000 * 99 / (0.997 * 1) = 992,979 USD.
    fill = p.market_buy(99)
    assert fill.unfilled == 0 and fill.avg_price * 99 == pytest.approx(992_978.94, abs=0.01)


def test_a_fills_levels_are_steps_of_the_marginal_price():
    # No fee, x = 100, y = 10,000: selling 25 coins moves the marginal price
    # x*y / (x + D)^2 from 100 to 10^6 / 125^2 = 64; the steps split 100 -> 64 evenly (1.5 each).
    fill = pool(fee=0.0).market_sell(25)
    assert len(fill.level_prices) == FILL_LEVELS == len(fill.level_qty)
    edges = np.linspace(100, 64, FILL_LEVELS + 1)
    # Each step's price is the geometric mean of its edges; its units, x*y^(1/2)(p^-1/2 ...).
    assert fill.level_prices == pytest.approx(np.sqrt(edges[:-1] * edges[1:]), rel=1e-12)
    assert fill.level_qty == pytest.approx(np.diff(np.sqrt(1e6 / edges)), rel=1e-9)
    assert fill.level_qty.sum() == pytest.approx(25, rel=1e-12)
    # USD: 25 * 10,000 / 125 = 2,000, the same as the steps' prices times units.
    assert fill.level_prices @ fill.level_qty == pytest.approx(2_000, rel=1e-12)
    assert fill.avg_price == pytest.approx(80, rel=1e-12)
    assert (np.diff(fill.level_prices) < 0).all()  # best first
    buy = pool(fee=0.0).market_buy(20)
    assert (np.diff(buy.level_prices) > 0).all() and buy.level_qty.sum() == pytest.approx(20)
    assert not fill.level_prices.flags.writeable


def test_depth_profile_is_a_grid_with_the_closed_form_totals():
    # No fee: selling until the marginal price is 81 takes sqrt(10^6/81) - 100 = 11.111 coins;
    # buying until it is 121 takes 100 - sqrt(10^6/121) = 9.0909.
    p = pool(fee=0.0)
    prices, units = p.depth_profile("bid", 81, 150)
    assert units.sum() == pytest.approx(11.1111111, abs=1e-6)
    assert prices[0] < 100 and prices[-1] > 81 and (np.diff(prices) < 0).all()
    assert len(prices) == 200 and (units > 0).all()
    prices, units = p.depth_profile("ask", 50, 121, points=10)
    assert units.sum() == pytest.approx(9.0909091, abs=1e-6) and len(units) == 10
    assert (np.diff(prices) > 0).all()
    # Outside the side's prices: nothing. Down to 0: finite (the last step is left out).
    assert p.depth_profile("bid", 120, 150)[0].size == 0
    assert p.depth_profile("ask", 50, 90)[0].size == 0
    assert np.isfinite(p.depth_profile("bid", 0, 200)[1]).all()
    # The grid is what a market order meets: selling the bid profile's units lands on 81.
    total = p.depth_profile("bid", 81, 150)[1].sum()
    p.market_sell(total)
    assert p.spot == pytest.approx(81, rel=1e-9)


def test_refill_and_withdraw_move_both_reserves_in_proportion():
    p = pool()
    assert p.refill("bid", 50) == 50
    assert (p.base_reserve, p.quote_reserve) == (150, 15_000) and p.spot == 100
    assert p.withdraw("ask", 0.2, 99) == pytest.approx(30)
    assert (p.base_reserve, p.quote_reserve) == pytest.approx((120, 12_000))
    # Deeper pool, same price: selling 10 now moves the price less than in the first pool.
    assert p.market_sell(10).last_price > pool().market_sell(10).last_price


def test_withdrawing_everything_leaves_an_empty_pool_that_trades_nothing():
    p = pool()
    assert p.withdraw("bid", 1.0, 99) == 100 and p.empty
    assert p.best_bid is None and p.best_ask is None and math.isnan(p.spot)
    assert p.units_left("bid") == 0 and p.units_left("ask") == 0 and p.k == 0
    sell, buy = p.market_sell(5), p.market_buy(5)
    assert (sell.filled, sell.unfilled, buy.filled, buy.unfilled) == (0, 5, 0, 5)
    assert p.sell_through(50).filled == 0 and p.buy_through(150).filled == 0
    assert p.depth_profile("bid", 0, 200)[0].size == 0
    assert p.refill("bid", 10) == 0 and p.empty  # no price to deposit at
    assert isinstance(p.copy(), Venue) and p.copy().empty


def test_copy_is_independent():
    p = pool()
    q = p.copy()
    q.market_sell(30)
    q.refill("bid", 5)
    assert (p.base_reserve, p.quote_reserve, p.fee) == (100, 10_000, 0.003)
    assert isinstance(q, ConstantProductPool) and q.fee == 0.003


def test_the_pool_is_a_venue():
    assert isinstance(pool(), Venue)
    assert isinstance(pool().copy(), Venue)


# ---------------------------------------------------------------------- sized to a 1% depth
def test_from_depth_without_fee_by_hand():
    # Selling the spot from P to 0.99 P without a fee pays y (1 - sqrt(0.99)) USD:
    # y = 1e6 / (1 - 0.994987) = 1e6 / 0.0050126 = 199.499e6 USD, x = y / 100.
    p = ConstantProductPool.from_depth(100, 1e6, fee=0.0)
    assert p.quote_reserve == pytest.approx(1e6 / (1 - math.sqrt(0.99)), rel=1e-12)
    assert p.quote_reserve == pytest.approx(199.499e6, rel=1e-5)
    assert p.spot == pytest.approx(100, rel=1e-15)


def test_from_depth_pays_the_books_1pct_depth_to_a_seller():
    for fee in (0.0, 0.003, 0.01):
        p = ConstantProductPool.from_depth(50_000, 2e7, fee=fee)
        assert p.spot == pytest.approx(50_000, rel=1e-12) and p.fee == fee
        fill = p.sell_through(49_500)
        assert fill.filled * fill.avg_price == pytest.approx(2e7, rel=1e-9)
    # The book of the same 1% depth pays the same for its bids within 1% (a flat book).
    book = OrderBook.from_depth(50_000, 2e7, tick=1.0)
    fill = book.sell_through(49_500)
    assert fill.filled * fill.avg_price == pytest.approx(2e7, rel=1e-9)


# ---------------------------------------------------------------------------- invariants
@st.composite
def pools(draw):
    x = draw(st.floats(1e-3, 1e8))
    price = draw(st.floats(1e-3, 1e5))
    fee = draw(st.sampled_from([0.0, 0.0005, 0.003, 0.01, 0.05]))
    return ConstantProductPool(x, x * price, fee)


@FAST
@given(pools(), st.floats(1e-6, 20.0), st.booleans())
def test_k_never_decreases_and_the_average_is_on_the_right_side_of_spot(p, share, sell):
    k, spot, x, bid, ask = p.k, p.spot, p.base_reserve, p.best_bid, p.best_ask
    qty = share * x if sell else min(share, 0.99) * x
    if not sell and p.quote_reserve * (1 + qty / (p.gamma * (x - qty))) > 1e15:
        # beyond what the model may add up (MAX_MAGNITUDE): refused whole, nothing moves
        fill = p.market_buy(qty)
        assert fill.filled == 0 and fill.unfilled == qty and p.k == k
        return
    fill = p.market_sell(qty) if sell else p.market_buy(qty)
    assert fill.filled == pytest.approx(qty) and fill.unfilled == 0
    assert p.k >= k * (1 - 1e-12)
    if sell:  # the USD out is less than spot * qty (the price falls as you sell, plus the fee)
        assert fill.avg_price * qty < spot * qty and fill.last_price < spot
        assert fill.avg_price <= bid  # no sell beats the best bid
    else:
        assert fill.avg_price >= ask >= spot and fill.avg_price > spot and fill.last_price > spot
    assert fill.level_qty.sum() == pytest.approx(qty, rel=1e-9)
    assert fill.level_prices @ fill.level_qty == pytest.approx(fill.avg_price * qty, rel=1e-6)


@FAST
@given(pools(), st.floats(1e-6, 20.0))
def test_a_round_trip_loses_money(p, share):
    qty = share * p.base_reserve
    out = p.market_sell(qty)
    back = p.market_buy(qty)
    assert back.unfilled == 0  # qty < x + qty: the coins sold are there to buy back
    usd_out, usd_in = out.avg_price * qty, back.avg_price * qty
    if p.fee > 0:
        assert usd_in > usd_out
    else:
        assert usd_in == pytest.approx(usd_out, rel=1e-9)


@FAST
@given(pools(), st.floats(0.01, 0.99), st.booleans())
def test_trading_to_a_price_lands_on_it(p, ratio, down):
    spot = p.spot
    limit = spot * ratio if down else spot / ratio
    fill = p.sell_through(limit) if down else p.buy_through(limit)
    assume(fill.filled > 0)
    assert p.spot == pytest.approx(limit, rel=1e-9)
    assert fill.last_price == pytest.approx(limit, rel=1e-9)


# ------------------------------------------------------------------------------ bad input
@pytest.mark.parametrize("args, message", [
    ((0, 100), r"base_reserve must be in \(0, 1e15\], got 0"),
    ((-1, 100), r"base_reserve must be in \(0, 1e15\], got -1"),
    ((True, 100), r"base_reserve must be a number in \(0, 1e15\]|base_reserve must be a number"),
    ((100, float("nan")), "quote_reserve must be a finite number"),
    ((100, 1e16), r"quote_reserve must be in \(0, 1e15\]"),
    ((100, 100, 1.0), r"fee must be in \[0, 1\), got 1"),
    ((100, 100, -0.01), r"fee must be in \[0, 1\), got -0.01"),
    ((100, 100, "0.003"), "fee must be a number"),
])
def test_bad_construction_names_the_parameter(args, message):
    with pytest.raises(ValueError, match=message):
        ConstantProductPool(*args)


def test_bad_calls_name_the_parameter():
    p = pool()
    cases = [
        (lambda: p.market_sell(-1), "qty must be"),
        (lambda: p.market_buy(float("inf")), "qty must be a finite number"),
        (lambda: p.sell_through(0), r"limit must be > 0, got 0"),
        (lambda: p.buy_through(-5), "limit must be >= 0, got -5"),
        (lambda: p.depth_profile("middle", 1, 2), "side must be 'bid' or 'ask', got 'middle'"),
        (lambda: p.depth_profile("bid", 99, 98), "lo must be <= hi, got lo=99 and hi=98"),
        (lambda: p.depth_profile("bid", 1, 2, points=0), r"points must be in \[1, 100000\]"),
        (lambda: p.refill("bid", 1, at="middle"), "at must be one of"),
        (lambda: p.refill("sideways", 1), "side must be 'bid' or 'ask'"),
        (lambda: p.withdraw("bid", 1.5, 90), r"fraction must be in \[0, 1\], got 1.5"),
        (lambda: p.withdraw("bid", 0.5, -1), "within must be >= 0"),
        (lambda: p.units_left("both"), "side must be 'bid' or 'ask'"),
        (lambda: ConstantProductPool.from_depth(0, 1e6), r"mid must be > 0|mid must be in"),
        (lambda: ConstantProductPool.from_depth(100, -1), "depth_1pct must be"),
        (lambda: ConstantProductPool.from_depth(100, 1e6, fee=2), r"fee must be in \[0, 1\)"),
        (lambda: ConstantProductPool.from_depth(1e-9, 1e13), "depth_1pct must give reserves"),
    ]
    for call, message in cases:
        with pytest.raises(ValueError, match=message):
            call()
    assert (p.base_reserve, p.quote_reserve) == (100, 10_000)  # nothing half-done


def test_a_sell_through_to_a_tiny_price_that_needs_too_many_coins_is_refused():
    with pytest.raises(ValueError, match="limit must leave the pool at most"):
        ConstantProductPool(1e6, 1e12).sell_through(1e-12)


# ------------------------------------------- lesson 2's comparison (marginloops.course.venues)
def _bisect(f, lo, hi, n=200):
    for _ in range(n):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if f(mid) < 0 else (lo, mid)
    return (lo + hi) / 2


def test_lesson_pool_by_bisection_not_by_the_closed_form():
    from marginloops.course.venues import lesson_pool
    # Independently of from_depth's closed form: find the quote reserve y (spot 100, x = y/100)
    # at which selling the spot down to 99 pays 2,000,000 USD, by two nested bisections on
    # Uniswap's amount out.
    g = 0.997

    def paid(y):
        x = y / 100
        d = _bisect(lambda d: 99 - (y - g * d * y / (x + g * d)) / (x + d), 0.0, x)
        return g * d * y / (x + g * d)

    y = _bisect(lambda y: paid(y) - 2e6, 1e8, 1e9)
    pool = lesson_pool()
    assert pool.quote_reserve == pytest.approx(y, rel=1e-9)  # 399,594,773 USD
    assert pool.base_reserve == pytest.approx(y / 100, rel=1e-9)


def test_compare_venues_by_hand():
    from marginloops.course.venues import compare_venues, lesson_pool
    rows = compare_venues([1_000, 20_000, 2_000_000])
    pool = lesson_pool()
    x, y = pool.base_reserve, pool.quote_reserve
    small, one_pct, huge = rows
    # The flat book holds a = 2,000,000 / 994.5 = 2,011.06 units a level from 99.90 down:
    # 1,000 units fill at 99.90; no slippage, no move.
    assert small.qty == 1_000 and small.book.avg_price == 99.9 and small.book.last_price == 99.9
    assert small.book_slippage == 0 and small.book_start == 99.9
    # 20,000 units: nine full levels (99.90 ... 99.10, 9 * 99.5 = 895.5 USD a unit of a) and
    # 20,000 - 9a = 1,900.45 units at 99.00: average (895.5 a + 99 (20,000 - 9a)) / 20,000.
    a = 2_000_000 / 994.5
    assert one_pct.book.avg_price == pytest.approx((895.5 * a + 99 * (20_000 - 9 * a)) / 20_000)
    assert one_pct.book.last_price == 99.0
    assert one_pct.book_slippage == pytest.approx((99.9 - one_pct.book.avg_price) / 99.9)
    # The pool: out = 0.997 q y / (x + 0.997 q); its start is the bid 0.997 * 100 = 99.7.
    for row in rows:
        q = row.qty
        out = 0.997 * q * y / (x + 0.997 * q)
        assert row.pool.avg_price == pytest.approx(out / q, rel=1e-12)
        assert row.pool.last_price == pytest.approx((y - out) / (x + q), rel=1e-12)
        assert row.pool_start == pytest.approx(99.7)
        assert row.pool_slippage == pytest.approx((99.7 - out / q) / 99.7, rel=1e-9)
        assert row.pool.unfilled == 0
    # 2,000,000 units: more than the book's bids (500 levels of a, 1,005,530 units).
    assert huge.book.unfilled == pytest.approx(2e6 - 500 * a, rel=1e-9)
    assert huge.book.last_price == 50.0 and huge.pool.filled == 2e6


def test_compare_venues_buys_and_a_refused_buy():
    from marginloops.course.venues import compare_venues
    rows = compare_venues([1_000, 5_000_000], side="buy")
    assert rows[0].book.avg_price == pytest.approx(100.1)  # the best ask, 100.10
    assert rows[0].pool_start == pytest.approx(100 / 0.997)
    assert rows[1].pool.filled == 0 and rows[1].pool.unfilled == 5e6  # > the 3,995,948 held


def test_venue_table_text():
    from marginloops.course.venues import compare_venues, venue_table
    text = venue_table(compare_venues([1_000, 2_000_000]))
    lines = text.splitlines()
    # Row 1 by hand: the book 99.90 / 99.90 / 0.00%; the pool
    # out / q = 99.7 * x / (x + 997) = 99.675 (x = 3,995,948), price after
    # 100 x^2 / ((x + 997)(x + 1,000)) = 99.950, slippage (99.7 - 99.675) / 99.7 = 0.025%.
    assert lines[0].split() == ["order", "book", "pool", "(fee", "0.3%)"]
    assert lines[1].split() == ["sell", "(units)", "average", "price", "after", "slippage",
                                "average", "price", "after", "slippage"]
    assert lines[2].split() == ["1,000", "99.90", "99.90", "0.00%", "99.68", "99.95", "0.02%"]
    assert lines[3].split()[:2] == ["2,000,000", "74.95*"]
    assert lines[4] == ("* 2,000,000 units: the book ran out, 994,470 units unfilled (the "
                        "average is over the 1,005,530 that filled).")
    assert len({len(line) for line in lines[1:4]}) == 1  # the columns line up
    refused = venue_table(compare_venues([5_000_000], side="buy")).splitlines()
    assert refused[1].split()[0] == "buy" and refused[2].split()[4] == "-*"
    assert refused[-1].startswith("* 5,000,000 units: the pool refuses a buy of all its coins")


def test_compare_venues_refuses_bad_input():
    from marginloops import OrderBook
    from marginloops.course.venues import compare_venues, venue_table
    with pytest.raises(ValueError, match="sizes must be > 0, got 0 at index 1"):
        compare_venues([10, 0])
    with pytest.raises(ValueError, match="side must be one of"):
        compare_venues([10], side="short")
    with pytest.raises(ValueError, match="book must be an OrderBook, got ConstantProductPool"):
        compare_venues([10], book=pool())
    with pytest.raises(ValueError, match="pool must be a ConstantProductPool, got OrderBook"):
        compare_venues([10], pool=OrderBook.from_levels([99], [1]))
    with pytest.raises(ValueError, match="rows must hold at least one VenueRow"):
        venue_table([])
