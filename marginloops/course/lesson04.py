"""Lesson 4 · Liquidation clusters and open interest: a market whose positions bunch at a round
number and at popular leverages, the flat-band market of the critical ratio n/D, the phase
diagram's market and grid (:data:`PHASE_SCENARIO`, :data:`PHASE_GRID`) and its numbers
(:func:`phase_summary`), and exercises.

Everything here is model core (numpy only); the picture of the critical ratio is
:class:`marginloops.ui.critical.CriticalRatioView`, the phase diagram's
:class:`marginloops.ui.phase.PhaseDiagramView`.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import numpy as np

from .._checks import check_int, check_number
from ..analysis import closed_form_amplification
from ..cascade import Cascade
from ..critical import (  # re-exported: the lesson imports them from here
    RATIO_GRID,
    critical_table,
    flat_band_market,
    simulated_amplification,
    units_per_dollar,
)
from ..exercises import Exercise
from ..numbers import number, percent
from ..positions import Positions, check_leverage_mix, liquidation_price
from ..scenarios import Scenario
from ..sweeps import sweep
from ..tiers import MarginTiers

__all__ = ["EXERCISE_DEPTH", "PHASE_GRID", "PHASE_SCENARIO", "POPULAR_LEVERAGES", "POPULAR_MIX",
           "RATIO_GRID",
           "ClusteredScenario", "cluster_rounds_table", "clustered_market", "compare_clusters",
           "critical_table", "crowd_by_leverage", "exercises", "flat_band_market",
           "format_cluster_comparison", "format_phase_summary", "liquidation_map_text",
           "phase_summary", "popular_liquidation_prices",
           "simulated_amplification", "units_per_dollar"]

#: Leverage settings that exchanges offer as one-click buttons, so traders pick them most.
POPULAR_LEVERAGES = (10.0, 20.0, 25.0, 50.0, 100.0)
#: A leverage mix of only those settings: (leverage, weight) pairs.
POPULAR_MIX = ((10.0, 0.30), (20.0, 0.20), (25.0, 0.25), (50.0, 0.15), (100.0, 0.10))


@dataclass(frozen=True)
class ClusteredScenario(Scenario):
    """A :class:`Scenario` plus a crowd of longs who all bought at one round number.

    The ordinary population of the scenario (entries spread around ``price``) is joined by
    ``cluster_positions`` longs with entries within ``cluster_entry * (1 ± cluster_spread)``:
    traders who bought when the price broke a round number. Their leverage is drawn from
    ``leverage_mix`` (the popular settings), or is ``cluster_leverage`` for all of them, so
    their liquidation prices bunch into one spike per leverage, at
    ``cluster_entry * (1 - 1/L) / (1 - mmr)``.

    Extra fields
    ------------
    cluster_entry : the round number the crowd bought at, USD, > 0
    cluster_positions : how many positions the crowd holds, [1, 200000]
    cluster_open_interest : their total notional at ``price``, USD, > 0
    cluster_spread : how far their entries stray from ``cluster_entry``, fraction [0, 0.05]
    cluster_leverage : None (drawn from ``leverage_mix``) or one leverage for the whole crowd

    Every cluster position must be solvent at ``price`` (its liquidation price below it):
    otherwise ``ValueError`` says which leverage breaks it and what price would do.
    ``replace()`` keeps the class, so the explorer's controls can change the other fields.
    """

    cluster_entry: float = 100.0
    cluster_positions: int = 600
    cluster_open_interest: float = 10_000_000.0
    cluster_spread: float = 0.002
    cluster_leverage: float | None = None

    def __post_init__(self):
        super().__post_init__()
        set_ = object.__setattr__
        set_(self, "cluster_entry", check_number("cluster_entry", self.cluster_entry, lo=0,
                                                 hi=1e9, lo_open=True))
        set_(self, "cluster_positions", check_int("cluster_positions", self.cluster_positions,
                                                  lo=1, hi=200_000))
        set_(self, "cluster_open_interest", check_number(
            "cluster_open_interest", self.cluster_open_interest, lo=0, hi=1e13, lo_open=True))
        set_(self, "cluster_spread", check_number("cluster_spread", self.cluster_spread, lo=0,
                                                  hi=0.05))
        mmr = 0.0 if self.mmr_tiers else self.mmr
        if self.cluster_leverage is not None:
            set_(self, "cluster_leverage", check_number(
                "cluster_leverage", self.cluster_leverage, lo=1,
                hi=1 / mmr if mmr > 0 else None, hi_open=mmr > 0))
        top = self.cluster_liquidation_prices().max() * (1 + self.cluster_spread)
        if self.mmr_tiers:  # each position's own bracket sets it: check the crowd itself
            top = float(self.crowd_positions().liquidation_price.max())
        if top >= self.price - 2 * self.tick:
            lev = self.cluster_leverages().max()
            raise ValueError(
                f"cluster_entry must put every cluster liquidation price below the price "
                f"{self.price:g}: {lev:g}x longs entered up to "
                f"{self.cluster_entry * (1 + self.cluster_spread):g} are liquidated at up to "
                f"{top:.4g}; lower cluster_entry or the leverage, or raise the price above "
                f"{top + 2 * self.tick:.4g}")

    def cluster_leverages(self) -> np.ndarray:
        """The crowd's leverage settings, shape (k,)."""
        if self.cluster_leverage is not None:
            return np.array([self.cluster_leverage])
        levs, _ = check_leverage_mix(self.leverage_mix, 0.0)
        return levs

    def cluster_liquidation_prices(self) -> np.ndarray:
        """Where the crowd's liquidation spikes sit (entry exactly ``cluster_entry``), USD, one
        per leverage of :meth:`cluster_leverages`.

        With one flat rate: ``cluster_entry * (1 - 1/L) / (1 - mmr)``. Under tiered margin
        (``mmr_tiers``) the spike of a crowd position of the crowd's mean size: the rate and
        maintenance amount of its bracket (:meth:`Positions.with_tiers`), its leverage capped
        at what the bracket allows, as :meth:`Positions.generate` caps it.
        """
        levs = self.cluster_leverages()
        if not self.mmr_tiers:
            return liquidation_price(self.cluster_entry, levs, self.mmr)
        tiers = MarginTiers(self.mmr_tiers)
        size = self.cluster_open_interest / self.price / self.cluster_positions
        k = tiers.bracket(size * self.cluster_entry * (1.0 + self.cluster_spread) * 1.1)
        levs = np.minimum(levs, tiers.max_leverage[k])
        one = Positions.from_arrays(1, np.full(len(levs), size), self.cluster_entry, levs,
                                    tiers.rates[k])
        return np.array(one.with_tiers(tiers).liquidation_price)

    def crowd_positions(self) -> Positions:
        """The crowd alone: ``cluster_positions`` longs around ``cluster_entry`` (under tiered
        margin each with its bracket's rate and maintenance amount), seeded apart from the
        scenario's own population (``[seed, 4]``); :meth:`positions` puts them last."""
        mix = (((self.cluster_leverage, 1.0),) if self.cluster_leverage is not None
               else self.leverage_mix)
        return Positions.generate(
            self.cluster_positions, self.cluster_entry, long_share=1.0, leverage_mix=mix,
            mmr=self.mmr, entry_spread=self.cluster_spread,
            notional=self.cluster_open_interest * self.cluster_entry / self.price,
            rng=np.random.default_rng([self.seed, 4]),
            tiers=MarginTiers(self.mmr_tiers) if self.mmr_tiers else None)

    def positions(self) -> Positions:
        """The scenario's seeded population followed by the crowd (the crowd last).

        Under tiered margin each position keeps its bracket's rate *and maintenance amount*:
        the joined arrays are put through :meth:`Positions.with_tiers` again, which finds each
        position's bracket from its own side, size, entry and leverage, so every position
        comes out exactly as it was generated (its liquidation price included).
        """
        parts = (super().positions(), self.crowd_positions())
        joined = Positions.from_arrays(
            *(np.concatenate([getattr(p, name) for p in parts])
              for name in ("side", "size", "entry", "leverage", "mmr")))
        return joined.with_tiers(MarginTiers(self.mmr_tiers)) if self.mmr_tiers else joined

    def cluster_mask(self, n_total: int | None = None) -> np.ndarray:
        """True for the crowd's positions in :meth:`positions` (they come last)."""
        n = self.n_positions + self.cluster_positions if n_total is None else n_total
        return np.arange(n) >= self.n_positions


