"""Lesson 5: its mechanism table and costs (read against direct runs) and its exercises."""

import pytest

from marginloops import Scenario, amplification
from marginloops.course import lesson05

MARKET = Scenario.preset("crowded-longs")


@pytest.fixture
def exercises():
    return lesson05.exercises()


def test_three_exercises_with_hints(exercises):
    assert len(exercises) == 3 and all(e.hints for e in exercises)


def test_a_longer_halt(exercises):
    ex = exercises[0]
    history = MARKET.replace(breaker_move=0.02, breaker_rounds=4).cascade().run()
    assert [r.round for r in history if r.halted] == [1, 2, 3, 4]
    assert ex.answer == amplification(history)
    # A longer halt lets the book refill more: less amplification than the 2-round halt (4.17)
    assert 1 <= ex.answer < 4.17
    first = ex.check("4.17")
    assert not first.correct and "too high" in first.message
    assert f"{ex.answer:.2f}" not in first.message
    assert ex.check(f"{ex.answer:.2f}").correct


def test_bad_debt_with_a_smaller_fund(exercises):
    ex = exercises[1]
    history = MARKET.replace(adl=True, insurance_fund=100_000).cascade().run()
    assert ex.answer == history[-1].bad_debt
    # ADL starts earlier with a smaller fund: less bad debt than with 250K (54,415 USD).
    assert 0 <= ex.answer < 54_415
    assert not ex.check("54,415 USD").correct
    assert ex.check(f"{ex.answer:,.0f} USD").correct
    assert lesson05.exercises()[1].check(f"${ex.answer:,.0f}").correct


def test_dynamic_margin_surcharge(exercises):
    ex = exercises[2]
    # By hand: 3 * (1 - 97.00 / 99.99) = 3 * 2.99% = 8.97%
    assert ex.answer == pytest.approx(3 * (1 - 97.00 / 99.99), rel=1e-3)
    assert not ex.check("2.99%").correct  # the move, not yet times 3
    assert ex.check("8.97%").correct
    assert lesson05.exercises()[2].check("8.97").correct  # a bare number means percent


@pytest.mark.parametrize("typed", ["", "lots", "8,97", "1e", "%"])
def test_malformed_answers_are_explained(exercises, typed):
    for ex in exercises:
        feedback = ex.check(typed)
        assert feedback.malformed and not feedback.correct and ex.attempts == 0


def test_mechanism_table_rows_match_direct_runs():
    lines = lesson05.mechanism_table().splitlines()
    assert len(lines) == 1 + len(lesson05.MECHANISMS)
    assert lines[0].split()[:3] == ["mechanism", "final", "fall"]
    # The preset by hand: 1 - 84.40 / 99.99 = 15.6%, 6 rounds, 184,571 USD of bad debt.
    assert lines[1].split()[-4:] == ["15.6%", "5.21", "6", "184,571"]
    for line, change in zip(lines[1:], lesson05.MECHANISMS.values(), strict=True):
        history = MARKET.replace(**change).cascade().run()
        fall = 1 - history[-1].price_after / history[0].price_before
        assert line.split()[-4:] == [f"{fall:.1%}", f"{amplification(history):.2f}",
                                     str(history[-1].round), f"{history[-1].bad_debt:,.0f}"]


def test_mechanism_table_takes_another_market_and_list():
    deep = MARKET.replace(depth_1pct=6_000_000)
    text = lesson05.mechanism_table(deep, {"deep": {}})
    # By hand: 1 - 96.10 / 99.99 = 3.9%, 4 rounds, no bad debt.
    assert text.splitlines()[1].split() == ["deep", "3.9%", "1.30", "4", "0"]
    with pytest.raises(ValueError, match="scenario must be a Scenario"):
        lesson05.mechanism_table("crowded-longs")


def test_costs_read_off_the_runs():
    lines = lesson05.costs()
    assert lines[0].startswith("Circuit breaker: rounds [1, 2] halted")
    assert "21 rounds instead of 6" in lines[0]
    auction = MARKET.replace(call_auction=True).cascade().run()[1]
    assert auction.uniform_price
    # the one price is the last level the batch needed on the refilled book
    assert auction.avg_fill_price == auction.last_fill_price
    assert lines[1].startswith("Call auction, recovery 50%, round 1: the book first got back 50%")
    assert f"all 353 positions sold at one price, {auction.avg_fill_price:.2f}," in lines[1]


