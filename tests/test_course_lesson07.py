"""Lesson 7: the designs and who-pays tables (read against direct runs, and the fund's money
adding up), the venue presets' helper, the claims the lesson's text makes about its runs, and the
exercises (right, wrong and malformed answers)."""

import dataclasses
import json
import re
from pathlib import Path

import pytest

from marginloops import Scenario
from marginloops.cases import CASES
from marginloops.course import lesson07
from marginloops.scenarios import PRESETS

LESSON = Path(__file__).parents[1] / "lessons" / "07-how-exchanges-liquidate.ipynb"


def _fall(history):
    return 1 - history[-1].price_after / history[0].price_before


@pytest.fixture(scope="module")
def runs():
    """{label: (scenario, history)} for the four designs on the lesson's market."""
    return {label: (s, s.cascade().run()) for label, s in lesson07.designs()}


@pytest.fixture
def exercises():
    return lesson07.exercises()


# ---------------------------------------------------------------------- last or mark price
def test_mark_market_adds_only_the_index_and_the_arbitrage():
    base = Scenario.preset("crowded-longs")
    m = lesson07.mark_market()
    assert m == base.replace(index_venues=lesson07.INDEX_VENUES, arbitrage=0.2)
    assert m.price_source == "last"
    # deeper spot venues than the perpetual's own book
    assert all(depth > base.depth_1pct for depth, _ in lesson07.INDEX_VENUES)


def test_price_sources_table_reads_direct_runs():
    lines = lesson07.price_sources_table().splitlines()
    assert len(lines) == 1 + 4
    rows = iter(lines[1:])
    for a in (0.0, 0.2):
        for source in ("last", "mark"):
            history = lesson07.mark_market(arbitrage=a).replace(
                price_source=source).cascade().run()
            cells = next(rows).split()
            assert cells[:3] == [f"{a:.1f}", source, "price"]
            assert cells[3:] == [f"{_fall(history):.1%}",
                                 f"{min(r.price_after for r in history):,.2f}",
                                 f"{sum(r.n_liquidated for r in history):,}",
                                 str(len(history) - 1)]


@pytest.mark.parametrize("bad", [(), (1.5,), (True,), ("0.2",)])
def test_price_sources_table_refuses_bad_arbitrage(bad):
    with pytest.raises(ValueError, match="arbitrages"):
        lesson07.price_sources_table(None, bad)


def test_part_1_the_mark_saves_traders_with_arbitrage_and_only_delays_without():
    def run(a, source):
        return lesson07.mark_market(arbitrage=a).replace(price_source=source).cascade().run()

    last, mark = run(0.2, "last"), run(0.2, "mark")
    n = [sum(r.n_liquidated for r in h) for h in (last, mark)]
    assert n[1] < n[0] and _fall(mark) < _fall(last)
    low = [min(r.price_after for r in h) for h in (last, mark)]
    assert low[1] > low[0]
    # the wick: both end far above their lowest price, within 2% of the start
    for h, lowest in zip((last, mark), low, strict=True):
        assert h[-1].price_after > lowest + 1 and _fall(h) < 0.02
    # the shock moved the last price, not the index; the mark stayed between them
    shock = mark[0]
    assert shock.price_after < shock.mark_price < shock.index_price
    assert shock.index_price > 0.995 * shock.price_before
    # without arbitrage the index never moves and the mark ends where the last price does
    last0, mark0 = run(0.0, "last"), run(0.0, "mark")
    assert mark0[-1].price_after == pytest.approx(last0[-1].price_after, abs=0.01)
    assert len(mark0) > 2 * len(last0)
    assert {round(r.index_price, 6) for r in mark0} == {round(mark0[0].index_price, 6)}


def test_mark_rounds_shows_mark_and_index():
    history = lesson07.mark_market().replace(price_source="mark").cascade().run()
    lines = lesson07.mark_rounds(history, last=2).splitlines()
    assert len(lines) == 4 and "mark / index" in lines[0]
    assert f"{history[1].mark_price:.2f} / {history[1].index_price:.2f}" in lines[2]


