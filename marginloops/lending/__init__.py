"""DeFi lending: health factors, Aave v3.3's liquidation rules, liquidation bots, oracles and
the pool they sell on (issue 13). Core layer: numpy only.

* :mod:`.rules`: :func:`health_factor`, :func:`liquidation_call` (Aave v3.3, cited there);
* :mod:`.scenario`: :class:`LendingScenario`, :data:`LENDING_PRESETS`;
* :mod:`.accounts`: :class:`LendingAccounts` (the account protocol for lending positions);
* :mod:`.cascade`: :class:`LendingCascade`, :class:`LendingRecord` (the round loop);
* :mod:`.narration`: :func:`narrate_lending`, :func:`narrate_lending_end`,
  :func:`lending_table`;
* :mod:`.compare`: :func:`compare_lending`.
"""

from .accounts import LendingAccounts
from .cascade import END_REASONS, LendingCascade, LendingRecord, venue_price
from .compare import COMPARE_ROWS, compare_lending, compare_lending_table, lending_history
from .narration import LENDING_COLUMNS, lending_table, narrate_lending, narrate_lending_end
from .rules import (
    CLOSE_FACTOR,
    CLOSE_FACTOR_HF_THRESHOLD,
    MIN_BASE_USD,
    MIN_LEFTOVER_USD,
    Liquidation,
    health_factor,
    liquidation_call,
)
from .scenario import LENDING_PRESETS, LendingScenario

__all__ = ["CLOSE_FACTOR", "CLOSE_FACTOR_HF_THRESHOLD", "COMPARE_ROWS", "END_REASONS",
           "LENDING_COLUMNS", "LENDING_PRESETS",
           "LendingAccounts", "LendingCascade", "LendingRecord", "LendingScenario",
           "Liquidation", "MIN_BASE_USD", "MIN_LEFTOVER_USD", "compare_lending",
           "compare_lending_table", "health_factor", "lending_history",
           "lending_table", "liquidation_call", "narrate_lending", "narrate_lending_end",
           "venue_price"]
