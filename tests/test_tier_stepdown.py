"""Partial liquidation down the margin tiers (issue 12, item 3): ``partial="tier"``.

The rule (Bybit's and OKX's documentation, cited in :mod:`marginloops.mechanisms.partial`): a
reached position in tier k >= 1 is reduced to the notional floor of its tier (the ceiling of
tier k - 1) at the check price and takes tier k - 1's rate and amount; one in the lowest tier is
closed whole.
"""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from test_properties import FAST, _check_moving_thresholds, _key, markets

from marginloops import Cascade, MarginTiers, OrderBook, Positions, Scenario
from marginloops.cascade import CORE_PARAMS
from marginloops.mechanisms import MECHANISMS
from marginloops.mechanisms.partial import PARTIAL_MODES

# Three tiers: 1% below 1,000 USD, 2% to 3,000 USD, 5% above. Maintenance amounts (continuous
# requirement): c1 = 1000 (0.02 - 0.01) = 10, c2 = 10 + 3000 (0.05 - 0.02) = 100.
TIERS = MarginTiers(((0, 0.01), (1000, 0.02), (3000, 0.05)))


def three_longs():
    """A: 40 units at 100, 10x (margin 400); B: 15 units at 100, 10x (margin 150); D: 5 units
    at 100, 20x (margin 25). Their brackets, from the notional at their liquidation price:
    A (90 - 100/40) / 0.95 = 92.105, 40 x 92.105 = 3,684 USD: tier 2;
    B (90 - 10/15) / 0.98 = 91.156, 15 x 91.156 = 1,367 USD: tier 1;
    D 95 / 0.99 = 95.960, 5 x 95.960 = 480 USD: tier 0."""
    return Positions.from_arrays([1, 1, 1], [40.0, 15.0, 5.0], [100.0] * 3,
                                 [10.0, 10.0, 20.0], 0.0).with_tiers(TIERS)


def book():
    """Bids 1 at 100, 5 at 91, 100 at 90.5: a 9% shock sells through 91 and leaves 90.5."""
    return OrderBook.from_levels([100.0, 91.0, 90.5], [1.0, 5.0, 100.0], [101.0], [10.0])


def test_the_positions_are_in_the_tiers_worked_out_by_hand():
    pos = three_longs()
    np.testing.assert_allclose(pos.mmr, [0.05, 0.02, 0.01])
    np.testing.assert_allclose(pos.maint_amount, [100.0, 10.0, 0.0])
    np.testing.assert_allclose(pos.liquidation_price, [87.5 / 0.95, (90 - 10 / 15) / 0.98,
                                                       95 / 0.99])


