"""The venue protocol: what the cascade, the charts and the analysis may ask of a market venue.

Issue 11: the cascade trades on a *venue*, not on an :class:`~marginloops.orderbook.OrderBook`
in particular. Two venues implement this protocol: the limit order book
(:mod:`marginloops.orderbook`) and the constant-product pool (:mod:`marginloops.pool`).
Everything outside a venue's own module uses only these names.

One more method is optional (both venues here have it; the mark-price mechanism calls it when
present): ``requote(side) -> float``, market makers moving ``side`` back next to the other
side's best after a move left it behind (a book's asks after a crash); it returns how far that
side's best moved, USD (a pool: 0, its bid and ask move together).
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np

from .orderbook import Fill

__all__ = ["Fill", "Venue"]


@runtime_checkable
class Venue(Protocol):
    """A market a cascade can trade on (numpy only; every quantity in units of the coin,
    every price in USD).

    Trading returns a :class:`~marginloops.orderbook.Fill`; running out of liquidity is an
    outcome (``Fill.unfilled > 0``), never an error.
    """

    #: What the venue is called in words ("book", "pool"): the narration says "into the pool".
    kind: str

    # ---- reading
    @property
    def best_bid(self) -> float | None:
        """The price a sell of one tiny unit would get (None when nothing can be sold)."""

    @property
    def best_ask(self) -> float | None:
        """The price a buy of one tiny unit would pay (None when nothing can be bought)."""

    def units_left(self, side: str) -> float:
        """Units that ``side`` ("bid": buyers, "ask": sellers) can still absorb in all."""

    def depth_profile(self, side: str, lo: float, hi: float) -> tuple[np.ndarray, np.ndarray]:
        """Resting depth of ``side`` between the prices ``lo`` < ``hi``, as ``(prices, units)``,
        best first: the units a market order would trade at (about) each price on its way
        through that range. For a book these are its levels; for a pool, a fine grid."""

    # ---- trading: a quantity, or to a price
    def market_sell(self, qty: float) -> Fill:
        """Sell ``qty`` units (>= 0) to the bid side."""

    def market_buy(self, qty: float) -> Fill:
        """Buy ``qty`` units (>= 0) from the ask side."""

    def sell_through(self, limit: float) -> Fill:
        """Sell until the bid side's price is ``limit`` (a shock down to ``limit``)."""

    def buy_through(self, limit: float) -> Fill:
        """Buy until the ask side's price is ``limit`` (a squeeze up to ``limit``)."""

    # ---- liquidity providers
    def refill(self, side: str, qty: float, at: str = "touch") -> float:
        """Put back up to ``qty`` units of liquidity on ``side``; returns the units placed."""

    def withdraw(self, side: str, fraction: float, within: float) -> float:
        """Remove ``fraction`` of ``side``'s liquidity out to the price ``within``; returns the
        units removed."""

    def copy(self) -> Venue:
        """An independent copy: trading on it leaves this venue untouched."""
