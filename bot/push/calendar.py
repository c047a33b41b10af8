"""The calendar of the scheduled jobs: occurrences of a weekly or monthly push, working days.

All in the team's zone: a local wall-clock time is turned into a UTC instant per day, so
a push at 17:00 stays at 17:00 across a daylight-saving change.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from bot.metrics.periods import Period, PeriodKind, period_containing, previous
from bot.metrics.settings import WEEKDAYS, TeamSettings
from storage.push_queries import TeamRow

logger = logging.getLogger(__name__)

DEFAULT_DIGEST_DAY = "fri"
DEFAULT_DIGEST_TIME = time(17, 0)


@dataclass(frozen=True)
class Occurrence:
    """One due run of a job: its period key, when it was due, and what it is for."""

    key: str
    due_at: datetime
    period: Period | None = None


def local_at(day: date, clock_time: time, zone: ZoneInfo) -> datetime:
    """The instant of ``clock_time`` on local ``day``, in UTC (the earlier one in a DST fold)."""
    return datetime.combine(day, clock_time, tzinfo=zone).astimezone(UTC)


def is_working_day(day: date, settings: TeamSettings) -> bool:
    """A day with working hours (Monday to Friday when the team sets none), not a holiday."""
    if day in settings.holidays:
        return False
    if settings.working_hours is None:
        return day.weekday() < 5
    return bool(settings.working_hours.get(day.weekday()))


def first_working_day(month: Period, settings: TeamSettings) -> date:
    """The first working day of a month (its first day when it has none at all)."""
    day = month.first_day
    for offset in range(month.days):
        candidate = day + timedelta(days=offset)
        if is_working_day(candidate, settings):
            return candidate
    return day


def weekly_occurrence(now: datetime, weekday: int, at: time, zone: ZoneInfo) -> Occurrence:
    """The latest ``weekday`` at ``at`` local time not after ``now``, keyed by its ISO week."""
    week = period_containing(PeriodKind.WEEK, now, zone)
    due_at = local_at(week.first_day + timedelta(days=weekday), at, zone)
    if due_at > now:
        week = previous(week)
        due_at = local_at(week.first_day + timedelta(days=weekday), at, zone)
    return Occurrence(week.label(), due_at, week)


def digest_schedule(team: TeamRow) -> tuple[int, time]:
    """The weekday (0 = Monday) and local time of a team's weekly review."""
    day = team.overrides.get("digest_day", DEFAULT_DIGEST_DAY)
    raw = team.overrides.get("digest_time")
    weekday = WEEKDAYS.index(day) if day in WEEKDAYS else WEEKDAYS.index(DEFAULT_DIGEST_DAY)
    try:
        clock_time = time.fromisoformat(raw) if raw else DEFAULT_DIGEST_TIME
    except ValueError:
        clock_time = DEFAULT_DIGEST_TIME
    return weekday, clock_time
