"""``kpibot export``: KPI rows equal to ``kpibot stats --json``, conversation rows as the
engine cuts conversations, both formats, and clear errors for bad input."""

from __future__ import annotations

import csv
import json
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import click
import openpyxl
import pytest
from click.testing import CliRunner, Result
from sqlalchemy import Engine

from bot import domain
from bot.cli import cli
from bot.exports import KPI_COLUMNS, Column, Table, write_table
from storage.db import session_scope
from storage.ingest import apply_events
from storage.records import apply_record
from tests.metrics.builders import Store, at

SHANGHAI = ZoneInfo("Asia/Shanghai")
WANG = "8613812345678"  # Lily's customer, two conversations 25 hours apart
ANA = "14155550123"  # Lily's customer, one conversation and a deal
BRUNO = "5511987654321"  # Tom's customer, one conversation begun before the week

INTS = {
    "effective_reach",
    "messages_sent",
    "active_customers",
    "response_turns",
    "response_pending",
    "deep_conversations",
    "deals",
    "referrals",
    "deals_below_margin",
    "deals_without_rate",
    "turns",
    "messages_in",
    "messages_out",
}
FLOATS = {
    "reply_rate",
    "response_mean_h",
    "response_median_h",
    "response_le_4h",
    "response_le_12h",
    "response_le_24h",
    "response_unanswered_or_over_24h",
    "quote_rate",
    "tag_accuracy",
    "conversion_rate",
    "margin",
    "score",
    "first_response_h",
}
MONEY = {"deal_amount", "deal_amount_all", "order_value", "repeat_amount"}
TIMES = {"period_start", "period_end", "evaluated_at", "start", "end"}
FLAGS = {"quote_request", "deal_closed"}


def named_inbound(store: Store, wa_id: str, name: str, when: datetime, text: str) -> None:
    """A customer's first message, carrying their WhatsApp profile name."""
    event = domain.MessageEvent(
        number=domain.BusinessNumber(phone_number_id="pn-Lily", waba_id="waba-Lily"),
        customer=domain.CustomerRef(wa_id=wa_id, name=name),
        message_id=f"wamid.named.{wa_id}",
        direction=domain.Direction.INBOUND,
        timestamp=when,
        content=domain.MessageContent(type="text", text=text),
    )
    with session_scope(store.sessions) as session:
        apply_events(session, [event])


