"""``kpibot import chat-export`` through the command line, on every storage backend."""

from __future__ import annotations

import io
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from bot import import_command
from bot.cli import cli
from storage.models import BusinessNumber, Customer, Message, Rep
from storage.reps import add_rep

CUSTOMER_PHONE = "+34 612 34 56 78"
CUSTOMER_WA_ID = "34612345678"

CHAT = (
    "\u200e12/03/2026, 10:30 - Messages and calls are end-to-end encrypted. No one outside "
    "of this chat, not even WhatsApp, can read or listen to them.\n"
    "12/03/2026, 10:35 - Ana Lopez: Hello Carlos, here is our offer:\n"
    "FOB Ningbo, 30 days\n"
    "12/03/2026, 10:36 - Ana Lopez: 00000017-Quotation.pdf (file attached)\n"
    "13/03/2026, 09:00 - Carlos Ruiz: Thanks, looking at it\n"
    "13/03/2026, 09:01 - Carlos Ruiz: This message was deleted\n"
    "13/03/2026, 09:02 - Carlos Ruiz: <Media omitted>\n"
)


@pytest.fixture
def url(engine: Engine) -> str:
    """The test store's URL, password included, for --database-url."""
    return engine.url.render_as_string(hide_password=False)


@pytest.fixture
def rep_id(sessions: sessionmaker[Session]) -> int:
    """Rep Ana Lopez, with one registered business number."""
    with sessions.begin() as session:
        rep, _ = add_rep(session, "Ana Lopez", ["106540352242922"])
        assert rep.id is not None
        return rep.id


def run(url: str, *args: str, input: str | None = None) -> Result:
    return CliRunner().invoke(
        cli, ["--database-url", url, "import", "chat-export", *args], input=input
    )


def write(tmp_path: Path, text: str, name: str = "WhatsApp Chat with Carlos Ruiz.txt") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def stored(sessions: sessionmaker[Session]) -> list[tuple[Any, ...]]:
    with sessions() as session:
        rows = session.execute(
            select(
                Message.direction,
                Message.timestamp,
                Message.type,
                Message.text,
                Message.filename,
                Message.rep_id,
                Message.source,
                Customer.wa_id,
                Customer.name,
                BusinessNumber.phone_number_id,
            )
            .join(Customer, Customer.id == Message.customer_id)  # type: ignore[arg-type]
            .join(BusinessNumber, BusinessNumber.id == Message.business_number_id)  # type: ignore[arg-type]
            .order_by(Message.timestamp, Message.id)  # type: ignore[arg-type]
        ).all()
    return [tuple(row) for row in rows]


def message_count(sessions: sessionmaker[Session]) -> int:
    with sessions() as session:
        return int(session.execute(select(func.count()).select_from(Message)).scalar_one())


def test_import_stores_messages_with_direction_rep_customer_and_utc_times(
    url: str, rep_id: int, sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    path = write(tmp_path, CHAT)
    result = run(
        url,
        str(path),
        "--rep",
        "ana lopez",
        "--customer",
        CUSTOMER_PHONE,
        "--timezone",
        "Europe/Madrid",
    )

    assert result.exit_code == 0, result.output
    number = "106540352242922"
    assert stored(sessions) == [
        (
            "outbound",
            datetime(2026, 3, 12, 9, 35, tzinfo=UTC),
            "text",
            "Hello Carlos, here is our offer:\nFOB Ningbo, 30 days",
            None,
            rep_id,
            "import",
            CUSTOMER_WA_ID,
            "Carlos Ruiz",
            number,
        ),
        (
            "outbound",
            datetime(2026, 3, 12, 9, 36, tzinfo=UTC),
            "document",
            None,
            "00000017-Quotation.pdf",
            rep_id,
            "import",
            CUSTOMER_WA_ID,
            "Carlos Ruiz",
            number,
        ),
        (
            "inbound",
            datetime(2026, 3, 13, 8, 0, tzinfo=UTC),
            "text",
            "Thanks, looking at it",
            None,
            rep_id,
            "import",
            CUSTOMER_WA_ID,
            "Carlos Ruiz",
            number,
        ),
        (
            "inbound",
            datetime(2026, 3, 13, 8, 2, tzinfo=UTC),
            "media_placeholder",
            None,
            None,
            rep_id,
            "import",
            CUSTOMER_WA_ID,
            "Carlos Ruiz",
            number,
        ),
    ]


def test_summary_says_what_was_imported_skipped_and_which_date_order(
    url: str, rep_id: int, tmp_path: Path
) -> None:
    path = write(tmp_path, CHAT)
    result = run(
        url,
        str(path),
        "--rep",
        "Ana Lopez",
        "--customer",
        CUSTOMER_PHONE,
        "--timezone",
        "Europe/Madrid",
    )
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        "Chat of rep Ana Lopez (as 'Ana Lopez' in the chat) with customer Carlos Ruiz "
        "(+34612345678).",
        "Messages: 4 imported (new), 0 already present.",
        "Skipped: 1 system line, 1 deleted message.",
        "Date order: day/month/year (line 5 has 13/03/2026: a first number above 12 is a day).",
        "Times read as Europe/Madrid wall-clock time and stored in UTC.",
    ]


