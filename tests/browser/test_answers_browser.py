"""Issue 10, items 5 and 9 in a real browser: an answer box states the reading rule in its
placeholder, and "Download my answers" gives the student a file holding what they answered,
in JupyterLab (lesson 02) and in Voilà (lesson 01)."""

import re
import time
from pathlib import Path

from labtools import open_notebook, open_voila, save_screenshot

LESSONS = Path(__file__).parents[2] / "lessons"
TALL = {"width": 1400, "height": 2200}


def exercise_box(scope, title):
    """The ExerciseBox whose question starts with ``title`` ("Exercise 2")."""
    return scope.locator(".widget-vbox").filter(
        has=scope.page.locator("p", has_text=re.compile(rf"^{re.escape(title)}\.")),
    ).filter(has=scope.page.locator("button.widget-button", has_text="Check")).last


def answer(box, typed, expected):
    """Type ``typed`` into the box, press Enter, and wait for feedback containing ``expected``."""
    field = box.locator("input[type='text']")
    field.fill(typed)
    field.press("Enter")
    status = box.locator("div[role='status']")
    deadline = time.monotonic() + 30
    while expected not in (status.text_content() or ""):
        assert time.monotonic() < deadline, f"feedback {status.text_content()!r} for {typed!r}"
        time.sleep(0.05)
    return status.text_content()


def sheet_of(scope):
    """The AnswerSheet: the box that holds the "Download my answers" link."""
    return scope.locator(".widget-vbox").filter(has_text="Answers to hand in.").last


def download(page, sheet, summary):
    """Wait for the sheet's summary to read ``summary``, click the link, return (name, text)."""
    deadline = time.monotonic() + 30
    while summary not in (sheet.text_content() or ""):
        assert time.monotonic() < deadline, sheet.text_content()
        time.sleep(0.05)
    with page.expect_download() as info:
        sheet.get_by_role("link", name="Download my answers").click()
    got = info.value
    return got.suggested_filename, Path(got.path()).read_text(encoding="utf-8")


def test_answers_download_in_lab(lab_server, page, page_log):
    page.set_viewport_size(TALL)
    lesson = LESSONS / "02-order-books-and-slippage.ipynb"
    panel = open_notebook(lab_server, page, lesson, assets=(LESSONS / "images",))
    second = exercise_box(panel, "Exercise 2")
    second.scroll_into_view_if_needed()
    field = second.locator("input[type='text']")
    assert field.get_attribute("placeholder") == "in per cent: 3.5 and 3.5% both mean 3.5%"
    third = exercise_box(panel, "Exercise 3")
    assert third.locator("input[type='text']").get_attribute("placeholder") == (
        "a number of units, e.g. 12,500 (no %)")
    save_screenshot(second, "answers-lab-placeholder")  # the empty box states the rule
    # The cases: "0.004" is not 40% nor right; "0.4" is 0.4%; % in a units question.
    answer(second, "0.004", "this question takes numbers in per cent")
    save_screenshot(second, "answers-lab-fraction")
    answer(second, "0.4", "Right: 0.40%.")
    answer(third, "30000", "Not yet: 30,000.00 units is too low.")
    answer(third, "30,154%", "asks for a number of units, not a percentage")
    save_screenshot(third, "answers-lab-percent-in-units")
    save_screenshot(second, "answers-lab-exercise2")

    sheet = sheet_of(panel)
    sheet.scroll_into_view_if_needed()
    sheet.get_by_role("textbox", name="Your name").fill("Ada Lovelace")
    name, text = download(page, sheet, "2 of 3 exercises answered, 1 right")
    save_screenshot(sheet, "answers-lab-sheet")
    assert name == "lesson-02-answers-Ada-Lovelace.html"
    assert "Student: <b>Ada Lovelace</b>" in text
    assert "2 of 3 exercises answered, 1 right" in text
    assert "Exercise 2: right, 1 try" in text  # the fraction was explained, not counted
    assert "<td>0.004</td><td>not read</td>" in text and "<td>0.4</td><td>right</td>" in text
    assert "Exercise 3: not yet right, 1 try" in text and "<td>30000</td><td>not yet</td>" in text
    assert "Exercise 1: not answered" in text
    assert re.search(r"<tr><td>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d</td><td>0.4</td>", text)
    assert page_log.errors == []


def test_answers_download_in_voila(voila_server, page, page_log):
    page.set_viewport_size(TALL)
    lesson = LESSONS / "01-margin-and-leverage.ipynb"
    cells = open_voila(voila_server, page, lesson, assets=(LESSONS / "images",))
    first = exercise_box(cells, "Exercise 1")
    first.scroll_into_view_if_needed()
    answer(first, "175", "too low")
    answer(first, "175.88", "Right: 175.88 USD.")
    sheet = sheet_of(cells)
    sheet.scroll_into_view_if_needed()
    name, text = download(page, sheet, "1 of 4 exercises answered, 1 right")
    save_screenshot(sheet, "answers-voila-sheet")
    assert name == "lesson-01-answers-student.html"
    assert "Exercise 1: right, 2 tries" in text and "<td>175.88</td><td>right</td>" in text
    assert "Exercise 4: not answered" in text
    assert page_log.errors == []
