"""Live tallies: each worker keeps every poll it shows in the NumPy core, current per answer.

A poll's results page must not count a million answers for each reader. Each worker keeps, per
poll it has shown, a :class:`ranking.polls.PollTally` (counts per question option × district,
flagged respondents apart) built once from the database with two streamed queries and then kept
current one respondent at a time:

- **Per answer.** A resident's answer (form or API) marks the poll's tally in that worker stale
  (:func:`note_answer`); its next read applies the change at once. Other workers catch up on
  their next read, at most ``SYNC_INTERVAL_S`` later: they read the responses changed since
  their watermark (the ``(poll_id, updated_at)`` index), and for each one whose version they do
  not hold yet, its answers, and replace the respondent's old ballot with the new one (the
  core's :meth:`~ranking.polls.PollTally.replace`, exactly equal to a rebuild). The watermark
  looks back ``OVERLAP_S`` so an answer committed a little after its timestamp is not missed;
  re-reading is idempotent (versions are compared).
- **Deletions.** An account deleted with its answers cannot be seen by a catch-up read; every
  ``CHECK_INTERVAL_S`` the tally compares its respondent count with the database's and rebuilds
  on a difference.
- **Integrity.** The manipulation signals (:func:`ranking.polls.poll_signals`: bursts, waves of
  fresh accounts, lockstep) run over the submissions of this poll and the polls open around it,
  at build and then when answers have arrived and ``SIGNALS_INTERVAL_S`` has passed; a
  respondent whose submission here is flagged moves to the flagged strata
  (``replace(r, b, b, flagged=True)``), so every result exists with and without them.

Nothing here returns an individual's answer: the tally holds counts; the respondents' ballots
are kept (as index arrays) only to take them out again when they change.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import numpy.typing as npt
from sqlalchemy import BigInteger, case, cast, func, select
from sqlalchemy.orm import Session

from ranking.polls import Ballot, PollSignals, PollSpec, PollTally, Question, poll_signals
from ranking.signals import BURST, FRESH, LOCKSTEP
from webapp.kernel.storage.models import (
    District,
    Poll,
    PollAnswer,
    PollOption,
    PollQuestion,
    PollResponse,
    User,
)

SYNC_INTERVAL_S = 1.0
OVERLAP_S = 10.0
CHECK_INTERVAL_S = 30.0
SIGNALS_INTERVAL_S = 60.0
SIGNALS_WINDOW = timedelta(days=7)  # polls open this close to this one's window are compared
MAX_POLLS = 32  # tallies kept per worker (least recently used dropped)
CHUNK = 500

IntArray = npt.NDArray[np.int64]
NONE = -(2**62)  # a NULL option or value in the arrays
KIND_CODE = {"single": 0, "multiple": 1, "scale": 2, "ranking": 3}


# --- how the database's ids map to the core's indices -----------------------------------------


@dataclass(frozen=True)
class Layout:
    """A poll's questions and the city's districts as the core's indices.

    Options of a single- or multiple-choice question with a free answer get one more index,
    ``other`` (both kinds are the core's "multiple": the form enforces the number of choices,
    the tally counts what is stored); a scale's points are options ``value - scale_min``; a ranking's place ``p``
    (1 = first) is position ``p - 1``.
    """

    spec: PollSpec
    question_ids: tuple[int, ...]
    kinds: tuple[str, ...]
    option_ids: tuple[tuple[int, ...], ...]  # per question, the options in order (no "other")
    other: tuple[int, ...]  # per question, the "other" option index, or -1
    scale_min: tuple[int, ...]
    district_ids: tuple[int, ...]  # index -> district id
    q_index: dict[int, int]
    o_index: dict[int, int]  # option id -> index within its question
    d_index: dict[int, int]
    stamp: tuple[object, ...]

    @classmethod
    def build(cls, session: Session, poll: Poll) -> Layout:
        questions = session.scalars(
            select(PollQuestion)
            .where(PollQuestion.poll_id == poll.id)
            .order_by(PollQuestion.position, PollQuestion.id)
        ).all()
        options: dict[int, list[int]] = {}
        for qid, oid in session.execute(
            select(PollOption.question_id, PollOption.id)
            .join(PollQuestion, PollQuestion.id == PollOption.question_id)
            .where(PollQuestion.poll_id == poll.id)
            .order_by(PollOption.position, PollOption.id)
        ):
            options.setdefault(qid, []).append(oid)
        district_ids = tuple(session.scalars(select(District.id).order_by(District.id)))
        specs: list[Question] = []
        kinds: list[str] = []
        other: list[int] = []
        smin: list[int] = []
        o_index: dict[int, int] = {}
        for q in questions:
            opts = options.get(q.id, [])
            for i, oid in enumerate(opts):
                o_index[oid] = i
            kinds.append(q.kind)
            smin.append(q.scale_min or 0)
            if q.kind == "scale":
                lo, hi = q.scale_min or 0, q.scale_max or 0
                points = max(hi - lo + 1, 2)
                specs.append(
                    Question("scale", points, values=tuple(float(lo + i) for i in range(points)))
                )
                other.append(-1)
            elif q.kind == "ranking":
                n = max(len(opts), 2)
                specs.append(Question("ranking", n, max_choices=n))
                other.append(-1)
            else:
                n = len(opts) + (1 if q.allow_other else 0)
                other.append(len(opts) if q.allow_other else -1)
                # single and multiple choice count alike (a share of the respondents); the
                # answer form enforces how many choices a question takes, the tally only counts
                specs.append(Question("multiple", max(n, 1)))
        spec = PollSpec(tuple(specs) or (Question("single", 2),), max(len(district_ids), 1))
        return cls(
            spec=spec,
            question_ids=tuple(q.id for q in questions),
            kinds=tuple(kinds),
            option_ids=tuple(tuple(options.get(q.id, [])) for q in questions),
            other=tuple(other),
            scale_min=tuple(smin),
            district_ids=district_ids,
            q_index={qid: i for i, qid in enumerate(q.id for q in questions)},
            o_index=o_index,
            d_index={d: i for i, d in enumerate(district_ids)},
            stamp=(poll.frozen_at, poll.updated_at),
        )

    def district(self, district_id: int | None) -> int:
        if district_id is None:
            return -1
        return self.d_index.get(district_id, -1)

    def rows(
        self, question_id: IntArray, option_id: IntArray, value: IntArray, other: IntArray
    ) -> tuple[IntArray, IntArray, IntArray, npt.NDArray[np.bool_]]:
        """Answer rows (ids; ``option_id`` and ``value`` ``NONE`` where NULL, ``other`` 1 for a
        free-text answer) as the core's (question, option, position) indices, vectorised;
        ``keep`` marks the rows that are tallied."""
        n = question_id.size
        q = np.full(n, -1, dtype=np.int64)
        o = np.full(n, -1, dtype=np.int64)
        p = np.zeros(n, dtype=np.int64)
        if n == 0 or not self.question_ids:
            return q, o, p, np.zeros(n, dtype=np.bool_)
        q_ids = np.asarray(self.question_ids, dtype=np.int64)
        q_order = np.argsort(q_ids)
        j = np.minimum(np.searchsorted(q_ids[q_order], question_id), q_ids.size - 1)
        known_q = q_ids[q_order][j] == question_id
        qi = np.where(known_q, q_order[j], -1)
        kinds = np.asarray([KIND_CODE[k] for k in self.kinds], dtype=np.int64)
        kind = np.where(known_q, kinds[np.maximum(qi, 0)], -1)
        # options: by id
        o_ids = np.fromiter(self.o_index, dtype=np.int64, count=len(self.o_index))
        o_pos = np.fromiter(self.o_index.values(), dtype=np.int64, count=len(self.o_index))
        oi = np.full(n, -1, dtype=np.int64)
        has_opt = option_id != NONE
        if o_ids.size:
            order = np.argsort(o_ids)
            k = np.minimum(np.searchsorted(o_ids[order], option_id), o_ids.size - 1)
            found = has_opt & (o_ids[order][k] == option_id)
            oi = np.where(found, o_pos[order][k], -1)
        has_val = value != NONE
        choice = known_q & has_opt & (kind != KIND_CODE["ranking"]) & (kind != KIND_CODE["scale"])
        ranked = known_q & has_opt & (kind == KIND_CODE["ranking"]) & has_val
        scale = known_q & ~has_opt & (kind == KIND_CODE["scale"]) & has_val
        other_idx = np.asarray(self.other, dtype=np.int64)
        free = known_q & ~has_opt & (other != 0) & (other_idx[np.maximum(qi, 0)] >= 0)
        smin = np.asarray(self.scale_min, dtype=np.int64)
        for mask in (choice, ranked, scale, free):
            q[mask] = qi[mask]
        o[choice | ranked] = oi[choice | ranked]
        p[ranked] = value[ranked] - 1
        o[scale] = value[scale] - smin[qi[scale]]
        o[free] = other_idx[qi[free]]
        keep = (q >= 0) & (o >= 0) & (p >= 0)
        return q, o, p, keep


def _epoch_us(column: Any, dialect: str) -> Any:
    """A timestamp column as integer microseconds since 1970 (UTC), computed by the database,
    so every read of a version gives the same integer."""
    if dialect == "sqlite":  # stored naive UTC as 'YYYY-MM-DD HH:MM:SS[.ffffff]'
        micro = func.coalesce(func.nullif(func.substr(column, 21, 6), ""), "0")
        return cast(func.strftime("%s", column), BigInteger) * 1_000_000 + cast(micro, BigInteger)
    return cast(func.extract("epoch", column) * 1_000_000, BigInteger)


def _int_rows(session: Session, stmt: Any, width: int, batch: int = 100_000) -> IntArray:
    """The rows of ``stmt`` (integer columns only) as one (n, width) int64 array, read through
    the driver's cursor in batches: the ORM's per-row work costs ~20 µs a row, this ~0.5 µs.
    The statement's parameters are integers and dates of our own, inlined by the dialect."""
    conn = session.connection()
    sql = str(stmt.compile(dialect=conn.dialect, compile_kwargs={"literal_binds": True}))
    raw: Any = conn.connection.driver_connection
    if conn.dialect.name == "postgresql":  # a server-side cursor streams instead of buffering
        cursor = raw.cursor(name=f"veche_tally_{threading.get_ident()}_{time.monotonic_ns()}")
    else:
        cursor = raw.cursor()
    blocks: list[IntArray] = []
    try:
        cursor.execute(sql)
        while True:
            part = cursor.fetchmany(batch)
            if not part:
                break
            blocks.append(np.asarray(part, dtype=np.int64).reshape(-1, width))
    finally:
        cursor.close()
    return np.concatenate(blocks) if blocks else np.zeros((0, width), dtype=np.int64)


