"""Sweeps: run a scenario's cascade over a grid of its fields and get one tidy table back.

``sweep(scenario, {"depth_1pct": [...], "shock": [...]}, seeds=3)`` runs every combination
(several seeds per cell) and returns a :class:`SweepResult`: one row per run with the varied
fields, the seed and the measures (fall, amplification, rounds, positions liquidated, notional,
bad debt, end reason). It mirrors two tools students of agent-based models meet:

- NetLogo's BehaviorSpace (https://ccl.northwestern.edu/netlogo/docs/behaviorspace.html): "Vary
  variables as follows" (a list of values, or first/increment/last: here a list, a range or an
  array), "Repetitions" (here ``seeds``), "Measure runs using these reporters" with "Measure runs
  at every step" off (here ``measures``, computed once at the end of a run), and "Table output",
  one row per run, the run number first (here ``cell``);
- Mesa's ``batch_run(model_cls, parameters, number_processes=1, iterations=1, ...,
  display_progress=True)`` (https://mesa.readthedocs.io/latest/apis/batchrunner.html): a dict of
  parameter values expanded into their product (:func:`itertools.product`), each combination run
  ``iterations`` times, optionally in several processes, with a tqdm progress bar, the results a
  list of dicts that ``pandas.DataFrame`` takes as it is.

Here the model is a scenario and a run is its cascade played to the end.

The work can go to any :class:`concurrent.futures.Executor` (:func:`process_pool` on this
machine, or a Dask cluster through ``dask.distributed.Client(...).get_executor()``), in chunks;
the rows come back in grid order whatever the executor, and the same seeds give the same table
on every executor. Numpy and the standard library only (``tqdm.auto`` is imported for the
progress bar, pandas by :meth:`SweepResult.to_pandas`).
"""

from __future__ import annotations

import concurrent.futures as cf
import csv
import dataclasses
import difflib
import io
import itertools
import math
import numbers
import os
import signal
import threading
from collections import OrderedDict

import numpy as np

from .analysis import amplification, crowding
from .scenarios import POSITION_FIELDS, VENUE_FIELDS, Scenario

__all__ = ["DEFAULT_MEASURES", "MEASURES", "SweepResult", "process_pool", "sweep"]


# ---------------------------------------------------------------------------------- measures
def _down(cascade, history) -> bool:
    """A crash? (A record's or the cascade's direction; a lending market's cascade is one.)"""
    direction = getattr(history[0], "direction", None) or getattr(cascade, "direction", "down")
    return direction == "down"


def _fall(cascade, history) -> float:
    start, end = history[0].price_before, history[-1].price_after
    return 1.0 - end / start if _down(cascade, history) else end / start - 1.0


def _shock_fall(cascade, history) -> float:
    first = history[0]
    if _down(cascade, history):
        return 1.0 - first.price_after / first.price_before
    return first.price_after / first.price_before - 1.0


def _amplification(cascade, history) -> float:
    return amplification(history)


def _rounds(cascade, history) -> int:
    return int(history[-1].round)


def _liquidated(cascade, history) -> int:
    return int(sum(r.n_closed for r in history))


def _notional(cascade, history) -> float:
    return float(sum(r.notional_liquidated for r in history))


def _bad_debt(cascade, history) -> float:
    return float(history[-1].bad_debt)


def _end_reason(cascade, history) -> str:
    return history[-1].end_reason


def _crowding(cascade, history) -> float:
    return crowding(cascade, band=0.05).ratio


#: The measures a sweep can name, each ``f(cascade, history) -> value`` computed after
#: ``cascade.run()`` on :class:`~marginloops.Cascade`'s records (all but ``notional`` and
#: ``crowding`` also read a lending market's, :class:`~marginloops.LendingRecord`: a crash):
#:
#: - ``fall``: the fractional move from the start in the shock's direction, > 0 (``1 - end/start``
#:   in a crash, ``end/start - 1`` in a squeeze)
#: - ``amplification``: :func:`marginloops.amplification` (total move / the shock's move)
#: - ``rounds``: the last record's round
#: - ``liquidated``: positions closed, the sum of ``n_closed``
#: - ``notional``: the sum of ``notional_liquidated``, USD
#: - ``bad_debt``: the last record's ``bad_debt``, USD
#: - ``end_reason``: the last record's ``end_reason`` (a string)
#: - ``crowding``: ``crowding(cascade, band=0.05).ratio``, the n/D ratio within 5% of the price
#: - ``shock_fall``: the shock round's own fall
MEASURES = {
    "fall": _fall,
    "amplification": _amplification,
    "rounds": _rounds,
    "liquidated": _liquidated,
    "notional": _notional,
    "bad_debt": _bad_debt,
    "end_reason": _end_reason,
    "crowding": _crowding,
    "shock_fall": _shock_fall,
}
#: What :func:`sweep` measures unless told otherwise.
DEFAULT_MEASURES = ("fall", "amplification", "rounds", "liquidated", "notional", "bad_debt",
                    "end_reason")


