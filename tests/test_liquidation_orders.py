"""Liquidation orders limited at the bankruptcy price, and the insurance fund that takes over
and unwinds what they cannot sell (issue 12, item 2; marginloops/mechanisms/liquidation_orders)."""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
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
    # a unit, the fund takes it over whole at 95. H and J each send their own order, H's
    # (limit 92) first: H sells its 5 units at 94 x2, 93 x2, 92 x1, average
    # (188 + 186 + 92) / 5 = 93.2; J (limit 90) sells its 1 unit at 90 (the 92 level is
    # gone). So all 6 units sell: average (466 + 90) / 6, last 90.
    assert r.n_liquidated == 3 and r.n_closed == 3
    assert r.qty_liquidated == pytest.approx(6.0)
    assert r.filled_qty == pytest.approx(6.0) and r.unfilled_qty == 0
    assert r.avg_fill_price == pytest.approx(556 / 6) and r.last_fill_price == 90
    assert r.fund_took_qty == pytest.approx(1.0) and r.fund_took_price == 95
    # Money: H's 5 units bring (93.2 - 92) each = 6; J's unit (90 - 90) = 0: to_fund = 6.
    assert r.to_fund == pytest.approx(6.0)
    # G's unit, taken over at 95, is worth 90 now: the fund's inventory lost 5.
    assert r.fund_inventory_pnl == pytest.approx(-5.0)
    assert r.insurance_fund == pytest.approx(10 + 6 - 5) and r.bad_debt == 0
    # The fund does not sell in the round it takes over; it holds 1 unit.
    assert r.fund_sold_qty == 0 and r.fund_inventory == pytest.approx(1.0)
    assert r.price_after == 90 and r.pending == 0 and r.end_reason is None
    # Round 2: nobody is within reach, but the fund sells half of the unit it took over at 90
    # (the book's only level): sold 0.5 x (90 - 90) = 0, the other half marked at 90 = 0.
    # Round 3: it sells the last half at 90, and the run stops at a fixed point.
    r2, r3 = hist[2], hist[3]
    assert r2.n_liquidated == 0 and r2.fund_sold_qty == pytest.approx(0.5)
    assert r2.fund_sold_price == 90 and r2.price_after == 90
    assert r2.fund_inventory_pnl == 0
    assert r2.insurance_fund == pytest.approx(11.0) and r2.fund_inventory == pytest.approx(0.5)
    assert r3.fund_sold_qty == pytest.approx(0.5) and r3.fund_inventory == 0
    assert r3.fund_inventory_pnl == 0 and r3.insurance_fund == pytest.approx(11.0)
    assert r3.end_reason == "fixed_point" and len(hist) == 4
    # The whole run by hand: the traders' units brought 6, the fund took 1 unit at 95 and
    # sold it for 90: 10 + 6 - 5 = 11; the book had 10 at 90, J and the fund took 2.
    assert cas.venue.units_left("bid") == pytest.approx(8.0)


def limits_market():
    """Three longs whose limits each stop their own order, worked by hand below.

    Bids 100 x1, 97 x1, 96 x1, 95 x1, 93 x2, 91 x1, 90 x10 (an ask at 101). Longs, entry 100:
    P: 3 units, 20x, mmr 2%: B = 95, liquidation price 95 / 0.98 = 96.94;
    R: 2 units, 12.5x, mmr 5%: B = 92, liquidation price 92 / 0.95 = 96.84;
    T: 2 units, 10x, mmr 7%: B = 90, liquidation price 90 / 0.93 = 96.77.
    A 4% shock sells through 96 (levels 100, 97, 96): the price is 96, all three are reached,
    and the bids left are 95 x1, 93 x2, 91 x1, 90 x10.
    """
    book = OrderBook.from_levels([100, 97, 96, 95, 93, 91, 90], [1, 1, 1, 1, 2, 1, 10],
                                 [101], [5])
    pos = Positions.from_arrays([1, 1, 1], [3.0, 2.0, 2.0], [100.0] * 3,
                                [20.0, 12.5, 10.0], [0.02, 0.05, 0.07])
    return pos, book


