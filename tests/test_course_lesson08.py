"""Lesson 8: the health-factor and liquidation helpers against hand-worked numbers, the calibrated
Black Thursday case (its sources, its calibration, its spread over seeds), the claims the
lesson's text makes about its runs, the exercises (right, near-miss and malformed answers), and
the notebook itself (numbers in the prose printed by checked cells, no answer given away, the
teacher notes' answers, the worksheets)."""

import json
import math
import re
from pathlib import Path

import pytest

from marginloops.course import lesson08
from marginloops.lending import LENDING_PRESETS, LendingCascade, LendingScenario
from marginloops.lending.cases import (
    CALIBRATION_SEEDS,
    LENDING_CASES,
    MOST_SEEDS,
    LendingCase,
    Reported,
    calibrate_depth,
    case_measures,
)

ROOT = Path(__file__).parents[1]
LESSON = ROOT / "lessons" / "08-defi-lending.ipynb"
CASE = LENDING_CASES["black-thursday-maker"]


def _run(scenario):
    return LendingCascade(scenario).run()


def _fall(history):
    return 1 - history[-1].price_after / history[0].price_before


# ------------------------------------------------------------------ Part 1, by hand
def test_health_table_by_hand():
    """10 coins, 14,000 USD of debt, LT 0.8: HF = 10 x P x 0.8 / 14,000; 1 at 1,750."""
    lines = lesson08.health_table().splitlines()
    rows = {line.split()[0]: line.split() for line in lines[1:7]}
    assert rows["2,000.00"][3:] == ["1.1429", "no"]  # 16,000 / 14,000
    assert rows["1,750.00"][3:] == ["1.0000", "no"]  # exactly 1: not below it
    assert rows["1,700.00"][3:] == ["0.9714", "yes"]  # 13,600 / 14,000
    assert lines[-1] == "health factor 1 at a price of 1,750.00 USD"
    assert lesson08.threshold_price(10, 14_000, 0.8) == pytest.approx(1750.0)


@pytest.mark.parametrize("bad", [(), (0,), (-5.0,), ("100",), (True,)])
def test_health_table_refuses_bad_prices(bad):
    with pytest.raises(ValueError, match="prices"):
        lesson08.health_table(bad)


def test_liquidation_steps_by_hand():
    """At 1,700: HF 0.9714 > 0.95 and both sides >= 2,000 USD, so 50%: 7,000 USD repaid;
    seized 7,000 / 1,700 x 1.05 = 4.32353 coins; bonus part 4.32353 - 4.11765 = 0.20588;
    fee 10% = 0.02059; to the bot 4.30294 coins = 7,315.00 USD; left 5.67647 coins and
    7,000 USD of debt: HF 5.67647 x 1,700 x 0.8 / 7,000 = 1.10286."""
    text = lesson08.liquidation_steps(1700)
    for piece in ("0.9714", "up to 7,000.00 USD", "= 4.3235 coins", "bonus part 0.2059",
                  "= 0.0206 coins", "4.3029 coins, worth 7,315.00 USD", "gain before gas: 315.00",
                  "5.6765 coins, 7,000.00 USD of debt, health factor 1.1029"):
        assert piece in text, piece
    assert "50% of the debt" in text
    # below 0.95 the whole debt may go: 10 coins at 1,600 -> HF 0.9143
    assert "100% of the debt" in lesson08.liquidation_steps(1600)
    assert "no liquidation" in lesson08.liquidation_steps(1800)


# ------------------------------------------------------------------ the cascade helpers
def test_rounds_prints_the_lessons_columns_up_to_the_round_asked():
    history = lesson08.run()
    lines = lesson08.rounds(history, last=2).splitlines()
    assert len(lines) == 1 + 3
    assert "oracle" in lines[0] and "underwater" in lines[0]
    assert lines[2].split()[0] == "1" and f"{history[1].price_after:,.2f}" in lines[2]


def test_compare_table_reads_direct_runs():
    market, stale = lesson08.market(), lesson08.stale_oracle()
    lines = lesson08.compare_table(market, stale, ("a", "b")).splitlines()
    a, b = _run(market), _run(stale)
    fall = next(line for line in lines if line.startswith("fall")).split()[1:]
    assert fall == [f"{_fall(a):.1%}", f"{_fall(b):.1%}"]
    rounds = next(line for line in lines if line.startswith("rounds")).split()[1:]
    assert rounds == [str(len(a) - 1), str(len(b) - 1)]


def test_run_refuses_what_is_not_a_lending_scenario():
    with pytest.raises(ValueError, match="scenario"):
        lesson08.run("eth-pool")


