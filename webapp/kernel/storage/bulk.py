"""Fast bulk inserts inside the caller's transaction: COPY on PostgreSQL, executemany on SQLite.

Rows are plain tuples in ``columns`` order; timestamps are 'YYYY-MM-DD HH:MM:SS.ffffff' strings
in UTC followed by ``timestamp_suffix(session)`` (nothing on SQLite, where ``UTCDateTime`` stores
naive UTC). Table and column names come from code, never from input.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.orm import Session


def dialect(session: Session) -> str:
    return session.get_bind().dialect.name


def timestamp_suffix(session: Session) -> str:
    """What to append to 'YYYY-MM-DD HH:MM:SS.ffffff' (UTC) for this backend."""
    return "+00" if dialect(session) == "postgresql" else ""


def insert_rows(
    session: Session, table: str, columns: Sequence[str], rows: Sequence[tuple[Any, ...]]
) -> None:
    """Insert ``rows`` into ``table`` in the session's current transaction."""
    if not rows:
        return
    driver = session.connection().connection.driver_connection
    assert driver is not None
    names = ", ".join(columns)
    if dialect(session) == "postgresql":
        with driver.cursor() as cur, cur.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        return
    marks = ", ".join("?" for _ in columns)
    cur = driver.cursor()
    try:
        cur.executemany(f"INSERT INTO {table} ({names}) VALUES ({marks})", rows)  # noqa: S608
    finally:
        cur.close()
