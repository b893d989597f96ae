"""The lending market a lending cascade runs on: borrowers, liquidation rules, venue, oracle.

:class:`LendingScenario` is a frozen, validated dataclass, like the perpetuals'
:class:`~marginloops.Scenario`; :data:`LENDING_PRESETS` names a few. The rule fields default to
Aave v3.3's values (see :mod:`marginloops.lending.rules`); the market's defaults are a made-up
ETH-like market, chosen so that the default shock sets off a cascade of several rounds.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass

import numpy as np

from ..numbers import number, percent
from ..orderbook import OrderBook
from ..params import check_choice, check_real, check_whole, show
from ..pool import ConstantProductPool
from .rules import CLOSE_FACTOR, CLOSE_FACTOR_HF_THRESHOLD, MIN_BASE_USD, MIN_LEFTOVER_USD

__all__ = ["LENDING_PRESETS", "LendingScenario", "ORACLES", "VENUES"]

VENUES = ("pool", "book")
ORACLES = ("venue", "push")
#: The order book's shape and reach (as the perpetual Scenario's defaults): a flat book
#: reaching 50% below and above the price, its tick 0.01% of the price (0.01 at a price of 100).
BOOK_RANGE = 0.5
TICK_SHARE = 1e-4

# field -> (kind, bounds): kind "real", "whole" or a tuple of choices
_RULES = {
    "price": ("real", dict(lo=0, hi=1e9, lo_open=True)),
    "n_accounts": ("whole", dict(lo=0, hi=2_000_000)),
    "health_lo": ("real", dict(lo=1, hi=100, lo_open=True)),
    "health_hi": ("real", dict(lo=1, hi=100, lo_open=True)),
    "size_median": ("real", dict(lo=0, hi=1e9, lo_open=True)),
    "size_spread": ("real", dict(lo=0, hi=3)),
    "liquidation_threshold": ("real", dict(lo=0, hi=1, lo_open=True, hi_open=True)),
    "bonus": ("real", dict(lo=1, hi=1.5, lo_open=True)),
    "protocol_fee": ("real", dict(lo=0, hi=1)),
    "close_factor": ("real", dict(lo=0, hi=1, lo_open=True)),
    "full_below": ("real", dict(lo=0, hi=1)),
    "small_usd": ("real", dict(lo=0, hi=1e9)),
    "dust_usd": ("real", dict(lo=0, hi=1e9)),
    "gas_cost": ("real", dict(lo=0, hi=1e6)),
    "shock": ("real", dict(lo=0, hi=0.9, lo_open=True)),
    "venue": (VENUES, None),
    "depth_1pct": ("real", dict(lo=0, hi=1e13, lo_open=True)),
    "pool_fee": ("real", dict(lo=0, hi=0.1)),
    "oracle": (ORACLES, None),
    "deviation": ("real", dict(lo=0, hi=0.5)),
    "heartbeat": ("whole", dict(lo=0, hi=100_000)),
    "max_rounds": ("whole", dict(lo=1, hi=100_000)),
    "seed": ("whole", dict(lo=0, hi=2**32 - 1)),
}


@dataclass(frozen=True)
class LendingScenario:
    """A lending market set up for a liquidation cascade.

    Every field is checked when the scenario is made (``ValueError`` naming the field, its
    value and the allowed range); :meth:`replace` makes a checked copy.

    Fields
    ------
    name, description : labels for menus and printouts
    price : the collateral coin's price at the start, USD, > 0 (the venue's best bid and the
        oracle's price)
    n_accounts : borrowers, 0 to 2,000,000
    health_lo, health_hi : their health factors at the start are spread uniformly in
        ``[health_lo, health_hi]``, both in (1, 100]; each one's debt follows from its
        collateral: ``debt = collateral · price · LT / HF``
    size_median : median collateral of a borrower, USD at ``price``
    size_spread : sigma of the lognormal spread of the collateral, [0, 3] (0: all equal)
    liquidation_threshold : LT, in (0, 1) (Aave's WETH on Ethereum: 0.83)
    bonus : the liquidation bonus as Aave stores it, (1, 1.5] (1.05: 5% bonus);
        ``liquidation_threshold · bonus`` must be at most 1 (Aave's PoolConfigurator refuses
        more: ``INVALID_RESERVE_PARAMS``)
    protocol_fee : the treasury's share of the bonus part, [0, 1] (Aave: 0.10)
    close_factor : share of the debt one call may repay in the 50% regime, (0, 1] (Aave: 0.5)
    full_below : health factor at or below which the whole debt may be repaid, [0, 1]
        (Aave: 0.95)
    small_usd : collateral or debt below this many USD lifts the close factor to 100%
        (Aave: 2,000)
    dust_usd : a partial liquidation must leave at least this many USD of debt and of
        collateral (Aave: 1,000)
    gas_cost : USD one liquidation call costs the liquidator, [0, 1e6]: it skips an account
        whose profit would not pay it
    shock : the outside seller pushes the venue's price down by this fraction in round 0,
        (0, 0.9]
    venue : "pool" (a constant-product pool, :meth:`ConstantProductPool.from_depth`) or
        "book" (an order book built as the perpetual Scenario builds it: flat, reaching 50%
        of the price, tick 0.01% of the price)
    depth_1pct : USD a seller gets for moving the venue's price 1% down
    pool_fee : the pool's fee, [0, 0.1] (Uniswap v2: 0.003)
    oracle : "venue" (the oracle reports the venue's price at the start of every round) or
        "push" (a Chainlink-style feed: it updates only when the venue's price is at least
        ``deviation`` away from its last report, or when ``heartbeat`` rounds have passed
        since its last update)
    deviation : the push oracle's deviation threshold, fraction, [0, 0.5] (Chainlink's ETH/USD
        on Ethereum: 0.005)
    heartbeat : the push oracle updates after this many rounds without one, [0, 100000]
        (0: never, only on deviation)
    max_rounds : bound on the rounds after the shock, [1, 100000]
    seed : seed of the random population, [0, 2**32 - 1]
    """

    name: str = "custom"
    description: str = ""
    price: float = 2000.0
    n_accounts: int = 1000
    health_lo: float = 1.01
    health_hi: float = 1.6
    size_median: float = 20_000.0
    size_spread: float = 1.0
    liquidation_threshold: float = 0.83
    bonus: float = 1.05
    protocol_fee: float = 0.10
    close_factor: float = CLOSE_FACTOR
    full_below: float = CLOSE_FACTOR_HF_THRESHOLD
    small_usd: float = MIN_BASE_USD
    dust_usd: float = MIN_LEFTOVER_USD
    gas_cost: float = 10.0
    shock: float = 0.08
    venue: str = "pool"
    depth_1pct: float = 600_000.0
    pool_fee: float = 0.003
    oracle: str = "venue"
    deviation: float = 0.005
    heartbeat: int = 0
    max_rounds: int = 200
    seed: int = 0

    def __post_init__(self):
        for label in ("name", "description"):
            if not isinstance(getattr(self, label), str):
                raise ValueError(f"{label} must be a string, got {show(getattr(self, label))}")
        for label, (kind, bounds) in _RULES.items():
            value = getattr(self, label)
            if kind == "real":
                value = check_real(label, value, **bounds)
            elif kind == "whole":
                value = check_whole(label, value, **bounds)
            else:
                value = check_choice(label, value, kind)
            object.__setattr__(self, label, value)
        if self.health_hi < self.health_lo:
            raise ValueError(f"health_hi must be >= health_lo ({self.health_lo:g}) and <= 100, "
                             f"got {self.health_hi:g}")
        if self.liquidation_threshold * self.bonus > 1.0 + 1e-12:
            raise ValueError(
                f"liquidation_threshold {self.liquidation_threshold:g} times bonus "
                f"{self.bonus:g} must be at most 1 (Aave's PoolConfigurator refuses more), got "
                f"{self.liquidation_threshold * self.bonus:.4g}: lower one of them")

    # ------------------------------------------------------------------------- building
    def replace(self, **changes) -> LendingScenario:
        """A checked copy with some fields changed."""
        return dataclasses.replace(self, **changes)

    def population(self) -> tuple[np.ndarray, np.ndarray]:
        """The seeded borrowers: ``(collateral coins, debt USD)``, two float64 arrays.

        Collateral in USD is lognormal (median ``size_median``, sigma ``size_spread``); the
        health factors are uniform in ``[health_lo, health_hi]``; ``debt = collateral ·
        price · LT / HF``.
        """
        rng = np.random.default_rng(self.seed)
        n = self.n_accounts
        usd = rng.standard_normal(n)
        usd *= self.size_spread
        np.exp(usd, out=usd)
        usd *= self.size_median
        hf = rng.uniform(self.health_lo, self.health_hi, n)
        collateral = usd / self.price
        np.multiply(usd, self.liquidation_threshold, out=usd)
        np.divide(usd, hf, out=usd)
        return collateral, usd

    def venue_model(self):
        """The venue before the shock, its best bid at ``price``: a
        :class:`~marginloops.ConstantProductPool` (placed at spot ``price/(1 - pool_fee)``)
        or an :class:`~marginloops.OrderBook`."""
        if self.venue == "pool":
            g = 1.0 - self.pool_fee
            try:
                return ConstantProductPool.from_depth(self.price / g, self.depth_1pct,
                                                      fee=self.pool_fee)
            except ValueError as exc:
                raise ValueError(f"the pool cannot be built from price and depth_1pct: {exc}") \
                    from None
        try:
            book = OrderBook.from_depth(self.price, self.depth_1pct, tick=self.price * TICK_SHARE,
                                        book_range=BOOK_RANGE)
        except ValueError as exc:
            raise ValueError(f"the order book cannot be built from price and depth_1pct: "
                             f"{exc}") from None
        if book.best_bid is None:
            raise ValueError(f"depth_1pct {self.depth_1pct:g} USD puts no coins on any level "
                             f"of the book; raise depth_1pct")
        return book

    def cascade(self):
        """A fresh :class:`~marginloops.lending.LendingCascade` for this scenario."""
        from .cascade import LendingCascade
        return LendingCascade(self)

    # ------------------------------------------------------------------------- words, data
    def describe(self) -> str:
        """One paragraph in plain words."""
        oracle = ("an oracle that reports the venue's price every round" if self.oracle == "venue"
                  else f"a push oracle that updates when the price moves {percent(self.deviation)}"
                  + (f" or every {self.heartbeat} rounds" if self.heartbeat else
                     " (no heartbeat)"))
        venue = (f"a constant-product pool ({percent(self.pool_fee)} fee)" if self.venue == "pool"
                 else "an order book")
        return (f"{self.n_accounts:,} borrowers hold collateral worth {number(self.size_median, 0)}"
                f" USD each (median) at a price of {number(self.price)} USD, with health factors "
                f"from {self.health_lo:.2f} to {self.health_hi:.2f}. Liquidation threshold "
                f"{percent(self.liquidation_threshold)}, bonus {percent(self.bonus - 1.0)}, "
                f"protocol fee {percent(self.protocol_fee)} of the bonus, close factor "
                f"{percent(self.close_factor, 0)} above HF {self.full_below:.2f}; liquidators pay "
                f"{number(self.gas_cost)} USD of gas per call. They sell on {venue} with "
                f"{number(self.depth_1pct, 0)} USD of 1% depth, watched by {oracle}. An outside "
                f"seller pushes the price down {percent(self.shock)}.")

    def to_dict(self) -> dict:
        """Every field, as plain JSON values."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data) -> LendingScenario:
        """A scenario from :meth:`to_dict`'s dict (unknown keys refused, by name)."""
        if not isinstance(data, dict):
            raise ValueError(f"a lending scenario must be a dict, got {show(data)}")
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise ValueError(f"unknown lending scenario fields {unknown}; known: {sorted(names)}")
        return cls(**data)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=1)

    @classmethod
    def from_json(cls, text) -> LendingScenario:
        return cls.from_dict(json.loads(text))

    @classmethod
    def preset(cls, name) -> LendingScenario:
        """A preset from :data:`LENDING_PRESETS` by name."""
        if name not in LENDING_PRESETS:
            raise ValueError(f"preset must be one of {tuple(LENDING_PRESETS)}, got {show(name)}")
        return LENDING_PRESETS[name]


