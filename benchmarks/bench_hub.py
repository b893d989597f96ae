"""A class on one machine: a real JupyterHub, N students stepping lesson 03's explorer at once.

Issue 15's measurement. It starts JupyterHub on 127.0.0.1 from ``deploy/jupyterhub_config.py``
(tests/hub/hubharness.py: the proxy from npm, a shared-password login, local processes), then
``--students`` students arrive within ``--arrive-within`` seconds: each one's server is started
through the REST API, lesson 03 is uploaded and its cells run over the kernel websocket, and its
explorer is stepped ``--steps`` times with a pause drawn from ``--pause`` between Steps (a
class's pace). ``--browser`` more students do the same in headless Chromium: /hub/login, the
lesson's nbgitpuller link, Run All in JupyterLab, Step pressed in the page.

It prints the time to a ready server and to a built explorer (and when the last explorer was
ready, from the moment the class began), p50/p95/max of a Step inside the kernel, of its round
trip and of click to redraw in the browser, memory per student (RSS and PSS of the student's
server and kernel), the hub's and the proxy's memory, and every failure; then the issue's goals
(p95 round trip <= 150 ms, in the kernel <= 100 ms, 0 failures). ``--worst-case`` runs the class
a second time with no pause between Steps and prints it beside. It always exits 0: a benchmark,
not a test. The run is bounded by ``--deadline`` seconds, and every process it started is
stopped at the end, failure or not.

    nice .venv/bin/python benchmarks/bench_hub.py [--students 30] [--browser 2] [--steps 20]
        [--pause 2,4] [--arrive-within 60] [--worst-case] [--prestart] [--usual-kernels]
        [--nice-browsers 10]
        [--json out.json]

Needs jupyterhub in the environment and configurable-http-proxy from npm in
$MARGINLOOPS_HUB_CACHE/chp (default /tmp/hubcache/chp; ``.ci/run`` installs both).
Run it on a quiet machine: every figure is a share of the same cores.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests" / "hub"))

import hubharness as H  # noqa: E402

GOALS = (("step_round_trip_ms", "p95", 150.0, "Step round trip p95 <= 150 ms"),
         ("step_kernel_ms", "p95", 100.0, "Step inside the kernel p95 <= 100 ms"))


def _pause(text: str) -> tuple[float, float]:
    parts = [float(x) for x in text.split(",")]
    low, high = (parts * 2)[:2]
    if not 0 <= low <= high <= 60:
        raise argparse.ArgumentTypeError(f"--pause must be LOW,HIGH seconds with 0 <= LOW <= "
                                         f"HIGH <= 60; got {text!r}")
    return low, high


def run(args, pause) -> dict:
    began = time.monotonic()
    report = H.run_class(args.students, args.browser, steps=args.steps, pause=pause,
                         arrive_within=args.arrive_within, timeout=args.timeout,
                         deadline_s=args.deadline, prestart=args.prestart,
                         ws_protocol="" if args.legacy_protocol else H.V1_PROTOCOL,
                         screenshots=args.screenshots, fork_kernels=not args.usual_kernels,
                         browser_nice=args.nice_browsers)
    report["wall_s"] = time.monotonic() - began
    return report


def goals(report: dict) -> list[str]:
    lines = []
    for key, stat, limit, text in GOALS:
        value = report[key][stat]
        verdict = "n/a" if value is None else ("met" if value <= limit else "NOT met")
        lines.append(f"goal: {text}: {verdict} ({'n/a' if value is None else f'{value:.1f} ms'})")
    lines.append(f"goal: 0 failures: {'met' if not report['failures'] else 'NOT met'}")
    return lines


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--students", type=int, default=30, help="students through the API")
    parser.add_argument("--browser", type=int, default=2, help="students in Chromium")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--pause", type=_pause, default=(2.0, 4.0),
                        help="seconds between a student's Steps, LOW,HIGH (0: no pause)")
    parser.add_argument("--arrive-within", type=float, default=60.0,
                        help="the class arrives spread over this many seconds")
    parser.add_argument("--worst-case", action="store_true",
                        help="run again with no pause between Steps")
    parser.add_argument("--prestart", action="store_true",
                        help="start every student's server before the class arrives "
                             "(python -m marginloops start-servers, five at a time)")
    parser.add_argument("--legacy-protocol", action="store_true",
                        help="API students use the kernel websocket's legacy JSON frames "
                             "instead of JupyterLab's v1 protocol (to compare the server's cost)")
    parser.add_argument("--usual-kernels", action="store_true",
                        help="start kernels the usual way instead of forking them from each "
                             "server's fork server (marginloops.kernelfork, as deployed)")
    parser.add_argument("--nice-browsers", type=int, default=0, metavar="N",
                        help="run the browser students' Chromium at niceness N (they stand for "
                             "the students' laptops; 0: compete with the hub as equals)")
    parser.add_argument("--screenshots", type=Path,
                        help="save each browser student's page here after its Steps")
    parser.add_argument("--timeout", type=float, default=150.0)
    parser.add_argument("--deadline", type=float, default=1500.0)
    parser.add_argument("--json", type=Path, help="write the figures to this file")
    args = parser.parse_args(argv)
    if H.jupyterhub_command() is None or H.proxy_command() is None:
        print("needs jupyterhub in this environment and configurable-http-proxy in "
              f"{H.PROXY_CACHE}/chp (see .ci/run)")
        return 0

    runs = {"class pace": args.pause}
    if args.worst_case:
        runs["no pause"] = (0.0, 0.0)
    results = {}
    for name, pause in runs.items():
        print(f"--- {args.students} API + {args.browser} browser students, {args.steps} Steps, "
              f"pause {pause[0]:g}-{pause[1]:g} s, arriving within {args.arrive_within:g} s "
              f"({name}); load average {os.getloadavg()[0]:.2f}", flush=True)
        report = run(args, pause)
        if report.get("prestart_s") is not None:
            print(f"every student's server was started before the class, in "
                  f"{report['prestart_s']:.0f} s")
        print(H.format_report(report))
        print("\n".join(goals(report)))
        print(f"wall time {report['wall_s']:.0f} s", flush=True)
        report["students"] = [dataclasses.asdict(s) for s in report["students"]]
        results[name] = report
    if args.json:
        args.json.write_text(json.dumps(results, indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
