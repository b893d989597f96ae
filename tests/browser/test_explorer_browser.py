"""The explorer and the lessons in a real JupyterLab (and one lesson in Voilà), in Chromium."""

import re
import time
from pathlib import Path

import pytest
from labtools import (
    open_notebook,
    open_voila,
    save_screenshot,
    widget_button,
    write_notebook,
)

TALL = {"width": 1400, "height": 2200}
LESSONS = sorted((Path(__file__).parents[2] / "lessons").glob("*.ipynb"))


def first_explorer(scope):
    """The first CascadeExplorer in ``scope``: the widget output that holds a Step button."""
    page = scope.page
    return scope.locator(".jp-OutputArea-output").filter(
        has=page.locator("button.widget-button", has_text="Step")).first


def price_figure(explorer):
    return explorer.locator(".bqplot").filter(has_text="Price by round").first


def figure_paths(figure):
    """The ``d`` of every Lines path in one bqplot figure."""
    return figure.locator("svg.svg-figure g.curve path.line").evaluate_all(
        "paths => paths.map(p => p.getAttribute('d') || '')")


def price_line(figure):
    """The ``d`` of the price line (drawn in the Okabe-Ito blue; the start line is grey): ""
    when the line has no point (bqplot then draws no path at all, or an empty one)."""
    return "".join(figure.locator("svg.svg-figure g.curve path.line").evaluate_all(
        "paths => paths.filter(p => getComputedStyle(p).stroke === 'rgb(0, 114, 178)')"
        ".map(p => p.getAttribute('d') || '')"))


def in_phase_mode(explorer):
    """Whether the explorer's phase-mode checkbox is ticked, as the page shows it (a compare
    explorer has none: it steps whole rounds)."""
    box = explorer.get_by_role("checkbox", name="Phase mode: one stage of the round per click")
    return box.count() > 0 and box.is_checked()


def wait_for_new_paths(figure, old, timeout_s=30.0):
    """Poll until the figure's Lines paths (their ``d`` attributes) differ from ``old``."""
    deadline = time.monotonic() + timeout_s
    while True:
        paths = figure_paths(figure)
        if paths != old:
            return paths
        if time.monotonic() > deadline:
            raise AssertionError(f"price chart paths stayed {old!r} for {timeout_s:g} s")
        time.sleep(0.005)


def step_and_check(explorer, times, label, every_click_moves_price=True):
    """Press Step ``times`` times and check the explorer redraws.

    Every press must change the text alternative (the narration or, in phase mode, the stage
    line) and, outside phase mode, the price line; in all modes the price line must have
    changed by the end. Returns the narration's text.
    """
    figure = price_figure(explorer)
    text = explorer.locator("div[role='log'], div[role='status']")
    first_paths = old_paths = figure_paths(figure)
    old_text = "\n".join(text.all_text_contents())
    timings = []
    for _ in range(times):
        start = time.perf_counter()
        widget_button(explorer, "Step").click()
        if every_click_moves_price:
            old_paths = wait_for_new_paths(figure, old_paths)
            timings.append((time.perf_counter() - start) * 1000)
        old_text = wait_for_new_text(text, old_text)
    assert wait_for_new_paths(figure, first_paths) != first_paths
    if timings:
        print(f"{label}: click -> redrawn price line, ms: {[round(t) for t in timings]}")
    return "\n".join(explorer.locator("div[role='log']").all_text_contents())


def wait_for_text(locator, needle, timeout_s=30.0):
    """Poll until ``needle`` appears in the text of ``locator`` (re-resolved each time)."""
    deadline = time.monotonic() + timeout_s
    while needle not in (locator.text_content() or ""):
        if time.monotonic() > deadline:
            raise AssertionError(f"{needle!r} did not appear within {timeout_s:g} s; text: "
                                 f"{locator.text_content()!r}")
        time.sleep(0.02)


def wait_for_new_text(locator, old, timeout_s=30.0):
    deadline = time.monotonic() + timeout_s
    while True:
        new = "\n".join(locator.all_text_contents())
        if new != old:
            return new
        if time.monotonic() > deadline:
            raise AssertionError(f"narration and stage text stayed the same for {timeout_s:g} s")
        time.sleep(0.005)


