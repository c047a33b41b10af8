"""``kpibot demo``: the whole system on a simulated team, on a fresh SQLite store, with no
account anywhere.

1. A fresh store; the simulated team (four personas, a manager) registered as an operator
   would with ``kpibot rep add``.
2. The real webhook server on a free loopback port; every simulated delivery posted to it
   with a valid ``X-Hub-Signature-256``, then normalised from the inbox.
3. The real Telegram application (every handler, every template) against the local fake
   Bot API, as ``kpibot console`` runs it. Each rep and the manager is linked to a fake
   Telegram user with ``/start <invite code>``; the manager binds the team chat with
   ``/teamchat``.
4. The simulated weeks on a fake clock: the push scheduler's jobs fire at their times
   (digest, praise, nudges, reminders, coaching, red lines), their outbox rows go through
   the sender to the fake Bot API, and between them the reps type what they record
   (``/tag``, ``/quote``, ``/sample``, ``/deal``) at the moments the simulator chose.
5. At the end every rep asks ``/mystats`` and the manager ``/leaderboard`` in the team
   chat; then everything each person was sent is printed, headed by who received it,
   and the review's charts are written to the output folder.
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import logging
import re
import secrets
import socket
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp
import click
from aiohttp import web
from apscheduler.triggers.cron import CronTrigger
from pydantic import SecretStr
from sqlalchemy import Engine
from telegram import Bot, Update
from telegram.ext import Application, TypeHandler

from bot.config import Settings
from bot.handlers.base import Context, Deps
from bot.metrics import TeamSettings
from bot.push import digest, praise
from bot.push.clock import FakeClock
from bot.push.context import PushContext
from bot.push.scheduler import Cadence, PushScheduler
from bot.push.sender import Sender
from bot.render import Renderer, html_to_text
from bot.simulate import BotRecord, Delivery, SimRep, TrafficSimulator
from bot.telegram.application import api_urls, build_application, prepare
from bot.telegram.fake_api import ApiCall, FakeTelegramApi
from bot.web.server import NORMALISER_KEY, create_app
from bot.web.whatsapp import SIGNATURE_HEADER, WebhookConfig, signature_for
from storage import inbox, migrate, outbox, push_queries
from storage import telegram as store
from storage.db import create_db_engine, readonly, session_factory, session_scope
from storage.reps import add_rep
from storage.summary import traffic_by_rep

logger = logging.getLogger(__name__)

CONCURRENCY = 8
TEAM_NAME = "Export team"
TEAM_CHAT_ID = -1001234567890
MANAGER_USER_ID = 9_099_999_999
BOT_TOKEN = "7000000001:demo"
# The jobs check hourly instead of every few minutes: the same pushes, a simulated
# fortnight in seconds rather than minutes.
DEMO_CADENCE = Cadence(nudge_minutes=60, scan_minutes=60)
# Past the stretch's end, so the last hourly checks (red lines among them) run.
FINISH_AFTER_END = timedelta(hours=1, minutes=5)
SKIPPED_JOBS = ("snapshots:hourly", "snapshots:final")
SHOWN_PER_KIND = 2
REPLY_TIMEOUT_S = 30.0
_DONE_GROUP = 1000

KIND_TITLES = {
    digest.DIGEST: "Friday review",
    digest.MONTHLY: "Monthly score report",
    praise.DEAL: "Praise: a deal",
    praise.QUOTE: "Praise: a new customer asked for a quote",
    praise.REPLY_RATE: "Praise: the day's best reply rate",
    "nudge_waiting": "Nudge: a customer is waiting",
    "nudge_high_intent": "Nudge: a high-intent customer without follow-up",
    "reminder_tag": "Tag-accuracy reminder: a high-intent tag that led nowhere",
    "coaching": "Coaching alert",
    "red_line": "Red line",
}
PLURALS = {
    digest.DIGEST: "reviews",
    praise.DEAL: "deal praises",
    praise.QUOTE: "quote praises",
    praise.REPLY_RATE: "reply-rate praises",
    "nudge_waiting": "waiting-customer nudges",
    "nudge_high_intent": "high-intent nudges",
    "reminder_tag": "tag reminders",
    "coaching": "coaching alerts",
    "red_line": "red-line messages",
}
TEAM_SETTINGS = TeamSettings(
    exchange_rates={"EUR": Decimal("1.08"), "CNY": Decimal("0.14")}, minimum_margin=0.12
)


@dataclass(frozen=True)
class DemoOptions:
    """What ``kpibot demo`` was asked for.

    Attributes:
        reps: how many reps.
        days: how many simulated days.
        customers: customers of a typical rep.
        seed: the simulator's seed.
        db_path: the SQLite file to create.
        out_dir: where the review's charts go.
        lang: the team's language, ``en`` or ``zh``.
        settings: kpibot's settings (the Telegram ones are replaced by local ones).
        start: the stretch's first moment; by default it ends now.
    """

    reps: int
    days: int
    customers: int
    seed: int
    db_path: Path
    out_dir: Path
    lang: str
    settings: Settings
    start: datetime | None = None


@dataclass
class Person:
    """Someone the demo speaks for: a rep or the manager, and their fake Telegram user."""

    name: str
    user_id: int
    role: str
    rep: SimRep | None = None


@dataclass
class Transcript:
    """What the bot answered to the commands the demo typed, per chat."""

    replies: dict[int, list[tuple[str, list[ApiCall]]]] = field(default_factory=dict)
    recorded: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    confirmations: dict[str, str] = field(default_factory=dict)

    def add(self, chat_id: int, command: str, calls: list[ApiCall]) -> None:
        """Keep what the bot sent to ``chat_id`` in answer to ``command``."""
        self.replies.setdefault(chat_id, []).append((command, calls))


class BotUsers:
    """The people of the demo, typing to the real PTB application through the fake API.

    Args:
        api: the fake Bot API.
        application: the started PTB application, polling the fake API.
        lang: the Telegram client language of every user.
    """

    def __init__(self, api: FakeTelegramApi, application: Application, lang: str) -> None:
        self.api = api
        self.application = application
        self.lang = lang
        self._done = asyncio.Event()

        async def done(_update: Update, _context: Context) -> None:
            self._done.set()

        application.add_handler(TypeHandler(Update, done), group=_DONE_GROUP)

    async def say(self, person: Person, text: str, *, chat_id: int | None = None) -> list[ApiCall]:
        """Send ``text`` as ``person`` (in their private chat, or in a group) and wait for
        the bot to finish with it; returns the messages the bot sent meanwhile."""
        before = len(self.api.calls)
        self._done.clear()
        self.api.send_text(
            person.user_id,
            text,
            chat_id=chat_id,
            chat_type="group" if chat_id is not None else "private",
            first_name=person.name,
            language_code=self.lang,
        )
        await asyncio.wait_for(self._done.wait(), REPLY_TIMEOUT_S)
        return [
            call
            for call in self.api.calls[before:]
            if call.method in ("sendMessage", "editMessageText", "sendPhoto")
        ]


@dataclass
class Pushes:
    """The push side on the fake clock: the scheduler's jobs, and the sender that delivers
    what they enqueued.

    Attributes:
        scheduler: fires the jobs.
        sender: delivers outbox rows to the fake Bot API.
        added: set by the scheduler when a run added outbox rows.
    """

    scheduler: PushScheduler
    sender: Sender
    added: asyncio.Event

    async def run_until(self, at: datetime) -> None:
        """Fire every job due up to ``at``, then deliver what they enqueued."""
        await self.scheduler.drive(at)
        if self.added.is_set():
            self.added.clear()
            await self.sender.send_due()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def default_start(days: int, now: datetime) -> datetime:
    """The start of a stretch of ``days`` days that ends at the last full hour before ``now``."""
    end = now.replace(minute=0, second=0, microsecond=0)
    return end - timedelta(days=days)


async def _post_all(port: int, deliveries: list[Delivery], app_secret: bytes) -> int:
    """POST every delivery, signed; return how many were acknowledged with 200."""
    url = f"http://127.0.0.1:{port}/webhooks/whatsapp"
    pending = iter(deliveries)
    acknowledged = 0

    with click.progressbar(
        length=len(deliveries), label="Posting WhatsApp webhooks ", file=sys.stderr
    ) as bar:

        async def worker(session: aiohttp.ClientSession) -> None:
            nonlocal acknowledged
            for delivery in pending:
                headers = {
                    SIGNATURE_HEADER: signature_for(delivery.body, app_secret),
                    "Content-Type": "application/json",
                }
                async with session.post(url, data=delivery.body, headers=headers) as response:
                    await response.read()
                    if response.status == 200:
                        acknowledged += 1
                    else:
                        logger.warning("demo delivery refused status=%d", response.status)
                bar.update(1)

        async with aiohttp.ClientSession() as session:
            await asyncio.gather(*(worker(session) for _ in range(CONCURRENCY)))
    return acknowledged


def _register(engine: Engine, simulator: TrafficSimulator) -> list[Person]:
    """Register the reps and the manager; returns them, manager last."""
    people: list[Person] = []
    with session_scope(session_factory(engine)) as session:
        for rep in simulator.team():
            add_rep(
                session,
                rep.name,
                [rep.phone_number_id],
                display_number=rep.display_number,
                team=TEAM_NAME,
                hire_date=rep.hire_date,
                seniority=rep.seniority,
            )
            people.append(Person(rep.name, rep.telegram_user_id, "rep", rep))
        add_rep(session, simulator.manager_name, [], team=TEAM_NAME, role="manager")
    people.append(Person(simulator.manager_name, MANAGER_USER_ID, "manager"))
    return people


async def _ingest(engine: Engine, deliveries: list[Delivery]) -> tuple[int, dict[str, int]]:
    """Run the real webhook server, post every delivery signed, drain the normaliser."""
    app_secret = secrets.token_hex(16).encode()
    config = WebhookConfig(
        app_secret=app_secret, verify_token="demo", max_body_bytes=3 * 1024 * 1024
    )
    app = create_app(engine, config)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    port = _free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    click.echo(f"Webhook server listening on http://127.0.0.1:{port}/webhooks/whatsapp", err=True)
    try:
        acknowledged = await _post_all(port, deliveries, app_secret)
        await app[NORMALISER_KEY].drain()
    finally:
        await runner.cleanup()
    return acknowledged, inbox.counts(engine)


async def _link(users: BotUsers, deps: Deps, people: list[Person], lang: str) -> None:
    """Link everyone with ``/start <code>``; the manager sets the language, binds the chat."""
    for person in people:

        def invite(session: Any, name: str = person.name) -> str:
            rep = store.rep_by_name(session, name)
            assert rep is not None
            return store.create_invite(session, rep.id, deps.clock()).code

        with session_scope(deps.sessions) as session:
            code = invite(session)
        await users.say(person, f"/start {code}")
    manager = people[-1]
    await users.say(manager, f"/settings language {lang}")
    await users.say(manager, "/teamchat", chat_id=TEAM_CHAT_ID)


def demo_jobs(scheduler: PushScheduler, teams: list[push_queries.TeamRow]) -> None:
    """The scheduler's jobs as the demo fires them: the same jobs and pushes, fewer checks.

    The KPI snapshot jobs are left out: they refresh a cache that nothing the demo shows
    reads, and would be most of a simulated fortnight's work. Nudges are checked every
    two hours inside the default working hours (outside them the job sends nothing
    anyway), and new deals and quotes every two hours from 08:00 to 20:00, so a deal
    closed at night is praised in the morning.
    """
    jobs = scheduler.build_jobs(teams)
    for job_id in SKIPPED_JOBS:
        jobs.pop(job_id, None)
    zone = scheduler.zone
    jobs["nudges"] = dataclasses.replace(
        jobs["nudges"],
        trigger=CronTrigger(day_of_week="mon-fri", hour="9-17/2", minute=0, timezone=zone),
    )
    jobs["praise:events"] = dataclasses.replace(
        jobs["praise:events"], trigger=CronTrigger(hour="8-20/2", minute=0, timezone=zone)
    )
    scheduler.jobs = jobs


async def _simulate_weeks(
    users: BotUsers,
    people: list[Person],
    records: list[BotRecord],
    pushes: Pushes,
    finish: datetime,
    transcript: Transcript,
) -> None:
    """Move the fake clock through the stretch an hour at a time: the jobs fire and the
    sender delivers their pushes, and each rep types their records at the simulator's
    moments."""
    by_name = {person.name: person for person in people}
    pending = list(reversed(records))
    clock_start = pushes.scheduler.ctx.clock.now()
    hours = int((finish - clock_start) / timedelta(hours=1)) + 1
    with click.progressbar(
        length=hours, label="Simulating the weeks       ", file=sys.stderr
    ) as bar:
        for hour in range(1, hours + 1):
            step_end = min(clock_start + timedelta(hours=hour), finish)
            while pending and pending[-1].at <= step_end:
                record = pending.pop()
                await pushes.run_until(record.at)
                calls = await users.say(by_name[record.rep], record.command)
                transcript.recorded[record.rep][record.kind] += 1
                if calls and record.rep not in transcript.confirmations:
                    transcript.confirmations[record.rep] = str(calls[-1].params.get("text", ""))
            await pushes.run_until(step_end)
            bar.update(1)
    await pushes.sender.send_due()


async def _final_views(users: BotUsers, people: list[Person], transcript: Transcript) -> None:
    """Each rep asks ``/mystats``; the manager asks ``/leaderboard`` in the team chat."""
    for person in people:
        if person.role == "rep":
            transcript.add(person.user_id, "/mystats", await users.say(person, "/mystats"))
    manager = people[-1]
    calls = await users.say(manager, "/leaderboard", chat_id=TEAM_CHAT_ID)
    transcript.add(TEAM_CHAT_ID, f"/leaderboard (asked by {manager.name})", calls)


async def run_demo(options: DemoOptions) -> None:
    """Run the demo and print what everyone was sent."""
    started = time.perf_counter()
    zone = TEAM_SETTINGS.timezone
    # The tour is the output; the log says only what went wrong.
    root = logging.getLogger()
    root.setLevel(max(root.level, logging.WARNING))

    # 1. A fresh store and the simulated team.
    engine = create_db_engine(f"sqlite:///{options.db_path}")
    migrate.upgrade(engine)
    start = options.start or default_start(options.days, datetime.now(zone))
    simulator = TrafficSimulator(
        reps=options.reps,
        customers_per_rep=options.customers,
        days=options.days,
        seed=options.seed,
        start=start,
    )
    people = _register(engine, simulator)
    deliveries = list(simulator.deliveries())
    records = simulator.records()
    local = start.astimezone(zone)
    click.echo(
        f"kpibot demo: {options.reps} reps and their manager, {options.days} days from "
        f"{local:%a %d %b %Y %H:%M} ({zone.key}), seed {options.seed}."
    )

    # 2. Meta's deliveries through the real webhook endpoint.
    acknowledged, counts = await _ingest(engine, deliveries)
    click.echo(
        f"{acknowledged} of {len(deliveries)} signed webhook deliveries acknowledged; inbox: "
        f"{counts.get(inbox.PROCESSED, 0)} processed, {counts.get(inbox.FAILED, 0)} failed."
    )
    _print_traffic(engine, people)

    # 3. The bot, on the fake Bot API, with the simulated clock.
    clock = FakeClock(start - timedelta(hours=1))
    renderer = Renderer(zone)
    deps = Deps(engine=engine, renderer=renderer, team_settings=TEAM_SETTINGS, clock=clock)
    api = FakeTelegramApi(bot_username="kpibot_demo_bot")
    await api.start()
    bot_settings = options.settings.model_copy(
        update={
            "telegram_bot_token": SecretStr(BOT_TOKEN),
            "telegram_api_base_url": api.base_url,
            "telegram_webhook_url": None,
        }
    )
    application = build_application(bot_settings, deps)
    users = BotUsers(api, application, options.lang)
    await application.initialize()
    await prepare(application, deps)
    await application.start()
    assert application.updater is not None
    await application.updater.start_polling(poll_interval=0, timeout=1)
    base_url, base_file_url = api_urls(api.base_url)
    push_bot = Bot(BOT_TOKEN, base_url=base_url, base_file_url=base_file_url)
    await push_bot.initialize()
    transcript = Transcript()
    try:
        await _link(users, deps, people, options.lang)

        # 4. The weeks, on the fake clock: scheduled jobs, the sender, the reps' records.
        ctx = PushContext(engine, renderer, TEAM_SETTINGS, clock, worker="kpibot-demo")
        added = asyncio.Event()
        scheduler = PushScheduler(ctx, wake_sender=added.set, cadence=DEMO_CADENCE)
        with readonly(engine).connect() as conn:
            demo_jobs(scheduler, push_queries.teams(conn))
        sender = Sender(engine, push_bot, clock, worker="kpibot-demo-sender")
        finish = simulator.end + FINISH_AFTER_END
        await _simulate_weeks(
            users, people, records, Pushes(scheduler, sender, added), finish, transcript
        )

        # 5. What each person asks at the end.
        await _final_views(users, people, transcript)
    finally:
        await push_bot.shutdown()
        await application.updater.stop()
        await application.stop()
        await application.shutdown()

    charts = _write_charts(engine, options.out_dir)
    _print_everything(engine, api, people, transcript, charts, zone)
    await api.stop()
    engine.dispose()

    url = f"sqlite:///{options.db_path}"
    click.echo(f"\nDone in {time.perf_counter() - started:.1f} s. The store is {options.db_path}")
    if charts:
        click.echo(f"The review's charts are in {options.out_dir}/ ({len(charts)} PNG files).")
    first_rep = people[0].name
    click.echo(
        f'Talk to the bot yourself:  kpibot --database-url {url} console --as "{first_rep}"'
    )
    click.echo(f"Look at the numbers:       kpibot --database-url {url} stats")
    click.echo(
        'Real use: the README\'s "Connect a WhatsApp number" (Meta app, webhook, reps) and '
        '"Telegram" (bot token, invites, team chat) sections.'
    )


# --- printing -------------------------------------------------------------------------------


def _print_traffic(engine: Engine, people: list[Person]) -> None:
    with session_scope(session_factory(engine)) as session:
        rows = traffic_by_rep(session)
    titles = {p.name: p.rep.title for p in people if p.rep is not None}
    click.echo(
        f"\n{'rep':<12}{'persona':<22}{'customers':>10}{'inbound':>9}{'outbound':>10}"
        f"{'read':>7}{'templates':>11}{'documents':>11}"
    )
    for row in rows:
        click.echo(
            f"{row.rep:<12}{titles.get(row.rep, ''):<22}{row.customers:>10}{row.inbound:>9}"
            f"{row.outbound:>10}{row.outbound_read:>7}{row.templates:>11}{row.documents:>11}"
        )


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "chart"


def _write_charts(engine: Engine, out_dir: Path) -> dict[int, Path]:
    """Write every review picture that was sent; returns the file per outbox row id."""
    written: dict[int, Path] = {}
    for row in outbox.rows(engine, kinds=[digest.DIGEST]):
        photo = row.payload.get("photo_b64")
        if row.status != outbox.SENT or photo is None:
            continue
        out_dir.mkdir(parents=True, exist_ok=True)
        path = out_dir / f"review-{_slug(row.period)}-{_slug(row.subject)}.png"
        path.write_bytes(base64.b64decode(photo))
        written[row.id] = path
    return written


def _section(title: str) -> None:
    click.echo(f"\n── {title} ──")


def _show(text: str) -> None:
    for line in html_to_text(text).strip().splitlines():
        click.echo(f"  {line}" if line else "")


def _delivered_text(api: FakeTelegramApi, row: outbox.OutboxRow) -> str:
    """What the recipient's chat holds for a sent row (text, or a picture's caption)."""
    if row.telegram_message_id is None:
        return str(row.payload.get("text", ""))
    message = api.message(row.recipient, row.telegram_message_id)
    return str(message.get("text") or message.get("caption") or "")


def _print_pushes(
    api: FakeTelegramApi,
    rows: list[outbox.OutboxRow],
    charts: dict[int, Path],
    zone: Any,
) -> None:
    """A recipient's pushes by kind: the latest review whole, two of each other kind."""
    by_kind: dict[str, list[outbox.OutboxRow]] = defaultdict(list)
    for row in rows:
        by_kind[row.kind].append(row)
    for kind in KIND_TITLES:
        mine = by_kind.get(kind, [])
        if not mine:
            continue
        if kind == digest.DIGEST:
            _print_review(api, mine, charts, zone)
            continue
        heads = [r for r in mine if "#" not in r.subject]
        for row in heads[:SHOWN_PER_KIND]:
            parts = [
                r
                for r in mine
                if r.subject.split("#")[0] == row.subject and r.period == row.period
            ]
            click.echo(f"\n  ▸ {KIND_TITLES[kind]} · {_when(row, zone)}")
            for part in parts:
                _show(_delivered_text(api, part))
        if len(heads) > SHOWN_PER_KIND:
            noun = PLURALS.get(kind, "like this")
            click.echo(f"\n  … and {len(heads) - SHOWN_PER_KIND} more {noun}.")


