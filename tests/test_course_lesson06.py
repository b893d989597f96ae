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


def test_amplification_of_may_2021(exercises):
    ex = exercises[0]
    history = CASES["may-2021"].run()
    p0, p1, pn = history[0].price_before, history[0].price_after, history[-1].price_after
    # By hand: whole move over the shock's move; a 26.8% fall on a 5% shock is about 5.4
    assert ex.answer == pytest.approx((pn - p0) / (p1 - p0), rel=1e-12)
    assert ex.answer == pytest.approx(0.268 / 0.05, rel=0.01)
    first = ex.check("5")  # the ratio of the rounded percentages is not close enough
    assert not first.correct and "too low" in first.message
    assert f"{ex.answer:.2f}" not in first.message  # never the answer on the first try
    assert ex.check(f"{ex.answer:.2f}").correct


def test_loop_share_of_october_2025(exercises):
    ex = exercises[1]
    history = CASES["october-2025"].run()
    fall = _fall(history)
    shock_fall = 1 - history[0].price_after / history[0].price_before
    assert ex.answer == pytest.approx((fall - shock_fall) / fall, rel=1e-9)
    # By hand from the printed table: 1 - 1 / 4.05 = 75.3%
    assert ex.answer == pytest.approx(1 - 1 / 4.05, abs=0.002)
    assert ex.answer == pytest.approx(1 - 1 / amplification(history), rel=1e-12)
    assert not ex.check("24.7%").correct  # the shock's share, not the loop's
    assert ex.check("75.3%").correct
    assert lesson06.exercises()[1].check("75.3").correct  # a bare number means percent
    assert lesson06.exercises()[1].check("0.753").correct


def test_a_deeper_may_2021_book(exercises):
    ex = exercises[2]
    history = CASES["may-2021"].scenario.replace(depth_1pct=1_000_000).cascade().run()
    assert ex.answer == pytest.approx(_fall(history), rel=1e-12)
    # 16% more depth takes the fall from 26.8% to little more than half of it
    assert 0.05 < ex.answer < 0.268 * 0.6
    assert not ex.check("27%").correct
    assert ex.check(f"{ex.answer:.1%}").correct


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
        history = case.scenario.replace(depth_1pct=2_000_000 * f).cascade().run()
        factor, depth, fall = line.split()
        assert float(factor) == f and depth == f"{2_000_000 * f:,.0f}"
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
