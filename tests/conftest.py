"""Test fixtures: real databases (SQLite file, or PostgreSQL when TEST_DATABASE_URL is set), real apps.

The schema is built once per session by the real Alembic migrations; between tests every table
except categories and districts is emptied, so each test starts from a known state.

Under pytest-xdist (`make test` runs `pytest -n 3`) every worker is its own session: its own
SQLite file or PostgreSQL database (named after the worker), its own Redis key prefixes, its
own temporary folders; servers that tests start listen on ports the OS picks free.

Passwords are hashed with the cheap argon2 "test" profile (webapp.kernel.security); tests that
need the production cost ask for the ``production_password_profile`` fixture.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from sqlalchemy import Connection, create_engine, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker
from starlette.applications import Starlette

from tests.helpers import Browser, make_user
from webapp.app import create_app
from webapp.kernel import security
from webapp.kernel.dto import CurrentUser
from webapp.kernel.settings import Settings, normalise_database_url
from webapp.kernel.storage.db import make_engine, make_session_factory, transaction
from webapp.kernel.storage.migrate import upgrade
from webapp.kernel.storage.models import Base
from webapp.projects import projects
from webapp.taxonomy import taxonomy

# Every test process (each xdist worker too) hashes passwords at the cheapest argon2 cost.
security.use_password_profile("test")

# "gw0", "gw1", ... under pytest-xdist; "main" without it.
WORKER = os.environ.get("PYTEST_XDIST_WORKER", "main")

MUTABLE_TABLES = [
    "poll_answers",
    "poll_responses",
    "poll_options",
    "poll_questions",
    "poll_districts",
    "polls",
    "ballot_choices",
    "ballots",
    "budget_results",
    "idea_evaluations",
    "idea_milestones",
    "idea_progress",
    "project_experts",
    "project_stages",
    "project_pots",
    "notifications",
    "official_responses",
    "signal_reviews",
    "dismissed_pairs",
    "duplicate_group_members",
    "duplicate_groups",
    "duplicate_pairs",
    "idea_embeddings",
    "ranking_events",
    "idea_viewers",
    "audit_log",
    "reports",
    "comments",
    # After comments: a comment a merge moved names the merge (moved_by_merge_id).
    "idea_merge_members",
    "idea_merges",
    "votes",
    "api_tokens",
    "user_sessions",
    "login_events",
    "pending_registrations",
    "idea_photos",
    "ideas",
    # After ideas (an idea names its project); the permanent pool (project 1) is put back.
    "projects",
    "users",
]
# Categories and districts are loaded once per database and kept; a test that renames or adds one
# (the admin pages, the form fuzzer) must not leak it into the next test: each test starts from
# this snapshot of the loaded rows.
TAXONOMY_TABLES = ("categories", "districts")
_taxonomy_snapshot: dict[str, dict[str, list[dict[str, object]]]] = {}


def _taxonomy_rows(conn: Connection) -> dict[str, list[dict[str, object]]]:
    return {
        name: [
            dict(r._mapping)
            for r in conn.execute(select(Base.metadata.tables[name]).order_by(text("id")))
        ]
        for name in TAXONOMY_TABLES
    }


def _restore_taxonomy(conn: Connection, url: str) -> None:
    snapshot = _taxonomy_snapshot.get(url)
    if snapshot is None or _taxonomy_rows(conn) == snapshot:
        return
    districts = Base.metadata.tables["districts"]
    conn.execute(districts.delete().where(districts.c.parent_id.is_not(None)))
    conn.execute(districts.delete())
    conn.execute(Base.metadata.tables["categories"].delete())
    for name in TAXONOMY_TABLES:
        rows = snapshot[name]
        # okrugs (no parent) before their districts
        rows = sorted(rows, key=lambda r: r.get("parent_id") is not None)
        if rows:
            conn.execute(Base.metadata.tables[name].insert(), rows)


def _postgres_database(server_url: str) -> Iterator[str]:
    """Create a throw-away database on the PostgreSQL server, yield its URL, drop it."""
    url = make_url(normalise_database_url(server_url))
    name = f"veche_test_{WORKER}_{uuid.uuid4().hex[:10]}"
    admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    server = os.environ.get("TEST_DATABASE_URL")
    if server:
        gen = _postgres_database(server)
        url = next(gen)
    else:
        # mktemp is under this worker's own base folder (…/popen-gwN/ with xdist)
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / f'veche-test-{WORKER}.db'}"
        gen = None
    upgrade(url)
    engine = make_engine(Settings(database_url=url, environment="test"))
    with transaction(make_session_factory(engine)) as session:
        taxonomy.load_categories(session)
        taxonomy.load_districts(session)
    with engine.connect() as conn:
        _taxonomy_snapshot[url] = _taxonomy_rows(conn)
    engine.dispose()
    yield url
    if gen is not None:
        next(gen, None)


@pytest.fixture(scope="session")
def is_postgres(database_url: str) -> bool:
    return database_url.startswith("postgres")


def _empty_tables(url: str) -> None:
    engine = make_engine(Settings(database_url=url, environment="test"))
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text(f"TRUNCATE {', '.join(MUTABLE_TABLES)} RESTART IDENTITY CASCADE"))
        else:
            for table in MUTABLE_TABLES:
                conn.execute(text(f"DELETE FROM {table}"))  # noqa: S608 - fixed table names
        _restore_taxonomy(conn, url)
        projects.restore_permanent(conn)
    engine.dispose()


@pytest.fixture
def settings(database_url: str) -> Settings:
    _empty_tables(database_url)
    return Settings(
        database_url=database_url,
        environment="test",
        secret_key="test-secret-key-that-is-long-enough-0123456789",
        login_rate_limit=1000,
        write_rate_limit=1000,
        # Rate limits in Redis when .ci/run provides one (TEST_REDIS_URL), under a prefix of
        # this test's own; keys expire with their one-minute window.
        redis_url=os.environ.get("TEST_REDIS_URL", ""),
        redis_prefix=redis_test_prefix(),
        # The lexical encoder: instant, no weights. Tests of the real model set it themselves.
        embedding_model="hashing-char-ngrams",
        # Tests change data and read pages back at once; the list micro-cache has its own tests.
        page_cache_seconds=0.0,
    )


@pytest.fixture
def app(settings: Settings) -> Iterator[Starlette]:
    application = create_app(settings)
    yield application
    application.state.engine.dispose()


@pytest.fixture
def session_factory(app: Starlette) -> sessionmaker[Session]:
    factory: sessionmaker[Session] = app.state.session_factory
    return factory


@pytest.fixture
def browser(app: Starlette) -> Iterator[Browser]:
    with Browser(app) as b:
        yield b


@pytest.fixture
def citizen(session_factory: sessionmaker[Session]) -> CurrentUser:
    return make_user(session_factory, "citizen@example.org", role="citizen")


@pytest.fixture
def production_password_profile() -> Iterator[None]:
    """Passwords hashed at the production argon2 cost for this test, then the test profile again."""
    security.use_password_profile("production")
    try:
        yield
    finally:
        security.use_password_profile("test")


@pytest.fixture
def sqlite_file(tmp_path: Path) -> str:
    """A fresh, migrated SQLite database for tests that need their own (e.g. the CLI)."""
    return f"sqlite:///{tmp_path / 'own.db'}"


@pytest.fixture(scope="session")
def shared_data_dir() -> Path | None:
    """../shared/data when present (the full data sets); tests that need it skip otherwise."""
    path = Path(
        os.environ.get(
            "VECHE_DATA_DIR", Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
        )
    )
    return path if path.is_dir() else None


def redis_test_prefix() -> str:
    """A Redis key prefix no other test, worker or run uses (the worker id, then a random part)."""
    return f"veche-test-{WORKER}-{uuid.uuid4().hex[:12]}"


def _redis_url() -> str:
    return os.environ.get("TEST_REDIS_URL") or "redis://127.0.0.1:6379/15"


@pytest.fixture
def redis_url() -> str:
    """The test Redis (TEST_REDIS_URL); skipped without one, but never under CI: there it fails."""
    url = _redis_url()
    client = redis.Redis.from_url(url, socket_timeout=1, socket_connect_timeout=1)
    try:
        client.ping()
    except redis.RedisError as exc:
        if os.environ.get("CI"):
            pytest.fail(f"Redis at {url} is not reachable under CI: {exc}")
        pytest.skip(f"no Redis at {url} ({exc}); CI runs these")
    finally:
        client.close()
    return url


@pytest.fixture
def prefix(redis_url: str) -> Iterator[str]:
    """A Redis key prefix of this test's own; its keys are deleted afterwards."""
    name = redis_test_prefix()
    yield name
    client = redis.Redis.from_url(redis_url)
    keys = list(client.scan_iter(f"{name}:*"))
    if keys:
        client.delete(*keys)
    client.close()


__all__ = ["shutil"]
