"""Write ``histories.json``: every record of a set of runs, bit for bit, as the golden histories.

Run from the project root with the commit whose results are to be kept:
``python tests/golden/make_golden.py``. ``tests/test_golden.py`` replays the same runs and
checks that every field stored here is unchanged (fields added later are not compared).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).parent


def golden_scenarios():
    """(key, Scenario) pairs: the presets, and crowded-longs under each mechanism but ADL
    (issue 9 changed auto-deleveraging on purpose)."""
    from marginloops.scenarios import PRESETS
    from marginloops.tiers import BINANCE_STYLE_TIERS

    crowded = PRESETS["crowded-longs"]
    calm = PRESETS["calm-market"]
    out = [(name, s) for name, s in PRESETS.items()]
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
    }
    out += [(f"crowded-longs {k}", crowded.replace(**v)) for k, v in variants.items()]
    out += [("short-squeeze partial", PRESETS["short-squeeze"].replace(partial="fraction")),
            ("calm-market halted", calm.replace(breaker_move=0.005, breaker_rounds=3,
                                                breaker_reference="start", depth_1pct=50000.0)),
            ("no positions", crowded.replace(n_positions=0)),
            ("99% shock", crowded.replace(shock=0.99))]
    return out


def record_dict(rec) -> dict:
    out = {}
    for f in dataclasses.fields(rec):
        v = getattr(rec, f.name)
        if isinstance(v, np.ndarray):
            out[f.name] = "sha256:" + hashlib.sha256(
                np.ascontiguousarray(v, dtype=np.float64).tobytes()).hexdigest()
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
