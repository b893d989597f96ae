"""Lesson 8, DeFi lending and liquidation bots: one loan's health factor and the price at which
it reaches 1 (:func:`health_table`), one Aave v3.3 liquidation worked out step by step
(:func:`liquidation_steps`), the lending cascade's rounds (:func:`rounds`), two runs side by
side (:func:`compare_table`), the calibrated Black Thursday case at MakerDAO
(:func:`case_report`, :func:`reported_markdown`, :func:`spread_sentence`) and the exercises.

The rules and their sources (Aave v3.3's ``LiquidationLogic.sol`` and documentation) are in
:mod:`marginloops.lending.rules`; the case's reported figures and their sources in
:mod:`marginloops.lending.cases`.
"""

from __future__ import annotations

from ..exercises import Exercise
from ..lending import (
    LENDING_PRESETS,
    LendingCascade,
    LendingScenario,
    compare_lending_table,
    health_factor,
    lending_table,
    liquidation_call,
)
from ..lending.cases import LENDING_CASES, LendingCase, case_measures
from ..narration import money
from ..numbers import number, percent

#: The lesson's market (a pool, an oracle that reads it, a few hundred borrowers).
MARKET = "eth-pool"
#: The lesson's case.
CASE = "black-thursday-maker"

#: Part 1's loan: 10 coins of collateral at the market's price of 2,000 USD, 14,000 USD of debt,
#: the liquidation threshold of Aave's documented example (80%), a 5% bonus and a protocol fee
#: of 10% of the bonus (Aave v3's usual values).
LOAN = dict(collateral=10.0, debt=14_000.0, liquidation_threshold=0.8, bonus=1.05,
            protocol_fee=0.1)


def market() -> LendingScenario:
    """The lesson's market, :data:`MARKET` of :data:`~marginloops.lending.LENDING_PRESETS`."""
    return LENDING_PRESETS[MARKET]


def _scenario(scenario) -> LendingScenario:
    if scenario is None:
        return market()
    if not isinstance(scenario, LendingScenario):
        raise ValueError(f"scenario must be a LendingScenario, got {type(scenario).__name__}")
    return scenario


def _case(case) -> LendingCase:
    if case is None:
        return LENDING_CASES[CASE]
    if isinstance(case, str):
        if case not in LENDING_CASES:
            raise ValueError(f"case must be one of {sorted(LENDING_CASES)}, got {case!r:.40}")
        return LENDING_CASES[case]
    if not isinstance(case, LendingCase):
        raise ValueError(f"case must be a LendingCase or one of {sorted(LENDING_CASES)}, got "
                         f"{type(case).__name__}")
    return case


# ------------------------------------------------------------------ Part 1: one loan
def threshold_price(collateral: float, debt: float, liquidation_threshold: float) -> float:
    """The price at which the loan's health factor reaches 1: ``debt / (collateral · LT)``."""
    if not collateral > 0:
        raise ValueError(f"collateral must be > 0 coins, got {collateral!r}")
    return debt / (collateral * liquidation_threshold)


def health_table(prices=(2000.0, 1900.0, 1800.0, 1750.0, 1700.0, 1600.0), *,
                 collateral=LOAN["collateral"], debt=LOAN["debt"],
                 liquidation_threshold=LOAN["liquidation_threshold"]) -> str:
    """The loan's collateral value and health factor at each of ``prices``, and the price at
    which its health factor reaches 1."""
    prices = tuple(prices)
    if not prices or any(isinstance(p, bool) or not isinstance(p, (int, float)) or not p > 0
                         for p in prices):
        raise ValueError(f"prices must be positive numbers, got {prices!r:.60}")
    lines = [f"{'price (USD)':>11}{'collateral (USD)':>18}{'debt (USD)':>12}"
             f"{'health factor':>15}  can be liquidated"]
    for p in prices:
        hf = health_factor(collateral, p, liquidation_threshold, debt)
        lines.append(f"{number(p):>11}{number(collateral * p, 0):>18}{number(debt, 0):>12}"
                     f"{number(hf, 4):>15}  {'yes' if hf < 1 else 'no'}")
    lines.append("")
    lines.append(f"health factor 1 at a price of "
                 f"{number(threshold_price(collateral, debt, liquidation_threshold), 2)} USD")
    return "\n".join(lines)


