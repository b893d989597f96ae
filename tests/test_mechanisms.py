"""Mechanisms that feed or stop a cascade, each worked by hand: circuit breaker, call auction,
refill at the old levels, market makers withdrawing. Each is off by default."""

import numpy as np
import pytest

from marginloops import Cascade, CircuitBreaker, OrderBook, Positions
from marginloops.tiers import BINANCE_STYLE_TIERS, MarginTiers


def ladder(sizes=(1, 1, 1, 1, 1, 10), top=100.0):
    prices = top - np.arange(len(sizes), dtype=float)
    return OrderBook.from_levels(prices, sizes, [top + 1], [100.0])


def one_long(size=1.0):
    # entry 110, 10x, m = 0: liquidation = bankruptcy = 99
    return Positions.from_arrays([1], [size], [110.0], [10.0], 0.0)


def test_circuit_breaker_halts_exactly_n_rounds_and_the_book_recovers():
    cas = Cascade(one_long(), ladder(), shock=0.015,
                  breaker=CircuitBreaker(move=0.005, halt_rounds=2), recovery=0.5)
    hist = cas.run()
    # The shock takes 100 and 99 (2 units): a 1% move trips the 0.5% breaker.
    assert hist[0].breaker_tripped and hist[0].halt_rounds_left == 2
    # Two halted rounds: no trade, the price stays, market makers restore half of what is
    # missing each time at the touch (98): 0.5 * 2 = 1, then 0.5 * 1 = 0.5.
    for rec, refill, left in zip(hist[1:3], (1.0, 0.5), (1, 0), strict=True):
        assert rec.halted and rec.n_liquidated == 0 and rec.filled_qty == 0
        assert rec.price_after == 99.0 and rec.refilled == pytest.approx(refill)
        assert rec.halt_rounds_left == left and rec.pending == 1
    # Then trading resumes: the long sells 1 unit into the refilled 98 level.
    last = hist[3]
    assert (last.round, last.n_liquidated, last.price_after) == (3, 1, 98.0)
    assert last.end_reason == "fixed_point"
    assert cas.book.bids()[1][0] == pytest.approx(1.0 + 1.5 - 1.0)
    # Without the breaker the same long is sold in round 1.
    plain = Cascade(one_long(), ladder(), shock=0.015).run()
    assert [r.n_liquidated for r in plain] == [0, 1]


def test_circuit_breaker_below_its_level_does_nothing():
    base = Cascade(one_long(), ladder(), shock=0.015).run()
    calm = Cascade(one_long(), ladder(), shock=0.015,
                   breaker=CircuitBreaker(move=0.02, halt_rounds=3)).run()
    assert [r.price_after for r in calm] == [r.price_after for r in base]
    assert not any(r.halted or r.breaker_tripped for r in calm)


def test_breaker_from_a_reference_price_counts_the_whole_move():
    # Two longs: A at 99, B at 98 (see test_cascade.two_longs). Each round moves 1%.
    pos = Positions.from_arrays([1, 1], [1.0, 1.0], [110.0, 196.0], [10.0, 2.0], 0.0)
    per_round = Cascade(pos, ladder(), shock=0.015,
                        breaker=CircuitBreaker(move=0.015, reference="round")).run()
    assert not any(r.breaker_tripped for r in per_round)  # no single round moves 1.5%
    from_start = Cascade(pos, ladder(), shock=0.015,
                         breaker=CircuitBreaker(move=0.015, reference="start", halt_rounds=1)
                         ).run()
    # 100 -> 99 -> 98: 2% from the start after round 1 trips it; round 2 is halted.
    assert [r.breaker_tripped for r in from_start[:2]] == [False, True]
    assert from_start[2].halted and from_start[3].n_liquidated == 1


