"""PhaseDiagramView headless: the map's cells are the sweep's values (checked against runs made
here), depth reads as n/D with the boundary at 1, a click opens that cell's market in the
explorer, the measure menu recolours without sweeping again, and nothing is left dead."""

import dataclasses

import numpy as np
import pytest

import marginloops.ui.phase as phase_module
from marginloops import FlatBandScenario, Scenario
from marginloops.analysis import amplification, crowding
from marginloops.ui.phase import RUNAWAY, PhaseDiagramView

BASE = Scenario.preset("crowded-longs")
DEPTHS = (0.6e6, 1.2e6, 2.0e6, 6.0e6)     # ascending depth: descending n/D
SHOCKS = (0.01, 0.04, 0.08)
GRID = {"depth_1pct": DEPTHS, "shock": SHOCKS}


def click(view, row, column):
    """What the browser sends when a cell is clicked (bqplot's GridHeatMap: ``element_click``
    with the cell's rowNum / columnNum), through the mark's own message handler."""
    view.heatmap._handle_custom_msgs(None, {"event": "element_click", "data": {
        "rowNum": row, "columnNum": column, "row": 0, "column": 0, "color": 0}})


def hover(view, row, column):
    view.heatmap._handle_custom_msgs(None, {"event": "hover", "point": {
        "rowNum": row, "columnNum": column}})


@pytest.fixture(scope="module")
def swept():
    view = PhaseDiagramView(BASE, GRID)
    result = view.run()
    return view, result


def run_here(depth, shock, measure=amplification):
    """One cell's run made here, without sweep."""
    history = BASE.replace(depth_1pct=depth, shock=shock).cascade().run()
    return measure(history)


def test_before_a_sweep_every_cell_is_empty_and_the_page_says_press_sweep():
    view = PhaseDiagramView(BASE, GRID)
    assert view.heatmap.color.shape == (3, 4)
    assert np.isnan(view.heatmap.color).all()          # hatched, not coloured as a low value
    assert "press Sweep" in view.status.value and "12 markets" in view.status.value
    assert "Nothing swept yet" in view.story.value
    assert view.result is None and view.explorer is None
    assert view.explorer_box.layout.display == "none"


def test_depth_reads_as_the_crowding_ratio_measured_per_column(swept):
    view, _ = swept
    measured = [crowding(BASE.replace(depth_1pct=d).cascade(), band=0.05).ratio for d in DEPTHS]
    assert view.x_positions == pytest.approx(measured)
    # n/D is liquidations / depth: twice the depth, half the ratio
    assert measured[0] / measured[1] == pytest.approx(2.0, rel=0.02)
    assert view.figure.axes[0].label == "crowding ratio n/D (within 5%)"
    # columns left to right: n/D ascending, so the deepest book is column 0
    edges = np.asarray(view.heatmap.column)
    assert np.all(np.diff(edges) > 0) and len(edges) == len(DEPTHS) + 1
    centres = np.sqrt(edges[1:] * edges[:-1])           # log axis: geometric midpoints
    assert centres == pytest.approx(sorted(measured), rel=0.35)
    for c, ratio in enumerate(sorted(measured)):
        assert edges[c] < ratio < edges[c + 1]


def test_the_boundary_sits_at_one_on_the_maps_x_scale(swept):
    view, _ = swept
    assert list(view.boundary.x) == [1.0, 1.0]
    assert view.boundary.scales["x"] is view.heatmap.scales["column"]
    assert view.boundary.scales["y"] is view.heatmap.scales["row"]
    # the line spans the whole map, bottom edge to top edge
    assert list(view.boundary.y) == [view.heatmap.row[0], view.heatmap.row[-1]]
    assert view.x_scale.min < 1.0 < view.x_scale.max
    assert list(view.boundary_label.text) == ["n/D = 1"] and list(view.boundary_label.x) == [1.0]
    # the cells left of the line have n/D < 1, those right of it n/D > 1
    left = np.asarray(view.heatmap.column)[1:] <= 1.0
    ratios = np.sort(view.x_positions)
    assert np.all(ratios[left[: len(ratios)]] < 1.0)


