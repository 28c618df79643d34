"""The ranking snapshot the platform holds: aggregates, scores, orders, incremental updates.

Build it once (:meth:`Snapshot.build`, a full recompute), then feed it every vote
(:meth:`Snapshot.apply_vote`) and viewer count (:meth:`Snapshot.set_viewers`); read lists with
:meth:`Snapshot.top` and explanations with :meth:`Snapshot.explain`. New ideas and users join
without a rebuild (:meth:`Snapshot.add_ideas`, :meth:`Snapshot.add_users`): the per-idea and
per-user arrays grow in place with capacity doubling (:mod:`ranking.growth`). Like the other
mutators, these must be serialised with every other call (a snapshot is not thread-safe).

Orders stay exact without re-sorting per vote: each scheme keeps the order of its last sort plus
the set of *dirty* ideas whose aggregates changed since. ``top`` walks the stale order (skipping
dirty ideas, applying the caller's mask) for ``k + offset`` candidates, adds the masked dirty ideas
(new ideas start dirty) and sorts those few by their current score. Clean ideas keep their
relative order, so the result is the true top list. When the dirty set exceeds
``RankingConfig.refresh_after`` every order is re-sorted. ``trending`` decays uniformly with time,
which never changes its order. New users of a known district change every okrug's resident share,
so the ``broad`` order alone is re-sorted on its next read.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ranking import scores as S
from ranking.aggregate import Aggregates, Tables, aggregate, build_tables
from ranking.arrays import CITY_WIDE, Geography, Ideas, Users, Votes
from ranking.explain import discount_counts, explain_rank
from ranking.growth import Columns
from ranking.incremental import VoteState
from ranking.order import rank_candidates, sort_order, walk_order
from ranking.scores import MERGED_SCORE, SCHEMES, RankingConfig
from ranking.weights import WeightConfig, _check_suspicion, check_inputs

F64 = NDArray[np.float64]
I32 = NDArray[np.int32]
SORTED = tuple(s for s in SCHEMES if s != "random")


def _check_scheme(scheme: str) -> None:
    if scheme not in SCHEMES:
        raise ValueError(f"scheme must be one of {SCHEMES}, got {scheme!r}")


class Snapshot:
    """Per-idea aggregates, every scheme's scores and orders; see the module docstring.

    Examples
    --------
    >>> from ranking.arrays import CITY_WIDE, Geography, Ideas, Users, Votes
    >>> geo = Geography(np.array([0, 1], dtype=np.int16))
    >>> users = Users.build([True] * 4, [0, 0, 1, 1], [0] * 4)
    >>> ideas = Ideas.build([-1, -1, -1], [0, 10, 20], viewers=[10, 20, 0])
    >>> snap = Snapshot.build(Votes.build([0, 0, 1, 1], [0, 2, 0, 1]), users, ideas, geo,
    ...                       now=100)
    >>> snap.top("top").tolist()
    [0, 1, 2]
    >>> snap.top("broad").tolist()
    [0, 1, 2]
    >>> snap.apply_vote(2, 3, 1, 100, +1)
    >>> snap.top("top", k=1).tolist()
    [2]
    """

    def __init__(
        self,
        agg: Aggregates,
        tables: Tables,
        state: VoteState,
        ideas: Ideas,
        weight_config: WeightConfig,
        ranking_config: RankingConfig,
        now: float,
        threads: int = 1,
    ) -> None:
        self._threads = threads
        self._agg = agg
        self._t = tables
        self._state = state
        self._wcfg = weight_config
        self._cfg = ranking_config
        self._now = float(now)
        self._created = ideas.created.astype(np.float64)
        self._idea_viewers = ideas.viewers.astype(np.int64)
        self._viewers = np.bincount(
            ideas.canonical, weights=self._idea_viewers.astype(np.float64), minlength=len(ideas)
        ).astype(np.float64)
        self._alive = ideas.canonical == np.arange(len(ideas), dtype=np.int32)
        self._dirty = np.zeros(len(ideas), dtype=np.bool_)
        self._dirty_list: list[int] = []
        self._dirty_arr = np.zeros(0, dtype=np.int64)  # _dirty_list as an array, rebuilt lazily
        self._orders: dict[str, I32] = {}
        self._stale: set[str] = set()  # schemes whose whole order changed (broad: new users)
        a, t = agg, tables
        self._idea_cols = Columns(
            [(a, f) for f in ("support", "oppose", "voters", "opposers", "decayed")]
            + [(a, "okrug_support")]
            + [(t, f) for f in ("idea_code", "idea_dcode", "canonical", "multi")]
            + [(self, f) for f in ("_created", "_idea_viewers", "_viewers", "_alive", "_dirty")]
        )
        user_fields: list[tuple[object, str]] = [(t, "user_code")]
        if state.counts is not None:
            user_fields.append((state, "counts"))
        self._user_cols = Columns(user_fields)
        self.refresh()

    # ------------------------------------------------------------------ construction

    @classmethod
    def build(
        cls,
        votes: Votes,
        users: Users,
        ideas: Ideas,
        geo: Geography,
        weight_config: WeightConfig | None = None,
        ranking_config: RankingConfig | None = None,
        now: float = 0.0,
        suspicion: object | None = None,
        threads: int = 2,
    ) -> Snapshot:
        """Full recompute: weights, aggregates, every scheme's scores and order.

        Parameters
        ----------
        votes, users, ideas, geo
            Input tables (:mod:`ranking.arrays`). The snapshot keeps references to ``votes``
            (for lazy per-user indexes): do not mutate them afterwards.
        weight_config, ranking_config
            Defaults when omitted.
        now : float
            Unix seconds at which ``trending`` is evaluated (advance with :meth:`advance`).
        suspicion : (n_votes,) floats in [0, 1], optional
            Manipulation suspicion per vote (from :mod:`ranking.signals`).
        threads : int, default 2
            Worker threads of the full recompute (NumPy releases the GIL in most of it).
        """
        wcfg = WeightConfig() if weight_config is None else weight_config
        rcfg = RankingConfig() if ranking_config is None else ranking_config
        if not isinstance(wcfg, WeightConfig):
            raise ValueError(f"weight_config must be a WeightConfig, got {type(wcfg).__name__}")
        if not isinstance(rcfg, RankingConfig):
            raise ValueError(f"ranking_config must be a RankingConfig, got {type(rcfg).__name__}")
        if not np.isfinite(now):
            raise ValueError(f"now must be finite, got {now!r}")
        if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
            raise ValueError(f"threads must be a positive integer, got {threads!r}")
        check_inputs(votes, users, ideas, geo)
        s = _check_suspicion(suspicion, len(votes))
        tables = build_tables(users, ideas, geo, wcfg)
        counts = None
        if wcfg.budget is not None:
            counts = np.bincount(votes.user, minlength=len(users)).astype(np.int64)
        agg, clusters = aggregate(
            votes,
            tables,
            len(users),
            wcfg,
            rcfg.half_life_s,
            float(now),
            s,
            counts,
            rcfg.trending_horizon,
            threads,
        )
        state = VoteState(votes, tables, wcfg, rcfg, s, clusters, counts)
        return cls(agg, tables, state, ideas, wcfg, rcfg, now, threads)

    # ------------------------------------------------------------------ scores

    @property
    def n_ideas(self) -> int:
        return int(self._alive.shape[0])

    @property
    def n_users(self) -> int:
        return int(self._t.user_code.shape[0])

    @property
    def n_dirty(self) -> int:
        """Ideas changed since the last sort."""
        return len(self._dirty_list)

    @property
    def now(self) -> float:
        return self._now

    def advance(self, now: float) -> None:
        """Move the clock ``trending`` is evaluated at (orders are unaffected)."""
        if not np.isfinite(now):
            raise ValueError(f"now must be finite, got {now!r}")
        self._now = float(now)

    def _scores_at(self, scheme: str, idx: NDArray[np.integer] | slice, seed: int = 0) -> F64:
        a, cfg = self._agg, self._cfg
        if scheme == "new":
            return self._created[idx]
        if scheme == "random":
            ids = np.arange(self.n_ideas)[idx]
            return S.random_keys(seed, ids)
        if scheme == "trending":
            return S.trending_score(a.decayed[idx], a.ref_time, self._now, cfg)
        if scheme == "controversial":
            return S.controversial_score(a.support[idx], a.oppose[idx], cfg)
        viewers = self._viewers[idx]
        if scheme == "broad":
            k = self._t.n_okrugs
            return S.broad_score(a.okrug_support[:k, idx], viewers, self._t.share, cfg)
        e = S.exposure(viewers, a.voters[idx])
        if scheme == "top":
            return S.top_score(a.support[idx], a.oppose[idx], e, cfg)
        return S.confident_score(a.support[idx], a.oppose[idx], e, cfg)

    def scores(self, scheme: str, seed: int = 0) -> F64:
        """``(n_ideas,)`` float64 scores of ``scheme``; merged ideas get ``MERGED_SCORE``.

        ``seed`` is used by ``random`` only.
        """
        _check_scheme(scheme)
        out = self._scores_at(scheme, slice(None), seed)
        out = np.array(out, dtype=np.float64)
        out[~self._alive] = MERGED_SCORE
        return out

    def refresh(self) -> None:
        """Re-sort every scheme and clear the dirty set."""

        def one(scheme: str) -> I32:
            return sort_order(self.scores(scheme), self._alive)

        if self._threads > 1:  # sorts and ufuncs release the GIL
            with ThreadPoolExecutor(self._threads) as pool:
                self._orders.update(zip(SORTED, pool.map(one, SORTED), strict=True))
        else:
            self._orders.update((scheme, one(scheme)) for scheme in SORTED)
        self._dirty[self._dirty_list] = False
        self._dirty_list = []
        self._stale.clear()

    # ------------------------------------------------------------------ reads

    def top(
        self,
        scheme: str,
        mask: NDArray[np.bool_] | None = None,
        k: int = 20,
        offset: int = 0,
        seed: int | None = None,
    ) -> I32:
        """Indices of the best ``k`` ideas after ``offset`` among those where ``mask`` is True.

        Parameters
        ----------
        scheme : one of ``SCHEMES``
        mask : (n_ideas,) bool, optional
            Built by the caller from category, district and status. Merged ideas never appear.
        k, offset : int
            Page size and start.
        seed : int
            Required for ``random``: the visitor's seed (same seed, same order).

        Returns
        -------
        (<= k,) int32, best first (score desc, then index desc).
        """
        _check_scheme(scheme)
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 0:
            raise ValueError(f"k must be a non-negative integer, got {k!r}")
        if isinstance(offset, bool) or not isinstance(offset, (int, np.integer)) or offset < 0:
            raise ValueError(f"offset must be a non-negative integer, got {offset!r}")
        if mask is None:
            keep = self._alive
        else:
            m = np.asarray(mask)
            if m.dtype != np.bool_ or m.shape != (self.n_ideas,):
                raise ValueError(f"mask must be a bool array of shape ({self.n_ideas},)")
            keep = m & self._alive
        need = int(k) + int(offset)
        if scheme == "random":
            if seed is None:
                raise ValueError("seed is required for the random scheme")
            cand = np.flatnonzero(keep)
            keys = S.random_keys(int(seed), cand)
            if cand.shape[0] > need:
                part = np.argpartition(-keys, need - 1)[:need] if need else cand[:0]
                cand, keys = cand[part], keys[part]
            return rank_candidates(keys, cand)[offset:need]
        if self.n_dirty > self._cfg.refresh_after:
            self.refresh()
        if scheme in self._stale:
            self._orders[scheme] = sort_order(self.scores(scheme), self._alive)
            self._stale.discard(scheme)
        clean = walk_order(self._orders[scheme], keep & ~self._dirty, need)
        if self._dirty_list:
            if self._dirty_arr.shape[0] != len(self._dirty_list):
                self._dirty_arr = np.asarray(self._dirty_list, dtype=np.int64)
            d = self._dirty_arr
            d = d[keep[d]]
            cand = np.concatenate([clean.astype(np.int64), d])
        else:
            cand = clean.astype(np.int64)
        return rank_candidates(self._scores_at(scheme, cand), cand)[offset:need]

    # ------------------------------------------------------------------ updates

    def _check_idea(self, idea: int) -> int:
        if isinstance(idea, bool) or not isinstance(idea, (int, np.integer)):
            raise ValueError(f"idea must be an integer, got {idea!r}")
        if not 0 <= idea < self.n_ideas:
            raise ValueError(f"idea must be in 0..{self.n_ideas - 1}, got {idea}")
        return int(idea)

    def _touch(self, ideas: list[int]) -> None:
        for c in ideas:
            if not self._dirty[c]:
                self._dirty[c] = True
                self._dirty_list.append(c)

    def apply_vote(
        self, idea: int, user: int, value: int, time: int, delta: int, suspicion: float = 0.0
    ) -> None:
        """Add (``delta=+1``) or withdraw (``delta=-1``) one vote.

        The vote's weight is computed from the stored user and idea attributes and the weight
        config, exactly as the full recompute would. A withdrawal must name the ``value`` and
        ``time`` of the vote being withdrawn; its suspicion is remembered from when it was added.
        Costs a few scalar updates, or ``O(user's votes)`` when a budget re-weights them.
        """
        idea = self._check_idea(idea)
        if isinstance(user, bool) or not isinstance(user, (int, np.integer)):
            raise ValueError(f"user must be an integer, got {user!r}")
        if not 0 <= user < self.n_users:
            raise ValueError(f"user must be in 0..{self.n_users - 1}, got {user}")
        if value not in (1, -1):
            raise ValueError(f"value must be +1 or -1, got {value!r}")
        if delta not in (1, -1):
            raise ValueError(f"delta must be +1 or -1, got {delta!r}")
        if not 0.0 <= suspicion <= 1.0:
            raise ValueError(f"suspicion must be in [0, 1], got {suspicion!r}")
        changed = self._state.apply(
            self._agg, idea, int(user), int(value), int(time), int(delta), float(suspicion)
        )
        self._touch(changed)

    def set_viewers(self, idea: int, viewers: int) -> None:
        """Record the distinct-viewer count of ``idea`` (summed over its duplicate cluster)."""
        idea = self._check_idea(idea)
        if isinstance(viewers, bool) or not isinstance(viewers, (int, np.integer)) or viewers < 0:
            raise ValueError(f"viewers must be a non-negative integer, got {viewers!r}")
        c = int(self._t.canonical[idea])
        self._viewers[c] += int(viewers) - int(self._idea_viewers[idea])
        self._idea_viewers[idea] = int(viewers)
        self._touch([c])

    # ------------------------------------------------------------------ growth

    def add_ideas(self, district: object, created: object, viewers: object | None = None) -> I32:
        """Append new ideas (no votes, not merged) and return their indices.

        Parameters
        ----------
        district : int or (m,) ints
            District index of each idea, ``CITY_WIDE`` (-1) for the whole city.
        created : int or (m,) ints
            Unix seconds of publication (>= 0).
        viewers : int or (m,) ints, optional
            Distinct viewers recorded so far (>= 0); 0 when omitted.

        Scalars broadcast against arrays; all arrays must have the same length. The new ideas
        get every scheme's score exactly as a full build with them would (``top`` at the prior,
        ``new`` by ``created``) and are read by :meth:`top` at once: they join the dirty set
        until the next re-sort. Amortised O(1) per idea (the per-idea arrays double their
        capacity when full).

        Returns
        -------
        (m,) int32, the new indices ``n_ideas_before .. n_ideas_after - 1``.

        Examples
        --------
        >>> from ranking.arrays import Geography, Ideas, Users, Votes
        >>> snap = Snapshot.build(Votes.build([0], [0]), Users.build([True], [0], [0]),
        ...                       Ideas.build([0], [10]), Geography(np.array([0], np.int16)))
        >>> snap.add_ideas([-1, 0], [20, 30]).tolist()
        [1, 2]
        >>> snap.top("new").tolist()
        [2, 1, 0]
        """
        nd = self._t.n_districts
        cols = _columns(
            {"district": district, "created": created, "viewers": 0 if viewers is None else viewers}
        )
        d, c, v = cols["district"], cols["created"], cols["viewers"]
        if d.size and (d.min() < CITY_WIDE or d.max() >= nd):
            raise ValueError(f"district must be in -1..{nd - 1}, got {d.tolist()}")
        if c.size and c.min() < 0:
            raise ValueError("created must be >= 0 (Unix seconds)")
        if v.size and v.min() < 0:
            raise ValueError("viewers must be >= 0")
        n0, m = self.n_ideas, int(d.shape[0])
        n1 = n0 + m
        if m == 0:
            return np.zeros(0, dtype=np.int32)
        self._idea_cols.resize(n0, n1)
        new = slice(n0, n1)
        a, t = self._agg, self._t
        for col in (a.support, a.oppose, a.voters, a.opposers, a.decayed):
            col[new] = 0.0
        a.okrug_support[:, new] = 0.0
        t.idea_dcode[new] = d + 1
        t.idea_code[new] = d + 1
        t.canonical[new] = np.arange(n0, n1, dtype=np.int32)
        t.multi[new] = False
        t.slot_offset = t.user_slot * n1
        self._created[new] = c
        self._idea_viewers[new] = v
        self._viewers[new] = v
        self._alive[new] = True
        self._dirty[new] = False
        self._touch(list(range(n0, n1)))
        return np.arange(n0, n1, dtype=np.int32)

    def add_users(self, verified: object, district: object, created: object) -> I32:
        """Append new users (no votes yet) and return their indices.

        Parameters
        ----------
        verified : bool or (m,) bools
            Verified resident of the city.
        district : int or (m,) ints
            Home district index, ``CITY_WIDE`` (-1) when unknown.
        created : int or (m,) ints
            Unix seconds the account was created (>= 0; validated, not used by the weights).

        Scalars broadcast against arrays. Their votes, passed to :meth:`apply_vote`, weigh
        exactly as in a full build with them (resident and district factors, budget counts).
        Amortised O(1) per user, plus O(okrugs) per call. A user of a known district changes
        every okrug's resident share, hence every ``broad`` score: the ``broad`` order is
        re-sorted on its next read (O(n_ideas log n_ideas)); add users in batches where that
        matters.

        Returns
        -------
        (m,) int32, the new indices ``n_users_before .. n_users_after - 1``.

        Examples
        --------
        >>> from ranking.arrays import Geography, Ideas, Users, Votes
        >>> snap = Snapshot.build(Votes.build([0], [0]), Users.build([True], [0], [0]),
        ...                       Ideas.build([0, 0], [10, 20]), Geography(np.array([0], np.int16)))
        >>> snap.add_users(True, [0, -1], 50).tolist()
        [1, 2]
        >>> snap.apply_vote(0, 2, 1, 60, 1)
        >>> snap.top("top").tolist()
        [0, 1]
        """
        nd = self._t.n_districts
        cols = _columns({"verified": verified, "district": district, "created": created})
        v, d, c = cols["verified"], cols["district"], cols["created"]
        if v.size and (v.min() < 0 or v.max() > 1):
            raise ValueError("verified must hold booleans (or 0/1)")
        if d.size and (d.min() < CITY_WIDE or d.max() >= nd):
            raise ValueError(f"district must be in -1..{nd - 1}, got {d.tolist()}")
        if c.size and c.min() < 0:
            raise ValueError("created must be >= 0 (Unix seconds)")
        u0, m = self.n_users, int(d.shape[0])
        u1 = u0 + m
        if m == 0:
            return np.zeros(0, dtype=np.int32)
        t = self._t
        code = (d + 1) * 2 + v
        share = t.share
        self._user_cols.resize(u0, u1)
        t.user_code[u0:u1] = code
        if self._state.counts is not None:
            self._state.counts[u0:u1] = 0
        self._state.n_users = u1
        t.add_users(code)
        if not np.array_equal(share, t.share):
            self._stale.add("broad")
        return np.arange(u0, u1, dtype=np.int32)

    # ------------------------------------------------------------------ explanations

    def explain(self, idea: int, scheme: str, rank: int | None = None) -> dict[str, Any]:
        """The numbers behind one idea's rank in ``scheme`` (for a "why this rank" line).

        Keys: ``idea``, ``canonical``, ``merged``, ``scheme``, ``score``, ``rank`` (1-based
        among all listed ideas), ``raw_supporters``, ``raw_opposers``, ``weighted_support``,
        ``weighted_oppose``, ``discounted_weight`` (supporters minus weighted support: what the
        discounts took away), ``mean_weight``, ``viewers``, ``denominator`` (``E``),
        ``prior_mean``, ``prior_strength``, ``prior_share`` (weight of the prior in the smoothed
        rate), and per scheme: ``half_life_s`` (trending), ``okrug_rates`` (broad).

        ``rank``: a list page knows each idea's position in *its* (filtered) list; passing it
        skips computing the global rank, and the call costs O(1) instead of O(n_ideas).
        """
        idea = self._check_idea(idea)
        _check_scheme(scheme)
        if rank is not None and (isinstance(rank, bool) or not isinstance(rank, int) or rank < 1):
            raise ValueError(f"rank must be a positive int or None, got {rank!r}")
        if rank is None:
            scores = self.scores(scheme)
        else:  # the caller knows the position (a list page): score just this idea, O(1)
            c = np.array([self._t.canonical[idea]], dtype=np.int64)
            scores = self._scores_at(scheme, c)
        return explain_rank(
            self._agg,
            self._t,
            self._viewers,
            self._alive,
            scores,
            self._cfg,
            idea,
            scheme,
            rank,
        )

    def discounts(self, idea: int) -> dict[str, int]:
        """Why votes on the idea's duplicate cluster lost weight (for the moderator view).

        Keys: ``votes``, ``supports``, ``discounted`` (weight below 1), and how many votes each
        factor reduced: ``unverified``, ``district``, ``budget``, ``suspicion`` (a vote may count
        under several). Scans the vote table once: O(n_votes), not for list pages.
        """
        return discount_counts(self._state, self._wcfg, self._check_idea(idea))


def _columns(args: dict[str, object]) -> dict[str, NDArray[np.int64]]:
    """Integer scalars or equal-length 1-D arrays, broadcast to one length (ValueError naming
    the argument otherwise)."""
    out: dict[str, NDArray[np.int64]] = {}
    n: int | None = None
    for name, x in args.items():
        a = np.asarray(x)
        if a.ndim > 1:
            raise ValueError(f"{name} must be a scalar or one-dimensional, got shape {a.shape}")
        if a.size and a.dtype.kind not in "biu":
            raise ValueError(f"{name} must hold integers, got dtype {a.dtype}")
        if a.ndim == 1:
            if n is not None and a.shape[0] != n:
                raise ValueError(f"{name} must have length {n}, got {a.shape[0]}")
            n = int(a.shape[0])
        out[name] = a.astype(np.int64)
    length = 1 if n is None else n
    return {name: np.broadcast_to(a, (length,)) for name, a in out.items()}
