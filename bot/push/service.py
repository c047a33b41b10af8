"""Starting and stopping the push side inside ``kpibot serve``: the sender, then the
scheduler (which first catches up what was missed while the process was down).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field

from sqlalchemy import Engine
from telegram import Bot
from telegram.ext import Application

from bot.config import Settings
from bot.errors import ConfigError
from bot.metrics import TeamSettings, load_team_settings
from bot.push.clock import Clock, RealClock
from bot.push.context import PushContext
from bot.push.scheduler import Cadence, PushScheduler
from bot.push.sender import Sender
from bot.render import Renderer

logger = logging.getLogger(__name__)


@dataclass
class PushService:
    """The running push side: what :func:`stop_push` stops."""

    scheduler: PushScheduler
    sender: Sender
    sender_task: asyncio.Task[None]
    own_bot: Bot | None = field(default=None)


def _bot(settings: Settings, bot_or_app: Bot | Application | None) -> tuple[Bot, bool]:
    if isinstance(bot_or_app, Application):
        return bot_or_app.bot, False
    if isinstance(bot_or_app, Bot):
        return bot_or_app, False
    if settings.telegram_bot_token is None:
        raise ConfigError("TELEGRAM_BOT_TOKEN is not set; push messages need the bot")
    from bot.telegram.application import api_urls

    token = settings.telegram_bot_token.get_secret_value()
    if settings.telegram_api_base_url:
        base_url, base_file_url = api_urls(settings.telegram_api_base_url)
        return Bot(token, base_url=base_url, base_file_url=base_file_url), True
    return Bot(token), True


async def start_push(
    settings: Settings,
    engine: Engine,
    bot_or_app: Bot | Application | None,
    clock: Clock | None = None,
    *,
    team_settings: TeamSettings | None = None,
    renderer: Renderer | None = None,
    cadence: Cadence | None = None,
) -> PushService:
    """Start delivering the outbox and firing the scheduled jobs.

    Steps: 1. the bot (the application's, or one built from the settings' token and Bot
    API server); 2. the sender, so rows left from before a restart go out first; 3. the
    scheduler, which runs each missed occurrence once and then fires on time.

    Args:
        settings: the token, the Bot API server, the team settings file and zone.
        engine: the store (migrated).
        bot_or_app: the running PTB ``Application`` or a ``Bot``; None builds a bot.
        clock: the clock; the real one by default.
        team_settings: the team settings; read from ``settings`` when None.
        renderer: the templates; built for the team's zone when None.
        cadence: how often and when the jobs run; the product's defaults when None.

    Returns:
        The running service, for :func:`stop_push`.
    """
    clock = clock or RealClock()
    team = team_settings or load_team_settings(
        settings.kpibot_team_settings, settings.kpibot_timezone
    )
    bot, owned = _bot(settings, bot_or_app)
    await bot.initialize()

    sender = Sender(engine, bot, clock)
    sender_task = asyncio.create_task(sender.run(), name="kpibot-push-sender")

    ctx = PushContext(engine, renderer or Renderer(team.timezone), team, clock, sender.worker)
    scheduler = PushScheduler(ctx, sender.wake, cadence)
    await scheduler.start()
    return PushService(scheduler, sender, sender_task, bot if owned else None)


async def stop_push(service: PushService) -> None:
    """Stop firing jobs, then stop the sender (rows it holds go back), then the own bot."""
    await service.scheduler.stop()
    await service.sender.stop()
    service.sender_task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await service.sender_task
    if service.own_bot is not None:
        await service.own_bot.shutdown()
    logger.info("push stopped")
