"""Issue 9, what students read: every number through one formatter (item 11), positions closed
and positions only reduced counted apart (item 12), the README's mechanism table made by the
code (item 13), ADL's cost shown (item 14), and a shock that empties the book said plainly
(item 5)."""

import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from marginloops import Scenario, compare, narrate, narrate_end, narrate_history, round_table
from marginloops.course import lesson05
from marginloops.narration import money, percent, price, units

README = (Path(__file__).parents[1] / "README.md").read_text(encoding="utf-8")
CROWDED = Scenario.preset("crowded-longs")

#: What no number a student reads may look like: scientific notation, a negative zero, or four
#: digits or more without a thousands separator (a year-like "2025" never appears in these).
SCIENTIFIC = re.compile(r"\d[eE][-+]?\d")
NEGATIVE_ZERO = re.compile(r"-0(\.0+)?(?![.\d])")
NO_SEPARATOR = re.compile(r"(?<![\d.,])\d{4,}")


def assert_readable(text: str) -> None:
    assert not SCIENTIFIC.search(text), text
    assert not NEGATIVE_ZERO.search(text), text
    assert not NO_SEPARATOR.search(text), text
    assert not re.search(r"\bnan\b", text.lower()), text


# ---- item 11: one formatter -------------------------------------------------------------

def halted_calm_market():
    """The issue's case: a halt long enough that the refills shrink to nothing."""
    return Scenario.preset("calm-market").replace(breaker_move=0.005, breaker_rounds=100,
                                                   breaker_reference="start",
                                                   depth_1pct=50_000)


def test_a_long_halt_never_narrates_scientific_notation():
    history = halted_calm_market().cascade().run()
    halted = [r for r in history if r.halted]
    tiny = [r for r in halted if 0 < r.refilled < 0.005]
    assert tiny, "the halt's late refills should be below what two decimals show"
    # Before: "market makers put back 7.49e-05 units of bids"
    for r in tiny:
        assert "put back less than 0.01 units of bids" in narrate(r)
    for line in narrate_history(history):
        assert_readable(line)
    assert_readable(round_table(history))


@pytest.mark.parametrize("change", [
    {}, dict(partial="fraction"), dict(partial="restore"), dict(adl=True),
    dict(breaker_move=0.02), dict(call_auction=True), dict(dynamic_margin=2.0),
    dict(withdrawal=0.5), dict(shock=0.99), dict(n_positions=0), dict(shock=5e-5)])
def test_every_sentence_and_table_reads_plainly(change):
    market = CROWDED.replace(**change)
    history = market.cascade().run()
    for line in narrate_history(history):
        assert_readable(line)
    assert_readable(round_table(history))
    c = compare(CROWDED, market)
    for text in (c.table(), c.round_table(), c.verdict()):
        assert_readable(text)


@given(st.floats(allow_nan=False, allow_infinity=False, min_value=-1e15, max_value=1e15))
def test_the_narration_helpers_never_print_scientific_or_negative_zero(x):
    for text in (money(x), price(x), units(x), percent(x)):
        assert not SCIENTIFIC.search(text) and not NEGATIVE_ZERO.search(text), (x, text)
        digits = re.sub(r"[^\d]", "", text.split(".")[0])
        assert len(digits) < 4 or "," in text, (x, text)


def test_small_amounts_read_less_than_what_is_shown():
    assert units(7.49e-05) == "less than 0.01 units" and units(7.09e-27) == "less than 0.01 units"
    assert money(0.3) == "less than 1 USD" and money(-0.3) == "0 USD"
    assert percent(-1e-12) == "0.00%" and percent(1e-12) == "less than 0.01%"
    assert price(-0.001) == "0.00" and price(12_345.678) == "12,345.68"


def test_compare_moves_never_read_negative_zero():
    # Tiny moves at the end of a halted run: "-0.00%" before
    market = halted_calm_market()
    c = compare(market, market.replace(breaker_move=None))
    assert "-0.00%" not in c.round_table() and "+0.00%" not in c.round_table()


# ---- item 12: positions closed and positions reduced ---------------------------------------

LONGS = int((CROWDED.positions().side == 1).sum())


