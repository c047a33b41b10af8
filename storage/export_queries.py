"""The reads behind ``kpibot export conversations``: whole conversations around a window.

A conversation that starts in a window may have begun before it (then it does not start
there) and may run on after it; to cut conversations as the KPI engine does, a
customer's messages are read from before the window's start to after its end until a
gap longer than the conversation gap bounds them on both sides. The messages are the
ones that make turns (:func:`storage.kpi_queries.turn_messages_by_customer`).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import Connection

from storage import kpi_queries

logger = logging.getLogger(__name__)

MARGIN = timedelta(days=7)
"""How far beyond the window messages are read first; farther only where a customer needs it."""

Rows = list[tuple[datetime, bool]]


def _grouped(
    conn: Connection,
    rep_id: int,
    low: datetime,
    high: datetime,
    customer_ids: set[int] | None = None,
) -> dict[int, Rows]:
    return dict(kpi_queries.turn_messages_by_customer(conn, rep_id, low, high, customer_ids))


def _open_ends(
    conn: Connection,
    rep_id: int,
    rows: dict[int, Rows],
    low: datetime,
    high: datetime,
    gap: timedelta,
) -> set[int]:
    """The customers of ``rows`` with a message within ``gap`` outside ``[low, high)``."""
    near_low = {c for c, found in rows.items() if found[0][0] - low <= gap}
    near_high = {c for c, found in rows.items() if high - found[-1][0] <= gap}
    before = kpi_queries.customers_with_turn_messages(conn, rep_id, low - gap, low, near_low)
    after = kpi_queries.customers_with_turn_messages(conn, rep_id, high, high + gap, near_high)
    return before | after


def conversation_messages(
    conn: Connection, rep_id: int, start: datetime, end: datetime, gap: timedelta
) -> dict[int, Rows]:
    """Per customer with a turn message in ``[start, end)``: every turn message of the
    conversations that touch the window, whole.

    Args:
        conn: an open connection.
        rep_id: the rep.
        start: the window's first instant.
        end: the first instant after the window.
        gap: the longest gap inside a conversation (24 hours in the KPI model).

    Returns:
        ``[(timestamp, is_inbound), ...]`` in time order, per customer id; the first and
        last message of each list are more than ``gap`` away from any message not in it.
    """
    margin = MARGIN
    low, high = start - margin, end + margin
    rows = {
        customer_id: found
        for customer_id, found in _grouped(conn, rep_id, low, high).items()
        if any(start <= timestamp < end for timestamp, _ in found)
    }
    unsure = _open_ends(conn, rep_id, rows, low, high, gap)
    rounds = 0
    while unsure:
        rounds += 1
        margin *= 4
        low, high = start - margin, end + margin
        again = _grouped(conn, rep_id, low, high, unsure)
        rows.update(again)
        unsure = _open_ends(conn, rep_id, again, low, high, gap)
    logger.debug(
        "conversation messages read rep_id=%s customers=%d extra_rounds=%d",
        rep_id,
        len(rows),
        rounds,
    )
    return rows
