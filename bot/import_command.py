"""``kpibot import``: bring message history from outside the webhook into the store.

``kpibot import chat-export FILE --rep NAME`` reads a WhatsApp "Export chat" file (the
``.txt``, or the ``.zip`` the phone makes), decides which author is the rep and which the
customer, and stores the messages as the rep's traffic with that customer. Importing the
same file twice, or two overlapping exports of one chat, stores each message once.
"""

from __future__ import annotations

import logging
import sys
from collections import Counter
from collections.abc import Iterator, Sequence
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import click
from sqlalchemy.orm import Session, sessionmaker

from bot.cli_context import CliContext, pass_context
from bot.domain import CustomerRef, MessageEvent
from bot.errors import KpibotError
from bot.ingest.chat_export import (
    ExportText,
    ParsedChat,
    parse_chat,
    phone_digits,
    phone_in_name,
    read_export,
    to_events,
)
from bot.logs import mask_phone
from storage.chat_import import import_number, store_batch
from storage.db import session_factory, session_scope
from storage.ingest import ApplyStats
from storage.reps import find_rep

logger = logging.getLogger(__name__)

BATCH_SIZE = 1_000
"""Messages stored per transaction: a failure loses one batch's work, not the file's."""

PROGRESS_FROM_LINES = 5_000
"""Files at least this long show progress bars; small ones import in a blink."""

UNREADABLE_LISTED = 20
"""Unreadable lines listed one by one in the summary; the rest are counted."""

_NO_REP = "(none: the rep wrote nothing)"


@click.group("import")
def import_group() -> None:
    """Import message history that did not come through the webhook."""


@import_group.command("chat-export")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--rep", "rep_name", required=True, help="The kpibot rep whose chat this is.")
@click.option(
    "--customer",
    help="The customer's phone number, e.g. '+34 612 34 56 78' (default: from the chat).",
)
@click.option(
    "--rep-name-in-chat",
    help="The rep's name as the export shows it (default: the rep's kpibot name).",
)
@click.option(
    "--date-order",
    type=click.Choice(["dmy", "mdy", "ymd"], case_sensitive=False),
    help="Order of day, month and year in the export's dates (default: inferred).",
)
@click.option(
    "--timezone",
    "timezone_name",
    help="Time zone of the phone that made the export (default: KPIBOT_TIMEZONE).",
)
@pass_context
def chat_export(
    obj: CliContext,
    file: Path,
    rep_name: str,
    customer: str | None,
    rep_name_in_chat: str | None,
    date_order: str | None,
    timezone_name: str | None,
) -> None:
    """Import FILE, a WhatsApp chat export (.txt or .zip), as rep NAME's chat."""
    try:
        _import_chat_export(
            obj, file, rep_name, customer, rep_name_in_chat, date_order, timezone_name
        )
    except KpibotError as exc:
        raise click.ClickException(str(exc)) from None


