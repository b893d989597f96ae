"""The "Breaking the loop" panel's table: one :class:`Setting` per Scenario field of a
mechanism (:data:`MECHANISMS`, laid out by :data:`MECHANISM_COLUMNS`), and
:class:`Disclosure`, the keyboard-operable panel that holds it."""

from __future__ import annotations

from dataclasses import dataclass, fields

import ipywidgets as widgets
import traitlets

from ..mechanisms import all_params
from ..numbers import number, percent
from ..params import Control, Param
from ..scenarios import HYPERLIQUID_ORACLE, PRESETS
from ..tiers import BINANCE_STYLE_TIERS
from .knobs import clean, format_value
from .reports import Reports

__all__ = ["CORE_ROWS", "Disclosure", "INDEX_VENUES", "MECHANISMS", "MECHANISM_COLUMNS",
           "MECHANISM_LABEL_WIDTH", "OFF", "OPTION_NEEDS", "PANEL_ORDER", "ROW_SHOWN_WHEN",
           "ROW_UNDER", "Setting", "VALUE_NEEDS", "describe_tiers", "describe_venues",
           "panel_columns", "panel_rows", "setting_of", "tiers_note"]


#: What a choice's buttons hold for a field value of None (a selection widget cannot hold None).
OFF = "off"


@dataclass(frozen=True)
class Setting(Control):
    """One control of the "Breaking the loop" panel, bound to one :class:`Scenario` field: a
    :class:`~marginloops.params.Control` (group, label, tooltip, kind, range, options, switch,
    off, under, says, short: see there) and what the panel adds to it.

    Parameters
    ----------
    field : the Scenario field it sets
    default : what the control shows while a switched field is off (a knob's number, a
        choice's option value); 0 unless given
    note : ``note(value)`` is a line shown under the control while the field is on
    says, says_off : the change in words for the narration, "{}" is the shown value
        (switched fields; other controls say "label old → new"); "" when not given
    """

    field: str = ""
    default: object = 0.0
    says: str = ""
    says_off: str = ""
    note: object = None

    @property
    def selects(self) -> bool:
        """True for a control that picks one of ``options``."""
        return self.kind in ("choice", "radio", "menu")

    def shown(self, value):
        """The field's value in the units the control shows."""
        if self.selects:
            return OFF if value is None else value
        if self.kind != "knob":
            return value
        return int(value) if self.integer else clean(value / self.per_unit)

    def value(self, shown):
        """The field's value for what the control shows."""
        if self.selects:
            return None if shown == OFF else shown
        if self.kind != "knob":
            return shown
        return int(shown) if self.integer else clean(shown * self.per_unit)

    def words(self, shown) -> str:
        """``shown`` as the student reads it: the option's label for a choice."""
        if self.selects:
            return next((o[0] for o in self.options if self.shown(o[1]) == shown),
                        "from the scenario")
        return format_value(shown) if self.kind == "knob" else ("on" if shown else "off")


def _usd(x: float) -> str:
    """A round amount of USD, short: 50K USD, 2.5M USD, 950 USD."""
    for size, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "K")):
        if abs(x) >= size:
            return f"{number(x / size, 3, sig=4, trim=True)}{suffix} USD"
    return f"{number(x, 2, sig=4, trim=True)} USD"


def describe_tiers(brackets) -> str:
    """Maintenance-margin brackets in words: "0.4% below 50K USD, 0.5% from 50K USD, ..."."""
    out = []
    for i, (floor, rate) in enumerate(brackets):
        where = (f"below {_usd(brackets[1][0])}" if i == 0 and len(brackets) > 1
                 else "at any size" if i == 0 else f"from {_usd(floor)}")
        out.append(f"{percent(rate, 3, trim=True)} {where}")
    return ", ".join(out)


def tiers_note(brackets) -> str:
    return (f"These replace the flat maintenance margin knob: {describe_tiers(brackets)} of a "
            "position's value; leverage is capped at 1 / (2 × rate).")


def describe_venues(venues) -> str:
    """Index venues in words: "3 spot venues, 10M USD within 1% in all (weights 3, 2, 1)"."""
    weights = ", ".join(number(w, 2, sig=3, trim=True) for _, w in venues)
    n = len(venues)
    return (f"{n} spot venue{'' if n == 1 else 's'}, {_usd(sum(d for d, _ in venues))} within "
            f"1% in all (weight{'' if n == 1 else 's'} {weights})")


def venues_note(venues) -> str:
    return (f"The index is built from {describe_venues(venues)}: arbitrageurs trade between "
            "them and this book, and the mark price is built from the index. Nothing else "
            "trades on them.")


