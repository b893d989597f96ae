"""Invariants of the cascade, checked on random markets with hypothesis."""

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from marginloops import Cascade, CircuitBreaker, MarginTiers, OrderBook, Positions, Scenario

FAST = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def markets(draw):
    direction = draw(st.sampled_from(["down", "up"]))
    n_levels = draw(st.integers(1, 40))
    tick = draw(st.sampled_from([0.5, 1.0]))
    sizes = draw(st.lists(st.floats(0.0, 5.0), min_size=n_levels, max_size=n_levels))
    best = 100.0
    far = best - (1 if direction == "down" else -1) * tick * np.arange(n_levels)
    near = [best + 1.0] if direction == "down" else [best - 1.0]
    if direction == "down":
        book = OrderBook.from_levels(far, sizes, near, [10.0])
    else:
        book = OrderBook.from_levels(near, [10.0], far, sizes)
    assume(sum(sizes) > 0 and sizes[0] > 0)
    n = draw(st.integers(0, 25))
    side = draw(st.lists(st.sampled_from([1, -1]), min_size=n, max_size=n))
    size = draw(st.lists(st.floats(0.01, 4.0), min_size=n, max_size=n))
    entry = draw(st.lists(st.floats(60.0, 140.0), min_size=n, max_size=n))
    lev = draw(st.lists(st.sampled_from([1.0, 2.0, 5.0, 10.0, 20.0, 50.0]), min_size=n, max_size=n))
    mmr = draw(st.lists(st.sampled_from([0.0, 0.005, 0.01]), min_size=n, max_size=n))
    pos = Positions.from_arrays(side, size, entry, lev, mmr) if n else Positions.from_arrays(
        [], [], [], [], [])
    start = best
    liq = pos.liquidation_price
    ok = ((pos.side > 0) & (liq < start)) | ((pos.side < 0) & (liq > start))
    pos = Positions.from_arrays(pos.side[ok], pos.size[ok], pos.entry[ok], pos.leverage[ok],
                                pos.mmr[ok])
    if draw(st.booleans()):  # tiered maintenance margin instead of each position's rate
        pos = pos.with_tiers(MarginTiers(((0, 0.0), (100, 0.005), (300, 0.01))))
        liq = pos.liquidation_price
        ok = ((pos.side > 0) & (liq < start)) | ((pos.side < 0) & (liq > start))
        pos = Positions.from_arrays(pos.side[ok], pos.size[ok], pos.entry[ok],
                                    pos.leverage[ok], pos.mmr[ok]).with_tiers(
            MarginTiers(((0, 0.0), (100, 0.005), (300, 0.01))))
    kwargs = dict(
        shock=draw(st.floats(0.001, 0.6)), direction=direction,
        resilience=draw(st.sampled_from([0.0, 0.3, 1.0])),
        insurance_fund=draw(st.sampled_from([0.0, 5.0, 100.0])),
        liquidation_fee=draw(st.sampled_from([None, 0.0, 0.01])),
        max_rounds=draw(st.sampled_from([3, 1000])))
    if draw(st.booleans()):  # the mechanisms, in every combination
        kwargs.update(
            breaker=draw(st.sampled_from([None, CircuitBreaker(0.01, 1),
                                          CircuitBreaker(0.03, 3, "start")])),
            recovery=draw(st.sampled_from([0.0, 0.5, 1.0])),
            call_auction=draw(st.booleans()),
            refill_at=draw(st.sampled_from(["touch", "levels"])),
            withdrawal=draw(st.sampled_from([0.0, 0.5, 5.0])),
            partial=draw(st.sampled_from([None, "fraction", "restore"])),
            partial_fraction=draw(st.sampled_from([0.1, 0.5])),
            dynamic_margin=draw(st.sampled_from([0.0, 0.0, 1.0, 5.0])),
            adl=draw(st.booleans()))
    return pos, book, kwargs


