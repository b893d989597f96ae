"""Voilà for a small class on a real JupyterHub: 2 students fetch lesson 03's Voilà render
through the hub and press the explorer's Step over the widget comm, 1 student in headless
Chromium follows the lesson's nbgitpuller link with app=voila and presses Step in the page
(tests/hub/hubharness.py: voila_student, voila_browser_student).

Needs jupyterhub, voila and configurable-http-proxy from npm in $MARGINLOOPS_HUB_CACHE/chp
(.ci/run installs them); skipped, saying so, without them. The class of 30 is
benchmarks/bench_voila_class.py.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import hubharness as H
import pytest

pytestmark = [
    pytest.mark.skipif(H.jupyterhub_command() is None, reason="jupyterhub is not installed"),
    pytest.mark.skipif(H.proxy_command() is None,
                       reason=f"configurable-http-proxy is not in {H.PROXY_CACHE}/chp"),
    pytest.mark.skipif(not Path("/usr/bin/chromium").exists() or shutil.which("git") is None,
                       reason="needs /usr/bin/chromium and git"),
]

STEPS = 10  # the crowded-longs run ends after round 6: every student Resets once and goes on


@pytest.fixture(scope="module")
def report():
    pytest.importorskip("voila")
    return H.run_class(0, 0, n_voila=2, n_voila_browser=1, steps=STEPS, pause=(0.3, 0.6),
                       arrive_within=5, timeout=150, deadline_s=600)


def test_every_voila_page_renders_with_no_failure(report):
    print(H.format_report(report))
    assert report["failures"] == []
    assert report["voila_page_s"]["n"] == report["explorer_s"]["n"] == 3
    for student in report["students"]:
        # the server was ready before the page was rendered, and the page before the explorer
        assert 0 < student.ready_s < student.explorer_s
        assert 0 < student.page_s < student.explorer_s


def test_every_page_has_the_explorers_step_button_and_it_steps(report):
    for student in [s for s in report["students"] if not s.browser]:
        assert 0 < student.first_byte_s < student.page_s  # the page streams as cells run
        assert len(student.click_ms) == STEPS
        # hand-worked from lesson 03's market: crowded-longs is over after round 6 (the shock
        # is round 0), so ten Steps read rounds 0..6, then after Reset 0, 1, 2
        assert student.rounds == [0, 1, 2, 3, 4, 5, 6, 0, 1, 2]
        assert all(n > 0 for n in student.click_updates)  # each click redrew something
    assert report["steps_price_unchanged"] == 0
    [browser] = [s for s in report["students"] if s.browser]
    assert len(browser.redraw_ms) == STEPS and all(ms > 0 for ms in browser.redraw_ms)


def test_the_browser_student_came_through_the_voila_nbgitpuller_link(report):
    [student] = [s for s in report["students"] if s.browser]
    assert student.pulled
    assert student.page_path == (f"/user/{student.name}/voila/render/marginloops/lessons/"
                                 "03-the-loop-round-by-round.ipynb")


def test_memory_is_read_and_every_process_is_gone(report):
    for student in report["students"]:
        assert student.memory["processes"] >= 2  # the server and the page's kernel
        assert 100 < student.memory["rss_mib"] < 2000
    assert report["leftover_processes"] == []
    assert H.marked_processes(report["run_id"]) == []


def test_a_voila_page_is_parsed():
    # a page as Voilà 0.5's lab template writes it (voila/templates/lab/index.html.j2)
    html = """<script id="jupyter-config-data" type="application/json">
      {"baseUrl": "/user/a/", "kernelId": "k-1"}
    </script>
    <script type="application/vnd.voila.cell-output+json">
      {"output_type": "display_data", "data": {"application/vnd.jupyter.widget-view+json":
       {"version_major": 2, "version_minor": 0, "model_id": "m1"}}, "metadata": {}}
    </script>
    <script type="application/vnd.voila.cell-output+json">
      {"output_type": "stream", "name": "stderr", "text": "Traceback (most recent call last)"}
    </script>
    <script type="text/javascript">window.voila_finish();</script>"""
    page = H.parse_voila_page(html)
    assert page == {"kernel_id": "k-1", "views": ["m1"], "finished": True,
                    "errors": ["Traceback (most recent call last)"]}


def test_the_explorers_controls_are_found_in_the_last_view_that_has_them():
    def button(text):
        return {"model_name": "ButtonModel", "state": {"description": text}}

    states = {
        "a": {"model_name": "VBoxModel", "state": {"children": ["IPY_MODEL_a1", "IPY_MODEL_a2"]}},
        "a1": button("Step"), "a2": {"model_name": "HTMLModel",
                                     "state": {"value": "<b>Round 3</b>"}},
        "b": {"model_name": "VBoxModel", "state": {"children": ["IPY_MODEL_b1", "IPY_MODEL_b2",
                                                                "IPY_MODEL_b3"]}},
        "b1": {"model_name": "HTMLModel", "state": {"value": "<b>Round –</b>"}},
        "b2": button("Reset"), "b3": button("Step"),
        "c": {"model_name": "HTMLModel", "state": {"value": "no explorer here"}},
    }
    assert H.find_controls(states, ["a", "b", "c"]) == {"counter": "b1", "reset": "b2",
                                                       "step": "b3"}
    assert H.find_controls(states, ["c"]) is None
