"""Issue 9, the cascade's side: positions closed and reduced counted apart (item 12), auto-
deleveraging that matches in part and books what the opposite traders give up (item 14), and
effective liquidation prices, in the model and on the liquidation map (item 15)."""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from marginloops import Cascade, OrderBook, Positions, Scenario
from marginloops.tiers import BINANCE_STYLE_TIERS

SETTINGS = settings(max_examples=40, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])


def ladder(top, step, n, size):
    """Bids ``top, top - step, ...`` (n levels of ``size`` units) and one ask above."""
    prices = top - step * np.arange(n, dtype=float)
    return OrderBook.from_levels(prices, np.full(n, float(size)), [top + step], [1.0])


DRAW = object()  # "draw it": None is a value partial can take


@st.composite
def runs(draw, adl=DRAW, partial=DRAW):
    """A small market under a mix of the mechanisms that move thresholds."""
    base = Scenario.preset(draw(st.sampled_from(["crowded-longs", "short-squeeze",
                                                 "thin-book", "calm-market"])))
    return base.replace(
        n_positions=draw(st.integers(20, 300)), seed=draw(st.integers(0, 2**16)),
        shock=draw(st.floats(0.02, 0.2)),
        partial=draw(st.sampled_from([None, "fraction", "restore"])) if partial is DRAW
        else partial,
        partial_fraction=draw(st.sampled_from([0.1, 0.25, 0.5])),
        dynamic_margin=draw(st.sampled_from([0.0, 0.5, 2.0, 5.0])),
        adl=draw(st.booleans()) if adl is DRAW else adl,
        insurance_fund=draw(st.sampled_from([0.0, 1_000.0, 50_000.0])),
        mmr_tiers=draw(st.sampled_from([(), BINANCE_STYLE_TIERS.brackets])))


def liquidated_side(cas):
    return cas.positions.side == (1 if cas.direction == "down" else -1)


# ------------------------------------------------------------------ item 12: closed, reduced

def test_partial_runs_count_positions_closed_not_closes():
    """On crowded-longs with partial closes the count of actions exceeds the number of
    longs, while n_closed counts the longs closed whole."""
    base = Scenario.preset("crowded-longs")
    cas = base.replace(partial="fraction").cascade()
    hist = cas.run()
    longs = int((cas.positions.side > 0).sum())
    acted = sum(r.n_liquidated for r in hist)
    closed = sum(r.n_closed for r in hist)
    assert acted > longs            # the old count: every partial close counted again
    assert closed <= longs
    assert closed == int((~cas.open_mask & (cas.positions.side > 0)).sum())
    assert all(r.n_closed + r.n_reduced == r.n_liquidated for r in hist)
    # Without partial liquidation nothing changes: n_closed is n_liquidated.
    plain = base.cascade().run()
    assert [r.n_closed for r in plain] == [r.n_liquidated for r in plain]
    assert all(r.n_reduced_open == 0 and r.n_reduced == 0 for r in plain)


@SETTINGS
@given(runs())
def test_n_closed_matches_the_open_mask(scenario):
    cas = scenario.cascade()
    side = liquidated_side(cas)
    size = cas.positions.size
    seen_reduced = np.zeros(len(size), bool)
    total = 0
    for rec in iter(cas.step, None):
        total += rec.n_closed
        assert rec.n_closed + rec.n_reduced == rec.n_liquidated
        assert total <= int(side.sum())
        assert total == int((~cas.open_mask & side).sum())
        # n_reduced_open: distinct liquidated-side positions partly closed, still open
        is_open = cas.open_mask & side
        now_reduced = is_open & (cas.open_size() < size)
        seen_reduced |= now_reduced
        assert rec.n_reduced_open == int(now_reduced.sum())
        assert rec.n_reduced_open <= int((seen_reduced & is_open).sum())
        if scenario.partial is None:
            assert rec.n_closed == rec.n_liquidated and rec.n_reduced_open == 0
    assert total == int((cas.liquidated_round >= 0).sum())


