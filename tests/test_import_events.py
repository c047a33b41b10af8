"""``kpibot import events FILE``: JSON lines and CSV into the store, once, line by line."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner, Result
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from bot.cli import cli
from bot.events_command import LISTED_REJECTIONS, events_import
from storage.db import session_scope
from storage.models import Customer, CustomerEvent, CustomerTag, Deal, Message, Rep
from storage.reps import add_rep
from tests.helpers import kept_logging

WA_ID = "8613812345678"


def kpibot() -> click.Group:
    """The ``kpibot`` group with ``import events``, registered as the lead registers it."""
    existing = cli.commands.get("import")
    if isinstance(existing, click.Group) and "events" in existing.commands:
        return cli
    imports = click.Group("import", commands={"events": events_import})
    return click.Group(
        "kpibot",
        callback=cli.callback,
        params=cli.params,
        commands={**cli.commands, "import": imports},
    )


def run_import(engine: Engine, path: Path) -> Result:
    url = engine.url.render_as_string(hide_password=False)
    with kept_logging():
        return CliRunner().invoke(kpibot(), ["--database-url", url, "import", "events", str(path)])


def write_jsonl(path: Path, lines: list[Any]) -> Path:
    path.write_text(
        "\n".join(line if isinstance(line, str) else json.dumps(line) for line in lines) + "\n",
        encoding="utf-8",
    )
    return path


@pytest.fixture
def team(sessions: sessionmaker[Session]) -> None:
    """Li Wei and Ana are registered reps."""
    with session_scope(sessions) as session:
        add_rep(session, "Li Wei", ["555000111"])
        add_rep(session, "Ana", ["555000222"])


def quote(event_id: str, **fields: Any) -> dict[str, Any]:
    return {
        "id": event_id,
        "type": "quote",
        "timestamp": "2026-12-02T10:00:00Z",
        "customer": {"wa_id": WA_ID},
        **fields,
    }


def count(sessions: sessionmaker[Session], table: Any) -> int:
    with session_scope(sessions) as session:
        return int(session.execute(select(func.count()).select_from(table)).scalar_one())


@pytest.mark.usefixtures("team")
def test_a_jsonl_file_is_stored_and_a_second_import_adds_nothing(
    engine: Engine, sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    path = write_jsonl(
        tmp_path / "events.jsonl",
        [
            {
                "id": "m-1",
                "type": "message",
                "timestamp": 1764553800,
                "rep": "Li Wei",
                "direction": "inbound",
                "customer": {"wa_id": WA_ID, "name": "Wang Wei"},
                "text": "Do you ship to Lagos?",
            },
            quote("q-1", note="FOB Ningbo"),
            {**quote("d-1", rep="Ana"), "type": "deal", "amount": "980.25", "currency": "CNY"},
        ],
    )

    first = run_import(engine, path)
    second = run_import(engine, path)

    assert first.exit_code == 0, first.output
    assert first.stdout == "Imported events.jsonl: 3 accepted, 0 duplicates, 0 rejected.\n"
    assert second.stdout == "Imported events.jsonl: 0 accepted, 3 duplicates, 0 rejected.\n"
    with session_scope(sessions) as session:
        reps = {name: rep_id for rep_id, name in session.execute(select(Rep.id, Rep.name))}
        message = session.execute(select(Message)).scalar_one()
        quote_row = session.execute(select(CustomerEvent)).scalar_one()
        deal = session.execute(select(Deal)).scalar_one()
        name = session.execute(select(Customer.name)).scalar_one()
    assert (message.wamid, message.rep_id, message.source) == ("api:m-1", reps["Li Wei"], "api")
    assert (quote_row.kind, quote_row.rep_id, quote_row.note) == (
        "quote",
        reps["Li Wei"],
        "FOB Ningbo",
    )
    assert (deal.amount, deal.currency, deal.rep_id) == (Decimal("980.25"), "CNY", reps["Ana"])
    assert name == "Wang Wei"


@pytest.mark.usefixtures("team")
def test_a_csv_file_maps_its_columns_to_fields(
    engine: Engine, sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    path = tmp_path / "crm.csv"
    path.write_text(
        "id,type,timestamp,rep,direction,customer_wa_id,customer_name,text,automated,"
        "tag,amount,currency,margin,referred_by_wa_id\n"
        f"m-1,message,2026-12-01T09:30:00+08:00,Ana,outbound,+86 138 1234 5678,Wang Wei,"
        "Hello,yes,,,,,\n"
        f"t-1,tag,2026-12-01T10:00:00Z,,,{WA_ID},,,,High intent,,,,\n"
        f"d-1,deal,1764553800,Ana,,{WA_ID},,,,,12500.00,usd,0.18,34612345678\n",
        encoding="utf-8",
    )

    result = run_import(engine, path)

    assert result.exit_code == 0, result.output
    assert result.stdout == "Imported crm.csv: 3 accepted, 0 duplicates, 0 rejected.\n"
    with session_scope(sessions) as session:
        ana = session.execute(select(Rep.id).where(Rep.name == "Ana")).scalar_one()
        message = session.execute(select(Message)).scalar_one()
        tag = session.execute(select(CustomerTag)).scalar_one()
        deal = session.execute(select(Deal)).scalar_one()
        referrer = session.get(Customer, deal.referred_by_customer_id)
    assert (message.rep_id, message.is_automated, message.text) == (ana, True, "Hello")
    assert (tag.tag, tag.rep_id) == ("high-intent", ana)
    assert (deal.amount, deal.currency, deal.margin) == (Decimal("12500.00"), "USD", 0.18)
    assert referrer is not None
    assert referrer.wa_id == "34612345678"


@pytest.mark.usefixtures("team")
def test_bad_lines_are_reported_by_number_and_the_rest_imported(
    engine: Engine, sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    path = write_jsonl(
        tmp_path / "events.jsonl",
        [
            quote("q-1"),
            "{not json",
            "",
            quote("q-2", timestamp="yesterday"),
            quote("q-3", rep="Nobody"),
            quote("q-4"),
        ],
    )

    result = run_import(engine, path)

    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        "Imported events.jsonl: 2 accepted, 0 duplicates, 3 rejected.",
        "line 2: not JSON: Expecting property name enclosed in double quotes: "
        "line 1 column 2 (char 1)",
        "line 4: timestamp: not an ISO-8601 time with a zone or unix seconds: 'yesterday'",
        "line 5: rep: no rep called 'Nobody'",
    ]
    assert count(sessions, CustomerEvent) == 2


@pytest.mark.usefixtures("team")
def test_csv_line_numbers_count_the_header(engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "crm.csv"
    path.write_text(
        "id,type,timestamp,rep,direction,customer_wa_id,automated\n"
        f"q-1,quote,2026-12-01T10:00:00Z,,,{WA_ID},\n"
        f"m-1,message,2026-12-01T10:00:00Z,Ana,outbound,{WA_ID},maybe\n"
        f"q-2,quote,2026-12-01T10:00:00Z,,,{WA_ID},,extra\n",
        encoding="utf-8",
    )

    result = run_import(engine, path)

    assert result.stdout.splitlines()[1:] == [
        "line 3: automated: not true or false but 'maybe'",
        "line 4: more cells than the header has columns",
    ]


@pytest.mark.usefixtures("team")
def test_many_rejections_are_listed_up_to_a_limit_then_counted(
    engine: Engine, tmp_path: Path
) -> None:
    lines = [quote(f"q-{n}", timestamp="soon") for n in range(LISTED_REJECTIONS + 5)]
    path = write_jsonl(tmp_path / "events.jsonl", [quote("q-ok"), *lines])

    result = run_import(engine, path)

    output = result.stdout.splitlines()
    assert output[0] == "Imported events.jsonl: 1 accepted, 0 duplicates, 25 rejected."
    assert len(output) == 1 + LISTED_REJECTIONS + 1
    assert output[1].startswith("line 2: timestamp:")
    assert output[-1] == "… and 5 more rejected lines."


@pytest.mark.usefixtures("team")
def test_a_file_longer_than_one_batch_is_stored_whole(
    engine: Engine, sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    path = write_jsonl(tmp_path / "events.jsonl", [quote(f"q-{n}") for n in range(1_003)])

    result = run_import(engine, path)

    assert result.stdout == "Imported events.jsonl: 1003 accepted, 0 duplicates, 0 rejected.\n"
    assert count(sessions, CustomerEvent) == 1_003


@pytest.mark.usefixtures("team")
def test_a_file_with_nothing_usable_fails(engine: Engine, tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "events.jsonl", ["[1, 2]"])

    result = run_import(engine, path)

    assert result.exit_code == 1
    assert result.stdout.splitlines()[1] == "line 1: not a JSON object but an array"


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        pytest.param("missing.jsonl", None, "missing.jsonl: no such file", id="missing"),
        pytest.param(
            "events.json", "{}", "unknown kind of file '.json'; use .jsonl or .csv", id="extension"
        ),
        pytest.param(
            "crm.csv",
            "id,type,colour\n",
            "unknown column(s) 'colour'; the columns are",
            id="column",
        ),
        pytest.param("empty.csv", "", "unknown column(s) none", id="no-header"),
    ],
)
def test_a_file_kpibot_cannot_read_is_one_error_line(
    engine: Engine, tmp_path: Path, name: str, content: str | None, message: str
) -> None:
    path = tmp_path / name
    if content is not None:
        path.write_text(content, encoding="utf-8")

    result = run_import(engine, path)

    assert result.exit_code != 0
    lines = result.stderr.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("Error: ")
    assert message in lines[0]
