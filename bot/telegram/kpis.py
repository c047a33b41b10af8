"""The KPI engine's results shaped for messages: rows with targets and marks, and the
customers behind a metric.

Nothing here defines a KPI: :mod:`bot.metrics` computes them; this module compares each
with its target (a status mark per row), takes the change since the previous period,
and, for the metrics a rep can open, lists the customers the metric counted, using the
engine's own building blocks so the list and the number agree.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine

from bot.metrics import RepKpis, TeamSettings, compute
from bot.metrics.periods import Period, PeriodKind, period_containing, previous
from bot.metrics.process import ACTIVE_WINDOW, REPLY_WINDOW, effectively_reached, turn_summaries
from bot.metrics.score import period_target
from storage import kpi_queries
from storage import telegram as store
from storage.db import readonly

logger = logging.getLogger(__name__)

OK, BELOW, FAR, NO_DATA, SHOWN = "ok", "below", "far", "no_data", "shown"
# Below half of the target is far below.
FAR_BELOW = 0.5
RESPONSE_OK_S = timedelta(hours=4).total_seconds()
RESPONSE_ACCEPTABLE_S = timedelta(hours=12).total_seconds()

# Metrics whose customers a rep can open from /mystats.
DRILLABLE = (
    "effective_reach",
    "reply_rate",
    "active_customers",
    "response_time",
    "deep_conversations",
    "deal_amount",
)
# Metrics /leaderboard can rank by; each is higher-is-better except response time.
RANKABLE = (
    "score",
    "effective_reach",
    "reply_rate",
    "active_customers",
    "response_time",
    "quote_rate",
    "deep_conversations",
    "conversion_rate",
    "deal_amount",
)


@dataclass(frozen=True, slots=True)
class Row:
    """One metric line of a report.

    Attributes:
        name: the metric's name in the KPI model.
        kind: ``count``, ``rate``, ``duration`` or ``money``: how to format it.
        value: the value; None for no data.
        target: the period's target; None when the team sets none.
        status: ok, below, far, no_data or shown (not scored).
        change: the change since the previous period; None when not comparable.
        drillable: whether the customers behind it can be opened.
    """

    name: str
    kind: str
    value: Any
    target: float | None
    status: str
    change: float | None
    drillable: bool


@dataclass(frozen=True, slots=True)
class Report:
    """A rep's KPIs for a period as /mystats and /rep show them."""

    kpis: RepKpis
    rows: list[Row]
    score_change: float | None
    base_currency: str
    below_margin: int


def status(value: float | None, target: float | None) -> str:
    """The mark of a higher-is-better metric against its target."""
    if value is None:
        return NO_DATA
    if target is None or target <= 0:
        return SHOWN
    if value >= target:
        return OK
    return BELOW if value >= FAR_BELOW * target else FAR


def response_status(mean_s: float | None) -> str:
    """The mark of response time: excellent at 4 h or less, acceptable up to 12 h."""
    if mean_s is None:
        return NO_DATA
    if mean_s <= RESPONSE_OK_S:
        return OK
    return BELOW if mean_s <= RESPONSE_ACCEPTABLE_S else FAR


def metric_value(kpis: RepKpis, name: str) -> float | None:
    """The value of one metric as a number (None for no data), for ranking and changes."""
    if name == "score":
        return kpis.score
    if name == "response_time":
        return kpis.response_time.mean_s
    if name == "deal_amount":
        return float(kpis.deals.deal_amount)
    if name == "order_value":
        return None if kpis.deals.order_value is None else float(kpis.deals.order_value)
    if name == "margin":
        return kpis.deals.margin
    value = getattr(kpis, name)
    return None if value is None else float(value)


def _change(now: float | None, before: float | None) -> float | None:
    if now is None or before is None:
        return None
    return now - before


def build_report(kpis: RepKpis, before: RepKpis | None, settings: TeamSettings) -> Report:
    """Compare each metric of ``kpis`` with its target and with the previous period.

    Args:
        kpis: the period's KPIs.
        before: the previous period's, or None.
        settings: the team's targets.

    Returns:
        The report.
    """
    period = kpis.period

    def target(name: str) -> float | None:
        return period_target(name, period, settings)

    def row(name: str, kind: str, mark: str | None = None) -> Row:
        value = metric_value(kpis, name)
        goal = None if name in ("messages_sent", "response_time") else target(name)
        shown = mark or (SHOWN if name == "messages_sent" else status(value, goal))
        change = _change(value, metric_value(before, name)) if before else None
        return Row(name, kind, value, goal, shown, change, name in DRILLABLE)

    margin_mark = FAR if kpis.deals.below_margin else None
    rows = [
        row("effective_reach", "count"),
        row("messages_sent", "count"),
        row("reply_rate", "rate"),
        row("active_customers", "count"),
        row("response_time", "duration", response_status(kpis.response_time.mean_s)),
        row("quote_rate", "rate"),
        row("deep_conversations", "count"),
        row("tag_accuracy", "rate"),
        row("conversion_rate", "rate"),
        row("deal_amount", "money"),
        row("order_value", "money"),
        row("margin", "rate", margin_mark if kpis.deals.margin is not None else None),
    ]
    return Report(
        kpis=kpis,
        rows=rows,
        score_change=_change(kpis.score, before.score) if before else None,
        base_currency=settings.base_currency,
        below_margin=len(kpis.deals.below_margin),
    )


