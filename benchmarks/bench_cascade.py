"""Benchmark of the cascade engine: time against the cost of one sort, and memory per position.

Run from the repository root::

    python benchmarks/bench_cascade.py                 # defaults: 1,000,000 positions, 5 repeats
    python benchmarks/bench_cascade.py --help          # sizes, repeats, seed

What it measures, and why:

1. ``Cascade(positions, book, shock)`` construction and ``run()`` on a large population against a
   book of ``--levels`` price levels per side. The construction sorts the liquidatable side by
   liquidation price once; a run should then cost little more, so the natural yardstick is...
2. ...one ``numpy.argsort`` of as many random float64 as there are positions: no engine that
   orders positions by liquidation price can be cheaper than that.
3. The ratios to that floor, against a target of 3x.
4. The latency of one ``step()`` at two population sizes with *the same cascade* (same rounds,
   same positions liquidated per round, same book walks), so that any difference comes from the
   population size alone.
5. Peak and steady-state memory per position, measured with ``tracemalloc`` (numpy reports its
   array buffers to it), against a target of 100 bytes per position.

It is a benchmark, not a test: it prints PASS/FAIL against the targets but always exits 0.
Timings are best-of-N wall-clock times (``time.perf_counter``) with the garbage collector off, as
``timeit`` does; CPU times (``time.process_time``) are printed next to them for sections 1-3,
which helps to read results from a shared or busy machine (there, also raise ``--repeats``).
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
import statistics
import sys
import textwrap
import time
import tracemalloc

import numpy as np

from marginloops import Cascade, OrderBook, Positions

MID = 100.0
BOOK_RANGE = 0.5          # each side of the book spans 50% of the mid price
MMR = 0.005
SHOCK = 0.03
LONG_SHARE = 0.7
# Crowded, fairly high leverage: liquidation prices pile up within a few percent below the mid,
# so a 3% shock sets off a long, decaying cascade rather than a single round.
LEVERAGE_MIX = ((5.0, 0.2), (10.0, 0.3), (25.0, 0.3), (50.0, 0.2))
# USD of open interest and of 1% book depth per position in the large scenario (20M and 1M USD
# for 1,000,000 positions). Both scale with the population so that the price path, and with it
# the share of positions liquidated per round, does not depend on the population size.
NOTIONAL_PER_POSITION = 20.0
DEPTH_PER_POSITION = 1.0
# Leverage of the inert filler positions used in the step-latency comparison: a 1.25x long has
# its liquidation price near 20% of its entry, far below the bottom of the book (50% of mid), so
# the cascade can never reach it.
FILLER_LEVERAGE = 1.25

RATIO_TARGET = 3.0
BYTES_TARGET = 100.0


# --------------------------------------------------------------------------------- building
def make_book(n_levels: int, depth_1pct: float) -> OrderBook:
    tick = BOOK_RANGE * MID / n_levels
    book = OrderBook.from_depth(MID, depth_1pct, tick=tick, book_range=BOOK_RANGE)
    got = len(book.bids()[0])
    # from_depth derives the level count from floats; make sure the book really has n_levels.
    if got != n_levels:
        raise SystemExit(f"book has {got} bid levels, expected {n_levels}: choose another --levels")
    return book


def make_positions(n: int, n_levels: int, seed: int) -> Positions:
    tick = BOOK_RANGE * MID / n_levels
    return Positions.generate(
        n, MID, long_share=LONG_SHARE, leverage_mix=LEVERAGE_MIX, mmr=MMR,
        notional=NOTIONAL_PER_POSITION * n,
        # The cascade starts at the best bid, one tick below mid, and requires every position to
        # be solvent there: keep liquidation prices two ticks away.
        min_distance=2 * tick / MID, seed=seed)


def embed(active: Positions, n_total: int, seed: int) -> Positions:
    """``active`` plus inert long positions up to ``n_total``, all shuffled together.

    The cascade on the result liquidates exactly the positions it liquidates on ``active``, in
    the same rounds, with the same book walks: only the population size differs. Shuffling puts
    the active positions at random indices of the larger arrays, as they would be in a real
    population (gathering them then touches memory spread over all ``n_total`` positions).
    """
    filler = Positions.generate(
        n_total - len(active), MID, long_share=1.0, leverage_mix=((FILLER_LEVERAGE, 1.0),),
        mmr=MMR, notional=NOTIONAL_PER_POSITION * (n_total - len(active)), seed=seed + 1)
    perm = np.random.default_rng(seed + 2).permutation(n_total)
    cols = [np.concatenate([getattr(active, k), getattr(filler, k)])[perm]
            for k in ("side", "size", "entry", "leverage", "mmr")]
    return Positions.from_arrays(*cols)


# --------------------------------------------------------------------------------- timing
class _NoGC:
    """Garbage collector off inside the block (as timeit does): a collection landing in one
    repeat and not another is noise, not the engine's cost."""

    def __enter__(self):
        gc.collect()
        self._was = gc.isenabled()
        gc.disable()

    def __exit__(self, *exc):
        if self._was:
            gc.enable()


