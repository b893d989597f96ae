"""The explorer without a browser: press its buttons in Python, check marks, narration, status."""

import numpy as np
import pytest

from marginloops import PRESETS, CascadeExplorer, Scenario
from marginloops.tiers import BINANCE_STYLE_TIERS
from marginloops.ui import BookChart, LiquidationMapChart, PriceChart, View
from marginloops.ui.controls import MECHANISMS
from marginloops.ui.mechanisms import OPTION_NEEDS, VALUE_NEEDS

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
    book_taken = ex.book_chart.taken_units
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
    assert ex.map_chart.series[3].sum() == pytest.approx(expected, rel=1e-9)
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
                                     ("map", ex.map_chart, "layers"))}
    click(ex.time.step_button, 3)
    click(ex.time.reset_button)
    assert ex.cascade.history == [] and ex.cascade.round == 0 and not ex.cascade.ended
    assert list(ex.price_chart.line.y) == []
    np.testing.assert_array_equal(ex.book_chart.resting.y, before["book"])
    np.testing.assert_array_equal(ex.map_chart.layers.y, before["map"])
    assert ex.narration == ["Reset: back to round 0, before the shock; the knobs stay as they are."]
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
    # one point a round, and one more at a round's own last fill where arbitrage moved the
    # price on from it (the wick)
    line = ex.price_chart.line
    wicks = sum(1 for r in expected if np.isfinite(r.last_fill_price)
                and (r.last_fill_price < r.price_after if r.direction == "down"
                     else r.last_fill_price > r.price_after))
    assert len(line.y) == len(expected) + wicks
    assert sorted(set(int(x) for x in line.x)) == [r.round for r in expected]


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


@pytest.mark.parametrize("stop", ["reset", "control", "run to end"])
def test_stopping_play_stops_it_and_a_late_tick_plays_nothing(stop):
    """Reset, a control change and Run to end each stop Play; a tick the browser sent before
    it heard of that (one interval late) must not play a round."""
    ex = CascadeExplorer(SMALL)
    play = ex.time.play
    play.playing = True
    play.value += 1
    play.value += 1
    assert len(ex.cascade.history) == 2
    late = play.value + 1
    if stop == "reset":
        click(ex.time.reset_button)
    elif stop == "control":
        ex.controls.knobs["shock"].value = 6.0
    else:
        click(ex.time.run_button)
    assert not play.playing and play.value == 0
    rounds = len(ex.cascade.history)
    lines = ex.narration
    play.value = late  # the late tick
    assert len(ex.cascade.history) == rounds and ex.narration == lines
    if stop != "run to end":
        assert rounds == 0 and not ex.time.step_button.disabled
        play.playing = True  # and Play starts again from the first round
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
    assert ex.book_chart.taken_units.sum() > 0
    click(step)  # new price
    assert len(ex.price_chart.line.y) == 1
    click(step)  # check margins: reached positions are highlighted, nothing traded yet
    reached = ex.map_chart.series[2].sum()
    assert reached > 0 and len(ex.cascade.history) == 1
    assert "Check margins" in ex.stage.value and "stage 1/4" in ex.time.counter.value
    click(step)  # liquidate: bars appear, the map moves them to "liquidated"
    assert len(ex.cascade.history) == 2
    bars = np.asarray(ex.liquidations_chart.bars.y)
    assert bars[0][1] == ex.cascade.history[1].notional_liquidated
    assert ex.map_chart.series[2].sum() == 0
    assert len(ex.price_chart.line.y) == 1  # the price has not moved on screen yet
    click(step)  # walk the book
    assert "Walk the book" in ex.stage.value
    click(step)  # new price
    assert len(ex.price_chart.line.y) == 2 and ex.narration[-1].startswith("Round 1:")
    # leaving phase mode mid-round completes the round on screen
    click(step, 2)
    ex.phase_toggle.value = False
    assert len(ex.price_chart.line.y) == 3 and ex.narration[-1].startswith("Round 2:")


@pytest.mark.parametrize("how", ["run to end", "phase mode off"])
def test_no_stale_stage_line_after_leaving_phase_mode(how):
    ex = CascadeExplorer(SMALL, phase_mode=True)
    click(ex.time.step_button, 2)  # the shock's two stages: the round is complete
    assert "stage 2 of 2" in ex.stage.value
    if how == "run to end":
        click(ex.time.run_button)
        assert ex.cascade.ended and "(end)" in ex.time.counter.value
    else:
        ex.phase_toggle.value = False
        assert ex.time.counter.value == "<b>Round 0</b>"
    assert ex.stage.value == ""


