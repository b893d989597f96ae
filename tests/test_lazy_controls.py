"""Controls that are not on the page are built only when needed: an explorer made with
``show_controls=False`` (lessons 00 and 03) sends the browser none of their widgets until
``explorer.controls`` is used or another market is set from code, and behaves exactly as the
explorer with its controls on the page. Headless, like tests/test_explorer.py."""

from contextlib import contextmanager

import ipywidgets as widgets
import pytest

from marginloops import PRESETS, CascadeExplorer, Scenario
from marginloops.lending import LENDING_PRESETS
from marginloops.ui import lending as lending_ui
from marginloops.ui.lending import LendingExplorer

SMALL = Scenario.preset("crowded-longs").replace(n_positions=600)  # "custom"
ETH = LENDING_PRESETS["eth-pool"]


@contextmanager
def counting():
    """The widgets constructed inside the block (each one a comm message to the browser)."""
    made = []
    previous = widgets.Widget._widget_construction_callback
    widgets.Widget.on_widget_constructed(made.append)
    try:
        yield made
    finally:
        widgets.Widget.on_widget_constructed(previous)


def boom(*_args, **_kwargs):
    raise RuntimeError("boom in the model")


def lesson03(show_controls):
    return CascadeExplorer(Scenario.preset("crowded-longs"), phase_mode=True,
                           show_controls=show_controls)


# ------------------------------------------------------------------ not built until needed
@pytest.mark.parametrize("make, at_least", [
    (lesson03, 400),
    (lambda show: CascadeExplorer(SMALL, show_controls=show), 400),
    (lambda show: LendingExplorer(ETH, show_controls=show), 100),
], ids=["lesson03", "cascade", "lending"])
def test_an_explorer_without_controls_builds_their_widgets_only_when_used(make, at_least):
    make(True)  # imports and first-use caches out of the count
    with counting() as shown:
        on_page = make(True)
    with counting() as hidden:
        ex = make(False)
    assert len(shown) - len(hidden) >= at_least
    assert on_page.controls in on_page.children and on_page.children[1] is on_page.controls
    # Running, switching modes and setting the market that runs need no controls.
    with counting() as made:
        ex.step()
        ex.phase_toggle.value = not ex.phase_toggle.value
        ex.step()
        ex.projector_toggle.value = True
        ex.run_to_end()
        ex.reset()
        ex.scenario = ex.scenario.replace()  # an equal market: nothing to do
    assert made == []
    with counting() as made:
        controls = ex.controls
    assert len(made) == len(shown) - len(hidden)  # exactly the controls' widgets, once
    assert ex.controls is controls and controls not in ex.children
    assert controls.scenario == ex.scenario == on_page.controls.scenario
    assert controls.preset.value == ex.scenario.name


# ------------------------------------------------------------- the same from the outside
def _run_seen(ex, c):
    """What both explorers show of their run, and the controls' market."""
    return dict(
        scenario=ex.scenario, history=list(ex.cascade.history), narration=ex.narration,
        status=ex.status.value, stage=ex.stage.value, counter=ex.time.counter.value,
        round=ex.round, ended=ex.ended, controls=c.scenario, what=c.what,
        knobs={name: (k.value, k.range) for name, k in c.knobs.items()},
        message=c.message.value)


def cascade_seen(ex):
    """What a student or a test sees of a cascade explorer, its controls included."""
    c = ex.controls
    return dict(
        _run_seen(ex, c), preset=(c.preset.value, list(c.preset.options)), seed=c.seed.value,
        mechanisms={name: m.value for name, m in c.mechanisms.items()},
        panel=c.mechanisms_panel.titles)


def lending_seen(ex):
    """What a student or a test sees of a lending explorer, its controls included."""
    c = ex.controls
    return dict(_run_seen(ex, c), preset=c.preset.value, venue=c.venue.value,
                oracle=c.oracle.value)


def set_trait(ex, scenario):
    ex.scenario = scenario


# Markets the controls change on the way (one name: "custom"; 12 significant digits), refuse
# (mmr read back as 0.05, which 20x leverage does not allow) or pass on unchanged.
CLEANED = SMALL.replace(shock=0.1234567890123456)
CONTROLS_REFUSE = SMALL.replace(mmr=0.0499999999999999, leverage_mix=((20.0, 1.0),))
OTHER = Scenario.preset("crowded-longs").replace(name="thin-book", n_positions=500)


