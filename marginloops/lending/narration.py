"""The lending cascade in words: one sentence (or a few) per round, the end, and the table.

The same formatters as the perpetuals' narration (:mod:`marginloops.narration`): money in
"12.3K USD", prices with two decimals, coins as units.
"""

from __future__ import annotations

import math

from .. import numbers
from ..narration import count, money, percent, plural, price, quantity
from .cascade import LendingRecord

__all__ = ["LENDING_COLUMNS", "lending_table", "narrate_lending", "narrate_lending_end"]


def _coins(x) -> str:
    text = quantity(x)
    return f"{text} coin{'' if text == '1' else 's'}"


def _venue(rec) -> str:
    return "the pool" if rec.venue == "pool" else "the order book"


def _move(before, after) -> str:
    if not (math.isfinite(before) and math.isfinite(after)):
        return "left no price to trade at"
    if after == before:
        return f"left its price at {price(after)}"
    way = "lower" if after < before else "higher"
    return (f"moved its price {percent(abs(after / before - 1.0))} {way}, from {price(before)} "
            f"to {price(after)}")


def _oracle(rec: LendingRecord) -> str:
    if rec.oracle_updated and rec.oracle_price != rec.oracle_before:
        return (f"The oracle now reports {price(rec.oracle_price)} (it said "
                f"{price(rec.oracle_before)})")
    if rec.oracle_updated:
        return f"The oracle reports {price(rec.oracle_price)} again"
    return (f"The oracle did not update: it still reports {price(rec.oracle_price)} while "
            f"{_venue(rec)} is at {price(rec.price_before)}")


def _waiting(rec: LendingRecord) -> str:
    if rec.oracle_next_in < 0:
        return "it will not update unless the price moves further"
    if rec.oracle_next_in == 1:
        return "it updates next round"
    return f"it updates in {rec.oracle_next_in} rounds"


def narrate_lending(rec: LendingRecord) -> str:
    """What happened in the round ``rec``, in a few plain sentences, for example: "Round 2:
    The oracle now reports 1,763.08 (it said 1,840.00); 260 borrowers were under a health
    factor of 1. Liquidators repaid 2.1M USD of their debt and seized 1,234 coins (6 kept by
    the protocol as its fee); selling 1,228 coins into the pool moved its price 1.9% lower,
    from 1,763.08 to 1,730.10 (average fill 1,746.50)."
    """
    if rec.is_shock:
        text = (f"Round 0 (the shock): an outside seller sold {_coins(rec.shock_qty)} into "
                f"{_venue(rec)} and {_move(rec.price_before, rec.price_after)}. The oracle "
                f"still reports {price(rec.oracle_price)}: ")
        if rec.oracle_next_in == 1:
            text += "it reads the new price next round."
        elif rec.oracle_next_in < 0:
            text += "the move is smaller than its deviation threshold, so it will not report it."
        else:
            text += (f"the move is smaller than its deviation threshold; its heartbeat reports "
                     f"it in {rec.oracle_next_in} rounds.")
        if rec.pending:
            text += (f" At {price(rec.price_after)}, {plural(rec.pending, 'borrower')} would "
                     f"be under a health factor of 1.")
        return text + _end(rec)
    parts = [f"Round {count(rec.round)}: {_oracle(rec)}"]
    if rec.n_below_one == 0:
        parts[0] += "; no borrower is under a health factor of 1 at that price."
        if not rec.oracle_updated:
            parts.append(f"Nothing happens this round: {_waiting(rec)}.")
        return " ".join(parts) + _end(rec)
    verb = "is" if rec.n_below_one == 1 else "are"
    parts[0] += f"; {plural(rec.n_below_one, 'borrower')} {verb} under a health factor of 1."
    if rec.n_liquidated:
        fee = (f" ({_coins(rec.protocol_fee_qty)} kept by the protocol as its fee)"
               if rec.protocol_fee_qty > 0 else "")
        sale = (f"selling {_coins(rec.sold_qty)} into {_venue(rec)} "
                f"{_move(rec.price_before, rec.price_after)}")
        if rec.sold_qty > 0 and math.isfinite(rec.avg_fill_price):
            sale += f" (average fill {price(rec.avg_fill_price)})"
        parts.append(f"Liquidators made {plural(rec.n_liquidated, 'call')}, repaid "
                     f"{money(rec.repaid_usd)} of debt and seized {_coins(rec.seized_qty)}{fee}; "
                     f"{sale}.")
        if rec.unsold_qty > 0:
            parts.append(f"{_venue(rec).capitalize()} could not take "
                         f"{_coins(rec.unsold_qty)}: the liquidators hold them.")
        if rec.n_closed:
            verb = "has" if rec.n_closed == 1 else "have"
            parts.append(f"{plural(rec.n_closed, 'borrower')} {verb} no debt left.")
    skipped = []
    if rec.n_skipped_gas:
        skipped.append(f"{plural(rec.n_skipped_gas, 'account')} under 1 skipped: the "
                       f"coins a call would bring, sold at {_venue(rec)}'s price, would not "
                       f"pay back the debt repaid and the gas")
    if rec.n_skipped_dust:
        skipped.append(f"{plural(rec.n_skipped_dust, 'call')} the dust rule would revert")
    if skipped:
        parts.append(" and ".join(skipped).capitalize() + ".")
    if rec.bad_debt_round > 0:
        parts.append(f"{money(rec.bad_debt_round)} of debt was left where the collateral ran "
                     f"out: bad debt (so far {money(rec.bad_debt)}).")
    return " ".join(parts) + _end(rec)


