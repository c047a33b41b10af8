"""Builders of WhatsApp webhook payloads and domain events, and Meta's signing, for tests.

The payload builders return plain dicts in the shapes Meta documents; :func:`body` turns
one into the bytes Meta would send, and :func:`signed_headers` signs those bytes as Meta does.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bot import domain
from tests.conftest import APP_SECRET, VERIFY_TOKEN

FIXTURES = Path(__file__).parent / "fixtures" / "whatsapp"

WABA_ID = "102290129340398"
PHONE_NUMBER_ID = "106540352242922"
DISPLAY_NUMBER = "15550783881"
CUSTOMER_WA_ID = "8613812345678"
CUSTOMER_NAME = "Wang Wei"
BASE_TIME = 1_750_000_000


def at(offset: int = 0) -> datetime:
    """The aware UTC time ``offset`` seconds after the tests' base time."""
    return datetime.fromtimestamp(BASE_TIME + offset, tz=UTC)


# --- raw payloads -------------------------------------------------------------------------


def envelope(*changes: dict[str, Any], waba_id: str = WABA_ID) -> dict[str, Any]:
    """A webhook body holding ``changes`` in one entry."""
    return {
        "object": "whatsapp_business_account",
        "entry": [{"id": waba_id, "changes": list(changes)}],
    }


def messages_change(
    *,
    messages: list[dict[str, Any]] | None = None,
    statuses: list[dict[str, Any]] | None = None,
    contacts: list[dict[str, Any]] | None = None,
    phone_number_id: str = PHONE_NUMBER_ID,
    display_number: str = DISPLAY_NUMBER,
    field: str = "messages",
) -> dict[str, Any]:
    """A ``messages``-field change (or another field with the same value shape)."""
    value: dict[str, Any] = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": display_number, "phone_number_id": phone_number_id},
    }
    if contacts is not None:
        value["contacts"] = contacts
    if messages is not None:
        value["messages"] = messages
    if statuses is not None:
        value["statuses"] = statuses
    return {"value": value, "field": field}


def contact(wa_id: str = CUSTOMER_WA_ID, name: str = CUSTOMER_NAME) -> dict[str, Any]:
    """A ``value.contacts[]`` item."""
    return {"profile": {"name": name}, "wa_id": wa_id}


def text_message(
    wamid: str = "wamid.in1",
    text: str = "Do you ship to Lagos?",
    *,
    offset: int = 0,
    sender: str = CUSTOMER_WA_ID,
) -> dict[str, Any]:
    """An inbound text ``value.messages[]`` item."""
    return {
        "from": sender,
        "id": wamid,
        "timestamp": str(BASE_TIME + offset),
        "type": "text",
        "text": {"body": text},
    }


def status_item(
    wamid: str = "wamid.out1",
    status: str = "sent",
    *,
    offset: int = 0,
    recipient: str = CUSTOMER_WA_ID,
    category: str | None = None,
    tracking: str | None = None,
) -> dict[str, Any]:
    """A ``value.statuses[]`` item."""
    item: dict[str, Any] = {
        "id": wamid,
        "status": status,
        "timestamp": str(BASE_TIME + offset),
        "recipient_id": recipient,
    }
    if category is not None:
        item["pricing"] = {"billable": True, "pricing_model": "PMP", "category": category}
    if tracking is not None:
        item["biz_opaque_callback_data"] = tracking
    return item


def inbound_text_payload(
    wamid: str = "wamid.in1", text: str = "Do you ship to Lagos?", *, offset: int = 0
) -> dict[str, Any]:
    """A whole body with one inbound text message and its contact."""
    return envelope(
        messages_change(contacts=[contact()], messages=[text_message(wamid, text, offset=offset)])
    )


def status_payload(
    wamid: str = "wamid.out1", status: str = "sent", **kwargs: Any
) -> dict[str, Any]:
    """A whole body with one status of an outbound message."""
    return envelope(messages_change(statuses=[status_item(wamid, status, **kwargs)]))


def body(payload: dict[str, Any], *, ensure_ascii: bool = True) -> bytes:
    """The bytes Meta sends for ``payload``: escaped non-ASCII by default, or raw UTF-8."""
    return json.dumps(payload, ensure_ascii=ensure_ascii).encode("utf-8")


