"""Index and mark price, and the arbitrage between the perpetual and its index venues
(issue 12, items 1 and 4's price side).

Every large venue checks margins on a *mark price* built from an *index* of spot venues, not
on the last trade of its own book; arbitrageurs, trading between the perpetual and the spot
venues, pull the two together, so a crash on the perpetual wicks and rebounds while the index
moves a little.

What the venues document
------------------------
**Index (Binance)**: a weighted mean of spot venues' prices; "When the latest price of a
certain exchange deviates more than 5% from the median price of all price sources, the
exchange weight will be set to zero for weighting purposes", and "If more than one exchange
shows greater than 5% deviation, the median price of all price sources will be used as the
index value instead of the weighted average" (Binance FAQ "Price Index",
https://www.binance.com/en/support/faq/547ba48141474ab3bddc5d7898f97928, 2020 text, the same
in "Mark Price in Perpetual Futures Contract",
https://www.binance.com/en/support/faq/360033525071). Binance's later FAQ ("Price Index of
USDⓈ-M Futures", https://www.binance.com/en/support/faq/detail/66607f4c63e748568f503fcbd8f08965,
read on a mirror of that page) caps a deviating source instead: "If the latest price of a
specific exchange deviates by more than 3% from the median price of all sources, the value will
be immediately capped at either 1.03 times or 0.97 times the median price ... BTC & ETH indexes
are 1%". The model keeps the 5% drop the issue names (:func:`binance_index`).

**Mark (Binance, Bybit)**: "Mark Price = Median (Price 1, Price 2, Contract Price); Price 1 =
Price Index * (1 + Last Funding Rate * (Time Until Funding / 8)); Price 2 = Price Index +
Moving Average (...Basis)", the basis being "[(Bid1 + Ask1)/2 - PI]", "the average of 30 data
points" (Binance FAQ "Mark Price in COIN-Margined Perpetual Contracts",
https://www.binance.com/en/support/faq/fff6ec1b3f5845d19f1fb924644a0877; since 18 September
2025 the USDⓈ-M basis is a "30-second basis ... average of 30 data points in 30 seconds",
Binance announcement as reported at https://www.binance.bh/square/post/29758881844449). Bybit
documents the same median: "Mark Price = Median (Price 1, Price 2, Last Traded Price); Price 1
= Index Price × [1 + Last Funding Rate × (Time Until Funding /8)]; Price 2 = Index Price +
Moving Average (5-minute Basis); Moving Average (5-minute Basis) = Moving Average [(Bid1 +
Ask1)/2 − Index Price], which measures every second in a 5-minute interval" (Bybit help
"Mark Price Calculation (Perpetual Contract)",
https://testnet.bybit.com/en-US/help-center/s/article/What-is-Dual-Price-mechanism).

**Mark (Hyperliquid)**: "Mark price is the median of the following prices: 1. Oracle price
plus a 150 second exponential moving average (EMA) of the difference between Hyperliquid's mid
price and the oracle price 2. The median of best bid, best ask, last trade on Hyperliquid 3.
Median of Binance, OKX, Bybit, Gate IO, MEXC perp mid prices with weights 3, 2, 2, 1, 1,
respectively", the EMA updating as ``numerator -> numerator * exp(-t / 2.5 minutes) + sample *
t`` over ``denominator -> denominator * exp(-t / 2.5 minutes) + t``; "Mark price is updated
whenever validators publish new oracle prices" (Hyperliquid docs, "Robust price indices",
https://hyperliquid.gitbook.io/hyperliquid-docs/trading/robust-price-indices). The oracle is
"the weighted median of Binance, OKX, Bybit, Kraken, Kucoin, Gate IO, MEXC, and Hyperliquid
spot mid prices" (https://hyperliquid.gitbook.io/hyperliquid-docs/hypercore/oracle).

The model (``Scenario(index_venues=..., price_source=..., arbitrage=..., mark_rule=...)``)
---------------------------------------------------------------------------------------
- **Index venues** are spot order books of their own 1% depth and weight, built like the
  perpetual's book (same price, shape, range and tick). Nothing but the arbitrage trades on
  them: the shock and the liquidations hit the perpetual only.
- **The index.** Rule "binance": :func:`binance_index` of each venue's
  last traded price (its mid before its first trade). Rule "hyperliquid": the oracle, the
  :func:`weighted_median` of the venues' mids. ``index_price`` records it.
- **The mark** is computed after each round (after the arbitrage) from one *basis sample*
  per round, the perpetual's mid less the index (a round stands for the venues' sampling
  time: a round is not a fixed number of seconds, so ``basis_window`` is in rounds). The
  window starts full of the basis before the shock (a calm market before the crash).
  "binance": median of (index × (1 + funding × time to funding), index + the mean of the
  last ``basis_window`` basis samples, last price), with the last funding rate
  :data:`LAST_FUNDING_RATE` and half an interval to the next funding
  (:data:`TIME_TO_FUNDING`). "hyperliquid": median of (oracle + EMA of the basis, with
  ``exp(-1 / basis_window)`` per round as the docs' ``exp(-t / 2.5 minutes)``; median of the
  perpetual's best bid, best ask and last price; the other venues' mid). This model has no
  other perpetual venue: the spot venues stand in for them, so the third input is their
  weighted median mid, the oracle itself.
- **Updates.** The mark is published every ``mark_interval`` rounds (after rounds 0, N,
  2N, ...); in between, margins are checked on the last one published (a stale mark). When
  the stale mark reaches nobody but the mark due at the next update would, the run does not
  stop at that fixed point: it goes on (rounds in which nobody is liquidated while arbitrage
  goes on) until the update. A stale mark can liquidate what a timely one would not: with
  partial liquidation, a mark left at a low while arbitrage lifts the price keeps cutting the
  positions it reached (``tests/test_mark_price.py`` works one by hand). Vega's issue
  tracker records the pattern (a bug report, not a documented mainnet incident): with "a
  mark price update frequency > 1 block duration", a trader who bought at 60 while the mark
  was still 50 was liquidated when the mark next updated to 60 (Vega issue
  11481, https://github.com/vegaprotocol/vega/issues/11481, found by Vega's market-simulation
  fuzz tests; its network parameter ``network.markPriceUpdateMaximumFrequency``,
  https://github.com/vegaprotocol/vega/issues/6869).
- **The check.** ``price_source="mark"`` checks margins on the mark
  (:meth:`MarkPrice.check_price`); ``"last"`` (the default) on the last traded price, as
  before; with index venues the index and mark are still computed and recorded.
- **Market makers re-quote.** A static book leaves the side away from a move at its old
  prices (after a crash, asks above the old price). After the round's trade, and after each
  arbitrage trade, market makers move that side next to the other
  (:meth:`marginloops.OrderBook.requote`: every level moves by the same amount and keeps its
  size, its best one tick from the other side's best); on the index venues too. A pool needs
  nothing (its bid and ask move together). So the perpetual's mid follows its last price.
- **Arbitrage** (``arbitrage`` a in [0, 1]): after the round's liquidation trade, when the
  perpetual's last price P is below the index I and its best ask is too, arbitrageurs buy
  the perpetual and sell the same units on the index venues, split by weight (above: the
  reverse), just enough that the gap ``I - P`` shrinks to ``(1 - a)`` of what it was (the
  smallest quantity that does, found by bisection, at most 42 trials, each reading the books
  without trading (:meth:`marginloops.OrderBook.reach`; a pool is traded on a copy); within
  the venues' ticks). The last price is then the arbitrage buy's last fill,
  so the round's ``price_after`` shows the rebound and its ``last_fill_price`` the wick.
  ``arb_qty`` records the units bought on the perpetual (sold: negative). With arbitrage on,
  the mechanism moves the price both ways (:attr:`MarkPrice.moves_both_ways`): the core then
  liquidates the opposite side's positions a rebound reaches.
- **Order among the reactions**: the arbitrage and the mark come first among the after-trade
  reactions; quote withdrawal and an insurance fund's sale come after them in the same round,
  and reach the index through the next round's arbitrage.
"""