def liquidation_steps(price: float = 1700.0, **loan) -> str:
    """One liquidation of Part 1's loan (or ``loan``'s settings) at ``price``, by a bot that
    repays as much as it may, step by step as Aave v3.3 takes them."""
    settings = {**LOAN, **loan}
    c, d = settings["collateral"], settings["debt"]
    lt, bonus, fee = settings["liquidation_threshold"], settings["bonus"], settings["protocol_fee"]
    r = liquidation_call(c, d, price, liquidation_threshold=lt, bonus=bonus, protocol_fee=fee)
    hf = health_factor(c, price, lt, d)
    half = r.allowed < d
    lines = [
        f"health factor at {number(price)} USD: {number(hf, 4)} "
        f"({'below 1: can be liquidated' if hf < 1 else 'not below 1: no liquidation'})",
    ]
    if not r.liquidatable:
        return "\n".join(lines)
    why = ("above 0.95 and both sides worth at least 2,000 USD" if half
           else "0.95 or below, or a side worth under 2,000 USD")
    bonus_coins = r.seized - r.seized / bonus
    lines += [
        f"close factor: {percent(r.allowed / d, 0)} of the debt (health factor {why}): "
        f"up to {number(r.allowed)} USD",
        f"repaid by the bot: {number(r.repaid)} USD",
        f"seized: {number(r.repaid)} / {number(price)} x {number(bonus, 2)} = "
        f"{number(r.seized, 4)} coins (bonus part {number(bonus_coins, 4)} coins)",
        f"protocol fee: {percent(fee, 0)} of the bonus part = {number(r.protocol_fee, 4)} coins",
        f"to the bot: {number(r.to_liquidator, 4)} coins, worth "
        f"{number(r.to_liquidator * price)} USD at {number(price)}",
        f"the bot's gain before gas: {number(r.to_liquidator * price - r.repaid)} USD",
        f"left: {number(r.collateral_after, 4)} coins, {number(r.debt_after)} USD of debt, "
        f"health factor {number(r.health_factor_after, 4)}",
    ]
    return "\n".join(lines)


# ------------------------------------------------------------------ the cascade
#: The columns :func:`rounds` prints (of :data:`~marginloops.lending.LENDING_COLUMNS`).
COLUMNS = ("round", "price", "change", "oracle", "below_one", "liquidated", "skipped", "repaid",
           "bad_debt", "underwater")


def run(scenario=None) -> list:
    """``scenario`` (default: the lesson's market) run to its end."""
    return LendingCascade(_scenario(scenario)).run()


def rounds(history, last: int | None = None) -> str:
    """The rounds of ``history`` (up to round ``last``): the pool's price and its change, the
    oracle's price (a star where it did not update), loans below 1, liquidation calls, loans
    skipped for gas, debt repaid, bad debt and underwater debt."""
    rows = list(history) if last is None else list(history)[:last + 1]
    return lending_table(rows, columns=COLUMNS)


def compare_table(a, b, labels=("A", "B")) -> str:
    """Two runs (scenarios, cascades or histories) side by side, one row a measure
    (:func:`~marginloops.lending.compare_lending`)."""
    return compare_lending_table(a, b, labels=labels)


# ------------------------------------------------------------------ the case
def _shown(r) -> str:
    """A reported figure as a reader reads it: "50.8%", "5.67M DAI", "1 hour", "(no number)"."""
    if r.value is None:
        return "(no number)"
    if r.unit == "%":
        return percent(r.value)
    if r.unit in ("USD", "DAI"):
        for size, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "K")):
            if abs(r.value) >= size:
                return f"{number(r.value / size, 2, sig=3, trim=True)}{suffix} {r.unit}"
        return f"{number(r.value, 2, trim=True)} {r.unit}"
    unit = r.unit + ("s" if r.unit == "hour" and r.value != 1 else "")
    return f"{number(r.value, 2, trim=True)} {unit}".strip()


def _md(text: str) -> str:
    """``text`` safe in a markdown table cell: no column breaks, "$8.32" written "USD 8.32"
    (Jupyter's MathJax reads two dollar signs in a cell as a formula)."""
    return text.replace("|", "\\|").replace("$", "USD ")


def reported_markdown(case=None) -> str:
    """The case's reported figures as a markdown table, each with its source as a link and
    the source's own words."""
    case = _case(case)
    lines = ["| Figure | Reported | Source | In the source's words |", "|---|---|---|---|"]
    for r in case.reported:
        link = f"[{_md(r.source)}]({r.url}) ({_md(r.publisher)}, {_md(r.date)})"
        lines.append(f"| {_md(r.figure)} | {_shown(r)} | {link} | {_md(r.quote)} |")
    return "\n".join(lines)


