"""Turn the events API's JSON events into kpibot's domain events and records.

SCRM desktop tools and CRMs send normalised events, one JSON object each, through
``POST /api/v1/events`` or a file for ``kpibot import events``. :func:`validate_event`
checks one object and returns an :class:`ApiEvent` ready for the store, or raises an
:class:`EventError` that names the field, e.g. ``timestamp: not an ISO-8601 time with
a zone or unix seconds: 'yesterday'``. Nothing here touches the database: whether a
named rep exists is the store's to say.

Every event carries the client's ``id``, its idempotency key: a message is stored as
``"api:" + id`` and a record with the key ``"api:" + id``, so a batch sent twice lands
once. Reasons never repeat message text, names or phone numbers.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from bot.domain import (
    BusinessNumber,
    CustomerEventKind,
    CustomerEventRecord,
    CustomerRef,
    DealRecord,
    DeliveryStatus,
    Direction,
    MessageContent,
    MessageEvent,
    MessageSource,
    Record,
    StatusEvent,
    TagRecord,
)
from bot.errors import KpibotError
from storage.records import RecordError, normalise_tag

__all__ = [
    "EVENT_FIELDS",
    "EVENT_TYPES",
    "ID_PREFIX",
    "MAX_BODY_BYTES",
    "MAX_EVENTS",
    "REP_NUMBER",
    "ApiEvent",
    "Assignment",
    "EventError",
    "event_id_of",
    "validate_event",
]

logger = logging.getLogger(__name__)

ID_PREFIX = "api:"
"""Prefix of stored message ids and record keys made from a client's event id."""

SOURCE = "api"
"""The ``source`` of records that came through the events API."""

MAX_EVENTS = 1_000
"""Most events in one request or one transaction of an import."""

MAX_BODY_BYTES = 3 * 1024 * 1024
"""Largest request body of the events API."""

MAX_ID_CHARS = 128
MAX_TEXT_CHARS = 65_536
MAX_NOTE_CHARS = 4_000
MAX_NAME_CHARS = 256
MAX_REP_CHARS = 120
MAX_FILENAME_CHARS = 512
MAX_PHONE_NUMBER_ID_CHARS = 64
# Amounts are stored in 1/10,000 units in a 64-bit integer; a trillion leaves headroom.
MAX_AMOUNT = Decimal(10) ** 12
AMOUNT_PLACES = 4
# Year 10000 starts here; later unix times cannot be a datetime.
_UNIX_LIMIT = 253_402_300_800
_REPR_LIMIT = 40

REP_NUMBER = BusinessNumber(phone_number_id="")
"""Stands for the named rep's own number in events that name the rep, not a number.

The store swaps it for the rep's number (``storage.records.rep_api_number``) once it
knows the rep exists.
"""

_COMMON_FIELDS = frozenset({"id", "type", "timestamp"})
_BUSINESS_SIDE = frozenset({"rep", "phone_number_id", "customer"})
_RECORD_FIELDS = frozenset({"customer", "rep", "note"})

EVENT_FIELDS: Mapping[str, frozenset[str]] = {
    "message": _BUSINESS_SIDE
    | {"direction", "message_type", "text", "filename", "automated", "template_category"},
    "status": _BUSINESS_SIDE | {"message_id", "status"},
    "tag": frozenset({"customer", "tag", "rep"}),
    "untag": frozenset({"customer", "tag", "rep"}),
    "quote": _RECORD_FIELDS,
    "sample": _RECORD_FIELDS,
    "complaint": _RECORD_FIELDS,
    "deal": _RECORD_FIELDS | {"amount", "currency", "margin", "referred_by"},
    "assignment": frozenset({"customer", "rep"}),
}
"""The fields each event type takes besides ``id``, ``type`` and ``timestamp``."""

EVENT_TYPES = tuple(EVENT_FIELDS)
"""Every value ``type`` can take."""

