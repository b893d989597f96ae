"""Earlier results must not drift: replay the golden runs and compare every stored field.

``tests/golden/histories.json`` was written by ``tests/golden/make_golden.py`` on the commit
before issue 9 (e3ee745). Fields added since are not in it and are not compared; a change that
alters a stored number must say so in its issue and regenerate the file.
"""

import importlib.util
import json
import math
from pathlib import Path

import pytest

GOLDEN = Path(__file__).parent / "golden"
STORED = json.loads((GOLDEN / "histories.json").read_text())

_spec = importlib.util.spec_from_file_location("make_golden", GOLDEN / "make_golden.py")
make_golden = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(make_golden)
SCENARIOS = dict(make_golden.golden_scenarios())


def test_every_golden_run_is_still_defined():
    assert set(SCENARIOS) == set(STORED)


def differences(key, now, old) -> list[str]:
    """Every stored field whose value changed (NaN equal to NaN), as readable lines."""
    if len(now) != len(old):
        return [f"{key}: {len(now)} rounds, was {len(old)}"]
    out = []
    for k, (a, b) in enumerate(zip(now, old, strict=True)):
        for name, was in b.items():
            got = a.get(name, "<gone>")
            same = got == was or (isinstance(got, float) and isinstance(was, float)
                                  and math.isnan(got) and math.isnan(was))
            if not same:
                out.append(f"{key} round {k}: {name} is {got!r}, was {was!r}")
    return out


@pytest.mark.parametrize("key", sorted(STORED))
def test_history_is_unchanged(key):
    now = [make_golden.record_dict(r) for r in SCENARIOS[key].cascade().run()]
    assert differences(key, now, STORED[key]) == []


def test_the_golden_check_can_fail():
    """A changed number is caught: a shock of 3.1% instead of 3% is not the stored history."""
    key = "crowded-longs"
    changed = [make_golden.record_dict(r)
               for r in SCENARIOS[key].replace(shock=0.031).cascade().run()]
    assert differences(key, changed, STORED[key])
