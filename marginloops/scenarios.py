"""Scenarios: the named, validated knobs a teacher talks about, and the presets.

A :class:`Scenario` builds the positions, the order book and the cascade, and saves to / loads
from JSON exactly. A scenario file may give only the fields it changes, from the defaults or from
a preset: ``{"preset": "thin-book", "shock": 0.1}``.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ._checks import is_real
from .cascade import CORE_PARAMS, Cascade
from .mechanisms import MECHANISMS, all_params
from .numbers import number, percent
from .orderbook import BOOK_SHAPES, OrderBook
from .params import check_choice, check_real, check_whole, show
from .pool import ConstantProductPool
from .positions import DEFAULT_LEVERAGE_MIX, Positions, check_leverage_mix
from .tiers import BINANCE_STYLE_TIERS, MarginTiers

FORMAT = "marginloops.scenario/2"
#: The venues a scenario's cascade can trade on: a limit order book, or a constant-product pool
#: of the same 1% depth (see :meth:`Scenario.venue_model`).
VENUES = ("book", "pool")
#: The pool's fee, Uniswap v2's 0.3% (``UniswapV2Library.getAmountOut`` multiplies the input
#: by 997/1000).
POOL_FEE = 0.003
#: The format written before the mechanisms existed; still read.
FORMAT_1 = "marginloops.scenario/1"
#: The format nested by concern (issue 11): market, venue, accounts, mechanisms; read, and
#: written by ``to_dict(nested=True)`` / ``to_json(nested=True)`` / ``save(path, nested=True)``.
FORMAT_3 = "marginloops.scenario/3"
#: Format 3's groups: each Scenario field but the labels and the mechanisms' in one of them
#: (the mechanisms' fields go under "mechanisms", one object per mechanism, by its name). In
#: "venue", "kind" is the ``venue`` field.
CONCERNS = {
    "market": ("price", "shock", "direction", "seed", "max_rounds", "insurance_fund",
               "index_venues"),
    "venue": ("kind", "depth_1pct", "book_shape", "book_range", "tick", "resilience",
              "recovery", "refill_at"),
    "accounts": ("n_positions", "open_interest", "long_share", "leverage_mix", "mmr",
                 "mmr_tiers", "entry_spread"),
}
#: Largest scenario file :meth:`Scenario.load` reads, bytes (a real one is about 1 KB).
MAX_FILE_BYTES = 10 * 1024 * 1024
#: Fields given as a fraction (0.05 is 5%); the command line also reads them as "5%".
#: The run's and the mechanisms' declared parameters (:data:`~marginloops.cascade.CORE_PARAMS`,
#: :data:`~marginloops.mechanisms.MECHANISMS`): Scenario checks them with their one check.
RUN_PARAMS = CORE_PARAMS + all_params()
FRACTION_FIELDS = ("long_share", "mmr", "entry_spread", "book_range") + tuple(
    p.name for p in RUN_PARAMS if p.fraction)
#: Fields added by format 2 (the mechanisms); a format-1 file gets their defaults.
_FORMAT_2_FIELDS = ("mmr_tiers", "partial", "partial_fraction", "dynamic_margin",
                    "dynamic_window", "breaker_move", "breaker_rounds", "breaker_reference",
                    "recovery", "call_auction", "refill_at", "withdrawal", "adl")


#: The fields :meth:`Scenario.positions` reads, and those :meth:`Scenario.venue_model` reads: a
#: sweep (:mod:`marginloops.sweeps`) reuses the positions or the venue built for an earlier run
#: whose values of these fields are the same (a cascade changes neither: it copies the venue, and
#: a population's arrays are read-only).
POSITION_FIELDS = ("n_positions", "price", "long_share", "leverage_mix", "mmr", "entry_spread",
                   "open_interest", "tick", "seed", "mmr_tiers")
VENUE_FIELDS = ("venue", "direction", "price", "depth_1pct", "book_shape", "book_range", "tick")


# ----------------------------------------------------------------------------------- checks
# Scenario checks its own fields with the checks of marginloops.params (one rule: real numbers
# only, bools and strings refused), so a message always names the scenario's field.
_show, _number, _whole, _choice = show, check_real, check_whole, check_choice


def _pairs(label, value, parts, what) -> tuple:
    """``value`` as a tuple of (float, float) pairs of real, finite numbers."""
    if isinstance(value, np.ndarray):
        value = value.tolist()
    if not isinstance(value, (tuple, list)):
        raise ValueError(f"{label} must be a list of {what} pairs ([] for none), got "
                         f"{_show(value)}")
    out = []
    for i, pair in enumerate(value):
        if isinstance(pair, np.ndarray):
            pair = pair.tolist()
        if not isinstance(pair, (tuple, list)) or len(pair) != 2:
            raise ValueError(f"{label} must be a list of {what} pairs, got {_show(pair)} as "
                             f"pair {i} of {_show(value)}")
        xs = []
        for part, x in zip(parts, pair, strict=True):
            if not is_real(x):
                raise ValueError(f"{label} {part} must be a number, got {_show(x)} in pair {i}")
            try:
                x = float(x)
            except OverflowError:
                x = math.inf
            if not math.isfinite(x):
                raise ValueError(f"{label} {part} must be a finite number, got {_show(x)} in "
                                 f"pair {i}")
            xs.append(x)
        out.append(tuple(xs))
    return tuple(out)


def _plain(x) -> str:
    """A parameter as a student would type it back: ``0.2``, ``5``, ``33.3333``, ``0.033333``."""
    return number(x, 6, sig=6, trim=True)


def fraction_text(x) -> str:
    """A fraction as a percentage with as few decimals (1 to 4) as show it exactly.

    >>> fraction_text(0.1), fraction_text(0.0125), fraction_text(0.005), fraction_text(1 / 3)
    ('10.0%', '1.25%', '0.5%', '33.3333%')
    """
    for decimals in (1, 2, 3):
        if abs(round(x * 100, decimals) - x * 100) < 1e-9:
            return percent(x, decimals)
    return percent(x, 4)


def _value_text(field, value) -> str:
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if field == "leverage_mix":
        total = sum(w for _, w in value)
        return ", ".join(f"{_plain(lev)}x {fraction_text(w / total)}" for lev, w in value)
    if field == "index_venues":
        if not value:
            return "none"
        return ", ".join(f"{number(d, 0)} USD weight {_plain(w)}" for d, w in value)
    if field == "mmr_tiers":
        if not value:
            return "none"
        return ", ".join(f"{fraction_text(r)} from {number(f, 0)} USD" for f, r in value)
    if field in FRACTION_FIELDS:
        return fraction_text(value)
    if isinstance(value, int):
        return number(value, 0)
    return number(value, 6, sig=6, trim=True)


def describe_changes(base: Scenario, other: Scenario) -> str:
    """The fields of ``other`` that differ from ``base``, in words ("" if none).

    >>> describe_changes(PRESETS["thin-book"], PRESETS["thin-book"].replace(shock=0.1, seed=3))
    'shock 10.0%, seed 3'
    """
    return ", ".join(f"{f.name} {_value_text(f.name, getattr(other, f.name))}"
                     for f in dataclasses.fields(Scenario)
                     if f.name not in ("name", "description")
                     and getattr(other, f.name) != getattr(base, f.name))


def _nearest(key, names) -> str:
    close = difflib.get_close_matches(key, names, n=1) if isinstance(key, str) else []
    return f" (did you mean {close[0]!r}?)" if close else ""


@dataclass(frozen=True)
class Scenario:
    """A market set up for a cascade: who holds what leverage, how deep the book is, the shock.

    Every field is checked when the scenario is made (``ValueError`` naming the field, its value
    and the allowed range); ``dataclasses.replace(s, shock=0.1)`` or ``s.replace(shock=0.1)``
    makes a checked variant, and :meth:`variant` one that is also named as changed. Numbers
    must be real numbers (``int``, ``float`` or numpy numbers): bools and strings are refused,
    in Python and in a JSON file alike.

    Fields
    ------
    name, description : labels for menus and printouts
    price : starting mid price, USD, > 0
    shock : the outside move in round 0 as a fraction in (0, 1)
    direction : "down" (crash: longs are liquidated) or "up" (squeeze: shorts are liquidated)
    n_positions : number of leveraged positions, 0 to 2,000,000
    open_interest : their total notional at ``price``, USD
    long_share : fraction of positions that are long, [0, 1]
    leverage_mix : ((leverage, weight), ...) pairs; leverage in [1, 1/mmr)
    mmr : maintenance-margin rate, [0, 0.5]
    entry_spread : entries are spread uniformly within ``price * (1 ± entry_spread)``, [0, 0.9]
    depth_1pct : USD resting within 1% of ``price`` on each side of the book
    book_shape : "flat" (linear impact) or "growing" (square-root-like impact)
    book_range : how far each side of the book reaches, fraction of price, [0.01, 0.99]
    tick : price step between book levels, USD
    resilience : fraction of consumed depth market makers refill after each round, [0, 1]
    insurance_fund : the fund at the start, USD >= 0 (at most 1e15, as every number)
    liquidation_fee : None (all remaining margin to the fund) or a fee rate in [0, 0.1]
    max_rounds : bound on liquidation rounds, [1, 100000]
    seed : seed of the random population, [0, 2**32 - 1]
    mmr_tiers : () for one flat ``mmr``, or ((notional floor USD, rate), ...) brackets of
        tiered maintenance margin (they replace ``mmr``; leverage is capped per bracket)
    partial : None (close whole positions), "fraction", "restore" or "tier" (partial
        liquidation; "tier" steps a position down one margin tier and needs mmr_tiers)
    partial_fraction : share closed per round ("fraction"), or at least ("restore"), [0.01, 1]
    dynamic_margin : rise of every maintenance rate per unit of recent price move, [0, 10]
    dynamic_window : rounds over which that move is measured, [1, 50]
    breaker_move : None (no circuit breaker) or the move, a fraction in [0.001, 0.5], that
        halts trading
    breaker_rounds : rounds a halt lasts, [1, 100]
    breaker_reference : "round" (the move within a round) or "start" (from the price trading
        last started or resumed at)
    recovery : fraction of the consumed depth market makers restore in each halted round and
        before each call auction, [0, 1]
    call_auction : clear each round's liquidations in one batch at a single price
    refill_at : where resilience and recovery put depth back: "touch" or the old "levels"
    adl : auto-deleveraging: bankrupt positions the fund cannot absorb are closed against the
        most profitable, most leveraged opposite positions at their bankruptcy price
    withdrawal : how hard market makers pull quotes after a fast move, [0, 100]: a move of
        x% cancels ``min(1, withdrawal * x)`` of the depth within 1% of the new price
    venue : "book" (a limit order book from ``depth_1pct``, ``book_shape``, ``book_range`` and
        ``tick``) or "pool" (a constant-product pool, ``x·y = k`` with Uniswap v2's 0.3% fee,
        holding the same 1% depth: see :meth:`venue_model`)
    chasers : traders who open the other way as the price moves (shorts selling a crash's
        breakdown), a share of the starting open interest, [0, 1]; a rebound (arbitrage)
        liquidates them: the wick (see :mod:`marginloops.mechanisms.rebound`)
    chaser_leverage : their leverage, [1, 100]
    index_venues : () for none, or ((depth_1pct USD, weight), ...): the spot venues of the
        index and mark price, each an order book of that 1% depth built like the perpetual's
        (``price``, ``book_shape``, ``book_range``, ``tick``), weighted in the index (see
        :mod:`marginloops.mechanisms.mark_price`); ``price_source="mark"`` and ``arbitrage``
        need them
    """

    name: str = "custom"
    description: str = ""
    price: float = 100.0
    shock: float = 0.05
    direction: str = "down"
    n_positions: int = 2000
    open_interest: float = 20_000_000.0
    long_share: float = 0.5
    leverage_mix: tuple = DEFAULT_LEVERAGE_MIX
    mmr: float = 0.005
    entry_spread: float = 0.10
    depth_1pct: float = 2_000_000.0
    book_shape: str = "flat"
    book_range: float = 0.5
    tick: float = 0.01
    resilience: float = 0.0
    insurance_fund: float = 0.0
    liquidation_fee: float | None = None
    max_rounds: int = 1000
    seed: int = 0
    mmr_tiers: tuple = ()
    partial: str | None = None
    partial_fraction: float = 0.25
    dynamic_margin: float = 0.0
    dynamic_window: int = 2
    breaker_move: float | None = None
    breaker_rounds: int = 2
    breaker_reference: str = "round"
    recovery: float = 0.5
    call_auction: bool = False
    refill_at: str = "touch"
    withdrawal: float = 0.0
    adl: bool = False
    venue: str = "book"
    chasers: float = 0.0
    chaser_leverage: float = 20.0
    index_venues: tuple = ()

    def __post_init__(self):
        for label in ("name", "description"):
            if not isinstance(getattr(self, label), str):
                raise ValueError(f"{label} must be a string, got {_show(getattr(self, label))}")
        object.__setattr__(self, "price", _number("price", self.price, lo=0, hi=1e9,
                                                  lo_open=True))
        num = {
            "open_interest": dict(lo=0, hi=1e13, lo_open=True),
            "long_share": dict(lo=0, hi=1),
            "mmr": dict(lo=0, hi=0.5),
            "entry_spread": dict(lo=0, hi=0.9),
            "depth_1pct": dict(lo=0, hi=1e13, lo_open=True),
            "book_range": dict(lo=0.01, hi=0.99),
            "tick": dict(lo=0, lo_open=True, hi=0.01 * self.price),
        }
        for label, bounds in num.items():
            object.__setattr__(self, label, _number(label, getattr(self, label), **bounds))
        # The run's and the mechanisms' fields: their one declared check, shared with Cascade.
        for param in RUN_PARAMS:
            object.__setattr__(self, param.name, param.check(getattr(self, param.name)))
        object.__setattr__(self, "n_positions",
                           _whole("n_positions", self.n_positions, lo=0, hi=2_000_000))
        object.__setattr__(self, "seed", _whole("seed", self.seed, lo=0, hi=2**32 - 1))
        tiers = self.mmr_tiers
        if isinstance(tiers, MarginTiers):
            tiers = tiers.brackets
        tiers = _pairs("mmr_tiers", tiers, ("floor", "rate"), "(notional floor, rate)")
        object.__setattr__(self, "mmr_tiers", MarginTiers(tiers).brackets if tiers else ())
        _choice("book_shape", self.book_shape, BOOK_SHAPES)
        _choice("venue", self.venue, VENUES)
        index = _pairs("index_venues", self.index_venues, ("depth_1pct", "weight"),
                       "(depth_1pct USD, weight)")
        for i, (depth, weight) in enumerate(index):
            for part, x in (("depth_1pct", depth), ("weight", weight)):
                if not 0 < x <= 1e13:
                    raise ValueError(f"index_venues {part} must be in (0, 1e13], got {_plain(x)} "
                                     f"in pair {i}")
        object.__setattr__(self, "index_venues", index)
        if not index and self.price_source == "mark":
            # Two fields conflict: name both, and the two ways out.
            raise ValueError(
                'price_source "mark" checks margins on a mark price built from an index of spot '
                "venues, so it needs index_venues, got index_venues () (none): give "
                "index_venues (e.g. ((2e6, 1), (1e6, 1)): 1% depth in USD and weight of each "
                'venue) or choose price_source "last"')
        if not index and self.arbitrage > 0:
            raise ValueError(
                f"arbitrage {_plain(self.arbitrage)} trades between the perpetual and its index "
                "venues, so it needs index_venues, got index_venues () (none): give "
                "index_venues (e.g. ((2e6, 1), (1e6, 1))) or set arbitrage 0")
        # Checks across fields that a mechanism declares (partial "tier" needs mmr_tiers): the
        # same ones its Cascade makes, by building it.
        for m in MECHANISMS:
            m(**m.from_scenario(self))
        mix = _pairs("leverage_mix", self.leverage_mix, ("leverage", "weight"),
                     "(leverage, weight)")
        if not math.isfinite(sum(w for _, w in mix)):
            raise ValueError("leverage_mix weights must add up to a finite number (they are "
                             "relative: 1 and 3 mean 25% and 75%), got "
                             f"{_show(self.leverage_mix)}")
        top = max((lev for lev, _ in mix), default=1.0)
        if not self.mmr_tiers and self.mmr > 0 and top >= 1 / self.mmr:
            # Two fields conflict: name both, and the two ways out.
            raise ValueError(
                f"mmr {_plain(self.mmr)} allows leverage below {_plain(1 / self.mmr)}x, but "
                f"leverage_mix has {_plain(top)}x: lower mmr below {_plain(1 / top)} or the "
                f"leverage below {_plain(1 / self.mmr)}x")
        # each leverage in [1, 1/mmr), weights >= 0 with a positive sum
        check_leverage_mix(mix, 0.0 if self.mmr_tiers else self.mmr)
        object.__setattr__(self, "leverage_mix", mix)
        levels = self.book_range * self.price / self.tick
        if levels > 2_000_000:
            raise ValueError(f"tick must give at most 2,000,000 book levels per side "
                             f"(book_range * price / tick), got tick {self.tick:g} -> "
                             f"{levels:,.0f} levels")

    # ------------------------------------------------------------------------- building
    def replace(self, **changes) -> Scenario:
        """A checked copy with some fields changed (name and description kept as they are)."""
        return dataclasses.replace(self, **changes)

    def variant(self, **changes) -> Scenario:
        """A checked copy with some fields changed, named and described as changed.

        The one naming rule of the command line and of scenario files with a ``"preset"`` key:
        a preset (or a variant of one) whose fields change is named ``"<preset> (changed)"``
        and described by what differs from the preset; changed back, it is the preset again.
        Any other scenario becomes ``"<name> (changed)"`` ("custom" stays "custom"), described
        by what differs from it. A ``name`` or ``description`` given among the changes is kept.

        >>> s = Scenario.preset("crowded-longs").variant(shock=0.1)
        >>> s.name, s.description
        ('crowded-longs (changed)', 'crowded-longs with shock 10.0%')
        >>> s.variant(shock=0.03) is Scenario.preset("crowded-longs")
        True
        """
        new = dataclasses.replace(self, **changes)
        origin = self.name.removesuffix(" (changed)")
        base = PRESETS.get(origin)
        if base is None:
            base, origin = self, self.name
        diff = describe_changes(base, new)
        if not diff and not {"name", "description"} & set(changes):
            return base
        labels = {}
        if "name" not in changes and diff:
            labels["name"] = origin if origin == "custom" else f"{origin} (changed)"
        if "description" not in changes and diff:
            labels["description"] = f"{origin} with {diff}"
        return dataclasses.replace(new, **labels) if labels else new

    def positions(self) -> Positions:
        """The seeded population of leveraged positions."""
        try:
            return Positions.generate(
                self.n_positions, self.price, long_share=self.long_share,
                leverage_mix=self.leverage_mix, mmr=self.mmr, entry_spread=self.entry_spread,
                notional=self.open_interest, min_distance=2 * self.tick / self.price,
                seed=self.seed, tiers=MarginTiers(self.mmr_tiers) if self.mmr_tiers else None)
        except ValueError as exc:  # e.g. sizes that round to 0: say which fields made them
            raise ValueError(f"the positions cannot be built from n_positions, open_interest, "
                             f"price, leverage_mix and mmr/mmr_tiers: {exc}") from None

    def book(self) -> OrderBook:
        """The order book before the shock."""
        why = "the order book cannot be built from price, depth_1pct, book_shape, book_range " \
              "and tick"
        try:
            book = OrderBook.from_depth(self.price, self.depth_1pct, shape=self.book_shape,
                                        tick=self.tick, book_range=self.book_range)
        except ValueError as exc:
            raise ValueError(f"{why}: {exc}") from None
        if book.best_bid is None or book.best_ask is None:  # every level's size rounded to 0
            raise ValueError(f"{why}: depth_1pct {_show(self.depth_1pct)} USD puts no units on "
                             f"any level; raise depth_1pct")
        return book

    def pool(self) -> ConstantProductPool:
        r"""The constant-product pool of the same 1% depth as :meth:`book`, its touch at
        ``price`` on the side the run trades into.

        A book's 1% depth is the USD resting within 1% of the price: what a seller gets for
        sweeping it. For a pool of ``x`` coins and ``y`` USD (spot ``P = y/x``) without a fee,
        selling until the spot is ``r·P`` (``r = 0.99``) leaves ``x' = x/\sqrt r`` (since
        ``x'y' = xy`` and ``y'/x' = rP``) and ``y' = y\sqrt r``: the seller gets
        ``y (1 - \sqrt{0.99})`` USD, so ``y = depth_1pct / (1 - \sqrt{0.99}) ≈ 199.5 ×
        depth_1pct``. With the fee ``f`` taken on the input (``γ = 1 - f``), selling ``a·x``
        coins moves the spot to ``P / ((1 + a)(1 + γa))`` and pays ``y·γa / (1 + γa)``: ``a``
        solves ``γa² + (1 + γ)a + 1 - 1/r = 0`` and ``y = depth_1pct (1 + γa) / (γa)``
        (:meth:`ConstantProductPool.from_depth` computes it).

        A pool's best bid is ``γP`` and its best ask ``P/γ``; the pool is placed at spot
        ``price/γ`` in a crash (``γ·price`` in a squeeze), so the run starts at ``price`` as
        on a book whose touch is at ``price``.
        """
        g = 1.0 - POOL_FEE
        spot = self.price / g if self.direction == "down" else self.price * g
        try:
            return ConstantProductPool.from_depth(spot, self.depth_1pct, fee=POOL_FEE)
        except ValueError as exc:
            raise ValueError(f"the pool cannot be built from price and depth_1pct: {exc}") \
                from None

    def index_books(self) -> tuple:
        """The index venues as ((OrderBook, weight), ...): each a book of its 1% depth built as
        :meth:`book` builds the perpetual's (same price, shape, range and tick); () for none."""
        out = []
        for i, (depth, weight) in enumerate(self.index_venues):
            try:
                book = OrderBook.from_depth(self.price, depth, shape=self.book_shape,
                                            tick=self.tick, book_range=self.book_range)
            except ValueError as exc:
                raise ValueError(f"index_venues pair {i}: the book cannot be built from its "
                                 f"depth_1pct {_plain(depth)} and price, book_shape, book_range "
                                 f"and tick: {exc}") from None
            if book.best_bid is None or book.best_ask is None:
                raise ValueError(f"index_venues depth_1pct {_plain(depth)} in pair {i} puts no "
                                 f"units on any level; raise it")
            out.append((book, weight))
        return tuple(out)

    def venue_model(self):
        """The venue the cascade trades on: :meth:`book` or :meth:`pool` (``venue``)."""
        return self.pool() if self.venue == "pool" else self.book()

    def cascade(self, *, positions: Positions | None = None, venue=None) -> Cascade:
        """A fresh :class:`Cascade` for this scenario, ready for ``step()``.

        ``positions`` and ``venue``, when given, stand for :meth:`positions` and
        :meth:`venue_model`: the ones a scenario with the same :data:`POSITION_FIELDS` /
        :data:`VENUE_FIELDS` built (a sweep reuses them; the cascade changes neither).
        """
        run = {p.name: getattr(self, p.name) for p in CORE_PARAMS}
        for m in MECHANISMS:
            run.update(m.from_scenario(self))
        return Cascade(self.positions() if positions is None else positions,
                       self.venue_model() if venue is None else venue, **run)

    # ------------------------------------------------------------------------------ JSON
    def to_dict(self, nested: bool = False) -> dict:
        """Every field, flat (format 2), or ``nested`` by concern (format 3: "market",
        "venue", "accounts" and "mechanisms", one object per mechanism)."""
        d = dataclasses.asdict(self)
        d["leverage_mix"] = [list(p) for p in self.leverage_mix]
        d["mmr_tiers"] = [list(p) for p in self.mmr_tiers]
        d["index_venues"] = [list(p) for p in self.index_venues]
        if not nested:
            return {"format": FORMAT, **d}
        out = {"format": FORMAT_3, "name": d["name"], "description": d["description"]}
        for group, names in CONCERNS.items():
            out[group] = {k: d["venue" if k == "kind" else k] for k in names}
        out["mechanisms"] = {m.name: {p.name: d[p.name] for p in m.params} for m in MECHANISMS}
        return out

    @classmethod
    def from_dict(cls, data) -> Scenario:
        """Build from a dict such as :meth:`to_dict` writes, or one giving only some fields.

        Fields left out come from the defaults, or from the preset named by a ``"preset"`` key
        (then the scenario is named as :meth:`variant` names it). ``"format"`` may be left out;
        if given it must be a known one. Unknown keys are errors.

        >>> Scenario.from_dict({"preset": "thin-book", "shock": 0.1}).name
        'thin-book (changed)'
        """
        if not isinstance(data, dict):
            raise ValueError(f"scenario must be a JSON object {{\"field\": value, ...}}, got "
                             f"{'a list' if isinstance(data, list) else _show(data)}")
        data = dict(data)
        if "format" in data:
            fmt = data.pop("format")
            if not isinstance(fmt, str) or fmt not in (FORMAT, FORMAT_1, FORMAT_3):
                raise ValueError(f"format must be {FORMAT!r} (or {FORMAT_1!r} or {FORMAT_3!r}, "
                                 f"or left out), got {_show(fmt)}")
            if fmt == FORMAT_3:
                data = _flatten(data)
        names = [f.name for f in dataclasses.fields(cls)]
        unknown = [k for k in data if k not in names and k != "preset"]
        if unknown:
            keys = ", ".join(f"{_show(k)}{_nearest(k, names + ['preset', 'format'])}"
                             for k in unknown)
            raise ValueError(f"scenario has unknown key{'s' if len(unknown) > 1 else ''} {keys}"
                             "; a key is a Scenario field, \"preset\" or \"format\"")
        if "preset" in data:
            base = data.pop("preset")
            if not isinstance(base, str) or base not in PRESETS:
                raise ValueError(f"preset must be one of {sorted(PRESETS)}, got {_show(base)}")
            return PRESETS[base].variant(**data)
        return cls(**data)

    def to_json(self, nested: bool = False) -> str:
        """JSON text that :meth:`from_json` turns back into an equal scenario (format 3,
        nested by concern, when ``nested``)."""
        return json.dumps(self.to_dict(nested), indent=2) + "\n"

    @classmethod
    def from_json(cls, text) -> Scenario:
        """Build from JSON text (see :meth:`from_dict`); every failure is a ``ValueError``."""
        return cls.from_dict(_parse_json(text, "scenario JSON"))

    def save(self, path, nested: bool = False) -> None:
        """Write :meth:`to_json` to the file ``path`` (UTF-8; format 3 when ``nested``)."""
        Path(_file_name(path)).write_text(self.to_json(nested), encoding="utf-8")

    @classmethod
    def load(cls, path) -> Scenario:
        """Read a scenario file; every failure is a ``ValueError`` that names the file.

        A file is refused if it is missing, a directory, larger than :data:`MAX_FILE_BYTES`,
        not UTF-8, not JSON (or nested too deeply), not a JSON object, or not a valid scenario.
        """
        name = _file_name(path)
        where = f"scenario file {name!r}"
        try:
            if os.path.isdir(name):
                raise ValueError(f"{where} is a directory, not a file")
            size = os.stat(name).st_size
            if size > MAX_FILE_BYTES:
                raise ValueError(_too_big(where, size))
            with open(name, "rb") as f:
                raw = f.read(MAX_FILE_BYTES + 1)  # a device or pipe may not know its size
        except FileNotFoundError:
            raise ValueError(f"{where} does not exist") from None
        except OSError as exc:
            raise ValueError(f"cannot read {where}: {exc.strerror or exc}") from None
        if len(raw) > MAX_FILE_BYTES:
            raise ValueError(_too_big(where, len(raw)))
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise ValueError(f"{where} is not UTF-8 text (byte {exc.start:,} is "
                             f"0x{raw[exc.start]:02x}); save it as UTF-8") from None
        data = _parse_json(text, where)
        try:
            return cls.from_dict(data)
        except ValueError as exc:
            raise ValueError(f"{where}: {exc}") from None

    @classmethod
    def preset(cls, name) -> Scenario:
        """One of :data:`PRESETS` by name."""
        if not isinstance(name, str) or name not in PRESETS:
            raise ValueError(f"preset must be one of {sorted(PRESETS)}, got {_show(name)}")
        return PRESETS[name]


