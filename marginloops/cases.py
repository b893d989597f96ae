"""Case studies: stylised replays of three real liquidation cascades, each calibrated to publicly
reported figures (kept here with their sources), and a comparison of a run with those figures.

The scenarios are stylised. Their scale (price 100, a few thousand positions, order-book depth)
is in model units, so a run is compared with the reported figures only through ratios and
percentages: the price fall, the share of longs among the liquidations, the fall of open
interest. Every reported figure carries the source it was taken from (title, publisher, date,
address) and the words the source used.

How a case is calibrated: only the depth of the book (``depth_1pct``) is fitted, to one reported
price fall, on the mean fall over :data:`CALIBRATION_SEEDS` (twenty crowds of traders drawn the
same way), to the nearest :data:`DEPTH_STEP`; :func:`calibrate_depth` re-runs the fit, and
:meth:`CaseStudy.spread` reports how far single seeds land from the reported figure.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ._checks import check_int, check_number
from .analysis import amplification
from .cascade import RoundRecord
from .numbers import number, percent
from .scenarios import Scenario

#: The model measures a reported figure can be compared with (``Reported.measure``).
#: fall: ``1 - final price / start price``; long_share: share of the liquidated notional that
#: was long; oi_fall: ``1 - open interest (USD) at the end / at the start``; amplification:
#: whole fall / fall of the shock alone; loop_share: share of the fall the liquidations added,
#: ``1 - 1 / amplification``.
MEASURES = ("fall", "long_share", "oi_fall", "amplification", "loop_share")

#: The seeds a case is calibrated over and its spread is reported for: twenty crowds of traders
#: drawn the same way (seed 0, the scenario's own, is the run the lesson steps). Twenty rather
#: than ten because one crowd's fall differs from the next by up to a few points: twenty put the
#: mean within a quarter of a point or so (standard deviation / sqrt(20)), and a run takes about
#: 10 ms, so a case's spread is ready in a fraction of a second.
CALIBRATION_SEEDS = tuple(range(20))

#: Calibrated depths are whole multiples of this (USD of 1% depth, model units): one step moves
#: a case's mean fall by about half a point or less, a quarter of the 2-point tolerance.
DEPTH_STEP = 10_000.0

#: The share of seeds that must land within a case's tolerance for the claim "the model's fall
#: is within the tolerance of the reported fall" to stand (checked in the tests).
MOST_SEEDS = 0.7

_MEASURE_WORDS = {"fall": "price fall, start to bottom",
                  "long_share": "longs, share of liquidated USD",
                  "oi_fall": "fall of open interest (USD)",
                  "amplification": "amplification (fall / shock)",
                  "loop_share": "share of the fall added by the loop"}


@dataclass(frozen=True)
class Reported:
    """One publicly reported figure and where it comes from.

    Attributes
    ----------
    figure : str
        What was measured, in words ("BTC price fall on BitMEX, 12-13 March").
    value : float or None
        The figure in ``unit``; fractions for "%" (0.27 for 27%). None for a reported fact
        without a number (it still has a source and a quote).
    unit : str
        "%", "USD", "minutes", ... ("" when ``value`` is None).
    source : str
        Title of the page the figure was taken from.
    publisher : str
        Who published it.
    date : str
        When it was published, as far as the page says.
    url : str
        Address of the page (https).
    quote : str
        The source's own words for the figure, or a note on how the figure was computed from
        quoted numbers.
    measure : str or None
        Which model measure (one of :data:`MEASURES`) this figure is compared with, if any.
    """

    figure: str
    value: float | None
    unit: str
    source: str
    publisher: str
    date: str
    url: str
    quote: str
    measure: str | None = None

    def __post_init__(self):
        for label in ("figure", "source", "publisher", "date", "quote"):
            text = getattr(self, label)
            if not isinstance(text, str) or not text.strip():
                raise ValueError(f"{label} must be a non-empty string, got {text!r}")
        if not isinstance(self.url, str) or not self.url.startswith("https://") or " " in self.url:
            raise ValueError(f"url must be an https:// address, got {self.url!r}")
        if self.value is not None:
            object.__setattr__(self, "value", check_number("value", self.value))
        if self.measure is not None and self.measure not in MEASURES:
            raise ValueError(f"measure must be None or one of {MEASURES}, got {self.measure!r}")
        if self.measure is not None and self.value is None:
            raise ValueError(f"a figure compared with the model ({self.measure}) needs a value")

    def shown(self) -> str:
        """The value as a reader reads it: "27.0%", "8.0B USD", "25 minutes"."""
        if self.value is None:
            return "(no number)"
        if self.unit == "%":
            return percent(self.value)
        if self.unit == "USD":
            return _usd(self.value)
        return f"{number(self.value, 2, trim=True)} {self.unit}".strip()

    def link(self) -> str:
        """The source as a markdown link with publisher and date."""
        return f"[{_md(self.source)}]({self.url}) ({_md(self.publisher)}, {_md(self.date)})"


def _md(text: str) -> str:
    """``text`` safe in a markdown table cell: no column breaks, and "$1.6" written "USD 1.6":
    Jupyter's MathJax reads two dollar signs in a cell as a formula even when they are escaped
    or written as an entity (it reads the rendered text)."""
    return text.replace("|", "\\|").replace("$", "USD ")


def _usd(x: float) -> str:
    """An amount to three significant digits with B, M or K: "1.17B USD", "14M USD"."""
    for size, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "K")):
        if abs(x) >= size:
            return f"{number(x / size, 2, sig=3, trim=True)}{suffix} USD"
    return f"{number(x, 2, sig=3, trim=True)} USD"


@dataclass(frozen=True)
class CaseStudy:
    """A real cascade as a stylised, calibrated scenario.

    Attributes
    ----------
    key, title, dates, summary : str
        Name in code, heading, when it happened, the story in two sentences.
    scenario : Scenario
        The stylised market (model units).
    reported : tuple of Reported
        The publicly reported figures, each with its source.
    calibrated_to : str
        The ``figure`` of the reported figure the scenario was tuned to (a price fall).
    tolerance : float
        The calibration claim: for most seeds (at least :data:`MOST_SEEDS` of
        :data:`CALIBRATION_SEEDS`) the model's fall is within this many percentage points
        (as a fraction, 0.02 = 2 points) of that figure; :meth:`spread` measures it.
    choices : tuple of (field, reason) pairs
        How each scenario parameter was chosen.
    reproduces, leaves_out : str
        What the model reproduces of the event and what it leaves out, in words (markdown).
    """

    key: str
    title: str
    dates: str
    summary: str
    scenario: Scenario
    reported: tuple
    calibrated_to: str
    tolerance: float
    choices: tuple
    reproduces: str
    leaves_out: str

    def __post_init__(self):
        if not isinstance(self.scenario, Scenario):
            raise ValueError(f"scenario must be a Scenario, got {type(self.scenario).__name__}")
        if not self.reported or not all(isinstance(r, Reported) for r in self.reported):
            raise ValueError("reported must be a non-empty tuple of Reported figures")
        object.__setattr__(self, "tolerance", check_number("tolerance", self.tolerance,
                                                           lo=0, hi=0.2, lo_open=True))
        names = [r.figure for r in self.reported]
        if self.calibrated_to not in names:
            raise ValueError(f"calibrated_to must name one of the reported figures {names}, "
                             f"got {self.calibrated_to!r}")
        if self.target.measure != "fall":
            raise ValueError("calibrated_to must name a reported price fall (measure 'fall')")

    @property
    def target(self) -> Reported:
        """The reported figure the scenario was calibrated to."""
        return next(r for r in self.reported if r.figure == self.calibrated_to)

    def run(self, seed: int | None = None) -> list[RoundRecord]:
        """The scenario's cascade, run to its end (with another crowd of traders if ``seed``
        is given; by default the scenario's own seed, 0)."""
        scenario = self.scenario if seed is None else self.scenario.replace(seed=seed)
        return scenario.cascade().run()

    def spread(self, seeds=CALIBRATION_SEEDS) -> SeedSpread:
        """The model's fall over ``seeds`` (crowds of traders drawn the same way) against the
        reported fall: lowest, highest, mean, and how many seeds land within the tolerance."""
        seeds = check_seeds(seeds)
        return SeedSpread(self, seeds, seed_falls(self.scenario, seeds))

    def reported_table(self) -> str:
        """The reported figures as a markdown table, each with its source as a link."""
        lines = ["| Figure | Reported | Source | In the source's words |",
                 "|---|---|---|---|"]
        for r in self.reported:
            lines.append(f"| {_md(r.figure)} | {r.shown()} | {r.link()} | {_md(r.quote)} |")
        return "\n".join(lines)

    def choices_table(self) -> str:
        """How each parameter was chosen, as a markdown table."""
        lines = ["| Parameter | Value | Why |", "|---|---|---|"]
        for field, reason in self.choices:
            lines.append(f"| `{field}` | `{getattr(self.scenario, field)!r}` | {reason} |")
        return "\n".join(lines)


