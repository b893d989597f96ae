"""Lesson 6: the calibration and sensitivity tables (read against direct runs) and the
exercises (right, wrong and malformed answers)."""

import pytest

from marginloops import amplification
from marginloops.cases import CASES
from marginloops.course import lesson06


@pytest.fixture
def exercises():
    return lesson06.exercises()


def _fall(history):
    return 1 - history[-1].price_after / history[0].price_before


def test_three_exercises_with_hints(exercises):
    assert len(exercises) == 3 and all(len(e.hints) >= 2 for e in exercises)


def test_amplification_of_may_2021_with_more_depth(exercises):
    ex = exercises[0]
    history = CASES["may-2021"].scenario.replace(depth_1pct=1_300_000).cascade().run()
    p0, p1, pn = history[0].price_before, history[0].price_after, history[-1].price_after
    # By hand: whole move over the shock's move
    assert ex.answer == pytest.approx((pn - p0) / (p1 - p0), rel=1e-12)
    # from the explorer's status line: a fall of about 21.7% on a 10.0% shock
    assert ex.answer == pytest.approx(21.7 / 10.0, rel=0.01)
    calibrated = amplification(CASES["may-2021"].run())
    assert ex.answer < calibrated  # more depth, less loop
    assert f"{calibrated:.2f}" in ex.hints[1] and "1,160,000" in ex.question
    first = ex.check(f"{calibrated:.2f}")  # the calibrated case's amplification is wrong here
    assert not first.correct and "too high" in first.message
    assert f"{ex.answer:.2f}" not in first.message  # never the answer on the first try
    assert ex.check(f"{ex.answer:.2f}").correct


def test_loop_share_of_may_2021_with_a_smaller_shock(exercises):
    ex = exercises[1]
    history = CASES["may-2021"].scenario.replace(shock=0.05).cascade().run()
    fall = _fall(history)
    shock_fall = 1 - history[0].price_after / history[0].price_before
    assert shock_fall == pytest.approx(0.05, abs=0.001)
    assert ex.answer == pytest.approx((fall - shock_fall) / fall, rel=1e-9)
    assert ex.answer == pytest.approx(1 - 1 / amplification(history), rel=1e-12)
    # by hand from rounded readings: 1 - 5.0 / 11.2 = 55.4%, within the tolerance
    assert ex.check(f"{1 - 5.0 / 11.2:.1%}").correct
    assert not exercises[1].check(f"{shock_fall / fall:.1%}").correct  # the shock's share
    calibrated = 1 - 1 / amplification(CASES["may-2021"].run())
    assert not lesson06.exercises()[1].check(f"{calibrated:.1%}").correct  # the case's own
    assert lesson06.exercises()[1].check(f"{ex.answer * 100:.1f}").correct  # bare = percent
    assert lesson06.exercises()[1].check(f"{ex.answer:.3f}").malformed  # a fraction: 0.554%


def test_a_thinner_may_2021_book(exercises):
    ex = exercises[2]
    history = CASES["may-2021"].scenario.replace(depth_1pct=1_000_000).cascade().run()
    assert ex.answer == pytest.approx(_fall(history), rel=1e-12)
    # 14% less depth takes the fall well beyond the calibrated 25.5% (seed 0)
    assert "about 14% less" in ex.question and "1.0 M USD" in ex.question
    assert ex.answer > _fall(CASES["may-2021"].run()) * 1.3
    assert not ex.check("27%").correct
    assert ex.check(f"{ex.answer:.1%}").correct


def test_no_exercise_answer_is_printed_in_the_lesson(exercises):
    import json
    from pathlib import Path

    nb = json.loads((Path(__file__).parents[1] / "lessons" / "06-case-studies.ipynb")
                    .read_text())
    text = "".join("".join(c["source"]) + "".join(
        "".join(o.get("text", "")) + "".join(o.get("data", {}).get("text/plain", ""))
        for o in c.get("outputs", [])) for c in nb["cells"])
    shown = [f"{exercises[0].answer:.2f}", f"{exercises[1].answer:.1%}",
             f"{exercises[2].answer:.1%}"]
    for answer in shown:
        assert answer not in text, answer


@pytest.mark.parametrize("typed", ["", "lots", "5,37", "1e", "%", "  "])
def test_malformed_answers_are_explained(exercises, typed):
    for ex in exercises:
        feedback = ex.check(typed)
        assert feedback.malformed and not feedback.correct and ex.attempts == 0


def test_calibration_table_matches_direct_runs():
    lines = lesson06.calibration_table().splitlines()
    assert len(lines) == 1 + len(CASES)
    for line, case in zip(lines[1:], CASES.values(), strict=True):
        history = case.run()
        fall = _fall(history)
        amp = amplification(history)
        cells = line[22:].split()
        assert line.startswith(case.dates)
        assert cells == [f"{case.target.value:.1%}", f"{fall:.1%}",
                         f"{case.scenario.shock:.0%}", f"{amp:.2f}", f"{1 - 1 / amp:.1%}"]


def test_depth_sensitivity_matches_direct_runs_and_falls_with_depth():
    case = CASES["october-2025"]
    lines = lesson06.depth_sensitivity(case, (0.9, 1.0, 1.25)).splitlines()
    falls = []
    for line, f in zip(lines[1:], (0.9, 1.0, 1.25), strict=True):
        history = case.scenario.replace(depth_1pct=2_030_000 * f).cascade().run()
        factor, depth, fall = line.split()
        assert float(factor) == f and depth == f"{2_030_000 * f:,.0f}"
        assert fall == f"{_fall(history):.1%}"
        falls.append(_fall(history))
    assert falls == sorted(falls, reverse=True)  # more depth, less fall
    assert lines[2].split()[2] == f"{_fall(case.run()):.1%}"  # x1.00 is the calibrated run


@pytest.mark.parametrize("case, factors, word", [
    ("june-2022", (1.0,), "case"),
    (42, (1.0,), "case"),
    ("may-2021", (), "factors"),
    ("may-2021", (0,), "factors"),
    ("may-2021", ("2",), "factors"),
])
def test_depth_sensitivity_refuses_bad_input(case, factors, word):
    with pytest.raises(ValueError, match=word):
        lesson06.depth_sensitivity(case, factors)


def test_depth_sensitivity_is_the_hand_written_loop_it_replaced():
    """The whole text, from the loop depth_sensitivity ran before it was a sweep."""
    from marginloops.cases import model_measures
    from marginloops.numbers import number, percent

    case = CASES["may-2021"]
    base = case.scenario.depth_1pct
    lines = [f"{'depth (x calibrated)':<22}{'1% depth (USD)':>16}{'model fall':>12}"]
    for f in lesson06.DEPTH_FACTORS:
        history = case.scenario.replace(depth_1pct=base * f).cascade().run()
        lines.append(f"{number(f, 2):<22}{number(base * f, 0):>16}"
                     f"{percent(model_measures(history)['fall']):>12}")
    assert lesson06.depth_sensitivity("may-2021") == "\n".join(lines)
