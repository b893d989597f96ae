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
    # round 2: the fund's sale took the price on down after the orders' last fill (95.5):
    # the same way, so no wick
    hist = [Rec(0, 100.0, 97.0, 97.0), Rec(1, 97.0, 95.0, 95.0), Rec(2, 95.0, 95.0),
            Rec(3, 95.0, 94.0, 95.5)]
    chart = _chart()
    chart.update(hist)
    assert list(chart.line.x) == [0, 1, 2, 3]
    assert list(chart.line.y) == [97.0, 95.0, 95.0, 94.0]
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


# ---------------------------------------------------------------- the narration
from marginloops.narration import narrate, narrate_end, narrate_history  # noqa: E402

BINANCE = PRESETS["binance-style"]
CROWDED_MARK = PRESETS["crowded-longs"].replace(index_venues=((5e6, 1.0), (3e6, 1.0)),
                                                price_source="mark", arbitrage=0.3)


def _p(x):
    return f"{x:,.2f}"


def test_the_shock_reaches_its_last_fill_and_arbitrage_lifts_it():
    hist = BINANCE.cascade().run()
    r0 = hist[0]
    assert r0.last_fill_price < r0.price_after  # the wick: arbitrage lifted it
    line = narrate(r0)
    drop = 1 - r0.last_fill_price / r0.price_before
    assert line.startswith(
        f"Round 0 (the shock): an outside seller sold {r0.shock_qty:,.0f} units and took the "
        f"price {drop * 100:.1f}% lower, from {_p(r0.price_before)} to its last fill "
        f"{_p(r0.last_fill_price)}. Arbitrageurs bought")
    assert (f"lifting it from {_p(r0.last_fill_price)} to {_p(r0.price_after)}, and sold them "
            "on the index venues") in line
    assert "moved the price" not in line
    # the end's "times the shock" is measured against the shock's own move
    end = narrate_end(hist)
    assert f"the shock's {drop * 100:.1f}%" in end


def test_within_reach_names_the_mark_price_when_margins_are_checked_on_it():
    hist = BINANCE.cascade().run()
    lines = narrate_history(hist)
    r0, r1 = hist[0], hist[1]
    assert r1.check_price == r0.mark_price != r0.price_after
    # round 0 cannot tell alone; the history (and the explorer) give it the next check
    assert (f"{r0.pending} positions are now within reach: the mark price, "
            f"{_p(r0.mark_price)}, has reached their liquidation price.") in lines[0]
    assert "the price has reached" in narrate(r0)
    assert f"the mark price, {_p(r0.mark_price)}, has reached" in narrate(r0, r1.check_price)
    # a later round knows from its own check
    assert r1.pending and f"the mark price, {_p(r1.mark_price)}, has reached" in narrate(r1)
    # checked on the last price: the words are unchanged
    last = CROWDED_MARK.replace(price_source="last").cascade().run()
    assert all("the mark price, " not in s for s in narrate_history(last))
    assert "the price has reached their liquidation price" in narrate_history(last)[0]


def test_limited_orders_that_could_not_trade_leave_the_price_where_it_was():
    hist = BINANCE.cascade().run()
    r = next(r for r in hist[1:] if r.n_liquidated and r.filled_qty == 0 and r.arb_qty > 0)
    line = narrate(r)
    # nothing was sent to the book: no "(0 USD)" (the fund's sentence says what it took over)
    assert (f"Round {r.round}: {r.n_liquidated} longs were liquidated; no "
            "liquidation order") in line
    assert f"so nothing was sold and the price stayed at {_p(r.price_before)}." in line
    assert "(0 USD)" not in line and "n/a" not in line
    assert f"lifting it from {_p(r.price_before)}" in line


def test_quiet_rounds_say_arbitrage_goes_on_then_stops():
    hist = CROWDED_MARK.cascade().run()
    quiet = [r for r in hist[1:] if not r.n_liquidated and not r.filled_qty]
    assert quiet and quiet[-1] is hist[-1]
    for r in quiet[:-1]:
        line = narrate(r)
        assert line.startswith(f"Round {r.round}: nobody is liquidated: ")
        assert "arbitrageurs go on closing the gap to the index: they bought" in line
        assert "next update would" not in line
    assert "arbitrageurs stop" in narrate(hist[-1])


def test_a_stale_mark_waits_for_its_update():
    sc = PRESETS["crowded-longs"].replace(index_venues=((5e6, 1.0), (3e6, 1.0)),
                                          price_source="mark", mark_interval=3)
    hist = sc.cascade().run()
    stale = [r for r in hist[1:] if not r.n_liquidated and not r.filled_qty
             and r.end_reason is None]
    assert stale, [(r.round, r.n_liquidated) for r in hist]
    line = narrate(stale[0])
    assert f"the mark price {_p(stale[0].check_price)} reaches no long's" in line
    assert "the next update would reach some" in line


def test_a_fund_selling_after_the_orders_draws_no_wick():
    ex = CascadeExplorer(SMALL.replace(liquidation_orders="bankruptcy", fund_unwind=0.5))
    ex.run_to_end()
    hist = ex.cascade.history
    # the fund's sale takes the price on down after some round's last fill
    assert any(r.last_fill_price > r.price_after for r in hist), "no such round to test"
    assert list(ex.price_chart.wick.x) == []
    assert list(ex.price_chart.line.y) == [r.price_after for r in hist]
    assert "the wick" not in ex.price_chart.caption.value


def test_phase_mode_words_for_a_wick():
    from marginloops.narration import narrate_new_price, narrate_shock

    r0 = BINANCE.cascade().run()[0]
    shock = narrate_shock(r0, BINANCE.shock)
    assert f"its last fill is at {_p(r0.last_fill_price)}." in shock
    assert "the price the next stage sets" not in shock
    assert narrate_new_price(r0) == (
        f"New price: the order's last fill was {_p(r0.last_fill_price)}; what traded after it "
        f"in the round took the price to {_p(r0.price_after)}, the new price, "
        f"{(1 - r0.price_after / r0.price_before) * 100:.1f}% lower than "
        f"{_p(r0.price_before)}.")
    plain = PRESETS["crowded-longs"].cascade().run()[0]  # no arbitrage: the words as before
    assert "the price the next stage sets" in narrate_shock(plain, 0.03)
    assert narrate_new_price(plain).startswith("New price: the last fill, ")


def test_the_explorer_names_the_mark_price_in_round_0():
    ex = CascadeExplorer(BINANCE)
    ex.step()
    r0 = ex.cascade.history[0]
    assert r0.pending > 0
    assert (f"now within reach: the mark price, {_p(r0.mark_price)}, has reached their "
            "liquidation price.") in ex.narration[-1]


def test_positions_taken_over_without_an_order_count_in_the_liquidated_notional():
    ex = CascadeExplorer(BINANCE)
    for _ in range(3):
        ex.step()
    hist = ex.cascade.history
    r1 = hist[1]
    assert r1.n_liquidated and r1.notional_liquidated == 0 and r1.fund_gap_qty > 0
    bars = ex.liquidations_chart.bars.y[0]  # longs
    assert bars[1] == r1.fund_gap_qty * r1.price_before > 0
    total = sum(r.notional_liquidated + (r.fund_gap_qty + r.backstop_qty) * r.price_before
                for r in hist[1:])
    assert "liquidated so far: " in ex.status.value
    assert f"closed ({_money(total)})" in ex.status.value


def _money(x):
    from marginloops.narration import money

    return money(x)
