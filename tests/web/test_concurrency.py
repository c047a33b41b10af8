"""Group commit: many concurrent signed deliveries, each acknowledged once it is durable."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import AsyncIterator, Sequence
from datetime import UTC

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

import bot.inbox_writer
from bot.web.server import NORMALISER_KEY
from storage import inbox
from storage.db import SQLITE_BUSY_TIMEOUT_MS, readonly, session_scope
from storage.models import Message, WebhookInbox
from tests.helpers import AppClients, body, inbound_text_payload, post_signed

DELIVERIES = 64


@pytest.fixture
async def apps(engine: Engine) -> AsyncIterator[AppClients]:
    """Webhook applications on the test store, stopped after the test."""
    clients = AppClients(engine)
    yield clients
    await clients.close()


async def test_concurrent_deliveries_all_acknowledged_and_stored(
    apps: AppClients, sessions: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    batches: list[int] = []
    real_store = inbox.store_bodies
    real_append = inbox.SqliteAppender.store

    def counting_store(engine: Engine, bodies: Sequence[bytes], source: str = "whatsapp") -> None:
        batches.append(len(bodies))
        real_store(engine, bodies, source)

    def counting_append(self: inbox.SqliteAppender, bodies: Sequence[bytes]) -> None:
        real_append(self, bodies)
        batches.append(len(bodies))

    monkeypatch.setattr(bot.inbox_writer.inbox, "store_bodies", counting_store)
    monkeypatch.setattr(inbox.SqliteAppender, "store", counting_append)
    client = await apps.start()
    raws = [body(inbound_text_payload(f"wamid.c{i}", f"order {i}")) for i in range(DELIVERIES)]

    responses = await asyncio.gather(*(post_signed(client, raw) for raw in raws))

    assert [r.status for r in responses] == [200] * DELIVERIES
    with session_scope(sessions) as session:
        stored = set(session.execute(select(WebhookInbox.body)).scalars())
    assert stored == set(raws)
    assert sum(batches) == DELIVERIES
    assert max(batches) > 1, "deliveries arriving together should share a commit"

    await client.app[NORMALISER_KEY].drain()
    with session_scope(sessions) as session:
        wamids = set(session.execute(select(Message.wamid)).scalars())
    assert wamids == {f"wamid.c{i}" for i in range(DELIVERIES)}


async def test_writer_stop_commits_what_is_queued(
    engine: Engine, sessions: sessionmaker[Session]
) -> None:
    writer = bot.inbox_writer.InboxWriter(engine)
    await writer.start()
    stores = [asyncio.create_task(writer.store(f"body {i}".encode())) for i in range(10)]
    await asyncio.sleep(0)
    await writer.stop()
    await asyncio.gather(*stores)
    assert inbox.counts(engine) == {inbox.PENDING: 10}
    with pytest.raises(RuntimeError, match="not running"):
        await writer.store(b"late")


async def test_writer_waits_for_the_gate_while_the_normaliser_writes(engine: Engine) -> None:
    gate = threading.Lock()
    writer = bot.inbox_writer.InboxWriter(engine, gate=gate)
    await writer.start()
    gate.acquire()
    stored = asyncio.create_task(writer.store(b"while the gate is held"))
    await asyncio.sleep(0.05)
    assert not stored.done()

    gate.release()
    await asyncio.wait_for(stored, timeout=10)
    await writer.stop()
    assert inbox.counts(engine) == {inbox.PENDING: 1}


async def test_writer_waits_for_another_process_holding_the_lock(engine: Engine) -> None:
    if engine.dialect.name != "sqlite":
        pytest.skip("SQLite's write lock")
    writer = bot.inbox_writer.InboxWriter(engine)
    await writer.start()
    other = sqlite3.connect(str(engine.url.database), isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    stored = asyncio.create_task(writer.store(b"while another process writes"))
    await asyncio.sleep(0.05)
    assert not stored.done()

    other.execute("COMMIT")
    other.close()
    await asyncio.wait_for(stored, timeout=10)
    await writer.stop()
    assert inbox.counts(engine) == {inbox.PENDING: 1}


def test_appender_rows_read_like_store_bodies(
    engine: Engine, sessions: sessionmaker[Session]
) -> None:
    if not inbox.SqliteAppender.supports(engine):
        pytest.skip("the appender is for SQLite files")
    appender = inbox.SqliteAppender(engine)
    try:
        appender.store([b"fast one", b"fast two"])
        appender.store([b"fast one"])  # a redelivery of the same bytes is not stored again
    finally:
        appender.close()
    inbox.store_bodies(engine, [b"slow one"])
    # Its zero busy timeout never reaches a connection of the engine's pool.
    reader = readonly(engine)
    with reader.connect() as first, reader.connect() as second:
        timeouts = {
            conn.exec_driver_sql("PRAGMA busy_timeout").scalar() for conn in (first, second)
        }
    assert timeouts == {SQLITE_BUSY_TIMEOUT_MS}

    with session_scope(sessions) as session:
        rows = session.execute(select(WebhookInbox).order_by(WebhookInbox.id)).scalars().all()
        seen = [
            (r.body, r.body_sha256, r.status, r.attempts, r.source, r.received_at.tzinfo)
            for r in rows
        ]
    assert seen == [
        (b"fast one", inbox.body_digest(b"fast one"), "pending", 0, "whatsapp", UTC),
        (b"fast two", inbox.body_digest(b"fast two"), "pending", 0, "whatsapp", UTC),
        (b"slow one", inbox.body_digest(b"slow one"), "pending", 0, "whatsapp", UTC),
    ]
