"""The pool's reserves chart and PoolView, headless: the marks' data after trades worked by hand
(x = 100 coins, y = 10,000 USD, fee 0.3% unless said)."""

import numpy as np
import pytest

from marginloops.pool import ConstantProductPool
from marginloops.ui.pool import PoolView, ReservesChart, describe_trade, trade_path


def small_pool(fee=0.003):
    return ConstantProductPool(100, 10_000, fee)


def test_the_chart_opens_on_the_curve_with_no_trade():
    chart = ReservesChart(small_pool())
    m = chart.marks
    assert list(m["point"].x) == [100] and list(m["point"].y) == [10_000]
    assert np.allclose(np.asarray(m["curve"].x) * np.asarray(m["curve"].y), 1e6)
    assert not m["path"].visible and not m["before"].visible
    assert list(m["label"].text) == ["price 100.00"]
    # The tangent through (100, 10,000) has slope -y/x = -100.
    tx, ty = np.asarray(m["tangent"].x), np.asarray(m["tangent"].y)
    assert (ty[1] - ty[0]) / (tx[1] - tx[0]) == pytest.approx(-100)
    assert np.interp(100, tx, ty) == pytest.approx(10_000)


def test_a_sell_moves_the_point_and_draws_its_path():
    pool = small_pool()
    chart = ReservesChart(pool)
    fill = pool.market_sell(10)
    chart.update(fill)
    m = chart.marks
    # Worked by hand: out = 0.997 * 10 * 10,000 / 109.97 = 906.61 USD; the pool now holds
    # 110 coins and 9,093.39 USD, price 9,093.39 / 110 = 82.67.
    assert m["point"].x[0] == 110 and m["point"].y[0] == pytest.approx(9_093.389, abs=1e-3)
    assert list(m["label"].text) == ["price 82.67"]
    assert m["path"].visible and m["before"].visible
    px, py = np.asarray(m["path"].x), np.asarray(m["path"].y)
    assert (px[0], py[0]) == pytest.approx((100, 10_000))  # the path starts where it was
    assert (px[-1], py[-1]) == pytest.approx((110, 9_093.389), abs=1e-3)
    assert (m["before"].x[0], m["before"].y[0]) == pytest.approx((100, 10_000))
    # Every point of the path keeps the product with the fee taken off the coins paid in:
    # (100 + 0.997 * d) * y = 1,000,000 (UniswapV2Pair.swap's check), while x*y itself grows.
    d = px - 100
    assert np.allclose((100 + 0.997 * d) * py, 1e6, rtol=1e-12)
    assert (np.diff(px * py) > 0).all()
    # The curve drawn is the new k = 110 * 9,093.389 = 1,000,272.8, and the axes hold the trade.
    assert np.allclose(np.asarray(m["curve"].x) * np.asarray(m["curve"].y), 1_000_272.8,
                       rtol=1e-6)
    assert chart.x.min < 100 < 110 < chart.x.max
    assert chart.y.min < 9_093.389 < 10_000 < chart.y.max


def test_the_axes_stay_while_trades_stay_inside_and_refit_when_one_leaves():
    pool = small_pool()
    chart = ReservesChart(pool)
    # Opening frame: the coin axis 100 +- 25% = [75, 125] (the smallest window).
    assert (chart.x.min, chart.x.max) == pytest.approx((75, 125))
    y_axis = (chart.y.min, chart.y.max)
    chart.update(pool.market_sell(1))
    chart.update(pool.market_sell(20))  # 121 coins: still 5% inside the edge at 125
    assert (chart.x.min, chart.x.max) == pytest.approx((75, 125))
    assert (chart.y.min, chart.y.max) == y_axis
    # 30 more: 121 -> 151 leaves the frame. Refit around the path: centre 136, reach
    # 15 / 136 = 11%, within 60% of the smallest window (25%): 136 +- 34 = [102, 170].
    chart.update(pool.market_sell(30))
    assert (chart.x.min, chart.x.max) == pytest.approx((102, 170))
    # A trade of 100 -> 400 coins needs a wider window: reach 150 / 250 = 60%, beyond 60% of
    # 25% and 50% and 75%: the widest, 250 +- 90% = [25, 475].
    fresh = small_pool(fee=0.0)
    wide = ReservesChart(fresh)
    wide.update(fresh.market_sell(300))
    assert (wide.x.min, wide.x.max) == pytest.approx((25, 475))
    # The USD axis holds the curve from 475 to 25 coins: 10^6 / 475 to 10^6 / 25, padded 6%.
    span = 1e6 / 25 - 1e6 / 475
    assert (wide.y.min, wide.y.max) == pytest.approx((1e6 / 475 - 0.06 * span,
                                                      1e6 / 25 + 0.06 * span))


