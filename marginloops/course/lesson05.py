"""Lesson 5, Breaking the loop: the mechanisms compared on one crash (:data:`MECHANISMS`,
:func:`mechanism_table`), what four of them cost (:func:`costs`), and the exercises."""

from __future__ import annotations

import numpy as np

from ..analysis import amplification
from ..cascade import RoundRecord
from ..exercises import Exercise
from ..scenarios import Scenario
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
    "circuit breaker 2%, recovery 50%": dict(breaker_move=0.02),
    "call auction, recovery 0": dict(call_auction=True, recovery=0.0),
    "call auction, recovery 50%": dict(call_auction=True),
    "auto-deleveraging (ADL)": dict(adl=True),
    "dynamic margin x2": dict(dynamic_margin=2.0),
    "market makers withdraw (x0.5)": dict(withdrawal=0.5),
}


def _market(scenario: Scenario | None) -> Scenario:
    return market_or_preset(scenario, PRESET)


def _fall(history: list[RoundRecord]) -> float:
    return 1.0 - history[-1].price_after / history[0].price_before


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
    for label, change in mechanisms.items():
        history = market.replace(**change).cascade().run()
        lines.append(f"{label:<{width}}{_fall(history):>11.1%}{amplification(history):>15.2f}"
                     f"{history[-1].round:>8}{history[-1].bad_debt:>16,.0f}")
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
             f"{halt[-1].round} rounds instead of {plain[-1].round}."]
    a1, p1, b1 = auction[1], plain[1], bare[1]
    walk = float(np.dot(a1.book_prices, a1.book_qty) / a1.book_qty.sum())
    lines.append(f"Call auction, recovery {market.recovery:.0%}, round 1: the book first got "
                 f"back {market.recovery:.0%} of the depth eaten so far; then all "
                 f"{a1.n_liquidated} positions sold at one price, {a1.avg_fill_price:.2f}, the "
                 f"price of the last level the batch needed.")
    lines.append(f"  A walk through that same refilled book: from {a1.book_prices[0]:.2f} down to "
                 f"{a1.last_fill_price:.2f}, average {walk:.2f}. At one price the batch raised "
                 f"{(walk - a1.avg_fill_price) * a1.filled_qty / 1e3:,.1f}K USD less.")
    lines.append(f"Call auction, recovery 0, round 1: nothing refilled; all {b1.n_liquidated} "
                 f"sold at {b1.avg_fill_price:.2f}, the last fill of the preset's walk through "
                 f"the same book ({p1.book_prices[0]:.2f} down to {p1.last_fill_price:.2f}, "
                 f"average {p1.avg_fill_price:.2f}). The run ends at {bare[-1].price_after:.2f} "
                 f"(preset: {plain[-1].price_after:.2f}), with {bare[-1].bad_debt:,.0f} USD of "
                 f"bad debt (preset: {plain[-1].bad_debt:,.0f}).")
    lines += [f"ADL, round {r.round}: {r.n_adl} bankrupt longs closed against "
              f"{r.n_deleveraged} profitable shorts at {r.adl_price:.2f}; the price was "
              f"{r.price_before:.2f}." for r in run(adl=True) if r.n_adl]
    spiral = run(dynamic_margin=2.0)
    levels = np.array(sorted({lev for lev, _ in market.leverage_mix}))
    side, word = (1, "long") if market.direction == "down" else (-1, "short")
    still_open = int(np.count_nonzero(market.positions().side == side))
    for r in spiral[1:]:
        if r.round >= len(plain):
            break
        text = (f"Dynamic margin x2, round {r.round}: every maintenance rate raised by "
                f"{r.mmr_surcharge * 100:.2f} percentage points")
        if not market.mmr_tiers:
            rate = market.mmr + r.mmr_surcharge
            over = levels[1.0 / levels < rate]
            text += f", from {market.mmr:.2%} to {rate:.2%}"
            if len(over):
                text += (f", above the 1/{over[0]:g} = {1 / over[0]:.0%} margin a {over[0]:g}x "
                         f"position starts with")
        everyone = f", every {word} still open" if r.n_liquidated == still_open else ""
        text += (f"; {r.n_liquidated} positions liquidated{everyone} "
                 f"(preset: {plain[r.round].n_liquidated}).")
        lines.append(text)
        still_open -= r.n_liquidated
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
            answer=amplification(longer_halt), tolerance=0.01,
            hints=("Step it in the sandbox (tick 'circuit breaker', set 'Halt rounds' to 4) "
                   "or run market.replace(breaker_move=0.02, breaker_rounds=4).cascade().run(), "
                   "then amplification(...) of that history.",
                   "During each halted round the book recovers 50% of what is still missing.")),
        Exercise(
            "With auto-deleveraging on, shrink the insurance fund from 250,000 to 100,000 USD "
            "(insurance_fund=100_000). How much bad debt is left at the end, in USD?",
            answer=smaller_fund[-1].bad_debt, unit="USD", tolerance=0.01, abs_tolerance=10,
            hints=("Read history[-1].bad_debt of the run, or the status line of the sandbox "
                   "at the end.",
                   "ADL starts as soon as the fund cannot pay for the bankrupt positions. With "
                   "a smaller fund, does it start earlier or later?")),
        Exercise(
            "Dynamic margin x3: every maintenance rate rises by 3 times the price move of the "
            "last 2 rounds. The shock took the price from 99.99 to 97.00 USD. By how many "
            "percentage points are the rates raised at the check of round 1?",
            answer=spiral[1].mmr_surcharge, unit="%", tolerance=0.01,
            hints=("The rates rise by 3 times the move, not by the move itself.",
                   "The move is 1 - 97.00 / 99.99, as a %; multiply it by 3.")),
    ]