# ---------------------------------------------------------------------- the phase diagram
#: The market of Part 5's phase diagram: the crowded-longs preset of lesson 3 (its liquidation
#: prices spread over the 10% around the price, a flat book). Its crowding ratio within 5% is
#: n/D = 1.44 at 1M USD of 1% depth and falls as 1 / depth (n stays, D grows with the depth),
#: so n/D = 1 lies at about 1.44M USD, inside :data:`PHASE_GRID`.
PHASE_SCENARIO = Scenario.preset("crowded-longs")
#: The phase diagram's two fields: 1% depth (USD, x; the view reads it as n/D) from 0.4M to 8M
#: (n/D from about 3.6 to 0.18), and the shock from 1% to 10% (y). 18 x 10 = 180 runs, well
#: under 2 s in one process.
PHASE_GRID = {
    "depth_1pct": tuple(float(m) * 1e6 for m in (0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.2, 1.4,
                                                  1.5, 1.6, 1.8, 2.0, 2.5, 3.0, 4.0, 6.0, 8.0)),
    "shock": tuple(k / 100 for k in range(1, 11)),
}



def phase_summary(scenario=None, grid: dict | None = None) -> dict:
    """Part 5's phase diagram in numbers: one :func:`marginloops.sweep` of ``scenario``
    (default :data:`PHASE_SCENARIO`) over ``grid`` (default :data:`PHASE_GRID`: a dict whose
    first field is ``depth_1pct``, the second any scenario field, e.g. ``shock``), in this
    process.

    Returns a dict:

    - ``name`` (the scenario's), ``field`` (the grid's second field), ``runs``;
    - ``depths`` (x, USD), ``values`` (the second field's values, y);
    - ``ratios``: the crowding ratio n/D within 5% of the price of each depth (it does not
      depend on the second field when that is the shock: n/D is measured before it; the
      median over the column if it does), and ``closed_form``: ``1 / (1 - n/D)`` (``inf``
      from 1 on);
    - ``amplification``: shape (len(values), len(depths)), the mean over seeds;
    - ``boundary``: the depth where n/D = 1, interpolated linearly between the two depths
      around it (NaN when n/D stays on one side of 1);
    - ``above`` and ``below``: the depth just on each side of that boundary (``above``: the
      deepest book with n/D >= 1; ``below``: the shallowest with n/D < 1), each a dict of
      ``depth``, ``ratio``, ``closed_form``, ``lowest`` and ``highest`` amplification over the
      second field and the values where they happen (``lowest_at``, ``highest_at``); None when
      no depth lies on that side.
    """
    scenario = PHASE_SCENARIO if scenario is None else scenario
    grid = PHASE_GRID if grid is None else grid
    if not isinstance(grid, dict) or len(grid) != 2 or next(iter(grid)) != "depth_1pct":
        raise ValueError(f"grid must be a dict of two fields, depth_1pct first, got {grid!r}")
    field = list(grid)[1]
    result = sweep(scenario, grid, measures=("crowding", "amplification"), progress=False)
    depths, values, amp = result.grid2d("depth_1pct", field, "amplification")
    _, _, ratio_map = result.grid2d("depth_1pct", field, "crowding")
    depths, values = np.asarray(depths, dtype=float), np.asarray(values, dtype=float)
    ratios = np.nanmedian(ratio_map, axis=0)  # one value a column when y is the shock
    closed = np.array([closed_form_amplification(r) for r in ratios])
    order = np.argsort(depths)
    depths, ratios, closed, amp = depths[order], ratios[order], closed[order], amp[:, order]

    def side(i):
        if i is None:
            return None
        col = amp[:, i]
        lo, hi = int(np.nanargmin(col)), int(np.nanargmax(col))
        return dict(depth=float(depths[i]), ratio=float(ratios[i]),
                    closed_form=float(closed[i]), lowest=float(col[lo]),
                    lowest_at=float(values[lo]), highest=float(col[hi]),
                    highest_at=float(values[hi]))

    at_or_above = np.flatnonzero(ratios >= 1.0)
    under = np.flatnonzero(ratios < 1.0)
    i_above = int(at_or_above.max()) if at_or_above.size else None
    i_below = int(under.min()) if under.size else None
    boundary = float("nan")
    if i_above is not None and i_below is not None and i_below == i_above + 1:
        r0, r1 = ratios[i_above], ratios[i_below]
        boundary = float(depths[i_above] + (r0 - 1.0) / (r0 - r1)
                         * (depths[i_below] - depths[i_above]))
    return dict(name=getattr(scenario, "name", type(scenario).__name__), field=field,
                runs=len(result), depths=depths, values=values,
                ratios=ratios, closed_form=closed, amplification=amp, boundary=boundary,
                above=side(i_above), below=side(i_below))


