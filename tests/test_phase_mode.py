"""Phase mode, stage by stage, against the records (issue 10, item 3).

Each click of Step in phase mode plays one stage of a round, and must change exactly what the
stage's name says (lesson 03, Part 1): the shock walks the book; "check margins" marks the
positions reached on the liquidation map; "liquidate" adds the round's bar and turns the
reached positions hollow; "walk the book" marks the levels taken; "new price" moves the price.
The status line must state what the charts show at every stage. Every mark of every chart is
watched (trait notifications, which bqplot sends to the browser): a mark no stage names is
never touched (STYLE.md habit 13).
"""

import html
import re

import numpy as np
import pytest

from marginloops import CascadeExplorer, Scenario
from marginloops import narration as say
from marginloops.ui.charts import book_histogram

CROWDED = Scenario.preset("crowded-longs")
SMALL = CROWDED.replace(n_positions=600)

#: Every mark of the explorer, by a short name: chart attribute, mark attribute.
MARKS = {
    "price.line": ("price_chart", "line"), "price.shock": ("price_chart", "shock"),
    "price.halted": ("price_chart", "halted"), "price.start": ("price_chart", "start_line"),
    "liq.bars": ("liquidations_chart", "bars"), "liq.auction": ("liquidations_chart", "auction"),
    "book.resting": ("book_chart", "resting"), "book.taken": ("book_chart", "taken"),
    "book.price": ("book_chart", "price"),
    "map.layers": ("map_chart", "layers"), "map.edge": ("map_chart", "shorts_edge"),
    "map.reached": ("map_chart", "reached"), "map.price": ("map_chart", "price"),
    "oi.oi": ("oi_chart", "oi"), "oi.fund": ("oi_chart", "fund"), "oi.debt": ("oi_chart", "debt"),
}

NEW_PRICE = {"price.line", "book.price", "map.price", "oi.oi", "oi.fund", "oi.debt"}
#: Per stage: the marks that must change, and the marks that may change besides (the open
#: shorts' outline follows the open longs under it; round 0's shock triangle appears once;
#: a bar's "taken" part may already be zero).
STAGES = {
    "the shock": ({"book.resting", "book.taken"}, set()),
    "check margins": ({"map.layers", "map.reached"}, {"map.edge"}),
    "liquidate": ({"liq.bars", "map.layers", "map.reached"}, {"map.edge", "liq.auction"}),
    "walk the book": ({"book.resting", "book.taken"}, set()),
    "new price": (NEW_PRICE, {"price.shock"}),
    "trading halted": ({"price.line", "price.halted", "oi.oi", "oi.fund", "oi.debt"},
                       {"book.resting", "book.taken", "map.layers", "map.edge", "map.price",
                        "book.price"}),
}


def mark(ex, name):
    chart, attr = MARKS[name]
    return getattr(getattr(ex, chart), attr)


class Watch:
    """Which marks got a trait change since the last :meth:`take`."""

    def __init__(self, ex):
        self.touched = set()
        for name in MARKS:
            mark(ex, name).observe(lambda change, name=name: self.touched.add(name))

    def take(self):
        out, self.touched = self.touched, set()
        return out


def text(value):
    return html.unescape(re.sub(r"<[^>]+>", "", value))


def status_fields(ex):
    """The status line's figures, as a student reads them."""
    s = text(ex.status.value)
    m = re.search(r"^(?P<where>[^·]+?)(?: · (?:trading halted|circuit breaker)[^·]*)? · market "
                  r".* · price (?P<price>[\d,.]+) \(.* liquidated so far: (?P<closed>[\d,]+) "
                  r"positions? closed(?:, (?P<partly>[\d,]+) more partly closed and still open)?"
                  r" \((?P<notional>[^)]+)\)(?: · reached: (?P<reached>[\d,]+) positions?, "
                  r"liquidated next)?.* · open interest (?P<oi>[^·]+) · insurance fund "
                  r"(?P<fund>[^·]+) · bad debt (?P<debt>[^·]+) ·", s)
    assert m, s
    return {k: (v.strip() if v else v) for k, v in m.groupdict().items()}


def stage_name(ex):
    m = re.search(r"stage \d of \d \(([^)]+)\)", text(ex.stage.value))
    return m.group(1) if m else None


