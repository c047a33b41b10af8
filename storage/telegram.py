"""What the Telegram side of kpibot stores: links, invites, the team chat, settings, buttons.

- **Invites**: one-time codes behind ``/start <code>`` deep links; a code works once and
  only until it expires. Redeeming one links the Telegram user to the rep.
- **Team chat**: the Telegram group a manager bound with ``/teamchat``.
- **Settings**: team settings changed in Telegram (language, stage, digest day and time,
  targets) override the settings file; a rep's own language overrides the team's.
- **Actions**: what an inline button does (undo a record, pick a customer), kept here
  so the button carries only a token, and so an action works once.
- **Customer lookup**: a rep's own customers by phone number, last digits or name.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, and_, exists, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from bot.errors import KpibotError
from storage.kpi_queries import HIGH_INTENT_TAG, rep_work
from storage.models import (
    Customer,
    CustomerEvent,
    CustomerTag,
    Deal,
    Message,
    Rep,
    RepSetting,
    TeamSetting,
    TelegramAction,
    TelegramInvite,
    TelegramTeamChat,
)

logger = logging.getLogger(__name__)

DEFAULT_INVITE_TTL = timedelta(days=7)
TAG_DECISION_WINDOW = timedelta(days=7)
MIN_SUFFIX_DIGITS = 3

_invite = TelegramInvite.__table__  # type: ignore[attr-defined]
_chat = TelegramTeamChat.__table__  # type: ignore[attr-defined]
_team_setting = TeamSetting.__table__  # type: ignore[attr-defined]
_rep_setting = RepSetting.__table__  # type: ignore[attr-defined]
_action = TelegramAction.__table__  # type: ignore[attr-defined]
_rep = Rep.__table__  # type: ignore[attr-defined]
_customer = Customer.__table__  # type: ignore[attr-defined]
_message = Message.__table__  # type: ignore[attr-defined]
_tag = CustomerTag.__table__  # type: ignore[attr-defined]
_event = CustomerEvent.__table__  # type: ignore[attr-defined]
_deal = Deal.__table__  # type: ignore[attr-defined]


class InviteError(KpibotError):
    """An invite code cannot be redeemed.

    Attributes:
        reason: ``unknown``, ``expired`` or ``used``.
    """

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(f"invite code is {reason}")


@dataclass(frozen=True, slots=True)
class Invite:
    """A created invite: the code for the deep link, and when it stops working."""

    code: str
    rep_id: int
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class LinkedRep:
    """A rep as the Telegram side needs it."""

    id: int
    name: str
    role: str
    team_id: int | None
    telegram_user_id: int | None

    @property
    def is_manager(self) -> bool:
        """Whether the rep is a manager."""
        return self.role == "manager"


@dataclass(frozen=True, slots=True)
class CustomerRow:
    """A customer as the bot shows it (the phone number is masked when rendered)."""

    id: int
    wa_id: str | None
    name: str | None
    user_id: str | None = None


@dataclass(frozen=True, slots=True)
class WaitingCustomer:
    """A customer whose message the rep has not answered yet, and since when."""

    customer: CustomerRow
    waiting_since: datetime


@dataclass(frozen=True, slots=True)
class TaggedCustomer:
    """A customer with an active ``high-intent`` tag; ``followed_up`` once quoted or sold."""

    customer: CustomerRow
    tagged_at: datetime
    followed_up: bool


# --- reps and links -----------------------------------------------------------------------


def _linked(row: Any) -> LinkedRep:
    return LinkedRep(
        id=int(row.id),
        name=row.name,
        role=row.role,
        team_id=row.team_id,
        telegram_user_id=row.telegram_user_id,
    )


def _rep_columns() -> Any:
    r = _rep.c
    return select(r.id, r.name, r.role, r.team_id, r.telegram_user_id)


def rep_for_telegram_user(session: Session, telegram_user_id: int) -> LinkedRep | None:
    """The active rep linked to a Telegram user, or None when the user is not linked.

    Args:
        session: an open session.
        telegram_user_id: Telegram's id of the user.

    Returns:
        The rep, or None.
    """
    row = session.execute(
        _rep_columns().where(_rep.c.telegram_user_id == telegram_user_id, _rep.c.active.is_(True))
    ).first()
    return _linked(row) if row else None


def rep_by_id(session: Session, rep_id: int) -> LinkedRep | None:
    """The rep with id ``rep_id``, or None."""
    row = session.execute(_rep_columns().where(_rep.c.id == rep_id)).first()
    return _linked(row) if row else None


def rep_by_name(session: Session, name: str, team_id: int | None = None) -> LinkedRep | None:
    """The active rep called ``name`` (case-insensitive), in ``team_id`` when given.

    Args:
        session: an open session.
        name: the rep's name.
        team_id: only a rep of this team.

    Returns:
        The rep, or None.
    """
    query = _rep_columns().where(
        func.lower(_rep.c.name) == name.strip().lower(), _rep.c.active.is_(True)
    )
    if team_id is not None:
        query = query.where(_rep.c.team_id == team_id)
    row = session.execute(query).first()
    return _linked(row) if row else None


def team_members(session: Session, team_id: int | None) -> list[LinkedRep]:
    """The active reps and managers of a team (every one when ``team_id`` is None), by name."""
    query = _rep_columns().where(_rep.c.active.is_(True)).order_by(_rep.c.name)
    if team_id is not None:
        query = query.where(_rep.c.team_id == team_id)
    return [_linked(row) for row in session.execute(query)]


def create_invite(
    session: Session,
    rep_id: int,
    now: datetime,
    *,
    ttl: timedelta = DEFAULT_INVITE_TTL,
    created_by: int | None = None,
) -> Invite:
    """Create a one-time invite code for a rep.

    Args:
        session: the open session; the caller commits.
        rep_id: the rep the code links.
        now: the current time (aware).
        ttl: how long the code works.
        created_by: the manager who asked for it, if any.

    Returns:
        The invite; its code fits Telegram's ``start`` parameter (A-Z, a-z, 0-9, _ and -).
    """
    code = secrets.token_urlsafe(18)
    expires_at = now + ttl
    session.execute(
        _invite.insert().values(
            code=code,
            rep_id=rep_id,
            created_by_rep_id=created_by,
            created_at=now,
            expires_at=expires_at,
        )
    )
    logger.info("invite created rep_id=%s expires_at=%s", rep_id, expires_at.isoformat())
    return Invite(code=code, rep_id=rep_id, expires_at=expires_at)


def redeem_invite(session: Session, code: str, telegram_user_id: int, now: datetime) -> LinkedRep:
    """Link the Telegram user to the rep an invite names, using the code up.

    A Telegram user linked to another rep before is moved to this one.

    Args:
        session: the open session; the caller commits.
        code: the code from the deep link.
        telegram_user_id: Telegram's id of the user who sent it.
        now: the current time (aware).

    Returns:
        The rep now linked.

    Raises:
        InviteError: the code is unknown, expired or already used.
    """
    i = _invite.c
    row = session.execute(
        select(i.id, i.rep_id, i.expires_at, i.used_at).where(i.code == code)
    ).first()
    if row is None:
        raise InviteError("unknown")
    if row.used_at is not None:
        raise InviteError("used")
    if row.expires_at <= now:
        raise InviteError("expired")
    # The guard on used_at makes two simultaneous redemptions of one code link once.
    claimed = session.execute(
        update(_invite)
        .where(i.id == row.id, i.used_at.is_(None))
        .values(used_at=now, used_by_telegram_user_id=telegram_user_id)
    )
    if not getattr(claimed, "rowcount", 0):
        raise InviteError("used")

    r = _rep.c
    session.execute(
        update(_rep)
        .where(r.telegram_user_id == telegram_user_id, r.id != row.rep_id)
        .values(telegram_user_id=None)
    )
    session.execute(
        update(_rep).where(r.id == row.rep_id).values(telegram_user_id=telegram_user_id)
    )
    rep = rep_by_id(session, int(row.rep_id))
    assert rep is not None
    logger.info("telegram user linked rep_id=%s", rep.id)
    return rep


# --- team chat ----------------------------------------------------------------------------


def bind_team_chat(
    session: Session, team_id: int, chat_id: int, rep_id: int, now: datetime
) -> None:
    """Make ``chat_id`` the team's chat, replacing the team's previous chat.

    A group bound to another team before is taken from it.

    Args:
        session: the open session; the caller commits.
        team_id: the team.
        chat_id: Telegram's id of the group.
        rep_id: the manager who bound it.
        now: the current time.
    """
    c = _chat.c
    session.execute(_chat.delete().where(or_(c.team_id == team_id, c.chat_id == chat_id)))
    session.execute(
        _chat.insert().values(
            team_id=team_id, chat_id=chat_id, bound_by_rep_id=rep_id, bound_at=now
        )
    )
    logger.info("team chat bound team_id=%s chat_id=%s", team_id, chat_id)


def team_chat(session: Session, team_id: int) -> int | None:
    """The chat id of the team's chat, or None when none is bound."""
    value = session.execute(select(_chat.c.chat_id).where(_chat.c.team_id == team_id)).scalar()
    return int(value) if value is not None else None


