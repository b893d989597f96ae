"""The interface layer: ipywidgets controls, bqplot charts and the CascadeExplorer.

Importing this package loads ipywidgets and bqplot; the model core never does.
"""

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
from .exercise import ExerciseBox
from .explorer import CascadeExplorer

__all__ = ["BookChart", "CascadeExplorer", "CompareExplorer", "ExerciseBox", "Knob",
           "LEVERAGE_MIXES", "LiquidationMapChart", "LiquidationsChart", "OpenInterestChart",
           "PriceChart", "ScenarioControls", "TimeControls", "View"]
