"""Hostile inputs at every public entry point of the model core (issue 9, items 3, 4, 6, 7).

One rule: real numbers only (bools and strings refused, numpy numbers accepted), magnitudes at
most 1e15 (the documented cap, ``marginloops._checks.MAX_MAGNITUDE``), flat arrays where flat
arrays are asked for. Every refusal is a ``ValueError`` whose message names the parameter, says
what is allowed ("must") and what came ("got"), and no numpy warning escapes.
"""

import math
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from marginloops import Cascade, OrderBook, Positions, bankruptcy_price, liquidation_price
from marginloops.exercises import Exercise, parse_number
from marginloops.positions import check_leverage_mix
from marginloops.tiers import BINANCE_STYLE_TIERS, MarginTiers

CAP = 1e15  # the documented magnitude cap


def quiet(call):
    """``call()``'s result, failing the test if any warning (numpy's included) was emitted."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = call()
    assert not caught, [f"{w.category.__name__}: {w.message}" for w in caught]
    return out


def refused(call, *names) -> str:
    """``call()`` must raise ValueError naming one of ``names``, with no warning; the message."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(ValueError) as err:
            call()
    assert not caught, [f"{w.category.__name__}: {w.message}" for w in caught]
    msg = str(err.value)
    assert any(name in msg for name in names), msg
    assert "must" in msg and "got" in msg, msg
    assert "inhomogeneous" not in msg and "could not convert" not in msg, msg  # numpy's words
    return msg


def positions():
    return Positions.from_arrays([1, -1], [1.0, 2.0], [100.0, 100.0], [10.0, 5.0], 0.005)


def book():
    return OrderBook.from_levels([99.0, 98.0, 97.0], [5.0, 5.0, 5.0], [101.0, 102.0], [5.0, 5.0],
                                 tick=1.0)


# ------------------------------------------------------------------------------- item 3
def test_book_sizes_the_model_cannot_sum_are_refused_in_our_words():
    # today: numpy's "RuntimeWarning: overflow encountered in reduce"
    msg = refused(lambda: OrderBook.from_levels([99, 98], [1e308, 1e308]), "bid_sizes")
    assert "1e+308" in msg and "1e15" in msg


def test_leverage_mix_weights_that_overflow_when_summed_are_refused():
    # today: numpy's overflow warning, then "Probabilities do not sum to 1"
    mix = ((10, 1e308), (20, 1e308))
    msg = refused(lambda: check_leverage_mix(mix, 0.005), "leverage_mix weight")
    assert "1e+308" in msg and "[0, 1e15]" in msg
    refused(lambda: Positions.generate(10, 100.0, leverage_mix=mix, seed=1), "leverage_mix weight")


def test_positions_too_big_to_sum_are_refused_before_the_run():
    # today: accepted, then "RuntimeWarning: overflow encountered in multiply" inside run()
    msg = refused(lambda: Positions.from_arrays(1, [1e308, 1e308], 100, 10, 0.005), "size")
    assert "1e+308" in msg and "1e15" in msg
    refused(lambda: Positions.from_arrays(1, 1.0, [1e308], 10.0, 0.0), "entry")
    refused(lambda: Positions.from_arrays(1, 1.0, 100.0, [1e308], 0.0), "leverage")


def test_sizes_are_capped_in_total_so_every_order_built_from_them_is_valid():
    # each size is within the cap but a round's order (their sum) would not be
    half = 0.6 * CAP
    msg = refused(lambda: Positions.from_arrays(1, [half, half], 100.0, 10.0, 0.005), "size")
    assert "add up" in msg
    refused(lambda: OrderBook.from_levels([99, 98], [half, half]), "bid_sizes")
    refused(lambda: Positions.generate(10, 1e-3, notional=1e13, seed=1), "notional / price")