def format_phase_summary(summary: dict) -> str:
    """:func:`phase_summary` as text: the map (one row per depth: n/D, the closed form and the
    amplification for each value of the second field), then where n/D crosses 1 and the
    amplification on each side of it."""
    field, values = summary["field"], summary["values"]

    def value(v):
        return percent(v, 0) if field == "shock" else number(v, 2, trim=True)

    head = f"{field} " if field != "shock" else "shock "
    lines = [f"Phase map of {summary['name']}: {len(summary['depths'])} depths x "
             f"{len(values)} values of {field} = {summary['runs']} runs. "
             "Amplification, by " + head.strip() + ":",
             f"{'1% depth':>8}{'n/D':>6}{'closed form':>13}"
             + "".join(f"{value(v):>7}" for v in values)]
    for j, depth in enumerate(summary["depths"]):
        closed = summary["closed_form"][j]
        lines.append(f"{number(depth / 1e6, 1) + 'M':>8}{number(summary['ratios'][j], 2):>6}"
                     f"{'inf' if not np.isfinite(closed) else number(closed, 2):>13}"
                     + "".join(f"{number(a, 2):>7}" for a in summary["amplification"][:, j]))
    above, below = summary["above"], summary["below"]
    if np.isfinite(summary["boundary"]):
        lines.append(f"n/D = 1 at about {number(summary['boundary'] / 1e6, 2)}M USD of 1% depth "
                     f"(n/D {number(above['ratio'], 2)} at {number(above['depth'] / 1e6, 1)}M, "
                     f"{number(below['ratio'], 2)} at {number(below['depth'] / 1e6, 1)}M).")
    else:
        lines.append("n/D stays on one side of 1 over these depths.")
    for name, s in (("Just above 1", above), ("Just below 1", below)):
        if s is None:
            continue
        closed = ("has no limit" if not np.isfinite(s["closed_form"])
                  else f"says {number(s['closed_form'], 2)}")
        lines.append(f"{name} ({number(s['depth'] / 1e6, 1)}M, n/D {number(s['ratio'], 2)}): "
                     f"amplification {number(s['lowest'], 2)} ({head}{value(s['lowest_at'])}) "
                     f"to {number(s['highest'], 2)} ({head}{value(s['highest_at'])}); "
                     f"the closed form {closed}.")
    return "\n".join(lines)


