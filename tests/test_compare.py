"""Compare mode: the core comparison (checked against direct runs) and the CompareExplorer
without a browser (press its buttons in Python, check the marks, the table and the narration)."""

import dataclasses
import math
import subprocess
import sys

import numpy as np
import pytest

from marginloops import (
    PRESETS,
    Comparison,
    LockStep,
    Scenario,
    Summary,
    amplification,
    compare,
)
from marginloops.compare import MEASURES, differences
from marginloops.ui.compare import TABLE_ROWS

CROWDED = Scenario.preset("crowded-longs")
DEEP = CROWDED.replace(depth_1pct=6_000_000)  # same traders, same shock, four times the depth
SMALL = CROWDED.replace(n_positions=600)
SMALL_DEEP = SMALL.replace(depth_1pct=6_000_000)


def prices(history):
    return [r.price_after for r in history]


def click(button, times=1):
    for _ in range(times):
        button.click()


# ------------------------------------------------------------------------------ the core
def test_a_scenario_against_itself_is_identical_and_the_verdict_says_so():
    c = compare(CROWDED, CROWDED, labels=("first", "second"))
    a, b = c.summaries
    assert (a.label, b.label) == ("first", "second")
    assert a == dataclasses.replace(b, label="first")  # equal but for the label
    assert c.identical
    assert c.verdict() == ('The two runs "first" and "second" are identical: the price fell '
                           "15.6% in both (amplification 5.2), leaving 184.6K USD of bad debt "
                           "in each.")


def test_the_thin_book_falls_further_than_the_deep_one():
    c = compare(CROWDED, DEEP, labels=("1.5M USD depth", "6M USD depth"))
    thin, deep = c.summaries
    assert thin.final_change < deep.final_change < 0  # both fell, the thin book further
    assert thin.shock_change == deep.shock_change  # the same shock
    assert thin.amplification > deep.amplification > 1
    assert thin.bad_debt > deep.bad_debt == 0
    assert not c.identical
    # 84.40 / 99.99 - 1 = -15.6%, 96.10 / 99.99 - 1 = -3.9%; amplifications 5.21 and 1.30
    assert c.verdict() == ('The price fell 3.9% in run "6M USD depth" instead of 15.6% in run '
                           '"1.5M USD depth" (amplification 1.3 instead of 5.2), with 184.6K '
                           "USD less bad debt.")


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_summaries_equal_a_direct_run_of_each_cascade(name):
    other = PRESETS[name].replace(shock=PRESETS[name].shock * 2)
    c = compare(PRESETS[name], other)
    assert isinstance(c, Comparison) and c.scenarios == (PRESETS[name], other)
    for scenario, hist, s in zip(c.scenarios, c.histories, c.summaries, strict=True):
        direct = scenario.cascade().run()
        assert prices(hist) == prices(direct)
        start, last = direct[0].price_before, direct[-1]
        assert s.start_price == start and s.final_price == last.price_after
        assert s.final_change == pytest.approx(last.price_after / start - 1, rel=1e-12)
        assert s.shock_change == pytest.approx(direct[0].price_after / start - 1, rel=1e-12)
        assert s.amplification == pytest.approx(s.final_change / s.shock_change, rel=1e-9)
        assert s.amplification == amplification(direct)
        assert s.n_closed == sum(r.n_closed for r in direct)
        assert s.n_reduced == direct[-1].n_reduced_open
        assert s.adl_cost == sum(r.adl_cost for r in direct)
        assert s.notional_liquidated == pytest.approx(
            sum(r.notional_liquidated for r in direct), rel=1e-12)
        assert (s.bad_debt, s.insurance_fund) == (last.bad_debt, last.insurance_fund)
        assert s.rounds == len(direct) - 1 and s.end_reason == last.end_reason
        assert s.direction == scenario.direction