def _print_review(
    api: FakeTelegramApi, rows: list[outbox.OutboxRow], charts: dict[int, Path], zone: Any
) -> None:
    weeks = sorted({row.period for row in rows})
    latest = weeks[-1]
    for week in weeks[:-1]:
        sent = [r for r in rows if r.period == week]
        click.echo(
            f"\n  ▸ Friday review of {week} · {_when(sent[0], zone)} "
            f"({sum(1 for r in sent if r.subject.startswith('review'))} message(s), "
            f"{sum(1 for r in sent if r.subject.startswith('chart'))} chart(s))"
        )
    shown = [r for r in rows if r.period == latest]
    click.echo(f"\n  ▸ {KIND_TITLES[digest.DIGEST]} of {latest} · {_when(shown[0], zone)}")
    for row in shown:
        if row.payload.get("method") == "sendPhoto":
            where = charts.get(row.id)
            click.echo(f"  [picture] {_delivered_text(api, row)} → {where}")
        else:
            _show(_delivered_text(api, row))


def _when(row: outbox.OutboxRow, zone: Any) -> str:
    at = row.next_attempt_at if row.sent_at is None else row.sent_at
    return f"{at.astimezone(zone):%a %d %b %H:%M}"


def _print_replies(transcript: Transcript, chat_id: int) -> None:
    for command, calls in transcript.replies.get(chat_id, []):
        click.echo(f"\n  ▸ {command}")
        for call in calls:
            _show(str(call.params.get("text") or call.params.get("caption") or ""))


