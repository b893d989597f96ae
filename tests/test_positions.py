"""Liquidation and bankruptcy prices against documented exchange formulas and hand-worked cases."""

import numpy as np
import pytest

from marginloops import Positions, bankruptcy_price, liquidation_price


def binance_isolated_lp(wallet, cum, side, qty, entry, mmr):
    """Binance's documented USDⓈ-M liquidation price with TMM = UPNL = 0 (isolated mode).

    LP = (WB + cum - side * qty * EP) / (qty * MMR - side * qty)
    https://www.binance.com/en/support/faq/how-to-calculate-liquidation-price-of-usd%E2%93%A2-m-futures-contracts-b3c689c1f50a44cabb3a84e663b81d93
    """
    return (wallet + cum - side * qty * entry) / (qty * mmr - side * qty)


@pytest.mark.parametrize("side", [1, -1])
@pytest.mark.parametrize("entry,lev,mmr,qty", [(20_000, 50, 0.005, 1.0), (65_000, 10, 0.004, 0.1),
                                               (3_000, 8, 0.01, 2.5), (100, 1, 0.0, 7.0)])
def test_liquidation_price_matches_binance_isolated_formula(side, entry, lev, mmr, qty):
    # Isolated wallet balance is the initial margin q E / L; no maintenance amount (cum = 0).
    expected = binance_isolated_lp(qty * entry / lev, 0.0, side, qty, entry, mmr)
    got = liquidation_price(entry, lev, mmr, "long" if side > 0 else "short")
    assert got == pytest.approx(expected, rel=1e-12)


def test_bybit_documented_example_and_its_convention():
    # https://www.bybit.com/en/help-center/article/Liquidation-Price-USDT-Contract
    # "long entry of 1 BTC at 20,000 USDT with 50x leverage, MMR 0.5%": IM = 400, MM = 100,
    # LP = 20,000 - (400 - 100) = 19,700. Bybit values the maintenance margin at the entry price;
    # we (like Binance) value it at the liquidation price. By hand the two differ by
    # E m (m - 1/L) / (1 - m) = 20,000 * 0.005 * (0.005 - 0.02) / 0.995 = -1.50754 USDT.
    ours = liquidation_price(20_000, 50, 0.005)
    assert ours == pytest.approx(19_700 - 1.5075376884, abs=1e-6)
    # Without maintenance margin both conventions agree exactly with the bankruptcy price:
    # the position is closed at 0% margin, 20,000 - 400 = 19,600.
    assert liquidation_price(20_000, 50, 0.0) == pytest.approx(19_600)
    assert bankruptcy_price(20_000, 50) == pytest.approx(19_600)


def test_hand_worked_prices():
    # Long 10x at 10,000, m = 0.5%: 10,000 * 0.9 / 0.995 = 9,045.2261...
    assert liquidation_price(10_000, 10, 0.005) == pytest.approx(9045.226130653266)
    # Short 10x at 10,000, m = 0.5%: 10,000 * 1.1 / 1.005 = 10,945.2736...
    assert liquidation_price(10_000, 10, 0.005, side="short") == pytest.approx(10945.273631840796)
    assert bankruptcy_price(10_000, 10, side="short") == pytest.approx(11_000)
    # 1x long can only be liquidated at zero
    assert liquidation_price(50, 1, 0.0) == 0.0


