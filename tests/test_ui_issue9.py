"""Issue 9 in the widgets: every input answered, every number right, no callback that raises.

Items 8 (a knob refuses NaN), 9 (one market name), 10 (user strings escaped), 11 (numbers
through marginloops.numbers), 12 (positions closed and partly closed counted apart), 16
(lesson 04 under tiers; every callback reports its error as a sentence) and the hostile-input
sweep of the widgets' constructors and setters. Headless, like tests/test_explorer.py.
"""

import math
import re

import ipywidgets as widgets
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from marginloops import CascadeExplorer, Scenario
from marginloops.cascade import Cascade
from marginloops.compare import LockStep
from marginloops.course.lesson04 import ClusteredScenario, clustered_market
from marginloops.exercises import Exercise
from marginloops.positions import Positions
from marginloops.tiers import BINANCE_STYLE_TIERS, MarginTiers
from marginloops.ui import bookwalk, critical, margin
from marginloops.ui.bookwalk import BookWalkView
from marginloops.ui.compare import CompareExplorer
from marginloops.ui.controls import (
    CUSTOM,
    Disclosure,
    Knob,
    ScenarioControls,
    TimeControls,
    describe_tiers,
    guarded,
    market_name,
    problem_sentence,
)
from marginloops.ui.critical import CriticalRatioView
from marginloops.ui.exercise import ExerciseBox
from marginloops.ui.margin import MarginView

SMALL = Scenario.preset("crowded-longs").replace(n_positions=300, name=CUSTOM)
NOT_NUMBERS = (float("nan"), float("inf"), float("-inf"), True, False, "abc", "5", None,
               np.bool_(True))
HOSTILE = (float("nan"), float("inf"), float("-inf"), 1e308, -1e308, True, "x", "", None, [],
           {}, (), object())
SCIENTIFIC = re.compile(r"\d[eE][+-]?\d")
TAG = re.compile(r"<style>.*?</style>|<[^>]+>", re.DOTALL)
HOOK = "<img src=x onerror=alert(1)>"


def html_values(widget):
    """Every HTML widget's value under ``widget`` (the widget tree, depth first)."""
    out = []
    if isinstance(widget, widgets.HTML):
        out.append(widget.value)
    for child in getattr(widget, "children", ()):
        out.extend(html_values(child))
    return out


def visible(texts) -> str:
    """What a student reads of HTML values: tags, attributes and stylesheets left out."""
    return " ".join(TAG.sub(" ", t) for t in texts)


def all_knobs(controls):
    knobs = dict(controls.knobs)
    knobs.update({f: k for f, k in controls.mechanisms.items() if isinstance(k, Knob)})
    return knobs


# ------------------------------------------------------------------------ item 8: bad values
def test_every_knob_refuses_what_is_not_a_number_and_keeps_working():
    ex = CascadeExplorer(SMALL)
    c = ex.controls
    for name, knob in all_knobs(c).items():
        for part in (knob.box, knob.slider):
            for bad in NOT_NUMBERS:
                before, scenario = knob.value, ex.scenario
                part.value = bad  # from code, as a notebook cell would
                assert knob.value == before and knob.box.value == knob.slider.value, name
                assert ex.scenario == scenario, (name, bad)
                assert "is not a number this knob can take" in ex.narration[-1], (name, bad)
                assert knob.label in ex.narration[-1]
    # every knob still answers a normal change afterwards
    shock = c.knobs["shock"]
    shock.value = 7.5
    assert ex.scenario.shock == 0.075
    assert ex.narration[-1].startswith("Settings changed (Shock size (%)")
    ex.step()
    assert ex.cascade.history[0].round == 0