def choices_markdown(case=None) -> str:
    """How each setting of the case's scenario was chosen, as a markdown table."""
    case = _case(case)
    lines = ["| Setting | Value | Why |", "|---|---|---|"]
    for field, reason in case.choices:
        value = getattr(case.scenario, field)
        shown = number(value, 4, trim=True) if isinstance(value, float) else str(value)
        lines.append(f"| `{field}` | {shown} | {_md(reason)} |")
    return "\n".join(lines)


def spread_sentence(case=None) -> str:
    """The model's fall over the calibration seeds in one sentence."""
    case = _case(case)
    sp = case.spread()
    n = len(sp.falls)
    return (f"Over seeds {sp.seeds[0]}-{sp.seeds[-1]} the model falls {percent(sp.lowest)} to "
            f"{percent(sp.highest)} (mean {percent(sp.mean)}; reported "
            f"{percent(case.target.value)}): {sp.within} of {n} seeds land within the stated "
            f"{number(case.tolerance * 100, 1, trim=True)} points.")


def case_report(case=None, history=None) -> str:
    """The case's run against what was reported: the reported figures (values only), the
    model's fall against the calibration target, what else the run says (model only), and
    the spread over seeds."""
    case = _case(case)
    history = case.run() if history is None else list(history)
    m = case_measures(history)
    gap = m["fall"] - case.target.value
    within = abs(gap) <= case.tolerance
    width = max(len(r.figure) for r in case.reported) + 2
    lines = ["reported"]
    lines += [f"  {r.figure:<{width}}{_shown(r)}" for r in case.reported if r.value is not None]
    lines += ["", "model (seed 0)",
              f"  {'price fall, start to bottom':<{width}}{percent(m['fall'])} (reported "
              f"{percent(case.target.value)}: {'within' if within else 'outside'} "
              f"{number(case.tolerance * 100, 1, trim=True)} points)",
              f"  {'of which the shock':<{width}}{percent(m['shock_fall'])}",
              f"  {'rounds':<{width}}{number(m['rounds'], 0)}",
              f"  {'liquidation calls':<{width}}{number(m['liquidations'], 0)}",
              f"  {'debt at the start':<{width}}{money(m['debt_start'])}",
              f"  {'debt repaid by the keepers':<{width}}{money(m['repaid'])}",
              f"  {'bad debt':<{width}}{money(m['bad_debt'])} "
              f"({percent(m['bad_debt_share'], 2)} of the debt)",
              f"  {'skipped for gas':<{width}}{number(m['skipped_gas'], 0)}",
              f"  {'the keepers gained':<{width}}{money(m['liquidator_profit'])}",
              "", spread_sentence(case)]
    return "\n".join(lines)


# ---------------------------------------------------------------------------- the exercises
#: Exercise 1's loan (worked by hand): 5 coins, 6,000 USD of debt, LT 80%, bonus 5%, fee 10%,
#: the price at 1,400 USD (its health factor 0.9333: at or below 0.95, so 100% may be repaid).
EXERCISE_LOAN_1 = dict(collateral=5.0, debt=6_000.0, price=1_400.0)
EXERCISE_CLOSE_FACTOR_2 = 1.0  # Exercise 2: the lesson's market with a 100% close factor
EXERCISE_HEARTBEAT_3 = 0  # Exercise 3: the push oracle of Part 3 without a heartbeat
EXERCISE_GAS_4 = 20.0  # Exercise 4: Part 4's small borrowers with gas at 20 USD a call
#: Part 3's feed on the lesson's market: a push oracle that reports moves of 2% or more, or
#: every 3 rounds (the lesson's own settings, so that a change of the presets cannot move its
#: numbers).
STALE_ORACLE = dict(oracle="push", deviation=0.02, heartbeat=3)
#: Part 4's market on the lesson's: 2,000 small borrowers (median collateral 400 USD), a
#: thinner pool, gas at 60 USD a call and a 20% shock.
SMALL_BORROWERS = dict(n_accounts=2000, size_median=400.0, size_spread=0.8, gas_cost=60.0,
                       depth_1pct=30_000.0, shock=0.2)