def test_controls_widen_to_show_the_scenario_that_runs():
    """A scenario beyond a knob's usual range widens the knob instead of being clamped, so
    the controls show what runs, and changing another control keeps it."""
    odd = Scenario(n_positions=50_000, depth_1pct=2e8, shock=0.002, mmr=0.049,
                   open_interest=2e9, leverage_mix=((20.0, 1.0),))
    ex = CascadeExplorer(odd)
    c = ex.controls
    k = c.knobs
    assert len(ex.cascade.positions) == 50_000
    assert (k["n_positions"].value, k["depth_1pct"].value, k["shock"].value, k["mmr"].value,
            k["open_interest"].value) == (50_000, 200.0, 0.2, 4.9, 2000.0)
    assert k["n_positions"].range == (0, 50_000) and k["depth_1pct"].range == (0.05, 200.0)
    assert k["shock"].range == (0.2, 90.0) and k["mmr"].range[1] == 4.9
    assert k["depth_1pct"].slider.max == pytest.approx(np.log10(200.0))  # a log slider
    assert c.scenario == odd
    c.seed.value = 1  # only the seed changes
    assert ex.scenario == odd.replace(seed=1)
    assert ex.narration[-1].startswith("Settings changed (seed 0 → 1)")
    # a preset: the usual ranges again
    c.preset.value = "calm-market"
    assert ex.scenario == PRESETS["calm-market"]
    assert k["n_positions"].range == (0, 20_000) and k["depth_1pct"].range == (0.05, 50.0)
    assert k["shock"].range == (0.5, 90.0) and k["mmr"].range == (0.0, 5.0)
    assert k["depth_1pct"].slider.max == pytest.approx(np.log10(50.0))
    # set_scenario widens again, in the other direction too
    ex.set_scenario(odd.replace(n_positions=5, open_interest=1e5))
    assert k["open_interest"].range == (0.1, 500.0) and ex.controls.scenario.open_interest == 1e5


def test_a_scenario_that_is_not_its_preset_shows_as_custom():
    ex = CascadeExplorer(SMALL)  # crowded-longs with fewer positions
    assert ex.controls.preset.value == "custom"
    assert CascadeExplorer(PRESETS["thin-book"]).controls.preset.value == "thin-book"


def _ran_to_the_end(scenario):
    ex = CascadeExplorer(scenario)
    click(ex.time.run_button)
    assert ex.cascade.ended and ex.narration[-1].startswith("The cascade stopped")
    hist = ex.cascade.history
    np.testing.assert_allclose(ex.price_chart.line.y, [r.price_after for r in hist])
    lo, hi = ex.view.price_lo, ex.view.price_hi
    assert all(lo <= y <= hi for y in ex.price_chart.line.y)  # never off the chart
    bars = np.asarray(ex.liquidations_chart.bars.y)
    assert bars.max() <= ex.view.notional_max
    np.testing.assert_allclose(bars.sum(axis=0)[:len(hist)],
                               [r.notional_liquidated for r in hist])
    return ex


def test_no_positions_draw_an_empty_map_and_say_why():
    ex = _ran_to_the_end(Scenario(n_positions=0))
    assert len(ex.cascade.history) == 1  # the shock, then nothing to liquidate
    assert not ex.map_chart.series.any()  # every bar of the map is empty
    assert list(ex.map_chart.reached.x) == []
    assert not np.asarray(ex.liquidations_chart.bars.y).any()
    assert "no leveraged positions" in ex.narration[-1]
    assert "liquidated so far: 0 positions" in ex.status.value


def test_a_shock_bigger_than_the_book_says_the_book_ran_out():
    ex = _ran_to_the_end(Scenario.preset("thin-book").replace(shock=0.9))
    end = ex.narration[-1]
    assert "the order book ran out of bids" in end
    assert "The book ran out" in ex.narration[-2]
    # the price stops at the book's last bid, 50% down, and the book chart is empty below it
    last = ex.cascade.history[-1].price_after
    assert last == pytest.approx(ex.scenario.price * (1 - ex.scenario.book_range), rel=1e-3)
    resting = np.asarray(ex.book_chart.resting.y)
    below = np.asarray(ex.book_chart.resting.x) < last - ex.scenario.tick
    assert below.any() and not resting[below].any()
    assert ex.cascade.bad_debt > 0 and "bad debt" in end


