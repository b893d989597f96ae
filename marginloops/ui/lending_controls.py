"""The lending explorer's controls (issue 13): a preset menu and the knobs of a
:class:`~marginloops.lending.LendingScenario`, producing a checked scenario.

Invalid states cannot be set: each knob's range is one the scenario accepts; the liquidation
bonus is capped so that ``liquidation threshold × bonus ≤ 1`` (Aave v3's configurator refuses a
reserve otherwise: ``ReserveConfiguration``/``ConfiguratorLogic``, "INVALID_RESERVE_PARAMS"),
and the borrowers' lowest starting health factor never passes the highest. A change the
scenario still refuses is undone, and the controls say why in one sentence.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import ipywidgets as widgets
import traitlets

from ..lending import LENDING_PRESETS, LendingScenario
from .knobs import Knob, clean, format_value
from .reports import Reports, not_listening, problem_sentence

__all__ = ["CUSTOM", "KNOBS", "LendingControls", "KnobSpec", "lending_market_name"]

CUSTOM = "custom"
DEFAULT_PRESET = "eth-pool"


@dataclass(frozen=True)
class KnobSpec:
    """One knob: the scenario ``field``, its label and tooltip, the shown value's units
    (``shown = field · scale + offset``), its range, step, whether whole or logarithmic."""

    field: str
    label: str
    tooltip: str
    lo: float
    hi: float
    step: float
    scale: float = 1.0
    offset: float = 0.0
    integer: bool = False
    log: bool = False

    def shown(self, value) -> float:
        if self.integer:
            return int(round(value * self.scale + self.offset))
        return clean(value * self.scale + self.offset)

    def field_value(self, shown):
        if self.integer:
            return int(round(shown))
        return clean((shown - self.offset) / self.scale)


#: The knobs, in the order shown.
KNOBS = (
    KnobSpec("shock", "Shock (%)", "How far an outside seller pushes the venue's price down in "
             "round 0 (the scenario allows up to 90%)", 0.5, 90.0, 0.5, scale=100.0),
    KnobSpec("health_lo", "Lowest start HF", "The borrowers' lowest health factor before the "
             "shock (their debt follows; above 1)", 1.01, 3.0, 0.01),
    KnobSpec("health_hi", "Highest start HF", "The borrowers' highest health factor before the "
             "shock", 1.01, 5.0, 0.01),
    KnobSpec("liquidation_threshold", "Liq. threshold (%)", "Share of the collateral's value "
             "that counts towards the health factor (Aave's liquidation threshold)",
             50.0, 97.0, 0.5, scale=100.0),
    KnobSpec("bonus", "Liq. bonus (%)", "Extra collateral a liquidator seizes on top of the "
             "debt it repays (Aave's liquidation bonus, 5% stored as 1.05)", 0.25, 25.0, 0.25,
             scale=100.0, offset=-100.0),
    KnobSpec("close_factor", "Close factor (%)", "Share of an account's debt one liquidation "
             "may repay while its health factor is at least 0.95 (Aave v3: 50%)",
             10.0, 100.0, 5.0, scale=100.0),
    KnobSpec("deviation", "Deviation (%)", "A push oracle updates when the venue's price has "
             "moved this far from its last report", 0.0, 20.0, 0.1, scale=100.0),
    KnobSpec("heartbeat", "Heartbeat (rounds)", "A push oracle also updates after this many "
             "rounds without an update (0: never)", 0, 20, 1, integer=True),
    KnobSpec("gas_cost", "Gas cost (USD)", "What one liquidation call costs the liquidator: "
             "accounts whose liquidation would not pay it are skipped", 0.0, 2000.0, 5.0),
    KnobSpec("depth_1pct", "1% depth (M USD)", "USD of liquidity within 1% of the venue's "
             "price", 0.01, 50.0, 0.01, scale=1e-6, log=True),
)
#: Knobs shown only for a push oracle.
PUSH_ONLY = ("deviation", "heartbeat")
_BONUS_STEP = 0.25


def lending_market_name(scenario: LendingScenario) -> str:
    """The preset's name while ``scenario`` is that preset unchanged, else "custom"."""
    for name, preset in LENDING_PRESETS.items():
        try:
            same = scenario.replace(name=preset.name, description=preset.description) == preset
        except Exception:  # noqa: BLE001 - a scenario that cannot be compared is custom
            same = False
        if same:
            return name
    return CUSTOM


