"""Command line: run a preset or a JSON scenario and print the round-by-round table and story.

``python -m marginloops --preset crowded-longs`` or ``marginloops --scenario my.json``.
Every bad input is one line, ``marginloops: error: ...``, and exit status 2.

``python -m marginloops lending --preset eth-pool --shock 0.1 --oracle push`` runs a lending
cascade (:mod:`marginloops.lending`) the same way: any field of
:class:`~marginloops.lending.LendingScenario` as ``--field value``.

``python -m marginloops sweep --preset crowded-longs --grid depth_1pct=1e6:8e6:20
--grid shock=0.01:0.1:20 --seeds 3 --workers 2 --out sweep.csv`` runs a sweep
(:func:`marginloops.sweep`) and writes its table as CSV (to stdout without ``--out``), with a
progress bar on stderr; Ctrl-C stops it and still writes the rows done (exit status 130).

``python -m marginloops links --hub URL --repo GIT_URL`` prints the lessons' nbgitpuller and
Binder links (:mod:`marginloops.links`); ``python -m marginloops start-servers --hub URL
--group students`` starts a class's servers on a JupyterHub before the lesson
(:mod:`marginloops.hubstart`).
"""

from __future__ import annotations

import argparse
import dataclasses
import difflib
import os
import re
import sys
import textwrap
from decimal import Decimal

from .lending import (
    LENDING_PRESETS,
    LendingCascade,
    LendingScenario,
    lending_table,
    narrate_lending,
    narrate_lending_end,
)
from .mechanisms import MECHANISMS
from .narration import money, narrate_history, round_table, units
from .numbers import number
from .scenarios import (
    FRACTION_FIELDS,
    PRESETS,
    RUN_PARAMS,
    Scenario,
    describe_changes,
    fraction_text,
)
from .sweeps import DEFAULT_MEASURES, MEASURES, process_pool, sweep

_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?", re.ASCII)
_WHOLE = re.compile(r"[+-]?\d{1,30}", re.ASCII)
_FIELDS = {f.name: f for f in dataclasses.fields(Scenario)}
_PAIRS = {"leverage_mix": ("leverage", "weight", "10:0.5,50:0.5"),
          "mmr_tiers": ("floor", "rate", "0:0.004,50000:0.5%"),
          "index_venues": ("depth_1pct", "weight", "2e6:1,1e6:1")}
#: Pair fields that may be empty ("none", "off" or nothing: ()).
_EMPTY_PAIRS = ("mmr_tiers", "index_venues")
#: The mechanisms' declared parameters that Scenario adds as fields of no written type: read by
#: their declared kind (a choice as its text, a whole number, a number, a flag).
_DECLARED = {p.name: p for p in RUN_PARAMS if _FIELDS[p.name].type is object}


class _Unreadable(ValueError):
    """A --set value that is not text of the field's kind; ``str`` says what was expected."""


def _read_number(text, *, fraction=False, whole=False):
    """A number typed on the command line: digits only ("1e6" too), "N%" for a fraction."""
    text = text.strip()
    if fraction and text.endswith("%") and _NUMBER.fullmatch(text[:-1].strip()):
        return float(Decimal(text[:-1].strip()).scaleb(-2))  # "5%" is exactly 0.05
    if whole and _WHOLE.fullmatch(text):
        return int(text)
    if not _NUMBER.fullmatch(text):
        what = "a whole number" if whole else "a number"
        raise _Unreadable(what + (" (a fraction such as 0.05, or 5%)" if fraction else ""))
    x = float(text)
    return int(x) if whole and x.is_integer() and abs(x) < 2**53 else x


def _parse_value(name, text):
    """The value of field ``name`` that the command-line ``text`` stands for."""
    kind = str(_FIELDS[name].type)
    if name in _PAIRS:
        first, second, example = _PAIRS[name]
        if name in _EMPTY_PAIRS and text.strip().lower() in ("", "none", "off"):
            return ()
        pairs = []
        for item in text.split(","):
            a, sep, b = item.partition(":")
            try:
                if not sep:
                    raise _Unreadable("")
                pairs.append((_read_number(a), _read_number(b, fraction=name == "mmr_tiers")))
            except _Unreadable:
                raise _Unreadable(f"{first}:{second} pairs such as {example}") from None
        return tuple(pairs)
    param = _DECLARED.get(name)
    if param is not None:
        return _parse_declared(param, text)
    if "None" in kind and text.strip().lower() in ("none", "off"):
        return None
    if kind.startswith("bool"):
        if text.strip().lower() not in ("true", "false"):
            raise _Unreadable("true or false")
        return text.strip().lower() == "true"
    if kind.startswith("str"):
        return text
    try:
        return _read_number(text, fraction=name in FRACTION_FIELDS, whole=kind.startswith("int"))
    except _Unreadable as exc:
        raise _Unreadable(f"{exc}{' or none' if 'None' in kind else ''}") from None


