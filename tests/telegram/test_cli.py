"""``kpibot rep invite NAME``: a one-time deep link that /start accepts."""

from __future__ import annotations

from click.testing import CliRunner
from sqlalchemy import Engine

from bot.cli_context import CliContext
from bot.config import load_settings
from bot.telegram.cli import rep_invite
from storage import telegram as store
from storage.db import session_factory, session_scope
from storage.types import utcnow
from tests.telegram.conftest import seed


def test_rep_invite_prints_a_working_link(engine: Engine) -> None:
    seed(engine, link=False)
    context = CliContext(load_settings(database_url=str(engine.url)))
    context._engine = engine
    result = CliRunner().invoke(
        rep_invite, ["Alice", "--bot-username", "@kpibot_bot"], obj=context
    )
    assert result.exit_code == 0, result.output
    link = result.stdout.strip()
    assert link.startswith("https://t.me/kpibot_bot?start=")
    with session_scope(session_factory(engine)) as session:
        rep = store.redeem_invite(session, link.split("=", 1)[1], 4242, utcnow())
    assert rep.name == "Alice"


def test_rep_invite_without_token_or_username_says_what_to_do(engine: Engine) -> None:
    seed(engine, link=False)
    context = CliContext(load_settings(database_url=str(engine.url), telegram_bot_token=""))
    context._engine = engine
    result = CliRunner().invoke(rep_invite, ["Alice"], obj=context)
    assert result.exit_code != 0
    assert "pass --bot-username" in str(result.exception)
