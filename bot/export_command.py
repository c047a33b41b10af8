"""``kpibot export``: kpibot's numbers as CSV or xlsx files for spreadsheets and payroll.

``export kpis`` writes what ``kpibot stats --json`` shows, one row per rep; ``export
conversations`` writes the conversations the KPI engine sees, one row per conversation.
The rows are built and written by :mod:`bot.exports`.
"""

from __future__ import annotations

import logging
import os
from datetime import date, datetime, timedelta
from pathlib import Path

import click
from sqlalchemy import Connection

from bot.cli_context import CliContext, pass_context
from bot.errors import NotFoundError
from bot.exports import (
    DEAL_FOLLOW_UP,
    FORMATS,
    CustomerInfo,
    Table,
    conversation_rows,
    conversation_table,
    kpi_table,
    split_conversations,
    write_table,
)
from bot.metrics import TeamSettings, compute, compute_team, load_team_settings
from bot.metrics.conversations import CONVERSATION_GAP
from bot.metrics.periods import local_midnight, period_containing
from bot.metrics.quality import quote_request_times
from bot.metrics.worktime import WorkingClock
from bot.stats_command import parse_at
from storage import export_queries, kpi_queries
from storage import telegram as store
from storage.db import readonly
from storage.kpi_queries import RepRow
from storage.types import utcnow

logger = logging.getLogger(__name__)

DEFAULT_DAYS = 30
# Half-open SQL bounds; this makes an inclusive upper bound include its last instant.
_INCLUSIVE = timedelta(microseconds=1)

_FORMAT_HELP = (
    "csv (UTF-8 with a byte order mark, so Excel shows Chinese names right) or xlsx "
    "(typed cells with number formats). Default: from --out's extension, else csv."
)


@click.group("export")
def export_group() -> None:
    """Write kpibot's numbers to CSV or xlsx files, for spreadsheets and payroll.

    CSV is UTF-8 with a byte order mark, so Excel shows Chinese names right; a name that
    a spreadsheet would run as a formula (starting with = + - @) gets a leading '.
    """


def _team_settings(obj: CliContext) -> TeamSettings:
    return load_team_settings(
        obj.settings.kpibot_team_settings, default_timezone=obj.settings.kpibot_timezone
    )


def _resolve_format(fmt: str | None, out: Path | None) -> str:
    """The format asked for, else the one --out's extension names, else csv."""
    suffix = out.suffix.lower().lstrip(".") if out else ""
    if fmt is None:
        return suffix if suffix in FORMATS else "csv"
    if suffix in FORMATS and suffix != fmt:
        raise click.BadParameter(
            f"--out {out} ends in .{suffix} but the format is {fmt}", param_hint="--format"
        )
    return fmt


def _check_writable(path: Path) -> None:
    """Fail before any work when ``path`` clearly cannot be written."""
    folder = path.parent
    if not folder.is_dir():
        raise click.ClickException(f"cannot write {path}: folder {folder} does not exist")
    if not os.access(folder, os.W_OK):
        raise click.ClickException(f"cannot write {path}: folder {folder} is not writable")


def _write(table: Table, path: Path, fmt: str) -> None:
    try:
        write_table(table, path, fmt)
    except OSError as exc:
        raise click.ClickException(f"cannot write {path}: {exc.strerror or exc}") from None
    count = len(table.rows)
    click.echo(f"Wrote {count} row{'' if count == 1 else 's'} to {path.resolve()}")


def _parse_date(_ctx: click.Context, param: click.Parameter, value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(
            f"{value!r} is not a date; write it as YYYY-MM-DD", param=param
        ) from None


_format_option = click.option(
    "--format", "fmt", type=click.Choice(FORMATS, case_sensitive=False), help=_FORMAT_HELP
)
_out_option = click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="The file to write (replaced if it exists).",
)


@export_group.command("kpis")
@click.option(
    "--period",
    type=click.Choice(["week", "month"]),
    default="week",
    show_default=True,
    help="The ISO week or calendar month containing --at.",
)
@click.option("--at", "at_text", help="Evaluation time, ISO 8601 (default now; no zone = team's).")
@click.option("--rep", "rep_name", help="Only this rep (by name).")
@_format_option
@_out_option
@pass_context
def export_kpis(
    obj: CliContext,
    period: str,
    at_text: str | None,
    rep_name: str | None,
    fmt: str | None,
    out: Path | None,
) -> None:
    """Write each rep's KPIs and score for a week or month, one row per rep.

    The numbers are those `kpibot stats --json` shows for the same period and --at.
    Columns: rep, period, period_start, period_end, evaluated_at (in the team's zone;
    ISO 8601 in CSV), profile, every metric, score, red_line. Response time is in hours (mean,
    median) with the share of turns per band; rates are fractions 0..1; amounts are in
    the base currency (the currency column), as decimal strings in CSV.

    The default file is kpis-PERIOD-FIRSTDAY.EXT in this folder, FIRSTDAY being the
    period's first day, e.g. kpis-month-2025-03-01.csv.
    """
    fmt = _resolve_format(fmt, out)
    settings = _team_settings(obj)
    at = parse_at(at_text, settings.timezone)
    first_day = period_containing(period, at, settings.timezone).first_day
    path = out or Path(f"kpis-{period}-{first_day.isoformat()}.{fmt}")
    _check_writable(path)

    engine = obj.engine()
    if rep_name:
        results = [compute(engine, rep_name, period, at, settings)]
    else:
        results = compute_team(engine, period, at, settings)
    _write(kpi_table(results, settings.base_currency, settings.timezone), path, fmt)


