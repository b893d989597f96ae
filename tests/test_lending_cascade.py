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


# ------------------------------------------------------------------------- the push oracle
def test_push_oracle_waits_for_deviation_or_heartbeat_and_the_run_waits_too():
    h = LendingCascade(LENDING_PRESETS["stale-oracle"]).run()
    # round 1: the 8% shock is beyond the 5% deviation: the oracle reports the pool's price
    assert h[1].oracle_updated and h[1].oracle_price == pytest.approx(h[0].price_after)
    # round 2: the pool moved less than 5% below the oracle (4.2%): no report
    assert abs(h[1].price_after / h[1].oracle_price - 1) < 0.05
    assert not h[2].oracle_updated and h[2].oracle_price == h[1].oracle_price
    assert h[2].n_liquidated == 0 and h[2].end_reason is None
    # heartbeat 3: last report in round 1, so round 4 reports whatever the move
    assert not h[3].oracle_updated
    assert h[4].oracle_updated and h[4].oracle_price == pytest.approx(h[3].price_after)
    assert h[4].n_liquidated > 0
    assert h[2].oracle_next_in == 2 and h[3].oracle_next_in == 1


def test_push_oracle_without_heartbeat_ends_stale():
    s = LENDING_PRESETS["stale-oracle"].replace(heartbeat=0)
    c = LendingCascade(s)
    h = c.run()
    last = h[-1]
    assert last.end_reason == "fixed_point"
    # the pool is below the oracle, by less than the deviation, and would liquidate more
    assert last.price_after < last.oracle_price
    assert abs(last.price_after / last.oracle_price - 1) < s.deviation
    assert c.accounts.pending(last.price_after) > 0 and last.oracle_next_in == -1
    # with the heartbeat the run goes on and falls further
    h3 = LendingCascade(LENDING_PRESETS["stale-oracle"]).run()
    assert h3[-1].price_after < last.price_after


def test_deviation_rule_on_one_account():
    # 1 coin at 1,000, debt 700, LT 0.8 (threshold 875); push oracle, deviation 10%, no
    # heartbeat. A 9% shock: 910 > 875 and 9% < 10%: the oracle does not move, nobody is under
    # 1 at 1,000: the run ends at once. A 15% shock: 850 is 15% away: it reports, liquidation.
    acc = LendingAccounts(np.array([1.0]), np.array([700.0]), 0.8)
    s = LendingScenario(price=1000.0, n_accounts=0, shock=0.09, oracle="push",
                        deviation=0.10, liquidation_threshold=0.8, gas_cost=0.0)
    h = LendingCascade(s, accounts=acc).run()
    assert len(h) == 1 and h[0].end_reason == "fixed_point" and h[0].pending == 0
    acc = LendingAccounts(np.array([1.0]), np.array([700.0]), 0.8)
    h = LendingCascade(s.replace(shock=0.15), accounts=acc).run()
    assert h[1].oracle_updated and h[1].n_liquidated == 1


# ------------------------------------------------------------------------- dust in the loop
def test_liquidator_skips_a_call_the_dust_rule_reverts():
    # A: 1 coin, debt 2,005; B: 10 coins, debt 20,000; LT 0.95, bonus 1.05, start 2,200 (HF
    # 1.042 and 1.045). The shock takes the pool to 2,010: A's HF 0.95237 > 0.95, both sides
    # >= 2,000 USD: 50% (1,002.5), which would leave 957.4 USD of collateral (< 1,000): the
    # call reverts (see test_lending_rules); the liquidator cannot repay more, so it skips A.
    # B (HF 0.9548) is liquidated at 50%.
    acc = LendingAccounts(np.array([1.0, 10.0]), np.array([2005.0, 20_000.0]), 0.95)
    s = LendingScenario(price=2200.0, n_accounts=0, shock=1 - 2010 / 2200,
                        liquidation_threshold=0.95, bonus=1.05, gas_cost=0.0, depth_1pct=1e9)
    c = LendingCascade(s, accounts=acc)
    c.step()
    r1 = c.step()
    assert r1.n_below_one == 2 and r1.n_liquidated == 1 and r1.n_skipped_dust == 1
    assert c.accounts.debt[0] == 2005.0 and c.accounts.debt[1] == pytest.approx(10_000.0)
    assert "dust rule" in narrate_lending(r1)
    # B's health factor fell (LT x bonus = 0.9975 is above its HF: each 50% call lowers it):
    # (10 - 10,000*1.05/2,010)*2,010*0.95/10,000 = 0.9120 <= 0.95, so the next call repays all
    hf_b = health_factor(c.accounts.collateral[1], r1.oracle_price, 0.95, 10_000.0)
    assert hf_b == pytest.approx(0.9120, abs=1e-4)
    r2 = c.step()
    assert r2.n_liquidated >= 1 and c.accounts.debt[1] == 0.0