def test_the_cap_itself_is_accepted_and_a_run_at_it_stays_quiet():
    pos = Positions.from_arrays(1, [CAP / 2, CAP / 2], CAP, 2.0, 0.0)
    bk = OrderBook.from_levels(CAP * np.array([0.99, 0.6, 0.5, 0.4]), np.full(4, CAP / 4))
    history = quiet(lambda: Cascade(pos, bk, shock=0.02, insurance_fund=CAP).run())
    assert all(math.isfinite(r.price_after) and math.isfinite(r.bad_debt) for r in history)
    assert history[-1].price_after < CAP


def test_from_depth_refuses_ticks_and_depths_it_cannot_build_in_words():
    # a tick of 5e-324 made 1 / tick infinite: "OverflowError: cannot convert float infinity"
    refused(lambda: OrderBook.from_depth(1.0, 1e6, tick=5e-324), "number of levels")
    # a tiny mid with a large depth needs level sizes above the cap: numpy's overflow warning
    refused(lambda: OrderBook.from_depth(1e-300, 1e15, tick=1e-302), "depth_1pct")
    # asks reach up to 2 mid: a mid above half the cap would price them beyond it
    refused(lambda: OrderBook.from_depth(0.9 * CAP, 1e6, tick=1e11), "mid")


def test_from_depth_with_a_tick_above_2_builds_without_dividing_by_zero():
    # 1 / tick rounds to 0: the "exact decimal prices" branch divided by it
    bk = quiet(lambda: OrderBook.from_depth(1e12, 1e15, tick=1e10, book_range=0.5))
    bids, _ = bk.bids()
    assert bids[0] == 1e12 - 1e10 and np.all(np.diff(bids) == -1e10)


def test_tiers_with_tiny_sizes_do_not_overflow():
    pos = Positions.from_arrays([1, -1], [1e-310, 1.0], [100.0, 100.0], [10.0, 10.0], 0.005)
    tiered = quiet(lambda: pos.with_tiers(BINANCE_STYLE_TIERS))
    assert tiered.mmr[0] == 0.004 and tiered.maint_amount[0] == 0.0


SIZES = st.one_of(st.floats(1e-300, CAP / 8), st.sampled_from([5e-324, 1e-15, 1.0, CAP / 8]))
PRICES = st.one_of(st.floats(1e-300, CAP / 4), st.sampled_from([1e-300, 1e-9, 1.0, CAP / 4]))


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(sizes=st.lists(SIZES, min_size=4, max_size=4), entry=PRICES,
       levs=st.lists(st.floats(1, CAP), min_size=4, max_size=4), bid=PRICES,
       book_sizes=st.lists(SIZES, min_size=3, max_size=3), shock=st.floats(0.001, 0.999),
       tiers=st.booleans(),
       mechanism=st.sampled_from([{}, dict(partial="fraction"), dict(dynamic_margin=1.0),
                                  dict(adl=True), dict(resilience=0.5, refill_at="levels"),
                                  dict(withdrawal=1.0), dict(insurance_fund=CAP),
                                  dict(liquidation_fee=0.01)]))
def test_any_market_within_the_cap_is_refused_in_words_or_runs_quietly(
        sizes, entry, levs, bid, book_sizes, shock, tiers, mechanism):
    def build():
        pos = Positions.from_arrays([1, -1, 1, 1], sizes, entry, levs,
                                    [min(0.005, 0.99 / lev) for lev in levs])
        if tiers:
            pos = pos.with_tiers(BINANCE_STYLE_TIERS)
        prices = bid * np.array([1.0, 0.9, 0.5])
        bk = OrderBook.from_levels(prices, book_sizes, [bid * 1.1], [book_sizes[0]])
        return Cascade(pos, bk, shock, **mechanism)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            cascade = build()
        except ValueError as err:
            assert "must" in str(err)
            cascade = None
        if cascade is not None:
            history = cascade.run()
            assert all(math.isfinite(r.price_after) for r in history)
    assert not caught, [f"{w.category.__name__}: {w.message}" for w in caught]


