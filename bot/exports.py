"""Spreadsheet exports: the KPI engine's numbers and the conversations behind them, as rows.

This module builds rows and writes files; it reads nothing from the store. The rows of
the KPI export come from :meth:`bot.metrics.engine.RepKpis.to_dict` (the very numbers
``kpibot stats --json`` prints), those of the conversation export from the engine's own
conversation rule (:mod:`bot.metrics.conversations`).

Cells are typed: text, counts, fractions, hours, money (:class:`~decimal.Decimal` in the
base currency), aware instants and flags. CSV writes them as plain text (UTF-8 with a
byte order mark, so Excel reads Chinese names right; instants ISO 8601 in the team's
zone; amounts as decimal strings); xlsx writes numbers, dates and booleans with number
formats, a frozen header row and rep column, a filter and fitted column widths.
"""

from __future__ import annotations

import csv
import logging
import os
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from bot.metrics.conversations import CONVERSATION_GAP, summarise_customer
from bot.metrics.engine import RepKpis
from bot.metrics.process import BANDS
from bot.metrics.worktime import WorkingClock
from bot.render import mask_customer_phone

logger = logging.getLogger(__name__)

FORMATS = ("csv", "xlsx")

# Cell kinds: how a value is typed and formatted.
TEXT, COUNT, NUMBER, RATE, HOURS, MONEY, TIME, FLAG = (
    "text",
    "count",
    "number",
    "rate",
    "hours",
    "money",
    "time",
    "flag",
)
_XLSX_FORMATS = {
    COUNT: "0",
    NUMBER: "0.0",
    RATE: "0.0%",
    HOURS: "0.00",
    MONEY: "#,##0.00",
    TIME: "yyyy-mm-dd hh:mm",
}
_WIDEST = 48
# A spreadsheet reads a CSV cell starting with one of these as a formula.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")

DEAL_FOLLOW_UP = timedelta(days=7)
"""A deal closed up to this long after a conversation's last message counts for it."""


@dataclass(frozen=True, slots=True)
class Column:
    """One column of an export.

    Attributes:
        name: the header.
        kind: text, count, number, rate, hours, money, time or flag.
        untrusted: text that outsiders choose (names); a CSV cell that would start a
            formula gets a leading apostrophe.
    """

    name: str
    kind: str
    untrusted: bool = False


@dataclass(frozen=True, slots=True)
class Table:
    """Rows ready to write.

    Attributes:
        title: the sheet's name.
        columns: the columns, in order.
        rows: one mapping per row from column name to a typed value (None for no data).
        zone: instants are written in this zone.
        notes: what the rows are, as ``(key, value)``; the xlsx gets them as a second sheet.
    """

    title: str
    columns: tuple[Column, ...]
    rows: list[dict[str, Any]]
    zone: ZoneInfo
    notes: list[tuple[str, str]] = field(default_factory=list)


KPI_COLUMNS: tuple[Column, ...] = (
    Column("rep", TEXT, untrusted=True),
    Column("period", TEXT),
    Column("period_start", TIME),
    Column("period_end", TIME),
    Column("evaluated_at", TIME),
    Column("profile", TEXT),
    Column("effective_reach", COUNT),
    Column("messages_sent", COUNT),
    Column("reply_rate", RATE),
    Column("active_customers", COUNT),
    Column("response_mean_h", HOURS),
    Column("response_median_h", HOURS),
    *(Column(f"response_{band}", RATE) for band in BANDS),
    Column("response_turns", COUNT),
    Column("response_pending", COUNT),
    Column("quote_rate", RATE),
    Column("deep_conversations", COUNT),
    Column("tag_accuracy", RATE),
    Column("conversion_rate", RATE),
    Column("currency", TEXT),
    Column("deal_amount", MONEY),
    Column("deal_amount_all", MONEY),
    Column("deals", COUNT),
    Column("order_value", MONEY),
    Column("margin", RATE),
    Column("repeat_amount", MONEY),
    Column("referrals", COUNT),
    Column("deals_below_margin", COUNT),
    Column("deals_without_rate", COUNT),
    Column("score", NUMBER),
    Column("red_line", TEXT),
)

