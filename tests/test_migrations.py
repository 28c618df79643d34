"""One Alembic history builds exactly the models' schema, on SQLite and on PostgreSQL."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from webapp.kernel.settings import Settings
from webapp.kernel.storage.db import make_engine
from webapp.kernel.storage.migrate import downgrade, include_object, upgrade
from webapp.kernel.storage.models import Base


def _diff(url: str) -> list[Any]:
    engine = make_engine(Settings(database_url=url, environment="test"))
    with engine.connect() as conn:
        ctx = MigrationContext.configure(
            conn, opts={"include_object": include_object, "compare_type": True}
        )
        diff: list[Any] = compare_metadata(ctx, Base.metadata)
    engine.dispose()
    return diff


def test_migrated_database_matches_the_models(database_url: str) -> None:
    # database_url was built from empty by `upgrade head` in conftest
    assert _diff(database_url) == []


def test_upgrade_from_empty_then_downgrade_to_base(sqlite_file: str) -> None:
    upgrade(sqlite_file)
    assert _diff(sqlite_file) == []
    engine = make_engine(Settings(database_url=sqlite_file, environment="test"))
    tables = set(inspect(engine).get_table_names())
    assert {
        "users",
        "ideas",
        "votes",
        "comments",
        "categories",
        "districts",
        "reports",
        "audit_log",
    } <= tables
    assert "ideas_fts" in tables  # SQLite full-text index
    downgrade(sqlite_file, "base")
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    engine.dispose()


def test_vote_uniqueness_is_enforced_by_the_database(database_url: str) -> None:
    engine = make_engine(Settings(database_url=database_url, environment="test"))
    uniques = inspect(engine).get_unique_constraints("votes")
    assert any(set(u["column_names"]) == {"user_id", "idea_id"} for u in uniques)
    engine.dispose()
