"""The scheduled jobs: the right local time across daylight-saving changes, once per period,
and a missed run caught up once."""

from __future__ import annotations

import asyncio
from collections import Counter

from sqlalchemy import Engine

from bot.push.clock import FakeClock
from bot.push.scheduler import Cadence
from storage import outbox
from storage.db import create_db_engine
from tests.push.builders import BERLIN, MANAGER_CHAT, Team, local, scheduler

FAST = Cadence(nudge_minutes=30, scan_minutes=60)


def local_times(fired: list[tuple[str, object]], job_id: str) -> list[str]:
    return [
        at.astimezone(BERLIN).strftime("%a %Y-%m-%d %H:%M")  # type: ignore[attr-defined]
        for job, at in fired
        if job == job_id
    ]


async def test_a_simulated_week_across_the_october_clock_change(engine: Engine) -> None:
    Team(engine)
    clock = FakeClock(local("2025-10-24", "12:00"))
    jobs = scheduler(engine, clock, cadence=FAST)
    fired = await jobs.drive(local("2025-11-01", "12:00"))

    # The review at 17:00 local on both sides of the change (15:00 UTC, then 16:00 UTC).
    assert local_times(fired, "digest:team-1") == ["Fri 2025-10-24 17:00", "Fri 2025-10-31 17:00"]
    assert [(k, at.hour) for _, k, at in outbox.runs(engine, "digest:team-1")] == [
        ("2025-W43", 15),
        ("2025-W44", 16),
    ]
    # Coaching on Monday at 09:00 (now 08:00 UTC) for the week that closed.
    assert local_times(fired, "coaching") == ["Mon 2025-10-27 09:00"]
    assert [(k, at.hour) for _, k, at in outbox.runs(engine, "coaching")] == [("2025-W43", 8)]
    # A final snapshot of each day at 00:05 after it closed, the 25-hour Sunday included.
    finals = [k for _, k, _ in outbox.runs(engine, "snapshots:final")]
    assert finals == [f"2025-10-{d}" for d in range(24, 32)]
    assert {t[-5:] for t in local_times(fired, "snapshots:final")} == {"00:05"}
    # Hourly snapshots: the 25-hour Sunday has 25 of them, other days 24.
    per_day = Counter(t[4:14] for t in local_times(fired, "snapshots:hourly"))
    assert per_day["2025-10-26"] == 25
    assert per_day["2025-10-25"] == per_day["2025-10-27"] == 24
    # Runs of frequent jobs are kept for 7 days; those kept are one per hour fired.
    kept = [at for _, _, at in outbox.runs(engine, "snapshots:hourly")]
    recent = [at for job, at in fired if job == "snapshots:hourly" and at >= kept[0]]
    assert kept == recent
    # Praise of the day at 18:00 local; tag reminders at 10:00 on working days only.
    assert {t[-5:] for t in local_times(fired, "praise:daily")} == {"18:00"}
    assert len(local_times(fired, "praise:daily")) == 8
    reminder_days = [k for _, k, _ in outbox.runs(engine, "reminders:tags")]
    assert reminder_days == ["2025-10-27", "2025-10-28", "2025-10-29", "2025-10-30", "2025-10-31"]
    # Nudges every half hour here, on the local half hours across the change, each slot once.
    assert {t[-2:] for t in local_times(fired, "nudges")} == {"00", "30"}
    nudge_runs = [at for _, _, at in outbox.runs(engine, "nudges")]
    assert nudge_runs == [at for job, at in fired if job == "nudges" and at >= nudge_runs[0]]
    # Nothing fired twice at one time.
    assert len(fired) == len(set(fired))


async def test_the_monthly_report_waits_for_the_first_working_day(engine: Engine) -> None:
    Team(engine)
    clock = FakeClock(local("2025-10-31", "20:00"))
    jobs = scheduler(engine, clock, cadence=Cadence(nudge_minutes=60, scan_minutes=60))
    fired = await jobs.drive(local("2025-11-03", "10:00"))
    # Fired on Saturday the 1st, Sunday and Monday at 09:00; ran on Monday only.
    assert local_times(fired, "monthly") == [
        "Sat 2025-11-01 09:00",
        "Sun 2025-11-02 09:00",
        "Mon 2025-11-03 09:00",
    ]
    runs = [(k, at.astimezone(BERLIN).strftime("%a %d %H:%M")) for _, k, at in outbox.runs(
        engine, "monthly")]  # fmt: skip
    assert runs == [("2025-10", "Mon 03 09:00")]
    assert {r.subject for r in outbox.rows(engine, kinds=["monthly"])} == {"report"}