from __future__ import annotations

import math
from collections import deque

import numpy as np

from .._checks import is_real
from ..params import Control, Param, show
from ..venue import Venue
from . import Mechanism, RecordField, TableColumn

#: Binance drops a source more than 5% from the median of all sources.
OUTLIER_BAND = 0.05


def binance_index(prices, weights, band=OUTLIER_BAND) -> float:
    """The weighted mean of ``prices`` by ``weights``, after Binance's outlier rule: a price
    more than ``band`` (5%) from the median of all prices gets weight 0; if more than one
    does, the index is that median.

    >>> binance_index([100.0, 99.0, 90.0], [1, 1, 2])  # 90 is 9.1% from the median 99
    99.5
    >>> binance_index([100.0, 80.0, 120.0], [1, 1, 1])  # two outliers: the median
    100.0
    """
    p = np.asarray(prices, dtype=float)
    w = np.asarray(weights, dtype=float)
    med = float(np.median(p))
    out = np.abs(p - med) > band * med
    if out.sum() > 1:
        return med
    keep = ~out
    return float(w[keep] @ p[keep] / w[keep].sum())


def weighted_median(prices, weights) -> float:
    """The price at which the venues' weights, in price order, reach half their total; when
    they reach exactly half at one price, the mean of it and the next (so equal weights give
    the ordinary median).

    >>> weighted_median([100.0, 99.0, 90.0], [3, 2, 2])  # sorted 90, 99, 100: 2, 4 of 7
    99.0
    >>> weighted_median([100.0, 90.0], [1, 1])
    95.0
    """
    p = np.asarray(prices, dtype=float)
    w = np.asarray(weights, dtype=float)
    order = np.argsort(p, kind="stable")
    p, cum = p[order], np.cumsum(w[order])
    half = cum[-1] / 2.0
    k = int(np.searchsorted(cum, half * (1 - 1e-12), side="left"))
    if abs(cum[k] - half) <= 1e-12 * cum[-1] and k + 1 < len(p):
        return float((p[k] + p[k + 1]) / 2.0)
    return float(p[k])


