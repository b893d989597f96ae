"""Lesson 7, How exchanges liquidate: the designs real venues use side by side on one market
(:data:`DESIGNS`, :func:`designs_table`: market orders, orders limited at the bankruptcy price
with the insurance fund taking over what does not fill, a fund that holds, auto-deleveraging),
who pays for a liquidation that cannot pay for itself (:func:`who_pays`), the venue presets
behind one helper (:func:`venue_style`), the price margins are checked at (the last traded
price or a mark built from an index of spot venues: :func:`price_sources_table`) and the
exercises.

How the venues describe each design, with their sources, is in the mechanisms' docstrings:
:mod:`marginloops.mechanisms.mark_price` (Binance's, Bybit's and Hyperliquid's index and mark
price), :mod:`marginloops.mechanisms.liquidation_orders` (Binance's orders at the bankruptcy
price and its insurance fund's takeover) and :mod:`marginloops.mechanisms.adl`
(auto-deleveraging's ranking and price).
"""

from __future__ import annotations

from ..exercises import Exercise
from ..narration import money
from ..numbers import number, percent
from ..scenarios import PRESETS, Scenario
from ._shared import market_or_preset

#: The lesson's market: lesson 3's crowded longs (2,000 traders, a 3% shock, a 250,000 USD fund).
MARKET = "crowded-longs"

#: The designs the lesson compares, as (label, the scenario fields each changes). Every one is
#: documented by a venue (see the module docstring): the first is the course's model so far.
DESIGNS = (
    ("market orders", {}),
    ("limit at bankruptcy", {"liquidation_orders": "bankruptcy"}),
    ("fund holds", {"liquidation_orders": "bankruptcy", "fund_unwind": 0.0}),
    ("limit + ADL, no fund", {"liquidation_orders": "bankruptcy", "adl": True,
                              "insurance_fund": 0.0}),
)

#: The venue presets compare mode puts side by side (issue 12, item 5).
VENUE_STYLES = ("binance-style", "hyperliquid-style")

#: Until the presets are in :data:`marginloops.scenarios.PRESETS`, what each stands in for, on
#: the lesson's market: Binance's orders limited at the bankruptcy price, the insurance fund
#: taking over the rest and selling it, then ADL; Hyperliquid's backstop (market orders, the
#: liquidator vault taking over whole the positions below two thirds of their maintenance
#: margin; past the vault's money, ADL). The other settings of each venue (index, mark, tiers)
#: are the presets' to add.
STAND_INS = {
    "binance-style": {"liquidation_orders": "bankruptcy", "adl": True},
    "hyperliquid-style": {"liquidation_orders": "backstop", "adl": True},
}


def venue_style(name: str) -> Scenario:
    """The venue preset ``name`` (one of :data:`VENUE_STYLES`): from
    :data:`~marginloops.scenarios.PRESETS` when it is there, otherwise its stand-in
    (:data:`STAND_INS`) on the lesson's market, named ``name + " (stand-in)"``."""
    if name not in VENUE_STYLES:
        raise ValueError(f"name must be one of {list(VENUE_STYLES)}, got {name!r:.40}")
    if name in PRESETS:
        return Scenario.preset(name)
    return Scenario.preset(MARKET).replace(name=f"{name} (stand-in)", **STAND_INS[name])


#: The index of the lesson's mark-price market: two spot venues, each with 4M USD of 1% depth
#: (the perpetual's book has 1.5M), weighted equally.
INDEX_VENUES = ((4_000_000.0, 0.5), (4_000_000.0, 0.5))
#: The share of the gap between the perpetual and the index arbitrageurs close each round.
ARBITRAGE = 0.2


def mark_market(scenario: Scenario | None = None, *, arbitrage: float = ARBITRAGE) -> Scenario:
    """``scenario`` (default: the lesson's market) with the index venues :data:`INDEX_VENUES`
    and ``arbitrage``, its margins still checked at the last traded price."""
    market = market_or_preset(scenario, MARKET)
    return market.replace(index_venues=INDEX_VENUES, arbitrage=arbitrage)


