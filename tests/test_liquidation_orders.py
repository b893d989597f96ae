"""Liquidation orders limited at the bankruptcy price, and the insurance fund that takes over
and unwinds what they cannot sell (issue 12, item 2; marginloops/mechanisms/liquidation_orders)."""

import math

import numpy as np
import pytest
from hypothesis import given
from test_properties import FAST, markets

from marginloops import PRESETS, Cascade, OrderBook, Positions, Scenario


def hand_market():
    """Three longs and a small book, worked by hand below.

    Bids 100 x1, 95 x1, 94 x2, 93 x2, 92 x1, 90 x10 (an ask at 101). Longs, entry 100:
    G: 1 unit, 20x, mmr 1%: B = 100 (1 - 1/20) = 95, liquidation price 95 / 0.99 = 95.96;
    H: 5 units, 12.5x, mmr 5%: B = 92, liquidation price 92 / 0.95 = 96.84;
    J: 1 unit, 10x, mmr 6%: B = 90, liquidation price 90 / 0.94 = 95.74.
    """
    book = OrderBook.from_levels([100, 95, 94, 93, 92, 90], [1, 1, 2, 2, 1, 10], [101], [5])
    pos = Positions.from_arrays([1, 1, 1], [1.0, 5.0, 1.0], [100.0, 100.0, 100.0],
                                [20.0, 12.5, 10.0], [0.01, 0.05, 0.06])
    return pos, book


def test_a_hand_worked_round_the_fund_takes_over_and_unwinds():
    pos, book = hand_market()
    assert pos.liquidation_price == pytest.approx([95 / 0.99, 92 / 0.95, 90 / 0.94])
    cas = Cascade(pos, book, shock=0.05, insurance_fund=10.0, liquidation_orders="bankruptcy",
                  fund_unwind=0.5)
    hist = cas.run()
    # Round 0: the shock sells through 95 (levels 100 and 95): the price is 95, all three
    # longs are within reach, the best bid left is 94.
    assert hist[0].price_after == 95 and hist[0].pending == 3
    r = hist[1]
    # Round 1. G's bankruptcy price 95 is above the best bid 94: its limit order cannot sell
    # a unit, the fund takes it over whole at 95. H and J send 6 units limited at the higher
    # of their bankruptcy prices, 92: a market sell of 6 would reach 90, so the order sells
    # what the book takes at or above 92: 94 x2, 93 x2, 92 x1 = 5 units, average
    # (188 + 186 + 92) / 5 = 93.2, last 92. The 1 unsold unit (1/6 of H's and J's) goes to the
    # fund at their bankruptcy prices: (5/6) 92 + (1/6) 90.
    assert r.n_liquidated == 3 and r.n_closed == 3
    assert r.qty_liquidated == pytest.approx(6.0)
    assert r.filled_qty == pytest.approx(5.0) and r.unfilled_qty == 0
    assert r.avg_fill_price == pytest.approx(93.2) and r.last_fill_price == 92
    assert r.fund_took_qty == pytest.approx(2.0)
    assert r.fund_took_price == pytest.approx((95 + 5 / 6 * 92 + 1 / 6 * 90) / 2)
    # Money: H's sold 25/6 units bring (93.2 - 92) each = 5; J's 5/6 unit (93.2 - 90) = 8/3;
    # J's unsold 1/6 unit is carried at 92, (92 - 90) / 6 = 1/3 (H's at 92: 0): to_fund = 8.
    assert r.to_fund == pytest.approx(8.0)
    # G's unit, taken over at 95, is worth 92 now: the fund's inventory lost 3.
    assert r.fund_inventory_pnl == pytest.approx(-3.0)
    assert r.insurance_fund == pytest.approx(10 + 8 - 3) and r.bad_debt == 0
    # The fund does not sell in the round it takes over; it holds 2 units.
    assert r.fund_sold_qty == 0 and r.fund_inventory == pytest.approx(2.0)
    assert r.price_after == 92 and r.pending == 0 and r.end_reason is None
    # Round 2: nobody is within reach, but the fund sells half of the 2 units it took over,
    # 1 unit at 90 (the book's only level): sold 1 x (90 - 92) = -2, its last unit marked from
    # 92 to 90 = -2. Round 3: it sells its last unit at 90 (nothing more to mark), and the
    # run stops at a fixed point.
    r2, r3 = hist[2], hist[3]
    assert r2.n_liquidated == 0 and r2.fund_sold_qty == pytest.approx(1.0)
    assert r2.fund_sold_price == 90 and r2.price_after == 90
    assert r2.fund_inventory_pnl == pytest.approx(-4.0)
    assert r2.insurance_fund == pytest.approx(11.0) and r2.fund_inventory == pytest.approx(1.0)
    assert r3.fund_sold_qty == pytest.approx(1.0) and r3.fund_inventory == 0
    assert r3.fund_inventory_pnl == 0 and r3.insurance_fund == pytest.approx(11.0)
    assert r3.end_reason == "fixed_point" and len(hist) == 4
    # The whole run by hand: the fund took 2 units at 186.67 USD and sold them for 180, the
    # traders' sold units brought 5 + 8/3: 10 + 23/3 - 20/3 = 11.
    assert hist[-1].insurance_fund == pytest.approx(10 + 23 / 3 - (95 + 550 / 6 - 180))
    assert cas.venue.units_left("bid") == pytest.approx(8.0)


