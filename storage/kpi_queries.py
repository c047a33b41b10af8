"""The queries behind the KPI engine: narrow rows and aggregates, never ORM objects.

:mod:`bot.metrics` computes every KPI from what these functions return. They filter and
aggregate in SQL and hand back plain tuples; the one sequential pass that SQL cannot
express portably (turns and conversations) gets a stream of ``(customer, time,
direction)`` rows per rep. Every function takes a Core :class:`~sqlalchemy.Connection`
and half-open time bounds ``[start, end)`` as aware datetimes.

What counts as a message, for every metric:

- an outbound message that was **revoked**, or **failed** without reaching ``delivered``,
  was never seen by the customer and is left out;
- an outbound **reaction** is not a message of the rep's;
- the rep's **work** is the remaining outbound messages that are not automated.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Iterator, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any, NamedTuple

from sqlalchemy import (
    ColumnElement,
    Connection,
    and_,
    case,
    exists,
    func,
    literal,
    or_,
    select,
)

from storage.models import (
    AccountEvent,
    BusinessNumber,
    CustomerEvent,
    CustomerTag,
    Deal,
    Message,
    Rep,
)

logger = logging.getLogger(__name__)

_message = Message.__table__  # type: ignore[attr-defined]
_number = BusinessNumber.__table__  # type: ignore[attr-defined]
_event = CustomerEvent.__table__  # type: ignore[attr-defined]
_tag = CustomerTag.__table__  # type: ignore[attr-defined]
_deal = Deal.__table__  # type: ignore[attr-defined]
_account = AccountEvent.__table__  # type: ignore[attr-defined]
_rep = Rep.__table__  # type: ignore[attr-defined]

_REACHED_STATUSES = ("delivered", "read", "played")
HIGH_INTENT_TAG = "high-intent"


class RepRow(NamedTuple):
    """A rep as the engine needs it."""

    id: int
    name: str
    role: str
    seniority: str
    hire_date: Any
    active: bool


class ReachCandidate(NamedTuple):
    """An outbound message that may make a customer effectively reached.

    Attributes:
        customer_id: the customer.
        contact_start: the first message, either direction, between rep and customer.
        message_id: the outbound message.
        timestamp: when it was sent.
        content: text, else caption, else file name (for broadcast detection).
        status: the highest delivery status.
        read_at: when ``read`` was first seen.
        played_at: when ``played`` was first seen.
        next_inbound_at: the customer's first inbound message after it, if any.
    """

    customer_id: int
    contact_start: datetime
    message_id: int
    timestamp: datetime
    content: str | None
    status: str | None
    read_at: datetime | None
    played_at: datetime | None
    next_inbound_at: datetime | None


class OutboundContent(NamedTuple):
    """An outbound message with content, for grouping identical sends (broadcasts)."""

    message_id: int
    customer_id: int
    timestamp: datetime
    content: str


class QuoteSignal(NamedTuple):
    """Something that may be a quote request: text to read, or an explicit record.

    ``kind`` is ``inbound`` (``text`` to match against the lexicon), ``document`` (an
    outbound document: ``text`` is the file name, ``caption`` its caption) or ``event``
    (a recorded quote: always a quote request).
    """

    customer_id: int
    timestamp: datetime
    kind: str
    text: str | None
    caption: str | None


class DealRow(NamedTuple):
    """A deal as the result metrics read it."""

    id: int
    customer_id: int
    amount: Decimal
    currency: str
    margin: float | None
    closed_at: datetime
    referred_by_customer_id: int | None
    bought_before: bool


def _m(name: str) -> Any:
    return _message.c[name]


def _seen_outbound(table: Any = _message) -> ColumnElement[bool]:
    """Outbound messages the customer could have seen (not revoked, not failed)."""
    c = table.c
    failed_unseen = and_(
        c.failed_at.is_not(None),
        or_(c.status.is_(None), c.status.not_in(_REACHED_STATUSES)),
    )
    return and_(
        c.direction == "outbound",
        c.revoked_at.is_(None),
        ~failed_unseen,
        c.type != "reaction",
    )


def rep_work(table: Any = _message) -> ColumnElement[bool]:
    """SQL for the rep's work: seen outbound messages that are not automated."""
    return and_(_seen_outbound(table), table.c.is_automated.is_(False))


def _turn_message(table: Any = _message) -> ColumnElement[bool]:
    """Messages that make turns: the rep's work and the customer's non-reaction messages."""
    c = table.c
    return or_(and_(c.direction == "inbound", c.type != "reaction"), rep_work(table))