def fixture_body(name: str) -> bytes:
    """The bytes of ``tests/fixtures/whatsapp/<name>.json``, exactly as stored."""
    return (FIXTURES / f"{name}.json").read_bytes()


def fixture_names() -> list[str]:
    """The names of every fixture payload, sorted."""
    return sorted(path.stem for path in FIXTURES.glob("*.json"))


# --- signing ------------------------------------------------------------------------------


def signature(raw: bytes, secret: bytes) -> str:
    """The ``X-Hub-Signature-256`` value for ``raw``, computed independently of the app."""
    return "sha256=" + hmac.new(secret, raw, hashlib.sha256).hexdigest()


def signed_headers(raw: bytes, secret: bytes) -> dict[str, str]:
    """Headers of a delivery of ``raw`` signed with ``secret``."""
    return {"Content-Type": "application/json", "X-Hub-Signature-256": signature(raw, secret)}


# --- domain events ------------------------------------------------------------------------

NUMBER = domain.BusinessNumber(
    phone_number_id=PHONE_NUMBER_ID, display_number=DISPLAY_NUMBER, waba_id=WABA_ID
)
CUSTOMER = domain.CustomerRef(wa_id=CUSTOMER_WA_ID, name=CUSTOMER_NAME)


def message_event(
    wamid: str = "wamid.m1",
    *,
    offset: int = 0,
    direction: domain.Direction = domain.Direction.INBOUND,
    content: domain.MessageContent | None = None,
    source: domain.MessageSource = domain.MessageSource.WEBHOOK,
    history_status: domain.DeliveryStatus | None = None,
    number: domain.BusinessNumber = NUMBER,
    customer: domain.CustomerRef = CUSTOMER,
) -> domain.MessageEvent:
    """A message event (an inbound text by default)."""
    return domain.MessageEvent(
        number=number,
        customer=customer,
        message_id=wamid,
        direction=direction,
        timestamp=at(offset),
        content=content or domain.MessageContent(type="text", text="hello"),
        source=source,
        history_status=history_status,
    )


def status_event(
    wamid: str = "wamid.m1",
    status: domain.DeliveryStatus = domain.DeliveryStatus.SENT,
    *,
    offset: int = 0,
    pricing_category: str | None = None,
    origin_type: str | None = None,
    tracking_data: str | None = None,
    errors: tuple[domain.ErrorInfo, ...] = (),
    number: domain.BusinessNumber = NUMBER,
    customer: domain.CustomerRef = CUSTOMER,
) -> domain.StatusEvent:
    """A status event of an outbound message."""
    return domain.StatusEvent(
        number=number,
        customer=customer,
        message_id=wamid,
        status=status,
        timestamp=at(offset),
        pricing_category=pricing_category,
        origin_type=origin_type,
        tracking_data=tracking_data,
        errors=errors,
    )


_REFUSING_TRIGGER = "kpibot_test_inbox_refuses"


@contextmanager
def inbox_writes_failing(engine: Any) -> Iterator[Any]:
    """While open, the database refuses every insert into the webhook inbox.

    A trigger raises inside the transaction, as a full disk or a lost connection would,
    whichever connection or code path writes; it is dropped on exit.
    """
    from sqlalchemy import text

    postgres = engine.dialect.name == "postgresql"
    with engine.begin() as conn:
        if postgres:
            conn.execute(
                text(
                    f"CREATE FUNCTION {_REFUSING_TRIGGER}() RETURNS trigger AS $$ BEGIN "
                    "RAISE EXCEPTION 'the inbox refuses writes'; END $$ LANGUAGE plpgsql"
                )
            )
            conn.execute(
                text(
                    f"CREATE TRIGGER {_REFUSING_TRIGGER} BEFORE INSERT ON webhook_inbox "
                    f"FOR EACH ROW EXECUTE FUNCTION {_REFUSING_TRIGGER}()"
                )
            )
        else:
            conn.execute(
                text(
                    f"CREATE TRIGGER {_REFUSING_TRIGGER} BEFORE INSERT ON webhook_inbox "
                    "BEGIN SELECT RAISE(ABORT, 'the inbox refuses writes'); END"
                )
            )
    try:
        yield engine
    finally:
        with engine.begin() as conn:
            if postgres:
                conn.execute(text(f"DROP TRIGGER {_REFUSING_TRIGGER} ON webhook_inbox"))
                conn.execute(text(f"DROP FUNCTION {_REFUSING_TRIGGER}()"))
            else:
                conn.execute(text(f"DROP TRIGGER {_REFUSING_TRIGGER}"))


