"""The weekly review (the digest) each manager gets on Friday, and the monthly score report.

The review of a week, as of the review time:

- the team ranked by score, with the change since last week;
- every rep's KPIs against the targets, marked (the rows ``/mystats`` shows);
- the week's best: top reply rate, most deep conversations, largest deal;
- coaching alerts (quote rate below target two weeks in a row), red lines;
- tag accuracy per rep, and the nudges still open per rep;
- two pictures: the scores as bars, and a funnel per rep (customers messaged, replied,
  asked for a quote, closed).

:func:`build_digest` makes it for one team and locale; the scheduled job enqueues it
for every manager of the team (one outbox row per message part and per picture), and
``/digest`` shows the same through :func:`send_review`.
"""

from __future__ import annotations

import base64
import html
import logging
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, Engine
from telegram.constants import ParseMode

from bot.metrics import RepKpis, TeamSettings, compute_team
from bot.metrics.periods import Period, previous
from bot.metrics.process import REPLY_WINDOW
from bot.metrics.quality import is_quote_request
from bot.metrics.result import to_base
from bot.push import charts, coaching, nudges
from bot.push.calendar import digest_schedule, weekly_occurrence
from bot.push.context import PushContext
from bot.render import Renderer, split_message
from bot.telegram import kpis as shaping
from storage import kpi_queries, push_queries
from storage.db import readonly
from storage.outbox import OutboxItem
from storage.push_queries import Person, TeamRow

logger = logging.getLogger(__name__)

DIGEST, MONTHLY = "digest", "monthly"


@dataclass(frozen=True, slots=True)
class Chart:
    """A picture of the review: PNG bytes and its caption (plain text)."""

    name: str
    png: bytes
    caption: str


@dataclass(frozen=True, slots=True)
class Review:
    """A weekly review ready to send: message parts (Telegram HTML) and pictures."""

    period: Period
    texts: list[str]
    charts: list[Chart]


@dataclass(frozen=True, slots=True)
class Ranked:
    """A rep's place in the review: KPIs, the score's change since last week, the report."""

    kpis: RepKpis
    change: float | None
    report: shaping.Report
    open_nudges: int


def _largest_deal(
    conn: Connection, rep_id: int, period: Period, at: datetime, settings: TeamSettings
) -> Decimal | None:
    amounts = [
        to_base(deal.amount, deal.currency, settings)
        for deal in kpi_queries.deals(conn, rep_id, period.start, period.as_of(at))
    ]
    known = [amount for amount in amounts if amount is not None]
    return max(known) if known else None


def _funnel(conn: Connection, kpis: RepKpis, at: datetime) -> charts.Funnel:
    period = kpis.period
    as_of = period.as_of(at)
    rows = kpi_queries.first_outbound_and_next_inbound(conn, kpis.rep_id, period.start, as_of)
    messaged = {customer_id for customer_id, _, _ in rows}
    replied = sum(
        1
        for _, first, reply in rows
        if reply is not None and reply < as_of and reply - first <= REPLY_WINDOW
    )
    signals = kpi_queries.quote_signals(conn, kpis.rep_id, period.start, as_of)
    quoted = {s.customer_id for s in signals if is_quote_request(s)}
    closed = {d.customer_id for d in kpi_queries.deals(conn, kpis.rep_id, period.start, as_of)}
    return charts.Funnel(kpis.rep, len(messaged), replied, len(quoted), len(closed))


def _best(ranked: list[Ranked], largest: dict[int, Decimal | None]) -> dict[str, Any]:
    best: dict[str, Any] = {}
    by_reply = [r for r in ranked if r.kpis.reply_rate]
    if by_reply:
        top = max(by_reply, key=lambda r: (r.kpis.reply_rate or 0.0, r.kpis.rep))
        best["reply_rate"] = (top.kpis.rep, top.kpis.reply_rate)
    by_deep = [r for r in ranked if r.kpis.deep_conversations]
    if by_deep:
        top = max(by_deep, key=lambda r: (r.kpis.deep_conversations, r.kpis.rep))
        best["deep_conversations"] = (top.kpis.rep, top.kpis.deep_conversations)
    deals = [(amount, r.kpis.rep) for r in ranked if (amount := largest.get(r.kpis.rep_id))]
    if deals:
        amount, rep = max(deals)
        best["largest_deal"] = (rep, amount)
    return best