CONVERSATION_COLUMNS: tuple[Column, ...] = (
    Column("rep", TEXT, untrusted=True),
    Column("customer", TEXT),
    Column("customer_name", TEXT, untrusted=True),
    Column("start", TIME),
    Column("end", TIME),
    Column("turns", COUNT),
    Column("messages_in", COUNT),
    Column("messages_out", COUNT),
    Column("first_response_h", HOURS),
    Column("quote_request", FLAG),
    Column("deal_closed", FLAG),
)


def _hours(seconds: float | None) -> float | None:
    return None if seconds is None else seconds / 3600


def _money(text: str | None) -> Decimal | None:
    return None if text is None else Decimal(text)


def kpi_row(kpis: RepKpis, base_currency: str) -> dict[str, Any]:
    """One rep's KPIs as a row, every number taken from :meth:`RepKpis.to_dict`.

    Args:
        kpis: the rep's KPIs for a period.
        base_currency: the currency the amounts are in.

    Returns:
        The row: response times in hours, the four response bands as separate shares,
        amounts as decimals, the lists of deals below margin or without a rate as counts.
    """
    data = kpis.to_dict()
    response = data["response_time"]
    bands = response["bands"] or {}
    return {
        "rep": data["rep"],
        "period": data["period_label"],
        "period_start": kpis.period.start,
        "period_end": kpis.period.end,
        "evaluated_at": kpis.evaluated_at,
        "profile": data["profile"],
        "effective_reach": data["effective_reach"],
        "messages_sent": data["messages_sent"],
        "reply_rate": data["reply_rate"],
        "active_customers": data["active_customers"],
        "response_mean_h": _hours(response["mean_s"]),
        "response_median_h": _hours(response["median_s"]),
        **{f"response_{band}": bands.get(band) for band in BANDS},
        "response_turns": response["turns"],
        "response_pending": response["pending"],
        "quote_rate": data["quote_rate"],
        "deep_conversations": data["deep_conversations"],
        "tag_accuracy": data["tag_accuracy"],
        "conversion_rate": data["conversion_rate"],
        "currency": base_currency,
        "deal_amount": _money(data["deal_amount"]),
        "deal_amount_all": _money(data["deal_amount_all"]),
        "deals": data["deals"],
        "order_value": _money(data["order_value"]),
        "margin": data["margin"],
        "repeat_amount": _money(data["repeat_amount"]),
        "referrals": data["referrals"],
        "deals_below_margin": len(data["deals_below_margin"]),
        "deals_without_rate": len(data["deals_without_rate"]),
        "score": data["score"],
        "red_line": data["red_line"],
    }


def kpi_table(results: Sequence[RepKpis], base_currency: str, zone: ZoneInfo) -> Table:
    """The KPI export of ``results``: one row per rep.

    Args:
        results: KPIs per rep, all of one period and evaluation time.
        base_currency: the team's base currency.
        zone: the team's zone.

    Returns:
        The table.
    """
    notes = [("export", "KPIs per rep"), ("time zone", zone.key), ("currency", base_currency)]
    if results:
        first = results[0]
        notes += [
            ("period", f"{first.period.kind.value} {first.period.label()}"),
            ("evaluated at", first.evaluated_at.astimezone(zone).isoformat()),
        ]
    notes.append(("numbers", "as `kpibot stats --json` gives them; rates are fractions 0..1"))
    rows = [kpi_row(kpis, base_currency) for kpis in results]
    return Table("kpis", KPI_COLUMNS, rows, zone, notes)


@dataclass(frozen=True, slots=True)
class Conversation:
    """A run of messages with one customer in which no gap exceeds 24 hours.

    Attributes:
        customer_id: the customer.
        start: the first message.
        end: the last message.
        turns: runs of consecutive messages from the same side.
        messages_in: the customer's messages (reactions left out).
        messages_out: the rep's messages of work (automated ones left out).
        first_response: working time from the start of the first customer turn the rep
            answered in the conversation to that answer; None when none was answered.
    """

    customer_id: int
    start: datetime
    end: datetime
    turns: int
    messages_in: int
    messages_out: int
    first_response: timedelta | None


