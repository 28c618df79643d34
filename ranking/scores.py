"""The ranking schemes: formulas over per-idea aggregates (see ``docs/ranking.md``).

Every function here takes per-idea arrays (all the same shape) and returns float64 scores,
higher is better. :class:`ranking.snapshot.Snapshot` keeps the aggregates and calls these on the
whole catalogue (full recompute) or on a few candidate ideas (incremental reads).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

import numpy as np
from numpy.typing import NDArray

F64 = NDArray[np.float64]

SCHEMES: tuple[str, ...] = (
    "top",
    "confident",
    "trending",
    "broad",
    "new",
    "random",
    "controversial",
)
"""Names accepted by ``Snapshot.scores`` and ``Snapshot.top``."""

MERGED_SCORE = -math.inf
"""Score of a merged (non-canonical) duplicate in every scheme: sorts after every real idea.

Canonical ideas always get finite scores, even with zero votes and zero viewers."""


@dataclass(frozen=True)
class RankingConfig:
    """Parameters of the schemes.

    Attributes
    ----------
    prior_strength : float, default 10.0
        ``α``: pseudo-viewers of the prior in ``top``, ``confident`` and ``broad``. An idea needs
        about ``α`` real viewers before its own rate outweighs the prior: 10 is a page or two of
        traffic, small enough for a good idea to rise within a day.
    prior_mean : float, default 0.05
        ``p0``: the neutral support rate a new idea starts at (supports per viewer). Civic
        platforms see a few supports per hundred views. In ``(0, 1)``.
    z : float, default 1.645
        Normal quantile of the ``confident`` lower bound: one-sided 95 %.
    half_life_s : float, default 259200 (3 days)
        ``trending`` half-life: a vote counts half after 3 days, a sixteenth after 12. Long
        enough to smooth day/night traffic, short enough that last week's hit gives way.
    trending_horizon : float, default 40.0
        Votes older than this many half-lives are left out of ``trending`` (each would count
        less than ``2**-40`` of a fresh vote); it skips most of a long history in the full pass.
    controversial_min : float, default 1.0
        Weighted votes each side needs before ``controversial`` scores an idea above 0.
    refresh_after : int, default 20000
        ``Snapshot.top`` re-sorts every scheme once this many ideas changed since the last sort.

    Examples
    --------
    >>> RankingConfig(half_life_s=3600).half_life_s
    3600
    >>> RankingConfig(half_life_s=0)
    Traceback (most recent call last):
    ...
    ValueError: half_life_s must be > 0, got 0
    """

    prior_strength: float = 10.0
    prior_mean: float = 0.05
    z: float = 1.645
    half_life_s: float = 3 * 86400.0
    trending_horizon: float = 40.0
    controversial_min: float = 1.0
    refresh_after: int = 20000

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ValueError(f"{f.name} must be a number, got {value!r}")
            if not math.isfinite(value):
                raise ValueError(f"{f.name} must be finite, got {value!r}")
        if self.prior_strength <= 0:
            raise ValueError(f"prior_strength must be > 0, got {self.prior_strength!r}")
        if not 0.0 < self.prior_mean < 1.0:
            raise ValueError(f"prior_mean must be in (0, 1), got {self.prior_mean!r}")
        if self.z < 0:
            raise ValueError(f"z must be >= 0, got {self.z!r}")
        if self.half_life_s <= 0:
            raise ValueError(f"half_life_s must be > 0, got {self.half_life_s!r}")
        if self.trending_horizon <= 0:
            raise ValueError(f"trending_horizon must be > 0, got {self.trending_horizon!r}")
        if self.controversial_min < 0:
            raise ValueError(f"controversial_min must be >= 0, got {self.controversial_min!r}")
        if self.refresh_after < 1 or not isinstance(self.refresh_after, int):
            raise ValueError(
                f"refresh_after must be a positive integer, got {self.refresh_after!r}"
            )


def exposure(viewers: F64, raw_voters: F64) -> F64:
    """Denominator ``E = max(viewers, raw voters)``: a voter has necessarily seen the idea.

    >>> exposure(np.array([100.0, 0.0]), np.array([3.0, 7.0])).tolist()
    [100.0, 7.0]
    """
    return np.maximum(viewers, raw_voters)


def top_score(support: F64, oppose: F64, exposure_: F64, config: RankingConfig) -> F64:
    """Bayesian-smoothed weighted support rate per viewer.

    ``top = (S + α·p0) / (E + O + α)``: ``S`` weighted supports, ``O`` weighted opposes (extra
    evidence against on top of the opposer being a non-supporting viewer), ``E`` exposure.

    >>> cfg = RankingConfig(prior_strength=10, prior_mean=0.05)
    >>> top_score(np.array([0.0, 5.0]), np.zeros(2), np.array([0.0, 40.0]), cfg).tolist()
    [0.05, 0.11]
    """
    a = config.prior_strength
    return (support + a * config.prior_mean) / (exposure_ + oppose + a)


def confident_score(support: F64, oppose: F64, exposure_: F64, config: RankingConfig) -> F64:
    """Wilson lower bound of the ``top`` rate with effective sample size ``n = E + O + α``.

    Finite with zero votes (``n >= α > 0``); with little evidence the bound sits well below the
    smoothed rate, so an idea must earn its place with many viewers.

    >>> cfg = RankingConfig()
    >>> s = confident_score(np.array([5.0, 50.0]), np.zeros(2), np.array([40.0, 400.0]), cfg)
    >>> bool(s[0] < s[1] < 0.11)
    True
    """
    n = exposure_ + oppose + config.prior_strength
    p = (support + config.prior_strength * config.prior_mean) / n
    z2 = config.z * config.z
    centre = p + z2 / (2.0 * n)
    spread = config.z * np.sqrt(np.maximum(p * (1.0 - p), 0.0) / n + z2 / (4.0 * n * n))
    return (centre - spread) / (1.0 + z2 / n)


def trending_score(decayed: F64, ref_time: float, now: float, config: RankingConfig) -> F64:
    """Exponentially decayed weighted supports at ``now``.

    ``decayed`` holds ``Σ w·2^((t − ref)/h)`` (sums relative to a reference time, so they never
    need touching as time passes); the score is ``decayed · 2^((ref − now)/h)``.

    >>> trending_score(np.array([4.0]), 0.0, 86400.0, RankingConfig(half_life_s=86400.0)).tolist()
    [2.0]
    """
    return decayed * float(2.0 ** ((ref_time - now) / config.half_life_s))


def okrug_rates(okrug_support: F64, viewers: F64, share: F64, config: RankingConfig) -> F64:
    """Smoothed per-okrug support rates ``(K, m)`` (see :func:`broad_score`); okrugs without
    residents get NaN."""
    a = config.prior_strength
    expected = share[:, None] * viewers[None, :]
    denom = np.maximum(expected, okrug_support) + a
    rate: F64 = (okrug_support + a * config.prior_mean) / denom
    rate[share <= 0, :] = np.nan
    return rate


def broad_score(okrug_support: F64, viewers: F64, share: F64, config: RankingConfig) -> F64:
    """Group-informed consensus: geometric mean over okrugs of smoothed per-okrug support rates.

    For okrug ``o`` with resident share ``s_o``: ``r_o = (S_o + α·p0) / (max(V·s_o, S_o) + α)``
    where ``S_o`` is the weighted support from its residents and ``V·s_o`` the viewers expected
    from it (the platform does not record viewers by district; ``max`` with ``S_o`` keeps the
    rate ``<= 1`` and increasing in ``S_o``). ``broad = exp(mean_o log r_o)``: an okrug that does
    not support pulls the mean down, so only broad support scores high (Pol.is multiplies
    per-group agreement probabilities the same way). Voters of unknown district are left out.

    Parameters
    ----------
    okrug_support : (K, m) array, one row per okrug
    viewers : (m,) array
    share : (K,) array, resident share of each okrug (okrugs with no residents are skipped)
    config : RankingConfig

    >>> cfg = RankingConfig(prior_strength=1.0, prior_mean=0.5)
    >>> share = np.array([0.5, 0.5])
    >>> even = broad_score(np.array([[5.0], [5.0]]), np.array([20.0]), share, cfg)
    >>> lopsided = broad_score(np.array([[10.0], [0.0]]), np.array([20.0]), share, cfg)
    >>> bool(even[0] > lopsided[0])
    True
    """
    used = np.flatnonzero(share > 0)
    if used.size == 0:
        return np.full(viewers.shape, config.prior_mean, dtype=np.float64)
    a = config.prior_strength
    logsum = np.zeros(viewers.shape, dtype=np.float64)
    for g in range(0, used.size, 32):  # products of <= 32 rates in (0, 1] cannot underflow
        prod = np.ones(viewers.shape, dtype=np.float64)
        for o in used[g : g + 32].tolist():
            sup = okrug_support[o]
            denom = viewers * share[o]
            np.maximum(denom, sup, out=denom)
            denom += a
            rate = sup + a * config.prior_mean
            rate /= denom
            prod *= rate
        logsum += np.log(prod)
    logsum /= used.size
    out: F64 = np.exp(logsum)
    return out


def controversial_score(support: F64, oppose: F64, config: RankingConfig) -> F64:
    """``(S + O) ** (min/max)`` when each side has at least ``controversial_min``, else 0.

    Many votes, evenly split, score highest (Reddit's controversy sort); one-sided ideas score 0.

    >>> controversial_score(np.array([10.0, 10.0, 10.0]), np.array([10.0, 5.0, 0.0]),
    ...                     RankingConfig()).tolist()
    [20.0, 3.872983346207417, 0.0]
    """
    lo = np.minimum(support, oppose)
    hi = np.maximum(support, oppose)
    # a relative tolerance: weights like budget/n must not flip the threshold on rounding
    ok = lo >= max(config.controversial_min * (1.0 - 1e-9), 1e-12)
    out = np.zeros(support.shape, dtype=np.float64)
    out[ok] = (support[ok] + oppose[ok]) ** (lo[ok] / hi[ok])
    return out


def random_keys(seed: int, ideas: NDArray[np.integer]) -> F64:
    """Per-visitor random keys: a SplitMix64 hash of ``(seed, idea)`` mapped to ``[0, 1)``.

    The same seed gives the same order on every page of the visit; every idea has the same
    chance to be on top for a random seed (fair exposure, Decidim's default while a call is open).

    >>> k = random_keys(7, np.arange(3))
    >>> bool(np.all((k >= 0) & (k < 1))), bool(np.all(random_keys(7, np.arange(3)) == k))
    (True, True)
    """
    golden = 0x9E3779B97F4A7C15
    offset = np.uint64((int(seed) * golden + golden) % (1 << 64))
    x = np.asarray(ideas, dtype=np.uint64) + offset  # arrays wrap silently, scalars would warn
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    x = x ^ (x >> np.uint64(31))
    return (x >> np.uint64(11)).astype(np.float64) * (1.0 / (1 << 53))