def test_auction_compared_on_the_same_book():
    lines = lesson05.costs()
    auction = MARKET.replace(call_auction=True).cascade().run()[1]
    # Resilience 50% refills the same book and then walks it continuously: its round 1 average
    # is the walk the auction is compared with.
    walked = MARKET.replace(resilience=0.5).cascade().run()[1]
    assert walked.last_fill_price == auction.last_fill_price
    assert f"from 96.99 down to {auction.last_fill_price:.2f}" in lines[2]
    assert f"average {walked.avg_fill_price:.2f}." in lines[2]
    assert walked.avg_fill_price > auction.avg_fill_price
    # what the one price cost: what the insurance fund got less in that round
    lost = walked.to_fund - auction.to_fund
    assert f"raised {lost / 1e3:,.1f}K USD less." in lines[2]


def test_auction_without_recovery_changes_no_price():
    line = lesson05.costs()[3]
    plain = MARKET.cascade().run()
    bare = MARKET.replace(call_auction=True, recovery=0.0).cascade().run()
    # no new liquidity: the one price is the preset's last fill, and the run ends at 84.40
    assert bare[1].avg_fill_price == plain[1].last_fill_price
    assert [r.price_after for r in bare] == [r.price_after for r in plain]
    assert bare[-1].bad_debt > plain[-1].bad_debt  # everyone sold at the worst fill
    assert "all 353 sold at 94.13" in line and "(96.99 down to 94.13, average 95.56)" in line
    assert "ends at 84.40 (preset: 84.40)" in line and "(preset: 184,571)" in line
    row = next(r for r in lesson05.mechanism_table().splitlines()
               if r.startswith("call auction, recovery 0"))
    assert row.split()[-4:-1] == ["15.6%", "5.21", "6"]


def test_costs_dynamic_margin_in_percentage_points():
    lines = [line for line in lesson05.costs() if line.startswith("Dynamic margin x2")]
    # By hand: 2 * (1 - 97.00 / 99.99) = 5.98 points, on a 0.50% base rate: 6.48% > 1/25 = 4%
    assert lines[0].startswith("Dynamic margin x2, round 1: every maintenance rate raised by "
                               "5.98 percentage points, from 0.50% to 6.48%, above the 1/25 = "
                               "4% margin a 25x position starts with; 1,061 positions")
    # the 1061 from the liquidation rule: equity below 6.48% of the position's value at 97.00
    pos = MARKET.positions()
    rate = 0.005 + 2 * (1 - 97.00 / 99.99)
    below = (pos.side == 1) & (pos.equity(97.00) < rate * pos.size * 97.00)
    assert below.sum() == 1061
    # every 25x-100x long not in profit at 97.00 is among them
    assert below[(pos.side == 1) & (pos.leverage >= 25) & (pos.entry >= 97.00)].all()
    # round 2: above 10% = 1/10, so all 1,600 longs (0.8 * 2000) are gone: 1600 - 1061 = 539
    assert "above the 1/10 = 10% margin" in lines[1]
    assert "; 539 positions liquidated, every long still open (preset: 338)." in lines[1]


@pytest.mark.parametrize("change", [dict(n_positions=0), dict(shock=0.99)])
def test_a_market_without_a_cascade_gets_a_clear_error(change):
    from marginloops import Scenario
    from marginloops.course import lesson05
    market = Scenario.preset("crowded-longs").replace(**change)
    helpers = [lesson05.exercises] + ([lesson05.costs] if hasattr(lesson05, "costs") else [])
    for helper in helpers:
        with pytest.raises(ValueError, match="scenario must start a cascade"):
            helper(market)


