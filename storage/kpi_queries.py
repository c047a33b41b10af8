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
from datetime import datetime, timedelta
from decimal import Decimal
from functools import cache
from typing import Any, NamedTuple

from sqlalchemy import (
    BindParameter,
    ColumnElement,
    CompoundSelect,
    Connection,
    Interval,
    Select,
    String,
    and_,
    bindparam,
    case,
    exists,
    func,
    literal,
    or_,
    select,
    type_coerce,
    union_all,
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
        status: the highest delivery status.
        read_at: when ``read`` was first seen.
        played_at: when ``played`` was first seen.
        last_inbound_at: the customer's last inbound message before the window's end,
            if any; the message was read if that came after it.
    """

    customer_id: int
    contact_start: datetime
    message_id: int
    timestamp: datetime
    status: str | None
    read_at: datetime | None
    played_at: datetime | None
    last_inbound_at: datetime | None


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
    # ``!=`` each rather than NOT IN: an IN list is rendered again on every execution.
    not_reached = and_(*(c.status != status for status in _REACHED_STATUSES))
    failed_unseen = and_(c.failed_at.is_not(None), or_(c.status.is_(None), not_reached))
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


def _in_window(column: Any, start: Any, end: Any) -> ColumnElement[bool]:
    return and_(column >= start, column < end)


def _customer_of_rep(customer_column: Any, rep_column: Any, rep_id: Any) -> ColumnElement[bool]:
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


# Every statement below is built once per shape (and dialect, where the SQL differs) and
# executed with a parameter dict: building a Core statement costs more Python than
# SQLite spends running it, and compute_team runs each one for every rep.
_REP: BindParameter[Any] = bindparam("rep_id")
_START: BindParameter[Any] = bindparam("start")
_END: BindParameter[Any] = bindparam("end")
_CUSTOMERS: BindParameter[Any] = bindparam("customers", expanding=True)


def _bounds(rep_id: int, start: datetime | None, end: datetime) -> dict[str, Any]:
    return {"rep_id": rep_id, "start": start, "end": end}


@cache
def _count_rep_work_query() -> Select[Any]:
    return select(func.count()).where(
        _m("rep_id") == _REP, _in_window(_m("timestamp"), _START, _END), rep_work()
    )


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
    return int(conn.execute(_count_rep_work_query(), _bounds(rep_id, start, end)).scalar_one())


@cache
def _first_outbound_query() -> Select[Any]:
    firsts = (
        select(_m("customer_id").label("customer_id"), func.min(_m("timestamp")).label("first"))
        .where(_m("rep_id") == _REP, _in_window(_m("timestamp"), _START, _END), rep_work())
        .group_by(_m("customer_id"))
        .subquery("firsts")
    )
    reply = _message.alias("reply")
    next_inbound = (
        select(reply.c.timestamp)
        .where(
            reply.c.rep_id == _REP,
            reply.c.customer_id == firsts.c.customer_id,
            reply.c.timestamp > firsts.c.first,
            reply.c.direction == "inbound",
        )
        .order_by(reply.c.timestamp)
        .limit(1)
        .scalar_subquery()
    )
    return select(firsts.c.customer_id, firsts.c.first, next_inbound)


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
    rows = conn.execute(_first_outbound_query(), _bounds(rep_id, start, end))
    return [(int(c), first, reply_at) for c, first, reply_at in rows]


@cache
def _active_customer_ids_query() -> Select[Any]:
    inbound = _m("direction") == "inbound"
    return (
        select(_m("customer_id"))
        .where(
            _m("rep_id") == _REP,
            _in_window(_m("timestamp"), _START, _END),
            or_(inbound, rep_work()),
        )
        .group_by(_m("customer_id"))
        .having(
            and_(
                func.sum(case((inbound, 1), else_=0)) > 0,
                func.sum(case((inbound, 0), else_=1)) > 0,
            )
        )
    )


@cache
def _active_customers_query() -> Select[Any]:
    return select(func.count()).select_from(_active_customer_ids_query().subquery())


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
    query = _active_customers_query()
    return int(conn.execute(query, _bounds(rep_id, start, end)).scalar_one())


def active_customer_ids(
    conn: Connection, rep_id: int, start: datetime, end: datetime
) -> list[int]:
    """The customers :func:`count_active_customers` counts, by id.

    Args:
        conn: an open connection.
        rep_id: the rep.
        start: first instant.
        end: first instant after.

    Returns:
        Customer ids, ascending.
    """
    rows = conn.execute(_active_customer_ids_query(), _bounds(rep_id, start, end)).scalars()
    return sorted(int(customer_id) for customer_id in rows)


def _contact_starts(dialect: str) -> Any:
    """Subquery: customers whose first message with the rep (either direction) is in the
    window, with that first message's time and the customer's last inbound message's."""
    earlier = _message.alias("earlier")
    customer = _m("customer_id")
    no_earlier = ~exists().where(
        earlier.c.rep_id == _REP,
        earlier.c.customer_id == customer,
        earlier.c.timestamp < _START,
    )
    # Every message of such a customer is in the window, so the window's rows give the
    # last inbound message before its end as well.
    last_inbound = func.max(case((_m("direction") == "inbound", _m("timestamp"))))
    grouping = customer
    if dialect == "sqlite":
        # Grouping by the bare column makes SQLite walk the (rep, customer, time) index
        # over the rep's whole history to skip a sort; ``+ 0`` lets it read just the
        # window from the (rep, time) index and sort the few customers in it.
        grouping = customer + 0
    return (
        select(
            customer.label("customer_id"),
            func.min(_m("timestamp")).label("contact_start"),
            last_inbound.label("last_inbound"),
        )
        .where(_m("rep_id") == _REP, _in_window(_m("timestamp"), _START, _END))
        .group_by(grouping)
        .having(no_earlier)
        .subquery("starts")
    )


def _scan_time(dialect: str, column: Any) -> Any:
    """A time column as a scan of many rows reads it: SQLite's stored text, else as typed.

    The column type's conversion (parse, then ``replace(tzinfo=UTC)``) costs several
    times what :func:`_utc_from_text` does, and the long scans run it for every row.
    """
    return type_coerce(column, String) if dialect == "sqlite" else column


def _utc_from_text(stored: str) -> datetime:
    """An aware UTC datetime from SQLite's stored ``YYYY-MM-DD HH:MM:SS.ffffff`` (UTC)."""
    return datetime.fromisoformat(stored + "+00:00")


@cache
def _reach_candidates_query(dialect: str, within: timedelta | None) -> Select[Any]:
    starts = _contact_starts(dialect)
    m = _message.alias("m")
    query = (
        select(
            starts.c.customer_id,
            _scan_time(dialect, starts.c.contact_start),
            m.c.id,
            _scan_time(dialect, m.c.timestamp),
            m.c.status,
            _scan_time(dialect, m.c.read_at),
            _scan_time(dialect, m.c.played_at),
            _scan_time(dialect, starts.c.last_inbound),
        )
        # Each new customer's messages, by the (customer, time) index.
        .join(m, and_(m.c.customer_id == starts.c.customer_id, _of_rep(dialect, True, m)))
        .where(
            m.c.timestamp >= starts.c.contact_start,
            # Implied by the line above; it bounds the index range on PostgreSQL too.
            m.c.timestamp >= _START,
            m.c.timestamp < _END,
            rep_work(m),
            m.c.is_template.is_(False),
        )
        .order_by(m.c.timestamp, m.c.id)
    )
    if within is not None:
        # Without the bound every later message of a new customer is read; the SQL bound
        # is generous, Python's exact.
        query = query.where(m.c.timestamp <= _later_by(dialect, starts.c.contact_start, within))
    return query


def reach_candidates(
    conn: Connection,
    rep_id: int,
    start: datetime,
    end: datetime,
    within: timedelta | None = None,
) -> list[ReachCandidate]:
    """Customers whose contact started in ``[start, end)`` and the rep's non-automated,
    non-template outbound messages to them after contact start and before ``end``.

    Args:
        conn: an open connection.
        rep_id: the rep.
        start: first instant for the contact start.
        end: first instant after; also bounds the messages.
        within: only messages at most this long after contact start; all when None.

    Returns:
        One row per (customer, candidate message), in time order; a customer whose
        contact started in the window but got no such message is absent.
    """
    dialect = conn.dialect.name
    query = _reach_candidates_query(dialect, within)
    rows = conn.execute(query, _bounds(rep_id, start, end)).all()
    if dialect == "sqlite":
        candidates = (_candidate_from_text(row) for row in rows)
    else:
        candidates = (ReachCandidate(*row) for row in rows)
    if within is None:
        return list(candidates)
    return [c for c in candidates if c.timestamp - c.contact_start <= within]


def _candidate_from_text(row: Any) -> ReachCandidate:
    """A reach candidate from a SQLite row whose times are the stored text."""
    customer_id, contact_start, message_id, timestamp, status, *seen = row
    read_at, played_at, last_inbound_at = (
        None if at is None else _utc_from_text(at) for at in seen
    )
    return ReachCandidate(
        customer_id,
        _utc_from_text(contact_start),
        message_id,
        _utc_from_text(timestamp),
        status,
        read_at,
        played_at,
        last_inbound_at,
    )


# Slack on SQL's side of a bound: SQLite's datetime() drops fractions of a second.
_BOUND_SLACK = timedelta(seconds=2)


def _later_by(dialect: str, column: Any, delta: timedelta) -> ColumnElement[Any]:
    """SQL for an instant no earlier than ``column + delta`` (up to 2 s later)."""
    if dialect == "sqlite":
        # Stored as 'YYYY-MM-DD HH:MM:SS.ffffff' text, which compares in time order.
        seconds = (delta + _BOUND_SLACK).total_seconds()
        return func.datetime(column, f"+{seconds} seconds")
    return column + literal(delta + _BOUND_SLACK, Interval())


@cache
def _outbound_keys_query(dialect: str) -> Select[Any]:
    return (
        select(
            _m("id"), _m("customer_id"), _scan_time(dialect, _m("timestamp")), _m("content_key")
        )
        .where(
            _m("rep_id") == _REP,
            _in_window(_m("timestamp"), _START, _END),
            _seen_outbound(),
            _m("content_key").is_not(None),
        )
        # Time order is what broadcast detection needs, and the index gives it without a
        # sort; which of two sends at the same instant comes first changes nothing.
        .order_by(_m("timestamp"))
    )


def outbound_keys(
    conn: Connection, rep_id: int, start: datetime, end: datetime
) -> Iterator[tuple[int, int, datetime, int]]:
    """The rep's seen outbound messages with content in ``[start, end)``, by content key.

    The rows come from the rep-and-time index alone (it holds the key).

    Args:
        conn: an open connection.
        rep_id: the rep.
        start: first instant.
        end: first instant after.

    Returns:
        ``(message_id, customer_id, timestamp, content_key)`` rows in time order (sends
        at the same instant in no set order), read from a fetched list as iterated.
    """
    dialect = conn.dialect.name
    rows = conn.execute(_outbound_keys_query(dialect), _bounds(rep_id, start, end)).all()
    if dialect == "sqlite":
        return ((i, c, _utc_from_text(at), key) for i, c, at, key in rows)
    return ((i, c, at, key) for i, c, at, key in rows)


@cache
def _turn_messages_query(dialect: str, some_customers: bool, active_only: bool) -> Select[Any]:
    inbound = _m("direction") == "inbound"
    query = select(_m("customer_id"), _scan_time(dialect, _m("timestamp")), inbound).where(
        _of_rep(dialect, some_customers),
        _in_window(_m("timestamp"), _START, _END),
        _turn_message(),
    )
    if some_customers:
        query = query.where(_m("customer_id").in_(_CUSTOMERS))
    if active_only:
        later = _message.alias("later")
        active = select(later.c.customer_id).where(
            later.c.rep_id == _REP,
            _in_window(later.c.timestamp, bindparam("active_from"), _END),
            _turn_message(later),
        )
        query = query.where(_m("customer_id").in_(active))
    return query.order_by(_m("customer_id"), _m("timestamp"), _m("id"))


def turn_messages_by_customer(
    conn: Connection,
    rep_id: int,
    start: datetime,
    end: datetime,
    customer_ids: Collection[int] | None = None,
    *,
    active_from: datetime | None = None,
    batch: int = 5000,
) -> Iterator[tuple[int, list[tuple[datetime, bool]]]]:
    """Stream the messages that make turns, one customer at a time, in time order.

    Only one customer's messages are held at a time; rows are fetched ``batch`` at a
    time, since fetching row by row costs more than making the turns.

    Args:
        conn: an open connection.
        rep_id: the rep.
        start: first instant.
        end: first instant after.
        customer_ids: only these customers; all when None.
        active_from: only customers with such a message in ``[active_from, end)``; a
            customer silent there has no turn there. All customers when None.
        batch: rows fetched at a time.

    Yields:
        ``(customer_id, [(timestamp, is_inbound), ...])`` by customer id, each
        customer's messages ordered by time and id.
    """
    params = _bounds(rep_id, start, end)
    if customer_ids is not None:
        params["customers"] = sorted(customer_ids)
    if active_from is not None:
        params["active_from"] = active_from
    dialect = conn.dialect.name
    query = _turn_messages_query(dialect, customer_ids is not None, active_from is not None)
    result = conn.execution_options(stream_results=True, yield_per=batch).execute(query, params)
    as_time = _utc_from_text if dialect == "sqlite" else None
    current: int | None = None
    messages: list[tuple[datetime, bool]] = []
    # One loop over the rows, grouping as it goes: this runs for every message of every
    # rep's lookback and period.
    for rows in result.partitions():
        for customer_id, timestamp, inbound in rows:
            if customer_id != current:
                if current is not None:
                    yield current, messages
                current, messages = customer_id, []
            messages.append((as_time(timestamp) if as_time else timestamp, inbound))
    if current is not None:
        yield current, messages


@cache
def _customers_with_turn_messages_query(dialect: str) -> Select[Any]:
    return (
        select(_m("customer_id"))
        .where(
            _of_rep(dialect, by_customer=True),
            _in_window(_m("timestamp"), _START, _END),
            _m("customer_id").in_(_CUSTOMERS),
            _turn_message(),
        )
        .distinct()
    )


def _of_rep(dialect: str, by_customer: bool, table: Any = _message) -> ColumnElement[bool]:
    """The message is the rep's; with ``by_customer``, for a query that reads a few
    customers' messages (named, or joined from a small set).

    Without statistics SQLite reads such a query, too, by the (rep, time) index (it
    covers every column the scans need), reading the whole window of every customer.
    ``+ 0`` keeps the rep's indexes out: SQLite reads the (customer, time) index, just
    those customers' messages.
    """
    if by_customer and dialect == "sqlite":
        return table.c.rep_id + 0 == _REP
    return table.c.rep_id == _REP


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
    params = {**_bounds(rep_id, start, end), "customers": sorted(customer_ids)}
    query = _customers_with_turn_messages_query(conn.dialect.name)
    return {int(row[0]) for row in conn.execute(query, params)}


def _filter_params(
    rep_id: int, start: datetime | None, end: datetime, customer_ids: Collection[int] | None
) -> dict[str, Any]:
    """Parameters for a statement of :func:`_message_filters` (or one shaped like it)."""
    params = _bounds(rep_id, start, end)
    if customer_ids is not None:
        params["customers"] = sorted(customer_ids)
    return params


def quote_signals(
    conn: Connection,
    rep_id: int,
    start: datetime | None,
    end: datetime,
    customer_ids: Collection[int] | None = None,
) -> list[QuoteSignal]:
    """Everything that may be a quote request for the rep's customers before ``end``.

    Inbound messages with a text or caption, the rep's seen outbound documents, and
    recorded quotes (``customer_event`` kind quote); messages whose stored
    ``quote_request`` flag is false are left out, since reading them finds nothing.

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
        *_message_signals(conn, "inbound", rep_id, start, end, customer_ids),
        *_message_signals(conn, "document", rep_id, start, end, customer_ids),
        *(
            QuoteSignal(customer_id, at, "event", None, None)
            for customer_id, at in customer_events(conn, rep_id, "quote", start, end, customer_ids)
        ),
    ]
    signals.sort(key=lambda signal: signal.timestamp)
    return signals


@cache
def _quote_firsts_query(dialect: str) -> CompoundSelect[Any]:
    # The time bound is inside the aggregate, not in WHERE: a bound there makes SQLite
    # (without ANALYZE statistics) prefer the (rep, time) index and read the rep's whole
    # history, where (rep, flag, direction) reads only the flagged rows.
    before_end = case((_m("timestamp") < _END, _m("timestamp")))
    flagged = (_m("rep_id") == _REP, _m("quote_request").is_(True))
    # A true flag on an inbound row means its text or caption asks for a price, so that
    # part comes from the index alone; an outbound one must still have been seen.
    first = _scan_time(dialect, func.min(before_end))
    inbound = select(_m("customer_id"), first).where(*flagged, _m("direction") == "inbound")
    documents = select(_m("customer_id"), first).where(
        *flagged, _m("direction") == "outbound", _document_signal()
    )
    return union_all(*(part.group_by(_m("customer_id")) for part in (inbound, documents)))


def quote_request_firsts(
    conn: Connection, rep_id: int, end: datetime
) -> tuple[dict[int, datetime], list[QuoteSignal]]:
    """Per customer of the rep, the first known quote request before ``end``.

    Messages whose stored ``quote_request`` flag says so and recorded quotes are
    aggregated in SQL; messages whose flag is unknown (NULL) are returned for the caller
    to read.

    Args:
        conn: an open connection.
        rep_id: the rep.
        end: first instant after.

    Returns:
        ``(first quote request time per customer, signals with an unknown flag)``.
    """
    firsts: dict[int, datetime] = {}
    dialect = conn.dialect.name
    rows = conn.execute(_quote_firsts_query(dialect), {"rep_id": rep_id, "end": end}).all()
    flagged: list[tuple[int, datetime | None]] = [(c, at) for c, at in rows]
    if dialect == "sqlite":
        flagged = [(c, None if at is None else _utc_from_text(at)) for c, at in rows]
    events = customer_events(conn, rep_id, "quote", None, end)
    for customer_id, at in [*flagged, *events]:
        if at is not None and (customer_id not in firsts or at < firsts[customer_id]):
            firsts[int(customer_id)] = at
    return firsts, _unflagged_signals(conn, rep_id, end)


@cache
def _unflagged_query() -> Select[Any]:
    inbound = _m("direction") == "inbound"
    return select(
        _m("customer_id"),
        _m("timestamp"),
        case((inbound, literal("inbound")), else_=literal("document")),
        case((inbound, _m("text")), else_=_m("filename")),
        _m("caption"),
    ).where(
        _m("rep_id") == _REP,
        _m("quote_request").is_(None),
        or_(_inbound_signal(), _document_signal()),
    )


def _unflagged_signals(conn: Connection, rep_id: int, end: datetime) -> list[QuoteSignal]:
    """The rep's inbound texts and seen documents before ``end`` whose flag is unknown."""
    # Bounded here for the same reason as the flagged rows: few rows have no flag.
    rows = conn.execute(_unflagged_query(), {"rep_id": rep_id})
    signals = [QuoteSignal(*row) for row in rows if row[1] < end]
    signals.sort(key=lambda signal: signal.timestamp)
    return signals


def _inbound_signal() -> ColumnElement[bool]:
    """Inbound messages with a text or caption to read."""
    return and_(
        _m("direction") == "inbound",
        or_(_m("text").is_not(None), _m("caption").is_not(None)),
    )


def _document_signal() -> ColumnElement[bool]:
    """The rep's seen outbound documents."""
    return and_(_seen_outbound(), _m("type") == "document")


def _message_filters(bounded_below: bool, some_customers: bool) -> list[ColumnElement[bool]]:
    filters = [
        _m("rep_id") == _REP,
        _m("timestamp") < _END,
        # A row whose stored flag says "no quote request" needs no reading: the flag is
        # the lexicon's verdict on the same content (bot.quotes.is_quote_content).
        _m("quote_request").is_not(False),
    ]
    if bounded_below:
        filters.append(_m("timestamp") >= _START)
    if some_customers:
        filters.append(_m("customer_id").in_(_CUSTOMERS))
    return filters


@cache
def _message_signals_query(kind: str, bounded_below: bool, some_customers: bool) -> Select[Any]:
    # An inbound message is read for its text, an outbound document for its file name.
    inbound = kind == "inbound"
    words, signal = (
        (_m("text"), _inbound_signal()) if inbound else (_m("filename"), _document_signal())
    )
    return select(_m("customer_id"), _m("timestamp"), literal(kind), words, _m("caption")).where(
        *_message_filters(bounded_below, some_customers), signal
    )


def _message_signals(
    conn: Connection,
    kind: str,
    rep_id: int,
    start: datetime | None,
    end: datetime,
    customer_ids: Collection[int] | None,
) -> Iterator[QuoteSignal]:
    """The ``inbound`` texts or outbound ``document`` names that may ask for a quote."""
    query = _message_signals_query(kind, start is not None, customer_ids is not None)
    params = _filter_params(rep_id, start, end, customer_ids)
    result = conn.execution_options(stream_results=True, yield_per=5000).execute(query, params)
    for row in result:
        yield QuoteSignal(*row)


@cache
def _customer_events_query(bounded_below: bool, some_customers: bool) -> Select[Any]:
    e = _event.c
    query = select(e.customer_id, e.occurred_at).where(
        e.kind == bindparam("kind"),
        e.occurred_at < _END,
        _customer_of_rep(e.customer_id, e.rep_id, _REP),
    )
    if bounded_below:
        query = query.where(e.occurred_at >= _START)
    if some_customers:
        query = query.where(e.customer_id.in_(_CUSTOMERS))
    return query.order_by(e.occurred_at)


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
    query = _customer_events_query(start is not None, customer_ids is not None)
    params = {**_filter_params(rep_id, start, end, customer_ids), "kind": kind}
    return [(int(c), at) for c, at in conn.execute(query, params)]


@cache
def _high_intent_query() -> Select[Any]:
    t = _tag.c
    return (
        select(t.customer_id, t.tagged_at)
        .where(
            t.tag == HIGH_INTENT_TAG,
            _in_window(t.tagged_at, _START, _END),
            _customer_of_rep(t.customer_id, t.rep_id, _REP),
        )
        .order_by(t.tagged_at)
    )


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
    rows = conn.execute(_high_intent_query(), _bounds(rep_id, start, end))
    return [(int(c), at) for c, at in rows]


@cache
def _deals_query(bounded_below: bool, some_customers: bool) -> Select[Any]:
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
    ).where(d.closed_at < _END, _customer_of_rep(d.customer_id, d.rep_id, _REP))
    if bounded_below:
        query = query.where(d.closed_at >= _START)
    if some_customers:
        query = query.where(d.customer_id.in_(_CUSTOMERS))
    return query.order_by(d.closed_at, d.id)


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
    query = _deals_query(start is not None, customer_ids is not None)
    rows = conn.execute(query, _filter_params(rep_id, start, end, customer_ids))
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


@cache
def _red_line_query() -> Select[Any]:
    a, n = _account.c, _number.c
    numbers = select(n.id).where(n.rep_id == _REP)
    phone_ids = select(n.phone_number_id).where(n.rep_id == _REP)
    displays = select(n.display_number).where(n.rep_id == _REP, n.display_number.is_not(None))
    wabas = select(n.waba_id).where(n.rep_id == _REP, n.waba_id.is_not(None))
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
    return (
        select(a.kind, a.event, a.occurred_at)
        .where(
            a.kind.in_(bindparam("kinds", expanding=True)),
            _in_window(a.occurred_at, _START, _END),
            concerns_rep,
        )
        .order_by(a.occurred_at)
    )


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
    params = {**_bounds(rep_id, start, end), "kinds": list(kinds)}
    return [(kind, event, at) for kind, event, at in conn.execute(_red_line_query(), params)]