def test_call_auction_clears_the_batch_at_one_price():
    pos = one_long(size=2.0)
    walked = Cascade(pos, ladder(), shock=0.015, recovery=0.0).run()
    auction = Cascade(pos, ladder(), shock=0.015, call_auction=True, recovery=0.0).run()
    # Walking: 1 @ 98 + 1 @ 97, average 97.5. Auction: both at 97, the price that clears.
    assert walked[1].avg_fill_price == 97.5 and not walked[1].uniform_price
    assert auction[1].avg_fill_price == auction[1].last_fill_price == 97.0
    assert auction[1].uniform_price and auction[1].price_after == 97.0
    # Equity at close 2 * (97 - 99) = -4 instead of 2 * (97.5 - 99) = -3.
    assert auction[1].to_fund == pytest.approx(-4.0) and walked[1].to_fund == pytest.approx(-3.0)


def test_call_auction_gathers_arriving_liquidity_first():
    # Recovery 0.5: half of the 2 units the shock took arrive at the touch (98) before the
    # auction clears, so both units clear at 98 and the price stops there.
    hist = Cascade(one_long(size=2.0), ladder(), shock=0.015, call_auction=True,
                   recovery=0.5).run()
    assert hist[1].refilled == pytest.approx(1.0)
    assert hist[1].avg_fill_price == hist[1].price_after == 98.0


def test_refill_at_old_levels_puts_depth_back_where_it_was():
    book = ladder()
    touch = Cascade(one_long(), book, shock=0.015, resilience=1.0).run()
    levels = Cascade(one_long(), book, shock=0.015, resilience=1.0, refill_at="levels").run()
    # At the touch: 2 units come back at 98; the long sells there and the price is 98.
    assert touch[1].avg_fill_price == 98.0
    # At the old levels: 100 and 99 are quoted again; the long sells at 100, above the last
    # trade of the shock, so the price goes back up to 100.
    assert levels[1].avg_fill_price == 100.0 and levels[1].price_after == 100.0


def test_market_makers_withdraw_when_the_price_moves_fast():
    book = OrderBook.from_levels([100, 99.5, 99, 98.5, 98], [1, 1, 1, 1, 1])
    pos = Positions.from_arrays([], [], [], [], [])
    rec = Cascade(pos, book, shock=0.006, withdrawal=1.0).run()[0]
    # The shock takes 100 and 99.5: a 0.5% move; withdrawal 1.0 cancels 1.0 * 0.5 = 50% of
    # the levels within 1% of 99.5 (down to 98.505): half of 99; 98.5 lies just outside.
    assert rec.price_after == 99.5 and rec.withdrawn == pytest.approx(0.5)
    assert rec.book_left == pytest.approx(0.5 + 1.0 + 1.0)


@pytest.mark.parametrize("kwargs,needle", [
    (dict(breaker=0.05), "breaker must be a CircuitBreaker or None"),
    (dict(recovery=1.5), "recovery must be in [0, 1], got 1.5"),
    (dict(call_auction="yes"), "call_auction must be True or False"),
    (dict(refill_at="middle"), "refill_at must be one of ('touch', 'levels')"),
    (dict(withdrawal=-1), "withdrawal must be in [0, 100], got -1"),
])
def test_mechanism_inputs_are_checked(kwargs, needle):
    with pytest.raises(ValueError) as err:
        Cascade(one_long(), ladder(), shock=0.01, **kwargs)
    assert needle in str(err.value)


@pytest.mark.parametrize("kwargs,needle", [
    (dict(move=0), "breaker move must be in (0, 1), got 0"),
    (dict(move=0.05, halt_rounds=0), "breaker halt_rounds must be in [1, 100], got 0"),
    (dict(move=0.05, reference="noon"), "breaker reference must be one of"),
])
def test_circuit_breaker_inputs_are_checked(kwargs, needle):
    with pytest.raises(ValueError) as err:
        CircuitBreaker(**kwargs)
    assert needle in str(err.value)


# ---------------------------------------------------------------- tiered maintenance margin

def test_maintenance_amounts_match_binances_documented_example():
    # https://www.binance.com/en/support/faq/how-to-calculate-liquidation-price-of-usd%E2%93%A2-m-futures-contracts-b3c689c1f50a44cabb3a84e663b81d93
    # "Maintenance Amount on Level 3 = 250,000 * (1% - 0.5%) + 50 USDT = 1,300 USDT", and a
    # 264,000 USDT position is in the 1% bracket.
    tiers = BINANCE_STYLE_TIERS
    np.testing.assert_allclose(tiers.amounts[:3], [0.0, 50.0, 1_300.0])
    assert tiers.rates[tiers.bracket(264_000)] == 0.01
    np.testing.assert_allclose(tiers.max_leverage[:4], [125, 100, 50, 20])


