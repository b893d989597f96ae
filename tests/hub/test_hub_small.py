"""A small class on a real JupyterHub: 3 students through the REST API and a kernel, 1 in
headless Chromium through /hub/login and an nbgitpuller link (tests/hub/hubharness.py).

Needs jupyterhub in the environment and configurable-http-proxy from npm in
$MARGINLOOPS_HUB_CACHE/chp (.ci/run installs both); skipped, saying so, without them.
The full class of 30 is benchmarks/bench_hub.py.
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

STEPS = 10  # the crowded-longs run ends after 7 rounds: a Reset happens in every student's run


@pytest.fixture(scope="module")
def report():
    return H.run_class(n_api=3, n_browser=1, steps=STEPS, pause=(0.5, 1.0), arrive_within=5,
                       timeout=150, deadline_s=600)


def test_every_student_gets_a_server_and_an_explorer_with_no_failure(report):
    print(H.format_report(report))
    assert report["failures"] == []
    assert report["ready_s"]["n"] == report["explorer_s"]["n"] == 4
    for student in report["students"]:
        assert 0 < student.ready_s < student.explorer_s


def test_every_step_moved_the_price_and_was_timed(report):
    api = [s for s in report["students"] if not s.browser]
    for student in api:
        assert len(student.step_kernel_ms) == len(student.step_round_trip_ms) == STEPS
        assert student.price_changed == [True] * STEPS
        # the round trip includes the time inside the kernel
        assert all(0 < k < r for k, r in zip(student.step_kernel_ms,
                                                     student.step_round_trip_ms, strict=True))
    assert report["steps_price_unchanged"] == 0
    browser = [s for s in report["students"] if s.browser]
    assert [len(s.redraw_ms) for s in browser] == [STEPS]


def test_the_browser_student_came_through_the_nbgitpuller_link(report):
    [student] = [s for s in report["students"] if s.browser]
    # nbgitpuller cloned the course into the student's home and opened the link's urlpath
    assert student.pulled
    assert student.page_path == (f"/user/{student.name}/lab/tree/marginloops/lessons/"
                                 "03-the-loop-round-by-round.ipynb")


def test_memory_is_read_for_each_student(report):
    for student in report["students"]:
        # the server and at least one kernel, each a Python process of tens of MiB
        assert student.memory["processes"] >= 2
        assert 100 < student.memory["rss_mib"] < 2000
        assert 0 < student.memory["pss_mib"] <= student.memory["rss_mib"]


def test_every_kernel_was_forked_from_its_servers_fork_server(report):
    # deploy/jupyterhub_config.py switches marginloops.kernelfork on: each student's lesson
    # kernel is a fork of the fork server their server started (not a kernel started the
    # usual way), and the fork servers' imports are counted apart from the kernels' work
    for student in report["students"]:
        assert student.memory["forked_kernels"] == 1, student.name
        assert student.memory["processes"] >= 3  # the server, its fork server, the kernel
    assert report["cpu_seconds"]["fork servers"] > 0


def test_every_process_is_gone_at_the_end(report):
    assert report["leftover_processes"] == []
    # nothing with this run's marker in its environment (hub, proxy, servers, kernels, Chromium)
    assert H.marked_processes(report["run_id"]) == []
    assert report["hub_exit_code"] is not None  # the hub itself has exited


def test_percentiles_by_nearest_rank():
    # hand-worked: of 1..20, p50 is the 10th value, p95 the 19th
    assert H.percentiles(range(1, 21)) == {"n": 20, "p50": 10, "p95": 19, "max": 20}
    assert H.percentiles([7]) == {"n": 1, "p50": 7, "p95": 7, "max": 7}
    assert H.percentiles([])["p50"] is None


def test_binary_kernel_frames_are_decoded():
    # two offsets: the JSON from byte 12 to 12+len, then one buffer
    body = b'{"a": 1}'
    frame = ((2).to_bytes(4, "big") + (12).to_bytes(4, "big")
             + (12 + len(body)).to_bytes(4, "big") + body + b"\x00\x01")
    assert H.Kernel.decode(frame) == {"a": 1}
    assert H.Kernel.decode('{"b": 2}') == {"b": 2}


def test_v1_frames_agree_with_jupyter_servers_own_coder():
    # the server's side of the protocol JupyterLab 4 uses (jupyter_server's
    # services/kernels/connection/base.py): what the harness sends, the server reads, and
    # what the server writes, the harness reads
    from jupyter_server.services.kernels.connection.base import (
        deserialize_msg_from_ws_v1,
        serialize_msg_to_ws_v1,
    )
    parts = [b'{"msg_type": "execute_request", "msg_id": "a"}', b"{}", b"{}", b'{"code": "1"}']
    assert deserialize_msg_from_ws_v1(H.encode_v1("shell", parts)) == ("shell", parts)
    reply = [b'{"msg_type": "status"}', b'{"msg_id": "a"}', b"{}",
             b'{"execution_state": "idle"}', b"\x00buffer"]
    message = H.decode_v1(serialize_msg_to_ws_v1(reply, "iopub"))
    assert message == {"channel": "iopub", "header": {"msg_type": "status"},
                       "parent_header": {"msg_id": "a"}, "metadata": {},
                       "content": {"execution_state": "idle"}, "msg_type": "status"}


def test_a_run_that_fails_still_stops_every_process():
    # a deadline too short for any server to start (one takes seconds): the student fails, and
    # the hub, the proxy and the half-started server are all stopped
    report = H.run_class(n_api=1, n_browser=0, steps=1, pause=(0, 0), timeout=30, deadline_s=3)
    assert len(report["failures"]) == 1 and "TimeoutError" in report["failures"][0][1]
    assert report["leftover_processes"] == []
    assert H.marked_processes(report["run_id"]) == []


def test_bad_class_sizes_are_refused():
    with pytest.raises(ValueError, match=r"n_api \+ n_browser \+ n_voila \+ n_voila_browser must "
                       r"be between 0 and 60; got 60 \+ 1 \+ 0 \+ 0"):
        H.run_class(n_api=60, n_browser=1)
    with pytest.raises(ValueError, match=r"got 0 \+ 0 \+ -1 \+ 0"):
        H.run_class(n_api=0, n_browser=0, n_voila=-1)
    with pytest.raises(ValueError, match="steps must be at least 1; got 0"):
        H.run_class(n_api=1, steps=0)