def split_conversations(
    customer_id: int, rows: Sequence[tuple[datetime, bool]], clock: WorkingClock
) -> list[Conversation]:
    """Cut one customer's messages into conversations, as the KPI engine does.

    Args:
        customer_id: the customer.
        rows: ``(timestamp, is_inbound)`` of the messages that make turns, in time order.
        clock: measures response time (working hours when the team sets them).

    Returns:
        The conversations in time order.
    """
    runs: list[list[tuple[datetime, bool]]] = []
    for row in rows:
        if not runs or row[0] - runs[-1][-1][0] > CONVERSATION_GAP:
            runs.append([])
        runs[-1].append(row)
    return [_conversation(customer_id, run, clock) for run in runs]


def _conversation(
    customer_id: int, run: list[tuple[datetime, bool]], clock: WorkingClock
) -> Conversation:
    turns = sum(1 for i, (_, inbound) in enumerate(run) if i == 0 or run[i - 1][1] != inbound)
    inbound_count = sum(1 for _, inbound in run if inbound)
    # The engine's own turn pass over just this conversation: answers after its end
    # belong to a later conversation and do not count here.
    answered = [
        (turn.started_at, turn.answered_at)
        for turn in summarise_customer(customer_id, run).customer_turns
        if turn.answered_at is not None
    ]
    first_response = clock.elapsed(*min(answered)) if answered else None
    return Conversation(
        customer_id=customer_id,
        start=run[0][0],
        end=run[-1][0],
        turns=turns,
        messages_in=inbound_count,
        messages_out=len(run) - inbound_count,
        first_response=first_response,
    )


@dataclass(frozen=True, slots=True)
class CustomerInfo:
    """What the export shows of a customer: the WhatsApp id (masked when written) and name."""

    wa_id: str | None
    name: str | None


def conversation_rows(
    rep: str,
    conversations: Iterable[Conversation],
    customers: Mapping[int, CustomerInfo],
    quote_times: Mapping[int, Sequence[datetime]],
    deal_times: Mapping[int, Sequence[datetime]],
) -> list[dict[str, Any]]:
    """Rows of the conversation export for one rep.

    Args:
        rep: the rep's name.
        conversations: the rep's conversations to export.
        customers: the customers, by id.
        quote_times: when each customer made a quote request.
        deal_times: when each customer's deals (with this rep) closed.

    Returns:
        One row per conversation; the customer's number is masked (``+86 138****5678``).
        ``quote_request`` is true when a quote request falls between the conversation's
        first and last message; ``deal_closed`` when a deal closed between its first
        message and 7 days after its last.
    """
    rows = []
    for conv in conversations:
        customer = customers.get(conv.customer_id, CustomerInfo(None, None))
        quotes = quote_times.get(conv.customer_id, ())
        deals = deal_times.get(conv.customer_id, ())
        response = conv.first_response
        rows.append(
            {
                "rep": rep,
                "customer": mask_customer_phone(customer.wa_id),
                "customer_name": customer.name,
                "start": conv.start,
                "end": conv.end,
                "turns": conv.turns,
                "messages_in": conv.messages_in,
                "messages_out": conv.messages_out,
                "first_response_h": None if response is None else response.total_seconds() / 3600,
                "quote_request": any(conv.start <= at <= conv.end for at in quotes),
                "deal_closed": any(conv.start <= at <= conv.end + DEAL_FOLLOW_UP for at in deals),
            }
        )
    return rows


def conversation_table(
    rows: list[dict[str, Any]], zone: ZoneInfo, notes: list[tuple[str, str]]
) -> Table:
    """The conversation export.

    Args:
        rows: rows from :func:`conversation_rows`.
        zone: the team's zone.
        notes: what was exported (window, reps).

    Returns:
        The table.
    """
    return Table("conversations", CONVERSATION_COLUMNS, rows, zone, notes)