def test_every_number_in_the_lesson_text_is_printed_by_a_checked_cell():
    """The prose may only repeat numbers that a seeded, nbval-checked cell prints (issue 9):
    a number with a decimal point or a thousands separator in a markdown cell must appear in
    the stored output of a cell tagged nbval-check-output."""
    import json
    import re
    from pathlib import Path

    nb = json.loads((Path(__file__).parents[1] / "lessons" / "05-breaking-the-loop.ipynb")
                    .read_text(encoding="utf-8"))
    printed = "".join("".join(o.get("text", "")) for c in nb["cells"]
                      if "nbval-check-output" in c["metadata"].get("tags", ())
                      for o in c["outputs"])
    prose = "".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown")
    # picture alt texts describe pictures (markdown images and <img> tags alike)
    prose = re.sub(r"<img[^>]*>|!\[[^\]]*\]\([^)]*\)", "", prose)
    numbers = set(re.findall(r"(?<![\w.])\d[\d,]*\.\d+%?|(?<![\w.])\d{1,3}(?:,\d{3})+", prose))
    assert numbers, "the lesson's text should discuss the printed numbers"
    bare = re.findall(r"(?<![\w.,])\d{4,}(?![\w,])", prose)
    assert not bare, f"numbers of four digits or more need a thousands separator: {bare}"
    inputs = {"0.25"}  # the insurance fund knob's setting in M USD, a value to type, no result
    missing = sorted(n for n in numbers - inputs if n not in printed)
    assert not missing, missing


def test_adl_costs_are_printed_and_saved_more_than_they_cost():
    """Lesson 5's ADL prose says the shorts paid for part of the saving, not all of it."""
    plain = MARKET.cascade().run()
    adl = MARKET.replace(adl=True).cascade().run()
    cost = sum(r.adl_cost for r in adl)
    saved = plain[-1].bad_debt - adl[-1].bad_debt
    assert 0 < cost < saved
    # their cost by hand: units matched times the gap between the ADL price and the market
    for r in adl:
        if r.n_adl:
            assert r.adl_cost == pytest.approx(r.adl_qty * (r.adl_price - r.price_before),
                                               rel=1e-9)
    lines = lesson05.costs()
    assert f"the deleveraged shorts gave up {cost:,.0f} USD of profit." in lines[-3]
    assert f"({saved:,.0f} USD less)" in lines[-3]


# ------------------------------------------- the two tables, now one sweep each
def _fall_by_hand(history):
    return 1.0 - history[-1].price_after / history[0].price_before


def test_mechanism_table_is_the_hand_written_loop_it_replaced():
    """The whole text, from the loop mechanism_table ran before it was a sweep."""
    from marginloops.narration import count
    from marginloops.numbers import number, percent

    width = max(len("mechanism"), *(len(label) for label in lesson05.MECHANISMS)) + 2
    lines = [f"{'mechanism':<{width}}{'final fall':>11}{'amplification':>15}{'rounds':>8}"
             f"{'bad debt (USD)':>16}"]
    for label, change in lesson05.MECHANISMS.items():
        history = MARKET.replace(**change).cascade().run()
        lines.append(f"{label:<{width}}{percent(_fall_by_hand(history)):>11}"
                     f"{number(amplification(history), 2):>15}{count(history[-1].round):>8}"
                     f"{number(history[-1].bad_debt, 0):>16}")
    assert lesson05.mechanism_table() == "\n".join(lines)


def test_readme_table_is_the_hand_written_loop_it_replaced():
    from marginloops.narration import count
    from marginloops.numbers import number, percent

    lines = lesson05.readme_table().splitlines()
    assert lines[0] == ("| mechanism on crowded-longs (3% shock) | final fall | amplification | "
                        "rounds | positions closed | reduced (still open) | bad debt (USD) | "
                        "ADL cost (USD) |")
    want = []
    for label, change in lesson05.README_MECHANISMS.items():
        history = MARKET.replace(**change).cascade().run()
        last = history[-1]
        cells = (label, percent(_fall_by_hand(history)), number(amplification(history), 2),
                 count(last.round), count(sum(r.n_closed for r in history)),
                 count(last.n_reduced_open), number(last.bad_debt, 0),
                 number(sum(r.adl_cost for r in history), 0))
        want.append("| " + " | ".join(cells) + " |")
    assert lines[2:] == want
    # a mechanism given twice is run twice (the grid is a list of changes, not a set)
    twice = lesson05.readme_table(MARKET, {"a": {"adl": True}, "b": {"adl": True}})
    assert twice.splitlines()[2].split("|")[2:] == twice.splitlines()[3].split("|")[2:]
