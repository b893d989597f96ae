"""Issue 10, items 4 and 8 (the widgets' side): knob values rounded to their step and shown
without binary noise, a typed value outside the range clamped *and said*, Play as a labelled
button, the case study's name in the market menu, and the small drawing fixes.

A value "from the browser" is sent with ``set_state``, as the widget's comm does.
"""

import ipywidgets as widgets
import pytest

from marginloops.cases import CASES
from marginloops.scenarios import PRESETS
from marginloops.ui.bookwalk import TAKEN_LABEL_GAP, BookWalkView
from marginloops.ui.compare import CompareExplorer, ComparePriceChart
from marginloops.ui.controls import (
    Knob,
    ScenarioControls,
    TimeControls,
    clamp_sentence,
    max_mmr_pct,
    on_step,
)
from marginloops.ui.critical import CriticalRatioView
from marginloops.ui.explorer import CascadeExplorer
from marginloops.ui.knobs import RealFloatSlider, RealFloatText, RealIntText
from marginloops.ui.margin import MarginView, mark_knob_range

SCENARIOS = {**PRESETS, **{key: case.scenario for key, case in CASES.items()}}


def noise_free(x) -> bool:
    """``x`` prints as a person would write it: no 0.9500000000000001, no 114.99999999999999."""
    return isinstance(x, int) or repr(x) == repr(float(f"{x:.10g}"))


def knobs_of(view) -> dict:
    """Every Knob of a widget (ScenarioControls, an explorer or a view), by a readable name."""
    if isinstance(view, CascadeExplorer):
        view = view.controls
    if isinstance(view, ScenarioControls):
        found = dict(view.knobs)
        found.update({f: m for f, m in view.mechanisms.items() if isinstance(m, Knob)})
        return found
    return {name: w for name, w in vars(view).items() if isinstance(w, Knob)}


def assert_on_step(knob, name):
    """The knob's box shows round(value / step) * step, without noise, and equals its slider."""
    value = knob.box.value
    assert value == knob.slider.value, name
    assert value == on_step(value, knob.step), (name, value, knob.step)
    assert noise_free(value), (name, value)
    for bound in knob.range:
        assert noise_free(bound), (name, knob.range)


def typed(widget, value):
    """What the browser sends when a student types ``value`` and presses Enter."""
    widget.set_state({"value": value})


# ------------------------------------------------------------------ rounded to the step
def test_on_step_drops_the_noise_of_a_multiplication():
    assert 19 * 0.05 == 0.9500000000000001  # the noise the issue saw in a box
    assert on_step(0.96, 0.05) == 0.95 and repr(on_step(0.96, 0.05)) == "0.95"
    assert repr(on_step(1.9000000000000001, 0.05)) == "1.9"
    assert repr(on_step(114.99999999999999, 0.1)) == "115.0"
    assert on_step(1234, 100) == 1200 and isinstance(on_step(1234, 100), int)
    assert repr(on_step(2.2387211385683394, 0.01)) == "2.24"


@pytest.mark.parametrize("top", range(1, 101))
def test_max_mmr_pct_is_a_clean_multiple_of_the_step(top):
    hi = max_mmr_pct(((top, 1.0),))
    assert noise_free(hi) and hi == on_step(hi, 0.05) and hi / 100 * top < 1


@pytest.mark.parametrize("name", SCENARIOS)
def test_every_scenario_knob_shows_its_value_on_the_step(name):
    scenario = SCENARIOS[name]
    for controls in (ScenarioControls(scenario), _shown_after_switch(scenario)):
        for knob_name, knob in knobs_of(controls).items():
            assert_on_step(knob, f"{name}: {knob_name}")
        assert controls.scenario == scenario.replace(name=controls.scenario.name)


def _shown_after_switch(scenario):
    """Controls that showed another market first, then ``scenario`` (set_scenario's path)."""
    controls = ScenarioControls(PRESETS["short-squeeze"])
    controls.set_scenario(scenario)
    return controls


@pytest.mark.parametrize("view", [MarginView, BookWalkView, CriticalRatioView],
                         ids=lambda cls: cls.__name__)
def test_every_view_knob_shows_its_value_on_the_step(view):
    for knob_name, knob in knobs_of(view()).items():
        assert_on_step(knob, knob_name)


