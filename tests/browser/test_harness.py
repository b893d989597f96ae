"""Smoke tests of the browser harness: a Step button grows a bqplot line in Lab and in Voilà."""

import time

import nbformat
import pytest
from labtools import (
    click_button,
    line_paths,
    open_notebook,
    open_voila,
    save_screenshot,
    wait_for_change,
)

CELL = """\
import bqplot as bq
import ipywidgets as widgets
import numpy as np

x_scale, y_scale = bq.LinearScale(), bq.LinearScale()
line = bq.Lines(x=np.array([0.0, 1.0]), y=np.array([0.0, 1.0]),
                scales={"x": x_scale, "y": y_scale})
figure = bq.Figure(
    marks=[line],
    axes=[bq.Axis(scale=x_scale, label="step"),
          bq.Axis(scale=y_scale, orientation="vertical", label="value")],
    title="Harness smoke test",
)
label = widgets.Label("2 points")
step = widgets.Button(description="Step")


def on_step(_):
    n = len(line.x)
    with line.hold_sync():
        line.x = np.append(line.x, float(n))
        line.y = np.append(line.y, float((n * 7) % 5))
    label.value = f"{n + 1} points"


step.on_click(on_step)
widgets.VBox([step, figure, label])
"""


@pytest.fixture
def smoke_notebook(tmp_path):
    """A one-cell notebook: Step appends a point to a bqplot line and updates a label."""
    notebook = nbformat.v4.new_notebook()
    notebook.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3 (ipykernel)",
        "language": "python",
    }
    notebook.cells = [nbformat.v4.new_code_cell(CELL)]
    path = tmp_path / "harness-smoke.ipynb"
    nbformat.write(notebook, path)
    return path


def step_three_times(scope, name):
    """Click Step three times; each click must redraw the line and update the label."""
    line = scope.locator(".bqplot svg.svg-figure g.curve path.line")
    label = scope.locator(".widget-label")
    assert label.text_content() == "2 points"
    paths = [line_paths(scope)[0]]
    for points in (3, 4, 5):
        start = time.perf_counter()
        click_button(scope, "Step")
        paths.append(wait_for_change(line, paths[-1], attribute="d"))
        latency_ms = (time.perf_counter() - start) * 1000
        assert wait_for_change(label, f"{points - 1} points") == f"{points} points"
        print(f"{name}: click -> redrawn line {latency_ms:.0f} ms")
    assert line_paths(scope) == [paths[-1]]
    assert len(set(paths)) == 4


def test_lab_step_redraws_line(lab_server, page, page_log, smoke_notebook):
    notebook = open_notebook(lab_server, page, smoke_notebook)
    step_three_times(notebook, "lab")
    save_screenshot(notebook.locator(".jp-OutputArea").first, "harness-lab")
    assert page_log.errors == []


def test_voila_step_redraws_line(voila_server, page, page_log, smoke_notebook):
    cells = open_voila(voila_server, page, smoke_notebook)
    step_three_times(cells, "voila")
    save_screenshot(page, "harness-voila")
    assert page_log.errors == []
