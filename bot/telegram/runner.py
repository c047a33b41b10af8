"""Running the bot inside ``kpibot serve``: long polling, or a webhook on the same server.

Without ``TELEGRAM_BOT_TOKEN`` the bot is off (logged once). With
``TELEGRAM_WEBHOOK_URL`` set, Telegram posts updates to ``POST /webhooks/telegram`` on
kpibot's own aiohttp server; the route checks ``X-Telegram-Bot-Api-Secret-Token``
against ``TELEGRAM_WEBHOOK_SECRET`` and puts each update on the application's queue.
Otherwise the bot fetches updates by long polling.
"""

from __future__ import annotations

import hmac
import json
import logging

from aiohttp import web
from telegram import Update
from telegram.ext import Application

from bot.config import Settings
from bot.errors import ConfigError
from bot.handlers.base import Deps
from bot.telegram.application import build_application, prepare

logger = logging.getLogger(__name__)

WEBHOOK_PATH = "/webhooks/telegram"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"


class TelegramRunner:
    """The bot's lifecycle: build, start (polling or webhook), stop, in that order.

    Args:
        settings: the token, webhook and Bot API server settings.
        deps: what the handlers need.
    """

    def __init__(self, settings: Settings, deps: Deps) -> None:
        self.webhook_url = settings.telegram_webhook_url or None
        secret = settings.telegram_webhook_secret
        self.secret = secret.get_secret_value() if secret else None
        if self.webhook_url and not self.secret:
            raise ConfigError(
                "TELEGRAM_WEBHOOK_URL is set but TELEGRAM_WEBHOOK_SECRET is not; set a "
                "random secret (letters, digits, _ and -) so only Telegram can post updates"
            )
        self.deps = deps
        self.application: Application = build_application(
            settings, deps, with_updater=not self.webhook_url
        )

    def routes(self) -> list[web.RouteDef]:
        """The webhook route for kpibot's server; none when polling."""
        if not self.webhook_url:
            return []
        return [web.post(WEBHOOK_PATH, self.receive)]

    async def start(self) -> None:
        """Connect to Telegram, then take updates by webhook or long polling."""
        app = self.application
        await app.initialize()
        await prepare(app, self.deps)
        await app.start()
        if self.webhook_url:
            await app.bot.set_webhook(
                self.webhook_url, secret_token=self.secret, allowed_updates=Update.ALL_TYPES
            )
            logger.info("telegram webhook set path=%s", WEBHOOK_PATH)
        else:
            assert app.updater is not None
            await app.bot.delete_webhook()
            await app.updater.start_polling(allowed_updates=Update.ALL_TYPES)
            logger.info("telegram long polling started")

    async def stop(self) -> None:
        """Stop taking updates, finish the ones queued, and close the connections."""
        app = self.application
        if app.updater is not None and app.updater.running:
            await app.updater.stop()
        if app.running:
            await app.stop()
        await app.shutdown()
        logger.info("telegram bot stopped")

    async def receive(self, request: web.Request) -> web.Response:
        """``POST /webhooks/telegram``: check the secret, queue the update, answer 200."""
        given = request.headers.get(SECRET_HEADER, "")
        assert self.secret is not None
        if not hmac.compare_digest(given.encode(), self.secret.encode()):
            logger.warning(
                "telegram webhook rejected: wrong secret token remote=%s", request.remote
            )
            return web.Response(status=403, text="wrong secret token")
        try:
            data = await request.json()
            update = Update.de_json(data, self.application.bot)
        except (json.JSONDecodeError, TypeError, KeyError, ValueError):
            logger.warning("telegram webhook rejected: body is not an update")
            return web.Response(status=400, text="body is not a Telegram update")
        await self.application.update_queue.put(update)
        return web.Response(text="ok")


def telegram_runner(settings: Settings, deps: Deps) -> TelegramRunner | None:
    """The bot's runner, or None (logged once) when ``TELEGRAM_BOT_TOKEN`` is not set."""
    if settings.telegram_bot_token is None:
        logger.info("telegram bot off: TELEGRAM_BOT_TOKEN is not set")
        return None
    return TelegramRunner(settings, deps)
