"""The explorer's venue chart, chosen by the venue's ``kind`` from :data:`VENUE_PANELS`.

A panel holds the chart that stands for the venue in :class:`~marginloops.ui.explorer.
CascadeExplorer` and knows how the venue shows a round's trade: an order book draws its resting
orders and the levels the order took (:class:`BookPanel`), a constant-product pool its point on
the curve ``x·y = k`` and the path the trade took along it (:class:`PoolPanel`). The explorer
calls the same five methods whatever the venue; a new kind of venue adds a panel class and one
entry in :data:`VENUE_PANELS`.
"""

from __future__ import annotations

import numpy as np

from .. import narration as say
from ..orderbook import Fill
from . import style
from .cascade_charts import BookChart
from .chartkit import caption_html
from .pool import ReservesChart

__all__ = ["BookPanel", "PoolPanel", "VENUE_PANELS", "panel_for", "record_fill", "taken_words"]


def taken_words(previous: int | None = None) -> str:
    """The book chart's key for its "taken" layer: this round's orders, or in phase mode, from
    "check margins" until the walk, the previous round's (round ``previous``)."""
    if previous is None:
        return "taken by this round's orders"
    return f"taken by the previous round's orders (round {previous})"


def record_fill(rec) -> Fill:
    """The venue trade of record ``rec`` as a :class:`~marginloops.orderbook.Fill` (the levels
    it took, best first), for the pool chart, which draws a trade from its Fill."""
    qty, prices = np.asarray(rec.book_qty, float), np.asarray(rec.book_prices, float)
    filled = float(qty.sum())
    avg = float((prices * qty).sum() / filled) if filled > 0 else float("nan")
    last = float(prices[-1]) if prices.size else float("nan")
    return Fill(side="sell" if rec.direction == "down" else "buy", requested=filled,
                filled=filled, unfilled=0.0, avg_price=avg, last_price=last,
                level_prices=prices, level_qty=qty)


class BookPanel:
    """An order book: its depth near the price (:class:`BookChart`), the levels each round's
    order took, and the price as a dashed line."""

    kind = "book"
    #: Phase mode's third stage: the order walks the book.
    trade_stage = "walk the book"

    def __init__(self, venue=None):
        self.chart = BookChart()

    def load(self, cascade, view) -> None:
        """A new run: fit the chart to ``view`` and draw ``cascade``'s book."""
        self.chart.reset(cascade, view)

    def show_trade(self, cascade, rec) -> None:
        """The book after ``rec``'s order (None: no order to mark), the key naming this
        round's orders."""
        self.chart.show_walk(cascade.book, rec)
        self.label_taken()

    def label_taken(self, previous: int | None = None) -> None:
        """The key says whose orders the "taken" layer shows: this round's, or (round
        ``previous``) the previous round's, while phase mode has not walked yet."""
        key = caption_html((style.BLUE, "▆", "orders resting in the book (shaded)"),
                           (style.VERMILLION, "▮", taken_words(previous)),
                           (style.BLACK, "┆", "price (dashed)"))
        if self.chart.caption.value != key:
            self.chart.caption.value = key

    def set_price(self, price: float) -> None:
        """The dashed price line moves to ``price``."""
        self.chart.set_price(price)

    def trade_sentence(self, cascade, rec) -> str:
        """Phase mode's third stage in words: the order walking the book."""
        return say.narrate_walk(rec)


class PoolPanel:
    """A constant-product pool: its reserves curve (:class:`ReservesChart`), the pool's point
    and the path of the round's trade along the curve. The point is the price: no price line."""

    kind = "pool"
    #: Phase mode's third stage: a pool has no book to walk; the order trades with it.
    trade_stage = "trade with the pool"

    def __init__(self, venue):
        self.chart = ReservesChart(venue)
        self._run = None  # the pool of the run the chart's frame was fitted to

    def load(self, cascade, view) -> None:
        """A new run: the frame is fitted afresh at its first drawing; the point's label
        quotes the price the run starts from, the pool's bid for a crash or its ask for a
        squeeze, so it agrees with the status line."""
        self.chart.quote_side = "sell" if cascade.direction == "down" else "buy"
        self.chart.reset_frame()

    def show_trade(self, cascade, rec) -> None:
        """Where the pool stands on its curve and the path ``rec``'s trade took along it (None:
        no trade to show). When market makers refilled the pool after the trade
        (``resilience``: both reserves grow, the price stays), the chart shows the pool as the
        trade left it, so the path is the trade's; the next round's path starts from the
        refilled pool."""
        if self._run is not cascade.venue:  # a new run (reset): a new frame
            self._run = cascade.venue
            self.chart.reset_frame()
        traded = rec is not None and rec.filled_qty > 0
        pool = cascade.venue
        if traded and rec.refilled > 0 and pool.base_reserve > 0:
            pool = pool.copy()  # undo the refill: x·(1 - f), y·(1 - f), same price
            pool.withdraw(cascade.venue_side, rec.refilled / pool.base_reserve, 0.0)
        self.chart.pool = pool
        self.chart.update(record_fill(rec) if traded else None)

    def label_taken(self, previous: int | None = None) -> None:
        """Nothing to relabel: the pool chart draws one trade, the round's."""

    def set_price(self, price: float) -> None:
        """Nothing to move: the pool's point is its price."""

    def trade_sentence(self, cascade, rec) -> str:
        """Phase mode's third stage in words: the trade with the pool and its new price (an
        auction, or no trade, is told as the book's walk is)."""
        if rec.filled_qty <= 0 or getattr(rec, "uniform_price", False):
            return say.narrate_walk(rec)
        into = "sold into" if rec.direction == "down" else "bought from"
        return (f"Trade with the pool: {say.units(rec.filled_qty)} {into} the pool for "
                f"{say.money(rec.filled_qty * rec.avg_fill_price)}, an average fill of "
                f"{say.price(rec.avg_fill_price)} (slippage {say.percent(rec.slippage)}); its "
                f"price y/x is now {say.price(cascade.venue.spot)}, the price the next "
                f"stage sets.")


#: The panel class for each kind of venue (:attr:`marginloops.venue.Venue.kind`).
VENUE_PANELS = {BookPanel.kind: BookPanel, PoolPanel.kind: PoolPanel}


def panel_for(venue):
    """A new panel for ``venue``, by its ``kind``; a ValueError for a kind with no panel."""
    kind = getattr(venue, "kind", None)
    if kind not in VENUE_PANELS:
        raise ValueError(f"venue kind must be one of {sorted(VENUE_PANELS)} to be drawn, got "
                         f"{kind!r}")
    return VENUE_PANELS[kind](venue)
