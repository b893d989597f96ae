"""Liquidation orders limited at the bankruptcy price, and an insurance fund that takes over
what they cannot sell and unwinds it over the following rounds (issue 12, item 2).

The rule, as the venues publish it
----------------------------------
Binance: "In a liquidation order, the liquidation price corresponds to the stop price, while
the bankruptcy price is the limit price at which the order will be executed."
(https://binance.com/en/feed/post/617823, "How a Liquidation Order Is Executed: Liquidation
Price vs. Bankruptcy Price"). Its insurance-fund rules: "Binance will use the insurance fund to
take the positions, and offload them onto the market slowly ... If the insurance fund is unable
to accept positions from the liquidations, then the counterparty-liquidation will occur."
(https://binanceapitest.github.io/Binance-Futures-Documentation/Insurance_Fund/, the Binance
Futures documentation's "Insurance Fund" page; the same text is Binance's support FAQ
https://www.binance.com/en/support/faq/360033525371). And liquidation orders are
immediate-or-cancel: "The order will fill as much as possible and cancel the rest ... the
user's position will be closed at the bankruptcy price and the Insurance Fund will take over
the position" (https://docs.traderwagon.com/faq/futures-trading-introduction/liquidation-protocol).

The model (``Scenario(liquidation_orders="bankruptcy")``)
---------------------------------------------------------
- **One limit per round.** The round's liquidations go to the venue as one order, as in the
  default model, and every position is closed at the order's average fill (its units sold)
  or at its bankruptcy price (its units taken over). So that no position's share of the fill
  is below its bankruptcy price ``B`` (above it, for shorts), the order's limit is the highest
  ``B`` among the longs it carries (the lowest among shorts): it sells whatever the venue takes
  at or above that limit, immediate-or-cancel (on a pool, whose fee puts a seller's average
  below the spot price it trades to, down to where the average is at the limit). A position
  with a lower ``B`` could have sold further down on its own: this uniform limit is the price
  of keeping one fill per round.
- **Positions beyond the best price** (a long whose ``B`` is above the best bid: the price
  gapped past it) cannot sell a unit: the fund takes each over whole, off the venue, before
  the order goes out (even where partial liquidation meant to close a slice).
- **The fund takes over the rest** of the order at each position's bankruptcy price: the
  trader is closed with zero equity on those units, and the fund holds them, valued at the
  last traded price (the core's bookkeeping of units the venue did not take:
  ``inventory_qty``, and the value ``s q (P - B)`` booked in ``to_fund`` at once; with a
  liquidation fee that value stays the fund's, see ``_settle_fee``). Units taken over do not
  end the run.
- **The fund unwinds** its inventory into the venue after each round's liquidations, from the
  round after it took them over, by market order: each round it sells ``fund_unwind`` times
  the units it has taken over since it last held none, or all it still holds if that is less.
  So one takeover is sold in ``ceil(1 / fund_unwind)`` equal slices, one per round; ``0``
  means the fund holds its inventory to the end of the run. While the fund holds units and
  no position is within reach, the run goes on (rounds in which only the fund trades) until
  it holds none, the venue side is empty, or ``max_rounds``.
- **Each round the inventory is marked** at the new last traded price, and its sale brings
  ``s k (F - P)`` (``F`` the sale's average, ``P`` the price it was carried at): the change in
  value, ``fund_inventory_pnl``, goes into the fund, and what the fund cannot pay is bad debt,
  as in settlement (:meth:`marginloops.Cascade.book_to_fund`).
- **When the fund is exhausted**: with ``adl=True``, the bankrupt positions the fund cannot
  absorb are auto-deleveraged before the order goes out
  (:meth:`marginloops.mechanisms.adl.AutoDeleveraging.match`, unchanged, with its cost); the
  rest of the order is limited as above. Without ADL, a loss the fund cannot pay is bad debt,
  as today.

``"market"`` (the default) leaves every run exactly as before.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np

from ..params import Control, Param
from . import Mechanism, RecordField, TableColumn

#: "market": liquidations are market orders (the default); "bankruptcy": limit orders at the
#: bankruptcy price, the insurance fund taking over what they cannot sell.
LIQUIDATION_ORDERS = ("market", "bankruptcy")


def _units(x) -> str:
    from ..narration import units

    return units(x)


#: The explorer rows of the two parameters, declared but not shown yet: the panel will offer
#: them once the explorer draws the fund's inventory and the round's sentences tell this mode's
#: story (today the core sentences can say "nothing left in the book" when the limit stopped
#: the order, and "closed beyond their bankruptcy price" for a loss on the fund's inventory).
#: Until then the mode runs from a Scenario, a scenario file or the CLI. Issue 12 re-attaches
#: them (``control=HIDDEN_CONTROLS[name]``).
HIDDEN_CONTROLS = {
    "liquidation_orders": Control(
        "Who pays for losses", "Liquidation orders",
        "Sell a liquidated position at any price the book gives, or never below its "
        "bankruptcy price, the insurance fund taking over what does not sell",
        kind="radio", short="liquidation orders: {}", off="market",
        options=(("market orders", "market",
                  "A liquidation sells into the book at whatever prices it finds"),
                 ("limit at the bankruptcy price", "bankruptcy",
                  "A liquidation sells only down to its bankruptcy price; the insurance fund "
                  "takes over the rest and sells it over the following rounds"))),
    "fund_unwind": Control(
        "Who pays for losses", "Fund sells per round (%)",
        "The share of the units the insurance fund took over that it sells into the book each "
        "following round (0: it keeps them)", lo=0.0, hi=100.0, step=5.0, per_unit=0.01),
}


class BankruptcyLimitOrders(Mechanism):
    name = "liquidation_orders"
    title = "bankruptcy-limit liquidation orders"
    params = (
        Param("liquidation_orders", "choice", "market", choices=LIQUIDATION_ORDERS,
              doc='"market" (liquidations sell at any price) or "bankruptcy" (no lower than '
                  'the bankruptcy price; the insurance fund takes over the rest)',
              control=None),  # see HIDDEN_CONTROLS
        Param("fund_unwind", "number", 0.25, lo=0, hi=1, fraction=True,
              doc="share of what the insurance fund took over that it sells each following "
                  "round, [0, 1] (0: it holds it)",
              control=None),  # see HIDDEN_CONTROLS
    )
    record_fields = (
        RecordField("fund_took_qty", float, 0.0, "units the insurance fund took over this round "
                    "at their bankruptcy price, because the liquidation orders (limited at it) "
                    "could not sell them (whole positions beyond the venue's best price, and "
                    "the order's unsold rest; inventory_qty counts only the latter)"),
        RecordField("fund_took_price", float, float("nan"), "the size-weighted bankruptcy price "
                    "it took them over at (NaN when none)"),
        RecordField("fund_sold_qty", float, 0.0, "units of its inventory the insurance fund sold "
                    "(bought back, in a squeeze) into the venue this round"),
        RecordField("fund_sold_price", float, float("nan"), "their average price (NaN when "
                    "none)"),
        RecordField("fund_inventory", float, 0.0, "units the insurance fund holds after the "
                    "round"),
        RecordField("fund_inventory_pnl", float, 0.0, "USD the fund's inventory gained (lost, "
                    "< 0) this round beyond what to_fund books: its units held from earlier "
                    "rounds marked to the new price, and the sale against the price they were "
                    "carried at"),
    )
    moves_thresholds = True  # positions are taken over whole off the venue: moving accounts
    table_columns = (TableColumn(
        "fund_inventory", "fund holds (units)", lambda r, p: _units(r.fund_inventory),
        lambda history: any(r.fund_took_qty for r in history), after="bad_debt"),)

    @property
    def active(self) -> bool:
        return self.liquidation_orders == "bankruptcy"

    # ------------------------------------------------------------------ round stages
    def reset(self, run) -> None:
        self.held = 0.0     # units the fund holds
        self.base = 0.0     # units taken over since it last held none (the slices' size)
        self.carry = run.start_price  # the price its units are carried at
        # The mechanism that charges a liquidation fee, if any (see _settle_fee).
        self.charges = next((m for m in run.mechanisms if m.active
                             and m.fee(1.0, np.ones(1), 1.0) is not None), None)
        self._round()

    def _round(self) -> None:
        self.limit = None
        self.closing = None
        self.took_weight = 0.0
        self.took_value = 0.0
        self.gap_qty = 0.0
        self.gap_value = 0.0
        self.sent_q = self.sent_b = None
        self.inventory_before = 0.0
        self.values = {}

    def divert(self, run, st, closing) -> None:
        # What to take over and the limit are decided once depth has arrived (a call auction
        # collects orders in before_trade): in adjust_fill, before the closes are settled.
        self._round()
        self.closing = closing

    def _limit_orders(self, run, closing) -> None:
        """The positions whose bankruptcy price is beyond the venue's best price cannot sell a
        unit: the fund takes them over whole, off the venue, at that price (their traders
        close with zero equity, as a unit auto-deleveraging matched does). The order's limit
        for the rest: the highest bankruptcy price among its longs (the lowest among shorts)."""
        s = float(run.accounts.sign)
        q, close = closing.q, closing.close
        bankrupt = closing.entry - s * closing.margin / q
        whole = closing.x >= 1.0
        best = run.venue.best_bid if s > 0 else run.venue.best_ask
        if best is not None:
            gapped = (close > 0) & (s * (bankrupt - best) > 0)
            if gapped.any():
                # taken over whole, even where partial liquidation meant to close a slice: a
                # slice could not sell either, and the position would wait beyond bankruptcy
                # (a position auto-deleveraging matched in part is whole already: its rest)
                close = np.where(gapped & ~whole, q, close)
                closing.x[gapped] = 1.0
                whole = closing.x >= 1.0
                taken = gapped
                u = close[taken]
                self.gap_qty = float(u.sum())
                self.gap_value = float((u * bankrupt[taken]).sum())
                diverted = np.zeros(len(q)) if closing.diverted is None else closing.diverted
                closing.diverted = np.where(taken, q, diverted)
                closing.close = close = np.where(gapped, 0.0, close)
                closing.margin_book = np.where(taken, 0.0, closing.margin_book)
        going = close > 0
        if not going.any():
            return
        self.limit = float(s * np.max(s * bankrupt[going]))
        # Only positions closed whole leave unsold units to the fund (a partial close keeps
        # them); with one fill per round, each gives up the same share of its units.
        w = close[whole & going]
        self.took_weight = float(w.sum())
        self.took_value = float((w * bankrupt[whole & going]).sum())
        if self.charges is not None:
            self.sent_q, self.sent_b = w, bankrupt[whole & going]

    def before_trade(self, run, st) -> None:
        # The core's order is sent empty; adjust_fill sends the limited one.
        st.qty = 0.0
        self.inventory_before = run.accounts.inventory

    def adjust_fill(self, run, st, fill):
        self._limit_orders(run, self.closing)
        st.qty = qty = self.closing.qty
        if qty <= 0:
            return fill
        down = run.direction == "down"
        venue, limit = run.venue, self.limit
        if limit is None or (down and limit <= 0):  # no limit (1x longs: B = 0)
            return venue.market_sell(qty) if down else venue.market_buy(qty)
        trial = venue.copy()
        f = trial.market_sell(qty) if down else trial.market_buy(qty)

        def within(fill) -> bool:  # every unit, and so the average, at the limit or better
            if down:
                return fill.last_price >= limit and fill.avg_price >= limit
            return fill.last_price <= limit and fill.avg_price <= limit

        if f.filled > 0 and f.unfilled == 0 and within(f):
            return venue.market_sell(qty) if down else venue.market_buy(qty)
        # Immediate-or-cancel at the limit: what the venue takes at or beyond it, no more. A
        # book fills at its levels' prices, all at the limit or better; a pool's fee puts what
        # a seller gets below the spot price it trades to, so there the price traded to is
        # moved in until the average is at the limit (a few steps, each a trial on a copy).
        to = limit
        for _ in range(60):
            trial = venue.copy()
            g = trial.sell_through(to) if down else trial.buy_through(to)
            if g.filled == 0 or within(g):
                break
            to *= (limit / g.avg_price) * (1.0 + 1e-12 if down else 1.0 - 1e-12)
        else:
            return venue.market_sell(0.0) if down else venue.market_buy(0.0)
        g = venue.sell_through(to) if down else venue.buy_through(to)
        if g.filled > qty * (1.0 + 1e-12):  # cannot be: the whole order passed the limit
            raise AssertionError("a limited liquidation traded more than its order")
        if venue.units_left(run.venue_side) <= 0:  # the venue ran out: as a market order would
            g = replace(g, requested=qty, unfilled=qty - g.filled)
        return g

    def _settle_fee(self, run, st) -> None:
        """With a liquidation fee, give the fund what the settlement gave the traders.

        The accounts settle a whole close's unsold units with the rest of it: their value
        carried at the last price, ``c = s u (P - B)``, is added to the trader's equity on the
        sold units ``t = s f q (A - B)`` before the fee is taken and the rest handed back. But
        those units belong to the fund from ``B`` on: the fee is ``min(charge, t)``, the trader
        gets ``t`` less it, and ``c`` goes to the fund. This moves the difference (USD, per
        close, vectorised) from ``returned_to_traders`` to the fund and ``to_fund``."""
        if self.sent_q is None or not len(self.sent_q):
            return
        s = float(run.accounts.sign)
        fill, q, b = st.fill, self.sent_q, self.sent_b
        frac = fill.filled / st.qty if st.qty > 0 else 0.0
        mark = fill.last_price if fill.filled > 0 else st.p_before
        if fill.filled > 0:
            t = s * frac * q * (fill.avg_price - b)
            charge = self.charges.fee(frac, q, fill.avg_price)
        else:
            t = charge = np.zeros_like(q)
        c = s * (1.0 - frac) * q * (mark - b)
        took = np.minimum(charge, np.maximum(t + c, 0.0))  # what the settlement charged
        fee = np.minimum(charge, np.maximum(t, 0.0))
        fund = float((fee + np.minimum(t, 0.0) + c - took - np.minimum(t + c, 0.0)).sum())
        if fund == 0.0:
            return
        st.fees += float((fee - took).sum())
        st.returned -= fund
        st.to_fund += fund
        run.book_to_fund(fund, st)

    def after_trade(self, run, st) -> None:
        self._settle_fee(run, st)
        s = float(run.accounts.sign)
        sold_short = run.accounts.inventory - self.inventory_before  # the order's unsold units
        took = sold_short + self.gap_qty
        if took > 0:
            value = self.gap_value + (self.took_value / self.took_weight * sold_short
                                      if sold_short > 0 else 0.0)
            self.values.update(fund_took_qty=took, fund_took_price=value / took)
        # The core carries the order's unsold units at the price now; the positions taken
        # over whole, off the venue, are marked here: s u (P - B) each.
        gap_pnl = s * (self.gap_qty * run.price - self.gap_value) if self.gap_qty else 0.0
        self._unwind(run, st, held_before=self.held, fresh=max(took, 0.0), pnl=gap_pnl)
        if took > 0:
            self.held += took
            self.base += took

    def _unwind(self, run, st, held_before, fresh=0.0, pnl=0.0) -> None:
        """Mark the units held since earlier rounds at the price now, sell a slice of them,
        book the change of value to the fund, and move the price to the sale's last fill.
        ``fresh``: units taken over this round, which the core carries at the price now and
        which are marked again after the sale (they are not sold before the next round)."""
        s = float(run.accounts.sign)
        p = run.price  # the units taken over this round are carried here by the core
        pnl += s * held_before * (p - self.carry)
        k = min(held_before, self.fund_unwind * self.base)
        if k > 0:
            down = run.direction == "down"
            f = run.venue.market_sell(k) if down else run.venue.market_buy(k)
            if f.filled > 0:
                pnl += s * f.filled * (f.avg_price - p)
                self.held = held_before - f.filled if f.filled < held_before else 0.0
                rest = self.held
                pnl += s * (rest + fresh) * (f.last_price - p)
                p = f.last_price
                run.price = p
                run.path[-1] = p
                run.deficit += f.filled
                st.refilled += run.put_back(run.resilience * f.filled)
                self.values.update(fund_sold_qty=f.filled, fund_sold_price=f.avg_price)
                if self.held == 0.0:
                    self.base = 0.0
        self.carry = p
        if pnl != 0.0:
            self.values["fund_inventory_pnl"] = pnl
            run.book_to_fund(pnl, st)

    def keeps_going(self, run) -> bool:
        """The fund still has units to sell, and a venue to sell them into."""
        return (self.held > 0 and self.fund_unwind > 0
                and run.venue.units_left(run.venue_side) > 0)

    def halts(self, run) -> bool:
        # Nobody is within reach, but the fund still sells: a round of its own.
        return self.keeps_going(run) and run.pending() == 0

    def halt(self, run, st) -> None:
        """A round in which only the insurance fund trades: it sells its slice."""
        self._round()
        run.path.append(run.price)
        self._unwind(run, st, held_before=self.held)
        st.fill = run.venue.market_sell(0.0)
        st.pending = run.pending()
        if st.pending == 0 and not self.keeps_going(run):
            st.end = "fixed_point"
        elif run.round >= run.max_rounds:
            st.end = "max_rounds"

    def record(self, run, st) -> dict:
        out = dict(self.values)
        out["fund_inventory"] = self.held
        self.values = {}
        return out

    # ------------------------------------------------------------------ words
    @staticmethod
    def round_sentence(rec) -> str | None:
        from ..narration import count, price, units

        if rec.round == 0 or rec.n_liquidated or not rec.fund_sold_qty or rec.halted:
            return None
        verb = "sells" if rec.direction == "down" else "buys back"
        return (f"Round {count(rec.round)}: nobody is liquidated; the insurance fund {verb} "
                f"{units(rec.fund_sold_qty)} of the inventory it took over, at "
                f"{price(rec.fund_sold_price)} on average, which moves the price to "
                f"{price(rec.price_after)}; "
                + (f"it still holds {units(rec.fund_inventory)}." if rec.fund_inventory
                   else "it holds none now."))

    @staticmethod
    def sentence(rec) -> str:
        from ..narration import money, price, units

        text = ""
        if rec.fund_took_qty:
            text += (f" The liquidation orders could not trade beyond their bankruptcy prices: "
                     f"the insurance fund took over the {units(rec.fund_took_qty)} left, at "
                     f"{price(rec.fund_took_price)} (their bankruptcy price on average), and "
                     f"holds them.")
        if rec.fund_sold_qty and rec.n_liquidated:
            verb = "sold" if rec.direction == "down" else "bought back"
            text += (f" The insurance fund {verb} {units(rec.fund_sold_qty)} of its inventory "
                     f"at {price(rec.fund_sold_price)} on average, taking the price to "
                     f"{price(rec.price_after)}; it holds "
                     f"{units(rec.fund_inventory) if rec.fund_inventory else 'none now'}, and its "
                     f"inventory {'gained' if rec.fund_inventory_pnl >= 0 else 'lost'} "
                     f"{money(abs(rec.fund_inventory_pnl))} this round.")
        return text

    @staticmethod
    def notes(rec) -> list[str]:
        out = []
        if rec.fund_took_qty:
            out.append("fund takes over")
        if rec.fund_sold_qty:
            out.append("fund sells")
        return out

    @staticmethod
    def end_words(history) -> str:
        from ..narration import units

        held = history[-1].fund_inventory
        if not held or math.isnan(held):
            return ""
        return f"; the insurance fund still holds {units(held)} it took over"
