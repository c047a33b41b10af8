"""A local stand-in for the Telegram Bot API, served by aiohttp.

It answers the methods kpibot calls (``getMe``, ``getUpdates``, ``sendMessage``,
``editMessageText``, ``editMessageReplyMarkup``, ``answerCallbackQuery``, ``sendPhoto``,
``setWebhook``, ``deleteWebhook``, ``setMyCommands`` …), records every call with its
parameters, and serves ``getUpdates`` from a queue the caller feeds with
:meth:`FakeTelegramApi.send_text` and :meth:`FakeTelegramApi.press`. It can be told to
answer a method with 429 ``retry_after`` or a 5xx status a number of times.

The tests point python-telegram-bot at it with ``base_url``; so does ``kpibot console``,
which is how a person can use the real handlers without a Telegram account.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

logger = logging.getLogger(__name__)

BOT_ID = 7000000001
_STRUCTURED = ("reply_markup", "entities", "commands", "allowed_updates", "link_preview_options")


def _uploaded(value: Any) -> bytes:
    """The bytes of an uploaded file field (a photo)."""
    if isinstance(value, bytes | bytearray):
        return bytes(value)
    return bytes(value.file.read())


@dataclass(frozen=True)
class ApiCall:
    """One request the bot made: the method and its parameters (JSON values decoded)."""

    method: str
    params: dict[str, Any]


@dataclass
class _Failure:
    status: int
    times: int
    retry_after: int | None = None


@dataclass
class _Chat:
    id: int
    type: str
    title: str | None = None


@dataclass
class FakeTelegramApi:
    """A fake Bot API server on 127.0.0.1.

    Attributes:
        bot_username: what ``getMe`` answers.
        calls: every request received, in order (``getUpdates`` included).
    """

    bot_username: str = "kpibot_test_bot"
    calls: list[ApiCall] = field(default_factory=list)
    _updates: deque[dict[str, Any]] = field(default_factory=deque)
    _update_ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _message_ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _failures: dict[str, list[_Failure]] = field(default_factory=dict)
    _messages: dict[tuple[int, int], dict[str, Any]] = field(default_factory=dict)
    _arrived: asyncio.Event = field(default_factory=asyncio.Event)
    _called: asyncio.Condition = field(default_factory=asyncio.Condition)
    _runner: web.AppRunner | None = None
    port: int = 0

    # --- lifecycle ------------------------------------------------------------------------

    async def start(self) -> str:
        """Start listening on a free port; returns the ``base_url`` for the bot."""
        app = web.Application()
        app.router.add_route("*", "/bot{token}/{method}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = self._runner.addresses[0][1]
        logger.debug("fake telegram api listening port=%s", self.port)
        return self.base_url

    async def stop(self) -> None:
        """Stop listening."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    @property
    def base_url(self) -> str:
        """The root URL, as ``TELEGRAM_API_BASE_URL`` takes it."""
        return f"http://127.0.0.1:{self.port}"

    # --- feeding updates ------------------------------------------------------------------

    def send_text(
        self,
        user_id: int,
        text: str,
        *,
        chat_id: int | None = None,
        chat_type: str = "private",
        first_name: str = "Test",
        language_code: str | None = "en",
    ) -> dict[str, Any]:
        """Queue a message from a user, as Telegram would deliver it; returns the update.

        A text starting with ``/`` carries the ``bot_command`` entity Telegram adds.
        """
        chat = _Chat(chat_id if chat_id is not None else user_id, chat_type, None)
        message: dict[str, Any] = {
            "message_id": next(self._message_ids),
            "date": int(time.time()),
            "chat": self._chat_dict(chat, first_name),
            "from": self._user(user_id, first_name, language_code),
            "text": text,
        }
        if text.startswith("/"):
            command = text.split()[0]
            message["entities"] = [{"type": "bot_command", "offset": 0, "length": len(command)}]
        return self._queue({"message": message})

    def press(
        self,
        user_id: int,
        message: dict[str, Any],
        data: str,
        *,
        language_code: str | None = "en",
    ) -> dict[str, Any]:
        """Queue a press on an inline button of a message the bot sent; returns the update."""
        query = {
            "id": str(next(self._update_ids) * 1000),
            "from": self._user(user_id, "Test", language_code),
            "chat_instance": "1",
            "message": message,
            "data": data,
        }
        return self._queue({"callback_query": query})

    def _queue(self, body: dict[str, Any]) -> dict[str, Any]:
        update = {"update_id": next(self._update_ids), **body}
        self._updates.append(update)
        self._arrived.set()
        return update

    # --- failures ---------------------------------------------------------------------------

    def fail(
        self, method: str, status: int = 429, *, times: int = 1, retry_after: int = 1
    ) -> None:
        """Answer the next ``times`` calls of ``method`` with ``status`` (429: ``retry_after``)."""
        failure = _Failure(status, times, retry_after if status == 429 else None)
        self._failures.setdefault(method, []).append(failure)

    # --- reading what the bot did -----------------------------------------------------------

    def calls_to(self, method: str) -> list[ApiCall]:
        """The calls of one method, in order."""
        return [call for call in self.calls if call.method == method]

    def sent(self, chat_id: int | None = None) -> list[dict[str, Any]]:
        """The parameters of every ``sendMessage`` (to ``chat_id`` when given)."""
        return [
            call.params
            for call in self.calls_to("sendMessage")
            if chat_id is None or int(call.params["chat_id"]) == chat_id
        ]

    def latest_message(self, chat_id: int) -> dict[str, Any]:
        """The last message the bot sent to a chat, as it stands after edits."""
        newest = max(mid for (cid, mid) in self._messages if cid == chat_id)
        return self._messages[(chat_id, newest)]

    def message(self, chat_id: int, message_id: int) -> dict[str, Any]:
        """A message the bot sent, as it stands after edits."""
        return self._messages[(chat_id, message_id)]

    async def wait_for_calls(self, count: int) -> None:
        """Wait until at least ``count`` calls other than ``getUpdates`` have arrived."""

        def enough() -> bool:
            return sum(1 for call in self.calls if call.method != "getUpdates") >= count

        async with self._called:
            await self._called.wait_for(enough)

    # --- the server -------------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        params = await self._params(request)
        if method != "getUpdates":
            async with self._called:
                self.calls.append(ApiCall(method, params))
                self._called.notify_all()
        else:
            self.calls.append(ApiCall(method, params))

        failures = self._failures.get(method)
        if failures:
            failure = failures[0]
            failure.times -= 1
            if failure.times <= 0:
                failures.pop(0)
            return self._error(failure)

        if method == "getUpdates":
            return self._ok(await self._get_updates(params))
        answer = getattr(self, "_api_" + method, None)
        result = answer(params) if answer else True
        return self._ok(result)

    async def _params(self, request: web.Request) -> dict[str, Any]:
        if request.content_type == "application/json":
            raw: dict[str, Any] = await request.json()
        else:
            form = await request.post()
            raw = {
                key: value if isinstance(value, str) else _uploaded(value)
                for key, value in form.items()
            }
        params: dict[str, Any] = {}
        for key, value in raw.items():
            if key in _STRUCTURED and isinstance(value, str):
                value = json.loads(value)
            params[key] = value
        return params

    @staticmethod
    def _ok(result: Any) -> web.Response:
        return web.json_response({"ok": True, "result": result})

    @staticmethod
    def _error(failure: _Failure) -> web.Response:
        body: dict[str, Any] = {"ok": False, "error_code": failure.status}
        if failure.retry_after is not None:
            body["description"] = f"Too Many Requests: retry after {failure.retry_after}"
            body["parameters"] = {"retry_after": failure.retry_after}
        else:
            body["description"] = "Internal Server Error"
        return web.json_response(body, status=failure.status)

    async def _get_updates(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        offset = int(params.get("offset") or 0)
        while self._updates and self._updates[0]["update_id"] < offset:
            self._updates.popleft()
        if not self._updates:
            self._arrived.clear()
            timeout = min(float(params.get("timeout") or 0), 1.0)
            try:
                await asyncio.wait_for(self._arrived.wait(), timeout)
            except TimeoutError:
                return []
        limit = int(params.get("limit") or 100)
        return [u for u in self._updates if u["update_id"] >= offset][:limit]

    def _user(self, user_id: int, first_name: str, language_code: str | None) -> dict[str, Any]:
        user: dict[str, Any] = {"id": user_id, "is_bot": False, "first_name": first_name}
        if language_code:
            user["language_code"] = language_code
        return user

    def _bot(self) -> dict[str, Any]:
        return {
            "id": BOT_ID,
            "is_bot": True,
            "first_name": "kpibot",
            "username": self.bot_username,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
        }

    @staticmethod
    def _chat_dict(chat: _Chat, first_name: str = "Test") -> dict[str, Any]:
        if chat.type == "private":
            return {"id": chat.id, "type": "private", "first_name": first_name}
        return {"id": chat.id, "type": chat.type, "title": chat.title or "Team"}

    def _new_message(self, params: dict[str, Any], **content: Any) -> dict[str, Any]:
        chat_id = int(params["chat_id"])
        chat_type = "private" if chat_id > 0 else "group"
        message = {
            "message_id": next(self._message_ids),
            "date": int(time.time()),
            "chat": self._chat_dict(_Chat(chat_id, chat_type)),
            "from": self._bot(),
            **content,
        }
        if "reply_markup" in params:
            message["reply_markup"] = params["reply_markup"]
        self._messages[(chat_id, message["message_id"])] = message
        return message

    # One method per Bot API method kpibot uses; any other is answered with ``true``.

    def _api_getMe(self, _params: dict[str, Any]) -> dict[str, Any]:  # noqa: N802
        return self._bot()

    def _api_sendMessage(self, params: dict[str, Any]) -> dict[str, Any]:  # noqa: N802
        return self._new_message(params, text=params["text"])

    def _api_sendPhoto(self, params: dict[str, Any]) -> dict[str, Any]:  # noqa: N802
        photo = [{"file_id": "photo-1", "file_unique_id": "p1", "width": 800, "height": 600}]
        content: dict[str, Any] = {"photo": photo}
        if "caption" in params:
            content["caption"] = params["caption"]
        return self._new_message(params, **content)

    def _edited(self, params: dict[str, Any], **changes: Any) -> dict[str, Any] | bool:
        key = (int(params.get("chat_id") or 0), int(params.get("message_id") or 0))
        message = self._messages.get(key)
        if message is None:
            return True
        message.update(changes)
        if "reply_markup" in params:
            message["reply_markup"] = params["reply_markup"]
        else:
            message.pop("reply_markup", None)
        return message

    def _api_editMessageText(self, params: dict[str, Any]) -> dict[str, Any] | bool:  # noqa: N802
        return self._edited(params, text=params["text"], edit_date=int(time.time()))

    def _api_editMessageReplyMarkup(  # noqa: N802
        self, params: dict[str, Any]
    ) -> dict[str, Any] | bool:
        return self._edited(params, edit_date=int(time.time()))

    def _api_getMyCommands(self, _params: dict[str, Any]) -> list[Any]:  # noqa: N802
        return []

    def _api_getWebhookInfo(self, _params: dict[str, Any]) -> dict[str, Any]:  # noqa: N802
        return {"url": "", "has_custom_certificate": False, "pending_update_count": 0}
