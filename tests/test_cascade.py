"""The round worked by hand, the geometric closed form, end states and bad input."""

import numpy as np
import pytest

from marginloops import Cascade, OrderBook, Positions


def ladder_book(sizes=(1, 1, 1, 1, 1, 10), top=100.0):
    prices = top - np.arange(len(sizes), dtype=float)
    return OrderBook.from_levels(prices, sizes, [top + 1], [100.0])


def two_longs():
    # A: 1 unit, entry 110, 10x, m=0 -> liquidation = bankruptcy = 99
    # B: 1 unit, entry 196, 2x,  m=0 -> liquidation = bankruptcy = 98
    # C: 2 units, entry 105, 5x, m=0 -> liquidation 84 (out of reach)
    return Positions.from_arrays([1, 1, 1], [1.0, 1.0, 2.0], [110.0, 196.0, 105.0],
                                 [10.0, 2.0, 5.0], 0.0)


def test_round_by_round_worked_by_hand():
    cas = Cascade(two_longs(), ladder_book(), shock=0.015)
    shock = cas.step()
    # Shock to 98.5: takes 1 @ 100 and 1 @ 99; the last fill, 99, is the new price.
    assert (shock.round, shock.shock_qty, shock.price_after) == (0, 2.0, 99.0)
    assert shock.avg_fill_price == pytest.approx(99.5) and shock.pending == 1
    r1 = cas.step()
    # 99 reaches A's liquidation price exactly: A sells 1 unit at 98.
    assert (r1.n_liquidated, r1.qty_liquidated, r1.price_after) == (1, 1.0, 98.0)
    assert r1.slippage == pytest.approx(1 / 99)
    assert r1.margin_lost == pytest.approx(11.0)
    # Equity at close 1 * (98 - 99) = -1: an empty fund leaves 1 USD of bad debt.
    assert (r1.to_fund, r1.bad_debt_round, r1.insurance_fund) == (-1.0, 1.0, 0.0)
    assert r1.pending == 1 and r1.end_reason is None
    r2 = cas.step()
    assert (r2.n_liquidated, r2.price_after, r2.bad_debt) == (1, 97.0, 2.0)
    assert r2.margin_lost == pytest.approx(98.0)
    assert r2.end_reason == "fixed_point" and r2.n_open == 1 and r2.open_interest == 2.0
    assert cas.step() is None and cas.ended
    np.testing.assert_array_equal(cas.liquidated_round, [1, 2, -1])


def test_insurance_fund_pays_before_bad_debt():
    hist = Cascade(two_longs(), ladder_book(), shock=0.015, insurance_fund=1.5).run()
    assert [r.insurance_fund for r in hist] == [1.5, 0.5, 0.0]
    assert [r.bad_debt for r in hist] == [0.0, 0.0, 0.5]


def test_resilience_refills_at_the_touch_and_stops_the_loop_sooner():
    hist = Cascade(two_longs(), ladder_book(), shock=0.015, resilience=0.5).run()
    # After the shock 0.5 * 2 units come back at the touch, 98: A sells at 98 (price 98),
    # 0.5 comes back; B is reached at 98 and sells at 98 too: the price stops at 98, not 97.
    assert [r.price_after for r in hist] == [99.0, 98.0, 98.0]
    assert hist[-1].bad_debt == pytest.approx(1.0)


def test_fee_takes_part_of_positive_equity_rest_goes_back():
    # 1 unit long, entry 180, 2x, m = 8%: liquidation 90 / 0.92 = 97.83, bankruptcy 90.
    pos = Positions.from_arrays([1], [1.0], [180.0], [2.0], [0.08])
    book = OrderBook.from_levels([100, 99, 97.5, 97], [1, 1, 1, 5])
    kept = Cascade(pos, book, shock=0.025).run()
    assert kept[1].avg_fill_price == 97 and kept[1].to_fund == pytest.approx(7.0)
    fee = Cascade(pos, book, shock=0.025, liquidation_fee=0.01).run()
    assert fee[1].fees == pytest.approx(0.97)
    assert fee[1].returned_to_traders == pytest.approx(6.03)
    assert fee[1].insurance_fund == pytest.approx(0.97)


