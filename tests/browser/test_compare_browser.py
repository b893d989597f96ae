"""Compare mode in a real JupyterLab, in Chromium: Step moves both runs' price paths."""

import time

import nbformat
import pytest
from labtools import open_notebook, save_screenshot, widget_button

TALL = {"width": 1400, "height": 2200}


@pytest.fixture
def compare_notebook(tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3 (ipykernel)",
                                 "language": "python"}
    nb.cells = [nbformat.v4.new_code_cell(
        "from marginloops import CompareExplorer, Scenario\n"
        "CompareExplorer(Scenario.preset('crowded-longs'),\n"
        "                Scenario.preset('crowded-longs').replace(depth_1pct=6_000_000),\n"
        "                labels=('1.5M USD depth', '6M USD depth'))")]
    path = tmp_path / "compare.ipynb"
    nbformat.write(nb, path)
    return path


def price_paths(scope):
    """The ``d`` of every Lines path in the "Price by round" figure."""
    figure = scope.locator(".bqplot").filter(has_text="Price by round").first
    return figure.locator("svg.svg-figure g.curve path.line").evaluate_all(
        "paths => paths.map(p => p.getAttribute('d') || '')")


def summary_text(scope):
    return scope.locator("table[aria-label='Summary of both runs']").text_content()


def wait_until(read, done, what, timeout_s=30.0):
    """Poll ``read()`` until ``done(value)`` holds; return that value."""
    deadline = time.monotonic() + timeout_s
    while not done(value := read()):
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: still {value!r} after {timeout_s:g} s")
        time.sleep(0.01)
    return value


def run_paths_moved(old):
    """A test of price paths: both runs' lines (after the two start lines) differ from ``old``."""
    before = old[2:] or ["", ""]
    return lambda paths: len(paths) == 4 and all(
        p != q for p, q in zip(paths[2:], before, strict=True))


def test_compare_explorer_steps_both_runs_in_lab(lab_server, page, page_log, compare_notebook):
    page.set_viewport_size(TALL)  # the whole widget on screen, for the screenshot
    panel = open_notebook(lab_server, page, compare_notebook)
    widget = panel.locator(".jp-OutputArea-output").filter(
        has=page.locator("button.widget-button", has_text="Step")).first
    paths = price_paths(widget)
    assert len(paths) == 2  # the two start-price lines; the runs' lines are empty
    summary = summary_text(widget)
    assert "1.5M USD depth" in summary and "6M USD depth" in summary
    for _ in range(3):
        widget_button(widget, "Step").click()
        # both runs are still going in rounds 0-2: each of their lines gets a new point
        paths = wait_until(lambda: price_paths(widget), run_paths_moved(paths),
                           "both runs' price paths should change")
        summary = wait_until(lambda: summary_text(widget), lambda text, old=summary: text != old,
                             "the summary table should change")
    logs = widget.locator("div[role='log']").all_text_contents()
    assert len(logs) == 2 and all("Round 2:" in log and "Round 0 (the shock)" in log
                                  for log in logs)
    assert "Round 2" in widget.locator(".widget-html", has_text="Round").first.text_content()
    save_screenshot(widget, "compare-lab-round2")
    # Run to end: both runs stop, Step is disabled and the verdict is shown under the table
    widget_button(widget, "Run to end").click()
    verdict = widget.locator("p[role='status']")
    wait_until(lambda: verdict.all_text_contents(), lambda texts: len(texts) == 1,
               "the verdict should appear")
    assert verdict.text_content().startswith('The price fell 3.9% in run "6M USD depth"')
    assert widget_button(widget, "Step").is_disabled()
    save_screenshot(widget, "compare-lab-end")
    assert page_log.errors == []