def test_huge_and_negative_values_are_clamped_into_the_knob_range():
    ex = CascadeExplorer(SMALL.replace(liquidation_fee=0.01, dynamic_margin=2.0,
                                       breaker_move=0.02, partial="fraction"))
    for name, knob in all_knobs(ex.controls).items():
        if knob.slider.disabled:
            continue
        lo, hi = knob.range
        for value, expected in ((1e308, hi), (-1e308, lo), (-5, lo)):
            knob.box.value = value
            assert knob.value == pytest.approx(expected), (name, value)
            assert knob.box.value == pytest.approx(knob.slider.value, rel=1e-12)
        ex.scenario.cascade()  # a valid market whatever was typed
    ex.controls.knobs["shock"].value = 4.0  # and a normal change after all that
    assert ex.scenario.shock == 0.04 and ex.narration[-1].startswith("Settings changed")


def test_nan_on_a_knob_then_another_control_still_works():
    """The audit's sequence: NaN on the shock, then a normal change of another control."""
    ex = CascadeExplorer(SMALL)
    ex.controls.knobs["shock"].box.value = float("nan")
    ex.controls.knobs["resilience"].value = 40.0
    assert ex.scenario.resilience == 0.4 and math.isfinite(ex.scenario.shock)
    assert ex.narration[-1].startswith("Settings changed (Resilience (%)")
    ex.controls.seed.value = float("nan")
    assert ex.scenario.seed == SMALL.seed and "Seed" in ex.narration[-1]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_any_sequence_of_values_leaves_a_valid_market(data):
    ex = CascadeExplorer(SMALL)
    knobs = list(ex.controls.knobs.values())
    for _ in range(4):
        knob = data.draw(st.sampled_from(knobs))
        value = data.draw(st.one_of(st.floats(allow_nan=True, allow_infinity=True),
                                    st.integers(-10**6, 10**6), st.booleans(), st.text(max_size=3)))
        data.draw(st.sampled_from((knob.box, knob.slider))).value = value
        lo, hi = knob.range
        assert lo * (1 - 1e-12) <= knob.value <= hi * (1 + 1e-12)
        assert knob.box.value == pytest.approx(knob.slider.value, rel=1e-12)
    assert ex.scenario.cascade().step() is not None


@pytest.mark.parametrize("make", [
    lambda: MarginView(), lambda: BookWalkView(), lambda: CriticalRatioView()])
def test_views_knobs_refuse_nan_and_say_so(make):
    view = make()
    knobs = [w for w in vars(view).values() if isinstance(w, Knob)]
    assert knobs
    for knob in knobs:
        before = knob.value
        knob.box.value = float("nan")
        assert knob.value == before
        assert "is not a number this knob can take" in view.message.value
    knobs[0].value = knobs[0].range[0]  # a normal change draws and clears the message
    assert view.message.value == ""
    for knob in knobs:  # huge and negative values are clamped into the knob's range
        for value in (1e308, -1e308, -5):
            knob.box.value = value
            lo, hi = knob.range
            assert lo * (1 - 1e-12) <= knob.value <= hi * (1 + 1e-12)
    assert view.message.value == ""


def test_speed_knob_refuses_nan():
    t = TimeControls()
    t.speed_box.value = float("nan")
    assert t.speed.value == 1.5 and t.play.interval == 700
    assert "Speed" in t.message.value
    t.speed.value = 2.0
    assert t.play.interval == 500


# --------------------------------------------------------------------- item 9: one name
def test_a_changed_preset_is_custom_everywhere():
    ex = CascadeExplorer(Scenario.preset("thin-book").replace(shock=0.1))
    assert ex.scenario.name == ex.controls.scenario.name == ex.controls.preset.value == CUSTOM
    assert ex.narration == ["Market: custom. Press Step to apply the shock."]
    assert "· market custom ·" in ex.status.value
    assert ex.scenario.shock == 0.1
    # a preset unchanged keeps its name
    ex2 = CascadeExplorer(Scenario.preset("thin-book"))
    assert ex2.scenario.name == ex2.controls.preset.value == "thin-book"
    assert market_name(Scenario.preset("thin-book").replace(name="")) == CUSTOM


