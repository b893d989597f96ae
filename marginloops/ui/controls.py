"""Controls: the scenario knobs (each slider paired with a labelled number box) and the one
time control every lesson shares (Step, Play, Run to end, Reset, round counter).
"""

from __future__ import annotations

import math

import ipywidgets as widgets

from ..positions import DEFAULT_LEVERAGE_MIX
from ..scenarios import PRESETS, Scenario

#: Named leverage mixes offered in the menu: (label, ((leverage, weight), ...)).
LEVERAGE_MIXES = (
    ("cautious: 2x-10x", ((2.0, 0.4), (3.0, 0.3), (5.0, 0.2), (10.0, 0.1))),
    ("mixed: 2x-100x", DEFAULT_LEVERAGE_MIX),
    ("squeezable: 10x-50x", ((10.0, 0.3), (25.0, 0.3), (50.0, 0.4))),
    ("crowded: 10x-100x", ((10.0, 0.3), (25.0, 0.3), (50.0, 0.25), (100.0, 0.15))),
    ("extreme: 50x-100x", ((50.0, 0.6), (100.0, 0.4))),
)
CUSTOM = "custom"
_LABEL_WIDTH = "165px"


def _max_mmr_pct(mix) -> float:
    """Largest maintenance rate (in %, on a 0.05 grid) that every leverage in ``mix`` allows."""
    top = max(lev for lev, _ in mix)
    return math.floor(min(5.0, 100.0 / top * 0.95) / 0.05 + 1e-9) * 0.05


class Knob(widgets.HBox):
    """A slider with a labelled number box beside it, kept equal by ``widgets.link``.

    ``value`` is the slider's value; typing in the box moves the slider and vice versa.
    """

    def __init__(self, label, tooltip, *, lo, hi, step, value, integer=False, log=False):
        common = dict(continuous_update=False, tooltip=tooltip)
        label_w = widgets.Label(label, tooltip=tooltip, layout={"width": _LABEL_WIDTH})
        if log:
            self.slider = widgets.FloatLogSlider(value=value, base=10, min=math.log10(lo),
                                                 max=math.log10(hi), step=0.05, readout=False,
                                                 description=label, **common)
        elif integer:
            self.slider = widgets.IntSlider(value=value, min=lo, max=hi, step=step,
                                            readout=False, description=label, **common)
        else:
            self.slider = widgets.FloatSlider(value=value, min=lo, max=hi, step=step,
                                              readout=False, description=label, **common)
        self.slider.style.description_width = "0px"  # the visible label is label_w
        self.slider.layout.width = "150px"
        box_cls = widgets.BoundedIntText if integer else widgets.BoundedFloatText
        self.box = box_cls(value=value, min=lo, max=hi, step=step, description=label,
                           layout={"width": "80px"}, **common)
        self.box.style.description_width = "0px"
        self._link = widgets.link((self.slider, "value"), (self.box, "value"))
        super().__init__([label_w, self.slider, self.box])
        self.label = label

    @property
    def value(self):
        return self.slider.value

    @value.setter
    def value(self, v):
        self.slider.value = v

    def set_range(self, lo, hi):
        for w in (self.slider, self.box):
            if w.value > hi:
                w.value = hi
            w.max = hi
            w.min = lo