def test_equity_equals_maintenance_at_liquidation_price():
    entry = np.array([100.0, 250.0, 80.0, 1234.5])
    lev = np.array([3.0, 20.0, 100.0, 7.5])
    mmr = np.array([0.01, 0.02, 0.005, 0.0])
    side = np.array([1, -1, 1, -1])
    pos = Positions.from_arrays(side, [1.0, 2.0, 3.0, 0.5], entry, lev, mmr)
    p = pos.liquidation_price
    equity = pos.margin + side * pos.size * (p - entry)
    np.testing.assert_allclose(equity, mmr * pos.size * p, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(pos.equity(pos.bankruptcy_price), 0.0, atol=1e-9)


def test_vectorised_over_arrays_and_sides():
    got = liquidation_price([100, 100], [10, 10], 0.005, side=[1, -1])
    np.testing.assert_allclose(got, [100 * 0.9 / 0.995, 100 * 1.1 / 1.005])
    assert isinstance(liquidation_price(100, 10, 0.005), float)


@pytest.mark.parametrize("args,kwargs,needle", [
    ((100, 0.5, 0.0), {}, "leverage must be >= 1, got 0.5"),
    ((100, 10, 0.1), {}, "mmr must be in [0, 1/leverage)"),
    ((100, 10, -0.01), {}, "mmr must be >= 0"),
    ((float("nan"), 10, 0.0), {}, "entry must contain finite numbers only"),
    ((-5, 10, 0.0), {}, "entry must be > 0, got -5"),
    ((100, 10, 0.0), {"side": "sideways"}, "side must be 'long' or 'short'"),
    ((100, 10, 0.0), {"side": 2}, "side must be +1 (long) or -1 (short), got 2"),
])
def test_bad_input_is_named(args, kwargs, needle):
    with pytest.raises(ValueError) as err:
        liquidation_price(*args, **kwargs)
    assert needle in str(err.value)


def test_from_arrays_rejects_bad_input():
    ok = dict(side=[1, -1], size=[1.0, 2.0], entry=[100.0, 100.0], leverage=[5, 5], mmr=0.01)
    Positions.from_arrays(**ok)
    for change, needle in [({"size": [1.0, -2.0]}, "size must be > 0, got -2 at index 1"),
                           ({"size": [1.0, 0.0]}, "size must be > 0, got 0 at index 1"),
                           ({"entry": [100.0]}, "entry must have the same length"),
                           ({"leverage": [5, np.nan]}, "leverage must contain finite numbers"),
                           ({"mmr": 0.5}, "mmr must be in [0, 1/leverage)"),
                           ({"side": [1, 0]}, "side must be +1 (long) or -1 (short), got 0")]:
        with pytest.raises(ValueError, match=".*") as err:
            Positions.from_arrays(**{**ok, **change})
        assert needle in str(err.value)


def test_zero_positions_is_a_valid_market():
    pos = Positions.from_arrays([], [], [], [], [])
    assert len(pos) == 0 and pos.open_interest() == 0.0


def test_positions_are_read_only():
    pos = Positions.from_arrays([1], [1.0], [100.0], [10.0], [0.005])
    with pytest.raises(ValueError):
        pos.size[0] = 2.0


def test_generate_is_seeded_solvent_and_sized():
    a = Positions.generate(5000, 100.0, long_share=0.7, notional=1e6, seed=7, min_distance=1e-3)
    b = Positions.generate(5000, 100.0, long_share=0.7, notional=1e6, seed=7, min_distance=1e-3)
    c = Positions.generate(5000, 100.0, long_share=0.7, notional=1e6, seed=8, min_distance=1e-3)
    for name in ("side", "size", "entry", "leverage"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    assert not np.array_equal(a.entry, c.entry)
    assert (a.side > 0).sum() == 3500
    assert a.open_interest(price=100.0) == pytest.approx(1e6)
    longs, shorts = a.side > 0, a.side < 0
    assert (a.liquidation_price[longs] <= 100.0 * (1 - 1e-3)).all()
    assert (a.liquidation_price[shorts] >= 100.0 * (1 + 1e-3)).all()
    assert ((a.entry >= 90.0 - 1e-9) & (a.entry <= 110.0 + 1e-9)).all()
    assert set(np.unique(a.leverage)) <= {2.0, 5.0, 10.0, 25.0, 50.0, 100.0}


def test_generate_follows_leverage_weights():
    pos = Positions.generate(20_000, 100.0, leverage_mix=((2, 3), (50, 1)), seed=1)
    share_50x = (pos.leverage == 50).mean()
    assert 0.23 < share_50x < 0.27  # weight 1/4; sd of the share ~0.003


def test_leverage_mix_must_fit_mmr():
    with pytest.raises(ValueError, match="leverage_mix leverage must be in"):
        Positions.generate(10, 100.0, leverage_mix=((300, 1),), mmr=0.005)


def test_liquidation_map_bins_notional_at_liquidation_price():
    pos = Positions.from_arrays([1, 1, -1], [2.0, 1.0, 4.0], [100.0, 100.0, 100.0],
                                [2.0, 4.0, 4.0], 0.0)
    # liquidation prices: 50 (long), 75 (long), 125 (short)
    edges, longs, shorts = pos.liquidation_map(bins=3, price_range=(40, 130))
    np.testing.assert_allclose(edges, [40, 70, 100, 130])
    np.testing.assert_allclose(longs, [100.0, 75.0, 0.0])
    np.testing.assert_allclose(shorts, [0.0, 0.0, 500.0])
    _, longs_open, _ = pos.liquidation_map(bins=3, price_range=(40, 130),
                                           open_mask=[False, True, True])
    np.testing.assert_allclose(longs_open, [0.0, 75.0, 0.0])


def test_bybit_documented_short_example():
    # https://help.bybit.com/hc/en-us/articles/900000181046-Liquidation-Price-USDT-Contract-
    # "short entry of 1 BTC at 8,000 USDT with 40x leverage ... Liquidation Price =
    # 8,000 USDT * (1 + 2.5% - 0.5%) = 8160". Bybit values maintenance at the entry price; at the
    # liquidation price (our convention) the short's liquidation price is lower by
    # E m (1/L - m) / (1 + m) = 8,000 * 0.005 * 0.02 / 1.005 = 0.79602 USDT.
    assert liquidation_price(8_000, 40, 0.005, side="short") == pytest.approx(
        8_160 - 0.7960199005, abs=1e-6)
    # with no maintenance margin both give the bankruptcy price, 8,000 * (1 + 2.5%) = 8,200
    assert liquidation_price(8_000, 40, 0.0, side="short") == pytest.approx(8_200)
    assert bankruptcy_price(8_000, 40, side="short") == pytest.approx(8_200)


def test_mismatched_lengths_are_named():
    with pytest.raises(ValueError, match="entry, leverage and mmr must have the same length"):
        liquidation_price([100, 200, 300], [10, 20], 0.005)


def test_generate_refuses_impossible_bands_and_accepts_1x():
    with pytest.raises(ValueError, match="min_distance must leave room"):
        Positions.generate(200, 100.0, leverage_mix=((100, 1),), min_distance=0.2,
                           entry_spread=0.05, seed=1)
    one_x = Positions.generate(50, 100.0, leverage_mix=((1, 1),), seed=1)
    assert (one_x.liquidation_price[one_x.side > 0] == 0).all()
