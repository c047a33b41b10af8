"""Shared fixtures: a migrated store on every backend, and signed webhook deliveries.

Storage tests take the ``engine`` fixture and run once per backend: SQLite always, and
PostgreSQL when ``KPIBOT_TEST_DATABASE_URL`` names a server (skipped otherwise).
"""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker
from sqlmodel import SQLModel

from storage import migrate
from storage.db import create_db_engine, normalise_url, session_factory

POSTGRES_URL = os.environ.get("KPIBOT_TEST_DATABASE_URL", "").strip()
APP_SECRET = b"test-app-secret"
VERIFY_TOKEN = "test-verify-token"


@pytest.fixture(autouse=True)
def _root_logging_restored() -> Iterator[None]:
    """Undo what a CLI run under test did to the root logger (handlers, level)."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.fixture(scope="session")
def _sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file, copied for each test instead of migrating each time."""
    path = tmp_path_factory.mktemp("template") / "kpibot.db"
    engine = create_db_engine(f"sqlite:///{path}")
    migrate.upgrade(engine)
    engine.dispose()
    return path


@pytest.fixture(scope="session")
def _postgres_engine() -> Iterator[Engine]:
    """A migrated PostgreSQL schema of this test run's own; tests empty its tables.

    The schema is named after the process, and its URL carries the search path, so runs
    that share a server (and the CLI a test starts with ``engine.url``) never meet.
    """
    schema = f"kpibot_test_{os.getpid()}"
    admin = create_db_engine(POSTGRES_URL)
    with admin.begin() as conn:
        conn.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    url = make_url(normalise_url(POSTGRES_URL)).update_query_dict(
        {"options": f"-csearch_path={schema}"}
    )
    engine = create_db_engine(url.render_as_string(hide_password=False))
    migrate.upgrade(engine)
    yield engine
    engine.dispose()
    with admin.begin() as conn:
        conn.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
    admin.dispose()


def _backends() -> list[object]:
    skip = pytest.mark.skip(reason="set KPIBOT_TEST_DATABASE_URL to run against PostgreSQL")
    return [
        pytest.param("sqlite", id="sqlite"),
        pytest.param("postgresql", id="postgresql", marks=() if POSTGRES_URL else skip),
    ]


@pytest.fixture(params=_backends())
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """An empty, migrated store on each backend."""
    if request.param == "sqlite":
        path = tmp_path / "kpibot.db"
        shutil.copy(request.getfixturevalue("_sqlite_template"), path)
        sqlite_engine = create_db_engine(f"sqlite:///{path}")
        yield sqlite_engine
        sqlite_engine.dispose()
        return

    pg_engine: Engine = request.getfixturevalue("_postgres_engine")
    tables = ", ".join(t.name for t in SQLModel.metadata.sorted_tables)
    with pg_engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    yield pg_engine


@pytest.fixture
def sessions(engine: Engine) -> sessionmaker[Session]:
    """A session factory on the test store."""
    return session_factory(engine)
