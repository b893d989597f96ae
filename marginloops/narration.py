"""Narration: one plain sentence for each round, and one for the way a run ends.

The sentences are the charts' text alternative, so they state the numbers the charts show.
"""

from __future__ import annotations

import math

from . import numbers
from .cascade import RoundRecord
from .mechanisms import MECHANISMS, placed
from .numbers import number


def money(x: float) -> str:
    """USD in words a class reads aloud: 950 USD, 12.3K USD, 4.1M USD, 2.0B USD.

    Every digit comes from :func:`marginloops.numbers.number`: no scientific notation, no
    negative zero, and a positive amount under half a dollar reads "less than 1 USD".

    >>> money(999_950), money(184_571), money(950), money(0.3), money(-0.2)
    ('1.0M USD', '184.6K USD', '950 USD', 'less than 1 USD', '0 USD')
    """
    x = float(x)
    for size, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "K")):
        if abs(x) >= size * 0.99995:  # 999,950 reads 1.0M, not 1,000.0K
            return f"{number(x / size, 1)}{suffix} USD"
    return f"{number(x, 0)} USD"


def price(x: float) -> str:
    """A price with two decimals and thousands separators: ``price(41230)`` is "41,230.00"."""
    return number(x, 2)


def quantity(x: float) -> str:
    """Asset units as digits: whole units from 100 up, else three significant digits and at
    most two decimals ("45,228", "2.5", "0.36", "less than 0.01").

    >>> quantity(45_228.4), quantity(2.5), quantity(0.356), quantity(7.49e-05), quantity(0)
    ('45,228', '2.5', '0.36', 'less than 0.01', '0')
    """
    x = float(x)
    return number(x, 0) if abs(x) >= 100 else number(x, 2, sig=3, trim=True)


def units(x: float) -> str:
    """Asset units with the word: "1 unit", "2.5 units", "45,228 units".

    >>> units(1), units(7.49e-05), units(1e21)
    ('1 unit', 'less than 0.01 units', '1,000,000,000,000,000,000,000 units')
    """
    text = quantity(x)
    return f"{text} unit{'' if text == '1' else 's'}"


def count(n: int) -> str:
    """A whole number of things with thousands separators: ``count(1512)`` is "1,512"."""
    return number(n, 0)


def plural(n: int, word: str) -> str:
    return f"{count(n)} {word}{'' if n == 1 else 's'}"


def percent(x: float) -> str:
    """A fraction as a percentage: one decimal, two for moves under 0.1%.

    >>> percent(0.0234), percent(0.0004), percent(-1e-9), percent(1e-9)
    ('2.3%', '0.04%', '0.00%', 'less than 0.01%')
    """
    x = float(x)
    return numbers.percent(x, 2 if abs(x) < 0.001 else 1)


def points(x: float) -> str:
    """A change of a rate, in percentage points, to three significant digits at most two
    decimals: ``points(0.0598)`` is "5.98", ``points(0.2354)`` "23.5"."""
    return number(float(x) * 100.0, 2, sig=3, trim=True)


def _move(before: float, after: float) -> str:
    change = after / before - 1.0
    if after == before:
        return f"left the price unchanged at {price(after)}"
    way = "lower" if change < 0 else "higher"
    return f"moved the price {percent(abs(change))} {way}, from {price(before)} to {price(after)}"


def _who(rec: RoundRecord) -> str:
    """Whom a liquidation round acted on: "353 longs were liquidated", or with partial
    liquidation "12 longs were closed and 300 more were only partly closed and stay open"."""
    side, closed, reduced = rec.liquidated_side, rec.n_closed, rec.n_reduced
    if reduced == 0:
        if closed == 0:
            return f"no {side} was liquidated"
        return f"{plural(closed, side)} {'was' if closed == 1 else 'were'} liquidated"
    if closed == 0:
        return (f"{plural(reduced, side)} {'was' if reduced == 1 else 'were'} only partly "
                f"closed and {'stays' if reduced == 1 else 'stay'} open")
    return (f"{plural(closed, side)} {'was' if closed == 1 else 'were'} closed and "
            f"{count(reduced)} more {'was' if reduced == 1 else 'were'} only partly closed "
            f"and {'stays' if reduced == 1 else 'stay'} open")


