"""``/teamchat``: a manager binds a group as the team chat, where the team's news is posted.

In a group the bot answers only commands (its privacy mode hides other messages, and
every handler here is a command), and answers the ones that would show customers
with a pointer to the private chat.
"""

from __future__ import annotations

import logging

from telegram import Update
from telegram.constants import ChatType
from telegram.ext import BaseHandler, CommandHandler

from bot.handlers.base import Caller, Command, Context, Deps, guarded, reply, run_db
from storage import telegram as store

logger = logging.getLogger(__name__)

COMMANDS = (Command("teamchat", managers_only=True, in_groups=True),)


def handlers(deps: Deps) -> list[BaseHandler]:
    """The handlers of this module."""

    async def teamchat(update: Update, _context: Context, caller: Caller) -> None:
        """Binds this group as the team chat, or explains that it needs a group."""
        assert caller.rep is not None
        chat = update.effective_chat
        if chat is None or chat.type not in (ChatType.GROUP, ChatType.SUPERGROUP):
            await reply(update, deps, caller, "teamchat_needs_group")
            return
        team_id = caller.rep.team_id
        if team_id is None:
            await reply(update, deps, caller, "teamchat_no_team")
            return
        rep_id = caller.rep.id
        await run_db(
            deps, lambda s: store.bind_team_chat(s, team_id, chat.id, rep_id, deps.clock())
        )
        await reply(update, deps, caller, "teamchat_bound", title=chat.title or "")

    return [
        CommandHandler("teamchat", guarded(deps, teamchat, managers_only=True, private_only=False))
    ]