@FAST
@given(markets())
def test_invariants(market):
    pos, book, kwargs = market
    cas = Cascade(pos, book, **kwargs)
    hist = cas.run()
    down = kwargs["direction"] == "down"
    s = 1 if down else -1
    rounds = cas.liquidated_round
    liq = pos.liquidation_price
    level_prices = set(book.bids()[0]) | set(book.asks()[0])

    assert hist and hist[-1].end_reason is not None and cas.step() is None
    assert len(hist) <= kwargs["max_rounds"] + 1
    # Only the side the move hurts is liquidated, each position at most once (one round number).
    assert (rounds[pos.side != s] == -1).all()
    if kwargs.get("partial") or kwargs.get("dynamic_margin", 0) > 0 or kwargs.get("adl"):
        _check_moving_thresholds(pos, cas, hist, kwargs, rounds, s)
        return
    for r in hist:
        closed = rounds == r.round
        assert closed.sum() == r.n_liquidated
        assert pos.size[closed].sum() == pytest.approx(r.qty_liquidated, abs=1e-9)
    assert (rounds >= 0).sum() == sum(r.n_liquidated for r in hist)

    # Prices move only through fills, monotonically, and always to a level of the book.
    for prev, r in zip([None] + hist[:-1], hist, strict=False):
        if prev is not None:
            assert r.price_before == prev.price_after
        if r.filled_qty > 0:
            assert r.price_after == r.last_fill_price and r.last_fill_price in level_prices
        else:
            assert r.price_after == r.price_before
        if kwargs.get("refill_at", "touch") == "touch":  # old levels can take the price back
            assert (r.price_after <= r.price_before) if down else (
                r.price_after >= r.price_before)
        if r.halted:
            assert r.n_liquidated == 0 and r.filled_qty == 0 and r.price_after == r.price_before
        if r.uniform_price:
            assert r.avg_fill_price == r.last_fill_price

    # A position is liquidated in round k exactly when the price after round k-1 reached its
    # liquidation price and, at the trading round before k (halted rounds trade nothing), it
    # had not been reached yet.
    def reached(p, i):
        return p <= liq[i] if down else p >= liq[i]
    for i in np.flatnonzero(rounds >= 1):
        k = rounds[i]
        assert reached(hist[k - 1].price_after, i) and not hist[k].halted
        earlier = [j for j in range(1, k) if not hist[j].halted]
        if earlier:
            assert not reached(hist[earlier[-1] - 1].price_after, i)
    # A tripped breaker halts exactly its number of rounds (unless the run hits its limit).
    breaker = kwargs.get("breaker")
    for r in hist:
        if r.breaker_tripped:
            halted = hist[r.round + 1:r.round + 1 + breaker.halt_rounds]
            assert all(h.halted for h in halted)
            follows = hist[r.round + 1 + breaker.halt_rounds:]
            assert len(halted) == breaker.halt_rounds or halted[-1].end_reason in (
                "max_rounds", "fixed_point")
            assert not follows or not follows[0].halted
    last = hist[-1]
    still_in_reach = [i for i in np.flatnonzero((rounds < 0) & (pos.side == s))
                      if reached(last.price_after, i)]
    assert len(still_in_reach) == last.pending
    # Every price is a level of the book that a trade reached (refills reuse those levels).
    if last.end_reason == "fixed_point":
        assert last.pending == 0

    # Every liquidated unit was filled or reported unfilled.
    for r in hist[1:]:
        assert r.filled_qty + r.unfilled_qty == pytest.approx(r.qty_liquidated, rel=1e-12)
    assert last.inventory_qty == pytest.approx(sum(r.unfilled_qty for r in hist[1:]))

    # Money: recompute each closed position's equity at the round's average fill, by hand.
    fund, debt, returned = kwargs["insurance_fund"], 0.0, 0.0
    fee_rate = kwargs["liquidation_fee"]
    for r in hist[1:]:
        if r.halted:  # nothing traded: nothing paid
            assert r.to_fund == r.margin_lost == r.bad_debt_round == 0
            continue
        closed = rounds == r.round
        q, e, lev = pos.size[closed], pos.entry[closed], pos.leverage[closed]
        frac = r.filled_qty / r.qty_liquidated
        # Each position leaves at an effective price X: the average fill for the units sold,
        # the last traded price for the units the fund took over unsold.
        mark = r.last_fill_price if r.filled_qty > 0 else r.price_before
        exit_price = frac * np.nan_to_num(r.avg_fill_price) + (1 - frac) * mark
        margin = q * e / lev
        eq = margin + s * q * (exit_price - e)  # equity at exit
        assert r.margin_lost == pytest.approx(margin.sum())
        # Every dollar of margin: to the fund (equity at exit) or lost to the market.
        lost_to_market = (s * q * (e - exit_price)).sum()
        assert r.margin_lost == pytest.approx(eq.sum() + lost_to_market)
        # ... and the same equity from the bankruptcy price: s q (X - B).
        np.testing.assert_allclose(eq, s * q * (exit_price - e * (1 - s / lev)), rtol=1e-9,
                                   atol=1e-9)
        if fee_rate is None:
            flow = eq.sum()
        else:
            fee = np.minimum(fee_rate * frac * q * np.nan_to_num(r.avg_fill_price),
                             np.maximum(eq, 0))
            flow = fee.sum() + np.minimum(eq, 0).sum()
            returned += np.maximum(eq, 0).sum() - fee.sum()
        fund += flow
        if fund < 0:
            debt, fund = debt - fund, 0.0
        assert r.insurance_fund == pytest.approx(fund, abs=1e-6)
        assert r.bad_debt == pytest.approx(debt, abs=1e-6)
    assert sum(r.returned_to_traders for r in hist) == pytest.approx(returned, abs=1e-6)
    assert last.insurance_fund >= 0 and last.bad_debt >= 0

    # Open interest is what is left open.
    assert last.open_interest == pytest.approx(pos.size[rounds < 0].sum(), abs=1e-9)

    # reset() then run() reproduces the first run exactly.
    cas.reset()
    again = cas.run()
    assert [_key(r) for r in again] == [_key(r) for r in hist]


