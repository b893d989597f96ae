"""Voilà for a class: N students open lesson 03 as an app (Voilà) through a real JupyterHub.

Issue 15, item 4. It starts JupyterHub on 127.0.0.1 from ``deploy/jupyterhub_config.py``
(tests/hub/hubharness.py), and ``--students`` students arrive within ``--arrive-within``
seconds. Each one's server is started through the REST API, lesson 03 is put where
nbgitpuller's clone puts it, and ``/user/<name>/voila/render/marginloops/lessons/03-....ipynb``
is fetched: Voilà starts a kernel, runs every cell and streams the page cell by cell while it
does (the page's first bytes come at once; it is whole once the notebook has run). Then the
explorer's Step is pressed ``--steps`` times over the widget comm, as the page's button sends it,
with a pause from ``--pause`` between presses, and the explorer's round counter read back.
``--browser`` more students do the same in headless Chromium: /hub/login, the lesson's
nbgitpuller link with ``app=voila``, Step pressed in the page (click to redraw).

``--preheat N`` runs the class a second time against one shared Voilà service (standalone Voilà
behind the hub's proxy at /services/voila/) with N preheated kernels: Voilà's own answer to a
slow first render (a pool of kernels that have run the notebook before anyone asks, and their
pages kept). Voilà 0.5 preheats only as a standalone app; inside a student's server (the server
extension) its handler uses no pool (voila/handler.py), so a per-student hub cannot preheat.

It prints time to a ready server, to the page's first byte and to the whole page, to a usable
explorer (from arriving), the last explorer's time from the class's start, Step click to the
kernel's idle (p50/p95/max) and click to redraw in the browser, memory per student (server and
kernel; for the service, its total over the students), the hub's and proxy's memory, CPU busy
share and CPU seconds by role, and every failure. It always exits 0. Bounded by ``--deadline``;
every process it started is stopped at the end, failure or not.

    nice .venv/bin/python benchmarks/bench_voila_class.py [--students 30] [--browser 2]
        [--steps 20] [--pause 2,4] [--arrive-within 60] [--prestart] [--preheat 33]
        [--json out.json]

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
sys.path.insert(0, str(HERE))

import hubharness as H  # noqa: E402
from bench_hub import _pause  # noqa: E402


def run(args, pool) -> dict:
    began = time.monotonic()
    report = H.run_class(0, 0, n_voila=args.students, n_voila_browser=args.browser,
                         steps=args.steps, pause=args.pause, arrive_within=args.arrive_within,
                         timeout=args.timeout, deadline_s=args.deadline, voila_pool=pool,
                         prestart=args.prestart and pool is None)
    report["wall_s"] = time.monotonic() - began
    return report


def per_student_memory(report: dict, students: int) -> str:
    service = report.get("voila_service") or {}
    if service.get("processes"):
        return (f"memory per student (the service's RSS / {students}): "
                f"{service['rss_mib'] / students:.0f} MiB "
                f"(PSS {service['pss_mib'] / students:.0f})")
    mean = report.get("memory_mean_rss_mib")
    return f"memory per student (server + kernel), mean RSS: {mean or float('nan'):.0f} MiB"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--students", type=int, default=30, help="Voilà students, no browser")
    parser.add_argument("--browser", type=int, default=2, help="Voilà students in Chromium")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--pause", type=_pause, default=(2.0, 4.0),
                        help="seconds between a student's Steps, LOW,HIGH (0: no pause)")
    parser.add_argument("--arrive-within", type=float, default=60.0)
    parser.add_argument("--preheat", type=int, default=0,
                        help="also run against one Voilà service with this many preheated "
                             "kernels (the hub's own check of the service takes one)")
    parser.add_argument("--prestart", action="store_true",
                        help="start every student's server before the class (python -m "
                             "marginloops start-servers), in the run with a server per student")
    parser.add_argument("--no-servers", action="store_true",
                        help="skip the run with a server per student")
    parser.add_argument("--timeout", type=float, default=150.0)
    parser.add_argument("--deadline", type=float, default=1200.0)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    if H.jupyterhub_command() is None or H.proxy_command() is None:
        print("needs jupyterhub in this environment and configurable-http-proxy in "
              f"{H.PROXY_CACHE}/chp (see .ci/run)")
        return 0
    runs = {} if args.no_servers else {"a server per student (Voilà server extension)": None}
    if args.preheat:
        runs[f"one Voilà service, {args.preheat} preheated kernels"] = args.preheat
    results = {}
    n = args.students + args.browser
    for name, pool in runs.items():
        print(f"--- {args.students} + {args.browser} browser Voilà students, {args.steps} Steps, "
              f"pause {args.pause[0]:g}-{args.pause[1]:g} s, arriving within "
              f"{args.arrive_within:g} s: {name}; load average {os.getloadavg()[0]:.2f}",
              flush=True)
        report = run(args, pool)
        print(H.format_report(report))
        print(per_student_memory(report, n))
        print(f"failures: {len(report['failures'])} (goal 0); wall time {report['wall_s']:.0f} s",
              flush=True)
        report["students"] = [dataclasses.asdict(s) for s in report["students"]]
        results[name] = report
    if args.json:
        args.json.write_text(json.dumps(results, indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
