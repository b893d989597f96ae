"""Leveraged positions: isolated-margin, linear, USD-margined perpetual futures.

Holds the liquidation and bankruptcy price formulas and :class:`Positions`, a structure of
arrays for a whole population of traders (plus a seeded generator of realistic populations).
"""

from __future__ import annotations

import numpy as np

from ._checks import (
    MAX_MAGNITUDE,
    as_float_array,
    check_array_range,
    check_int,
    check_number,
    check_total,
    readonly,
)

#: The leverage mix used when none is given: (leverage, weight) pairs.
DEFAULT_LEVERAGE_MIX = ((2.0, 0.25), (5.0, 0.25), (10.0, 0.25), (25.0, 0.15), (50.0, 0.07),
                        (100.0, 0.03))

_SIDE_WORDS = {"long": 1, "short": -1}


_SIDE_WHAT = "'long' or 'short' (or +1 (long) or -1 (short)), or a flat array of them"


def parse_side(side) -> np.ndarray:
    """Return ``side`` as an int8 array of +1 (long) / -1 (short), of the shape of ``side``.

    Accepts "long"/"short", +1/-1, or a sequence of either kind; refuses True/False.
    """
    words = isinstance(side, str)
    if not words and not isinstance(side, (bool, np.bool_)):
        try:
            words = np.asarray(side).dtype.kind in "US"
        except (TypeError, ValueError):  # ragged: as_float_array below says so
            words = False
    if words:
        arr = np.asarray(side)
        bad = ~np.isin(arr, list(_SIDE_WORDS))
        if bad.any():
            raise ValueError(f"side must be 'long' or 'short' (or +1/-1), got "
                             f"{arr[bad].flat[0]!r}")
        return np.where(arr == "long", 1, -1).astype(np.int8)
    num = as_float_array("side", side, ndim=None, what=_SIDE_WHAT)
    bad = ~np.isin(num, (1.0, -1.0))
    if bad.any():
        raise ValueError(f"side must be +1 (long) or -1 (short), got {num[bad].flat[0]:g}")
    return num.astype(np.int8)


_NO_MMR = object()  # bankruptcy prices take no maintenance rate (None is a wrong one)


def _check_terms(entry, leverage, mmr=_NO_MMR, side=None):
    """``entry``, ``leverage``, ``mmr`` as checked float arrays (any shape, broadcastable)."""
    e = as_float_array("entry", entry, ndim=None)
    lev = as_float_array("leverage", leverage, ndim=None)
    shapes = {"entry": e.shape, "leverage": lev.shape}
    m = None
    if mmr is not _NO_MMR:
        m = as_float_array("mmr", mmr, ndim=None)
        shapes["mmr"] = m.shape
    if side is not None and side.ndim:
        shapes["side"] = side.shape
    try:
        np.broadcast_shapes(*shapes.values())
    except ValueError:
        names = ", ".join(list(shapes)[:-1]) + " and " + list(shapes)[-1]
        raise ValueError(f"{names} must have the same length (or be single numbers), got "
                         f"shapes {shapes}") from None
    check_array_range("entry", e, lo=0, lo_open=True)
    check_array_range("leverage", lev, lo=1)
    if m is None:
        return e, lev, None
    check_array_range("mmr", m, lo=0)
    over = np.broadcast_to(m * lev >= 1, np.broadcast_shapes(m.shape, lev.shape))
    if over.any():
        i = int(np.flatnonzero(over)[0])
        mm = np.broadcast_to(m, over.shape).flat[i]
        ll = np.broadcast_to(lev, over.shape).flat[i]
        raise ValueError(f"mmr must be in [0, 1/leverage) = [0, {1 / ll:g}) for leverage {ll:g}, "
                         f"got {mm:g}")
    return e, lev, m


def _scalar_or_array(x, *inputs):
    return float(x) if all(np.ndim(v) == 0 for v in inputs) else x


def liquidation_price(entry, leverage, mmr, side="long"):
    r"""Price at which a position's equity falls to its maintenance margin.

    Isolated margin, linear (USD-margined) contract, no fees and no maintenance amount:

    .. math::

        P_{liq}^{long} = E\,\frac{1 - 1/L}{1 - m}, \qquad
        P_{liq}^{short} = E\,\frac{1 + 1/L}{1 + m}

    Parameters
    ----------
    entry : float or array_like
        Entry price ``E`` in USD, > 0.
    leverage : float or array_like
        Leverage ``L`` >= 1 (initial margin ``M = q E / L``).
    mmr : float or array_like
        Maintenance-margin rate ``m`` in ``[0, 1/L)``.
    side : {"long", "short"}, +1/-1, or array_like of them

    Returns
    -------
    float or numpy.ndarray
        The liquidation price in USD (a float when every input is a scalar).

    Examples
    --------
    >>> liquidation_price(10_000, 10, 0.005)  # doctest: +ELLIPSIS
    9045.22...
    """
    s = parse_side(side)
    e, lev, m = _check_terms(entry, leverage, mmr, s)
    out = e * (1.0 - s / lev) / (1.0 - s * m)
    return _scalar_or_array(out, entry, leverage, mmr, side if not isinstance(side, str) else 0)


