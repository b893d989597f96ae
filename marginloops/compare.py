"""Compare mode: the same kind of shock in two markets (or under two policies), side by side.

Holds :func:`compare` and its result :class:`Comparison` (both histories, a :class:`Summary` of
each run, a text table and a one-sentence verdict), and :class:`LockStep`, which steps two
cascades together for the compare widget.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field, make_dataclass

from .analysis import amplification
from .cascade import Cascade, RoundRecord
from .mechanisms import MECHANISMS, placed, summary_measures
from .narration import count, money, price
from .numbers import number, percent, signed_percent
from .scenarios import Scenario

#: The rows of :meth:`Comparison.table` every run has, in order.
CORE_MEASURES = ("start price", "final price", "price change", "shock (round 0)",
                 "amplification", "positions closed", "notional liquidated", "bad debt",
                 "insurance fund left", "rounds", "end")

#: The measures the mechanisms add (:attr:`marginloops.mechanisms.Mechanism.summary_measures`).
_EXTRA = summary_measures()

#: The rows of :meth:`Comparison.table`, in order (the cells of :meth:`Summary.cells`): the
#: core's, each mechanism's measure after the row it names.
MEASURES = placed(CORE_MEASURES, _EXTRA, key=lambda m: m.label, after=lambda m: m.after)

#: Rows :meth:`Comparison.table` leaves out when both runs have nothing in them (the
#: mechanisms' measures), so a plain comparison stays short.
OPTIONAL_MEASURES = tuple(m.label for m in _EXTRA)

#: Why a run stopped, in words (reasons the cascade adds later read as their own name).
_END_WORDS = {None: "still running", "fixed_point": "fixed point",
              "book_exhausted": "book exhausted", "max_rounds": "round limit"}

#: Scenario fields that only label a scenario: they never count as a difference.
_LABEL_FIELDS = ("name", "description")


def _check_scenario(name: str, value) -> Scenario:
    if not isinstance(value, Scenario):
        raise ValueError(f"{name} must be a Scenario (for example Scenario.preset("
                         f"'crowded-longs')), got {type(value).__name__} {value!r:.60}")
    return value


def _check_labels(labels) -> tuple[str, str]:
    if (not isinstance(labels, (tuple, list)) or len(labels) != 2
            or not all(isinstance(x, str) and x.strip() for x in labels)
            or labels[0] == labels[1]):
        raise ValueError("labels must be two different non-empty strings, one per run, for "
                         f"example ('without', 'with'), got {labels!r:.80}")
    return (labels[0], labels[1])


def end_words(reason: str | None) -> str:
    """Why a run stopped in plain words: "fixed point", "book exhausted", "still running" ..."""
    return _END_WORDS.get(reason, str(reason).replace("_", " "))


_SUMMARY_DOC = """The few numbers that sum up one run (or the part of it played so far).

    Attributes
    ----------
    label : str
        The run's name in tables and sentences.
    direction : str
        "down" (a crash) or "up" (a squeeze).
    start_price, final_price : float
        Price before the shock and after the last round played, USD.
    final_change : float
        ``final_price / start_price - 1``: the whole move as a fraction (negative: a fall).
    shock_change : float
        The same for round 0 alone, the outside shock.
    amplification : float
        ``final_change / shock_change`` (:func:`marginloops.amplification`): 1 means the
        liquidations added nothing to the shock; NaN if the shock did not move the price.
    n_closed : int
        Positions closed whole in all rounds (those closed off the venue included): each
        position counts once, so never more than the market holds.
    notional_liquidated : float
        The value of every close, whole or in part, at the prices that triggered them, USD.
    bad_debt : float
        Losses the insurance fund could not cover, USD.
    insurance_fund : float
        What is left in the fund, USD.
    rounds : int
        Number of the last round played (the shock is round 0).
    end_reason : str or None
        Why the run stopped (see :data:`marginloops.cascade.END_REASONS`); None while running.

    Measures the mechanisms add (:mod:`marginloops.mechanisms`; each is 0 when the mechanism
    is off):
