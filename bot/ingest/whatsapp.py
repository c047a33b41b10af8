"""Turn WhatsApp Business Platform (Cloud API) webhook bodies into kpibot's domain events.

Two pure steps: :func:`parse_envelope` decodes a raw body and checks its envelope
(``object``, ``entry[]``, ``changes[]``); :func:`normalise` turns every change of every
entry into domain events, in payload order.

Shapes are checked where kpibot relies on them. Every object and array, and every id,
timestamp and type, must have its documented JSON type, or the whole body is refused
with a :class:`~bot.errors.PayloadError` that names the path. Descriptive strings (a
caption, a button title, a pricing category) are read when they are strings and ignored
otherwise, so one odd field cannot lose a batch of a thousand updates. Keys kpibot does
not know are ignored everywhere; updates it knows but does not use become notes in
:attr:`Normalised.skipped`.
"""

from __future__ import annotations

import copy
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, NamedTuple

from bot.domain import (
    AccountEvent,
    AccountEventKind,
    BusinessNumber,
    CustomerIdentityEvent,
    CustomerRef,
    DeliveryStatus,
    Direction,
    DomainEvent,
    ErrorInfo,
    MessageContent,
    MessageEditEvent,
    MessageEvent,
    MessageRevokeEvent,
    MessageSource,
    StatusEvent,
)
from bot.errors import PayloadError

__all__ = ["MAX_BODY_BYTES", "Normalised", "normalise", "parse_envelope"]

logger = logging.getLogger(__name__)

MAX_BODY_BYTES = 3 * 1024 * 1024 + 64 * 1024
"""The largest body accepted: Meta sends payloads of up to 3 MB, the rest is headroom."""

_ENVELOPE_OBJECT = "whatsapp_business_account"
_REPR_LIMIT = 40
# Year 9999 is 12 digits; refusing longer strings early also keeps int() off huge inputs.
_MAX_UNIX_DIGITS = 12

_SYSTEM_ID_CHANGES = {"user_changed_number": "wa_id", "user_changed_user_id": "user_id"}

# Only these interactive replies carry a text worth keeping, each under its own key.
_INTERACTIVE_TEXT_KEYS = {"button_reply": "title", "list_reply": "title", "nfm_reply": "body"}

# History reports the last status in upper case; PENDING never reached the customer.
_HISTORY_STATUSES: dict[str, DeliveryStatus | None] = {
    "SENT": DeliveryStatus.SENT,
    "DELIVERED": DeliveryStatus.DELIVERED,
    "READ": DeliveryStatus.READ,
    "PLAYED": DeliveryStatus.PLAYED,
    "ERROR": DeliveryStatus.FAILED,
    "PENDING": None,
}

_BAN_KINDS = {
    "DISABLE": AccountEventKind.BAN,
    "SCHEDULE_FOR_DISABLE": AccountEventKind.BAN_SCHEDULED,
    "REINSTATE": AccountEventKind.REINSTATED,
}

_ACCOUNT_UPDATE_KINDS = {
    "ACCOUNT_RESTRICTION": AccountEventKind.RESTRICTION,
    "ACCOUNT_VIOLATION": AccountEventKind.VIOLATION,
}

_QUALITY_UPDATE_KINDS = {
    "FLAGGED": AccountEventKind.QUALITY_FLAG,
    "UNFLAGGED": AccountEventKind.QUALITY_UNFLAG,
    "DOWNGRADE": AccountEventKind.LIMIT_CHANGE,
    "UPGRADE": AccountEventKind.LIMIT_CHANGE,
    "THROUGHPUT_UPGRADE": AccountEventKind.LIMIT_CHANGE,
    "ONBOARDING": AccountEventKind.LIMIT_CHANGE,
}


@dataclass(frozen=True)
class Normalised:
    """The domain events of one webhook body, and notes on what was left out.

    Attributes:
        events: the domain events, in payload order.
        skipped: one human-readable note per update that is valid but not turned into an
            event, e.g. ``"entry[0].changes[0]: field 'message_template_status_update'
            not handled"``. Notes never hold message text or phone numbers.
    """

    events: list[DomainEvent]
    skipped: list[str]


