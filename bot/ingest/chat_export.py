"""Read WhatsApp "Export chat" files into kpibot's domain events.

Three pure steps, none of which touches the database:

1. :func:`read_export` takes the ``.txt`` file, or the ``.zip`` the phone produces, and
   returns the chat's text with the names the file came under.
2. :func:`parse_chat` splits the text into messages, system lines, skipped lines
   (deleted messages, view-once media) and unreadable lines, and works out whether the
   file writes dates day first, month first or year first.
3. :func:`to_events` turns the messages into :class:`~bot.domain.MessageEvent` values
   with ``source=import``, in UTC, with ids that are the same every time the same
   message is imported.

An export shows the phone's local wall time, without a zone or an offset. It is read in
the zone the caller names; a wall time that falls in a daylight-saving gap, or in the
repeated hour when clocks go back, is read with ``fold=0``: the offset in force before
the change. A message sent at 02:30 on the night Madrid springs forward (a time that did
not exist there) is stored as 01:30 UTC, and 02:30 on the night clocks go back is the
first of the two 02:30s.

A header is the date and time that start a message: Android writes
``12/03/2026, 10:35 - Name: text``, iOS ``[03/12/2026, 10:35:12] Name: text``; locales
vary the separators, the clock, and add words (Finnish ``klo``). A line without a header
continues the message above it.
"""

from __future__ import annotations

import enum
import hashlib
import io
import logging
import re
import zipfile
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from pathlib import Path, PurePosixPath

from bot.domain import (
    BusinessNumber,
    CustomerRef,
    Direction,
    MessageContent,
    MessageEvent,
    MessageSource,
)
from bot.errors import KpibotError

__all__ = [
    "ChatExportError",
    "ChatMessage",
    "DateOrder",
    "ExportText",
    "ParsedChat",
    "SkippedLine",
    "UnreadableLine",
    "message_id",
    "parse_chat",
    "phone_digits",
    "phone_in_name",
    "read_export",
    "to_events",
]

logger = logging.getLogger(__name__)

MAX_CHAT_BYTES = 256 * 1024 * 1024
"""The largest chat text read: years of a busy chat are tens of megabytes, not hundreds."""

PROGRESS_EVERY = 5_000
"""How many lines :func:`parse_chat` reads between two progress reports."""


class ChatExportError(KpibotError):
    """A file is not a WhatsApp chat export kpibot can read, or the chat cannot be imported."""


class DateOrder(enum.StrEnum):
    """The order of day, month and year in an export's dates."""

    DMY = "dmy"
    MDY = "mdy"
    YMD = "ymd"

    @property
    def label(self) -> str:
        """The order in words, for the import summary."""
        return {"dmy": "day/month/year", "mdy": "month/day/year", "ymd": "year/month/day"}[
            self.value
        ]


@dataclass(frozen=True, slots=True)
class ExportText:
    """The text of a chat export and the file names it came under.

    Attributes:
        text: the chat, decoded.
        names: the chat file's name and, for a zip, the zip's name: a 1:1 chat's file is
            named after the customer (``WhatsApp Chat with +34 612 34 56 78.txt``).
    """

    text: str
    names: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ChatMessage:
    """One message of an export.

    Attributes:
        line: the number (from 1) of the line the message starts on.
        timestamp: the phone's local wall time, naive: the export carries no zone.
        author: the name the export shows, cleaned of direction marks.
        type: ``text``, ``image``, ``video``, ``audio``, ``document`` or
            ``media_placeholder`` (media the export left out).
        text: a text message's text, continuation lines joined with newlines.
        filename: the attached file's name, or the name shown for omitted media.
        caption: the text that came with an attachment.
    """

    line: int
    timestamp: datetime
    author: str
    type: str
    text: str | None = None
    filename: str | None = None
    caption: str | None = None

    @property
    def media_omitted(self) -> bool:
        """Whether the export left out the media this message carried."""
        return self.type == "media_placeholder"


@dataclass(frozen=True, slots=True)
class SkippedLine:
    """A line kept out of the messages on purpose (a system line, a deleted message)."""

    line: int
    reason: str  # "system line", "deleted message", "view-once media"
    author: str | None = None


@dataclass(frozen=True, slots=True)
class UnreadableLine:
    """A line that could not be read, and why."""

    line: int
    reason: str


