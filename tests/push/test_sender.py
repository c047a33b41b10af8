"""The outbox and the sender: enqueued once, delivered once, retried the right way."""

from __future__ import annotations

import base64
import logging
import random
from datetime import timedelta

import pytest
from sqlalchemy import Engine
from telegram import Bot

from bot.push.clock import FakeClock
from bot.push.sender import Sender
from bot.telegram.fake_api import FakeTelegramApi
from storage import outbox
from storage.outbox import OutboxItem
from tests.push.conftest import make_bot

PNG_1PX = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)


def text_item(recipient: int = 501, subject: str = "s1", text: str = "hello") -> OutboxItem:
    payload = {"method": "sendMessage", "text": text, "parse_mode": "HTML"}
    return OutboxItem("praise_deal", recipient, subject, "2025-03-03", payload)


def put(engine: Engine, clock: FakeClock, *items: OutboxItem) -> int:
    with engine.begin() as conn:
        return outbox.enqueue(conn, items, clock.now())


def sender(engine: Engine, bot: Bot, clock: FakeClock, name: str = "w1") -> Sender:
    return Sender(engine, bot, clock, worker=name, rng=random.Random(7))


def test_the_same_push_is_enqueued_once(engine: Engine, clock: FakeClock) -> None:
    assert put(engine, clock, text_item(), text_item()) == 1
    assert put(engine, clock, text_item()) == 0
    assert put(engine, clock, text_item(subject="s2")) == 1
    assert [r.subject for r in outbox.rows(engine)] == ["s1", "s2"]


async def test_rows_are_sent_once_with_buttons_and_photos(
    engine: Engine, api: FakeTelegramApi, tg_bot: Bot, clock: FakeClock
) -> None:
    buttons = {"buttons": [[["Keep", "tagrem:keep:t1"]]]}
    photo = {
        "method": "sendPhoto",
        "photo_b64": base64.b64encode(PNG_1PX).decode(),
        "caption": "Scores",
    }
    put(
        engine,
        clock,
        OutboxItem("nudge", 501, "c1", "", {**text_item().payload, **buttons}),
        OutboxItem("digest", 501, "chart", "2025-W10", photo),
    )
    send = sender(engine, tg_bot, clock)
    report = await send.send_due()
    assert (report.sent, report.retried, report.failed) == (2, 0, 0)
    assert (await send.send_due()).claimed == 0

    messages = api.calls_to("sendMessage")
    assert len(messages) == 1
    keyboard = messages[0].params["reply_markup"]["inline_keyboard"]
    assert keyboard == [[{"text": "Keep", "callback_data": "tagrem:keep:t1"}]]
    photos = api.calls_to("sendPhoto")
    assert len(photos) == 1
    assert photos[0].params["photo"] == PNG_1PX
    assert [r.status for r in outbox.rows(engine)] == ["sent", "sent"]
    assert all(r.telegram_message_id for r in outbox.rows(engine))