def test_the_default_market_orders_sell_through_the_bankruptcy_price():
    pos, book = hand_market()
    hist = Cascade(pos, book, shock=0.05, insurance_fund=10.0).run()
    # 7 units at market: 94 x2, 93 x2, 92 x1, 90 x2: average 92.286, below G's and H's B.
    r = hist[1]
    assert r.filled_qty == 7 and r.avg_fill_price == pytest.approx(646 / 7)
    assert r.fund_took_qty == 0 and r.fund_inventory == 0
    assert hist[-1].end_reason == "fixed_point" and len(hist) == 2


def test_a_fund_that_holds_keeps_its_inventory_and_the_run_stops():
    pos, book = hand_market()
    hist = Cascade(pos, book, shock=0.05, insurance_fund=10.0, liquidation_orders="bankruptcy",
                   fund_unwind=0.0).run()
    assert len(hist) == 2 and hist[-1].end_reason == "fixed_point"
    assert hist[-1].fund_inventory == pytest.approx(2.0)


def test_without_adl_what_the_fund_cannot_pay_is_bad_debt():
    pos, book = hand_market()
    hist = Cascade(pos, book, shock=0.05, insurance_fund=0.0, liquidation_orders="bankruptcy",
                   fund_unwind=0.5).run()
    # Round 1: +8 from the closes, -3 on G's unit: the fund has 5; round 2 loses 4, round 3
    # nothing: no bad debt, the fund ends with 1.
    assert [r.bad_debt_round for r in hist] == [0, 0, 0, 0]
    assert hist[-1].insurance_fund == pytest.approx(1.0)
    # A deeper gap: with only the 90 level left after the shock, everything goes to the fund.
    book = OrderBook.from_levels([100, 95, 80], [1, 1, 50], [101], [5])
    hist = Cascade(pos, book, shock=0.05, insurance_fund=0.0, liquidation_orders="bankruptcy",
                   fund_unwind=1.0).run()
    r = hist[1]
    # Every bankruptcy price (95, 92, 90) is above the best bid 80: 7 units go to the fund at
    # 95 + 5 x 92 + 90 = 645; the price stays at 95 (nothing sold): the fund gains 0 + 5 x 3
    # + 5 = 20 marking them at 95... but round 2 sells all 7 at 80: 7 x 80 - 645 = -85 in all.
    assert r.filled_qty == 0 and r.fund_took_qty == pytest.approx(7.0)
    assert r.fund_inventory_pnl == pytest.approx(95 * 7 - 645)
    r2 = hist[2]
    assert r2.fund_sold_qty == pytest.approx(7.0) and r2.fund_sold_price == 80
    assert r2.fund_inventory_pnl == pytest.approx(7 * (80 - 95))
    assert r2.bad_debt_round == pytest.approx(85.0) and r2.insurance_fund == 0
    assert hist[-1].bad_debt == pytest.approx(85.0)