def _presets() -> dict:
    base = LendingScenario(
        name="eth-pool",
        description="An ETH-like lending market whose liquidators sell on one constant-product "
                    "pool: an 8% push starts a cascade of several rounds.")
    out = {"eth-pool": base}
    out["stale-oracle"] = base.replace(
        name="stale-oracle", oracle="push", deviation=0.05, heartbeat=3,
        description="The same market watched by a push oracle that reports a move only when "
                    "it reaches 5%, or every 3 rounds (its heartbeat): the pool runs ahead of "
                    "the oracle and the liquidations come in bursts when it updates.")
    out["small-borrowers"] = base.replace(
        name="small-borrowers", n_accounts=2000, size_median=300.0, size_spread=1.8,
        health_hi=1.4, gas_cost=40.0, shock=0.12, depth_1pct=60_000.0,
        description="Many small borrowers (median 300 USD of collateral) and a few large ones, "
                    "with gas at 40 USD a call: liquidating the small accounts does not pay, "
                    "so the large ones' sales sink the price and the small ones' debt is left "
                    "underwater.")
    out["close-factor-100"] = base.replace(
        name="close-factor-100", close_factor=1.0,
        description="The eth-pool market with a 100% close factor: every liquidation repays "
                    "the whole debt and dumps more collateral at once.")
    out["book"] = base.replace(
        name="book", venue="book",
        description="The eth-pool market whose liquidators sell on an order book of the same "
                    "1% depth instead of a pool.")
    # Lesson 08's case, its fields as marginloops.lending.cases calibrates them (copied here:
    # the core does not import the lesson's cases)
    out["black-thursday"] = LendingScenario(
        name="black-thursday", price=194.97, n_accounts=2000, health_lo=1.01, health_hi=3.0,
        size_median=20_000.0, size_spread=0.7, liquidation_threshold=1 / 1.5, bonus=1.13,
        protocol_fee=0.0, close_factor=1.0, gas_cost=50.0, shock=0.3, venue="pool",
        depth_1pct=468_000.0, oracle="push", deviation=0.5, heartbeat=2,
        description="Stylised MakerDAO on 12-13 March 2020 (lesson 08's case): ether vaults "
                    "at 150% or more, whole vaults liquidated at a 13% penalty, a price feed "
                    "that reports every second round, expensive gas, keepers selling on one "
                    "pool.")
    return out


#: name -> :class:`LendingScenario`: "eth-pool" (the default), "stale-oracle" (push oracle),
#: "small-borrowers" (gas makes small accounts unprofitable), "close-factor-100", "book" (an
#: order book instead of the pool) and "black-thursday" (lesson 08's case, calibrated in
#: :mod:`marginloops.lending.cases`).
LENDING_PRESETS = _presets()
