"""The queries behind the push messages: who gets them, and what just happened.

:mod:`bot.push` decides what to send; these functions read the store for it: teams,
their managers and reps with a linked Telegram account, recent deals and account events,
high-intent customers and when the rep last wrote to them, and the last messages of
each conversation. Every function takes a Core :class:`~sqlalchemy.Connection` and
aware datetimes.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import Connection, and_, func, or_, select

from storage.kpi_queries import HIGH_INTENT_TAG, rep_work
from storage.models import (
    AccountEvent,
    BusinessNumber,
    Customer,
    CustomerTag,
    Deal,
    Message,
    Rep,
    RepSetting,
    Team,
    TeamSetting,
    TelegramTeamChat,
)

logger = logging.getLogger(__name__)

_team = Team.__table__  # type: ignore[attr-defined]
_rep = Rep.__table__  # type: ignore[attr-defined]
_deal = Deal.__table__  # type: ignore[attr-defined]
_account = AccountEvent.__table__  # type: ignore[attr-defined]
_number = BusinessNumber.__table__  # type: ignore[attr-defined]
_tag = CustomerTag.__table__  # type: ignore[attr-defined]
_message = Message.__table__  # type: ignore[attr-defined]
_customer = Customer.__table__  # type: ignore[attr-defined]
_chat = TelegramTeamChat.__table__  # type: ignore[attr-defined]
_team_setting = TeamSetting.__table__  # type: ignore[attr-defined]
_rep_setting = RepSetting.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True, slots=True)
class Person:
    """A rep or manager who can get pushes: ``chat_id`` is their Telegram user id."""

    rep_id: int
    name: str
    role: str
    team_id: int | None
    chat_id: int | None
    language: str | None


@dataclass(frozen=True, slots=True)
class TeamRow:
    """A team, its Telegram group (if bound) and the settings changed in Telegram."""

    id: int
    name: str
    chat_id: int | None
    overrides: dict[str, str]


@dataclass(frozen=True, slots=True)
class RecentDeal:
    """A deal recorded recently."""

    id: int
    rep_id: int
    amount: Decimal
    currency: str
    closed_at: datetime


@dataclass(frozen=True, slots=True)
class RepAccountEvent:
    """An account event and one rep whose number it concerns."""

    id: int
    kind: str
    event: str
    occurred_at: datetime
    rep_id: int
    display_number: str | None


@dataclass(frozen=True, slots=True)
class HighIntent:
    """A customer with an active ``high-intent`` tag and when the rep last wrote to them."""

    customer_id: int
    rep_id: int
    tagged_at: datetime
    last_outbound_at: datetime | None


def teams(conn: Connection) -> list[TeamRow]:
    """Every team, by id, with its chat and its Telegram setting overrides."""
    t, c, s = _team.c, _chat.c, _team_setting.c
    rows = conn.execute(
        select(t.id, t.name, c.chat_id).select_from(_team.outerjoin(_chat, c.team_id == t.id))
    ).all()
    overrides: dict[int, dict[str, str]] = {}
    for team_id, key, value in conn.execute(select(s.team_id, s.key, s.value)):
        overrides.setdefault(int(team_id), {})[key] = value
    return [
        TeamRow(int(r.id), r.name, r.chat_id, overrides.get(int(r.id), {}))
        for r in sorted(rows, key=lambda r: r.id)
    ]


def people(conn: Connection, team_id: int | None = None) -> list[Person]:
    """The active reps and managers (of ``team_id`` when given), by name, with language."""
    r, s = _rep.c, _rep_setting.c
    language = select(s.value).where(s.rep_id == r.id, s.key == "language").scalar_subquery()
    query = (
        select(r.id, r.name, r.role, r.team_id, r.telegram_user_id, language.label("lang"))
        .where(r.active.is_(True))
        .order_by(r.name)
    )
    if team_id is not None:
        query = query.where(r.team_id == team_id)
    return [
        Person(int(row.id), row.name, row.role, row.team_id, row.telegram_user_id, row.lang)
        for row in conn.execute(query)
    ]


def team_reps(conn: Connection, team_id: int | None) -> list[Person]:
    """The active reps (managers left out) of ``team_id``, or of the whole store when it is
    None, by name, with language."""
    return [person for person in people(conn, team_id) if person.role == "rep"]


def recent_deals(conn: Connection, since: datetime, until: datetime) -> list[RecentDeal]:
    """Deals closed and recorded in ``[since, until)`` that name a rep, oldest first."""
    d = _deal.c
    query = (
        select(d.id, d.rep_id, d.amount, d.currency, d.closed_at)
        .where(
            d.rep_id.is_not(None),
            d.closed_at >= since,
            d.closed_at < until,
            d.created_at >= since,
        )
        .order_by(d.closed_at, d.id)
    )
    return [
        RecentDeal(int(r.id), int(r.rep_id), r.amount, r.currency, r.closed_at)
        for r in conn.execute(query)
    ]


def recent_account_events(
    conn: Connection, kinds: Collection[str], since: datetime, until: datetime
) -> list[RepAccountEvent]:
    """Account events of ``kinds`` that happened before ``until`` and happened, or were
    recorded, since ``since``; once per rep concerned.

    An event concerns a rep's number when it names it (resolved id, Meta's phone number
    id or display number), or when it names no number and is for the number's WABA.

    Args:
        conn: an open connection.
        kinds: account event kinds (ban, restriction, quality_flag …).
        since: first instant of ``occurred_at`` or ``created_at``.
        until: first instant after, of ``occurred_at``.

    Returns:
        One row per (event, rep), oldest first.
    """
    a, n = _account.c, _number.c
    no_number = and_(
        a.business_number_id.is_(None), a.phone_number_id.is_(None), a.display_number.is_(None)
    )
    concerns = or_(
        a.business_number_id == n.id,
        and_(a.business_number_id.is_(None), a.phone_number_id == n.phone_number_id),
        and_(
            a.business_number_id.is_(None),
            a.phone_number_id.is_(None),
            a.display_number == n.display_number,
        ),
        and_(no_number, a.waba_id == n.waba_id),
    )
    query = (
        select(a.id, a.kind, a.event, a.occurred_at, n.rep_id, n.display_number)
        .select_from(_account.join(_number, concerns))
        .where(
            a.kind.in_(list(kinds)),
            a.occurred_at < until,
            # Recent, or recent to kpibot (a late delivery of an older event).
            or_(a.occurred_at >= since, a.created_at >= since),
            n.rep_id.is_not(None),
        )
        .distinct()
        .order_by(a.id, n.rep_id)
    )
    seen: set[tuple[int, int]] = set()
    found: list[RepAccountEvent] = []
    for row in conn.execute(query):
        if (int(row.id), int(row.rep_id)) in seen:
            continue
        seen.add((int(row.id), int(row.rep_id)))
        found.append(
            RepAccountEvent(
                int(row.id),
                row.kind,
                row.event,
                row.occurred_at,
                int(row.rep_id),
                row.display_number,
            )
        )
    return found


def high_intent_customers(conn: Connection, until: datetime) -> list[HighIntent]:
    """Customers with an active ``high-intent`` tag put before ``until``, per rep.

    The rep is the one the tag names; ``last_outbound_at`` is that rep's last message of
    work to the customer before ``until``. A customer tagged twice counts once, by the
    latest tag.

    Args:
        conn: an open connection.
        until: the evaluation time.

    Returns:
        The customers, oldest tag first.
    """
    t, m = _tag.c, _message.c
    last_work = (
        select(func.max(m.timestamp))
        .where(
            m.customer_id == t.customer_id, m.rep_id == t.rep_id, m.timestamp < until, rep_work()
        )
        .scalar_subquery()
    )
    query = (
        select(t.customer_id, t.rep_id, func.max(t.tagged_at).label("tagged_at"), last_work)
        .where(
            t.tag == HIGH_INTENT_TAG,
            t.removed_at.is_(None),
            t.rep_id.is_not(None),
            t.tagged_at < until,
        )
        .group_by(t.customer_id, t.rep_id)
    )
    rows = [HighIntent(int(r[0]), int(r[1]), r[2], r[3]) for r in conn.execute(query)]
    return sorted(rows, key=lambda h: (h.tagged_at, h.customer_id))


def contact_starts(
    conn: Connection, rep_id: int, customer_ids: Collection[int]
) -> dict[int, datetime]:
    """The first message, either direction, between the rep and each of ``customer_ids``."""
    if not customer_ids:
        return {}
    m = _message.c
    query = (
        select(m.customer_id, func.min(m.timestamp))
        .where(m.rep_id == rep_id, m.customer_id.in_(sorted(customer_ids)))
        .group_by(m.customer_id)
    )
    return {int(c): at for c, at in conn.execute(query)}


def conversation_tails(
    conn: Connection, rep_id: int, start: datetime, end: datetime, last: int = 3
) -> dict[int, list[tuple[datetime, str]]]:
    """For every customer the rep exchanged messages with in ``[start, end)``, the last
    ``last`` messages before ``end``, newest last, as ``(timestamp, direction)``.

    Only the rep's work and the customer's messages count (automated replies do not).

    Args:
        conn: an open connection.
        rep_id: the rep.
        start: first instant of the window.
        end: first instant after.
        last: how many of the latest messages to return per customer.

    Returns:
        Per customer id, the tail of the conversation.
    """
    m = _message.c
    counted = or_(and_(m.direction == "inbound", m.type != "reaction"), rep_work())
    query = (
        select(m.customer_id, m.timestamp, m.direction)
        .where(m.rep_id == rep_id, m.timestamp >= start, m.timestamp < end, counted)
        .order_by(m.customer_id, m.timestamp)
    )
    tails: dict[int, list[tuple[datetime, str]]] = {}
    for customer_id, at, direction in conn.execute(query):
        tail = tails.setdefault(int(customer_id), [])
        tail.append((at, direction))
        if len(tail) > last:
            tail.pop(0)
    return tails


def customer_wa_ids(conn: Connection, ids: Collection[int]) -> dict[int, str | None]:
    """The ``wa_id`` of each customer (for a masked display), by id."""
    if not ids:
        return {}
    c = _customer.c
    return {int(i): w for i, w in conn.execute(select(c.id, c.wa_id).where(c.id.in_(sorted(ids))))}
