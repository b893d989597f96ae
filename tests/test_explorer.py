"""The explorer without a browser: press its buttons in Python, check marks, narration, status."""

import numpy as np
import pytest

from marginloops import PRESETS, CascadeExplorer, Scenario
from marginloops.ui import BookChart, LiquidationMapChart, PriceChart, View

SMALL = Scenario.preset("crowded-longs").replace(n_positions=600)


def click(button, times=1):
    for _ in range(times):
        button.click()


def test_step_moves_every_chart_and_tells_the_story():
    ex = CascadeExplorer(SMALL)
    t = ex.time
    assert list(ex.price_chart.line.y) == [] and "Before the shock" in ex.status.value
    click(t.step_button)
    rec0 = ex.cascade.history[0]
    assert list(ex.price_chart.line.y) == [rec0.price_after]
    assert list(ex.price_chart.shock.y) == [rec0.price_after]
    assert ex.narration[-1].startswith("Round 0 (the shock)")
    book_taken = np.asarray(ex.book_chart.taken.y)
    assert book_taken.sum() == pytest.approx(rec0.shock_qty, rel=1e-9)
    click(t.step_button, 2)
    hist = ex.cascade.history
    assert [r.round for r in hist] == [0, 1, 2]
    np.testing.assert_allclose(ex.price_chart.line.y, [r.price_after for r in hist])
    bars = np.asarray(ex.liquidations_chart.bars.y)
    # one slot per round of the fixed axis, zero for rounds not played yet
    assert len(ex.liquidations_chart.bars.x) == ex.view.rounds + 1
    np.testing.assert_allclose(bars[0][:3], [r.notional_liquidated for r in hist])
    np.testing.assert_allclose(bars[0][3:], 0.0)
    np.testing.assert_allclose(bars[1], 0.0)  # a crash liquidates no shorts
    np.testing.assert_allclose(ex.oi_chart.oi.y, [r.open_interest_notional for r in hist])
    np.testing.assert_allclose(ex.oi_chart.debt.y, [r.bad_debt for r in hist])
    assert ex.map_chart.price.x[0] == hist[-1].price_after
    # the liquidation map's "liquidated" series holds exactly the closed positions' notional
    closed = ~ex.cascade.open_mask
    pos = ex.cascade.positions
    in_range = (pos.liquidation_price >= ex.view.price_lo) & (
        pos.liquidation_price <= ex.view.price_hi)
    expected = (pos.size * pos.liquidation_price)[closed & in_range].sum()
    assert np.asarray(ex.map_chart.bars.y)[3].sum() == pytest.approx(expected, rel=1e-9)
    assert ex.narration[-1].startswith("Round 2:")
    assert "Round 2" in ex.status.value and "Round 2" in t.counter.value
    story = ex.story.value
    assert story.index("Round 2:") < story.index("Round 1:") < story.index("Round 0")


def test_run_to_end_then_step_is_disabled():
    ex = CascadeExplorer(SMALL)
    click(ex.time.run_button)
    assert ex.cascade.ended
    assert ex.narration[-1].startswith("The cascade stopped")
    assert ex.time.step_button.disabled and ex.time.run_button.disabled and ex.time.play.disabled
    n = len(ex.cascade.history)
    click(ex.time.step_button)
    assert len(ex.cascade.history) == n


def test_reset_restores_the_initial_state_exactly():
    ex = CascadeExplorer(SMALL)
    before = {name: np.asarray(getattr(ch, attr).y, dtype=float).copy()
              for name, ch, attr in (("book", ex.book_chart, "resting"),
                                     ("map", ex.map_chart, "bars"))}
    click(ex.time.step_button, 3)
    click(ex.time.reset_button)
    assert ex.cascade.history == [] and ex.cascade.round == 0 and not ex.cascade.ended
    assert list(ex.price_chart.line.y) == []
    np.testing.assert_array_equal(ex.book_chart.resting.y, before["book"])
    np.testing.assert_array_equal(ex.map_chart.bars.y, before["map"])
    assert ex.narration == ["Reset: back to the market before the shock."]
    assert not ex.time.step_button.disabled
    click(ex.time.run_button)
    fresh = SMALL.cascade().run()
    assert [r.price_after for r in ex.cascade.history] == [r.price_after for r in fresh]


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_every_preset_runs_to_the_end_through_the_buttons(name):
    ex = CascadeExplorer()
    ex.controls.preset.value = name
    assert ex.scenario.name == name and ex.scenario == PRESETS[name]
    for _ in range(200):
        if ex.time.step_button.disabled:
            break
        click(ex.time.step_button)
    assert ex.cascade.ended
    expected = PRESETS[name].cascade().run()
    assert [r.price_after for r in ex.cascade.history] == [r.price_after for r in expected]
    assert len(ex.price_chart.line.y) == len(expected)


