"""Full recompute of the per-idea aggregates every scheme reads.

One streaming pass over the votes in chunks: weights are computed per chunk (never stored for all
votes), and every sum is a ``np.bincount`` with weights, so memory stays at the input arrays plus
one chunk of temporaries. Votes on ideas in multi-member duplicate clusters (usually a small
share) are set aside and de-duplicated per ``(canonical, user)`` with a sort of that subset only.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from ranking.arrays import CITY_WIDE, Geography, Ideas, Users, Votes
from ranking.weights import (
    WeightConfig,
    _budget_table,
    _district_factor,
    _okrug_of_districts,
    _resident_table,
)

F64 = NDArray[np.float64]
I64 = NDArray[np.int64]
CHUNK = 1 << 24


@dataclass
class Tables:
    """Per-user and per-idea lookups shared by the full and the incremental paths."""

    resident: F64  # (n_users,) resident factor
    user_district: NDArray[np.int16]
    user_okrug: NDArray[np.int16]
    user_slot: I64  # (n_users,) okrug column, K for unknown
    idea_district: NDArray[np.int16]
    idea_okrug: NDArray[np.int16]
    canonical: NDArray[np.int32]
    multi: NDArray[np.bool_]  # (n_ideas,) idea belongs to a cluster of > 1 member
    share: F64  # (K,) resident share of each okrug
    n_okrugs: int


@dataclass
class Aggregates:
    """Per-(canonical) idea sums; merged ideas keep zeros. Mutated by incremental updates."""

    support: F64  # weighted supports S
    oppose: F64  # weighted opposes O
    voters: F64  # raw distinct voters (supporters + opposers), union over the cluster
    opposers: F64  # raw distinct opposers
    decayed: F64  # Σ w·2^((t - ref)/h) over supports
    okrug_support: F64  # (n_ideas, K + 1) weighted supports by voter's okrug (K: unknown)
    okrug_voters: F64  # (n_ideas, K + 1) raw voters by okrug
    ref_time: float


def build_tables(users: Users, ideas: Ideas, geo: Geography, config: WeightConfig) -> Tables:
    k = geo.n_okrugs
    user_okrug = _okrug_of_districts(users.district, geo)
    slot = np.where(user_okrug >= 0, user_okrug, k).astype(np.int64)
    residents = np.bincount(slot, minlength=k + 1)[:k].astype(np.float64)
    total = residents.sum()
    share = residents / total if total > 0 else residents
    size = np.bincount(ideas.canonical, minlength=len(ideas))
    return Tables(
        resident=_resident_table(users, config),
        user_district=users.district,
        user_okrug=user_okrug,
        user_slot=slot,
        idea_district=ideas.district,
        idea_okrug=_okrug_of_districts(ideas.district, geo),
        canonical=ideas.canonical,
        multi=size[ideas.canonical] > 1,
        share=share,
        n_okrugs=k,
    )


def _base_weights(
    t: Tables,
    idea: NDArray[np.int32],
    user: NDArray[np.int32],
    user_factor: F64,
    config: WeightConfig,
    suspicion: NDArray[np.float32] | None,
) -> F64:
    """``user_factor[user] × district × suspicion`` for a chunk of votes (float64)."""
    w = user_factor[user]
    scoped = np.flatnonzero(t.idea_district[idea] != CITY_WIDE)
    if scoped.size:
        ii, uu = idea[scoped], user[scoped]
        w[scoped] *= _district_factor(
            t.idea_district[ii], t.idea_okrug[ii], t.user_district[uu], t.user_okrug[uu], config
        )
    if suspicion is not None:
        w *= 1.0 - config.max_suspicion_discount * suspicion.astype(np.float64)
    return w


@dataclass
class ClusterVotes:
    """Votes on multi-member clusters, sorted by ``(canonical, user)`` key (for lazy lookup)."""

    key: I64  # canonical * n_users + user, sorted
    rows: I64  # vote row of each key


def aggregate(
    votes: Votes,
    t: Tables,
    n_users: int,
    config: WeightConfig,
    half_life_s: float,
    ref_time: float,
    suspicion: NDArray[np.float32] | None,
    user_counts: I64 | None,
) -> tuple[Aggregates, ClusterVotes]:
    """Stream over the votes once and return the aggregates (see module docstring)."""
    n_i = t.canonical.shape[0]
    k1 = t.n_okrugs + 1
    cells = n_i * k1
    budget = (
        _budget_table(user_counts, config.budget)
        if user_counts is not None
        else np.ones(n_users, dtype=np.float64)
    )
    user_factor = t.resident if user_counts is None else t.resident * budget
    any_multi = bool(t.multi.any())
    okrug_support = np.zeros(cells + 1, dtype=np.float64)
    okrug_voters = np.zeros(cells + 1, dtype=np.int64)
    decayed = np.zeros(n_i, dtype=np.float64)
    oppose = np.zeros(n_i, dtype=np.float64)
    opposers = np.zeros(n_i, dtype=np.int64)
    cluster_rows: list[I64] = []
    inv_h = 1.0 / half_life_s
    for a in range(0, len(votes), CHUNK):
        b = min(a + CHUNK, len(votes))
        ii, uu, vv = votes.idea[a:b], votes.user[a:b], votes.value[a:b]
        s = None if suspicion is None else suspicion[a:b]
        w = _base_weights(t, ii, uu, user_factor, config, s)
        key = ii.astype(np.int64)
        key *= k1
        key += t.user_slot[uu]
        if any_multi:
            m = np.flatnonzero(t.multi[ii])
            if m.size:
                cluster_rows.append(m + a)
                key[m] = cells  # the dump cell, dropped below
                w[m] = 0.0
        opp = np.flatnonzero(vv < 0)
        if opp.size:
            ko = key[opp] < cells
            oppose += np.bincount(ii[opp[ko]], w[opp[ko]], minlength=n_i)
            opposers += np.bincount(ii[opp[ko]], minlength=n_i)
            w[opp] = 0.0
        okrug_voters += np.bincount(key, minlength=cells + 1)
        okrug_support += np.bincount(key, w, minlength=cells + 1)
        dt = votes.time[a:b].astype(np.float64)
        dt -= ref_time
        dt *= inv_h
        np.exp2(dt, out=dt)
        dt *= w
        decayed += np.bincount(ii, dt, minlength=n_i)
    agg = Aggregates(
        support=np.zeros(n_i),
        oppose=oppose,
        voters=np.zeros(n_i),
        opposers=opposers.astype(np.float64),
        decayed=decayed,
        okrug_support=okrug_support[:cells].reshape(n_i, k1),
        okrug_voters=okrug_voters[:cells].reshape(n_i, k1).astype(np.float64),
        ref_time=ref_time,
    )
    rows = np.concatenate(cluster_rows) if cluster_rows else np.zeros(0, dtype=np.int64)
    clusters = _cluster_votes(votes, t, n_users, config, budget, suspicion, rows, agg, inv_h)
    agg.support = agg.okrug_support.sum(axis=1)
    agg.voters = agg.okrug_voters.sum(axis=1)
    return agg, clusters


def _cluster_votes(
    votes: Votes,
    t: Tables,
    n_users: int,
    config: WeightConfig,
    budget: F64,
    suspicion: NDArray[np.float32] | None,
    rows: I64,
    agg: Aggregates,
    inv_h: float,
) -> ClusterVotes:
    """Add one effective vote per ``(canonical, user)``: the largest weight, then support over
    oppose, then the latest; all of the user's votes share the same resident/budget factor."""
    if rows.size == 0:
        return ClusterVotes(np.zeros(0, dtype=np.int64), rows)
    ii, uu = votes.idea[rows], votes.user[rows]
    base = _base_weights(
        t, ii, uu, t.resident, config, None if suspicion is None else suspicion[rows]
    )
    c = t.canonical[ii].astype(np.int64)
    key = c * n_users + uu
    value, time = votes.value[rows], votes.time[rows]
    order = np.lexsort((time, value, base, key))
    key, rows = key[order], rows[order]
    last = np.ones(key.shape[0], dtype=np.bool_)
    last[:-1] = key[1:] != key[:-1]
    e = order[last]
    ce, ue, ve = c[e], uu[e].astype(np.int64), value[e]
    w = base[e] * budget[ue]
    sup = ve > 0
    n_i = agg.decayed.shape[0]
    k1 = t.n_okrugs + 1
    cell = ce * k1 + t.user_slot[ue]
    flat_s = agg.okrug_support.reshape(-1)
    flat_v = agg.okrug_voters.reshape(-1)
    flat_s += np.bincount(cell[sup], w[sup], minlength=flat_s.shape[0])
    flat_v += np.bincount(cell, minlength=flat_v.shape[0])
    agg.oppose += np.bincount(ce[~sup], w[~sup], minlength=n_i)
    agg.opposers += np.bincount(ce[~sup], minlength=n_i)
    decay = np.exp2((time[e].astype(np.float64) - agg.ref_time) * inv_h) * w
    agg.decayed += np.bincount(ce[sup], decay[sup], minlength=n_i)
    return ClusterVotes(key, rows)
