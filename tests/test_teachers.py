"""lessons/TEACHERS.md gives every exercise's answer: each must be what the package computes,
so the teacher notes cannot drift from the lessons."""

import importlib
import re
from pathlib import Path

import pytest

NOTES = (Path(__file__).parents[1] / "lessons" / "TEACHERS.md").read_text(encoding="utf-8")


def answers_in_notes(n):
    """The bold answers of the "Exercise answers" part of lesson ``n``'s notes, in order."""
    section = re.search(rf"^## Lesson {n} .*?(?=^## Lesson |\Z)", NOTES, re.S | re.M)
    assert section, f"no notes for lesson {n}"
    block = re.search(r"^### Exercise answers\n(.*?)(?=^### |\Z)", section.group(0), re.S | re.M)
    assert block, f"lesson {n}'s notes have no exercise answers"
    items = re.split(r"^\d+\. ", block.group(1), flags=re.M)[1:]
    return [re.match(r"[\d.,]+%?", re.search(r"\*\*([^*]+)\*\*", item).group(1)).group(0)
            for item in items]


@pytest.mark.parametrize("n", range(9))
def test_teacher_notes_give_the_answers_the_package_checks(n):
    exercises = importlib.import_module(f"marginloops.course.lesson{n:02d}").exercises()
    noted = answers_in_notes(n)
    assert len(noted) == len(exercises)
    for exercise, answer in zip(exercises, noted, strict=True):
        assert exercise.check(answer).correct, (n, exercise.question, answer, exercise.answer)


def test_every_lesson_has_notes_and_every_notebook_is_in_the_map():
    lessons = sorted(p.name for p in (Path(__file__).parents[1] / "lessons").glob("*.ipynb"))
    assert len(lessons) == 9
    for name in lessons:
        assert f"`{name}`" in NOTES, name