@dataclass
class ParsedChat:
    """Everything :func:`parse_chat` found in an export.

    Attributes:
        messages: the messages, in file order.
        skipped: system lines, deleted messages and view-once media, in file order.
        unreadable: lines that could not be read.
        date_order: the order used to read the dates.
        date_order_reason: why that order, in words for the summary.
        date_order_assumed: True when no date told and day-first was assumed.
        lines: how many lines the text has.
    """

    messages: list[ChatMessage] = field(default_factory=list)
    skipped: list[SkippedLine] = field(default_factory=list)
    unreadable: list[UnreadableLine] = field(default_factory=list)
    date_order: DateOrder = DateOrder.DMY
    date_order_reason: str = ""
    date_order_assumed: bool = False
    lines: int = 0

    @property
    def authors(self) -> list[str]:
        """Everyone who wrote in the chat (deleted messages count), in order of appearance."""
        seen: dict[str, None] = {}
        entries: list[tuple[int, str]] = [(m.line, m.author) for m in self.messages]
        entries += [(s.line, s.author) for s in self.skipped if s.author is not None]
        for _line, author in sorted(entries):
            seen.setdefault(author, None)
        return list(seen)

    @property
    def system_lines(self) -> list[SkippedLine]:
        """The lines WhatsApp wrote itself (encryption notice, "You were added" …)."""
        return [s for s in self.skipped if s.reason == "system line"]


# --- reading the file -------------------------------------------------------------------

_ZIP_MAGIC = b"PK\x03\x04"
_CHAT_MEMBER = re.compile(r"^(?:_chat|WhatsApp Chat.*)\.txt$", re.IGNORECASE)


def read_export(source: str | Path | bytes, *, name: str | None = None) -> ExportText:
    """Read a chat export: its ``.txt`` file, or the zip that holds it and the media.

    Args:
        source: a path, or the file's bytes.
        name: the file's name when ``source`` is bytes (a 1:1 chat's file is named
            after the customer).

    Returns:
        The chat's text and the names it came under.

    Raises:
        ChatExportError: the file is missing, is a zip without a chat text file, or is
            too large.
    """
    if isinstance(source, bytes):
        data = source
        names: tuple[str, ...] = (name,) if name else ()
    else:
        path = Path(source)
        if not path.is_file():
            raise ChatExportError(
                f"there is no file {str(path)!r}; give the .txt or .zip that "
                "WhatsApp's Export chat produced"
            )
        if path.stat().st_size > MAX_CHAT_BYTES and not _is_zip_file(path):
            raise ChatExportError(f"{path.name} is larger than {MAX_CHAT_BYTES // 2**20} MB")
        data = path.read_bytes()
        names = (path.name,)

    if data.startswith(_ZIP_MAGIC):
        return _read_zip(data, names)
    if len(data) > MAX_CHAT_BYTES:
        raise ChatExportError(f"the chat is larger than {MAX_CHAT_BYTES // 2**20} MB")
    return ExportText(text=_decode(data), names=names)


def _is_zip_file(path: Path) -> bool:
    with path.open("rb") as handle:
        return handle.read(len(_ZIP_MAGIC)) == _ZIP_MAGIC


def _read_zip(data: bytes, names: tuple[str, ...]) -> ExportText:
    label = names[0] if names else "the zip"
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        raise ChatExportError(
            f"{label} is not a readable zip file; export the chat again"
        ) from None
    with archive:
        members = [info for info in archive.infolist() if not info.is_dir()]
        chats = [info for info in members if _CHAT_MEMBER.match(PurePosixPath(info.filename).name)]
        if not chats:
            # A zip someone made by hand may hold the chat under another name.
            chats = [info for info in members if info.filename.lower().endswith(".txt")]
        if not chats:
            held = [PurePosixPath(info.filename).name for info in members]
            shown = ", ".join(held[:5]) + (f" and {len(held) - 5} more" if len(held) > 5 else "")
            raise ChatExportError(
                f"{label} holds no chat text file (_chat.txt or 'WhatsApp Chat with ….txt'); "
                f"it holds {shown or 'nothing'}; give the zip WhatsApp's Export chat produced"
            )
        # iOS names the chat _chat.txt; prefer it when a zip also carries other text files.
        chats.sort(key=lambda info: PurePosixPath(info.filename).name != "_chat.txt")
        chosen = chats[0]
        if chosen.file_size > MAX_CHAT_BYTES:
            raise ChatExportError(
                f"{chosen.filename} in {label} is larger than {MAX_CHAT_BYTES // 2**20} MB"
            )
        text = _decode(archive.read(chosen))
    return ExportText(text=text, names=(PurePosixPath(chosen.filename).name, *names))


