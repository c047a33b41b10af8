"""``/mystats [day|week|month]``: a rep's own KPIs against the targets, and the customers
behind each number."""

from __future__ import annotations

import logging

from sqlalchemy.orm import Session
from telegram import Update
from telegram.ext import BaseHandler, CallbackQueryHandler, CommandHandler

from bot.handlers.base import (
    Buttons,
    Caller,
    Command,
    Context,
    Deps,
    edit,
    effective_settings,
    guarded,
    reply,
    run_db,
    usage,
)
from bot.metrics import TeamSettings, period_containing
from bot.telegram import kpis
from storage import telegram as store

logger = logging.getLogger(__name__)

COMMANDS = (Command("mystats"),)
PERIODS = ("day", "week", "month")


async def settings_for(deps: Deps, team_id: int | None) -> TeamSettings:
    """The team settings with the changes made in Telegram."""
    overrides = await run_db(deps, lambda s: store.team_settings_overrides(s, team_id))
    return effective_settings(deps.team_settings, overrides)


def report_buttons(deps: Deps, caller: Caller, rep_id: int, kind: str) -> Buttons:
    """Buttons under a report: the other periods, and each metric that can be opened."""
    label = deps.renderer.label
    periods = [
        (label(caller.locale, "period", kind=other), f"stats:{other}:{rep_id}")
        for other in PERIODS
        if other != kind
    ]
    metrics = [
        (label(caller.locale, "metric", name=name), f"drill:{name}:{kind}:{rep_id}")
        for name in kpis.DRILLABLE
    ]
    return [periods, *(metrics[i : i + 2] for i in range(0, len(metrics), 2))]


def drill_buttons(
    deps: Deps, caller: Caller, drill: kpis.Drilldown, kind: str, rep_id: int
) -> Buttons:
    """Buttons under a drill-down: the neighbouring pages, if any, and back to the report."""
    label = deps.renderer.label
    base = f"drill:{drill.metric}:{kind}:{rep_id}"
    pager = []
    if drill.page > 0:
        pager.append((label(caller.locale, "previous_page"), f"{base}:{drill.page - 1}"))
    if drill.page + 1 < drill.pages:
        pager.append((label(caller.locale, "next_page"), f"{base}:{drill.page + 1}"))
    back = [(label(caller.locale, "back"), f"stats:{kind}:{rep_id}")]
    return [pager, back] if pager else [back]


def may_see(session: Session, caller: Caller, rep_id: int) -> store.LinkedRep | None:
    """The rep whose numbers are asked for, if the caller may see them: their own, or a
    rep of the manager's team."""
    assert caller.rep is not None
    if rep_id == caller.rep.id:
        return caller.rep
    target = store.rep_by_id(session, rep_id)
    if target is None or not caller.rep.is_manager:
        return None
    if caller.rep.team_id is not None and target.team_id != caller.rep.team_id:
        return None
    return target


async def send_report(
    update: Update, deps: Deps, caller: Caller, rep: store.LinkedRep, kind: str, *, replace: bool
) -> None:
    """Compute and send (or, from a button, replace) a rep's report for a period."""
    settings = await settings_for(deps, rep.team_id)
    report = await run_db(
        deps, lambda _s: kpis.rep_report(deps.engine, rep.id, kind, deps.clock(), settings)
    )
    send = edit if replace else reply
    await send(
        update, deps, caller, "mystats", buttons=report_buttons(deps, caller, rep.id, kind),
        report=report, own=rep.id == (caller.rep.id if caller.rep else None),
    )  # fmt: skip


def handlers(deps: Deps) -> list[BaseHandler]:
    """The handlers of this module."""

    async def mystats(update: Update, context: Context, caller: Caller) -> None:
        """Shows the rep's KPIs for the period with a mark each, the score and its change."""
        assert caller.rep is not None
        args = context.args or []
        kind = kpis.period_kind(args[0] if args else None)
        if kind is None or len(args) > 1:
            await usage(update, deps, caller, "mystats")
            return
        await send_report(update, deps, caller, caller.rep, kind, replace=False)

    async def switch(update: Update, _context: Context, caller: Caller) -> None:
        """Shows the same report for another period."""
        assert update.callback_query is not None
        _, kind, rep_id = (update.callback_query.data or "").split(":")
        rep = await run_db(deps, lambda s: may_see(s, caller, int(rep_id)))
        if rep is None:
            await reply(update, deps, caller, "managers_only")
            return
        await send_report(update, deps, caller, rep, kind, replace=True)

    async def drill(update: Update, _context: Context, caller: Caller) -> None:
        """Lists (a page of) the customers one metric counted, phone numbers masked."""
        assert update.callback_query is not None
        _, metric, kind, rep_id, *rest = (update.callback_query.data or "").split(":")
        rep = await run_db(deps, lambda s: may_see(s, caller, int(rep_id)))
        if rep is None:
            logger.warning("drill-down refused rep_id=%s asked_for=%s", caller.rep, rep_id)
            await reply(update, deps, caller, "managers_only")
            return
        settings = await settings_for(deps, rep.team_id)
        now = deps.clock()
        period = period_containing(kind, now, settings.timezone)
        page = int(rest[0]) if rest else 0
        drill = await run_db(
            deps, lambda _s: kpis.drilldown(deps.engine, rep.id, metric, period, now, page)
        )
        await edit(
            update, deps, caller, "metric_customers",
            buttons=drill_buttons(deps, caller, drill, kind, rep.id),
            metric=metric, period=period, drill=drill, rep=rep,
        )  # fmt: skip

    return [
        CommandHandler("mystats", guarded(deps, mystats)),
        CallbackQueryHandler(guarded(deps, switch), pattern=r"^stats:(day|week|month):\d+$"),
        CallbackQueryHandler(
            guarded(deps, drill),
            pattern=rf"^drill:({'|'.join(kpis.DRILLABLE)}):(day|week|month):\d+(:\d+)?$",
        ),
    ]
