"""Logging set-up and the helpers that keep customer data out of log lines."""

from __future__ import annotations

import logging
import sys


def configure_logging(level: str = "INFO") -> None:
    """Send kpibot's log lines to stderr with a time, level and logger name."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s", "%Y-%m-%d %H:%M:%S")
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # These libraries log routine steps at INFO; kpibot logs what an operator needs.
    for noisy in ("aiohttp.access", "alembic", "httpx", "telegram.ext"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))


def mask_phone(number: str | None) -> str:
    """A phone number with its middle hidden: ``8613812345678`` -> ``86138****5678``."""
    if not number:
        return "-"
    digits = "".join(ch for ch in number if ch.isdigit())
    if len(digits) <= 6:
        return "****"
    return f"{digits[:-8] if len(digits) > 8 else digits[:2]}****{digits[-4:]}"


def excerpt(body: bytes, limit: int = 80) -> str:
    """A short, redacted look at a rejected body: its size and leading structure only.

    Digits are replaced, so phone numbers and ids never reach the log, and the excerpt
    stops before any message text could start.
    """
    head = body[:limit].decode("utf-8", errors="replace")
    redacted = "".join("#" if ch.isdigit() else ch for ch in head if ch.isprintable())
    return f"{len(body)} bytes: {redacted!r}"
