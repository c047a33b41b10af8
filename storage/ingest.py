"""Applying domain events to the store, idempotently and in any order.

Meta redelivers webhooks for days and does not keep statuses in order, and a history
backfill arrives in chunks that may overtake each other. Every function here is written
so that applying the same event twice, or two events in either order, leaves the same
rows:

- a message id (``wamid``) is stored once; a later copy only fills in what is missing;
- each delivery step keeps the earliest time it was seen, and ``status`` only climbs
  the sent < delivered < read < played ladder; ``failed`` is recorded whenever it comes;
- an edit or revoke that overtakes its message leaves a row the message completes.

Updates are single SQL statements with the merge rule inside them, so two processes
applying events for the same message at once cannot lose each other's work.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, String, and_, bindparam, case, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from bot import domain
from bot.content_keys import message_content_key
from bot.quotes import is_quote_content
from storage.models import AccountEvent, BusinessNumber, Customer, Message
from storage.types import UTCDateTime, utcnow

logger = logging.getLogger(__name__)

_message = Message.__table__  # type: ignore[attr-defined]
_customer = Customer.__table__  # type: ignore[attr-defined]
_number = BusinessNumber.__table__  # type: ignore[attr-defined]
_account_event = AccountEvent.__table__  # type: ignore[attr-defined]

# Pricing categories that only a template message can have, folded to the three
# template categories WhatsApp bills by.
TEMPLATE_CATEGORIES = {
    "marketing": "marketing",
    "marketing_lite": "marketing",
    "group_marketing": "marketing",
    "utility": "utility",
    "group_utility": "utility",
    "authentication": "authentication",
    "authentication_international": "authentication",
    "authentication-international": "authentication",
}

# Types that say "content not known yet": a later copy of the message may fill them in.
_PLACEHOLDER_TYPES = ("unknown", "media_placeholder")

# What an edit changes; the latest edit wins over the original and over older edits.
_EDITABLE = ("text", "caption", "filename", "mime_type")
# The columns ``message.quote_request`` is computed from (direction never changes).
_QUOTE_CONTENT = ("type", "text", "caption", "filename")

_LADDER_COLUMNS = {
    domain.DeliveryStatus.SENT: "sent_at",
    domain.DeliveryStatus.DELIVERED: "delivered_at",
    domain.DeliveryStatus.READ: "read_at",
    domain.DeliveryStatus.PLAYED: "played_at",
    domain.DeliveryStatus.FAILED: "failed_at",
}


def is_automated_marker(tracking_data: str | None) -> bool:
    """Whether a sender marked a Cloud API message as automated.

    Bots, greeting and away messages sent through the Cloud API identify themselves by
    setting ``biz_opaque_callback_data`` to ``automated``, to a value starting with
    ``automated:``, or to a JSON object with ``"automated": true``.
    """
    if not tracking_data:
        return False
    marker = tracking_data.strip()
    if marker.lower() == "automated" or marker.lower().startswith("automated:"):
        return True
    if marker.startswith("{"):
        try:
            decoded = json.loads(marker)
        except ValueError:
            return False
        return isinstance(decoded, dict) and decoded.get("automated") is True
    return False


@dataclass
class ApplyStats:
    """What applying a batch of events changed, for the operator's log line."""

    messages_new: int = 0
    messages_merged: int = 0
    statuses: int = 0
    edits: int = 0
    revokes: int = 0
    identities: int = 0
    account_events: int = 0

    def add(self, other: ApplyStats) -> None:
        """Add another batch's counts to these."""
        for name in self.__dataclass_fields__:
            setattr(self, name, getattr(self, name) + getattr(other, name))


_CUSTOMER_COLUMNS = (_customer.c.id, _customer.c.wa_id, _customer.c.user_id, _customer.c.name)
_FIND_CUSTOMER_BY_WA_ID = select(*_CUSTOMER_COLUMNS).where(_customer.c.wa_id == bindparam("p_key"))
_FIND_CUSTOMER_BY_USER_ID = select(*_CUSTOMER_COLUMNS).where(
    _customer.c.user_id == bindparam("p_key")
)
_FIND_NUMBER = select(
    _number.c.id, _number.c.rep_id, _number.c.display_number, _number.c.waba_id
).where(_number.c.phone_number_id == bindparam("p_key"))


