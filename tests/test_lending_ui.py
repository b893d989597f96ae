"""The lending explorer and compare mode (issue 13, item 3), driven in Python: the charts move
with each round, a control resets the run and says so, invalid combinations cannot be set,
phase mode shows a round stage by stage, compare mode steps both runs, and extreme markets
narrate instead of crashing."""

import math

import bqplot as bq
import numpy as np
import pytest

from marginloops.lending import LENDING_PRESETS, LendingCascade
from marginloops.ui import lending as lending_ui
from marginloops.ui.cascade_charts import BookChart
from marginloops.ui.lending import (
    LENDING_ROUND_STAGES,
    LendingCompare,
    LendingExplorer,
)
from marginloops.ui.lending_charts import finite_points, map_series, sale_fill
from marginloops.ui.lending_controls import max_bonus_pct
from marginloops.ui.pool import ReservesChart

ETH = LENDING_PRESETS["eth-pool"]


def lines_of(explorer):
    """Every Lines mark of the explorer's charts."""
    return [m for chart in explorer._charts() for m in chart.figure.marks
            if isinstance(m, bq.Lines)]


def no_line_ends_on_nan(explorer):
    for mark in lines_of(explorer):
        y = np.asarray(mark.y, float)
        if y.size:
            last = y[..., -1] if y.ndim > 1 else y[-1:]
            assert np.all(np.isfinite(last)), (mark.labels, y)


def data(mark, name="y"):
    return np.asarray(getattr(mark, name), float).copy()


# ------------------------------------------------------------------------ small pieces
def test_finite_points_drop_nan_and_none():
    assert finite_points([0, 1, 2, 3], [1.0, math.nan, None, 4.0]) == ([0.0, 3.0], [1.0, 4.0])


def test_map_series_by_hand():
    """Three accounts, oracle 90, bins [0,50,100,150): (threshold 80, debt 100) open, not
    under 1; (threshold 95, debt 50) under 1 at 90; one that started at threshold 120 with 30
    USD of debt and is now closed (debt 0): 30 USD "gone" in the bin of 120."""
    edges = np.array([0.0, 50.0, 100.0, 150.0])
    start_t, start_d = np.array([80.0, 95.0, 120.0]), np.array([100.0, 50.0, 30.0])
    t, d, c = np.array([80.0, 95.0, 0.0]), np.array([100.0, 50.0, 0.0]), np.ones(3)
    s = map_series(edges, start_t, start_d, t, d, c, 90.0)
    assert s.tolist() == [[0, 100, 0], [0, 50, 0], [0, 0, 30]]
    # no oracle (NaN): nothing is marked as under 1
    assert map_series(edges, start_t, start_d, t, d, c, math.nan)[1].sum() == 0


def test_max_bonus_keeps_threshold_times_bonus_at_most_one():
    for lt in (0.5, 0.8, 0.83, 0.9, 0.95, 0.97):
        top = max_bonus_pct(lt)
        assert lt * (1 + top / 100) <= 1 + 1e-12
        assert top == 25.0 or lt * (1 + (top + 0.25) / 100) > 1  # the largest on the grid
    assert max_bonus_pct(0.97) == 3.0  # 1/0.97 = 1.0309...


def test_sale_fill_is_none_without_a_sale():
    class Rec:
        book_qty = np.zeros(0)
        book_prices = np.zeros(0)
    assert sale_fill(Rec()) is None