# ------------------------------------------------------------------------------ the designs
def test_each_design_changes_only_its_own_fields():
    base = Scenario.preset("crowded-longs")
    got = lesson07.designs()
    assert [label for label, _ in got] == [label for label, _ in lesson07.DESIGNS]
    for (label, scenario), (_, changes) in zip(got, lesson07.DESIGNS, strict=True):
        changed = {f.name for f in dataclasses.fields(Scenario)
                   if getattr(scenario, f.name) != getattr(base, f.name) and f.name != "name"}
        assert changed == set(changes), label
    assert got[0][1] == base  # the first is the course's model so far


def test_designs_on_another_market_keep_its_traders():
    october = CASES["october-2025"].scenario
    for _, scenario in lesson07.designs(october):
        assert scenario.seed == october.seed and scenario.depth_1pct == october.depth_1pct
    with pytest.raises(ValueError, match="scenario"):
        lesson07.designs("crowded-longs")


def test_who_pays_reads_the_records(runs):
    scenario, history = runs["limit + ADL, no fund"]
    w = lesson07.who_pays(history, scenario)
    assert w["fall"] == pytest.approx(_fall(history), rel=1e-12)
    assert w["rounds"] == len(history) - 1
    assert w["liquidated"] == sum(r.n_liquidated for r in history)
    assert w["adl_cost"] == pytest.approx(sum(r.adl_cost for r in history))
    assert w["adl_cost"] > 0 and w["fund_start"] == 0.0
    assert w["bad_debt"] == history[-1].bad_debt and w["fund_end"] == history[-1].insurance_fund


@pytest.mark.parametrize("label", [label for label, _ in lesson07.DESIGNS])
def test_the_funds_money_adds_up(runs, label):
    """start + what the closes brought + the inventory's gain + bad debt = end (bad debt is
    what the fund would have paid below zero): every dollar of the table is accounted for."""
    scenario, history = runs[label]
    w = lesson07.who_pays(history, scenario)
    assert w["fund_start"] + w["to_fund"] + w["inventory_pnl"] + w["bad_debt"] == \
        pytest.approx(w["fund_end"], abs=1e-6)


def test_the_table_has_one_column_a_run_and_the_cells_of_who_pays(runs):
    table = lesson07.designs_table()
    lines = table.splitlines()
    assert len(lines) == 1 + 11
    for label, _ in lesson07.DESIGNS:
        assert label in lines[0]
    fall_cells = lines[1].split()[2:]
    assert fall_cells == [f"{_fall(h):.1%}" for _, h in runs.values()]
    lows = lines[2].split()[2:]
    assert lows == [f"{min(r.price_after for r in h):,.2f}" for _, h in runs.values()]
    took = lines[5].split()[5:]
    assert took == [f"{sum(r.fund_took_qty for r in h):,.0f}" for _, h in runs.values()]


@pytest.mark.parametrize("runs_arg", [[], [("a", "crowded-longs")], [(1, Scenario())]])
def test_who_pays_table_refuses_what_is_not_label_scenario_pairs(runs_arg):
    with pytest.raises(ValueError, match="runs"):
        lesson07.who_pays_table(runs_arg)


def test_fund_rounds_stops_at_the_round_asked(runs):
    _, history = runs["limit at bankruptcy"]
    lines = lesson07.fund_rounds(history, last=3).splitlines()
    assert len(lines) == 1 + 4 and "fund holds" in lines[0]
    assert lines[2].split()[0] == "1"
    assert f"{history[1].fund_inventory:,.0f} units" in lines[2]


# ------------------------------------------------------------------ what the lesson claims
def test_part_1_limited_orders_move_round_1_little_and_end_at_the_same_bottom(runs):
    _, market = runs["market orders"]
    _, limit = runs["limit at bankruptcy"]
    drop = [1 - h[1].price_after / h[1].price_before for h in (market, limit)]
    assert drop[1] < 0.01 < 0.02 < drop[0]
    assert limit[1].fund_took_qty > 0 and limit[1].insurance_fund < 250_000
    # A book that never refills: the same units sold take the price to the same place.
    assert limit[-1].price_after == pytest.approx(market[-1].price_after, abs=0.01)
    assert len(limit) > len(market)


def test_part_2_a_fund_that_holds_slows_the_loop_and_pays_for_it(runs):
    scenario, holds = runs["fund holds"]
    _, market = runs["market orders"]
    assert _fall(holds) < _fall(market) and len(holds) > len(market)
    assert all(r.fund_sold_qty == 0 for r in holds)  # it never sells
    # its inventory loses more than the fund had: the rest is bad debt
    assert -sum(r.fund_inventory_pnl for r in holds) > scenario.insurance_fund
    assert holds[-1].bad_debt > 0