def _loss_words(m, rec) -> str | None:
    """A mechanism's own words for the round's loss to the fund (:meth:`Mechanism.loss_words`:
    a replacement for the core's "closed beyond their bankruptcy price" sentence, "" for
    none), or None to keep the core's."""
    return m.loss_words(rec)


def _finite(x) -> bool:
    return isinstance(x, (int, float)) and math.isfinite(x)


def liquidated_notional(rec: RoundRecord) -> float:
    """The round's liquidated notional as the explorer's charts show it: what its
    liquidation orders sent (``notional_liquidated``) and the positions the insurance fund or
    a backstop vault took over whole without an order (``fund_gap_qty``, ``backstop_qty``: not
    in ``qty_liquidated``), all valued at the price before the round, as the core values the
    orders'. Without such takeovers, ``notional_liquidated``."""
    whole = getattr(rec, "fund_gap_qty", 0.0) + getattr(rec, "backstop_qty", 0.0)
    return rec.notional_liquidated + whole * rec.price_before if whole else \
        rec.notional_liquidated


def checked_on(rec: RoundRecord, next_check: float | None = None) -> float | None:
    """The price the round after ``rec`` checks margins at, when it is not the last traded
    price (a mark price built from an index): ``next_check`` if given and different from the
    round's price after it; otherwise, when ``rec``'s own check was on a mark (its
    ``check_price`` differs from the last trade), the mark it published (``mark_price``, the
    one the next check uses); else None (the next check is on the last traded price)."""
    if next_check is not None:
        return next_check if _finite(next_check) and next_check != rec.price_after else None
    check, mark = getattr(rec, "check_price", math.nan), getattr(rec, "mark_price", math.nan)
    if _finite(check) and check != rec.price_before and _finite(mark):
        return mark if mark != rec.price_after else None
    return None


def within_reach(rec: RoundRecord, next_check: float | None = None) -> str:
    """The closing clause on the positions the new price has reached (``rec.pending``): "12
    more positions are now within reach: the price has reached their liquidation price", or
    with margins checked on a mark price, "... the mark price, 98.49, has reached ..."."""
    what = "position" if rec.is_shock else "more position"
    one = rec.pending == 1
    mark = checked_on(rec, next_check)
    by = "the price" if mark is None else f"the mark price, {price(mark)},"
    return (f" {plural(rec.pending, what)} {'is' if one else 'are'} now within reach: "
            f"{by} has reached {'its' if one else 'their'} liquidation price.")


