"""Tests of the WhatsApp webhook normaliser, over the payloads in ``tests/fixtures/whatsapp``.

Each fixture is one realistic webhook body, built from Meta's reference examples and the
shapes public libraries test against. Expected events are written out in full, so a test
pins every field the store will see.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import logging
import re
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

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
from bot.ingest.whatsapp import MAX_BODY_BYTES, Normalised, normalise, parse_envelope

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "whatsapp"

WABA_ID = "102290129340398"
NUMBER = BusinessNumber("106540352242922", "15550783881", WABA_ID)
PYWA_NUMBER = BusinessNumber("1122334455667", "972123456789", "1234567890987654321")
SHEENA = CustomerRef("16505551234", name="Sheena Nelson")
SHEENA_UNNAMED = CustomerRef("16505551234")
PYWA_USER_ID = "US.13491208655302741918"
PYWA_CUSTOMER = CustomerRef("972987654321", PYWA_USER_ID, "Test Name")

# Paths of the first change's value, and of its first message, for the error tables.
VALUE = "entry[0].changes[0].value"
MESSAGE = f"{VALUE}.messages[0]"

DELETE = object()
"""An edit that removes the key instead of setting it."""

_PATH_TOKEN = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


def at(seconds: int) -> datetime:
    """The UTC datetime of a unix time, as the normaliser must produce it."""
    return datetime.fromtimestamp(seconds, tz=UTC)


def fixture_names() -> list[str]:
    """Every fixture payload, by file stem."""
    return sorted(path.stem for path in FIXTURES.glob("*.json"))


def load(name: str) -> dict[str, Any]:
    """A fixture payload, read through :func:`parse_envelope` as the web layer will."""
    return parse_envelope((FIXTURES / f"{name}.json").read_bytes())


def edited(payload: dict[str, Any], edits: dict[str, object]) -> dict[str, Any]:
    """A copy of ``payload`` with each path set to its value, or removed for DELETE."""
    payload = copy.deepcopy(payload)
    for path, new in edits.items():
        keys: list[Any] = [
            int(index) if index else key for key, index in _PATH_TOKEN.findall(path)
        ]
        parent: Any = payload
        for key in keys[:-1]:
            parent = parent[key]
        if new is DELETE:
            del parent[keys[-1]]
        else:
            parent[keys[-1]] = new
    return payload


def envelope(*changes: dict[str, Any], time: int | None = None) -> dict[str, Any]:
    """A one-entry envelope around ``changes``, for payloads no fixture needs to hold."""
    entry: dict[str, Any] = {"id": WABA_ID, "changes": list(changes)}
    if time is not None:
        entry["time"] = time
    return {"object": "whatsapp_business_account", "entry": [entry]}


def messages_change(**value: Any) -> dict[str, Any]:
    """A ``messages`` change of the fixtures' business number with the given value keys."""
    metadata = {"display_phone_number": "15550783881", "phone_number_id": "106540352242922"}
    return {
        "field": "messages",
        "value": {"messaging_product": "whatsapp", "metadata": metadata, **value},
    }


def inbound(
    message_id: str,
    seconds: int,
    content: MessageContent,
    *,
    customer: CustomerRef = SHEENA,
    number: BusinessNumber = NUMBER,
) -> MessageEvent:
    """An inbound Cloud API message event, as most fixtures produce one."""
    return MessageEvent(
        number=number,
        customer=customer,
        message_id=message_id,
        direction=Direction.INBOUND,
        timestamp=at(seconds),
        content=content,
    )


def status(
    message_id: str,
    delivery: DeliveryStatus,
    seconds: int,
    *,
    customer: CustomerRef = SHEENA_UNNAMED,
    number: BusinessNumber = NUMBER,
    **extra: Any,
) -> StatusEvent:
    """A status event of an outbound Cloud API message."""
    return StatusEvent(
        number=number,
        customer=customer,
        message_id=message_id,
        status=delivery,
        timestamp=at(seconds),
        **extra,
    )


def history(
    message_id: str,
    direction: Direction,
    seconds: int,
    content: MessageContent,
    last_status: DeliveryStatus | None,
    customer: CustomerRef,
) -> MessageEvent:
    """A backfilled message event."""
    return MessageEvent(
        number=NUMBER,
        customer=customer,
        message_id=message_id,
        direction=direction,
        timestamp=at(seconds),
        content=content,
        source=MessageSource.HISTORY,
        history_status=last_status,
    )


def account(kind: AccountEventKind, event: str, seconds: int, **extra: Any) -> AccountEvent:
    """An account-level event of the fixtures' business account."""
    extra.setdefault("waba_id", WABA_ID)
    return AccountEvent(kind=kind, event=event, timestamp=at(seconds), **extra)


# --- one fixture, one event ---------------------------------------------------------------

CTWA_CLID = (
    "Aff-n8ZTODiE79d22KtAwQKj9e_mIEOOj27vDVwFjN80dp4_0NiNhEgpGo0AHemvuSoifXaytfTzcchptiErTK"
    "CqTrJ5nW1h7IHYeYymGb5K5J5iTROpBhWAGaIAeUzHL50"
)
QUOTED_BUSINESS_MESSAGE = "wamid.HBgLMTQxMjU1NTA4MjkVAgASGBQzQUNCNjk5RDUwNUZGMUZEM0VBRAA="
BUTTON_MESSAGE = "wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBI3MEM2RUJFNkI0RENGQTVDRjUA"
SENT_MESSAGE = "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQUFERjg0NDEzNDdFODU3MUMxMAA="