@pytest.mark.parametrize("leverage", [1, 2, 3, 7, 10, 13, 20, 33, 50, 77, 100])
def test_margin_view_mark_knob_stays_clean_at_every_leverage(leverage):
    view = MarginView(entry=123)
    view.leverage.value = leverage
    for name, knob in knobs_of(view).items():
        assert_on_step(knob, f"leverage {leverage}: {name}")
    lo, hi, step = mark_knob_range(123, leverage)
    assert (lo, hi) == view.mark.range and view.mark.box.step == step
    # every liquidation and bankruptcy price of the position is still on the knob (at 1x
    # both are 0: nothing is borrowed)
    if leverage > 1:
        assert lo <= view.state.bankruptcy <= hi and lo <= view.state.liquidation <= hi


def test_the_issue_s_noisy_numbers_are_gone():
    """0.9500000000000001 (the maintenance margin's top at 100x) and 114.99999999999999 (the
    mark price's top at 10x) were in the boxes; pushed to their tops they now read clean."""
    controls = ScenarioControls(PRESETS["crowded-longs"])
    typed(controls.knobs["mmr"].box, 5.0)
    assert repr(controls.knobs["mmr"].box.value) == "0.95"
    squeeze = ScenarioControls(PRESETS["short-squeeze"])
    typed(squeeze.knobs["mmr"].box, 5.0)
    assert repr(squeeze.knobs["mmr"].box.value) == "1.9"
    margin = MarginView()
    typed(margin.mark.box, 500.0)
    assert repr(margin.mark.box.value) == "115.0"


def test_typed_and_dragged_values_are_rounded_to_the_step():
    controls = ScenarioControls(PRESETS["crowded-longs"])
    shock, depth, count = (controls.knobs[k] for k in ("shock", "depth_1pct", "n_positions"))
    typed(shock.box, 3.33)
    assert shock.value == 3.5 and controls.scenario.shock == 0.035
    typed(depth.slider, 2.2387211385683394)  # a log slider's 10 ** 0.35
    assert repr(depth.box.value) == "2.24" and controls.scenario.depth_1pct == 2_240_000
    typed(count.box, 1234)
    assert count.value == 1200 and controls.scenario.n_positions == 1200
    assert shock.note_text == depth.note_text == count.note_text == ""  # in range: nothing said


def test_a_scenario_value_between_steps_is_kept_not_rounded():
    """The controls show the scenario that runs: a 3.33% shock stays 3.33 (noise-free)."""
    scenario = PRESETS["crowded-longs"].replace(name="mine", shock=0.0333, depth_1pct=1_276_000)
    controls = ScenarioControls(scenario)
    assert controls.knobs["shock"].box.value == 3.33
    assert controls.knobs["depth_1pct"].box.value == 1.276
    assert controls.scenario == scenario


# ------------------------------------------------------------------ clamped, and said
def test_a_typed_value_above_the_range_is_clamped_and_the_row_says_so():
    controls = ScenarioControls(PRESETS["crowded-longs"])
    shock = controls.knobs["shock"]
    told = []
    controls.on_change(lambda scenario, what: told.append(what))
    typed(shock.box, 99)
    assert shock.value == 90 and shock.box.value == 90
    assert shock.note_text == "90 is the most: 99 was set to 90"
    assert shock.note.layout.display is None  # shown, in the knob's own row
    assert shock.note in shock.children
    assert told == ["Shock size (%) 3 → 90"]
    assert controls.scenario.shock == 0.9
    # the next valid change clears it
    shock.slider.value = 50
    assert shock.note_text == "" and shock.note.layout.display == "none"


def test_a_typed_value_below_the_range_is_clamped_and_said():
    knob = ScenarioControls(PRESETS["crowded-longs"]).knobs["shock"]
    typed(knob.box, 0.1)
    assert knob.value == 0.5 and knob.note_text == "0.5 is the least: 0.1 was set to 0.5"
    typed(knob.box, 4)  # a good value typed: the message goes
    assert knob.value == 4 and knob.note_text == ""


