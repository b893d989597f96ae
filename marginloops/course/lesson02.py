"""Lesson 2, order books and slippage: the books the lesson walks, what a walk did in words,
"how big an order moves the price 1%" (all from :mod:`marginloops.bookwalk`, the model core,
re-exported here), the worked example's books and the lesson's exercises.

Everything here walks books with :meth:`marginloops.OrderBook.market_sell` and
:meth:`~marginloops.OrderBook.market_buy` (on a copy); nothing re-implements the walk.
"""

from __future__ import annotations

from ..bookwalk import (  # re-exported: the lesson and its tests import them from here
    EXAMPLE_LEVELS,
    MID,
    REACH,
    SHAPE_WORDS,
    SHAPES,
    SIDES,
    TICK,
    describe_move,
    describe_walk,
    example_book,
    lesson_book,
    next_level_after,
    order_for_move,
    price_move,
    slippage,
    start_price,
    walk,
    walk_lines,
)
from ..exercises import Exercise
from ..orderbook import Fill, OrderBook

__all__ = ["EXAMPLE_LEVELS", "EXERCISE_LEVELS", "Fill", "MID", "OrderBook", "REACH", "SHAPES",
           "SHAPE_WORDS", "SIDES", "TICK", "describe_move", "describe_walk", "example_book",
           "exercise_book", "exercises", "lesson_book", "next_level_after", "order_for_move",
           "price_move", "slippage", "start_price", "walk", "walk_lines"]

#: The three bid levels of exercises 1 and 2 (USD, units).
EXERCISE_LEVELS = ((20.0, 19.9, 19.8), (100.0, 100.0, 200.0))


def exercise_book() -> OrderBook:
    """The three-level book of exercises 1 and 2 (bids only)."""
    return OrderBook.from_levels(*EXERCISE_LEVELS)


def exercises() -> list[Exercise]:
    """The lesson's exercises, in the order the notebook asks them."""
    book = exercise_book()
    sell_250 = walk(book, 250)
    start = start_price(book)
    other = lesson_book("flat", 1_200_000, mid=40.0, tick=0.01)
    return [
        Exercise(
            "A book has three bid levels: 100 units at 20.00, 100 units at 19.90 and 200 units "
            "at 19.80. A market order sells 250 units. What is its average fill price, in USD?",
            answer=sell_250.avg_price, tolerance=0.0, abs_tolerance=0.0005, unit="USD",
            hints=("Walk the levels from the best: how many units fill at each price?",
                   "Average fill = (money received) / (units sold): add up units × price over "
                   "the levels, then divide by 250.")),
        Exercise(
            "The same 250-unit sell on the same book: what is its slippage, the distance from "
            "the average fill to the start price (the best bid, 20.00), as a % of the start?",
            answer=slippage(sell_250, start), tolerance=0.0, abs_tolerance=0.00002, unit="%",
            hints=("Slippage = (start − average fill) / start.",
                   "Use the average fill from exercise 1, not the last fill (19.80).")),
        Exercise(
            "Another coin trades at 40 USD. Its book is flat, with levels 0.01 USD apart, and "
            "holds 1.2M USD of bids within 1% of the price. What is the biggest market sell, in "
            "units, that keeps the price within 1% of the start? (To the unit.)",
            # To the unit (30,154 or 30,155): the rule of thumb 1.2M / 40 = 30,000 is refused.
            answer=order_for_move(other, 0.01), tolerance=0.0, abs_tolerance=1.0,
            unit="units",
            hints=("The 1% depth is the money resting within 1% of the price: selling all of it "
                   "moves the price just under 1%.",
                   "Units = USD / price: 1.2M USD of bids, each priced a little under 40 USD.")),
    ]
