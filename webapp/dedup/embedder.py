"""The embedder's ground rules, shared by every worker's engine and by ``veche reindex``.

* **One process embeds at a time** (:func:`embedder_lock`): a PostgreSQL advisory lock
  (ADVISORY_KEY; moderators' dismissals take it too, ``webapp.dedup.dismissals``), or an
  exclusive lock on a file next to the SQLite database.
* **What is stale** (:func:`stale_ideas`, :func:`count_stale`): ideas without a vector of the
  current model, or edited since their vector was computed.
* **Which finder** (:func:`load_finder`): the ``ml.DuplicateFinder`` of VECHE_EMBEDDING_MODEL.
"""

from __future__ import annotations

import fcntl
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import func, or_, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from ml.finder import DuplicateFinder
from webapp.kernel.settings import Settings
from webapp.kernel.storage.models import Idea, IdeaEmbedding

ADVISORY_KEY = 0x7665636865  # "veche": pg_try_advisory_lock key of the embedder
EMBED_BATCH = 32  # ideas embedded per transaction (about a second with the default model)
POLL_BATCH = 5_000  # vectors read per query when catching up or loading an index


def load_finder(settings: Settings, model: str | None = None) -> DuplicateFinder:
    """The DuplicateFinder for ``model`` (default VECHE_EMBEDDING_MODEL); raises
    ``ml.embeddings.ModelUnavailable`` when the weights are not on this machine."""
    name = (model or settings.embedding_model).strip()
    return DuplicateFinder.load(
        name,
        config=settings.model_config or None,
        threads=settings.embed_threads or None,
    )


def _stale_query(identity: str) -> Any:
    e = IdeaEmbedding
    return (
        select(Idea.id, Idea.title, Idea.body, Idea.updated_at, e.model, e.text_hash)
        .outerjoin(e, e.idea_id == Idea.id)
        .where(or_(e.id.is_(None), e.model != identity, e.idea_updated_at != Idea.updated_at))
    )


def stale_ideas(
    session: Session,
    identity: str,
    *,
    ids: Sequence[int] | None = None,
    after: int = 0,
    limit: int = EMBED_BATCH,
) -> list[Any]:
    """Ideas whose vector is missing, of another model, or older than their last edit."""
    stmt = _stale_query(identity).where(Idea.id > after)
    if ids is not None:
        stmt = stmt.where(Idea.id.in_(list(ids)))
    return list(session.execute(stmt.order_by(Idea.id).limit(limit)).all())


def count_stale(session: Session, identity: str, cap: int = 100_000) -> int:
    """How many ideas wait for a vector (counted up to ``cap``)."""
    sub = _stale_query(identity).with_only_columns(Idea.id).limit(cap).subquery()
    return int(session.scalar(select(func.count()).select_from(sub)) or 0)


@contextmanager
def embedder_lock(
    factory: sessionmaker[Session], settings: Settings, *, wait: float = 0.0
) -> Iterator[bool]:
    """Yields True when this process may embed (no other process is): on PostgreSQL a
    session-level advisory lock, on SQLite an exclusive lock on ``<database>.embed-lock``.
    Tries for up to ``wait`` seconds."""
    deadline = time.monotonic() + wait
    engine = factory.kw["bind"]
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:  # the lock belongs to this connection until unlocked
            lock = text(f"SELECT pg_try_advisory_lock({ADVISORY_KEY})")
            got = bool(conn.execute(lock).scalar())
            while not got and time.monotonic() < deadline:
                time.sleep(0.2)
                got = bool(conn.execute(lock).scalar())
            conn.commit()
            try:
                yield got
            finally:
                if got:
                    conn.execute(text(f"SELECT pg_advisory_unlock({ADVISORY_KEY})"))
                    conn.commit()
        return
    path = _sqlite_lock_path(settings.database_url)
    if path is None:
        with _MEMORY_LOCK:
            yield True
        return
    with open(path, "a+b") as fh:
        while True:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError:
                if time.monotonic() >= deadline:
                    yield False
                    return
                time.sleep(0.2)
        try:
            yield True
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


_MEMORY_LOCK = threading.Lock()


def _sqlite_lock_path(url: str) -> Path | None:
    database = make_url(url).database
    if not database or database == ":memory:":
        return None
    return Path(f"{database}.embed-lock")
