"""``/customers``: who waits for an answer and how long, high-intent customers, and the
tags that need a decision."""

from __future__ import annotations

import logging

from sqlalchemy.orm import Session
from telegram import Update
from telegram.ext import BaseHandler, CommandHandler

from bot.handlers.base import Caller, Command, Context, Deps, guarded, reply, run_db
from storage import telegram as store

logger = logging.getLogger(__name__)

COMMANDS = (Command("customers"),)


def handlers(deps: Deps) -> list[BaseHandler]:
    """The handlers of this module."""

    async def customers(update: Update, _context: Context, caller: Caller) -> None:
        """Lists the rep's waiting customers, high-intent customers and stale tags."""
        assert caller.rep is not None
        rep_id = caller.rep.id
        now = deps.clock()

        def look(
            session: Session,
        ) -> tuple[list[store.WaitingCustomer], list[store.TaggedCustomer]]:
            return store.waiting_customers(session, rep_id, now), store.high_intent_customers(
                session, rep_id
            )

        waiting, tagged = await run_db(deps, look)
        stale = [
            t
            for t in tagged
            if not t.followed_up and now - t.tagged_at >= store.TAG_DECISION_WINDOW
        ]
        await reply(
            update, deps, caller, "customers",
            waiting=waiting, tagged=tagged, stale=stale, now=now,
        )  # fmt: skip

    return [CommandHandler("customers", guarded(deps, customers))]
