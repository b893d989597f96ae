"""Dynamic margin: every maintenance rate rises with the recent price move (the margin spiral of
Brunnermeier and Pedersen, "Market Liquidity and Funding Liquidity", RFS 2009)."""

from __future__ import annotations

from ..params import Control, Param
from . import Mechanism, RecordField


class DynamicMargin(Mechanism):
    name = "dynamic_margin"
    title = "dynamic margin"
    params = (
        Param("dynamic_margin", "number", 0.0, lo=0, hi=10,
              doc="rise of every maintenance rate per unit of recent price move, [0, 10]",
              control=Control(
                  "Margin and liquidation", "Rise (× the move)",
                  "Every maintenance rate rises by this many times the price move of the last "
                  "rounds: at 2, a 3% move adds 6 percentage points (the margin spiral)",
                  lo=0.5, hi=10.0, step=0.5, off=0.0, default=2.0, switch="dynamic margin",
                  switch_tooltip="Raise the maintenance margin when the price has moved fast, "
                                 "as exchanges and lenders do in a crash: more positions are "
                                 "liquidated (Brunnermeier and Pedersen's margin spiral)",
                  says="dynamic margin on: maintenance rates rise {}× the recent move",
                  says_off="dynamic margin off", short="dynamic margin {}×")),
        Param("dynamic_window", "whole", 2, lo=1, hi=50,
              doc="rounds over which that move is measured, [1, 50]",
              control=Control(
                  "Margin and liquidation", "Window (rounds)",
                  "Over how many past rounds the move that raises the margin is measured",
                  lo=1, hi=10, step=1, integer=True, under="dynamic_margin")),
    )
    record_fields = (
        RecordField("mmr_surcharge", float, 0.0, "what dynamic margin added to every "
                    "maintenance rate at this round's check"),
    )
    moves_thresholds = True

    def surcharge(self, run) -> float:
        """``dynamic_margin`` times the move over the last ``dynamic_window`` rounds."""
        path = run.path
        past = path[max(len(path) - 1 - self.dynamic_window, 0)]
        return self.dynamic_margin * abs(path[-1] / past - 1.0)

    def record(self, run, st) -> dict:
        return {"mmr_surcharge": st.surcharge}

    @staticmethod
    def sentence(rec) -> str:
        from ..narration import points

        if rec.mmr_surcharge <= 0:
            return ""
        return (f" Every maintenance rate was raised by {points(rec.mmr_surcharge)} "
                f"percentage points after the recent move "
                f"(dynamic margin).")
