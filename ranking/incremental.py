"""Incremental updates of the aggregates: one vote added or withdrawn at a time.

Exactness with the full recompute needs two pieces of per-user memory, both built lazily:

* with a budget, a user's factor ``min(1, budget/n)`` changes with every vote they cast, so all
  their earlier votes must be re-weighted: a per-user index (one stable sort of the vote rows by
  user at build time, paid only when the budget is on) is materialised for a user on first touch;
* in a multi-member duplicate cluster a user counts once (their largest-weight vote), so the
  live votes of each ``(canonical, user)`` pair are kept, materialised from the cluster rows that
  the full recompute already sorted.

Everything else is a handful of scalar additions, independent of the data size.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from ranking.aggregate import Aggregates, ClusterVotes, Tables
from ranking.arrays import Votes
from ranking.scores import RankingConfig
from ranking.weights import WeightConfig, _budget_factor

Vote = tuple[float, int, int, int]
"""A live vote: (base weight without budget, value, time, idea)."""

REBASE_EXPONENT = 500.0


def _effective(votes: list[Vote]) -> Vote | None:
    """The vote that counts for a user in a cluster: largest weight, then support, then latest."""
    if not votes:
        return None
    return max(votes, key=lambda v: (v[0], v[1], v[2]))


class VoteState:
    """Per-vote memory needed to update :class:`Aggregates` exactly (see module docstring)."""

    def __init__(
        self,
        votes: Votes,
        t: Tables,
        config: WeightConfig,
        ranking_config: RankingConfig,
        suspicion: NDArray[np.float32] | None,
        clusters: ClusterVotes,
        user_counts: NDArray[np.int64] | None,
    ) -> None:
        self.votes = votes
        self.t = t
        self.config = config
        self.inv_h = 1.0 / ranking_config.half_life_s
        self.horizon = ranking_config.trending_horizon
        self.suspicion = suspicion
        self.clusters = clusters
        self.n_users = int(t.user_code.shape[0])  # grows with Snapshot.add_users
        self.key_users = self.n_users  # users known at build: the sorted keys below use it
        self.counts = user_counts
        self.by_user: dict[int, dict[int, list[Vote]]] = {}
        self.by_pair: dict[tuple[int, int], list[Vote]] = {}
        self.susp_overlay: dict[tuple[int, int], float] = {}
        self.log: dict[int, list[tuple[int, int, int, int, int, float]]] = {}
        self.user_order: NDArray[np.intp] | None = None
        self.user_offsets: NDArray[np.int64] | None = None
        if user_counts is not None:
            self.user_order = np.argsort(votes.user, kind="stable")
            self.user_offsets = np.zeros(self.n_users + 1, dtype=np.int64)
            np.cumsum(user_counts, out=self.user_offsets[1:])
        self.susp_key = np.zeros(0, dtype=np.int64)
        self.susp_val = np.zeros(0, dtype=np.float32)
        if suspicion is not None:
            nz = np.flatnonzero(suspicion > 0)
            key = votes.idea[nz].astype(np.int64) * self.key_users + votes.user[nz]
            order = np.argsort(key)
            self.susp_key, self.susp_val = key[order], suspicion[nz][order]

    # ------------------------------------------------------------------ weights

    def base(self, idea: int, user: int, s: float) -> float:
        """Resident × district × suspicion factor of one vote (same rounding as the full pass)."""
        w = self.t.base(idea, user)
        if self.suspicion is not None or s > 0.0:
            w *= 1.0 - self.config.max_suspicion_discount * s
        return w

    def stored_suspicion(self, idea: int, user: int) -> float:
        if (idea, user) in self.susp_overlay:
            return self.susp_overlay[(idea, user)]
        if user >= self.key_users:  # added after the build: no stored votes
            return 0.0
        key = idea * self.key_users + user
        i = int(np.searchsorted(self.susp_key, key))
        if i < self.susp_key.shape[0] and int(self.susp_key[i]) == key:
            return float(self.susp_val[i])
        return 0.0

    def _row_vote(self, row: int) -> Vote:
        v = self.votes
        idea, user = int(v.idea[row]), int(v.user[row])
        s = 0.0 if self.suspicion is None else float(self.suspicion[row])
        return (self.base(idea, user, s), int(v.value[row]), int(v.time[row]), idea)

    def user_votes(self, user: int) -> dict[int, list[Vote]]:
        got = self.by_user.get(user)
        if got is None:
            assert self.user_order is not None and self.user_offsets is not None
            got = {}
            if user >= self.key_users:  # added after the build: no stored votes
                self.by_user[user] = got
                return got
            lo, hi = int(self.user_offsets[user]), int(self.user_offsets[user + 1])
            for row in self.user_order[lo:hi].tolist():
                vote = self._row_vote(row)
                got.setdefault(int(self.t.canonical[vote[3]]), []).append(vote)
            self.by_user[user] = got
        return got

    def pair_votes(self, c: int, user: int) -> list[Vote]:
        got = self.by_pair.get((c, user))
        if got is None and user >= self.key_users:  # added after the build: no stored votes
            got = self.by_pair[(c, user)] = []
        if got is None:
            key = c * self.key_users + user
            lo = int(np.searchsorted(self.clusters.key, key, side="left"))
            hi = int(np.searchsorted(self.clusters.key, key, side="right"))
            got = [self._row_vote(int(r)) for r in self.clusters.rows[lo:hi]]
            self.by_pair[(c, user)] = got
        return got

    # ------------------------------------------------------------------ updates

    def _add(self, agg: Aggregates, c: int, user: int, vote: Vote, f: float, sign: float) -> None:
        base, value, time, _ = vote
        w = sign * f * base
        slot = int(self.t.user_slot[self.t.user_code[user]])
        agg.voters[c] += sign
        if value > 0:
            agg.support[c] += w
            agg.okrug_support[slot, c] += w
            exponent = (time - agg.ref_time) * self.inv_h
            if exponent > REBASE_EXPONENT:
                agg.decayed *= 2.0 ** (-exponent)
                agg.ref_time = float(time)
                exponent = 0.0
            if exponent >= -self.horizon:  # the full pass skips older votes too
                agg.decayed[c] += w * 2.0**exponent
        else:
            agg.oppose[c] += w
            agg.opposers[c] += sign

    def apply(
        self,
        agg: Aggregates,
        idea: int,
        user: int,
        value: int,
        time: int,
        delta: int,
        suspicion: float,
    ) -> list[int]:
        """Apply one vote change; return the canonical ideas whose aggregates changed."""
        c = int(self.t.canonical[idea])
        key = (idea, user)
        self.log.setdefault(c, []).append((idea, user, value, time, delta, suspicion))
        if delta > 0:
            s = suspicion
            self.susp_overlay[key] = s
            new: Vote | None = (self.base(idea, user, s), value, time, idea)
        else:
            s = self.stored_suspicion(idea, user)
            self.susp_overlay[key] = 0.0
            new = None
        if self.counts is not None:
            return self._apply_budget(agg, c, idea, user, value, time, delta, new)
        if bool(self.t.multi[idea]):
            lst = self.pair_votes(c, user)
            if new is None:
                _check_present(lst, idea)
            old = _effective(lst)
            if old is not None:
                self._add(agg, c, user, old, 1.0, -1.0)
            _mutate(lst, idea, new)
            eff = _effective(lst)
            if eff is not None:
                self._add(agg, c, user, eff, 1.0, 1.0)
            return [c]
        vote = new if new is not None else (self.base(idea, user, s), value, time, idea)
        self._add(agg, c, user, vote, 1.0, float(delta))
        return [c]

    def _apply_budget(
        self,
        agg: Aggregates,
        c: int,
        idea: int,
        user: int,
        value: int,
        time: int,
        delta: int,
        new: Vote | None,
    ) -> list[int]:
        assert self.counts is not None
        uv = self.user_votes(user)
        n_old = int(self.counts[user])
        n_new = n_old + delta
        if n_new < 0:
            raise ValueError(f"user {user} has no vote to withdraw")
        f_old = _budget_factor(n_old, self.config.budget)
        f_new = _budget_factor(n_new, self.config.budget)
        lst = uv.setdefault(c, [])
        if new is None:
            _check_present(lst, idea)
        old = _effective(lst)
        if old is not None:
            self._add(agg, c, user, old, f_old, -1.0)
        _mutate(lst, idea, new)
        eff = _effective(lst)
        if eff is None:
            del uv[c]
        else:
            self._add(agg, c, user, eff, f_new, 1.0)
        self.counts[user] = n_new
        if f_old == f_new:
            return [c]
        # the user's factor changed: re-weight their other votes in place
        slot = int(self.t.user_slot[self.t.user_code[user]])
        changed = [c]
        for cc, votes in uv.items():
            if cc == c:
                continue
            base, value, time, _ = _effective(votes) or (0.0, 1, 0, 0)
            dw = (f_new - f_old) * base
            if value > 0:
                agg.support[cc] += dw
                agg.okrug_support[slot, cc] += dw
                exponent = (time - agg.ref_time) * self.inv_h
                if -self.horizon <= exponent <= REBASE_EXPONENT:
                    agg.decayed[cc] += dw * 2.0**exponent
            else:
                agg.oppose[cc] += dw
            changed.append(cc)
        return changed


def _check_present(lst: list[Vote], idea: int) -> None:
    if not any(v[3] == idea for v in lst):
        raise ValueError(f"no vote on idea {idea} to withdraw")


def _mutate(lst: list[Vote], idea: int, new: Vote | None) -> None:
    if new is not None:
        lst.append(new)
        return
    for i, v in enumerate(lst):
        if v[3] == idea:
            del lst[i]
            return
    raise ValueError(f"no vote on idea {idea} to withdraw")


def live_votes(
    state: VoteState, c: int
) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.int64], NDArray[np.float64]]:
    """Current votes on the cluster of canonical idea ``c``: the build-time rows (one scan of
    the vote table, O(n_votes)) replayed with the incremental log. Returns idea, user, value
    and suspicion arrays."""
    members = np.flatnonzero(state.t.canonical == c)
    v = state.votes
    rows = np.flatnonzero(np.isin(v.idea, members))
    idea = v.idea[rows].astype(np.int64)
    user = v.user[rows].astype(np.int64)
    value = v.value[rows].astype(np.int64)
    susp = (
        np.zeros(rows.shape[0])
        if state.suspicion is None
        else state.suspicion[rows].astype(np.float64)
    )
    final: dict[tuple[int, int], tuple[int, float] | None] = {}
    for i, u, val, _, delta, s in state.log.get(c, []):
        final[(i, u)] = (val, s) if delta > 0 else None
    if final:
        keys = np.array([i * state.n_users + u for i, u in final], dtype=np.int64)
        keep = ~np.isin(idea * state.n_users + user, keys)
        added = [(i, u, vs) for (i, u), vs in final.items() if vs is not None]
        idea = np.concatenate([idea[keep], np.array([a[0] for a in added], dtype=np.int64)])
        user = np.concatenate([user[keep], np.array([a[1] for a in added], dtype=np.int64)])
        value = np.concatenate([value[keep], np.array([a[2][0] for a in added], dtype=np.int64)])
        susp = np.concatenate([susp[keep], np.array([a[2][1] for a in added], dtype=np.float64)])
    return idea, user, value, susp