def rep_report(
    engine: Engine, rep_id: int, kind: str, at: datetime, settings: TeamSettings
) -> Report:
    """Compute a rep's KPIs for the period of ``kind`` containing ``at``, and the previous
    period's, and build the report.

    Args:
        engine: the store.
        rep_id: the rep.
        kind: day, week or month.
        at: the evaluation time.
        settings: the team settings.

    Returns:
        The report.
    """
    period = period_containing(kind, at, settings.timezone)
    kpis = compute(engine, rep_id, period, at, settings)
    before = compute(engine, rep_id, previous(period), at, settings)
    return build_report(kpis, before, settings)


@dataclass(frozen=True, slots=True)
class CountedCustomer:
    """A customer a metric counted, with what the metric saw of them."""

    customer: store.CustomerRow
    detail: Any


def counted_customers(
    engine: Engine,
    rep_id: int,
    metric: str,
    period: Period,
    at: datetime,
    limit: int = 30,
) -> list[CountedCustomer]:
    """The customers behind one metric of a rep's period.

    - effective reach: customers reached, with their contact start;
    - reply rate: customers messaged, with whether they replied within 72 h;
    - active customers: customers with an outbound and an inbound message in the
      trailing 7 days;
    - response time: customers whose turns started in the period, with their longest wait
      (until the answer, or until now when unanswered);
    - deep conversations: customers whose conversation passed 10 turns in the period;
    - deal amount: customers with deals in the period, with the amounts.

    Args:
        engine: the store.
        rep_id: the rep (only their customers are ever listed).
        metric: one of :data:`DRILLABLE`.
        period: the period.
        at: the evaluation time.
        limit: at most this many customers.

    Returns:
        The customers.

    Raises:
        ValueError: the metric cannot be opened.
    """
    as_of = period.as_of(at)
    start = period.start
    details: dict[int, Any]
    with readonly(engine).connect() as conn:
        if metric == "effective_reach":
            reached = effectively_reached(conn, rep_id, start, as_of)
            details = {cid: when for cid, when in reached.items() if when >= start}
        elif metric == "reply_rate":
            details = {
                cid: bool(reply and reply < as_of and reply - first <= REPLY_WINDOW)
                for cid, first, reply in kpi_queries.first_outbound_and_next_inbound(
                    conn, rep_id, start, as_of
                )
            }
        elif metric == "active_customers":
            ids = store.active_customer_ids(conn, rep_id, as_of - ACTIVE_WINDOW, as_of)
            details = dict.fromkeys(ids)
        elif metric == "response_time":
            details = {}
            for cid, summary in turn_summaries(conn, rep_id, start, as_of).items():
                waits = [
                    ((turn.answered_at or as_of) - turn.started_at).total_seconds()
                    for turn in summary.customer_turns
                    if start <= turn.started_at < as_of
                ]
                if waits:
                    details[cid] = max(waits)
        elif metric == "deep_conversations":
            details = {
                cid: True
                for cid, summary in turn_summaries(conn, rep_id, start, as_of).items()
                if any(start <= passed < as_of for passed in summary.deep_passed_at)
            }
        elif metric == "deal_amount":
            details = {}
            for deal in kpi_queries.deals(conn, rep_id, start, as_of):
                details.setdefault(deal.customer_id, []).append((deal.amount, deal.currency))
        else:
            raise ValueError(f"metric {metric!r} cannot be opened")
        chosen = sorted(details)[:limit]
        found = store.customers_by_id(conn, chosen)
    logger.debug("metric customers listed rep_id=%s metric=%s n=%d", rep_id, metric, len(chosen))
    return [CountedCustomer(found[cid], details[cid]) for cid in chosen if cid in found]


def period_kind(text: str | None, default: str = "week") -> str | None:
    """``day``, ``week`` or ``month`` from what the user typed (None if it is none of them)."""
    if text is None:
        return default
    try:
        return PeriodKind(text.lower()).value
    except ValueError:
        return None