def _with_declared_fields(cls):
    """``cls``, or a subclass with a field for every declared parameter it does not name yet
    (default as declared; checked in ``__post_init__`` with the others): a new mechanism's
    parameters become Scenario fields without an edit here. The fields written out above keep
    their order, so files, descriptions and printouts stay as they are."""
    have = {f.name for f in dataclasses.fields(cls)}
    extra = [p for p in RUN_PARAMS if p.name not in have]
    if not extra:
        return cls
    doc = (cls.__doc__ or "") + "".join(f"    {p.name} : {p.doc}\n" for p in extra)
    return dataclasses.make_dataclass(
        cls.__name__, [(p.name, object, dataclasses.field(default=p.default)) for p in extra],
        bases=(cls,), frozen=True, namespace={"__doc__": doc, "__module__": __name__})


Scenario = _with_declared_fields(Scenario)


def _flatten(data: dict) -> dict:
    """A format-3 scenario (nested by concern) as the flat fields of format 2, every key
    checked: an unknown one is named with its group ("market.shok")."""
    out = {}
    groups = {**CONCERNS, "mechanisms": tuple(m.name for m in MECHANISMS)}
    top = ("name", "description", "preset")
    for key, value in data.items():
        if key in top:
            out[key] = value
            continue
        if key not in groups:
            raise ValueError(f"scenario (format 3) has unknown key {_show(key)}"
                             f"{_nearest(key, [*groups, *top, 'format'])}; a key is one of "
                             f"{[*groups]}, a label ({', '.join(top)}) or \"format\"")
        if not isinstance(value, dict):
            raise ValueError(f"{key} must be an object {{\"field\": value, ...}}, got "
                             f"{_show(value)}")
        if key != "mechanisms":
            for name, v in value.items():
                if name not in groups[key]:
                    raise ValueError(f"{key} has unknown key {_show(name)}"
                                     f"{_nearest(name, groups[key])}; its keys are "
                                     f"{list(groups[key])}")
                out["venue" if (key, name) == ("venue", "kind") else name] = v
            continue
        for mech, params in value.items():
            m = next((m for m in MECHANISMS if m.name == mech), None)
            if m is None:
                raise ValueError(f"mechanisms has unknown key {_show(mech)}"
                                 f"{_nearest(mech, groups['mechanisms'])}; a key is a mechanism: "
                                 f"{list(groups['mechanisms'])}")
            names = [p.name for p in m.params]
            if not isinstance(params, dict):
                raise ValueError(f"mechanisms.{mech} must be an object of {names}, got "
                                 f"{_show(params)}")
            for name, v in params.items():
                if name not in names:
                    raise ValueError(f"mechanisms.{mech} has unknown key {_show(name)}"
                                     f"{_nearest(name, names)}; its keys are {names}")
                out[name] = v
    return out