def test_choosing_custom_keeps_the_settings_resets_and_says_so():
    ex = CascadeExplorer(Scenario.preset("thin-book"))
    ex.step()
    ex.step()
    ex.controls.preset.value = CUSTOM
    assert ex.narration == ["Settings changed (market set to custom: your current settings): "
                            "the run starts again from round 0."]
    assert ex.cascade.history == []
    assert ex.scenario == Scenario.preset("thin-book").replace(name=CUSTOM)
    # and back to the preset by the menu
    ex.controls.preset.value = "thin-book"
    assert ex.scenario == Scenario.preset("thin-book")


def test_a_named_market_keeps_its_name_in_the_menu_and_comes_back():
    market = clustered_market()
    ex = CascadeExplorer(market)
    c = ex.controls
    assert ex.scenario.name == c.preset.value == "clustered"
    assert "· market clustered ·" in ex.status.value
    assert ("market: clustered", "clustered") in list(c.preset.options)
    c.knobs["shock"].value = 5.0
    assert ex.scenario.name == c.preset.value == CUSTOM
    assert "· market custom ·" in ex.status.value
    c.preset.value = "crowded-longs"
    c.preset.value = "clustered"
    assert ex.scenario == market and isinstance(ex.scenario, ClusteredScenario)
    assert ex.narration[-1].startswith("Settings changed (market set to clustered)")


# ---------------------------------------------------------------- item 10: escaped strings
def test_compare_labels_are_escaped_in_every_html_widget():
    ex = CompareExplorer(SMALL, SMALL.replace(depth_1pct=6e6), labels=(HOOK, "a&b"))
    ex.run_to_end()
    values = html_values(ex)
    assert values and not any("<img" in v for v in values)
    captions = [c.caption.value for c in (ex.price_chart, ex.liquidations_chart, ex.debt_chart)]
    assert all("&lt;img src=x onerror=alert(1)&gt;" in c for c in captions)
    assert all("a&amp;b" in c for c in captions)
    # bqplot draws a mark's labels as SVG text (d3's .text()): never parsed as HTML, so they
    # carry the label itself (escaping there would show "&lt;" to the student)
    assert ex.price_chart.lines[0].labels == [HOOK]


def test_a_hostile_scenario_name_is_escaped_in_the_explorer():
    ex = CascadeExplorer(SMALL.replace(name=HOOK))
    ex.step()
    assert ex.scenario.name == HOOK
    assert not any("<img" in v for v in html_values(ex))
    assert HOOK in ex.narration[0]


def test_exercise_box_escapes_title_and_question():
    box = ExerciseBox(Exercise(HOOK, answer=1), title=HOOK)
    box.check(HOOK)
    assert not any("<img" in v for v in html_values(box))


# -------------------------------------------------------------------- item 11: numbers
def test_knob_sentences_have_no_scientific_notation():
    ex = CascadeExplorer(SMALL)
    ex.controls.knobs["n_positions"].value = 12_345
    assert "Positions 300 → 12,345" in ex.narration[-1]
    ex.controls.knobs["depth_1pct"].value = 2.2387211385683394
    assert "→ 2.239)" in ex.narration[-1]
    ex.controls.seed.value = 123_456
    assert "seed 0 → 123,456" in ex.narration[-1]


def test_tiers_and_amounts_read_without_scientific_notation():
    text = describe_tiers(((0, 0.004), (5e13, 0.05)))
    assert text == "0.4% below 50,000B USD, 5% from 50,000B USD"
    assert describe_tiers(BINANCE_STYLE_TIERS.brackets).startswith(
        "0.4% below 50K USD, 0.5% from 50K USD, 1% from 250K USD")


def test_status_line_never_reads_minus_zero():
    ex = CascadeExplorer(SMALL.replace(shock=0.0002))
    ex.step()
    assert ex.cascade.price < ex.cascade.start_price  # a fall too small for one decimal
    assert "-0.0%" not in ex.status.value and "(0.0% from 99.99)" in ex.status.value


