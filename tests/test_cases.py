"""Case studies: every case is a valid scenario that runs, its calibration claim holds, every
reported figure has a source, and the comparison's numbers match ones worked out by hand from a
history."""

import dataclasses
import math
import re

import pytest

from marginloops import Scenario, amplification
from marginloops.cases import (
    CASES,
    MEASURES,
    CaseStudy,
    Reported,
    compare_case,
    loop_share,
    model_measures,
)

KEYS = ("black-thursday-2020", "may-2021", "october-2025")


def test_the_three_cases_oldest_first():
    assert tuple(CASES) == KEYS
    assert [c.dates for c in CASES.values()] == ["12-13 March 2020", "19 May 2021",
                                                "10-11 October 2025"]


@pytest.mark.parametrize("key", KEYS)
def test_each_scenario_is_valid_round_trips_and_runs_to_an_end(key):
    case = CASES[key]
    s = case.scenario
    assert Scenario.from_json(s.to_json()) == s  # a checked, saveable scenario
    assert s.direction == "down" and 0 < s.shock <= 0.1  # a push of 10% at most
    history = case.run()
    assert history[0].round == 0 and history[-1].end_reason == "fixed_point"
    assert len(history) < 60  # short enough to step in class
    assert case.run() == history  # seeded: the same run every time


@pytest.mark.parametrize("key", KEYS)
def test_the_calibration_claim_for_the_run_the_lesson_steps(key):
    """Seed 0 (the scenario's own, stepped in the lesson) is one of the seeds within the
    tolerance; the claim for most seeds is in test_cases_issue9."""
    case = CASES[key]
    history = case.run()
    fall = 1 - history[-1].price_after / history[0].price_before
    assert case.tolerance == 0.02
    assert abs(fall - case.target.value) <= case.tolerance
    assert "within" in compare_case(case, history).verdict()


@pytest.mark.parametrize("key", KEYS)
def test_every_reported_figure_has_a_source(key):
    for r in CASES[key].reported:
        assert re.fullmatch(r"https://[^\s/]+\.[a-z]{2,}/\S*", r.url), r.url
        assert r.source.strip() and r.publisher.strip() and r.date.strip()
        assert r.quote.strip() and r.figure.strip()
        assert r.measure in (None, *MEASURES)
        if r.value is not None:
            assert math.isfinite(r.value)
        # A figure stated as a quote holds its number in the quote (or says it was computed)
        assert r.quote.startswith('"') or r.quote.startswith("computed")
    # Each case is calibrated to a reported price fall with a real source
    target = CASES[key].target
    assert target.measure == "fall" and 0 < target.value < 1


def test_reported_values_read_off_their_quotes():
    """The numbers are the ones the sources state (checked by hand against the quotes)."""
    bt = {r.figure: r for r in CASES["black-thursday-2020"].reported}
    assert bt["BTC price fall on BitMEX (perpetual), 12 March 10:00 UTC to the bottom"].value \
        == pytest.approx(0.51095, abs=1e-5)  # 1 - 3,596 / 7,353
    assert bt["Longs, share of liquidations on BitMEX, 12 March"].value == pytest.approx(
        0.98818, abs=1e-5)  # 1,170 / 1,184
    may = CASES["may-2021"].target
    assert may.value == 0.27 and "27 per cent" in may.quote
    oct_ = {r.figure: r for r in CASES["october-2025"].reported}
    assert oct_["Longs, share of liquidations"].value == pytest.approx(0.87435, abs=1e-5)
    assert oct_["Fall of perpetual-futures open interest"].value == 0.43
    assert "43%" in oct_["Fall of perpetual-futures open interest"].quote


