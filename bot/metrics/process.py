"""Process metrics (diligence): effective reach, messages sent, reply rate, active
customers, response time."""

from __future__ import annotations

import statistics
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection

from bot.metrics.classify import BROADCAST_WINDOW, broadcast_ids
from bot.metrics.conversations import (
    CONVERSATION_GAP,
    CustomerTurn,
    TurnSummary,
    summarise_customer,
)
from bot.metrics.worktime import WorkingClock
from storage import kpi_queries
from storage.kpi_queries import ReachCandidate

REACH_WINDOW = timedelta(hours=24)
REPLY_WINDOW = timedelta(hours=72)
ACTIVE_WINDOW = timedelta(days=7)
RESPONSE_CAP = timedelta(hours=24)
# How far before the period turns are read first; conversations older than that are
# followed further back only for the customers whose conversation may have begun earlier.
TURN_LOOKBACK = timedelta(days=7)

BANDS = ("le_4h", "le_12h", "le_24h", "unanswered_or_over_24h")
_BAND_LIMITS = (timedelta(hours=4), timedelta(hours=12), timedelta(hours=24))
_READ_STATUSES = ("read", "played")
# Half-open bounds in SQL; this makes a bound inclusive.
_INSTANT = timedelta(microseconds=1)


@dataclass(frozen=True, slots=True)
class ResponseTime:
    """Response time of a period.

    Attributes:
        turns: customer turns counted (pending ones are not).
        pending: turns unanswered for less than 24 h at the evaluation time.
        mean_s: mean seconds, capped at 24 h each; None without turns.
        median_s: median seconds; None without turns.
        bands: share of turns per band (``le_4h``, ``le_12h``, ``le_24h``,
            ``unanswered_or_over_24h``); None without turns.
    """

    turns: int
    pending: int
    mean_s: float | None
    median_s: float | None
    bands: dict[str, float] | None


def was_read(candidate: ReachCandidate, as_of: datetime) -> bool:
    """Whether an outbound message was read by ``as_of``.

    Read means the message reached WhatsApp's ``read`` status (or ``played``), or the
    customer sent an inbound message after it; a ``read`` status known from a history
    backfill without a time counts as read.

    Args:
        candidate: the outbound message.
        as_of: the evaluation time.

    Returns:
        True when read.
    """
    for seen_at in (candidate.read_at, candidate.played_at):
        if seen_at is not None and seen_at < as_of:
            return True
    replied_at = candidate.last_inbound_at
    if replied_at is not None and candidate.timestamp < replied_at < as_of:
        return True
    untimed = candidate.read_at is None and candidate.played_at is None
    return untimed and candidate.status in _READ_STATUSES


def effectively_reached(
    conn: Connection, rep_id: int, start: datetime, as_of: datetime
) -> dict[int, datetime]:
    """Effective reach: customers whose contact started in the period and who got a
    *personalised* message from the rep within 24 h of contact start that was *read*.

    Args:
        conn: an open connection.
        rep_id: the rep.
        start: the first instant contact may have started.
        as_of: the evaluation time; nothing at or after it is known.

    Returns:
        The customers reached, each with their contact start.
    """
    candidates = kpi_queries.reach_candidates(conn, rep_id, start, as_of, REACH_WINDOW)
    if not candidates:
        return {}

    # Only windows that hold a candidate matter: they open at most a day before the first
    # candidate and close at most a day (inclusive) after the last.
    first = min(candidate.timestamp for candidate in candidates)
    last = max(candidate.timestamp for candidate in candidates)
    sends = kpi_queries.outbound_keys(
        conn, rep_id, first - BROADCAST_WINDOW, min(as_of, last + BROADCAST_WINDOW + _INSTANT)
    )
    broadcasts = broadcast_ids(sends)
    reached: dict[int, datetime] = {}
    for candidate in candidates:
        if candidate.message_id in broadcasts or candidate.customer_id in reached:
            continue
        if was_read(candidate, as_of):
            reached[candidate.customer_id] = candidate.contact_start
    return reached


def messages_sent(conn: Connection, rep_id: int, start: datetime, as_of: datetime) -> int:
    """Messages sent: outbound messages in the period that are not automated.

    Args:
        conn: an open connection.
        rep_id: the rep.
        start: the period's start.
        as_of: the evaluation time.

    Returns:
        The count.
    """
    return kpi_queries.count_rep_work(conn, rep_id, start, as_of)


