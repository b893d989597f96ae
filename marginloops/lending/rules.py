r"""Aave v3.3's liquidation rules for one collateral coin and one stablecoin debt, vectorised.

Sources (quoted where each rule is applied):

* the contract, ``src/contracts/protocol/libraries/logic/LiquidationLogic.sol`` of
  aave-dao/aave-v3-origin at tag v3.3.0: ``DEFAULT_LIQUIDATION_CLOSE_FACTOR = 0.5e4`` (50%),
  ``CLOSE_FACTOR_HF_THRESHOLD = 0.95e18``, ``MIN_BASE_MAX_CLOSE_FACTOR_THRESHOLD = 2000e8``
  (2,000 USD in the oracle's 8-decimal base currency), ``MIN_LEFTOVER_BASE =
  MIN_BASE_MAX_CLOSE_FACTOR_THRESHOLD / 2`` (1,000 USD), and its functions
  ``executeLiquidationCall`` and ``_calculateAvailableCollateralToLiquidate``;
  ``ValidationLogic.sol``: ``HEALTH_FACTOR_LIQUIDATION_THRESHOLD = 1e18`` (a position can be
  liquidated only while its health factor is below 1);
* the v3.3 release notes, ``docs/3.3/Aave-v3.3-features.md`` (same repository): "Position size
  dependent 100% close factor", "Forced position cleanup" (the dust rule) and "Bad Debt
  Management" (debt left where no collateral is left is burned and booked as a reserve
  deficit);
* Aave's documentation, https://aave.com/docs/developers/liquidations (the health factor,
  "Health Factor = (Total Collateral Value * Weighted Average Liquidation Threshold) / Total
  Borrow Value", with the example 10,000 USD of ETH at an 80% threshold against 6,000 USD of
  GHO: 1.333), and https://docs.aave.com/developers/guides/liquidations (the close factor and
  ``maxAmountOfCollateralToLiquidate = (debtAssetPrice * debtToCover * liquidationBonus) /
  collateralPrice``).

Units: collateral in coins, prices in USD per coin, debt in USD (a stablecoin worth 1 USD).
The contract works in integers (wei, 8-decimal base currency, basis points); this module works
in floats, so its numbers agree with the contract's to rounding, not to the last wei.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._checks import as_float_array, check_array_range, check_number

__all__ = ["CLOSE_FACTOR", "CLOSE_FACTOR_HF_THRESHOLD", "Liquidation", "MIN_BASE_USD",
           "MIN_LEFTOVER_USD", "health_factor", "liquidation_arrays", "liquidation_call"]

#: ``DEFAULT_LIQUIDATION_CLOSE_FACTOR = 0.5e4`` (basis points): the share of the debt one call
#: may repay while the health factor is above :data:`CLOSE_FACTOR_HF_THRESHOLD`.
CLOSE_FACTOR = 0.5
#: ``CLOSE_FACTOR_HF_THRESHOLD = 0.95e18``: "the upper bound on the health factor, below
#: (inclusive) which the full amount of debt becomes liquidatable". The contract tests
#: ``healthFactor > CLOSE_FACTOR_HF_THRESHOLD`` for the 50% regime: at exactly 0.95, 100%.
CLOSE_FACTOR_HF_THRESHOLD = 0.95
#: ``MIN_BASE_MAX_CLOSE_FACTOR_THRESHOLD = 2000e8``: below 2,000 USD of collateral or of debt
#: the close factor is 100% (the contract tests ``>=`` for the 50% regime).
MIN_BASE_USD = 2000.0
#: ``MIN_LEFTOVER_BASE = MIN_BASE_MAX_CLOSE_FACTOR_THRESHOLD / 2``: a call that neither repays
#: all the debt nor takes all the collateral must leave at least 1,000 USD of each.
MIN_LEFTOVER_USD = 1000.0


def _out(x):
    """A 0-d result as a float, an array as it is."""
    return float(x) if np.ndim(x) == 0 else x


def health_factor(collateral, price, liquidation_threshold, debt):
    """``HF = collateral · price · liquidation_threshold / debt``; ``+inf`` where ``debt == 0``.

    Aave's documentation: "Health Factor = (Total Collateral Value * Weighted Average
    Liquidation Threshold) / Total Borrow Value" (one collateral here, so the weighted average
    is its threshold). Its example: 10,000 USD of ETH at an 80% threshold against 6,000 USD of
    debt gives 1.333. A position whose health factor is below 1 can be liquidated.

    Floats or numpy arrays (broadcast together); collateral in coins, price in USD per coin,
    debt in USD.
    """
    c = _array("collateral", collateral, lo=0)
    p = _array("price", price, lo=0, lo_open=True)
    lt = _array("liquidation_threshold", liquidation_threshold, lo=0, hi=1, lo_open=True)
    d = _array("debt", debt, lo=0)
    c, p, lt, d = _together(("collateral", c), ("price", p), ("liquidation_threshold", lt),
                            ("debt", d))
    has_debt = d > 0
    hf = np.full(np.shape(d), np.inf)
    np.divide(c * p * lt, d, out=hf, where=has_debt)
    return _out(hf)


def _array(name, values, **bounds) -> np.ndarray:
    """``values`` (a number or an array of real numbers) as a float array in ``bounds``."""
    arr = np.asarray(as_float_array(name, values, ndim=None))
    check_array_range(name, arr, **bounds)
    return arr


def _together(*named):
    """The arrays broadcast to one shape; a ValueError naming them when they cannot be."""
    try:
        return np.broadcast_arrays(*(a for _, a in named))
    except ValueError:
        shapes = ", ".join(f"{n} {np.shape(a)}" for n, a in named)
        raise ValueError(f"the arrays must have shapes that broadcast together, got {shapes}") \
            from None


@dataclass(frozen=True)
class Liquidation:
    """What one ``liquidationCall`` per account did (arrays, or floats for scalar inputs).

    repaid : debt the liquidator repaid, USD (``debtAmountNeeded`` in the contract)
    seized : collateral taken from the borrower, coins, the protocol's fee included
    to_liquidator : coins the liquidator receives (``seized - protocol_fee``)
    protocol_fee : coins the protocol's treasury keeps (its share of the bonus part)
    health_factor_after : the borrower's health factor after the call (at the same price;
        ``inf`` once no debt is left)
    bad_debt : debt left where all the collateral is gone, USD: burned from the borrower and
        booked as the reserve's deficit (Aave v3.3's bad-debt cleanup)
    allowed : the most debt the close factor lets this call repay, USD
    liquidatable : the health factor was below 1 (else the contract reverts with
        ``HEALTH_FACTOR_NOT_BELOW_THRESHOLD`` and nothing happens)
    reverted : the call would revert (not liquidatable, or ``MUST_NOT_LEAVE_DUST``): every
        amount is 0 there and the account is unchanged
    dust : the call reverted with ``MUST_NOT_LEAVE_DUST``
    collateral_after, debt_after : the account after the call (coins, USD; bad debt removed)
    """

    repaid: object
    seized: object
    to_liquidator: object
    protocol_fee: object
    health_factor_after: object
    bad_debt: object
    allowed: object
    liquidatable: object
    reverted: object
    dust: object
    collateral_after: object
    debt_after: object


def liquidation_call(collateral, debt, price, *, liquidation_threshold, bonus, protocol_fee,
                     debt_to_cover=None, close_factor=CLOSE_FACTOR,
                     full_below=CLOSE_FACTOR_HF_THRESHOLD, small_usd=MIN_BASE_USD,
                     dust_usd=MIN_LEFTOVER_USD) -> Liquidation:
    r"""One Aave v3.3 ``liquidationCall`` on each account (vectorised over numpy arrays).

    Parameters
    ----------
    collateral : coins the borrower holds as collateral (>= 0)
    debt : the borrower's debt, USD (>= 0)
    price : the oracle's price of the collateral, USD per coin (> 0)
    liquidation_threshold : in (0, 1]
    bonus : the multiplier Aave stores as the liquidation bonus (``10500`` basis points =
        1.05: the liquidator receives 105 USD of collateral per 100 USD repaid), >= 1
    protocol_fee : the treasury's share of the bonus part (``liquidationProtocolFee``, 0.10 =
        10%), in [0, 1]
    debt_to_cover : USD the liquidator offers to repay; None: as much as allowed (a
        liquidator passing ``type(uint256).max``)
    close_factor, full_below, small_usd, dust_usd : Aave v3.3's constants by default (50%,
        0.95, 2,000 USD, 1,000 USD); a lesson may change them to see what they do

    The steps, as ``executeLiquidationCall`` takes them:

    1. **Health factor** ``HF = C·P·LT/D``; only ``HF < 1`` can be liquidated.
    2. **Close factor**: ``maxLiquidatableDebt`` is the whole debt, but 50% of it when the
       collateral and the debt are both worth at least 2,000 USD (``>=``) and ``HF > 0.95``
       (strictly: at 0.95 the whole debt may go).
    3. ``actualDebtToLiquidate = min(debt_to_cover, maxLiquidatableDebt)``.
    4. **Collateral** (``_calculateAvailableCollateralToLiquidate``): ``seized = repaid / P ·
       bonus``. If that is more than the borrower has, **all the collateral** is seized and the
       repaid amount is cut to match: ``repaid = C·P / bonus``.
    5. **Protocol fee**: the bonus part of the seized coins is ``seized - seized/bonus``; the
       treasury keeps ``protocol_fee`` of it, the liquidator gets the rest.
    6. **Dust rule** (``MUST_NOT_LEAVE_DUST``): a call that neither repays all the debt nor
       takes all the collateral must leave at least 1,000 USD of debt and of collateral, else
       it reverts. A liquidator passing an amount that would leave dust must repay all the
       debt instead, or the call fails; here a reverted call changes nothing (``reverted``,
       ``dust``: every amount 0).
    7. **Bad debt** (v3.3): when no collateral is left and some debt is, that debt is burned
       and booked as the reserve's deficit (``bad_debt``).

    Returns a :class:`Liquidation` (floats for scalar inputs, arrays otherwise).

    >>> r = liquidation_call(10.0, 16_000.0, 1_900.0, liquidation_threshold=0.83, bonus=1.05,
    ...                      protocol_fee=0.1)
    >>> round(r.repaid), round(r.seized, 4), round(r.health_factor_after, 3)
    (8000, 4.4211, 1.1)
    """
    lt = check_number("liquidation_threshold", liquidation_threshold, lo=0, hi=1, lo_open=True)
    bonus = check_number("bonus", bonus, lo=1, hi=2)
    fee_rate = check_number("protocol_fee", protocol_fee, lo=0, hi=1)
    close_factor = check_number("close_factor", close_factor, lo=0, hi=1, lo_open=True)
    full_below = check_number("full_below", full_below, lo=0, hi=1)
    small_usd = check_number("small_usd", small_usd, lo=0)
    dust_usd = check_number("dust_usd", dust_usd, lo=0)
    c = _array("collateral", collateral, lo=0)
    d = _array("debt", debt, lo=0)
    p = _array("price", price, lo=0, lo_open=True)
    scalar = c.ndim == 0 and d.ndim == 0 and p.ndim == 0 and np.ndim(debt_to_cover) == 0
    cover = None
    if debt_to_cover is not None:
        cover = _array("debt_to_cover", debt_to_cover, lo=0)
    c, d = (np.atleast_1d(a) for a in _together(("collateral", c), ("debt", d)))
    if p.ndim:
        c, d, p = _together(("collateral", c), ("debt", d), ("price", p))
    else:
        p = float(p)
    if cover is not None:
        cover = _together(("debt", d), ("debt_to_cover", cover))[1]
    out = liquidation_arrays(c, d, p, liquidation_threshold=lt, bonus=bonus, protocol_fee=fee_rate,
                             debt_to_cover=cover, close_factor=close_factor,
                             full_below=full_below, small_usd=small_usd, dust_usd=dust_usd)
    if scalar:
        return Liquidation(**{f: getattr(out, f).item() for f in out.__dataclass_fields__})
    return out


def liquidation_arrays(c, d, p, *, liquidation_threshold, bonus, protocol_fee,
                       debt_to_cover=None, close_factor=CLOSE_FACTOR,
                       full_below=CLOSE_FACTOR_HF_THRESHOLD, small_usd=MIN_BASE_USD,
                       dust_usd=MIN_LEFTOVER_USD) -> Liquidation:
    """:func:`liquidation_call` without its checks, for callers that checked their inputs
    (the cascade): ``c``, ``d`` float arrays of one shape, ``p`` a float (or an array of that
    shape), the rules as floats in their ranges; ``debt_to_cover`` None or an array."""
    lt, fee_rate = liquidation_threshold, protocol_fee
    coll_usd = c * p
    has_debt = d > 0
    hf = np.full(coll_usd.shape, np.inf)
    np.divide(coll_usd * lt, d, out=hf, where=has_debt)
    liquidatable = has_debt & (hf < 1.0)
    half = (coll_usd >= small_usd) & (d >= small_usd) & (hf > full_below)
    allowed = np.where(half, d * close_factor, d)
    cover = allowed if debt_to_cover is None else np.minimum(debt_to_cover, allowed)
    seized = cover * (bonus / p)
    cut = seized > c
    np.copyto(seized, c, where=cut)
    repaid = np.where(cut, coll_usd * (1.0 / bonus), cover)
    # The dust rule: neither all the debt repaid nor all the collateral taken, and less than
    # dust_usd of either left.
    c_after = c - seized
    d_left = d - repaid
    dust = liquidatable & (repaid < d) & (seized < c) \
        & ((d_left < dust_usd) | (c_after * p < dust_usd))
    ok = liquidatable & ~dust
    failed = ~ok
    if failed.any():  # a reverted call changes nothing
        seized[failed] = 0.0
        repaid[failed] = 0.0
        c_after = np.where(failed, c, c_after)
        d_left = np.where(failed, d, d_left)
    c_after[cut & ok] = 0.0
    fee = seized * ((1.0 - 1.0 / bonus) * fee_rate)
    bad = np.where((c_after == 0) & (d_left > 0) & ok, d_left, 0.0)
    d_after = np.maximum(d_left, 0.0)
    d_after[bad > 0] = 0.0
    hf_after = np.full(c_after.shape, np.inf)
    np.divide(c_after * (p * lt), d_after, out=hf_after, where=d_after > 0)
    return Liquidation(repaid=repaid, seized=seized, to_liquidator=seized - fee,
                       protocol_fee=fee, health_factor_after=hf_after, bad_debt=bad,
                       allowed=allowed, liquidatable=liquidatable, reverted=failed, dust=dust,
                       collateral_after=c_after, debt_after=d_after)