# ------------------------------------------------------------------------------- measures
def model_measures(history: list[RoundRecord]) -> dict:
    """The model's side of a comparison, from one run's history (round 0 first).

    Returns a dict keyed by :data:`MEASURES`:

    - ``fall = 1 - P_end / P_0`` (P_0 the price before the shock, P_end after the last round)
    - ``long_share``: liquidated notional of longs / all liquidated notional (a crash
      liquidates only longs, a squeeze only shorts; NaN if nothing was liquidated)
    - ``oi_fall = 1 - OI_end / OI_0`` with OI in USD: ``OI_0`` = units open before the shock
      times ``P_0``, ``OI_end`` = ``open_interest_notional`` after the last round
    - ``amplification`` (:func:`marginloops.amplification`) and
      ``loop_share = 1 - 1 / amplification``: the part of the fall the liquidations added.
    """
    if not history:
        raise ValueError("history must hold at least the shock round, got an empty list")
    first, last = history[0], history[-1]
    p0 = first.price_before
    liquidated = sum(r.notional_liquidated for r in history)
    longs = liquidated if first.direction == "down" else 0.0
    oi0 = first.open_interest * p0  # round 0 closes no position: its units are the start's
    amp = amplification(history)
    return {"fall": 1.0 - last.price_after / p0,
            "long_share": longs / liquidated if liquidated > 0 else math.nan,
            "oi_fall": 1.0 - last.open_interest_notional / oi0 if oi0 > 0 else math.nan,
            "amplification": amp,
            "loop_share": 1.0 - 1.0 / amp if amp and math.isfinite(amp) else math.nan}


