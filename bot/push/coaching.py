"""Coaching alerts to the manager: a rep's quote rate below target two weeks in a row.

Checked when a week closes (Mondays). The alert lists that rep's stalled conversations of
the fortnight, to look at together: customers the rep talked to in the two weeks who
have not asked for a quote and whose conversation has been quiet for 3 days, with the
dates of the last messages and who spoke last. Customers are shown masked.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection

from bot.metrics import RepKpis, compute_team
from bot.metrics.periods import Period, previous
from bot.metrics.quality import quote_request_times
from bot.push.context import PushContext
from storage import kpi_queries, push_queries
from storage import telegram as store
from storage.outbox import OutboxItem

logger = logging.getLogger(__name__)

COACHING = "coaching"
QUIET_FOR = timedelta(days=3)
MAX_STALLED = 10


@dataclass(frozen=True, slots=True)
class Stalled:
    """A conversation that stalled: the customer, and the last messages' (time, side)."""

    customer: store.CustomerRow
    tail: list[tuple[datetime, str]]

    @property
    def last_side(self) -> str:
        """``inbound`` when the customer spoke last, ``outbound`` when the rep did."""
        return self.tail[-1][1]


def below_twice(
    this_week: list[RepKpis], last_week: list[RepKpis], target: float | None
) -> list[RepKpis]:
    """The reps whose quote rate missed ``target`` in both weeks (no data counts as 0)."""
    if target is None:
        return []
    before = {k.rep_id: k.quote_rate for k in last_week}
    return [
        k
        for k in this_week
        if k.rep_id in before
        and (k.quote_rate or 0.0) < target
        and (before[k.rep_id] or 0.0) < target
    ]


def stalled_conversations(
    conn: Connection, rep_id: int, start: datetime, end: datetime
) -> list[Stalled]:
    """The rep's conversations of ``[start, end)`` with no quote request, quiet 3 days at ``end``.

    Returns:
        At most 10, the longest quiet first.
    """
    tails = push_queries.conversation_tails(conn, rep_id, start, end)
    quoted = quote_request_times(kpi_queries.quote_signals(conn, rep_id, None, end, tails.keys()))
    quiet = {
        cid: tail
        for cid, tail in tails.items()
        if cid not in quoted and end - tail[-1][0] >= QUIET_FOR
    }
    chosen = sorted(quiet, key=lambda cid: quiet[cid][-1][0])[:MAX_STALLED]
    rows = store.customers_by_id(conn, chosen)
    return [Stalled(rows[cid], quiet[cid]) for cid in chosen if cid in rows]


def enqueue_alerts(ctx: PushContext, week: Period, job_id: str, period_key: str) -> int | None:
    """Enqueue a coaching alert per flagged rep to each manager of the rep's team.

    Args:
        ctx: the push context.
        week: the week that just closed.
        job_id: the job's id.
        period_key: the week's label.

    Returns:
        Outbox rows added, or None when the week already ran.
    """
    now = ctx.clock.now()
    fortnight_start = previous(week).start
    items: list[OutboxItem] = []
    with ctx.read() as conn:
        for managed in ctx.managed_teams(conn):
            team, settings, reps = managed.team, managed.settings, managed.rep_ids
            this_week = compute_team(conn, week, now, settings, rep_ids=reps)
            last_week = compute_team(conn, previous(week), now, settings, rep_ids=reps)
            for kpis in below_twice(this_week, last_week, settings.target("quote_rate")):
                stalled = stalled_conversations(conn, kpis.rep_id, fortnight_start, week.end)
                before = next(k for k in last_week if k.rep_id == kpis.rep_id)
                for manager in managed.managers:
                    assert manager.chat_id is not None
                    items += ctx.message(
                        COACHING, manager.chat_id, f"rep-{kpis.rep_id}", week.label(),
                        ctx.locale_for(manager, team), "push_coaching",
                        rep=kpis.rep, this_week=kpis.quote_rate, last_week=before.quote_rate,
                        target=settings.target("quote_rate"), stalled=stalled, week=week,
                    )  # fmt: skip
    return ctx.commit(job_id, period_key, items)