def test_exhausted_book_reports_unfilled_units():
    pos = Positions.from_arrays([1], [5.0], [110.0], [10.0], [0.0])  # liquidation 99
    book = OrderBook.from_levels([100, 99], [1, 1])
    hist = Cascade(pos, book, shock=0.01).run()
    assert hist[0].book_left == 0
    last = hist[-1]
    assert (last.filled_qty, last.unfilled_qty, last.inventory_qty) == (0.0, 5.0, 5.0)
    assert last.end_reason == "book_exhausted" and last.price_after == 99.0
    assert last.n_open == 0


def test_zero_positions_ends_after_the_shock():
    pos = Positions.from_arrays([], [], [], [], [])
    hist = Cascade(pos, ladder_book(), shock=0.02).run()
    assert len(hist) == 1 and hist[0].end_reason == "fixed_point"
    assert hist[0].price_after == 98.0


def test_max_rounds_bounds_the_run():
    n = 50
    liq = 99.5 - np.arange(n) * 1.0  # one long per level, each sale reaches the next
    pos = Positions.from_arrays(np.ones(n), np.ones(n), liq / 0.9, 10.0, 0.0)
    book = OrderBook.from_levels(100 - np.arange(90.0), np.ones(90))
    hist = Cascade(pos, book, shock=0.01, max_rounds=5).run()
    assert len(hist) == 6 and hist[-1].end_reason == "max_rounds" and hist[-1].pending > 0


def test_squeeze_liquidates_shorts_by_buying():
    # Short 1 unit, entry 66, 2x, m=0: liquidation = bankruptcy = 99 (above the start ask 95).
    pos = Positions.from_arrays([-1, 1], [1.0, 1.0], [66.0, 100.0], [2.0, 10.0], 0.0)
    book = OrderBook.from_levels([94], [10], [95, 97, 99, 100], [1, 1, 1, 5])
    hist = Cascade(pos, book, shock=0.04, direction="up").run()
    # Shock to 98.8: takes 95 and 97, price 97; nothing reached; ... fixed point.
    assert hist[0].price_after == 97 and hist[-1].end_reason == "fixed_point"
    hist = Cascade(pos, book, shock=0.05, direction="up").run()
    # Shock to 99.75: takes 95, 97, 99 -> price 99 reaches the short, which buys 1 at 100.
    assert [r.price_after for r in hist] == [99.0, 100.0]
    assert hist[1].n_liquidated == 1 and hist[1].liquidated_side == "short"
    assert hist[1].to_fund == pytest.approx(-1.0)  # bought at 100, bankrupt at 99


def test_reset_restores_the_start_exactly():
    cas = Cascade(two_longs(), ladder_book(), shock=0.015, insurance_fund=1.5)
    first = cas.run()
    cas.reset()
    assert cas.round == 0 and cas.history == [] and not cas.ended
    assert cas.price == cas.start_price and cas.insurance_fund == 1.5
    assert (cas.liquidated_round == -1).all() and cas.book.bid_depth() == 15
    assert [r.price_after for r in cas.run()] == [r.price_after for r in first]


def test_caller_book_is_not_touched():
    book = ladder_book()
    Cascade(two_longs(), book, shock=0.015).run()
    assert book.bid_depth() == 15


def flat_band(n_per_dollar, depth_per_dollar, tick=0.01, band=(60.0, 100.0)):
    """Longs with liquidation prices n per dollar over the band; a flat book of D per dollar."""
    lo, hi = band
    spacing = tick
    liq = np.arange(hi - spacing / 2, lo, -spacing)
    size = np.full(len(liq), n_per_dollar * spacing)
    pos = Positions.from_arrays(np.ones(len(liq)), size, liq / 0.9, 10.0, 0.0)
    prices = np.round(100.0 - tick * np.arange(int(90 / tick)), 6)
    book = OrderBook.from_levels(prices, np.full(len(prices), depth_per_dollar * tick))
    return pos, book