class Resolver:
    """Finds or creates business numbers and customers, caching their ids.

    One resolver serves one transaction, across as many :func:`apply_events` calls as
    it holds; after a rollback (of a savepoint it was used in) call :meth:`clear`, since
    ids it cached may no longer exist.
    """

    def __init__(self, session: Session) -> None:
        self.session = session
        self.numbers: dict[str, tuple[int, int | None]] = {}
        self.customers: dict[tuple[str | None, str | None], int] = {}
        self._insert = pg_insert if _dialect(session) == "postgresql" else sqlite_insert

    def number(self, ref: domain.BusinessNumber) -> tuple[int, int | None]:
        """The (business number id, owning rep id) for ``ref``, creating the number."""
        cached = self.numbers.get(ref.phone_number_id)
        if cached is not None:
            return cached

        row = self._find_number(ref.phone_number_id)
        if row is None:
            self.session.execute(
                self._insert(_number)
                .values(
                    phone_number_id=ref.phone_number_id,
                    display_number=ref.display_number,
                    waba_id=ref.waba_id,
                    first_seen_at=utcnow(),
                )
                .on_conflict_do_nothing(index_elements=["phone_number_id"])
            )
            row = self._find_number(ref.phone_number_id)
            assert row is not None
        elif (ref.display_number and not row.display_number) or (ref.waba_id and not row.waba_id):
            self.session.execute(
                update(_number)
                .where(_number.c.id == row.id)
                .values(
                    display_number=row.display_number or ref.display_number,
                    waba_id=row.waba_id or ref.waba_id,
                )
            )

        result = (int(row.id), row.rep_id)
        self.numbers[ref.phone_number_id] = result
        return result

    def clear(self) -> None:
        """Forget every cached id."""
        self.numbers.clear()
        self.customers.clear()

    def _find_number(self, phone_number_id: str) -> Any:
        return self.session.execute(_FIND_NUMBER, {"p_key": phone_number_id}).first()

    def customer(self, ref: domain.CustomerRef) -> int:
        """The customer id for ``ref``, creating the customer or filling in what is new."""
        key = (ref.wa_id, ref.user_id)
        cached = self.customers.get(key)
        if cached is not None:
            return cached

        row = self._find_customer(ref)
        if row is None:
            self.session.execute(
                self._insert(_customer)
                .values(wa_id=ref.wa_id, user_id=ref.user_id, name=ref.name)
                .on_conflict_do_nothing()
            )
            row = self._find_customer(ref)
            assert row is not None, f"customer {ref!r} could not be stored"
        else:
            self._fill_in_customer(row, ref)

        self.customers[key] = int(row.id)
        return int(row.id)

    def _find_customer(self, ref: domain.CustomerRef) -> Any:
        # wa_id is the stable key; the business-scoped id finds users who hid their number.
        if ref.wa_id:
            row = self.session.execute(_FIND_CUSTOMER_BY_WA_ID, {"p_key": ref.wa_id}).first()
            if row is not None:
                return row
        if ref.user_id:
            return self.session.execute(_FIND_CUSTOMER_BY_USER_ID, {"p_key": ref.user_id}).first()
        return None

    def _fill_in_customer(self, row: Any, ref: domain.CustomerRef) -> None:
        values: dict[str, Any] = {}
        if ref.wa_id and not row.wa_id:
            values["wa_id"] = ref.wa_id
        if ref.user_id and not row.user_id and not self._user_id_taken(ref.user_id):
            values["user_id"] = ref.user_id
        if ref.name and not row.name:
            values["name"] = ref.name
        if values:
            values["updated_at"] = utcnow()
            self.session.execute(update(_customer).where(_customer.c.id == row.id).values(values))

    def _user_id_taken(self, user_id: str) -> bool:
        return (
            self.session.execute(
                select(_customer.c.id).where(_customer.c.user_id == user_id)
            ).first()
            is not None
        )


