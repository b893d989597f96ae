"""marginloops.sweep on executors: the same table from a serial run, a process pool, a thread
pool whose chunks finish out of order, and a dask.distributed LocalCluster; workers of
process_pool ignore Ctrl-C; an interrupt while waiting cancels the chunks not started."""

from __future__ import annotations

import concurrent.futures as cf
import signal
import time

import pytest

from marginloops import FlatBandScenario, Scenario, process_pool, sweep

SMALL = Scenario(n_positions=300, open_interest=3_000_000.0, depth_1pct=400_000.0, seed=3)
GRID = {"depth_1pct": [2e5, 4e5, 8e5], "shock": [0.03, 0.06, 0.09]}


@pytest.fixture(scope="module")
def serial():
    return sweep(SMALL, GRID, seeds=2, progress=False)


def test_a_process_pool_gives_the_serial_table(serial):
    seen = []
    with process_pool(2) as pool:
        r = sweep(SMALL, GRID, seeds=2, executor=pool, progress=False, chunksize=4,
                  on_rows=seen.append)
    assert r.complete and not r.interrupted
    assert r.to_csv() == serial.to_csv()
    assert r.rows == serial.rows
    assert sorted(row["cell"] for rows in seen for row in rows) == sorted(
        row["cell"] for row in serial.rows)
    # one call per chunk of 4 runs (in the order they finish)
    assert sorted(len(rows) for rows in seen) == [2, 4, 4, 4, 4]


def test_the_default_chunks_give_each_worker_several():
    with process_pool(2) as pool:
        calls = []
        r = sweep(SMALL, {"shock": [0.02 + 0.005 * i for i in range(16)]}, executor=pool,
                  measures=["rounds"], progress=False, on_rows=calls.append)
    assert len(r) == 16 and len(calls) == 8  # 16 runs / (4 x 2 workers) = chunks of 2


def test_process_pool_workers_ignore_sigint():
    mine = signal.getsignal(signal.SIGINT)  # (a pytest-xdist worker may ignore it already)
    with process_pool(1) as pool:
        assert pool.submit(signal.getsignal, signal.SIGINT).result() == signal.SIG_IGN
    assert signal.getsignal(signal.SIGINT) is mine  # this process's handler is left alone


@pytest.mark.parametrize("workers", [0, 1.5, True, 1000])
def test_process_pool_checks_workers(workers):
    with pytest.raises(ValueError, match=r"workers must be a whole number in \[1, 256\]"):
        process_pool(workers)


def _slow_first(cascade, history):
    """Earlier cells wait longer, so that later chunks finish first on a thread pool."""
    time.sleep(0.15 if cascade.shock < 0.05 else 0.0)
    return history[-1].price_after


def test_rows_are_in_grid_order_whatever_order_the_chunks_finish():
    order = []
    with cf.ThreadPoolExecutor(4) as pool:  # all four at once: the fast ones finish first
        r = sweep(FlatBandScenario(ratio=0.5), {"shock": [0.02, 0.03, 0.06, 0.08]},
                  measures={"last": _slow_first}, executor=pool, chunksize=1,
                  on_rows=lambda rows: order.extend(row["cell"] for row in rows),
                  progress=False)
    assert order != [0, 1, 2, 3]  # completion order: the slow first cells came back last
    assert sorted(order) == [0, 1, 2, 3]
    assert [row["cell"] for row in r] == [0, 1, 2, 3]
    assert [row["shock"] for row in r] == [0.02, 0.03, 0.06, 0.08]


def test_an_executor_is_not_shut_down_by_the_sweep():
    with cf.ThreadPoolExecutor(1) as pool:
        sweep(FlatBandScenario(ratio=0.5), {"ratio": [0.3]}, executor=pool, progress=False)
        assert pool.submit(int, "4").result() == 4


def _interrupt_after(n):
    """An on_rows callback raising KeyboardInterrupt (what Ctrl-C raises in the caller's
    thread) at its n-th call."""
    calls = []

    def on_rows(rows):
        calls.append(rows)
        if len(calls) == n:
            raise KeyboardInterrupt

    return on_rows, calls


def test_an_interrupt_while_waiting_cancels_the_chunks_not_started():
    on_rows, calls = _interrupt_after(2)
    with cf.ThreadPoolExecutor(1) as pool:
        r = sweep(FlatBandScenario(ratio=0.5), {"shock": [0.01 * (i + 1) for i in range(20)]},
                  measures=["fall"], executor=pool, chunksize=2, on_rows=on_rows,
                  progress=False)
    assert r.interrupted and not r.complete
    assert len(calls) == 2
    # the rows handed over are kept, in grid order; most of the 10 chunks never ran
    assert [row["cell"] for row in r] == [0, 1, 2, 3]
    assert r.expected == 20


def test_a_cells_error_reaches_the_caller_from_a_process_pool():
    base = Scenario.preset("crowded-longs").replace(n_positions=200)
    with process_pool(2) as pool, pytest.raises(ValueError, match=r"grid cell 1 \(mmr=0\.02"):
        sweep(base, {"mmr": [0.005, 0.02, 0.005]}, executor=pool, chunksize=1,
              progress=False)


def test_a_dask_local_cluster_gives_the_serial_table(serial):
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, processes=True, threads_per_worker=1,
                                  host="127.0.0.1", dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        r = sweep(SMALL, GRID, seeds=2, executor=client.get_executor(), progress=False,
                  chunksize=3)
        assert r.complete
        assert r.to_csv() == serial.to_csv()
        # the work ran on the cluster's workers
        assert len(client.scheduler_info()["workers"]) == 2


def test_threads_sharing_the_worker_cache_give_the_serial_table(serial):
    """A thread pool's workers share this process's cache of built parts (under a lock)."""
    with cf.ThreadPoolExecutor(4) as pool:
        r = sweep(SMALL, GRID, seeds=2, executor=pool, progress=False, chunksize=1)
    assert r.to_csv() == serial.to_csv()
