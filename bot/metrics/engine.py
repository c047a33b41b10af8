"""Everything the KPI model says about a rep for one period, as of an evaluation time.

:func:`compute` reads one rep's numbers, :func:`compute_team` every active rep's. Both
take a session or an engine; with an engine the work runs on a read-only connection,
which on SQLite never takes the write lock.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, Engine
from sqlalchemy.orm import Session

from bot.errors import NotFoundError
from bot.metrics import process, quality, result, score
from bot.metrics.periods import Period, PeriodKind, period_containing
from bot.metrics.process import ResponseTime
from bot.metrics.result import DealResults
from bot.metrics.settings import TeamSettings
from bot.metrics.worktime import WorkingClock
from storage import kpi_queries
from storage.db import readonly
from storage.kpi_queries import RepRow

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class RepKpis:
    """A rep's KPIs for a period. Rates are fractions 0..1; None means no data.

    Attributes:
        rep_id: the rep's id.
        rep: the rep's name.
        period: the period.
        evaluated_at: the evaluation time (the period's end once it is closed).
        profile: standard, new_hire or senior.
        effective_reach: customers effectively reached in the period.
        messages_sent: outbound, non-automated messages in the period.
        reply_rate: the period's reply rate.
        active_customers: customers active in the trailing 7 days.
        response_time: mean, median and bands of the period's response times.
        quote_rate: share of the trailing 30 days' reached customers who asked for a quote.
        deep_conversations: conversations that passed 10 turns in the period.
        tag_accuracy: share of high-intent tags followed up within 7 days.
        conversion_rate: share of customers first quoted in the trailing 90 days who bought.
        deals: deal amount, order value, margin, repeat and referral of the period.
        attainments: per scored metric, between 0 and 1.
        score: out of 100 (0 when a red line was crossed); None when nothing is scored.
        red_line: the reason the score is zero, or None.
    """

    rep_id: int
    rep: str
    period: Period
    evaluated_at: datetime
    profile: str
    effective_reach: int
    messages_sent: int
    reply_rate: float | None
    active_customers: int
    response_time: ResponseTime
    quote_rate: float | None
    deep_conversations: int
    tag_accuracy: float | None
    conversion_rate: float | None
    deals: DealResults
    attainments: dict[str, float]
    score: float | None
    red_line: str | None

    def to_dict(self) -> dict[str, Any]:
        """The KPIs as JSON-ready values; amounts are decimal strings, times ISO 8601."""
        deals = self.deals
        return {
            "rep": self.rep,
            "rep_id": self.rep_id,
            "period": self.period.kind.value,
            "period_label": self.period.label(),
            "period_start": self.period.start.isoformat(),
            "period_end": self.period.end.isoformat(),
            "evaluated_at": self.evaluated_at.isoformat(),
            "profile": self.profile,
            "effective_reach": self.effective_reach,
            "messages_sent": self.messages_sent,
            "reply_rate": self.reply_rate,
            "active_customers": self.active_customers,
            "response_time": {
                "mean_s": self.response_time.mean_s,
                "median_s": self.response_time.median_s,
                "bands": self.response_time.bands,
                "turns": self.response_time.turns,
                "pending": self.response_time.pending,
            },
            "quote_rate": self.quote_rate,
            "deep_conversations": self.deep_conversations,
            "tag_accuracy": self.tag_accuracy,
            "conversion_rate": self.conversion_rate,
            "deal_amount": str(deals.deal_amount),
            "deal_amount_all": str(deals.deal_amount_all),
            "deals": deals.deals,
            "order_value": _decimal_str(deals.order_value),
            "margin": deals.margin,
            "repeat_amount": str(deals.repeat_amount),
            "referrals": deals.referrals,
            "deals_below_margin": list(deals.below_margin),
            "deals_without_rate": list(deals.unconverted),
            "attainments": self.attainments,
            "score": self.score,
            "red_line": self.red_line,
        }


def _decimal_str(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


@contextmanager
def _connection(source: Session | Engine | Connection) -> Iterator[Connection]:
    if isinstance(source, Connection):
        yield source
    elif isinstance(source, Session):
        yield source.connection()
    else:
        with readonly(source).connect() as conn:
            yield conn


def resolve_period(
    period: Period | PeriodKind | str, at: datetime, settings: TeamSettings
) -> Period:
    """The period to compute: given, or the one of ``period`` kind that contains ``at``.

    Args:
        period: a period, or a kind (day, week, month).
        at: the evaluation time (aware).
        settings: the team's zone.

    Returns:
        The period.

    Raises:
        ValueError: ``at`` is naive or the kind is unknown.
    """
    if isinstance(period, Period):
        return period
    return period_containing(period, at, settings.timezone)


def compute(
    source: Session | Engine | Connection,
    rep: int | str | RepRow,
    period: Period | PeriodKind | str,
    at: datetime,
    settings: TeamSettings | None = None,
) -> RepKpis:
    """Compute every KPI of ``rep`` for ``period`` as of ``at``.

    Args:
        source: a session, an engine or a connection on the store.
        rep: the rep: id, name or row.
        period: a period, or a kind whose period containing ``at`` is meant.
        at: the evaluation time (aware); a closed period is computed as of its end.
        settings: the team settings; defaults when None.

    Returns:
        The rep's KPIs and score.

    Raises:
        NotFoundError: no rep has that id or name.
        ValueError: ``at`` is naive.
    """
    settings = settings or TeamSettings()
    with _connection(source) as conn:
        rep_row = _rep_row(conn, rep)
        return _compute(conn, rep_row, resolve_period(period, at, settings), at, settings)


def compute_team(
    source: Session | Engine | Connection,
    period: Period | PeriodKind | str,
    at: datetime,
    settings: TeamSettings | None = None,
    *,
    include_managers: bool = False,
    rep_ids: Collection[int] | None = None,
) -> list[RepKpis]:
    """Compute every active rep's KPIs for ``period`` as of ``at``.

    Args:
        source: a session, an engine or a connection on the store.
        period: a period, or a kind whose period containing ``at`` is meant.
        at: the evaluation time (aware).
        settings: the team settings; defaults when None.
        include_managers: also compute managers (they are left out of rankings).
        rep_ids: only these reps (a team's); every active rep when None.

    Returns:
        KPIs per rep, by rep name.

    Raises:
        ValueError: ``at`` is naive.
    """
    settings = settings or TeamSettings()
    started = time.perf_counter()
    resolved = resolve_period(period, at, settings)
    with _connection(source) as conn:
        rows = kpi_queries.reps(conn, include_managers=include_managers)
        if rep_ids is not None:
            rows = [row for row in rows if row.id in rep_ids]
        results = [_compute(conn, rep_row, resolved, at, settings) for rep_row in rows]
    logger.info(
        "team kpis computed period=%s reps=%d duration_ms=%.1f",
        resolved.label(),
        len(results),
        (time.perf_counter() - started) * 1000,
    )
    return results


def _rep_row(conn: Connection, rep: int | str | RepRow) -> RepRow:
    if isinstance(rep, RepRow):
        return rep
    found = kpi_queries.rep_by_id(conn, rep) if isinstance(rep, int) else None
    if isinstance(rep, str):
        found = kpi_queries.rep_by_name(conn, rep)
    if found is None:
        raise NotFoundError(f"no rep {rep!r}; `kpibot rep list` shows the reps")
    return found


def _compute(
    conn: Connection, rep: RepRow, period: Period, at: datetime, settings: TeamSettings
) -> RepKpis:
    started = time.perf_counter()
    as_of = period.as_of(at)
    start = period.start

    # Effective reach once over the longer of the period and the quote rate's 30 days.
    reach_start = min(start, as_of - quality.QUOTE_RATE_WINDOW)
    reached = process.effectively_reached(conn, rep.id, reach_start, as_of)
    summaries = process.turn_summaries(conn, rep.id, start, as_of)
    customer_turns = (turn for s in summaries.values() for turn in s.customer_turns)

    effective_reach = sum(1 for contact_start in reached.values() if contact_start >= start)
    response = process.response_time(customer_turns, start, as_of, WorkingClock(settings))
    deals = result.deal_results(conn, rep.id, start, as_of, settings)
    first_requests = quality.first_quote_requests(conn, rep.id, as_of)
    values = score.ScoreInputs(
        effective_reach=effective_reach,
        active_customers=process.active_customers(conn, rep.id, as_of),
        response_mean_s=response.mean_s,
        quote_rate=quality.quote_rate(conn, rep.id, reached, as_of, first_requests),
        deep_conversations=quality.deep_conversations(summaries.values(), start, as_of),
        conversion_rate=result.conversion_rate(conn, rep.id, as_of, first_requests),
        deal_amount=deals.deal_amount,
        order_value=deals.order_value,
        margin=deals.margin,
    )

    profile = score.profile_for(rep.hire_date, rep.seniority, score.scoring_day(period, as_of))
    crossed = score.red_line(conn, rep.id, period, as_of, settings)
    scored = score.score(values, period, profile, settings, crossed)
    kpis = RepKpis(
        rep_id=rep.id,
        rep=rep.name,
        period=period,
        evaluated_at=as_of,
        profile=profile,
        effective_reach=effective_reach,
        messages_sent=process.messages_sent(conn, rep.id, start, as_of),
        reply_rate=process.reply_rate(conn, rep.id, start, as_of),
        active_customers=values.active_customers,
        response_time=response,
        quote_rate=values.quote_rate,
        deep_conversations=values.deep_conversations,
        tag_accuracy=quality.tag_accuracy(conn, rep.id, start, as_of),
        conversion_rate=values.conversion_rate,
        deals=deals,
        attainments=scored.attainments,
        score=scored.score,
        red_line=scored.red_line,
    )
    logger.debug(
        "rep kpis computed rep_id=%s period=%s duration_ms=%.1f",
        rep.id,
        period.label(),
        (time.perf_counter() - started) * 1000,
    )
    return kpis