def apply_events(
    session: Session, events: Iterable[domain.DomainEvent], resolver: Resolver | None = None
) -> ApplyStats:
    """Apply domain events to the store inside the caller's transaction.

    Args:
        session: the open session; the caller commits.
        events: events in the order the source gave them (any order gives the same rows).
        resolver: a resolver to share ids across calls in one transaction; a new one by
            default.

    Returns:
        Counts of what changed.

    Raises:
        sqlalchemy.exc.SQLAlchemyError: the database refused a write.
    """
    resolver = resolver if resolver is not None else Resolver(session)
    stats = ApplyStats()
    for event in events:
        if isinstance(event, domain.MessageEvent):
            _apply_message(session, resolver, event, stats)
        elif isinstance(event, domain.StatusEvent):
            _apply_status(session, resolver, event)
            stats.statuses += 1
        elif isinstance(event, domain.MessageEditEvent):
            _apply_edit(session, resolver, event)
            stats.edits += 1
        elif isinstance(event, domain.MessageRevokeEvent):
            _apply_revoke(session, resolver, event)
            stats.revokes += 1
        elif isinstance(event, domain.CustomerIdentityEvent):
            _apply_identity(session, resolver, event)
            stats.identities += 1
        elif isinstance(event, domain.AccountEvent) and _apply_account_event(
            session, resolver, event
        ):
            stats.account_events += 1
    return stats


def _rowcount(result: Any) -> int:
    """Rows an UPDATE touched (``Session.execute`` is typed as a plain Result).

    Not for INSERTs: on PostgreSQL they return the new key, and the rowcount of an
    INSERT … RETURNING is -1 once the key is read; such INSERTs check the returned row.
    """
    return int(result.rowcount or 0)


def _inserted(session: Session, stmt: Any, key: Any) -> bool:
    """Run an INSERT … ON CONFLICT DO NOTHING; True when it stored a row."""
    return session.execute(stmt.returning(key)).first() is not None


def _dialect(session: Session) -> str:
    return session.get_bind().dialect.name


def _ts(value: datetime) -> Any:
    return bindparam(None, value, type_=UTCDateTime())


def _earliest(column: Any, value: datetime) -> ColumnElement[Any]:
    """SQL for "the earlier of the column and value", treating NULL as unknown."""
    ts = _ts(value)
    return case((or_(column.is_(None), column > ts), ts), else_=column)


def _content_values(content: domain.MessageContent) -> dict[str, Any]:
    first_error = content.errors[0] if content.errors else None
    return {
        "type": content.type,
        "text": content.text,
        "caption": content.caption,
        "filename": content.filename,
        "mime_type": content.mime_type,
        "context_wamid": content.context_message_id,
        "forwarded": content.forwarded,
        "reaction_to": content.reaction_to,
        "reaction_emoji": content.reaction_emoji,
        "referral_source_type": content.referral_source_type,
        "referral_source_id": content.referral_source_id,
        "referral_ctwa_clid": content.referral_ctwa_clid,
        "error_code": first_error.code if first_error else None,
        "error_title": first_error.title if first_error else None,
    }


@functools.cache
def _insert_message_stmt(dialect: str) -> Any:
    """INSERT … ON CONFLICT (wamid) DO NOTHING RETURNING id, built once per dialect."""
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    return (
        insert(_message).on_conflict_do_nothing(index_elements=["wamid"]).returning(_message.c.id)
    )


def _insert_message(session: Session, values: dict[str, Any]) -> bool:
    """Insert a message row unless its wamid is stored; True when it was new."""
    now = utcnow()
    params = {"created_at": now, "updated_at": now, **values}
    stmt = _insert_message_stmt(_dialect(session))
    return session.execute(stmt, params).first() is not None


def _status_values(status: domain.DeliveryStatus | None) -> dict[str, Any]:
    if status is None or status is domain.DeliveryStatus.FAILED:
        return {"status": None}
    return {"status": status.value}


