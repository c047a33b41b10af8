"""The buttons under a tag accuracy reminder: keep the high-intent tag, lower it, or follow up.

The reminder itself is pushed by :mod:`bot.push.reminders`; each button works once.
"""

from __future__ import annotations

import logging

from sqlalchemy.orm import Session
from telegram import Update
from telegram.ext import BaseHandler, CallbackQueryHandler

from bot import domain
from bot.handlers.base import Caller, Command, Context, Deps, edit, guarded, reply, run_db
from bot.push.reminders import ACTION_KIND, CALLBACK_PREFIX, CHOICES, LOWER_TAG
from storage import records
from storage import telegram as store
from storage.kpi_queries import HIGH_INTENT_TAG

logger = logging.getLogger(__name__)

COMMANDS: tuple[Command, ...] = ()
PATTERN = rf"^{CALLBACK_PREFIX}:({'|'.join(CHOICES)}):[\w-]+$"


def decide(
    session: Session, rep: store.LinkedRep, choice: str, token: str, deps: Deps
) -> store.CustomerRow | None:
    """Carry out the rep's choice once; None when the button was already used (or not theirs).

    ``lower`` takes the high-intent tag off and tags the customer medium-intent.
    """
    now = deps.clock()
    payload = store.take_action(session, token, rep.id, ACTION_KIND, now)
    if payload is None:
        return None
    customer = store.customers_by_id(session, [int(payload["customer_id"])]).get(
        int(payload["customer_id"])
    )
    if customer is None:
        return None
    if choice == "lower":
        ref = domain.CustomerRef(wa_id=customer.wa_id, user_id=customer.user_id)
        for tag, removed in ((HIGH_INTENT_TAG, True), (LOWER_TAG, False)):
            records.apply_record(
                session,
                domain.TagRecord(
                    customer=ref, tag=tag, timestamp=now, removed=removed, rep=rep.name
                ),
            )
    logger.info(
        "tag reminder answered rep_id=%s customer_id=%s choice=%s", rep.id, customer.id, choice
    )
    return customer


def handlers(deps: Deps) -> list[BaseHandler]:
    """The handlers of this module."""

    async def answered(update: Update, _context: Context, caller: Caller) -> None:
        """Keeps, lowers or follows up the tag, and says what was done in place of the buttons."""
        assert caller.rep is not None
        assert update.callback_query is not None
        rep = caller.rep
        _, choice, token = (update.callback_query.data or "").split(":")
        customer = await run_db(deps, lambda s: decide(s, rep, choice, token, deps))
        if customer is None:
            await reply(update, deps, caller, "button_gone")
            return
        await edit(update, deps, caller, "push_reminder_done", choice=choice, customer=customer)

    return [CallbackQueryHandler(guarded(deps, answered), pattern=PATTERN)]