# ------------------------------------------------------------------------------- item 4
@pytest.mark.parametrize("mix,name", [
    (((True, 1),), "leverage_mix leverage"),          # today: every position 1x
    (((np.True_, 1),), "leverage_mix leverage"),
    (((10, False), (20, 1)), "leverage_mix weight"),
    ((("10", "1"),), "leverage_mix leverage"),        # today: accepted as 10x
    (((10, "1"),), "leverage_mix weight"),
    (("10:1",), "leverage_mix"),
    ("10", "leverage_mix"),
])
def test_leverage_mix_takes_real_numbers_only(mix, name):
    refused(lambda: Positions.generate(10, 100.0, leverage_mix=mix, seed=1), name)


@pytest.mark.parametrize("brackets,name", [
    (((0, "0.004"),), "mmr_tiers rate 0"),            # today: accepted
    ((("0", 0.004),), "mmr_tiers floor 0"),
    (((False, 0.004),), "mmr_tiers floor 0"),
    (((0, 0.004), (50_000, True)), "mmr_tiers rate 1"),
    (((0, 0.004), {50_000: 0.005}), "mmr_tiers"),
    (((0, 0.004), (1e308, 0.005)), "mmr_tiers floor 1"),
])
def test_tiers_take_real_numbers_only(brackets, name):
    refused(lambda: MarginTiers(brackets), name)


@pytest.mark.parametrize("change,name", [
    (dict(size=["1"], entry=["100"], leverage=["10"]), "size"),   # today: accepted
    (dict(entry=["100"]), "entry"),
    (dict(leverage=np.array(["10"])), "leverage"),
    (dict(mmr="0.005"), "mmr"),
    (dict(size=True), "size"),                                   # today: a size of 1
    (dict(size=[True]), "size"),
    (dict(size=[1.0, True]), "size"),                            # numpy hides it in a float array
    (dict(size=np.array([True, True])), "size"),
    (dict(side=True), "side"),                                   # today: a long
    (dict(side=[np.False_]), "side"),
    (dict(size=[1 + 2j]), "size"),
    (dict(size=[None]), "size"),
])
def test_positions_take_real_numbers_only(change, name):
    args = dict(side=1, size=[1.0], entry=[100.0], leverage=[10.0], mmr=0.005)
    refused(lambda: Positions.from_arrays(**{**args, **change}), name)


def test_order_book_takes_real_numbers_only():
    refused(lambda: OrderBook.from_levels(["99", "98"], [1, 1]), "bid_prices")  # today: accepted
    refused(lambda: OrderBook.from_levels([99, 98], [True, 1]), "bid_sizes")
    refused(lambda: OrderBook.from_levels([99, 98], [1, 1], [101], np.array([True])), "ask_sizes")
    refused(lambda: book().market_sell(np.True_), "qty")
    refused(lambda: book().refill("bid", "1"), "qty")


def test_numpy_numbers_and_the_side_words_are_accepted():
    pos = Positions.from_arrays(np.array([1, -1], dtype=np.int8), np.float32(2.0),
                                np.array([100, 100], dtype=np.int64), np.int16(10),
                                np.float64(0.005))
    np.testing.assert_array_equal(pos.size, [2.0, 2.0])
    same = Positions.from_arrays(["long", "short"], 2, 100, 10, 0.005)
    np.testing.assert_array_equal(same.liquidation_price, pos.liquidation_price)
    assert liquidation_price(np.int64(100), np.float32(10), 0.0, side=-1) == pytest.approx(110)
    levs, weights = check_leverage_mix(((np.int64(10), np.float32(1)), (20, 3)), 0.005)
    np.testing.assert_allclose(weights, [0.25, 0.75])
    fill = book().market_sell(np.int64(6))
    assert fill.filled == 6.0 and fill.last_price == 98.0
    assert MarginTiers(((np.int64(0), np.float64(0.004)),)).brackets == ((0.0, 0.004),)