"""


@dataclass(frozen=True)
class _CoreSummary:
    """The core's fields and the methods of :class:`Summary` (which adds the mechanisms')."""

    label: str
    direction: str
    start_price: float
    final_price: float
    final_change: float
    shock_change: float
    amplification: float
    n_closed: int
    notional_liquidated: float
    bad_debt: float
    insurance_fund: float
    rounds: int
    end_reason: str | None

    @classmethod
    def of(cls, history: list[RoundRecord], label: str = "") -> Summary:
        """Summarise ``history`` (the records of one run, round 0 first, at least the shock)."""
        if not history:
            raise ValueError("history must hold at least the shock round, got an empty list; "
                             "step the cascade once first")
        first, last = history[0], history[-1]
        start = first.price_before
        return cls(label=label, direction=first.direction, start_price=start,
                   final_price=last.price_after, final_change=last.price_after / start - 1.0,
                   shock_change=first.price_after / start - 1.0,
                   amplification=amplification(history),
                   n_closed=sum(r.n_closed for r in history),
                   notional_liquidated=sum(r.notional_liquidated for r in history),
                   bad_debt=last.bad_debt, insurance_fund=last.insurance_fund,
                   rounds=last.round, end_reason=last.end_reason,
                   **{m.key: m.of(history) for m in _EXTRA})

    def cells(self) -> tuple[str, ...]:
        """The summary as the text cells of :data:`MEASURES`, in that order."""
        cells = dict(zip(CORE_MEASURES, (
            price(self.start_price), price(self.final_price),
            signed_percent(self.final_change, 2), signed_percent(self.shock_change, 2),
            _amp(self.amplification), count(self.n_closed), money(self.notional_liquidated),
            money(self.bad_debt), money(self.insurance_fund), count(self.rounds),
            end_words(self.end_reason)), strict=True))
        cells.update((m.label, m.cell(getattr(self, m.key))) for m in _EXTRA)
        return tuple(cells[m] for m in MEASURES)

    def shows(self, measure: str) -> bool:
        """False for a row of :data:`OPTIONAL_MEASURES` this run has nothing in."""
        return all(getattr(self, m.key) > 0 for m in _EXTRA if m.label == measure)

    def _numbers(self) -> tuple:
        """Every field but the label, NaN made comparable."""
        values = dataclasses.astuple(dataclasses.replace(self, label=""))
        return tuple("nan" if isinstance(v, float) and math.isnan(v) else v for v in values)


def _make_summary_class():
    doc = _SUMMARY_DOC + "".join(f"    {m.key} : {m.type.__name__}\n        {m.doc}\n"
                                 for m in _EXTRA) + "    "
    return make_dataclass(
        "Summary", [(m.key, m.type, field(default=m.type(0))) for m in _EXTRA],
        bases=(_CoreSummary,), frozen=True,
        namespace={"__doc__": doc, "__module__": __name__})


#: One run summed up: :class:`_CoreSummary`'s fields, then every mechanism's measure.
Summary = _make_summary_class()


def _amp(x: float, decimals: int = 2) -> str:
    """An amplification: "5.21", "n/a" when the shock did not move the price."""
    return number(x, decimals)  # NaN reads "n/a"


def _move(r: RoundRecord) -> str:
    """The round's price move in % of the price before it: "-2.96%", "+1.20%", "0.00%"."""
    return signed_percent(r.price_after / r.price_before - 1, 2)


#: The columns of :meth:`Comparison.round_table` every run has before its note: header and
#: ``cell(record, previous record)``.
_ROUND_COLUMNS = {"price": ("price", lambda r, p: price(r.price_after)),
                  "move": ("move", lambda r, p: _move(r)),
                  "closed": ("closed", lambda r, p: count(r.n_closed))}

#: The mechanisms' round-table columns that go in :meth:`Comparison.round_table` too.
_COMPARE_COLUMNS = tuple(c for m in MECHANISMS for c in m.table_columns if c.compare_header)


def _round_note(r: RoundRecord) -> str:
    """What :meth:`Comparison.round_table` says about one round besides its numbers."""
    notes = [note for m in MECHANISMS for note in m.notes(r)]
    notes += [f"end: {end_words(r.end_reason)}"] if r.end_reason is not None else []
    return ", ".join(notes)


def _moved(change: float) -> str:
    """'fell 15.6%', 'rose 5.0%' or 'did not move'."""
    if change == 0:
        return "did not move"
    return f"{'fell' if change < 0 else 'rose'} {percent(abs(change))}"