def test_a_clamp_to_the_value_already_there_is_said_and_sent_back(monkeypatch):
    """At 90 already, 99 typed changes no trait: the box must still get 90 back, or it would
    keep showing 99 (ipywidgets sends a trait only when it changes)."""
    knob = ScenarioControls(PRESETS["crowded-longs"]).knobs["shock"]
    knob.value = 90
    sent = []
    monkeypatch.setattr(knob.box, "send_state", lambda key=None: sent.append(key))
    typed(knob.box, 99)
    assert knob.value == 90 and sent == ["value"]
    assert knob.note_text == "90 is the most: 99 was set to 90"
    knob.value = 60  # the next change clears it
    assert knob.note_text == ""


@pytest.mark.parametrize("make, start, back, moved", [
    (lambda: RealFloatText(value=0.0, min=0.0, max=10.0), 0.0, -5.0, (12.0, 10.0)),
    (lambda: RealFloatText(value=10.0, min=0.0, max=10.0), 10.0, 12.5, (-3.0, 0.0)),
    (lambda: RealIntText(value=0, min=0, max=2**32 - 1), 0, -5, (7, 7)),
    # a slider: a drag the step rounds back to where it was (3.1 on a 0.5 grid is 3.0)
    (lambda: RealFloatSlider(value=3.0, min=0.0, max=10.0, step=0.5), 3.0, 3.1, (4.9, 5.0)),
])
def test_a_value_settled_back_to_the_old_one_is_no_change(monkeypatch, make, start, back, moved):
    """traitlets reports a value set_state validated back to the old one as a change from the
    old value to itself; the boxes and sliders do not: no observer is told, but the settled
    value still goes back to the browser. A value settled to another one is one change."""
    widget = make()
    widget.grid = 0.5 if isinstance(widget, RealFloatSlider) else None
    told, sent = [], []
    widget.observe(lambda change: told.append((change.old, change.new)), names="value")
    monkeypatch.setattr(widget, "send_state", lambda key=None: sent.append(key))
    typed(widget, back)
    assert widget.value == start and told == [] and sent == ["value"]
    typed(widget, moved[0])
    assert told == [(start, moved[1])] and widget.value == moved[1]


def test_the_box_clamps_in_the_kernel_not_in_the_browser():
    """A BoundedFloatText's browser view clamps before sending (the kernel would never see
    99): the box is drawn as a plain FloatText, its range kept in the kernel."""
    knob = ScenarioControls(PRESETS["crowded-longs"]).knobs["shock"]
    state = knob.box.get_state()
    assert state["_model_name"] == "FloatTextModel" and "max" not in state and "min" not in state
    assert knob.range == (0.5, 90.0)
    count = ScenarioControls(PRESETS["crowded-longs"]).knobs["n_positions"].box.get_state()
    assert count["_model_name"] == "IntTextModel" and "max" not in count


@pytest.mark.parametrize("view, attr, value, sentence", [
    (MarginView, "mark", 500.0, "115 is the most: 500 was set to 115"),
    (MarginView, "leverage", 150, "100 is the most: 150 was set to 100"),
    (BookWalkView, "depth_knob", 0.01, "0.1 is the least: 0.01 was set to 0.1"),
    (CriticalRatioView, "density_knob", 9.0, "5 is the most: 9 was set to 5"),
])
def test_every_view_says_a_clamp_in_the_knob_s_row(view, attr, value, sentence):
    knob = getattr(view(), attr)
    typed(knob.box, value)
    assert knob.note_text == sentence


def test_seed_and_speed_say_their_clamps():
    controls = ScenarioControls(PRESETS["crowded-longs"])
    typed(controls.seed, 2**33)
    assert controls.seed.value == 2**32 - 1
    assert controls.seed_note.text == (
        "4,294,967,295 is the most: 8,589,934,592 was set to 4,294,967,295")
    assert controls.seed_note.widget in controls.seed_row.children
    controls.seed.value = 7
    assert controls.seed_note.text == ""
    time = TimeControls()
    typed(time.speed_box, 20)
    assert time.speed.value == 8
    assert "Speed (steps/s): 8 is the most: 20 was set to 8." in time.message.value


def test_clamp_sentence_reads_numbers_through_numbers_py():
    assert clamp_sentence(25_000, 20_000, True) == "20,000 is the most: 25,000 was set to 20,000"
    assert clamp_sentence(99.5, 90.0, True) == "90 is the most: 99.5 was set to 90"


