"""The events API: SCRM tools and CRMs post normalised events, kpibot stores them.

``POST /api/v1/events`` takes ``{"events": [...]}`` with ``Authorization: Bearer
<KPIBOT_API_TOKEN>``. Each event is checked on its own; the valid ones are stored in one
transaction and the others come back with the reason, so one bad event never costs the
client the rest of its batch. Sending a batch again is safe: an event whose id is
already stored counts as a duplicate. ``GET /api/v1/openapi.json`` describes it all.

:func:`store_events` is the step both this API and ``kpibot import events`` end in.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from aiohttp import web
from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session

from bot.errors import NotFoundError, StorageError
from bot.ingest.events_api import (
    MAX_BODY_BYTES,
    MAX_EVENTS,
    ApiEvent,
    Assignment,
    EventError,
    event_id_of,
    validate_event,
)
from bot.web.events_openapi import openapi_document
from storage.db import session_factory, session_scope
from storage.ingest import apply_events
from storage.records import RecordError, apply_record, assign_customer, rep_api_number

logger = logging.getLogger(__name__)

EVENTS_PATH = "/api/v1/events"
OPENAPI_PATH = "/api/v1/openapi.json"
_READ_CHUNK = 64 * 1024


@dataclass(frozen=True, slots=True)
class Rejection:
    """An event that was not stored: where it was in its batch, its id, and why."""

    index: int
    id: str | None
    error: EventError


@dataclass
class StoreResult:
    """What storing a batch of events did."""

    accepted: int = 0
    duplicates: int = 0
    rejected: list[Rejection] = field(default_factory=list)

    def add(self, other: StoreResult) -> None:
        """Add another batch's outcome to this one."""
        self.accepted += other.accepted
        self.duplicates += other.duplicates
        self.rejected.extend(other.rejected)


def store_events(session: Session, events: Iterable[tuple[int, ApiEvent]]) -> StoreResult:
    """Store valid events inside the caller's transaction, each one all or nothing.

    Each event runs in a savepoint, so an event the store refuses (a rep that does not
    exist) is rolled back alone and reported, and the others still commit together.

    Args:
        session: the open session; the caller commits.
        events: (index in the batch, event) pairs, as :func:`validate_event` made them.

    Returns:
        How many were stored, how many were already there, and the refused ones.

    Raises:
        sqlalchemy.exc.SQLAlchemyError: the database failed for a reason other than
            this event's content.
    """
    result = StoreResult()
    for index, event in events:
        try:
            with session.begin_nested():
                created = _store_one(session, event)
        except EventError as exc:
            result.rejected.append(Rejection(index, event.id, exc))
            continue
        if created:
            result.accepted += 1
        else:
            result.duplicates += 1
    return result


def _store_one(session: Session, event: ApiEvent) -> bool:
    """Apply one event; True when it stored something new."""
    try:
        if event.stream:
            return _store_stream(session, event)
        if isinstance(event.record, Assignment):
            record = event.record
            return assign_customer(session, record.customer, record.rep, record.timestamp).created
        assert event.record is not None
        return apply_record(session, event.record).created
    except NotFoundError:
        raise EventError("rep", f"no rep called {event.rep!r}") from None
    except RecordError as exc:
        raise EventError("", str(exc)) from None
    except IntegrityError:
        # Another request stored a row with the same key between our check and insert.
        raise EventError(
            "id", "stored by another request at the same time; send it again"
        ) from None


def _store_stream(session: Session, event: ApiEvent) -> bool:
    stream: Sequence[Any] = event.stream
    if event.via_rep is not None:
        number = rep_api_number(session, event.via_rep)
        stream = [replace(item, number=number) for item in stream]
    stats = apply_events(session, stream)
    if event.type == "message":
        return stats.messages_new > 0
    # TODO(status-keys): statuses leave no trace of their own id, so a repeated status
    # counts as accepted; it changes nothing, as every step keeps its earliest time.
    return True


@dataclass(frozen=True, slots=True)
class _Batch:
    """A request's events, checked: the valid ones with their index, and the rest."""

    valid: list[tuple[int, ApiEvent]]
    rejected: list[Rejection]


def _check_events(items: Sequence[object]) -> _Batch:
    valid: list[tuple[int, ApiEvent]] = []
    rejected: list[Rejection] = []
    for index, item in enumerate(items):
        try:
            valid.append((index, validate_event(item)))
        except EventError as exc:
            rejected.append(Rejection(index, event_id_of(item), exc))
    return _Batch(valid, rejected)