def narrate(rec: RoundRecord, next_check: float | None = None) -> str:
    """One sentence saying what happened in the round ``rec``, for example: "Round 3: 1,204
    longs were liquidated (4.1M USD); selling 3,456 units into the book moved the price 2.3%
    lower, from 42,200.00 to 41,230.00 (average fill 41,700.00, slippage 1.2%)."

    ``next_check``: the price the next round checks margins at, when known (an explorer
    reads it from its cascade, :func:`narrate_history` from the next record), so that the
    closing clause names the mark price when margins are checked on it (see
    :func:`checked_on`; without it, round 0 cannot tell).
    """
    down = rec.direction == "down"
    trade = "sell" if down else "buy"
    for m in MECHANISMS:  # a round a mechanism played instead (a halt) has its own sentence
        own = m.round_sentence(rec)
        if own is not None:
            return own
    if rec.is_shock:
        who = "an outside seller" if down else "an outside buyer"
        did = "sold" if down else "bought"
        # where the shock's own order took the price: its last fill (something after it in
        # the round, arbitrage lifting the price back, says so in its own sentence)
        end = (rec.last_fill_price if rec.filled_qty > 0 and _finite(rec.last_fill_price)
               else rec.price_after)
        if rec.book_left <= 0:
            # The book, not the shock asked for, set this move: say so once, plainly.
            side = "bids" if down else "asks"
            text = (f"Round 0 (the shock): {who} {did} {units(rec.shock_qty)} and took every "
                    f"{side[:-1]} in the {rec.venue}: the {side} ran out at "
                    f"{price(end)}, "
                    f"{percent(abs(end / rec.price_before - 1.0))} "
                    f"{'below' if down else 'above'} the "
                    f"start of {price(rec.price_before)}, so the price could "
                    f"{'fall' if down else 'rise'} no further.")
        elif end != rec.price_after:
            text = (f"Round 0 (the shock): {who} {did} {units(rec.shock_qty)} and took the "
                    f"price {percent(abs(end / rec.price_before - 1.0))} "
                    f"{'lower' if down else 'higher'}, from {price(rec.price_before)} to its "
                    f"last fill {price(end)}.")
        else:
            text = (f"Round 0 (the shock): {who} {did} {units(rec.shock_qty)} and "
                    f"{_move(rec.price_before, rec.price_after)}.")
    else:
        # (positions the fund took over without an order, at a price already past their
        # bankruptcy price, are liquidated with nothing sent to the venue: no "(0 USD)")
        # (the orders' notional: the fund's takeover is said in its own sentence, in units;
        # the charts add it, see liquidated_notional)
        worth = (f" ({money(rec.notional_liquidated)})"
                 if rec.notional_liquidated > 0 or not rec.n_liquidated else "")
        text = f"Round {count(rec.round)}: {_who(rec)}{worth}; "
        moved = _move(rec.price_before, rec.price_after)
        how = next((w for w in (m.fill_words(rec, moved) for m in MECHANISMS) if w), None)
        if how is not None:  # a mechanism changed how the order traded (a call auction)
            text += how
        elif rec.filled_qty > 0:
            text += (f"{'selling' if down else 'buying'} {units(rec.filled_qty)} "
                     f"{'into' if down else 'from'} the {rec.venue} "
                     f"{_move(rec.price_before, rec.price_after)} "
                     f"(average fill {price(rec.avg_fill_price)}, slippage "
                     f"{percent(rec.slippage)}).")
        else:
            text += f"there was nothing left in the {rec.venue} to {trade} into."
        # A mechanism that changes where the fund's losses come from says so itself
        # (bankruptcy-limit orders: the fund's inventory, never a close beyond bankruptcy).
        loss = next((w for w in (_loss_words(m, rec) for m in MECHANISMS) if w is not None),
                    None)
        if loss is not None:
            text += loss
        elif rec.bad_debt_round > 0:
            text += (f" Some closed beyond their bankruptcy price and the insurance fund could "
                     f"not cover {money(rec.bad_debt_round)} of the losses: that is bad debt.")
        elif rec.to_fund < 0:
            text += (f" Some closed beyond their bankruptcy price: the insurance fund paid "
                     f"{money(-rec.to_fund)}.")
    for m in MECHANISMS:  # each mechanism's sentence, in the registry's order
        text += m.sentence(rec)
    if rec.unfilled_qty > 0:
        text += (f" The book ran out: {units(rec.unfilled_qty)} could not be "
                 f"{'sold' if down else 'bought'} and are reported unfilled.")
    elif (rec.pending and rec.end_reason is None
          and not any(m.stops_the_news(rec) for m in MECHANISMS)):
        text += within_reach(rec, next_check)
    return text


