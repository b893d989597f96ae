"""Issue 11, the engine: one round pipeline, mechanisms as declarations, accounts and venues
behind protocols. (That every result is unchanged is tests/test_golden.py's job.)"""

import dataclasses
import importlib
import inspect
import json
import re
import sys
from pathlib import Path

import numpy as np
import pytest

from marginloops import Cascade, OrderBook, Positions, RoundRecord, Scenario
from marginloops import cascade as cascade_module
from marginloops.accounts import Accounts, PerpetualAccounts
from marginloops.cascade import CORE_PARAMS
from marginloops.mechanisms import MECHANISMS, Mechanism, all_params, record_fields
from marginloops.params import Control, Param
from marginloops.venue import Venue

#: compare.py as the package has it (the toy below must not need an edit to it).
COMPARE_SOURCE = Path(importlib.import_module("marginloops.compare").__file__).read_text()


def one_long(entry=100.0, leverage=10.0, mmr=0.0, size=1.0):
    return Positions.from_arrays([1], [size], [entry], [leverage], [mmr])


def ladder(top=100.0, n=200, tick=0.1, size=1.0):
    prices = top - tick * np.arange(n)
    return OrderBook.from_levels(prices, np.full(n, size), [top + tick], [1.0], tick=tick)


# ------------------------------------------------------------------ declarations
def test_every_mechanism_declares_params_fields_and_words():
    names = set()
    for m in MECHANISMS:
        assert issubclass(m, Mechanism) and m.name and m.title
        assert m.params and all(isinstance(p, Param) for p in m.params)
        for p in m.params:
            assert p.name not in names  # one owner per parameter
            names.add(p.name)
            # a row in the explorer's panel, or one declared and held back until the explorer
            # can tell that mode's story (the module's HIDDEN_CONTROLS, if it has one)
            control = p.control or getattr(sys.modules[m.__module__], "HIDDEN_CONTROLS",
                                           {}).get(p.name)
            assert isinstance(control, Control) and control.label and control.group
            assert p.doc


def test_bankruptcy_limit_orders_are_offered_in_the_panel_and_work():
    """The explorer draws the fund's inventory and the sentences tell this mode's story
    (issue 12), so its rows are in the panel: the choice, and the fund's selling rate under
    it (shown only while the orders are limited)."""
    from marginloops.ui.explorer import CascadeExplorer
    from marginloops.ui.mechanisms import MECHANISMS as PANEL
    shown = {row.field for row in PANEL}
    assert {"liquidation_orders", "fund_unwind", "adl", "liquidation_fee", "partial"} <= shown
    ex = CascadeExplorer()
    c = ex.controls
    rows = c._dependents["liquidation_orders"]
    assert ex.scenario.liquidation_orders == "market" and rows.layout.display == "none"
    c.mechanisms["liquidation_orders"].value = "bankruptcy"
    assert ex.scenario.liquidation_orders == "bankruptcy" and rows.layout.display is None
    c.mechanisms["fund_unwind"].value = 50.0
    assert ex.scenario.fund_unwind == 0.5
    ex.step()
    ex.step()
    assert ex.cascade.history[-1].fund_took_qty > 0


def test_round_records_hold_the_core_fields_then_every_mechanisms_fields():
    names = [f.name for f in dataclasses.fields(RoundRecord)]
    extra = [f.name for f in record_fields()]
    assert names[-len(extra):] == extra
    assert len(set(names)) == len(names)
    # A record built without the mechanisms' fields has their declared defaults.
    core = {f.name: 0 for f in dataclasses.fields(RoundRecord) if f.name not in extra}
    core.update(book_prices=np.zeros(0), book_qty=np.zeros(0), direction="down",
                end_reason=None)
    rec = RoundRecord(**core)
    for f in record_fields():
        got = getattr(rec, f.name)
        assert got == f.default or (f.default != f.default and got != got)


def test_every_declared_parameter_is_a_scenario_field_with_the_same_default():
    fields = {f.name: f.default for f in dataclasses.fields(Scenario)}
    for p in CORE_PARAMS + all_params():
        assert p.name in fields
        assert fields[p.name] == p.default, p.name


