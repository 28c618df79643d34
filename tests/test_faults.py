"""Faults against a real server over real HTTP: a worker killed with SIGKILL in the middle of
writes, a PostgreSQL restart under load, a full disk under SQLite.

Each test keeps a client-side ledger of what every response claimed and checks it against the
database afterwards: an acknowledged (2xx) write is stored; a request that failed is applied
fully or not at all; the server recovers by itself. docs/operations.md, "Faults and recovery".
"""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, select, text

from tests.fault_helpers import (
    Citizen,
    Ledger,
    PrivatePostgres,
    check_consistency,
    fill,
    migrate,
    postgres_bindir,
    require_tool,
    server_env,
    serving,
    small_disk,
    snapshot_supporters,
    wait_for,
    write_load,
)
from tests.helpers import make_user
from webapp.accounts import api_tokens
from webapp.accounts import users as users_service
from webapp.ideas import ideas as ideas_service
from webapp.kernel.settings import Settings, normalise_database_url
from webapp.kernel.storage.db import make_engine, make_session_factory, transaction
from webapp.kernel.storage.models import Category, IdeaEmbedding
from webapp.taxonomy import taxonomy


def _setup(factory: Any, n_citizens: int, n_ideas: int) -> tuple[list[Citizen], list[int], int]:
    """Citizens with API tokens, some ideas to vote on, and a category to submit into."""
    citizens = []
    for i in range(n_citizens):
        user = make_user(factory, f"fault{i}@example.org", verified=True)
        with transaction(factory) as s:
            citizens.append(Citizen(user.id, api_tokens.create_api_token(s, user.id)))
    with transaction(factory) as s:
        category = s.scalar(select(Category.id).order_by(Category.id).limit(1))
        author = users_service.active_user(s, citizens[0].id)
        assert author is not None and category is not None
        ideas = [
            ideas_service.submit_idea(
                s,
                author,
                {
                    "title": f"Seed idea number {i}",
                    "body": f"A seed idea body long enough to pass validation, no. {i}.",
                    "category_id": category,
                },
            )
            for i in range(n_ideas)
        ]
    return citizens, ideas, int(category)


def _run_load(
    ledger: Ledger,
    base: str,
    citizens: list[Citizen],
    ideas: list[int],
    category: int,
    threads: int,
    **kwargs: Any,
) -> tuple[threading.Event, list[threading.Thread]]:
    stop = threading.Event()
    share = len(citizens) // threads  # each citizen is driven by one thread only
    workers = [
        threading.Thread(
            target=write_load,
            args=(
                ledger,
                base,
                citizens[t * share : (t + 1) * share],
                ideas,
                category,
                stop,
                f"t{t}",
            ),
            kwargs=kwargs,
            daemon=True,
        )
        for t in range(threads)
    ]
    for w in workers:
        w.start()
    return stop, workers


def _finish(stop: threading.Event, workers: list[threading.Thread]) -> None:
    stop.set()
    for w in workers:
        w.join(timeout=30)


# --- 1. kill -9 of a worker during writes (SQLite or the test PostgreSQL) --------------------