# ---------------------------------------------------------------------------- the worker
#: Built parts a worker process keeps between runs (see :func:`_build`): at most this many,
#: and only for markets of at most :data:`_CACHE_LIMIT` positions and book levels per side
#: (a larger one takes long enough to run that building it again costs little, and four of
#: them would hold hundreds of megabytes).
_CACHE_SIZE = 4
_CACHE_LIMIT = 100_000
_cache: OrderedDict = OrderedDict()
_lock = threading.Lock()


def _cached(key, make):
    """``make()``, remembered under ``key`` (the few most recent of this process; a lock keeps
    the dict whole when threads share it: a thread pool, or two sweeps at once)."""
    try:
        hash(key)
    except TypeError:  # a field value that cannot be hashed: build it each time
        return make()
    with _lock:
        value = _cache.get(key)
        if value is not None:
            _cache.move_to_end(key)
            return value
    value = make()
    with _lock:
        _cache[key] = value
        while len(_cache) > _CACHE_SIZE:
            _cache.popitem(last=False)
    return value


def _build(scenario):
    """The scenario's cascade, ready to run: ``scenario.cascade()``, except that a
    :class:`~marginloops.Scenario` reuses the positions and the venue built for an earlier run
    of this process with the same :data:`~marginloops.scenarios.POSITION_FIELDS` /
    :data:`~marginloops.scenarios.VENUE_FIELDS` (a cascade copies its venue, and a population's
    arrays are read-only: tests/test_sweep.py checks that the rows do not change)."""
    if type(scenario) is not Scenario or scenario.n_positions > _CACHE_LIMIT \
            or scenario.book_range * scenario.price / scenario.tick > _CACHE_LIMIT:
        return scenario.cascade()
    pos_key = ("positions", *(getattr(scenario, f) for f in POSITION_FIELDS))
    venue_key = ("venue", *(getattr(scenario, f) for f in VENUE_FIELDS))
    return scenario.cascade(positions=_cached(pos_key, scenario.positions),
                            venue=_cached(venue_key, scenario.venue_model))


def _describe(changes: dict) -> str:
    return ", ".join(f"{k}={v!r}" for k, v in changes.items()) or "no change"


def _run_one(scenario, measures, cell, changes, seed):
    run = dict(changes)
    if seed is not None:
        run["seed"] = seed
    try:
        s = dataclasses.replace(scenario, **run) if run else scenario
        cascade = _build(s)
    except ValueError as exc:
        raise ValueError(f"grid cell {cell} ({_describe(changes)}"
                         f"{'' if seed is None else f', seed {seed}'}): {exc}") from None
    history = cascade.run()
    return tuple(f(cascade, history) for _, f in measures)


def _run_chunk(scenario, measures, tasks):
    """Run ``tasks`` (``(index, cell, changes, seed)`` each); ``[(index, values), ...]``."""
    return [(i, _run_one(scenario, measures, cell, changes, seed))
            for i, cell, changes, seed in tasks]


def _ignore_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def process_pool(workers: int = 2) -> cf.ProcessPoolExecutor:
    """A process pool for :func:`sweep` whose workers ignore Ctrl-C (SIGINT).

    A terminal's Ctrl-C (and a Jupyter kernel's interrupt) goes to the whole process group: the
    workers ignore it, so it reaches only the sweep, which cancels the chunks not yet started and
    returns what is done. Use it as a context manager (``with process_pool(2) as pool:``); it is
    a :class:`concurrent.futures.ProcessPoolExecutor`, whose ``initializer`` runs in each worker
    as it starts (https://docs.python.org/3/library/concurrent.futures.html).

    Parameters
    ----------
    workers : int
        Worker processes, 1 to 256.

    Examples
    --------
    >>> from marginloops import FlatBandScenario
    >>> with process_pool(2) as pool:
    ...     result = sweep(FlatBandScenario(ratio=0.5), {"ratio": [0.25, 0.5, 0.75]},
    ...                    measures=["amplification"], executor=pool, progress=False)
    >>> [round(float(a), 1) for a in result.column("amplification")]   # 1 / (1 - ratio)
    [1.3, 2.0, 4.0]
    """
    if isinstance(workers, bool) or not isinstance(workers, numbers.Integral) \
            or not 1 <= workers <= 256:
        raise ValueError(f"workers must be a whole number in [1, 256], got {workers!r}")
    return cf.ProcessPoolExecutor(max_workers=int(workers), initializer=_ignore_sigint)