def test_the_round_code_names_no_mechanism():
    """The pipeline's stages read the declarations: no mechanism parameter or record field is
    named in the code of the round (docstrings aside)."""
    # The settle stage is the core's: it reports the fees it charged (at the rate the fee
    # mechanism gives) and the accounts it only reduced (as the accounts report them).
    settled = {"fees", "returned_to_traders", "n_reduced", "check_price"}  # (a core word too)
    words = {p.name for p in all_params()} | {f.name for f in record_fields()} - settled
    words |= {"breaker", "halted", "adl", "partial", "call_auction"}
    for fn in (Cascade.step, Cascade._shock, Cascade._liquidate, Cascade._recover,
               Cascade._record, Cascade.__init__, Cascade.reset):
        code = inspect.getsource(fn)
        doc = inspect.getdoc(fn) or ""
        code = code.replace(doc, "")
        named = sorted(w for w in words if f".{w}" in code or f"{w}=" in code
                       or f'"{w}"' in code)
        assert named == [], (fn.__name__, named)


def test_compare_names_no_mechanism():
    """compare.py reads the mechanisms' declarations (summary measures, verdict clauses, round
    table columns, notes): no mechanism's name, title, parameter, record field, column or
    measure is written in it, docstrings included."""
    source = COMPARE_SOURCE.lower()
    words = {p.name for p in all_params()} | {f.name for f in record_fields()}
    for m in MECHANISMS:
        words |= {m.name, m.title, *m.title.split(), *(c.key for c in m.table_columns)}
        words |= {w for s in m.summary_measures for w in (s.key, s.label)}
    words -= {"liquidation", "margin", "fee", "fees"}  # the core's words too
    named = sorted(w for w in words if re.search(rf"\b{re.escape(w.lower())}\b", source))
    assert named == []
    # and the measures it shows are the declared ones
    from marginloops.compare import MEASURES, OPTIONAL_MEASURES
    declared = tuple(s.label for m in MECHANISMS for s in m.summary_measures)
    assert OPTIONAL_MEASURES == declared == ("positions reduced (still open)", "ADL cost",
                                             "taken over by the fund")
    assert set(declared) <= set(MEASURES)


def test_control_rows_are_plain_data():
    src = "".join(inspect.getsource(m) for m in MECHANISMS)
    assert "ipywidgets" not in src and "bqplot" not in src
    c = next(p for p in all_params() if p.name == "liquidation_fee").control
    assert (c.lo, c.hi, c.step, c.per_unit) == (0.0, 10.0, 0.1, 0.01)


# ------------------------------------------------------------------ one check each
@pytest.mark.parametrize("field,value,needle", [
    ("liquidation_fee", 0.5, "liquidation_fee must be in [0, 0.1], got 0.5"),
    ("max_rounds", 200_000, "max_rounds must be in [1, 100000], got 200000"),
    ("partial_fraction", 0.001, "partial_fraction must be in [0.01, 1], got 0.001"),
    ("dynamic_window", 0, "dynamic_window must be in [1, 50], got 0"),
    ("withdrawal", 101, "withdrawal must be in [0, 100], got 101"),
    ("recovery", -0.5, "recovery must be in [0, 1], got -0.5"),
])
def test_scenario_and_cascade_refuse_the_same_values_with_the_same_words(field, value, needle):
    with pytest.raises(ValueError) as a:
        Scenario(**{field: value})
    with pytest.raises(ValueError) as b:
        Cascade(one_long(), ladder(), shock=0.01, **{field: value})
    assert needle in str(a.value) and needle in str(b.value)


def test_the_stricter_ranges_are_accepted_at_their_ends():
    Cascade(one_long(), ladder(), shock=0.01, liquidation_fee=0.1, max_rounds=100_000)
    Scenario(liquidation_fee=0.1, max_rounds=100_000)


def test_an_unknown_keyword_is_still_a_type_error():
    with pytest.raises(TypeError, match="colour"):
        Cascade(one_long(), ladder(), shock=0.01, colour="red")


def test_a_fee_of_zero_is_a_fee_not_no_fee():
    """Rate 0: the remaining margin goes back to the trader; None: all of it to the fund."""
    pos = one_long(leverage=10.0, mmr=0.05)  # margin 10, liquidation at 90 / 0.95 = 94.74
    zero = Cascade(pos, ladder(), shock=0.06, liquidation_fee=0.0).run()
    none = Cascade(pos, ladder(), shock=0.06).run()
    assert zero[1].returned_to_traders > 0 and zero[1].fees == 0.0
    assert none[1].returned_to_traders == 0.0 and none[1].to_fund > 0
    assert zero[1].returned_to_traders == pytest.approx(none[1].to_fund)


