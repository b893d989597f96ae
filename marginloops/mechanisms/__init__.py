"""The mechanisms that feed or break a cascade, one module each (issue 11).

A mechanism is a subclass of :class:`Mechanism` that declares, as data:

- ``params``: its parameters (:class:`~marginloops.params.Param`, with their one check and
  the control row the explorer draws), under their :class:`~marginloops.Scenario` names;
- ``record_fields``: the :class:`RecordField` s it adds to every
  :class:`~marginloops.RoundRecord`, with their default (the value when it is off);
- the stages of the round it takes part in: the hook methods below it overrides;
- its narration (:meth:`Mechanism.sentence`, :meth:`Mechanism.round_sentence`,
  :meth:`Mechanism.fill_words`) and its words in the comparison table
  (:meth:`Mechanism.notes`);
- ``table_columns``: the :class:`TableColumn` s it adds to the round tables (the narration's
  and, when it gives a ``compare_header``, the comparison's);
- ``summary_measures``: the :class:`SummaryMeasure` s it adds to a comparison's summary of a
  run (a row of its table, an attribute of :class:`~marginloops.compare.Summary` and, if it
  says so, a clause of the verdict).

The round (:class:`~marginloops.Cascade`), the scenario (:class:`~marginloops.Scenario`), the
narration and the comparison read :data:`MECHANISMS` and never name a mechanism. Adding one is
one new module here and its name in :data:`MECHANISMS`.

The stages of a liquidation round, in order, and the hooks a mechanism may join:

1. ``surcharge``: a rise of every maintenance rate at this check (dynamic margin);
   ``check_price``: the price the check uses, when it is not the last traded price (a mark);
2. check margins (the accounts); 3. ``choose``: how much of each caught account to close
   (partial liquidation); 4. ``divert``: units closed off the venue (auto-deleveraging);
5. ``before_trade``: depth arriving before the order (a call auction's collection period);
6. execute on the venue; ``adjust_fill``: the price the order clears at (one price in an
   auction); 7. settle: ``fee`` (a liquidation fee), the fund and bad debt (core);
8. recover depth (core resilience); ``after_trade``: the venue's reaction (quote withdrawal);
9. ``judge``: what the move triggers (a circuit breaker); 10. ``record``.

A mechanism may also replace a whole round: ``halts`` / ``halt`` (a circuit breaker's halt,
or a round in which only the insurance fund sells); and keep a run going past a fixed point:
``keeps_going`` (a fund that still holds what it took over).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["MECHANISMS", "Mechanism", "RecordField", "SummaryMeasure", "TableColumn", "all_params",
           "placed", "record_fields", "summary_measures"]


@dataclass(frozen=True)
class RecordField:
    """A field a mechanism adds to :class:`~marginloops.RoundRecord`: its name, type, value
    when the mechanism is off (or did nothing), and its one-line meaning."""

    name: str
    type: type
    default: object
    doc: str


@dataclass(frozen=True)
class TableColumn:
    """A column a mechanism adds to :func:`marginloops.narration.round_table`: its key,
    header, ``cell(record, previous record) -> str``, ``shown(history) -> bool`` (is it among
    the default columns of this run), and the key of the column it follows.

    ``compare_header``, when given, puts the column in
    :meth:`marginloops.compare.Comparison.round_table` too, under that (shorter) header, after
    the column named ``after`` if that table has it (else before the note), in both runs'
    blocks as soon as ``shown`` is true of either run's history."""

    key: str
    header: str
    cell: object
    shown: object
    after: str
    compare_header: str | None = None


@dataclass(frozen=True)
class SummaryMeasure:
    """A number a mechanism adds to a comparison's summary of one run.

    It becomes an attribute ``key`` of :class:`marginloops.compare.Summary` (its value
    ``of(history)``, of type ``type``, meaning ``doc``), a row ``label`` of
    :meth:`~marginloops.compare.Comparison.table` placed after the row labelled ``after``,
    shown only when the value is above 0 in either run (see
    :data:`marginloops.compare.OPTIONAL_MEASURES`), with the cell ``cell(value) -> str``.

    ``words``, when given, adds a clause to :meth:`~marginloops.compare.Comparison.verdict`:
    ``words(a, b, label_a, label_b, identical) -> str``, from the two runs' values and labels
    (``identical``: the runs gave the same numbers, the verdict says so), "" when there is
    nothing to say. The clause goes at the end of the sentence, before its full stop, so it
    starts with its own separator ("; ...").
    """

    key: str
    label: str
    type: type
    of: object
    cell: object
    after: str
    doc: str
    words: object = None