SINGLE_EVENT_FIXTURES = [
    pytest.param(
        "text",
        inbound(
            "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTRBNjU5OUFFRTAzODEwMTQ0RgA=",
            1749416383,
            MessageContent("text", text="Does it come in another color?"),
        ),
        id="text",
    ),
    pytest.param(
        "text_bsuid",
        inbound(
            "wamid.HBgMOTcyOTg3NjU0MzIxFQIAEhggQzU0RjI3QTQ5QjY0MkM0NzA0QUE2RjBDQjE2RjQzQkQA",
            1697043223,
            MessageContent("text", text="Hi, do you ship to Haifa port?"),
            customer=PYWA_CUSTOMER,
            number=PYWA_NUMBER,
        ),
        id="text-with-bsuid",
    ),
    pytest.param(
        "text_username_only",
        inbound(
            "wamid.HBgSSU4uMjA4MTk3ODcwOTM0Mjk0MhUCABIYFDNBQjFDRDJFM0Y0QTVCNkM3RDhFAA==",
            1767600000,
            MessageContent("text", text="Please send the price list for 1121 basmati, 25 kg bags"),
            customer=CustomerRef(None, "IN.2081978709342942", "Priya Sharma"),
        ),
        id="text-from-username-without-wa-id",
    ),
    pytest.param(
        "text_referral_ctwa",
        inbound(
            "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQUQ0N0VFMDA2MTQ0RkJFNkNDNAA=",
            1750275992,
            MessageContent(
                "text",
                text="Can I get more info about this?",
                referral_source_type="ad",
                referral_source_id="120226305854810726",
                referral_ctwa_clid=CTWA_CLID,
            ),
        ),
        id="text-from-click-to-whatsapp-ad",
    ),
    pytest.param(
        "text_reply_context",
        inbound(
            "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQjc5RDY4MjEwQjQ5QkU2QzJBMwA=",
            1749416920,
            MessageContent(
                "text",
                text="Yes, 500 units FOB Ningbo please",
                context_message_id=BUTTON_MESSAGE,
            ),
        ),
        id="text-quoting-a-business-message",
    ),
    pytest.param(
        "text_forwarded",
        inbound(
            "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzRjFBMDk4QjE0RDJDNzYxRTE1NwA=",
            1749417002,
            MessageContent("text", text="My partner is asking about the MOQ", forwarded=True),
        ),
        id="text-forwarded",
    ),
    pytest.param(
        "text_frequently_forwarded",
        inbound(
            "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQ0QTc3RTIwQzlFQjA1OEJGMDQ5NgA=",
            1749417050,
            MessageContent(
                "text", text="Trade fair in Canton next month, see you there", forwarded=True
            ),
        ),
        id="text-frequently-forwarded",
    ),
    pytest.param(
        "image_caption",
        inbound(
            "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTRBNjU5OUFFRTAzODEwMTQ0RgA=",
            1744344496,
            MessageContent(
                "image",
                caption="This is the carton we use now, can you match it?",
                mime_type="image/jpeg",
            ),
        ),
        id="image-with-caption",
    ),
    pytest.param(
        "document_accented",
        inbound(
            "wamid.HBgNNTIxNTUxMjM0NTY3OBUCABIYFDNBMDJGNkU0QjNCN0E2RDE5QzhFAA==",
            1744344496,
            MessageContent(
                "document",
                caption="Nuestra cotización de otro proveedor",
                filename="Cotización café.pdf",
                mime_type="application/pdf",
            ),
            customer=CustomerRef("5215512345678", name="José Hernández"),
        ),
        id="document-with-accented-filename",
    ),
    pytest.param(
        "audio_voice",
        inbound(
            "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzRDk0MTE2QzlBNDY3N0E5RUI0RQA=",
            1744345012,
            MessageContent("audio", mime_type="audio/ogg; codecs=opus"),
        ),
        id="audio-voice-note",
    ),
    pytest.param(
        "video",
        inbound(
            "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzMkI1QTY2NkQzRjcyQzJDQjM5NgA=",
            1744345300,
            MessageContent(
                "video", caption="Our warehouse, so you see the pallet size", mime_type="video/mp4"
            ),
        ),
        id="video",
    ),
    pytest.param(
        "sticker",
        inbound(
            "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzNkI3RDFFNjBFNEQ1Q0I3QjI2RQA=",
            1744345410,
            MessageContent("sticker", mime_type="image/webp"),
        ),
        id="sticker",
    ),
    pytest.param(
        "location_full",
        inbound(
            "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTU2MjZEMDBGRkE3MENEMDE0RQA=",
            1744344496,
            MessageContent("location", text="Philz Coffee, 101 Forest Ave, Palo Alto, CA 94301"),
        ),
        id="location-with-name-and-address",
    ),
    pytest.param(
        "location_current",
        inbound(
            "wamid.HBgMOTcyOTg3NjU0MzIxFQIAEhgUM0E4NTQyRjdCMkU5MTU3QkM2NEIA",
            1697046321,
            MessageContent("location", forwarded=True),
            customer=CustomerRef("972987654321", name="Test Name"),
            number=PYWA_NUMBER,
        ),
        id="location-latitude-longitude-only",
    ),
    pytest.param(
        "contacts_shared",
        inbound(
            "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzRTlGNUE4QjY5MDg0RTE2QjVBMwA=",
            1744346001,
            MessageContent("contacts", text="Li Wei, Ana Souza"),
        ),
        id="shared-contact-cards",
    ),
    pytest.param(
        "interactive_button_reply",
        inbound(
            "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTZBQzg0MzQ4QjRCM0NGNkVGOAA=",
            1750025136,
            MessageContent(
                "interactive", text="Send me a quote", context_message_id=BUTTON_MESSAGE
            ),
        ),
        id="interactive-button-reply",
    ),
    pytest.param(
        "interactive_list_reply",
        inbound(
            SENT_MESSAGE,
            1749854575,
            MessageContent(
                "interactive",
                text="Priority Mail Express",
                context_message_id=QUOTED_BUSINESS_MESSAGE,
            ),
        ),
        id="interactive-list-reply",
    ),
    pytest.param(
        "interactive_nfm_reply",
        inbound(
            "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzOUY3QjBBNjkxMzY4NEQ0QjE4MgA=",
            1750026200,
            MessageContent(
                "interactive",
                text="Sent",
                context_message_id="wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBJGQjY0RDM5NkE5QjY3RjQ4NzUA",
            ),
        ),
        id="interactive-flow-reply",
    ),
    pytest.param(
        "button_quick_reply",
        inbound(
            "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQUU0M0MxQzQzMUJCMTMwNUZFOQA=",
            1750091045,
            MessageContent(
                "button",
                text="Unsubscribe",
                context_message_id="wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBJFNjk2OTMwNEZCQjhGMzUyQUYA",
            ),
        ),
        id="template-button-with-context",
    ),
    pytest.param(
        "button_quick_reply_no_context",
        inbound(
            "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzNzFFRkU0QzA1MUQ3OUQ3OTY2NwA=",
            1750091200,
            MessageContent("button", text="Get price list"),
        ),
        id="template-button-without-context",
    ),
    pytest.param(
        "reaction",
        inbound(
            SENT_MESSAGE,
            1749419544,
            MessageContent(
                "reaction", reaction_to=QUOTED_BUSINESS_MESSAGE, reaction_emoji="\U0001f44d"
            ),
        ),
        id="reaction",
    ),
    pytest.param(
        "unreaction_no_emoji",
        inbound(
            "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQjNFMzQ1RjBGMUI4MzA5NkNBOAA=",
            1749419600,
            MessageContent("reaction", reaction_to=QUOTED_BUSINESS_MESSAGE),
        ),
        id="reaction-removed-emoji-absent",
    ),
    pytest.param(
        "unreaction_empty",
        inbound(
            "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQ0FFOUQxMkI0NzE2QzdCNDA1MAA=",
            1749419660,
            MessageContent("reaction", reaction_to=QUOTED_BUSINESS_MESSAGE),
        ),
        id="reaction-removed-emoji-empty",
    ),
    pytest.param(
        "order",
        inbound(
            "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQzg4RTlENjFFMjYxQjQ2NzgxMwA=",
            1750100233,
            MessageContent("order", text="order: 2 items — Please ship by sea, CIF Santos"),
        ),
        id="catalogue-order",
    ),
    pytest.param(
        "unsupported_errors",
        inbound(
            SENT_MESSAGE,
            1750090702,
            MessageContent(
                "unsupported",
                errors=(
                    ErrorInfo(
                        131051,
                        "Message type unknown",
                        "Message type is currently not supported.",
                    ),
                ),
            ),
        ),
        id="unsupported-with-errors",
    ),
    pytest.param(
        "system_user_changed_number",
        CustomerIdentityEvent(
            number=NUMBER,
            customer=SHEENA_UNNAMED,
            timestamp=at(1750269342),
            kind="user_changed_number",
            new_wa_id="12195555358",
        ),
        id="system-user-changed-number",
    ),
    pytest.param(
        "system_user_changed_user_id",
        CustomerIdentityEvent(
            number=NUMBER,
            customer=CustomerRef("16505551234", PYWA_USER_ID),
            timestamp=at(1767700000),
            kind="user_changed_user_id",
            new_user_id="US.22071965433190876543",
        ),
        id="system-user-changed-user-id",
    ),
    pytest.param(
        "edit_inbound",
        MessageEditEvent(
            number=NUMBER,
            customer=SHEENA,
            message_id="wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzRkQ3MDI0OTVFNjE5QTU1Q0NEMQA=",
            original_message_id="wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQjc5RDY4MjEwQjQ5QkU2QzJBMwA=",
            timestamp=at(1749417300),
            direction=Direction.INBOUND,
            content=MessageContent("text", text="Yes, 800 units FOB Ningbo please"),
        ),
        id="customer-edits-a-message",
    ),
    pytest.param(
        "revoke_inbound",
        MessageRevokeEvent(
            number=NUMBER,
            customer=SHEENA,
            message_id="wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzOEU1NjQ3QTg0MzkwRDUzQzY0MQA=",
            original_message_id="wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzRjFBMDk4QjE0RDJDNzYxRTE1NwA=",
            timestamp=at(1749417360),
            direction=Direction.INBOUND,
        ),
        id="customer-deletes-a-message",
    ),
    pytest.param(
        "status_sent_marketing",
        status(
            SENT_MESSAGE,
            DeliveryStatus.SENT,
            1750030073,
            pricing_category="marketing",
            origin_type="marketing",
        ),
        id="status-sent-marketing-with-conversation-and-pricing",
    ),
    pytest.param(
        "status_sent_v24",
        status(SENT_MESSAGE, DeliveryStatus.SENT, 1750030073),
        id="status-sent-v24-bare",
    ),
    pytest.param(
        "status_delivered",
        status(
            "wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBI3MTE5MjVBOTE3MDk5QUVFM0YA",
            DeliveryStatus.DELIVERED,
            1750263773,
            pricing_category="service",
            origin_type="service",
        ),
        id="status-delivered",
    ),
    pytest.param(
        "status_read",
        status(
            "wamid.HBgMOTcyOTg3NjU0MzIxFQIAERgSMjQ5QThCOUFEODQ3NDdBQjYzAA==",
            DeliveryStatus.READ,
            1698266967,
            customer=PYWA_CUSTOMER,
            number=PYWA_NUMBER,
        ),
        id="status-read-with-bsuid-and-contacts",
    ),
    pytest.param(
        "status_played",
        status(
            "wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBJBNkU0QjY5RjQ0RTFEOTc0RDgA",
            DeliveryStatus.PLAYED,
            1750264100,
        ),
        id="status-played",
    ),
    pytest.param(
        "status_failed",
        status(
            "wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBI0QUQ2MjA4NEYyRkExNjMyREUA",
            DeliveryStatus.FAILED,
            1751142888,
            errors=(
                ErrorInfo(
                    131049,
                    "This message was not delivered to maintain healthy ecosystem engagement.",
                    "In order to maintain a healthy ecosystem engagement, the message failed to"
                    " be delivered.",
                ),
            ),
        ),
        id="status-failed-with-errors",
    ),
    pytest.param(
        "status_tracking_data",
        status(
            "wamid.HBgMOTcyOTg3NjU0MzIxFQIAERgSNzA4QjI1RjZDNzA5RkI5NUE0AA==",
            DeliveryStatus.SENT,
            1698266945,
            customer=CustomerRef("972987654321"),
            number=PYWA_NUMBER,
            pricing_category="service",
            origin_type="service",
            tracking_data="rep=lin;campaign=fob-spring",
        ),
        id="status-with-biz-opaque-callback-data",
    ),
    pytest.param(
        "echo_text",
        MessageEvent(
            number=NUMBER,
            customer=SHEENA_UNNAMED,
            message_id="wamid.HBgLMTY0NjcwNDM1OTUVAgARGBIyNDlBOEI5QUQ4NDc0N0FCNjMA",
            direction=Direction.OUTBOUND,
            timestamp=at(1739321024),
            content=MessageContent(
                "text", text="Here's the info you requested! https://www.meta.com/quest/quest-3/"
            ),
            source=MessageSource.ECHO,
        ),
        id="echo-text",
    ),
    pytest.param(
        "echo_text_bsuid",
        MessageEvent(
            number=PYWA_NUMBER,
            customer=PYWA_CUSTOMER,
            message_id="wamid.HBgMOTcyOTg3NjU0MzIxFQIAERgSRjM0QzYxOTVCNzAyOTk1QjEzAA==",
            direction=Direction.OUTBOUND,
            timestamp=at(1739322000),
            content=MessageContent(
                "document",
                filename="Proforma invoice PI-2025-031.pdf",
                mime_type="application/pdf",
            ),
            source=MessageSource.ECHO,
        ),
        id="echo-document-with-bsuid-and-contacts",
    ),
    pytest.param(
        "echo_edit",
        MessageEditEvent(
            number=NUMBER,
            customer=SHEENA_UNNAMED,
            message_id="wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQkJERjg0NDEzNDdFODU3MUMxMAA=",
            original_message_id=QUOTED_BUSINESS_MESSAGE,
            timestamp=at(1749854620),
            direction=Direction.OUTBOUND,
            content=MessageContent(
                "image",
                caption="Updated image caption",
                mime_type="image/jpeg",
                context_message_id="M0",
            ),
        ),
        id="echo-edit-of-an-image-caption",
    ),
    pytest.param(
        "echo_revoke",
        MessageRevokeEvent(
            number=NUMBER,
            customer=SHEENA_UNNAMED,
            message_id=SENT_MESSAGE,
            original_message_id=QUOTED_BUSINESS_MESSAGE,
            timestamp=at(1749854575),
            direction=Direction.OUTBOUND,
        ),
        id="echo-revoke-with-plus-in-to-and-int-timestamp",
    ),
    pytest.param(
        "history_media_followup",
        history(
            "wamid.QyNUEHBgLMTY0NjcwNDM1OTUVAgARGBI1Rj3NEYxMzAzMzQ5MkEA",
            Direction.INBOUND,
            1738796547,
            MessageContent("image", caption="Black Prince echeveria", mime_type="image/jpeg"),
            None,
            SHEENA_UNNAMED,
        ),
        id="history-media-follow-up",
    ),
    pytest.param(
        "account_violation",
        account(
            AccountEventKind.VIOLATION,
            "ACCOUNT_VIOLATION",
            1743451903,
            detail={"violation_info": {"violation_type": "ADULT"}},
        ),
        id="account-violation",
    ),
    pytest.param(
        "account_disabled",
        account(
            AccountEventKind.BAN,
            "DISABLED_UPDATE",
            1743365503,
            detail={"ban_info": {"waba_ban_state": "DISABLE", "waba_ban_date": "March 30, 2025"}},
        ),
        id="account-disabled",
    ),
    pytest.param(
        "account_reinstated",
        account(
            AccountEventKind.REINSTATED,
            "DISABLED_UPDATE",
            1743451903,
            detail={
                "ban_info": {"waba_ban_state": "REINSTATE", "waba_ban_date": "April 17, 2025"}
            },
        ),
        id="account-reinstated",
    ),
    pytest.param(
        "account_restriction",
        account(
            AccountEventKind.RESTRICTION,
            "ACCOUNT_RESTRICTION",
            1641330498,
            detail={
                "restriction_info": [
                    {
                        "restriction_type": "RESTRICTED_BIZ_INITIATED_MESSAGING",
                        "expiration": 1641330498,
                    },
                    {
                        "restriction_type": "RESTRICTED_ADD_PHONE_NUMBER_ACTION",
                        "expiration": 1641330498,
                    },
                ]
            },
        ),
        id="account-restriction",
    ),
    pytest.param(
        "account_partner_removed",
        account(
            AccountEventKind.OTHER,
            "PARTNER_REMOVED",
            1748477359,
            waba_id="2949482758682047",
            detail={
                "waba_info": {
                    "waba_id": "980198427658004",
                    "owner_business_id": "2329417887457253",
                },
                "disconnection_info": {"reason": "PRIMARY_INACTIVITY", "initiated_by": "SYSTEM"},
            },
        ),
        id="account-partner-removed",
    ),
    pytest.param(
        "quality_flagged",
        account(
            AccountEventKind.QUALITY_FLAG,
            "FLAGGED",
            1748454100,
            display_number="16505551111",
            detail={"current_limit": "TIER_10K"},
        ),
        id="quality-flagged",
    ),
    pytest.param(
        "quality_throughput_upgrade",
        account(
            AccountEventKind.LIMIT_CHANGE,
            "THROUGHPUT_UPGRADE",
            1748454394,
            display_number="15550783881",
            detail={"current_limit": "TIER_UNLIMITED"},
        ),
        id="quality-throughput-upgrade-object-last",
    ),
]


