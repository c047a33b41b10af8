"""The chat-export parser: every header shape, dates, attachments, skipped and bad lines."""

from __future__ import annotations

import io
import zipfile
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.domain import BusinessNumber, CustomerRef, Direction, MessageEvent, MessageSource
from bot.ingest.chat_export import (
    ChatExportError,
    DateOrder,
    parse_chat,
    phone_digits,
    phone_in_name,
    read_export,
    to_events,
)

NBSP = "\u00a0"
NNBSP = "\u202f"
LRM = "\u200e"
RLM = "\u200f"


def only_message(text: str, date_order: str | None = None) -> tuple[datetime, str, str | None]:
    parsed = parse_chat(text, date_order=date_order)
    assert not parsed.unreadable, parsed.unreadable
    assert len(parsed.messages) == 1, parsed.messages
    message = parsed.messages[0]
    return message.timestamp, message.author, message.text


@pytest.mark.parametrize(
    ("line", "date_order", "expected"),
    [
        pytest.param(
            "12/03/2026, 10:35 - Ana Lopez: hola",
            "dmy",
            datetime(2026, 3, 12, 10, 35),
            id="android-dmy-24h",
        ),
        pytest.param(
            "[03/12/2026, 10:35:12] Ana Lopez: hola",
            "mdy",
            datetime(2026, 3, 12, 10, 35, 12),
            id="ios-comma-seconds",
        ),
        pytest.param(
            "[15-01-20 02:22:56] Ana Lopez: hola",
            None,
            datetime(2020, 1, 15, 2, 22, 56),
            id="ios-no-comma-dashes-2digit-year",
        ),
        pytest.param(
            "2019/01/01, 11:25 - Ana Lopez: hola",
            None,
            datetime(2019, 1, 1, 11, 25),
            id="year-first",
        ),
        pytest.param(
            "[2018/06/13, 21:25:15] Ana Lopez: hola",
            None,
            datetime(2018, 6, 13, 21, 25, 15),
            id="ios-year-first",
        ),
        pytest.param(
            "13. 6. 2018. 21:25 - Ana Lopez: hola",
            None,
            datetime(2018, 6, 13, 21, 25),
            id="croatian-spaced-dots-dash",
        ),
        pytest.param(
            "13. 6. 2018. 21:25:15 Ana Lopez: hola",
            None,
            datetime(2018, 6, 13, 21, 25, 15),
            id="croatian-spaced-dots-no-dash",
        ),
        pytest.param(
            "13.6.2018 klo 21.25.15 - Ana Lopez: hola",
            None,
            datetime(2018, 6, 13, 21, 25, 15),
            id="finnish-klo-dot-time",
        ),
        pytest.param(
            "15.04.2016, 15:04 - Ana Lopez: hola",
            None,
            datetime(2016, 4, 15, 15, 4),
            id="german-dots",
        ),
        pytest.param(
            "[06.13.18 21:25:15] Ana Lopez: hola",
            None,
            datetime(2018, 6, 13, 21, 25, 15),
            id="ios-dots-month-first",
        ),
        pytest.param(
            "3/6/18, 1:55 PM - Ana Lopez: hola",
            "mdy",
            datetime(2018, 3, 6, 13, 55),
            id="12h-PM",
        ),
        pytest.param(
            "3/6/18, 1:55 am - Ana Lopez: hola",
            "dmy",
            datetime(2018, 6, 3, 1, 55),
            id="12h-am-lower",
        ),
        pytest.param(
            "3/6/18, 12:05 AM - Ana Lopez: hola",
            "dmy",
            datetime(2018, 6, 3, 0, 5),
            id="12h-midnight",
        ),
        pytest.param(
            "3/6/18, 12:05 p.m. - Ana Lopez: hola",
            "dmy",
            datetime(2018, 6, 3, 12, 5),
            id="12h-noon-p.m.",
        ),
        pytest.param(
            "01/01/2019, 11:25 a. m. - Ana Lopez: hola",
            None,
            datetime(2019, 1, 1, 11, 25),
            id="12h-spanish-a.-m.",
        ),
        pytest.param(
            f"3/6/2018 1:55 p.{NBSP}m. - Ana Lopez: hola",
            "dmy",
            datetime(2018, 6, 3, 13, 55),
            id="12h-p.-m.-nbsp-no-comma",
        ),
        pytest.param(
            f"3/6/18, 1:55{NNBSP}PM - Ana Lopez: hola",
            "dmy",
            datetime(2018, 6, 3, 13, 55),
            id="12h-narrow-nbsp-before-PM",
        ),
        pytest.param(
            "03-06-2018, 01.55 PM - Ana Lopez: hola",
            "dmy",
            datetime(2018, 6, 3, 13, 55),
            id="12h-dot-time-dashes",
        ),
        pytest.param(
            f"{LRM}[3/6/18 1:55:00 p. m.] Ana Lopez: hola",
            "dmy",
            datetime(2018, 6, 3, 13, 55),
            id="ios-leading-lrm-12h",
        ),
        pytest.param(
            f"{RLM}12/03/2026, 10:35 - Ana Lopez: hola",
            "dmy",
            datetime(2026, 3, 12, 10, 35),
            id="leading-rlm",
        ),
        pytest.param(
            "[01/01/19 11:25] Ana Lopez: hola",
            None,
            datetime(2019, 1, 1, 11, 25),
            id="ios-no-seconds",
        ),
    ],
)
def test_header_variants_give_wall_time_author_and_text(
    line: str, date_order: str | None, expected: datetime
) -> None:
    assert only_message(line + "\n", date_order) == (expected, "Ana Lopez", "hola")


