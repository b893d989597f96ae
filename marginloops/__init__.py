"""marginloops: see a margin-call cascade happen, one round at a time.

The model core (positions and their accounts, the venues: order book and constant-product pool,
the cascade and its mechanisms, scenarios, narration) needs numpy only; the
Jupyter explorer is imported on first use, so ``import marginloops`` never loads ipywidgets.
"""

from .accounts import Accounts, PerpetualAccounts
from .analysis import Crowding, amplification, closed_form_amplification, crowding
from .cascade import Cascade, CircuitBreaker, RoundRecord
from .cases import CASES, CaseStudy, Reported, compare_case, loop_share
from .compare import Comparison, LockStep, Summary, compare
from .critical import FlatBandScenario
from .lending import (
    LENDING_PRESETS,
    LendingCascade,
    LendingRecord,
    LendingScenario,
    compare_lending,
    health_factor,
    lending_table,
    liquidation_call,
    narrate_lending,
    narrate_lending_end,
)
from .mechanisms import MECHANISMS
from .narration import narrate, narrate_end, narrate_history, round_table
from .orderbook import Fill, OrderBook
from .pool import ConstantProductPool
from .positions import Positions, bankruptcy_price, liquidation_price
from .scenarios import PRESETS, Scenario
from .sweeps import DEFAULT_MEASURES, MEASURES, SweepResult, process_pool, sweep
from .tiers import MarginTiers
from .venue import Venue

__version__ = "0.1.0"

__all__ = ["Accounts", "CASES", "Cascade", "CaseStudy", "CircuitBreaker", "Comparison",
           "ConstantProductPool", "Crowding", "DEFAULT_MEASURES", "Fill", "FlatBandScenario",
           "LENDING_PRESETS", "LendingCascade",
           "LendingRecord", "LendingScenario", "LockStep",
           "MEASURES", "MECHANISMS", "MarginTiers",
           "OrderBook", "PRESETS", "PerpetualAccounts", "Positions", "Reported", "RoundRecord",
           "Scenario", "Summary", "SweepResult", "Venue", "amplification", "bankruptcy_price",
           "closed_form_amplification", "compare", "compare_case", "compare_lending",
           "crowding", "health_factor", "lending_table", "liquidation_call", "liquidation_price",
           "loop_share", "narrate", "narrate_end", "narrate_history",
           "narrate_lending", "narrate_lending_end", "process_pool", "round_table", "sweep"]

_UI_NAMES = {"AnswerSheet", "BookWalkView", "CascadeExplorer", "CompareExplorer",
             "CriticalRatioView", "ExerciseBox", "LendingCompare", "LendingExplorer", "MarginView",
             "PhaseDiagramView", "PoolView"}


def __getattr__(name):
    if name in _UI_NAMES:
        from . import ui
        return getattr(ui, name)
    raise AttributeError(f"module 'marginloops' has no attribute {name!r}")