@pytest.mark.parametrize("knob,value,field,expected", [
    ("shock", 8.0, "shock", 0.08),
    ("long_share", 40.0, "long_share", 0.4),
    ("mmr", 0.75, "mmr", 0.0075),
    ("depth_1pct", 3.0, "depth_1pct", 3e6),
    ("resilience", 50.0, "resilience", 0.5),
    ("open_interest", 10.0, "open_interest", 1e7),
    ("n_positions", 300, "n_positions", 300),
])
def test_each_knob_resets_the_run_and_says_so(knob, value, field, expected):
    ex = CascadeExplorer(SMALL)
    click(ex.time.step_button, 2)
    old = ex.cascade
    ex.controls.knobs[knob].value = value
    assert getattr(ex.scenario, field) == pytest.approx(expected)
    assert ex.cascade is not old and ex.cascade.history == []
    assert list(ex.price_chart.line.y) == []
    assert ex.narration[-1].startswith("Settings changed (")
    assert "the run starts again from round 0" in ex.narration[-1]
    assert ex.controls.preset.value == "custom"
    click(ex.time.run_button)
    fresh = ex.scenario.cascade().run()
    assert [r.price_after for r in ex.cascade.history] == [r.price_after for r in fresh]


def test_number_box_and_slider_stay_equal():
    ex = CascadeExplorer(SMALL)
    knob = ex.controls.knobs["shock"]
    knob.box.value = 12.5
    assert knob.slider.value == 12.5 and ex.scenario.shock == 0.125
    knob.box.value = 500  # a bounded box clamps what a student types
    assert knob.slider.value == 90.0


def test_other_controls_reset_too():
    ex = CascadeExplorer(SMALL)
    c = ex.controls
    for widget, value, check in [
            (c.direction, "up", lambda s: s.direction == "up"),
            (c.book_shape, "growing", lambda s: s.book_shape == "growing"),
            (c.seed, 7, lambda s: s.seed == 7),
            (c.leverage_mix, dict((k, v) for k, v in c.leverage_mix.options)["cautious: 2x-10x"],
             lambda s: max(lev for lev, _ in s.leverage_mix) == 10.0)]:
        click(ex.time.step_button)
        widget.value = value
        assert check(ex.scenario) and ex.cascade.history == []
        assert ex.narration[-1].startswith("Settings changed")


def test_leverage_mix_limits_the_maintenance_margin_slider():
    ex = CascadeExplorer(SMALL)
    c = ex.controls
    options = dict(c.leverage_mix.options)
    c.leverage_mix.value = options["cautious: 2x-10x"]
    c.knobs["mmr"].value = 4.0
    assert ex.scenario.mmr == 0.04
    c.leverage_mix.value = options["extreme: 50x-100x"]  # 4% is impossible at 100x
    assert c.knobs["mmr"].slider.max < 1.0 and ex.scenario.mmr * 100 < 1.0
    ex.controls.knobs["mmr"].box.value = 3.0  # typed: clamped, still valid
    assert ex.scenario.mmr < 0.01


def test_play_steps_and_stops_at_the_end():
    ex = CascadeExplorer(SMALL)
    play = ex.time.play
    play.playing = True
    assert ex.time.step_button.disabled  # no Step while playing
    for _ in range(100):
        if not play.playing:
            break
        play.value += 1  # what the browser's Play does every interval
    assert ex.cascade.ended and not play.playing and play.value == 0
    assert ex.time.play.disabled
    # after a parameter change Play works at once
    ex.controls.knobs["shock"].value = 5.0
    assert not play.disabled
    play.playing = True
    play.value += 1
    assert len(ex.cascade.history) == 1


def test_speed_sets_the_play_interval():
    ex = CascadeExplorer(SMALL)
    ex.time.speed.value = 4.0
    assert ex.time.play.interval == 250


