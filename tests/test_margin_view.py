"""Lesson 1's MarginView without a browser: hand-worked readouts, knob ranges, the chart's marks,
and the LIQUIDATED message appearing exactly when the mark price crosses the liquidation price.

Hand-worked example used throughout (Binance's isolated-margin formula for a USD-margined
contract with no maintenance amount and no fees, as in marginloops/positions.py): 1,000 USD of
your own money in a 10x long at 100 USD, maintenance rate 0.5%.
    size q = 1,000 * 10 / 100 = 100 units (a 10,000 USD position, 9,000 USD borrowed)
    equity at P = 1,000 + 100 (P - 100); maintenance at P = 0.005 * 100 * P = 0.5 P
    liquidation: 1,000 + 100 P - 10,000 = 0.5 P  ->  99.5 P = 9,000  ->  P = 90.452261...
    bankruptcy: 1,000 + 100 P - 10,000 = 0  ->  P = 90
    at P = 95: equity 500, maintenance 47.5, margin ratio 47.5 / 500 = 9.5%,
               distance (95 - 90.452261) / 95 = 4.7871%
"""

import math

import numpy as np
import pytest

from marginloops.margin import margin_state, readout_table
from marginloops.ui.margin import MarginView, mark_range

LIQ_10X = 9000 / 99.5  # 90.45226130653266, from the equation above


def test_hand_worked_long_at_95():
    s = margin_state("long", entry=100, leverage=10, mmr=0.005, mark=95, margin=1000)
    assert s.size == pytest.approx(100)
    assert s.equity == pytest.approx(500)
    assert s.maintenance == pytest.approx(47.5)
    assert s.margin_ratio == pytest.approx(0.095)
    assert s.liquidation == pytest.approx(LIQ_10X, rel=1e-12)
    assert s.bankruptcy == pytest.approx(90)
    assert s.distance == pytest.approx((95 - LIQ_10X) / 95)
    assert s.distance == pytest.approx(0.047871, abs=1e-6)
    assert not s.liquidated


def test_at_the_liquidation_price_equity_equals_maintenance():
    s = margin_state("long", 100, 10, 0.005, mark=LIQ_10X)
    assert s.equity == pytest.approx(s.maintenance, rel=1e-9)
    assert s.equity == pytest.approx(45.226130653, rel=1e-9)  # 0.5 * 90.4522613
    assert s.margin_ratio == pytest.approx(1.0)


def test_hand_worked_short():
    # 1,000 USD in a 20x short at 100, mmr 1%: q = 200 units.
    # equity = 1,000 - 200 (P - 100); maintenance = 0.01 * 200 * P = 2 P
    # liquidation: 1,000 - 200 P + 20,000 = 2 P -> P = 21,000 / 202 = 103.960396...
    s = margin_state("short", 100, 20, 0.01, mark=102)
    assert s.equity == pytest.approx(600)
    assert s.maintenance == pytest.approx(204)
    assert s.margin_ratio == pytest.approx(0.34)
    assert s.liquidation == pytest.approx(21000 / 202)
    assert s.bankruptcy == pytest.approx(105)
    assert s.distance == pytest.approx((21000 / 202 - 102) / 102)
    assert not s.liquidated
    assert margin_state("short", 100, 20, 0.01, mark=104).liquidated


def test_no_equity_left_has_no_finite_margin_ratio():
    s = margin_state("long", 100, 10, 0.005, mark=89)
    assert s.equity == pytest.approx(-100) and math.isinf(s.margin_ratio)
    assert "no equity left" in s.text()


def test_readout_shows_the_hand_worked_numbers():
    view = MarginView("long", entry=100, leverage=10, mmr=0.005, mark=95)
    text = view.readout.value
    assert "role='status'" in text
    for needle in ("Equity 500.00 USD", "Maintenance margin 47.50 USD", "Margin ratio 9.5%",
                   "fall 4.55 USD (4.79%) more before liquidation at 90.45 USD"):
        assert needle in text
    assert "LIQUIDATED" not in text


