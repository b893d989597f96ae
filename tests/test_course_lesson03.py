"""Lesson 3's exercises: the closed form and the crowding ratio, checked by hand."""

import pytest

from marginloops.course import lesson03


@pytest.fixture
def exercises():
    return lesson03.exercises()


def test_three_exercises_with_hints(exercises):
    assert len(exercises) == 3 and all(e.hints for e in exercises)


def test_closed_form_total_fall(exercises):
    ex = exercises[0]
    # By hand: 4 + 1 + 0.25 + 0.0625 + ... = 4 / (1 - 0.25) = 5.333 USD
    assert ex.answer == pytest.approx(16 / 3)
    first = ex.check("4")  # the shock alone
    assert not first.correct and "too low" in first.message and "5.33" not in first.message
    assert ex.check("5.33 USD").correct
    assert not lesson03.exercises()[0].check("16").correct  # 4 / 0.25: the wrong division


def test_crowding_ratio_of_a_deeper_book(exercises):
    ex = exercises[1]
    # By hand: doubling D halves n/D (lesson 3's table: 0.96 at 1.5M, 0.48 at 3M), so at 4M
    # USD the ratio is 0.96 * 1.5 / 4 = 0.36.
    assert ex.answer == pytest.approx(0.96 * 1.5 / 4, abs=0.005)
    assert ex.check("0.36").correct
    assert not lesson03.exercises()[1].check("0.96").correct
    too_high = lesson03.exercises()[1].check("2.56")  # 0.96 * 4 / 1.5: upside down
    assert not too_high.correct and "too high" in too_high.message


def test_closed_form_amplification(exercises):
    ex = exercises[2]
    # By hand: 1 / (1 - 0.36) = 1.5625
    assert ex.answer == pytest.approx(1 / (1 - 0.36), rel=0.01)
    assert ex.check("1.56").correct
    assert not lesson03.exercises()[2].check("0.64").correct  # 1 - n/D, not its inverse


@pytest.mark.parametrize("typed", ["", "n/D", "0,36", "1/3", "--1"])
def test_malformed_answers_are_explained(exercises, typed):
    for ex in exercises:
        feedback = ex.check(typed)
        assert feedback.malformed and not feedback.correct and ex.attempts == 0
        assert "Not read" in feedback.message
