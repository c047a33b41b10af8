"""What every handler module shares: its dependencies, who is asking, and replying.

A handler is thin: it parses the command, calls storage or the metrics through
:func:`run_db` (in a worker thread, inside one transaction), renders a template and
replies with :func:`reply`. :func:`guarded` wraps it with the access rules: linked users
only, managers only, private chats only, each refusal rendered from a template.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import Engine
from sqlalchemy.orm import Session
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.constants import ChatType, ParseMode
from telegram.ext import ContextTypes

from bot.metrics.settings import STAGES, TARGETS, TeamSettings
from bot.render import Renderer, pick_locale, split_message
from storage import telegram as store
from storage.db import session_factory, session_scope
from storage.telegram import LinkedRep

logger = logging.getLogger(__name__)

T = TypeVar("T")
Context = ContextTypes.DEFAULT_TYPE
Buttons = Sequence[Sequence[tuple[str, str]]]
"""Rows of (label, callback data) pairs."""


def utc_now() -> datetime:
    """The current time, aware UTC."""
    return datetime.now(UTC)


@dataclass(frozen=True)
class Command:
    """A command a handler module offers, for ``/help`` and Telegram's command menu.

    Attributes:
        name: the command without the slash.
        managers_only: shown to managers only.
        in_groups: also answered in group chats.
    """

    name: str
    managers_only: bool = False
    in_groups: bool = False


@dataclass
class Deps:
    """Everything the handlers need, built once at start-up.

    Attributes:
        engine: the store.
        renderer: the templates.
        team_settings: the team settings file's values (Telegram overrides apply on top).
        clock: the current time, aware (tests fix it).
        invite_ttl: how long an invite code works.
        bot_username: the bot's username, filled in from getMe at start-up.
        commands: every command of every handler module, for ``/help``.
    """

    engine: Engine
    renderer: Renderer
    team_settings: TeamSettings
    clock: Callable[[], datetime] = utc_now
    invite_ttl: timedelta = store.DEFAULT_INVITE_TTL
    bot_username: str = ""
    commands: tuple[Command, ...] = ()
    sessions: Any = field(init=False)

    def __post_init__(self) -> None:
        self.sessions = session_factory(self.engine)


@dataclass(frozen=True)
class Caller:
    """Who sent an update: the linked rep (None if not linked) and how to speak to them."""

    rep: LinkedRep | None
    locale: str
    private: bool
    telegram_user_id: int | None


async def run_db(deps: Deps, work: Callable[[Session], T]) -> T:
    """Run ``work`` in one transaction in a worker thread: committed, or rolled back whole."""

    def in_session() -> T:
        with session_scope(deps.sessions) as session:
            return work(session)

    return await asyncio.to_thread(in_session)


def effective_settings(base: TeamSettings, overrides: dict[str, str]) -> TeamSettings:
    """The team settings with the values changed in Telegram applied on top."""
    stage = overrides.get("stage", base.stage)
    targets = dict(base.targets)
    for key, value in overrides.items():
        if key.startswith("target."):
            targets[key.removeprefix("target.")] = float(value)
    return dataclasses.replace(
        base, stage=stage if stage in STAGES else base.stage, targets=targets
    )


def team_locale(overrides: dict[str, str]) -> str:
    """The team's language."""
    return pick_locale(overrides.get("language"))


async def identify(update: Update, deps: Deps) -> Caller:
    """Who sent ``update`` and in which language to answer them."""
    user = update.effective_user
    chat = update.effective_chat
    private = chat is not None and chat.type == ChatType.PRIVATE
    if user is None:
        return Caller(None, pick_locale(None), private, None)

    def look_up(session: Session) -> tuple[LinkedRep | None, str]:
        rep = store.rep_for_telegram_user(session, user.id)
        if rep is None:
            return None, pick_locale(user.language_code)
        own = store.rep_settings(session, rep.id).get("language")
        team = store.team_settings_overrides(session, rep.team_id).get("language")
        return rep, pick_locale(own, team)

    rep, locale = await run_db(deps, look_up)
    return Caller(rep, locale, private, user.id)


