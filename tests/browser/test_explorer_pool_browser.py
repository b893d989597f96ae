"""The explorer on a constant-product pool in a real JupyterLab (issue 11, item 2): the pool's
reserves chart stands where the order book's would, and each Step moves its point (the pool
now, a diamond) along the curve, labelled with the price the cascade's records give.
"""

import html
import re
import time

from labtools import explorers, open_cells, save_screenshot, widget_button

from marginloops import CascadeExplorer, Scenario
from marginloops.numbers import number

TALL = {"width": 1400, "height": 2000}
POOL_TITLE = "The pool's reserves: x·y = k"
BOOK_TITLE = "Order book: depth near the price"

# Each figure's title, per scatter point its group's transform (document order), and its
# "y/x ..." and "a sale gets ..." labels.
_FIGURES_JS = """
(root) => Array.from(root.querySelectorAll('.bqplot')).map(f => ({
  title: ((f.querySelector('.mainheading') || {}).textContent || '').trim(),
  dots: Array.from(f.querySelectorAll('svg.svg-figure g.object_grp'))
    .filter(g => g.querySelector('path.dot')).map(g => g.getAttribute('transform') || ''),
  text: Array.from(f.querySelectorAll('svg.svg-figure text'))
    .map(t => t.textContent.trim())
    .filter(t => t.startsWith('y/x ') || t.startsWith('a sale gets ')),
}))
"""


def plain(value: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", value)).strip()


def pool_figure(explorer):
    figures = {f["title"]: f for f in explorer.evaluate(_FIGURES_JS)}
    assert BOOK_TITLE not in figures, list(figures)  # the pool's chart, not the book's
    return figures[POOL_TITLE]


def wait_until(probe, what, timeout_s=30.0):
    deadline = time.monotonic() + timeout_s
    while not (value := probe()):
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not happen within {timeout_s:g} s")
        time.sleep(0.05)
    return value


def test_three_steps_move_the_pool_point_along_its_curve(lab_server, page, page_log,
                                                         tmp_path):
    panel = open_cells(
        lab_server, page, tmp_path,
        "from marginloops import CascadeExplorer, Scenario\n"
        "CascadeExplorer(Scenario.preset('crowded-longs').replace(venue='pool'), "
        "show_controls=False)",
        name="pool-explorer", viewport=TALL)
    explorer = explorers(panel).first
    explorer.scroll_into_view_if_needed()
    # The same explorer, stepped here: the price its pool chart must label after each click.
    twin = CascadeExplorer(Scenario.preset("crowded-longs").replace(venue="pool"),
                           show_controls=False)
    start = wait_until(lambda: pool_figure(explorer)["dots"], "the pool chart's point drawn")
    first = pool_figure(explorer)
    # the spot y/x and, after the 0.3% fee, what a sale gets: the status line's price
    pool = twin.cascade.venue
    assert first["text"] == [f"y/x {number(pool.spot, 2)}",
                             f"a sale gets {number(pool.spot * (1 - pool.fee), 2)}"], first["text"]
    save_screenshot(explorer, "pool-explorer-lab-0-start")
    points = [start[-1]]  # the "now" diamond is the figure's last dot
    for click in (1, 2, 3):
        twin.time.step_button.click()
        want = f"y/x {number(twin.cascade.history[-1].price_after, 2)}"
        widget_button(explorer, "Step").click()
        fig = wait_until(lambda want=want: (f := pool_figure(explorer))
                         and want in f["text"]
                         and f, f"click {click}: the pool chart labels {want!r}")
        time.sleep(0.3)  # the point's move lands with the label's
        fig = pool_figure(explorer)
        points.append(fig["dots"][-1])
        assert points[-1] != points[-2], (click, points)  # the point moved
        assert len(fig["dots"]) == 2  # "before" (the trade's start) and "now"
        save_screenshot(explorer, f"pool-explorer-lab-{click}-step")
        print(f"click {click}: {want}; the point's transform {points[-2]} -> {points[-1]}")
    assert len(set(points)) == 4
    assert page_log.errors == []