# --- settings -----------------------------------------------------------------------------


def _upsert(session: Session, table: Any, values: dict[str, Any], keys: list[str]) -> None:
    dialect = session.get_bind().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    statement = insert(table).values(**values)
    changed = {name: statement.excluded[name] for name in values if name not in keys}
    session.execute(statement.on_conflict_do_update(index_elements=keys, set_=changed))


def team_settings_overrides(session: Session, team_id: int | None) -> dict[str, str]:
    """Team settings changed in Telegram, by key; empty for a rep without a team."""
    if team_id is None:
        return {}
    t = _team_setting.c
    rows = session.execute(select(t.key, t.value).where(t.team_id == team_id))
    return {key: value for key, value in rows}


def set_team_setting(
    session: Session, team_id: int, key: str, value: str, rep_id: int, now: datetime
) -> None:
    """Store one team setting, replacing its earlier value.

    Args:
        session: the open session; the caller commits.
        team_id: the team.
        key: ``language``, ``stage``, ``digest_day``, ``digest_time`` or ``target.<metric>``.
        value: the checked value, as text.
        rep_id: the manager who changed it.
        now: the current time.
    """
    _upsert(
        session,
        _team_setting,
        {
            "team_id": team_id,
            "key": key,
            "value": value,
            "updated_by_rep_id": rep_id,
            "updated_at": now,
        },
        ["team_id", "key"],
    )
    logger.info("team setting changed team_id=%s key=%s by_rep_id=%s", team_id, key, rep_id)


