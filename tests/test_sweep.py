"""marginloops.sweep in this process: grid order, seeds, measures against runs measured by hand,
the result's table, CSV and pandas, the heat-map grid, bad input, a cell's conflict, on_rows."""

from __future__ import annotations

import csv
import dataclasses
import io
import math
import re

import numpy as np
import pytest

import marginloops
from marginloops import (
    DEFAULT_MEASURES,
    MEASURES,
    FlatBandScenario,
    Scenario,
    SweepResult,
    sweep,
)

# Small populations keep each run to a millisecond or two.
SMALL = Scenario(n_positions=300, open_interest=3_000_000.0, depth_1pct=400_000.0, seed=7)


def by_hand(scenario):
    """Run a scenario directly and measure it from its history, not with the sweep's code."""
    c = scenario.cascade()
    h = c.run()
    p0, p1 = h[0].price_before, h[-1].price_after
    return {
        "fall": (p0 - p1) / p0 if scenario.direction == "down" else (p1 - p0) / p0,
        "amplification": (p1 - p0) / (h[0].price_after - p0),
        "rounds": len(h) - 1,
        "liquidated": sum(r.n_closed for r in h),
        "notional": sum(r.qty_liquidated * r.price_before for r in h),
        "bad_debt": h[-1].bad_debt,
        "end_reason": h[-1].end_reason,
    }


def test_the_package_exports_the_sweep_api():
    for name in ("sweep", "SweepResult", "MEASURES", "DEFAULT_MEASURES", "process_pool",
                 "FlatBandScenario"):
        assert name in marginloops.__all__
    assert "PhaseDiagramView" in marginloops._UI_NAMES
    assert DEFAULT_MEASURES == ("fall", "amplification", "rounds", "liquidated", "notional",
                                "bad_debt", "end_reason")
    assert set(DEFAULT_MEASURES) < set(MEASURES)
    assert {"crowding", "shock_fall"} < set(MEASURES)


def test_rows_come_in_product_order_first_field_slowest_then_seed():
    r = sweep(SMALL, {"depth_1pct": [3e5, 6e5], "shock": (0.03, 0.05, 0.08)}, seeds=2,
              measures=["rounds"], progress=False)
    assert isinstance(r, SweepResult)
    assert r.fields == ("depth_1pct", "shock")
    assert r.columns == ("cell", "depth_1pct", "shock", "seed", "rounds")
    assert r.expected == len(r) == 12 and r.complete and not r.interrupted
    got = [(row["cell"], row["depth_1pct"], row["shock"], row["seed"]) for row in r]
    want = [(0, 3e5, 0.03, 7), (0, 3e5, 0.03, 8), (1, 3e5, 0.05, 7), (1, 3e5, 0.05, 8),
            (2, 3e5, 0.08, 7), (2, 3e5, 0.08, 8), (3, 6e5, 0.03, 7), (3, 6e5, 0.03, 8),
            (4, 6e5, 0.05, 7), (4, 6e5, 0.05, 8), (5, 6e5, 0.08, 7), (5, 6e5, 0.08, 8)]
    assert got == want
    assert r.cell_changes(4) == {"depth_1pct": 6e5, "shock": 0.05}


def test_each_row_equals_the_run_measured_by_hand():
    grid = {"depth_1pct": [2e5, 8e5], "shock": [0.04, 0.1]}
    r = sweep(SMALL, grid, seeds=[3, 11], progress=False)
    assert r.columns == ("cell", "depth_1pct", "shock", "seed", *DEFAULT_MEASURES)
    assert len(r) == 8
    for row in r:
        s = dataclasses.replace(SMALL, depth_1pct=row["depth_1pct"], shock=row["shock"],
                                seed=row["seed"])
        want = by_hand(s)
        for name, value in want.items():
            if isinstance(value, str):
                assert row[name] == value
            else:
                assert row[name] == pytest.approx(value, rel=1e-12, abs=1e-9), name
    # the measures vary: the grid is not one run repeated
    assert len(set(r.column("fall"))) > 2