def median3(a, b, c) -> float:
    """The middle one of three numbers.

    >>> median3(3.0, 1.0, 2.0)
    2.0
    """
    return float(max(min(a, b), min(max(a, b), c)))


#: "last": margins are checked at the last traded price (the default); "mark": on the mark.
PRICE_SOURCES = ("last", "mark")
#: The documented mark rules: Binance's and Bybit's median, or Hyperliquid's.
MARK_RULES = ("binance", "hyperliquid")
#: The last funding rate Price 1 uses: 0.01% per 8 hours, the rate a perpetual pays when it
#: trades at the index (the premium is 0 and the rate is the interest rate of 0.01% per 8 h:
#: "Funding Rate (F) = Average Premium Index (P) + clamp (interest rate - Premium Index (P),
#: 0.05%, -0.05%)", Binance, see https://www.binance.bh/square/post/29758881844449).
LAST_FUNDING_RATE = 0.0001
#: Time until the next funding as a fraction of the funding interval: half, on average.
TIME_TO_FUNDING = 0.5
#: Bisection trials the arbitrage may take: doublings of the first guess, then halvings.
MAX_DOUBLINGS, MAX_HALVINGS = 12, 30

#: The explorer rows of the parameters: shown under the panel's index-venues menu (the
#: Scenario's ``index_venues``, a row of the interface's own), only while index venues are set,
#: since without them "mark" and arbitrage are refused.
CONTROLS = {
    "price_source": Control(
        "Index and arbitrage", "Margins checked on",
        "The price the liquidation engine compares with each liquidation price: the last trade "
        "on this book, or a mark price built from an index of spot venues", kind="radio",
        short="margins checked on {}", off="last", under="index_venues",
        options=(("the last trade", "last", "The last traded price of this book"),
                 ("the mark price", "mark", "A median of the index of spot venues, the index "
                  "plus the average basis, and the last trade (needs index venues)"))),
    "arbitrage": Control(
        "Index and arbitrage", "Arbitrage (%)", "The share of the gap between this book's "
        "price and the index that arbitrageurs close after each round (needs index venues)",
        lo=0.0, hi=100.0, step=5.0, per_unit=0.01, off=0.0, under="index_venues",
        short="arbitrage {}%"),
    "mark_rule": Control(
        "Index and arbitrage", "Mark price rule", "How the mark price is built from the "
        "index: Binance's and Bybit's median, or Hyperliquid's", kind="radio",
        options=(("Binance / Bybit", "binance", "Median of the index with funding, the index "
                  "plus the average basis, and the last trade"),
                 ("Hyperliquid", "hyperliquid", "Median of the oracle plus the basis EMA, this "
                  "book's bid/ask/last, and the other venues' mid")), under="index_venues",
        short="{} mark rule"),
    "mark_interval": Control(
        "Index and arbitrage", "Mark update (rounds)", "How many rounds pass between "
        "two updates of the mark price (a stale mark in between)", lo=1.0, hi=20.0, step=1.0,
        integer=True, under="index_venues", short="mark updated every {} rounds"),
    "basis_window": Control(
        "Index and arbitrage", "Basis average (rounds)", "How many rounds of the basis "
        "(this book's mid less the index) the mark averages", lo=1.0, hi=50.0, step=1.0,
        integer=True, under="index_venues", short="basis over {} rounds"),
}
_PARAMS = (
    Param("price_source", "choice", "last", choices=PRICE_SOURCES,
          doc='"last" (margins are checked at the last traded price) or "mark" (on the mark '
              'price built from the index; needs index_venues)',
          control=CONTROLS["price_source"]),
    Param("arbitrage", "number", 0.0, lo=0, hi=1, fraction=True,
          doc="fraction of the gap between the perpetual and the index that arbitrageurs "
              "close after each round, [0, 1] (needs index_venues when above 0)",
          control=CONTROLS["arbitrage"]),
    Param("mark_rule", "choice", "binance", choices=MARK_RULES,
          doc='"binance" (Binance\'s and Bybit\'s median) or "hyperliquid" (Hyperliquid\'s '
              'median): how the mark is built from the index',
          control=CONTROLS["mark_rule"]),
    Param("mark_interval", "whole", 1, lo=1, hi=1000,
          doc="rounds between two updates of the mark price, [1, 1000] (1: every round)",
          control=CONTROLS["mark_interval"]),
    Param("basis_window", "whole", 5, lo=1, hi=1000,
          doc="rounds of the basis (perpetual mid less index) the mark averages, [1, 1000] "
              "(the window of Binance's moving average, the time constant of Hyperliquid's "
              "EMA)",
          control=CONTROLS["basis_window"]),
)


