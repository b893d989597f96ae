"""Every input to Scenario, its files and the command line answered clearly (issue 9, items 1,
2, 4 and 5): a ValueError naming the field in Python, one ``marginloops: error:`` line and exit
status 2 on the command line; never a traceback, never a warning, never silent nonsense."""

import dataclasses
import json
import math
import os
import subprocess
import sys
import warnings
from decimal import Decimal

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from marginloops import PRESETS, Scenario
from marginloops import scenarios as scenarios_module
from marginloops.cli import main
from marginloops.scenarios import FRACTION_FIELDS, MAX_FILE_BYTES

FIELDS = [f.name for f in dataclasses.fields(Scenario)]


def run_cli(argv, capsys):
    """``main(argv)``: (exit status, stdout, stderr), with no warning allowed."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def assert_cli_error(code, err, *needles):
    assert code == 2
    assert err.startswith("marginloops: error: ") and err.count("\n") == 1, err
    assert "Traceback" not in err
    for needle in needles:
        assert needle in err, (needle, err)


# ------------------------------------------------------------------- item 1: mmr_tiers
@pytest.mark.parametrize("value", [None, 0, 1.5, {}, "", "0:0.004", {"0": 0.004}, True,
                                   [0, 0.004], [[0]], [[0, 0.004, 1]], [["0", 0.004]],
                                   [[0, "0.004"]], [[0, True]], [[0, float("nan")]],
                                   [[0, [0.004]]]])
def test_mmr_tiers_of_the_wrong_type_are_refused_by_name(value):
    with pytest.raises(ValueError, match="mmr_tiers"):
        Scenario(mmr_tiers=value)


@pytest.mark.parametrize("value", [(), [], np.empty((0, 2))])
def test_an_empty_sequence_means_no_tiers(value):
    assert Scenario(mmr_tiers=value).mmr_tiers == ()


def test_tiers_as_lists_arrays_or_margin_tiers_are_the_same():
    from marginloops.tiers import MarginTiers
    want = ((0.0, 0.004), (50_000.0, 0.005))
    for value in ([[0, 0.004], [50_000, 0.005]], np.array(want), MarginTiers(want), want):
        assert Scenario(mmr_tiers=value).mmr_tiers == want


def test_a_file_with_null_tiers_is_one_cli_error(tmp_path, capsys):
    path = tmp_path / "t.json"
    path.write_text('{"mmr_tiers": null}')
    with pytest.raises(ValueError, match="mmr_tiers must be a list of"):
        Scenario.load(path)
    assert_cli_error(*run_cli(["--scenario", str(path)], capsys)[::2], "mmr_tiers", "t.json")
    path.write_text('{"mmr_tiers": []}')
    assert Scenario.load(path) == Scenario()


# --------------------------------------------------------- item 2: reading scenario files
def bad_files():
    return {
        "nested.json": ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
        "nested-in-object.json": ('{"name": ' + "[" * 100_000 + "]" * 100_000 + "}",
                                  "nested too deeply"),
        "latin1.json": ('{"name": "caf\xe9"}'.encode("latin-1"), "is not UTF-8 text"),
        "list.json": ("[1, 2]", "must be a JSON object"),
        "number.json": ("3", "must be a JSON object"),
        "null.json": ("null", "must be a JSON object"),
        "empty.json": ("", "is not valid JSON"),
        "digits.json": ('{"seed": ' + "9" * 5000 + "}", "is not valid JSON"),
        "truncated.json": ('{"shock": 0.1', "is not valid JSON"),
    }


@pytest.mark.parametrize("name", sorted(bad_files()))
def test_every_unreadable_file_is_one_clear_error(name, tmp_path, capsys):
    content, needle = bad_files()[name]
    path = tmp_path / name
    (path.write_bytes if isinstance(content, bytes) else path.write_text)(content)
    with pytest.raises(ValueError) as err:
        Scenario.load(path)
    assert needle in str(err.value) and name in str(err.value)
    code, out, err = run_cli(["--scenario", str(path)], capsys)
    assert_cli_error(code, err, needle, name)
    assert out == ""


def test_a_file_too_big_is_refused_before_it_is_read(tmp_path, monkeypatch, capsys):
    path = tmp_path / "huge.json"
    with open(path, "wb") as f:
        f.truncate(MAX_FILE_BYTES + 1)  # sparse: no disk used

    def no_reading(*args, **kwargs):
        raise AssertionError("the file was opened")
    monkeypatch.setattr(scenarios_module, "open", no_reading, raising=False)
    with pytest.raises(ValueError, match=r"huge.json' is 10.0 MB; a scenario file may be at "
                                         r"most 10 MB"):
        Scenario.load(path)
    assert_cli_error(*run_cli(["--scenario", str(path)], capsys)[::2], "at most 10 MB")
    assert MAX_FILE_BYTES == 10 * 2**20


def test_a_device_without_a_size_is_read_only_up_to_the_cap():
    if not os.path.exists("/dev/zero") or sys.platform == "win32":
        pytest.skip("no /dev/zero")
    # In a child with 1 GB of address space at most: reading /dev/zero whole must not be tried.
    code = ("import resource; resource.setrlimit(resource.RLIMIT_AS, (2**30, 2**30)); "
            "from marginloops import Scenario\n"
            "try:\n    Scenario.load('/dev/zero')\nexcept ValueError as e:\n    print(e)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)
    assert "'/dev/zero' is 10.0 MB; a scenario file may be at most 10 MB" in proc.stdout


@pytest.mark.parametrize("make,needle", [
    (lambda p: p.mkdir(), "is a directory"),
    (lambda p: None, "does not exist"),
])
def test_missing_files_and_directories(make, needle, tmp_path, capsys):
    path = tmp_path / "x.json"
    make(path)
    with pytest.raises(ValueError, match=needle):
        Scenario.load(path)
    assert_cli_error(*run_cli(["--scenario", str(path)], capsys)[::2], needle, "x.json")


@pytest.mark.parametrize("path", ["", "  ", None, 5, [], b"", "a\0b"])
def test_load_and_save_refuse_what_is_not_a_file_name(path):
    with pytest.raises(ValueError, match="path must be a file name"):
        Scenario.load(path)
    with pytest.raises(ValueError, match="path must be a file name"):
        Scenario().save(path)


def test_a_utf8_bom_is_read(tmp_path):
    path = tmp_path / "bom.json"
    path.write_bytes(b"\xef\xbb\xbf" + Scenario(shock=0.2).to_json().encode())
    assert Scenario.load(path) == Scenario(shock=0.2)


@pytest.mark.parametrize("text", [None, 5, ["{}"], b"\xff{}"])
def test_from_json_refuses_what_is_not_text(text):
    with pytest.raises(ValueError, match="scenario JSON"):
        Scenario.from_json(text)


# ------------------------------------------------- item 4: real numbers only, everywhere
@pytest.mark.parametrize("kwargs,needle", [
    (dict(leverage_mix=((True, 1),)), "leverage_mix leverage must be a number, got True"),
    (dict(leverage_mix=((10, False),)), "leverage_mix weight must be a number, got False"),
    (dict(leverage_mix=(("10", "1"),)), "leverage_mix leverage must be a number, got '10'"),
    (dict(leverage_mix=((np.bool_(True), 1),)), "leverage_mix leverage must be a number"),
    (dict(leverage_mix="10:1"), "leverage_mix must be a list of"),
    (dict(leverage_mix=((10, 1, 2),)), "leverage_mix must be a list of"),
    (dict(leverage_mix=((10, 1e308), (20, 1e308))), "leverage_mix weight"),
    (dict(mmr_tiers=((0, "0.004"),)), "mmr_tiers rate must be a number, got '0.004'"),
    (dict(n_positions=True), "n_positions must be a whole number in [0, 2000000], got True"),
    (dict(n_positions=np.bool_(True)), "n_positions must be a whole number"),
    (dict(price="100"), "price must be a number in (0, 1000000000], got '100'"),
    (dict(price=10**400), "price must be in (0, 1000000000], got a number too large"),
    (dict(shock="0.1"), "shock must be a number in (0, 1), got '0.1'"),
    (dict(shock=True), "shock must be a number in (0, 1), got True"),
    (dict(liquidation_fee="0.01"), "liquidation_fee must be a number in [0, 0.1] (or none)"),
    (dict(breaker_move=False), "breaker_move must be a number in [0.001, 0.5] (or none)"),
    (dict(seed=1.0), "seed must be a whole number"),
    (dict(call_auction="true"), "call_auction must be true or false, got 'true'"),
    (dict(direction=["down"]), "direction must be one of ('down', 'up'), got ['down']"),
    (dict(partial=0), "partial must be one of (None, 'fraction', 'restore', 'tier'), got 0"),
    (dict(name=None), "name must be a string, got None"),
])
def test_bools_strings_and_wrong_types_are_refused_by_name(kwargs, needle):
    with pytest.raises(ValueError) as err:
        Scenario(**kwargs)
    assert needle in str(err.value)


def test_the_same_rule_in_a_json_file():
    for body, needle in [('{"leverage_mix": [[true, 1]]}', "leverage_mix leverage"),
                         ('{"leverage_mix": [["10", "1"]]}', "leverage_mix leverage"),
                         ('{"mmr_tiers": [[0, "0.004"]]}', "mmr_tiers rate"),
                         ('{"n_positions": true}', "n_positions"),
                         ('{"price": "100"}', "price"),
                         ('{"shock": "0.1"}', "shock"),
                         ('{"shock": NaN}', "shock must be a finite number"),
                         ('{"price": Infinity}', "price must be a finite number"),
                         ('{"price": -Infinity}', "price must be a finite number"),
                         ('{"insurance_fund": 1e400}', "insurance_fund must be a finite"),
                         ('{"leverage_mix": [[10, NaN]]}', "leverage_mix weight must be a finite"),
                         ('{"call_auction": 1}', "call_auction must be true or false")]:
        with pytest.raises(ValueError) as err:
            Scenario.from_json(body)
        assert needle in str(err.value), body


def test_numpy_numbers_are_numbers():
    s = Scenario(shock=np.float64(0.1), n_positions=np.int64(10),
                 leverage_mix=np.array([[10, 1], [20, 1]]))
    assert s == Scenario(shock=0.1, n_positions=10, leverage_mix=((10, 1), (20, 1)))
    assert type(s.n_positions) is int and type(s.leverage_mix[0][0]) is float


# ---------------------------------------- item 5: partial files, the conflict, naming
def test_a_file_may_give_only_what_it_changes():
    assert Scenario.from_json('{"shock": 0.1}') == Scenario(shock=0.1)
    thin = Scenario.from_json('{"preset": "thin-book", "shock": 0.1}')
    assert thin == PRESETS["thin-book"].replace(
        shock=0.1, name="thin-book (changed)", description="thin-book with shock 10.0%")
    # The preset itself, when nothing differs from it.
    assert Scenario.from_json('{"preset": "thin-book"}') == PRESETS["thin-book"]
    assert Scenario.from_json('{"preset": "thin-book", "shock": 0.03}') == PRESETS["thin-book"]
    # Names given in the file are kept; the description still says what changed.
    mine = Scenario.from_dict({"preset": "thin-book", "shock": 0.1, "name": "mine"})
    assert mine.name == "mine" and mine.description == "thin-book with shock 10.0%"
    assert Scenario.from_dict({"format": "marginloops.scenario/2", "seed": 3}) == Scenario(seed=3)


@pytest.mark.parametrize("data,message", [
    ({"shok": 0.1}, "scenario has unknown key 'shok' (did you mean 'shock'?); a key is a "
                    "Scenario field, \"preset\" or \"format\""),
    ({"shock": 0.1, "colour": "red", "seeds": 3},
     "scenario has unknown keys 'colour', 'seeds' (did you mean 'seed'?)"),
    ({"preset": "thin", "shock": 0.1}, "preset must be one of ['binance-style', 'calm-market', "
                                       "'crowded-longs', 'hyperliquid-style', 'short-squeeze', "
                                       "'thin-book'], got 'thin'"),
    ({"preset": None}, "preset must be one of"),
    ({"format": "marginloops.scenario/4", "shock": 0.1}, "format must be "
     "'marginloops.scenario/2' (or 'marginloops.scenario/1' or 'marginloops.scenario/3', or "
     "left out), got 'marginloops.scenario/4'"),
    # format 3 is nested by concern: a flat field at its top is a mistake named alone
    ({"format": "marginloops.scenario/3", "shock": 0.1}, "scenario (format 3) has unknown key "
     "'shock'; a key is one of ['market', 'venue', 'accounts', 'mechanisms']"),
    ({"format": ["x"]}, "format must be"),
    ({"shock": 7}, "shock must be in (0, 1), got 7"),
])
def test_a_real_mistake_is_named_alone(data, message):
    with pytest.raises(ValueError) as err:
        Scenario.from_dict(data)
    assert str(err.value).startswith(message)
    assert "missing" not in str(err.value)


def test_the_old_complete_files_still_load(tmp_path):
    for name, scenario in PRESETS.items():
        changed = scenario.variant(shock=0.07, seed=5)
        for s in (scenario, changed):
            path = tmp_path / f"{name}.json"
            s.save(path)
            assert Scenario.load(path) == s
            assert json.loads(path.read_text())["format"] == "marginloops.scenario/2"


@pytest.mark.parametrize("mmr,mix,message", [
    (0.2, ((10, 1),), "mmr 0.2 allows leverage below 5x, but leverage_mix has 10x: lower mmr "
                      "below 0.1 or the leverage below 5x"),
    (0.005, ((10, 1), (250, 1)), "mmr 0.005 allows leverage below 200x, but leverage_mix has "
                                 "250x: lower mmr below 0.004 or the leverage below 200x"),
    (0.01, ((100, 1),), "mmr 0.01 allows leverage below 100x, but leverage_mix has 100x"),
])
def test_a_leverage_and_mmr_conflict_names_both_fields(mmr, mix, message):
    with pytest.raises(ValueError) as err:
        Scenario(mmr=mmr, leverage_mix=mix)
    assert str(err.value).startswith(message)
    # Each way out named in the message works.
    Scenario(mmr=mmr * 0.999 if mmr * max(m for m, _ in mix) == 1 else 0.9 / max(
        m for m, _ in mix), leverage_mix=mix)


def test_a_leverage_below_1_is_still_the_leverage_mix_alone():
    with pytest.raises(ValueError, match=r"leverage_mix leverage must be in \[1, 200\), got 0.5"):
        Scenario(leverage_mix=((0.5, 1),))


def test_the_cli_names_both_fields_of_a_conflict(capsys):
    code, _, err = run_cli(["--set", "mmr=0.2"], capsys)
    assert_cli_error(code, err, "mmr 0.2 allows leverage below 5x, but leverage_mix has 100x: "
                     "lower mmr below 0.01 or the leverage below 5x")


def test_variant_naming_rule():
    crowded = PRESETS["crowded-longs"]
    s = crowded.variant(shock=0.1)
    assert (s.name, s.description) == ("crowded-longs (changed)", "crowded-longs with shock "
                                                                  "10.0%")
    t = s.variant(seed=4, depth_1pct=6e6)
    assert (t.name, t.description) == ("crowded-longs (changed)", "crowded-longs with shock "
                                       "10.0%, depth_1pct 6,000,000, seed 4")
    assert t.variant(shock=0.03, seed=0, depth_1pct=1.5e6) is crowded
    assert crowded.variant(shock=0.03) is crowded                  # nothing changed
    assert crowded.replace(shock=0.1).name == "crowded-longs"      # replace is unchanged
    custom = Scenario(name="mine", description="my market").variant(direction="up")
    assert (custom.name, custom.description) == ("mine (changed)", "mine with direction up")
    assert Scenario().variant(shock=0.2).name == "custom"
    labelled = crowded.variant(shock=0.1, name="x")
    assert labelled.name == "x" and labelled.description == "crowded-longs with shock 10.0%"
    many = crowded.variant(leverage_mix=((5, 1), (20, 3)), mmr_tiers=((0, 0.004), (5e4, 0.01)),
                           breaker_move=0.05, call_auction=True, partial="fraction")
    assert many.description == (
        "crowded-longs with leverage_mix 5x 25.0%, 20x 75.0%, mmr_tiers 0.4% from 0 USD, "
        "1.0% from 50,000 USD, partial fraction, breaker_move 5.0%, call_auction true")


def test_set_then_save_marks_the_file_as_changed(tmp_path, capsys):
    path = tmp_path / "s.json"
    code, out, _ = run_cli(["--set", "shock=0.1", "--save", str(path)], capsys)
    assert code == 0
    saved = json.loads(path.read_text())
    assert saved["name"] == "crowded-longs (changed)"
    assert saved["description"] == "crowded-longs with shock 10.0%"
    assert "15% fall" not in path.read_text()
    assert out.startswith("Scenario: crowded-longs (changed)  (")
    # Loading it back names it the same, and changing it again still counts from the preset.
    code, out, _ = run_cli(["--scenario", str(path), "--set", "seed=2", "--save", str(path)],
                           capsys)
    assert out.startswith("Scenario: crowded-longs (changed)  (")
    assert Scenario.load(path).description == "crowded-longs with shock 10.0%, seed 2"
    # Without --set the preset keeps its own name.
    code, out, _ = run_cli(["--save", str(path)], capsys)
    assert Scenario.load(path) == PRESETS["crowded-longs"]
    assert out.startswith("Scenario: crowded-longs  (")


# ------------------------------------------------------------------------ the header
def test_no_positions_no_open_interest_claimed(capsys):
    code, out, _ = run_cli(["--set", "n_positions=0"], capsys)
    head = out.splitlines()[0]
    assert code == 0 and "no leveraged positions" in head
    assert "0 positions" not in head and "open," not in head and "25.0M" not in head


def test_header_numbers_go_through_the_formatters(capsys):
    code, out, _ = run_cli(["--set", "price=12345", "--set", "tick=1", "--set", "shock=1.25%",
                            "--set", "n_positions=1"], capsys)
    head = out.splitlines()[0]
    assert code == 0
    assert "(1 position, " in head and "1 positions" not in head
    assert "shock 1.25% down" in head           # not rounded to 1.3%
    assert "mid 12,345.00" in head and "best bid 12,344.00" in head


def test_a_shock_beyond_the_book_makes_one_claim_in_the_header(capsys):
    code, out, _ = run_cli(["--preset", "thin-book", "--set", "shock=0.99"], capsys)
    head = out.splitlines()[0]
    assert code == 0 and head.count("shock") == 1 and "shock 99.0% down" in head
    assert "50" not in head and "ran out" not in head


# ---------------------------------------------------------------- --set value parsing
@pytest.mark.parametrize("field", FRACTION_FIELDS)
def test_percent_is_read_for_every_fraction_field(field):
    from marginloops import cli
    assert cli._parse_value(field, "5%") == 0.05
    assert cli._parse_value(field, "12.5 %") == 0.125
    assert cli._parse_value(field, "0.05") == 0.05


@given(st.decimals(min_value=0, max_value=100, places=4, allow_nan=False))
@settings(max_examples=200, deadline=None)
def test_percent_is_the_exact_decimal_over_100(d):
    from marginloops import cli
    assert cli._parse_value("shock", f"{d}%") == float(Decimal(str(d)) / 100)


def test_set_percent_runs_like_the_fraction(capsys):
    a = run_cli(["--set", "shock=5%"], capsys)
    b = run_cli(["--set", "shock=0.05"], capsys)
    assert a[0] == b[0] == 0 and a[1] == b[1] and "shock 5.0% down" in a[1]
    assert run_cli(["--set", "mmr_tiers=0:0.4%,50000:0.5%", "--save", os.devnull], capsys)[0] == 0


@pytest.mark.parametrize("item,needles", [
    ("depth_1pct=5%", ["--set depth_1pct: cannot read '5%'", "expected a number"]),
    ("n_positions=True", ["--set n_positions: cannot read 'True'", "a whole number"]),
    ("shock=True", ["--set shock: cannot read 'True'"]),
    ("shock=nan", ["--set shock: cannot read 'nan'"]),
    ("shock=inf", ["--set shock: cannot read 'inf'"]),
    ("shock=", ["--set shock: cannot read ''"]),
    ("shock=٠.١", ["--set shock: cannot read"]),
    ("shock=1_0", ["--set shock: cannot read"]),
    ("call_auction=1", ["--set call_auction: cannot read '1'", "expected true or false"]),
    ("call_auction=yes", ["--set call_auction: cannot read 'yes'"]),
    ("breaker_move=never", ["--set breaker_move: cannot read 'never'", "or none"]),
    ("leverage_mix=10", ["--set leverage_mix: cannot read '10'", "leverage:weight pairs"]),
    ("leverage_mix=", ["--set leverage_mix: cannot read ''"]),
    ("leverage_mix=10:1:2", ["--set leverage_mix: cannot read"]),
    ("leverage_mix=10:50%", ["--set leverage_mix: cannot read"]),
    ("mmr_tiers=0:x", ["--set mmr_tiers: cannot read '0:x'", "floor:rate pairs"]),
    ("shok=0.1", ["'shok' is not a scenario field; did you mean 'shock'?"]),
    ("shock", ["--set takes FIELD=VALUE"]),
    ("n_positions=2.5", ["n_positions must be a whole number"]),
    ("shock=1e999", ["shock must be a finite number"]),
    ("leverage_mix=10:1e308,20:1e308", ["leverage_mix weight"]),
])
def test_set_values_are_read_strictly(item, needles, capsys):
    assert_cli_error(*run_cli(["--set", item], capsys)[::2], *needles)


@pytest.mark.parametrize("item,field,value", [
    ("breaker_move=none", "breaker_move", None),
    ("breaker_move=OFF", "breaker_move", None),
    ("liquidation_fee=off", "liquidation_fee", None),
    ("partial=none", "partial", None),
    ("mmr_tiers=none", "mmr_tiers", ()),
    ("call_auction=TRUE", "call_auction", True),
    ("n_positions=1e3", "n_positions", 1000),
    ("depth_1pct=3e6", "depth_1pct", 3e6),
    ("leverage_mix=5:1,20:1", "leverage_mix", ((5.0, 1.0), (20.0, 1.0))),
])
def test_set_values_that_are_read(item, field, value, tmp_path, capsys):
    path = tmp_path / "s.json"
    code, _, err = run_cli(["--set", "breaker_move=0.05", "--set", item, "--save", str(path)],
                           capsys)
    assert code == 0, err
    assert getattr(Scenario.load(path), field) == value


@pytest.mark.parametrize("argv,needle", [
    (["--save", ""], "--save needs a file name"),
    (["--save", "  "], "--save needs a file name"),
    (["--scenario", ""], "--scenario needs a file name"),
])
def test_empty_file_names_are_refused(argv, needle, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, out, err = run_cli(argv, capsys)
    assert_cli_error(code, err, needle)
    assert out == "" and list(tmp_path.iterdir()) == []


def test_save_to_a_directory_is_one_error(tmp_path, capsys):
    code, _, err = run_cli(["--save", str(tmp_path)], capsys)
    assert_cli_error(code, err, "cannot save the scenario to")


# ----------------------------------------------------------------------- broken pipes
def test_output_into_a_closed_pipe_ends_quietly():
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader is gone before the first byte: every write fails
    try:
        proc = subprocess.run([sys.executable, "-m", "marginloops", "--preset", "crowded-longs"],
                              stdout=write_end, stderr=subprocess.PIPE, text=True, timeout=120)
    finally:
        os.close(write_end)
    assert proc.stderr == ""
    assert proc.returncode == 1


@pytest.mark.skipif(sys.platform == "win32", reason="needs a POSIX shell and head")
def test_piping_into_head():
    cmd = f"'{sys.executable}' -m marginloops --preset crowded-longs | head -1"
    proc = subprocess.run(cmd, shell=True, capture_output=True, text=True, timeout=120)
    assert proc.stdout.startswith("Scenario: crowded-longs  (") and proc.stdout.count("\n") == 1
    assert proc.stderr == ""


# --------------------------------------------------------------- the hostile-value sweep
HOSTILE = [float("nan"), float("inf"), -float("inf"), 1e308, -1e308, 10**400, True, False,
           np.bool_(True), "x", "0.1", "", [], [[]], [[1, 2], [3]], [[[1, 2]]], None, {},
           object(), 1 + 2j, np.array([1.0, 2.0])]


def accepted(field, value):
    """The few hostile values that are valid for a field."""
    if field in ("name", "description"):
        return isinstance(value, str)
    if field in ("mmr_tiers", "index_venues"):
        return isinstance(value, list) and value == []
    if field in ("liquidation_fee", "partial", "breaker_move"):
        return value is None
    if field in ("call_auction", "adl"):
        return type(value) is bool
    return False


@pytest.mark.parametrize("field", FIELDS)
def test_sweep_scenario_fields(field):
    for value in HOSTILE:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            if accepted(field, value):
                Scenario(**{field: value})
                continue
            with pytest.raises(ValueError) as err:
                Scenario(**{field: value})
        assert field in str(err.value), (field, value, str(err.value))
        assert "\n" not in str(err.value) and len(str(err.value)) < 400


JSON_HOSTILE = [float("nan"), float("inf"), -float("inf"), 1e308, -1e308, True, False, "x",
                "0.1", "", [], [[]], [[1, 2], [3]], [[[1, 2]]], None, {}, {"a": 1}]


@pytest.mark.parametrize("field", FIELDS)
def test_sweep_json_fields(field, tmp_path):
    path = tmp_path / "s.json"
    for value in JSON_HOSTILE:
        text = json.dumps({field: value})  # NaN and Infinity as JSON's extension literals
        for load in (lambda text=text: Scenario.from_json(text),
                     lambda text=text: Scenario.from_dict(json.loads(text)),
                     lambda text=text: (path.write_text(text), Scenario.load(path))[1]):
            with warnings.catch_warnings():
                warnings.simplefilter("error")
                if accepted(field, value):
                    load()
                    continue
                with pytest.raises(ValueError) as err:
                    load()
            assert field in str(err.value), (field, value, str(err.value))


CLI_HOSTILE = ["nan", "inf", "-inf", "1e308", "-1e308", "1e999", "True", "False", "", "abc",
               "[]", "{}", "none", "1,2", "1:2:3", "10:", "5%", "-5%", "1" * 5000]


@pytest.mark.parametrize("field", FIELDS)
def test_sweep_cli_set(field, capsys):
    for text in CLI_HOSTILE:
        code, out, err = run_cli(["--set", f"{field}={text}"], capsys)
        assert "Traceback" not in err
        if code == 0:  # the few valid ones: a name, a description, none for an optional field
            assert err == "" and out.startswith("Scenario: ")
            continue
        assert_cli_error(code, err, field)
        assert out == ""


def test_sweep_cli_valid_cases_are_the_expected_ones(capsys):
    ok = {(f, t) for f in FIELDS for t in CLI_HOSTILE
          if run_cli(["--set", f"{f}={t}"], capsys)[0] == 0}
    strings = {(f, t) for f in ("name", "description") for t in CLI_HOSTILE}
    optional = {("liquidation_fee", "none"), ("partial", "none"), ("breaker_move", "none"),
                ("mmr_tiers", "none"), ("mmr_tiers", ""), ("index_venues", "none"),
                ("index_venues", "")}
    flags = {(f, t) for f in ("call_auction", "adl") for t in ("True", "False")}
    # 5% is a valid value of every fraction field but mmr (5% allows leverage below 20x only)
    # and arbitrage (it trades with index venues, which the defaults have none of)
    fractions = {(f, "5%") for f in FRACTION_FIELDS if f not in ("mmr", "arbitrage")}
    assert ok == strings | optional | flags | fractions


@pytest.mark.parametrize("argv,needle", [
    (["--set", "shock=nan"], "--set shock"),
    (["--set", "mmr_tiers=abc"], "--set mmr_tiers"),
    (["--set", "leverage_mix=10:1e308,20:1e308"], "leverage_mix"),
    (["--set", "mmr=0.2"], "mmr 0.2 allows leverage below 5x"),
])
def test_sweep_in_a_real_process(argv, needle):
    proc = subprocess.run([sys.executable, "-W", "error", "-m", "marginloops", *argv],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.startswith("marginloops: error: ") and proc.stderr.count("\n") == 1
    assert needle in proc.stderr


def test_a_nested_file_in_a_real_process(tmp_path):
    path = tmp_path / "deep.json"
    path.write_text("[" * 100_000 + "]" * 100_000)
    bad = tmp_path / "bad.json"
    bad.write_bytes(b'{"name": "\xff"}')
    for p, needle in ((path, "nested too deeply"), (bad, "bad.json' is not UTF-8 text")):
        proc = subprocess.run([sys.executable, "-m", "marginloops", "--scenario", str(p)],
                              capture_output=True, text=True, timeout=120)
        assert proc.returncode == 2 and needle in proc.stderr
        assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr


@given(st.dictionaries(
    st.sampled_from(FIELDS + ["preset", "format"]),
    st.recursive(st.none() | st.booleans() | st.floats() | st.integers() | st.text(max_size=5),
                 lambda inner: st.lists(inner, max_size=3), max_leaves=6),
    max_size=4))
@settings(max_examples=300, deadline=None)
def test_any_json_object_is_a_scenario_or_a_value_error(data):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        try:
            s = Scenario.from_json(json.dumps(data))
        except ValueError as exc:
            assert "\n" not in str(exc)
        else:
            assert Scenario.from_json(s.to_json()) == s


@given(st.sampled_from(sorted(PRESETS)), st.data())
@settings(max_examples=60, deadline=None)
def test_a_partial_file_takes_the_rest_from_its_preset(preset, data):
    base = PRESETS[preset]
    full = base.to_dict()
    keys = data.draw(st.lists(st.sampled_from(FIELDS[2:]), unique=True, max_size=6))
    partial = {"preset": preset, **{k: full[k] for k in keys}}
    assert Scenario.from_dict(partial) is base     # the same values: the preset itself
    shock = data.draw(st.floats(0.01, 0.5).filter(lambda x: x != base.shock))
    changed = Scenario.from_dict({**partial, "shock": shock})
    assert changed.replace(name=base.name, description=base.description) == base.replace(
        shock=shock)
    assert changed.name == f"{preset} (changed)" and not math.isnan(changed.shock)


@pytest.mark.parametrize("field,value", [("open_interest", 5e-324), ("depth_1pct", 5e-324)])
def test_values_too_small_to_build_name_their_field(field, value, capsys):
    with pytest.raises(ValueError, match=field):
        Scenario(**{field: value}).cascade()
    assert_cli_error(*run_cli(["--set", f"{field}={value}"], capsys)[::2], field)


@given(st.fixed_dictionaries({
    "price": st.floats(1e-3, 1e9), "shock": st.floats(1e-6, 0.999),
    "direction": st.sampled_from(["down", "up"]), "n_positions": st.integers(0, 150),
    "open_interest": st.floats(1e-3, 1e13), "long_share": st.floats(0, 1),
    "mmr": st.floats(0, 0.0099), "entry_spread": st.floats(0, 0.9),
    "depth_1pct": st.floats(1e-3, 1e13), "book_shape": st.sampled_from(["flat", "growing"]),
    "book_range": st.floats(0.01, 0.99), "resilience": st.floats(0, 1),
    "insurance_fund": st.floats(0, 1e13), "liquidation_fee": st.none() | st.floats(0, 0.1),
    "partial": st.sampled_from([None, "fraction", "restore"]), "adl": st.booleans(),
    "breaker_move": st.none() | st.floats(0.001, 0.5), "call_auction": st.booleans(),
    "dynamic_margin": st.floats(0, 10), "withdrawal": st.floats(0, 100),
    "seed": st.integers(0, 2**32 - 1), "max_rounds": st.integers(1, 60)}))
@settings(max_examples=40, deadline=None)
def test_any_scenario_in_range_runs_or_says_why_without_warnings(kw):
    tick = min(0.01, 0.01 * kw["price"])
    if kw["book_range"] * kw["price"] / tick > 2_000_000:
        tick = kw["book_range"] * kw["price"] / 2_000_000
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        try:
            s = Scenario(tick=tick, **kw)
            hist = s.cascade().run()
        except ValueError as exc:
            assert "\n" not in str(exc)
        else:
            assert hist and all(math.isfinite(r.price_after) for r in hist)


@pytest.mark.parametrize("argv,needle", [
    (["--preset", "thin-book", "--scenario", "x.json"], "not allowed with argument --preset"),
    (["--bogus"], "unrecognized arguments: --bogus"),
    (["--set"], "argument --set: expected one argument"),
    (["--preset", "nope"], "preset must be one of"),
])
def test_usage_mistakes_are_one_line_and_status_2(argv, needle, capsys):
    code, out, err = run_cli(argv, capsys)
    assert_cli_error(code, err, needle)
    assert out == ""


def test_help_returns_0(capsys):
    code, out, _ = run_cli(["--help"], capsys)
    assert code == 0 and "preset" in out and "10%" in out


@pytest.mark.parametrize("name", [[], {}, None, 1, "", "Thin-Book"])
def test_preset_refuses_anything_but_a_preset_name(name):
    with pytest.raises(ValueError, match="preset must be one of"):
        Scenario.preset(name)
