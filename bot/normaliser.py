"""The normaliser: turns stored webhook bodies into domain rows, from the inbox.

It runs apart from the webhook endpoint, so a body that kpibot cannot read yet costs
Meta no retry and kpibot no data: the body stays in the inbox marked ``failed`` with the
reason, and ``kpibot replay`` runs it again after a fix.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from sqlalchemy import Engine
from sqlalchemy.exc import DataError, IntegrityError, OperationalError
from sqlalchemy.orm import Session

from bot.errors import PayloadError
from bot.ingest.whatsapp import normalise, parse_envelope
from storage import inbox
from storage.db import session_factory, session_scope
from storage.ingest import ApplyStats, Resolver, apply_events

logger = logging.getLogger(__name__)

BATCH_SIZE = 200
LIVE_BATCH_SIZE = 50
IDLE_POLL_SECONDS = 5.0
ERROR_BACKOFF_SECONDS = 5.0
MAX_DEFER_SECONDS = 30.0
QUIET_SECONDS = 0.2


@dataclass
class BatchResult:
    """What one pass over the inbox did."""

    processed: int = 0
    failed: int = 0
    skipped_notes: int = 0
    stats: ApplyStats = field(default_factory=ApplyStats)

    @property
    def rows(self) -> int:
        """Inbox rows taken in this pass."""
        return self.processed + self.failed


def normalise_batch(
    engine: Engine, statuses: Sequence[str] = (inbox.PENDING,), limit: int = BATCH_SIZE
) -> BatchResult:
    """Normalise up to ``limit`` inbox rows in ``statuses``, in one transaction.

    Each row is applied inside its own savepoint: a row that cannot be read or stored
    is marked failed with the reason and the others go on.

    Raises:
        sqlalchemy.exc.OperationalError: the database went away; nothing of the batch
            is kept and its rows stay as they were.
    """
    result = BatchResult()
    with session_scope(session_factory(engine)) as session:
        items = inbox.claim(session, statuses, limit)
        resolver = Resolver(session)
        done: list[int] = []
        for item in items:
            reason = _normalise_one(session, resolver, item, result)
            if reason is None:
                done.append(item.id)
            else:
                result.failed += 1
                logger.warning("inbox row failed inbox_id=%s reason=%s", item.id, reason)
                inbox.mark_failed(session, item.id, reason)
        inbox.mark_processed(session, done)
        result.processed = len(done)
    return result


def _normalise_one(
    session: Session, resolver: Resolver, item: inbox.InboxItem, result: BatchResult
) -> str | None:
    """Apply one inbox row; return why it failed, or None."""
    try:
        normalised = normalise(parse_envelope(item.body), received_at=item.received_at)
    except PayloadError as exc:
        return f"not a readable WhatsApp payload: {exc}"

    for note in normalised.skipped:
        logger.debug("inbox row skipped part inbox_id=%s note=%s", item.id, note)
    result.skipped_notes += len(normalised.skipped)

    try:
        with session.begin_nested():
            result.stats.add(apply_events(session, normalised.events, resolver))
    except (IntegrityError, DataError) as exc:
        resolver.clear()
        return f"the database refused it: {str(exc.orig).strip().splitlines()[0]}"
    except ValueError as exc:
        resolver.clear()
        return f"a value could not be stored: {exc}"
    return None


def normalise_all(engine: Engine) -> BatchResult:
    """Normalise every pending row until none is left (replay, tests, the demo).

    Rows that fail are marked ``failed`` and not taken again by this call.
    """
    total = BatchResult()
    while True:
        batch = normalise_batch(engine)
        if batch.rows == 0:
            return total
        total.processed += batch.processed
        total.failed += batch.failed
        total.skipped_notes += batch.skipped_notes
        total.stats.add(batch.stats)


class Normaliser:
    """Runs :func:`normalise_batch` in the background whenever bodies arrive.

    Acknowledging Meta comes first: while the inbox writer has bodies waiting, the
    normaliser defers its next batch (for at most ``MAX_DEFER_SECONDS``, so it never
    starves), and it works in small batches so it never holds the database for long.

    Args:
        engine: the store.
        poll_seconds: how often to look at the inbox when nobody says bodies arrived.
        gate: the lock shared with the inbox writer around write transactions.
        writer_quiet: how long the inbox writer has had nothing to do, in seconds.
    """

    def __init__(
        self,
        engine: Engine,
        poll_seconds: float = IDLE_POLL_SECONDS,
        gate: threading.Lock | None = None,
        writer_quiet: Callable[[], float] | None = None,
    ) -> None:
        self._engine = engine
        self._poll_seconds = poll_seconds
        self._gate = gate
        self._writer_quiet = writer_quiet
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False

    def notify(self) -> None:
        """Say that new bodies are in the inbox."""
        self._wake.set()

    async def start(self) -> None:
        """Start the background loop (it first drains what is already pending)."""
        self._wake.set()
        self._task = asyncio.create_task(self._run(), name="kpibot-normaliser")

    async def stop(self) -> None:
        """Finish the batch under way and stop; pending rows wait for the next start."""
        self._stopping = True
        self._wake.set()
        if self._task is not None:
            await self._task
            self._task = None

    async def drain(self) -> BatchResult:
        """Normalise everything pending now (used by tests and the demo)."""
        return await asyncio.to_thread(normalise_all, self._engine)

    async def _run(self) -> None:
        while not self._stopping:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self._poll_seconds)
            self._wake.clear()
            try:
                await self._drain_logged()
            except OperationalError as exc:
                logger.error("normaliser paused, database unreachable error=%s", exc.orig)
                await asyncio.sleep(ERROR_BACKOFF_SECONDS)

    async def _let_writer_go_first(self) -> None:
        """Wait for a quiet spell of the inbox writer, or until waiting has gone on too long.

        Under a burst of deliveries the normaliser steps aside entirely and catches up
        after it; ``MAX_DEFER_SECONDS`` bounds how far it can fall behind.
        """
        if self._writer_quiet is None:
            return
        deadline = time.monotonic() + MAX_DEFER_SECONDS
        # Polling, not an event: the writer turns busy and idle hundreds of times a
        # second under load, and only a quiet spell is worth waiting for. Once the
        # writer has been quiet that long, batches follow each other without a pause.
        while self._writer_quiet() < QUIET_SECONDS and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.005)

    def _gated_batch(self) -> BatchResult:
        with self._gate if self._gate is not None else contextlib.nullcontext():
            return normalise_batch(self._engine, limit=LIVE_BATCH_SIZE)

    async def _drain_logged(self) -> None:
        while not self._stopping:
            await self._let_writer_go_first()
            started = time.perf_counter()
            batch = await asyncio.to_thread(self._gated_batch)
            if not batch.rows:
                return
            logger.debug(
                "inbox batch normalised rows=%d failed=%d messages_new=%d statuses=%d "
                "duration_ms=%.1f",
                batch.rows,
                batch.failed,
                batch.stats.messages_new,
                batch.stats.statuses,
                (time.perf_counter() - started) * 1000,
            )
