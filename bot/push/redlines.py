"""Red lines to the manager, at once: a rep's number was banned, restricted or flagged.

Read from ``account_event`` rows recorded in the last 3 days (so a process that was down
still reports them when it comes back), each sent once per event, rep and manager. A ban
or a quality flag also zeroes the rep's monthly score (see :mod:`bot.metrics.score`); the
message says so.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from bot.metrics.score import RED_LINE_KINDS
from bot.push.context import PushContext
from storage import push_queries
from storage.outbox import OutboxItem

logger = logging.getLogger(__name__)

KINDS = ("ban", "restriction", "quality_flag")
LOOKBACK = timedelta(days=3)
RED_LINE = "red_line"


def enqueue_red_lines(ctx: PushContext, job_id: str, period_key: str) -> int | None:
    """Enqueue a message to each manager of the team of every rep a recent event concerns.

    Returns:
        Outbox rows added, or None when the slot already ran.
    """
    now = ctx.clock.now()
    items: list[OutboxItem] = []
    with ctx.read() as conn:
        events = push_queries.recent_account_events(
            conn, KINDS, now - LOOKBACK, now + timedelta(microseconds=1)
        )
        if not events:
            return ctx.commit(job_id, period_key, [])
        teams = {team.id: team for team in push_queries.teams(conn)}
        everyone = push_queries.people(conn)
        reps = {p.rep_id: p for p in everyone}
        for event in events:
            rep = reps.get(event.rep_id)
            if rep is None:
                continue
            team = teams.get(rep.team_id) if rep.team_id is not None else None
            managers = [
                p for p in everyone
                if p.role == "manager" and p.team_id == rep.team_id and p.chat_id is not None
            ]  # fmt: skip
            if not managers:
                logger.warning(
                    "red line has no manager to tell event_id=%s rep_id=%s", event.id, rep.rep_id
                )
            for manager in managers:
                assert manager.chat_id is not None
                items += ctx.message(
                    RED_LINE, manager.chat_id, f"account-event-{event.id}-rep-{rep.rep_id}", "",
                    ctx.locale_for(manager, team), "push_red_line",
                    rep=rep.name, event=event, zeroes_score=event.kind in RED_LINE_KINDS,
                )  # fmt: skip
    return ctx.commit(job_id, period_key, items)