def test_a_squeeze_fall_is_measured_upwards():
    up = Scenario.preset("short-squeeze").replace(n_positions=300, open_interest=2_000_000.0)
    r = sweep(up, {"shock": [0.05]}, measures=["fall", "shock_fall"], progress=False)
    h = up.cascade().run()
    assert r.rows[0]["fall"] == pytest.approx(h[-1].price_after / h[0].price_before - 1)
    assert r.rows[0]["shock_fall"] == pytest.approx(h[0].price_after / h[0].price_before - 1)
    assert r.rows[0]["fall"] > 0


def test_seeds_one_reproduces_the_scenarios_own_run():
    r = sweep(SMALL, [{}], progress=False)
    assert r.fields == () and r.columns == ("cell", "seed", *DEFAULT_MEASURES)
    assert r.rows[0]["seed"] == 7
    assert r.rows[0]["fall"] == pytest.approx(by_hand(SMALL)["fall"], rel=1e-12)
    # seeds=k -> scenario.seed + i
    r3 = sweep(SMALL, [{}], seeds=3, measures=["liquidated"], progress=False)
    assert list(r3.column("seed")) == [7, 8, 9]
    assert r3.scenario_for(0).seed == 7 and r3.scenario_for(0, seed=9).seed == 9


def test_a_list_of_cells_and_the_base_values_of_fields_a_cell_does_not_change():
    cells = [{}, {"partial": "fraction"}, {"call_auction": True, "shock": 0.08}]
    r = sweep(SMALL, cells, measures=["rounds"], progress=False)
    assert r.fields == ("partial", "call_auction", "shock")
    assert [row["partial"] for row in r] == [None, "fraction", None]
    assert [row["call_auction"] for row in r] == [False, False, True]
    assert [row["shock"] for row in r] == [0.05, 0.05, 0.08]
    # the cell's fields, named and described as a change of the base (for an explorer's menu)
    opened = r.scenario_for(2)
    assert dataclasses.replace(opened, name=SMALL.name, description=SMALL.description) == \
        SMALL.replace(call_auction=True, shock=0.08)
    assert opened.description == "custom with shock 8.0%, call_auction true"
    preset = sweep(Scenario.preset("thin-book"), {"shock": [0.03, 0.06]}, measures=["rounds"],
                   progress=False)
    assert preset.scenario_for(0) is Scenario.preset("thin-book")
    assert preset.scenario_for(1).name == "thin-book (changed)"
    assert r.scenario_for(0) == SMALL
    for i, row in enumerate(r):
        assert row["rounds"] == len(r.scenario_for(i).cascade().run()) - 1


def test_numpy_values_become_python_numbers_and_ranges_are_accepted():
    r = sweep(SMALL, {"shock": np.array([0.03, 0.06]), "max_rounds": range(1, 3)},
              measures=["rounds"], progress=False)
    assert [type(row["shock"]) for row in r] == [float] * 4
    assert [row["max_rounds"] for row in r] == [1, 2, 1, 2]
    assert all(row["rounds"] <= row["max_rounds"] for row in r)


def test_custom_measures_as_a_dict_and_as_pairs():
    r = sweep(SMALL, {"shock": [0.05]}, measures={"last_price": _last_price}, progress=False)
    assert r.columns == ("cell", "shock", "seed", "last_price")
    assert r.rows[0]["last_price"] == SMALL.cascade().run()[-1].price_after
    r = sweep(SMALL, {"shock": [0.05]}, measures=["rounds", ("last_price", _last_price)],
              progress=False)
    assert r.measures == ("rounds", "last_price")


def _last_price(cascade, history):
    return history[-1].price_after


def test_crowding_is_the_analysis_ratio():
    r = sweep(SMALL, {"depth_1pct": [2e5, 8e5]}, measures=["crowding"], progress=False)
    for row in r:
        c = marginloops.crowding(SMALL.replace(depth_1pct=row["depth_1pct"]).cascade(), 0.05)
        assert row["crowding"] == c.ratio
    a, b = r.column("crowding")
    assert a == pytest.approx(4 * b, rel=0.01)  # a flat book: 4x the depth, a quarter the ratio