# ------------------------------------------------------------------------------- item 6
@pytest.mark.parametrize("call,name", [
    (lambda: Positions.from_arrays([1, 1, 1], [[1], [1, 2], 3], 100, 10, 0.005), "size"),
    (lambda: Positions.from_arrays([[1], [1, -1]], 1, 100, 10, 0.005), "side"),
    (lambda: OrderBook.from_levels([[99], [98, 97]], [1, 1]), "bid_prices"),
    (lambda: OrderBook.from_levels([99, 98], [1, [1, 2]]), "bid_sizes"),
    (lambda: liquidation_price([[100], [100, 90]], 10, 0.005), "entry"),
    (lambda: liquidation_price(100, 10, [0.005, [0.01]]), "mmr"),
    (lambda: bankruptcy_price(100, [[10], [10, 5]]), "leverage"),
])
def test_ragged_arrays_are_named_in_our_words(call, name):
    # today: numpy's "setting an array element with a sequence ... inhomogeneous shape"
    msg = refused(call, name)
    assert "ragged" in msg and "array" in msg


def test_a_2d_array_where_a_flat_one_is_asked_for_is_named():
    msg = refused(lambda: Positions.from_arrays(1, [[1.0, 2.0]], 100, 10, 0.005), "size")
    assert "flat array" in msg and "(1, 2)" in msg


def test_the_odd_length_out_is_blamed():
    msg = refused(lambda: Positions.from_arrays([], [1.0, 2.0], [100.0, 100.0], 10, 0.005),
                  "side")
    assert msg.startswith("side must have the same length")


# ------------------------------------------------------------------------------- item 7
def test_numpy_numbers_are_answers():
    ex = Exercise("Price?", 41_230)
    assert ex.check(np.int64(41230)).correct      # today: "expected a number, got int64"
    assert Exercise("Price?", 41_230).check(np.float32(41230.0)).correct
    assert parse_number(np.uint16(7)) == 7.0
    refusal = Exercise("Price?", 41_230).check(np.True_)
    assert refusal.malformed and not refusal.correct


@pytest.mark.parametrize("text", ["4\u0661230", "\u0664\u0661\u06622\u0663\u0660",
                                  "41,\u0662\u0663\u0660", "\uff14\uff11230"])
def test_digits_of_mixed_scripts_are_not_read(text):
    ex = Exercise("Price?", 41_230)
    fb = ex.check(text)                              # today: read as 41230, "Right"
    assert fb.malformed and not fb.correct and fb.message.startswith("Not read:")
    assert "mixes digits" in fb.message and ex.attempts == 0


@pytest.mark.parametrize("text", ["\u0664\u0661\u0662\u0663\u0660",
                                  "\uff14\uff11\uff12\uff13\uff10",
                                  "\u096a\u0967\u0968\u0969\u0966"])
def test_digits_of_one_script_are_read(text):
    # Arabic-Indic, full-width and Devanagari digits, each alone: a student's own way of writing
    assert Exercise("Price?", 41_230).check(text).correct


def test_answers_beyond_the_cap_are_not_read():
    for answer in (1e308, "1e308", -1e16, 10**400):
        fb = Exercise("Price?", 41_230).check(answer)
        assert fb.malformed and "too big" in fb.message


# ------------------------------------------------------------------------------- the sweep
HOSTILE = {
    "nan": float("nan"), "inf": float("inf"), "-inf": float("-inf"), "1e308": 1e308,
    "-1e308": -1e308, "True": True, "False": False, "'1'": "1", "''": "", "[]": [],
    "ragged": [[1], [1, 2]], "None": None, "object": object(), "dict": {},
}

_POS = dict(side=[1, -1], size=[1.0, 2.0], entry=[100.0, 100.0], leverage=[10.0, 5.0], mmr=0.005)
_LEVELS = dict(bid_prices=[99.0, 98.0], bid_sizes=[5.0, 5.0], ask_prices=[101.0],
               ask_sizes=[5.0], tick=1.0)
_DEPTH = dict(mid=100.0, depth_1pct=1e5, shape="flat", tick=0.01, book_range=0.5, levels=None)
_CASCADE = dict(shock=0.05, direction="down", resilience=0.0, insurance_fund=0.0,
                liquidation_fee=None, max_rounds=100, breaker=None, recovery=0.5,
                call_auction=False, refill_at="touch", withdrawal=0.0, partial=None,
                partial_fraction=0.25, dynamic_margin=0.0, dynamic_window=2, adl=False)