def _end(rec: LendingRecord) -> str:
    if rec.end_reason is None:
        return ""
    if rec.end_reason == "fixed_point":
        if rec.pending:
            return (f" The run stops here: {plural(rec.pending, 'borrower')} stay under 1 but "
                    f"no liquidator will act on them.")
        if rec.oracle_next_in < 0 and rec.price_after < rec.oracle_price:
            return (f" The run stops here: no borrower is under a health factor of 1 at the "
                    f"oracle's {price(rec.oracle_price)}, and the oracle will not report "
                    f"{_venue(rec)}'s lower {price(rec.price_after)} unless the price moves "
                    f"further.")
        if rec.n_open == 0:
            return " The run stops here: no borrower has any debt left."
        return " The run stops here: no borrower is under a health factor of 1."
    if rec.end_reason == "venue_exhausted":
        return f" The run stops here: {_venue(rec)} has no buyers left."
    return " The run stops here: the round limit is reached."


def narrate_lending_end(history: list[LendingRecord]) -> str:
    """A summary of the whole run, a few sentences."""
    if not history:
        return "Nothing has happened yet."
    first, last = history[0], history[-1]
    rounds = len(history) - 1
    n_liq = sum(r.n_liquidated for r in history)
    repaid = sum(r.repaid_usd for r in history)
    fees = sum(r.protocol_fee_qty for r in history)
    low = min(r.price_after for r in history if math.isfinite(r.price_after)) \
        if any(math.isfinite(r.price_after) for r in history) else math.nan
    if math.isfinite(last.price_after):
        text = (f"In {plural(rounds, 'round')} after the shock, the venue's price went from "
                f"{price(first.price_before)} to {price(last.price_after)} ("
                f"{numbers.signed_percent(last.price_after / first.price_before - 1.0, 1)}; "
                f"the shock alone: "
                f"{numbers.signed_percent(first.price_change, 1)}).")
    else:  # the venue has no bid left: no price, but the last trade
        traded = [float(r.book_prices[-1]) for r in history if len(r.book_prices)]
        text = (f"In {plural(rounds, 'round')} after the shock, the venue ran out of buyers: "
                f"it has no price left"
                + (f" (its last trade was at {price(traded[-1])}, "
                   f"{numbers.signed_percent(traded[-1] / first.price_before - 1.0, 1)} from "
                   f"{price(first.price_before)})." if traded else "."))
    text += (f" Liquidators made {plural(n_liq, 'call')} and repaid {money(repaid)}; the "
             f"protocol kept {_coins(fees)} as fees.")
    if last.bad_debt > 0:
        text += f" Bad debt: {money(last.bad_debt)}."
    else:
        text += " No bad debt."
    if last.underwater_debt > 0:
        text += (f" {money(last.underwater_debt)} of debt is underwater (its collateral is "
                 f"worth less at the oracle's price) but not written off.")
    skipped = last.n_skipped_gas
    if skipped:
        text += (f" {plural(skipped, 'account')} under 1 {'is' if skipped == 1 else 'are'} "
                 f"left alone: liquidating {'it' if skipped == 1 else 'them'} would not pay "
                 f"the gas.")
    if last.n_open == 0:
        text += " No borrower has any debt left."
    elif last.oracle_price != last.price_after and math.isfinite(last.price_after):
        if last.oracle_next_in == 1:  # it reads the venue next round: why nothing follows
            under = last.pending
            text += (f" The oracle would report {price(last.price_after)} next round"
                     + (f"; {plural(under, 'borrower')} would be under 1 there, but "
                        f"liquidating {'it' if under == 1 else 'them'} would not pay the gas:"
                        if under else ", and no borrower is under 1 there:")
                     + " nothing more happens.")
        else:
            text += (f" The oracle ends at {price(last.oracle_price)}, the venue at "
                     f"{price(last.price_after)}.")
    if last.held_qty > 0:
        text += f" Liquidators hold {_coins(last.held_qty)} they could not sell."
    if not math.isnan(low) and low < last.price_after:
        text += f" Lowest price: {price(low)}."
    return text