def _parse_declared(param, text):
    """The value of a declared parameter that the command-line ``text`` stands for (its check
    comes when the scenario is made: a value out of range is refused there, by name)."""
    word = text.strip()
    if param.optional and word.lower() in ("none", "off"):
        return None
    if param.kind == "choice":
        return None if word.lower() in ("none", "off") and None in param.choices else word
    if param.kind == "flag":
        if word.lower() not in ("true", "false"):
            raise _Unreadable("true or false")
        return word.lower() == "true"
    try:
        return _read_number(word, fraction=param.fraction, whole=param.kind == "whole")
    except _Unreadable as exc:
        raise _Unreadable(f"{exc}{' or none' if param.optional else ''}") from None


def _changes(items) -> dict:
    changes = {}
    for item in items:
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep:
            raise ValueError(f"--set takes FIELD=VALUE, e.g. --set shock=0.1, got {item!r}")
        if key not in _FIELDS:
            close = difflib.get_close_matches(key, list(_FIELDS), n=1)
            hint = (f"did you mean {close[0]!r}?" if close
                    else f"the fields are {', '.join(_FIELDS)}")
            raise ValueError(f"--set {key}: {key!r} is not a scenario field; {hint}")
        try:
            changes[key] = _parse_value(key, value)
        except _Unreadable as exc:
            raise ValueError(f"--set {key}: cannot read {value!r} as a value for {key}: "
                             f"expected {exc}") from None
    return changes


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage mistake is one line like every other error."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="marginloops",
        description="Run a margin-call cascade and print what happens, round by round.",
        epilog="Presets: " + ", ".join(PRESETS) + ". A scenario file may give only the fields "
        'it changes, and a "preset" key to start from: {"preset": "thin-book", "shock": 0.1}.')
    src = p.add_mutually_exclusive_group()
    src.add_argument("--preset", "-p", default="crowded-longs",
                     help="a named scenario (default: crowded-longs)")
    src.add_argument("--scenario", "-s", metavar="FILE", help="a scenario saved as JSON")
    p.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                   help="change one field, e.g. --set shock=0.1 (or shock=10%%) "
                   "--set leverage_mix=10:0.5,50:0.5 "
                   "--set mmr_tiers=0:0.004,50000:0.005,250000:0.01 --set breaker_move=0.05 "
                   "--set breaker_move=none --set index_venues=2e6:1,1e6:1 "
                   "--set price_source=mark --set arbitrage=25%%")
    p.add_argument("--save", metavar="FILE", help="also save the scenario used as JSON")
    p.add_argument("--list", action="store_true", help="list the presets and exit")
    return p


def header(scenario: Scenario, start: float, open_units: float | None = None) -> str:
    """The line that opens a run: the scenario's name and the figures that set it up.

    ``open_units``: the open interest in asset units (the round table's "open int. (units)"
    column), shown with its notional so that the two figures read as one. Without it, the
    notional alone.
    """
    if scenario.n_positions:
        held = f"{money(scenario.open_interest)} open"
        if open_units is not None:
            held = f"{units(open_units)} open, {money(scenario.open_interest)} at the mid"
        who = (f"{number(scenario.n_positions, 0)} position"
               f"{'' if scenario.n_positions == 1 else 's'}, {held}")
    else:
        who = "no leveraged positions"
    side = "bid" if scenario.direction == "down" else "ask"
    return (f"Scenario: {scenario.name}  ({who}, 1% depth {money(scenario.depth_1pct)}, "
            f"shock {fraction_text(scenario.shock)} {scenario.direction}; "
            f"mid {number(scenario.price)}, the run starts at the best {side} {number(start)})")


