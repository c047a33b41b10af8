"""/tag, /quote, /sample and /deal: customer lookup, ambiguous names, undo once, errors."""

from __future__ import annotations

from sqlalchemy import Engine, func, select

from storage.db import session_factory, session_scope
from storage.models import CustomerEvent, CustomerTag, Deal
from tests.telegram.conftest import ALICE_ID, BOB_ID, BotUnderTest, buttons_of, seed


def count(engine: Engine, model: type) -> int:
    with session_scope(session_factory(engine)) as session:
        return int(session.execute(select(func.count()).select_from(model)).scalar_one())


async def test_tag_by_full_number_is_confirmed_with_undo(
    bot: BotUnderTest, engine: Engine
) -> None:
    seed(engine)
    [call] = await bot.send(ALICE_ID, "/tag +86 138 1234 5678 high-intent")
    assert call.params["text"] == (
        "✅ Tagged <b>Wang Wei</b> (+86 138****5678) as <b>high-intent</b>."
    )
    assert [label for label, _ in buttons_of(call)] == ["↩️ Undo"]
    assert count(engine, CustomerTag) == 1


async def test_undo_works_once(bot: BotUnderTest, engine: Engine) -> None:
    seed(engine)
    [call] = await bot.send(ALICE_ID, "/quote Wang Wei")
    assert call.params["text"] == "✅ Quote recorded for <b>Wang Wei</b> (+86 138****5678)."
    [(_, undo)] = buttons_of(call)

    [edited] = await bot.press(ALICE_ID, call, undo)
    assert edited.method == "editMessageText"
    assert edited.params["text"] == "↩️ Undone: that record is taken back."
    assert count(engine, CustomerEvent) == 0

    again = await bot.feed(bot.api.press(ALICE_ID, bot.api.latest_message(ALICE_ID), undo))
    assert [c.params["text"] for c in again] == ["That button has already been used."]


async def test_ambiguous_customer_gives_buttons(bot: BotUnderTest, engine: Engine) -> None:
    seed(engine)
    [call] = await bot.send(ALICE_ID, "/deal 5678 12000 USD 18%")
    assert call.params["text"] == "Several of your customers match '5678'. Which one do you mean?"
    labels = [label for label, _ in buttons_of(call)]
    assert labels == ["Wang Fang · +86 137****5678", "Wang Wei · +86 138****5678"]
    assert count(engine, Deal) == 0

    wang_wei = buttons_of(call)[1][1]
    [done] = await bot.press(ALICE_ID, call, wang_wei)
    assert done.params["text"] == (
        "✅ Deal recorded for <b>Wang Wei</b> (+86 138****5678): <b>$12,000.00</b>, margin 18%."
    )
    assert count(engine, Deal) == 1


async def test_a_rep_never_finds_another_reps_customer(bot: BotUnderTest, engine: Engine) -> None:
    seed(engine)
    assert await bot.texts(ALICE_ID, "/sample Li Na") == [
        "No customer matches 'Li Na'. Send /customers to see yours."
    ]
    assert await bot.texts(BOB_ID, "/sample 1111") == [
        "✅ Sample recorded for <b>Li Na</b> (+86 139****1111)."
    ]


async def test_unknown_number_names_the_query(bot: BotUnderTest, engine: Engine) -> None:
    seed(engine)
    assert await bot.texts(ALICE_ID, "/quote +86 138") == [
        "No customer matches '+86 138'. Send /customers to see yours."
    ]


async def test_wrong_arguments_get_usage_and_example(bot: BotUnderTest, engine: Engine) -> None:
    seed(engine)
    assert await bot.texts(ALICE_ID, "/deal 5678") == [
        "Usage: <code>/deal CUSTOMER AMOUNT [CURRENCY] [MARGIN%]</code>\n"
        "For example: <code>/deal 5678 12000 USD 18%</code>"
    ]
    assert await bot.texts(ALICE_ID, "/tag 5678 no!good") == [
        "Usage: <code>/tag CUSTOMER TAG</code>\nFor example: <code>/tag 5678 high-intent</code>"
    ]


async def test_records_in_chinese(bot: BotUnderTest, engine: Engine) -> None:
    seed(engine)
    await bot.send(ALICE_ID, "/settings mylanguage zh")
    [call] = await bot.send(ALICE_ID, "/tag Wang Wei high-intent")
    assert (
        call.params["text"]
        == "✅ 已给 <b>Wang Wei</b>（+86 138****5678）打上标签 <b>high-intent</b>。"
    )
    assert [label for label, _ in buttons_of(call)] == ["↩️ 撤销"]
    assert await bot.texts(ALICE_ID, "/quote 0000") == [
        "没有客户匹配“0000”。发送 /customers 查看你的客户。"
    ]


async def test_a_failure_leaves_nothing_half_written(
    bot: BotUnderTest, engine: Engine, monkeypatch: object, caplog: object
) -> None:
    import logging

    import pytest

    from storage import telegram as store

    seed(engine)

    def broken(*_args: object, **_kwargs: object) -> str:
        raise RuntimeError("disk full")

    assert isinstance(monkeypatch, pytest.MonkeyPatch)
    assert isinstance(caplog, pytest.LogCaptureFixture)
    monkeypatch.setattr(store, "create_action", broken)
    with caplog.at_level(logging.ERROR, logger="bot.telegram.application"):
        texts = await bot.texts(ALICE_ID, "/tag Wang Wei high-intent")
    assert texts == [
        "Sorry, something went wrong on my side and nothing was saved. Please try again in a "
        "minute."
    ]
    assert count(engine, CustomerTag) == 0
    [record] = [r for r in caplog.records if r.name == "bot.telegram.application"]
    assert record.getMessage().startswith("update failed update_id=")
    assert record.exc_info is not None
