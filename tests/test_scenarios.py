"""Scenario checks, presets, JSON round trips and rejection of bad files."""

import dataclasses
import json

import numpy as np
import pytest

from marginloops import PRESETS, Scenario


def test_defaults_build_a_cascade():
    cas = Scenario().cascade()
    assert len(cas.positions) == 2000 and cas.start_price == 99.99


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_presets_run_to_an_end_and_round_trip(name, tmp_path):
    scenario = Scenario.preset(name)
    hist = scenario.cascade().run()
    assert hist[-1].end_reason in ("fixed_point", "book_exhausted")
    path = tmp_path / "s.json"
    scenario.save(path)
    assert Scenario.load(path) == scenario
    assert Scenario.from_json(scenario.to_json()).to_json() == scenario.to_json()


def test_presets_tell_their_stories():
    def drop(name):
        hist = Scenario.preset(name).cascade().run()
        return hist[-1].price_after / hist[0].price_before - 1, hist
    calm, calm_hist = drop("calm-market")
    crowded, crowded_hist = drop("crowded-longs")
    thin, thin_hist = drop("thin-book")
    squeeze, squeeze_hist = drop("short-squeeze")
    shock = calm_hist[0].price_change
    assert calm == pytest.approx(shock, abs=0.002)          # the shock is absorbed
    assert crowded < 3 * crowded_hist[0].price_change       # a 3% dip becomes more than 9%
    assert len(crowded_hist) >= 5                           # over several rounds
    assert thin < 3 * thin_hist[0].price_change
    assert squeeze > 2 * squeeze_hist[0].price_change > 0   # a squeeze up, amplified
    assert squeeze_hist[1].liquidated_side == "short"


def test_replace_is_checked():
    with pytest.raises(ValueError, match="shock must be in \\(0, 1\\), got 1.5"):
        Scenario().replace(shock=1.5)


@pytest.mark.parametrize("field,value,needle", [
    ("shock", 0, "shock must be in (0, 1), got 0"),
    ("shock", "big", "shock must be a number in (0, 1), got 'big'"),
    ("n_positions", -1, "n_positions must be in [0, 2000000], got -1"),
    ("n_positions", 2.5, "n_positions must be a whole number"),
    ("mmr", 0.6, "mmr must be in [0, 0.5], got 0.6"),
    ("mmr", 0.02, "mmr 0.02 allows leverage below 50x, but leverage_mix has 100x: lower mmr "
                  "below 0.01 or the leverage below 50x"),
    ("depth_1pct", float("nan"), "depth_1pct must be a finite number"),
    ("book_shape", "jagged", "book_shape must be one of ('flat', 'growing')"),
    ("direction", "left", "direction must be one of ('down', 'up')"),
    ("leverage_mix", ((0.5, 1),), "leverage_mix leverage must be in [1, 200), got 0.5"),
    ("leverage_mix", (), "leverage_mix must hold at least one"),
    ("leverage_mix", ((10, -1),), "leverage_mix weight must be >= 0, got -1"),
    ("tick", 0.000001, "tick must give at most 2,000,000 book levels"),
    ("tick", 5.0, "tick must be in (0, 1]"),
    ("seed", -3, "seed must be in [0, 4294967295], got -3"),
    ("liquidation_fee", 0.5, "liquidation_fee must be in [0, 0.1], got 0.5"),
    ("breaker_move", 0.9, "breaker_move must be in [0.001, 0.5], got 0.9"),
    ("breaker_rounds", 0, "breaker_rounds must be in [1, 100], got 0"),
    ("breaker_reference", "noon", "breaker_reference must be one of ('round', 'start')"),
    ("recovery", -0.1, "recovery must be in [0, 1], got -0.1"),
    ("call_auction", 1, "call_auction must be true or false, got 1"),
    ("refill_at", "top", "refill_at must be one of ('touch', 'levels')"),
    ("withdrawal", 200, "withdrawal must be in [0, 100], got 200"),
    ("resilience", True, "resilience must be a number in [0, 1], got True"),
])
def test_bad_fields_are_named(field, value, needle):
    with pytest.raises(ValueError) as err:
        Scenario(**{field: value})
    assert needle in str(err.value)


