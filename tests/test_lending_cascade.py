"""The lending cascade (marginloops.lending.LendingCascade): rounds, records, the end rule."""

import math

import numpy as np
import pytest

import marginloops
from marginloops.accounts import Accounts
from marginloops.lending import (
    LENDING_PRESETS,
    LendingAccounts,
    LendingCascade,
    LendingScenario,
    health_factor,
    lending_table,
    narrate_lending,
    narrate_lending_end,
)


def test_default_preset_cascades_over_several_rounds():
    h = LendingCascade(LENDING_PRESETS["eth-pool"]).run()
    assert h[0].round == 0 and h[0].n_liquidated == 0 and h[0].shock_qty > 0
    assert sum(r.n_liquidated > 0 for r in h) >= 4
    assert h[-1].end_reason == "fixed_point"
    # the cascade took the price further than the shock
    assert h[-1].price_after < h[0].price_after


def test_shock_moves_venue_price_by_shock_and_oracle_waits():
    s = LendingScenario(shock=0.1)
    c = LendingCascade(s)
    assert c.price == pytest.approx(s.price)
    r0 = c.step()
    assert r0.price_after == pytest.approx(0.9 * s.price)
    assert r0.oracle_price == s.price and not r0.oracle_updated
    r1 = c.step()
    assert r1.oracle_price == pytest.approx(0.9 * s.price) and r1.oracle_updated


def test_conservation_of_coins_and_debt():
    c = LendingCascade(LENDING_PRESETS["eth-pool"])
    h = c.run()
    acc = c.accounts
    seized = sum(r.seized_qty for r in h)
    fee = sum(r.protocol_fee_qty for r in h)
    sold = sum(r.sold_qty for r in h)
    assert seized == pytest.approx(sold + h[-1].held_qty + fee, rel=1e-12)
    assert acc.start_collateral.sum() == pytest.approx(acc.collateral.sum() + seized, rel=1e-12)
    repaid = sum(r.repaid_usd for r in h)
    assert acc.start_debt.sum() == pytest.approx(acc.debt.sum() + repaid + h[-1].bad_debt,
                                                 rel=1e-12)
    assert h[-1].debt_left == pytest.approx(acc.debt.sum(), rel=1e-9)


def test_lending_accounts_satisfy_the_account_protocol():
    acc = LendingAccounts(np.array([1.0, 2.0]), np.array([800.0, 0.0]), 0.8)
    assert isinstance(acc, Accounts)
    # threshold = 800 / (1 * 0.8) = 1,000; no debt: NaN
    thr = acc.threshold_price()
    assert thr[0] == pytest.approx(1000.0) and math.isnan(thr[1])
    assert acc.pending(999.0) == 1 and acc.pending(1000.0) == 0


def test_gas_cost_skips_small_accounts():
    # one account of 2 coins at 1,000 USD, debt 1,660 at LT 0.83: HF 1 at the start, 0.9 after
    # a 10% shock (1,800 USD of collateral: the 100% regime, 0.9 <= 0.95)
    s = LendingScenario(price=1000.0, n_accounts=0, shock=0.1, gas_cost=100.0)
    acc = LendingAccounts(np.array([2.0]), np.array([1660.0]), 0.83)
    c = LendingCascade(s, accounts=acc)
    # at 900: HF = 2*900*0.83/1660 = 0.9; seized 1,660/900*1.05 = 1.9367 coins; fee
    # (1.9367 - 1.8444)*0.1 = 0.00922; the liquidator's 1.92744 coins at 900 = 1,734.7 USD:
    # profit 74.7 < 100 -> skipped: nothing more can happen after the shock
    r0 = c.step()
    assert r0.pending == 1 and r0.end_reason == "fixed_point"
    idx, liq, go, skipped = c.plan(900.0)
    assert liq.to_liquidator[0] * 900.0 - liq.repaid[0] == pytest.approx(74.7, abs=0.1)
    assert skipped.tolist() == [True] and go.tolist() == [False]
    c2 = LendingCascade(s.replace(gas_cost=50.0), accounts=LendingAccounts(
        np.array([2.0]), np.array([1660.0]), 0.83))
    h = c2.run()
    assert h[1].n_liquidated == 1 and h[1].repaid_usd == pytest.approx(1660.0)


def test_no_account_liquidated_at_or_above_one():
    c = LendingCascade(LENDING_PRESETS["eth-pool"])
    c.step()
    while not c.ended:
        before_c, before_d = c.accounts.collateral.copy(), c.accounts.debt.copy()
        rec = c.step()
        touched = (c.accounts.debt != before_d) | (c.accounts.collateral != before_c)
        hf = health_factor(before_c, rec.oracle_price, 0.83, before_d)
        assert np.all(hf[touched] < 1.0)
        assert touched.sum() == rec.n_liquidated


def test_narration_and_table_run():
    h = LendingCascade(LENDING_PRESETS["eth-pool"]).run()
    assert narrate_lending(h[0]).startswith("Round 0 (the shock)")
    assert "Liquidators made" in narrate_lending(h[1])
    assert "after the shock" in narrate_lending_end(h)
    table = lending_table(h)
    assert len(table.splitlines()) == len(h) + 1


def test_top_level_names():
    for name in ("health_factor", "liquidation_call", "LendingScenario", "LendingCascade",
                 "LENDING_PRESETS"):
        assert hasattr(marginloops, name)
