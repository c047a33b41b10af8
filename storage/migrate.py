"""Schema migrations: bring a database to the schema this version of kpibot expects.

Alembic does the work; this module gives it kpibot's engine so that the same URL
handling (driver choice, SQLite pragmas) applies to migrations as to everything else.
"""

from __future__ import annotations

import logging
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

from bot.errors import SchemaOutOfDateError

logger = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def alembic_config(engine: Engine) -> Config:
    """An Alembic configuration that migrates through ``engine``."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["engine"] = engine
    return config


def head_revision() -> str:
    """The newest migration this version of kpibot ships."""
    script = ScriptDirectory(str(MIGRATIONS_DIR))
    head = script.get_current_head()
    assert head is not None, "storage/migrations/versions holds no migration"
    return head


def current_revision(engine: Engine) -> str | None:
    """The migration the database is at, or None for an empty database."""
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def upgrade(engine: Engine, revision: str = "head") -> tuple[str | None, str]:
    """Apply every pending migration, keeping the data.

    Args:
        engine: the database to migrate.
        revision: the target; the newest by default.

    Returns:
        The revisions before and after.
    """
    before = current_revision(engine)
    config = alembic_config(engine)
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, revision)
    after = current_revision(engine)
    if before != after:
        logger.info("database migrated from=%s to=%s", before or "empty", after)
    return before, after or ""


def ensure_current(engine: Engine) -> None:
    """Refuse to run against a database whose schema is not the newest.

    Raises:
        SchemaOutOfDateError: the database needs ``kpibot db upgrade``.
    """
    current = current_revision(engine)
    head = head_revision()
    if current != head:
        raise SchemaOutOfDateError(
            f"the database schema is at {current or 'nothing (empty database)'}, "
            f"kpibot needs {head}: run `kpibot db upgrade`"
        )