def test_part_5_a_fund_that_holds_stops_the_october_case_at_the_shock():
    _, holds = lesson07.designs(CASES["october-2025"].scenario)[2]
    history = holds.cascade().run()
    assert history[-1].price_after == pytest.approx(history[0].price_after, rel=1e-3)


def test_part_3_adl_with_no_fund_cuts_bad_debt_and_the_winners_pay(runs):
    _, adl = runs["limit + ADL, no fund"]
    _, market = runs["market orders"]
    assert adl[1].adl_cost > 0 and adl[1].n_deleveraged > 0
    assert adl[-1].bad_debt < market[-1].bad_debt / 10
    assert _fall(adl) < _fall(market)


def test_venue_style_is_the_preset_or_its_stand_in():
    for name in lesson07.VENUE_STYLES:
        scenario = lesson07.venue_style(name)
        if name in PRESETS:
            assert scenario is Scenario.preset(name)
        else:
            assert scenario.name == f"{name} (stand-in)"
            for field, value in lesson07.STAND_INS[name].items():
                assert getattr(scenario, field) == value
    with pytest.raises(ValueError, match="name"):
        lesson07.venue_style("bybit-style")


def test_part_5_the_venue_presets_as_the_lesson_reads_them():
    assert all(name in PRESETS for name in lesson07.VENUE_STYLES)  # the stand-ins are unused
    runs = {}
    for name in lesson07.VENUE_STYLES:
        scenario = lesson07.venue_style(name)
        history = scenario.cascade().run()
        w = lesson07.who_pays(history, scenario)
        runs[name] = (scenario, history, w)
        # "Both survive the push": lowest prices above 95.5, no ADL, no bad debt; the money adds up
        assert w["low"] > 95.5 and w["adl_cost"] == 0 and w["bad_debt"] == 0, name
        assert w["fund_start"] + w["to_fund"] + w["inventory_pnl"] + w["bad_debt"] == \
            pytest.approx(w["fund_end"], abs=1e-6)
        assert scenario.price_source == "mark" and scenario.arbitrage > 0
    binance, hyper = runs["binance-style"], runs["hyperliquid-style"]
    assert binance[0].liquidation_orders == "bankruptcy"
    assert hyper[0].liquidation_orders == "backstop" and hyper[0].partial_fraction == 0.2
    assert binance[2]["took"] > hyper[2]["took"] > 0
    assert binance[2]["inventory_pnl"] < hyper[2]["inventory_pnl"] < 0
    # "Both climb back": each ends within 1% of the start, far above its lowest price (the
    # arbitrage goes on in the binance-style fund's selling rounds too)
    for _scenario, history, w in (binance, hyper):
        assert w["fall"] < 0.01 < 1 - w["low"] / history[0].price_before
        assert history[-1].price_after > w["low"] + 2.0


def test_differences_table_names_each_differing_setting_in_a_few_words():
    a, b = (lesson07.venue_style(n) for n in lesson07.VENUE_STYLES)
    lines = lesson07.differences_table(a, b, lesson07.VENUE_STYLES).splitlines()
    from marginloops.compare import differences

    assert [line.split()[0] for line in lines[1:]] == [n for n, _, _ in differences(a, b)]
    venues = next(line for line in lines if line.startswith("index_venues"))
    assert f"{len(a.index_venues)} venues" in venues and f"{len(b.index_venues)} venues" in venues
    base = Scenario.preset("crowded-longs")
    assert lesson07.differences_table(base, base) == "(no difference)"


# ------------------------------------------------------------------------------ exercises
def test_four_exercises_with_hints(exercises):
    assert len(exercises) == 4 and all(len(e.hints) >= 2 for e in exercises)


