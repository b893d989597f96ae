"""Issue 12 in the explorer: the price chart's wick, the index-venues menu and the rows that
need it, and the narration of arbitrage rounds (helper U)."""

import dataclasses
import math

import numpy as np

from marginloops.ui import PriceChart


@dataclasses.dataclass
class Rec:
    round: int
    price_before: float
    price_after: float
    last_fill_price: float = math.nan
    direction: str = "down"
    mark_price: float = math.nan
    index_price: float = math.nan
    halted: bool = False


def _chart():
    chart = PriceChart()
    chart._breaker, chart._keys = False, None
    return chart


def test_the_price_line_passes_through_each_wick_before_the_rounds_price():
    # A hand-made crash: the shock trades down to 95 and arbitrage lifts it to 96.2; round 1's
    # liquidations sell to 95.5 and arbitrage lifts it to 96.8; round 2 trades nothing (NaN
    # last fill) and arbitrage lifts it to 97; round 3's order ends where the round ends.
    hist = [Rec(0, 100.0, 96.2, 95.0), Rec(1, 96.2, 96.8, 95.5), Rec(2, 96.8, 97.0),
            Rec(3, 97.0, 96.9, 96.9)]
    chart = _chart()
    chart.update(hist)
    assert list(chart.line.x) == [0, 0, 1, 1, 2, 3]
    assert list(chart.line.y) == [95.0, 96.2, 95.5, 96.8, 97.0, 96.9]
    assert not np.isnan(np.asarray(chart.line.y, float)).any()
    assert list(chart.wick.x) == [0, 1] and list(chart.wick.y) == [95.0, 95.5]
    assert chart.wick.marker == "triangle-down"
    assert "the wick: the round's lowest trade" in chart.caption.value
    # the shock's marker sits where the shock's own order took the price
    assert list(chart.shock.y) == [95.0]


def test_without_a_wick_the_line_is_the_rounds_prices_and_no_key():
    hist = [Rec(0, 100.0, 97.0, 97.0), Rec(1, 97.0, 95.0, 95.0), Rec(2, 95.0, 95.0)]
    chart = _chart()
    chart.update(hist)
    assert list(chart.line.x) == [0, 1, 2] and list(chart.line.y) == [97.0, 95.0, 95.0]
    assert list(chart.wick.x) == [] and "wick" not in chart.caption.value


def test_a_squeeze_wick_is_its_highest_trade():
    hist = [Rec(0, 100.0, 103.0, 105.0, "up")]
    chart = _chart()
    chart.update(hist)
    assert list(chart.line.y) == [105.0, 103.0]
    assert chart.wick.marker == "triangle-up"
    assert "highest trade" in chart.caption.value


# ---------------------------------------------------------------- the index-venues panel
from marginloops import CascadeExplorer  # noqa: E402
from marginloops.scenarios import HYPERLIQUID_ORACLE, PRESETS  # noqa: E402

SMALL = PRESETS["crowded-longs"].replace(n_positions=600)
INDEX_ROWS = ("price_source", "arbitrage", "mark_rule", "mark_interval", "basis_window",
              "chasers")


def test_the_index_rows_show_only_with_index_venues_and_mark_needs_them():
    ex = CascadeExplorer(SMALL)
    c = ex.controls
    menu = c.mechanisms["index_venues"]
    assert [label for label, _ in menu.options] == [
        "none", "two spot venues, 4M USD each", "Binance-style index", "Hyperliquid oracle"]
    box = c._dependents["index_venues"]
    assert box.layout.display == "none"
    assert all(c._rows[f] in box.children for f in INDEX_ROWS)
    # no "mark" without index venues, and the knobs that need them cannot be moved
    assert [v for _, v in c.mechanisms["price_source"].options] == ["last"]
    assert c.mechanisms["arbitrage"].slider.disabled and c.mechanisms["chasers"].slider.disabled
    menu.value = ((4e6, 1.0), (4e6, 1.0))
    assert box.layout.display is None
    assert "2 spot venues, 8M USD within 1% in all (weights 1, 1)" in c._notes[
        "index_venues"].value
    assert [v for _, v in c.mechanisms["price_source"].options] == ["last", "mark"]
    c.mechanisms["price_source"].value = "mark"
    c.mechanisms["arbitrage"].value = 40
    c.mechanisms["chasers"].value = 10
    s = ex.scenario
    assert (s.index_venues, s.price_source, s.arbitrage, s.chasers) == (
        ((4e6, 1.0), (4e6, 1.0)), "mark", 0.4, 0.1)
    # the index venues off: everything that needs them goes back, and the narration says so
    menu.value = ()
    s = ex.scenario
    assert (s.index_venues, s.price_source, s.arbitrage, s.chasers) == ((), "last", 0.0, 0.0)
    assert ("margins checked on the mark price → the last trade, as it needs index venues; "
            "Arbitrage (%) 40 → 0, as it needs index venues") in ex.narration[-1]
    assert c.message.value == "" and box.layout.display == "none"


def _shown(c, field):
    return c._settings[field].value(c._value_widget(field).value)


def test_the_venue_presets_show_every_index_row_at_its_value_and_run():
    ex = CascadeExplorer(SMALL)
    c = ex.controls
    for name, menu_label in (("binance-style", "Binance-style index"),
                             ("hyperliquid-style", "Hyperliquid oracle")):
        c.preset.value = name
        preset = PRESETS[name]
        assert ex.scenario == preset
        assert c.mechanisms["index_venues"].label == menu_label
        assert c._dependents["index_venues"].layout.display is None
        assert c._dependents["chasers"].layout.display is None
        for field in (*INDEX_ROWS, "chaser_leverage", "index_venues"):
            assert _shown(c, field) == getattr(preset, field), (name, field)
        assert "index: " + menu_label in c.mechanisms_panel.titles[0]
        for _ in range(60):
            if ex.time.step_button.disabled:
                break
            ex.step()
        assert ex.cascade.ended
        assert [r.price_after for r in ex.cascade.history] == [
            r.price_after for r in preset.cascade().run()]
    assert PRESETS["hyperliquid-style"].index_venues == HYPERLIQUID_ORACLE