# ---------------------------------------------------------- item 14: ADL in part, its cost

def blocked_market():
    """The issue's reproduction: a 2-unit 100x long (bankruptcy 99) and a 1-unit 50x long
    (bankruptcy 98), both under water at 95 after the shock, and 1.5 units of a profitable
    short to match them against."""
    book = OrderBook.from_levels(np.round(np.arange(99.99, 50, -.01), 2), np.full(4999, .05),
                                 [100.01], [1.])
    pos = Positions.from_arrays([1, 1, -1], [2., 1., 1.5], [100, 100, 100], [100, 50, 5], .005)
    return pos, book


def test_adl_matches_the_last_bankrupt_position_in_part():
    pos, book = blocked_market()
    cas = Cascade(pos, book, .05, adl=True)
    assert cas.step().price_after == 95.0
    r = cas.step()
    # The 100x long is the most under water per unit (-4 against -3): it takes all 1.5 short
    # units at its bankruptcy price 99; its other 0.5 units and the whole 50x long are sold
    # into the book: 1.5 units from 94.99 down, 0.05 a level, to 94.70, average 94.845.
    assert (r.n_adl, r.adl_qty, r.adl_price, r.n_deleveraged) == (1, 1.5, 99.0, 1)
    assert r.qty_liquidated == pytest.approx(1.5)
    assert r.avg_fill_price == pytest.approx(94.845) and r.price_after == pytest.approx(94.70)
    assert r.n_closed == 2 and list(cas.open_mask) == [False, False, False]
    # The short buys back 1.5 units at 99 instead of 95: 6 USD it gives up.
    assert r.adl_cost == pytest.approx(6.0)
    # Money: the matched units close at bankruptcy (zero equity); the book takes
    # 0.5 * (94.845 - 99) = -2.0775 and 1 * (94.845 - 98) = -3.155: 5.2325 of bad debt.
    assert r.to_fund == pytest.approx(-5.2325) and r.bad_debt == pytest.approx(5.2325)
    assert r.margin_lost == pytest.approx(2.0 + 2.0)
    assert r.open_interest == 0.0 and r.n_open == 0


def test_adl_cost_is_booked_on_crowded_longs():
    hist = Scenario.preset("crowded-longs").replace(adl=True).cascade().run()
    plain = Scenario.preset("crowded-longs").cascade().run()
    cost = sum(r.adl_cost for r in hist)
    assert sum(r.n_deleveraged for r in hist) > 300
    assert 40_000 < cost < 60_000          # about 51,000 USD, no longer silent
    assert plain[-1].bad_debt - hist[-1].bad_debt > 100_000
    assert all(r.adl_cost == 0 for r in plain)
    assert all((r.adl_cost > 0) == (r.n_adl > 0) for r in hist)


@SETTINGS
@given(runs(adl=True, partial=None))
def test_adl_money_balances_to_the_cent(scenario):
    """Per round: margin lost + the closed positions' PnL against entry (book fills at their
    prices, matched units at the check price) + what the deleveraged traders give up = what
    the fund gains, less the new bad debt (the fund's shortfall). Units: filled + unfilled +
    matched = the units closed."""
    scenario = scenario.replace(liquidation_fee=None)
    cas = scenario.cascade()
    pos = cas.positions
    s = 1.0 if cas.direction == "down" else -1.0
    hist = cas.run()
    rounds = cas.liquidated_round
    fund = scenario.insurance_fund
    for r in hist[1:]:
        closed = rounds == r.round
        q, e = pos.size[closed], pos.entry[closed]
        assert r.n_closed == int(closed.sum())
        assert r.filled_qty + r.unfilled_qty + r.adl_qty == pytest.approx(q.sum(), rel=1e-9,
                                                                          abs=1e-9)
        assert r.margin_lost == pytest.approx(float((q * e / pos.leverage[closed]).sum()),
                                              rel=1e-12, abs=1e-9)
        mark = r.last_fill_price if r.filled_qty > 0 else r.price_before
        sold = r.filled_qty * r.avg_fill_price if r.filled_qty > 0 else 0.0
        pnl = s * (sold + r.unfilled_qty * mark + r.adl_qty * r.price_before
                   - float((q * e).sum()))
        change = r.insurance_fund - fund - r.bad_debt_round
        assert r.margin_lost + pnl + r.adl_cost == pytest.approx(change, abs=0.01)
        assert r.adl_cost >= 0
        if r.n_adl:
            assert r.adl_cost == pytest.approx(s * r.adl_qty * (r.adl_price - r.price_before),
                                               rel=1e-9, abs=1e-9)
        fund = r.insurance_fund
    # The opposite side lost exactly the matched units.
    other = pos.side == -s
    taken = float((pos.size[other] - cas.open_size()[other]).sum())
    assert taken == pytest.approx(sum(r.adl_qty for r in hist), rel=1e-9, abs=1e-9)