def test_a_huge_crowd_on_a_thin_book_stays_within_the_fixed_axes():
    ex = _ran_to_the_end(Scenario(n_positions=20_000, open_interest=5e8, depth_1pct=5e4))
    assert len(ex.map_chart.layers.x) <= 1000 and len(ex.book_chart.resting.x) <= 1000
    np.testing.assert_allclose(ex.oi_chart.oi.y,
                               [r.open_interest_notional for r in ex.cascade.history])
    assert max(ex.oi_chart.oi.y) <= ex.view.oi_max


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
    assert len(lmap.layers.x) <= 1000


def test_map_series_differ_by_more_than_colour():
    """Open longs solid, open shorts outlined, reached marked with diamonds, liquidated
    hollow; each has its own symbol in the key."""
    ex = CascadeExplorer(SMALL, phase_mode=True)
    lmap = ex.map_chart
    caption = lmap.caption.value
    symbols = [caption.split(words)[0].rsplit(">", 2)[-2].split("<")[0]
               for words in ("open longs", "open shorts", "reached", "already liquidated")]
    assert symbols == ["■", "▣", "◆", "□"]
    keys = ex.liquidations_chart.caption.value
    assert "■</span> longs liquidated" in keys and "▣</span> shorts liquidated" in keys
    # the open shorts' outline: one closed box around each bin holding open shorts, from the
    # open longs' top to the shorts' top, and nothing elsewhere
    series = lmap.series
    shorts = series[1] > 0
    assert shorts.any() and (~shorts).any()
    # (the last box has no NaN after it: bqplot errs on a line ending in NaN)
    x, y = (np.append(np.asarray(m, float), np.nan)
            for m in (lmap.shorts_edge.x, lmap.shorts_edge.y))
    boxes_x, boxes_y = x.reshape(-1, 6), y.reshape(-1, 6)
    assert len(boxes_x) == shorts.sum()
    idx = np.flatnonzero(shorts)
    e = lmap.edges
    np.testing.assert_array_equal(boxes_x[:, :5], np.stack(
        [e[idx], e[idx + 1], e[idx + 1], e[idx], e[idx]], axis=1))
    lo, hi = series[0][idx], series[0][idx] + series[1][idx]
    np.testing.assert_array_equal(boxes_y[:, :5], np.stack([hi, hi, lo, lo, hi], axis=1))
    assert np.isnan(boxes_x[:, 5]).all() and np.isnan(boxes_y[:, 5]).all()  # gaps between
    assert lmap.layers.fill_colors[0] == "white"  # liquidated (the whole stack's top): hollow
    # reached: a diamond above each reached bar, inside the chart
    assert list(lmap.reached.x) == []
    click(ex.time.step_button, 3)  # the shock, its new price, then check margins
    reached = bars_now = lmap.series
    hit = reached[2] > 0
    assert hit.any()
    np.testing.assert_allclose(lmap.reached.x, 0.5 * (lmap.edges[1:] + lmap.edges[:-1])[hit])
    top = bars_now.sum(axis=0)[hit]
    assert (np.asarray(lmap.reached.y) > np.minimum(top, 0.9 * lmap.y.max)).all()
    assert (np.asarray(lmap.reached.y) <= lmap.y.max).all()
    click(ex.time.step_button)  # liquidate: nothing is reached any more
    assert list(lmap.reached.x) == []


def test_squeeze_bars_are_outlined_thickly():
    ex = CascadeExplorer(SMALL)
    assert ex.liquidations_chart.bars.stroke_width == 1.0
    ex.controls.direction.value = "up"
    assert ex.liquidations_chart.bars.stroke_width == 3.0


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
    """Turn on the field a control belongs to if need be (tick its switch, or pick the first
    option that is not off), then set the control's shown value."""
    m = controls._settings[field]
    parent = controls._settings[m.under] if m.under else m
    if parent.field in controls.switches:
        controls.switches[parent.field].value = True
    elif m.under:
        controls.mechanisms[parent.field].value = next(
            parent.shown(o[1]) for o in parent.options if o[1] != parent.off)
    controls.mechanisms[field].value = value


