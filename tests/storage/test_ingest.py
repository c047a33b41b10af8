"""apply_events: messages stored once, statuses only climb, any order gives the same rows."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from bot import domain
from bot.content_keys import content_key
from bot.domain import DeliveryStatus as S
from bot.domain import Direction, MessageContent, MessageSource
from storage.db import session_scope
from storage.ingest import ApplyStats, apply_events, is_automated_marker
from storage.models import AccountEvent, BusinessNumber, Customer, Message
from storage.reps import RepConflictError, add_rep
from tests.helpers import (
    CUSTOMER,
    NUMBER,
    PHONE_NUMBER_ID,
    at,
    message_event,
    status_event,
)

ECHO_TEXT = MessageContent(type="text", text="Price list attached", context_message_id="wamid.q")


def apply(sessions: sessionmaker[Session], *events: domain.DomainEvent) -> ApplyStats:
    """Apply events in one transaction, as the normaliser does."""
    with session_scope(sessions) as session:
        return apply_events(session, events)


def messages(sessions: sessionmaker[Session]) -> list[Message]:
    with session_scope(sessions) as session:
        return list(session.execute(select(Message).order_by(Message.wamid)).scalars())


def only_message(sessions: sessionmaker[Session]) -> Message:
    (row,) = messages(sessions)
    return row


def customers(sessions: sessionmaker[Session]) -> list[Customer]:
    with session_scope(sessions) as session:
        return list(session.execute(select(Customer).order_by(Customer.id)).scalars())


# --- messages -----------------------------------------------------------------------------


def test_message_stored_with_its_number_and_customer(sessions: sessionmaker[Session]) -> None:
    stats = apply(sessions, message_event("wamid.a", offset=5))
    row = only_message(sessions)
    assert (row.wamid, row.direction, row.type, row.text, row.source) == (
        "wamid.a",
        "inbound",
        "text",
        "hello",
        "webhook",
    )
    assert row.timestamp == at(5)
    assert row.rep_id is None
    assert stats.messages_new == 1
    with session_scope(sessions) as session:
        number = session.execute(select(BusinessNumber)).scalar_one()
        customer = session.execute(select(Customer)).scalar_one()
    assert (number.phone_number_id, number.display_number, number.waba_id) == (
        NUMBER.phone_number_id,
        NUMBER.display_number,
        NUMBER.waba_id,
    )
    assert (customer.wa_id, customer.name) == (CUSTOMER.wa_id, CUSTOMER.name)
    assert (row.business_number_id, row.customer_id) == (number.id, customer.id)


def test_message_id_stored_once(sessions: sessionmaker[Session]) -> None:
    first = apply(sessions, message_event("wamid.a"), message_event("wamid.a"))
    second = apply(sessions, message_event("wamid.a"))
    assert len(messages(sessions)) == 1
    assert (first.messages_new, first.messages_merged, second.messages_merged) == (1, 1, 1)


def test_later_copy_does_not_overwrite_content(sessions: sessionmaker[Session]) -> None:
    apply(sessions, message_event("wamid.a", content=MessageContent(type="text", text="one")))
    apply(sessions, message_event("wamid.a", content=MessageContent(type="text", text="two")))
    assert only_message(sessions).text == "one"


def test_history_media_placeholder_completed_by_media_follow_up(
    sessions: sessionmaker[Session],
) -> None:
    placeholder = message_event(
        "wamid.media",
        offset=100,
        direction=Direction.OUTBOUND,
        content=MessageContent(type="media_placeholder"),
        source=MessageSource.HISTORY,
        history_status=S.PLAYED,
    )
    follow_up = message_event(
        "wamid.media",
        offset=90,
        direction=Direction.OUTBOUND,
        content=MessageContent(type="image", caption="Black Prince", mime_type="image/jpeg"),
        source=MessageSource.HISTORY,
    )
    apply(sessions, placeholder)
    apply(sessions, follow_up)
    row = only_message(sessions)
    assert (row.type, row.caption, row.mime_type, row.status) == (
        "image",
        "Black Prince",
        "image/jpeg",
        "played",
    )
    assert row.timestamp == at(90)
    assert row.played_at is None  # the backfill says how far, not when


def test_history_error_status_records_failure_in_either_order(
    sessions: sessionmaker[Session],
) -> None:
    failed = message_event(
        "wamid.h", source=MessageSource.HISTORY, history_status=S.FAILED, offset=7
    )
    plain = message_event("wamid.h", source=MessageSource.HISTORY, offset=7)
    apply(sessions, plain, failed)
    row = only_message(sessions)
    assert (row.status, row.failed_at) == (None, at(7))


# --- statuses -----------------------------------------------------------------------------


def test_status_for_unseen_message_creates_outbound_message(
    sessions: sessionmaker[Session],
) -> None:
    apply(sessions, status_event("wamid.o", S.SENT, offset=10))
    row = only_message(sessions)
    assert (row.direction, row.type, row.source, row.status) == (
        "outbound",
        "unknown",
        "webhook",
        "sent",
    )
    assert (row.timestamp, row.sent_at, row.delivered_at) == (at(10), at(10), None)
    assert (row.is_template, row.template_category, row.is_automated) == (False, None, False)


@pytest.mark.parametrize(
    ("order", "status", "times"),
    [
        pytest.param(
            [(S.SENT, 1), (S.DELIVERED, 2), (S.READ, 3)],
            "read",
            (1, 2, 3),
            id="in-order",
        ),
        pytest.param(
            [(S.READ, 3), (S.DELIVERED, 2), (S.SENT, 1)],
            "read",
            (1, 2, 3),
            id="reversed",
        ),
        pytest.param(
            [(S.SENT, 1), (S.READ, 3)], "read", (1, None, 3), id="read-without-delivered"
        ),
        pytest.param([(S.READ, 3), (S.SENT, 1)], "read", (1, None, 3), id="read-before-sent"),
        pytest.param(
            [(S.DELIVERED, 2), (S.SENT, 1), (S.DELIVERED, 2)],
            "delivered",
            (1, 2, None),
            id="duplicate-delivered",
        ),
    ],
)
def test_statuses_only_move_forward(
    sessions: sessionmaker[Session],
    order: list[tuple[S, int]],
    status: str,
    times: tuple[int | None, int | None, int | None],
) -> None:
    apply(sessions, *(status_event("wamid.o", s, offset=t) for s, t in order))
    row = only_message(sessions)
    expected = tuple(None if t is None else at(t) for t in times)
    assert row.status == status
    assert (row.sent_at, row.delivered_at, row.read_at) == expected
    assert row.timestamp == at(min(t for _, t in order))


def test_played_is_the_top_of_the_ladder(sessions: sessionmaker[Session]) -> None:
    apply(sessions, status_event("wamid.v", S.PLAYED, offset=4))
    apply(sessions, status_event("wamid.v", S.READ, offset=3))
    row = only_message(sessions)
    assert (row.status, row.read_at, row.played_at) == ("played", at(3), at(4))


def test_each_step_keeps_its_earliest_time(sessions: sessionmaker[Session]) -> None:
    apply(sessions, status_event("wamid.o", S.DELIVERED, offset=20))
    apply(sessions, status_event("wamid.o", S.DELIVERED, offset=15))
    apply(sessions, status_event("wamid.o", S.DELIVERED, offset=30))
    assert only_message(sessions).delivered_at == at(15)


@pytest.mark.parametrize(
    "others",
    [
        pytest.param([], id="alone"),
        pytest.param([(S.SENT, 1)], id="after-sent"),
        pytest.param([(S.SENT, 1), (S.DELIVERED, 2)], id="after-delivered"),
    ],
)
def test_failed_recorded_whenever_it_comes(
    sessions: sessionmaker[Session], others: list[tuple[S, int]]
) -> None:
    failed = status_event(
        "wamid.o",
        S.FAILED,
        offset=5,
        errors=(domain.ErrorInfo(code=131049, title="not delivered"),),
    )
    apply(sessions, failed, *(status_event("wamid.o", s, offset=t) for s, t in others))
    row = only_message(sessions)
    assert (row.failed_at, row.error_code, row.error_title) == (at(5), 131049, "not delivered")
    assert row.status == (others[-1][0].value if others else None)


@pytest.mark.parametrize(
    ("pricing", "origin", "is_template", "category"),
    [
        pytest.param("marketing", None, True, "marketing", id="marketing"),
        pytest.param("utility", None, True, "utility", id="utility"),
        pytest.param("authentication", None, True, "authentication", id="authentication"),
        pytest.param(
            "authentication-international", None, True, "authentication", id="auth-intl-dash"
        ),
        pytest.param("marketing_lite", None, True, "marketing", id="marketing-lite"),
        pytest.param(None, "utility", True, "utility", id="origin-only"),
        pytest.param("service", None, False, None, id="service"),
        pytest.param(None, "service", False, None, id="origin-service"),
        pytest.param(None, None, False, None, id="no-pricing"),
    ],
)
def test_template_flags_from_pricing_or_origin(
    sessions: sessionmaker[Session],
    pricing: str | None,
    origin: str | None,
    is_template: bool,
    category: str | None,
) -> None:
    apply(sessions, status_event("wamid.o", pricing_category=pricing, origin_type=origin))
    row = only_message(sessions)
    assert (row.is_template, row.template_category) == (is_template, category)


def test_template_flag_from_a_later_status(sessions: sessionmaker[Session]) -> None:
    apply(sessions, status_event("wamid.o", S.SENT, offset=1))
    apply(sessions, status_event("wamid.o", S.DELIVERED, offset=2, pricing_category="marketing"))
    row = only_message(sessions)
    assert (row.is_template, row.template_category, row.status) == (True, "marketing", "delivered")


@pytest.mark.parametrize(
    ("marker", "automated"),
    [
        pytest.param("automated", True, id="word"),
        pytest.param("Automated:greeting", True, id="prefix"),
        pytest.param('{"automated": true, "flow": "away"}', True, id="json"),
        pytest.param('{"automated": "yes"}', False, id="json-not-true"),
        pytest.param("{not json", False, id="broken-json"),
        pytest.param("campaign-42", False, id="other"),
        pytest.param(None, False, id="none"),
    ],
)
def test_is_automated_from_callback_marker(
    sessions: sessionmaker[Session], marker: str | None, automated: bool
) -> None:
    assert is_automated_marker(marker) is automated
    apply(sessions, status_event("wamid.o", tracking_data=marker))
    assert only_message(sessions).is_automated is automated


# --- edits and revokes --------------------------------------------------------------------


def _edit(text: str, offset: int, wamid: str = "wamid.e") -> domain.MessageEditEvent:
    return domain.MessageEditEvent(
        number=NUMBER,
        customer=CUSTOMER,
        message_id=f"{wamid}.{offset}",
        original_message_id="wamid.echo",
        timestamp=at(offset),
        direction=Direction.OUTBOUND,
        content=MessageContent(type="text", text=text, context_message_id="M0"),
    )


def _revoke(offset: int) -> domain.MessageRevokeEvent:
    return domain.MessageRevokeEvent(
        number=NUMBER,
        customer=CUSTOMER,
        message_id=f"wamid.r.{offset}",
        original_message_id="wamid.echo",
        timestamp=at(offset),
        direction=Direction.OUTBOUND,
    )


def _echo(offset: int = 0) -> domain.MessageEvent:
    return message_event(
        "wamid.echo",
        offset=offset,
        direction=Direction.OUTBOUND,
        content=ECHO_TEXT,
        source=MessageSource.ECHO,
    )


def test_echo_edit_changes_text(sessions: sessionmaker[Session]) -> None:
    apply(sessions, _echo(), _edit("Price list v2", 60))
    row = only_message(sessions)
    assert (row.text, row.edited_at, row.context_wamid) == ("Price list v2", at(60), "wamid.q")


def test_edit_before_its_message_is_completed_by_the_message(
    sessions: sessionmaker[Session],
) -> None:
    apply(sessions, _edit("Price list v2", 60))
    apply(sessions, _echo())
    row = only_message(sessions)
    assert (row.wamid, row.direction, row.source, row.type) == (
        "wamid.echo",
        "outbound",
        "echo",
        "text",
    )
    assert (row.text, row.edited_at, row.timestamp) == ("Price list v2", at(60), at(0))
    assert row.context_wamid == "wamid.q"


def test_older_edit_arriving_late_does_not_win(sessions: sessionmaker[Session]) -> None:
    apply(sessions, _echo(), _edit("third", 90), _edit("second", 60))
    row = only_message(sessions)
    assert (row.text, row.edited_at) == ("third", at(90))


def test_revoke_marks_the_message(sessions: sessionmaker[Session]) -> None:
    apply(sessions, _echo(), _revoke(70), _revoke(80))
    row = only_message(sessions)
    assert (row.revoked_at, row.text) == (at(70), "Price list attached")


def test_revoke_before_its_message_is_completed_by_the_message(
    sessions: sessionmaker[Session],
) -> None:
    apply(sessions, _revoke(70))
    assert only_message(sessions).type == "unknown"
    apply(sessions, _echo())
    row = only_message(sessions)
    assert (row.type, row.text, row.source, row.revoked_at, row.timestamp) == (
        "text",
        "Price list attached",
        "echo",
        at(70),
        at(0),
    )


# --- customers ----------------------------------------------------------------------------


def test_customer_by_business_scoped_id_later_filled_in(sessions: sessionmaker[Session]) -> None:
    username_only = domain.CustomerRef(wa_id=None, user_id="US.1349", name=None)
    both = domain.CustomerRef(wa_id="447700900123", user_id="US.1349", name="Ada")
    apply(sessions, message_event("wamid.1", customer=username_only))
    apply(sessions, message_event("wamid.2", customer=both))
    (customer,) = customers(sessions)
    assert (customer.wa_id, customer.user_id, customer.name) == ("447700900123", "US.1349", "Ada")
    assert {m.customer_id for m in messages(sessions)} == {customer.id}


def test_customer_by_wa_id_gets_its_business_scoped_id(sessions: sessionmaker[Session]) -> None:
    apply(sessions, message_event("wamid.1", customer=domain.CustomerRef(wa_id="447700900123")))
    apply(
        sessions,
        message_event(
            "wamid.2", customer=domain.CustomerRef(wa_id="447700900123", user_id="US.9")
        ),
    )
    apply(sessions, message_event("wamid.3", customer=domain.CustomerRef(None, "US.9")))
    (customer,) = customers(sessions)
    assert (customer.wa_id, customer.user_id) == ("447700900123", "US.9")
    assert len(messages(sessions)) == 3


def test_user_changed_number(sessions: sessionmaker[Session]) -> None:
    old = domain.CustomerRef(wa_id="16505551234")
    apply(sessions, message_event("wamid.1", customer=old))
    apply(
        sessions,
        domain.CustomerIdentityEvent(
            number=NUMBER,
            customer=old,
            timestamp=at(50),
            kind="user_changed_number",
            new_wa_id="12195555358",
        ),
        message_event("wamid.2", customer=domain.CustomerRef(wa_id="12195555358")),
    )
    (customer,) = customers(sessions)
    assert customer.wa_id == "12195555358"
    assert {m.customer_id for m in messages(sessions)} == {customer.id}


def test_number_change_onto_a_known_customer_is_not_merged(
    sessions: sessionmaker[Session], caplog: pytest.LogCaptureFixture
) -> None:
    apply(
        sessions,
        message_event("wamid.1", customer=domain.CustomerRef(wa_id="16505551234")),
        message_event("wamid.2", customer=domain.CustomerRef(wa_id="12195555358")),
    )
    apply(
        sessions,
        domain.CustomerIdentityEvent(
            number=NUMBER,
            customer=domain.CustomerRef(wa_id="16505551234"),
            timestamp=at(50),
            kind="user_changed_number",
            new_wa_id="12195555358",
        ),
    )
    assert [c.wa_id for c in customers(sessions)] == ["16505551234", "12195555358"]
    assert "customer number change not applied" in caplog.text


def test_contact_sync_names_the_customer(sessions: sessionmaker[Session]) -> None:
    apply(sessions, message_event("wamid.1", customer=domain.CustomerRef(wa_id="16505551234")))
    apply(
        sessions,
        domain.CustomerIdentityEvent(
            number=NUMBER,
            customer=domain.CustomerRef(wa_id="16505551234"),
            timestamp=at(50),
            kind="contact_sync",
            name="Pablo Morales",
        ),
    )
    assert [(c.wa_id, c.name) for c in customers(sessions)] == [("16505551234", "Pablo Morales")]


# --- account events -----------------------------------------------------------------------


def test_account_events_deduplicated_on_redelivery(sessions: sessionmaker[Session]) -> None:
    ban = domain.AccountEvent(
        kind=domain.AccountEventKind.BAN,
        event="DISABLED_UPDATE",
        timestamp=at(0),
        waba_id="102290129340398",
        detail={"ban_info": {"waba_ban_state": "DISABLE"}},
    )
    flag = domain.AccountEvent(
        kind=domain.AccountEventKind.QUALITY_FLAG,
        event="FLAGGED",
        timestamp=at(0),
        waba_id="102290129340398",
        display_number=NUMBER.display_number,
    )
    apply(sessions, message_event("wamid.1"))
    first = apply(sessions, ban, flag)
    again = apply(sessions, ban, flag)
    assert (first.account_events, again.account_events) == (2, 0)
    with session_scope(sessions) as session:
        rows = session.execute(select(AccountEvent).order_by(AccountEvent.id)).scalars().all()
        number_id = session.execute(select(BusinessNumber.id)).scalar_one()
    assert [(r.kind, r.event, r.business_number_id) for r in rows] == [
        ("ban", "DISABLED_UPDATE", None),
        ("quality_flag", "FLAGGED", number_id),
    ]
    assert rows[0].detail == {"ban_info": {"waba_ban_state": "DISABLE"}}


# --- numbers and reps ---------------------------------------------------------------------


def test_unowned_number_kept_and_attributed_by_add_rep(sessions: sessionmaker[Session]) -> None:
    apply(sessions, message_event("wamid.1"), status_event("wamid.2"))
    assert {m.rep_id for m in messages(sessions)} == {None}
    with session_scope(sessions) as session:
        rep, attributed = add_rep(session, "Li Na", [PHONE_NUMBER_ID])
        rep_id = rep.id
    assert attributed == 2
    apply(sessions, message_event("wamid.3"))
    assert [(m.wamid, m.rep_id) for m in messages(sessions)] == [
        ("wamid.1", rep_id),
        ("wamid.2", rep_id),
        ("wamid.3", rep_id),
    ]


def test_number_owned_by_another_rep_is_refused(sessions: sessionmaker[Session]) -> None:
    with session_scope(sessions) as session:
        add_rep(session, "Li Na", [PHONE_NUMBER_ID])
    session = sessions()
    with pytest.raises(RepConflictError, match=f"{PHONE_NUMBER_ID} already belongs to Li Na"):
        add_rep(session, "Omar", [PHONE_NUMBER_ID])
    session.close()


# --- any order ----------------------------------------------------------------------------

_ROW_FIELDS = [
    c.name for c in Message.__table__.columns if c.name not in {"id", "created_at", "updated_at"}
]


def _row(sessions: sessionmaker[Session]) -> dict[str, Any]:
    """The one message row, with its number and customer named by WhatsApp's ids."""
    with session_scope(sessions) as session:
        (row,) = session.execute(select(Message)).scalars().all()
        number = session.get(BusinessNumber, row.business_number_id)
        customer = session.get(Customer, row.customer_id)
        assert number is not None
        assert customer is not None
        values = {name: getattr(row, name) for name in _ROW_FIELDS}
        values["business_number_id"] = number.phone_number_id
        values["customer_id"] = customer.wa_id
        return values


