"""Lesson 0's exercises: right, wrong and malformed answers, the right ones worked by hand."""

import pytest

from marginloops import Scenario
from marginloops.course import lesson00


@pytest.fixture
def exercises():
    return lesson00.exercises()


def test_four_exercises_with_hints(exercises):
    assert len(exercises) == 4
    assert all(e.hints and e.question.endswith("?") for e in exercises)


def test_round_1_liquidations(exercises):
    ex = exercises[0]
    # crowded-longs: the shock takes the price 99.99 -> 97.00 and reaches 353 longs, sold in
    # round 1 (the number lesson 0's story prints and lesson 3 explains).
    assert ex.answer == 353
    assert not ex.check("338").correct  # round 2's count
    assert not ex.check("352").correct  # a count is exact
    assert ex.check(" 353 ").correct


def test_the_whole_fall_in_percent(exercises):
    ex = exercises[1]
    # By hand: 1 - 84.40 / 99.99 = 0.1559 (the run ends at 84.40 after round 6).
    assert ex.answer == pytest.approx(1 - 84.40 / 99.99, abs=5e-5)
    first = ex.check("3%")  # the shock alone
    assert not first.correct and "too low" in first.message
    assert "15.6" not in first.message  # never the answer on the first try
    assert ex.check("15.6%").correct
    assert lesson00.exercises()[1].check("15.6").correct  # a bare 15.6 means 15.6%
    assert lesson00.exercises()[1].check("0.156").malformed  # 0.156%, not reinterpreted


def test_the_amplification(exercises):
    ex = exercises[2]
    # By hand: (1 - 84.40 / 99.99) / (1 - 97.00 / 99.99) = 15.59 / 2.99 = 5.21
    assert ex.answer == pytest.approx((1 - 84.40 / 99.99) / (1 - 97.00 / 99.99), rel=1e-3)
    assert ex.check("5.2").correct
    assert not lesson00.exercises()[2].check("15.6").correct


@pytest.mark.parametrize("typed", ["", "three hundred", "3,53", "353 longs", None, [353]])
def test_malformed_answers_are_explained_and_not_counted(exercises, typed):
    ex = exercises[0]
    feedback = ex.check(typed)
    assert not feedback.correct and feedback.malformed
    assert feedback.message.startswith("Not read")
    assert ex.attempts == 0


def test_answers_follow_the_scenario():
    deep = Scenario.preset("crowded-longs").replace(depth_1pct=6_000_000)
    # The same shock reaches the same 353 longs; the deep book (lesson 3) ends the fall at
    # 96.10: 1 - 96.10 / 99.99 = 3.9%.
    ex = lesson00.exercises(deep)
    assert ex[0].answer == 353
    assert ex[1].answer == pytest.approx(1 - 96.10 / 99.99, abs=5e-5)


def test_the_thin_book_sandbox(exercises):
    ex = exercises[3]
    # thin-book (python -m marginloops --preset thin-book, the 'liquidated' column): nobody in
    # round 0, then 110, 119, 151, 157, 121, 66, 25, 15 and 5 longs in rounds 1 to 9: 769 in all.
    assert ex.answer == 110 + 119 + 151 + 157 + 121 + 66 + 25 + 15 + 5
    wrong = ex.check("22")  # calm-market's total, the one the lesson prints
    assert not wrong.correct and "too low" in wrong.message and "769" not in wrong.message
    assert not ex.check("1,512").correct  # crowded-longs' total
    assert ex.check("769").correct


def test_exercise_4_follows_the_sandbox_market():
    # calm-market: 21 longs in round 1, 1 in round 2, then a fixed point: 22 in all.
    assert lesson00.exercises(sandbox=Scenario.preset("calm-market"))[3].answer == 21 + 1


def test_a_non_scenario_is_refused():
    with pytest.raises(ValueError, match="scenario must be a Scenario, got str"):
        lesson00.exercises("crowded-longs")


@pytest.mark.parametrize("change", [dict(n_positions=0), dict(shock=0.99)])
def test_a_market_without_a_cascade_gets_a_clear_error(change):
    from marginloops import Scenario
    from marginloops.course import lesson00
    market = Scenario.preset("crowded-longs").replace(**change)
    helpers = [lesson00.exercises] + ([lesson00.costs] if hasattr(lesson00, "costs") else [])
    for helper in helpers:
        with pytest.raises(ValueError, match="scenario must start a cascade"):
            helper(market)


def test_the_course_map_links_every_lesson():
    import json
    from pathlib import Path

    lessons = Path(__file__).parents[1] / "lessons"
    cells = json.loads((lessons / "00-start-here.ipynb").read_text("utf-8"))["cells"]
    course_map = next("".join(c["source"]) for c in cells
                      if "".join(c["source"]).startswith("## The course map"))
    for path in sorted(lessons.glob("0*.ipynb")):
        assert f"]({path.name})" in course_map, path.name
