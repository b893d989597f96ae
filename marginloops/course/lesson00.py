"""Lesson 0, Start here: the exercises, read off the crowded-longs run a student steps in the
first explorer (round 1's liquidations, the whole fall, the amplification) and the calm-market
run the student picks in the sandbox's market menu (how many positions were liquidated in all: on
``thin-book``, a market the lesson never prints, so the answer must come from the explorer)."""

from __future__ import annotations

from ..analysis import amplification
from ..exercises import Exercise
from ..scenarios import Scenario
from ._shared import market_or_preset as _market
from ._shared import with_round_1 as _with_round_1

#: The market the lesson's first explorer shows, and the one its sandbox starts on.
PRESET, SANDBOX = "crowded-longs", "calm-market"
#: The market exercise 4 asks about: picked from the sandbox's menu, never printed in the lesson.
EXERCISE_4 = "thin-book"


def exercises(scenario: Scenario | None = None,
              sandbox: Scenario | None = None) -> list[Exercise]:
    """The lesson's four exercises, answers computed from ``scenario`` (default: the
    ``crowded-longs`` preset) and ``sandbox`` (default: :data:`EXERCISE_4`, ``thin-book``) played
    to their end.

    1. Positions liquidated in round 1 (read from the narration after two clicks of Step).
    2. The whole fall, start to end, as a % of the starting price.
    3. The amplification: the whole fall divided by the shock's fall.
    4. Positions liquidated in all in ``sandbox``'s market, picked from the sandbox's menu.
    """
    market = _market(scenario, PRESET)
    history = _with_round_1(market.cascade().run(), market, "these exercises")
    other = _market(sandbox, EXERCISE_4).cascade().run()
    start = history[0].price_before
    return [
        Exercise(
            "Step the explorer twice (round 0, the shock, then round 1). How many positions "
            "were liquidated in round 1?",
            answer=history[1].n_liquidated, tolerance=0.0, abs_tolerance=0.5, unit="positions",
            hints=("Read the top sentence of 'What happened, newest first' after the second "
                   "click: it starts with 'Round 1:'.",
                   "Round 0 is the shock: nobody is liquidated in it. Count the clicks.")),
        Exercise(
            "Play the cascade to its end. By how much did the price fall in all, from the "
            "start to the end, as a % of the starting price?",
            # The status line shows the fall to 0.1%: accept its reading (15.6), not 15.5.
            answer=1.0 - history[-1].price_after / start, unit="%", tolerance=0.0,
            abs_tolerance=0.0006,
            hints=("Take the price at the end and the price at the start from the status line "
                   "or the last paragraph of the story: fall = 1 - end / start.",
                   "The price before the shock is 99.99 USD (the best buy order).")),
        Exercise(
            "The amplification is the whole fall divided by the shock's fall. What is it for "
            "this run?",
            # Readings of the status line give 15.6 / 3.0 = 5.2 (the story says "5.2 times");
            # 5.1 or 5.3 is a different run.
            answer=amplification(history), tolerance=0.0, abs_tolerance=0.015,
            hints=("The shock's fall is round 0 alone: 1 - 97.00 / 99.99. Divide your answer "
                   "to exercise 2 by it.",
                   "An amplification of 1 would mean the loop added nothing to the shock.")),
        Exercise(
            "In the free explorer, pick thin-book in the Market menu (leave the other knobs as "
            "they come) and press Run to end. How many positions were liquidated in all?",
            answer=sum(r.n_liquidated for r in other), tolerance=0.0, abs_tolerance=0.5,
            unit="positions",
            hints=("The status line says 'liquidated so far' once the run has ended.",
                   "Or add up the rounds in 'What happened': round 0, the shock, liquidates "
                   "nobody.")),
    ]
