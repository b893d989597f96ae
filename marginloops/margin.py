"""One isolated-margin position read at one mark price: its equity, its maintenance margin, its
margin ratio and the liquidation and bankruptcy prices (lesson 1's model, numpy only).

The numbers come from :mod:`marginloops.positions`; :class:`marginloops.ui.margin.MarginView`
draws them, and :func:`readout_table` prints them without loading any widget library.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ._checks import check_number
from .numbers import number, percent, signed_percent
from .positions import Positions, bankruptcy_price, liquidation_price, parse_side

__all__ = ["MarginState", "margin_state", "readout_table"]


@dataclass(frozen=True)
class MarginState:
    """One isolated-margin position read at one mark price (all money in USD).

    Attributes
    ----------
    side : "long" or "short"
    entry, leverage, mmr, margin : the position: entry price, leverage ``L``, maintenance rate
        ``m`` (a fraction) and the trader's own money put in (initial margin ``M``)
    size : asset units ``q = M L / E``
    mark : the mark price ``P``
    equity : ``M + s q (P - E)``
    maintenance : maintenance margin ``m q P``
    margin_ratio : maintenance / equity (Binance's "margin ratio"; liquidation at 1);
        ``inf`` when the equity is zero or below
    liquidation, bankruptcy : the prices of :func:`~marginloops.positions.liquidation_price`
        and :func:`~marginloops.positions.bankruptcy_price`
    distance : how far the price can still move against the position before liquidation, as
        a fraction of the mark price (<= 0 once liquidated)
    liquidated : the mark price has reached the liquidation price (``P <= P_liq`` for a long,
        ``P >= P_liq`` for a short), as the cascade's margin check decides
    """

    side: str
    entry: float
    leverage: float
    mmr: float
    margin: float
    size: float
    mark: float
    equity: float
    maintenance: float
    margin_ratio: float
    liquidation: float
    bankruptcy: float
    distance: float
    liquidated: bool

    @property
    def sign(self) -> int:
        """+1 for a long, -1 for a short."""
        return 1 if self.side == "long" else -1

    @property
    def notional(self) -> float:
        """Value of the position at the entry price, ``q E`` USD."""
        return self.size * self.entry

    def summary(self) -> str:
        """The position in one sentence."""
        return (f"A {number(self.leverage, 2, trim=True)}x {self.side} of "
                f"{number(self.size, 2)} units at {number(self.entry, 2)} USD: a "
                f"{number(self.notional, 2)} USD position opened with {number(self.margin, 2)} "
                f"USD of your own money (initial margin) and "
                f"{number(self.notional - self.margin, 2)} USD borrowed.")

    def lines(self) -> list[str]:
        """What the readout says, as plain sentences (the chart's text alternative)."""
        word = "fall" if self.sign > 0 else "rise"
        out = []
        if self.liquidated:
            out.append(f"LIQUIDATED: equity fell to the maintenance margin at "
                       f"{number(self.liquidation, 2)} USD (the liquidation price), so the "
                       f"exchange closes the position there. Moving the price back does not "
                       f"reopen it.")
        change = self.equity / self.margin - 1
        out.append(f"Mark price {number(self.mark, 2)} USD. Equity {number(self.equity, 2)} USD "
                   f"({signed_percent(change)} on the {number(self.margin, 2)} USD you put in).")
        out.append(f"Maintenance margin {number(self.maintenance, 2)} USD "
                   f"({percent(self.mmr, 2)} of the position's value at the mark price).")
        if math.isfinite(self.margin_ratio):
            out.append(f"Margin ratio {percent(self.margin_ratio, 1)} (maintenance margin / "
                       f"equity; liquidation at 100%).")
        else:
            out.append("Margin ratio: no equity left (equity is zero or below; liquidation "
                       "came at 100%).")
        if self.liquidated:
            out.append(f"Distance to liquidation: none, the price is "
                       f"{number(abs(self.mark - self.liquidation), 2)} USD "
                       f"({percent(abs(self.distance), 2)}) past it.")
        elif self.liquidation <= 0:
            out.append("Distance to liquidation: the price can fall all the way to 0: "
                       "at 1x nothing is borrowed, so this long is never liquidated.")
        else:
            out.append(f"Distance to liquidation: the price can {word} "
                       f"{number(abs(self.mark - self.liquidation), 2)} USD "
                       f"({percent(self.distance, 2)}) more before liquidation at "
                       f"{number(self.liquidation, 2)} USD.")
        return out

    def text(self) -> str:
        """:meth:`lines` joined, one sentence a line."""
        return "\n".join(self.lines())


def margin_state(side="long", entry=100.0, leverage=10.0, mmr=0.005, mark=None,
                 margin=1000.0) -> MarginState:
    """Read one isolated-margin position at the mark price ``mark`` (default: ``entry``).

    Raises ``ValueError`` naming the parameter, the value and the allowed range.

    Examples
    --------
    >>> s = margin_state("long", entry=100, leverage=10, mmr=0.005, mark=95)
    >>> round(s.equity, 6), round(s.maintenance, 6), round(s.liquidation, 4)
    (500.0, 47.5, 90.4523)
    """
    if isinstance(side, bool) or not isinstance(side, (str, int, np.integer)):
        raise ValueError(f"side must be a single 'long' or 'short' (or +1 / -1), got "
                         f"{side!r:.80}")
    s = int(parse_side(side))
    mmr = check_number("mmr", mmr, lo=0, hi=1, hi_open=True)
    liq = liquidation_price(entry, leverage, mmr, s)  # checks entry, leverage and mmr
    margin = check_number("margin", margin, lo=0, lo_open=True)
    mark = check_number("mark", entry if mark is None else mark, lo=0, lo_open=True)
    bankrupt = bankruptcy_price(entry, leverage, s)
    entry, leverage, mmr = float(entry), float(leverage), float(mmr)
    size = margin * leverage / entry
    one = Positions.from_arrays(s, size, entry, leverage, mmr)
    equity = float(one.equity(mark)[0])
    maintenance = mmr * size * mark
    ratio = maintenance / equity if equity > 0 else math.inf
    liquidated = mark <= liq if s > 0 else mark >= liq
    return MarginState(side="long" if s > 0 else "short", entry=entry, leverage=leverage,
                       mmr=mmr, margin=margin, size=size, mark=mark, equity=equity,
                       maintenance=maintenance, margin_ratio=ratio, liquidation=liq,
                       bankruptcy=bankrupt, distance=s * (mark - liq) / mark,
                       liquidated=bool(liquidated))


def readout_table(marks, side="long", entry=100.0, leverage=10, mmr=0.005,
                  margin=1000.0) -> str:
    """A text table of what :class:`MarginView` reads at each of ``marks``: the chart's static
    fallback (equity, maintenance margin, margin ratio, and whether it is liquidated)."""
    states = [margin_state(side, entry, leverage, mmr, m, margin) for m in marks]
    if not states:
        raise ValueError("marks must hold at least one mark price, got none")
    first = states[0]
    rows = [first.summary(),
            f"Liquidation price {number(first.liquidation, 2)} USD, bankruptcy price "
            f"{number(first.bankruptcy, 2)} USD.",
            f"{'mark':>9}  {'equity':>10}  {'maintenance':>11}  {'margin ratio':>12}  status"]
    for st in states:
        ratio = percent(st.margin_ratio, 1) if math.isfinite(st.margin_ratio) else "no equity"
        status = "LIQUIDATED" if st.liquidated else "open"
        rows.append(f"{number(st.mark, 2):>9}  {number(st.equity, 2):>10}  "
                    f"{number(st.maintenance, 2):>11}  {ratio:>12}  {status}")
    return "\n".join(rows)
