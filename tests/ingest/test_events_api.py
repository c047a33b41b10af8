"""Checking events-API objects: every type turns into its domain value, every refusal
names the field."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from bot import domain
from bot.ingest.events_api import (
    EVENT_TYPES,
    REP_NUMBER,
    Assignment,
    EventError,
    event_id_of,
    validate_event,
)

CUSTOMER = {"wa_id": "8613812345678", "name": "Wang Wei"}
WHEN = "2026-12-01T09:30:00+08:00"
WHEN_UTC = datetime(2026, 12, 1, 1, 30, tzinfo=UTC)


def event(kind: str, **fields: Any) -> dict[str, Any]:
    """An event object of ``kind`` with an id, a time and a customer, plus ``fields``."""
    base: dict[str, Any] = {"id": f"{kind}-1", "type": kind, "timestamp": WHEN}
    if kind != "status" or "customer" not in fields:
        base["customer"] = CUSTOMER
    return {**base, **fields}


def message(**fields: Any) -> dict[str, Any]:
    """An outbound text message named by rep, plus ``fields``."""
    return {**event("message", rep="Li Wei", direction="outbound", text="hello"), **fields}


def refusal(obj: object) -> str:
    with pytest.raises(EventError) as caught:
        validate_event(obj)
    return str(caught.value)


# --- each type --------------------------------------------------------------------------


def test_a_message_named_by_rep_waits_for_the_rep_number() -> None:
    result = validate_event(message())

    assert result.type == "message"
    assert result.via_rep == "Li Wei"
    (item,) = result.stream
    assert isinstance(item, domain.MessageEvent)
    assert item.number == REP_NUMBER
    assert item.message_id == "api:message-1"
    assert item.source is domain.MessageSource.API
    assert item.direction is domain.Direction.OUTBOUND
    assert item.timestamp == WHEN_UTC
    assert item.content == domain.MessageContent(type="text", text="hello")
    assert item.customer == domain.CustomerRef(wa_id="8613812345678", name="Wang Wei")


def test_a_message_named_by_number_keeps_it() -> None:
    obj = message(phone_number_id="106540352242922")
    del obj["rep"]
    result = validate_event(obj)

    assert result.via_rep is None
    assert result.stream[0].number == domain.BusinessNumber(phone_number_id="106540352242922")


def test_a_media_message_keeps_its_text_as_the_caption() -> None:
    result = validate_event(message(message_type="document", filename="price-list.pdf"))

    content = result.stream[0].content  # type: ignore[union-attr]
    assert (content.type, content.text, content.caption) == ("document", None, "hello")
    assert content.filename == "price-list.pdf"


def test_an_automated_template_message_is_followed_by_its_sent_status() -> None:
    result = validate_event(message(automated=True, template_category="marketing"))

    first, status = result.stream
    assert isinstance(status, domain.StatusEvent)
    assert status.message_id == first.message_id
    assert status.status is domain.DeliveryStatus.SENT
    assert status.pricing_category == "marketing"
    assert status.tracking_data == "automated"


def test_a_status_points_at_the_api_message() -> None:
    result = validate_event(
        event("status", phone_number_id="106540352242922", message_id="m-7", status="read")
    )

    (status,) = result.stream
    assert isinstance(status, domain.StatusEvent)
    assert (status.message_id, status.status) == ("api:m-7", domain.DeliveryStatus.READ)


@pytest.mark.parametrize(("kind", "removed"), [("tag", False), ("untag", True)])
def test_tags_are_normalised_and_keyed(kind: str, removed: bool) -> None:
    result = validate_event(event(kind, tag="High intent", rep="Ana"))

    assert result.record == domain.TagRecord(
        customer=domain.CustomerRef(wa_id="8613812345678", name="Wang Wei"),
        tag="high-intent",
        timestamp=WHEN_UTC,
        removed=removed,
        rep="Ana",
        source="api",
        key=f"api:{kind}-1",
    )


@pytest.mark.parametrize("kind", ["quote", "sample", "complaint"])
def test_customer_events_carry_their_kind_and_note(kind: str) -> None:
    result = validate_event(event(kind, note="FOB Ningbo"))

    record = result.record
    assert isinstance(record, domain.CustomerEventRecord)
    assert record.kind is domain.CustomerEventKind(kind)
    assert (record.note, record.rep, record.key) == ("FOB Ningbo", None, f"api:{kind}-1")


@pytest.mark.parametrize(
    ("amount", "expected"),
    [
        pytest.param("12500.00", Decimal("12500.00"), id="decimal-string"),
        pytest.param(0.1, Decimal("0.1"), id="float-stays-short"),
        pytest.param(300, Decimal(300), id="integer"),
    ],
)
def test_a_deal_keeps_its_amount_exact(amount: object, expected: Decimal) -> None:
    result = validate_event(
        event(
            "deal",
            amount=amount,
            currency="usd",
            margin="0.18",
            referred_by={"phone": "+34 612 345 678"},
        )
    )

    record = result.record
    assert isinstance(record, domain.DealRecord)
    assert record.amount == expected
    assert (record.currency, record.margin) == ("USD", 0.18)
    assert record.referred_by == domain.CustomerRef(wa_id="34612345678")


def test_an_assignment_names_customer_and_rep() -> None:
    result = validate_event(event("assignment", rep="Ana"))

    assert result.record == Assignment(
        domain.CustomerRef(wa_id="8613812345678", name="Wang Wei"), "Ana", WHEN_UTC
    )
    assert result.rep == "Ana"


def test_every_event_type_is_covered_here() -> None:
    assert set(EVENT_TYPES) == {
        "message",
        "status",
        "tag",
        "untag",
        "quote",
        "sample",
        "complaint",
        "deal",
        "assignment",
    }


# --- times and customers ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param("2026-12-01T01:30:00Z", WHEN_UTC, id="iso-z"),
        pytest.param(WHEN, WHEN_UTC, id="iso-offset"),
        pytest.param(int(WHEN_UTC.timestamp()), WHEN_UTC, id="unix-int"),
        pytest.param(
            WHEN_UTC.timestamp() + 0.5, WHEN_UTC + timedelta(seconds=0.5), id="unix-float"
        ),
        pytest.param(str(int(WHEN_UTC.timestamp())), WHEN_UTC, id="unix-string"),
    ],
)
def test_times_become_aware_utc(value: object, expected: datetime) -> None:
    stamp = validate_event(event("quote", timestamp=value)).record.timestamp  # type: ignore[union-attr]
    assert stamp == expected
    assert stamp.utcoffset() == timedelta(0)


def test_a_wa_id_may_be_written_with_plus_and_spaces() -> None:
    result = validate_event(event("quote", customer={"wa_id": "+86 138 1234 5678"}))
    assert result.record.customer.wa_id == "8613812345678"  # type: ignore[union-attr]


def test_event_id_of_reports_the_id_of_an_invalid_event() -> None:
    assert event_id_of({"id": "x-1", "type": "nonsense"}) == "x-1"
    assert event_id_of({"id": 42}) == "42"
    assert event_id_of(["not", "an", "object"]) is None


# --- refusals ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("obj", "reason"),
    [
        pytest.param([], "not a JSON object but an array", id="not-an-object"),
        pytest.param({"type": "quote"}, "id: missing", id="id-missing"),
        pytest.param(event("quote", id=""), "id: empty", id="id-empty"),
        pytest.param(event("quote", id="x" * 129), "id: longer than 128", id="id-too-long"),
        pytest.param(event("quote", id=["a"]), "id: not a string but an array", id="id-array"),
        pytest.param(event("meeting"), "type: 'meeting' is not one of message", id="type-unknown"),
        pytest.param(
            event("quote", amount="5"), "amount: not a field of a quote", id="field-foreign"
        ),
        pytest.param(
            event("quote", timestamp="yesterday"),
            "timestamp: not an ISO-8601 time with a zone or unix seconds: 'yesterday'",
            id="time-words",
        ),
        pytest.param(
            event("quote", timestamp="2026-12-01T09:30:00"),
            "timestamp: '2026-12-01T09:30:00' has no zone",
            id="time-naive",
        ),
        pytest.param(
            event("quote", timestamp=-5), "timestamp: unix seconds out of", id="time-negative"
        ),
        pytest.param(event("quote", timestamp=True), "timestamp: not an ISO-8601", id="time-bool"),
        pytest.param(event("quote", timestamp=None), "timestamp: missing", id="time-missing"),
        pytest.param(event("quote", customer=None), "customer: missing", id="customer-missing"),
        pytest.param(
            event("quote", customer="86138"), "customer: not an object", id="customer-str"
        ),
        pytest.param(event("quote", customer={}), "customer.wa_id: missing", id="customer-empty"),
        pytest.param(
            event("quote", customer={"wa_id": "86-138"}),
            "customer.wa_id: not a phone number in digits",
            id="wa-id-dash",
        ),
        pytest.param(
            event("quote", customer={"wa_id": "12345"}),
            "customer.wa_id: a phone number has 6 to 15 digits",
            id="wa-id-short",
        ),
        pytest.param(
            event("quote", customer={"wa_id": "8613812345678", "phone": "34612345678"}),
            "customer.phone: differs from wa_id",
            id="wa-id-and-phone-differ",
        ),
        pytest.param(
            event("quote", customer={"wa_id": "8613812345678", "email": "a@b.c"}),
            "customer.email: not a field of a customer",
            id="customer-field-foreign",
        ),
        pytest.param(
            event("quote", customer={"wa_id": "8613812345678", "name": 7}),
            "customer.name: not a string but a number",
            id="customer-name-number",
        ),
        pytest.param(event("quote", rep=""), None, id="rep-empty-is-absent"),
        pytest.param(
            event("quote", note="n" * 4001), "note: longer than 4000", id="note-too-long"
        ),
    ],
)
def test_refusals_name_the_field(obj: object, reason: str | None) -> None:
    if reason is None:
        assert validate_event(obj).record.rep is None  # type: ignore[union-attr]
        return
    assert refusal(obj).startswith(reason)


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        pytest.param(
            {"rep": None}, "rep: missing; name the rep or the phone_number_id", id="no-side"
        ),
        pytest.param(
            {"phone_number_id": "106540352242922"},
            "phone_number_id: give rep or phone_number_id, not both",
            id="both-sides",
        ),
        pytest.param(
            {"phone_number_id": 1065}, "phone_number_id: not a string", id="number-id-int"
        ),
        pytest.param(
            {"direction": "sideways"}, "direction: 'sideways' is not one of", id="direction"
        ),
        pytest.param({"direction": None}, "direction: missing", id="direction-missing"),
        pytest.param({"message_type": "Image!"}, "message_type: 'Image!' is not a", id="bad-type"),
        pytest.param({"text": 5}, "text: not a string but a number", id="text-number"),
        pytest.param({"filename": "f" * 513}, "filename: longer than 512", id="filename-long"),
        pytest.param({"automated": "yes"}, "automated: not true or false", id="automated-str"),
        pytest.param(
            {"template_category": "service"},
            "template_category: 'service' is not one of marketing",
            id="template-category",
        ),
        pytest.param(
            {"direction": "inbound", "automated": True},
            "automated: only an outbound message",
            id="inbound-automated",
        ),
        pytest.param(
            {"direction": "inbound", "template_category": "utility"},
            "template_category: only an outbound message",
            id="inbound-template",
        ),
    ],
)
def test_message_refusals_name_the_field(fields: dict[str, Any], reason: str) -> None:
    assert refusal(message(**fields)).startswith(reason)


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        pytest.param({"message_id": None}, "message_id: missing", id="message-id-missing"),
        pytest.param({"status": "seen"}, "status: 'seen' is not one of sent", id="status-unknown"),
    ],
)
def test_status_refusals_name_the_field(fields: dict[str, Any], reason: str) -> None:
    obj = event("status", rep="Li Wei", message_id="m-1", status="read")
    assert refusal({**obj, **fields}).startswith(reason)


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        pytest.param({"amount": None}, "amount: missing", id="amount-missing"),
        pytest.param({"amount": "lots"}, "amount: not a decimal number: 'lots'", id="amount-word"),
        pytest.param({"amount": "-3"}, "amount: must be a positive number", id="amount-negative"),
        pytest.param({"amount": "NaN"}, "amount: must be a positive number", id="amount-nan"),
        pytest.param({"amount": True}, "amount: not a decimal string or number", id="amount-bool"),
        pytest.param(
            {"amount": "1.23456"}, "amount: more than 4 decimal places", id="amount-places"
        ),
        pytest.param({"amount": "1e13"}, "amount: must be under", id="amount-huge"),
        pytest.param({"currency": None}, "currency: missing", id="currency-missing"),
        pytest.param(
            {"currency": "dollars"}, "currency: 'dollars' is not a 3-letter", id="currency"
        ),
        pytest.param({"margin": 18}, "margin: a fraction between -1 and 1", id="margin-percent"),
        pytest.param({"margin": "high"}, "margin: not a number: 'high'", id="margin-word"),
        pytest.param({"margin": [0.1]}, "margin: not a number but an array", id="margin-array"),
        pytest.param(
            {"referred_by": {"wa_id": "x"}},
            "referred_by.wa_id: not a phone number",
            id="referrer",
        ),
    ],
)
def test_deal_refusals_name_the_field(fields: dict[str, Any], reason: str) -> None:
    obj = {**event("deal", amount="100", currency="USD"), **fields}
    assert refusal(obj).startswith(reason)


@pytest.mark.parametrize(
    ("obj", "reason"),
    [
        pytest.param(event("tag"), "tag: missing", id="tag-missing"),
        pytest.param(event("tag", tag="vip!!"), "tag: tag 'vip!!' is not usable", id="tag-punct"),
        pytest.param(event("assignment"), "rep: missing", id="assignment-without-rep"),
    ],
)
def test_record_refusals_name_the_field(obj: dict[str, Any], reason: str) -> None:
    assert refusal(obj).startswith(reason)


def test_a_refusal_reads_under_its_place_in_the_batch() -> None:
    with pytest.raises(EventError) as caught:
        validate_event(event("quote", timestamp="yesterday"))
    assert caught.value.at("events[3]") == (
        "events[3].timestamp: not an ISO-8601 time with a zone or unix seconds: 'yesterday'"
    )
    assert EventError("", "not a JSON object").at("events[0]") == "events[0]: not a JSON object"


def test_refusals_never_repeat_a_phone_number() -> None:
    reason = refusal(event("quote", customer={"wa_id": "8613812345678999"}))
    assert "8613812345678" not in reason
