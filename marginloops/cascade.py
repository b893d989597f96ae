"""The liquidation cascade, one round at a time, as one pipeline of stages.

Holds :class:`Cascade`, which owns the only mutable state of a run (the working venue, the
accounts, the insurance fund), and :class:`RoundRecord`, the immutable result of one round.

A round is a sequence of stages over one explicit :class:`RoundState` (issue 11): the shock, or
a mechanism's own round (a halt); check margins; choose closes; execute on the venue; settle
fees, the fund and bad debt; recover depth; record. The accounts are reached through the
:class:`~marginloops.accounts.Accounts` protocol, the venue through
:class:`~marginloops.venue.Venue`, and every mechanism (:mod:`marginloops.mechanisms`) through
its declared hooks: this module names none of them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, make_dataclass

import numpy as np

from ._checks import same_fields
from .mechanisms import MECHANISMS, Mechanism, record_fields
from .mechanisms.breaker import BREAKER_REFERENCES, CircuitBreaker
from .mechanisms.partial import PARTIAL_MODES
from .orderbook import REFILL_PLACES
from .params import Param
from .venue import Venue

__all__ = ["BREAKER_REFERENCES", "CORE_PARAMS", "DIRECTIONS", "END_REASONS", "PARTIAL_MODES",
           "Cascade", "CircuitBreaker", "RoundRecord", "RoundState"]

DIRECTIONS = ("down", "up")
#: Why a run stopped: a round with no new liquidation to come, a book side that ran out, the
#: round limit.
END_REASONS = ("fixed_point", "book_exhausted", "max_rounds")

#: The parameters of every run (the mechanisms declare theirs in :mod:`marginloops.mechanisms`):
#: one check each, shared with :class:`~marginloops.Scenario`.
CORE_PARAMS = (
    Param("shock", "number", 0.05, lo=0, hi=1, lo_open=True, hi_open=True, fraction=True,
          doc="the outside move in round 0 as a fraction in (0, 1)"),
    Param("direction", "choice", "down", choices=DIRECTIONS,
          doc='"down" (crash: longs are liquidated) or "up" (squeeze: shorts are liquidated)'),
    Param("resilience", "number", 0.0, lo=0, hi=1, fraction=True,
          doc="fraction of consumed depth market makers refill after each round, [0, 1]"),
    Param("insurance_fund", "number", 0.0, lo=0, doc="the fund at the start, USD >= 0"),
    Param("max_rounds", "whole", 1000, lo=1, hi=100_000,
          doc="bound on liquidation rounds, [1, 100000]"),
    Param("recovery", "number", 0.5, lo=0, hi=1, fraction=True,
          doc="fraction of the consumed depth market makers restore in each halted round and "
              "before each call auction, [0, 1]"),
    Param("refill_at", "choice", "touch", choices=REFILL_PLACES,
          doc='where resilience and recovery put depth back: "touch" or the old "levels"'),
)
_CORE = {p.name: p for p in CORE_PARAMS}


@dataclass(frozen=True, eq=False)
class _CoreRecord:
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
    bad_debt_round: float
    bad_debt: float
    insurance_fund: float
    inventory_qty: float
    book_left: float
    refilled: float
    open_interest: float
    open_interest_notional: float
    n_open: int
    pending: int
    n_closed: int
    end_reason: str | None
    venue: str = "book"

    def __eq__(self, other):
        """Field by field; arrays by value and NaN equal to NaN, so histories compare."""
        if not isinstance(other, RoundRecord):
            return NotImplemented
        return same_fields(self, other)

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


_RECORD_DOC = """What happened in one round. Round 0 is the shock; rounds 1, 2, ... are
    liquidations.

    Prices are USD, quantities asset units, money USD. Fields
    ----------------------------------------------------------
    round : int
    direction : "down" (a crash: longs are liquidated by selling) or "up" (a squeeze: shorts
        are liquidated by buying)
    price_before, price_after : last traded price at the start and the end of the round
    n_liquidated : positions acted on this round: ``n_closed + n_reduced`` (0 in round 0)
    qty_liquidated : units this round's liquidations sent to the venue (partial closes count
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
    bad_debt_round, bad_debt : shortfall the fund could not cover, this round / so far
    insurance_fund : the fund after the round
    inventory_qty : units taken over by the fund at bankruptcy price because they could not be
        sold, so far (their loss to the last traded price is booked in ``to_fund``)
    book_left : units still resting on the side of the venue this run trades into
    refilled : units market makers put back this round (resilience; during a halt or before a
        call auction, ``recovery`` of the depth consumed so far)
    open_interest : total size of still-open positions (both sides), units
    open_interest_notional : ``open_interest * price_after``
    n_open : positions still open
    pending : positions whose liquidation price the new price has reached: next round's
        liquidations
    n_closed : positions closed whole this round (including bankrupt positions closed by
        auto-deleveraging); without partial liquidation it equals ``n_liquidated``
    end_reason : None, or why the run stops after this round (see ``END_REASONS``)
    venue : str
        What the round traded on, in words: "book" (an order book) or "pool" (a
        constant-product pool); the narration names it.

    Fields the mechanisms add (:mod:`marginloops.mechanisms`; each has its default when the
    mechanism is off):