def bankruptcy_price(entry, leverage, side="long"):
    r"""Price at which a position's equity is zero: ``E (1 - 1/L)`` long, ``E (1 + 1/L)`` short.

    Parameters are as for :func:`liquidation_price`; the result is in USD.
    """
    s = parse_side(side)
    e, lev, _ = _check_terms(entry, leverage, side=s)
    out = e * (1.0 - s / lev)
    return _scalar_or_array(out, entry, leverage, side if not isinstance(side, str) else 0)


class Positions:
    """A population of isolated-margin positions, stored as a structure of read-only arrays.

    Attributes (all shape ``(n,)``)
    -------------------------------
    side : int8, +1 long / -1 short
    size : float64, asset units, > 0
    entry : float64, entry price in USD
    leverage : float64, >= 1
    mmr : float64, maintenance-margin rate in [0, 1/leverage)
    maint_amount : float64, maintenance amount in USD subtracted from ``mmr * notional``
        (0 unless the rate comes from tiers, see :meth:`with_tiers`)
    liquidation_price : float64, USD: ``(E (1 - s/L) - s A/q) / (1 - s m)``, which is
        :func:`liquidation_price` when the amount ``A`` is 0

    Build one with :meth:`from_arrays` or :meth:`generate`; a population never changes, the
    cascade records which positions it closed.
    """

    __slots__ = ("side", "size", "entry", "leverage", "mmr", "maint_amount", "liquidation_price")

    def __init__(self, side, size, entry, leverage, mmr, amount, liq):
        self.side, self.size, self.entry = side, size, entry
        self.leverage, self.mmr, self.liquidation_price = leverage, mmr, liq
        self.maint_amount = amount
        for name in self.__slots__:
            readonly(getattr(self, name))

    @classmethod
    def from_arrays(cls, side, size, entry, leverage, mmr) -> Positions:
        """Build positions from equal-length arrays (scalars broadcast to the others' length).

        ``side`` is +1/-1 or "long"/"short". Zero positions (all arrays empty) is a valid,
        empty market. Raises ``ValueError`` naming the first bad parameter and value.
        """
        s = parse_side(side)
        flat = "a number or a flat array of numbers"
        out = {k: as_float_array(k, v, ndim=None, what=flat)
               for k, v in (("size", size), ("entry", entry), ("leverage", leverage),
                            ("mmr", mmr))}
        lengths = {}
        for name, arr in [("side", s), *out.items()]:
            if arr.ndim > 1:
                raise ValueError(f"{name} must be a number or a flat array of numbers, got an "
                                 f"array of shape {arr.shape}")
            if arr.ndim == 1:
                lengths[name] = len(arr)
        counts = list(lengths.values())
        n = max(counts, key=counts.count) if counts else 1  # the length most arrays have
        for name, length in lengths.items():
            if length != n:  # blame the odd one out
                raise ValueError(f"{name} must have the same length as the other arrays "
                                 f"({n}), got length {length}")
        s = np.broadcast_to(s, (n,)).copy()
        for k, arr in out.items():
            # Copies, so that freezing them never freezes the caller's arrays; a scalar stays a
            # zero-byte broadcast view.
            out[k] = np.broadcast_to(arr, (n,)) if arr.ndim == 0 else arr.copy()
        return cls._build(s, **out)

    @classmethod
    def _build(cls, side, size, entry, leverage, mmr, amount=None) -> Positions:
        """Check owned arrays of equal length and wrap them without copying."""
        check_array_range("size", size, lo=0, lo_open=True)
        check_total("size", size, "the open interest in units")
        e, lev, m = _check_terms(entry, leverage, mmr)
        # P_liq = (E (1 - s/L) - s A/q) / (1 - s m), in place: two temporaries at most.
        liq = side / lev
        np.subtract(1.0, liq, out=liq)
        liq *= e
        if amount is None:
            amount = np.broadcast_to(np.float64(0.0), size.shape)
        else:
            check_array_range("maint_amount", amount, lo=0)
            liq -= side * amount / size
        den = side * m
        np.subtract(1.0, den, out=den)
        liq /= den
        del den
        return cls(side, size, e, lev, m, amount, liq)

    def with_tiers(self, tiers) -> Positions:
        """The same positions under tiered maintenance margin (:class:`MarginTiers`).

        Each position takes the bracket its notional falls in *at its liquidation price*
        (the bracket table is searched for the one consistent bracket, as Binance's guide says
        to), with that bracket's rate and maintenance amount. Raises ``ValueError`` if a
        position's leverage is not below 1 / that rate.
        """
        from .tiers import MarginTiers
        if not isinstance(tiers, MarginTiers):
            raise ValueError(f"tiers must be a MarginTiers, got {type(tiers).__name__}")
        s, q, e, lev = self.side, self.size, self.entry, self.leverage
        rates, amounts, floors = tiers.rates, tiers.amounts, tiers.floors
        upper = np.append(floors[1:], np.inf)
        chosen = np.full(len(q), -1)
        for k in range(len(rates)):  # a handful of brackets: vectorised over positions
            # A tiny size makes amount / size overflow to inf: that bracket's liquidation price
            # is then beyond any price, so the position does not fit it (not an error).
            with np.errstate(over="ignore", invalid="ignore"):
                p = (e * (1.0 - s / lev) - s * amounts[k] / q) / (1.0 - s * rates[k])
                fits = (q * p >= floors[k]) & (q * p < upper[k]) & (chosen < 0)
            chosen[fits] = k
        lost = chosen < 0  # only at a floor, by rounding: take the bracket of the entry
        chosen[lost] = tiers.bracket(q[lost] * e[lost])
        m, amount = rates[chosen], amounts[chosen]
        bad = m * lev >= 1
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise ValueError(
                f"leverage must be below 1/rate of a position's bracket: position {i} "
                f"(leverage {lev[i]:g}, notional {q[i] * e[i]:,.0f} USD) falls in the bracket "
                f"with rate {m[i]:g}; lower the leverage or change the tiers")
        return Positions._build(s, q, e, lev, m, amount)

    @classmethod
    def generate(cls, n, price, *, long_share=0.5, leverage_mix=DEFAULT_LEVERAGE_MIX, mmr=0.005,
                 entry_spread=0.10, notional=10_000_000.0, size_sigma=1.0, min_distance=1e-6,
                 seed=None, rng=None, tiers=None) -> Positions:
        """Draw a realistic population of ``n`` positions around ``price``.

        Entries are uniform within ``price * (1 ± entry_spread)``, cut so that every liquidation
        price lies at least ``min_distance`` (a fraction of ``price``) beyond ``price``: every
        generated position is solvent at ``price`` and within that band around it;
        leverage is drawn from ``leverage_mix`` ((leverage, weight) pairs); position notionals
        are log-normal with log-sd ``size_sigma``, scaled so that the open notional at ``price``
        is ``notional`` USD. ``round(n * long_share)`` positions are long.

        With ``tiers`` (:class:`~marginloops.tiers.MarginTiers`) the maintenance rate and amount
        come from the brackets instead of ``mmr``, and leverage is capped at what a position's
        bracket allows, as exchanges do.

        Randomness comes only from ``rng`` or ``numpy.random.default_rng(seed)``: the same seed
        gives the same population, bit for bit.
        """
        n = check_int("n", n, lo=0)
        price = check_number("price", price, lo=0, lo_open=True)
        long_share = check_number("long_share", long_share, lo=0, hi=1)
        mmr = check_number("mmr", mmr, lo=0)
        entry_spread = check_number("entry_spread", entry_spread, lo=0, hi=1, hi_open=True)
        notional = check_number("notional", notional, lo=0, lo_open=True)
        size_sigma = check_number("size_sigma", size_sigma, lo=0, hi=5)
        min_distance = check_number("min_distance", min_distance, lo=0, hi=0.5)
        if tiers is not None:
            from .tiers import MarginTiers
            if not isinstance(tiers, MarginTiers):
                raise ValueError(f"tiers must be a MarginTiers, got {type(tiers).__name__}")
        levs, weights = check_leverage_mix(leverage_mix, mmr if tiers is None else 0.0)
        if notional / price > MAX_MAGNITUDE:  # the sizes add up to notional / price units
            raise ValueError(f"notional / price (the open interest in units) must be at most "
                             f"{MAX_MAGNITUDE:.0e}, got {notional:g} / {price:g} = "
                             f"{notional / price:.3g}")
        if rng is not None and not isinstance(rng, np.random.Generator):
            raise ValueError(f"rng must be a numpy.random.Generator or None, got {rng!r:.80}")
        if seed is not None and (isinstance(seed, (bool, np.bool_))
                                 or not isinstance(seed, (int, np.integer)) or seed < 0):
            raise ValueError(f"seed must be None or a whole number >= 0, got {seed!r:.80}")
        rng = np.random.default_rng(seed) if rng is None else rng

        n_long = int(round(n * long_share))
        side = np.where(np.arange(n) < n_long, 1, -1).astype(np.int8)
        leverage = rng.choice(levs, size=n, p=weights)
        if tiers is None:
            m = mmr
            entry = _entries(rng, side, leverage, m, price, entry_spread, min_distance)
            size = _sizes(rng, n, size_sigma, notional, price)
            return cls._build(side, size, entry, leverage, np.broadcast_to(np.float64(m), (n,)))
        # Tiers: sizes first, so that each position's bracket (taken with room for the notional
        # to grow up to its liquidation price) caps its leverage and sets its rate.
        size = _sizes(rng, n, size_sigma, notional, price)
        k = tiers.bracket(size * price * (1.0 + entry_spread) * 1.1)
        leverage = np.minimum(leverage, tiers.max_leverage[k])
        m = tiers.rates[k]
        entry = _entries(rng, side, leverage, m, price, entry_spread, min_distance)
        return cls._build(side, size, entry, leverage, m).with_tiers(tiers)

    def accounts(self, direction, start, *, moving=False, opposite=False, both=False):
        """These positions as the round pipeline's accounts
        (:class:`marginloops.accounts.PerpetualAccounts`, the
        :class:`~marginloops.accounts.Accounts` protocol): the side ``direction`` liquidates,
        sorted once, checked from the price ``start`` on (``both``: the opposite side can be
        checked and closed too, when the price moves back). Another kind of account (a lending
        position) plugs into :class:`~marginloops.Cascade` by offering the same method."""
        from .accounts import PerpetualAccounts

        return PerpetualAccounts(self, direction, start, moving=moving, opposite=opposite,
                                 both=both)

    def __len__(self) -> int:
        return len(self.size)

    def __repr__(self) -> str:
        n_long = int((self.side > 0).sum())
        return f"Positions(n={len(self)}, long={n_long}, short={len(self) - n_long})"

    @property
    def margin(self) -> np.ndarray:
        """Initial margin ``q E / L`` of each position, USD."""
        return self.size * self.entry / self.leverage

    @property
    def bankruptcy_price(self) -> np.ndarray:
        """Bankruptcy price of each position, USD (equity zero)."""
        return self.entry * (1.0 - self.side / self.leverage)

    def equity(self, price) -> np.ndarray:
        """Equity ``M + s q (P - E)`` of each position at ``price`` (USD, >= 0; a number, or an
        array that broadcasts against the positions), USD."""
        price = as_float_array("price", price, ndim=None)
        check_array_range("price", price, lo=0)
        try:
            np.broadcast_shapes(price.shape, self.size.shape)
        except ValueError:
            raise ValueError(f"price must be a number or an array that broadcasts against the "
                             f"{len(self)} positions, got shape {price.shape}") from None
        return self.margin + self.side * self.size * (price - self.entry)

    def open_interest(self, open_mask=None, price=None) -> float:
        """Total size of the open positions in asset units (notional in USD if ``price`` given).

        ``open_mask`` is a boolean array with one entry per position (None: all are open).
        """
        q = self.size if open_mask is None else self.size[self._mask(open_mask)]
        total = float(q.sum())
        return total if price is None else total * check_number("price", price, lo=0)

    def _mask(self, open_mask) -> np.ndarray:
        """``open_mask`` checked: a boolean array of one entry per position (None: all)."""
        if open_mask is None:
            return np.ones(len(self), bool)
        try:
            mask = np.asarray(open_mask)
        except (TypeError, ValueError):
            mask = np.asarray(None)
        if mask.dtype != bool or mask.shape != (len(self),):
            raise ValueError(f"open_mask must be a boolean array of one entry per position "
                             f"(shape ({len(self)},)), got {open_mask!r:.80}")
        return mask

    def liquidation_map(self, bins=60, price_range=None, open_mask=None):
        """Open notional binned by liquidation price.

        Notional is valued at each position's liquidation price (``q * P_liq``): what would be
        sold (longs) or bought (shorts) when the price gets there.

        Returns
        -------
        edges : ndarray, shape (bins + 1,)
            Bin edges in USD.
        long_notional, short_notional : ndarray, shape (bins,)
            USD of open long / short positions whose liquidation price falls in each bin.
        """
        bins = check_int("bins", bins, lo=1, hi=100_000)
        keep = self._mask(open_mask)
        liq = self.liquidation_price
        if price_range is None:
            finite = liq[keep & (liq > 0)]
            price_range = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
        if not isinstance(price_range, (tuple, list, np.ndarray)) or len(price_range) != 2:
            raise ValueError(f"price_range must be (low, high) with high > low, got "
                             f"{price_range!r:.80}")
        lo = check_number("price_range low", price_range[0])
        hi = check_number("price_range high", price_range[1])
        if not hi > lo:
            raise ValueError(f"price_range must be (low, high) with high > low, got {price_range}")
        edges = np.linspace(lo, hi, bins + 1)
        w = self.size * liq
        longs, shorts = keep & (self.side > 0), keep & (self.side < 0)
        long_n, _ = np.histogram(liq[longs], edges, weights=w[longs])
        short_n, _ = np.histogram(liq[shorts], edges, weights=w[shorts])
        return edges, long_n, short_n


