"""Lesson 2's two venues side by side: an order book and a constant-product pool holding the
same 1% depth, the same market orders sent to each, and the comparison as a text table.

Everything trades with the venues' own :meth:`market_sell` / :meth:`market_buy` on copies
(:class:`marginloops.OrderBook`, :class:`marginloops.pool.ConstantProductPool`); nothing here
re-implements a walk or a swap.
"""

from __future__ import annotations

from dataclasses import dataclass

from .._checks import as_float_array, check_array_range, check_number
from ..bookwalk import MID, SIDES, lesson_book, price_move, slippage, start_price
from ..numbers import number, percent
from ..orderbook import Fill, OrderBook
from ..pool import ConstantProductPool

__all__ = ["DEPTH_1PCT", "FEE", "SIZES", "VenueRow", "compare_venues", "lesson_pool",
           "venue_table"]

#: The lesson's 1% depth (USD within 1% of the price, each side) and the pool's fee.
DEPTH_1PCT = 2_000_000.0
FEE = 0.003
#: The order sizes the lesson compares, units: a small order, the book's 1% (about 20,000
#: units on the flat book), a big one, a huge one, and one larger than the whole book.
SIZES = (1_000.0, 20_000.0, 100_000.0, 500_000.0, 2_000_000.0)


def lesson_pool(depth_1pct: float = DEPTH_1PCT, *, mid: float = MID,
                fee: float = FEE) -> ConstantProductPool:
    """The pool of the lesson: spot ``mid`` and the same 1% depth as :func:`lesson_book`
    (:meth:`ConstantProductPool.from_depth`: selling the spot 1% lower pays ``depth_1pct``).

    >>> pool = lesson_pool()
    >>> print(f"{pool.base_reserve:,.0f} coins and {pool.quote_reserve:,.0f} USD")
    3,995,948 coins and 399,594,773 USD
    """
    return ConstantProductPool.from_depth(mid, depth_1pct, fee)


def _start(venue, side) -> float:
    if isinstance(venue, OrderBook):
        return start_price(venue, side)
    return venue.best_bid if side == "sell" else venue.best_ask


@dataclass(frozen=True)
class VenueRow:
    """One order sent to both venues (each a fresh copy).

    Attributes
    ----------
    qty : float
        Units in the order.
    book, pool : Fill
        What the order did on the book and on the pool.
    book_start, pool_start : float
        Each venue's price before the order, USD: the best bid (a sell) or ask (a buy). The
        pool's is its spot price less (plus) its fee.
    fee : float
        The pool's fee (a fraction).
    """

    qty: float
    book: Fill
    pool: Fill
    book_start: float
    pool_start: float
    fee: float

    @property
    def book_slippage(self) -> float:
        """``|average - start| / start`` on the book (a fraction)."""
        return slippage(self.book, self.book_start)

    @property
    def pool_slippage(self) -> float:
        """``|average - start| / start`` on the pool (a fraction)."""
        return slippage(self.pool, self.pool_start)

    @property
    def book_move(self) -> float:
        """``|last - start| / start`` on the book: how far the order moved its price."""
        return price_move(self.book, self.book_start)

    @property
    def pool_move(self) -> float:
        """``|last - start| / start`` on the pool, ``last`` being its spot after the order."""
        return price_move(self.pool, self.pool_start)


