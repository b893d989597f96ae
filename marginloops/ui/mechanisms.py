"""The "Breaking the loop" panel's table: one :class:`Setting` per Scenario field of a
mechanism (:data:`MECHANISMS`, laid out by :data:`MECHANISM_COLUMNS`), and
:class:`Disclosure`, the keyboard-operable panel that holds it."""

from __future__ import annotations

from dataclasses import dataclass

import ipywidgets as widgets
import traitlets

from ..numbers import number, percent
from ..tiers import BINANCE_STYLE_TIERS
from .knobs import clean, format_value
from .reports import Reports

__all__ = ["Disclosure", "MECHANISMS", "MECHANISM_COLUMNS", "MECHANISM_LABEL_WIDTH", "OFF",
           "Setting", "describe_tiers", "tiers_note"]


#: What a choice's buttons hold for a field value of None (a selection widget cannot hold None).
OFF = "off"


@dataclass(frozen=True)
class Setting:
    """One control of the "Breaking the loop" panel, bound to one :class:`Scenario` field.

    Parameters
    ----------
    field : the Scenario field it sets
    group : the heading it appears under (see :data:`MECHANISM_COLUMNS`)
    label, tooltip : what the student reads, and the explanation on hover
    kind : "knob" (a :class:`Knob`), "check" (a checkbox for a True/False field), "choice"
        (ToggleButtons), "radio" (RadioButtons, for long option labels) or "menu" (a Dropdown)
        over ``options``, ``((label, value, tooltip), ...)``; a value None is shown as
        :data:`OFF`
    lo, hi, step, integer : the knob's range in shown units; it must only allow valid values
        (a scenario's value outside it widens it)
    per_unit : field value of one shown unit: 0.01 shows a fraction in %, 1e6 USD in M USD
    switch, switch_tooltip : for a field that a checkbox turns on and off: the checkbox's
        label; unticked, the field is ``off`` and the knob is hidden
    off : the field's value while it is off (its switch unticked, or a choice on it)
    default : what the control shows while a switched field is off (a knob's number, a
        choice's option value)
    under : the field this control belongs to: shown only while that field is on (its switch
        ticked, or its choice not ``off``)
    note : ``note(value)`` is a line shown under the control while the field is on
    says, says_off : the change in words for the narration, "{}" is the shown value
        (switched fields; other controls say "label old → new")
    short : the panel title's words while the field differs from its Scenario default
        ("{}" is the shown value); None: never in the title
    """

    field: str
    group: str
    label: str
    tooltip: str
    kind: str = "knob"
    lo: float = 0.0
    hi: float = 1.0
    step: float = 1.0
    per_unit: float = 1.0
    integer: bool = False
    options: tuple = ()
    switch: str | None = None
    switch_tooltip: str = ""
    off: object = None
    default: object = 0.0
    under: str | None = None
    note: object = None
    says: str = ""
    says_off: str = ""
    short: str | None = None

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


