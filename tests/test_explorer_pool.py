"""The explorer on a constant-product pool (issue 11, item 2): the pool's reserves chart takes
the order-book chart's place, follows the cascade's pool every round (and at phase mode's
"walk the book"), and gives the place back when the market trades on a book again."""

import numpy as np
import pytest

from marginloops import CascadeExplorer, ConstantProductPool, Scenario
from marginloops.ui.pool import ReservesChart

CROWDED = Scenario.preset("crowded-longs")
POOL = CROWDED.replace(venue="pool")


def uniswap_out(x, y, dx, fee=0.003):
    """USD out of a pool (x coins, y USD) for ``dx`` coins in, Uniswap v2's formula (the issue's
    words): out = γ·Δx·y / (x + γ·Δx), γ = 1 − fee."""
    g = 1 - fee
    return g * dx * y / (x + g * dx)


def shown_on(ex):
    return ex.venue_box.children[0]


def point(ex):
    return float(ex.pool_chart.point.x[0]), float(ex.pool_chart.point.y[0])


def test_a_pool_market_shows_the_reserves_chart_in_place_of_the_book():
    ex = CascadeExplorer(POOL)
    assert isinstance(ex.pool_chart, ReservesChart) and ex.venue_chart is ex.pool_chart
    assert shown_on(ex) is ex.pool_chart.widget
    assert ex.book_chart.widget not in ex.venue_box.children
    start = POOL.pool()
    assert point(ex) == pytest.approx((start.base_reserve, start.quote_reserve), rel=1e-12)
    assert not ex.pool_chart.path.visible  # no trade yet


def test_each_step_moves_the_point_to_the_cascade_pool_along_the_round_trade():
    ex = CascadeExplorer(POOL)
    x, y = POOL.pool().base_reserve, POOL.pool().quote_reserve
    for _ in range(3):
        ex.time.step_button.click()
        rec = ex.cascade.history[-1]
        pool = ex.cascade.venue
        assert rec.venue == "pool"
        # the chart's point is the cascade's pool now ...
        assert point(ex) == pytest.approx((pool.base_reserve, pool.quote_reserve), rel=1e-12)
        # ... which the round's sale moved by Uniswap v2's formula (no refill in this preset)
        assert rec.refilled == 0
        assert point(ex) == pytest.approx((x + rec.filled_qty,
                                           y - uniswap_out(x, y, rec.filled_qty)), rel=1e-9)
        assert point(ex)[1] / point(ex)[0] == pytest.approx(rec.price_after, rel=1e-9)
        # the path runs from where the pool stood before the round to where it stands now
        px, py = np.asarray(ex.pool_chart.path.x), np.asarray(ex.pool_chart.path.y)
        assert ex.pool_chart.path.visible
        assert (px[0], py[0]) == pytest.approx((x, y), rel=1e-9)
        assert (px[-1], py[-1]) == pytest.approx(point(ex), rel=1e-12)
        assert np.all(np.diff(px) > 0) and np.all(np.diff(py) < 0)  # a sale: coins in, USD out
        x, y = point(ex)
    assert x > POOL.pool().base_reserve  # the point moved


def test_with_a_refill_the_path_is_the_trade_and_the_price_the_pools():
    """resilience 0.5: market makers add coins and USD after each trade at the same price; the
    chart draws the trade (from the pool before it) and the pool as the trade left it."""
    ex = CascadeExplorer(POOL.replace(resilience=0.5))
    for _ in range(3):
        before = ex.cascade.venue.copy()
        x, y = before.base_reserve, before.quote_reserve
        ex.time.step_button.click()
        rec, pool = ex.cascade.history[-1], ex.cascade.venue
        assert rec.refilled > 0
        px, py = np.asarray(ex.pool_chart.path.x), np.asarray(ex.pool_chart.path.y)
        assert (px[0], py[0]) == pytest.approx((x, y), rel=1e-9)
        after = (x + rec.filled_qty, y - uniswap_out(x, y, rec.filled_qty))
        assert (px[-1], py[-1]) == pytest.approx(after, rel=1e-9)
        assert point(ex) == pytest.approx(after, rel=1e-9)
        # the refill added rec.refilled coins at the same price
        assert pool.base_reserve == pytest.approx(after[0] + rec.refilled, rel=1e-12)
        assert point(ex)[1] / point(ex)[0] == pytest.approx(pool.spot, rel=1e-9)


def test_reset_and_switching_venue_swap_the_chart_back_and_forth():
    ex = CascadeExplorer(POOL)
    start = point(ex)
    ex.time.step_button.click(), ex.time.step_button.click()
    assert point(ex) != start
    ex.time.reset_button.click()
    assert shown_on(ex) is ex.pool_chart.widget
    assert point(ex) == pytest.approx(start, rel=1e-12) and not ex.pool_chart.path.visible
    ex.time.step_button.click()  # the chart follows the new run's pool, not the old one
    assert ex.pool_chart.pool is ex.cascade.venue  # no refill in this preset: the pool itself
    ex.set_scenario(CROWDED)  # a book
    assert ex.venue_chart is ex.book_chart and shown_on(ex) is ex.book_chart.widget
    ex.time.step_button.click()
    assert ex.book_chart.taken_units.sum() == pytest.approx(
        ex.cascade.history[-1].filled_qty, rel=1e-9)
    ex.set_scenario(POOL)
    assert shown_on(ex) is ex.pool_chart.widget
    assert point(ex) == pytest.approx(start, rel=1e-12)


