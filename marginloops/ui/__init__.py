"""The interface layer: ipywidgets controls, bqplot charts and the CascadeExplorer.

Importing this package loads ipywidgets and bqplot; the model core never does.
"""

from .bookwalk import BookWalkView
from .cascade_charts import (
    BookChart,
    LiquidationMapChart,
    LiquidationsChart,
    OpenInterestChart,
    PriceChart,
)
from .compare import CompareExplorer
from .critical import CriticalRatioView
from .exercise import AnswerSheet, ExerciseBox
from .explorer import CascadeExplorer
from .knobs import Knob
from .lending import LendingCompare, LendingExplorer
from .margin import MarginView
from .phase import PhaseDiagramView
from .pool import PoolView, ReservesChart
from .run_controller import RunController
from .scenario_controls import LEVERAGE_MIXES, ScenarioControls
from .time_controls import TimeControls
from .view import View

__all__ = ["AnswerSheet", "BookChart", "BookWalkView", "CascadeExplorer", "CompareExplorer",
           "CriticalRatioView", "ExerciseBox", "Knob", "LEVERAGE_MIXES", "LendingCompare",
           "LendingExplorer", "LiquidationMapChart",
           "LiquidationsChart", "MarginView", "OpenInterestChart", "PhaseDiagramView",
           "PoolView", "PriceChart",
           "ReservesChart", "RunController", "ScenarioControls", "TimeControls", "View"]
