"""Index and mark price, arbitrage (issue 12, item 1; item 4's price side).

Hand-worked numbers are worked in the comments; the rules they follow are quoted in
marginloops/mechanisms/mark_price.py.
"""

import dataclasses
import json
import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from marginloops import PRESETS, Cascade, OrderBook, Positions, Scenario
from marginloops.cli import main
from marginloops.mechanisms.mark_price import binance_index, median3, weighted_median
from marginloops.narration import narrate_history, round_table
from marginloops.pool import ConstantProductPool

NO_ONE = Positions.from_arrays([], [], [], [], [])


def mark_of(cas):
    """The cascade's mark-price mechanism (found by name, not by place in the registry)."""
    return next(m for m in cas.mechanisms if m.name == "mark_price")


def ladder(top=100.0, n=60, size=10.0):
    """Bids top, top-1, ... and asks top+1, top+2, ... of ``size`` units each (tick 1): mid
    top + 0.5."""
    bids = top - np.arange(n)
    asks = top + 1.0 + np.arange(n)
    return OrderBook.from_levels(bids, np.full(n, size), asks, np.full(n, size), tick=1.0)


# ------------------------------------------------------------------------ the index
def test_binance_index_drops_a_venue_more_than_5pct_from_the_median():
    # median of (100, 99, 90) is 99; 90 is 9 away, more than 5% of 99 (4.95): weight 0.
    # The rest: (1 * 100 + 1 * 99) / 2 = 99.5.
    assert binance_index([100.0, 99.0, 90.0], [1, 1, 2]) == pytest.approx(99.5)
    # Exactly 5% away is not "more than 5%": 95 is kept, (100 + 100 + 95) / 3.
    assert binance_index([100.0, 100.0, 95.0], [1, 1, 1]) == pytest.approx(295 / 3)
    # Two venues beyond 5% of the median 100: the index is the median itself.
    assert binance_index([100.0, 80.0, 120.0], [5, 1, 1]) == 100.0
    # No outlier: the weighted mean (3 * 100 + 1 * 98) / 4 = 99.5.
    assert binance_index([100.0, 98.0], [3, 1]) == pytest.approx(99.5)


def test_weighted_median_and_median3():
    # sorted 90 (w 2), 99 (w 2), 100 (w 3): cumulative 2, 4, 7; half of 7 is 3.5 -> 99
    assert weighted_median([100.0, 99.0, 90.0], [3, 2, 2]) == 99.0
    # Hyperliquid's weights 3, 2, 2, 1, 1: cumulative 3 reaches half of 9 only with the next
    assert weighted_median([101.0, 100.0, 99.0, 98.0, 97.0], [1, 1, 2, 2, 3]) == 98.0
    assert weighted_median([100.0, 90.0], [1, 1]) == 95.0  # exactly half: the mean of two
    assert median3(98.5, 100.5, 95.0) == 98.5 and median3(1.0, 1.0, 3.0) == 1.0


def test_the_cascade_index_uses_the_outlier_rule():
    # Three venues with mids 100.5, 99.5 and 90.5, weights 1, 1, 2; nothing trades on them
    # (no arbitrage), so each one's price is its mid. Median 99.5; 90.5 is 9 away (> 4.975):
    # dropped. Index = (100.5 + 99.5) / 2 = 100.
    books = ((ladder(100.0), 1.0), (ladder(99.0), 1.0), (ladder(90.0), 2.0))
    rec = Cascade(NO_ONE, ladder(), shock=0.05, index_books=books).run()[0]
    assert rec.index_price == pytest.approx(100.0)
    # The Hyperliquid oracle has no outlier rule: the weighted median of the mids, sorted
    # 90.5 (w 2), 99.5 (w 1), 100.5 (w 1), cumulative 2, 3, 4: half of 4 is reached exactly
    # at 90.5 -> the mean of 90.5 and 99.5 = 95.
    rec = Cascade(NO_ONE, ladder(), shock=0.05, index_books=books,
                  mark_rule="hyperliquid").run()[0]
    assert rec.index_price == pytest.approx(95.0)


