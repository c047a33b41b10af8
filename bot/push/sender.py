"""The sender: delivers outbox rows through the Telegram Bot API, each at most once at a
time and, barring a crash in the middle of a call, exactly once.

One row is one Bot API call (``sendMessage`` or ``sendPhoto``). What happens to a row:

- delivered: ``sent``, with Telegram's message id;
- 429 Too Many Requests: tried again after the ``retry_after`` Telegram asked for, and
  the sender claims nothing before then (flood control is per bot);
- network error, timeout or 5xx: tried again with exponential backoff and jitter, up to
  ``max_attempts``; then ``failed``;
- 403 (the user blocked the bot, the bot left the group) or 400 (chat not found, bad
  markup): ``failed`` at once and logged, never tried again;
- a group that became a supergroup: sent again to the new chat id.

Every retry is logged with the row id, attempt and delay; never the message text.
See :mod:`storage.outbox` for the lease and the at-least-once window.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import os
import random
import socket
import warnings
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup
from telegram.error import (
    BadRequest,
    ChatMigrated,
    EndPointNotFound,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
)

from bot.push.clock import Clock
from storage import outbox
from storage.outbox import OutboxRow

logger = logging.getLogger(__name__)

DEFAULT_LEASE = timedelta(minutes=2)
DEFAULT_MAX_ATTEMPTS = 8
IDLE_POLL_S = 30.0


@dataclass
class SendReport:
    """What one pass of the sender did."""

    sent: int = 0
    retried: int = 0
    failed: int = 0

    @property
    def claimed(self) -> int:
        """How many rows the pass took."""
        return self.sent + self.retried + self.failed


def keyboard(buttons: list[list[list[str]]] | None) -> InlineKeyboardMarkup | None:
    """Inline buttons from a payload's rows of ``[label, callback data]``."""
    if not buttons:
        return None
    return InlineKeyboardMarkup(
        [
            [InlineKeyboardButton(label, callback_data=data) for label, data in row]
            for row in buttons
        ]
    )


def _retry_after_s(exc: RetryAfter) -> float:
    # PTB 22 warns when retry_after is read as an int; the value is the same either way.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        value = exc.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


def _reason(exc: BaseException) -> str:
    """A short reason for logs and the row's error: the class and Telegram's description."""
    return f"{type(exc).__name__}: {exc}"