TEMPLATE_CATEGORIES = ("marketing", "utility", "authentication")
_CUSTOMER_FIELDS = frozenset({"wa_id", "phone", "name"})
_PHONE = re.compile(r"\+?[\d ]+")
_PHONE_DIGITS = (6, 15)  # E.164 allows at most 15 digits
_MESSAGE_TYPE = re.compile(r"[a-z][a-z_]{0,31}")
_CURRENCY = re.compile(r"[A-Z]{3}")
_UNIX_STRING = re.compile(r"\d{1,12}(\.\d+)?")
# In these types the text is the media's caption, as the webhook stores it.
_CAPTION_TYPES = frozenset({"image", "video", "document"})


class EventError(KpibotError):
    """An event of the events API cannot be used; ``field`` is the path inside the event.

    Attributes:
        field: e.g. ``timestamp`` or ``customer.wa_id``; empty for the whole event.
        reason: what is wrong, naming the value where that is safe to repeat.
    """

    def __init__(self, field: str, reason: str) -> None:
        self.field = field
        self.reason = reason
        super().__init__(f"{field}: {reason}" if field else reason)

    def at(self, where: str) -> str:
        """The reason placed under ``where``: ``events[3].timestamp: …``."""
        return f"{where}.{self.field}: {self.reason}" if self.field else f"{where}: {self.reason}"


@dataclass(frozen=True, slots=True)
class Assignment:
    """A customer assigned to a rep: later records without a rep go to that rep."""

    customer: CustomerRef
    rep: str
    timestamp: datetime


@dataclass(frozen=True, slots=True)
class ApiEvent:
    """One valid event, ready for the store.

    Attributes:
        id: the client's idempotency key.
        type: one of :data:`EVENT_TYPES`.
        stream: for ``message`` and ``status``, the domain events to apply (a message
            marked automated or a template is followed by its ``sent`` status, which
            is what carries those marks into the store).
        record: for every other type, the record or assignment.
        via_rep: the rep a message or status names instead of a number; its events
            carry :data:`REP_NUMBER` until the store resolves it.
    """

    id: str
    type: str
    stream: tuple[MessageEvent | StatusEvent, ...] = ()
    record: Record | Assignment | None = None
    via_rep: str | None = None

    @property
    def rep(self) -> str | None:
        """The rep the event names, if any."""
        if self.via_rep is not None:
            return self.via_rep
        return getattr(self.record, "rep", None)


def event_id_of(obj: object) -> str | None:
    """The ``id`` of an event object, for reporting it even when the event is invalid."""
    if isinstance(obj, Mapping):
        value = obj.get("id")
        if isinstance(value, str):
            return value[:MAX_ID_CHARS]
        if isinstance(value, int) and not isinstance(value, bool):
            return str(value)
    return None


def validate_event(obj: object) -> ApiEvent:
    """Check one event object and turn it into what the store applies.

    Args:
        obj: the decoded JSON object (a ``dict``).

    Returns:
        The event, its domain events or record built.

    Raises:
        EventError: a field is missing, unknown to the event's type, or has a value
            kpibot cannot use; the error names it.
    """
    if not isinstance(obj, Mapping):
        raise EventError("", f"not a JSON object but {_json_type(obj)}")
    event_id = _event_id(obj.get("id"))
    event_type = obj.get("type")
    if not isinstance(event_type, str) or event_type not in EVENT_FIELDS:
        raise EventError("type", f"{_short(event_type)} is not one of {', '.join(EVENT_TYPES)}")
    _refuse_unknown_fields(obj, EVENT_FIELDS[event_type] | _COMMON_FIELDS, event_type)
    timestamp = _timestamp(obj.get("timestamp"))

    fields = _Fields(obj)
    if event_type == "message":
        return _message(fields, event_id, timestamp)
    if event_type == "status":
        return _status(fields, event_id, timestamp)
    return ApiEvent(event_id, event_type, record=_record(fields, event_type, event_id, timestamp))


