"""/mystats, /leaderboard, /customers and the manager commands, in both languages."""

from __future__ import annotations

from sqlalchemy import Engine

from tests.telegram.conftest import (
    ALICE_ID,
    BOB_ID,
    MANAGER_ID,
    BotUnderTest,
    buttons_of,
    seed,
)

MYSTATS_EN = """📊 <b>Alice</b> · week 2025-W25
Score: <b>14.7/100</b> (+14.7 since the last week) · profile standard

⛔ Effective reach: <b>1</b> / target 20 (+1)
▫️ Messages sent: <b>1</b> (+1)
✅ Reply rate: <b>100%</b> / target 20%
⛔ Active customers: <b>1</b> / target 20 (+1)
✅ Response time: <b>10m</b> / target ≤ 4h
⛔ Quote rate: <b>0%</b> / target 30%
⛔ Deep conversations: <b>0</b> / target 5 (±0)
➖ Tag accuracy: <b>no data</b> / target 70%
➖ Conversion rate: <b>no data</b> / target 15%
▫️ Deal amount: <b>$0.00</b>
➖ Order value: <b>no data</b>
➖ Margin: <b>no data</b>

✅ at or above target · ⚠️ below · ⛔ far below · ➖ no data
Numbers are a starting point for a talk with your manager, not a verdict. Open a metric to \
see the customers it counted."""


async def test_mystats_in_english(bot: BotUnderTest, engine: Engine) -> None:
    seed(engine)
    [call] = await bot.send(ALICE_ID, "/mystats")
    assert call.params["text"] == MYSTATS_EN
    assert call.params["parse_mode"] == "HTML"
    data = [d for _, d in buttons_of(call)]
    assert data[:2] == ["stats:day:1", "stats:month:1"]
    assert "drill:effective_reach:week:1" in data


async def test_mystats_in_chinese(bot: BotUnderTest, engine: Engine) -> None:
    seed(engine)
    await bot.send(ALICE_ID, "/settings mylanguage zh")
    [text] = await bot.texts(ALICE_ID, "/mystats")
    lines = text.split("\n")
    assert lines[0] == "📊 <b>Alice</b> · 周 2025-W25"
    assert lines[1] == "得分：<b>14.7/100</b>（比上一周 +14.7） · 标准档"
    assert "⛔ 有效触达：<b>1</b> / 目标 20（+1）" in lines
    assert "➖ 标签准确率：<b>无数据</b> / 目标 70%" in lines
    assert "✅ 响应时间：<b>10分钟</b> / 目标 ≤ 4小时" in lines


async def test_mystats_wrong_period_gets_usage(bot: BotUnderTest, engine: Engine) -> None:
    seed(engine)
    assert await bot.texts(ALICE_ID, "/mystats year") == [
        "Usage: <code>/mystats [day|week|month]</code>\nFor example: <code>/mystats month</code>"
    ]


async def test_drill_down_lists_own_customers_masked(bot: BotUnderTest, engine: Engine) -> None:
    seed(engine)
    [call] = await bot.send(ALICE_ID, "/mystats")
    [edited] = await bot.press(ALICE_ID, call, "drill:effective_reach:week:1")
    assert edited.params["text"] == (
        "🔎 <b>Effective reach</b> · Alice · week 2025-W25\n"
        "• Wang Wei +86 138****5678 — first contact Jun 16, 2025"
    )


async def test_a_rep_cannot_open_another_reps_customers(bot: BotUnderTest, engine: Engine) -> None:
    seed(engine)
    [call] = await bot.send(ALICE_ID, "/mystats")
    forged = bot.api.latest_message(ALICE_ID)
    calls = await bot.feed(bot.api.press(ALICE_ID, forged, "drill:reply_rate:week:2"))
    assert [c.params["text"] for c in calls] == [
        "That command is for managers. /help lists yours."
    ]
    assert call.params["text"] == MYSTATS_EN


async def test_period_button_switches_period(bot: BotUnderTest, engine: Engine) -> None:
    seed(engine)
    [call] = await bot.send(ALICE_ID, "/mystats")
    [edited] = await bot.press(ALICE_ID, call, "stats:month:1")
    assert edited.params["text"].startswith("📊 <b>Alice</b> · month 2025-06\n")


