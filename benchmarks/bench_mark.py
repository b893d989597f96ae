"""Benchmark of the mark-price path (issue 12): what checking margins on a mark price built from
index venues, with arbitrage between them and the perpetual, costs at 1,000,000 positions.

Run from the repository root::

    python benchmarks/bench_mark.py                 # 1,000,000 positions, best of 3
    python benchmarks/bench_mark.py --positions 100000 --repeats 5

The market is ``bench_cascade.py``'s (1,000,000 positions, a book of 100,000 levels per side,
a 3% crash), with three index venues built like the perpetual's book (100,000 levels each, 1%
depth 5x, 5x and 2x the perpetual's). It times ``Cascade(...)`` construction and ``run()`` for:

- the default path (last price, no index venues): the sorted fast path;
- index venues watched only (last price checked, no arbitrage);
- the mark checked, no arbitrage (Binance rule);
- the mark checked with arbitrage closing 25% of the gap each round (Binance and Hyperliquid
  rules): the arbitrage finds its quantity by bisection, each trial on copies of the venues.

Per liquidation round it divides the run time by the rounds played. Nothing here loops in
Python over positions or book levels: a round is a ``searchsorted`` on the sorted accounts, and
the arbitrage's trials walk copies of the books with numpy (at most 42 trials a round, each
copying the four books). It is a benchmark, not a test: it always exits 0.
"""

from __future__ import annotations

import argparse
import gc
import importlib.util
import os
import sys
import time
from pathlib import Path

from marginloops import Cascade

HERE = Path(__file__).resolve().parent
_spec = importlib.util.spec_from_file_location("bench_cascade", HERE / "bench_cascade.py")
bench_cascade = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench_cascade)

INDEX_DEPTHS = (5.0, 5.0, 2.0)  # each index venue's 1% depth, in multiples of the perpetual's


def best_of(repeats, fn):
    times = []
    out = None
    for _ in range(repeats):
        gc.collect()
        gc.disable()
        try:
            t0 = time.perf_counter()
            out = fn()
            times.append(time.perf_counter() - t0)
        finally:
            gc.enable()
    return min(times), out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--positions", type=int, default=1_000_000)
    p.add_argument("--levels", type=int, default=100_000)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    n, levels = args.positions, args.levels
    depth = bench_cascade.DEPTH_PER_POSITION * n
    book = bench_cascade.make_book(levels, depth)
    positions = bench_cascade.make_positions(n, levels, args.seed)
    index = tuple((bench_cascade.make_book(levels, k * depth), 1.0) for k in INDEX_DEPTHS)
    print("marginloops mark-price benchmark")
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cores, best of {args.repeats}; "
          f"load average at start: {os.getloadavg()[0]:.2f} (1 min)")
    print(f"{n:,} positions, perpetual book {levels:,} levels per side, 1% depth {depth:,.0f} "
          f"USD; index venues of {', '.join(f'{k:g}x' for k in INDEX_DEPTHS)} that depth; "
          f"{bench_cascade.SHOCK:.0%} crash\n")
    cases = (
        ("default: last price, no index", {}),
        ("index watched, last price", {"index_books": index}),
        ("mark (binance), no arbitrage", {"index_books": index, "price_source": "mark"}),
        ("mark (binance), arbitrage 25%", {"index_books": index, "price_source": "mark",
                                           "arbitrage": 0.25}),
        ("mark (hyperliquid), arb. 25%", {"index_books": index, "price_source": "mark",
                                          "arbitrage": 0.25, "mark_rule": "hyperliquid"}),
    )
    print(f"{'case':34s} {'build':>9s} {'run':>9s} {'rounds':>7s} {'per round':>10s} "
          f"{'liquidated':>11s} {'low':>8s}")
    for label, kw in cases:
        build, cas = best_of(args.repeats, lambda kw=kw: Cascade(
            positions, book, shock=bench_cascade.SHOCK, **kw))

        def run(cas=cas):
            cas.reset()
            return cas.run()
        t_run, hist = best_of(args.repeats, run)
        rounds = len(hist) - 1
        liq = sum(r.n_liquidated for r in hist)
        low = min(r.price_after for r in hist)
        print(f"{label:34s} {build * 1e3:7.1f}ms {t_run * 1e3:7.1f}ms {rounds:7d} "
              f"{t_run / max(rounds, 1) * 1e3:8.2f}ms {liq:11,d} {low:8.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
