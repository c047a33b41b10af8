"""Praise, nudges, red lines, reminders and coaching: sent once, stopped when the cause goes."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import Engine

from bot import domain
from bot.push import coaching, nudges, praise, redlines, reminders
from bot.push.clock import FakeClock
from bot.push.context import PushContext
from bot.render import Renderer
from storage import outbox
from storage.db import session_factory, session_scope
from storage.ingest import apply_events
from tests.push.builders import (
    ALICE_CHAT,
    MANAGER_CHAT,
    TEAM_CHAT,
    Team,
    berlin_settings,
    local,
)

CUSTOMER = "4915112345678"


def context(engine: Engine, clock: FakeClock) -> PushContext:
    settings = berlin_settings()
    return PushContext(engine, Renderer(settings.timezone), settings, clock, "test")


def texts(engine: Engine, kind: str) -> list[str]:
    return [r.payload["text"] for r in outbox.rows(engine, kinds=[kind])]


def test_a_waiting_customer_is_nudged_once_and_again_only_after_an_answer(engine: Engine) -> None:
    team = Team(engine)
    clock = FakeClock(local("2025-10-27", "09:00"))  # Monday
    ctx = context(engine, clock)
    team.message(CUSTOMER, local("2025-10-27", "09:05"), inbound=True)

    clock.set(local("2025-10-27", "13:00"))  # 3 h 55 min: not yet
    nudges.enqueue_nudges(ctx, "nudges", "slot-1")
    assert outbox.rows(engine, kinds=[nudges.WAITING]) == []

    clock.set(local("2025-10-27", "13:15"))
    nudges.enqueue_nudges(ctx, "nudges", "slot-2")
    clock.set(local("2025-10-27", "13:30"))
    nudges.enqueue_nudges(ctx, "nudges", "slot-3")
    rows = outbox.rows(engine, kinds=[nudges.WAITING])
    assert [(r.recipient, r.subject) for r in rows] == [(ALICE_CHAT, rows[0].subject)]
    assert rows[0].payload["text"] == (
        "⏰ <b>Customer 5678</b> +49 151****5678 has been waiting for your answer since "
        "10/27/25, 9:05\u202fAM (4h 10m).\n"
        "A reply within 4 working hours keeps the customer; send one now."
    )

    # The rep answers: the cause is gone, nothing more.
    team.message(CUSTOMER, local("2025-10-27", "13:40"), inbound=False)
    clock.set(local("2025-10-27", "17:45"))
    nudges.enqueue_nudges(ctx, "nudges", "slot-4")
    assert len(outbox.rows(engine, kinds=[nudges.WAITING])) == 1

    # The customer writes again and waits 4 working hours: a new cause, a new nudge, sent
    # the next working morning (quiet after 18:00).
    team.message(CUSTOMER, local("2025-10-27", "17:50"), inbound=True)
    clock.set(local("2025-10-27", "23:00"))
    nudges.enqueue_nudges(ctx, "nudges", "slot-5")
    assert len(outbox.rows(engine, kinds=[nudges.WAITING])) == 1
    clock.set(local("2025-10-28", "12:00"))
    nudges.enqueue_nudges(ctx, "nudges", "slot-6")
    assert len(outbox.rows(engine, kinds=[nudges.WAITING])) == 2


def test_a_silent_high_intent_customer_is_nudged_after_48_hours(engine: Engine) -> None:
    team = Team(engine)
    clock = FakeClock(local("2025-10-27", "10:00"))
    ctx = context(engine, clock)
    team.message(CUSTOMER, local("2025-10-27", "09:00"), inbound=True)
    team.message(CUSTOMER, local("2025-10-27", "09:30"), inbound=False)
    team.tag(CUSTOMER, local("2025-10-27", "10:00"))

    clock.set(local("2025-10-29", "09:59"))
    nudges.enqueue_nudges(ctx, "nudges", "a")
    assert outbox.rows(engine, kinds=[nudges.HIGH_INTENT]) == []
    clock.set(local("2025-10-29", "10:15"))
    nudges.enqueue_nudges(ctx, "nudges", "b")
    nudges.enqueue_nudges(ctx, "nudges", "c")
    assert len(outbox.rows(engine, kinds=[nudges.HIGH_INTENT])) == 1
    assert texts(engine, nudges.HIGH_INTENT)[0].startswith(
        "🔥 High-intent customer <b>Customer 5678</b> +49 151****5678 has heard nothing"
    )


def test_a_deal_is_praised_once_without_the_customer(engine: Engine) -> None:
    team = Team(engine)
    clock = FakeClock(local("2025-10-27", "11:00"))
    ctx = context(engine, clock)
    team.message(CUSTOMER, local("2025-10-27", "10:00"), inbound=True)
    team.deal(CUSTOMER, local("2025-10-27", "10:30"), "12500")
    for slot in ("s1", "s2"):
        praise.enqueue_event_praise(ctx, "praise:events", slot)
    assert texts(engine, praise.DEAL) == [
        "🎉 <b>Alice</b> just closed a deal: $12,500.00. Well done!"
    ]
    assert outbox.rows(engine, kinds=[praise.DEAL])[0].recipient == TEAM_CHAT


def test_an_undone_deal_is_not_praised(engine: Engine) -> None:
    team = Team(engine)
    clock = FakeClock(local("2025-10-27", "11:00"))
    ctx = context(engine, clock)
    team.message(CUSTOMER, local("2025-10-27", "10:00"), inbound=True)
    team.deal(CUSTOMER, local("2025-10-27", "10:30"), "900")
    from storage.models import Deal

    with session_scope(session_factory(engine)) as session:
        session.query(Deal).delete()
    praise.enqueue_event_praise(ctx, "praise:events", "s1")
    assert outbox.rows(engine, kinds=[praise.DEAL]) == []


def test_a_new_customers_first_quote_request_is_praised_once(engine: Engine) -> None:
    team = Team(engine)
    clock = FakeClock(local("2025-10-27", "12:00"))
    ctx = context(engine, clock)
    team.message(CUSTOMER, local("2025-10-27", "10:00"), inbound=False)
    team.message(
        CUSTOMER, local("2025-10-27", "11:00"), inbound=True, text="What is your FOB price?"
    )
    team.message(CUSTOMER, local("2025-10-27", "11:30"), inbound=True, text="And the MOQ?")
    praise.enqueue_event_praise(ctx, "praise:events", "s1")
    praise.enqueue_event_praise(ctx, "praise:events", "s2")
    assert texts(engine, praise.QUOTE) == [
        "💡 <b>Alice</b> got a first quote request from a new customer (1 today). Keep it going!"
    ]
    assert CUSTOMER[-4:] not in texts(engine, praise.QUOTE)[0]


def test_the_days_top_reply_rate_needs_ten_customers(engine: Engine) -> None:
    team = Team(engine)
    clock = FakeClock(local("2025-10-27", "18:00"))
    ctx = context(engine, clock)
    for i in range(10):
        customer = f"49151000000{i:02d}"
        team.message(customer, local("2025-10-27", "09:00") + timedelta(minutes=i), inbound=False)
        if i < 4:
            team.message(customer, local("2025-10-27", "10:00"), inbound=True)
    for i in range(9):
        team.message(
            f"49152000000{i:02d}", local("2025-10-27", "09:00"), inbound=False, rep="王芳"
        )
        team.message(f"49152000000{i:02d}", local("2025-10-27", "09:30"), inbound=True, rep="王芳")
    day = ctx.clock.now()
    from bot.metrics.periods import period_containing

    period = period_containing("day", day, ctx.settings.timezone)
    praise.enqueue_daily_praise(ctx, period, "praise:daily", period.label())
    praise.enqueue_daily_praise(ctx, period, "praise:daily", period.label())
    assert texts(engine, praise.REPLY_RATE) == [
        "🏆 Today's best reply rate: <b>Alice</b>, 40% of 10 customers messaged replied."
    ]


def test_a_flagged_number_reaches_the_manager_once(engine: Engine) -> None:
    team = Team(engine)
    clock = FakeClock(local("2025-10-27", "11:00"))
    ctx = context(engine, clock)
    with session_scope(session_factory(engine)) as session:
        apply_events(
            session,
            [
                domain.AccountEvent(
                    kind=domain.AccountEventKind.QUALITY_FLAG,
                    event="FLAGGED",
                    timestamp=local("2025-10-27", "10:50"),
                    phone_number_id="pn-alice",
                )
            ],
        )
    redlines.enqueue_red_lines(ctx, "red_lines", "s1")
    redlines.enqueue_red_lines(ctx, "red_lines", "s2")
    rows = outbox.rows(engine, kinds=[redlines.RED_LINE])
    assert [r.recipient for r in rows] == [MANAGER_CHAT]
    assert rows[0].payload["text"].split("\n")[0] == "⛔ <b>Red line: Alice</b>"
    assert "This sets Alice's score for the month to 0." in rows[0].payload["text"]
    assert team.team_id


def test_a_stale_tag_gets_one_reminder_with_three_buttons(engine: Engine) -> None:
    team = Team(engine)
    clock = FakeClock(local("2025-10-20", "10:00"))
    ctx = context(engine, clock)
    team.message(CUSTOMER, local("2025-10-20", "09:00"), inbound=True)
    team.tag(CUSTOMER, local("2025-10-20", "09:30"))
    clock.set(local("2025-10-27", "10:00"))
    reminders.enqueue_reminders(ctx, "reminders:tags", "2025-10-27")
    clock.set(local("2025-10-28", "10:00"))
    reminders.enqueue_reminders(ctx, "reminders:tags", "2025-10-28")
    rows = outbox.rows(engine, kinds=[reminders.REMINDER])
    assert len(rows) == 1
    labels = [row[0][0] for row in rows[0].payload["buttons"]]
    assert labels == ["✅ Keep", "⬇️ Lower", "📨 Follow up"]
    assert all(row[0][1].startswith("tagrem:") for row in rows[0].payload["buttons"])


def test_coaching_flags_two_weeks_below_target_with_stalled_conversations(engine: Engine) -> None:
    team = Team(engine)
    clock = FakeClock(local("2025-10-27", "09:00"))
    ctx = context(engine, clock)
    # Alice reached a customer in each week; nobody asked for a quote; both went quiet.
    team.message("4915100000001", local("2025-10-14", "10:00"), inbound=False)
    team.message("4915100000001", local("2025-10-14", "11:00"), inbound=True)
    team.message("4915100000002", local("2025-10-21", "10:00"), inbound=False)
    from bot.metrics.periods import period_containing, previous

    week = previous(period_containing("week", clock.now(), ctx.settings.timezone))
    coaching.enqueue_alerts(ctx, week, "coaching", week.label())
    rows = outbox.rows(engine, kinds=[coaching.COACHING])
    alice = [r for r in rows if r.subject.endswith(str(team.rep_ids["Alice"]))]
    assert len(alice) == 1
    lines = alice[0].payload["text"].split("\n")
    assert lines[0] == "🧭 <b>Coaching: Alice</b>"
    assert (
        "• +49 151****0001 — Oct 14, 2025 rep, Oct 14, 2025 customer; "
        "last word: the customer (waiting)"
    ) in lines
    assert "• +49 151****0002 — Oct 21, 2025 rep; last word: Alice" in lines