def clustered_market(*, below: float | None = None, **fields) -> ClusteredScenario:
    """The lesson's market: popular leverages, and a crowd that bought at the round number 100.

    Defaults: price 101 (just above the round number the crowd bought at), 2,000 ordinary
    positions (20M USD, 60% long) and a crowd of 600 longs (10M USD), all at the popular
    leverages :data:`POPULAR_MIX`, a flat book of 2M USD 1% depth, a 2% shock.

    Parameters
    ----------
    below : float, optional
        Put the price so that the crowd's liquidation spike lies this fraction below it, in
        (0, 0.5]: ``price = P_liq / (1 - below)``, rounded to the tick. Needs
        ``cluster_leverage`` (a single spike).
    **fields
        Any :class:`ClusteredScenario` field.
    """
    defaults = dict(name="clustered", description="Popular leverages and a crowd of longs "
                    "who bought at the round number 100", price=101.0, shock=0.02,
                    long_share=0.6, leverage_mix=POPULAR_MIX, depth_1pct=2_000_000.0,
                    open_interest=20_000_000.0, insurance_fund=100_000.0)
    values = {**defaults, **fields}
    if below is not None:
        below = check_number("below", below, lo=0, hi=0.5, lo_open=True)
        if values.get("cluster_leverage") is None:
            raise ValueError("below needs cluster_leverage (one spike to measure from), got "
                             "cluster_leverage=None")
        lev = check_number("cluster_leverage", values["cluster_leverage"], lo=1)
        mmr = values.get("mmr", 0.005)
        entry = values.get("cluster_entry", 100.0)
        tick = values.get("tick", 0.01)
        spike = liquidation_price(entry, lev, mmr)
        values["price"] = round(spike / (1 - below) / tick) * tick
    return ClusteredScenario(**values)


