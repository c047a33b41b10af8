"""The clock of the push side: the real one, and a fake one that tests and demos move.

Everything in :mod:`bot.push` asks a :class:`Clock` for the time and sleeps through it,
never ``datetime.now`` or ``asyncio.sleep`` directly, so a simulated week runs in a
second. A clock is also callable, so it can stand where the handlers take a
``Callable[[], datetime]`` (``Deps.clock``).
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta
from typing import Protocol

logger = logging.getLogger(__name__)


class Clock(Protocol):
    """What the push side needs of time."""

    def now(self) -> datetime:
        """The current time, aware UTC."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` of this clock's time."""
        ...

    def __call__(self) -> datetime:
        """The current time, as :meth:`now`."""
        ...


class RealClock:
    """The system clock."""

    def now(self) -> datetime:
        """The current time, aware UTC."""
        return datetime.now(UTC)

    async def sleep(self, seconds: float) -> None:
        """Sleep on the event loop."""
        await asyncio.sleep(max(seconds, 0.0))

    def __call__(self) -> datetime:
        """The current time, aware UTC."""
        return self.now()


class FakeClock:
    """A clock that only moves when told to, or when something sleeps on it.

    Args:
        start: the time it shows first (aware).

    Raises:
        ValueError: ``start`` is naive.
    """

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None or start.utcoffset() is None:
            raise ValueError(f"naive datetime {start!r} given where an aware one is required")
        self._now = start.astimezone(UTC)

    def now(self) -> datetime:
        """The time it shows, aware UTC."""
        return self._now

    def set(self, at: datetime) -> None:
        """Move to ``at``; a fake clock never goes back.

        Raises:
            ValueError: ``at`` is before the time shown.
        """
        at = at.astimezone(UTC)
        if at < self._now:
            raise ValueError(f"a fake clock does not go back: {at} < {self._now}")
        self._now = at

    def advance(self, delta: timedelta) -> datetime:
        """Move forward by ``delta``; returns the new time."""
        self.set(self._now + delta)
        return self._now

    async def sleep(self, seconds: float) -> None:
        """Move forward by ``seconds`` at once, and let other tasks run."""
        self.advance(timedelta(seconds=max(seconds, 0.0)))
        await asyncio.sleep(0)

    def __call__(self) -> datetime:
        """The time it shows."""
        return self._now