#: Per mechanism class, its keyword arguments as ``(name, default, Param or None)``: worked
#: out once (a sweep builds each mechanism thousands of times).
_SPECS: dict = {}


def _spec(cls) -> tuple:
    try:
        return _SPECS[cls]
    except KeyError:
        params = {p.name: p for p in cls.params}
        spec = tuple((k, d, params.get(k)) for k, d in cls.kwargs().items())
        _SPECS[cls] = spec
        return spec


class Mechanism:
    """Base of every mechanism: declarations, and hooks that do nothing.

    An instance belongs to one :class:`~marginloops.Cascade`, built from the cascade's keyword
    arguments (``cascade_kwargs`` names them and their defaults); ``active`` says whether it is
    switched on, and a cascade calls only the hooks of active mechanisms that override them.
    """

    #: Key and words.
    name = ""
    title = ""
    #: Its Scenario fields.
    params: tuple = ()
    #: Fields it adds to RoundRecord.
    record_fields: tuple = ()
    #: Core parameters that decide what it does once on (shown with it by the command line).
    companions: tuple = ()
    #: Columns it adds to the round table (narration.round_table; compare's, if they say so).
    table_columns: tuple = ()
    #: Measures it adds to a comparison's summary (compare.Summary, its table and verdict).
    summary_measures: tuple = ()
    #: Its Cascade keyword arguments and their defaults (by default, its params).
    cascade_kwargs: dict | None = None
    #: It changes thresholds after the sort: the accounts must check every open one.
    moves_thresholds = False
    #: It needs the opposite side's remaining sizes.
    needs_opposite = False
    #: It can move the price back (arbitrage): the cascade also checks the opposite side's
    #: accounts after each round and liquidates those the move reached (the rebound).
    moves_both_ways = False
    #: It is on exactly when an active mechanism moves the price both ways (the rebound's
    #: liquidations of the opposite side), whatever its own parameters say.
    follows_both_ways = False

    def __init__(self, **values):
        for key, default, param in _spec(type(self)):
            value = values.get(key, default)
            setattr(self, key, value if param is None else param.check(value, python=True))

    @classmethod
    def kwargs(cls) -> dict:
        """The Cascade keyword arguments this mechanism reads, with their defaults."""
        if cls.cascade_kwargs is not None:
            return dict(cls.cascade_kwargs)
        return {p.name: p.default for p in cls.params}

    @classmethod
    def from_scenario(cls, scenario) -> dict:
        """The Cascade keyword arguments a scenario's fields give (by default the same names)."""
        return {p.name: getattr(scenario, p.name) for p in cls.params}

    @property
    def active(self) -> bool:
        """Switched on (by default: its first parameter is not off)."""
        p = self.params[0]
        return not p.is_off(getattr(self, p.name))

    # ------------------------------------------------------------------ round stages
    def reset(self, run) -> None:
        """The run starts again."""

    def halts(self, run) -> bool:
        """True when this mechanism replaces the coming round by its own (a halt)."""
        return False

    def keeps_going(self, run) -> bool:
        """True when the mechanism still has business at a fixed point (an insurance fund
        that still sells what it took over), so the run does not end there."""
        return False

    def halt(self, run, st) -> None:
        """Play the replacing round (see :meth:`halts`)."""

    def surcharge(self, run) -> float:
        """Added to every maintenance rate at this round's check."""
        return 0.0

    def check_price(self, run) -> float | None:
        """The price margins are checked at now (a mark price), or None to check them at the
        last traded price (see :meth:`marginloops.Cascade.check_price`)."""
        return None

    def choose(self, run, st, closing) -> None:
        """Set ``closing.x``, the fraction of each caught account to close."""

    def divert(self, run, st, closing) -> None:
        """Close units off the venue (set ``closing.diverted``, ``st.off_venue_*``)."""

    def before_trade(self, run, st) -> None:
        """Just before the order goes to the venue."""

    def adjust_fill(self, run, st, fill):
        """The fill the order's accounts settle at."""
        return fill

    def fee(self, frac, close, avg_price):
        """Each close's fee, USD (only the fee mechanism charges one)."""
        return None

    def after_trade(self, run, st) -> None:
        """After the price moved and depth recovered."""

    def judge(self, run, st) -> None:
        """When the round did not end the run: what its move triggers."""

    def record(self, run, st) -> dict:
        """This round's values of the mechanism's record fields."""
        return {}

    # ------------------------------------------------------------------ words
    @staticmethod
    def round_sentence(rec) -> str | None:
        """A whole round's sentence, when the mechanism played the round (a halt)."""
        return None

    @staticmethod
    def fill_words(rec, moved: str) -> str | None:
        """How the liquidations traded, when the mechanism changed that (an auction)."""
        return None

    @staticmethod
    def sentence(rec) -> str:
        """A sentence added to the round's narration ("" when there is nothing to say)."""
        return ""

    @staticmethod
    def order_words(rec) -> str | None:
        """Phase mode's liquidate stage: the kind of order, when the mechanism changed it."""
        return None

    @staticmethod
    def liquidate_words(rec) -> str:
        """Added to phase mode's liquidate stage ("" when there is nothing to say)."""
        return ""

    @staticmethod
    def walk_sentence(rec) -> str | None:
        """Phase mode's walk stage, when the mechanism changed how the order traded."""
        return None

    @staticmethod
    def loss_words(rec) -> str | None:
        """The round's sentence about its losses, when the mechanism changed where they come
        from (a fund's loss on what it took over, not a close beyond bankruptcy); None to
        keep the core's."""
        return None

    @staticmethod
    def end_words(history) -> str:
        """Added to the run's closing summary ("" when there is nothing to say)."""
        return ""

    @staticmethod
    def stops_the_news(rec) -> bool:
        """True when the round's last sentence (who is in reach next) should be left out."""
        return False

    @staticmethod
    def notes(rec) -> list[str]:
        """Words for the comparison table's notes column."""
        return []


