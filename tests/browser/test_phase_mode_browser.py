"""Phase mode in a real JupyterLab: every stage of the shock and two rounds, as a student sees it
(issue 10, item 3).

Lesson 03's phase-mode explorer (``CascadeExplorer(crowded-longs, phase_mode=True,
show_controls=False)``) in a scratch notebook. Each click of Step must change the charts its
stage names, and only those (compared by each figure's drawn SVG), and the visible status line
must read exactly what the same explorer, stepped headlessly, says (tests/test_phase_mode.py
checks that text against the charts and the records).
"""

import hashlib
import html
import re
import time

from labtools import explorers, open_cells, save_screenshot, widget_button

from marginloops import CascadeExplorer, Scenario

TALL = {"width": 1400, "height": 2000}
FIGURES = {"price": "Price by round", "liquidated": "Liquidated notional by round",
           "book": "Order book: depth near the price",
           "map": "Liquidation map: where positions get liquidated",
           "oi": "Open interest, insurance fund, bad debt"}
#: Per stage, the figures whose drawing changes (lesson 03, Part 1).
CHANGES = {
    "the shock": {"book"},
    "check margins": {"map"},
    "liquidate": {"liquidated", "map"},
    "walk the book": {"book"},
    "new price": {"price", "book", "map", "oi"},
}
STAGES = [("the shock", 0), ("new price", 0)] + [
    (name, r) for r in (1, 2) for name in ("check margins", "liquidate", "walk the book",
                                           "new price")]

# The SVG of each figure's marks, hashed, by figure title (what changes when a mark redraws).
_FIGURE_HASHES_JS = """
(root) => Object.fromEntries(Array.from(root.querySelectorAll('.bqplot')).map(f => {
  const title = (f.querySelector('.mainheading') || {}).textContent || '';
  const marks = f.querySelector('svg.svg-figure g.marks') || f.querySelector('svg.svg-figure');
  return [title.trim(), marks ? marks.innerHTML : ''];
}))
"""


# Clicks Step in the page and resolves with the milliseconds until the stage line (phase mode)
# or, outside it, the narration log shows new text: no Playwright round trip in the timing.
_CLICK_TO_TEXT_JS = """
(root) => new Promise((resolve, reject) => {
  const target = root.querySelector("div[role='status'][aria-live='polite']")
    || root.querySelector("div[role='log']");
  const step = Array.from(root.querySelectorAll('button.widget-button'))
    .find(b => b.textContent.trim() === 'Step');
  const old = target.textContent;
  const start = performance.now();
  const poll = () => {
    const now = root.querySelector("div[role='status'][aria-live='polite']")
      || root.querySelector("div[role='log']");
    if (now.textContent !== old) resolve(performance.now() - start);
    else if (performance.now() - start > 30000) reject('no new text in 30 s');
    else requestAnimationFrame(poll);
  };
  step.click();
  requestAnimationFrame(poll);
})
"""


def plain(value: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", value)).strip()


def stage_texts(stage_line):
    """The stage line's text, read without waiting: the element may come and go between
    a count and a read (a CI run saw Reset remove it in between, and the read waited 60 s)."""
    return [plain(t) for t in stage_line.all_text_contents()]


def drawn(explorer):
    """Figure title -> a hash of its drawn marks."""
    raw = explorer.evaluate(_FIGURE_HASHES_JS)
    return {k: hashlib.sha1(v.encode()).hexdigest() for k, v in raw.items()}


def redrawn(explorer, before, titles):
    """The figures (short names) whose drawing differs from ``before``."""
    return {titles[t] for t, h in drawn(explorer).items() if h != before[t]}


def diamonds(explorer):
    """How many "reached" diamonds the liquidation map draws."""
    figure = explorer.locator(".bqplot").filter(has_text=FIGURES["map"]).first
    return figure.locator("g.dot, path.dot").count()


def wait_until(probe, what, timeout_s=30.0):
    deadline = time.monotonic() + timeout_s
    while not (value := probe()):
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not happen within {timeout_s:g} s")
        time.sleep(0.02)
    return value


def test_every_phase_mode_stage_changes_its_chart_and_the_status_agrees(
        lab_server, page, page_log, tmp_path):
    panel = open_cells(
        lab_server, page, tmp_path,
        "from marginloops import CascadeExplorer, Scenario\n"
        "CascadeExplorer(Scenario.preset('crowded-longs'), phase_mode=True, "
        "show_controls=False)",
        name="phase-mode", viewport=TALL)
    explorer = explorers(panel).first
    explorer.scroll_into_view_if_needed()
    status = explorer.locator("div[role='status']").first
    stage_line = explorer.locator("div[role='status'][aria-live='polite']")
    # The same explorer, stepped here: the text the page must show after each click.
    twin = CascadeExplorer(Scenario.preset("crowded-longs"), phase_mode=True,
                           show_controls=False)
    assert plain(status.text_content()) == plain(twin.status.value)
    titles = {v: k for k, v in FIGURES.items()}
    assert set(drawn(explorer)) == set(titles), drawn(explorer).keys()
    assert diamonds(explorer) == 0
    timings = []
    for click, (name, round_no) in enumerate(STAGES, start=1):
        before = drawn(explorer)
        twin.time.step_button.click()
        want_status, want_stage = plain(twin.status.value), plain(twin.stage.value)
        assert f"Round {round_no}, stage" in want_stage and f"({name})" in want_stage
        start = time.perf_counter()
        widget_button(explorer, "Step").click()
        wait_until(lambda want=want_stage: stage_texts(stage_line) == [want],
                   f"click {click}: the stage line {want_stage!r}")
        wait_until(lambda before=before, must=CHANGES[name]: redrawn(explorer, before, titles)
                   >= must, f"click {click} ({name}): {CHANGES[name]} redrawn")
        timings.append((time.perf_counter() - start) * 1000)
        time.sleep(0.3)  # anything else that would redraw has had its chance
        changed = redrawn(explorer, before, titles)
        assert changed == CHANGES[name], (click, name, changed)
        assert plain(status.text_content()) == want_status, click
        shown = diamonds(explorer)
        assert (shown > 0) == (name == "check margins"), (click, name, shown)
        save_screenshot(explorer, f"phase-mode-lab-{click:02d}-round{round_no}-"
                                  f"{name.replace(' ', '-')}")
        print(f"click {click:2d} {name:14s}: redrawn {sorted(changed)}; status: "
              f"{want_status[:150]}")
    print(f"phase mode in Lab: click -> stage line and charts redrawn, ms: "
          f"{[round(t) for t in timings]}")
    # the numbers, as the page shows them
    text = plain(status.text_content())
    assert "liquidated so far: 691 positions closed (8.3M USD)" in text
    # Measured in the page: click -> the stage's text, for the shock and round 1's stages.
    widget_button(explorer, "Reset").click()
    wait_until(lambda: not any(stage_texts(stage_line)), "Reset clears the stage line")
    wait_until(lambda: "Before the shock" in plain(status.text_content()), "Reset")
    in_page = [round(explorer.evaluate(_CLICK_TO_TEXT_JS)) for _ in range(6)]
    print(f"phase mode in Lab, in-page click -> stage line, ms (shock, new price, check, "
          f"liquidate, walk, new price): {in_page}")
    assert page_log.errors == []