def test_table_lists_every_measure_one_column_per_run():
    c = compare(CROWDED, DEEP, labels=("1.5M USD depth", "6M USD depth"))
    assert c.table() == "\n".join([
        "                     1.5M USD depth  6M USD depth",
        "start price                   99.99         99.99",
        "final price                   84.40         96.10",
        "price change                -15.59%        -3.89%",
        "shock (round 0)              -2.99%        -2.99%",
        "amplification                  5.21          1.30",
        "positions closed              1,512           451",
        "notional liquidated       17.5M USD      5.2M USD",
        "bad debt                 184.6K USD         0 USD",
        "insurance fund left           0 USD    198.5K USD",
        "rounds                            6             4",
        "end                     fixed point   fixed point",
    ])
    lines = c.table().splitlines()
    # no partial liquidation, no ADL, no fund takeover: their rows are left out
    assert [line[:19].strip() for line in lines[1:]] == [
        m for m in MEASURES if m not in ("positions reduced (still open)", "ADL cost",
                                         "taken over by the fund")]
    assert len({len(line) for line in lines}) == 1  # fixed width: the columns line up


def test_a_shock_that_does_not_move_the_price_has_no_amplification():
    # 0.005% below 99.99 is above the second bid (99.98): the shock takes the best bid only.
    still = CROWDED.replace(shock=5e-5)
    c = compare(still, CROWDED)
    a, b = c.summaries
    assert a.shock_change == 0 and math.isnan(a.amplification) and a.rounds == 0
    assert "amplification                n/a         5.21" in c.table()
    assert c.verdict() == ('The price fell 15.6% in run "B" but did not move in run "A", with '
                           "184.6K USD more bad debt.")
    assert compare(still, still).identical  # NaN amplifications still count as the same


def test_verdict_when_neither_run_leaves_bad_debt():
    c = compare(DEEP, DEEP.replace(depth_1pct=9_000_000), labels=("6M", "9M"))
    assert all(s.bad_debt == 0 for s in c.summaries)
    assert c.verdict().endswith(", and neither left bad debt.")


def test_bad_input_names_the_parameter():
    with pytest.raises(ValueError, match="scenario_a must be a Scenario.*got str"):
        compare("crowded-longs", CROWDED)
    with pytest.raises(ValueError, match="scenario_b must be a Scenario.*got NoneType"):
        compare(CROWDED, None)
    for labels in (("A",), ("A", "A"), ("A", ""), "AB", ("A", 2)):
        with pytest.raises(ValueError, match="labels must be two different non-empty strings"):
            compare(CROWDED, DEEP, labels=labels)
    with pytest.raises(ValueError, match="scenario_b must be a Scenario"):
        LockStep(CROWDED, {"depth_1pct": 6e6})
    with pytest.raises(ValueError, match="history must hold at least the shock round"):
        Summary.of([])


def test_differences_ignore_names_and_descriptions():
    deep = DEEP.replace(name="deep", description="four times the depth")
    assert differences(CROWDED, deep) == [("depth_1pct", 1_500_000.0, 6_000_000.0)]
    assert differences(CROWDED, CROWDED) == []
    assert [d[0] for d in differences(CROWDED, CROWDED.replace(shock=0.05, seed=3))] == [
        "shock", "seed"]


def test_lockstep_steps_both_and_an_ended_run_stays():
    lock = LockStep(CROWDED, DEEP)
    assert lock.a is not lock.b and lock.steps == 0 and not lock.ended
    assert lock.step() and [len(c.history) for c in lock.cascades] == [1, 1]
    while not lock.b.ended:  # the deep book stops first, after round 4
        assert lock.step()
    assert len(lock.b.history) == 5 and not lock.a.ended
    assert lock.step() and (len(lock.a.history), len(lock.b.history)) == (6, 5)
    assert lock.step() and lock.ended and lock.steps == 7
    assert lock.step() is False and lock.steps == 7
    for scenario, cas in zip(lock.scenarios, lock.cascades, strict=True):
        assert prices(cas.history) == prices(scenario.cascade().run())
    lock.reset()
    assert lock.steps == 0 and not lock.ended and all(c.round == 0 for c in lock.cascades)
    lock.run()
    assert lock.ended and prices(lock.a.history) == prices(CROWDED.cascade().run())