@pytest.mark.parametrize(("name", "expected"), SINGLE_EVENT_FIXTURES)
def test_fixture_gives_its_one_event(name: str, expected: DomainEvent) -> None:
    assert normalise(load(name)) == Normalised(events=[expected], skipped=[])


SKIPPED_FIXTURES = [
    pytest.param(
        "template_status_update",
        "entry[0].changes[0]: field 'message_template_status_update' not handled",
        id="template-status-update",
    ),
    pytest.param(
        "status_group",
        f"{VALUE}.statuses[0]: group status not handled: groups are not customers",
        id="group-status",
    ),
    pytest.param(
        "system_identity_changed",
        f"{MESSAGE}: system message 'customer_identity_changed' not handled",
        id="system-identity-changed",
    ),
    pytest.param(
        "history_sharing_declined",
        f"{VALUE}.history[0]: history not shared: History sync is turned off by the business"
        " from the WhatsApp Business App",
        id="history-sharing-declined",
    ),
    pytest.param(
        "state_sync_remove",
        f"{VALUE}.state_sync[0]: contact 'remove' not handled",
        id="contact-removed-from-address-book",
    ),
]


@pytest.mark.parametrize(("name", "note"), SKIPPED_FIXTURES)
def test_fixture_is_skipped_with_a_note(name: str, note: str) -> None:
    assert normalise(load(name)) == Normalised(events=[], skipped=[note])


def test_every_fixture_is_covered() -> None:
    covered = {param.values[0] for param in [*SINGLE_EVENT_FIXTURES, *SKIPPED_FIXTURES]}
    covered |= {
        "batch",
        "history_threads",
        "interactive_with_value_errors",
        "state_sync_add",
        "value_errors",
    }
    assert set(fixture_names()) == covered


# --- fixtures with several events ---------------------------------------------------------


def test_history_threads_tell_direction_status_and_customer() -> None:
    rep_to_sheena = CustomerRef("16505551234")
    rep_to_second = CustomerRef("12125557890")
    assert normalise(load("history_threads")).events == [
        history(
            "wamid.HBgLMTY0NjcwNDM1OTUVAgARGBIyNDlBOEI5QUQ4NDc0N0FCNjMA",
            Direction.OUTBOUND,
            1739230955,
            MessageContent(
                "text", text="Here's the info you requested! https://www.meta.com/quest/quest-3/"
            ),
            DeliveryStatus.READ,
            rep_to_sheena,
        ),
        history(
            "wamid.QyNUEHBgLMTY0NjcwNDM1OTUVAgARGBI1Rj3NEYxMzAzMzQ5MkEA",
            Direction.OUTBOUND,
            1739230970,
            MessageContent("media_placeholder"),
            DeliveryStatus.PLAYED,
            rep_to_sheena,
        ),
        history(
            "wamid.N0FCNjMAHBgLMTY0NjcwNDM1OTUVAgARGBIyNDlBOEI5QUQ4NDc0",
            Direction.INBOUND,
            1739230970,
            MessageContent("text", text="Thanks!"),
            DeliveryStatus.READ,
            rep_to_sheena,
        ),
        history(
            "wamid.BIyNDlBOEI5N0FCNjMAHBgLMTY0NjcwNDM1OTUVAgARGQUQ4NDc0",
            Direction.OUTBOUND,
            1739230970,
            MessageContent(
                "text",
                text="Thanks for your order! As a thank you, use code THANKS30 to get 30% of your"
                " next order.",
            ),
            DeliveryStatus.DELIVERED,
            rep_to_second,
        ),
        history(
            "wamid.Q5MkEAHBgLMTY0NjcwNDM1OTUVAgARGBI1Rj3NEYxMzAzMzQ5",
            Direction.OUTBOUND,
            1739231012,
            MessageContent("text", text="Is the 40ft container still needed for March?"),
            DeliveryStatus.FAILED,
            rep_to_second,
        ),
        history(
            "wamid.MzQ5MkEAHBgLMTY0NjcwNDM1OTUVAgARGBI1Rj3NEYxMzAz",
            Direction.OUTBOUND,
            1739231100,
            MessageContent("text", text="Sending the proforma now"),
            None,
            rep_to_second,
        ),
    ]


