"""The stored ``message.content_key``: set by every path that writes content, kept right
when a later copy or an edit changes the content, and backfilled by migration 0007."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine, select

from bot import domain
from bot.content_keys import content_key, message_content_key
from storage import migrate
from storage.db import create_db_engine, session_factory, session_scope
from storage.ingest import insert_messages
from storage.models import Message
from tests.helpers import insert_old_messages
from tests.metrics.builders import Store, at

_message = Message.__table__  # type: ignore[attr-defined]


def _store(engine: Engine) -> Store:
    built = Store(engine)
    built.rep("Lily")
    return built


def _key(store: Store, wamid: str) -> int | None:
    value = store.column(wamid, "content_key")
    return None if value is None else int(value)  # type: ignore[call-overload]


def _event(
    wamid: str, content: domain.MessageContent, *, direction: str = "outbound"
) -> domain.MessageEvent:
    return domain.MessageEvent(
        number=domain.BusinessNumber(phone_number_id="pn-Lily", waba_id="waba-Lily"),
        customer=domain.CustomerRef(wa_id="c1"),
        message_id=wamid,
        direction=domain.Direction(direction),
        timestamp=at(hours=1),
        content=content,
        source=domain.MessageSource.ECHO,
    )


def test_outbound_text_caption_or_file_name_gives_the_key(engine: Engine) -> None:
    store = _store(engine)
    text = store.outbound("c1", at(hours=1), "Our NEW catalogue 2025")
    file = store.outbound("c1", at(hours=2), None, type="document", filename="Catalogue.pdf")
    caption = store.outbound("c1", at(hours=3), None, type="image", caption="Sample 7")
    inbound = store.inbound("c1", at(hours=4), "Our new catalogue 2025")
    blank = store.outbound("c1", at(hours=5), "   ")
    assert _key(store, text) == content_key("our new catalogue 0")
    assert _key(store, file) == content_key("catalogue.pdf")
    assert _key(store, caption) == content_key("sample 0")
    assert _key(store, inbound) is None
    assert _key(store, blank) is None


def test_a_status_before_its_message_gets_the_key_when_the_message_comes(
    engine: Engine,
) -> None:
    store = _store(engine)
    number = domain.BusinessNumber(phone_number_id="pn-Lily", waba_id="waba-Lily")
    status = domain.StatusEvent(
        number=number,
        customer=domain.CustomerRef(wa_id="c1"),
        message_id="wamid.early",
        status=domain.DeliveryStatus.DELIVERED,
        timestamp=at(hours=1, minutes=1),
    )
    store._apply([status])
    assert _key(store, "wamid.early") is None

    store._apply([_event("wamid.early", domain.MessageContent(type="text", text="Hi Ana"))])
    assert _key(store, "wamid.early") == content_key("hi ana")


def test_edits_change_the_key_and_an_older_edit_does_not(engine: Engine) -> None:
    store = _store(engine)
    wamid = store.outbound("c1", at(hours=1), "price list attached")
    store.edit(wamid, at(hours=3), "Dear Ana, your price", direction=domain.Direction.OUTBOUND)
    assert _key(store, wamid) == content_key("dear ana, your price")

    store.edit(
        wamid, at(hours=2), "price list attached again", direction=domain.Direction.OUTBOUND
    )
    assert _key(store, wamid) == content_key("dear ana, your price")


def test_an_edit_before_its_message_keeps_the_edited_key(engine: Engine) -> None:
    store = _store(engine)
    store.edit("wamid.late", at(hours=2), "Edited words", direction=domain.Direction.OUTBOUND)
    assert _key(store, "wamid.late") == content_key("edited words")

    store._apply([_event("wamid.late", domain.MessageContent(type="text", text="Typo wrods"))])
    assert _key(store, "wamid.late") == content_key("edited words")


def test_the_bulk_path_sets_the_key(engine: Engine) -> None:
    store = _store(engine)
    events = [
        _event("wamid.b1", domain.MessageContent(type="text", text="Hello 1")),
        _event("wamid.b2", domain.MessageContent(type="text", text="hello"), direction="inbound"),
    ]
    with session_scope(session_factory(engine)) as session:
        insert_messages(session, events)
    assert _key(store, "wamid.b1") == content_key("hello 0")
    assert _key(store, "wamid.b2") is None


def test_migration_0007_backfills_the_key(tmp_path: Path) -> None:
    engine = create_db_engine(f"sqlite:///{tmp_path / 'old.db'}")
    migrate.upgrade(engine, "0006")
    rows = [
        ("outbound", "text", "Price list 2025", None, None),
        ("outbound", "document", None, "See attached", "PL.pdf"),
        ("outbound", "image", None, "New stock", None),
        ("outbound", "unknown", None, None, None),
        ("inbound", "text", "Price list 2025", None, None),
    ]
    insert_old_messages(engine, rows)
    migrate.upgrade(engine)
    with engine.connect() as conn:
        keys = conn.execute(select(_message.c.content_key).order_by(_message.c.id)).scalars()
        stored = list(keys)
    engine.dispose()
    expected = [message_content_key(d, t, c, f) for d, _, t, c, f in rows]
    assert stored == expected
    assert expected[0] == content_key("price list 0")
    assert expected[1] == content_key("see attached")
    assert expected[3:] == [None, None]