def test_requirement_is_continuous_at_every_bracket_edge():
    tiers = BINANCE_STYLE_TIERS
    for floor in tiers.floors[1:]:
        below, at = tiers.requirement([floor - 1e-6, floor])
        assert at == pytest.approx(below, abs=1e-5)
    assert tiers.requirement(300_000) == pytest.approx(0.01 * 300_000 - 1_300)


def test_tiered_liquidation_price_worked_by_hand():
    # Long 10 BTC at 30,000, 20x: by hand in the 1% bracket (amount 1,300):
    # P = (30,000 * 0.95 - 1,300 / 10) / 0.99 = 28,656.5657; its notional 286,566 USD lies in
    # [250,000, 1,000,000): consistent. (The 0.5% bracket gives 28,638.19, notional 286,382,
    # outside [50,000, 250,000): rejected.)
    pos = Positions.from_arrays([1], [10.0], [30_000.0], [20.0], 0.0).with_tiers(
        BINANCE_STYLE_TIERS)
    assert pos.mmr[0] == 0.01 and pos.maint_amount[0] == 1_300.0
    assert pos.liquidation_price[0] == pytest.approx(28_656.565656, rel=1e-9)
    # Binance's formula with TMM = UPNL = 0: LP = (WB + cum - q EP) / (q MMR - q)
    wb = 10 * 30_000 / 20
    assert pos.liquidation_price[0] == pytest.approx((wb + 1_300 - 10 * 30_000) / (10 * 0.01 - 10))
    # equity equals the tiered requirement at that price
    p = pos.liquidation_price[0]
    assert pos.equity(p)[0] == pytest.approx(BINANCE_STYLE_TIERS.requirement(10 * p), abs=1e-6)


def test_tiers_reduce_to_flat_margin_with_one_bracket():
    pos = Positions.generate(500, 100.0, mmr=0.005, seed=3, min_distance=1e-3)
    flat = Positions.from_arrays(pos.side, pos.size, pos.entry, pos.leverage, 0.005)
    tiered = flat.with_tiers(MarginTiers(((0, 0.005),)))
    np.testing.assert_allclose(tiered.liquidation_price, flat.liquidation_price, rtol=1e-12)


def test_generated_tiered_population_is_valid_and_big_positions_get_higher_rates():
    pos = Positions.generate(3000, 100.0, notional=3e8, size_sigma=1.5, seed=5,
                             tiers=BINANCE_STYLE_TIERS)
    notional = pos.size * pos.liquidation_price
    assert (pos.mmr * pos.leverage < 1).all()
    big, small = notional > 1_000_000, notional < 50_000
    assert big.any() and small.any()
    assert pos.mmr[big].min() >= 0.025 and pos.mmr[small].max() <= 0.004
    assert (pos.leverage[big] <= 20).all()  # capped by the bracket


@pytest.mark.parametrize("brackets,needle", [
    ((), "at least one"), (((10, 0.01),), "first floor must be 0"),
    (((0, 0.01), (0, 0.02)), "increasing floors"), (((0, 0.02), (10, 0.01)), "non-decreasing"),
    (((0, 0.6),), "mmr_tiers rate 0 must be in [0, 0.5)"), ("abc", "sequence of"),
])
def test_bad_tiers_are_named(brackets, needle):
    with pytest.raises(ValueError) as err:
        MarginTiers(brackets)
    assert needle in str(err.value)


# ---------------------------------------------------------------- partial liquidation