def _price(x) -> str:
    from ..narration import price

    return price(x)


def _finite(x) -> bool:
    return isinstance(x, float) and math.isfinite(x)


def _mid(venue) -> float | None:
    bid, ask = venue.best_bid, venue.best_ask
    if bid is None or ask is None:
        return None
    return (bid + ask) / 2.0


def _requote(venue, side) -> float:
    """Market makers move ``side`` next to the other side's best (a venue without the optional
    ``requote`` of the venue protocol is left as it is)."""
    requote = getattr(venue, "requote", None)
    return requote(side) if requote is not None else 0.0


def _trial_last(venue, side, qty):
    """The last fill of a market order of ``qty`` on ``side`` ("ask": a buy, "bid": a sell),
    without trading (a venue without ``reach`` is traded on a copy); None if nothing fills."""
    reach = getattr(venue, "reach", None)
    if reach is not None:
        return reach(side, qty)
    copy = venue.copy()
    f = copy.market_buy(qty) if side == "ask" else copy.market_sell(qty)
    return f.last_price if f.filled > 0 else None


def _requoted_mid(book, s, last) -> float:
    """A book's mid once an order sold (s = 1; bought, s = -1) down (up) to the level
    ``last`` and market makers re-quoted the other side one tick away (``last`` None: no
    trade). The traded side's best is taken as ``last`` (a level the order emptied exactly
    leaves the next one: a trial's approximation, the trade itself is exact)."""
    mid = _mid(book)
    if last is None:
        return mid
    bid, ask = book.best_bid, book.best_ask
    tick = getattr(book, "tick", None)
    if not tick:
        tick = abs(ask - bid) if bid is not None and ask is not None else 0.0
    # (the other side emptied: market makers re-quote it one tick away)
    if s > 0:
        return (last + (last + tick if ask is None else min(ask, last + tick))) / 2.0
    return (last + (last - tick if bid is None else max(bid, last - tick))) / 2.0


def _check_books(books) -> tuple:
    """``books`` as a tuple of (venue, weight > 0) pairs, or ValueError naming index_books."""
    if isinstance(books, (str, bytes)) or not hasattr(books, "__iter__"):
        raise ValueError(f"index_books must be a sequence of (venue, weight) pairs, got "
                         f"{show(books)}")
    out = []
    for i, pair in enumerate(books):
        if not isinstance(pair, (tuple, list)) or len(pair) != 2:
            raise ValueError(f"index_books must be a sequence of (venue, weight) pairs, got "
                             f"{show(pair)} as pair {i}")
        venue, weight = pair
        if not isinstance(venue, Venue):
            raise ValueError(f"index_books venue {i} must be a venue (an OrderBook), got "
                             f"{type(venue).__name__}")
        if not is_real(weight) or not (0 < float(weight) < math.inf):
            raise ValueError(f"index_books weight must be a number in (0, inf), got "
                             f"{show(weight)} in pair {i}")
        if _mid(venue) is None:
            raise ValueError(f"index_books venue {i} must have bids and asks (its mid is a "
                             f"price of the index), got {venue!r}")
        out.append((venue.copy(), float(weight)))
    return tuple(out)


