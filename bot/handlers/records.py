"""Recording what the message stream cannot show: ``/tag``, ``/quote``, ``/sample``, ``/deal``.

CUSTOMER is a phone number, its last digits or a name, among the rep's own customers.
When it names several, the rep picks one from inline buttons. Every write is confirmed
with what was recorded and an Undo button that works once.
"""

from __future__ import annotations

import logging
from dataclasses import asdict
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy.orm import Session
from telegram import Update
from telegram.ext import BaseHandler, CallbackQueryHandler, CommandHandler

from bot import domain
from bot.handlers.base import (
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
from storage import records
from storage import telegram as store
from storage.records import RecordError, RecordOutcome

logger = logging.getLogger(__name__)

COMMANDS = (Command("tag"), Command("quote"), Command("sample"), Command("deal"))
PICK = "pick"
UNDO = "undo"


def parse(command: str, args: list[str], base_currency: str) -> dict[str, Any] | None:
    """The customer query and values of a record command, or None when they do not parse.

    ``/deal`` reads from the end: an optional margin ending in ``%``, an optional
    3-letter currency, then the amount; what comes before is the customer.
    """
    if command in ("quote", "sample"):
        return {"command": command, "query": " ".join(args)} if args else None
    if command == "tag":
        if len(args) < 2:
            return None
        try:
            tag = records.normalise_tag(args[-1])
        except RecordError:
            return None
        return {"command": command, "query": " ".join(args[:-1]), "tag": tag}

    rest = list(args)
    margin: float | None = None
    currency = base_currency
    if rest and rest[-1].endswith("%"):
        try:
            margin = float(rest.pop()[:-1]) / 100
        except ValueError:
            return None
    if rest and len(rest[-1]) == 3 and rest[-1].isalpha():
        currency = rest.pop()
    if len(rest) < 2:
        return None
    try:
        amount = Decimal(rest.pop().replace(",", ""))
        currency = records.check_deal(amount, currency, margin)
    except (InvalidOperation, RecordError):
        return None
    return {
        "command": command,
        "query": " ".join(rest),
        "amount": str(amount),
        "currency": currency,
        "margin": margin,
    }


def _record(parsed: dict[str, Any], customer: store.CustomerRow, rep: str, deps: Deps) -> Any:
    ref = domain.CustomerRef(wa_id=customer.wa_id, user_id=customer.user_id)
    now = deps.clock()
    command = parsed["command"]
    if command == "tag":
        return domain.TagRecord(customer=ref, tag=parsed["tag"], timestamp=now, rep=rep)
    if command in ("quote", "sample"):
        kind = domain.CustomerEventKind(command)
        return domain.CustomerEventRecord(kind=kind, customer=ref, timestamp=now, rep=rep)
    return domain.DealRecord(
        customer=ref,
        amount=Decimal(parsed["amount"]),
        currency=parsed["currency"],
        margin=parsed["margin"],
        timestamp=now,
        rep=rep,
    )


def handlers(deps: Deps) -> list[BaseHandler]:
    """The handlers of this module."""

    def write(
        session: Session, parsed: dict[str, Any], customer: store.CustomerRow, caller: Caller
    ) -> tuple[RecordOutcome, str | None]:
        assert caller.rep is not None
        outcome = records.apply_record(session, _record(parsed, customer, caller.rep.name, deps))
        token = None
        if outcome.created:
            token = store.create_action(
                session, caller.rep.id, UNDO, asdict(outcome), deps.clock()
            )
        logger.info(
            "record written kind=%s rep_id=%s customer_id=%s created=%s",
            outcome.kind,
            caller.rep.id,
            outcome.customer_id,
            outcome.created,
        )
        return outcome, token

    async def confirm(
        update: Update,
        caller: Caller,
        parsed: dict[str, Any],
        customer: store.CustomerRow,
        *,
        replace: bool,
    ) -> None:
        outcome, token = await run_db(deps, lambda s: write(s, parsed, customer, caller))
        label = deps.renderer.label(caller.locale, "undo")
        buttons = [[(label, f"{UNDO}:{token}")]] if token else None
        send = edit if replace else reply
        await send(
            update, deps, caller, "recorded", buttons=buttons,
            record=parsed, customer=customer, created=outcome.created,
        )  # fmt: skip

    async def record(update: Update, context: Context, caller: Caller) -> None:
        """Records a tag, quote, sample or deal and confirms it with an Undo button."""
        assert caller.rep is not None
        assert update.effective_message is not None
        rep = caller.rep
        command = (update.effective_message.text or "").split()[0].lstrip("/").split("@")[0]
        base_currency = effective_settings(deps.team_settings, {}).base_currency
        parsed = parse(command.lower(), list(context.args or []), base_currency)
        if parsed is None:
            await usage(update, deps, caller, command.lower())
            return

        found = await run_db(deps, lambda s: store.find_customers(s, rep.id, parsed["query"]))
        if not found:
            await reply(update, deps, caller, "no_customer", query=parsed["query"])
            return
        if len(found) == 1:
            await confirm(update, caller, parsed, found[0], replace=False)
            return

        token = await run_db(
            deps, lambda s: store.create_action(s, rep.id, PICK, parsed, deps.clock())
        )
        buttons = [
            [
                (
                    deps.renderer.label(caller.locale, "customer", customer=c),
                    f"{PICK}:{token}:{c.id}",
                )
            ]
            for c in found
        ]
        await reply(update, deps, caller, "pick_customer", buttons=buttons, record=parsed)

    async def picked(update: Update, _context: Context, caller: Caller) -> None:
        """Records the command for the customer the rep picked from the buttons."""
        assert caller.rep is not None
        assert update.callback_query is not None
        rep = caller.rep
        _, token, customer_id = (update.callback_query.data or "").split(":")

        def take(session: Session) -> tuple[dict[str, Any] | None, store.CustomerRow | None]:
            customer = store.customer_of_rep(session, rep.id, int(customer_id))
            if customer is None:
                return None, None
            return store.take_action(session, token, rep.id, PICK, deps.clock()), customer

        parsed, customer = await run_db(deps, take)
        if parsed is None or customer is None:
            await reply(update, deps, caller, "button_gone")
            return
        await confirm(update, caller, parsed, customer, replace=True)

    async def undo(update: Update, _context: Context, caller: Caller) -> None:
        """Takes a record back, once; a second press says it is already undone."""
        assert caller.rep is not None
        assert update.callback_query is not None
        rep = caller.rep
        token = (update.callback_query.data or "").split(":", 1)[1]

        def take_back(session: Session) -> bool:
            payload = store.take_action(session, token, rep.id, UNDO, deps.clock())
            if payload is None:
                return False
            return records.undo_record(session, RecordOutcome(**payload))

        if await run_db(deps, take_back):
            await edit(update, deps, caller, "undone")
        else:
            await reply(update, deps, caller, "button_gone")

    callback = guarded(deps, record)
    return [
        *(CommandHandler(command.name, callback) for command in COMMANDS),
        CallbackQueryHandler(guarded(deps, picked), pattern=rf"^{PICK}:[\w-]+:\d+$"),
        CallbackQueryHandler(guarded(deps, undo), pattern=rf"^{UNDO}:[\w-]+$"),
    ]