def _answer_columns() -> Any:
    """The answer rows as five integers: response, question, option (NONE: NULL), value (NONE:
    NULL), 1 for a free-text answer."""
    return select(
        PollAnswer.response_id,
        PollAnswer.question_id,
        func.coalesce(PollAnswer.option_id, NONE),
        func.coalesce(PollAnswer.value, NONE),
        case((PollAnswer.other_text.is_(None), 0), else_=1),
    )


# --- one poll's live tally ------------------------------------------------------------------------


@dataclass
class Flags:
    """The integrity signals' verdict on one poll's submissions."""

    flagged: int = 0
    burst: int = 0
    fresh: int = 0
    lockstep: int = 0
    computed_at: float = 0.0
    at_respondents: int = -1
    accounts: list[tuple[int, datetime, int]] = field(default_factory=list)  # user, time, bits


class LiveTally:
    """One poll's :class:`PollTally` and what it needs to stay current."""

    def __init__(self, layout: Layout) -> None:
        self.layout = layout
        self.tally = PollTally(layout.spec)
        self.version = 0  # bumped on every change (results are cached by it)
        self.watermark = 0  # micros of the latest updated_at applied
        self.synced_at = 0.0
        self.checked_at = 0.0
        self.dirty = False
        self.flags = Flags()
        # respondents 0..n-1: the built ones (response ids sorted) then those added later
        self._base_ids = np.zeros(0, dtype=np.int64)
        self._extra: dict[int, int] = {}  # response id -> index, for those added after the build
        self._n = 0
        self._version = np.zeros(0, dtype=np.int64)  # updated_at micros applied
        self._user = np.zeros(0, dtype=np.int64)
        self._flagged = np.zeros(0, dtype=np.bool_)
        # ballots as built (rows sorted by respondent), and the ones changed since
        self._bounds = np.zeros(1, dtype=np.int64)
        self._rows: tuple[IntArray, IntArray, IntArray] = (
            np.zeros(0, np.int64),
            np.zeros(0, np.int64),
            np.zeros(0, np.int64),
        )
        self._changed: dict[int, Ballot | None] = {}
        self.lock = threading.Lock()

    # ---- reading from the database

    def _fetch_answers(self, session: Session, response_ids: list[int]) -> dict[int, Ballot | None]:
        blocks = [
            _int_rows(
                session,
                _answer_columns().where(
                    PollAnswer.response_id.in_(response_ids[start : start + CHUNK])
                ),
                5,
            )
            for start in range(0, len(response_ids), CHUNK)
        ]
        block = np.concatenate(blocks) if blocks else np.zeros((0, 5), dtype=np.int64)
        rid = block[:, 0]
        q, o, p, keep = self.layout.rows(block[:, 1], block[:, 2], block[:, 3], block[:, 4])
        ballots: dict[int, Ballot | None] = {}
        spec = self.layout.spec
        for r in response_ids:
            mine = keep & (rid == r)
            ballots[r] = spec.ballot_rows(q[mine], o[mine], p[mine]) if mine.any() else None
        return ballots

    def build(self, session: Session, poll: Poll) -> None:
        """Tally every stored answer of ``poll`` (two streamed queries), then the signals."""
        dialect = session.connection().dialect.name
        resp = _int_rows(
            session,
            select(
                PollResponse.id,
                PollResponse.user_id,
                func.coalesce(PollResponse.district_id, -1),
                _epoch_us(PollResponse.updated_at, dialect),
            )
            .where(PollResponse.poll_id == poll.id)
            .order_by(PollResponse.id),
            4,
        )
        resp_ids = resp[:, 0].copy()
        district_ids = np.asarray(self.layout.district_ids, dtype=np.int64)
        if district_ids.size:
            j = np.minimum(np.searchsorted(district_ids, resp[:, 2]), district_ids.size - 1)
            districts = np.where(district_ids[j] == resp[:, 2], j, -1)
        else:
            districts = np.full(resp_ids.size, -1, dtype=np.int64)
        answers = _int_rows(
            session,
            _answer_columns()
            .join(PollResponse, PollResponse.id == PollAnswer.response_id)
            .where(PollResponse.poll_id == poll.id),
            5,
        )
        a_r, a_q, a_o, a_v, a_x = (answers[:, i] for i in range(5))
        q, o, p, keep = self.layout.rows(a_q, a_o, a_v, a_x)
        r = np.searchsorted(resp_ids, a_r)
        r, q, o, p = r[keep], q[keep], o[keep], p[keep]
        order = np.argsort(r, kind="stable")
        r, q, o, p = r[order], q[order], o[order], p[order]
        n = resp_ids.size
        self.tally = PollTally.build(self.layout.spec, r, q, o, p, district=districts)
        # each respondent's ballot rows, to take them out again when they change
        self._bounds = np.searchsorted(r, np.arange(n + 1)).astype(np.int64)
        self._rows = (q, o, p)
        self._changed = {}
        self._base_ids = resp_ids
        self._extra = {}
        self._n = n
        self._version = resp[:, 3].copy()
        self._user = resp[:, 1].copy()
        self._flagged = np.zeros(n, dtype=np.bool_)
        self.watermark = int(self._version.max()) if n else 0
        self.synced_at = self.checked_at = time.monotonic()
        self.version += 1
        self.flags = Flags()
        self.refresh_signals(session, poll, force=True)

    def sync(self, session: Session, poll: Poll, *, force: bool = False) -> None:
        """Apply what changed in the database since the last read (see the module docstring)."""
        now = time.monotonic()
        if not force and not self.dirty and now - self.synced_at < SYNC_INTERVAL_S:
            return
        self.dirty = False
        self.synced_at = now
        since = datetime.fromtimestamp(
            max(self.watermark - int(OVERLAP_S * 1_000_000), 0) / 1_000_000, UTC
        )
        dialect = session.connection().dialect.name
        changed: list[tuple[int, int, int | None, int]] = []
        for rid, uid, did, version in session.execute(
            select(
                PollResponse.id,
                PollResponse.user_id,
                PollResponse.district_id,
                _epoch_us(PollResponse.updated_at, dialect),
            ).where(PollResponse.poll_id == poll.id, PollResponse.updated_at >= since)
        ):
            i = self._find(rid)
            if i is not None and int(self._version[i]) == version:
                continue
            changed.append((rid, uid, did, int(version)))
        if changed:
            ballots = self._fetch_answers(session, [c[0] for c in changed])
            for rid, uid, did, version in changed:
                self._apply(rid, uid, self.layout.district(did), version, ballots[rid])
            self.version += 1
        if now - self.checked_at >= CHECK_INTERVAL_S:
            self.checked_at = now
            stored = session.scalar(
                select(func.count(PollResponse.id)).where(PollResponse.poll_id == poll.id)
            )
            if stored != self._n:
                self.build(session, poll)
                return
        self.refresh_signals(session, poll)

    def _find(self, rid: int) -> int | None:
        j = int(np.searchsorted(self._base_ids, rid))
        if j < self._base_ids.size and int(self._base_ids[j]) == rid:
            return j
        return self._extra.get(rid)

    def _ballot(self, i: int) -> Ballot | None:
        if i in self._changed:
            return self._changed[i]
        if i + 1 >= self._bounds.size:
            return None
        a, b = int(self._bounds[i]), int(self._bounds[i + 1])
        if b <= a:
            return None
        q, o, p = self._rows
        return self.layout.spec.ballot_rows(q[a:b], o[a:b], p[a:b])

    def _append(self, rid: int, uid: int, version: int) -> int:
        i = self._n
        if i >= self._version.size:
            cap = max(16, 2 * self._version.size)
            self._version = np.resize(self._version, cap)
            self._user = np.resize(self._user, cap)
            flagged = np.zeros(cap, dtype=np.bool_)
            flagged[: self._flagged.size] = self._flagged
            self._flagged = flagged
        self._version[i] = version
        self._user[i] = uid
        self._flagged[i] = False
        self._extra[rid] = i
        self._n += 1
        return i

    def _apply(self, rid: int, uid: int, district: int, version: int, new: Ballot | None) -> None:
        i = self._find(rid)
        if i is None:
            i = self._append(rid, uid, version)
        old = self._ballot(i)
        flagged = bool(self._flagged[i])
        if old is not None and new is not None:
            self.tally.replace(i, old, new, district=district, flagged=flagged)
        elif old is not None:
            self.tally.remove(i, old)
        elif new is not None:
            self.tally.add(i, new, district=district, flagged=flagged)
        self._changed[i] = new
        self._version[i] = version
        self.watermark = max(self.watermark, version)

    # ---- integrity

    def refresh_signals(self, session: Session, poll: Poll, *, force: bool = False) -> None:
        """Run the signals again when answers arrived and ``SIGNALS_INTERVAL_S`` has passed."""
        n = self._n
        if not force and (
            n == self.flags.at_respondents
            or time.monotonic() - self.flags.computed_at < SIGNALS_INTERVAL_S
        ):
            return
        lo, hi = poll.opens_at - SIGNALS_WINDOW, poll.closes_at + SIGNALS_WINDOW
        near = select(Poll.id).where(Poll.opens_at <= hi, Poll.closes_at >= lo)
        dialect = session.connection().dialect.name
        rows = _int_rows(
            session,
            select(
                PollResponse.poll_id,
                PollResponse.user_id,
                _epoch_us(PollResponse.created_at, dialect) // 1_000_000,
                _epoch_us(User.created_at, dialect) // 1_000_000,
            )
            .join(User, User.id == PollResponse.user_id)
            .where(PollResponse.poll_id.in_(near)),
            4,
        )
        p_a, u_a, t_a = rows[:, 0], rows[:, 1], rows[:, 2]
        flags = Flags(computed_at=time.monotonic(), at_respondents=n)
        if p_a.size:
            _, poll_ix = np.unique(p_a, return_inverse=True)
            users_u, first, user_ix = np.unique(u_a, return_index=True, return_inverse=True)
            born = rows[first, 3]
            signals: PollSignals = poll_signals(poll_ix, user_ix, t_a, born)
            mine = p_a == poll.id
            bits = signals.signals.reason_bits
            hits = np.flatnonzero(mine & signals.flagged_rows)
            flagged_users = {int(u_a[j]): int(bits[j]) for j in hits.tolist()}
            when = {int(u_a[j]): int(t_a[j]) for j in hits.tolist()}
            flags.flagged = len(flagged_users)
            flags.burst = sum(1 for b in flagged_users.values() if b & BURST)
            flags.fresh = sum(1 for b in flagged_users.values() if b & FRESH)
            flags.lockstep = sum(1 for b in flagged_users.values() if b & LOCKSTEP)
            flags.accounts = sorted(
                ((u, datetime.fromtimestamp(when[u], UTC), b) for u, b in flagged_users.items()),
                key=lambda a: a[1],
            )
        else:
            flagged_users = {}
        users = self._user[: self._n]
        now_flagged = (
            np.isin(users, np.fromiter(flagged_users, dtype=np.int64, count=len(flagged_users)))
            if flagged_users
            else np.zeros(self._n, dtype=np.bool_)
        )
        moved = np.flatnonzero(now_flagged != self._flagged[: self._n])
        for i in moved.tolist():
            ballot = self._ballot(i)
            if ballot is not None:
                self.tally.replace(i, ballot, ballot, flagged=bool(now_flagged[i]))
            self._flagged[i] = now_flagged[i]
        changed = moved.size > 0
        if changed or flags.flagged != self.flags.flagged:
            self.version += 1
        self.flags = flags


