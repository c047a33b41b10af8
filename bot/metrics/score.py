"""The 100-point score: attainment per metric, profiles, and red lines.

Each scored metric gets an attainment between 0 and 1: ``min(value / target, 1)``; for
response time 1 at or below 4 h, falling linearly to 0 at 24 h; for margin / order value
the mean of the two attainments. A metric with no data scores 0 and is shown as "no
data". Count and amount targets are per week; a month's target is the week's * days / 7,
a day's is the week's / 7. The score is the weighted sum, out of 100.

Choices the KPI model leaves open (see ``docs/metrics.md``): a metric whose target the
team has not set (deal amount, order value, margin have none by default) is left out
and the remaining weights are scaled back up to 100; active customers is a trailing
7-day count whatever the period, so its target is not scaled.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import Connection

from bot.metrics.periods import Period, PeriodKind, period_containing
from bot.metrics.settings import TeamSettings
from storage import kpi_queries

NEW_HIRE_DAYS = 90
RESPONSE_FULL = timedelta(hours=4).total_seconds()
RESPONSE_ZERO = timedelta(hours=24).total_seconds()
# Account events that zero a month's score; restrictions, violations and scheduled bans
# are warnings WhatsApp gives before acting, not the ban itself.
RED_LINE_KINDS = ("ban", "quality_flag")
_RED_LINE_NAMES = {"ban": "banned or disabled number", "quality_flag": "quality flag"}

# Metrics whose weekly target scales with the period's length.
_SCALED = ("effective_reach", "deep_conversations", "deal_amount")


@dataclass(frozen=True, slots=True)
class ScoreInputs:
    """The metric values the score reads (None: no data)."""

    effective_reach: int
    active_customers: int
    response_mean_s: float | None
    quote_rate: float | None
    deep_conversations: int
    conversion_rate: float | None
    deal_amount: Decimal
    order_value: Decimal | None
    margin: float | None


@dataclass(frozen=True, slots=True)
class Score:
    """A rep's score for a period.

    Attributes:
        score: out of 100; 0 when a red line was crossed; None when nothing is scored.
        attainments: per scored metric, between 0 and 1.
        red_line: the reason the score was zeroed, or None.
    """

    score: float | None
    attainments: dict[str, float]
    red_line: str | None


def profile_for(hire_date: date | None, seniority: str, day: date) -> str:
    """The scoring profile of a rep on ``day``.

    Args:
        hire_date: the rep's hire date, if known.
        seniority: ``standard`` or ``senior``.
        day: the local day the score is for.

    Returns:
        ``new_hire`` during the first 90 days after the hire date (day 90 is no longer
        one), else ``senior`` or ``standard``.
    """
    if hire_date is not None and hire_date <= day < hire_date + timedelta(days=NEW_HIRE_DAYS):
        return "new_hire"
    return "senior" if seniority == "senior" else "standard"


def scoring_day(period: Period, as_of: datetime) -> date:
    """The local day a period is judged on: the evaluation day, or a closed period's last."""
    instant = min(as_of, period.end - timedelta(microseconds=1))
    return instant.astimezone(period.zone).date()


def period_target(metric: str, period: Period, settings: TeamSettings) -> float | None:
    """The target of ``metric`` for ``period``: a weekly target scaled to its length.

    Args:
        metric: a target name of :mod:`bot.metrics.settings`.
        period: the period scored.
        settings: the team settings.

    Returns:
        The target, or None when the team sets none.
    """
    weekly = settings.target(metric)
    if weekly is None or metric not in _SCALED:
        return weekly
    if period.kind is PeriodKind.DAY:
        return weekly / 7
    if period.kind is PeriodKind.MONTH:
        return weekly * period.days / 7
    return weekly


def attainment(value: float | Decimal | None, target: float | None) -> float | None:
    """``min(value / target, 1)``; 0 for no data; None when there is no target.

    Args:
        value: the metric's value, None for no data.
        target: the target, None when not set.

    Returns:
        Between 0 and 1, or None.
    """
    if target is None:
        return None
    if value is None:
        return 0.0
    return max(0.0, min(float(value) / target, 1.0))