def _sent_rows(engine: Engine) -> list[outbox.OutboxRow]:
    return [row for row in outbox.rows(engine) if row.status == outbox.SENT]


def _print_everything(
    engine: Engine,
    api: FakeTelegramApi,
    people: list[Person],
    transcript: Transcript,
    charts: dict[int, Path],
    zone: Any,
) -> None:
    """Everything each person was sent, headed by who received it."""
    rows = _sent_rows(engine)
    by_recipient: dict[int, list[outbox.OutboxRow]] = defaultdict(list)
    for row in rows:
        by_recipient[row.recipient].append(row)
    with readonly(engine).connect() as conn:
        team_chat = next((t.chat_id for t in push_queries.teams(conn) if t.chat_id), None)

    for person in people[:-1]:
        assert person.rep is not None
        _section(f"To {person.name} (rep)")
        profile = "new hire" if person.rep.persona == "slow" else person.rep.seniority
        click.echo(f"  ({person.rep.title}; scored as {profile})")
        _print_replies(transcript, person.user_id)
        _print_pushes(api, by_recipient.get(person.user_id, []), charts, zone)
        _print_records(transcript, person.name)

    _section("To the team chat")
    _print_replies(transcript, TEAM_CHAT_ID)
    if team_chat is not None:
        _print_pushes(api, by_recipient.get(team_chat, []), charts, zone)

    manager = people[-1]
    _section(f"To {manager.name} (manager)")
    _print_pushes(api, by_recipient.get(manager.user_id, []), charts, zone)
    _print_totals(rows)


def _print_records(transcript: Transcript, rep: str) -> None:
    counts = transcript.recorded.get(rep)
    if not counts:
        return
    listed = ", ".join(f"{n} {kind}{'' if n == 1 else 's'}" for kind, n in sorted(counts.items()))
    click.echo(f"\n  ▸ Recorded through the bot: {listed}; each confirmed with an Undo button:")
    _show(transcript.confirmations.get(rep, ""))


def _print_totals(rows: Iterable[outbox.OutboxRow]) -> None:
    totals = Counter(row.kind for row in rows if "#" not in row.subject)
    listed = ", ".join(f"{kind} ×{n}" for kind, n in sorted(totals.items()))
    click.echo(f"\nPushes delivered through the outbox and sender: {listed}.")