class ScenarioControls(widgets.VBox):
    """The knobs a teacher talks about, producing a checked :class:`Scenario`.

    ``scenario`` is the current scenario; ``on_change(callback)`` registers
    ``callback(scenario, what)`` where ``what`` says in words what changed.
    """

    def __init__(self, scenario: Scenario | None = None):
        base = scenario if scenario is not None else PRESETS["crowded-longs"]
        self._base = base
        self._callbacks = []
        self._quiet = False
        options = [(f"preset: {name}", name) for name in PRESETS] + [("custom", CUSTOM)]
        self.preset = widgets.Dropdown(
            options=options, value=base.name if base.name in PRESETS else CUSTOM,
            description="Market", tooltip="Start from a named market set-up",
            style={"description_width": "70px"}, layout={"width": "330px"})
        self.direction = widgets.ToggleButtons(
            options=[("crash (down)", "down"), ("squeeze (up)", "up")], value=base.direction,
            tooltips=["An outside seller pushes the price down: longs are liquidated",
                      "An outside buyer pushes the price up: shorts are liquidated"],
            description="Shock", style={"button_width": "120px", "description_width": "60px"})
        self.book_shape = widgets.ToggleButtons(
            options=[("flat", "flat"), ("growing", "growing")], value=base.book_shape,
            tooltips=["Same size at every price level: impact grows linearly with order size",
                      "More size further from the price: impact grows like a square root"],
            description="Book", style={"button_width": "90px", "description_width": "60px"})
        mixes = list(LEVERAGE_MIXES)
        if base.leverage_mix not in [m for _, m in mixes]:
            mixes.append(("from the scenario", base.leverage_mix))
        self.leverage_mix = widgets.Dropdown(
            options=mixes, value=base.leverage_mix, description="Leverage",
            tooltip="Which leverage traders use, and how many use each",
            style={"description_width": "70px"}, layout={"width": "330px"})
        self.knobs = {
            "shock": Knob("Shock size (%)", "How far the outside order moves the price in "
                          "round 0", lo=0.5, hi=90.0, step=0.5, value=base.shock * 100),
            "long_share": Knob("Longs (% of traders)", "Share of positions that are long",
                               lo=0.0, hi=100.0, step=5.0, value=base.long_share * 100),
            "mmr": Knob("Maintenance margin (%)", "Equity a position must keep, as % of its "
                        "value, before it is liquidated", lo=0.0,
                        hi=_max_mmr_pct(base.leverage_mix), step=0.05, value=base.mmr * 100),
            "depth_1pct": Knob("1% depth (M USD)", "Dollars of resting orders within 1% of the "
                               "price on each side of the book", lo=0.05, hi=50.0, step=0.05,
                               value=base.depth_1pct / 1e6, log=True),
            "resilience": Knob("Resilience (%)", "Share of the depth each round used up that "
                               "market makers put back", lo=0.0, hi=100.0, step=5.0,
                               value=base.resilience * 100),
            "open_interest": Knob("Open interest (M USD)", "Total value of the leveraged "
                                  "positions", lo=1.0, hi=500.0, step=1.0,
                                  value=base.open_interest / 1e6, log=True),
            "n_positions": Knob("Positions", "Number of leveraged traders", lo=0, hi=20_000,
                                step=100, value=base.n_positions, integer=True),
        }
        self.seed = widgets.BoundedIntText(
            value=base.seed, min=0, max=2**32 - 1, description="Seed",
            tooltip="Same seed, same traders: change it to draw another population",
            style={"description_width": "60px"}, layout={"width": "200px"})
        for w in (self.direction, self.book_shape, self.leverage_mix, self.seed,
                  *(k.slider for k in self.knobs.values())):
            w.observe(self._changed, names="value")
        self.preset.observe(self._preset_changed, names="value")
        k = self.knobs
        left = widgets.VBox([self.preset, self.direction, k["shock"], self.leverage_mix,
                             k["mmr"], k["long_share"]])
        right = widgets.VBox([self.book_shape, k["depth_1pct"], k["resilience"],
                              k["open_interest"], k["n_positions"], self.seed])
        super().__init__([widgets.HBox([left, right], layout={"flex_flow": "row wrap",
                                                              "grid_gap": "24px"})])

    # --------------------------------------------------------------------- reading
    @property
    def scenario(self) -> Scenario:
        k = self.knobs
        return self._base.replace(
            name=self.preset.value if self.preset.value != CUSTOM else CUSTOM,
            shock=round(k["shock"].value, 4) / 100, direction=self.direction.value,
            leverage_mix=self.leverage_mix.value, mmr=round(k["mmr"].value, 4) / 100,
            long_share=round(k["long_share"].value, 4) / 100,
            depth_1pct=round(k["depth_1pct"].value * 1e6, 2), book_shape=self.book_shape.value,
            resilience=round(k["resilience"].value, 4) / 100,
            open_interest=round(k["open_interest"].value * 1e6, 2),
            n_positions=int(k["n_positions"].value), seed=int(self.seed.value))

    def on_change(self, callback) -> None:
        """Call ``callback(scenario, what)`` after every change of a control."""
        self._callbacks.append(callback)

    # --------------------------------------------------------------------- writing
    def set_scenario(self, scenario: Scenario, what: str | None = None) -> None:
        """Show ``scenario`` in the controls; callbacks fire once, afterwards."""
        self._quiet = True
        try:
            self._base = scenario
            if scenario.leverage_mix not in [v for _, v in self.leverage_mix.options]:
                self.leverage_mix.options = [*LEVERAGE_MIXES,
                                             ("from the scenario", scenario.leverage_mix)]
            self.leverage_mix.value = scenario.leverage_mix
            self.knobs["mmr"].set_range(0.0, _max_mmr_pct(scenario.leverage_mix))
            self.direction.value = scenario.direction
            self.book_shape.value = scenario.book_shape
            k = self.knobs
            k["shock"].value = scenario.shock * 100
            k["long_share"].value = scenario.long_share * 100
            k["mmr"].value = scenario.mmr * 100
            k["depth_1pct"].value = scenario.depth_1pct / 1e6
            k["resilience"].value = scenario.resilience * 100
            k["open_interest"].value = scenario.open_interest / 1e6
            k["n_positions"].value = scenario.n_positions
            self.seed.value = scenario.seed
            self.preset.value = scenario.name if scenario.name in PRESETS else CUSTOM
        finally:
            self._quiet = False
        self._fire(what or f"market set to {scenario.name}")

    def _preset_changed(self, change):
        if self._quiet or change.new == CUSTOM:
            return
        self.set_scenario(PRESETS[change.new], f"market set to the preset {change.new}")

    def _changed(self, change):
        if self._quiet:
            return
        if change.owner is self.leverage_mix:
            self._quiet = True
            try:
                self.knobs["mmr"].set_range(0.0, _max_mmr_pct(change.new))
            finally:
                self._quiet = False
        self._quiet = True
        try:
            self.preset.value = CUSTOM
        finally:
            self._quiet = False
        self._fire(self._describe(change))

    def _describe(self, change) -> str:
        owner = change.owner
        for knob in self.knobs.values():
            if owner is knob.slider:
                return f"{knob.label} {_fmt(change.old)} → {_fmt(change.new)}"
        if owner is self.leverage_mix:
            names = dict((v, k) for k, v in self.leverage_mix.options)
            return f"leverage mix → {names.get(change.new, 'custom')}"
        return f"{owner.description.lower()} {change.old} → {change.new}"

    def _fire(self, what):
        scenario = self.scenario
        for callback in self._callbacks:
            callback(scenario, what)


