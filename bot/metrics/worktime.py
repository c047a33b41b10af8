"""Working time: how much of a span falls inside the team's working hours.

Response time counts only working time when the team sets working hours. Intervals
are local wall-clock times, turned into UTC per calendar day, so a day on which the
clocks change keeps its wall-clock hours. Holidays have no working time.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from functools import lru_cache

from bot.metrics.settings import TeamSettings

_DAY = timedelta(days=1)


class WorkingClock:
    """Measures elapsed time, either round the clock or within working hours.

    Args:
        settings: the team settings; without working hours every second counts.
    """

    def __init__(self, settings: TeamSettings) -> None:
        self._settings = settings
        self._day_intervals = lru_cache(maxsize=4096)(self._intervals_of)

    @property
    def round_the_clock(self) -> bool:
        """True when the team sets no working hours."""
        return self._settings.working_hours is None

    def elapsed(self, start: datetime, end: datetime) -> timedelta:
        """The time between ``start`` and ``end`` that counts.

        Args:
            start: aware instant.
            end: aware instant; an ``end`` before ``start`` gives zero.

        Returns:
            ``end - start`` without working hours; otherwise the part of it inside
            working intervals, holidays excluded.
        """
        if end <= start:
            return timedelta(0)
        if self.round_the_clock:
            return end - start

        zone = self._settings.timezone
        day = start.astimezone(zone).date()
        last_day = end.astimezone(zone).date()
        total = timedelta(0)
        while day <= last_day:
            for open_at, close_at in self._day_intervals(day):
                overlap = min(close_at, end) - max(open_at, start)
                if overlap > timedelta(0):
                    total += overlap
            day += _DAY
        return total

    def _intervals_of(self, day: date) -> tuple[tuple[datetime, datetime], ...]:
        hours = self._settings.working_hours
        if hours is None or day in self._settings.holidays:
            return ()
        zone = self._settings.timezone
        return tuple(
            (
                datetime.combine(day, opens, tzinfo=zone).astimezone(UTC),
                datetime.combine(day, closes, tzinfo=zone).astimezone(UTC),
            )
            for opens, closes in hours.get(day.weekday(), ())
        )