def parse_envelope(raw: bytes) -> dict[str, Any]:
    """Decode a webhook body and check that it is a WhatsApp Business Account envelope.

    Args:
        raw: the request body exactly as received.

    Returns:
        The decoded JSON object, ready for :func:`normalise`.

    Raises:
        PayloadError: the body is too large, is not UTF-8 JSON, is not an object, or its
            ``object``, ``entry[]`` or ``changes[]`` do not have the envelope's shape.
    """
    if len(raw) > MAX_BODY_BYTES:
        raise PayloadError(f"body of {len(raw)} bytes is over the limit of {MAX_BODY_BYTES}")

    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise PayloadError(f"not UTF-8: invalid byte at offset {exc.start}") from None
    try:
        payload = json.loads(text)
    except json.JSONDecodeError as exc:
        reason = f"not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        raise PayloadError(reason) from None
    except RecursionError:
        raise PayloadError("not JSON kpibot can read: nested too deeply") from None

    envelope = _require_object(payload, "")
    _changes(envelope)
    return envelope


def normalise(payload: dict[str, Any], *, received_at: datetime | None = None) -> Normalised:
    """Turn one parsed envelope into domain events, in payload order.

    Within one change, inbound messages come first, then statuses, then platform errors.

    Args:
        payload: a body decoded by :func:`parse_envelope` (its envelope is checked again).
        received_at: when the body reached kpibot. It dates platform errors, which carry
            no time of their own, when the entry has no ``time`` either; without it they
            are dated now.

    Returns:
        The events, and a note for every update that was skipped.

    Raises:
        PayloadError: a part of the payload kpibot needs is missing or has the wrong type.
        ValueError: ``received_at`` is a naive datetime.
    """
    if received_at is not None and received_at.utcoffset() is None:
        raise ValueError("received_at must be timezone-aware")

    batch = _Batch(received_at=None if received_at is None else received_at.astimezone(UTC))
    for change in _changes(payload):
        handle = _FIELD_HANDLERS.get(change.field)
        if handle is None:
            batch.skip(change.where, f"field {_short(change.field)} not handled")
        else:
            handle(change, batch)

    logger.debug("webhook normalised: events=%d skipped=%d", len(batch.events), len(batch.skipped))
    return Normalised(events=batch.events, skipped=batch.skipped)


# --- the envelope -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Change:
    """One ``entry[].changes[]`` item, with what its handler needs from the entry."""

    where: str
    field: str
    value: dict[str, Any]
    waba_id: str
    entry_where: str
    entry_time: Any  # raw ``entry.time``; only the fields that need it parse it

    @property
    def value_where(self) -> str:
        """The path of the change's ``value``."""
        return f"{self.where}.value"


@dataclass
class _Batch:
    """What one call of :func:`normalise` collects, and when the body was received."""

    received_at: datetime | None
    events: list[DomainEvent] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)

    def skip(self, where: str, what: str) -> None:
        """Note an update that is valid but not turned into an event."""
        note = f"{where}: {what}"
        logger.debug("webhook update skipped: %s", note)
        self.skipped.append(note)

    def fallback_time(self) -> datetime:
        """The time for an update that has none: when received, else now (fixed once)."""
        if self.received_at is None:
            self.received_at = datetime.now(UTC)
        return self.received_at


def _changes(payload: dict[str, Any]) -> list[_Change]:
    """Check the envelope of a decoded body and list its changes, in payload order."""
    _check_envelope_object(payload)

    changes = []
    for entry_where, entry in _objects_at(payload, "entry", "", required=True):
        waba_id = _required_str(entry, "id", entry_where)
        for where, change in _objects_at(entry, "changes", entry_where, required=True):
            changes.append(
                _Change(
                    where=where,
                    field=_required_str(change, "field", where),
                    value=_required_object_at(change, "value", where),
                    waba_id=waba_id,
                    entry_where=entry_where,
                    entry_time=entry.get("time"),
                )
            )
    return changes


def _check_envelope_object(payload: dict[str, Any]) -> None:
    """Refuse a body whose ``object`` is not the WhatsApp Business Account one."""
    found = payload.get("object")
    if found != _ENVELOPE_OBJECT:
        got = "missing" if found is None else f"got {_short(found)}"
        raise PayloadError(f"expected {_ENVELOPE_OBJECT!r}, {got}", "object")


def _business_number(change: _Change) -> BusinessNumber:
    """The business number a message-level value is about, from its ``metadata``."""
    where = f"{change.value_where}.metadata"
    metadata = _required_object_at(change.value, "metadata", change.value_where)
    return BusinessNumber(
        phone_number_id=_required_str(metadata, "phone_number_id", where),
        display_number=_phone_at(metadata, "display_phone_number", where),
        waba_id=change.waba_id,
    )