def test_one_round_steps_each_position_down_one_tier_by_hand():
    pos = three_longs()
    cas = Cascade(pos, book(), shock=0.09, partial="tier", mmr_tiers=TIERS)
    shock = cas.step()
    assert shock.price_after == 91.0
    r1 = cas.step()
    # Check at 91: all three reached (liquidation prices 92.11, 91.16, 95.96 >= 91).
    # A, tier 2: notional 40 x 91 = 3,640 down to 3,000: sells 40 (1 - 3000/3640) = 640/91.
    # B, tier 1: notional 15 x 91 = 1,365 down to 1,000: sells 15 (1 - 1000/1365) = 365/91.
    # D, tier 0: closed whole, 5 units.
    assert r1.price_before == 91.0
    assert r1.n_liquidated == 3 and r1.n_reduced == 2 and r1.n_closed == 1
    assert r1.qty_liquidated == pytest.approx(640 / 91 + 365 / 91 + 5, rel=1e-12)  # 16.043956
    assert r1.avg_fill_price == 90.5 and r1.price_after == 90.5
    left = cas.accounts.open_size()
    np.testing.assert_allclose(left, [3000 / 91, 1000 / 91, 0.0], rtol=1e-12)
    # Notional left at the check price: exactly the lower tiers' ceilings.
    np.testing.assert_allclose(left[:2] * 91.0, [3000.0, 1000.0], rtol=1e-12)
    # The new tiers and maintenance rates: A 2% (tier 1), B 1% (tier 0).
    partial = next(m for m in cas.mechanisms if m.name == "partial")
    assert list(partial.tiers_now(cas)[:2]) == [1, 0]
    acc = cas.accounts
    rate = np.empty(3)
    rate[acc.order] = acc.mmr_s
    np.testing.assert_allclose(rate[:2], [0.02, 0.01])
    # Money: D's equity at 90.5 is 25 + 5 (90.5 - 100) = -22.5, out of an empty fund: bad debt.
    assert r1.to_fund == pytest.approx(-22.5) and r1.bad_debt == pytest.approx(22.5)
    # A's requirement in tier 1 at 90.5 is 0.02 (3000/91) 90.5 - 10 = 49.67 USD: with equity
    # 400 + 40 (90.5 - 100) = 20 it is reached again; B's (1% of 1,000/91 x 90.5 = 9.95 USD,
    # equity 150 + 15 (90.5 - 100) = 7.5) too.
    assert r1.pending == 2
    r2 = cas.step()
    # A steps to tier 0: notional (3000/91) 90.5 down to 1,000; B, in the lowest tier, closes.
    assert r2.n_liquidated == 2 and r2.n_reduced == 1 and r2.n_closed == 1
    assert r2.qty_liquidated == pytest.approx(3000 / 91 - 1000 / 90.5 + 1000 / 91, rel=1e-12)
    np.testing.assert_allclose(cas.accounts.open_size(), [1000 / 90.5, 0.0, 0.0], rtol=1e-12)
    assert partial.tiers_now(cas)[0] == 0
    # A in tier 0: requirement 1% of 1,000 = 10 USD, equity still 20: safe. B's 7.5 to the fund.
    assert r2.end_reason == "fixed_point" and r2.pending == 0
    assert r2.to_fund == pytest.approx(7.5) and r2.insurance_fund == pytest.approx(7.5)
    assert r2.bad_debt == pytest.approx(22.5)
    assert cas.step() is None


def test_a_position_in_the_lowest_tier_is_closed_whole_as_without_partial():
    one = Positions.from_arrays([1], [5.0], [100.0], [20.0], 0.0).with_tiers(TIERS)
    tier = Cascade(one, book(), shock=0.09, partial="tier", mmr_tiers=TIERS).run()
    whole = Cascade(one, book(), shock=0.09).run()
    assert [_key(r) for r in tier] == [_key(r) for r in whole]


@pytest.mark.parametrize("make", [
    lambda: Cascade(three_longs(), book(), shock=0.09, partial="tier"),
    lambda: Cascade(three_longs(), book(), shock=0.09, partial="tier", mmr_tiers=()),
    lambda: Scenario(partial="tier"),
    lambda: Scenario.preset("crowded-longs").replace(partial="tier"),
])
def test_tier_without_tiers_is_refused_naming_both_fields(make):
    with pytest.raises(ValueError, match=r'partial "tier" .* needs mmr_tiers, got mmr_tiers \(\)'):
        make()


def test_tier_with_positions_not_built_on_the_tiers_is_refused():
    flat = Positions.from_arrays([1], [5.0], [100.0], [20.0], 0.005)
    with pytest.raises(ValueError, match="maintenance rates come from mmr_tiers"):
        Cascade(flat, book(), shock=0.09, partial="tier", mmr_tiers=TIERS)


def test_a_scenario_with_tiers_accepts_tier_and_runs():
    s = Scenario.preset("crowded-longs").replace(
        mmr_tiers=((0, 0.004), (50_000, 0.005), (250_000, 0.01)), partial="tier")
    assert s.partial == "tier" and PARTIAL_MODES[-1] == "tier"
    hist = s.cascade().run()
    assert hist[-1].end_reason is not None
    assert sum(r.n_reduced for r in hist) > 0


