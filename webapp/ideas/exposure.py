"""Distinct viewers per idea: the denominator of support rates, recorded cheaply.

A page view only adds ``(idea_id, viewer_key)`` to an in-memory buffer (a set, so repeated views
in one interval cost nothing). A background task flushes the buffer every few seconds in one
transaction: ``INSERT … ON CONFLICT DO NOTHING`` into ``idea_viewers`` (the primary key makes a
viewer count once per idea, across processes and restarts), then ``viewer_count`` moves by the
number of rows actually inserted and the ranking log tells every worker. Never a synchronous
write per page view.
"""

from __future__ import annotations

import hashlib
import threading
from collections import Counter

from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from webapp.kernel.storage.models import Idea, IdeaViewer
from webapp.ranking import ranking_log

MAX_BUFFER = 200_000  # pairs; beyond this a view is dropped until the next flush (never blocks)


def viewer_key(user_id: int | None, anonymous_id: str | None) -> int | None:
    """A signed 63-bit key: the user id for members, a hash of the session's random id otherwise."""
    if user_id is not None:
        return user_id
    if not anonymous_id:
        return None
    digest = hashlib.blake2b(anonymous_id.encode(), digest_size=8).digest()
    return -(int.from_bytes(digest, "big") >> 1) - 1  # negative: never clashes with a user id


class ViewBuffer:
    """Thread-safe set of (idea_id, viewer_key) pairs waiting to be flushed."""

    def __init__(self, limit: int = MAX_BUFFER) -> None:
        self._pairs: set[tuple[int, int]] = set()
        self._lock = threading.Lock()
        self.limit = limit
        self.dropped = 0

    def add(self, idea_id: int, key: int | None) -> None:
        if key is None:
            return
        with self._lock:
            if len(self._pairs) >= self.limit:
                self.dropped += 1
                return
            self._pairs.add((idea_id, key))

    def drain(self) -> list[tuple[int, int]]:
        with self._lock:
            pairs, self._pairs = list(self._pairs), set()
        return pairs

    def __len__(self) -> int:
        return len(self._pairs)


def flush_views(session: Session, pairs: list[tuple[int, int]]) -> dict[int, int]:
    """Store new distinct viewers; returns how many were new per idea."""
    if not pairs:
        return {}
    known = set(session.scalars(select(Idea.id).where(Idea.id.in_({i for i, _ in pairs}))))
    rows = [{"idea_id": i, "viewer_key": k} for i, k in pairs if i in known]
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    inserted: Counter[int] = Counter()
    for lo in range(0, len(rows), 500):
        stmt = (
            insert(IdeaViewer)
            .values(rows[lo : lo + 500])
            .on_conflict_do_nothing()
            .returning(IdeaViewer.idea_id)
        )
        inserted.update(session.scalars(stmt))
    for idea_id, n in sorted(inserted.items()):
        session.execute(
            update(Idea).where(Idea.id == idea_id).values(viewer_count=Idea.viewer_count + n)
        )
        ranking_log.idea_changed(session, idea_id)
    return dict(inserted)