def _message_row(
    event: domain.MessageEvent, number_id: int, rep_id: int | None, customer_id: int
) -> dict[str, Any]:
    """The message row a message event makes when its id is new."""
    row = {
        "wamid": event.message_id,
        "business_number_id": number_id,
        "rep_id": rep_id,
        "customer_id": customer_id,
        "direction": event.direction.value,
        "source": event.source.value,
        "timestamp": event.timestamp,
        **_content_values(event.content),
        # A backfill tells how far the message got, not when: no *_at is set for it.
        **_status_values(event.history_status),
    }
    row["quote_request"] = is_quote_content(
        row["direction"], row["type"], row["text"], row["caption"], row["filename"]
    )
    row["content_key"] = message_content_key(
        row["direction"], row["text"], row["caption"], row["filename"]
    )
    if event.history_status is domain.DeliveryStatus.FAILED:
        row["failed_at"] = event.timestamp
    return row


def _apply_message(
    session: Session, resolver: Resolver, event: domain.MessageEvent, stats: ApplyStats
) -> None:
    number_id, rep_id = resolver.number(event.number)
    customer_id = resolver.customer(event.customer)
    if _insert_message(session, _message_row(event, number_id, rep_id, customer_id)):
        stats.messages_new += 1
        return

    stats.messages_merged += 1
    _merge_message_copy(session, event, _content_values(event.content))


def insert_messages(
    session: Session, events: Sequence[domain.MessageEvent], resolver: Resolver | None = None
) -> ApplyStats:
    """Store many message events at once, with the result :func:`apply_events` would give.

    For bulk sources (a chat export of tens of thousands of lines): new message ids go
    in with one many-row INSERT, ids already stored are completed one by one as any
    later copy of a message is.

    Args:
        session: the open session; the caller commits.
        events: message events; their order does not matter.
        resolver: a resolver shared across calls in one transaction.

    Returns:
        ``messages_new`` for rows stored now, ``messages_merged`` for ids already stored.

    Raises:
        sqlalchemy.exc.SQLAlchemyError: the database refused a write.
    """
    resolver = resolver if resolver is not None else Resolver(session)
    stats = ApplyStats()
    if not events:
        return stats

    m = _message.c
    ids = [event.message_id for event in events]
    stored = {
        row.wamid: row
        for row in session.execute(select(*_COPY_CHECK).where(m.wamid.in_(ids))).all()
    }
    now = utcnow()
    rows = []
    for event in events:
        if event.message_id in stored:
            content = _content_values(event.content)
            # A file imported again is mostly copies of what it stored the first time:
            # skip the UPDATE that would change nothing.
            if not _copy_changes_nothing(stored[event.message_id], event, content):
                _merge_message_copy(session, event, content)
            stats.messages_merged += 1
            continue
        number_id, rep_id = resolver.number(event.number)
        customer_id = resolver.customer(event.customer)
        row = _message_row(event, number_id, rep_id, customer_id)
        rows.append({"created_at": now, "updated_at": now, **row})

    if rows:
        insert = pg_insert if _dialect(session) == "postgresql" else sqlite_insert
        stmt = insert(_message).on_conflict_do_nothing(index_elements=["wamid"])
        session.execute(stmt, rows)
        # Count what landed: drivers report many-row rowcounts differently, and another
        # process may have stored some of these ids in the meantime.
        new_ids = [row["wamid"] for row in rows]
        landed = session.execute(
            select(func.count()).select_from(_message).where(m.wamid.in_(new_ids))
        ).scalar_one()
        stats.messages_new += int(landed)
        stats.messages_merged += len(rows) - int(landed)
    return stats


# What tells whether merging a copy into a stored message would change the row.
_COPY_CHECK = (
    _message.c.wamid,
    _message.c.type,
    _message.c.timestamp,
    _message.c.forwarded,
    *(_message.c[name] for name in _content_values(domain.MessageContent(type="text"))),
)


def _copy_changes_nothing(
    stored: Any, event: domain.MessageEvent, content: dict[str, Any]
) -> bool:
    """Whether :func:`_merge_message_copy` would leave ``stored`` as it is.

    True only when the stored row is no placeholder, already has every column the copy
    fills, has the same content (so the quote flag stays), is no later than the copy and
    is forwarded if the copy is; a copy that tells a delivery status always merges.
    """
    if stored.type in _PLACEHOLDER_TYPES or event.history_status is not None:
        return False
    if event.timestamp < stored.timestamp or (content["forwarded"] and not stored.forwarded):
        return False
    for name, value in content.items():
        if name == "forwarded" or value is None:
            continue
        if getattr(stored, name) is None:
            return False
    return all(getattr(stored, name) == content[name] for name in _QUOTE_CONTENT)