@dataclass(frozen=True)
class Comparison:
    """Two runs played to their end, and what tells them apart.

    Made by :func:`compare`. ``labels``, ``scenarios``, ``histories`` and ``summaries`` are
    pairs, run A first.

    Attributes
    ----------
    labels : tuple of str
        The runs' names.
    scenarios : tuple of Scenario
        The two markets.
    histories : tuple of list of RoundRecord
        Every round of each run, round 0 (the shock) first.
    summaries : tuple of Summary
        Each run summed up.
    """

    labels: tuple[str, str]
    scenarios: tuple[Scenario, Scenario]
    histories: tuple[list[RoundRecord], list[RoundRecord]]
    summaries: tuple[Summary, Summary]

    @property
    def identical(self) -> bool:
        """True when both runs give the same numbers (labels aside)."""
        a, b = self.summaries
        return a._numbers() == b._numbers()

    def table(self) -> str:
        """The summaries as fixed-width text: one row per measure (:data:`MEASURES`), one column
        per run; a row of :data:`OPTIONAL_MEASURES` only if either run has something in it."""
        rows = [("", *self.labels)]
        rows += [row for row in zip(MEASURES, *(s.cells() for s in self.summaries), strict=True)
                 if any(s.shows(row[0]) for s in self.summaries)]
        w0 = max(len(r[0]) for r in rows)
        widths = [max(len(r[i]) for r in rows) for i in (1, 2)]
        return "\n".join(
            "  ".join([r[0].ljust(w0), *(c.rjust(w) for c, w in zip(r[1:], widths,
                                                                   strict=True))]).rstrip()
            for r in rows)

    def round_table(self) -> str:
        """Both runs round by round, side by side, as fixed-width text.

        One row per round (round 0, the shock, first) and, for each run, four columns: the
        price after the round, its move in % of the price before it, the positions closed
        whole in it, and a note: the mechanisms' words for the round
        (:meth:`marginloops.mechanisms.Mechanism.notes`, such as "one price") and, on a run's
        last round, why it stopped ("end: fixed point"). A mechanism's column with a
        ``compare_header`` (:class:`marginloops.mechanisms.TableColumn`) comes in too, after
        the column it names, when either run shows it. A run that ended earlier leaves its
        columns empty. The runs' labels head their columns.

        Examples
        --------
        >>> a = Scenario.preset("crowded-longs")
        >>> c = compare(a, a.replace(depth_1pct=6_000_000), labels=("1.5M depth", "6M depth"))
        >>> for line in c.round_table().splitlines()[:5]:
        ...     print(line)
               1.5M depth                               6M depth
        round  price    move  closed  note              price    move  closed  note
            0  97.00  -2.99%       0                    97.00  -2.99%       0
            1  94.13  -2.96%     353                    96.28  -0.74%     353
            2  91.25  -3.06%     338                    96.13  -0.16%      76
        """
        extra = [c for c in _COMPARE_COLUMNS if any(c.shown(h) for h in self.histories)]
        keys = placed(_ROUND_COLUMNS, extra, key=lambda c: c.key, after=lambda c: c.after)
        cells = {**_ROUND_COLUMNS, **{c.key: (c.compare_header, c.cell) for c in extra}}
        head = (*(cells[key][0] for key in keys), "note")
        k = len(head)
        blocks = []
        for history in self.histories:
            rows = [head] + [(*(cells[key][1](r, p) for key in keys), _round_note(r))
                             for r, p in zip(history, [None, *history], strict=False)]
            rows += [("",) * k] * (self.steps - len(history))
            widths = [max(len(row[i]) for row in rows) for i in range(k)]
            blocks.append([[c.rjust(w) for c, w in zip(row[:-1], widths, strict=False)]
                           + [row[-1].ljust(widths[-1])] for row in rows])
        numbers = ["round"] + [count(n) for n in range(self.steps)]
        w0 = len("round")
        lines = ["  ".join([n.rjust(w0), *a, *b]).rstrip()
                 for n, a, b in zip(numbers, *blocks, strict=True)]
        width_a = len("  ".join(blocks[0][0]))
        labels = " " * (w0 + 2) + self.labels[0].ljust(width_a) + "  " + self.labels[1]
        return "\n".join([labels.rstrip(), *lines])

    @property
    def steps(self) -> int:
        """Rounds in the longer run, the shock included: the rows of :meth:`round_table`."""
        return max(len(h) for h in self.histories)

    def verdict(self) -> str:
        """One plain sentence: how far the price moved in run B against run A, how much the
        cascade amplified the shock in each, the difference in bad debt, and the mechanisms'
        clauses (:attr:`marginloops.mechanisms.SummaryMeasure.words`)."""
        a, b = self.summaries
        la, lb = self.labels
        amp_ok = not (math.isnan(a.amplification) or math.isnan(b.amplification))
        if self.identical:
            amp = f" (amplification {_amp(a.amplification, 1)})" if amp_ok else ""
            debt = (f"leaving {money(a.bad_debt)} of bad debt in each" if a.bad_debt > 0
                    else "with no bad debt")
            moved = ("did not move" if a.final_change == 0
                     else f"{_moved(a.final_change)} in both")
            return (f'The two runs "{la}" and "{lb}" are identical: the price {moved}{amp}, '
                    f"{debt}{self._clauses()}.")
        if a.final_change * b.final_change > 0:  # both fell, or both rose
            text = (f'The price {_moved(b.final_change)} in run "{lb}" instead of '
                    f'{percent(abs(a.final_change))} in run "{la}"')
        else:
            text = (f'The price {_moved(b.final_change)} in run "{lb}" but '
                    f'{_moved(a.final_change)} in run "{la}"')
        if amp_ok:
            amp_a, amp_b = _amp(a.amplification, 1), _amp(b.amplification, 1)
            if amp_a == amp_b:
                text += f" (amplification {amp_a} in both)"
            else:
                text += f" (amplification {amp_b} instead of {amp_a})"
        diff = b.bad_debt - a.bad_debt
        if a.bad_debt == 0 and b.bad_debt == 0:
            text += ", and neither left bad debt"
        elif diff == 0:
            text += f", with the same bad debt ({money(a.bad_debt)})"
        else:
            text += f", with {money(abs(diff))} {'less' if diff < 0 else 'more'} bad debt"
        return text + self._clauses() + "."

    def _clauses(self) -> str:
        """The mechanisms' clauses of :meth:`verdict`, from each measure that has one."""
        (a, b), (la, lb) = self.summaries, self.labels
        return "".join(m.words(getattr(a, m.key), getattr(b, m.key), la, lb, self.identical)
                       for m in _EXTRA if m.words is not None)