def _import_chat_export(
    obj: CliContext,
    file: Path,
    rep_name: str,
    customer_option: str | None,
    rep_name_in_chat: str | None,
    date_order: str | None,
    timezone_name: str | None,
) -> None:
    zone_name = timezone_name or obj.settings.kpibot_timezone
    try:
        tz = ZoneInfo(zone_name)
    except (ZoneInfoNotFoundError, ValueError):
        raise click.ClickException(
            f"{zone_name!r} is not a time zone; pass --timezone with a name such as "
            "Europe/Madrid or Asia/Shanghai"
        ) from None
    customer_wa_id = _customer_option(customer_option)

    export = read_export(file)
    engine = obj.engine()
    # Release the pool when the command ends, so no connection outlives it (tests, shells).
    click.get_current_context().call_on_close(engine.dispose)
    factory = session_factory(engine)
    with session_scope(factory) as session:
        rep = find_rep(session, rep_name)
        rep_id, rep_display = rep.id, rep.name
    assert rep_id is not None

    parsed = _parse(export, file, date_order)
    authors = parsed.authors
    rep_author = _rep_author(authors, rep_name_in_chat or rep_display, rep_name_in_chat, file)
    customer_author = next((a for a in authors if a != rep_author), None)
    customer = _customer(customer_wa_id, customer_author, export, file)

    stats = ApplyStats()
    if parsed.messages:
        with session_scope(factory) as session:
            number = import_number(session, rep_id)
        events = to_events(
            parsed,
            rep_id=rep_id,
            rep_author=rep_author or "",
            number=number,
            customer=customer,
            tz=tz,
        )
        stats = _store(factory, events, show_progress=parsed.lines >= PROGRESS_FROM_LINES)

    logger.info(
        "chat export imported rep_id=%s customer=%s new=%d present=%d skipped=%d unreadable=%d",
        rep_id,
        mask_phone(customer.wa_id),
        stats.messages_new,
        stats.messages_merged,
        len(parsed.skipped),
        len(parsed.unreadable),
    )
    for line in _summary(parsed, stats, rep_display, rep_author, customer, zone_name):
        click.echo(line)


def _customer_option(value: str | None) -> str | None:
    if value is None:
        return None
    digits = phone_digits(value) if set(value) <= set("+0123456789 -") else None
    if digits is None:
        raise click.ClickException(
            f"--customer {value!r} is not a phone number; write it with digits, '+' and "
            "spaces, e.g. --customer '+34 612 34 56 78'"
        )
    return digits


def _parse(export: ExportText, file: Path, date_order: str | None) -> ParsedChat:
    total = export.text.count("\n") + 1
    try:
        if total < PROGRESS_FROM_LINES:
            return parse_chat(export.text, date_order=date_order)
        with click.progressbar(length=total, label="Reading the chat", file=sys.stderr) as bar:
            done = 0

            def advance(lines: int) -> None:
                nonlocal done
                bar.update(lines - done)
                done = lines

            return parse_chat(export.text, date_order=date_order, on_progress=advance)
    except KpibotError as exc:
        raise click.ClickException(
            f"{file.name} is not a WhatsApp chat export: {exc}; in WhatsApp open the chat, "
            "choose More > Export chat, and give the file it makes"
        ) from None


def _same_name(a: str, b: str) -> bool:
    return " ".join(a.casefold().split()) == " ".join(b.casefold().split())


def _stdin_is_tty() -> bool:
    """Whether someone is at the keyboard to answer a question."""
    return sys.stdin.isatty()


def _rep_author(
    authors: Sequence[str], rep_name: str, explicit: str | None, file: Path
) -> str | None:
    """The author name the rep writes under in the export, or None if the rep wrote nothing."""
    if len(authors) > 2:
        listed = ", ".join(authors[:5]) + (" …" if len(authors) > 5 else "")
        raise click.ClickException(
            f"{file.name} is a group chat ({len(authors)} authors: {listed}); groups are not "
            "customers, so export the rep's 1:1 chat with each customer instead"
        )
    matches = [a for a in authors if _same_name(a, rep_name)]
    if matches:
        return matches[0]
    if not authors:
        return None
    if explicit is not None and len(authors) == 1:
        # The rep was named and is not in the chat: the only author is the customer.
        return None

    listed = " and ".join(repr(a) for a in authors)
    if explicit is None and _stdin_is_tty():
        choices = [*authors, _NO_REP] if len(authors) == 1 else list(authors)
        answer = click.prompt(
            f"No author in the chat is called {rep_name!r}. Which one is the rep",
            type=click.Choice(choices),
        )
        return None if answer == _NO_REP else str(answer)
    raise click.ClickException(
        f"cannot tell which author is the rep {rep_name!r}: the chat's authors are {listed}; "
        "pass --rep-name-in-chat with the rep's name as the chat shows it"
    )


