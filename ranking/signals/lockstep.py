"""Lockstep: pairs of accounts that co-vote within minutes on many ideas (CopyCatch-style)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from ranking.arrays import Votes
from ranking.signals._common import KEY_LIMIT, check_config, check_votes
from ranking.signals.config import SignalConfig

_PRUNE_ROUNDS = 4


@dataclass(frozen=True)
class LockstepResult:
    """Lockstep pairs for moderators, and the votes they explain.

    Attributes
    ----------
    flag : (n,) bool, the vote is by a member of a lockstep pair, on an idea where the pair
        co-voted within the window.
    pairs : (k, 2) int32, user indices ``(low, high)`` of each lockstep pair, sorted.
    co_votes : (k,) int64, distinct ideas on which the pair co-voted within the window.
    group : (k,) int32, connected component of the pair graph (a ring), numbered 0.. in the
        order of each component's smallest user.
    """

    flag: NDArray[np.bool_]
    pairs: NDArray[np.int32]
    co_votes: NDArray[np.int64]
    group: NDArray[np.int32]


def detect_lockstep(votes: Votes, config: SignalConfig | None = None) -> LockstepResult:
    """Find pairs of accounts that vote on the same ideas within minutes of each other.

    Two votes on the same idea co-occur when at most ``lockstep_window_s`` apart; a pair of users
    is in lockstep when they co-occur on at least ``lockstep_min_ideas`` distinct ideas. Each
    vote is paired with at most ``lockstep_max_neighbours`` following votes on its idea. Repeated
    votes of one user on one idea count once (the earliest).

    Parameters
    ----------
    votes : Votes, n rows.
    config : SignalConfig, optional.

    Returns
    -------
    LockstepResult

    Examples
    --------
    Users 7 and 9 vote on the same five ideas a minute apart, user 3 on two of them:

    >>> import numpy as np
    >>> idea = np.r_[np.arange(5), np.arange(5), [0, 1]]
    >>> user = np.r_[np.full(5, 7), np.full(5, 9), [3, 3]]
    >>> time = np.r_[np.arange(5) * 86400, np.arange(5) * 86400 + 60, [30, 86430]]
    >>> r = detect_lockstep(Votes.build(idea, user, time=time))
    >>> r.pairs.tolist(), r.co_votes.tolist(), int(r.flag.sum())
    ([[7, 9]], [5], 10)
    """
    votes = check_votes(votes)
    config = check_config(config)
    n = len(votes)
    flag = np.zeros(n, dtype=np.bool_)
    none = LockstepResult(
        flag, np.zeros((0, 2), np.int32), np.zeros(0, np.int64), np.zeros(0, np.int32)
    )
    if n == 0:
        return none
    m = config.lockstep_min_ideas
    n_users = int(votes.user.max()) + 1
    # A user with fewer than m votes cannot be in a lockstep pair.
    rows = np.flatnonzero(np.bincount(votes.user, minlength=n_users)[votes.user] >= m)
    if rows.size == 0:
        return none
    idea, user, time, position = _first_votes(votes.idea[rows], votes.user[rows], votes.time[rows])
    vi, vj, pair_key = _candidate_pairs(
        idea, user, time, n_users, config.lockstep_window_s, m, config.lockstep_max_neighbours
    )
    if pair_key.size == 0:
        return none
    keys, inverse, counts = np.unique(pair_key, return_inverse=True, return_counts=True)
    kept = counts >= m
    if not kept.any():
        return none
    hit = kept[inverse]
    voted = np.zeros(idea.shape[0], dtype=np.bool_)
    voted[vi[hit]] = True
    voted[vj[hit]] = True
    flag[rows] = voted[position]
    pairs = np.column_stack([keys[kept] // n_users, keys[kept] % n_users]).astype(np.int32)
    return LockstepResult(flag, pairs, counts[kept].astype(np.int64), _components(pairs))


def _first_votes(
    idea: NDArray[np.int32], user: NDArray[np.int32], time: NDArray[np.int64]
) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.int64], NDArray[np.intp]]:
    """One vote per (user, idea), at its earliest time, and each row's position among them.

    Returns ``(idea, user, time, position)``: the first three ordered by (user, idea), whatever
    the order of the rows, and ``position`` mapping every input row to its (user, idea).
    """
    n_ideas = int(idea.max()) + 1
    key = user.astype(np.int64) * n_ideas + idea
    order = np.argsort(key)
    sorted_key = key[order]
    starts = np.ones(order.shape[0], dtype=np.bool_)
    starts[1:] = sorted_key[1:] != sorted_key[:-1]
    position = np.empty(order.shape[0], dtype=np.intp)
    position[order] = np.cumsum(starts) - 1
    first = np.flatnonzero(starts)
    sorted_time = time[order]
    if first.shape[0] < order.shape[0]:
        sorted_time = np.minimum.reduceat(sorted_time, first)
    unique_key = sorted_key[first]
    return unique_key % n_ideas, unique_key // n_ideas, sorted_time, position


def _candidate_pairs(
    idea: NDArray[np.int64],
    user: NDArray[np.int64],
    time: NDArray[np.int64],
    n_users: int,
    window: int,
    m: int,
    cap: int,
) -> tuple[NDArray[np.intp], NDArray[np.intp], NDArray[np.int64]]:
    """All co-occurring vote pairs ``(i, j)`` (indices into the inputs) and their user-pair keys.

    Votes are sorted by (idea, time) as one int64 key; each vote's partners are the following
    votes within ``window`` seconds (at most ``cap``), found with ``searchsorted``. Users with
    fewer than ``m`` votes that have any partner cannot be in a lockstep pair; their votes are
    dropped and partners recomputed (a few rounds; each only removes votes that cannot matter).
    """
    t = time - time.min()
    stride = int(t.max()) + window + 1
    if (int(idea.max()) + 1) * stride >= KEY_LIMIT or n_users * n_users >= KEY_LIMIT:
        raise ValueError("votes span too many ideas, users or seconds for int64 pair keys")
    key = idea.astype(np.int64) * stride + t
    order = np.argsort(key, kind="stable")
    sorted_key = key[order]
    sorted_user = user[order]
    for _ in range(_PRUNE_ROUNDS + 1):
        position = np.arange(order.shape[0])
        ends = np.searchsorted(sorted_key, sorted_key + window, side="right")
        partners = np.minimum(ends - position - 1, cap)
        reach = np.maximum.accumulate(position + partners) if order.size else position
        paired = partners > 0
        paired[1:] |= reach[:-1] >= position[1:]
        useful = np.bincount(sorted_user[paired], minlength=n_users) >= m
        alive = paired & useful[sorted_user]
        if alive.all():
            break
        order, sorted_key, sorted_user = order[alive], sorted_key[alive], sorted_user[alive]
    else:
        position = np.arange(order.shape[0])
        ends = np.searchsorted(sorted_key, sorted_key + window, side="right")
        partners = np.minimum(ends - position - 1, cap)
    total = int(partners.sum())
    first = np.repeat(position, partners)
    offset = np.arange(total) - np.repeat(np.cumsum(partners) - partners, partners)
    second = first + 1 + offset
    vi, vj = order[first], order[second]
    low = np.minimum(user[vi], user[vj]).astype(np.int64)
    high = np.maximum(user[vi], user[vj]).astype(np.int64)
    return vi, vj, low * n_users + high


def _components(pairs: NDArray[np.int32]) -> NDArray[np.int32]:
    """Connected-component label of each pair (min-label propagation with pointer jumping)."""
    nodes, inverse = np.unique(pairs, return_inverse=True)
    a, b = inverse.reshape(pairs.shape).T
    label = np.arange(nodes.shape[0])
    while True:
        low = np.minimum(label[a], label[b])
        new = label.copy()
        np.minimum.at(new, a, low)
        np.minimum.at(new, b, low)
        new = new[new]
        if np.array_equal(new, label):
            break
        label = new
    _, group = np.unique(label[a], return_inverse=True)
    return group.astype(np.int32)
