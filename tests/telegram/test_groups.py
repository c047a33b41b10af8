"""Group chats: /teamchat binding, commands addressed to the bot, no customers shown."""

from __future__ import annotations

from sqlalchemy import Engine

from storage import telegram as store
from storage.db import session_factory, session_scope
from tests.telegram.conftest import ALICE_ID, MANAGER_ID, BotUnderTest, seed

GROUP = -100200300


async def test_manager_binds_the_team_chat(bot: BotUnderTest, engine: Engine) -> None:
    seed(engine)
    texts = await bot.texts(MANAGER_ID, "/teamchat", chat_id=GROUP, chat_type="group")
    assert texts == [
        "✅ This group is now the team chat (Team). Praise and the weekly review will be "
        "posted here; nobody's customers ever are."
    ]
    with session_scope(session_factory(engine)) as session:
        rep = store.rep_by_name(session, "Mia")
        assert rep is not None
        assert rep.team_id is not None
        assert store.team_chat(session, rep.team_id) == GROUP


async def test_a_rep_cannot_bind_the_team_chat(bot: BotUnderTest, engine: Engine) -> None:
    seed(engine)
    texts = await bot.texts(ALICE_ID, "/teamchat", chat_id=GROUP, chat_type="group")
    assert texts == ["That command is for managers. /help lists yours."]


async def test_customers_are_never_shown_in_a_group(bot: BotUnderTest, engine: Engine) -> None:
    seed(engine)
    for command in ("/customers", "/mystats", "/quote 5678", "/team"):
        texts = await bot.texts(ALICE_ID, command, chat_id=GROUP, chat_type="group")
        assert texts == [
            "That one I answer only in a private chat, so nobody's customers are shown here: "
            "message @kpibot_test_bot."
        ]


async def test_group_answers_only_commands_addressed_to_it(
    bot: BotUnderTest, engine: Engine
) -> None:
    seed(engine)
    assert await bot.send(ALICE_ID, "how are the numbers?", chat_id=GROUP, chat_type="group") == []
    assert (
        await bot.send(ALICE_ID, "/leaderboard@other_bot", chat_id=GROUP, chat_type="group") == []
    )
    texts = await bot.texts(
        ALICE_ID, "/leaderboard@kpibot_test_bot", chat_id=GROUP, chat_type="group"
    )
    assert texts[0].startswith("🏆 <b>Leaderboard</b> · Score · week 2025-W25")
