"""Two lending runs side by side: the rows of a comparison table (compare mode, lesson 08)."""

from __future__ import annotations

import math

from .. import numbers
from ..narration import count, money, price
from .cascade import LendingCascade, LendingRecord
from .scenario import LendingScenario

__all__ = ["COMPARE_ROWS", "compare_lending", "compare_lending_table", "lending_history"]

#: (label, unit) of each row of :func:`compare_lending`, in order.
COMPARE_ROWS = (
    ("fall", "fraction"),
    ("lowest price", "USD"),
    ("rounds", "count"),
    ("liquidation calls", "count"),
    ("repaid", "USD"),
    ("bad debt", "USD"),
    ("underwater debt", "USD"),
    ("skipped for gas", "count"),
    ("protocol fees", "coins"),
)


def lending_history(run) -> list[LendingRecord]:
    """The whole history of ``run``: a :class:`LendingScenario` (run here), a
    :class:`LendingCascade` (played to its end) or a list of :class:`LendingRecord`."""
    if isinstance(run, LendingScenario):
        return LendingCascade(run).run()
    if isinstance(run, LendingCascade):
        return run.run()
    if isinstance(run, (list, tuple)) and all(isinstance(r, LendingRecord) for r in run):
        if not run:
            raise ValueError("a lending history must have at least round 0, got an empty list")
        return list(run)
    raise ValueError(f"a run must be a LendingScenario, a LendingCascade or a list of "
                     f"LendingRecord, got {type(run).__name__}")


def _values(h: list[LendingRecord]) -> list:
    first, last = h[0], h[-1]
    prices = [r.price_after for r in h if math.isfinite(r.price_after)]
    low = min(prices) if prices else math.nan
    return [1.0 - low / first.price_before if prices else math.nan, low, len(h) - 1,
            sum(r.n_liquidated for r in h), sum(r.repaid_usd for r in h), last.bad_debt,
            last.underwater_debt, last.n_skipped_gas, sum(r.protocol_fee_qty for r in h)]


def compare_lending(a, b) -> list[tuple[str, object, object]]:
    """Rows ``(label, value_a, value_b)`` comparing two lending runs (each a scenario, a
    cascade or a history; see :func:`lending_history`), numbers in the units of
    :data:`COMPARE_ROWS`:

    fall : the deepest fall of the venue's price below its start, fraction (the shock's
        included); lowest price : that lowest price, USD; rounds : rounds after the shock;
    liquidation calls : calls made in all; repaid : debt repaid, USD; bad debt : debt written
    off where collateral ran out, USD; underwater debt : at the end, debt of open accounts
    whose collateral is worth less, USD; skipped for gas : accounts under 1 the last round's
    liquidators skipped because the call would not pay its gas; protocol fees : coins the
    protocol's treasury kept.
    """
    va, vb = _values(lending_history(a)), _values(lending_history(b))
    return [(label, x, y) for (label, _), x, y in zip(COMPARE_ROWS, va, vb, strict=True)]


def _cell(unit, x) -> str:
    if unit == "fraction":
        return numbers.percent(x, 1)
    if unit == "USD":
        return money(x)
    if unit == "count":
        return count(x)
    return numbers.number(x, 2, sig=3, trim=True)


def compare_lending_table(a, b, labels=("A", "B")) -> str:
    """:func:`compare_lending` as fixed-width text with the two ``labels`` as headers."""
    units = dict(COMPARE_ROWS)
    rows = [("", str(labels[0]), str(labels[1]))]
    for label, x, y in compare_lending(a, b):
        unit = units[label]
        cell = (lambda v: price(v) + " USD") if label == "lowest price" else \
            (lambda v, u=unit: _cell(u, v))
        rows.append((label, cell(x), cell(y)))
    w = [max(len(r[i]) for r in rows) for i in range(3)]
    return "\n".join(f"{r[0].ljust(w[0])}  {r[1].rjust(w[1])}  {r[2].rjust(w[2])}" for r in rows)