# ------------------------------------------------------------------ accounts
def test_perpetuals_implement_the_account_protocol_by_hand():
    """One long, entry 100, 10x, mmr 0: margin 10, liquidation (and bankruptcy) price 90."""
    pos = one_long()
    acc = PerpetualAccounts(pos, "down", 100.0)
    assert isinstance(acc, Accounts)
    assert acc.threshold_price()[0] == pytest.approx(90.0)
    closing = acc.check(95.0)
    assert closing.n == 0
    closing = acc.check(90.0)
    assert closing.n == 1
    assert acc.equity_at(95.0, closing)[0] == pytest.approx(5.0)  # 10 + 1 * (95 - 100)
    moving = PerpetualAccounts(pos, "down", 100.0, moving=True)
    c = moving.check(89.0)
    assert moving.equity_at(89.0, c)[0] == pytest.approx(-1.0)
    assert moving.maintenance(c, 89.0)[0] == 0.0


def test_accounts_refuse_a_position_past_its_threshold_at_the_start():
    with pytest.raises(ValueError, match="solvent at the starting price"):
        PerpetualAccounts(one_long(), "down", 89.0)


# ------------------------------------------------------------------ venues
class Wrapped:
    """A venue that is not an OrderBook: every call goes to one through the protocol."""

    kind = property(lambda self: self._book.kind)

    def __init__(self, book):
        self._book = book

    best_bid = property(lambda self: self._book.best_bid)
    best_ask = property(lambda self: self._book.best_ask)

    def units_left(self, side):
        return self._book.units_left(side)

    def depth_profile(self, side, lo, hi):
        return self._book.depth_profile(side, lo, hi)

    def market_sell(self, qty):
        return self._book.market_sell(qty)

    def market_buy(self, qty):
        return self._book.market_buy(qty)

    def sell_through(self, limit):
        return self._book.sell_through(limit)

    def buy_through(self, limit):
        return self._book.buy_through(limit)

    def refill(self, side, qty, at="touch"):
        return self._book.refill(side, qty, at)

    def withdraw(self, side, fraction, within):
        return self._book.withdraw(side, fraction, within)

    def copy(self):
        return Wrapped(self._book.copy())


@pytest.mark.parametrize("changes", [{}, dict(resilience=0.3, call_auction=True),
                                     dict(partial="restore", breaker_move=0.02, withdrawal=0.5)])
def test_any_venue_runs_the_cascade_the_same_way(changes):
    s = Scenario.preset("crowded-longs").replace(n_positions=500, **changes)
    plain = s.cascade()
    run = {p.name: getattr(s, p.name) for p in CORE_PARAMS}
    for m in MECHANISMS:
        run.update(m.from_scenario(s))
    wrapped = Cascade(s.positions(), Wrapped(s.book()), **run)
    assert isinstance(wrapped.book, Venue) and not isinstance(wrapped.book, OrderBook)
    assert wrapped.run() == plain.run()


def test_crowding_reads_the_venue_through_its_depth_profile():
    from marginloops.analysis import crowding

    s = Scenario.preset("thin-book")
    a = crowding(s.cascade())
    run = {p.name: getattr(s, p.name) for p in CORE_PARAMS}
    b = crowding(Cascade(s.positions(), Wrapped(s.book()), **run))
    assert a == b
    # By hand: a flat book of 300,000 USD within 1% holds 3,000 units per 1% near 100.
    assert a.book_units == pytest.approx(5 * 3000.0, rel=0.02)


def test_a_non_venue_is_refused_by_name():
    with pytest.raises(ValueError, match="book must be a venue"):
        Cascade(one_long(), object(), shock=0.01)


def test_the_module_has_no_order_book_check():
    assert "isinstance(book, OrderBook)" not in inspect.getsource(cascade_module)