def _fmt(x) -> str:
    return f"{x:,.4g}"


class TimeControls(widgets.HBox):
    """Step · Play (with speed) · Run to end · round counter ... Reset, the same in every lesson."""

    def __init__(self):
        self.step_button = widgets.Button(description="Step", icon="step-forward",
                                          button_style="primary",
                                          tooltip="Play one round (in phase mode: one stage)")
        self.play = widgets.Play(value=0, min=0, max=10**9, interval=700, show_repeat=False,
                                 description="Play", tooltip="Play / pause: step automatically")
        self.speed = widgets.FloatSlider(value=1.5, min=0.5, max=8.0, step=0.5,
                                         description="Speed (steps/s)", readout_format=".1f",
                                         tooltip="How many steps Play takes per second",
                                         style={"description_width": "110px"},
                                         layout={"width": "300px"})
        self.speed_box = widgets.BoundedFloatText(value=1.5, min=0.5, max=8.0, step=0.5,
                                                  description="Speed (steps/s)",
                                                  layout={"width": "70px"})
        self.speed_box.style.description_width = "0px"
        self.speed.readout = False
        self._link = widgets.link((self.speed, "value"), (self.speed_box, "value"))
        self.speed.observe(self._speed_changed, names="value")
        self.run_button = widgets.Button(description="Run to end", icon="fast-forward",
                                         tooltip="Play every remaining round at once")
        self.counter = widgets.HTML("<b>Round –</b>", layout={"width": "190px"})
        self.reset_button = widgets.Button(description="Reset", icon="undo",
                                           button_style="warning",
                                           tooltip="Back to the market before the shock")
        spacer = widgets.Box(layout={"flex": "1 1 auto", "min_width": "40px"})
        super().__init__([self.step_button, self.play, self.speed, self.speed_box,
                          self.run_button, self.counter, spacer, self.reset_button],
                         layout={"align_items": "center", "flex_flow": "row wrap"})

    def _speed_changed(self, change):
        self.play.interval = int(round(1000 / change.new))
