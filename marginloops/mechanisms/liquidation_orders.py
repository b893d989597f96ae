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
- **Each liquidation its own order.** Every position the round liquidates sends its own
  immediate-or-cancel order limited at its own bankruptcy price ``B`` (a long sells at
  ``B`` or above, a short buys at ``B`` or below). The orders go in one queue, the most
  constrained first (the highest ``B`` among longs), which sells the most units any order of
  them could (:meth:`BankruptcyLimitOrders._fills` says why); each sells
  ``min(its size, D(B) - what the orders ahead sold)``, ``D(B)`` the venue's units at ``B``
  or better (on a pool, the units before the curve's marginal price passes ``B``). The
  round's units sold go to the venue as one walk, and each position is settled at its own
  slice of it (its units sold and their average price: ``Closing.sold`` and
  ``Closing.sold_price``), so no position sells a unit beyond its own ``B``. (Until issue 12
  one limit per round, the highest ``B``, made the fund take over far more: crowded-longs'
  round 3 sold 228 units and passed 8,853 to the fund; each order at its own limit sells
  every unit sent there, 6,190, and the fund takes over only the 5,626 of positions beyond
  the best bid.) With a call auction, each position still settles at its own slice of the
  walk, not at the auction's one price.
- **Positions beyond the best price** (a long whose ``B`` is above the best bid: the price
  gapped past it) cannot sell a unit: the fund takes each over whole, off the venue, before
  the order goes out (even where partial liquidation meant to close a slice).
- **The fund takes over the rest** of each whole close's order at its bankruptcy price: the
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

The backstop vault (``Scenario(liquidation_orders="backstop")``), as Hyperliquid documents it
----------------------------------------------------------------------------------------------
Hyperliquid, "Liquidations" (https://hyperliquid.gitbook.io/hyperliquid-docs/trading/liquidations):
"When the account equity drops below maintenance margin, the positions are first attempted to
be entirely closed by sending market orders to the book." and "If the account equity drops
below 2/3 of the maintenance margin without successful liquidation through the book, a backstop
liquidation happens through the liquidator vault." "When an isolated position is backstop
liquidated, that isolated position and isolated margin are transferred to the liquidator."
"During backstop liquidation, the maintenance margin is not returned to the user. This is
because the liquidator vault requires a buffer to make sure backstop liquidations are
profitable on average." Its "Auto-deleveraging" page
(https://hyperliquid.gitbook.io/hyperliquid-docs/trading/auto-deleveraging): "The liquidator has
one last option to avoid liquidations that would cause a sufficiently large drawdown, at which
point auto-deleveraging is triggered." and "If a user's account value or isolated position
value becomes negative, the users on the opposite side of the position are ranked by
unrealized pnl and leverage used."

The model, one round at a time:

- **Market orders** for every position the check catches whose equity at the check price is
  at least ``backstop_threshold`` (2/3) of its maintenance margin, as the default model.
- **The vault takes over** each caught position whose equity is below that: the position and
  its margin pass to the liquidator vault, off the venue, the trader keeping nothing, which is
  the vault taking its units at the bankruptcy price ``B`` (it receives their value ``s q (P -
  B)``, the position's equity). In a round the price has passed a position's market-order
  window (equity between the threshold and maintenance) the book never saw it: the model has
  no time within a round, so "without successful liquidation through the book" is read as
  "already below the threshold at the check".
- **The vault is the insurance fund here** (Hyperliquid has no separate one: HLP's liquidator
  vault plays that part): its capital is ``insurance_fund``, it holds its inventory and sells
  it into the book at ``fund_unwind`` per round, and its gains and losses are the fund's (the
  records' ``fund_*`` fields and ``n_backstop``, ``backstop_qty``).
- **The loss cap is the vault's capital**: a position bankrupt at the check price whose loss
  the vault (the fund) cannot absorb is auto-deleveraged when ``adl=True``
  (:meth:`marginloops.mechanisms.adl.AutoDeleveraging.match`, before the vault); without ADL a
  loss beyond the vault's capital is bad debt.

``"market"`` (the default) leaves every run exactly as before.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np

from ..params import Control, Param
from . import Mechanism, RecordField, SummaryMeasure, TableColumn

#: "market": liquidations are market orders (the default); "bankruptcy": limit orders at the
#: bankruptcy price, the insurance fund taking over what they cannot sell; "backstop": market
#: orders, and a liquidator vault (the fund) taking over positions far below maintenance.
LIQUIDATION_ORDERS = ("market", "bankruptcy", "backstop")


def _units(x) -> str:
    from ..narration import units

    return units(x)


def _money(x) -> str:
    from ..narration import money

    return money(x)


class BankruptcyLimitOrders(Mechanism):
    name = "liquidation_orders"
    title = "bankruptcy-limit liquidation orders"
    params = (
        Param("liquidation_orders", "choice", "market", choices=LIQUIDATION_ORDERS,
              doc='"market" (liquidations sell at any price) or "bankruptcy" (no lower than '
                  'the bankruptcy price; the insurance fund takes over the rest)',
              control=Control(
                  "Who pays for losses", "Liquidation orders",
                  "Sell a liquidated position at any price the book gives, or never below its "
                  "bankruptcy price, the insurance fund taking over what does not sell",
                  kind="radio", short="liquidation orders: {}", off="market",
                  options=(("market orders", "market",
                            "A liquidation sells into the book at whatever prices it finds"),
                           ("limit at the bankruptcy price", "bankruptcy",
                            "Each liquidation sells only down to its own bankruptcy price; the "
                            "insurance fund takes over the rest and sells it over the "
                            "following rounds"),
                           ("market orders, a backstop vault", "backstop",
                            "As Hyperliquid: liquidations are market orders, but a position "
                            "whose equity is below two thirds of its maintenance margin is "
                            "taken over by the liquidator vault (the insurance fund here)")))),
        Param("fund_unwind", "number", 0.25, lo=0, hi=1, fraction=True,
              doc="share of what the insurance fund took over that it sells each following "
                  "round, [0, 1] (0: it holds it)",
              control=Control(
                  "Who pays for losses", "Fund sells per round (%)",
                  "The share of the units the insurance fund took over that it sells into the "
                  "book each following round (0: it keeps them)", lo=0.0, hi=100.0, step=5.0,
                  per_unit=0.01, under="liquidation_orders")),
        Param("backstop_threshold", "number", 2 / 3, lo=0, hi=1, fraction=True,
              doc='("backstop" only) the share of its maintenance margin below which a '
                  "position's equity makes the liquidator vault take it over, [0, 1] "
                  "(Hyperliquid: 2/3)",
              control=Control(
                  "Who pays for losses", "Vault takes over below",
                  "With a backstop vault: a position whose equity is below this share of its "
                  "maintenance margin is taken over by the liquidator vault instead of being "
                  "sold (Hyperliquid: two thirds)", kind="menu", under="liquidation_orders",
                  options=(("2/3 of maintenance margin (Hyperliquid)", 2 / 3,
                            "Hyperliquid's rule"),
                           ("1/2 of maintenance margin", 0.5, "The vault steps in later"),
                           ("1/3 of maintenance margin", 1 / 3, "Later still"),
                           ("0: only positions already bankrupt", 0.0,
                            "The vault takes only positions whose equity is below zero")))),
    )
    record_fields = (
        RecordField("fund_took_qty", float, 0.0, "units the insurance fund took over this round "
                    "at their bankruptcy price, because the liquidation orders (limited at it) "
                    "could not sell them (whole positions beyond the venue's best price, and "
                    "the order's unsold rest; inventory_qty counts only the latter)"),
        RecordField("fund_took_price", float, float("nan"), "the size-weighted bankruptcy price "
                    "it took them over at (NaN when none)"),
        RecordField("fund_gap_qty", float, 0.0, "of fund_took_qty, the units of positions whose "
                    "bankruptcy price the venue's best price had already passed: taken over "
                    "whole off the venue, never sent (not in qty_liquidated)"),
        RecordField("limited", bool, False, "True when liquidation_orders is \"bankruptcy\": "
                    "each liquidation is an order limited at its own bankruptcy price"),
        RecordField("backstop", bool, False, "True when liquidation_orders is \"backstop\": "
                    "the insurance fund is the liquidator vault"),
        RecordField("n_backstop", int, 0, "positions the liquidator vault took over this round "
                    "(\"backstop\": equity below backstop_threshold of maintenance)"),
        RecordField("backstop_qty", float, 0.0, "their units (in fund_took_qty too; not in "
                    "qty_liquidated: never sent to the venue)"),
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
    summary_measures = (SummaryMeasure(
        "fund_took_notional", "taken over by the fund", float,
        lambda history: sum(r.fund_took_qty * r.price_before for r in history),
        lambda v: _money(v), after="notional liquidated",
        doc="The value, at the prices that triggered them, of the units the insurance fund "
            "took over at their bankruptcy price (USD; 0 with market orders): the units the "
            "limited orders sent and could not sell (counted in notional liquidated too) and "
            "the positions beyond the venue's best price, taken over whole off the venue "
            "(not counted there)."),)
    moves_thresholds = True  # positions are taken over whole off the venue: moving accounts
    table_columns = (TableColumn(
        "fund_inventory", "fund holds (units)", lambda r, p: _units(r.fund_inventory),
        lambda history: any(r.fund_took_qty for r in history), after="bad_debt"),)

    @property
    def active(self) -> bool:
        return self.liquidation_orders != "market"

    @property
    def vault(self) -> bool:
        """The backstop-vault variant (Hyperliquid's): market orders, and the vault."""
        return self.liquidation_orders == "backstop"

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
        self.closing = None
        #: This round's orders, per position the check caught (arrays, in the order of
        #: ``where``): ``close`` units sent, ``sold``, ``price`` (their average, NaN when
        #: none), ``bankrupt`` (the limit), ``whole``; and ``round``. None before any.
        self.orders = None
        self.gap_qty = 0.0
        self.gap_value = 0.0
        self.n_vault = 0
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
        close with zero equity, as a unit auto-deleveraging matched does). The others each
        send their own order, limited at their own bankruptcy price (:meth:`_fills`)."""
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
        self.bankrupt = bankrupt
        self.whole = whole

    @staticmethod
    def _depth(venue, down: bool, limits: np.ndarray) -> np.ndarray:
        """``D(B)``: the units the venue takes at each limit ``B`` or better (a sell: at
        prices >= B; a buy: <= B), every unit of them, not only their average.

        A book: the units resting on its levels at the limit or better. A constant-product
        pool (reserves ``x`` coins, ``y`` USD, ``γ`` one less its fee): the units a market
        order trades before its *marginal* price (the next tiny unit's) passes the limit, from
        the curve (:class:`~marginloops.pool.ConstantProductPool`'s ``depth_profile`` notes):
        a sell, whose marginal price after ``Δ`` is ``γxy/(x + γΔ)²``, reaches ``B`` at
        ``Δ = (sqrt(γxy/B) - x)/γ``; a buy, marginal ``xy/(γ(x - Δ)²)``, at
        ``Δ = x - sqrt(xy/(γB))``. A limit of 0 or less on a sell is no limit."""
        side = "bid" if down else "ask"
        if venue.kind == "pool":
            x, y, g = venue.base_reserve, venue.quote_reserve, venue.gamma
            if x <= 0 or y <= 0:
                return np.zeros(len(limits))
            with np.errstate(divide="ignore", invalid="ignore"):
                if down:
                    d = np.where(limits > 0, (np.sqrt(g * x * y / np.maximum(limits, 1e-300))
                                              - x) / g, np.inf)
                else:
                    d = x - np.sqrt(x * y / (g * limits))
            return np.maximum(np.nan_to_num(d, nan=0.0, posinf=np.inf), 0.0)
        best = venue.best_bid if down else venue.best_ask
        if best is None:
            return np.zeros(len(limits))
        if down:
            lo = min(max(float(limits.min()), 0.0), best)
            prices, sizes = venue.depth_profile(side, lo, best)
            ahead = np.searchsorted(-prices, -limits, side="right")  # levels >= B
        else:
            hi = max(float(limits.max()), best)
            prices, sizes = venue.depth_profile(side, best, hi)
            ahead = np.searchsorted(prices, limits, side="right")    # levels <= B
        cum = np.concatenate([[0.0], np.cumsum(sizes)])
        return cum[ahead]

    @staticmethod
    def _cost(venue, fill, down: bool, units: np.ndarray) -> np.ndarray:
        """USD the first ``units`` (cumulative) of ``fill``'s walk traded for. A book: the
        walk's levels, each at its price (``np.interp`` of the cumulative cost over the
        levels, exact: a level trades at one price). A pool (the reserves before the trade):
        a sell of ``u`` brings ``γuy/(x + γu)``, a buy costs ``yu/(γ(x - u))``."""
        if venue.kind == "pool":
            x, y, g = venue.base_reserve, venue.quote_reserve, venue.gamma
            if down:
                return g * units * y / (x + g * units)
            return y * units / (g * np.maximum(x - units, 1e-300))
        levels = np.concatenate([[0.0], np.cumsum(fill.level_qty)])
        usd = np.concatenate([[0.0], np.cumsum(fill.level_qty * fill.level_prices)])
        return np.interp(units, levels, usd)

    def _fills(self, run, closing):
        """Each liquidation its own immediate-or-cancel order limited at its own bankruptcy
        price ``B``, all sent in one queue: returns the units each sells, and the total.

        The queue: most constrained first, the highest ``B`` among longs (the lowest among
        shorts) at its head. An order limited at ``B`` can take only the venue's units at
        ``B`` or better, which every order behind it (a lower limit) can take as well: sent
        first, the tight orders take the top of the venue, and the looser ones the depth
        below that only they can reach. So the queue sells the most units any order of the
        orders could, and no order is left short by one behind it. (The venues do not publish
        the order in which their engines send simultaneous liquidations; this is the order in
        which none of them stands in another's way.)

        With ``D(p)`` the venue's units at ``p`` or better and ``Q`` the cumulative sizes
        down the queue, order ``i`` fills up to ``F_i = Q_i + min(0, min_{j <= i} (D(B_j) -
        Q_j))`` cumulatively (each order fills ``min(c_i, D(B_i) - F_{i-1})``, and
        ``D(B_j)`` grows down the queue), all of it vectorised."""
        s = float(run.accounts.sign)
        close, bankrupt = closing.close, self.bankrupt
        going = np.flatnonzero(close > 0)
        sold = np.zeros(len(close))
        if not going.size:
            return sold, going, None
        queue = going[np.argsort(-s * bankrupt[going], kind="stable")]
        down = run.direction == "down"
        depth = self._depth(run.venue, down, bankrupt[queue])
        cum = np.cumsum(close[queue])
        reach = cum + np.minimum(0.0, np.minimum.accumulate(depth - cum))
        reach = np.maximum.accumulate(np.maximum(reach, 0.0))
        # ``Q_i + (D(B_i) - Q_i)`` is ``D(B_i)`` only up to rounding: an order the venue
        # cannot reach must sell 0, not 1e-16 units (which would have no average price).
        step = np.diff(reach, prepend=0.0)
        dust = step <= 1e-12 * cum[-1]
        if dust.any():
            step[dust] = 0.0
            reach = np.cumsum(step)
        sold[queue] = step
        return sold, queue, reach

    def before_trade(self, run, st) -> None:
        # The core's order is sent empty; adjust_fill sends the limited ones.
        st.qty = 0.0
        self.inventory_before = run.accounts.inventory

    def _backstop(self, run, st, closing) -> None:
        """Hyperliquid's backstop: the positions whose equity at the check price is below
        ``backstop_threshold`` of their maintenance margin are taken over whole by the
        liquidator vault, off the venue: the position and its margin pass to the vault (the
        trader keeps nothing), which is the vault taking its units at the bankruptcy price
        ``B`` (their value at the price ``P``, ``s q (P - B)``, is the equity it receives).
        Positions auto-deleveraging matched this round are left to it."""
        s = float(run.accounts.sign)
        q, close = closing.q, closing.close
        bankrupt = closing.entry - s * closing.margin / q
        maintenance = run.accounts.maintenance(closing, st.check_price, st.surcharge)
        matched = np.zeros(len(q), bool) if closing.diverted is None else closing.diverted > 0
        below = (close > 0) & ~matched & (closing.equity_now
                                          < self.backstop_threshold * maintenance)
        self.n_vault = int(below.sum())
        if not self.n_vault:
            return
        u = q[below]
        self.gap_qty = float(u.sum())
        self.gap_value = float((u * bankrupt[below]).sum())
        closing.x[below] = 1.0
        diverted = np.zeros(len(q)) if closing.diverted is None else closing.diverted
        closing.diverted = np.where(below, q, diverted)
        closing.close = np.where(below, 0.0, close)
        closing.margin_book = np.where(below, 0.0, closing.margin_book)

    def adjust_fill(self, run, st, fill):
        closing = self.closing
        if self.vault:  # the vault takes its positions over; the rest are market orders
            self._backstop(run, st, closing)
            st.qty = qty = closing.qty
            if qty <= 0:
                return fill
            return (run.venue.market_sell(qty) if run.direction == "down"
                    else run.venue.market_buy(qty))
        self._limit_orders(run, closing)
        st.qty = qty = closing.qty
        if qty <= 0:
            return fill
        down = run.direction == "down"
        venue = run.venue
        sold, queue, reach = self._fills(run, closing)
        total = float(reach[-1]) if reach is not None else 0.0
        before = venue.copy() if venue.kind == "pool" else None  # the curve the trade walks
        g = venue.market_sell(total) if down else venue.market_buy(total)
        if g.filled < total * (1.0 - 1e-12):  # cannot be: D(B) counted units the venue has
            raise AssertionError("the venue filled less than the depth at the limits")
        # Each order's slice of the one walk: its own average, from the cumulative cost.
        price = np.full(len(sold), np.nan)
        if g.filled > 0:
            ends = np.minimum(reach, g.filled)
            usd = self._cost(before if before is not None else venue, g, down, ends)
            got = np.diff(ends, prepend=0.0)
            paid = np.diff(usd, prepend=0.0)
            with np.errstate(divide="ignore", invalid="ignore"):
                price[queue] = np.where(got > 0, paid / got, np.nan)
        closing.sold = sold
        closing.sold_price = price
        self.orders = {"round": run.round, "where": closing.where.copy(),
                       "close": closing.close.copy(), "sold": sold, "price": price,
                       "bankrupt": self.bankrupt.copy(), "whole": self.whole.copy()}
        left = venue.units_left(run.venue_side)
        if left <= 0 and total < qty * (1.0 - 1e-12):  # the venue ran out, as a market order
            g = replace(g, requested=qty, unfilled=qty - g.filled)
        else:
            g = replace(g, requested=qty)
        return g

    def _settle_fee(self, run, st) -> None:
        """With a liquidation fee, give the fund what the settlement gave the traders.

        The accounts settle a whole close's unsold units with the rest of it: their value
        carried at the last price, ``c = s u (P - B)``, is added to the trader's equity on the
        sold units ``t = s k (A - B)`` (``k`` units sold at ``A``, each position its own)
        before the fee is taken and the rest handed back. But those units belong to the fund
        from ``B`` on: the fee is ``min(charge, t)``, the trader gets ``t`` less it, and ``c``
        goes to the fund. This moves the difference (USD, per close, vectorised) from
        ``returned_to_traders`` to the fund and ``to_fund``."""
        o = self.orders
        if self.charges is None or o is None:
            return
        keep = o["whole"] & (o["close"] > 0)
        if not keep.any():
            return
        s = float(run.accounts.sign)
        fill = st.fill
        q, k, b = o["close"][keep], o["sold"][keep], o["bankrupt"][keep]
        a = np.where(k > 0, o["price"][keep], b)
        mark = fill.last_price if fill.filled > 0 else st.p_before
        frac = np.minimum(k / q, 1.0)
        t = s * k * (a - b)
        charge = np.where(k > 0, self.charges.fee(frac, q, a), 0.0)
        c = s * (q - k) * (mark - b)
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
        sold_short = run.accounts.inventory - self.inventory_before  # the orders' unsold units
        took = sold_short + self.gap_qty
        if took > 0:
            value = self.gap_value
            o = self.orders
            if sold_short > 0 and o is not None:  # each whole close's unsold units at its B
                left = np.where(o["whole"], o["close"] - o["sold"], 0.0)
                value += float((left * o["bankrupt"]).sum())
            self.values.update(fund_took_qty=took, fund_took_price=value / took)
            if self.vault:
                self.values.update(n_backstop=self.n_vault, backstop_qty=self.gap_qty)
            else:
                self.values["fund_gap_qty"] = self.gap_qty
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
        run.react(st, but=self)  # the others react to the sale (arbitrage, the rebound)
        st.pending = run.pending()
        if st.pending == 0 and not any(m.keeps_going(run)
                                       for m in run.active_mechanisms):
            st.end = "fixed_point"
        elif run.round >= run.max_rounds:
            st.end = "max_rounds"

    def record(self, run, st) -> dict:
        out = dict(self.values)
        out["fund_inventory"] = self.held
        out["backstop"] = self.vault
        out["limited"] = not self.vault
        self.values = {}
        return out

    # ------------------------------------------------------------------ words
    @staticmethod
    def _who(rec) -> str:
        """Who holds what was taken over: the liquidator vault ("backstop") or the fund."""
        return "the liquidator vault" if rec.backstop else "the insurance fund"

    @classmethod
    def round_sentence(cls, rec) -> str | None:
        from ..narration import count, money, price, units

        if rec.round == 0 or rec.n_liquidated or not rec.fund_sold_qty or rec.halted:
            return None
        verb = "sells" if rec.direction == "down" else "buys back"
        text = (f"Round {count(rec.round)}: nobody is liquidated; {cls._who(rec)} {verb} "
                f"{units(rec.fund_sold_qty)} of the inventory it took over, at "
                f"{price(rec.fund_sold_price)} on average, which moves the price to "
                f"{price(rec.price_after)}; "
                + (f"it still holds {units(rec.fund_inventory)}." if rec.fund_inventory
                   else "it holds none now."))
        if rec.bad_debt_round > 0:
            text += (f" Its inventory lost {money(-rec.fund_inventory_pnl)} this round, more "
                     f"than it had: {money(rec.bad_debt_round)} of it is bad debt.")
        return text

    @staticmethod
    def fill_words(rec, moved: str) -> str | None:
        """A round whose limited orders could not trade at all: the limits stopped them, not
        an empty venue."""
        from ..narration import price

        if (rec.backstop or rec.filled_qty > 0 or not rec.fund_took_qty
                or rec.unfilled_qty > 0):
            return None
        return (f"no liquidation order could trade: every bankruptcy price was beyond the "
                f"{rec.venue}'s best price, so nothing was sold and the price stayed at "
                f"{price(rec.price_after)}.")

    @staticmethod
    def order_words(rec) -> str | None:
        """Phase mode's liquidate stage: limited orders, one a position, sent together."""
        if not rec.limited:
            return None
        kind = "sells" if rec.direction == "down" else "buys"
        return (f"{kind} limited at each position's own bankruptcy price, sent together as "
                f"one")

    @staticmethod
    def _in_play(rec) -> bool:
        return bool(rec.fund_took_qty or rec.fund_inventory or rec.fund_sold_qty
                    or rec.fund_inventory_pnl)

    @classmethod
    def loss_words(cls, rec) -> str | None:
        """Limit orders ("bankruptcy"): no position closes beyond its bankruptcy price, so a
        loss to the fund comes from the units it took over, carried at the new price, which
        :meth:`sentence` says after the takeover: the core's "closed beyond their bankruptcy
        price" sentence is left out ("") whenever the fund's inventory played a part. A
        backstop vault: market orders can close beyond it (the core's words stay, None),
        unless the round's bad debt came from the vault's inventory alone (""). None (the
        core's words) otherwise."""
        if not cls._in_play(rec):
            return None
        if not rec.backstop:
            return ""
        return "" if rec.bad_debt_round > 0 and rec.to_fund >= 0 else None

    @classmethod
    def sentence(cls, rec) -> str:
        from ..narration import money, plural, price, units

        text, who = "", cls._who(rec)
        if rec.fund_took_qty:
            gap, vault = rec.fund_gap_qty, rec.backstop_qty
            rest = rec.fund_took_qty - gap - vault
            parts = []
            if vault > 0:
                parts.append(f"{plural(rec.n_backstop, 'position')} whose equity was below the "
                             f"backstop threshold (a share of maintenance margin: two thirds on "
                             f"Hyperliquid), {units(vault)}, with their margin, off the "
                             f"{rec.venue}")
            if gap > 0:
                parts.append(f"{units(gap)} of positions whose bankruptcy price the price had "
                             f"already passed (never sent to the {rec.venue})")
            if rest > 1e-9 * rec.fund_took_qty:
                parts.append(f"{units(rest)} the orders could not "
                             f"{'sell' if rec.direction == 'down' else 'buy'}"
                             + ("" if rec.backstop else " within their bankruptcy prices"))
            both = len(parts) > 1
            text += (f" {who[:1].upper() + who[1:]} took over {' and '.join(parts)}"
                     + (f", {units(rec.fund_took_qty)} in all," if both else "")
                     + f" at {price(rec.fund_took_price)} (their bankruptcy price on average), "
                     f"and holds them.")
        if rec.fund_sold_qty and rec.n_liquidated:
            verb = "sold" if rec.direction == "down" else "bought back"
            text += (f" {who[:1].upper() + who[1:]} {verb} {units(rec.fund_sold_qty)} of its "
                     f"inventory at {price(rec.fund_sold_price)} on average, taking the price "
                     f"to {price(rec.price_after)}; it holds "
                     f"{units(rec.fund_inventory) if rec.fund_inventory else 'none now'}, and its "
                     f"inventory {'gained' if rec.fund_inventory_pnl >= 0 else 'lost'} "
                     f"{money(abs(rec.fund_inventory_pnl))} this round.")
        if rec.n_liquidated and cls._in_play(rec) and not rec.backstop:
            if rec.bad_debt_round > 0:
                text += (f" No position was closed beyond its bankruptcy price, but what the "
                         f"fund took over is worth less at the new price than it paid, and the "
                         f"fund could not cover {money(rec.bad_debt_round)} of that loss: that "
                         f"is bad debt.")
            elif rec.to_fund < 0:
                text += (f" No position was closed beyond its bankruptcy price; what the fund "
                         f"took over is worth less at the new price than it paid, so the "
                         f"round's closes cost it {money(-rec.to_fund)} net.")
        elif rec.n_liquidated and rec.backstop and rec.bad_debt_round > 0 and rec.to_fund >= 0:
            text += (f" What the liquidator vault took over is worth less at the new price than "
                     f"it paid, and it could not cover {money(rec.bad_debt_round)} of that loss: "
                     f"that is bad debt.")
        return text

    @staticmethod
    def notes(rec) -> list[str]:
        out = []
        if rec.n_backstop:
            out.append("vault takes over")
        elif rec.fund_took_qty:
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
        who = "liquidator vault" if history[-1].backstop else "insurance fund"
        return f"; the {who} still holds {units(held)} it took over"
