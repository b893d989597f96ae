"""Issue 9, items 17 and 18: every case is calibrated on the mean fall over several seeds and its
stated tolerance holds for most seeds (not only seed 0); Black Thursday makes no claim about the
insurance fund that no source supports.

The falls here are computed from the prices of direct runs (``1 - last price / first price``),
not through ``SeedSpread`` or ``model_measures``, so the tests check the package's arithmetic.
"""

import dataclasses
import json
import math
import re
from pathlib import Path

import pytest

from marginloops.cases import (
    CALIBRATION_SEEDS,
    CASES,
    DEPTH_STEP,
    MOST_SEEDS,
    SeedSpread,
    calibrate_depth,
    seed_falls,
)
from marginloops.course import lesson06

ROOT = Path(__file__).parents[1]
KEYS = tuple(CASES)
HELD_OUT = tuple(range(20, 30))  # seeds the calibration never saw


def _fall(scenario, seed):
    history = scenario.replace(seed=seed).cascade().run()
    return 1 - history[-1].price_after / history[0].price_before


def _falls(scenario, seeds):
    return [_fall(scenario, seed) for seed in seeds]


def _within(falls, case):
    return sum(abs(f - case.target.value) <= case.tolerance for f in falls)


def test_twenty_calibration_seeds_and_a_seventy_percent_rule():
    assert CALIBRATION_SEEDS == tuple(range(20))
    assert MOST_SEEDS == 0.7
    assert DEPTH_STEP == 10_000


@pytest.mark.parametrize("key", KEYS)
def test_the_tolerance_holds_for_most_seeds(key):
    """Item 17: May 2021 held for seed 0 only (1 of seeds 0-9 within 2 points)."""
    case = CASES[key]
    falls = _falls(case.scenario, CALIBRATION_SEEDS)
    assert _within(falls, case) >= 14  # 70% of the 20 calibration seeds
    assert _within(falls[:10], case) >= 7  # at least 7 of seeds 0-9
    assert _within(_falls(case.scenario, HELD_OUT), case) >= 7  # and of 10 fresh seeds
    spread = case.spread()
    assert spread.falls == pytest.approx(falls, rel=1e-12)
    assert spread.within == _within(falls, case) and spread.holds


@pytest.mark.parametrize("key", KEYS)
def test_each_case_is_calibrated_on_the_mean_of_its_seeds(key):
    """The stored depth is the multiple of DEPTH_STEP whose mean fall over the calibration
    seeds is closest to the reported fall: its neighbours one step away straddle it or are
    farther, and re-running the calibration gives the stored depth."""
    case = CASES[key]
    depth, target = case.scenario.depth_1pct, case.target.value
    assert depth % DEPTH_STEP == 0

    def mean(d):
        return math.fsum(_falls(case.scenario.replace(depth_1pct=d), CALIBRATION_SEEDS)) / 20

    here, less, more = mean(depth), mean(depth - DEPTH_STEP), mean(depth + DEPTH_STEP)
    assert less > here > more  # more depth, less fall
    assert abs(here - target) <= min(abs(less - target), abs(more - target))
    assert less >= target >= more  # the target lies within one step either side
    # one step moves the mean by about half a point at most (the DEPTH_STEP comment)
    assert max(less - here, here - more) < 0.006
    assert abs(here - target) < 0.003
    assert calibrate_depth(case) == depth


def test_the_spread_the_lesson_and_the_notes_show():
    """Seed 0, mean, lowest and highest fall and the count within tolerance, per case, from
    direct runs; the lesson prints the table in a checked cell and TEACHERS.md shows it."""
    table = lesson06.spread_table()
    lines = table.splitlines()
    assert len(lines) == 1 + len(CASES)
    for line, case in zip(lines[1:], CASES.values(), strict=True):
        falls = _falls(case.scenario, CALIBRATION_SEEDS)
        cells = line[22:].split()
        assert line.startswith(case.dates)
        assert cells == [f"{case.target.value:.1%}", f"{falls[0]:.1%}",
                         f"{sum(falls) / 20:.1%}", f"{min(falls):.1%}", f"{max(falls):.1%}",
                         str(_within(falls, case)), "of", "20", "2", "points"]
    cells = json.loads((ROOT / "lessons" / "06-case-studies.ipynb").read_text("utf-8"))["cells"]
    printed = ["".join(o.get("text", "")) for c in cells if c["cell_type"] == "code"
               and "nbval-check-output" in c["metadata"].get("tags", ())
               for o in c.get("outputs", [])]
    assert any(table in text for text in printed), "lesson 06 does not print the spread table"
    notes = (ROOT / "lessons" / "TEACHERS.md").read_text("utf-8")
    section = re.search(r"^## Lesson 6 .*?(?=^## |\Z)", notes, re.S | re.M).group(0)
    shown = [line.strip() for line in section.splitlines()]
    for line in lines:  # the table, indented as a block of a list item
        assert line.strip() in shown, line
    for case in CASES.values():
        sentence = case.spread().sentence()
        assert any(sentence in text for text in printed), sentence


