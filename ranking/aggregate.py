"""Full recompute of the per-idea aggregates every scheme reads.

One streaming pass over the votes in chunks: weights are computed per chunk (never stored for all
votes), and every sum is a ``np.bincount`` with weights, so memory stays at the input arrays plus
one chunk of temporaries. Votes on ideas in multi-member duplicate clusters (usually a small
share) are set aside and de-duplicated per ``(canonical, user)`` with a sort of that subset only.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ranking.arrays import Geography, Ideas, Users, Votes
from ranking.weights import (
    WeightConfig,
    _budget_table,
    _district_factor,
    _okrug_of_districts,
)

F64 = NDArray[np.float64]
I64 = NDArray[np.int64]
CHUNK = 1 << 23


MAX_DISTRICTS = 1000
"""Largest ``Geography.n_districts`` supported: the (idea district × voter) weight table has
``(n + 2) · 2(n + 1)`` entries, 16 MB at this bound."""


@dataclass
class Tables:
    """Per-user and per-idea lookups shared by the full and the incremental paths.

    A vote's base weight (resident × district factor) depends only on the idea's district and
    on the voter's (district, verified) pair, so it is one small table ``wtab`` indexed by
    ``idea_code · n_user_codes + user_code``: one random gather per vote into a 1-byte-per-user
    array instead of several gathers into 8-byte ones (the full pass is memory-bound).
    """

    user_code: NDArray[np.integer]  # (n_users,) (district + 1) * 2 + verified
    user_slot: I64  # (n_user_codes,) okrug row of each user code, K for unknown
    slot_offset: I64  # (n_user_codes,) user_slot * n_ideas: the start of that row
    idea_code: NDArray[np.integer]  # (n_ideas,) district + 1, or MULTI for clustered ideas
    idea_dcode: NDArray[np.integer]  # (n_ideas,) district + 1
    wtab: F64  # (n_idea_codes * n_user_codes,) resident × district factor; MULTI row is 0
    n_user_codes: int
    multi_code: int
    canonical: NDArray[np.int32]
    multi: NDArray[np.bool_]  # (n_ideas,) idea belongs to a cluster of > 1 member
    share: F64  # (K,) resident share of each okrug
    n_okrugs: int
    residents: I64  # (K + 1,) users per okrug row (row K: unknown district), for ``share``

    @property
    def n_districts(self) -> int:
        return self.n_user_codes // 2 - 1

    def add_users(self, code: NDArray[np.integer]) -> None:
        """Count new users (their user codes) in ``residents`` and update ``share``."""
        self.residents += np.bincount(self.user_slot[code], minlength=self.residents.shape[0])
        self.share = _share(self.residents, self.n_okrugs)

    def base(self, idea: int, user: int) -> float:
        """Resident × district factor of one vote."""
        return float(
            self.wtab[int(self.idea_dcode[idea]) * self.n_user_codes + int(self.user_code[user])]
        )


@dataclass
class Aggregates:
    """Per-(canonical) idea sums; merged ideas keep zeros. Mutated by incremental updates."""

    support: F64  # weighted supports S
    oppose: F64  # weighted opposes O
    voters: F64  # raw distinct voters (supporters + opposers), union over the cluster
    opposers: F64  # raw distinct opposers
    decayed: F64  # Σ w·2^((t - ref)/h) over supports
    okrug_support: F64  # (K + 1, n_ideas) weighted supports by voter's okrug (row K: unknown)
    ref_time: float


def _smallest_uint(n: int) -> type[np.unsignedinteger[Any]]:
    return np.uint8 if n <= 256 else np.uint16 if n <= 65536 else np.uint32


def build_tables(users: Users, ideas: Ideas, geo: Geography, config: WeightConfig) -> Tables:
    nd = geo.n_districts
    if nd > MAX_DISTRICTS:
        raise ValueError(f"geo must have at most {MAX_DISTRICTS} districts, got {nd}")
    k = geo.n_okrugs
    n_uc = 2 * (nd + 1)
    multi_code = nd + 1
    # every (idea district, voter district, verified) combination
    dist = np.arange(-1, nd, dtype=np.int16)
    okr = _okrug_of_districts(dist, geo)
    grid_i = np.repeat(np.arange(nd + 1), n_uc)
    grid_u = np.tile(np.arange(n_uc), nd + 1)
    resident = np.where(grid_u % 2 == 1, config.verified, config.unverified)
    factor = _district_factor(
        dist[grid_i], okr[grid_i], dist[grid_u // 2], okr[grid_u // 2], config
    )
    wtab = np.concatenate([resident * factor, np.zeros(n_uc)])
    user_code = ((users.district.astype(np.int64) + 1) * 2 + users.verified).astype(
        _smallest_uint(n_uc)
    )
    slot_of_district = np.where(okr >= 0, okr, k).astype(np.int64)
    user_slot = np.repeat(slot_of_district, 2)
    residents = np.bincount(user_slot[user_code], minlength=k + 1).astype(np.int64)
    size = np.bincount(ideas.canonical, minlength=len(ideas))
    multi = size[ideas.canonical] > 1
    dcode = (ideas.district.astype(np.int64) + 1).astype(_smallest_uint(nd + 2))
    return Tables(
        user_code=user_code,
        user_slot=user_slot,
        slot_offset=user_slot * len(ideas),
        idea_code=np.where(multi, multi_code, dcode).astype(dcode.dtype),
        idea_dcode=dcode,
        wtab=wtab,
        n_user_codes=n_uc,
        multi_code=multi_code,
        canonical=ideas.canonical,
        multi=multi,
        share=_share(residents, k),
        n_okrugs=k,
        residents=residents,
    )


def _share(residents: I64, k: int) -> F64:
    """Resident share of each of the ``k`` okrugs (users of unknown district left out)."""
    r = residents[:k].astype(np.float64)
    total = r.sum()
    return r / total if total > 0 else r


def _weights(
    t: Tables,
    code: NDArray[np.integer],
    user: NDArray[np.int32],
    config: WeightConfig,
    suspicion: NDArray[np.float32] | None,
    budget: F64 | None,
) -> tuple[F64, NDArray[np.integer]]:
    """Weights of a chunk of votes and the voters' user codes."""
    uc = t.user_code[user]
    if t.wtab.shape[0] <= 1 << 16:  # 2-byte indices: half the memory traffic of intp
        idx16 = code.astype(np.uint16)
        idx16 *= np.uint16(t.n_user_codes)
        idx16 += uc
        w = t.wtab[idx16]
    else:
        idx = code.astype(np.intp)
        idx *= t.n_user_codes
        idx += uc
        w = t.wtab[idx]
    if suspicion is not None:
        w *= 1.0 - config.max_suspicion_discount * suspicion.astype(np.float64)
    if budget is not None:
        w *= budget[user]
    return w, uc


