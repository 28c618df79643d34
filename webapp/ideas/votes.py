"""Support, oppose and withdraw: one vote row per (user, idea), counters kept exact.

The unique constraint on (user_id, idea_id) is the source of truth for rows. Counters follow
the merge semantics of :mod:`webapp.dedup.merges`: a canonical (or ordinary) idea counts each
distinct user of its cluster (itself plus the ideas merged into it) once — as a supporter if
they have a +1 anywhere in it, else as an opponent if they have a -1. Every call locks the idea
row first (``SELECT … FOR UPDATE``), as merges and unmerges do, so a vote and a merge of the
same idea serialise (on SQLite, where that clause locks nothing, the write transaction holds the
database's write lock from its BEGIN IMMEDIATE: ``webapp.kernel.storage.db.WRITE``); the counters then move by the change in the user's cluster state with
``UPDATE … SET n = n + d``, never read-modify-write.

Votes are the hottest write of a city platform (a popular vote opening), so a vote is five
statements in one transaction and no more: lock the idea (reading its counters and author with
the lock), read the user's rows in the cluster (which give both the standing before and the row
to change), write the row (``INSERT … ON CONFLICT DO NOTHING``: a concurrent duplicate loses
without a savepoint), log the ranking event(s), and move the counters (``RETURNING`` the new
values). An idea of a dated project adds its project's gate (``webapp.projects.gates``: two
small reads, 409 while voting is not open); the permanent pool, always open, adds none. Only
this module writes vote rows (merges never touch them) and every path here locks
the idea first, so the vote rows need no lock of their own. The statements are built once, on
the tables (not the ORM entities), and run on the session's connection: building and
ORM-compiling them per call cost more CPU than the database spent answering them.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, bindparam, delete, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from webapp.accounts import sessions
from webapp.ideas.ideas import VOTABLE_STATUSES
from webapp.kernel.dto import CurrentUser, VoteState
from webapp.kernel.errors import Conflict, NotFound, PermissionDenied, invalid
from webapp.kernel.security import can
from webapp.kernel.storage.models import PERMANENT_PROJECT_ID, Idea, Vote, utcnow
from webapp.projects.gates import require_open
from webapp.ranking import ranking_log

_ideas = cast(Table, Idea.__table__)
_votes = cast(Table, Vote.__table__)

_LOCKED_COLUMNS = (
    _ideas.c.id,
    _ideas.c.status,
    _ideas.c.merged_into_id,
    _ideas.c.author_id,
    _ideas.c.support_count,
    _ideas.c.oppose_count,
    _ideas.c.project_id,
)
_LOCK = (
    select(*_LOCKED_COLUMNS)
    .where(_ideas.c.id.in_(bindparam("ids", expanding=True)))
    .order_by(_ideas.c.id)
    .with_for_update()
)
_TITLE = select(_ideas.c.title).where(_ideas.c.id == bindparam("idea_id"))
_CLUSTER = select(_ideas.c.id).where(
    or_(_ideas.c.id == bindparam("idea_id"), _ideas.c.merged_into_id == bindparam("idea_id"))
)
_MY_ROWS = select(_votes.c.idea_id, _votes.c.value, _votes.c.created_at).where(
    _votes.c.user_id == bindparam("user_id"), _votes.c.idea_id.in_(_CLUSTER)
)
_COUNTS = select(_ideas.c.support_count, _ideas.c.oppose_count).where(
    _ideas.c.id == bindparam("idea_id")
)
_FLIP = (  # an UPDATE reserves its columns' names for the SET values: hence "voter", "idea"
    update(_votes)
    .where(_votes.c.user_id == bindparam("voter"), _votes.c.idea_id == bindparam("idea"))
    .values(value=bindparam("new_value"))
)
_NEW_VOTE = {
    name: dialect.insert(_votes)
    .values(
        user_id=bindparam("user_id"),
        idea_id=bindparam("idea_id"),
        value=bindparam("value"),
        created_at=bindparam("created_at"),
    )
    .on_conflict_do_nothing(index_elements=[_votes.c.user_id, _votes.c.idea_id])
    .returning(_votes.c.id)
    for name, dialect in (("postgresql", postgresql), ("sqlite", sqlite))
}
_WITHDRAW = (
    delete(_votes)
    .where(_votes.c.user_id == bindparam("user_id"), _votes.c.idea_id.in_(_CLUSTER))
    .returning(_votes.c.idea_id, _votes.c.value, _votes.c.created_at)
)
_OTHERS = select(_votes.c.idea_id).where(
    _votes.c.user_id == bindparam("user_id"),
    _votes.c.idea_id.in_(_CLUSTER),
    _votes.c.idea_id != bindparam("idea_id"),
)
_MOVE = (
    update(_ideas)
    .where(_ideas.c.id == bindparam("idea_id"))
    .values(
        support_count=_ideas.c.support_count + bindparam("support"),
        oppose_count=_ideas.c.oppose_count + bindparam("oppose"),
    )
    .returning(_ideas.c.support_count, _ideas.c.oppose_count)
)


def _lock_votable(conn: Connection, idea_id: int, also: Iterable[int] = ()) -> Any:
    """Lock the idea row (and ``also``, in ascending id order, as merges do); refuse hidden,
    merged and closed ideas, and ideas of a project whose voting is not open now (Conflict,
    saying when it opens or closed). Returns the idea's (id, status, merged_into_id, author_id,
    support_count, oppose_count, project_id), read under the lock."""
    rows = conn.execute(_LOCK, {"ids": sorted({idea_id, *also})}).all()
    row = next((r for r in rows if r[0] == idea_id), None)
    if row is None or row.status == "hidden":
        raise NotFound("Idea not found.")
    if row.status == "merged":
        title = conn.execute(_TITLE, {"idea_id": row.merged_into_id}).scalar()
        raise Conflict(
            "This idea was merged into “%(title)s”; support that one instead.", title=title or ""
        )
    if row.status not in VOTABLE_STATUSES:
        raise Conflict("This idea no longer accepts support.")
    if row.project_id != PERMANENT_PROJECT_ID:  # the permanent pool is always open: no query
        require_open(conn, row.project_id, "support")
    return row


def _my_rows(conn: Connection, user_id: int, idea_id: int) -> dict[int, tuple[int, datetime]]:
    """The user's vote rows in the idea's cluster: idea id -> (value, created_at)."""
    rows = conn.execute(_MY_ROWS, {"user_id": user_id, "idea_id": idea_id})
    return {r[0]: (r[1], r[2]) for r in rows}


def _standing(values: Iterable[int]) -> int:
    """How a user with these vote values in a cluster counts: +1, -1 or 0 (not at all)."""
    seen = set(values)
    return 1 if 1 in seen else -1 if -1 in seen else 0


def _move(conn: Connection, locked: Any, before: int, after: int) -> tuple[int, int]:
    """Move the counters by the change of one user's standing; the counters after."""
    if before == after:
        return locked.support_count, locked.oppose_count
    support = (after == 1) - (before == 1)
    oppose = (after == -1) - (before == -1)
    row = conn.execute(_MOVE, {"idea_id": locked.id, "support": support, "oppose": oppose}).one()
    return row[0], row[1]