@pytest.mark.parametrize(("field", "value", "needle"), [
    ("liquidation_orders", "limit", "liquidation_orders"),
    ("fund_unwind", 1.5, "fund_unwind"),
    ("fund_unwind", -0.1, "fund_unwind"),
    ("fund_unwind", float("nan"), "fund_unwind"),
])
def test_bad_values_are_refused_by_name(field, value, needle):
    pos, book = hand_market()
    with pytest.raises(ValueError, match=needle) as err:
        Scenario(**{field: value})
    assert str(value) in str(err.value) or repr(value) in str(err.value)
    with pytest.raises(ValueError, match=needle):
        Cascade(pos, book, **{field: value})


def test_the_range_is_named():
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        Scenario(fund_unwind=2.0)
    with pytest.raises(ValueError, match="bankruptcy"):
        Scenario(liquidation_orders="ioc")


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_market_orders_leave_every_preset_as_it_was(preset):
    base = PRESETS[preset]
    a = base.cascade().run()
    b = base.replace(liquidation_orders="market", fund_unwind=0.9).cascade().run()
    assert a == b
    assert all(r.fund_took_qty == 0 and r.fund_inventory == 0 for r in a)


@pytest.mark.parametrize("preset", ["crowded-longs", "short-squeeze", "thin-book"])
def test_presets_with_bankruptcy_orders_keep_every_close_within_bankruptcy(preset):
    sc = PRESETS[preset].replace(liquidation_orders="bankruptcy")
    cas = sc.cascade()
    hist = cas.run()
    check_run(cas.positions, cas, hist, sc.insurance_fund)


def check_run(pos, cas, hist, fund0, fee=None):
    """The acceptance: no close beyond the bankruptcy price, no bad debt while the fund lasts,
    no position closed twice, money accounted for (the fund's inventory valued at the price)."""
    s = 1 if hist[0].direction == "down" else -1
    rounds = cas.liquidated_round
    bankrupt = pos.entry * (1 - pos.side / pos.leverage)
    total_took = 0.0
    for r in hist[1:]:
        closed = rounds == r.round
        # A position whose bankruptcy price is beyond the round's average fill sold nothing:
        # the fund (or auto-deleveraging) took it whole. The others sent the round's order,
        # whose every fill, the last one too, is within their bankruptcy prices.
        if closed.any() and r.filled_qty > 0:
            tol = 1e-9 * np.abs(bankrupt[closed]).max()
            avg = r.avg_fill_price
            beyond = closed & (s * (avg - bankrupt) < -tol)
            sent = closed & ~beyond
            assert pos.size[beyond].sum() <= (r.fund_took_qty + r.adl_qty) * (1 + 1e-9) + 1e-9
            if r.n_adl:
                # auto-deleveraging matched positions bankrupt at the check price off the
                # venue, at their bankruptcy price: only the others surely went to the order
                sent = sent & (s * (r.price_before - bankrupt) >= -tol)
            if sent.any():
                assert s * (r.last_fill_price - bankrupt[sent]).min() >= -tol
            if not r.n_adl:
                assert pos.size[sent].sum() == pytest.approx(r.qty_liquidated, abs=1e-9)
                assert pos.size[beyond].sum() + r.qty_liquidated - r.filled_qty == (
                    pytest.approx(r.fund_took_qty, abs=1e-9))
        # bad debt only once the fund is empty
        if r.bad_debt_round > 0:
            assert r.insurance_fund == 0
        assert r.fund_inventory >= -1e-12
        total_took += r.fund_took_qty
        assert r.unfilled_qty == 0 or r.end_reason == "book_exhausted"
        assert r.filled_qty <= r.qty_liquidated * (1 + 1e-12) + 1e-12 or r.n_liquidated == 0
    # no position closed twice: each closed one has one round, and the counts add up
    assert (rounds >= 0).sum() == sum(r.n_closed for r in hist)
    assert (rounds[pos.side != s] == -1).all() or any(r.n_adl for r in hist)
    # the fund never sold more than it took
    sold = sum(r.fund_sold_qty for r in hist)
    assert sold <= total_took * (1 + 1e-9) + 1e-9
    assert hist[-1].fund_inventory == pytest.approx(total_took - sold, abs=1e-6 * (1 + total_took))
    last = hist[-1]
    assert last.insurance_fund >= 0 and last.bad_debt >= 0


