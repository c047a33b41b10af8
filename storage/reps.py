"""Reps, teams and the business numbers reps own."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from sqlalchemy import func
from sqlalchemy.orm import Session
from sqlmodel import col, select

from bot.errors import KpibotError, NotFoundError
from storage.ingest import attribute_number
from storage.models import BusinessNumber, Message, Rep, Team
from storage.types import utcnow

logger = logging.getLogger(__name__)

ROLES = ("rep", "manager")
SENIORITIES = ("standard", "senior")


class RepConflictError(KpibotError):
    """A rep or number cannot be registered as asked (a duplicate, or owned by another rep)."""


@dataclass(frozen=True, slots=True)
class RepSummary:
    """A rep as ``kpibot rep list`` shows it."""

    id: int
    name: str
    role: str
    team: str | None
    hire_date: date | None
    numbers: tuple[str, ...]
    messages: int


def get_or_create_team(session: Session, name: str) -> Team:
    """The team called ``name``, created if it does not exist yet."""
    team = session.execute(select(Team).where(col(Team.name) == name)).scalar_one_or_none()
    if team is None:
        team = Team(name=name)
        session.add(team)
        session.flush()
    return team


def add_rep(
    session: Session,
    name: str,
    phone_number_ids: Sequence[str],
    *,
    display_number: str | None = None,
    team: str | None = None,
    role: str = "rep",
    hire_date: date | None = None,
    seniority: str = "standard",
) -> tuple[Rep, int]:
    """Register a rep and the business numbers they own.

    Messages already received on those numbers are attributed to the rep.

    Args:
        session: the open session; the caller commits.
        name: the rep's name, unique in the store.
        phone_number_ids: Meta's ids of the rep's WhatsApp business numbers.
        display_number: the number as people dial it (with one phone number id only).
        team: the team's name; created if new.
        role: ``rep`` or ``manager``.
        hire_date: when the rep started, for the new-hire profile.
        seniority: ``standard`` or ``senior``.

    Returns:
        The rep and how many earlier messages were attributed to them.

    Raises:
        RepConflictError: the name is taken, a number belongs to another rep, or an
            argument is not one of the allowed values.
    """
    name = name.strip()
    if not name:
        raise RepConflictError("a rep needs a name")
    if role not in ROLES:
        raise RepConflictError(f"role {role!r} is not one of {', '.join(ROLES)}")
    if seniority not in SENIORITIES:
        raise RepConflictError(f"seniority {seniority!r} is not one of {', '.join(SENIORITIES)}")
    if display_number and len(phone_number_ids) != 1:
        raise RepConflictError("--display-number goes with exactly one --phone-number-id")
    if session.execute(select(col(Rep.id)).where(col(Rep.name) == name)).first() is not None:
        raise RepConflictError(
            f"a rep called {name!r} already exists; `kpibot rep list` shows them"
        )

    team_row = get_or_create_team(session, team) if team else None
    rep = Rep(
        name=name,
        role=role,
        seniority=seniority,
        hire_date=hire_date,
        team_id=team_row.id if team_row else None,
    )
    session.add(rep)
    session.flush()
    assert rep.id is not None

    attributed = 0
    for phone_number_id in phone_number_ids:
        attributed += _claim_number(session, rep, phone_number_id.strip(), display_number)
    logger.info(
        "rep registered rep_id=%s numbers=%d attributed_messages=%d",
        rep.id,
        len(phone_number_ids),
        attributed,
    )
    return rep, attributed


def _claim_number(
    session: Session, rep: Rep, phone_number_id: str, display_number: str | None
) -> int:
    assert rep.id is not None
    if not phone_number_id:
        raise RepConflictError("a phone number id cannot be empty")
    number = session.execute(
        select(BusinessNumber).where(col(BusinessNumber.phone_number_id) == phone_number_id)
    ).scalar_one_or_none()

    if number is None:
        number = BusinessNumber(phone_number_id=phone_number_id)
        session.add(number)
    elif number.rep_id is not None and number.rep_id != rep.id:
        owner = session.get(Rep, number.rep_id)
        raise RepConflictError(
            f"phone number id {phone_number_id} already belongs to "
            f"{owner.name if owner else 'another rep'}"
        )

    number.rep_id = rep.id
    number.registered_at = utcnow()
    if display_number:
        number.display_number = "".join(ch for ch in display_number if ch.isdigit())
    session.flush()
    assert number.id is not None
    return attribute_number(session, number.id, rep.id)


def find_rep(session: Session, name: str) -> Rep:
    """The rep called ``name`` (case-insensitive).

    Raises:
        NotFoundError: no such rep; the message says how to list them.
    """
    rep = session.execute(
        select(Rep).where(func.lower(col(Rep.name)) == name.strip().lower())
    ).scalar_one_or_none()
    if rep is None:
        raise NotFoundError(f"no rep called {name!r}; `kpibot rep list` shows the reps")
    return rep


def list_reps(session: Session) -> list[RepSummary]:
    """Every rep with their team, numbers and how many messages are attributed to them."""
    reps = session.execute(select(Rep).order_by(col(Rep.name))).scalars().all()
    teams = {t.id: t.name for t in session.execute(select(Team)).scalars()}
    numbers: dict[int, list[str]] = {}
    for number in session.execute(
        select(BusinessNumber).where(col(BusinessNumber.rep_id).is_not(None))
    ).scalars():
        label = number.phone_number_id
        if number.display_number:
            label += f" (+{number.display_number})"
        numbers.setdefault(number.rep_id or 0, []).append(label)
    message_counts: dict[int | None, int] = {
        rep_id: int(n)
        for rep_id, n in session.execute(
            select(col(Message.rep_id), func.count()).group_by(col(Message.rep_id))
        ).all()
    }
    return [
        RepSummary(
            id=rep.id or 0,
            name=rep.name,
            role=rep.role,
            team=teams.get(rep.team_id) if rep.team_id else None,
            hire_date=rep.hire_date,
            numbers=tuple(sorted(numbers.get(rep.id or 0, []))),
            messages=int(message_counts.get(rep.id, 0)),
        )
        for rep in reps
    ]


def unclaimed_numbers(session: Session) -> list[tuple[str, str | None, int]]:
    """Business numbers traffic arrived for that no rep owns: (id, display, messages)."""
    rows = session.execute(
        select(
            col(BusinessNumber.phone_number_id),
            col(BusinessNumber.display_number),
            func.count(col(Message.id)),
        )
        .outerjoin(Message, col(Message.business_number_id) == col(BusinessNumber.id))
        .where(col(BusinessNumber.rep_id).is_(None))
        .group_by(col(BusinessNumber.phone_number_id), col(BusinessNumber.display_number))
    ).all()
    return [(row[0], row[1], int(row[2])) for row in rows]
