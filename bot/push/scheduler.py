"""When each push is made: the scheduled jobs, run once per period even across processes.

Every job has a stable id, an APScheduler ``CronTrigger`` in the team's time zone, and a
*due* rule that, given the time, names the occurrence to run (a period key and when it
was due). A run claims ``(job id, period key)`` in ``job_run`` in the same transaction as
its outbox rows, so a period runs once even when two processes fire together, and a
missed occurrence (the process was down on Friday at 17:00) is run once when the
process comes back, as long as it is not older than the job's ``late_limit``.

The jobs:

============================ ====================================== ==================
job id                       when (team's local time)               period key
============================ ====================================== ==================
``snapshots:hourly``         every hour, on the hour                the UTC hour
``snapshots:final``          00:05 daily (day, and week / month      the closed day
                             when they closed too)
``nudges``                   every 15 min, inside working hours     the 15-min slot
``praise:events``            every 2 min (deals, first quotes)      the slot
``red_lines``                every 2 min                            the slot
``praise:daily``             18:00 daily (top reply rate)           the day
``reminders:tags``           10:00 on working days                  the day
``coaching``                 Mondays 09:00 (last two weeks)         the closed week
``digest:team-<id>``         the team's review time (Fri 17:00)     the ISO week
``monthly``                  09:00 on the month's first working day the closed month
============================ ====================================== ==================

Live, an ``AsyncIOScheduler`` fires the jobs; :meth:`PushScheduler.drive` fires the same
triggers against a :class:`~bot.push.clock.FakeClock`, for tests and demos.
"""

from __future__ import annotations

import asyncio
import logging
import time as perf
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from bot.metrics import snapshots
from bot.metrics.periods import PeriodKind, period_containing, period_starting, previous
from bot.metrics.settings import WEEKDAYS
from bot.push import coaching, digest, nudges, praise, redlines, reminders
from bot.push.calendar import (
    Occurrence,
    digest_schedule,
    first_working_day,
    is_working_day,
    local_at,
    weekly_occurrence,
)
from bot.push.context import PushContext
from storage import outbox, push_queries
from storage.push_queries import TeamRow

logger = logging.getLogger(__name__)

# A job may start this late and still run (APScheduler's misfire grace).
MISFIRE_GRACE_S = 15 * 60
FREQUENT_JOBS = ("snapshots:hourly", "nudges", "praise:events", "red_lines")
JOB_RUN_RETENTION = timedelta(days=7)


@dataclass(frozen=True)
class Cadence:
    """How often and when the jobs run; the defaults are the product's.

    Attributes:
        nudge_minutes: minutes between nudge checks.
        scan_minutes: minutes between checks for new deals, quotes and red lines.
        daily_praise: local time of the day's top reply rate.
        reminder_time: local time of the tag accuracy reminders.
        coaching_time: local time, on Mondays, of the coaching alerts.
        monthly_time: local time of the monthly score report.
        final_snapshot_time: local time of the closed day's snapshot.
    """

    nudge_minutes: int = 15
    scan_minutes: int = 2
    daily_praise: time = time(18, 0)
    reminder_time: time = time(10, 0)
    coaching_time: time = time(9, 0)
    monthly_time: time = time(9, 0)
    final_snapshot_time: time = time(0, 5)


@dataclass(frozen=True)
class JobSpec:
    """A scheduled job.

    Attributes:
        id: the stable id (APScheduler's job id and ``job_run.job_id``).
        trigger: when it fires.
        due: the occurrence due at a time, or None when nothing is due.
        work: does the run; returns outbox rows added, or None when another process had
            already run the period.
        late_limit: the oldest occurrence still run (at start-up, or after a stall).
    """

    id: str
    trigger: BaseTrigger
    due: Callable[[datetime], Occurrence | None]
    work: Callable[[Occurrence], Awaitable[int | None]]
    late_limit: timedelta


def _slot(now: datetime, minutes: int) -> Occurrence:
    start = now.astimezone(UTC).replace(second=0, microsecond=0)
    start -= timedelta(minutes=start.minute % minutes)
    return Occurrence(start.strftime("%Y-%m-%dT%H:%MZ"), start)


# --- the scheduler ----------------------------------------------------------------------------