@pytest.mark.parametrize("field,shown,expected,says", [
    ("mmr_tiers", BINANCE_STYLE_TIERS.brackets, BINANCE_STYLE_TIERS.brackets,
     "maintenance margin: one rate (the maintenance margin knob) → tiered brackets (Binance "
     "style)"),
    ("dynamic_margin", 3.0, 3.0, "Rise (× the move) 2 → 3"),
    ("dynamic_window", 4, 4, "Window (rounds) 2 → 4"),
    ("partial", "restore", "restore",
     "partial liquidation: no (close whole positions) → just enough to restore margin"),
    ("partial_fraction", 50.0, 0.5, "Slice (%) 25 → 50"),
    ("insurance_fund", 2.0, 2e6, "Insurance fund (M USD) 0.25 → 2"),
    ("liquidation_fee", 0.5, 0.005, "Fee (% of the close) 1 → 0.5"),
    ("breaker_move", 5.0, 0.05, "Halts after a move of (%) 2 → 5"),
    ("breaker_rounds", 4, 4, "Halt rounds 2 → 4"),
    ("breaker_reference", "start", "start",
     "move measured: within a round → from the last start"),
    ("recovery", 30.0, 0.3, "Recovery in a pause (%) 50 → 30"),
    ("call_auction", True, True, "call auction on"),
    ("adl", True, True, "auto-deleveraging on"),
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
    assert getattr(ex.scenario, field) == (
        pytest.approx(expected) if isinstance(expected, float) else expected)
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
    ("dynamic_margin", 2.0, "dynamic margin on: maintenance rates rise 2× the recent move",
     "dynamic margin off"),
    ("breaker_move", 0.02, "circuit breaker on: halts after a move of 2%",
     "circuit breaker off"),
])
def test_a_switch_turns_its_field_between_off_and_the_knob(field, on, says_on, says_off):
    ex = CascadeExplorer(SMALL)
    c = ex.controls
    m = c._settings[field]
    switch, knob = c.switches[field], c.mechanisms[field]
    rows = c._dependents[field]
    assert getattr(ex.scenario, field) == m.off and rows.layout.display == "none"
    switch.value = True
    assert getattr(ex.scenario, field) == pytest.approx(on) and rows.layout.display is None
    assert ex.narration[-1].startswith(f"Settings changed ({says_on})")
    knob.value = knob.slider.max
    top = m.value(knob.slider.max)
    assert getattr(ex.scenario, field) == pytest.approx(top)
    click(ex.time.step_button)
    switch.value = False
    assert getattr(ex.scenario, field) == m.off and rows.layout.display == "none"
    assert ex.narration[-1].startswith(f"Settings changed ({says_off})")
    assert ex.cascade.history == []
    switch.value = True  # the knob kept its value while hidden
    assert getattr(ex.scenario, field) == pytest.approx(top)


def test_partial_liquidation_shows_its_slice_only_while_on():
    ex = CascadeExplorer(SMALL)
    c = ex.controls
    choice, rows = c.mechanisms["partial"], c._dependents["partial"]
    assert ex.scenario.partial is None and rows.layout.display == "none"
    assert c.mechanisms["partial_fraction"] in rows.children
    choice.value = "fraction"
    assert ex.scenario.partial == "fraction" and rows.layout.display is None
    assert ex.narration[-1].startswith("Settings changed (partial liquidation: no (close "
                                       "whole positions) → a fraction per round)")
    assert "partial liquidation: a fraction per round" in c.mechanisms_panel.titles[0]
    # partly closed positions are counted in the status line
    click(ex.time.run_button)
    # (positions, not slices: issue 9 item 12)
    reduced = ex.cascade.history[-1].n_reduced_open
    closed = sum(r.n_closed for r in ex.cascade.history)
    assert reduced > 0 and (f"{closed:,} positions closed, {reduced:,} more partly closed and "
                            "still open") in ex.status.value
    choice.value = c._settings["partial"].shown(None)
    assert ex.scenario.partial is None and rows.layout.display == "none"
    click(ex.time.run_button)
    assert "partly closed" not in ex.status.value


def test_tiered_margin_replaces_the_flat_knob_and_says_so():
    ex = CascadeExplorer(SMALL)
    c = ex.controls
    mmr = c.knobs["mmr"]
    note = c._notes["mmr_tiers"]
    assert not mmr.slider.disabled and note.value == ""
    c.mechanisms["mmr_tiers"].value = BINANCE_STYLE_TIERS.brackets
    assert ex.scenario.mmr_tiers == BINANCE_STYLE_TIERS.brackets
    assert mmr.slider.disabled and mmr.box.disabled  # the flat rate is not used
    assert "tiered" in mmr.label_widget.value and "Not used" in mmr.label_widget.tooltip
    assert "replace the flat maintenance margin knob: 0.4% below 50K USD" in note.value
    assert "5% from 10M USD" in note.value
    assert "tiered margin" in c.mechanisms_panel.titles[0]
    assert "brackets replace the flat rate" in c.mechanisms["mmr_tiers"].tooltip
    click(ex.time.run_button)
    expected = SMALL.replace(mmr_tiers=BINANCE_STYLE_TIERS.brackets).cascade().run()
    assert [r.price_after for r in ex.cascade.history] == [r.price_after for r in expected]
    c.mechanisms["mmr_tiers"].value = ()
    assert ex.scenario.mmr_tiers == () and not mmr.slider.disabled and note.value == ""
    assert mmr.label_widget.value == "Maintenance margin (%)"