_GENERATE = dict(long_share=0.5, mmr=0.005, entry_spread=0.1, notional=1e6, size_sigma=1.0,
                 min_distance=1e-6, seed=1, rng=None, tiers=None)
_EXERCISE = dict(tolerance=0.005, abs_tolerance=0.0, hints=(), reveal_after=3, unit="")


_BOOK_CALLS = {
    "market_sell": lambda b, v: b.market_sell(v), "market_buy": lambda b, v: b.market_buy(v),
    "sell_through": lambda b, v: b.sell_through(v), "buy_through": lambda b, v: b.buy_through(v),
    "bid_depth": lambda b, v: b.bid_depth(v), "ask_depth": lambda b, v: b.ask_depth(v),
    "units_left": lambda b, v: b.units_left(v),
    "refill side": lambda b, v: b.refill(v, 1.0), "refill qty": lambda b, v: b.refill("bid", v),
    "refill at": lambda b, v: b.refill("bid", 1.0, at=v),
    "withdraw side": lambda b, v: b.withdraw(v, 0.5, 95.0),
    "withdraw fraction": lambda b, v: b.withdraw("bid", v, 95.0),
    "withdraw within": lambda b, v: b.withdraw("bid", 0.5, v),
}
_POSITIONS_CALLS = {
    "with_tiers": lambda p, v: p.with_tiers(v), "equity": lambda p, v: p.equity(v),
    "open_interest open_mask": lambda p, v: p.open_interest(open_mask=v),
    "open_interest price": lambda p, v: p.open_interest(price=v),
    "liquidation_map bins": lambda p, v: p.liquidation_map(bins=v),
    "liquidation_map price_range": lambda p, v: p.liquidation_map(price_range=v),
    "liquidation_map open_mask": lambda p, v: p.liquidation_map(open_mask=v),
    "tiers.bracket": lambda p, v: BINANCE_STYLE_TIERS.bracket(v),
    "tiers.requirement": lambda p, v: BINANCE_STYLE_TIERS.requirement(v),
}


def call_with(entry: str, param: str, v):
    """A call of the public entry point ``entry`` with ``v`` for ``param``, the rest valid."""
    if entry == "Positions.from_arrays":
        return lambda: Positions.from_arrays(**{**_POS, param: v})
    if entry == "liquidation_price":
        args = {**dict(entry=100.0, leverage=10.0, mmr=0.005, side="long"), param: v}
        return lambda: liquidation_price(**args)
    if entry == "bankruptcy_price":
        args = {**dict(entry=100.0, leverage=10.0, side="short"), param: v}
        return lambda: bankruptcy_price(**args)
    if entry == "Positions.generate":
        if param in ("n", "price"):
            args = {**dict(n=20, price=100.0), param: v}
            return lambda: Positions.generate(args["n"], args["price"], seed=1)
        if param == "leverage_mix leverage":
            return lambda: Positions.generate(20, 100.0, leverage_mix=((v, 1.0),), seed=1)
        if param == "leverage_mix weight":
            return lambda: Positions.generate(20, 100.0, leverage_mix=((10, 1.0), (5, v)), seed=1)
        return lambda: Positions.generate(20, 100.0, **{**_GENERATE, param: v})
    if entry == "OrderBook.from_levels":
        return lambda: OrderBook.from_levels(**{**_LEVELS, param: v})
    if entry == "OrderBook.from_depth":
        return lambda: OrderBook.from_depth(**{**_DEPTH, param: v})
    if entry == "OrderBook":
        return lambda: _BOOK_CALLS[param](book(), v)
    if entry == "MarginTiers":
        brackets = {"brackets": v, "floor 1": ((0, 0.004), (v, 0.005)), "rate 0": ((0, v),)}
        return lambda: MarginTiers(brackets[param])
    if entry == "Positions":
        return lambda: _POSITIONS_CALLS[param](positions(), v)
    if entry == "Exercise":
        if param in ("question", "answer"):
            args = {**dict(question="Price?", answer=41_230.0), param: v}
            return lambda: Exercise(args["question"], args["answer"])
        return lambda: Exercise("Price?", 41_230.0, **{**_EXERCISE, param: v})
    assert entry == "Cascade"
    if param in ("positions", "book"):
        args = {**dict(positions=positions(), book=book()), param: v}
        return lambda: Cascade(args["positions"], args["book"])
    return lambda: Cascade(positions(), book(), **{**_CASCADE, param: v})