def loop_share(history: list[RoundRecord]) -> float:
    """Share of a run's price fall that the liquidation loop added to the shock.

    ``(whole fall - shock's fall) / whole fall = 1 - 1 / amplification``: 0 when the
    liquidations moved the price no further than the shock, near 1 when the shock was a
    small push on a big slide.
    """
    return model_measures(history)["loop_share"]


@dataclass(frozen=True)
class CaseComparison:
    """A case's model run next to its reported figures.

    ``rows`` holds (what, reported value or None, model value or None, unit, source note)
    tuples; :meth:`table` prints them.
    """

    case: CaseStudy
    history: tuple
    measures: dict
    rows: tuple

    def table(self) -> str:
        """A fixed-width text table: one row per compared figure, then model-only rows."""
        head = f"{'measure':<38}{'reported':>10}{'model':>10}  note"
        lines = [head, "-" * len(head)]
        for what, rep, mod, unit, note in self.rows:
            lines.append(f"{what:<38}{_cell(rep, unit):>10}{_cell(mod, unit):>10}  {note}"
                         .rstrip())
        return "\n".join(lines)

    @property
    def fall_gap(self) -> float:
        """Model fall minus the calibration target, as a fraction (+: the model falls further)."""
        return self.measures["fall"] - self.case.target.value

    def verdict(self) -> str:
        """One sentence: is this run's fall within the case's tolerance of the target?"""
        ok = abs(self.fall_gap) <= self.case.tolerance
        return (f"The model falls {percent(self.measures['fall'])} against the reported "
                f"{percent(self.case.target.value)} ({_points(self.fall_gap)} points): "
                f"{'within' if ok else 'outside'} the stated tolerance of "
                f"{number(self.case.tolerance * 100, 1, trim=True)} points.")


def _points(gap: float) -> str:
    """A difference of two fractions in percentage points with its sign: "+0.1", "-2.4"."""
    text = number(abs(gap) * 100, 1)
    return text if float(text) == 0 else ("+" if gap > 0 else "-") + text


def _cell(value, unit) -> str:
    if value is None:
        return "-"
    if isinstance(value, float) and math.isnan(value):
        return "n/a"
    return percent(value) if unit == "%" else number(value, 2)


def compare_case(case: CaseStudy, history: list[RoundRecord] | None = None) -> CaseComparison:
    """Compare a run of ``case`` (default: a fresh run of its scenario) with what was reported.

    One row per reported figure that names a model measure (the reported value, the model's,
    and where the figure comes from), then the model-only measures (amplification and the
    share of the fall added by the loop), which no source reports.
    """
    if not isinstance(case, CaseStudy):
        raise ValueError(f"case must be a CaseStudy (one of CASES), got {type(case).__name__}")
    history = case.run() if history is None else list(history)
    measures = model_measures(history)
    rows = []
    for r in case.reported:
        if r.measure is None:
            continue
        note = r.publisher + (" (calibrated to this)" if r is case.target else "")
        rows.append((_MEASURE_WORDS[r.measure], r.value, measures[r.measure], "%", note))
    rows.append((_MEASURE_WORDS["amplification"], None, measures["amplification"], "x",
                 "model only"))
    rows.append((_MEASURE_WORDS["loop_share"], None, measures["loop_share"], "%",
                 "model only"))
    return CaseComparison(case, tuple(history), measures, tuple(rows))


# ------------------------------------------------------------------------ seeds and calibration
def check_seeds(seeds) -> tuple:
    """``seeds`` as a non-empty tuple of distinct whole numbers in [0, 2**32 - 1]."""
    if isinstance(seeds, (str, bytes)) or not hasattr(seeds, "__iter__"):
        raise ValueError(f"seeds must be a sequence of whole numbers, got {seeds!r}")
    seeds = tuple(check_int("seed", seed, lo=0, hi=2**32 - 1) for seed in seeds)
    if not seeds:
        raise ValueError("seeds must hold at least one seed, got an empty sequence")
    if len(set(seeds)) != len(seeds):
        raise ValueError(f"seeds must be distinct, got {seeds!r}")
    return seeds