def test_a_flat_rate_again_is_fitted_to_the_leverage():
    """Tiers allow any flat rate with any leverage (they replace it); switched off, the flat
    rate must suit the leverage again, and the narration says it was lowered."""
    odd = SMALL.replace(mmr=0.3, mmr_tiers=BINANCE_STYLE_TIERS.brackets)  # 30% at 100x
    ex = CascadeExplorer(odd)
    c = ex.controls
    assert c.knobs["mmr"].value == 30.0 and ex.controls.scenario == odd.replace(name="custom")
    c.mechanisms["mmr_tiers"].value = ()
    assert ex.scenario.mmr < 0.01 and ex.cascade.history == []
    assert "Maintenance margin (%) 30 → 0.95, the most this leverage allows" in ex.narration[-1]


def test_dynamic_margin_shows_its_surcharge_in_the_status():
    ex = CascadeExplorer(SMALL)
    click(ex.time.step_button, 2)
    assert "(dynamic)" not in ex.status.value
    ex.controls.switches["dynamic_margin"].value = True
    click(ex.time.step_button)  # the shock: no check yet
    assert "(dynamic)" not in ex.status.value
    click(ex.time.step_button)  # round 1: the shock's move raised every rate
    surcharge = ex.cascade.history[-1].mmr_surcharge
    assert surcharge == pytest.approx(2.0 * 0.03, rel=0.02)
    assert f"margin <b>+{surcharge * 100:.1f} pts</b> (dynamic)" in ex.status.value


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
    tiers = ((0.0, 0.01), (1e6, 0.02))
    odd = SMALL.replace(name="all on", insurance_fund=12.5e6, liquidation_fee=0.0075,
                        breaker_move=0.001, breaker_rounds=3, breaker_reference="start",
                        recovery=0.25, call_auction=True, refill_at="levels", withdrawal=1.5,
                        mmr_tiers=tiers, partial="restore", partial_fraction=0.4,
                        dynamic_margin=0.25, dynamic_window=20,
                        liquidation_orders="bankruptcy", fund_unwind=0.35, chasers=0.1,
                        chaser_leverage=30.0, index_venues=((3e6, 1.0),), price_source="mark",
                        arbitrage=0.3, mark_rule="hyperliquid", mark_interval=3,
                        basis_window=7)
    ex = CascadeExplorer(SMALL)
    c = ex.controls
    ex.set_scenario(odd)
    # a market with a name of its own keeps it, in the menu too (issue 9 item 9: one name)
    assert ex.scenario == c.scenario == odd
    assert c.preset.value == "all on"
    assert all(s.value for s in c.switches.values())
    assert all(box.layout.display is None for box in c._dependents.values())
    # values beyond a knob's usual range widen it rather than being clamped
    assert c.mechanisms["insurance_fund"].slider.max == 12.5
    assert c.mechanisms["breaker_move"].slider.min == pytest.approx(0.1)
    assert c.mechanisms["dynamic_margin"].slider.min == 0.25
    assert c.mechanisms["dynamic_window"].slider.max == 20
    # tiers that are not in the menu are shown as the scenario's own
    assert c.mechanisms["mmr_tiers"].label == "from the scenario"
    assert c.mechanisms["partial"].value == "restore"
    assert c.mechanisms["partial_fraction"].value == 40
    assert c.mechanisms["liquidation_orders"].value == "bankruptcy"
    assert c.mechanisms["fund_unwind"].value == 35
    assert c.knobs["mmr"].slider.disabled
    assert "1% below 1M USD, 2% from 1M USD" in c._notes["mmr_tiers"].value
    assert c.mechanisms_panel.titles[0] == (
        "Breaking the loop (on: tiered margin, dynamic margin 0.25×, partial liquidation: "
        "just enough to restore margin, fee 0.75%, liquidation orders: limit at the "
        "bankruptcy price, quote withdrawal 1.5, refill at old levels, circuit breaker 0.1%, "
        "call auction, index: from the scenario, margins checked on the mark price, "
        "arbitrage 30%, Hyperliquid mark rule, mark updated every 3 rounds, basis over 7 "
        "rounds, chasers 10%, at 30x)")
    assert c.mechanisms["index_venues"].label == "from the scenario"
    assert c.mechanisms["price_source"].value == "mark"
    assert c.mechanisms["arbitrage"].value == 30 and c.mechanisms["mark_interval"].value == 3
    assert ex.narration[-1] == ("Settings changed (market set to all on): the run starts "
                                "again from round 0.")
    # a preset: every mechanism off again (but its insurance fund), the usual ranges back
    c.preset.value = "thin-book"
    assert ex.scenario == PRESETS["thin-book"]
    assert not any(s.value for s in c.switches.values())
    assert all(box.layout.display == "none" for box in c._dependents.values())
    assert c.mechanisms["insurance_fund"].slider.max == 10.0
    assert c.mechanisms["insurance_fund"].value == 0.1
    assert c.mechanisms["dynamic_margin"].slider.min == 0.5
    assert c.mechanisms["dynamic_window"].slider.max == 10
    assert [v for _, v in c.mechanisms["mmr_tiers"].options] == [
        (), BINANCE_STYLE_TIERS.brackets]  # the scenario's own tiers are gone from the menu
    assert not c.knobs["mmr"].slider.disabled and c._notes["mmr_tiers"].value == ""
    assert c.mechanisms_panel.titles[0] == "Breaking the loop"
    # and a scenario that comes in with its mechanisms on shows them from the start
    ex2 = CascadeExplorer(odd)
    assert ex2.controls.scenario == odd
    assert {m.field for m in MECHANISMS} <= set(type(odd).__dataclass_fields__)


