"""The /mystats drill-downs of messages sent, quote rate, tag accuracy and conversion rate:
the customers each number counted, and counts that agree with the number."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import Engine

from bot import domain
from bot.metrics import TeamSettings, compute
from bot.metrics.periods import period_containing
from bot.render import utf16_length
from bot.telegram import kpis
from storage.db import session_factory, session_scope
from storage.ingest import apply_events
from tests.helpers import CUSTOMER, at, message_event, status_event
from tests.telegram.conftest import (
    ALICE_ID,
    BOB_CUSTOMER,
    BOB_ID,
    MANAGER_ID,
    NOW,
    SECOND_WANG,
    BotUnderTest,
    buttons_of,
    record,
    seed,
)

ZHAO = domain.CustomerRef(wa_id="8613600001234", name="Zhao Lei")
OUT = domain.Direction.OUTBOUND
# The window of both tags ends on Monday of the report's week (2025-W25).
TAGGED = at(86300) - timedelta(days=7)
NEW_METRICS = ("messages_sent", "quote_rate", "tag_accuracy", "conversion_rate")


def outbound(wamid: str, offset: int, customer: domain.CustomerRef) -> domain.MessageEvent:
    """A personalised text from Alice."""
    content = domain.MessageContent(type="text", text=f"Hello, our offer {wamid}")
    return message_event(wamid, offset=offset, direction=OUT, content=content, customer=customer)


def seed_quality(engine: Engine) -> None:
    """The team of :func:`seed`, plus what the four metrics read.

    Alice: Zhao Lei is reached on Tuesday and never asks for a quote; Wang Wei gets a
    second message, was tagged high-intent and asked for a quote the next day, and closed
    a deal on Tuesday; Wang Fang was tagged at the same time, asked for a quote only this
    week and has not bought. Bob's Li Na is tagged, asks for a quote too late for the
    tag, and buys.
    """
    seed(engine)
    with session_scope(session_factory(engine)) as session:
        apply_events(
            session,
            [
                message_event("wamid.z1", offset=95000, customer=ZHAO),
                outbound("wamid.z2", 95100, ZHAO),
                status_event("wamid.z2", domain.DeliveryStatus.READ, offset=95200, customer=ZHAO),
                outbound("wamid.a4", 100500, CUSTOMER),
            ],
        )
    quote = domain.CustomerEventKind.QUOTE
    for customer, rep in ((CUSTOMER, "Alice"), (SECOND_WANG, "Alice"), (BOB_CUSTOMER, "Bob")):
        record(engine, domain.TagRecord(customer, "high-intent", TAGGED, rep=rep))
    record(
        engine, domain.CustomerEventRecord(quote, CUSTOMER, TAGGED + timedelta(days=1), "Alice")
    )
    record(engine, domain.CustomerEventRecord(quote, SECOND_WANG, at(90060), "Alice"))
    record(engine, domain.CustomerEventRecord(quote, BOB_CUSTOMER, at(90060), "Bob"))
    for customer, rep in ((CUSTOMER, "Alice"), (BOB_CUSTOMER, "Bob")):
        record(engine, domain.DealRecord(customer, Decimal(1000), "USD", at(100000), rep=rep))


def drill(engine: Engine, metric: str, kind: str = "week", **kwargs: int) -> kpis.Drilldown:
    """Alice's drill-down of ``metric`` for the period of ``kind`` containing NOW."""
    period = period_containing(kind, NOW, TeamSettings().timezone)
    return kpis.drilldown(engine, 1, metric, period, NOW, **kwargs)


@pytest.mark.parametrize("kind", ["day", "week", "month"])
def test_counts_equal_the_numbers_of_mystats(engine: Engine, kind: str) -> None:
    seed_quality(engine)
    numbers = compute(engine, 1, kind, NOW, TeamSettings())
    sent = drill(engine, "messages_sent", kind)
    assert sent.numerator == numbers.messages_sent
    assert sum(item.detail for item in sent.counted) == numbers.messages_sent
    for metric in ("quote_rate", "tag_accuracy", "conversion_rate"):
        opened = drill(engine, metric, kind)
        rate = getattr(numbers, metric)
        assert opened.total == len(opened.counted)
        if rate is None:
            assert opened.total == 0, metric
        else:
            assert opened.numerator is not None
            assert opened.numerator / opened.total == pytest.approx(rate), metric