def narrate_end(history: list[RoundRecord]) -> str:
    """One sentence on how the run ended (empty string while it is still going)."""
    if not history or history[-1].end_reason is None:
        return ""
    last, first = history[-1], history[0]
    start = first.price_before
    total = last.price_after / start - 1.0
    # the shock's own move: to its last fill (arbitrage may have lifted the price after it)
    shock_end = (first.last_fill_price if first.filled_qty > 0
                 and _finite(first.last_fill_price) else first.price_after)
    shock = shock_end / start - 1.0
    n = sum(r.n_closed for r in history)
    reduced = last.n_reduced_open
    way = "fell" if total < 0 else "rose"
    summary = (f"From {price(start)} to {price(last.price_after)}, the price {way} "
               f"{percent(abs(total))} in all")
    if last.price_after == start:  # a shock smaller than one tick, and nothing after it
        summary = f"The price stayed at {price(start)}"
    elif first.book_left <= 0 and shock != 0:
        # The shock itself emptied the book: its move was the book's limit, not a choice.
        summary += (f", all of it in the shock, which took every "
                    f"{'bid' if first.direction == 'down' else 'ask'} in the {first.venue}")
    elif shock != 0 and total != shock:
        summary += f", {number(total / shock, 1)} times the shock's {percent(abs(shock))}"
    elif shock != 0:
        summary += ", the shock's move alone"
    if n == 0 and reduced == 0:
        summary += "; no position was liquidated"
    elif reduced == 0:
        summary += f"; {plural(n, 'position')} {'was' if n == 1 else 'were'} liquidated"
    else:
        summary += (f"; {plural(n, 'position')} {'was' if n == 1 else 'were'} closed and "
                    f"{count(reduced)} more {'was' if reduced == 1 else 'were'} only reduced "
                    f"and {'is' if reduced == 1 else 'are'} still open")
    if last.bad_debt > 0:
        summary += (f"{' and' if reduced == 0 else ';'} {money(last.bad_debt)} of bad debt "
                    f"was left")
    summary += "".join(m.end_words(history) for m in MECHANISMS)
    summary += "."
    if last.end_reason == "fixed_point":
        if last.n_open == 0 and n == 0:
            why = "there are no leveraged positions in this market, so nothing can be liquidated"
        elif last.n_open == 0:
            why = "every leveraged position has been liquidated"
        else:
            why = ("no open position has its liquidation price within reach of the price "
                   "(a fixed point)")
        return f"The cascade stopped after round {count(last.round)}: {why}. {summary}"
    if last.end_reason == "book_exhausted":
        side = "bids" if last.direction == "down" else "asks"
        return (f"The cascade stopped in round {count(last.round)}: the order book ran out of "
                f"{side}, so {units(last.unfilled_qty)} went unfilled and the price stays at "
                f"the last trade, {price(last.price_after)}. {summary}")
    return (f"The run stopped at its limit of {count(last.round)} rounds with "
            f"{plural(last.pending, 'position')} still within reach. {summary}")


def narrate_history(history: list[RoundRecord]) -> list[str]:
    """The sentence of every round, oldest first, then the ending sentence if the run ended."""
    checks = [getattr(r, "check_price", math.nan) for r in history[1:]] + [None]
    lines = [narrate(r, c if c is not None and _finite(c) else None)
             for r, c in zip(history, checks, strict=True)]
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
    return (f"Check margins: at {price(price_now)}, {plural(n, side)} "
            f"({money(notional)}) {'has' if n == 1 else 'have'} reached "
            f"{'its' if n == 1 else 'their'} liquidation price.")


def narrate_liquidate(rec: RoundRecord) -> str:
    """Stage 2: the liquidation engine's market order."""
    kind = "sell" if rec.direction == "down" else "buy"
    how = next((w for w in (m.order_words(rec) for m in MECHANISMS) if w),
               f"one market {kind}")
    text = (f"Liquidate: the engine closes {'it' if rec.n_liquidated == 1 else 'them'} with "
            f"{how} order for {units(rec.qty_liquidated)}.")
    return text + "".join(m.liquidate_words(rec) for m in MECHANISMS)