def seed_falls(scenario: Scenario, seeds=CALIBRATION_SEEDS) -> tuple:
    """The model's price fall (``1 - P_end / P_0``) of ``scenario`` drawn with each of
    ``seeds``: the same market, other crowds of traders. One float per seed, in order."""
    if not isinstance(scenario, Scenario):
        raise ValueError(f"scenario must be a Scenario, got {type(scenario).__name__}")
    return tuple(model_measures(scenario.replace(seed=seed).cascade().run())["fall"]
                 for seed in check_seeds(seeds))


def _seed_words(seeds: tuple) -> str:
    if len(seeds) > 2 and seeds == tuple(range(seeds[0], seeds[0] + len(seeds))):
        return f"seeds {seeds[0]}-{seeds[-1]}"
    return ("seed " if len(seeds) == 1 else "seeds ") + ", ".join(map(str, seeds))


@dataclass(frozen=True)
class SeedSpread:
    """A case's model fall over several seeds, against its reported fall.

    Attributes
    ----------
    case : CaseStudy
    seeds : tuple of int
    falls : tuple of float
        The model's fall for each seed, in the order of ``seeds``.
    """

    case: CaseStudy
    seeds: tuple
    falls: tuple

    @property
    def mean(self) -> float:
        """The mean fall over the seeds (what the depth was calibrated on)."""
        return math.fsum(self.falls) / len(self.falls)

    @property
    def lowest(self) -> float:
        return min(self.falls)

    @property
    def highest(self) -> float:
        return max(self.falls)

    @property
    def within(self) -> int:
        """How many seeds' falls are within the case's tolerance of the reported fall."""
        target, tol = self.case.target.value, self.case.tolerance
        # 1e-12: a fall exactly at the edge counts as within despite rounding in the fraction
        return sum(abs(f - target) <= tol + 1e-12 for f in self.falls)

    @property
    def holds(self) -> bool:
        """Whether the tolerance holds for most seeds (at least :data:`MOST_SEEDS` of them)."""
        return self.within >= MOST_SEEDS * len(self.falls)

    def sentence(self) -> str:
        """The spread in one sentence, e.g. "Over seeds 0-19 the model falls 24.8% to 28.6%
        (mean 26.9%; reported 27.0%): 19 of 20 seeds land within the stated 2 points."."""
        return (f"Over {_seed_words(self.seeds)} the model falls {percent(self.lowest)} to "
                f"{percent(self.highest)} (mean {percent(self.mean)}; reported "
                f"{percent(self.case.target.value)}): {self.within} of {len(self.falls)} "
                f"seeds land within the stated "
                f"{number(self.case.tolerance * 100, 1, trim=True)} points.")


def calibrate_depth(case: CaseStudy, seeds=CALIBRATION_SEEDS, *, low: float | None = None,
                    high: float | None = None, step: float = DEPTH_STEP) -> float:
    """The 1% depth, a whole multiple of ``step``, whose mean fall over ``seeds`` is closest
    to the case's reported fall (``case.target``), every other parameter as in the case.

    More depth, less fall: the search bisects the multiples of ``step`` between ``low`` and
    ``high`` (default: a quarter and four times the case's depth) for the two neighbours whose
    mean falls straddle the target, and returns the closer one (the lower on a tie). Each
    step runs the scenario once per seed, about twenty times ``len(seeds)`` runs in all.

    Raises
    ------
    ValueError
        If the mean fall at ``low`` is below the target or the one at ``high`` is not below
        it (the target is not inside the bracket), or a parameter is out of range.
    """
    if not isinstance(case, CaseStudy):
        raise ValueError(f"case must be a CaseStudy (one of CASES), got {type(case).__name__}")
    return depth_for_fall(case.scenario, case.target.value, seed_falls, seeds, low=low,
                          high=high, step=step)


def depth_for_fall(scenario, target: float, falls_of, seeds=CALIBRATION_SEEDS, *,
                   low: float | None = None, high: float | None = None,
                   step: float = DEPTH_STEP) -> float:
    """The search behind :func:`calibrate_depth`, for any market with a ``depth_1pct`` field
    and a ``replace(**changes)`` (the perpetuals' cases here, the lending case in
    :mod:`marginloops.lending.cases`): the multiple of ``step`` between ``low`` and ``high``
    (default: a quarter and four times the scenario's depth) whose mean fall over ``seeds``,
    ``falls_of(scenario, seeds)``, is closest to ``target`` (a fraction)."""
    seeds = check_seeds(seeds)
    depth = scenario.depth_1pct
    step = check_number("step", step, lo=0, lo_open=True)
    low = check_number("low", depth / 4 if low is None else low, lo=0, lo_open=True)
    high = check_number("high", depth * 4 if high is None else high, lo=0, lo_open=True)
    k_lo, k_hi = math.ceil(low / step - 1e-9), math.floor(high / step + 1e-9)
    if k_lo < 1 or k_hi <= k_lo:
        raise ValueError(f"low and high must hold at least two multiples of step {step:g} "
                         f"above 0, got low={low:g}, high={high:g}")
    means = {}

    def mean_at(k: int) -> float:
        if k not in means:
            falls = falls_of(scenario.replace(depth_1pct=k * step), seeds)
            means[k] = math.fsum(falls) / len(falls)
        return means[k]

    if not mean_at(k_lo) >= target > mean_at(k_hi):
        raise ValueError(f"the reported fall {percent(target)} must lie between the mean "
                         f"falls at low={k_lo * step:g} ({percent(mean_at(k_lo))}) and "
                         f"high={k_hi * step:g} ({percent(mean_at(k_hi))}); widen the bracket")
    while k_hi - k_lo > 1:
        mid = (k_lo + k_hi) // 2
        if mean_at(mid) >= target:
            k_lo = mid
        else:
            k_hi = mid
    best = k_lo if abs(mean_at(k_lo) - target) <= abs(mean_at(k_hi) - target) else k_hi
    return float(best * step)


