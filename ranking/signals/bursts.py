"""Bursts: votes per idea per time bucket far above the idea's own trailing rate."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from ranking.arrays import Votes
from ranking.signals._common import KEY_LIMIT, check_config, check_votes
from ranking.signals.config import SignalConfig


@dataclass(frozen=True)
class BurstResult:
    """Per-vote burst evidence.

    Attributes
    ----------
    flag : (n,) bool, the vote fell in a burst bucket of its idea.
    excess : (n,) float64 in [0, 1], the share of the vote's bucket above the expected count,
        ``1 - expected / count`` for a burst bucket, 0 otherwise; the part to discount.
    count : (n,) int64, votes on the same idea in the same bucket.
    expected : (n,) float64, the idea's expected votes per bucket,
        ``max(trailing mean, burst_rate_floor)``.
    """

    flag: NDArray[np.bool_]
    excess: NDArray[np.float64]
    count: NDArray[np.int64]
    expected: NDArray[np.float64]


def detect_bursts(votes: Votes, config: SignalConfig | None = None) -> BurstResult:
    """Flag votes cast in a time bucket where their idea got far more votes than usual.

    A bucket of idea ``i`` (``config.burst_bucket_s`` wide) is a burst when its count ``c``
    satisfies ``c > burst_multiplier * e`` and ``c >= burst_min_count``, where
    ``e = max(trailing mean, burst_rate_floor)`` and the trailing mean is the idea's votes in
    the previous ``burst_trailing_buckets`` buckets divided by their number.

    Parameters
    ----------
    votes : Votes, n rows (supports and opposes both count).
    config : SignalConfig, optional; defaults to ``SignalConfig()``.

    Returns
    -------
    BurstResult
        Per-vote ``flag``, ``excess``, ``count`` and ``expected``.

    Examples
    --------
    Idea 0 gets one vote an hour for a day, then 60 votes in one hour:

    >>> import numpy as np
    >>> t = np.r_[np.arange(24) * 3600, 24 * 3600 + np.arange(60)]
    >>> r = detect_bursts(Votes.build(np.zeros(84), np.arange(84), time=t))
    >>> int(r.flag.sum()), round(float(r.excess[-1]), 3)
    (60, 0.967)
    """
    votes = check_votes(votes)
    config = check_config(config)
    if len(votes) == 0:
        return BurstResult(np.zeros(0, np.bool_), np.zeros(0), np.zeros(0, np.int64), np.zeros(0))
    count, expected = _bucket_counts(
        votes.idea,
        votes.time,
        config.burst_bucket_s,
        config.burst_trailing_buckets,
        config.burst_rate_floor,
    )
    flag = (count > config.burst_multiplier * expected) & (count >= config.burst_min_count)
    excess = np.zeros(count.shape[0])
    np.subtract(1.0, expected / count, out=excess, where=flag)
    return BurstResult(flag, excess, count, expected)


def _bucket_counts(
    idea: NDArray[np.int32],
    time: NDArray[np.int64],
    bucket_s: int,
    window: int,
    floor: float,
) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
    """Per vote: its (idea, bucket) count and the idea's expected count for that bucket.

    Each idea gets its own run of ``span + window`` keys, so looking ``window`` keys back never
    reaches another idea's buckets; trailing sums are prefix-sum differences located with
    ``searchsorted`` over the sorted unique keys.
    """
    bucket = np.floor_divide(time, bucket_s)
    bucket -= bucket.min()
    stride = int(bucket.max()) + 1 + window
    if (int(idea.max()) + 1) * stride >= KEY_LIMIT:
        raise ValueError("config.burst_bucket_s is too small for the time span of votes.time")
    key = idea.astype(np.int64) * stride + bucket + window
    keys, inverse, counts = np.unique(key, return_inverse=True, return_counts=True)
    prefix = np.zeros(keys.shape[0] + 1, dtype=np.int64)
    np.cumsum(counts, out=prefix[1:])
    start = np.searchsorted(keys, keys - window, side="left")
    trailing = prefix[:-1] - prefix[start]
    expected = np.maximum(trailing / window, floor)
    return counts[inverse].astype(np.int64), expected[inverse]