def test_mechanism_ranges_only_allow_valid_scenarios():
    for m in MECHANISMS:
        assert m.tooltip and m.label
        if m.kind == "knob":
            values = [m.value(m.lo), m.value(m.hi)]
        elif m.kind == "check":
            values = [False, True]
        else:
            values = [o[1] for o in m.options]
            assert [m.value(m.shown(v)) for v in values] == values
        for v in values:
            # an option offered only while another field is on (OPTION_NEEDS), with it on
            needs = OPTION_NEEDS.get((m.field, v))
            if m.field in VALUE_NEEDS and v != m.off:  # a knob's value that needs a field on
                needs = VALUE_NEEDS[m.field]
            base = SMALL if needs is None else SMALL.replace(**{needs: NEEDED_ON[needs]})
            assert getattr(base.replace(**{m.field: v}), m.field) == v
            if needs is not None and m.field != "chasers":  # and alone it is refused: the
                # panel hides it then (chasers alone are allowed, and do nothing: no rebound)
                with pytest.raises(ValueError, match=needs):
                    SMALL.replace(**{m.field: v})


#: A value that switches on each field an option needs (ui.mechanisms.OPTION_NEEDS).
NEEDED_ON = {"mmr_tiers": BINANCE_STYLE_TIERS.brackets, "index_venues": ((2e6, 1.0),)}


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


def test_breaking_the_loop_panel_opens_and_closes_with_its_title_button():
    """A real button (Tab and Enter reach it; an Accordion's title div they never did)."""
    import ipywidgets as widgets

    panel = CascadeExplorer(SMALL).controls.mechanisms_panel
    assert isinstance(panel.header, widgets.Button)
    assert panel.selected_index is None and panel.contents.layout.display == "none"
    assert panel.header.icon == "caret-right" and panel.titles == ("Breaking the loop",)
    panel.header.click()
    assert panel.selected_index == 0 and panel.contents.layout.display is None
    assert panel.header.icon == "caret-down"
    panel.header.click()
    assert panel.selected_index is None and panel.contents.layout.display == "none"
    with pytest.raises(ValueError, match="index must be 0"):
        panel.set_title(1, "more")


def test_narration_log_is_a_focusable_scrolling_region():
    """A log that scrolls must take keyboard focus, or a keyboard cannot scroll it (axe's
    scrollable-region-focusable)."""
    ex = CascadeExplorer(SMALL)
    click(ex.time.step_button, 3)
    log = ex.story.value
    assert log.startswith("<div role='log' aria-live='polite' aria-label='Narration' "
                          "tabindex='0' style='height:300px;overflow-y:auto")
    assert log.count("<li>") == 3 + 1  # three rounds and the opening line