#: The index venues the panel's menu offers, ``(label, index_venues, tooltip)``: none (the
#: basic model), two equal spot venues, the binance-style preset's index and Hyperliquid's
#: oracle weights (:data:`marginloops.scenarios.HYPERLIQUID_ORACLE`).
INDEX_VENUES = (
    ("none", (), "No index: margins are checked on the last trade of this book"),
    ("two spot venues, 4M USD each", ((4_000_000.0, 1.0), (4_000_000.0, 1.0)),
     "Two spot venues of 4M USD within 1% each, weighted equally"),
    ("Binance-style index", PRESETS["binance-style"].index_venues,
     "The binance-style preset's index: " + describe_venues(
         PRESETS["binance-style"].index_venues)),
    ("Hyperliquid oracle", HYPERLIQUID_ORACLE,
     "Hyperliquid's oracle weights (Binance 3, OKX 2, Bybit 2, Kraken, Kucoin, Gate IO, MEXC "
     "1): " + describe_venues(HYPERLIQUID_ORACLE)),
)


#: The panel's rows for core settings that belong to no mechanism module (the maintenance
#: margin's brackets, the insurance fund, where market makers refill, recovery in a pause).
CORE_ROWS = (
    Setting(field="mmr_tiers", group="Margin and liquidation", label="Maintenance margin",
            tooltip="One maintenance rate for every position (the maintenance margin knob "
            "above), or exchange-style brackets: the rate grows with the position's size, and the "
            "brackets replace the flat rate", kind="menu", off=(), short="tiered margin",
            note=tiers_note,
            options=(("one rate (the maintenance margin knob)", (),
                      "Every position keeps the same share of its value"),
                     ("tiered brackets (Binance style)", BINANCE_STYLE_TIERS.brackets,
                      "Bigger positions keep a larger share of their value: "
                      + describe_tiers(BINANCE_STYLE_TIERS.brackets)))),
    Setting(field="insurance_fund", group="Who pays for losses",
            label="Insurance fund (M USD)",
            tooltip="Money set aside to pay for positions closed beyond their bankruptcy "
            "price; what the fund cannot pay is bad debt",
            lo=0.0, hi=10.0, step=0.05, per_unit=1e6),
    Setting(field="refill_at", group="Market makers", label="Refill at",
            tooltip="Where market makers put depth back (resilience, and recovery in a pause)",
            kind="choice", short="refill at {}",
            options=(("touch", "touch", "At the best remaining price: the price stays where the "
                                        "last trade left it"),
                     ("old levels", "levels", "At the price levels the orders took, nearest "
                                              "first: the next trades fill higher, so the price "
                                              "can climb back"))),
    Setting(field="recovery", group="Halts and auctions", label="Recovery in a pause (%)",
            tooltip="Market makers restore during a pause: the share of the depth used up so "
            "far that they put back in each halted round and before each call auction", lo=0.0,
            hi=100.0, step=5.0, per_unit=0.01),
    Setting(field="index_venues", group="Index and arbitrage", label="Index venues",
            tooltip="Spot venues whose prices make the index: with them, arbitrageurs trade "
            "between this book and the index, and margins can be checked on a mark price "
            "built from the index", kind="menu", off=(), short="index: {}", note=venues_note,
            options=INDEX_VENUES),
)

#: The order the panel shows its rows in (Scenario fields); a row declared by a mechanism but
#: not named here comes after these, in the order of :data:`marginloops.mechanisms.MECHANISMS`.
PANEL_ORDER = ("mmr_tiers", "dynamic_margin", "dynamic_window", "partial", "partial_fraction",
               "insurance_fund", "liquidation_fee", "adl", "liquidation_orders", "fund_unwind",
               "withdrawal", "refill_at",
               "breaker_move", "breaker_rounds", "breaker_reference", "call_auction", "recovery",
               "index_venues", "price_source", "arbitrage", "mark_rule", "mark_interval",
               "basis_window", "chasers", "chaser_leverage")


#: Options a choice offers only while another field is on, ``{(field, option value): the
#: field it needs}``: the panel never offers a state the Scenario refuses (partial "tier"
#: steps a position down the margin tiers, so it needs tiered margin).
OPTION_NEEDS = {("partial", "tier"): "mmr_tiers", ("price_source", "mark"): "index_venues"}

#: Values a knob keeps only while another field is on, ``{field: the field it needs}``: when
#: that field is switched off, the knob goes back to its ``off`` value and the narration says
#: so (arbitrage trades with the index venues, so the Scenario refuses it without them; the
#: chasers are liquidated only by the rebound arbitrage makes).
VALUE_NEEDS = {"arbitrage": "index_venues", "chasers": "index_venues"}

#: Rows the panel shows under another field although their mechanism declares none, ``{field:
#: parent}`` (the rebound's chasers matter only with the index venues' arbitrage).
ROW_UNDER = {"chasers": "index_venues"}