def stale_oracle() -> LendingScenario:
    """Part 3's market: the lesson's market watched by :data:`STALE_ORACLE`'s feed."""
    return market().replace(name="stale oracle", **STALE_ORACLE)


def small_borrowers() -> LendingScenario:
    """Part 4's market: the lesson's market with :data:`SMALL_BORROWERS`' settings."""
    return market().replace(name="small borrowers", **SMALL_BORROWERS)


def _fall(history) -> float:
    return 1.0 - history[-1].price_after / history[0].price_before


def exercises() -> list[Exercise]:
    """The lesson's four exercises, answers computed from the package: one liquidation worked
    by hand, then the lesson's markets with one setting changed."""
    loan = EXERCISE_LOAN_1
    r = liquidation_call(loan["collateral"], loan["debt"], loan["price"],
                         liquidation_threshold=LOAN["liquidation_threshold"], bonus=LOAN["bonus"],
                         protocol_fee=LOAN["protocol_fee"])
    base = market()
    fall2 = _fall(run(base.replace(close_factor=EXERCISE_CLOSE_FACTOR_2)))
    own_fall = _fall(run(base))
    stale = stale_oracle()
    calls3 = sum(x.n_liquidated for x in run(stale.replace(heartbeat=EXERCISE_HEARTBEAT_3)))
    calls_own = sum(x.n_liquidated for x in run(stale))
    small = small_borrowers()
    under4 = run(small.replace(gas_cost=EXERCISE_GAS_4))[-1].underwater_debt
    return [
        Exercise(
            f"A loan of {number(loan['collateral'], 0)} coins against "
            f"{number(loan['debt'], 0)} USD of debt (liquidation threshold 80%, bonus 5%, "
            f"protocol fee 10% of the bonus part). The price falls to "
            f"{number(loan['price'], 0)} USD and a bot repays as much as Aave v3.3 allows. How "
            "many coins does the bot receive (after the protocol's fee)?",
            answer=r.to_liquidator, unit="coins", tolerance=0.0, abs_tolerance=0.005,
            hints=("First the health factor: coins x price x 0.8 / debt. Is it above 0.95 "
                   "(50% of the debt may be repaid) or not (100%)?",
                   "Seized = repaid / price x 1.05; the bonus part is seized - seized / 1.05, "
                   "and the protocol keeps 10% of it.")),
        Exercise(
            "The lesson's market (eth-pool) with a close factor of 100% "
            f"(close_factor={EXERCISE_CLOSE_FACTOR_2}): every liquidation may repay the whole "
            "debt. How far does the pool's price fall, start to end? (answer in %)",
            answer=fall2, unit="%", tolerance=0.0, abs_tolerance=0.0006,
            hints=("In code: lesson08.compare_table(market, market.replace(close_factor=1.0)) "
                   "and read the row 'fall'; or set the close factor in the sandbox and run "
                   "to the end.",
                   f"With 50% the market falls {percent(own_fall)}. Repaying whole debts seizes "
                   "more coins per call, and they are all sold on the same pool.")),
        Exercise(
            "Part 3's push oracle (it reports moves of 2% or more, or every 3 rounds) without "
            f"its heartbeat (heartbeat={EXERCISE_HEARTBEAT_3}): it never reports a smaller "
            "move, however long it waits. How many liquidation calls are made in the whole "
            "run?",
            answer=calls3, unit="calls", tolerance=0.0, abs_tolerance=0.5,
            hints=("In code: sum(r.n_liquidated for r in lesson08.run(lesson08.stale_oracle()"
                   ".replace(heartbeat=0))), or the row 'liquidation calls' of "
                   "lesson08.compare_table.",
                   f"With its heartbeat the feed catches up in the end ({number(calls_own, 0)} "
                   "calls). Without it, where does the oracle stop?")),
        Exercise(
            "Part 4's market (lesson08.small_borrowers(): small loans, a 20% shock) with gas at "
            f"{number(EXERCISE_GAS_4, 0)} USD a call instead of 60. How much debt (USD) is "
            "left underwater at the end: debt of open loans whose collateral is worth less "
            "than the debt?",
            answer=under4, unit="USD", tolerance=0.0, abs_tolerance=60.0,
            hints=("In code: small = lesson08.small_borrowers(); lesson08.compare_table("
                   f"small, small.replace(gas_cost={EXERCISE_GAS_4:g})) and read the row "
                   "'underwater debt'.",
                   "Cheaper gas: more loans are worth liquidating, but not all of them.")),
    ]