def insert_old_messages(
    engine: Any, rows: list[tuple[str, str, str | None, str | None, str | None]]
) -> None:
    """Insert messages straight into a store migrated to an older revision.

    Each row is ``(direction, type, text, caption, filename)``; the messages get ids
    1, 2, … a minute apart, on number 1 and customer 1 (both made here). Only the
    columns every revision has are written, so a migration that adds one can be tested
    on rows written without it.
    """
    from sqlalchemy import column, insert, table

    from storage.models import BusinessNumber, Customer

    start = datetime(2025, 1, 6, tzinfo=UTC)
    with engine.begin() as conn:
        number = BusinessNumber.__table__  # type: ignore[attr-defined]
        customer = Customer.__table__  # type: ignore[attr-defined]
        conn.execute(insert(number).values(id=1, phone_number_id="pn1", first_seen_at=start))
        conn.execute(
            insert(customer).values(id=1, wa_id="861", created_at=start, updated_at=start)
        )
        values = [
            {
                "id": i + 1,
                "wamid": f"w{i}",
                "business_number_id": 1,
                "customer_id": 1,
                "direction": direction,
                "type": kind,
                "source": "webhook",
                "timestamp": start + timedelta(minutes=i),
                "text": text,
                "caption": caption,
                "filename": filename,
                "is_template": False,
                "is_automated": False,
                "forwarded": False,
                "created_at": start,
                "updated_at": start,
            }
            for i, (direction, kind, text, caption, filename) in enumerate(rows)
        ]
        # A bare table of just these columns: the model's would add its newer ones.
        old_message = table("message", *(column(name) for name in values[0]))
        conn.execute(insert(old_message), values)


# --- the running webhook application ------------------------------------------------------

WEBHOOK_PATH = "/webhooks/whatsapp"


def webhook_config(**overrides: Any) -> Any:
    """The test webhook's configuration: signed, with a verify token, 64 KiB bodies."""
    from bot.web.whatsapp import WebhookConfig

    values: dict[str, Any] = {
        "app_secret": APP_SECRET,
        "verify_token": VERIFY_TOKEN,
        "max_body_bytes": 64 * 1024,
    }
    values.update(overrides)
    return WebhookConfig(**values)


class AppClients:
    """Starts webhook applications on a store and closes their clients at the end."""

    def __init__(self, engine: Any) -> None:
        self.engine = engine
        self._clients: list[Any] = []

    async def start(
        self, *, store: Any = None, run_normaliser: bool = False, **config: Any
    ) -> Any:
        """A started ``TestClient`` for a new app (the normaliser off unless asked)."""
        from aiohttp.test_utils import TestClient, TestServer

        from bot.web.server import create_app

        app = create_app(
            store if store is not None else self.engine,
            webhook_config(**config),
            run_normaliser=run_normaliser,
        )
        client: Any = TestClient(TestServer(app))
        await client.start_server()
        self._clients.append(client)
        return client

    async def close(self) -> None:
        """Stop every application started, writing what their inboxes queued."""
        for client in self._clients:
            await client.close()


async def post_signed(client: Any, raw: bytes, secret: bytes = APP_SECRET) -> Any:
    """POST ``raw`` to the webhook, signed as Meta signs it."""
    return await client.post(WEBHOOK_PATH, data=raw, headers=signed_headers(raw, secret))


class kept_logging:  # noqa: N801  (used like a function: ``with kept_logging():``)
    """Put the root logger back as it was after code that configures logging (the CLI)."""

    def __enter__(self) -> None:
        import logging

        root = logging.getLogger()
        self._handlers = root.handlers[:]
        self._level = root.level

    def __exit__(self, *exc: object) -> None:
        import logging

        root = logging.getLogger()
        root.handlers[:] = self._handlers
        root.setLevel(self._level)