def _decode(data: bytes) -> str:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        # A stray bad byte must not lose the chat: the line it is on reads with U+FFFD.
        logger.warning("chat export is not valid UTF-8; undecodable bytes replaced")
        return data.decode("utf-8-sig", errors="replace")


# --- parsing the text -------------------------------------------------------------------

# Direction marks WhatsApp puts before lines, names, phone numbers and attachment names.
_MARKS = "\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\ufeff"

_HEADER = re.compile(
    r"""
    ^(?P<open>\[)?
    (?P<a>\d{1,4})(?P<sep>[./-])\s?(?P<b>\d{1,2})(?P=sep)\s?(?P<c>\d{1,4})(?P<dot>\.)?
    (?:,\s*|\s+)(?:[^\W\d_]+\.?\s+)?            # ", " or " ", maybe a word such as "klo"
    (?P<hour>\d{1,2})[:.](?P<minute>\d{2})(?:[:.](?P<second>\d{2}))?
    (?:\s*(?P<ampm>[AaPp])\.?\s?[Mm]\.?)?       # AM, pm, a. m., p.m. (any Unicode space)
    (?(open)\]\s*|(?(dot)(?:\s[-\u2013]\s|\s+)|\s[-\u2013]\s))  # Croatian "2018. 21:25 a: m"
    (?P<rest>.*)$
    """,
    re.VERBOSE,
)

# Lines WhatsApp writes itself. iOS puts them under the chat's name as if someone said
# them, so the phrase, not a missing "Name:", is what tells them apart there.
_SYSTEM_PHRASES = (
    "messages and calls are end-to-end encrypted",
    "messages to this group are now secured",
    "messages you send to this chat and calls are now secured",
    "messages you send to this group are now secured",
    "your security code with",
    "this business uses a secure service",
    "this business is now using a secure service",
    "this chat is with a business account",
    "this business account has now registered as a standard account",
    "disappearing messages",
    "you blocked this contact",
    "you unblocked this contact",
    "changed their phone number",
    "changed to +",
    "missed voice call",
    "missed video call",
)

_DELETED = {
    "this message was deleted",
    "you deleted this message",
    "diese nachricht wurde gelöscht",
    "du hast diese nachricht gelöscht",
    "se eliminó este mensaje",
    "eliminaste este mensaje",
    "ce message a été supprimé",
    "vous avez supprimé ce message",
    "essa mensagem foi apagada",
    "você apagou esta mensagem",
}

_MEDIA_OMITTED = {
    "<media omitted>",
    "<medien ausgelassen>",
    "<multimedia omitido>",
    "<média omis>",
    "<mídia oculta>",
    "<медиа пропущены>",
    "<تم استبعاد الوسائط>",
    "<省略影音内容>",
    "<媒体文件已忽略>",
}

# iOS: "image omitted", "‎Quotation.pdf • 2 pages ‎document omitted".
_IOS_OMITTED = re.compile(
    r"^(?P<before>.*?)\s*(?:image|video|audio|sticker|gif|document|contact card) omitted$",
    re.IGNORECASE,
)
_ATTACHED_IOS = re.compile(r"<\s*attached:\s*(?P<file>[^<>]+?)\s*>", re.IGNORECASE)
_ATTACHED_TRAILING = re.compile(r"^(?P<file>\S.*?)\s*<\s*attached\s*>", re.IGNORECASE)
_ATTACHED_ANDROID = re.compile(
    r"^(?P<file>\S.*?)\s*\((?:file attached|datei angehängt|archivo adjunto|fichier joint"
    r"|arquivo anexado|file allegato)\)",
    re.IGNORECASE,
)
_EDITED = re.compile(r"\s*<this message was edited>$", re.IGNORECASE)

_EXTENSION_TYPES = {
    **dict.fromkeys(("jpg", "jpeg", "png", "gif", "webp", "heic", "heif", "bmp"), "image"),
    **dict.fromkeys(("mp4", "mov", "3gp", "avi", "mkv", "webm", "m4v"), "video"),
    **dict.fromkeys(("opus", "ogg", "m4a", "mp3", "aac", "amr", "wav", "flac"), "audio"),
}