# ------------------------------------------------------------------------ the explorer
def test_each_step_moves_every_chart_until_the_run_ends():
    ex = LendingExplorer(ETH)
    assert ex.round is None and ex.price_chart.line.x.size == 0
    assert isinstance(ex.venue_chart, ReservesChart)
    before = {"price": data(ex.price_chart.line), "oracle": data(ex.price_chart.oracle),
              "debt": data(ex.debt_chart.debt, "x"),
              "bars": data(ex.repaid_chart.bars), "map": ex.map_chart.series.copy(),
              "pool": data(ex.venue_chart.point, "x")}
    steps = 0
    while not ex.ended and steps < 6:
        ex.time.step_button.click()
        steps += 1
        rec = ex.cascade.history[-1]
        assert ex.round == rec.round == steps - 1
        assert ex.price_chart.line.x.size == steps  # one venue point a round
        assert data(ex.price_chart.line)[-1] == pytest.approx(rec.price_after)
        assert data(ex.price_chart.oracle)[-1] == pytest.approx(rec.oracle_price)
        assert data(ex.debt_chart.debt)[-1] == pytest.approx(rec.bad_debt)
        assert ex.repaid_chart.values[0, rec.round] == pytest.approx(rec.repaid_usd)
        assert ex.repaid_chart.values[1, rec.round] == pytest.approx(
            rec.seized_qty * rec.oracle_price)
        now = {"price": data(ex.price_chart.line), "oracle": data(ex.price_chart.oracle),
               "debt": data(ex.debt_chart.debt, "x"), "bars": data(ex.repaid_chart.bars),
               "map": ex.map_chart.series.copy(), "pool": data(ex.venue_chart.point, "x")}
        assert not np.array_equal(now["price"], before["price"])
        assert not np.array_equal(now["debt"], before["debt"])
        if rec.n_liquidated:
            assert not np.array_equal(now["bars"], before["bars"])
            assert not np.array_equal(now["map"], before["map"])
        if rec.sold_qty > 0:
            assert not np.array_equal(now["pool"], before["pool"])
            # the pool chart's point is the cascade's pool
            assert ex.venue_chart.point.x[0] == pytest.approx(ex.cascade.venue.base_reserve)
        before = now
        assert f"Round {rec.round}" in ex.status.value
        no_line_ends_on_nan(ex)
    assert steps >= 3, "the default market should cascade over several rounds"
    assert len(ex.narration) == 1 + steps + (1 if ex.ended else 0)


def test_the_map_moves_repaid_debt_to_gone():
    """Round 0 is the shock alone: the map's debt stays open, some of it marked as under 1 at
    the oracle's next price. After round 1 the debt drawn as gone is exactly the debt the round
    repaid or wrote off, and the oracle line stands at the round's oracle price."""
    ex = LendingExplorer(ETH)
    start = ex.map_chart.series.copy()
    assert start[2].sum() == 0
    assert start[1].sum() == 0  # before the shock nobody is under 1
    ex.step()
    shock = ex.cascade.history[-1]
    assert shock.n_liquidated == 0
    assert ex.map_chart.series[2].sum() == 0
    # marked "liquidated next": the accounts under 1 at the oracle's next price, which for an
    # oracle that reads the venue is the venue's price after the shock
    acc = ex.cascade.accounts
    under = acc.threshold_price() > shock.price_after
    assert under.sum() == shock.pending > 0
    assert ex.map_chart.reached_at == shock.price_after
    assert ex.map_chart.series[1].sum() == pytest.approx(acc.debt[under].sum(), rel=1e-9)
    ex.step()
    rec = ex.cascade.history[-1]
    assert rec.n_liquidated > 0
    assert ex.map_chart.series[2].sum() == pytest.approx(rec.repaid_usd + rec.bad_debt_round,
                                                         rel=1e-9)
    assert ex.map_chart.oracle.x[0] == pytest.approx(rec.oracle_price)
    assert ex.map_chart.venue.x[0] == pytest.approx(rec.price_after)


def test_the_map_says_what_debt_it_leaves_off_its_axis():
    """Borrowers spread up to HF 5 reach 1 far below the price: the key says how much debt the
    axis leaves out, counted from the accounts."""
    ex = LendingExplorer(ETH.replace(health_hi=5.0))
    acc = ex.cascade.accounts
    lo = ex.map_chart.edges[0]
    below = acc.threshold_price() < lo
    assert below.sum() > 0
    assert ex.map_chart.off_axis == (pytest.approx(acc.debt[below].sum()), int(below.sum()))
    assert f"on {below.sum():,} accounts whose HF reaches 1 below" in ex.map_chart.caption.value
    # drawn + left out = all the debt
    assert ex.map_chart.series.sum() + ex.map_chart.off_axis[0] == pytest.approx(
        acc.debt.sum(), rel=1e-9)
    ex2 = LendingExplorer(ETH)
    assert ex2.map_chart.off_axis[1] == 0 and "not drawn" not in ex2.map_chart.caption.value


