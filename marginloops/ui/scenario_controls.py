"""ScenarioControls: the market knobs and the "Breaking the loop" panel, producing a checked
:class:`~marginloops.Scenario`; the market menu's names (:func:`market_name`)."""

from __future__ import annotations

import dataclasses
import html

import ipywidgets as widgets
import traitlets

from ..cases import CASES
from ..positions import DEFAULT_LEVERAGE_MIX
from ..scenarios import PRESETS, Scenario
from .knobs import (
    LABEL_WIDTH,
    ClampNote,
    Knob,
    RealIntText,
    clean,
    finite_real,
    format_value,
    max_mmr_pct,
    quote_value,
)
from .mechanisms import (
    MECHANISM_LABEL_WIDTH,
    MECHANISMS,
    OPTION_NEEDS,
    ROW_SHOWN_WHEN,
    VALUE_NEEDS,
    Disclosure,
    Setting,
    panel_columns,
)
from .reports import Reports, not_listening

__all__ = ["CUSTOM", "LEVERAGE_MIXES", "ScenarioControls", "market_label", "market_name"]

#: Named leverage mixes offered in the menu: (label, ((leverage, weight), ...)).
LEVERAGE_MIXES = (
    ("cautious: 2x-10x", ((2.0, 0.4), (3.0, 0.3), (5.0, 0.2), (10.0, 0.1))),
    ("mixed: 2x-100x", DEFAULT_LEVERAGE_MIX),
    ("squeezable: 10x-50x", ((10.0, 0.3), (25.0, 0.3), (50.0, 0.4))),
    ("crowded: 10x-100x", ((10.0, 0.3), (25.0, 0.3), (50.0, 0.25), (100.0, 0.15))),
    ("extreme: 50x-100x", ((50.0, 0.6), (100.0, 0.4))),
)
CUSTOM = "custom"