def test_compare_title_and_status_use_the_formatter():
    a = SMALL.replace(shock=0.0002)
    ex = CompareExplorer(a, a.replace(withdrawal=1e-7), labels=("a", "b"))
    ex.step()
    text = visible(html_values(ex))
    assert not SCIENTIFIC.search(text) and "-0.0%" not in text
    assert "withdrawal 0 → less than 0.000001" in ex.title.value


def test_dynamic_margin_status_has_no_scientific_notation():
    ex = CascadeExplorer(SMALL.replace(dynamic_margin=0.5))
    ex.run_to_end()
    assert any(r.mmr_surcharge > 0 for r in ex.cascade.history)
    for _ in range(len(ex.cascade.history)):
        assert not SCIENTIFIC.search(visible([ex.status.value]))


def test_every_text_of_a_full_run_is_free_of_scientific_notation_and_minus_zero():
    for scenario in (SMALL, SMALL.replace(partial="fraction"), SMALL.replace(
            breaker_move=0.005, breaker_rounds=100, breaker_reference="start",
            depth_1pct=50_000.0, n_positions=100)):
        ex = CascadeExplorer(scenario)
        while not ex.cascade.ended:
            ex.step()
            text = visible([*html_values(ex), *ex.narration])
            assert not SCIENTIFIC.search(text), SCIENTIFIC.search(text)
            assert "-0.0%" not in text and "-0.00 " not in text


# ---------------------------------------------------------------- item 12: positions apart
def test_status_counts_positions_closed_and_partly_closed_apart():
    market = Scenario.preset("crowded-longs").replace(partial="fraction")
    ex = CascadeExplorer(market)
    ex.run_to_end()
    hist = ex.cascade.history
    closed = sum(r.n_closed for r in hist)
    reduced = hist[-1].n_reduced_open
    longs = int((ex.cascade.positions.side > 0).sum())
    assert sum(r.n_liquidated for r in hist) > longs  # slices: more events than longs
    assert closed + reduced <= longs
    assert (f"liquidated so far: {closed:,} positions closed, {reduced:,} more partly closed "
            f"and still open") in ex.status.value


# ------------------------------------------------- item 16: lesson 04 under tiered margin
def test_clustered_positions_keep_the_maintenance_amount_under_tiers():
    market = clustered_market(leverage_mix=((5.0, 0.5), (10.0, 0.5)),
                              mmr_tiers=BINANCE_STYLE_TIERS.brackets)
    pos = market.positions()
    parts = (Scenario.positions(market), market.crowd_positions())
    for name in ("side", "size", "entry", "leverage", "mmr", "maint_amount",
                 "liquidation_price"):
        np.testing.assert_array_equal(getattr(pos, name),
                                      np.concatenate([getattr(p, name) for p in parts]))
    assert (pos.maint_amount > 0).any()
    # without the amount the liquidation prices would move (the audit: up to 0.12 USD)
    flat = Positions.from_arrays(pos.side, pos.size, pos.entry, pos.leverage, pos.mmr)
    assert np.abs(flat.liquidation_price - pos.liquidation_price).max() > 0.01


def test_clustered_market_takes_tiers():
    market = clustered_market().replace(mmr_tiers=BINANCE_STYLE_TIERS.brackets)
    assert isinstance(market, ClusteredScenario)
    crowd = market.crowd_positions()
    assert crowd.liquidation_price.max() < market.price
    spikes = market.cluster_liquidation_prices()
    assert len(spikes) == len(market.cluster_leverages()) and (spikes < market.price).all()
    tiers = MarginTiers(BINANCE_STYLE_TIERS.brackets)
    size = market.cluster_open_interest / market.price / market.cluster_positions
    one = Positions.from_arrays(1, size, 100.0, 25.0, 0.004).with_tiers(tiers)
    assert spikes[2] == pytest.approx(one.liquidation_price[0], rel=1e-12)
    assert market.cascade().run()[-1].price_after < market.price