def test_the_week_lists_what_each_metric_counted(engine: Engine) -> None:
    seed_quality(engine)
    numbers = compute(engine, 1, "week", NOW, TeamSettings())
    assert (numbers.messages_sent, numbers.quote_rate) == (3, 0.5)
    assert (numbers.tag_accuracy, numbers.conversion_rate) == (0.5, 0.5)

    sent = drill(engine, "messages_sent")
    assert [(i.customer.name, i.detail) for i in sent.counted] == [
        ("Wang Wei", 2),
        ("Zhao Lei", 1),
    ]
    quoted = {i.customer.name: i.detail for i in drill(engine, "quote_rate").counted}
    assert quoted == {
        "Wang Wei": kpis.QuoteAsk(at(86400), TAGGED + timedelta(days=1)),
        "Zhao Lei": kpis.QuoteAsk(at(95000), None),
    }
    tags = {i.customer.name: i.detail for i in drill(engine, "tag_accuracy").counted}
    assert tags == {
        "Wang Wei": kpis.TagFollowUp(TAGGED, "quote", TAGGED + timedelta(days=1)),
        "Wang Fang": kpis.TagFollowUp(TAGGED, None, None),
    }
    converted = {i.customer.name: i.detail for i in drill(engine, "conversion_rate").counted}
    assert converted == {
        "Wang Wei": kpis.Conversion(TAGGED + timedelta(days=1), at(100000)),
        "Wang Fang": kpis.Conversion(at(90060), None),
    }


async def test_the_four_metrics_open_from_mystats(bot: BotUnderTest, engine: Engine) -> None:
    seed_quality(engine)
    [call] = await bot.send(ALICE_ID, "/mystats")
    labels = dict((data, label) for label, data in buttons_of(call))
    assert labels["drill:messages_sent:week:1"] == "🔎 Messages sent"
    assert labels["drill:quote_rate:week:1"] == "🔎 Quote rate"
    assert labels["drill:tag_accuracy:week:1"] == "🔎 Tag accuracy"
    assert labels["drill:conversion_rate:week:1"] == "🔎 Conversion rate"
    texts = {}
    for metric in NEW_METRICS:
        [call] = await bot.send(ALICE_ID, "/mystats")
        [edited] = await bot.press(ALICE_ID, call, f"drill:{metric}:week:1")
        texts[metric] = edited.params["text"]
        assert buttons_of(edited) == [("⬅️ Back", "stats:week:1")]
    assert texts == {
        "messages_sent": "🔎 <b>Messages sent</b> · Alice · week 2025-W25\n"
        "3 messages to 2 customers\n"
        "• Wang Wei +86 138****5678 — 2 messages\n"
        "• Zhao Lei +86 136****1234 — 1 message",
        "quote_rate": "🔎 <b>Quote rate</b> · Alice · week 2025-W25\n"
        "1 of 2 customers reached in the last 30 days asked for a quote\n"
        "• Wang Wei +86 138****5678 — reached Jun 16, 2025 · asked for a quote Jun 10, 2025\n"
        "• Zhao Lei +86 136****1234 — reached Jun 17, 2025 · no quote request yet",
        "tag_accuracy": "🔎 <b>Tag accuracy</b> · Alice · week 2025-W25\n"
        "1 of 2 high-intent tags followed up within 7 days\n"
        "• Wang Wei +86 138****5678 — tagged Jun 9, 2025 · followed by a quote Jun 10, 2025\n"
        "• Wang Fang +86 137****5678 — tagged Jun 9, 2025 · not followed up within 7 days",
        "conversion_rate": "🔎 <b>Conversion rate</b> · Alice · week 2025-W25\n"
        "1 of 2 customers first asking for a quote in the last 90 days closed a deal\n"
        "• Wang Wei +86 138****5678 — first quote request Jun 10, 2025 · closed Jun 17, 2025\n"
        "• Wang Fang +86 137****5678 — first quote request Jun 17, 2025 · not closed yet",
    }


async def test_the_four_metrics_in_chinese(bot: BotUnderTest, engine: Engine) -> None:
    seed_quality(engine)
    await bot.send(ALICE_ID, "/settings mylanguage zh")
    lines = {}
    for metric in NEW_METRICS:
        [call] = await bot.send(ALICE_ID, "/mystats")
        [edited] = await bot.press(ALICE_ID, call, f"drill:{metric}:week:1")
        lines[metric] = edited.params["text"].split("\n")[1:3]
        assert buttons_of(edited) == [("⬅️ 返回", "stats:week:1")]
    assert lines == {
        "messages_sent": ["共 3 条消息，发给 2 位客户", "• Wang Wei +86 138****5678 — 2 条消息"],
        "quote_rate": [
            "近 30 天有效触达的 2 位客户中，1 位已询价",
            "• Wang Wei +86 138****5678 — 触达于 2025年6月16日 · 2025年6月10日 询价",
        ],
        "tag_accuracy": [
            "2 个高意向标签中，1 个在 7 天内有跟进",
            "• Wang Wei +86 138****5678 — 标注于 2025年6月9日 · 2025年6月10日 已跟进（报价）",
        ],
        "conversion_rate": [
            "近 90 天首次询价的 2 位客户中，1 位已成交",
            "• Wang Wei +86 138****5678 — 首次询价 2025年6月10日 · 2025年6月17日 成交",
        ],
    }


