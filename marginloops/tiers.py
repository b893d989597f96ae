"""Tiered maintenance margin: the rate grows with a position's notional, in brackets.

Exchanges publish a table of brackets; each has a maintenance rate and a "maintenance amount"
that keeps the requirement continuous at every bracket edge.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._checks import as_float_array, check_array_range, check_number


@dataclass(frozen=True)
class MarginTiers:
    r"""Maintenance-margin brackets by position notional (USD).

    Parameters
    ----------
    brackets : sequence of (floor, rate)
        Notional floors in USD, the first 0 and strictly increasing, and the maintenance rate
        of each bracket, in [0, 0.5) and non-decreasing.

    Notes
    -----
    A position of notional :math:`N` in bracket :math:`k` must keep
    :math:`\mathrm{MM} = r_k N - c_k`, where the maintenance amount
    :math:`c_k = c_{k-1} + f_k (r_k - r_{k-1})`, :math:`c_0 = 0`, makes MM continuous at each
    floor :math:`f_k`. Exchanges cap leverage per bracket; here at :math:`1 / (2 r_k)`
    (0.4% -> 125x, 0.5% -> 100x, 1% -> 50x, 2.5% -> 20x), as Binance's tables do.
    """

    brackets: tuple

    def __post_init__(self):
        shape = "a sequence of (notional floor, rate) pairs"
        raw = self.brackets
        if isinstance(raw, (str, bytes)) or not hasattr(raw, "__iter__"):
            raise ValueError(f"mmr_tiers must be {shape}, got {raw!r:.80}")
        pairs = []
        for i, pair in enumerate(raw):
            if not isinstance(pair, (list, tuple, np.ndarray)) or len(pair) != 2:
                raise ValueError(f"mmr_tiers must be {shape}, got {pair!r:.80} at index {i}")
            floor, rate = pair
            pairs.append((check_number(f"mmr_tiers floor {i}", floor, lo=0),
                          check_number(f"mmr_tiers rate {i}", rate, lo=0, hi=0.5, hi_open=True)))
        pairs = tuple(pairs)
        if not pairs:
            raise ValueError("mmr_tiers must hold at least one (floor, rate) pair, got none")
        if pairs[0][0] != 0:
            raise ValueError(f"mmr_tiers' first floor must be 0, got {pairs[0][0]:g}")
        for i, (floor, rate) in enumerate(pairs):
            if i and (floor <= pairs[i - 1][0] or rate < pairs[i - 1][1]):
                raise ValueError(f"mmr_tiers must have increasing floors and non-decreasing "
                                 f"rates, got {pairs[i - 1]} then {pairs[i]}")
        object.__setattr__(self, "brackets", pairs)

    @property
    def floors(self) -> np.ndarray:
        return np.array([f for f, _ in self.brackets])

    @property
    def rates(self) -> np.ndarray:
        return np.array([r for _, r in self.brackets])

    @property
    def amounts(self) -> np.ndarray:
        """Maintenance amount of each bracket, USD (0 for the first)."""
        f, r = self.floors, self.rates
        return np.concatenate([[0.0], np.cumsum(f[1:] * np.diff(r))])

    @property
    def max_leverage(self) -> np.ndarray:
        """Highest leverage each bracket allows, ``1 / (2 rate)`` (inf for a zero rate)."""
        with np.errstate(divide="ignore"):
            return 1.0 / (2.0 * self.rates)

    def bracket(self, notional) -> np.ndarray:
        """Index of the bracket each notional (USD, >= 0) falls in."""
        return np.searchsorted(self.floors, _notional(notional), side="right") - 1

    def requirement(self, notional) -> np.ndarray:
        """Maintenance margin ``r_k N - c_k`` for each notional (USD)."""
        notional = _notional(notional)
        k = self.bracket(notional)
        return self.rates[k] * notional - self.amounts[k]


def _notional(values) -> np.ndarray:
    """Notionals as a float array of any shape, checked: real, finite, >= 0 (no magnitude cap:
    a lookup sums nothing)."""
    arr = as_float_array("notional", values, ndim=None, cap=False)
    check_array_range("notional", arr, lo=0)
    return arr


#: A bracket table in the style Binance publishes for BTCUSDT (USD notional floor, rate).
BINANCE_STYLE_TIERS = MarginTiers(((0, 0.004), (50_000, 0.005), (250_000, 0.01),
                                   (1_000_000, 0.025), (10_000_000, 0.05)))
