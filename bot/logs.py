"""Logging set-up and the helpers that keep customer data out of log lines."""

from __future__ import annotations

import logging
import re
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

    Object keys are kept; every other string becomes ``"…"`` and every digit ``#``, so
    message text, names, phone numbers and ids never reach the log, whatever the key
    order of the body and wherever in it the text starts.
    """
    head = body[:limit].decode("utf-8", errors="replace")
    parts: list[str] = []
    position = 0
    for match in _JSON_STRING.finditer(head):
        parts.append(_mask_bare(head[position : match.start()]))
        token, position = match.group(), match.end()
        is_key = token.endswith('"') and len(token) > 1 and _KEY_FOLLOWS.match(head, position)
        parts.append(_DIGIT.sub("#", token) if is_key else '"…"')
    parts.append(_mask_bare(head[position:]))
    redacted = "".join(ch for ch in "".join(parts) if ch.isprintable())
    return f"{len(body)} bytes: {redacted!r}"


# A JSON string, possibly cut off by the excerpt's limit.
_JSON_STRING = re.compile(r'"(?:[^"\\]|\\.)*"?')
_KEY_FOLLOWS = re.compile(r"\s*:")
_DIGIT = re.compile(r"\d")
_WORD = re.compile(r"[^\W\d_]+")
_JSON_LITERALS = {"true", "false", "null"}


def _mask_bare(text: str) -> str:
    """Outside strings JSON has only punctuation, numbers and literals: hide the rest."""
    words = _WORD.sub(lambda m: m.group() if m.group() in _JSON_LITERALS else "…", text)
    return _DIGIT.sub("#", words)
