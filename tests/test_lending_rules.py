"""Aave v3.3's liquidation rules (marginloops.lending.rules) against documented examples and
hand-worked cases. Every expected number below is worked out by hand in the comment above it."""

import math

import numpy as np
import pytest

from marginloops.lending import health_factor, liquidation_call

ETH = dict(liquidation_threshold=0.83, bonus=1.05, protocol_fee=0.10)


def test_health_factor_docs_example():
    # aave.com/docs/developers/liquidations: "if a user supplies $10,000 in ETH with an 80%
    # liquidation threshold and borrows $6,000 in GHO, the health factor would be 1.333".
    # 5 ETH at 2,000 USD = 10,000 USD; 10,000 * 0.8 / 6,000 = 1.3333...
    assert health_factor(5.0, 2000.0, 0.8, 6000.0) == pytest.approx(4 / 3)


def test_health_factor_vectorised_and_no_debt():
    hf = health_factor(np.array([1.0, 2.0, 3.0]), 100.0, 0.5, np.array([50.0, 0.0, 300.0]))
    # 1*100*0.5/50 = 1; no debt: inf; 3*100*0.5/300 = 0.5
    assert hf[0] == pytest.approx(1.0) and math.isinf(hf[1]) and hf[2] == pytest.approx(0.5)


def test_close_factor_50_percent_regime_bonus_and_fee():
    # 10 coins at 1,900 = 19,000 USD, debt 16,000: HF = 19,000*0.83/16,000 = 0.985625 > 0.95,
    # both >= 2,000 USD -> 50%: repay 8,000. Seized = 8,000/1,900*1.05 = 4.4210526 coins, its
    # bonus part 4.4210526 - 4.2105263 = 0.2105263, the protocol's 10% = 0.0210526; the
    # liquidator gets 4.4 coins. After: 5.5789474 coins (10,600 USD) against 8,000:
    # HF = 10,600*0.83/8,000 = 1.09975.
    r = liquidation_call(10.0, 16_000.0, 1_900.0, **ETH)
    assert r.allowed == pytest.approx(8000.0)
    assert r.repaid == pytest.approx(8000.0)
    assert r.seized == pytest.approx(4.4210526, rel=1e-7)
    assert r.protocol_fee == pytest.approx(0.0210526, rel=1e-5)
    assert r.to_liquidator == pytest.approx(4.4)
    assert r.health_factor_after == pytest.approx(1.09975)
    assert r.bad_debt == 0.0 and not r.reverted


def test_docs_max_collateral_formula():
    # docs.aave.com/developers/guides/liquidations: maxAmountOfCollateralToLiquidate =
    # (debtAssetPrice * debtToCover * liquidationBonus) / collateralPrice; with 1,000 USD of
    # debt covered at 2,500 USD a coin and a 5% bonus: 1 * 1,000 * 1.05 / 2,500 = 0.42 coins.
    r = liquidation_call(10.0, 20_000.0, 2_500.0, debt_to_cover=1000.0, **ETH)
    # HF = 25,000*0.83/20,000 = 1.0375: not liquidatable, nothing happens
    assert r.reverted and r.repaid == 0.0
    r = liquidation_call(10.0, 22_000.0, 2_500.0, debt_to_cover=1000.0, **ETH)
    # HF = 20,750/22,000 = 0.943: 100% regime, 1,000 covered
    assert r.repaid == pytest.approx(1000.0) and r.seized == pytest.approx(0.42)


def test_close_factor_100_percent_below_095():
    # 10 coins at 1,800 = 18,000 USD, debt 16,000: HF = 14,940/16,000 = 0.93375 <= 0.95:
    # the whole debt. Seized 16,000/1,800*1.05 = 9.3333 coins, 0.6667 left (1,200 USD); no debt.
    r = liquidation_call(10.0, 16_000.0, 1_800.0, **ETH)
    assert r.allowed == pytest.approx(16_000.0) and r.repaid == pytest.approx(16_000.0)
    assert r.seized == pytest.approx(9.333333, rel=1e-6)
    assert r.collateral_after == pytest.approx(0.666667, rel=1e-5)
    assert r.debt_after == 0.0 and math.isinf(r.health_factor_after)


