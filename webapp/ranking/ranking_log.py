"""Append to the ranking event log in the caller's transaction (see models.RankingEvent)."""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import Table, insert
from sqlalchemy.orm import Session

from webapp.kernel.storage.models import RankingEvent

_VOTE_EVENTS = insert(cast(Table, RankingEvent.__table__))  # prebuilt: votes are the hot path


def votes_changed(session: Session, events: list[dict[str, Any]]) -> None:
    """Vote rows were added (``delta`` +1) or removed (-1): one event per dict of idea_id,
    user_id, value, delta and vote_at (the row's own time), logged in the order given, in one
    statement (Core, on the session's connection)."""
    session.connection().execute(_VOTE_EVENTS, [{"kind": "vote", **e} for e in events])


def idea_changed(session: Session, idea_id: int) -> None:
    """An idea was created, or an attribute rankings filter or weigh by changed."""
    session.execute(insert(RankingEvent).values(kind="idea", idea_id=idea_id))


def recompute(session: Session) -> None:
    """Something global changed (merge, weight decision): every worker rebuilds."""
    session.execute(insert(RankingEvent).values(kind="recompute"))
