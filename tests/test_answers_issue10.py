"""Issue 10, items 5, 9 and 10: one rule for reading a number in every lesson's exercises
(per cent for a percentage question, sign or not; no % sign elsewhere), tolerances that match
what each question asks, the printable worksheets, and the answers a student hands in."""

import importlib

import pytest

from marginloops.exercises import Exercise


def lesson_exercises():
    """(lesson, number, exercise) for every exercise of every lesson, numbered from 1."""
    return [(n, i, exercise) for n in range(9)
            for i, exercise in enumerate(
                importlib.import_module(f"marginloops.course.lesson{n:02d}").exercises(), 1)]


ALL = lesson_exercises()
IDS = [f"lesson{n:02d}-ex{i}" for n, i, _ in ALL]


def fresh(n, i):
    """A new copy of lesson ``n``'s exercise ``i`` (no tries counted yet)."""
    return importlib.import_module(f"marginloops.course.lesson{n:02d}").exercises()[i - 1]


# ---------------------------------------------------------------- item 5: one rule everywhere
@pytest.mark.parametrize("n,i,exercise", ALL, ids=IDS)
def test_every_exercise_reads_numbers_by_the_one_rule(n, i, exercise):
    if exercise.unit == "%":
        # In per cent, with or without the sign: "3.52" and "3.52%" are the same answer.
        per_cent = f"{exercise.answer * 100:.2f}"
        assert fresh(n, i).check(per_cent).correct, per_cent
        assert fresh(n, i).check(per_cent + "%").correct
        assert fresh(n, i).check(exercise.answer * 100).correct  # a number from code, too
        # A fraction is never reinterpreted; the box explains and does not count a try.
        ex = fresh(n, i)
        fraction = f"{exercise.answer:.6f}"
        result = ex.check(fraction)
        assert not result.correct and result.malformed and ex.attempts == 0
        assert f"{fraction} means {fraction}%" in result.message
        assert "in per cent" in exercise.form and "3.5%" in exercise.form
    else:
        plain = f"{exercise.answer:.4f}"
        assert fresh(n, i).check(plain).correct
        ex = fresh(n, i)
        result = ex.check(plain + "%")
        assert not result.correct and result.malformed and ex.attempts == 0
        assert f"asks for {exercise.kind}, not a percentage" in result.message
        assert "(no %)" in exercise.form


def test_the_issues_three_cases():
    # lesson 02 exercise 2 (0.40%): "0.4" is 0.4%, the fraction "0.004" is not 40% or right
    assert fresh(2, 2).check("0.4").message == "Right: 0.40%."
    assert fresh(2, 2).check("0.4%").correct and fresh(2, 2).check("0.004").malformed
    # lesson 01 exercise 2 (3.52%) and lesson 06 exercise 2 (55.4%): the same reading
    assert fresh(1, 2).check("0.035").malformed and fresh(6, 2).check("0.554").malformed
    assert fresh(1, 2).check("3.52").correct and fresh(6, 2).check("55.4").correct
    # a percentage typed into a count question is refused, naming what it wants
    result = fresh(0, 1).check("-15.6%")
    assert result.malformed and "a count of positions, not a percentage" in result.message
    assert "-0.16" not in result.message


def test_a_wrong_percentage_is_judged_in_per_cent():
    ex = fresh(2, 2)  # 0.40%
    result = ex.check("0.9")
    assert not result.correct and not result.malformed and "0.90% is too high" in result.message
    assert ex.attempts == 1


@pytest.mark.parametrize("n,i,exercise", ALL, ids=IDS)
def test_the_answer_box_states_the_rule_in_its_placeholder(n, i, exercise):
    from marginloops.ui import ExerciseBox
    box = ExerciseBox(exercise)
    assert box.answer.placeholder == exercise.form
    assert ExerciseBox(exercise, placeholder="custom").answer.placeholder == "custom"


def test_the_placeholders_are_the_same_across_lessons():
    forms = {}
    for _, _, exercise in ALL:
        forms.setdefault(exercise.unit, set()).add(exercise.form)
    assert all(len(f) == 1 for f in forms.values()), forms
    assert Exercise("q?", 1.0, unit="rounds").form == "a number in rounds, e.g. 12.5 (no %)"


# ------------------------------------------------- item 10: tolerances match the questions
#: What a careful student gives (a reading of the status line, the answer to the precision
#: asked): accepted.
ACCEPTED = [
    (0, 2, "15.6"), (0, 2, "15.59%"), (0, 3, "5.2"), (0, 3, "5.21"),
    (1, 1, "175.88"), (1, 2, "3.5"), (1, 3, "400"), (1, 4, "41"),
    (2, 1, "19.92"), (2, 2, "0.4"), (2, 3, "30,154"), (2, 3, "30155"),
    (3, 1, "5.33"), (3, 2, "0.36"), (3, 3, "1.5625"), (3, 3, "1.56"),
    (4, 1, "0.3"), (4, 2, "3.75"), (4, 3, "195.98"), (4, 4, "0.48"),
    (5, 1, "1.03"), (5, 1, "1.033"), (5, 2, "534"), (5, 3, "8.97"),
    (6, 1, "2.17"), (6, 2, "55.4"), (6, 2, "55.36"), (6, 3, "35.1"),
    (7, 1, "15,571"), (7, 2, "42.8K"), (7, 2, "42752"), (7, 3, "333.4K"), (7, 3, "333,448"),
    (7, 4, "180"),
    (8, 1, "4.48"), (8, 1, "4.4786"), (8, 2, "31.3"), (8, 2, "31.32%"), (8, 3, "248"),
    (8, 4, "81.2K"), (8, 4, "81,231"),
]

