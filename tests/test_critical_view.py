"""CriticalRatioView headless: the knobs move the current-market marker and the readout; the
curve is the closed form; the simulated dots agree with it below 1."""

import ipywidgets as widgets
import numpy as np
import pytest

from marginloops.ui.critical import X_MAX, Y_MAX, CriticalRatioView


@pytest.fixture(scope="module")
def view():
    return CriticalRatioView()


def all_widgets(root):
    out, todo = [], [root]
    while todo:
        w = todo.pop()
        out.append(w)
        todo.extend(getattr(w, "children", ()))
    return out


def test_default_market_sits_at_one_half(view):
    view.set_market(2.0, 1.0)
    # n/D = 1 / 2; closed form 1 / (1 - 0.5) = 2; a 2% shock becomes a 4% fall
    assert view.ratio == 0.5 and view.predicted == 2.0
    assert view.simulated == pytest.approx(2.0, abs=0.01)
    assert list(view.marker.x) == [0.5] and view.marker.y[0] == pytest.approx(2.0, abs=0.01)
    text = view.readout.value
    assert "role='status'" in text and "n/D = 0.50" in text
    assert "amplification <b>2.00</b>" in text and "4.0% fall" in text and "dies out" in text


def test_typing_in_a_number_box_moves_the_marker_and_changes_the_readout(view):
    view.set_market(2.0, 1.0)
    marker, before = view.marker, view.readout.value
    view.density_knob.box.value = 1.6           # what a student types: n = 1.6M USD
    assert view.density_knob.slider.value == 1.6  # the box and the slider stay equal
    # n/D = 0.8: closed form 1 / 0.2 = 5, a 10% fall
    assert view.marker.x[0] == pytest.approx(0.8) and view.marker.y[0] == pytest.approx(5.0,
                                                                                         abs=0.02)
    assert view.readout.value != before and "n/D = 0.80" in view.readout.value
    assert "amplification <b>5.00</b>" in view.readout.value
    view.depth_knob.box.value = 6.4             # deeper book: n/D = 1.6 / 6.4 = 0.25
    assert view.marker.x[0] == pytest.approx(0.25)
    assert view.marker.y[0] == pytest.approx(4 / 3, abs=0.02)
    assert view.marker is marker  # updated in place, never re-created


def test_at_one_and_above_the_closed_form_has_no_finite_fall(view):
    view.set_market(1.0, 1.5)
    assert view.ratio == 1.5 and view.predicted == float("inf")
    text = view.readout.value
    assert "n/D = 1.50" in text and "runs through the whole band" in text
    assert view.simulated > 0.3 / 0.02  # past the whole 30% band: more than 15 shocks


def test_a_market_beyond_the_chart_sits_on_its_edge(view):
    view.set_market(0.5, 5.0)                   # n/D = 10
    assert view.marker.x[0] == X_MAX and view.marker.y[0] <= Y_MAX
    assert "beyond the chart" in view.readout.value


def test_the_curve_is_the_closed_form_and_the_dots_agree_below_one(view):
    x, y = np.asarray(view.curve.x), np.asarray(view.curve.y)
    np.testing.assert_allclose(y, 1 / (1 - x))
    assert x.min() == 0 and x.max() < 1 and y.max() == pytest.approx(Y_MAX)
    px, py = np.asarray(view.points.x), np.asarray(view.simulated_grid)
    below = px <= 0.9
    np.testing.assert_allclose(py[below], 1 / (1 - px[below]), rtol=0.01)
    assert (py[px >= 1] >= 15).all()


def test_the_picture_names_its_regions_and_has_a_caption(view):
    assert "dies out (n/D < 1)" in view.labels.text
    assert any("runs through the whole band" in t for t in view.labels.text)
    assert list(view.boundary.x) == [1.0, 1.0]
    assert "closed form" in view.caption.value and "your market" in view.caption.value


def test_knobs_are_labelled_number_boxes_and_their_ranges_keep_the_ratio_valid(view):
    for knob in (view.depth_knob, view.density_knob):
        assert isinstance(knob.box, widgets.BoundedFloatText) and knob.label_widget.value
        assert knob.box.description == knob.label
    lo = view.density_knob.box.min / view.depth_knob.box.max
    hi = view.density_knob.box.max / view.depth_knob.box.min
    assert lo > 0 and hi <= 100  # inside what the simulation accepts


def test_no_button_says_step(view):
    # the lesson browser test presses the first button reading "Step": that must be the
    # sandbox explorer's
    buttons = [w for w in all_widgets(view) if isinstance(w, widgets.Button)]
    assert not any("step" in b.description.lower() for b in buttons)


@pytest.mark.parametrize("kwargs,needle", [
    (dict(depth=20.0), "depth must be in [0.5, 10], got 20"),
    (dict(density=0.0), "density must be in [0.05, 5], got 0"),
    (dict(shock=0.0), "shock must be in (0, 0.1], got 0"),
    (dict(band=0.05), "band must be in [0.1, 0.5], got 0.05"),
])
def test_bad_parameters_are_refused(kwargs, needle):
    with pytest.raises(ValueError) as err:
        CriticalRatioView(**kwargs)
    assert needle in str(err.value)


def test_set_market_refuses_values_the_knobs_cannot_show(view):
    with pytest.raises(ValueError, match="density must be in"):
        view.set_market(2.0, 9.0)


def test_readout_never_predicts_a_fall_beyond_the_band_just_below_one():
    # n/D = 4.95 / 5 = 0.99: the closed form says 1 / 0.01 = 100x, so a 2% shock "becomes" a
    # 200% fall; the readout says the fall passes the 30% band instead of printing 200%.
    view = CriticalRatioView()
    view.set_market(5.0, 4.95)
    text = view.readout.value
    assert "200.0%" not in text and "more than the 30% band" in text
    view.set_market(2.0, 1.0)  # n/D = 0.5: 2x, a 4.0% fall, as before
    assert "a 4.0% fall): the loop dies out" in view.readout.value
