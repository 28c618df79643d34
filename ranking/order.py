"""Sorting with a deterministic tie-break, and exact top-k reads from a partly stale order.

The order of every scheme is: score descending, then idea index descending (newer ideas first,
since the platform assigns indices in publication order). Two ideas never compare equal, so the
same data always gives the same list, whatever the order of the input rows.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

F64 = NDArray[np.float64]
I32 = NDArray[np.int32]


def sort_order(scores: F64, eligible: NDArray[np.bool_] | None = None) -> I32:
    """Indices of ``scores`` best first (score desc, index desc), restricted to ``eligible``.

    Parameters
    ----------
    scores : (n,) float64
    eligible : (n,) bool, optional

    Examples
    --------
    >>> sort_order(np.array([1.0, 3.0, 1.0, 2.0])).tolist()
    [1, 3, 2, 0]
    >>> sort_order(np.array([1.0, 3.0, 1.0]), np.array([True, False, True])).tolist()
    [2, 0]
    """
    scores = np.asarray(scores, dtype=np.float64)
    if scores.ndim != 1:
        raise ValueError(f"scores must be one-dimensional, got shape {scores.shape}")
    idx = np.arange(scores.shape[0], dtype=np.int32)
    if eligible is not None:
        idx = idx[eligible]
    return _sort_subset(scores[idx], idx)


def _sort_subset(scores: F64, idx: I32) -> I32:
    """Sort ``idx`` (ascending indices) by ``scores`` desc, ties by index desc.

    An unstable (SIMD) sort of the scores, then only the runs of equal scores are re-sorted by
    index: about three times faster than a stable sort of a million floats.
    """
    order = np.argsort(-scores)
    ss = scores[order]
    eq = ss[1:] == ss[:-1]
    if eq.any():
        tied = np.zeros(ss.shape[0], dtype=np.bool_)
        tied[1:] |= eq
        tied[:-1] |= eq
        pos = np.flatnonzero(tied)
        starts = np.ones(pos.shape[0], dtype=np.bool_)
        starts[1:] = ~eq[pos[1:] - 1]  # a new run unless equal to its left neighbour
        group = np.cumsum(starts, dtype=np.int64)
        n = idx.shape[0]
        key = group * n + (n - 1 - order[pos])
        order[pos] = order[pos][np.argsort(key)]
    return idx[order].astype(np.int32, copy=False)


def rank_candidates(scores: F64, idx: NDArray[np.int64] | I32) -> I32:
    """Sort arbitrary candidate indices by ``scores`` desc, ties by index desc.

    >>> rank_candidates(np.array([2.0, 5.0, 2.0]), np.array([0, 2, 1])).tolist()
    [2, 1, 0]
    """
    order = np.lexsort((-np.asarray(idx, dtype=np.int64), -scores))
    return np.asarray(idx, dtype=np.int32)[order]


def walk_order(
    order: I32,
    keep: NDArray[np.bool_],
    need: int,
) -> I32:
    """The first ``need`` entries of ``order`` whose ``keep`` flag is set, in order.

    Reads the order in growing blocks, so a permissive filter touches only a few hundred entries
    and a selective one is still one vectorised pass.

    >>> walk_order(np.array([4, 1, 3, 0, 2], dtype=np.int32),
    ...            np.array([True, False, True, True, False]), 2).tolist()
    [3, 0]
    """
    found: list[I32] = []
    total = 0
    pos = 0
    block = max(256, 8 * need)
    n = order.shape[0]
    while total < need and pos < n:
        blk = order[pos : pos + block]
        sel = blk[keep[blk]]
        found.append(sel)
        total += sel.shape[0]
        pos += block
        block *= 4
    if not found:
        return np.zeros(0, dtype=np.int32)
    return np.concatenate(found)[:need]


def rank_of(scores: F64, eligible: NDArray[np.bool_], idea: int) -> int:
    """1-based position of ``idea`` in the full order of the eligible ideas.

    >>> rank_of(np.array([1.0, 3.0, 1.0]), np.ones(3, dtype=bool), 0)
    3
    """
    s = scores[idea]
    idx = np.arange(scores.shape[0])
    better = (scores > s) | ((scores == s) & (idx > idea))
    return int(np.count_nonzero(better & eligible)) + 1
