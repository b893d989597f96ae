"""Lesson 4's helpers and exercises: clustered markets, the flat-band market of the critical
ratio, and the self-checks, against hand-worked numbers."""

import dataclasses

import numpy as np
import pytest

from marginloops import Scenario, crowding
from marginloops.course import lesson04 as L


# ------------------------------------------------------------------ popular leverages
def test_popular_leverages_put_liquidation_prices_at_hand_worked_places():
    rows = {lev: (p, d) for lev, p, d in L.popular_liquidation_prices(100.0, 0.005)}
    # E (1 - 1/L) / (1 - m), E = 100, m = 0.005
    assert rows[10.0][0] == pytest.approx(90 / 0.995)      # 90.4523
    assert rows[20.0][0] == pytest.approx(95 / 0.995)      # 95.4774
    assert rows[25.0][0] == pytest.approx(96 / 0.995)      # 96.4824
    assert rows[50.0][0] == pytest.approx(98 / 0.995)      # 98.4925
    assert rows[100.0][0] == pytest.approx(99 / 0.995)     # 99.4975
    assert rows[25.0][1] == pytest.approx(1 - 96 / 99.5)   # 3.52% below the entry
    assert [lev for lev, _, _ in L.popular_liquidation_prices()] == list(L.POPULAR_LEVERAGES)


# ------------------------------------------------------------------ the clustered market
def test_the_crowd_bought_at_the_round_number_and_bunches_at_popular_leverages():
    m = L.clustered_market()
    pos = m.positions()
    crowd = m.cluster_mask(len(pos))
    assert len(pos) == 2000 + 600 and crowd.sum() == 600
    assert (pos.side[crowd] == 1).all()
    assert np.all(np.abs(pos.entry[crowd] / 100.0 - 1) <= 0.002 + 1e-12)
    assert set(np.unique(pos.leverage[crowd])) <= set(L.POPULAR_LEVERAGES)
    # the crowd's notional at the price is cluster_open_interest (10M USD)
    assert pos.size[crowd].sum() * m.price == pytest.approx(10_000_000.0, rel=1e-9)
    # each crowd liquidation price lies within the entry spread of its leverage's spike
    spike = 100.0 * (1 - 1 / pos.leverage[crowd]) / 0.995
    assert np.all(np.abs(pos.liquidation_price[crowd] / spike - 1) <= 0.002 + 1e-12)
    np.testing.assert_allclose(m.cluster_liquidation_prices(),
                               [90 / .995, 95 / .995, 96 / .995, 98 / .995, 99 / .995])
    # the ordinary population is the plain Scenario's, untouched
    plain = Scenario(**{f.name: getattr(m, f.name) for f in dataclasses.fields(Scenario)})
    np.testing.assert_array_equal(pos.entry[~crowd], plain.positions().entry)


def test_the_clustered_market_is_seeded_and_survives_replace():
    m = L.clustered_market()
    a, b = m.positions(), m.positions()
    np.testing.assert_array_equal(a.entry, b.entry)
    changed = m.replace(depth_1pct=3_000_000.0, seed=7)
    assert isinstance(changed, L.ClusteredScenario) and changed.cluster_positions == 600
    assert not np.array_equal(changed.positions().entry, a.entry)


def test_below_puts_the_spike_that_far_below_the_price():
    near = L.clustered_market(below=0.01, cluster_leverage=25)
    far = L.clustered_market(below=0.06, cluster_leverage=25)
    # 96.4824 / 0.99 = 97.4570 -> 97.46;  96.4824 / 0.94 = 102.6409 -> 102.64
    assert near.price == pytest.approx(97.46) and far.price == pytest.approx(102.64)
    pos = near.positions()
    crowd = near.cluster_mask(len(pos))
    assert (pos.leverage[crowd] == 25).all()