# --- the worker's tallies -------------------------------------------------------------------------

_tallies: dict[int, LiveTally] = {}
_building: dict[int, threading.Lock] = {}
_lock = threading.Lock()


def note_answer(poll_id: int) -> None:
    """A resident's answer to ``poll_id`` was committed: this worker's next read applies it."""
    with _lock:
        live = _tallies.get(poll_id)
    if live is not None:
        live.dirty = True


def clear() -> None:
    with _lock:
        _tallies.clear()


def live_tally(session: Session, poll: Poll) -> LiveTally:
    """This worker's tally of ``poll``, current with the database (built on first use; readers
    arriving meanwhile wait for that one build instead of starting their own)."""
    live = _cached(poll)
    if live is None:
        with _lock:
            building = _building.setdefault(poll.id, threading.Lock())
        with building:
            live = _cached(poll)
            if live is None:
                live = LiveTally(Layout.build(session, poll))
                with live.lock:
                    live.build(session, poll)
                with _lock:
                    _tallies[poll.id] = live
                    while len(_tallies) > MAX_POLLS:
                        _tallies.pop(next(iter(_tallies)))
                return live
    with live.lock:
        live.sync(session, poll)
    return live


def _cached(poll: Poll) -> LiveTally | None:
    with _lock:
        live = _tallies.pop(poll.id, None)
        if live is None:
            return None
        if live.layout.stamp != (poll.frozen_at, poll.updated_at):
            return None  # the poll changed: built again
        _tallies[poll.id] = live  # most recently used last
    return live
