"""Lesson 3, The loop round by round: the depth table of Part 3 (:func:`depth_table`, one sweep
of the book's depth) and the exercises on the closed form (each round's drop is the last one
times n/D, so the total fall is shock / (1 - n/D)) and the crowding ratio."""

from __future__ import annotations

from ..analysis import closed_form_amplification, crowding
from ..exercises import Exercise
from ..scenarios import Scenario
from ..sweeps import sweep

#: The market the lesson measures.
PRESET = "crowded-longs"
#: The worked example of exercise 1: a 4 USD shock where n/D = 0.25.
SHOCK_USD, RATIO = 4.0, 0.25
#: The book of exercises 2 and 3: crowded-longs with this much 1% depth, USD.
DEPTH = 4_000_000
#: The 1% depths (USD) of Part 3's table, from a book that lets the loop run away to one that
#: stops it at once.
DEPTHS = (500_000, 1_000_000, 1_500_000, 2_000_000, 3_000_000, 6_000_000)


def depth_table(scenario: Scenario | None = None, depths=DEPTHS) -> str:
    """``scenario`` (default crowded-longs) with each 1% depth of ``depths`` (USD), one row
    each: the crowding ratio n/D within 5% of the price (:func:`marginloops.crowding`), the
    closed form's amplification ``1 / (1 - n/D)`` (``inf`` from 1 on), the simulated
    amplification, the rounds after the shock and the total fall.

    One :func:`marginloops.sweep` over ``depth_1pct`` (in this process, no progress bar).
    """
    scenario = scenario if scenario is not None else Scenario.preset(PRESET)
    result = sweep(scenario, {"depth_1pct": list(depths)}, progress=False,
                   measures=("crowding", "amplification", "rounds", "fall"))
    lines = ["1% depth (USD)  crowding ratio  closed form 1/(1-ratio)  amplification  rounds"
             "  total fall"]
    for row in result.rows:
        ratio = row["crowding"]
        lines.append(f"{row['depth_1pct']:>14,.0f}  {ratio:>14.2f}  "
                     f"{closed_form_amplification(ratio):>23.2f}  {row['amplification']:>13.2f}"
                     f"  {int(row['rounds']):>6}  {row['fall']:>10.1%}")
    return "\n".join(lines)


def exercises(scenario: Scenario | None = None) -> list[Exercise]:
    """The lesson's three exercises.

    1. The total fall, in USD, of a 4 USD shock where n/D = 0.25 (closed form: 4 / 0.75).
    2. The crowding ratio of ``scenario`` (default: crowded-longs) with 4M USD of 1% depth,
       measured by :func:`marginloops.crowding` over a 5% band.
    3. The amplification the closed form predicts for that ratio, ``1 / (1 - ratio)``.
    """
    scenario = scenario if scenario is not None else Scenario.preset(PRESET)
    ratio = crowding(scenario.replace(depth_1pct=DEPTH).cascade(), band=0.05).ratio
    return [
        Exercise(
            f"A shock lowers the price by {SHOCK_USD:g} USD in a market where n/D = {RATIO:g}. "
            "What total fall, in USD, does the closed form predict? (Two decimals.)",
            answer=SHOCK_USD * closed_form_amplification(RATIO), unit="USD", tolerance=0.0,
            abs_tolerance=0.006,
            hints=("Write out the drops: 4, then 4 x 0.25, then 4 x 0.25 x 0.25, ... and add "
                   "them up.",
                   "The sum of the series is shock / (1 - n/D).")),
        Exercise(
            f"The crowded-longs market has a crowding ratio of about 0.96 with 1.5M USD of 1% "
            f"depth. What is its crowding ratio with {DEPTH / 1e6:g}M USD of 1% depth?",
            # 0.96 x 1.5 / 4 = 0.36 (the package measures 0.3602); 0.35 or 0.37 is a slip.
            answer=ratio, tolerance=0.0, abs_tolerance=0.006,
            hints=("The traders stay the same, so n stays the same; only D changes.",
                   "D grows in proportion to the 1% depth: 4M is 4 / 1.5 times 1.5M.")),
        Exercise(
            f"With that {DEPTH / 1e6:g}M USD book, what amplification (total fall divided by "
            "the shock's fall) does the closed form predict?",
            # 1 / (1 - 0.36) = 1.5625 and 1 / (1 - 0.3602) = 1.563; 1.55 or 1.57 is a slip.
            answer=closed_form_amplification(ratio), tolerance=0.0, abs_tolerance=0.006,
            hints=("Amplification = 1 / (1 - n/D), with n/D your answer to exercise 2.",)),
    ]