def test_close_factor_threshold_is_strict():
    # LiquidationLogic.sol: 50% only while healthFactor > CLOSE_FACTOR_HF_THRESHOLD (0.95e18).
    # 10 coins at 1,900, LT 0.5: 9,500 USD against 10,000 -> HF exactly 0.95 -> 100%.
    r = liquidation_call(10.0, 10_000.0, 1_900.0, liquidation_threshold=0.5, bonus=1.05,
                         protocol_fee=0.1)
    assert r.allowed == pytest.approx(10_000.0)
    # debt 9,990: HF = 9,500/9,990 = 0.95095 > 0.95 -> 50%
    r = liquidation_call(10.0, 9_990.0, 1_900.0, liquidation_threshold=0.5, bonus=1.05,
                         protocol_fee=0.1)
    assert r.allowed == pytest.approx(4_995.0)


def test_small_position_docs_example():
    # docs/3.3/Aave-v3.3-features.md, "Position size dependent 100% close factor": with the
    # threshold at 1,000 USD, 1,200 USD of collateral against 900 USD of debt at HF 0.96 may be
    # liquidated in full (900), where the old rule allowed 50%. 1.2 coins at 1,000, LT 0.72:
    # HF = 1,200*0.72/900 = 0.96.
    kw = dict(liquidation_threshold=0.72, bonus=1.05, protocol_fee=0.1)
    r = liquidation_call(1.2, 900.0, 1000.0, small_usd=1000.0, dust_usd=500.0, **kw)
    assert r.allowed == pytest.approx(900.0) and r.repaid == pytest.approx(900.0)
    # with Aave's own 2,000 USD threshold too
    assert liquidation_call(1.2, 900.0, 1000.0, **kw).allowed == pytest.approx(900.0)
    # with the threshold at 500 USD both are above it and HF 0.96 > 0.95: 50%, 450
    r = liquidation_call(1.2, 900.0, 1000.0, small_usd=500.0, dust_usd=0.0, **kw)
    assert r.allowed == pytest.approx(450.0)


def test_all_collateral_cut_and_bad_debt():
    # 1 coin at 1,000 against 1,000 of debt: HF 0.83, 100%. Repaying 1,000 would take
    # 1,000/1,000*1.05 = 1.05 coins > 1: all the collateral goes and the repaid amount is cut
    # to 1,000/1.05 = 952.381; the 47.619 left is bad debt. Fee: (1 - 1/1.05)*0.1 = 0.0047619.
    r = liquidation_call(1.0, 1000.0, 1000.0, **ETH)
    assert r.seized == 1.0 and r.collateral_after == 0.0
    assert r.repaid == pytest.approx(952.380952)
    assert r.bad_debt == pytest.approx(47.619048)
    assert r.debt_after == 0.0
    assert r.protocol_fee == pytest.approx(0.0047619, rel=1e-5)
    assert r.to_liquidator == pytest.approx(1.0 - 0.0047619, rel=1e-7)


def test_dust_rule_reverts_and_full_repayment_passes():
    # 100% regime (HF 0.93375, as above): covering 15,500 of 16,000 would leave 500 USD of
    # debt (< 1,000) and 10 - 15,500/1,800*1.05 = 0.9583 coins (1,725 USD): MUST_NOT_LEAVE_DUST.
    r = liquidation_call(10.0, 16_000.0, 1_800.0, debt_to_cover=15_500.0, **ETH)
    assert r.reverted and r.dust and r.repaid == 0.0 and r.seized == 0.0
    assert r.collateral_after == 10.0 and r.debt_after == 16_000.0
    # the liquidator must repay it all instead: that passes
    r = liquidation_call(10.0, 16_000.0, 1_800.0, debt_to_cover=16_000.0, **ETH)
    assert not r.reverted and r.debt_after == 0.0
    # covering 14,000 leaves 2,000 of debt and 10 - 8.1667 = 1.8333 coins (3,300 USD): fine
    r = liquidation_call(10.0, 16_000.0, 1_800.0, debt_to_cover=14_000.0, **ETH)
    assert not r.reverted and r.debt_after == pytest.approx(2000.0)


