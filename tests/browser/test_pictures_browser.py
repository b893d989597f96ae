"""The lessons' pictures in a real browser: folded away under the live widget, and not stale.

Every lesson is rendered by Voilà; each picture's widget gets the same clicks as when
``make_pictures.py`` took the picture, and its visible text must equal the ``.txt`` stored
beside the picture. JupyterLab must show the picture blocks closed too.
"""

from __future__ import annotations

import difflib
import time

import make_pictures
from labtools import open_notebook, save_screenshot
from make_pictures import LESSONS, PICTURES

# Every picture block of the page: closed, its label shown, its picture not.
_FOLDED_JS = """
() => Array.from(document.querySelectorAll('details')).filter(d => d.querySelector('img'))
  .map(d => ({open: d.open, summary: d.querySelector('summary').textContent.trim(),
              summaryShown: d.querySelector('summary').checkVisibility(
                {contentVisibilityAuto: true, checkVisibilityCSS: true}),
              imageShown: d.querySelector('img').checkVisibility(
                {contentVisibilityAuto: true, checkVisibilityCSS: true})}))
"""


def assert_folded(page, lesson: str, expected: int) -> None:
    """Each of the ``expected`` picture blocks is closed: its label is shown, its picture not.

    (Lab may skip rendering cells far off screen, which would hide a picture and its label
    alike: the label must be shown, so a skipped block fails.)
    """
    blocks = page.evaluate(_FOLDED_JS)
    assert len(blocks) == expected, f"{lesson}: {len(blocks)} picture blocks, not {expected}"
    for block in blocks:
        assert not block["open"] and not block["imageShown"], f"{lesson}: shown open: {block}"
        assert block["summaryShown"] and block["summary"].startswith("Picture of this")


def test_pictures_show_what_the_widgets_show_and_are_folded_in_voila(voila_server, browser):
    seen = {}

    def check_folded(page, lesson):
        count = sum(picture.lesson == lesson for picture in PICTURES)
        page.locator("details summary").first.scroll_into_view_if_needed()
        seen[lesson] = save_screenshot(page, f"pictures-voila-{lesson.removesuffix('.ipynb')}")
        assert_folded(page, lesson, count)

    texts = make_pictures.take_all(voila_server, browser, before=check_folded)
    assert sorted(seen) == sorted({picture.lesson for picture in PICTURES})
    stale = []
    for picture in PICTURES:
        stored = picture.txt.read_text(encoding="utf-8")
        if texts[picture.name] != stored:
            diff = "".join(difflib.unified_diff(
                stored.splitlines(keepends=True), texts[picture.name].splitlines(keepends=True),
                f"lessons/images/{picture.name}.txt", "the widget now", n=1))
            stale.append(f"{make_pictures.stale_message(picture.name)}\n{diff}")
    assert not stale, "\n\n".join(stale)


def test_pictures_are_folded_in_lab(lab_server, page, page_log):
    lesson = LESSONS / "01-margin-and-leverage.ipynb"
    open_notebook(lab_server, page, lesson, assets=(make_pictures.IMAGES,))
    summary = page.locator("summary", has_text="Picture of this widget")
    cell = page.locator(".jp-MarkdownCell", has=summary)
    # Lab renders a cell once it is near the view: bring it there, then look.
    cell.scroll_into_view_if_needed()
    page.wait_for_function("s => s.checkVisibility({contentVisibilityAuto: true})",
                           arg=summary.element_handle())
    # The widget above may still be growing as its charts draw, which moves the cell and lets
    # Lab's windowing hide it again for a moment: look again (scrolled back) before judging.
    for _ in range(20):
        cell.scroll_into_view_if_needed()
        if all(b["summaryShown"] for b in page.evaluate(_FOLDED_JS)):
            break
        time.sleep(0.5)
    assert_folded(page, lesson.name, 1)
    # Right under the live widget: the widget's output ends just above the label.
    widget_bottom = page.evaluate(
        """s => { const cells = Array.from(document.querySelectorAll('.jp-Cell'));
                  const at = cells.findIndex(c => c.contains(s));
                  return cells[at - 1].querySelector('.jp-OutputArea').getBoundingClientRect()
                    .bottom; }""", summary.element_handle())
    gap = summary.bounding_box()["y"] - widget_bottom
    assert 0 <= gap < 60, f"the picture's label is {gap:.0f} px below the widget"
    save_screenshot(cell, "pictures-lab-folded")
    summary.click()  # a reader who wants it opens it: the picture is there
    image = page.locator("details img[src*='lesson01-margin.png']")
    page.wait_for_function("img => img.checkVisibility() && img.complete && img.naturalWidth > 0",
                           arg=image.element_handle())
    assert image.bounding_box()["height"] > 300
    save_screenshot(cell, "pictures-lab-opened")