def _effective_rows(
    key: I64, base: F64, value: NDArray[np.int8], time: NDArray[np.int64]
) -> tuple[NDArray[np.intp], NDArray[np.intp]]:
    """Per distinct ``key``, the position of the vote with the largest ``base``, then
    ``value``, then ``time``; and the permutation sorting ``key``. One argsort, then
    group maxima with ``reduceat`` (cheaper than a four-key lexsort)."""
    order = np.argsort(key)
    ks = key[order]
    start = np.ones(ks.shape[0], dtype=np.bool_)
    start[1:] = ks[1:] != ks[:-1]
    starts = np.flatnonzero(start)
    sizes = np.diff(np.append(starts, ks.shape[0]))
    b = base[order]
    best = b == np.repeat(np.maximum.reduceat(b, starts), sizes)
    t = time[order]
    tie = (value[order].astype(np.int64) + 1) << 40
    tie += t - t.min()
    tie[~best] = -1
    best &= tie == np.repeat(np.maximum.reduceat(tie, starts), sizes)
    pos = np.flatnonzero(best)
    group = np.cumsum(start)[pos]
    first = np.ones(pos.shape[0], dtype=np.bool_)
    first[1:] = group[1:] != group[:-1]
    return order[pos[first]], order


@dataclass
class ClusterVotes:
    """Votes on multi-member clusters, sorted by ``(canonical, user)`` key (for lazy lookup)."""

    key: I64  # canonical * n_users + user, sorted
    rows: I64  # vote row of each key


