"""Group commit: many concurrent signed deliveries, each acknowledged once it is durable."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

import bot.inbox_writer
from bot.web.server import NORMALISER_KEY
from storage import inbox
from storage.db import session_scope
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

    def counting_store(engine: Engine, bodies: Sequence[bytes], source: str = "whatsapp") -> None:
        batches.append(len(bodies))
        real_store(engine, bodies, source)

    monkeypatch.setattr(bot.inbox_writer.inbox, "store_bodies", counting_store)
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
