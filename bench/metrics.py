"""Benchmark of the KPI engine on a generated store of 1,000,000 messages.

50 reps, 20,000 customers and 1,000,000 messages over six months are written with bulk
Core inserts into a SQLite file (kept between runs; ``--db`` to choose where). Then, in
rounds, it times the week's KPIs for every rep and for one rep next to a floor measured
in the same round (one bare sqlite3 read of the rows those KPIs look at), and prints
the medians and the ratio to the floor; then the plain reference implementation of
``tests/metrics/reference.py`` on one rep's data, and peak memory. Not a test: run
``python bench/metrics.py``.
"""

from __future__ import annotations

import argparse
import logging
import random
import resource
import sqlite3
import statistics
import sys
import time
import tracemalloc
from contextlib import closing
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, func, insert, select

# Run as a script from anywhere: the project root holds bot/, storage/ and tests/.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.content_keys import message_content_key
from bot.metrics import compute, compute_team
from bot.metrics.periods import period_containing
from bot.metrics.settings import TeamSettings
from bot.quotes import is_quote_content
from storage import migrate
from storage.db import create_db_engine
from storage.kpi_queries import reps
from storage.models import (
    BusinessNumber,
    Customer,
    CustomerEvent,
    CustomerTag,
    Deal,
    Message,
    Rep,
)
from tests.metrics import reference

logger = logging.getLogger(__name__)

REPS = 50
CUSTOMERS = 20_000
MESSAGES = 1_000_000
START = datetime(2025, 1, 6, tzinfo=UTC)
SPAN = timedelta(days=182)
AT = START + timedelta(days=170, hours=15)
TEXTS = (
    "hello",
    "hi, are you there?",
    "what is the price for 500 pcs?",
    "ok thanks",
    "can you send the catalogue",
    "how much FOB Ningbo?",
    "we will check",
    "sample please",
    "Our new catalogue 2025 is out!",
    "good morning",
    "MOQ?",
    "appreciate it",
)


def _table(model: object) -> Any:
    return model.__table__  # type: ignore[attr-defined]


def generate(engine: Engine, seed: int = 7) -> None:
    """Fill an empty, migrated store with the benchmark's data."""
    rng = random.Random(seed)
    started = time.perf_counter()
    with engine.begin() as conn:
        conn.execute(
            insert(_table(Rep)),
            [
                {
                    "id": r,
                    "name": f"rep{r:02d}",
                    "role": "rep",
                    "seniority": "standard",
                    "active": True,
                    "created_at": START,
                }
                for r in range(1, REPS + 1)
            ],
        )
        conn.execute(
            insert(_table(BusinessNumber)),
            [
                {
                    "id": r,
                    "phone_number_id": f"pn{r}",
                    "waba_id": f"waba{r}",
                    "rep_id": r,
                    "first_seen_at": START,
                }
                for r in range(1, REPS + 1)
            ],
        )
        conn.execute(
            insert(_table(Customer)),
            [
                {"id": c, "wa_id": f"86138{c:08d}", "created_at": START, "updated_at": START}
                for c in range(1, CUSTOMERS + 1)
            ],
        )
        _messages(conn, rng)
        _records(conn, rng)
    logger.warning("generated in %.1f s", time.perf_counter() - started)