class _Partial:
    """Sums over a subset of the chunks (one per thread), merged in a fixed order."""

    def __init__(self, cells: int, n_i: int, any_multi: bool) -> None:
        self.okrug_support = np.zeros(cells, dtype=np.float64)
        self.voters = np.zeros(n_i, dtype=np.int64)
        self.decayed = np.zeros(n_i, dtype=np.float64)
        self.oppose = np.zeros(n_i, dtype=np.float64)
        self.opposers = np.zeros(n_i, dtype=np.int64)
        self.cluster_rows: list[I64] = []
        self.any_multi = any_multi

    def merge(self, other: _Partial) -> None:
        self.okrug_support += other.okrug_support
        self.voters += other.voters
        self.decayed += other.decayed
        self.oppose += other.oppose
        self.opposers += other.opposers
        self.cluster_rows += other.cluster_rows

    def add(
        self,
        votes: Votes,
        t: Tables,
        config: WeightConfig,
        a: int,
        b: int,
        suspicion: NDArray[np.float32] | None,
        budget: F64 | None,
        ref_time: float,
        inv_h: float,
        cutoff: int,
    ) -> None:
        n_i = self.voters.shape[0]
        ii, vv = votes.idea[a:b], votes.value[a:b]
        code = t.idea_code[ii]
        w, uc = _weights(t, code, votes.user[a:b], config, suspicion, budget)
        if self.any_multi:
            m = np.flatnonzero(code == t.multi_code)
            if m.size:
                self.cluster_rows.append(m + a)
        del code
        i64 = ii.astype(np.intp)  # bincount would convert on every call
        self.voters += np.bincount(i64, minlength=n_i)
        if vv.size and int(vv.min()) < 0:
            opp = np.flatnonzero(vv < 0)
            self.oppose += np.bincount(i64[opp], w[opp], minlength=n_i)
            self.opposers += np.bincount(i64[opp], minlength=n_i)
            w[opp] = 0.0
        key = t.slot_offset[uc]
        key += i64
        del uc
        self.okrug_support += np.bincount(key, w, minlength=self.okrug_support.shape[0])
        del key
        tt = votes.time[a:b]
        recent = np.flatnonzero(tt >= cutoff)
        dt = tt[recent].astype(np.float64)
        dt -= ref_time
        dt *= inv_h
        np.exp2(dt, out=dt)
        dt *= w[recent]
        self.decayed += np.bincount(i64[recent], dt, minlength=n_i)