def popular_liquidation_prices(entry: float = 100.0, mmr: float = 0.005,
                               leverages=POPULAR_LEVERAGES) -> list[tuple[float, float, float]]:
    """Where each popular leverage puts a long's liquidation price.

    Returns ``[(leverage, liquidation price USD, distance below entry as a fraction), ...]``:
    ``P_liq = E (1 - 1/L) / (1 - m)``, so the distance is ``1 - (1 - 1/L) / (1 - m)``.
    """
    levs = np.asarray(leverages, dtype=float)
    liq = np.atleast_1d(liquidation_price(entry, levs, mmr))
    return [(float(lev), float(p), float(1 - p / entry)) for lev, p in zip(levs, liq,
                                                                           strict=True)]


def _crowd_liquidated(crowd: int, cascade: Cascade, history) -> int:
    """Of the last ``crowd`` positions (a :class:`ClusteredScenario` puts its crowd last), how
    many the run has liquidated: a measure for :func:`marginloops.sweep` once ``crowd`` is
    bound (``functools.partial`` of a module-level function, so it pickles)."""
    closed = ~cascade.open_mask
    return int(closed[len(closed) - crowd:].sum())


def _oi_before(cascade: Cascade, history) -> float:
    """Open interest before the shock, USD at the starting price (a sweep measure)."""
    return float(cascade.positions.size.sum()) * history[0].price_before


def _oi_after(cascade: Cascade, history) -> float:
    """Open interest after the last round, USD at the last price (a sweep measure)."""
    return history[-1].open_interest_notional


def compare_clusters(distances=(0.01, 0.06), *, leverage: float = 25.0, shock: float = 0.02,
                     **fields) -> list[dict]:
    """Run the same shock on the same market with the crowd's spike at each distance below the
    price; one summary per distance.

    Each dict: ``below``, ``price``, ``spike`` (the crowd's liquidation price), ``fall`` (total
    fall as a fraction), ``shock_fall`` (the shock's own fall), ``amplification``,
    ``rounds``, ``liquidated`` (positions), ``crowd`` (positions in the crowd),
    ``crowd_liquidated`` (of them),
    ``oi_before``, ``oi_after`` (open interest, USD at the price of the moment).

    One :func:`marginloops.sweep` whose cells are the markets' prices (``below`` only moves the
    price: ``clustered_market(below=b)`` is the first market with that price).
    """
    markets = [clustered_market(below=below, cluster_leverage=leverage, shock=shock, **fields)
               for below in distances]
    if not markets:
        return []
    crowd = markets[0].cluster_positions
    result = sweep(markets[0], [{"price": m.price} for m in markets], progress=False, measures=(
        "fall", "shock_fall", "amplification", "rounds", "liquidated",
        ("crowd_liquidated", partial(_crowd_liquidated, crowd)),
        ("oi_before", _oi_before), ("oi_after", _oi_after)))
    return [dict(below=float(below), price=market.price,
                 spike=float(market.cluster_liquidation_prices()[0]),
                 fall=row["fall"], shock_fall=row["shock_fall"],
                 amplification=row["amplification"], rounds=int(row["rounds"]),
                 liquidated=int(row["liquidated"]), crowd=crowd,
                 crowd_liquidated=int(row["crowd_liquidated"]),
                 oi_before=float(row["oi_before"]), oi_after=float(row["oi_after"]))
            for below, market, row in zip(distances, markets, result.rows, strict=True)]