async def test_leaderboard_ranks_the_team(bot: BotUnderTest, engine: Engine) -> None:
    seed(engine)
    assert await bot.texts(BOB_ID, "/leaderboard") == [
        "🏆 <b>Leaderboard</b> · Score · week 2025-W25\n\n"
        "1. Alice — 14.7/100\n2. <b>Bob</b> — 0/100"
    ]
    assert await bot.texts(BOB_ID, "/leaderboard reply_rate") == [
        "🏆 <b>Leaderboard</b> · Reply rate · week 2025-W25\n\n"
        "1. Alice — 100%\n2. <b>Bob</b> — no data"
    ]


async def test_customers_shows_who_waits(bot: BotUnderTest, engine: Engine) -> None:
    seed(engine)
    assert await bot.texts(ALICE_ID, "/customers") == [
        "👥 <b>Your customers</b>\n\n<b>Waiting for your answer</b>\n"
        "• Wang Wei +86 138****5678 — waiting 23h\n"
        "• Wang Fang +86 137****5678 — waiting 23h\n\n"
        "<b>High-intent</b>\n"
        "No customer tagged high-intent. Tag one with <code>/tag CUSTOMER high-intent</code>."
    ]


async def test_manager_commands_are_refused_to_reps(bot: BotUnderTest, engine: Engine) -> None:
    seed(engine)
    for command in ("/team", "/rep Bob", "/digest", "/invite Bob", "/settings stage mature"):
        assert await bot.texts(ALICE_ID, command) == [
            "That command is for managers. /help lists yours."
        ]


async def test_manager_sees_team_and_a_rep(bot: BotUnderTest, engine: Engine) -> None:
    seed(engine)
    assert await bot.texts(MANAGER_ID, "/team") == [
        "👥 <b>Team</b> · week 2025-W25\n\n"
        "1. <b>Alice</b> — 14.7/100\n"
        "   reach 1 · reply 100% · response 10m · deals $0.00\n"
        "2. <b>Bob</b> — 0/100\n"
        "   reach 0 · reply no data · response 1d · deals $0.00\n\n"
        "/rep NAME opens one rep's numbers and customers."
    ]
    [call] = await bot.send(MANAGER_ID, "/rep alice")
    assert call.params["text"].startswith("📊 <b>Alice</b> · week 2025-W25\n")
    [edited] = await bot.press(MANAGER_ID, call, "drill:effective_reach:week:1")
    assert "Wang Wei +86 138****5678" in edited.params["text"]
    assert await bot.texts(MANAGER_ID, "/rep Nobody") == [
        "No rep called 'Nobody' in your team. /team lists them."
    ]


async def test_digest_and_settings(bot: BotUnderTest, engine: Engine) -> None:
    seed(engine)
    # /digest is the Friday review itself: its text, then the score and funnel charts.
    calls = await bot.send(MANAGER_ID, "/digest")
    assert [c.method for c in calls] == ["sendMessage", "sendPhoto", "sendPhoto"]
    assert calls[0].params["text"].startswith("🗓 <b>Weekly review</b> · week 2025-W24 · as of ")
    assert "<b>Team by score</b>\n1. Alice — 0/100" in calls[0].params["text"]
    assert [c.params["caption"] for c in calls[1:]] == [
        "Score, week 2025-W24",
        "Funnel, week 2025-W24",
    ]
    assert await bot.texts(MANAGER_ID, "/settings target quote_rate 35%") == [
        "✅ Saved: target.quote_rate = 0.35."
    ]
    [shown] = await bot.texts(MANAGER_ID, "/settings")
    assert "• Quote rate: 35%" in shown.split("\n")
    assert await bot.texts(MANAGER_ID, "/settings language zh") == ["✅ 已保存：language = zh。"]
    [team_zh] = await bot.texts(ALICE_ID, "/help")
    assert team_zh.startswith("<b>kpibot</b>：你的 WhatsApp 销售数据")


async def test_invite_prints_a_deep_link(bot: BotUnderTest, engine: Engine) -> None:
    seed(engine)
    [text] = await bot.texts(MANAGER_ID, "/invite Bob")
    lines = text.split("\n")
    assert (
        lines[0] == "🔗 Invite link for <b>Bob</b>; it works once, until 6/24/25, 11:06\u202fPM:"
    )
    assert lines[1].startswith("https://t.me/kpibot_test_bot?start=")
    code = lines[1].split("=", 1)[1]
    assert await bot.texts(5555, f"/start {code}") == [
        "✅ Linked: you are <b>Bob</b>.\n"
        "Send /mystats for your numbers, or /help for everything I can do."
    ]
