"""A real lending liquidation episode as data: MakerDAO on Black Thursday, 12-13 March 2020, as a
stylised :class:`~marginloops.lending.LendingScenario` calibrated to a publicly reported figure,
with every reported figure kept beside the source it was taken from.

As with the perpetual cases (:mod:`marginloops.cases`), the scenario is in model units (a price
of 100, a few hundred borrowers), so it is compared with the event only through ratios: the
price fall, start to bottom. Only the depth of the pool (``depth_1pct``) is fitted, to the
reported fall, on the mean fall over :data:`CALIBRATION_SEEDS` (twenty crowds of borrowers drawn
the same way), to the nearest :data:`DEPTH_STEP`; :func:`calibrate_depth` re-runs the fit and
:meth:`LendingCase.spread` says how far single seeds land from the reported figure. Every other
setting is chosen from what the sources say about the day, or stated as an assumption
(:attr:`LendingCase.choices`).

This module is model core: numpy and the standard library, and the lending package's own names.
Formatting for a lesson (tables, sentences) is in :mod:`marginloops.course.lesson08`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from .. import cases as perpetual_cases
from ..cases import SeedSpread, check_seeds, depth_for_fall
from . import LendingCascade, LendingScenario

#: The model measures a reported figure can be compared with (``Reported.measure``):
#: fall: ``1 - venue price after the last round / venue price before the shock``.
MEASURES = ("fall",)

#: Twenty crowds of borrowers drawn the same way (seed 0, the scenario's own, is the run the
#: lesson steps), as for the perpetual cases.
CALIBRATION_SEEDS = tuple(range(20))

#: Calibrated depths are whole multiples of this (USD of 1% depth, model units).
DEPTH_STEP = 1_000.0

#: The share of seeds that must land within the case's tolerance for the claim "the model's fall
#: is within the tolerance of the reported fall" to stand (checked in the tests).
MOST_SEEDS = perpetual_cases.MOST_SEEDS  # the same claim as the perpetual cases'


@dataclass(frozen=True)
class Reported(perpetual_cases.Reported):
    """One publicly reported figure and where it comes from: :class:`marginloops.cases.Reported`
    (its fields, checks, ``shown()`` and ``link()``), compared only with a measure a lending run
    has (:data:`MEASURES`).

    ``value`` is in ``unit`` (fractions for "%": 0.508 for 50.8%), or None for a reported fact
    without a number. ``quote`` is the source's own words, or a note on how the figure was
    computed from quoted numbers.
    """

    def __post_init__(self):
        super().__post_init__()
        if self.measure is not None and self.measure not in MEASURES:
            raise ValueError(f"measure must be None or one of {MEASURES}, got {self.measure!r}")


@dataclass(frozen=True)
class LendingCase:
    """A real lending liquidation episode as a stylised, calibrated scenario.

    Attributes
    ----------
    key, title, dates, summary : str
        Name in code, heading, when it happened, the story in two sentences.
    scenario : LendingScenario
        The stylised market (model units).
    reported : tuple of Reported
        The publicly reported figures, each with its source.
    calibrated_to : str
        The ``figure`` of the reported price fall the scenario's pool depth was fitted to.
    tolerance : float
        The calibration claim: for at least :data:`MOST_SEEDS` of :data:`CALIBRATION_SEEDS`
        the model's fall is within this many percentage points (a fraction: 0.02 = 2 points)
        of that figure; :meth:`spread` measures it.
    choices : tuple of (field, reason) pairs
        How each scenario setting was chosen.
    reproduces, leaves_out : str
        What the model reproduces of the event, and what it leaves out, in words.
    """

    key: str
    title: str
    dates: str
    summary: str
    scenario: LendingScenario
    reported: tuple
    calibrated_to: str
    tolerance: float
    choices: tuple
    reproduces: str
    leaves_out: str

    def __post_init__(self):
        if not isinstance(self.scenario, LendingScenario):
            raise ValueError(f"scenario must be a LendingScenario, got "
                             f"{type(self.scenario).__name__}")
        if not self.reported or not all(isinstance(r, Reported) for r in self.reported):
            raise ValueError("reported must be a non-empty tuple of Reported figures")
        if isinstance(self.tolerance, bool) or not isinstance(self.tolerance, (int, float)) \
                or not 0 < self.tolerance <= 0.2:
            raise ValueError(f"tolerance must be a fraction in (0, 0.2], got {self.tolerance!r}")
        names = [r.figure for r in self.reported]
        if self.calibrated_to not in names:
            raise ValueError(f"calibrated_to must name one of the reported figures {names}, "
                             f"got {self.calibrated_to!r}")
        if self.target.measure != "fall":
            raise ValueError("calibrated_to must name a reported price fall (measure 'fall')")
        fields = {f for f, _ in self.choices}
        unknown = fields - set(LendingScenario.__dataclass_fields__)
        if unknown:
            raise ValueError(f"choices name settings a LendingScenario does not have: "
                             f"{sorted(unknown)}")

    @property
    def target(self) -> Reported:
        """The reported figure the scenario was calibrated to."""
        return next(r for r in self.reported if r.figure == self.calibrated_to)

    def run(self, seed: int | None = None) -> list:
        """The scenario's cascade run to its end (with another crowd of borrowers if ``seed``
        is given; by default the scenario's own seed)."""
        scenario = self.scenario if seed is None else self.scenario.replace(seed=seed)
        return LendingCascade(scenario).run()

    def spread(self, seeds=CALIBRATION_SEEDS) -> SeedSpread:
        """The model's fall over ``seeds`` against the reported fall."""
        seeds = check_seeds(seeds)
        return SeedSpread(self, seeds, seed_falls(self.scenario, seeds))


