"""Command line: run a preset or a JSON scenario and print the round-by-round table and story.

``python -m marginloops --preset crowded-longs`` or ``marginloops --scenario my.json``.
Every bad input is one line, ``marginloops: error: ...``, and exit status 2.

``python -m marginloops lending --preset eth-pool --shock 0.1 --oracle push`` runs a lending
cascade (:mod:`marginloops.lending`) the same way: any field of
:class:`~marginloops.lending.LendingScenario` as ``--field value``.
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