async def test_a_rep_sees_only_their_own_customers(bot: BotUnderTest, engine: Engine) -> None:
    seed_quality(engine)
    for metric in NEW_METRICS:
        [call] = await bot.send(ALICE_ID, "/mystats")
        [edited] = await bot.press(ALICE_ID, call, f"drill:{metric}:week:1")
        assert "Li Na" not in edited.params["text"], metric
        assert "139****1111" not in edited.params["text"], metric
        forged = bot.api.latest_message(ALICE_ID)
        calls = await bot.feed(bot.api.press(ALICE_ID, forged, f"drill:{metric}:week:2"))
        assert [c.params["text"] for c in calls] == [
            "That command is for managers. /help lists yours."
        ]
    [call] = await bot.send(BOB_ID, "/mystats")
    [edited] = await bot.press(BOB_ID, call, "drill:tag_accuracy:week:2")
    assert (
        "Li Na +86 139****1111 — tagged Jun 9, 2025 · not followed up within 7 days"
        in (edited.params["text"])
    )
    assert "Wang" not in edited.params["text"]


async def test_a_manager_opens_a_reps_drill_down(bot: BotUnderTest, engine: Engine) -> None:
    seed_quality(engine)
    [call] = await bot.send(MANAGER_ID, "/rep alice")
    [edited] = await bot.press(MANAGER_ID, call, "drill:conversion_rate:week:1")
    assert edited.params["text"].split("\n")[1] == (
        "1 of 2 customers first asking for a quote in the last 90 days closed a deal"
    )


def seed_many(engine: Engine, n: int) -> list[domain.CustomerRef]:
    """``n`` more customers Alice messaged this week, each with a long name."""
    customers = [
        domain.CustomerRef(wa_id=f"86135{i:08d}", name=f"Customer {i:02d} {'x' * 90}")
        for i in range(n)
    ]
    with session_scope(session_factory(engine)) as session:
        apply_events(
            session, [outbound(f"wamid.n{i}", 92000 + i, c) for i, c in enumerate(customers)]
        )
    return customers


def test_pages_cover_the_whole_list_once(engine: Engine) -> None:
    seed(engine)
    seed_many(engine, 45)
    numbers = compute(engine, 1, "week", NOW, TeamSettings())
    first = drill(engine, "messages_sent", page_size=20)
    assert (first.page, first.pages, first.total) == (0, 3, 46)
    pages = [drill(engine, "messages_sent", page=p, page_size=20) for p in range(3)]
    ids = [item.customer.id for page in pages for item in page.counted]
    assert len(ids) == len(set(ids)) == 46
    assert sum(item.detail for page in pages for item in page.counted) == numbers.messages_sent
    assert all(page.numerator == numbers.messages_sent for page in pages)
    # A page past the last is the last.
    assert drill(engine, "messages_sent", page=9, page_size=20).counted == pages[2].counted


async def test_a_long_list_is_paged_under_the_limit(bot: BotUnderTest, engine: Engine) -> None:
    seed(engine)
    customers = seed_many(engine, 45)
    [call] = await bot.send(ALICE_ID, "/mystats")
    [first] = await bot.press(ALICE_ID, call, "drill:messages_sent:week:1")
    text = first.params["text"]
    assert text.split("\n")[1:3] == ["46 messages to 46 customers", "Page 1 of 2"]
    assert utf16_length(text) <= 4096
    assert buttons_of(first) == [
        ("Next ▶️", "drill:messages_sent:week:1:1"),
        ("⬅️ Back", "stats:week:1"),
    ]
    [second] = await bot.press(ALICE_ID, first, "drill:messages_sent:week:1:1")
    assert second.params["text"].split("\n")[2] == "Page 2 of 2"
    assert utf16_length(second.params["text"]) <= 4096
    assert buttons_of(second) == [
        ("◀️ Previous", "drill:messages_sent:week:1:0"),
        ("⬅️ Back", "stats:week:1"),
    ]
    shown = first.params["text"] + second.params["text"]
    assert all(c.name is not None and c.name in shown for c in customers)
    assert "13500000007" not in shown
    assert "+86 135****0007" in shown


def test_no_tags_no_entries(engine: Engine) -> None:
    seed(engine)
    for metric in ("tag_accuracy", "conversion_rate"):
        opened = drill(engine, metric)
        assert (opened.total, opened.counted, opened.pages) == (0, [], 1), metric
    with pytest.raises(ValueError, match="cannot be opened"):
        drill(engine, "margin")