def max_bonus_pct(liquidation_threshold: float) -> float:
    """The largest bonus (%, on the knob's 0.25 grid, at most 25) that keeps
    ``liquidation_threshold × bonus ≤ 1``.

    >>> max_bonus_pct(0.825), max_bonus_pct(0.95), max_bonus_pct(0.5)
    (21.0, 5.25, 25.0)
    """
    top = (1.0 / liquidation_threshold - 1.0) * 100.0
    return min(25.0, math.floor(top / _BONUS_STEP + 1e-9) * _BONUS_STEP)


class LendingControls(Reports, widgets.VBox):
    """The lending market's controls: ``scenario`` (a trait) is the checked scenario they show;
    ``what`` says the last change in words ("Shock (%) 30 → 40"), set before ``scenario``.

    ``knobs[field]`` are the :class:`~marginloops.ui.knobs.Knob` rows; ``preset``, ``venue``
    and ``oracle`` the menus. The deviation and heartbeat rows are shown only for a push
    oracle. Problems (a refused value, a combination the scenario refuses) are one sentence,
    to :meth:`on_problem`'s callbacks or the ``message`` area.
    """

    scenario = traitlets.Instance(LendingScenario, help="The scenario the controls show")
    what = traitlets.Unicode("", help="The last change, in words")

    def __init__(self, scenario: LendingScenario | None = None):
        if scenario is None:
            scenario = LENDING_PRESETS[DEFAULT_PRESET]
        if not isinstance(scenario, LendingScenario):
            raise ValueError(f"scenario must be a LendingScenario, got "
                             f"{type(scenario).__name__}")
        self._init_reports()
        self.specs = {s.field: s for s in KNOBS}
        self.preset = widgets.Dropdown(options=[*LENDING_PRESETS, CUSTOM],
                                       value=lending_market_name(scenario),
                                       description="Market",
                                       tooltip="Start from a named lending market",
                                       style={"description_width": "70px"},
                                       layout={"width": "330px"})
        self.venue = widgets.ToggleButtons(
            options=[("pool", "pool"), ("order book", "book")], value=scenario.venue,
            description="Venue", tooltips=["Liquidators sell on a constant-product pool",
                                           "Liquidators sell into an order book"],
            style={"button_width": "100px", "description_width": "70px"})
        self.oracle = widgets.ToggleButtons(
            options=[("venue price", "venue"), ("push", "push")], value=scenario.oracle,
            description="Oracle", tooltips=[
                "The oracle reports the venue's price every round",
                "A push oracle (as Chainlink feeds): it updates only after a deviation or "
                "a heartbeat"],
            style={"button_width": "100px", "description_width": "70px"})
        self.knobs = {}
        for spec in KNOBS:
            value = spec.shown(getattr(scenario, spec.field))
            lo, hi = min(spec.lo, value), max(spec.hi, value)
            self.knobs[spec.field] = Knob(spec.label, spec.tooltip, lo=lo, hi=hi,
                                          step=spec.step, value=value, integer=spec.integer,
                                          log=spec.log)
            self.knobs[spec.field].on_refuse(self.report)
        self.limit_note = widgets.HTML(layout={"display": "none"})
        self._on_knob = {f: self.guard(self._knob_moved(f)) for f in self.knobs}
        self._on_menu = self.guard(self._menu_changed)
        self._on_preset = self.guard(self._preset_changed)
        for widget, handler, name in self._listeners():
            widget.observe(handler, names=name)
        k = self.knobs
        left = widgets.VBox([self.preset, k["shock"], k["health_lo"], k["health_hi"],
                             k["gas_cost"], k["depth_1pct"]])
        right = widgets.VBox([k["liquidation_threshold"], k["bonus"], k["close_factor"],
                              self.venue, self.oracle, k["deviation"], k["heartbeat"]])
        super().__init__([widgets.HBox([left, right], layout={"flex_flow": "row wrap",
                                                              "grid_gap": "24px"}),
                          self.limit_note, self.message])
        self._show(scenario)
        self.set_trait("scenario", scenario)

    # ------------------------------------------------------------------------- public
    def set_scenario(self, scenario: LendingScenario, notify: bool = True) -> None:
        """Show ``scenario``; with ``notify`` the ``scenario`` trait changes (else only the
        widgets: the controls go back to a market that runs)."""
        if not isinstance(scenario, LendingScenario):
            raise ValueError(f"scenario must be a LendingScenario, got "
                             f"{type(scenario).__name__}")
        self._show(scenario)
        if notify:
            self._publish(scenario, "market set from code")
        else:
            self.set_trait("scenario", scenario)

    # ------------------------------------------------------------------------ wiring
    def _listeners(self) -> list:
        return ([(self.knobs[f], self._on_knob[f], "value") for f in self.knobs]
                + [(self.venue, self._on_menu, "value"), (self.oracle, self._on_menu, "value"),
                   (self.preset, self._on_preset, "value")])

    def _show(self, scenario: LendingScenario) -> None:
        """Every widget shows ``scenario`` (no listener is told)."""
        with not_listening(self._listeners()):
            self.preset.value = lending_market_name(scenario)
            self.venue.value = scenario.venue
            self.oracle.value = scenario.oracle
            self._fit_bonus(scenario.liquidation_threshold)
            for field, knob in self.knobs.items():
                value = self.specs[field].shown(getattr(scenario, field))
                lo, hi = knob.range
                if not lo <= value <= hi:  # a scenario beyond the usual range widens it
                    knob.set_range(min(lo, value), max(hi, value))
                knob.value = value
            push = scenario.oracle == "push"
            for field in PUSH_ONLY:
                self.knobs[field].layout.display = None if push else "none"

    def _fit_bonus(self, liquidation_threshold: float) -> None:
        spec = self.specs["bonus"]
        self.knobs["bonus"].set_range(spec.lo, max_bonus_pct(liquidation_threshold))

    def _publish(self, scenario: LendingScenario, what: str) -> None:
        name = lending_market_name(scenario)
        if scenario.name != name:
            scenario = scenario.replace(name=name)
        self.what = what
        self.set_trait("scenario", scenario)
        with not_listening(self._listeners()):
            self.preset.value = name

    def _try(self, changes: dict, what: str) -> None:
        """The scenario with ``changes``; refused, the controls go back and say why."""
        old = self.scenario
        try:
            new = old.replace(**changes)
        except (ValueError, TypeError) as exc:
            self._show(old)
            self.report(f"{problem_sentence(exc)} The controls are back to the market that "
                        "runs.")
            return
        self._publish(new, what)

    def _note(self, sentence: str) -> None:
        """The limit message under the knobs (a clamp the controls made); "" hides it."""
        import html
        self.limit_note.value = (f"<div role='status' style='color:#a04000;font-size:13px'>"
                                 f"{html.escape(sentence)}</div>" if sentence else "")
        self.limit_note.layout.display = None if sentence else "none"

    def _knob_moved(self, field):
        def moved(change):
            spec = self.specs[field]
            old = self.scenario
            value = spec.field_value(change.new)
            changes = {field: value}
            what = (f"{spec.label} {format_value(spec.shown(getattr(old, field)))} → "
                    f"{format_value(change.new)}")
            note = ""
            if field == "liquidation_threshold":
                top = max_bonus_pct(value)
                bonus_pct = self.specs["bonus"].shown(old.bonus)
                if bonus_pct > top:
                    changes["bonus"] = self.specs["bonus"].field_value(top)
                    note = (f"Liquidation bonus lowered from {format_value(bonus_pct)}% to "
                            f"{format_value(top)}%: threshold × bonus must stay at most 1 "
                            f"({format_value(change.new)}% × {format_value(100 + top)}% ≤ 1).")
            elif field == "health_lo" and value > old.health_hi:
                changes["health_hi"] = value
                note = (f"Highest start HF raised to {format_value(value)}: it cannot be "
                        "lower than the lowest.")
            elif field == "health_hi" and value < old.health_lo:
                changes["health_lo"] = value
                note = (f"Lowest start HF lowered to {format_value(value)}: it cannot be "
                        "higher than the highest.")
            self._note(note)
            self._try(changes, what)
            self._show(self.scenario)
        return moved

    def _menu_changed(self, change) -> None:
        field = "venue" if change.owner is self.venue else "oracle"
        label = "Venue" if field == "venue" else "Oracle"
        self._note("")
        self._try({field: change.new}, f"{label} {change.old} → {change.new}")
        self._show(self.scenario)

    def _preset_changed(self, change) -> None:
        self._note("")
        if change.new == CUSTOM:  # keep the settings, as a custom market
            self._publish(self.scenario.replace(name=CUSTOM) if
                          self.scenario.name != CUSTOM else self.scenario, "")
            with not_listening(self._listeners()):
                self.preset.value = lending_market_name(self.scenario)
            return
        preset = LENDING_PRESETS[change.new]
        self._show(preset)
        self._publish(preset, f"market {change.old} → {change.new}")
