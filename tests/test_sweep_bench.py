"""benchmarks/bench_sweep.py at a small size, as a correctness check only (no timing asserted):
it runs, its three sweeps (serial, one worker, two workers) give the same table, and the
split's reused-parts build gives the plain build's run."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

from marginloops import Scenario

BENCH = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_sweep.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("bench_sweep", BENCH)
    module = importlib.util.module_from_spec(spec)
    # importable by name, so that its functions pickle for the pool's workers (headroom)
    sys.modules["bench_sweep"] = module
    spec.loader.exec_module(module)
    yield module
    del sys.modules["bench_sweep"]


def test_the_benchmark_runs_small_and_its_tables_agree(bench, capsys):
    assert bench.main(["--size", "3", "--runs", "3"]) == 0
    out = capsys.readouterr().out
    assert "the three tables are the same" in out
    assert "3 x 3 = 9 runs" in out and "process_pool(2)" in out
    assert "sweep worker: positions and book reused" in out


def test_the_grid_is_the_acceptance_grid(bench):
    g = bench.grid(100)
    assert list(g) == ["depth_1pct", "shock"]
    assert g["depth_1pct"][0] == pytest.approx(0.5e6) and g["depth_1pct"][-1] == pytest.approx(8e6)
    assert g["shock"][0] == pytest.approx(0.01) and g["shock"][-1] == pytest.approx(0.10)
    assert len(g["depth_1pct"]) == len(g["shock"]) == 100
    assert Scenario().n_positions == 2000  # "default-size cascades"


def test_the_tables_of_the_small_sweep_are_equal(bench):
    tables = bench.sweep_tables(3, workers=(0, 2))
    serial, two = tables[0][1], tables[2][1]
    assert len(serial) == 9 and serial.to_csv() == two.to_csv()
