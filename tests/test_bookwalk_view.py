"""BookWalkView headless: hand-worked walks drawn and read out, the book running out, the
1% question, ranges that make invalid states impossible, and a chart built once.

Hand numbers: the lesson's flat book with 2M USD of 1% depth around 100 (tick 0.10) has ten bid
levels 99.90 ... 99.00 within 1%, each of a = 2,000,000 / 994.5 units (994.5 is the sum of the
ten prices); its asks 100.10 ... 101.00 hold b = 2,000,000 / 1005.5 units each. The deep book
puts k * c units on the k-th level, c = 2,000,000 / 5461.5 (5461.5 = sum of k * price, k = 1..10).
"""

import ipywidgets as widgets
import numpy as np
import pytest

from marginloops.ui import style
from marginloops.ui.bookwalk import BookWalkView

A = 2_000_000 / 994.5  # units per bid level, flat 2M book
B = 2_000_000 / 1005.5  # units per ask level
C = 2_000_000 / 5461.5  # deep book: level k holds k * C


def test_hand_sized_walk_two_and_a_half_levels():
    # 2.5 levels: a at 99.90, a at 99.80, a/2 at 99.70.
    view = BookWalkView(order_size=2.5 * A)
    avg = (99.9 + 99.8 + 0.5 * 99.7) / 2.5  # = 99.82
    assert avg == pytest.approx(99.82)
    assert view.fill.filled == pytest.approx(2.5 * A)
    assert view.fill.avg_price == pytest.approx(99.82)
    assert view.fill.last_price == pytest.approx(99.7)
    assert view.start == pytest.approx(99.9)
    text = view.summary
    assert "Sold 5,028 units into the bids, over 3 levels, from 99.90 down to 99.70." in text
    assert "Average fill 99.82 USD; last fill (the new price) 99.70 USD" in text
    assert "Slippage 0.08%" in text  # (99.90 - 99.82) / 99.90 = 0.0801%
    assert "the price moved 0.20%" in text  # (99.90 - 99.70) / 99.90 = 0.2002%
    assert "ran out" not in text


def test_hand_walk_is_drawn_bars_and_rules():
    view = BookWalkView(order_size=2.5 * A)
    x = np.asarray(view.bars.x)
    bids_left, asks_left, taken = np.asarray(view.bars.y)
    at = {p: int(np.argmin(abs(x - p))) for p in (99.9, 99.8, 99.7, 99.6, 100.1)}
    assert view.figure.axes[1].label == "units resting per level"  # one bar per level
    assert taken[at[99.9]] == pytest.approx(A) and bids_left[at[99.9]] == 0
    assert taken[at[99.8]] == pytest.approx(A)
    assert taken[at[99.7]] == pytest.approx(A / 2) and bids_left[at[99.7]] == pytest.approx(A / 2)
    assert taken[at[99.6]] == 0 and bids_left[at[99.6]] == pytest.approx(A)
    assert asks_left[at[100.1]] == pytest.approx(B) and taken.sum() == pytest.approx(2.5 * A)
    assert view.start_rule.x[0] == pytest.approx(99.9)
    assert view.avg_rule.x[0] == pytest.approx(99.82)
    assert view.last_rule.x[0] == pytest.approx(99.7)
    assert list(view.rule_labels.text) == ["start 99.90", "average 99.82", "last 99.70"]
    assert view.taken_label.text[0] == "taken: 5,028 units"
    # the price axis holds the rules, with room on the far side
    assert view.x.min < 99.7 < 99.9 < view.x.max


def test_deep_book_three_levels_by_hand():
    view = BookWalkView(order_size=6 * C, shape="deep")  # C + 2C + 3C
    assert view.fill.avg_price == pytest.approx((99.9 + 2 * 99.8 + 3 * 99.7) / 6)  # 99.7667
    assert view.fill.last_price == pytest.approx(99.7)
    assert "Average fill 99.77 USD" in view.summary


def test_buy_walks_the_asks_upwards():
    view = BookWalkView(order_size=2 * B, side="buy")
    assert view.start == pytest.approx(100.1)
    assert view.fill.avg_price == pytest.approx(100.15)
    assert view.fill.last_price == pytest.approx(100.2)
    assert "Bought 3,978 units from the asks, over 2 levels, from 100.10 up to 100.20." \
        in view.summary
    bids_left, asks_left, taken = np.asarray(view.bars.y)
    assert taken.sum() == pytest.approx(2 * B) and bids_left.sum() > 0
    assert view.x.min < 100.1 < 100.2 < view.x.max