# ------------------------------------------------- item 15: effective liquidation prices

def test_effective_price_with_the_surcharge_by_hand():
    # Bids 100, 99, ..., 80 (1 unit each); the 5% shock takes 100..95: the price is 95, a 5%
    # move, so dynamic margin x1 adds 0.05 to every rate.
    book = ladder(100.0, 1.0, 21, 1.0)
    pos = Positions.from_arrays([1, 1, -1], [1.0, 1.0, 1.0], [100.0, 100.0, 100.0],
                                [10.0, 5.0, 10.0], 0.005)
    cas = Cascade(pos, book, 0.05, dynamic_margin=1.0)
    before = cas.effective_liquidation_price()
    np.testing.assert_array_equal(before, pos.liquidation_price)  # nothing changed yet
    cas.step()
    assert cas.price == 95.0
    eff = cas.effective_liquidation_price()
    # long 10x: 100 (1 - 1/10) / (1 - 0.005 - 0.05) = 90 / 0.945; long 5x: 80 / 0.945
    assert eff[0] == pytest.approx(95.23809523809524, rel=1e-12)
    assert eff[1] == pytest.approx(84.65608465608466, rel=1e-12)
    assert eff[2] == pos.liquidation_price[2]   # the opposite side is not checked
    assert list(cas.in_reach()) == [0]           # 95 <= 95.238: due next round
    assert pos.liquidation_price[0] < cas.price  # ... though its base price says safe
    cas.step()
    assert np.isnan(cas.effective_liquidation_price()[0])


def test_effective_price_with_tiers_and_the_surcharge_by_hand():
    # 10 units at 100,000, 10x: at its liquidation price (about 900,000 USD of notional) the
    # bracket is [250,000, 1,000,000): rate 1%, amount 50,000 * 0.001 + 250,000 * 0.005 = 1,300.
    pos = Positions.from_arrays([1], [10.0], [100_000.0], [10.0], 0.004).with_tiers(
        BINANCE_STYLE_TIERS)
    assert pos.maint_amount[0] == pytest.approx(1_300.0)
    assert pos.liquidation_price[0] == pytest.approx((90_000 - 130) / 0.99)
    book = ladder(100_000.0, 1_000.0, 21, 1.0)
    cas = Cascade(pos, book, 0.05, dynamic_margin=1.0)
    cas.step()  # 100,000 .. 95,000 taken: a 5% move
    assert cas.price == 95_000.0
    # (100,000 * 0.9 - 1,300 / 10) / (1 - 0.01 - 0.05) = 89,870 / 0.94
    assert cas.effective_liquidation_price()[0] == pytest.approx(89_870 / 0.94, rel=1e-12)
    assert list(cas.in_reach()) == [0]


