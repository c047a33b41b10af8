"""Fixtures of the push tests: the fake Bot API, a plain ``Bot`` talking to it, a fake clock."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from telegram import Bot

from bot.push.clock import FakeClock
from bot.telegram.application import api_urls
from bot.telegram.fake_api import FakeTelegramApi

TOKEN = "123456:TEST"


@pytest.fixture(autouse=True)
def _timedelta_retry_after(monkeypatch: pytest.MonkeyPatch) -> None:
    # PTB 22 warns on reading retry_after as int; opting in to timedelta is its fix.
    monkeypatch.setenv("PTB_TIMEDELTA", "true")


@pytest.fixture
async def api() -> AsyncIterator[FakeTelegramApi]:
    """A started fake Bot API."""
    fake = FakeTelegramApi()
    await fake.start()
    yield fake
    await fake.stop()


async def make_bot(api: FakeTelegramApi) -> Bot:
    """An initialised ``Bot`` (no rate limiter: the outbox handles 429) on the fake API."""
    base_url, base_file_url = api_urls(api.base_url)
    bot = Bot(TOKEN, base_url=base_url, base_file_url=base_file_url)
    await bot.initialize()
    return bot


@pytest.fixture
async def tg_bot(api: FakeTelegramApi) -> AsyncIterator[Bot]:
    """A plain bot on the fake API."""
    bot = await make_bot(api)
    yield bot
    await bot.shutdown()


@pytest.fixture
def clock() -> FakeClock:
    """A fake clock at Monday 2025-03-03 10:00 in Shanghai."""
    return FakeClock(datetime(2025, 3, 3, 2, 0, tzinfo=UTC))
