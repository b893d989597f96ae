"""Lesson 1's exercises and helpers: right, wrong and malformed answers, each right answer
checked against a number worked out by hand (positions.py's formula, Binance's for an isolated
USD-margined position with no maintenance amount and no fees)."""

import numpy as np
import pytest

from marginloops.course import lesson01
from marginloops.exercises import Exercise


@pytest.fixture
def ex():
    return lesson01.exercises()


def test_there_are_four_exercises_in_order(ex):
    assert len(ex) == 4 and all(isinstance(e, Exercise) for e in ex)
    assert "8x long at 200" in ex[0].question and "25x" in ex[1].question
    assert "5x short" in ex[2].question and "2% fall" in ex[3].question


def test_exercise_1_liquidation_price(ex):
    e = ex[0]
    # 200 * (1 - 1/8) / (1 - 0.005) = 175 / 0.995 = 175.8794...
    assert e.answer == pytest.approx(175 / 0.995)
    first = e.check("175")  # the bankruptcy price is not the liquidation price
    assert not first.correct and "too low" in first.message and "Hint" in first.message
    assert "175.88" not in first.message
    e2 = lesson01.exercises()[0]
    assert e2.check("175.88").correct
    assert lesson01.exercises()[0].check("$175.88").correct
    assert not lesson01.exercises()[0].check("175.9").correct
    assert not lesson01.exercises()[0].check("90.45").correct  # the lesson's printed 10x long


def test_exercise_2_fall_at_25x(ex):
    e = ex[1]
    # 1 - 0.96 / 0.995 = 0.035 / 0.995 = 3.5176%
    assert e.answer == pytest.approx(0.035 / 0.995)
    assert e.check("3.52%").correct
    e = lesson01.exercises()[1]
    assert e.check("3.5").correct  # the 1/L - mmr shortcut is close enough (and typed bare)
    e = lesson01.exercises()[1]
    wrong = e.check("4%")  # 1/L: the fall to bankruptcy, not to liquidation
    assert not wrong.correct and "too high" in wrong.message and "3.52" not in wrong.message
    assert not lesson01.exercises()[1].check("4.52%").correct  # the lesson's printed 20x row


def test_exercise_3_short_equity(ex):
    e = ex[2]
    # 50 units short from 100: 1,000 - 50 * (112 - 100) = 400
    assert e.answer == pytest.approx(400)
    assert e.check("400 USD").correct
    e = lesson01.exercises()[2]
    first = e.check("1600")  # the sign of a short turned the wrong way
    assert not first.correct and "too high" in first.message and "400" not in first.message


def test_exercise_4_smallest_leverage(ex):
    e = ex[3]
    # 40x: fall to liquidation 1 - 0.975 / 0.995 = 2.0101% > 2%, so 40x survives a 2% fall;
    # 41x: 1 - (1 - 1/41) / 0.995 = 1.9484% < 2%: liquidated.
    assert 1 - (1 - 1 / 40) / 0.995 > 0.02 > 1 - (1 - 1 / 41) / 0.995
    assert e.answer == 41
    assert not e.check("40").correct
    assert lesson01.exercises()[3].check("41").correct


@pytest.mark.parametrize("i", range(4))
@pytest.mark.parametrize("typed", ["", "ninety", "90,45", "1/2", None, "nan"])
def test_malformed_answers_get_a_message_not_a_traceback(i, typed):
    e = lesson01.exercises()[i]
    result = e.check(typed)
    assert not result.correct and result.malformed and result.message.startswith("Not read")
    assert e.attempts == 0


def test_answer_never_shown_on_the_first_try(ex):
    for e in ex:
        first = e.check("1")
        assert not first.correct and e.show(e.answer) not in first.message


def test_liquidation_distance_long_and_short():
    # long 10x, mmr 0.5%: (0.1 - 0.005) / 0.995; short: (0.1 - 0.005) / 1.005
    assert lesson01.liquidation_distance(10, 0.005) == pytest.approx(0.095 / 0.995)
    assert lesson01.liquidation_distance(10, 0.005, "short") == pytest.approx(0.095 / 1.005)
    np.testing.assert_allclose(lesson01.liquidation_distance([2, 100], 0.0), [0.5, 0.01])