def test_effective_price_after_a_partial_close_by_hand():
    # One long of 1 unit at 110, 10x, rate 0: liquidation = bankruptcy = 99. The shock takes
    # 100 and 99. Round 1 closes a quarter at 98: PnL 0.25 * (98 - 110) = -3, margin 11 - 3 = 8
    # left on 0.75 units: the long is liquidated again at 110 - 8 / 0.75 = 99.33.
    book = OrderBook.from_levels([100.0, 99.0, 98.0, 97.0, 96.0, 95.0],
                                 [1, 1, 1, 1, 1, 10], [101.0], [100.0])
    pos = Positions.from_arrays([1], [1.0], [110.0], [10.0], 0.0)
    cas = Cascade(pos, book, 0.015, partial="fraction", partial_fraction=0.25)
    cas.step()
    rec = cas.step()
    assert (rec.n_liquidated, rec.n_closed, rec.n_reduced, rec.n_reduced_open) == (1, 0, 1, 1)
    assert cas.open_size()[0] == pytest.approx(0.75)
    assert cas.effective_liquidation_price()[0] == pytest.approx(110 - 8 / 0.75, rel=1e-12)
    assert cas.price == 98.0 and list(cas.in_reach()) == [0]


@SETTINGS
@given(runs())
def test_effective_prices_agree_with_each_rounds_check(scenario):
    """Before every round, the positions it will liquidate are exactly the open positions of
    the liquidated side whose effective price the current price has reached."""
    cas = scenario.cascade()
    side = liquidated_side(cas)
    s = 1.0 if cas.direction == "down" else -1.0
    plain = not (scenario.partial or scenario.dynamic_margin or scenario.adl)
    while True:
        eff = cas.effective_liquidation_price()
        is_open = cas.open_mask
        assert np.isnan(eff[~is_open]).all() and not np.isnan(eff[is_open]).any()
        if plain:
            np.testing.assert_array_equal(eff[is_open], cas.positions.liquidation_price[is_open])
        due = np.zeros(len(eff), bool)
        due[cas.in_reach()] = True
        tol = 1e-9 * cas.price
        gap = s * (eff - cas.price)  # >= 0: reached
        assert (gap[due] >= -tol).all()
        assert (gap[is_open & side & ~due] <= tol).all()
        if cas.step() is None:
            break


def test_chart_draws_positions_due_next_round_beyond_the_price():
    """Dynamic margin x2 on crowded-longs: after the shock 1,061 longs are due, 708 of them
    with a base liquidation price below the new price; the map draws every one at or above
    the price line, and every other open long below it."""
    from marginloops.ui import LiquidationMapChart, View

    scenario = Scenario.preset("crowded-longs").replace(dynamic_margin=2.0)
    cas = scenario.cascade()
    view = View.of(cas)
    chart = LiquidationMapChart()
    chart.reset(cas, view)
    cas.step()
    due = cas.in_reach()
    pos = cas.positions
    assert len(due) > 1000 and (pos.liquidation_price[due] < cas.price).sum() > 700
    chart.update(pos, cas.open_mask, cas.price, due)   # as the explorer's check stage does
    bars = chart.series
    edges = chart.edges
    reached, open_longs = bars[2], bars[0]
    assert reached.sum() > 0
    # every reached bar's bin reaches the price line or lies above it ...
    assert (edges[1:][reached > 0] >= cas.price).all()
    # ... and every open long's bin reaches below it
    assert (edges[:-1][open_longs > 0] <= cas.price).all()
    # the reached notional is the due positions' size at their effective price (in range)
    eff = cas.effective_liquidation_price()[due]
    inside = (eff >= edges[0]) & (eff <= edges[-1])
    assert reached.sum() == pytest.approx(float((pos.size[due] * eff)[inside].sum()), rel=1e-9)
    assert list(chart.price.x) == [cas.price] * 2


@pytest.mark.parametrize("changes", [{}, {"mmr_tiers": BINANCE_STYLE_TIERS.brackets},
                                     {"direction": "up", "shock": 0.04}])