def test_flat_band_scenario_has_no_seed_column_and_matches_the_closed_form():
    r = sweep(FlatBandScenario(ratio=0.5), {"ratio": [0.2, 0.5, 0.75]},
              measures=["amplification", "fall"], progress=False)
    assert r.columns == ("cell", "ratio", "amplification", "fall")
    for row in r:
        assert row["amplification"] == pytest.approx(1 / (1 - row["ratio"]), rel=0.02)
        assert row["fall"] == pytest.approx(0.02 / (1 - row["ratio"]), rel=0.02)
    with pytest.raises(ValueError, match=r"seeds must be 1 when the scenario has no seed field"):
        sweep(FlatBandScenario(ratio=0.5), {"ratio": [0.5]}, seeds=2, progress=False)


def test_flat_band_scenario_checks_its_fields_as_flat_band_market_does():
    with pytest.raises(ValueError, match=r"ratio must be .*got 0"):
        FlatBandScenario(ratio=0)
    with pytest.raises(ValueError, match=r"shock must be .*0\.3"):
        FlatBandScenario(ratio=0.5, shock=0.3)
    with pytest.raises(ValueError, match=r"book_range"):
        FlatBandScenario(ratio=0.5, band=0.5, book_range=0.4)
    s = FlatBandScenario(ratio=0.5)
    assert s.replace(ratio=0.7).ratio == 0.7
    pos, book = s.market()
    assert len(pos.size) == 3000  # one position per cent over a 30 USD band


def test_column_types_csv_and_pandas():
    r = sweep(SMALL, {"shock": [0.03, 0.06]}, seeds=2, progress=False)
    assert r.column("fall").dtype == float and r.column("rounds").dtype == float
    assert r.column("end_reason").dtype == object
    assert set(r.column("end_reason")) <= set(marginloops.cascade.END_REASONS)
    text = r.to_csv()
    parsed = list(csv.reader(io.StringIO(text)))
    assert tuple(parsed[0]) == r.columns and len(parsed) == 5
    for line, row in zip(parsed[1:], r, strict=True):
        assert float(line[r.columns.index("fall")]) == row["fall"]  # repr: exact round trip
        assert line[r.columns.index("end_reason")] == row["end_reason"]
    df = r.to_pandas()
    assert list(df.columns) == list(r.columns) and len(df) == 4
    assert df["fall"].tolist() == list(r.column("fall"))


def test_to_csv_writes_a_file(tmp_path):
    r = sweep(SMALL, {"shock": [0.03]}, measures=["rounds"], progress=False)
    assert r.to_csv(tmp_path / "s.csv") is None
    assert (tmp_path / "s.csv").read_text(encoding="utf-8") == r.to_csv()


def test_grid2d_averages_the_seeds_and_leaves_missing_cells_nan():
    r = sweep(SMALL, {"depth_1pct": [2e5, 4e5, 8e5], "shock": [0.03, 0.06]}, seeds=2,
              measures=["fall", "end_reason"], progress=False)
    xs, ys, v = r.grid2d("depth_1pct", "shock", "fall")
    assert xs == [2e5, 4e5, 8e5] and ys == [0.03, 0.06] and v.shape == (2, 3)
    rows = r.rows
    for i, x in enumerate(xs):
        for j, y in enumerate(ys):
            falls = [row["fall"] for row in rows if row["depth_1pct"] == x and row["shock"] == y]
            assert len(falls) == 2
            assert v[j, i] == pytest.approx((falls[0] + falls[1]) / 2)
    _, _, vmax = r.grid2d("depth_1pct", "shock", "fall", reduce="max")
    assert np.all(vmax >= v)
    # transposed
    xs2, ys2, v2 = r.grid2d("shock", "depth_1pct", "fall")
    assert np.array_equal(v2, v.T)
    # a missing cell is NaN
    r._done = {k: row for k, row in r._done.items() if row["cell"] != 5}
    r._rows = None
    _, _, vm = r.grid2d("depth_1pct", "shock", "fall")
    assert math.isnan(vm[1, 2]) and not np.isnan(vm[0, 2])
    with pytest.raises(ValueError, match=r"measure 'end_reason' must be a number"):
        r.grid2d("depth_1pct", "shock", "end_reason")
    with pytest.raises(ValueError, match=r"x must be one of the varied fields"):
        r.grid2d("tick", "shock", "fall")
    with pytest.raises(ValueError, match=r"reduce must be one of"):
        r.grid2d("depth_1pct", "shock", "fall", reduce="sum")


