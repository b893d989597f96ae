"""The run controller (issue 11, item 5): both explorers share one, the scenario and the round
are traits a user can observe and link, knobs are traits too, every slider and number box pair
is linked in the browser (jslink) and in the kernel, and hold_sync batches one widget's changes.
"""

from __future__ import annotations

import ipywidgets as widgets
import pytest
import traitlets
from ipywidgets.widgets import widget_link

from marginloops import PRESETS, Scenario
from marginloops.ui import CascadeExplorer, CompareExplorer, ScenarioControls
from marginloops.ui.chartkit import fit, set_traits
from marginloops.ui.compare import CompareExplorer as CompareFromModule
from marginloops.ui.knobs import Knob
from marginloops.ui.mechanisms import MECHANISMS
from marginloops.ui.run_controller import NarrationLog, RunController, chart_grid
from marginloops.ui.time_controls import TimeControls

SMALL = Scenario.preset("crowded-longs").replace(n_positions=600)
SMALL_SHOWN = SMALL.replace(name="custom")  # a preset changed is shown as "custom"


def typed(widget, value):
    """``value`` as the browser sends it (typed in a box, or a slider dragged)."""
    widget.set_state({"value": value})


# ------------------------------------------------------------------ one controller, shared
def test_both_explorers_are_run_controllers():
    assert issubclass(CascadeExplorer, RunController)
    assert issubclass(CompareExplorer, RunController) and CompareFromModule is CompareExplorer


def test_round_and_ended_are_observable_traits_of_the_cascade_explorer():
    ex = CascadeExplorer(SMALL)
    seen = []
    ex.observe(lambda change: seen.append(change.new), names="round")
    assert ex.round is None and not ex.ended  # before the shock
    ex.time.step_button.click()
    ex.time.step_button.click()
    assert seen == [0, 1] and ex.round == 1 == ex.cascade.history[-1].round
    ex.time.run_button.click()
    assert ex.ended and ex.round == ex.cascade.history[-1].round and ex.cascade.ended
    assert ex.time.counter.value == f"<b>Round {ex.round} (end)</b>"
    ex.time.reset_button.click()
    assert ex.round is None and not ex.ended and seen[-1] is None
    with pytest.raises(traitlets.TraitError):
        ex.round = 3  # read-only: the run says which round it is


def test_a_label_can_follow_the_round():
    ex = CascadeExplorer(SMALL)
    label = widgets.Label()
    traitlets.dlink((ex, "round"), (label, "value"), lambda k: "before" if k is None else str(k))
    assert label.value == "before"
    ex.step()
    assert label.value == "0"


def test_round_and_ended_of_the_compare_explorer():
    ex = CompareExplorer(SMALL, SMALL.replace(depth_1pct=6e6), labels=("thin", "deep"))
    assert ex.round is None and not ex.ended
    ex.time.step_button.click()
    assert ex.round == 0 and ex.lock.steps == 1
    ex.time.run_button.click()
    assert ex.ended and ex.round == ex.lock.steps - 1
    assert ex.time.step_button.disabled and ex.time.run_button.disabled and ex.time.play.disabled


def test_play_ticks_step_and_stop_at_the_end_in_both_explorers():
    for ex in (CascadeExplorer(SMALL),
               CompareExplorer(SMALL, SMALL.replace(depth_1pct=6e6))):
        ex.time.play.playing = True
        assert ex.time.step_button.disabled  # no Step while Play steps
        for tick in range(1, 500):
            ex.time.play.value = tick
            if not ex.time.play.playing:
                break
        assert ex.ended and not ex.time.play.playing and ex.time.play.disabled


def test_play_ticks_are_an_observable_trait_of_the_time_controls():
    """Each forward move of a playing Play's value is one ``tick``; a move while stopped, the
    rewind of stop() and a late tick after it are none; ``tick`` is read-only."""
    time = TimeControls()
    told = []
    time.observe(lambda change: told.append((change.old, change.new)), names="tick")
    time.play.value += 1  # not playing: not a tick
    assert told == [] and time.tick == 0
    time.play.playing = True
    time.play.value += 1
    time.play.value += 1
    assert told == [(0, 1), (1, 2)] and time.tick == 2
    late = time.play.value + 1
    time.stop()
    assert not time.play.playing and time.play.value == 0 and told == [(0, 1), (1, 2)]
    time.play.value = late  # sent by the browser before it heard of the stop
    assert time.tick == 2
    time.play.playing = True
    time.play.value += 1  # from 0 again: a tick
    assert time.tick == 3
    with pytest.raises(traitlets.TraitError):
        time.tick = 10
    assert not hasattr(time, "on_tick")  # no hand-written callback list beside the trait