def test_choosing_tiers_in_lesson_04s_sandbox_works():
    ex = CascadeExplorer(clustered_market())
    menu = ex.controls.mechanisms["mmr_tiers"]
    menu.value = BINANCE_STYLE_TIERS.brackets
    assert ex.scenario.mmr_tiers == BINANCE_STYLE_TIERS.brackets
    assert ex.narration[-1].startswith("Settings changed (maintenance margin:")
    ex.run_to_end()
    assert ex.cascade.ended


# -------------------------------------------- item 16: no callback lets an exception out
def boom(*_args, **_kwargs):
    raise RuntimeError("boom in the model")


def test_problem_sentence_and_guarded():
    said = []
    run = guarded(boom, said.append)
    assert run(1) is None
    assert said == [problem_sentence(RuntimeError("boom in the model"))]
    assert said[0].count(".") == 1 and "boom in the model" in said[0]
    assert "\n" not in problem_sentence(ValueError("two\nlines"))
    # a report that fails itself is swallowed too
    guarded(boom, boom)()


def test_explorer_buttons_report_errors_and_stay_usable(monkeypatch):
    ex = CascadeExplorer(SMALL)
    t = ex.time
    for button, method in ((t.step_button, "step"), (t.run_button, "step"),
                           (t.reset_button, "reset")):
        with monkeypatch.context() as m:
            m.setattr(Cascade, method, boom)
            button.click()
        assert "boom in the model" in ex.narration[-1], button.description
    t.step_button.click()
    assert ex.cascade.history and not t.step_button.disabled
    # a Play tick
    with monkeypatch.context() as m:
        m.setattr(Cascade, "step", boom)
        t.play.playing = True
        t.play.value += 1
    assert "boom in the model" in ex.narration[-1]
    assert not t.play.playing  # the error stopped Play: reported once, not on every tick


def test_explorer_controls_report_errors_and_go_back(monkeypatch):
    ex = CascadeExplorer(SMALL)
    ex.step()
    before = ex.scenario
    with monkeypatch.context() as m:
        m.setattr(Scenario, "cascade", boom)
        ex.controls.knobs["shock"].value = 12.0
    assert "boom in the model" in ex.narration[-1]
    assert "back to the market that runs" in ex.narration[-1]
    assert ex.controls.knobs["shock"].value == before.shock * 100  # the controls went back
    assert ex.scenario == before and ex.cascade.history  # the old run is still on screen
    with monkeypatch.context() as m:
        m.setattr(Scenario, "cascade", boom)
        ex.controls.preset.value = "thin-book"
    assert ex.controls.preset.value == before.name and ex.scenario == before
    ex.controls.knobs["shock"].value = 12.0  # and a later change works
    assert ex.scenario.shock == 0.12


def test_explorer_phase_and_projector_toggles_report_errors(monkeypatch):
    ex = CascadeExplorer(SMALL, phase_mode=True)
    ex.step()  # the shock's first stage
    with monkeypatch.context() as m:
        m.setattr("marginloops.ui.explorer.say.narrate", boom)
        ex.phase_toggle.value = False
    assert "boom in the model" in ex.narration[-1]
    with monkeypatch.context() as m:
        m.setattr(ex, "set_projector", boom)
        ex.projector_toggle.value = True
    assert "boom in the model" in ex.narration[-1]


def test_a_settings_error_in_the_controls_alone_is_shown_under_them(monkeypatch):
    c = ScenarioControls(SMALL)
    with monkeypatch.context() as m:
        m.setattr(Scenario, "replace", boom)
        c.knobs["shock"].value = 9.0
    assert "boom in the model" in c.message.value and c.message.layout.display is None
    c.knobs["shock"].value = 8.0
    assert c.message.value == "" and c.scenario.shock == 0.08
    assert c.message.layout.display == "none"


def test_settings_the_scenario_refuses_put_the_controls_back():
    c = ScenarioControls(SMALL)
    c.knobs["n_positions"].set_range(0, 3_000_000)
    c.knobs["n_positions"].value = 2_500_000  # beyond Scenario's 2,000,000
    assert "Those settings cannot be used (n_positions" in c.message.value
    assert c.knobs["n_positions"].value == SMALL.n_positions