def test_phase_mode_shows_each_stage():
    ex = CascadeExplorer(SMALL, phase_mode=True)
    step = ex.time.step_button
    click(step)  # shock: the outside order walks the book, the price line waits
    assert "stage 1 of 2" in ex.stage.value and list(ex.price_chart.line.y) == []
    assert np.asarray(ex.book_chart.taken.y).sum() > 0
    click(step)  # new price
    assert len(ex.price_chart.line.y) == 1
    click(step)  # check margins: reached positions are highlighted, nothing traded yet
    reached = np.asarray(ex.map_chart.bars.y)[2].sum()
    assert reached > 0 and len(ex.cascade.history) == 1
    assert "Check margins" in ex.stage.value and "stage 1/4" in ex.time.counter.value
    click(step)  # liquidate: bars appear, the map moves them to "liquidated"
    assert len(ex.cascade.history) == 2
    bars = np.asarray(ex.liquidations_chart.bars.y)
    assert bars[0][1] == ex.cascade.history[1].notional_liquidated
    assert np.asarray(ex.map_chart.bars.y)[2].sum() == 0
    assert len(ex.price_chart.line.y) == 1  # the price has not moved on screen yet
    click(step)  # walk the book
    assert "Walk the book" in ex.stage.value
    click(step)  # new price
    assert len(ex.price_chart.line.y) == 2 and ex.narration[-1].startswith("Round 1:")
    # leaving phase mode mid-round completes the round on screen
    click(step, 2)
    ex.phase_toggle.value = False
    assert len(ex.price_chart.line.y) == 3 and ex.narration[-1].startswith("Round 2:")


def test_extreme_inputs_never_crash():
    for scenario in (Scenario(n_positions=0), Scenario.preset("thin-book").replace(shock=0.9),
                     Scenario(n_positions=20_000, open_interest=5e8, depth_1pct=5e4)):
        ex = CascadeExplorer(scenario)
        click(ex.time.run_button)
        assert ex.cascade.ended and ex.narration[-1].startswith(("The cascade stopped",
                                                                 "The run stopped"))


def test_view_fixes_axes_for_the_whole_run():
    cas = SMALL.cascade()
    view = View.of(cas)
    assert cas.history == [] and cas.round == 0  # View leaves the run at its start
    hist = SMALL.cascade().run()
    assert view.price_lo <= min(r.price_after for r in hist)
    assert view.price_hi >= hist[0].price_before
    assert view.notional_max >= max(r.notional_liquidated for r in hist)
    assert view.rounds >= len(hist) - 1


def test_building_blocks_work_alone():
    cas = SMALL.cascade()
    view = View.of(cas)
    chart = PriceChart()
    chart.reset(cas, view)
    cas.run()
    chart.update(cas.history)
    assert len(chart.line.x) == len(cas.history)
    book = BookChart()
    book.reset(cas, view)
    assert len(book.resting.x) <= 1000
    lmap = LiquidationMapChart()
    lmap.reset(cas, view)
    assert len(lmap.bars.x) <= 1000


def test_rejects_a_non_scenario():
    with pytest.raises(ValueError, match="scenario must be a Scenario"):
        CascadeExplorer("crowded-longs")


def test_nice_ticks_are_round_and_inside_the_range():
    from marginloops.ui.charts import nice_ticks
    np.testing.assert_allclose(nice_ticks(73.03, 106.68), [75, 80, 85, 90, 95, 100, 105])
    np.testing.assert_allclose(nice_ticks(0, 4.94e6), [0, 1e6, 2e6, 3e6, 4e6])
    np.testing.assert_allclose(nice_ticks(0.0, 1.0), np.arange(0, 1.01, 0.2), atol=1e-12)
    assert list(nice_ticks(5.0, 5.0)) == [5.0]


def test_axes_are_fixed_to_the_view():
    ex = CascadeExplorer(SMALL)
    x_axis, y_axis = ex.price_chart.figure.axes
    assert (y_axis.scale.min, y_axis.scale.max) == (ex.view.price_lo, ex.view.price_hi)
    ticks = np.asarray(y_axis.tick_values)
    assert ticks.min() >= ex.view.price_lo - 1e-9 and ticks.max() <= ex.view.price_hi + 1e-9
    click(ex.time.run_button)
    assert (y_axis.scale.min, y_axis.scale.max) == (ex.view.price_lo, ex.view.price_hi)


# ------------------------------------------------------------ the "Breaking the loop" panel
BREAKER = SMALL.replace(breaker_move=0.02)  # the 3% shock trips it at once


def _set_mechanism(controls, field, value):
    """Tick a switched field's checkbox if need be, then set its control's shown value."""
    if field in controls.switches:
        controls.switches[field].value = True
    controls.mechanisms[field].value = value


