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


# ------------------------------------------------------- Part 3's depth table (one sweep)
def test_depth_table_is_the_hand_written_loop_it_replaced():
    """Each row from direct runs, as the notebook's loop printed it before the sweep."""
    from marginloops import Scenario, amplification, closed_form_amplification, crowding

    base = Scenario.preset("crowded-longs")
    expected = ["1% depth (USD)  crowding ratio  closed form 1/(1-ratio)  amplification  rounds"
                "  total fall"]
    for depth in (500_000, 1_000_000, 1_500_000, 2_000_000, 3_000_000, 6_000_000):
        cascade = base.replace(depth_1pct=depth).cascade()
        ratio = crowding(cascade, band=0.05).ratio
        history = cascade.run()
        fall = 1 - history[-1].price_after / history[0].price_before
        expected.append(f"{depth:>14,}  {ratio:>14.2f}  {closed_form_amplification(ratio):>23.2f}"
                        f"  {amplification(history):>13.2f}  {history[-1].round:>6}"
                        f"  {fall:>10.1%}")
    assert lesson03.depth_table() == "\n".join(expected)
    # the lesson's numbers: 0.96 at the preset's 1.5M (closed form 1/0.04 = 25), 0.48 at 3M
    rows = lesson03.depth_table().splitlines()
    assert rows[3].split()[:3] == ["1,500,000", "0.96", "25.33"]
    assert rows[5].split()[:2] == ["3,000,000", "0.48"]


def test_depth_table_takes_another_market_and_depths():
    from marginloops import Scenario

    calm = Scenario.preset("calm-market")
    text = lesson03.depth_table(calm, depths=(2_000_000,))
    history = calm.replace(depth_1pct=2_000_000).cascade().run()
    assert len(text.splitlines()) == 2
    assert text.splitlines()[1].split()[-2:] == [
        str(history[-1].round), f"{1 - history[-1].price_after / history[0].price_before:.1%}"]
