"""The command line's printout names its units and its settings (issue 10, item 10).

Every column of ``round_table`` names its unit, in its header or in every cell; the header's
open interest is given in the same units as the table's "open int. (units)" column; a second line
lists every setting that differs from the preset (mechanisms included); halted rounds are marked,
so that a run's "rounds" (every row after round 0) can be read off the table.
"""

from __future__ import annotations

import json
import re

import pytest

from marginloops import Scenario, round_table
from marginloops.cli import main, settings_line
from marginloops.narration import TABLE_COLUMNS, default_columns

CROWDED = Scenario.preset("crowded-longs")
#: Runs that between them show every optional column: partial liquidation, a breaker, ADL.
RUNS = {
    "plain": CROWDED,
    "partial": CROWDED.replace(partial="fraction"),
    "breaker": CROWDED.replace(breaker_move=0.02, recovery=0.5),
    "adl": CROWDED.replace(adl=True),
}
#: Columns with no unit: a round's number, a ratio of two drops in the same unit, a yes/no.
UNITLESS = {"round", "drop_ratio", "halted"}
UNIT_IN_HEADER = re.compile(r"\((USD|units|positions)\)$")
UNIT_IN_CELL = re.compile(r"(USD|%)$")


def run_cli(argv, capsys):
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def cells_by_column(history, columns):
    """{column: (header, [cell, ...])}: each column rendered alone, so spaces cannot mislead."""
    out = {}
    for c in columns:
        lines = round_table(history, columns=(c,)).splitlines()
        out[c] = (lines[0].strip(), [line.strip() for line in lines[1:]])
    return out


@pytest.mark.parametrize("name", RUNS)
def test_every_column_names_its_unit_in_its_header_or_in_every_cell(name):
    history = RUNS[name].cascade().run()
    for column, (head, cells) in cells_by_column(history, TABLE_COLUMNS).items():
        if column in UNITLESS:
            continue
        assert UNIT_IN_HEADER.search(head) or all(UNIT_IN_CELL.search(c) for c in cells), (
            f"column {column!r} ({head!r}) names no unit: {cells[:3]}")


def test_the_default_columns_show_every_optional_column_where_it_applies():
    assert "reduced" in default_columns(RUNS["partial"].cascade().run())
    assert "halted" in default_columns(RUNS["breaker"].cascade().run())
    assert "adl_cost" in default_columns(RUNS["adl"].cascade().run())
    plain = default_columns(RUNS["plain"].cascade().run())
    assert not {"reduced", "halted", "adl_cost"} & set(plain)


def test_halted_rounds_are_marked_and_counted_among_the_rounds():
    """Lesson 05's "21 rounds" with a 2% breaker: every row after round 0, halted ones too."""
    history = RUNS["breaker"].cascade().run()
    head, cells = cells_by_column(history, ("halted",))["halted"]
    assert head == "halted"
    assert cells == ["yes" if r.halted else "no" for r in history]
    assert cells.count("yes") == 2 and history[-1].round == len(history) - 1 == 21


def test_header_gives_open_interest_in_the_tables_units_and_in_usd(capsys):
    code, out, _ = run_cli(["--preset", "crowded-longs"], capsys)
    assert code == 0
    head, settings, blank, table = out.splitlines()[:4]
    first_row = out.splitlines()[4]
    assert "250,000 units open, 25.0M USD at the mid" in head
    assert "open int. (units)" in table
    # the table's round-0 open interest is the header's figure
    assert "250,000" in first_row.split()
    assert settings == "Settings: the preset crowded-longs, unchanged." and blank == ""


def test_header_lists_every_setting_changed_from_the_preset_mechanisms_included(capsys):
    code, out, _ = run_cli(["--preset", "crowded-longs", "--set", "breaker_move=2%",
                            "--set", "recovery=50%", "--set", "adl=true"], capsys)
    assert code == 0
    settings = " ".join(line.strip() for line in out.split("\n\n")[0].splitlines()[1:])
    # recovery 50% is the preset's own value: named as kept, since the breaker uses it
    assert settings == ("Settings changed from the preset crowded-longs: breaker_move 2.0%, "
                        "adl true (with breaker_rounds 2, breaker_reference round, "
                        "recovery 50.0% as they were).")
    code, out, _ = run_cli(["--set", "breaker_move=2%", "--set", "recovery=20%"], capsys)
    settings = " ".join(line.strip() for line in out.split("\n\n")[0].splitlines()[1:])
    assert settings == ("Settings changed from the preset crowded-longs: breaker_move 2.0%, "
                        "recovery 20.0% (with breaker_rounds 2, breaker_reference round as "
                        "they were).")


def test_a_scenario_file_is_described_against_its_preset_or_the_defaults(tmp_path, capsys):
    with_preset = tmp_path / "a.json"
    with_preset.write_text(json.dumps({"preset": "thin-book", "call_auction": True}))
    code, out, _ = run_cli(["--scenario", str(with_preset)], capsys)
    assert code == 0
    assert out.splitlines()[1] == ("Settings changed from the preset thin-book: call_auction true "
                                   "(with recovery 50.0% as they were).")
    custom = tmp_path / "b.json"
    custom.write_text(json.dumps({"name": "my market", "shock": 0.07}))
    code, out, _ = run_cli(["--scenario", str(custom)], capsys)
    assert code == 0
    assert out.splitlines()[1] == "Settings changed from the defaults: shock 7.0%."


def test_settings_line_of_an_unchanged_variant_is_the_preset():
    back = CROWDED.variant(shock=0.1).variant(shock=0.03)
    assert settings_line(back) == "Settings: the preset crowded-longs, unchanged."


def test_readme_describes_the_printout_as_it_is(capsys):
    from pathlib import Path

    readme = " ".join((Path(__file__).parents[1] / "README.md").read_text().split())
    code, out, _ = run_cli(["--set", "breaker_move=2%"], capsys)
    settings = " ".join(line.strip() for line in out.split("\n\n")[0].splitlines()[1:])
    shown = settings.removeprefix("Settings changed from the preset crowded-longs: ")
    assert f"`{shown.removesuffix('.')}`" in readme
    assert "`price (USD)`, `open int. (units)`" in readme and "halted" in readme