# ------------------------------------------------------------------ a scenario on a pool
def test_a_pool_scenario_holds_the_books_1pct_depth_derived_by_hand():
    """Fee-free, selling until the spot is 1% lower pays y (1 - sqrt(0.99)): y = D / that.
    With the fee on the input (gamma = 0.997), selling a·x coins takes the spot to
    P / ((1 + a)(1 + gamma a)) and pays y gamma a / (1 + gamma a)."""
    from marginloops.pool import ConstantProductPool
    from marginloops.scenarios import POOL_FEE

    assert POOL_FEE == 0.003
    depth = 1_500_000.0
    free = ConstantProductPool.from_depth(100.0, depth, fee=0.0)
    assert free.quote_reserve == pytest.approx(depth / (1 - np.sqrt(0.99)), rel=1e-12)
    assert free.quote_reserve == pytest.approx(199.5 * depth, rel=1e-3)

    s = Scenario.preset("crowded-longs").replace(venue="pool")
    assert s.depth_1pct == depth
    pool = s.pool()
    g = 1 - POOL_FEE
    # The root a > 0 of g a^2 + (1 + g) a + 1 - 1/0.99 = 0, by numpy, not by the pool's code.
    a = max(np.roots([g, 1 + g, 1 - 1 / 0.99]).real)
    x, y = pool.base_reserve, pool.quote_reserve
    assert y == pytest.approx(depth * (1 + g * a) / (g * a), rel=1e-9)
    # It starts at the scenario's price on the side a crash sells into: best bid = g * spot.
    assert pool.best_bid == pytest.approx(s.price, rel=1e-12)
    assert y / x == pytest.approx(s.price / g, rel=1e-12)
    # Selling a x coins pays depth_1pct USD and leaves the spot 1% lower.
    fill = pool.copy().market_sell(a * x)
    assert fill.filled * fill.avg_price == pytest.approx(depth, rel=1e-9)
    after = pool.copy()
    after.market_sell(a * x)
    assert after.spot == pytest.approx(0.99 * y / x, rel=1e-9)


def test_a_squeeze_on_a_pool_starts_at_the_price_on_the_ask_side():
    s = Scenario.preset("short-squeeze").replace(venue="pool")
    assert s.pool().best_ask == pytest.approx(s.price, rel=1e-12)


@pytest.mark.parametrize("preset", ["calm-market", "crowded-longs", "thin-book",
                                    "short-squeeze"])
def test_a_cascade_runs_on_a_pool_of_the_same_depth(preset):
    from marginloops.pool import ConstantProductPool

    book = Scenario.preset(preset)
    pool = book.replace(venue="pool")
    cas = pool.cascade()
    assert isinstance(cas.book, ConstantProductPool)
    hist = cas.run()
    assert hist[0].price_before == pytest.approx(book.price)
    assert hist[-1].end_reason is not None
    # Prices only move through trades: each round's last fill is its new price.
    for r in hist:
        if r.filled_qty > 0:
            assert r.price_after == r.last_fill_price
    # The same crowd of traders: the book and the pool start from the same positions.
    np.testing.assert_array_equal(cas.positions.entry, book.cascade().positions.entry)


def test_the_venue_field_is_checked_and_round_trips():
    with pytest.raises(ValueError, match=r"venue must be one of \('book', 'pool'\), got 'amm'"):
        Scenario(venue="amm")
    s = Scenario.preset("thin-book").replace(venue="pool")
    assert Scenario.from_json(s.to_json()) == s
    assert Scenario().venue == "book"


# ------------------------------------------------------------------ format 3
def test_format_3_puts_every_field_in_exactly_one_group():
    from marginloops.scenarios import CONCERNS

    nested = Scenario().to_dict(nested=True)
    assert nested["format"] == "marginloops.scenario/3"
    seen = ["name", "description"]
    for group in CONCERNS:
        seen += ["venue" if k == "kind" else k for k in nested[group]]
    for mech in nested["mechanisms"].values():
        seen += list(mech)
    assert sorted(seen) == sorted(f.name for f in dataclasses.fields(Scenario))
    assert len(seen) == len(set(seen))
    assert nested["mechanisms"]["breaker"] == {"breaker_move": None, "breaker_rounds": 2,
                                               "breaker_reference": "round"}


@pytest.mark.parametrize("preset", ["calm-market", "crowded-longs", "thin-book",
                                    "short-squeeze"])
def test_format_3_round_trips_and_runs_as_format_2(preset, tmp_path):
    s = Scenario.preset(preset).variant(shock=0.07, partial="restore", breaker_move=0.02,
                                        venue="pool")
    path = tmp_path / "s.json"
    s.save(path, nested=True)
    assert json.loads(path.read_text())["format"] == "marginloops.scenario/3"
    back = Scenario.load(path)
    assert back == s
    assert Scenario.from_json(s.to_json()) == back  # format 2 reads the same scenario


def test_a_partial_format_3_file_takes_the_rest_from_its_preset():
    s = Scenario.from_dict({"format": "marginloops.scenario/3", "preset": "thin-book",
                            "market": {"shock": 0.1}, "mechanisms": {"fee": {
                                "liquidation_fee": 0.01}}})
    assert s == Scenario.preset("thin-book").variant(shock=0.1, liquidation_fee=0.01)
    assert s.name == "thin-book (changed)"


