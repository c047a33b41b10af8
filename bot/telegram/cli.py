"""The Telegram subcommands of ``kpibot``: ``rep invite NAME`` and ``console --as NAME``."""

from __future__ import annotations

import asyncio
import logging
import sys
from datetime import timedelta

import click
from telegram import Bot

from bot.cli_context import CliContext, pass_context
from bot.config import Settings
from bot.errors import ConfigError, NotFoundError
from bot.handlers.base import Deps, utc_now
from bot.metrics import load_team_settings
from bot.render import Renderer
from bot.telegram.application import api_urls
from bot.telegram.console import run_console
from storage import telegram as store
from storage.db import session_factory, session_scope

logger = logging.getLogger(__name__)


async def bot_username(settings: Settings) -> str:
    """The bot's username, asked of Telegram with the token (getMe)."""
    if settings.telegram_bot_token is None:
        raise ConfigError(
            "TELEGRAM_BOT_TOKEN is not set; pass --bot-username to print the link anyway"
        )
    root = settings.telegram_api_base_url
    base_url = api_urls(root)[0] if root else "https://api.telegram.org/bot"
    async with Bot(settings.telegram_bot_token.get_secret_value(), base_url=base_url) as bot:
        return str(bot.username)


def make_deps(obj: CliContext) -> Deps:
    """Handler dependencies on the CLI's store and team settings."""
    settings = obj.settings
    team = load_team_settings(settings.kpibot_team_settings, settings.kpibot_timezone)
    return Deps(engine=obj.engine(), renderer=Renderer(team.timezone), team_settings=team)


@click.command("invite")
@click.argument("name")
@click.option("--bot-username", help="The bot's username, when TELEGRAM_BOT_TOKEN is not set.")
@click.option("--days", type=click.IntRange(1, 90), default=7, show_default=True,
              help="How many days the link works.")  # fmt: skip
@pass_context
def rep_invite(obj: CliContext, name: str, bot_username: str | None, days: int) -> None:
    """Print a one-time Telegram link that binds the person who opens it to rep NAME."""
    username = bot_username or asyncio.run(_username(obj.settings))
    with session_scope(session_factory(obj.engine())) as session:
        rep = store.rep_by_name(session, name)
        if rep is None:
            raise NotFoundError(f"no rep called {name!r}; `kpibot rep list` shows the reps")
        made = store.create_invite(session, rep.id, utc_now(), ttl=timedelta(days=days))
    click.echo(f"https://t.me/{username.lstrip('@')}?start={made.code}")
    click.echo(f"Works once, until {made.expires_at.isoformat(timespec='minutes')}.", err=True)


async def _username(settings: Settings) -> str:
    return await bot_username(settings)


@click.command("console")
@click.option("--as", "name", required=True, help="The rep or manager to act as.")
@pass_context
def console(obj: CliContext, name: str) -> None:
    """Use the bot in this terminal as rep NAME, through the real handlers and the local store."""
    asyncio.run(run_console(obj.settings, make_deps(obj), name, sys.stdin, sys.stdout))
