"""Lesson 1 in a real JupyterLab: drag and type the mark price of MarginView past the
liquidation price; the chart's marker moves and the readout says LIQUIDATED."""

import re
import time
from pathlib import Path

from labtools import open_notebook, save_screenshot

TALL = {"width": 1400, "height": 2200}
LESSON = Path(__file__).parents[2] / "lessons" / "01-margin-and-leverage.ipynb"
TITLE = "Equity against the mark price"
GREEN = "rgb(0, 158, 115)"  # Okabe-Ito green: the mark-price rule and marker
VERMILLION = "rgb(213, 94, 0)"  # the liquidation rule (the maintenance line is dashed)

# Solid (undashed) line paths in one colour: the maintenance line shares the liquidation
# rule's vermilion but is dashed, the mark rule is dash-dotted green.
_RULES_JS = """
(figure, colour) => Array.from(figure.querySelectorAll('svg.svg-figure g.curve path.line'))
  .filter(p => getComputedStyle(p).stroke === colour)
  .map(p => [p.getAttribute('d') || '', getComputedStyle(p).strokeDasharray])
"""


def margin_view(panel):
    """The widget output that holds the MarginView chart."""
    return panel.locator(".jp-OutputArea-output").filter(has_text=TITLE).first


def rule_xs(figure, colour, solid=False):
    """Pixel x of each vertical rule drawn in ``colour`` (its path's first point); only the
    undashed ones if ``solid``."""
    paths = figure.evaluate(_RULES_JS, colour)
    return [float(re.match(r"M\s*([-\d.e]+)", d).group(1)) for d, dash in paths
            if d and (not solid or dash in ("none", ""))]


def marker_transform(figure):
    return figure.locator("svg.svg-figure g.object_grp:has(path.dot)").first.get_attribute(
        "transform")


def wait_until(check, what, timeout_s=30.0):
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} within {timeout_s:g} s")
        time.sleep(0.02)


def readout_text(view):
    return view.locator("div[role='status']").first.text_content() or ""


def test_mark_price_past_liquidation_in_lab(lab_server, page, page_log):
    page.set_viewport_size(TALL)
    panel = open_notebook(lab_server, page, LESSON, assets=(LESSON.parent / "images",))
    view = margin_view(panel)
    view.scroll_into_view_if_needed()
    figure = view.locator(".bqplot").filter(has_text=TITLE).first
    assert "Mark price 100.00 USD" in readout_text(view)
    assert "LIQUIDATED" not in readout_text(view)
    assert "liquidation 90.45" in figure.text_content()
    assert "bankruptcy 90.00" in figure.text_content()
    wait_until(lambda: len(rule_xs(figure, GREEN)) == 1, "the mark-price rule was not drawn")
    (liq_x,) = rule_xs(figure, VERMILLION, solid=True)
    start_x = rule_xs(figure, GREEN)[0]
    start_marker = marker_transform(figure)
    assert start_x > liq_x  # 100 is right of 90.45

    # Drag the slider's handle to the left: the mark price falls while the mouse moves.
    handle = view.locator(".widget-slider .noUi-handle").last
    box = handle.bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.down()
    page.mouse.move(box["x"] - 60, box["y"] + box["height"] / 2, steps=8)
    page.mouse.up()
    wait_until(lambda: "Mark price 100.00 USD" not in readout_text(view),
               "dragging the slider did not change the readout")
    dragged = float(re.search(r"Mark price ([\d.,]+) USD", readout_text(view)).group(1))
    assert 85 <= dragged < 100
    wait_until(lambda: rule_xs(figure, GREEN)[0] < start_x, "the mark rule did not move left")

    # Type a price above the liquidation price: still open, the marker moves.
    number = view.get_by_role("spinbutton", name="Mark price (USD)", exact=True)
    number.fill("92")
    number.press("Enter")
    wait_until(lambda: "Mark price 92.00 USD" in readout_text(view),
               "typing 92 did not update the readout")
    text = readout_text(view)
    assert "Equity 200.00 USD" in text and "Margin ratio 23.0%" in text
    assert "LIQUIDATED" not in text
    wait_until(lambda: marker_transform(figure) != start_marker, "the marker did not move")
    at_92 = rule_xs(figure, GREEN)[0]
    assert liq_x < at_92 < start_x
    number.evaluate("box => box.blur()")  # no focus ring in the lesson's picture
    save_screenshot(view, "lesson01-margin-92")

    # Type a price past the liquidation price: LIQUIDATED, the marker left of the rule.
    marker_92 = marker_transform(figure)
    number.fill("90")
    number.press("Enter")
    wait_until(lambda: "LIQUIDATED: equity fell to the maintenance margin at 90.45 USD"
               in readout_text(view), "LIQUIDATED did not appear after typing 90")
    wait_until(lambda: marker_transform(figure) != marker_92, "the marker did not move again")
    wait_until(lambda: rule_xs(figure, GREEN)[0] < liq_x,
               "the mark rule is not left of the liquidation rule")
    save_screenshot(view, "lesson01-margin-liquidated")
    assert page_log.errors == []
