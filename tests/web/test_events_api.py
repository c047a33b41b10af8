"""The events API end to end: auth, limits, partial rejection, stored rows, OpenAPI."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import AsyncIterator, Callable, Coroutine
from decimal import Decimal
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from openapi_spec_validator import validate
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from bot.ingest.events_api import EVENT_TYPES, validate_event
from bot.web.events_api import EVENTS_PATH, OPENAPI_PATH
from bot.web.events_openapi import examples
from bot.web.server import create_app
from storage.db import session_scope
from storage.models import BusinessNumber, Customer, CustomerEvent, CustomerTag, Deal, Message, Rep
from storage.reps import add_rep
from tests.helpers import webhook_config

TOKEN = "test-events-api-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
WA_ID = "8613812345678"
SECRET_TEXT = "Our best price is 4.2 USD per kilo"

Start = Callable[..., Coroutine[Any, Any, TestClient[Any, Any]]]


@pytest.fixture
async def start(engine: Engine) -> AsyncIterator[Start]:
    """Starts apps on the test store (with the API token unless told) and closes them."""
    clients: list[TestClient[Any, Any]] = []

    async def _start(api_token: str | None = TOKEN) -> TestClient[Any, Any]:
        app = create_app(engine, webhook_config(), run_normaliser=False, api_token=api_token)
        client: TestClient[Any, Any] = TestClient(TestServer(app))
        await client.start_server()
        clients.append(client)
        return client

    yield _start
    for client in clients:
        await client.close()


@pytest.fixture
def team(sessions: sessionmaker[Session]) -> None:
    """Li Wei owns Cloud API number 555000111; Ana owns 555000222."""
    with session_scope(sessions) as session:
        add_rep(session, "Li Wei", ["555000111"])
        add_rep(session, "Ana", ["555000222"])


def rep_ids(sessions: sessionmaker[Session]) -> dict[str, int]:
    with session_scope(sessions) as session:
        return {name: rep_id for rep_id, name in session.execute(select(Rep.id, Rep.name))}


def message(event_id: str = "m-1", **fields: Any) -> dict[str, Any]:
    """An outbound text from Li Wei to the customer, plus ``fields``."""
    return {
        "id": event_id,
        "type": "message",
        "timestamp": "2026-12-01T09:30:00+08:00",
        "rep": "Li Wei",
        "direction": "outbound",
        "customer": {"wa_id": "+86 138 1234 5678", "name": "Wang Wei"},
        "text": SECRET_TEXT,
        **fields,
    }


def record(kind: str, event_id: str, **fields: Any) -> dict[str, Any]:
    """A record event about the customer, plus ``fields``."""
    return {
        "id": event_id,
        "type": kind,
        "timestamp": "2026-12-02T10:00:00Z",
        "customer": {"wa_id": WA_ID},
        **fields,
    }


async def post(client: TestClient[Any, Any], events: list[Any]) -> tuple[int, Any]:
    response = await client.post(EVENTS_PATH, json={"events": events}, headers=AUTH)
    return response.status, await response.json()


# --- switching on, auth -----------------------------------------------------------------


async def test_without_a_token_the_api_is_off(start: Start) -> None:
    client = await start(api_token=None)
    response = await client.post(EVENTS_PATH, json={"events": [message()]}, headers=AUTH)

    assert response.status == 503
    assert await response.json() == {"error": "the events API is off: set KPIBOT_API_TOKEN"}


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        pytest.param({}, "missing Authorization: Bearer <token> header", id="missing"),
        pytest.param({"Authorization": TOKEN}, "Authorization must be Bearer <token>", id="bare"),
        pytest.param(
            {"Authorization": f"Basic {TOKEN}"}, "Authorization must be Bearer <token>", id="basic"
        ),
        pytest.param({"Authorization": "Bearer nope"}, "wrong API token", id="wrong"),
        pytest.param({"Authorization": "Bearer tést"}, "wrong API token", id="non-ascii"),
    ],
)
async def test_a_request_without_the_right_token_is_refused(
    start: Start, caplog: pytest.LogCaptureFixture, headers: dict[str, str], reason: str
) -> None:
    client = await start()
    with caplog.at_level(logging.WARNING, logger="bot.web.events_api"):
        response = await client.post(EVENTS_PATH, json={"events": [message()]}, headers=headers)

    assert response.status == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert await response.json() == {"error": reason}
    assert f"events api request rejected status=401 reason={reason}" in caplog.text
    assert TOKEN not in caplog.text


# --- the body ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "status", "reason"),
    [
        pytest.param(b"{not json", 400, "body is not UTF-8 JSON", id="not-json"),
        pytest.param(b"\xff\xfe", 400, "body is not UTF-8 JSON", id="not-utf8"),
        pytest.param(b"[]", 400, "body must be a JSON object", id="array"),
        pytest.param(b'{"event": []}', 400, "events: missing or not an array", id="no-events"),
        pytest.param(b'{"events": []}', 400, "events: empty", id="empty"),
        pytest.param(
            json.dumps({"events": [{}] * 1001}).encode(),
            413,
            "events: 1001 events; send at most 1000",
            id="too-many",
        ),
        pytest.param(
            b'{"events": ["' + b"x" * (3 * 1024 * 1024) + b'"]}',
            413,
            "body of 3145744 bytes is over 3145728",
            id="too-large",
        ),
    ],
)
async def test_a_body_kpibot_cannot_use_is_refused_whole(
    start: Start, raw: bytes, status: int, reason: str
) -> None:
    client = await start()
    # A file-like body: aiohttp warns about sending megabytes of raw bytes in one piece.
    response = await client.post(EVENTS_PATH, data=io.BytesIO(raw), headers=AUTH)

    assert response.status == status
    assert (await response.json())["error"].startswith(reason)


async def test_a_large_body_without_a_length_is_refused_while_reading(start: Start) -> None:
    client = await start()

    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"events": ["'
        for _ in range(49):
            yield b"x" * 65_536
        yield b'"]}'

    response = await client.post(EVENTS_PATH, data=chunks(), headers=AUTH)

    assert response.status == 413
    assert await response.json() == {"error": "body is over 3145728 bytes"}


# --- events stored ----------------------------------------------------------------------


@pytest.mark.usefixtures("team")
async def test_a_mixed_batch_is_stored_with_its_rep_customer_kind_and_amount(
    start: Start, sessions: sessionmaker[Session]
) -> None:
    client = await start()
    status, result = await post(
        client,
        [
            message("m-1", automated=True, template_category="utility"),
            record("quote", "q-1", note="FOB Ningbo"),
            record("deal", "d-1", amount="12500.50", currency="usd", margin=0.18, rep="Ana"),
            record("tag", "t-1", tag="High intent"),
            {
                "id": "s-1",
                "type": "status",
                "timestamp": "2026-12-01T01:31:00Z",
                "rep": "Li Wei",
                "customer": {"wa_id": WA_ID},
                "message_id": "m-1",
                "status": "read",
            },
        ],
    )

    assert (status, result) == (200, {"accepted": 5, "duplicates": 0, "rejected": []})
    reps = rep_ids(sessions)
    with session_scope(sessions) as session:
        stored = session.execute(select(Message)).scalar_one()
        number = session.get(BusinessNumber, stored.business_number_id)
        customer = session.execute(select(Customer)).scalar_one()
        quote = session.execute(select(CustomerEvent)).scalar_one()
        deal = session.execute(select(Deal)).scalar_one()
        tag = session.execute(select(CustomerTag)).scalar_one()

    assert (customer.wa_id, customer.name) == (WA_ID, "Wang Wei")
    assert stored.wamid == "api:m-1"
    assert (stored.source, stored.direction, stored.text) == ("api", "outbound", SECRET_TEXT)
    assert stored.rep_id == reps["Li Wei"]
    assert number is not None
    assert (number.phone_number_id, number.rep_id) == (f"api:rep:{reps['Li Wei']}", reps["Li Wei"])
    assert (stored.is_template, stored.template_category, stored.is_automated) == (
        True,
        "utility",
        True,
    )
    assert stored.status == "read"
    # Records without a rep go to the rep the customer last talked to.
    assert (quote.kind, quote.rep_id, quote.source, quote.note) == (
        "quote",
        reps["Li Wei"],
        "api",
        "FOB Ningbo",
    )
    assert quote.idempotency_key == "api:q-1"
    assert (deal.amount, deal.currency, deal.margin, deal.rep_id) == (
        Decimal("12500.5000"),
        "USD",
        0.18,
        reps["Ana"],
    )
    assert (tag.tag, tag.rep_id, tag.customer_id) == ("high-intent", reps["Li Wei"], customer.id)


@pytest.mark.usefixtures("team")
async def test_a_message_through_a_claimed_number_goes_to_its_owner(
    start: Start, sessions: sessionmaker[Session]
) -> None:
    client = await start()
    event = message("m-2", phone_number_id="555000222", direction="inbound")
    del event["rep"]
    status, result = await post(client, [event])

    assert (status, result["accepted"]) == (200, 1)
    with session_scope(sessions) as session:
        stored = session.execute(select(Message)).scalar_one()
    assert stored.rep_id == rep_ids(sessions)["Ana"]


@pytest.mark.usefixtures("team")
async def test_a_batch_sent_again_is_all_duplicates(
    start: Start, sessions: sessionmaker[Session]
) -> None:
    client = await start()
    batch = [
        message("m-1"),
        record("sample", "s-1"),
        record("deal", "d-1", amount=300, currency="EUR"),
        record("tag", "t-1", tag="vip"),
        record("assignment", "a-1", rep="Ana"),
    ]
    first = await post(client, batch)
    second = await post(client, batch)

    assert first == (200, {"accepted": 5, "duplicates": 0, "rejected": []})
    assert second == (200, {"accepted": 0, "duplicates": 5, "rejected": []})
    with session_scope(sessions) as session:
        counts = [
            len(session.execute(select(table)).all())
            for table in (Message, CustomerEvent, Deal, CustomerTag)
        ]
    assert counts == [1, 1, 1, 1]


@pytest.mark.usefixtures("team")
async def test_bad_events_are_rejected_and_the_rest_stored(
    start: Start, sessions: sessionmaker[Session], caplog: pytest.LogCaptureFixture
) -> None:
    client = await start()
    with caplog.at_level(logging.WARNING, logger="bot.web.events_api"):
        status, result = await post(
            client,
            [
                message("m-1"),
                record("quote", "q-1", rep="Nobody"),
                message("m-2", timestamp="yesterday"),
                "not an event",
                message("m-3", rep="Nobody"),
            ],
        )

    assert status == 200
    assert result == {
        "accepted": 1,
        "duplicates": 0,
        "rejected": [
            {"index": 1, "id": "q-1", "reason": "events[1].rep: no rep called 'Nobody'"},
            {
                "index": 2,
                "id": "m-2",
                "reason": "events[2].timestamp: not an ISO-8601 time with a zone or unix "
                "seconds: 'yesterday'",
            },
            {"index": 3, "id": None, "reason": "events[3]: not a JSON object but a string"},
            {"index": 4, "id": "m-3", "reason": "events[4].rep: no rep called 'Nobody'"},
        ],
    }
    with session_scope(sessions) as session:
        assert session.execute(select(Message.wamid)).scalars().all() == ["api:m-1"]
        assert session.execute(select(CustomerEvent)).all() == []
    assert "events api event rejected index=1 reason=events[1].rep: no rep" in caplog.text
    assert SECRET_TEXT not in caplog.text
    assert WA_ID not in caplog.text


@pytest.mark.usefixtures("team")
async def test_a_batch_with_every_event_rejected_is_422(start: Start) -> None:
    client = await start()
    status, result = await post(client, [record("deal", "d-1", amount="-1", currency="USD")])

    assert status == 422
    assert result == {
        "accepted": 0,
        "duplicates": 0,
        "rejected": [
            {
                "index": 0,
                "id": "d-1",
                "reason": "events[0].amount: must be a positive number, got '-1'",
            }
        ],
    }


@pytest.mark.usefixtures("team")
async def test_an_assignment_sends_later_records_to_the_assigned_rep(
    start: Start, sessions: sessionmaker[Session]
) -> None:
    client = await start()
    await post(client, [message("m-1"), record("quote", "q-1")])
    status, result = await post(
        client, [record("assignment", "a-1", rep="Ana"), record("quote", "q-2")]
    )

    assert (status, result["accepted"]) == (200, 2)
    reps = rep_ids(sessions)
    with session_scope(sessions) as session:
        quotes = dict(
            session.execute(select(CustomerEvent.idempotency_key, CustomerEvent.rep_id)).all()
        )
        assigned = session.execute(select(Customer.assigned_rep_id)).scalar_one()
    assert quotes == {"api:q-1": reps["Li Wei"], "api:q-2": reps["Ana"]}
    assert assigned == reps["Ana"]


# --- the OpenAPI description ------------------------------------------------------------


async def test_the_openapi_description_is_valid_openapi_3_1(start: Start) -> None:
    client = await start()
    response = await client.get(OPENAPI_PATH)

    assert response.status == 200
    document = await response.json()
    assert document["openapi"] == "3.1.0"
    validate(document)
    mapping = document["components"]["schemas"]["Event"]["discriminator"]["mapping"]
    assert set(mapping) == set(EVENT_TYPES)


@pytest.mark.parametrize("example", examples(), ids=lambda e: f"{e['type']}:{e['id']}")
def test_every_openapi_example_is_a_valid_event(example: dict[str, Any]) -> None:
    assert validate_event(example).id == example["id"]