# Resolves with the milliseconds from a Step click to the price line's next redraw.
_CLICK_TO_REDRAW_JS = """
(root) => new Promise((resolve, reject) => {
  const figure = Array.from(root.querySelectorAll('.bqplot'))
    .find(f => f.textContent.includes('Price by round'));
  const step = Array.from(root.querySelectorAll('button.widget-button'))
    .find(b => b.textContent.trim() === 'Step');
  const observer = new MutationObserver(records => {
    if (records.some(r => r.target.matches && r.target.matches('path.line'))) {
      observer.disconnect();
      resolve(performance.now() - start);
    }
  });
  observer.observe(figure, {subtree: true, attributes: true, attributeFilter: ['d']});
  const start = performance.now();
  step.click();
  setTimeout(() => reject(new Error('no redraw within 10 s')), 10000);
})
"""


@pytest.fixture
def explorer_notebook(tmp_path):
    path = write_notebook(tmp_path / "explorer.ipynb",
        "from marginloops import CascadeExplorer, Scenario\n"
        "explorer = CascadeExplorer(Scenario.preset('crowded-longs'))\n"
        "explorer")
    return path


def test_explorer_steps_resets_and_plays_in_lab(lab_server, page, page_log, explorer_notebook):
    page.set_viewport_size(TALL)  # the whole explorer on screen, for the screenshots
    panel = open_notebook(lab_server, page, explorer_notebook)
    explorer = first_explorer(panel)
    counter = explorer.locator(".widget-html", has_text="Round").first
    figure = price_figure(explorer)
    assert counter.text_content() == "Round –" and price_line(figure) == ""
    story = step_and_check(explorer, 3, "lab explorer")
    assert "Round 2:" in story and "Round 0 (the shock)" in story
    wait_for_text(counter, "Round 2")
    assert counter.text_content() == "Round 2"
    save_screenshot(explorer, "explorer-lab-round2")
    # Measured in the page (no Playwright round trips): click -> the price path's new "d".
    in_page = [explorer.evaluate(_CLICK_TO_REDRAW_JS) for _ in range(3)]
    print(f"lab explorer: in-page click -> redrawn price line, ms: {[round(t) for t in in_page]}")
    wait_for_text(counter, "Round 5")  # crowded-longs ends after round 6: not yet "(end)"
    assert counter.text_content() == "Round 5"
    assert "Round 5:" in explorer.locator("div[role='log']").text_content()
    assert price_line(figure).count("L") == 5  # six points: rounds 0 to 5
    # Reset empties the price line and says so; Run to end disables Step.
    widget_button(explorer, "Reset").click()
    wait_for_text(explorer.locator("div[role='log']"), "Reset: back to round 0, before the shock")
    wait_for_text(counter, "Round –")
    deadline = time.monotonic() + 30
    while (line := price_line(figure)) != "":
        if time.monotonic() > deadline:
            raise AssertionError(f"the price line is still drawn after Reset: {line!r}")
        time.sleep(0.02)
    assert "Round 0" not in explorer.locator("div[role='log']").text_content()
    widget_button(explorer, "Run to end").click()
    page.wait_for_function(
        "() => Array.from(document.querySelectorAll('button.widget-button'))"
        ".some(b => b.textContent.trim() === 'Step' && b.disabled)", timeout=30_000)
    assert "The cascade stopped" in explorer.locator("div[role='log']").text_content()
    save_screenshot(explorer, "explorer-lab-end")
    assert page_log.errors == []


@pytest.mark.parametrize("lesson", LESSONS, ids=[p.stem for p in LESSONS])
def test_lesson_runs_and_its_explorer_steps_in_lab(lab_server, page, page_log, lesson):
    page.set_viewport_size(TALL)
    panel = open_notebook(lab_server, page, lesson, assets=(lesson.parent / "images",))
    explorer = first_explorer(panel)
    explorer.scroll_into_view_if_needed()
    # six clicks: six rounds, each moving the price line, or in phase mode the shock's two
    # stages and a round's four (the line moves at the end of each)
    phases = in_phase_mode(explorer)
    print(f"{lesson.stem}: first explorer in phase mode: {phases}")
    step_and_check(explorer, 6, f"lab {lesson.stem}", every_click_moves_price=not phases)
    save_screenshot(explorer, f"lesson-{lesson.stem}-lab")
    assert page_log.errors == []