def test_changing_a_control_resets_the_run_and_says_so():
    ex = LendingExplorer(ETH)
    ex.step()
    ex.step()
    assert ex.round == 1
    ex.controls.knobs["shock"].value = 20.0
    assert ex.scenario.shock == pytest.approx(0.20)
    assert ex.round is None and ex.cascade.history == []
    assert ex.price_chart.line.x.size == 0
    assert "Settings changed (Shock (%) 8 → 20): the run starts again from round 0." in \
        ex.narration[-1]
    assert ex.scenario.name == "custom" and ex.controls.preset.value == "custom"
    # and a menu too
    ex.step()
    ex.controls.venue.value = "book"
    assert ex.scenario.venue == "book" and ex.round is None
    assert "Venue pool → book" in ex.narration[-1]
    assert isinstance(ex.venue_chart, BookChart)
    assert ex.venue_box.children == (ex.venue_chart.widget,)


def test_a_preset_from_the_menu_runs_and_is_named():
    ex = LendingExplorer(ETH)
    ex.controls.preset.value = "close-factor-100"
    assert ex.scenario == LENDING_PRESETS["close-factor-100"]
    assert ex.controls.knobs["close_factor"].value == 100.0
    assert "market eth-pool → close-factor-100" in ex.narration[-1]


def test_bonus_is_capped_by_the_threshold_with_a_visible_word():
    ex = LendingExplorer(ETH)  # LT 83%, bonus 5%
    ex.controls.knobs["liquidation_threshold"].value = 97.0
    s = ex.scenario
    assert s.liquidation_threshold == pytest.approx(0.97)
    assert s.bonus == pytest.approx(1.03)  # lowered from 1.05: 0.97 × 1.05 > 1
    assert s.liquidation_threshold * s.bonus <= 1
    assert "Liquidation bonus lowered from 5% to 3%" in ex.controls.limit_note.value
    assert ex.controls.limit_note.layout.display is None
    # the bonus knob cannot go beyond the cap any more: a typed 25 is clamped to 3
    bonus = ex.controls.knobs["bonus"]
    assert bonus.range == (0.25, 3.0)
    bonus.box.value = 25.0
    assert bonus.value == 3.0 and ex.scenario.bonus == pytest.approx(1.03)


def test_lowest_start_hf_never_passes_the_highest():
    ex = LendingExplorer(ETH)  # 1.01 .. 1.6
    ex.controls.knobs["health_lo"].value = 2.5
    assert (ex.scenario.health_lo, ex.scenario.health_hi) == (2.5, 2.5)
    assert "Highest start HF raised to 2.5" in ex.controls.limit_note.value
    ex.controls.knobs["health_hi"].value = 1.2
    assert (ex.scenario.health_lo, ex.scenario.health_hi) == (1.2, 1.2)
    assert "Lowest start HF lowered to 1.2" in ex.controls.limit_note.value


def test_push_rows_show_only_for_a_push_oracle():
    ex = LendingExplorer(ETH)
    rows = [ex.controls.knobs[f] for f in ("deviation", "heartbeat")]
    assert [r.layout.display for r in rows] == ["none", "none"]
    ex.controls.oracle.value = "push"
    assert [r.layout.display for r in rows] == [None, None]
    assert ex.price_chart.oracle.interpolation == "step-after"  # a push oracle holds its price
    ex.controls.oracle.value = "venue"
    assert [r.layout.display for r in rows] == ["none", "none"]
    assert ex.price_chart.oracle.interpolation == "linear"


def test_a_market_the_model_refuses_leaves_the_old_one_and_says_so(monkeypatch):
    ex = LendingExplorer(ETH)
    ex.step()

    def refuse(scenario):
        raise ValueError("depth_1pct too thin for this test")
    monkeypatch.setattr(lending_ui, "LendingCascade", refuse)
    ex.controls.knobs["gas_cost"].value = 100.0
    assert "That could not be done (depth_1pct too thin for this test)" in ex.narration[-1]
    assert ex.scenario == ETH and ex.controls.scenario == ETH
    assert ex.controls.knobs["gas_cost"].value == ETH.gas_cost
    assert ex.round == 0  # the run on screen stays