class _Fields:
    """Typed reads of an event's fields, each error naming the field."""

    def __init__(self, obj: Mapping[str, Any], prefix: str = "") -> None:
        self.obj = obj
        self.prefix = prefix

    def path(self, name: str) -> str:
        return f"{self.prefix}{name}"

    def has(self, name: str) -> bool:
        return self.obj.get(name) is not None

    def text(self, name: str, *, limit: int, required: bool = False) -> str | None:
        value = self.obj.get(name)
        if value is None:
            if required:
                raise EventError(self.path(name), "missing")
            return None
        if not isinstance(value, str):
            raise EventError(self.path(name), f"not a string but {_json_type(value)}")
        value = value.strip()
        if not value and required:
            raise EventError(self.path(name), "empty")
        if len(value) > limit:
            raise EventError(self.path(name), f"longer than {limit} characters")
        return value or None

    def required_text(self, name: str, *, limit: int) -> str:
        value = self.text(name, limit=limit, required=True)
        assert value is not None
        return value

    def flag(self, name: str) -> bool:
        value = self.obj.get(name, False)
        if not isinstance(value, bool):
            raise EventError(self.path(name), f"not true or false but {_short(value)}")
        return value

    def choice(self, name: str, allowed: tuple[str, ...], default: str | None = None) -> str:
        value = self.obj.get(name, default)
        if value is None:
            raise EventError(self.path(name), f"missing; one of {', '.join(allowed)}")
        if value not in allowed:
            raise EventError(
                self.path(name), f"{_short(value)} is not one of {', '.join(allowed)}"
            )
        return str(value)


def _event_id(value: object) -> str:
    if value is None:
        raise EventError("id", "missing; every event needs the id you will retry it with")
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        raise EventError("id", f"not a string but {_json_type(value)}")
    if not value.strip():
        raise EventError("id", "empty")
    if len(value) > MAX_ID_CHARS:
        raise EventError("id", f"longer than {MAX_ID_CHARS} characters")
    return value


def _refuse_unknown_fields(obj: Mapping[str, Any], allowed: frozenset[str], kind: str) -> None:
    # A misspelt field would otherwise be dropped silently: a deal would lose its rep.
    for name in obj:
        if name not in allowed:
            raise EventError(_short_key(name), f"not a field of a {kind} event")


def _timestamp(value: object) -> datetime:
    """An aware UTC datetime from ISO-8601 with a zone, or unix seconds."""
    if value is None:
        raise EventError("timestamp", "missing; send ISO-8601 with a zone or unix seconds")
    if isinstance(value, str) and _UNIX_STRING.fullmatch(value.strip()):
        value = float(value)
    if isinstance(value, int | float) and not isinstance(value, bool):
        if not math.isfinite(value) or not 0 <= value < _UNIX_LIMIT:
            raise EventError("timestamp", f"unix seconds out of range: {value!r}")
        return datetime.fromtimestamp(value, tz=UTC)
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.strip())
        except ValueError:
            pass
        else:
            if parsed.tzinfo is None or parsed.utcoffset() is None:
                raise EventError(
                    "timestamp", f"{_short(value)} has no zone; add Z or an offset like +08:00"
                )
            return parsed.astimezone(UTC)
    raise EventError(
        "timestamp", f"not an ISO-8601 time with a zone or unix seconds: {_short(value)}"
    )


def _customer(fields: _Fields, name: str, *, required: bool = True) -> CustomerRef | None:
    value = fields.obj.get(name)
    path = fields.path(name)
    if value is None:
        if required:
            raise EventError(path, 'missing; give {"wa_id": "<digits>"}')
        return None
    if not isinstance(value, Mapping):
        raise EventError(path, f"not an object but {_json_type(value)}")
    for key in value:
        if key not in _CUSTOMER_FIELDS:
            raise EventError(f"{path}.{_short_key(key)}", "not a field of a customer")

    inner = _Fields(value, prefix=f"{path}.")
    wa_id = _phone(inner, "wa_id")
    phone = _phone(inner, "phone")
    if wa_id and phone and wa_id != phone:
        raise EventError(f"{path}.phone", "differs from wa_id; send one of them")
    if not (wa_id or phone):
        raise EventError(f"{path}.wa_id", "missing; a customer needs wa_id or phone")
    return CustomerRef(wa_id=wa_id or phone, name=inner.text("name", limit=MAX_NAME_CHARS))


