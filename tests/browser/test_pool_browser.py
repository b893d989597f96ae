"""The pool's reserves chart in a real JupyterLab: PoolView opens on the curve; Sell moves the
pool's point down and to the right along x·y = k and draws the trade's path; Buy moves it back
left; Reset puts it where it started."""

import re
import time

from labtools import click_button, open_notebook, save_screenshot, write_notebook

TITLE = "The pool's reserves: x·y = k"
VERMILLION = "rgb(213, 94, 0)"  # the pool's point (filled diamond) and the trade's path

# Every scatter marker of the figure: where bqplot puts its group, and its fill.
_MARKERS_JS = """
figure => Array.from(figure.querySelectorAll('svg.svg-figure g.object_grp')).filter(
  g => g.querySelector('path.dot')).map(g => ({
    transform: g.getAttribute('transform') || '',
    fill: getComputedStyle(g.querySelector('path.dot')).fill,
    shown: g.getBoundingClientRect().width > 0}))
"""
# The Lines paths drawn in vermilion and shown (a hidden mark has no size): the trade's path.
_PATH_JS = """
figure => Array.from(figure.querySelectorAll('svg.svg-figure g.curve path.line'))
  .filter(p => getComputedStyle(p).stroke === 'rgb(213, 94, 0)'
               && p.getBoundingClientRect().width > 0)
  .map(p => p.getAttribute('d') || '')
"""
TRANSLATE = re.compile(r"translate\(\s*([-\d.e]+)[ ,]+([-\d.e]+)\s*\)")


def wait_until(probe, done, what, timeout_s=30.0):
    """Poll ``probe()`` until ``done(value)``; return the value."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = probe()
        if done(value):
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} within {timeout_s:g} s; last: {value!r}")
        time.sleep(0.02)


def test_sell_and_buy_move_the_pool_along_its_curve_in_lab(lab_server, page, page_log, tmp_path):
    page.set_viewport_size({"width": 1280, "height": 1400})
    notebook = write_notebook(tmp_path / "pool.ipynb",
                              "from marginloops.ui.pool import PoolView\n\nview = PoolView()\nview")
    panel = open_notebook(lab_server, page, notebook)
    view = panel.locator(".jp-OutputArea-output").filter(has_text=TITLE).first
    view.scroll_into_view_if_needed()
    figure = view.locator(".bqplot").filter(has_text=TITLE).first

    def readout():
        return view.locator("div[role='status']").first.text_content() or ""

    def point():
        """The pool's point (the vermilion diamond) in pixels, once drawn."""
        for marker in figure.evaluate(_MARKERS_JS):
            found = TRANSLATE.search(marker["transform"])
            if marker["fill"] == VERMILLION and found:
                return float(found.group(1)), float(found.group(2))
        return None

    assert "price y/x = 100.00 USD" in wait_until(readout, lambda t: "pool holds" in t,
                                                   "the opening sentence")
    start = wait_until(point, lambda p: p is not None, "the pool's point drawn")
    assert "price 100.00" in figure.text_content()
    assert not any(figure.evaluate(_PATH_JS))  # no trade yet, no path
    save_screenshot(view, "pool-lab-open")

    started = time.perf_counter()
    click_button(view, "Sell")
    text = wait_until(readout, lambda t: t.startswith("Sold 100,000 units"), "the sale's sentence")
    assert "moved from 100.00 to 95.18 (-4.8%)" in text
    sold = wait_until(point, lambda p: p is not None and p != start, "the point to move")
    print(f"Sell -> point moved: {(time.perf_counter() - started) * 1000:.0f} ms")
    # More coins (right) and fewer USD (lower: a larger pixel y) after a sale.
    assert sold[0] > start[0] and sold[1] > start[1], (start, sold)
    wait_until(lambda: figure.evaluate(_PATH_JS), lambda paths: any(paths), "the path drawn")
    wait_until(figure.text_content, lambda t: "price 95.18" in t, "the price label")
    save_screenshot(view, "pool-lab-after-sell")

    click_button(view, "Buy")
    wait_until(readout, lambda t: t.startswith("Bought 100,000 units"), "the buy's sentence")
    bought = wait_until(point, lambda p: p is not None and p != sold, "the point to move back")
    # The axes refit to each trade around its path: the point ends a sale on the path's right
    # (more coins), a buy on its left.
    assert bought[0] < sold[0], (sold, bought)
    save_screenshot(view, "pool-lab-after-buy")

    click_button(view, "Reset")
    wait_until(readout, lambda t: "price y/x = 100.00 USD" in t, "the reset sentence")
    wait_until(figure.text_content, lambda t: "price 100.00" in t, "the price label reset")
    assert page_log.errors == []