def price_sources_table(scenario: Scenario | None = None, arbitrages=(0.0, ARBITRAGE)) -> str:
    """The same shock with margins checked at the last traded price and at the mark price, for
    each share of the gap arbitrageurs close (``arbitrages``): the fall (start to end), the
    lowest price traded at the end of a round, the positions liquidated and the rounds."""
    if not arbitrages or any(isinstance(a, bool) or not isinstance(a, (int, float))
                             or not 0 <= a <= 1 for a in arbitrages):
        raise ValueError(f"arbitrages must be fractions in [0, 1], got {arbitrages!r:.60}")
    lines = [f"{'arbitrage':<11}{'checked at':<12}{'price fall':>11}{'lowest price':>14}"
             f"{'positions liquidated':>22}{'rounds':>8}"]
    for a in arbitrages:
        for source in ("last", "mark"):
            history = mark_market(scenario, arbitrage=a).replace(
                price_source=source).cascade().run()
            fall = 1 - history[-1].price_after / history[0].price_before
            low = min(r.price_after for r in history)
            lines.append(f"{number(a, 1):<11}{source + ' price':<12}{percent(fall):>11}"
                         f"{number(low):>14}"
                         f"{number(sum(r.n_liquidated for r in history), 0):>22}"
                         f"{history[-1].round:>8}")
    return "\n".join(lines)


def mark_rounds(history, last: int | None = None) -> str:
    """The rounds of ``history`` (up to round ``last``): the last price, the mark and index, the
    change and the positions liquidated."""
    from ..narration import round_table

    rows = history if last is None else history[:last + 1]
    return round_table(rows, columns=("round", "price", "mark", "change", "liquidated"))


def designs(scenario: Scenario | None = None) -> list[tuple[str, Scenario]]:
    """``(label, scenario)`` for each of :data:`DESIGNS` on ``scenario`` (default: the lesson's
    market), the same traders and shock in each."""
    market = market_or_preset(scenario, MARKET)
    return [(label, market.replace(**changes)) for label, changes in DESIGNS]


def who_pays(history, scenario: Scenario) -> dict:
    """Where the losses of a run's liquidations went, in USD (and the fall it ended with).

    Returns a dict with keys ``fall`` (fraction, start to end), ``low`` (the lowest price a
    round ended at: with arbitrage the price can climb back after it), ``rounds`` (after the
    shock),
    ``liquidated`` (positions), ``took`` (units the insurance fund took over at bankruptcy
    prices), ``fund_start`` and ``fund_end`` (the fund's balance), ``to_fund`` (what the closes
    brought the fund: margin left over, less shortfalls), ``inventory_pnl`` (what the fund's
    inventory gained, < 0 a loss), ``adl_cost`` (profit the opposite traders gave up to
    auto-deleveraging) and ``bad_debt`` (losses nobody paid).

    The fund's money adds up: ``fund_end = fund_start + to_fund + inventory_pnl + bad_debt``
    (bad debt is what the fund would have had to pay below zero).
    """
    start, end = history[0].price_before, history[-1].price_after
    return {
        "fall": 1 - end / start,
        "low": min(r.price_after for r in history),
        "rounds": history[-1].round,
        "liquidated": sum(r.n_liquidated for r in history),
        "took": sum(getattr(r, "fund_took_qty", 0.0) for r in history),
        "fund_start": float(scenario.insurance_fund),
        "fund_end": history[-1].insurance_fund,
        "to_fund": sum(r.to_fund for r in history),
        "inventory_pnl": sum(getattr(r, "fund_inventory_pnl", 0.0) for r in history),
        "adl_cost": sum(getattr(r, "adl_cost", 0.0) for r in history),
        "bad_debt": history[-1].bad_debt,
    }


_ROWS = (
    ("price fall", lambda w: percent(w["fall"])),
    ("lowest price", lambda w: number(w["low"])),
    ("rounds", lambda w: number(w["rounds"], 0)),
    ("positions liquidated", lambda w: number(w["liquidated"], 0)),
    ("units the fund took over", lambda w: number(w["took"], 0)),
    ("fund at the start", lambda w: money(w["fund_start"])),
    ("brought by the closes", lambda w: money(w["to_fund"])),
    ("fund's inventory gain", lambda w: money(w["inventory_pnl"])),
    ("bad debt (paid by nobody)", lambda w: money(w["bad_debt"])),
    ("fund at the end", lambda w: money(w["fund_end"])),
    ("paid by ADL (opposite traders)", lambda w: money(w["adl_cost"])),
)


