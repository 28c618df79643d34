"""Support, oppose and withdraw: one vote row per (user, idea), counters kept exact.

The unique constraint on (user_id, idea_id) is the source of truth for rows. Counters follow
the merge semantics of :mod:`webapp.services.merges`: a canonical (or ordinary) idea counts each
distinct user of its cluster (itself plus the ideas merged into it) once — as a supporter if
they have a +1 anywhere in it, else as an opponent if they have a -1. Every call locks the idea
row first (``SELECT … FOR UPDATE``), as merges and unmerges do, so a vote and a merge of the
same idea serialise; the counters then move by the change in the user's cluster state with
``UPDATE … SET n = n + d``, never read-modify-write.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import Select, delete, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from webapp.errors import Conflict, NotFound, PermissionDenied, invalid
from webapp.security import can
from webapp.services import ranking_log
from webapp.services.dto import CurrentUser, VoteState
from webapp.services.ideas import VOTABLE_STATUSES
from webapp.storage.models import Idea, Vote, utcnow


def _lock_votable(session: Session, idea_id: int, also: Iterable[int] = ()) -> None:
    """Lock the idea row (and ``also``, in ascending id order, as merges do); refuse hidden,
    merged and closed ideas."""
    ids = sorted({idea_id, *also})
    rows = session.execute(
        select(Idea.id, Idea.status, Idea.merged_into_id)
        .where(Idea.id.in_(ids))
        .order_by(Idea.id)
        .with_for_update()
    ).all()
    row = next((r for r in rows if r[0] == idea_id), None)
    if row is None or row[1] == "hidden":
        raise NotFound("Idea not found.")
    _, status, merged_into = row
    if status == "merged":
        title = session.scalar(select(Idea.title).where(Idea.id == merged_into))
        raise Conflict(
            "This idea was merged into “%(title)s”; support that one instead.", title=title or ""
        )
    if status not in VOTABLE_STATUSES:
        raise Conflict("This idea no longer accepts support.")


def _cluster(idea_id: int) -> Select[Any]:
    """Ids of the idea and of the ideas merged into it."""
    return select(Idea.id).where(or_(Idea.id == idea_id, Idea.merged_into_id == idea_id))


def _standing(session: Session, user_id: int, idea_id: int) -> int:
    """How the user counts on the idea's cluster: +1 supporter, -1 opponent, 0 not at all."""
    values = set(
        session.scalars(
            select(Vote.value).where(Vote.user_id == user_id, Vote.idea_id.in_(_cluster(idea_id)))
        )
    )
    return 1 if 1 in values else -1 if -1 in values else 0


def _move(session: Session, idea_id: int, before: int, after: int) -> None:
    """Move the counters by the change of one user's standing."""
    if before == after:
        return
    support = (after == 1) - (before == 1)
    oppose = (after == -1) - (before == -1)
    session.execute(
        update(Idea)
        .where(Idea.id == idea_id)
        .values(
            support_count=Idea.support_count + support,
            oppose_count=Idea.oppose_count + oppose,
        )
    )


def _state(session: Session, user_id: int, idea_id: int, changed: bool) -> VoteState:
    counts = session.execute(
        select(Idea.support_count, Idea.oppose_count).where(Idea.id == idea_id)
    ).one()
    return VoteState(idea_id, counts[0], counts[1], _standing(session, user_id, idea_id), changed)


def cast_vote(
    session: Session, user: CurrentUser, idea_id: int, value: int = 1, allow_oppose: bool = False
) -> VoteState:
    """Support (+1) or oppose (-1). Repeating the same vote changes nothing."""
    if not can(user.role, "vote"):
        raise PermissionDenied("You may not vote.")
    if value not in (1, -1):
        raise invalid("value", "Must be 1 or -1.")
    if value == -1 and not allow_oppose:
        raise PermissionDenied("Opposing is not enabled on this platform.")
    _lock_votable(session, idea_id)
    before = _standing(session, user.id, idea_id)
    existing = session.scalar(
        select(Vote).where(Vote.user_id == user.id, Vote.idea_id == idea_id).with_for_update()
    )
    if existing is not None:
        if existing.value == value:
            return _state(session, user.id, idea_id, changed=False)
        ranking_log.vote_changed(session, idea_id, user.id, existing.value, -1, existing.created_at)
        existing.value = value  # the row keeps its time: so does the ranking
        session.flush()
        ranking_log.vote_changed(session, idea_id, user.id, value, +1, existing.created_at)
    else:
        vote = Vote(user_id=user.id, idea_id=idea_id, value=value, created_at=utcnow())
        try:
            with session.begin_nested():
                session.add(vote)
                session.flush()
        except IntegrityError:
            # Another request by the same user won the race; its row stands.
            return _state(session, user.id, idea_id, changed=False)
        ranking_log.vote_changed(session, idea_id, user.id, value, +1, vote.created_at)
    _move(session, idea_id, before, _standing(session, user.id, idea_id))
    return _state(session, user.id, idea_id, changed=True)


def withdraw_vote(session: Session, user: CurrentUser, idea_id: int) -> VoteState:
    """Remove the user's votes on the idea and on every idea merged into it.

    Withdrawing twice changes nothing. A merged idea keeps its own raw counts, so each removed
    row on a merged idea also lowers that idea's counters.
    """
    if not can(user.role, "vote"):
        raise PermissionDenied("You may not vote.")
    # The rows on merged ideas change those ideas' counters too: lock them with the idea, in
    # ascending id order, so that a concurrent unmerge (which locks the same rows) cannot deadlock.
    others = session.scalars(
        select(Vote.idea_id).where(
            Vote.user_id == user.id,
            Vote.idea_id.in_(_cluster(idea_id)),
            Vote.idea_id != idea_id,
        )
    )
    _lock_votable(session, idea_id, also=list(others))
    before = _standing(session, user.id, idea_id)
    removed = session.execute(
        delete(Vote)
        .where(Vote.user_id == user.id, Vote.idea_id.in_(_cluster(idea_id)))
        .returning(Vote.idea_id, Vote.value, Vote.created_at)
        .execution_options(synchronize_session=False)
    ).all()
    if not removed:
        return _state(session, user.id, idea_id, changed=False)
    for row_idea, value, created_at in sorted(removed, key=lambda r: r[0]):
        ranking_log.vote_changed(session, row_idea, user.id, value, -1, created_at)
        if row_idea != idea_id:  # a merged idea: its own raw count
            column = "support_count" if value == 1 else "oppose_count"
            session.execute(
                update(Idea).where(Idea.id == row_idea).values({column: getattr(Idea, column) - 1})
            )
    _move(session, idea_id, before, 0)
    return _state(session, user.id, idea_id, changed=True)