def _customer(
    wa_id: str | None, customer_author: str | None, export: ExportText, file: Path
) -> CustomerRef:
    author_phone = phone_digits(customer_author) if customer_author else None
    name = customer_author if customer_author and author_phone is None else None
    if wa_id is None:
        wa_id = author_phone
    if wa_id is None:
        wa_id = next((p for p in map(phone_in_name, export.names) if p), None)
    if wa_id is None:
        who = f"the customer {customer_author!r}" if customer_author else "the customer"
        raise click.ClickException(
            f"cannot tell the phone number of {who} in {file.name}: neither the author name "
            "nor the file name is a number; pass --customer with it, e.g. "
            "--customer '+34 612 34 56 78'"
        )
    return CustomerRef(wa_id=wa_id, name=name)


def _batches(events: Sequence[MessageEvent]) -> Iterator[Sequence[MessageEvent]]:
    for start in range(0, len(events), BATCH_SIZE):
        yield events[start : start + BATCH_SIZE]


def _store(
    sessions: sessionmaker[Session], events: Sequence[MessageEvent], *, show_progress: bool
) -> ApplyStats:
    stats = ApplyStats()
    if not show_progress:
        for batch in _batches(events):
            with session_scope(sessions) as session:
                stats.add(store_batch(session, batch))
        return stats
    with click.progressbar(length=len(events), label="Storing messages", file=sys.stderr) as bar:
        for batch in _batches(events):
            with session_scope(sessions) as session:
                stats.add(store_batch(session, batch))
            bar.update(len(batch))
    return stats


def _plural(count: int, singular: str, plural: str) -> str:
    return f"{count} {singular if count == 1 else plural}"


_SKIP_WORDS = {
    "system line": ("system line", "system lines"),
    "deleted message": ("deleted message", "deleted messages"),
    "view-once media": ("view-once media message", "view-once media messages"),
}


def _summary(
    parsed: ParsedChat,
    stats: ApplyStats,
    rep_name: str,
    rep_author: str | None,
    customer: CustomerRef,
    zone_name: str,
) -> list[str]:
    """The lines the command ends with: what was stored, skipped and could not be read."""
    shown_customer = (
        f"{customer.name} (+{customer.wa_id})" if customer.name else f"+{customer.wa_id}"
    )
    as_author = f" (as {rep_author!r} in the chat)" if rep_author else " (wrote nothing in it)"
    lines = [
        f"Chat of rep {rep_name}{as_author} with customer {shown_customer}.",
        f"Messages: {stats.messages_new} imported (new), {stats.messages_merged} already present.",
    ]

    reasons = Counter(s.reason for s in parsed.skipped)
    if reasons:
        parts = [_plural(n, *_SKIP_WORDS.get(r, (r, r))) for r, n in reasons.most_common()]
        lines.append("Skipped: " + ", ".join(parts) + ".")
    else:
        lines.append("Skipped: nothing.")

    if parsed.unreadable:
        lines.append(
            f"Unreadable: {_plural(len(parsed.unreadable), 'line', 'lines')} "
            "(the rest of the file was imported):"
        )
        lines += [f"  line {u.line}: {u.reason}" for u in parsed.unreadable[:UNREADABLE_LISTED]]
        if len(parsed.unreadable) > UNREADABLE_LISTED:
            lines.append(f"  … and {len(parsed.unreadable) - UNREADABLE_LISTED} more")

    lines.append(f"Date order: {parsed.date_order.label} ({parsed.date_order_reason}).")
    if parsed.date_order_assumed:
        # TODO(no delete command yet): a wrong guess cannot be undone from the CLI.
        lines.append(
            "Warning: every date in the file reads either way, so day first was assumed. "
            "If the chat writes month first, the messages are stored on the wrong days; "
            "next time pass --date-order mdy."
        )
    lines.append(f"Times read as {zone_name} wall-clock time and stored in UTC.")
    return lines
