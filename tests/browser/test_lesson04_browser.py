"""Lesson 4 in a real JupyterLab, in Chromium: typing a number into the critical-ratio view's
knob moves the current-market marker and changes its readout."""

from pathlib import Path

from labtools import open_notebook, save_screenshot, wait_until

LESSON = Path(__file__).parents[2] / "lessons" / "04-liquidation-clusters.ipynb"
TALL = {"width": 1400, "height": 2200}
TITLE = "Critical ratio: does the loop die out?"

# Every scatter dot of the figure: its fill and where it is drawn (bqplot moves the group
# around each dot).
_DOTS_JS = """
(figure) => Array.from(figure.querySelectorAll('path.dot')).map(p => ({
  fill: getComputedStyle(p).fill,
  transform: p.parentNode.getAttribute('transform') || ''}))
"""
ORANGE = "rgb(230, 159, 0)"  # Okabe-Ito orange: the current-market diamond


def marker_transform(figure):
    """Where the orange current-market diamond is drawn (its ``transform``)."""
    dots = figure.evaluate(_DOTS_JS)
    mine = [d["transform"] for d in dots if d["fill"] == ORANGE]
    assert len(mine) == 1, f"expected one orange diamond, got {dots}"
    return mine[0]


def test_typing_a_knob_moves_the_current_market_marker(lab_server, page, page_log):
    page.set_viewport_size(TALL)
    panel = open_notebook(lab_server, page, LESSON, assets=(LESSON.parent / "images",))
    view = panel.locator(".jp-OutputArea-output").filter(has_text=TITLE).first
    view.scroll_into_view_if_needed()
    figure = view.locator(".bqplot").filter(has_text=TITLE).first
    readout = view.locator("div[role='status']").first
    # Before: D = 2, n = 1 -> n/D = 0.5, amplification 2 (closed form and simulation)
    wait_until(readout.text_content, lambda t: "n/D = 0.50" in (t or ""), "readout")
    before = wait_until(lambda: marker_transform(figure), lambda t: "translate" in t,
                        "the diamond's position")
    assert len(figure.evaluate(_DOTS_JS)) == 19 + 1  # the simulated grid and the diamond
    save_screenshot(view, "lesson04-critical")
    # A student types 1.6 into the "Liquidations per 1%" box and presses Enter: n/D = 0.8.
    box = view.get_by_role("spinbutton", name="Liquidations per 1% n (M USD)", exact=True)
    box.fill("1.6")
    box.press("Enter")
    text = wait_until(readout.text_content, lambda t: "n/D = 0.80" in (t or ""),
                      "readout after typing 1.6")
    assert "amplification 5.00" in text and "10.0% fall" in text
    after = wait_until(lambda: marker_transform(figure), lambda t: t != before,
                       "the diamond should move")
    # Moved right (a larger n/D) and up (a larger amplification: SVG y grows downwards).
    (x0, y0), (x1, y1) = (tuple(float(v) for v in t.split("(")[1].rstrip(")").replace(
        ",", " ").split()) for t in (before, after))
    assert x1 > x0 and y1 < y0, (before, after)
    save_screenshot(view, "lesson04-critical-moved")
    # The depth box: a book four times deeper brings n/D to 0.2 (1.6 / 8).
    depth = view.get_by_role("spinbutton", name="1% depth D (M USD)", exact=True)
    depth.fill("8")
    depth.press("Enter")
    wait_until(readout.text_content, lambda t: "n/D = 0.20" in (t or ""), "readout after 8")
    moved_back = wait_until(lambda: marker_transform(figure), lambda t: t != after,
                            "the diamond should move again")
    x2 = float(moved_back.split("(")[1].replace(",", " ").split()[0])
    assert x2 < x0 < x1
    assert page_log.errors == []