# ----------------------------------------------------------------------------------- cases
_MODEL = dict(price=100.0, n_positions=4000, open_interest=40_000_000.0, book_shape="flat",
              mmr=0.005, seed=0)
_SCALE = ("Model units: a price of 100, 4,000 positions and 40M USD of open interest, so "
          "that a class can step it; only ratios are compared with the event.")

#: The source of both BitMEX insurance-fund figures (a cached copy: the page's own address
#: on cointelegraph.com was not checked here).
_BITMEX_FUND = dict(
    source="BitMEX insurance fund tags ATH, Binance and Deribit inject millions (title as in "
           "the address)",
    publisher="Cointelegraph, via a cached copy (cointelegraph.com.cach3.com)",
    date="March 2020",
    url="https://cointelegraph.com.cach3.com/news/bitmex-insurance-fund-tags-ath-binance-and-"
        "deribit-inject-millions/amp.html",
    quote="\"slimming the exchange\u2019s insurance fund from roughly 35,500 Bitcoins (BTC) on "
          "March 11 to 33,880 approximately 24 hours later\"")

BLACK_THURSDAY = CaseStudy(
    key="black-thursday-2020",
    title="Black Thursday: Bitcoin on BitMEX",
    dates="12-13 March 2020",
    summary=("As markets everywhere sold off over COVID-19, Bitcoin fell in two legs, and on "
             "BitMEX more than a billion USD of leveraged longs were liquidated; on 13 March "
             "the exchange was hit by two DDoS attacks and an outage of about 25 minutes."),
    scenario=Scenario(
        name="black-thursday-2020",
        description="Stylised 12-13 March 2020 on BitMEX: crowded 5x-100x longs, a thin book "
                    "whose market makers pull quotes after fast moves.",
        **_MODEL, shock=0.05, long_share=0.8,
        leverage_mix=((5, 0.2), (10, 0.2), (25, 0.2), (50, 0.2), (100, 0.2)),
        entry_spread=0.3, depth_1pct=750_000.0, book_range=0.8, withdrawal=0.5),
    reported=(
        Reported("BTC price fall on BitMEX (perpetual), 12 March 10:00 UTC to the bottom",
                 1 - 3596 / 7353, "%",
                 "Crypto's Black Thursday: the Market Crash of March 2020",
                 "LedgerPrime Research", "undated (after the event)",
                 "https://www.research.ledgerprime.com/p/cryptos-black-thursday-the-market",
                 "\"Bitcoin perpetual futures contracts traded at $7,353 at 10:00 AM UTC. By "
                 "2:00 AM the next day they had dropped to only $3,978, bottoming out at "
                 "$3,596\" (fall computed: 1 - 3,596 / 7,353)", measure="fall"),
        Reported("Longs liquidated on BitMEX, 12 March", 1.17e9, "USD",
                 "Bitcoin's Crash Led to Over $1.6 Billion in Liquidations on BitMEX",
                 "CryptoGlobe (data: Datamish)", "13 March 2020",
                 "https://cryptoglobe.com/latest/2020/03/bitcoins-crash-led-to-over-1-6-"
                 "billion-in-liquidations-on-bitmex",
                 "\"a total of $1.17 billion worth of longs were liquidated yesterday, "
                 "March 12\""),
        Reported("Shorts liquidated on BitMEX, 12 March", 14e6, "USD",
                 "Bitcoin's Crash Led to Over $1.6 Billion in Liquidations on BitMEX",
                 "CryptoGlobe (data: Datamish)", "13 March 2020",
                 "https://cryptoglobe.com/latest/2020/03/bitcoins-crash-led-to-over-1-6-"
                 "billion-in-liquidations-on-bitmex",
                 "\"on the Black Thursday $14 million in shorts were liquidated\""),
        Reported("Longs, share of liquidations on BitMEX, 12 March", 1.17e9 / (1.17e9 + 14e6),
                 "%", "Bitcoin's Crash Led to Over $1.6 Billion in Liquidations on BitMEX",
                 "CryptoGlobe (data: Datamish)", "13 March 2020",
                 "https://cryptoglobe.com/latest/2020/03/bitcoins-crash-led-to-over-1-6-"
                 "billion-in-liquidations-on-bitmex",
                 "computed from the two figures above: 1.17B / (1.17B + 14M)",
                 measure="long_share"),
        Reported("Liquidations on BitMEX, 12-13 March", 1.6e9, "USD",
                 "Bitcoin's Crash Led to Over $1.6 Billion in Liquidations on BitMEX",
                 "CryptoGlobe (data: Datamish)", "13 March 2020",
                 "https://cryptoglobe.com/latest/2020/03/bitcoins-crash-led-to-over-1-6-"
                 "billion-in-liquidations-on-bitmex",
                 "\"In total, over $1.6 billion in leveraged positions were liquidated on "
                 "BitMEX\""),
        Reported("Widest bid-ask spread on an exchange, 12 March", 1000, "bp",
                 "Bid-Ask Spread Dramatically Increased During March 12 Crypto Crash, "
                 "Indicating That Liquidity Completely Dried Up", "Crypto.IQ", "9 April 2020",
                 "https://cryptoiq.co/bid-ask-spread-dramatically-increased-during-march-12-"
                 "crypto-crash-indicating-that-liquidity-completely-dried-up/",
                 "\"the bid-ask spread jumped to hundreds of basis points on some major "
                 "crypto exchanges, with one exchange even jumping to 1,000 basis points\""),
        Reported("DDoS attacks on BitMEX, 13 March", 2, "attacks",
                 "How We Are Responding to the 13 March DDoS Attacks", "BitMEX blog",
                 "March 2020", "https://blog.bitmex.com/how-we-are-responding-to-last-weeks-"
                 "ddos-attacks/",
                 "\"two distributed denial-of-service (DDoS) attacks at 02:16 UTC and "
                 "12:56 UTC. These attacks delayed or prevented requests going to and from "
                 "the BitMEX platform\""),
        Reported("BitMEX outage on 13 March", 25, "minutes",
                 "BitMEX Takes a Hit, Community Cries Foul Play Following Market Crash",
                 "Cointelegraph", "March 2020",
                 "https://cointelegraph.com/news/bitmex-takes-a-hit-community-cries-foul-"
                 "play-following-market-crash",
                 "\"an operational outage that lasted for about 25 minutes\""),
        Reported("BitMEX insurance fund on 11 March, before the crash", 35_500, "BTC",
                 **_BITMEX_FUND),
        Reported("BitMEX insurance fund about 24 hours later", 33_880, "BTC", **_BITMEX_FUND),
        Reported("Auto-deleveraging on BitMEX, 12-13 March", None, "",
                 "BitMEX explains role played by insurance fund during crypto market crash "
                 "(title as in the address)", "CryptoGlobe", "March 2020",
                 "https://cryptoglobe.com/latest/2020/03/bitmex-explains-role-played-by-"
                 "insurance-fund-during-crypto-market-crash",
                 "\"During the crash earlier this month, BitMEX adds, \u201cADL was completely "
                 "prevented.\u201d\""),
    ),
    calibrated_to="BTC price fall on BitMEX (perpetual), 12 March 10:00 UTC to the bottom",
    tolerance=0.02,
    choices=(
        ("shock", "Not observable: the outside selling is mixed with the liquidations in any "
                  "price record. A moderate 5% push; the rest must come from the loop."),
        ("long_share", "Four positions in five long: the reported liquidations were 98.8% "
                       "longs (no source gives the share of traders who were long)."),
        ("leverage_mix", "Evenly 5x to 100x: an assumption. No source we found gives the "
                         "leverage traders used that day."),
        ("entry_spread", "Entries within 30% of the price: an assumption standing for the range "
                         "the price had traded in before (not taken from a source)."),
        ("depth_1pct", "The calibrated knob: the depth, to the nearest 10,000 USD, at which "
                       "the model's fall averaged over seeds 0-19 matches the reported 51.1% "
                       "(model units)."),
        ("book_range", "The book reaches 80% below the price, so a fall of more than 50% is "
                       "possible at all."),
        ("withdrawal", "Market makers pull quotes after fast moves (spreads of hundreds of "
                       "basis points were reported): at 0.5 a 1% move in a round cancels half "
                       "the depth within 1% of the new price, a 2% move all of it."),
        ("n_positions", _SCALE),
    ),
    reproduces=("A fall of about half the price from a small push, nearly all of it added by "
                "the loop; only longs liquidated; positions sold below their bankruptcy prices, "
                "so that their margin does not cover the loss (on BitMEX the insurance fund "
                "paid such shortfalls: it fell from about 35,500 to 33,880 BTC)."),
    leaves_out=("The two legs of the day and the hours between them; the spot market and "
                "other exchanges (no arbitrage pulls the price back towards theirs); the Bitcoin "
                "network's congestion, which kept arbitrageurs from moving coins in; and the "
                "end: in the model the cascade stops at a fixed point, while on BitMEX trading "
                "was disrupted by the DDoS attacks and the outage on 13 March; and BitMEX's "
                "insurance fund: the model's starts empty, so every shortfall shows as bad debt, "
                "while BitMEX's held about 35,500 BTC and no trader was auto-deleveraged."),
)