def _property_events() -> list[domain.DomainEvent]:
    """An echoed message, every status it can get, an edit and a revoke."""
    return [
        message_event(
            "wamid.p",
            offset=0,
            direction=Direction.OUTBOUND,
            content=MessageContent(type="text", text="Quote: 3 pallets", forwarded=True),
            source=MessageSource.ECHO,
        ),
        status_event("wamid.p", S.SENT, offset=1, pricing_category="utility"),
        status_event("wamid.p", S.DELIVERED, offset=2),
        status_event("wamid.p", S.READ, offset=3, tracking_data="automated"),
        status_event("wamid.p", S.PLAYED, offset=4),
        status_event(
            "wamid.p", S.FAILED, offset=5, errors=(domain.ErrorInfo(131026, "undeliverable"),)
        ),
        domain.MessageEditEvent(
            number=NUMBER,
            customer=CUSTOMER,
            message_id="wamid.p.edit",
            original_message_id="wamid.p",
            timestamp=at(30),
            direction=Direction.OUTBOUND,
            content=MessageContent(type="text", text="Quote: 4 pallets", context_message_id="M0"),
        ),
        domain.MessageRevokeEvent(
            number=NUMBER,
            customer=CUSTOMER,
            message_id="wamid.p.revoke",
            original_message_id="wamid.p",
            timestamp=at(40),
            direction=Direction.OUTBOUND,
        ),
    ]


