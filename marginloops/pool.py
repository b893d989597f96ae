"""The constant-product pool: a second venue, an automated market maker with ``x·y = k``.

Holds :class:`ConstantProductPool`, which implements :class:`marginloops.venue.Venue` with the
swap rule of Uniswap v2 (fee taken on the input, kept in the pool), in closed forms.
"""

from __future__ import annotations

import math

import numpy as np

from ._checks import MAX_MAGNITUDE, check_int, check_number, readonly
from .orderbook import REFILL_PLACES, Fill

__all__ = ["FILL_LEVELS", "ConstantProductPool"]

#: Number of price steps a pool's :class:`~marginloops.orderbook.Fill` reports as its "levels".
FILL_LEVELS = 24
#: Grid points of :meth:`ConstantProductPool.depth_profile` by default.
PROFILE_POINTS = 200


class ConstantProductPool:
    r"""A constant-product pool of ``x`` units of the coin and ``y`` USD: ``x·y = k``.

    Uniswap v2's rule, in the notation of its periphery library
    (``UniswapV2Library.getAmountOut`` in Uniswap/v2-periphery)::

        amountInWithFee = amountIn * 997
        amountOut = amountInWithFee * reserveOut / (reserveIn * 1000 + amountInWithFee)

    that is, for a fee ``f`` (0.3% there) and ``γ = 1 - f``,

    .. math:: \Delta_{out} = \frac{γ\,\Delta_{in}\,R_{out}}{R_{in} + γ\,\Delta_{in}} .

    The pair contract (``UniswapV2Pair.swap`` in Uniswap/v2-core) only checks that the reserves
    with the fee taken off the input keep the product: ``balance0Adjusted * balance1Adjusted >=
    reserve0 * reserve1 * 1000**2`` with ``balanceAdjusted = balance * 1000 - amountIn * 3``. The
    whole input, fee included, stays in the reserves, so ``k`` grows with every trade: the
    whitepaper (Adams, Zinsmeister, Robinson, *Uniswap v2 Core*, March 2020) introduces the
    pairs of v1, on whose "same formula" v2 is built, as "maintaining the invariant that the
    product of the reserves cannot decrease", with a 30-basis-point fee that "goes to liquidity
    providers". This pool does the same.

    Prices (USD per coin):

    - the **spot** price ``y / x`` (fee-free; :attr:`spot`);
    - the **bid** ``γ·y/x``: what a tiny sell gets, the limit of ``Δ_out/Δ_in`` as the sell
      shrinks (:attr:`best_bid`);
    - the **ask** ``y/(γ·x)``: what a tiny buy pays (:attr:`best_ask`).

    A trade's :class:`~marginloops.orderbook.Fill` reports ``avg_price`` = USD per coin
    traded and ``last_price`` = the spot price after the trade (not the price of the last
    unit: with the fee kept in the pool, the last unit of a sell is priced slightly below the
    new spot, and for a small sell even the average lies below it, because of the fee).

    **Levels.** A pool has no levels; a Fill reports the trade cut into :data:`FILL_LEVELS`
    equal steps of the *marginal* price (the price of the next tiny unit, from the price at
    the start of the trade to the price at its end). ``level_qty[i]`` is the coin traded
    between two neighbouring marginal prices and ``level_prices[i]`` its average price, which
    is exactly the geometric mean of the two (worked out in :meth:`_steps`); so
    ``level_prices @ level_qty`` is the USD traded, as for a book, and a chart of "levels
    taken" draws the trade as bars. :meth:`depth_profile` uses the same steps on a grid.

    Parameters
    ----------
    base_reserve : float
        ``x``, coins in the pool (> 0).
    quote_reserve : float
        ``y``, USD in the pool (> 0). The spot price is ``y / x``.
    fee : float
        Fee taken on the input, in [0, 1); Uniswap v2 takes 0.3% (0.003).

    Examples
    --------
    Sell 10 coins into 100 coins and 10,000 USD at 0.3%:
    ``0.997·10·10000 / (100 + 0.997·10) = 906.61...`` USD.

    >>> pool = ConstantProductPool(100, 10_000)
    >>> round(pool.market_sell(10).avg_price * 10, 4)
    906.6109
    """

    #: What the venue is called in the narration ("selling 3,456 units into the pool").
    kind = "pool"


    def __init__(self, base_reserve, quote_reserve, fee=0.003):
        self._x = check_number("base_reserve", base_reserve, lo=0, hi=MAX_MAGNITUDE,
                               lo_open=True)
        self._y = check_number("quote_reserve", quote_reserve, lo=0, hi=MAX_MAGNITUDE,
                               lo_open=True)
        self.fee = check_number("fee", fee, lo=0, hi=1, hi_open=True)
        self.gamma = 1.0 - self.fee

    # ----------------------------------------------------------------------------- builders
    @classmethod
    def from_depth(cls, mid, depth_1pct, fee=0.003) -> ConstantProductPool:
        r"""A pool at spot ``mid`` where selling the spot 1% lower pays ``depth_1pct`` USD:
        the same "1% depth" as :meth:`OrderBook.from_depth(mid, depth_1pct)
        <marginloops.orderbook.OrderBook.from_depth>`, whose bids within 1% of ``mid`` hold
        ``depth_1pct`` USD (what a seller gets for sweeping them).

        Derivation. Write ``P = y/x = mid``, ``r = 0.99`` and sell ``Δ = a·x`` coins. The
        reserves after are ``x' = x + Δ`` and ``y' = x·y/(x + γΔ)`` (``(x + γΔ)(y - out) =
        x·y``), so the spot after is ``y'/x' = P / ((1 + a)(1 + γa))``. Setting it to ``r·P``:

        .. math:: γa^2 + (1 + γ)a + 1 - 1/r = 0,\qquad
                  a = \frac{2(1/r - 1)}{(1 + γ) + \sqrt{(1 - γ)^2 + 4γ/r}}

        (the root > 0, written without cancellation). The USD paid out is
        ``out = γΔy/(x + γΔ) = y·γa/(1 + γa)``, and ``out = depth_1pct`` gives

        .. math:: y = \text{depth\_1pct}\cdot\frac{1 + γa}{γa},\qquad x = y / \text{mid}.

        Without a fee (``γ = 1``), ``a = 1/\sqrt r - 1`` and ``y = depth_1pct/(1 - \sqrt{0.99})
        ≈ 199.5·depth_1pct``: a pool holds about 200 times its 1% depth in USD (and as much
        again in coins), where a book holds about 50 times it within 50% of the price.
        """
        mid = check_number("mid", mid, lo=0, lo_open=True)
        depth_1pct = check_number("depth_1pct", depth_1pct, lo=0, lo_open=True)
        fee = check_number("fee", fee, lo=0, hi=1, hi_open=True)
        g, r = 1.0 - fee, 0.99
        a = 2.0 * (1.0 / r - 1.0) / ((1.0 + g) + math.sqrt((1.0 - g) ** 2 + 4.0 * g / r))
        y = depth_1pct * (1.0 + g * a) / (g * a)
        if not y <= MAX_MAGNITUDE or not y / mid <= MAX_MAGNITUDE:
            raise ValueError(f"depth_1pct must give reserves of at most {MAX_MAGNITUDE:.0e} "
                             f"(lower it, or raise mid), got {depth_1pct:g} USD at mid {mid:g}: "
                             f"{y:.3g} USD and {y / mid:.3g} coins")
        return cls(y / mid, y, fee)

    # ------------------------------------------------------------------------------ reading
    @property
    def base_reserve(self) -> float:
        """``x``: coins in the pool."""
        return self._x

    @property
    def quote_reserve(self) -> float:
        """``y``: USD in the pool."""
        return self._y

    @property
    def k(self) -> float:
        """The product ``x·y`` (USD·coins); trades never lower it, the fee raises it."""
        return self._x * self._y

    @property
    def empty(self) -> bool:
        """True once liquidity providers withdrew everything (``withdraw(side, 1, ...)``): an
        empty pool trades nothing, like a book with no levels."""
        return self._x == 0.0

    @property
    def spot(self) -> float:
        """The spot price ``y / x`` (USD per coin), without the fee (NaN for an empty pool)."""
        return math.nan if self.empty else self._y / self._x

    @property
    def best_bid(self) -> float | None:
        """``γ·y/x``: the price a tiny sell gets (the spot less the fee); None when empty."""
        return None if self.empty else self.gamma * self._y / self._x

    @property
    def best_ask(self) -> float | None:
        """``y/(γ·x)``: the price a tiny buy pays (the spot plus the fee on the USD paid in);
        None when empty."""
        return None if self.empty else self._y / (self.gamma * self._x)

    def units_left(self, side) -> float:
        """Coins ``side`` can still absorb in all.

        ``"bid"``: ``inf``. A pool never runs out of buyers: selling ``Δ`` pays
        ``γΔy/(x + γΔ) < y`` for every finite ``Δ``, so the price falls towards 0 but some USD
        always remains. ``"ask"``: the base reserve ``x``, a bound no buy reaches (buying
        ``Δ`` costs ``yΔ/(γ(x - Δ))``, unbounded as ``Δ`` nears ``x``). An empty pool: 0.
        """
        if self._side(side) == "ask" or self.empty:
            return self._x
        return math.inf

    def depth_profile(self, side, lo, hi, points=PROFILE_POINTS):
        """The depth of ``side`` between the prices ``lo`` and ``hi`` (USD), best first, as
        ``(prices, units)``: the price range a market order from the current reserves would
        pass through, cut into ``points`` equal steps of the marginal price, with the coins
        traded in each step and their average price (see the class notes on levels).

        Bids span ``(0, best_bid]``, asks ``[best_ask, inf)``; the grid covers the part of
        ``[lo, hi]`` inside that span. Near 0 a pool's bid depth grows without bound (selling
        to a price ``p`` takes ``(sqrt(γxy/p) - x)/γ`` coins), so a bid grid reaching 0 stops
        one step above it.
        """
        side = self._side(side)
        lo = check_number("lo", lo, lo=0, cap=False)
        hi = check_number("hi", hi, lo=0, cap=False)
        if not lo <= hi:
            raise ValueError(f"lo must be <= hi, got lo={lo:g} and hi={hi:g}")
        points = check_int("points", points, lo=1, hi=100_000)
        if self.empty:
            return np.zeros(0), np.zeros(0)
        if side == "bid":
            start, end = min(hi, self.best_bid), lo
        else:
            start, end = max(lo, self.best_ask), hi
        if (start <= end) if side == "bid" else (start >= end):
            return np.zeros(0), np.zeros(0)
        edges = np.linspace(start, end, points + 1)
        if edges[-1] <= 0:  # infinite depth at a price of 0: stop one step above it
            edges = edges[:-1]
        units = np.diff(self._units_to(side, edges))
        return np.sqrt(edges[:-1] * edges[1:]), units

    # ------------------------------------------------------------------------------ trading
    def market_sell(self, qty) -> Fill:
        """Sell ``qty`` coins (>= 0) into the pool: ``out = γ·qty·y/(x + γ·qty)`` USD.

        Always fills in full (``unfilled == 0``): ``out < y`` for any finite ``qty``, so the
        pool always has USD left to pay, at an ever lower price.
        """
        qty = check_number("qty", qty, lo=0)
        if self.empty:
            return self._fill("sell", qty, 0.0, 0.0, None)
        return self._sell(qty)

    def market_buy(self, qty) -> Fill:
        """Buy ``qty`` coins (>= 0) from the pool, paying ``y·qty/(γ·(x - qty))`` USD.

        A buy of the whole base reserve or more would cost infinitely many USD: like Uniswap
        v2's pair (``require(amount0Out < _reserve0 && amount1Out < _reserve1,
        'UniswapV2: INSUFFICIENT_LIQUIDITY')``), the pool refuses it as a whole: nothing
        trades, the pool is untouched and the Fill reports ``unfilled == qty``. So is a buy
        whose cost would take the pool's USD beyond :data:`~marginloops._checks.MAX_MAGNITUDE`
        (1e15, the most the model adds up exactly). Any other buy fills in full (trade to a
        price with :meth:`buy_through`).
        """
        qty = check_number("qty", qty, lo=0)
        if qty >= self._x:
            return self._fill("buy", qty, 0.0, 0.0, None)
        g, x, y = self.gamma, self._x, self._y
        with np.errstate(over="ignore"):
            cost = y * qty / (g * (x - qty))
        if not math.isfinite(cost) or y + cost > MAX_MAGNITUDE:
            return self._fill("buy", qty, 0.0, 0.0, None)  # beyond what the model can add up
        return self._trade("buy", qty, qty, cost)

    def sell_through(self, limit) -> Fill:
        r"""Sell until the spot price ``y/x`` is ``limit`` (> 0): a shock down to ``limit``.

        ``Fill.last_price == limit`` (up to rounding); nothing trades when the spot is already
        at or below ``limit``. Closed form: the spot after selling ``Δ`` is
        ``x·y / ((x + Δ)(x + γΔ))``; setting it to ``L`` gives
        ``γΔ² + (1 + γ)xΔ + x² - xy/L = 0``, whose root > 0 is

        .. math:: Δ = \frac{2x(y/L - x)}{(1 + γ)x + \sqrt{(1 - γ)^2x^2 + 4γxy/L}} .

        A limit of 0 would take infinitely many coins, so it is refused.
        """
        limit = check_number("limit", limit, lo=0, lo_open=True, cap=False)
        x, y, g = self._x, self._y, self.gamma
        if self.empty or limit >= y / x:
            return self._fill("sell", 0.0, 0.0, 0.0, None)
        root = math.sqrt((1 - g) ** 2 * x * x + 4 * g * x * y / limit)
        qty = 2.0 * x * (y / limit - x) / ((1 + g) * x + root)
        if not qty <= MAX_MAGNITUDE:
            raise ValueError(f"limit must leave the pool at most {MAX_MAGNITUDE:.0e} coins "
                             f"(raise it), got {limit:g}: the sale would take {qty:.3g} coins")
        return self._sell(qty)

    def buy_through(self, limit) -> Fill:
        r"""Buy until the spot price ``y/x`` is ``limit``: a squeeze up to ``limit``.

        ``Fill.last_price == limit`` (up to rounding); nothing trades when the spot is already
        at or above ``limit``. Closed form: after buying down to ``u = x - Δ`` coins the spot is
        ``y(x - (1 - γ)u)/(γu²)``; setting it to ``L`` gives ``γLu² + (1 - γ)yu - xy = 0``:

        .. math:: u = \frac{2xy}{(1 - γ)y + \sqrt{(1 - γ)^2y^2 + 4γLxy}} .
        """
        limit = check_number("limit", limit, lo=0, cap=False)
        x, y, g = self._x, self._y, self.gamma
        if self.empty or limit <= y / x:
            return self._fill("buy", 0.0, 0.0, 0.0, None)
        u = 2.0 * x * y / ((1 - g) * y + math.sqrt((1 - g) ** 2 * y * y + 4 * g * limit * x * y))
        qty = x - u
        cost = y * qty / (g * u)
        if not y + cost <= MAX_MAGNITUDE:
            raise ValueError(f"limit must keep the pool's USD at most {MAX_MAGNITUDE:.0e} "
                             f"(lower it), got {limit:g}: the buy would cost {cost:.3g} USD")
        return self._trade("buy", qty, qty, cost)

    # ---------------------------------------------------------------- liquidity providers
    def refill(self, side, qty, at="touch") -> float:
        """Liquidity providers deposit ``qty`` coins and ``qty·spot`` USD: both reserves grow
        in proportion, the spot price stays, and the depth grows on both sides (a pool has one
        curve for both, and no "touch" or "levels": ``side`` and ``at`` are checked but change
        nothing). Returns ``qty``, the coins added; 0 for an empty pool, which has no price to
        deposit at (as a book side with no levels has no touch)."""
        self._side(side)
        qty = check_number("qty", qty, lo=0)
        if not isinstance(at, str) or at not in REFILL_PLACES:
            raise ValueError(f"at must be one of {REFILL_PLACES}, got {at!r}")
        if self.empty:
            return 0.0
        scale = 1.0 + qty / self._x
        if not self._y * scale <= MAX_MAGNITUDE:
            raise ValueError(f"qty must keep the pool's USD at most {MAX_MAGNITUDE:.0e}, got "
                             f"{qty:g} coins")
        self._x, self._y = self._x + qty, self._y * scale
        return qty

    def withdraw(self, side, fraction, within) -> float:
        """Liquidity providers withdraw ``fraction`` (in [0, 1]) of the pool: both reserves
        shrink in proportion and the spot price stays. A constant-product position spans every
        price, so it cannot be pulled near the price only: ``side`` and ``within`` are checked
        but change nothing. Returns the coins removed, ``fraction·x``. ``fraction = 1`` empties
        the pool (:attr:`empty`): it trades nothing after that."""
        self._side(side)
        fraction = check_number("fraction", fraction, lo=0, hi=1)
        check_number("within", within, lo=0, cap=False)
        removed = fraction * self._x
        if fraction == 1.0:
            self._x = self._y = 0.0
        else:
            self._x, self._y = self._x - removed, self._y * (1.0 - fraction)
        return removed

    def requote(self, side) -> float:
        """Nothing to do: a pool's bid and ask are one curve and move together (a book's
        :meth:`~marginloops.OrderBook.requote` moves a side left behind by a move). ``side`` is
        checked; returns 0."""
        self._side(side)
        return 0.0

    def copy(self) -> ConstantProductPool:
        """An independent copy: trading on it leaves this pool untouched."""
        other = ConstantProductPool.__new__(ConstantProductPool)
        other._x, other._y, other.fee, other.gamma = self._x, self._y, self.fee, self.gamma
        return other

    def __repr__(self) -> str:
        return (f"ConstantProductPool(base_reserve={self._x:.6g}, quote_reserve={self._y:.6g}, "
                f"fee={self.fee:g}, spot={self.spot:.6g})")  # spot nan when empty

    # ------------------------------------------------------------------------------ helpers
    def _side(self, side) -> str:
        if not isinstance(side, str) or side not in ("bid", "ask"):
            raise ValueError(f"side must be 'bid' or 'ask', got {side!r}")
        return side

    def _units_to(self, side, prices):
        """Coins a market order from the current reserves trades until its marginal price is
        ``prices`` (an array; bids: <= best_bid, asks: >= best_ask).

        Sell: the marginal price after ``Δ`` is ``d out/dΔ = γxy/(x + γΔ)²``, so
        ``Δ(p) = (sqrt(γxy/p) - x)/γ``. Buy: the cost of ``Δ`` is ``yΔ/(γ(x - Δ))``, its
        derivative ``xy/(γ(x - Δ)²)``, so ``Δ(p) = x - sqrt(xy/(γp))``.
        """
        x, y, g = self._x, self._y, self.gamma
        if side == "bid":
            return np.maximum((np.sqrt(g * x * y / prices) - x) / g, 0.0)
        return np.maximum(x - np.sqrt(x * y / (g * prices)), 0.0)

    def _steps(self, side, qty):
        """The trade of ``qty`` coins as :data:`FILL_LEVELS` steps of its marginal price.

        Between the marginal prices ``p_a`` and ``p_b`` a sell trades
        ``sqrt(γxy)(1/sqrt(p_b) - 1/sqrt(p_a))/γ`` coins for ``sqrt(xy/γ)(sqrt(p_a) -
        sqrt(p_b))`` USD (integrate the marginal price), a ratio of exactly
        ``sqrt(p_a·p_b)``; a buy gives the same ratio. So each step's price is the geometric
        mean of its two edges.
        """
        x, y, g = self._x, self._y, self.gamma
        if side == "bid":
            p0, p1 = g * y / x, g * x * y / (x + g * qty) ** 2
        else:
            p0, p1 = y / (g * x), x * y / (g * (x - qty) ** 2)
        edges = np.linspace(p0, p1, FILL_LEVELS + 1)
        cum = self._units_to(side, edges)
        cum = np.maximum.accumulate(np.clip(cum, 0.0, qty))  # rounding: no negative step
        cum[0], cum[-1] = 0.0, qty
        return np.sqrt(edges[:-1] * edges[1:]), np.diff(cum)

    def _sell(self, qty) -> Fill:
        x, y, g = self._x, self._y, self.gamma
        out = g * qty * y / (x + g * qty)
        return self._trade("sell", qty, qty, out)

    def _trade(self, kind, requested, qty, usd) -> Fill:
        """Record a trade of ``qty`` coins for ``usd`` USD and move the reserves."""
        if qty <= 0:
            return self._fill(kind, requested, 0.0, 0.0, None)
        steps = self._steps("bid" if kind == "sell" else "ask", qty)
        if kind == "sell":
            self._x, self._y = self._x + qty, self._y - usd
        else:
            self._x, self._y = self._x - qty, self._y + usd
        return self._fill(kind, requested, qty, usd, steps)

    def _fill(self, kind, requested, qty, usd, steps) -> Fill:
        if qty > 0:
            prices, units = steps
            lo, hi = min(prices[0], prices[-1]), max(prices[0], prices[-1])
            avg = min(max(usd / qty, lo), hi)  # an average lies within the prices it averages
            last = self._y / self._x
        else:
            prices = units = np.zeros(0)
            avg = last = math.nan
        requested = float(requested)
        return Fill(kind, requested, float(qty), max(requested - qty, 0.0), float(avg),
                    float(last), readonly(np.asarray(prices, dtype=float)),
                    readonly(np.asarray(units, dtype=float)))