async def test_the_march_change_keeps_local_times(engine: Engine) -> None:
    Team(engine)
    clock = FakeClock(local("2025-03-29", "12:00"))
    jobs = scheduler(engine, clock, cadence=Cadence(scan_minutes=60))
    fired = await jobs.drive(local("2025-03-31", "12:00"))
    assert {t[-2:] for t in local_times(fired, "nudges")} == {"00", "15", "30", "45"}
    assert len([t for t in local_times(fired, "nudges") if "2025-03-30" in t]) == 23 * 4
    per_day = Counter(t[4:14] for t in local_times(fired, "snapshots:hourly"))
    assert per_day["2025-03-30"] == 23  # 02:00 does not exist that night
    assert local_times(fired, "coaching") == ["Mon 2025-03-31 09:00"]
    assert [at.hour for _, k, at in outbox.runs(engine, "coaching")] == [7]  # 09:00 CEST
    assert local_times(fired, "praise:daily") == ["Sat 2025-03-29 18:00", "Sun 2025-03-30 18:00"]


async def test_a_review_missed_while_down_is_sent_once_on_start(engine: Engine) -> None:
    Team(engine)
    # The process was down from Friday 16:00 to 19:30.
    clock = FakeClock(local("2025-10-24", "19:30"))
    first = scheduler(engine, clock)
    first.jobs = first.build_jobs(first._teams())
    await first.catch_up()
    assert [k for _, k, _ in outbox.runs(engine, "digest:team-1")] == ["2025-W43"]
    review = outbox.rows(engine, kinds=["digest"])
    assert {r.recipient for r in review} == {MANAGER_CHAT}
    assert [r.subject for r in review][-2:] == ["chart-score", "chart-funnel"]

    # Restarting again (or a second process starting) does not send it twice.
    second = scheduler(engine, clock, worker="other")
    second.jobs = second.build_jobs(second._teams())
    await second.catch_up()
    assert len(outbox.rows(engine, kinds=["digest"])) == len(review)


async def test_a_review_missed_too_long_ago_is_not_sent(engine: Engine) -> None:
    Team(engine)
    clock = FakeClock(local("2025-10-28", "12:00"))  # Tuesday: Friday's review is 4 days old
    jobs = scheduler(engine, clock)
    jobs.jobs = jobs.build_jobs(jobs._teams())
    await jobs.catch_up()
    assert outbox.runs(engine, "digest:team-1") == []
    assert outbox.rows(engine, kinds=["digest"]) == []


async def test_two_processes_firing_together_run_the_review_once(engine: Engine) -> None:
    Team(engine)
    other_engine = create_db_engine(engine.url.render_as_string(hide_password=False))
    try:
        clock = FakeClock(local("2025-10-24", "17:00"))
        one = scheduler(engine, clock, worker="one")
        two = scheduler(other_engine, clock, worker="two")
        for jobs in (one, two):
            jobs.jobs = jobs.build_jobs(jobs._teams())
        results = await asyncio.gather(one.run_job("digest:team-1"), two.run_job("digest:team-1"))
        assert sorted(r is None for r in results) == [False, True]
        assert len(outbox.runs(engine, "digest:team-1")) == 1
        subjects = [r.subject for r in outbox.rows(engine, kinds=["digest"])]
        assert len(subjects) == len(set(subjects))
    finally:
        other_engine.dispose()


async def test_a_changed_review_time_is_picked_up(engine: Engine) -> None:
    team = Team(engine)
    with team.sessions() as session, session.begin():
        from storage import telegram as store

        store.set_team_setting(session, team.team_id, "digest_day", "thu", 1, local("2025-10-20"))
        store.set_team_setting(
            session, team.team_id, "digest_time", "16:30", 1, local("2025-10-20")
        )
    clock = FakeClock(local("2025-10-20", "08:00"))
    jobs = scheduler(engine, clock, cadence=Cadence(scan_minutes=60))
    fired = await jobs.drive(local("2025-10-24", "20:00"))
    assert local_times(fired, "digest:team-1") == ["Thu 2025-10-23 16:30"]
    assert clock.now() == local("2025-10-24", "20:00")