class EventsApi:
    """The events API's routes, bound to the store and the API token."""

    def __init__(
        self,
        engine: Engine,
        api_token: str | None,
        *,
        gate: threading.Lock | None = None,
        max_body_bytes: int = MAX_BODY_BYTES,
    ) -> None:
        self._sessions = session_factory(engine)
        self._token = api_token.encode() if api_token else None
        self._gate = gate
        self._max_body_bytes = max_body_bytes

    def routes(self) -> list[web.RouteDef]:
        """The routes to add to the application."""
        return [web.post(EVENTS_PATH, self.receive), web.get(OPENAPI_PATH, self.openapi)]

    async def openapi(self, _request: web.Request) -> web.Response:
        """Serve the OpenAPI description of the events API."""
        return web.json_response(openapi_document())

    async def receive(self, request: web.Request) -> web.Response:
        """Check, store and report a batch of events."""
        if self._token is None:
            logger.warning("events api request refused: KPIBOT_API_TOKEN is not set")
            return _error(503, "the events API is off: set KPIBOT_API_TOKEN")
        problem = self._auth_problem(request.headers.get("Authorization"))
        if problem:
            return _reject(401, problem, headers={"WWW-Authenticate": "Bearer"})

        body = await self._read_body(request)
        if isinstance(body, web.Response):
            return body
        items = _events_of(body)
        if isinstance(items, web.Response):
            return items

        batch = _check_events(items)
        try:
            stored = await asyncio.to_thread(self._store, batch.valid)
        except (StorageError, OperationalError) as exc:
            logger.error("events api batch not stored: %s", exc)
            return _error(503, "storage unavailable, retry later")
        stored.rejected[:0] = batch.rejected
        return _report(stored)

    def _auth_problem(self, header: str | None) -> str | None:
        assert self._token is not None
        if not header:
            return "missing Authorization: Bearer <token> header"
        scheme, _, token = header.strip().partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return "Authorization must be Bearer <token>"
        # Compared as bytes in constant time: a timing difference would leak the token.
        if not hmac.compare_digest(self._token, token.strip().encode("utf-8", "replace")):
            return "wrong API token"
        return None

    async def _read_body(self, request: web.Request) -> Any:
        limit = self._max_body_bytes
        if request.content_length is not None and request.content_length > limit:
            return _reject(413, f"body of {request.content_length} bytes is over {limit}")
        # Read the stream ourselves: the application's client_max_size is the webhook's.
        chunks: list[bytes] = []
        size = 0
        async for chunk in request.content.iter_chunked(_READ_CHUNK):
            size += len(chunk)
            if size > limit:
                return _reject(413, f"body is over {limit} bytes")
            chunks.append(chunk)
        try:
            return json.loads(b"".join(chunks))
        except (UnicodeDecodeError, ValueError) as exc:
            return _reject(400, f"body is not UTF-8 JSON: {exc}")

    def _store(self, valid: list[tuple[int, ApiEvent]]) -> StoreResult:
        if not valid:
            return StoreResult()
        with (
            self._gate if self._gate is not None else contextlib.nullcontext(),
            session_scope(self._sessions) as session,
        ):
            return store_events(session, valid)


def _events_of(body: object) -> Sequence[object] | web.Response:
    if not isinstance(body, dict):
        return _reject(400, 'body must be a JSON object: {"events": [...]}')
    items = body.get("events")
    if not isinstance(items, list):
        return _reject(400, 'events: missing or not an array; send {"events": [...]}')
    if not items:
        return _reject(400, f"events: empty; send 1 to {MAX_EVENTS} events")
    if len(items) > MAX_EVENTS:
        return _reject(413, f"events: {len(items)} events; send at most {MAX_EVENTS} a request")
    return items


def _report(result: StoreResult) -> web.Response:
    rejected = sorted(result.rejected, key=lambda r: r.index)
    for rejection in rejected:
        logger.warning(
            "events api event rejected index=%d reason=%s",
            rejection.index,
            rejection.error.at(f"events[{rejection.index}]"),
        )
    logger.info(
        "events api batch stored accepted=%d duplicates=%d rejected=%d",
        result.accepted,
        result.duplicates,
        len(rejected),
    )
    body = {
        "accepted": result.accepted,
        "duplicates": result.duplicates,
        "rejected": [
            {"index": r.index, "id": r.id, "reason": r.error.at(f"events[{r.index}]")}
            for r in rejected
        ],
    }
    # Nothing usable at all is the client's error; a partly good batch is a success.
    everything_refused = rejected and not (result.accepted or result.duplicates)
    return web.json_response(body, status=422 if everything_refused else 200)


def _reject(status: int, reason: str, *, headers: dict[str, str] | None = None) -> web.Response:
    logger.warning("events api request rejected status=%d reason=%s", status, reason)
    return _error(status, reason, headers=headers)


def _error(status: int, reason: str, *, headers: dict[str, str] | None = None) -> web.Response:
    return web.json_response({"error": reason}, status=status, headers=headers)
