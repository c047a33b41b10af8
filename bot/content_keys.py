"""The key that tells identical sends apart from personal ones, stored with each message.

A broadcast is the same text sent to many customers; "the same" is after folding case,
white space and digit runs, so "Order 12 ready" and "order  907 READY" match. Ingest
stores that folded content as a 64-bit key in ``message.content_key`` for every outbound
message, so the KPI engine groups a rep's sends by an integer read from an index instead
of reading and folding each text again.

Pure: no database, no I/O. Changing :func:`normalise_text` changes every stored key,
so it needs a migration that recomputes ``message.content_key``.
"""

from __future__ import annotations

import hashlib
import re
from functools import lru_cache

_DIGITS = re.compile(r"\d+")


@lru_cache(maxsize=65536)
def normalise_text(content: str) -> str:
    """Fold ``content`` for comparing sends: case and white space folded, digit runs as ``0``.

    Args:
        content: a text, caption or file name.

    Returns:
        The normalised form; "Order 12 ready" and "order  907 READY" give the same.
    """
    return _DIGITS.sub("0", " ".join(content.casefold().split()))


def content_key(content: str | None) -> int | None:
    """The 64-bit key of ``content`` once normalised; None when nothing is left to compare.

    Two contents get the same key when they normalise to the same text. Different texts
    share a key only by a hash collision, about one chance in 10**19 per pair.

    Args:
        content: a text, caption or file name, or None.

    Returns:
        A signed 64-bit integer (it fits SQLite's INTEGER and PostgreSQL's BIGINT), or
        None for no content or content that is only white space.
    """
    if content is None:
        return None
    folded = normalise_text(content)
    if not folded:
        return None
    digest = hashlib.blake2b(folded.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def message_content_key(
    direction: str, text: str | None, caption: str | None, filename: str | None
) -> int | None:
    """The key stored for a message: outbound only, of its text, else caption, else file.

    The content of a send is its text, else its caption, else its file name, so the same
    catalogue sent to twenty new numbers is a mass send too. Inbound messages get None:
    only the rep's sends can be broadcasts.

    Args:
        direction: ``inbound`` or ``outbound``.
        text: the message text.
        caption: the media caption.
        filename: the document's file name.

    Returns:
        The key, or None.
    """
    if direction != "outbound":
        return None
    for content in (text, caption, filename):
        if content is not None:
            return content_key(content)
    return None