def test_the_cells_after_a_sweep_are_the_sweeps_values(swept):
    view, result = swept
    assert result.complete and len(result) == 12
    xs, ys, values = result.grid2d("depth_1pct", "shock", "amplification")
    # map columns run n/D ascending = depth descending; rows shock ascending
    assert np.array_equal(np.asarray(view.heatmap.color), values[:, ::-1], equal_nan=True)
    # and those values are the runs themselves, made here without sweep
    assert view.heatmap.color[0, 0] == pytest.approx(run_here(6.0e6, 0.01))
    assert view.heatmap.color[2, 3] == pytest.approx(run_here(0.6e6, 0.08))
    assert not np.isnan(view.heatmap.color).any()
    assert "Swept 12 of 12 markets in " in view.status.value


def test_the_colours_are_viridis_with_a_bar_and_amplification_capped(swept):
    view, _ = swept
    assert view.color_scale.scheme == "viridis"
    assert (view.color_scale.min, view.color_scale.max) == (1.0, 10.0)
    assert view.color_scale.extrapolation == "constant"    # 10 or more: the top colour
    assert view.color_axis.scale is view.color_scale
    assert "Colours stop at 10" in view.caption.value
    assert "hatched: not swept yet" in view.caption.value
    # a runaway cell above the cap keeps its true value in the data (the hover text says it)
    assert np.nanmax(view.heatmap.color) > 10


def test_the_measure_menu_recolours_without_sweeping_again(monkeypatch):
    view = PhaseDiagramView(BASE, GRID)
    calls = []
    real = phase_module.sweep
    monkeypatch.setattr(phase_module, "sweep", lambda *a, **k: calls.append(1) or real(*a, **k))
    result = view.run()
    assert calls == [1]
    view.measure_menu.value = "fall"
    _, _, falls = result.grid2d("depth_1pct", "shock", "fall")
    assert np.array_equal(np.asarray(view.heatmap.color), falls[:, ::-1])
    assert view.heatmap.color[1, 0] == pytest.approx(
        run_here(6.0e6, 0.04, lambda h: 1 - h[-1].price_after / h[0].price_before))
    assert view.color_scale.min == 0.0 and 0 < view.color_scale.max <= 1.0
    assert view.color_axis.label == "fall"
    assert view.measure_menu.label == "fall from the start price"
    assert view.color_axis.tick_format == ".0%"
    view.measure_menu.value = "rounds"
    _, _, rounds = result.grid2d("depth_1pct", "shock", "rounds")
    assert np.array_equal(np.asarray(view.heatmap.color), rounds[:, ::-1])
    assert view.color_scale.max == rounds.max()
    view.measure_menu.value = "bad_debt"
    assert view.color_axis.label == "bad debt" and view.color_axis.tick_format == ".2s"
    assert calls == [1]                                   # never swept again


def test_a_click_opens_that_cells_market_in_one_explorer_beside_the_map():
    view = PhaseDiagramView(BASE, GRID)
    view.run()
    click(view, 2, 3)       # top row (shock 8%), right column (n/D largest: depth 0.6M)
    explorer = view.explorer
    assert explorer is not None and view.explorer_box.layout.display is None
    assert explorer in view.explorer_box.children
    assert (explorer.scenario.depth_1pct, explorer.scenario.shock) == (0.6e6, 0.08)
    assert explorer.scenario.seed == BASE.seed
    assert view.opened_cell == 0 * 3 + 2                 # grid order: depth slowest
    assert "shock 8.0%" in view.opened.value and "600.0K USD" in view.opened.value
    # the cell is outlined on the map: the outline's corners are that cell's edges
    assert view.outline.visible
    assert min(view.outline.x) == view.heatmap.column[3]
    assert max(view.outline.y) == view.heatmap.row[3]
    click(view, 0, 0)       # bottom-left: shock 1%, depth 6M
    assert view.explorer is explorer                    # the same explorer, a new market
    assert (explorer.scenario.depth_1pct, explorer.scenario.shock) == (6.0e6, 0.01)
    assert "shock 1.0%" in view.opened.value
    # the explorer runs that market: its first step is the 1% shock
    explorer.step()
    first = explorer.cascade.history[0]
    assert first.price_after / first.price_before - 1 == pytest.approx(-0.01, abs=2e-4)


def test_a_click_before_the_sweep_still_opens_the_market():
    view = PhaseDiagramView(BASE, GRID)
    click(view, 1, 1)
    assert view.explorer.scenario.shock == 0.04 and view.explorer.scenario.depth_1pct == 2.0e6
    assert "not swept yet" in view.opened.value


