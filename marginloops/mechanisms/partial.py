"""Partial liquidation: a reached position is reduced instead of closed whole, by a fixed
``partial_fraction`` per round, by just enough to restore its maintenance margin (at least
that fraction), or, under tiered margin, down one margin tier ("tier"). A position beyond
bankruptcy, or left with less than 1% of its size, is closed whole (see
:meth:`marginloops.accounts.PerpetualAccounts.choose_whole`).

The tier step-down ("tier") follows what venues with risk-limit tiers document:

- Bybit, "Liquidation Process (USDT Contract)"
  (https://help.bybit.com/hc/en-us/articles/900000167723-Liquidation-Process-USDT-Contract-):
  "Traders under the lowest margin tier [...] that position will be closed at the bankruptcy
  price by the Liquidation Engine. Traders under second or higher margin tier: The liquidation
  engine will try to lower the margin tier to lower the margin requirement [...] Submit a
  FillOrKill order of the difference between the current position value and the lower margin
  tier value which satisfies the margin requirement, thus preventing further liquidation; If the
  position is still in liquidation, this position shall be taken over by the liquidation engine
  at the bankruptcy price."
- OKX, "Tiered Margin Ratio System" (https://support.okexcn.com/hc/en-us/articles/360037209112):
  "if a user's tier is Tier 2 or above, and his margin is lower than required by the maintenance
  margin ratio of the tier, partial liquidation will occur. Our system will partially reduce his
  position size to that of [the lower tier]. After bringing the user's tier down by one tier, if
  the amount of his margin can meet the maintenance margin ratio of the new tier, partial
  liquidation will stop. If not, partial liquidation will continue." and "If a Tier 1 user's
  margin is lower than the maintenance margin ratio of the tier [...] full liquidation will
  occur."
- Binance, "Liquidation Protocols" (https://www.binance.com/en/support/faq/360033525271) says
  only that it "avoids full liquidation of a user's position whenever possible" and first tries
  "to reduce the user's margin level with one large Immediate or Cancel order"; its page does not
  name the tier as the target, so the rule here is Bybit's and OKX's.

So here: a reached position in tier ``k >= 1`` (the bracket its maintenance rate comes from) is
reduced to the notional floor of that bracket, which is the ceiling of tier ``k - 1``, valued at
the check price: it sells ``q (1 - f_k / (q P))`` units (none when its notional is already at
or below ``f_k``: the tier is then lowered without a sale, Bybit's first step), and keeps the
rate ``r_{k-1}`` and amount ``c_{k-1}`` of tier ``k - 1`` from then on. One tier per round: a
position still under maintenance at the next check steps down again (OKX's "partial liquidation
will continue"), and one in the lowest tier is closed whole. What the model leaves out: the
venues do it at once, within one check; here each step waits for the next round.
"""

from __future__ import annotations

import numpy as np

from ..params import Control, Param
from ..tiers import MarginTiers
from . import Mechanism, RecordField, SummaryMeasure, TableColumn

#: None (close whole positions), a fixed "fraction" of each position per round, just enough to
#: "restore" the maintenance margin, or down one margin "tier" (needs tiered margin).
PARTIAL_MODES = (None, "fraction", "restore", "tier")


def _count(x) -> str:
    from ..narration import count

    return count(x)


