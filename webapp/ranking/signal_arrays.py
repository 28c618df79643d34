"""Moderators' signal decisions applied to the ranking's arrays (see ``signal_review``).

``RankingService`` calls these at every full rebuild: :func:`cleared_votes` marks the flagged
votes whose discount a 'lifted' decision removes, :func:`in_force` gives the suspicion the
snapshot is built with, and :func:`cluster_rows` the per-cluster totals of the review list.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ranking.arrays import Votes
from ranking.signals import Signals
from ranking.signals.review import summarize_clusters
from ranking.weights import WeightConfig, vote_weights
from webapp.ranking.ranking_arrays import Loaded

NEVER = np.iinfo(np.int64).min


def cleared_votes(
    loaded: Loaded, signals: Signals | None, lifts: dict[int, int]
) -> NDArray[np.bool_] | None:
    """Per vote: flagged, and cast no later than the 'lifted' decision on its cluster.

    ``lifts`` maps idea ids to the Unix time of a lift in force (``signal_review.lift_times``).
    A cluster follows the decision on its canonical idea. None when nothing is cleared.
    """
    if signals is None or not lifts or len(loaded.votes) == 0:
        return None
    ids = loaded.columns.ids[: len(loaded.ideas)]
    wanted = np.fromiter(lifts.keys(), dtype=np.int64, count=len(lifts))
    times = np.fromiter(lifts.values(), dtype=np.int64, count=len(lifts))
    pos = np.searchsorted(ids, wanted)
    known = pos < len(ids)
    known[known] = ids[pos[known]] == wanted[known]
    lift_at = np.full(len(ids), NEVER, dtype=np.int64)
    lift_at[pos[known]] = times[known]
    cluster = loaded.ideas.canonical[loaded.votes.idea]
    cleared: NDArray[np.bool_] = (signals.reason_bits > 0) & (loaded.votes.time <= lift_at[cluster])
    return cleared if bool(cleared.any()) else None


def in_force(
    signals: Signals | None, cleared: NDArray[np.bool_] | None
) -> NDArray[np.float64] | None:
    """The suspicion the ranking applies: the signals', zero where a decision lifted it."""
    if signals is None:
        return None
    if cleared is None:
        return signals.suspicion
    return np.where(cleared, 0.0, signals.suspicion)


def cluster_rows(
    loaded: Loaded,
    signals: Signals | None,
    cleared: NDArray[np.bool_] | None,
    weights: WeightConfig,
) -> list[dict[str, Any]]:
    """Per cluster with flagged votes: counts by signal and the weight the discounts take.

    Reads only the flagged votes (plus, with a vote budget, one count of votes per user).
    Largest weight at stake first; ``idea_id`` is the canonical idea's database id.
    """
    if signals is None:
        return []
    sel = np.flatnonzero(signals.reason_bits > 0)
    if sel.shape[0] == 0:
        return []
    votes = loaded.votes
    cluster = loaded.ideas.canonical[votes.idea[sel]]
    flagged = Votes.build(cluster, votes.user[sel], votes.value[sel], votes.time[sel])
    w = vote_weights(flagged, loaded.users, loaded.ideas, loaded.geo, replace(weights, budget=None))
    base = w.resident.astype(np.float64) * w.district
    if weights.budget is not None:
        counts = np.bincount(votes.user, minlength=len(loaded.users))
        base *= np.minimum(1.0, weights.budget / np.maximum(counts[flagged.user], 1))
    summary = summarize_clusters(
        cluster,
        signals.reason_bits[sel],
        signals.suspicion[sel],
        np.zeros(sel.shape[0], dtype=np.bool_) if cleared is None else cleared[sel],
        base,
        votes.time[sel],
        weights.max_suspicion_discount,
    )
    ids = loaded.columns.ids
    return [
        {
            "idea_id": int(ids[summary.cluster[k]]),
            "votes": int(summary.votes[k]),
            "burst": int(summary.burst[k]),
            "fresh": int(summary.fresh[k]),
            "lockstep": int(summary.lockstep[k]),
            "cleared": int(summary.cleared[k]),
            "at_stake": float(summary.at_stake[k]),
            "lost": float(summary.lost[k]),
            "last_flagged": int(summary.last_flagged[k]),
        }
        for k in range(len(summary))
    ]
