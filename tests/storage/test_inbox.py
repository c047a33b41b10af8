"""The webhook inbox: bodies stored once, claimed, marked, and replayed."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from bot.errors import StorageError
from storage import inbox
from storage.db import session_scope
from storage.models import WebhookInbox
from tests.helpers import inbox_writes_failing


def _rows(sessions: sessionmaker[Session]) -> list[WebhookInbox]:
    with session_scope(sessions) as session:
        return list(session.execute(select(WebhookInbox).order_by(WebhookInbox.id)).scalars())


def test_body_stored_once_per_byte_identical_redelivery(
    engine: Engine, sessions: sessionmaker[Session]
) -> None:
    inbox.store_bodies(engine, [b'{"a": 1}'])
    inbox.store_bodies(engine, [b'{"a": 1}', b'{"a": 1}', b'{"a":1}'])
    rows = _rows(sessions)
    assert [row.body for row in rows] == [b'{"a": 1}', b'{"a":1}']
    assert [row.status for row in rows] == [inbox.PENDING, inbox.PENDING]
    assert rows[0].body_sha256 == inbox.body_digest(b'{"a": 1}')
    assert rows[0].attempts == 0
    assert rows[0].received_at.tzinfo is not None


def test_body_kept_byte_for_byte(engine: Engine, sessions: sessionmaker[Session]) -> None:
    raw = '{"text": "你好 مرحبا \\u00e4"}'.encode() + b"\x00\xff"
    inbox.store_bodies(engine, [raw])
    assert _rows(sessions)[0].body == raw


def test_store_nothing_is_a_no_op(engine: Engine, sessions: sessionmaker[Session]) -> None:
    inbox.store_bodies(engine, [])
    assert _rows(sessions) == []


def test_claim_mark_processed_and_failed(engine: Engine, sessions: sessionmaker[Session]) -> None:
    inbox.store_bodies(engine, [b"one", b"two", b"three"])
    with session_scope(sessions) as session:
        items = inbox.claim(session, limit=2)
        assert [item.body for item in items] == [b"one", b"two"]
        inbox.mark_processed(session, [items[0].id])
        inbox.mark_failed(session, items[1].id, "not a readable WhatsApp payload: x")

    rows = _rows(sessions)
    assert [(r.body, r.status, r.error, r.attempts) for r in rows] == [
        (b"one", inbox.PROCESSED, None, 1),
        (b"two", inbox.FAILED, "not a readable WhatsApp payload: x", 1),
        (b"three", inbox.PENDING, None, 0),
    ]
    assert rows[0].processed_at is not None
    assert inbox.counts(engine) == {"processed": 1, "failed": 1, "pending": 1}
    assert inbox.failures(engine) == [(rows[1].id, "not a readable WhatsApp payload: x")]


def test_replay_resets_failed_only(engine: Engine, sessions: sessionmaker[Session]) -> None:
    inbox.store_bodies(engine, [b"ok", b"bad"])
    with session_scope(sessions) as session:
        ok, bad = inbox.claim(session)
        inbox.mark_processed(session, [ok.id])
        inbox.mark_failed(session, bad.id, "broken")

    assert inbox.reset_for_replay(engine) == 1
    assert [(r.body, r.status) for r in _rows(sessions)] == [
        (b"ok", inbox.PROCESSED),
        (b"bad", inbox.PENDING),
    ]
    with session_scope(sessions) as session:
        assert [item.body for item in inbox.claim(session)] == [b"bad"]


def test_replay_all_resets_processed_too(engine: Engine, sessions: sessionmaker[Session]) -> None:
    inbox.store_bodies(engine, [b"ok", b"bad", b"waiting"])
    with session_scope(sessions) as session:
        ok, bad, _waiting = inbox.claim(session)
        inbox.mark_processed(session, [ok.id])
        inbox.mark_failed(session, bad.id, "broken")

    assert inbox.reset_for_replay(engine, include_processed=True) == 2
    assert {r.status for r in _rows(sessions)} == {inbox.PENDING}


def test_claim_failed_rows_when_asked(engine: Engine, sessions: sessionmaker[Session]) -> None:
    inbox.store_bodies(engine, [b"bad"])
    with session_scope(sessions) as session:
        (bad,) = inbox.claim(session)
        inbox.mark_failed(session, bad.id, "broken")
    with session_scope(sessions) as session:
        assert inbox.claim(session) == []
        assert [item.body for item in inbox.claim(session, [inbox.FAILED])] == [b"bad"]


def test_failure_reason_is_capped(engine: Engine, sessions: sessionmaker[Session]) -> None:
    inbox.store_bodies(engine, [b"bad"])
    with session_scope(sessions) as session:
        (bad,) = inbox.claim(session)
        inbox.mark_failed(session, bad.id, "x" * 5000)
    assert _rows(sessions)[0].error == "x" * 2000


def test_storage_failure_raises_storage_error(engine: Engine) -> None:
    with (
        inbox_writes_failing(engine),
        pytest.raises(StorageError, match="could not store 2 webhook bodies"),
    ):
        inbox.store_bodies(engine, [b"one", b"two"])
    assert inbox.counts(engine) == {}