def who_pays_table(runs) -> str:
    """:func:`who_pays` of each ``(label, scenario)`` of ``runs`` (run to the end), one column a
    run, one row a measure."""
    runs = list(runs)
    if not runs or not all(isinstance(s, Scenario) and isinstance(lab, str)
                           for lab, s in runs):
        raise ValueError(f"runs must be (label, Scenario) pairs, got {runs!r:.80}")
    measures = [who_pays(s.cascade().run(), s) for _, s in runs]
    width = max(12, *(len(lab) + 2 for lab, _ in runs))
    head = max(len(name) for name, _ in _ROWS) + 2
    lines = [" " * head + "".join(f"{lab:>{width}}" for lab, _ in runs)]
    for name, cell in _ROWS:
        lines.append(f"{name:<{head}}" + "".join(f"{cell(m):>{width}}" for m in measures))
    return "\n".join(lines)


def _short(value) -> str:
    """A scenario setting as a few words: venues as "3 venues, 10M USD of depth"."""
    if isinstance(value, tuple) and value and all(isinstance(v, tuple) for v in value):
        if len(value[0]) == 2 and all(v[0] > 1000 for v in value):  # (depth, weight) pairs
            total = sum(v[0] for v in value)
            return f"{len(value)} venues, {number(total / 1e6, 1, trim=True)}M USD of depth"
        return f"{len(value)} tiers"
    if value is None:
        return "default"
    if isinstance(value, float):
        return number(value, 4, trim=True)
    return str(value)


def differences_table(a: Scenario, b: Scenario, labels=("A", "B")) -> str:
    """The settings in which ``a`` and ``b`` differ, one line each, in a few words."""
    from ..compare import differences

    rows = [(name, _short(x), _short(y)) for name, x, y in differences(a, b)]
    if not rows:
        return "(no difference)"
    width = [max(len(r[k]) for r in rows + [("setting", *labels)]) + 2 for k in range(3)]
    lines = [f"{'setting':<{width[0]}}{labels[0]:>{width[1]}}{labels[1]:>{width[2]}}"]
    lines += [f"{n:<{width[0]}}{x:>{width[1]}}{y:>{width[2]}}" for n, x, y in rows]
    return "\n".join(lines)


def designs_table(scenario: Scenario | None = None) -> str:
    """:func:`who_pays_table` of :func:`designs` on ``scenario`` (default: the lesson's market)."""
    return who_pays_table(designs(scenario))


def fund_rounds(history, last: int | None = None) -> str:
    """The rounds of ``history`` (up to round ``last``) with what the insurance fund holds."""
    from ..narration import round_table

    rows = history if last is None else history[:last + 1]
    return round_table(rows, columns=("round", "price", "change", "liquidated", "fund",
                                      "fund_inventory", "bad_debt"))


# ---------------------------------------------------------------------------- the exercises
#: The exercises' settings (none of their answers is printed in the lesson).
EXERCISE_UNWIND_1 = 0.5  # Exercise 1: the fund sells half of what it took over each round
EXERCISE_ROUND_1 = 3  # ... and the units it holds after this round
EXERCISE_WITHDRAWAL_2 = 0.5  # Exercise 2: market makers pull quotes; ADL with an empty fund
EXERCISE_FUND_3 = 20_000.0  # Exercise 3: a fund that holds, with this much money
EXERCISE_RULE_4 = "hyperliquid"  # Exercise 4: the mark-price market with this venue's mark


def _run(scenario: Scenario):
    return scenario.cascade().run()


