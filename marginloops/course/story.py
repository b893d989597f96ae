"""The course's one story across lessons (issue 10): the crowding ratio's one definition, where
the crowd of liquidation prices lies band by band, and why a run near n/D = 1 goes on until the
crowd thins out (lessons 0 and 3) and runs above the closed form when the crowd is denser further
down (lesson 3's 2M USD row)."""

from __future__ import annotations

from ..numbers import number, percent
from ..scenarios import Scenario
from ._shared import market_or_preset


def _bands(width: float, count: int) -> list[tuple[float, float]]:
    if not isinstance(count, int) or isinstance(count, bool) or not 1 <= count <= 20:
        raise ValueError(f"count must be a whole number in [1, 20], got {count!r}")
    if not isinstance(width, (int, float)) or isinstance(width, bool) or not (
            0 < width and width * count < 1):
        raise ValueError(f"width must be a fraction in (0, 1/count) = (0, {1 / count:g}), "
                         f"got {width!r}")
    return [(k * width, (k + 1) * width) for k in range(count)]


def crowd_in_bands(scenario: Scenario | None = None, depths=(), *, width: float = 0.05,
                   count: int = 4) -> list[dict]:
    """Where the crowd of liquidation prices lies below the start, band by band.

    For each band ``[k·width, (k+1)·width)`` below the start price P0 (the best bid before the
    shock), the units of long positions whose liquidation price lies in it (n over the band),
    the units of bids the flat book holds in it (D over the band) and their ratio n/D, once for
    each book depth in ``depths`` (1% depth in USD; empty: the scenario's own).

    Returns
    -------
    list of dict with keys ``lo``, ``hi`` (fractions below P0), ``price_hi``, ``price_lo`` (USD),
    ``units`` (positions) and ``ratios`` (one n/D per depth, in the order of ``depths``).
    """
    market = market_or_preset(scenario, "crowded-longs")
    bands = _bands(width, count)
    markets = [market.replace(depth_1pct=d) for d in depths] or [market]
    cascades = [m.cascade() for m in markets]
    first = cascades[0]
    start = first.start_price
    pos = first.positions
    liq = pos.liquidation_price
    rows = []
    for lo, hi in bands:
        top, bottom = start * (1 - lo), start * (1 - hi)
        in_band = (pos.side == 1) & (liq <= top) & (liq > bottom)
        units = float(pos.size[in_band].sum())
        ratios = []
        for cascade in cascades:
            prices, sizes = cascade.initial_book.bids()
            book = float(sizes[(prices <= top) & (prices > bottom)].sum())
            ratios.append(units / book if book > 0 else float("inf"))
        rows.append(dict(lo=lo, hi=hi, price_hi=top, price_lo=bottom, units=units,
                         ratios=ratios))
    return rows


def crowd_table(scenario: Scenario | None = None, depths=(1_500_000, 2_000_000, 3_000_000), *,
                width: float = 0.05, count: int = 4) -> str:
    """:func:`crowd_in_bands` as fixed-width text, one row a band, one n/D column a depth.

    Examples
    --------
    >>> print(crowd_table(depths=(1_500_000,), count=2))
    below the start  prices (USD)    positions (units)  n/D, 1.5M USD
     0% to  5%       99.99 to 94.99             72,405           0.96
     5% to 10%       94.99 to 89.99             77,918           1.03
    """
    rows = crowd_in_bands(scenario, depths, width=width, count=count)
    market = market_or_preset(scenario, "crowded-longs")
    heads = [f"n/D, {number(d / 1e6, 1, trim=True)}M USD"
             for d in (depths or (market.depth_1pct,))]
    lines = [f"{'below the start':<17}{'prices (USD)':<16}{'positions (units)':>17}"
             + "".join(f"{h:>15}" for h in heads)]
    for row in rows:
        band = f"{percent(row['lo'], 0):>3} to {percent(row['hi'], 0):>3}"
        span = f"{number(row['price_hi'])} to {number(row['price_lo'])}"
        lines.append(f"{band:<17}{span:<16}{number(row['units'], 0):>17}"
                     + "".join(f"{number(r, 2):>15}" for r in row["ratios"]))
    return "\n".join(lines)


def drop_ratio_table(scenario: Scenario | None = None, depths=(1_500_000, 2_000_000)) -> str:
    """Round by round, how far below the start each run is and its drop / previous drop.

    The closed form of lesson 3 says the drop / previous drop is n/D every round; this table
    shows the ratio each round of the simulation really met, with the distance below the start
    P0 after the round, so a student can find the band of :func:`crowd_table` it was in.

    Examples
    --------
    >>> print(drop_ratio_table(depths=(1_500_000,)))
                   1.5M USD of 1% depth
    round  below start  drop / previous
        0        2.99%                -
        1        5.86%             0.96
        2        8.74%             1.00
        3       11.73%             1.04
        4       14.47%             0.92
        5       15.36%             0.32
        6       15.59%             0.26
    """
    market = market_or_preset(scenario, "crowded-longs")
    depths = tuple(depths) or (market.depth_1pct,)
    histories = [market.replace(depth_1pct=d).cascade().run() for d in depths]
    width = 30
    head1 = "     " + "".join(f"{number(d / 1e6, 1, trim=True) + 'M USD of 1% depth':>{width}}"
                              for d in depths)
    head2 = "round" + "".join(f"{'below start':>13}{'drop / previous':>17}" for _ in depths)
    lines = [head1, head2]
    for k in range(max(len(h) for h in histories)):
        cells = []
        for history in histories:
            if k >= len(history):
                cells.append(" " * width)
                continue
            start = history[0].price_before
            record = history[k]
            below = 1 - record.price_after / start
            drop = record.price_before - record.price_after
            before = history[k - 1].price_before - history[k - 1].price_after if k else 0.0
            ratio = number(drop / before, 2) if k and before > 0 else "-"
            cells.append(f"{percent(below, 2):>13}{ratio:>17}")
        lines.append(f"{k:>5}" + "".join(cells))
    return "\n".join(line.rstrip() for line in lines)