@pytest.fixture
def kpibot(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> click.Group:
    """``kpibot`` with the export group, on a store holding a week of two reps' traffic.

    The week is Monday 2025-03-03 to Sunday 2025-03-09 in Asia/Shanghai; ``at(h=…)``
    counts hours from its first instant.
    """
    monkeypatch.setattr("bot.cli_context.create_db_engine", lambda _url: engine)
    store = Store(engine)
    store.rep("Lily")
    store.rep("Tom")

    # Wang, conversation 1: out, in+in, out, in -> 4 turns; answered 3 h after "price?".
    store.outbound(WANG, at(hours=1), read_after=timedelta(minutes=2))
    named_inbound(store, WANG, "王芳", at(hours=2), "price?")
    store.inbound(WANG, at(hours=2, minutes=30), "FOB Shanghai please")
    store.outbound(WANG, at(hours=5), "USD 3.20 per unit")
    store.inbound(WANG, at(hours=6), "ok")
    store.tag(WANG, at(hours=2, minutes=10))
    # 25 hours later, conversation 2: in, (automated reply), out+out -> 2 turns.
    store.inbound(WANG, at(hours=31), "hello again")
    store.outbound(WANG, at(hours=31, minutes=1), "We will reply soon", automated=True)
    store.outbound(WANG, at(hours=31, minutes=30), "hello!")
    store.outbound(WANG, at(hours=32), "anything else?")
    # Wang buys 7 days 14 hours after conversation 1 ended: only conversation 2 gets it.
    with session_scope(store.sessions) as session:
        apply_record(
            session,
            domain.DealRecord(
                customer=domain.CustomerRef(wa_id=WANG),
                amount=Decimal("800.00"),
                currency="USD",
                timestamp=at(days=7, hours=20),
                rep="Lily",
            ),
        )

    # Ana (her profile name would be a formula in a spreadsheet): one conversation.
    store.outbound(ANA, at(days=1), read_after=timedelta(minutes=5))
    named_inbound(store, ANA, "=1+1", at(days=1, hours=1), "send the catalogue")
    store.outbound(ANA, at(days=1, hours=2), "here it is")
    store.deal(ANA, at(days=2), "1234.50", margin=0.3)

    # Bruno and Tom: begun on Sunday before the week; a gap of exactly 24 h does not split.
    for when, inbound in (
        (at(days=-1), True),
        (at(days=-1, hours=20), False),
        (at(hours=10), True),
        (at(days=1, hours=10), False),
    ):
        if inbound:
            store.inbound(BRUNO, when, "hola", rep="Tom")
        else:
            store.outbound(BRUNO, when, "buenos días", rep="Tom")
    # Tom's number is banned in the week: his score is 0, with the red line named.
    store.account_event(domain.AccountEventKind.BAN, at(days=1), rep="Tom", event="DISABLED")

    return cli


def run(engine: Engine, group: click.Group, tmp_path: Path, *args: str) -> Result:
    url = engine.url.render_as_string(hide_password=False)
    env = {"KPIBOT_TEAM_SETTINGS": str(tmp_path / "kpibot.toml"), "KPIBOT_LOG_LEVEL": "ERROR"}
    return CliRunner().invoke(group, ["--database-url", url, *args], env=env)


def read_csv(path: Path) -> list[dict[str, str]]:
    assert path.read_bytes().startswith(b"\xef\xbb\xbf"), "CSV must start with a UTF-8 BOM"
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle))


def parse_csv_cell(name: str, text: str) -> Any:
    """A CSV cell read back by hand, by what the column holds."""
    if text == "":
        return None
    if name in INTS:
        return int(text)
    if name in FLOATS:
        return float(text)
    if name in MONEY:
        return Decimal(text)
    if name in TIMES:
        parsed = datetime.fromisoformat(text)
        assert parsed.utcoffset() == timedelta(hours=8), f"{name} not in the team's zone"
        return parsed
    if name in FLAGS:
        return {"TRUE": True, "FALSE": False}[text]
    return text


def expected_from_stats(item: dict[str, Any]) -> dict[str, Any]:
    """What an export row must hold, taken from one object of ``kpibot stats --json``."""
    response = item["response_time"]
    bands = response["bands"] or {}

    def hours(seconds: float | None) -> float | None:
        return None if seconds is None else seconds / 3600

    def money(text: str | None) -> Decimal | None:
        return None if text is None else Decimal(text)

    return {
        "rep": item["rep"],
        "period": item["period_label"],
        "period_start": datetime.fromisoformat(item["period_start"]),
        "period_end": datetime.fromisoformat(item["period_end"]),
        "evaluated_at": datetime.fromisoformat(item["evaluated_at"]),
        "profile": item["profile"],
        "effective_reach": item["effective_reach"],
        "messages_sent": item["messages_sent"],
        "reply_rate": item["reply_rate"],
        "active_customers": item["active_customers"],
        "response_mean_h": hours(response["mean_s"]),
        "response_median_h": hours(response["median_s"]),
        "response_le_4h": bands.get("le_4h"),
        "response_le_12h": bands.get("le_12h"),
        "response_le_24h": bands.get("le_24h"),
        "response_unanswered_or_over_24h": bands.get("unanswered_or_over_24h"),
        "response_turns": response["turns"],
        "response_pending": response["pending"],
        "quote_rate": item["quote_rate"],
        "deep_conversations": item["deep_conversations"],
        "tag_accuracy": item["tag_accuracy"],
        "conversion_rate": item["conversion_rate"],
        "currency": "USD",
        "deal_amount": money(item["deal_amount"]),
        "deal_amount_all": money(item["deal_amount_all"]),
        "deals": item["deals"],
        "order_value": money(item["order_value"]),
        "margin": item["margin"],
        "repeat_amount": money(item["repeat_amount"]),
        "referrals": item["referrals"],
        "deals_below_margin": len(item["deals_below_margin"]),
        "deals_without_rate": len(item["deals_without_rate"]),
        "score": item["score"],
        "red_line": item["red_line"],
    }


