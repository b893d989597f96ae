"""The interface layer: ipywidgets controls, bqplot charts and the CascadeExplorer.

Importing this package loads ipywidgets and bqplot; the model core never does.
"""

from .bookwalk import BookWalkView
from .charts import (
    BookChart,
    LiquidationMapChart,
    LiquidationsChart,
    OpenInterestChart,
    PriceChart,
    View,
)
from .compare import CompareExplorer
from .controls import LEVERAGE_MIXES, Knob, ScenarioControls, TimeControls
from .critical import CriticalRatioView
from .exercise import AnswerSheet, ExerciseBox
from .explorer import CascadeExplorer
from .margin import MarginView

__all__ = ["AnswerSheet", "BookChart", "BookWalkView", "CascadeExplorer", "CompareExplorer",
           "CriticalRatioView", "ExerciseBox", "Knob", "LEVERAGE_MIXES", "LiquidationMapChart",
           "LiquidationsChart", "MarginView", "OpenInterestChart", "PriceChart", "ScenarioControls",
           "TimeControls", "View"]