def _text(value: Any, column: Column, zone: ZoneInfo) -> str:
    """A value as CSV writes it."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, datetime):
        return value.astimezone(zone).isoformat()
    if isinstance(value, float):
        return repr(value)
    text = str(value)
    if column.untrusted and text.startswith(_FORMULA_STARTS):
        return "'" + text
    return text


def write_csv(table: Table, path: Path) -> None:
    """Write ``table`` as CSV: UTF-8 with a byte order mark, a header row, ``\\r\\n`` lines.

    Args:
        table: the rows.
        path: the file to write.
    """
    with path.open("w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(column.name for column in table.columns)
        for row in table.rows:
            writer.writerow(_text(row.get(c.name), c, table.zone) for c in table.columns)


def _cell_value(value: Any, zone: ZoneInfo) -> Any:
    if isinstance(value, datetime):
        # Excel has no time zones: the wall time in the team's zone (named in the notes).
        return value.astimezone(zone).replace(tzinfo=None)
    if isinstance(value, str):
        from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE  # type: ignore[import-untyped]

        # xlsx cannot hold control characters; a profile name may carry one.
        return ILLEGAL_CHARACTERS_RE.sub("", value)
    return value


def write_xlsx(table: Table, path: Path) -> None:
    """Write ``table`` as an xlsx workbook: typed cells with number formats, a bold
    frozen header row and first column, a filter, fitted widths, and a notes sheet.

    Args:
        table: the rows.
        path: the file to write.
    """
    # openpyxl is imported when a workbook is written: every kpibot command imports this
    # module, and most never write one.
    from openpyxl import Workbook  # type: ignore[import-untyped]
    from openpyxl.styles import Font  # type: ignore[import-untyped]
    from openpyxl.utils import get_column_letter  # type: ignore[import-untyped]

    book = Workbook()
    sheet = book.active
    sheet.title = table.title
    bold = Font(bold=True)
    widths = [len(column.name) for column in table.columns]
    for index, column in enumerate(table.columns, start=1):
        sheet.cell(row=1, column=index, value=column.name).font = bold
    for row_number, row in enumerate(table.rows, start=2):
        for index, column in enumerate(table.columns, start=1):
            value = row.get(column.name)
            cell = sheet.cell(row=row_number, column=index, value=_cell_value(value, table.zone))
            if cell.data_type == "f":
                cell.data_type = "s"  # text is never a formula, whatever it starts with
            if column.kind in _XLSX_FORMATS:
                cell.number_format = _XLSX_FORMATS[column.kind]
            shown = 16 if column.kind == TIME else len(_text(value, column, table.zone))
            widths[index - 1] = max(widths[index - 1], shown)
    for index, width in enumerate(widths, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = min(width + 2, _WIDEST)
    sheet.freeze_panes = "B2"
    last = get_column_letter(len(table.columns))
    sheet.auto_filter.ref = f"A1:{last}{len(table.rows) + 1}"

    notes = book.create_sheet("about")
    for key, text in table.notes:
        notes.append([key, text])
        notes.cell(row=notes.max_row, column=1).font = bold
    notes.column_dimensions["A"].width = 16
    notes.column_dimensions["B"].width = 72
    book.save(path)


def write_table(table: Table, path: Path, fmt: str) -> None:
    """Write ``table`` to ``path`` in ``fmt``, replacing the file only once it is complete.

    The file is written next to ``path`` under a temporary name and renamed over it, so
    a failed export never leaves half a file or spoils an earlier one. Like any file
    made with :func:`tempfile.mkstemp`, it is readable by its owner only.

    Args:
        table: the rows.
        path: the file to write.
        fmt: ``csv`` or ``xlsx``.

    Raises:
        ValueError: the format is unknown.
        OSError: the file cannot be written.
    """
    if fmt not in FORMATS:
        raise ValueError(f"unknown export format {fmt!r}; use csv or xlsx")
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    os.close(handle)
    try:
        (write_csv if fmt == "csv" else write_xlsx)(table, Path(temporary))
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    logger.info("export written table=%s format=%s rows=%d", table.title, fmt, len(table.rows))