def _in_window(column: Any, start: datetime, end: datetime) -> ColumnElement[bool]:
    return and_(column >= start, column < end)


def _customer_of_rep(customer_column: Any, rep_column: Any, rep_id: int) -> ColumnElement[bool]:
    """A record names the rep, or names no rep and is about one of the rep's customers."""
    talked = exists().where(_m("rep_id") == rep_id, _m("customer_id") == customer_column)
    return or_(rep_column == rep_id, and_(rep_column.is_(None), talked))


def reps(conn: Connection, *, include_managers: bool = False) -> list[RepRow]:
    """The active reps, by name.

    Args:
        conn: an open connection.
        include_managers: also list managers.

    Returns:
        Reps ordered by name.
    """
    r = _rep.c
    query = select(r.id, r.name, r.role, r.seniority, r.hire_date, r.active).where(
        r.active.is_(True)
    )
    if not include_managers:
        query = query.where(r.role == "rep")
    return [RepRow(*row) for row in conn.execute(query.order_by(r.name))]


def rep_by_name(conn: Connection, name: str) -> RepRow | None:
    """The rep called ``name`` (case-insensitive), or None.

    Args:
        conn: an open connection.
        name: the rep's name.

    Returns:
        The rep, or None when no rep has that name.
    """
    r = _rep.c
    row = conn.execute(
        select(r.id, r.name, r.role, r.seniority, r.hire_date, r.active).where(
            func.lower(r.name) == name.lower()
        )
    ).first()
    return RepRow(*row) if row else None


def rep_by_id(conn: Connection, rep_id: int) -> RepRow | None:
    """The rep with id ``rep_id``, or None.

    Args:
        conn: an open connection.
        rep_id: the rep's id.

    Returns:
        The rep, or None.
    """
    r = _rep.c
    row = conn.execute(
        select(r.id, r.name, r.role, r.seniority, r.hire_date, r.active).where(r.id == rep_id)
    ).first()
    return RepRow(*row) if row else None


def count_rep_work(conn: Connection, rep_id: int, start: datetime, end: datetime) -> int:
    """How many outbound, non-automated messages the rep sent in ``[start, end)``.

    Args:
        conn: an open connection.
        rep_id: the rep.
        start: first instant.
        end: first instant after.

    Returns:
        The count.
    """
    query = select(func.count()).where(
        _m("rep_id") == rep_id, _in_window(_m("timestamp"), start, end), rep_work()
    )
    return int(conn.execute(query).scalar_one())


def first_outbound_and_next_inbound(
    conn: Connection, rep_id: int, start: datetime, end: datetime
) -> list[tuple[int, datetime, datetime | None]]:
    """Per customer the rep messaged in ``[start, end)``: the first such message and the
    customer's first inbound message after it.

    Args:
        conn: an open connection.
        rep_id: the rep.
        start: first instant.
        end: first instant after.

    Returns:
        ``(customer_id, first_outbound_at, next_inbound_at or None)`` rows; the inbound
        message may be at any later time, the caller bounds it.
    """
    firsts = (
        select(_m("customer_id").label("customer_id"), func.min(_m("timestamp")).label("first"))
        .where(_m("rep_id") == rep_id, _in_window(_m("timestamp"), start, end), rep_work())
        .group_by(_m("customer_id"))
        .subquery("firsts")
    )
    reply = _message.alias("reply")
    next_inbound = (
        select(reply.c.timestamp)
        .where(
            reply.c.rep_id == rep_id,
            reply.c.customer_id == firsts.c.customer_id,
            reply.c.timestamp > firsts.c.first,
            reply.c.direction == "inbound",
        )
        .order_by(reply.c.timestamp)
        .limit(1)
        .scalar_subquery()
    )
    rows = conn.execute(select(firsts.c.customer_id, firsts.c.first, next_inbound))
    return [(int(c), first, reply_at) for c, first, reply_at in rows]


def count_active_customers(conn: Connection, rep_id: int, start: datetime, end: datetime) -> int:
    """Distinct customers with at least one outbound (rep's work) and one inbound message
    in ``[start, end)``.

    Args:
        conn: an open connection.
        rep_id: the rep.
        start: first instant.
        end: first instant after.

    Returns:
        The count.
    """
    inbound = _m("direction") == "inbound"
    per_customer = (
        select(_m("customer_id"))
        .where(
            _m("rep_id") == rep_id,
            _in_window(_m("timestamp"), start, end),
            or_(inbound, rep_work()),
        )
        .group_by(_m("customer_id"))
        .having(
            and_(
                func.sum(case((inbound, 1), else_=0)) > 0,
                func.sum(case((inbound, 0), else_=1)) > 0,
            )
        )
        .subquery()
    )
    return int(conn.execute(select(func.count()).select_from(per_customer)).scalar_one())