# ------------------------------------------------------------------------ the mark
def test_binance_mark_by_hand():
    # The perpetual: bids 100, 99, ... and asks 101, ... (10 units each, tick 1). One index
    # venue with the same levels: its mid 100.5 is the index (nothing trades on it).
    # Before the shock the perpetual's mid is 100.5: basis 0, so the 3-round window starts
    # as (0, 0, 0). The 5% shock sells every bid at or above 95: the last fill is 95, the
    # best bid 94; market makers re-quote the asks one tick above it, 95. Mid 94.5, basis
    # 94.5 - 100.5 = -6, window (0, 0, -6), mean -2.
    #   Price 1 = 100.5 * (1 + 0.0001 * 0.5) = 100.505025
    #   Price 2 = 100.5 - 2 = 98.5
    #   last price = 95
    # Mark = median = 98.5.
    cas = Cascade(NO_ONE, ladder(), shock=0.05, index_books=((ladder(), 1.0),),
                  basis_window=3)
    rec = cas.run()[0]
    assert rec.price_after == 95.0 and rec.index_price == 100.5
    assert rec.mark_price == pytest.approx(98.5)
    assert math.isnan(rec.check_price) and rec.arb_qty == 0.0
    assert cas.venue.best_ask == 95.0 and cas.venue.best_bid == 94.0  # re-quoted


def test_hyperliquid_mark_by_hand():
    # Same market. Oracle = weighted median of the index venues' mids = 100.5.
    # EMA of the basis with time constant 3 rounds: d = exp(-1/3) = 0.716531; long at 0 before
    # the shock, then one sample -6: EMA = d * 0 + (1 - d) * (-6) = -1.700812.
    #   input 1: 100.5 - 1.700812 = 98.799188
    #   input 2: median(best bid 94, best ask 95, last 95) = 95
    #   input 3: the other venues' mid: the index venues' weighted median mid, 100.5
    # Mark = median = 98.799188.
    rec = Cascade(NO_ONE, ladder(), shock=0.05, index_books=((ladder(), 1.0),),
                  basis_window=3, mark_rule="hyperliquid").run()[0]
    d = math.exp(-1 / 3)
    assert rec.mark_price == pytest.approx(100.5 - 6 * (1 - d)) == pytest.approx(98.799188)
    assert rec.index_price == 100.5


def test_the_mark_checks_margins_when_asked():
    # A long with liquidation price 100 * 0.95 / 0.99 = 95.96: the shock's last trade 95
    # reaches it, the mark 98.5 (worked above) does not.
    pos = Positions.from_arrays([1], [1.0], [100.0], [20.0], [0.01])
    last = Cascade(pos, ladder(), shock=0.05, index_books=((ladder(), 1.0),),
                   basis_window=3).run()
    mark = Cascade(pos, ladder(), shock=0.05, index_books=((ladder(), 1.0),),
                   basis_window=3, price_source="mark").run()
    assert last[0].pending == 1 and last[1].n_liquidated == 1
    assert last[1].check_price == 95.0 == last[1].price_before
    assert mark[0].pending == 0 and len(mark) == 1 and mark[0].end_reason == "fixed_point"


