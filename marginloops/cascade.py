"""The liquidation cascade, one round at a time.

Holds :class:`Cascade`, which owns the only mutable state of a run (the working order book,
which positions are closed, the insurance fund), and :class:`RoundRecord`, the immutable result
of one round.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields, replace

import numpy as np

from ._checks import check_int, check_number, readonly
from .orderbook import REFILL_PLACES, OrderBook
from .positions import Positions

DIRECTIONS = ("down", "up")
#: Why a run stopped: a round with no new liquidation to come, a book side that ran out, the
#: round limit.
END_REASONS = ("fixed_point", "book_exhausted", "max_rounds")
BREAKER_REFERENCES = ("round", "start")
#: Partial liquidation: None (close whole positions), a fixed "fraction" of each position per
#: round, or just enough to "restore" the maintenance margin.
PARTIAL_MODES = (None, "fraction", "restore")


@dataclass(frozen=True)
class CircuitBreaker:
    """Halt trading for ``halt_rounds`` rounds when the price moves more than ``move``.

    Parameters
    ----------
    move : float
        The trip level, a fraction in (0, 1): 0.05 halts after a move of more than 5%.
    halt_rounds : int
        Rounds with no trading (and no liquidation) once it trips, in [1, 100].
    reference : {"round", "start"}
        "round": the move within one round; "start": the move from the reference price, which is
        the starting price and, after each halt, the price trading resumes at.
    """

    move: float
    halt_rounds: int = 2
    reference: str = "round"

    def __post_init__(self):
        object.__setattr__(self, "move", check_number("breaker move", self.move, lo=0, hi=1,
                                                      lo_open=True, hi_open=True))
        object.__setattr__(self, "halt_rounds",
                           check_int("breaker halt_rounds", self.halt_rounds, lo=1, hi=100))
        if self.reference not in BREAKER_REFERENCES:
            raise ValueError(f"breaker reference must be one of {BREAKER_REFERENCES}, got "
                             f"{self.reference!r}")


@dataclass(frozen=True, eq=False)
class RoundRecord:
    """What happened in one round. Round 0 is the shock; rounds 1, 2, ... are liquidations.

    Prices are USD, quantities asset units, money USD. Fields
    ----------------------------------------------------------
    round : int
    direction : "down" (a crash: longs are liquidated by selling) or "up" (a squeeze: shorts
        are liquidated by buying)
    price_before, price_after : last traded price at the start and the end of the round
    n_liquidated : positions acted on this round: ``n_closed + n_reduced`` (0 in round 0)
    qty_liquidated : units this round's liquidations sent to the book (partial closes count
        their closed part; units auto-deleveraging matched are in ``adl_qty`` instead)
    notional_liquidated : ``qty_liquidated * price_before``, the value of the closed positions
        at the price that triggered them
    shock_qty : units the outside seller (buyer) traded in round 0; 0 afterwards
    filled_qty, unfilled_qty : units of this round's market order that traded / found no
        liquidity (``filled + unfilled`` = the order's size)
    avg_fill_price, last_fill_price : of this round's market order (NaN if nothing filled)
    slippage : ``|avg_fill_price - price_before| / price_before`` (0 if nothing filled)
    book_prices, book_qty : the levels this round's order consumed, best first, and the units
        taken from each (read-only arrays)
    margin_lost : margin the positions closed this round had (lost to the trader, except what
        ``returned_to_traders`` gives back when a fee rate is set)
    to_fund : net money the closes bring to the insurance fund this round (negative: a
        shortfall, paid by the fund and, beyond it, left as bad debt)
    fees : liquidation fees collected this round (0 unless a fee rate is set)
    returned_to_traders : equity handed back to liquidated traders (only with a fee rate)
    bad_debt_round, bad_debt : shortfall the fund could not cover, this round / so far
    insurance_fund : the fund after the round
    inventory_qty : units taken over by the fund at bankruptcy price because they could not be
        sold, so far (their loss to the last traded price is booked in ``to_fund``)
    book_left : units still resting on the side of the book this run trades into
    refilled : units market makers put back this round (resilience; during a halt or before a
        call auction, ``recovery`` of the depth consumed so far)
    withdrawn : units market makers cancelled this round because the price moved fast
    open_interest : total size of still-open positions (both sides), units
    open_interest_notional : ``open_interest * price_after``
    n_open : positions still open
    pending : positions whose liquidation price the new price has reached: next round's
        liquidations
    n_closed : positions closed whole this round (including bankrupt positions closed by
        auto-deleveraging); without partial liquidation it equals ``n_liquidated``
    n_reduced : positions only partly closed this round (partial liquidation); they are counted
        in ``n_liquidated`` too and stay open
    n_reduced_open : distinct positions of the liquidated side that have been partly closed at
        some point and are still open after this round (cumulative; 0 without partial
        liquidation)
    n_adl, adl_qty, adl_price : bankrupt positions auto-deleveraged this round (wholly or in
        part: the last one matched may be matched in part, its remainder goes to the book),
        the units matched and the (size-weighted) bankruptcy price they closed at (NaN when
        none)
    n_deleveraged : opposite positions reduced by auto-deleveraging this round
    adl_cost : USD the deleveraged opposite traders give up this round: their matched units
        times the gap between the check price (``price_before``) and the price auto-
        deleveraging closed them at (>= 0; what bad debt falls by is paid from their profit)
    mmr_surcharge : what dynamic margin added to every maintenance rate at this round's check
    halted : True when a circuit breaker halted trading this round (no trade, no liquidation)
    breaker_tripped : True when this round's move tripped the circuit breaker
    halt_rounds_left : halt rounds still to come after this one
    uniform_price : True when a call auction cleared this round's order at one price
    end_reason : None, or why the run stops after this round (see ``END_REASONS``)
    """

    round: int
    direction: str
    price_before: float
    price_after: float
    n_liquidated: int
    qty_liquidated: float
    notional_liquidated: float
    shock_qty: float
    filled_qty: float
    unfilled_qty: float
    avg_fill_price: float
    last_fill_price: float
    slippage: float
    book_prices: np.ndarray = field(repr=False)
    book_qty: np.ndarray = field(repr=False)
    margin_lost: float
    to_fund: float
    fees: float
    returned_to_traders: float
    bad_debt_round: float
    bad_debt: float
    insurance_fund: float
    inventory_qty: float
    book_left: float
    refilled: float
    withdrawn: float
    open_interest: float
    open_interest_notional: float
    n_open: int
    pending: int
    n_closed: int
    n_reduced: int
    n_reduced_open: int
    n_adl: int
    adl_qty: float
    adl_price: float
    n_deleveraged: int
    adl_cost: float
    mmr_surcharge: float
    halted: bool
    breaker_tripped: bool
    halt_rounds_left: int
    uniform_price: bool
    end_reason: str | None

    def __eq__(self, other):
        """Field by field; arrays by value and NaN equal to NaN, so histories compare."""
        if not isinstance(other, RoundRecord):
            return NotImplemented
        for f in fields(self):
            a, b = getattr(self, f.name), getattr(other, f.name)
            if isinstance(a, np.ndarray):
                if not np.array_equal(a, b):
                    return False
            elif a != b and not (isinstance(a, float) and isinstance(b, float)
                                 and math.isnan(a) and math.isnan(b)):
                return False
        return True

    __hash__ = None  # records hold arrays: compare them, do not hash them

    @property
    def is_shock(self) -> bool:
        """True for round 0, the outside shock."""
        return self.round == 0

    @property
    def price_change(self) -> float:
        """Fractional price change over the round (negative in a crash)."""
        return self.price_after / self.price_before - 1.0

    @property
    def liquidated_side(self) -> str:
        """Which positions this run liquidates: "long" in a crash, "short" in a squeeze."""
        return "long" if self.direction == "down" else "short"


class Cascade:
    """A margin-call cascade: shock, then rounds of liquidation, slippage and new liquidation.

    Parameters
    ----------
    positions : Positions
        The leveraged traders. Every one must be solvent at the starting price.
    book : OrderBook
        The book before the shock. It is copied: the cascade never changes the caller's book.
    shock : float
        Round 0's outside price move as a fraction in (0, 1): in a crash the outside seller
        takes every bid priced at or above ``(1 - shock) * P0``, where ``P0`` is the best bid;
        in a squeeze the outside buyer takes every ask at or below ``(1 + shock) * P0``,
        ``P0`` the best ask. Its last fill is the new price.
    direction : {"down", "up"}
        A crash (longs are liquidated) or a squeeze (shorts are liquidated).
    resilience : float
        Fraction in [0, 1] of the units each round consumed that market makers put back at the
        touch after the round.
    insurance_fund : float
        The fund's starting size, USD >= 0.
    liquidation_fee : float or None
        None (default): a closed position's whole remaining margin goes to the insurance fund.
        A rate in [0, 1): the fund takes at most ``rate * filled notional`` of it as a fee and
        the rest goes back to the trader.
    max_rounds : int
        Upper bound on the number of liquidation rounds, >= 1: ``run()`` always ends.
    breaker : CircuitBreaker or None
        Halt trading for some rounds after a big move (see :class:`CircuitBreaker`).
    recovery : float
        Fraction in [0, 1] of the depth consumed so far that market makers restore in each
        halted round and while a call auction collects orders.
    call_auction : bool
        Clear each round's liquidations in one batch at a single price (the price of the last
        level the batch needs) instead of level by level.
    refill_at : {"touch", "levels"}
        Where resilience and recovery put depth back: at the best remaining level, or at the
        price levels it was taken from (the price can then move back).
    withdrawal : float
        In [0, 100]: after a move of x%, market makers cancel ``min(1, withdrawal * x)`` of the
        depth within 1% of the new price.
    partial : {None, "fraction", "restore"}
        Close whole positions (None), ``partial_fraction`` of each reached position per round,
        or just enough of it to restore its maintenance margin at the check price (at least
        ``partial_fraction``). A position beyond bankruptcy, or left with less than 1% of its
        size, is closed whole.
    dynamic_margin : float
        In [0, 10]: every maintenance rate rises by ``dynamic_margin`` times the price move over
        the last ``dynamic_window`` rounds (the margin spiral).
    adl : bool
        Auto-deleveraging: bankrupt positions the insurance fund cannot absorb are closed at
        their bankruptcy price against the most profitable, most leveraged opposite positions
        instead of being sold into the book, as far as those hold units (the last bankrupt
        position matched may be matched in part; the rest of it is sold into the book). What
        the opposite traders give up against the check price is recorded as ``adl_cost``.

    Notes
    -----
    A round ``k >= 1``: (1) check margins: every open position whose liquidation price the last
    traded price has reached (``P <= P_liq`` for a long); (2) liquidate: one aggregate market
    order for all of them; (3) slip: the order walks the book, its last fill is the new price;
    (4) account: each position is closed at the round's average fill price ``A``, its remaining
    equity ``s q (A - B)`` (``B`` its bankruptcy price) goes to the fund, a negative one comes
    out of it, and what the fund cannot pay is bad debt; units the book could not take are
    reported unfilled and taken over by the fund at ``B``, marked at the last traded price;
    (5) recover: resilience; (6) record.
    The run stops at a fixed point (no position within reach of the new price), when the book
    side is exhausted, or at ``max_rounds``.

    Positions are sorted by liquidation price once, here; a round is then a ``searchsorted``
    and a slice, so its cost does not grow with the number of positions.
    """

    def __init__(self, positions, book, shock=0.05, *, direction="down", resilience=0.0,
                 insurance_fund=0.0, liquidation_fee=None, max_rounds=1000, breaker=None,
                 recovery=0.5, call_auction=False, refill_at="touch", withdrawal=0.0,
                 partial=None, partial_fraction=0.25, dynamic_margin=0.0, dynamic_window=2,
                 adl=False):
        if not isinstance(positions, Positions):
            raise ValueError("positions must be a Positions object, got "
                             f"{type(positions).__name__}")
        if not isinstance(book, OrderBook):
            raise ValueError(f"book must be an OrderBook, got {type(book).__name__}")
        if direction not in DIRECTIONS:
            raise ValueError(f"direction must be one of {DIRECTIONS}, got {direction!r}")
        self.shock = check_number("shock", shock, lo=0, hi=1, lo_open=True, hi_open=True)
        self.resilience = check_number("resilience", resilience, lo=0, hi=1)
        self.initial_fund = check_number("insurance_fund", insurance_fund, lo=0)
        if liquidation_fee is not None:
            liquidation_fee = check_number("liquidation_fee", liquidation_fee, lo=0, hi=1,
                                           hi_open=True)
        self.liquidation_fee = liquidation_fee
        self.max_rounds = check_int("max_rounds", max_rounds, lo=1, hi=1_000_000)
        if breaker is not None and not isinstance(breaker, CircuitBreaker):
            raise ValueError(f"breaker must be a CircuitBreaker or None, got {breaker!r}")
        self.breaker = breaker
        self.recovery = check_number("recovery", recovery, lo=0, hi=1)
        if not isinstance(call_auction, bool):
            raise ValueError(f"call_auction must be True or False, got {call_auction!r}")
        self.call_auction = call_auction
        if refill_at not in REFILL_PLACES:
            raise ValueError(f"refill_at must be one of {REFILL_PLACES}, got {refill_at!r}")
        self.refill_at = refill_at
        self.withdrawal = check_number("withdrawal", withdrawal, lo=0, hi=100)
        if partial not in PARTIAL_MODES:
            raise ValueError(f"partial must be one of {PARTIAL_MODES}, got {partial!r}")
        self.partial = partial
        self.partial_fraction = check_number("partial_fraction", partial_fraction, lo=0.01, hi=1)
        self.dynamic_margin = check_number("dynamic_margin", dynamic_margin, lo=0, hi=10)
        self.dynamic_window = check_int("dynamic_window", dynamic_window, lo=1, hi=50)
        # Partial closes and moving margins change thresholds after the sort: those runs check
        # every open position of the side each round (vectorised) instead of one searchsorted.
        if not isinstance(adl, bool):
            raise ValueError(f"adl must be True or False, got {adl!r}")
        self.adl = adl
        self._general = partial is not None or self.dynamic_margin > 0 or adl
        self.direction = direction
        self.positions = positions
        self._book0 = book.copy()

        down = direction == "down"
        start = book.best_bid if down else book.best_ask
        if start is None:
            raise ValueError(f"book must have {'bids' if down else 'asks'} for a "
                             f"{'crash' if down else 'squeeze'} to trade into, got none")
        self.start_price = start
        liq = positions.liquidation_price
        under = np.flatnonzero((positions.side > 0) & (liq >= start)
                               | (positions.side < 0) & (liq <= start))
        if under.size:
            i = int(under[0])
            raise ValueError(
                f"positions must all be solvent at the starting price {start:g}, but "
                f"{under.size} are already at or past their liquidation price (first: index {i}, "
                f"liquidation price {liq[i]:g}); remove them or change their entry or leverage")

        # The side this run can liquidate, sorted once so that rounds are slices: in a crash the
        # longs by descending liquidation price (key -P_liq), in a squeeze the shorts ascending.
        self._sign = 1 if down else -1             # side of the positions liquidated
        self._key_sign = -1.0 if down else 1.0
        # The fields a round needs are stored in that order too, so a round reads contiguous
        # slices instead of gathering scattered positions.
        idx = np.flatnonzero(positions.side == self._sign)
        keys = self._key_sign * liq[idx]
        order = np.argsort(keys)
        self._keys = readonly(keys[order])
        del keys
        idx = idx[order]
        del order
        self._order = readonly(idx.astype(np.int32) if len(positions) < 2**31 else idx)
        del idx
        o = self._order
        self._size = readonly(positions.size[o])
        lev = positions.leverage[o]
        entry = positions.entry[o]
        self._margin = readonly(self._size * entry / lev)
        np.divide(-float(self._sign), lev, out=lev)
        lev += 1.0
        entry *= lev
        self._bankrupt = readonly(entry)  # E (1 - s/L)
        del lev, entry
        if adl:  # the opposite side, whose profitable positions absorb bankrupt ones
            self._opp = readonly(np.flatnonzero(positions.side == -self._sign))
        if self._general:
            self._entry_s = readonly(positions.entry[o])
            self._mmr_s = readonly(positions.mmr[o])
            self._amount_s = readonly(positions.maint_amount[o])
        self.reset()

    # ---------------------------------------------------------------------------- state
    def reset(self) -> None:
        """Return to the state before the shock, exactly (same book, fund, positions open)."""
        self.book = self._book0.copy()
        self.price = self.start_price
        self.round = 0
        self.history: list[RoundRecord] = []
        self.end_reason: str | None = None
        self._next = 0  # positions self._order[:_next] are closed
        self._bounds: list[tuple[int, int, int]] = []  # (round, start, stop) in sorted order
        self._fund = self.initial_fund
        self._bad_debt = 0.0
        self._inventory = 0.0
        self._oi = float(self.positions.size.sum())
        self._n_open = len(self.positions)
        self._deficit = 0.0  # units consumed by trades and not yet put back
        self._path = [self.start_price]  # the price after each round, for dynamic margin
        if self._general:  # the state that partial closes change, in sorted order
            self._q_left = self._size.copy()
            self._m_left = self._margin.copy()
            self._closed_in = np.full(len(self._size), -1, dtype=np.int32)
        if self.adl:
            self._opp_q = self.positions.size[self._opp].copy()
        self._halt_left = 0
        self._reference = self.start_price
    @property
    def ended(self) -> bool:
        """True once the run has stopped; ``step()`` then returns None."""
        return self.end_reason is not None

    @property
    def liquidated_round(self) -> np.ndarray:
        """Per position, the round in which it was liquidated, or -1 if still open (a new array)."""
        out = np.full(len(self.positions), -1, dtype=np.int32)
        if self._general:
            out[self._order] = self._closed_in
            return out
        for k, a, b in self._bounds:
            out[self._order[a:b]] = k
        return out

    @property
    def open_mask(self) -> np.ndarray:
        """Boolean array: True for positions still open (a new array)."""
        out = np.ones(len(self.positions), dtype=bool)
        if self._general:
            out[self._order] = self._closed_in < 0
            if self.adl:
                out[self._opp] = self._opp_q > 0
            return out
        out[self._order[:self._next]] = False
        return out

    @property
    def initial_book(self) -> OrderBook:
        """A copy of the book as it was before the shock."""
        return self._book0.copy()

    @property
    def insurance_fund(self) -> float:
        return self._fund

    @property
    def bad_debt(self) -> float:
        return self._bad_debt

    def _reach(self) -> int:
        """Number of sorted positions whose liquidation price the current price has reached."""
        return int(np.searchsorted(self._keys, self._key_sign * self.price, side="right"))

    def _pending(self) -> int:
        """Open positions the current price has reached (0 if the price moved back away)."""
        if self._general:
            return int(np.count_nonzero(self._reached()))
        return max(self._reach() - self._next, 0)

    def in_reach(self) -> np.ndarray:
        """Indices of the open positions the next round will liquidate (at the current price)."""
        if self._general:
            return self._order[self._reached()].copy()
        return self._order[self._next:self._reach()].copy()

    def effective_liquidation_price(self) -> np.ndarray:
        r"""Each open position's liquidation price now, USD; NaN for closed positions.

        The price at which the round's check (equity at or below maintenance) catches the
        position, with what the run has changed since the start: the dynamic-margin surcharge
        :math:`\sigma` on top of its rate :math:`m`, its maintenance amount :math:`A` (tiers)
        and, after partial closes, its remaining size :math:`q` and margin :math:`M`. Equity
        :math:`M + s q (P - E)` equals maintenance :math:`r q P - A q / q_0` (:math:`q_0` the
        original size, :math:`r = \min(m + \sigma, 0.99)`) at

        .. math::

            P = \frac{E - s M / q - s A / q_0}{1 - s r},

        which is :attr:`Positions.liquidation_price` when nothing has changed (then that array's
        value is returned as it is). The next round liquidates exactly the positions of the
        liquidated side whose price the current price has reached (``P <= P_liq`` for a long,
        up to rounding). The opposite side is never checked in this run (the move is its
        profit); its positions keep their own liquidation price (auto-deleveraging shrinks
        them in proportion, which leaves it unchanged).

        Returns
        -------
        numpy.ndarray, shape (n,)
            A new array, in the order of :attr:`positions`.
        """
        out = np.array(self.positions.liquidation_price, dtype=np.float64)
        if not self._general:
            out[self._order[:self._next]] = np.nan
            return out
        s, q = float(self._sign), self._q_left
        surcharge = self._surcharge()
        is_open = self._closed_in < 0
        changed = is_open & ((q != self._size) | (self._m_left != self._margin))
        if surcharge != 0:
            changed = is_open
        k = np.flatnonzero(changed)
        if k.size:
            rate = np.minimum(self._mmr_s[k] + surcharge, 0.99)
            qk = q[k]
            num = (self._entry_s[k] - s * self._m_left[k] / qk
                   - s * self._amount_s[k] / self._size[k])
            out[self._order[k]] = num / (1.0 - s * rate)
        out[self._order[~is_open]] = np.nan
        if self.adl:
            out[self._opp[self._opp_q <= 0]] = np.nan
        return out

    def open_size(self) -> np.ndarray:
        """Units each position still holds (0 once closed; less than its size after partial
        closes or auto-deleveraging), in the order of :attr:`positions` (a new array)."""
        out = np.array(self.positions.size, dtype=np.float64)
        if not self._general:
            out[self._order[:self._next]] = 0.0
            return out
        out[self._order] = self._q_left
        if self.adl:
            out[self._opp] = self._opp_q
        return out

    def _surcharge(self) -> float:
        """Dynamic margin: ``dynamic_margin`` times the move over the last ``dynamic_window``
        rounds, added to every maintenance rate (0 when switched off)."""
        if self.dynamic_margin == 0:
            return 0.0
        past = self._path[max(len(self._path) - 1 - self.dynamic_window, 0)]
        return self.dynamic_margin * abs(self._path[-1] / past - 1.0)

    def _reached(self) -> np.ndarray:
        """Sorted-order mask of open positions whose equity is at or below maintenance now."""
        p, s = self.price, float(self._sign)
        q = self._q_left
        equity = self._m_left + s * q * (p - self._entry_s)
        rate = np.minimum(self._mmr_s + self._surcharge(), 0.99)
        maintenance = rate * q * p - self._amount_s * (q / self._size)
        return (self._closed_in < 0) & (equity <= maintenance)

    # ---------------------------------------------------------------------------- rounds
    def step(self) -> RoundRecord | None:
        """Play one round (the first call is round 0, the shock); None once the run has ended."""
        if self.ended:
            return None
        if self.round == 0:
            rec = self._shock_round()
        elif self._halt_left > 0:
            rec = self._halt_round()
        elif self._general:
            rec = self._general_round()
        else:
            rec = self._liquidation_round()
        self.history.append(rec)
        self.round += 1
        self.end_reason = rec.end_reason
        return rec

    def run(self) -> list[RoundRecord]:
        """Play rounds until the run ends (at most ``max_rounds + 1`` of them); the full history."""
        while self.step() is not None:
            pass
        return list(self.history)

    def _shock_round(self) -> RoundRecord:
        p0 = self.price
        # A hair of tolerance, so that (1 - 0.41) * 100 = 59.00000000000001 still takes 59.
        if self.direction == "down":
            fill = self.book.sell_through((1.0 - self.shock) * p0 * (1.0 - 1e-12))
        else:
            fill = self.book.buy_through((1.0 + self.shock) * p0 * (1.0 + 1e-12))
        return self._finish(p0, fill, shock_qty=fill.filled)

    def _liquidation_round(self) -> RoundRecord:
        p_before = self.price
        start, stop = self._next, self._reach()
        q = self._size[start:stop]
        qty = float(q.sum())
        arrived = 0.0
        if self.call_auction:  # while the auction collects orders, liquidity arrives
            arrived = self._put_back(self.recovery * self._deficit)
        fill = self.book.market_sell(qty) if self.direction == "down" else self.book.market_buy(qty)
        if self.call_auction and fill.filled > 0:
            # One uniform price clears the batch: the price of the last level it needs.
            fill = replace(fill, avg_price=fill.last_price)

        # Each position is closed at the round's average fill A: its remaining equity is
        # s q (A - B). Units the book could not take pass to the fund at B and are marked at
        # the last traded price P: the fund books s q (P - B) on them at once.
        s = float(self._sign)
        bankrupt = self._bankrupt[start:stop]
        frac = fill.filled / qty
        mark = fill.last_price if fill.filled > 0 else p_before
        equity = s * q * (frac * (fill.avg_price - bankrupt) if fill.filled > 0 else 0.0)
        if frac < 1.0:
            equity = equity + s * (1.0 - frac) * q * (mark - bankrupt)
        if self.liquidation_fee is None:
            fees, returned, to_fund = 0.0, 0.0, float(equity.sum())
        else:
            fee = np.minimum(self.liquidation_fee * frac * q * fill.avg_price
                             if fill.filled > 0 else 0.0, np.maximum(equity, 0.0))
            fees = float(np.sum(fee))
            returned = float(np.maximum(equity, 0.0).sum()) - fees
            to_fund = fees + float(np.minimum(equity, 0.0).sum())
        self._fund += to_fund
        debt = 0.0
        if self._fund < 0:
            debt, self._fund = -self._fund, 0.0
        self._bad_debt += debt
        self._inventory += qty - fill.filled

        self._bounds.append((self.round, start, stop))
        self._next = stop
        n = stop - start
        self._n_open -= n
        self._oi = max(self._oi - qty, 0.0) if self._n_open else 0.0
        margin_lost = float(self._margin[start:stop].sum())
        return self._finish(p_before, fill, n=n, qty=qty, margin_lost=margin_lost,
                            to_fund=to_fund, fees=fees, returned=returned, debt=debt,
                            refilled=arrived, closed=n)

    def _general_round(self) -> RoundRecord:
        """A liquidation round with partial closes, dynamic margin or auto-deleveraging."""
        p_before, s = self.price, float(self._sign)
        surcharge = self._surcharge()
        hit = np.flatnonzero(self._reached())
        q, margin = self._q_left[hit], self._m_left[hit]
        entry = self._entry_s[hit]
        equity_now = margin + s * q * (p_before - entry)
        if self.partial is None:
            x = np.ones(len(hit))
        elif self.partial == "fraction":
            x = np.full(len(hit), self.partial_fraction)
        else:  # "restore": after closing x at this price, maintenance equals equity
            rate = np.minimum(self._mmr_s[hit] + surcharge, 0.99)
            maintenance = rate * q * p_before - self._amount_s[hit] * (q / self._size[hit])
            # Divide only where there is a requirement: a tiny one (a rate of 5e-324) would
            # overflow the ratio, and a share above 1 is clipped to a whole close anyway.
            ratio = np.zeros_like(maintenance)
            with np.errstate(over="ignore"):
                np.divide(equity_now, maintenance, out=ratio, where=maintenance > 0)
            x = np.where(maintenance > 0, 1.0 - ratio, 1.0)
            x = np.clip(x, self.partial_fraction, 1.0)
        # Bankrupt at this price, or too small to keep: close it all.
        x[(equity_now < 0) | ((1.0 - x) * q < 0.01 * self._size[hit])] = 1.0
        full = x >= 1.0
        close = x * q
        # What goes to the book: all of ``close`` but the units auto-deleveraging matches
        # (bankrupt positions only, so closed whole: the matched units at their bankruptcy
        # price, the rest sold into the book with the round's other liquidations).
        q_book, m_book, adl = q, margin, None
        if self.adl:
            adl = self._auto_deleverage(q, margin, entry, equity_now, p_before)
            if adl["n"]:
                matched = adl["units"]
                q_book = q - matched
                close = np.where(matched > 0, q_book, close)
                m_book = np.where(matched > 0, margin * (q_book / q), margin)
        qty = float(close.sum())
        arrived = 0.0
        if self.call_auction:
            arrived = self._put_back(self.recovery * self._deficit)
        fill = self.book.market_sell(qty) if self.direction == "down" else self.book.market_buy(qty)
        if self.call_auction and fill.filled > 0:
            fill = replace(fill, avg_price=fill.last_price)
        # qty is 0 when auto-deleveraging took every position, or when a halt let the recent
        # move, and with it the margin surcharge, fade.
        frac = fill.filled / qty if qty > 0 else 0.0
        pnl = s * frac * close * (fill.avg_price - entry) if fill.filled > 0 else np.zeros_like(q)
        fee = np.zeros_like(q)
        if self.liquidation_fee is not None and fill.filled > 0:
            fee = self.liquidation_fee * frac * close * fill.avg_price
        # Whole closes: as in a plain round, the filled share of the margin plus the realised
        # PnL is the equity at close; the unfilled share passes to the fund with its units,
        # marked at the last traded price.
        # (A position matched by auto-deleveraging in full closes at its bankruptcy price with
        # zero equity: its book share, margin and units, are zero.)
        eq_full = frac * m_book[full] + pnl[full]
        if frac < 1.0:
            mark = fill.last_price if fill.filled > 0 else p_before
            eq_full = eq_full + (1.0 - frac) * (m_book[full]
                                                 + s * q_book[full] * (mark - entry[full]))
        if self.liquidation_fee is None:
            to_fund, returned = float(eq_full.sum()), 0.0
            fees = 0.0
        else:
            fee_full = np.minimum(fee[full], np.maximum(eq_full, 0.0))
            to_fund = float(fee_full.sum() + np.minimum(eq_full, 0.0).sum())
            returned = float(np.maximum(eq_full, 0.0).sum() - fee_full.sum())
            fees = float(fee_full.sum())
        # Partial closes: the position keeps its margin plus the realised PnL, less the fee; a
        # margin driven below zero is topped up by the fund (the position is closed next round).
        part = ~full
        kept = margin[part] + pnl[part]
        fee_part = np.minimum(fee[part], np.maximum(kept, 0.0))
        kept -= fee_part
        fees += float(fee_part.sum())
        to_fund += float(fee_part.sum() + np.minimum(kept, 0.0).sum())
        kept = np.maximum(kept, 0.0)
        self._fund += to_fund
        debt = 0.0
        if self._fund < 0:
            debt, self._fund = -self._fund, 0.0
        self._bad_debt += debt

        idx_full, idx_part = hit[full], hit[part]
        self._inventory += (1.0 - frac) * float(close[full].sum())
        self._q_left[idx_part] -= frac * close[part]
        self._m_left[idx_part] = kept
        self._q_left[idx_full] = 0.0
        self._m_left[idx_full] = 0.0
        self._closed_in[idx_full] = self.round
        self._n_open -= len(idx_full)
        removed = float(q[full].sum()) + frac * float(close[part].sum())
        adl_fields = {}
        if adl is not None and adl["n"]:
            # Both sides of each auto-deleveraging match leave the market: this side's units
            # are in q[full], the opposite side's are removed here.
            removed += adl["qty"]
            self._n_open -= adl["closed_opposite"]
            adl_fields = dict(n_adl=adl["n"], adl_qty=adl["qty"], adl_price=adl["price"],
                              n_deleveraged=adl["n_opposite"], adl_cost=adl["cost"])
        self._oi = max(self._oi - removed, 0.0) if self._n_open else 0.0
        return self._finish(p_before, fill, n=len(hit), qty=qty,
                            margin_lost=float(margin[full].sum()), to_fund=to_fund,
                            fees=fees, returned=returned, debt=debt, refilled=arrived,
                            reduced=int(part.sum()), closed=len(idx_full), surcharge=surcharge,
                            **adl_fields)

    def _auto_deleverage(self, q, margin, entry, equity, price) -> dict:
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
        s = float(self._sign)
        units = np.zeros(len(q))
        out = {"units": units, "n": 0, "qty": 0.0, "price": float("nan"), "cost": 0.0,
               "n_opposite": 0, "closed_opposite": 0}
        bankrupt = equity < 0
        if not bankrupt.any() or -equity[bankrupt].sum() <= self._fund:
            return out
        pos, opp, left = self.positions, self._opp, self._opp_q
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

    def _put_back(self, qty) -> float:
        """Market makers put ``qty`` units back on the traded side; returns units placed."""
        placed = self.book.refill(self._book_side, qty, at=self.refill_at)
        self._deficit = max(self._deficit - placed, 0.0)
        return placed

    @property
    def _book_side(self) -> str:
        return "bid" if self.direction == "down" else "ask"

    def _halt_round(self) -> RoundRecord:
        """A round with trading halted: no liquidation; market makers restore depth."""
        placed = self._put_back(self.recovery * self._deficit)
        self._path.append(self.price)
        self._halt_left -= 1
        if self._halt_left == 0:
            self._reference = self.price  # the breaker measures from where trading resumes
        empty = self.book.market_sell(0.0)
        pending = self._pending()  # dynamic margin can relax while the price stands still
        end = ("fixed_point" if pending == 0 else
               "max_rounds" if self.round >= self.max_rounds else None)
        if end is not None:
            self._halt_left = 0
        return self._record(self.price, empty, pending=pending, end=end, refilled=placed,
                            halted=True)

    def _finish(self, p_before, fill, *, shock_qty=0.0, n=0, qty=0.0, margin_lost=0.0,
                to_fund=0.0, fees=0.0, returned=0.0, debt=0.0, refilled=0.0, reduced=0,
                closed=0, surcharge=0.0, **adl_fields) -> RoundRecord:
        """Move the price to the last fill, let the book recover, and write the record."""
        if fill.filled > 0:
            self.price = fill.last_price
        self._path.append(self.price)
        self._deficit += fill.filled
        refilled += self._put_back(self.resilience * fill.filled)
        move = abs(self.price / p_before - 1.0)
        withdrawn = 0.0
        if self.withdrawal > 0 and move > 0:  # fast moves make market makers pull quotes
            within = self.price * (0.99 if self.direction == "down" else 1.01)
            withdrawn = self.book.withdraw(self._book_side, min(1.0, self.withdrawal * move / 0.01),
                                           within)
        pending = self._pending()
        if fill.unfilled > 0:
            end = "book_exhausted"
        elif pending == 0:
            end = "fixed_point"
        elif self.round >= self.max_rounds:
            end = "max_rounds"
        else:
            end = None
        tripped = False
        if self.breaker is not None and end is None:
            base = p_before if self.breaker.reference == "round" else self._reference
            if abs(self.price / base - 1.0) > self.breaker.move:
                self._halt_left, tripped = self.breaker.halt_rounds, True
        return self._record(p_before, fill, pending=pending, end=end, shock_qty=shock_qty, n=n,
                            qty=qty, margin_lost=margin_lost, to_fund=to_fund, fees=fees,
                            returned=returned, debt=debt, refilled=refilled, withdrawn=withdrawn,
                            tripped=tripped, reduced=reduced, closed=closed,
                            surcharge=surcharge, **adl_fields)

    def _record(self, p_before, fill, *, pending, end, shock_qty=0.0, n=0, qty=0.0,
                margin_lost=0.0, to_fund=0.0, fees=0.0, returned=0.0, debt=0.0, refilled=0.0,
                withdrawn=0.0, tripped=False, halted=False, reduced=0, closed=0,
                surcharge=0.0, n_adl=0, adl_qty=0.0, adl_price=float("nan"),
                n_deleveraged=0, adl_cost=0.0) -> RoundRecord:
        filled = fill.filled > 0
        # Partly closed positions still open: a partial close leaves less than the full size.
        reduced_open = (int(np.count_nonzero((self._closed_in < 0) & (self._q_left < self._size)))
                        if self.partial is not None else 0)
        return RoundRecord(
            round=self.round, direction=self.direction, price_before=p_before,
            price_after=self.price, n_liquidated=n, qty_liquidated=qty,
            notional_liquidated=qty * p_before, shock_qty=shock_qty, filled_qty=fill.filled,
            unfilled_qty=fill.unfilled, avg_fill_price=fill.avg_price,
            last_fill_price=fill.last_price,
            slippage=abs(fill.avg_price - p_before) / p_before if filled else 0.0,
            book_prices=fill.level_prices, book_qty=fill.level_qty, margin_lost=margin_lost,
            to_fund=to_fund, fees=fees, returned_to_traders=returned, bad_debt_round=debt,
            bad_debt=self._bad_debt, insurance_fund=self._fund, inventory_qty=self._inventory,
            book_left=self.book.units_left(self._book_side), refilled=refilled,
            withdrawn=withdrawn, open_interest=self._oi,
            open_interest_notional=self._oi * self.price, n_open=self._n_open, pending=pending,
            n_closed=closed, n_reduced=reduced, n_reduced_open=reduced_open, n_adl=n_adl,
            adl_qty=adl_qty, adl_price=adl_price, n_deleveraged=n_deleveraged,
            adl_cost=adl_cost, mmr_surcharge=surcharge, halted=halted,
            breaker_tripped=tripped,
            halt_rounds_left=self._halt_left,
            uniform_price=self.call_auction and filled and n > 0, end_reason=end)