def format_cluster_comparison(rows: list[dict]) -> str:
    """``compare_clusters`` rows as a text table (the static version of the comparison)."""
    lines = [f"{'crowd below':>11}{'price':>8}{'crowd liq.':>11}{'fall':>7}{'amplif.':>9}"
             f"{'rounds':>8}{'crowd liquidated':>18}{'open interest (USD)':>22}"]
    for r in rows:
        oi = f"{number(r['oi_before'] / 1e6, 1)}M -> {number(r['oi_after'] / 1e6, 1)}M"
        lines.append(f"{percent(r['below'], 0):>11}{number(r['price'], 2):>8}"
                     f"{number(r['spike'], 2):>11}{percent(r['fall'], 1):>7}"
                     f"{number(r['amplification'], 2):>9}{number(r['rounds'], 0):>8}"
                     f"{number(r['crowd_liquidated'], 0):>11} of {number(r['crowd'], 0):<3}"
                     f"{oi:>22}")
    return "\n".join(lines)


# ---------------------------------------------------------------------------- exercises
#: Exercise 4's sandbox setting: the clustered market with this 1% depth (USD), not the
#: lesson's 2M, so the measured ratio is one the lesson never prints.
EXERCISE_DEPTH = 4_000_000.0


def exercises() -> list[Exercise]:
    """The lesson's exercises, in the order it asks them (answers from the package).

    Their parameters differ from the ones the lesson prints (a 3% shock at n/D = 0.2, a 40x
    crowd at 200, the clustered market with 4M USD of depth), so no answer is on the page.
    """
    price, depth, liq_usd = 100.0, 2_000_000.0, 3_000_000.0
    ratio = liq_usd / (5 * depth)   # the book within 5% holds five times the 1% depth
    shock, shock_ratio = 0.03, 0.2
    entry, leverage = 200.0, 40.0
    spike = liquidation_price(entry, leverage, 0.005)
    market = clustered_market(depth_1pct=EXERCISE_DEPTH)
    from ..analysis import crowding  # noqa: PLC0415 (kept next to its one use)
    measured = crowding(market.cascade(), band=0.05).ratio
    return [
        Exercise(
            f"A market trades at {number(price, 0)} USD. Its flat book holds "
            f"{number(depth / 1e6, 0)}M USD within 1% of the price, and long positions worth "
            f"{number(liq_usd / 1e6, 0)}M USD have "
            f"their liquidation prices within 5% below the price. What is the crowding ratio "
            f"n/D within 5%?",
            answer=ratio, tolerance=0.01,
            hints=("n/D compares what would be sold with what the book holds over the same "
                   "5% of price.",
                   "A flat book with 2M USD in each 1% holds 5 × 2M = 10M USD over 5%.")),
        Exercise(
            f"A {percent(shock, 0)} shock hits a market whose crowding ratio n/D is "
            f"{number(shock_ratio, 2, trim=True)}. "
            f"What total fall does the closed form predict, in %?",
            # Exactly 3.75%: 3.7% or 3.8% is a slip.
            answer=shock * closed_form_amplification(shock_ratio), unit="%", tolerance=0.0,
            abs_tolerance=0.00006,
            hints=("Each round's drop is the previous one times n/D: 3%, then 0.6%, then "
                   "0.12%, ... Add them up.",
                   "The total is shock / (1 − n/D).")),
        Exercise(
            f"A crowd of traders bought at the round number {number(entry, 0)} USD with "
            f"{number(leverage, 0)}x leverage; the maintenance margin is 0.5%. At what price are "
            f"they "
            f"liquidated, in USD?",
            # A price to the cent, as every price in the course: 195.98, not 196.
            answer=spike, unit="USD", tolerance=0.0, abs_tolerance=0.015,
            hints=("A long is liquidated at E × (1 − 1/L) / (1 − m).",
                   "E = 200, L = 40, m = 0.005: 200 × 0.975 / 0.995.")),
        Exercise(
            f"In the sandbox, set the 1% depth to {number(EXERCISE_DEPTH / 1e6, 2, trim=True)}M "
            f"USD (twice the "
            f"lesson's 2M) and change nothing else. What is the crowding ratio within 5% now?",
            answer=measured, tolerance=0.01,
            hints=("The explorer's status line shows it: 'crowding within 5%'. Or in code: "
                   "crowding(clustered_market(depth_1pct=4_000_000).cascade(), "
                   "band=0.05).ratio.",
                   "The traders are the same, so n is the same; the book over the 5% band "
                   "holds twice as much, so D doubles.")),
    ]