async def test_429_is_retried_after_retry_after_and_nothing_is_sent_before(
    engine: Engine,
    api: FakeTelegramApi,
    tg_bot: Bot,
    clock: FakeClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    put(engine, clock, text_item(recipient=501), text_item(recipient=502))
    api.fail("sendMessage", 429, retry_after=7)
    send = sender(engine, tg_bot, clock)
    with caplog.at_level(logging.WARNING, logger="bot.push.sender"):
        report = await send.send_due()
    assert (report.sent, report.retried) == (0, 1)
    first = outbox.rows(engine)[0]
    assert first.status == "pending"
    assert first.next_attempt_at == clock.now() + timedelta(seconds=7)
    assert "push retry scheduled id=1 kind=praise_deal attempt=1 delay_s=7.0" in caplog.text
    assert "hello" not in caplog.text

    clock.advance(timedelta(seconds=6))
    assert (await send.send_due()).claimed == 0
    assert len(api.calls_to("sendMessage")) == 1

    clock.advance(timedelta(seconds=1))
    assert (await send.send_due()).sent == 2
    assert [int(c.params["chat_id"]) for c in api.calls_to("sendMessage")] == [501, 501, 502]


async def test_5xx_is_retried_with_growing_jittered_delays(
    engine: Engine,
    api: FakeTelegramApi,
    tg_bot: Bot,
    clock: FakeClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    put(engine, clock, text_item())
    api.fail("sendMessage", 502, times=2)
    api.fail("sendMessage", 500, times=1)
    send = sender(engine, tg_bot, clock)
    delays = []
    with caplog.at_level(logging.WARNING, logger="bot.push.sender"):
        for _ in range(3):
            assert (await send.send_due()).retried == 1
            row = outbox.rows(engine)[0]
            delays.append((row.next_attempt_at - clock.now()).total_seconds())
            clock.set(row.next_attempt_at)
    # 2 s, 4 s, 8 s ceilings, each between half the ceiling and the ceiling.
    assert [1 <= delays[0] <= 2, 2 <= delays[1] <= 4, 4 <= delays[2] <= 8] == [True] * 3
    assert "attempt=3" in caplog.text
    assert (await send.send_due()).sent == 1
    assert outbox.rows(engine)[0].attempts == 4
    assert len(api.calls_to("sendMessage")) == 4


async def test_a_row_that_keeps_failing_is_failed_after_max_attempts(
    engine: Engine, api: FakeTelegramApi, tg_bot: Bot, clock: FakeClock
) -> None:
    put(engine, clock, text_item())
    api.fail("sendMessage", 503, times=10)
    send = Sender(engine, tg_bot, clock, worker="w1", max_attempts=3)
    for _ in range(3):
        await send.send_due()
        clock.advance(timedelta(hours=1))
    row = outbox.rows(engine)[0]
    assert (row.status, row.attempts) == ("failed", 3)
    assert row.error is not None
    assert row.error.startswith("gave up after 3 attempts")
    assert (await send.send_due()).claimed == 0


@pytest.mark.parametrize("status", [403, 400], ids=["blocked-403", "chat-not-found-400"])
async def test_permanent_errors_are_failed_and_not_retried(
    engine: Engine,
    api: FakeTelegramApi,
    tg_bot: Bot,
    clock: FakeClock,
    status: int,
    caplog: pytest.LogCaptureFixture,
) -> None:
    put(engine, clock, text_item(recipient=501), text_item(recipient=501, subject="s2"))
    api.fail("sendMessage", status)
    send = sender(engine, tg_bot, clock)
    with caplog.at_level(logging.ERROR, logger="bot.push.sender"):
        report = await send.send_due()
    assert (report.sent, report.failed) == (1, 1)
    assert [r.status for r in outbox.rows(engine)] == ["failed", "sent"]
    assert "push failed for good id=1 kind=praise_deal chat_id=501 attempt=1" in caplog.text
    clock.advance(timedelta(days=1))
    assert (await send.send_due()).claimed == 0
    assert len(api.calls_to("sendMessage")) == 2


async def test_a_recipients_rows_go_out_in_order_behind_a_retry(
    engine: Engine, api: FakeTelegramApi, tg_bot: Bot, clock: FakeClock
) -> None:
    put(engine, clock, text_item(subject="part-1"), text_item(subject="part-2"))
    api.fail("sendMessage", 500)
    send = sender(engine, tg_bot, clock)
    await send.send_due()
    assert [r.status for r in outbox.rows(engine)] == ["pending", "pending"]
    clock.advance(timedelta(minutes=1))
    await send.send_due()
    sent = [r for r in outbox.rows(engine) if r.status == "sent"]
    assert [r.subject for r in sorted(sent, key=lambda r: r.sent_at or clock.now())] == [
        "part-1",
        "part-2",
    ]
    assert sent[0].telegram_message_id is not None
    assert sent[1].telegram_message_id is not None
    assert sent[0].telegram_message_id < sent[1].telegram_message_id


async def test_a_sender_that_died_mid_send_leaves_the_row_to_the_next_one(
    engine: Engine, api: FakeTelegramApi, tg_bot: Bot, clock: FakeClock
) -> None:
    put(engine, clock, text_item())
    # The first process claimed the row and died before calling Telegram.
    claimed = outbox.claim(engine, "dead", clock.now(), timedelta(minutes=2))
    assert [r.id for r in claimed] == [1]

    restarted = sender(engine, tg_bot, clock, "w2")
    assert (await restarted.send_due()).claimed == 0  # the lease still holds
    clock.advance(timedelta(minutes=2, seconds=1))
    assert (await restarted.send_due()).sent == 1
    assert (await restarted.send_due()).claimed == 0
    assert len(api.calls_to("sendMessage")) == 1
    # The dead sender's late result does not overwrite the delivery.
    assert outbox.mark_failed(engine, 1, "dead", "late") is False
    assert outbox.rows(engine)[0].status == "sent"


async def test_a_row_written_before_a_crash_is_sent_after_restart_once(
    engine: Engine, api: FakeTelegramApi, clock: FakeClock
) -> None:
    put(engine, clock, text_item())  # the job committed; the process stopped before sending
    for worker in ("after-restart", "second-pass"):
        bot = await make_bot(api)
        await sender(engine, bot, clock, worker).send_due()
        await bot.shutdown()
    assert len(api.calls_to("sendMessage")) == 1
