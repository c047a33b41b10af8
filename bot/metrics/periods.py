"""Periods: a day, an ISO week or a calendar month in the team's time zone.

A period is half-open, ``[start, end)``, stored as aware UTC instants computed from
local midnights, so a week across a daylight-saving change lasts 167 or 169 hours.
A metric is computed *as of* an evaluation time: the time itself while the period is
running, the period's end once it is closed.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo


class PeriodKind(enum.StrEnum):
    """The length of a period."""

    DAY = "day"
    WEEK = "week"
    MONTH = "month"


@dataclass(frozen=True, slots=True)
class Period:
    """One day, ISO week or month of the team's calendar.

    Attributes:
        kind: day, week or month.
        first_day: the local date the period starts on.
        start: the first instant of the period, aware UTC.
        end: the first instant after the period, aware UTC.
        zone: the team's time zone the period was cut in.
    """

    kind: PeriodKind
    first_day: date
    start: datetime
    end: datetime
    zone: ZoneInfo

    @property
    def days(self) -> int:
        """How many calendar days the period has (7 for a week, 28 to 31 for a month)."""
        return (self._last_day() - self.first_day).days + 1

    def as_of(self, at: datetime) -> datetime:
        """The evaluation time for this period seen at ``at``.

        Args:
            at: when the numbers are asked for (aware).

        Returns:
            ``at`` while the period runs, the period's end once it is over, and the
            period's start if ``at`` is before the period (nothing has happened yet).
        """
        return min(max(at.astimezone(UTC), self.start), self.end)

    def _last_day(self) -> date:
        return (self.end.astimezone(self.zone) - timedelta(hours=1)).date()

    def label(self) -> str:
        """A short human label: ``2025-03-14``, ``2025-W11`` or ``2025-03``."""
        if self.kind is PeriodKind.DAY:
            return self.first_day.isoformat()
        if self.kind is PeriodKind.WEEK:
            year, week, _ = self.first_day.isocalendar()
            return f"{year}-W{week:02d}"
        return f"{self.first_day.year}-{self.first_day.month:02d}"


def local_midnight(day: date, zone: ZoneInfo) -> datetime:
    """The first instant of ``day`` in ``zone``, in UTC.

    Args:
        day: a local calendar date.
        zone: the team's zone.

    Returns:
        Aware UTC. Where midnight does not exist (a DST jump at 00:00) zoneinfo's
        ``fold=0`` reading gives the instant the day actually begins.
    """
    return datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)


def first_day_of(kind: PeriodKind, day: date) -> date:
    """The first local date of the period of ``kind`` that contains ``day``."""
    if kind is PeriodKind.DAY:
        return day
    if kind is PeriodKind.WEEK:
        return day - timedelta(days=day.weekday())
    return day.replace(day=1)


def _next_first_day(kind: PeriodKind, first: date) -> date:
    if kind is PeriodKind.DAY:
        return first + timedelta(days=1)
    if kind is PeriodKind.WEEK:
        return first + timedelta(days=7)
    if first.month == 12:
        return date(first.year + 1, 1, 1)
    return date(first.year, first.month + 1, 1)


def period_starting(kind: PeriodKind | str, first_day: date, zone: ZoneInfo) -> Period:
    """The period of ``kind`` whose first local day is ``first_day``.

    Args:
        kind: day, week or month.
        first_day: must be a Monday for a week and the 1st for a month.
        zone: the team's zone.

    Returns:
        The period.

    Raises:
        ValueError: ``first_day`` does not start a period of that kind.
    """
    kind = PeriodKind(kind)
    if first_day_of(kind, first_day) != first_day:
        raise ValueError(f"{first_day.isoformat()} does not start a {kind.value}")
    next_first = _next_first_day(kind, first_day)
    return Period(
        kind=kind,
        first_day=first_day,
        start=local_midnight(first_day, zone),
        end=local_midnight(next_first, zone),
        zone=zone,
    )


def period_containing(kind: PeriodKind | str, at: datetime, zone: ZoneInfo) -> Period:
    """The day, ISO week or month in ``zone`` that contains the instant ``at``.

    Args:
        kind: day, week or month.
        at: an aware instant.
        zone: the team's zone.

    Returns:
        The period.

    Raises:
        ValueError: ``at`` is naive, or ``kind`` is not a period kind.
    """
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError(f"naive datetime {at!r} given where an aware one is required")
    kind = PeriodKind(kind)
    local_day = at.astimezone(zone).date()
    return period_starting(kind, first_day_of(kind, local_day), zone)


def previous(period: Period) -> Period:
    """The period of the same kind just before ``period``."""
    day_before = (period.start.astimezone(period.zone) - timedelta(hours=1)).date()
    return period_starting(period.kind, first_day_of(period.kind, day_before), period.zone)