@pytest.mark.parametrize("field,shown,expected,says", [
    ("insurance_fund", 2.0, 2e6, "Insurance fund (M USD) 0.25 → 2"),
    ("liquidation_fee", 0.5, 0.005, "Fee (% of the close) 1 → 0.5"),
    ("breaker_move", 5.0, 0.05, "Halts after a move of (%) 2 → 5"),
    ("breaker_rounds", 4, 4, "Halt rounds 2 → 4"),
    ("breaker_reference", "start", "start",
     "move measured: within a round → from the last start"),
    ("recovery", 30.0, 0.3, "Recovery in a pause (%) 50 → 30"),
    ("call_auction", True, True, "call auction on"),
    ("refill_at", "levels", "levels", "refill at: touch → old levels"),
    ("withdrawal", 0.5, 0.5, "Quote withdrawal 0 → 0.5"),
])
def test_each_mechanism_control_sets_its_field_and_resets_the_run(field, shown, expected, says):
    ex = CascadeExplorer(SMALL)
    c = ex.controls
    assert c.mechanisms_panel.selected_index is None  # the panel starts closed
    click(ex.time.step_button, 2)
    old = ex.cascade
    _set_mechanism(c, field, shown)
    assert getattr(ex.scenario, field) == pytest.approx(expected)
    assert ex.cascade is not old and ex.cascade.history == []
    assert list(ex.price_chart.line.y) == []
    assert ex.narration[-1] == f"Settings changed ({says}): the run starts again from round 0."
    assert c.preset.value == "custom"
    click(ex.time.run_button)
    fresh = ex.scenario.cascade().run()
    assert [r.price_after for r in ex.cascade.history] == [r.price_after for r in fresh]


@pytest.mark.parametrize("field,on,says_on,says_off", [
    ("liquidation_fee", 0.01, "liquidation fee 1% of the close",
     "no liquidation fee: all remaining margin goes to the fund"),
    ("breaker_move", 0.02, "circuit breaker on: halts after a move of 2%",
     "circuit breaker off"),
])
def test_a_switch_turns_its_field_between_none_and_the_knob(field, on, says_on, says_off):
    ex = CascadeExplorer(SMALL)
    c = ex.controls
    switch, knob = c.switches[field], c.mechanisms[field]
    rows = c._dependents[field]
    assert getattr(ex.scenario, field) is None and rows.layout.display == "none"
    switch.value = True
    assert getattr(ex.scenario, field) == pytest.approx(on) and rows.layout.display is None
    assert ex.narration[-1].startswith(f"Settings changed ({says_on})")
    knob.value = knob.slider.max
    assert getattr(ex.scenario, field) == pytest.approx(knob.slider.max / 100)
    click(ex.time.step_button)
    switch.value = False
    assert getattr(ex.scenario, field) is None and rows.layout.display == "none"
    assert ex.narration[-1].startswith(f"Settings changed ({says_off})")
    assert ex.cascade.history == []
    switch.value = True  # the knob kept its value while hidden
    assert getattr(ex.scenario, field) == pytest.approx(knob.slider.max / 100)


def test_the_fee_checkbox_decides_who_gets_the_margin():
    ex = CascadeExplorer(SMALL)
    c = ex.controls

    def totals():
        click(ex.time.run_button)
        hist = ex.cascade.history
        return (sum(r.fees for r in hist), sum(r.returned_to_traders for r in hist),
                hist[-1].insurance_fund - hist[-1].bad_debt)

    fees, returned, net_all = totals()  # unticked: all remaining margin goes to the fund
    assert ex.scenario.liquidation_fee is None and fees == returned == 0
    c.switches["liquidation_fee"].value = True
    assert ex.scenario.liquidation_fee == 0.01
    fees, _, _ = totals()
    assert fees > 0
    c.mechanisms["liquidation_fee"].value = 0.0  # a zero fee: the margin goes back to traders
    assert ex.scenario.liquidation_fee == 0.0
    fees, returned, net = totals()
    assert fees == 0 and returned > 0 and net == pytest.approx(net_all - returned)