def test_partial_fraction_closes_a_quarter_then_the_rest_when_bankrupt():
    # 4 units long, entry 110, 10x, m = 0: liquidation 99, margin 44.
    pos = Positions.from_arrays([1], [4.0], [110.0], [10.0], 0.0)
    hist = Cascade(pos, ladder(), shock=0.015, partial="fraction", partial_fraction=0.25).run()
    r1 = hist[1]
    # Round 1: a quarter (1 unit) sells at 98; the position keeps 3 units and its margin
    # plus the realised loss: 44 + 1 * (98 - 110) = 32. It stays open.
    assert (r1.n_liquidated, r1.n_reduced, r1.qty_liquidated, r1.price_after) == (1, 1, 1.0, 98)
    assert r1.to_fund == 0 and r1.n_open == 1 and r1.open_interest == pytest.approx(3.0)
    # Round 2: at 98 its equity is 32 + 3 * (98 - 110) = -4: bankrupt, so all 3 units go:
    # 1 @ 97 + 1 @ 96 + 1 @ 95 = average 96; equity at close 32 + 3 * (96 - 110) = -10.
    r2 = hist[2]
    assert (r2.n_liquidated, r2.n_reduced, r2.qty_liquidated) == (1, 0, 3.0)
    assert r2.avg_fill_price == 96.0 and r2.to_fund == pytest.approx(-10.0)
    assert r2.bad_debt == pytest.approx(10.0) and r2.n_open == 0
    assert cas_closed_rounds(pos, partial="fraction") == [2]  # closed once, in round 2


def cas_closed_rounds(pos, **kwargs):
    cas = Cascade(pos, ladder(), shock=0.015, **kwargs)
    cas.run()
    return list(cas.liquidated_round)


def test_partial_restore_brings_equity_back_to_exactly_the_maintenance_margin():
    # 4 units long, entry 105, 10x, m = 5%: liquidation 94.5 / 0.95 = 99.47, margin 42.
    pos = Positions.from_arrays([1], [4.0], [105.0], [10.0], 0.05)
    cas = Cascade(pos, ladder(), shock=0.015, partial="restore", partial_fraction=0.05)
    cas.step()  # the shock: price 99; equity 42 + 4 * (99 - 105) = 18 < 0.05 * 4 * 99 = 19.8
    r1 = cas.step()
    # By hand: close x = 1 - 18 / 19.8 = 1/11 of it, 0.3636 units, so that at 99 the
    # maintenance of what is left, 0.05 * 99 * 4 * (10/11), equals the equity, 18.
    x = 1 - 18 / 19.8
    assert r1.n_reduced == 1 and r1.qty_liquidated == pytest.approx(4 * x)
    left = cas.accounts.q_left[0]
    assert left == pytest.approx(4 * (1 - x))
    assert 0.05 * 99 * left == pytest.approx(18.0)


def test_partial_liquidation_helps_when_the_book_recovers():
    from marginloops import Scenario, amplification
    base = Scenario.preset("crowded-longs").replace(resilience=0.5)
    whole = amplification(base.cascade().run())
    parts = amplification(base.replace(partial="fraction").cascade().run())
    assert parts < whole


# ---------------------------------------------------------------- dynamic margin

def test_dynamic_margin_reaches_positions_a_flat_rate_would_not():
    book = OrderBook.from_levels(100 - 0.5 * np.arange(20), np.ones(20))
    # liquidation 99 at a flat 0% rate; the shock only takes the price to 99.5
    plain = Cascade(one_long(), book, shock=0.005).run()
    assert len(plain) == 1 and plain[0].pending == 0
    # Dynamic margin 2: after a 0.5% move every rate rises by 2 * 0.005 = 1%, so the long's
    # liquidation price becomes 99 / 0.99 = 100 >= 99.5: it is liquidated in round 1.
    dyn = Cascade(one_long(), book, shock=0.005, dynamic_margin=2.0).run()
    assert dyn[1].mmr_surcharge == pytest.approx(0.01)
    assert dyn[1].n_liquidated == 1


def test_the_general_path_matches_the_sorted_one():
    from marginloops import Scenario
    s = Scenario.preset("crowded-longs")
    fast = s.cascade().run()
    general = Cascade(s.positions(), s.book(), s.shock, insurance_fund=s.insurance_fund,
                      dynamic_margin=1e-12).run()
    assert [r.n_liquidated for r in general] == [r.n_liquidated for r in fast]
    np.testing.assert_allclose([r.price_after for r in general], [r.price_after for r in fast])
    np.testing.assert_allclose([r.bad_debt for r in general], [r.bad_debt for r in fast],
                               atol=1e-6)


