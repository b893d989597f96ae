"""Lesson 8 in a real browser: in JupyterLab the whole lesson runs, its four lending explorers
render, and Step plays Part 2's loop (the price lines redraw, the status line follows the
rounds); in Voila the lesson is an app with no axe violation of ours, whose sandbox steps and
whose answer box judges a wrong answer without giving the answer away."""

import re
import time
from pathlib import Path

from labtools import explorers, line_paths, open_notebook, open_voila, save_screenshot, wait_until
from test_accessibility import audit

LESSON = Path(__file__).parents[2] / "lessons" / "08-defi-lending.ipynb"
TALL = {"width": 1400, "height": 2200}
STEP = re.compile(r"^\s*Step\s*$")


def test_lesson08_steps_the_lending_loop_in_lab(lab_server, page, page_log):
    page.set_viewport_size(TALL)
    panel = open_notebook(lab_server, page, LESSON, assets=(LESSON.parent / "images",))
    found = explorers(panel)
    assert found.count() == 4  # Part 2, Part 3's comparison, the case, the sandbox
    loop = found.nth(0)
    loop.scroll_into_view_if_needed()
    before = line_paths(loop)
    started = time.perf_counter()
    loop.locator("button.widget-button", has_text=STEP).click()
    wait_until(lambda: line_paths(loop), lambda paths: paths != before, "the price lines redraw")
    print(f"Step -> redrawn lines: {(time.perf_counter() - started) * 1000:.0f} ms")
    for _ in range(2):
        old = loop.text_content()
        loop.locator("button.widget-button", has_text=STEP).click()
        wait_until(loop.text_content, lambda text, old=old: text != old, "the explorer to step")
    text = wait_until(loop.text_content, lambda t: "Round 2 ·" in t, "the loop at round 2")
    # Part 2's checked table: round 2 ends at 1,729.95 with the oracle at 1,763.16.
    assert "1,729.95" in text and "1,763.16" in text, text[:600]
    save_screenshot(loop, "lesson08-lab-loop")
    # Part 3's comparison names both runs
    compare = found.nth(1)
    compare.scroll_into_view_if_needed()
    assert compare.get_by_text("oracle reads the pool").count() >= 1
    assert compare.get_by_text("push oracle").count() >= 1
    assert page_log.errors == []


def test_lesson08_is_an_accessible_app_in_voila(voila_server, page, page_log):
    page.set_viewport_size(TALL)
    cells = open_voila(voila_server, page, LESSON, assets=(LESSON.parent / "images",))
    found = explorers(cells)
    assert found.count() == 4
    audit(page, "voila 08-defi-lending")
    sandbox = found.nth(3)
    sandbox.scroll_into_view_if_needed()
    counter = sandbox.locator(".widget-html", has_text=re.compile(r"^\s*Round")).first
    sandbox.locator("button.widget-button", has_text=STEP).click()
    wait_until(counter.text_content, lambda t: "Round 0" in (t or ""), "the sandbox's shock")
    save_screenshot(sandbox, "lesson08-voila-sandbox")
    # Exercise 3: the count with the heartbeat (printed in Part 3) is judged "not yet", and
    # the answer is not shown.
    box = cells.locator(".widget-vbox").filter(
        has=page.locator("p", has_text=re.compile(r"^Exercise 3\."))).filter(
        has=page.locator("button.widget-button", has_text="Check")).last
    box.scroll_into_view_if_needed()
    field = box.locator("input[type='text']")
    field.fill("362")
    field.press("Enter")
    feedback = wait_until(lambda: box.locator("div[role='status']").text_content() or "",
                          lambda t: "Not yet" in t, "feedback on a wrong answer")
    assert "248" not in feedback
    save_screenshot(box, "lesson08-voila-exercise3")
    assert page_log.errors == []
