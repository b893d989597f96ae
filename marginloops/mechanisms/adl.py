"""Auto-deleveraging: bankrupt positions the insurance fund cannot absorb are closed at their
bankruptcy price against the most profitable, most leveraged opposite positions, instead of
being sold into the venue (see :meth:`AutoDeleveraging.match` for the rule and its sources)."""

from __future__ import annotations

import numpy as np

from ..params import Control, Param
from . import Mechanism, RecordField, SummaryMeasure, TableColumn


def _money(x) -> str:
    from ..narration import money

    return money(x)


def _verdict_words(a: float, b: float, la: str, lb: str, identical: bool) -> str:
    """What auto-deleveraging took from the opposite traders, for a comparison's verdict, from
    each run's cost ``a``, ``b`` ("" if neither run deleveraged anyone)."""
    from ..narration import money

    if identical:
        return (f"; auto-deleveraging took {money(a)} of profit from opposite traders in each"
                if a > 0 else "")
    if a <= 0 and b <= 0:
        return ""
    text = "; auto-deleveraging took "
    if a > 0 and b > 0:
        return text + (f'{money(b)} of profit from opposite traders in run "{lb}" '
                       f'({money(a)} in run "{la}")')
    cost, label = (b, lb) if b > 0 else (a, la)
    return text + f'{money(cost)} of profit from opposite traders in run "{label}"'