MAY_2021 = CaseStudy(
    key="may-2021",
    title="19 May 2021: a crash after a warning from China",
    dates="19 May 2021",
    summary=("A day after three Chinese state-backed associations warned against crypto "
             "trading, with prices already swinging on comments by Tesla's chief executive, "
             "Bitcoin fell about 27% in a day; liquidations across exchanges came close to "
             "8 billion USD while several exchanges had outages."),
    scenario=Scenario(
        name="may-2021",
        description="Stylised 19 May 2021: a wide leverage mix up to 125x, 75% of positions "
                    "long, a book thinned in the weeks before.",
        **_MODEL, shock=0.1, long_share=0.75,
        leverage_mix=((3, 0.25), (5, 0.2), (10, 0.2), (20, 0.15), (50, 0.1), (125, 0.1)),
        entry_spread=0.3, depth_1pct=1_160_000.0),
    reported=(
        Reported("BTC price fall in the 24 hours to 19 May", 0.27, "%",
                 "Making sense of the Bitcoin crash", "The Straits Times (opinion)",
                 "26 May 2021", "https://www.straitstimes.com/opinion/making-sense-of-the-"
                 "bitcoin-crash-0",
                 "\"In the 24 hours between May 18 and May 19, Bitcoin's price dropped about "
                 "27 per cent.\"", measure="fall"),
        Reported("Liquidations across exchanges, 19 May", 8e9, "USD",
                 "Picking Up the Pieces - May 20", "Bybit blog (Daily Bits)", "20 May 2021",
                 "https://blog.bybit.com/en-us/daily-bits/picking-up-the-pieces-may-20/",
                 "\"massive exchange outages across major platforms that led to close to "
                 "$8 billion in liquidation\""),
        Reported("Order-book liquidity before the crash", None, "",
                 "Highest Daily Spot Volumes Ever Recorded", "Kaiko Research", "24 May 2021",
                 "https://blog.kaiko.com/highest-daily-spot-volumes-ever-recorded-"
                 "646b3af74d6a",
                 "\"over-leveraging in derivatives markets, a sharp reduction in order book "
                 "liquidity in spot markets, exchange infrastructure issues, and the "
                 "meme-ification of trading\""),
    ),
    calibrated_to="BTC price fall in the 24 hours to 19 May",
    tolerance=0.02,
    choices=(
        ("shock", "Not observable. 10%, twice the others': with a 5% push the depth whose "
                  "mean fall matches (890,000 USD) leaves the market so near the critical "
                  "ratio of lesson 3 that single seeds fall anywhere from 16.2% to 32.4%, only "
                  "2 of 20 within 2 points. With 10%, a bigger push and a smaller loop, the "
                  "seeds agree within a few points."),
        ("long_share", "Three positions in four long: no share of longs was found in a "
                       "source for this day, so this is an assumption."),
        ("leverage_mix", "From 3x to 125x, most of it modest: an assumption. No source we "
                         "found gives the leverage traders used that day."),
        ("entry_spread", "Entries within 30%: an assumption standing for the range the price "
                         "had traded in before (not taken from a source)."),
        ("depth_1pct", "The calibrated knob: the depth, to the nearest 10,000 USD, at which "
                       "the model's fall averaged over seeds 0-19 matches the reported 27% "
                       "(model units)."),
        ("n_positions", _SCALE),
    ),
    reproduces=("A 10% push becoming a fall of about 27% in a dozen or so rounds, the loop "
                "adding more than half of it; only longs liquidated."),
    leaves_out=("The outages of exchanges during the crash (traders who could not add margin "
                "or close); many coins and many exchanges at once; the rebound in the days after; "
                "spot selling that was not forced; and which "
                "exchanges reported their liquidations in full."),
)

