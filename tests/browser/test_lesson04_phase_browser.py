"""Lesson 4's phase diagram in a real JupyterLab, in Chromium: before the sweep every cell is
hatched; Sweep fills the map in (SVG rects with viridis fills, the boundary n/D = 1 dashed over
them); hovering a cell shows its numbers; a click on a cell opens that market in an explorer
beside the map."""

from pathlib import Path

from labtools import (
    click_button,
    open_cells,
    open_notebook,
    save_screenshot,
    wait_until,
    widget_button,
)

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


# A sweep long enough to interrupt: 30 depths x 20 shocks x 4 seeds = 2,400 runs (several
# seconds), in small chunks so the map fills in as it goes.
_SLOW = """
import numpy as np
from marginloops import PhaseDiagramView, Scenario
phase = PhaseDiagramView(Scenario.preset("crowded-longs"),
                         {"depth_1pct": np.geomspace(0.4e6, 8e6, 30),
                          "shock": np.linspace(0.01, 0.1, 20)}, seeds=4)
phase
"""


def test_the_kernels_interrupt_stops_a_sweep_and_the_page_says_so(lab_server, page, page_log,
                                                                  tmp_path):
    panel = open_cells(lab_server, page, tmp_path, _SLOW, name="phase-interrupt", viewport=TALL)
    view = panel.locator(".jp-OutputArea-output").filter(has_text=TITLE).first
    figure = view.locator(".bqplot").filter(has_text=TITLE).first
    status = view.locator("div[role='status']").first
    wait_until(lambda: len(fills(figure)), lambda n: n == 600, "the map's 600 cells")
    click_button(view, "Sweep")
    # While it runs: the button says so and cannot be pressed; cells fill in.
    busy = widget_button(view, "Sweeping…")
    wait_until(busy.count, lambda n: n == 1, "the button saying Sweeping…")
    assert busy.is_disabled()
    wait_until(status.text_content, lambda t: "Sweeping:" in (t or "") and "runs done" in t,
               "the running count")
    wait_until(lambda: fills(figure), lambda f: any(x.startswith("rgb(") for x in f),
               "the first cells coloured while the sweep runs")
    # The kernel's interrupt (Kernel ▸ Interrupt Kernel).
    page.evaluate("() => window.jupyterapp.commands.execute('kernelmenu:interrupt')")
    text = wait_until(status.text_content, lambda t: "Interrupted" in (t or ""),
                      "the status line after the interrupt")
    assert "of 2,400 runs" in text and "hatched cells were not run" in text, text
    done = int(text.split("swept ")[1].split(" of")[0].replace(",", ""))
    assert 0 < done < 2400, text
    after = fills(figure)
    assert HATCH in after and any(x.startswith("rgb(") for x in after)   # part done, part not
    wait_until(widget_button(view, "Sweep").count, lambda n: n == 1, "the Sweep button back")
    assert not widget_button(view, "Sweep").is_disabled()
    save_screenshot(view, "lesson04-phase-interrupted")
    assert page_log.errors == []


_WORDS = """
from marginloops import PhaseDiagramView, Scenario
phase = PhaseDiagramView(Scenario.preset("crowded-longs"),
                         {"liquidation_orders": ["market", "bankruptcy"], "shock": [0.02, 0.05]})
phase
"""


def test_values_that_are_not_numbers_label_their_axis(lab_server, page, page_log, tmp_path):
    panel = open_cells(lab_server, page, tmp_path, _WORDS, name="phase-words", viewport=TALL)
    view = panel.locator(".jp-OutputArea-output").filter(
        has_text="Phase diagram over liquidation_orders and shock").first
    figure = view.locator(".bqplot").first
    ticks = figure.locator("g.axis g.tick text").evaluate_all("ts => ts.map(t => t.textContent)")
    assert "market" in ticks and "bankruptcy" in ticks, ticks
    click_button(view, "Sweep")
    wait_until(lambda: fills(figure), lambda f: len(f) == 4 and HATCH not in f, "4 cells")
    save_screenshot(view, "phase-words")
    assert page_log.errors == []