#: A mechanism's other settings, shown with it when it is on, even at their defaults: they
#: decide what the mechanism does (a breaker halts for ``breaker_rounds`` and the book recovers
#: ``recovery`` of its consumed depth meanwhile).
#: Read from the mechanisms' declarations: a mechanism's first parameter switches it on, its
#: other parameters and its ``companions`` go with it.
_COMPANIONS = {m.params[0].name: tuple(p.name for p in m.params[1:]) + m.companions
               for m in MECHANISMS if len(m.params) > 1 or m.companions}
_COMPANIONS["resilience"] = ("refill_at",)


def _setting_text(name: str, value) -> str:
    if name in FRACTION_FIELDS:
        return f"{name} {fraction_text(value)}"
    return f"{name} {number(value, 0) if isinstance(value, int) else value}"


def settings_line(scenario: Scenario) -> str:
    """Every setting of ``scenario`` that differs from the preset it came from (from the
    defaults, ``Scenario()``, for a scenario of no preset), mechanisms included; then, for
    each mechanism switched on, its other settings that were left as they were.

    >>> s = Scenario.preset("crowded-longs").variant(breaker_move=0.02)
    >>> print(settings_line(s))  # doctest: +NORMALIZE_WHITESPACE
    Settings changed from the preset crowded-longs: breaker_move 2.0% (with breaker_rounds 2,
    breaker_reference round, recovery 50.0% as they were).
    >>> print(settings_line(Scenario.preset("thin-book")))
    Settings: the preset thin-book, unchanged.
    """
    origin = scenario.name.removesuffix(" (changed)")
    base = PRESETS.get(origin)
    where = f"the preset {origin}" if base is not None else "the defaults"
    if base is None:
        base = Scenario()
    diff = describe_changes(base, scenario)
    if not diff:
        return f"Settings: {where}, unchanged."
    changed = {f for f in _FIELDS if getattr(scenario, f) != getattr(base, f)}
    kept = []
    for mechanism, others in _COMPANIONS.items():
        if mechanism in changed and getattr(scenario, mechanism) not in (None, False, 0, 0.0):
            kept += [o for o in others if o not in changed and o not in kept]
    with_kept = (f" (with {', '.join(_setting_text(o, getattr(scenario, o)) for o in kept)} "
                 f"as they were)") if kept else ""
    return f"Settings changed from {where}: {diff}{with_kept}."


def _one_line(exc) -> str:
    return " ".join(str(exc).split())


def main(argv=None) -> int:
    """Run the command line; return the exit status (0, or 2 for a bad input)."""
    try:
        return _main(argv)
    except BrokenPipeError:
        # The reader went away (``| head``): stop quietly, as the Python docs recommend
        # (https://docs.python.org/3/library/signal.html#note-on-sigpipe): point stdout at
        # devnull so that the interpreter's final flush does not fail a second time.
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        except (OSError, ValueError):  # stdout is not a real file (a test's capture)
            pass
        return 1


def _main(argv) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["lending"]:
        return _lending_main(argv[1:])
    if argv[:1] == ["sweep"]:
        return _sweep_main(argv[1:])
    if argv[:1] == ["links"]:  # nbgitpuller and Binder links for a course (marginloops.links)
        from .links import main as links_main

        return links_main(argv[1:])
    if argv[:1] == ["start-servers"]:  # a class's servers before the lesson (marginloops.hubstart)
        from .hubstart import main as start_main

        try:
            return start_main(argv[1:])
        except SystemExit as stop:  # --help, or a usage mistake already reported
            return stop.code if isinstance(stop.code, int) else 2
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as stop:  # --help, or a usage mistake already reported
        return stop.code if isinstance(stop.code, int) else 2
    out = sys.stdout
    if args.list:
        for name, sc in PRESETS.items():
            out.write(f"{name}\n{textwrap.indent(textwrap.fill(sc.description, 76), '    ')}\n")
        out.flush()
        return 0
    try:
        if args.scenario is not None and not args.scenario.strip():
            raise ValueError("--scenario needs a file name, got an empty one")
        if args.save is not None and not args.save.strip():
            raise ValueError("--save needs a file name, got an empty one")
        if args.scenario is not None:
            scenario = Scenario.load(args.scenario)
        else:
            scenario = Scenario.preset(args.preset)
        changes = _changes(args.set)
        if changes:
            scenario = scenario.variant(**changes)
        if args.save is not None:
            try:
                scenario.save(args.save)
            except OSError as exc:
                raise ValueError(f"cannot save the scenario to {args.save!r}: "
                                 f"{exc.strerror or exc}") from None
        history = scenario.cascade().run()
    except (ValueError, TypeError, OSError) as exc:
        sys.stderr.write(f"marginloops: error: {_one_line(exc)}\n")
        return 2
    # round 0 is the shock alone: its open interest is the market's before any liquidation
    out.write(header(scenario, history[0].price_before, history[0].open_interest) + "\n")
    out.write(textwrap.fill(settings_line(scenario), 100, subsequent_indent="  ") + "\n\n")
    out.write(round_table(history) + "\n\n")
    for line in narrate_history(history):
        out.write(textwrap.fill(line, 100) + "\n")
    out.flush()
    return 0


