"""Lesson 5, Breaking the loop: the mechanisms compared on one crash (:data:`MECHANISMS`,
:func:`mechanism_table`), what four of them cost (:func:`costs`), the exercises, and the
README's table of every mechanism (:func:`readme_table`)."""

from __future__ import annotations

import numpy as np

from ..analysis import amplification
from ..cascade import RoundRecord
from ..exercises import Exercise
from ..narration import count, money, price
from ..numbers import number, percent
from ..scenarios import Scenario
from ..sweeps import sweep
from ..tiers import BINANCE_STYLE_TIERS
from ._shared import market_or_preset
from ._shared import with_round_1 as _with_round_1

#: The market every comparison starts from.
PRESET = "crowded-longs"

#: One mechanism at a time, as the ``Scenario`` fields it changes on the preset.
MECHANISMS: dict[str, dict] = {
    "none (the preset)": {},
    "deeper book: 6M USD of 1% depth": dict(depth_1pct=6_000_000),
    "lower leverage: 2x-10x": dict(leverage_mix=((2, 0.4), (3, 0.3), (5, 0.2), (10, 0.1))),
    "partial liquidation, 25% a round": dict(partial="fraction"),
    "resilience 50% alone": dict(resilience=0.5),
    "partial liquidation + resilience 50%": dict(partial="fraction", resilience=0.5),
    "circuit breaker 2%, recovery 50%": dict(breaker_move=0.02, breaker_rounds=2,
                                               recovery=0.5),
    "call auction, recovery 0": dict(call_auction=True, recovery=0.0),
    "call auction, recovery 50%": dict(call_auction=True, recovery=0.5),
    "auto-deleveraging (ADL)": dict(adl=True),
    "dynamic margin x2": dict(dynamic_margin=2.0),
    "market makers withdraw (x0.5)": dict(withdrawal=0.5),
}


def _market(scenario: Scenario | None) -> Scenario:
    return market_or_preset(scenario, PRESET)


def _fall(history: list[RoundRecord]) -> float:
    return 1.0 - history[-1].price_after / history[0].price_before


def _reduced_open(cascade, history: list[RoundRecord]) -> int:
    """Positions only reduced and still open at the end (a sweep measure)."""
    return history[-1].n_reduced_open


def _adl_cost(cascade, history: list[RoundRecord]) -> float:
    """What auto-deleveraging cost the traders it closed, USD, over the run (a sweep
    measure)."""
    return sum(r.adl_cost for r in history)


def _sweep(market: Scenario, mechanisms: dict[str, dict], measures) -> list[dict]:
    """One run per mechanism on ``market``, in order: a :func:`marginloops.sweep` whose grid is
    the list of the mechanisms' changes (in this process, no progress bar)."""
    return sweep(market, list(mechanisms.values()), measures=measures, progress=False).rows


def mechanism_table(scenario: Scenario | None = None,
                    mechanisms: dict[str, dict] | None = None) -> str:
    """Each mechanism on the same crash, one row each: the whole fall (1 - end / start), the
    amplification (that fall over the shock's), the rounds after the shock, the bad debt (USD).

    ``scenario`` defaults to the crowded-longs preset, ``mechanisms`` to :data:`MECHANISMS`.
    """
    market = _market(scenario)
    mechanisms = MECHANISMS if mechanisms is None else mechanisms
    width = max(len("mechanism"), *(len(label) for label in mechanisms)) + 2
    lines = [f"{'mechanism':<{width}}{'final fall':>11}{'amplification':>15}{'rounds':>8}"
             f"{'bad debt (USD)':>16}"]
    rows = _sweep(market, mechanisms, ("fall", "amplification", "rounds", "bad_debt"))
    for label, row in zip(mechanisms, rows, strict=True):
        lines.append(f"{label:<{width}}{percent(row['fall']):>11}"
                     f"{number(row['amplification'], 2):>15}{count(int(row['rounds'])):>8}"
                     f"{number(row['bad_debt'], 0):>16}")
    return "\n".join(lines)


#: The README's table: every mechanism (and the variants the lesson leaves to the sandbox), one
#: at a time on the preset, as the ``Scenario`` fields each changes.
README_MECHANISMS: dict[str, dict] = {
    "none (the preset)": {},
    "tiered margin (Binance-style brackets)": dict(mmr_tiers=BINANCE_STYLE_TIERS.brackets),
    "partial liquidation, 25% a round": dict(partial="fraction"),
    "partial liquidation, restore margin": dict(partial="restore"),
    "liquidation fee 1% (rest back to traders)": dict(liquidation_fee=0.01),
    "auto-deleveraging": dict(adl=True),
    "circuit breaker 2%, 2 rounds, recovery 50%": dict(breaker_move=0.02),
    "call auction, recovery 50%": dict(call_auction=True),
    "call auction, no recovery (nothing arrives before the auction)": dict(call_auction=True,
                                                                           recovery=0.0),
    "dynamic margin x2": dict(dynamic_margin=2.0),
    "resilience 30% at the touch": dict(resilience=0.3, refill_at="touch"),
    "resilience 30% at the old levels": dict(resilience=0.3, refill_at="levels"),
    "market makers withdraw (x0.5)": dict(withdrawal=0.5),
}