def test_compare_explorer_buttons_report_errors(monkeypatch):
    ex = CompareExplorer(SMALL, SMALL.replace(depth_1pct=6e6))
    with monkeypatch.context() as m:
        m.setattr(LockStep, "step", boom)
        ex.time.step_button.click()
    with monkeypatch.context() as m:
        m.setattr(LockStep, "run", boom)
        ex.time.run_button.click()
    with monkeypatch.context() as m:
        m.setattr(LockStep, "reset", boom)
        ex.time.reset_button.click()
    with monkeypatch.context() as m:
        m.setattr(ex, "set_projector", boom)
        ex.projector_toggle.value = True
    for lines in ex.narration:
        assert sum("boom in the model" in line for line in lines) >= 3
    ex.time.step_button.click()
    assert ex.lock.steps == 1


def test_views_report_errors_in_their_message_area(monkeypatch):
    view = MarginView()
    with monkeypatch.context() as m:
        m.setattr(margin, "margin_state", boom)
        view.mark.value = 95.0
        assert "boom in the model" in view.message.value
        view.leverage.value = 20
    view.mark.value = 96.0
    assert view.message.value == "" and "96.00" in view.readout.value

    walk = BookWalkView()
    with monkeypatch.context() as m:
        m.setattr(bookwalk.model, "walk", boom)
        walk.size_knob.value = 50_000.0
        walk.side_buttons.value = "buy"
    assert "boom in the model" in walk.message.value
    walk.size_knob.value = 40_000.0
    assert walk.message.value == "" and walk.fill.filled == 40_000.0

    crit = CriticalRatioView()
    with monkeypatch.context() as m:
        m.setattr(critical, "simulated_amplification", boom)
        crit.depth_knob.value = 3.0
    assert "boom in the model" in crit.message.value
    crit.depth_knob.value = 4.0
    assert crit.message.value == "" and crit.ratio == 0.25


def test_exercise_box_reports_errors_in_its_feedback(monkeypatch):
    box = ExerciseBox(Exercise("6 times 7?", answer=42))
    with monkeypatch.context() as m:
        m.setattr(Exercise, "check", boom)
        box.answer.value = "41"
        assert "boom in the model" in box.feedback.value
        box.check_button.click()
    box.answer.value = "42"
    assert "Right" in box.feedback.value


def test_time_controls_and_disclosure_report_their_own_errors(monkeypatch):
    monkeypatch.setattr(TimeControls, "_speed_changed", boom)
    t = TimeControls()
    t.speed.value = 3.0
    assert "boom in the model" in t.message.value
    monkeypatch.setattr(Disclosure, "toggle", boom)
    d = Disclosure(widgets.Label("x"), "title")
    d.header.click()
    assert "boom in the model" in d.message.value


# ------------------------------------------------------ hostile constructors and setters
@pytest.mark.parametrize("bad", HOSTILE)
def test_explorer_constructor_and_set_scenario_refuse_hostile_values(bad):
    with pytest.raises(ValueError, match="scenario must be a Scenario"):
        CascadeExplorer(bad) if bad is not None else CascadeExplorer(scenario=3)
    ex = CascadeExplorer(SMALL)
    with pytest.raises(ValueError, match="scenario must be a Scenario"):
        ex.set_scenario(bad)
    with pytest.raises(ValueError, match="scenario must be a Scenario"):
        ex.controls.set_scenario(bad)
    with pytest.raises(ValueError, match="scenario must be a Scenario"):
        ScenarioControls(bad) if bad is not None else ScenarioControls(scenario="x")
    if bad is not None and not isinstance(bad, str):
        with pytest.raises(ValueError, match="what must be a string"):
            ex.controls.set_scenario(SMALL, bad)
    for flag in ("phase_mode", "show_controls"):
        if not isinstance(bad, bool):
            with pytest.raises(ValueError, match=flag):
                CascadeExplorer(SMALL, **{flag: bad})
    assert ex.scenario == SMALL  # still usable
    ex.step()