def test_batch_of_two_entries_keeps_payload_order() -> None:
    second_number = BusinessNumber("301234567890123", "8613800138000", "209871234567890")
    kemal = CustomerRef("905321234567", name="Kemal Aydın")
    ana = CustomerRef("5511987654321", name="Ana Souza")
    first_outbound = "wamid.HBgLNjUwNTU1MTIzNBUCABIYFEM0OUI4Nzc0NTA0NjExRUMyREJDAA=="
    echo = {"direction": Direction.OUTBOUND, "source": MessageSource.ECHO}

    result = normalise(load("batch"))

    assert result.skipped == []
    assert result.events == [
        inbound(
            "wamid.HBgLNjUwNTU1MTIzNBUCABIYFEU3QUQ4OTJBMzg0NEQ3NjFCNUU5AA==",
            1750300000,
            MessageContent("text", text="What is your MOQ for the 500 ml bottle?"),
        ),
        inbound(
            "wamid.HBgLNjUwNTU1MTIzNBUCABIYFEM1QjE4RkQ5NjUxNzFCRTIzNjFDAA==",
            1750300004,
            MessageContent("text", text="Fiyat listesi alabilir miyim?"),
            customer=kemal,
        ),
        inbound(
            "wamid.HBgLNjUwNTU1MTIzNBUCABIYFDQ5MjZDREIzNjU4MTZDNzBFRjI0AA==",
            1750300009,
            MessageContent("image", mime_type="image/jpeg"),
        ),
        status(first_outbound, DeliveryStatus.DELIVERED, 1750300010),
        status(
            "wamid.HBgLNjUwNTU1MTIzNBUCABIYFDdENUY3QTk3N0M4QTk5Q0FGODEwAA==",
            DeliveryStatus.READ,
            1750300011,
            customer=CustomerRef("905321234567"),
        ),
        status(first_outbound, DeliveryStatus.READ, 1750300012),
        inbound(
            "wamid.HBgLNTExOTg3NjU0MzIxFQIAEhgURTAzMEZEOUUwRUJCNTA5MENFNEIA",
            1750300014,
            MessageContent("text", text="Pode mandar a cotação CIF Santos?"),
            customer=ana,
            number=second_number,
        ),
        status(
            "wamid.HBgLNTExOTg3NjU0MzIxFQIAEhgUNTZBMDQ5OURBNUFDMjNFODE4OTQA",
            DeliveryStatus.SENT,
            1750300013,
            customer=ana,
            number=second_number,
            pricing_category="service",
        ),
        MessageEvent(
            number=second_number,
            customer=CustomerRef("5511987654321"),
            message_id="wamid.HBgLNTExOTg3NjU0MzIxFQIAEhgUQUY3OUYzNzE3NjEyMjlGQzE5QTAA",
            timestamp=at(1750300020),
            content=MessageContent("text", text="Claro! Envio hoje."),
            **echo,
        ),
        MessageEvent(
            number=second_number,
            customer=CustomerRef("5511987654321"),
            message_id="wamid.HBgLNTExOTg3NjU0MzIxFQIAEhgUMURDNjcxN0NCNjU4RDhBMkIyNjIA",
            timestamp=at(1750300030),
            content=MessageContent(
                "document", filename="Cotacao_CIF_Santos.pdf", mime_type="application/pdf"
            ),
            **echo,
        ),
    ]


def test_message_and_value_errors_of_one_change_give_both_events() -> None:
    received = datetime(2023, 10, 11, 19, 7, 14, tzinfo=UTC)

    result = normalise(load("interactive_with_value_errors"), received_at=received)

    assert result.events == [
        inbound(
            "wamid.HBgMOTcyOTg3NjU0MzIxFQIAEhgUM0FEQkI2NjI2MjE3NEU5MEQ1NjMA",
            1697051234,
            MessageContent("interactive"),
            customer=CustomerRef("972987654321", name="Test Name"),
            number=PYWA_NUMBER,
        ),
        AccountEvent(
            kind=AccountEventKind.PLATFORM_ERROR,
            event="131000",
            timestamp=received,
            waba_id="1234567890987654321",
            phone_number_id="1122334455667",
            display_number="972123456789",
            detail={
                "code": 131000,
                "title": "Something went wrong",
                "details": "Unsupported webhook payload",
            },
        ),
    ]


def test_contact_sync_adds_name_from_full_or_first_name() -> None:
    assert normalise(load("state_sync_add")).events == [
        CustomerIdentityEvent(
            number=NUMBER,
            customer=CustomerRef("16505551234"),
            timestamp=at(1739321024),
            kind="contact_sync",
            name="Pablo Morales",
        ),
        CustomerIdentityEvent(
            number=NUMBER,
            customer=CustomerRef("905321234567"),
            timestamp=at(1739321025),
            kind="contact_sync",
            name="Mehmet",
        ),
    ]


# --- platform errors and their time -------------------------------------------------------

RATE_LIMIT_DETAIL = {
    "code": 130429,
    "title": "Rate limit hit",
    "details": "Message failed to send because there were too many messages sent from this"
    " phone number in a short period of time",
}


def rate_limit_error(timestamp: datetime) -> AccountEvent:
    """The event of the ``value_errors`` fixture, dated ``timestamp``."""
    return AccountEvent(
        kind=AccountEventKind.PLATFORM_ERROR,
        event="130429",
        timestamp=timestamp,
        waba_id=WABA_ID,
        phone_number_id="106540352242922",
        display_number="15550783881",
        detail=RATE_LIMIT_DETAIL,
    )


def test_platform_error_is_dated_by_entry_time_first() -> None:
    payload = edited(load("value_errors"), {"entry[0].time": 1750000000})
    received = datetime(2025, 6, 16, tzinfo=UTC)

    assert normalise(payload, received_at=received).events == [rate_limit_error(at(1750000000))]


def test_platform_error_is_dated_by_received_at_in_utc() -> None:
    received = datetime(2025, 6, 16, 9, 30, tzinfo=timezone(timedelta(hours=8)))

    events = normalise(load("value_errors"), received_at=received).events

    assert events == [rate_limit_error(datetime(2025, 6, 16, 1, 30, tzinfo=UTC))]
    assert events[0].timestamp.tzinfo is UTC


def test_platform_error_without_any_time_is_dated_now() -> None:
    before = datetime.now(UTC)
    events = normalise(load("value_errors")).events
    after = datetime.now(UTC)

    assert len(events) == 1
    assert isinstance(events[0], AccountEvent)
    assert before <= events[0].timestamp <= after
    assert events[0] == rate_limit_error(events[0].timestamp)


def test_platform_error_without_code_or_metadata() -> None:
    payload = envelope({"field": "messages", "value": {"errors": [{"title": "Oops"}]}})
    received = datetime(2025, 6, 16, tzinfo=UTC)

    assert normalise(payload, received_at=received).events == [
        AccountEvent(
            kind=AccountEventKind.PLATFORM_ERROR,
            event="unknown",
            timestamp=received,
            waba_id=WABA_ID,
            detail={"code": None, "title": "Oops", "details": None},
        )
    ]


def test_naive_received_at_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        normalise(load("value_errors"), received_at=datetime(2025, 6, 16))


# --- timestamps, phone numbers, customers -------------------------------------------------


@pytest.mark.parametrize(
    "timestamp",
    [
        pytest.param("1749416383", id="string"),
        pytest.param(1749416383, id="int"),
    ],
)
def test_timestamp_as_string_or_int(timestamp: object) -> None:
    payload = edited(load("text"), {f"{MESSAGE}.timestamp": timestamp})

    [event] = normalise(payload).events

    assert event.timestamp == datetime(2025, 6, 8, 20, 59, 43, tzinfo=UTC)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        pytest.param("16505551234", "16505551234", id="digits"),
        pytest.param("+16505551234", "16505551234", id="leading-plus"),
        pytest.param("+1 650-555-1234", "16505551234", id="spaces-and-dashes"),
        pytest.param("+1 (650) 555 1234", "16505551234", id="brackets"),
    ],
)
def test_echo_recipient_is_normalised_to_digits(raw: str, expected: str) -> None:
    payload = edited(load("echo_text"), {f"{VALUE}.message_echoes[0].to": raw})

    [event] = normalise(payload).events

    assert event.customer == CustomerRef(expected)


