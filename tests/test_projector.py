"""Projector mode without a browser: the toggle changes the real bqplot marks and axes (and the
explorer's CSS class), and pressing it again restores every value exactly."""

import copy

import bqplot as bq
import pytest

from marginloops import CascadeExplorer, CompareExplorer, Scenario
from marginloops.ui import style
from marginloops.ui.charts import LiquidationsChart

SMALL = Scenario.preset("crowded-longs").replace(n_positions=600)
#: Every trait projector mode may touch, on marks, axes, figures and figure layouts.
TRAITS = ("stroke_width", "marker_size", "default_size", "colors", "stroke", "tick_style",
          "color", "label_color", "label_offset", "title_style", "fig_margin", "height")


def look(charts) -> dict:
    """Every styling trait of every mark, axis, figure and figure layout of ``charts``."""
    out = {}
    for c, chart in enumerate(charts):
        fig = chart.figure
        parts = [("figure", fig), ("layout", fig.layout)]
        parts += [(f"mark{i}", m) for i, m in enumerate(fig.marks)]
        parts += [(f"axis{i}", a) for i, a in enumerate(fig.axes)]
        for name, obj in parts:
            for trait in TRAITS:
                if obj.has_trait(trait):
                    out[(c, name, trait)] = copy.deepcopy(getattr(obj, trait))
    return out