# ------------------------------------------------------------------------------ checking
def _plain_value(v):
    """A grid value as a plain Python object (numpy scalars become numbers)."""
    if isinstance(v, np.generic):
        return v.item()
    return v


def _values(name, values) -> list:
    if isinstance(values, np.ndarray):
        if values.ndim != 1:
            raise ValueError(f"grid {name!r} values must be a list, a range or a 1-d array, got "
                             f"an array of shape {values.shape}")
        values = values.tolist()
    elif isinstance(values, range):
        values = list(values)
    elif not isinstance(values, (list, tuple)):
        raise ValueError(f"grid {name!r} values must be a list, a tuple, a range or a 1-d numpy "
                         f"array, got {values!r}")
    if not values:
        raise ValueError(f"grid {name!r} values must hold at least one value, got an empty "
                         f"{type(values).__name__}")
    return [_plain_value(v) for v in values]


def _check_field(name, names) -> None:
    if not isinstance(name, str) or name not in names:
        close = difflib.get_close_matches(name, names, n=1) if isinstance(name, str) else []
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ValueError(f"grid field {name!r} is not a field of the scenario{hint}; its fields "
                         f"are {sorted(names)}")


def _cells(scenario, grid) -> tuple[tuple, list]:
    """``(fields, cells)``: the varied field names and each cell's changes, in grid order."""
    names = [f.name for f in dataclasses.fields(scenario) if f.init]
    if isinstance(grid, dict):
        fields = tuple(grid)
        for name in fields:
            _check_field(name, names)
        lists = [_values(name, grid[name]) for name in fields]
        return fields, [dict(zip(fields, combo, strict=True))
                        for combo in itertools.product(*lists)]
    if isinstance(grid, (list, tuple)) and all(isinstance(c, dict) for c in grid):
        if not grid:
            raise ValueError("grid must hold at least one cell, got an empty list")
        fields: list = []
        cells = []
        for cell in grid:
            for name in cell:
                _check_field(name, names)
                if name not in fields:
                    fields.append(name)
            cells.append({k: _plain_value(v) for k, v in cell.items()})
        return tuple(fields), cells
    raise ValueError("grid must be a dict {field: values} (their product) or a list of dicts "
                     f"(one cell's changes each), got {type(grid).__name__} {grid!r:.80}")


def _seeds(scenario, seeds, fields) -> list:
    has_seed = any(f.name == "seed" for f in dataclasses.fields(scenario))
    if isinstance(seeds, bool):
        raise ValueError(f"seeds must be a whole number >= 1 or a list of seeds, got {seeds!r}")
    if isinstance(seeds, numbers.Integral):
        if seeds < 1:
            raise ValueError(f"seeds must be a whole number >= 1 (runs per cell) or a list of "
                             f"seeds, got {seeds!r}")
        if not has_seed or "seed" in fields:
            if seeds != 1:
                why = ("has no seed field (it has no randomness)" if not has_seed else
                       "varies seed in the grid")
                raise ValueError(f"seeds must be 1 when the scenario {why}, got {seeds!r}")
            return [None]
        return [scenario.seed + i for i in range(int(seeds))]
    if isinstance(seeds, np.ndarray):
        seeds = seeds.tolist()
    if not isinstance(seeds, (list, tuple, range)) or not seeds:
        raise ValueError(f"seeds must be a whole number >= 1 or a non-empty list of seeds, got "
                         f"{seeds!r}")
    if not has_seed:
        raise ValueError(f"seeds must be 1 when the scenario has no seed field (it has no "
                         f"randomness), got {seeds!r}")
    if "seed" in fields:
        raise ValueError(f"seeds must be 1 when the grid varies seed, got {seeds!r}")
    out = []
    for s in seeds:
        s = _plain_value(s)
        if isinstance(s, bool) or not isinstance(s, numbers.Integral):
            raise ValueError(f"seeds must be whole numbers, got {s!r} in {seeds!r}")
        out.append(int(s))
    if len(set(out)) != len(out):
        raise ValueError(f"seeds must be different from each other, got {seeds!r}")
    for s in out:  # the scenario's own check of its seed field ([0, 2**32 - 1] for Scenario)
        dataclasses.replace(scenario, seed=s)
    return out