#: The "Breaking the loop" panel, one row per Scenario field, in display order. Add a
#: mechanism here (and its group to MECHANISM_COLUMNS): the panel, the reading and writing of
#: scenarios and the narration of changes all follow from this table.
MECHANISMS = (
    Setting("mmr_tiers", "Margin and liquidation", "Maintenance margin",
            "One maintenance rate for every position (the maintenance margin knob above), or "
            "exchange-style brackets: the rate grows with the position's size, and the "
            "brackets replace the flat rate", kind="menu", off=(), short="tiered margin",
            note=tiers_note,
            options=(("one rate (the maintenance margin knob)", (),
                      "Every position keeps the same share of its value"),
                     ("tiered brackets (Binance style)", BINANCE_STYLE_TIERS.brackets,
                      "Bigger positions keep a larger share of their value: "
                      + describe_tiers(BINANCE_STYLE_TIERS.brackets)))),
    Setting("dynamic_margin", "Margin and liquidation", "Rise (× the move)",
            "Every maintenance rate rises by this many times the price move of the last "
            "rounds: at 2, a 3% move adds 6 percentage points (the margin spiral)",
            lo=0.5, hi=10.0, step=0.5, off=0.0, default=2.0, switch="dynamic margin",
            switch_tooltip="Raise the maintenance margin when the price has moved fast, as "
                           "exchanges and lenders do in a crash: more positions are "
                           "liquidated (Brunnermeier and Pedersen's margin spiral)",
            says="dynamic margin on: maintenance rates rise {}× the recent move",
            says_off="dynamic margin off", short="dynamic margin {}×"),
    Setting("dynamic_window", "Margin and liquidation", "Window (rounds)",
            "Over how many past rounds the move that raises the margin is measured",
            lo=1, hi=10, step=1, integer=True, under="dynamic_margin"),
    Setting("partial", "Margin and liquidation", "Partial liquidation",
            "Close a reached position at once, or reduce it in slices", kind="radio",
            short="partial liquidation: {}",
            options=(("no (close whole positions)", None,
                      "A position the price reaches is closed at once"),
                     ("a fraction per round", "fraction",
                      "Close a slice of each reached position per round, until it is safe "
                      "again or gone"),
                     ("just enough to restore margin", "restore",
                      "Close just enough of each reached position (at least a slice) for "
                      "the rest to meet its maintenance margin again"))),
    Setting("partial_fraction", "Margin and liquidation", "Slice (%)",
            "The share of a reached position closed in one round (a fraction per round), or "
            "the least share closed (just enough)", lo=1.0, hi=100.0, step=1.0, per_unit=0.01,
            under="partial"),
    Setting("insurance_fund", "Who pays for losses", "Insurance fund (M USD)",
            "Money set aside to pay for positions closed beyond their bankruptcy price; what "
            "the fund cannot pay is bad debt", lo=0.0, hi=10.0, step=0.05, per_unit=1e6),
    Setting("liquidation_fee", "Who pays for losses", "Fee (% of the close)",
            "The fee as % of the closed position's value, at most the margin it has left; the "
            "fee goes to the insurance fund, the rest of the margin back to the trader",
            lo=0.0, hi=10.0, step=0.1, per_unit=0.01, default=1.0,
            switch="charge a liquidation fee",
            switch_tooltip="Ticked: liquidated traders pay a fee into the insurance fund and get "
                           "the rest of their margin back. Unticked: all the margin a liquidated "
                           "position has left goes to the fund",
            says="liquidation fee {}% of the close",
            says_off="no liquidation fee: all remaining margin goes to the fund", short="fee {}%"),
    Setting("adl", "Who pays for losses", "auto-deleveraging",
            "When the insurance fund cannot absorb the positions already past their bankruptcy "
            "price, close them at that price against the most profitable, most leveraged "
            "traders on the other side, instead of selling them into the book",
            kind="check", short="auto-deleveraging"),
    Setting("withdrawal", "Market makers", "Quote withdrawal",
            "How hard market makers pull their quotes after a fast move: a move of x% cancels "
            "min(1, withdrawal·x) of the depth within 1% of the price (0: they never pull, "
            "0.2: a 5% move cancels all of it)", lo=0.0, hi=20.0, step=0.05,
            short="quote withdrawal {}"),
    Setting("refill_at", "Market makers", "Refill at",
            "Where market makers put depth back (resilience, and recovery in a pause)",
            kind="choice", short="refill at {}",
            options=(("touch", "touch", "At the best remaining price: the price stays where the "
                                        "last trade left it"),
                     ("old levels", "levels", "At the price levels the orders took, nearest "
                                              "first: the next trades fill higher, so the price "
                                              "can climb back"))),
    Setting("breaker_move", "Halts and auctions", "Halts after a move of (%)",
            "Trading halts when the price moves more than this", lo=0.5, hi=50.0, step=0.5,
            per_unit=0.01, default=2.0, switch="circuit breaker",
            switch_tooltip="Halt trading for a few rounds when the price moves too far: no "
                           "trade and no liquidation while market makers restore depth",
            says="circuit breaker on: halts after a move of {}%", says_off="circuit breaker off",
            short="circuit breaker {}%"),
    Setting("breaker_rounds", "Halts and auctions", "Halt rounds",
            "How many rounds a halt lasts", lo=1, hi=10, step=1, integer=True,
            under="breaker_move"),
    Setting("breaker_reference", "Halts and auctions", "Move measured",
            "Which move trips the breaker", kind="choice", under="breaker_move",
            options=(("within a round", "round", "The move from the start to the end of one "
                                                 "round"),
                     ("from the last start", "start", "The move from the price trading started "
                                                      "or last resumed at"))),
    Setting("call_auction", "Halts and auctions", "call auction",
            "Collect each round's liquidations and clear them in one batch at a single price, "
            "after market makers have restored part of the depth, instead of walking a thin "
            "book", kind="check", short="call auction"),
    Setting("recovery", "Halts and auctions", "Recovery in a pause (%)",
            "Market makers restore during a pause: the share of the depth used up so far that "
            "they put back in each halted round and before each call auction", lo=0.0,
            hi=100.0, step=5.0, per_unit=0.01),
)
#: How the panel lays out the groups of :data:`MECHANISMS`: columns of group names.
MECHANISM_COLUMNS = (("Margin and liquidation", "Who pays for losses"),
                     ("Market makers", "Halts and auctions"))
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