def test_on_rows_gets_each_chunks_rows_with_their_cell():
    seen = []
    r = sweep(SMALL, {"shock": [0.02, 0.04, 0.06, 0.08, 0.1]}, measures=["rounds"],
              progress=False, chunksize=2, on_rows=seen.append)
    assert [len(rows) for rows in seen] == [2, 2, 1]
    assert [row["cell"] for rows in seen for row in rows] == [0, 1, 2, 3, 4]
    assert [row for rows in seen for row in rows] == r.rows


def test_progress_bar_counts_the_runs(capsys):
    r = sweep(SMALL, {"shock": [0.03, 0.05, 0.07]}, measures=["rounds"], progress=True)
    err = capsys.readouterr().err
    # tqdm's text bar: the count, elapsed<time left, the rate
    assert re.search(r"sweep: 100%.* 3/3 \[\d\d:\d\d<\d\d:\d\d, +[\d.]+run/s\]", err), err
    assert len(r) == 3


@pytest.mark.parametrize("kwargs, message", [
    (dict(grid=[1, 2]), r"grid must be a dict \{field: values\} .* or a list of dicts"),
    (dict(grid="shock"), r"grid must be a dict"),
    (dict(grid={"shok": [0.1]}), r"grid field 'shok' is not a field of the scenario "
                                 r"\(did you mean 'shock'\?\)"),
    (dict(grid={"shock": []}), r"grid 'shock' values must hold at least one value"),
    (dict(grid={"shock": 0.1}), r"grid 'shock' values must be a list"),
    (dict(grid={"shock": np.zeros((2, 2))}), r"grid 'shock' values must be .*shape \(2, 2\)"),
    (dict(grid=[]), r"grid must hold at least one cell"),
    (dict(seeds=0), r"seeds must be a whole number >= 1 .*got 0"),
    (dict(seeds=True), r"seeds must be a whole number >= 1 .*got True"),
    (dict(seeds=[1, 1]), r"seeds must be different"),
    (dict(seeds=[1.5]), r"seeds must be whole numbers, got 1.5"),
    (dict(seeds=[-1]), r"seed must be .*got -1"),
    (dict(grid={"seed": [1, 2]}, seeds=2), r"seeds must be 1 when the scenario varies seed"),
    (dict(measures=["fal"]), r"measure 'fal' is not one of \['fall', .*\(did you mean 'fall'"),
    (dict(measures=[]), r"measures must name at least one measure"),
    (dict(measures=["fall", "fall"]), r"measure 'fall' is named twice"),
    (dict(measures={"shock": _last_price}), r"measure 'shock' has the name of a column"),
    (dict(measures=[3]), r"measures must be names from"),
    (dict(executor="pool"), r"executor must be None .* got str"),
    (dict(chunksize=0), r"chunksize must be a whole number >= 1 .*got 0"),
    (dict(on_rows=5), r"on_rows must be a callable"),
    (dict(progress="yes"), r"progress must be True or False"),
])
def test_bad_input_is_a_value_error_naming_the_parameter(kwargs, message):
    args = dict(grid={"shock": [0.05]})
    args.update(kwargs)
    with pytest.raises(ValueError, match=message):
        sweep(SMALL, args.pop("grid"), **args)


def test_a_scenario_that_is_not_one_is_refused():
    with pytest.raises(ValueError, match=r"scenario must be a scenario .*got dict"):
        sweep({"shock": 0.1}, {"shock": [0.1]})


def test_a_cell_whose_fields_conflict_names_its_changes():
    base = Scenario.preset("crowded-longs").replace(n_positions=200)  # 100x leverage in the mix
    with pytest.raises(ValueError, match=r"grid cell 1 \(mmr=0\.02, seed 0\): mmr 0\.02 allows "
                                         r"leverage below 50x"):
        sweep(base, {"mmr": [0.005, 0.02]}, progress=False)


def test_a_seed_in_the_grid_is_the_seed_column():
    r = sweep(SMALL, {"seed": [1, 2]}, measures=["liquidated"], progress=False)
    assert r.columns == ("cell", "seed", "liquidated")
    assert [row["liquidated"] for row in r] == [
        by_hand(SMALL.replace(seed=s))["liquidated"] for s in (1, 2)]