def _messages(conn: object, rng: random.Random) -> None:
    per_customer = MESSAGES // CUSTOMERS
    batch: list[dict[str, object]] = []
    message_id = 0
    for customer in range(1, CUSTOMERS + 1):
        rep = (customer - 1) % REPS + 1
        when = START + timedelta(seconds=rng.randrange(int(SPAN.total_seconds() * 0.9)))
        inbound = rng.random() < 0.3
        for _ in range(per_customer):
            message_id += 1
            # Mostly a chat (minutes to hours apart), now and then days of silence.
            gap = rng.expovariate(1 / 1800) if rng.random() < 0.85 else rng.uniform(1, 6) * 86400
            when += timedelta(seconds=gap)
            inbound = not inbound if rng.random() < 0.7 else inbound
            status = None if inbound else rng.choice(("sent", "delivered", "read", "read"))
            text = rng.choice(TEXTS)
            direction = "inbound" if inbound else "outbound"
            batch.append(
                {
                    "id": message_id,
                    "wamid": f"wamid.{message_id}",
                    "business_number_id": rep,
                    "rep_id": rep,
                    "customer_id": customer,
                    "direction": direction,
                    "type": "text",
                    "source": "webhook",
                    "timestamp": when,
                    "text": text,
                    # What storage.ingest stores for a message it takes in.
                    "quote_request": is_quote_content(direction, "text", text, None, None),
                    "content_key": message_content_key(direction, text, None, None),
                    "is_template": False,
                    "is_automated": not inbound and rng.random() < 0.05,
                    "status": status,
                    "read_at": when + timedelta(minutes=5) if status == "read" else None,
                    "forwarded": False,
                    "created_at": when,
                    "updated_at": when,
                }
            )
            if len(batch) >= 50_000:
                conn.execute(insert(_table(Message)), batch)  # type: ignore[attr-defined]
                batch.clear()
    if batch:
        conn.execute(insert(_table(Message)), batch)  # type: ignore[attr-defined]


def _records(conn: object, rng: random.Random) -> None:
    def moment() -> datetime:
        return START + timedelta(seconds=rng.randrange(int(SPAN.total_seconds())))

    def owner(customer: int) -> int:
        return (customer - 1) % REPS + 1

    customers = [rng.randrange(1, CUSTOMERS + 1) for _ in range(6000)]
    conn.execute(  # type: ignore[attr-defined]
        insert(_table(CustomerTag)),
        [
            {
                "customer_id": c,
                "rep_id": owner(c),
                "tag": "high-intent",
                "tagged_at": moment(),
                "source": "bot",
            }
            for c in customers[:2000]
        ],
    )
    conn.execute(  # type: ignore[attr-defined]
        insert(_table(CustomerEvent)),
        [
            {
                "customer_id": c,
                "rep_id": owner(c),
                "kind": rng.choice(("quote", "sample")),
                "occurred_at": moment(),
                "source": "bot",
                "created_at": START,
            }
            for c in customers[2000:4000]
        ],
    )
    conn.execute(  # type: ignore[attr-defined]
        insert(_table(Deal)),
        [
            {
                "customer_id": c,
                "rep_id": owner(c),
                "amount": Decimal(rng.randrange(100, 90000)),
                "currency": "USD",
                "margin": rng.choice((None, 0.08, 0.15, 0.3)),
                "closed_at": moment(),
                "source": "bot",
                "created_at": START,
            }
            for c in customers[4000:]
        ],
    )


def _timed(run: object) -> float:
    started = time.perf_counter()
    run()  # type: ignore[operator]
    return time.perf_counter() - started


def _read_floor(path: Path) -> None:
    """Read once, with the bare sqlite3 module, the rows a week's KPIs look at.

    Every rep's messages of the 31 days before the evaluation time (the reach and quote
    rate window, the broadcast window before it), four narrow columns, into tuples: what
    any computation of these KPIs pays at least, on this machine, at this moment.
    """
    settings = TeamSettings()
    period = period_containing("week", AT, settings.timezone)
    end = period.as_of(AT)
    start = end - timedelta(days=31)
    with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as conn:
        for rep_id in range(1, REPS + 1):
            conn.execute(
                "SELECT customer_id, timestamp, direction, content_key FROM message"
                " WHERE rep_id = ? AND timestamp >= ? AND timestamp < ?",
                (rep_id, _stored(start), _stored(end)),
            ).fetchall()