def test_a_worker_killed_mid_write_loses_no_acknowledged_write_and_is_replaced(
    settings: Settings, session_factory: Any, tmp_path: Path
) -> None:
    citizens, ideas, category = _setup(session_factory, 8, 5)
    ledger = Ledger()
    with serving(server_env(settings.database_url), tmp_path / "server.log", workers=2) as server:
        wait_for(lambda: len(server.workers()) == 2, 30, "two workers")
        before = server.workers()
        stop, threads = _run_load(ledger, server.base, citizens, ideas, category, threads=4)
        try:
            wait_for(
                lambda: sum(e.acked for e in ledger.entries) >= 25, 30, "writes before the kill"
            )
            victim = before[0]
            os.kill(victim, signal.SIGKILL)
            killed_at = time.monotonic()
            acked_before = sum(e.acked for e in ledger.entries)
            # the surviving worker keeps answering; the supervisor starts a new one
            wait_for(
                lambda: any(e.acked and e.started > killed_at for e in ledger.entries),
                10,
                "a 2xx after the kill",
            )
            respawn = wait_for(
                lambda: len(server.workers()) == 2 and victim not in server.workers(),
                20,
                "a new worker",
            )
            replacement = (set(server.workers()) - set(before)).pop()
            wait_for(
                lambda: sum(e.acked for e in ledger.entries) >= acked_before + 40,
                40,
                "writes after",
            )
        finally:
            _finish(stop, threads)
        assert server.proc.poll() is None, server.log()
        failed = [e for e in ledger.entries if not e.acked]
        assert all(e.status is None for e in failed), [e for e in failed if e.status][:3]
        engine = make_engine(settings)
        try:
            with engine.connect() as conn:
                supporters = check_consistency(conn, ledger)
        finally:
            engine.dispose()

        def snapshots_agree() -> bool:  # each page is served by either worker, whichever accepts
            return all(
                snapshot_supporters(server.base, i) == supporters.get(i, 0)
                for i in ideas
                for _ in range(4)
            )

        synced = wait_for(snapshots_agree, 20, "the workers' ranking snapshots", step=0.5)
    print(
        f"\nkill -9 of worker {victim}: replaced by {replacement} in {respawn:.1f} s; "
        f"snapshots agreed after {synced:.1f} s; requests without a response: {len(failed)}; "
        f"{ledger.counts()}"
    )


# --- 2. PostgreSQL restart during load (a private cluster) -----------------------------------


@pytest.fixture
def private_postgres(tmp_path_factory: pytest.TempPathFactory) -> Any:
    if not os.environ.get("TEST_DATABASE_URL"):
        pytest.skip("the PostgreSQL restart test runs in the PostgreSQL pass (TEST_DATABASE_URL)")
    bindir = postgres_bindir()
    require_tool(bindir is not None, "PostgreSQL server binaries (initdb, pg_ctl)")
    assert bindir is not None
    base = Path("/tmp") / f"veche-pg-{os.getpid()}-{time.monotonic_ns()}"
    cluster = PrivatePostgres(bindir, base)
    try:
        cluster.init()
        admin = create_engine(
            normalise_database_url(cluster.url.rsplit("/", 1)[0] + "/postgres"),
            isolation_level="AUTOCOMMIT",
        )
        with admin.connect() as conn:
            conn.execute(text("CREATE DATABASE veche"))
        admin.dispose()
        yield cluster
    finally:
        cluster.destroy()


def _down_checks(base: str, token: str, idea: int) -> dict[str, Any]:
    """What clients see while PostgreSQL is down: JSON and HTML 503s, in English and Russian."""
    seen: dict[str, Any] = {}
    for lang in ("en", "ru"):
        h = {"accept-language": lang, "authorization": f"Bearer {token}"}
        seen[f"api-write-{lang}"] = httpx.post(
            f"{base}/api/v1/ideas/{idea}/support", headers=h, timeout=15
        )
        seen[f"api-read-{lang}"] = httpx.get(f"{base}/api/v1/ideas/{idea}", headers=h, timeout=15)
        seen[f"html-{lang}"] = httpx.get(
            f"{base}/ideas/{idea}", headers={"accept-language": lang}, timeout=15
        )
    return seen


