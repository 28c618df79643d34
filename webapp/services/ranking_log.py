"""Append to the ranking event log in the caller's transaction (see models.RankingEvent)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import insert
from sqlalchemy.orm import Session

from webapp.storage.models import RankingEvent


def vote_changed(
    session: Session, idea_id: int, user_id: int, value: int, delta: int, vote_at: datetime
) -> None:
    """A vote row with ``value`` cast at ``vote_at`` was added (``delta`` +1) or removed (-1)."""
    session.execute(
        insert(RankingEvent).values(
            kind="vote", idea_id=idea_id, user_id=user_id, value=value, delta=delta, vote_at=vote_at
        )
    )


def idea_changed(session: Session, idea_id: int) -> None:
    """An idea was created, or an attribute rankings filter or weigh by changed."""
    session.execute(insert(RankingEvent).values(kind="idea", idea_id=idea_id))


def recompute(session: Session) -> None:
    """Something global changed (merge, weight decision): every worker rebuilds."""
    session.execute(insert(RankingEvent).values(kind="recompute"))