_OWN_NAMES = {"market_sell": "qty", "market_buy": "qty", "sell_through": "limit",
              "buy_through": "limit", "bid_depth": "to_price", "ask_depth": "to_price",
              "units_left": "side", "with_tiers": "tiers", "equity": "price",
              "tiers.bracket": "notional", "tiers.requirement": "notional",
              "brackets": "mmr_tiers", "floor 1": "mmr_tiers", "rate 0": "mmr_tiers"}

# Hostile values that are valid at one parameter, and why:
_VALID = {
    # vectorised: an empty array in gives an empty array out
    **{("liquidation_price", k): {"[]"} for k in ("entry", "leverage", "mmr", "side")},
    **{("bankruptcy_price", k): {"[]"} for k in ("entry", "leverage", "side")},
    # optional: None means "draw a seed" / "no tiers"; "no tick"; "use book_range"
    **{("Positions.generate", k): {"None"} for k in ("seed", "rng", "tiers")},
    ("OrderBook.from_levels", "tick"): {"None"}, ("OrderBook.from_depth", "levels"): {"None"},
    # a limit price is compared, never summed: 1e308 is a valid "take everything" threshold;
    # no to_price means the whole side
    **{("OrderBook", k): {"1e308"} for k in ("sell_through", "buy_through", "withdraw within")},
    **{("OrderBook", k): {"1e308", "None"} for k in ("bid_depth", "ask_depth")},
    # a lookup sums nothing: a huge notional falls in the top bracket; empty in, empty out
    **{("Positions", k): {"1e308", "[]"} for k in ("tiers.bracket", "tiers.requirement")},
    # no mask, no price, no range: all positions, units, the whole range
    **{("Positions", k): {"None"} for k in ("open_interest open_mask", "open_interest price",
                                            "liquidation_map price_range",
                                            "liquidation_map open_mask")},
    # a question may be any non-empty text, a unit any text; no hints is fine
    ("Exercise", "question"): {"'1'"}, ("Exercise", "unit"): {"'1'", "''"},
    ("Exercise", "hints"): {"[]"},
    # the fee, the breaker and partial closes are optional; call_auction and adl are switches
    **{("Cascade", k): {"None"} for k in ("liquidation_fee", "breaker", "partial")},
    **{("Cascade", k): {"True", "False"} for k in ("call_auction", "adl")},
}

ENTRIES = [
    *[("Positions.from_arrays", k) for k in _POS],
    *[("liquidation_price", k) for k in ("entry", "leverage", "mmr", "side")],
    *[("bankruptcy_price", k) for k in ("entry", "leverage", "side")],
    *[("Positions.generate", k) for k in ("n", "price", *_GENERATE, "leverage_mix",
                                          "leverage_mix leverage", "leverage_mix weight")],
    *[("OrderBook.from_levels", k) for k in _LEVELS],
    *[("OrderBook.from_depth", k) for k in _DEPTH],
    *[("OrderBook", k) for k in _BOOK_CALLS],
    *[("MarginTiers", k) for k in ("brackets", "floor 1", "rate 0")],
    *[("Positions", k) for k in _POSITIONS_CALLS],
    *[("Exercise", k) for k in ("question", "answer", *_EXERCISE)],
    *[("Cascade", k) for k in ("positions", "book", *_CASCADE)],
]


def _names(entry, param):
    """The names a refusal of ``param`` may give: its own (an inner pair's is its list's)."""
    method = entry in ("OrderBook", "Positions")  # "refill qty": the method's qty
    name = _OWN_NAMES.get(param, param.split()[-1] if method else param)
    names = [name, name.split()[0]]
    if entry == "OrderBook.from_levels":  # a length mismatch names both arrays of a side
        names.append(param.replace("sizes", "prices"))
    return names