def _entry_time(change: _Change) -> datetime:
    """The ``entry.time`` that dates an account-level change; it must be there."""
    where = f"{change.entry_where}.time"
    if change.entry_time is None:
        raise PayloadError("missing: account-level fields are dated by it", where)
    return _unix_time(change.entry_time, where)


# --- field "messages" ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Contact:
    """A ``value.contacts[]`` item: who WhatsApp says a message or status is about."""

    wa_id: str | None
    user_id: str | None
    name: str | None


@dataclass(frozen=True, slots=True)
class _Chat:
    """The business number and customer a message is between, and how it reached us."""

    number: BusinessNumber
    customer: CustomerRef
    direction: Direction
    source: MessageSource


def _on_messages(change: _Change, batch: _Batch) -> None:
    """Field ``messages``: inbound messages, statuses of outbound ones, platform errors."""
    value, where = change.value, change.value_where
    contacts = _contacts(value, where)
    messages = _objects_at(value, "messages", where)
    statuses = _objects_at(value, "statuses", where)

    if messages or statuses:
        number = _business_number(change)
        for message_where, message in messages:
            _inbound_message(message, message_where, number, contacts, batch)
        for status_where, status in statuses:
            _status(status, status_where, number, contacts, batch)

    for error_where, error in _objects_at(value, "errors", where):
        batch.events.append(_platform_error(error, error_where, change, batch))


def _inbound_message(
    message: dict[str, Any],
    where: str,
    number: BusinessNumber,
    contacts: list[_Contact],
    batch: _Batch,
) -> None:
    """Turn a ``value.messages[]`` item, sent by a customer, into its event."""
    if _required_str(message, "type", where) == "system":
        _system_message(message, where, number, batch)
        return

    customer = _customer(
        _phone_at(message, "from", where),
        _id_at(message, "from_user_id", where),
        contacts,
        where,
    )
    chat = _Chat(number, customer, Direction.INBOUND, MessageSource.WEBHOOK)
    batch.events.append(_message_event(message, where, chat))


def _system_message(
    message: dict[str, Any], where: str, number: BusinessNumber, batch: _Batch
) -> None:
    """A system message: a customer's new phone number or business-scoped id."""
    system_where = _path(where, "system")
    system = _object_at(message, "system", where)
    kind = _required_str(system, "type", system_where)
    if kind not in _SYSTEM_ID_CHANGES:
        batch.skip(where, f"system message {_short(kind)} not handled")
        return

    # The new identifier is the point of the message: without it there is nothing to apply.
    _required_str(system, _SYSTEM_ID_CHANGES[kind], system_where)
    customer = _customer(
        _phone_at(message, "from", where), _id_at(message, "from_user_id", where), [], where
    )
    batch.events.append(
        CustomerIdentityEvent(
            number=number,
            customer=customer,
            timestamp=_time_at(message, "timestamp", where),
            kind=kind,
            new_wa_id=_phone_at(system, "wa_id", system_where),
            new_user_id=_id_at(system, "user_id", system_where),
        )
    )


def _status(
    status: dict[str, Any],
    where: str,
    number: BusinessNumber,
    contacts: list[_Contact],
    batch: _Batch,
) -> None:
    """Turn a ``value.statuses[]`` item into a status event, or skip it with a note."""
    if status.get("recipient_type") == "group":
        batch.skip(where, "group status not handled: groups are not customers")
        return
    reported = _required_str(status, "status", where)
    try:
        delivery = DeliveryStatus(reported.lower())
    except ValueError:
        batch.skip(where, f"status {_short(reported)} not handled")
        return

    customer = _customer(
        _phone_at(status, "recipient_id", where),
        _id_at(status, "recipient_user_id", where),
        contacts,
        where,
    )
    conversation = _object_at(status, "conversation", where)
    origin = _object_at(conversation, "origin", _path(where, "conversation"))
    batch.events.append(
        StatusEvent(
            number=number,
            customer=customer,
            message_id=_required_str(status, "id", where),
            status=delivery,
            timestamp=_time_at(status, "timestamp", where),
            pricing_category=_str_at(_object_at(status, "pricing", where), "category"),
            origin_type=_str_at(origin, "type"),
            tracking_data=_str_at(status, "biz_opaque_callback_data"),
            errors=_errors(status, where),
        )
    )


