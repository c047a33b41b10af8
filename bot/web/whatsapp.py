"""The WhatsApp webhook: Meta's verification handshake and signed event deliveries.

A delivery is answered 200 only once its body is committed to the inbox, so that a 200
means "kpibot has it". Everything after that (reading the payload into messages and
statuses) happens from the inbox, where a failure loses nothing.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from dataclasses import dataclass

from aiohttp import web

from bot.errors import PayloadError, StorageError
from bot.inbox_writer import InboxWriter
from bot.ingest.whatsapp import parse_envelope
from bot.logs import excerpt
from bot.normaliser import Normaliser

logger = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Hub-Signature-256"


@dataclass(frozen=True)
class WebhookConfig:
    """What the webhook needs to know to accept a delivery.

    ``app_secret`` None with ``verify_signatures`` False is the explicit insecure
    development mode; the server refuses to start with no secret otherwise.
    """

    app_secret: bytes | None
    verify_token: str | None
    max_body_bytes: int
    verify_signatures: bool = True


def signature_for(body: bytes, app_secret: bytes) -> str:
    """The ``X-Hub-Signature-256`` value Meta sends for ``body``."""
    return "sha256=" + hmac.new(app_secret, body, hashlib.sha256).hexdigest()


def signature_problem(body: bytes, header: str | None, app_secret: bytes) -> str | None:
    """Why the signature header does not prove ``body`` came from Meta, or None if it does.

    The digest is computed over the raw bytes as received and compared in constant time.
    """
    if not header:
        return f"missing {SIGNATURE_HEADER} header"
    scheme, _, received = header.strip().partition("=")
    if scheme.lower() != "sha256" or not received:
        return f"{SIGNATURE_HEADER} is not of the form sha256=<hex>"
    expected = hmac.new(app_secret, body, hashlib.sha256).hexdigest().encode()
    # Compared as bytes: compare_digest refuses str with non-ASCII, which a forger can send.
    if not hmac.compare_digest(expected, received.lower().encode("utf-8", "replace")):
        return f"{SIGNATURE_HEADER} does not match the body"
    return None


class WhatsAppWebhook:
    """The two routes Meta calls, bound to an inbox writer and the normaliser."""

    def __init__(self, config: WebhookConfig, writer: InboxWriter, normaliser: Normaliser):
        self._config = config
        self._writer = writer
        self._normaliser = normaliser

    def routes(self) -> list[web.RouteDef]:
        """The routes to add to the application."""
        return [
            web.get("/webhooks/whatsapp", self.verify),
            web.post("/webhooks/whatsapp", self.receive),
        ]

    async def verify(self, request: web.Request) -> web.Response:
        """Answer Meta's subscription handshake with the challenge, or 403."""
        mode = request.query.get("hub.mode")
        token = request.query.get("hub.verify_token", "")
        challenge = request.query.get("hub.challenge", "")
        expected = self._config.verify_token

        if expected is None:
            logger.warning("webhook verification refused: WHATSAPP_VERIFY_TOKEN is not set")
            return web.Response(status=403, text="verification token not configured\n")
        if mode != "subscribe":
            logger.warning("webhook verification refused: hub.mode=%r", mode)
            return web.Response(status=403, text="hub.mode must be subscribe\n")
        if not hmac.compare_digest(token.encode(), expected.encode()):
            logger.warning("webhook verification refused: wrong hub.verify_token")
            return web.Response(status=403, text="wrong verify token\n")

        logger.info("webhook verified by Meta")
        return web.Response(text=challenge, content_type="text/plain")

    async def receive(self, request: web.Request) -> web.Response:
        """Check, store and acknowledge one webhook delivery."""
        limit = self._config.max_body_bytes
        if request.content_length is not None and request.content_length > limit:
            return self._reject(413, f"body of {request.content_length} bytes is over {limit}")
        try:
            body = await request.read()
        except web.HTTPRequestEntityTooLarge:
            return self._reject(413, f"body is over {limit} bytes")

        if self._config.verify_signatures:
            assert self._config.app_secret is not None
            header = request.headers.get(SIGNATURE_HEADER)
            problem = signature_problem(body, header, self._config.app_secret)
            if problem:
                return self._reject(401, problem, body)

        try:
            parse_envelope(body)
        except PayloadError as exc:
            return self._reject(400, str(exc), body)

        try:
            await self._writer.store(body)
        except (StorageError, RuntimeError) as exc:
            # Not a 200: Meta keeps the delivery and retries it, so nothing is lost.
            logger.error("webhook not stored, asking Meta to retry: %s", exc)
            return web.Response(status=503, text="storage unavailable, retry later\n")

        self._normaliser.notify()
        return web.Response(text="ok\n")

    def _reject(self, status: int, reason: str, body: bytes | None = None) -> web.Response:
        if body is None:
            logger.warning("webhook rejected status=%d reason=%s", status, reason)
        else:
            logger.warning(
                "webhook rejected status=%d reason=%s body=%s", status, reason, excerpt(body)
            )
        return web.Response(status=status, text=reason + "\n")
