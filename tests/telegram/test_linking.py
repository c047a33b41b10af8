"""Linking a Telegram user to a rep with a one-time invite, and what unlinked users see."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import Engine

from storage import telegram as store
from storage.db import session_factory, session_scope
from tests.telegram.conftest import ALICE_ID, NOW, STRANGER_ID, BotUnderTest, seed

NOT_LINKED = (
    "I don't know you yet, so I show no numbers here.\n"
    "Ask your manager for your invite link (<code>kpibot rep invite NAME</code> or "
    "/invite NAME) and open it: it links this Telegram account to you."
)


def invite(engine: Engine, name: str, *, ttl: timedelta = timedelta(days=7)) -> str:
    with session_scope(session_factory(engine)) as session:
        rep = store.rep_by_name(session, name)
        assert rep is not None
        return store.create_invite(session, rep.id, NOW, ttl=ttl).code


async def test_valid_code_links_the_user(bot: BotUnderTest, engine: Engine) -> None:
    seed(engine, link=False)
    code = invite(engine, "Alice")
    assert await bot.texts(ALICE_ID, f"/start {code}") == [
        "✅ Linked: you are <b>Alice</b>.\n"
        "Send /mystats for your numbers, or /help for everything I can do."
    ]
    with session_scope(session_factory(engine)) as session:
        linked = store.rep_for_telegram_user(session, ALICE_ID)
    assert linked is not None
    assert linked.name == "Alice"


async def test_reused_code_is_refused(bot: BotUnderTest, engine: Engine) -> None:
    seed(engine, link=False)
    code = invite(engine, "Alice")
    await bot.send(ALICE_ID, f"/start {code}")
    assert await bot.texts(STRANGER_ID, f"/start {code}") == [
        "⛔ This invite link was already used. Each link works once; ask your manager for a "
        "new one."
    ]
    with session_scope(session_factory(engine)) as session:
        assert store.rep_for_telegram_user(session, STRANGER_ID) is None


async def test_expired_code_is_refused(bot: BotUnderTest, engine: Engine) -> None:
    seed(engine, link=False)
    code = invite(engine, "Alice", ttl=timedelta(seconds=-1))
    assert await bot.texts(ALICE_ID, f"/start {code}") == [
        "⛔ This invite link has expired. Ask your manager for a new one."
    ]


async def test_unknown_code_is_refused(bot: BotUnderTest, engine: Engine) -> None:
    seed(engine, link=False)
    texts = await bot.texts(ALICE_ID, "/start nosuchcode")
    assert texts[0].startswith("⛔ I don't know this invite link.")


async def test_unlinked_user_gets_an_explanation_and_no_data(
    bot: BotUnderTest, engine: Engine
) -> None:
    seed(engine)
    for command in ("/mystats", "/customers", "/quote 5678", "/start"):
        assert await bot.texts(STRANGER_ID, command) == [NOT_LINKED]


async def test_unlinked_chinese_user_is_answered_in_chinese(
    bot: BotUnderTest, engine: Engine
) -> None:
    seed(engine)
    texts = await bot.texts(STRANGER_ID, "/mystats", language_code="zh-hans")
    assert texts == [
        "我还不认识你，所以这里不显示任何数据。\n"
        "请向你的经理要邀请链接（<code>kpibot rep invite 姓名</code> 或 /invite 姓名）并打开它："
        "它会把这个 Telegram 账号和你绑定。"
    ]