def test_each_liquidation_is_its_own_order_limited_at_its_own_bankruptcy_price():
    pos, book = limits_market()
    assert pos.liquidation_price == pytest.approx([95 / 0.98, 92 / 0.95, 90 / 0.93])
    cas = Cascade(pos, book, shock=0.04, insurance_fund=10.0, liquidation_orders="bankruptcy",
                  fund_unwind=0.5)
    assert cas.step().price_after == 96 and cas.history[0].pending == 3
    r = cas.step()
    orders = next(m for m in cas.mechanisms if m.name == "liquidation_orders").orders
    # The queue, highest bankruptcy price first: P (95), R (92), T (90). The depth at or
    # above each limit: D(95) = 1, D(92) = 1 + 2 = 3, D(90) = 3 + 1 + 10 = 14. Cumulative
    # sizes Q = 3, 5, 7; D - Q = -2, -2, 7; running minimum -2, -2, -2: cumulative fills
    # Q - 2 = 1, 3, 5. So P sells 1 unit (at 95), R its 2 (93 x2, average 93) and T its 2
    # (91 and 90, average 90.5); P's other 2 units go to the fund at 95.
    by = {b: (c, k, a) for b, c, k, a in zip(orders["bankrupt"], orders["close"],
                                              orders["sold"], orders["price"], strict=True)}
    assert by[95][:2] == (3, 1) and by[95][2] == pytest.approx(95.0)
    assert by[92][:2] == (2, 2) and by[92][2] == pytest.approx(93.0)
    assert by[90][:2] == (2, 2) and by[90][2] == pytest.approx(90.5)
    # One walk on the book: 95, 93, 93, 91, 90: 5 units, average 462 / 5, last 90.
    assert r.qty_liquidated == 7 and r.filled_qty == 5 and r.unfilled_qty == 0
    assert r.avg_fill_price == pytest.approx(92.4) and r.last_fill_price == 90
    assert r.fund_took_qty == pytest.approx(2.0) and r.fund_took_price == pytest.approx(95.0)
    # Money: P's sold unit brings 1 x (95 - 95) = 0, R's 2 x (93 - 92) = 2, T's
    # 2 x (90.5 - 90) = 1; P's 2 unsold units are the fund's from 95 and worth 90 now:
    # 2 x (90 - 95) = -10, booked in to_fund. So to_fund = 3 - 10 = -7: a loss on the fund's
    # inventory, no close below its bankruptcy price.
    assert r.to_fund == pytest.approx(-7.0) and r.fund_inventory_pnl == 0
    assert r.insurance_fund == pytest.approx(3.0) and r.bad_debt == 0
    assert r.fund_inventory == pytest.approx(2.0) and r.price_after == 90
    # The one limit of the round (the highest, 95) would have sold 1 unit and passed 6 to
    # the fund: each order at its own limit sells 5.
    rest = cas.run()[2:]
    # Rounds 2 and 3: the fund sells 1 unit each at 90 (the level left): no gain, no loss.
    assert [x.fund_sold_qty for x in rest] == [1.0, 1.0]
    assert [x.fund_sold_price for x in rest] == [90.0, 90.0]
    assert rest[-1].insurance_fund == pytest.approx(3.0) and rest[-1].fund_inventory == 0
    assert cas.venue.units_left("bid") == pytest.approx(7.0)