def test_the_spread_sentence():
    case = CASES["may-2021"]
    spread = SeedSpread(case, (3, 4, 5, 6), (0.25, 0.30, 0.27, 0.20))
    assert spread.mean == pytest.approx(0.255)
    assert (spread.lowest, spread.highest, spread.within) == (0.20, 0.30, 2)
    assert not spread.holds  # 2 of 4 is less than 70%
    assert spread.sentence() == ("Over seeds 3-6 the model falls 20.0% to 30.0% (mean 25.5%; "
                                 "reported 27.0%): 2 of 4 seeds land within the stated 2 "
                                 "points.")
    assert "seeds 1, 5" in SeedSpread(case, (1, 5), (0.27, 0.27)).sentence()
    assert SeedSpread(case, (1, 5), (0.27, 0.27)).holds


def test_may_2021_with_a_five_percent_push_balances_on_the_critical_ratio():
    """Why the May 2021 case has a 10% shock (its `shock` choice says it, with these numbers):
    calibrated the same way with a 5% push, seeds fall anywhere from 16.2% to 32.4%."""
    may = CASES["may-2021"]
    five = dataclasses.replace(may, scenario=may.scenario.replace(shock=0.05))
    assert calibrate_depth(five) == 890_000
    falls = _falls(five.scenario.replace(depth_1pct=890_000), CALIBRATION_SEEDS)
    assert (f"{min(falls):.1%}", f"{max(falls):.1%}", _within(falls, may)) == (
        "16.2%", "32.4%", 2)
    why = dict(may.choices)["shock"]
    assert "890,000" in why and "16.2% to 32.4%" in why and "2 of 20" in why
    assert may.scenario.shock == 0.1


def test_seed_falls_and_calibration_refuse_bad_input():
    case = CASES["october-2025"]
    with pytest.raises(ValueError, match="seeds"):
        seed_falls(case.scenario, ())
    with pytest.raises(ValueError, match="seed"):
        seed_falls(case.scenario, (1, True))
    with pytest.raises(ValueError, match="seed"):
        seed_falls(case.scenario, (-1,))
    with pytest.raises(ValueError, match="seed"):
        seed_falls(case.scenario, ("0",))
    with pytest.raises(ValueError, match="seeds"):
        seed_falls(case.scenario, "012")
    with pytest.raises(ValueError, match="distinct"):
        seed_falls(case.scenario, (1, 1))
    with pytest.raises(ValueError, match="scenario"):
        seed_falls("october-2025", (0,))
    with pytest.raises(ValueError, match="case"):
        calibrate_depth("october-2025")
    with pytest.raises(ValueError, match="step"):
        calibrate_depth(case, step=0)
    with pytest.raises(ValueError, match="low"):
        calibrate_depth(case, low=float("nan"))
    with pytest.raises(ValueError, match="between the mean falls"):
        calibrate_depth(case, (0, 1), low=3e6, high=4e6)  # both far too deep for 12%
    with pytest.raises(ValueError, match="two multiples"):
        calibrate_depth(case, (0,), low=2_001_000, high=2_009_000)
    with pytest.raises(ValueError, match="seeds"):
        case.spread([])


# ------------------------------------------------------------------------------ item 18
def _lesson_text():
    cells = json.loads((ROOT / "lessons" / "06-case-studies.ipynb").read_text("utf-8"))["cells"]
    return "\n".join("".join(c["source"]) for c in cells)


def test_black_thursday_claims_no_overwhelmed_insurance_fund():
    """Item 18: the model's fund starts at 0, so its bad debt proves nothing about a fund; the
    sources say BitMEX's fund paid the shortfalls and no trader was auto-deleveraged."""
    case = CASES["black-thursday-2020"]
    assert case.scenario.insurance_fund == 0
    notes = (ROOT / "lessons" / "TEACHERS.md").read_text("utf-8")
    for text in (case.reproduces, case.summary, _lesson_text(), notes):
        assert "overwhelm" not in text.lower()
    fund = {r.figure: r for r in case.reported if "insurance fund" in r.figure}
    before = fund["BitMEX insurance fund on 11 March, before the crash"]
    after = fund["BitMEX insurance fund about 24 hours later"]
    assert (before.value, before.unit, after.value, after.unit) == (35_500, "BTC", 33_880, "BTC")
    assert "35,500" in before.quote and "33,880" in after.quote
    adl = next(r for r in case.reported if r.figure.startswith("Auto-deleveraging"))
    assert adl.value is None and "ADL was completely prevented" in adl.quote
    # what the case says about the fund is what the sources say
    assert "35,500" in case.reproduces and "33,880" in case.reproduces
    assert "starts empty" in case.leaves_out and "auto-deleveraged" in case.leaves_out