def _phone(fields: _Fields, name: str) -> str | None:
    value = fields.obj.get(name)
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    # The value is a phone number: it stays out of the reason, which reaches the logs.
    if not isinstance(value, str) or not _PHONE.fullmatch(value.strip()):
        raise EventError(
            fields.path(name), "not a phone number in digits ('+' and spaces allowed)"
        )
    digits = value.replace(" ", "").replace("+", "")
    low, high = _PHONE_DIGITS
    if not low <= len(digits) <= high:
        raise EventError(fields.path(name), f"a phone number has {low} to {high} digits")
    return digits


def _business_side(fields: _Fields) -> tuple[BusinessNumber, str | None]:
    """The number a message or status went through, or the rep named instead of one."""
    rep = fields.text("rep", limit=MAX_REP_CHARS)
    phone_number_id = fields.text("phone_number_id", limit=MAX_PHONE_NUMBER_ID_CHARS)
    if rep and phone_number_id:
        raise EventError("phone_number_id", "give rep or phone_number_id, not both")
    if phone_number_id:
        return BusinessNumber(phone_number_id=phone_number_id), None
    if rep:
        return REP_NUMBER, rep
    raise EventError("rep", "missing; name the rep or the phone_number_id it went through")


def _message(fields: _Fields, event_id: str, timestamp: datetime) -> ApiEvent:
    number, via_rep = _business_side(fields)
    customer = _customer(fields, "customer")
    assert customer is not None
    direction = Direction(fields.choice("direction", tuple(Direction)))
    message_type = fields.text("message_type", limit=32) or "text"
    if not _MESSAGE_TYPE.fullmatch(message_type):
        raise EventError("message_type", f"{_short(message_type)} is not a WhatsApp type")
    text = fields.text("text", limit=MAX_TEXT_CHARS)
    automated = fields.flag("automated")
    category = None
    if fields.has("template_category"):
        category = fields.choice("template_category", TEMPLATE_CATEGORIES)
    if direction is Direction.INBOUND and automated:
        raise EventError("automated", "only an outbound message can be automated")
    if direction is Direction.INBOUND and category:
        raise EventError("template_category", "only an outbound message can be a template")

    caption = message_type in _CAPTION_TYPES
    content = MessageContent(
        type=message_type,
        text=None if caption else text,
        caption=text if caption else None,
        filename=fields.text("filename", limit=MAX_FILENAME_CHARS),
    )
    message_id = ID_PREFIX + event_id
    stream: list[MessageEvent | StatusEvent] = [
        MessageEvent(
            number=number,
            customer=customer,
            message_id=message_id,
            direction=direction,
            timestamp=timestamp,
            content=content,
            source=MessageSource.API,
        )
    ]
    if automated or category:
        # The store learns "template" and "automated" the way the Cloud API tells them:
        # from a status's pricing category and callback data.
        stream.append(
            StatusEvent(
                number=number,
                customer=customer,
                message_id=message_id,
                status=DeliveryStatus.SENT,
                timestamp=timestamp,
                pricing_category=category,
                tracking_data="automated" if automated else None,
            )
        )
    return ApiEvent(event_id, "message", stream=tuple(stream), via_rep=via_rep)


def _status(fields: _Fields, event_id: str, timestamp: datetime) -> ApiEvent:
    number, via_rep = _business_side(fields)
    customer = _customer(fields, "customer")
    assert customer is not None
    message_id = fields.required_text("message_id", limit=MAX_ID_CHARS)
    status = DeliveryStatus(fields.choice("status", tuple(DeliveryStatus)))
    event = StatusEvent(
        number=number,
        customer=customer,
        message_id=ID_PREFIX + message_id,
        status=status,
        timestamp=timestamp,
    )
    return ApiEvent(event_id, "status", stream=(event,), via_rep=via_rep)