# ------------------------------------------------------------- what the lesson claims
def test_part_2_the_loop_dies_out_without_bad_debt():
    h = lesson08.run()
    assert h[0].n_liquidated == 0 and h[0].oracle_price == h[0].price_before  # shock only
    assert h[1].oracle_price == pytest.approx(h[0].price_after)  # the oracle reads the pool
    drops = [r.price_before - r.price_after for r in h[1:]]
    assert all(b < a for a, b in zip(drops, drops[1:], strict=False))  # the drops shrink
    assert h[-1].bad_debt == 0 and h[-1].underwater_debt == 0
    assert h[-1].end_reason == "fixed_point"


def test_part_3_a_late_oracle_changes_when_not_how_far():
    a, b = lesson08.run(), lesson08.run(lesson08.stale_oracle())
    assert b[-1].price_after == pytest.approx(a[-1].price_after, rel=1e-9)
    assert sum(r.n_liquidated for r in a) == sum(r.n_liquidated for r in b)
    assert len(b) > 2 * len(a)
    quiet = [r for r in b if not r.oracle_updated and r.round > 0]
    assert quiet and all(r.n_liquidated == 0 for r in quiet)
    # rounds 3 and 4 wait; the heartbeat updates in round 5 and liquidates at once
    assert not b[3].oracle_updated and not b[4].oracle_updated and b[5].oracle_updated
    assert b[5].n_liquidated > 0


def test_part_3_and_4_markets_are_the_lessons_market_with_the_settings_the_text_names():
    stale, small = lesson08.stale_oracle(), lesson08.small_borrowers()
    assert (stale.oracle, stale.deviation, stale.heartbeat) == ("push", 0.02, 3)
    assert (small.n_accounts, small.size_median, small.gas_cost, small.shock) == \
        (2000, 400.0, 60.0, 0.2)
    base = lesson08.market()
    assert stale.replace(name=base.name, oracle="venue", deviation=base.deviation,
                         heartbeat=base.heartbeat) == base


def test_part_4_gas_spares_the_pool_and_leaves_debt_underwater():
    small = lesson08.small_borrowers()
    free, paid = _run(small.replace(gas_cost=0)), _run(small)
    assert _fall(paid) < _fall(free)
    assert sum(r.n_liquidated for r in paid) < sum(r.n_liquidated for r in free) / 10
    assert free[-1].underwater_debt == 0 < paid[-1].underwater_debt
    assert paid[-1].n_skipped_gas > 0


# ------------------------------------------------------------------------------ the case
def test_the_case_is_calibrated_as_lesson_6s_cases_are():
    """The depth is the multiple of 1,000 USD whose mean fall over seeds 0-19 is nearest the
    reported fall, and most seeds land within the tolerance."""
    assert calibrate_depth(CASE) == CASE.scenario.depth_1pct
    spread = CASE.spread()
    assert spread.seeds == CALIBRATION_SEEDS
    assert spread.holds and spread.within >= MOST_SEEDS * len(CALIBRATION_SEEDS)
    assert abs(spread.mean - CASE.target.value) < 0.005


def test_the_target_is_the_quoted_fall():
    # DeFi Saver: from 194.97 USD at 1:00 to a bottom of 95.87 USD.
    assert CASE.target.value == pytest.approx(1 - 95.87 / 194.97)
    assert "194.97" in CASE.target.quote and "95.87" in CASE.target.quote
    assert CASE.scenario.price == 194.97


def test_every_reported_figure_has_a_source_and_its_words():
    assert len(CASE.reported) >= 8
    for r in CASE.reported:
        assert r.url.startswith("https://") and r.quote.strip() and r.publisher.strip()
    names = {r.figure for r in CASE.reported}
    assert "MakerDAO's losses from the liquidations of 12-13 March" in names


def test_the_case_settings_follow_makerdao_where_a_source_says_so():
    s = CASE.scenario
    assert s.liquidation_threshold == pytest.approx(1 / 1.5)  # 150% collateral
    assert s.bonus == pytest.approx(1.13)  # 13% penalty
    assert s.close_factor == 1.0 and s.oracle == "push" and s.heartbeat > 1
    fields = {f for f, _ in CASE.choices}
    assert {"depth_1pct", "shock", "oracle", "bonus", "liquidation_threshold"} <= fields


def test_case_measures_account_for_every_dollar_of_debt():
    history = CASE.run()
    m = case_measures(history)
    _, debt = CASE.scenario.population()
    assert m["debt_start"] == pytest.approx(float(debt.sum()), rel=1e-9)
    assert m["bad_debt"] == history[-1].bad_debt > 0
    assert m["bad_debt_share"] == pytest.approx(m["bad_debt"] / float(debt.sum()))
    assert m["shock_fall"] == pytest.approx(CASE.scenario.shock, abs=1e-6)