@pytest.mark.parametrize("fields,needle", [
    (dict(cluster_entry=0), "cluster_entry must be in (0, 1000000000], got 0"),
    (dict(cluster_positions=0), "cluster_positions must be in [1, 200000], got 0"),
    (dict(cluster_open_interest=-1.0), "cluster_open_interest must be in (0,"),
    (dict(cluster_spread=0.1), "cluster_spread must be in [0, 0.05], got 0.1"),
    (dict(cluster_leverage=500), "cluster_leverage must be in [1, 200), got 500"),
    (dict(cluster_entry=102.0), "cluster_entry must put every cluster liquidation price below"),
    (dict(price=99.0), "raise the price above"),
    (dict(below=0.0, cluster_leverage=25), "below must be in (0, 0.5], got 0"),
    (dict(below=0.01), "below needs cluster_leverage"),
])
def test_clustered_market_rejects_bad_fields(fields, needle):
    with pytest.raises(ValueError) as err:
        L.clustered_market(**fields)
    assert needle in str(err.value)


def test_a_cluster_just_below_the_price_turns_the_dip_into_a_crash():
    near, far = L.compare_clusters((0.01, 0.06))
    for row in (near, far):
        assert row["shock_fall"] == pytest.approx(0.02, abs=0.0005)
        # 20M + 10M USD at the mid; valued at the best bid, one tick (0.01%) lower
        assert row["oi_before"] == pytest.approx(30_000_000.0, rel=2e-4)
    assert near["crowd_liquidated"] == 600 and far["crowd_liquidated"] == 0
    assert near["fall"] > 3 * far["fall"] and near["amplification"] > 3 * far["amplification"]
    assert near["oi_after"] < far["oi_after"] - 10_000_000.0  # the crowd's 10M is gone
    table = L.format_cluster_comparison([near, far])
    assert "600 of 600" in table and "0 of 600" in table


# ------------------------------------------------------------------ the critical ratio
def test_units_per_dollar():
    # 1M USD within 1% of 100 = 10,000 units over 1 dollar
    assert L.units_per_dollar(1_000_000.0, 100.0) == pytest.approx(10_000.0)
    with pytest.raises(ValueError, match="price must be > 0, got 0"):
        L.units_per_dollar(1.0, 0.0)


def test_flat_band_market_has_the_ratio_it_is_asked_for():
    pos, book = L.flat_band_market(0.5, band=0.3, price=100.0, depth_1pct=1_000_000.0)
    assert len(pos) == 3000                                  # 30 dollars / 0.01 tick
    assert pos.size[0] == pytest.approx(0.5 * 10_000 * 0.01)  # n * tick = 50 units
    prices, sizes = book.bids()
    assert prices[0] == 100.0 and sizes[0] == pytest.approx(100.0)  # D * tick
    from marginloops import Cascade
    assert crowding(Cascade(pos, book, shock=0.02), band=0.05).ratio == pytest.approx(
        0.5, rel=0.002)


@pytest.mark.parametrize("ratio,expected", [(0.25, 4 / 3), (0.5, 2.0), (0.8, 5.0)])
def test_simulation_matches_the_closed_form_below_one(ratio, expected):
    # 1 / (1 - n/D): 1.333, 2, 5
    assert L.simulated_amplification(ratio)[0] == pytest.approx(expected, abs=0.02)


def test_simulation_runs_through_the_whole_band_at_and_above_one():
    amp = L.simulated_amplification([1.0, 2.0], shock=0.02, band=0.3)
    assert amp[0] >= 0.3 / 0.02  # at least the whole 30% band: 15 shocks
    # n/D = 2, by hand: drops 2, 4, 8, 16 USD take the price 100 -> 98 -> 94 -> 86 -> 70;
    # the last round sells the band's 86..70 (16 USD of it) into 32 USD of book: 38.
    # Total 62 USD = 31 shocks of 2 USD.
    assert amp[1] == pytest.approx(31.0, abs=0.02)


@pytest.mark.parametrize("kwargs,needle", [
    (dict(ratios=0.0), "ratio must be in (0, 100], got 0"),
    (dict(ratios=[[0.5]]), "ratios must be a number or a 1-d array"),
    (dict(ratios=0.5, shock=0.4), "shock must be in (0, 0.3), got 0.4"),
    (dict(ratios=0.5, band=0.95), "band must be in (0, 0.9], got 0.95"),
])
def test_simulated_amplification_rejects_bad_input(kwargs, needle):
    with pytest.raises(ValueError) as err:
        L.simulated_amplification(**kwargs)
    assert needle in str(err.value)


