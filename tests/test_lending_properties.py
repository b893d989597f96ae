"""Invariants of the lending cascade on random lending markets (hypothesis): coins and debt
conserved, no account liquidated at or above a health factor of 1 at the oracle's price, bad
debt only where the collateral is gone, the same history for the same seed; pool and book."""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from marginloops.lending import LendingCascade, LendingScenario, health_factor

FAST = settings(max_examples=120, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@st.composite
def markets(draw):
    lt = draw(st.floats(0.5, 0.9))
    bonus = draw(st.floats(1.01, min(1.15, 1.0 / lt)))
    lo = draw(st.floats(1.001, 1.5))
    return LendingScenario(
        n_accounts=draw(st.integers(0, 300)),
        health_lo=lo, health_hi=draw(st.floats(lo, lo + 1.0)),
        size_median=draw(st.floats(100.0, 100_000.0)),
        size_spread=draw(st.floats(0.0, 2.0)),
        liquidation_threshold=lt, bonus=bonus,
        protocol_fee=draw(st.floats(0.0, 0.5)),
        close_factor=draw(st.floats(0.2, 1.0)),
        small_usd=draw(st.sampled_from([0.0, 500.0, 2000.0, 10_000.0])),
        dust_usd=draw(st.sampled_from([0.0, 1000.0, 3000.0])),
        gas_cost=draw(st.floats(0.0, 100.0)),
        shock=draw(st.floats(0.01, 0.5)),
        venue=draw(st.sampled_from(["pool", "book"])),
        depth_1pct=draw(st.floats(20_000.0, 5_000_000.0)),
        oracle=draw(st.sampled_from(["venue", "push"])),
        deviation=draw(st.floats(0.0, 0.1)),
        heartbeat=draw(st.integers(0, 5)),
        max_rounds=60,
        seed=draw(st.integers(0, 2**32 - 1)))


def _play(scenario):
    """Run step by step, checking each round's calls against the accounts before it."""
    c = LendingCascade(scenario)
    acc = c.accounts
    c0, d0 = acc.collateral, acc.debt
    lt = scenario.liquidation_threshold
    while not c.ended:
        before_c, before_d = acc.collateral, acc.debt
        rec = c.step()
        after_c, after_d = acc.collateral, acc.debt
        touched = (after_c != before_c) | (after_d != before_d)
        assert touched.sum() == rec.n_liquidated
        if rec.round == 0:
            assert rec.n_liquidated == 0
            continue
        # nobody liquidated at or above HF 1 at the oracle's price of the round
        hf = health_factor(before_c, rec.oracle_price, lt, before_d)
        assert np.all(hf[touched] < 1.0)
        # collateral only goes down, debt too; bad debt only where no collateral is left
        assert np.all(after_c <= before_c) and np.all(after_d <= before_d)
        assert np.all(after_d[after_c == 0] == 0)
        if rec.bad_debt_round > 0:
            assert np.any(touched & (after_c == 0))
        # coins of the round: seized = sold + unsold + the protocol's fee
        assert rec.seized_qty == pytest.approx(rec.sold_qty + rec.unsold_qty
                                               + rec.protocol_fee_qty, rel=1e-9, abs=1e-9)
        assert (before_c - after_c).sum() == pytest.approx(rec.seized_qty, rel=1e-9, abs=1e-9)
        # debt of the round: repaid + written off
        assert (before_d - after_d).sum() == pytest.approx(rec.repaid_usd + rec.bad_debt_round,
                                                           rel=1e-9, abs=1e-6)
    h = c.history
    seized = sum(r.seized_qty for r in h)
    sold = sum(r.sold_qty for r in h)
    fee = sum(r.protocol_fee_qty for r in h)
    assert seized == pytest.approx(sold + h[-1].held_qty + fee, rel=1e-9, abs=1e-9)
    assert c0.sum() == pytest.approx(acc.collateral.sum() + seized, rel=1e-9, abs=1e-9)
    repaid = sum(r.repaid_usd for r in h)
    assert d0.sum() == pytest.approx(acc.debt.sum() + repaid + h[-1].bad_debt, rel=1e-9,
                                     abs=1e-6)
    assert h[-1].debt_left == pytest.approx(acc.debt.sum(), rel=1e-9, abs=1e-6)
    assert h[-1].collateral_left == pytest.approx(acc.collateral.sum(), rel=1e-9, abs=1e-9)
    assert h[-1].end_reason in ("fixed_point", "venue_exhausted", "max_rounds")
    assert all(r.end_reason is None for r in h[:-1])
    return h


@FAST
@given(markets())
def test_invariants_on_random_markets(scenario):
    _play(scenario)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(markets())
def test_same_seed_same_history(scenario):
    a = LendingCascade(scenario).run()
    b = LendingCascade(scenario).run()
    assert len(a) == len(b) and all(x == y for x, y in zip(a, b, strict=True))
    c = LendingCascade(scenario)
    c.run()
    c.reset()
    assert c.run() == a


@FAST
@given(markets())
def test_fixed_point_means_nothing_more_happens(scenario):
    c = LendingCascade(scenario)
    h = c.run()
    if h[-1].end_reason != "fixed_point":
        return
    # had the run gone on, the next rounds (up to a heartbeat and one more) would liquidate
    # nobody: the end rule does not stop early
    more = LendingCascade(scenario.replace(max_rounds=scenario.max_rounds))
    more.run()
    for _ in range(scenario.heartbeat + 2):
        more.end_reason = None  # play on past the end
        rec = more.step()
        assert rec.n_liquidated == 0


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, 400), st.integers(0, 2**32 - 1),
       st.lists(st.tuples(st.floats(0.2, 3.0), st.booleans(), st.floats(0.1, 1.0)),
                min_size=1, max_size=25))
def test_under_matches_a_check_of_every_account(n, seed, moves):
    """LendingAccounts.under (buckets, active and parked accounts) finds exactly the accounts
    a comparison of every account's threshold finds, through checks at prices up and down and
    liquidations in between (some lifting health factors, some closing, some lowering them)."""
    from marginloops.lending import LendingAccounts, liquidation_call
    rng = np.random.default_rng(seed)
    c = rng.lognormal(0.0, 1.5, n)
    d = c * rng.uniform(0.0, 1.5, n) * np.where(rng.random(n) < 0.05, 0.0, 1.0)
    acc = LendingAccounts(c, d, 0.8)
    for k, (price, liquidate, close_factor) in enumerate(moves):
        got = np.sort(acc.under(price))
        coll, debt = acc.collateral, acc.debt
        want = np.flatnonzero((debt > 0) & (coll * price * 0.8 < debt))
        assert np.array_equal(got, want)
        if liquidate and len(got):
            pos = acc.under_pos(price)
            cc, dd = acc.state(pos)
            liq = liquidation_call(cc, dd, price, liquidation_threshold=0.8, bonus=1.2,
                                   protocol_fee=0.1, close_factor=close_factor, small_usd=0.0,
                                   dust_usd=0.0)
            acc.apply(pos, liq, k)
