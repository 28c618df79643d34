"""Database faults that are not the request's fault: the server is down or restarting, the
connection died, the disk is full. They become domain errors (``webapp.kernel.errors``) with their own
status and message, and safe (idempotent) work is retried once the connection is replaced.

See docs/operations.md, "Faults and recovery".
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy import exc as sa_exc
from sqlalchemy.orm import Session, sessionmaker

from webapp.kernel.errors import N_, DomainError, ServiceUnavailable, StorageFull
from webapp.kernel.storage.db import transaction

log = logging.getLogger("veche.storage")
T = TypeVar("T")

UNAVAILABLE_MESSAGE = N_(
    "The database is not answering right now. Please try again in a few seconds; if you were "
    "sending something, check first whether it was saved."
)
FULL_MESSAGE = N_(
    "The server's storage is full, so nothing new can be saved right now. Everything saved "
    "before is safe and can be read; please try again later."
)

# SQLite primary result codes (sqlite3 errors carry ``sqlite_errorcode``; the low byte is the
# primary code): busy and locked (another process holds the database past the busy timeout),
# I/O error, cannot open, full.
SQLITE_BUSY, SQLITE_LOCKED, SQLITE_IOERR, SQLITE_FULL, SQLITE_CANTOPEN = 5, 6, 10, 13, 14
# PostgreSQL SQLSTATEs: 53100 disk_full; class 08 connection exceptions; 57P01–57P03 admin or
# crash shutdown, cannot connect now; class 53 (other than disk_full) insufficient resources.
PG_DISK_FULL = "53100"
PG_UNAVAILABLE = ("08", "57P01", "57P02", "57P03", "53")
RETRY_DELAYS = (0.2, 0.5)  # waits before the 2nd and 3rd attempt of idempotent work


def _sqlite_code(orig: BaseException) -> int | None:
    code = getattr(orig, "sqlite_errorcode", None)
    return code & 0xFF if isinstance(code, int) else None


def classify(exc: BaseException) -> DomainError | None:
    """The domain error for a database fault (503 unavailable, 507 storage full), else None.

    Errors of the request or the code (a constraint, a missing table, bad SQL) are not faults:
    they stay what they are.
    """
    if isinstance(exc, sa_exc.TimeoutError):  # no pooled connection came free in time
        return ServiceUnavailable(UNAVAILABLE_MESSAGE)
    if not isinstance(exc, sa_exc.DBAPIError):
        return None
    orig = exc.orig
    code = _sqlite_code(orig) if orig is not None else None
    if code is not None:
        if code == SQLITE_FULL:
            return StorageFull(FULL_MESSAGE)
        if code in (SQLITE_BUSY, SQLITE_LOCKED, SQLITE_IOERR, SQLITE_CANTOPEN):
            return ServiceUnavailable(UNAVAILABLE_MESSAGE)
        return None
    sqlstate = getattr(orig, "sqlstate", None) or ""
    if sqlstate == PG_DISK_FULL:
        return StorageFull(FULL_MESSAGE)
    if exc.connection_invalidated or sqlstate.startswith(PG_UNAVAILABLE):
        return ServiceUnavailable(UNAVAILABLE_MESSAGE)
    if isinstance(exc, sa_exc.OperationalError | sa_exc.InterfaceError) and not sqlstate:
        return ServiceUnavailable(UNAVAILABLE_MESSAGE)  # e.g. connection refused, server gone
    return None


def is_transient(exc: BaseException) -> bool:
    """A fault that a new connection may not have (server restarting, connection lost)."""
    return isinstance(classify(exc), ServiceUnavailable)


def run_transaction(
    factory: sessionmaker[Session],
    fn: Callable[..., T],
    *args: Any,
    idempotent: bool = False,
    **kwargs: Any,
) -> T:
    """``fn(session, *args, **kwargs)`` in one transaction.

    Idempotent work (reads) is retried after a transient fault — the pool has dropped the dead
    connections by then, and pre-ping tests the next one. Other work is never retried here: its
    transaction may have committed before the connection died, so the caller gets the 503 and
    decides (docs/operations.md).

    Other work is a write: on SQLite its transaction takes the write lock before it reads
    (``webapp.kernel.storage.db.WRITE``); idempotent work reads without waiting for writers.
    """
    delays = RETRY_DELAYS if idempotent else ()
    for attempt in range(len(delays) + 1):
        try:
            with transaction(factory, write=not idempotent) as session:
                return fn(session, *args, **kwargs)
        except sa_exc.SQLAlchemyError as exc:
            if attempt >= len(delays) or not is_transient(exc):
                raise
            log.warning("database fault (%s); retrying idempotent work", type(exc).__name__)
            time.sleep(delays[attempt])
    raise AssertionError("unreachable")  # pragma: no cover