def test_critical_table_reads_like_the_closed_form():
    table = L.critical_table((0.5, 1.0))
    assert " 0.50         2.00       2.00        4.0%  dies out" in table
    assert " 1.00     infinite" in table and "runs through the whole band" in table


# ------------------------------------------------------------------------ exercises
def test_there_are_four_exercises_with_hints():
    ex = L.exercises()
    assert len(ex) == 4 and all(e.hints for e in ex)


@pytest.mark.parametrize("index,right,wrong", [
    (0, "0.3", "1.5"),            # 3M / (5 x 2M)
    (1, "3.75%", "3%"),           # 3% / (1 - 0.2)
    (2, "195.98", "195"),         # 200 x 0.975 / 0.995
])
def test_exercise_answers_are_the_hand_worked_numbers(index, right, wrong):
    ex = L.exercises()[index]
    first = ex.check(wrong)
    assert not first.correct and "Not yet" in first.message
    assert L.exercises()[index].check(right).correct


def test_exercise_answers_exactly():
    ex = L.exercises()
    assert ex[0].answer == pytest.approx(0.3)
    assert ex[1].answer == pytest.approx(0.0375) and ex[1].unit == "%"
    assert ex[2].answer == pytest.approx(195 / 0.995)    # 195.9799
    assert ex[1].check("3.75").correct       # "3.75" in a % exercise means 3.75%
    # the numbers the lesson prints for its own cases are not these answers
    assert not L.exercises()[1].check("4.0%").correct
    assert not L.exercises()[2].check("96.48").correct


def test_the_measured_exercise_is_the_crowding_of_the_sandbox_market_with_4m_depth():
    ex = L.exercises()[3]

    def by_hand(depth):
        # recount: crowd and background longs with liquidation prices in the 5% band,
        # against the bids there
        cas = L.clustered_market(depth_1pct=depth).cascade()
        lo, hi = cas.start_price * 0.95, cas.start_price
        pos = cas.positions
        liq = pos.liquidation_price
        units = pos.size[(pos.side == 1) & (liq >= lo) & (liq <= hi)].sum()
        prices, sizes = cas.initial_book.bids()
        return units / sizes[(prices >= lo) & (prices <= hi)].sum()

    assert ex.answer == pytest.approx(by_hand(4_000_000), rel=1e-12)
    # the same traders over a flat book twice as deep: half the lesson's printed 0.96
    assert ex.answer == pytest.approx(by_hand(2_000_000) / 2, rel=2e-3)
    assert ex.answer == pytest.approx(0.48, abs=0.005)
    assert not ex.check("0.96").correct
    assert L.exercises()[3].check("0.48").correct


@pytest.mark.parametrize("bad", ["", "abc", "1,2", None, "nan"])
def test_malformed_answers_get_a_message_not_a_traceback(bad):
    for ex in L.exercises():
        result = ex.check(bad)
        assert not result.correct and result.malformed and result.message.startswith(
            "Not read")
        assert ex.attempts == 0  # a malformed answer is not a try


def test_the_answer_is_never_given_on_the_first_try():
    for ex in L.exercises():
        msg = ex.check("123456").message
        assert ex.show(ex.answer) not in msg


# ------------------------------------------------------------ text versions of the charts
def test_liquidation_map_text_bins_notional_at_the_liquidation_price():
    from marginloops import Positions
    # two longs entered at 100: 25x -> 96.48, 10x -> 90.45; notional q * P_liq
    pos = Positions.from_arrays([1, 1], [10_000.0, 20_000.0], [100.0, 100.0], [25.0, 10.0],
                                0.005)
    text = L.liquidation_map_text(pos, lo=90.0, hi=97.0, step=0.5, width=40)
    lines = text.splitlines()
    assert len(lines) == 1 + 14 and lines[1].startswith("    96.50 to   97.00")  # top first
    row25 = next(line for line in lines if line.startswith("    96.00 to   96.50"))
    row10 = next(line for line in lines if line.startswith("    90.00 to   90.50"))
    assert "0.96M" in row25 and "1.81M" in row10        # 10,000 x 96.48, 20,000 x 90.45
    assert row10.count("#") == 40 and row25.count("#") == round(40 * 964824 / 1809045)
    with pytest.raises(ValueError, match="hi must be > 90"):
        L.liquidation_map_text(pos, lo=90.0, hi=90.0)