def _file_name(path) -> str:
    """``path`` as a file name, refusing what is not one (an empty name, None, a number)."""
    if isinstance(path, bytes):
        path = os.fsdecode(path)
    if not isinstance(path, (str, os.PathLike)):
        raise ValueError(f"path must be a file name, got {_show(path)}")
    name = os.fspath(path)
    if not isinstance(name, str):
        name = os.fsdecode(name)
    if not name.strip():
        raise ValueError(f"path must be a file name, got an empty one ({name!r})")
    if "\0" in name:
        raise ValueError(f"path must be a file name, got one with a NUL character: {_show(name)}")
    return name


def _too_big(where, size) -> str:
    return (f"{where} is {number(size / 2**20, 1)} MB; a scenario file may be at most "
            f"{number(MAX_FILE_BYTES / 2**20, 0)} MB (a real one is about 1 KB)")


def _parse_json(text, where):
    if isinstance(text, (bytes, bytearray)):
        try:
            text = bytes(text).decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise ValueError(f"{where} is not UTF-8 text (byte {exc.start:,})") from None
    if not isinstance(text, str):
        raise ValueError(f"{where} must be text, got {_show(text)}")
    if len(text) > MAX_FILE_BYTES:
        raise ValueError(_too_big(where, len(text.encode("utf-8"))))
    try:
        return json.loads(text)
    except RecursionError:
        raise ValueError(f"{where} is nested too deeply to be a scenario (a scenario needs "
                         "three levels: the object, a list of pairs, a pair)") from None
    except json.JSONDecodeError as exc:
        raise ValueError(f"{where} is not valid JSON: {exc}") from None
    except ValueError as exc:  # e.g. an integer with more digits than Python converts
        reason = str(exc).split(";")[0]
        raise ValueError(f"{where} is not valid JSON: {reason}") from None