def test_chart_unchanged_without_moving_thresholds(changes):
    """Without dynamic margin, partial closes or ADL the map is bit for bit what
    ``Positions.liquidation_map`` gave before issue 9."""
    from marginloops.ui import LiquidationMapChart, View
    from marginloops.ui.charts import MAP_BINS

    cas = Scenario.preset("crowded-longs").replace(n_positions=600, **changes).cascade()
    view = View.of(cas)
    chart = LiquidationMapChart()
    chart.reset(cas, view)
    pos = cas.positions
    rng = (view.price_lo, view.price_hi)
    full = pos.liquidation_map(price_range=rng, bins=MAP_BINS)
    assert chart.y.max == (full[1] + full[2]).max() * 1.15
    for _ in range(4):
        reach = np.zeros(len(pos), bool)
        reach[cas.in_reach()] = True
        chart.update(pos, cas.open_mask, cas.price, cas.in_reach())
        om = cas.open_mask
        old = [pos.liquidation_map(price_range=rng, bins=MAP_BINS, open_mask=m)[1:]
               for m in (om & ~reach, reach, ~om)]
        want = [old[0][0], old[0][1], sum(old[1]), sum(old[2])]
        for got, exp in zip(chart.series, want, strict=True):
            np.testing.assert_array_equal(got, exp)
        if cas.step() is None:
            break


def test_chart_shows_what_partial_closes_left():
    """With partial closes a reduced long is drawn at what it still holds; the part closed is
    drawn with the liquidated positions, so the picture keeps every unit once."""
    from marginloops.ui import LiquidationMapChart, View

    cas = Scenario.preset("crowded-longs").replace(partial="fraction", n_positions=600).cascade()
    view = View.of(cas)
    chart = LiquidationMapChart()
    chart.reset(cas, view)
    pos = cas.positions
    for _ in range(3):
        cas.step()
    chart.update(pos, cas.open_mask, cas.price, cas.in_reach())
    size = cas.open_size()
    assert ((size > 0) & (size < pos.size)).any()
    eff = cas.effective_liquidation_price()
    bars = chart.series
    lo, hi = chart.edges[0], chart.edges[-1]
    is_open = cas.open_mask
    inside = is_open & (eff >= lo) & (eff <= hi)
    assert bars[0].sum() + bars[1].sum() + bars[2].sum() == pytest.approx(
        float((size * eff)[inside].sum()), rel=1e-9)


# ------------------------------------------------------------ no numpy warning escapes

@st.composite
def raw_markets(draw):
    """Positions and a book from extreme but valid numbers, every mechanism in play."""
    n = draw(st.integers(1, 12))
    mag = st.sampled_from([1e-9, 1e-3, 1.0, 7.5, 1e6, 1e12])
    price = draw(st.sampled_from([1e-6, 0.01, 1.0, 100.0, 1e9]))
    side = draw(st.lists(st.sampled_from([1, -1]), min_size=n, max_size=n))
    size = draw(st.lists(mag, min_size=n, max_size=n))
    lev = draw(st.lists(st.sampled_from([1.0, 1.5, 10.0, 100.0, 1000.0]), min_size=n,
                        max_size=n))
    mmr = draw(st.sampled_from([0.0, 1e-4, 0.0009]))
    # entries placed so that every position is solvent at the start price
    entry = [price * (1.0 + s * 0.002) * draw(st.sampled_from([0.999, 1.0, 1.3]))
             if s > 0 else price * (1.0 - 0.002) / draw(st.sampled_from([1.0, 1.3]))
             for s in side]
    pos = Positions.from_arrays(side, size, entry, lev, mmr)
    levels = draw(st.integers(1, 40))
    step = price * draw(st.sampled_from([1e-4, 1e-2, 0.05]))
    depth = draw(mag)
    bids = price - step * np.arange(levels)
    bids = bids[bids > 0]
    asks = price + step * (1 + np.arange(levels))
    book = OrderBook.from_levels(bids, np.full(len(bids), depth), asks,
                                 np.full(len(asks), depth))
    kwargs = dict(
        shock=draw(st.sampled_from([0.001, 0.05, 0.5, 0.99])),
        direction=draw(st.sampled_from(["down", "up"])),
        partial=draw(st.sampled_from([None, "fraction", "restore"])),
        partial_fraction=draw(st.sampled_from([0.01, 0.5, 1.0])),
        dynamic_margin=draw(st.sampled_from([0.0, 1.0, 10.0])),
        adl=draw(st.booleans()), liquidation_fee=draw(st.sampled_from([None, 0.0, 0.5])),
        insurance_fund=draw(st.sampled_from([0.0, 1e9])),
        resilience=draw(st.sampled_from([0.0, 1.0])), call_auction=draw(st.booleans()),
        withdrawal=draw(st.sampled_from([0.0, 100.0])), max_rounds=50)
    return pos, book, kwargs


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(raw_markets())
def test_no_numpy_warning_escapes_a_run(market):
    """pytest turns every warning into an error: a run, its effective prices and open sizes
    on extreme but valid inputs raise nothing."""
    pos, book, kwargs = market
    try:
        cas = Cascade(pos, book, **kwargs)
    except ValueError:  # e.g. a position already past its liquidation price at the start
        return
    while True:
        eff = cas.effective_liquidation_price()
        assert not np.isnan(eff[cas.open_mask]).any()
        assert (cas.open_size()[cas.open_mask] > 0).all()
        if cas.step() is None:
            break