def review_week(now: datetime, team: TeamRow, zone: Any) -> Period:
    """The week of the latest weekly review due by ``now`` (this week after the review
    time, the week before until then)."""
    weekday, at = digest_schedule(team)
    occurrence = weekly_occurrence(now, weekday, at, zone)
    assert occurrence.period is not None
    return occurrence.period


def _team_for(engine: Engine, team_id: int | None) -> TeamRow:
    """The team row of ``team_id`` (its review time), read from the store."""
    with readonly(engine).connect() as conn:
        return _team(conn, team_id)


def _team(conn: Connection, team_id: int | None) -> TeamRow:
    for team in push_queries.teams(conn):
        if team.id == team_id:
            return team
    return TeamRow(team_id or 0, "", None, {})


def build_digest(
    engine: Engine,
    renderer: Renderer,
    settings: TeamSettings,
    team_id: int | None,
    locale: str,
    now: datetime,
    *,
    week: Period | None = None,
) -> Review:
    """The weekly review of a team, as a manager gets it on Friday.

    Args:
        engine: the store.
        renderer: the templates.
        settings: the team's effective settings (the Telegram changes applied).
        team_id: the team; None for every rep of the store.
        locale: ``en`` or ``zh``.
        now: the evaluation time.
        week: the week; by default the week of the latest review due by ``now``.

    Returns:
        The review's message parts and pictures.
    """
    with readonly(engine).connect() as conn:
        team = _team(conn, team_id)
        week = week or review_week(now, team, settings.timezone)
        members = push_queries.team_reps(conn, team_id)
        values = _review_values(conn, members, settings, week, now)
    return _render(renderer, locale, values)


def _review_values(
    conn: Connection, reps: list[Person], settings: TeamSettings, week: Period, at: datetime
) -> dict[str, Any]:
    ids = {rep.rep_id for rep in reps}
    this_week = compute_team(conn, week, at, settings, rep_ids=ids)
    last_week = {
        k.rep_id: k for k in compute_team(conn, previous(week), at, settings, rep_ids=ids)
    }
    open_nudges: dict[int, int] = {}
    for nudge in nudges.find_nudges(conn, reps, settings, week.as_of(at)):
        open_nudges[nudge.rep_id] = open_nudges.get(nudge.rep_id, 0) + 1

    ranked = []
    for kpis in this_week:
        before = last_week.get(kpis.rep_id)
        change = None
        if before is not None and kpis.score is not None and before.score is not None:
            change = kpis.score - before.score
        report = shaping.build_report(kpis, before, settings)
        ranked.append(Ranked(kpis, change, report, open_nudges.get(kpis.rep_id, 0)))
    ranked.sort(key=lambda r: (r.kpis.score is None, -(r.kpis.score or 0.0), r.kpis.rep))

    largest = {k.rep_id: _largest_deal(conn, k.rep_id, week, at, settings) for k in this_week}
    flagged = coaching.below_twice(
        this_week, list(last_week.values()), settings.target("quote_rate")
    )
    return {
        "period": week,
        "as_of": week.as_of(at),
        "ranked": ranked,
        "best": _best(ranked, largest),
        "coaching": [k.rep for k in flagged],
        "red_lines": [k for k in this_week if k.red_line],
        "base_currency": settings.base_currency,
        "funnels": [_funnel(conn, r.kpis, at) for r in ranked],
    }


def _text(renderer: Renderer, locale: str, **values: Any) -> str:
    return html.unescape(renderer.render(locale, "push_chart_text", **values))


