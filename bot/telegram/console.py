"""``kpibot console --as NAME``: use the bot in a terminal, as a rep or manager.

The real PTB application, handlers and templates run in-process against
:class:`~bot.telegram.fake_api.FakeTelegramApi` and the local store: each line typed
is delivered as a Telegram message from that person, and the bot's answers are printed
as plain text. Inline buttons are listed as numbered choices; typing the number
presses the button.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, TextIO

from pydantic import SecretStr
from telegram import Update
from telegram.ext import TypeHandler

from bot.config import Settings
from bot.errors import NotFoundError
from bot.handlers.base import Context, Deps
from bot.render import html_to_text
from bot.telegram.application import build_application, prepare
from bot.telegram.fake_api import ApiCall, FakeTelegramApi
from storage import telegram as store
from storage.db import session_scope

logger = logging.getLogger(__name__)

# Telegram user ids of console users: far above any real one, one per rep.
CONSOLE_USER_BASE = 10**12
_DONE_GROUP = 1000


class Console:
    """A terminal conversation with the bot as one rep.

    Args:
        settings: kpibot's settings (the token is replaced by a local one).
        deps: the handlers' dependencies, on the local store.
        name: the rep or manager to act as.
        stdin: where the person types.
        stdout: where the answers go.
    """

    def __init__(
        self, settings: Settings, deps: Deps, name: str, stdin: TextIO, stdout: TextIO
    ) -> None:
        self.settings = settings
        self.deps = deps
        self.name = name
        self.stdin = stdin
        self.stdout = stdout
        self.api = FakeTelegramApi(bot_username="kpibot_console_bot")
        self._done = asyncio.Event()
        self._choices: list[tuple[str, str, dict[str, Any]]] = []

    def _user_id(self) -> int:
        def link(session: Any) -> int:
            rep = store.rep_by_name(session, self.name)
            if rep is None:
                raise NotFoundError(f"no rep called {self.name!r}; `kpibot rep list` shows them")
            if rep.telegram_user_id is not None:
                return rep.telegram_user_id
            user_id = CONSOLE_USER_BASE + rep.id
            now = self.deps.clock()
            code = store.create_invite(session, rep.id, now).code
            store.redeem_invite(session, code, user_id, now)
            return user_id

        with session_scope(self.deps.sessions) as session:
            return link(session)

    async def run(self) -> None:
        """Talk until the input ends or the person types ``/quit``."""
        user_id = await asyncio.to_thread(self._user_id)
        await self.api.start()
        local = self.settings.model_copy(
            update={
                "telegram_bot_token": SecretStr("1:console"),
                "telegram_api_base_url": self.api.base_url,
                "telegram_webhook_url": None,
            }
        )
        application = build_application(local, self.deps)

        async def done(_update: Update, _context: Context) -> None:
            self._done.set()

        application.add_handler(TypeHandler(Update, done), group=_DONE_GROUP)
        await application.initialize()
        await prepare(application, self.deps)
        await application.start()
        assert application.updater is not None
        await application.updater.start_polling(poll_interval=0, timeout=1)
        self._print(
            f"You are {self.name}. Type a command (/help), a number to press a button, or /quit."
        )
        try:
            await self._loop(user_id)
        finally:
            await application.updater.stop()
            await application.stop()
            await application.shutdown()
            await self.api.stop()

    async def _loop(self, user_id: int) -> None:
        while True:
            self.stdout.write("> ")
            self.stdout.flush()
            line = await asyncio.to_thread(self.stdin.readline)
            if not line or line.strip() == "/quit":
                self._print("")
                return
            text = line.strip()
            if not text:
                continue
            before = len(self.api.calls)
            self._done.clear()
            if text.isdigit() and 1 <= int(text) <= len(self._choices):
                _, data, message = self._choices[int(text) - 1]
                self.api.press(user_id, message, data)
            else:
                self.api.send_text(user_id, text, first_name=self.name)
            await self._done.wait()
            self._show(self.api.calls[before:])

    def _show(self, calls: list[ApiCall]) -> None:
        for call in calls:
            if call.method not in ("sendMessage", "editMessageText"):
                continue
            prefix = "(edited) " if call.method == "editMessageText" else ""
            self._print(prefix + html_to_text(call.params["text"]))
            markup = call.params.get("reply_markup")
            if markup:
                chat_id = int(call.params["chat_id"])
                message = dict(self.api.latest_message(chat_id))
                self._choices = [
                    (button["text"], button["callback_data"], message)
                    for row in markup["inline_keyboard"]
                    for button in row
                ]
                for number, (label, _data, _message) in enumerate(self._choices, 1):
                    self._print(f"  [{number}] {label}")
            self._print("")

    def _print(self, text: str) -> None:
        self.stdout.write(text + "\n")
        self.stdout.flush()


async def run_console(
    settings: Settings, deps: Deps, name: str, stdin: TextIO, stdout: TextIO
) -> None:
    """Run a console session as ``name`` on the local store."""
    logger.info("console started")
    await Console(settings, deps, name, stdin, stdout).run()
