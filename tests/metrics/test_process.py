"""Process metrics over a real store: effective reach, messages sent, reply rate,
active customers, response time."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import Engine

from bot.metrics import RepKpis, compute
from bot.metrics.settings import parse_team_settings
from tests.metrics.builders import Store, at

WEEK_END = at(days=7)


@pytest.fixture
def store(engine: Engine) -> Store:
    """A store with rep Lily."""
    built = Store(engine)
    built.rep("Lily")
    return built


def week(store: Store, when: datetime = WEEK_END, **settings: object) -> RepKpis:
    return compute(
        store.engine, "Lily", "week", when - timedelta(seconds=1), parse_team_settings(settings)
    )


def test_read_personalised_opener_reaches_the_customer(store: Store) -> None:
    store.outbound("c1", at(hours=1), read_after=timedelta(minutes=5))
    assert week(store).effective_reach == 1


def test_read_receipts_off_a_later_reply_proves_the_read(store: Store) -> None:
    store.outbound("c1", at(hours=1))
    store.inbound("c1", at(hours=30), "ok")
    assert week(store).effective_reach == 1


def test_history_backfill_read_without_time_counts_as_read(store: Store) -> None:
    store.outbound("c1", at(hours=1), history_read=True)
    assert week(store).effective_reach == 1


def test_unread_opener_and_customer_who_never_answers_is_not_reached(store: Store) -> None:
    store.outbound("c1", at(hours=1))
    kpis = week(store)
    assert kpis.effective_reach == 0
    assert kpis.reply_rate == 0.0


def test_read_after_the_evaluation_time_does_not_count_yet(store: Store) -> None:
    store.outbound("c1", at(hours=1), read_after=timedelta(hours=3))
    assert week(store, at(hours=2)).effective_reach == 0
    assert week(store, at(hours=5)).effective_reach == 1


def test_broadcast_to_five_customers_is_not_an_opener(store: Store) -> None:
    for n in range(5):
        # Digits, case and white space are folded: these five are one text.
        store.outbound(f"c{n}", at(hours=1 + n), f"NEW  catalogue {n}!", read_after=timedelta(1))
    assert week(store).effective_reach == 0


def test_same_text_to_four_customers_is_still_personalised(store: Store) -> None:
    for n in range(4):
        store.outbound(f"c{n}", at(hours=1 + n), "new catalogue", read_after=timedelta(1))
    assert week(store).effective_reach == 4


def test_same_text_spread_over_more_than_a_day_is_no_broadcast(store: Store) -> None:
    for n in range(5):
        store.outbound(f"c{n}", at(hours=1 + 7 * n), "new catalogue", read_after=timedelta(1))
    assert week(store).effective_reach == 5


@pytest.mark.parametrize(
    ("kwargs", "reached"),
    [
        pytest.param({"template": "marketing"}, 0, id="marketing-template"),
        pytest.param({"template": "utility"}, 0, id="utility-template"),
        pytest.param({"automated": True}, 0, id="automated"),
        pytest.param({}, 1, id="personalised"),
    ],
)
def test_only_personalised_messages_reach(
    store: Store, kwargs: dict[str, object], reached: int
) -> None:
    store.outbound("c1", at(hours=1), read_after=timedelta(minutes=1), **kwargs)  # type: ignore[arg-type]
    assert week(store).effective_reach == reached


def test_personalised_message_after_24_hours_of_contact_start_does_not_reach(store: Store) -> None:
    store.inbound("c1", at(hours=1), "hello?")
    store.outbound("c1", at(hours=25, minutes=1), read_after=timedelta(minutes=1))
    assert week(store).effective_reach == 0


def test_contact_started_before_the_period_is_not_reach_of_the_period(store: Store) -> None:
    store.inbound("c1", at(days=-2), "hello?")
    store.outbound("c1", at(hours=1), read_after=timedelta(minutes=1))
    assert week(store).effective_reach == 0


def test_messages_sent_leave_out_automated_and_reactions(store: Store) -> None:
    store.outbound("c1", at(hours=1))
    store.outbound("c1", at(hours=2), automated=True)
    store.outbound("c1", at(hours=3), None, type="reaction")
    store.outbound("c2", at(hours=4), template="marketing")
    assert week(store).messages_sent == 2


@pytest.mark.parametrize(
    ("reply_after", "rate"),
    [
        pytest.param(timedelta(hours=71), 1.0, id="reply-within-72h"),
        pytest.param(timedelta(hours=72), 1.0, id="reply-at-72h"),
        pytest.param(timedelta(hours=73), 0.0, id="reply-after-72h"),
    ],
)
def test_reply_rate_counts_replies_within_72_hours(
    store: Store, reply_after: timedelta, rate: float
) -> None:
    store.outbound("c1", at(hours=1))
    store.inbound("c1", at(hours=1) + reply_after, "yes")
    assert week(store).reply_rate == rate


def test_reply_rate_is_none_when_the_rep_messaged_nobody(store: Store) -> None:
    store.inbound("c1", at(hours=1))
    assert week(store).reply_rate is None


def test_reply_rate_base_is_distinct_customers_messaged(store: Store) -> None:
    store.outbound("c1", at(hours=1))
    store.outbound("c1", at(hours=2))
    store.outbound("c2", at(hours=3))
    store.inbound("c2", at(hours=4), "thanks")  # a reaction or text both count
    assert week(store).reply_rate == 0.5


def test_active_customers_needs_both_directions_in_the_trailing_7_days(store: Store) -> None:
    store.outbound("c1", at(days=1))
    store.inbound("c1", at(days=2))
    store.outbound("c2", at(days=1))
    store.inbound("c3", at(days=1))
    store.outbound("c4", at(days=-3))  # outside the 7 days before the week's end
    store.inbound("c4", at(days=5))
    assert week(store).active_customers == 1


def test_response_time_caps_unanswered_turns_and_skips_pending_ones(store: Store) -> None:
    store.inbound("c1", at(hours=1), "price?")
    store.outbound("c1", at(hours=3))  # 2 h
    store.inbound("c2", at(hours=2), "hello")  # never answered: 24 h
    store.inbound("c3", at(days=6, hours=23, minutes=50), "still there?")  # pending at week's end
    rt = week(store).response_time
    assert rt.turns == 2
    assert rt.pending == 1
    assert rt.mean_s == pytest.approx((2 * 3600 + 24 * 3600) / 2)
    assert rt.median_s == pytest.approx((2 * 3600 + 24 * 3600) / 2)
    assert rt.bands == {"le_4h": 0.5, "le_12h": 0.0, "le_24h": 0.0, "unanswered_or_over_24h": 0.5}


def test_response_time_answer_counts_from_the_turns_first_message(store: Store) -> None:
    store.inbound("c1", at(hours=1), "hi")
    store.inbound("c1", at(hours=2), "are you there?")
    store.outbound("c1", at(hours=5), automated=True)  # an away message answers nothing
    store.outbound("c1", at(hours=6))
    rt = week(store).response_time
    assert rt.turns == 1
    assert rt.mean_s == 5 * 3600
    assert rt.bands is not None
    assert rt.bands["le_12h"] == 1.0


def test_response_time_is_none_without_customer_turns(store: Store) -> None:
    store.outbound("c1", at(hours=1))
    rt = week(store).response_time
    assert (rt.turns, rt.mean_s, rt.median_s, rt.bands) == (0, None, None, None)


def test_working_hours_with_two_intervals_and_a_holiday(store: Store) -> None:
    settings = {
        "timezone": "Europe/Berlin",
        "working_hours": {
            "mon": ["09:00-12:00", "13:30-18:00"],
            "tue": ["09:00-12:00", "13:30-18:00"],
            "wed": ["09:00-12:00", "13:30-18:00"],
        },
        "holidays": [date(2025, 3, 4)],
    }
    berlin = timedelta(hours=1)  # CET in March before the change
    # Monday 11:00 Berlin asked, answered 14:00: 1 h before lunch, 30 min after.
    store.inbound("c1", datetime(2025, 3, 3, 11, tzinfo=UTC) - berlin, "price?")
    store.outbound("c1", datetime(2025, 3, 3, 14, tzinfo=UTC) - berlin)
    # Monday 17:00 asked, answered Wednesday 09:30: 1 h Monday, Tuesday a holiday, 30 min.
    store.inbound("c2", datetime(2025, 3, 3, 17, tzinfo=UTC) - berlin, "hello")
    store.outbound("c2", datetime(2025, 3, 5, 9, 30, tzinfo=UTC) - berlin)
    end = datetime(2025, 3, 9, 22, tzinfo=UTC)
    rt = week(store, end, **settings).response_time
    assert rt.turns == 2
    assert rt.mean_s == pytest.approx(1.5 * 3600)
