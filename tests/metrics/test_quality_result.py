"""Quality and result metrics over a real store: deep conversations, quote rate, tag
accuracy, conversion, deal amount, order value, margin, repeat and referral."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

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


def talk(store: Store, customer: str, turns: int, start: datetime, gap: timedelta) -> datetime:
    """Alternate customer and rep for ``turns`` turns, ``gap`` apart; returns the last time."""
    when = start
    for turn in range(turns):
        if turn % 2 == 0:
            store.inbound(customer, when, f"question {turn}")
        else:
            store.outbound(customer, when, f"answer {turn}")
        when += gap
    return when - gap


@pytest.mark.parametrize(
    ("turns", "deep"),
    [pytest.param(10, 0, id="exactly-10-turns"), pytest.param(11, 1, id="11-turns")],
)
def test_deep_conversation_needs_more_than_10_turns(store: Store, turns: int, deep: int) -> None:
    talk(store, "c1", turns, at(hours=1), timedelta(hours=1))
    assert week(store).deep_conversations == deep


def test_a_25_hour_gap_splits_the_conversation(store: Store) -> None:
    last = talk(store, "c1", 6, at(hours=1), timedelta(hours=1))
    # Six more turns after 25 hours: two conversations of six, neither deep.
    talk(store, "c1", 6, last + timedelta(hours=25), timedelta(hours=1))
    assert week(store).deep_conversations == 0


def test_deep_conversation_counts_in_the_period_it_passed_10(store: Store) -> None:
    # Eight turns at the end of last week, three more in this week: passed 10 this week.
    talk(store, "c1", 11, at(hours=-8), timedelta(hours=1))
    assert week(store).deep_conversations == 1
    assert week(store, at()).deep_conversations == 0


def test_long_running_conversation_is_followed_back_beyond_the_lookback(store: Store) -> None:
    # One turn a day for 20 days (no gap over 24 h), the 11th turn inside the week.
    talk(store, "c1", 11, at(days=-9), timedelta(hours=23))
    assert week(store).deep_conversations == 1


def test_quote_rate_of_reached_customers(store: Store) -> None:
    store.outbound("c1", at(hours=1), read_after=timedelta(minutes=1))
    store.inbound("c1", at(hours=2), "What are your PRICES for 20ft?")
    store.outbound("c2", at(hours=1, minutes=5), "hello there", read_after=timedelta(minutes=1))
    store.inbound("c2", at(hours=3), "I appreciate it")
    kpis = week(store)
    assert kpis.effective_reach == 2
    assert kpis.quote_rate == 0.5


def test_quote_document_and_recorded_quote_are_quote_requests(store: Store) -> None:
    store.outbound("c1", at(hours=1), read_after=timedelta(minutes=1))
    store.outbound("c1", at(hours=2), None, type="document", filename="PI-2025-031.pdf")
    store.outbound("c2", at(hours=1), "good morning", read_after=timedelta(minutes=1))
    store.event("quote", "c2", at(hours=5))
    assert week(store).quote_rate == 1.0


def test_quote_rate_is_none_without_reached_customers(store: Store) -> None:
    store.inbound("c1", at(hours=2), "price?")
    assert week(store).quote_rate is None


@pytest.mark.parametrize(
    ("quote_after", "accuracy"),
    [
        pytest.param(timedelta(days=6, hours=23), 1.0, id="quote-on-day-7"),
        pytest.param(timedelta(days=7, hours=1), 0.0, id="quote-on-day-8"),
    ],
)
def test_tag_followed_by_a_quote_within_7_days(
    store: Store, quote_after: timedelta, accuracy: float
) -> None:
    store.inbound("c1", at(days=-5), "hello")
    store.tag("c1", at(days=-5))
    store.inbound("c1", at(days=-5) + quote_after, "cotización por favor")
    assert week(store).tag_accuracy == accuracy


def test_tag_followed_by_a_sample_or_a_deal(store: Store) -> None:
    store.inbound("c1", at(days=-3), "hello")
    store.inbound("c2", at(days=-3), "hello")
    store.inbound("c3", at(days=-3), "hello")
    for customer in ("c1", "c2", "c3"):
        store.tag(customer, at(days=-3))
    store.event("sample", "c1", at(days=-1))
    store.deal("c2", at(days=1), "100")
    assert week(store).tag_accuracy == pytest.approx(2 / 3)


def test_tag_whose_window_has_not_ended_is_not_judged(store: Store) -> None:
    store.inbound("c1", at(days=2), "hello")
    store.tag("c1", at(days=2))
    assert week(store).tag_accuracy is None


def test_conversion_rate_of_first_quote_requests_in_90_days(store: Store) -> None:
    store.inbound("c1", at(days=-30), "how much for 500 units?")
    store.deal("c1", at(days=-10), "1000")
    store.inbound("c2", at(days=-20), "price list please")
    store.inbound("c3", at(days=-200), "precio?")  # first request long ago: not in the base
    store.inbound("c3", at(days=-5), "precio?")
    store.deal("c3", at(days=1), "50")
    assert week(store).conversion_rate == 0.5


def test_deal_before_the_first_quote_request_does_not_convert(store: Store) -> None:
    store.inbound("c1", at(days=-40), "hello")
    store.deal("c1", at(days=-30), "10")
    store.inbound("c1", at(days=-20), "quote for the reorder?")
    assert week(store).conversion_rate == 0.0


def test_deal_amount_in_base_currency_with_margin_red_line(store: Store) -> None:
    store.inbound("c1", at(days=-40))
    store.inbound("c2", at(days=-40))
    store.inbound("c3", at(days=-40))
    store.deal("c1", at(days=1), "1000", margin=0.20)
    store.deal("c2", at(days=2), "500", "EUR", margin=0.05)  # below the minimum margin
    store.deal("c3", at(days=3), "999", "JPY", margin=0.30)  # no rate: left out
    kpis = week(store, base_currency="USD", exchange_rates={"EUR": 1.1}, minimum_margin=0.1)
    deals = kpis.deals
    assert deals.deal_amount == Decimal("1000")
    assert deals.deal_amount_all == Decimal("1550")
    assert deals.order_value == Decimal("775")
    assert deals.margin == pytest.approx((1000 * 0.20 + 550 * 0.05) / 1550)
    assert len(deals.below_margin) == 1
    assert len(deals.unconverted) == 1


def test_repeat_amount_and_referrals(store: Store) -> None:
    store.inbound("old", at(days=-60))
    store.inbound("friend", at(days=-2))
    store.deal("old", at(days=-50), "100")
    store.deal("old", at(days=1), "300")  # repeat order
    store.deal("friend", at(days=2), "200", referred_by="old")  # a referred new customer
    deals = week(store).deals
    assert deals.repeat_amount == Decimal("300")
    assert deals.referrals == 1
    assert deals.deal_amount == Decimal("500")


def test_no_deals_is_zero_amount_and_no_order_value(store: Store) -> None:
    deals = week(store).deals
    assert deals.deal_amount == 0
    assert deals.order_value is None
    assert deals.margin is None