def money_by_hand(pos, cas, hist, fund0):
    """The fund at the end, recomputed from the positions and the records (whole closes, no
    fee, no ADL): the start, plus each closed position's sold units at the round's average
    fill against its bankruptcy price, plus the fund's trading in its inventory (what it sold
    and what it holds at the last price, less what it took over at bankruptcy prices)."""
    s = 1 if hist[0].direction == "down" else -1
    rounds = cas.liquidated_round
    bankrupt = pos.entry * (1 - pos.side / pos.leverage)
    total = fund0
    for r in hist[1:]:
        closed = rounds == r.round
        if not closed.any() or r.filled_qty == 0:
            continue
        # positions whose bankruptcy price is beyond the average fill were taken over whole;
        # the others sent their units and sold the same share of them: filled / sent
        avg = r.avg_fill_price
        sent = closed & (s * (avg - bankrupt) >= -1e-9 * np.abs(bankrupt).max())
        frac = r.filled_qty / r.qty_liquidated
        total += float((frac * pos.size[sent] * s * (avg - bankrupt[sent])).sum())
    took = sum(r.fund_took_qty * r.fund_took_price for r in hist if r.fund_took_qty)
    sold = sum(r.fund_sold_qty * r.fund_sold_price for r in hist if r.fund_sold_qty)
    total += s * (sold + hist[-1].fund_inventory * hist[-1].price_after - took)
    return total


@FAST
@given(markets())
def test_bankruptcy_orders_invariants(market):
    pos, book, kwargs = market
    kwargs = dict(kwargs, liquidation_orders="bankruptcy")
    kwargs.pop("partial", None)
    kwargs.pop("partial_fraction", None)
    cas = Cascade(pos, book, **kwargs)
    hist = cas.run()
    assert hist[-1].end_reason is not None and cas.step() is None
    assert len(hist) <= kwargs["max_rounds"] + 1
    check_run(pos, cas, hist, kwargs["insurance_fund"])
    cas.reset()
    assert cas.run() == hist


@FAST
@given(markets())
def test_bankruptcy_orders_account_for_the_money(market):
    pos, book, kwargs = market
    for key in ("partial", "partial_fraction", "adl", "dynamic_margin", "breaker", "call_auction",
                "withdrawal"):
        kwargs.pop(key, None)
    kwargs.update(liquidation_orders="bankruptcy", liquidation_fee=None, max_rounds=1000)
    cas = Cascade(pos, book, **kwargs)
    hist = cas.run()
    if hist[-1].end_reason == "max_rounds":
        return
    net = hist[-1].insurance_fund - hist[-1].bad_debt
    assert net == pytest.approx(money_by_hand(pos, cas, hist, kwargs["insurance_fund"]),
                                abs=1e-6 * (1 + sum(abs(r.to_fund) for r in hist)))


@FAST
@given(markets())
def test_a_fund_that_lasts_leaves_no_bad_debt(market):
    pos, book, kwargs = market
    kwargs = dict(kwargs, liquidation_orders="bankruptcy", insurance_fund=1e12)
    hist = Cascade(pos, book, **kwargs).run()
    assert all(r.bad_debt_round == 0 for r in hist)
    assert all(r.insurance_fund > 0 for r in hist)


