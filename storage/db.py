"""The database engine and sessions.

kpibot takes plain URLs (``sqlite:///kpibot.db``, ``postgresql://user@host:5432/db``) and
picks the driver itself: the standard library's sqlite3, or psycopg 3. SQLite runs in
WAL mode with foreign keys on and full synchronous commits, so an acknowledged write
survives a power cut; many writers are serialised by a busy timeout.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from bot.errors import ConfigError, StorageError

logger = logging.getLogger(__name__)

SQLITE_BUSY_TIMEOUT_MS = 10_000
SQLITE_CACHE_KIB = 64 * 1024
"""Page cache per connection (SQLite's default is 2 MiB)."""
SQLITE_MMAP_BYTES = 256 * 2**20
"""How much of the file reads may map instead of copying; the OS shares those pages."""


def normalise_url(url: str) -> str:
    """Return the SQLAlchemy URL with the driver kpibot uses for that database.

    Args:
        url: ``sqlite:///path``, ``sqlite://`` (in memory), ``postgresql://…`` or
            ``postgres://…``; an explicit ``postgresql+psycopg://`` is kept.

    Returns:
        A URL string SQLAlchemy can open.

    Raises:
        ConfigError: the URL cannot be parsed or names a database kpibot does not support.
    """
    if url.startswith("postgres://"):
        url = "postgresql://" + url.removeprefix("postgres://")
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise ConfigError(f"DATABASE_URL {url!r} is not a database URL: {exc}") from None

    backend = parsed.get_backend_name()
    if backend == "sqlite":
        return parsed.render_as_string(hide_password=False)
    if backend == "postgresql":
        if parsed.drivername in {"postgresql", "postgresql+psycopg2"}:
            parsed = parsed.set(drivername="postgresql+psycopg")
        return parsed.render_as_string(hide_password=False)
    raise ConfigError(
        f"DATABASE_URL uses {backend!r}; kpibot supports sqlite:/// and postgresql:// URLs"
    )


def redact_url(url: str) -> str:
    """The URL with any password masked, for log lines and error messages."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "<unparseable URL>"


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    # FULL makes each commit durable in WAL mode; the webhook's 200 promises exactly that.
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    # KPI reads walk a rep's index ranges again and again: keep them in memory rather
    # than the default 2 MiB page cache, and sort and group in memory too.
    cursor.execute(f"PRAGMA cache_size=-{SQLITE_CACHE_KIB}")
    cursor.execute(f"PRAGMA mmap_size={SQLITE_MMAP_BYTES}")
    cursor.execute("PRAGMA temp_store=MEMORY")
    cursor.close()


def create_db_engine(url: str, **kwargs: Any) -> Engine:
    """Create an engine for ``url`` with kpibot's connection settings.

    Args:
        url: a plain database URL (see :func:`normalise_url`).
        kwargs: passed on to :func:`sqlalchemy.create_engine`.

    Returns:
        The engine. Nothing is connected yet.

    Raises:
        ConfigError: the URL is not usable.
    """
    full_url = normalise_url(url)
    parsed = make_url(full_url)

    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if database and database != ":memory:":
            Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        connect_args = {"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}
        engine = create_engine(full_url, connect_args=connect_args, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        _take_over_sqlite_transactions(engine)
        return engine

    kwargs.setdefault("pool_pre_ping", True)
    return create_engine(full_url, **kwargs)


def _take_over_sqlite_transactions(engine: Engine) -> None:
    """Let SQLAlchemy, not pysqlite, say when a transaction begins, and how.

    Writers begin with ``BEGIN IMMEDIATE``: a deferred transaction that reads and then
    writes fails at once with "database is locked" when another writer got in between,
    whereas an immediate one waits for the busy timeout. Read-only work (the
    ``kpibot_readonly`` execution option) begins deferred and never blocks writers.
    """

    @event.listens_for(engine, "connect")
    def _autocommit_driver(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None

    @event.listens_for(engine, "begin")
    def _begin(conn: Any) -> None:
        readonly = conn.get_execution_options().get("kpibot_readonly", False)
        conn.exec_driver_sql("BEGIN" if readonly else "BEGIN IMMEDIATE")


def readonly(engine: Engine) -> Engine:
    """An engine view for read-only work: on SQLite it does not take the write lock."""
    return engine.execution_options(kpibot_readonly=True)


def session_factory(engine: Engine) -> sessionmaker[Session]:
    """A factory of sessions bound to ``engine`` that keep objects after commit."""
    return sessionmaker(bind=engine, class_=Session, expire_on_commit=False)


@contextmanager
def session_scope(factory: sessionmaker[Session]) -> Iterator[Session]:
    """A session in one transaction: committed on success, rolled back on any error."""
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def check_connection(engine: Engine) -> None:
    """Run a trivial query.

    Raises:
        StorageError: the database cannot be reached; the message names it (password masked).
    """
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except OperationalError as exc:
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
        raise StorageError(
            f"cannot reach the database {redact_url(str(engine.url))}: {reason}"
        ) from None
