"""The call auction: each round's liquidations are collected and cleared in one batch at a
single price (the price of the last level the batch needs), after market makers have restored
``recovery`` of the depth consumed so far."""

from __future__ import annotations

from dataclasses import replace

from ..params import Control, Param
from . import Mechanism, RecordField


class CallAuction(Mechanism):
    name = "call_auction"
    title = "call auction"
    params = (
        Param("call_auction", "flag", False,
              doc="clear each round's liquidations in one batch at a single price",
              control=Control(
                  "Halts and auctions", "call auction",
                  "Collect each round's liquidations and clear them in one batch at a single "
                  "price, after market makers have restored part of the depth, instead of "
                  "walking a thin book", kind="check", short="call auction")),
    )
    companions = ("recovery",)
    record_fields = (
        RecordField("uniform_price", bool, False, "True when a call auction cleared this "
                    "round's order at one price"),
    )

    def before_trade(self, run, st) -> None:
        # While the auction collects orders, liquidity arrives.
        st.refilled += run.put_back(run.recovery * run.deficit)

    def adjust_fill(self, run, st, fill):
        if fill.filled > 0:  # one uniform price clears the batch: the last level's
            return replace(fill, avg_price=fill.last_price)
        return fill

    def record(self, run, st) -> dict:
        return {"uniform_price": st.fill.filled > 0 and st.n > 0}

    @staticmethod
    def fill_words(rec, moved: str) -> str | None:
        from ..narration import percent, price, units

        if not (rec.filled_qty > 0 and rec.uniform_price):
            return None
        return (f"a call auction cleared their {units(rec.filled_qty)} at one price, "
                f"{price(rec.avg_fill_price)}, which {moved} (slippage "
                f"{percent(rec.slippage)}).")

    @staticmethod
    def order_words(rec) -> str | None:
        return "a call auction that clears at one price" if rec.uniform_price else None

    @staticmethod
    def walk_sentence(rec) -> str | None:
        from ..narration import percent, plural, price, units

        if not rec.uniform_price:
            return None
        return (f"Clear the auction: {units(rec.filled_qty)} needed "
                f"{plural(len(rec.book_prices), 'price level')}, to "
                f"{price(rec.last_fill_price)}; every unit trades at that one price (slippage "
                f"{percent(rec.slippage)}).")

    @staticmethod
    def notes(rec) -> list[str]:
        return ["one price"] if rec.uniform_price else []
