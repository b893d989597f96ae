"""Scenarios: the named, validated knobs a teacher talks about, and the presets.

A :class:`Scenario` builds the positions, the order book and the cascade, and saves to / loads
from JSON exactly.
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass
from pathlib import Path

from ._checks import check_int, check_number
from .cascade import BREAKER_REFERENCES, DIRECTIONS, PARTIAL_MODES, Cascade, CircuitBreaker
from .orderbook import BOOK_SHAPES, REFILL_PLACES, OrderBook
from .positions import DEFAULT_LEVERAGE_MIX, Positions, check_leverage_mix
from .tiers import MarginTiers

FORMAT = "marginloops.scenario/2"
#: Fields added by format 2 (the mechanisms); a format-1 file gets their defaults.
_FORMAT_2_FIELDS = ("mmr_tiers", "partial", "partial_fraction", "dynamic_margin",
                    "dynamic_window", "breaker_move", "breaker_rounds", "breaker_reference",
                    "recovery", "call_auction", "refill_at", "withdrawal", "adl")


@dataclass(frozen=True)
class Scenario:
    """A market set up for a cascade: who holds what leverage, how deep the book is, the shock.

    Every field is checked when the scenario is made (``ValueError`` naming the field, its value
    and the allowed range); ``dataclasses.replace(s, shock=0.1)`` or ``s.replace(shock=0.1)``
    makes a checked variant.

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
    insurance_fund : the fund at the start, USD >= 0
    liquidation_fee : None (all remaining margin to the fund) or a fee rate in [0, 0.1]
    max_rounds : bound on liquidation rounds, [1, 100000]
    seed : seed of the random population, [0, 2**32 - 1]
    mmr_tiers : () for one flat ``mmr``, or ((notional floor USD, rate), ...) brackets of
        tiered maintenance margin (they replace ``mmr``; leverage is capped per bracket)
    partial : None (close whole positions), "fraction" or "restore" (partial liquidation)
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

    def __post_init__(self):
        for label in ("name", "description"):
            if not isinstance(getattr(self, label), str):
                raise ValueError(f"{label} must be a string, got {getattr(self, label)!r}")
        num = {
            "price": dict(lo=0, hi=1e9, lo_open=True),
            "shock": dict(lo=0, hi=1, lo_open=True, hi_open=True),
            "open_interest": dict(lo=0, hi=1e13, lo_open=True),
            "long_share": dict(lo=0, hi=1),
            "mmr": dict(lo=0, hi=0.5),
            "entry_spread": dict(lo=0, hi=0.9),
            "depth_1pct": dict(lo=0, hi=1e13, lo_open=True),
            "book_range": dict(lo=0.01, hi=0.99),
            "tick": dict(lo=0, lo_open=True, hi=0.01 * self.price
                         if isinstance(self.price, (int, float)) and math.isfinite(self.price)
                         else None),
            "resilience": dict(lo=0, hi=1),
            "insurance_fund": dict(lo=0, hi=1e13),
            "recovery": dict(lo=0, hi=1),
            "partial_fraction": dict(lo=0.01, hi=1),
            "dynamic_margin": dict(lo=0, hi=10),
            "withdrawal": dict(lo=0, hi=100),
        }
        for label, bounds in num.items():
            object.__setattr__(self, label, check_number(label, getattr(self, label), **bounds))
        if self.liquidation_fee is not None:
            object.__setattr__(self, "liquidation_fee", check_number(
                "liquidation_fee", self.liquidation_fee, lo=0, hi=0.1))
        object.__setattr__(self, "n_positions",
                           check_int("n_positions", self.n_positions, lo=0, hi=2_000_000))
        object.__setattr__(self, "max_rounds",
                           check_int("max_rounds", self.max_rounds, lo=1, hi=100_000))
        object.__setattr__(self, "seed", check_int("seed", self.seed, lo=0, hi=2**32 - 1))
        if self.breaker_move is not None:
            object.__setattr__(self, "breaker_move", check_number(
                "breaker_move", self.breaker_move, lo=0.001, hi=0.5))
        object.__setattr__(self, "breaker_rounds",
                           check_int("breaker_rounds", self.breaker_rounds, lo=1, hi=100))
        if self.breaker_reference not in BREAKER_REFERENCES:
            raise ValueError(f"breaker_reference must be one of {BREAKER_REFERENCES}, got "
                             f"{self.breaker_reference!r}")
        object.__setattr__(self, "mmr_tiers", MarginTiers(self.mmr_tiers).brackets
                           if len(self.mmr_tiers) else ())
        if self.partial not in PARTIAL_MODES:
            raise ValueError(f"partial must be one of {PARTIAL_MODES}, got {self.partial!r}")
        object.__setattr__(self, "dynamic_window",
                           check_int("dynamic_window", self.dynamic_window, lo=1, hi=50))
        for flag in ("call_auction", "adl"):
            if not isinstance(getattr(self, flag), bool):
                raise ValueError(f"{flag} must be true or false, got {getattr(self, flag)!r}")
        if self.refill_at not in REFILL_PLACES:
            raise ValueError(f"refill_at must be one of {REFILL_PLACES}, got {self.refill_at!r}")
        if self.direction not in DIRECTIONS:
            raise ValueError(f"direction must be one of {DIRECTIONS}, got {self.direction!r}")
        if self.book_shape not in BOOK_SHAPES:
            raise ValueError(f"book_shape must be one of {BOOK_SHAPES}, got {self.book_shape!r}")
        check_leverage_mix(self.leverage_mix, 0.0 if self.mmr_tiers else self.mmr)
        object.__setattr__(self, "leverage_mix",
                           tuple((float(lev), float(w)) for lev, w in self.leverage_mix))
        levels = self.book_range * self.price / self.tick
        if levels > 2_000_000:
            raise ValueError(f"tick must give at most 2,000,000 book levels per side "
                             f"(book_range * price / tick), got tick {self.tick:g} -> "
                             f"{levels:,.0f} levels")

    # ------------------------------------------------------------------------- building
    def replace(self, **changes) -> Scenario:
        """A checked copy with some fields changed."""
        return dataclasses.replace(self, **changes)

    def positions(self) -> Positions:
        """The seeded population of leveraged positions."""
        return Positions.generate(
            self.n_positions, self.price, long_share=self.long_share,
            leverage_mix=self.leverage_mix, mmr=self.mmr, entry_spread=self.entry_spread,
            notional=self.open_interest, min_distance=2 * self.tick / self.price, seed=self.seed,
            tiers=MarginTiers(self.mmr_tiers) if self.mmr_tiers else None)

    def book(self) -> OrderBook:
        """The order book before the shock."""
        return OrderBook.from_depth(self.price, self.depth_1pct, shape=self.book_shape,
                                    tick=self.tick, book_range=self.book_range)

    def cascade(self) -> Cascade:
        """A fresh :class:`Cascade` for this scenario, ready for ``step()``."""
        breaker = None if self.breaker_move is None else CircuitBreaker(
            self.breaker_move, self.breaker_rounds, self.breaker_reference)
        return Cascade(self.positions(), self.book(), self.shock, direction=self.direction,
                       resilience=self.resilience, insurance_fund=self.insurance_fund,
                       liquidation_fee=self.liquidation_fee, max_rounds=self.max_rounds,
                       breaker=breaker, recovery=self.recovery, call_auction=self.call_auction,
                       refill_at=self.refill_at, withdrawal=self.withdrawal,
                       partial=self.partial, partial_fraction=self.partial_fraction,
                       dynamic_margin=self.dynamic_margin, dynamic_window=self.dynamic_window,
                       adl=self.adl)

    # ------------------------------------------------------------------------------ JSON
    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["leverage_mix"] = [list(p) for p in self.leverage_mix]
        d["mmr_tiers"] = [list(p) for p in self.mmr_tiers]
        return {"format": FORMAT, **d}

    @classmethod
    def from_dict(cls, data) -> Scenario:
        """Build from a dict as written by :meth:`to_dict`; unknown or missing keys are errors."""
        if not isinstance(data, dict):
            raise ValueError(f"scenario must be a JSON object, got {type(data).__name__}")
        data = dict(data)
        fmt = data.pop("format", None)
        if fmt == "marginloops.scenario/1":  # written before the mechanisms existed
            defaults = {f.name: f.default for f in dataclasses.fields(cls)}
            data = {**{k: defaults[k] for k in _FORMAT_2_FIELDS}, **data}
        elif fmt != FORMAT:
            raise ValueError(f"format must be {FORMAT!r} (or 'marginloops.scenario/1'), "
                             f"got {fmt!r}")
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise ValueError(f"scenario has unknown keys {unknown}; allowed: {sorted(names)}")
        missing = sorted(names - set(data))
        if missing:
            raise ValueError(f"scenario is missing keys {missing}")
        if not isinstance(data["leverage_mix"], list) or not all(
                isinstance(p, list) and len(p) == 2 for p in data["leverage_mix"]):
            raise ValueError("leverage_mix must be a list of [leverage, weight] pairs, got "
                             f"{data['leverage_mix']!r:.80}")
        return cls(**data)

    def to_json(self) -> str:
        """JSON text that :meth:`from_json` turns back into an equal scenario."""
        return json.dumps(self.to_dict(), indent=2) + "\n"

    @classmethod
    def from_json(cls, text) -> Scenario:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(f"scenario file is not valid JSON: {exc}") from None
        return cls.from_dict(data)

    def save(self, path) -> None:
        Path(path).write_text(self.to_json(), encoding="utf-8")

    @classmethod
    def load(cls, path) -> Scenario:
        return cls.from_json(Path(path).read_text(encoding="utf-8"))

    @classmethod
    def preset(cls, name) -> Scenario:
        """One of :data:`PRESETS` by name."""
        if name not in PRESETS:
            raise ValueError(f"preset must be one of {sorted(PRESETS)}, got {name!r}")
        return PRESETS[name]


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
)}
