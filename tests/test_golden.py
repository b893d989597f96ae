"""Earlier results must not drift: replay the golden runs and compare every stored field.

``tests/golden/histories.json`` was written by ``tests/golden/make_golden.py`` before issue 11
reshaped the engine (on 1ce59ff; its runs from before issue 9 were checked equal, bit for bit,
to the file written then on e3ee745). It holds every preset alone and under every mechanism
alone, every case study, and the older combinations. Numbers are compared to 1e-9 relative
(NaN equal to NaN); fields added since are not in it and are not compared; a change that alters
a stored number must say so in its issue and regenerate the file.
"""

import importlib.util
import json
import math
from pathlib import Path

import pytest

GOLDEN = Path(__file__).parent / "golden"
STORED = json.loads((GOLDEN / "histories.json").read_text())
REL = 1e-9

_spec = importlib.util.spec_from_file_location("make_golden", GOLDEN / "make_golden.py")
make_golden = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(make_golden)
SCENARIOS = dict(make_golden.golden_scenarios())


def test_every_golden_run_is_still_defined():
    assert set(SCENARIOS) == set(STORED)


def test_the_record_covers_every_preset_mechanism_and_case():
    from marginloops.cases import CASES
    from marginloops.scenarios import PRESETS

    for name in PRESETS:
        assert name in STORED
        for m in make_golden.MECHANISMS:
            assert f"{name} / {m}" in STORED
    for key in CASES:
        assert f"case {key}" in STORED


def same(got, was) -> bool:
    """Equal, or both floats within 1e-9 relative (NaN equal to NaN)."""
    if isinstance(was, bool) or isinstance(got, bool) or not isinstance(was, (int, float)):
        return got == was
    if not isinstance(got, (int, float)):
        return False
    if math.isnan(was) or math.isnan(got):
        return math.isnan(was) and math.isnan(got)
    return math.isclose(got, was, rel_tol=REL, abs_tol=0.0) or got == was


def differences(key, now, old) -> list[str]:
    """Every stored field whose value changed, as readable lines."""
    if len(now) != len(old):
        return [f"{key}: {len(now)} rounds, was {len(old)}"]
    out = []
    for k, (a, b) in enumerate(zip(now, old, strict=True)):
        for name, was in b.items():
            got = a.get(name, "<gone>")
            if isinstance(was, dict):  # an array's summary; the hash is not compared
                if not isinstance(got, dict):
                    out.append(f"{key} round {k}: {name} is {got!r}, was an array")
                    continue
                bad = [p for p, w in was.items() if p != "sha256" and not same(got.get(p), w)]
                if bad:
                    now_, old_ = {p: got.get(p) for p in bad}, {p: was[p] for p in bad}
                    out.append(f"{key} round {k}: {name} changed in {bad}: {now_}, was {old_}")
            elif not same(got, was):
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


def test_the_tolerance_is_one_in_a_billion():
    """2e-9 relative is a change, 0.5e-9 is not; an array's consumed levels count too."""
    key = "crowded-longs / adl"
    rec = STORED[key][1]
    moved = dict(rec, price_after=rec["price_after"] * (1 + 2e-9))
    assert differences(key, [moved], [rec])
    assert not differences(key, [dict(rec, price_after=rec["price_after"] * (1 + 5e-10))], [rec])
    arr = dict(rec["book_qty"], sum=rec["book_qty"]["sum"] * (1 + 1e-6))
    assert differences(key, [dict(rec, book_qty=arr)], [rec])
    assert differences(key, [dict(rec, adl_qty=rec["adl_qty"] + 1.0)], [rec])