def test_distance_table_rows_by_hand():
    table = lesson01.distance_table((2, 10, 100), mmr=0.005)
    lines = table.splitlines()
    assert len(lines) == 5
    # 2x: 50 / 0.995 = 50.25, fall 49.75%; 100x: 99 / 0.995 = 99.50, fall 0.50%
    assert lines[2].split() == ["2x", "50.25", "50.00", "49.75%", "49.50%"]
    assert lines[3].split() == ["10x", "90.45", "90.00", "9.55%", "9.50%"]
    assert lines[4].split() == ["100x", "99.50", "99.00", "0.50%", "0.50%"]


def test_equity_at_by_hand():
    assert lesson01.equity_at(95) == pytest.approx(500)  # 1,000 + 100 * (95 - 100)
    assert lesson01.equity_at(90) == pytest.approx(0)  # the bankruptcy price
    assert lesson01.equity_at(110, side="short", leverage=2) == pytest.approx(800)


def test_smallest_leverage():
    assert lesson01.smallest_leverage_liquidated_by(0.02) == 41
    # a 10% fall with mmr 0: 1/L <= 0.1 -> L = 10
    assert lesson01.smallest_leverage_liquidated_by(0.10, mmr=0.0) == 10


@pytest.mark.parametrize("call, needle", [
    (lambda: lesson01.distance_table(()), "leverages must be a non-empty list"),
    (lambda: lesson01.distance_table((0.5,)), "leverage must be"),
    (lambda: lesson01.distance_table((10,), mmr=0.2), "mmr must be in [0, 1/leverage)"),
    (lambda: lesson01.equity_at(95, margin=-1), "margin must be > 0, got -1"),
    (lambda: lesson01.smallest_leverage_liquidated_by(1.5), "drop must be in (0, 1), got 1.5"),
    (lambda: lesson01.smallest_leverage_liquidated_by(0.001, max_leverage=10),
     "drop must be large enough"),
])
def test_bad_parameters(call, needle):
    with pytest.raises(ValueError) as err:
        call()
    assert needle in str(err.value)


def test_reached_by_fall_counts_by_hand():
    from marginloops import Positions
    # longs of 1, 2 and 3 units at 100 with 10x, 20x and 50x (mmr 0.5%): liquidation prices
    # 90.45, 95.48 and 98.49; one short that no fall reaches.
    pos = Positions.from_arrays([1, 1, 1, -1], [1.0, 2.0, 3.0, 5.0], 100.0,
                                [10.0, 20.0, 50.0, 10.0], 0.005)
    lines = lesson01.reached_by_fall(pos, 100, falls=(0.01, 0.02, 0.05, 0.10)).splitlines()
    assert lines[0] == "4 positions, 3 of them long; price 100.00"
    # last column: the units reached times the fallen price
    assert lines[2].split() == ["1%", "99.00", "0", "0", "0"]
    assert lines[3].split() == ["2%", "98.00", "1", "300", "294"]  # the 50x long: 3 x 100, 3 x 98
    assert lines[4].split() == ["5%", "95.00", "2", "500", "475"]  # 5 units x 95
    assert lines[5].split() == ["10%", "90.00", "3", "600", "540"]  # 6 units x 90
    with pytest.raises(ValueError, match="falls must be"):
        lesson01.reached_by_fall(pos, 100, falls=(0.5, 1.0))
    with pytest.raises(ValueError, match="positions must be a Positions"):
        lesson01.reached_by_fall([1, 2], 100)


def test_leverage_story_by_hand():
    lines = lesson01.leverage_story().splitlines()
    assert lines[0].split()[:1] == ["1x:"] and "buys 10 coins" in lines[0]
    assert "equity 1,100.00 USD (+10% on your money)" in lines[1]
    assert "buys 100 coins" in lines[3] and "9,000 USD borrowed" in lines[3]
    # 100 coins: +10 USD each on 1,000 -> 2,000; -10 USD each -> 0
    assert "equity 2,000.00 USD (+100% on your money)" in lines[4]
    assert "equity 0.00 USD (-100% on your money)" in lines[5]
    with pytest.raises(ValueError, match="move must be in"):
        lesson01.leverage_story(moves=(1.5,))
