"""Controls, gathered from the modules that hold them, for the import paths lessons and tests
use:

- :mod:`.reports`: callbacks that never raise, widgets that report a problem in a sentence;
- :mod:`.knobs`: :class:`~.knobs.Knob` (a slider and a number box) and what it is made of;
- :mod:`.mechanisms`: the "Breaking the loop" panel's table and its
  :class:`~.mechanisms.Disclosure`;
- :mod:`.scenario_controls`: :class:`~.scenario_controls.ScenarioControls` and the market's names;
- :mod:`.time_controls`: :class:`~.time_controls.TimeControls` (Step, Play, Run to end, Reset).
"""

from __future__ import annotations

from .knobs import (
    ClampNote,
    Knob,
    RealFloatLogSlider,
    RealFloatSlider,
    RealFloatText,
    RealIntSlider,
    RealIntText,
    clamp_sentence,
    clean,
    max_mmr_pct,
    on_step,
)
from .mechanisms import MECHANISM_COLUMNS, MECHANISMS, OFF, Disclosure, Setting, describe_tiers
from .reports import Reports, StopsOnProblem, guarded, message_html, problem_sentence
from .scenario_controls import (
    CUSTOM,
    LEVERAGE_MIXES,
    ScenarioControls,
    market_label,
    market_name,
)
from .time_controls import RESET_COLOUR, RESET_MESSAGE, TimeControls, projector_toggle

__all__ = ["CUSTOM", "ClampNote", "Disclosure", "Knob", "LEVERAGE_MIXES", "MECHANISMS",
           "MECHANISM_COLUMNS", "OFF", "RESET_COLOUR", "RESET_MESSAGE", "RealFloatLogSlider",
           "RealFloatSlider", "RealFloatText", "RealIntSlider", "RealIntText", "Reports",
           "ScenarioControls", "Setting", "StopsOnProblem", "TimeControls", "clamp_sentence",
           "clean", "describe_tiers", "guarded", "market_label", "market_name", "max_mmr_pct",
           "message_html", "on_step", "problem_sentence", "projector_toggle"]