def _entries(rng, side, leverage, mmr, price, entry_spread, min_distance) -> np.ndarray:
    """Entries uniform within ``price * (1 ± entry_spread)``, cut so that every liquidation
    price lies at least ``min_distance`` beyond ``price``."""
    # Liquidation at least min_distance away: long P_liq <= price*(1-d), short >= price*(1+d).
    # (A 1x long can only be liquidated at 0: no cut.)
    with np.errstate(divide="ignore"):
        cut = np.where(side > 0, (1.0 - mmr) / (1.0 - 1.0 / leverage),
                       (1.0 + mmr) / (1.0 + 1.0 / leverage))
    cut *= 1.0 - side * max(min_distance, 1e-9)
    lo = np.where(side > 0, 1.0 - entry_spread, np.maximum(1.0 - entry_spread, cut))
    hi = np.where(side > 0, np.minimum(1.0 + entry_spread, cut), 1.0 + entry_spread)
    del cut
    if (hi < lo).any():
        i = int(np.flatnonzero(hi < lo)[0])
        raise ValueError(
            f"min_distance must leave room for entries within entry_spread: a "
            f"{leverage[i]:g}x {'long' if side[i] > 0 else 'short'} cannot be both within "
            f"{entry_spread:g} of the price and {min_distance:g} from liquidation; lower "
            f"min_distance or widen entry_spread")
    return price * (lo + (hi - lo) * rng.random(len(side)))


