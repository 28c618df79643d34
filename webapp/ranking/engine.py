"""The app's ranking snapshot: built from the database, kept current from the event log.

Every worker process holds one ``RankingService``. At start-up it loads the votes into arrays
and builds a ``ranking.snapshot.Snapshot`` (all schemes at once). After that it never aggregates
votes in SQL: every ``poll()`` reads the ``ranking_events`` written since its cursor — by any
worker — and applies them incrementally, so each worker reflects every vote within one poll
interval (``VECHE_RANKING_POLL_SECONDS``). A 'recompute' event (bulk import, merge, weight
decision) or an idea or user it has never seen makes it rebuild from scratch.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from ranking.arrays import CITY_WIDE
from ranking.scores import RankingConfig
from ranking.signals import BURST, FRESH, LOCKSTEP, SignalConfig, Signals, detect_signals
from ranking.snapshot import Snapshot
from ranking.weights import WeightConfig
from webapp.kernel.errors import ServiceUnavailable
from webapp.kernel.settings import Settings
from webapp.kernel.storage.faults import UNAVAILABLE_MESSAGE
from webapp.kernel.storage.models import PUBLIC_STATUSES, RankingEvent
from webapp.ranking import ranking_arrays, signal_arrays, signal_review

log = logging.getLogger("veche.ranking")
EVENT_BATCH = 20_000
GAP_WAIT_S = 5.0
INLINE_REBUILD_VOTES = 200_000
REFRESH_DIRTY = 2_000  # re-sort once this many ideas changed since the last sort  # below this a rebuild takes well under 100 ms
PUBLIC_CODES = np.array([ranking_arrays.STATUS_CODE[s] for s in PUBLIC_STATUSES], dtype=np.int8)


def weight_config(settings: Settings) -> WeightConfig:
    return WeightConfig(
        verified=settings.weight_verified,
        unverified=settings.weight_unverified,
        same_district=settings.weight_same_district,
        same_okrug=settings.weight_same_okrug,
        other_district=settings.weight_other_district,
        budget=settings.support_budget or None,
        max_suspicion_discount=settings.max_suspicion_discount,
    )


def ranking_config(settings: Settings) -> RankingConfig:
    return RankingConfig(half_life_s=settings.trending_half_life_hours * 3600.0)


def confidence_level(config: RankingConfig) -> float:
    """How sure the ``confident`` lower bound is: the one-sided normal level of ``z`` (0.95)."""
    return 0.5 * (1.0 + math.erf(config.z / math.sqrt(2.0)))


@dataclass(frozen=True)
class ListFilter:
    """Which ideas a ranked list shows (database ids; None = any)."""

    category_id: int | None = None
    district_ids: tuple[int, ...] | None = None  # a district, or an okrug and its districts
    status: str | None = None
    project_id: int | None = None


@dataclass
class _State:
    snapshot: Snapshot
    loaded: ranking_arrays.Loaded
    idea_index: dict[int, int]
    user_index: dict[int, int]
    cursor: int
    built_at: float
    signals: Signals | None
    cleared: NDArray[np.bool_] | None = None  # flagged votes a moderator's lift cleared
    review: list[dict[str, Any]] | None = None  # signal_clusters(), computed on first use


class RankingService:
    """Thread-safe holder of the snapshot; reads take a lock for a few milliseconds."""

    def __init__(self, settings: Settings, factory: sessionmaker[Session]) -> None:
        self.settings = settings
        self.factory = factory
        self.weights = weight_config(settings)
        self.config = ranking_config(settings)
        self._lock = threading.RLock()
        self._state: _State | None = None
        self.rebuilds = 0
        self._gaps: dict[int, float] = {}

    # --- building --------------------------------------------------------------------------

    def rebuild(self) -> None:
        """Load everything and build a fresh snapshot (start-up, bulk changes)."""
        started = time.perf_counter()
        loaded = self._load_consistent()
        signals = self._signals(loaded)
        cleared = self._cleared(loaded, signals)
        snapshot = Snapshot.build(
            loaded.votes,
            loaded.users,
            loaded.ideas,
            loaded.geo,
            self.weights,
            self.config,
            now=time.time(),
            suspicion=signal_arrays.in_force(signals, cleared),
        )
        state = _State(
            snapshot=snapshot,
            loaded=loaded,
            idea_index={int(i): n for n, i in enumerate(loaded.columns.ids)},
            user_index={int(u): n for n, u in enumerate(loaded.user_ids)},
            cursor=loaded.last_event_id,
            built_at=time.time(),
            signals=signals,
            cleared=cleared,
        )
        with self._lock:
            self._state = state
            self.rebuilds += 1
        log.info(
            "ranking rebuilt: %d ideas, %d votes in %.2f s",
            len(loaded.ideas),
            len(loaded.votes),
            time.perf_counter() - started,
        )

    def _signals(self, loaded: ranking_arrays.Loaded) -> Signals | None:
        if len(loaded.votes) == 0:
            return None
        return detect_signals(loaded.votes, loaded.users, SignalConfig())

    def _cleared(
        self, loaded: ranking_arrays.Loaded, signals: Signals | None
    ) -> NDArray[np.bool_] | None:
        """Flagged votes whose discount a moderator lifted (``webapp.ranking.signal_review``)."""
        if signals is None:
            return None
        with self.factory() as session:
            lifts = signal_review.lift_times(session)
        return signal_arrays.cleared_votes(loaded, signals, lifts)

    def _load_consistent(self) -> ranking_arrays.Loaded:
        """Votes and event cursor from one consistent view of the database."""
        for _ in range(5):
            with self.factory() as session, session.begin():
                if session.get_bind().dialect.name == "postgresql":
                    session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
                    return ranking_arrays.load(session)
                loaded = ranking_arrays.load(session)
                # SQLite reads without a snapshot: accept the load only if nothing was logged meanwhile.
                if ranking_arrays.last_event_id(session) == loaded.last_event_id:
                    return loaded
        return loaded

    # --- keeping current -----------------------------------------------------------------

    def poll(self, allow_rebuild: bool = True) -> int:
        """Apply the events logged since the cursor; returns how many were applied.

        With ``allow_rebuild=False`` (a request applying its own vote at once) it stops short of
        a rebuild and leaves that to the background task.
        """
        state = self._state
        if state is None:
            if allow_rebuild:
                self.rebuild()
            return 0
        with self.factory() as session:
            events = session.execute(
                select(
                    RankingEvent.id,
                    RankingEvent.kind,
                    RankingEvent.idea_id,
                    RankingEvent.user_id,
                    RankingEvent.value,
                    RankingEvent.delta,
                    ranking_arrays.epoch(session, RankingEvent.vote_at),
                )
                .where(RankingEvent.id > state.cursor)
                .order_by(RankingEvent.id)
                .limit(EVENT_BATCH)
            ).all()
            if not events:
                return 0
            if any(e.kind == "recompute" for e in events):
                session.close()
                if not allow_rebuild:
                    return 0
                self.rebuild()
                return len(events)
            new_ideas, new_users = self._unknown(state, events)
            grown_ideas = ranking_arrays.idea_rows(session, new_ideas)
            grown_users = ranking_arrays.user_rows(session, new_users)
            idea_rows = {
                e.idea_id: ranking_arrays.idea_row(session, e.idea_id)
                for e in events
                if e.kind == "idea" and e.idea_id is not None
            }
        with self._lock:
            if state.cursor >= events[-1].id:  # another thread applied them meanwhile
                return 0
            self._grow(state, grown_ideas, grown_users)
            for e in events:
                if e.id <= state.cursor:
                    continue
                if e.id != state.cursor + 1 and not self._gap_expired(state.cursor + 1):
                    break  # an earlier transaction has not committed yet: wait for it
                if e.kind == "vote" and (
                    e.idea_id not in state.idea_index or e.user_id not in state.user_index
                ):
                    log.warning("ranking event %s names a missing idea or user; skipped", e.id)
                elif e.kind == "vote":
                    state.snapshot.apply_vote(
                        state.idea_index[e.idea_id],
                        state.user_index[e.user_id],
                        int(e.value),
                        int(e[6] or 0),
                        int(e.delta),
                    )
                elif e.kind == "idea" and idea_rows.get(e.idea_id) is not None:
                    self._update_idea(state, idea_rows[e.idea_id])
                state.cursor = int(e.id)
            state.snapshot.advance(time.time())
            if state.snapshot.n_dirty > REFRESH_DIRTY:
                state.snapshot.refresh()  # here, in the background, not in a request's top()
        return len(events)

    def _gap_expired(self, missing_id: int) -> bool:
        """PostgreSQL hands out ids before commit, so id N+1 may be visible before N.

        A gap is waited for up to GAP_WAIT_S (a transaction still committing), then accepted
        (a rolled-back transaction leaves a permanent hole in the sequence).
        """
        first_seen = self._gaps.setdefault(missing_id, time.monotonic())
        if time.monotonic() - first_seen < GAP_WAIT_S:
            return False
        self._gaps.clear()
        return True

    def _unknown(self, state: _State, events: Sequence[Any]) -> tuple[list[int], list[int]]:
        """Ideas and users the events name that the snapshot has not seen yet."""
        # membership tests, not `set - dict.keys()`: that copies every key of the index (a
        # million users) on each poll
        known_ideas, known_users = state.idea_index, state.user_index
        ideas = {
            e.idea_id for e in events if e.idea_id is not None and e.idea_id not in known_ideas
        }
        users = {e.user_id for e in events if e.kind == "vote" and e.user_id not in known_users}
        return sorted(ideas), sorted(users)

    def _grow(self, state: _State, ideas: list[Any], users: list[Any]) -> None:
        """Append new ideas and users to the snapshot in place (no rebuild)."""
        ideas = [r for r in ideas if r[0] not in state.idea_index]
        users = [r for r in users if r[0] not in state.user_index]
        index = state.loaded.district_index
        if ideas:
            added = state.snapshot.add_ideas(
                district=ranking_arrays.district_indices([r[1] for r in ideas], index),
                created=np.array([max(0, r[4] or 0) for r in ideas], dtype=np.int64),
                viewers=np.array([r[5] or 0 for r in ideas], dtype=np.int64),
            )
            columns = state.loaded.columns
            columns.ids = np.concatenate([columns.ids, np.array([r[0] for r in ideas], np.int64)])
            columns.category = np.concatenate(
                [
                    columns.category,
                    np.array([-1 if r[2] is None else r[2] for r in ideas], np.int32),
                ]
            )
            columns.district = np.concatenate(
                [
                    columns.district,
                    np.array([-1 if r[1] is None else r[1] for r in ideas], np.int32),
                ]
            )
            columns.status = np.concatenate(
                [
                    columns.status,
                    np.array([ranking_arrays.STATUS_CODE[r[3]] for r in ideas], np.int8),
                ]
            )
            columns.project = np.concatenate(
                [columns.project, np.array([r[7] for r in ideas], np.int32)]
            )
            state.idea_index.update({int(r[0]): int(i) for r, i in zip(ideas, added, strict=True)})
        if users:
            added = state.snapshot.add_users(
                verified=np.array([bool(r[1]) for r in users], dtype=np.bool_),
                district=ranking_arrays.district_indices([r[2] for r in users], index),
                created=np.array([max(0, r[3] or 0) for r in users], dtype=np.int64),
            )
            state.user_index.update({int(r[0]): int(i) for r, i in zip(users, added, strict=True)})

    def _update_idea(self, state: _State, row: Any) -> None:
        index = state.idea_index[row[0]]
        columns = state.loaded.columns
        columns.category[index] = -1 if row[2] is None else row[2]
        columns.district[index] = -1 if row[1] is None else row[1]
        columns.status[index] = ranking_arrays.STATUS_CODE[row[3]]
        columns.project[index] = row[7]
        state.snapshot.set_viewers(index, int(row[5] or 0))

    def catch_up(self) -> None:
        """Before answering a request: apply what other workers logged (read-your-writes).

        Cheap (one indexed query for events past the cursor). A rebuild, if one is needed, runs
        here only while the snapshot is small; otherwise the background task does it.
        """
        state = self._state
        small = state is None or len(state.loaded.votes) <= INLINE_REBUILD_VOTES
        self.poll(allow_rebuild=small)

    # --- reading -----------------------------------------------------------------------------

    def _mask(self, state: _State, flt: ListFilter) -> NDArray[np.bool_]:
        columns = state.loaded.columns
        mask: NDArray[np.bool_]
        if flt.status is not None:
            mask = np.asarray(columns.status == ranking_arrays.STATUS_CODE[flt.status])
        else:
            mask = np.isin(columns.status, PUBLIC_CODES)
        if flt.category_id is not None:
            mask &= columns.category == flt.category_id
        if flt.district_ids is not None:
            mask &= np.isin(columns.district, np.asarray(flt.district_ids, dtype=np.int32))
        if flt.project_id is not None:
            mask &= columns.project == flt.project_id
        return mask

    def page(
        self, flt: ListFilter, scheme: str, page: int, page_size: int, seed: int = 0
    ) -> tuple[list[int], int]:
        """Database ids of one page of the ranked list, and the total number of matches."""
        with self._lock:
            state = self._require()
            mask = self._mask(state, flt)
            total = int(mask.sum())
            offset = (page - 1) * page_size
            if offset >= total:
                return [], total
            order = state.snapshot.top(scheme, mask, k=page_size, offset=offset, seed=seed)
            return [int(i) for i in state.loaded.columns.ids[order]], total

    def order(self, idea_ids: list[int], scheme: str, seed: int = 0) -> list[int]:
        """Sort given ideas (e.g. search matches) by a scheme."""
        with self._lock:
            state = self._require()
            known = [i for i in idea_ids if i in state.idea_index]
            if not known:
                return []
            mask = np.zeros(len(state.loaded.columns.ids), dtype=np.bool_)
            mask[[state.idea_index[i] for i in known]] = True
            order = state.snapshot.top(scheme, mask, k=len(known), offset=0, seed=seed)
            return [int(i) for i in state.loaded.columns.ids[order]]

    def explain(self, idea_id: int, scheme: str, rank: int | None = None) -> dict[str, Any] | None:
        """The "why this rank" numbers; ``rank`` = the idea's position in the caller's list."""
        with self._lock:
            state = self._state
            if state is None or idea_id not in state.idea_index:
                return None
            out = dict(state.snapshot.explain(state.idea_index[idea_id], scheme, rank))
        out["confidence"] = confidence_level(self.config)  # for the words of "why here"
        return out

    def discounts(self, idea_id: int) -> dict[str, Any] | None:
        """Why the weights of an idea's votes fell, for moderators (as of the last full build).

        Counts by reason — unverified accounts, where voters live relative to the idea, and the
        manipulation signals — plus the most suspicious votes with their user ids.
        """
        with self._lock:
            state = self._state
            if state is None or idea_id not in state.idea_index:
                return None
            loaded = state.loaded
            position = state.idea_index[idea_id]
            c = int(loaded.ideas.canonical[position]) if position < len(loaded.ideas) else -1
            sel = np.flatnonzero(loaded.ideas.canonical[loaded.votes.idea] == c)  # none if new
            voters = loaded.votes.user[sel]
            verified = loaded.users.verified[voters]
            home = loaded.users.district[voters]
            place = int(loaded.ideas.district[c]) if c >= 0 else CITY_WIDE
            okrug_of = loaded.geo.okrug_of
            if place < 0:
                same = near = np.zeros(len(sel), dtype=np.bool_)
            else:
                same = home == place
                near = (home >= 0) & (okrug_of[np.maximum(home, 0)] == okrug_of[place]) & ~same
            out: dict[str, Any] = {
                "votes": len(sel),
                "supports": int((loaded.votes.value[sel] == 1).sum()),
                "unverified": int((~verified).sum()),
                "city_wide": place < 0,
                "same_district": int(same.sum()),
                "same_okrug": int(near.sum()),
                "elsewhere": 0 if place < 0 else int(len(sel) - same.sum() - near.sum()),
                "built_at": state.built_at,
                "burst": 0,
                "fresh": 0,
                "lockstep": 0,
                "cleared": 0,
                "suspicious": [],
            }
            if state.signals is not None:
                bits = state.signals.reason_bits[sel]
                suspicion = state.signals.suspicion[sel]
                cleared = (
                    np.zeros(len(sel), dtype=np.bool_)
                    if state.cleared is None
                    else state.cleared[sel]
                )
                out["burst"] = int(((bits & BURST) > 0).sum())
                out["fresh"] = int(((bits & FRESH) > 0).sum())
                out["lockstep"] = int(((bits & LOCKSTEP) > 0).sum())
                out["cleared"] = int(cleared.sum())
                worst = np.argsort(-suspicion, kind="stable")[:20]
                out["suspicious"] = [
                    {
                        "user_id": int(loaded.user_ids[voters[i]]),
                        "time": int(loaded.votes.time[sel[i]]),
                        "suspicion": float(suspicion[i]),
                        "burst": bool(bits[i] & BURST),
                        "fresh": bool(bits[i] & FRESH),
                        "lockstep": bool(bits[i] & LOCKSTEP),
                        "lifted": bool(cleared[i]),
                    }
                    for i in worst
                    if suspicion[i] > 0
                ]
            return out

    def signal_clusters(self) -> list[dict[str, Any]]:
        """Clusters whose votes the manipulation signals flagged, largest weight at stake first.

        As of the last full build (``webapp.ranking.signal_arrays.cluster_rows``); computed
        once per build, on the first call.
        """
        with self._lock:
            state = self._state
            if state is None:
                return []
            if state.review is None:
                state.review = signal_arrays.cluster_rows(
                    state.loaded, state.signals, state.cleared, self.weights
                )
            return list(state.review)

    def _require(self) -> _State:
        if self._state is None:  # the database was down at start-up: the poller builds it
            raise ServiceUnavailable(UNAVAILABLE_MESSAGE)
        return self._state

    @property
    def cursor(self) -> int:
        return self._state.cursor if self._state else 0

    @property
    def built_at(self) -> float | None:
        """Unix time of the last full build (the signals are as of then), None before it."""
        return self._state.built_at if self._state else None