class AutoDeleveraging(Mechanism):
    name = "adl"
    title = "auto-deleveraging"
    params = (
        Param("adl", "flag", False,
              doc="auto-deleveraging: bankrupt positions the fund cannot absorb are closed "
                  "against the most profitable, most leveraged opposite positions at their "
                  "bankruptcy price",
              control=Control(
                  "Who pays for losses", "auto-deleveraging",
                  "When the insurance fund cannot absorb the positions already past their "
                  "bankruptcy price, close them at that price against the most profitable, most "
                  "leveraged traders on the other side, instead of selling them into the book",
                  kind="check", short="auto-deleveraging")),
    )
    record_fields = (
        RecordField("n_adl", int, 0, "bankrupt positions auto-deleveraged this round (wholly or "
                    "in part: the last one matched may be matched in part, its remainder goes "
                    "to the venue)"),
        RecordField("adl_qty", float, 0.0, "the units auto-deleveraging matched"),
        RecordField("adl_price", float, float("nan"), "the (size-weighted) bankruptcy price "
                    "they closed at (NaN when none)"),
        RecordField("n_deleveraged", int, 0, "opposite positions reduced by auto-deleveraging "
                    "this round"),
        RecordField("adl_cost", float, 0.0, "USD the deleveraged opposite traders give up this "
                    "round: their matched units times the gap between the check price "
                    "(price_before) and the price auto-deleveraging closed them at (>= 0)"),
    )
    table_columns = (TableColumn(
        "adl_cost", "ADL cost", lambda r, p: _money(r.adl_cost),
        lambda history: any(r.n_adl for r in history), after="bad_debt"),)
    summary_measures = (SummaryMeasure(
        "adl_cost", "ADL cost", float, lambda history: sum(r.adl_cost for r in history),
        _money, after="bad debt",
        doc="Profit the opposite traders closed by auto-deleveraging gave up against the "
            "market price, USD (0 without ADL).",
        words=_verdict_words),)
    moves_thresholds = True
    needs_opposite = True

    def divert(self, run, st, closing) -> None:
        adl = self.match(run, closing.q, closing.margin, closing.entry, closing.equity_now,
                         st.p_before)
        if not adl["n"]:
            return
        matched = adl["units"]
        q = closing.q
        q_book = q - matched
        closing.diverted = matched
        closing.close = np.where(matched > 0, q_book, closing.close)
        closing.margin_book = np.where(matched > 0, closing.margin * (q_book / q),
                                       closing.margin)
        st.off_venue_units += adl["qty"]
        st.off_venue_closed += adl["closed_opposite"]
        st.values.update(n_adl=adl["n"], adl_qty=adl["qty"], adl_price=adl["price"],
                         n_deleveraged=adl["n_opposite"], adl_cost=adl["cost"])

    def record(self, run, st) -> dict:
        return {k: st.values[k] for k in ("n_adl", "adl_qty", "adl_price", "n_deleveraged",
                                          "adl_cost") if k in st.values}

    @staticmethod
    def match(run, q, margin, entry, equity, price) -> dict:
        """Close bankrupt positions the fund cannot absorb against opposite traders.

        When this round's positions already past bankruptcy at the check price would cost the
        fund more than it holds, they are closed at their bankruptcy price against the opposite
        side's profitable positions, ranked by PnL% times effective leverage (the ranking
        Binance and others publish): those are reduced by the same units at the group's
        size-weighted bankruptcy price, most highly ranked first.

        The opposite units available are allocated down the bankrupt positions, the most
        underwater per unit first; the last one reached may be matched in part. A bankrupt
        position is always closed whole: its matched units at its bankruptcy price, the rest
        sold into the book with the round's other liquidations. So does WhiteBIT's documented
        flow, where auto-deleveraging takes the residual portion of a liquidated position that
        market liquidity cannot absorb (https://docs.whitebit.com/concepts/auto-deleveraging),
        and Binance's, where the liquidated position is closed out and the deleveraged traders'
        positions are closed at its bankruptcy price
        (https://www.binance.com/en/support/faq/360033525471). Money stays accounted for: a
        matched unit brings the fund zero equity (it closes at bankruptcy), the rest of the
        position settles at the book's fills as any other close, and the opposite traders give
        up ``cost``: their matched units times the gap between the bankruptcy price they close
        at and the check price ``price``.

        Returns a dict: ``units`` (per position of ``q``, the units matched), ``n`` (positions
        matched), ``qty``, ``price``, ``cost``, ``n_opposite`` (opposite positions reduced) and
        ``closed_opposite`` (of those, closed whole).
        """
        acc = run.accounts
        s = float(acc.sign)
        units = np.zeros(len(q))
        out = {"units": units, "n": 0, "qty": 0.0, "price": float("nan"), "cost": 0.0,
               "n_opposite": 0, "closed_opposite": 0}
        bankrupt = equity < 0
        if not bankrupt.any() or -equity[bankrupt].sum() <= run.insurance_fund:
            return out
        pos, opp, left = acc.positions, acc.opposite, acc.opposite_left
        entry_o = pos.entry[opp]
        margin_o = pos.entry[opp] / pos.leverage[opp] * left  # margin of what is left
        pnl = -s * left * (price - entry_o)
        equity_o = margin_o + pnl
        eligible = (left > 0) & (pnl > 0) & (equity_o > 0)
        if not eligible.any():
            return out
        with np.errstate(divide="ignore", invalid="ignore"):
            score = np.where(eligible, pnl / (left * entry_o) * (price * left / equity_o),
                             -np.inf)
        ranked = np.argsort(-score, kind="stable")[:int(eligible.sum())]
        available = float(left[ranked].sum())
        cand = np.flatnonzero(bankrupt)
        cand = cand[np.argsort(equity[cand] / q[cand], kind="stable")]
        want = q[cand]
        got = np.clip(available - (np.cumsum(want) - want), 0.0, want)
        # A sliver from rounding is no match, nor a sliver left over a remainder to sell.
        got[got <= 1e-12 * want] = 0.0
        got[want - got <= 1e-12 * want] = want[want - got <= 1e-12 * want]
        take = cand[got > 0]
        if not take.size:
            return out
        units[cand] = got
        a = units[take]
        total = float(a.sum())
        bankrupt_price = entry[take] - s * margin[take] / q[take]
        price_adl = float((a * bankrupt_price).sum() / total)
        # Against the check price, each matched unit costs its opposite trader s (B - P) >= 0.
        cost = float(np.maximum(a * (s * (bankrupt_price - price)), 0.0).sum())
        have = left[ranked]
        before = np.cumsum(have) - have
        use = np.clip(total - before, 0.0, have)
        left[ranked] = have - use
        left[left < 1e-12 * pos.size[opp]] = 0.0
        out.update(n=int(take.size), qty=total, price=price_adl, cost=cost,
                   n_opposite=int((use > 0).sum()),
                   closed_opposite=int(((use > 0) & (left[ranked] == 0)).sum()))
        return out

    @staticmethod
    def sentence(rec) -> str:
        from ..narration import count, money, plural, price, units

        if not rec.n_adl:
            return ""
        side = rec.liquidated_side
        other = "shorts" if side == "long" else "longs"
        them = f"those {other}" if rec.n_deleveraged != 1 else f"that {other[:-1]}"
        return (f" The insurance fund could not absorb {plural(rec.n_adl, 'bankrupt ' + side)}"
                f": {units(rec.adl_qty)} were auto-deleveraged, closed at their bankruptcy "
                f"price {price(rec.adl_price)} against the {count(rec.n_deleveraged)} most "
                f"profitable, most leveraged {other} instead of being sold into the book. "
                f"Closed at {price(rec.adl_price)} rather than the market's "
                f"{price(rec.price_before)}, {them} gave up {money(rec.adl_cost)} of profit.")

    @staticmethod
    def liquidate_words(rec) -> str:
        from ..narration import units

        if not rec.n_adl:
            return ""
        return f" ({units(rec.adl_qty)} go to opposite traders by auto-deleveraging instead.)"

    @staticmethod
    def end_words(history) -> str:
        from ..narration import money

        cost = sum(r.adl_cost for r in history)
        if cost <= 0:
            return ""
        return (f"; auto-deleveraging cost the "
                f"{'shorts' if history[0].direction == 'down' else 'longs'} it closed "
                f"{money(cost)} of profit")