def test_the_narration_says_the_fund_took_over_and_sells():
    from marginloops.narration import narrate

    pos, book = hand_market()
    hist = Cascade(pos, book, shock=0.05, insurance_fund=10.0, liquidation_orders="bankruptcy",
                   fund_unwind=0.5).run()
    one = narrate(hist[1])
    assert "the insurance fund took over the 2 units left, at 93.33" in one
    two = narrate(hist[2])
    assert two.startswith("Round 2: nobody is liquidated; the insurance fund sells 1 unit")
    assert "it still holds 1 unit" in two
    assert narrate(hist[3]).endswith("at 90.00 on average, which moves the price to 90.00; it "
                                     "holds none now.")
    assert not math.isnan(hist[1].fund_took_price)


@pytest.mark.parametrize("direction", ["down", "up"])
def test_the_fund_ends_where_market_orders_leave_it_when_every_unit_is_sold(direction):
    """A cross-check of the bookkeeping against the default model's. On a book that does not
    refill, selling the same units down the same levels brings the same USD in whatever
    slices; each closed position costs the fund its bankruptcy value either way (its trader
    keeps nothing beyond B). So when both runs liquidate the same positions, the fund sells
    all it took over and nobody is left with bad debt, both funds end equal, although the
    rounds differ."""
    pos = Positions.generate(3000, 100.0, long_share=0.7 if direction == "down" else 0.3,
                             leverage_mix=((5.0, 0.2), (10.0, 0.3), (25.0, 0.3), (50.0, 0.2)),
                             notional=60_000.0, min_distance=0.002, seed=3)
    book = OrderBook.from_depth(100.0, 3000.0, tick=0.05, book_range=0.5)
    market = Cascade(pos, book, 0.03, direction=direction, insurance_fund=1e6)
    limit = Cascade(pos, book, 0.03, direction=direction, insurance_fund=1e6,
                    liquidation_orders="bankruptcy", fund_unwind=0.3)
    a, b = market.run(), limit.run()
    assert sum(r.fund_took_qty for r in b) > 0 and sum(r.fund_sold_qty for r in b) > 0
    assert len(b) > len(a)  # the rounds differ: the fund sells over later rounds
    assert (market.liquidated_round >= 0).tolist() == (limit.liquidated_round >= 0).tolist()
    assert b[-1].fund_inventory == 0 and a[-1].bad_debt == b[-1].bad_debt == 0
    assert b[-1].price_after == a[-1].price_after
    assert b[-1].insurance_fund == pytest.approx(a[-1].insurance_fund, rel=1e-12)


def test_with_a_fee_the_fund_keeps_the_value_of_the_units_it_took_over():
    pos, book = hand_market()
    hist = Cascade(pos, book, shock=0.05, insurance_fund=10.0, liquidation_orders="bankruptcy",
                   fund_unwind=0.5, liquidation_fee=0.01).run()
    r = hist[1]
    # H sold 25/6 units at 93.2: equity 5, fee 1% of (25/6) 93.2 = 3.8833, 1.1167 back.
    # J sold 5/6 unit: equity 8/3, fee 1% of (5/6) 93.2 = 0.77667, 1.89 back; its unsold 1/6
    # unit is the fund's from B = 90 and worth 92: 1/3 to the fund, not to J.
    fee_h, fee_j = 0.01 * 25 / 6 * 93.2, 0.01 * 5 / 6 * 93.2
    assert r.fees == pytest.approx(fee_h + fee_j)
    assert r.returned_to_traders == pytest.approx((5 - fee_h) + (8 / 3 - fee_j))
    assert r.to_fund == pytest.approx(fee_h + fee_j + 1 / 3)
    assert r.insurance_fund == pytest.approx(10 + fee_h + fee_j + 1 / 3 - 3)
    # every dollar of the closes' equity: to the fund or back to the traders (8 in all)
    assert r.to_fund + r.returned_to_traders == pytest.approx(8.0)