def compare_venues(sizes=SIZES, *, depth_1pct: float = DEPTH_1PCT, shape: str = "flat",
                   fee: float = FEE, side: str = "sell", book: OrderBook | None = None,
                   pool: ConstantProductPool | None = None) -> list[VenueRow]:
    """Send market orders of each size in ``sizes`` (units, > 0) to a book and to a pool of
    the same 1% depth, each order to fresh copies; one :class:`VenueRow` per size.

    Parameters
    ----------
    sizes : sequence of float
        Order sizes, units.
    depth_1pct : float
        USD within 1% of the price on each side, for both venues (unless ``book``/``pool``
        are given).
    shape : {"flat", "deep", "thin"}
        The book's shape (:func:`marginloops.bookwalk.lesson_book`).
    fee : float
        The pool's fee, in [0, 1).
    side : {"sell", "buy"}
        Market sells (into the bids, and into the pool) or buys.
    book, pool : optional
        Venues to use instead of the lesson's; never changed.
    """
    qty = as_float_array("sizes", sizes)
    check_array_range("sizes", qty, lo=0, lo_open=True)
    if side not in SIDES:
        raise ValueError(f"side must be one of {SIDES}, got {side!r}")
    depth_1pct = check_number("depth_1pct", depth_1pct, lo=0, lo_open=True)
    if book is None:
        book = lesson_book(shape, depth_1pct)
    elif not isinstance(book, OrderBook):
        raise ValueError(f"book must be an OrderBook, got {type(book).__name__}")
    if pool is None:
        pool = lesson_pool(depth_1pct, fee=fee)
    elif not isinstance(pool, ConstantProductPool):
        raise ValueError(f"pool must be a ConstantProductPool, got {type(pool).__name__}")
    book_start, pool_start = _start(book, side), _start(pool, side)
    rows = []
    for q in qty.tolist():  # a handful of sizes, each a closed form or one book walk
        trial_book, trial_pool = book.copy(), pool.copy()
        if side == "sell":
            fills = trial_book.market_sell(q), trial_pool.market_sell(q)
        else:
            fills = trial_book.market_buy(q), trial_pool.market_buy(q)
        rows.append(VenueRow(q, *fills, book_start, pool_start, pool.fee))
    return rows


def _cells(fill: Fill, slip: float) -> tuple[str, str, str]:
    if fill.filled <= 0:
        return "-", "-", "-"
    return number(fill.avg_price, 2), number(fill.last_price, 2), percent(slip, 2)


def venue_table(rows) -> str:
    """``rows`` (from :func:`compare_venues`) as fixed-width text: for each order, the average
    price, the price after and the slippage on the book, then on the pool. An order a venue
    could not fill in full is starred, with a note under the table.

    >>> print(venue_table(compare_venues([1_000])))  # doctest: +NORMALIZE_WHITESPACE
                  order book                    pool (fee 0.3%)
    sell (units)  average  price after  slippage  average  price after  slippage
           1,000    99.90        99.90     0.00%    99.68        99.95     0.02%
    """
    if not rows:
        raise ValueError("rows must hold at least one VenueRow, got none")
    side = rows[0].book.side
    header = (f"{side} (units)", "average", "price after", "slippage", "average",
              "price after", "slippage")
    lines, notes = [header], []
    for r in rows:
        size = number(r.qty, 0)
        book = list(_cells(r.book, r.book_slippage))
        pool = list(_cells(r.pool, r.pool_slippage))
        for name, fill, cells in (("book", r.book, book), ("pool", r.pool, pool)):
            if fill.unfilled <= 0:
                continue
            cells[0] += "*"
            if name == "pool":  # only a buy of the whole reserve or more: refused as a whole
                notes.append(f"* {size} units: the pool refuses a buy of all its coins or more "
                             f"(buying its last coin would cost infinitely many USD): nothing "
                             f"traded.")
            elif fill.filled > 0:
                notes.append(f"* {size} units: the book ran out, {number(fill.unfilled, 0)} "
                             f"units unfilled (the average is over the "
                             f"{number(fill.filled, 0)} that filled).")
            else:
                notes.append(f"* {size} units: the book had nothing on that side.")
        lines.append((size, *book, *pool))
    widths = [max(len(row[i]) for row in lines) for i in range(len(header))]
    text = ["  ".join(c.rjust(w) for c, w in zip(row, widths, strict=True)) for row in lines]
    book_span = sum(widths[1:4]) + 4
    title = (" " * (widths[0] + 2) + "order book".center(book_span) + "  "
             + f"pool (fee {percent(rows[0].fee, 2, trim=True)})".center(sum(widths[4:]) + 4))
    return "\n".join([title.rstrip(), *text, *notes])
