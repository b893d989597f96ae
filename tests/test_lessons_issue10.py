"""The lessons as a student reads them (issue 10): clean code cells, one story across lessons.

nbval reads its markers either from a comment line in the cell or from the cell's tags
("nbval-check-output", "nbval-ignore-output": nbval 0.11, ``nbval/plugin.py``,
``comment_markers`` and ``metadata_tags``); the lessons use the tags only, so no student reads a
test marker. With ``--nbval-lax`` (pyproject) a cell's output is compared only when it is tagged
``nbval-check-output``, and notebooks are committed with outputs cleared except those cells.
"""

import json
import re
from pathlib import Path

import pytest

from marginloops import Scenario, crowding, round_table
from marginloops.course import story

LESSONS = sorted((Path(__file__).parents[1] / "lessons").glob("0*.ipynb"))
MARKER = re.compile(r"^\s*#+\s*(NBVAL_\w+|PYTEST_VALIDATE_\w+)\s*$", re.M)


def _code_cells(path):
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    return [(n, c) for n, c in enumerate(cells) if c["cell_type"] == "code"]


def test_there_are_nine_lessons():
    assert [p.name[:2] for p in LESSONS] == ["00", "01", "02", "03", "04", "05", "06", "07",
                                             "08"]


@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.name[:2])
def test_no_code_cell_carries_an_nbval_comment(path):
    marked = [n for n, c in _code_cells(path) if MARKER.search("".join(c["source"]))]
    assert not marked, f"{path.name}: cells {marked} show an nbval marker; use the cell's tags"


@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.name[:2])
def test_committed_outputs_are_exactly_the_checked_cells(path):
    """A stored output that nbval does not compare would be a stale picture of a result."""
    with_output = [n for n, c in _code_cells(path) if c.get("outputs")]
    checked = [n for n, c in _code_cells(path)
               if "nbval-check-output" in c["metadata"].get("tags", ())]
    assert with_output == checked, path.name
    assert checked, f"{path.name} checks no output"


@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.name[:2])
def test_committed_lessons_carry_no_saved_widget_state(path):
    """The environment saves widget state with a notebook (saveState, pyproject.toml): a lesson
    saved by its author after a run would carry stale explorers (about 220 kB each)."""
    notebook = json.loads(path.read_text(encoding="utf-8"))
    assert "widgets" not in notebook["metadata"], f"{path.name}: clear metadata.widgets"


@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.name[:2])
def test_no_cell_is_both_checked_and_ignored(path):
    both = [n for n, c in _code_cells(path)
            if {"nbval-check-output", "nbval-ignore-output"} <= set(c["metadata"].get("tags", ()))]
    assert not both, f"{path.name}: cells {both}"


# ------------------------------------------------------------------ one story across lessons


def test_the_first_band_is_the_crowding_ratio_of_lesson_3():
    market = Scenario.preset("crowded-longs")
    rows = story.crowd_in_bands(market, (1_500_000, 2_000_000), width=0.05, count=2)
    for depth, ratio in zip((1_500_000, 2_000_000), rows[0]["ratios"], strict=True):
        measured = crowding(market.replace(depth_1pct=depth).cascade(), band=0.05)
        assert ratio == pytest.approx(measured.ratio, rel=0.01)
    assert rows[0]["units"] == pytest.approx(measured.liquidation_units, rel=0.01)


def test_drop_ratios_are_the_round_tables():
    market = Scenario.preset("crowded-longs").replace(depth_1pct=2_000_000)
    mine = [line.split()[-1] for line in story.drop_ratio_table(market, ()).splitlines()[2:]]
    theirs = [line.split()[-1] for line in round_table(
        market.cascade().run(), columns=("round", "drop_ratio")).splitlines()[1:]]
    assert mine == theirs


