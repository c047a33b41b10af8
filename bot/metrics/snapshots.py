"""KPI snapshots: a rep's computed KPIs for a period, stored and replaced on demand.

Digests and leaderboards read snapshots instead of recomputing; ``refresh`` recomputes
a period for every rep and upserts one row per (rep, period kind, period start).
"""

from __future__ import annotations

import logging
import time
from datetime import datetime

from sqlalchemy import Engine, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from bot.metrics.engine import RepKpis, compute_team
from bot.metrics.periods import Period, PeriodKind
from bot.metrics.settings import TeamSettings
from storage.models import KpiSnapshot
from storage.types import utcnow

logger = logging.getLogger(__name__)

_snapshot = KpiSnapshot.__table__  # type: ignore[attr-defined]


def save(engine: Engine, results: list[RepKpis]) -> int:
    """Upsert a snapshot row per result.

    Args:
        engine: the store.
        results: computed KPIs.

    Returns:
        How many rows were written.
    """
    if not results:
        return 0
    insert = pg_insert if engine.dialect.name == "postgresql" else sqlite_insert
    now = utcnow()
    rows = [
        {
            "rep_id": kpis.rep_id,
            "period_kind": kpis.period.kind.value,
            "period_start": kpis.period.start,
            "period_end": kpis.period.end,
            "computed_at": now,
            "evaluated_at": kpis.evaluated_at,
            "score": kpis.score,
            "profile": kpis.profile,
            "red_line": kpis.red_line,
            "values": kpis.to_dict(),
        }
        for kpis in results
    ]
    statement = insert(_snapshot).values(rows)
    replaced = {
        name: statement.excluded[name]
        for name in (
            "period_end",
            "computed_at",
            "evaluated_at",
            "score",
            "profile",
            "red_line",
            "values",
        )
    }
    statement = statement.on_conflict_do_update(
        index_elements=["rep_id", "period_kind", "period_start"], set_=replaced
    )
    with engine.begin() as conn:
        conn.execute(statement)
    return len(rows)


def refresh(
    engine: Engine,
    period: Period | PeriodKind | str,
    at: datetime,
    settings: TeamSettings | None = None,
) -> list[RepKpis]:
    """Recompute a period for every active rep and store the snapshots.

    Args:
        engine: the store.
        period: a period, or a kind whose period containing ``at`` is meant.
        at: the evaluation time (aware).
        settings: the team settings; defaults when None.

    Returns:
        The KPIs computed.
    """
    started = time.perf_counter()
    results = compute_team(engine, period, at, settings)
    written = save(engine, results)
    logger.info(
        "kpi snapshots refreshed rows=%d duration_ms=%.1f",
        written,
        (time.perf_counter() - started) * 1000,
    )
    return results


def load(
    engine: Engine, kind: PeriodKind | str, period_start: datetime
) -> list[dict[str, object]]:
    """The stored snapshots of one period, by score (best first, no score last).

    Args:
        engine: the store.
        kind: day, week or month.
        period_start: the period's first instant (aware).

    Returns:
        Each snapshot's ``values`` with ``computed_at`` added.
    """
    s = _snapshot.c
    query = select(s.values, s.computed_at, s.score).where(
        s.period_kind == PeriodKind(kind).value, s.period_start == period_start
    )
    with engine.connect() as conn:
        rows = list(conn.execute(query))
    rows.sort(key=lambda row: (row.score is None, -(row.score or 0.0)))
    return [{**row.values, "computed_at": row.computed_at.isoformat()} for row in rows]