@pytest.mark.parametrize("data,needle", [
    ({"shock": 0.1}, "scenario (format 3) has unknown key 'shock'"),
    ({"market": {"shok": 0.1}}, "market has unknown key 'shok' (did you mean 'shock'?)"),
    ({"venue": {"depth_1pct": 0}}, "depth_1pct must be"),
    ({"venue": "pool"}, "venue must be an object"),
    ({"mechanisms": {"breakers": {}}}, "mechanisms has unknown key 'breakers' (did you mean "
                                      "'breaker'?)"),
    ({"mechanisms": {"fee": {"liquidation_fee": 0.5}}},
     "liquidation_fee must be in [0, 0.1], got 0.5"),
    ({"mechanisms": {"fee": {"adl": True}}}, "mechanisms.fee has unknown key 'adl'"),
])
def test_format_3_mistakes_are_named_with_their_group(data, needle):
    with pytest.raises(ValueError) as err:
        Scenario.from_dict({"format": "marginloops.scenario/3", **data})
    assert needle in str(err.value)


def test_any_population_that_gives_accounts_plugs_into_the_cascade():
    """The cascade reaches its traders only through ``positions.accounts(...)``."""
    s = Scenario.preset("crowded-longs").replace(n_positions=400, partial="fraction")
    pos = s.positions()
    asked = []

    class Population:
        size = pos.size

        def accounts(self, direction, start, *, moving=False, opposite=False):
            asked.append((direction, start, moving, opposite))
            return PerpetualAccounts(pos, direction, start, moving=moving, opposite=opposite)

    run = {p.name: getattr(s, p.name) for p in CORE_PARAMS}
    for m in MECHANISMS:
        run.update(m.from_scenario(s))
    other = Cascade(Population(), s.book(), **run)
    assert asked == [("down", s.book().best_bid, True, False)]
    assert other.run() == s.cascade().run()
    assert isinstance(other.accounts, Accounts)


_TOY = '''
from __future__ import annotations

from ..params import Control, Param
from . import Mechanism, RecordField, SummaryMeasure, TableColumn


def _clause(a, b, la, lb, identical):
    if identical or not (a or b):
        return ""
    return f'; the haircut set aside {b:,.0f} USD in run "{lb}" ({a:,.0f} in run "{la}")'


class Haircut(Mechanism):
    name = "haircut"
    title = "fund haircut"
    params = (Param("haircut", "number", 0.0, lo=0, hi=0.5, fraction=True,
                    doc="share of the round's money to the fund set aside, [0, 0.5]",
                    control=Control("Who pays for losses", "Haircut (%)", "tip", lo=0, hi=50,
                                    step=1, per_unit=0.01)),)
    record_fields = (RecordField("set_aside", float, 0.0, "USD set aside this round"),)
    table_columns = (TableColumn("aside", "set aside (USD)", lambda r, p: f"{r.set_aside:,.0f}",
                                 lambda h: any(r.set_aside for r in h), after="closed",
                                 compare_header="aside"),)
    summary_measures = (SummaryMeasure("set_aside", "set aside", float,
                                       lambda h: sum(r.set_aside for r in h),
                                       lambda v: f"{v:,.0f} USD", after="bad debt",
                                       doc="USD set aside in all rounds", words=_clause),)

    def record(self, run, st) -> dict:
        return {"set_aside": abs(st.to_fund) * self.haircut}

    @staticmethod
    def sentence(rec) -> str:
        return " Set aside." if rec.set_aside > 0 else ""

    @staticmethod
    def notes(rec) -> list[str]:
        return ["haircut"] if rec.set_aside > 0 else []
'''