class Sender:
    """Claims due outbox rows and delivers them.

    Args:
        engine: the store.
        bot: an initialised python-telegram-bot ``Bot`` (its ``base_url`` comes from the
            settings, so tests talk to the fake Bot API).
        clock: the push side's clock.
        worker: this sender's id in the leases; host and process id by default.
        lease: how long a claimed row is this sender's; longer than any request takes.
        batch: rows claimed per pass.
        max_attempts: attempts before a row that keeps failing transiently is failed.
        base_delay_s: the first retry's delay; each next one doubles, up to ``max_delay_s``.
        max_delay_s: the longest delay between attempts.
        rng: the jitter's randomness (tests seed it).
    """

    def __init__(
        self,
        engine: Engine,
        bot: Bot,
        clock: Clock,
        *,
        worker: str | None = None,
        lease: timedelta = DEFAULT_LEASE,
        batch: int = 20,
        max_attempts: int = DEFAULT_MAX_ATTEMPTS,
        base_delay_s: float = 2.0,
        max_delay_s: float = 900.0,
        rng: random.Random | None = None,
    ) -> None:
        self.engine = engine
        self.bot = bot
        self.clock = clock
        self.worker = worker or f"{socket.gethostname()}:{os.getpid()}:{id(self):x}"
        self.lease = lease
        self.batch = batch
        self.max_attempts = max_attempts
        self.base_delay_s = base_delay_s
        self.max_delay_s = max_delay_s
        self._rng = rng or random.Random()
        self._hold_until: datetime | None = None
        self._wake = asyncio.Event()
        self._stopping = False

    def backoff(self, attempt: int) -> float:
        """The delay before attempt ``attempt + 1``: exponential, half of it random."""
        ceiling = min(self.max_delay_s, self.base_delay_s * 2 ** max(attempt - 1, 0))
        return ceiling / 2 + self._rng.uniform(0, ceiling / 2)

    def wake(self) -> None:
        """Look for due rows now (a job just enqueued some)."""
        self._wake.set()

    async def send_due(self) -> SendReport:
        """Claim the due rows and deliver them, until none is due or flood control holds.

        Returns:
            What was sent, retried and failed.
        """
        report = SendReport()
        while not self._stopping:
            now = self.clock.now()
            if self._hold_until is not None and now < self._hold_until:
                break
            claimed = await asyncio.to_thread(
                outbox.claim, self.engine, self.worker, now, self.lease, self.batch
            )
            if not claimed:
                break
            for row in claimed:
                if self._hold_until is not None and self.clock.now() < self._hold_until:
                    # Flood control: give the rest back untouched, to be claimed later.
                    await asyncio.to_thread(outbox.release, self.engine, self.worker)
                    break
                await self._attempt(row, report)
        return report

    async def run(self) -> None:
        """Deliver until :meth:`stop`: after each wake-up, and whenever a row falls due."""
        logger.info("push sender started worker=%s", self.worker)
        while not self._stopping:
            try:
                await self.send_due()
            except Exception:
                # The store was unreachable or a bug: log it and keep the loop alive.
                logger.exception("push sender pass failed worker=%s", self.worker)
            self._wake.clear()
            await self._idle()
        logger.info("push sender stopped worker=%s", self.worker)

    async def _idle(self) -> None:
        due = await asyncio.to_thread(outbox.next_due_at, self.engine)
        now = self.clock.now()
        wait = IDLE_POLL_S
        if due is not None:
            wait = min(wait, max((due - now).total_seconds(), 0.05))
        if self._hold_until is not None:
            wait = max(wait, (self._hold_until - now).total_seconds())
        sleeper = asyncio.ensure_future(self.clock.sleep(wait))
        woken = asyncio.ensure_future(self._wake.wait())
        await asyncio.wait({sleeper, woken}, return_when=asyncio.FIRST_COMPLETED)
        for task in (sleeper, woken):
            task.cancel()

    async def stop(self) -> None:
        """Stop after the current call; rows this sender holds are given back."""
        self._stopping = True
        self._wake.set()
        released = await asyncio.to_thread(outbox.release, self.engine, self.worker)
        if released:
            logger.info("push rows released on stop worker=%s n=%d", self.worker, released)

    async def _attempt(self, row: OutboxRow, report: SendReport) -> None:
        try:
            message_id = await self._deliver(row)
        except RetryAfter as exc:
            delay = _retry_after_s(exc)
            self._hold_until = self.clock.now() + timedelta(seconds=delay)
            await self._retry(row, delay, "429 retry_after", report)
        except ChatMigrated as exc:
            logger.info("push chat migrated id=%s kind=%s", row.id, row.kind)
            await asyncio.to_thread(
                outbox.move_recipient, self.engine, row.id, self.worker, exc.new_chat_id
            )
            report.retried += 1
        except (Forbidden, BadRequest, EndPointNotFound) as exc:
            await self._fail(row, _reason(exc), report)
        except InvalidToken as exc:
            logger.error("push refused: the bot token is invalid id=%s", row.id)
            await self._retry(row, self.max_delay_s, _reason(exc), report)
        except (NetworkError, TelegramError) as exc:
            if row.attempts >= self.max_attempts:
                await self._fail(
                    row, f"gave up after {row.attempts} attempts: {_reason(exc)}", report
                )
            else:
                await self._retry(row, self.backoff(row.attempts), _reason(exc), report)
        except OSError as exc:
            # An attachment path that cannot be read will not appear by waiting.
            await self._fail(row, _reason(exc), report)
        else:
            stored = await asyncio.to_thread(
                outbox.mark_sent, self.engine, row.id, self.worker, self.clock.now(), message_id
            )
            if stored:
                report.sent += 1
                logger.info(
                    "push sent id=%s kind=%s chat_id=%s attempt=%d",
                    row.id,
                    row.kind,
                    row.recipient,
                    row.attempts,
                )

    async def _retry(self, row: OutboxRow, delay: float, reason: str, report: SendReport) -> None:
        at = self.clock.now() + timedelta(seconds=delay)
        await asyncio.to_thread(outbox.mark_retry, self.engine, row.id, self.worker, at, reason)
        report.retried += 1
        logger.warning(
            "push retry scheduled id=%s kind=%s attempt=%d delay_s=%.1f reason=%s",
            row.id,
            row.kind,
            row.attempts,
            delay,
            reason,
        )

    async def _fail(self, row: OutboxRow, reason: str, report: SendReport) -> None:
        await asyncio.to_thread(outbox.mark_failed, self.engine, row.id, self.worker, reason)
        report.failed += 1
        logger.error(
            "push failed for good id=%s kind=%s chat_id=%s attempt=%d reason=%s",
            row.id,
            row.kind,
            row.recipient,
            row.attempts,
            reason,
        )

    async def _deliver(self, row: OutboxRow) -> int:
        payload: dict[str, Any] = row.payload
        markup = keyboard(payload.get("buttons"))
        parse_mode = payload.get("parse_mode")
        if payload.get("method") == "sendPhoto":
            if "photo_b64" in payload:
                photo = base64.b64decode(payload["photo_b64"])
            else:
                photo = await asyncio.to_thread(Path(payload["photo_path"]).read_bytes)
            sent = await self.bot.send_photo(
                chat_id=row.recipient,
                photo=photo,
                caption=payload.get("caption"),
                parse_mode=parse_mode,
                reply_markup=markup,
            )
        else:
            sent = await self.bot.send_message(
                chat_id=row.recipient,
                text=payload["text"],
                parse_mode=parse_mode,
                reply_markup=markup,
            )
        return int(sent.message_id)