def test_hover_text_names_the_cells_fields_and_measures(swept):
    view, result = swept
    hover(view, 0, 3)       # shock 1%, depth 0.6M
    text = view.hover_text.value
    assert "1% depth 600.0K USD" in text and "shock 1.0%" in text
    expected = run_here(0.6e6, 0.01)
    assert f"amplification <b>{expected:.2f}</b>" in text
    assert "rounds" in text and "bad debt" in text and "ended:" in text


def test_the_story_is_computed_from_the_cells(swept):
    view, _ = swept
    amp = np.asarray(view.heatmap.color)
    runs = int((amp >= RUNAWAY).sum())
    text = view.story.value
    assert f"{runs} of 12 markets swept run away" in text
    assert "n/D = 1" in text
    # the deepest book (n/D ~0.4) never runs away; the shallowest (n/D ~2.4) with a 1% shock does
    assert amp[:, 0].max() < RUNAWAY and amp[0, 3] >= RUNAWAY
    assert "none does" in text and "With a 1.0% shock (the smallest) the loop runs away" in text


def test_while_sweeping_the_button_says_so_and_is_disabled_and_cells_fill_in(monkeypatch):
    view = PhaseDiagramView(BASE, GRID)
    heatmap = view.heatmap
    seen = []
    real = phase_module.sweep

    def watching(*args, on_rows, **kwargs):
        def rows_in(rows):
            on_rows(rows)
            seen.append((view.sweep_button.disabled, view.sweep_button.description,
                         int(np.isfinite(view.heatmap.color).sum()), view.status.value))
        return real(*args, on_rows=rows_in, chunksize=4, **kwargs)

    monkeypatch.setattr(phase_module, "sweep", watching)
    view.run()
    assert [s[:3] for s in seen] == [(True, "Sweeping…", 4), (True, "Sweeping…", 8),
                                     (True, "Sweeping…", 12)]
    assert "4 of 12 runs done" in seen[0][3]
    assert view.heatmap is heatmap                       # the same mark, filled in place
    assert not view.sweep_button.disabled and view.sweep_button.description == "Sweep"


def test_an_interrupted_sweep_says_so_and_keeps_what_is_done(monkeypatch):
    view = PhaseDiagramView(BASE, GRID)
    real = phase_module.sweep

    def interrupted(*args, on_rows, **kwargs):
        def rows_in(rows):
            on_rows(rows)
            raise KeyboardInterrupt   # the kernel's interrupt, during the second chunk's wait
        return real(*args, on_rows=rows_in, chunksize=5, **kwargs)

    monkeypatch.setattr(phase_module, "sweep", interrupted)
    result = view.run()
    assert result.interrupted and len(result) == 5
    assert "Interrupted: swept 5 of 12 runs" in view.status.value
    assert "hatched cells were not run" in view.status.value
    assert int(np.isfinite(view.heatmap.color).sum()) == 5
    assert not view.sweep_button.disabled


def test_a_failed_sweep_says_so_through_the_button(monkeypatch):
    view = PhaseDiagramView(BASE, GRID)

    def broken(*args, **kwargs):
        raise RuntimeError("the pool broke")

    monkeypatch.setattr(phase_module, "sweep", broken)
    view.sweep_button.click()                           # no traceback out of the callback
    assert "The sweep failed" in view.status.value and "the pool broke" in view.status.value
    assert "the pool broke" in view.message.value
    assert not view.sweep_button.disabled and view.sweep_button.description == "Sweep"


def test_flat_band_ratio_on_x_draws_the_boundary_at_one_and_matches_the_closed_form():
    view = PhaseDiagramView(FlatBandScenario(ratio=0.5), {"ratio": [0.25, 0.5, 1.5],
                                                          "shock": [0.02, 0.03]})
    assert list(view.x_positions) == [0.25, 0.5, 1.5]
    assert list(view.boundary.x) == [1.0, 1.0]
    view.run()
    amp = np.asarray(view.heatmap.color)
    assert amp[:, 0] == pytest.approx([1 / (1 - 0.25)] * 2, rel=0.05)
    assert amp[:, 1] == pytest.approx([2.0] * 2, rel=0.05)
    assert np.all(amp[:, 2] > 5)                          # above 1: through the band
    click(view, 0, 0)
    assert view.explorer is None and "cannot open in the explorer" in view.message.value