def _platform_error(
    error: dict[str, Any], where: str, change: _Change, batch: _Batch
) -> AccountEvent:
    """A ``value.errors[]`` item: a system-, app- or account-level error."""
    info = _error_info(error, where)
    metadata = _object_at(change.value, "metadata", change.value_where)
    metadata_where = f"{change.value_where}.metadata"
    timestamp = batch.fallback_time() if change.entry_time is None else _entry_time(change)
    return AccountEvent(
        kind=AccountEventKind.PLATFORM_ERROR,
        event="unknown" if info.code is None else str(info.code),
        timestamp=timestamp,
        waba_id=change.waba_id,
        phone_number_id=_id_at(metadata, "phone_number_id", metadata_where),
        display_number=_phone_at(metadata, "display_phone_number", metadata_where),
        detail={"code": info.code, "title": info.title, "details": info.details},
    )


# --- field "smb_message_echoes" -----------------------------------------------------------


def _on_message_echoes(change: _Change, batch: _Batch) -> None:
    """Field ``smb_message_echoes``: messages the rep sent from the WhatsApp Business app."""
    value, where = change.value, change.value_where
    echoes = _objects_at(value, "message_echoes", where)
    if not echoes:
        return

    number = _business_number(change)
    contacts = _contacts(value, where)
    for echo_where, echo in echoes:
        customer = _customer(
            _phone_at(echo, "to", echo_where),
            _id_at(echo, "to_user_id", echo_where),
            contacts,
            echo_where,
        )
        chat = _Chat(number, customer, Direction.OUTBOUND, MessageSource.ECHO)
        batch.events.append(_message_event(echo, echo_where, chat))


# --- field "history" ----------------------------------------------------------------------


def _on_history(change: _Change, batch: _Batch) -> None:
    """Field ``history``: the chat backfill, in chunks of threads or as media follow-ups."""
    value, where = change.value, change.value_where
    chunks = _objects_at(value, "history", where)
    follow_ups = _objects_at(value, "messages", where)
    if not chunks and not follow_ups:
        return

    number = _business_number(change)
    if number.display_number is None:
        raise PayloadError(
            "missing: history needs it to tell the rep's messages from the customer's",
            f"{where}.metadata.display_phone_number",
        )

    for chunk_where, chunk in chunks:
        _history_chunk(chunk, chunk_where, number, batch)

    contacts = _contacts(value, where)
    for message_where, message in follow_ups:
        direction = _history_direction(message, message_where, number)
        customer = _follow_up_customer(message, message_where, direction, contacts)
        chat = _Chat(number, customer, direction, MessageSource.HISTORY)
        batch.events.append(_history_message(message, message_where, chat))


def _history_chunk(
    chunk: dict[str, Any], where: str, number: BusinessNumber, batch: _Batch
) -> None:
    """One ``value.history[]`` item: threads of messages, or why sharing was refused."""
    errors = _errors(chunk, where)
    if errors:
        titles = "; ".join(error.title or f"error {error.code}" for error in errors)
        batch.skip(where, f"history not shared: {titles}")
        return

    progress = _object_at(chunk, "metadata", where)
    logger.debug(
        "history chunk: phase=%r chunk_order=%r progress=%r",
        progress.get("phase"),
        progress.get("chunk_order"),
        progress.get("progress"),
    )
    for thread_where, thread in _objects_at(chunk, "threads", where):
        # A thread is one customer's chat, named by their phone-based id.
        customer = CustomerRef(wa_id=_required_phone(thread, "id", thread_where))
        for message_where, message in _objects_at(thread, "messages", thread_where):
            direction = _history_direction(message, message_where, number)
            chat = _Chat(number, customer, direction, MessageSource.HISTORY)
            batch.events.append(_history_message(message, message_where, chat))


def _history_message(message: dict[str, Any], where: str, chat: _Chat) -> DomainEvent:
    """A backfilled message, with the last status it reached."""
    return _message_event(message, where, chat, history_status=_history_status(message, where))


def _history_direction(message: dict[str, Any], where: str, number: BusinessNumber) -> Direction:
    """Outbound when the business number sent the message, inbound otherwise."""
    sender = _required_phone(message, "from", where)
    return Direction.OUTBOUND if sender == number.display_number else Direction.INBOUND


def _history_status(message: dict[str, Any], where: str) -> DeliveryStatus | None:
    """The last status a backfilled message reached, if it reached the customer."""
    context = _object_at(message, "history_context", where)
    reported = _str_at(context, "status")
    return None if reported is None else _HISTORY_STATUSES.get(reported.upper())