@pytest.mark.parametrize("ratio", [0.3, 0.5, 0.8])
def test_geometric_closed_form_when_density_below_depth(ratio):
    depth = 1000.0
    pos, book = flat_band(ratio * depth, depth)
    shock = 0.02  # 2 dollars off 100
    hist = Cascade(pos, book, shock=shock).run()
    drops = np.array([r.price_before - r.price_after for r in hist])
    d0 = drops[0]
    assert d0 == pytest.approx(2.0, abs=0.011)
    # Per-round drops form a geometric series with ratio n / D ...
    k = np.arange(min(len(drops), 6))
    np.testing.assert_allclose(drops[k], d0 * ratio ** k, atol=0.03)
    # ... so the total drop is D0 / (1 - n/D), within a few ticks.
    total = hist[0].price_before - hist[-1].price_after
    assert total == pytest.approx(d0 / (1 - ratio), abs=0.05)
    assert hist[-1].end_reason == "fixed_point" and hist[-1].n_open > 0


@pytest.mark.parametrize("ratio", [1.0, 1.5, 3.0])
def test_cascade_runs_through_the_whole_band_when_density_reaches_depth(ratio):
    depth = 1000.0
    pos, book = flat_band(ratio * depth, depth, band=(80.0, 100.0))
    hist = Cascade(pos, book, shock=0.02).run()
    assert hist[-1].n_open == 0  # every position in the band was liquidated
    assert hist[-1].price_after < 80.0 + 0.02
    # The first liquidation round drops n/D times the shock: the loop grows or holds.
    assert hist[1].price_before - hist[1].price_after == pytest.approx(
        ratio * (hist[0].price_before - hist[0].price_after), abs=0.03)


@pytest.mark.parametrize("kwargs,needle", [
    (dict(shock=0.0), "shock must be in (0, 1), got 0"),
    (dict(shock=1.0), "shock must be in (0, 1), got 1"),
    (dict(shock=float("nan")), "shock must be a finite number"),
    (dict(direction="sideways"), "direction must be one of"),
    (dict(resilience=1.5), "resilience must be in [0, 1], got 1.5"),
    (dict(insurance_fund=-1), "insurance_fund must be >= 0, got -1"),
    # One range per field, shared by Scenario and Cascade (issue 11: they used to differ).
    (dict(max_rounds=0), "max_rounds must be in [1, 100000], got 0"),
    (dict(max_rounds=100_001), "max_rounds must be in [1, 100000], got 100001"),
    (dict(liquidation_fee=0.11), "liquidation_fee must be in [0, 0.1], got 0.11"),
])
def test_cascade_rejects_bad_input(kwargs, needle):
    with pytest.raises(ValueError) as err:
        Cascade(two_longs(), ladder_book(), **{"shock": 0.01, **kwargs})
    assert needle in str(err.value)


@pytest.mark.parametrize("field,value", [("max_rounds", 100_001), ("liquidation_fee", 0.11)])
def test_scenario_and_cascade_refuse_a_field_with_the_same_words(field, value):
    from marginloops import Scenario
    with pytest.raises(ValueError) as in_scenario:
        Scenario.preset("crowded-longs").replace(**{field: value})
    with pytest.raises(ValueError) as in_cascade:
        Cascade(two_longs(), ladder_book(), shock=0.01, **{field: value})
    assert str(in_scenario.value) == str(in_cascade.value)


