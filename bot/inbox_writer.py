"""Group commit for the webhook inbox: many concurrent deliveries, one durable commit.

Every accepted webhook must be in the database before its 200 goes out. Committing each
body on its own would make the disk's flush time the ceiling on deliveries per second,
so requests that arrive while a commit is under way wait together and go into the next
one. Each request still returns only after the transaction holding its body committed.

On SQLite the commit runs on the event loop itself when it need not wait (the
normaliser is not writing and no other process holds the lock): a prepared insert and
one flush take well under a millisecond, less than handing the batch to a thread and
back costs under load. Otherwise, and on PostgreSQL, it runs in a worker thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time

from sqlalchemy import Engine

from storage import inbox

logger = logging.getLogger(__name__)

MAX_BATCH = 500


class InboxWriter:
    """Writes webhook bodies to the inbox in batched, durable transactions.

    Start it with :meth:`start` inside the running event loop and stop it with
    :meth:`stop`, which writes what is still queued before returning.
    """

    def __init__(
        self, engine: Engine, max_batch: int = MAX_BATCH, gate: threading.Lock | None = None
    ) -> None:
        self._engine = engine
        self._max_batch = max_batch
        self._gate = gate
        self._appender: inbox.SqliteAppender | None = None
        self._committing = False
        self._last_active = time.monotonic()
        self._queue: list[tuple[bytes, asyncio.Future[None]]] = []
        self._wake = asyncio.Event()
        self._closing = False
        self._task: asyncio.Task[None] | None = None

    @property
    def idle(self) -> bool:
        """True when no body waits to be committed."""
        return not self._queue and not self._committing

    def quiet_for(self) -> float:
        """Seconds since the writer last had work; 0 while it has some."""
        if not self.idle:
            return 0.0
        return time.monotonic() - self._last_active

    async def start(self) -> None:
        """Start the background writer."""
        if inbox.SqliteAppender.supports(self._engine):
            self._appender = await asyncio.to_thread(inbox.SqliteAppender, self._engine)
        self._task = asyncio.create_task(self._run(), name="kpibot-inbox-writer")

    async def stop(self) -> None:
        """Write everything still queued, then stop."""
        self._closing = True
        self._wake.set()
        if self._task is not None:
            await self._task
            self._task = None
        if self._appender is not None:
            self._appender.close()
            self._appender = None

    async def store(self, body: bytes) -> None:
        """Return once ``body`` is committed to the inbox.

        Raises:
            bot.errors.StorageError: the commit failed; the body is not stored.
            RuntimeError: the writer is stopping and takes no more bodies.
        """
        if self._closing or self._task is None:
            raise RuntimeError("the inbox writer is not running")
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._queue.append((body, future))
        self._wake.set()
        await future

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            # One turn of the loop first: the requests whose bodies are already read
            # reach the queue too, and share this commit instead of waiting for the next.
            await asyncio.sleep(0)
            self._wake.clear()
            while self._queue:
                batch = self._queue[: self._max_batch]
                del self._queue[: self._max_batch]
                self._committing = True
                try:
                    await self._commit(batch)
                finally:
                    self._committing = False
                    self._last_active = time.monotonic()
            if self._closing:
                return

    async def _commit(self, batch: list[tuple[bytes, asyncio.Future[None]]]) -> None:
        started = time.perf_counter()
        bodies = [body for body, _ in batch]
        try:
            if not self._store_now(bodies):
                await asyncio.to_thread(self._store, bodies)
        except Exception as exc:
            logger.error("inbox commit failed bodies=%d error=%s", len(batch), exc)
            for _, future in batch:
                if not future.done():
                    future.set_exception(exc)
            return

        logger.debug(
            "inbox commit bodies=%d duration_ms=%.1f",
            len(batch),
            (time.perf_counter() - started) * 1000,
        )
        for _, future in batch:
            if not future.done():
                future.set_result(None)

    def _store_now(self, bodies: list[bytes]) -> bool:
        """Commit on the event loop if nothing would make it wait; False if it would."""
        if self._appender is None:
            return False
        if self._gate is not None and not self._gate.acquire(blocking=False):
            return False
        try:
            self._appender.store(bodies)
        except inbox.DatabaseBusyError:
            return False
        finally:
            if self._gate is not None:
                self._gate.release()
        return True

    def _store(self, bodies: list[bytes]) -> None:
        # The gate hands the database over at once between this writer and the
        # normaliser; SQLite's own busy wait sleeps in coarse steps.
        with self._gate if self._gate is not None else contextlib.nullcontext():
            inbox.store_bodies(self._engine, bodies)