class ScenarioControls(Reports, widgets.VBox):
    """The knobs a teacher talks about, producing a checked :class:`Scenario`.

    ``scenario`` is the scenario the controls show, a trait: ``observe(callback,
    names="scenario")`` is told each change, and ``what`` (a trait too, set first) says it in
    words ("Shock size (%) 3 → 90"; "" when the controls only show again a market
    :meth:`set_scenario` was given with ``notify=False``). Setting ``scenario`` shows it, as
    :meth:`set_scenario` does. ``on_change(callback)`` calls ``callback(scenario, what)`` after
    each change the controls report (not those ``notify=False`` shows).

    The market knobs are always on screen; a scenario value beyond a knob's usual range widens
    that knob, so the controls always show the scenario that runs. The mechanisms that feed or
    stop a cascade sit in the "Breaking the loop" panel (``mechanisms_panel``, closed at
    first), built from :data:`MECHANISMS`: ``mechanisms[field]`` is a field's control and
    ``switches[field]`` the checkbox of a field a checkbox turns on and off (liquidation fee,
    dynamic margin, circuit breaker).

    The market menu names the market that runs, as :func:`market_name` does: a preset's name
    while it is that preset unchanged, a named market's own name (it gets a menu entry), and
    "custom" after any change. Choosing "custom" keeps the current settings as a custom market.
    A value a knob refuses, settings the scenario refuses (the controls go back to the last
    market that worked) and an error inside a callback are reported in one sentence
    (:meth:`on_problem`, or the ``message`` area under the controls).
    """

    #: Each market knob: (Scenario field, shown units per field unit, usual lo, usual hi).
    #: The maintenance margin's hi is set by the leverage mix (see ``max_mmr_pct``).
    KNOB_FIELDS = {
        "shock": ("shock", 100.0, 0.5, 90.0),
        "long_share": ("long_share", 100.0, 0.0, 100.0),
        "mmr": ("mmr", 100.0, 0.0, None),
        "depth_1pct": ("depth_1pct", 1e-6, 0.05, 50.0),
        "resilience": ("resilience", 100.0, 0.0, 100.0),
        "open_interest": ("open_interest", 1e-6, 1.0, 500.0),
        "n_positions": ("n_positions", 1, 0, 20_000),
    }
    _MMR_LABEL = "Maintenance margin (%)"
    _MMR_TOOLTIP = "Equity a position must keep, as % of its value, before it is liquidated"

    scenario = traitlets.Instance(Scenario, help="The scenario the controls show")
    what = traitlets.Unicode("", help="The last change of scenario, in words")

    def __init__(self, scenario: Scenario | None = None):
        if scenario is not None and not isinstance(scenario, Scenario):
            raise ValueError(f"scenario must be a Scenario, got {type(scenario).__name__}")
        base = scenario if scenario is not None else PRESETS["crowded-longs"]
        self._init_reports()
        self._base = base
        self._name = market_name(base)
        base = self._good = base.replace(name=self._name) if base.name != self._name else base
        self._named = {}  # named markets (not presets) shown so far: their menu entries
        self.preset = widgets.Dropdown(
            options=self._menu_options(base), value=self._name,
            description="Market", tooltip="Start from a named market set-up",
            # as wide as a knob's row: a case study's title fits
            style={"description_width": "70px"}, layout={"width": "400px"})
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

        def knob(name, label, tooltip, **kw):
            lo, hi = self._range_for(name, base)
            return Knob(label, tooltip, lo=lo, hi=hi, value=self._shown(name, base), **kw)

        self.knobs = {
            "shock": knob("shock", "Shock size (%)", "How far the outside order moves the "
                          "price in round 0", step=0.5),
            "long_share": knob("long_share", "Longs (% of traders)",
                               "Share of positions that are long", step=5.0),
            "mmr": knob("mmr", self._MMR_LABEL, self._MMR_TOOLTIP, step=0.05),
            "depth_1pct": knob("depth_1pct", "1% depth (M USD)", "Dollars of resting orders "
                               "within 1% of the price on each side of the book", step=0.01,
                               log=True),
            "resilience": knob("resilience", "Resilience (%)", "Share of the depth each round "
                               "used up that market makers put back", step=5.0),
            "open_interest": knob("open_interest", "Open interest (M USD)", "Total value of "
                                  "the leveraged positions", step=1.0, log=True),
            "n_positions": knob("n_positions", "Positions", "Number of leveraged traders",
                                step=100, integer=True),
        }
        # The seed's row lines up with the knobs' rows: its label in the labels' column (not
        # a right-aligned description), its box under the sliders and number boxes.
        seed_tip = "Same seed, same traders: change it to draw another population"
        self.seed = RealIntText(
            value=base.seed, min=0, max=2**32 - 1, step=1, description="Seed",
            tooltip=seed_tip, style={"description_width": "0px"}, layout={"width": "234px"})
        self.seed_note = ClampNote(self.seed)
        self.seed_row = widgets.HBox(
            [widgets.Label("Seed", tooltip=seed_tip, layout={"width": LABEL_WIDTH}),
             self.seed, self.seed_note.widget],
            layout={"align_items": "center", "flex_flow": "row wrap"})
        self.mechanisms_panel = self._build_mechanisms(base)
        # What the controls listen to: each input's value (the market menu's apart). While
        # the controls set their own inputs (_not_listening), nothing listens.
        self._inputs = (self.direction, self.book_shape, self.leverage_mix, self.seed,
                        *(k.slider for k in self.knobs.values()), *self.switches.values(),
                        *(self._value_widget(f) for f in self.mechanisms))
        self._on_input = self.guard(self._changed)
        self._on_preset = self.guard(self._preset_changed)
        for widget, handler, name in self._listeners():
            widget.observe(handler, names=name)
        self.seed.refusal_callbacks = [lambda value, old: self.report(
            f"Seed: {quote_value(value)} is not a whole number the seed can take, so it "
            f"stays at {old}.")]
        for knob in [*self.knobs.values(), *self.mechanisms.values()]:
            if isinstance(knob, Knob):
                knob.on_refuse(self.report)
        self.mechanisms_panel.on_problem(self.report)
        k = self.knobs
        left = widgets.VBox([self.preset, self.direction, k["shock"], self.leverage_mix,
                             k["mmr"], k["long_share"]])
        right = widgets.VBox([self.book_shape, k["depth_1pct"], k["resilience"],
                              k["open_interest"], k["n_positions"], self.seed_row])
        super().__init__([widgets.HBox([left, right], layout={"flex_flow": "row wrap",
                                                              "grid_gap": "24px"}),
                          self.mechanisms_panel, self.message])
        self.set_trait("scenario", base)

    def _listeners(self) -> list:
        """What the controls listen to: ``(widget, handler, trait)``."""
        return ([(w, self._on_input, "value") for w in self._inputs]
                + [(self.preset, self._on_preset, "value")])

    def _not_listening(self):
        """While the controls set their own inputs, they are not told of it."""
        return not_listening(self._listeners())

    # ------------------------------------------------------------------ the market knobs
    def _shown(self, name, scenario: Scenario):
        """``scenario``'s value for knob ``name``, in the knob's units."""
        field, scale, _, _ = self.KNOB_FIELDS[name]
        value = getattr(scenario, field)
        return int(value) if isinstance(scale, int) else clean(value * scale)

    def _range_for(self, name, scenario: Scenario) -> tuple:
        """The knob's usual range, widened to hold ``scenario``'s value."""
        _, _, lo, hi = self.KNOB_FIELDS[name]
        if hi is None:  # the maintenance margin: as high as every leverage of the mix allows
            hi = max_mmr_pct(scenario.leverage_mix)
        shown = self._shown(name, scenario)
        return min(lo, shown), max(hi, shown)

    def _fit_mmr_to(self, mix) -> None:
        """Limit the maintenance margin knob to what every leverage of ``mix`` allows, keeping
        a higher value that is still valid (one a scenario brought) on the knob."""
        knob = self.knobs["mmr"]
        top = max(lev for lev, _ in mix)
        hi = max_mmr_pct(mix)
        if knob.value > hi and knob.value / 100 * top < 1:
            hi = knob.value
        knob.set_range(0.0, hi)

    # ------------------------------------------------------------- the mechanisms panel
    def _build_mechanisms(self, base: Scenario) -> Disclosure:
        """The "Breaking the loop" panel, built from :data:`MECHANISMS`, closed at first.

        ``mechanisms[field]`` is each field's control (a Knob, Checkbox, ToggleButtons,
        RadioButtons or Dropdown), ``switches[field]`` the checkbox of a switched field.
        """
        self.mechanisms: dict[str, widgets.Widget] = {}
        self.switches: dict[str, widgets.Checkbox] = {}
        self._settings = {m.field: m for m in MECHANISMS}
        self._dependents: dict[str, widgets.VBox] = {}  # field -> rows shown while it is on
        self._notes: dict[str, widgets.HTML] = {}
        self._rows: dict[str, widgets.Widget] = {}  # field -> its row (label and control)
        parents = {m.under for m in MECHANISMS if m.under}
        groups: dict[str, list] = {}
        for m in MECHANISMS:
            value = getattr(base, m.field)
            shown = m.default if m.switch and value == m.off else m.shown(value)
            if m.kind == "knob":
                control = row = Knob(m.label, m.tooltip, lo=min(m.lo, shown),
                                     hi=max(m.hi, shown), step=m.step, value=shown,
                                     integer=m.integer, label_width=MECHANISM_LABEL_WIDTH)
            elif m.kind == "check":
                control = row = widgets.Checkbox(value=shown, description=m.label,
                                                 tooltip=m.tooltip, indent=False,
                                                 layout={"width": "auto"})
            else:  # the label beside the choice, as a Knob's is beside its slider
                control = self._selection(m, shown, self._offered(m, shown))
                row = widgets.HBox([widgets.Label(m.label, tooltip=m.tooltip,
                                                  layout={"width": MECHANISM_LABEL_WIDTH}),
                                    control], layout={"align_items": "center"})
            self.mechanisms[m.field] = control
            self._rows[m.field] = row
            rows = groups.setdefault(m.group, [])
            if m.switch:
                self.switches[m.field] = widgets.Checkbox(
                    value=value != m.off, description=m.switch, tooltip=m.switch_tooltip,
                    indent=False, layout={"width": "auto"})
                box = widgets.VBox([row], layout={"margin": "0 0 0 20px"})
                self._dependents[m.field] = box
                rows += [self.switches[m.field], box]
            elif m.under:
                self._dependents[m.under].children += (row,)
                if m.field in parents or m.note:  # a row under a row, with rows of its own
                    self._dependents[m.field] = box = widgets.VBox(
                        [], layout={"margin": "0 0 0 20px"})
                    self._dependents[m.under].children += (box,)
            else:
                rows.append(row)
                if m.field in parents or m.note:
                    self._dependents[m.field] = box = widgets.VBox(
                        [], layout={"margin": "0 0 0 20px"})
                    rows.append(box)
            if m.note:
                self._notes[m.field] = note = widgets.HTML(
                    layout={"max_width": "400px", "margin": "0 0 4px 0"})
                self._dependents[m.field].children += (note,)
        columns = [widgets.VBox([w for g in names for w in (
            widgets.HTML(f"<b>{g}</b>", layout={"margin": "6px 0 0 0"}), *groups[g])])
            for names in panel_columns()]
        panel = Disclosure(
            widgets.HBox(columns, layout={"flex_flow": "row wrap", "grid_gap": "24px"}),
            "Breaking the loop",
            tooltip="Show or hide the mechanisms that can break the loop: margin rules, who "
                    "pays for losses, market makers, halts and auctions")
        self._show_dependents()
        self._title(panel)
        return panel

    def _offered(self, m: Setting, shown) -> list:
        """The options a choice offers now, as ``(label, shown value)``: every option of
        ``m`` but those whose :data:`~.mechanisms.OPTION_NEEDS` field is off, so the panel
        never offers a state the Scenario refuses; the value shown is always offered (as
        "from the scenario" if it is none of them)."""
        options = [(o[0], m.shown(o[1])) for o in m.options
                   if (m.field, o[1]) not in OPTION_NEEDS
                   or self._is_on(OPTION_NEEDS[(m.field, o[1])])
                   or m.shown(o[1]) == shown]
        if shown not in [v for _, v in options]:
            options.append(("from the scenario", shown))
        return options

    @staticmethod
    def _selection(m: Setting, shown, options) -> widgets.Widget:
        """The selection widget of a choice, radio or menu Setting, showing ``shown`` among
        ``options``."""
        if m.kind == "choice":
            tips = {m.shown(o[1]): o[2] for o in m.options}
            return widgets.ToggleButtons(
                options=options, value=shown, tooltips=[tips.get(v, "") for _, v in options],
                tooltip=m.tooltip, style={"button_width": "auto"}, layout={"width": "auto"})
        if m.kind == "radio":  # its description would show above the buttons: the row's
            # label says it; the buttons' own labels name each option
            return widgets.RadioButtons(options=options, value=shown, tooltip=m.tooltip,
                                        layout={"width": "auto"})
        return widgets.Dropdown(options=options, value=shown, tooltip=m.tooltip,
                                description=m.label, style={"description_width": "0px"},
                                layout={"width": "290px"})

    def _value_widget(self, field):
        """The widget whose ``value`` holds the field's shown value (a Knob's slider)."""
        control = self.mechanisms[field]
        return control.slider if isinstance(control, Knob) else control

    def _mechanism_values(self) -> dict:
        """The Scenario fields the panel sets, as the panel shows them."""
        out = {}
        try:
            market = self.scenario
        except traitlets.TraitError:  # not set yet: the panel is being built
            market = None
        for field, m in self._settings.items():
            switch = self.switches.get(field)
            if switch is not None and not switch.value:
                out[field] = m.off
            else:
                shown = self._value_widget(field).value
                out[field] = m.value(shown)
                # a knob still showing the market's value keeps it exactly (2/3 is shown as
                # 66.6666666667, which reads back as 0.666666666667)
                now = getattr(market, field, None)
                if (m.kind == "knob" and now is not None and now != m.off
                        and m.shown(now) == shown):
                    out[field] = now
        return out

    def _is_on(self, field) -> bool:
        """A switched field's checkbox is ticked, or a choice is not its ``off`` option."""
        if field in self.switches:
            return self.switches[field].value
        m = self._settings[field]
        return m.value(self._value_widget(field).value) != m.off

    def _show_mechanisms(self, scenario: Scenario) -> None:
        """Set the panel to ``scenario``'s values (a knob's range grows to hold an odd one, a
        choice gains a "from the scenario" option)."""
        for field, m in self._settings.items():
            value = getattr(scenario, field)
            control = self.mechanisms[field]
            if field in self.switches:
                self.switches[field].value = value != m.off
                if value == m.off:  # hidden: back to what a fresh panel shows
                    control.set_range(m.lo, m.hi)
                    control.value = m.default
                    continue
            shown = m.shown(value)
            if isinstance(control, Knob):
                control.set_range(min(m.lo, shown), max(m.hi, shown))
                control.value = shown
            elif m.selects:
                options = self._offered(m, shown)
                if list(control.options) != options:
                    control.options = options
                control.value = shown
            else:
                control.value = shown
        self._show_dependents()

    def _show_dependents(self) -> None:
        """Show the rows that belong to a mechanism only while it is on; while tiered margin
        is on, the flat maintenance margin knob is greyed out and says why."""
        for field, box in self._dependents.items():
            box.layout.display = None if self._is_on(field) else "none"
        for field, note in self._notes.items():
            m = self._settings[field]
            on = self._is_on(field)
            note.value = (f"<div style='font-size:12px;line-height:1.4'>"
                          f"{html.escape(m.note(self._mechanism_values()[field]))}</div>"
                          if on else "")
        for (field, _), _needs in OPTION_NEEDS.items():  # options that come and go
            control = self.mechanisms.get(field)
            if control is None:
                continue
            options = self._offered(self._settings[field], control.value)
            if list(control.options) != options:
                value = control.value
                control.options = options
                control.value = value
        for field, (parent, value) in ROW_SHOWN_WHEN.items():
            row = self._rows.get(field)
            if row is not None and parent in self._settings:
                shown = self._value_widget(parent).value == self._settings[parent].shown(value)
                row.layout.display = None if shown else "none"
        for field, needs in VALUE_NEEDS.items():  # hidden with their field: not to be set
            control = self.mechanisms.get(field)
            if isinstance(control, Knob) and needs in self._settings:
                control.set_disabled(not self._is_on(needs))
        tiered = self._is_on("mmr_tiers")
        mmr = self.knobs["mmr"]
        mmr.set_disabled(tiered)
        mmr.label_widget.value = "Maint. margin: tiered" if tiered else self._MMR_LABEL
        mmr.label_widget.tooltip = (
            "Not used: the tiered brackets chosen in \"Breaking the loop\" set each "
            "position's maintenance margin" if tiered else self._MMR_TOOLTIP)

    def _title(self, panel=None) -> None:
        """The panel's title names the mechanisms that are on, so a closed panel still says."""
        panel = panel or self.mechanisms_panel
        defaults = {f.name: f.default for f in dataclasses.fields(Scenario)}
        values = self._mechanism_values()
        on = [m.short.format(m.words(self._value_widget(m.field).value))
              for m in MECHANISMS if m.short and values[m.field] is not None
              and values[m.field] != defaults[m.field]]
        panel.set_title(0, "Breaking the loop" + (f" (on: {', '.join(on)})" if on else ""))

    # --------------------------------------------------------------------- reading
    def _read(self) -> Scenario:
        """The scenario the inputs show (``ValueError`` if the Scenario refuses it)."""
        values = {}
        for name, (field, scale, _, _) in self.KNOB_FIELDS.items():
            shown = self.knobs[name].value
            values[field] = int(shown) if isinstance(scale, int) else clean(shown / scale)
        return self._base.replace(
            name=self._name,
            direction=self.direction.value, leverage_mix=self.leverage_mix.value,
            book_shape=self.book_shape.value, seed=int(self.seed.value),
            **values, **self._mechanism_values())

    def on_change(self, callback) -> None:
        """Call ``callback(scenario, what)`` after every change of a control (a thin layer
        over ``observe(..., names="scenario")``; not for what ``notify=False`` shows)."""
        def told(change):
            if self.what:
                callback(change.new, self.what)
        self.observe(told, names="scenario")

    @traitlets.validate("scenario")
    def _one_name(self, proposal) -> Scenario:
        """A market is kept under the one name it is shown under (:func:`market_name`)."""
        scenario = proposal["value"]
        name = market_name(scenario)
        return scenario if scenario.name == name else scenario.replace(name=name)

    @traitlets.observe("scenario")
    def _scenario_set(self, change) -> None:
        """``scenario`` set from code: show it (the controls' own changes already show)."""
        try:
            shown = self._read()
        except ValueError:
            shown = None
        if change.new != shown:
            self._show_scenario(change.new)
            self._good = change.new
            self.message.value = ""
            self.what = f"market set to {self._name}"

    def _publish(self, scenario: Scenario, what: str) -> None:
        """Tell the observers of ``scenario`` once, ``what`` already set."""
        with self.hold_trait_notifications():
            self.what = what
            self.scenario = scenario

    # --------------------------------------------------------------------- writing
    def set_scenario(self, scenario: Scenario, what: str | None = None, *,
                     notify: bool = True) -> None:
        """Show ``scenario`` in the controls; the observers of ``scenario`` are told once,
        afterwards, with ``what`` in words why (default: "market set to <name>"). With
        ``notify=False`` they are told with ``what`` "" (an echo: an explorer ignores the market
        it already runs) and :meth:`on_change` callbacks not at all. A market equal to the one
        shown is no change: nobody is told."""
        if not isinstance(scenario, Scenario):
            raise ValueError(f"scenario must be a Scenario, got {type(scenario).__name__}")
        if what is not None and not isinstance(what, str):
            raise ValueError(f"what must be a string or None, got {type(what).__name__}")
        if not isinstance(notify, bool):
            raise ValueError(f"notify must be True or False, got {notify!r:.40}")
        self._show_scenario(scenario)
        if notify:
            self._fire(what or f"market set to {self._name}")
        else:
            self._good = self._read()
            self._publish(self._good, "")

    def _show_scenario(self, scenario: Scenario) -> None:
        """Set every control to ``scenario``; the observers of ``scenario`` are not told."""
        with self._not_listening():
            self._base = scenario
            self._name = market_name(scenario)
            if scenario.leverage_mix not in [v for _, v in self.leverage_mix.options]:
                self.leverage_mix.options = [*LEVERAGE_MIXES,
                                             ("from the scenario", scenario.leverage_mix)]
            self.leverage_mix.value = scenario.leverage_mix
            self.direction.value = scenario.direction
            self.book_shape.value = scenario.book_shape
            for name, knob in self.knobs.items():
                knob.set_range(*self._range_for(name, scenario))
                knob.value = self._shown(name, scenario)
            self.seed.value = scenario.seed
            self._show_mechanisms(scenario)
            options = self._menu_options(scenario)
            if list(self.preset.options) != options:
                self.preset.options = options
            self.preset.value = self._name
        self._title()

    def _menu_options(self, scenario: Scenario) -> list:
        """The market menu: the presets, each named market shown so far, then "custom"."""
        name = market_name(scenario)
        if name not in PRESETS and name != CUSTOM:
            self._named[name] = scenario
        return ([(f"preset: {n}", n) for n in PRESETS]
                + [(market_label(n, m), n) for n, m in self._named.items()]
                + [(CUSTOM, CUSTOM)])

    def _preset_changed(self, change):
        if change.new == CUSTOM:  # keep the current settings, as a market of one's own
            self._name = CUSTOM
            self._fire("market set to custom: your current settings")
        elif change.new in PRESETS:
            self.set_scenario(PRESETS[change.new], f"market set to the preset {change.new}")
        else:
            self.set_scenario(self._named[change.new], f"market set to {change.new}")

    def _changed(self, change):
        # (A value typed and clamped back to what it was, "-5" into a seed of 0, is no change:
        # the number boxes and sliders do not report it, see knobs._Settles.)
        what = self._describe(change)
        with self._not_listening():
            if change.owner is self.leverage_mix or (
                    change.owner is self._value_widget("mmr_tiers") and change.new == ()):
                # a flat rate again: it must suit every leverage of the mix
                before = self.knobs["mmr"].value
                self._fit_mmr_to(self.leverage_mix.value)
                if self.knobs["mmr"].value != before:
                    what += (f"; {self._MMR_LABEL} {format_value(before)} → "
                             f"{format_value(self.knobs['mmr'].value)}, the most this leverage "
                             f"allows")
            for (field, option), needs in OPTION_NEEDS.items():
                # an option whose field was just switched off: back to that choice's off
                m = self._settings.get(field)
                if (m is not None and not self._is_on(needs)
                        and self._value_widget(field).value == m.shown(option)):
                    self._value_widget(field).value = m.shown(m.off)
                    what += (f"; {m.label.lower()} {m.words(m.shown(option))} → "
                             f"{m.words(m.shown(m.off))}, as it needs "
                             f"{self._needs_words(needs)}")
            for field, needs in VALUE_NEEDS.items():
                # a knob whose field was just switched off: back to its off value
                m = self._settings.get(field)
                if m is None or self._is_on(needs) or not self._is_on(field):
                    continue
                before = self._value_widget(field).value
                self._value_widget(field).value = m.shown(m.off)
                what += (f"; {m.label} {format_value(before)} → "
                         f"{format_value(self._value_widget(field).value)}, as it needs "
                         f"{self._needs_words(needs)}")
            self._name = CUSTOM
            self.preset.value = CUSTOM
        self._show_dependents()
        self._title()
        self._fire(what)

    def _needs_words(self, field) -> str:
        """The field a value needs, in words ("tiered margin", "index venues")."""
        m = self._settings[field]
        return m.short if m.short and "{}" not in m.short else m.label.lower()

    def _describe(self, change) -> str:
        owner = change.owner
        for knob in self.knobs.values():
            if owner is knob.slider:
                return f"{knob.label} {format_value(change.old)} → {format_value(change.new)}"
        for field, m in self._settings.items():
            if owner is self.switches.get(field):
                if not change.new:
                    return m.says_off
                return m.says.format(m.words(self._value_widget(field).value))
            if owner is self._value_widget(field):
                if m.kind == "check":
                    return f"{m.label} {'on' if change.new else 'off'}"
                if m.selects:
                    return f"{m.label.lower()}: {m.words(change.old)} → {m.words(change.new)}"
                return f"{m.label} {format_value(change.old)} → {format_value(change.new)}"
        if owner is self.leverage_mix:
            names = dict((v, k) for k, v in self.leverage_mix.options)
            return f"leverage mix → {names.get(change.new, 'custom')}"
        old, new = (format_value(v) if finite_real(v) else v for v in (change.old, change.new))
        return f"{owner.description.lower()} {old} → {new}"

    def _fire(self, what):
        try:
            scenario = self._read()
        except ValueError as exc:  # a combination the ranges let through but Scenario refuses
            self._show_scenario(self._good)
            self.report(f"Those settings cannot be used ({' '.join(str(exc).split())}); the "
                        f"controls are back to the market that runs.")
            return
        self._good = scenario
        self.message.value = ""
        self._publish(scenario, what)


def market_name(scenario: Scenario) -> str:
    """The one name a market is shown under (menu, narration, ``explorer.scenario.name``).

    A preset's name while it is that preset unchanged; a scenario that carries a preset's name
    but differs from it is "custom"; a scenario with a name of its own (a lesson's market)
    keeps it; an empty name is "custom".
    """
    if scenario.name in PRESETS:
        return scenario.name if PRESETS[scenario.name] == scenario else CUSTOM
    return scenario.name.strip() or CUSTOM


def market_label(name: str, scenario: Scenario) -> str:
    """The market menu's entry for a named market (not a preset): a case study's scenario is
    shown by the case's title ("case: Black Thursday: Bitcoin on BitMEX"), any other
    market as "market: <name>"."""
    case = CASES.get(name)
    if case is not None and case.scenario == scenario:
        return f"case: {case.title}"
    return f"market: {name}"