@st.composite
def tiered_markets(draw):
    """test_properties' random markets with every position on the tiers, and partial "tier"."""
    pos, bk, kwargs = draw(markets())
    tiers = MarginTiers(((0, 0.0), (100, 0.005), (300, 0.01)))
    start = 100.0

    if len(pos):  # each position on the tiers, then only those solvent at the start again
        pos = Positions.from_arrays(pos.side, pos.size, pos.entry, pos.leverage, 0.0).with_tiers(
            tiers)
        liq = pos.liquidation_price
        ok = ((pos.side > 0) & (liq < start)) | ((pos.side < 0) & (liq > start))
        pos = Positions.from_arrays(pos.side[ok], pos.size[ok], pos.entry[ok], pos.leverage[ok],
                                    0.0).with_tiers(tiers)
    kwargs.update(partial="tier", mmr_tiers=tiers)
    return pos, bk, kwargs


@FAST
@given(tiered_markets())
def test_tier_step_down_invariants(market):
    pos, bk, kwargs = market
    s = 1 if kwargs["direction"] == "down" else -1
    cas = Cascade(pos, bk, **kwargs)
    partial = next(m for m in cas.mechanisms if m.name == "partial")
    tiers = kwargs["mmr_tiers"]
    size, tier = cas.accounts.open_size(), partial.tiers_now(cas)
    while (rec := cas.step()) is not None:
        new_size, new_tier = cas.accounts.open_size(), partial.tiers_now(cas)
        assert (new_size >= 0).all() and (new_size <= size + 1e-12).all()
        shrunk = (new_size < size) & (pos.side == s)  # (auto-deleveraging shrinks the other)
        if rec.halted or rec.round == 0:
            assert not shrunk.any() and (new_tier == tier).all()
        # No position closed or reduced twice in a round: at most one change per liquidation.
        assert shrunk.sum() <= rec.n_liquidated
        stepped = new_tier != tier
        # A step lowers the tier by one, and only of a position still open.
        assert (new_tier[stepped] == tier[stepped] - 1).all()
        assert (new_size[stepped] > 0).all()
        # After a step the notional at the check price is at most the lower tier's ceiling
        # (the floor of the tier it left), and the lowest tier is never "stepped".
        ceiling = tiers.floors[tier[stepped]]
        assert (new_size[stepped] * rec.price_before <= ceiling * (1 + 1e-9)).all()
        # Reduced and still open means stepped (a tier-0 position is closed whole), unless the
        # venue ran out before the order filled (the run then ends).
        if rec.unfilled_qty == 0:
            assert not (shrunk & (new_size > 0) & ~stepped).any()
        else:
            assert rec.end_reason == "book_exhausted"
        # The accounts' rate is the tier's rate.
        acc = cas.accounts
        rate = np.full(len(pos), np.nan)
        rate[acc.order] = acc.mmr_s
        side = new_tier >= 0
        np.testing.assert_array_equal(rate[side], tiers.rates[new_tier[side]])
        size, tier = new_size, new_tier
    hist = cas.history
    rounds = cas.liquidated_round
    # test_properties' invariants of moving thresholds: units, prices, fund and bad debt round
    # by round, open interest, and reset() reproducing the run (tiers and rates restored).
    _check_moving_thresholds(pos, cas, hist, kwargs, rounds, s)


def test_every_other_mode_is_unchanged_by_the_tiers_argument():
    """The scenario now hands mmr_tiers to partial liquidation: the other modes ignore it."""
    base = Scenario.preset("crowded-longs").replace(
        n_positions=400, mmr_tiers=((0, 0.004), (50_000, 0.005), (250_000, 0.01)))
    for mode in (None, "fraction", "restore"):
        s = base.replace(partial=mode)
        run = {p.name: getattr(s, p.name) for p in CORE_PARAMS}
        for m in MECHANISMS:
            run.update(m.from_scenario(s))
        assert run.pop("mmr_tiers") == s.mmr_tiers
        plain = Cascade(s.positions(), s.venue_model(), **run).run()
        assert [_key(r) for r in s.cascade().run()] == [_key(r) for r in plain], mode
