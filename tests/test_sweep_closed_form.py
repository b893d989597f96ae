"""The phase diagram of a flat book against the closed form, and properties of any sweep.

The closed form (lesson 4; Brunnermeier-Pedersen-style geometric series): on a flat book of
``D`` units per dollar with ``n`` units of liquidations per dollar spread evenly below the price,
each round's drop is ``n/D`` times the one before, so a shock's fall ``s`` becomes
``s / (1 - n/D)`` in total when ``n/D < 1`` (while the fall stays inside the band of
liquidation prices), and the loop runs through the whole band when ``n/D >= 1``. Expected
values are worked out here from that formula, not taken from the package.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from marginloops import FlatBandScenario, Scenario, sweep

RATIOS = [0.1, 0.3, 0.5, 0.7, 0.8, 0.9, 0.95, 1.05, 1.1, 1.5, 2.0, 2.5]
SHOCKS = [0.01, 0.02, 0.05]
BAND = 0.3


@pytest.fixture(scope="module")
def phase():
    return sweep(FlatBandScenario(ratio=0.5, band=BAND), {"ratio": RATIOS, "shock": SHOCKS},
                 measures=["amplification", "fall", "liquidated", "end_reason"],
                 progress=False)


def test_below_one_the_amplification_is_one_over_one_minus_the_ratio(phase):
    checked = 0
    for row in phase:
        r, s = row["ratio"], row["shock"]
        if r >= 1:
            continue
        closed = 1.0 / (1.0 - r)
        if s * closed > 0.85 * BAND:  # the series would leave the band: not the closed form's
            continue
        assert row["amplification"] == pytest.approx(closed, rel=0.05), row
        assert row["fall"] == pytest.approx(s * closed, rel=0.05), row
        # one position per cent of the band: the fall in cents is the number liquidated
        assert abs(row["liquidated"] - row["fall"] * 100 / 0.01) <= 1, row
        checked += 1
    assert checked >= 15  # most of the cells below 1 are inside the band


def test_above_one_the_loop_runs_through_the_whole_band(phase):
    above = [row for row in phase if row["ratio"] > 1]
    assert len(above) == 15
    for row in above:
        assert row["fall"] >= BAND, row          # the price fell through the band's end
        assert row["liquidated"] == 3000, row    # every position of the band (30 USD / 1 cent)
        assert row["amplification"] == pytest.approx(row["fall"] / row["shock"], rel=0.01)


def test_the_heat_map_shows_the_boundary_at_one(phase):
    xs, ys, fall = phase.grid2d("ratio", "shock", "fall")
    assert xs == RATIOS and ys == SHOCKS and fall.shape == (3, 12)
    ran_away = fall >= BAND
    for j, s in enumerate(ys):
        # every ratio above 1 runs away; below 1 only where s / (1 - r) reaches the band
        for i, r in enumerate(xs):
            if r > 1:
                assert ran_away[j, i]
            elif s / (1 - r) < 0.85 * BAND:
                assert not ran_away[j, i]
    # at the smallest shock the first runaway ratio is the first one above 1
    first = xs[int(np.argmax(ran_away[0]))]
    assert first == 1.05


# --------------------------------------------------------------------------- properties
FAST = FlatBandScenario(ratio=0.5, tick=0.1)  # 300 positions: a run is a few milliseconds


def _by_hand(scenario):
    h = scenario.cascade().run()
    p0, p1 = h[0].price_before, h[-1].price_after
    return (p0 - p1) / p0, sum(r.n_closed for r in h), h[-1].end_reason


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ratios=st.lists(st.sampled_from([0.2, 0.5, 0.8, 1.2, 2.0]), min_size=1, max_size=3,
                       unique=True),
       shocks=st.lists(st.sampled_from([0.01, 0.03, 0.06]), min_size=1, max_size=2,
                       unique=True),
       chunksize=st.integers(1, 5))
def test_any_grid_gives_rows_in_grid_order_each_the_direct_run(ratios, shocks, chunksize):
    r = sweep(FAST, {"ratio": ratios, "shock": shocks}, measures=["fall", "liquidated",
                                                                  "end_reason"],
              progress=False, chunksize=chunksize)
    want_cells = [(a, b) for a in ratios for b in shocks]
    assert [(row["ratio"], row["shock"]) for row in r] == want_cells
    assert [row["cell"] for row in r] == list(range(len(want_cells)))
    for row in r:
        fall, liquidated, end = _by_hand(dataclasses.replace(FAST, ratio=row["ratio"],
                                                             shock=row["shock"]))
        assert row["fall"] == pytest.approx(fall, rel=1e-12)
        assert (row["liquidated"], row["end_reason"]) == (liquidated, end)


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32 - 10), k=st.integers(1, 3))
def test_the_same_seeds_give_the_same_table(seed, k):
    base = Scenario(n_positions=150, open_interest=1_500_000.0, depth_1pct=300_000.0,
                    seed=seed)
    grid = {"shock": [0.03, 0.08]}
    a = sweep(base, grid, seeds=k, progress=False)
    b = sweep(base, grid, seeds=[seed + i for i in range(k)], progress=False, chunksize=1)
    assert a.to_csv() == b.to_csv()
    assert [row["seed"] for row in a] == [seed + i for _ in range(2) for i in range(k)]