# ------------------------------------------------------------------------ arbitrage
@pytest.mark.parametrize("a", [0.25, 0.5, 0.75, 1.0])
@pytest.mark.parametrize("direction", ["down", "up"])
def test_arbitrage_closes_its_share_of_the_gap_and_moves_both_venues(a, direction):
    sc = Scenario(n_positions=0, depth_1pct=300_000.0, shock=0.05, direction=direction,
                  index_venues=((5e6, 2.0), (2e6, 1.0)), arbitrage=a)
    cas = sc.cascade()
    rec = cas.step()  # round 0 (the run goes on while arbitrage still closes the gap)
    s = 1 if direction == "down" else -1
    # Before arbitrage: the index is the venues' mid, 100 (books built around the price),
    # and the perpetual is at the shock's last fill.
    gap0 = 100.0 - rec.last_fill_price
    gap1 = rec.index_price - rec.price_after
    goal = (1 - a) * gap0
    assert s * gap0 > 1.0
    # the smallest purchase that brings the gap to the goal: within a tick (0.01) of it
    assert s * gap1 <= s * goal + 1e-9
    assert s * gap1 >= s * goal - 0.02
    # both venues move: the perpetual back, the index the other way
    assert s * (rec.price_after - rec.last_fill_price) > 0
    assert s * (rec.index_price - 100.0) < 0
    assert s * rec.arb_qty > 0
    # the units bought on the perpetual were sold on the index venues, split 2 : 1
    side = "bid" if s > 0 else "ask"
    before = [b.units_left(side) for b, _ in sc.index_books()]
    after = [b.units_left(side) for b in mark_of(cas).books]
    sold = np.subtract(before, after)
    assert sold.sum() == pytest.approx(abs(rec.arb_qty), rel=1e-9)
    assert sold[0] == pytest.approx(2 * sold[1], rel=1e-9)
    # the round's sentence tells it
    assert "Arbitrageurs" in narrate_history([rec])[0]


def test_arbitrage_with_an_index_that_does_not_move_is_one_number():
    # The perpetual: the ladder (asks 95, 96, ... after the shock and the re-quote, 10 units
    # each). The index venue is deep (a billion USD per 1%), so selling on it leaves the
    # index at its best bid 99.99. Shock to 95: gap 99.99... the index before arbitrage is
    # the mid 100: gap 5, goal with a = 0.5: 2.5. Buying 30 units takes 95, 96, 97 (gap
    # 99.99 - 97 = 2.99 > 2.5): the goal needs the first unit at 98, so a hair over 30.
    deep = OrderBook.from_depth(100.0, 1e9, tick=0.01)
    rec = Cascade(NO_ONE, ladder(), shock=0.05, index_books=((deep, 1.0),),
                  arbitrage=0.5).run()[0]
    assert rec.arb_qty == pytest.approx(30.0, abs=1e-6) and rec.arb_qty > 30.0
    assert rec.price_after == 98.0 and rec.index_price == pytest.approx(99.99)


# ------------------------------------------------------------------------ a stale mark
def test_a_stale_mark_keeps_cutting_a_position_a_timely_mark_leaves_alone():
    # One long, 2 units from 102.6 at 20x, maintenance 1%: liquidation price
    # 102.6 * 0.95 / 0.99 = 98.45. Partial liquidation cuts 25% of a reached position.
    # Round 0: the shock takes the ladder to 95; arbitrageurs (a = 0.5, deep index at 100)
    # buy it back to 98 (worked above). Binance rule with a 1-round basis window: mark =
    # median(99.99 * 1.00005, 99.99 + (98.5 - 99.99), 98) = 98: it reaches the long.
    # Round 1: 0.5 units cut at 97; arbitrage lifts the price to 99; the timely mark is 99,
    # above the long's liquidation price (98.61 after the cut): it is left with 1.5 units and
    # the run stops. A mark updated every 3 rounds stays 98 in rounds 2 and 3: it cuts the
    # long again each round (1.5 -> 1.125 -> 0.84375) while the price is already back at 99.
    pos = Positions.from_arrays([1], [2.0], [102.6], [20.0], [0.01])
    deep = OrderBook.from_depth(100.0, 1e9, tick=0.01)

    def run(interval):
        cas = Cascade(pos, ladder(), shock=0.05, index_books=((deep, 1.0),),
                      price_source="mark", arbitrage=0.5, mark_interval=interval,
                      basis_window=1, partial="fraction", partial_fraction=0.25)
        return cas, cas.run()

    timely, ht = run(1)
    stale, hs = run(3)
    assert pos.liquidation_price[0] == pytest.approx(102.6 * 0.95 / 0.99)
    assert [r.mark_price for r in ht[:2]] == [98.0, 99.0]  # (then arbitrage goes on)
    assert timely.open_size()[0] == pytest.approx(1.5)
    assert [r.check_price for r in hs[1:4]] == [98.0, 98.0, 98.0]
    assert [r.mark_price for r in hs[:4]] == [98.0, 98.0, 98.0, 99.0]
    assert [r.price_before for r in hs[1:4]] == [98.0, 99.0, 99.0]
    assert [r.qty_liquidated for r in hs[1:4]] == pytest.approx([0.5, 0.375, 0.28125])
    assert not any(r.qty_liquidated for r in hs[4:])  # later rounds: arbitrage only
    assert stale.open_size()[0] == pytest.approx(0.84375)
    assert "checked on the mark price 98.00 while the last trade was 99.00" in \
        narrate_history(hs)[2]