class MarkPrice(Mechanism):
    name = "mark_price"
    title = "mark-price checks"
    params = _PARAMS
    #: Its Cascade keyword arguments: its params, and the index venues as ((venue, weight),
    #: ...) (the scenario builds them from ``index_venues``).
    cascade_kwargs = {**{p.name: p.default for p in _PARAMS}, "index_books": ()}
    record_fields = (
        RecordField("index_price", float, float("nan"), "the index after the round (the "
                    "Binance-rule weighted mean of the index venues' last prices, or the "
                    "Hyperliquid oracle, their weighted median mid); NaN without index venues"),
        RecordField("mark_price", float, float("nan"), "the mark price after the round (the "
                    "one the next round's check uses when price_source is \"mark\"; between "
                    "updates, the last one published); NaN without index venues"),
        RecordField("check_price", float, float("nan"), "the price this round's margin check "
                    "used (the mark, or the last traded price price_before); NaN in round 0 "
                    "and without index venues"),
        RecordField("arb_qty", float, 0.0, "units arbitrageurs bought on the perpetual this "
                    "round and sold on the index venues (negative: sold on the perpetual and "
                    "bought on the index venues)"),
    )
    table_columns = (TableColumn(
        "mark", "mark / index (USD)",
        lambda r, p: f"{_price(r.mark_price)} / {_price(r.index_price)}",
        lambda history: any(_finite(r.index_price) for r in history), after="price",
        compare_header="mark / index"),)

    def __init__(self, **values):
        super().__init__(**values)
        self.index_books = _check_books(self.index_books)
        if not self.index_books:
            if self.price_source == "mark":
                raise ValueError(
                    'price_source "mark" checks margins on a mark price built from an index of '
                    "spot venues, so it needs index venues, got index_books () (none): give "
                    "index_books (Scenario: index_venues, e.g. ((2e6, 1), (1e6, 1))) or "
                    'choose price_source "last"')
            if self.arbitrage > 0:
                raise ValueError(
                    f"arbitrage {self.arbitrage:g} trades between the perpetual and its index "
                    "venues, so it needs index venues, got index_books () (none): give "
                    "index_books (Scenario: index_venues) or set arbitrage 0")

    @classmethod
    def from_scenario(cls, scenario) -> dict:
        out = {p.name: getattr(scenario, p.name) for p in _PARAMS}
        out["index_books"] = scenario.index_books()
        return out

    @property
    def active(self) -> bool:
        return bool(self.index_books)

    @property
    def moves_both_ways(self) -> bool:
        """True when arbitrage can lift the price back (its rebound reaches the other side)."""
        return self.active and self.arbitrage > 0

    # ------------------------------------------------------------------ state
    def reset(self, run) -> None:
        self.books = [b.copy() for b, _ in self.index_books]
        self.w = np.array([w for _, w in self.index_books])
        self.last = np.array([_mid(b) for b in self.books])  # each venue's last price
        self.index = self._index()
        b0 = self._basis(run.venue, run.price)
        self.samples = deque([b0] * self.basis_window, maxlen=self.basis_window)
        d = math.exp(-1.0 / self.basis_window)
        self.num, self.den = b0 / (1.0 - d), 1.0 / (1.0 - d)  # an EMA long at b0
        self.mark = self._mark_now(run)
        self.arb = 0.0

    def _prices(self, books, last) -> np.ndarray:
        """Each venue's price in the index: its last trade (Binance), its mid (Hyperliquid)."""
        if self.mark_rule == "binance":
            return last
        mids = [_mid(b) for b in books]
        return np.array([p if m is None else m for m, p in zip(mids, last, strict=True)])

    def _index(self, books=None, last=None) -> float:
        books = self.books if books is None else books
        last = self.last if last is None else last
        prices = self._prices(books, last)
        if self.mark_rule == "binance":
            return binance_index(prices, self.w)
        return weighted_median(prices, self.w)

    def _basis(self, venue, last) -> float:
        mid = _mid(venue)
        return (last if mid is None else mid) - self.index

    def _mark_now(self, run) -> float:
        """The mark from the index, the basis samples so far and the perpetual now."""
        p = run.price
        if self.mark_rule == "binance":
            price1 = self.index * (1.0 + LAST_FUNDING_RATE * TIME_TO_FUNDING)
            price2 = self.index + sum(self.samples) / len(self.samples)
            return median3(price1, price2, p)
        venue = run.venue
        bid, ask = venue.best_bid, venue.best_ask
        book = median3(p if bid is None else bid, p if ask is None else ask, p)
        others = weighted_median(self._prices(self.books, self.last), self.w)
        return median3(self.index + self.num / self.den, book, others)

    # ------------------------------------------------------------------ round stages
    def check_price(self, run) -> float | None:
        return self.mark if self.price_source == "mark" else None

    def after_trade(self, run, st) -> None:
        down = run.direction == "down"
        _requote(run.venue, "ask" if down else "bid")  # the side the round's trade left behind
        self.arb = self._arbitrage(run) if self.arbitrage > 0 else 0.0
        self.index = self._index()
        b = self._basis(run.venue, run.price)
        self.samples.append(b)
        d = math.exp(-1.0 / self.basis_window)
        self.num, self.den = self.num * d + b, self.den * d + 1.0
        if run.round % self.mark_interval == 0:
            self.mark = self._mark_now(run)

    def keeps_going(self, run) -> bool:
        """Arbitrage still closing the gap to the index (it traded last round), or a stale mark
        that reaches nobody while the update due at the end of the interval would: the run
        goes on (rounds in which nobody is liquidated and arbitrage goes on)."""
        if self.arbitrage > 0 and self.arb != 0.0:
            # Arbitrageurs traded last round and a gap is left: the rebound goes on (rounds in
            # which nobody is liquidated) until the gap is within the venues' ticks.
            return True
        if self.price_source != "mark" or self.mark_interval == 1:
            return False
        # (just after an update the mark now is the one published: nothing more to wait for)
        return run.accounts.pending(self._mark_now(run), run.surcharge()) > 0

    def halts(self, run) -> bool:
        # Nobody is within reach of the stale mark, but the update due would reach someone: a
        # quiet round of its own (nobody is liquidated; arbitrage goes on; the mark may update),
        # unless another mechanism plays this round (a circuit breaker's halt, a fund's sale).
        if not (self.keeps_going(run) and run.pending() == 0):
            return False
        others = (m for m in getattr(run, "active_mechanisms", ())
                  if m is not self and type(m).halts is not Mechanism.halts)
        return not any(m.halts(run) for m in others)

    def halt(self, run, st) -> None:
        """A round in which the stale mark reaches nobody: no liquidation; market makers and
        arbitrageurs act as after any round, and the mark is published if it is due."""
        st.check_price = run.check_price()
        run.path.append(run.price)
        st.fill = (run.venue.market_sell(0.0) if run.direction == "down"
                   else run.venue.market_buy(0.0))
        run.react(st)  # every mechanism's after-trade reaction: the arbitrage, the rebound
        st.pending = run.pending()
        active = getattr(run, "active_mechanisms", ())
        if st.pending == 0 and not any(m.keeps_going(run) for m in active):
            st.end = "fixed_point"
        elif run.round >= run.max_rounds:
            st.end = "max_rounds"

    def _trial_index(self, x, s) -> float:
        """The index if ``x`` units were sold (s = 1; bought, s = -1) on the index venues,
        split by weight, and market makers re-quoted: read from the books without trading
        (a venue without ``reach``, a pool, is traded on a copy)."""
        side = "bid" if s > 0 else "ask"
        last = self.last.copy()
        mids = np.empty(len(self.books))
        for j, book in enumerate(self.books):
            q = x * self.w[j] / self.w.sum()
            if getattr(book, "reach", None) is None:
                copy = book.copy()
                f = copy.market_sell(q) if s > 0 else copy.market_buy(q)
                if f.filled > 0:
                    last[j] = f.last_price
                mids[j] = _mid(copy) if _mid(copy) is not None else last[j]
                continue
            lp = book.reach(side, q)
            if lp is not None:
                last[j] = lp
            mids[j] = _requoted_mid(book, s, lp)
        if self.mark_rule == "binance":
            return binance_index(last, self.w)
        return weighted_median(mids, self.w)

    def _venues_after(self, x, s, books) -> tuple:
        """Sell (s = 1; buy, s = -1) ``x`` units on ``books``, split by weight; their new
        last prices. Trades on ``books`` (copies, for a trial)."""
        last = self.last.copy()
        for j, book in enumerate(books):
            q = x * self.w[j] / self.w.sum()
            f = book.market_sell(q) if s > 0 else book.market_buy(q)
            if f.filled > 0:
                last[j] = f.last_price
            _requote(book, "ask" if s > 0 else "bid")
        return last

    def _arbitrage(self, run) -> float:
        """Close ``arbitrage`` of the gap between the perpetual's last price and the index:
        the units bought on the perpetual (sold: negative)."""
        perp, p = run.venue, run.price
        index = self._index()
        gap = index - p
        if gap == 0.0:
            return 0.0
        s = 1.0 if gap > 0 else -1.0
        best = perp.best_ask if s > 0 else perp.best_bid
        if best is None or s * (index - best) <= 0:  # no unit to buy below the index
            return 0.0
        goal = (1.0 - self.arbitrage) * abs(gap)

        def trial(x):
            p_new = _trial_last(perp, "ask" if s > 0 else "bid", x)
            index_new = self._trial_index(x, s)
            return (s * (index_new - (p if p_new is None else p_new)) <= goal,
                    x > perp.units_left("ask" if s > 0 else "bid"))

        # First guess: the perpetual's units between its best and the price the goal asks.
        side = "ask" if s > 0 else "bid"
        aim = p + s * self.arbitrage * abs(gap)
        depth = getattr(perp, f"{side}_depth", None)  # a book sums its levels in place
        if depth is not None:
            hi = float(depth(max(aim, best) if s > 0 else min(aim, best)))
        else:
            lo_p, hi_p = (best, max(aim, best)) if s > 0 else (min(aim, best), best)
            hi = float(np.sum(perp.depth_profile(side, lo_p, hi_p)[1]))
        if not 0 < hi < math.inf:  # nothing in range, or a pool side without end
            left = perp.units_left(side)
            hi = max(left * 1e-6, 1e-9) if 0 < left < math.inf else 1.0
        lo = 0.0
        for _ in range(MAX_DOUBLINGS):
            ok, out = trial(hi)
            if ok or out:
                break
            lo, hi = hi, hi * 2.0
        for _ in range(MAX_HALVINGS):
            if hi - lo <= 1e-9 * hi:
                break
            mid = (lo + hi) / 2.0
            if trial(mid)[0]:
                hi = mid
            else:
                lo = mid
        f = perp.market_buy(hi) if s > 0 else perp.market_sell(hi)
        if f.filled <= 0:
            return 0.0
        self.last = self._venues_after(f.filled, s, self.books)
        run.price = f.last_price
        run.path[-1] = run.price
        _requote(perp, "bid" if s > 0 else "ask")  # the side the arbitrage left behind
        return s * f.filled

    def record(self, run, st) -> dict:
        out = {"index_price": self.index, "mark_price": self.mark,
               "check_price": st.check_price if st.round > 0 else float("nan"),
               "arb_qty": self.arb}
        self.arb = 0.0
        return out

    # ------------------------------------------------------------------ words
    @staticmethod
    def round_sentence(rec) -> str | None:
        """A round the mark mechanism played alone, nobody liquidated on the falling side
        (rising, in a squeeze): arbitrage going on while it still closes a gap to the index,
        its last such round (nothing left to close), or a stale mark that reaches nobody
        while the update due would."""
        from ..narration import count, price, units, within_reach

        if (rec.round == 0 or rec.n_liquidated or rec.filled_qty or rec.shock_qty
                or not _finite(rec.check_price) or not _finite(rec.index_price)
                or getattr(rec, "fund_sold_qty", 0.0) or getattr(rec, "halted", False)):
            return None
        on_mark = rec.check_price != rec.price_before
        at = (f"the mark price {price(rec.check_price)}" if on_mark
              else f"the price margins are checked at, {price(rec.check_price)},")
        side = rec.liquidated_side
        rebound = getattr(rec, "rebound_n_liquidated", 0)
        nobody = f"no {side} is liquidated" if rebound else "nobody is liquidated"
        text = f"Round {count(rec.round)}: {nobody}: {at} reaches no {side}'s liquidation price"
        later = bool(rebound or getattr(rec, "rebound_qty", 0.0))
        if rec.arb_qty:
            verb = "bought" if rec.arb_qty > 0 else "sold"
            where = ("" if later else f", which moves it from {price(rec.price_before)} to "
                     f"{price(rec.price_after)}")
            if not later and price(rec.price_before) == price(rec.price_after):
                where = f", which moves it by less than a cent, to {price(rec.price_after)}"
            text += (f", but arbitrageurs go on closing the gap to the index: they {verb} "
                     f"{units(abs(rec.arb_qty))} on the perpetual{where}.")
        elif rec.end_reason is not None:
            text += (", and arbitrageurs stop: the perpetual is as close to the index as the "
                     "books' ticks let them bring it.")
        else:
            due = ("its update at the end of this round reaches some"
                   if rec.mark_price != rec.check_price else "the next update would reach some")
            text += (f"; {'it was' if on_mark else 'the mark was'} published in an earlier "
                     f"round, and {due}.")
        if rebound:
            from . import MECHANISMS

            text += "".join(m.sentence(rec) for m in MECHANISMS if m.name == "rebound")
        text += (f" The index is {price(rec.index_price)} and the mark price now "
                 f"{price(rec.mark_price)}.")
        if rec.pending and rec.end_reason is None:
            text += within_reach(rec)
        return text

    @staticmethod
    def fill_words(rec, moved: str) -> str | None:
        """With arbitrage in the round, the order's own move ends at its last fill (the wick);
        the sentence then says how arbitrage moved the price back. An order that could not
        trade at all left the price where it was before the round (arbitrage moved it after):
        the other mechanisms' words for that, said of the price before."""
        from ..narration import percent, price, units

        if not rec.arb_qty:
            return None
        if rec.filled_qty <= 0:
            import dataclasses

            from . import MECHANISMS

            still = dataclasses.replace(rec, price_after=rec.price_before)
            return next((w for w in (m.fill_words(still, moved) for m in MECHANISMS
                                     if m.name != "mark_price") if w), None)
        down = rec.direction == "down"
        return (f"{'selling' if down else 'buying'} {units(rec.filled_qty)} "
                f"{'into' if down else 'from'} the {rec.venue} took the price "
                f"{percent(abs(rec.last_fill_price / rec.price_before - 1.0))} "
                f"{'lower' if down else 'higher'}, from {price(rec.price_before)} to its last "
                f"fill {price(rec.last_fill_price)} (average fill {price(rec.avg_fill_price)}, "
                f"slippage {percent(rec.slippage)}).")

    @staticmethod
    def sentence(rec) -> str:
        from ..narration import price, units

        if not _finite(rec.index_price):
            return ""
        text = ""
        if _finite(rec.check_price) and rec.check_price != rec.price_before:
            text += (f" Margins were checked on the mark price {price(rec.check_price)} while "
                     f"the last trade was {price(rec.price_before)}.")
        # where the arbitrage started: the round's own last fill (the wick), or the price
        # before the round when its order traded nothing; where it ended is said only when
        # nothing traded after it (a rebound's buy-back, a fund's sale say where they took it)
        start = (rec.last_fill_price if rec.filled_qty > 0 and _finite(rec.last_fill_price)
                 else rec.price_before)
        later = (getattr(rec, "rebound_qty", 0.0) or getattr(rec, "fund_sold_qty", 0.0))
        to = "" if later else f" to {price(rec.price_after)}"
        if rec.arb_qty > 0:
            text += (f" Arbitrageurs bought {units(rec.arb_qty)} on the perpetual, lifting it "
                     f"from {price(start)}{to}, and sold them on the index venues")
        elif rec.arb_qty < 0:
            text += (f" Arbitrageurs sold {units(-rec.arb_qty)} on the perpetual, pushing it "
                     f"from {price(start)}{to}, and bought them on the index venues")
        text += (": the" if rec.arb_qty else " The")
        text += (f" index is {price(rec.index_price)} and the mark price "
                 f"{price(rec.mark_price)}.")
        return text

    @staticmethod
    def notes(rec) -> list[str]:
        out = []
        if _finite(rec.check_price) and rec.check_price != rec.price_before:
            out.append("checked on the mark")
        if rec.arb_qty:
            out.append("arbitrage")
        return out
