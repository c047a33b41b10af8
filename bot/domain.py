"""Domain events: what the ingestion layer hands to the store.

Every source of data (the WhatsApp webhook today; chat exports and the events API
later) is turned into these plain, immutable values by pure parsing functions. The
store applies them idempotently, so parsing never needs a database and a source can be
replayed without double-counting.

All datetimes are timezone-aware UTC.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any


class Direction(enum.StrEnum):
    """Who sent a message: the rep (outbound) or the customer (inbound)."""

    INBOUND = "inbound"
    OUTBOUND = "outbound"


class DeliveryStatus(enum.StrEnum):
    """A WhatsApp delivery status of an outbound message.

    The first four form a ladder; a message only ever moves up it. ``FAILED`` stands
    beside the ladder and is recorded whenever it arrives.
    """

    SENT = "sent"
    DELIVERED = "delivered"
    READ = "read"
    PLAYED = "played"
    FAILED = "failed"

    @property
    def rank(self) -> int:
        """Position on the sent < delivered < read < played ladder (0 for failed)."""
        return _STATUS_RANK[self]


_STATUS_RANK = {
    DeliveryStatus.FAILED: 0,
    DeliveryStatus.SENT: 1,
    DeliveryStatus.DELIVERED: 2,
    DeliveryStatus.READ: 3,
    DeliveryStatus.PLAYED: 4,
}


class MessageSource(enum.StrEnum):
    """How a message reached kpibot."""

    WEBHOOK = "webhook"  # Cloud API: inbound messages, or outbound known from statuses
    ECHO = "echo"  # typed by the rep in the WhatsApp Business app (coexistence)
    HISTORY = "history"  # the backfill sent after onboarding
    IMPORT = "import"  # a WhatsApp "Export chat" file
    API = "api"  # the events API, for SCRM tools and CRMs


@dataclass(frozen=True, slots=True)
class BusinessNumber:
    """A WhatsApp business phone number, as named by the webhook.

    ``phone_number_id`` is Meta's id for the number and the key that routes traffic to
    a rep; ``waba_id`` is the WhatsApp Business Account the number belongs to.
    """

    phone_number_id: str
    display_number: str | None = None
    waba_id: str | None = None


@dataclass(frozen=True, slots=True)
class CustomerRef:
    """A customer as identified by WhatsApp: phone-based ``wa_id``, or a business-scoped id.

    Either may be missing (a user who adopted a username has no ``wa_id``), but not both.
    """

    wa_id: str | None
    user_id: str | None = None
    name: str | None = None


@dataclass(frozen=True, slots=True)
class ErrorInfo:
    """An error WhatsApp attached to a message, a status or a webhook value."""

    code: int | None
    title: str | None = None
    details: str | None = None


@dataclass(frozen=True, slots=True)
class MessageContent:
    """What a message carries, reduced to what KPIs and people need.

    ``type`` is WhatsApp's message type (``text``, ``image``, ``document``,
    ``interactive`` …, or ``unknown`` for an outbound message known only from its
    statuses). ``text`` holds a text body, a button or list title, or an edited body;
    ``caption`` a media caption.
    """

    type: str
    text: str | None = None
    caption: str | None = None
    filename: str | None = None
    mime_type: str | None = None
    context_message_id: str | None = None
    forwarded: bool = False
    reaction_to: str | None = None
    reaction_emoji: str | None = None
    referral_source_type: str | None = None
    referral_source_id: str | None = None
    referral_ctwa_clid: str | None = None
    errors: tuple[ErrorInfo, ...] = ()


@dataclass(frozen=True, slots=True)
class MessageEvent:
    """A message between a business number and a customer, in either direction."""

    number: BusinessNumber
    customer: CustomerRef
    message_id: str
    direction: Direction
    timestamp: datetime
    content: MessageContent
    source: MessageSource = MessageSource.WEBHOOK
    # History backfill tells the last status of a message but not when it was reached.
    history_status: DeliveryStatus | None = None


@dataclass(frozen=True, slots=True)
class StatusEvent:
    """A delivery status for an outbound message sent through the Cloud API.

    ``pricing_category`` / ``origin_type`` come from ``pricing.category`` and
    ``conversation.origin.type``; ``marketing``, ``utility`` and ``authentication`` mean
    the message was a template of that category, ``service`` a free-form message.
    ``tracking_data`` is the ``biz_opaque_callback_data`` the sender attached.
    """

    number: BusinessNumber
    customer: CustomerRef
    message_id: str
    status: DeliveryStatus
    timestamp: datetime
    pricing_category: str | None = None
    origin_type: str | None = None
    tracking_data: str | None = None
    errors: tuple[ErrorInfo, ...] = ()


@dataclass(frozen=True, slots=True)
class MessageEditEvent:
    """A sender changed the content of an earlier message."""

    number: BusinessNumber
    customer: CustomerRef
    message_id: str
    original_message_id: str
    timestamp: datetime
    direction: Direction
    content: MessageContent


@dataclass(frozen=True, slots=True)
class MessageRevokeEvent:
    """A sender deleted an earlier message for everyone."""

    number: BusinessNumber
    customer: CustomerRef
    message_id: str
    original_message_id: str
    timestamp: datetime
    direction: Direction


@dataclass(frozen=True, slots=True)
class CustomerIdentityEvent:
    """A customer changed number or business-scoped id, or a contact was synced.

    ``new_wa_id`` / ``new_user_id`` replace the customer's old identifiers when set;
    ``name`` updates the name the rep's address book gives the customer.
    """

    number: BusinessNumber
    customer: CustomerRef
    timestamp: datetime
    kind: str  # user_changed_number, user_changed_user_id, contact_sync
    new_wa_id: str | None = None
    new_user_id: str | None = None
    name: str | None = None


class AccountEventKind(enum.StrEnum):
    """What happened to a business account or number, as the KPI red lines read it."""

    BAN = "ban"  # the account or number is disabled
    BAN_SCHEDULED = "ban_scheduled"
    REINSTATED = "reinstated"
    RESTRICTION = "restriction"
    VIOLATION = "violation"
    QUALITY_FLAG = "quality_flag"
    QUALITY_UNFLAG = "quality_unflag"
    LIMIT_CHANGE = "limit_change"
    PLATFORM_ERROR = "platform_error"
    OTHER = "other"


@dataclass(frozen=True, slots=True)
class AccountEvent:
    """A change of standing of a WhatsApp Business Account or one of its numbers.

    ``phone_number_id`` or ``display_number`` is set when the event names one number;
    otherwise it concerns every number of ``waba_id``. ``event`` is Meta's own name
    (``DISABLED_UPDATE``, ``FLAGGED`` …) and ``detail`` the rest of the payload's value.
    """

    kind: AccountEventKind
    event: str
    timestamp: datetime
    waba_id: str | None = None
    phone_number_id: str | None = None
    display_number: str | None = None
    detail: dict[str, Any] = field(default_factory=dict, hash=False)


DomainEvent = (
    MessageEvent
    | StatusEvent
    | MessageEditEvent
    | MessageRevokeEvent
    | CustomerIdentityEvent
    | AccountEvent
)
"""Any value the ingestion layer produces."""


class CustomerEventKind(enum.StrEnum):
    """What a rep or a CRM can record about a customer besides tags and deals."""

    QUOTE = "quote"
    SAMPLE = "sample"
    COMPLAINT = "complaint"


@dataclass(frozen=True, slots=True)
class TagRecord:
    """A tag put on (or, with ``removed``, taken off) a customer.

    ``rep`` names the rep who recorded it; without it the tag goes to the rep whose
    number the customer last talked to. ``key`` makes a retried record land once.
    """

    customer: CustomerRef
    tag: str
    timestamp: datetime
    removed: bool = False
    rep: str | None = None
    source: str = "bot"
    key: str | None = None


@dataclass(frozen=True, slots=True)
class CustomerEventRecord:
    """A quote, sample or complaint recorded by a rep or a CRM."""

    kind: CustomerEventKind
    customer: CustomerRef
    timestamp: datetime
    rep: str | None = None
    note: str | None = None
    source: str = "bot"
    key: str | None = None


@dataclass(frozen=True, slots=True)
class DealRecord:
    """A closed deal: ``amount`` in ``currency``, ``margin`` the gross margin as a fraction.

    ``referred_by`` is the existing customer who referred this one, if any.
    """

    customer: CustomerRef
    amount: Decimal
    currency: str
    timestamp: datetime
    margin: float | None = None
    rep: str | None = None
    referred_by: CustomerRef | None = None
    note: str | None = None
    source: str = "bot"
    key: str | None = None


Record = TagRecord | CustomerEventRecord | DealRecord
"""Anything a rep or a CRM records that the message stream cannot show."""