"""


def _make_record_class():
    extra = record_fields()
    doc = _RECORD_DOC + "".join(f"    {f.name} ({f.type.__name__}, default {f.default!r}) : "
                                f"{f.doc}\n" for f in extra) + "    "
    return make_dataclass(
        "RoundRecord", [(f.name, f.type, field(default=f.default)) for f in extra],
        bases=(_CoreRecord,), frozen=True, eq=False,
        namespace={"__doc__": doc, "__module__": __name__, "__hash__": None})


#: The immutable record of one round: :class:`_CoreRecord`'s fields, then every mechanism's.
RoundRecord = _make_record_class()


@dataclass
class RoundState:
    """The explicit state of the round being played: each stage reads and writes it, and the
    record is written from it. ``values`` holds what a mechanism keeps for its own fields."""

    round: int
    p_before: float
    check_price: float = math.nan
    fill: object = None
    shock_qty: float = 0.0
    n: int = 0
    qty: float = 0.0
    surcharge: float = 0.0
    margin_lost: float = 0.0
    to_fund: float = 0.0
    fees: float = 0.0
    returned: float = 0.0
    debt: float = 0.0
    closed: int = 0
    reduced: int = 0
    refilled: float = 0.0
    withdrawn: float = 0.0
    off_venue_units: float = 0.0
    off_venue_closed: int = 0
    pending: int = 0
    end: str | None = None
    halted: bool = False
    tripped: bool = False
    values: dict = field(default_factory=dict)


#: Every mechanism's Cascade keyword arguments.
_KNOWN_KWARGS = frozenset(k for m in MECHANISMS for k in m.kwargs())
#: Classes already seen to be venues: a runtime protocol check looks at every member each time
#: (about 0.2 ms, as much as the rest of a small cascade's checks).
_VENUE_TYPES: set = set()


def _is_venue(obj) -> bool:
    if type(obj) in _VENUE_TYPES:
        return True
    if isinstance(obj, Venue):
        _VENUE_TYPES.add(type(obj))
        return True
    return False


def _overrides(m: Mechanism, hook: str) -> bool:
    return getattr(type(m), hook) is not getattr(Mechanism, hook)


class Cascade:
    """A margin-call cascade: shock, then rounds of liquidation, slippage and new liquidation.

    Parameters
    ----------
    positions : Positions
        The leveraged traders. Every one must be solvent at the starting price. The round
        reaches them through ``positions.accounts(...)``, an
        :class:`~marginloops.accounts.Accounts` (any population offering it plugs in).
    book : Venue
        The venue before the shock (an :class:`~marginloops.OrderBook`, or any
        :class:`~marginloops.venue.Venue` such as a constant-product pool). It is copied: the
        cascade never changes the caller's venue.
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
        A rate in [0, 0.1]: the fund takes at most ``rate * filled notional`` of it as a fee and
        the rest goes back to the trader.
    max_rounds : int
        Upper bound on the number of liquidation rounds, in [1, 100000]: ``run()`` always ends.
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
    partial : {None, "fraction", "restore", "tier"}
        Close whole positions (None), ``partial_fraction`` of each reached position per round,
        or just enough of it to restore its maintenance margin at the check price (at least
        ``partial_fraction``). A position beyond bankruptcy, or left with less than 1% of its
        size, is closed whole. "tier" (with ``mmr_tiers`` only) cuts a reached position to the
        ceiling of the next lower margin tier, whose rate it then takes; one in the lowest tier
        is closed whole (:mod:`marginloops.mechanisms.partial` cites the venues' rule).
    dynamic_margin : float
        In [0, 10]: every maintenance rate rises by ``dynamic_margin`` times the price move over
        the last ``dynamic_window`` rounds (the margin spiral).
    adl : bool
        Auto-deleveraging: bankrupt positions the insurance fund cannot absorb are closed at
        their bankruptcy price against the most profitable, most leveraged opposite positions
        instead of being sold into the book, as far as those hold units (the last bankrupt
        position matched may be matched in part; the rest of it is sold into the book). What
        the opposite traders give up against the check price is recorded as ``adl_cost``.

    Every mechanism's keyword arguments are those its module declares
    (:data:`marginloops.mechanisms.MECHANISMS`); each is also an attribute of the cascade.

    Notes
    -----
    A round ``k >= 1`` (:meth:`step`): (1) check margins: every open position whose liquidation
    price the last traded price has reached (``P <= P_liq`` for a long); (2) choose closes;
    (3) execute: one aggregate market order for all of them walks the venue, its last fill is
    the new price; (4) settle: each position is closed at the round's average fill price ``A``,
    its remaining equity ``s q (A - B)`` (``B`` its bankruptcy price) goes to the fund, a
    negative one comes out of it, and what the fund cannot pay is bad debt; units the venue
    could not take are reported unfilled and taken over by the fund at ``B``, marked at the
    last traded price; (5) recover: resilience; (6) record.
    The run stops at a fixed point (no position within reach of the new price), when the venue
    side is exhausted, or at ``max_rounds``.

    Positions are sorted by liquidation price once, here; a round is then a ``searchsorted``
    and a slice, so its cost does not grow with the number of positions.
    """

    def __init__(self, positions, book, shock=0.05, *, direction="down", resilience=0.0,
                 insurance_fund=0.0, max_rounds=1000, recovery=0.5, refill_at="touch",
                 **mechanisms):
        if not callable(getattr(positions, "accounts", None)):  # Positions, or any population
            raise ValueError("positions must be a Positions object, got "  # that gives Accounts
                             f"{type(positions).__name__}")
        if not _is_venue(book):
            raise ValueError("book must be a venue (an OrderBook or a ConstantProductPool), got "
                             f"{type(book).__name__}")
        self.direction = _CORE["direction"].check(direction)
        self.shock = _CORE["shock"].check(shock)
        self.resilience = _CORE["resilience"].check(resilience)
        self.initial_fund = _CORE["insurance_fund"].check(insurance_fund)
        self.max_rounds = _CORE["max_rounds"].check(max_rounds)
        self.recovery = _CORE["recovery"].check(recovery)
        self.refill_at = _CORE["refill_at"].check(refill_at)
        unknown = sorted(set(mechanisms) - _KNOWN_KWARGS)
        if unknown:
            raise TypeError(f"Cascade() got an unexpected keyword argument {unknown[0]!r}")
        self.mechanisms = tuple(m(**{k: mechanisms[k] for k in m.kwargs() if k in mechanisms})
                                for m in MECHANISMS)
        for m in self.mechanisms:
            for key in m.kwargs():
                setattr(self, key, getattr(m, key))
        active = [m for m in self.mechanisms if m.active]
        both = any(m.moves_both_ways for m in active)
        if both:
            active = [m for m in self.mechanisms if m.active or m.follows_both_ways]
        self._at = {hook: tuple(m for m in active if _overrides(m, hook))
                    for hook in ("reset", "halts", "keeps_going", "surcharge", "check_price",
                                 "choose",
                                 "divert", "before_trade", "adjust_fill", "fee", "after_trade",
                                 "judge", "record")}
        fee = self._at["fee"]
        self._fee = fee[0].fee if fee else None
        self.positions = positions
        self._book0 = book.copy()
        down = self.direction == "down"
        start = book.best_bid if down else book.best_ask
        if start is None:
            raise ValueError(f"book must have {'bids' if down else 'asks'} for a "
                             f"{'crash' if down else 'squeeze'} to trade into, got none")
        self.start_price = start
        # Partial closes and moving margins change thresholds after the sort: those runs check
        # every open position of the side each round (vectorised) instead of one searchsorted.
        # A mechanism that moves the price back (arbitrage) makes the opposite side checkable.
        self.accounts = positions.accounts(
            self.direction, start, moving=any(m.moves_thresholds for m in active),
            opposite=any(m.needs_opposite for m in active), **({"both": True} if both else {}))
        self.active_mechanisms = tuple(active)
        self.reset()

    # ---------------------------------------------------------------------------- state
    def reset(self) -> None:
        """Return to the state before the shock, exactly (same book, fund, positions open)."""
        self.venue = self._book0.copy()
        self.price = self.start_price
        self.round = 0
        self.history: list[RoundRecord] = []
        self.end_reason: str | None = None
        self.accounts.reset()
        self._fund = self.initial_fund
        self._bad_debt = 0.0
        self.deficit = 0.0  # units consumed by trades and not yet put back
        self.path = [self.start_price]  # the price after each round, for dynamic margin
        for m in self.active_mechanisms:
            m.reset(self)

    @property
    def book(self) -> Venue:
        """The working venue (the order book, or whatever venue the cascade trades on)."""
        return self.venue

    @property
    def venue_side(self) -> str:
        """The side of the venue this run trades into: "bid" in a crash, "ask" in a squeeze."""
        return "bid" if self.direction == "down" else "ask"

    @property
    def ended(self) -> bool:
        """True once the run has stopped; ``step()`` then returns None."""
        return self.end_reason is not None

    @property
    def liquidated_round(self) -> np.ndarray:
        """Per position, the round in which it was liquidated, or -1 if still open (a new array)."""
        return self.accounts.liquidated_round()

    @property
    def open_mask(self) -> np.ndarray:
        """Boolean array: True for positions still open (a new array)."""
        return self.accounts.open_mask()

    @property
    def initial_book(self) -> Venue:
        """A copy of the venue as it was before the shock."""
        return self._book0.copy()

    @property
    def fee_rule(self):
        """Each close's fee, ``fee(frac, close, avg_price)`` (USD, per close), or None when no
        liquidation fee is charged (the remaining margin goes to the fund)."""
        return self._fee

    @property
    def insurance_fund(self) -> float:
        return self._fund

    @property
    def bad_debt(self) -> float:
        return self._bad_debt

    def surcharge(self) -> float:
        """What the mechanisms add to every maintenance rate now (dynamic margin; else 0)."""
        total = 0.0
        for m in self._at["surcharge"]:
            total += m.surcharge(self)
        return total

    def check_price(self) -> float:
        """The price margins are checked at now: the last traded price, unless a mechanism
        gives another (a mark price built from an index: ``price_source="mark"``)."""
        for m in self._at["check_price"]:
            p = m.check_price(self)
            if p is not None:
                return p
        return self.price

    def pending(self) -> int:
        """Open positions the check price has reached (0 if the price moved back away)."""
        return self.accounts.pending(self.check_price(), self.surcharge())

    def in_reach(self) -> np.ndarray:
        """Indices of the open positions the next round will liquidate (at the check price)."""
        return self.accounts.in_reach(self.check_price(), self.surcharge())

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
        return self.accounts.threshold_price(self.surcharge())

    def open_size(self) -> np.ndarray:
        """Units each position still holds (0 once closed; less than its size after partial
        closes or auto-deleveraging), in the order of :attr:`positions` (a new array)."""
        return self.accounts.open_size()

    def book_to_fund(self, amount: float, st: RoundState) -> None:
        """A mechanism's money to (``amount`` > 0) or from the insurance fund during round
        ``st``, settled as the core settles closes: what the fund cannot pay is bad debt, and
        money coming in pays this round's bad debt first (the round settles as a whole)."""
        if amount > 0 and st.debt > 0:
            paid = min(amount, st.debt)
            st.debt -= paid
            self._bad_debt -= paid
            amount -= paid
        self._fund += amount
        if self._fund < 0:
            st.debt -= self._fund
            self._bad_debt -= self._fund
            self._fund = 0.0

    def react(self, st: RoundState, but: Mechanism | None = None) -> None:
        """The mechanisms' reactions after a trade (``after_trade``: arbitrage, quote
        withdrawal, the fund's sale, the rebound), in order; a mechanism that plays a round of
        its own calls it (``but`` itself) so that the others react to that round too."""
        for m in self._at["after_trade"]:
            if m is not but:
                m.after_trade(self, st)

    def put_back(self, qty) -> float:
        """Market makers put ``qty`` units back on the traded side; returns units placed."""
        placed = self.venue.refill(self.venue_side, qty, at=self.refill_at)
        self.deficit = max(self.deficit - placed, 0.0)
        return placed

    # ---------------------------------------------------------------------------- rounds
    def step(self) -> RoundRecord | None:
        """Play one round (the first call is round 0, the shock); None once the run has ended.

        The stages, in order: the shock (round 0), or a mechanism's own round (a halt), or a
        liquidation (:meth:`_liquidate`); then, after a trade, :meth:`_recover` (new price,
        depth, end, what the move triggers); then :meth:`_record`.
        """
        if self.ended:
            return None
        st = RoundState(self.round, self.price)
        replacing = None
        if self.round > 0:
            replacing = next((m for m in self._at["halts"] if m.halts(self)), None)
        if replacing is not None:
            replacing.halt(self, st)
        else:
            if self.round == 0:
                self._shock(st)
            else:
                self._liquidate(st)
            self._recover(st)
        rec = self._record(st)
        self.history.append(rec)
        self.round += 1
        self.end_reason = rec.end_reason
        return rec

    def run(self) -> list[RoundRecord]:
        """Play rounds until the run ends (at most ``max_rounds + 1`` of them); the full history."""
        while self.step() is not None:
            pass
        return list(self.history)

    def _shock(self, st: RoundState) -> None:
        """Round 0: the outside order takes the venue to ``(1 -/+ shock) P0``."""
        p0 = self.price
        # A hair of tolerance, so that (1 - 0.41) * 100 = 59.00000000000001 still takes 59.
        if self.direction == "down":
            st.fill = self.venue.sell_through((1.0 - self.shock) * p0 * (1.0 - 1e-12))
        else:
            st.fill = self.venue.buy_through((1.0 + self.shock) * p0 * (1.0 + 1e-12))
        st.shock_qty = st.fill.filled

    def _liquidate(self, st: RoundState) -> None:
        """Check margins, choose closes, execute on the venue, settle."""
        at = self._at
        for m in at["surcharge"]:
            st.surcharge += m.surcharge(self)
        st.check_price = self.check_price()
        closing = self.accounts.check(st.check_price, st.surcharge)
        for m in at["choose"]:
            m.choose(self, st, closing)
        self.accounts.choose_whole(closing)
        for m in at["divert"]:
            m.divert(self, st, closing)
        st.n, st.qty = closing.n, closing.qty
        for m in at["before_trade"]:
            m.before_trade(self, st)
        fill = (self.venue.market_sell(st.qty) if self.direction == "down"
                else self.venue.market_buy(st.qty))
        for m in at["adjust_fill"]:
            fill = m.adjust_fill(self, st, fill)
        st.fill = fill
        done = self.accounts.close(closing, fill, st.qty, self.round, self._fee,
                                   p_before=st.p_before, off_venue_units=st.off_venue_units,
                                   off_venue_closed=st.off_venue_closed)
        st.to_fund, st.returned, st.fees = done.to_fund, done.returned, done.fees
        st.margin_lost, st.closed, st.reduced = done.margin_lost, done.n_closed, done.n_reduced
        self._fund += st.to_fund
        if self._fund < 0:
            st.debt, self._fund = -self._fund, 0.0
        self._bad_debt += st.debt

    def _recover(self, st: RoundState) -> None:
        """Move the price to the last fill, let the venue recover, decide the end."""
        fill = st.fill
        if fill.filled > 0:
            self.price = fill.last_price
        self.path.append(self.price)
        self.deficit += fill.filled
        st.refilled += self.put_back(self.resilience * fill.filled)
        self.react(st)
        st.pending = self.pending()
        if fill.unfilled > 0:
            st.end = "book_exhausted"
        elif st.pending == 0 and not any(m.keeps_going(self) for m in self._at["keeps_going"]):
            st.end = "fixed_point"
        elif self.round >= self.max_rounds:
            st.end = "max_rounds"
        if st.end is None:
            for m in self._at["judge"]:
                m.judge(self, st)

    def _record(self, st: RoundState) -> RoundRecord:
        fill, p_before = st.fill, st.p_before
        filled = fill.filled > 0
        acc = self.accounts
        extra = {}
        for m in self._at["record"]:
            extra.update(m.record(self, st))
        return RoundRecord(
            round=self.round, direction=self.direction, price_before=p_before,
            price_after=self.price, n_liquidated=st.n, qty_liquidated=st.qty,
            notional_liquidated=st.qty * p_before, shock_qty=st.shock_qty,
            filled_qty=fill.filled, unfilled_qty=fill.unfilled, avg_fill_price=fill.avg_price,
            last_fill_price=fill.last_price,
            slippage=abs(fill.avg_price - p_before) / p_before if filled else 0.0,
            book_prices=fill.level_prices, book_qty=fill.level_qty, margin_lost=st.margin_lost,
            to_fund=st.to_fund, bad_debt_round=st.debt, bad_debt=self._bad_debt,
            insurance_fund=self._fund, inventory_qty=acc.inventory,
            book_left=self.venue.units_left(self.venue_side), refilled=st.refilled,
            open_interest=acc.open_interest,
            open_interest_notional=acc.open_interest * self.price, n_open=acc.n_open,
            pending=st.pending, n_closed=st.closed, end_reason=st.end,
            venue=self.venue.kind, **extra)