def _render(renderer: Renderer, locale: str, values: dict[str, Any]) -> Review:
    funnels = values.pop("funnels")
    text = renderer.render(locale, "push_digest", **values)
    week: Period = values["period"]
    pictures: list[Chart] = []
    ranked: list[Ranked] = values["ranked"]
    if ranked:
        scores = [(r.kpis.rep, r.kpis.score) for r in ranked]
        score_title = _text(renderer, locale, what="score_title", period=week)
        pictures.append(
            Chart(
                "score",
                charts.score_chart(score_title, scores, _text(renderer, locale, what="no_data")),
                score_title,
            )
        )
        funnel_title = _text(renderer, locale, what="funnel_title", period=week)
        steps = [_text(renderer, locale, what=step) for step in charts.FUNNEL_STEPS]
        pictures.append(
            Chart("funnel", charts.funnel_chart(funnel_title, funnels, steps), funnel_title)
        )
    return Review(week, split_message(text), pictures)


def review_items(review: Review, kind: str, recipient: int, period_key: str) -> list[OutboxItem]:
    """A review as outbox rows: each message part, then each picture, in that order."""
    items = [
        OutboxItem(
            kind,
            recipient,
            "review" if index == 0 else f"review#{index + 1}",
            period_key,
            {"method": "sendMessage", "text": part, "parse_mode": ParseMode.HTML.value},
        )
        for index, part in enumerate(review.texts)
    ]
    items += [
        OutboxItem(
            kind,
            recipient,
            f"chart-{chart.name}",
            period_key,
            {
                "method": "sendPhoto",
                "photo_b64": base64.b64encode(chart.png).decode("ascii"),
                "caption": chart.caption,
            },
        )
        for chart in review.charts
    ]
    return items


def enqueue_review(
    ctx: PushContext,
    team_id: int,
    week: Period | None,
    at: datetime,
    job_id: str,
    period_key: str,
) -> int | None:
    """Enqueue the weekly review of a team to each of its managers.

    Args:
        ctx: the push context.
        team_id: the team.
        week: the week reviewed.
        at: the review time (the numbers are as of then).
        job_id: the job's id.
        period_key: the week's label.

    Returns:
        Outbox rows added, or None when the week's review already ran.
    """
    assert week is not None
    items: list[OutboxItem] = []
    with ctx.read() as conn:
        team = _team(conn, team_id)
        managers = [
            p for p in push_queries.people(conn, team_id)
            if p.role == "manager" and p.chat_id is not None
        ]  # fmt: skip
    settings = ctx.settings_for(team)
    reviews: dict[str, Review] = {}
    for manager in managers:
        assert manager.chat_id is not None
        locale = ctx.locale_for(manager, team)
        if locale not in reviews:
            reviews[locale] = build_digest(
                ctx.engine, ctx.renderer, settings, team_id, locale, at, week=week
            )
        items += review_items(reviews[locale], DIGEST, manager.chat_id, period_key)
    return ctx.commit(job_id, period_key, items)


def enqueue_monthly(ctx: PushContext, month: Period, job_id: str, period_key: str) -> int | None:
    """Enqueue the monthly score report of the month that closed to every manager.

    Returns:
        Outbox rows added, or None when the month already ran.
    """
    now = ctx.clock.now()
    items: list[OutboxItem] = []
    with ctx.read() as conn:
        for managed in ctx.managed_teams(conn):
            team, settings, reps = managed.team, managed.settings, managed.rep_ids
            results = compute_team(conn, month, now, settings, rep_ids=reps)
            ranked = sorted(results, key=lambda k: (k.score is None, -(k.score or 0.0), k.rep))
            for manager in managed.managers:
                assert manager.chat_id is not None
                items += ctx.message(
                    MONTHLY, manager.chat_id, "report", month.label(),
                    ctx.locale_for(manager, team), "push_monthly",
                    period=month, ranked=ranked, base_currency=settings.base_currency,
                )  # fmt: skip
    return ctx.commit(job_id, period_key, items)


async def send_review(chat: Any, review: Review) -> None:
    """Send a review to a Telegram chat now (``/digest``): the parts, then the pictures.

    Args:
        chat: a python-telegram-bot ``Chat`` (``update.effective_chat``).
        review: from :func:`build_digest`.
    """
    for part in review.texts:
        await chat.send_message(part, parse_mode=ParseMode.HTML)
    for chart in review.charts:
        await chat.send_photo(chart.png, caption=chart.caption)
