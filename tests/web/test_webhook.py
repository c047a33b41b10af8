"""The WhatsApp webhook end to end: handshake, signatures, the inbox, the normaliser."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

import bot.normaliser
from bot.cli import cli
from bot.errors import PayloadError
from bot.ingest.whatsapp import normalise, parse_envelope
from bot.web.server import NORMALISER_KEY
from storage import inbox
from storage.db import session_scope
from storage.models import AccountEvent, Customer, Message, WebhookInbox
from tests.helpers import (
    APP_SECRET,
    CUSTOMER_WA_ID,
    VERIFY_TOKEN,
    WEBHOOK_PATH,
    AppClients,
    body,
    contact,
    envelope,
    fixture_body,
    fixture_names,
    inbound_text_payload,
    inbox_writes_failing,
    kept_logging,
    messages_change,
    post_signed,
    signature,
    status_payload,
    text_message,
)

SECRET_TEXT = "Our best price is 4.2 USD per kilo"


@pytest.fixture
async def apps(engine: Engine) -> AsyncIterator[AppClients]:
    """Webhook applications on the test store, stopped after the test."""
    clients = AppClients(engine)
    yield clients
    await clients.close()


def inbox_rows(sessions: sessionmaker[Session]) -> list[WebhookInbox]:
    with session_scope(sessions) as session:
        return list(session.execute(select(WebhookInbox).order_by(WebhookInbox.id)).scalars())


def message_rows(sessions: sessionmaker[Session]) -> list[Message]:
    with session_scope(sessions) as session:
        return list(session.execute(select(Message).order_by(Message.wamid)).scalars())


# --- the GET handshake --------------------------------------------------------------------


async def test_handshake_answers_the_challenge(apps: AppClients) -> None:
    client = await apps.start()
    response = await client.get(
        WEBHOOK_PATH,
        params={
            "hub.mode": "subscribe",
            "hub.verify_token": VERIFY_TOKEN,
            "hub.challenge": "1158201444",
        },
    )
    assert response.status == 200
    assert response.content_type == "text/plain"
    assert await response.text() == "1158201444"


@pytest.mark.parametrize(
    ("params", "configured"),
    [
        pytest.param(
            {"hub.mode": "subscribe", "hub.verify_token": "wrong", "hub.challenge": "1"},
            VERIFY_TOKEN,
            id="wrong-token",
        ),
        pytest.param(
            {"hub.mode": "unsubscribe", "hub.verify_token": VERIFY_TOKEN, "hub.challenge": "1"},
            VERIFY_TOKEN,
            id="wrong-mode",
        ),
        pytest.param({"hub.challenge": "1"}, VERIFY_TOKEN, id="no-parameters"),
        pytest.param(
            {"hub.mode": "subscribe", "hub.verify_token": "", "hub.challenge": "1"},
            None,
            id="no-token-configured",
        ),
    ],
)
async def test_handshake_refused(
    apps: AppClients, params: dict[str, str], configured: str | None
) -> None:
    client = await apps.start(verify_token=configured)
    response = await client.get(WEBHOOK_PATH, params=params)
    assert response.status == 403
    assert await response.text() != "1"


# --- signatures ---------------------------------------------------------------------------


async def test_signed_delivery_is_in_the_inbox_when_acknowledged(
    apps: AppClients, sessions: sessionmaker[Session]
) -> None:
    client = await apps.start()
    raw = body(inbound_text_payload())
    response = await post_signed(client, raw)
    assert response.status == 200
    rows = inbox_rows(sessions)
    assert [(row.body, row.status) for row in rows] == [(raw, inbox.PENDING)]


@pytest.mark.parametrize(
    ("header", "reason"),
    [
        pytest.param(None, "missing X-Hub-Signature-256 header", id="missing"),
        pytest.param("", "missing X-Hub-Signature-256 header", id="empty"),
        pytest.param("md5=abc", "is not of the form sha256=<hex>", id="other-scheme"),
        pytest.param("sha256=", "is not of the form sha256=<hex>", id="no-digest"),
        pytest.param("deadbeef", "is not of the form sha256=<hex>", id="bare-hex"),
        pytest.param("sha256=" + "0" * 64, "does not match the body", id="wrong-digest"),
        pytest.param("sha256=zz-not-hex", "does not match the body", id="not-hex"),
        pytest.param("sha256=ü", "does not match the body", id="non-ascii"),
    ],
)
async def test_bad_signature_is_401_and_nothing_stored(
    apps: AppClients,
    sessions: sessionmaker[Session],
    caplog: pytest.LogCaptureFixture,
    header: str | None,
    reason: str,
) -> None:
    client = await apps.start()
    raw = body(inbound_text_payload(text=SECRET_TEXT))
    headers = {"Content-Type": "application/json"}
    if header is not None:
        headers["X-Hub-Signature-256"] = header
    with caplog.at_level(logging.WARNING, logger="bot.web.whatsapp"):
        response = await client.post(WEBHOOK_PATH, data=raw, headers=headers)
    assert response.status == 401
    assert reason in await response.text()
    assert inbox_rows(sessions) == []
    (line,) = [r.getMessage() for r in caplog.records if r.name == "bot.web.whatsapp"]
    assert line.startswith("webhook rejected status=401 reason=")
    assert reason in line
    assert SECRET_TEXT not in line
    assert CUSTOMER_WA_ID not in line


async def test_signed_with_another_secret_is_401(
    apps: AppClients, sessions: sessionmaker[Session]
) -> None:
    client = await apps.start()
    response = await post_signed(client, body(inbound_text_payload()), secret=b"not-ours")
    assert response.status == 401
    assert inbox_rows(sessions) == []


async def test_rejected_log_line_never_holds_text_or_phone(
    apps: AppClients, caplog: pytest.LogCaptureFixture
) -> None:
    """A compact body whose text starts early still logs only its structure."""
    payload = {
        "entry": [{"changes": [{"value": {"messages": [{"text": {"body": SECRET_TEXT}}]}}]}],
        "object": "whatsapp_business_account",
    }
    raw = json.dumps(payload, separators=(",", ":")).encode()
    client = await apps.start()
    with caplog.at_level(logging.WARNING, logger="bot.web.whatsapp"):
        response = await client.post(WEBHOOK_PATH, data=raw)
    assert response.status == 401
    assert "webhook rejected status=401" in caplog.text
    assert "Our best" not in caplog.text
    assert "price" not in caplog.text


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        pytest.param(
            b'{"object": "whatsapp_business_account", "entry": [{"id": "1022901"',
            '{"object": "…", "entry": [{"id": "…"',
            id="envelope",
        ),
        pytest.param(
            b'{"messages":[{"from":"8613812345678","text":{"body":"Hi',
            '{"messages":[{"from":"…","text":{"body":"…"',
            id="text-early",
        ),
        pytest.param(b"call 8613812345678 now", "… ############# …", id="not-json"),
        pytest.param(b'{"ok": true, "n": 12}', '{"ok": true, "n": ##}', id="literals"),
    ],
)
def test_rejected_body_excerpt_shows_structure_only(raw: bytes, shown: str) -> None:
    from bot.logs import excerpt

    assert excerpt(raw) == f"{len(raw)} bytes: {shown!r}"


@pytest.mark.parametrize(
    "ensure_ascii", [pytest.param(True, id="escaped"), pytest.param(False, id="raw-utf8")]
)
async def test_non_ascii_body_verified_over_raw_bytes(
    apps: AppClients, sessions: sessionmaker[Session], ensure_ascii: bool
) -> None:
    text = "你好，请报价 — مرحبا، كم السعر؟ äöå"
    raw = body(inbound_text_payload(text=text), ensure_ascii=ensure_ascii)
    client = await apps.start(run_normaliser=False)
    response = await post_signed(client, raw)
    assert response.status == 200
    assert [row.body for row in inbox_rows(sessions)] == [raw]
    await client.app[NORMALISER_KEY].drain()
    assert [m.text for m in message_rows(sessions)] == [text]


async def test_signature_of_reserialised_json_does_not_verify(
    apps: AppClients, sessions: sessionmaker[Session]
) -> None:
    """Meta signs the escaped bytes; a digest of the decoded form is refused."""
    payload = inbound_text_payload(text="äöå")
    sent = body(payload, ensure_ascii=True)
    client = await apps.start()
    response = await client.post(
        WEBHOOK_PATH,
        data=sent,
        headers={"X-Hub-Signature-256": signature(body(payload, ensure_ascii=False), APP_SECRET)},
    )
    assert response.status == 401
    assert inbox_rows(sessions) == []


async def test_insecure_mode_accepts_unsigned(
    apps: AppClients, sessions: sessionmaker[Session]
) -> None:
    client = await apps.start(app_secret=None, verify_signatures=False)
    raw = body(inbound_text_payload())
    response = await client.post(WEBHOOK_PATH, data=raw)
    assert response.status == 200
    assert [row.body for row in inbox_rows(sessions)] == [raw]


# --- bodies that are not deliveries -------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        pytest.param(b"hello there", "not JSON", id="not-json"),
        pytest.param(b"", "not JSON", id="empty"),
        pytest.param(b"\xff\xfe{}", "not UTF-8", id="not-utf8"),
        pytest.param(b"[1, 2]", "", id="array"),
        pytest.param(b'{"object": "page", "entry": []}', "object", id="wrong-object"),
        pytest.param(b'{"entry": []}', "object", id="no-object"),
        pytest.param(b'{"object": "whatsapp_business_account"}', "entry", id="no-entry"),
        pytest.param(
            b'{"object": "whatsapp_business_account", "entry": [{"id": "1"}]}',
            "changes",
            id="no-changes",
        ),
    ],
)
async def test_not_an_envelope_is_400_with_a_one_line_reason(
    apps: AppClients, sessions: sessionmaker[Session], raw: bytes, reason: str
) -> None:
    client = await apps.start()
    response = await post_signed(client, raw)
    text = await response.text()
    assert response.status == 400
    assert reason in text
    assert text.count("\n") == 1
    assert text.endswith("\n")
    assert inbox_rows(sessions) == []


async def test_body_over_the_limit_is_413(
    apps: AppClients, sessions: sessionmaker[Session]
) -> None:
    client = await apps.start(max_body_bytes=1024)
    raw = body(inbound_text_payload(text="x" * 2000))
    response = await post_signed(client, raw)
    assert response.status == 413
    assert inbox_rows(sessions) == []


async def test_chunked_body_over_the_limit_is_413(
    apps: AppClients, sessions: sessionmaker[Session]
) -> None:
    client = await apps.start(max_body_bytes=1024)
    raw = body(inbound_text_payload(text="x" * 2000))

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(raw), 256):
            yield raw[start : start + 256]

    response = await client.post(
        WEBHOOK_PATH,
        data=chunks(),
        headers={"X-Hub-Signature-256": signature(raw, APP_SECRET)},
    )
    assert response.status == 413
    assert inbox_rows(sessions) == []


async def test_storage_failure_is_503_and_nothing_half_stored(
    apps: AppClients, engine: Engine, sessions: sessionmaker[Session]
) -> None:
    client = await apps.start()
    with inbox_writes_failing(engine):
        response = await post_signed(client, body(inbound_text_payload()))
    assert response.status == 503
    assert inbox_rows(sessions) == []
    assert message_rows(sessions) == []


# --- duplicates and order -----------------------------------------------------------------


async def test_same_body_twice_is_one_message(
    apps: AppClients, sessions: sessionmaker[Session]
) -> None:
    client = await apps.start()
    raw = body(inbound_text_payload("wamid.dup"))
    assert (await post_signed(client, raw)).status == 200
    assert (await post_signed(client, raw)).status == 200
    await client.app[NORMALISER_KEY].drain()
    assert len(inbox_rows(sessions)) == 1
    assert [m.wamid for m in message_rows(sessions)] == ["wamid.dup"]


async def test_two_bodies_with_the_same_wamid_are_one_message(
    apps: AppClients, sessions: sessionmaker[Session]
) -> None:
    client = await apps.start()
    first = body(inbound_text_payload("wamid.dup"))
    second = body(inbound_text_payload("wamid.dup"), ensure_ascii=False) + b"\n"
    for raw in (first, second):
        assert (await post_signed(client, raw)).status == 200
    await client.app[NORMALISER_KEY].drain()
    assert [row.status for row in inbox_rows(sessions)] == [inbox.PROCESSED, inbox.PROCESSED]
    assert [m.wamid for m in message_rows(sessions)] == ["wamid.dup"]


async def test_out_of_order_statuses_across_deliveries(
    apps: AppClients, sessions: sessionmaker[Session]
) -> None:
    client = await apps.start()
    for status, offset in (("read", 30), ("sent", 10), ("delivered", 20), ("sent", 10)):
        raw = body(status_payload("wamid.out", status, offset=offset))
        assert (await post_signed(client, raw)).status == 200
        await client.app[NORMALISER_KEY].drain()
    (row,) = message_rows(sessions)
    assert row.status == "read"
    assert [t and int(t.timestamp()) for t in (row.sent_at, row.delivered_at, row.read_at)] == [
        1_750_000_010,
        1_750_000_020,
        1_750_000_030,
    ]


# --- every fixture end to end -------------------------------------------------------------


def _expected_rows(raw: bytes) -> tuple[set[str], int, set[str]]:
    """What a body should leave: message wamids, account events, customer ids."""
    events = normalise(parse_envelope(raw)).events
    wamids = {
        getattr(e, "original_message_id", None) or getattr(e, "message_id", "")
        for e in events
        if hasattr(e, "message_id")
    }
    accounts = sum(1 for e in events if type(e).__name__ == "AccountEvent")
    wa_ids: set[str] = set()
    for e in events:
        ref = getattr(e, "customer", None)
        new = getattr(e, "new_wa_id", None)
        if new:
            wa_ids.add(new)
        elif ref is not None and ref.wa_id:
            wa_ids.add(ref.wa_id)
    return wamids, accounts, wa_ids


@pytest.mark.parametrize("name", fixture_names())
async def test_every_fixture_lands_in_the_domain_tables(
    apps: AppClients, sessions: sessionmaker[Session], name: str
) -> None:
    raw = fixture_body(name)
    client = await apps.start()
    assert (await post_signed(client, raw)).status == 200
    result = await client.app[NORMALISER_KEY].drain()
    assert (result.processed, result.failed) == (1, 0)

    wamids, accounts, wa_ids = _expected_rows(raw)
    with session_scope(sessions) as session:
        stored_wamids = set(session.execute(select(Message.wamid)).scalars())
        stored_accounts = session.execute(select(func.count()).select_from(AccountEvent)).scalar()
        stored_wa_ids = set(session.execute(select(Customer.wa_id)).scalars())
    assert stored_wamids == wamids
    assert stored_accounts == accounts
    assert wa_ids <= stored_wa_ids
    assert [row.status for row in inbox_rows(sessions)] == [inbox.PROCESSED]


async def test_running_normaliser_picks_up_deliveries(
    apps: AppClients, sessions: sessionmaker[Session]
) -> None:
    client = await apps.start(run_normaliser=True)
    assert (await post_signed(client, body(inbound_text_payload("wamid.bg")))).status == 200
    await client.app[NORMALISER_KEY].drain()
    assert [m.wamid for m in message_rows(sessions)] == ["wamid.bg"]


# --- failures kept, replayed; unknown parts skipped ---------------------------------------


async def test_body_that_fails_to_normalise_stays_failed_with_reason(
    apps: AppClients, sessions: sessionmaker[Session]
) -> None:
    payload = inbound_text_payload("wamid.bad")
    payload["entry"][0]["changes"][0]["value"]["messages"][0]["timestamp"] = "yesterday"
    client = await apps.start()
    assert (await post_signed(client, body(payload))).status == 200
    result = await client.app[NORMALISER_KEY].drain()
    assert (result.processed, result.failed) == (0, 1)
    (row,) = inbox_rows(sessions)
    assert row.status == inbox.FAILED
    assert row.error is not None
    assert "messages[0].timestamp" in row.error
    assert "not a unix time" in row.error
    assert message_rows(sessions) == []


async def test_failed_body_processed_by_replay_after_a_fix(
    apps: AppClients,
    engine: Engine,
    sessions: sessionmaker[Session],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    real_normalise = bot.normaliser.normalise
    attempts: list[int] = []

    def broken_then_fixed(payload: dict[str, Any], **kwargs: Any) -> Any:
        attempts.append(1)
        if len(attempts) == 1:
            raise PayloadError("kpibot cannot read this yet", "entry[0]")
        return real_normalise(payload, **kwargs)

    monkeypatch.setattr(bot.normaliser, "normalise", broken_then_fixed)
    client = await apps.start()
    assert (await post_signed(client, body(inbound_text_payload("wamid.fix")))).status == 200
    await client.app[NORMALISER_KEY].drain()
    assert [(r.status, r.error) for r in inbox_rows(sessions)] == [
        (inbox.FAILED, "not a readable WhatsApp payload: entry[0]: kpibot cannot read this yet")
    ]

    with kept_logging():
        result = CliRunner().invoke(cli, ["--database-url", str(engine.url), "replay"])
    assert result.exit_code == 0, result.output
    assert "Replayed 1 bodies: 1 processed, 0 failed (1 new messages" in result.output
    assert [r.status for r in inbox_rows(sessions)] == [inbox.PROCESSED]
    assert [m.wamid for m in message_rows(sessions)] == ["wamid.fix"]


async def test_unknown_fields_kept_in_inbox_and_skipped(
    apps: AppClients, sessions: sessionmaker[Session]
) -> None:
    message = text_message("wamid.new", "hi") | {"brand_new_field": {"x": 1}}
    payload = envelope(
        messages_change(contacts=[contact()], messages=[message]),
        {"value": {"event": "APPROVED", "message_template_id": 1}, "field": "template_x"},
        {"value": {"anything": True}, "field": "message_template_status_update"},
    )
    payload["future_top_level"] = [1, 2, 3]
    raw = body(payload)
    client = await apps.start()
    assert (await post_signed(client, raw)).status == 200
    result = await client.app[NORMALISER_KEY].drain()
    assert (result.processed, result.failed, result.skipped_notes) == (1, 0, 2)
    (row,) = inbox_rows(sessions)
    assert row.status == inbox.PROCESSED
    assert b"brand_new_field" in row.body
    assert b"future_top_level" in row.body
    assert [m.wamid for m in message_rows(sessions)] == ["wamid.new"]


# --- health -------------------------------------------------------------------------------


async def test_healthz_reports_a_reachable_database(apps: AppClients) -> None:
    client = await apps.start()
    response = await client.get("/healthz")
    assert response.status == 200
    assert await response.json() == {
        "status": "ok",
        "database": "ok",
        "inbox": {"pending": 0, "failed": 0, "processed": 0},
    }


async def test_healthz_reports_an_unreachable_database(apps: AppClients) -> None:
    from storage.db import create_db_engine

    unreachable = create_db_engine("postgresql://kpi:pw-hidden@127.0.0.1:1/none")
    try:
        client = await apps.start(store=unreachable)
        response = await client.get("/healthz")
        payload = await response.json()
    finally:
        unreachable.dispose()
    assert response.status == 503
    assert payload["status"] == "error"
    assert "cannot reach the database" in payload["database"]
    assert "pw-hidden" not in payload["database"]