def test_a_stale_mark_does_not_end_the_run_before_its_update():
    # crowded-longs with a mark every 4 rounds: wherever the stale mark reaches nobody while
    # the next update would, the run goes on (rounds with no liquidation) to that update.
    sc = PRESETS["crowded-longs"].replace(index_venues=((3e6, 1.0),), price_source="mark",
                                          arbitrage=0.1, mark_interval=4)
    hist = sc.cascade().run()
    assert hist[-1].end_reason == "fixed_point"
    # The mark is published after rounds 0, 4, 8, ...: each round checks on the last one.
    for r in hist[1:]:
        assert r.check_price == hist[4 * ((r.round - 1) // 4)].mark_price
    quiet = [r.round for r in hist[1:] if r.n_liquidated == 0]
    assert quiet  # rounds in which the stale mark reached nobody ...
    # ... after which the run went on, and the next update liquidated again
    assert any(r.n_liquidated > 0 for r in hist if r.round > quiet[0])
    assert all(hist[k - 1].pending == 0 for k in quiet)


# ------------------------------------------------------------------------ acceptance
@pytest.mark.parametrize("rule", ["binance", "hyperliquid"])
def test_acceptance_the_mark_cuts_crowded_longs_on_a_thin_book(rule):
    """A thin perpetual book (500K USD within 1%) and deep index venues (5M, 5M and 2M USD):
    margins checked on the mark instead of the last trade cut the crowded longs' fall."""
    thin = PRESETS["crowded-longs"].replace(depth_1pct=500_000.0,
                                            index_venues=((5e6, 1.0), (5e6, 1.0), (2e6, 1.0)),
                                            arbitrage=0.25, mark_rule=rule)
    out = {}
    for source in ("last", "mark"):
        hist = thin.replace(price_source=source).cascade().run()
        p0 = hist[0].price_before
        out[source] = (1 - min(r.price_after for r in hist) / p0,
                       1 - min(min(r.price_after, r.last_fill_price) for r in hist
                               if r.filled_qty > 0) / p0,
                       sum(r.n_liquidated for r in hist))
    base = PRESETS["crowded-longs"].replace(depth_1pct=500_000.0).cascade().run()
    fall0 = 1 - min(r.price_after for r in base) / base[0].price_before
    print(f"\n{rule}: thin book, no index: fall {fall0:.1%}; with the index and arbitrage "
          f"25%: checked on the last price: fall {out['last'][0]:.1%} (wick "
          f"{out['last'][1]:.1%}), {out['last'][2]} liquidated; on the mark: fall "
          f"{out['mark'][0]:.1%} (wick {out['mark'][1]:.1%}), {out['mark'][2]} liquidated")
    assert out["mark"][0] < out["last"][0] / 3  # 25.2% -> 6.4% (Binance), 24.8% -> 2.5% (HL)
    assert out["mark"][1] < out["last"][1] / 3
    assert out["mark"][2] < out["last"][2] / 2
    assert out["last"][0] > 0.2


# ------------------------------------------------------------------------ refusals
def test_mark_without_index_venues_is_refused_naming_both_fields():
    with pytest.raises(ValueError, match=r"price_source \"mark\".*index_venues"):
        Scenario(price_source="mark")
    book = ladder()
    with pytest.raises(ValueError, match=r"price_source \"mark\".*index_books"):
        Cascade(NO_ONE, book, price_source="mark")
    with pytest.raises(ValueError, match=r"arbitrage 0.5.*index_venues"):
        Scenario(arbitrage=0.5)
    with pytest.raises(ValueError, match=r"arbitrage 0.5.*index_books"):
        Cascade(NO_ONE, book, arbitrage=0.5)


@pytest.mark.parametrize("field,value", [
    ("index_venues", [[0, 1]]), ("index_venues", [[1e6, 0]]), ("index_venues", [[1e6]]),
    ("index_venues", [[1e6, -2]]), ("index_venues", "2e6:1"), ("index_venues", [[1e14, 1]]),
    ("price_source", "index"), ("mark_rule", "bybit"), ("mark_interval", 0),
    ("mark_interval", 1.5), ("basis_window", 0), ("arbitrage", 1.5), ("arbitrage", -0.1),
])
def test_bad_values_are_refused_by_name(field, value):
    with pytest.raises(ValueError, match=field):
        Scenario(**{field: value})
    with pytest.raises(ValueError, match=field):
        Scenario.from_json(json.dumps({field: value}))


@pytest.mark.parametrize("books", [[(ladder(), 0.0)], [(ladder(),)], [("book", 1.0)],
                                   "books", [(ladder(), float("nan"))]])
def test_bad_index_books_are_refused_by_name(books):
    with pytest.raises(ValueError, match="index_books"):
        Cascade(NO_ONE, ladder(), index_books=books)


# ------------------------------------------------------------------------ defaults
#: The presets without index venues (the venue presets have theirs: not these tests' subject).
UNINDEXED = sorted(n for n, s in PRESETS.items() if not s.index_venues)


@pytest.mark.parametrize("name", UNINDEXED)
def test_every_preset_is_unchanged_with_the_defaults(name):
    sc = PRESETS[name]
    base = sc.cascade().run()
    same = sc.replace(price_source="last", arbitrage=0.0, index_venues=()).cascade().run()
    # without index venues the other settings do nothing
    idle = sc.replace(mark_rule="hyperliquid", mark_interval=7, basis_window=9).cascade().run()
    assert same == base and idle == base
    assert all(math.isnan(r.index_price) and r.arb_qty == 0.0 for r in base)


@pytest.mark.parametrize("name", UNINDEXED)
def test_index_venues_alone_only_watch(name):
    """With index venues but no arbitrage and the last price checked, the run trades as
    before: the index and mark are recorded, nothing else changes."""
    sc = PRESETS[name]
    base = sc.cascade().run()
    watched = sc.replace(index_venues=((2e6, 1.0), (1e6, 2.0))).cascade().run()
    core = [f.name for f in dataclasses.fields(base[0])
            if f.name not in ("index_price", "mark_price", "check_price")]
    assert len(watched) == len(base)
    for a, b in zip(base, watched, strict=True):
        for name_ in core:
            x, y = getattr(a, name_), getattr(b, name_)
            if isinstance(x, np.ndarray):
                assert np.array_equal(x, y)
            else:
                assert x == y or (x != x and y != y), name_
        assert math.isfinite(b.index_price) and math.isfinite(b.mark_price)


def test_a_cascade_made_directly_takes_the_index_books():
    sc = PRESETS["thin-book"].replace(index_venues=((2e6, 1.0),), price_source="mark",
                                      arbitrage=0.3)
    direct = Cascade(sc.positions(), sc.book(), shock=sc.shock,
                     insurance_fund=sc.insurance_fund, index_books=sc.index_books(),
                     price_source="mark", arbitrage=0.3).run()
    assert direct == sc.cascade().run()


# ------------------------------------------------------------------------ files and CLI
def test_json_round_trips_flat_and_nested():
    sc = Scenario(index_venues=((2e6, 1.0), (1e6, 2.0)), price_source="mark", arbitrage=0.3,
                  mark_rule="hyperliquid", mark_interval=2, basis_window=4)
    assert Scenario.from_json(sc.to_json()) == sc
    nested = sc.to_dict(nested=True)
    assert nested["market"]["index_venues"] == [[2e6, 1.0], [1e6, 2.0]]
    assert nested["mechanisms"]["mark_price"] == {
        "price_source": "mark", "arbitrage": 0.3, "mark_rule": "hyperliquid",
        "mark_interval": 2, "basis_window": 4}
    assert Scenario.from_json(sc.to_json(nested=True)) == sc
    assert Scenario.from_dict({"index_venues": []}) == Scenario()


def test_the_command_line_sets_the_index_and_the_mark(capsys):
    code = main(["--preset", "crowded-longs", "--set", "index_venues=5e6:1,2e6:1",
                 "--set", "price_source=mark", "--set", "arbitrage=25%"])
    out, err = capsys.readouterr()
    out = " ".join(out.split())  # the story is wrapped at 100 characters
    assert code == 0 and err == ""
    assert "mark / index (USD)" in out and "Margins were checked on the mark price" in out
    assert "index_venues 5,000,000 USD weight 1, 2,000,000 USD weight 1" in out
    for argv, needle in ((["--set", "index_venues=5e6"], "index_venues"),
                         (["--set", "index_venues=5e6:1", "--set", "mark_rule=x"],
                          "mark_rule"),
                         (["--set", "price_source=mark"], "index_venues")):
        assert main(argv) == 2
        assert needle in capsys.readouterr().err


def test_the_round_table_shows_mark_and_index():
    sc = PRESETS["crowded-longs"].replace(index_venues=((5e6, 1.0),), price_source="mark",
                                          arbitrage=0.5)
    table = round_table(sc.cascade().run())
    assert "mark / index (USD)" in table.splitlines()[0]
    assert "mark / index" not in round_table(PRESETS["crowded-longs"].cascade().run())


# ------------------------------------------------------------------------ re-quoting
def test_requote_moves_the_side_left_behind_keeping_sizes():
    book = OrderBook.from_levels([100, 99, 98], [1, 2, 3], [101, 102], [4, 5], tick=1.0)
    before = book.copy()
    book.market_sell(3.0)  # takes 100 and 99: best bid 98
    assert book.requote("ask") == 2.0  # 101 -> 99, one tick above 98
    assert book.asks()[0].tolist() == [99.0, 100.0] and book.asks()[1].tolist() == [4, 5]
    assert book.requote("ask") == 0.0 and book.requote("bid") == 0.0  # one tick apart
    book.market_buy(4.0)  # takes 99: best ask 100
    assert book.requote("bid") == 1.0  # 98 -> 99
    assert book.bids()[0].tolist() == [99.0] and book.bids()[1].tolist() == [3.0]
    assert before.best_bid == 100.0 and before.best_ask == 101.0  # a copy is untouched


def test_requote_keeps_decimal_prices_and_a_pool_needs_nothing():
    book = OrderBook.from_depth(100.0, 1e6, tick=0.01)
    book.market_sell(20_000)
    book.requote("ask")
    assert book.best_ask == round(book.best_bid + 0.01, 2)
    pool = ConstantProductPool.from_depth(100.0, 1e6)
    bid, ask = pool.best_bid, pool.best_ask
    assert pool.requote("ask") == 0.0 and (pool.best_bid, pool.best_ask) == (bid, ask)
    with pytest.raises(ValueError, match="side"):
        book.requote("middle")


# ------------------------------------------------------------------------ properties
@st.composite
def marked_scenarios(draw):
    n_venues = draw(st.integers(1, 3))
    venues = tuple((draw(st.sampled_from([2e5, 1e6, 5e6])), draw(st.sampled_from([1.0, 3.0])))
                   for _ in range(n_venues))
    return Scenario(
        n_positions=draw(st.integers(0, 300)), seed=draw(st.integers(0, 1000)),
        direction=draw(st.sampled_from(["down", "up"])),
        long_share=draw(st.sampled_from([0.2, 0.5, 0.8])),
        leverage_mix=draw(st.sampled_from([((10, 1), (50, 1)), ((2, 1), (20, 1), (100, 1))])),
        depth_1pct=draw(st.sampled_from([2e5, 1e6])), shock=draw(st.floats(0.01, 0.2)),
        insurance_fund=draw(st.sampled_from([0.0, 1e5])), max_rounds=200,
        resilience=draw(st.sampled_from([0.0, 0.3])),
        venue=draw(st.sampled_from(["book", "pool"])),
        chasers=draw(st.sampled_from([0.0, 0.2])),
        index_venues=venues, price_source=draw(st.sampled_from(["last", "mark"])),
        arbitrage=draw(st.sampled_from([0.0, 0.3, 1.0])),
        mark_rule=draw(st.sampled_from(["binance", "hyperliquid"])),
        mark_interval=draw(st.sampled_from([1, 3])),
        basis_window=draw(st.sampled_from([1, 5])))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(marked_scenarios())
def test_properties_with_the_mark(sc):
    cas = sc.cascade()
    hist = cas.run()
    pos = cas.positions
    s = 1 if sc.direction == "down" else -1
    rounds = cas.liquidated_round
    assert hist[-1].end_reason is not None and len(hist) <= sc.max_rounds + 1
    # each position of the liquidated side is closed once: the rounds count them once each
    assert (rounds[pos.side == s] >= 0).sum() == sum(r.n_closed for r in hist)
    # the check used the mark published after the round before (or the last trade)
    for prev, r in zip(hist, hist[1:], strict=False):
        want = prev.mark_price if sc.price_source == "mark" else r.price_before
        assert r.check_price == want
        assert r.price_before == prev.price_after
    # a position closed in round k was reached by round k's check price
    liq = pos.liquidation_price
    for i in np.flatnonzero((rounds >= 1) & (pos.side == s)):
        assert s * (hist[rounds[i]].check_price - liq[i]) <= 1e-9
    # money: the fund and bad debt follow the flows, round by round
    fund, debt = sc.insurance_fund, 0.0
    for r in hist:
        fund += r.to_fund
        if fund < 0:
            debt, fund = debt - fund, 0.0
        assert r.insurance_fund == pytest.approx(fund, abs=1e-6)
        assert r.bad_debt == pytest.approx(debt, abs=1e-6)
    assert hist[-1].insurance_fund >= 0
    # arbitrage trades only when asked, towards the index
    for r in hist:
        if sc.arbitrage == 0:
            assert r.arb_qty == 0.0
        assert math.isfinite(r.index_price) and math.isfinite(r.mark_price)
    # deterministic: reset and a fresh cascade give the same history
    cas.reset()
    assert cas.run() == hist
    assert sc.cascade().run() == hist


def test_arbitrage_moves_both_ways_and_its_rebound_liquidates_shorts():
    # The thin crowded-longs market with shorts opened on the way down (chasers): the
    # arbitrage lifting the perpetual back reaches them (the core's rebound liquidations).
    sc = PRESETS["crowded-longs"].replace(depth_1pct=500_000.0, chasers=0.2,
                                          index_venues=((5e6, 1.0), (5e6, 1.0), (2e6, 1.0)))
    still = sc.cascade()
    assert not mark_of(still).moves_both_ways
    assert sum(r.rebound_n_liquidated for r in still.run()) == 0
    moving = sc.replace(arbitrage=0.25).cascade()
    assert mark_of(moving).moves_both_ways
    hist = moving.run()
    assert sum(r.rebound_n_liquidated for r in hist) > 0
    assert any(r.arb_qty > 0 for r in hist)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from([0.0, 0.3, 1.0, 2.5]), min_size=1, max_size=30),
       st.floats(0.0, 80.0), st.sampled_from(["bid", "ask"]))
def test_reach_is_the_last_fill_of_the_same_order(sizes, qty, side):
    n = len(sizes)
    if side == "bid":
        book = OrderBook.from_levels(100.0 - np.arange(n), sizes, [101.0], [1.0])
    else:
        book = OrderBook.from_levels([50.0], [1.0], 51.0 + np.arange(n), sizes)
    before = (book.bids()[1].sum(), book.asks()[1].sum())
    fill = book.copy().market_sell(qty) if side == "bid" else book.copy().market_buy(qty)
    got = book.reach(side, qty)
    assert got == (fill.last_price if fill.filled > 0 else None)
    assert (book.bids()[1].sum(), book.asks()[1].sum()) == before  # nothing traded
