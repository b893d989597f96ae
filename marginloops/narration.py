"""Narration: one plain sentence for each round, and one for the way a run ends.

The sentences are the charts' text alternative, so they state the numbers the charts show.
"""

from __future__ import annotations

from .cascade import RoundRecord


def money(x: float) -> str:
    """USD in words a class reads aloud: 950 USD, 12.3K USD, 4.1M USD, 2.0B USD."""
    x = float(x)
    for size, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "K")):
        if abs(x) >= size:
            return f"{x / size:,.1f}{suffix} USD"
    return f"{x:,.0f} USD"


def price(x: float) -> str:
    """A price with two decimals and thousands separators."""
    return f"{x:,.2f}"


def units(x: float) -> str:
    """Asset units: whole numbers above 100, three significant digits below."""
    return f"{x:,.0f}" if abs(x) >= 100 else f"{x:,.3g}"


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}{'' if n == 1 else 's'}"


def _move(before: float, after: float) -> str:
    change = after / before - 1.0
    if after == before:
        return f"left the price unchanged at {price(after)}"
    way = "lower" if change < 0 else "higher"
    return f"moved the price {abs(change):.1%} {way}, from {price(before)} to {price(after)}"


def narrate(rec: RoundRecord) -> str:
    """One sentence saying what happened in the round ``rec``, for example: "Round 3: 1,204
    longs were liquidated (4.1M USD); selling 3,456 units into the book moved the price 2.3%
    lower, from 42,200.00 to 41,230.00 (average fill 41,700.00, slippage 1.2%)."
    """
    down = rec.direction == "down"
    trade = "sell" if down else "buy"
    if rec.is_shock:
        who = "an outside seller" if down else "an outside buyer"
        text = (f"Round 0 (the shock): {who} {'sold' if down else 'bought'} "
                f"{units(rec.shock_qty)} units and {_move(rec.price_before, rec.price_after)}")
        if rec.book_left <= 0:
            text += (f", taking every {'bid' if down else 'ask'} in the book: the price can "
                     f"move no further than the last one")
        text += "."
    else:
        side = rec.liquidated_side
        text = (f"Round {rec.round}: {_plural(rec.n_liquidated, side)} "
                f"{'was' if rec.n_liquidated == 1 else 'were'} liquidated "
                f"({money(rec.notional_liquidated)}); ")
        if rec.filled_qty > 0:
            text += (f"{'selling' if down else 'buying'} {units(rec.filled_qty)} units "
                     f"{'into' if down else 'from'} the book "
                     f"{_move(rec.price_before, rec.price_after)} "
                     f"(average fill {price(rec.avg_fill_price)}, slippage {rec.slippage:.1%}).")
        else:
            text += f"there was nothing left in the book to {trade} into."
        if rec.bad_debt_round > 0:
            text += (f" Some closed beyond their bankruptcy price and the insurance fund could "
                     f"not cover {money(rec.bad_debt_round)} of the losses: that is bad debt.")
        elif rec.to_fund < 0:
            text += (f" Some closed beyond their bankruptcy price: the insurance fund paid "
                     f"{money(-rec.to_fund)}.")
    if rec.unfilled_qty > 0:
        text += (f" The book ran out: {units(rec.unfilled_qty)} units could not be "
                 f"{'sold' if down else 'bought'} and are reported unfilled.")
    elif rec.pending and rec.end_reason is None:
        text += (f" {_plural(rec.pending, 'more position')} "
                 f"{'is' if rec.pending == 1 else 'are'} now within reach.")
    return text