# ------------------------------------------------------------------ item 8
def test_play_is_a_labelled_button_that_plays_and_pauses():
    time = TimeControls()
    button = time.play_button
    assert button in time.children and time.play.layout.display == "none"
    assert button.description == "Play" and button.tooltip
    button.value = True  # a click
    assert time.play.playing and button.description == "Pause" and button.icon == "pause"
    time.stop()  # Reset, Run to end, a control change
    assert not button.value and button.description == "Play"
    time.play.disabled = True  # the end of the run
    assert button.disabled


def test_every_button_of_the_time_controls_has_a_name_and_a_tooltip():
    time = TimeControls()
    buttons = [w for w in time.children
               if isinstance(w, (widgets.Button, widgets.ToggleButton))]
    assert len(buttons) == 4  # Step, Play, Run to end, Reset
    for button in buttons:
        assert button.description.strip() and button.tooltip, button


def test_a_case_study_s_market_menu_shows_the_case_s_name():
    explorer = CascadeExplorer(CASES["black-thursday-2020"].scenario)
    menu = explorer.controls.preset
    labels = dict((v, k) for k, v in menu.options)
    assert menu.value == "black-thursday-2020"
    assert labels[menu.value] == "case: Black Thursday: Bitcoin on BitMEX"
    # a market of the student's own keeps "market: <name>"
    own = ScenarioControls(PRESETS["crowded-longs"].replace(name="my market"))
    assert dict((v, k) for k, v in own.preset.options)["my market"] == "market: my market"
    # changed, the case's scenario is no longer the case: "custom"
    explorer.controls.knobs["shock"].value = 7
    assert menu.value == "custom"


def test_the_seed_sits_in_the_labels_column():
    controls = ScenarioControls(PRESETS["crowded-longs"])
    label, box, note = controls.seed_row.children
    knob = controls.knobs["n_positions"]
    assert label.value == "Seed" and label.layout.width == knob.label_widget.layout.width
    assert box is controls.seed and box.style.description_width == "0px"


def test_the_taken_label_has_room_above_the_bars():
    view = BookWalkView()
    label = view.marks["taken"]
    assert label.y_offset == -TAKEN_LABEL_GAP and TAKEN_LABEL_GAP >= 12
    assert label.y[0] == pytest.approx(view.bars.y.sum(axis=0).max())  # its tallest bar


def test_halt_crosses_are_drawn_behind_both_runs():
    market = PRESETS["crowded-longs"]
    ex = CompareExplorer(market, market.replace(breaker_move=0.02))
    ex.run_to_end()
    price = next(v for v in vars(ex).values() if isinstance(v, ComparePriceChart))
    marks = price.figure.marks
    assert len(price.halted.x) > 0  # the breaker halted some rounds
    assert marks.index(price.halted) < min(marks.index(line) for line in price.lines)
    run_marker = max(line.marker_size for line in price.lines)
    assert price.halted.default_size > 2 * run_marker  # its arms show around a marker


def test_a_clamp_back_to_the_same_value_keeps_the_run_and_the_market():
    """The course walk: "-5" typed into a seed of 0 said "Settings changed (seed 0 → 0): the
    run starts again from round 0" and renamed the preset "custom". Nothing changed: the run
    goes on, the market keeps its name, and the seed's row says the clamp."""
    from marginloops import CascadeExplorer
    ex = CascadeExplorer(PRESETS["crowded-longs"])
    ex.time.step_button.click()
    ex.time.step_button.click()
    ex.controls.seed.set_state({"value": -5})  # what the browser sends
    assert ex.controls.seed.value == 0 and ex.round == 1
    assert ex.scenario.name == "crowded-longs" and ex.controls.preset.value == "crowded-longs"
    assert "Settings changed" not in ex.controls.message.value + ex.status.value
    assert ex.controls.seed_note.text == "0 is the least: -5 was set to 0"
    knob = ex.controls.knobs["shock"]
    knob.value = 90
    round_now = ex.round
    knob.box.set_state({"value": 99})  # 90 already: clamped back to 90
    assert knob.value == 90 and ex.round == round_now
    assert knob.note_text == "90 is the most: 99 was set to 90"