@pytest.mark.parametrize(
    ("lines", "order", "reason_part", "assumed"),
    [
        pytest.param(
            ["01/02/2026, 10:00 - A: x", "25/02/2026, 10:00 - A: y"],
            DateOrder.DMY,
            "line 2 has 25/02/2026: a first number above 12 is a day",
            False,
            id="first-above-12-day-first",
        ),
        pytest.param(
            ["01/02/2026, 10:00 - A: x", "02/25/2026, 10:00 - A: y"],
            DateOrder.MDY,
            "line 2 has 02/25/2026: a second number above 12 is a day",
            False,
            id="second-above-12-month-first",
        ),
        pytest.param(
            ["2026-02-01, 10:00 - A: x"],
            DateOrder.YMD,
            "starts with the year",
            False,
            id="four-digit-first-year-first",
        ),
        pytest.param(
            ["01/02/2026, 10:00 - A: x", "03/04/2026, 10:00 - A: y"],
            DateOrder.DMY,
            "assumed",
            True,
            id="ambiguous-day-first-with-warning",
        ),
    ],
)
def test_date_order_is_inferred_from_the_whole_file(
    lines: list[str], order: DateOrder, reason_part: str, assumed: bool
) -> None:
    parsed = parse_chat("\n".join(lines))
    assert parsed.date_order is order
    assert reason_part in parsed.date_order_reason
    assert parsed.date_order_assumed is assumed


def test_date_order_override_reads_ambiguous_dates_month_first() -> None:
    parsed = parse_chat("01/02/2026, 10:00 - A: x\n", date_order="mdy")
    assert parsed.messages[0].timestamp == datetime(2026, 1, 2, 10, 0)
    assert parsed.date_order_reason == "chosen with --date-order"
    assert not parsed.date_order_assumed


def test_date_order_override_must_be_a_known_order() -> None:
    with pytest.raises(ChatExportError, match="'dym' is not one of dmy, mdy, ymd"):
        parse_chat("01/02/2026, 10:00 - A: x\n", date_order="dym")


def test_multi_line_messages_keep_their_continuation_lines() -> None:
    text = (
        "12/03/2026, 10:35 - Ana: Prices for March:\n"
        "- 20ft container: 1200 USD\n"
        "\n"
        "12/03/2026 is not a header without a time\n"
        "12/03/2026, 10:40 - Carlos: ok\n"
    )
    parsed = parse_chat(text)
    assert [(m.line, m.author, m.text) for m in parsed.messages] == [
        (
            1,
            "Ana",
            "Prices for March:\n- 20ft container: 1200 USD\n\n"
            "12/03/2026 is not a header without a time",
        ),
        (5, "Carlos", "ok"),
    ]


def test_crlf_line_endings_are_read_like_lf() -> None:
    parsed = parse_chat("12/03/2026, 10:35 - Ana: one\r\ntwo\r\n12/03/2026, 10:36 - Ana: x\r\n")
    assert [m.text for m in parsed.messages] == ["one\ntwo", "x"]


def test_system_lines_are_counted_and_kept_out_of_messages() -> None:
    text = (
        f"{LRM}12/03/2026, 10:30 - Messages and calls are end-to-end encrypted. No one outside "
        "of this chat, not even WhatsApp, can read or listen to them.\n"
        "12/03/2026, 10:31 - You were added\n"
        f"[12/03/2026, 10:32:00] Carlos: {LRM}Messages and calls are end-to-end encrypted.\n"
        "12/03/2026, 10:35 - Ana: hola\n"
    )
    parsed = parse_chat(text)
    assert [(s.line, s.reason) for s in parsed.system_lines] == [
        (1, "system line"),
        (2, "system line"),
        (3, "system line"),
    ]
    assert [m.author for m in parsed.messages] == ["Ana"]
    assert parsed.authors == ["Ana"]