def readme_table(scenario: Scenario | None = None,
                 mechanisms: dict[str, dict] | None = None) -> str:
    """The README's mechanism table as markdown, computed now: one row per mechanism.

    Columns: the whole fall, the amplification, the rounds after the shock, the positions
    closed whole, the positions only reduced and still open at the end, the bad debt (USD),
    and what auto-deleveraging cost the opposite traders it closed (the profit they gave up
    against the price of the round, USD).

    ``scenario`` defaults to the crowded-longs preset, ``mechanisms`` to
    :data:`README_MECHANISMS`. A test checks that the README holds exactly this table.
    """
    market = _market(scenario)
    mechanisms = README_MECHANISMS if mechanisms is None else mechanisms
    shock = percent(market.shock, 0) if market.shock >= 0.01 else percent(market.shock)
    head = (f"mechanism on {market.name} ({shock} shock)", "final fall", "amplification",
            "rounds", "positions closed", "reduced (still open)", "bad debt (USD)",
            "ADL cost (USD)")
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    rows = _sweep(market, mechanisms, ("fall", "amplification", "rounds", "liquidated",
                                       ("reduced_open", _reduced_open), "bad_debt",
                                       ("adl_cost", _adl_cost)))
    for label, row in zip(mechanisms, rows, strict=True):
        cells = (label, percent(row["fall"]), number(row["amplification"], 2),
                 count(int(row["rounds"])), count(int(row["liquidated"])),
                 count(int(row["reduced_open"])), number(row["bad_debt"], 0),
                 number(row["adl_cost"], 0))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def costs(scenario: Scenario | None = None) -> list[str]:
    """What a circuit breaker, a call auction, auto-deleveraging and dynamic margin x2 cost on
    ``scenario`` (default crowded-longs), one sentence per line, each read off the run.

    The auction is compared with a walk through the same book: its own round 1 levels (after
    ``recovery`` refilled them), and with ``recovery=0`` the preset's empty book.
    """
    market = _market(scenario)

    def run(**change):
        return market.replace(**change).cascade().run()

    plain = _with_round_1(run(), market, "what the mechanisms cost")
    halt, auction = run(breaker_move=0.02), run(call_auction=True)
    bare = run(call_auction=True, recovery=0.0)
    halted = [r.round for r in halt if r.halted]
    lines = [f"Circuit breaker: rounds {halted} halted, no trade at all; the crash lasted "
             f"{count(halt[-1].round)} rounds instead of {count(plain[-1].round)}."]
    a1, p1, b1 = auction[1], plain[1], bare[1]
    walk = float(np.dot(a1.book_prices, a1.book_qty) / a1.book_qty.sum())
    recovery = percent(market.recovery, 0)
    lines.append(f"Call auction, recovery {recovery}, round 1: the book first got "
                 f"back {recovery} of the depth eaten so far; then all "
                 f"{count(a1.n_closed)} positions sold at one price, {price(a1.avg_fill_price)}, "
                 f"the price of the last level the batch needed.")
    lines.append(f"  A walk through that same refilled book: from {price(a1.book_prices[0])} down "
                 f"to {price(a1.last_fill_price)}, average {price(walk)}. At one price the batch "
                 f"raised {money((walk - a1.avg_fill_price) * a1.filled_qty)} less.")
    lines.append(f"Call auction, recovery 0, round 1: nothing refilled; all {count(b1.n_closed)} "
                 f"sold at {price(b1.avg_fill_price)}, the last fill of the preset's walk "
                 f"through the same book ({price(p1.book_prices[0])} down to "
                 f"{price(p1.last_fill_price)}, average {price(p1.avg_fill_price)}). The run "
                 f"ends at {price(bare[-1].price_after)} (preset: {price(plain[-1].price_after)}),"
                 f" with {number(bare[-1].bad_debt, 0)} USD of bad debt (preset: "
                 f"{number(plain[-1].bad_debt, 0)}).")
    lines += adl_costs(market)
    spiral = run(dynamic_margin=2.0)
    levels = np.array(sorted({lev for lev, _ in market.leverage_mix}))
    side, word = (1, "long") if market.direction == "down" else (-1, "short")
    still_open = int(np.count_nonzero(market.positions().side == side))
    for r in spiral[1:]:
        if r.round >= len(plain):
            break
        text = (f"Dynamic margin x2, round {count(r.round)}: every maintenance rate raised by "
                f"{number(r.mmr_surcharge * 100, 2)} percentage points")
        if not market.mmr_tiers:
            rate = market.mmr + r.mmr_surcharge
            over = levels[1.0 / levels < rate]
            text += f", from {percent(market.mmr, 2)} to {percent(rate, 2)}"
            if len(over):
                lev = number(over[0], 2, trim=True)
                text += (f", above the 1/{lev} = {percent(1 / over[0], 0)} margin a {lev}x "
                         f"position starts with")
        everyone = f", every {word} still open" if r.n_closed == still_open else ""
        text += (f"; {count(r.n_closed)} positions liquidated{everyone} "
                 f"(preset: {count(plain[r.round].n_closed)}).")
        lines.append(text)
        still_open -= r.n_closed
    return lines