def _result(
    locked: Any, user: CurrentUser, counts: tuple[int, int], mine: int, changed: bool
) -> VoteState:
    editable = locked.author_id == user.id and locked.status == "published" and counts == (0, 0)
    return VoteState(locked.id, counts[0], counts[1], mine, changed, can_edit=editable)


def _check(user: CurrentUser) -> None:
    if not can(user.role, "vote"):
        raise PermissionDenied("You may not vote.")


def cast_vote(
    session: Session, user: CurrentUser, idea_id: int, value: int = 1, allow_oppose: bool = False
) -> VoteState:
    """Support (+1) or oppose (-1). Repeating the same vote changes nothing."""
    _check(user)
    if value not in (1, -1):
        raise invalid("value", "Must be 1 or -1.")
    if value == -1 and not allow_oppose:
        raise PermissionDenied("Opposing is not enabled on this platform.")
    conn = session.connection()
    locked = _lock_votable(conn, idea_id)
    rows = _my_rows(conn, user.id, idea_id)
    before = _standing(v for v, _ in rows.values())
    existing = rows.get(idea_id)
    counts = (locked.support_count, locked.oppose_count)
    if existing is not None and existing[0] == value:
        return _result(locked, user, counts, before, changed=False)
    event = {"idea_id": idea_id, "user_id": user.id}
    if existing is not None:  # a flip: the row keeps its time, and so does the ranking
        old, created = existing
        conn.execute(_FLIP, {"voter": user.id, "idea": idea_id, "new_value": value})
        ranking_log.votes_changed(
            session,
            [
                {**event, "value": old, "delta": -1, "vote_at": created},
                {**event, "value": value, "delta": +1, "vote_at": created},
            ],
        )
    else:
        created = utcnow()
        new_vote = _NEW_VOTE[conn.dialect.name]
        row = {"user_id": user.id, "idea_id": idea_id, "value": value, "created_at": created}
        if conn.execute(new_vote, row).first() is None:
            # Another request by the same user won the race; its row stands. (With the idea
            # locked this cannot happen in a write transaction — SQLite's begin with BEGIN
            # IMMEDIATE, webapp.kernel.storage.db.WRITE — but a vote run as a read would get here.)
            mine = _standing(v for v, _ in _my_rows(conn, user.id, idea_id).values())
            now = conn.execute(_COUNTS, {"idea_id": idea_id}).one()
            return _result(locked, user, (now[0], now[1]), mine, changed=False)
        ranking_log.votes_changed(
            session, [{**event, "value": value, "delta": +1, "vote_at": created}]
        )
    others = [v for i, (v, _) in rows.items() if i != idea_id]
    after = _standing([*others, value])
    return _result(locked, user, _move(conn, locked, before, after), after, changed=True)