def test_central_lesson_as_an_app_in_voila(voila_server, page, page_log):
    lesson = next(p for p in LESSONS if p.stem.startswith("03"))
    cells = open_voila(voila_server, page, lesson, assets=(lesson.parent / "images",))
    explorer = first_explorer(cells)
    step_and_check(explorer, 6, "voila 03", every_click_moves_price=not in_phase_mode(explorer))
    save_screenshot(page, "lesson-03-voila")
    assert page_log.errors == []


def test_play_typing_and_presets_work_in_lab(lab_server, page, page_log, explorer_notebook):
    """What a student does with the mouse and keyboard: Play to the end, type a number, pick a
    preset; every change resets the run and says so."""
    page.set_viewport_size(TALL)
    panel = open_notebook(lab_server, page, explorer_notebook)
    explorer = first_explorer(panel)
    story = explorer.locator("div[role='log']")
    counter = explorer.locator(".widget-html", has_text="Round").first
    # Play runs the cascade to its end by itself, then stops.
    explorer.get_by_role("button", name=re.compile(r"\bPlay$")).click()
    wait_for_text(counter, "(end)", timeout_s=60)
    assert "The cascade stopped" in story.text_content()
    save_screenshot(explorer, "explorer-lab-played-to-end")
    # Typing a shock of 8 in its number box (then Enter) resets the run and says so.
    shock_box = explorer.get_by_role("spinbutton", name="Shock size (%)", exact=True)
    shock_box.fill("8")
    shock_box.press("Enter")
    wait_for_text(story, "Settings changed (Shock size (%) 3 → 8)")
    assert "Round –" in counter.text_content()
    # A preset from the menu: the short squeeze liquidates shorts when stepped.
    explorer.locator("select").first.select_option(label="preset: short-squeeze")
    wait_for_text(story, "market set to the preset short-squeeze")
    step_and_check(explorer, 3, "lab squeeze")
    assert "shorts were liquidated" in story.text_content()
    save_screenshot(explorer, "explorer-lab-squeeze")
    assert page_log.errors == []


def test_price_chart_draws_mark_and_index_in_projector_mode_in_lab(lab_server, page, page_log,
                                                                   tmp_path):
    """A market checked on the mark price (issue 12): the price chart draws the mark (purple,
    dashed) and the index (green, dotted) beside the last price, keyed in its caption, and
    both grow a point with each round; projector mode keeps them and their key readable."""
    path = write_notebook(
        tmp_path / "mark.ipynb",
        "from marginloops import CascadeExplorer, Scenario\n"
        "CascadeExplorer(Scenario.preset('crowded-longs').replace(\n"
        "    index_venues=((5e6, 1.0), (3e6, 1.0)), price_source='mark', arbitrage=0.3))")
    page.set_viewport_size(TALL)
    panel = open_notebook(lab_server, page, path)
    explorer = first_explorer(panel)
    figure = price_figure(explorer)
    purple, green = "rgb(204, 121, 167)", "rgb(0, 158, 115)"  # style.PURPLE, style.GREEN

    def line(colour):
        return "".join(figure.locator("svg.svg-figure g.curve path.line").evaluate_all(
            f"paths => paths.filter(p => getComputedStyle(p).stroke === '{colour}')"
            ".map(p => p.getAttribute('d') || '')"))

    seen = []
    for round_no in range(3):
        widget_button(explorer, "Step").click()
        deadline = time.monotonic() + 30
        while (d := (line(purple), line(green))) in seen[-1:] or not d[0]:
            if time.monotonic() > deadline:
                raise AssertionError(f"mark and index lines did not move in round {round_no}")
            time.sleep(0.02)
        seen.append(d)
    assert "NaN" not in "".join(seen[-1])
    caption = explorer.locator(".bqplot").filter(has_text="Price by round").locator(
        "xpath=..").first.text_content() or ""
    text = explorer.text_content() or ""
    assert "mark price: the price margins are checked at (dashed)" in text, caption
    assert "index price: the spot venues' average (dotted)" in text
    explorer.get_by_role("button", name="Projector mode").click()
    time.sleep(1.0)
    save_screenshot(explorer, "explorer-lab-mark-index-projector")
    assert page_log.errors == []