class Best:
    """Best (smallest) wall-clock and CPU time seen per label.

    CPU time (``time.process_time``) is kept next to wall time because it does not count the
    time the process spends waiting for a core, which makes it the steadier of the two on a
    loaded machine; both are single-threaded here, so on an idle machine they agree.
    """

    def __init__(self):
        self.wall: dict[str, float] = {}
        self.cpu: dict[str, float] = {}

    def add(self, label: str, wall: float, cpu: float) -> None:
        self.wall[label] = min(self.wall.get(label, float("inf")), wall)
        self.cpu[label] = min(self.cpu.get(label, float("inf")), cpu)


def _now() -> tuple[float, float]:
    return time.perf_counter(), time.process_time()


def time_cascade(positions: Positions, book: OrderBook, repeats: int, seed: int):
    """Best-of-N times of argsort (the floor), Cascade construction, run() on that fresh
    Cascade, their sum, and run() after reset(); and the last cascade, for its history.

    The floor is timed inside the same loop as the cascade, so that a burst of load on a shared
    machine tends to hit both sides of the ratio rather than one. It sorts a fresh copy of the
    keys each time because an indirect sort's speed depends on how its buffers happen to be
    backed (numpy asks for transparent huge pages above 4 MB; whether it gets them varies by
    allocation, up to 2x here), and the Cascade also sorts freshly allocated keys each time.
    """
    keys0 = np.random.default_rng(seed).random(len(positions))
    best = Best()
    with _NoGC():
        for _ in range(repeats):
            keys = keys0.copy()
            a = _now()
            np.argsort(keys)
            b = _now()
            cascade = Cascade(positions, book, SHOCK)
            c = _now()
            cascade.run()
            d = _now()
            for label, (t0, t1) in (("argsort", (a, b)), ("build", (b, c)), ("run", (c, d)),
                                    ("total", (b, d))):
                best.add(label, t1[0] - t0[0], t1[1] - t0[1])
            del cascade
        cascade = Cascade(positions, book, SHOCK)
        for _ in range(repeats):
            cascade.reset()
            t0 = _now()
            cascade.run()
            t1 = _now()
            best.add("rerun", t1[0] - t0[0], t1[1] - t0[1])
    return best, cascade


def step_times(cascade: Cascade, repeats: int):
    """Per liquidation round (round >= 1): best-of-N step() time in seconds and positions
    liquidated. The shock round is left out: it is a single book walk, not a liquidation."""
    best: list[float] = []
    counts: list[int] = []
    with _NoGC():
        for rep in range(repeats):
            cascade.reset()
            cascade.step()  # round 0, the shock
            times, ks = [], []
            while True:
                t0 = time.perf_counter()
                rec = cascade.step()
                dt = time.perf_counter() - t0
                if rec is None:
                    break
                times.append(dt)
                ks.append(rec.n_liquidated)
            if rep == 0:
                best, counts = times, ks
            else:
                if ks != counts:
                    raise SystemExit("step-latency runs differ between repeats")
                best = [min(a, b) for a, b in zip(best, times, strict=True)]
    return best, counts