#: Near misses a careful student would not give (a rule of thumb, a rounded reading, a
#: neighbouring count): each refused. Every exercise has at least one.
NEAR_MISSES = [
    (0, 1, "352"), (0, 2, "15.5"), (0, 2, "15.7"), (0, 3, "5.1"), (0, 3, "5.3"), (0, 4, "768"),
    (1, 1, "175.9"), (1, 2, "3.4"), (1, 2, "3.6"), (1, 3, "401"), (1, 4, "40"),
    (2, 1, "19.93"), (2, 2, "0.41"), (2, 3, "30000"), (2, 3, "30,150"), (2, 3, "30,157"),
    (3, 1, "5.3"), (3, 2, "0.35"), (3, 2, "0.37"), (3, 3, "1.55"), (3, 3, "1.57"),
    (4, 1, "0.31"), (4, 2, "3.7"), (4, 2, "3.8"), (4, 3, "196"), (4, 4, "0.47"), (4, 4, "0.49"),
    (5, 1, "1.0"), (5, 1, "1.04"), (5, 2, "530"), (5, 2, "540"), (5, 3, "9"),
    (6, 1, "2.2"), (6, 1, "2.16"), (6, 2, "55"), (6, 2, "56"), (6, 3, "35"), (6, 3, "35.2"),
    (7, 1, "15,572"), (7, 1, "18,907"), (7, 2, "38.7K"), (7, 2, "42.2K"), (7, 3, "333.3K"),
    (7, 3, "103.4K"), (7, 4, "179"), (7, 4, "319"),
    (8, 1, "4.5"), (8, 1, "2.2393"), (8, 1, "4.47"), (8, 2, "31.2"), (8, 2, "31.4"),
    (8, 2, "15.1"), (8, 3, "249"), (8, 3, "362"), (8, 4, "53.6K"), (8, 4, "81.1K"),
    (8, 4, "81.3K"),
]


@pytest.mark.parametrize("n,i,typed", ACCEPTED)
def test_a_careful_answer_is_accepted(n, i, typed):
    assert fresh(n, i).check(typed).correct


@pytest.mark.parametrize("n,i,typed", NEAR_MISSES)
def test_a_near_miss_is_refused(n, i, typed):
    result = fresh(n, i).check(typed)
    assert not result.correct and not result.malformed, result.message


def test_every_exercise_has_a_near_miss_checked():
    assert {(n, i) for n, i, _ in NEAR_MISSES} == {(n, i) for n, i, _ in ALL}


# --------------------------------------------------------- item 9: the answers to hand in
def decoded(sheet):
    """The file the sheet's download link holds, and the file name it offers."""
    import base64
    import re
    link = sheet.link.value
    name = re.search(r"download='([^']+)'", link).group(1)
    payload = re.search(r"href='data:text/html;charset=utf-8;base64,([^']+)'", link).group(1)
    return name, base64.b64decode(payload).decode("utf-8")


@pytest.fixture
def no_boxes():
    """Close every box made so far, so a test sees only its own."""
    from marginloops import AnswerSheet
    for box in AnswerSheet.boxes():
        box.close()
    yield


def test_the_answer_sheet_collects_every_box_and_offers_a_file(no_boxes):
    from marginloops import AnswerSheet, ExerciseBox
    from marginloops.course import lesson02
    boxes = [ExerciseBox(e, title=f"Exercise {i}")
             for i, e in enumerate(lesson02.exercises(), 1)]
    sheet = AnswerSheet(lesson="02")
    name, page = decoded(sheet)
    assert name == "lesson-02-answers-student.html"
    assert "0 of 3 exercises answered, 0 right" in page and page.count("not answered") == 3
    boxes[0].check("19.90")
    boxes[0].check("19.92")
    boxes[1].check("0.004")  # a fraction: not read, not a try
    sheet.name.value = "Ann <b>Lee</b>"
    name, page = decoded(sheet)
    assert name == "lesson-02-answers-Ann-b-Lee-b.html"
    assert "Ann &lt;b&gt;Lee&lt;/b&gt;" in page and "<b>Lee</b>" not in page
    assert "Exercise 1: right, 2 tries" in page
    # only a fraction it could not read: kept in the file, but not an answer
    assert "Exercise 2: not answered (nothing it could read), 0 tries" in page
    assert "Exercise 3: not answered, 0 tries" in page
    assert "<td>19.90</td><td>not yet</td>" in page and "<td>19.92</td><td>right</td>" in page
    assert "<td>0.004</td><td>not read</td>" in page
    assert "1 of 3 exercises answered, 1 right" in page
    assert "1 of 3 exercises answered, 1 right" in sheet.summary.value
    boxes[2].check("banana")  # the walk's case: unreadable text alone answers nothing
    assert "1 of 3 exercises answered" in sheet.summary.value
    boxes[2].check("30000")  # a wrong but readable answer does
    assert "2 of 3 exercises answered, 1 right" in sheet.summary.value
    import re
    assert re.search(r"<tr><td>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d</td><td>19.90</td>", page)