# ------------------------------------------------------------------------------- measures
def case_measures(history: list) -> dict:
    """What a run of a lending scenario says, from its records (round 0 first).

    Returns a dict:

    - ``fall = 1 - P_end / P_0``: ``P_0`` the venue price before the shock, ``P_end`` after
      the last round;
    - ``shock_fall``: the same for round 0 alone (the outside seller), and
      ``amplification = fall / shock_fall``;
    - ``debt_start``: the borrowers' debt before the shock (USD), as the records account for
      it: debt left at the end + repaid by liquidators + bad debt;
    - ``repaid`` (USD), ``bad_debt`` (USD) and ``bad_debt_share = bad_debt / debt_start``;
    - ``liquidations`` (liquidation calls), ``skipped_gas`` (account-rounds a liquidator skipped
      because the profit would not pay the gas), ``rounds`` (after the shock);
    - ``protocol_fee_qty`` (coins the protocol kept) and ``liquidator_profit`` (USD).
    """
    if not history:
        raise ValueError("history must hold at least the shock round, got an empty list")
    first, last = history[0], history[-1]
    p0 = first.price_before
    repaid = math.fsum(r.repaid_usd for r in history)
    debt_start = last.debt_left + repaid + last.bad_debt
    fall = 1.0 - last.price_after / p0
    shock_fall = 1.0 - first.price_after / p0
    return {
        "fall": fall,
        "shock_fall": shock_fall,
        "amplification": fall / shock_fall if shock_fall > 0 else math.nan,
        "debt_start": debt_start,
        "repaid": repaid,
        "bad_debt": last.bad_debt,
        "bad_debt_share": last.bad_debt / debt_start if debt_start > 0 else math.nan,
        "liquidations": sum(r.n_liquidated for r in history),
        "skipped_gas": sum(r.n_skipped_gas for r in history),
        "rounds": last.round,
        "protocol_fee_qty": math.fsum(r.protocol_fee_qty for r in history),
        "liquidator_profit": math.fsum(r.liquidator_profit_usd for r in history),
    }


