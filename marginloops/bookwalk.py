"""Walking an order book with one market order: the books lesson 2 walks (flat, deep, thin, each
holding the same USD within 1% of the price), where the walk filled, and the walk in words.

Model core (numpy only): :class:`marginloops.ui.bookwalk.BookWalkView` draws it, and
:mod:`marginloops.course.lesson02` re-exports it for the lesson. Everything here walks books
with :meth:`marginloops.OrderBook.market_sell` and :meth:`~marginloops.OrderBook.market_buy`
(on a copy); nothing re-implements the walk.
"""

from __future__ import annotations

from ._checks import check_number
from .orderbook import Fill, OrderBook

__all__ = ["EXAMPLE_LEVELS", "MID", "REACH", "SHAPES", "SHAPE_WORDS", "SIDES", "TICK",
           "check_side", "describe_move", "describe_walk", "example_book", "lesson_book",
           "next_level_after", "order_for_move", "price_move", "slippage", "start_price", "walk",
           "walk_lines"]

#: The lesson's market: mid price and tick, USD. A tick of 0.10 puts ten levels within 1% of
#: the price on each side, few enough to see one by one.
MID = 100.0
TICK = 0.10
#: The book shapes the lesson compares; each holds the same USD within 1% of ``MID``.
SHAPES = ("flat", "deep", "thin")
#: How far each shape's book reaches from ``MID`` (fraction of the price).
REACH = {"flat": 0.5, "deep": 0.5, "thin": 0.02}
SHAPE_WORDS = {
    "flat": "the same size at every level, out to 50% from the price",
    "deep": "levels grow with the distance from the price: little at the touch, more and "
            "more further out",
    "thin": "the same size at every level, but nothing beyond 2% from the price",
}
SIDES = ("sell", "buy")
#: The small book of the worked example: three bid levels, best first (USD, units).
EXAMPLE_LEVELS = ((100.0, 99.5, 99.0), (40.0, 60.0, 100.0))
def lesson_book(shape: str = "flat", depth_1pct: float = 2_000_000.0, *, mid: float = MID,
                tick: float = TICK) -> OrderBook:
    """The book the lesson's widget walks, built with :meth:`OrderBook.from_depth`.

    Parameters
    ----------
    shape : {"flat", "deep", "thin"}
        "flat": equal size at every level out to 50% from ``mid`` (``shape="flat"``);
        "deep": level size grows linearly with the distance from ``mid`` (``shape="growing"``);
        "thin": flat, but the book ends 2% from ``mid`` (``book_range=0.02``).
    depth_1pct : float
        USD resting within 1% of ``mid`` on each side, > 0: the same for every shape.
    mid, tick : float
        Mid price and price step, USD.

    Examples
    --------
    A flat book with 2M USD within 1% of 100: ten levels from 99.90 to 99.00, each holding
    2,000,000 / (99.90 + 99.80 + ... + 99.00) = 2,000,000 / 994.5 units.

    >>> book = lesson_book("flat", 2_000_000)
    >>> prices, sizes = book.bids()
    >>> print(f"{prices[0]:.2f} {sizes[0]:.4f} {2_000_000 / 994.5:.4f}")
    99.90 2011.0608 2011.0608
    """
    if shape not in SHAPES:
        raise ValueError(f"shape must be one of {SHAPES}, got {shape!r}")
    depth_1pct = check_number("depth_1pct", depth_1pct, lo=0, lo_open=True)
    return OrderBook.from_depth(mid, depth_1pct, shape="growing" if shape == "deep" else "flat",
                                tick=tick, book_range=REACH[shape])


def example_book() -> OrderBook:
    """The three-level book of the lesson's worked example (bids only)."""
    return OrderBook.from_levels(*EXAMPLE_LEVELS)


def check_side(side) -> str:
    if side not in SIDES:
        raise ValueError(f"side must be one of {SIDES}, got {side!r}")
    return side