def test_seeds_are_averaged():
    view = PhaseDiagramView(BASE, {"depth_1pct": (1.2e6, 4e6), "shock": (0.02, 0.04)}, seeds=2)
    result = view.run()
    assert len(result) == 8 and "Swept 8 of 8 runs (4 markets, 2 seeds each" in view.status.value
    for row, shock in enumerate((0.02, 0.04)):
        each = [amplification(dataclasses.replace(BASE, depth_1pct=1.2e6, shock=shock,
                                                  seed=BASE.seed + i).cascade().run())
                for i in range(2)]
        assert view.heatmap.color[row, 1] == pytest.approx(np.mean(each))  # n/D larger: right


def test_values_that_are_not_numbers_sit_in_order_labelled():
    view = PhaseDiagramView(BASE, {"liquidation_orders": ["market", "bankruptcy"],
                                   "shock": [0.02, 0.05]})
    axis = view.figure.axes[0]
    assert list(view.x_positions) == [0.0, 1.0] and view.boundary is None
    assert axis.tick_labels == {"0": "market", "1": "bankruptcy"}
    view.run()
    market = BASE.replace(liquidation_orders="bankruptcy", shock=0.05).cascade().run()
    assert view.heatmap.color[1, 1] == pytest.approx(amplification(market))
    view.open_market(1 * 2 + 0)                          # bankruptcy, 2%
    assert view.explorer.scenario.liquidation_orders == "bankruptcy"
    assert view.explorer.scenario.shock == 0.02


@pytest.mark.parametrize("kwargs,needle", [
    ({"grid": {"shock": (0.01, 0.02)}}, "exactly two fields"),
    ({"grid": {"shock": (0.01,), "depth_1pct": (1e6,), "leverage_mix": ()}}, "exactly two"),
    ({"grid": [{"shock": 0.01}]}, "exactly two fields"),
    ({"grid": {"shock": (0.01, 0.02), "depht_1pct": (1e6, 2e6)}}, "'depht_1pct' is not a field"),
    ({"grid": {"shock": (), "depth_1pct": (1e6, 2e6)}}, "grid['shock'] must be a list of at"),
    ({"grid": {"shock": (0.01, 0.02), "depth_1pct": (1e6,)}}, "at least 2 values"),
    ({"grid": {"shock": (0.01, 0.01), "depth_1pct": (1e6, 2e6)}}, "must not repeat a value"),
    ({"measure": "speed"}, "measure must be one of"),
    ({"autorun": "yes"}, "autorun must be True or False"),
    ({"scenario": "crowded-longs"}, "scenario must be a scenario"),
])
def test_bad_arguments_are_refused(kwargs, needle):
    with pytest.raises(ValueError, match=needle.replace("[", r"\[").replace("]", r"\]")
                       .replace("(", r"\(")):
        PhaseDiagramView(**kwargs)


def test_the_default_grid_is_depth_by_shock_and_draws_the_boundary():
    view = PhaseDiagramView()
    assert (view.x_field, view.y_field) == ("depth_1pct", "shock")
    assert len(view.grid["depth_1pct"]) == 16 and len(view.grid["shock"]) == 10
    assert view.boundary is not None and view.x_scale.min < 1 < view.x_scale.max


def test_the_keyboard_opens_a_cell_with_the_two_menus():
    view = PhaseDiagramView(BASE, GRID)
    # the x menu lists n/D ascending, with the depth it comes from
    labels = [label for label, _ in view.pick_x.options]
    assert labels[0].endswith("(1% depth 6.0M USD)") and labels[-1].endswith("600.0K USD)")
    view.pick_x.value = DEPTHS.index(2.0e6)
    view.pick_y.value = SHOCKS.index(0.08)
    view.open_button.click()
    assert (view.explorer.scenario.depth_1pct, view.explorer.scenario.shock) == (2.0e6, 0.08)
    assert view.opened_cell == DEPTHS.index(2.0e6) * 3 + 2
    click(view, 0, 0)                                    # a click moves the menus along
    assert (view.pick_x.value, view.pick_y.value) == (DEPTHS.index(6.0e6), 0)


def test_a_process_pool_fills_the_same_map(swept):
    from marginloops import process_pool

    serial, _ = swept
    with process_pool(2) as pool:
        view = PhaseDiagramView(BASE, GRID, executor=pool)
        seen = []
        view.status.observe(lambda change: seen.append(change.new), names="value")
        result = view.run()
    assert result.complete
    assert np.array_equal(np.asarray(view.heatmap.color), np.asarray(serial.heatmap.color))
    assert any("runs done" in text for text in seen)   # filled in chunk by chunk
