"""The OpenAPI 3.1 description of the events API, served at ``/api/v1/openapi.json``.

Kept as Python so it ships with the package and its limits come from the code that
enforces them. Every example in it is checked by the tests against the validator.
"""

from __future__ import annotations

import copy
import logging
from typing import Any

from bot.ingest.events_api import (
    MAX_BODY_BYTES,
    MAX_EVENTS,
    MAX_ID_CHARS,
    MAX_NOTE_CHARS,
    MAX_REP_CHARS,
    TEMPLATE_CATEGORIES,
)

logger = logging.getLogger(__name__)

_REF = "#/components/schemas/"

_MAX_BODY = f"{MAX_BODY_BYTES // (1024 * 1024)} MB"


def _ref(name: str) -> dict[str, str]:
    return {"$ref": _REF + name}


_CUSTOMER = {
    "type": "object",
    "description": "A customer by WhatsApp number: `wa_id` or `phone` (one is enough).",
    "properties": {
        "wa_id": {
            "type": "string",
            "description": "Digits of the WhatsApp number; `+` and spaces are allowed.",
            "examples": ["8613812345678"],
        },
        "phone": {"type": "string", "description": "Another name for `wa_id`."},
        "name": {"type": "string", "maxLength": 256},
    },
    "additionalProperties": False,
}

_TIMESTAMP = {
    "description": "ISO-8601 with a zone (`2026-12-01T09:30:00+08:00`), or unix seconds.",
    "oneOf": [{"type": "string"}, {"type": "number", "minimum": 0}],
}

_COMMON = {
    "id": {
        "type": "string",
        "minLength": 1,
        "maxLength": MAX_ID_CHARS,
        "description": "Your idempotency key, unique across all your events: "
        "an event sent again with the same id is stored once.",
    },
    "timestamp": _TIMESTAMP,
}

_REP = {
    "type": "string",
    "maxLength": MAX_REP_CHARS,
    "description": "A rep's name as registered in kpibot (case-insensitive).",
}
_NOTE = {"type": "string", "maxLength": MAX_NOTE_CHARS}


def _event(
    kind: str,
    description: str,
    properties: dict[str, Any],
    required: list[str],
    example: dict[str, Any],
) -> dict[str, Any]:
    return {
        "type": "object",
        "description": description,
        "properties": {"type": {"const": kind}, **_COMMON, **properties},
        "required": ["id", "type", "timestamp", *required],
        "additionalProperties": False,
        "examples": [{"id": f"{kind}-1001", "type": kind, **example}],
    }


_BUSINESS_SIDE = {
    "rep": {**_REP, "description": "The rep whose WhatsApp it went through."},
    "phone_number_id": {
        "type": "string",
        "maxLength": 64,
        "description": "Or: the Cloud API phone number id it went through. Give one of the two.",
    },
    "customer": _ref("Customer"),
}

_EVENTS: dict[str, dict[str, Any]] = {
    "MessageEvent": _event(
        "message",
        "A message between a rep and a customer. Stored with the id `api:<id>`.",
        {
            **_BUSINESS_SIDE,
            "direction": {"enum": ["inbound", "outbound"]},
            "message_type": {"type": "string", "default": "text", "examples": ["image"]},
            "text": {"type": "string", "description": "The body, or a media caption."},
            "filename": {"type": "string", "maxLength": 512},
            "automated": {
                "type": "boolean",
                "default": False,
                "description": "Sent by a bot or an auto-reply (outbound only).",
            },
            "template_category": {"enum": list(TEMPLATE_CATEGORIES)},
        },
        ["direction", "customer"],
        {
            "timestamp": "2026-12-01T09:30:00+08:00",
            "rep": "Li Wei",
            "direction": "outbound",
            "customer": {"wa_id": "+86 138 1234 5678", "name": "Wang Wei"},
            "text": "Price list attached",
        },
    ),
    "StatusEvent": _event(
        "status",
        "A delivery status of an outbound message sent earlier through this API.",
        {
            **_BUSINESS_SIDE,
            "message_id": {
                "type": "string",
                "maxLength": MAX_ID_CHARS,
                "description": "The `id` of the message event it is about.",
            },
            "status": {"enum": ["sent", "delivered", "read", "played", "failed"]},
        },
        ["message_id", "status", "customer"],
        {
            "timestamp": 1764553800,
            "rep": "Li Wei",
            "customer": {"wa_id": "8613812345678"},
            "message_id": "message-1001",
            "status": "read",
        },
    ),
    **{
        f"{kind.capitalize()}Event": _event(
            kind,
            f"A tag {'put on' if kind == 'tag' else 'taken off'} a customer.",
            {"customer": _ref("Customer"), "tag": {"type": "string"}, "rep": _REP},
            ["customer", "tag"],
            {
                "timestamp": "2026-12-01T01:30:00Z",
                "customer": {"wa_id": "8613812345678"},
                "tag": "high-intent",
            },
        )
        for kind in ("tag", "untag")
    },
    **{
        f"{kind.capitalize()}Event": _event(
            kind,
            f"A {kind} recorded about a customer. Without `rep` it goes to the customer's "
            "assigned rep, else to the rep the customer last talked to.",
            {"customer": _ref("Customer"), "rep": _REP, "note": _NOTE},
            ["customer"],
            {
                "timestamp": "2026-12-01T01:30:00Z",
                "customer": {"wa_id": "8613812345678"},
                "rep": "Li Wei",
                "note": "FOB Ningbo",
            },
        )
        for kind in ("quote", "sample", "complaint")
    },
    "DealEvent": _event(
        "deal",
        "A closed deal.",
        {
            "customer": _ref("Customer"),
            "amount": {
                "description": "Positive, at most 4 decimal places; a string keeps it exact.",
                "oneOf": [{"type": "string"}, {"type": "number", "exclusiveMinimum": 0}],
            },
            "currency": {"type": "string", "pattern": "^[A-Za-z]{3}$"},
            "margin": {
                "type": "number",
                "minimum": -1,
                "maximum": 1,
                "description": "Gross margin as a fraction: 0.18 is 18 %.",
            },
            "rep": _REP,
            "referred_by": {**_ref("Customer"), "description": "The customer who referred."},
            "note": _NOTE,
        },
        ["customer", "amount", "currency"],
        {
            "timestamp": "2026-12-03T08:00:00Z",
            "customer": {"wa_id": "8613812345678"},
            "amount": "12500.00",
            "currency": "USD",
            "margin": 0.18,
            "rep": "Li Wei",
            "referred_by": {"wa_id": "34612345678"},
        },
    ),
    "AssignmentEvent": _event(
        "assignment",
        "From now on, records about the customer that name no rep go to this rep.",
        {"customer": _ref("Customer"), "rep": _REP},
        ["customer", "rep"],
        {
            "timestamp": "2026-12-01T00:00:00Z",
            "customer": {"wa_id": "8613812345678"},
            "rep": "Ana",
        },
    ),
}