def _reset(engine: Engine) -> None:
    with engine.begin() as conn:
        for table in ("message", "customer", "business_number"):
            conn.exec_driver_sql(f"DELETE FROM {table}")


def _apply_one_by_one(sessions: sessionmaker[Session], events: Iterable[domain.DomainEvent]):
    for event in events:
        apply(sessions, event)


@pytest.fixture
def reference_row(engine: Engine, sessions: sessionmaker[Session]) -> dict[str, Any]:
    """The row the events give in their natural order."""
    _apply_one_by_one(sessions, _property_events())
    row = _row(sessions)
    _reset(engine)
    return row


def test_reference_row_is_what_the_events_say(reference_row: dict[str, Any]) -> None:
    assert {k: reference_row[k] for k in ("type", "text", "status", "source", "forwarded")} == {
        "type": "text",
        "text": "Quote: 4 pallets",
        "status": "played",
        "source": "echo",
        "forwarded": True,
    }
    assert (reference_row["is_template"], reference_row["template_category"]) == (True, "utility")
    assert (reference_row["is_automated"], reference_row["error_code"]) == (True, 131026)
    assert (reference_row["timestamp"], reference_row["read_at"]) == (at(0), at(3))
    assert (reference_row["edited_at"], reference_row["revoked_at"]) == (at(30), at(40))
    assert reference_row["context_wamid"] is None
    assert reference_row["content_key"] == content_key("Quote: 4 pallets")


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(data=st.data())
def test_any_order_with_duplicates_gives_the_same_row(
    engine: Engine,
    sessions: sessionmaker[Session],
    reference_row: dict[str, Any],
    data: st.DataObject,
) -> None:
    events = _property_events()
    duplicates = data.draw(st.lists(st.sampled_from(events), max_size=4), label="duplicates")
    order = data.draw(st.permutations(events + duplicates), label="order")
    one_batch = data.draw(st.booleans(), label="one_batch")
    _reset(engine)
    if one_batch:
        apply(sessions, *order)
    else:
        _apply_one_by_one(sessions, order)
    assert _row(sessions) == reference_row
