"""Partial liquidation: a reached position is reduced instead of closed whole, by a fixed
``partial_fraction`` per round or by just enough to restore its maintenance margin (at least
that fraction). A position beyond bankruptcy, or left with less than 1% of its size, is closed
whole (see :meth:`marginloops.accounts.PerpetualAccounts.choose_whole`)."""

from __future__ import annotations

import numpy as np

from ..params import Control, Param
from . import Mechanism, RecordField, SummaryMeasure, TableColumn

#: None (close whole positions), a fixed "fraction" of each position per round, or just enough
#: to "restore" the maintenance margin.
PARTIAL_MODES = (None, "fraction", "restore")


def _count(x) -> str:
    from ..narration import count

    return count(x)


class PartialLiquidation(Mechanism):
    name = "partial"
    title = "partial liquidation"
    params = (
        Param("partial", "choice", None, choices=PARTIAL_MODES,
              doc='None (close whole positions), "fraction" or "restore" (partial liquidation)',
              control=Control(
                  "Margin and liquidation", "Partial liquidation",
                  "Close a reached position at once, or reduce it in slices", kind="radio",
                  short="partial liquidation: {}",
                  options=(("no (close whole positions)", None,
                            "A position the price reaches is closed at once"),
                           ("a fraction per round", "fraction",
                            "Close a slice of each reached position per round, until it is safe "
                            "again or gone"),
                           ("just enough to restore margin", "restore",
                            "Close just enough of each reached position (at least a slice) for "
                            "the rest to meet its maintenance margin again")))),
        Param("partial_fraction", "number", 0.25, lo=0.01, hi=1, fraction=True,
              doc='share closed per round ("fraction"), or at least ("restore"), [0.01, 1]',
              control=Control(
                  "Margin and liquidation", "Slice (%)",
                  "The share of a reached position closed in one round (a fraction per round), "
                  "or the least share closed (just enough)", lo=1.0, hi=100.0, step=1.0,
                  per_unit=0.01, under="partial")),
    )
    record_fields = (
        RecordField("n_reduced", int, 0, "positions only partly closed this round (partial "
                    "liquidation); they are counted in n_liquidated too and stay open"),
        RecordField("n_reduced_open", int, 0, "distinct positions of the liquidated side that "
                    "have been partly closed at some point and are still open after this round "
                    "(cumulative; 0 without partial liquidation)"),
    )
    table_columns = (TableColumn(
        "reduced", "reduced (positions)", lambda r, p: _count(r.n_reduced),
        lambda history: any(r.n_reduced for r in history), after="closed",
        compare_header="reduced"),)
    summary_measures = (SummaryMeasure(
        "n_reduced", "positions reduced (still open)", int,
        lambda history: history[-1].n_reduced_open, _count, after="positions closed",
        doc="Positions only partly closed (partial liquidation) and still open at the end, "
            "each counted once however many slices it lost."),)
    moves_thresholds = True

    def choose(self, run, st, closing) -> None:
        n = closing.n
        if self.partial == "fraction":
            closing.x = np.full(n, self.partial_fraction)
            return
        # "restore": after closing x at this price, maintenance equals equity.
        maintenance = run.accounts.maintenance(closing, st.p_before, st.surcharge)
        # Divide only where there is a requirement: a tiny one (a rate of 5e-324) would
        # overflow the ratio, and a share above 1 is clipped to a whole close anyway.
        ratio = np.zeros_like(maintenance)
        with np.errstate(over="ignore"):
            np.divide(closing.equity_now, maintenance, out=ratio, where=maintenance > 0)
        x = np.where(maintenance > 0, 1.0 - ratio, 1.0)
        closing.x = np.clip(x, self.partial_fraction, 1.0)

    def record(self, run, st) -> dict:
        return {"n_reduced": st.reduced, "n_reduced_open": run.accounts.n_reduced_open()}