def contrast(colour, background="#FFFFFF") -> float:
    """WCAG 2 contrast ratio of two sRGB hex colours."""
    def lum(hex_):
        rgb = [int(hex_.lstrip("#")[i:i + 2], 16) / 255 for i in (0, 2, 4)]
        lin = [v / 12.92 if v <= 0.03928 else ((v + 0.055) / 1.055) ** 2.4 for v in rgb]
        return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]
    hi, lo = sorted((lum(colour), lum(background)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def test_contrast_formula_matches_known_ratios():
    assert contrast("#000000") == pytest.approx(21.0)
    assert contrast("#767676") == pytest.approx(4.54, abs=0.01)  # the classic 4.5:1 grey
    assert contrast("#595959") == pytest.approx(7.0, abs=0.01)


def test_projector_colours_are_dark_enough_and_replace_only_weak_ones():
    for light, dark in style.PROJECTOR_COLOURS.items():
        assert contrast(light) < 4.5 <= contrast(dark), (light, dark)
    # Okabe-Ito's yellow and sky blue are the weakest (1.3:1 and 2.3:1 on white).
    assert contrast(style.YELLOW) == pytest.approx(1.32, abs=0.01)
    assert contrast(style.SKY) == pytest.approx(2.31, abs=0.01)
    for kept in (style.BLACK, style.BLUE, style.VERMILLION):
        assert style.projector_colour(kept) == kept
    assert style.projector_colour(style.ORANGE.lower()) == style.PROJECTOR_COLOURS[style.ORANGE]
    assert style.projector_colour("white") == "white"


def test_toggle_thickens_enlarges_darkens_and_restores_exactly():
    ex = CascadeExplorer(SMALL)
    ex.time.step_button.click()
    charts = ex._charts()
    before = look(charts)
    assert not ex.projector and style.PROJECTOR_CLASS not in ex._dom_classes
    assert style.ROOT_CLASS in ex._dom_classes

    ex.projector_toggle.value = True  # what a click on "Projector mode" does
    assert ex.projector and style.PROJECTOR_CLASS in ex._dom_classes
    assert all(chart.projector for chart in charts)
    price, liq = ex.price_chart, ex.liquidations_chart
    # Lines 3 px -> 3 x 1.75 = 5.25 px, markers 40 -> 80 (area), outlines 1 -> 2 px.
    assert price.line.stroke_width == pytest.approx(5.25)
    assert price.line.marker_size == pytest.approx(80)
    assert price.shock.default_size == pytest.approx(320)
    assert liq.bars.stroke_width == pytest.approx(2.0)
    # The map's layers are lines: outlines 0.75 -> 0.75 x 1.75 px; the shorts' edge 3 -> 5.25.
    assert ex.map_chart.layers.stroke_width == pytest.approx(1.3125)
    assert ex.map_chart.shorts_edge.stroke_width == pytest.approx(5.25)
    # Orange (2.2:1), grey and green give way to darker stand-ins; blue and black stay.
    assert list(liq.bars.colors) == [style.BLUE, "#8F5F00"]
    # The map's fills, drawn from the whole stack down: the orange of open shorts darkens too.
    assert list(ex.map_chart.layers.fill_colors) == ["white", style.VERMILLION, "#8F5F00",
                                                     style.BLUE]
    assert list(ex.book_chart.taken.fill_colors) == [style.VERMILLION]
    assert list(price.start_line.colors) == ["#595959"]
    assert list(ex.oi_chart.fund.colors) == ["#00775A"]
    assert list(price.line.colors) == [style.BLUE]
    # Axes and titles: bigger, black; room for them.
    for chart in charts:
        fig = chart.figure
        assert fig.title_style["font-size"] == "18px" and fig.title_style["fill"] == "#000000"
        assert fig.layout.height == "380px"
        for axis in fig.axes:
            assert axis.tick_style["font-size"] == "16px" and axis.color == "#000000"
            assert axis.label_color == "#000000"
    x_axis, y_axis = price.figure.axes
    assert (x_axis.label_offset, y_axis.label_offset) == ("51px", "71px")
    assert dict(price.figure.fig_margin) == {"top": 48, "bottom": 64, "left": 115, "right": 30}
    assert look(charts) != before

    ex.projector_toggle.value = False
    assert look(charts) == before
    assert not ex.projector and style.PROJECTOR_CLASS not in ex._dom_classes


def test_projector_is_idempotent_and_set_projector_moves_the_button():
    ex = CascadeExplorer(SMALL)
    ex.set_projector(True)
    ex.set_projector(True)  # not 5.25 x 1.75
    assert ex.projector_toggle.value is True
    assert ex.price_chart.line.stroke_width == pytest.approx(5.25)
    ex.set_projector(False)
    ex.set_projector(False)
    assert ex.projector_toggle.value is False
    assert ex.price_chart.line.stroke_width == pytest.approx(3.0)


def test_projector_survives_stepping_and_a_new_market():
    ex = CascadeExplorer(SMALL)
    before = look(ex._charts())
    ex.set_projector(True)
    ex.time.step_button.click()
    ex.time.step_button.click()
    assert len(ex.price_chart.line.y) == 2
    assert ex.price_chart.line.stroke_width == pytest.approx(5.25)
    # A squeeze outlines its bars 3 px wide (1 px for a crash): 4 px in projector mode.
    ex.controls.direction.value = "up"
    assert ex.liquidations_chart.bars.stroke_width == pytest.approx(
        LiquidationsChart.STROKE["up"] + style.PROJECTOR_OUTLINE_ADD)
    ex.set_projector(False)
    assert ex.liquidations_chart.bars.stroke_width == LiquidationsChart.STROKE["up"]
    ex.controls.direction.value = "down"
    assert look(ex._charts()) == before


def test_compare_explorer_projector_mode():
    a = SMALL
    ex = CompareExplorer(a, a.replace(depth_1pct=6e6), labels=("thin", "deep"))
    before = look(ex._charts())
    widths = [line.stroke_width for line in ex.price_chart.lines]
    assert widths == [3, 3]
    ex.projector_toggle.value = True
    assert style.PROJECTOR_CLASS in ex._dom_classes
    assert [line.stroke_width for line in ex.price_chart.lines] == pytest.approx([5.25, 5.25])
    assert [list(line.colors) for line in ex.price_chart.lines] == [[style.BLUE], ["#8F5F00"]]
    assert list(ex.liquidations_chart.bars.colors) == [style.BLUE, "#8F5F00"]
    ex.time.step_button.click()
    ex.projector_toggle.value = False
    assert look(ex._charts()) == before
    assert style.PROJECTOR_CLASS not in ex._dom_classes


def test_the_button_and_the_stylesheet():
    for ex in (CascadeExplorer(SMALL), CompareExplorer(SMALL, SMALL.replace(seed=2))):
        button = ex.projector_toggle
        assert button.description == "Projector mode" and "bigger text" in button.tooltip
        sheet = ex.children[0]
        assert sheet.layout.display == "none" and sheet.value.startswith("<style>")
        assert ":focus-visible" in sheet.value and "outline: 3px solid #0072B2" in sheet.value
        # the caption's orange key is recoloured by an attribute rule matching its inline style
        assert f"[style*='{style.ORANGE}' i] {{ color: #8F5F00 !important; }}" in sheet.value
        assert "font-size: 18px !important" in sheet.value
    ex = CascadeExplorer(SMALL)
    assert f"color:{style.ORANGE}" in ex.liquidations_chart.caption.value


def test_every_mark_kind_in_a_figure_is_covered():
    """Lines, Scatter and Bars get their sizes changed; any other mark keeps them."""
    sc = {"x": bq.LinearScale(), "y": bq.LinearScale()}
    marks = [bq.Lines(x=[0, 1], y=[0, 1], scales=sc, stroke_width=2, colors=[style.SKY]),
             bq.Scatter(x=[0], y=[0], scales=sc, default_size=50, stroke_width=1.0,
                        colors=[style.YELLOW]),
             bq.Bars(x=[0, 1], y=[1, 2], scales=sc, stroke_width=0.5, colors=[style.PURPLE])]
    from marginloops.ui.chartkit import Chart as Base
    from marginloops.ui.chartkit import figure

    class Chart(Base):
        def __init__(self):
            self.figure = figure("t", marks, [bq.Axis(scale=sc["x"])])

    chart = Chart()
    before = look([chart])
    chart.set_projector(True)
    assert marks[0].stroke_width == pytest.approx(3.5)
    assert list(marks[0].colors) == ["#1F78B4"]
    assert marks[1].default_size == pytest.approx(100) and marks[1].stroke_width == 2.0
    assert list(marks[1].colors) == ["#7A7000"]
    assert marks[2].stroke_width == 1.5 and list(marks[2].colors) == ["#A8407E"]
    chart.set_projector(False)
    assert look([chart]) == before


def test_reset_button_text_is_readable():
    """White on the Reset button's dark vermillion: 5.2:1 (the "warning" orange was 2.7:1)."""
    from marginloops.ui import TimeControls

    reset = TimeControls().reset_button
    assert reset.button_style == "" and reset.style.text_color == "#FFFFFF"
    assert contrast(reset.style.button_color) == pytest.approx(5.2, abs=0.01)
    assert contrast("#F57C00") == pytest.approx(2.7, abs=0.01)  # JupyterLab's warning orange