def test_liquidated_message_appears_exactly_when_crossing():
    view = MarginView("long", 100, 10, 0.005)
    liq = view.state.liquidation
    assert view.mark.slider.step == pytest.approx(0.1)
    for mark in (100, 95, 91, 90.5, liq + 1e-9):
        view.mark.value = mark
        assert "LIQUIDATED" not in view.readout.value, mark
    for mark in (liq, 90.45, 90.0, 86.0):
        view.mark.value = mark
        assert ("LIQUIDATED: equity fell to the maintenance margin at 90.45 USD"
                in view.readout.value), mark
    view.mark.value = 92.0  # the what-if view: moving back clears the message
    assert "LIQUIDATED" not in view.readout.value


def test_short_liquidated_when_the_price_rises_to_its_liquidation_price():
    view = MarginView("short", 100, 20, 0.01, mark=103.9)
    assert "LIQUIDATED" not in view.readout.value and "rise" in view.readout.value
    view.mark.value = 104.0
    assert "LIQUIDATED: equity fell to the maintenance margin at 103.96 USD" in \
        view.readout.value


def test_chart_marks_follow_the_mark_price():
    view = MarginView("long", 100, 10, 0.005)
    np.testing.assert_allclose(view.liq_rule.x, [LIQ_10X, LIQ_10X])
    np.testing.assert_allclose(view.bankrupt_rule.x, [90, 90])
    assert list(view.liq_label.text) == ["liquidation 90.45"]
    assert list(view.bankrupt_label.text) == ["bankruptcy 90.00"]
    # the equity line runs 1,000 + 100 (P - 100) over the knob's range 85..115
    np.testing.assert_allclose(view.equity_line.x, [85, 115])
    np.testing.assert_allclose(view.equity_line.y, [-500, 2500])
    np.testing.assert_allclose(view.maint_line.y, [42.5, 57.5])
    view.mark.value = 93
    np.testing.assert_allclose(view.marker.x, [93])
    np.testing.assert_allclose(view.marker.y, [300])
    np.testing.assert_allclose(view.mark_rule.x, [93, 93])
    assert list(view.mark_label.text) == ["mark 93.00"]
    equity_line = view.equity_line
    view.leverage.value = 20  # the same marks, changed in place
    assert view.equity_line is equity_line and view.figure.marks[2] is equity_line
    # 20x: liquidation 100 * 0.95 / 0.995 = 95.4773869...
    np.testing.assert_allclose(view.liq_rule.x, [9500 / 99.5] * 2)


def test_ranges_make_invalid_positions_impossible():
    view = MarginView("long", 100, 10, 0.005)
    assert view.leverage.range == (1, 100)
    assert view.entry.range == (10, 1000)
    lo, hi = view.mmr.range
    assert lo == 0 and hi == pytest.approx(5.0)  # at most 5% (95% of 1/10 would be 9.5%)
    view.leverage.value = 25
    assert view.mmr.range[1] == pytest.approx(3.8)  # 95% of 1/25 = 3.8%
    view.mmr.value = 2.0
    view.leverage.value = 100  # 1/100 = 1%: the rate is clamped below it
    assert view.mmr.range[1] == pytest.approx(0.95)
    assert view.mmr.value == pytest.approx(0.95)
    assert view.state.mmr * view.state.leverage < 1
    view.leverage.value = 1
    assert view.mmr.range[1] == pytest.approx(5.0)  # at most 5%
    # at every leverage, both prices the lesson marks lie inside the mark knob's range
    for lev in (1, 2, 3, 5, 10, 20, 50, 100):
        for side in ("long", "short"):
            v = MarginView(side, 100, lev, 0.0)
            lo, hi = v.mark.range
            s = v.state
            for price in (s.liquidation, s.bankruptcy):
                assert price == 0 or lo <= price <= hi, (side, lev, price)