@pytest.mark.parametrize(
    ("body", "type_", "filename", "caption"),
    [
        pytest.param(
            "IMG-20210428-WA0001.jpg (file attached)",
            "image",
            "IMG-20210428-WA0001.jpg",
            None,
            id="android-file-attached",
        ),
        pytest.param(
            "IMG-20210428-WA0001.jpg (file attached)\nour new warehouse",
            "image",
            "IMG-20210428-WA0001.jpg",
            "our new warehouse",
            id="android-attached-with-caption",
        ),
        pytest.param(
            f"{LRM}4f2680f1.jpg (Datei angehängt)",
            "image",
            "4f2680f1.jpg",
            None,
            id="android-german-attached",
        ),
        pytest.param(
            "< attached: 00000042-PHOTO-2020-06-07-15-13-20.jpg >",
            "image",
            "00000042-PHOTO-2020-06-07-15-13-20.jpg",
            None,
            id="ios-attached-spaces",
        ),
        pytest.param(
            f"{LRM}<attached: 00000017-Quotation.pdf>",
            "document",
            "00000017-Quotation.pdf",
            None,
            id="ios-quotation-pdf-keeps-filename",
        ),
        pytest.param(
            f"document.pdf • 2 pages {LRM}<attached: 00000018-document.pdf>",
            "document",
            "00000018-document.pdf",
            None,
            id="ios-document-pages",
        ),
        pytest.param(
            f"2015-08-04-PHOTO-00004762.jpg <{LRM}attached>",
            "image",
            "2015-08-04-PHOTO-00004762.jpg",
            None,
            id="ios-trailing-attached",
        ),
        pytest.param(
            "PTT-20260312-WA0003.opus (file attached)",
            "audio",
            "PTT-20260312-WA0003.opus",
            None,
            id="voice-note-audio",
        ),
        pytest.param(
            "VID-20260312-WA0004.mp4 (file attached)",
            "video",
            "VID-20260312-WA0004.mp4",
            None,
            id="video",
        ),
        pytest.param(
            "Price list 2026.xlsx (file attached)",
            "document",
            "Price list 2026.xlsx",
            None,
            id="spreadsheet-with-spaces-document",
        ),
    ],
)
def test_attachments_keep_type_and_filename(
    body: str, type_: str, filename: str, caption: str | None
) -> None:
    parsed = parse_chat(f"12/03/2026, 10:35 - Ana: {body}\n")
    message = parsed.messages[0]
    assert (message.type, message.filename, message.caption, message.text) == (
        type_,
        filename,
        caption,
        None,
    )
    assert not message.media_omitted


@pytest.mark.parametrize(
    ("body", "filename"),
    [
        pytest.param("<Media omitted>", None, id="english"),
        pytest.param("image omitted", None, id="ios-image"),
        pytest.param(f"{LRM}document omitted", None, id="ios-document-lrm"),
        pytest.param(
            f"{LRM}Quotation-77.pdf • 2 pages {LRM}document omitted",
            "Quotation-77.pdf",
            id="ios-document-with-name",
        ),
        pytest.param("<Medien ausgelassen>", None, id="german"),
        pytest.param("<Multimedia omitido>", None, id="spanish"),
        pytest.param("<Média omis>", None, id="french"),
        pytest.param("<Mídia oculta>", None, id="portuguese"),
        pytest.param("<Медиа пропущены>", None, id="russian"),
        pytest.param(f"<{RLM}تم استبعاد الوسائط{RLM}>", None, id="arabic-rlm"),
        pytest.param("<省略影音内容>", None, id="chinese"),
    ],
)
def test_media_omitted_becomes_a_placeholder(body: str, filename: str | None) -> None:
    message = parse_chat(f"12/03/2026, 10:35 - Carlos: {body}\n").messages[0]
    assert (message.type, message.filename, message.text) == (
        "media_placeholder",
        filename,
        None,
    )
    assert message.media_omitted


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        pytest.param("This message was deleted", "deleted message", id="deleted-by-customer"),
        pytest.param(f"{LRM}You deleted this message", "deleted message", id="deleted-by-rep"),
        pytest.param(".", "view-once media", id="view-once"),
    ],
)
def test_deleted_and_view_once_messages_are_skipped_with_a_reason(body: str, reason: str) -> None:
    parsed = parse_chat(f"12/03/2026, 10:35 - Carlos: {body}\n12/03/2026, 10:36 - Ana: ok\n")
    assert [(s.line, s.reason, s.author) for s in parsed.skipped] == [(1, reason, "Carlos")]
    assert [m.text for m in parsed.messages] == ["ok"]
    # A skipped message still shows who is in the chat.
    assert parsed.authors == ["Carlos", "Ana"]


