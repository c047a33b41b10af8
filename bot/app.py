"""Start-up and shutdown of the kpibot process (``kpibot serve``)."""

from __future__ import annotations

import asyncio
import logging
import signal
import sys

from aiohttp import web

from bot.config import Settings
from bot.errors import ConfigError
from bot.handlers.base import Deps
from bot.ingest.whatsapp import MAX_BODY_BYTES
from bot.metrics import load_team_settings
from bot.push.service import start_push, stop_push
from bot.render import Renderer
from bot.telegram.runner import telegram_runner
from bot.web.server import create_app
from bot.web.whatsapp import WebhookConfig
from storage import migrate
from storage.db import check_connection, create_db_engine, redact_url

logger = logging.getLogger(__name__)


def webhook_config(settings: Settings, *, insecure: bool = False) -> WebhookConfig:
    """The webhook's configuration, refusing to run unsigned unless told to.

    Raises:
        ConfigError: no app secret and no explicit insecure development mode.
    """
    secret = settings.whatsapp_app_secret
    if secret is None and not insecure:
        raise ConfigError(
            "WHATSAPP_APP_SECRET is not set, so webhook signatures cannot be checked. "
            "Set it to your Meta app's secret, or pass --insecure-skip-signature for "
            "local development only."
        )
    token = settings.whatsapp_verify_token
    limit = settings.kpibot_max_body_bytes
    if limit > MAX_BODY_BYTES:
        # A larger body would pass the size check and then fail the parser's own, as a
        # 400 that tells Meta the body is malformed; a 413 says what is wrong.
        logger.warning(
            "KPIBOT_MAX_BODY_BYTES=%d is over the %d bytes the WhatsApp parser reads; using %d",
            limit,
            MAX_BODY_BYTES,
            MAX_BODY_BYTES,
        )
        limit = MAX_BODY_BYTES
    return WebhookConfig(
        app_secret=secret.get_secret_value().encode() if secret else None,
        verify_token=token.get_secret_value() if token else None,
        max_body_bytes=limit,
        verify_signatures=secret is not None,
    )


async def serve(settings: Settings, *, insecure: bool = False) -> None:
    """Run the webhook server and the Telegram bot until SIGINT or SIGTERM, then shut down
    in order."""
    # 1. Configuration first: refuse to start rather than run half-protected.
    config = webhook_config(settings, insecure=insecure)
    if not config.verify_signatures:
        logger.warning(
            "INSECURE: webhook signatures are NOT checked; anyone who can reach this port "
            "can write data. Never run like this on a public address."
        )

    # 2. The store: reachable, and at the schema this version expects.
    engine = create_db_engine(settings.database_url)
    await asyncio.to_thread(check_connection, engine)
    before, after = await asyncio.to_thread(migrate.upgrade, engine)
    logger.info(
        "database ready url=%s schema=%s", redact_url(settings.database_url), after or before
    )

    # 3. The Telegram bot, built before the server so its webhook route can be added.
    team = load_team_settings(settings.kpibot_team_settings, settings.kpibot_timezone)
    deps = Deps(engine=engine, renderer=Renderer(team.timezone), team_settings=team)
    telegram = telegram_runner(settings, deps)

    # 4. The HTTP server; its start-up hooks start the inbox writer and normaliser.
    api_token = settings.kpibot_api_token
    app = create_app(engine, config, api_token=api_token.get_secret_value() if api_token else None)
    if telegram is not None:
        app.add_routes(telegram.routes())
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, settings.kpibot_http_host, settings.kpibot_http_port)
    await site.start()
    logger.info(
        "listening on http://%s:%s (POST /webhooks/whatsapp, GET /healthz)",
        settings.kpibot_http_host,
        settings.kpibot_http_port,
    )

    # 5. The bot takes updates once the server (and its webhook route) is up.
    if telegram is not None:
        await telegram.start()

    # 5b. Scheduled pushes: the sender first (rows left from before a restart go out), then
    #     the jobs, which catch up what was missed while the process was down.
    push = None
    if telegram is not None:
        push = await start_push(
            settings, engine, telegram.application, team_settings=team, renderer=deps.renderer
        )

    # 6. Wait for a stop signal.
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    # Windows' event loop takes no signal handlers; there Ctrl+C ends the process instead.
    if sys.platform != "win32":
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
    await stop.wait()

    # 7. Stop the bot first (it finishes the updates it holds and may still write), then
    #    stop listening, commit queued deliveries, finish the normaliser's batch; last,
    #    release the database.
    logger.info("shutting down")
    if push is not None:
        await stop_push(push)
    if telegram is not None:
        await telegram.stop()
    await runner.cleanup()
    engine.dispose()
    logger.info("stopped")