def adl_costs(scenario: Scenario | None = None) -> list[str]:
    """What auto-deleveraging does on ``scenario`` (default crowded-longs), one sentence per
    round in which it closed bankrupt positions, then one sentence with the totals: the bad
    debt it saved against the same run without ADL, and the profit the deleveraged opposite
    traders gave up for it (:attr:`RoundRecord.adl_cost`: their matched units times the gap
    between the market price and the bankruptcy price they were closed at).
    """
    market = _market(scenario)
    other = "shorts" if market.direction == "down" else "longs"
    side = "longs" if market.direction == "down" else "shorts"
    plain = market.cascade().run()
    history = market.replace(adl=True).cascade().run()
    lines = [f"ADL, round {count(r.round)}: {count(r.n_adl)} bankrupt {side} closed against "
             f"{count(r.n_deleveraged)} profitable {other} at {price(r.adl_price)}; the price "
             f"was {price(r.price_before)}, so those {other} gave up "
             f"{number(r.adl_cost, 0)} USD of profit." for r in history if r.n_adl]
    if not lines:
        return ["ADL: the insurance fund never ran dry, so nobody was auto-deleveraged."]
    saved = plain[-1].bad_debt - history[-1].bad_debt
    cost = sum(r.adl_cost for r in history)
    lines.append(f"ADL in all: bad debt {number(history[-1].bad_debt, 0)} USD instead of "
                 f"{number(plain[-1].bad_debt, 0)} ({number(saved, 0)} USD "
                 f"{'less' if saved >= 0 else 'more'}); the deleveraged {other} gave up "
                 f"{number(cost, 0)} USD of profit.")
    return lines


def exercises(scenario: Scenario | None = None) -> list[Exercise]:
    """The lesson's three exercises on ``scenario`` (default crowded-longs).

    1. The amplification with a 2% circuit breaker that halts for 4 rounds instead of 2.
    2. The bad debt left with ADL on and an insurance fund of 100,000 instead of 250,000 USD.
    3. Dynamic margin x3: the surcharge at the first check after the shock,
       ``3 * |P1 / P0 - 1|`` (P0 the start, P1 the price after the shock).
    """
    market = _market(scenario)
    longer_halt = market.replace(breaker_move=0.02, breaker_rounds=4).cascade().run()
    smaller_fund = market.replace(adl=True, insurance_fund=100_000).cascade().run()
    spiral = market.replace(dynamic_margin=3.0).cascade().run()
    _with_round_1(market.cascade().run(), market, "these exercises")
    return [
        Exercise(
            "The 2% circuit breaker halted trading for 2 rounds. Make the halt last 4 rounds "
            "(breaker_rounds=4). What is the amplification now?",
            # 1.0301; the status line's 3.1% / 3.0% gives 1.033. 1.0 or 1.04 is a slip.
            answer=amplification(longer_halt), tolerance=0.0, abs_tolerance=0.005,
            hints=("In the sandbox: open Breaking the loop, tick 'circuit breaker', set 'Halt "
                   "rounds' to 4, press Run to end and divide the status line's price change by "
                   "the shock's. In JupyterLab you can also compute amplification(market.replace("
                   "breaker_move=0.02, breaker_rounds=4).cascade().run()).",
                   "During each halted round the book recovers 50% of what is still missing.")),
        Exercise(
            "With auto-deleveraging on, shrink the insurance fund from 250,000 to 100,000 USD "
            "(insurance_fund=100_000). How much bad debt is left at the end, in USD?",
            # The status line shows "534 USD": to the dollar.
            answer=smaller_fund[-1].bad_debt, unit="USD", tolerance=0.0, abs_tolerance=1.0,
            hints=("Read history[-1].bad_debt of the run, or the status line of the sandbox "
                   "at the end.",
                   "ADL starts as soon as the fund cannot pay for the bankrupt positions. With "
                   "a smaller fund, does it start earlier or later?")),
        Exercise(
            "Dynamic margin x3: every maintenance rate rises by 3 times the price move of the "
            "last 2 rounds. The shock took the price from 99.99 to 97.00 USD. By how many "
            "percentage points are the rates raised at the check of round 1?",
            # 3 x 2.99 = 8.97 points from the prices given; 9 (3 x 3%) is refused.
            answer=spiral[1].mmr_surcharge, unit="%", tolerance=0.0, abs_tolerance=0.00006,
            hints=("The rates rise by 3 times the move, not by the move itself.",
                   "The move is 1 - 97.00 / 99.99, as a %; multiply it by 3.")),
    ]