def _registry() -> tuple:
    from .adl import AutoDeleveraging
    from .breaker import Breaker
    from .call_auction import CallAuction
    from .dynamic_margin import DynamicMargin
    from .fee import LiquidationFee
    from .liquidation_orders import BankruptcyLimitOrders
    from .mark_price import MarkPrice
    from .partial import PartialLiquidation
    from .rebound import ReboundLiquidation
    from .withdrawal import QuoteWithdrawal

    return (MarkPrice, PartialLiquidation, AutoDeleveraging, DynamicMargin, QuoteWithdrawal,
            Breaker, BankruptcyLimitOrders, CallAuction, LiquidationFee, ReboundLiquidation)


#: Every mechanism, in the order their stages and sentences run.
MECHANISMS: tuple = _registry()


def all_params() -> tuple:
    """Every mechanism's parameters, in order."""
    return tuple(p for m in MECHANISMS for p in m.params)


def record_fields() -> tuple:
    """Every mechanism's record fields, in order."""
    return tuple(f for m in MECHANISMS for f in m.record_fields)


def summary_measures() -> tuple:
    """Every mechanism's summary measures, in order."""
    return tuple(s for m in MECHANISMS for s in m.summary_measures)


def placed(keys, extras, key, after) -> tuple:
    """``keys`` with each of ``extras`` inserted after the key ``after(extra)`` names (at the
    end if ``keys`` has no such key), ``key(extra)`` being what is inserted; extras placed
    after the same key keep their order.

    >>> placed(("a", "b"), ("x", "y", "z"), str.upper, {"x": "a", "y": "a", "z": "?"}.get)
    ('a', 'X', 'Y', 'b', 'Z')
    """
    out = list(keys)
    last = {k: k for k in out}  # where the next extra after k goes: after the last one placed
    for e in extras:
        anchor = last.get(after(e))
        at = out.index(anchor) + 1 if anchor is not None else len(out)
        out.insert(at, key(e))
        if anchor is not None:
            last[after(e)] = key(e)
        last[key(e)] = key(e)
    return tuple(out)