class PartialLiquidation(Mechanism):
    name = "partial"
    title = "partial liquidation"
    params = (
        Param("partial", "choice", None, choices=PARTIAL_MODES,
              doc='None (close whole positions), "fraction", "restore" or "tier" (partial '
                  'liquidation; "tier" needs mmr_tiers)',
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
                            "the rest to meet its maintenance margin again"),
                           # needs mmr_tiers: the explorer's panel offers it only while
                           # tiered margin is on (ui.mechanisms.OPTION_NEEDS)
                           ("down one margin tier", "tier",
                            "Close just enough of each reached position to bring it down to "
                            "the next lower margin tier, as Bybit and OKX do; one in the "
                            "lowest tier is closed whole")))),
        Param("partial_fraction", "number", 0.25, lo=0.01, hi=1, fraction=True,
              doc='share closed per round ("fraction"), or at least ("restore"), [0.01, 1]',
              control=Control(
                  "Margin and liquidation", "Slice (%)",
                  "The share of a reached position closed in one round (a fraction per round), "
                  "or the least share closed (just enough)", lo=1.0, hi=100.0, step=1.0,
                  per_unit=0.01, under="partial")),
    )
    #: Its Cascade keyword arguments: its params, and the tiers a "tier" step-down walks down
    #: (the scenario's ``mmr_tiers``; () for none).
    cascade_kwargs = {"partial": None, "partial_fraction": 0.25, "mmr_tiers": ()}
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

    def __init__(self, **values):
        super().__init__(**values)
        tiers = self.mmr_tiers
        if tiers is None or (isinstance(tiers, (tuple, list)) and not tiers):
            tiers = None
        elif not isinstance(tiers, MarginTiers):
            tiers = MarginTiers(tiers)  # checked: a ValueError names mmr_tiers
        self.mmr_tiers = tiers
        if self.partial == "tier" and tiers is None:
            # Two fields conflict: name both, and the ways out.
            raise ValueError(
                'partial "tier" steps a reached position down one margin tier, so it needs '
                "mmr_tiers, got mmr_tiers () (one flat maintenance rate): give mmr_tiers (e.g. "
                "((0, 0.004), (50000, 0.005))) or choose partial None, \"fraction\" or "
                '"restore"')
        self._step = None

    @classmethod
    def from_scenario(cls, scenario) -> dict:
        return {"partial": scenario.partial, "partial_fraction": scenario.partial_fraction,
                "mmr_tiers": scenario.mmr_tiers}

    # ------------------------------------------------------------------ round stages
    def reset(self, run) -> None:
        if self.partial != "tier":
            return
        acc = run.accounts
        if not hasattr(self, "_rate0"):
            self._first_reset(acc)
        # Each account's tier, and the rate and amount it keeps, as before the shock.
        self.tier = self._tier0.copy()
        acc.mmr_s, acc.amount_s = self._rate0.copy(), self._amount0.copy()
        self._step = None

    def _first_reset(self, acc) -> None:
        """Find the tier each account's rate and amount come from (in the accounts' order)."""
        tiers = self.mmr_tiers
        rate, amount = np.asarray(acc.mmr_s), np.asarray(acc.amount_s)
        rates, amounts = tiers.rates, tiers.amounts
        k = np.searchsorted(rates, rate, side="right") - 1
        kk = np.maximum(k, 0)
        ok = (k >= 0) & (rates[kk] == rate) & np.isclose(amounts[kk], amount, rtol=1e-9,
                                                          atol=1e-9)
        if not ok.all():
            i = int(acc.order[np.flatnonzero(~ok)[0]])
            raise ValueError(
                f'partial "tier" needs positions whose maintenance rates come from mmr_tiers, '
                f"but position {i} has rate {rate[~ok][0]:g} and amount {amount[~ok][0]:g}, "
                f"which no bracket of mmr_tiers {tiers.brackets} gives; build the positions "
                f"with Positions.with_tiers(mmr_tiers)")
        self._tier0 = kk
        self._rate0, self._amount0 = rate.copy(), amount.copy()

    def choose(self, run, st, closing) -> None:
        n = closing.n
        if self.partial == "fraction":
            closing.x = np.full(n, self.partial_fraction)
            return
        if self.partial == "tier":
            self._choose_tier(st, closing)
            return
        # "restore": after closing x at this price, maintenance equals equity.
        maintenance = run.accounts.maintenance(closing, st.check_price, st.surcharge)
        # Divide only where there is a requirement: a tiny one (a rate of 5e-324) would
        # overflow the ratio, and a share above 1 is clipped to a whole close anyway.
        ratio = np.zeros_like(maintenance)
        with np.errstate(over="ignore"):
            np.divide(closing.equity_now, maintenance, out=ratio, where=maintenance > 0)
        x = np.where(maintenance > 0, 1.0 - ratio, 1.0)
        closing.x = np.clip(x, self.partial_fraction, 1.0)

    def _choose_tier(self, st, closing) -> None:
        """Down to the floor of its tier (the ceiling of the tier below) at the check price;
        the lowest tier closes whole."""
        hit = closing.where
        k = self.tier[hit]
        floor = self.mmr_tiers.floors[k]
        notional = closing.q * st.check_price
        keep = np.zeros_like(notional)
        np.divide(floor, notional, out=keep, where=notional > 0)
        closing.x = np.where(k > 0, 1.0 - np.minimum(keep, 1.0), 1.0)
        self._step = (hit, k)

    def after_trade(self, run, st) -> None:
        """The accounts a step brought down to the tier below take its rate and amount.

        Only those whose notional at the check price is now at most that tier's ceiling: when
        the venue filled only part of the order (it ran out), an account reduced less stays in
        its tier (and the run ends there)."""
        if self._step is None:
            return
        hit, k = self._step
        self._step = None
        acc = run.accounts
        tiers = self.mmr_tiers
        left = acc.closed_in[hit] < 0
        i, k = hit[left], k[left]
        q = acc.q_left[i]
        down = (k > 0) & (q * st.check_price <= tiers.floors[k] * (1.0 + 1e-9))
        k = np.where(down, k - 1, k)
        self.tier[i] = k
        acc.mmr_s[i] = tiers.rates[k]
        # The accounts scale an amount by q / size (the original size): stored so that the
        # remaining q keeps exactly its tier's amount.
        acc.amount_s[i] = tiers.amounts[k] * acc.size[i] / q

    def tiers_now(self, run) -> np.ndarray:
        """Each position's margin tier now (index into ``mmr_tiers``), in the caller's order;
        -1 for positions of the side this run does not liquidate ("tier" only)."""
        if self.partial != "tier":
            raise ValueError(f'tiers_now needs partial "tier", got partial {self.partial!r}')
        out = np.full(len(run.positions), -1)
        out[run.accounts.order] = self.tier
        return out

    def record(self, run, st) -> dict:
        return {"n_reduced": st.reduced, "n_reduced_open": run.accounts.n_reduced_open()}
