"""The backstop vault, as Hyperliquid documents it (issue 12, item 2): market orders, and a
liquidator vault that takes over positions below two thirds of their maintenance margin
(marginloops/mechanisms/liquidation_orders, liquidation_orders="backstop")."""

import pytest
from hypothesis import given
from test_liquidation_orders import hand_market, limits_market
from test_properties import FAST, markets

from marginloops import PRESETS, Cascade, Scenario
from marginloops.narration import narrate, narrate_history


def test_a_hand_worked_round_the_vault_takes_over_below_two_thirds():
    pos, book = limits_market()
    cas = Cascade(pos, book, shock=0.04, insurance_fund=10.0, liquidation_orders="backstop",
                  fund_unwind=0.5)
    hist = cas.run()
    assert hist[0].price_after == 96 and hist[0].pending == 3
    r = hist[1]
    # At the check price 96 (entry 100):
    # P: margin 3 x 100 / 20 = 15, equity 15 - 3 x 4 = 3; maintenance 2% x 3 x 96 = 5.76,
    #    two thirds 3.84 > 3: the vault takes P over (3 units at B = 95, worth 3 x (96 - 95)).
    # R: margin 16, equity 16 - 8 = 8; maintenance 5% x 2 x 96 = 9.6, two thirds 6.4 <= 8.
    # T: margin 20, equity 12; maintenance 7% x 2 x 96 = 13.44, two thirds 8.96 <= 12.
    # R and T: one market sell of 4 units: 95, 93 x2, 91: average 93, last 91.
    assert r.backstop and r.n_backstop == 1 and r.backstop_qty == 3
    assert r.fund_took_qty == 3 and r.fund_took_price == 95
    assert r.qty_liquidated == 4 and r.filled_qty == 4
    assert r.avg_fill_price == pytest.approx(93.0) and r.last_fill_price == 91
    # Money: R brings 2 x (93 - 92) = 2, T 2 x (93 - 90) = 6: to_fund 8. The vault's 3 units
    # taken at 95 are worth 91 now: -12. So 10 + 8 - 12 = 6.
    assert r.to_fund == pytest.approx(8.0) and r.fund_inventory_pnl == pytest.approx(-12.0)
    assert r.insurance_fund == pytest.approx(6.0) and r.n_closed == 3
    # Rounds 2 and 3: the vault sells 1.5 units at 90 each (its 3 units marked from 91 to 90:
    # -3 in round 2); it ends with 3: 10 + 8 - (285 - 270).
    assert [x.fund_sold_qty for x in hist[2:]] == [1.5, 1.5]
    assert hist[2].fund_inventory_pnl == pytest.approx(-3.0)
    assert hist[-1].insurance_fund == pytest.approx(3.0) and hist[-1].fund_inventory == 0
    assert hist[-1].end_reason == "fixed_point" and len(hist) == 4
    text = narrate(r)
    assert ("The liquidator vault took over 1 position whose equity was below the backstop "
            "threshold" in text)
    assert "3 units, with their margin, off the book at 95.00" in text
    assert narrate(hist[2]).startswith("Round 2: nobody is liquidated; the liquidator vault "
                                       "sells 1.5 units")


def test_the_threshold_decides_who_goes_to_the_vault():
    pos, book = limits_market()
    # at 0 nobody (no caught position has negative equity here): all 7 units at market
    r = Cascade(pos, book, shock=0.04, insurance_fund=10.0, liquidation_orders="backstop",
                backstop_threshold=0.0).run()[1]
    assert r.n_backstop == 0 and r.filled_qty == 7 and r.fund_took_qty == 0
    # at 0.9: R (8 < 8.64) and T (12 < 12.096) too: everything to the vault, nothing traded
    r = Cascade(pos, book, shock=0.04, insurance_fund=10.0, liquidation_orders="backstop",
                backstop_threshold=0.9).run()[1]
    assert r.n_backstop == 3 and r.backstop_qty == 7 and r.filled_qty == 0
    assert r.price_after == 96 and r.fund_took_price == pytest.approx((285 + 184 + 180) / 7)
    # the trader keeps nothing; the vault holds 7 units worth their equity 3 + 8 + 12 at 96
    assert r.to_fund == 0 and r.fund_inventory_pnl == pytest.approx(23.0)