def test_explorer_check_stage_draws_the_due_positions_beyond_the_price():
    """The same through the explorer's buttons: shock, new price, check margins."""
    from marginloops import CascadeExplorer

    ex = CascadeExplorer(Scenario.preset("crowded-longs").replace(dynamic_margin=2.0),
                         phase_mode=True)
    for _ in range(3):
        ex.time.step_button.click()
    cas, lmap = ex.cascade, ex.map_chart
    assert cas.round == 1 and len(cas.in_reach()) > 1000
    bars = lmap.series
    assert bars[2].sum() > 0
    assert (lmap.edges[1:][bars[2] > 0] >= cas.price).all()
    assert (lmap.edges[:-1][bars[0] > 0] <= cas.price).all()
    # the diamonds sit over the reached bars, all at or beyond the price line
    assert len(lmap.reached.x) and (np.asarray(lmap.reached.x) + 0.5 * (lmap.edges[1]
                                                                        - lmap.edges[0])
                                    >= cas.price).all()


@pytest.mark.parametrize("changes", [{"partial": "restore", "dynamic_margin": 1.0},
                                     {"dynamic_margin": 3.0}, {"adl": True}])
def test_map_axis_holds_every_stack_of_the_run(changes):
    """Drawn at effective prices, positions pile up near the price (a "restore" close leaves a
    position right at it): the y axis, fixed for the run, still holds every stack."""
    from marginloops.ui import LiquidationMapChart, View

    cas = Scenario.preset("crowded-longs").replace(**changes).cascade()
    chart = LiquidationMapChart()
    chart.reset(cas, View.of(cas))
    assert cas.round == 0 and cas.history == []   # the chart played a copy
    top = chart.y.max
    while True:
        chart.update(cas.positions, cas.open_mask, cas.price, cas.in_reach())
        assert chart.series.sum(axis=0).max() <= top
        assert chart.y.max == top
        if cas.step() is None:
            break


def test_restore_with_a_vanishing_maintenance_rate_runs_without_warnings():
    """A rate of 5e-324 made the "restore" share's division overflow (a numpy RuntimeWarning
    escaping run()); the position is closed whole instead, quietly."""
    import warnings

    from marginloops import Scenario
    s = Scenario(price=1.0, shock=0.5, n_positions=1, open_interest=2.0, long_share=1.0,
                 mmr=5e-324, entry_spread=0.0, depth_1pct=1.0, partial="restore", seed=0,
                 max_rounds=1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        history = s.cascade().run()
    assert [(r.n_closed, r.n_reduced) for r in history[1:]] == [(1, 0)]  # closed whole
