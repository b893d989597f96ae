"""What the explorer's charts send on a Step (issue 11, the browser path): only the traits whose
value changed, each mark's in one message, so unchanged marks are not redrawn in the browser.

The messages are counted where ipywidgets sends them (``Widget._send``, one call per message),
without a browser: each records the widget and the trait names it carries.
"""

import numpy as np
import pytest
from ipywidgets import Widget

from marginloops import CascadeExplorer, Scenario
from marginloops.ui.chartkit import same_value, set_changed

SMALL = Scenario.preset("crowded-longs").replace(n_positions=600)


def chart_marks(ex):
    """{mark: name} for every mark of the explorer's five cascade charts."""
    charts = {"price": ex.price_chart, "liquidated": ex.liquidations_chart,
              "book": ex.book_chart, "map": ex.map_chart, "oi": ex.oi_chart}
    return {mark: f"{name}.{i}" for name, chart in charts.items()
            for i, mark in enumerate(chart.figure.marks)}


@pytest.fixture
def sent(monkeypatch):
    """The update messages sent while the test runs: (widget, trait names) per message."""
    log = []
    original = Widget._send

    def record(self, msg, buffers=None):
        if msg.get("method") == "update":
            log.append((self, tuple(msg["state"]) + tuple(p[0] for p in msg["buffer_paths"])))
        return original(self, msg, buffers=buffers)

    monkeypatch.setattr(Widget, "_send", record)
    return log


def snapshot(marks):
    return {mark: {"x": np.array(mark.x, copy=True), "y": np.array(mark.y, copy=True)}
            for mark in marks}


def test_same_value_compares_by_value():
    assert same_value(np.arange(3), [0, 1, 2])
    assert same_value(np.array([1.0, np.nan]), [1.0, np.nan])  # NaN is NaN, as drawn
    assert same_value(np.zeros((2, 3)), [np.zeros(3), np.zeros(3)])
    assert same_value(np.array([]), [])
    assert not same_value(np.arange(3), [0, 1])  # another length
    assert not same_value(np.zeros((2, 3)), [np.zeros(3), np.array([0.0, 0.0, 1e-12])])
    assert not same_value(None, [])


def test_set_changed_sends_one_message_with_only_the_changed_traits(sent):
    import bqplot as bq
    line = bq.Lines(x=[0.0, 1.0], y=[2.0, 3.0])
    sent.clear()
    assert set_changed(line, x=[0.0, 1.0], y=[2.0, 3.0]) == ()
    assert sent == []
    assert set_changed(line, x=[0.0, 1.0], y=[2.0, 4.0], colors=["red"]) == ("y", "colors")
    assert len(sent) == 1 and set(sent[0][1]) == {"y", "colors"}
    np.testing.assert_array_equal(line.y, [2.0, 4.0])


def test_a_step_sends_each_mark_at_most_once_and_only_what_changed(sent):
    ex = CascadeExplorer(SMALL)
    marks = chart_marks(ex)
    steps = 0
    while not ex.cascade.ended:
        before = snapshot(marks)
        sent.clear()
        ex.time.step_button.click()
        steps += 1
        per_mark = {}
        for widget, names in sent:
            if widget in marks:
                per_mark.setdefault(widget, []).append(names)
        for mark, messages in per_mark.items():
            assert len(messages) == 1, (marks[mark], messages)  # one message per mark
            for name in messages[0]:
                if name in ("x", "y"):  # every array sent has a new value
                    assert not same_value(before[mark][name], getattr(mark, name)), (
                        marks[mark], name, steps)
        # and every mark whose data changed was sent
        for mark in marks:
            changed = [n for n in ("x", "y") if not same_value(before[mark][n],
                                                               getattr(mark, n))]
            if changed:
                assert mark in per_mark and set(changed) <= set(per_mark[mark][0]), (
                    marks[mark], changed)
    assert steps > 3


def test_static_parts_are_not_resent_on_a_step(sent):
    """What a crash run never changes after the first Step: the bars' slots (x), the book's
    bins, the shorts' outline (no shorts), the shock's triangle, the start line."""
    ex = CascadeExplorer(SMALL)
    ex.time.step_button.click()
    sent.clear()
    while not ex.cascade.ended:
        ex.time.step_button.click()
    assert ex.cascade.history[-1].round >= 3
    by_mark = {}
    for widget, names in sent:
        by_mark.setdefault(widget, set()).update(names)
    static = {ex.map_chart.shorts_edge: "map's shorts outline", ex.price_chart.shock: "shock",
              ex.price_chart.start_line: "start line"}
    for mark, what in static.items():
        assert mark not in by_mark, (what, by_mark.get(mark))
    for mark in (ex.map_chart.layers, ex.liquidations_chart.bars, ex.book_chart.resting,
                 ex.book_chart.taken):
        assert "x" not in by_mark.get(mark, set())
    # the things that do move, do get sent
    assert "y" in by_mark[ex.map_chart.layers] and "y" in by_mark[ex.price_chart.line]
    assert "y" in by_mark[ex.liquidations_chart.bars] and "y" in by_mark[ex.book_chart.taken]


def test_a_second_reset_sends_no_chart_data(sent):
    ex = CascadeExplorer(SMALL)
    ex.time.step_button.click()
    ex.time.reset_button.click()
    sent.clear()
    ex.time.reset_button.click()
    marks = chart_marks(ex)
    resent = [(marks[w], names) for w, names in sent
              if w in marks and {"x", "y"} & set(names)]
    assert resent == []