def test_contact_is_matched_by_wa_id_among_several() -> None:
    contacts = [
        {"profile": {"name": "Kemal Aydın"}, "wa_id": "905321234567"},
        {"profile": {"name": "Sheena Nelson"}, "wa_id": "+1 650 555 1234"},
    ]
    payload = edited(load("text"), {f"{VALUE}.contacts": contacts})

    [event] = normalise(payload).events

    assert event.customer == SHEENA


def test_contact_is_matched_by_user_id_among_several() -> None:
    contacts = [
        {"profile": {"name": "Someone Else"}, "user_id": "US.1"},
        {"profile": {"name": "Test Name"}, "wa_id": "972987654321", "user_id": PYWA_USER_ID},
    ]
    payload = edited(
        load("text_bsuid"), {f"{VALUE}.contacts": contacts, f"{MESSAGE}.from": DELETE}
    )

    [event] = normalise(payload).events

    assert event.customer == PYWA_CUSTOMER


def test_single_contact_names_a_message_whose_ids_differ() -> None:
    # Meta warns a user's wa_id and phone number may not match; the one contact is theirs.
    payload = edited(load("text"), {f"{VALUE}.contacts[0].wa_id": "16505550000"})

    [event] = normalise(payload).events

    assert event.customer == CustomerRef("16505551234", name="Sheena Nelson")


def test_no_matching_contact_among_several_leaves_the_name_unknown() -> None:
    contacts = [
        {"profile": {"name": "Kemal Aydın"}, "wa_id": "905321234567"},
        {"profile": {"name": "Ana Souza"}, "wa_id": "5511987654321"},
    ]
    payload = edited(load("text"), {f"{VALUE}.contacts": contacts})

    [event] = normalise(payload).events

    assert event.customer == SHEENA_UNNAMED


def test_customer_wa_id_can_come_from_the_contact_alone() -> None:
    payload = edited(load("text"), {f"{MESSAGE}.from": ""})

    [event] = normalise(payload).events

    assert event.customer == SHEENA


# --- content rules not held by a fixture --------------------------------------------------


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        pytest.param(
            {"type": "poll_creation", "poll_creation": {"name": "Which colour?"}},
            MessageContent("poll_creation"),
            id="future-type-keeps-its-name",
        ),
        pytest.param(
            {"type": "unknown", "errors": [{"code": 131051, "title": "Message type unknown"}]},
            MessageContent("unsupported", errors=(ErrorInfo(131051, "Message type unknown"),)),
            id="old-unknown-type-reads-as-unsupported",
        ),
        pytest.param(
            {
                "type": "image",
                "image": {"id": "1", "mime_type": "image/png"},
                "errors": [{"code": 131052, "message": "Media download error", "error_data": {}}],
            },
            MessageContent(
                "image", mime_type="image/png", errors=(ErrorInfo(131052, "Media download error"),)
            ),
            id="media-with-download-error",
        ),
        pytest.param(
            {"type": "order", "order": {"catalog_id": "1", "product_items": [{"quantity": 1}]}},
            MessageContent("order", text="order: 1 item"),
            id="order-of-one-item-without-note",
        ),
        pytest.param(
            {"type": "location", "location": {"name": "Port of Santos", "latitude": -23.9}},
            MessageContent("location", text="Port of Santos"),
            id="location-with-name-only",
        ),
        pytest.param(
            {"type": "interactive", "interactive": {"type": "call_permission_reply"}},
            MessageContent("interactive"),
            id="interactive-reply-without-text",
        ),
        pytest.param(
            {"type": "button", "button": {"payload": "YES_PLEASE"}},
            MessageContent("button", text="YES_PLEASE"),
            id="button-without-text-uses-payload",
        ),
        pytest.param(
            {"type": "text", "text": {"body": 42}, "context": {"forwarded": "yes"}},
            MessageContent("text"),
            id="descriptive-values-of-wrong-type-are-ignored",
        ),
    ],
)
def test_content_of_message(message: dict[str, Any], expected: MessageContent) -> None:
    base = {"from": "16505551234", "id": "wamid.X", "timestamp": "1749416383"}
    payload = envelope(messages_change(messages=[{**base, **message}]))

    [event] = normalise(payload).events

    assert isinstance(event, MessageEvent)
    assert event.content == expected


def test_unknown_keys_are_ignored_everywhere() -> None:
    payload = edited(
        load("text"),
        {
            "hub_version": "v24.0",
            "entry[0].region": "EU",
            "entry[0].changes[0].schema": 3,
            f"{VALUE}.messaging_product_version": "2",
            f"{VALUE}.metadata.quality_rating": "GREEN",
            f"{VALUE}.contacts[0].identity_key_hash": "DF2lS5v2W6x=",
            f"{MESSAGE}.group_id": None,
            f"{MESSAGE}.text.preview_url": True,
        },
    )

    assert normalise(payload) == normalise(load("text"))


# --- statuses -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("reported", "expected"),
    [
        pytest.param("sent", DeliveryStatus.SENT, id="sent"),
        pytest.param("DELIVERED", DeliveryStatus.DELIVERED, id="upper-case"),
        pytest.param("Read", DeliveryStatus.READ, id="mixed-case"),
        pytest.param("played", DeliveryStatus.PLAYED, id="played"),
        pytest.param("failed", DeliveryStatus.FAILED, id="failed"),
    ],
)
def test_status_value_is_read_case_blind(reported: str, expected: DeliveryStatus) -> None:
    payload = edited(load("status_sent_v24"), {f"{VALUE}.statuses[0].status": reported})

    [event] = normalise(payload).events

    assert isinstance(event, StatusEvent)
    assert event.status is expected


def test_unknown_status_value_is_skipped_with_a_note() -> None:
    payload = edited(load("status_sent_v24"), {f"{VALUE}.statuses[0].status": "deleted"})

    assert normalise(payload) == Normalised(
        events=[], skipped=[f"{VALUE}.statuses[0]: status 'deleted' not handled"]
    )


def test_status_for_a_user_id_only_recipient() -> None:
    payload = edited(
        load("status_sent_v24"),
        {
            f"{VALUE}.statuses[0].recipient_id": "",
            f"{VALUE}.statuses[0].recipient_user_id": "US.13491208655302741918",
        },
    )

    [event] = normalise(payload).events

    assert event.customer == CustomerRef(None, PYWA_USER_ID)


def test_a_thousand_statuses_in_one_value() -> None:
    statuses = [
        {
            "id": f"wamid.{index}",
            "status": "delivered",
            "timestamp": str(1750000000 + index),
            "recipient_id": "16505551234",
        }
        for index in range(1000)
    ]
    payload = envelope(messages_change(statuses=statuses))

    events = normalise(payload).events

    assert [event.message_id for event in events] == [f"wamid.{i}" for i in range(1000)]
    assert events[-1] == status("wamid.999", DeliveryStatus.DELIVERED, 1750000999)


# --- history ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("reported", "expected"),
    [
        pytest.param("SENT", DeliveryStatus.SENT, id="sent"),
        pytest.param("DELIVERED", DeliveryStatus.DELIVERED, id="delivered"),
        pytest.param("READ", DeliveryStatus.READ, id="read"),
        pytest.param("PLAYED", DeliveryStatus.PLAYED, id="played"),
        pytest.param("ERROR", DeliveryStatus.FAILED, id="error-is-failed"),
        pytest.param("PENDING", None, id="pending-is-none"),
        pytest.param("read", DeliveryStatus.READ, id="lower-case"),
        pytest.param("DELETED", None, id="unknown-is-none"),
        pytest.param(DELETE, None, id="absent"),
    ],
)
def test_history_status(reported: object, expected: DeliveryStatus | None) -> None:
    path = f"{VALUE}.history[0].threads[0].messages[0].history_context.status"
    payload = edited(load("history_threads"), {path: reported})

    first = normalise(payload).events[0]

    assert isinstance(first, MessageEvent)
    assert first.history_status is expected


def test_history_follow_up_from_the_rep_names_the_customer_by_to() -> None:
    payload = edited(
        load("history_media_followup"),
        {f"{MESSAGE}.from": "15550783881", f"{MESSAGE}.to": "+16505551234"},
    )

    [event] = normalise(payload).events

    assert isinstance(event, MessageEvent)
    assert (event.direction, event.customer) == (Direction.OUTBOUND, SHEENA_UNNAMED)


def test_history_follow_up_from_the_rep_names_the_customer_by_its_one_contact() -> None:
    contacts = [{"profile": {"name": "Sheena Nelson"}, "wa_id": "16505551234"}]
    payload = edited(
        load("history_media_followup"),
        {f"{MESSAGE}.from": "15550783881", f"{VALUE}.contacts": contacts},
    )

    [event] = normalise(payload).events

    assert isinstance(event, MessageEvent)
    assert (event.direction, event.customer) == (Direction.OUTBOUND, SHEENA)