def reply_rate(conn: Connection, rep_id: int, start: datetime, as_of: datetime) -> float | None:
    """Reply rate: customers who sent an inbound message after the rep's first outbound
    message in the period, within 72 h of it ÷ distinct customers the rep messaged in the
    period.

    Args:
        conn: an open connection.
        rep_id: the rep.
        start: the period's start.
        as_of: the evaluation time.

    Returns:
        A fraction 0..1, or None when the rep messaged nobody.
    """
    rows = kpi_queries.first_outbound_and_next_inbound(conn, rep_id, start, as_of)
    if not rows:
        return None
    replied = sum(
        1
        for _, first_at, reply_at in rows
        if reply_at is not None and reply_at < as_of and reply_at - first_at <= REPLY_WINDOW
    )
    return replied / len(rows)


def active_customers(conn: Connection, rep_id: int, as_of: datetime) -> int:
    """Active customers: distinct customers with at least one outbound and one inbound
    message in the trailing 7 days.

    Args:
        conn: an open connection.
        rep_id: the rep.
        as_of: the evaluation time; the 7 days end there.

    Returns:
        The count.
    """
    return kpi_queries.count_active_customers(conn, rep_id, as_of - ACTIVE_WINDOW, as_of)


def turn_summaries(
    conn: Connection, rep_id: int, start: datetime, as_of: datetime
) -> dict[int, TurnSummary]:
    """The turns and conversations up to ``as_of`` of every customer who has a turn
    message in the period (no one else has a turn there).

    Conversations alive in the period are followed back to their first message: a
    customer whose earliest message read lies within 24 h after the lookback's start is
    read again from further back, until a gap of more than 24 hours is found.

    Args:
        conn: an open connection.
        rep_id: the rep.
        start: the period's start.
        as_of: the evaluation time.

    Returns:
        A summary per customer who has a turn message in the period.
    """
    lookback = TURN_LOOKBACK
    low = start - lookback
    stream = kpi_queries.turn_messages_by_customer(conn, rep_id, low, as_of, active_from=start)
    summaries, unsure = _summarise(stream, low)
    while unsure:
        earlier = kpi_queries.customers_with_turn_messages(
            conn, rep_id, low - CONVERSATION_GAP, low, unsure
        )
        if not earlier:
            break
        lookback *= 4
        low = start - lookback
        stream = kpi_queries.turn_messages_by_customer(conn, rep_id, low, as_of, earlier)
        again, unsure = _summarise(stream, low)
        summaries.update(again)
    return summaries


def _summarise(
    stream: Iterable[tuple[int, list[tuple[datetime, bool]]]], low: datetime
) -> tuple[dict[int, TurnSummary], set[int]]:
    """Summaries per customer, and the customers whose history may begin before ``low``."""
    summaries: dict[int, TurnSummary] = {}
    unsure: set[int] = set()
    for customer_id, rows in stream:
        summaries[customer_id] = summarise_customer(customer_id, rows)
        if rows[0][0] - low <= CONVERSATION_GAP:
            unsure.add(customer_id)
    return summaries, unsure


def response_time(
    turns: Iterable[CustomerTurn], start: datetime, as_of: datetime, clock: WorkingClock
) -> ResponseTime:
    """Response time: for each customer turn that starts in the period (the first inbound
    message after the rep last spoke), the time until the rep's next non-automated
    outbound message, capped at 24 h: a turn answered later, or still unanswered 24 h
    after it started, counts as 24 h; a turn unanswered for less than 24 h at the
    evaluation time is pending and not counted yet. Where the team sets working hours,
    time outside them does not count.

    Args:
        turns: customer turns with their answers.
        start: the period's start.
        as_of: the evaluation time.
        clock: measures elapsed (working) time.

    Returns:
        Mean, median and the share per band.
    """
    values: list[timedelta] = []
    bands = dict.fromkeys(BANDS, 0)
    pending = 0
    for turn in turns:
        if not start <= turn.started_at < as_of:
            continue
        answered = turn.answered_at is not None and turn.answered_at < as_of
        until = turn.answered_at if answered and turn.answered_at else as_of
        elapsed = clock.elapsed(turn.started_at, until)
        if not answered and elapsed < RESPONSE_CAP:
            pending += 1
            continue
        values.append(min(elapsed, RESPONSE_CAP))
        bands[_band(elapsed, answered)] += 1

    if not values:
        return ResponseTime(turns=0, pending=pending, mean_s=None, median_s=None, bands=None)
    seconds = [value.total_seconds() for value in values]
    return ResponseTime(
        turns=len(values),
        pending=pending,
        mean_s=statistics.fmean(seconds),
        median_s=float(statistics.median(seconds)),
        bands={band: count / len(values) for band, count in bands.items()},
    )


def _band(elapsed: timedelta, answered: bool) -> str:
    if answered:
        for band, limit in zip(BANDS, _BAND_LIMITS, strict=False):
            if elapsed <= limit:
                return band
    return BANDS[-1]