@FAST
@given(markets())
def test_bankruptcy_orders_with_every_mechanism_end_and_keep_the_fund_first(market):
    """Partial liquidation included: a run ends, reset reproduces it, bad debt appears only
    with an empty fund, and no position is closed twice."""
    pos, book, kwargs = market
    kwargs = dict(kwargs, liquidation_orders="bankruptcy")
    cas = Cascade(pos, book, **kwargs)
    hist = cas.run()
    assert hist[-1].end_reason is not None and len(hist) <= kwargs["max_rounds"] + 1
    if hist[-1].end_reason == "max_rounds" and kwargs["max_rounds"] == 1000:
        # only a fund still selling (or positions still being sliced) may run that long
        assert hist[-1].fund_inventory > 0 or hist[-1].n_reduced_open > 0
    assert all(r.insurance_fund == 0 for r in hist if r.bad_debt_round > 0)
    rounds = cas.liquidated_round
    assert (rounds >= 0).sum() == sum(r.n_closed for r in hist)
    cas.reset()
    assert cas.run() == hist


def test_with_adl_an_exhausted_fund_passes_bankrupt_positions_to_adl_first():
    # G at 25x: B = 96, so at the check price 95 it is bankrupt (equity -1) and the empty
    # fund cannot absorb it: auto-deleveraging closes its unit at 96 against the short S
    # (2 units from 110, 2x: +30 at 95), which gives up 96 - 95 = 1 USD. H and J trade as in
    # the first example: 5 of their 6 units sold at 93.2, 1 taken over at 91.67.
    book = OrderBook.from_levels([100, 95, 94, 93, 92, 90], [1, 1, 2, 2, 1, 10], [101], [5])
    pos = Positions.from_arrays([1, 1, 1, -1], [1.0, 5.0, 1.0, 2.0], [100.0] * 3 + [110.0],
                                [25.0, 12.5, 10.0, 2.0], [0.01, 0.05, 0.06, 0.01])
    hist = Cascade(pos, book, shock=0.05, insurance_fund=0.0, liquidation_orders="bankruptcy",
                   fund_unwind=0.5, adl=True).run()
    r = hist[1]
    assert r.n_adl == 1 and r.adl_qty == 1 and r.adl_price == 96 and r.adl_cost == 1
    assert r.qty_liquidated == 6 and r.filled_qty == pytest.approx(5.0)
    assert r.fund_took_qty == pytest.approx(1.0)
    assert r.fund_took_price == pytest.approx((5 * 92 + 90) / 6)
    assert r.to_fund == pytest.approx(8.0) and r.fund_inventory_pnl == 0
    assert r.insurance_fund == pytest.approx(8.0)
    # Round 2: half a unit sold at 90, the other half marked from 92 to 90: -2. Round 3: the
    # last half at 90. No bad debt at any point.
    assert hist[2].fund_inventory_pnl == pytest.approx(-2.0)
    assert hist[-1].insurance_fund == pytest.approx(6.0) and hist[-1].bad_debt == 0
    assert hist[-1].fund_inventory == 0 and len(hist) == 4
    # Without auto-deleveraging the fund takes G over too, at 96, worth 92 after the round.
    hist = Cascade(pos, book, shock=0.05, insurance_fund=0.0, liquidation_orders="bankruptcy",
                   fund_unwind=0.5).run()
    assert hist[1].fund_took_qty == pytest.approx(2.0)
    assert hist[1].fund_inventory_pnl == pytest.approx(92 - 96)
    assert hist[1].insurance_fund == pytest.approx(4.0)


@pytest.mark.parametrize("preset", ["crowded-longs", "short-squeeze"])
def test_on_a_pool_too(preset):
    sc = PRESETS[preset].replace(venue="pool", liquidation_orders="bankruptcy")
    cas = sc.cascade()
    hist = cas.run()
    assert cas.venue.kind == "pool" and hist[-1].end_reason is not None
    assert sum(r.fund_took_qty for r in hist) > 0
    check_run(cas.positions, cas, hist, sc.insurance_fund)