def check_status_agrees_with_charts(ex):
    """The status line's figures are the charts' figures (and the records')."""
    st = status_fields(ex)
    cas = ex.cascade
    price_line = list(ex.price_chart.line.y)
    shown_price = price_line[-1] if price_line else cas.start_price
    assert st["price"] == say.price(shown_price)
    # both dashed price lines stand at the price the status line names
    assert ex.book_chart.price.x[0] == ex.map_chart.price.x[0] == shown_price
    rounds_priced = len(price_line)
    assert [r.price_after for r in cas.history[:rounds_priced]] == price_line
    # liquidated: the bars' sum, and the count of the records whose bars are drawn
    bars = np.asarray(ex.liquidations_chart.bars.y)
    assert st["notional"] == say.money(bars.sum())
    drawn = [r for r in cas.history if bars[:, r.round].sum() > 0 or r.notional_liquidated == 0]
    assert int(st["closed"].replace(",", "")) == sum(r.n_closed for r in drawn)
    # ... which are exactly the positions the map draws hollow (closed)
    assert int(st["closed"].replace(",", "")) == int((~cas.open_mask).sum())
    oi = list(ex.oi_chart.oi.y)
    assert len(oi) == rounds_priced
    start_oi = float(cas.positions.size.sum()) * cas.start_price
    if len(drawn) > rounds_priced:
        # a round liquidated, its price still to come: open interest has fallen by the closes
        # ("liquidate" on), what is still open valued at the price on show (lesson 03's walk)
        open_units = float(cas.open_size().sum())
        assert open_units == pytest.approx(cas.history[-1].open_interest, rel=1e-12)
        assert st["oi"] == say.money(open_units * shown_price)
    else:
        assert st["oi"] == say.money(oi[-1] if oi else start_oi)
    fund, debt = list(ex.oi_chart.fund.y), list(ex.oi_chart.debt.y)
    assert st["fund"] == say.money(fund[-1] if fund else cas.initial_fund)
    assert st["debt"] == say.money(debt[-1] if debt else 0.0)
    # reached: named only while the map marks them, and as many as it marks
    diamonds = len(ex.map_chart.reached.x)
    if st["reached"] is None:
        assert diamonds == 0 and ex.map_chart.series[2].sum() == 0
    else:
        assert diamonds > 0 and int(st["reached"].replace(",", "")) == len(cas.in_reach())
    return st


def play_stages(scenario, clicks):
    """Click Step ``clicks`` times in phase mode; per click: (stage, touched marks, explorer
    state checked)."""
    ex = CascadeExplorer(scenario, phase_mode=True)
    check_status_agrees_with_charts(ex)
    watch = Watch(ex)
    out = []
    for _ in range(clicks):
        if ex.time.step_button.disabled:  # the run has ended
            break
        before = {name: (np.asarray(mark(ex, name).x, float).copy(),
                         np.asarray(mark(ex, name).y, float).copy())
                  for name in MARKS}
        ex.time.step_button.click()
        stage = stage_name(ex)
        touched = watch.take()
        must, may = STAGES[stage]
        rec = ex.cascade.history[-1]
        if stage == "new price" and rec.price_after == rec.price_before:
            # nothing traded (or the auction cleared at the old price): the lines stay
            must, may = must - {"book.price", "map.price"}, may | {"book.price", "map.price"}
        assert must <= touched, (stage, must - touched)
        assert touched <= must | may, (stage, touched - must - may)
        for name in MARKS:  # what was not touched is what it was
            if name not in touched:
                x, y = before[name]
                assert np.array_equal(np.asarray(mark(ex, name).x, float), x, equal_nan=True)
        st = check_status_agrees_with_charts(ex)
        counter = re.search(r"Round \d+", text(ex.time.counter.value)).group(0)
        assert st["where"].startswith(counter + ", stage ")
        if not ex.cascade.ended:  # the counter names the stage too (lesson 0's table)
            assert re.search(r"stage (\d)/(\d)", text(ex.time.counter.value)).groups() == (
                re.search(r"stage (\d) of (\d)", st["where"]).groups())
        out.append((stage, touched, st))
        check_stage_against_record(ex, stage)
    return ex, out


def taken_key(ex):
    """The book chart's key for the "taken" bars, as a student reads it."""
    m = re.search(r"taken by [^·]+", text(ex.book_chart.caption.value))
    assert m, text(ex.book_chart.caption.value)
    return m.group(0).strip()