def _contact_starts(rep_id: int, start: datetime, end: datetime) -> Any:
    """Subquery: customers whose first message with the rep (either direction) is in the window."""
    earlier = _message.alias("earlier")
    customer = _m("customer_id")
    no_earlier = ~exists().where(
        earlier.c.rep_id == rep_id,
        earlier.c.customer_id == customer,
        earlier.c.timestamp < start,
    )
    return (
        select(customer.label("customer_id"), func.min(_m("timestamp")).label("contact_start"))
        .where(_m("rep_id") == rep_id, _in_window(_m("timestamp"), start, end))
        .group_by(customer)
        .having(no_earlier)
        .subquery("starts")
    )


def _content(table: Any) -> ColumnElement[Any]:
    return func.coalesce(table.c.text, table.c.caption, table.c.filename)


def reach_candidates(
    conn: Connection, rep_id: int, start: datetime, end: datetime
) -> list[ReachCandidate]:
    """Customers whose contact started in ``[start, end)`` and the rep's non-automated,
    non-template outbound messages to them after contact start and before ``end``.

    Args:
        conn: an open connection.
        rep_id: the rep.
        start: first instant for the contact start.
        end: first instant after; also bounds the messages.

    Returns:
        One row per (customer, candidate message), in time order; a customer whose
        contact started in the window but got no such message is absent.
    """
    starts = _contact_starts(rep_id, start, end)
    m = _message.alias("m")
    reply = _message.alias("reply")
    next_inbound = (
        select(reply.c.timestamp)
        .where(
            reply.c.rep_id == rep_id,
            reply.c.customer_id == m.c.customer_id,
            reply.c.timestamp > m.c.timestamp,
            reply.c.direction == "inbound",
        )
        .order_by(reply.c.timestamp)
        .limit(1)
        .scalar_subquery()
    )
    query = (
        select(
            starts.c.customer_id,
            starts.c.contact_start,
            m.c.id,
            m.c.timestamp,
            _content(m),
            m.c.status,
            m.c.read_at,
            m.c.played_at,
            next_inbound,
        )
        .join(m, and_(m.c.customer_id == starts.c.customer_id, m.c.rep_id == rep_id))
        .where(
            m.c.timestamp >= starts.c.contact_start,
            m.c.timestamp < end,
            rep_work(m),
            m.c.is_template.is_(False),
        )
        .order_by(m.c.timestamp, m.c.id)
    )
    return [ReachCandidate(*row) for row in conn.execute(query)]


def outbound_contents(
    conn: Connection, rep_id: int, start: datetime, end: datetime
) -> list[OutboundContent]:
    """The rep's seen outbound messages with a text, caption or file name in ``[start, end)``.

    Args:
        conn: an open connection.
        rep_id: the rep.
        start: first instant.
        end: first instant after.

    Returns:
        Rows in time order.
    """
    query = (
        select(_m("id"), _m("customer_id"), _m("timestamp"), _content(_message))
        .where(
            _m("rep_id") == rep_id,
            _in_window(_m("timestamp"), start, end),
            _seen_outbound(),
            _content(_message).is_not(None),
        )
        .order_by(_m("timestamp"), _m("id"))
    )
    return [OutboundContent(*row) for row in conn.execute(query)]


def stream_turn_messages(
    conn: Connection,
    rep_id: int,
    start: datetime,
    end: datetime,
    customer_ids: Collection[int] | None = None,
    *,
    batch: int = 5000,
) -> Iterator[tuple[int, datetime, bool]]:
    """Stream the messages that make turns, per customer in time order.

    Args:
        conn: an open connection.
        rep_id: the rep.
        start: first instant.
        end: first instant after.
        customer_ids: only these customers; all when None.
        batch: rows fetched at a time.

    Yields:
        ``(customer_id, timestamp, is_inbound)``, ordered by customer, time and id.
    """
    query = select(_m("customer_id"), _m("timestamp"), _m("direction") == "inbound").where(
        _m("rep_id") == rep_id, _in_window(_m("timestamp"), start, end), _turn_message()
    )
    if customer_ids is not None:
        query = query.where(_m("customer_id").in_(sorted(customer_ids)))
    query = query.order_by(_m("customer_id"), _m("timestamp"), _m("id"))
    result = conn.execution_options(stream_results=True, yield_per=batch).execute(query)
    for customer_id, timestamp, inbound in result:
        yield int(customer_id), timestamp, bool(inbound)