def test_thin_book_runs_out_and_says_how_much_is_unfilled():
    # the thin book ends 2% from 100: twenty levels of a units, 40,221.2 units in all
    view = BookWalkView(order_size=50_000, shape="thin")
    assert view.fill.filled == pytest.approx(20 * A)
    assert view.fill.unfilled == pytest.approx(50_000 - 20 * A)  # 9,778.8
    assert view.fill.last_price == pytest.approx(98.0)
    assert "The book ran out: 9,779 units unfilled." in view.summary
    assert "The book ran out" in view.readout.value
    assert "role='status'" in view.readout.value
    # the same order on the flat book fills in full
    view.shape_buttons.value = "flat"
    assert view.fill.unfilled == 0 and "ran out" not in view.summary


def test_readout_answers_how_big_an_order_moves_the_price_one_percent():
    view = BookWalkView()
    # ten levels 99.90 ... 99.00 lie within 1% of 99.90 (98.90 is 1.001% away): 10 a units
    assert f"Up to {10 * A:,.0f} units (2.00M USD)" in view.summary
    assert "one unit more fills at 98.90, 1.001% away" in view.summary
    view.depth_knob.value = 4.0  # twice the depth: twice the order
    assert f"Up to {20 * A:,.0f} units (4.00M USD)" in view.summary


def test_a_bigger_order_typed_in_the_box_moves_the_rules_and_the_slippage():
    view = BookWalkView(order_size=5_000)
    figure, bars = view.figure, view.bars
    before = (view.last_rule.x[0], view.avg_rule.x[0], view.summary)
    view.size_knob.box.value = 15_000
    assert view.order_size == 15_000 and view.size_knob.slider.value == 15_000
    assert view.last_rule.x[0] < before[0] and view.avg_rule.x[0] < before[1]
    assert view.summary != before[2]
    assert view.figure is figure and view.bars is bars  # updated in place, never re-created
    assert view.x.min == pytest.approx(97.85)  # both walks fit the same 2% window: no jump


def test_a_walk_past_the_window_widens_the_axis_and_groups_levels():
    view = BookWalkView(order_size=300_000)  # 2 * 300,000 / a ~ 149 levels: 15% down
    assert view.fill.last_price == pytest.approx(99.9 - 0.1 * (np.ceil(300_000 / A) - 1))
    assert view.x.min < view.fill.last_price
    assert len(view.bars.x) <= 100
    assert view.figure.axes[1].label.startswith("units resting per ")
    assert "levels" in view.figure.axes[1].label
    # no bar holds bids and asks together: bars are grouped outwards from the touch
    bids_left, asks_left, taken = np.asarray(view.bars.y)
    assert not ((bids_left + taken > 0) & (asks_left > 0)).any()


def test_taken_part_differs_by_colour_opacity_and_label():
    view = BookWalkView()
    colours = list(view.bars.colors)
    assert colours[2] == style.VERMILLION and colours[2] not in colours[:2]
    assert view.bars.opacities[2] < view.bars.opacities[0]
    assert view.taken_label.text[0].startswith("taken:")
    assert "taken by the order" in view.caption.value
    assert {r.line_style for r in (view.start_rule, view.avg_rule, view.last_rule)} == {
        "dashed", "dotted", "solid"}


@pytest.mark.parametrize(("kwargs", "words"), [
    ({"order_size": 5}, "order_size must be in [10, 1000000], got 5"),
    ({"order_size": 2e6}, "order_size must be in [10, 1000000], got 2e+06"),
    ({"order_size": "big"}, "order_size must be a number"),
    ({"depth_1pct": 50_000}, "depth_1pct must be in [100000, 20000000], got 50000"),
    ({"shape": "growing"}, "shape must be one of ('flat', 'deep', 'thin'), got 'growing'"),
    ({"side": "short"}, "side must be one of ('sell', 'buy'), got 'short'"),
])
def test_invalid_settings_are_refused_with_the_range(kwargs, words):
    with pytest.raises(ValueError, match=None) as err:
        BookWalkView(**kwargs)
    assert words in str(err.value)


def test_boxes_cannot_hold_an_invalid_value():
    view = BookWalkView()
    view.size_knob.box.value = 5e7  # above the range: clamped to the top
    assert view.order_size == BookWalkView.SIZE_RANGE[1]
    view.size_knob.box.value = 1
    assert view.order_size == BookWalkView.SIZE_RANGE[0]
    view.depth_knob.box.value = 0
    assert view.depth_1pct == pytest.approx(BookWalkView.DEPTH_RANGE[0])
    assert view.size_knob.box.description == "Order size (units)"
    assert view.depth_knob.box.description == "1% depth (M USD)"


def _all_widgets(widget):
    yield widget
    for child in getattr(widget, "children", ()):
        yield from _all_widgets(child)


def test_no_button_says_step():
    # The generic lesson test presses the first button reading "Step": this widget has none.
    view = BookWalkView()
    texts = []
    for w in _all_widgets(view):
        if isinstance(w, widgets.Button):
            texts.append(w.description)
        if isinstance(w, widgets.ToggleButtons):
            texts.extend(label for label, _ in w.options)
    assert texts and not [t for t in texts if "step" in t.lower()]