def test_importing_the_same_file_twice_adds_nothing(
    url: str, rep_id: int, sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    path = write(tmp_path, CHAT)
    args = (str(path), "--rep", "Ana Lopez", "--customer", CUSTOMER_PHONE)
    assert run(url, *args).exit_code == 0
    before = stored(sessions)

    again = run(url, *args)

    assert again.exit_code == 0, again.output
    assert "Messages: 0 imported (new), 4 already present." in again.stdout
    assert stored(sessions) == before


def test_overlapping_exports_store_shared_messages_once(
    url: str, rep_id: int, sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    first = write(tmp_path, CHAT, "first.txt")
    later = write(
        tmp_path,
        "13/03/2026, 09:00 - Carlos Ruiz: Thanks, looking at it\n"
        "14/03/2026, 11:00 - Carlos Ruiz: We order 2 containers\n"
        "14/03/2026, 11:01 - Carlos Ruiz: 00000020-PO-1187.pdf (file attached)\n",
        "later.txt",
    )
    # Only the customer wrote in the later export: naming the rep says the author is not her.
    common = (
        "--rep",
        "Ana Lopez",
        "--customer",
        CUSTOMER_PHONE,
        "--rep-name-in-chat",
        "Ana Lopez",
    )
    assert run(url, str(first), *common).exit_code == 0

    result = run(url, str(later), *common)

    assert "Messages: 2 imported (new), 1 already present." in result.stdout
    assert message_count(sessions) == 6


def test_timezone_defaults_to_the_teams(
    url: str,
    rep_id: int,
    sessions: sessionmaker[Session],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("KPIBOT_TIMEZONE", "Asia/Shanghai")
    path = write(tmp_path, "12/03/2026, 10:35 - Ana Lopez: hola\n")
    result = run(url, str(path), "--rep", "Ana Lopez", "--customer", CUSTOMER_PHONE)
    assert result.exit_code == 0, result.output
    assert stored(sessions)[0][1] == datetime(2026, 3, 12, 2, 35, tzinfo=UTC)
    assert "Times read as Asia/Shanghai wall-clock time" in result.stdout


def test_customer_number_from_the_author_name_and_rep_named_in_chat(
    url: str, rep_id: int, sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    path = write(
        tmp_path,
        "[03/12/2026, 10:35:12] Ana (sales): hola\n"
        "[03/12/2026, 10:36:00] \u202a+34 612 34 56 78\u202c: hi\n",
        "_chat.txt",
    )
    result = run(url, str(path), "--rep", "Ana Lopez", "--rep-name-in-chat", "ana (SALES)")
    assert result.exit_code == 0, result.output
    rows = stored(sessions)
    assert [(r[0], r[7], r[8]) for r in rows] == [
        ("outbound", CUSTOMER_WA_ID, None),
        ("inbound", CUSTOMER_WA_ID, None),
    ]
    assert "Date order: day/month/year (assumed: no date in the file shows" in result.stdout
    assert result.stdout.splitlines()[-2].startswith("Warning: every date in the file reads")


def test_customer_number_from_the_zip_file_name_and_a_new_import_number(
    url: str, sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    with sessions.begin() as session:
        rep = Rep(name="Li Na")  # on the Business app only: no number registered
        session.add(rep)
        session.flush()
        new_rep_id = rep.id
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(
            "_chat.txt", "[03/12/2026, 10:35:12] Li Na: \u200e<attached: 00000017-Quotation.pdf>\n"
        )
        archive.writestr("00000017-Quotation.pdf", b"%PDF-1.4")
    path = tmp_path / "WhatsApp Chat - +86 138 1234 5678.zip"
    path.write_bytes(buffer.getvalue())

    result = run(url, str(path), "--rep", "Li Na")

    assert result.exit_code == 0, result.output
    assert stored(sessions) == [
        (
            "outbound",
            datetime(2026, 12, 3, 2, 35, 12, tzinfo=UTC),
            "document",
            None,
            "00000017-Quotation.pdf",
            new_rep_id,
            "import",
            "8613812345678",
            None,
            f"chat-export:{new_rep_id}",
        )
    ]
    assert "customer +8613812345678." in result.stdout


def test_undecidable_side_is_asked_when_someone_is_at_the_keyboard(
    url: str,
    rep_id: int,
    sessions: sessionmaker[Session],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(import_command, "_stdin_is_tty", lambda: True)
    path = write(tmp_path, "12/03/2026, 10:35 - Annie: hola\n12/03/2026, 10:36 - Carlos: hi\n")
    result = run(
        url, str(path), "--rep", "Ana Lopez", "--customer", CUSTOMER_PHONE, input="Annie\n"
    )
    assert result.exit_code == 0, result.output
    assert "Which one is the rep" in result.output
    assert [r[0] for r in stored(sessions)] == ["outbound", "inbound"]


def test_unreadable_lines_are_listed_first_20_then_counted(
    url: str, rep_id: int, tmp_path: Path
) -> None:
    bad = "".join(f"31/02/2026, 10:{i:02d} - Carlos Ruiz: x\n" for i in range(23))
    path = write(tmp_path, "12/03/2026, 10:35 - Ana Lopez: hola\n" + bad)
    result = run(url, str(path), "--rep", "Ana Lopez", "--customer", CUSTOMER_PHONE)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    start = lines.index("Unreadable: 23 lines (the rest of the file was imported):")
    assert lines[start + 1] == (
        "  line 2: 31/02/2026 10:00 is not a date and time when read as day/month/year"
    )
    assert lines[start + 20].startswith("  line 21: ")
    assert lines[start + 21] == "  … and 3 more"
    assert "Messages: 1 imported (new), 0 already present." in lines


def _zip_without_chat(tmp_path: Path) -> Path:
    path = tmp_path / "media.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("IMG-20210428-WA0001.jpg", b"jpeg")
    return path


@pytest.mark.parametrize(
    ("make_file", "extra", "message"),
    [
        pytest.param(
            lambda tmp: tmp / "missing.txt",
            (),
            "Error: there is no file '{dir}/missing.txt'; give the .txt or .zip that "
            "WhatsApp's Export chat produced",
            id="file-missing",
        ),
        pytest.param(
            lambda tmp: write(tmp, "name,phone\nCarlos,+34\n", "contacts.csv"),
            (),
            "Error: contacts.csv is not a WhatsApp chat export: no line starts with a WhatsApp "
            "date and time (like '12/03/2026, 10:35 - Name: text' or '[03/12/2026, 10:35:12] "
            "Name: text'); in WhatsApp open the chat, choose More > Export chat, and give the "
            "file it makes",
            id="not-a-chat-export",
        ),
        pytest.param(
            lambda tmp: write(tmp, CHAT),
            ("--rep", "Bob"),
            "Error: no rep called 'Bob'; `kpibot rep list` shows the reps",
            id="unknown-rep",
        ),
        pytest.param(
            _zip_without_chat,
            (),
            "Error: media.zip holds no chat text file (_chat.txt or 'WhatsApp Chat with "
            "….txt'); it holds IMG-20210428-WA0001.jpg; give the zip WhatsApp's Export chat "
            "produced",
            id="zip-without-chat",
        ),
        pytest.param(
            lambda tmp: write(
                tmp,
                "12/03/2026, 10:35 - Ana Lopez: hola\n12/03/2026, 10:36 - Carlos: hi\n"
                "12/03/2026, 10:37 - Marta: hey\n",
                "team.txt",
            ),
            (),
            "Error: team.txt is a group chat (3 authors: Ana Lopez, Carlos, Marta); groups are "
            "not customers, so export the rep's 1:1 chat with each customer instead",
            id="group-chat",
        ),
        pytest.param(
            lambda tmp: write(
                tmp, "12/03/2026, 10:35 - Annie: hola\n12/03/2026, 10:36 - Carlos: hi\n", "c.txt"
            ),
            (),
            "Error: cannot tell which author is the rep 'Ana Lopez': the chat's authors are "
            "'Annie' and 'Carlos'; pass --rep-name-in-chat with the rep's name as the chat "
            "shows it",
            id="undecidable-side",
        ),
        pytest.param(
            lambda tmp: write(tmp, CHAT, "chat.txt"),
            ("--customer", "Carlos"),
            "Error: --customer 'Carlos' is not a phone number; write it with digits, '+' and "
            "spaces, e.g. --customer '+34 612 34 56 78'",
            id="customer-not-a-phone",
        ),
        pytest.param(
            lambda tmp: write(tmp, CHAT, "chat.txt"),
            (),
            "Error: cannot tell the phone number of the customer 'Carlos Ruiz' in chat.txt: "
            "neither the author name nor the file name is a number; pass --customer with it, "
            "e.g. --customer '+34 612 34 56 78'",
            id="customer-unknown",
        ),
        pytest.param(
            lambda tmp: write(tmp, CHAT),
            ("--customer", CUSTOMER_PHONE, "--timezone", "Mars"),
            "Error: 'Mars' is not a time zone; pass --timezone with a name such as "
            "Europe/Madrid or Asia/Shanghai",
            id="unknown-timezone",
        ),
    ],
)
def test_errors_are_one_line_naming_the_problem_and_the_fix(
    url: str,
    rep_id: int,
    sessions: sessionmaker[Session],
    tmp_path: Path,
    make_file: Any,
    extra: tuple[str, ...],
    message: str,
) -> None:
    path = make_file(tmp_path)
    args = extra if "--rep" in extra else ("--rep", "Ana Lopez", *extra)
    result = run(url, str(path), *args)
    assert result.exit_code == 1
    assert result.stderr.strip() == message.format(dir=tmp_path)
    assert message_count(sessions) == 0


def _big_export(path: Path, lines: int) -> tuple[int, int]:
    """Write a chat of exactly ``lines`` lines; returns (messages, attachments) in it."""
    start = datetime(2025, 1, 1, 8, 0)  # a wall time, as exports have
    out: list[str] = []
    messages = attachments = 0
    while len(out) < lines:
        when = start + timedelta(minutes=messages)
        author = "Ana Lopez" if messages % 2 else "Carlos Ruiz"
        header = f"{when:%d/%m/%Y, %H:%M} - {author}: "
        if messages % 7 == 3 and len(out) + 1 <= lines:
            out.append(header + f"IMG-{messages:08d}-WA0001.jpg (file attached)")
            attachments += 1
        elif messages % 5 == 0 and len(out) + 3 <= lines:
            out += [header + f"order {messages}:", "- 20ft: 1200 USD", "- 40ft: 2100 USD"]
        else:
            out.append(header + f"message {messages}")
        messages += 1
    path.write_text("\n".join(out) + "\n", encoding="utf-8")
    return messages, attachments


def test_a_50000_line_export_imports_completely(
    url: str, rep_id: int, sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    path = tmp_path / "WhatsApp Chat with +34 612 34 56 78.txt"
    messages, attachments = _big_export(path, 50_000)

    result = run(url, str(path), "--rep", "Ana Lopez")

    assert result.exit_code == 0, result.output
    assert f"Messages: {messages} imported (new), 0 already present." in result.stdout
    assert "Skipped: nothing." in result.stdout
    assert "Storing messages" in result.stderr
    assert message_count(sessions) == messages
    with sessions() as session:
        images = session.execute(
            select(func.count()).select_from(Message).where(Message.type == "image")  # type: ignore[arg-type]
        ).scalar_one()
    assert images == attachments

    again = run(url, str(path), "--rep", "Ana Lopez")
    assert f"Messages: 0 imported (new), {messages} already present." in again.stdout
    assert message_count(sessions) == messages
