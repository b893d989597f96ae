"""The liquidation fee: the insurance fund takes a share of each close as a fee, the rest of the
liquidated trader's remaining margin goes back to the trader.

Binance's liquidation clearance fee, for example, is charged on the liquidated position's
notional and goes to the insurance fund
(https://www.binance.com/en/support/faq/360033525271).
"""

from __future__ import annotations

from ..params import Control, Param
from . import Mechanism, RecordField


class LiquidationFee(Mechanism):
    name = "fee"
    title = "liquidation fee"
    params = (
        Param("liquidation_fee", "number", None, lo=0, hi=0.1, optional=True, fraction=True,
              doc="None (all remaining margin to the fund) or a fee rate in [0, 0.1]",
              control=Control(
                  "Who pays for losses", "Fee (% of the close)",
                  "The fee as % of the closed position's value, at most the margin it has left; "
                  "the fee goes to the insurance fund, the rest of the margin back to the trader",
                  lo=0.0, hi=10.0, step=0.1, per_unit=0.01, default=1.0,
                  switch="charge a liquidation fee",
                  switch_tooltip="Ticked: liquidated traders pay a fee into the insurance fund "
                                 "and get the rest of their margin back. Unticked: all the "
                                 "margin a liquidated position has left goes to the fund",
                  says="liquidation fee {}% of the close",
                  says_off="no liquidation fee: all remaining margin goes to the fund",
                  short="fee {}%")),
    )
    record_fields = (
        RecordField("fees", float, 0.0, "liquidation fees collected this round (0 unless a fee "
                    "rate is set)"),
        RecordField("returned_to_traders", float, 0.0, "equity handed back to liquidated "
                    "traders (only with a fee rate)"),
    )

    def fee(self, frac, close, avg_price):
        """``rate * filled share * units closed * average fill``: a share of the filled
        notional, per close (capped at the equity left by the settlement)."""
        return self.liquidation_fee * frac * close * avg_price

    def record(self, run, st) -> dict:
        return {"fees": st.fees, "returned_to_traders": st.returned}
