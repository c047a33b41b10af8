"""Alembic migrations: an empty store reaches head, again and again, keeping its data."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, text
from sqlmodel import SQLModel

import storage.models  # noqa: F401  (registers every table)
from bot.errors import SchemaOutOfDateError
from storage import migrate
from storage.db import create_db_engine
from tests.conftest import POSTGRES_URL


@pytest.fixture(
    params=[
        pytest.param("sqlite", id="sqlite"),
        pytest.param(
            "postgresql",
            id="postgresql",
            marks=pytest.mark.skipif(not POSTGRES_URL, reason="KPIBOT_TEST_DATABASE_URL unset"),
        ),
    ]
)
def empty_engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """A store with no schema at all, on each backend."""
    if request.param == "sqlite":
        engine = create_db_engine(f"sqlite:///{tmp_path}/empty.db")
        yield engine
        engine.dispose()
        return
    engine = create_db_engine(POSTGRES_URL)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA IF EXISTS kpibot_migrate CASCADE"))
        conn.execute(text("CREATE SCHEMA kpibot_migrate"))
    scoped = create_db_engine(
        POSTGRES_URL, connect_args={"options": "-c search_path=kpibot_migrate"}
    )
    yield scoped
    scoped.dispose()
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA IF EXISTS kpibot_migrate CASCADE"))
    engine.dispose()


def test_upgrade_on_empty_database_reaches_head(empty_engine: Engine) -> None:
    assert migrate.current_revision(empty_engine) is None
    before, after = migrate.upgrade(empty_engine)
    assert (before, after) == (None, migrate.head_revision())
    assert migrate.current_revision(empty_engine) == migrate.head_revision()
    migrate.ensure_current(empty_engine)


def test_upgrade_is_idempotent_and_keeps_data(empty_engine: Engine) -> None:
    migrate.upgrade(empty_engine)
    with empty_engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO team (name, created_at) VALUES ('Export A', '2026-01-01 00:00:00+00')"
            )
        )
    before, after = migrate.upgrade(empty_engine)
    assert before == after == migrate.head_revision()
    with empty_engine.connect() as conn:
        assert conn.execute(text("SELECT name FROM team")).scalars().all() == ["Export A"]


def test_ensure_current_refuses_an_empty_database(empty_engine: Engine) -> None:
    with pytest.raises(SchemaOutOfDateError, match="run `kpibot db upgrade`"):
        migrate.ensure_current(empty_engine)


def test_models_and_migrations_agree(empty_engine: Engine) -> None:
    """Autogenerate finds nothing to add: every model change has its migration."""
    migrate.upgrade(empty_engine)
    with empty_engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        differences = compare_metadata(context, SQLModel.metadata)
    assert differences == []
