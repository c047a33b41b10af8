"""The webhook inbox: raw bodies kept durably before anything is done with them.

A body is written here before the webhook is acknowledged, so nothing Meta delivered
can be lost by a crash of kpibot's later steps. The normaliser then takes rows that
are ``pending`` (or, for a replay, ``failed``) and marks each ``processed`` or ``failed``
with the reason.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from bot.errors import StorageError
from storage.models import WebhookInbox
from storage.types import utcnow

PENDING = "pending"
PROCESSED = "processed"
FAILED = "failed"

_inbox = WebhookInbox.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True, slots=True)
class InboxItem:
    """One stored webhook body, as the normaliser needs it."""

    id: int
    received_at: datetime
    body: bytes


def body_digest(body: bytes) -> str:
    """The SHA-256 hex digest that identifies a byte-identical redelivery."""
    return hashlib.sha256(body).hexdigest()


def _inbox_rows(bodies: Sequence[bytes], source: str) -> list[dict[str, Any]]:
    """The inbox rows of newly received bodies, all received now."""
    now = utcnow()
    return [
        {
            "source": source,
            "received_at": now,
            "body": body,
            "body_sha256": body_digest(body),
            "status": PENDING,
            "attempts": 0,
        }
        for body in bodies
    ]


def store_bodies(engine: Engine, bodies: Sequence[bytes], source: str = "whatsapp") -> None:
    """Write webhook bodies to the inbox in one transaction, committed before return.

    A body already in the inbox (a redelivery of the same bytes) is not stored again;
    it still counts as stored.

    Args:
        engine: the store.
        bodies: raw request bodies, exactly as received.
        source: where they came from.

    Raises:
        StorageError: the transaction did not commit; none of the bodies is stored.
    """
    if not bodies:
        return
    rows = _inbox_rows(bodies, source)
    insert_stmt = pg_insert if engine.dialect.name == "postgresql" else sqlite_insert
    stmt = insert_stmt(_inbox).on_conflict_do_nothing(index_elements=["body_sha256"])
    try:
        with engine.begin() as conn:
            conn.execute(stmt, rows)
    except DBAPIError as exc:
        raise StorageError(f"could not store {len(rows)} webhook bodies: {exc.orig}") from exc


class SqliteAppender:
    """Appends webhook bodies to a SQLite inbox on one dedicated connection, without waiting.

    :func:`store_bodies` runs in a worker thread and goes through SQLAlchemy's
    transaction machinery; under a burst of deliveries the hops between that thread and
    the event loop, each waiting for the interpreter lock, cost more than the commit
    itself. This appender is meant to be called on the event loop: one prepared
    statement, one transaction, and never a wait. The connection's busy timeout is
    zero, so when another connection holds the write lock it reports
    :class:`DatabaseBusyError` at once and the caller takes the waiting path instead.
    """

    @staticmethod
    def supports(engine: Engine) -> bool:
        """Whether ``engine`` is a SQLite file, the store this appender is for."""
        database = engine.url.database
        return engine.dialect.name == "sqlite" and database not in (None, "", ":memory:")

    def __init__(self, engine: Engine, source: str = "whatsapp") -> None:
        if not self.supports(engine):
            raise ValueError("SqliteAppender is for SQLite file stores only")
        statement = sqlite_insert(_inbox).on_conflict_do_nothing(index_elements=["body_sha256"])
        compiled = statement.compile(
            dialect=engine.dialect, column_keys=list(_inbox_rows([b""], source)[0])
        )
        self._sql = str(compiled)
        self._order = list(compiled.positiontup or ())
        self._stored_time = _inbox.c.received_at.type.bind_processor(engine.dialect)
        self._source = source
        # The appender's own connection, made by the engine so its pragmas (WAL,
        # synchronous FULL, foreign keys) apply, and detached from the pool: with its
        # busy timeout at zero it must never serve anyone else.
        self._connection = engine.raw_connection()
        self._driver: sqlite3.Connection = self._connection.driver_connection  # type: ignore[assignment]
        self._connection.detach()
        self._driver.execute("PRAGMA busy_timeout = 0")

    def store(self, bodies: Sequence[bytes]) -> None:
        """Write ``bodies`` in one committed transaction, as :func:`store_bodies` does.

        Raises:
            DatabaseBusyError: another connection holds the write lock; nothing was written.
            StorageError: the transaction failed; none of the bodies is stored.
        """
        if not bodies:
            return
        values = _inbox_rows(bodies, self._source)
        received_at = values[0]["received_at"]
        if self._stored_time is not None:
            received_at = self._stored_time(received_at)
        rows = [
            tuple(received_at if key == "received_at" else row[key] for key in self._order)
            for row in values
        ]
        cursor = self._driver.cursor()
        try:
            cursor.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            if exc.sqlite_errorname in ("SQLITE_BUSY", "SQLITE_LOCKED"):
                raise DatabaseBusyError(str(exc)) from exc
            raise StorageError(f"could not store {len(rows)} webhook bodies: {exc}") from exc
        try:
            cursor.executemany(self._sql, rows)
            cursor.execute("COMMIT")
        except sqlite3.Error as exc:
            if self._driver.in_transaction:
                cursor.execute("ROLLBACK")
            raise StorageError(f"could not store {len(rows)} webhook bodies: {exc}") from exc

    def close(self) -> None:
        """Close the appender's connection."""
        self._connection.close()


