"""Empty money axes read in whole units (the course walk saw "1.00, 800m, 600m" on the
liquidated-notional and fund / bad debt axes of a market where nothing had happened yet, which
a student reads as 800 million)."""

from marginloops import Scenario
from marginloops.ui.view import EMPTY_AXIS_MAX, View


def calm_nothing_liquidated():
    """A market whose shock reaches no liquidation price (2x longs sit about 50% below a 1%
    shock): nothing is liquidated, no fund, no bad debt."""
    return Scenario.preset("crowded-longs").replace(leverage_mix=((2, 1.0),), shock=0.01,
                                                    insurance_fund=0.0)


def test_an_axis_with_nothing_to_show_tops_at_a_whole_thousand():
    market = calm_nothing_liquidated()
    history = market.cascade().run()
    assert max(r.notional_liquidated for r in history) == 0  # the premise
    view = View.of(market.cascade())
    assert view.notional_max == EMPTY_AXIS_MAX == 1000.0
    assert view.money_max == EMPTY_AXIS_MAX


def test_the_explorers_empty_axes_have_no_tick_below_one_but_zero():
    from marginloops import CascadeExplorer
    ex = CascadeExplorer(calm_nothing_liquidated())
    charts = (ex.liquidations_chart, ex.oi_chart)
    for chart in charts:
        for axis in chart.figure.axes:
            if axis.orientation == "vertical":
                ticks = [float(t) for t in axis.tick_values]
                assert all(t == 0 or t >= 1 for t in ticks), (chart, ticks)


def test_view_of_reads_a_run_on_a_pool():
    """View.of works on any venue: on a pool its price range holds the whole run, and the
    depth axis (a book's only) is left at the empty axis's top."""
    cascade = Scenario.preset("crowded-longs").replace(venue="pool").cascade()
    view = View.of(cascade)
    history = cascade.run()
    prices = [r.price_after for r in history] + [history[0].price_before]
    assert view.price_lo <= min(prices) and max(prices) <= view.price_hi
    assert view.tick is None and view.depth_max == EMPTY_AXIS_MAX
    assert view.notional_max >= max(r.notional_liquidated for r in history)