def _merge_message_copy(
    session: Session, event: domain.MessageEvent, content: dict[str, Any]
) -> None:
    """Complete a stored message from another copy of it (a redelivery, a backfill).

    A column is filled in when it is empty, or when the stored row is a placeholder
    (made from a status, a revoke or a history ``media_placeholder``). The columns an
    edit changes keep the edited value.
    """
    m = _message.c
    placeholder = m.type.in_(_PLACEHOLDER_TYPES)
    fill: dict[str, Any] = {}
    for name, value in content.items():
        if value is None or name == "forwarded":
            continue
        column = getattr(m, name)
        replaceable = placeholder & m.edited_at.is_(None) if name in _EDITABLE else placeholder
        fill[name] = case((or_(column.is_(None), replaceable), value), else_=column)
    if content["forwarded"]:
        fill["forwarded"] = True
    # A copy with the stored content (a redelivery) keeps the flag; any other may change
    # the content in ways only SQL decides: unknown, so the KPI engine reads the text.
    same_content = and_(
        *(getattr(m, name).is_not_distinct_from(content[name]) for name in _QUOTE_CONTENT)
    )
    fill["quote_request"] = case((same_content, m.quote_request), else_=None)
    # A placeholder was made by a status or a revoke; the message itself says how it came.
    fill["source"] = case((placeholder, event.source.value), else_=m.source)
    # Every copy of a message carries its own send time; keep the earliest.
    fill["timestamp"] = _earliest(m.timestamp, event.timestamp)
    if event.history_status is domain.DeliveryStatus.FAILED:
        fill["failed_at"] = _earliest(m.failed_at, event.timestamp)
    elif event.history_status:
        fill["status"] = _climb(m.status, event.history_status)
    fill["updated_at"] = utcnow()
    stmt = update(_message).where(m.wamid == event.message_id).values(fill)
    _refresh_content_key(session, session.execute(stmt.returning(*_KEYED_CONTENT)))


# What an UPDATE that may change a message's content returns, to keep its key right.
_KEYED_CONTENT = (
    _message.c.id,
    _message.c.direction,
    _message.c.text,
    _message.c.caption,
    _message.c.filename,
    _message.c.content_key,
)


def _refresh_content_key(session: Session, updated: Any) -> int:
    """Store the content key of rows an UPDATE returned as :data:`_KEYED_CONTENT`.

    The content after a merge or an edit is decided in SQL (which copy fills which
    column), while the key is computed here; the row tells what the content became.

    Returns:
        How many rows the UPDATE touched.
    """
    touched = 0
    for message_id, direction, text, caption, filename, stored in updated.all():
        touched += 1
        key = message_content_key(direction, text, caption, filename)
        if key != stored:
            m = _message.c
            session.execute(update(_message).where(m.id == message_id).values(content_key=key))
    return touched


def _rank_sql(column: Any) -> ColumnElement[int]:
    return case(
        *((column == status.value, status.rank) for status in _LADDER_COLUMNS if status.rank),
        else_=0,
    )


def _climb(column: Any, status: domain.DeliveryStatus) -> ColumnElement[Any]:
    """SQL for "the higher of the stored status and ``status`` on the ladder"."""
    return case((_rank_sql(column) < status.rank, status.value), else_=column)


def _apply_status(session: Session, resolver: Resolver, event: domain.StatusEvent) -> None:
    category = TEMPLATE_CATEGORIES.get((event.pricing_category or event.origin_type or "").lower())
    automated = is_automated_marker(event.tracking_data)
    first_error = event.errors[0] if event.errors else None
    stmt = _status_update_stmt(event.status, category is not None, automated, bool(first_error))
    params = {
        "p_wamid": event.message_id,
        "p_ts": event.timestamp,
        "p_now": utcnow(),
        "p_category": category,
        "p_error_code": first_error.code if first_error else None,
        "p_error_title": first_error.title if first_error else None,
    }

    if _rowcount(session.execute(stmt, params)):
        return

    # A status for a message we never saw: the Cloud API never sends the content of
    # what the business sent, so the status is how the outbound message becomes known.
    created = _insert_message(
        session,
        {
            **_known_by_id(
                resolver,
                event.number,
                event.customer,
                event.message_id,
                domain.Direction.OUTBOUND,
                domain.MessageSource.WEBHOOK.value,
                event.timestamp,
            ),
            "type": "unknown",
            "is_template": category is not None,
            "template_category": category,
            "is_automated": automated,
            _LADDER_COLUMNS[event.status]: event.timestamp,
            **_status_values(event.status),
            "error_code": params["p_error_code"],
            "error_title": params["p_error_title"],
        },
    )
    if not created:
        # Another process stored the message between our update and insert.
        session.execute(stmt, params)