@pytest.mark.parametrize("bad", HOSTILE)
def test_compare_explorer_refuses_hostile_values(bad):
    with pytest.raises(ValueError, match="scenario_a must be a Scenario"):
        CompareExplorer(bad, SMALL)
    with pytest.raises(ValueError, match="scenario_b must be a Scenario"):
        CompareExplorer(SMALL, bad)
    with pytest.raises(ValueError, match="labels must be"):
        CompareExplorer(SMALL, SMALL, labels=bad)
    if not (isinstance(bad, str) and bad):
        with pytest.raises(ValueError, match="labels must be"):
            CompareExplorer(SMALL, SMALL, labels=(bad, "b"))


@pytest.mark.parametrize("bad", HOSTILE)
@pytest.mark.parametrize("name", ["side", "entry", "leverage", "mmr", "mark", "margin"])
def test_margin_view_refuses_hostile_values(name, bad):
    if name == "mark" and bad is None:
        return  # None: the entry price
    with pytest.raises(ValueError, match=name):
        MarginView(**{name: bad})


@pytest.mark.parametrize("bad", HOSTILE)
@pytest.mark.parametrize("name", ["order_size", "depth_1pct", "shape", "side"])
def test_book_walk_view_refuses_hostile_values(name, bad):
    with pytest.raises(ValueError, match=name):
        BookWalkView(**{name: bad})


@pytest.mark.parametrize("bad", HOSTILE)
@pytest.mark.parametrize("name", ["depth", "density", "shock", "band"])
def test_critical_view_refuses_hostile_values(name, bad):
    with pytest.raises(ValueError, match=name):
        CriticalRatioView(**{name: bad})
    view = CriticalRatioView() if name == "depth" else None
    if view is not None:
        for arg in ("depth", "density"):
            good = {"depth": 2.0, "density": 1.0}
            with pytest.raises(ValueError, match=arg):
                view.set_market(**{**good, arg: bad})
        assert view.ratio == 0.5  # unchanged and usable
        view.set_market(3.0, 1.5)
        assert view.ratio == 0.5 and view.depth_knob.value == 3.0


@pytest.mark.parametrize("bad", HOSTILE)
def test_exercise_box_refuses_hostile_values(bad):
    with pytest.raises(ValueError, match="exercise must be"):
        ExerciseBox(bad)
    if not isinstance(bad, str):
        for name in ("title", "placeholder"):
            with pytest.raises(ValueError, match=name):
                ExerciseBox(Exercise("q?", answer=1), **{name: bad})
    box = ExerciseBox(Exercise("q?", answer=1))
    if isinstance(bad, float) or isinstance(bad, str):
        result = box.check(bad)  # a float or string is an answer: read or refused, no raise
        assert not result.correct
    elif bad is not None:
        with pytest.raises(ValueError, match="response must be"):
            box.check(bad)
    assert box.check("1").correct  # still usable


@pytest.mark.parametrize("bad", [None, True, [], {}, object(), np.bool_(False)])
def test_exercise_answer_box_refuses_what_is_not_text_or_a_number(bad):
    box = ExerciseBox(Exercise("6 times 7?", answer=42))
    box.answer.value = "40"
    box.answer.value = bad
    assert box.answer.value == "40" and "An answer is text or a number" in box.feedback.value
    assert box.exercise.attempts == 1
    box.answer.value = 42  # a number from code is its digits
    assert box.answer.value == "42" and box.exercise.solved
    box.answer.value = float("nan")  # read as "nan": not a number a student typed
    assert not box.check().correct and box.exercise.solved


def test_set_scenario_refuses_a_notify_that_is_not_a_bool():
    c = ScenarioControls(SMALL)
    with pytest.raises(ValueError, match="notify must be True or False"):
        c.set_scenario(SMALL, notify="yes")
