"""Nudges to a rep: a customer who waits for an answer, a high-intent customer left alone.

- **Waiting**: the customer wrote last and has waited 4 hours of working time (the
  team's working hours; round the clock when it sets none) for the rep's answer.
- **High-intent, no follow-up**: a customer tagged ``high-intent`` has had no message of
  the rep's work for 48 hours (counted from the tag, or from the rep's last message
  after it).

Each nudge goes once per customer and cause: its outbox key carries the moment the cause
began (the customer's first unanswered message, the rep's last message), so it comes
again only after something changed and the cause began anew. Nudges are quiet outside
working hours (Monday to Friday 09:00-18:00 when the team sets none): the check waits
for the next working slot.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, time, timedelta

from sqlalchemy import Connection
from sqlalchemy.orm import Session

from bot.metrics.settings import TeamSettings
from bot.metrics.worktime import WorkingClock
from bot.push.context import PushContext
from storage import push_queries
from storage import telegram as store
from storage.outbox import OutboxItem
from storage.push_queries import Person, TeamRow

logger = logging.getLogger(__name__)

WAITING_LIMIT = timedelta(hours=4)
HIGH_INTENT_SILENCE = timedelta(hours=48)
QUIET_OPEN, QUIET_CLOSE = time(9, 0), time(18, 0)
WAITING, HIGH_INTENT = "nudge_waiting", "nudge_high_intent"


@dataclass(frozen=True, slots=True)
class Nudge:
    """A reason to nudge a rep about one customer.

    Attributes:
        cause: ``nudge_waiting`` or ``nudge_high_intent``.
        rep_id: the rep.
        customer: the customer.
        since: when the cause began (first unanswered message, or last follow-up).
    """

    cause: str
    rep_id: int
    customer: store.CustomerRow
    since: datetime


def in_working_hours(now: datetime, settings: TeamSettings) -> bool:
    """Whether ``now`` is inside the team's working hours (weekdays 09:00-18:00 by default)."""
    local = now.astimezone(settings.timezone)
    if local.date() in settings.holidays:
        return False
    if settings.working_hours is None:
        return local.weekday() < 5 and QUIET_OPEN <= local.time() < QUIET_CLOSE
    return any(
        opens <= local.time() < closes
        for opens, closes in settings.working_hours.get(local.weekday(), ())
    )


def find_nudges(
    conn: Connection, reps: list[Person], settings: TeamSettings, now: datetime
) -> list[Nudge]:
    """Every nudge due at ``now`` for ``reps``.

    Args:
        conn: an open connection.
        reps: the reps to look at.
        settings: working hours and zone.
        now: the evaluation time.

    Returns:
        The nudges, waiting customers first.
    """
    rep_ids = {rep.rep_id for rep in reps}
    working = WorkingClock(settings)
    found: list[Nudge] = []
    with Session(bind=conn) as session:
        for rep_id in sorted(rep_ids):
            for waiting in store.waiting_customers(session, rep_id, now, limit=50):
                if working.elapsed(waiting.waiting_since, now) >= WAITING_LIMIT:
                    found.append(Nudge(WAITING, rep_id, waiting.customer, waiting.waiting_since))

    silent: list[tuple[int, int, datetime]] = []
    for tagged in push_queries.high_intent_customers(conn, now):
        if tagged.rep_id not in rep_ids:
            continue
        since = max(tagged.tagged_at, tagged.last_outbound_at or tagged.tagged_at)
        if now - since >= HIGH_INTENT_SILENCE:
            silent.append((tagged.rep_id, tagged.customer_id, since))
    customers = store.customers_by_id(conn, [customer_id for _, customer_id, _ in silent])
    found.extend(
        Nudge(HIGH_INTENT, rep_id, customers[customer_id], since)
        for rep_id, customer_id, since in silent
        if customer_id in customers
    )
    return found


def nudge_items(
    ctx: PushContext, team: TeamRow, reps: list[Person], nudges: list[Nudge], now: datetime
) -> list[OutboxItem]:
    """The outbox rows of ``nudges``, to the reps who have a linked Telegram account."""
    by_id = {rep.rep_id: rep for rep in reps}
    items: list[OutboxItem] = []
    for nudge in nudges:
        rep = by_id[nudge.rep_id]
        if rep.chat_id is None:
            continue
        items += ctx.message(
            nudge.cause, rep.chat_id, f"customer-{nudge.customer.id}",
            f"since-{nudge.since.isoformat()}", ctx.locale_for(rep, team),
            f"push_{nudge.cause}", customer=nudge.customer, since=nudge.since, now=now,
        )  # fmt: skip
    return items


def enqueue_nudges(ctx: PushContext, job_id: str, period_key: str) -> int | None:
    """Find the due nudges of every team inside its working hours and enqueue them.

    Returns:
        Outbox rows added, or None when the slot already ran.
    """
    now = ctx.clock.now()
    items: list[OutboxItem] = []
    with ctx.read() as conn:
        for team in push_queries.teams(conn):
            settings = ctx.settings_for(team)
            if not in_working_hours(now, settings):
                continue
            reps = push_queries.team_reps(conn, team.id)
            items += nudge_items(ctx, team, reps, find_nudges(conn, reps, settings, now), now)
    return ctx.commit(job_id, period_key, items)
