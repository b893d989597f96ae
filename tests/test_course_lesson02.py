"""Lesson 2's helpers and exercises, against walks worked by hand.

The lesson's flat book with 2M USD of 1% depth around 100 (tick 0.10) holds a = 2,000,000 /
994.5 units on each bid level 99.90 ... 99.00 (994.5 = the sum of those ten prices); the deep
book holds k * c on its k-th level, c = depth / 5461.5 (5461.5 = sum over k = 1..10 of
k * (100 - 0.1 k)).
"""

import pytest

from marginloops.course import lesson02
from marginloops.course.lesson02 import (
    describe_move,
    describe_walk,
    example_book,
    exercise_book,
    exercises,
    lesson_book,
    order_for_move,
    price_move,
    slippage,
    start_price,
    walk,
    walk_lines,
)
from marginloops.exercises import Exercise

A = 2_000_000 / 994.5


def test_worked_example_by_hand():
    # 40 at 100.00 + 60 at 99.50 + 20 at 99.00 = 4,000 + 5,970 + 1,980 = 11,950 USD for 120
    fill = walk(example_book(), 120)
    assert fill.avg_price == pytest.approx(11_950 / 120)  # 99.5833
    assert fill.last_price == 99.0 and fill.filled == 120 and fill.unfilled == 0
    assert slippage(fill, 100.0) == pytest.approx(0.5 / 120)  # 0.4167%
    assert price_move(fill, 100.0) == pytest.approx(0.01)
    assert walk_lines(fill)[-1] == ("total:   120 units for 11,950.00 USD: average fill "
                                    "11,950.00 / 120 = 99.5833")


def test_walk_leaves_the_book_untouched():
    book = example_book()
    walk(book, 150)
    assert book.bid_depth() == 200 and book.best_bid == 100.0


def test_exhausted_book_reports_the_unfilled_units():
    fill = walk(example_book(), 260)  # the book holds 200 units
    assert fill.filled == 200 and fill.unfilled == 60
    assert fill.avg_price == pytest.approx((4000 + 5970 + 9900) / 200)  # 99.35
    lines = describe_walk(fill, 100.0)
    assert lines[-1] == "The book ran out: 60 units unfilled."
    assert "Slippage 0.65%" in lines[2]


def test_empty_order_and_empty_side_are_described():
    assert describe_walk(walk(example_book(), 0), 100.0) == [
        "Sold nothing: the order was empty."]
    # the example book has no asks
    with pytest.raises(ValueError, match="book must have asks for a market buy, got none"):
        start_price(example_book(), "buy")
    fill = walk(example_book(), 5, "buy")
    assert describe_walk(fill, 100.0) == ["Bought nothing: there were no asks left.",
                                          "The book ran out: 5 units unfilled."]


def test_lesson_books_hold_the_same_one_percent_depth():
    for shape in lesson02.SHAPES:
        book = lesson_book(shape, 2_000_000)
        prices, sizes = book.bids()
        within = prices >= 99.0 - 1e-9
        assert (prices[within] * sizes[within]).sum() == pytest.approx(2_000_000)
    flat, deep, thin = (lesson_book(s) for s in lesson02.SHAPES)
    assert flat.bids()[1][0] == pytest.approx(A)
    assert deep.bids()[1][2] == pytest.approx(3 * 2_000_000 / 5461.5)
    assert thin.bid_depth() == pytest.approx(20 * A)  # nothing beyond 2%: 20 levels
    assert flat.bid_depth() == pytest.approx(500 * A)  # out to 50%: 500 levels


def test_order_for_move_by_hand():
    # ten levels 99.90 ... 99.00 lie within 1% of the start 99.90; 98.90 is 1.001% away
    assert order_for_move(lesson_book("flat"), 0.01) == pytest.approx(10 * A)
    assert order_for_move(lesson_book("deep", 3_500_000), 0.01) == pytest.approx(
        55 * 3_500_000 / 5461.5)
    # within 2% of 99.90 (down to 97.902): levels 99.90 ... 97.91 -> 20 levels
    assert order_for_move(lesson_book("flat"), 0.02) == pytest.approx(20 * A)
    # the thin book ends at 98.00: a 5% move takes the whole side
    assert order_for_move(lesson_book("thin"), 0.05) == pytest.approx(20 * A)
    # selling exactly that much moves the price at most 1%; one unit more moves it further
    book = lesson_book("flat")
    qty = order_for_move(book, 0.01)
    assert price_move(walk(book, qty), 99.9) <= 0.01 < price_move(walk(book, qty + 1), 99.9)
    # the asks: 100.10 ... 101.10 lie within 1% of 100.10 (101.101): 11 levels
    assert order_for_move(book, 0.01, "buy") == pytest.approx(11 * 2_000_000 / 1005.5)