#: The market the two venue presets share, so that compare mode shows only their rules: 2,000
#: traders, 80% long at 10x-40x (Hyperliquid's BTC limit is 40x), on a perpetual book of
#: 1M USD within 1% and a 5% shock; spot venues of 10M USD in all for the index, arbitrageurs
#: closing a quarter of the gap each round, and 10% of the open interest in chasers at 25x
#: (shorts sold into the fall, which the rebound liquidates). Sources of each venue's
#: settings: lessons/TEACHERS.md, "Venue presets".
VENUE_MARKET = dict(
    long_share=0.8, leverage_mix=((10, 0.3), (20, 0.4), (40, 0.3)), open_interest=25_000_000.0,
    depth_1pct=1_000_000.0, shock=0.05, insurance_fund=250_000.0, entry_spread=0.10,
    arbitrage=0.25, chasers=0.1, chaser_leverage=25.0)
#: Hyperliquid's oracle weights Binance, OKX, Bybit, Kraken, Kucoin, Gate IO and MEXC spot 3, 2,
#: 2, 1, 1, 1, 1 (https://hyperliquid.gitbook.io/hyperliquid-docs/hypercore/oracle; its own
#: spot, weight 1, left out); depths in proportion to the weights, 10M USD in all.
HYPERLIQUID_ORACLE = tuple((10_000_000.0 * w / 11.0, float(w)) for w in (3, 2, 2, 1, 1, 1, 1))

