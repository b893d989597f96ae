"""marginloops: see a margin-call cascade happen, one round at a time.

The model core (positions, order book, cascade, scenarios, narration) needs numpy only; the
Jupyter explorer is imported on first use, so ``import marginloops`` never loads ipywidgets.
"""

from .analysis import Crowding, amplification, closed_form_amplification, crowding
from .cascade import Cascade, CircuitBreaker, RoundRecord
from .cases import CASES, CaseStudy, Reported, compare_case, loop_share
from .compare import Comparison, LockStep, Summary, compare
from .narration import narrate, narrate_end, narrate_history, round_table
from .orderbook import Fill, OrderBook
from .positions import Positions, bankruptcy_price, liquidation_price
from .scenarios import PRESETS, Scenario
from .tiers import MarginTiers

__version__ = "0.1.0"

__all__ = ["CASES", "Cascade", "CaseStudy", "CircuitBreaker", "Comparison", "Crowding", "Fill",
           "LockStep", "MarginTiers", "OrderBook", "PRESETS", "Positions", "Reported",
           "RoundRecord", "Scenario", "Summary", "amplification", "bankruptcy_price",
           "closed_form_amplification", "compare", "compare_case", "crowding",
           "liquidation_price", "loop_share", "narrate", "narrate_end", "narrate_history",
           "round_table"]

_UI_NAMES = {"AnswerSheet", "BookWalkView", "CascadeExplorer", "CompareExplorer",
             "CriticalRatioView", "ExerciseBox", "MarginView"}


def __getattr__(name):
    if name in _UI_NAMES:
        from . import ui
        return getattr(ui, name)
    raise AttributeError(f"module 'marginloops' has no attribute {name!r}")