def customers_with_turn_messages(
    conn: Connection, rep_id: int, start: datetime, end: datetime, customer_ids: Collection[int]
) -> set[int]:
    """Which of ``customer_ids`` have a turn message with the rep in ``[start, end)``.

    Args:
        conn: an open connection.
        rep_id: the rep.
        start: first instant.
        end: first instant after.
        customer_ids: the customers to check.

    Returns:
        The subset that has one.
    """
    if not customer_ids:
        return set()
    query = (
        select(_m("customer_id"))
        .where(
            _m("rep_id") == rep_id,
            _in_window(_m("timestamp"), start, end),
            _m("customer_id").in_(sorted(customer_ids)),
            _turn_message(),
        )
        .distinct()
    )
    return {int(row[0]) for row in conn.execute(query)}


def quote_signals(
    conn: Connection,
    rep_id: int,
    start: datetime | None,
    end: datetime,
    customer_ids: Collection[int] | None = None,
) -> list[QuoteSignal]:
    """Everything that may be a quote request for the rep's customers before ``end``.

    Inbound messages with a text or caption, the rep's seen outbound documents, and
    recorded quotes (``customer_event`` kind quote).

    Args:
        conn: an open connection.
        rep_id: the rep.
        start: first instant, or None for all history.
        end: first instant after.
        customer_ids: only these customers; all the rep's when None.

    Returns:
        Signals in time order; the caller reads the texts.
    """
    signals = [
        *_inbound_text_signals(conn, rep_id, start, end, customer_ids),
        *_document_signals(conn, rep_id, start, end, customer_ids),
        *(
            QuoteSignal(customer_id, at, "event", None, None)
            for customer_id, at in customer_events(conn, rep_id, "quote", start, end, customer_ids)
        ),
    ]
    signals.sort(key=lambda signal: signal.timestamp)
    return signals


def _message_filters(
    rep_id: int, start: datetime | None, end: datetime, customer_ids: Collection[int] | None
) -> list[ColumnElement[bool]]:
    filters = [_m("rep_id") == rep_id, _m("timestamp") < end]
    if start is not None:
        filters.append(_m("timestamp") >= start)
    if customer_ids is not None:
        filters.append(_m("customer_id").in_(sorted(customer_ids)))
    return filters


def _inbound_text_signals(
    conn: Connection,
    rep_id: int,
    start: datetime | None,
    end: datetime,
    customer_ids: Collection[int] | None,
) -> Iterator[QuoteSignal]:
    query = select(
        _m("customer_id"), _m("timestamp"), literal("inbound"), _m("text"), _m("caption")
    ).where(
        *_message_filters(rep_id, start, end, customer_ids),
        _m("direction") == "inbound",
        or_(_m("text").is_not(None), _m("caption").is_not(None)),
    )
    result = conn.execution_options(stream_results=True, yield_per=5000).execute(query)
    for row in result:
        yield QuoteSignal(*row)


def _document_signals(
    conn: Connection,
    rep_id: int,
    start: datetime | None,
    end: datetime,
    customer_ids: Collection[int] | None,
) -> list[QuoteSignal]:
    query = select(
        _m("customer_id"), _m("timestamp"), literal("document"), _m("filename"), _m("caption")
    ).where(
        *_message_filters(rep_id, start, end, customer_ids),
        _seen_outbound(),
        _m("type") == "document",
    )
    return [QuoteSignal(*row) for row in conn.execute(query)]


def customer_events(
    conn: Connection,
    rep_id: int,
    kind: str,
    start: datetime | None,
    end: datetime,
    customer_ids: Collection[int] | None = None,
) -> list[tuple[int, datetime]]:
    """Recorded events of ``kind`` (quote, sample, complaint) about the rep's customers.

    An event counts for the rep it names or, when it names none, for every rep who has
    messages with that customer.

    Args:
        conn: an open connection.
        rep_id: the rep.
        kind: quote, sample or complaint.
        start: first instant, or None for all history.
        end: first instant after.
        customer_ids: only these customers; all when None.

    Returns:
        ``(customer_id, occurred_at)`` rows in time order.
    """
    e = _event.c
    query = select(e.customer_id, e.occurred_at).where(
        e.kind == kind, e.occurred_at < end, _customer_of_rep(e.customer_id, e.rep_id, rep_id)
    )
    if start is not None:
        query = query.where(e.occurred_at >= start)
    if customer_ids is not None:
        query = query.where(e.customer_id.in_(sorted(customer_ids)))
    return [(int(c), at) for c, at in conn.execute(query.order_by(e.occurred_at))]