PRESETS = {s.name: s for s in (
    Scenario(
        name="calm-market",
        description="Modest leverage and a deep book: the shock is absorbed within a round "
                    "or two.",
        leverage_mix=((2, 0.4), (3, 0.3), (5, 0.2), (10, 0.1)), depth_1pct=5_000_000.0,
        shock=0.05),
    Scenario(
        name="crowded-longs",
        description="Most traders are long at 10x-100x and their liquidation prices crowd the "
                    "book: a 3% dip becomes a 15% fall, and the insurance fund runs dry.",
        insurance_fund=250_000.0, long_share=0.8,
        leverage_mix=((10, 0.3), (25, 0.3), (50, 0.25), (100, 0.15)),
        open_interest=25_000_000.0, depth_1pct=1_500_000.0, shock=0.03, entry_spread=0.10),
    Scenario(
        name="thin-book",
        description="An ordinary leverage mix, but market makers have pulled back: little "
                    "depth near the price, and a 3% dip runs away.",
        depth_1pct=300_000.0, shock=0.03, insurance_fund=100_000.0),
    Scenario(
        name="short-squeeze",
        description="Crowded, highly leveraged shorts and a 5% jump up: shorts are forced to "
                    "buy back.",
        direction="up", long_share=0.2, leverage_mix=((10, 0.3), (25, 0.3), (50, 0.4)),
        open_interest=15_000_000.0, depth_1pct=1_500_000.0, shock=0.05, entry_spread=0.10),
    Scenario(
        name="binance-style",
        description="A crowded perpetual on a thin book, liquidated as Binance documents: "
                    "margins checked on a mark price from an index of spot venues, "
                    "liquidation orders limited at the bankruptcy price, the insurance fund "
                    "taking over the rest, tiered margin, then auto-deleveraging.",
        **VENUE_MARKET, index_venues=((5_000_000.0, 3.0), (3_000_000.0, 2.0),
                                      (2_000_000.0, 1.0)),
        price_source="mark", mark_rule="binance", mark_interval=1, basis_window=5,
        liquidation_orders="bankruptcy", fund_unwind=0.25, adl=True,
        mmr_tiers=BINANCE_STYLE_TIERS.brackets, partial="tier"),
    Scenario(
        name="hyperliquid-style",
        description="The same crowded perpetual, liquidated as Hyperliquid documents: a mark "
                    "price from its oracle, market orders in slices of 20%, the liquidator "
                    "vault taking over positions below two thirds of their maintenance "
                    "margin, then auto-deleveraging.",
        **VENUE_MARKET, index_venues=HYPERLIQUID_ORACLE, price_source="mark",
        mark_rule="hyperliquid", mark_interval=1, basis_window=25,
        liquidation_orders="backstop", backstop_threshold=2 / 3, adl=True,
        mmr_tiers=((0.0, 0.0125), (150_000_000.0, 0.025)), partial="fraction",
        partial_fraction=0.2, liquidation_fee=0.0),
)}