_TRY = '''
import json
from marginloops import Cascade, Scenario
from marginloops.compare import _round_note
from marginloops.narration import narrate
s = Scenario.preset("crowded-longs").variant(haircut=0.1)
h = s.cascade().run()
out = {"description": s.description, "set_aside": h[1].set_aside, "sentence": narrate(h[1]),
       "note": _round_note(h[1]), "nested": s.to_dict(nested=True)["mechanisms"]["haircut"],
       "default": Scenario().haircut, "back": Scenario.from_json(s.to_json(nested=True)) == s}
for make in (lambda: Scenario(haircut=0.9), lambda: Cascade(s.positions(), s.book(), haircut=0.9)):
    try:
        make()
    except ValueError as exc:
        out.setdefault("errors", []).append(str(exc))
from marginloops.compare import MEASURES, Summary, compare
c = compare(s.replace(haircut=0.0), s, labels=("plain", "cut"))
plain = compare(s.replace(haircut=0.0), s.replace(haircut=0.0, shock=0.05))
out.update(total=sum(r.set_aside for r in h), summary=c.summaries[1].set_aside,
           table=c.table(), verdict=c.verdict(), round_table=c.round_table(),
           plain_table=plain.table(), plain_verdict=plain.verdict(),
           plain_round_table=plain.round_table(), measures=MEASURES,
           first_round=Summary.of(h[:1]).set_aside)
print(json.dumps(out))
'''


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    """Copy the package, add the toy module and its registry line (nothing else), run _TRY:
    the scratch directory and what _TRY printed."""
    import shutil
    import subprocess
    import sys

    import marginloops

    tmp_path = tmp_path_factory.mktemp("toy")
    pkg = tmp_path / "marginloops"
    shutil.copytree(Path(marginloops.__file__).parent, pkg,
                    ignore=shutil.ignore_patterns("__pycache__"))
    (pkg / "mechanisms" / "haircut.py").write_text(_TOY)
    reg = pkg / "mechanisms" / "__init__.py"
    text = reg.read_text()
    text = text.replace("    from .withdrawal import QuoteWithdrawal\n",
                        "    from .withdrawal import QuoteWithdrawal\n"
                        "    from .haircut import Haircut\n")
    text = text.replace("LiquidationFee, ReboundLiquidation)",
                        "LiquidationFee, ReboundLiquidation, Haircut)")
    reg.write_text(text)
    done = subprocess.run([sys.executable, "-c", _TRY], cwd=tmp_path, capture_output=True,
                          text=True, timeout=120, env={"PYTHONPATH": str(tmp_path)})
    assert done.returncode == 0, done.stderr
    return tmp_path, json.loads(done.stdout)


def test_a_new_mechanism_is_one_module_and_one_registry_line(toy):
    """In a scratch copy of the package: add a module and its name in the registry, change
    nothing else, and the mechanism is a checked Scenario and Cascade parameter, a record
    field, a sentence, a compare note and a format-3 entry."""
    _, out = toy
    assert out["description"] == "crowded-longs with haircut 10.0%"
    assert out["set_aside"] > 0 and " Set aside. " in out["sentence"]
    assert out["note"] == "haircut" and out["nested"] == {"haircut": 0.1}
    assert out["default"] == 0.0 and out["back"] is True
    assert out["errors"] == ["haircut must be in [0, 0.5], got 0.9"] * 2


def test_a_new_mechanism_adds_a_compare_measure_column_and_clause_without_editing_compare(toy):
    """The toy also declares a summary measure (with a verdict clause) and a round-table column
    for compare: the comparison's table, verdict and round table carry them, and its module is
    the package's own, unedited."""
    tmp_path, out = toy
    assert (tmp_path / "marginloops" / "compare.py").read_text() == COMPARE_SOURCE
    total = out["total"]
    assert total > 0 and out["summary"] == pytest.approx(total, rel=1e-12)
    assert out["first_round"] == 0.0  # round 0 is the shock: nothing liquidated, nothing set aside
    # Its row comes after "bad debt" (and the earlier mechanisms' rows placed there), in
    # MEASURES and in the table (no ADL here: its row is left out), with both runs' cells.
    m = out["measures"]
    assert m[m.index("bad debt"):m.index("insurance fund left")] == [
        "bad debt", "ADL cost", "set aside"]
    lines = out["table"].splitlines()
    heads = [line[:20].strip() for line in lines]
    row = lines[heads.index("bad debt") + 1].split()
    assert row[:2] == ["set", "aside"] and row[2:] == ["0", "USD", f"{total:,.0f}", "USD"]
    assert out["verdict"].endswith(f'; the haircut set aside {total:,.0f} USD in run "cut" '
                                   f'(0 in run "plain").')
    # Its compare column comes after "closed", before the note, in both runs' blocks.
    head = out["round_table"].splitlines()[1].split()
    assert head == ["round"] + ["price", "move", "closed", "aside", "note"] * 2
    # Two runs without it: no row, no clause, no column.
    assert "set aside" not in out["plain_table"] and "haircut" not in out["plain_verdict"]
    assert "aside" not in out["plain_round_table"]
