"""Quote withdrawal: after a fast move, market makers cancel part of the depth near the price.

A move of ``x`` (a fraction) cancels ``min(1, withdrawal * x / 1%)`` of the depth within 1% of
the new price, on the side the run trades into.
"""

from __future__ import annotations

from ..params import Control, Param
from . import Mechanism, RecordField


class QuoteWithdrawal(Mechanism):
    name = "withdrawal"
    title = "quote withdrawal"
    params = (
        Param("withdrawal", "number", 0.0, lo=0, hi=100,
              doc="how hard market makers pull quotes after a fast move, [0, 100]: a move of "
                  "x% cancels min(1, withdrawal * x) of the depth within 1% of the new price",
              control=Control(
                  "Market makers", "Quote withdrawal",
                  "How hard market makers pull their quotes after a fast move: a move of x% "
                  "cancels min(1, withdrawal·x) of the depth within 1% of the price (0: they "
                  "never pull, 0.2: a 5% move cancels all of it)", lo=0.0, hi=20.0, step=0.05,
                  short="quote withdrawal {}")),
    )
    record_fields = (
        RecordField("withdrawn", float, 0.0, "units market makers cancelled this round because "
                    "the price moved fast"),
    )

    def after_trade(self, run, st) -> None:
        move = abs(run.price / st.p_before - 1.0)
        if move > 0:  # fast moves make market makers pull quotes
            within = run.price * (0.99 if run.direction == "down" else 1.01)
            st.withdrawn = run.venue.withdraw(run.venue_side, min(1.0, self.withdrawal * move
                                                                  / 0.01), within)

    def record(self, run, st) -> dict:
        return {"withdrawn": st.withdrawn}

    @staticmethod
    def sentence(rec) -> str:
        from ..narration import units

        if rec.withdrawn <= 0:
            return ""
        return (f" The fast move made market makers cancel {units(rec.withdrawn)} of "
                f"{'bids' if rec.direction == 'down' else 'asks'} near the price.")