# --------------------------------------------------------------------------------- memory
def _traced() -> int:
    return tracemalloc.get_traced_memory()[0]


def measure_memory(n: int, n_levels: int, seed: int) -> dict:
    """Bytes traced by tracemalloc while building book + positions + Cascade and running it.

    ``peak`` is the highest traced total over the whole sequence minus what was traced before
    it, so it includes the temporaries of every phase. Phase peaks are kept for diagnosis.
    """
    gc.collect()
    tracemalloc.start()
    try:
        base = _traced()
        out = {}
        phases = []

        def phase(name, fn):
            before = _traced()
            tracemalloc.reset_peak()
            result = fn()
            current, peak = tracemalloc.get_traced_memory()
            phases.append((name, peak - base, peak - before, current - before))
            return result

        book = phase("OrderBook.from_depth", lambda: make_book(n_levels, DEPTH_PER_POSITION * n))
        positions = phase("Positions.generate", lambda: make_positions(n, n_levels, seed))
        cascade = phase("Cascade(...)", lambda: Cascade(positions, book, SHOCK))
        phase("run()", cascade.run)
        out["peak"] = max(p[1] for p in phases)
        out["phases"] = phases
        out["held_total"] = _traced() - base
    finally:
        tracemalloc.stop()
    out["breakdown"] = _breakdown(positions, book, cascade)
    return out


def _breakdown(positions, book, cascade) -> list[tuple[str, int]] | None:
    """Steady-state bytes by owner, from the arrays' nbytes, to explain the tracemalloc totals.

    This reads private attributes of the package, which may change under it: it is a diagnostic
    and is skipped (None) rather than allowed to break the benchmark.
    """
    try:
        # A scalar field (mmr here) is a zero-stride broadcast view holding no memory.
        owned = [getattr(positions, k) for k in Positions.__slots__]
        rows = [("Positions arrays (side int8 + float64 fields; broadcast scalars free)",
                 sum(a.nbytes for a in owned if a.strides != (0,))),
                ("Cascade sort order + sorted keys (liquidatable side)",
                 cascade._order.nbytes + cascade._keys.nbytes),
                ("Cascade size, margin, bankruptcy price in sorted order",
                 cascade._size.nbytes + cascade._margin.nbytes + cascade._bankrupt.nbytes),
                # Prices are shared with the caller's book; sizes are copied twice, the
                # pristine book reset() restores and the working one.
                ("Cascade book copies (sizes, pristine + working)",
                 sum(side.sizes.nbytes for b in (cascade._book0, cascade.book)
                     for side in (b._bids, b._asks))),
                ("caller's book (prices + sizes, both sides)",
                 sum(side.prices.nbytes + side.sizes.nbytes
                     for side in (book._bids, book._asks)))]
    except AttributeError:
        return None
    return rows


