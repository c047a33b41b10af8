"""Per-customer breakdowns the KPI engine only counts, for the drill-downs of ``/mystats``.

The engine's query functions (:mod:`storage.kpi_queries`) give most drill-downs what
they need. Where the engine needs a single aggregate, this module groups the same rows
by customer, with the engine's own predicates (:func:`storage.kpi_queries.rep_work`), so
the parts add up to the engine's number.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import Connection, func, select

from storage.kpi_queries import rep_work
from storage.models import Message

logger = logging.getLogger(__name__)

_message = Message.__table__  # type: ignore[attr-defined]


def rep_work_per_customer(
    conn: Connection, rep_id: int, start: datetime, end: datetime
) -> dict[int, int]:
    """How many outbound, non-automated messages the rep sent each customer in
    ``[start, end)``: :func:`storage.kpi_queries.count_rep_work`, per customer.

    Args:
        conn: an open connection.
        rep_id: the rep (only their messages are read).
        start: first instant.
        end: first instant after.

    Returns:
        The message count per customer messaged; the counts add up to
        :func:`~storage.kpi_queries.count_rep_work` for the same bounds.
    """
    m = _message.c
    query = (
        select(m.customer_id, func.count())
        .where(m.rep_id == rep_id, m.timestamp >= start, m.timestamp < end, rep_work())
        .group_by(m.customer_id)
    )
    return {int(customer_id): int(n) for customer_id, n in conn.execute(query)}