def withdraw_vote(session: Session, user: CurrentUser, idea_id: int) -> VoteState:
    """Remove the user's votes on the idea and on every idea merged into it.

    Withdrawing twice changes nothing. A merged idea keeps its own raw counts, so each removed
    row on a merged idea also lowers that idea's counters.
    """
    _check(user)
    conn = session.connection()
    # The rows on merged ideas change those ideas' counters too: lock them with the idea, in
    # ascending id order, so that a concurrent unmerge (which locks the same rows) cannot deadlock.
    others = conn.execute(_OTHERS, {"user_id": user.id, "idea_id": idea_id}).scalars().all()
    locked = _lock_votable(conn, idea_id, also=others)
    removed = conn.execute(_WITHDRAW, {"user_id": user.id, "idea_id": idea_id}).all()
    counts = (locked.support_count, locked.oppose_count)
    if not removed:
        return _result(locked, user, counts, 0, changed=False)
    removed = sorted(removed, key=lambda r: r[0])
    ranking_log.votes_changed(
        session,
        [
            {"idea_id": i, "user_id": user.id, "value": v, "delta": -1, "vote_at": at}
            for i, v, at in removed
        ],
    )
    for row_idea, value, _ in removed:
        if row_idea != idea_id:  # a merged idea: its own raw count
            support, oppose = (-1, 0) if value == 1 else (0, -1)
            conn.execute(_MOVE, {"idea_id": row_idea, "support": support, "oppose": oppose})
    before = _standing(v for _, v, _ in removed)
    return _result(locked, user, _move(conn, locked, before, 0), 0, changed=True)


def vote(
    session: Session, user: CurrentUser, idea_id: int, action: str, allow_oppose: bool = False
) -> VoteState:
    """``action`` is 'support', 'oppose' or 'withdraw'."""
    if action == "withdraw":
        return withdraw_vote(session, user, idea_id)
    return cast_vote(session, user, idea_id, -1 if action == "oppose" else 1, allow_oppose)


def vote_as(
    session: Session,
    session_hash: str,
    idea_id: int,
    action: str,
    allow_oppose: bool = False,
    *,
    policy: sessions.Policy,
) -> tuple[CurrentUser, VoteState] | None:
    """The site's vote button in one transaction: check that the browser's session is live and
    its account active (None when not: logged out, ended elsewhere, expired, blocked), in one
    statement (webapp.accounts.sessions), then :func:`vote` as that account."""
    user = sessions.session_user(session, session_hash, policy)
    if user is None:
        return None
    return user, vote(session, user, idea_id, action, allow_oppose)
