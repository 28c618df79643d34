"""Fresh accounts: ideas with an unusual share of votes from just-created accounts."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from ranking.arrays import Users, Votes
from ranking.signals._common import KEY_LIMIT, check_config, check_users, check_votes
from ranking.signals.config import SignalConfig


@dataclass(frozen=True)
class FreshResult:
    """Fresh-account evidence, per vote and per idea.

    Attributes
    ----------
    fresh : (n,) bool, the voter's account was younger than ``fresh_age_s`` when voting
        (an account "created" after its vote counts as fresh).
    flag : (n,) bool, a fresh vote on a flagged idea.
    excess : (n,) float64 in [0, 1], for flagged votes the idea's share of fresh votes above the
        expected number, ``1 - expected / fresh_votes``; 0 otherwise.
    idea_votes, idea_fresh : (n_ideas,) int64, votes and fresh votes per idea
        (``n_ideas = votes.idea.max() + 1``).
    idea_expected : (n_ideas,) float64, fresh votes expected from the base rate.
    idea_share : (n_ideas,) float64, ``idea_fresh / idea_votes`` (0 without votes).
    idea_z : (n_ideas,) float64, binomial z-score of the fresh count (0 where undefined).
    idea_flag : (n_ideas,) bool, the idea passed all three thresholds.
    """

    fresh: NDArray[np.bool_]
    flag: NDArray[np.bool_]
    excess: NDArray[np.float64]
    idea_votes: NDArray[np.int64]
    idea_fresh: NDArray[np.int64]
    idea_expected: NDArray[np.float64]
    idea_share: NDArray[np.float64]
    idea_z: NDArray[np.float64]
    idea_flag: NDArray[np.bool_]


def detect_fresh_accounts(
    votes: Votes, users: Users, config: SignalConfig | None = None
) -> FreshResult:
    """Flag fresh-account votes on ideas that drew far more of them than the base rate.

    A vote is fresh when ``time - users.created[user] < fresh_age_s``. The expected number of
    fresh votes on idea ``i`` sums, over its votes, the fresh share ``p`` of all *other* ideas'
    votes in the same ``fresh_baseline_s`` slice (smoothed with ``fresh_prior_votes``
    pseudo-votes at the global share). The idea is flagged when its fresh count ``f`` has
    ``f >= fresh_min_count``, ``z = (f - E) / sqrt(sum p (1 - p)) >= fresh_z`` and
    ``f >= fresh_min_ratio * E``.

    Parameters
    ----------
    votes : Votes, n rows.
    users : Users, covering every ``votes.user``.
    config : SignalConfig, optional.

    Returns
    -------
    FreshResult

    Examples
    --------
    Ten ideas with 100 votes each from old accounts, then 40 brand-new accounts vote for idea 3:

    >>> import numpy as np
    >>> idea = np.r_[np.repeat(np.arange(10), 100), np.full(40, 3)]
    >>> day = 86400
    >>> created = np.r_[np.zeros(1000), np.full(40, 10 * day - 600)]
    >>> v = Votes.build(idea, np.arange(1040), time=np.full(1040, 10 * day))
    >>> u = Users.build(np.ones(1040), np.zeros(1040), created)
    >>> r = detect_fresh_accounts(v, u)
    >>> np.flatnonzero(r.idea_flag).tolist(), int(r.flag.sum())
    ([3], 40)
    """
    votes = check_votes(votes)
    users = check_users(users, votes)
    config = check_config(config)
    n = len(votes)
    fresh = (votes.time - users.created[votes.user]) < config.fresh_age_s
    if n == 0:
        empty_f, empty_i = np.zeros(0), np.zeros(0, np.int64)
        return FreshResult(
            fresh,
            fresh.copy(),
            empty_f,
            empty_i,
            empty_i,
            empty_f,
            empty_f,
            empty_f,
            np.zeros(0, np.bool_),
        )
    n_ideas = int(votes.idea.max()) + 1
    expected, variance = _expected_fresh(
        votes.idea, votes.time, fresh, n_ideas, config.fresh_baseline_s, config.fresh_prior_votes
    )
    idea_votes = np.bincount(votes.idea, minlength=n_ideas).astype(np.int64)
    idea_fresh = np.bincount(votes.idea[fresh], minlength=n_ideas).astype(np.int64)
    share = np.zeros(n_ideas)
    np.divide(idea_fresh, idea_votes, out=share, where=idea_votes > 0)
    z = np.zeros(n_ideas)
    np.divide(idea_fresh - expected, np.sqrt(variance), out=z, where=variance > 0)
    idea_flag = (
        (idea_fresh >= config.fresh_min_count)
        & (z >= config.fresh_z)
        & (idea_fresh >= config.fresh_min_ratio * expected)
    )
    idea_excess = np.zeros(n_ideas)
    np.subtract(1.0, expected / np.maximum(idea_fresh, 1), out=idea_excess, where=idea_flag)
    flag = fresh & idea_flag[votes.idea]
    excess = np.where(flag, idea_excess[votes.idea], 0.0)
    return FreshResult(fresh, flag, excess, idea_votes, idea_fresh, expected, share, z, idea_flag)


def _expected_fresh(
    idea: NDArray[np.int32],
    time: NDArray[np.int64],
    fresh: NDArray[np.bool_],
    n_ideas: int,
    slice_s: int,
    prior: float,
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Per idea: expected fresh votes and their binomial variance (leave-one-idea-out rates)."""
    slices = np.floor_divide(time, slice_s)
    slices -= slices.min()
    n_slices = int(slices.max()) + 1
    if n_ideas * n_slices >= KEY_LIMIT:
        raise ValueError("config.fresh_baseline_s is too small for the time span of votes.time")
    key = idea.astype(np.int64) * n_slices + slices
    keys, inverse, n_is = np.unique(key, return_inverse=True, return_counts=True)
    f_is = np.bincount(inverse, weights=fresh, minlength=keys.shape[0])
    slice_of = keys % n_slices
    n_s = np.bincount(slice_of, weights=n_is, minlength=n_slices)
    f_s = np.bincount(slice_of, weights=f_is, minlength=n_slices)
    overall = float(fresh.mean())
    p = (f_s[slice_of] - f_is + prior * overall) / (n_s[slice_of] - n_is + prior)
    idea_of = keys // n_slices
    expected = np.bincount(idea_of, weights=n_is * p, minlength=n_ideas)
    variance = np.bincount(idea_of, weights=n_is * p * (1.0 - p), minlength=n_ideas)
    return expected.astype(np.float64), variance.astype(np.float64)