# ------------------------------------------------------------------------- venues, checks
def test_book_venue_and_exhausted_book():
    h = LendingCascade(LENDING_PRESETS["book"]).run()
    assert h[-1].venue == "book" and math.isnan(h[-1].base_reserve)
    assert h[-1].end_reason == "fixed_point"
    c = LendingCascade(LENDING_PRESETS["book"].replace(depth_1pct=20_000.0))
    h = c.run()
    assert h[-1].end_reason == "venue_exhausted" and h[-1].unsold_qty > 0
    assert h[-1].held_qty == pytest.approx(sum(r.unsold_qty for r in h))
    assert "could not take" in narrate_lending(h[-1])


def test_pool_reserves_follow_the_sales():
    h = LendingCascade(LENDING_PRESETS["eth-pool"]).run()
    for prev, r in zip(h, h[1:], strict=False):
        # coins sold into the pool stay in it
        assert r.base_reserve == pytest.approx(prev.base_reserve + r.sold_qty, rel=1e-12)
        assert r.price_after <= r.price_before


@pytest.mark.parametrize("field,value", [("shock", 0.0), ("shock", 0.95), ("n_accounts", -1),
                                         ("health_lo", 1.0), ("venue", "amm"),
                                         ("oracle", "chainlink"), ("heartbeat", 1.5),
                                         ("liquidation_threshold", 1.0), ("gas_cost", -1.0),
                                         ("bonus", 1.0)])
def test_scenario_refuses_bad_fields_by_name(field, value):
    with pytest.raises(ValueError, match=field):
        LendingScenario(**{field: value})


def test_scenario_cross_field_checks_and_round_trip():
    with pytest.raises(ValueError, match="health_hi"):
        LendingScenario(health_lo=1.5, health_hi=1.2)
    with pytest.raises(ValueError, match="liquidation_threshold"):
        LendingScenario(liquidation_threshold=0.97, bonus=1.05)  # 1.0185 > 1
    s = LENDING_PRESETS["stale-oracle"]
    assert LendingScenario.from_dict(s.to_dict()) == s
    assert LendingScenario.from_json(s.to_json()) == s
    with pytest.raises(ValueError, match="unknown"):
        LendingScenario.from_dict({"shockk": 0.1})
    assert "push oracle" in s.describe() and "every 3 rounds" in s.describe()


def test_population_follows_the_fields():
    s = LendingScenario(n_accounts=5000, size_spread=0.0, health_lo=1.2, health_hi=1.2)
    c, d = s.population()
    # every account: 20,000 USD of collateral at 2,000 = 10 coins, debt 20,000*0.83/1.2
    assert np.allclose(c, 10.0) and np.allclose(d, 20_000 * 0.83 / 1.2)
    s = LendingScenario(n_accounts=20_000, seed=3)
    c, d = s.population()
    hf = health_factor(c, s.price, s.liquidation_threshold, d)
    assert hf.min() >= s.health_lo and hf.max() <= s.health_hi
    assert np.median(c * s.price) == pytest.approx(s.size_median, rel=0.05)


def test_presets_are_fast_enough_for_the_explorer():
    for name, s in LENDING_PRESETS.items():
        best = min(_timed(s) for _ in range(3))
        # the explorer reruns on every control change: 20 ms on a quiet machine; the bound
        # here is loose for a busy one
        assert best < 0.1, (name, best)


def _timed(s):
    import time
    t = time.perf_counter()
    LendingCascade(s).run()
    return time.perf_counter() - t


def test_compare_lending_rows():
    from marginloops.lending import COMPARE_ROWS, compare_lending, compare_lending_table
    a, b = LENDING_PRESETS["eth-pool"], LENDING_PRESETS["close-factor-100"]
    ha, hb = LendingCascade(a).run(), LendingCascade(b).run()
    rows = compare_lending(a, hb)
    assert [r[0] for r in rows] == [label for label, _ in COMPARE_ROWS]
    got = {label: (x, y) for label, x, y in rows}
    assert got["rounds"] == (len(ha) - 1, len(hb) - 1)
    assert got["liquidation calls"][0] == sum(r.n_liquidated for r in ha)
    assert got["repaid"][1] == pytest.approx(sum(r.repaid_usd for r in hb))
    assert got["fall"][0] == pytest.approx(1 - min(r.price_after for r in ha) / 2000.0)
    # repaying whole debts dumps more collateral: more repaid, a deeper fall
    assert got["repaid"][1] > got["repaid"][0] and got["fall"][1] > got["fall"][0]
    text = compare_lending_table(ha, hb, ("50%", "100%"))
    assert "50%" in text.splitlines()[0] and "bad debt" in text
    with pytest.raises(ValueError, match="LendingScenario"):
        compare_lending(a, 3)


