"""Compare mode in a real JupyterLab, in Chromium: Step moves both runs' price paths."""


import pytest
from labtools import open_notebook, save_screenshot, wait_until, widget_button, write_notebook

from marginloops import Scenario, compare

TALL = {"width": 1400, "height": 2200}


CASES = {
    # id: (scenario A, scenario B, labels) as Python source
    "depth": ("Scenario.preset('crowded-longs')",
              "Scenario.preset('crowded-longs').replace(depth_1pct=6_000_000)",
              ("1.5M USD depth", "6M USD depth")),
    "breaker": ("Scenario.preset('crowded-longs')",
                "Scenario.preset('crowded-longs').replace(breaker_move=0.02)",
                ("no circuit breaker", "a 2% circuit breaker")),
    "partial": ("Scenario.preset('crowded-longs').replace(resilience=0.5)",
                "Scenario.preset('crowded-longs').replace(resilience=0.5, partial='fraction')",
                ("whole positions", "25% slices")),
}


@pytest.fixture(params=sorted(CASES))
def compare_case(request, tmp_path):
    a, b, labels = CASES[request.param]
    path = write_notebook(tmp_path / f"compare-{request.param}.ipynb",
        "from marginloops import CompareExplorer, Scenario\n"
        f"CompareExplorer({a},\n                {b},\n                labels={labels!r})")
    scenarios = eval(a, {"Scenario": Scenario}), eval(b, {"Scenario": Scenario})
    return request.param, path, scenarios, labels


def price_paths(scope):
    """The ``d`` of every Lines path in the "Price by round" figure."""
    figure = scope.locator(".bqplot").filter(has_text="Price by round").first
    return figure.locator("svg.svg-figure g.curve path.line").evaluate_all(
        "paths => paths.map(p => p.getAttribute('d') || '')")


def summary_text(scope):
    return scope.locator("table[aria-label='Summary of both runs']").text_content()


def run_paths_moved(old):
    """A test of price paths: both runs' lines (after the two start lines) differ from ``old``."""
    before = old[2:] or ["", ""]
    return lambda paths: len(paths) == 4 and all(
        p != q for p, q in zip(paths[2:], before, strict=True))


def test_compare_explorer_steps_both_runs_in_lab(lab_server, page, page_log, compare_case):
    name, notebook, scenarios, labels = compare_case
    page.set_viewport_size(TALL)  # the whole widget on screen, for the screenshot
    panel = open_notebook(lab_server, page, notebook)
    widget = panel.locator(".jp-OutputArea-output").filter(
        has=page.locator("button.widget-button", has_text="Step")).first
    paths = price_paths(widget)
    assert len(paths) == 2  # the two start-price lines; the runs' lines are empty
    summary = summary_text(widget)
    assert labels[0] in summary and labels[1] in summary
    for _ in range(3):
        widget_button(widget, "Step").click()
        # both runs are still going in rounds 0-2: each of their lines gets a new point
        paths = wait_until(lambda: price_paths(widget), run_paths_moved(paths),
                           "both runs' price paths should change")
        summary = wait_until(lambda: summary_text(widget), lambda text, old=summary: text != old,
                             "the summary table should change")
    # each log is its own widget, sent after the summary: wait for both
    logs = wait_until(lambda: widget.locator("div[role='log']").all_text_contents(),
                      lambda texts: len(texts) == 2 and all("Round 2:" in t for t in texts),
                      "both logs should reach round 2")
    assert all("Round 0 (the shock)" in log for log in logs)
    assert "Round 2" in widget.locator(".widget-html", has_text="Round").first.text_content()
    save_screenshot(widget, f"compare-{name}-lab-round2")
    # Run to end: both runs stop, Step is disabled and the verdict is shown under the table
    widget_button(widget, "Run to end").click()
    verdict = widget.locator("p[role='status']")
    wait_until(lambda: verdict.all_text_contents(), lambda texts: len(texts) == 1,
               "the verdict should appear")
    assert verdict.text_content() == compare(*scenarios, labels=labels).verdict()
    assert widget_button(widget, "Step").is_disabled()
    save_screenshot(widget, f"compare-{name}-lab-end")
    assert page_log.errors == []