def stats_json(engine: Engine, group: click.Group, tmp_path: Path, *args: str) -> list[Any]:
    result = run(engine, group, tmp_path, "stats", "--json", *args)
    assert result.exit_code == 0, result.output
    items: list[Any] = json.loads(result.output)
    return items


@pytest.mark.parametrize(
    ("period", "at_text", "lily_deals"),
    [("week", "2025-03-05T12:00", "1234.50"), ("month", "2025-03-31T23:00+08:00", "2034.50")],
)
def test_kpi_csv_equals_stats_json(
    engine: Engine,
    kpibot: click.Group,
    tmp_path: Path,
    period: str,
    at_text: str,
    lily_deals: str,
) -> None:
    at_args = ("--at", at_text)
    out = tmp_path / "kpis.csv"
    result = run(
        engine, kpibot, tmp_path, "export", "kpis", "--period", period, *at_args, "--out", str(out)
    )
    assert result.exit_code == 0, result.output
    assert result.output.strip() == f"Wrote 2 rows to {out.resolve()}"

    items = stats_json(engine, kpibot, tmp_path, "--period", period, *at_args)
    expected = [expected_from_stats(item) for item in items]
    rows = read_csv(out)
    assert list(rows[0]) == [column.name for column in KPI_COLUMNS]
    got = [{name: parse_csv_cell(name, text) for name, text in row.items()} for row in rows]
    assert got == expected
    lily = rows[0]
    assert lily["deal_amount"] == items[0]["deal_amount"]  # the very decimal string
    assert Decimal(lily["deal_amount"]) == Decimal(lily_deals)
    assert lily["tag_accuracy"] == ("" if period == "week" else "1.0")
    assert rows[1]["score"] == "0.0"
    assert rows[1]["red_line"].startswith("ban")
    assert lily["period_start"] == (
        "2025-03-03T00:00:00+08:00" if period == "week" else "2025-03-01T00:00:00+08:00"
    )


def test_kpi_xlsx_equals_stats_json(engine: Engine, kpibot: click.Group, tmp_path: Path) -> None:
    out = tmp_path / "kpis.xlsx"
    result = run(
        engine, kpibot, tmp_path, "export", "kpis", "--at", "2025-03-05T12:00", "--out", str(out)
    )
    assert result.exit_code == 0, result.output
    expected = stats_json(engine, kpibot, tmp_path, "--at", "2025-03-05T12:00")

    book = openpyxl.load_workbook(out)
    sheet = book["kpis"]
    header = [cell.value for cell in sheet[1]]
    assert header == [column.name for column in KPI_COLUMNS]
    assert all(cell.font.bold for cell in sheet[1])
    assert sheet.freeze_panes == "B2"
    assert sheet.column_dimensions["A"].width >= len("rep")
    assert "about" in book.sheetnames

    for row, item in zip(sheet.iter_rows(min_row=2), expected, strict=True):
        cells = {name: cell for name, cell in zip(header, row, strict=True)}
        for name, want in expected_from_stats(item).items():
            value = cells[name].value
            if name in TIMES:
                assert value.replace(tzinfo=SHANGHAI) == want, name
            elif name in MONEY:
                assert value == (None if want is None else float(want)), name
                assert cells[name].number_format == "#,##0.00"
            else:
                assert value == want, name
        assert cells["messages_sent"].data_type == "n"
        assert cells["reply_rate"].number_format == "0.0%"
        assert cells["response_mean_h"].number_format == "0.00"
    assert sheet.max_row == 3