def _record(
    fields: _Fields, event_type: str, event_id: str, timestamp: datetime
) -> Record | Assignment:
    customer = _customer(fields, "customer")
    assert customer is not None
    if event_type == "assignment":
        return Assignment(customer, fields.required_text("rep", limit=MAX_REP_CHARS), timestamp)

    rep = fields.text("rep", limit=MAX_REP_CHARS)
    key = ID_PREFIX + event_id
    if event_type in ("tag", "untag"):
        return TagRecord(
            customer=customer,
            tag=_tag(fields),
            timestamp=timestamp,
            removed=event_type == "untag",
            rep=rep,
            source=SOURCE,
            key=key,
        )
    note = fields.text("note", limit=MAX_NOTE_CHARS)
    if event_type == "deal":
        return DealRecord(
            customer=customer,
            amount=_amount(fields.obj.get("amount")),
            currency=_currency(fields.obj.get("currency")),
            timestamp=timestamp,
            margin=_margin(fields.obj.get("margin")),
            rep=rep,
            referred_by=_customer(fields, "referred_by", required=False),
            note=note,
            source=SOURCE,
            key=key,
        )
    return CustomerEventRecord(
        kind=CustomerEventKind(event_type),
        customer=customer,
        timestamp=timestamp,
        rep=rep,
        note=note,
        source=SOURCE,
        key=key,
    )


def _tag(fields: _Fields) -> str:
    tag = fields.required_text("tag", limit=MAX_NAME_CHARS)
    try:
        return normalise_tag(tag)
    except RecordError as exc:
        raise EventError("tag", str(exc)) from None


def _amount(value: object) -> Decimal:
    if value is None:
        raise EventError("amount", 'missing; send a decimal string such as "12500.00"')
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise EventError("amount", f"not a decimal string or number but {_json_type(value)}")
    try:
        # repr() of a float is its shortest exact spelling: 0.1 stays 0.1.
        amount = Decimal(repr(value) if isinstance(value, float) else str(value).strip())
    except InvalidOperation:
        raise EventError("amount", f"not a decimal number: {_short(value)}") from None
    if not amount.is_finite() or amount <= 0:
        raise EventError("amount", f"must be a positive number, got {_short(value)}")
    if amount >= MAX_AMOUNT:
        raise EventError("amount", f"must be under {MAX_AMOUNT:,}")
    if -amount.as_tuple().exponent > AMOUNT_PLACES:  # type: ignore[operator]
        raise EventError("amount", f"more than {AMOUNT_PLACES} decimal places: {_short(value)}")
    return amount


def _currency(value: object) -> str:
    if value is None:
        raise EventError("currency", "missing; send a 3-letter code such as USD")
    code = value.strip().upper() if isinstance(value, str) else ""
    if not _CURRENCY.fullmatch(code):
        raise EventError("currency", f"{_short(value)} is not a 3-letter code such as USD or CNY")
    return code


def _margin(value: object) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise EventError("margin", f"not a number but {_json_type(value)}")
    try:
        margin = float(value)
    except ValueError:
        raise EventError("margin", f"not a number: {_short(value)}") from None
    if not (math.isfinite(margin) and -1 <= margin <= 1):
        raise EventError(
            "margin", f"a fraction between -1 and 1 (0.18 = 18 %), got {_short(value)}"
        )
    return margin


def _json_type(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


def _short(value: object) -> str:
    """A value for a reason: its repr, cut so a huge value cannot flood a reply or log."""
    text = repr(value)
    return text if len(text) <= _REPR_LIMIT else text[: _REPR_LIMIT - 1] + "…"


def _short_key(key: object) -> str:
    text = str(key)
    return text if len(text) <= _REPR_LIMIT else text[: _REPR_LIMIT - 1] + "…"