def aggregate(
    votes: Votes,
    t: Tables,
    n_users: int,
    config: WeightConfig,
    half_life_s: float,
    ref_time: float,
    suspicion: NDArray[np.float32] | None,
    user_counts: I64 | None,
    horizon: float = 40.0,
    threads: int = 2,
) -> tuple[Aggregates, ClusterVotes]:
    """Stream over the votes once and return the aggregates (see module docstring).

    ``trending`` skips votes older than ``horizon`` half-lives before ``ref_time``: each would
    add less than ``2**-horizon`` of a fresh vote (the exponential and its scatter are the
    costliest part of the pass, and most votes of a two-year history are that old).
    """
    n_i = t.canonical.shape[0]
    k1 = t.n_okrugs + 1
    budget = None if user_counts is None else _budget_table(user_counts, config.budget)
    inv_h = 1.0 / half_life_s
    cutoff = int(np.ceil(ref_time - horizon * half_life_s))
    starts = list(range(0, len(votes), CHUNK))
    parts = [
        _Partial(n_i * k1, n_i, bool(t.multi.any()))
        for _ in range(max(1, min(threads, len(starts))))
    ]

    def run(j: int) -> None:
        for a in starts[j :: len(parts)]:
            b = min(a + CHUNK, len(votes))
            s = None if suspicion is None else suspicion[a:b]
            parts[j].add(votes, t, config, a, b, s, budget, ref_time, inv_h, cutoff)

    if len(parts) == 1:
        run(0)
    else:  # NumPy releases the GIL in gathers and ufuncs: two chunks overlap on two cores
        with ThreadPoolExecutor(len(parts)) as pool:
            list(pool.map(run, range(len(parts))))
    total = parts[0]
    for p in parts[1:]:
        total.merge(p)
    okrug_support, voters, decayed = total.okrug_support, total.voters, total.decayed
    oppose, opposers = total.oppose, total.opposers
    cluster_rows = sorted(total.cluster_rows, key=lambda r: int(r[0]))
    # votes on clustered ideas had weight 0 above; their raw counts are redone per cluster
    voters[t.multi] = 0
    opposers[t.multi] = 0
    agg = Aggregates(
        support=np.zeros(n_i),
        oppose=oppose,
        voters=voters.astype(np.float64),
        opposers=opposers.astype(np.float64),
        decayed=decayed,
        okrug_support=okrug_support.reshape(k1, n_i),
        ref_time=ref_time,
    )
    rows = np.concatenate(cluster_rows) if cluster_rows else np.zeros(0, dtype=np.int64)
    clusters = _cluster_votes(
        votes, t, n_users, config, budget, suspicion, rows, agg, inv_h, cutoff
    )
    agg.support = agg.okrug_support.sum(axis=0)
    return agg, clusters


def _cluster_votes(
    votes: Votes,
    t: Tables,
    n_users: int,
    config: WeightConfig,
    budget: F64 | None,
    suspicion: NDArray[np.float32] | None,
    rows: I64,
    agg: Aggregates,
    inv_h: float,
    cutoff: int,
) -> ClusterVotes:
    """Add one effective vote per ``(canonical, user)``: the largest weight, then support over
    oppose, then the latest; all of the user's votes share the same resident/budget factor."""
    if rows.size == 0:
        return ClusterVotes(np.zeros(0, dtype=np.int64), rows)
    ii, uu = votes.idea[rows], votes.user[rows]
    s = None if suspicion is None else suspicion[rows]
    base, uc = _weights(t, t.idea_dcode[ii], uu, config, s, None)
    c = t.canonical[ii].astype(np.int64)
    key = c * n_users + uu
    value, time = votes.value[rows], votes.time[rows]
    e, order = _effective_rows(key, base, value, time)
    key, rows = key[order], rows[order]
    ce, ve = c[e], value[e]
    w = base[e] if budget is None else base[e] * budget[uu[e]]
    sup = ve > 0
    recent = sup & (time[e] >= cutoff)
    n_i = agg.decayed.shape[0]
    cell = t.slot_offset[uc[e]] + ce
    flat = agg.okrug_support.reshape(-1)
    flat += np.bincount(cell[sup], w[sup], minlength=flat.shape[0])
    agg.voters += np.bincount(ce, minlength=n_i)
    agg.oppose += np.bincount(ce[~sup], w[~sup], minlength=n_i)
    agg.opposers += np.bincount(ce[~sup], minlength=n_i)
    decay = np.exp2((time[e].astype(np.float64) - agg.ref_time) * inv_h) * w
    agg.decayed += np.bincount(ce[recent], decay[recent], minlength=n_i)
    return ClusterVotes(key, rows)
