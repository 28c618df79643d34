"""Per-cluster totals of the manipulation signals, for the moderators' review list.

A moderator reviews a duplicate cluster (a canonical idea with the ideas merged into it) as one
unit, because the ranking counts it as one. :func:`summarize_clusters` takes the flagged votes
only (the caller selects them: usually a small share of all votes) and sums them per cluster.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from ranking.signals.combine import BURST, FRESH, LOCKSTEP

I64 = NDArray[np.int64]
F64 = NDArray[np.float64]


@dataclass(frozen=True)
class ClusterSignals:
    """One row per cluster with at least one flagged vote, the largest ``at_stake`` first.

    Attributes
    ----------
    cluster : (k,) int64, the canonical idea index.
    votes : (k,) int64, flagged votes (any signal).
    burst, fresh, lockstep : (k,) int64, flagged votes per signal (a vote may count under several).
    cleared : (k,) int64, flagged votes whose discount a moderator's decision lifted.
    at_stake : (k,) float64, weight the signals take from the cluster's votes without a decision.
    lost : (k,) float64, weight they take now (``at_stake`` minus what was lifted).
    last_flagged : (k,) int64, Unix time of the cluster's newest flagged vote.
    """

    cluster: I64
    votes: I64
    burst: I64
    fresh: I64
    lockstep: I64
    cleared: I64
    at_stake: F64
    lost: F64
    last_flagged: I64

    def __len__(self) -> int:
        return int(self.cluster.shape[0])


def _check(name: str, array: NDArray[np.generic], n: int | None) -> None:
    if array.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {array.shape}")
    if n is not None and array.shape[0] != n:
        raise ValueError(f"{name} must have length {n}, got {array.shape[0]}")


def _ints(name: str, value: object, n: int | None = None) -> I64:
    array: I64 = np.asarray(value, dtype=np.int64)
    _check(name, array, n)
    return array


def _floats(name: str, value: object, n: int) -> F64:
    array: F64 = np.asarray(value, dtype=np.float64)
    _check(name, array, n)
    return array


def summarize_clusters(
    cluster: object,
    reason_bits: object,
    suspicion: object,
    cleared: object,
    base_weight: object,
    time: object,
    max_discount: float,
) -> ClusterSignals:
    """Sum flagged votes per cluster: counts by signal and the weight the discounts take.

    Parameters
    ----------
    cluster : (m,) ints >= 0, the canonical idea index of each flagged vote.
    reason_bits : (m,) uint8, OR of ``BURST``, ``FRESH`` and ``LOCKSTEP`` (0 rows are ignored).
    suspicion : (m,) floats in [0, 1], the suspicion the signals found.
    cleared : (m,) bools, True where a moderator's decision lifted the vote's discount.
    base_weight : (m,) floats >= 0, each vote's weight before the suspicion factor.
    time : (m,) ints, Unix seconds of each vote.
    max_discount : float in [0, 1], ``WeightConfig.max_suspicion_discount``.

    Returns
    -------
    ClusterSignals
        Sorted by ``at_stake`` (largest first), ties by cluster index. The weights are per vote,
        before the one-vote-per-citizen rule of multi-idea clusters, so they are an upper bound
        of what the cluster's weighted support loses.

    Examples
    --------
    >>> s = summarize_clusters([3, 3, 7], [BURST, BURST | FRESH, LOCKSTEP], [0.5, 0.8, 1.0],
    ...                        [False, False, True], [1.0, 0.5, 1.0], [10, 20, 30], 0.9)
    >>> s.cluster.tolist(), s.votes.tolist(), s.fresh.tolist(), s.cleared.tolist()
    ([7, 3], [1, 2], [0, 1], [1, 0])
    >>> s.at_stake.round(2).tolist(), s.lost.round(2).tolist(), s.last_flagged.tolist()
    ([0.9, 0.81], [0.0, 0.81], [30, 20])
    """
    c = _ints("cluster", cluster)
    m = int(c.shape[0])
    bits: NDArray[np.uint8] = np.asarray(reason_bits, dtype=np.uint8)
    _check("reason_bits", bits, m)
    raw = _floats("suspicion", suspicion, m)
    lifted: NDArray[np.bool_] = np.asarray(cleared, dtype=np.bool_)
    _check("cleared", lifted, m)
    weight = _floats("base_weight", base_weight, m)
    t = _ints("time", time, m)
    if m and int(c.min()) < 0:
        raise ValueError("cluster indices must be >= 0")
    if not 0.0 <= max_discount <= 1.0:
        raise ValueError(f"max_discount must be in [0, 1], got {max_discount!r}")
    if m and not (np.all(raw >= 0.0) and np.all(raw <= 1.0)):
        raise ValueError("suspicion must lie in [0, 1]")
    if m and not np.all(weight >= 0.0):
        raise ValueError("base_weight must be >= 0")
    keep = bits > 0
    c, bits, raw, lifted = c[keep], bits[keep], raw[keep], lifted[keep]
    weight, t = weight[keep], t[keep]
    now = np.where(lifted, 0.0, raw)
    ids, inverse = np.unique(c, return_inverse=True)
    k = int(ids.shape[0])

    def count(mask: NDArray[np.bool_]) -> I64:
        return np.bincount(inverse, weights=mask.astype(np.float64), minlength=k).astype(np.int64)

    at_stake = np.bincount(inverse, weights=weight * raw * max_discount, minlength=k)
    lost = np.bincount(inverse, weights=weight * now * max_discount, minlength=k)
    last = np.full(k, np.iinfo(np.int64).min, dtype=np.int64)
    np.maximum.at(last, inverse, t)
    order = np.lexsort((ids, -at_stake))
    return ClusterSignals(
        cluster=ids[order].astype(np.int64),
        votes=np.bincount(inverse, minlength=k).astype(np.int64)[order],
        burst=count((bits & BURST) > 0)[order],
        fresh=count((bits & FRESH) > 0)[order],
        lockstep=count((bits & LOCKSTEP) > 0)[order],
        cleared=count(lifted)[order],
        at_stake=at_stake[order].astype(np.float64),
        lost=lost[order].astype(np.float64),
        last_flagged=last[order],
    )