def test_edited_marker_is_removed_from_the_text() -> None:
    parsed = parse_chat("12/03/2026, 10:35 - Ana: 1150 USD <This message was edited>\n")
    assert parsed.messages[0].text == "1150 USD"


def test_unreadable_lines_are_listed_with_line_numbers_and_do_not_stop_parsing() -> None:
    text = (
        "garbage before the chat\n"
        "12/03/2026, 10:35 - Ana: hola\n"
        "31/02/2026, 10:36 - Ana: no such day\n"
        "continuation of the bad line\n"
        "12/03/2026, 25:10 - Ana: no such hour\n"
        "12/03/2026, 13:10 PM - Ana: no such 12-hour time\n"
        "12/03/2026, 10:40 - Carlos: still read\n"
    )
    parsed = parse_chat(text)
    assert [(u.line, u.reason) for u in parsed.unreadable] == [
        (1, "text before the first dated line"),
        (3, "31/02/2026 10:36 is not a date and time when read as day/month/year"),
        (5, "12/03/2026 25:10 is not a date and time when read as day/month/year"),
        (6, "the hour 13 does not exist on a 12-hour clock"),
    ]
    assert [(m.line, m.text) for m in parsed.messages] == [(2, "hola"), (7, "still read")]


def test_text_without_any_header_is_not_a_chat_export() -> None:
    with pytest.raises(ChatExportError, match="no line starts with a WhatsApp date and time"):
        parse_chat("name,phone\nCarlos,+34 612 34 56 78\n")


def test_progress_is_reported_every_5000_lines_and_at_the_end() -> None:
    text = "12/03/2026, 10:35 - Ana: x\n" * 12_000
    seen: list[int] = []
    parse_chat(text, on_progress=seen.append)
    assert seen == [5_000, 10_000, 12_000]


# --- reading files ----------------------------------------------------------------------

CHAT = "12/03/2026, 10:35 - Ana: hola\n"


def zip_of(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def test_read_export_reads_a_txt_file_with_a_bom(tmp_path: Path) -> None:
    path = tmp_path / "WhatsApp Chat with Carlos.txt"
    path.write_bytes(b"\xef\xbb\xbf" + CHAT.encode())
    export = read_export(path)
    assert export.text == CHAT
    assert export.names == ("WhatsApp Chat with Carlos.txt",)


@pytest.mark.parametrize(
    "member",
    [
        pytest.param("_chat.txt", id="ios"),
        pytest.param("WhatsApp Chat with +34 612 34 56 78.txt", id="android"),
        pytest.param("export/_chat.txt", id="in-a-folder"),
    ],
)
def test_read_export_picks_the_chat_file_out_of_a_zip(member: str) -> None:
    data = zip_of({"00000017-Quotation.pdf": b"%PDF", member: CHAT.encode(), "notes.txt": b"x"})
    export = read_export(data, name="WhatsApp Chat - Carlos.zip")
    assert export.text == CHAT
    assert export.names == (Path(member).name, "WhatsApp Chat - Carlos.zip")


def test_read_export_of_a_zip_without_a_chat_names_what_it_holds() -> None:
    data = zip_of({"IMG-1.jpg": b"x", "00000017-Quotation.pdf": b"%PDF"})
    with pytest.raises(
        ChatExportError,
        match=r"media\.zip holds no chat text file .*it holds IMG-1\.jpg, 00000017-Quotation\.pdf",
    ):
        read_export(data, name="media.zip")


def test_read_export_of_a_broken_zip_says_so() -> None:
    with pytest.raises(ChatExportError, match=r"x\.zip is not a readable zip file"):
        read_export(b"PK\x03\x04 not really", name="x.zip")


def test_read_export_of_a_missing_file_names_it(tmp_path: Path) -> None:
    with pytest.raises(ChatExportError, match=r"there is no file '.*missing\.txt'"):
        read_export(tmp_path / "missing.txt")


# --- phones and events ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "digits"),
    [
        pytest.param("+34 612 34 56 78", "34612345678", id="spaced"),
        pytest.param("\u202a+34 612 34 56 78\u202c", "34612345678", id="bidi-wrapped"),
        pytest.param("+1 (555) 078-3881", "15550783881", id="brackets-dashes"),
        pytest.param("Carlos Ruiz", None, id="a-name"),
        pytest.param("+12 34", None, id="too-short"),
    ],
)
def test_phone_digits(value: str, digits: str | None) -> None:
    assert phone_digits(value) == digits