def narrate_walk(rec: RoundRecord) -> str:
    """Stage 3 (or the shock's stage 1): the order walking the book."""
    if rec.filled_qty <= 0:
        into = "sell into" if rec.direction == "down" else "buy from"
        return (f"Walk the book: there was nothing left to {into}; "
                f"{units(rec.unfilled_qty)} are reported unfilled.")
    levels = len(rec.book_prices)
    own = next((w for w in (m.walk_sentence(rec) for m in MECHANISMS) if w), None)
    if own is not None:  # a mechanism changed how the order traded (a call auction)
        return own
    text = (f"Walk the book: {units(rec.filled_qty)} took "
            f"{plural(levels, 'price level')} from {price(rec.book_prices[0])} to "
            f"{price(rec.book_prices[-1])}, an average fill of {price(rec.avg_fill_price)} "
            f"(slippage {percent(rec.slippage)}).")
    if rec.unfilled_qty > 0:
        text += f" The book ran out: {units(rec.unfilled_qty)} are reported unfilled."
    return text


def narrate_shock(rec: RoundRecord, shock: float) -> str:
    """The shock's stage in phase mode: the outside order and the last price it traded at,
    which becomes the price only at the next stage, "new price" (:func:`narrate_new_price`).

    The shock's limit is said as a distance from the price, not as a price: printed to the
    cent, ``(1 - shock) * P0`` can read below the last fill (99.99 x 0.97 = 96.9903, "96.99",
    while the last bid taken is 97.00), which a student reads as a contradiction.
    """
    down = rec.direction == "down"
    who, what = ("an outside seller sells", "bid") if down else ("an outside buyer buys", "ask")
    where = f"{percent(shock)} {'below' if down else 'above'} {price(rec.price_before)}"
    if rec.venue == "pool":  # a pool has no bids to take: it trades until its price gets there
        text = (f"The shock: {who} {units(rec.shock_qty)} {'to' if down else 'from'} the pool, "
                f"until its price is {where}")
    else:
        text = f"The shock: {who} {units(rec.shock_qty)}, taking every {what} within {where}"
    if rec.filled_qty > 0:
        text += f"; its last fill is at {price(rec.last_fill_price)}"
        if rec.last_fill_price == rec.price_after:
            text += ", the price the next stage sets"
    return text + "."


def narrate_new_price(rec: RoundRecord) -> str:
    """The "new price" stage in phase mode: the last fill becomes the price (who is in reach
    next is the next check's news)."""
    if rec.price_after == rec.price_before:
        return f"New price: nothing traded, so the price stays at {price(rec.price_after)}."
    way = "lower" if rec.price_after < rec.price_before else "higher"
    if rec.filled_qty > 0 and _finite(rec.last_fill_price) and (
            rec.last_fill_price != rec.price_after):
        # trades after the round's order (arbitrage lifting the price back, a fund's sale)
        return (f"New price: the order's last fill was {price(rec.last_fill_price)}; what "
                f"traded after it in the round took the price to {price(rec.price_after)}, "
                f"the new price, {percent(abs(rec.price_change))} {way} than "
                f"{price(rec.price_before)}.")
    return (f"New price: the last fill, {price(rec.price_after)}, is the new price, "
            f"{percent(abs(rec.price_change))} {way} than {price(rec.price_before)}.")


def _ratio(rec: RoundRecord, prev: RoundRecord | None) -> str:
    if prev is None or prev.price_after == prev.price_before:
        return "-"
    drop = abs(rec.price_after - rec.price_before)
    return number(drop / abs(prev.price_after - prev.price_before), 2)