def test_history_direction_compares_digits_of_the_business_number() -> None:
    payload = edited(
        load("history_threads"),
        {f"{VALUE}.metadata.display_phone_number": "+1 555-078-3881"},
    )

    events = normalise(payload).events
    directions = [event.direction for event in events if isinstance(event, MessageEvent)]

    assert (
        directions
        == [Direction.OUTBOUND, Direction.OUTBOUND, Direction.INBOUND] + [Direction.OUTBOUND] * 3
    )


# --- account-level kinds ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param(
            {"event": "DISABLED_UPDATE", "ban_info": {"waba_ban_state": "DISABLE"}},
            AccountEventKind.BAN,
            id="disabled",
        ),
        pytest.param(
            {"event": "DISABLED_UPDATE", "ban_info": {"waba_ban_state": "SCHEDULE_FOR_DISABLE"}},
            AccountEventKind.BAN_SCHEDULED,
            id="scheduled-for-disable",
        ),
        pytest.param(
            {"event": "DISABLED_UPDATE", "ban_info": {"waba_ban_state": "REINSTATE"}},
            AccountEventKind.REINSTATED,
            id="reinstated",
        ),
        pytest.param({"event": "DISABLED_UPDATE"}, AccountEventKind.OTHER, id="no-ban-info"),
        pytest.param({"event": "ACCOUNT_RESTRICTION"}, AccountEventKind.RESTRICTION, id="restr"),
        pytest.param({"event": "ACCOUNT_VIOLATION"}, AccountEventKind.VIOLATION, id="violation"),
        pytest.param({"event": "ACCOUNT_DELETED"}, AccountEventKind.OTHER, id="deleted"),
        pytest.param({"event": "PARTNER_REMOVED"}, AccountEventKind.OTHER, id="partner-removed"),
        pytest.param({"event": "MM_LITE_TERMS_SIGNED"}, AccountEventKind.OTHER, id="terms"),
    ],
)
def test_account_update_kind(value: dict[str, Any], expected: AccountEventKind) -> None:
    payload = envelope({"field": "account_update", "value": value}, time=1743451903)

    [event] = normalise(payload).events

    assert isinstance(event, AccountEvent)
    assert (event.kind, event.event) == (expected, value["event"])


@pytest.mark.parametrize(
    ("event_name", "expected"),
    [
        pytest.param("FLAGGED", AccountEventKind.QUALITY_FLAG, id="flagged"),
        pytest.param("UNFLAGGED", AccountEventKind.QUALITY_UNFLAG, id="unflagged"),
        pytest.param("DOWNGRADE", AccountEventKind.LIMIT_CHANGE, id="downgrade"),
        pytest.param("UPGRADE", AccountEventKind.LIMIT_CHANGE, id="upgrade"),
        pytest.param("THROUGHPUT_UPGRADE", AccountEventKind.LIMIT_CHANGE, id="throughput"),
        pytest.param("ONBOARDING", AccountEventKind.LIMIT_CHANGE, id="onboarding"),
        pytest.param("NAME_CHANGED", AccountEventKind.OTHER, id="unknown-event"),
    ],
)
def test_quality_update_kind(event_name: str, expected: AccountEventKind) -> None:
    value = {"display_phone_number": "15550783881", "event": event_name}
    payload = envelope({"field": "phone_number_quality_update", "value": value}, time=1748454394)

    [event] = normalise(payload).events

    assert isinstance(event, AccountEvent)
    assert (event.kind, event.event, event.display_number) == (
        expected,
        event_name,
        "15550783881",
    )


def test_account_event_detail_shares_nothing_with_the_payload() -> None:
    payload = load("account_restriction")

    [event] = normalise(payload).events
    payload["entry"][0]["changes"][0]["value"]["restriction_info"].clear()

    assert isinstance(event, AccountEvent)
    assert len(event.detail["restriction_info"]) == 2


# --- values with nothing to say -----------------------------------------------------------


@pytest.mark.parametrize(
    "change",
    [
        pytest.param(messages_change(), id="messages-without-lists"),
        pytest.param(
            messages_change(contacts=[{"profile": {"name": "Sheena"}, "wa_id": "1650"}]),
            id="messages-with-only-contacts",
        ),
        pytest.param({"field": "messages", "value": {}}, id="messages-empty-value"),
        pytest.param(
            {"field": "messages", "value": {"messages": [], "statuses": None}},
            id="messages-empty-lists-without-metadata",
        ),
        pytest.param({"field": "smb_message_echoes", "value": {}}, id="echoes-empty"),
        pytest.param({"field": "history", "value": {"history": []}}, id="history-empty"),
        pytest.param(
            {"field": "smb_app_state_sync", "value": {"state_sync": []}}, id="state-sync-empty"
        ),
    ],
)
def test_value_without_updates_gives_nothing(change: dict[str, Any]) -> None:
    assert normalise(envelope(change)) == Normalised(events=[], skipped=[])


def test_empty_entry_list_gives_nothing() -> None:
    payload = {"object": "whatsapp_business_account", "entry": []}

    assert normalise(payload) == Normalised(events=[], skipped=[])


def test_state_sync_of_another_type_is_skipped() -> None:
    payload = edited(load("state_sync_add"), {f"{VALUE}.state_sync[1].type": "label"})

    result = normalise(payload)

    assert len(result.events) == 1
    assert result.skipped == [f"{VALUE}.state_sync[1]: state sync of type 'label' not handled"]


def test_other_system_message_types_are_skipped_without_needing_ids() -> None:
    payload = edited(
        load("system_identity_changed"),
        {f"{MESSAGE}.from": DELETE, f"{MESSAGE}.id": DELETE},
    )

    assert normalise(payload).skipped == [
        f"{MESSAGE}: system message 'customer_identity_changed' not handled"
    ]


# --- parse_envelope -----------------------------------------------------------------------


def test_parse_envelope_returns_the_decoded_body() -> None:
    raw = (FIXTURES / "document_accented.json").read_bytes()

    assert parse_envelope(raw) == json.loads(raw)


def test_parse_envelope_accepts_a_body_of_exactly_the_limit() -> None:
    raw = b'{"object": "whatsapp_business_account", "entry": []}'
    padded = raw + b" " * (MAX_BODY_BYTES - len(raw))

    assert parse_envelope(padded) == {"object": "whatsapp_business_account", "entry": []}


def _body(entry: object) -> bytes:
    return json.dumps({"object": "whatsapp_business_account", "entry": entry}).encode()


@pytest.mark.parametrize(
    ("raw", "where", "reason"),
    [
        pytest.param(
            b" " * (MAX_BODY_BYTES + 1),
            "",
            f"body of {MAX_BODY_BYTES + 1} bytes is over the limit of {MAX_BODY_BYTES}",
            id="too-large",
        ),
        pytest.param(
            b'{"object": "\xff"}', "", "not UTF-8: invalid byte at offset 12", id="not-utf-8"
        ),
        pytest.param(
            b"{",
            "",
            "not JSON: Expecting property name enclosed in double quotes at line 1 column 2",
            id="not-json",
        ),
        pytest.param(b"", "", "not JSON: Expecting value at line 1 column 1", id="empty-body"),
        pytest.param(
            b"[" * 100_000, "", "not JSON kpibot can read: nested too deeply", id="too-deep"
        ),
        pytest.param(b"[]", "", "expected an object, got array", id="array"),
        pytest.param(b'"whatsapp"', "", "expected an object, got string", id="string"),
        pytest.param(
            b'{"entry": []}',
            "object",
            "expected 'whatsapp_business_account', missing",
            id="object-missing",
        ),
        pytest.param(
            b'{"object": "page", "entry": []}',
            "object",
            "expected 'whatsapp_business_account', got 'page'",
            id="object-other",
        ),
        pytest.param(
            b'{"object": "whatsapp_business_account"}', "entry", "missing", id="entry-missing"
        ),
        pytest.param(_body({}), "entry", "expected an array, got object", id="entry-object"),
        pytest.param(_body(None), "entry", "missing", id="entry-null"),
        pytest.param(_body([1]), "entry[0]", "expected an object, got number", id="entry-item"),
        pytest.param(_body([{"changes": []}]), "entry[0].id", "missing", id="entry-without-id"),
        pytest.param(
            _body([{"id": 102290129340398, "changes": []}]),
            "entry[0].id",
            "expected a string, got number",
            id="entry-id-number",
        ),
        pytest.param(_body([{"id": "1"}]), "entry[0].changes", "missing", id="changes-missing"),
        pytest.param(
            _body([{"id": "1", "changes": "messages"}]),
            "entry[0].changes",
            "expected an array, got string",
            id="changes-string",
        ),
        pytest.param(
            _body([{"id": "1", "changes": [[]]}]),
            "entry[0].changes[0]",
            "expected an object, got array",
            id="change-array",
        ),
        pytest.param(
            _body([{"id": "1", "changes": [{"value": {}}]}]),
            "entry[0].changes[0].field",
            "missing",
            id="field-missing",
        ),
        pytest.param(
            _body([{"id": "1", "changes": [{"field": 7, "value": {}}]}]),
            "entry[0].changes[0].field",
            "expected a string, got number",
            id="field-number",
        ),
        pytest.param(
            _body([{"id": "1", "changes": [{"field": "messages"}]}]),
            "entry[0].changes[0].value",
            "missing",
            id="value-missing",
        ),
        pytest.param(
            _body([{"id": "1", "changes": [{"field": "messages", "value": "hi"}]}]),
            "entry[0].changes[0].value",
            "expected an object, got string",
            id="value-string",
        ),
        pytest.param(
            _body(
                [
                    {"id": "1", "changes": [{"field": "messages", "value": {}}]},
                    {"id": "2", "changes": [{"field": "messages", "value": {}}, {"field": "x"}]},
                ]
            ),
            "entry[1].changes[1].value",
            "missing",
            id="second-entry-second-change",
        ),
    ],
)
def test_parse_envelope_refuses(raw: bytes, where: str, reason: str) -> None:
    with pytest.raises(PayloadError) as caught:
        parse_envelope(raw)

    assert (caught.value.where, caught.value.reason) == (where, reason)
    assert "\n" not in str(caught.value)


