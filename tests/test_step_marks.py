"""The filled step lines that draw the book's take and the liquidation map (issue 11's browser
path): the stacking by hand, the shorts' outline by hand, and the picture they make equal to the
numbers they were given."""

import numpy as np
import pytest

from marginloops import CascadeExplorer, Scenario
from marginloops.ui.cascade_charts import outline_bins, step_layers


def test_step_layers_stack_from_the_top_down_by_hand():
    # two bins; series (bottom first): longs [1, 2], shorts [0, 3], reached [4, 0]
    rows = step_layers([[1, 2], [0, 3], [4, 0]])
    # drawn first: the whole stack (5, 5), then longs + shorts (1, 5), then longs (1, 2);
    # each row repeats its last value for the right edge of the last bin
    np.testing.assert_array_equal(rows, [[5, 5, 5], [1, 5, 5], [1, 2, 2]])


def test_step_layers_of_one_series_is_that_series_with_its_right_edge():
    np.testing.assert_array_equal(step_layers([[0.5, 0, 2]]), [[0.5, 0, 2, 2]])


def test_outline_bins_by_hand():
    edges = np.array([10.0, 11.0, 12.0, 13.0])
    x, y = outline_bins(edges, np.array([1.0, 2.0, 3.0]), np.array([4.0, 2.0, 5.0]),
                        np.array([True, False, True]))
    nan = np.nan
    # no NaN at the end: bqplot puts a line's label at its last point (a NaN is an error)
    np.testing.assert_array_equal(x, [10, 11, 11, 10, 10, nan, 12, 13, 13, 12, 12])
    np.testing.assert_array_equal(y, [4, 4, 1, 1, 4, nan, 5, 5, 3, 3, 5])


def test_outline_bins_of_nothing_is_empty():
    x, y = outline_bins(np.arange(4.0), np.zeros(3), np.zeros(3), np.zeros(3, bool))
    assert x.size == 0 and y.size == 0


@pytest.mark.parametrize("name", ["crowded-longs", "short-squeeze"])
def test_the_drawn_layers_are_the_series_stacked(name):
    ex = CascadeExplorer(Scenario.preset(name))
    for _ in range(3):
        ex.time.step_button.click()
        lmap = ex.map_chart
        layers = np.asarray(lmap.layers.y)
        assert np.asarray(lmap.layers.x).tolist() == lmap.edges.tolist()
        # the whole stack first: longs + shorts + reached + liquidated, bin by bin
        np.testing.assert_allclose(layers[0, :-1], lmap.series.sum(axis=0), rtol=1e-12)
        np.testing.assert_allclose(layers[-1, :-1], lmap.series[0], rtol=1e-12)
        # never a layer above the one drawn before it (each covers the lower part only)
        assert (np.diff(layers, axis=0) <= 1e-9 * max(layers.max(), 1.0)).all()
        # the book's take: units per bin, what the round's order filled from the book
        book = ex.book_chart
        np.testing.assert_array_equal(np.asarray(book.taken.y)[:-1], book.taken_units)
        rec = ex.cascade.history[-1]
        assert book.taken_units.sum() == pytest.approx(
            rec.book_qty.sum() if rec.book_qty.size else 0.0, rel=1e-9, abs=1e-9)
