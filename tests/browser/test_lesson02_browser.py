"""Lesson 2 in a real JupyterLab: type a bigger order into BookWalkView's number box and check
that the chart (bars and rules) and the readout's slippage change."""

import re
import time
from pathlib import Path

from labtools import open_notebook, save_screenshot

LESSON = Path(__file__).parents[2] / "lessons" / "02-order-books-and-slippage.ipynb"
TALL = {"width": 1400, "height": 2200}
SLIPPAGE = re.compile(r"Slippage (\d+\.\d+)%")

_BARS_JS = """
figure => Array.from(figure.querySelectorAll('rect.bar')).map(r =>
  [r.getAttribute('x'), r.getAttribute('y'), r.getAttribute('height')].join(','))
"""
_RULES_JS = "figure => Array.from(figure.querySelectorAll('g.curve path.line'))" \
            ".map(p => p.getAttribute('d') || '')"


def wait_until(probe, done, what, timeout_s=30.0):
    """Poll ``probe()`` (re-resolving its locators each time) until ``done(value)``."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = probe()
        if done(value):
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} within {timeout_s:g} s; last: {value!r}")
        time.sleep(0.02)


def test_typing_a_bigger_order_redraws_the_walk_in_lab(lab_server, page, page_log):
    page.set_viewport_size(TALL)
    panel = open_notebook(lab_server, page, LESSON, assets=(LESSON.parent / "images",))
    walker = panel.locator(".jp-OutputArea-output").filter(
        has=page.get_by_role("spinbutton", name="Order size (units)", exact=True)).first
    walker.scroll_into_view_if_needed()

    def figure():
        return walker.locator(".bqplot").filter(has_text="A market order walking the book").first

    def readout():
        return walker.locator("div[role='status']").first.text_content() or ""

    text = wait_until(readout, lambda t: "Sold 25,000 units" in t, "the first walk shown")
    assert "Slippage 0.57%" in text and "Up to 20,111 units (2.00M USD)" in text
    bars = wait_until(lambda: figure().evaluate(_BARS_JS), lambda b: len(b) >= 2, "bars drawn")
    rules = figure().evaluate(_RULES_JS)
    assert len(rules) >= 3 and all(rules), rules  # start, average and last rules are drawn
    assert figure().get_by_text("taken: 25,000 units").count() == 1
    save_screenshot(walker, "lesson02-bookwalk-lab")

    box = walker.get_by_role("spinbutton", name="Order size (units)", exact=True)
    started = time.perf_counter()
    box.fill("40000")
    box.press("Enter")
    text = wait_until(readout, lambda t: "Sold 40,000 units" in t, "the readout to follow")
    print(f"typed order -> new readout: {(time.perf_counter() - started) * 1000:.0f} ms")
    new_bars = wait_until(lambda: figure().evaluate(_BARS_JS), lambda b: b != bars,
                          "the bars to change")
    new_rules = wait_until(lambda: figure().evaluate(_RULES_JS), lambda r: r != rules,
                           "the rules to move")
    print(f"typed order -> redrawn chart: {(time.perf_counter() - started) * 1000:.0f} ms")
    assert float(SLIPPAGE.search(text).group(1)) > 0.57
    assert len(new_rules) == len(rules)
    # 40,000 units walk 1.9% down: past the 2% window, so the chart widens to 5% (more bars)
    assert len(new_bars) > len(bars)
    assert figure().get_by_text("taken: 40,000 units").count() == 1
    save_screenshot(walker, "lesson02-bookwalk-lab-40000")
    assert page_log.errors == []