def check_stage_against_record(ex, stage):
    """What the stage's marks show, against the cascade's records."""
    cas = ex.cascade
    rec = cas.history[-1]
    bars = np.asarray(ex.liquidations_chart.bars.y)
    taken = ex.book_chart.taken_units
    # the key names the round whose order the "taken" bars show (they change at the walk)
    # ("check margins" and "liquidate": the previous round's; a halted round took nothing)
    shown = cas.history[-2] if stage == "liquidate" else rec
    assert taken.sum() == pytest.approx(shown.filled_qty, rel=1e-9)
    if stage in ("check margins", "liquidate"):
        assert taken_key(ex) == f"taken by the previous round's orders (round {shown.round})"
        in_progress = int(re.search(r"Round (\d+), stage", text(ex.stage.value)).group(1))
        assert shown.round == in_progress - 1
    else:
        assert taken_key(ex) == "taken by this round's orders"
    if stage in ("the shock", "walk the book"):
        assert taken.sum() == pytest.approx(rec.filled_qty, rel=1e-9)
        np.testing.assert_allclose(ex.book_chart.resting.y,
                                   book_histogram(cas.book, ex.book_chart.edges))
        # the price line still stands at the price before the order
        assert ex.book_chart.price.x[0] == rec.price_before
        assert len(ex.price_chart.line.y) == rec.round
    elif stage == "check margins":
        reached = cas.in_reach()
        pos = cas.positions
        expected = pos.size[reached] * pos.liquidation_price[reached]
        lo, hi = ex.map_chart.edges[0], ex.map_chart.edges[-1]
        inside = (pos.liquidation_price[reached] >= lo) & (pos.liquidation_price[reached] <= hi)
        if cas.dynamic_margin == 0 and cas.partial is None:
            assert ex.map_chart.series[2].sum() == pytest.approx(
                expected[inside].sum(), rel=1e-9)
        assert len(reached) > 0 and len(ex.map_chart.reached.x) > 0
        assert len(cas.history) == cas.round  # nothing traded yet
    elif stage == "liquidate":
        assert bars[:, rec.round].sum() == rec.notional_liquidated > 0
        assert ex.map_chart.series[2].sum() == 0 and len(ex.map_chart.reached.x) == 0
        assert ex.map_chart.price.x[0] == rec.price_before
        # nothing of the walk yet: the book still marks the previous order
        assert taken.sum() == pytest.approx(cas.history[-2].filled_qty, rel=1e-9)
    elif stage == "new price":
        assert list(ex.price_chart.line.y)[-1] == rec.price_after
        assert ex.book_chart.price.x[0] == ex.map_chart.price.x[0] == rec.price_after
        assert list(ex.oi_chart.oi.y)[-1] == rec.open_interest_notional
        assert ex.narration[-1] == say.narrate(rec) or ex.narration[-2] == say.narrate(rec)
        # the positions now in reach wait for the next "check margins"
        assert len(ex.map_chart.reached.x) == 0


def test_each_stage_of_the_shock_and_two_rounds_changes_what_its_name_says():
    """crowded-longs as lesson 03 shows it: the shock's two stages, rounds 1 and 2's four."""
    ex, out = play_stages(CROWDED, 10)
    assert [s for s, _, _ in out] == ["the shock", "new price"] + [
        "check margins", "liquidate", "walk the book", "new price"] * 2
    hist = ex.cascade.history
    assert len(hist) == 3
    st = [s for _, _, s in out]
    # the numbers: stages 2-3 of round 1 show 353 positions (4.2M USD) liquidated
    assert st[2]["reached"] == "353" and st[2]["closed"] == "0"
    assert (st[3]["closed"], st[3]["notional"]) == ("353", say.money(hist[1].notional_liquidated))
    assert st[3]["notional"] == "4.2M USD" and st[4]["notional"] == "4.2M USD"
    # ... and open interest falls by them at "liquidate" (it stayed at 24.2M until "new price")
    assert st[2]["oi"] == "24.2M USD" and st[2]["oi"] == say.money(
        hist[0].open_interest_notional)
    assert st[3]["oi"] == st[4]["oi"] == say.money(hist[1].open_interest * hist[0].price_after)
    assert st[3]["oi"] == "20.1M USD"
    assert st[5]["oi"] == say.money(hist[1].open_interest_notional)
    # the price moves only at "new price"
    prices = [s["price"] for s in st]
    assert prices == [say.price(p) for p in [hist[0].price_before] + [hist[0].price_after] * 4
                      + [hist[1].price_after] * 4 + [hist[2].price_after]]
    # the positions reached at each check are the ones the next record liquidated
    assert int(st[2]["reached"]) == hist[1].n_liquidated
    assert int(st[6]["reached"]) == hist[2].n_liquidated