@functools.cache
def _status_update_stmt(
    status: domain.DeliveryStatus, templated: bool, automated: bool, with_error: bool
) -> Any:
    """The UPDATE that merges one status into its message, built once per variant.

    Statuses are most of the webhook traffic; building the statement once and binding
    ``p_*`` parameters saves the expression building that dominated their cost.
    """
    m = _message.c
    ts = bindparam("p_ts", type_=UTCDateTime())
    column = getattr(m, _LADDER_COLUMNS[status])
    values: dict[str, Any] = {
        column.name: case((or_(column.is_(None), column > ts), ts), else_=column),
        "timestamp": case((m.timestamp > ts, ts), else_=m.timestamp),
        "updated_at": bindparam("p_now", type_=UTCDateTime()),
    }
    if status is not domain.DeliveryStatus.FAILED:
        values["status"] = _climb(m.status, status)
    elif with_error:
        values["error_code"] = bindparam("p_error_code")
        values["error_title"] = bindparam("p_error_title")
    if templated:
        values["is_template"] = True
        values["template_category"] = case(
            (m.template_category.is_(None), bindparam("p_category", type_=String())),
            else_=m.template_category,
        )
    if automated:
        values["is_automated"] = True
    return update(_message).where(m.wamid == bindparam("p_wamid")).values(values)


def _apply_edit(session: Session, resolver: Resolver, event: domain.MessageEditEvent) -> None:
    m = _message.c
    content = {
        key: value
        for key, value in _content_values(event.content).items()
        if key in _EDITABLE and value is not None
    }
    # Edits can arrive out of order: only one at least as new as the stored edit applies.
    newest = or_(m.edited_at.is_(None), m.edited_at <= _ts(event.timestamp))
    edit = (
        update(_message)
        .where(m.wamid == event.original_message_id)
        .values(
            **{
                key: case((newest, value), else_=getattr(m, key)) for key, value in content.items()
            },
            # The new text may or may not ask for a price: unknown until read again.
            quote_request=case((newest, None), else_=m.quote_request),
            edited_at=_latest(m.edited_at, event.timestamp),
        )
        .returning(*_KEYED_CONTENT)
    )
    if _refresh_content_key(session, session.execute(edit)):
        return

    # The edit overtook its message: store what we know; the original fills in the rest
    # (its context, referral and send time, which are not the edit's to give).
    _insert_message(
        session,
        {
            **_known_by_id(
                resolver,
                event.number,
                event.customer,
                event.original_message_id,
                event.direction,
                _source_for(event.direction),
                event.timestamp,
            ),
            "type": event.content.type,
            **content,
            "content_key": message_content_key(
                event.direction.value,
                content.get("text"),
                content.get("caption"),
                content.get("filename"),
            ),
            "edited_at": event.timestamp,
        },
    )


def _latest(column: Any, value: datetime) -> ColumnElement[Any]:
    """SQL for "the later of the column and value" (edited_at: the text is the latest)."""
    ts = _ts(value)
    return case((or_(column.is_(None), column < ts), ts), else_=column)


def _known_by_id(
    resolver: Resolver,
    number: domain.BusinessNumber,
    customer: domain.CustomerRef,
    wamid: str,
    direction: domain.Direction,
    source: str,
    timestamp: datetime,
) -> dict[str, Any]:
    """The columns every message row needs, for a message known so far only by its id.

    A status, an edit or a revoke can reach kpibot before the message itself; the row it
    leaves is completed when the message arrives.
    """
    number_id, rep_id = resolver.number(number)
    return {
        "wamid": wamid,
        "business_number_id": number_id,
        "rep_id": rep_id,
        "customer_id": resolver.customer(customer),
        "direction": direction.value,
        "source": source,
        "timestamp": timestamp,
    }


