"""What more than one lesson module needs: the market a helper works on, and a clear error for a
market whose shock starts no cascade."""

from __future__ import annotations

from ..scenarios import Scenario


def market_or_preset(scenario, default: str) -> Scenario:
    """``scenario``, or the preset named ``default`` when it is None."""
    if scenario is None:
        return Scenario.preset(default)
    if not isinstance(scenario, Scenario):
        raise ValueError(f"scenario must be a Scenario, got {type(scenario).__name__}")
    return scenario


def with_round_1(history, scenario, what: str):
    """``history`` if the shock started a cascade (a round 1 that sold something); a clear
    ``ValueError`` otherwise, instead of an IndexError deep inside a lesson helper."""
    if len(history) < 2 or history[1].n_liquidated == 0 or len(history[1].book_prices) == 0:
        raise ValueError(f"scenario must start a cascade for {what}: in {scenario.name!r} the "
                         f"shock of {scenario.shock:.0%} liquidated nothing that traded in "
                         f"round 1 (ended at round {history[-1].round}); use a market whose "
                         f"shock reaches some positions, such as the crowded-longs preset")
    return history