def _follow_up_customer(
    message: dict[str, Any], where: str, direction: Direction, contacts: list[_Contact]
) -> CustomerRef:
    """The customer of a media follow-up, which comes without its thread."""
    if direction is Direction.INBOUND:
        return _customer(
            _phone_at(message, "from", where),
            _id_at(message, "from_user_id", where),
            contacts,
            where,
        )

    recipient = _phone_at(message, "to", where)
    recipient_user_id = _id_at(message, "to_user_id", where)
    if recipient is None and recipient_user_id is None and len(contacts) != 1:
        raise PayloadError(
            "no customer: an outbound history message without a thread needs `to` or one contact",
            where,
        )
    return _customer(recipient, recipient_user_id, contacts, where)


# --- field "smb_app_state_sync" -----------------------------------------------------------


def _on_state_sync(change: _Change, batch: _Batch) -> None:
    """Field ``smb_app_state_sync``: the rep's address book, synced from the app."""
    items = _objects_at(change.value, "state_sync", change.value_where)
    if not items:
        return

    number = _business_number(change)
    for where, item in items:
        kind = _required_str(item, "type", where)
        if kind != "contact":
            batch.skip(where, f"state sync of type {_short(kind)} not handled")
            continue
        action = _required_str(item, "action", where)
        if action != "add":
            batch.skip(where, f"contact {_short(action)} not handled")
        else:
            batch.events.append(_contact_sync(item, where, number))


def _contact_sync(item: dict[str, Any], where: str, number: BusinessNumber) -> DomainEvent:
    """A contact the rep added or renamed in the app's address book."""
    contact_where = _path(where, "contact")
    contact = _object_at(item, "contact", where)
    metadata = _object_at(item, "metadata", where)
    return CustomerIdentityEvent(
        number=number,
        customer=CustomerRef(wa_id=_required_phone(contact, "phone_number", contact_where)),
        timestamp=_time_at(metadata, "timestamp", _path(where, "metadata")),
        kind="contact_sync",
        name=_str_at(contact, "full_name") or _str_at(contact, "first_name"),
    )


# --- account-level fields -----------------------------------------------------------------


def _on_account_update(change: _Change, batch: _Batch) -> None:
    """Field ``account_update``: a change of standing of the business account."""
    value, where = change.value, change.value_where
    event = _required_str(value, "event", where)
    batch.events.append(
        AccountEvent(
            kind=_account_update_kind(event, value, where),
            event=event,
            timestamp=_entry_time(change),
            waba_id=change.waba_id,
            detail=_detail(value, "event"),
        )
    )


def _account_update_kind(event: str, value: dict[str, Any], where: str) -> AccountEventKind:
    """Read an ``account_update`` event as the KPI red lines need it."""
    if event.upper() == "DISABLED_UPDATE":
        ban_state = _str_at(_object_at(value, "ban_info", where), "waba_ban_state") or ""
        return _BAN_KINDS.get(ban_state.upper(), AccountEventKind.OTHER)
    return _ACCOUNT_UPDATE_KINDS.get(event.upper(), AccountEventKind.OTHER)


def _on_quality_update(change: _Change, batch: _Batch) -> None:
    """Field ``phone_number_quality_update``: a number's quality or messaging limit moved."""
    value, where = change.value, change.value_where
    event = _required_str(value, "event", where)
    batch.events.append(
        AccountEvent(
            kind=_QUALITY_UPDATE_KINDS.get(event.upper(), AccountEventKind.OTHER),
            event=event,
            timestamp=_entry_time(change),
            waba_id=change.waba_id,
            display_number=_phone_at(value, "display_phone_number", where),
            detail=_detail(value, "event", "display_phone_number"),
        )
    )


def _detail(value: dict[str, Any], *named: str) -> dict[str, Any]:
    """The rest of an account-level value, copied so the event shares nothing with it."""
    return {key: copy.deepcopy(item) for key, item in value.items() if key not in named}


_FIELD_HANDLERS: dict[str, Callable[[_Change, _Batch], None]] = {
    "messages": _on_messages,
    "smb_message_echoes": _on_message_echoes,
    "history": _on_history,
    "smb_app_state_sync": _on_state_sync,
    "account_update": _on_account_update,
    "phone_number_quality_update": _on_quality_update,
}


# --- messages and their content -----------------------------------------------------------


class _Body(NamedTuple):
    """What a message type's own object adds to its content."""

    text: str | None = None
    caption: str | None = None
    filename: str | None = None
    mime_type: str | None = None
    reaction_to: str | None = None
    reaction_emoji: str | None = None


