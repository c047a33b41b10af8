"""``kpibot serve`` as a process: it starts, takes a signed webhook into the store, answers
in Telegram, and shuts down cleanly on SIGTERM."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
from asyncio.subprocess import Process
from collections.abc import Awaitable, Callable
from pathlib import Path

import aiohttp
import pytest
from sqlalchemy import select

from bot.telegram.fake_api import FakeTelegramApi
from bot.web.whatsapp import SIGNATURE_HEADER, signature_for
from storage import migrate
from storage.db import create_db_engine, session_factory, session_scope
from storage.models import Message
from storage.reps import add_rep
from tests.conftest import APP_SECRET, VERIFY_TOKEN
from tests.helpers import PHONE_NUMBER_ID, body, inbound_text_payload

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="SIGTERM")

_SERVE = "import sys; from bot.cli import main; sys.argv = ['kpibot', 'serve']; main()"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


_WAIT_SECONDS = 30.0


async def _until(check: Callable[[], Awaitable[bool]], process: Process) -> None:
    """Poll ``check`` until it returns true; fail if the server exits or time runs out."""
    deadline = asyncio.get_running_loop().time() + _WAIT_SECONDS
    while not await check():
        if process.returncode is not None:
            raise AssertionError(f"kpibot serve exited with {process.returncode}")
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("timed out waiting for kpibot serve")
        await asyncio.sleep(0.1)


async def test_serve_takes_a_webhook_answers_in_telegram_and_stops(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'kpibot.db'}"
    engine = create_db_engine(url)
    migrate.upgrade(engine)
    with session_scope(session_factory(engine)) as session:
        add_rep(session, "Lily", [PHONE_NUMBER_ID])
    telegram = FakeTelegramApi()
    await telegram.start()
    port = _free_port()
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "WHATSAPP_APP_SECRET": APP_SECRET.decode(),
        "WHATSAPP_VERIFY_TOKEN": VERIFY_TOKEN,
        "KPIBOT_HTTP_HOST": "127.0.0.1",
        "KPIBOT_HTTP_PORT": str(port),
        "KPIBOT_TEAM_SETTINGS": str(tmp_path / "kpibot.toml"),
        "TELEGRAM_BOT_TOKEN": "123456:TEST",
        "TELEGRAM_API_BASE_URL": telegram.base_url,
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        _SERVE,
        env=env,
        cwd=tmp_path,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        async with aiohttp.ClientSession() as client:

            async def healthy() -> bool:
                try:
                    async with client.get(f"{base}/healthz") as response:
                        return response.status == 200
                except aiohttp.ClientConnectionError:
                    return False

            await _until(healthy, process)

            handshake = {
                "hub.mode": "subscribe",
                "hub.verify_token": VERIFY_TOKEN,
                "hub.challenge": "1158201444",
            }
            async with client.get(f"{base}/webhooks/whatsapp", params=handshake) as response:
                assert (response.status, await response.text()) == (200, "1158201444")

            raw = body(inbound_text_payload("wamid.serve.1", "How much for 500 pcs?"))
            headers = {SIGNATURE_HEADER: signature_for(raw, APP_SECRET)}
            async with client.post(
                f"{base}/webhooks/whatsapp", data=raw, headers=headers
            ) as response:
                assert response.status == 200

            async def normalised() -> bool:
                async with client.get(f"{base}/healthz") as response:
                    return bool((await response.json())["inbox"]["pending"] == 0)

            await _until(normalised, process)

        async def answered() -> bool:
            return bool(telegram.sent(4242))

        telegram.send_text(4242, "/help")
        await _until(answered, process)
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
        _, stderr = await asyncio.wait_for(process.communicate(), timeout=60)
        await telegram.stop()
        # Shown by pytest when the test fails: what the server logged.
        print(stderr.decode()[-4000:])

    assert process.returncode == 0, stderr.decode()[-2000:]
    assert b"stopped" in stderr
    with session_scope(session_factory(engine)) as session:
        wamids = session.execute(select(Message.wamid)).scalars().all()  # type: ignore[call-overload]
    engine.dispose()
    assert wamids == ["wamid.serve.1"]