def test_partial_liquidation_never_counts_more_positions_than_the_market_has():
    assert LONGS == 1_600
    c = compare(CROWDED, CROWDED.replace(partial="fraction"))
    for s in c.summaries:
        assert s.n_closed + s.n_reduced <= LONGS
    # every number of the count rows and columns, read back from the text
    table = dict((line[:31].strip(), line[31:].split()) for line in c.table().splitlines()[1:])
    counts = [int(n.replace(",", "")) for n in table["positions closed"]
              + table["positions reduced (still open)"]]
    assert max(counts) <= LONGS and sum(counts[1::2]) <= LONGS
    assert "positions liquidated" not in c.table()  # 1,804 of 1,600 longs before
    # the run's own total, independently: whatever is no longer open was closed
    history = c.histories[1]
    assert c.summaries[1].n_closed == CROWDED.n_positions - history[-1].n_open
    assert c.summaries[1].n_reduced == history[-1].n_reduced_open > 0


def test_round_tables_show_closed_and_reduced_columns():
    plain = CROWDED.cascade().run()
    sliced = CROWDED.replace(partial="fraction").cascade().run()
    head = round_table(sliced).splitlines()[0].split()
    assert "closed" in head and "reduced" in head and "liquidated" not in head
    assert "reduced" not in round_table(plain).splitlines()[0].split()
    from marginloops.narration import default_columns  # headers hold spaces: "price (USD)"
    col = default_columns(sliced).index("closed")
    for line, r in zip(round_table(sliced).splitlines()[1:], sliced, strict=True):
        cells = line.split()
        assert cells[col] == f"{r.n_closed:,}" and cells[col + 1] == f"{r.n_reduced:,}"
    c = compare(CROWDED, CROWDED.replace(partial="fraction"))
    header = c.round_table().splitlines()[1].split()
    assert header.count("closed") == 2 and header.count("reduced") == 2
    assert "liquidated" not in header


def test_narration_counts_closed_and_reduced_apart():
    sliced = CROWDED.replace(partial="fraction").cascade().run()
    r = next(r for r in sliced if r.n_closed and r.n_reduced)
    assert narrate(r).startswith(
        f"Round {r.round}: {r.n_closed:,} longs were closed and {r.n_reduced:,} more were only "
        f"partly closed and stay open (")
    closed = sum(r.n_closed for r in sliced)
    assert closed + sliced[-1].n_reduced_open <= LONGS
    assert (f"{closed:,} positions were closed and {sliced[-1].n_reduced_open:,} more were only "
            f"reduced and are still open") in narrate_end(sliced)
    only = next(r for r in sliced if r.n_reduced and not r.n_closed)
    assert narrate(only).startswith(f"Round {only.round}: {only.n_reduced:,} longs were only "
                                    f"partly closed and stay open (")
    # without partial liquidation the sentences stay as they were
    plain = CROWDED.cascade().run()
    assert narrate(plain[1]).startswith("Round 1: 353 longs were liquidated (4.2M USD); ")
    assert "1,512 positions were liquidated and 184.6K USD of bad debt was left" in \
        narrate_end(plain)


# ---- item 14: ADL's cost ------------------------------------------------------------------

def test_adl_cost_is_narrated_tabled_and_in_the_verdict():
    history = CROWDED.replace(adl=True).cascade().run()
    rounds = [r for r in history if r.n_adl]
    assert rounds and all(r.adl_cost > 0 for r in rounds)
    for r in rounds:
        assert (f"Closed at {price(r.adl_price)} rather than the market's "
                f"{price(r.price_before)}, those shorts gave up {money(r.adl_cost)} of "
                f"profit.") in narrate(r)
        # the shorts closed above the market: each unit gave up the gap
        assert r.adl_price > r.price_before
    total = sum(r.adl_cost for r in history)
    assert f"auto-deleveraging cost the shorts it closed {money(total)} of profit" in \
        narrate_end(history)
    assert "ADL cost" in round_table(history).splitlines()[0]
    c = compare(CROWDED, CROWDED.replace(adl=True), labels=("no ADL", "ADL"))
    row = next(line for line in c.table().splitlines() if line.startswith("ADL cost"))
    assert row.split()[-2:] == money(total).split()
    assert f'auto-deleveraging took {money(total)} of profit from opposite traders in run "ADL"' \
        in c.verdict()


def test_lesson05_prints_what_adl_costs():
    history = CROWDED.replace(adl=True).cascade().run()
    plain = CROWDED.cascade().run()
    lines = lesson05.adl_costs()
    total = sum(r.adl_cost for r in history)
    saved = plain[-1].bad_debt - history[-1].bad_debt
    assert lines[-1] == (f"ADL in all: bad debt {history[-1].bad_debt:,.0f} USD instead of "
                         f"{plain[-1].bad_debt:,.0f} ({saved:,.0f} USD less); the deleveraged "
                         f"shorts gave up {total:,.0f} USD of profit.")
    assert all(line in lesson05.costs() for line in lines)


