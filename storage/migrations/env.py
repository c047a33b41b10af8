"""Alembic environment for kpibot: runs migrations on the connection kpibot hands it."""

from __future__ import annotations

from alembic import context
from sqlmodel import SQLModel

import storage.models  # noqa: F401  (registers every table on the metadata)

target_metadata = SQLModel.metadata


def run_migrations_online() -> None:
    """Run the migrations on ``config.attributes['connection']`` (see storage.migrate)."""
    connection = context.config.attributes["connection"]
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    raise SystemExit("kpibot runs migrations online only: use `kpibot db upgrade`")
run_migrations_online()