def _source_for(direction: domain.Direction) -> str:
    if direction is domain.Direction.OUTBOUND:
        return domain.MessageSource.ECHO.value
    return domain.MessageSource.WEBHOOK.value


def _apply_revoke(session: Session, resolver: Resolver, event: domain.MessageRevokeEvent) -> None:
    m = _message.c
    revoked = _rowcount(
        session.execute(
            update(_message)
            .where(m.wamid == event.original_message_id)
            .values(revoked_at=_earliest(m.revoked_at, event.timestamp))
        )
    )
    if revoked:
        return

    _insert_message(
        session,
        {
            **_known_by_id(
                resolver,
                event.number,
                event.customer,
                event.original_message_id,
                event.direction,
                _source_for(event.direction),
                event.timestamp,
            ),
            "type": "unknown",
            "revoked_at": event.timestamp,
        },
    )


def _apply_identity(
    session: Session, resolver: Resolver, event: domain.CustomerIdentityEvent
) -> None:
    c = _customer.c
    customer_id = resolver.customer(event.customer)
    values: dict[str, Any] = {}

    if event.new_wa_id and event.new_wa_id != event.customer.wa_id:
        holder = session.execute(select(c.id).where(c.wa_id == event.new_wa_id)).first()
        if holder is None:
            values["wa_id"] = event.new_wa_id
        elif holder.id != customer_id:
            # Both numbers already have their own history; merging them is a person's call.
            logger.warning(
                "customer number change not applied customer_id=%s other_customer_id=%s",
                customer_id,
                holder.id,
            )
    if event.new_user_id:
        holder = session.execute(select(c.id).where(c.user_id == event.new_user_id)).first()
        if holder is None:
            values["user_id"] = event.new_user_id
    if event.name:
        values["name"] = event.name

    if values:
        values["updated_at"] = utcnow()
        session.execute(update(_customer).where(c.id == customer_id).values(values))
        resolver.customers.clear()


def _apply_account_event(session: Session, resolver: Resolver, event: domain.AccountEvent) -> bool:
    n = _number.c
    number_id = None
    if event.phone_number_id:
        number_id = session.execute(
            select(n.id).where(n.phone_number_id == event.phone_number_id)
        ).scalar()
    elif event.display_number:
        number_id = session.execute(
            select(n.id).where(n.display_number == event.display_number).limit(1)
        ).scalar()

    insert = pg_insert if _dialect(session) == "postgresql" else sqlite_insert
    stmt = (
        insert(_account_event)
        .values(
            kind=event.kind.value,
            event=event.event,
            occurred_at=event.timestamp,
            waba_id=event.waba_id,
            phone_number_id=event.phone_number_id,
            display_number=event.display_number,
            business_number_id=number_id,
            detail=event.detail,
            dedup_key=_account_event_key(event),
            created_at=utcnow(),
        )
        .on_conflict_do_nothing(index_elements=["dedup_key"])
    )
    return _inserted(session, stmt, _account_event.c.id)


def _account_event_key(event: domain.AccountEvent) -> str:
    identity = json.dumps(
        [
            event.kind.value,
            event.event,
            event.timestamp.isoformat(),
            event.waba_id,
            event.phone_number_id,
            event.display_number,
            event.detail,
        ],
        sort_keys=True,
        default=str,
    )
    return hashlib.sha256(identity.encode()).hexdigest()


def attribute_number(session: Session, number_id: int, rep_id: int) -> int:
    """Give the messages of a business number that have no rep yet to ``rep_id``.

    Returns:
        How many messages were attributed.
    """
    result = session.execute(
        update(_message)
        .where(and_(_message.c.business_number_id == number_id, _message.c.rep_id.is_(None)))
        .values(rep_id=rep_id)
    )
    return _rowcount(result)


def customer_id_for(session: Session, ref: domain.CustomerRef) -> int:
    """The id of the customer ``ref`` names, creating the customer if kpibot has not met them."""
    return Resolver(session).customer(ref)