_RESULT = {
    "type": "object",
    "properties": {
        "accepted": {"type": "integer", "description": "Events stored now."},
        "duplicates": {"type": "integer", "description": "Events already stored (same id)."},
        "rejected": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "index": {"type": "integer"},
                    "id": {"type": ["string", "null"]},
                    "reason": {
                        "type": "string",
                        "examples": [
                            "events[3].timestamp: not an ISO-8601 time with a zone "
                            "or unix seconds: 'yesterday'"
                        ],
                    },
                },
                "required": ["index", "id", "reason"],
            },
        },
    },
    "required": ["accepted", "duplicates", "rejected"],
}

_ERROR = {
    "type": "object",
    "properties": {"error": {"type": "string"}},
    "required": ["error"],
}


def _error_response(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": _ref("Error")}},
    }


_DOCUMENT: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {
        "title": "kpibot events API",
        "version": "1",
        "description": "Send kpibot the messages, statuses, tags, quotes, samples, "
        "complaints, deals and assignments your SCRM tool or CRM knows about.",
    },
    "paths": {
        "/api/v1/events": {
            "post": {
                "operationId": "postEvents",
                "summary": f"Store up to {MAX_EVENTS} events ({_MAX_BODY} at most).",
                "description": "Each event is checked on its own; the valid ones are stored "
                "together and the others come back with the reason.",
                "security": [{"bearer": []}],
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": _ref("EventBatch"),
                            "examples": {
                                "mixed": {
                                    "summary": "A message, a quote and a deal",
                                    "value": {
                                        "events": [
                                            _EVENTS["MessageEvent"]["examples"][0],
                                            _EVENTS["QuoteEvent"]["examples"][0],
                                            _EVENTS["DealEvent"]["examples"][0],
                                        ]
                                    },
                                }
                            },
                        }
                    },
                },
                "responses": {
                    "200": {
                        "description": "At least one event was stored or already there.",
                        "content": {"application/json": {"schema": _ref("BatchResult")}},
                    },
                    "400": _error_response("The body is not a JSON object with `events`."),
                    "401": _error_response("The bearer token is missing or wrong."),
                    "413": _error_response(f"Over {_MAX_BODY} or over {MAX_EVENTS} events."),
                    "422": {
                        "description": "Every event was rejected; nothing was stored.",
                        "content": {"application/json": {"schema": _ref("BatchResult")}},
                    },
                    "503": _error_response("The API is off (no token) or the store is down."),
                },
            }
        },
    },
    "components": {
        "securitySchemes": {
            "bearer": {
                "type": "http",
                "scheme": "bearer",
                "description": "The value of KPIBOT_API_TOKEN.",
            }
        },
        "schemas": {
            "Customer": _CUSTOMER,
            **_EVENTS,
            "Event": {
                "oneOf": [_ref(name) for name in _EVENTS],
                "discriminator": {
                    "propertyName": "type",
                    "mapping": {
                        schema["properties"]["type"]["const"]: _REF + name
                        for name, schema in _EVENTS.items()
                    },
                },
            },
            "EventBatch": {
                "type": "object",
                "properties": {
                    "events": {
                        "type": "array",
                        "items": _ref("Event"),
                        "minItems": 1,
                        "maxItems": MAX_EVENTS,
                    }
                },
                "required": ["events"],
            },
            "BatchResult": _RESULT,
            "Error": _ERROR,
        },
    },
}


def openapi_document() -> dict[str, Any]:
    """The OpenAPI 3.1 document, a fresh copy the caller may change."""
    return copy.deepcopy(_DOCUMENT)


def examples() -> list[dict[str, Any]]:
    """Every example event in the document: each type's own, and the request's."""
    found = [schema["examples"][0] for schema in _EVENTS.values()]
    request = _DOCUMENT["paths"]["/api/v1/events"]["post"]["requestBody"]
    for example in request["content"]["application/json"]["examples"].values():
        found.extend(example["value"]["events"])
    return copy.deepcopy(found)
