"""Engine and session factory built from Settings (no import-time globals)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy import exc as exc_module
from sqlalchemy.orm import Session, sessionmaker

from webapp.kernel.settings import Settings, normalise_database_url

# Connections beyond the request pool, for a worker's background threads (ranking poll,
# embedder, mailer, view counts): requests never take them (webapp.kernel.web.db bounds its
# concurrency by the pool size), so under load the pool neither starves those nor churns.
BACKGROUND_CONNECTIONS = 5

# A Session execution option (so it is on the connection before its BEGIN) saying that the
# transaction writes. On SQLite a write transaction begins with BEGIN IMMEDIATE: it takes the
# database's write lock before it reads anything, so what it reads cannot change before it
# writes (``SELECT … FOR UPDATE`` locks nothing there). Without the option — reads, and any
# engine use outside ``transaction`` (migrations, the ranking's loads) — pysqlite's own handling
# stays: no transaction until the first write, which begins a deferred one; readers never wait
# for a writer (WAL). PostgreSQL ignores the option. See docs/security.md, "SQLite writes".
WRITE = "veche_write"
_WRITE_OPTIONS = {WRITE: True}
_READ_OPTIONS = {WRITE: False}


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

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn: Connection) -> None:
            dbapi_conn: Any = conn.connection.dbapi_connection
            if conn.get_execution_options().get(WRITE):
                # The lock is taken here, waiting up to busy_timeout for another writer (a
                # deferred transaction that read first could not wait: SQLite refuses to upgrade
                # a stale read snapshot). COMMIT and ROLLBACK stay pysqlite's; SAVEPOINTs nest.
                if dbapi_conn.isolation_level is not None:
                    dbapi_conn.isolation_level = None  # pysqlite emits no BEGIN of its own
                try:  # on the DBAPI connection: a vote is a few statements, this one is cheap
                    dbapi_conn.execute("BEGIN IMMEDIATE")
                except sqlite3.Error as exc:  # busy past the timeout, I/O: a DBAPIError (faults)
                    raise exc_module.DBAPIError.instance(
                        "BEGIN IMMEDIATE", None, exc, sqlite3.Error
                    ) from exc
            elif dbapi_conn.isolation_level is None:
                dbapi_conn.isolation_level = ""  # pysqlite's default: BEGIN before a write

        return engine
    # Pre-ping replaces connections a database restart killed; the connect timeout turns an
    # unreachable server into a prompt 503 (webapp.kernel.storage.faults) instead of a hung worker.
    kwargs.setdefault("pool_pre_ping", True)
    kwargs.setdefault("connect_args", {"connect_timeout": 5})
    return create_engine(url, **kwargs)


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def transaction(factory: sessionmaker[Session], *, write: bool = True) -> Iterator[Session]:
    """One transaction per request or job: commit on success, roll back on error.

    ``write`` (the default: workers, the CLI and write requests) makes a SQLite transaction take
    the write lock at its start (see ``WRITE``); ``write=False`` is for safe reads (a GET).
    """
    with factory(execution_options=_WRITE_OPTIONS if write else _READ_OPTIONS) as session:
        with session.begin():
            yield session