def _check_moving_thresholds(pos, cas, hist, kwargs, rounds, s):
    """Invariants of runs with partial liquidation or dynamic margin, whose thresholds move."""
    # Closed at most once; partial closes only ever shrink a position.
    assert (rounds >= 0).sum() == sum(r.n_liquidated - r.n_reduced for r in hist)
    assert all(r.n_adl <= r.n_liquidated - r.n_reduced for r in hist)
    size_sorted, q_left = pos.size[cas.accounts.order], cas.accounts.q_left
    assert (q_left >= -1e-12).all() and (q_left <= size_sorted + 1e-12).all()
    assert (q_left[cas.accounts.closed_in >= 0] == 0).all()
    # Units, prices and money: every liquidated unit filled or unfilled; prices from fills;
    # the fund and bad debt follow the flows round by round.
    fund, debt = kwargs["insurance_fund"], 0.0
    path = [cas.start_price]
    for r in hist:
        if r.round >= 1:
            assert r.filled_qty + r.unfilled_qty == pytest.approx(r.qty_liquidated, rel=1e-12)
        if r.filled_qty > 0:
            assert r.price_after == r.last_fill_price
        else:
            assert r.price_after == r.price_before
        if r.round >= 1 and not r.halted:
            k, w = kwargs.get("dynamic_margin", 0.0), 2
            past = path[max(len(path) - 1 - w, 0)]
            assert r.mmr_surcharge == pytest.approx(k * abs(path[-1] / past - 1.0))
        path.append(r.price_after)
        fund += r.to_fund
        if fund < 0:
            debt, fund = debt - fund, 0.0
        assert r.insurance_fund == pytest.approx(fund, abs=1e-6)
        assert r.bad_debt == pytest.approx(debt, abs=1e-6)
    # Open interest: the other side (less what auto-deleveraging took) plus what is left of
    # this side; each deleveraged unit left on both sides.
    other = cas.accounts.opposite_left.sum() if kwargs.get("adl") else pos.size[pos.side != s].sum()
    if kwargs.get("adl"):
        taken = pos.size[pos.side != s].sum() - other
        assert taken == pytest.approx(sum(r.adl_qty for r in hist), abs=1e-9)
        assert (cas.accounts.opposite_left >= 0).all()
    assert hist[-1].open_interest == pytest.approx(other + cas.accounts.q_left.sum(), abs=1e-9)
    cas.reset()
    assert [_key(r) for r in cas.run()] == [_key(r) for r in hist]


def _key(rec):
    fields = {k: v for k, v in vars(rec).items() if k not in ("book_prices", "book_qty")}
    return (repr(fields), rec.book_prices.tobytes(), rec.book_qty.tobytes())


@settings(max_examples=20, deadline=None)
@given(st.integers(0, 2**32 - 1), st.sampled_from(["calm-market", "crowded-longs",
                                                   "short-squeeze"]))
def test_same_seed_same_history_bit_for_bit(seed, preset):
    scenario = Scenario.preset(preset).replace(seed=seed, n_positions=300)
    a = scenario.cascade().run()
    b = scenario.cascade().run()
    assert [_key(r) for r in a] == [_key(r) for r in b]
    c = scenario.replace(seed=(seed + 1) % 2**32).cascade()
    assert not np.array_equal(c.positions.entry, scenario.positions().entry)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(0.0, 10.0), min_size=1, max_size=60), st.floats(0.0, 400.0))
def test_book_walk_conserves_units_and_prices(sizes, qty):
    prices = 100.0 - 0.5 * np.arange(len(sizes))
    book = OrderBook.from_levels(prices, sizes)
    total = sum(sizes)
    fill = book.market_sell(qty)
    assert fill.filled + fill.unfilled == pytest.approx(qty)
    assert fill.filled == pytest.approx(min(qty, total))
    assert fill.level_qty.sum() == pytest.approx(fill.filled)
    assert book.bid_depth() == pytest.approx(total - fill.filled, abs=1e-9)
    assert book.units_left("bid") == pytest.approx(book.bid_depth(), abs=1e-9)
    book.refill("bid", 1.5)
    assert book.units_left("bid") == pytest.approx(book.bid_depth(), abs=1e-9)
    if fill.filled > 0:
        assert fill.last_price == fill.level_prices[-1] == fill.level_prices.min()
        assert fill.last_price <= fill.avg_price <= prices[0]
        # every level strictly better than the last fill is used up
        assert (book.bids()[0] <= fill.last_price).all()