OCTOBER_2025 = CaseStudy(
    key="october-2025",
    title="10-11 October 2025: the largest liquidation day on record",
    dates="10-11 October 2025",
    summary=("A threat of 100% US tariffs on Chinese imports hit a market near record open "
             "interest: about 19 billion USD of positions were liquidated in a day, most of "
             "them longs, while order books thinned out and USDe lost its peg on Binance."),
    scenario=Scenario(
        name="october-2025",
        description="Stylised 10-11 October 2025: mostly modest leverage, 80% of positions "
                    "long, market makers who pull quotes after fast moves.",
        **_MODEL, shock=0.03, long_share=0.8,
        leverage_mix=((2, 0.35), (5, 0.25), (10, 0.2), (25, 0.12), (50, 0.08)),
        entry_spread=0.2, depth_1pct=2_030_000.0, withdrawal=0.5),
    reported=(
        Reported("BTC price fall, about 122,000 to below 107,000 USD", 0.12, "%",
                 "Trump 100% China tariff: how one announcement liquidated $19 billion in "
                 "crypto (title as in the address)", "Yellow.com Research", "October 2025",
                 "https://yellow.com/research/trump-100-china-tariff-how-one-announcement-"
                 "liquidated-dollar19-billion-in-crypto",
                 "\"Bitcoin crashed from $122,000 to below $107,000 - a gut-wrenching 12% "
                 "freefall.\"", measure="fall"),
        Reported("Liquidations in 24 hours (CoinGlass data)", 19.1e9, "USD",
                 "Biggest Crypto Liquidation Ever Sees $16B Longs Decimated Amid Market Chaos",
                 "CoinDesk (republished by NewsBitcoin.cash)", "11 October 2025",
                 "https://newsbitcoin.cash/biggest-crypto-liquidation-ever-sees-16b-longs-"
                 "decimated-amid-market-chaos/?amp=1",
                 "\"roughly $16.7 billion of the $19.1 billion in liquidations came from "
                 "longs\""),
        Reported("Longs, share of liquidations", 16.7 / 19.1, "%",
                 "Biggest Crypto Liquidation Ever Sees $16B Longs Decimated Amid Market Chaos",
                 "CoinDesk (republished by NewsBitcoin.cash)", "11 October 2025",
                 "https://newsbitcoin.cash/biggest-crypto-liquidation-ever-sees-16b-longs-"
                 "decimated-amid-market-chaos/?amp=1",
                 "computed from the quote above: 16.7B / 19.1B", measure="long_share"),
        Reported("Fall of perpetual-futures open interest", 0.43, "%",
                 "Market Spotlight: The $19 Billion Liquidation That Shook Crypto",
                 "CoinDesk Research, via an unofficial mirror (cryptonewz.pages.dev)",
                 "17 October 2025",
                 "https://cryptonewz.pages.dev/crypto-news-coindesk.com/research/market-"
                 "spotlight-the-19-billion-liquidation-that-shook-crypto",
                 "\"Perpetual futures open interest contracted 43% to $123 billion, led by a "
                 "57% drop on Hyperliquid.\"", measure="oi_fall"),
        Reported("Lowest USDe price on Binance", 0.65, "USD",
                 "Market Spotlight: The $19 Billion Liquidation That Shook Crypto",
                 "CoinDesk Research, via an unofficial mirror (cryptonewz.pages.dev)",
                 "17 October 2025",
                 "https://cryptonewz.pages.dev/crypto-news-coindesk.com/research/market-"
                 "spotlight-the-19-billion-liquidation-that-shook-crypto",
                 "\"Stablecoin USDe depegged to $0.65 on Binance, triggering secondary "
                 "liquidations across LSDs, alt-L1s, and derivatives.\""),
        Reported("Order books during the crash", None, "",
                 "When October Surprise Meets Crypto Liquidity Drought", "Kaiko Research",
                 "13 October 2025",
                 "https://research.kaiko.com/insights/when-october-surprise-meets-crypto-"
                 "liquidity-drought",
                 "\"order books on several exchanges thinned out to the point of appearing "
                 "empty for several minutes across major BTC venues. This dislocation, driven "
                 "by a retreat of active market makers, amplified price impact\""),
    ),
    calibrated_to="BTC price fall, about 122,000 to below 107,000 USD",
    tolerance=0.02,
    choices=(
        ("shock", "Not observable; a 3% push, smaller than the others: the trigger was one "
                  "evening's news."),
        ("long_share", "80% of positions long: the reported liquidations were 87% longs."),
        ("leverage_mix", "Mostly modest (a third at 2x), a tail up to 50x: with more high "
                         "leverage the model liquidates far more than the reported share."),
        ("entry_spread", "Entries within 20%: an assumption standing for the range the price "
                         "had traded in before (not taken from a source)."),
        ("depth_1pct", "The calibrated knob: the depth, to the nearest 10,000 USD, at which "
                       "the model's fall averaged over seeds 0-19 matches the reported 12% "
                       "(model units)."),
        ("withdrawal", "Market makers stepped back (Kaiko): at 0.5 a 1% move in a round "
                       "cancels half the depth within 1% of the new price, a 2% move all of it."),
        ("n_positions", _SCALE),
    ),
    reproduces=("A 3% push becoming a 12% fall; only longs liquidated; open interest falling "
                "by a large share in one day."),
    leaves_out=("Hundreds of coins and many exchanges at once (altcoins fell far more than "
                "Bitcoin); the USDe depeg on Binance, where collateral priced from one "
                "exchange's own book lost value and triggered more liquidations; the short "
                "liquidations of the rebound; and traders who closed positions by choice, "
                "which make open interest fall further than liquidations alone."),
)

#: The three cases, oldest first, by key.
CASES = {c.key: c for c in (BLACK_THURSDAY, MAY_2021, OCTOBER_2025)}
