"""Support, oppose and withdraw: one vote row per (user, idea), counters kept exact.

The unique constraint on (user_id, idea_id) is the source of truth for rows. Counters follow
the merge semantics of :mod:`webapp.services.merges`: a canonical (or ordinary) idea counts each
distinct user of its cluster (itself plus the ideas merged into it) once — as a supporter if
they have a +1 anywhere in it, else as an opponent if they have a -1. Every call locks the idea
row first (``SELECT … FOR UPDATE``), as merges and unmerges do, so a vote and a merge of the
same idea serialise; the counters then move by the change in the user's cluster state with
``UPDATE … SET n = n + d``, never read-modify-write.

Votes are the hottest write of a city platform (a popular vote opening), so a vote is five
statements in one transaction and no more: lock the idea (reading its counters and author with
the lock), read the user's rows in the cluster (which give both the standing before and the row
to change), write the row (``INSERT … ON CONFLICT DO NOTHING``: a concurrent duplicate loses
without a savepoint), log the ranking event(s), and move the counters (``RETURNING`` the new
values). Only this module writes vote rows (merges never touch them) and every path here locks
the idea first, so the vote rows need no lock of their own.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import Row, Select, delete, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from webapp.errors import Conflict, NotFound, PermissionDenied, invalid
from webapp.security import can
from webapp.services import ranking_log
from webapp.services.dto import CurrentUser, VoteState
from webapp.services.ideas import VOTABLE_STATUSES
from webapp.storage.models import Idea, User, Vote, utcnow


def _lock_votable(session: Session, idea_id: int, also: Iterable[int] = ()) -> Any:
    """Lock the idea row (and ``also``, in ascending id order, as merges do); refuse hidden,
    merged and closed ideas. Returns the idea's (id, status, merged_into_id, author_id,
    support_count, oppose_count), read under the lock."""
    ids = sorted({idea_id, *also})
    rows = session.execute(
        select(
            Idea.id,
            Idea.status,
            Idea.merged_into_id,
            Idea.author_id,
            Idea.support_count,
            Idea.oppose_count,
        )
        .where(Idea.id.in_(ids))
        .order_by(Idea.id)
        .with_for_update()
    ).all()
    row = next((r for r in rows if r[0] == idea_id), None)
    if row is None or row.status == "hidden":
        raise NotFound("Idea not found.")
    if row.status == "merged":
        title = session.scalar(select(Idea.title).where(Idea.id == row.merged_into_id))
        raise Conflict(
            "This idea was merged into “%(title)s”; support that one instead.", title=title or ""
        )
    if row.status not in VOTABLE_STATUSES:
        raise Conflict("This idea no longer accepts support.")
    return row


def _cluster(idea_id: int) -> Select[Any]:
    """Ids of the idea and of the ideas merged into it."""
    return select(Idea.id).where(or_(Idea.id == idea_id, Idea.merged_into_id == idea_id))


def _my_rows(session: Session, user_id: int, idea_id: int) -> dict[int, tuple[int, datetime]]:
    """The user's vote rows in the idea's cluster: idea id -> (value, created_at)."""
    rows = session.execute(
        select(Vote.idea_id, Vote.value, Vote.created_at).where(
            Vote.user_id == user_id, Vote.idea_id.in_(_cluster(idea_id))
        )
    )
    return {r[0]: (r[1], r[2]) for r in rows}


def _standing(values: Iterable[int]) -> int:
    """How a user with these vote values in a cluster counts: +1, -1 or 0 (not at all)."""
    seen = set(values)
    return 1 if 1 in seen else -1 if -1 in seen else 0


def _move(session: Session, locked: Row[Any], before: int, after: int) -> tuple[int, int]:
    """Move the counters by the change of one user's standing; the counters after."""
    if before == after:
        return locked.support_count, locked.oppose_count
    support = (after == 1) - (before == 1)
    oppose = (after == -1) - (before == -1)
    row = session.execute(
        update(Idea)
        .where(Idea.id == locked.id)
        .values(
            support_count=Idea.support_count + support,
            oppose_count=Idea.oppose_count + oppose,
        )
        .returning(Idea.support_count, Idea.oppose_count)
    ).one()
    return row[0], row[1]


def _result(
    locked: Row[Any], user: CurrentUser, counts: tuple[int, int], mine: int, changed: bool
) -> VoteState:
    editable = (
        locked.author_id == user.id and locked.status == "published" and counts == (0, 0)
    )
    return VoteState(locked.id, counts[0], counts[1], mine, changed, can_edit=editable)