def keyboard(buttons: Buttons | None) -> InlineKeyboardMarkup | None:
    """Inline buttons from rows of (label, callback data); None for no buttons."""
    if not buttons:
        return None
    return InlineKeyboardMarkup(
        [
            [InlineKeyboardButton(label, callback_data=data) for label, data in row]
            for row in buttons
        ]
    )


async def reply(
    update: Update,
    deps: Deps,
    caller: Caller,
    template: str,
    *,
    buttons: Buttons | None = None,
    **values: Any,
) -> Message | None:
    """Render ``template`` for the caller and send it, split to Telegram's length limit.

    Buttons go on the last part. Returns the last message sent.
    """
    chat = update.effective_chat
    if chat is None:
        return None
    text = deps.renderer.render(caller.locale, template, **values)
    parts = split_message(text)
    sent: Message | None = None
    for index, part in enumerate(parts):
        markup = keyboard(buttons) if index == len(parts) - 1 else None
        sent = await chat.send_message(part, parse_mode=ParseMode.HTML, reply_markup=markup)
    return sent


async def edit(
    update: Update,
    deps: Deps,
    caller: Caller,
    template: str,
    *,
    buttons: Buttons | None = None,
    **values: Any,
) -> None:
    """Replace the message whose button was pressed with ``template`` (first part only fits,
    so a long answer is sent as new messages instead)."""
    query = update.callback_query
    text = deps.renderer.render(caller.locale, template, **values)
    parts = split_message(text)
    if query is None or query.message is None or len(parts) > 1:
        await reply(update, deps, caller, template, buttons=buttons, **values)
        return
    await query.edit_message_text(
        parts[0], parse_mode=ParseMode.HTML, reply_markup=keyboard(buttons)
    )


Handler = Callable[[Update, Context, Caller], Awaitable[None]]


def guarded(
    deps: Deps,
    handler: Handler,
    *,
    linked: bool = True,
    managers_only: bool = False,
    private_only: bool = True,
) -> Callable[[Update, Context], Coroutine[Any, Any, None]]:
    """Wrap ``handler`` with kpibot's access rules, each refusal answered from a template.

    Args:
        deps: the handlers' dependencies.
        handler: the handler, called with the caller once every rule passes.
        linked: only Telegram users linked to a rep.
        managers_only: only managers.
        private_only: only in a private chat (a group never sees a rep's customers).

    Returns:
        A PTB callback.
    """

    async def callback(update: Update, context: Context) -> None:
        caller = await identify(update, deps)
        if update.callback_query is not None:
            await update.callback_query.answer()
        if private_only and not caller.private:
            await reply(update, deps, caller, "private_only", bot_username=deps.bot_username)
            return
        if linked and caller.rep is None:
            logger.info("unlinked telegram user refused user_id=%s", caller.telegram_user_id)
            await reply(update, deps, caller, "not_linked")
            return
        if managers_only and (caller.rep is None or not caller.rep.is_manager):
            await reply(update, deps, caller, "managers_only")
            return
        await handler(update, context, caller)

    return callback


def usage(update: Update, deps: Deps, caller: Caller, command: str) -> Awaitable[Message | None]:
    """Answer with a command's usage and an example."""
    return reply(update, deps, caller, "usage", command=command)


def check_target(metric: str, raw: str) -> float:
    """A target typed in ``/settings target METRIC VALUE``, checked.

    Rates take a fraction or a percentage (``0.3``, ``30%``); counts and amounts a
    positive number.

    Raises:
        ValueError: unknown metric or unusable value.
    """
    if metric not in TARGETS:
        raise ValueError(metric)
    text = raw.strip().rstrip("%")
    value = float(text)
    if raw.strip().endswith("%"):
        value /= 100
    if value <= 0 or value != value or (metric in _RATES and value > 1):
        raise ValueError(raw)
    return value


_RATES = ("reply_rate", "quote_rate", "tag_accuracy", "conversion_rate", "margin")