def _reps(conn: Connection, rep_name: str | None) -> list[RepRow]:
    if rep_name is None:
        return kpi_queries.reps(conn)
    found = kpi_queries.rep_by_name(conn, rep_name)
    if found is None:
        raise NotFoundError(f"no rep {rep_name!r}; `kpibot rep list` shows the reps")
    return [found]


def _rep_rows(
    conn: Connection, rep: RepRow, start: datetime, end: datetime, clock: WorkingClock
) -> list[dict[str, object]]:
    """The export rows of the rep's conversations that start in ``[start, end)``."""
    messages = export_queries.conversation_messages(conn, rep.id, start, end, CONVERSATION_GAP)
    conversations = sorted(
        (
            conversation
            for customer_id, rows in messages.items()
            for conversation in split_conversations(customer_id, rows, clock)
            if start <= conversation.start < end
        ),
        key=lambda conversation: (conversation.start, conversation.customer_id),
    )
    if not conversations:
        return []
    ids = sorted({conversation.customer_id for conversation in conversations})
    first = min(conversation.start for conversation in conversations)
    last = max(conversation.end for conversation in conversations)
    signals = kpi_queries.quote_signals(conn, rep.id, first, last + _INCLUSIVE, ids)
    deal_times: dict[int, list[datetime]] = {}
    for deal in kpi_queries.deals(conn, rep.id, first, last + DEAL_FOLLOW_UP + _INCLUSIVE, ids):
        deal_times.setdefault(deal.customer_id, []).append(deal.closed_at)
    customers = {
        customer_id: CustomerInfo(row.wa_id, row.name)
        for customer_id, row in store.customers_by_id(conn, ids).items()
    }
    return conversation_rows(
        rep.name, conversations, customers, quote_request_times(signals), deal_times
    )


@export_group.command("conversations")
@click.option(
    "--since",
    callback=_parse_date,
    help=f"First day, YYYY-MM-DD (default: {DEFAULT_DAYS} days up to --until).",
)
@click.option("--until", callback=_parse_date, help="Last day, YYYY-MM-DD (default today).")
@click.option("--rep", "rep_name", help="Only this rep (by name).")
@_format_option
@_out_option
@pass_context
def export_conversations(
    obj: CliContext,
    since: date | None,
    until: date | None,
    rep_name: str | None,
    fmt: str | None,
    out: Path | None,
) -> None:
    """Write one row per conversation that starts between --since and --until.

    A conversation is a run of messages with one customer in which no gap exceeds 24
    hours, as the KPI engine counts it (reactions and automated messages left out); one
    that began before --since is not listed, one that starts in the window is written
    whole. Days are the team's calendar days, both ends included.

    Columns: rep, customer (number masked, +86 138****5678), customer_name, start, end
    (in the team's zone; ISO 8601 in CSV), turns, messages_in, messages_out, first_response_h
    (hours from the first customer turn the rep answered in the conversation to that
    answer, in working hours when the team sets them, not capped), quote_request (a
    quote request between its first and last message), deal_closed (a deal for that
    customer closed between its first message and 7 days after its last).

    The default file is conversations-SINCE-UNTIL.EXT in this folder.
    """
    fmt = _resolve_format(fmt, out)
    settings = _team_settings(obj)
    zone = settings.timezone
    until = until or utcnow().astimezone(zone).date()
    since = since or until - timedelta(days=DEFAULT_DAYS - 1)
    if since > until:
        raise click.BadParameter(
            f"{since.isoformat()} is after --until {until.isoformat()}", param_hint="--since"
        )
    path = out or Path(f"conversations-{since.isoformat()}-{until.isoformat()}.{fmt}")
    _check_writable(path)

    start = local_midnight(since, zone)
    end = local_midnight(until + timedelta(days=1), zone)
    clock = WorkingClock(settings)
    rows: list[dict[str, object]] = []
    with readonly(obj.engine()).connect() as conn:
        reps = _reps(conn, rep_name)
        for rep in reps:
            rows.extend(_rep_rows(conn, rep, start, end, clock))
    notes = [
        ("export", "conversations"),
        ("days", f"{since.isoformat()} to {until.isoformat()}, both included"),
        ("time zone", zone.key),
        ("reps", rep_name or "every active rep"),
        ("conversation", "messages with one customer, no gap over 24 hours"),
        ("first_response_h", "first customer turn answered in it; working hours if set"),
        ("deal_closed", "a deal closed from its first message to 7 days after its last"),
    ]
    logger.info("conversation export built reps=%d conversations=%d", len(reps), len(rows))
    _write(conversation_table(rows, zone, notes), path, fmt)
