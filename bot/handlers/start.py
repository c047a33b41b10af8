"""Linking a Telegram user to a rep (``/start <code>``) and ``/help``."""

from __future__ import annotations

import logging

from sqlalchemy.orm import Session
from telegram import Update
from telegram.ext import BaseHandler, CommandHandler

from bot.handlers.base import Caller, Command, Context, Deps, guarded, identify, reply, run_db
from storage import telegram as store

logger = logging.getLogger(__name__)

COMMANDS = (Command("start", in_groups=True), Command("help", in_groups=True))


def handlers(deps: Deps) -> list[BaseHandler]:
    """The handlers of this module."""

    async def start(update: Update, context: Context) -> None:
        """Links the user with the code of their invite link, or greets a linked user."""
        caller = await identify(update, deps)
        code = context.args[0] if context.args else None
        if not caller.private:
            await reply(update, deps, caller, "private_only", bot_username=deps.bot_username)
            return
        if code is None:
            if caller.rep is None:
                await reply(update, deps, caller, "not_linked")
            else:
                await _help(update, caller)
            return

        user_id = caller.telegram_user_id
        assert user_id is not None

        def redeem(session: Session) -> store.LinkedRep:
            return store.redeem_invite(session, code, user_id, deps.clock())

        try:
            rep = await run_db(deps, redeem)
        except store.InviteError as exc:
            logger.info("invite refused reason=%s user_id=%s", exc.reason, user_id)
            await reply(update, deps, caller, "start_refused", reason=exc.reason)
            return
        linked = await identify(update, deps)
        await reply(update, deps, linked, "start_linked", rep=rep)

    async def _help(update: Update, caller: Caller) -> None:
        manager = caller.rep is not None and caller.rep.is_manager
        commands = [
            command.name
            for command in deps.commands
            if (manager or not command.managers_only) and (caller.private or command.in_groups)
        ]
        await reply(update, deps, caller, "help", commands=commands, private=caller.private)

    async def help_command(update: Update, _context: Context, caller: Caller) -> None:
        """Lists the commands this user may send here, one line each."""
        await _help(update, caller)

    return [
        CommandHandler("start", start),
        CommandHandler("help", guarded(deps, help_command, linked=False, private_only=False)),
    ]
