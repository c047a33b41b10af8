"""``kpibot demo``: the system end to end on a fresh SQLite store, with no account anywhere.

It starts the real webhook server on a free loopback port, registers a simulated team,
posts the simulator's signed deliveries through the endpoint exactly as Meta would,
lets the normaliser read them from the inbox, and prints what the store now holds.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import socket
import time
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import click
from aiohttp import web
from sqlalchemy import Engine

from bot.simulate import Delivery, TrafficSimulator
from bot.web.server import NORMALISER_KEY, create_app
from bot.web.whatsapp import SIGNATURE_HEADER, WebhookConfig, signature_for
from storage import inbox, migrate
from storage.db import create_db_engine, session_factory, session_scope
from storage.reps import add_rep
from storage.summary import traffic_by_rep

logger = logging.getLogger(__name__)

CONCURRENCY = 8


@dataclass(frozen=True)
class DemoOptions:
    """What ``kpibot demo`` was asked for."""

    reps: int
    days: int
    customers: int
    seed: int
    db_path: Path


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def _post_all(port: int, deliveries: list[Delivery], app_secret: bytes) -> int:
    """POST every delivery, signed; return how many were acknowledged with 200."""
    url = f"http://127.0.0.1:{port}/webhooks/whatsapp"
    pending = iter(deliveries)
    acknowledged = 0

    with click.progressbar(length=len(deliveries), label="Posting webhooks") as bar:

        async def worker(session: aiohttp.ClientSession) -> None:
            nonlocal acknowledged
            for delivery in pending:
                headers = {
                    SIGNATURE_HEADER: signature_for(delivery.body, app_secret),
                    "Content-Type": "application/json",
                }
                async with session.post(url, data=delivery.body, headers=headers) as response:
                    await response.read()
                    if response.status == 200:
                        acknowledged += 1
                    else:
                        logger.warning("demo delivery refused status=%d", response.status)
                bar.update(1)

        async with aiohttp.ClientSession() as session:
            await asyncio.gather(*(worker(session) for _ in range(CONCURRENCY)))
    return acknowledged


async def run_demo(options: DemoOptions) -> None:
    """Run the demo and print its tour."""
    started = time.perf_counter()

    # 1. A fresh store at the newest schema.
    engine = create_db_engine(f"sqlite:///{options.db_path}")
    migrate.upgrade(engine)

    # 2. The simulated team, registered as an operator would with `kpibot rep add`.
    simulator = TrafficSimulator(
        reps=options.reps,
        customers_per_rep=options.customers,
        days=options.days,
        seed=options.seed,
    )
    with session_scope(session_factory(engine)) as session:
        for rep in simulator.team():
            add_rep(
                session,
                rep.name,
                [rep.phone_number_id],
                display_number=rep.display_number,
                team="Demo team",
            )
    deliveries = list(simulator.deliveries())

    # 3. The real server, with a one-off app secret to sign with.
    app_secret = secrets.token_hex(16).encode()
    config = WebhookConfig(
        app_secret=app_secret, verify_token="demo", max_body_bytes=3 * 1024 * 1024
    )
    app = create_app(engine, config)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    port = _free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    click.echo(f"Webhook server listening on http://127.0.0.1:{port}/webhooks/whatsapp")

    # 4. Meta's deliveries, then the normaliser reads them from the inbox.
    try:
        acknowledged = await _post_all(port, deliveries, app_secret)
        await app[NORMALISER_KEY].drain()
    finally:
        await runner.cleanup()

    counts = inbox.counts(engine)
    click.echo(
        f"{acknowledged} of {len(deliveries)} deliveries acknowledged; inbox: "
        f"{counts.get(inbox.PROCESSED, 0)} processed, {counts.get(inbox.FAILED, 0)} failed."
    )
    _print_traffic(engine)
    engine.dispose()

    click.echo(f"\nDone in {time.perf_counter() - started:.1f} s. The store is {options.db_path}")
    click.echo(f"Look around:  kpibot --database-url sqlite:///{options.db_path} rep list")
    click.echo("Real use:     see the README, 'Connect a WhatsApp number'.")


def _print_traffic(engine: Engine) -> None:
    with session_scope(session_factory(engine)) as session:
        rows = traffic_by_rep(session)
    click.echo(
        f"\n{'rep':<10}{'customers':>10}{'inbound':>9}{'outbound':>10}{'read':>7}"
        f"{'templates':>11}{'documents':>11}"
    )
    for row in rows:
        click.echo(
            f"{row.rep:<10}{row.customers:>10}{row.inbound:>9}{row.outbound:>10}"
            f"{row.outbound_read:>7}{row.templates:>11}{row.documents:>11}"
        )