def test_stage_sentences_say_when_the_price_moves():
    """The shock's stage names its last fill without calling it the price yet; "new price"
    says it, and who is in reach next is left to "check margins"."""
    ex = CascadeExplorer(CROWDED, phase_mode=True)
    ex.time.step_button.click()
    assert text(ex.stage.value) == (
        "Round 0, stage 1 of 2 (the shock): The shock: an outside seller sells 45,228 units, "
        "taking every bid within 3.0% below 99.99; its last fill is at 97.00, the price the "
        "next stage sets.")
    assert "price 99.99" in text(ex.status.value)
    ex.time.step_button.click()
    assert text(ex.stage.value) == ("Round 0, stage 2 of 2 (new price): New price: the last "
                                    "fill, 97.00, is the new price, 3.0% lower than 99.99.")
    assert "price 97.00" in text(ex.status.value)


def test_click_3_check_margins_changes_the_map():
    """The issue's first complaint: click 3 changed no chart (the ◆ came at click 2)."""
    ex = CascadeExplorer(CROWDED, phase_mode=True)
    ex.time.step_button.click()
    ex.time.step_button.click()  # new price: no ◆ yet
    assert len(ex.map_chart.reached.x) == 0 and "reached:" not in ex.status.value
    ex.time.step_button.click()  # check margins
    assert len(ex.map_chart.reached.x) > 0 and "reached: 353 positions" in ex.status.value


@pytest.mark.parametrize("scenario", [
    pytest.param(Scenario.preset("short-squeeze"), id="squeeze"),
    pytest.param(SMALL.replace(partial="restore", dynamic_margin=1.0), id="partial+dynamic"),
    pytest.param(SMALL.replace(call_auction=True, recovery=0.5), id="auction"),
    pytest.param(SMALL.replace(breaker_move=0.02), id="breaker"),
])
def test_stages_with_the_mechanisms(scenario):
    """The same rules with a squeeze, partial closes and dynamic margin, call auctions, and a
    circuit breaker (its halted rounds are one stage)."""
    ex, out = play_stages(scenario, 14)
    names = [s for s, _, _ in out]
    assert names[:2] == ["the shock", "new price"]
    if scenario.breaker_move:
        assert "trading halted" in names


def test_leaving_and_entering_phase_mode_between_rounds():
    """Ticking phase mode hides the ◆ (the next click checks margins); unticking shows what a
    whole-round Step shows."""
    normal = CascadeExplorer(SMALL)
    ex = CascadeExplorer(SMALL)
    for e in (normal, ex):
        e.time.step_button.click()
    assert len(ex.map_chart.reached.x) > 0
    ex.phase_toggle.value = True
    assert len(ex.map_chart.reached.x) == 0
    ex.time.step_button.click()
    assert stage_name(ex) == "check margins" and len(ex.map_chart.reached.x) > 0
    ex.time.step_button.click(), ex.time.step_button.click(), ex.time.step_button.click()
    normal.time.step_button.click()
    assert stage_name(ex) == "new price" and len(ex.map_chart.reached.x) == 0
    ex.phase_toggle.value = False
    for name in MARKS:
        np.testing.assert_array_equal(np.asarray(mark(ex, name).y, float),
                                      np.asarray(mark(normal, name).y, float), err_msg=name)
    assert ex.status.value == normal.status.value


@pytest.mark.parametrize("stop_after", range(1, 7))
def test_leaving_phase_mode_mid_round_shows_the_whole_round(stop_after):
    """Unticking at any stage completes the round on screen exactly as a normal Step would."""
    ex = CascadeExplorer(SMALL, phase_mode=True)
    for _ in range(stop_after):
        ex.time.step_button.click()
    ex.phase_toggle.value = False
    normal = CascadeExplorer(SMALL)
    for _ in range(len(ex.cascade.history)):
        normal.time.step_button.click()
    for name in MARKS:
        np.testing.assert_array_equal(np.asarray(mark(ex, name).y, float),
                                      np.asarray(mark(normal, name).y, float), err_msg=name)
    assert ex.status.value == normal.status.value and ex.stage.value == ""
