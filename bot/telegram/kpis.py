"""The KPI engine's results shaped for messages: rows with targets and marks, and the
customers behind a metric.

Nothing here defines a KPI: :mod:`bot.metrics` computes them; this module compares each
with its target (a status mark per row), takes the change since the previous period,
and, for the metrics a rep can open, lists the customers the metric counted, using the
engine's own building blocks so the list and the number agree.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine

from bot.metrics import RepKpis, TeamSettings, compute, quality
from bot.metrics.periods import Period, PeriodKind, period_containing, previous
from bot.metrics.process import ACTIVE_WINDOW, REPLY_WINDOW, effectively_reached, turn_summaries
from bot.metrics.result import CONVERSION_WINDOW
from bot.metrics.score import period_target
from storage import drilldown_queries, kpi_queries
from storage import telegram as store
from storage.db import readonly

logger = logging.getLogger(__name__)

OK, BELOW, FAR, NO_DATA, SHOWN = "ok", "below", "far", "no_data", "shown"
# Below half of the target is far below.
FAR_BELOW = 0.5
RESPONSE_OK_S = timedelta(hours=4).total_seconds()
RESPONSE_ACCEPTABLE_S = timedelta(hours=12).total_seconds()
# Half-open bounds in SQL; this makes the tag window's last instant inclusive, as the
# engine reads it.
_INSTANT = timedelta(microseconds=1)
# A drill-down's entries: (customer id, what the metric saw of that customer).
Entries = list[tuple[int, Any]]

# Metrics whose customers a rep can open from /mystats.
DRILLABLE = (
    "effective_reach",
    "messages_sent",
    "reply_rate",
    "active_customers",
    "response_time",
    "quote_rate",
    "deep_conversations",
    "tag_accuracy",
    "conversion_rate",
    "deal_amount",
)
# Entries per drill-down page: with the longest detail line a page stays well under
# Telegram's 4,096 characters (and a longer one is split by the sender anyway).
PAGE_SIZE = 30
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


@dataclass(frozen=True, slots=True)
class QuoteAsk:
    """A customer in the quote rate's base: when reached, and their first quote request.

    Attributes:
        reached_at: the contact start of the effective reach.
        asked_at: the first quote request before the evaluation time; None when none.
    """

    reached_at: datetime
    asked_at: datetime | None


@dataclass(frozen=True, slots=True)
class TagFollowUp:
    """A ``high-intent`` tag whose 7-day window ended in the period.

    Attributes:
        tagged_at: when the tag was put.
        followed_by: ``quote``, ``sample`` or ``deal``: the first follow-up within the
            7 days; None when nothing followed.
        followed_at: when that follow-up happened; None when nothing followed.
    """

    tagged_at: datetime
    followed_by: str | None
    followed_at: datetime | None


@dataclass(frozen=True, slots=True)
class Conversion:
    """A customer in the conversion rate's base.

    Attributes:
        first_request_at: the first quote request ever, in the trailing 90 days.
        closed_at: the first deal closed at or after it; None when none yet.
    """

    first_request_at: datetime
    closed_at: datetime | None


@dataclass(frozen=True, slots=True)
class Drilldown:
    """One page of the customers behind a metric, and the counts of the whole list.

    Attributes:
        metric: one of :data:`DRILLABLE`.
        counted: this page's entries (a customer, or for tag accuracy a tag).
        total: entries in the whole list: the rate's denominator, the count's value.
        numerator: for a rate, the entries that count towards it; for messages sent,
            the messages; None for the other metrics.
        page: this page, from 0.
        pages: how many pages (at least 1).
    """

    metric: str
    counted: list[CountedCustomer]
    total: int
    numerator: int | None
    page: int
    pages: int


def _messages_sent(conn: Connection, rep_id: int, start: datetime, as_of: datetime) -> Entries:
    counts = drilldown_queries.rep_work_per_customer(conn, rep_id, start, as_of)
    return sorted(counts.items(), key=lambda item: (-item[1], item[0]))


def _quote_rate(conn: Connection, rep_id: int, start: datetime, as_of: datetime) -> Entries:
    # The engine reads reach once over the longer of the period and the 30 days.
    window_start = as_of - quality.QUOTE_RATE_WINDOW
    reached = effectively_reached(conn, rep_id, min(start, window_start), as_of)
    asked = quality.first_quote_requests(conn, rep_id, as_of)
    base = sorted((when, cid) for cid, when in reached.items() if when >= window_start)
    return [(cid, QuoteAsk(when, asked.get(cid))) for when, cid in base]


def _tag_accuracy(conn: Connection, rep_id: int, start: datetime, as_of: datetime) -> Entries:
    entries: Entries = []
    for outcome in quality.tag_outcomes(conn, rep_id, start, as_of):
        followed_at, followed_by = outcome.follow_up or (None, None)
        entries.append(
            (outcome.customer_id, TagFollowUp(outcome.tagged_at, followed_by, followed_at))
        )
    return entries


def _conversion_rate(conn: Connection, rep_id: int, _start: datetime, as_of: datetime) -> Entries:
    window_start = as_of - CONVERSION_WINDOW
    firsts = {
        cid: when
        for cid, when in quality.first_quote_requests(conn, rep_id, as_of).items()
        if when >= window_start
    }
    if not firsts:
        return []
    closed: dict[int, datetime] = {}
    for deal in kpi_queries.deals(conn, rep_id, None, as_of, firsts.keys()):
        if deal.closed_at >= firsts[deal.customer_id]:
            closed.setdefault(deal.customer_id, deal.closed_at)
    ordered = sorted((when, cid) for cid, when in firsts.items())
    return [(cid, Conversion(when, closed.get(cid))) for when, cid in ordered]


def _process_entries(
    conn: Connection, rep_id: int, metric: str, start: datetime, as_of: datetime
) -> Entries | None:
    """The entries of the metrics listed by customer id; None for another metric."""
    details: dict[int, Any]
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
        ids = kpi_queries.active_customer_ids(conn, rep_id, as_of - ACTIVE_WINDOW, as_of)
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
        return None
    return sorted(details.items(), key=lambda item: item[0])


_LISTED: dict[str, Callable[[Connection, int, datetime, datetime], Entries]] = {
    "messages_sent": _messages_sent,
    "quote_rate": _quote_rate,
    "tag_accuracy": _tag_accuracy,
    "conversion_rate": _conversion_rate,
}


def _numerator(metric: str, entries: Entries) -> int | None:
    """What counts towards the metric, over the whole list (None when nothing does)."""
    if metric == "messages_sent":
        return sum(n for _, n in entries)
    if metric == "reply_rate":
        return sum(1 for _, replied in entries if replied)
    if metric == "quote_rate":
        return sum(1 for _, ask in entries if ask.asked_at is not None)
    if metric == "tag_accuracy":
        return sum(1 for _, tag in entries if tag.followed_by is not None)
    if metric == "conversion_rate":
        return sum(1 for _, conversion in entries if conversion.closed_at is not None)
    return None


def drilldown(
    engine: Engine,
    rep_id: int,
    metric: str,
    period: Period,
    at: datetime,
    page: int = 0,
    page_size: int = PAGE_SIZE,
) -> Drilldown:
    """One page of the customers behind one metric of a rep's period.

    Every list is read with the engine's own building blocks, so its counts are the
    metric's: ``numerator / total`` is the rate ``/mystats`` shows.

    - effective reach: customers reached, with their contact start;
    - messages sent: customers the rep messaged (not automated), with how many messages,
      most first;
    - reply rate: customers messaged, with whether they replied within 72 h;
    - active customers: customers with an outbound and an inbound message in the
      trailing 7 days;
    - response time: customers whose turns started in the period, with their longest wait
      (until the answer, or until now when unanswered);
    - quote rate: customers effectively reached in the trailing 30 days, with their first
      quote request, if any;
    - deep conversations: customers whose conversation passed 10 turns in the period;
    - tag accuracy: the ``high-intent`` tags whose 7 days ended in the period (one entry
      per tag), with their first follow-up (quote, sample or deal), if any;
    - conversion rate: customers whose first quote request fell in the trailing 90 days,
      with the first deal closed since, if any;
    - deal amount: customers with deals in the period, with the amounts.

    Args:
        engine: the store.
        rep_id: the rep (only their customers are ever listed).
        metric: one of :data:`DRILLABLE`.
        period: the period.
        at: the evaluation time.
        page: the page wanted, from 0; past the last page means the last.
        page_size: entries per page.

    Returns:
        The page and the counts of the whole list.

    Raises:
        ValueError: the metric cannot be opened.
    """
    as_of = period.as_of(at)
    with readonly(engine).connect() as conn:
        if metric in _LISTED:
            entries = _LISTED[metric](conn, rep_id, period.start, as_of)
        else:
            listed = _process_entries(conn, rep_id, metric, period.start, as_of)
            if listed is None:
                raise ValueError(f"metric {metric!r} cannot be opened")
            entries = listed
        pages = max(1, -(-len(entries) // page_size))
        page = min(max(page, 0), pages - 1)
        chosen = entries[page * page_size : (page + 1) * page_size]
        found = store.customers_by_id(conn, sorted({cid for cid, _ in chosen}))
    logger.debug(
        "metric customers listed rep_id=%s metric=%s n=%d page=%d",
        rep_id,
        metric,
        len(entries),
        page,
    )
    return Drilldown(
        metric=metric,
        counted=[CountedCustomer(found[cid], detail) for cid, detail in chosen if cid in found],
        total=len(entries),
        numerator=_numerator(metric, entries),
        page=page,
        pages=pages,
    )


def period_kind(text: str | None, default: str = "week") -> str | None:
    """``day``, ``week`` or ``month`` from what the user typed (None if it is none of them)."""
    if text is None:
        return default
    try:
        return PeriodKind(text.lower()).value
    except ValueError:
        return None