def rep_settings(session: Session, rep_id: int) -> dict[str, str]:
    """A rep's own preferences, by key."""
    s = _rep_setting.c
    rows = session.execute(select(s.key, s.value).where(s.rep_id == rep_id))
    return {key: value for key, value in rows}


def set_rep_setting(session: Session, rep_id: int, key: str, value: str, now: datetime) -> None:
    """Store one of a rep's preferences (``language``), replacing its earlier value."""
    _upsert(
        session,
        _rep_setting,
        {"rep_id": rep_id, "key": key, "value": value, "updated_at": now},
        ["rep_id", "key"],
    )


# --- button actions -----------------------------------------------------------------------


def create_action(
    session: Session, rep_id: int, kind: str, payload: dict[str, Any], now: datetime
) -> str:
    """Store what a button does and return the token the button carries.

    Args:
        session: the open session; the caller commits.
        rep_id: the only rep who may use the button.
        kind: ``undo`` or ``pick``.
        payload: JSON-ready values the action needs.
        now: the current time.

    Returns:
        A token of 16 URL-safe characters.
    """
    token = secrets.token_urlsafe(12)
    session.execute(
        _action.insert().values(
            token=token, rep_id=rep_id, kind=kind, payload=payload, created_at=now
        )
    )
    return token


def take_action(
    session: Session, token: str, rep_id: int, kind: str, now: datetime
) -> dict[str, Any] | None:
    """Use up a button's action: its payload the first time, None ever after.

    Args:
        session: the open session; the caller commits.
        token: the button's token.
        rep_id: the rep who pressed it; another rep's button gives None.
        kind: the kind the button must be.
        now: the current time.

    Returns:
        The payload, or None when the token is unknown, used, another rep's or another kind.
    """
    a = _action.c
    used = session.execute(
        update(_action)
        .where(a.token == token, a.rep_id == rep_id, a.kind == kind, a.used_at.is_(None))
        .values(used_at=now)
    )
    if not getattr(used, "rowcount", 0):
        return None
    payload = session.execute(select(a.payload).where(a.token == token)).scalar_one()
    return dict(payload)


# --- customers ----------------------------------------------------------------------------


def _own_customers(rep_id: int) -> Any:
    """Customer ids that are the rep's: assigned to them, or talking to their numbers and
    assigned to no other rep."""
    c = _customer.c
    m = _message.c
    talks_to_rep = exists().where(m.customer_id == c.id, m.rep_id == rep_id)
    return select(c.id).where(
        or_(c.assigned_rep_id == rep_id, and_(c.assigned_rep_id.is_(None), talks_to_rep))
    )


def _row(row: Any) -> CustomerRow:
    return CustomerRow(id=int(row.id), wa_id=row.wa_id, name=row.name, user_id=row.user_id)