def test_the_same_orders_in_a_squeeze_buy_up_to_each_bankruptcy_price():
    """The mirror of the example above: shorts, entry 100, asks at 200 - the longs' bids."""
    book = OrderBook.from_levels([99], [5], [100, 103, 104, 105, 107, 109, 110],
                                 [1, 1, 1, 1, 2, 1, 10])
    # shorts: B = E (1 + 1/L): 20x -> 105, 12.5x -> 108, 10x -> 110; liquidation prices
    # 105 / 1.02 = 102.94, 108 / 1.05 = 102.86, 110 / 1.07 = 102.80: the 4% squeeze buys
    # through 104 and reaches all three. Asks left: 105 x1, 107 x2, 109 x1, 110 x10.
    pos = Positions.from_arrays([-1, -1, -1], [3.0, 2.0, 2.0], [100.0] * 3,
                                [20.0, 12.5, 10.0], [0.02, 0.05, 0.07])
    cas = Cascade(pos, book, shock=0.04, direction="up", insurance_fund=10.0,
                  liquidation_orders="bankruptcy", fund_unwind=0.5)
    cas.step()
    r = cas.step()
    orders = next(m for m in cas.mechanisms if m.name == "liquidation_orders").orders
    by = {round(b, 9): (k, a) for b, k, a in zip(orders["bankrupt"], orders["sold"],
                                                  orders["price"], strict=True)}
    # The lowest B first: 105 buys 1 at 105, 108 buys 107 x2, 110 buys 109 and 110.
    assert by[105.0] == (1, pytest.approx(105.0))
    assert by[108.0] == (2, pytest.approx(107.0))
    assert by[110.0] == (2, pytest.approx(109.5))
    assert r.filled_qty == 5 and r.fund_took_qty == pytest.approx(2.0)
    # s = -1: 0 + 2 x (108 - 107) + 2 x (110 - 109.5) = 3; the 2 units taken over at 105
    # are worth 110: -10.
    assert r.to_fund == pytest.approx(-7.0) and r.insurance_fund == pytest.approx(3.0)


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
    assert hist[-1].fund_inventory == pytest.approx(1.0)  # G's unit (see the first example)


def test_without_adl_what_the_fund_cannot_pay_is_bad_debt():
    pos, book = hand_market()
    hist = Cascade(pos, book, shock=0.05, insurance_fund=0.0, liquidation_orders="bankruptcy",
                   fund_unwind=0.5).run()
    # Round 1: +6 from the closes, -5 on G's unit: the fund has 1; rounds 2 and 3 sell at
    # 90, where the unit is carried: no bad debt, the fund ends with 1.
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


@pytest.mark.parametrize("preset", sorted(n for n, s in PRESETS.items()
                                           if s.liquidation_orders == "market"))
def test_market_orders_leave_every_preset_as_it_was(preset):
    # (the venue presets choose their liquidation orders: not this test's subject)
    base = PRESETS[preset]
    a = base.cascade().run()
    b = base.replace(liquidation_orders="market", fund_unwind=0.9).cascade().run()
    assert a == b
    assert all(r.fund_took_qty == 0 and r.fund_inventory == 0 for r in a)


@pytest.mark.parametrize("preset", ["crowded-longs", "short-squeeze", "thin-book"])
def test_presets_with_bankruptcy_orders_keep_every_close_within_bankruptcy(preset):
    sc = PRESETS[preset].replace(liquidation_orders="bankruptcy")
    cas = sc.cascade()
    hist, orders = play(cas)
    check_run(cas.positions, cas, hist, sc.insurance_fund, orders=orders)


def play(cas):
    """Run ``cas`` round by round; the history, and each liquidation round's orders (the
    mechanism's per-position record: limit, units sent, sold, average price), by round."""
    mech = next(m for m in cas.mechanisms if m.name == "liquidation_orders")
    orders = {}
    while (rec := cas.step()) is not None:
        o = mech.orders
        if o is not None and o["round"] == rec.round:
            orders[rec.round] = o
    return list(cas.history), orders


