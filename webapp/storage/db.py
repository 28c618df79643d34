"""Engine and session factory built from Settings (no import-time globals)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

from webapp.settings import Settings, normalise_database_url

# Connections beyond the request pool, for a worker's background threads (ranking poll,
# embedder, mailer, view counts): requests never take them (webapp.web.db bounds its
# concurrency by the pool size), so under load the pool neither starves those nor churns.
BACKGROUND_CONNECTIONS = 5


def make_engine(settings: Settings, **kwargs: Any) -> Engine:
    """Create the engine; SQLite gets WAL, foreign keys and a busy timeout.

    The pool keeps ``settings.db_pool_size`` connections open (plus a few for background work).
    A pool smaller than the number of concurrent requests would open and close connections
    under load, each a new PostgreSQL backend process: that churn once cost more than the votes.
    """
    url = normalise_database_url(settings.database_url)
    if ":memory:" not in url:
        kwargs.setdefault("pool_size", settings.db_pool_size)
        kwargs.setdefault("max_overflow", BACKGROUND_CONNECTIONS)
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30}, **kwargs)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            if ":memory:" not in url:
                cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        return engine
    # Pre-ping replaces connections a database restart killed; the connect timeout turns an
    # unreachable server into a prompt 503 (webapp.storage.faults) instead of a hung worker.
    kwargs.setdefault("pool_pre_ping", True)
    kwargs.setdefault("connect_args", {"connect_timeout": 5})
    return create_engine(url, **kwargs)


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One transaction per request or job: commit on success, roll back on error."""
    with factory() as session, session.begin():
        yield session