def test_describe_move_in_words():
    assert describe_move(lesson_book("flat")) == (
        "How big an order moves the price 1%? Up to 20,111 units (2.00M USD) keep the last "
        "fill within 1% of the start 99.90; one unit more fills at 98.90, 1.001% away.")
    assert describe_move(lesson_book("thin"), 0.05).endswith(
        "one unit more empties the bids: the book ends before a 5% move.")


@pytest.mark.parametrize(("call", "words"), [
    (lambda: lesson_book("square"), "shape must be one of ('flat', 'deep', 'thin')"),
    (lambda: lesson_book("flat", 0), "depth_1pct must be > 0, got 0"),
    (lambda: walk(example_book(), -1), "qty must be >= 0, got -1"),
    (lambda: walk(example_book(), 1, "short"), "side must be one of ('sell', 'buy')"),
    (lambda: order_for_move(lesson_book(), 1.5), "move must be in (0, 1), got 1.5"),
    (lambda: order_for_move(lesson_book(), 0), "move must be in (0, 1), got 0"),
    (lambda: slippage(walk(example_book(), 1), 0), "start must be > 0, got 0"),
])
def test_bad_input_names_parameter_value_and_range(call, words):
    with pytest.raises(ValueError) as err:
        call()
    assert words in str(err.value)


# ------------------------------------------------------------------------------ exercises
def test_exercises_are_three_exercises():
    ex = exercises()
    assert len(ex) == 3 and all(isinstance(e, Exercise) for e in ex)


def test_exercise_1_average_fill_by_hand():
    ex = exercises()[0]
    # 100 at 20.00 + 100 at 19.90 + 50 at 19.80 = 2,000 + 1,990 + 990 = 4,980 USD for 250
    assert ex.answer == pytest.approx(4_980 / 250)  # 19.92
    assert exercise_book().bid_depth() == 400
    assert ex.check("19.92").correct
    ex = exercises()[0]
    assert ex.check("$19.92 USD").correct
    ex = exercises()[0]
    first = ex.check("19.90")  # the middle level's price is not the average
    assert not first.correct and "too low" in first.message and "19.92" not in first.message
    assert not ex.check("19.80").correct  # the last fill is not the average either
    bad = ex.check("nineteen")
    assert bad.malformed and "Not read" in bad.message


def test_exercise_2_slippage_by_hand():
    ex = exercises()[1]
    assert ex.answer == pytest.approx((20.0 - 19.92) / 20.0)  # 0.4%
    assert ex.check("0.4%").correct
    assert exercises()[1].check("0.004").malformed  # 0.004%, not reinterpreted
    ex = exercises()[1]
    wrong = ex.check("1%")  # (20.00 - 19.80) / 20: the last fill's move, not the slippage
    assert not wrong.correct and "too high" in wrong.message and "0.40%" not in wrong.message
    assert ex.check("0,4").malformed
    # "0.4" without a % sign is read as the reading nearer the answer: 0.4%
    assert exercises()[1].check("0.4").correct


def test_exercise_3_one_percent_order_by_hand():
    ex = exercises()[2]
    # a flat book around 40 with tick 0.01: forty levels 39.99 ... 39.60 lie within 1% of the
    # start 39.99 (39.59 is 1.0003% away), each holding 1.2M / (sum of those prices) units
    mean_price = (39.99 + 39.60) / 2  # 39.795
    assert ex.answer == pytest.approx(1_200_000 / mean_price)  # 30,154.5
    assert ex.check("30,154").correct
    assert not exercises()[2].check("30000").correct  # 1.2M USD / 40 USD: not to the unit
    ex = exercises()[2]
    wrong = ex.check("1.2M")  # dollars, not units
    assert not wrong.correct and "too high" in wrong.message
    assert not ex.check("12,000").correct
    assert ex.check("").malformed


def test_no_exercise_shows_its_answer_on_the_first_wrong_try():
    for ex, wrong in zip(exercises(), ("25", "5%", "1"), strict=True):
        message = ex.check(wrong).message
        assert ex.show(ex.answer) not in message
