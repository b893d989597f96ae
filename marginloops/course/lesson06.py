"""Lesson 6, Case studies: the three calibrated cases (:data:`marginloops.cases.CASES`), the
calibration table of all three (:func:`calibration_table`), how sensitive a calibration is to
the depth of the book (:func:`depth_sensitivity`), and the exercises."""

from __future__ import annotations

from ..cases import CASES, CaseStudy, loop_share, model_measures
from ..exercises import Exercise

#: The depths (fractions of the calibrated one) :func:`depth_sensitivity` tries by default.
DEPTH_FACTORS = (0.9, 1.0, 1.1, 1.25)


def _case(case) -> CaseStudy:
    if isinstance(case, str):
        if case not in CASES:
            raise ValueError(f"case must be one of {sorted(CASES)}, got {case!r}")
        return CASES[case]
    if not isinstance(case, CaseStudy):
        raise ValueError(f"case must be a CaseStudy or one of {sorted(CASES)}, got "
                         f"{type(case).__name__}")
    return case


def calibration_table() -> str:
    """One row per case: the reported fall, the model's, the shock, the amplification and the
    share of the fall the loop added (all from a fresh run of each case's scenario)."""
    lines = [f"{'case':<22}{'reported fall':>14}{'model fall':>12}{'shock':>7}"
             f"{'amplification':>15}{'loop share':>12}"]
    for case in CASES.values():
        m = model_measures(case.run())
        lines.append(f"{case.dates:<22}{case.target.value:>14.1%}{m['fall']:>12.1%}"
                     f"{case.scenario.shock:>7.0%}{m['amplification']:>15.2f}"
                     f"{m['loop_share']:>12.1%}")
    return "\n".join(lines)


def depth_sensitivity(case, factors=DEPTH_FACTORS) -> str:
    """The model's fall for ``case`` with its calibrated depth scaled by each of ``factors``
    (positive numbers), one line each: how much the calibration rests on one knob."""
    case = _case(case)
    if not factors or any(isinstance(f, bool) or not isinstance(f, (int, float)) or f <= 0
                          for f in factors):
        raise ValueError(f"factors must be positive numbers, got {factors!r}")
    base = case.scenario.depth_1pct
    lines = [f"{'depth (x calibrated)':<22}{'1% depth (USD)':>16}{'model fall':>12}"]
    for f in factors:
        history = case.scenario.replace(depth_1pct=base * f).cascade().run()
        fall = model_measures(history)["fall"]
        lines.append(f"{f:<22.2f}{base * f:>16,.0f}{fall:>12.1%}")
    return "\n".join(lines)


#: The exercises' settings of the May 2021 case (none of their answers is printed in the lesson).
EXERCISE_DEPTH_1 = 900_000.0  # Exercise 1: amplification with this 1% depth
EXERCISE_SHOCK_2 = 0.03  # Exercise 2: share of the fall added by the loop with this shock
EXERCISE_DEPTH_3 = 1_000_000.0  # Exercise 3: the price fall with this 1% depth


def exercises() -> list[Exercise]:
    """The lesson's three exercises on the May 2021 case with one knob changed, answers
    computed from the case's scenario. Each can be answered in the explorer (set the knob,
    step round 0, run to the end, read the status line) or in code."""
    may = CASES["may-2021"].scenario
    amp = model_measures(may.replace(depth_1pct=EXERCISE_DEPTH_1).cascade().run())[
        "amplification"]
    share = loop_share(may.replace(shock=EXERCISE_SHOCK_2).cascade().run())
    deeper_fall = model_measures(may.replace(depth_1pct=EXERCISE_DEPTH_3).cascade().run())[
        "fall"]
    return [
        Exercise(
            "Give the 19 May 2021 market 900,000 USD of 1% depth (0.9 M USD in the explorer) "
            "instead of 860,000. By how many times does the liquidation loop multiply the 5% "
            "shock now? (the amplification: the whole fall divided by the shock's fall)",
            answer=amp, tolerance=0.01,
            hints=("Explorer: set the depth, click Step once and note the change from the "
                   "start (the shock's fall), then Run to end and note it again. In code: "
                   "amplification(CASES['may-2021'].scenario.replace(depth_1pct=900_000)"
                   ".cascade().run()).",
                   "Divide the whole fall by the shock's fall. With more depth than the "
                   "calibrated market, expect a smaller amplification than its 5.37.")),
        Exercise(
            "Give the 19 May 2021 market a 3% shock instead of 5% (same depth). What share of "
            "the price fall does the liquidation loop add to the shock? (answer in %)",
            answer=share, unit="%", tolerance=0.01, abs_tolerance=0.002,
            hints=("The loop's part is the whole fall minus the shock's fall, as a share of "
                   "the whole fall (read both in the explorer's status line).",
                   "That share is 1 - 1 / amplification; loop_share(history) computes it.")),
        Exercise(
            "Give the 19 May 2021 market 1,000,000 USD of 1% depth (1.0 M USD in the explorer) "
            "instead of 860,000 (about 16% more). What is the model's price fall now? "
            "(answer in %)",
            answer=deeper_fall, unit="%", tolerance=0.01, abs_tolerance=0.002,
            hints=("Explorer: set the depth, Run to end and read the change from the start. In "
                   "code: CASES['may-2021'].scenario.replace(depth_1pct=1_000_000).cascade()"
                   ".run(), then 1 - last price / first price.",
                   "Near the critical ratio of lesson 3 a little more depth changes a lot: "
                   "expect far less than 27%.")),
    ]
