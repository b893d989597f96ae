"""Lesson 1, margin and leverage: the exercises and the table of liquidation distances the
notebook prints. Every number comes from :mod:`marginloops.positions`.
"""

from __future__ import annotations

import numpy as np

from .._checks import check_number
from ..exercises import Exercise
from ..positions import Positions, bankruptcy_price, liquidation_price, parse_side

#: The leverages the lesson's table lists.
TABLE_LEVERAGES = (2, 5, 10, 20, 50, 100)


def leverage_story(leverages=(1, 10), moves=(0.10, -0.10), margin=1000.0,
                   entry=100.0) -> str:
    """The hook in numbers: ``margin`` USD of one's own money in a long at ``entry``, at each
    leverage, and its equity after each price move (a fraction: 0.1 is +10%)."""
    margin = check_number("margin", margin, lo=0, lo_open=True)
    rows = []
    for lev in leverages:
        lev = check_number("leverage", lev, lo=1)
        rows.append(f"{lev:>3g}x: {margin:,.0f} USD of yours + {margin * (lev - 1):,.0f} USD "
                    f"borrowed buys {margin * lev / entry:g} coins at {entry:g} USD")
        for move in moves:
            move = check_number("move", move, lo=-1, hi=1, lo_open=True, hi_open=True)
            price = entry * (1 + move)
            eq = equity_at(price, "long", entry, lev, margin)
            rows.append(f"      price {price:g} USD ({move:+.0%}): equity {eq:,.2f} USD "
                        f"({eq / margin - 1:+.0%} on your money)")
    return "\n".join(rows)


def liquidation_distance(leverage, mmr=0.005, side="long"):
    r"""How far the price can move against a fresh position before it is liquidated, as a
    fraction of the entry price (the entry price cancels out).

    .. math::

        d^{long} = 1 - \frac{1 - 1/L}{1 - m} = \frac{1/L - m}{1 - m}, \qquad
        d^{short} = \frac{1 + 1/L}{1 + m} - 1 = \frac{1/L - m}{1 + m}

    both close to ``1/L - m`` when ``m`` is small. Vectorised over ``leverage`` and ``mmr``.

    Examples
    --------
    >>> round(liquidation_distance(10, 0.005), 6)   # (0.1 - 0.005) / 0.995
    0.095477
    """
    s = parse_side(side)
    out = s * (1.0 - liquidation_price(1.0, leverage, mmr, side))
    return float(out) if np.ndim(out) == 0 else out


def distance_table(leverages=TABLE_LEVERAGES, mmr=0.005, entry=100.0) -> str:
    """A text table: for each leverage, the liquidation and bankruptcy prices of a long opened
    at ``entry`` and how far the price can fall before liquidation, beside ``1/L - mmr``.
    """
    lev = np.asarray(leverages, dtype=float)
    if lev.ndim != 1 or lev.size == 0:
        raise ValueError(f"leverages must be a non-empty list of numbers, got {leverages!r:.80}")
    entry = check_number("entry", entry, lo=0, lo_open=True)
    liq = liquidation_price(entry, lev, mmr)  # checks leverage >= 1 and mmr < 1/leverage
    bankrupt = bankruptcy_price(entry, lev)
    fall = 1 - liq / entry
    rows = [f"Longs opened at {entry:,.2f} USD, maintenance margin {mmr:.2%}",
            f"{'leverage':>8}  {'liquidation':>11}  {'bankruptcy':>10}  {'fall to liq.':>12}"
            f"  {'1/L - mmr':>9}"]
    for k in range(lev.size):
        rows.append(f"{lev[k]:>7g}x  {liq[k]:>11,.2f}  {bankrupt[k]:>10,.2f}  {fall[k]:>12.2%}"
                    f"  {1 / lev[k] - mmr:>9.2%}")
    return "\n".join(rows)


def equity_at(price, side="long", entry=100.0, leverage=10.0, margin=1000.0) -> float:
    """Equity in USD at ``price`` of a position bought with ``margin`` USD of one's own money:
    ``margin + s q (price - entry)`` with size ``q = margin * leverage / entry``."""
    margin = check_number("margin", margin, lo=0, lo_open=True)
    entry = check_number("entry", entry, lo=0, lo_open=True)
    price = check_number("price", price, lo=0)
    leverage = check_number("leverage", leverage, lo=1)
    one = Positions.from_arrays(side, margin * leverage / entry, entry, leverage, 0.0)
    return float(one.equity(price)[0])