def start_price(book: OrderBook, side: str = "sell") -> float:
    """The price before the order: the best bid for a sell, the best ask for a buy (USD).

    It is what the first unit of the order trades at, and what the cascade calls the price
    before a round. Raises ``ValueError`` if that side of the book is empty.
    """
    best = book.best_bid if check_side(side) == "sell" else book.best_ask
    if best is None:
        raise ValueError(f"book must have {'bids' if side == 'sell' else 'asks'} for a "
                         f"market {side}, got none")
    return best


def walk(book: OrderBook, qty: float, side: str = "sell") -> Fill:
    """A market ``side`` order of ``qty`` units (>= 0) on a copy of ``book``; ``book`` is
    left untouched. Returns the :class:`Fill`.

    >>> fill = walk(example_book(), 120)
    >>> print(fill.filled, f"{fill.avg_price:.4f}", fill.last_price)
    120.0 99.5833 99.0
    """
    trial = book.copy()
    qty = check_number("qty", qty, lo=0)
    return trial.market_sell(qty) if check_side(side) == "sell" else trial.market_buy(qty)


def slippage(fill: Fill, start: float) -> float:
    """``|average fill - start| / start``, a fraction (0 when nothing filled), as the cascade's
    round records measure it.

    >>> print(f"{slippage(walk(example_book(), 120), 100.0):.4%}")
    0.4167%
    """
    start = check_number("start", start, lo=0, lo_open=True)
    return abs(fill.avg_price - start) / start if fill.filled > 0 else 0.0


def price_move(fill: Fill, start: float) -> float:
    """``|last fill - start| / start``: how far the order moved the price, a fraction (0 when
    nothing filled)."""
    start = check_number("start", start, lo=0, lo_open=True)
    return abs(fill.last_price - start) / start if fill.filled > 0 else 0.0


def order_for_move(book: OrderBook, move: float = 0.01, side: str = "sell") -> float:
    """The biggest market order (units) whose last fill stays within ``move`` of the start
    price: every unit resting from the touch out to ``start * (1 - move)`` (a sell) or
    ``start * (1 + move)`` (a buy), read with :meth:`OrderBook.bid_depth` /
    :meth:`~OrderBook.ask_depth`. One unit more fills beyond the move, unless the side holds
    nothing further out (then a bigger order empties the side instead).

    Parameters
    ----------
    move : float
        The price move, a fraction in (0, 1): 0.01 for "how big an order moves the price 1%".

    Examples
    --------
    On the flat lesson book with 2M USD of 1% depth, the bids from 99.90 down to 99.00 lie
    within 1% of the start 99.90 (98.90 is 1.001% away): ten levels of 2,000,000 / 994.5 units.

    >>> print(f"{order_for_move(lesson_book('flat', 2e6), 0.01):,.1f}")
    20,110.6
    """
    move = check_number("move", move, lo=0, hi=1, lo_open=True, hi_open=True)
    start = start_price(book, side)
    # A level exactly at the move counts: widen the limit by a rounding error's worth.
    if side == "sell":
        return book.bid_depth(to_price=start * (1 - move) * (1 - 1e-12))
    return book.ask_depth(to_price=start * (1 + move) * (1 + 1e-12))


def next_level_after(book: OrderBook, qty: float, side: str = "sell"):
    """The price the next unit would fill at after a ``side`` order of ``qty`` units (None if
    that order empties the side)."""
    trial = book.copy()
    qty = check_number("qty", qty, lo=0)
    (trial.market_sell if check_side(side) == "sell" else trial.market_buy)(qty)
    return trial.best_bid if side == "sell" else trial.best_ask


def _units(x: float) -> str:
    return f"{x:,.0f}" if abs(x) >= 100 else f"{x:,.4g}"


def _usd(x: float) -> str:
    for size, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "K")):
        if abs(x) >= size:
            return f"{x / size:,.2f}{suffix} USD"
    return f"{x:,.2f} USD"