def high_intent_tags(
    conn: Connection, rep_id: int, start: datetime, end: datetime
) -> list[tuple[int, datetime]]:
    """``high-intent`` tags put on the rep's customers in ``[start, end)``.

    Removed tags are kept: removing a tag does not undo that it was put.

    Args:
        conn: an open connection.
        rep_id: the rep.
        start: first instant for ``tagged_at``.
        end: first instant after.

    Returns:
        ``(customer_id, tagged_at)`` rows in time order.
    """
    t = _tag.c
    query = (
        select(t.customer_id, t.tagged_at)
        .where(
            t.tag == HIGH_INTENT_TAG,
            _in_window(t.tagged_at, start, end),
            _customer_of_rep(t.customer_id, t.rep_id, rep_id),
        )
        .order_by(t.tagged_at)
    )
    return [(int(c), at) for c, at in conn.execute(query)]


def deals(
    conn: Connection,
    rep_id: int,
    start: datetime | None,
    end: datetime,
    customer_ids: Collection[int] | None = None,
) -> list[DealRow]:
    """The rep's deals closed in ``[start, end)``.

    Args:
        conn: an open connection.
        rep_id: the rep.
        start: first instant, or None for all history.
        end: first instant after.
        customer_ids: only these customers; all when None.

    Returns:
        Deals in closing order; ``bought_before`` says whether the customer had closed
        an earlier deal (with any rep).
    """
    d = _deal.c
    earlier = _deal.alias("earlier")
    bought_before = exists().where(
        earlier.c.customer_id == d.customer_id, earlier.c.closed_at < d.closed_at
    )
    query = select(
        d.id,
        d.customer_id,
        d.amount,
        d.currency,
        d.margin,
        d.closed_at,
        d.referred_by_customer_id,
        bought_before,
    ).where(d.closed_at < end, _customer_of_rep(d.customer_id, d.rep_id, rep_id))
    if start is not None:
        query = query.where(d.closed_at >= start)
    if customer_ids is not None:
        query = query.where(d.customer_id.in_(sorted(customer_ids)))
    rows = conn.execute(query.order_by(d.closed_at, d.id))
    return [
        DealRow(
            id=row[0],
            customer_id=row[1],
            amount=row[2],
            currency=row[3],
            margin=row[4],
            closed_at=row[5],
            referred_by_customer_id=row[6],
            bought_before=bool(row[7]),
        )
        for row in rows
    ]


def red_line_events(
    conn: Connection, rep_id: int, kinds: Sequence[str], start: datetime, end: datetime
) -> list[tuple[str, str, datetime]]:
    """Account events of ``kinds`` in ``[start, end)`` that concern one of the rep's numbers.

    An event concerns a number when it names it (resolved id, Meta's phone number id or
    display number), or when it names no number and is for the number's WABA.

    Args:
        conn: an open connection.
        rep_id: the rep.
        kinds: account event kinds (ban, quality_flag …).
        start: first instant.
        end: first instant after.

    Returns:
        ``(kind, Meta's event name, occurred_at)`` rows in time order.
    """
    a, n = _account.c, _number.c
    numbers = select(n.id).where(n.rep_id == rep_id)
    phone_ids = select(n.phone_number_id).where(n.rep_id == rep_id)
    displays = select(n.display_number).where(n.rep_id == rep_id, n.display_number.is_not(None))
    wabas = select(n.waba_id).where(n.rep_id == rep_id, n.waba_id.is_not(None))
    names_no_number = and_(
        a.business_number_id.is_(None), a.phone_number_id.is_(None), a.display_number.is_(None)
    )
    concerns_rep = or_(
        a.business_number_id.in_(numbers),
        and_(a.business_number_id.is_(None), a.phone_number_id.in_(phone_ids)),
        and_(
            a.business_number_id.is_(None),
            a.phone_number_id.is_(None),
            a.display_number.in_(displays),
        ),
        and_(names_no_number, a.waba_id.in_(wabas)),
    )
    query = (
        select(a.kind, a.event, a.occurred_at)
        .where(a.kind.in_(list(kinds)), _in_window(a.occurred_at, start, end), concerns_rep)
        .order_by(a.occurred_at)
    )
    return [(kind, event, at) for kind, event, at in conn.execute(query)]