def _sizes(rng, n, size_sigma, notional, price) -> np.ndarray:
    """Log-normal position sizes (units) whose notional at ``price`` adds up to ``notional``."""
    weight = np.exp(size_sigma * rng.standard_normal(n))
    return weight * (notional / price / weight.sum()) if n else weight


def check_leverage_mix(leverage_mix, mmr):
    """Validate (leverage, weight) pairs; return (leverages, weights normalised to sum 1).

    Leverages must be in ``[1, 1/mmr)``, weights real numbers in ``[0, MAX_MAGNITUDE]`` with a
    positive sum; bools and strings are refused (see :mod:`marginloops._checks`).
    """
    shape = "a sequence of (leverage, weight) pairs"
    if isinstance(leverage_mix, (str, bytes)) or not hasattr(leverage_mix, "__iter__"):
        raise ValueError(f"leverage_mix must be {shape}, got {leverage_mix!r:.80}")
    pairs = []
    for pair in leverage_mix:
        if not isinstance(pair, (list, tuple, np.ndarray)) or len(pair) != 2:
            raise ValueError(f"leverage_mix must be {shape}, got {pair!r:.80} in "
                             f"{leverage_mix!r:.80}")
        pairs.append(tuple(pair))
    if not pairs:
        raise ValueError("leverage_mix must hold at least one (leverage, weight) pair, got none")
    hi = 1 / mmr if mmr > 0 else None
    levs = np.array([check_number("leverage_mix leverage", lev, lo=1, hi=hi, hi_open=mmr > 0)
                     for lev, _ in pairs])
    weights = np.array([check_number("leverage_mix weight", w, lo=0) for _, w in pairs])
    # Each weight is at most MAX_MAGNITUDE, so the sum of any realistic number of pairs is finite.
    total = weights.sum()
    if total <= 0:
        raise ValueError("leverage_mix weights must have a positive sum, got all zeros")
    return levs, weights / total
