"""insert_messages, the bulk path of imports: a copy of a stored message leaves the row
exactly as apply_events would, whether the copy changes something or nothing."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from bot import domain
from bot.domain import DeliveryStatus as S
from bot.domain import Direction, MessageContent, MessageSource
from storage.db import session_scope
from storage.ingest import apply_events, insert_messages
from storage.models import Message
from tests.helpers import message_event, status_event

_SKIP = {"id", "created_at", "updated_at"}

TEXT = MessageContent(type="text", text="What is the price of 40ft?")


def _row(sessions: sessionmaker[Session]) -> dict[str, Any]:
    with session_scope(sessions) as session:
        (row,) = session.execute(select(Message)).scalars().all()
        return {c.name: getattr(row, c.name) for c in Message.__table__.columns}  # type: ignore[attr-defined]


def _reset(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(Message.__table__.delete())  # type: ignore[attr-defined]


FIRSTS: dict[str, list[domain.DomainEvent]] = {
    "message": [message_event(content=TEXT, offset=10)],
    "placeholder": [
        status_event(status=S.DELIVERED, offset=12),
    ],
    "forwarded": [
        message_event(content=MessageContent(type="text", text="fwd", forwarded=True)),
    ],
}

COPIES: dict[str, domain.MessageEvent] = {
    "same": message_event(content=TEXT, offset=10),
    "later": message_event(content=TEXT, offset=20),
    "earlier": message_event(content=TEXT, offset=5),
    "other-text": message_event(content=MessageContent(type="text", text="ok"), offset=10),
    "forwarded": message_event(
        content=MessageContent(type="text", text=TEXT.text, forwarded=True), offset=10
    ),
    "more-fields": message_event(
        content=MessageContent(type="text", text=TEXT.text, context_message_id="wamid.q"),
        offset=10,
    ),
    "history-read": message_event(
        content=TEXT, offset=10, source=MessageSource.HISTORY, history_status=S.READ
    ),
    "outbound-document": message_event(
        content=MessageContent(type="document", filename="PI-7.pdf"),
        direction=Direction.OUTBOUND,
        offset=10,
    ),
}


@pytest.mark.parametrize("copy", sorted(COPIES))
@pytest.mark.parametrize("first", sorted(FIRSTS))
def test_a_bulk_copy_leaves_the_row_as_apply_events_does(
    engine: Engine, sessions: sessionmaker[Session], first: str, copy: str
) -> None:
    with session_scope(sessions) as session:
        apply_events(session, FIRSTS[first])
        apply_events(session, [COPIES[copy]])
    expected = _row(sessions)

    _reset(engine)
    with session_scope(sessions) as session:
        apply_events(session, FIRSTS[first])
        stats = insert_messages(session, [COPIES[copy]])
    assert (stats.messages_new, stats.messages_merged) == (0, 1)
    got = _row(sessions)
    assert {k: v for k, v in got.items() if k not in _SKIP} == {
        k: v for k, v in expected.items() if k not in _SKIP
    }
