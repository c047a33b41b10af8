"""The stored ``message.quote_request`` flag: filled at ingest, reset when content may
change, backfilled by migration 0006, and never a change to any KPI."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, select, update

from bot import domain
from bot.metrics import compute
from bot.metrics.settings import parse_team_settings
from bot.quotes import is_quote_content
from storage import migrate
from storage.db import create_db_engine
from storage.models import Message
from tests.helpers import insert_old_messages
from tests.metrics.builders import Store, at

_message = Message.__table__  # type: ignore[attr-defined]


@pytest.fixture
def store(engine: Engine) -> Store:
    """A store with rep Lily."""
    built = Store(engine)
    built.rep("Lily")
    return built


def _flag(store: Store, wamid: str) -> bool | None:
    value = store.column(wamid, "quote_request")
    return None if value is None else bool(value)


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        pytest.param(("inbound", "text", "How much FOB?", None, None), True, id="asks"),
        pytest.param(("inbound", "image", None, "precio?", None), True, id="caption"),
        pytest.param(("inbound", "text", "I appreciate it", None, None), False, id="no-word"),
        pytest.param(("inbound", "document", None, None, "PI-7.pdf"), False, id="in-file"),
        pytest.param(("outbound", "document", None, None, "PI-7.pdf"), True, id="doc"),
        pytest.param(("outbound", "text", "our price list", None, None), False, id="out-text"),
    ],
)
def test_is_quote_content(
    args: tuple[str, str, str | None, str | None, str | None], expected: bool
) -> None:
    assert is_quote_content(*args) is expected


def test_ingest_stores_the_flag(store: Store) -> None:
    asks = store.inbound("c1", at(hours=1), "what is the price?")
    chats = store.inbound("c1", at(hours=2), "ok thanks")
    document = store.outbound("c1", at(hours=3), None, type="document", filename="Quotation.pdf")
    assert (_flag(store, asks), _flag(store, chats), _flag(store, document)) == (
        True,
        False,
        True,
    )


def test_a_redelivery_keeps_the_flag_and_an_edit_makes_it_unknown(store: Store) -> None:
    wamid = store.inbound("c1", at(hours=1), "ok thanks")
    store._apply(
        [
            domain.MessageEvent(
                number=store._number("Lily"),
                customer=domain.CustomerRef(wa_id="c1"),
                message_id=wamid,
                direction=domain.Direction.INBOUND,
                timestamp=at(hours=1),
                content=domain.MessageContent(type="text", text="ok thanks"),
            )
        ]
    )
    assert _flag(store, wamid) is False
    store.edit(wamid, at(hours=2), "and the price?")
    assert _flag(store, wamid) is None


def test_an_edit_that_asks_for_a_price_counts_as_a_quote_request(store: Store) -> None:
    store.outbound("c1", at(hours=1), read_after=timedelta(minutes=1))
    wamid = store.inbound("c1", at(hours=2), "ok thanks")
    store.edit(wamid, at(hours=3), "ok, and the price?")
    kpis = compute(store.engine, "Lily", "week", at(days=7) - timedelta(seconds=1))
    assert kpis.quote_rate == 1.0


def _scenario(store: Store) -> None:
    store.outbound("c1", at(hours=1), read_after=timedelta(minutes=1))
    store.inbound("c1", at(hours=2), "What are your PRICES for 20ft?")
    store.outbound("c2", at(hours=1, minutes=5), "hello there", read_after=timedelta(minutes=1))
    store.inbound("c2", at(hours=3), "I appreciate it")
    store.outbound("c3", at(hours=2), read_after=timedelta(minutes=1))
    store.outbound("c3", at(hours=4), None, type="document", filename="PI-2025-031.pdf")
    store.inbound("c4", at(days=-30), "how much for 500 units?")
    store.deal("c4", at(days=-10), "1000")
    store.inbound("c5", at(days=-200), "precio?")
    store.inbound("c5", at(days=-5), "precio?")
    store.inbound("c6", at(days=-5), "hello")
    store.tag("c6", at(days=-5))
    store.inbound("c6", at(days=-2), "cotización por favor")


def test_unknown_flags_give_the_same_kpis(store: Store) -> None:
    _scenario(store)
    settings = parse_team_settings({})
    when = at(days=7) - timedelta(seconds=1)
    known = compute(store.engine, "Lily", "week", when, settings).to_dict()
    with store.engine.begin() as conn:
        conn.execute(update(_message).values(quote_request=None))
    unknown = compute(store.engine, "Lily", "week", when, settings).to_dict()
    assert (known["quote_rate"], known["conversion_rate"], known["tag_accuracy"]) == (
        pytest.approx(2 / 3),
        0.25,  # c1, c3, c4 and c6 first asked in the 90 days; c4 bought
        1.0,
    )
    assert unknown == known


def test_migration_0006_backfills_the_flag(tmp_path: Path) -> None:
    engine = create_db_engine(f"sqlite:///{tmp_path / 'old.db'}")
    migrate.upgrade(engine, "0005")
    rows = [
        ("inbound", "text", "how much?", None, None),
        ("inbound", "text", "ok", None, None),
        ("outbound", "document", None, None, "Proforma_Invoice-12.pdf"),
        ("outbound", "text", "price list attached", None, None),
        ("inbound", "reaction", None, None, None),
    ]
    insert_old_messages(engine, rows)
    migrate.upgrade(engine)
    with engine.connect() as conn:
        flags = (
            conn.execute(select(_message.c.quote_request).order_by(_message.c.id)).scalars().all()
        )
    engine.dispose()
    assert [bool(flag) for flag in flags] == [True, False, True, False, False]