def _message_event(
    message: dict[str, Any],
    where: str,
    chat: _Chat,
    history_status: DeliveryStatus | None = None,
) -> DomainEvent:
    """A message, or the edit or revoke of an earlier one, between the rep and a customer."""
    kind = _required_str(message, "type", where)
    message_id = _required_str(message, "id", where)
    timestamp = _time_at(message, "timestamp", where)
    if kind == "edit":
        return _edit_event(message, where, chat, message_id, timestamp)
    if kind == "revoke":
        return _revoke_event(message, where, chat, message_id, timestamp)
    return MessageEvent(
        number=chat.number,
        customer=chat.customer,
        message_id=message_id,
        direction=chat.direction,
        timestamp=timestamp,
        content=_content(message, where),
        source=chat.source,
        history_status=history_status,
    )


def _edit_event(
    message: dict[str, Any], where: str, chat: _Chat, message_id: str, timestamp: datetime
) -> MessageEditEvent:
    """An edit: ``edit.message`` holds the new content in the shape of any message."""
    edit_where = _path(where, "edit")
    edit = _object_at(message, "edit", where)
    return MessageEditEvent(
        number=chat.number,
        customer=chat.customer,
        message_id=message_id,
        original_message_id=_required_str(edit, "original_message_id", edit_where),
        timestamp=timestamp,
        direction=chat.direction,
        content=_content(
            _required_object_at(edit, "message", edit_where), _path(edit_where, "message")
        ),
    )


def _revoke_event(
    message: dict[str, Any], where: str, chat: _Chat, message_id: str, timestamp: datetime
) -> MessageRevokeEvent:
    """A revoke: the sender deleted ``revoke.original_message_id`` for everyone."""
    revoke = _object_at(message, "revoke", where)
    return MessageRevokeEvent(
        number=chat.number,
        customer=chat.customer,
        message_id=message_id,
        original_message_id=_required_str(revoke, "original_message_id", _path(where, "revoke")),
        timestamp=timestamp,
        direction=chat.direction,
    )


def _content(message: dict[str, Any], where: str) -> MessageContent:
    """What a message carries, whatever its type; unknown types keep their name."""
    kind = _required_str(message, "type", where)
    read_body = _BODY_READERS.get(kind, _no_body)
    body = read_body(message, where)
    context = _object_at(message, "context", where)
    referral = _object_at(message, "referral", where)
    return MessageContent(
        # Older payloads say "unknown"; the domain keeps that word for status-only messages.
        type="unsupported" if kind == "unknown" else kind,
        text=body.text,
        caption=body.caption,
        filename=body.filename,
        mime_type=body.mime_type,
        context_message_id=_str_at(context, "id"),
        forwarded=context.get("forwarded") is True or context.get("frequently_forwarded") is True,
        reaction_to=body.reaction_to,
        reaction_emoji=body.reaction_emoji,
        referral_source_type=_str_at(referral, "source_type"),
        referral_source_id=_str_at(referral, "source_id"),
        referral_ctwa_clid=_str_at(referral, "ctwa_clid"),
        errors=_errors(message, where),
    )


def _no_body(message: dict[str, Any], where: str) -> _Body:
    """The body of a type with nothing kpibot reads (unsupported, placeholders, new types)."""
    return _Body()


def _text_body(message: dict[str, Any], where: str) -> _Body:
    """A text message's body."""
    return _Body(text=_str_at(_object_at(message, "text", where), "body"))


def _media_body(message: dict[str, Any], where: str) -> _Body:
    """An image, video, audio, sticker or document: its caption, file name and type."""
    media = _object_at(message, message["type"], where)
    return _Body(
        caption=_str_at(media, "caption"),
        filename=_str_at(media, "filename"),
        mime_type=_str_at(media, "mime_type"),
    )


def _location_body(message: dict[str, Any], where: str) -> _Body:
    """A shared place: its name and address; a bare position has no text."""
    location = _object_at(message, "location", where)
    parts = [_str_at(location, "name"), _str_at(location, "address")]
    return _Body(text=", ".join(part for part in parts if part) or None)


def _shared_contacts_body(message: dict[str, Any], where: str) -> _Body:
    """Shared contact cards: their formatted names."""
    names = [
        _str_at(_object_at(card, "name", card_where), "formatted_name")
        for card_where, card in _objects_at(message, "contacts", where)
    ]
    return _Body(text=", ".join(name for name in names if name) or None)