# --------------------------------------------------------------------------------- report
def say(text: str) -> None:
    print(textwrap.fill(text, width=96, initial_indent="  ", subsequent_indent="  "))


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def fmt_ms(seconds: float) -> str:
    return f"{seconds * 1e3:6.1f} ms"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-n", "--positions", type=int, default=1_000_000,
                    help="positions in the large scenario (default 1,000,000)")
    ap.add_argument("--small", type=int, default=100_000,
                    help="positions in the small step-latency population (default 100,000)")
    ap.add_argument("--levels", type=int, default=100_000,
                    help="order-book levels per side (default 100,000)")
    ap.add_argument("-r", "--repeats", type=int, default=5, help="best of N (default 5)")
    ap.add_argument("--seed", type=int, default=1, help="seed of the populations (default 1)")
    ap.add_argument("--skip-memory", action="store_true", help="skip the tracemalloc section")
    args = ap.parse_args(argv)
    n, n_small, reps = args.positions, args.small, args.repeats
    if not 0 < n_small < n:
        ap.error("--small must be positive and smaller than --positions")

    print("marginloops cascade benchmark")
    print(f"python {platform.python_version()}, numpy {np.__version__}, "
          f"{platform.machine()}, {os.cpu_count()} cores, best of {reps} repeats")
    # Best-of-N hides occasional interference, not a machine that is busy throughout.
    print(f"load average at start: {os.getloadavg()[0]:.2f} (1 min)")
    print(f"scenario: {n:,} positions ({LONG_SHARE:.0%} long, leverage mix "
          f"{', '.join(f'{lev:g}x' for lev, _ in LEVERAGE_MIX)}), open interest "
          f"{NOTIONAL_PER_POSITION * n:,.0f} USD; book {args.levels:,} levels per side, "
          f"1% depth {DEPTH_PER_POSITION * n:,.0f} USD; {SHOCK:.0%} crash")

    # -- 1-3: whole cascade against the argsort floor -----------------------------------------
    print("\n[1] Cascade construction and run()")
    t0 = time.perf_counter()
    positions = make_positions(n, args.levels, args.seed)
    t_gen = time.perf_counter() - t0
    book = make_book(args.levels, DEPTH_PER_POSITION * n)
    best, cascade = time_cascade(positions, book, reps, args.seed)
    hist = cascade.history
    liq = sum(r.n_liquidated for r in hist)
    print(f"  cascade: {len(hist) - 1} liquidation rounds, {liq:,} of {n:,} positions "
          f"liquidated ({liq / n:.0%}), price {hist[0].price_before:.4f} -> {cascade.price:.4f}, "
          f"end: {cascade.end_reason}")
    print(f"  (Positions.generate, not part of the ratio: {t_gen * 1e3:.1f} ms)")
    w, c = best.wall, best.cpu
    print(f"  {'':32s} {'wall':>9s}    {'cpu':>9s}")
    rows = (("Cascade(...) construction", "build", ""),
            ("run() on the fresh Cascade", "run",
             f"({w['run'] / max(liq, 1) * 1e9:.0f} ns per liquidated position)"),
            ("construction + run()", "total", "(best of the per-repeat sums)"),
            ("run() again after reset()", "rerun", ""))
    for text, key, note in rows:
        print(f"  {text:32s} {fmt_ms(w[key])} {fmt_ms(c[key])}   {note}")

    print("\n[2] Floor")
    print(f"  {'numpy.argsort, ' + format(n, ',') + ' random float64':32s} "
          f"{fmt_ms(w['argsort'])} {fmt_ms(c['argsort'])}")

    print(f"\n[3] Ratios (target <= {RATIO_TARGET:g}x), on wall time (cpu time in brackets)")
    for label, key in (("(construction + run) / argsort", "total"), ("run / argsort", "run")):
        r = w[key] / w["argsort"]
        print(f"  {label:32s} {r:6.2f}x  ({c[key] / c['argsort']:.2f}x)   "
              f"{verdict(r <= RATIO_TARGET)}")
    del cascade, positions

    # -- 4: step latency does not depend on the population size ------------------------------
    print("\n[4] Per-step latency, liquidation rounds only (round 0, the shock, left out)")
    say(f"Method: a {n_small:,}-position population (the scenario above with open interest and "
        f"book depth scaled down with it) is run alone, then embedded at random indices among "
        f"{n - n_small:,} inert {FILLER_LEVERAGE:g}x longs (liquidation prices below the bottom "
        f"of the book) to make {n:,} positions. Both runs liquidate the very same positions in "
        f"the same rounds and walk the book identically, so the work per round is equal by "
        f"construction and any difference is the cost of the larger population: a longer "
        f"sorted array, and the liquidated positions' data scattered over {n:,} entries instead "
        f"of {n_small:,}. Matching the rounds this way is fairer than comparing two different "
        f"cascades, whose rounds differ in size. Per round: best of {reps} runs.")
    small_book = make_book(args.levels, DEPTH_PER_POSITION * n_small)
    small = make_positions(n_small, args.levels, args.seed)
    big = embed(small, n, args.seed)
    labels = (f"{n_small:,}", f"{n:,}")
    results = {}
    for label, pop in zip(labels, (small, big), strict=True):
        results[label] = step_times(Cascade(pop, small_book, SHOCK), reps)
    (t_s, k_s), (t_b, k_b) = results.values()
    print(f"  rounds: {len(k_s)}; positions liquidated per round identical in both runs: "
          f"{'yes' if k_s == k_b else 'NO (comparison invalid)'}")
    print(f"  {'round':>7s} {'liquidated':>11s} {'us @ ' + labels[0]:>15s} "
          f"{'us @ ' + labels[1]:>15s} {'ratio':>6s}")
    for i, (k, a, b) in enumerate(zip(k_s, t_s, t_b, strict=True), start=1):
        print(f"  {i:7d} {k:11,d} {a * 1e6:15.1f} {b * 1e6:15.1f} {b / a:6.2f}")
    # A step is a fixed cost (Python, book walk, record) plus a cost per liquidated position;
    # fitting t = fixed + slope * k separates the two, which a median over rounds of very
    # different sizes cannot.
    print(f"  {'population':>12s} {'median us':>10s} {'max us':>10s} {'total ms':>9s} "
          f"{'fit: fixed us':>14s} {'+ ns/liquidated':>16s}")
    fits = []
    for label, (times, ks) in results.items():
        slope, fixed = np.polyfit(ks, times, 1) if len(ks) > 1 else (float("nan"), times[0])
        fits.append((fixed, slope))
        print(f"  {label:>12s} {statistics.median(times) * 1e6:10.1f} {max(times) * 1e6:10.1f} "
              f"{sum(times) * 1e3:9.2f} {fixed * 1e6:14.1f} {slope * 1e9:16.1f}")
    med = statistics.median(t_b) / statistics.median(t_s)
    print(f"  {labels[1]} / {labels[0]}: median step {med:.2f}x, "
          f"max step {max(t_b) / max(t_s):.2f}x, fixed part {fits[1][0] / fits[0][0]:.2f}x, "
          f"per-liquidated part {fits[1][1] / fits[0][1]:.2f}x (1.00 = independent of size)")
    del small, big

    # -- 5: memory -----------------------------------------------------------------------------
    if args.skip_memory:
        return 0
    print(f"\n[5] Memory per position (tracemalloc, {n:,} positions, target <= "
          f"{BYTES_TARGET:g} B peak)")
    m = measure_memory(n, args.levels, args.seed)
    print(f"  {'phase':22s} {'peak above start':>17s} {'peak above phase':>17s} "
          f"{'held after':>11s}   (bytes per position)")
    for name, above_start, above_phase, held in m["phases"]:
        print(f"  {name:22s} {above_start / n:17.1f} {above_phase / n:17.1f} {held / n:11.1f}")
    held = {name: h for name, _, _, h in m["phases"]}
    peak = m["peak"] / n
    book_share = held["OrderBook.from_depth"] / n
    print(f"  peak over the whole sequence             {peak:6.1f} B/position   "
          f"{verdict(peak <= BYTES_TARGET)}")
    print(f"    of which the caller's book ({args.levels:,} levels per side, held): "
          f"{book_share:.1f}; peak without it: {peak - book_share:.1f}")
    print("  steady state after run(), per position (tracemalloc):")
    print(f"    Positions object                       {held['Positions.generate'] / n:6.1f}")
    print(f"    Cascade, after construction and run()  "
          f"{(held['Cascade(...)'] + held['run()']) / n:6.1f}")
    print(f"    caller's book                          {book_share:6.1f}")
    print(f"    everything                             {m['held_total'] / n:6.1f}")
    if m["breakdown"] is None:
        print("  (breakdown by array skipped: package internals have changed)")
    else:
        print("  breakdown by array (nbytes per position):")
        for label, nbytes in m["breakdown"]:
            print(f"    {label:52s} {nbytes / n:6.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
