"""``kpibot import events FILE``: load an events-API file exported by a CRM or SCRM tool.

A ``.jsonl`` file holds one event object a line, as the events API takes them. A
``.csv`` file has a header row naming the fields; the customer is spread over
``customer_wa_id`` / ``customer_phone`` / ``customer_name`` and the referrer is
``referred_by_wa_id``; an empty cell is an absent field. A line that cannot be read or
used is reported with its number and the import goes on; events are stored a thousand
to a transaction, so a long file commits as it goes and can simply be run again.
"""

from __future__ import annotations

import csv
import io
import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import click
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from bot.ingest.events_api import MAX_EVENTS, ApiEvent, EventError, event_id_of, validate_event
from bot.web.events_api import Rejection, StoreResult, store_events
from storage.db import session_factory, session_scope

logger = logging.getLogger(__name__)

LISTED_REJECTIONS = 20
"""Rejected lines shown one by one; the rest are counted."""

_SCALAR_COLUMNS = frozenset(
    {
        "id",
        "type",
        "timestamp",
        "direction",
        "rep",
        "phone_number_id",
        "message_type",
        "text",
        "filename",
        "automated",
        "template_category",
        "message_id",
        "status",
        "tag",
        "note",
        "amount",
        "currency",
        "margin",
    }
)
# Columns that fill one key of an object field: column -> (field, key).
_NESTED_COLUMNS = {
    "customer_wa_id": ("customer", "wa_id"),
    "customer_phone": ("customer", "phone"),
    "customer_name": ("customer", "name"),
    "referred_by_wa_id": ("referred_by", "wa_id"),
}
CSV_COLUMNS = tuple(sorted(_SCALAR_COLUMNS | set(_NESTED_COLUMNS)))
"""Every column a CSV file may have."""

_BOOLEANS = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}


class _Obj(Protocol):
    """What the ``kpibot`` group puts in the click context (``bot.cli_context.CliContext``)."""

    def engine(self, *, require_current: bool = True) -> Engine:
        """The store's engine, reachable and migrated."""
        ...


@dataclass(frozen=True, slots=True)
class _Line:
    """One line of the file, read: its event object, or why it could not be read."""

    number: int
    obj: object = None
    problem: str | None = None


@click.command("events")
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False))
@click.pass_obj
def events_import(obj: _Obj, file: Path) -> None:
    """Import events from FILE (.jsonl, one event a line; or .csv with a header row)."""
    lines = _read(file)
    engine = obj.engine()
    result = _import(engine, lines)
    _print_summary(file, result)
    if result.rejected and not (result.accepted or result.duplicates):
        raise SystemExit(1)


def _read(file: Path) -> Iterator[_Line]:
    """The file's lines as event objects; refuses a missing file or an unknown kind."""
    if not file.is_file():
        raise click.ClickException(f"{file}: no such file")
    suffix = file.suffix.lower()
    if suffix == ".jsonl":
        return _jsonl_lines(file)
    if suffix == ".csv":
        return _csv_lines(file)
    raise click.ClickException(
        f"{file}: unknown kind of file {suffix or '(no extension)'!r}; use .jsonl or .csv"
    )


def _jsonl_lines(file: Path) -> Iterator[_Line]:
    with file.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            if number == 1:
                raw = raw.removeprefix(b"\xef\xbb\xbf")
            if not raw.strip():
                continue
            try:
                yield _Line(number, json.loads(raw.decode("utf-8")))
            except UnicodeDecodeError:
                yield _Line(number, problem="not UTF-8 text")
            except ValueError as exc:
                yield _Line(number, problem=f"not JSON: {exc}")


def _csv_lines(file: Path) -> Iterator[_Line]:
    try:
        text = file.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise click.ClickException(f"{file}: not UTF-8 text (byte {exc.start})") from None
    reader = csv.DictReader(io.StringIO(text, newline=""))
    unknown = [name for name in reader.fieldnames or () if name not in CSV_COLUMNS]
    if not reader.fieldnames or unknown:
        shown = ", ".join(repr(name) for name in unknown) or "none"
        raise click.ClickException(
            f"{file}: unknown column(s) {shown}; the columns are {', '.join(CSV_COLUMNS)}"
        )
    return _csv_rows(reader)


def _csv_rows(reader: csv.DictReader[str]) -> Iterator[_Line]:
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield _Line(reader.line_num, problem=f"not CSV: {exc}")
            continue
        if None in row:
            yield _Line(reader.line_num, problem="more cells than the header has columns")
            continue
        yield _Line(reader.line_num, _event_from_row(row))


def _event_from_row(row: dict[str, str]) -> dict[str, Any]:
    """The event object a CSV row stands for; empty cells are absent fields."""
    event: dict[str, Any] = {}
    for column, cell in row.items():
        value = (cell or "").strip()
        if not value:
            continue
        if column in _NESTED_COLUMNS:
            name, key = _NESTED_COLUMNS[column]
            event.setdefault(name, {})[key] = value
        elif column == "automated":
            # An unreadable cell stays a string, so the validator names it.
            event[column] = _BOOLEANS.get(value.lower(), value)
        else:
            event[column] = value
    return event


def _import(engine: Engine, lines: Iterator[_Line]) -> StoreResult:
    sessions = session_factory(engine)
    total = StoreResult()
    batch: list[tuple[int, ApiEvent]] = []
    for line in lines:
        rejection = _check(line, batch)
        if rejection is not None:
            total.rejected.append(rejection)
        if len(batch) >= MAX_EVENTS:
            total.add(_store(sessions, batch))
            batch = []
    if batch:
        total.add(_store(sessions, batch))
    logger.info(
        "events imported accepted=%d duplicates=%d rejected=%d",
        total.accepted,
        total.duplicates,
        len(total.rejected),
    )
    return total


def _check(line: _Line, batch: list[tuple[int, ApiEvent]]) -> Rejection | None:
    """Validate a line into ``batch``; the rejection when it cannot go there."""
    if line.problem is not None:
        return Rejection(line.number, None, EventError("", line.problem))
    try:
        batch.append((line.number, validate_event(line.obj)))
    except EventError as exc:
        return Rejection(line.number, event_id_of(line.obj), exc)
    return None


def _store(sessions: sessionmaker[Session], batch: list[tuple[int, ApiEvent]]) -> StoreResult:
    with session_scope(sessions) as session:
        return store_events(session, batch)


def _print_summary(file: Path, result: StoreResult) -> None:
    rejected = sorted(result.rejected, key=lambda r: r.index)
    click.echo(
        f"Imported {file.name}: {result.accepted} accepted, {result.duplicates} duplicates, "
        f"{len(rejected)} rejected."
    )
    for rejection in rejected[:LISTED_REJECTIONS]:
        click.echo(f"line {rejection.index}: {rejection.error}")
    if len(rejected) > LISTED_REJECTIONS:
        click.echo(f"… and {len(rejected) - LISTED_REJECTIONS} more rejected lines.")
