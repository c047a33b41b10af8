"""Recording what the message stream cannot show: tags, quotes, samples, complaints, deals.

Reps record these through the bot, CRMs through the events API; both end here. A record
names its customer by WhatsApp id and, optionally, the rep; without a rep it goes to the
rep the customer is assigned to (:func:`assign_customer`) or, failing that, to the rep
whose number the customer last talked to. A record with an idempotency key lands once
however often it is sent, and :func:`undo_record` takes one back.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from bot import domain
from bot.errors import KpibotError
from storage.ingest import customer_id_for
from storage.models import BusinessNumber, Customer, CustomerEvent, CustomerTag, Deal, Message
from storage.reps import find_rep
from storage.types import utcnow

logger = logging.getLogger(__name__)

_tag = CustomerTag.__table__  # type: ignore[attr-defined]
_event = CustomerEvent.__table__  # type: ignore[attr-defined]
_deal = Deal.__table__  # type: ignore[attr-defined]
_message = Message.__table__  # type: ignore[attr-defined]
_customer = Customer.__table__  # type: ignore[attr-defined]
_number = BusinessNumber.__table__  # type: ignore[attr-defined]

_TAG_PATTERN = re.compile(r"^[\w][\w\-]{0,63}$")
_CURRENCY_PATTERN = re.compile(r"^[A-Z]{3}$")


class RecordError(KpibotError):
    """A record has a value kpibot cannot store; the message names it."""


@dataclass(frozen=True, slots=True)
class RecordOutcome:
    """What recording did.

    Attributes:
        kind: ``tag``, ``untag``, ``quote``, ``sample``, ``complaint``, ``deal`` or
            ``assignment``.
        row_id: the row written (or found, when nothing new was written); for an
            assignment, the customer's.
        created: False when the record was already there (same key, tag already on,
            customer already assigned to that rep).
        customer_id: the customer recorded about.
        rep_id: the rep the record was attributed to, if one could be found.
    """

    kind: str
    row_id: int | None
    created: bool
    customer_id: int
    rep_id: int | None


def normalise_tag(tag: str) -> str:
    """The stored form of a tag: lower case, spaces as hyphens (``High intent``: ``high-intent``).

    Raises:
        RecordError: the tag is empty, too long or holds punctuation.
    """
    cleaned = "-".join(tag.strip().lower().split())
    if not _TAG_PATTERN.match(cleaned):
        raise RecordError(
            f"tag {tag!r} is not usable: use letters, digits and hyphens, at most 64"
        )
    return cleaned


def owner_rep_id(session: Session, customer_id: int) -> int | None:
    """The rep whose number the customer last exchanged a message with, if any."""
    m = _message.c
    return session.execute(
        select(m.rep_id)
        .where(m.customer_id == customer_id, m.rep_id.is_not(None))
        .order_by(m.timestamp.desc())
        .limit(1)
    ).scalar()


def apply_record(session: Session, record: domain.Record) -> RecordOutcome:
    """Store one record inside the caller's transaction.

    Args:
        session: the open session; the caller commits.
        record: the tag, customer event or deal.

    Returns:
        What was written.

    Raises:
        RecordError: a value is not storable (tag, currency, amount, margin).
        bot.errors.NotFoundError: the record names a rep that does not exist.
    """
    customer_id = customer_id_for(session, record.customer)
    rep_id = _rep_for(session, record.rep, customer_id)

    if isinstance(record, domain.TagRecord):
        return _apply_tag(session, record, customer_id, rep_id)
    if isinstance(record, domain.CustomerEventRecord):
        return _apply_customer_event(session, record, customer_id, rep_id)
    return _apply_deal(session, record, customer_id, rep_id)


def _rep_for(session: Session, rep_name: str | None, customer_id: int) -> int | None:
    if rep_name:
        return find_rep(session, rep_name).id
    # An assignment is a decision someone made; who the customer last talked to is a guess.
    assigned = session.execute(
        select(_customer.c.assigned_rep_id).where(_customer.c.id == customer_id)
    ).scalar()
    if assigned is not None:
        return int(assigned)
    return owner_rep_id(session, customer_id)


def assign_customer(
    session: Session, customer_ref: domain.CustomerRef, rep_name: str, at: datetime
) -> RecordOutcome:
    """Assign a customer to a rep: later records about them without a rep go to that rep.

    Args:
        session: the open session; the caller commits.
        customer_ref: the customer, created if kpibot has not met them.
        rep_name: the rep, by name (case-insensitive).
        at: when the assignment was made, as the source says; it goes to the log line.

    Returns:
        The outcome, ``created`` False when the customer was already assigned to the rep.

    Raises:
        bot.errors.NotFoundError: no rep has that name.
    """
    customer_id = customer_id_for(session, customer_ref)
    rep_id = find_rep(session, rep_name).id
    c = _customer.c
    # TODO(assignment-time): with no assigned_at column an older assignment sent again
    # after a newer one wins; store the time and compare it once the schema has it.
    # The condition makes a repeated assignment a no-op, so its rowcount tells "new".
    result = session.execute(
        update(_customer)
        .where(c.id == customer_id, (c.assigned_rep_id != rep_id) | c.assigned_rep_id.is_(None))
        .values(assigned_rep_id=rep_id, updated_at=utcnow())
    )
    changed = bool(getattr(result, "rowcount", 0))
    logger.info(
        "customer assigned customer_id=%s rep_id=%s at=%s changed=%s",
        customer_id,
        rep_id,
        at.isoformat(),
        changed,
    )
    return RecordOutcome("assignment", customer_id, changed, customer_id, rep_id)


def rep_api_number(session: Session, rep_name: str) -> domain.BusinessNumber:
    """The business number that stands for a rep in messages the events API names by rep.

    SCRM tools know which rep sent a message, not a Cloud API number; each rep gets one
    number, ``api:rep:<rep id>``, owned by them from the start, for such messages.

    Args:
        session: the open session; the caller commits.
        rep_name: the rep, by name (case-insensitive).

    Returns:
        The number, created on first use.

    Raises:
        bot.errors.NotFoundError: no rep has that name.
    """
    rep = find_rep(session, rep_name)
    phone_number_id = f"api:rep:{rep.id}"
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    now = utcnow()
    session.execute(
        insert(_number)
        .values(
            phone_number_id=phone_number_id, rep_id=rep.id, first_seen_at=now, registered_at=now
        )
        .on_conflict_do_nothing(index_elements=["phone_number_id"])
    )
    return domain.BusinessNumber(phone_number_id=phone_number_id)


def _existing_by_key(session: Session, table: Any, key: str | None) -> int | None:
    if key is None:
        return None
    return session.execute(select(table.c.id).where(table.c.idempotency_key == key)).scalar()


def _apply_tag(
    session: Session, record: domain.TagRecord, customer_id: int, rep_id: int | None
) -> RecordOutcome:
    t = _tag.c
    tag = normalise_tag(record.tag)
    kind = "untag" if record.removed else "tag"
    active = session.execute(
        select(t.id).where(t.customer_id == customer_id, t.tag == tag, t.removed_at.is_(None))
    ).scalar()

    if record.removed:
        if active is None:
            return RecordOutcome(kind, None, False, customer_id, rep_id)
        session.execute(update(_tag).where(t.id == active).values(removed_at=record.timestamp))
        return RecordOutcome(kind, int(active), True, customer_id, rep_id)

    # A tag that is already on, or a retried record, changes nothing.
    existing = active or _existing_by_key(session, _tag, record.key)
    if existing is not None:
        return RecordOutcome(kind, int(existing), False, customer_id, rep_id)
    row_id = session.execute(
        _tag.insert()
        .values(
            customer_id=customer_id,
            rep_id=rep_id,
            tag=tag,
            tagged_at=record.timestamp,
            source=record.source,
            idempotency_key=record.key,
        )
        .returning(t.id)
    ).scalar_one()
    return RecordOutcome(kind, int(row_id), True, customer_id, rep_id)


def _apply_customer_event(
    session: Session, record: domain.CustomerEventRecord, customer_id: int, rep_id: int | None
) -> RecordOutcome:
    kind = record.kind.value
    existing = _existing_by_key(session, _event, record.key)
    if existing is not None:
        return RecordOutcome(kind, int(existing), False, customer_id, rep_id)
    row_id = session.execute(
        _event.insert()
        .values(
            kind=kind,
            customer_id=customer_id,
            rep_id=rep_id,
            occurred_at=record.timestamp,
            source=record.source,
            note=record.note,
            idempotency_key=record.key,
        )
        .returning(_event.c.id)
    ).scalar_one()
    return RecordOutcome(kind, int(row_id), True, customer_id, rep_id)


def check_deal(amount: Decimal, currency: str, margin: float | None) -> str:
    """Validate a deal's values; return the currency code in upper case.

    Raises:
        RecordError: the amount is not positive, the currency not a 3-letter code, or the
            margin not a fraction between -1 and 1.
    """
    if not amount.is_finite() or amount <= 0:
        raise RecordError(f"deal amount must be a positive number, got {amount}")
    code = currency.strip().upper()
    if not _CURRENCY_PATTERN.match(code):
        raise RecordError(f"currency {currency!r} is not a 3-letter code such as USD or CNY")
    if margin is not None and not -1 <= margin <= 1:
        raise RecordError(
            f"margin must be a fraction between -1 and 1 (0.18 = 18 %), got {margin}"
        )
    return code


def _apply_deal(
    session: Session, record: domain.DealRecord, customer_id: int, rep_id: int | None
) -> RecordOutcome:
    currency = check_deal(record.amount, record.currency, record.margin)
    existing = _existing_by_key(session, _deal, record.key)
    if existing is not None:
        return RecordOutcome("deal", int(existing), False, customer_id, rep_id)
    referrer = customer_id_for(session, record.referred_by) if record.referred_by else None
    row = Deal(
        customer_id=customer_id,
        rep_id=rep_id,
        amount=record.amount,
        currency=currency,
        margin=record.margin,
        closed_at=record.timestamp,
        referred_by_customer_id=referrer,
        source=record.source,
        note=record.note,
        idempotency_key=record.key,
    )
    session.add(row)
    session.flush()
    return RecordOutcome("deal", row.id, True, customer_id, rep_id)


def undo_record(session: Session, outcome: RecordOutcome) -> bool:
    """Take back what :func:`apply_record` wrote; False when there is nothing to take back.

    A tag is deleted, an untag puts the tag back on, a customer event or deal is deleted.
    """
    if not outcome.created or outcome.row_id is None:
        return False
    if outcome.kind == "untag":
        result = session.execute(
            update(_tag).where(_tag.c.id == outcome.row_id).values(removed_at=None)
        )
    else:
        table = {"tag": _tag, "deal": _deal}.get(outcome.kind, _event)
        result = session.execute(delete(table).where(table.c.id == outcome.row_id))
    undone = bool(getattr(result, "rowcount", 0))
    logger.info("record undone kind=%s row_id=%s undone=%s", outcome.kind, outcome.row_id, undone)
    return undone