def test_cascade_rejects_positions_already_past_liquidation():
    pos = Positions.from_arrays([1], [1.0], [110.0], [5.0], [0.1])  # liquidation 97.8 ... fine
    Cascade(pos, ladder_book(), shock=0.01)
    under = Positions.from_arrays([1], [1.0], [112.0], [10.0], [0.0])  # liquidation 100.8
    with pytest.raises(ValueError, match="solvent at the starting price 100"):
        Cascade(under, ladder_book(), shock=0.01)


def test_cascade_needs_a_side_to_trade_into():
    book = OrderBook.from_levels([], [], [101], [1])
    with pytest.raises(ValueError, match="book must have bids"):
        Cascade(two_longs(), book, shock=0.01)
    with pytest.raises(ValueError, match="positions must be a Positions"):
        Cascade([1, 2], ladder_book())


def test_crowding_measures_density_against_depth():
    from marginloops import amplification, crowding
    for ratio in (0.5, 2.0):
        pos, book = flat_band(ratio * 1000.0, 1000.0, band=(80.0, 100.0))
        cas = Cascade(pos, book, shock=0.02)
        c = crowding(cas, band=0.1)
        # the band 90..100: liquidation prices at n per dollar, 10 dollars of book at D per dollar
        assert (c.lo, c.hi) == (90.0, 100.0)
        assert c.liquidation_units == pytest.approx(ratio * 1000 * 10, rel=1e-9)
        assert c.book_units == pytest.approx(1000 * 10, rel=0.002)
        assert c.ratio == pytest.approx(ratio, rel=0.002)
    hist = Cascade(*flat_band(500.0, 1000.0), shock=0.02).run()
    assert amplification(hist) == pytest.approx(2.0, abs=0.03)  # 1 / (1 - 1/2)
    with pytest.raises(ValueError, match="band must be in"):
        crowding(cas, band=0)


def test_units_the_book_cannot_take_are_marked_at_the_last_trade():
    # One long of 5 units, liquidation = bankruptcy = 99; bids 100, 99, 50 (1 each).
    pos = Positions.from_arrays([1], [5.0], [110.0], [10.0], 0.0)
    book = OrderBook.from_levels([100, 99, 50], [1, 1, 1])
    last = Cascade(pos, book, shock=0.01).run()[-1]
    # 1 unit sells at 50 (49 below bankruptcy); the fund takes 4 units at 99 that are worth
    # 50 now: 4 * 49 more. Shortfall 5 * 49 = 245, all bad debt (empty fund).
    assert (last.filled_qty, last.unfilled_qty, last.price_after) == (1.0, 4.0, 50.0)
    assert last.to_fund == pytest.approx(-245.0) and last.bad_debt == pytest.approx(245.0)


@pytest.mark.parametrize("shock", [0.07, 0.29, 0.41, 0.57])
def test_the_shock_takes_the_level_at_its_limit_despite_rounding(shock):
    # (1 - 0.41) * 100 = 59.00000000000001 in floating point: the 59 level must still go.
    book = OrderBook.from_levels(100.0 - np.arange(99.0), np.ones(99))
    pos = Positions.from_arrays([], [], [], [], [])
    rec = Cascade(pos, book, shock=shock).run()[0]
    assert rec.price_after == pytest.approx(100 * (1 - shock))


def test_histories_compare_by_value():
    a = Cascade(two_longs(), ladder_book(), shock=0.015).run()
    b = Cascade(two_longs(), ladder_book(), shock=0.015).run()
    assert a == b and a[0] is not b[0]
    c = Cascade(two_longs(), ladder_book(), shock=0.025).run()
    assert a != c
    def exhausted():  # round 1 fills nothing: its average fill price is NaN
        pos = Positions.from_arrays([1], [5.0], [110.0], [10.0], [0.0])
        return Cascade(pos, OrderBook.from_levels([100, 99], [1, 1]), shock=0.01).run()
    first, second = exhausted(), exhausted()
    assert np.isnan(first[1].avg_fill_price)
    assert first == second  # NaN fields still compare equal