def test_the_same_seed_gives_the_same_table():
    grid = {"depth_1pct": [3e5, 6e5], "shock": [0.04, 0.07]}
    a = sweep(SMALL, grid, seeds=2, progress=False)
    b = sweep(SMALL, grid, seeds=2, progress=False, chunksize=3)
    assert a.to_csv() == b.to_csv()
    c = sweep(SMALL.replace(seed=8), grid, seeds=1, progress=False)
    assert [row["fall"] for row in a if row["seed"] == 8] == [row["fall"] for row in c]


def test_a_keyboard_interrupt_returns_the_rows_done():
    calls = []

    def stop_after_five(cascade, history):
        calls.append(1)
        if len(calls) == 6:
            raise KeyboardInterrupt
        return len(history)

    r = sweep(SMALL, {"shock": [0.02, 0.03, 0.04, 0.05, 0.06, 0.07, 0.08, 0.09]},
              measures={"n": stop_after_five}, chunksize=4, progress=False)
    assert r.interrupted and not r.complete
    assert len(r) == 5 and r.expected == 8
    assert [row["cell"] for row in r] == [0, 1, 2, 3, 4]
    assert "interrupted" in repr(r)


def test_an_interrupt_in_on_rows_keeps_the_chunk_it_was_given():
    def stop(rows):
        if rows[0]["cell"] == 2:
            raise KeyboardInterrupt

    r = sweep(SMALL, {"shock": [0.02, 0.03, 0.04, 0.05, 0.06]}, measures=["rounds"],
              chunksize=2, on_rows=stop, progress=False)
    assert r.interrupted and [row["cell"] for row in r] == [0, 1, 2, 3]


def test_a_cascade_from_reused_parts_changes_neither_and_runs_the_same():
    """What a sweep's worker caches (Scenario.cascade(positions=..., venue=...)) stays as it
    was after a run, and the run equals one from freshly built parts."""
    s = SMALL.replace(shock=0.1, depth_1pct=2e5)
    pos, book = s.positions(), s.book()
    bids_before = book.depth_profile("bid", 0.0, 1e9)[1].copy()
    fresh = s.cascade().run()
    reused = s.cascade(positions=pos, venue=book).run()
    again = s.replace(shock=0.08).cascade(positions=pos, venue=book).run()
    assert reused == fresh and len(fresh) > 3
    assert again == s.replace(shock=0.08).cascade().run()
    assert np.array_equal(book.depth_profile("bid", 0.0, 1e9)[1], bids_before)
    new = s.positions()
    for name in ("side", "size", "entry", "leverage", "mmr", "liquidation_price"):
        assert np.array_equal(getattr(pos, name), getattr(new, name)), name


def test_a_sweep_of_one_market_many_shocks_equals_the_direct_runs():
    """Every run after the first reuses the cached positions and book."""
    shocks = [0.02 + 0.01 * i for i in range(8)]
    r = sweep(SMALL, {"shock": shocks}, seeds=2, measures=["fall", "liquidated", "bad_debt"],
              progress=False)
    for row in r:
        want = by_hand(SMALL.replace(shock=row["shock"], seed=row["seed"]))
        assert row["fall"] == pytest.approx(want["fall"], rel=1e-12)  # 1 - p1/p0 vs (p0-p1)/p0
        assert (row["liquidated"], row["bad_debt"]) == (want["liquidated"], want["bad_debt"])


def test_a_lending_scenario_sweeps_with_the_measures_its_records_have():
    from marginloops import LENDING_PRESETS

    base = LENDING_PRESETS["eth-pool"]
    r = sweep(base, {"shock": [0.1, 0.2]}, progress=False,
              measures=["fall", "shock_fall", "rounds", "liquidated", "bad_debt", "end_reason"])
    assert r.columns[:4] == ("cell", "shock", "seed", "fall")
    for row in r:
        h = base.replace(shock=row["shock"]).cascade().run()
        p0 = h[0].price_before
        assert row["fall"] == pytest.approx((p0 - h[-1].price_after) / p0, rel=1e-12)
        assert row["shock_fall"] == pytest.approx(row["shock"], rel=1e-6)
        assert row["liquidated"] == sum(rec.n_closed for rec in h)
        assert row["rounds"] == h[-1].round and row["end_reason"] == h[-1].end_reason
