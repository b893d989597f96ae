"""The explorer's issue 12 lines: the insurance fund's inventory, the liquidation-order rows,
the tier step-down offered only with tiered margin, and the mark and index prices."""

import dataclasses
import math

import numpy as np
import pytest

from marginloops import CascadeExplorer, Scenario
from marginloops.tiers import BINANCE_STYLE_TIERS
from marginloops.ui import PriceChart

SMALL = Scenario.preset("crowded-longs").replace(n_positions=600)
BANKRUPTCY = SMALL.replace(liquidation_orders="bankruptcy", fund_unwind=0.5)


def test_the_fund_inventory_moves_with_each_round_and_says_what_it_is():
    ex = CascadeExplorer(BANKRUPTCY)
    oi = ex.oi_chart
    assert "the fund's inventory: units it took over and has not sold yet" in oi.caption.value
    assert oi.figure.axes[1].label == "open interest / fund's inventory (USD)"
    shown = []
    for _ in range(4):
        ex.step()
        hist = ex.cascade.history
        # one point a round: the units held, valued at the round's price
        np.testing.assert_allclose(oi.inventory.y,
                                   [r.fund_inventory * r.price_after for r in hist])
        shown.append(float(oi.inventory.y[-1]))
        held = hist[-1].fund_inventory
        assert "its inventory: <b>" in ex.status.value
        assert f"{held:,.0f} units" in ex.status.value or held < 100
    assert shown[0] == 0 and shown[1] > 0 and shown[2] != shown[1]  # taken over, then sold
    # the axis holds it
    assert max(oi.inventory.y) <= float(oi.y.max)


def test_market_orders_draw_no_inventory_line_nor_key():
    ex = CascadeExplorer(SMALL)
    ex.step()
    ex.step()
    assert list(ex.oi_chart.inventory.y) == []
    assert "inventory" not in ex.oi_chart.caption.value and "inventory" not in ex.status.value
    ex.controls.mechanisms["liquidation_orders"].value = "bankruptcy"
    assert "inventory" in ex.oi_chart.caption.value
    ex.step()
    ex.step()
    assert len(ex.oi_chart.inventory.y) == 2


def test_the_tier_step_down_is_offered_only_with_tiered_margin():
    ex = CascadeExplorer(SMALL)
    c = ex.controls
    choice, tiers = c.mechanisms["partial"], c.mechanisms["mmr_tiers"]

    def offered():
        return [v for _, v in choice.options]

    assert "tier" not in offered()
    tiers.value = BINANCE_STYLE_TIERS.brackets
    assert "tier" in offered()
    choice.value = "tier"
    assert ex.scenario.partial == "tier" and ex.scenario.mmr_tiers == BINANCE_STYLE_TIERS.brackets
    # tiers off: the step-down goes too, the run is valid and the narration says why
    tiers.value = ()
    assert "tier" not in offered()
    assert ex.scenario.partial is None and ex.scenario.mmr_tiers == ()
    assert "as it needs tiered margin" in ex.narration[-1]
    # a scenario set from code with both on shows the option; then runs
    ex.set_scenario(SMALL.replace(mmr_tiers=BINANCE_STYLE_TIERS.brackets, partial="tier"))
    assert choice.value == "tier" and "tier" in offered()
    ex.step()
    ex.step()
    assert ex.cascade.history[-1].round == 1


@dataclasses.dataclass
class Rec:
    round: int
    price_after: float
    mark_price: float = math.nan
    index_price: float = math.nan
    halted: bool = False


def test_the_price_chart_draws_mark_and_index_only_where_finite():
    chart = PriceChart()
    chart._breaker, chart._keys = False, None
    hist = [Rec(0, 97.0), Rec(1, 95.0, 96.0, 97.5), Rec(2, 94.0, 95.5, math.nan)]
    chart.update(hist)
    assert list(chart.mark.x) == [1, 2] and list(chart.mark.y) == [96.0, 95.5]
    assert list(chart.index.x) == [1] and list(chart.index.y) == [97.5]
    assert not np.isnan(np.asarray(chart.mark.y, float)).any()
    assert "mark price" in chart.caption.value and "index price" in chart.caption.value
    # records without the fields (before the mark price exists): no line, no key
    chart.update([Rec(0, 97.0), Rec(1, 95.0)])
    assert list(chart.mark.x) == [] and list(chart.index.x) == []
    assert "mark price" not in chart.caption.value


@pytest.mark.parametrize("direction", ["down", "up"])
def test_the_explorer_price_chart_with_the_default_model_has_no_mark_line(direction):
    ex = CascadeExplorer(SMALL.replace(direction=direction))
    ex.step()
    assert list(ex.price_chart.mark.x) == [] and "mark price" not in ex.price_chart.caption.value


def test_the_backstop_rows_show_only_with_the_vault():
    ex = CascadeExplorer(SMALL)
    c = ex.controls
    choice, knob = c.mechanisms["liquidation_orders"], c._rows["backstop_threshold"]
    rows = c._dependents["liquidation_orders"]
    assert rows.layout.display == "none"
    choice.value = "bankruptcy"
    assert rows.layout.display is None and knob.layout.display == "none"
    choice.value = "backstop"
    assert ex.scenario.liquidation_orders == "backstop" and knob.layout.display is None
    assert ex.scenario.backstop_threshold == pytest.approx(2 / 3, rel=1e-9)
    c.mechanisms["backstop_threshold"].value = 0.5
    assert ex.scenario.backstop_threshold == 0.5
    assert ex.narration[-1].startswith("Settings changed (vault takes over below: 2/3 of "
                                       "maintenance margin (Hyperliquid) → 1/2 of maintenance "
                                       "margin)")
    ex.step()
    ex.step()
    rec = ex.cascade.history[-1]
    assert rec.backstop and rec.n_backstop > 0
    assert "liquidator vault took over" in ex.narration[-1]
    assert "its inventory: <b>" in ex.status.value