class PushScheduler:
    """The push jobs, fired live by APScheduler or, in tests, by :meth:`drive`.

    Args:
        ctx: what the jobs need.
        wake_sender: called after a run added outbox rows.
        cadence: how often and when the jobs run.
    """

    def __init__(
        self,
        ctx: PushContext,
        wake_sender: Callable[[], None] = lambda: None,
        cadence: Cadence | None = None,
    ) -> None:
        self.ctx = ctx
        self.zone = ctx.settings.timezone
        self.cadence = cadence or Cadence()
        self.wake_sender = wake_sender
        self.jobs: dict[str, JobSpec] = {}
        self._digest_times: dict[int, tuple[int, time]] = {}
        self._aps: AsyncIOScheduler | None = None
        self._lock = asyncio.Lock()

    # --- building the jobs ----------------------------------------------------------------

    def _cron(self, **fields: Any) -> CronTrigger:
        return CronTrigger(timezone=self.zone, **fields)

    def _daily(
        self,
        job_id: str,
        at: time,
        work: Callable[[Occurrence], Awaitable[int | None]],
        *,
        working_days_only: bool = False,
        closed_day: bool = False,
        late: timedelta = timedelta(hours=6),
    ) -> JobSpec:
        def due(now: datetime) -> Occurrence | None:
            day = period_containing(PeriodKind.DAY, now, self.zone)
            due_at = local_at(day.first_day, at, self.zone)
            if due_at > now:
                day = previous(day)
                due_at = local_at(day.first_day, at, self.zone)
            if working_days_only and not is_working_day(day.first_day, self.ctx.settings):
                return None
            if closed_day:
                day = previous(day)
            return Occurrence(day.label(), due_at, day)

        return JobSpec(job_id, self._cron(hour=at.hour, minute=at.minute), due, work, late)

    def _interval(self, minutes: int) -> IntervalTrigger:
        # TODO(apscheduler#1021): CronTrigger 3.11 returns the same fire time forever inside
        # the repeated hour of a fall-back DST change (the scheduler spins); frequent jobs
        # use an interval counted in absolute time from a local midnight instead, which
        # stays on the local quarter hours since DST moves clocks by whole hours.
        day = period_containing(PeriodKind.DAY, self.ctx.clock.now(), self.zone)
        return IntervalTrigger(minutes=minutes, start_date=day.start, timezone=self.zone)

    def _every(
        self, job_id: str, minutes: int, work: Callable[[Occurrence], Awaitable[int | None]]
    ) -> JobSpec:
        return JobSpec(
            job_id,
            self._interval(minutes),
            lambda now: _slot(now, minutes),
            work,
            timedelta(minutes=minutes),
        )

    def build_jobs(self, teams: list[TeamRow]) -> dict[str, JobSpec]:
        """Every job, with one weekly review per team at that team's time."""
        c = self.cadence
        jobs = [
            JobSpec(
                "snapshots:hourly",
                self._interval(60),
                lambda now: _slot(now, 60),
                self._hourly_snapshots,
                timedelta(hours=1),
            ),
            self._daily(
                "snapshots:final", c.final_snapshot_time, self._final_snapshots,
                late=timedelta(days=2), closed_day=True,
            ),
            self._every("nudges", c.nudge_minutes, self._nudges),
            self._every("praise:events", c.scan_minutes, self._praise_events),
            self._every("red_lines", c.scan_minutes, self._red_lines),
            self._daily(
                "praise:daily", c.daily_praise, self._praise_daily, late=timedelta(hours=5),
            ),
            self._daily(
                "reminders:tags", c.reminder_time, self._reminders, working_days_only=True,
            ),
            JobSpec(
                "coaching",
                self._cron(
                    day_of_week="mon", hour=c.coaching_time.hour, minute=c.coaching_time.minute
                ),
                self._coaching_due,
                self._coaching,
                timedelta(days=3),
            ),
            JobSpec(
                "monthly",
                self._cron(day="1-7", hour=c.monthly_time.hour, minute=c.monthly_time.minute),
                self._monthly_due,
                self._monthly,
                timedelta(days=7),
            ),
        ]  # fmt: skip
        for team in teams:
            jobs.append(self._digest_job(team))
        return {job.id: job for job in jobs}

    def _digest_job(self, team: TeamRow) -> JobSpec:
        weekday, at = digest_schedule(team)
        self._digest_times[team.id] = (weekday, at)

        async def work(occurrence: Occurrence) -> int | None:
            return await asyncio.to_thread(
                digest.enqueue_review, self.ctx, team.id, occurrence.period, occurrence.due_at,
                f"digest:team-{team.id}", occurrence.key,
            )  # fmt: skip

        return JobSpec(
            f"digest:team-{team.id}",
            self._cron(day_of_week=WEEKDAYS[weekday], hour=at.hour, minute=at.minute),
            lambda now: weekly_occurrence(now, weekday, at, self.zone),
            work,
            timedelta(days=3),
        )

    def _coaching_due(self, now: datetime) -> Occurrence:
        monday = weekly_occurrence(now, 0, self.cadence.coaching_time, self.zone)
        assert monday.period is not None
        closed = previous(monday.period)
        return Occurrence(closed.label(), monday.due_at, closed)

    def _monthly_due(self, now: datetime) -> Occurrence:
        month = period_containing(PeriodKind.MONTH, now, self.zone)
        for _ in range(2):
            day = first_working_day(month, self.ctx.settings)
            due_at = local_at(day, self.cadence.monthly_time, self.zone)
            if due_at <= now:
                break
            month = previous(month)
        closed = previous(month)
        return Occurrence(closed.label(), due_at, closed)

    # --- the work of each job --------------------------------------------------------------

    async def _hourly_snapshots(self, occurrence: Occurrence) -> int | None:
        now = self.ctx.clock.now()

        def refresh() -> int | None:
            for kind in (PeriodKind.DAY, PeriodKind.WEEK):
                snapshots.refresh(self.ctx.engine, kind, now, self.ctx.settings)
            outbox.prune_runs(self.ctx.engine, FREQUENT_JOBS, now - JOB_RUN_RETENTION)
            return self.ctx.commit("snapshots:hourly", occurrence.key, [])

        return await asyncio.to_thread(refresh)

    async def _final_snapshots(self, occurrence: Occurrence) -> int | None:
        day = occurrence.period
        assert day is not None
        now = self.ctx.clock.now()

        def refresh() -> int | None:
            closed = [day]
            next_day = period_starting(
                PeriodKind.DAY, day.first_day + timedelta(days=1), self.zone
            )
            for kind in (PeriodKind.WEEK, PeriodKind.MONTH):
                containing = period_containing(kind, day.start, self.zone)
                if containing.end == next_day.start:
                    closed.append(containing)
            for period in closed:
                snapshots.refresh(self.ctx.engine, period, now, self.ctx.settings)
            return self.ctx.commit("snapshots:final", occurrence.key, [])

        return await asyncio.to_thread(refresh)

    async def _nudges(self, occurrence: Occurrence) -> int | None:
        return await asyncio.to_thread(nudges.enqueue_nudges, self.ctx, "nudges", occurrence.key)

    async def _praise_events(self, occurrence: Occurrence) -> int | None:
        return await asyncio.to_thread(
            praise.enqueue_event_praise, self.ctx, "praise:events", occurrence.key
        )

    async def _red_lines(self, occurrence: Occurrence) -> int | None:
        return await asyncio.to_thread(
            redlines.enqueue_red_lines, self.ctx, "red_lines", occurrence.key
        )

    async def _praise_daily(self, occurrence: Occurrence) -> int | None:
        assert occurrence.period is not None
        return await asyncio.to_thread(
            praise.enqueue_daily_praise,
            self.ctx,
            occurrence.period,
            "praise:daily",
            occurrence.key,
        )

    async def _reminders(self, occurrence: Occurrence) -> int | None:
        return await asyncio.to_thread(
            reminders.enqueue_reminders, self.ctx, "reminders:tags", occurrence.key
        )

    async def _coaching(self, occurrence: Occurrence) -> int | None:
        assert occurrence.period is not None
        return await asyncio.to_thread(
            coaching.enqueue_alerts, self.ctx, occurrence.period, "coaching", occurrence.key
        )

    async def _monthly(self, occurrence: Occurrence) -> int | None:
        assert occurrence.period is not None
        return await asyncio.to_thread(
            digest.enqueue_monthly, self.ctx, occurrence.period, "monthly", occurrence.key
        )

    # --- running a job ----------------------------------------------------------------------

    async def run_job(self, job_id: str) -> int | None:
        """Run the occurrence of ``job_id`` due now, unless it already ran or is too old.

        Args:
            job_id: a job's stable id.

        Returns:
            Outbox rows added; None when nothing ran.
        """
        job = self.jobs.get(job_id)
        if job is None:
            logger.warning("push job unknown job_id=%s", job_id)
            return None
        now = self.ctx.clock.now()
        occurrence = job.due(now)
        if occurrence is None:
            return None
        if now - occurrence.due_at > job.late_limit:
            logger.info(
                "push job skipped, too late job_id=%s period=%s due_at=%s",
                job_id, occurrence.key, occurrence.due_at.isoformat(),
            )  # fmt: skip
            return None
        if await asyncio.to_thread(outbox.has_run, self.ctx.engine, job_id, occurrence.key):
            logger.debug("push job already ran job_id=%s period=%s", job_id, occurrence.key)
            return None

        started = perf.perf_counter()
        try:
            added = await job.work(occurrence)
        except Exception:
            logger.exception("push job failed job_id=%s period=%s", job_id, occurrence.key)
            return None
        duration_ms = (perf.perf_counter() - started) * 1000
        if added is None:
            logger.info(
                "push job ran elsewhere job_id=%s period=%s duration_ms=%.1f",
                job_id, occurrence.key, duration_ms,
            )  # fmt: skip
            return None
        logger.info(
            "push job ran job_id=%s period=%s rows=%d duration_ms=%.1f",
            job_id, occurrence.key, added, duration_ms,
        )  # fmt: skip
        if added:
            self.wake_sender()
        if job_id == "nudges":
            await self.refresh_schedule()
        return added

    async def catch_up(self) -> None:
        """Run once every occurrence that was due while the process was down (not too old)."""
        for job_id in list(self.jobs):
            await self.run_job(job_id)

    async def refresh_schedule(self) -> None:
        """Pick up new teams and changed review times (``/settings digest``)."""
        teams = await asyncio.to_thread(self._teams)
        wanted = {team.id: team for team in teams}
        changed = [
            team for team in teams if self._digest_times.get(team.id) != digest_schedule(team)
        ]
        gone = [team_id for team_id in self._digest_times if team_id not in wanted]
        for team in changed:
            job = self._digest_job(team)
            self.jobs[job.id] = job
            self._add_to_aps(job)
            logger.info("weekly review scheduled job_id=%s", job.id)
        for team_id in gone:
            del self._digest_times[team_id]
            job_id = f"digest:team-{team_id}"
            self.jobs.pop(job_id, None)
            if self._aps is not None and self._aps.get_job(job_id) is not None:
                self._aps.remove_job(job_id)

    def _teams(self) -> list[TeamRow]:
        with self.ctx.read() as conn:
            return push_queries.teams(conn)

    # --- live: APScheduler ----------------------------------------------------------------

    def _add_to_aps(self, job: JobSpec) -> None:
        if self._aps is None:
            return
        self._aps.add_job(
            self._fire,
            job.trigger,
            args=[job.id],
            id=job.id,
            name=job.id,
            replace_existing=True,
            coalesce=True,
            max_instances=1,
            misfire_grace_time=MISFIRE_GRACE_S,
        )

    async def _fire(self, job_id: str) -> None:
        async with self._lock:
            await self.run_job(job_id)

    async def start(self) -> None:
        """Build the jobs, catch up what was missed, then let APScheduler fire them."""
        self.jobs = self.build_jobs(await asyncio.to_thread(self._teams))
        self._aps = AsyncIOScheduler(
            timezone=self.zone,
            job_defaults={
                "coalesce": True,
                "max_instances": 1,
                "misfire_grace_time": MISFIRE_GRACE_S,
            },
        )
        for job in self.jobs.values():
            self._add_to_aps(job)
        async with self._lock:
            await self.catch_up()
        self._aps.start()
        logger.info("push scheduler started jobs=%d zone=%s", len(self.jobs), self.zone.key)

    async def stop(self) -> None:
        """Stop firing jobs; a run in progress finishes."""
        if self._aps is not None and self._aps.running:
            self._aps.shutdown(wait=False)
        async with self._lock:
            self._aps = None
        logger.info("push scheduler stopped")

    # --- simulated: a fake clock --------------------------------------------------------------

    async def drive(self, until: datetime) -> list[tuple[str, datetime]]:
        """Fire every job at its trigger times up to ``until``, moving a fake clock there.

        Uses the same triggers as APScheduler, so a test sees what would fire when.

        Args:
            until: where the clock ends (aware).

        Returns:
            ``(job id, fire time)`` of every firing, in order.
        """
        clock = self.ctx.clock
        set_time = getattr(clock, "set", None)
        if set_time is None:
            raise TypeError("drive() needs a clock that can be moved (FakeClock)")
        if not self.jobs:
            self.jobs = self.build_jobs(await asyncio.to_thread(self._teams))
        fired: list[tuple[str, datetime]] = []
        last: dict[str, datetime] = {}
        upcoming: dict[str, datetime | None] = {}
        while True:
            now = clock.now()
            for job_id, job in self.jobs.items():
                if job_id in upcoming:
                    continue
                # Compare in UTC: two times of one zone compare by wall clock, fold ignored.
                found = job.trigger.get_next_fire_time(last.get(job_id), now)
                upcoming[job_id] = None if found is None else found.astimezone(UTC)
                previous_at = last.get(job_id)
                if previous_at is not None and found is not None and found <= previous_at:
                    raise RuntimeError(f"trigger of {job_id} does not move past {previous_at}")
            due = [(at, job_id) for job_id, at in upcoming.items() if at is not None]
            if not due:
                break
            at, job_id = min(due)
            if at > until:
                break
            set_time(at)
            await self.run_job(job_id)
            fired.append((job_id, at))
            last[job_id] = at
            del upcoming[job_id]
            for gone in [j for j in upcoming if j not in self.jobs]:
                del upcoming[gone]
        set_time(until)
        return fired