def test_the_case_reproduces_bursts_and_little_bad_debt():
    history = CASE.run()
    silent = [r for r in history[1:] if not r.oracle_updated]
    assert silent and all(r.n_liquidated == 0 for r in silent)
    m = case_measures(history)
    assert 0 < m["bad_debt_share"] < 0.01  # far from the reported 5.67M DAI: no auctions
    assert m["skipped_gas"] == 0  # "gas stopped no keeper in the model"


@pytest.mark.parametrize("change", [
    dict(tolerance=0.5), dict(tolerance=0), dict(calibrated_to="nothing"),
    dict(reported=()), dict(scenario="eth-pool"),
    dict(choices=(("not_a_field", "why"),)),
])
def test_a_case_refuses_bad_fields(change):
    import dataclasses
    with pytest.raises(ValueError):
        dataclasses.replace(CASE, **change)


@pytest.mark.parametrize("kw", [dict(url="http://x"), dict(value=math.nan),
                                dict(measure="oi_fall"), dict(measure="fall", value=None),
                                dict(quote=" ")])
def test_a_reported_figure_refuses_bad_fields(kw):
    fields = dict(figure="f", value=0.1, unit="%", source="s", publisher="p", date="d",
                  url="https://example.org", quote="q")
    with pytest.raises(ValueError):
        Reported(**{**fields, **kw})


def test_calibrate_depth_refuses_a_bracket_without_the_target():
    with pytest.raises(ValueError, match="between the mean falls"):
        calibrate_depth(CASE, seeds=(0,), low=2_000_000, high=3_000_000)
    with pytest.raises(ValueError, match="case"):
        calibrate_depth(CASE.scenario)


def test_case_report_reads_the_run():
    text = lesson08.case_report()
    m = case_measures(CASE.run())
    assert f"{m['fall']:.1%}" in text and "within 2 points" in text
    assert f"{m['liquidations']:,}" in text
    assert "5.67M DAI" in text and "19 of 20" in text or "of 20 seeds" in text


# ------------------------------------------------------------------------------ exercises
@pytest.fixture
def exercises():
    return lesson08.exercises()


def test_four_exercises_with_hints(exercises):
    assert len(exercises) == 4 and all(len(e.hints) >= 2 for e in exercises)


def test_exercise_1_by_hand(exercises):
    """5 coins, 6,000 USD, price 1,400: HF 5 x 1,400 x 0.8 / 6,000 = 0.9333 <= 0.95, so 100%:
    seized 6,000 / 1,400 x 1.05 = 4.5 coins; bonus part 4.5 - 4.2857 = 0.2143; fee 0.0214;
    to the bot 4.4786 coins."""
    ex = exercises[0]
    assert ex.answer == pytest.approx(4.5 - (4.5 - 6000 / 1400) * 0.1, rel=1e-12)
    assert ex.check("4.4786").correct and lesson08.exercises()[0].check("4.48").correct
    for wrong in ("4.5", "2.2393", "4.3"):  # fee forgotten; the 50% rule; a guess
        assert not lesson08.exercises()[0].check(wrong).correct, wrong


def test_exercise_2_close_factor(exercises):
    ex = exercises[1]
    h = _run(LENDING_PRESETS["eth-pool"].replace(close_factor=1.0))
    assert ex.answer == pytest.approx(_fall(h), rel=1e-12)
    assert ex.check(f"{ex.answer * 100:.1f}").correct  # the status line's one decimal
    own = _fall(_run(LENDING_PRESETS["eth-pool"]))
    assert not lesson08.exercises()[1].check(f"{own * 100:.1f}").correct


def test_exercise_3_no_heartbeat(exercises):
    ex = exercises[2]
    h = _run(lesson08.market().replace(oracle="push", deviation=0.02, heartbeat=0))
    assert ex.answer == sum(r.n_liquidated for r in h)
    with_heartbeat = sum(r.n_liquidated for r in _run(lesson08.stale_oracle()))
    assert ex.answer < with_heartbeat
    assert not lesson08.exercises()[2].check(str(with_heartbeat)).correct
    assert not lesson08.exercises()[2].check(str(int(ex.answer) + 1)).correct


def test_exercise_4_gas_at_20(exercises):
    ex = exercises[3]
    h = _run(lesson08.small_borrowers().replace(gas_cost=20))
    assert ex.answer == pytest.approx(h[-1].underwater_debt, rel=1e-12)
    assert ex.check(f"{ex.answer / 1e3:.1f}K").correct  # as the compare table prints it
    at_60 = _run(lesson08.small_borrowers())[-1].underwater_debt
    assert not lesson08.exercises()[3].check(f"{at_60 / 1e3:.1f}K").correct  # Part 4's


@pytest.mark.parametrize("typed", ["", "lots", "5,37", "1e", "%", "  "])
def test_malformed_answers_are_explained(exercises, typed):
    for ex in exercises:
        feedback = ex.check(typed)
        assert feedback.malformed and not feedback.correct and ex.attempts == 0