def test_mark_range_follows_the_leverage():
    assert mark_range(100, 10) == pytest.approx((85, 115))
    assert mark_range(100, 100) == pytest.approx((98.5, 101.5))
    assert mark_range(100, 1) == pytest.approx((5, 250))
    view = MarginView("long", 100, 10, 0.005, mark=86)
    view.leverage.value = 50  # range 97..103: the mark price is clamped into it
    assert view.mark.range == pytest.approx((97, 103))
    assert view.mark.value == pytest.approx(97)
    assert view.mark.box.value == pytest.approx(97)


def test_one_x_long_is_never_liquidated():
    view = MarginView("long", 100, 1, 0.005)
    view.mark.value = view.mark.range[0]
    assert "LIQUIDATED" not in view.readout.value
    assert "never liquidated" in view.readout.value


def test_no_step_button():
    """The generic lesson test presses the first "Step" button of a lesson: not ours."""
    view = MarginView()
    stack = [view]
    while stack:
        w = stack.pop()
        assert "Step" not in (getattr(w, "description", "") or "")
        stack.extend(getattr(w, "children", ()))


@pytest.mark.parametrize("kwargs, needle", [
    (dict(side="up"), "side must be 'long' or 'short'"),
    (dict(entry=0), "entry must be in [10, 1000], got 0"),
    (dict(entry=5), "entry must be in [10, 1000], got 5"),
    (dict(leverage=0.5), "leverage must be"),
    (dict(leverage=2.5), "leverage must be a whole number"),
    (dict(leverage=200), "leverage must be in [1, 100], got 200"),
    (dict(leverage=10, mmr=0.1), "mmr must be in [0, 1/leverage) = [0, 0.1) for leverage 10"),
    (dict(leverage=10, mmr=0.06), "mmr must be in [0, 0.05] for leverage 10"),
    (dict(leverage=25, mmr=0.039), "mmr must be in [0, 0.038] for leverage 25"),
    (dict(mark=-1), "mark must be"),
    (dict(mark=50), "mark must be in [85, 115], got 50"),
    (dict(margin=0), "margin must be"),
])
def test_bad_parameters_say_what_is_allowed(kwargs, needle):
    with pytest.raises(ValueError) as err:
        MarginView(**kwargs)
    assert needle in str(err.value)


def test_readout_table_rows_by_hand():
    lines = readout_table((95, 90.46, 90.45, 90)).splitlines()
    assert "100.00 units" in lines[0] and "9,000.00 USD borrowed" in lines[0]
    assert "Liquidation price 90.45 USD, bankruptcy price 90.00 USD" in lines[1]
    assert lines[3].split() == ["95.00", "500.00", "47.50", "9.5%", "open"]
    # 90.46: equity 1,000 - 100 * 9.54 = 46; maintenance 0.5 * 90.46 = 45.23; ratio 98.3%
    assert lines[4].split() == ["90.46", "46.00", "45.23", "98.3%", "open"]
    assert lines[5].split()[-1] == "LIQUIDATED"
    assert lines[6].split() == ["90.00", "0.00", "45.00", "no", "equity", "LIQUIDATED"]
    with pytest.raises(ValueError, match="marks must hold at least one"):
        readout_table(())


def test_equity_at_the_bankruptcy_price_reads_zero_not_minus_zero():
    # 50x long at 10.50 with no maintenance: bankruptcy at 10.50 * (1 - 1/50) = 10.29, where
    # the float equity is a hair below zero
    text = margin_state("long", 10.5, 50, 0.0, mark=10.29).text()
    assert "Equity 0.00 USD" in text and "-0.00" not in text.split("Equity")[1].split("(")[0]


def test_the_model_lives_in_the_core_and_the_old_path_still_works():
    """lesson 01 prints its table without a widget library; ui.margin re-exports the model."""
    import marginloops.margin as core
    import marginloops.ui.margin as view
    assert view.margin_state is core.margin_state and view.readout_table is core.readout_table
    assert view.MarginState is core.MarginState