def test_units_the_fund_holds_after_round_3(exercises):
    ex = exercises[0]
    history = Scenario.preset("crowded-longs").replace(
        liquidation_orders="bankruptcy", fund_unwind=0.5).cascade().run()
    # By hand: what it took over, less what it sold, round by round up to round 3.
    held = sum(r.fund_took_qty - r.fund_sold_qty for r in history[:4])
    assert ex.answer == pytest.approx(history[3].fund_inventory, rel=1e-12)
    assert ex.answer == pytest.approx(held, rel=1e-9)
    assert ex.check(f"{ex.answer:,.0f}").correct
    assert not ex.check(f"{history[1].fund_inventory:,.0f}").correct  # round 1's
    assert not ex.check(f"{history[2].fund_inventory:,.0f}").correct  # round 2's
    assert not lesson07.exercises()[0].check(f"{ex.answer + 2:.0f}").correct


def test_profit_taken_by_adl_with_quote_withdrawal(exercises):
    ex = exercises[1]
    history = Scenario.preset("crowded-longs").replace(
        withdrawal=0.5, liquidation_orders="bankruptcy", adl=True,
        insurance_fund=0).cascade().run()
    assert ex.answer == pytest.approx(sum(r.adl_cost for r in history), rel=1e-12)
    assert ex.check(f"{ex.answer / 1e3:.1f}K").correct  # as the table prints it
    assert not ex.check(f"{history[1].adl_cost:.0f}").correct or \
        history[1].adl_cost == pytest.approx(ex.answer, abs=60)
    without = sum(r.adl_cost for r in Scenario.preset("crowded-longs").replace(
        liquidation_orders="bankruptcy", adl=True, insurance_fund=0).cascade().run())
    assert not ex.check(f"{without / 1e3:.1f}K").correct  # Part 3's, without withdrawal


def test_bad_debt_of_a_small_fund_that_holds(exercises):
    ex = exercises[2]
    history = Scenario.preset("crowded-longs").replace(
        liquidation_orders="bankruptcy", fund_unwind=0, insurance_fund=20_000).cascade().run()
    assert ex.answer == pytest.approx(history[-1].bad_debt, rel=1e-12)
    assert ex.answer > 0
    assert ex.check(f"{ex.answer / 1e3:.1f}K").correct
    own = Scenario.preset("crowded-longs").replace(
        liquidation_orders="bankruptcy", fund_unwind=0).cascade().run()[-1].bad_debt
    assert not ex.check(f"{own / 1e3:.1f}K").correct  # the 250,000 USD fund's


def test_positions_liquidated_with_hyperliquids_mark(exercises):
    ex = exercises[3]
    market = lesson07.mark_market()
    history = market.replace(price_source="mark", mark_rule="hyperliquid").cascade().run()
    assert ex.answer == sum(r.n_liquidated for r in history)
    binance = sum(r.n_liquidated for r in market.replace(price_source="mark").cascade().run())
    last = sum(r.n_liquidated for r in market.cascade().run())
    assert ex.answer != binance
    assert ex.check(f"{ex.answer:.0f}").correct
    assert not lesson07.exercises()[3].check(f"{binance}").correct  # Binance's rule: printed
    assert not lesson07.exercises()[3].check(f"{last}").correct  # the last price's: printed


@pytest.mark.parametrize("typed", ["", "lots", "5,37", "1e", "%", "  "])
def test_malformed_answers_are_explained(exercises, typed):
    for ex in exercises:
        feedback = ex.check(typed)
        assert feedback.malformed and not feedback.correct and ex.attempts == 0


def _lesson_text() -> str:
    nb = json.loads(LESSON.read_text(encoding="utf-8"))
    return "".join("".join(c["source"]) + "".join(
        "".join(o.get("text", "")) for o in c.get("outputs", [])) for c in nb["cells"])


def test_no_exercise_answer_is_printed_in_the_lesson(exercises):
    text = _lesson_text()
    shown = [f"{exercises[0].answer:,.0f} units", f"{exercises[1].answer / 1e3:.1f}K USD",
             f"{exercises[2].answer / 1e3:.1f}K USD"]
    mark_rows = [line for line in text.splitlines() if "mark price" in line]
    assert mark_rows and all(line.split()[-2] != f"{exercises[3].answer:,.0f}"
                             for line in mark_rows)
    for answer in shown:
        assert answer not in text, answer


def test_every_link_of_the_lesson_is_a_full_address_or_a_lesson():
    links = re.findall(r"\]\(([^)]+)\)", _lesson_text())
    assert links
    for link in links:
        assert link.startswith("https://") or re.fullmatch(r"0\d-[a-z-]+\.ipynb", link), link
