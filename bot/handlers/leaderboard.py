"""``/leaderboard [metric] [day|week|month]``: the team ranked by score or by one metric."""

from __future__ import annotations

import logging

from telegram import Update
from telegram.ext import BaseHandler, CommandHandler

from bot.handlers.base import Caller, Command, Context, Deps, guarded, reply, run_db, usage
from bot.handlers.mystats import settings_for
from bot.metrics import RepKpis, TeamSettings, compute_team
from bot.telegram import kpis
from storage import telegram as store

logger = logging.getLogger(__name__)

COMMANDS = (Command("leaderboard", in_groups=True),)


def rank(results: list[RepKpis], metric: str) -> list[tuple[RepKpis, float | None]]:
    """Reps best first by ``metric`` (lowest first for response time); no data last."""
    valued = [(kpis_, kpis.metric_value(kpis_, metric)) for kpis_ in results]
    sign = 1 if metric == "response_time" else -1
    return sorted(valued, key=lambda pair: (pair[1] is None, sign * (pair[1] or 0.0), pair[0].rep))


async def team_kpis(
    deps: Deps, team_id: int | None, kind: str, settings: TeamSettings
) -> list[RepKpis]:
    """The KPIs of the team's reps (every rep's for no team) in the period of ``kind``
    that contains now."""
    members = await run_db(deps, lambda s: {r.id for r in store.team_members(s, team_id)})
    return await run_db(
        deps,
        lambda _s: compute_team(deps.engine, kind, deps.clock(), settings, rep_ids=members),
    )


def handlers(deps: Deps) -> list[BaseHandler]:
    """The handlers of this module."""

    async def leaderboard(update: Update, context: Context, caller: Caller) -> None:
        """Shows the team ranked, split into several messages when it is long."""
        assert caller.rep is not None
        metric, kind = "score", "week"
        for arg in (a.lower() for a in context.args or []):
            if arg in kpis.RANKABLE:
                metric = arg
            elif kpis.period_kind(arg) is not None:
                kind = arg
            else:
                await usage(update, deps, caller, "leaderboard")
                return
        settings = await settings_for(deps, caller.rep.team_id)
        ranked = rank(await team_kpis(deps, caller.rep.team_id, kind, settings), metric)
        await reply(
            update, deps, caller, "leaderboard",
            ranked=ranked, metric=metric, kind=kind, base_currency=settings.base_currency,
            period=ranked[0][0].period if ranked else None, me=caller.rep.id,
        )  # fmt: skip

    return [
        CommandHandler("leaderboard", guarded(deps, leaderboard, private_only=False)),
    ]
