"""The engine agrees with the plain reference implementation on random event streams."""

from __future__ import annotations

import shutil
import tempfile
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from bot import domain
from bot.metrics import compute
from bot.metrics.periods import period_containing
from bot.metrics.settings import parse_team_settings
from storage.db import create_db_engine, session_factory, session_scope
from storage.ingest import apply_events
from storage.models import Customer, CustomerEvent, CustomerTag, Deal
from storage.reps import add_rep
from tests.metrics import reference
from tests.metrics.builders import T0
from tests.metrics.reference import Events, Msg, Record

TEXTS = ("hi", "Hello 1", "hello 2", "price?", "how much", "ok", "catalogue", None)
SETTINGS = parse_team_settings({"minimum_margin": 0.1})
NUMBER = domain.BusinessNumber(phone_number_id="pn-ref", waba_id="waba-ref")

minutes = st.integers(min_value=-12 * 24 * 60, max_value=9 * 24 * 60)


@st.composite
def messages(draw: st.DrawFn) -> list[Msg]:
    offsets = draw(st.lists(minutes, min_size=1, max_size=40, unique=True))
    found = []
    for offset in offsets:
        ts = T0 + timedelta(minutes=offset)
        customer = draw(st.integers(0, 6))
        if draw(st.booleans()):
            kind = draw(st.sampled_from(["text", "text", "reaction"]))
            text = None if kind == "reaction" else draw(st.sampled_from(TEXTS))
            found.append(Msg(customer, ts, True, kind, text))
            continue
        kind = draw(st.sampled_from(["text", "text", "text", "document", "reaction"]))
        read = draw(st.sampled_from([None, None, 5, 600, 3000]))
        found.append(
            Msg(
                customer,
                ts,
                False,
                kind,
                None if kind in ("document", "reaction") else draw(st.sampled_from(TEXTS)),
                filename="PI-7.pdf" if kind == "document" else None,
                template=draw(st.sampled_from([None, None, None, "marketing", "utility"])),
                automated=draw(st.booleans()) and draw(st.booleans()),
                read_at=None if read is None else ts + timedelta(minutes=read),
                history_read=draw(st.booleans()) and draw(st.booleans()) and read is None,
            )
        )
    return found


@st.composite
def records(draw: st.DrawFn) -> list[Record]:
    found = []
    for _ in range(draw(st.integers(0, 8))):
        kind = draw(st.sampled_from(["tag", "quote", "sample", "deal", "deal"]))
        ts = T0 + timedelta(minutes=draw(minutes))
        customer = draw(st.integers(0, 6))
        amount = Decimal(draw(st.integers(1, 5000)))
        margin = draw(st.sampled_from([None, 0.05, 0.2, 0.35]))
        referred = draw(st.sampled_from([None, None, (customer + 1) % 7]))
        found.append(Record(kind, customer, ts, amount, margin, referred))
    return found


def _store(path: Path, events: Events) -> None:
    engine = create_db_engine(f"sqlite:///{path}")
    sessions = session_factory(engine)
    with session_scope(sessions) as session:
        rep, _ = add_rep(session, "Ref", ["pn-ref"])
        # Every customer exists even if only records name them: a contact sync, no message.
        apply_events(
            session,
            [
                domain.CustomerIdentityEvent(NUMBER, _ref(c), T0, kind="contact_sync")
                for c in range(7)
            ],
        )
        apply_events(
            session, [e for n, m in enumerate(events.messages) for e in _message_events(m, n)]
        )
        customers = Customer.__table__  # type: ignore[attr-defined]
        ids = {
            wa: cid
            for cid, wa in session.execute(
                customers.select().with_only_columns(customers.c.id, customers.c.wa_id)
            )
        }
        for record in events.records:
            session.add(_row(record, ids, rep.id))
    engine.dispose()


def _ref(customer: int) -> domain.CustomerRef:
    return domain.CustomerRef(wa_id=f"8613800000{customer}")