# ---------------------------------------------------------------------------------- lending
_LENDING_FIELDS = {f.name: f for f in dataclasses.fields(LendingScenario)}
_LENDING_TEXT = ("name", "description", "venue", "oracle")
_LENDING_WHOLE = ("n_accounts", "heartbeat", "max_rounds", "seed")
_LENDING_FRACTIONS = ("shock", "protocol_fee", "close_factor", "pool_fee", "deviation",
                      "liquidation_threshold")


def build_lending_parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="marginloops lending",
        description="Run a DeFi lending liquidation cascade (Aave v3.3 rules, liquidators "
        "selling on a pool or a book, an oracle) and print what happens, round by round.",
        epilog="Presets: " + ", ".join(LENDING_PRESETS) + ". Fractions may be written as "
        "percentages: --shock 10%%.")
    p.add_argument("--preset", "-p", default="eth-pool",
                   help="a named lending market (default: eth-pool)")
    p.add_argument("--list", action="store_true", help="list the presets and exit")
    for name in _LENDING_FIELDS:
        if name in ("name", "description"):
            continue
        default = getattr(LENDING_PRESETS["eth-pool"], name)
        p.add_argument(f"--{name}", dest=name, metavar="VALUE", default=None,
                       help=f"(eth-pool: {default})")
    return p


def _lending_value(name, text):
    if name in _LENDING_TEXT:
        return text.strip()
    try:
        return _read_number(text, fraction=name in _LENDING_FRACTIONS,
                            whole=name in _LENDING_WHOLE)
    except _Unreadable as exc:
        raise ValueError(f"--{name}: cannot read {text!r}: expected {exc}") from None


def _lending_main(argv) -> int:
    try:
        args = build_lending_parser().parse_args(argv)
    except SystemExit as stop:
        return stop.code if isinstance(stop.code, int) else 2
    out = sys.stdout
    if args.list:
        for name, sc in LENDING_PRESETS.items():
            out.write(f"{name}\n{textwrap.indent(textwrap.fill(sc.description, 76), '    ')}\n")
        out.flush()
        return 0
    try:
        scenario = LendingScenario.preset(args.preset)
        changes = {name: _lending_value(name, getattr(args, name)) for name in _LENDING_FIELDS
                   if name not in ("name", "description") and getattr(args, name) is not None}
        if changes:
            scenario = scenario.replace(name=f"{scenario.name} (changed)", **changes)
        history = LendingCascade(scenario).run()
    except (ValueError, TypeError) as exc:
        sys.stderr.write(f"marginloops: error: {_one_line(exc)}\n")
        return 2
    out.write(f"{scenario.name}\n")
    out.write(textwrap.fill(scenario.describe(), 100) + "\n\n")
    out.write(lending_table(history) + "\n\n")
    for rec in history:
        out.write(textwrap.fill(narrate_lending(rec), 100) + "\n")
    out.write("\n" + textwrap.fill(narrate_lending_end(history), 100) + "\n")
    out.flush()
    return 0


# ------------------------------------------------------------------------------------ sweep
#: Most values one --grid may give, and most runs one sweep may ask for.
MAX_GRID_VALUES = 100_000
MAX_RUNS = 10_000_000