@dataclass(frozen=True, slots=True)
class _Header:
    line: int
    parts: tuple[str, str, str]
    hour: int
    minute: int
    second: int
    ampm: str | None
    rest: str


def parse_chat(
    text: str,
    *,
    date_order: DateOrder | str | None = None,
    on_progress: Callable[[int], None] | None = None,
) -> ParsedChat:
    """Split an export's text into messages, skipped lines and unreadable lines.

    The date order is taken from the whole file: a first number above 12 can only be a
    day, a second number above 12 only a day too, so the first means day first and the
    second month first; a four-digit first number means year first. When no date tells,
    day first is assumed and :attr:`ParsedChat.date_order_assumed` is set.

    Args:
        text: the chat, as :func:`read_export` returns it.
        date_order: ``dmy``, ``mdy`` or ``ymd`` to override the inference.
        on_progress: called with the number of lines read so far, every
            :data:`PROGRESS_EVERY` lines and at the end.

    Returns:
        What the text holds; a line that cannot be read is listed, never raised.

    Raises:
        ChatExportError: no line of the text starts with a WhatsApp date and time, or
            ``date_order`` is not one of the three orders.
    """
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()  # the newline that ends the file does not start a line

    headers: list[_Header | None] = []
    for number, raw in enumerate(lines, start=1):
        headers.append(_match_header(number, raw))
    found = [h for h in headers if h is not None]
    if not found:
        raise ChatExportError(
            "no line starts with a WhatsApp date and time "
            "(like '12/03/2026, 10:35 - Name: text' or '[03/12/2026, 10:35:12] Name: text')"
        )

    parsed = ParsedChat(lines=len(lines))
    _choose_date_order(parsed, found, date_order)
    builder = _Builder(parsed)
    for index, (raw, header) in enumerate(zip(lines, headers, strict=True)):
        if header is None:
            builder.continuation(index + 1, raw)
        else:
            builder.header(header)
        if on_progress is not None and (index + 1) % PROGRESS_EVERY == 0:
            on_progress(index + 1)
    builder.finish()
    if on_progress is not None:
        on_progress(len(lines))
    return parsed


def _match_header(number: int, raw: str) -> _Header | None:
    match = _HEADER.match(raw.rstrip("\r").lstrip(_MARKS))
    if match is None:
        return None
    return _Header(
        line=number,
        parts=(match["a"], match["b"], match["c"]),
        hour=int(match["hour"]),
        minute=int(match["minute"]),
        second=int(match["second"] or 0),
        ampm=match["ampm"].lower() if match["ampm"] else None,
        rest=match["rest"],
    )


def _choose_date_order(
    parsed: ParsedChat, headers: list[_Header], override: DateOrder | str | None
) -> None:
    if override is not None:
        try:
            parsed.date_order = DateOrder(str(override).lower())
        except ValueError:
            raise ChatExportError(f"date order {override!r} is not one of dmy, mdy, ymd") from None
        parsed.date_order_reason = "chosen with --date-order"
        return

    year_first = day_first = month_first = None
    for header in headers:
        a, b, _c = header.parts
        if year_first is None and (len(a) > 2 or int(a) > 31):
            year_first = header
        elif day_first is None and int(a) > 12:
            day_first = header
        elif month_first is None and int(b) > 12:
            month_first = header

    def shown(header: _Header) -> str:
        return f"line {header.line} has {'/'.join(header.parts)}"

    if year_first is not None:
        parsed.date_order = DateOrder.YMD
        parsed.date_order_reason = f"{shown(year_first)}, which starts with the year"
    elif day_first is not None:
        parsed.date_order = DateOrder.DMY
        parsed.date_order_reason = f"{shown(day_first)}: a first number above 12 is a day"
    elif month_first is not None:
        parsed.date_order = DateOrder.MDY
        parsed.date_order_reason = f"{shown(month_first)}: a second number above 12 is a day"
    else:
        parsed.date_order = DateOrder.DMY
        parsed.date_order_assumed = True
        parsed.date_order_reason = (
            "assumed: no date in the file shows whether the day or the month comes first"
        )


