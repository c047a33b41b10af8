"""Score, profiles, red lines and periods over a real store."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine

from bot.domain import AccountEventKind
from bot.metrics import compute, compute_team
from bot.metrics.periods import period_containing
from bot.metrics.settings import parse_team_settings
from tests.metrics.builders import Store, at

WEEK_END = at(days=7)


@pytest.mark.parametrize(
    ("hired_days_before", "seniority", "profile"),
    [
        pytest.param(89, "senior", "new_hire", id="day-89-new-hire"),
        pytest.param(90, "senior", "senior", id="day-90-senior"),
        pytest.param(90, "standard", "standard", id="day-90-standard"),
    ],
)
def test_new_hire_profile_ends_at_day_90(
    engine: Engine, hired_days_before: int, seniority: str, profile: str
) -> None:
    store = Store(engine)
    day = date(2025, 3, 3)
    store.rep("Lily", hire_date=day - timedelta(days=hired_days_before), seniority=seniority)
    kpis = compute(engine, "Lily", "day", at(hours=12))
    assert kpis.profile == profile


def test_score_is_weighted_attainment_out_of_100(engine: Engine) -> None:
    store = Store(engine)
    store.rep("Lily")
    # Two customers reached, one asks for a price; both answered within 4 hours.
    for n in range(2):
        store.outbound(f"c{n}", at(hours=1), f"hello {'ab'[n]}", read_after=timedelta(1))
    store.inbound("c0", at(hours=2), "price?")
    store.outbound("c0", at(hours=3), "USD 4.20 FOB")
    store.inbound("c1", at(hours=2), "thanks")
    store.outbound("c1", at(hours=3), "welcome")
    settings = parse_team_settings({"stage": "mature"})
    kpis = compute(engine, "Lily", "week", WEEK_END - timedelta(seconds=1), settings)
    assert kpis.attainments["effective_reach"] == pytest.approx(2 / 10)
    assert kpis.attainments["active_customers"] == pytest.approx(2 / 20)
    assert kpis.attainments["response_time"] == 1.0
    assert kpis.attainments["quote_rate"] == 1.0  # 0.5 of a 0.3 target, capped
    assert kpis.attainments["conversion_rate"] == 0.0
    # Deal amount and margin / order value have no target: their 25 points are spread.
    expected = (10 * 0.2 + 10 * 0.1 + 10 * 1 + 15 * 1 + 15 * 0 + 15 * 0) / 75 * 100
    assert kpis.score == pytest.approx(expected, abs=0.01)
    assert kpis.red_line is None


def test_month_target_scales_with_its_days(engine: Engine) -> None:
    store = Store(engine)
    store.rep("Lily")
    settings = parse_team_settings({"stage": "pioneering", "targets": {"deal_amount": 700}})
    store.inbound("c1", at(days=-40))
    store.deal("c1", at(days=2), "1000")
    kpis = compute(engine, "Lily", "month", at(days=20), settings)  # March: 31 days
    assert kpis.attainments["deal_amount"] == pytest.approx(1000 / (700 * 31 / 7))


@pytest.mark.parametrize(
    ("kind", "whole_waba", "red"),
    [
        pytest.param(AccountEventKind.BAN, False, True, id="banned-number"),
        pytest.param(AccountEventKind.BAN, True, True, id="banned-waba"),
        pytest.param(AccountEventKind.QUALITY_FLAG, False, True, id="quality-flag"),
        pytest.param(AccountEventKind.RESTRICTION, False, False, id="restriction-is-no-red-line"),
        pytest.param(AccountEventKind.VIOLATION, False, False, id="violation-is-no-red-line"),
    ],
)
def test_red_lines_zero_the_months_score(
    engine: Engine, kind: AccountEventKind, whole_waba: bool, red: bool
) -> None:
    store = Store(engine)
    store.rep("Lily")
    store.outbound("c1", at(hours=1), read_after=timedelta(minutes=1))
    store.inbound("c1", at(hours=2), "price?")
    store.outbound("c1", at(hours=2, minutes=10), "here")
    store.account_event(kind, at(days=10), whole_waba=whole_waba, event="DISABLED_UPDATE")
    month = compute(engine, "Lily", "month", at(days=20))
    assert (month.red_line is not None) is red
    assert (month.score == 0.0) is red
    if red:
        assert "2025-03-13" in str(month.red_line)
    # The first week ended before the event: its score stands.
    assert compute(engine, "Lily", "week", at(days=20) - timedelta(days=19)).red_line is None


def test_another_reps_ban_is_not_this_reps_red_line(engine: Engine) -> None:
    store = Store(engine)
    store.rep("Lily")
    store.rep("Tom")
    store.inbound("x", at(hours=1), rep="Tom")
    store.account_event(AccountEventKind.BAN, at(days=1), rep="Tom")
    assert compute(engine, "Lily", "month", at(days=20)).red_line is None
    assert compute(engine, "Tom", "month", at(days=20)).red_line is not None


@pytest.mark.parametrize(
    ("complaints", "red"),
    [pytest.param(3, False, id="at-threshold"), pytest.param(4, True, id="over-threshold")],
)
def test_complaints_over_the_threshold_are_a_red_line(
    engine: Engine, complaints: int, red: bool
) -> None:
    store = Store(engine)
    store.rep("Lily")
    store.inbound("c1", at(hours=1))
    for n in range(complaints):
        store.event("complaint", "c1", at(days=1 + n))
    kpis = compute(
        engine, "Lily", "month", at(days=20), parse_team_settings({"complaint_threshold": 3})
    )
    assert (kpis.red_line is not None) is red


def test_week_across_the_dst_change_in_berlin(engine: Engine) -> None:
    berlin = ZoneInfo("Europe/Berlin")
    store = Store(engine)
    store.rep("Lily")
    # Sunday 2025-03-30 the clocks go from 02:00 to 03:00: the week has 167 hours.
    week = period_containing("week", datetime(2025, 3, 28, tzinfo=berlin), berlin)
    assert week.end - week.start == timedelta(hours=167)
    # Sunday 23:30 local (21:30 UTC) is in the week; Monday 00:30 local is not.
    store.outbound("c1", datetime(2025, 3, 30, 21, 30, tzinfo=UTC))
    store.outbound("c2", datetime(2025, 3, 30, 22, 30, tzinfo=UTC))
    settings = parse_team_settings({"timezone": "Europe/Berlin"})
    kpis = compute(engine, "Lily", week, datetime(2025, 4, 10, tzinfo=UTC), settings)
    assert kpis.messages_sent == 1
    assert kpis.evaluated_at == week.end


def test_unknown_rep_is_a_clear_error(engine: Engine) -> None:
    from bot.errors import NotFoundError

    with pytest.raises(NotFoundError, match="no rep 'Nobody'"):
        compute(engine, "Nobody", "week", at())


def test_empty_period_scores_zero_with_no_data_as_none(engine: Engine) -> None:
    Store(engine).rep("Lily")
    kpis = compute(engine, "Lily", "week", at(days=3))
    assert kpis.score == 0.0
    values = kpis.to_dict()
    for metric in ("reply_rate", "quote_rate", "tag_accuracy", "conversion_rate", "margin"):
        assert values[metric] is None


def test_compute_team_for_some_reps_gives_just_their_kpis(engine: Engine) -> None:
    store = Store(engine)
    store.rep("Lily")
    store.rep("Tom")
    store.rep("Ana")
    for rep in ("Lily", "Tom", "Ana"):
        store.outbound(f"c-{rep}", at(hours=1), rep=rep, read_after=timedelta(minutes=5))
        store.inbound(f"c-{rep}", at(hours=2), rep=rep)
    when = at(days=3)
    every = {k.rep: k.to_dict() for k in compute_team(engine, "week", when)}
    some = compute_team(engine, "week", when, rep_ids={store.reps["Ana"], store.reps["Tom"]})
    assert [k.rep for k in some] == ["Ana", "Tom"]
    assert [k.to_dict() for k in some] == [every["Ana"], every["Tom"]]
