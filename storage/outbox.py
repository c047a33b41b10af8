"""The outbox of push messages, and the ledger of scheduled job runs.

**Outbox.** Every push message (digest, praise, nudge, reminder, coaching alert, red
line) is a row here before it is a Telegram message, and one row is one Bot API call.
The row's key ``(kind, recipient, subject, period)`` is unique, so a job that runs twice
cannot enqueue the same push twice. A sender *claims* due rows: it marks them
``sending`` with a lease (``claimed_by``, ``claimed_until``) in one transaction — on
PostgreSQL with ``FOR UPDATE SKIP LOCKED``, so two senders never take the same row; on
SQLite the write lock (``BEGIN IMMEDIATE``) serialises claims. It then calls Telegram
and marks the row ``sent``, ``failed``, or ``pending`` again with a later
``next_attempt_at``. A row of a recipient is only claimed once that recipient's earlier
rows are done, so the parts of a digest arrive in order.

**Delivery is at least once, with a narrow window.** A sender that dies after Telegram
accepted a message but before ``mark_sent`` committed leaves the row ``sending``; once the
lease runs out another sender sends it again, and the recipient sees it twice. The same
happens when a request times out after Telegram delivered it. The Bot API has no
idempotency key, so this window (one HTTP round trip plus one commit per row) cannot be
closed; the unique key guarantees it can only ever be *one* message repeated, never a
job's whole output. ``mark_sent`` only succeeds for the sender holding the lease, and
logs a warning when the lease was lost.

**Job runs.** ``job_run`` holds one row per (job id, period key): inserting it is the
claim that the job ran for that period. The claim and the job's outbox rows are written in
one transaction, so either both land or neither does; on PostgreSQL a second process
inserting the same key waits for the first one's commit and then finds the row.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, and_, delete, exists, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from storage.models import JobRun, Outbox

logger = logging.getLogger(__name__)

PENDING, SENDING, SENT, FAILED = "pending", "sending", "sent", "failed"
_outbox = Outbox.__table__  # type: ignore[attr-defined]
_job_run = JobRun.__table__  # type: ignore[attr-defined]
_ERROR_LIMIT = 500


@dataclass(frozen=True, slots=True)
class OutboxItem:
    """A push to enqueue: who gets it, what it is about, and the Bot API call's content.

    Attributes:
        kind: what push it is (``digest``, ``praise_deal``, ``nudge_waiting`` …).
        recipient: the Telegram chat id.
        subject: what the push is about within its kind (a customer, a deal, a part).
        period: the period or cause version it is for; '' when there is none.
        payload: the call: ``method`` (``sendMessage`` or ``sendPhoto``), ``text`` or
            ``caption``, ``parse_mode``, ``buttons`` (rows of [label, data]) and for a
            photo ``photo_b64`` (PNG bytes, base64) or ``photo_path``.
    """

    kind: str
    recipient: int
    subject: str
    period: str
    payload: dict[str, Any] = field(hash=False)

    @property
    def key(self) -> tuple[str, int, str, str]:
        """The unique key of the row."""
        return (self.kind, self.recipient, self.subject, self.period)


@dataclass(frozen=True, slots=True)
class OutboxRow:
    """A claimed (or inspected) outbox row."""

    id: int
    kind: str
    recipient: int
    subject: str
    period: str
    payload: dict[str, Any]
    status: str
    attempts: int
    next_attempt_at: datetime
    claimed_by: str | None
    sent_at: datetime | None
    error: str | None
    telegram_message_id: int | None


def _insert(dialect: str) -> Any:
    return pg_insert if dialect == "postgresql" else sqlite_insert


def _dialect(source: Session | Connection) -> str:
    bind = source.get_bind() if isinstance(source, Session) else source
    return bind.dialect.name


def enqueue(source: Session | Connection, items: Iterable[OutboxItem], now: datetime) -> int:
    """Add pushes to the outbox; one whose key is already there is left out.

    Args:
        source: an open session or connection; the caller commits.
        items: the pushes.
        now: the current time (first attempt at once).

    Returns:
        How many rows were added.
    """
    added = 0
    insert = _insert(_dialect(source))
    for item in items:
        statement = (
            insert(_outbox)
            .values(
                kind=item.kind,
                recipient=item.recipient,
                subject=item.subject,
                period=item.period,
                payload=item.payload,
                status=PENDING,
                attempts=0,
                next_attempt_at=now,
                created_at=now,
            )
            .on_conflict_do_nothing(index_elements=["kind", "recipient", "subject", "period"])
            .returning(_outbox.c.id)
        )
        if source.execute(statement).first() is not None:
            added += 1
    return added


def is_enqueued(source: Session | Connection, key: tuple[str, int, str, str]) -> bool:
    """Whether a push with this key is in the outbox (in any status)."""
    o = _outbox.c
    kind, recipient, subject, period = key
    query = select(o.id).where(
        o.kind == kind, o.recipient == recipient, o.subject == subject, o.period == period
    )
    return source.execute(query).first() is not None


def _row(row: Any) -> OutboxRow:
    return OutboxRow(
        id=int(row.id),
        kind=row.kind,
        recipient=int(row.recipient),
        subject=row.subject,
        period=row.period,
        payload=dict(row.payload),
        status=row.status,
        attempts=int(row.attempts),
        next_attempt_at=row.next_attempt_at,
        claimed_by=row.claimed_by,
        sent_at=row.sent_at,
        error=row.error,
        telegram_message_id=row.telegram_message_id,
    )


def _due(now: datetime) -> Any:
    o = _outbox.c
    return or_(
        and_(o.status == PENDING, o.next_attempt_at <= now),
        and_(o.status == SENDING, o.claimed_until < now),
    )


def claim(
    engine: Engine, worker: str, now: datetime, lease: timedelta, limit: int = 20
) -> list[OutboxRow]:
    """Take up to ``limit`` due rows for ``worker``, leased until ``now + lease``.

    A row is due when it is pending and its next attempt time has come, or when it is
    being sent under a lease that ran out (its sender died). A row waits while an earlier
    row of the same recipient is not done yet.

    Args:
        engine: the store.
        worker: the claiming sender's id.
        now: the current time.
        lease: how long the sender may take before another one takes the row again;
            longer than a Bot API request can take.
        limit: the most rows to take.

    Returns:
        The claimed rows, oldest first; ``attempts`` already counts this attempt.
    """
    o = _outbox.c
    earlier = _outbox.alias("earlier")
    blocked = exists().where(
        earlier.c.recipient == o.recipient,
        earlier.c.id < o.id,
        earlier.c.status.in_((PENDING, SENDING)),
    )
    query = select(o.id).where(_due(now), ~blocked).order_by(o.id).limit(limit)
    if engine.dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    with engine.begin() as conn:
        ids = [int(row.id) for row in conn.execute(query)]
        if not ids:
            return []
        conn.execute(
            update(_outbox)
            .where(o.id.in_(ids))
            .values(
                status=SENDING,
                claimed_by=worker,
                claimed_until=now + lease,
                attempts=o.attempts + 1,
            )
        )
        rows = conn.execute(select(_outbox).where(o.id.in_(ids)).order_by(o.id))
        claimed = [_row(row) for row in rows]
    logger.debug("outbox rows claimed worker=%s n=%d", worker, len(claimed))
    return claimed


def _finish(engine: Engine, row_id: int, worker: str, **values: Any) -> bool:
    o = _outbox.c
    with engine.begin() as conn:
        result = conn.execute(
            update(_outbox)
            .where(o.id == row_id, o.claimed_by == worker, o.status == SENDING)
            .values(claimed_by=None, claimed_until=None, **values)
        )
    done = bool(result.rowcount)
    if not done:
        logger.warning(
            "outbox lease lost before the result was stored id=%s worker=%s", row_id, worker
        )
    return done


def mark_sent(
    engine: Engine, row_id: int, worker: str, now: datetime, message_id: int | None
) -> bool:
    """Record that the row was delivered.

    Returns:
        False when ``worker`` no longer held the lease (another sender took the row).
    """
    return _finish(
        engine,
        row_id,
        worker,
        status=SENT,
        sent_at=now,
        telegram_message_id=message_id,
        error=None,
    )


def mark_retry(engine: Engine, row_id: int, worker: str, at: datetime, error: str) -> bool:
    """Give the row back to the queue, to be tried again at ``at``.

    Returns:
        False when ``worker`` no longer held the lease.
    """
    return _finish(
        engine, row_id, worker, status=PENDING, next_attempt_at=at, error=error[:_ERROR_LIMIT]
    )


def mark_failed(engine: Engine, row_id: int, worker: str, error: str) -> bool:
    """Record that the row cannot be delivered (it is never tried again).

    Returns:
        False when ``worker`` no longer held the lease.
    """
    return _finish(engine, row_id, worker, status=FAILED, error=error[:_ERROR_LIMIT])


def move_recipient(engine: Engine, row_id: int, worker: str, new_chat_id: int) -> bool:
    """Point a claimed row at the chat a group migrated to, to be sent there next.

    Returns:
        False when ``worker`` no longer held the lease.
    """
    return _finish(engine, row_id, worker, status=PENDING, recipient=new_chat_id)


def release(engine: Engine, worker: str) -> int:
    """Give back every row ``worker`` holds (on a clean shutdown), unchanged otherwise.

    Returns:
        How many rows were released.
    """
    o = _outbox.c
    with engine.begin() as conn:
        result = conn.execute(
            update(_outbox)
            .where(o.claimed_by == worker, o.status == SENDING)
            .values(status=PENDING, claimed_by=None, claimed_until=None)
        )
    return int(result.rowcount or 0)


def next_due_at(engine: Engine) -> datetime | None:
    """When the earliest pending row is due, or the earliest lease runs out; None if idle."""
    o = _outbox.c
    with engine.connect() as conn:
        pending = conn.execute(
            select(func.min(o.next_attempt_at)).where(o.status == PENDING)
        ).scalar()
        leased = conn.execute(
            select(func.min(o.claimed_until)).where(o.status == SENDING)
        ).scalar()
    found = [at for at in (pending, leased) if at is not None]
    return min(found) if found else None


def rows(source: Engine | Connection, *, kinds: Sequence[str] | None = None) -> list[OutboxRow]:
    """Every outbox row (of ``kinds`` when given), oldest first: for tests and inspection."""
    o = _outbox.c
    query = select(_outbox).order_by(o.id)
    if kinds is not None:
        query = query.where(o.kind.in_(list(kinds)))
    if isinstance(source, Engine):
        with source.connect() as conn:
            return [_row(row) for row in conn.execute(query)]
    return [_row(row) for row in source.execute(query)]


def open_count(source: Connection, kind_prefix: str, recipient_ids: Sequence[int]) -> int:
    """How many rows whose kind starts with ``kind_prefix`` are not done yet, for recipients."""
    o = _outbox.c
    query = select(func.count()).where(
        o.kind.startswith(kind_prefix),
        o.recipient.in_(list(recipient_ids)),
        o.status.in_((PENDING, SENDING)),
    )
    return int(source.execute(query).scalar() or 0)


# --- job runs -----------------------------------------------------------------------------


def claim_run(
    source: Session | Connection, job_id: str, period_key: str, now: datetime, worker: str
) -> bool:
    """Claim that ``job_id`` runs for ``period_key``, inside the caller's transaction.

    Args:
        source: the open session or connection that also writes the job's results.
        job_id: the job's stable id.
        period_key: the period (or slot) the run is for.
        now: the current time.
        worker: the process claiming it.

    Returns:
        True when the claim is new (run the job); False when that period already ran.
    """
    statement = (
        _insert(_dialect(source))(_job_run)
        .values(job_id=job_id, period_key=period_key, ran_at=now, ran_by=worker)
        .on_conflict_do_nothing(index_elements=["job_id", "period_key"])
        .returning(_job_run.c.id)
    )
    return source.execute(statement).first() is not None


def has_run(source: Engine | Connection, job_id: str, period_key: str) -> bool:
    """Whether ``job_id`` already ran for ``period_key``."""
    j = _job_run.c
    query = select(j.id).where(j.job_id == job_id, j.period_key == period_key)
    if isinstance(source, Engine):
        with source.connect() as conn:
            return conn.execute(query).first() is not None
    return source.execute(query).first() is not None


def runs(engine: Engine, job_id: str | None = None) -> list[tuple[str, str, datetime]]:
    """``(job id, period key, ran at)`` of every recorded run, in the order they ran."""
    j = _job_run.c
    query = select(j.job_id, j.period_key, j.ran_at).order_by(j.ran_at, j.id)
    if job_id is not None:
        query = query.where(j.job_id == job_id)
    with engine.connect() as conn:
        return [(a, b, c) for a, b, c in conn.execute(query)]


def prune_runs(engine: Engine, job_ids: Sequence[str], before: datetime) -> int:
    """Forget the runs of frequent jobs (nudges, praise scans) older than ``before``.

    Returns:
        How many rows were deleted.
    """
    j = _job_run.c
    with engine.begin() as conn:
        result = conn.execute(
            delete(_job_run).where(j.job_id.in_(list(job_ids)), j.ran_at < before)
        )
    return int(result.rowcount or 0)