def test_compare_never_imports_the_interface():
    code = ("import sys; from marginloops import Scenario, compare; "
            "compare(Scenario(n_positions=200), Scenario(n_positions=200, shock=0.1)).table(); "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('ipywidgets', 'bqplot')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "[]"


# --------------------------------------------------------------- the widget, headless
@pytest.fixture
def explorer():
    from marginloops import CompareExplorer
    return CompareExplorer(SMALL, SMALL_DEEP, labels=("thin", "deep"))


def histories(ex):
    return [c.history for c in ex.lock.cascades]


def test_step_draws_both_runs_on_every_chart(explorer):
    ex = explorer
    line_a, line_b = ex.price_chart.lines
    assert list(line_a.y) == [] and list(line_b.y) == [] and "Round –" in ex.time.counter.value
    assert "–" in ex.summary.value and "before the shock" in ex.statuses[0].value
    click(ex.time.step_button)
    a, b = histories(ex)
    assert list(line_a.y) == [a[0].price_after] and list(line_b.y) == [b[0].price_after]
    click(ex.time.step_button, 2)
    a, b = histories(ex)
    assert [r.round for r in a] == [r.round for r in b] == [0, 1, 2]
    np.testing.assert_allclose(line_a.y, [r.price_after for r in a])
    np.testing.assert_allclose(line_b.y, [r.price_after for r in b])
    assert a[2].price_after < b[2].price_after  # the thin book is lower already
    # grouped bars: one slot per round of the fixed axis, zero for rounds not played yet
    bars = np.asarray(ex.liquidations_chart.bars.y)
    assert list(ex.liquidations_chart.bars.x) == list(range(ex.view.rounds + 1))
    np.testing.assert_allclose(bars[0][:3], [r.notional_liquidated for r in a])
    np.testing.assert_allclose(bars[1][:3], [r.notional_liquidated for r in b])
    np.testing.assert_allclose(bars[:, 3:], 0.0)
    for line, hist in zip(ex.debt_chart.lines, (a, b), strict=True):
        np.testing.assert_allclose(line.y, [r.bad_debt for r in hist])
    for hist in (a, b):
        cells = Summary.of(hist).cells()
        for measure in TABLE_ROWS:
            assert f">{cells[MEASURES.index(measure)]}</td>" in ex.summary.value
    assert "So far" in ex.summary.value and "Round 2" in ex.time.counter.value
    for story, status in zip(ex.stories, ex.statuses, strict=True):
        text = story.value
        assert text.index("Round 2:") < text.index("Round 1:") < text.index("Round 0")
        assert "round 2 · price" in status.value


def test_a_run_that_ends_first_stays_while_the_other_goes_on(explorer):
    ex = explorer
    while not ex.lock.b.ended:
        click(ex.time.step_button)
    n_b = len(ex.lock.b.history)
    assert not ex.lock.a.ended and not ex.time.step_button.disabled
    assert "stopped: fixed point" in ex.statuses[1].value
    assert "stopped" not in ex.statuses[0].value
    click(ex.time.step_button)
    assert len(ex.price_chart.lines[1].y) == n_b  # run B's line stays as it was
    assert len(ex.price_chart.lines[0].y) == n_b + 1
    ends = [line for line in ex.narration[1] if line.startswith("The cascade stopped")]
    assert len(ends) == 1 and ex.narration[1][-1] == ends[0]


def test_run_to_end_shows_the_comparison_and_disables_step(explorer):
    ex = explorer
    click(ex.time.run_button)
    assert ex.lock.ended
    t = ex.time
    assert t.step_button.disabled and t.run_button.disabled and t.play.disabled
    assert "(end)" in t.counter.value
    expected = compare(SMALL, SMALL_DEEP, labels=("thin", "deep"))
    assert [Summary.of(h, label) for h, label in zip(histories(ex), ex.labels, strict=True)] \
        == list(expected.summaries)
    assert "At the end of both runs" in ex.summary.value
    assert expected.verdict().replace('"', "&quot;") in ex.summary.value
    for lines in ex.narration:
        assert lines[-1].startswith("The cascade stopped")
    n = [len(h) for h in histories(ex)]
    click(t.step_button)
    assert [len(h) for h in histories(ex)] == n


def test_reset_restores_both_runs_exactly(explorer):
    ex = explorer
    click(ex.time.step_button, 3)
    click(ex.time.reset_button)
    assert histories(ex) == [[], []] and not ex.lock.ended
    assert all(list(line.y) == [] for line in (*ex.price_chart.lines, *ex.debt_chart.lines))
    np.testing.assert_array_equal(ex.liquidations_chart.bars.y, 0.0)
    reset = "Reset: back to round 0, before the shock; the knobs stay as they are."
    assert ex.narration == ([reset],) * 2
    assert not ex.time.step_button.disabled and "Round –" in ex.time.counter.value
    click(ex.time.run_button)
    assert [prices(h) for h in histories(ex)] == [prices(SMALL.cascade().run()),
                                                  prices(SMALL_DEEP.cascade().run())]


def test_play_steps_both_and_stops_at_the_end(explorer):
    ex = explorer
    play = ex.time.play
    play.playing = True
    assert ex.time.step_button.disabled  # no Step while playing
    for _ in range(100):
        if not play.playing:
            break
        play.value += 1  # what the browser's Play does every interval
    assert ex.lock.ended and not play.playing and play.value == 0 and play.disabled
    assert len(ex.price_chart.lines[0].y) == len(ex.lock.a.history)
    click(ex.time.reset_button)  # after a reset Play works at once
    assert not play.disabled
    play.playing = True
    play.value += 1
    assert ex.lock.steps == 1


def test_axes_are_fixed_and_cover_both_runs(explorer):
    ex = explorer
    expected = compare(SMALL, SMALL_DEEP)
    prices = [r.price_after for h in expected.histories for r in h]
    price_axis = ex.price_chart.figure.axes[1]
    fixed = (price_axis.scale.min, price_axis.scale.max)
    assert fixed == (ex.view.price_lo, ex.view.price_hi)
    assert ex.view.price_lo <= min(prices) and ex.view.price_hi >= max(prices)
    assert ex.view.rounds >= max(len(h) for h in expected.histories) - 1
    notional = max(r.notional_liquidated for h in expected.histories for r in h)
    assert ex.view.notional_max >= notional
    assert ex.view.debt_max >= max(s.bad_debt for s in expected.summaries)
    click(ex.time.run_button)
    assert (price_axis.scale.min, price_axis.scale.max) == fixed
    marks = [*ex.price_chart.lines, *ex.debt_chart.lines, ex.liquidations_chart.bars]
    assert all(np.asarray(m.x).size <= 1000 for m in marks)


def test_the_runs_are_told_apart_without_colour(explorer):
    a, b = explorer.price_chart.lines
    assert a.line_style != b.line_style and a.marker != b.marker and a.colors != b.colors
    assert "thin" in explorer.title.value and "deep" in explorer.title.value
    assert "depth_1pct 1,500,000 → 6,000,000" in explorer.title.value
    assert "left bar: thin" in explorer.liquidations_chart.caption.value


def test_halted_rounds_of_a_circuit_breaker_run_are_marked(explorer):
    from marginloops import CompareExplorer
    ex = CompareExplorer(SMALL, SMALL.replace(breaker_move=0.02, breaker_rounds=2),
                         labels=("without a circuit breaker", "with a circuit breaker"))
    assert "trading halted" in ex.price_chart.caption.value
    assert "trading halted" not in explorer.price_chart.caption.value  # no breaker there
    click(ex.time.step_button, 2)  # the 3% shock trips the 2% breaker: round 1 is halted
    a, b = histories(ex)
    assert not a[1].halted and b[1].halted and b[1].price_after == b[0].price_after
    assert list(ex.price_chart.halted.x) == [1]
    assert list(ex.price_chart.halted.y) == [b[1].price_after]
    assert "trading halted" in ex.statuses[1].value
    assert "trading halted" not in ex.statuses[0].value
    click(ex.time.run_button)
    halted = [r.round for r in ex.lock.b.history if r.halted]
    assert list(ex.price_chart.halted.x) == halted and len(halted) >= 2


def test_compare_explorer_rejects_bad_input():
    from marginloops import CompareExplorer
    with pytest.raises(ValueError, match="scenario_a must be a Scenario"):
        CompareExplorer("crowded-longs", SMALL)
    with pytest.raises(ValueError, match="labels must be two different"):
        CompareExplorer(SMALL, SMALL_DEEP, labels=("same", "same"))


def test_a_late_play_tick_after_reset_or_run_to_end_plays_nothing():
    from marginloops import CompareExplorer
    base = Scenario.preset("crowded-longs").replace(n_positions=300)
    ex = CompareExplorer(base, base.replace(depth_1pct=6e6))
    play = ex.time.play
    play.playing = True
    play.value += 1
    assert [len(c.history) for c in ex.lock.cascades] == [1, 1]
    ex.reset()
    assert not play.playing
    play.value = 3  # a browser tick already in flight
    assert [len(c.history) for c in ex.lock.cascades] == [0, 0]
    play.playing = True
    ex.run_to_end()
    assert not play.playing


# ------------------------------------------------------------------- round by round, side by side
def test_round_table_lines_up_both_runs_round_by_round():
    c = compare(CROWDED, CROWDED.replace(breaker_move=0.02),
                labels=("no circuit breaker", "a 2% circuit breaker"))
    plain, halt = c.histories
    lines = c.round_table().splitlines()
    assert len(lines) == 2 + len(halt) == 2 + 22  # labels, column heads, rounds 0 to 21
    assert lines[0].endswith("  a 2% circuit breaker")
    assert lines[0].strip().startswith("no circuit breaker")
    # Hand-read from the histories: the shock takes both runs from 99.99 to 97.00 and trips
    # the breaker of run B; round 1 sells 353 longs in run A (97.00 -> 94.13, a move of
    # 94.13 / 97.00 - 1 = -2.96%) while run B is halted at 97.00.
    assert lines[2].split() == ["0", "97.00", "-2.99%", "0", "97.00", "-2.99%", "0", "breaker",
                                "trips"]
    assert lines[3].split() == ["1", "94.13", "-2.96%", "353", "97.00", "0.00%", "0", "halted"]
    assert lines[4].split()[-1] == "halted"
    # Round 3: run B sells the same 353 longs into a refilled book: 97.00 -> 96.38, -0.64%.
    assert lines[5].split()[4:] == ["96.38", "-0.64%", "353"]
    # Run A stops after round 6 (84.40, a fixed point); its columns are empty afterwards.
    assert lines[8].split()[:4] == ["6", "84.40", "-0.27%", "19"]
    assert "end: fixed point" in lines[8]
    assert lines[9].split() == ["7", "94.59", "-0.47%", "49"]
    assert lines[-1].split()[:2] == ["21", "87.51"] and lines[-1].endswith("end: fixed point")
    # Every row's numbers agree with its records, and run B's prices sit in one column.
    end = lines[1].rindex("price") + len("price")
    for n, line in enumerate(lines[2:]):
        assert line[end - 5:end].strip() == f"{halt[n].price_after:.2f}"
        assert line[end:].split()[1] == f"{halt[n].n_liquidated:,}"
        if n < len(plain):
            assert line.split()[1] == f"{plain[n].price_after:.2f}"


def test_round_table_marks_a_call_auction_and_fits_the_shorter_run_first():
    c = compare(CROWDED.replace(call_auction=True), CROWDED, labels=("auction", "continuous"))
    lines = c.round_table().splitlines()
    assert len(lines) == 2 + 7  # run B, the preset, lasts rounds 0 to 6
    # Round 1 of the auction: all 353 longs at one price, 95.63 (97.00 -> 95.63: -1.41%).
    assert lines[3].split()[:6] == ["1", "95.63", "-1.41%", "353", "one", "price"]
    assert "one price, end: fixed point" in lines[4]
    assert lines[5].split() == ["3", "88.26", "-3.28%", "362"]  # only run B is left
    assert len(c.round_table().splitlines()) == c.steps + 2