#: Columns :func:`round_table` knows: header and how to format one record (and the previous).
#: Every column names its unit, in its header ("price (USD)", "open int. (units)") or in every
#: cell ("4.1M USD", "-2.99%"); "round" is a round's number and "drop / previous" a ratio of
#: two drops in USD, so neither has a unit.
_TABLE_COLUMNS = {
    "round": ("round", lambda r, p: count(r.round)),
    "price": ("price (USD)", lambda r, p: price(r.price_after)),
    "change": ("change", lambda r, p: numbers.signed_percent(r.price_change, 2)),
    "closed": ("closed (positions)", lambda r, p: count(r.n_closed)),
    "liquidated": ("liquidated (positions)", lambda r, p: count(r.n_liquidated)),
    "notional": ("notional", lambda r, p: money(r.notional_liquidated)),
    "drop": ("drop (USD)", lambda r, p: price(abs(r.price_before - r.price_after))),
    "drop_pct": ("drop", lambda r, p: numbers.percent(abs(r.price_change), 2)),
    "drop_ratio": ("drop / previous", lambda r, p: _ratio(r, p)),
    "slippage": ("slippage", lambda r, p: numbers.percent(r.slippage, 2)),
    "unfilled": ("unfilled (units)", lambda r, p: quantity(r.unfilled_qty)),
    "open_interest": ("open int. (units)", lambda r, p: quantity(r.open_interest)),
    "fund": ("fund", lambda r, p: money(r.insurance_fund)),
    "bad_debt": ("bad debt", lambda r, p: money(r.bad_debt)),
}
_DEFAULT_COLUMNS = ("round", "price", "change", "closed", "notional", "slippage", "unfilled",
                    "open_interest", "fund", "bad_debt")
# The mechanisms' columns (their declarations), each after the column it names.
_EXTRA_COLUMNS = [c for m in MECHANISMS for c in m.table_columns]
_SHOWN = {c.key: c.shown for c in _EXTRA_COLUMNS}
_TABLE_COLUMNS.update((c.key, (c.header, c.cell)) for c in _EXTRA_COLUMNS)
TABLE_COLUMNS = placed(tuple(k for k in _TABLE_COLUMNS if k not in _SHOWN), _EXTRA_COLUMNS,
                       lambda c: c.key, lambda c: c.after)
_TABLE_COLUMNS = {k: _TABLE_COLUMNS[k] for k in TABLE_COLUMNS}


def default_columns(history: list[RoundRecord]) -> tuple[str, ...]:
    """The columns :func:`round_table` shows unless told: "reduced" only when some round
    partly closed a position, "halted" only when a circuit breaker halted some round,
    "adl_cost" only when some round auto-deleveraged."""
    return tuple(c for c in TABLE_COLUMNS
                 if c in _DEFAULT_COLUMNS or (c in _SHOWN and _SHOWN[c](history)))


def round_table(history: list[RoundRecord], columns=None) -> str:
    """The rounds of ``history`` as fixed-width text, one row a round.

    ``columns`` picks from :data:`TABLE_COLUMNS` (default: :func:`default_columns`). Each
    column names its unit, in its header or in every cell.

    One row a round: round 0 is the shock; every later row is one round of the cascade, a
    trading round (margins checked, liquidations sent to the book) or, with a circuit breaker,
    a halted round ("halted" yes: no trade, no liquidation, the book recovers). A run's
    "rounds" are all its rows after round 0, halted ones included; its liquidation rounds are
    those of them that closed or reduced a position.
    "closed" counts the positions closed whole in the round, "reduced" those only partly
    closed (still open), "liquidated" the two together (each position once a round); "drop" is
    the round's price move in USD, "drop_pct" the same as a fraction of the price before,
    "drop_ratio" the drop divided by the previous round's drop ("-" for the first);
    "adl_cost" is the profit the auto-deleveraged opposite traders gave up.
    """
    if columns is None:
        columns = default_columns(history)
    unknown = [c for c in columns if c not in _TABLE_COLUMNS]
    if unknown:
        raise ValueError(f"columns must be among {TABLE_COLUMNS}, got {unknown}")
    rows = [tuple(_TABLE_COLUMNS[c][0] for c in columns)]
    prev = None
    for r in history:
        rows.append(tuple(_TABLE_COLUMNS[c][1](r, prev) for c in columns))
        prev = r
    widths = [max(len(row[i]) for row in rows) for i in range(len(columns))]
    lines = ("  ".join(c.rjust(w) for c, w in zip(row, widths, strict=True)) for row in rows)
    return "\n".join(lines)