def test_comparison_numbers_match_a_hand_computation():
    case = CASES["october-2025"]
    history = case.run()
    p0, p_shock, p_end = (history[0].price_before, history[0].price_after,
                          history[-1].price_after)
    fall = 1 - p_end / p0
    amp = (p_end - p0) / (p_shock - p0)
    oi0 = history[0].open_interest * p0
    oi_fall = 1 - history[-1].open_interest * p_end / oi0
    m = model_measures(history)
    assert m["fall"] == pytest.approx(fall, rel=1e-12)
    assert m["amplification"] == pytest.approx(amp, rel=1e-12)
    assert m["loop_share"] == pytest.approx((fall - (1 - p_shock / p0)) / fall, rel=1e-9)
    assert m["oi_fall"] == pytest.approx(oi_fall, rel=1e-9)
    assert m["long_share"] == 1.0  # a crash liquidates longs only
    # open interest before the shock is the scenario's, 40M USD at 100 (the best bid is 99.99)
    assert oi0 == pytest.approx(40_000_000 * p0 / 100, rel=1e-9)

    table = compare_case(case, history).table()
    rows = {line[:38].strip(): line[38:].split() for line in table.splitlines()[2:]}
    assert rows["price fall, start to bottom"][:2] == ["12.0%", f"{fall:.1%}"]
    assert rows["longs, share of liquidated USD"][:2] == ["87.4%", "100.0%"]
    assert rows["fall of open interest (USD)"][:2] == ["43.0%", f"{oi_fall:.1%}"]
    assert rows["amplification (fall / shock)"][:2] == ["-", f"{amp:.2f}"]
    assert rows["share of the fall added by the loop"][:2] == ["-", f"{1 - 1 / amp:.1%}"]


def test_comparison_of_a_hand_made_history_of_two_rounds():
    """The first two rounds of a run (shock and round 1): every number from three prices."""
    case = CASES["may-2021"]
    history = case.run()[:2]  # the shock and round 1 only
    p0, p1, p2 = history[0].price_before, history[0].price_after, history[1].price_after
    cmp = compare_case(case, history)
    assert cmp.measures["fall"] == pytest.approx(1 - p2 / p0)
    assert cmp.measures["amplification"] == pytest.approx((p2 - p0) / (p1 - p0))
    assert cmp.fall_gap == pytest.approx((1 - p2 / p0) - 0.27)
    assert "outside" in cmp.verdict()  # two rounds are far from the whole fall


def test_loop_share_is_zero_without_a_loop():
    calm = Scenario(depth_1pct=50_000_000, leverage_mix=((2, 1.0),), shock=0.05)
    history = calm.cascade().run()
    assert amplification(history) == pytest.approx(1.0)
    assert loop_share(history) == pytest.approx(0.0, abs=1e-12)


def test_every_case_reads_its_tables():
    for case in CASES.values():
        table = case.reported_table()
        assert table.count("\n") == len(case.reported) + 1
        for r in case.reported:
            assert f"]({r.url})" in table
        choices = case.choices_table()
        assert "`depth_1pct`" in choices and "`shock`" in choices


@pytest.mark.parametrize("change, word", [
    (dict(url="http://example.com/x"), "url"),
    (dict(url=""), "url"),
    (dict(source=" "), "source"),
    (dict(quote=""), "quote"),
    (dict(measure="volume"), "measure"),
    (dict(value=float("nan")), "value"),
    (dict(value=None), "needs a value"),
])
def test_bad_reported_figures_are_refused(change, word):
    good = CASES["may-2021"].target
    with pytest.raises(ValueError, match=word):
        dataclasses.replace(good, **change)


def test_bad_cases_are_refused():
    case = CASES["may-2021"]
    with pytest.raises(ValueError, match="calibrated_to"):
        dataclasses.replace(case, calibrated_to="nothing reported")
    with pytest.raises(ValueError, match="tolerance"):
        dataclasses.replace(case, tolerance=0)
    with pytest.raises(ValueError, match="scenario"):
        dataclasses.replace(case, scenario="may-2021")
    with pytest.raises(ValueError, match="reported"):
        dataclasses.replace(case, reported=())
    with pytest.raises(ValueError, match="CaseStudy"):
        compare_case("may-2021")
    with pytest.raises(ValueError, match="empty"):
        model_measures([])
    assert isinstance(case, CaseStudy) and isinstance(case.target, Reported)


def test_tables_escape_dollar_signs_so_markdown_shows_no_formula():
    for case in CASES.values():
        table = case.reported_table()
        assert re.search(r"USD \d", table)  # the sources quote dollars, as "USD 1.6"...
        assert "$" not in table  # ...never with a sign that MathJax takes for a formula


def test_the_lesson_shows_the_tables_of_the_package():
    """Lesson 6's markdown holds each case's tables exactly as the package writes them, so the
    cited figures in the notebook cannot drift from ``marginloops.cases``."""
    import json
    from pathlib import Path

    lesson = Path(__file__).parents[1] / "lessons" / "06-case-studies.ipynb"
    cells = json.loads(lesson.read_text(encoding="utf-8"))["cells"]
    markdown = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")
    for case in CASES.values():
        assert case.reported_table() in markdown
        assert case.choices_table() in markdown