def test_an_explorer_steps_on_each_tick_and_nothing_else_calls_it():
    ex = CascadeExplorer(SMALL)
    assert ex.time.tick == 0
    ex.time.play.playing = True
    ex.time.play.value += 1
    ex.time.play.value += 1
    assert ex.time.tick == 2 and len(ex.cascade.history) == 2
    ex.time.play.value -= 1  # backwards (a rewind): no tick, no step
    assert ex.time.tick == 2 and len(ex.cascade.history) == 2


# ----------------------------------------------------------------------- the scenario
def test_the_scenario_is_an_observable_trait():
    ex = CascadeExplorer(SMALL)
    told = []
    ex.observe(lambda change: told.append(change.new), names="scenario")
    typed(ex.controls.knobs["shock"].box, 5)
    assert len(told) == 1 and told[0].shock == 0.05 and told[0].name == "custom"
    assert ex.scenario is told[0] and ex.cascade.shock == 0.05


def test_setting_the_scenario_trait_runs_it_and_the_controls_follow():
    ex = CascadeExplorer(SMALL)
    ex.step()
    thin = PRESETS["thin-book"]
    ex.scenario = thin
    assert ex.controls.scenario == thin and ex.controls.preset.value == "thin-book"
    assert ex.cascade.history == [] and ex.round is None  # the run starts again
    assert ex.narration == ["Settings changed (market set to thin-book): the run starts again "
                            "from round 0."]


def test_a_market_that_fails_leaves_the_trait_on_the_market_that_runs(monkeypatch):
    ex = CascadeExplorer(SMALL)
    thin = PRESETS["thin-book"]

    def boom(self):
        raise RuntimeError("boom in the model")

    monkeypatch.setattr(Scenario, "cascade", boom)
    ex.scenario = thin
    assert ex.scenario == SMALL_SHOWN == ex.controls.scenario
    assert "boom in the model" in ex.narration[-1]


def test_two_explorers_can_be_linked_by_their_scenario():
    a, b = CascadeExplorer(SMALL), CascadeExplorer(SMALL)
    traitlets.link((a, "scenario"), (b, "scenario"))
    typed(a.controls.knobs["long_share"].box, 50)
    assert b.scenario == a.scenario and b.scenario.long_share == 0.5
    assert b.controls.knobs["long_share"].value == 50


def test_the_controls_tell_each_change_once_with_its_words():
    c = ScenarioControls(SMALL)
    told = []
    c.observe(lambda change: told.append((change.new.leverage_mix, c.what)), names="scenario")
    c.leverage_mix.value = c.leverage_mix.options[-1][1]  # extreme: 50x-100x, lowers the mmr
    assert len(told) == 1  # the leverage, the maintenance margin fitted to it and the menu
    mix, what = told[0]
    assert mix == ((50.0, 0.6), (100.0, 0.4))
    assert what.startswith("leverage mix → extreme: 50x-100x")
    assert c.scenario.mmr * 100 <= 0.95 and c.preset.value == "custom"


def test_notify_false_shows_without_telling_on_change_and_an_equal_market_is_no_change():
    c = ScenarioControls(SMALL)
    calls, changes = [], []
    c.on_change(lambda scenario, what: calls.append(what))
    c.observe(lambda change: changes.append(c.what), names="scenario")
    thin = PRESETS["thin-book"]
    c.set_scenario(thin, notify=False)
    assert c.scenario == thin and c.preset.value == "thin-book"
    assert calls == [] and changes == [""]  # told as an echo, with no words
    c.set_scenario(thin)  # the market it already shows: nothing changed
    assert calls == [] and len(changes) == 1
    c.scenario = SMALL  # set from code: shown, and said
    assert c.knobs["shock"].value == SMALL.shock * 100
    assert calls == ["market set to custom"] and c.scenario == SMALL_SHOWN


def test_a_preset_set_by_name_but_changed_is_kept_as_custom():
    c = ScenarioControls(SMALL)
    c.scenario = PRESETS["thin-book"].replace(shock=0.07)
    assert c.scenario.name == "custom" and c.preset.value == "custom"
    assert c.knobs["shock"].value == 7.0


# ------------------------------------------------------------------------- knob traits
def test_a_knob_value_is_a_trait_that_refuses_and_clamps_as_its_slider_does():
    knob = Knob("Shock (%)", "tip", lo=0.5, hi=90.0, step=0.5, value=3.0)
    told, refused = [], []
    knob.observe(lambda change: told.append(change.new), names="value")
    knob.on_refuse(refused.append)
    typed(knob.box, 99)  # typed: clamped, and the row says so
    assert knob.value == knob.slider.value == knob.box.value == 90.0
    assert knob.note_text == "90 is the most: 99 was set to 90"
    knob.value = float("nan")  # refused: the value stays
    assert knob.value == 90.0 and refused and "nan" in refused[-1]
    knob.value = 12.25  # from code: its digits kept, the box follows in the kernel
    assert knob.value == knob.box.value == 12.25
    typed(knob.slider, 20.2)  # dragged: rounded to the step
    assert knob.value == knob.box.value == 20.0
    assert told == [90.0, 12.25, 20.0]


