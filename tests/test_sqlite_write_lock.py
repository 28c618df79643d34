"""How a transaction begins on SQLite: writes take the write lock first, reads never wait.

Security issue #12, finding 6: ``SELECT … FOR UPDATE`` is a no-op on SQLite, and pysqlite began a
transaction only at the first INSERT/UPDATE/DELETE, so a vote read an idea, a merge committed,
and the vote wrote from what it had read. Write transactions (``transaction()``, and
``run_transaction`` for anything but a safe read) now begin with BEGIN IMMEDIATE; safe reads keep
pysqlite's own handling. The race itself is in ``tests/test_merge_concurrency.py`` (both
databases); these check the mechanics, on SQLite only.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from typing import Any

import pytest
from sqlalchemy import select, text

from tests.merge_helpers import add_idea, quick_user
from webapp.ideas import votes as votes_service
from webapp.kernel.storage import faults
from webapp.kernel.storage.db import transaction
from webapp.kernel.storage.models import Idea, Vote


@pytest.fixture(autouse=True)
def _sqlite_only(is_postgres: bool) -> None:
    if is_postgres:
        pytest.skip("how SQLite begins a transaction; PostgreSQL has row locks")


def _in_transaction(session: Any) -> bool:
    return bool(session.connection().connection.dbapi_connection.in_transaction)


def test_a_write_transaction_holds_the_write_lock_from_its_first_read(
    session_factory: Any, database_url: str
) -> None:
    idea = add_idea(session_factory, "Фонари у школы")
    path = database_url.removeprefix("sqlite:///")
    with transaction(session_factory) as s:
        s.scalar(select(Idea.status).where(Idea.id == idea))  # a read, nothing written yet
        assert _in_transaction(s)
        other = sqlite3.connect(path, timeout=0.05, isolation_level=None)
        try:
            with pytest.raises(sqlite3.OperationalError, match="locked"):
                other.execute("BEGIN IMMEDIATE")  # another writer must wait for this one
        finally:
            other.close()


def test_a_safe_read_takes_no_lock_and_never_waits_for_a_writer(
    session_factory: Any, database_url: str
) -> None:
    idea = add_idea(session_factory, "Лавочки на бульваре")

    def read(session: Any) -> tuple[str | None, bool]:
        return session.scalar(select(Idea.status).where(Idea.id == idea)), _in_transaction(session)

    writing = threading.Event()
    done = threading.Event()

    def writer() -> None:
        with transaction(session_factory) as s:
            s.execute(
                text("UPDATE ideas SET viewer_count = viewer_count + 1 WHERE id = :i"), {"i": idea}
            )
            writing.set()
            done.wait(10)

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        assert writing.wait(10)
        started = time.monotonic()
        status, in_tx = faults.run_transaction(session_factory, read, idempotent=True)
        assert time.monotonic() - started < 1.0  # WAL: the read did not wait for the writer
        assert (status, in_tx) == ("published", False)
    finally:
        done.set()
        thread.join(10)


def test_savepoints_nest_inside_a_write_transaction(session_factory: Any) -> None:
    idea = add_idea(session_factory, "Велодорожка вдоль реки")
    keep = quick_user(session_factory, "Anna")
    undo = quick_user(session_factory, "Boris")
    with transaction(session_factory) as s:
        votes_service.cast_vote(s, keep, idea)
        nested = s.begin_nested()
        votes_service.cast_vote(s, undo, idea)
        nested.rollback()
        assert _in_transaction(s)
    with transaction(session_factory, write=False) as s:
        voters = set(s.scalars(select(Vote.user_id).where(Vote.idea_id == idea)))
    assert voters == {keep.id}
    # ...and a failed outer transaction rolls back what a released savepoint wrote.
    with pytest.raises(RuntimeError), transaction(session_factory) as s:
        with s.begin_nested():
            votes_service.cast_vote(s, undo, idea)
        raise RuntimeError("the request failed after the savepoint")
    with transaction(session_factory, write=False) as s:
        assert set(s.scalars(select(Vote.user_id).where(Vote.idea_id == idea))) == {keep.id}


def test_busy_timeout_still_applies_to_both_kinds(session_factory: Any) -> None:
    with transaction(session_factory) as s:
        assert s.execute(text("PRAGMA busy_timeout")).scalar() == 30000
    with transaction(session_factory, write=False) as s:
        assert s.execute(text("PRAGMA busy_timeout")).scalar() == 30000


def test_a_connection_switches_between_writes_and_reads(session_factory: Any) -> None:
    """The pool hands one connection to both kinds: each begins as it should, every time."""
    idea = add_idea(session_factory, "Горка во дворе")
    for _ in range(3):
        with transaction(session_factory) as s:
            s.scalar(select(Idea.id).where(Idea.id == idea))
            assert _in_transaction(s)
        with transaction(session_factory, write=False) as s:
            s.scalar(select(Idea.id).where(Idea.id == idea))
            assert not _in_transaction(s)
            # A write in a read transaction still begins one (pysqlite's own BEGIN) and commits.
            s.execute(
                text("UPDATE ideas SET viewer_count = viewer_count + 1 WHERE id = :i"), {"i": idea}
            )
            assert _in_transaction(s)
    with transaction(session_factory, write=False) as s:
        assert s.scalar(select(Idea.viewer_count).where(Idea.id == idea)) == 3
