"""Recording tags, quotes, samples, complaints and deals: once, attributed, undoable."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot import domain
from bot.errors import NotFoundError
from storage.db import session_scope
from storage.ingest import apply_events
from storage.models import CustomerEvent, CustomerTag, Deal
from storage.records import RecordError, apply_record, normalise_tag, undo_record
from storage.reps import add_rep

NUMBER = domain.BusinessNumber(phone_number_id="555000111", display_number="8613800000001")
CUSTOMER = domain.CustomerRef(wa_id="34612345678", name="Lucía")
T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def team(sessions: sessionmaker[Session]) -> None:
    """Rep Li Wei owns NUMBER and has exchanged one message with CUSTOMER; Ana has none."""
    with session_scope(sessions) as session:
        add_rep(session, "Li Wei", [NUMBER.phone_number_id])
        add_rep(session, "Ana", ["555000222"])
        apply_events(
            session,
            [
                domain.MessageEvent(
                    number=NUMBER,
                    customer=CUSTOMER,
                    message_id="wamid.r1",
                    direction=domain.Direction.INBOUND,
                    timestamp=T0,
                    content=domain.MessageContent(type="text", text="hola"),
                )
            ],
        )


def _tags(session: Session) -> list[tuple[str, bool]]:
    rows = session.execute(select(CustomerTag.tag, CustomerTag.removed_at)).all()
    return [(tag, removed is not None) for tag, removed in rows]


@pytest.mark.usefixtures("team")
def test_tag_goes_to_the_rep_the_customer_talks_to(sessions: sessionmaker[Session]) -> None:
    with session_scope(sessions) as session:
        outcome = apply_record(session, domain.TagRecord(CUSTOMER, "High intent", T0))
        rep_id = session.execute(select(CustomerTag.rep_id)).scalar_one()

    assert outcome.created
    assert outcome.kind == "tag"
    assert rep_id == outcome.rep_id is not None


@pytest.mark.usefixtures("team")
def test_a_tag_already_on_is_not_added_twice(sessions: sessionmaker[Session]) -> None:
    with session_scope(sessions) as session:
        first = apply_record(session, domain.TagRecord(CUSTOMER, "high-intent", T0))
        second = apply_record(session, domain.TagRecord(CUSTOMER, "High Intent", T0))
        assert _tags(session) == [("high-intent", False)]

    assert first.created
    assert not second.created
    assert second.row_id == first.row_id


@pytest.mark.usefixtures("team")
def test_removing_a_tag_keeps_its_history_and_undo_puts_it_back(
    sessions: sessionmaker[Session],
) -> None:
    with session_scope(sessions) as session:
        apply_record(session, domain.TagRecord(CUSTOMER, "high-intent", T0))
        removal = apply_record(
            session, domain.TagRecord(CUSTOMER, "high-intent", T0, removed=True)
        )
        assert _tags(session) == [("high-intent", True)]

        assert undo_record(session, removal)
        assert _tags(session) == [("high-intent", False)]


@pytest.mark.usefixtures("team")
def test_a_keyed_record_lands_once(sessions: sessionmaker[Session]) -> None:
    record = domain.CustomerEventRecord(
        domain.CustomerEventKind.QUOTE, CUSTOMER, T0, source="api", key="crm-77"
    )
    with session_scope(sessions) as session:
        first = apply_record(session, record)
        again = apply_record(session, record)
        kinds = session.execute(select(CustomerEvent.kind)).scalars().all()

    assert (first.created, again.created) == (True, False)
    assert kinds == ["quote"]


@pytest.mark.usefixtures("team")
def test_a_named_rep_wins_over_the_number_owner(sessions: sessionmaker[Session]) -> None:
    with session_scope(sessions) as session:
        outcome = apply_record(
            session,
            domain.CustomerEventRecord(
                domain.CustomerEventKind.SAMPLE, CUSTOMER, T0, rep="ana", note="2 pcs by DHL"
            ),
        )
        row = session.execute(select(CustomerEvent)).scalar_one()

    assert row.rep_id == outcome.rep_id
    assert row.note == "2 pcs by DHL"
    assert row.occurred_at == T0


@pytest.mark.usefixtures("team")
def test_an_unknown_rep_is_refused(sessions: sessionmaker[Session]) -> None:
    with session_scope(sessions) as session, pytest.raises(NotFoundError, match="Nobody"):
        apply_record(session, domain.TagRecord(CUSTOMER, "vip", T0, rep="Nobody"))


@pytest.mark.usefixtures("team")
def test_deal_is_stored_exactly_and_undo_deletes_it(sessions: sessionmaker[Session]) -> None:
    referrer = domain.CustomerRef(wa_id="4915112345678")
    with session_scope(sessions) as session:
        outcome = apply_record(
            session,
            domain.DealRecord(
                CUSTOMER, Decimal("12500.35"), "usd", T0, margin=0.18, referred_by=referrer
            ),
        )
        deal = session.execute(select(Deal)).scalar_one()
        assert (deal.amount, deal.currency, deal.margin) == (Decimal("12500.35"), "USD", 0.18)
        assert deal.referred_by_customer_id is not None
        assert deal.referred_by_customer_id != deal.customer_id

        assert undo_record(session, outcome)
        assert not undo_record(session, outcome)
        assert session.execute(select(Deal)).first() is None


@pytest.mark.parametrize(
    ("amount", "currency", "margin", "message"),
    [
        pytest.param("0", "USD", None, "positive", id="zero-amount"),
        pytest.param("-5", "USD", None, "positive", id="negative-amount"),
        pytest.param("10", "dollars", None, "3-letter", id="bad-currency"),
        pytest.param("10", "USD", 18.0, "between -1 and 1", id="margin-as-percent"),
    ],
)
@pytest.mark.usefixtures("team")
def test_bad_deal_values_are_refused_with_the_reason(
    sessions: sessionmaker[Session], amount: str, currency: str, margin: float | None, message: str
) -> None:
    deal = domain.DealRecord(CUSTOMER, Decimal(amount), currency, T0, margin=margin)
    with session_scope(sessions) as session, pytest.raises(RecordError, match=message):
        apply_record(session, deal)


@pytest.mark.parametrize(
    ("raw", "stored"),
    [
        pytest.param("High intent", "high-intent", id="spaces"),
        pytest.param("  VIP ", "vip", id="trimmed"),
        pytest.param("高意向", "高意向", id="chinese"),
    ],
)
def test_tags_are_normalised(raw: str, stored: str) -> None:
    assert normalise_tag(raw) == stored


@pytest.mark.parametrize("raw", ["", "a;b", "x" * 65], ids=["empty", "punctuation", "too-long"])
def test_unusable_tags_are_refused(raw: str) -> None:
    with pytest.raises(RecordError, match="not usable"):
        normalise_tag(raw)