# ------------------------------------------------------------------------ seeds and calibration
def seed_falls(scenario: LendingScenario, seeds=CALIBRATION_SEEDS) -> tuple:
    """The model's price fall of ``scenario`` drawn with each of ``seeds`` (the same market,
    other crowds of borrowers), one float per seed in order."""
    if not isinstance(scenario, LendingScenario):
        raise ValueError(f"scenario must be a LendingScenario, got {type(scenario).__name__}")
    return tuple(case_measures(LendingCascade(scenario.replace(seed=seed)).run())["fall"]
                 for seed in check_seeds(seeds))


def calibrate_depth(case: LendingCase, seeds=CALIBRATION_SEEDS, *, low: float | None = None,
                    high: float | None = None, step: float = DEPTH_STEP) -> float:
    """The 1% depth of the pool, a whole multiple of ``step``, whose mean fall over ``seeds``
    is closest to the case's reported fall, every other setting as in the case.

    More depth, less fall: the search bisects the multiples of ``step`` between ``low`` and
    ``high`` (default: a quarter and four times the case's depth) for the two neighbours whose
    mean falls straddle the target and returns the closer one (the lower on a tie), as
    :func:`marginloops.cases.calibrate_depth` does for the perpetual cases.

    Raises
    ------
    ValueError
        If the target is not between the mean falls at ``low`` and ``high``.
    """
    if not isinstance(case, LendingCase):
        raise ValueError(f"case must be a LendingCase, got {type(case).__name__}")
    return depth_for_fall(case.scenario, case.target.value, seed_falls, seeds, low=low,
                          high=high, step=step)


# ----------------------------------------------------------------------------------- the case
_WHITERABBIT = dict(
    source="Black Thursday for MakerDAO: USD 8.32 million was liquidated for 0 DAI",
    publisher="Whiterabbit (Medium)", date="14 March 2020",
    url="https://medium.com/@whiterabbit_hq/black-thursday-for-makerdao-8-32-million-was-"
        "liquidated-for-0-dai-36b83cac56b6")
_DEFISAVER = dict(
    source="Black Thursday at DeFi Saver", publisher="DeFi Saver blog", date="March 2020",
    url="https://blog.defisaver.com/black-thursday-at-defi-saver")
_DRAGONFLY = dict(
    source="Daos Ex Machina: An In-Depth Timeline of Maker's Recent Crisis",
    publisher="Dragonfly Research (Medium)", date="24 March 2020",
    url="https://medium.com/dragonfly-research/daos-ex-machina-an-in-depth-timeline-of-makers-"
        "recent-crisis-66d2ae39dd65")
_SCALE = ("Model units: 2,000 borrowers, so that a class can step the run; only the price fall "
          "is compared with the event.")