def test_postgres_restart_under_load_gives_503s_then_recovers_without_a_restart(
    private_postgres: PrivatePostgres, tmp_path: Path
) -> None:
    pg = private_postgres
    migrate(pg.url)
    settings = Settings(
        database_url=pg.url, environment="test", embedding_model="hashing-char-ngrams"
    )
    engine = make_engine(settings)
    factory = make_session_factory(engine)
    with transaction(factory) as s:
        taxonomy.load_categories(s)
    citizens, ideas, category = _setup(factory, 6, 4)
    ledger = Ledger()
    outages: list[tuple[float, float]] = []
    with serving(server_env(pg.url), tmp_path / "server.log", workers=2) as server:
        stop, threads = _run_load(
            ledger, server.base, citizens, ideas, category, threads=3, reads=True, pause=0.02
        )
        try:
            wait_for(
                lambda: sum(e.acked for e in ledger.entries) >= 15, 30, "writes before the outage"
            )
            # an outage long enough to look at: immediate stop, 3 s down, start
            pg.stop("immediate")
            down_at = time.monotonic()
            time.sleep(0.5)
            seen = _down_checks(server.base, citizens[0].token, ideas[0])
            time.sleep(max(0.0, 3.0 - (time.monotonic() - down_at)))
            up_started = time.monotonic()
            pg.start()
            outages.append((down_at, up_started))
            recovered = wait_for(
                lambda: any(
                    e.acked and e.started > up_started and e.kind != "read" for e in ledger.entries
                ),
                20,
                "a write after PostgreSQL came back",
            )
            # then a fast restart in the middle of the load
            mark = sum(e.acked for e in ledger.entries)
            fast_at = time.monotonic()
            pg.restart("fast")
            outages.append((fast_at, time.monotonic()))
            wait_for(
                lambda: sum(e.acked for e in ledger.entries) >= mark + 30,
                30,
                "writes after the restart",
            )
        finally:
            _finish(stop, threads)
        for key, r in seen.items():
            assert r.status_code == 503, (key, r.status_code, r.text[:300])
            assert r.headers.get("retry-after") == "5", key
            if key.startswith("api"):
                message = r.json()["error"]["message"]
            else:
                message = r.text
            expected = (
                "база данных не отвечает" if key.endswith("ru") else "database is not answering"
            )
            assert expected in message, (key, message[:300])
        statuses = {e.status for e in ledger.entries}
        assert statuses <= {200, 201, 503, None}, ledger.counts()  # never a 500
        for e in ledger.entries:  # nothing claims success while the database was surely down
            for down, up in outages[:1]:
                if e.started > down + 0.2 and e.ended < up:
                    assert not e.acked, e
        # background work resumed: ranking poller, embedder, view flusher
        late = [e for e in ledger.of("submit") if e.acked and e.started > outages[-1][1]]
        assert late, ledger.counts()
        with engine.connect() as conn:
            supporters = check_consistency(conn, ledger)
        wait_for(
            lambda: all(snapshot_supporters(server.base, i) == supporters.get(i, 0) for i in ideas),
            15,
            "the ranking snapshot after the restart",
            step=0.5,
        )

        def embedded() -> bool:
            with factory() as s:
                return (
                    s.scalar(select(IdeaEmbedding.id).where(IdeaEmbedding.idea_id == late[-1].idea))
                    is not None
                )

        wait_for(embedded, 20, "the embedder after the restart", step=0.5)

        def viewers() -> bool:
            with engine.connect() as conn:
                return bool(
                    conn.scalar(
                        text("SELECT count(*) FROM idea_viewers WHERE idea_id = :i"),
                        {"i": late[-1].idea},
                    )
                )

        httpx.get(f"{server.base}/ideas/{late[-1].idea}", timeout=10)
        wait_for(viewers, 15, "the view flusher after the restart", step=0.5)
        assert server.proc.poll() is None
        assert "Exception in ASGI application" not in server.log_path.read_text(errors="replace")
    engine.dispose()
    print(
        f"\nPostgreSQL down 3 s (immediate) then a fast restart: first write after the outage in "
        f"{recovered:.1f} s; {ledger.counts()}"
    )


# --- 3. a full disk under SQLite -------------------------------------------------------------

PAGE_CAP_SERVER = """
import sys, uvicorn
from pathlib import Path
from sqlalchemy import event
from sqlalchemy.pool import Pool
cap = Path(sys.argv[1])
@event.listens_for(Pool, "checkout")
def _cap(dbapi_conn, record, proxy):
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA max_page_count = %d" % int(cap.read_text()))
    cur.close()
uvicorn.run("webapp.asgi:app", host="127.0.0.1", port=int(sys.argv[3]), log_level="info")
"""


def _idea_body(n: int) -> dict[str, Any]:
    return {"title": f"Disk test idea {n}", "body": ("Long text to fill the disk. " * 300)[:9000]}