def build_sweep_parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="marginloops sweep",
        description="Run a scenario's cascade for every combination of some fields' values "
        "(and several seeds) and write one row per run as CSV: the fields, the seed and the "
        "measures.",
        epilog="Example: marginloops sweep --preset crowded-longs --grid depth_1pct=1e6:8e6:20 "
        "--grid shock=1%%:10%%:20 --seeds 3 --workers 2 --out sweep.csv. Measures: "
        + ", ".join(MEASURES) + ". Ctrl-C stops the sweep and writes the rows done.")
    src = p.add_mutually_exclusive_group()
    src.add_argument("--preset", "-p", default="crowded-longs",
                     help="a named scenario (default: crowded-longs)")
    src.add_argument("--scenario", "-s", metavar="FILE", help="a scenario saved as JSON")
    p.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                   help="change one field of the base scenario, as in a run (--set mmr=0.01)")
    p.add_argument("--grid", "-g", action="append", default=[], metavar="FIELD=VALUES",
                   help="a field and its values: A:B:N (N values evenly from A to B, both "
                   "included) or V1,V2,... (percentages for fractions: shock=1%%:10%%:10); "
                   "several --grid give their product, the first slowest")
    p.add_argument("--seeds", default="1", metavar="N",
                   help="runs per cell, seeds seed, seed+1, ... (default 1)")
    p.add_argument("--measures", "-m", default=",".join(DEFAULT_MEASURES), metavar="M1,M2",
                   help="what to measure (default: " + ",".join(DEFAULT_MEASURES) + ")")
    p.add_argument("--workers", "-w", default="1", metavar="N",
                   help="worker processes (default 1: in this process)")
    p.add_argument("--out", "-o", metavar="FILE", help="write the CSV here (default: stdout)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    return p


def _whole_arg(flag, text, lo, hi) -> int:
    t = text.strip()
    if not _WHOLE.fullmatch(t) or not lo <= int(t) <= hi:
        raise ValueError(f"{flag} must be a whole number in [{lo:,}, {hi:,}], got {text!r}")
    return int(t)


def _grid_values(field, spec) -> list:
    """The values ``A:B:N`` or ``V1,V2,...`` give field ``field`` (``--grid field=spec``)."""
    what = f"--grid {field}"
    if field in _PAIRS:
        raise ValueError(f"{what}: a field of pairs cannot be swept from the command line (its "
                         f"values hold ':' and ','); sweep it from Python with a list of cells")
    kind = str(_FIELDS[field].type)
    param = _DECLARED.get(field)
    whole = kind.startswith("int") or (param is not None and param.kind == "whole")
    numeric = whole or kind.startswith("float") or (
        param is not None and param.kind in ("number", "whole"))
    fraction = field in FRACTION_FIELDS
    parts = spec.split(":")
    if len(parts) == 3 and "," not in spec:
        if not numeric:
            raise ValueError(f"{what}: A:B:N needs a number field; give {field}'s values as "
                             f"V1,V2,..., got {spec!r}")
        try:
            a, b = (_read_number(x, fraction=fraction) for x in parts[:2])
        except _Unreadable as exc:
            raise ValueError(f"{what}: cannot read {spec!r} as A:B:N: A and B must be {exc}") \
                from None
        n = parts[2].strip()
        if not _WHOLE.fullmatch(n) or not 1 <= int(n) <= MAX_GRID_VALUES:
            raise ValueError(f"{what}: N in A:B:N must be a whole number in [1, "
                             f"{MAX_GRID_VALUES:,}], got {parts[2]!r}")
        n = int(n)
        # Each value to 12 significant digits, so that 1%:10%:3 gives 0.055, not the
        # 0.05500000000000001 of floating-point steps (the table and the CSV show what was meant).
        values = [float(f"{a + (b - a) * i / (n - 1):.12g}") for i in range(n)] if n > 1 \
            else [a]
        if n > 1:
            values[0], values[-1] = a, b  # exactly A and B
        if whole:
            if any(not float(v).is_integer() for v in values):
                raise ValueError(f"{what}: {spec!r} gives values that are not whole numbers "
                                 f"(e.g. {next(v for v in values if not float(v).is_integer()):g}"
                                 f"); choose A, B and N so that the steps are whole")
            values = [int(v) for v in values]
        return values
    items = spec.split(",")
    if len(items) > MAX_GRID_VALUES:
        raise ValueError(f"{what}: at most {MAX_GRID_VALUES:,} values, got {len(items):,}")
    values = []
    for item in items:
        try:
            values.append(_parse_value(field, item))
        except _Unreadable as exc:
            raise ValueError(f"{what}: cannot read {item!r} as a value for {field}: expected "
                             f"{exc} (values as A:B:N or V1,V2,...)") from None
    return values


def _grid(items) -> dict:
    if not items:
        raise ValueError("give at least one --grid FIELD=VALUES, e.g. --grid shock=1%:10%:10")
    grid = {}
    for item in items:
        key, sep, spec = item.partition("=")
        key = key.strip()
        if not sep or not spec.strip():
            raise ValueError(f"--grid takes FIELD=VALUES (A:B:N or V1,V2,...), e.g. --grid "
                             f"shock=0.01:0.1:10, got {item!r}")
        if key not in _FIELDS or key in ("name", "description"):
            close = difflib.get_close_matches(key, list(_FIELDS), n=1)
            hint = f"did you mean {close[0]!r}?" if close else "see the scenario's fields"
            raise ValueError(f"--grid {key}: {key!r} is not a scenario field to sweep; {hint}")
        if key in grid:
            raise ValueError(f"--grid {key} is given twice; give its values once")
        grid[key] = _grid_values(key, spec)
    return grid


def _sweep_main(argv) -> int:
    try:
        args = build_sweep_parser().parse_args(argv)
    except SystemExit as stop:
        return stop.code if isinstance(stop.code, int) else 2
    try:
        if args.scenario is not None and not args.scenario.strip():
            raise ValueError("--scenario needs a file name, got an empty one")
        if args.out is not None and not args.out.strip():
            raise ValueError("--out needs a file name, got an empty one")
        scenario = (Scenario.load(args.scenario) if args.scenario is not None
                    else Scenario.preset(args.preset))
        changes = _changes(args.set)
        if changes:
            scenario = scenario.variant(**changes)
        grid = _grid(args.grid)
        seeds = _whole_arg("--seeds", args.seeds, 1, 10_000)
        workers = _whole_arg("--workers", args.workers, 1, 256)
        measures = [m.strip() for m in args.measures.split(",")]
        runs = seeds
        for values in grid.values():
            runs *= len(values)
        if runs > MAX_RUNS:
            raise ValueError(f"the sweep asks for {runs:,} runs; at most {MAX_RUNS:,} (fewer "
                             "values or seeds)")
        # Every argument checked (and the first cell built) before any work starts.
        first = {k: v[0] for k, v in grid.items()}
        sweep(scenario, [first], measures=measures, seeds=1, progress=False)
    except (ValueError, TypeError, OSError) as exc:
        sys.stderr.write(f"marginloops: error: {_one_line(exc)}\n")
        return 2
    try:
        if workers == 1:
            result = sweep(scenario, grid, measures=measures, seeds=seeds,
                           progress=not args.no_progress)
        else:
            pool = process_pool(workers)
            try:
                result = sweep(scenario, grid, measures=measures, seeds=seeds, executor=pool,
                               progress=not args.no_progress)
            finally:
                pool.shutdown(wait=True, cancel_futures=True)
    except ValueError as exc:  # a cell whose fields conflict
        sys.stderr.write(f"marginloops: error: {_one_line(exc)}\n")
        return 2
    except KeyboardInterrupt:  # before the sweep had started (the pool was starting)
        sys.stderr.write("marginloops: interrupted before any run finished; nothing written\n")
        return 130
    try:
        if args.out is None:
            sys.stdout.write(result.to_csv())
            sys.stdout.flush()
        else:
            result.to_csv(args.out)
    except OSError as exc:
        sys.stderr.write(f"marginloops: error: cannot write {args.out!r}: "
                         f"{exc.strerror or exc}\n")
        return 2
    where = "" if args.out is None else f" to {args.out}"
    if result.interrupted:
        sys.stderr.write(f"marginloops: interrupted: wrote the {len(result):,} of "
                         f"{result.expected:,} runs done{where}\n")
        return 130
    if args.out is not None:
        sys.stderr.write(f"marginloops: wrote {len(result):,} runs{where}\n")
    return 0
