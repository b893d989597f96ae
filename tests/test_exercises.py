"""Exercise checkers: right, wrong and malformed answers, and the numbers students type."""

import pytest

from marginloops import liquidation_price
from marginloops.exercises import Exercise, parse_number


@pytest.mark.parametrize("text,value", [
    ("41230", 41230.0), ("41,230", 41230.0), ("$41,230.50", 41230.5), ("41230 USD", 41230.0),
    ("4.1M", 4.1e6), ("12k", 12_000.0), ("2.5%", 0.025), ("-3 %", -0.03), (" 99.5 ", 99.5),
    ("1e3", 1000.0), ("\u22122", -2.0), (7, 7.0), (2.5, 2.5),
])
def test_parse_number_reads_what_students_type(text, value):
    assert parse_number(text) == pytest.approx(value)


@pytest.mark.parametrize("text,needle", [
    ("", "empty"), ("   ", "empty"), ("abc", "could not read 'abc'"),
    ("2,5", "use a dot for decimals"), ("12..5", "could not read"), ("5%%", "could not read"),
    (None, "expected a number"), (True, "expected a number"), (float("nan"), "finite"),
    ("1,23,456", "use a dot for decimals"),
])
def test_parse_number_explains_malformed_answers(text, needle):
    with pytest.raises(ValueError) as err:
        parse_number(text)
    assert needle in str(err.value)


def exercise():
    # the liquidation price of a 10x long at 10,000 with 0.5% maintenance, from the model
    return Exercise("Liquidation price of a 10x long entered at 10,000 USD, m = 0.5%?",
                    liquidation_price(10_000, 10, 0.005), unit="USD",
                    hints=("Equity M + q(P - E) equals m q P.", "Solve for P: E(1 - 1/L)/(1 - m)."))


def test_right_answer_within_tolerance():
    ex = exercise()
    fb = ex.check("9,045")  # 9045.23 by the formula; 0.5% tolerance
    assert fb.correct and fb.message == "Right: 9,045.23 USD." and ex.solved


def test_wrong_answers_get_hints_then_the_answer_never_first():
    ex = exercise()
    first = ex.check("8800")
    assert not first.correct and "too low" in first.message
    assert "Equity M + q(P - E)" in first.message and "9,045" not in first.message
    second = ex.check("9500")
    assert "too high" in second.message and "Solve for P" in second.message
    third = ex.check("9600")
    assert "The answer is 9,045.23 USD" in third.message


def test_malformed_answer_is_explained_and_does_not_count():
    ex = exercise()
    fb = ex.check("nine thousand")
    assert not fb.correct and fb.malformed and fb.message.startswith("Not read:")
    assert ex.attempts == 0


def test_percent_answers_are_per_cent_with_or_without_the_sign():
    ex = Exercise("How far did the price fall?", 0.156, unit="%", tolerance=0.01)
    assert ex.check("15.6%").correct
    assert Exercise("same", 0.156, unit="%", tolerance=0.01).check("15.6").correct
    fraction = Exercise("same", 0.156, unit="%", tolerance=0.01).check("0.156")
    assert fraction.malformed and "0.156 means 0.156%" in fraction.message  # never reinterpreted


def test_a_small_percentage_typed_without_its_sign_is_per_cent():
    # "0.4" is 0.4% in every percentage question: right for 0.4%, never 40%
    assert Exercise("slippage?", 0.004, unit="%", tolerance=0.01).check("0.4").correct
    assert Exercise("fall?", 0.4, unit="%", tolerance=0.01).check("40").correct
    assert Exercise("fall?", 0.4, unit="%", tolerance=0.01).check("0.4").malformed
    wrong = Exercise("slippage?", 0.004, unit="%", tolerance=0.01).check("0.9")
    assert not wrong.correct and "0.90%" in wrong.message and "too high" in wrong.message


@pytest.mark.parametrize("kwargs,needle", [
    (dict(question="", answer=1.0), "question must be a non-empty string"),
    (dict(question="q", answer=float("nan")), "answer must be a finite number"),
    (dict(question="q", answer=1.0, reveal_after=1), "reveal_after must be in [2, 100]"),
    (dict(question="q", answer=1.0, tolerance=2), "tolerance must be in [0, 1]"),
])
def test_bad_exercises_are_named(kwargs, needle):
    with pytest.raises(ValueError) as err:
        Exercise(**kwargs)
    assert needle in str(err.value)


@pytest.mark.parametrize("answer", ["1e400", "-1e400", "9" * 400, 10**400, float("inf")])
def test_an_answer_too_big_for_a_float_is_malformed_not_a_try(answer):
    ex = Exercise("What is 6 times 7?", 42)
    result = ex.check(answer)
    assert result.malformed and not result.correct and ex.attempts == 0
    assert "is too high" not in result.message


def test_a_pasted_essay_is_not_echoed_back_whole():
    result = Exercise("What is 6 times 7?", 42).check("forty two " * 10_000)
    assert result.malformed and len(result.message) < 300