def test_a_knob_can_be_linked_to_another_widget():
    knob = Knob("Positions", "tip", lo=0, hi=1000, step=100, value=200, integer=True)
    other = widgets.IntText()
    traitlets.link((knob, "value"), (other, "value"))
    assert other.value == 200
    other.value = 700
    assert knob.value == knob.slider.value == knob.box.value == 700


def _jslinked(link, slider, box) -> bool:
    return (isinstance(link, widget_link.Link) and link.source == (slider, "value")
            and link.target == (box, "value"))


def test_every_slider_and_box_pair_is_jslinked_and_linked_in_the_kernel():
    c = ScenarioControls(SMALL)
    knobs = [*c.knobs.values(), *(m for m in c.mechanisms.values() if isinstance(m, Knob))]
    assert len(knobs) == len(c.KNOB_FIELDS) + sum(m.kind == "knob" for m in MECHANISMS) > 7
    for knob in knobs:
        js, kernel = knob.links
        assert _jslinked(js, knob.slider, knob.box)
        assert isinstance(kernel, traitlets.link)
    time = TimeControls()
    js, kernel = time.speed_links
    assert _jslinked(js, time.speed, time.speed_box) and isinstance(kernel, traitlets.link)


# --------------------------------------------------------------------- log and grid
def test_the_narration_log_shows_newest_first_escaped():
    log = NarrationLog("Narration of A", "260px")
    log.clear("first")
    log.extend(["second"])
    assert log.widget.value == ""  # not rendered until asked
    log.append("<third>")
    value = log.widget.value
    assert value.index("&lt;third&gt;") < value.index("second") < value.index("first")
    assert "aria-label='Narration of A'" in value and "height:260px" in value
    assert log.lines == ["first", "second", "<third>"]


def test_chart_grid_columns():
    grid = chart_grid([widgets.Label("a"), widgets.Label("b")])
    assert grid.layout.grid_template_columns == "repeat(auto-fit, minmax(420px, 1fr))"
    assert len(grid.children) == 2


# ----------------------------------------------------------- hold_sync where it batches
class Sent:
    """Record the state messages a widget sends (one per ``send_state`` call)."""

    def __init__(self, widget):
        self.messages = []
        original = widget.send_state

        def send_state(key=None):
            self.messages.append({key} if isinstance(key, str) else set(key or ()))
            return original(key)

        widget.send_state = send_state


def test_set_traits_sends_one_message_for_one_widgets_changes():
    line = widgets.FloatRangeSlider(min=0, max=10, value=(1, 2))
    sent = Sent(line)
    set_traits(line, min=-1.0, max=20.0, step=0.5)
    assert len(sent.messages) == 1 and set(sent.messages[0]) == {"min", "max", "step"}


def test_fit_sends_the_scale_in_one_message():
    import bqplot as bq
    scale = bq.LinearScale()
    axis = bq.Axis(scale=scale)
    sent = Sent(scale)
    fit(axis, 10.0, 20.0)
    assert len(sent.messages) == 1 and set(sent.messages[0]) == {"min", "max"}
    assert (scale.min, scale.max) == (10.0, 20.0) and list(axis.tick_values)[0] == 10.0


# ------------------------------------------------- the panel reads the mechanisms' declarations
def test_the_panel_rows_come_from_the_mechanisms_declarations():
    from marginloops.mechanisms import all_params
    from marginloops.ui.mechanisms import CORE_ROWS, setting_of

    declared = {p.name: p for p in all_params() if p.control is not None}
    assert len(declared) >= 10
    rows = {m.field: m for m in MECHANISMS}
    for name, param in declared.items():
        assert rows[name] == setting_of(param)
        assert rows[name].label == param.control.label
    assert set(rows) == set(declared) | {s.field for s in CORE_ROWS}


def test_a_new_mechanisms_control_shows_without_a_change_to_the_ui():
    from marginloops.mechanisms import all_params
    from marginloops.params import Control, Param
    from marginloops.ui.mechanisms import panel_columns, panel_rows

    new = Param("cooling_off", "number", 0.0, lo=0, hi=5,
                control=Control("Cooling off", "Pause (rounds)", "How long trading cools off",
                                lo=0.0, hi=5.0, step=1.0))
    rows = panel_rows((*all_params(), new))
    assert rows[-1].field == "cooling_off" and rows[-1].group == "Cooling off"
    assert [r.field for r in rows[:-1]] == [m.field for m in MECHANISMS]
    columns = panel_columns(rows)
    assert columns[-1][-1] == "Cooling off" and columns[0] == ("Margin and liquidation",
                                                               "Who pays for losses")