def response_time_attainment(mean_s: float | None) -> float:
    """1 at or below 4 h, falling linearly to 0 at 24 h; 0 without data.

    Args:
        mean_s: mean response time in seconds, None without turns.

    Returns:
        Between 0 and 1.
    """
    if mean_s is None:
        return 0.0
    share = (RESPONSE_ZERO - mean_s) / (RESPONSE_ZERO - RESPONSE_FULL)
    return max(0.0, min(share, 1.0))


def attainments(values: ScoreInputs, period: Period, settings: TeamSettings) -> dict[str, float]:
    """The attainment of every scored metric that has a target.

    Args:
        values: the metric values.
        period: the period scored.
        settings: targets.

    Returns:
        Attainment per metric name; metrics without a target are absent.
    """

    def target(name: str) -> float | None:
        return period_target(name, period, settings)

    found: dict[str, float | None] = {
        "effective_reach": attainment(values.effective_reach, target("effective_reach")),
        "active_customers": attainment(values.active_customers, target("active_customers")),
        "response_time": response_time_attainment(values.response_mean_s),
        "quote_rate": attainment(values.quote_rate, target("quote_rate")),
        "deep_conversations": attainment(values.deep_conversations, target("deep_conversations")),
        "conversion_rate": attainment(values.conversion_rate, target("conversion_rate")),
        "deal_amount": attainment(values.deal_amount, target("deal_amount")),
        "margin_order_value": _margin_order_value(values, target),
    }
    return {name: value for name, value in found.items() if value is not None}


def _margin_order_value(
    values: ScoreInputs, target: Callable[[str], float | None]
) -> float | None:
    parts = [
        part
        for part in (
            attainment(values.margin, target("margin")),
            attainment(values.order_value, target("order_value")),
        )
        if part is not None
    ]
    return sum(parts) / len(parts) if parts else None


def weighted_score(found: Mapping[str, float], weights: Mapping[str, float]) -> float | None:
    """The weighted sum of attainments, out of 100, over the metrics that are scored.

    Args:
        found: attainment per scored metric.
        weights: the profile's weights.

    Returns:
        The score, or None when no scored metric has weight.
    """
    total_weight = sum(weights.get(name, 0.0) for name in found)
    if total_weight <= 0:
        return None
    earned = sum(weights.get(name, 0.0) * value for name, value in found.items())
    return round(100 * earned / total_weight, 2)


def red_line(
    conn: Connection, rep_id: int, period: Period, as_of: datetime, settings: TeamSettings
) -> str | None:
    """Red lines: a banned or disabled WhatsApp number, a quality flag from WhatsApp, or
    complaints above the team's threshold in a month set that rep's monthly score to 0.

    The month is the one the period starts in, up to the evaluation time, so a week or
    day of a month with a red line scores 0 from the moment the line was crossed.

    Args:
        conn: an open connection.
        rep_id: the rep.
        period: the period scored.
        as_of: the evaluation time.
        settings: the complaint threshold and the time zone.

    Returns:
        The reason, or None.
    """
    month = period_containing(PeriodKind.MONTH, period.start, period.zone)
    events = kpi_queries.red_line_events(conn, rep_id, RED_LINE_KINDS, month.start, as_of)
    if events:
        kind, event, at = events[0]
        day = at.astimezone(period.zone).date().isoformat()
        return f"{_RED_LINE_NAMES[kind]} on {day} ({event})"

    complaints = kpi_queries.customer_events(conn, rep_id, "complaint", month.start, as_of)
    if len(complaints) > settings.complaint_threshold:
        return (
            f"{len(complaints)} complaints in {month.label()}, "
            f"above the threshold of {settings.complaint_threshold}"
        )
    return None


def score(
    values: ScoreInputs,
    period: Period,
    profile: str,
    settings: TeamSettings,
    crossed: str | None,
) -> Score:
    """The period's score for a rep.

    Args:
        values: the metric values.
        period: the period scored.
        profile: standard, new_hire or senior.
        settings: targets and weights.
        crossed: the red line crossed, if any (see :func:`red_line`).

    Returns:
        The score, the attainments and the red line.
    """
    found = attainments(values, period, settings)
    if crossed is not None:
        return Score(score=0.0, attainments=found, red_line=crossed)
    return Score(
        score=weighted_score(found, settings.profile_weights(profile)),
        attainments=found,
        red_line=None,
    )