def test_reset_run_to_end_and_play_do_what_they_say():
    ex = LendingExplorer(ETH)
    ex.time.run_button.click()
    assert ex.ended and ex.time.step_button.disabled and ex.time.play.disabled
    assert ex.narration[-1] and "(end)" in ex.time.counter.value
    n = len(ex.cascade.history)
    assert ex.price_chart.line.x.size == n
    ex.time.reset_button.click()
    assert ex.round is None and not ex.ended and ex.price_chart.line.x.size == 0
    assert ex.narration[-1].startswith("Reset")
    ex.time.play.playing = True
    ex.time.play.value = 1  # a tick of the browser's timer
    assert ex.round == 0
    ex.projector_toggle.value = True
    assert ex.price_chart.projector and ex.venue_chart.projector
    ex.projector_toggle.value = False
    assert not ex.map_chart.projector


def test_phase_mode_shows_a_round_stage_by_stage():
    ex = LendingExplorer(ETH, phase_mode=True)
    # round 0 is the shock alone: the venue moves first, the price chart at "new price"
    pool = data(ex.venue_chart.point, "x")
    ex.step()
    assert "Round 0, stage 1 of 2 (the shock)" in ex.stage.value
    assert "Round 0 · stage 1/2" in ex.time.counter.value
    assert not np.array_equal(data(ex.venue_chart.point, "x"), pool)
    assert ex.price_chart.line.x.size == 0 and ex.round == 0
    ex.step()
    assert "Round 0, stage 2 of 2 (new price)" in ex.stage.value
    assert ex.price_chart.line.x.size == 1
    assert ex.narration[-1] == lending_ui.narrate_lending(ex.cascade.history[-1])
    # round 1: oracle update → check health → liquidate → sell on the venue → new price
    n = len(LENDING_ROUND_STAGES)
    for k, name in enumerate(LENDING_ROUND_STAGES, start=1):
        price_n, oracle_n = ex.price_chart.line.x.size, ex.price_chart.oracle.x.size
        bars, pool = data(ex.repaid_chart.bars), data(ex.venue_chart.point, "x")
        gone = ex.map_chart.series[2].sum()
        ex.step()
        rec = ex.cascade.history[-1]
        assert rec.round == 1
        assert f"Round 1, stage {k} of {n} ({name})" in ex.stage.value
        assert f"Round 1 · stage {k}/{n}" in ex.time.counter.value
        if name == "oracle update":
            assert ex.price_chart.oracle.x.size == oracle_n + 1  # the oracle's point first
            assert ex.price_chart.line.x.size == price_n  # the venue's waits for "new price"
            assert ex.map_chart.oracle.x[0] == pytest.approx(rec.oracle_price)
            assert f"oracle <b>{lending_ui.say.price(rec.oracle_price)}</b>" in ex.status.value
            assert rec.oracle_price != rec.oracle_before  # (so the status line moved)
        if name == "check health":
            assert rec.n_below_one > 0
            assert ex.map_chart.series[1].sum() > 0 and ex.map_chart.reached.x.size > 0
            assert f"{rec.n_below_one:,} accounts have a health factor under 1" in \
                ex.stage.value
        if name == "liquidate":
            assert not np.array_equal(data(ex.repaid_chart.bars), bars)
            assert ex.map_chart.series[2].sum() > gone
        if name == "sell on the venue":
            assert rec.sold_qty > 0
            assert not np.array_equal(data(ex.venue_chart.point, "x"), pool)
        else:
            assert np.array_equal(data(ex.venue_chart.point, "x"), pool)
        if name == "new price":
            assert ex.price_chart.line.x.size == price_n + 1
            assert ex.narration[-1] == lending_ui.narrate_lending(rec)
        else:
            assert ex.price_chart.line.x.size == price_n
        no_line_ends_on_nan(ex)
    # the next click starts round 2 with its oracle update; leaving phase mode completes it
    ex.step()
    assert f"Round 2, stage 1 of {n} (oracle update)" in ex.stage.value
    ex.phase_toggle.value = False
    assert ex.stage.value == "" and ex.price_chart.line.x.size == 3
    assert ex.narration[-1] == lending_ui.narrate_lending(ex.cascade.history[-1])


@pytest.mark.parametrize("changes", [
    dict(shock=0.9, depth_1pct=20_000.0),  # the largest shock on a thin pool
    dict(shock=0.9, venue="book", depth_1pct=20_000.0),  # a book that runs out
    dict(n_accounts=0),  # nobody to liquidate
    dict(n_accounts=50, health_hi=1.05, gas_cost=1e6),  # every liquidation skipped for gas
])
def test_extreme_markets_narrate_and_never_crash(changes):
    ex = LendingExplorer(ETH.replace(**changes), phase_mode=True)
    for _ in range(15):
        ex.step()
    ex.time.run_button.click()
    assert ex.ended
    assert not any(line.startswith("That could not be done") for line in ex.narration)
    assert ex.narration[-1] == lending_ui.narrate_lending_end(ex.cascade.history)
    no_line_ends_on_nan(ex)