def _stored(moment: datetime) -> str:
    """A UTC instant as the store keeps it in SQLite."""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def _reference_one_rep(engine: Engine, rep_id: int, settings: TeamSettings) -> float:
    """Load one rep's rows into plain Python and run the reference definitions."""
    period = period_containing("week", AT, settings.timezone)
    started = time.perf_counter()
    m = _table(Message).c
    with engine.connect() as conn:
        rows = conn.execute(
            select(
                m.customer_id,
                m.timestamp,
                m.direction,
                m.type,
                m.text,
                m.filename,
                m.is_template,
                m.template_category,
                m.is_automated,
                m.status,
                m.read_at,
            ).where(m.rep_id == rep_id, m.timestamp < period.end)
        ).all()
        deals = conn.execute(select(_table(Deal)).where(_table(Deal).c.rep_id == rep_id)).all()
    events = reference.Events(
        messages=[
            reference.Msg(
                r.customer_id,
                r.timestamp,
                r.direction == "inbound",
                r.type,
                r.text,
                r.filename,
                r.template_category if r.is_template else None,
                r.is_automated,
                r.read_at,
                r.status == "read" and r.read_at is None,
            )
            for r in rows
        ],
        records=[
            reference.Record(
                "deal", d.customer_id, d.closed_at, d.amount, d.margin, d.referred_by_customer_id
            )
            for d in deals
        ],
    )
    reference.compute(events, period.start, period.end, AT)
    return time.perf_counter() - started


def main() -> None:
    """Generate the data set if needed, then time the engine, the floor and the reference."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", default="/tmp/kpibot-bench-metrics.db", help="SQLite file")
    parser.add_argument("--rounds", type=int, default=5, help="measuring rounds")
    parser.add_argument("--skip-reference", action="store_true")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(message)s")

    path = Path(args.db)
    engine = create_db_engine(f"sqlite:///{path}")
    migrate.upgrade(engine)
    with engine.connect() as conn:
        stored = conn.execute(select(func.count()).select_from(_table(Message))).scalar_one()
    if stored == 0:
        generate(engine)
    settings = TeamSettings()
    with engine.connect() as conn:
        one_rep = reps(conn)[0]
    print(f"messages: {stored or MESSAGES:,}; reps: {REPS}; customers: {CUSTOMERS:,}")

    # Warm the page cache and the statement caches, then alternate the three in rounds:
    # machine noise hits each round's figures alike, so the ratios are steadier.
    compute_team(engine, "week", AT, settings)
    _read_floor(path)
    floors, teams, singles = [], [], []
    for _ in range(args.rounds):
        floors.append(_timed(lambda: _read_floor(path)))
        teams.append(_timed(lambda: compute_team(engine, "week", AT, settings)))
        singles.append(_timed(lambda: compute(engine, one_rep, "week", AT, settings)))
    team = statistics.median(teams)
    single = statistics.median(singles)
    floor = statistics.median(floors)
    ratios = [t / f for t, f in zip(teams, floors, strict=True)]
    print(f"medians of {args.rounds} rounds (each round: floor, all reps, one rep):")
    print(f"engine, all reps, week:  {team * 1000:8.1f} ms  (target < 2000 ms; rounds: ", end="")
    print(", ".join(f"{t * 1000:.0f}" for t in teams) + ")")
    print(f"engine, one rep, week:   {single * 1000:8.1f} ms  (target < 100 ms)")
    print(f"floor: one bare read of the 31 days' rows, all reps: {floor * 1000:.1f} ms")
    print(f"ratio all reps / floor:  {statistics.median(ratios):8.1f}x (median of the rounds')")

    tracemalloc.start()
    compute_team(engine, "week", AT, settings)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(f"peak Python memory of one all-reps run (tracemalloc): {peak / 2**20:.1f} MiB")

    if not args.skip_reference:
        baseline = _reference_one_rep(engine, one_rep.id, settings)
        print(f"reference, one rep, week (1 run): {baseline * 1000:8.1f} ms")
        print(f"ratio reference / engine, one rep: {baseline / single:6.1f}x")
    peak_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak resident memory of the process: {peak_rss:.0f} MiB")


if __name__ == "__main__":
    main()