def smallest_leverage_liquidated_by(drop, mmr=0.005, max_leverage=125) -> int:
    """The smallest whole leverage at which a long is liquidated by a fall of ``drop`` (a
    fraction) from its entry price. Raises ``ValueError`` if none up to ``max_leverage`` is."""
    drop = check_number("drop", drop, lo=0, lo_open=True, hi=1, hi_open=True)
    lev = np.arange(1, int(max_leverage) + 1, dtype=float)
    lev = lev[mmr * lev < 1]
    hit = liquidation_price(1.0, lev, mmr) >= 1 - drop
    if not hit.any():
        raise ValueError(f"drop must be large enough to liquidate some leverage up to "
                         f"{max_leverage:g}x, got {drop:g}")
    return int(lev[np.argmax(hit)])


def reached_by_fall(positions: Positions, price, falls=(0.01, 0.03, 0.05, 0.10)) -> str:
    """A text table: for each fall from ``price``, how many longs of ``positions`` have
    liquidation prices that the fallen price reaches, before any forced selling moves it
    further, and what they are worth: at their entry prices, and at the fallen price (the
    value the explorer's narration gives a round's liquidations: units x the price before the
    round).
    """
    if not isinstance(positions, Positions):
        raise ValueError(f"positions must be a Positions, got {type(positions).__name__}")
    price = check_number("price", price, lo=0, lo_open=True)
    f = np.asarray(falls, dtype=float)
    if f.ndim != 1 or f.size == 0 or ((f <= 0) | (f >= 1)).any():
        raise ValueError(f"falls must be a non-empty list of fractions in (0, 1), got "
                         f"{falls!r:.80}")
    longs = positions.side > 0
    liq = np.sort(positions.liquidation_price[longs])[::-1]  # highest first
    order = np.argsort(positions.liquidation_price[longs], kind="stable")[::-1]
    notional = (positions.size * positions.entry)[longs][order]
    units = positions.size[longs][order]
    # longs reached by a price p: liquidation price >= p; count them with one searchsorted
    n = liq.size - np.searchsorted(liq[::-1], price * (1 - f), side="left")
    money = np.concatenate([[0.0], np.cumsum(notional)])[n]
    now = np.concatenate([[0.0], np.cumsum(units)])[n] * price * (1 - f)
    rows = [f"{positions.side.size:,} positions, {liq.size:,} of them long; price {price:,.2f}",
            f"{'fall':>5}  {'price':>8}  {'longs reached':>13}  {'notional at entry':>17}"
            f"  {'at that price':>13}"]
    for k in range(f.size):
        rows.append(f"{f[k]:>5.0%}  {price * (1 - f[k]):>8,.2f}  {n[k]:>13,}  {money[k]:>17,.0f}"
                    f"  {now[k]:>13,.0f}")
    return "\n".join(rows)


def exercises() -> list[Exercise]:
    """Lesson 1's exercises, in the order the notebook asks them."""
    # Not the 10x/100 USD and 20x positions the lesson prints: these answers are the student's.
    liq8 = liquidation_price(200.0, 8, 0.005)
    fall25 = float(liquidation_distance(25, 0.005))
    equity = equity_at(112.0, side="short", entry=100.0, leverage=5, margin=1000.0)
    lev = smallest_leverage_liquidated_by(0.02, 0.005)
    return [
        Exercise(
            "A trader opens an 8x long at 200 USD; the maintenance margin is 0.5%. At what "
            "price (USD) is the position liquidated? Give two decimals.",
            answer=liq8, tolerance=0.0, abs_tolerance=0.015, unit="USD",
            hints=("Liquidation is where equity = maintenance margin, a little before the "
                   "equity reaches zero (that is the bankruptcy price, 200 x (1 - 1/8) = 175).",
                   "For a long: entry x (1 - 1/leverage) / (1 - maintenance rate).")),
        Exercise(
            "At 25x leverage and a maintenance margin of 0.5%, by what percentage can the "
            "price fall below a long's entry price before it is liquidated?",
            answer=fall25, tolerance=0.01, unit="%",
            hints=("A fall of 1/leverage = 4% would take all of your money; you are closed "
                   "a little before that.",
                   "Roughly 1/leverage minus the maintenance rate.")),
        Exercise(
            "You put 1,000 USD into a 5x short at 100 USD. The price rises to 112 USD. What "
            "is your equity now (USD)?",
            answer=equity, tolerance=0.0, abs_tolerance=0.5, unit="USD",
            hints=("A 5x short of 1,000 USD is 5,000 USD of coins, 50 units, sold at 100.",
                   "A short loses size x (price - entry) when the price rises.")),
        Exercise(
            "With a maintenance margin of 0.5%, what is the smallest whole-number leverage at "
            "which a 2% fall from the entry price liquidates a long?",
            answer=lev, tolerance=0.0, abs_tolerance=0.01, unit="x",
            hints=("The fall a long survives is about 1/leverage - 0.5%. Set that to 2%.",
                   "1/L - 0.005 = 0.02 gives L = 40. Work out the exact fall to liquidation "
                   "at 40x: is it below 2%, or a hair above?")),
    ]