def test_cluster_rounds_table_follows_the_crowd_spike_by_spike():
    market = L.clustered_market()
    lines = L.cluster_rounds_table(market).splitlines()
    rows = [line.split() for line in lines[1:]]
    crowd = [int(r[3]) for r in rows]
    still = [int(r[5].replace(",", "")) for r in rows]
    assert rows[0][0] == "0" and crowd[0] == 0 and still[0] == 600  # the shock sells no one
    cas = market.cascade()
    cas.run()
    spikes = {s["leverage"]: s for s in L.crowd_by_leverage(market, cas)}
    eaten = sum(s["liquidated"] for s in spikes.values())
    assert sum(crowd) == eaten and still[-1] == 600 - eaten
    assert sum(s["positions"] for s in spikes.values()) == 600
    # The shock stops above the 50x spike (98.49) but below the 100x one (99.50): round 1
    # liquidates the whole 100x crowd and no other crowd position.
    assert 98.49 * 1.002 < float(rows[0][1]) < 99.50 * 0.998
    assert crowd[1] == spikes[100.0]["positions"]
    with pytest.raises(ValueError, match="market must be a ClusteredScenario"):
        L.cluster_rounds_table(Scenario())


# ------------------------------------------------- compare_clusters, now one sweep
def _clusters_by_hand(distances, leverage=25.0, shock=0.02):
    """The loop compare_clusters ran before it was a sweep: one direct run per distance."""
    out = []
    for below in distances:
        market = L.clustered_market(below=below, cluster_leverage=leverage, shock=shock)
        cascade = market.cascade()
        hist = cascade.run()
        start = hist[0].price_before
        crowd = market.cluster_mask(len(cascade.positions))
        out.append(dict(
            below=float(below), price=market.price,
            spike=float(market.cluster_liquidation_prices()[0]),
            fall=1 - hist[-1].price_after / start, shock_fall=1 - hist[0].price_after / start,
            amplification=(hist[-1].price_after - start) / (hist[0].price_after - start),
            rounds=hist[-1].round, liquidated=sum(r.n_closed for r in hist),
            crowd=market.cluster_positions,
            crowd_liquidated=int((~cascade.open_mask & crowd).sum()),
            oi_before=float(cascade.positions.size.sum()) * start,
            oi_after=hist[-1].open_interest_notional))
    return out


def test_compare_clusters_gives_what_direct_runs_give():
    distances = (0.01, 0.03, 0.06)
    got = L.compare_clusters(distances, leverage=25, shock=0.02)
    want = _clusters_by_hand(distances)
    assert [sorted(r) for r in got] == [sorted(r) for r in want]
    for g, w in zip(got, want, strict=True):
        for key in w:
            assert g[key] == pytest.approx(w[key], rel=1e-12, abs=1e-12), key
    assert L.format_cluster_comparison(got) == L.format_cluster_comparison(want)
    assert L.compare_clusters(()) == []


def test_crowd_liquidated_measure_counts_the_last_positions():
    market = L.clustered_market(below=0.01, cluster_leverage=25)
    cascade = market.cascade()
    cascade.run()
    crowd = market.cluster_mask(len(cascade.positions))
    by_hand = int((~cascade.open_mask & crowd).sum())
    assert by_hand == 600
    from functools import partial
    assert partial(L._crowd_liquidated, 600)(cascade, None) == by_hand
    assert L._crowd_liquidated(10, cascade, None) == int((~cascade.open_mask)[-10:].sum())


