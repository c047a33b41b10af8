"""Benchmark: webhook ingestion throughput and time-to-200, against a bare aiohttp handler.

Starts the real kpibot webhook server (durable SQLite inbox, normaliser running) in its
own process, sends signed, realistic deliveries from the simulator over loopback at a
fixed concurrency, and does the same against a bare aiohttp handler that answers 200
without doing anything, in the same run. Rounds alternate between the two so that
machine noise hits both; the figures printed are medians over the rounds, with the
ratio kpibot / bare. At the end it counts the inbox rows, proving every acknowledged
delivery is in the store.

    python bench/ingest.py [--deliveries 4000] [--concurrency 32] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import socket
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import aiohttp
from aiohttp import web

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.simulate import TrafficSimulator
from bot.web.whatsapp import SIGNATURE_HEADER, WebhookConfig, signature_for

APP_SECRET = b"bench-app-secret"


@dataclass
class RoundResult:
    """One load run against one server."""

    acknowledged: int
    seconds: float
    latencies_ms: list[float]
    catch_up_seconds: float = 0.0

    @property
    def per_second(self) -> float:
        """Acknowledged deliveries per second."""
        return self.acknowledged / self.seconds

    def percentile(self, q: float) -> float:
        """The q-th percentile (0..100) of time-to-200, in milliseconds."""
        ordered = sorted(self.latencies_ms)
        index = min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))
        return ordered[index]


def free_port() -> int:
    """A free TCP port on loopback."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def run_bare(port: int) -> None:
    """A handler that reads the body and answers 200: the ceiling of aiohttp itself."""

    async def ok(request: web.Request) -> web.Response:
        await request.read()
        return web.Response(text="ok\n")

    app = web.Application(client_max_size=4 * 1024 * 1024)
    app.add_routes([web.post("/webhooks/whatsapp", ok), web.get("/healthz", ok)])
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None)


def run_kpibot(port: int, db_path: str) -> None:
    """The real webhook app on a fresh, migrated SQLite store."""
    from bot.web.server import create_app
    from storage import migrate
    from storage.db import create_db_engine

    engine = create_db_engine(f"sqlite:///{db_path}")
    migrate.upgrade(engine)
    config = WebhookConfig(
        app_secret=APP_SECRET, verify_token="bench", max_body_bytes=3 * 1024 * 1024
    )
    app = create_app(engine, config)
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None)