def exercises() -> list[Exercise]:
    """The lesson's four exercises on the lesson's market with one design changed, answers
    computed from the model. Each is answered in code (the lesson's last cells show how) or
    in the sandbox explorer."""
    base = Scenario.preset(MARKET)
    limit = base.replace(liquidation_orders="bankruptcy")
    e1 = _run(limit.replace(fund_unwind=EXERCISE_UNWIND_1))
    held = e1[EXERCISE_ROUND_1].fund_inventory
    took = e1[1].fund_took_qty
    e2_market = base.replace(withdrawal=EXERCISE_WITHDRAWAL_2, liquidation_orders="bankruptcy",
                             adl=True, insurance_fund=0.0)
    adl_cost = sum(r.adl_cost for r in _run(e2_market))
    e3 = _run(limit.replace(fund_unwind=0.0, insurance_fund=EXERCISE_FUND_3))
    debt3 = e3[-1].bad_debt
    loss3 = -sum(r.fund_inventory_pnl for r in e3)
    e4 = _run(mark_market().replace(price_source="mark", mark_rule=EXERCISE_RULE_4))
    liquidated4 = sum(r.n_liquidated for r in e4)
    return [
        Exercise(
            f"Liquidation orders limited at the bankruptcy price, and an insurance fund that "
            f"sells {percent(EXERCISE_UNWIND_1, 0)} of what it took over each round "
            f"(fund_unwind={EXERCISE_UNWIND_1}) instead of 25%. How many units does the fund "
            f"still hold at the end of round {EXERCISE_ROUND_1}?",
            answer=held, unit="units", tolerance=0.0, abs_tolerance=0.5,
            hints=("In code: fund_rounds(Scenario.preset('crowded-longs').replace("
                   f"liquidation_orders='bankruptcy', fund_unwind={EXERCISE_UNWIND_1})"
                   ".cascade().run()) and read the column 'fund holds'.",
                   f"Round 1 takes over {number(took, 0)} units. Each following round the "
                   "fund sells half of what it took over (or all it still holds, if less), "
                   "and that round's own liquidations may add more.")),
        Exercise(
            "Market makers pull quotes after fast moves (withdrawal "
            f"{EXERCISE_WITHDRAWAL_2}), the insurance fund starts empty, orders are limited at "
            "the bankruptcy price and auto-deleveraging is on. Over the whole run, how much "
            "profit (USD) do the opposite traders give up to auto-deleveraging?",
            answer=adl_cost, unit="USD", tolerance=0.0, abs_tolerance=60.0,
            hints=("who_pays_table([('mine', Scenario.preset('crowded-longs').replace("
                   f"withdrawal={EXERCISE_WITHDRAWAL_2}, liquidation_orders='bankruptcy', "
                   "adl=True, insurance_fund=0))]) has a row for it.",
                   "It is the sum of the ADL cost of every round, not only round 1's.")),
        Exercise(
            "Liquidation orders limited at the bankruptcy price, and an insurance fund that "
            "holds what it takes over (fund_unwind=0) but starts with only "
            f"{number(EXERCISE_FUND_3, 0)} USD instead of 250,000. How much bad debt (USD) is "
            "left at the end of the run?",
            answer=debt3, unit="USD", tolerance=0.0, abs_tolerance=60.0,
            hints=("who_pays_table([('mine', Scenario.preset('crowded-longs').replace("
                   "liquidation_orders='bankruptcy', fund_unwind=0, "
                   f"insurance_fund={EXERCISE_FUND_3:_.0f}))]) has a row for it.",
                   f"The fund's inventory loses {money(loss3)} as the price falls after the "
                   "takeover; what the fund cannot pay of that is bad debt.")),
        Exercise(
            "The market of Part 1 (two index venues, arbitrageurs closing "
            f"{percent(ARBITRAGE, 0)} of the gap each round), margins checked at the mark "
            "price, but the mark built by Hyperliquid's rule (mark_rule='hyperliquid') instead "
            "of Binance's. How many positions are liquidated in the whole run?",
            answer=liquidated4, unit="positions", tolerance=0.0, abs_tolerance=0.5,
            hints=("In code: lesson07.price_sources_table(market.replace(mark_rule="
                   "'hyperliquid')) and read the row 'mark price' of arbitrage 0.2; or sum "
                   "n_liquidated over the run's records.",
                   "Hyperliquid's median includes an exponential average of the basis and the "
                   "book's own mid: expect a different count from Binance's rule, not the last "
                   "price's.")),
    ]