def test_kpis_for_one_rep_with_default_file_name(
    engine: Engine, kpibot: click.Group, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = run(
        engine, kpibot, tmp_path, "export", "kpis", "--rep", "tom", "--period", "month",
        "--at", "2025-03-14", "--format", "xlsx",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    path = tmp_path / "kpis-month-2025-03-01.xlsx"
    assert result.output.strip() == f"Wrote 1 row to {path}"
    rows = list(openpyxl.load_workbook(path)["kpis"].iter_rows(min_row=2, values_only=True))
    assert [row[0] for row in rows] == ["Tom"]


def test_conversations_as_hand_counted(
    engine: Engine, kpibot: click.Group, tmp_path: Path
) -> None:
    out = tmp_path / "conversations.csv"
    result = run(
        engine, kpibot, tmp_path, "export", "conversations",
        "--since", "2025-03-03", "--until", "2025-03-09", "--out", str(out),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert result.output.strip() == f"Wrote 3 rows to {out.resolve()}"
    raw = out.read_text(encoding="utf-8-sig")
    assert WANG not in raw  # never a full number
    assert ANA not in raw

    rows = [{k: parse_csv_cell(k, v) for k, v in row.items()} for row in read_csv(out)]
    wang_1, ana, wang_2 = rows
    assert wang_1 == {
        "rep": "Lily",
        "customer": "+86 138****5678",
        "customer_name": "王芳",
        "start": at(hours=1),
        "end": at(hours=6),
        "turns": 4,
        "messages_in": 3,
        "messages_out": 2,
        "first_response_h": 3.0,
        "quote_request": True,
        "deal_closed": False,
    }
    assert wang_2 == {
        **wang_1,
        "start": at(hours=31),
        "end": at(hours=32),
        "turns": 2,
        "messages_in": 1,
        "messages_out": 2,  # the automated reply is not the rep's work
        "first_response_h": 0.5,
        "quote_request": False,
        "deal_closed": True,
    }
    assert ana["customer"] == "+1 415****0123"
    assert ana["customer_name"] == "'=1+1"  # a spreadsheet must not run it
    assert (ana["turns"], ana["first_response_h"], ana["deal_closed"]) == (3, 1.0, True)


def test_conversation_begun_before_the_window_is_written_whole(
    engine: Engine, kpibot: click.Group, tmp_path: Path
) -> None:
    out = tmp_path / "tom.xlsx"
    in_week = run(
        engine, kpibot, tmp_path, "export", "conversations", "--rep", "Tom",
        "--since", "2025-03-03", "--until", "2025-03-09", "--out", str(out),
    )  # fmt: skip
    assert in_week.exit_code == 0, in_week.output
    assert in_week.output.startswith("Wrote 0 rows")

    sunday = run(
        engine, kpibot, tmp_path, "export", "conversations", "--rep", "Tom",
        "--since", "2025-03-02", "--until", "2025-03-02", "--out", str(out),
    )  # fmt: skip
    assert sunday.exit_code == 0, sunday.output
    sheet = openpyxl.load_workbook(out)["conversations"]
    header = [cell.value for cell in sheet[1]]
    (row,) = [
        dict(zip(header, r, strict=True)) for r in sheet.iter_rows(min_row=2, values_only=True)
    ]
    assert row["customer"] == "+55 119****4321"
    assert row["start"].replace(tzinfo=SHANGHAI) == at(days=-1)
    assert row["end"].replace(tzinfo=SHANGHAI) == at(days=1, hours=10)  # past --until
    assert (row["turns"], row["messages_in"], row["messages_out"]) == (4, 2, 2)
    assert row["first_response_h"] == 20.0
    assert row["quote_request"] is False
    assert sheet.freeze_panes == "B2"
    assert sheet.cell(row=2, column=header.index("start") + 1).number_format == "yyyy-mm-dd hh:mm"


def test_formula_like_names_stay_text_in_xlsx(
    engine: Engine, kpibot: click.Group, tmp_path: Path
) -> None:
    out = tmp_path / "conversations.xlsx"
    result = run(
        engine, kpibot, tmp_path, "export", "conversations",
        "--since", "2025-03-04", "--until", "2025-03-04", "--out", str(out),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    sheet = openpyxl.load_workbook(out)["conversations"]
    names = [(cell.value, cell.data_type) for cell in sheet["C"][1:]]
    assert names == [("=1+1", "s"), ("王芳", "s")]


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (
            ("kpis", "--rep", "Nobody"),
            1,
            "Error: no rep 'Nobody'; `kpibot rep list` shows the reps",
        ),
        (("conversations", "--rep", "Nobody"), 1, "Error: no rep 'Nobody'"),
        (("conversations", "--since", "2025-02-30"), 2, "'2025-02-30' is not a date"),
        (("kpis", "--at", "yesterday"), 2, "'yesterday' is not a date or time"),
        (("kpis", "--format", "pdf"), 2, "Invalid value for '--format'"),
        (("conversations", "--since", "2025-03-09", "--until", "2025-03-03"), 2, "is after"),
        (("kpis", "--format", "csv", "--out", "x.xlsx"), 2, "ends in .xlsx but the format"),
        (("kpis", "--out", "{tmp}/missing/k.csv"), 1, "folder {tmp}/missing does not exist"),
        (("conversations", "--out", "{tmp}"), 2, "is a directory"),
    ],
)
def test_bad_input_gets_one_clear_line(
    engine: Engine,
    kpibot: click.Group,
    tmp_path: Path,
    args: tuple[str, ...],
    code: int,
    message: str,
) -> None:
    filled = [arg.replace("{tmp}", str(tmp_path)) for arg in args]
    result = run(engine, kpibot, tmp_path, "export", *filled)
    assert result.exit_code == code, result.output
    errors = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1
    assert message.replace("{tmp}", str(tmp_path)) in errors[0]
    assert not list(tmp_path.glob("*.csv"))
    assert not list(tmp_path.glob("*.xlsx"))


def test_failed_write_keeps_the_earlier_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "k.csv"
    path.write_text("earlier export", encoding="utf-8")
    table = Table("t", (Column("rep", "text"),), [{"rep": "Lily"}], SHANGHAI)

    def broken(_table: Table, partial: Path) -> None:
        partial.write_text("half", encoding="utf-8")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("bot.exports.write_csv", broken)
    with pytest.raises(OSError, match="No space left"):
        write_table(table, path, "csv")
    assert path.read_text(encoding="utf-8") == "earlier export"
    assert [p.name for p in tmp_path.iterdir()] == ["k.csv"]


def test_xlsx_drops_characters_it_cannot_hold(tmp_path: Path) -> None:
    path = tmp_path / "names.xlsx"
    columns = (Column("customer_name", "text", untrusted=True), Column("turns", "count"))
    table = Table("t", columns, [{"customer_name": "Ana\x07 Lima", "turns": 3}], SHANGHAI)
    write_table(table, path, "xlsx")
    sheet = openpyxl.load_workbook(path)["t"]
    assert [cell.value for cell in sheet[2]] == ["Ana Lima", 3]
    assert sheet.auto_filter.ref == "A1:B2"


def test_help_says_what_the_files_hold(kpibot: click.Group) -> None:
    conversations = CliRunner().invoke(kpibot, ["export", "conversations", "--help"])
    assert conversations.exit_code == 0
    text = " ".join(conversations.output.split())
    assert "7 days after its last" in text
    assert "byte order mark" in text
    kpis = CliRunner().invoke(kpibot, ["export", "kpis", "--help"])
    assert "kpibot stats --json" in kpis.output
