"""Support, oppose and withdraw: one vote row per (user, idea), counters moved atomically.

The unique constraint on (user_id, idea_id) is the source of truth: a double click or two
workers racing both try to insert, one wins, the other sees the row and changes nothing.
Counters are moved with ``UPDATE … SET n = n + d`` in the same transaction, never read-modify-write.
"""

from __future__ import annotations

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from webapp.errors import Conflict, NotFound, PermissionDenied, invalid
from webapp.security import can
from webapp.services import ranking_log
from webapp.services.dto import CurrentUser, VoteState
from webapp.services.ideas import VOTABLE_STATUSES
from webapp.storage.models import Idea, Vote, utcnow

_COUNTER = {1: Idea.support_count, -1: Idea.oppose_count}


def _votable(session: Session, idea_id: int) -> None:
    status = session.scalar(select(Idea.status).where(Idea.id == idea_id))
    if status is None or status == "hidden":
        raise NotFound("Idea not found.")
    if status == "merged":
        raise Conflict("This idea was merged into another one; support that one instead.")
    if status not in VOTABLE_STATUSES:
        raise Conflict("This idea no longer accepts support.")


def _bump(session: Session, idea_id: int, value: int, delta: int) -> None:
    column = _COUNTER[value]
    session.execute(update(Idea).where(Idea.id == idea_id).values({column.key: column + delta}))


def _state(session: Session, user_id: int, idea_id: int, changed: bool) -> VoteState:
    counts = session.execute(
        select(Idea.support_count, Idea.oppose_count).where(Idea.id == idea_id)
    ).one()
    mine = session.scalar(
        select(Vote.value).where(Vote.user_id == user_id, Vote.idea_id == idea_id)
    )
    return VoteState(idea_id, counts[0], counts[1], mine or 0, changed)


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
    _votable(session, idea_id)
    existing = session.scalar(
        select(Vote).where(Vote.user_id == user.id, Vote.idea_id == idea_id).with_for_update()
    )
    if existing is not None:
        if existing.value == value:
            return _state(session, user.id, idea_id, changed=False)
        _bump(session, idea_id, existing.value, -1)
        ranking_log.vote_changed(session, idea_id, user.id, existing.value, -1, existing.created_at)
        existing.value = value  # the row keeps its time: so does the ranking
        _bump(session, idea_id, value, +1)
        ranking_log.vote_changed(session, idea_id, user.id, value, +1, existing.created_at)
        session.flush()
        return _state(session, user.id, idea_id, changed=True)
    vote = Vote(user_id=user.id, idea_id=idea_id, value=value, created_at=utcnow())
    try:
        with session.begin_nested():
            session.add(vote)
            session.flush()
    except IntegrityError:
        # Another request by the same user won the race; its row stands.
        return _state(session, user.id, idea_id, changed=False)
    _bump(session, idea_id, value, +1)
    ranking_log.vote_changed(session, idea_id, user.id, value, +1, vote.created_at)
    return _state(session, user.id, idea_id, changed=True)


def withdraw_vote(session: Session, user: CurrentUser, idea_id: int) -> VoteState:
    """Remove the user's vote, if any. Withdrawing twice changes nothing."""
    if not can(user.role, "vote"):
        raise PermissionDenied("You may not vote.")
    _votable(session, idea_id)
    result = session.execute(
        delete(Vote)
        .where(Vote.user_id == user.id, Vote.idea_id == idea_id)
        .returning(Vote.value, Vote.created_at)
    ).first()
    if result is None:
        return _state(session, user.id, idea_id, changed=False)
    _bump(session, idea_id, result[0], -1)
    ranking_log.vote_changed(session, idea_id, user.id, result[0], -1, result[1])
    return _state(session, user.id, idea_id, changed=True)
