"""The python-telegram-bot ``Application`` of kpibot, built from the settings.

:func:`build_application` sets the token, a self-hosted Bot API server when
``TELEGRAM_API_BASE_URL`` names one, a rate limiter that waits out Telegram's flood
limits (429 with ``retry_after``) and the error handler; :func:`register_handlers`
assembles every module of :mod:`bot.handlers`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from typing import Any

from telegram import BotCommand, Update
from telegram.error import TelegramError
from telegram.ext import AIORateLimiter, Application, ApplicationBuilder

from bot.config import Settings
from bot.errors import ConfigError
from bot.handlers import MODULES
from bot.handlers.base import Context, Deps
from bot.render import LOCALES, pick_locale

logger = logging.getLogger(__name__)

# Retries of one request after a 429; each waits the retry_after Telegram asked for.
FLOOD_RETRIES = 3


def api_urls(root: str) -> tuple[str, str]:
    """The Bot API and file URLs PTB wants, from a server root like ``http://host:8081``."""
    root = root.rstrip("/")
    return f"{root}/bot", f"{root}/file/bot"


def build_application(settings: Settings, deps: Deps, *, with_updater: bool = True) -> Application:
    """Build the bot with every handler registered.

    Args:
        settings: the token and, optionally, the Bot API server's address.
        deps: what the handlers need.
        with_updater: False when updates arrive by webhook instead of long polling.

    Returns:
        The application, not yet initialised.

    Raises:
        ConfigError: ``TELEGRAM_BOT_TOKEN`` is not set.
    """
    if settings.telegram_bot_token is None:
        raise ConfigError("TELEGRAM_BOT_TOKEN is not set; create a bot with @BotFather")
    builder = (
        ApplicationBuilder()
        .token(settings.telegram_bot_token.get_secret_value())
        .rate_limiter(AIORateLimiter(max_retries=FLOOD_RETRIES))
        # Scheduled pushes (digest, nudges) get their own scheduler in bot/app.py.
        .job_queue(None)
    )
    if settings.telegram_api_base_url:
        base_url, base_file_url = api_urls(settings.telegram_api_base_url)
        builder = builder.base_url(base_url).base_file_url(base_file_url)
    if not with_updater:
        builder = builder.updater(None)
    application = builder.build()
    register_handlers(application, deps)
    application.add_error_handler(_error_handler(deps))
    return application


def register_handlers(application: Application, deps: Deps) -> None:
    """Add the handlers of every :mod:`bot.handlers` module, and note their commands."""
    commands = []
    for module in MODULES:
        commands.extend(module.COMMANDS)
        for handler in module.handlers(deps):
            application.add_handler(handler)
    deps.commands = tuple(commands)


async def prepare(application: Application, deps: Deps) -> None:
    """After ``initialize``: learn the bot's username and publish the command menu per locale."""
    deps.bot_username = application.bot.username
    for locale in LOCALES:
        menu = [
            BotCommand(command.name, deps.renderer.label(locale, "command", name=command.name))
            for command in deps.commands
            if not command.managers_only
        ]
        await application.bot.set_my_commands(
            menu, language_code=None if locale == "en" else locale
        )
    logger.info("telegram bot ready username=%s commands=%d", deps.bot_username, len(menu))


def _error_handler(deps: Deps) -> Callable[[object, Context], Coroutine[Any, Any, None]]:
    async def on_error(update: object, context: Context) -> None:
        update_id = update.update_id if isinstance(update, Update) else None
        logger.error("update failed update_id=%s", update_id, exc_info=context.error)
        if not isinstance(update, Update) or update.effective_chat is None:
            return
        user = update.effective_user
        locale = pick_locale(user.language_code if user else None)
        try:
            await update.effective_chat.send_message(deps.renderer.render(locale, "error"))
        except TelegramError:
            logger.warning("apology not delivered update_id=%s", update_id)

    return on_error
