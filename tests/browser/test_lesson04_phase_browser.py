"""Lesson 4's phase diagram in a real JupyterLab, in Chromium: before the sweep every cell is
hatched; Sweep fills the map in (SVG rects with viridis fills, the boundary n/D = 1 dashed over
them); hovering a cell shows its numbers; a click on a cell opens that market in an explorer
beside the map."""

from pathlib import Path

from labtools import click_button, open_notebook, save_screenshot, wait_until, widget_button

LESSON = Path(__file__).parents[2] / "lessons" / "04-liquidation-clusters.ipynb"
TALL = {"width": 1400, "height": 2400}
TITLE = "Phase diagram: where does the loop run away?"
ROWS, COLUMNS = 10, 18          # lesson04.PHASE_GRID: 10 shocks (y) x 18 depths (x)
HATCH = 'url("#marginloops-phase-empty")'

# Every heat-map cell, row by row (bqplot draws a g.heatmaprow per row, rowNum 0 first):
# its computed fill and its size.
_CELLS_JS = """
(figure) => Array.from(figure.querySelectorAll('g.heatmaprow')).map(row =>
  Array.from(row.querySelectorAll('rect.heatmapcell')).map(rect => {
    const box = rect.getBBox();
    return {fill: getComputedStyle(rect).fill, width: box.width, height: box.height};
  }))
"""


def cells(figure):
    return figure.evaluate(_CELLS_JS)


def fills(figure):
    return [cell["fill"] for row in cells(figure) for cell in row]


def test_sweep_fills_the_map_and_a_click_opens_the_market(lab_server, page, page_log):
    page.set_viewport_size(TALL)
    panel = open_notebook(lab_server, page, LESSON, assets=(LESSON.parent / "images",))
    view = panel.locator(".jp-OutputArea-output").filter(has_text=TITLE).first
    view.scroll_into_view_if_needed()
    figure = view.locator(".bqplot").filter(has_text=TITLE).first
    status = view.locator("div[role='status']").first
    # Before the sweep: 10 x 18 cells drawn, every one hatched (not a colour of the scale).
    before = wait_until(lambda: fills(figure), lambda f: len(f) == ROWS * COLUMNS,
                        "the map's 180 cells")
    assert set(before) == {HATCH}, set(before)
    assert "press Sweep" in status.text_content()
    # The boundary: the dashed line and its label over the map.
    assert figure.locator("text", has_text="n/D = 1").count() >= 1
    assert figure.locator("text", has_text="crowding ratio n/D (within 5%)").count() == 1
    save_screenshot(view, "lesson04-phase-before")

    click_button(view, "Sweep")
    text = wait_until(status.text_content, lambda t: "Swept 180 of 180 markets" in (t or ""),
                      "the status line after Sweep", timeout_s=90)
    assert " s." in text
    assert not widget_button(view, "Sweep").is_disabled()
    after = wait_until(lambda: fills(figure), lambda f: HATCH not in f,
                       "every cell coloured after the sweep")
    assert len(after) == ROWS * COLUMNS
    assert all(f.startswith("rgb(") for f in after), set(after)
    assert len(set(after)) > 20                 # a real gradient, not one flat colour
    # Cells have a size: the grid is laid out, not collapsed.
    assert all(cell["width"] > 5 and cell["height"] > 5 for row in cells(figure) for cell in row)
    # The narration says where the loop runs away.
    story = view.locator("div", has_text="markets swept run away").last.text_content()
    assert "n/D = 1" in story and "none does" in story

    # Hover: the cell's numbers. Row 0 (shock 1%), last column (n/D 3.6: depth 0.4M).
    corner = figure.locator("g.heatmaprow").nth(0).locator("rect.heatmapcell").nth(COLUMNS - 1)
    corner.hover()
    # (the page's other tooltips, the critical-ratio chart's, say "amplification" too)
    tip = page.locator(".bqplot_mark_tooltip").filter(has_text="positions liquidated")
    wait_until(lambda: tip.count() and tip.first.text_content(),
               lambda t: bool(t) and "shock 1.0%" in t and "400.0K USD" in t,
               "the hovered cell's numbers in its hover text")
    box = tip.first.bounding_box()
    assert box and box["width"] > 100 and box["height"] > 20, box   # shown, not collapsed
    save_screenshot(view, "lesson04-phase-hover")

    # Click it: the explorer opens beside the map with that market, and says which cell.
    corner.click()
    opened = view.locator("div[role='status']", has_text="In the explorer")
    wait_until(lambda: opened.count() and opened.first.text_content(),
               lambda t: bool(t) and "shock 1.0%" in t and "400.0K USD" in t,
               "the explorer's note of the open cell")
    step = widget_button(view, "Step")
    wait_until(step.count, lambda n: n == 1, "the explorer's Step button")
    # Its controls show the cell's market: 1% depth 0.4M USD and a 1% shock.
    boxes = view.locator(".widget-text input").evaluate_all("els => els.map(e => e.value)")
    assert "0.4" in boxes and "1" in boxes, boxes
    page.mouse.move(0, 0)
    save_screenshot(view, "lesson04-phase")
    # A step in the explorer plays the 1% shock.
    step.click()
    wait_until(lambda: view.text_content(), lambda t: "Round 0" in t, "round 0 after Step")
    assert page_log.errors == []