def test_dust_rule_can_block_the_50_percent_call():
    # 1 coin at 2,010, debt 2,005, LT 0.95 (x1.05 = 0.9975 <= 1): HF = 1,909.5/2,005 = 0.95237
    # > 0.95 and both >= 2,000 -> 50% = 1,002.5, seizing 1,052.625 USD of collateral: 957.375
    # USD would be left (< 1,000) -> the largest call reverts. A smaller one (900: 945 USD
    # seized, 1,065 left, 1,105 of debt left) passes.
    kw = dict(liquidation_threshold=0.95, bonus=1.05, protocol_fee=0.1)
    r = liquidation_call(1.0, 2005.0, 2010.0, **kw)
    assert r.allowed == pytest.approx(1002.5) and r.dust and r.reverted
    r = liquidation_call(1.0, 2005.0, 2010.0, debt_to_cover=900.0, **kw)
    assert not r.reverted and r.repaid == pytest.approx(900.0)


def test_not_liquidatable_at_or_above_one():
    # HF exactly 1: 1 coin at 1,000, LT 0.8, debt 800 -> nothing happens
    r = liquidation_call(1.0, 800.0, 1000.0, liquidation_threshold=0.8, bonus=1.05,
                         protocol_fee=0.1)
    assert not r.liquidatable and r.reverted and r.repaid == 0.0


def test_vectorised_matches_scalar():
    c = np.array([10.0, 10.0, 1.0, 1.0, 1.0])
    d = np.array([16_000.0, 16_000.0, 1000.0, 800.0, 2005.0])
    p = np.array([1900.0, 1800.0, 1000.0, 1000.0, 2010.0])
    r = liquidation_call(c, d, p, **ETH)
    for i in range(len(c)):
        one = liquidation_call(c[i], d[i], p[i], **ETH)
        assert r.repaid[i] == pytest.approx(one.repaid)
        assert r.seized[i] == pytest.approx(one.seized)
        assert bool(r.reverted[i]) == one.reverted


@pytest.mark.parametrize("field,value", [("liquidation_threshold", 0.0), ("bonus", 0.9),
                                         ("protocol_fee", 1.5), ("close_factor", 0.0)])
def test_bad_parameters_name_themselves(field, value):
    kw = dict(ETH)
    kw[field] = value
    with pytest.raises(ValueError, match=field):
        liquidation_call(1.0, 1000.0, 1000.0, **kw)


@pytest.mark.parametrize("field,value,words", [
    ("collateral", -1.0, "collateral must be >= 0"), ("price", 0.0, "price must be > 0"),
    ("debt", "x", "debt must be a number"), ("liquidation_threshold", 1.5, "(0, 1]"),
    ("collateral", True, "true/false")])
def test_health_factor_refuses_bad_input_by_name(field, value, words):
    kw = dict(collateral=1.0, price=100.0, liquidation_threshold=0.8, debt=50.0)
    kw[field] = value
    with pytest.raises(ValueError, match=field) as exc:
        health_factor(**kw)
    assert words in str(exc.value)


def test_arrays_that_do_not_broadcast_are_named():
    with pytest.raises(ValueError, match=r"collateral \(3,\), debt \(2,\)"):
        liquidation_call(np.ones(3), np.ones(2), 100.0, **ETH)
    with pytest.raises(ValueError, match="debt_to_cover"):
        liquidation_call(1.0, 900.0, 1000.0, debt_to_cover=-5.0, **ETH)


def test_protocol_close_liquidates_the_caught_accounts():
    from marginloops.lending import LendingAccounts
    # the 50% case above through the account protocol: check at 1,900, close
    acc = LendingAccounts(np.array([10.0, 10.0]), np.array([16_000.0, 1_000.0]), 0.83)
    closing = acc.check(1900.0)
    assert closing.n == 1 and closing.margin[0] == 16_000.0
    done = acc.close(closing, None, 0.0, 1, None, p_before=1900.0)
    assert done.n_reduced == 1 and acc.debt[0] == pytest.approx(8000.0)
    assert acc.collateral[0] == pytest.approx(10.0 - 4.4210526, rel=1e-7)