class _Builder:
    """Collects the lines of the message being read and files it when the next one starts."""

    def __init__(self, parsed: ParsedChat) -> None:
        self.parsed = parsed
        self.order = parsed.date_order
        # The message being read: (header line, time, author, its lines); None when the
        # previous header was a system or unreadable line, whose continuations are dropped.
        self.current: tuple[int, datetime, str, list[str]] | None = None
        self.after_header = False

    def header(self, header: _Header) -> None:
        self.finish()
        self.after_header = True
        try:
            timestamp = _wall_time(header, self.order)
        except ValueError as exc:
            self.parsed.unreadable.append(UnreadableLine(header.line, str(exc)))
            return

        author, text = _split_author(header.rest)
        if author is None or _is_system(text):
            self.parsed.skipped.append(SkippedLine(header.line, "system line"))
            return
        self.current = (header.line, timestamp, author, [text])

    def continuation(self, number: int, raw: str) -> None:
        line = raw.rstrip("\r")
        if self.current is not None:
            self.current[3].append(line)
        elif not self.after_header and line.strip(_MARKS + " \t"):
            self.parsed.unreadable.append(
                UnreadableLine(number, "text before the first dated line")
            )

    def finish(self) -> None:
        if self.current is None:
            return
        line, timestamp, author, parts = self.current
        self.current = None
        body = "\n".join(parts).rstrip()
        reason = _skip_reason(body)
        if reason is not None:
            self.parsed.skipped.append(SkippedLine(line, reason, author))
            return
        self.parsed.messages.append(_message(line, timestamp, author, body))


def _wall_time(header: _Header, order: DateOrder) -> datetime:
    a, b, c = (int(part) for part in header.parts)
    if order is DateOrder.DMY:
        day, month, year, year_text = a, b, c, header.parts[2]
    elif order is DateOrder.MDY:
        month, day, year, year_text = a, b, c, header.parts[2]
    else:
        year, month, day, year_text = a, b, c, header.parts[0]
    if len(year_text) == 2:
        year += 2000  # WhatsApp has existed since 2009: a two-digit year is this century
    elif len(year_text) != 4:
        raise ValueError(f"the year {year_text!r} has neither two nor four digits")

    hour = header.hour
    if header.ampm is not None:
        if not 1 <= hour <= 12:
            raise ValueError(f"the hour {hour} does not exist on a 12-hour clock")
        hour = hour % 12 + (12 if header.ampm == "p" else 0)
    try:
        # Naive on purpose: the export's wall time, given a zone in to_events().
        return datetime(year, month, day, hour, header.minute, header.second)  # noqa: DTZ001
    except ValueError:
        date = "/".join(header.parts)
        raise ValueError(
            f"{date} {header.hour:02d}:{header.minute:02d} is not a date and time "
            f"when read as {order.label}"
        ) from None


def _split_author(rest: str) -> tuple[str | None, str]:
    head, colon, text = rest.partition(": ")
    if not colon:
        if not rest.endswith(":"):
            return None, rest
        head, text = rest[:-1], ""
    author = " ".join(head.strip(_MARKS + " ").split())
    for mark in _MARKS:
        author = author.replace(mark, "")
    return (author or None), text


def _is_system(text: str) -> bool:
    cleaned = text.lstrip(_MARKS + " ").casefold()
    return any(cleaned.startswith(phrase) for phrase in _SYSTEM_PHRASES)


def _clean(text: str) -> str:
    for mark in _MARKS:
        text = text.replace(mark, "")
    return text.strip()


def _skip_reason(body: str) -> str | None:
    cleaned = _clean(body).casefold()
    if cleaned in _DELETED:
        return "deleted message"
    if cleaned == ".":
        return "view-once media"
    return None


def _message(line: int, timestamp: datetime, author: str, body: str) -> ChatMessage:
    first, _newline, more = body.partition("\n")
    cleaned = _clean(first)
    caption = _clean(more) or None

    if cleaned.casefold() in _MEDIA_OMITTED:
        return ChatMessage(line, timestamp, author, "media_placeholder", caption=caption)
    omitted = _IOS_OMITTED.match(cleaned)
    if omitted is not None:
        shown = omitted["before"].split(" • ")[0].strip() or None
        filename = shown if shown and "." in shown else None
        return ChatMessage(
            line, timestamp, author, "media_placeholder", filename=filename, caption=caption
        )

    attached = (
        _ATTACHED_IOS.search(cleaned)
        or _ATTACHED_TRAILING.match(cleaned)
        or _ATTACHED_ANDROID.match(cleaned)
    )
    if attached is not None:
        filename = attached["file"].strip()
        # Text after the marker on the same line is a caption too.
        after = cleaned[attached.end() :].strip()
        caption = "\n".join(part for part in (after, caption) if part) or None
        return ChatMessage(
            line,
            timestamp,
            author,
            _attachment_type(filename),
            filename=filename,
            caption=caption,
        )

    text = _EDITED.sub("", body.lstrip(_MARKS))
    return ChatMessage(line, timestamp, author, "text", text=text)


