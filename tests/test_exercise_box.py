"""The exercise widget: typing, Check, Enter, feedback, and never a traceback."""

import pytest

from marginloops.exercises import Exercise
from marginloops.ui.exercise import ExerciseBox


def make(**kw):
    return ExerciseBox(Exercise("What is 6 times 7?", answer=42, hints=("Count in sevens.",),
                                **kw), title="Exercise 1")


def test_right_answer_typed_and_checked():
    box = make()
    box.answer.value = "42"  # Enter commits the box, which checks it
    assert "Right" in box.feedback.value and box.exercise.solved
    assert box.exercise.attempts == 1


def test_wrong_answer_gets_a_hint_not_the_answer():
    box = make()
    result = box.check("40")
    assert not result.correct and "too low" in box.feedback.value
    assert "Count in sevens" in box.feedback.value and "42" not in box.feedback.value


def test_enter_then_check_on_one_answer_is_one_try():
    box = make()
    box.answer.value = "40"
    box.check_button.click()
    box.check_button.click()
    assert box.exercise.attempts == 1


def test_malformed_answer_is_explained_and_not_counted_as_right():
    box = make()
    box.answer.value = "forty-two"
    assert "Not read" in box.feedback.value and "type digits" in box.feedback.value
    assert not box.exercise.solved


def test_answer_is_shown_only_after_several_tries():
    box = make(reveal_after=3)
    box.check("1")
    box.check("2")
    assert "42" not in box.feedback.value
    box.check("3")
    assert "The answer is 42;" in box.feedback.value and "42.00" not in box.feedback.value


def test_clearing_the_box_is_not_a_try():
    box = make()
    box.answer.value = "40"
    box.answer.value = ""
    assert box.exercise.attempts == 1


def test_question_is_escaped_and_a_non_exercise_is_refused():
    box = ExerciseBox(Exercise("Is 1 < 2?", answer=1))
    assert "1 &lt; 2" in box.question.value
    with pytest.raises(ValueError, match="exercise must be"):
        ExerciseBox("What is 6 times 7?")