@pytest.mark.parametrize("kwargs,needle", [
    (dict(partial="half"), "partial must be one of (None, 'fraction', 'restore', 'tier')"),
    (dict(partial_fraction=0), "partial_fraction must be in [0.01, 1], got 0"),
    (dict(dynamic_margin=-1), "dynamic_margin must be in [0, 10], got -1"),
    (dict(dynamic_window=0), "dynamic_window must be in [1, 50], got 0"),
])
def test_partial_and_dynamic_inputs_are_checked(kwargs, needle):
    with pytest.raises(ValueError) as err:
        Cascade(one_long(), ladder(), shock=0.01, **kwargs)
    assert needle in str(err.value)


# ---------------------------------------------------------------- auto-deleveraging

def jex_adl_sequence(entry, mark, bankruptcy, side):
    """Binance JEX's documented ADL sequence for a profitable position:
    PnL proportion * Mark Price / |Mark Price - Bankruptcy Price|
    https://jexhelp.zendesk.com/hc/en-us/articles/360015310471-ADL-Sequence
    """
    pnl_proportion = (mark - entry) / entry if side > 0 else (entry - mark) / entry
    return pnl_proportion * mark / abs(mark - bankruptcy)


def adl_market():
    # A long of 2 units, liquidation = bankruptcy = 99; two profitable shorts:
    # S1: 1 unit at 104, 5x (bankruptcy 124.8); S2: 3 units at 100, 20x (bankruptcy 105).
    return Positions.from_arrays([1, -1, -1], [2.0, 1.0, 3.0], [110.0, 104.0, 100.0],
                                 [10.0, 5.0, 20.0], 0.0)


def test_adl_closes_the_bankrupt_long_against_the_top_ranked_short():
    # At 98 (after the shock) the long is 1 below bankruptcy: equity -2 and the fund is empty.
    s1 = jex_adl_sequence(104.0, 98.0, 124.8, -1)   # 6/104 * 98/26.8 = 0.211
    s2 = jex_adl_sequence(100.0, 98.0, 105.0, -1)   # 2/100 * 98/7    = 0.280
    assert s2 > s1
    cas = Cascade(adl_market(), ladder(), shock=0.025, adl=True)
    hist = cas.run()
    r1 = hist[1]
    # The long's 2 units go to S2 (ranked first) at the long's bankruptcy price, 99: nothing
    # is sold into the book, the price stays at 98 and no bad debt is left.
    assert (r1.n_adl, r1.adl_qty, r1.adl_price, r1.n_deleveraged) == (1, 2.0, 99.0, 1)
    assert r1.qty_liquidated == 0 and r1.price_after == 98.0 and r1.bad_debt == 0
    assert list(cas.accounts.opposite_left) == [1.0, 1.0]  # S1 untouched, S2 down from 3 to 1
    assert r1.open_interest == pytest.approx(2.0)  # S1's 1 + S2's 1
    # Without ADL the long is sold into the book at 97 and 96: 2 * (96.5 - 99) = -5 of debt.
    plain = Cascade(adl_market(), ladder(), shock=0.025).run()
    assert plain[1].bad_debt == pytest.approx(5.0)


def test_adl_waits_while_the_fund_can_pay():
    hist = Cascade(adl_market(), ladder(), shock=0.025, adl=True, insurance_fund=10.0).run()
    assert sum(r.n_adl for r in hist) == 0 and hist[1].qty_liquidated == 2.0


def test_adl_in_a_scenario_cuts_bad_debt_and_the_crash():
    from marginloops import Scenario, amplification
    base = Scenario.preset("crowded-longs")
    plain, adl = base.cascade().run(), base.replace(adl=True).cascade().run()
    assert adl[-1].bad_debt < plain[-1].bad_debt
    assert amplification(adl) < amplification(plain)
    assert sum(r.n_adl for r in adl) > 0
