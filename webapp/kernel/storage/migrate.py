"""Run Alembic migrations from code (the CLI and tests use this)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection

import migrations
from webapp.kernel.settings import normalise_database_url

# Objects created by raw SQL in migrations (full-text search) that the models do not describe.
UNMODELLED = {"ideas_fts", "ideas_tsv", "ix_ideas_tsv_document"}


def include_object(
    obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any
) -> bool:
    """Alembic filter: leave the full-text search objects out of model comparisons."""
    if name is None:
        return True
    return not (name in UNMODELLED or name.startswith("ideas_fts_"))


def alembic_config(database_url: str | None = None, connection: Connection | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(Path(migrations.__file__).resolve().parent))
    if database_url is not None:
        cfg.attributes["database_url"] = normalise_database_url(database_url)
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def upgrade(database_url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(database_url), revision)


def downgrade(database_url: str, revision: str) -> None:
    command.downgrade(alembic_config(database_url), revision)