class DatabaseBusyError(Exception):
    """Another connection holds SQLite's write lock; waiting is the caller's choice."""


def claim(
    session: Session, statuses: Sequence[str] = (PENDING,), limit: int = 100
) -> list[InboxItem]:
    """The oldest inbox rows in ``statuses``, up to ``limit``, locked for this transaction.

    On PostgreSQL rows another process holds are skipped (``SKIP LOCKED``), so two
    kpibot processes never normalise the same body at once; SQLite has one writer at a
    time anyway. Mark each claimed row in the same transaction.
    """
    stmt = (
        select(_inbox.c.id, _inbox.c.received_at, _inbox.c.body)
        .where(_inbox.c.status.in_(list(statuses)))
        .order_by(_inbox.c.id)
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update(skip_locked=True)
    rows = session.execute(stmt).all()
    return [InboxItem(id=row.id, received_at=row.received_at, body=row.body) for row in rows]


def mark_processed(session: Session, ids: Sequence[int]) -> None:
    """Mark rows as normalised into the domain tables."""
    if not ids:
        return
    session.execute(
        update(_inbox)
        .where(_inbox.c.id.in_(list(ids)))
        .values(
            status=PROCESSED,
            error=None,
            processed_at=utcnow(),
            attempts=_inbox.c.attempts + 1,
        )
    )


def mark_failed(session: Session, item_id: int, reason: str) -> None:
    """Mark a row as failed to normalise, keeping the reason for the operator."""
    session.execute(
        update(_inbox)
        .where(_inbox.c.id == item_id)
        .values(status=FAILED, error=reason[:2000], attempts=_inbox.c.attempts + 1)
    )


def reset_for_replay(engine: Engine, include_processed: bool = False) -> int:
    """Put failed rows (and, if asked, processed ones too) back to pending.

    Returns:
        How many rows will be normalised again.
    """
    statuses = [FAILED, PROCESSED] if include_processed else [FAILED]
    with engine.begin() as conn:
        result = conn.execute(
            update(_inbox).where(_inbox.c.status.in_(statuses)).values(status=PENDING)
        )
    return int(result.rowcount or 0)


def counts(engine: Engine) -> dict[str, int]:
    """How many inbox rows there are in each status."""
    with engine.connect() as conn:
        rows = conn.execute(select(_inbox.c.status, func.count()).group_by(_inbox.c.status)).all()
    return {status: int(n) for status, n in rows}


def failures(engine: Engine, limit: int = 20) -> list[tuple[int, str]]:
    """The newest failed rows with their reasons, for ``kpibot replay --list``."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(_inbox.c.id, _inbox.c.error)
            .where(_inbox.c.status == FAILED)
            .order_by(_inbox.c.id.desc())
            .limit(limit)
        ).all()
    return [(row.id, row.error or "") for row in rows]


__all__ = [
    "FAILED",
    "PENDING",
    "PROCESSED",
    "DatabaseBusyError",
    "InboxItem",
    "SqliteAppender",
    "body_digest",
    "claim",
    "counts",
    "failures",
    "mark_failed",
    "mark_processed",
    "reset_for_replay",
    "store_bodies",
]