def test_past_the_vaults_capital_bankrupt_positions_are_auto_deleveraged():
    # hand_market with G at 25x: B = 96, bankrupt at the check price 95 (equity -1); with an
    # empty vault and ADL on, G is matched against the short S at 96 first. H: margin 40,
    # equity 15 < two thirds of 5% x 5 x 95 = 15.83: the vault takes it. J: margin 10,
    # equity 5 >= two thirds of 6% x 95 = 3.8: a market sell of 1 unit at 94.
    from marginloops import OrderBook, Positions
    book = OrderBook.from_levels([100, 95, 94, 93, 92, 90], [1, 1, 2, 2, 1, 10], [101], [5])
    pos = Positions.from_arrays([1, 1, 1, -1], [1.0, 5.0, 1.0, 2.0], [100.0] * 3 + [110.0],
                                [25.0, 12.5, 10.0, 2.0], [0.01, 0.05, 0.06, 0.01])
    r = Cascade(pos, book, shock=0.05, insurance_fund=0.0, liquidation_orders="backstop",
                adl=True).run()[1]
    assert r.n_adl == 1 and r.adl_qty == 1 and r.adl_price == 96
    assert r.n_backstop == 1 and r.backstop_qty == 5 and r.fund_took_price == 92
    assert r.filled_qty == 1 and r.avg_fill_price == 94
    # J brings 94 - 90 = 4; H's 5 units, taken at 92, are worth 94 - ... at the new price 94:
    # 5 x (94 - 92) = 10 to the vault.
    assert r.to_fund == pytest.approx(4.0) and r.fund_inventory_pnl == pytest.approx(10.0)
    # without ADL the vault (the fund) takes G's loss on top: G goes to the vault too (its
    # equity -1 is below two thirds of maintenance), taken at 96
    r = Cascade(pos, book, shock=0.05, insurance_fund=0.0, liquidation_orders="backstop"
                ).run()[1]
    assert r.n_backstop == 2 and r.backstop_qty == 6 and r.n_adl == 0


def test_bad_values_are_refused_by_name():
    with pytest.raises(ValueError, match="backstop_threshold"):
        Scenario(backstop_threshold=1.5)
    with pytest.raises(ValueError, match="backstop"):
        Scenario(liquidation_orders="vault")
    assert Scenario(liquidation_orders="backstop").liquidation_orders == "backstop"


@pytest.mark.parametrize("preset", ["crowded-longs", "short-squeeze", "thin-book"])
def test_presets_with_a_backstop_vault(preset):
    sc = PRESETS[preset].replace(liquidation_orders="backstop")
    cas = sc.cascade()
    hist = cas.run()
    check(cas, hist)
    assert sum(r.n_backstop for r in hist) > 0
    lines = narrate_history(hist)
    assert any("liquidator vault took over" in x for x in lines)
    assert "liquidator vault" in lines[-1] or hist[-1].fund_inventory == 0


def check(cas, hist):
    """No position closed twice, the vault's inventory is what it took less what it sold,
    bad debt only with an empty vault, every record says the mode, and reset replays it."""
    rounds = cas.liquidated_round
    assert (rounds >= 0).sum() == sum(r.n_closed for r in hist)
    took = sum(r.fund_took_qty for r in hist)
    sold = sum(r.fund_sold_qty for r in hist)
    assert sold <= took * (1 + 1e-9) + 1e-9
    assert hist[-1].fund_inventory == pytest.approx(took - sold, abs=1e-6 * (1 + took))
    for r in hist:
        assert r.backstop
        assert r.backstop_qty <= r.fund_took_qty * (1 + 1e-12) + 1e-12
        assert r.fund_gap_qty == 0  # no limit orders in this mode
        if r.bad_debt_round > 0:
            assert r.insurance_fund == 0
    cas.reset()
    assert cas.run() == hist


@FAST
@given(markets())
def test_backstop_invariants(market):
    pos, book, kwargs = market
    kwargs = dict(kwargs, liquidation_orders="backstop")
    cas = Cascade(pos, book, **kwargs)
    hist = cas.run()
    assert hist[-1].end_reason is not None and len(hist) <= kwargs["max_rounds"] + 1
    check(cas, hist)


@FAST
@given(markets())
def test_a_vault_that_lasts_leaves_no_bad_debt_from_its_takeovers(market):
    """With a vault too large to run out, nothing is ever bad debt."""
    pos, book, kwargs = market
    kwargs = dict(kwargs, liquidation_orders="backstop", insurance_fund=1e12)
    hist = Cascade(pos, book, **kwargs).run()
    assert all(r.bad_debt_round == 0 for r in hist)


def test_market_orders_unchanged_and_bankruptcy_mode_says_no_vault():
    pos, book = hand_market()
    a = Cascade(pos, book, shock=0.05).run()
    assert not any(r.backstop or r.n_backstop for r in a)
    b = Cascade(pos, book, shock=0.05, liquidation_orders="bankruptcy").run()
    assert not any(r.backstop for r in b) and "vault" not in " ".join(narrate_history(b))
