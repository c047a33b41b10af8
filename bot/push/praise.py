"""Praise in the team chat: the day's best reply rate, a new deal, a new customer's first
quote request. Each names the rep and the number, never a customer.

- **Top reply rate**: once a day at the daily praise time, the rep with the best reply
  rate of the day among those who messaged at least 10 customers.
- **New deal**: each deal recorded in the last 24 hours, once.
- **First quote request from a new customer**: a customer whose first quote request
  came in the last 24 hours, and whose contact with the rep started at most 30 days
  before it; once per customer.

A deal undone, or a quote that is no longer a quote request, before the next check is
not praised: the check reads what is in the store now.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import Connection

from bot.metrics import process
from bot.metrics.periods import Period, PeriodKind, period_containing
from bot.metrics.quality import quote_request_times
from bot.metrics.result import to_base
from bot.metrics.settings import TeamSettings
from bot.push.context import PushContext
from storage import kpi_queries, push_queries
from storage.outbox import OutboxItem
from storage.push_queries import Person, TeamRow

logger = logging.getLogger(__name__)

EVENT_WINDOW = timedelta(hours=24)
NEW_CUSTOMER_WINDOW = timedelta(days=30)
DAILY_MIN_MESSAGED = 10
DEAL, QUOTE, REPLY_RATE = "praise_deal", "praise_quote", "praise_reply_rate"
_JUST_AFTER = timedelta(microseconds=1)


def first_quote_requests(
    conn: Connection, rep_id: int, since: datetime, now: datetime
) -> dict[int, datetime]:
    """New customers of the rep whose first quote request fell in ``[since, now]``.

    Args:
        conn: an open connection.
        rep_id: the rep.
        since: the window's start.
        now: the evaluation time.

    Returns:
        The first quote request's time per customer.
    """
    recent = quote_request_times(kpi_queries.quote_signals(conn, rep_id, since, now + _JUST_AFTER))
    if not recent:
        return {}
    every = quote_request_times(
        kpi_queries.quote_signals(conn, rep_id, None, now + _JUST_AFTER, recent.keys())
    )
    starts = push_queries.contact_starts(conn, rep_id, recent.keys())
    found = {}
    for customer_id, times in every.items():
        first = times[0]
        start = starts.get(customer_id, first)
        if first >= since and first - start <= NEW_CUSTOMER_WINDOW:
            found[customer_id] = first
    return found


def event_praise(
    ctx: PushContext, conn: Connection, team: TeamRow, settings: TeamSettings, now: datetime
) -> list[OutboxItem]:
    """Praise for the team's new deals and new customers' first quote requests."""
    assert team.chat_id is not None
    locale = ctx.locale_for(None, team)
    reps = {rep.rep_id: rep for rep in push_queries.team_reps(conn, team.id)}
    since = now - EVENT_WINDOW
    items: list[OutboxItem] = []
    for deal in push_queries.recent_deals(conn, since, now + _JUST_AFTER):
        rep = reps.get(deal.rep_id)
        if rep is None:
            continue
        in_base = to_base(deal.amount, deal.currency, settings)
        items += ctx.message(
            DEAL, team.chat_id, f"deal-{deal.id}", "", locale, "push_praise_deal",
            rep=rep.name, amount=in_base if in_base is not None else deal.amount,
            currency=settings.base_currency if in_base is not None else deal.currency,
        )  # fmt: skip

    today = period_containing(PeriodKind.DAY, now, settings.timezone)
    for rep in reps.values():
        firsts = first_quote_requests(conn, rep.rep_id, since, now)
        for customer_id, at in sorted(firsts.items(), key=lambda pair: pair[1]):
            count_today = sum(1 for t in firsts.values() if today.start <= t <= at)
            items += ctx.message(
                QUOTE, team.chat_id, f"quote-{customer_id}", "", locale, "push_praise_quote",
                rep=rep.name, today=count_today,
            )  # fmt: skip
    return items


def enqueue_event_praise(ctx: PushContext, job_id: str, period_key: str) -> int | None:
    """Enqueue praise for every team with a bound chat.

    Returns:
        Outbox rows added, or None when the slot already ran.
    """
    now = ctx.clock.now()
    items: list[OutboxItem] = []
    with ctx.read() as conn:
        for team in push_queries.teams(conn):
            if team.chat_id is not None:
                items += event_praise(ctx, conn, team, ctx.settings_for(team), now)
    return ctx.commit(job_id, period_key, items)


def top_reply_rate(
    conn: Connection, reps: list[Person], day: Period, now: datetime
) -> tuple[Person, float, int] | None:
    """The rep with the day's best reply rate among those who messaged 10 customers or more.

    Returns:
        The rep, the reply rate and how many customers they messaged; None when nobody
        qualifies or the best rate is 0.
    """
    as_of = day.as_of(now)
    best: tuple[Person, float, int] | None = None
    for rep in reps:
        messaged = len(
            kpi_queries.first_outbound_and_next_inbound(conn, rep.rep_id, day.start, as_of)
        )
        if messaged < DAILY_MIN_MESSAGED:
            continue
        rate = process.reply_rate(conn, rep.rep_id, day.start, as_of)
        if rate is None:
            continue
        if best is None or (rate, messaged) > (best[1], best[2]):
            best = (rep, rate, messaged)
    return best if best is not None and best[1] > 0 else None


def enqueue_daily_praise(
    ctx: PushContext, day: Period, job_id: str, period_key: str
) -> int | None:
    """Enqueue the day's top reply rate in every team chat.

    Returns:
        Outbox rows added, or None when the day already ran.
    """
    now = ctx.clock.now()
    items: list[OutboxItem] = []
    with ctx.read() as conn:
        for team in push_queries.teams(conn):
            if team.chat_id is None:
                continue
            best = top_reply_rate(conn, push_queries.team_reps(conn, team.id), day, now)
            if best is None:
                continue
            rep, rate, messaged = best
            items += ctx.message(
                REPLY_RATE, team.chat_id, "", day.label(), ctx.locale_for(None, team),
                "push_praise_reply_rate", rep=rep.name, rate=rate, messaged=messaged,
            )  # fmt: skip
    return ctx.commit(job_id, period_key, items)