def _domain(m: Msg, n: int) -> domain.MessageEvent:
    return domain.MessageEvent(
        number=NUMBER,
        customer=_ref(m.customer),
        message_id=f"wamid.{'in' if m.inbound else 'out'}.{n}.{m.ts.timestamp()}",
        direction=domain.Direction.INBOUND if m.inbound else domain.Direction.OUTBOUND,
        timestamp=m.ts,
        content=domain.MessageContent(type=m.type, text=m.text, filename=m.filename),
        source=domain.MessageSource.HISTORY if m.history_read else domain.MessageSource.ECHO,
        history_status=domain.DeliveryStatus.READ if m.history_read else None,
    )


def _message_events(m: Msg, n: int) -> list[domain.DomainEvent]:
    message = _domain(m, n)
    if m.inbound:
        return [message]
    status = domain.StatusEvent(
        number=NUMBER,
        customer=_ref(m.customer),
        message_id=message.message_id,
        status=domain.DeliveryStatus.SENT,
        timestamp=m.ts,
        pricing_category=m.template or "service",
        tracking_data="automated" if m.automated else None,
    )
    events: list[domain.DomainEvent] = [message, status]
    if m.read_at is not None:
        events.append(
            domain.StatusEvent(
                number=NUMBER,
                customer=_ref(m.customer),
                message_id=message.message_id,
                status=domain.DeliveryStatus.READ,
                timestamp=m.read_at,
            )
        )
    return events


def _row(record: Record, ids: dict[str, int], rep_id: int | None) -> object:
    customer_id = ids[f"8613800000{record.customer}"]
    if record.kind == "tag":
        return CustomerTag(
            customer_id=customer_id, rep_id=rep_id, tag="high-intent", tagged_at=record.ts
        )
    if record.kind == "deal":
        referred = (
            ids[f"8613800000{record.referred_by}"] if record.referred_by is not None else None
        )
        return Deal(
            customer_id=customer_id,
            rep_id=rep_id,
            amount=record.amount,
            currency="USD",
            margin=record.margin,
            closed_at=record.ts,
            referred_by_customer_id=referred,
        )
    return CustomerEvent(
        kind=record.kind, customer_id=customer_id, rep_id=rep_id, occurred_at=record.ts
    )


@pytest.mark.parametrize("kind", ["week", "month"])
@settings(
    max_examples=40,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(msgs=messages(), recs=records(), at_offset=st.integers(-2 * 24 * 60, 10 * 24 * 60))
def test_engine_agrees_with_reference(
    _sqlite_template: Path,  # noqa: PT019 (its value, the template's path, is used)
    kind: str,
    msgs: list[Msg],
    recs: list[Record],
    at_offset: int,
) -> None:
    events = Events(messages=msgs, records=recs)
    at = T0 + timedelta(minutes=at_offset)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "kpibot.db"
        shutil.copy(_sqlite_template, path)
        _store(path, events)
        engine = create_db_engine(f"sqlite:///{path}")
        try:
            kpis = compute(engine, "Ref", kind, at, SETTINGS)
        finally:
            engine.dispose()

    period = period_containing(kind, at, SETTINGS.timezone)
    expected = reference.compute(events, period.start, period.end, at, 0.1)
    rt = kpis.response_time
    got = {
        "effective_reach": kpis.effective_reach,
        "messages_sent": kpis.messages_sent,
        "reply_rate": kpis.reply_rate,
        "active_customers": kpis.active_customers,
        "response_turns": rt.turns,
        "response_mean_s": rt.mean_s,
        "response_median_s": rt.median_s,
        "response_bands": None if rt.bands is None else list(rt.bands.values()),
        "deep_conversations": kpis.deep_conversations,
        "quote_rate": kpis.quote_rate,
        "tag_accuracy": kpis.tag_accuracy,
        "conversion_rate": kpis.conversion_rate,
        "deal_amount": kpis.deals.deal_amount,
        "order_value": kpis.deals.order_value,
        "margin": kpis.deals.margin,
        "repeat_amount": kpis.deals.repeat_amount,
        "referrals": kpis.deals.referrals,
    }
    event("effective reach > 0" if kpis.effective_reach else "no effective reach")
    event("deep conversation" if kpis.deep_conversations else "no deep conversation")
    for metric, value in expected.items():
        if isinstance(value, float):
            assert got[metric] == pytest.approx(value), metric
        else:
            assert got[metric] == value, metric
