"""Quality metrics (effective work): quote rate, deep conversations, tag accuracy."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from datetime import datetime, timedelta
from typing import NamedTuple

from sqlalchemy import Connection

from bot.metrics.conversations import TurnSummary
from bot.quotes import asks_for_price, names_a_quote
from storage import kpi_queries
from storage.kpi_queries import QuoteSignal

QUOTE_RATE_WINDOW = timedelta(days=30)
TAG_WINDOW = timedelta(days=7)
# Bounds are half-open in SQL; this makes "within 7 days" include the 7th day's last instant.
_INCLUSIVE = timedelta(microseconds=1)


def is_quote_request(signal: QuoteSignal) -> bool:
    """Whether a signal is a quote request.

    A quote request is an inbound message that asks for a price (the multilingual
    lexicon of :mod:`bot.quotes`), an outbound document whose file name or
    caption names a quotation, proforma invoice or price list, or a recorded quote.

    Args:
        signal: an inbound text, an outbound document or a recorded quote.

    Returns:
        True for a quote request.
    """
    if signal.kind == "event":
        return True
    if signal.kind == "document":
        return names_a_quote(signal.text, signal.caption)
    return asks_for_price(signal.text) or asks_for_price(signal.caption)


def quote_request_times(signals: Iterable[QuoteSignal]) -> dict[int, list[datetime]]:
    """The times of every quote request, per customer, in time order.

    Args:
        signals: candidate signals, in time order.

    Returns:
        Quote request times per customer.
    """
    times: dict[int, list[datetime]] = {}
    for signal in signals:
        if is_quote_request(signal):
            times.setdefault(signal.customer_id, []).append(signal.timestamp)
    return times


def first_quote_requests(conn: Connection, rep_id: int, as_of: datetime) -> dict[int, datetime]:
    """Every customer's first quote request with the rep before ``as_of``.

    Quote rate and conversion rate both read this; it is one aggregate over the stored
    ``quote_request`` flags, plus the texts of the messages whose flag is not known.

    Args:
        conn: an open connection.
        rep_id: the rep.
        as_of: the evaluation time.

    Returns:
        The first quote request time per customer who made one.
    """
    firsts, unchecked = kpi_queries.quote_request_firsts(conn, rep_id, as_of)
    for customer_id, times in quote_request_times(unchecked).items():
        if customer_id not in firsts or times[0] < firsts[customer_id]:
            firsts[customer_id] = times[0]
    return firsts


def quote_rate(
    conn: Connection,
    rep_id: int,
    reached: Mapping[int, datetime],
    as_of: datetime,
    first_requests: Mapping[int, datetime] | None = None,
) -> float | None:
    """Quote rate: of the customers effectively reached in the trailing 30 days, the share
    that has asked for a quote by the evaluation time.

    Args:
        conn: an open connection.
        rep_id: the rep.
        reached: customers effectively reached (with contact start), at least those of
            the trailing 30 days.
        as_of: the evaluation time.
        first_requests: :func:`first_quote_requests` for ``as_of``, when already read.

    Returns:
        A fraction 0..1, or None when nobody was reached in the trailing 30 days.
    """
    base = {
        c for c, contact_start in reached.items() if contact_start >= as_of - QUOTE_RATE_WINDOW
    }
    if not base:
        return None
    if first_requests is None:
        first_requests = first_quote_requests(conn, rep_id, as_of)
    quoted = first_requests.keys() & base
    return len(quoted) / len(base)


def deep_conversations(summaries: Iterable[TurnSummary], start: datetime, as_of: datetime) -> int:
    """Deep conversations: conversations that reached more than 10 turns, counted in the
    period in which they passed 10.

    Args:
        summaries: every customer's turn summary.
        start: the period's start.
        as_of: the evaluation time.

    Returns:
        The count.
    """
    return sum(
        1
        for summary in summaries
        for passed_at in summary.deep_passed_at
        if start <= passed_at < as_of
    )


class TagOutcome(NamedTuple):
    """A ``high-intent`` tag and its first follow-up within 7 days, if any.

    Attributes:
        customer_id: the tagged customer.
        tagged_at: when the tag was put on.
        follow_up: ``(when, kind)`` of the first quote request, sample or deal within the
            7 days (kind ``quote``, ``sample`` or ``deal``); None when nothing followed.
    """

    customer_id: int
    tagged_at: datetime
    follow_up: tuple[datetime, str] | None


def tag_outcomes(
    conn: Connection, rep_id: int, start: datetime, as_of: datetime
) -> list[TagOutcome]:
    """The ``high-intent`` tags whose 7-day window ended in the period, in tag order, each
    with its first follow-up within 7 days by a quote, a sample or a deal.

    Args:
        conn: an open connection.
        rep_id: the rep.
        start: the period's start.
        as_of: the evaluation time.

    Returns:
        One outcome per tag (a customer tagged twice appears twice).
    """
    tags = kpi_queries.high_intent_tags(conn, rep_id, start - TAG_WINDOW, as_of - TAG_WINDOW)
    if not tags:
        return []

    customers = {customer_id for customer_id, _ in tags}
    first = tags[0][1]
    last = tags[-1][1] + TAG_WINDOW + _INCLUSIVE
    follow_ups = _follow_ups(conn, rep_id, customers, first, last)
    outcomes = []
    for customer_id, tagged_at in tags:
        within = sorted(
            (at, kind)
            for at, kind in follow_ups.get(customer_id, ())
            if tagged_at <= at <= tagged_at + TAG_WINDOW
        )
        outcomes.append(TagOutcome(customer_id, tagged_at, within[0] if within else None))
    return outcomes


def tag_accuracy(conn: Connection, rep_id: int, start: datetime, as_of: datetime) -> float | None:
    """Tag accuracy: of the ``high-intent`` tags whose 7-day window ended in the period,
    the share followed within 7 days by a quote, a sample or a deal.

    Args:
        conn: an open connection.
        rep_id: the rep.
        start: the period's start.
        as_of: the evaluation time.

    Returns:
        A fraction 0..1, or None when no tag's window ended in the period.
    """
    outcomes = tag_outcomes(conn, rep_id, start, as_of)
    if not outcomes:
        return None
    return sum(1 for outcome in outcomes if outcome.follow_up is not None) / len(outcomes)


def _follow_ups(
    conn: Connection, rep_id: int, customers: Collection[int], start: datetime, end: datetime
) -> dict[int, list[tuple[datetime, str]]]:
    """Quote requests, samples and deals of ``customers`` in ``[start, end)``, by kind."""
    signals = kpi_queries.quote_signals(conn, rep_id, start, end, customers)
    follow_ups: dict[int, list[tuple[datetime, str]]] = {}
    for customer_id, times in quote_request_times(signals).items():
        follow_ups.setdefault(customer_id, []).extend((at, "quote") for at in times)
    for customer_id, at in kpi_queries.customer_events(
        conn, rep_id, "sample", start, end, customers
    ):
        follow_ups.setdefault(customer_id, []).append((at, "sample"))
    for deal in kpi_queries.deals(conn, rep_id, start, end, customers):
        follow_ups.setdefault(deal.customer_id, []).append((deal.closed_at, "deal"))
    return follow_ups
