"""Alembic environment: the URL comes from Settings (or a connection passed in by code)."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from webapp.kernel.settings import Settings, normalise_database_url
from webapp.kernel.storage.db import make_engine
from webapp.kernel.storage.migrate import include_object
from webapp.kernel.storage.models import Base

config = context.config
target_metadata = Base.metadata


def _configure(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        include_object=include_object,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _configure(connection)
        with context.begin_transaction():
            context.run_migrations()
        return
    url = config.attributes.get("database_url") or Settings.from_env().database_url
    settings = Settings(database_url=normalise_database_url(url))
    engine = make_engine(settings)
    with engine.connect() as conn:
        _configure(conn)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    raise SystemExit("Offline (--sql) migrations are not supported; run `veche migrate`.")
run_migrations_online()