def test_json_rejects_malformed_files(tmp_path):
    good = Scenario().to_dict()
    cases = [
        ("{not json", "not valid JSON"),
        ("[1, 2]", "scenario must be a JSON object"),
        (json.dumps({**good, "format": "other/9"}), "format must be 'marginloops.scenario/2'"),
        (json.dumps({**good, "colour": "red"}), "unknown key 'colour'"),
        (json.dumps({**good, "shock": 7}), "shock must be in (0, 1), got 7"),
        (json.dumps({**good, "leverage_mix": [[10, 1, 3]]}), "leverage_mix must be a list of"),
        (json.dumps({**good, "seed": "x"}), "seed must be a whole number"),
    ]
    for text, needle in cases:
        path = tmp_path / "bad.json"
        path.write_text(text)
        with pytest.raises(ValueError) as err:
            Scenario.load(path)
        assert needle in str(err.value), text


def test_json_keeps_every_field():
    s = Scenario(name="x", shock=0.123456789, leverage_mix=((3, 0.5), (7, 0.5)),
                 liquidation_fee=0.005, resilience=0.25, seed=99, direction="up")
    back = Scenario.from_json(s.to_json())
    assert dataclasses.asdict(back) == dataclasses.asdict(s)


def test_unknown_preset():
    with pytest.raises(ValueError, match="preset must be one of"):
        Scenario.preset("nope")


def test_format_1_files_load_with_the_mechanisms_off():
    from marginloops.scenarios import _FORMAT_2_FIELDS
    old = {k: v for k, v in Scenario().to_dict().items() if k not in _FORMAT_2_FIELDS}
    assert "mmr" in old and "partial" not in old
    old["format"] = "marginloops.scenario/1"
    assert Scenario.from_dict(old) == Scenario()


def test_mechanism_fields_reach_the_cascade_and_round_trip():
    s = Scenario.preset("crowded-longs").replace(
        breaker_move=0.02, breaker_rounds=3, breaker_reference="start", recovery=0.25,
        call_auction=True, refill_at="levels", withdrawal=0.5)
    cas = s.cascade()
    assert (cas.breaker.move, cas.breaker.halt_rounds, cas.breaker.reference) == (0.02, 3,
                                                                                   "start")
    assert (cas.recovery, cas.call_auction, cas.refill_at, cas.withdrawal) == (
        0.25, True, "levels", 0.5)
    assert Scenario.from_json(s.to_json()) == s
    hist = cas.run()
    assert any(r.halted for r in hist) and any(r.uniform_price for r in hist)


def test_mechanisms_off_change_nothing():
    base = Scenario.preset("crowded-longs")
    explicit = base.replace(breaker_move=None, call_auction=False, refill_at="touch",
                            withdrawal=0.0, recovery=0.9)  # recovery unused without a pause
    a, b = base.cascade().run(), explicit.cascade().run()
    assert [(r.price_after, r.n_liquidated, r.bad_debt) for r in a] == [
        (r.price_after, r.n_liquidated, r.bad_debt) for r in b]


def test_a_circuit_breaker_dampens_the_crowded_longs_crash():
    base = Scenario.preset("crowded-longs").replace(resilience=0.3)
    plain = base.cascade().run()
    halted = base.replace(breaker_move=0.02, breaker_rounds=2, recovery=0.5).cascade().run()
    fall = [1 - h[-1].price_after / h[0].price_before for h in (plain, halted)]
    assert fall[1] < fall[0]
    assert sum(r.halted for r in halted) >= 2


def test_tiered_scenario_round_trips_and_runs():
    s = Scenario.preset("crowded-longs").replace(
        mmr_tiers=((0, 0.004), (50_000, 0.005), (250_000, 0.01)))
    assert Scenario.from_json(s.to_json()) == s
    cas = s.cascade()
    assert set(np.unique(cas.positions.mmr)) <= {0.004, 0.005, 0.01}
    assert cas.run()[-1].end_reason == "fixed_point"
    with pytest.raises(ValueError, match="mmr_tiers' first floor must be 0"):
        s.replace(mmr_tiers=((5, 0.01),))