def test_a_full_disk_refuses_writes_with_507_keeps_reads_and_loses_nothing(tmp_path: Path) -> None:
    if os.environ.get("TEST_DATABASE_URL"):
        pytest.skip("SQLite only: the full-disk test runs in the SQLite pass")
    disk = small_disk(tmp_path, 4)
    try:
        db_path = disk.path / "veche.db"
        url = f"sqlite:///{db_path}"
        migrate(url)
        settings = Settings(
            database_url=url, environment="test", embedding_model="hashing-char-ngrams"
        )
        engine = make_engine(settings)
        factory = make_session_factory(engine)
        with transaction(factory) as s:
            taxonomy.load_categories(s)
        citizens, ideas, category = _setup(factory, 2, 2)
        engine.dispose()
        env = server_env(url, VECHE_EMBEDDING_MODEL="off")
        cap = tmp_path / "max_pages"
        kwargs: dict[str, Any] = {"workers": 2}
        if disk.kind == "max_page_count":
            cap.write_text(str(db_path.stat().st_size // 4096 + 60))
            kwargs["argv"] = ["-c", PAGE_CAP_SERVER, str(cap)]
        print(f"\nfull disk by: {disk.kind}")
        ledger = Ledger()
        with serving(env, tmp_path / "server.log", **kwargs) as server:
            c = citizens[0]
            n = 0

            def submit(lang: str = "en") -> Any:
                nonlocal n
                n += 1
                body = {**_idea_body(n), "category_id": category}
                e = ledger.call(
                    "submit",
                    "POST",
                    f"{server.base}/api/v1/ideas",
                    user=c.id,
                    title=body["title"],
                    headers={**c.auth, "accept-language": lang},
                    json=body,
                )
                if e.acked:
                    e.idea = int(e.body["id"])
                return e

            for _ in range(3):
                assert submit().status == 201
            ledger.call(
                "support",
                "POST",
                f"{server.base}/api/v1/ideas/{ideas[0]}/support",
                user=c.id,
                idea=ideas[0],
                headers=c.auth,
            )
            # fill the disk while the app serves writes
            ballast = fill(disk.path) if disk.kind != "max_page_count" else None
            for _ in range(400):
                if submit().status == 507:
                    break
            else:
                raise AssertionError(f"the disk never filled: {ledger.counts()}")
            full = [submit(lang) for lang in ("en", "ru")]
            refused_vote = ledger.call(
                "support",
                "POST",
                f"{server.base}/api/v1/ideas/{ideas[1]}/support",
                user=c.id,
                idea=ideas[1],
                headers=c.auth,
            )
            assert [e.status for e in full] == [507, 507], [e.body for e in full]
            assert "storage is full" in full[0].body["error"]["message"]
            assert "хранилище" in full[1].body["error"]["message"].lower()
            assert refused_vote.status == 507
            # reads keep working, with a token too (its use is recorded best-effort)
            assert (
                httpx.get(f"{server.base}/api/v1/ideas", headers=c.auth, timeout=10).status_code
                == 200
            )
            page = httpx.get(
                f"{server.base}/ideas/{ideas[0]}", headers={"accept-language": "en"}, timeout=10
            )
            assert page.status_code == 200
            statuses = {e.status for e in ledger.entries}
            assert statuses <= {200, 201, 507}, ledger.counts()  # never a 500, never a reset
            # free the space: writes succeed again, without a restart
            if ballast is not None:
                ballast.unlink()
            else:
                cap.write_text("1000000")
            wait_for(lambda: submit().status == 201, 15, "a write after space was freed", step=0.5)
            refused_vote = ledger.call(
                "support",
                "POST",
                f"{server.base}/api/v1/ideas/{ideas[1]}/support",
                user=c.id,
                idea=ideas[1],
                headers=c.auth,
            )
            assert refused_vote.status == 200
        engine = create_engine(url)
        try:
            with engine.connect() as conn:
                assert conn.scalar(text("PRAGMA integrity_check")) == "ok"
                assert conn.scalar(text("PRAGMA journal_mode")) == "wal"
                check_consistency(conn, ledger)
        finally:
            engine.dispose()
        print(f"{ledger.counts()}")
    finally:
        disk.cleanup()


def test_sqlite_runs_in_wal_mode_with_a_busy_timeout(sqlite_file: str) -> None:
    engine = make_engine(Settings(database_url=sqlite_file, environment="test"))
    try:
        with engine.connect() as conn:
            assert conn.scalar(text("PRAGMA journal_mode")) == "wal"
            assert conn.scalar(text("PRAGMA busy_timeout")) == 30000
    finally:
        engine.dispose()
