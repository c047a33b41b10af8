"""How the bot talks to Telegram: flood limits, server errors, long messages, the
webhook route, long polling, the console and the bot being off without a token."""

from __future__ import annotations

import asyncio
import io
import logging

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from pydantic import SecretStr
from sqlalchemy import Engine
from telegram import Update

from bot.telegram.console import Console
from bot.telegram.fake_api import FakeTelegramApi
from bot.telegram.runner import SECRET_HEADER, WEBHOOK_PATH, TelegramRunner, telegram_runner
from storage.db import session_factory, session_scope
from storage.reps import add_rep
from tests.telegram.conftest import (
    ALICE_ID,
    MANAGER_ID,
    BotUnderTest,
    bot_settings,
    make_deps,
    seed,
)


async def test_flood_limit_is_waited_out(bot: BotUnderTest, engine: Engine) -> None:
    seed(engine)
    bot.api.fail("sendMessage", 429, retry_after=1)
    loop = asyncio.get_running_loop()
    started = loop.time()
    calls = await bot.send(ALICE_ID, "/quote Wang Wei")
    assert loop.time() - started >= 1.0
    sends = [c for c in calls if c.method == "sendMessage"]
    assert len(sends) == 2
    assert sends[0].params == sends[1].params
    assert sends[1].params["text"] == "✅ Quote recorded for <b>Wang Wei</b> (+86 138****5678)."


async def test_server_error_gets_an_apology_and_a_log_line(
    bot: BotUnderTest, engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    seed(engine)
    bot.api.fail("sendMessage", 502, times=1)
    with caplog.at_level(logging.ERROR, logger="bot.telegram.application"):
        calls = await bot.send(ALICE_ID, "/help")
    assert calls[-1].params["text"] == (
        "Sorry, something went wrong on my side and nothing was saved. Please try again in a "
        "minute."
    )
    assert any(r.getMessage().startswith("update failed update_id=") for r in caplog.records)


async def test_long_leaderboard_is_split_under_4096(bot: BotUnderTest, engine: Engine) -> None:
    seed(engine)
    with session_scope(session_factory(engine)) as session:
        for i in range(45):
            add_rep(session, f"Rep {i:02d} " + "n" * 100, [f"9{i:05d}"], team="Export")
    texts = await bot.texts(ALICE_ID, "/leaderboard")
    assert len(texts) == 2
    assert all(len(t.encode("utf-16-le")) // 2 <= 4096 for t in texts)
    joined = "\n".join(texts)
    assert joined.count(" — 0/100") == 46
    assert "1. <b>Alice</b> — 14.7/100" in joined


def webhook_runner(engine: Engine, api: FakeTelegramApi) -> TelegramRunner:
    settings = bot_settings(api).model_copy(
        update={
            "telegram_webhook_url": "https://kpibot.example.com/webhooks/telegram",
            "telegram_webhook_secret": SecretStr("s3cret-token"),
        }
    )
    return TelegramRunner(settings, make_deps(engine))


async def test_webhook_route_checks_the_secret(
    engine: Engine, api: FakeTelegramApi, caplog: pytest.LogCaptureFixture
) -> None:
    runner = webhook_runner(engine, api)
    app = web.Application()
    app.add_routes(runner.routes())
    update = api.send_text(ALICE_ID, "/help")
    async with TestClient(TestServer(app)) as client:
        with caplog.at_level(logging.WARNING, logger="bot.telegram.runner"):
            refused = await client.post(WEBHOOK_PATH, json=update, headers={SECRET_HEADER: "no"})
            missing = await client.post(WEBHOOK_PATH, json=update)
        assert (refused.status, missing.status) == (403, 403)
        assert runner.application.update_queue.qsize() == 0
        assert "telegram webhook rejected: wrong secret token" in caplog.text

        accepted = await client.post(
            WEBHOOK_PATH, json=update, headers={SECRET_HEADER: "s3cret-token"}
        )
        assert accepted.status == 200
        assert runner.application.update_queue.qsize() == 1
        bad = await client.post(
            WEBHOOK_PATH, data=b"not json", headers={SECRET_HEADER: "s3cret-token"}
        )
        assert bad.status == 400


async def test_webhook_mode_sets_the_webhook_and_answers(
    engine: Engine, api: FakeTelegramApi
) -> None:
    seed(engine)
    runner = webhook_runner(engine, api)
    await runner.start()
    try:
        [set_webhook] = api.calls_to("setWebhook")
        assert set_webhook.params["secret_token"] == "s3cret-token"
        assert api.calls_to("getUpdates") == []
        before = len(api.calls)
        update = Update.de_json(api.send_text(MANAGER_ID, "/help"), runner.application.bot)
        await runner.application.update_queue.put(update)
        await api.wait_for_calls(before + 1)
    finally:
        await runner.stop()
    assert api.sent(MANAGER_ID)[-1]["text"].startswith("<b>kpibot</b>: your WhatsApp")


async def test_long_polling_answers(engine: Engine, api: FakeTelegramApi) -> None:
    seed(engine)
    runner = TelegramRunner(bot_settings(api), make_deps(engine))
    await runner.start()
    try:
        before = sum(1 for c in api.calls if c.method != "getUpdates")
        api.send_text(ALICE_ID, "/quote Wang Wei")
        await asyncio.wait_for(api.wait_for_calls(before + 1), 10)
    finally:
        await runner.stop()
    assert api.sent(ALICE_ID)[-1]["text"] == (
        "✅ Quote recorded for <b>Wang Wei</b> (+86 138****5678)."
    )


def test_without_a_token_the_bot_is_off(engine: Engine, caplog: pytest.LogCaptureFixture) -> None:
    from bot.config import load_settings

    settings = load_settings(telegram_bot_token="")
    with caplog.at_level(logging.INFO, logger="bot.telegram.runner"):
        assert telegram_runner(settings, make_deps(engine)) is None
    assert [r.getMessage() for r in caplog.records] == [
        "telegram bot off: TELEGRAM_BOT_TOKEN is not set"
    ]


async def test_console_driven_through_stdin(engine: Engine) -> None:
    seed(engine)
    from bot.config import load_settings

    stdin = io.StringIO("/quote wang\n1\n1\n1\n/quit\n")
    stdout = io.StringIO()
    console = Console(load_settings(), make_deps(engine), "Alice", stdin, stdout)
    await asyncio.wait_for(console.run(), 30)
    assert stdout.getvalue().split("\n")[1:] == [
        "> Several of your customers match 'wang'. Which one do you mean?",
        "  [1] Wang Fang · +86 137****5678",
        "  [2] Wang Wei · +86 138****5678",
        "",
        "> (edited) ✅ Quote recorded for Wang Fang (+86 137****5678).",
        "  [1] ↩️ Undo",
        "",
        "> (edited) ↩️ Undone: that record is taken back.",
        "",
        "> That button has already been used.",
        "",
        "> ",
        "",
    ]