# ---- item 13: the README's table is the code's ---------------------------------------------

def test_readme_mechanism_table_is_what_the_code_makes_now():
    found = re.search(r"<!-- mechanism table: generated by "
                      r"marginloops\.course\.lesson05\.readme_table\(\) -->\n\n(.*?)\n\n"
                      r"<!-- end of mechanism table -->", README, re.S)
    assert found, "the README's mechanism table lost its markers"
    assert found.group(1) == lesson05.readme_table()
    # the number the issue found wrong: partial "restore" leaves 184,621 USD, not 184,615
    restore = CROWDED.replace(partial="restore").cascade().run()
    assert f"| {restore[-1].bad_debt:,.0f} |" in found.group(1)
    assert "184,615" not in README


def test_readme_table_rows_match_direct_runs():
    lines = lesson05.readme_table().splitlines()
    assert len(lines) == 2 + len(lesson05.README_MECHANISMS)
    for line, change in zip(lines[2:], lesson05.README_MECHANISMS.values(), strict=True):
        h = CROWDED.replace(**change).cascade().run()
        start = h[0].price_before
        amp = (h[-1].price_after - start) / (h[0].price_after - start)
        cells = [c.strip() for c in line.strip("|").split("|")]
        assert cells[1:] == [f"{1 - h[-1].price_after / start:.1%}", f"{amp:.2f}",
                             str(h[-1].round), f"{sum(r.n_closed for r in h):,}",
                             f"{h[-1].n_reduced_open:,}", f"{h[-1].bad_debt:,.0f}",
                             f"{sum(r.adl_cost for r in h):,.0f}"]


# ---- item 5: a shock that empties the book; a market without positions ----------------------

def test_a_shock_that_empties_the_book_says_so_once():
    history = CROWDED.replace(shock=0.99).cascade().run()
    first, end = narrate(history[0]), narrate_end(history)
    fall = f"{1 - history[0].price_after / history[0].price_before:.1%}"
    assert fall == "50.0%"
    assert first.startswith("Round 0 (the shock): an outside seller sold ")
    assert (f"took every bid in the book: the bids ran out at {price(history[0].price_after)}, "
            f"{fall} below the start of 99.99, so the price could fall no further.") in first
    assert first.count(fall) == 1
    # the end does not read as if 50% were the shock asked for
    assert "times the shock's" not in end and "the shock's 50.0%" not in end
    assert "all of it in the shock, which took every bid in the book" in end


def test_a_squeeze_that_empties_the_book_says_asks():
    history = Scenario.preset("short-squeeze").replace(shock=0.99).cascade().run()
    assert "the asks ran out at" in narrate(history[0])
    assert "so the price could rise no further" in narrate(history[0])


def test_a_market_without_positions_ends_naturally():
    history = Scenario(n_positions=0).cascade().run()
    end = narrate_end(history)
    assert "0 positions" not in end and "1.0 times" not in end
    fall = f"{1 - history[0].price_after / history[0].price_before:.1%}"
    assert end.endswith(f"the price fell {fall} in all, the shock's move alone; no position was "
                        f"liquidated.")


def test_teacher_notes_give_adls_cost_as_the_package_computes_it():
    notes = (Path(__file__).parents[1] / "lessons" / "TEACHERS.md").read_text(encoding="utf-8")
    section = re.search(r"^## Lesson 5 .*?(?=^## Lesson )", notes, re.S | re.M).group(0)
    section = " ".join(section.split())
    plain = CROWDED.cascade().run()
    adl = CROWDED.replace(adl=True).cascade().run()
    cost = sum(r.adl_cost for r in adl)
    saved = plain[-1].bad_debt - adl[-1].bad_debt
    assert (f"`adl_cost`): {cost:,.0f} USD on crowded-longs, while bad debt falls by "
            f"{saved:,.0f} USD") in section
    assert f"they gave up {cost:,.0f} USD of profit" in section
    assert f"The rest of the {saved:,.0f} USD saved nobody paid" in section
    assert "known limitation" not in section  # the map follows dynamic margin now (item 15)


def test_a_shock_that_does_not_move_the_price_ends_plainly():
    history = CROWDED.replace(shock=5e-5).cascade().run()
    assert history[-1].price_after == history[0].price_before
    end = narrate_end(history)
    assert "rose 0.0%" not in end and "fell 0.0%" not in end  # "rose 0.0% in all" before
    assert end.endswith("The price stayed at 99.99; no position was liquidated.")
