"""Write ``histories.json``: every record of a set of runs, as the golden histories.

Run from the project root with the commit whose results are to be kept:
``python tests/golden/make_golden.py``. ``tests/test_golden.py`` replays the same runs and
checks that every field stored here is unchanged to 1e-9 relative (fields added later are not
compared).

The runs (issue 11): every preset alone; every preset under every mechanism, each alone
(:data:`MECHANISMS`); every case study (:data:`marginloops.cases.CASES`); and the combinations
and edge cases recorded before issue 9. Arrays (the book levels a round's order consumed) are
stored as their length, sum, index-weighted sum, first and last element and a sha256 of their
bytes: the numbers are compared to 1e-9 relative, the hash is only shown when they differ.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).parent

#: Each mechanism alone, as the Scenario fields that switch it on.
MECHANISMS = {
    "tiers": "mmr_tiers",
    "partial fraction": dict(partial="fraction"),
    "partial restore": dict(partial="restore"),
    "fee 1%": dict(liquidation_fee=0.01),
    "breaker 2%": dict(breaker_move=0.02),
    "breaker start": dict(breaker_move=0.03, breaker_reference="start"),
    "call auction": dict(call_auction=True),
    "dynamic margin x2": dict(dynamic_margin=2.0),
    "resilience touch": dict(resilience=0.3),
    "resilience levels": dict(resilience=0.3, refill_at="levels"),
    "withdrawal": dict(withdrawal=0.5),
    "adl": dict(adl=True),
    "insurance fund": dict(insurance_fund=100_000.0),
}


def _mechanism(name):
    from marginloops.tiers import BINANCE_STYLE_TIERS

    v = MECHANISMS[name]
    return dict(mmr_tiers=BINANCE_STYLE_TIERS.brackets) if v == "mmr_tiers" else v


def golden_scenarios():
    """(key, Scenario) pairs."""
    from marginloops.cases import CASES
    from marginloops.scenarios import PRESETS
    from marginloops.tiers import BINANCE_STYLE_TIERS

    crowded = PRESETS["crowded-longs"]
    calm = PRESETS["calm-market"]
    out = [(name, s) for name, s in PRESETS.items()]
    out += [(f"{name} / {m}", s.replace(**_mechanism(m)))
            for name, s in PRESETS.items() for m in MECHANISMS]
    out += [(f"case {key}", case.scenario) for key, case in CASES.items()]
    # Recorded before issue 9 (combinations and edge cases).
    out += [(f"thin-book seed {k}", PRESETS["thin-book"].replace(seed=k)) for k in (1, 2)]
    variants = {
        "tiers": dict(mmr_tiers=BINANCE_STYLE_TIERS.brackets),
        "partial fraction": dict(partial="fraction"),
        "partial restore": dict(partial="restore"),
        "fee 1%": dict(liquidation_fee=0.01),
        "breaker 2%": dict(breaker_move=0.02),
        "breaker start": dict(breaker_move=0.03, breaker_reference="start", recovery=0.2),
        "call auction": dict(call_auction=True),
        "call auction no recovery": dict(call_auction=True, recovery=0.0),
        "dynamic margin x2": dict(dynamic_margin=2.0),
        "resilience touch": dict(resilience=0.3),
        "resilience levels": dict(resilience=0.3, refill_at="levels"),
        "withdrawal": dict(withdrawal=0.5),
        "growing book": dict(book_shape="growing"),
        "partial + dynamic": dict(partial="restore", dynamic_margin=1.0),
        "adl + partial + fee": dict(adl=True, partial="restore", liquidation_fee=0.01),
    }
    out += [(f"crowded-longs {k}", crowded.replace(**v)) for k, v in variants.items()]
    out += [("short-squeeze partial", PRESETS["short-squeeze"].replace(partial="fraction")),
            ("calm-market halted", calm.replace(breaker_move=0.005, breaker_rounds=3,
                                                breaker_reference="start", depth_1pct=50000.0)),
            ("no positions", crowded.replace(n_positions=0)),
            ("99% shock", crowded.replace(shock=0.99))]
    return out


def array_summary(v) -> dict:
    """An array as numbers that compare to a tolerance, and its exact hash."""
    a = np.ascontiguousarray(v, dtype=np.float64)
    return {"len": int(a.size), "sum": float(a.sum()),
            "weighted": float((a * np.arange(1, a.size + 1)).sum()),
            "first": float(a[0]) if a.size else None, "last": float(a[-1]) if a.size else None,
            "sha256": hashlib.sha256(a.tobytes()).hexdigest()}


def record_dict(rec) -> dict:
    out = {}
    for f in dataclasses.fields(rec):
        v = getattr(rec, f.name)
        if isinstance(v, np.ndarray):
            out[f.name] = array_summary(v)
        elif isinstance(v, (np.integer, np.floating, np.bool_)):
            out[f.name] = v.item()
        else:
            out[f.name] = v
    return out


def histories() -> dict:
    return {key: [record_dict(r) for r in s.cascade().run()] for key, s in golden_scenarios()}


if __name__ == "__main__":
    sys.path.insert(0, str(HERE.parents[1]))
    (HERE / "histories.json").write_text(json.dumps(histories(), indent=0) + "\n")