def walk_lines(fill: Fill) -> list[str]:
    """The walk level by level, in words: one line per level the order took from, then the
    totals. Lines, not a loop over a hot path: a fill reaches few levels in a lesson.

    >>> for line in walk_lines(walk(example_book(), 120)):
    ...     print(line)
    level 1: 40 units at 100.00 = 4,000.00 USD
    level 2: 60 units at 99.50 = 5,970.00 USD
    level 3: 20 units at 99.00 = 1,980.00 USD
    total:   120 units for 11,950.00 USD: average fill 11,950.00 / 120 = 99.5833
    """
    notional = fill.level_prices * fill.level_qty
    lines = [f"level {i + 1}: {q:,.4g} units at {p:,.2f} = {v:,.2f} USD"
             for i, (p, q, v) in enumerate(zip(fill.level_prices.tolist(),
                                               fill.level_qty.tolist(), notional.tolist(),
                                               strict=True))]
    if fill.filled > 0:
        lines.append(f"total:   {fill.filled:,.4g} units for {notional.sum():,.2f} USD: average "
                     f"fill {notional.sum():,.2f} / {fill.filled:,.4g} = {fill.avg_price:.4f}")
    else:
        lines.append("total:   nothing filled")
    return lines


def describe_walk(fill: Fill, start: float) -> list[str]:
    """What a market order did, in plain sentences (the widget's readout and the lesson's
    static text): what filled, the average and last fill against the start, the slippage and
    the move, and whether the book ran out.

    >>> for s in describe_walk(walk(example_book(), 120), 100.0):
    ...     print(s)
    Sold 120 units into the bids, over 3 levels, from 100.00 down to 99.00.
    Average fill 99.58 USD; last fill (the new price) 99.00 USD; start 100.00 USD.
    Slippage 0.42% (average fill vs start); the price moved 1.00% (last fill vs start).
    """
    start = check_number("start", start, lo=0, lo_open=True)
    sell = fill.side == "sell"
    verb, where, way = ("Sold", "into the bids", "down") if sell else ("Bought", "from the asks",
                                                                      "up")
    if fill.filled <= 0:
        out = [f"{verb} nothing: the order was empty."] if fill.requested <= 0 else [
            f"{verb} nothing: there were no {'bids' if sell else 'asks'} left."]
    else:
        n = len(fill.level_prices)
        levels = "1 level" if n == 1 else f"{n} levels"
        out = [f"{verb} {_units(fill.filled)} units {where}, over {levels}, from "
               f"{fill.level_prices[0]:,.2f} {way} to {fill.last_price:,.2f}.",
               f"Average fill {fill.avg_price:,.2f} USD; last fill (the new price) "
               f"{fill.last_price:,.2f} USD; start {start:,.2f} USD.",
               f"Slippage {slippage(fill, start):.2%} (average fill vs start); the price moved "
               f"{price_move(fill, start):.2%} (last fill vs start)."]
    if fill.exhausted:
        out.append(f"The book ran out: {_units(fill.unfilled)} units unfilled.")
    return out


def describe_move(book: OrderBook, move: float = 0.01, side: str = "sell") -> str:
    """Answer "how big an order moves the price by ``move``?" for ``book``, in a sentence.

    >>> print(describe_move(lesson_book("flat", 2e6)))  # doctest: +NORMALIZE_WHITESPACE
    How big an order moves the price 1%? Up to 20,111 units (2.00M USD) keep the last fill
    within 1% of the start 99.90; one unit more fills at 98.90, 1.001% away.
    """
    qty = order_for_move(book, move, side)
    start = start_price(book, side)
    fill = walk(book, qty, side)
    nxt = next_level_after(book, qty, side)
    head = (f"How big an order moves the price {move:.0%}? Up to {_units(qty)} units "
            f"({_usd(fill.avg_price * fill.filled)}) keep the last fill within {move:.0%} of the "
            f"start {start:,.2f}; ")
    if nxt is None:
        return head + (f"one unit more empties the {'bids' if side == 'sell' else 'asks'}: the "
                       f"book ends before a {move:.0%} move.")
    return head + f"one unit more fills at {nxt:,.2f}, {abs(nxt - start) / start:.3%} away."