def test_a_book_market_never_builds_a_pool_chart():
    ex = CascadeExplorer(CROWDED)
    ex.time.step_button.click()
    assert ex.pool_chart is None and shown_on(ex) is ex.book_chart.widget


def test_phase_mode_on_a_pool_moves_the_point_at_the_shock_and_the_walk_only():
    ex = CascadeExplorer(POOL, phase_mode=True)
    seen = []
    for _ in range(10):
        before = point(ex)
        ex.time.step_button.click()
        stage = ex.stage.value.split("(")[1].split(")")[0]
        moved = point(ex) != before
        seen.append((stage, moved))
        pool = ex.cascade.venue
        if stage in ("the shock", "walk the book", "new price"):  # the round's trade is shown
            assert point(ex) == pytest.approx((pool.base_reserve, pool.quote_reserve), rel=1e-12)
    assert seen == [("the shock", True), ("new price", False)] + [
        ("check margins", False), ("liquidate", False), ("trade with the pool", True),
        ("new price", False)] * 2


def test_phase_mode_names_the_pool_trade_with_the_records_numbers():
    """A pool has no book to walk: stage 3 is "trade with the pool", in the records' numbers."""
    ex = CascadeExplorer(POOL, phase_mode=True)
    for _ in range(5):
        ex.time.step_button.click()
    rec = ex.cascade.history[-1]
    words = ex.stage.value
    assert "Round 1, stage 3 of 4 (trade with the pool)" in words
    assert "price level" not in words and "book" not in words
    assert "43,191 units sold into the pool for 4.1M USD, an average fill of 95.36" in words
    assert rec.filled_qty * rec.avg_fill_price == pytest.approx(43_191 * 95.36, rel=1e-4)
    assert "its price y/x is now 94.30" in words and "Round 1 · stage 3/4" in ex.time.counter.value


def test_run_to_end_on_a_pool_and_projector_mode_follow_the_swap():
    ex = CascadeExplorer(CROWDED)
    ex.projector_toggle.value = True
    ex.set_scenario(POOL)
    assert ex.pool_chart.projector  # the chart swapped in wears projector mode too
    ex.time.run_button.click()
    pool = ex.cascade.venue
    assert ex.cascade.ended
    assert point(ex) == pytest.approx((pool.base_reserve, pool.quote_reserve), rel=1e-12)
    ex.projector_toggle.value = False
    assert not ex.pool_chart.projector


def test_the_point_label_agrees_with_the_status_line_price():
    """The run starts at the pool's bid (what a tiny sale gets after the 0.3% fee), not its
    spot y/x: by hand, a bid of 100.00 means a spot of 100 / 0.997 = 100.30. The label says
    both, so it agrees with the status line; after a trade the price is the spot again."""
    import re
    ex = CascadeExplorer(Scenario.preset("crowded-longs").replace(venue="pool"))
    status = re.search(r"price <b>([\d.,]+)</b>", ex.status.value).group(1)
    assert status == "100.00"
    assert list(ex.pool_chart.label.text) == ["y/x 100.30"]
    assert list(ex.pool_chart.quote_label.text) == ["a sale gets 100.00"]
    ex.time.step_button.click()
    status = re.search(r"price <b>([\d.,]+)</b>", ex.status.value).group(1)
    spot = re.fullmatch(r"y/x ([\d.,]+)", ex.pool_chart.label.text[0]).group(1)
    assert spot == status == "97.00"
    # a squeeze starts at the ask: 100.00 = spot / 0.997, so the spot is 99.70
    ex = CascadeExplorer(Scenario.preset("short-squeeze").replace(venue="pool"))
    assert list(ex.pool_chart.label.text) == ["y/x 99.70"]
    assert list(ex.pool_chart.quote_label.text) == ["a buy pays 100.00"]


def test_the_pool_view_label_is_the_spot_alone():
    chart = ReservesChart(ConstantProductPool(100.0, 10_000.0))
    chart.update()
    assert list(chart.label.text) == ["price 100.00"] and list(chart.quote_label.text) == [""]


def test_the_venue_panel_is_chosen_by_the_venues_kind():
    from marginloops.ui.venue_panels import VENUE_PANELS, panel_for
    ex = CascadeExplorer(Scenario.preset("crowded-longs").replace(venue="pool"))
    assert ex.venue_panel.kind == ex.cascade.venue.kind == "pool"
    assert ex._round_stages()[2] == "trade with the pool"
    ex.set_scenario(Scenario.preset("crowded-longs"))
    assert ex.venue_panel.kind == "book" and ex._round_stages()[2] == "walk the book"
    # every panel answers the same calls the explorer makes
    for cls in VENUE_PANELS.values():
        for name in ("load", "show_trade", "label_taken", "set_price", "trade_sentence"):
            assert callable(getattr(cls, name)), (cls, name)

    class Odd:
        kind = "dark pool"
    with pytest.raises(ValueError, match=r"venue kind must be one of \['book', 'pool'\].*"
                                         r"'dark pool'"):
        panel_for(Odd())
