"""Managers' commands: ``/team``, ``/rep NAME``, ``/digest``, ``/settings``, ``/invite NAME``."""

from __future__ import annotations

import asyncio
import logging
import re

from sqlalchemy.orm import Session
from telegram import Update
from telegram.ext import BaseHandler, CommandHandler

from bot.handlers.base import (
    Caller,
    Command,
    Context,
    Deps,
    check_target,
    guarded,
    reply,
    run_db,
    team_locale,
    usage,
)
from bot.handlers.leaderboard import rank, team_kpis
from bot.handlers.mystats import send_report, settings_for
from bot.metrics import period_containing
from bot.metrics.settings import STAGES, WEEKDAYS
from bot.push.digest import build_digest, send_review
from bot.render import LOCALES
from bot.telegram import kpis
from storage import telegram as store

logger = logging.getLogger(__name__)

COMMANDS = (
    Command("team", managers_only=True),
    Command("rep", managers_only=True),
    Command("digest", managers_only=True),
    Command("settings"),
    Command("invite", managers_only=True),
)
_CLOCK = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")
DEFAULT_DIGEST_DAY = "fri"
DEFAULT_DIGEST_TIME = "17:00"


def parse_setting(args: list[str]) -> tuple[str, str] | None:
    """The (key, value) a ``/settings`` command sets, checked; None when it does not parse."""
    if len(args) == 2 and args[0] in ("language", "mylanguage") and args[1] in LOCALES:
        return args[0], args[1]
    if len(args) == 2 and args[0] == "stage" and args[1] in STAGES:
        return "stage", args[1]
    if len(args) == 3 and args[0] == "digest":
        day, clock = args[1].lower()[:3], args[2]
        if day in WEEKDAYS and _CLOCK.match(clock):
            return "digest", f"{day} {clock}"
    if len(args) == 3 and args[0] == "target":
        try:
            return f"target.{args[1]}", repr(check_target(args[1], args[2]))
        except ValueError:
            return None
    return None


def handlers(deps: Deps) -> list[BaseHandler]:
    """The handlers of this module."""

    async def team(update: Update, context: Context, caller: Caller) -> None:
        """Shows every rep of the team with score and key metrics, best first."""
        assert caller.rep is not None
        args = context.args or []
        kind = kpis.period_kind(args[0] if args else None)
        if kind is None or len(args) > 1:
            await usage(update, deps, caller, "team")
            return
        team_id = caller.rep.team_id
        settings = await settings_for(deps, team_id)
        ranked = rank(await team_kpis(deps, team_id, kind, settings), "score")
        period = period_containing(kind, deps.clock(), settings.timezone)
        await reply(
            update, deps, caller, "team",
            ranked=ranked, period=period, base_currency=settings.base_currency,
        )  # fmt: skip

    async def rep(update: Update, context: Context, caller: Caller) -> None:
        """Shows one rep's report, as they see it in /mystats, with their customers."""
        assert caller.rep is not None
        args = list(context.args or [])
        kind = kpis.period_kind(args[-1]) if len(args) > 1 else "week"
        if kind is None or not args:
            await usage(update, deps, caller, "rep")
            return
        name = " ".join(args[:-1] if len(args) > 1 else args)
        team_id = caller.rep.team_id
        found = await run_db(deps, lambda s: store.rep_by_name(s, name, team_id))
        if found is None:
            await reply(update, deps, caller, "no_rep", name=name)
            return
        await send_report(update, deps, caller, found, kind, replace=False)

    async def digest(update: Update, _context: Context, caller: Caller) -> None:
        """Shows the weekly review a manager gets on Friday, pictures included."""
        assert caller.rep is not None
        assert update.effective_chat is not None
        settings = await settings_for(deps, caller.rep.team_id)
        review = await asyncio.to_thread(
            build_digest, deps.engine, deps.renderer, settings,
            caller.rep.team_id, caller.locale, deps.clock(),
        )  # fmt: skip
        await send_review(update.effective_chat, review)

    async def settings(update: Update, context: Context, caller: Caller) -> None:
        """Shows the team settings, or changes one (language, stage, digest, a target)."""
        assert caller.rep is not None
        me = caller.rep
        args = [a.lower() for a in context.args or []]
        if args:
            parsed = parse_setting(args)
            if parsed is None:
                await usage(update, deps, caller, "settings")
                return
            key, value = parsed
            if key != "mylanguage" and (not me.is_manager or me.team_id is None):
                await reply(update, deps, caller, "managers_only")
                return

            def change(session: Session) -> None:
                now = deps.clock()
                if key == "mylanguage":
                    store.set_rep_setting(session, me.id, "language", value, now)
                elif key == "digest":
                    day, clock = value.split()
                    assert me.team_id is not None
                    store.set_team_setting(session, me.team_id, "digest_day", day, me.id, now)
                    store.set_team_setting(session, me.team_id, "digest_time", clock, me.id, now)
                else:
                    assert me.team_id is not None
                    store.set_team_setting(session, me.team_id, key, value, me.id, now)

            await run_db(deps, change)
            if key in ("language", "mylanguage"):
                caller = Caller(caller.rep, value, caller.private, caller.telegram_user_id)
            await reply(update, deps, caller, "settings_changed", key=key, value=value)
            return

        overrides = await run_db(deps, lambda s: store.team_settings_overrides(s, me.team_id))
        effective = await settings_for(deps, me.team_id)
        await reply(
            update, deps, caller, "settings",
            language=team_locale(overrides), settings=effective,
            digest_day=overrides.get("digest_day", DEFAULT_DIGEST_DAY),
            digest_time=overrides.get("digest_time", DEFAULT_DIGEST_TIME),
            targets={name: effective.target(name) for name in _SHOWN_TARGETS},
        )  # fmt: skip

    async def invite(update: Update, context: Context, caller: Caller) -> None:
        """Gives the manager a one-time invite link for a rep of the team."""
        assert caller.rep is not None
        manager = caller.rep
        name = " ".join(context.args or [])
        if not name:
            await usage(update, deps, caller, "invite")
            return

        def create(session: Session) -> tuple[store.LinkedRep, store.Invite] | None:
            found = store.rep_by_name(session, name, manager.team_id)
            if found is None:
                return None
            made = store.create_invite(
                session, found.id, deps.clock(), ttl=deps.invite_ttl, created_by=manager.id
            )
            return found, made

        created = await run_db(deps, create)
        if created is None:
            await reply(update, deps, caller, "no_rep", name=name)
            return
        invited, made = created
        link = f"https://t.me/{deps.bot_username}?start={made.code}"
        await reply(
            update, deps, caller, "invite", rep=invited, link=link, expires_at=made.expires_at
        )

    manager_only = {"managers_only": True}
    return [
        CommandHandler("team", guarded(deps, team, **manager_only)),
        CommandHandler("rep", guarded(deps, rep, **manager_only)),
        CommandHandler("digest", guarded(deps, digest, **manager_only)),
        CommandHandler("settings", guarded(deps, settings)),
        CommandHandler("invite", guarded(deps, invite, **manager_only)),
    ]


_SHOWN_TARGETS = (
    "effective_reach",
    "reply_rate",
    "active_customers",
    "quote_rate",
    "deep_conversations",
    "tag_accuracy",
    "conversion_rate",
    "deal_amount",
    "order_value",
    "margin",
)