#: column -> (header, cell(record))
_COLUMNS = {
    "round": ("round", lambda r: count(r.round)),
    "price": ("price (USD)", lambda r: price(r.price_after)),
    "change": ("change", lambda r: numbers.signed_percent(r.price_change, 2)
               if math.isfinite(r.price_after) else "n/a"),
    "oracle": ("oracle (USD)", lambda r: price(r.oracle_price) + ("" if r.oracle_updated
                                                                 or r.round == 0 else " *")),
    "below_one": ("HF < 1", lambda r: count(r.n_below_one)),
    "liquidated": ("calls", lambda r: count(r.n_liquidated)),
    "skipped": ("skipped (gas)", lambda r: count(r.n_skipped_gas)),
    "repaid": ("repaid", lambda r: money(r.repaid_usd)),
    "sold": ("sold (coins)", lambda r: quantity(r.sold_qty if r.round else r.shock_qty)),
    "fee": ("fee (coins)", lambda r: quantity(r.protocol_fee_qty)),
    "bad_debt": ("bad debt", lambda r: money(r.bad_debt)),
    "underwater": ("underwater", lambda r: money(r.underwater_debt)),
    "debt_left": ("debt left", lambda r: money(r.debt_left)),
    "pending": ("pending", lambda r: count(r.pending)),
}
LENDING_COLUMNS = tuple(_COLUMNS)


def lending_table(history: list[LendingRecord], columns=None) -> str:
    """The rounds of ``history`` as fixed-width text, one row a round (as
    :func:`marginloops.narration.round_table`). ``columns`` picks from
    :data:`LENDING_COLUMNS` (default: all). "oracle" marks with ``*`` a round whose oracle
    did not update (a stale price); "sold" is the shock's coins in round 0 and the
    liquidators' after; "pending" counts the borrowers under 1 at the oracle's next price."""
    if columns is None:
        columns = LENDING_COLUMNS
    unknown = [c for c in columns if c not in _COLUMNS]
    if unknown:
        raise ValueError(f"columns must be among {LENDING_COLUMNS}, got {unknown}")
    rows = [tuple(_COLUMNS[c][0] for c in columns)]
    rows += [tuple(_COLUMNS[c][1](r) for c in columns) for r in history]
    widths = [max(len(row[i]) for row in rows) for i in range(len(columns))]
    return "\n".join("  ".join(c.rjust(w) for c, w in zip(row, widths, strict=True))
                     for row in rows)