# ------------------------------------------------------------ text versions of the charts
def liquidation_map_text(positions: Positions, lo: float, hi: float, step: float = 0.5,
                         width: int = 40, open_mask=None) -> str:
    """The liquidation map as text: open long notional (USD, at each liquidation price) per
    ``step``-wide bin from ``hi`` down to ``lo``, with a bar of ``#`` scaled to ``width``.

    The static version of the explorer's liquidation map chart, highest prices first.
    """
    lo = check_number("lo", lo, lo=0, lo_open=True)
    hi = check_number("hi", hi, lo=lo, lo_open=True)
    step = check_number("step", step, lo=0, lo_open=True)
    width = check_int("width", width, lo=1, hi=200)
    bins = int(np.ceil((hi - lo) / step - 1e-9))
    check_int("number of bins ((hi - lo) / step)", bins, lo=1, hi=1000)
    edges = lo + step * np.arange(bins + 1)
    _, longs, _ = positions.liquidation_map(bins=bins, price_range=(lo, edges[-1]),
                                            open_mask=open_mask)
    top = longs.max(initial=0.0) or 1.0
    lines = [f"{'liquidation price (USD)':<25}{'longs (USD)':>12}"]
    for i in range(bins - 1, -1, -1):
        bar = "#" * int(round(width * longs[i] / top))
        lines.append(f"{number(edges[i], 2):>9} to {number(edges[i + 1], 2):>7}     "
                     f"{number(longs[i] / 1e6, 2):>8}M  {bar}")
    return "\n".join(lines)


def crowd_by_leverage(market: ClusteredScenario, cascade: Cascade) -> list[dict]:
    """For each leverage of the crowd: its spike (USD), positions, and how many the cascade
    has liquidated so far (``cascade`` built from ``market``)."""
    if not isinstance(market, ClusteredScenario):
        raise ValueError(f"market must be a ClusteredScenario, got {type(market).__name__}")
    pos = cascade.positions
    crowd = market.cluster_mask(len(pos))
    closed = ~cascade.open_mask
    out = []
    for lev, spike in zip(market.cluster_leverages(), market.cluster_liquidation_prices(),
                          strict=True):
        mine = crowd & (pos.leverage == lev)
        out.append(dict(leverage=float(lev), spike=float(spike), positions=int(mine.sum()),
                        liquidated=int((mine & closed).sum())))
    return out


def cluster_rounds_table(market: ClusteredScenario) -> str:
    """Run ``market`` to the end; one line a round: price, positions liquidated (closed whole;
    the crowd's market has no partial liquidation), how many of
    them were the crowd's, open interest (USD at the round's price) and the crowd still open.

    The static version of the explorer's price, liquidation-map and open-interest charts.
    """
    if not isinstance(market, ClusteredScenario):
        raise ValueError(f"market must be a ClusteredScenario, got {type(market).__name__}")
    cascade = market.cascade()
    hist = cascade.run()
    crowd = market.cluster_mask(len(cascade.positions))
    per_round = np.bincount(cascade.liquidated_round[crowd] + 1, minlength=len(hist) + 1)[1:]
    still = market.cluster_positions - np.cumsum(per_round)
    lines = [f"{'round':>5}{'price':>9}{'liquidated':>12}{'of the crowd':>14}"
             f"{'open interest':>15}{'crowd still open':>18}"]
    for r in hist:
        lines.append(f"{r.round:>5}{number(r.price_after, 2):>9}{number(r.n_closed, 0):>12}"
                     f"{number(per_round[r.round], 0):>14}"
                     f"{number(r.open_interest_notional / 1e6, 1):>14}M"
                     f"{number(still[r.round], 0):>18}")
    return "\n".join(lines)