def _interactive_body(message: dict[str, Any], where: str) -> _Body:
    """A tap on a reply button or list row, or a submitted Flow: what the customer chose."""
    interactive_where = _path(where, "interactive")
    interactive = _object_at(message, "interactive", where)
    reply_kind = _str_at(interactive, "type") or ""
    text_key = _INTERACTIVE_TEXT_KEYS.get(reply_kind)
    if text_key is None:
        return _Body()
    reply = _object_at(interactive, reply_kind, interactive_where)
    return _Body(text=_str_at(reply, text_key))


def _button_body(message: dict[str, Any], where: str) -> _Body:
    """A tap on a template's quick-reply button: its label."""
    button = _object_at(message, "button", where)
    return _Body(text=_str_at(button, "text") or _str_at(button, "payload"))


def _reaction_body(message: dict[str, Any], where: str) -> _Body:
    """A reaction, or its removal when the emoji is absent or empty."""
    reaction = _object_at(message, "reaction", where)
    return _Body(
        reaction_to=_str_at(reaction, "message_id"), reaction_emoji=_str_at(reaction, "emoji")
    )


def _order_body(message: dict[str, Any], where: str) -> _Body:
    """A catalogue order, summarised by its number of product lines and its note."""
    order = _object_at(message, "order", where)
    lines = len(_list_at(order, "product_items", _path(where, "order")))
    summary = f"order: {lines} item" + ("" if lines == 1 else "s")
    note = _str_at(order, "text")
    return _Body(text=f"{summary} — {note}" if note else summary)


_BODY_READERS: dict[str, Callable[[dict[str, Any], str], _Body]] = {
    "text": _text_body,
    "image": _media_body,
    "video": _media_body,
    "audio": _media_body,
    "sticker": _media_body,
    "document": _media_body,
    "location": _location_body,
    "contacts": _shared_contacts_body,
    "interactive": _interactive_body,
    "button": _button_body,
    "reaction": _reaction_body,
    "order": _order_body,
}


def _errors(parent: dict[str, Any], where: str) -> tuple[ErrorInfo, ...]:
    """The ``errors[]`` WhatsApp attached to a message, a status or a history chunk."""
    return tuple(
        _error_info(error, error_where)
        for error_where, error in _objects_at(parent, "errors", where)
    )


def _error_info(error: dict[str, Any], where: str) -> ErrorInfo:
    """One WhatsApp error: its code, title and the details under ``error_data``."""
    code = error.get("code")
    return ErrorInfo(
        code=code if isinstance(code, int) and not isinstance(code, bool) else None,
        title=_str_at(error, "title") or _str_at(error, "message"),
        details=_str_at(_object_at(error, "error_data", where), "details"),
    )


# --- customers ----------------------------------------------------------------------------


def _contacts(value: dict[str, Any], where: str) -> list[_Contact]:
    """The ``value.contacts[]`` that name the customers of a value's messages or statuses."""
    contacts = []
    for contact_where, contact in _objects_at(value, "contacts", where):
        profile = _object_at(contact, "profile", contact_where)
        contacts.append(
            _Contact(
                wa_id=_phone_at(contact, "wa_id", contact_where),
                user_id=_id_at(contact, "user_id", contact_where),
                name=_str_at(profile, "name"),
            )
        )
    return contacts


def _customer(
    wa_id: str | None, user_id: str | None, contacts: list[_Contact], where: str
) -> CustomerRef:
    """The customer of a message or status, completed from its matching contact."""
    contact = _matching_contact(contacts, wa_id, user_id)
    if contact is not None:
        wa_id = wa_id or contact.wa_id
        user_id = user_id or contact.user_id
    if wa_id is None and user_id is None:
        raise PayloadError("no customer: neither a wa_id nor a user_id", where)
    return CustomerRef(
        wa_id=wa_id, user_id=user_id, name=None if contact is None else contact.name
    )


def _matching_contact(
    contacts: list[_Contact], wa_id: str | None, user_id: str | None
) -> _Contact | None:
    """The contact with the same id, else the only contact, else none."""
    for contact in contacts:
        if (wa_id and contact.wa_id == wa_id) or (user_id and contact.user_id == user_id):
            return contact
    # WhatsApp warns that a user's id and phone number may differ: one contact is theirs.
    return contacts[0] if len(contacts) == 1 else None


def _normalise_phone(raw: str) -> str | None:
    """A phone number as bare digits: no leading ``+``, spaces, dashes or brackets."""
    digits = "".join(raw.split())
    for separator in "-()":
        digits = digits.replace(separator, "")
    return digits.removeprefix("+") or None