def test_a_box_shown_twice_adds_to_one_exercise_and_a_closed_box_drops_out(no_boxes):
    from marginloops import AnswerSheet, ExerciseBox
    from marginloops.course import lesson03
    ex = lesson03.exercises()[0]
    first, again = ExerciseBox(ex, title="Exercise 1"), ExerciseBox(ex, title="Exercise 1")
    first.check("4")
    again.check("5.33")
    sheet = AnswerSheet(lesson="03")
    assert len(sheet.exercises()) == 1 and "Exercise 1: right, 2 tries" in decoded(sheet)[1]
    other = ExerciseBox(lesson03.exercises()[1], title="Exercise 2")
    sheet.refresh()
    assert len(sheet.exercises()) == 2
    other.close()
    sheet.refresh()
    assert len(sheet.exercises()) == 1


@pytest.mark.parametrize("bad", ["", "3/../x", "a" * 21, 3, None, "03 "])
def test_the_answer_sheet_refuses_a_bad_lesson_name(bad):
    from marginloops import AnswerSheet
    with pytest.raises(ValueError, match="lesson must be a short name"):
        AnswerSheet(lesson=bad)


def test_every_lesson_notebook_has_the_answer_sheet_after_its_exercises():
    import json
    from pathlib import Path
    for path in sorted((Path(__file__).parents[1] / "lessons").glob("*.ipynb")):
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
        sources = ["".join(c["source"]) for c in cells]
        sheet = [k for k, s in enumerate(sources) if "AnswerSheet(lesson=" in s]
        assert len(sheet) == 1, path.name
        assert f'AnswerSheet(lesson="{path.name[:2]}")' in sources[sheet[0]]
        assert "nbval-ignore-output" in cells[sheet[0]]["metadata"].get("tags", [])
        boxes = [k for k, s in enumerate(sources) if "ExerciseBox(" in s and k != sheet[0]]
        assert sheet[0] > max(boxes), path.name


# ------------------------------------------------------------- item 9: printable worksheets
def test_the_committed_worksheets_are_what_the_generator_writes_now():
    from pathlib import Path

    from marginloops.worksheets import pages
    folder = Path(__file__).parents[1] / "lessons" / "worksheets"
    expected = pages()
    on_disk = {p.name: p.read_text(encoding="utf-8") for p in folder.glob("*.html")}
    assert sorted(on_disk) == sorted(expected), "run: python -m marginloops.worksheets " \
                                                "lessons/worksheets"
    for name, text in expected.items():
        assert on_disk[name] == text, f"{name} is stale: python -m marginloops.worksheets " \
                                      f"lessons/worksheets"


def test_a_worksheet_per_lesson_with_every_question_and_no_answer():
    import html
    from pathlib import Path

    from marginloops.worksheets import LESSONS, accepted, worksheet
    notebooks = {p.stem for p in (Path(__file__).parents[1] / "lessons").glob("*.ipynb")}
    assert {notebook for _, notebook, _ in LESSONS} == notebooks
    for lesson, _, _ in LESSONS:
        exercises = [e for n, _, e in ALL if f"{n:02d}" == lesson]
        page, key = worksheet(lesson), worksheet(lesson, answers=True)
        assert "3.5 and 3.5% both mean 3.5%" in page and "Name:" in page
        for k, exercise in enumerate(exercises, 1):
            for text in (page, key):
                assert f"<h2>Exercise {k}</h2>" in text
                assert html.escape(exercise.question) in text
                assert html.escape(exercise.form) in text
            shown = exercise.show(exercise.answer)
            assert f"Answer: {html.escape(shown)}" in key
            assert html.escape(accepted(exercise)) in key
            assert shown not in page and "Answer: <span></span>" in page
        assert page.count("class='exercise'") == len(exercises)


def test_the_worksheet_command_writes_every_page(tmp_path, capsys):
    from marginloops.worksheets import lesson_exercises, main, pages
    assert main([str(tmp_path / "out")]) == 0
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(pages())
    assert capsys.readouterr().out.count(".html") == 18
    with pytest.raises(ValueError, match="lesson must be one of 00, 01"):
        lesson_exercises("7")
    from marginloops.worksheets import worksheet
    for bad in ("7", 3, None):
        with pytest.raises(ValueError, match="lesson must be one of 00, 01"):
            worksheet(bad)
