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
