"""Live bqplot charts of a cascade (price, liquidations, order book, liquidation map, open
interest), gathered from the modules that hold them, for the import paths lessons and tests use:

- :mod:`.chartkit`: axes, figures, keys, axis fits, the :class:`~.chartkit.Chart` base,
  the stylesheet and the narration log;
- :mod:`.view`: a run's axis ranges (:class:`~.view.View`) and the book binned;
- :mod:`.cascade_charts`: the explorer's five charts;
- :mod:`.projector`: projector mode for a whole explorer.
"""

from __future__ import annotations

from .cascade_charts import (
    BookChart,
    LiquidationMapChart,
    LiquidationsChart,
    OpenInterestChart,
    PriceChart,
)
from .chartkit import Chart, nice_ticks, projector_changes, scrolling_log, stylesheet
from .projector import ProjectorMode
from .view import BOOK_BINS, MAP_BINS, View, book_histogram

__all__ = ["BOOK_BINS", "BookChart", "Chart", "LiquidationMapChart", "LiquidationsChart",
           "MAP_BINS", "OpenInterestChart", "PriceChart", "ProjectorMode", "View",
           "book_histogram", "nice_ticks", "projector_changes", "scrolling_log", "stylesheet"]