# ------------------------------------------------------------------ the phase diagram
def test_phase_grid_is_quick_and_puts_the_boundary_inside():
    depths, shocks = L.PHASE_GRID["depth_1pct"], L.PHASE_GRID["shock"]
    assert list(L.PHASE_GRID) == ["depth_1pct", "shock"]
    assert 100 <= len(depths) * len(shocks) <= 400
    ratio = crowding(L.PHASE_SCENARIO.cascade(), band=0.05).ratio  # 0.96 at 1.5M (lesson 3)
    # n/D goes as 1 / depth (n stays, D grows with the flat book): n/D = 1 at ratio * 1.5M
    edge = ratio * L.PHASE_SCENARIO.depth_1pct
    assert min(depths) < edge < max(depths)
    assert edge == pytest.approx(1.44e6, rel=0.01)


def test_phase_summary_is_what_direct_runs_give():
    s = L.phase_summary()
    depths, shocks = L.PHASE_GRID["depth_1pct"], L.PHASE_GRID["shock"]
    assert s["runs"] == len(depths) * len(shocks) == 180 and s["field"] == "shock"
    np.testing.assert_array_equal(s["depths"], depths)
    np.testing.assert_array_equal(s["values"], shocks)
    for j, depth in enumerate(depths):
        ratio = crowding(L.PHASE_SCENARIO.replace(depth_1pct=depth).cascade(), band=0.05).ratio
        assert s["ratios"][j] == pytest.approx(ratio, rel=1e-12)
        assert s["closed_form"][j] == (1 / (1 - ratio) if ratio < 1 else np.inf)
        for i, shock in enumerate(shocks):
            h = L.PHASE_SCENARIO.replace(depth_1pct=depth, shock=shock).cascade().run()
            start = h[0].price_before
            amp = (h[-1].price_after - start) / (h[0].price_after - start)
            assert s["amplification"][i, j] == pytest.approx(amp, rel=1e-12)
    # n/D = 1 between 1.4M and 1.5M: the two ratios, and the line between them crosses 1 at
    # 1.4M + (r0 - 1) / (r0 - r1) * 0.1M
    above, below = s["above"], s["below"]
    assert (above["depth"], below["depth"]) == (1_400_000.0, 1_500_000.0)
    r0, r1 = above["ratio"], below["ratio"]
    assert r0 >= 1 > r1
    assert s["boundary"] == pytest.approx(1.4e6 + (r0 - 1) / (r0 - r1) * 0.1e6, rel=1e-12)
    assert s["boundary"] == pytest.approx(1.44e6, rel=0.01)
    # each side: the lowest and highest amplification over the shocks, and where
    for side, j in ((above, depths.index(1_400_000.0)), (below, depths.index(1_500_000.0))):
        col = s["amplification"][:, j]
        assert side["lowest"] == col.min() and side["highest"] == col.max()
        assert side["lowest_at"] == shocks[int(col.argmin())]
        assert side["highest_at"] == shocks[int(col.argmax())]
    assert below["closed_form"] == pytest.approx(1 / (1 - r1))


def test_format_phase_summary_prints_the_map_and_the_boundary():
    s = L.phase_summary()
    text = L.format_phase_summary(s)
    lines = text.splitlines()
    assert len(lines) == 2 + 18 + 3
    assert lines[1].split()[-10:] == [f"{k}%" for k in range(1, 11)]
    row = next(line for line in lines if line.startswith("    1.5M"))
    assert row.split()[:3] == ["1.5M", f"{s['below']['ratio']:.2f}",
                               f"{s['below']['closed_form']:.2f}"]
    assert row.split()[3] == f"{s['below']['highest']:.2f}"
    assert f"n/D = 1 at about {s['boundary'] / 1e6:.2f}M USD of 1% depth" in text


@pytest.mark.parametrize("grid", [
    {"shock": (0.01,), "depth_1pct": (1e6,)},
    {"depth_1pct": (1e6,)},
    [{"depth_1pct": 1e6}],
])
def test_phase_summary_wants_depth_first_and_one_more_field(grid):
    with pytest.raises(ValueError, match="grid must be a dict of two fields, depth_1pct first"):
        L.phase_summary(grid=grid)


def test_phase_summary_says_when_the_map_stays_on_one_side():
    s = L.phase_summary(grid={"depth_1pct": (4e6, 6e6), "shock": (0.02, 0.03)})
    assert np.isnan(s["boundary"]) and s["above"] is None and s["below"]["depth"] == 4e6
    assert "n/D stays on one side of 1" in L.format_phase_summary(s)