def find_customers(session: Session, rep_id: int, query: str, limit: int = 8) -> list[CustomerRow]:
    """The rep's own customers that ``query`` names, best match first.

    A query of digits (spaces, ``+``, ``-`` and brackets ignored) matches the whole
    WhatsApp number or, with at least three digits, its last digits; any other query
    matches the customer's name, exactly or as a part (case-insensitive). Another rep's
    customers never match.

    Args:
        session: an open session.
        rep_id: the rep.
        query: what the rep typed.
        limit: at most this many customers.

    Returns:
        The matching customers; an exact match alone when there is one.
    """
    c = _customer.c
    text = query.strip()
    base = select(c.id, c.wa_id, c.name, c.user_id).where(c.id.in_(_own_customers(rep_id)))
    digits = "".join(ch for ch in text if ch.isdigit())
    is_number = bool(digits) and all(ch.isdigit() or ch in " +-()." for ch in text)

    if is_number:
        exact = session.execute(base.where(c.wa_id == digits)).all()
        if exact:
            return [_row(row) for row in exact]
        if len(digits) < MIN_SUFFIX_DIGITS:
            return []
        rows = session.execute(
            base.where(c.wa_id.like(f"%{digits}")).order_by(c.wa_id).limit(limit)
        ).all()
        return [_row(row) for row in rows]

    if not text:
        return []
    lowered = text.lower()
    exact = session.execute(base.where(func.lower(c.name) == lowered)).all()
    if len(exact) == 1:
        return [_row(exact[0])]
    pattern = "%" + lowered.replace("\\", "").replace("%", "").replace("_", "") + "%"
    rows = session.execute(
        base.where(func.lower(c.name).like(pattern)).order_by(c.name, c.id).limit(limit)
    ).all()
    return [_row(row) for row in rows]


def customer_of_rep(session: Session, rep_id: int, customer_id: int) -> CustomerRow | None:
    """The customer with id ``customer_id`` if they are the rep's own, else None."""
    c = _customer.c
    row = session.execute(
        select(c.id, c.wa_id, c.name, c.user_id).where(
            c.id == customer_id, c.id.in_(_own_customers(rep_id))
        )
    ).first()
    return _row(row) if row else None


def customers_by_id(source: Session | Connection, ids: list[int]) -> dict[int, CustomerRow]:
    """The customers with these ids."""
    if not ids:
        return {}
    c = _customer.c
    rows = source.execute(select(c.id, c.wa_id, c.name, c.user_id).where(c.id.in_(ids)))
    return {int(row.id): _row(row) for row in rows}


def waiting_customers(
    session: Session, rep_id: int, now: datetime, limit: int = 20
) -> list[WaitingCustomer]:
    """The rep's customers who wrote last and wait for an answer, longest wait first.

    A customer waits from their first inbound message after the rep's last message of
    work (automated replies do not answer anyone).

    Args:
        session: an open session.
        rep_id: the rep.
        now: the evaluation time.
        limit: at most this many customers.

    Returns:
        The waiting customers.
    """
    m = _message.c
    last_work = (
        select(m.customer_id.label("customer_id"), func.max(m.timestamp).label("answered"))
        .where(m.rep_id == rep_id, rep_work(), m.timestamp <= now)
        .group_by(m.customer_id)
        .subquery("last_work")
    )
    since = func.min(m.timestamp).label("since")
    query = (
        select(m.customer_id, since)
        .select_from(_message.outerjoin(last_work, last_work.c.customer_id == m.customer_id))
        .where(
            m.rep_id == rep_id,
            m.direction == "inbound",
            m.timestamp <= now,
            or_(last_work.c.answered.is_(None), m.timestamp > last_work.c.answered),
            m.customer_id.in_(_own_customers(rep_id)),
        )
        .group_by(m.customer_id)
        .order_by(since)
        .limit(limit)
    )
    rows = session.execute(query).all()
    found = customers_by_id(session, [int(row.customer_id) for row in rows])
    return [WaitingCustomer(found[int(row.customer_id)], row.since) for row in rows]


def high_intent_customers(session: Session, rep_id: int) -> list[TaggedCustomer]:
    """The rep's customers with an active ``high-intent`` tag, oldest tag first.

    ``followed_up`` is True once a quote, a sample or a deal was recorded for the
    customer after the tag was put on.

    Args:
        session: an open session.
        rep_id: the rep.

    Returns:
        The tagged customers.
    """
    t = _tag.c
    e = _event.c
    d = _deal.c
    followed = or_(
        exists().where(
            e.customer_id == t.customer_id,
            e.kind.in_(("quote", "sample")),
            e.occurred_at >= t.tagged_at,
        ),
        exists().where(d.customer_id == t.customer_id, d.closed_at >= t.tagged_at),
    )
    rows = session.execute(
        select(t.customer_id, t.tagged_at, followed.label("done"))
        .where(
            t.tag == HIGH_INTENT_TAG,
            t.removed_at.is_(None),
            t.customer_id.in_(_own_customers(rep_id)),
        )
        .order_by(t.tagged_at, t.id)
    ).all()
    found = customers_by_id(session, [int(row.customer_id) for row in rows])
    seen: set[int] = set()
    tagged: list[TaggedCustomer] = []
    for row in rows:
        if int(row.customer_id) in seen:
            continue
        seen.add(int(row.customer_id))
        tagged.append(TaggedCustomer(found[int(row.customer_id)], row.tagged_at, bool(row.done)))
    return tagged