@pytest.mark.parametrize(
    ("name", "digits"),
    [
        pytest.param("WhatsApp Chat with +34 612 34 56 78.txt", "34612345678", id="android"),
        pytest.param("WhatsApp Chat - +86 138 1234 5678.zip", "8613812345678", id="ios-zip"),
        pytest.param("WhatsApp Chat with Carlos.txt", None, id="named-contact"),
        pytest.param("_chat.txt", None, id="ios-member"),
    ],
)
def test_phone_in_name(name: str, digits: str | None) -> None:
    assert phone_in_name(name) == digits


NUMBER = BusinessNumber(phone_number_id="106540352242922")
CUSTOMER = CustomerRef(wa_id="34612345678", name="Carlos")
MADRID = ZoneInfo("Europe/Madrid")


def events_of(text: str, tz: ZoneInfo = MADRID, rep_id: int = 1) -> list[MessageEvent]:
    return to_events(
        parse_chat(text), rep_id=rep_id, rep_author="Ana", number=NUMBER, customer=CUSTOMER, tz=tz
    )


def test_to_events_sets_direction_utc_time_source_and_content() -> None:
    events = events_of(
        "12/03/2026, 10:35 - Ana: hola\n"
        "13/03/2026, 09:00 - Carlos: Quotation-77.pdf (file attached)\n"
    )
    assert [(e.direction, e.timestamp, e.source) for e in events] == [
        (Direction.OUTBOUND, datetime(2026, 3, 12, 9, 35, tzinfo=UTC), MessageSource.IMPORT),
        (Direction.INBOUND, datetime(2026, 3, 13, 8, 0, tzinfo=UTC), MessageSource.IMPORT),
    ]
    assert events[0].content.text == "hola"
    assert (events[1].content.type, events[1].content.filename) == ("document", "Quotation-77.pdf")
    assert all(e.number == NUMBER and e.customer == CUSTOMER for e in events)
    assert all(e.message_id.startswith("import:") and len(e.message_id) == 47 for e in events)


@pytest.mark.parametrize(
    ("wall", "utc"),
    [
        pytest.param("29/03/2026, 02:30", datetime(2026, 3, 29, 1, 30, tzinfo=UTC), id="gap"),
        pytest.param("25/10/2026, 02:30", datetime(2026, 10, 25, 0, 30, tzinfo=UTC), id="fold"),
        pytest.param("25/10/2026, 03:30", datetime(2026, 10, 25, 2, 30, tzinfo=UTC), id="after"),
    ],
)
def test_dst_gaps_and_folds_read_with_the_offset_before_the_change(
    wall: str, utc: datetime
) -> None:
    assert events_of(f"{wall} - Ana: x\n")[0].timestamp == utc


def test_message_ids_repeat_across_imports_and_overlapping_exports() -> None:
    first = events_of("12/03/2026, 10:35 - Ana: hola\n12/03/2026, 10:36 - Carlos: hi\n")
    later = events_of("12/03/2026, 10:36 - Carlos: hi\n12/03/2026, 10:40 - Ana: quote sent\n")
    assert first[1].message_id == later[0].message_id
    assert first[0].message_id != later[1].message_id
    assert [e.message_id for e in first] == [
        e.message_id
        for e in events_of("12/03/2026, 10:35 - Ana: hola\n12/03/2026, 10:36 - Carlos: hi\n")
    ]


def test_identical_messages_in_one_minute_get_different_ids() -> None:
    events = events_of("12/03/2026, 10:35 - Carlos: ?\n12/03/2026, 10:35 - Carlos: ?\n")
    assert len({e.message_id for e in events}) == 2


def test_message_ids_differ_between_reps() -> None:
    text = "12/03/2026, 10:35 - Ana: hola\n"
    assert events_of(text, rep_id=1)[0].message_id != events_of(text, rep_id=2)[0].message_id


def test_to_events_needs_the_customers_number() -> None:
    with pytest.raises(ChatExportError, match="needs the customer's phone number"):
        to_events(
            parse_chat("12/03/2026, 10:35 - Ana: hola\n"),
            rep_id=1,
            rep_author="Ana",
            number=NUMBER,
            customer=CustomerRef(wa_id=None, user_id="US.1"),
            tz=MADRID,
        )
