"""Index prices from several spot venues, and the medians the mark-price rules take (issue 12).

Numpy only. :func:`binance_index` is the weighted mean with Binance's outlier rule,
:func:`weighted_median` the median Hyperliquid's oracle takes; both read one price and one
weight per venue.

Binance's rule, as its "Price Index" FAQ words it
(https://www.binance.com/en/support/faq/547ba48141474ab3bddc5d7898f97928, 2020 text, the same
in "Mark Price in Perpetual Futures Contract",
https://www.binance.com/en/support/faq/360033525071):

    "1. Single price source deviation: When the latest price of a certain exchange deviates
    more than 5% from the median price of all price sources, the exchange weight will be set
    to zero for weighting purposes.
    2. Multi price source deviation: If more than one exchange shows greater than 5%
    deviation, the median price of all price sources will be used as the index value instead
    of the weighted average."

(Binance's later FAQ, "Price Index of USDⓈ-M Futures",
https://www.binance.com/en/support/faq/detail/66607f4c63e748568f503fcbd8f08965, read on a
mirror of that page, caps a deviating source instead: "If the latest price of a specific
exchange deviates by more than 3% from the median price of all sources, the value will be
immediately capped at either 1.03 times or 0.97 times the median price ... BTC & ETH indexes
are 1%". The model keeps the 5% drop the issue names.)

Hyperliquid's oracle (https://hyperliquid.gitbook.io/hyperliquid-docs/hypercore/oracle): "the
weighted median of Binance, OKX, Bybit, Kraken, Kucoin, Gate IO, MEXC, and Hyperliquid spot mid
prices for each asset, with weights 3, 2, 2, 1, 1, 1, 1, 1 respectively".
"""

from __future__ import annotations

import numpy as np

__all__ = ["OUTLIER_BAND", "binance_index", "median3", "weighted_median"]

#: Binance drops a source more than 5% from the median of all sources.
OUTLIER_BAND = 0.05


def binance_index(prices, weights, band=OUTLIER_BAND) -> float:
    """The weighted mean of ``prices`` by ``weights``, after Binance's outlier rule: a price
    more than ``band`` (5%) from the median of all prices gets weight 0; if more than one
    does, the index is that median.

    >>> binance_index([100.0, 99.0, 90.0], [1, 1, 2])  # 90 is 9.1% from the median 99
    99.5
    >>> binance_index([100.0, 80.0, 120.0], [1, 1, 1])  # two outliers: the median
    100.0
    """
    p = np.asarray(prices, dtype=float)
    w = np.asarray(weights, dtype=float)
    med = float(np.median(p))
    out = np.abs(p - med) > band * med
    if out.sum() > 1:
        return med
    keep = ~out
    return float(w[keep] @ p[keep] / w[keep].sum())


def weighted_median(prices, weights) -> float:
    """The price at which the venues' weights, in price order, reach half their total; when
    they reach exactly half at one price, the mean of it and the next (so equal weights give
    the ordinary median).

    >>> weighted_median([100.0, 99.0, 90.0], [3, 2, 2])  # sorted 90, 99, 100: 2, 4 of 7
    99.0
    >>> weighted_median([100.0, 90.0], [1, 1])
    95.0
    """
    p = np.asarray(prices, dtype=float)
    w = np.asarray(weights, dtype=float)
    order = np.argsort(p, kind="stable")
    p, cum = p[order], np.cumsum(w[order])
    half = cum[-1] / 2.0
    k = int(np.searchsorted(cum, half * (1 - 1e-12), side="left"))
    if abs(cum[k] - half) <= 1e-12 * cum[-1] and k + 1 < len(p):
        return float((p[k] + p[k + 1]) / 2.0)
    return float(p[k])


def median3(a, b, c) -> float:
    """The middle one of three numbers.

    >>> median3(3.0, 1.0, 2.0)
    2.0
    """
    return float(max(min(a, b), min(max(a, b), c)))