def narrate_end(history: list[RoundRecord]) -> str:
    """One sentence on how the run ended (empty string while it is still going)."""
    if not history or history[-1].end_reason is None:
        return ""
    last, first = history[-1], history[0]
    start = first.price_before
    total = last.price_after / start - 1.0
    shock = first.price_after / start - 1.0
    n = sum(r.n_liquidated for r in history)
    way = "fell" if total < 0 else "rose"
    summary = (f"From {price(start)} to {price(last.price_after)}, the price {way} "
               f"{abs(total):.1%} in all")
    if shock != 0:
        summary += f", {total / shock:.1f} times the shock's {abs(shock):.1%}"
    summary += f"; {_plural(n, 'position')} {'was' if n == 1 else 'were'} liquidated"
    if last.bad_debt > 0:
        summary += f" and {money(last.bad_debt)} of bad debt was left"
    summary += "."
    if last.end_reason == "fixed_point":
        if last.n_open == 0 and n == 0:
            why = "there are no leveraged positions in this market, so nothing can be liquidated"
        elif last.n_open == 0:
            why = "every leveraged position has been liquidated"
        else:
            why = ("no open position has its liquidation price within reach of the price "
                   "(a fixed point)")
        return f"The cascade stopped after round {last.round}: {why}. {summary}"
    if last.end_reason == "book_exhausted":
        side = "bids" if last.direction == "down" else "asks"
        return (f"The cascade stopped in round {last.round}: the order book ran out of {side}, "
                f"so {units(last.unfilled_qty)} units went unfilled and the price stays at the "
                f"last trade, {price(last.price_after)}. {summary}")
    return (f"The run stopped at its limit of {last.round:,} rounds with "
            f"{_plural(last.pending, 'position')} still within reach. {summary}")


def narrate_history(history: list[RoundRecord]) -> list[str]:
    """The sentence of every round, oldest first, then the ending sentence if the run ended."""
    lines = [narrate(r) for r in history]
    end = narrate_end(history)
    return lines + [end] if end else lines


#: The stages of a round in phase mode, in order.
ROUND_STAGES = ("check margins", "liquidate", "walk the book", "new price")
SHOCK_STAGES = ("the shock", "new price")


def narrate_check(price_now: float, n: int, notional: float, side: str) -> str:
    """Stage 1 of a round: which positions the price has reached."""
    if n == 0:
        return (f"Check margins: at {price(price_now)} no open position has reached its "
                f"liquidation price.")
    return (f"Check margins: at {price(price_now)}, {_plural(n, side)} "
            f"({money(notional)}) {'has' if n == 1 else 'have'} reached "
            f"{'its' if n == 1 else 'their'} liquidation price.")


def narrate_liquidate(rec: RoundRecord) -> str:
    """Stage 2: the liquidation engine's market order."""
    kind = "sell" if rec.direction == "down" else "buy"
    return (f"Liquidate: the engine closes {'it' if rec.n_liquidated == 1 else 'them'} with one "
            f"market {kind} order for {units(rec.qty_liquidated)} units.")


def narrate_walk(rec: RoundRecord) -> str:
    """Stage 3 (or the shock's stage 1): the order walking the book."""
    if rec.filled_qty <= 0:
        into = "sell into" if rec.direction == "down" else "buy from"
        return (f"Walk the book: there was nothing left to {into}; "
                f"{units(rec.unfilled_qty)} units are reported unfilled.")
    levels = len(rec.book_prices)
    text = (f"Walk the book: {units(rec.filled_qty)} units took "
            f"{_plural(levels, 'price level')} from {price(rec.book_prices[0])} to "
            f"{price(rec.book_prices[-1])}, an average fill of {price(rec.avg_fill_price)} "
            f"(slippage {rec.slippage:.1%}).")
    if rec.unfilled_qty > 0:
        text += f" The book ran out: {units(rec.unfilled_qty)} units are reported unfilled."
    return text


def narrate_shock(rec: RoundRecord, shock: float) -> str:
    """The shock's first stage: the outside order."""
    if rec.direction == "down":
        target = rec.price_before * (1 - shock)
        return (f"The shock: an outside seller sells into every bid down to {price(target)}: "
                f"{units(rec.shock_qty)} units.")
    target = rec.price_before * (1 + shock)
    return (f"The shock: an outside buyer buys every ask up to {price(target)}: "
            f"{units(rec.shock_qty)} units.")
