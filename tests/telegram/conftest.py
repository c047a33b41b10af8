"""A running kpibot bot against the fake Bot API, on every storage backend.

:class:`BotUnderTest` feeds updates through the real PTB ``Application`` (``process_update``)
whose bot talks HTTP to :class:`~bot.telegram.fake_api.FakeTelegramApi`; what the bot
sent is read back from the fake's recorded calls.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import pytest
from sqlalchemy import Engine
from telegram import Update
from telegram.ext import Application

from bot import domain
from bot.config import Settings, load_settings
from bot.handlers.base import Deps
from bot.metrics.settings import TeamSettings
from bot.render import Renderer
from bot.telegram.application import build_application, prepare
from bot.telegram.fake_api import ApiCall, FakeTelegramApi
from storage.db import session_factory, session_scope
from storage.ingest import apply_events
from storage.records import apply_record
from storage.reps import add_rep
from tests.helpers import CUSTOMER_WA_ID, NUMBER, at, message_event, status_event

NOW = at(2 * 86400)  # Tuesday 2025-06-17 23:06 in Shanghai
ALICE_ID, BOB_ID, MANAGER_ID, STRANGER_ID = 1001, 1002, 1003, 1999
BOB_NUMBER = domain.BusinessNumber(
    phone_number_id="200000000000002", display_number="15550000002", waba_id="1"
)
BOB_CUSTOMER = domain.CustomerRef(wa_id="8613900001111", name="Li Na")
SECOND_WANG = domain.CustomerRef(wa_id="8613700005678", name="Wang Fang")


@pytest.fixture(autouse=True)
def _timedelta_retry_after(monkeypatch: pytest.MonkeyPatch) -> None:
    # PTB 22 warns on reading retry_after as int; opting in to timedelta is its fix.
    monkeypatch.setenv("PTB_TIMEDELTA", "true")


class BotUnderTest:
    """The bot, the fake API and helpers to talk to it as a Telegram user."""

    def __init__(self, api: FakeTelegramApi, app: Application, deps: Deps) -> None:  # type: ignore[type-arg]
        self.api = api
        self.app = app
        self.deps = deps

    async def feed(self, update: dict[str, Any]) -> list[ApiCall]:
        before = len(self.api.calls)
        await self.app.process_update(Update.de_json(update, self.app.bot))
        return [c for c in self.api.calls[before:] if c.method != "answerCallbackQuery"]

    async def send(self, user_id: int, text: str, **kwargs: Any) -> list[ApiCall]:
        """Send ``text`` as the user; the calls the bot made in answer."""
        return await self.feed(self.api.send_text(user_id, text, **kwargs))

    async def texts(self, user_id: int, text: str, **kwargs: Any) -> list[str]:
        """Send ``text``; the texts the bot sent or edited in answer."""
        return [c.params["text"] for c in await self.send(user_id, text, **kwargs)]

    async def press(self, user_id: int, call: ApiCall, data: str, **kwargs: Any) -> list[ApiCall]:
        """Press the button with callback ``data`` under the message ``call`` sent."""
        buttons = [
            b["callback_data"]
            for row in call.params["reply_markup"]["inline_keyboard"]
            for b in row
        ]
        assert data in buttons, buttons
        chat_id = int(call.params["chat_id"])
        message = dict(self.api.latest_message(chat_id))
        return await self.feed(self.api.press(user_id, message, data, **kwargs))


def buttons_of(call: ApiCall) -> list[tuple[str, str]]:
    """The (label, data) of every inline button of a sent message."""
    markup = call.params.get("reply_markup") or {"inline_keyboard": []}
    return [(b["text"], b["callback_data"]) for row in markup["inline_keyboard"] for b in row]


def bot_settings(api: FakeTelegramApi) -> Settings:
    """Settings pointing the bot at the fake API."""
    return load_settings(telegram_bot_token="123456:TEST", telegram_api_base_url=api.base_url)


@pytest.fixture
async def api() -> AsyncIterator[FakeTelegramApi]:
    """A started fake Bot API."""
    fake = FakeTelegramApi()
    await fake.start()
    yield fake
    await fake.stop()


def make_deps(engine: Engine, now: datetime = NOW) -> Deps:
    """Handler dependencies with a fixed clock."""
    settings = TeamSettings()
    return Deps(
        engine=engine,
        renderer=Renderer(settings.timezone),
        team_settings=settings,
        clock=lambda: now,
    )


@pytest.fixture
async def bot(engine: Engine, api: FakeTelegramApi) -> AsyncIterator[BotUnderTest]:
    """The initialised bot on the test store, talking to the fake API."""
    deps = make_deps(engine)
    app = build_application(bot_settings(api), deps)
    await app.initialize()
    await prepare(app, deps)
    yield BotUnderTest(api, app, deps)
    await app.shutdown()


def seed(engine: Engine, *, link: bool = True) -> None:
    """A team of two reps and a manager, linked to Telegram users, and their customers.

    Alice talks to Wang Wei (+86 138****5678) and Wang Fang (+86 137****5678); Bob talks
    to Li Na. Wang Wei was reached: a personalised, read message on contact start.
    """
    factory = session_factory(engine)
    with session_scope(factory) as session:
        alice, _ = add_rep(session, "Alice", [NUMBER.phone_number_id], team="Export")
        bob, _ = add_rep(session, "Bob", [BOB_NUMBER.phone_number_id], team="Export")
        boss, _ = add_rep(session, "Mia", [], team="Export", role="manager")
        if link:
            alice.telegram_user_id, bob.telegram_user_id = ALICE_ID, BOB_ID
            boss.telegram_user_id = MANAGER_ID
        out = domain.Direction.OUTBOUND
        apply_events(
            session,
            [
                message_event("wamid.a1", offset=86400),
                message_event(
                    "wamid.a2",
                    offset=86400 + 600,
                    direction=out,
                    content=domain.MessageContent(type="text", text="Hi Wang, FOB Ningbo?"),
                ),
                status_event("wamid.a2", domain.DeliveryStatus.READ, offset=86400 + 900),
                message_event("wamid.a3", offset=86400 + 3600),
                message_event("wamid.f1", offset=90000, customer=SECOND_WANG),
                message_event("wamid.b1", offset=86400, number=BOB_NUMBER, customer=BOB_CUSTOMER),
            ],
        )
    assert CUSTOMER_WA_ID == "8613812345678"


def record(engine: Engine, rec: domain.Record) -> None:
    """Store one record."""
    with session_scope(session_factory(engine)) as session:
        apply_record(session, rec)
