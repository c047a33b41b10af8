"""Tag accuracy reminders: a ``high-intent`` tag a week old with no quote, sample or deal.

Once its 7-day window is over, such a tag counts against the rep's tag accuracy. The rep
gets one reminder per tag, with three buttons: **keep** the tag, **lower** it (the
customer is re-tagged ``medium-intent``), or **follow up** (the rep will write to the
customer). The buttons are handled by :mod:`bot.handlers.reminders`; each works once.
Tags whose window ended more than 7 days ago are not brought up again.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection
from sqlalchemy.orm import Session

from bot.metrics.quality import TAG_WINDOW, quote_request_times
from bot.push.context import PushContext
from storage import kpi_queries, outbox, push_queries
from storage import telegram as store
from storage.outbox import OutboxItem
from storage.push_queries import Person, TeamRow

logger = logging.getLogger(__name__)

REMINDER = "reminder_tag"
ACTION_KIND = "tagreminder"
CALLBACK_PREFIX = "tagrem"
CHOICES = ("keep", "lower", "follow")
LOWER_TAG = "medium-intent"
STALE_AFTER = timedelta(days=7)


@dataclass(frozen=True, slots=True)
class StaleTag:
    """A high-intent tag whose week passed without a quote, sample or deal."""

    rep_id: int
    customer: store.CustomerRow
    tagged_at: datetime


def stale_tags(conn: Connection, rep_ids: set[int], now: datetime) -> list[StaleTag]:
    """Active high-intent tags of ``rep_ids`` 7 to 14 days old with no follow-up since.

    A follow-up is a quote request, a sample or a deal, as tag accuracy counts them.

    Args:
        conn: an open connection.
        rep_ids: the reps.
        now: the evaluation time.

    Returns:
        The stale tags, oldest first.
    """
    tagged = [
        t for t in push_queries.high_intent_customers(conn, now - TAG_WINDOW)
        if t.rep_id in rep_ids and t.tagged_at >= now - TAG_WINDOW - STALE_AFTER
    ]  # fmt: skip
    stale: list[tuple[int, int, datetime]] = []
    for rep_id in sorted({t.rep_id for t in tagged}):
        mine = [t for t in tagged if t.rep_id == rep_id]
        customers = {t.customer_id for t in mine}
        start = min(t.tagged_at for t in mine)
        follow_ups = quote_request_times(
            kpi_queries.quote_signals(conn, rep_id, start, now, customers)
        )
        others = [
            *kpi_queries.customer_events(conn, rep_id, "sample", start, now, customers),
            *(
                (d.customer_id, d.closed_at)
                for d in kpi_queries.deals(conn, rep_id, start, now, customers)
            ),
        ]
        for customer_id, at in others:
            follow_ups.setdefault(customer_id, []).append(at)
        for t in mine:
            if not any(at >= t.tagged_at for at in follow_ups.get(t.customer_id, ())):
                stale.append((rep_id, t.customer_id, t.tagged_at))
    rows = store.customers_by_id(conn, [customer_id for _, customer_id, _ in stale])
    return [StaleTag(rep_id, rows[cid], at) for rep_id, cid, at in stale if cid in rows]


def _key(rep: Person, tag: StaleTag) -> tuple[str, int, str, str]:
    assert rep.chat_id is not None
    return (
        REMINDER,
        rep.chat_id,
        f"customer-{tag.customer.id}",
        f"tagged-{tag.tagged_at.isoformat()}",
    )


def reminder_items(
    ctx: PushContext,
    session: Session,
    team: TeamRow,
    reps: dict[int, Person],
    tags: list[StaleTag],
) -> list[OutboxItem]:
    """The reminders not sent yet, each with its buttons' action stored (inside ``session``)."""
    now = ctx.clock.now()
    items: list[OutboxItem] = []
    for tag in tags:
        rep = reps[tag.rep_id]
        if rep.chat_id is None or outbox.is_enqueued(session, _key(rep, tag)):
            continue
        locale = ctx.locale_for(rep, team)
        token = store.create_action(
            session, rep.rep_id, ACTION_KIND,
            {"customer_id": tag.customer.id, "tagged_at": tag.tagged_at.isoformat()}, now,
        )  # fmt: skip
        buttons = [
            [
                (
                    ctx.text(locale, "push_button", choice=choice),
                    f"{CALLBACK_PREFIX}:{choice}:{token}",
                )
            ]
            for choice in CHOICES
        ]
        kind, recipient, subject, period = _key(rep, tag)
        items += ctx.message(
            kind, recipient, subject, period, locale, "push_reminder_tag",
            buttons=buttons, customer=tag.customer, tagged_at=tag.tagged_at,
        )  # fmt: skip
    return items


def enqueue_reminders(ctx: PushContext, job_id: str, period_key: str) -> int | None:
    """Enqueue the day's tag accuracy reminders for every team's reps.

    Returns:
        Outbox rows added, or None when the day already ran.
    """
    now = ctx.clock.now()
    found: list[tuple[TeamRow, dict[int, Person], list[StaleTag]]] = []
    with ctx.read() as conn:
        for team in push_queries.teams(conn):
            reps = {p.rep_id: p for p in push_queries.team_reps(conn, team.id)}
            tags = stale_tags(conn, set(reps), now)
            if tags:
                found.append((team, reps, tags))

    def with_actions(session: Session) -> list[OutboxItem]:
        return [
            item
            for team, reps, tags in found
            for item in reminder_items(ctx, session, team, reps, tags)
        ]

    return ctx.commit(job_id, period_key, [], extra=with_actions)