# --- normalise refusals -------------------------------------------------------------------

STATUS = f"{VALUE}.statuses[0]"
ECHO = f"{VALUE}.message_echoes[0]"
THREAD = f"{VALUE}.history[0].threads[0]"
SYNC = f"{VALUE}.state_sync[0]"
NO_CUSTOMER = "no customer: neither a wa_id nor a user_id"

# fmt: off
REFUSALS = [
    # messages
    pytest.param("text", {f"{VALUE}.messages": "hi"}, f"{VALUE}.messages",
                 "expected an array, got string", id="messages-not-a-list"),
    pytest.param("text", {MESSAGE: 7}, MESSAGE, "expected an object, got number",
                 id="message-not-an-object"),
    pytest.param("text", {f"{MESSAGE}.id": DELETE}, f"{MESSAGE}.id", "missing",
                 id="message-id-missing"),
    pytest.param("text", {f"{MESSAGE}.id": ""}, f"{MESSAGE}.id", "empty", id="message-id-empty"),
    pytest.param("text", {f"{MESSAGE}.type": DELETE}, f"{MESSAGE}.type", "missing",
                 id="message-type-missing"),
    pytest.param("text", {f"{MESSAGE}.type": ["text"]}, f"{MESSAGE}.type",
                 "expected a string, got array", id="message-type-array"),
    pytest.param("text", {f"{MESSAGE}.timestamp": "abc"}, f"{MESSAGE}.timestamp",
                 "not a unix time: 'abc'", id="timestamp-garbage"),
    pytest.param("text", {f"{MESSAGE}.timestamp": DELETE}, f"{MESSAGE}.timestamp", "missing",
                 id="timestamp-missing"),
    pytest.param("text", {f"{MESSAGE}.timestamp": -5}, f"{MESSAGE}.timestamp",
                 "not a unix time: -5", id="timestamp-negative"),
    pytest.param("text", {f"{MESSAGE}.timestamp": 1.7e9}, f"{MESSAGE}.timestamp",
                 "not a unix time: 1700000000.0", id="timestamp-float"),
    pytest.param("text", {f"{MESSAGE}.timestamp": True}, f"{MESSAGE}.timestamp",
                 "not a unix time: True", id="timestamp-boolean"),
    pytest.param("text", {f"{MESSAGE}.timestamp": " 1749416383"}, f"{MESSAGE}.timestamp",
                 "not a unix time: ' 1749416383'", id="timestamp-with-space"),
    pytest.param("text", {f"{MESSAGE}.timestamp": "9" * 60}, f"{MESSAGE}.timestamp",
                 f"not a unix time: '{'9' * 36}...", id="timestamp-huge"),
    pytest.param("text", {f"{MESSAGE}.timestamp": 10**15}, f"{MESSAGE}.timestamp",
                 "unix time out of range: 1000000000000000", id="timestamp-out-of-range"),
    pytest.param("text", {f"{VALUE}.metadata": DELETE}, f"{VALUE}.metadata", "missing",
                 id="metadata-missing"),
    pytest.param("text", {f"{VALUE}.metadata": []}, f"{VALUE}.metadata",
                 "expected an object, got array", id="metadata-array"),
    pytest.param("text", {f"{VALUE}.metadata.phone_number_id": DELETE},
                 f"{VALUE}.metadata.phone_number_id", "missing", id="phone-number-id-missing"),
    pytest.param("text", {f"{MESSAGE}.from": DELETE, f"{VALUE}.contacts": DELETE}, MESSAGE,
                 NO_CUSTOMER, id="message-without-customer"),
    pytest.param("text", {f"{MESSAGE}.from": 16505551234}, f"{MESSAGE}.from",
                 "expected a string, got number", id="message-from-number"),
    pytest.param("text", {f"{VALUE}.contacts": {}}, f"{VALUE}.contacts",
                 "expected an array, got object", id="contacts-object"),
    pytest.param("text", {f"{VALUE}.contacts[0]": "Sheena"}, f"{VALUE}.contacts[0]",
                 "expected an object, got string", id="contact-string"),
    pytest.param("text", {f"{VALUE}.contacts[0].profile": "Sheena"},
                 f"{VALUE}.contacts[0].profile", "expected an object, got string",
                 id="contact-profile-string"),
    pytest.param("text", {f"{MESSAGE}.text": "hi"}, f"{MESSAGE}.text",
                 "expected an object, got string", id="text-not-an-object"),
    pytest.param("text_reply_context", {f"{MESSAGE}.context": "wamid"}, f"{MESSAGE}.context",
                 "expected an object, got string", id="context-not-an-object"),
    pytest.param("unsupported_errors", {f"{MESSAGE}.errors": {"code": 1}}, f"{MESSAGE}.errors",
                 "expected an array, got object", id="message-errors-not-a-list"),
    pytest.param("contacts_shared", {f"{MESSAGE}.contacts[1]": "Ana"}, f"{MESSAGE}.contacts[1]",
                 "expected an object, got string", id="shared-contact-card-string"),
    pytest.param("edit_inbound", {f"{MESSAGE}.edit.message.type": DELETE},
                 f"{MESSAGE}.edit.message.type", "missing", id="edit-content-without-type"),
    pytest.param("edit_inbound", {f"{MESSAGE}.edit": DELETE},
                 f"{MESSAGE}.edit.original_message_id", "missing", id="edit-object-missing"),
    pytest.param("revoke_inbound", {f"{MESSAGE}.revoke.original_message_id": DELETE},
                 f"{MESSAGE}.revoke.original_message_id", "missing", id="revoke-without-id"),
    pytest.param("system_user_changed_number", {f"{MESSAGE}.system.wa_id": DELETE},
                 f"{MESSAGE}.system.wa_id", "missing", id="number-change-without-new-number"),
    pytest.param("system_user_changed_user_id", {f"{MESSAGE}.system.user_id": ""},
                 f"{MESSAGE}.system.user_id", "empty", id="user-id-change-without-new-id"),
    pytest.param("system_user_changed_number", {f"{MESSAGE}.system.type": ["x"]},
                 f"{MESSAGE}.system.type", "expected a string, got array",
                 id="system-type-array"),
    pytest.param("system_identity_changed", {f"{MESSAGE}.system": DELETE},
                 f"{MESSAGE}.system.type", "missing", id="system-without-type"),
    pytest.param("system_user_changed_number", {f"{MESSAGE}.from": DELETE}, MESSAGE,
                 NO_CUSTOMER, id="number-change-without-customer"),
    # statuses
    pytest.param("status_sent_v24", {f"{VALUE}.statuses": {}}, f"{VALUE}.statuses",
                 "expected an array, got object", id="statuses-not-a-list"),
    pytest.param("status_sent_v24", {f"{STATUS}.id": DELETE}, f"{STATUS}.id", "missing",
                 id="status-id-missing"),
    pytest.param("status_sent_v24", {f"{STATUS}.status": DELETE}, f"{STATUS}.status",
                 "missing", id="status-value-missing"),
    pytest.param("status_sent_v24", {f"{STATUS}.recipient_id": DELETE}, STATUS, NO_CUSTOMER,
                 id="status-without-recipient"),
    pytest.param("status_sent_v24", {f"{STATUS}.timestamp": "yesterday"},
                 f"{STATUS}.timestamp", "not a unix time: 'yesterday'", id="status-timestamp"),
    pytest.param("status_sent_marketing", {f"{STATUS}.pricing": "marketing"},
                 f"{STATUS}.pricing", "expected an object, got string", id="pricing-string"),
    pytest.param("status_sent_marketing", {f"{STATUS}.conversation.origin": []},
                 f"{STATUS}.conversation.origin", "expected an object, got array",
                 id="conversation-origin-array"),
    pytest.param("status_failed", {f"{STATUS}.errors[0]": 131049}, f"{STATUS}.errors[0]",
                 "expected an object, got number", id="status-error-number"),
    pytest.param("status_sent_v24", {f"{VALUE}.metadata": DELETE}, f"{VALUE}.metadata",
                 "missing", id="status-without-metadata"),
    # value.errors
    pytest.param("value_errors", {f"{VALUE}.errors": "Rate limit hit"}, f"{VALUE}.errors",
                 "expected an array, got string", id="value-errors-string"),
    pytest.param("value_errors", {"entry[0].time": "soon"}, "entry[0].time",
                 "not a unix time: 'soon'", id="value-errors-bad-entry-time"),
    # echoes
    pytest.param("echo_text", {f"{VALUE}.message_echoes": "x"}, f"{VALUE}.message_echoes",
                 "expected an array, got string", id="echoes-not-a-list"),
    pytest.param("echo_text", {f"{ECHO}.to": DELETE}, ECHO, NO_CUSTOMER,
                 id="echo-without-recipient"),
    pytest.param("echo_text", {f"{ECHO}.to": "+ -"}, ECHO, NO_CUSTOMER,
                 id="echo-recipient-without-digits"),
    pytest.param("echo_text", {f"{VALUE}.metadata": DELETE}, f"{VALUE}.metadata", "missing",
                 id="echo-without-metadata"),
    pytest.param("echo_edit", {f"{ECHO}.edit.message": DELETE}, f"{ECHO}.edit.message",
                 "missing", id="echo-edit-without-content"),
    pytest.param("echo_edit", {f"{ECHO}.edit.original_message_id": DELETE},
                 f"{ECHO}.edit.original_message_id", "missing", id="echo-edit-without-original"),
    pytest.param("echo_revoke", {f"{ECHO}.timestamp": 1.5}, f"{ECHO}.timestamp",
                 "not a unix time: 1.5", id="echo-revoke-float-timestamp"),
    # history
    pytest.param("history_threads", {f"{VALUE}.history": {}}, f"{VALUE}.history",
                 "expected an array, got object", id="history-not-a-list"),
    pytest.param("history_threads", {f"{VALUE}.metadata.display_phone_number": DELETE},
                 f"{VALUE}.metadata.display_phone_number",
                 "missing: history needs it to tell the rep's messages from the customer's",
                 id="history-without-display-number"),
    pytest.param("history_threads", {f"{VALUE}.metadata": DELETE}, f"{VALUE}.metadata",
                 "missing", id="history-without-metadata"),
    pytest.param("history_threads", {f"{THREAD}.id": DELETE}, f"{THREAD}.id", "missing",
                 id="thread-without-id"),
    pytest.param("history_threads", {f"{THREAD}.messages": "x"}, f"{THREAD}.messages",
                 "expected an array, got string", id="thread-messages-not-a-list"),
    pytest.param("history_threads", {f"{THREAD}.messages[1].from": DELETE},
                 f"{THREAD}.messages[1].from", "missing", id="history-message-without-from"),
    pytest.param("history_threads", {f"{THREAD}.messages[2].timestamp": "x"},
                 f"{THREAD}.messages[2].timestamp", "not a unix time: 'x'",
                 id="history-message-timestamp"),
    pytest.param("history_media_followup", {f"{MESSAGE}.from": "15550783881"}, MESSAGE,
                 "no customer: an outbound history message without a thread needs `to` or one"
                 " contact", id="follow-up-from-rep-without-customer"),
    pytest.param("history_sharing_declined", {f"{VALUE}.metadata": DELETE},
                 f"{VALUE}.metadata", "missing", id="sharing-declined-without-metadata"),
    # state sync
    pytest.param("state_sync_add", {f"{SYNC}.contact.phone_number": DELETE},
                 f"{SYNC}.contact.phone_number", "missing", id="contact-without-phone"),
    pytest.param("state_sync_add", {f"{SYNC}.contact.phone_number": "+"},
                 f"{SYNC}.contact.phone_number", "empty", id="contact-phone-only-plus"),
    pytest.param("state_sync_add", {f"{SYNC}.metadata.timestamp": DELETE},
                 f"{SYNC}.metadata.timestamp", "missing", id="contact-without-timestamp"),
    pytest.param("state_sync_add", {f"{VALUE}.metadata": DELETE}, f"{VALUE}.metadata",
                 "missing", id="state-sync-without-metadata"),
    pytest.param("state_sync_add", {f"{SYNC}.type": DELETE}, f"{SYNC}.type", "missing",
                 id="sync-item-without-type"),
    pytest.param("state_sync_remove", {f"{SYNC}.action": 1}, f"{SYNC}.action",
                 "expected a string, got number", id="contact-sync-action-number"),
    pytest.param("state_sync_add", {f"{VALUE}.state_sync[1]": None},
                 f"{VALUE}.state_sync[1]", "expected an object, got null", id="sync-item-null"),
    # account level
    pytest.param("account_violation", {"entry[0].time": DELETE}, "entry[0].time",
                 "missing: account-level fields are dated by it", id="account-without-time"),
    pytest.param("account_violation", {"entry[0].time": "soon"}, "entry[0].time",
                 "not a unix time: 'soon'", id="account-time-garbage"),
    pytest.param("account_violation", {f"{VALUE}.event": DELETE}, f"{VALUE}.event", "missing",
                 id="account-without-event"),
    pytest.param("account_disabled", {f"{VALUE}.ban_info": "DISABLE"}, f"{VALUE}.ban_info",
                 "expected an object, got string", id="ban-info-string"),
    pytest.param("quality_flagged", {"entry[0].time": DELETE}, "entry[0].time",
                 "missing: account-level fields are dated by it", id="quality-without-time"),
    pytest.param("quality_flagged", {f"{VALUE}.event": 3}, f"{VALUE}.event",
                 "expected a string, got number", id="quality-event-number"),
    pytest.param("quality_flagged", {f"{VALUE}.display_phone_number": 16505551111},
                 f"{VALUE}.display_phone_number", "expected a string, got number",
                 id="quality-display-number-number"),
    # batches: the path names the entry and change
    pytest.param("batch", {"entry[1].changes[0].value.messages[0].timestamp": "later"},
                 "entry[1].changes[0].value.messages[0].timestamp", "not a unix time: 'later'",
                 id="batch-second-entry-message"),
    pytest.param("batch", {"entry[1].changes[1].value.message_echoes[1].id": DELETE},
                 "entry[1].changes[1].value.message_echoes[1].id", "missing",
                 id="batch-second-entry-echo"),
    pytest.param("batch", {"entry[0].changes[1].value.statuses[2]": []},
                 "entry[0].changes[1].value.statuses[2]", "expected an object, got array",
                 id="batch-first-entry-third-status"),
    # the envelope is checked again
    pytest.param("text", {"object": "instagram"}, "object",
                 "expected 'whatsapp_business_account', got 'instagram'", id="envelope-object"),
    pytest.param("text", {"entry[0].changes[0].value": None}, "entry[0].changes[0].value",
                 "missing", id="envelope-value"),
]
# fmt: on