def _measures(measures, taken) -> tuple:
    """``((name, callable), ...)`` from names, a dict, or names and (name, callable) pairs."""
    if isinstance(measures, str):
        measures = (measures,)
    items = list(measures.items()) if isinstance(measures, dict) else list(measures)
    if not items:
        raise ValueError("measures must name at least one measure, got none")
    out = []
    for item in items:
        if isinstance(item, str):
            if item not in MEASURES:
                close = difflib.get_close_matches(item, MEASURES, n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                raise ValueError(f"measure {item!r} is not one of {list(MEASURES)}{hint}; "
                                 "or give (name, callable(cascade, history)) pairs")
            out.append((item, MEASURES[item]))
        elif isinstance(item, tuple) and len(item) == 2 and isinstance(item[0], str) \
                and callable(item[1]):
            out.append(item)
        else:
            raise ValueError(f"measures must be names from {list(MEASURES)}, a dict "
                             f"{{name: callable(cascade, history)}} or (name, callable) pairs, "
                             f"got {item!r}")
    names = [n for n, _ in out]
    for n in names:
        if names.count(n) > 1:
            raise ValueError(f"measure {n!r} is named twice in measures")
        if n in taken:
            raise ValueError(f"measure {n!r} has the name of a column the sweep already has "
                             f"({', '.join(taken)}); rename it")
    return tuple(out)


def _workers(executor) -> int:
    n = getattr(executor, "_max_workers", None)  # ProcessPoolExecutor, ThreadPoolExecutor
    if isinstance(n, int) and n > 0:
        return n
    return os.cpu_count() or 2


# --------------------------------------------------------------------------------- sweep
def sweep(scenario, grid, *, measures=DEFAULT_MEASURES, seeds=1, executor=None, progress=True,
          chunksize=None, on_rows=None) -> SweepResult:
    """Run ``scenario``'s cascade for every cell of ``grid`` (and every seed) and measure it.

    Mirrors NetLogo's BehaviorSpace and Mesa's ``batch_run`` (see the module's docstring): the
    grid's values are expanded into their product, each combination run once per seed, and each
    run measured at its end, one row per run.

    Parameters
    ----------
    scenario : frozen dataclass with ``.cascade()``
        The base: a :class:`~marginloops.Scenario`, a :class:`~marginloops.FlatBandScenario`, a
        :class:`~marginloops.LendingScenario`, ... A cell's scenario is
        ``dataclasses.replace(scenario, **changes)`` (its ``__post_init__`` checks it), with
        ``seed=`` set when the scenario has a ``seed`` field.
    grid : dict or list of dicts
        ``{field: values}``: the product of the values, the first field slowest (the order of
        :func:`itertools.product`); values a list, tuple, range or 1-d numpy array (numpy
        scalars become Python numbers). Or a list of dicts, each one cell's changes (``{}`` is
        the scenario itself).
    measures : sequence of str, or dict, or sequence of str and (name, callable) pairs
        Names from :data:`MEASURES`, and/or ``{name: f}`` with ``f(cascade, history) -> value``
        computed after ``cascade.run()`` (module-level functions, so that they pickle for a
        process pool).
    seeds : int or sequence of int
        ``k`` >= 1: seeds ``scenario.seed + i`` for ``i`` in ``range(k)`` (``seeds=1``
        reproduces the scenario's own run); or the seeds themselves. A scenario without a
        ``seed`` field (no randomness) allows only 1, and its table has no ``seed`` column;
        neither has a grid that varies ``seed`` (then ``seeds`` must be 1).
    executor : concurrent.futures.Executor or None
        None runs in this process. Any executor's ``submit`` / future protocol
        (https://docs.python.org/3/library/concurrent.futures.html): a :func:`process_pool`, or
        ``dask.distributed.Client(...).get_executor()`` ("a concurrent.futures Executor that
        executes tasks on a dask.distributed Client", distributed's ``ClientExecutor``; its
        futures are ``concurrent.futures.Future`` objects, so ``as_completed`` and ``cancel``
        work on them: https://distributed.dask.org/en/stable/api.html). Chunks go with
        ``submit`` and come back with ``as_completed``; a chunk not started is cancelled on an
        interrupt. The sweep never shuts the executor down.
    progress : bool
        A ``tqdm.auto`` progress bar (count, rate, time left): a widget in a notebook, text in a
        terminal.
    chunksize : int or None
        Runs per chunk of work sent at a time (>= 1); by default each worker gets several chunks
        (at most 100 runs each), so the bar moves and an interrupt stops soon.
    on_rows : callable or None
        Called in the caller's thread with each chunk's rows (a list of row dicts, each with its
        ``cell``), in the order the chunks complete: a view fills in while the sweep runs.

    Returns
    -------
    SweepResult
        Rows in grid order (cell ascending, then seed). Ctrl-C (a kernel interrupt) cancels the
        chunks not started and returns the rows done with ``interrupted=True``.

    Raises
    ------
    ValueError
        A bad argument (named, with its value and what is allowed), or a cell whose scenario
        is invalid (a conflict between fields): the message names the cell's changes.

    Examples
    --------
    >>> from marginloops import FlatBandScenario, sweep
    >>> result = sweep(FlatBandScenario(ratio=0.5), {"ratio": [0.25, 0.5]},
    ...                measures=["amplification"], progress=False)
    >>> result.columns
    ('cell', 'ratio', 'amplification')
    >>> [round(float(a), 1) for a in result.column("amplification")]   # 1 / (1 - ratio)
    [1.3, 2.0]
    """
    if not dataclasses.is_dataclass(scenario) or isinstance(scenario, type) \
            or not callable(getattr(scenario, "cascade", None)):
        raise ValueError("scenario must be a scenario (a dataclass with .cascade(), such as "
                         f"Scenario or FlatBandScenario), got {type(scenario).__name__}")
    fields, cells = _cells(scenario, grid)
    seed_list = _seeds(scenario, seeds, fields)
    has_seed_column = seed_list != [None]
    taken = ("cell", *fields, *(("seed",) if has_seed_column else ()))
    measure_list = _measures(measures, taken)
    if executor is not None and not isinstance(executor, cf.Executor):
        raise ValueError("executor must be None (run here) or a concurrent.futures.Executor "
                         "(process_pool(n), dask's Client.get_executor()), got "
                         f"{type(executor).__name__}")
    if on_rows is not None and not callable(on_rows):
        raise ValueError(f"on_rows must be a callable(list of rows) or None, got {on_rows!r}")
    if not isinstance(progress, bool):
        raise ValueError(f"progress must be True or False, got {progress!r}")
    tasks = [(i * len(seed_list) + j, i, cells[i], s)
             for i in range(len(cells)) for j, s in enumerate(seed_list)]
    if chunksize is None:
        workers = 1 if executor is None else _workers(executor)
        chunksize = max(1, min(100, math.ceil(len(tasks) / (4 * workers))))
    elif isinstance(chunksize, bool) or not isinstance(chunksize, numbers.Integral) \
            or chunksize < 1:
        raise ValueError(f"chunksize must be a whole number >= 1 (runs per chunk), got "
                         f"{chunksize!r}")
    chunks = [tasks[k:k + chunksize] for k in range(0, len(tasks), int(chunksize))]
    result = SweepResult(scenario, fields, cells, seed_list, tuple(n for n, _ in measure_list))
    bar = _bar(len(tasks)) if progress else None
    try:
        if executor is None:
            _serial(scenario, measure_list, chunks, result, on_rows, bar)
        else:
            _parallel(scenario, measure_list, chunks, executor, result, on_rows, bar)
    except BaseException:
        if bar is not None:
            bar.leave = False  # an error: the bar goes, its message stays alone
        raise
    finally:
        if bar is not None:
            bar.close()
        with _lock:
            _cache.clear()  # this process's parts (a worker's go with the worker)
    return result


def _bar(total):
    from tqdm.auto import tqdm  # a notebook widget or terminal text, whichever fits

    return tqdm(total=total, unit="run", desc="sweep", smoothing=0.1)


def _take(result, done, on_rows, bar) -> None:
    rows = result._add(done)
    if bar is not None:
        bar.update(len(done))
    if on_rows is not None and rows:
        on_rows(rows)


def _serial(scenario, measures, chunks, result, on_rows, bar) -> None:
    try:
        for chunk in chunks:
            done = []
            try:
                for i, cell, changes, seed in chunk:
                    done.append((i, _run_one(scenario, measures, cell, changes, seed)))
            finally:  # keep the runs of this chunk that finished, even on an interrupt
                if done:
                    _take(result, done, on_rows, bar)
    except KeyboardInterrupt:
        result.interrupted = True


def _parallel(scenario, measures, chunks, executor, result, on_rows, bar) -> None:
    futures = []
    try:
        for chunk in chunks:  # one by one: an interrupt meanwhile cancels those sent so far
            futures.append(executor.submit(_run_chunk, scenario, measures, chunk))
        for future in cf.as_completed(futures):
            _take(result, future.result(), on_rows, bar)
    except KeyboardInterrupt:
        result.interrupted = True
        for f in futures:
            f.cancel()
    except BaseException:
        for f in futures:
            f.cancel()
        raise


# -------------------------------------------------------------------------------- result
class SweepResult:
    """The table of a :func:`sweep`: one row per run, in grid order (cell, then seed).

    Attributes
    ----------
    scenario : the base scenario
    fields : tuple of str, the varied field names (grid order)
    measures : tuple of str, the measures' names
    columns : ``("cell", *fields, "seed", *measures)`` (no ``"seed"`` when the scenario has no
        seed field or the grid varies it)
    rows : list of dict, in grid order; a run not done (interrupted) is absent
    expected : int, the runs the grid asks for
    complete : bool, every run done
    interrupted : bool, the sweep was stopped (Ctrl-C / the kernel's interrupt)

    Examples
    --------
    >>> from marginloops import FlatBandScenario, sweep
    >>> r = sweep(FlatBandScenario(ratio=0.5), {"ratio": [0.25, 0.5], "shock": [0.02, 0.04]},
    ...           measures=["fall"], progress=False)
    >>> len(r), r.complete, r.cell_changes(1)
    (4, True, {'ratio': 0.25, 'shock': 0.04})
    >>> xs, ys, values = r.grid2d("ratio", "shock", "fall")
    >>> xs, ys, values.shape
    ([0.25, 0.5], [0.02, 0.04], (2, 2))
    """

    def __init__(self, scenario, fields, cells, seeds, measures):
        self.scenario = scenario
        self.fields = tuple(fields)
        self._cells = cells
        self._seeds = list(seeds)
        self.measures = tuple(measures)
        self._seeded = self._seeds != [None]
        self.columns = ("cell", *self.fields, *(("seed",) if self._seeded else ()),
                        *self.measures)
        self.expected = len(cells) * len(self._seeds)
        self.interrupted = False
        self._done: dict = {}
        self._rows: list | None = None

    # ------------------------------------------------------------------------ building
    def _row(self, index, values) -> dict:
        cell, j = divmod(index, len(self._seeds))
        changes = self._cells[cell]
        row = {"cell": cell}
        for f in self.fields:
            row[f] = changes[f] if f in changes else getattr(self.scenario, f)
        if self._seeded:
            row["seed"] = self._seeds[j]
        row.update(zip(self.measures, values, strict=True))
        return row

    def _add(self, done) -> list:
        rows = []
        for index, values in done:
            row = self._row(index, values)
            self._done[index] = row
            rows.append(row)
        self._rows = None
        return rows

    # --------------------------------------------------------------------------- access
    @property
    def rows(self) -> list:
        """The rows done, in grid order (cell ascending, then seed ascending)."""
        if self._rows is None:
            self._rows = [self._done[i] for i in sorted(self._done)]
        return self._rows

    @property
    def complete(self) -> bool:
        """True when every run the grid asks for is done."""
        return len(self._done) == self.expected

    def __len__(self) -> int:
        return len(self._done)

    def __iter__(self):
        return iter(self.rows)

    def __repr__(self) -> str:
        state = "complete" if self.complete else (
            "interrupted" if self.interrupted else "incomplete")
        return (f"<SweepResult {len(self)} of {self.expected} runs ({state}); "
                f"columns {', '.join(self.columns)}>")

    def column(self, name) -> np.ndarray:
        """One column over the rows: a float array for numbers (None is NaN), else object."""
        if name not in self.columns:
            raise ValueError(f"column {name!r} is not one of {list(self.columns)}")
        values = [row[name] for row in self.rows]
        if all(v is None or (isinstance(v, numbers.Real) and not isinstance(v, bool))
               for v in values):
            return np.array([np.nan if v is None else float(v) for v in values], dtype=float)
        out = np.empty(len(values), dtype=object)
        out[:] = values
        return out

    def cell_changes(self, cell) -> dict:
        """The changes of grid cell ``cell`` (an index into the grid) from the base scenario."""
        if isinstance(cell, bool) or not isinstance(cell, numbers.Integral) \
                or not 0 <= cell < len(self._cells):
            raise ValueError(f"cell must be a whole number in [0, {len(self._cells) - 1}], got "
                             f"{cell!r}")
        return dict(self._cells[int(cell)])

    def scenario_for(self, cell, seed=None):
        """Cell ``cell``'s scenario (with ``seed``, by default the sweep's first seed), e.g. to
        open it in a :class:`~marginloops.CascadeExplorer`. A scenario with a ``variant`` method
        (:meth:`Scenario.variant`) is named and described as changed ("crowded-longs
        (changed)", "crowded-longs with shock 1.0%, ..."), so an explorer's market menu says
        where it came from; the fields are the run's."""
        changes = self.cell_changes(cell)
        if seed is None:
            seed = self._seeds[0]
        elif not self._seeded:
            raise ValueError(f"seed must be None for a sweep without seeds, got {seed!r}")
        if seed is not None:
            changes["seed"] = seed
        if not changes:
            return self.scenario
        variant = getattr(self.scenario, "variant", None)
        return variant(**changes) if callable(variant) else \
            dataclasses.replace(self.scenario, **changes)

    # -------------------------------------------------------------------------- export
    def to_pandas(self):
        """The rows as a :class:`pandas.DataFrame` (columns in :attr:`columns` order)."""
        try:
            import pandas as pd
        except ImportError:
            raise ImportError("SweepResult.to_pandas needs pandas: pip install pandas (or use "
                              "to_csv, which needs nothing)") from None
        return pd.DataFrame(self.rows, columns=list(self.columns))

    def to_csv(self, path=None):
        """The rows as CSV (a header of :attr:`columns`; None is an empty field), written to
        ``path`` when given (UTF-8), else returned as text."""
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(self.columns)
        for row in self.rows:
            writer.writerow(["" if row[c] is None else _csv_value(row[c]) for c in self.columns])
        text = buf.getvalue()
        if path is None:
            return text
        with open(path, "w", encoding="utf-8", newline="") as f:
            f.write(text)
        return None

    def grid2d(self, x, y, measure, reduce="mean"):
        """A measure over two fields, for a heat map: ``(xs, ys, values)``.

        ``xs`` and ``ys`` are the fields' distinct values in grid order; ``values[j, i]`` (shape
        ``(len(ys), len(xs))``) reduces the measure over the rows with ``x == xs[i]`` and
        ``y == ys[j]`` (its seeds, and any other field the grid varies): ``reduce`` is "mean",
        "median", "min" or "max". NaN where no row is done (or a value is NaN for "mean").
        """
        for label, name in (("x", x), ("y", y)):
            if name not in self.fields:
                raise ValueError(f"{label} must be one of the varied fields {list(self.fields)}, "
                                 f"got {name!r}")
        if x == y:
            raise ValueError(f"x and y must be two different fields, got {x!r} twice")
        if measure not in self.measures:
            raise ValueError(f"measure must be one of {list(self.measures)}, got {measure!r}")
        funcs = {"mean": np.mean, "median": np.median, "min": np.min, "max": np.max}
        if reduce not in funcs:
            raise ValueError(f"reduce must be one of {list(funcs)}, got {reduce!r}")

        def distinct(name):
            out = []
            for cell in range(len(self._cells)):
                v = self._cells[cell].get(name, getattr(self.scenario, name))
                if v not in out:
                    out.append(v)
            return out

        xs, ys = distinct(x), distinct(y)
        groups: dict = {}
        for row in self.rows:
            v = row[measure]
            if v is None or isinstance(v, bool) or not isinstance(v, numbers.Real):
                raise ValueError(f"measure {measure!r} must be a number to be drawn, got {v!r}")
            groups.setdefault((xs.index(row[x]), ys.index(row[y])), []).append(float(v))
        values = np.full((len(ys), len(xs)), np.nan)
        for (i, j), vs in groups.items():
            values[j, i] = funcs[reduce](vs)
        return xs, ys, values


def _csv_value(v):
    if isinstance(v, float):
        return repr(v)
    return v