@pytest.mark.parametrize("setter", [CascadeExplorer.set_scenario, set_trait],
                         ids=["set_scenario", "trait"])
@pytest.mark.parametrize("phase_mode", [False, True])
@pytest.mark.parametrize("market, model_refuses", [
    (PRESETS["thin-book"], False), (OTHER, False), (CLEANED, False),
    (CONTROLS_REFUSE, False), (OTHER, True)],
    ids=["preset", "renamed-custom", "cleaned", "controls-refuse", "model-refuses"])
def test_a_market_set_from_code_runs_as_with_the_controls_on_the_page(
        setter, phase_mode, market, model_refuses, monkeypatch):
    runs = []
    for show in (True, False):
        ex = CascadeExplorer(SMALL, phase_mode=phase_mode, show_controls=show)
        for _ in range(3):  # in phase mode: mid-round
            ex.step()
        with monkeypatch.context() as m:
            if model_refuses:
                m.setattr(Scenario, "cascade", boom)
            setter(ex, market)
        ex.step()
        ex.step()
        seen = cascade_seen(ex)
        ex.controls.knobs["shock"].value = 12.0  # and the controls work on afterwards
        ex.step()
        runs.append((seen, cascade_seen(ex)))
    assert runs[0] == runs[1]
    seen, after = runs[1]
    if model_refuses:
        assert any("back to the market that runs" in line for line in seen["narration"])
        assert seen["scenario"] == seen["controls"] == SMALL.replace(name="custom")
    elif market is not CONTROLS_REFUSE:
        assert seen["controls"] == seen["scenario"] != SMALL.replace(name="custom")
    assert after["scenario"].shock == 0.12 and after["controls"] == after["scenario"]


def test_the_controls_refuse_a_market_and_say_so_with_or_without_a_page():
    """The path of a market the controls cannot show (their reading refuses it): the run on
    screen stays, and the narration says why, for both explorers alike."""
    ex = CascadeExplorer(SMALL, show_controls=False)
    ex.step()
    ex.set_scenario(CONTROLS_REFUSE)
    assert ex.narration[-1].startswith("Those settings cannot be used (mmr 0.05")
    assert ex.cascade.history and ex.controls.scenario == ex.scenario == SMALL.replace(
        name="custom")


def test_set_scenario_goes_through_the_controls_even_for_the_market_that_runs():
    ex = CascadeExplorer(SMALL, show_controls=False)
    ex.step()
    with counting() as made:
        ex.set_scenario(ex.scenario)  # as on the page: the controls show it, nothing restarts
    assert made and ex.controls.scenario == ex.scenario
    on_page = CascadeExplorer(SMALL)
    on_page.step()
    on_page.set_scenario(on_page.scenario)
    assert ex.narration == on_page.narration and ex.round == 0


@pytest.mark.parametrize("setter", [LendingExplorer.set_scenario, set_trait],
                         ids=["set_scenario", "trait"])
@pytest.mark.parametrize("phase_mode", [False, True])
@pytest.mark.parametrize("market, model_refuses", [
    (LENDING_PRESETS["stale-oracle"], False), (ETH.replace(gas_cost=7.0), False),
    (LENDING_PRESETS["book"], True)],
    ids=["preset", "custom", "model-refuses"])
def test_a_lending_market_set_from_code_runs_as_with_the_controls_on_the_page(
        setter, phase_mode, market, model_refuses, monkeypatch):
    runs = []
    for show in (True, False):
        ex = LendingExplorer(ETH, phase_mode=phase_mode, show_controls=show)
        ex.step()
        ex.step()
        with monkeypatch.context() as m:
            if model_refuses:
                m.setattr(lending_ui, "LendingCascade", boom)
            setter(ex, market)
        ex.step()
        seen = lending_seen(ex)
        ex.controls.knobs["gas_cost"].value = 100.0
        ex.step()
        runs.append((seen, lending_seen(ex)))
    assert runs[0] == runs[1]
    seen, after = runs[1]
    if model_refuses:
        assert seen["scenario"] == seen["controls"] == ETH
    else:
        assert seen["scenario"] == seen["controls"] != ETH
    assert after["scenario"].gas_cost == 100.0 and after["controls"] == after["scenario"]