@pytest.mark.parametrize(("name", "edits", "where", "reason"), REFUSALS)
def test_normalise_refuses(name: str, edits: dict[str, object], where: str, reason: str) -> None:
    payload = edited(load(name), edits)

    with pytest.raises(PayloadError) as caught:
        normalise(payload)

    assert (caught.value.where, caught.value.reason) == (where, reason)
    assert str(caught.value) == f"{where}: {reason}"


# --- logs and notes -----------------------------------------------------------------------


def _private_values(events: list[DomainEvent]) -> set[str]:
    """Customer phone numbers and message texts: what a log line must never hold."""
    private: set[str] = set()
    for event in events:
        customer = getattr(event, "customer", None)
        if customer is not None and customer.wa_id:
            private.add(customer.wa_id)
        content = getattr(event, "content", None)
        if content is not None:
            private |= {
                value for value in (content.text, content.caption, content.filename) if value
            }
        if isinstance(event, CustomerIdentityEvent) and event.new_wa_id:
            private.add(event.new_wa_id)
    return private


def test_logs_and_notes_hold_no_message_text_or_phone_number(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="bot.ingest.whatsapp")
    received = datetime(2025, 6, 16, tzinfo=UTC)
    results = [normalise(load(name), received_at=received) for name in fixture_names()]

    private = set().union(*(_private_values(result.events) for result in results))
    notes = [note for result in results for note in result.skipped]

    assert private  # the fixtures do hold numbers and texts to leak
    assert caplog.records
    for text in [*caplog.messages, *notes]:
        leaked = [value for value in private if value in text]
        assert leaked == [], text


def test_skipped_update_is_logged_at_debug(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="bot.ingest.whatsapp")

    normalise(load("template_status_update"))

    assert (
        "bot.ingest.whatsapp",
        logging.DEBUG,
        "webhook update skipped: entry[0].changes[0]: field 'message_template_status_update'"
        " not handled",
    ) in caplog.record_tuples


def test_normalised_is_immutable() -> None:
    result = normalise(load("text"))

    with pytest.raises(dataclasses.FrozenInstanceError):
        result.events = []  # type: ignore[misc]