def test_an_exhausted_book_says_no_bid_left():
    ex = LendingExplorer(ETH.replace(shock=0.9, venue="book", depth_1pct=20_000.0))
    ex.time.run_button.click()
    last = ex.cascade.history[-1]
    assert last.end_reason == "venue_exhausted" and math.isnan(last.price_after)
    assert "venue price <b>none: no bid left</b>" in ex.status.value
    assert "stopped: the venue has nothing left to buy with" in ex.status.value
    assert not ex.venue_chart.price.visible
    no_line_ends_on_nan(ex)


def test_a_shock_typed_beyond_the_scenario_is_clamped_and_said():
    """The scenario allows a shock up to 90%: 99 typed in the box becomes 90, the row says so,
    and the run restarts with it."""
    ex = LendingExplorer(ETH)
    ex.step()
    knob = ex.controls.knobs["shock"]
    knob.box.set_state({"value": 99.0})  # as the browser sends a typed value
    assert knob.value == 90.0 and knob.note_text == "90 is the most: 99 was set to 90"
    assert ex.scenario.shock == pytest.approx(0.9) and ex.round is None
    assert "Shock (%) 8 → 90" in ex.narration[-1]


def test_explorer_refuses_what_is_not_a_lending_scenario():
    with pytest.raises(ValueError, match="scenario must be a LendingScenario"):
        LendingExplorer("eth-pool")
    with pytest.raises(ValueError, match="phase_mode must be True or False"):
        LendingExplorer(ETH, phase_mode="yes")


# ------------------------------------------------------------------------ compare mode
@pytest.mark.parametrize("a, b, labels", [
    (LENDING_PRESETS["stale-oracle"], LENDING_PRESETS["stale-oracle"].replace(heartbeat=0),
     ("heartbeat 3", "no heartbeat")),
    (ETH, LENDING_PRESETS["close-factor-100"], ("close factor 50%", "close factor 100%")),
])
def test_compare_steps_both_runs_together(a, b, labels):
    cmp = LendingCompare(a, b, labels=labels)
    (field, va, vb), = lending_ui.scenario_differences(a, b)
    assert field in cmp.title.value and field in ("heartbeat", "close_factor")
    twins = [LendingCascade(a), LendingCascade(b)]
    assert cmp.round is None and "Press Step" in cmp.table.value
    for _ in range(3):
        cmp.time.step_button.click()
        for twin in twins:
            twin.step()
        for line, oracle, twin in zip(cmp.price_chart.lines, cmp.price_chart.oracles, twins,
                                      strict=True):
            assert line.x.size == len(twin.history)
            assert data(line)[-1] == pytest.approx(twin.history[-1].price_after)
            assert data(oracle)[-1] == pytest.approx(twin.history[-1].oracle_price)
        for line, twin in zip(cmp.debt_chart.lines, twins, strict=True):
            assert data(line)[-1] == pytest.approx(twin.history[-1].bad_debt)
        assert cmp.round == max(len(t.history) for t in twins) - 1
    rows = cmp.rows()
    assert rows and all(len(r) == 3 for r in rows)
    for label, _, _ in rows:
        assert str(label) in cmp.table.value or label in cmp.table.value
    cmp.time.run_button.click()
    assert cmp.ended and "At the end of both runs" in cmp.table.value
    for log in cmp.narration:
        assert log[-1]  # each run's end is narrated
    cmp.time.reset_button.click()
    assert cmp.round is None and cmp.price_chart.lines[0].x.size == 0


def test_compare_refuses_bad_inputs():
    with pytest.raises(ValueError, match="scenario_b must be a LendingScenario"):
        LendingCompare(ETH, "x")
    with pytest.raises(ValueError, match="labels must be two"):
        LendingCompare(ETH, ETH, labels=("only one",))


def test_exported_from_the_ui_package():
    import marginloops.ui as ui
    assert ui.LendingExplorer is LendingExplorer and ui.LendingCompare is LendingCompare