def _insert_vote(session: Session, row: dict[str, Any]) -> bool:
    """Insert one vote row; False when a row for (user, idea) already exists."""
    dialect = session.get_bind().dialect.name
    stmt: Any
    if dialect == "postgresql":
        stmt = postgresql.insert(Vote).on_conflict_do_nothing(
            index_elements=[Vote.user_id, Vote.idea_id]
        )
    elif dialect == "sqlite":
        stmt = sqlite.insert(Vote).on_conflict_do_nothing(
            index_elements=[Vote.user_id, Vote.idea_id]
        )
    else:  # pragma: no cover - Veche runs on PostgreSQL and SQLite
        raise RuntimeError(f"unsupported database: {dialect}")
    return session.execute(stmt.values(**row).returning(Vote.id)).first() is not None


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
    locked = _lock_votable(session, idea_id)
    rows = _my_rows(session, user.id, idea_id)
    before = _standing(v for v, _ in rows.values())
    existing = rows.get(idea_id)
    counts = (locked.support_count, locked.oppose_count)
    if existing is not None and existing[0] == value:
        return _result(locked, user, counts, before, changed=False)
    event = {"idea_id": idea_id, "user_id": user.id}
    if existing is not None:  # a flip: the row keeps its time, and so does the ranking
        old, created = existing
        session.execute(
            update(Vote)
            .where(Vote.user_id == user.id, Vote.idea_id == idea_id)
            .values(value=value)
            .execution_options(synchronize_session=False)
        )
        ranking_log.votes_changed(session, [
            {**event, "value": old, "delta": -1, "vote_at": created},
            {**event, "value": value, "delta": +1, "vote_at": created},
        ])
    else:
        created = utcnow()
        row = {"user_id": user.id, "idea_id": idea_id, "value": value, "created_at": created}
        if not _insert_vote(session, row):
            # Another request by the same user won the race; its row stands. (With the idea
            # locked this happens only where the database has no row locks: SQLite reads.)
            mine = _standing(v for v, _ in _my_rows(session, user.id, idea_id).values())
            counts = session.execute(
                select(Idea.support_count, Idea.oppose_count).where(Idea.id == idea_id)
            ).one()
            return _result(locked, user, (counts[0], counts[1]), mine, changed=False)
        ranking_log.votes_changed(session, [{**event, "value": value, "delta": +1, "vote_at": created}])
    others = [v for i, (v, _) in rows.items() if i != idea_id]
    after = _standing([*others, value])
    return _result(locked, user, _move(session, locked, before, after), after, changed=True)


def withdraw_vote(session: Session, user: CurrentUser, idea_id: int) -> VoteState:
    """Remove the user's votes on the idea and on every idea merged into it.

    Withdrawing twice changes nothing. A merged idea keeps its own raw counts, so each removed
    row on a merged idea also lowers that idea's counters.
    """
    _check(user)
    # The rows on merged ideas change those ideas' counters too: lock them with the idea, in
    # ascending id order, so that a concurrent unmerge (which locks the same rows) cannot deadlock.
    others = session.scalars(
        select(Vote.idea_id).where(
            Vote.user_id == user.id,
            Vote.idea_id.in_(_cluster(idea_id)),
            Vote.idea_id != idea_id,
        )
    )
    locked = _lock_votable(session, idea_id, also=list(others))
    removed = session.execute(
        delete(Vote)
        .where(Vote.user_id == user.id, Vote.idea_id.in_(_cluster(idea_id)))
        .returning(Vote.idea_id, Vote.value, Vote.created_at)
        .execution_options(synchronize_session=False)
    ).all()
    counts = (locked.support_count, locked.oppose_count)
    if not removed:
        return _result(locked, user, counts, 0, changed=False)
    removed = sorted(removed, key=lambda r: r[0])
    ranking_log.votes_changed(session, [
        {"idea_id": i, "user_id": user.id, "value": v, "delta": -1, "vote_at": at}
        for i, v, at in removed
    ])
    for row_idea, value, _ in removed:
        if row_idea != idea_id:  # a merged idea: its own raw count
            column = "support_count" if value == 1 else "oppose_count"
            session.execute(
                update(Idea).where(Idea.id == row_idea).values({column: getattr(Idea, column) - 1})
            )
    before = _standing(v for _, v, _ in removed)
    return _result(locked, user, _move(session, locked, before, 0), 0, changed=True)


def vote(
    session: Session, user: CurrentUser, idea_id: int, action: str, allow_oppose: bool = False
) -> VoteState:
    """``action`` is 'support', 'oppose' or 'withdraw'."""
    if action == "withdraw":
        return withdraw_vote(session, user, idea_id)
    return cast_vote(session, user, idea_id, -1 if action == "oppose" else 1, allow_oppose)


def vote_as(
    session: Session, user_id: int, idea_id: int, action: str, allow_oppose: bool = False
) -> tuple[CurrentUser, VoteState] | None:
    """The site's vote button in one transaction: check that the session's user is still active
    (None when not: blocked or deleted since they logged in), then :func:`vote` as them."""
    row = session.execute(
        select(
            User.id, User.email, User.display_name, User.role, User.district_id,
            User.verified_resident, User.locale, User.blocked,
        ).where(User.id == user_id)
    ).first()
    if row is None or row.blocked:
        return None
    user = CurrentUser(*row[:7])
    return user, vote(session, user, idea_id, action, allow_oppose)