# ------------------------------------------------------------------------------ the notebook
def _cells():
    return json.loads(LESSON.read_text(encoding="utf-8"))["cells"]


def _checked_text() -> str:
    return "".join("".join(o.get("text", "")) for c in _cells()
                   if "nbval-check-output" in c["metadata"].get("tags", ())
                   for o in c["outputs"])


def _markdown() -> str:
    return "".join("".join(c["source"]) for c in _cells() if c["cell_type"] == "markdown")


def _all_text() -> str:
    return "".join("".join(c["source"]) + "".join("".join(o.get("text", ""))
                                                   for o in c.get("outputs", []))
                   for c in _cells())


#: Numbers in the prose that are settings, rules, names or quoted figures, not results of a
#: run: Aave's constant (1,000 USD of dust), "Aave v3.3", a setting typed in Things to try
#: (deviation=0.5), the figures quoted from the case's sources.
INPUTS = {"1,000", "3.3", "0.5", "194.97", "95.87", "1.30"}


def test_prose_numbers_are_printed_by_checked_cells():
    """Every number with a decimal point or a thousands separator in the lesson's text is
    printed by one of its checked cells, unless it is a setting or a quoted figure."""
    prose = re.sub(r"<img[^>]*>", "", _markdown())
    prose = prose.replace(lesson08.reported_markdown(), "").replace(
        lesson08.choices_markdown(), "")
    numbers = set(re.findall(r"(?<![\w.])\d[\d,]*\.\d+%?|(?<![\w.])\d{1,3}(?:,\d{3})+", prose))
    printed = _checked_text()
    missing = sorted(n for n in numbers - INPUTS if n not in printed)
    assert not missing, missing


def test_the_case_tables_in_the_notebook_are_the_packages():
    md = _markdown()
    assert lesson08.reported_markdown() in md
    assert lesson08.choices_markdown() in md
    assert CASE.reproduces in md


def test_no_exercise_answer_is_printed_in_the_lesson(exercises):
    text = _all_text()
    for shown in (f"{exercises[0].answer:.4f}", f"{exercises[1].answer:.1%}",
                  f"{exercises[3].answer / 1e3:.1f}K", f"{exercises[3].answer:,.0f}"):
        assert shown not in text, shown
    calls = [line for line in text.splitlines() if line.startswith("liquidation calls")]
    assert calls and all(str(int(exercises[2].answer)) not in line.split() for line in calls)


def test_every_link_of_the_lesson_is_a_full_address_or_a_lesson():
    links = re.findall(r"\]\(([^)]+)\)", _all_text())
    assert links
    for link in links:
        assert link.startswith("https://") or re.fullmatch(r"0\d-[a-z-]+\.ipynb", link), link


def test_the_explorers_are_the_lending_widgets_and_the_case_is_stepped():
    sources = ["".join(c["source"]) for c in _cells() if c["cell_type"] == "code"]
    assert sum("LendingExplorer(" in s for s in sources) == 3
    assert sum("LendingCompare(" in s for s in sources) == 1
    assert any('LENDING_CASES["black-thursday-maker"]' in s for s in sources)


def test_teacher_notes_give_the_answers_the_package_checks():
    notes = (ROOT / "lessons" / "TEACHERS.md").read_text(encoding="utf-8")
    section = re.search(r"^## Lesson 8 .*?(?=^## Lesson |\Z)", notes, re.S | re.M).group(0)
    block = re.search(r"^### Exercise answers\n(.*?)(?=^### |\Z)", section, re.S | re.M).group(1)
    items = re.split(r"^\d+\. ", block, flags=re.M)[1:]
    noted = [re.match(r"[\d.,]+%?", re.search(r"\*\*([^*]+)\*\*", i).group(1)).group(0)
             for i in items]
    exercises = lesson08.exercises()
    assert len(noted) == len(exercises)
    for exercise, answer in zip(exercises, noted, strict=True):
        assert exercise.check(answer).correct, (exercise.question, answer)
    assert "`08-defi-lending.ipynb`" in notes


def test_the_worksheets_of_lesson_8_are_what_the_generator_writes():
    from marginloops.worksheets import worksheet
    folder = ROOT / "lessons" / "worksheets"
    exercises = lesson08.exercises()
    assert (folder / "08-defi-lending.html").read_text(encoding="utf-8") == \
        worksheet("08", exercises=exercises)
    assert (folder / "08-defi-lending-answers.html").read_text(encoding="utf-8") == \
        worksheet("08", answers=True, exercises=exercises)


def test_the_default_market_is_the_preset():
    assert lesson08.market() is LENDING_PRESETS["eth-pool"]
    assert isinstance(lesson08.small_borrowers(), LendingScenario)
    assert isinstance(CASE, LendingCase)