@pytest.mark.parametrize("value_id", list(HOSTILE))
@pytest.mark.parametrize("entry,param", ENTRIES, ids=[f"{e} {p}" for e, p in ENTRIES])
def test_every_core_entry_point_refuses_hostile_values_in_words(entry, param, value_id):
    call = call_with(entry, param, HOSTILE[value_id])
    if value_id in _VALID.get((entry, param), ()):
        quiet(call)
    else:
        refused(call, *_names(entry, param))


@pytest.mark.parametrize("value_id", list(HOSTILE))
def test_exercise_check_answers_hostile_values_with_feedback(value_id):
    ex = Exercise("Price?", 41_230)
    fb = quiet(lambda: ex.check(HOSTILE[value_id]))
    if value_id == "'1'":  # a number, only a wrong one
        assert not fb.malformed and not fb.correct and ex.attempts == 1
    else:
        assert fb.malformed and fb.message.startswith("Not read:") and ex.attempts == 0


ANYTHING = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=5),
              st.complex_numbers(), st.sampled_from([np.True_, np.int64(3), np.float32(2.5)])),
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.tuples(inner, inner),
                            st.dictionaries(st.text(max_size=2), inner, max_size=2)),
    max_leaves=8)


@settings(max_examples=300, deadline=None)
@given(value=ANYTHING, param=st.sampled_from(list(_POS)))
def test_positions_answer_anything_with_our_words_or_a_valid_market(value, param):
    def build():
        try:
            return Positions.from_arrays(**{**_POS, param: value})
        except ValueError as err:
            assert param in str(err) and "must" in str(err), str(err)
            return None
    pos = quiet(build)
    if pos is not None:  # then every field is a finite real within the cap
        for field in ("size", "entry", "leverage", "mmr", "liquidation_price"):
            arr = getattr(pos, field)
            assert arr.dtype == np.float64 and np.all(np.isfinite(arr)) and len(arr) == 2


@settings(max_examples=300, deadline=None)
@given(value=ANYTHING)
def test_an_order_book_answers_anything_with_our_words_or_is_built(value):
    def build():
        try:
            return OrderBook.from_levels([99.0, 98.0], value)
        except ValueError as err:
            assert "bid_sizes" in str(err) and "must" in str(err), str(err)
            return None
    bk = quiet(build)
    if bk is not None:
        assert 0 <= bk.bid_depth() <= CAP


@settings(max_examples=500, deadline=None)
@given(text=st.one_of(st.text(), st.from_regex(r"[+-]?[\d,.]{1,12}(e[+-]?\d{1,4})?[%kKmM]?")))
def test_exercise_check_never_raises_and_reads_only_ordinary_numbers(text):
    ex = Exercise("Price?", 41_230)
    fb = quiet(lambda: ex.check(text))
    if fb.malformed:
        assert fb.message.startswith("Not read:") and ex.attempts == 0
    else:
        value = parse_number(text)
        assert math.isfinite(value) and abs(value) <= CAP and ex.attempts == 1
        assert len({ord(c) - int(c) for c in text if c.isdecimal()}) <= 1  # one script


@pytest.mark.parametrize("value_id", list(HOSTILE))
def test_exercise_show_refuses_what_is_not_a_number(value_id):
    refused(lambda: Exercise("Price?", 41_230, unit="USD").show(HOSTILE[value_id]), "value")


@pytest.mark.parametrize("call,name", [
    (lambda: Positions.generate(10**400, 100.0, seed=1), "n"),
    (lambda: Positions.generate(20, 10**5000, seed=1), "price"),
    (lambda: Positions.from_arrays(1, [10**400], 100.0, 10.0, 0.005), "size"),
    (lambda: Cascade(positions(), book(), max_rounds=-10**5000), "max_rounds"),
    (lambda: book().market_sell(10**20), "qty"),
])
def test_whole_numbers_too_big_for_a_float_are_refused_without_spelling_them_out(call, name):
    # Python will not even print an int of more than 4,300 digits
    msg = refused(call, name)
    assert len(msg) < 200 and "00000000000000000" not in msg