def _attachment_type(filename: str) -> str:
    extension = filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
    return _EXTENSION_TYPES.get(extension, "document")


# --- customers and events -----------------------------------------------------------------

_PHONE = re.compile(r"^\+?\d[\d\s().-]{5,}\d$")
_FILE_PREFIXES = ("whatsapp chat with ", "whatsapp chat - ", "whatsapp chat – ")


def phone_digits(value: str) -> str | None:
    """The digits of a phone number written with ``+``, spaces, dashes or brackets.

    Returns:
        The digits (7 to 15 of them), or None when ``value`` is not a phone number.
    """
    cleaned = _clean(value)
    if not _PHONE.match(cleaned):
        return None
    digits = "".join(ch for ch in cleaned if ch.isdigit())
    return digits if 7 <= len(digits) <= 15 else None


def phone_in_name(name: str) -> str | None:
    """The customer's number in a chat file's name (``WhatsApp Chat with +34 612….txt``)."""
    stem = _clean(name)
    for suffix in (".txt", ".zip"):
        if stem.lower().endswith(suffix):
            stem = stem[: -len(suffix)]
    lowered = stem.lower()
    for prefix in _FILE_PREFIXES:
        if lowered.startswith(prefix):
            return phone_digits(stem[len(prefix) :])
    return None


def message_id(
    *,
    rep_id: int,
    customer_wa_id: str,
    timestamp: datetime,
    direction: Direction,
    body: str,
    occurrence: int,
) -> str:
    """The id an imported message is stored under: the same for the same message.

    Two exports of one chat, or the same file imported twice, give a message the same
    id, so the store keeps it once; ``occurrence`` tells apart identical messages sent
    in the same minute.
    """
    key = "\x1f".join(
        (
            str(rep_id),
            customer_wa_id,
            timestamp.isoformat(),
            direction.value,
            body,
            str(occurrence),
        )
    )
    return "import:" + hashlib.sha256(key.encode("utf-8")).hexdigest()[:40]


def to_events(
    parsed: ParsedChat,
    *,
    rep_id: int,
    rep_author: str,
    number: BusinessNumber,
    customer: CustomerRef,
    tz: tzinfo,
) -> list[MessageEvent]:
    """Turn a parsed 1:1 chat into message events, outbound for the rep's lines.

    Args:
        parsed: what :func:`parse_chat` returned.
        rep_id: the rep's id, part of every message id.
        rep_author: the author name the rep has in the export.
        number: the rep's business number the messages are stored under.
        customer: the other side; its ``wa_id`` is part of every message id.
        tz: the zone of the phone that made the export.

    Returns:
        One event per message, in file order.

    Raises:
        ChatExportError: the customer has no ``wa_id``.
    """
    if not customer.wa_id:
        raise ChatExportError("an imported chat needs the customer's phone number")
    seen: Counter[tuple[datetime, str, str]] = Counter()
    events: list[MessageEvent] = []
    for message in parsed.messages:
        # fold=0 (the default) picks the offset before a DST change; see the module notes.
        moment = message.timestamp.replace(tzinfo=tz).astimezone(UTC)
        direction = Direction.OUTBOUND if message.author == rep_author else Direction.INBOUND
        body = message.filename or message.text or message.caption or message.type
        key = (message.timestamp, message.author, body)
        occurrence = seen[key]
        seen[key] += 1
        events.append(
            MessageEvent(
                number=number,
                customer=customer,
                message_id=message_id(
                    rep_id=rep_id,
                    customer_wa_id=customer.wa_id,
                    timestamp=moment,
                    direction=direction,
                    body=body,
                    occurrence=occurrence,
                ),
                direction=direction,
                timestamp=moment,
                content=MessageContent(
                    type=message.type,
                    text=message.text,
                    caption=message.caption,
                    filename=message.filename,
                ),
                source=MessageSource.IMPORT,
            )
        )
    return events