def compare(scenario_a: Scenario, scenario_b: Scenario, *,
            labels: tuple[str, str] = ("A", "B")) -> Comparison:
    """Run both scenarios to their end and sum up the difference.

    Parameters
    ----------
    scenario_a, scenario_b : Scenario
        The two markets. To see what one change does, make B from A:
        ``a.replace(depth_1pct=6e6)``; both then share the seed (the same traders) and shock.
    labels : tuple of two str
        The runs' names in the table and the verdict (two different, non-empty strings).

    Returns
    -------
    Comparison

    Examples
    --------
    >>> a = Scenario.preset("crowded-longs")
    >>> c = compare(a, a.replace(depth_1pct=6_000_000), labels=("1.5M depth", "6M depth"))
    >>> print(c.verdict())  # doctest: +NORMALIZE_WHITESPACE
    The price fell 3.9% in run "6M depth" instead of 15.6% in run "1.5M depth"
    (amplification 1.3 instead of 5.2), with 184.6K USD less bad debt.
    """
    labels = _check_labels(labels)
    lock = LockStep(scenario_a, scenario_b)
    lock.run()
    histories = (list(lock.a.history), list(lock.b.history))
    return Comparison(labels=labels, scenarios=lock.scenarios, histories=histories,
                      summaries=tuple(Summary.of(h, lab)
                                      for h, lab in zip(histories, labels, strict=True)))


def differences(scenario_a: Scenario, scenario_b: Scenario) -> list[tuple[str, object, object]]:
    """The fields in which two scenarios differ, as ``(field, value_a, value_b)``, in field order.

    ``name`` and ``description`` are labels and never count.

    >>> a = Scenario.preset("crowded-longs")
    >>> differences(a, a.replace(depth_1pct=6e6, name="deep"))
    [('depth_1pct', 1500000.0, 6000000.0)]
    """
    _check_scenario("scenario_a", scenario_a)
    _check_scenario("scenario_b", scenario_b)
    return [(f.name, getattr(scenario_a, f.name), getattr(scenario_b, f.name))
            for f in dataclasses.fields(Scenario)
            if f.name not in _LABEL_FIELDS
            and getattr(scenario_a, f.name) != getattr(scenario_b, f.name)]


class LockStep:
    """Two cascades stepped together, one round of each per :meth:`step`.

    Parameters
    ----------
    scenario_a, scenario_b : Scenario
        The markets of run A and run B.

    Attributes
    ----------
    scenarios : tuple of Scenario
        ``(scenario_a, scenario_b)``.
    a, b : Cascade
        The two runs, built with ``Scenario.cascade()``.
    """

    def __init__(self, scenario_a: Scenario, scenario_b: Scenario):
        self.scenarios = (_check_scenario("scenario_a", scenario_a),
                          _check_scenario("scenario_b", scenario_b))
        self.a = scenario_a.cascade()
        self.b = scenario_b.cascade()

    @property
    def cascades(self) -> tuple[Cascade, Cascade]:
        """``(a, b)``."""
        return (self.a, self.b)

    @property
    def ended(self) -> bool:
        """True once both runs have stopped."""
        return self.a.ended and self.b.ended

    @property
    def steps(self) -> int:
        """Lock-steps played so far: the length of the longer history."""
        return max(len(self.a.history), len(self.b.history))

    def step(self) -> bool:
        """Play the next round of each run; a run that has ended stays as it is.

        Returns True if either run played a round, False once both had already ended.
        """
        played = [c.step() is not None for c in self.cascades]  # a list: both must step
        return any(played)

    def run(self) -> None:
        """Step until both runs have ended."""
        while self.step():
            pass

    def reset(self) -> None:
        """Both runs back to the market before the shock, exactly."""
        for c in self.cascades:
            c.reset()
