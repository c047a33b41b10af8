"""The aiohttp application: routes, and the inbox writer and normaliser behind them."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import AsyncIterator, Callable

from aiohttp import web
from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError

from bot.errors import StorageError
from bot.inbox_writer import InboxWriter
from bot.normaliser import Normaliser
from bot.web.events_api import EventsApi
from bot.web.whatsapp import WebhookConfig, WhatsAppWebhook
from storage import inbox
from storage.db import check_connection

logger = logging.getLogger(__name__)

ENGINE_KEY = web.AppKey("engine", Engine)
WRITER_KEY = web.AppKey("inbox_writer", InboxWriter)
NORMALISER_KEY = web.AppKey("normaliser", Normaliser)


def create_app(
    engine: Engine,
    config: WebhookConfig,
    *,
    run_normaliser: bool = True,
    api_token: str | None = None,
) -> web.Application:
    """Build the web application.

    Args:
        engine: the store.
        config: the webhook's secrets and limits.
        run_normaliser: run the inbox normaliser in this process (off only in tests
            and benchmarks that look at the inbox alone).
        api_token: the events API's bearer token; None turns the API off (503).

    Returns:
        The application; its start-up hook starts the inbox writer and normaliser and
        its clean-up hook stops them, writing what is queued.
    """
    app = web.Application(client_max_size=config.max_body_bytes)
    gate = threading.Lock()
    writer = InboxWriter(engine, gate=gate)
    normaliser = Normaliser(engine, gate=gate, writer_quiet=writer.quiet_for)
    app[ENGINE_KEY] = engine
    app[WRITER_KEY] = writer
    app[NORMALISER_KEY] = normaliser

    webhook = WhatsAppWebhook(config, writer, normaliser)
    app.add_routes([*webhook.routes(), web.get("/healthz", healthz)])
    app.add_routes(EventsApi(engine, api_token, gate=gate).routes())
    app.cleanup_ctx.append(_background(writer, normaliser, run_normaliser))
    return app


def _background(
    writer: InboxWriter, normaliser: Normaliser, run_normaliser: bool
) -> Callable[[web.Application], AsyncIterator[None]]:
    async def lifecycle(_app: web.Application) -> AsyncIterator[None]:
        # 1. The writer first: deliveries can arrive as soon as the server listens.
        await writer.start()
        if run_normaliser:
            await normaliser.start()
        yield
        # 2. Stop taking bodies and commit what is queued, then let the normaliser finish
        #    its batch; rows it did not reach stay pending for the next start.
        await writer.stop()
        if run_normaliser:
            await normaliser.stop()

    return lifecycle


async def healthz(request: web.Request) -> web.Response:
    """Report whether the database answers, and how full the inbox is."""
    engine = request.app[ENGINE_KEY]
    try:
        await asyncio.to_thread(check_connection, engine)
        counts = await asyncio.to_thread(inbox.counts, engine)
    except (StorageError, OperationalError) as exc:
        logger.warning("health check failed: %s", exc)
        return web.json_response({"status": "error", "database": str(exc)}, status=503)
    return web.json_response(
        {
            "status": "ok",
            "database": "ok",
            "inbox": {
                "pending": counts.get(inbox.PENDING, 0),
                "failed": counts.get(inbox.FAILED, 0),
                "processed": counts.get(inbox.PROCESSED, 0),
            },
        }
    )