def test_black_thursday_preset_is_the_lessons_case():
    # the core cannot import the lesson's cases: the preset copies its fields; keep them equal
    import dataclasses

    from marginloops.lending.cases import LENDING_CASES
    case = LENDING_CASES["black-thursday-maker"].scenario
    preset = LENDING_PRESETS["black-thursday"]
    differ = [f.name for f in dataclasses.fields(case)
              if f.name not in ("name", "description")
              and getattr(case, f.name) != getattr(preset, f.name)]
    assert differ == [], f"copy these fields of the case into the preset: {differ}"


def test_narration_of_a_stale_oracle():
    h = LendingCascade(LENDING_PRESETS["stale-oracle"].replace(shock=0.03)).run()
    # 3% < the 5% deviation: the oracle waits for its heartbeat (3 rounds after round 0)
    assert "its heartbeat reports it in 3 rounds" in narrate_lending(h[0])
    assert "did not update" in narrate_lending(h[1]) and "in 2 rounds" in narrate_lending(h[1])
    assert h[3].oracle_updated and "now reports 1,940.00" in narrate_lending(h[3])
    h = LendingCascade(LENDING_PRESETS["stale-oracle"].replace(heartbeat=0)).run()
    end = narrate_lending(h[-1])
    assert "will not report the pool's lower" in end
    table = lending_table(h).splitlines()
    assert "oracle (USD)" in table[0]


def test_narration_of_skips_and_the_end():
    h = LendingCascade(LENDING_PRESETS["small-borrowers"]).run()
    last = narrate_lending(h[-1])
    assert f"{h[-1].n_skipped_gas:,} accounts under 1 skipped" in last
    assert "no liquidator will act on them" in last
    story = narrate_lending_end(h)
    assert "underwater" in story and "No bad debt." in story


def test_profit_and_underwater_fields():
    c = LendingCascade(LENDING_PRESETS["small-borrowers"])
    h = c.run()
    r = h[1]
    # the pool takes everything: profit = the sale's USD - repaid - gas per call
    assert r.unsold_qty == 0
    assert r.liquidator_profit_usd == pytest.approx(
        r.sold_qty * r.avg_fill_price - r.repaid_usd - 40.0 * r.n_liquidated, rel=1e-9)
    # underwater: open accounts whose collateral at the oracle is worth less than their debt
    coll, debt = c.accounts.collateral, c.accounts.debt
    last = h[-1]
    under = (debt > 0) & (coll * last.oracle_price < debt)
    assert last.underwater_debt == pytest.approx(debt[under].sum(), rel=1e-12)
    assert last.underwater_debt > 100_000
    assert last.n_open == int(np.count_nonzero(debt > 0))


def test_the_end_says_why_nothing_more_happens_and_never_prints_a_missing_price():
    """A venue oracle that would read the pool next round: the summary says whether anyone
    is under 1 there and why nobody is liquidated; an order book whose bids ran out has no
    price, and the summary names its last trade (the book's lowest level) instead of "n/a"."""
    base = LENDING_PRESETS["eth-pool"]
    quiet = narrate_lending_end(LendingCascade(base.replace(health_lo=1.5, health_hi=1.6)).run())
    assert "would report 1,840.00 next round, and no borrower is under 1 there" in quiet
    gas = LendingCascade(base.replace(gas_cost=1e6)).run()
    assert gas[-1].pending == 152 and sum(r.n_liquidated for r in gas) == 0
    assert ("152 borrowers would be under 1 there, but liquidating them would not pay the gas"
            in narrate_lending_end(gas))
    book = LendingCascade(base.replace(venue="book", depth_1pct=1000.0)).run()
    assert book[-1].end_reason == "venue_exhausted" and math.isnan(book[-1].price_after)
    story = narrate_lending_end(book)
    assert "n/a" not in story and "nan" not in story
    low = min(float(r.book_prices[-1]) for r in book if len(r.book_prices))
    assert f"its last trade was at {low:,.2f}" in story


def test_a_market_without_borrowers_says_so():
    h = LendingCascade(LENDING_PRESETS["eth-pool"].replace(n_accounts=0)).run()
    assert len(h) == 1 and h[0].n_open == 0 and h[0].end_reason == "fixed_point"
    assert narrate_lending(h[0]).endswith("The run stops here: no borrower has any debt left.")
    assert narrate_lending_end(h).endswith("No borrower has any debt left.")