def check_run(pos, cas, hist, fund0, fee=None, orders=None):
    """The acceptance: no close beyond the bankruptcy price, no bad debt while the fund lasts,
    no position closed twice, money accounted for (the fund's inventory valued at the price).

    ``orders``: each round's per-position orders (:func:`play`); then every position that
    sold is checked against its own bankruptcy price."""
    s = 1 if hist[0].direction == "down" else -1
    rounds = cas.liquidated_round
    total_took = 0.0
    for r in hist[1:]:
        o = (orders or {}).get(r.round)
        if o is not None:
            sold = o["sold"] > 0
            tol = 1e-9 * np.abs(o["bankrupt"]).max(initial=1.0)
            # each order sold at its own limit or better, never more than it sent
            assert (s * (o["price"][sold] - o["bankrupt"][sold]) >= -tol).all()
            assert (o["sold"] <= o["close"] * (1 + 1e-12) + 1e-12).all()
            assert o["sold"].sum() == pytest.approx(r.filled_qty, abs=1e-9)
            if r.filled_qty > 0 and not r.uniform_price:  # an auction's price is its own
                usd = float((o["sold"][sold] * o["price"][sold]).sum())
                assert usd == pytest.approx(r.filled_qty * r.avg_fill_price, rel=1e-9)
            # the units the whole closes did not sell, and the positions beyond the best
            # price, are the fund's
            unsold = float(np.where(o["whole"], o["close"] - o["sold"], 0.0).sum())
            assert unsold <= r.fund_took_qty * (1 + 1e-9) + 1e-9
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