def test_the_2m_row_is_above_the_closed_form_because_the_crowd_is_denser_further_down():
    """Lesson 3's explanation, checked: the run crosses into a band with a higher n/D, and the
    ratios it meets average above the first band's."""
    market = Scenario.preset("crowded-longs")
    first, second = (r["ratios"][0] for r in story.crowd_in_bands(market, (2_000_000,),
                                                                    count=2))
    assert second > first
    history = market.replace(depth_1pct=2_000_000).cascade().run()
    drops = [r.price_before - r.price_after for r in history]
    met = [b / a for a, b in zip(drops[1:6], drops[2:7], strict=True)]  # rounds 2 to 6
    assert sum(met) / len(met) > first
    assert 1 - history[-1].price_after / history[0].price_before > 0.05  # past the first band


@pytest.mark.parametrize("kw", [dict(width=0), dict(width=0.5, count=2), dict(count=0),
                                dict(count=1.5), dict(width=True)])
def test_bad_bands_are_refused(kw):
    with pytest.raises(ValueError, match="width|count"):
        story.crowd_in_bands(None, (), **kw)


def _markdown(number: str) -> str:
    (path,) = [p for p in LESSONS if p.name.startswith(number)]
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    return "".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")


def test_n_and_d_have_one_definition_in_the_same_words():
    for number in ("03", "04"):
        prose = " ".join(_markdown(number).split())
        assert "units of positions liquidated per dollar of price fall" in prose, number
        assert "units of buy orders in the book per dollar of price" in prose, number
    assert "USD of positions that would be liquidated per 1%" not in _markdown("04")


def test_rounds_are_defined_in_the_same_words():
    """Round 0 is the shock; "rounds" counts the rounds after it, halted ones included."""
    for number in ("00", "03", "05"):
        prose = " ".join(_markdown(number).split())
        assert "until the run ended, halted rounds included" in prose, number


def test_reset_is_described_as_it_works():
    """Reset goes back to round 0 and keeps the knobs (``CascadeExplorer.reset``)."""
    for number in ("00", "06"):
        prose = " ".join(_markdown(number).split())
        assert "round 0" in prose and "keeps the knobs" in prose, number
    assert "Goes back to the market before the shock" not in _markdown("00")


#: Numbers in a lesson's text that are settings a student types or reads off the story of
#: another lesson, not results of this lesson (lesson 6 cites public figures: not checked here).
INPUTS = {
    "00": set(),
    "01": {"0.005",  # the maintenance margin rate typed into readout_table
           "4.2"},  # lesson 0's "4.2M USD", printed there
    "02": {"0.01", "0.10", "0.3", "100.10", "2,000,000"},  # tick, sizes, a rule of thumb
    "03": {"0.5", "0.25", "0.125", "0.9", "0.05"},  # Part 3's arithmetic, the band= argument
    "04": {"0.009", "0.01", "0.03", "0.06", "0.2%", "0.9%", "2,000", "50,000", "98.0"},
    "05": {"0.25"},  # the insurance fund knob's setting in M USD
    # Figures quoted from the sources of its real case (Part 5's table), and settings
    "07": {"19.13", "1,618,240", "0.1", "0.2", "0.25", "0.3", "0.5", "50,000"},
}


@pytest.mark.parametrize("number", sorted(INPUTS))
def test_prose_numbers_are_printed_by_checked_cells(number):
    """Every number with a decimal point or a thousands separator in a lesson's text is printed
    by one of its nbval-checked cells, unless it is a setting (INPUTS)."""
    (path,) = [p for p in LESSONS if p.name.startswith(number)]
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    printed = "".join("".join(o.get("text", "")) for c in cells
                      if "nbval-check-output" in c["metadata"].get("tags", ())
                      for o in c["outputs"])
    prose = re.sub(r"<img[^>]*>|!\[[^\]]*\]\([^)]*\)", "", _markdown(number))
    numbers = set(re.findall(r"(?<![\w.])\d[\d,]*\.\d+%?|(?<![\w.])\d{1,3}(?:,\d{3})+", prose))
    missing = sorted(n for n in numbers - INPUTS[number] if n not in printed)
    assert not missing, missing