def test_set_scenario_shows_every_mechanism_and_back():
    from marginloops.ui.controls import MECHANISMS
    odd = SMALL.replace(name="all on", insurance_fund=12.5e6, liquidation_fee=0.0075,
                        breaker_move=0.001, breaker_rounds=3, breaker_reference="start",
                        recovery=0.25, call_auction=True, refill_at="levels", withdrawal=1.5)
    ex = CascadeExplorer(SMALL)
    c = ex.controls
    ex.set_scenario(odd)
    # the controls show what is not a preset as "custom"
    assert ex.scenario == c.scenario == odd.replace(name="custom")
    assert c.preset.value == "custom"
    assert all(s.value for s in c.switches.values())
    assert all(box.layout.display is None for box in c._dependents.values())
    # values beyond a knob's usual range widen it rather than being clamped
    assert c.mechanisms["insurance_fund"].slider.max == 12.5
    assert c.mechanisms["breaker_move"].slider.min == pytest.approx(0.1)
    assert c.mechanisms_panel.titles[0] == (
        "Breaking the loop (on: fee 0.75%, quote withdrawal 1.5, refill at old levels, "
        "circuit breaker 0.1%, call auction)")
    assert ex.narration[-1] == ("Settings changed (market set to all on): the run starts "
                                "again from round 0.")
    # a preset: every mechanism off again (but its insurance fund), the usual ranges back
    c.preset.value = "thin-book"
    assert ex.scenario == PRESETS["thin-book"]
    assert not any(s.value for s in c.switches.values())
    assert all(box.layout.display == "none" for box in c._dependents.values())
    assert c.mechanisms["insurance_fund"].slider.max == 10.0
    assert c.mechanisms["insurance_fund"].value == 0.1
    assert c.mechanisms_panel.titles[0] == "Breaking the loop"
    # and a scenario that comes in with its mechanisms on shows them from the start
    ex2 = CascadeExplorer(odd)
    assert ex2.controls.scenario == odd.replace(name="custom")
    assert {m.field for m in MECHANISMS} <= set(type(odd).__dataclass_fields__)


def test_mechanism_ranges_only_allow_valid_scenarios():
    from marginloops.ui.controls import MECHANISMS
    for m in MECHANISMS:
        if m.kind == "knob":
            values = [m.value(m.lo), m.value(m.hi)]
        elif m.kind == "check":
            values = [False, True]
        else:
            values = [o[1] for o in m.options]
        for v in values:
            assert getattr(SMALL.replace(**{m.field: v}), m.field) == v


def test_a_run_with_the_breaker_shows_the_halted_rounds():
    ex = CascadeExplorer(BREAKER)
    assert "trading halted by the circuit breaker" in ex.price_chart.caption.value
    click(ex.time.step_button)  # the shock: a 3% move trips the 2% breaker
    assert "circuit breaker tripped</b>: trading halts for 2 rounds" in ex.status.value
    assert list(ex.price_chart.halted.x) == []
    click(ex.time.step_button)
    rec = ex.cascade.history[-1]
    assert rec.halted and rec.n_liquidated == 0
    assert list(ex.price_chart.halted.x) == [1]
    assert list(ex.price_chart.halted.y) == [rec.price_after]
    assert "trading halted</b> (1 more round)" in ex.status.value
    assert ex.narration[-1].startswith("Round 1: trading is halted by the circuit breaker")
    click(ex.time.step_button)
    assert "trading halted</b> (resumes next round)" in ex.status.value
    click(ex.time.run_button)
    hist = ex.cascade.history
    halted = [r for r in hist if r.halted]
    assert list(ex.price_chart.halted.x) == [r.round for r in halted]
    np.testing.assert_allclose(ex.price_chart.halted.y, [r.price_after for r in halted])
    assert "halted" not in ex.status.value  # the run is over
    # without the breaker there is neither a mark nor a key
    ex.controls.switches["breaker_move"].value = False
    assert "halted" not in ex.price_chart.caption.value
    click(ex.time.run_button)
    assert list(ex.price_chart.halted.x) == []


def test_call_auction_rounds_are_marked_in_the_liquidations_chart():
    ex = CascadeExplorer(SMALL)
    assert "call auction" not in ex.liquidations_chart.caption.value
    ex.controls.mechanisms["call_auction"].value = True
    assert "cleared by a call auction" in ex.liquidations_chart.caption.value
    click(ex.time.run_button)
    hist = ex.cascade.history
    auctions = [r.round for r in hist if r.uniform_price]
    assert auctions and list(ex.liquidations_chart.auction.x) == auctions
    top = ex.liquidations_chart.y.max
    notional = {r.round: r.notional_liquidated for r in hist}
    for x, y in zip(ex.liquidations_chart.auction.x, ex.liquidations_chart.auction.y,
                    strict=True):
        assert min(notional[x], 0.9 * top) < y <= top  # just above its bar, on the chart


def test_phase_mode_shows_a_halted_round_as_one_stage():
    ex = CascadeExplorer(BREAKER, phase_mode=True)
    click(ex.time.step_button, 2)  # the shock's two stages: it trips the breaker
    click(ex.time.step_button)  # round 1 is halted: one click, one stage
    assert ex.cascade.history[-1].halted and len(ex.cascade.history) == 2
    assert "Round 1, stage 1 of 1 (trading halted)" in ex.stage.value
    assert list(ex.price_chart.halted.x) == [1]
    assert ex.narration[-1].startswith("Round 1: trading is halted")