BLACK_THURSDAY_MAKER = LendingCase(
    key="black-thursday-maker",
    title="Black Thursday at MakerDAO",
    dates="12-13 March 2020",
    summary=("As markets everywhere sold off over COVID-19, the price of ether fell by about "
             "half in a little more than a day; on MakerDAO, where borrowers had locked ether "
             "to borrow DAI, liquidations ran into a congested network, a delayed price feed "
             "and keepers that stopped bidding, and the protocol was left with 5.67 million "
             "DAI of debt no collateral covered."),
    scenario=LendingScenario(
        name="black-thursday-maker",
        description="Stylised MakerDAO on 12-13 March 2020: ether vaults at 150% or more, "
                    "whole vaults liquidated at a 13% penalty, a price feed that reports every "
                    "second round, expensive gas, keepers selling on one pool.",
        price=194.97, n_accounts=2000, health_lo=1.01, health_hi=3.0, size_median=20_000.0,
        size_spread=0.7, liquidation_threshold=1 / 1.5, bonus=1.13, protocol_fee=0.0,
        close_factor=1.0, gas_cost=50.0, shock=0.3, venue="pool", depth_1pct=468_000.0,
        oracle="push", deviation=0.5, heartbeat=2, seed=0),
    reported=(
        Reported("ETH price fall, 12 March 1:00 to the bottom about 26 hours later",
                 1 - 95.87 / 194.97, "%", **_DEFISAVER,
                 quote="\"crashing from $194.97 at 1am to $136 (-30%) in the next 12h and "
                       "eventually finding bottom at $95.87 (-51%) some 26h later\" (fall "
                       "computed: 1 - 95.87 / 194.97)", measure="fall"),
        Reported("ETH price fall on 12 March (daily close)", 0.43, "%",
                 "Ethereum fell 43 percent yesterday, worst day ever (title as in the address)",
                 "NewsBTC (data: Coin Metrics, via Nic Carter)", "13 March 2020",
                 "https://www.newsbtc.com/news/ethereum/ethereum-fell-43-percent-yesterday-"
                 "worst-day-ever/",
                 "\"while BTC closed down 40%, the second-largest cryptocurrency lost 43% on the "
                 "day\""),
        Reported("MakerDAO's losses from the liquidations of 12-13 March", 5.67e6, "DAI",
                 **_WHITERABBIT,
                 quote="\"Maker DAO liquidations on March 12 and 13 resulted in protocol losses "
                       "of 5.67 million DAI\""),
        Reported("Liquidation auctions won with a bid of zero", 0.36, "%", **_WHITERABBIT,
                 quote="\"the opportunity to win liquidation auctions with zero bids, which was "
                       "36% of all liquidations\""),
        Reported("Ether won in zero-bid auctions", 8.32e6, "USD", **_WHITERABBIT,
                 quote="\"$8.32 million was withdrawn through zero bids auctions in total\""),
        Reported("Keepers' software and gas", None, "", **_WHITERABBIT,
                 quote="\"liquidators use scripts from MakerDAO that are not programmed for "
                       "adjusting high gas prices. This led that the number of liquidators who "
                       "could participate in auctions had reduced.\""),
        Reported("Delay of MakerDAO's price feed", 1, "hour", **_DEFISAVER,
                 quote="\"taking a median value from those provided by multiple approved "
                       "oracles and scheduling this value to be fed into the protocol as the "
                       "current price after a 1h delay\""),
        Reported("Gas prices on 12 March", 200, "gwei",
                 "DeFi Status Report Post-Black Thursday", "DeFi Pulse blog",
                 "undated (the page shows 14 July 2021)",
                 "https://defipulse.com/blog/defi-status-report-black-thursday/",
                 "\"The increased activity led to record-setting high gas prices at times "
                 "exceeding 200 gwei.\""),
        Reported("Collateral a MakerDAO loan must keep", 1.5, "%", **_DRAGONFLY,
                 quote="\"every loan on MakerDAO must be substantially overcollateralized (at "
                       "least 150%)\""),
        Reported("Liquidations in 24 hours against MakerDAO's past", 10, "x", **_DRAGONFLY,
                 quote="\"MakerDAO [...] had the unbelievable task of somehow having to "
                       "liquidate 10x more loans in 24 hours than it had seen in its entire "
                       "lifetime\""),
        Reported("DAI's price on 12 March", 1.08, "USD",
                 "DAI Supply Reaches All Time High as Peg Returns", "ethereumprice.org",
                 "May 2020",
                 "https://ethereumprice.org/newsletter/dai-supply-reaches-all-time-high-as-peg-"
                 "returns/",
                 "\"On March 12th, the USD-pegged stablecoin, DAI, saw a rapid price increase to "
                 "over $1.08 as users of the Maker system frantically repaid their loans in an "
                 "attempt to avoid being liquidated.\""),
        Reported("Borrowers who acted during the feed's delay", None, "",
                 "The MakerDAO Auction Is Happening, Here's What to Expect", "CryptoScoop "
                 "(from Cointelegraph)", "March 2020",
                 "https://www.cryptoscoop.io/the-makerdao-auction-is-happening-heres-what-to-"
                 "expect/",
                 "\"A blog post by Maker Foundation further revealed that this delay helped some "
                 "users escape liquidation by pouring in more ETH to the debt position.\""),
        Reported("New MKR sold to cover the losses", 20_000, "MKR",
                 "MakerDAO emergency: 5 million DAI raised (title as in the address)", "Blockonomi",
                 "March 2020",
                 "https://blockonomi.com/makerdao-emergency-5-million-dai-raised/",
                 "\"the MakerDAO project minted more than 20,000 new MKR and hosted an auction "
                 "to sell those tokens off in bunches on March 19th\""),
        Reported("MakerDAO's liquidation penalty", 0.13, "%",
                 "Maker backstop syndicate: DeFi community to the rescue (title as in the address)",
                 "DeFi.win",
                 "March 2020",
                 "https://defi.win/maker-backstop-syndicate-defi-community-to-the-rescue",
                 "\"Instead of Vault owners suffering a 13% liquidation penalty, many of them "
                 "lost 100% of their collateral.\""),
    ),
    calibrated_to="ETH price fall, 12 March 1:00 to the bottom about 26 hours later",
    tolerance=0.02,
    choices=(
        ("price", "194.97 USD, ether's price at 1:00 on 12 March (DeFi Saver)."),
        ("liquidation_threshold", "1 / 1.5: a loan had to keep collateral worth at least 150% "
                                  "of its debt (Dragonfly), so its health factor is its "
                                  "collateral ratio divided by 150%."),
        ("bonus", "1.13: MakerDAO's 13% liquidation penalty stands for the discount at which "
                  "keepers bought. At MakerDAO the penalty was owed to the protocol and the "
                  "keepers' gain was what they paid below the market in the auction."),
        ("protocol_fee", "0: the whole bonus goes to the keepers (see bonus)."),
        ("close_factor", "1.0: MakerDAO put a vault's whole debt up for liquidation, not half "
                         "of it."),
        ("health_lo", "1.01 to 3.0 (health_hi): collateral ratios from 151% to 450%, spread "
                      "evenly. An assumption: no source we found gives the spread of the "
                      "vaults that morning."),
        ("size_spread", "0.7: vaults from a few thousand to about a hundred thousand USD "
                        "around a median of 20,000 USD (size_median). An assumption."),
        ("gas_cost", "50 USD a liquidation: an assumption standing for gas prices of 200 gwei "
                     "and more (DeFi Pulse). With a 13% penalty on vaults of this size it stops "
                     "no liquidation: at MakerDAO, gas stopped keepers through their software, "
                     "not through a loss."),
        ("oracle", "push, deviation 0.5, heartbeat 2: a feed that reports every second round "
                   "and not on a move, standing for MakerDAO's price feed, fed into the "
                   "protocol after a 1-hour delay (DeFi Saver)."),
        ("shock", "30%: the first leg DeFi Saver reports, 194.97 to 136 USD in 12 hours. How "
                  "much of that leg was forced selling is not known; the model takes it as "
                  "the outside push."),
        ("depth_1pct", "The calibrated knob: the depth of the keepers' pool, to the nearest "
                       "1,000 USD, at which the model's fall averaged over seeds 0-19 matches "
                       "the reported 50.8% (model units)."),
        ("n_accounts", _SCALE),
    ),
    reproduces=("A fall of about half the price from a 30% push, the rest added by the "
                "liquidations; a price feed that lags, so that liquidations come in bursts "
                "when it reports; whole vaults liquidated at a penalty, some of them only after "
                "the push had taken their collateral below their debt plus the penalty, which "
                "leaves bad debt."),
    leaves_out=("The auctions, and the zero bids: MakerDAO sold seized ether in auctions that "
                "ran for minutes, and with most keepers stopped by gas, a few bidders won ether "
                "for 0 DAI; in the model keepers sell at the pool's price, so it cannot make "
                "the 5.67 million DAI of losses that came from those auctions. Also: DAI's own "
                "price, which rose above 1 USD as borrowers rushed to repay; borrowers who "
                "added collateral or repaid during the feed's hour of delay; the rest of the "
                "ether market (exchanges, other lenders), which moved the price far more than "
                "MakerDAO's keepers did; and the days after, when MakerDAO sold new MKR "
                "tokens to cover the losses."),
)

#: The lending cases by key.
LENDING_CASES = {c.key: c for c in (BLACK_THURSDAY_MAKER,)}