def _phone_at(parent: dict[str, Any], key: str, where: str) -> str | None:
    """An optional phone number under ``key``, normalised; None when absent or empty."""
    raw = _id_at(parent, key, where)
    return None if raw is None else _normalise_phone(raw)


def _required_phone(parent: dict[str, Any], key: str, where: str) -> str:
    """A phone number under ``key`` that must be there, normalised."""
    phone = _normalise_phone(_required_str(parent, key, where))
    if phone is None:
        raise PayloadError("empty", _path(where, key))
    return phone


# --- reading JSON with paths --------------------------------------------------------------


def _path(where: str, key: str) -> str:
    """The path of ``key`` inside the value at ``where``."""
    return f"{where}.{key}" if where else key


def _json_type(value: object) -> str:
    """Name a decoded JSON value's type as JSON does, for error reasons."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


def _short(value: object) -> str:
    """A value's repr cut to one short line, for error reasons and notes."""
    text = repr(value)
    return text if len(text) <= _REPR_LIMIT else text[: _REPR_LIMIT - 3] + "..."


def _require_object(value: object, where: str) -> dict[str, Any]:
    """``value`` itself, which must be a JSON object."""
    if not isinstance(value, dict):
        raise PayloadError(f"expected an object, got {_json_type(value)}", where)
    return value


def _required_object_at(parent: dict[str, Any], key: str, where: str) -> dict[str, Any]:
    """The object under ``key``, which must be there."""
    if parent.get(key) is None:
        raise PayloadError("missing", _path(where, key))
    return _require_object(parent[key], _path(where, key))


def _object_at(parent: dict[str, Any], key: str, where: str) -> dict[str, Any]:
    """The object under ``key``, or an empty one when the key is absent or null."""
    value = parent.get(key)
    return {} if value is None else _require_object(value, _path(where, key))


def _list_at(parent: dict[str, Any], key: str, where: str, *, required: bool = False) -> list[Any]:
    """The array under ``key``; an empty one when absent or null, unless required."""
    value = parent.get(key)
    if value is None and not required:
        return []
    if not isinstance(value, list):
        reason = "missing" if value is None else f"expected an array, got {_json_type(value)}"
        raise PayloadError(reason, _path(where, key))
    return value


def _objects_at(
    parent: dict[str, Any], key: str, where: str, *, required: bool = False
) -> list[tuple[str, dict[str, Any]]]:
    """The objects of the array under ``key``, each with its path."""
    base = _path(where, key)
    return [
        (f"{base}[{index}]", _require_object(item, f"{base}[{index}]"))
        for index, item in enumerate(_list_at(parent, key, where, required=required))
    ]


def _required_str(parent: dict[str, Any], key: str, where: str) -> str:
    """The non-empty string under ``key``: an id, a type or a name kpibot relies on."""
    value = parent.get(key)
    if isinstance(value, str) and value:
        return value
    if value is None:
        reason = "missing"
    elif value == "":
        reason = "empty"
    else:
        reason = f"expected a string, got {_json_type(value)}"
    raise PayloadError(reason, _path(where, key))


def _id_at(parent: dict[str, Any], key: str, where: str) -> str | None:
    """An optional id under ``key``: a string, or None when absent or empty."""
    value = parent.get(key)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise PayloadError(f"expected a string, got {_json_type(value)}", _path(where, key))
    return value


def _str_at(parent: dict[str, Any], key: str) -> str | None:
    """A descriptive string under ``key``; None when absent, empty or not a string."""
    value = parent.get(key)
    return value if isinstance(value, str) and value else None


def _time_at(parent: dict[str, Any], key: str, where: str) -> datetime:
    """The unix time under ``key``, which must be there."""
    if parent.get(key) is None:
        raise PayloadError("missing", _path(where, key))
    return _unix_time(parent[key], _path(where, key))


def _unix_time(raw: object, where: str) -> datetime:
    """Unix seconds, as WhatsApp sends them (a string, sometimes an int), in UTC."""
    seconds: int | None = None
    if isinstance(raw, int) and not isinstance(raw, bool) and raw >= 0:
        seconds = raw
    elif isinstance(raw, str) and raw.isascii() and raw.isdigit():
        seconds = int(raw) if len(raw) <= _MAX_UNIX_DIGITS else None
    if seconds is None:
        raise PayloadError(f"not a unix time: {_short(raw)}", where)
    try:
        return datetime.fromtimestamp(seconds, tz=UTC)
    except (OverflowError, OSError, ValueError):
        raise PayloadError(f"unix time out of range: {_short(raw)}", where) from None