#: Rows shown under their parent only while it has one value, ``{field: (parent, value)}``
#: (a row's ``under`` shows it while the parent is on at all): the vault's threshold means
#: something only with the backstop vault.
ROW_SHOWN_WHEN = {"backstop_threshold": ("liquidation_orders", "backstop")}


def setting_of(param: Param) -> Setting:
    """The panel's row for a parameter a mechanism declares (its :class:`~marginloops.params.
    Control`, plain data in the core, drawn here; placed under :data:`ROW_UNDER`'s parent when
    it declares none)."""
    c = param.control
    declared = {f.name: getattr(c, f.name) for f in fields(Control)}
    if declared["under"] is None and param.name in ROW_UNDER:
        declared["under"] = ROW_UNDER[param.name]
    return Setting(**{**declared, "field": param.name,
                      "default": 0.0 if c.default is None else c.default,
                      "says": c.says or "", "says_off": c.says_off or ""})


def panel_rows(params=None) -> tuple:
    """The panel's rows in display order: :data:`CORE_ROWS` and a row for every parameter
    with a control that the mechanisms declare (``params``: by default
    :func:`marginloops.mechanisms.all_params`), ordered by :data:`PANEL_ORDER`."""
    rows = {s.field: s for s in CORE_ROWS}
    rows.update((p.name, setting_of(p)) for p in (all_params() if params is None else params)
                if p.control is not None)
    order = [f for f in PANEL_ORDER if f in rows] + [f for f in rows if f not in PANEL_ORDER]
    return tuple(rows[f] for f in order)


#: The "Breaking the loop" panel, one row per Scenario field, in display order: read from the
#: mechanisms' declarations (:func:`panel_rows`). A new mechanism module's controls show here
#: with no change to this file; the reading and writing of scenarios and the narration of
#: changes follow from these rows.
MECHANISMS = panel_rows()

#: How the panel lays out the groups of :data:`MECHANISMS`: columns of group names (a group no
#: column names goes at the end of the last; see :func:`panel_columns`).
MECHANISM_COLUMNS = (("Margin and liquidation", "Who pays for losses"),
                     ("Market makers", "Halts and auctions"))
def panel_columns(rows=None) -> tuple:
    """:data:`MECHANISM_COLUMNS`, with any group of ``rows`` (default :data:`MECHANISMS`) that
    no column names added at the end of the last column."""
    named = {g for column in MECHANISM_COLUMNS for g in column}
    extra = tuple(dict.fromkeys(m.group for m in (MECHANISMS if rows is None else rows)
                                if m.group not in named))
    return (*MECHANISM_COLUMNS[:-1], MECHANISM_COLUMNS[-1] + extra)


#: Width of a mechanism row's label column.
MECHANISM_LABEL_WIDTH = "175px"


class Disclosure(Reports, widgets.VBox):
    """A titled panel that its title button opens and closes.

    The keyboard-operable stand-in for a one-page ``widgets.Accordion`` (ipywidgets 8 draws an
    Accordion's title as a ``div`` that Tab never reaches, so its contents were out of a
    keyboard user's reach); it keeps the part of the Accordion API the controls use:
    ``titles``, ``set_title(0, text)`` and ``selected_index`` (None closed, 0 open).
    """

    selected_index = traitlets.Int(None, allow_none=True, help="0 open, None closed")

    def __init__(self, child: widgets.Widget, title: str, *, tooltip: str = "",
                 open: bool = False):
        self.header = widgets.Button(description=title, icon="caret-right", tooltip=tooltip,
                                     layout={"width": "auto", "max_width": "100%"},
                                     style={"font_weight": "bold"})
        self.contents = widgets.Box([child], layout={"padding": "4px 8px"})
        self._init_reports()
        super().__init__([self.header, self.contents, self.message],
                         layout={"border": "1px solid #8C8C8C", "margin": "6px 0 0 0"})
        self.header.on_click(self.guard(lambda _: self.toggle()))
        self.observe(self.guard(self._show), names="selected_index")
        self.selected_index = 0 if open else None
        self._show()

    @property
    def titles(self) -> tuple:
        return (self.header.description,)

    def set_title(self, index: int, title: str) -> None:
        if index != 0:
            raise ValueError(f"index must be 0 (a Disclosure has one page), got {index}")
        self.header.description = title

    def toggle(self) -> None:
        """Open a closed panel, close an open one (what its title button does)."""
        self.selected_index = None if self.selected_index == 0 else 0

    def _show(self, *_) -> None:
        is_open = self.selected_index == 0
        self.contents.layout.display = None if is_open else "none"
        self.header.icon = "caret-down" if is_open else "caret-right"