def money_by_hand(pos, cas, hist, fund0, orders):
    """The fund at the end, recomputed from the orders and the records (whole closes, no
    fee, no ADL): the start, plus each order's units sold at its own average against its
    bankruptcy price, plus the fund's trading in its inventory (what it sold and what it
    holds at the last price, less what it took over at bankruptcy prices)."""
    s = 1 if hist[0].direction == "down" else -1
    total = fund0
    for o in orders.values():
        sold = o["sold"] > 0
        total += float((o["sold"][sold] * s * (o["price"][sold] - o["bankrupt"][sold])).sum())
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
    hist, orders = play(cas)
    assert hist[-1].end_reason is not None and cas.step() is None
    assert len(hist) <= kwargs["max_rounds"] + 1
    check_run(pos, cas, hist, kwargs["insurance_fund"], orders=orders)
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
    hist, orders = play(cas)
    if hist[-1].end_reason == "max_rounds":
        return
    net = hist[-1].insurance_fund - hist[-1].bad_debt
    assert net == pytest.approx(money_by_hand(pos, cas, hist, kwargs["insurance_fund"], orders),
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
    assert ("The insurance fund took over 1 unit of positions whose bankruptcy price the price "
            "had already passed (never sent to the book) at 95.00" in one)
    two = narrate(hist[2])
    assert two.startswith("Round 2: nobody is liquidated; the insurance fund sells 0.5 units")
    assert "it still holds 0.5 units" in two
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
    pos, book = limits_market()
    hist = Cascade(pos, book, shock=0.04, insurance_fund=10.0, liquidation_orders="bankruptcy",
                   fund_unwind=0.5, liquidation_fee=0.01).run()
    r = hist[1]
    # (See the example above.) P sold 1 unit at 95: equity 0, no fee; its 2 unsold units are
    # the fund's from B = 95 and worth 90: -10 to the fund, never the trader's. R sold 2 at
    # 93: equity 2, fee 1% of 186 = 1.86, 0.14 back. T sold 2 at 90.5: equity 1, fee 1% of
    # 181 = 1.81 capped at 1, nothing back.
    assert r.fees == pytest.approx(1.86 + 1.0)
    assert r.returned_to_traders == pytest.approx(0.14)
    assert r.to_fund == pytest.approx(1.86 + 1.0 - 10.0)
    assert r.insurance_fund == pytest.approx(10 + 2.86 - 10)
    # every dollar of the closes' equity (3 on the sold units, -10 on the units taken over):
    # to the fund or back to the traders
    assert r.to_fund + r.returned_to_traders == pytest.approx(-7.0)


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
    # the first example: H's 5 units at 93.2, J's unit at 90; nothing is left to the fund.
    book = OrderBook.from_levels([100, 95, 94, 93, 92, 90], [1, 1, 2, 2, 1, 10], [101], [5])
    pos = Positions.from_arrays([1, 1, 1, -1], [1.0, 5.0, 1.0, 2.0], [100.0] * 3 + [110.0],
                                [25.0, 12.5, 10.0, 2.0], [0.01, 0.05, 0.06, 0.01])
    hist = Cascade(pos, book, shock=0.05, insurance_fund=0.0, liquidation_orders="bankruptcy",
                   fund_unwind=0.5, adl=True).run()
    r = hist[1]
    assert r.n_adl == 1 and r.adl_qty == 1 and r.adl_price == 96 and r.adl_cost == 1
    assert r.qty_liquidated == 6 and r.filled_qty == pytest.approx(6.0)
    assert r.fund_took_qty == 0 and r.fund_inventory == 0
    assert r.to_fund == pytest.approx(6.0) and r.insurance_fund == pytest.approx(6.0)
    assert hist[-1].bad_debt == 0 and len(hist) == 2
    # Without auto-deleveraging the fund takes G over, at 96 (above the best bid 94), worth
    # 90 after the round: 6 - 6 = 0 in the fund, no bad debt; it sells the unit at 90 in two
    # halves with no further loss.
    hist = Cascade(pos, book, shock=0.05, insurance_fund=0.0, liquidation_orders="bankruptcy",
                   fund_unwind=0.5).run()
    assert hist[1].fund_took_qty == pytest.approx(1.0) and hist[1].fund_took_price == 96
    assert hist[1].fund_inventory_pnl == pytest.approx(90 - 96)
    assert hist[1].insurance_fund == pytest.approx(0.0, abs=1e-12)
    assert all(x.bad_debt_round == pytest.approx(0.0, abs=1e-12) for x in hist)
    assert hist[-1].fund_inventory == 0 and len(hist) == 4


@pytest.mark.parametrize("preset", ["crowded-longs", "short-squeeze"])
def test_on_a_pool_too(preset):
    sc = PRESETS[preset].replace(venue="pool", liquidation_orders="bankruptcy")
    cas = sc.cascade()
    hist, orders = play(cas)
    assert cas.venue.kind == "pool" and hist[-1].end_reason is not None
    check_run(cas.positions, cas, hist, sc.insurance_fund, orders=orders)


def test_the_sentences_do_not_misread_this_mode():
    """The core's sentences said "nothing left in the book" when the limits (not the book)
    stopped every order, and "closed beyond their bankruptcy price" for a loss on the fund's
    inventory; in this mode no close is beyond its bankruptcy price."""
    from marginloops.narration import narrate, narrate_history

    pos, book = hand_market()
    book = OrderBook.from_levels([100, 95, 80], [1, 1, 50], [101], [5])
    hist = Cascade(pos, book, shock=0.05, insurance_fund=0.0, liquidation_orders="bankruptcy",
                   fund_unwind=1.0).run()
    one = narrate(hist[1])
    assert "nothing left" not in one
    assert ("no liquidation order could trade: every bankruptcy price was beyond the book's best "
            "price, so nothing was sold and the price stayed at 95.00." in one)
    # round 2: the fund sells its 7 units at 80, 85 USD more than it has: bad debt, said so
    two = narrate(hist[2])
    assert "85 USD of it is bad debt" in two and "beyond" not in two
    for name in ("crowded-longs", "thin-book", "short-squeeze"):
        lines = narrate_history(PRESETS[name].replace(liquidation_orders="bankruptcy")
                                .cascade().run())
        assert not any("closed beyond their bankruptcy price" in x for x in lines)
        assert not any("nothing left" in x for x in lines)
        assert any("No position was closed beyond its bankruptcy price" in x for x in lines)
    # the limited orders of the example: the loss on P's units taken over, said as such
    pos, book = limits_market()
    r = Cascade(pos, book, shock=0.04, insurance_fund=10.0, liquidation_orders="bankruptcy",
                fund_unwind=0.5).run()[1]
    assert narrate(r).endswith("No position was closed beyond its bankruptcy price; what the "
                               "fund took over is worth less at the new price than it paid, so "
                               "the round's closes cost it 7 USD net.")
    # with market orders the core's sentence stays
    hist = Cascade(pos, book, shock=0.04, insurance_fund=0.0).run()
    assert any("closed beyond their bankruptcy price" in narrate(x) for x in hist)


def test_compare_counts_what_the_fund_took_over():
    from marginloops import compare

    base = PRESETS["crowded-longs"]
    c = compare(base, base.replace(liquidation_orders="bankruptcy"),
                labels=("market orders", "bankruptcy orders"))
    table = c.table()
    assert "taken over by the fund" in table
    a, b = c.summaries
    assert a.fund_took_notional == 0
    hist = c.histories[1]
    assert b.fund_took_notional == pytest.approx(
        sum(r.fund_took_qty * r.price_before for r in hist))
    assert b.fund_took_notional > 0


def test_phase_mode_names_the_limited_orders():
    from marginloops.narration import narrate_liquidate

    pos, book = limits_market()
    hist = Cascade(pos, book, shock=0.04, insurance_fund=10.0,
                   liquidation_orders="bankruptcy").run()
    assert hist[1].limited and not hist[1].backstop
    assert narrate_liquidate(hist[1]) == (
        "Liquidate: the engine closes them with sells limited at each position's own "
        "bankruptcy price, sent together as one order for 7 units.")
    market = Cascade(pos, book, shock=0.04, insurance_fund=10.0).run()
    assert not market[1].limited
    assert "one market sell order" in narrate_liquidate(market[1])


@FAST
@given(markets(), st.sampled_from([2e4, 1e5, 1e6]), st.sampled_from([0.0, 0.003, 0.01]))
def test_on_random_pools_no_order_sells_beyond_its_limit(market, depth, fee):
    """The same acceptance on a constant-product pool, whose depth at each limit comes from
    its curve (the marginal price): every order within its bankruptcy price, the orders' USD
    adding up to the pool's fill, the fund first."""
    from marginloops import ConstantProductPool

    pos, _, kwargs = market
    pool = ConstantProductPool.from_depth(100.0, depth, fee=fee)
    kwargs = dict(kwargs, liquidation_orders="bankruptcy")
    start = pool.best_bid if kwargs["direction"] == "down" else pool.best_ask
    # flat rates (a tiered market's positions rebuilt with their rates), solvent at the start
    pos = Positions.from_arrays(pos.side, pos.size, pos.entry, pos.leverage, pos.mmr)
    liq = pos.liquidation_price
    ok = ((pos.side > 0) & (liq < start)) | ((pos.side < 0) & (liq > start))
    pos = Positions.from_arrays(pos.side[ok], pos.size[ok], pos.entry[ok], pos.leverage[ok],
                                pos.mmr[ok])
    cas = Cascade(pos, pool, **kwargs)
    hist, orders = play(cas)
    check_run(pos, cas, hist, kwargs["insurance_fund"], orders=orders)


def test_an_order_the_venue_cannot_reach_sells_nothing_not_a_rounding_residue():
    """Found by hypothesis: two shorts' bankruptcy orders with one third of a unit in reach.
    The second order's fill, ``Q_2 + (D - Q_2)``, came out 1.7e-16 units, with no average
    price, and made the fund NaN. By hand at the last price 104: the first short (0.5 units
    from 95 at 10x, margin 4.75) has equity 4.75 - 0.5 * 9 = 0.25, the second (2 units from 80
    at 2x, margin 80) 80 - 2 * 24 = 32: the fund gains 32.25."""
    pos = Positions.from_arrays(side=[-1, -1], size=[0.5, 2.0], entry=[95.0, 80.0],
                                leverage=[10.0, 2.0], mmr=[104.5 / 100.5 - 1, 120 / 100.5 - 1])
    book = OrderBook.from_levels([99.0], [10.0], [100.0, 101.0, 104.0], [0.1, 2.0, 1 / 3])
    hist = Cascade(pos, book, shock=0.01, direction="up", liquidation_orders="bankruptcy",
                   insurance_fund=1e12).run()
    last = hist[1]
    assert (last.n_liquidated, last.filled_qty) == (2, pytest.approx(1 / 3))
    assert last.inventory_qty == pytest.approx(2.5 - 1 / 3)
    assert last.to_fund == pytest.approx(32.25)
    assert last.insurance_fund == pytest.approx(1e12 + 32.25, abs=1e-3)
