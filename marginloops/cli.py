"""Command line: run a preset or a JSON scenario and print the round-by-round table and story.

``python -m marginloops --preset crowded-longs`` or ``marginloops --scenario my.json``.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import textwrap

from .narration import money, narrate_history, round_table
from .scenarios import PRESETS, Scenario


def _parse_value(field, text):
    if field.name in ("leverage_mix", "mmr_tiers"):
        pairs = [p.split(":") for p in text.split(",")]
        return tuple((float(a), float(b)) for a, b in pairs)
    if "None" in str(field.type) and text.lower() == "none":
        return None
    kind = str(field.type).split(" ")[0]
    if kind == "bool":
        if text.lower() not in ("true", "false"):
            raise ValueError(text)
        return text.lower() == "true"
    return {"int": int, "float": float}.get(kind, str)(text)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="marginloops",
        description="Run a margin-call cascade and print what happens, round by round.",
        epilog="Presets: " + ", ".join(PRESETS))
    src = p.add_mutually_exclusive_group()
    src.add_argument("--preset", "-p", default="crowded-longs",
                     help="a named scenario (default: crowded-longs)")
    src.add_argument("--scenario", "-s", metavar="FILE", help="a scenario saved as JSON")
    p.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                   help="change one field, e.g. --set shock=0.1 --set leverage_mix=10:0.5,50:0.5 "
                   "--set mmr_tiers=0:0.004,50000:0.005,250000:0.01 --set breaker_move=0.05")
    p.add_argument("--save", metavar="FILE", help="also save the scenario used as JSON")
    p.add_argument("--list", action="store_true", help="list the presets and exit")
    return p


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    out = sys.stdout
    if args.list:
        for name, sc in PRESETS.items():
            out.write(f"{name}\n{textwrap.indent(textwrap.fill(sc.description, 76), '    ')}\n")
        return 0
    try:
        scenario = Scenario.load(args.scenario) if args.scenario else Scenario.preset(args.preset)
        fields = {f.name: f for f in dataclasses.fields(Scenario)}
        changes = {}
        for item in args.set:
            key, sep, value = item.partition("=")
            if not sep or key not in fields:
                raise ValueError(f"--set takes FIELD=VALUE with FIELD one of {sorted(fields)}, "
                                 f"got {item!r}")
            try:
                changes[key] = _parse_value(fields[key], value)
            except ValueError:
                raise ValueError(f"--set {key}: cannot read {value!r} as a value for "
                                 f"{key}") from None
        scenario = scenario.replace(**changes)
        if args.save:
            scenario.save(args.save)
        history = scenario.cascade().run()
    except (ValueError, OSError) as exc:
        sys.stderr.write(f"marginloops: error: {exc}\n")
        return 2
    start = history[0].price_before
    out.write(f"Scenario: {scenario.name}  ({scenario.n_positions:,} positions, "
              f"{money(scenario.open_interest)} open, 1% depth {money(scenario.depth_1pct)}, "
              f"shock {scenario.shock:.1%} {scenario.direction}; mid {scenario.price:,.2f}, "
              f"the run starts at the best {'bid' if scenario.direction == 'down' else 'ask'} "
              f"{start:,.2f})\n\n")
    out.write(round_table(history) + "\n\n")
    for line in narrate_history(history):
        out.write(textwrap.fill(line, 100) + "\n")
    return 0