def test_a_buy_draws_its_path_to_the_left():
    pool = small_pool(fee=0.0)
    chart = ReservesChart(pool)
    chart.update(pool.market_buy(20))  # 20 coins for 10,000 * 20 / 80 = 2,500 USD
    px, py = np.asarray(chart.path.x), np.asarray(chart.path.y)
    assert (px[0], py[0]) == pytest.approx((100, 10_000))
    assert (px[-1], py[-1]) == pytest.approx((80, 12_500))
    assert np.allclose(px * py, 1e6)  # no fee: the path stays on the curve


def test_trade_path_of_nothing_is_empty():
    pool = small_pool()
    x, y = trade_path(pool, pool.market_sell(0))
    assert x.size == 0 and y.size == 0


def test_describe_trade_by_hand():
    pool = small_pool()
    fill = pool.market_buy(10)
    # 10 coins for 100,000 / 89.73 = 1,114.45 USD; price 11,114.45 / 90 = 123.49 (+23.5%);
    # k = 90 * 11,114.4545 = 1,000,300.9: up 0.03%.
    assert describe_trade(fill, 100.0, 1e6, pool) == (
        "Bought 10 units from the pool for 1,114.45 USD: 111.45 USD a unit on average. The "
        "price y/x moved from 100.00 to 123.49 (+23.5%); x·y grew by 0.03%, the fee kept in "
        "the pool.")
    refused = pool.market_buy(500)
    assert describe_trade(refused, 123.49, pool.k, pool) == (
        "The pool refuses to sell 500 units: it holds only 90, and its last unit would cost "
        "infinitely many USD. Nothing traded.")


def test_pool_view_buttons_trade_and_reset():
    view = PoolView(small_pool(), order_size=10)
    assert view.sentence == ("The pool holds 100 units and 10,000 USD: price y/x = 100.00 USD. "
                             "Sell or buy to move along the curve.")
    view.sell_button.click()
    assert view.pool.base_reserve == 110 and view.chart.point.x[0] == 110
    assert view.sentence.startswith("Sold 10 units to the pool for 906.61 USD")
    assert "role='status'" in view.readout.value and "906.61" in view.readout.value
    view.size_box.value = 200  # more than the 110 coins the pool holds: refused, nothing moves
    view.buy_button.click()
    assert view.pool.base_reserve == 110 and view.sentence.startswith("The pool refuses")
    view.sell(60)  # 110 -> 170 coins: out of the first frame, the axes refit
    assert view.chart.x.max > 170  # 140 +- 50%: [70, 210]
    view.reset_button.click()
    assert (view.chart.x.min, view.chart.x.max) == pytest.approx((75, 125))  # framed afresh
    assert (view.pool.base_reserve, view.pool.quote_reserve) == (100, 10_000)
    assert view.chart.point.x[0] == 100 and not view.chart.path.visible
    assert view.chart.pool is view.pool


def test_pool_view_leaves_the_callers_pool_alone_and_opens_on_the_lesson_pool():
    pool = small_pool()
    PoolView(pool).sell(30)
    assert pool.base_reserve == 100
    view = PoolView()
    assert view.pool.spot == pytest.approx(100)
    # 2M USD of 1% depth: selling the price 1% lower pays 2M USD.
    fill = view.pool.copy().sell_through(99)
    assert fill.filled * fill.avg_price == pytest.approx(2e6, rel=1e-9)


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="pool must be a ConstantProductPool, got str"):
        ReservesChart("pool")
    with pytest.raises(ValueError, match="pool must be a ConstantProductPool, got int"):
        PoolView(3)
    with pytest.raises(ValueError, match=r"order_size must be in \[1, 1e\+09\], got 0"):
        PoolView(order_size=0)
    with pytest.raises(ValueError, match="fill must be a Fill or None, got str"):
        ReservesChart(small_pool()).update("fill")