async def wait_ready(port: int) -> None:
    """Poll until the server accepts connections."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            await asyncio.sleep(0.05)
            continue
        writer.close()
        await writer.wait_closed()
        return
    raise SystemExit(f"server on port {port} did not start within 30 s")


async def wait_normalised(port: int) -> float:
    """Seconds until the normaliser has no pending inbox row left (it defers under load)."""
    started = time.perf_counter()
    async with aiohttp.ClientSession() as session:
        while time.perf_counter() - started < 600:
            async with session.get(f"http://127.0.0.1:{port}/healthz") as response:
                health = await response.json()
            if health["inbox"]["pending"] == 0:
                return time.perf_counter() - started
            await asyncio.sleep(0.1)
    raise SystemExit("the normaliser did not catch up within 600 s")


async def load(port: int, bodies: list[bytes], concurrency: int) -> RoundResult:
    """POST every body with ``concurrency`` requests in flight; time each one."""
    url = f"http://127.0.0.1:{port}/webhooks/whatsapp"
    queue = iter(bodies)
    latencies: list[float] = []
    acknowledged = 0

    async def worker(session: aiohttp.ClientSession) -> None:
        nonlocal acknowledged
        for body in queue:
            headers = {
                SIGNATURE_HEADER: signature_for(body, APP_SECRET),
                "Content-Type": "application/json",
            }
            started = time.perf_counter()
            async with session.post(url, data=body, headers=headers) as response:
                await response.read()
                if response.status == 200:
                    acknowledged += 1
            latencies.append((time.perf_counter() - started) * 1000)

    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:
        started = time.perf_counter()
        await asyncio.gather(*(worker(session) for _ in range(concurrency)))
        seconds = time.perf_counter() - started
    return RoundResult(acknowledged, seconds, latencies)


def one_round(target: str, bodies: list[bytes], concurrency: int, db_path: str) -> RoundResult:
    """Start a server process, load it, stop it gracefully."""
    port = free_port()
    args: tuple[object, ...] = (port,) if target == "bare" else (port, db_path)
    server = run_bare if target == "bare" else run_kpibot
    process = multiprocessing.Process(target=server, args=args)
    process.start()
    try:
        asyncio.run(wait_ready(port))
        result = asyncio.run(load(port, bodies, concurrency))
        if target == "kpibot":
            result.catch_up_seconds = asyncio.run(wait_normalised(port))
        return result
    finally:
        # SIGTERM: aiohttp runs the clean-up hooks, so queued bodies are committed.
        process.terminate()
        process.join(30)


def inbox_rows(db_path: str) -> tuple[int, int]:
    """(inbox rows, messages) in a benchmark store."""
    from sqlalchemy import func, select

    from storage.db import create_db_engine
    from storage.models import Message, WebhookInbox

    engine = create_db_engine(f"sqlite:///{db_path}")
    with engine.connect() as conn:
        rows = conn.execute(select(func.count()).select_from(WebhookInbox)).scalar_one()
        messages = conn.execute(select(func.count()).select_from(Message)).scalar_one()
    engine.dispose()
    return int(rows), int(messages)


def make_bodies(count: int) -> tuple[list[bytes], dict[str, int]]:
    """At least ``count`` distinct simulated bodies (mostly statuses) and their kinds."""
    bodies: list[bytes] = []
    kinds: dict[str, int] = {}
    reps = 10
    while len(bodies) < count:
        simulator = TrafficSimulator(reps=reps, customers_per_rep=60, days=14, seed=len(bodies))
        for delivery in simulator.deliveries():
            bodies.append(delivery.body)
            kinds[delivery.kind] = kinds.get(delivery.kind, 0) + 1
            if len(bodies) == count:
                break
    return bodies, kinds


def main() -> None:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deliveries", type=int, default=4000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    bodies, kinds = make_bodies(args.deliveries)
    mix = ", ".join(f"{kind} {n}" for kind, n in sorted(kinds.items()))
    print(
        f"{len(bodies)} deliveries ({mix}), concurrency {args.concurrency}, {args.rounds} rounds"
    )

    bare: list[RoundResult] = []
    kpibot: list[RoundResult] = []
    proofs: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        for round_no in range(args.rounds):
            db_path = str(Path(tmp) / f"round{round_no}.db")
            bare.append(one_round("bare", bodies, args.concurrency, db_path))
            kpibot.append(one_round("kpibot", bodies, args.concurrency, db_path))
            stored, messages = inbox_rows(db_path)
            acked = kpibot[-1].acknowledged
            verdict = "OK" if stored == acked == len(bodies) else "MISMATCH"
            proofs.append(
                f"round {round_no + 1}: acknowledged {acked}, in inbox {stored} [{verdict}]; "
                f"normaliser caught up {kpibot[-1].catch_up_seconds:.1f} s after the load, "
                f"{messages} messages"
            )

    def med(results: list[RoundResult], attr: str, q: float | None = None) -> float:
        values = [r.percentile(q) if q is not None else getattr(r, attr) for r in results]
        return statistics.median(values)

    ratios = [k.per_second / b.per_second for k, b in zip(kpibot, bare, strict=True)]
    print(f"{'server':<22}{'deliveries/s':>14}{'p50 ms':>10}{'p99 ms':>10}")
    for name, results in (("bare aiohttp handler", bare), ("kpibot (SQLite)", kpibot)):
        print(
            f"{name:<22}{med(results, 'per_second'):>14.0f}"
            f"{med(results, '', 50):>10.1f}{med(results, '', 99):>10.1f}"
        )
    print(
        f"throughput ratio kpibot/bare: median {statistics.median(ratios):.2f} "
        f"(rounds: {', '.join(f'{r:.2f}' for r in ratios)})"
    )
    for line in proofs:
        print(line)


if __name__ == "__main__":
    main()
