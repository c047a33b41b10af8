"""Builders of realistic store contents for KPI tests.

Messages and statuses go through :func:`storage.ingest.apply_events`, exactly as the
webhook normaliser stores them; tags, customer events and deals are rows a rep or a CRM
records, added directly.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from itertools import count

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from bot import domain
from storage.db import session_factory, session_scope
from storage.ingest import apply_events
from storage.models import Customer, CustomerEvent, CustomerTag, Deal, Message
from storage.reps import add_rep

T0 = datetime(2025, 3, 2, 16, 0, tzinfo=UTC)
"""Monday 2025-03-03, 00:00 in Asia/Shanghai (the default zone): a week starts here."""


def at(days: float = 0, hours: float = 0, minutes: float = 0) -> datetime:
    """An instant relative to :data:`T0`."""
    return T0 + timedelta(days=days, hours=hours, minutes=minutes)


class Store:
    """Writes reps, messages and records into a test store."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.sessions: sessionmaker[Session] = session_factory(engine)
        self._ids = count(1)
        self.reps: dict[str, int] = {}

    def rep(
        self, name: str = "Lily", *, hire_date: date | None = None, seniority: str = "standard"
    ) -> int:
        """Register a rep owning the number ``pn-<name>`` of WABA ``waba-<name>``."""
        with session_scope(self.sessions) as session:
            rep, _ = add_rep(
                session, name, [f"pn-{name}"], hire_date=hire_date, seniority=seniority
            )
            assert rep.id is not None
            self.reps[name] = rep.id
        return self.reps[name]

    def _number(self, rep: str) -> domain.BusinessNumber:
        return domain.BusinessNumber(phone_number_id=f"pn-{rep}", waba_id=f"waba-{rep}")

    def _apply(self, events: list[domain.DomainEvent]) -> None:
        with session_scope(self.sessions) as session:
            apply_events(session, events)

    def inbound(
        self,
        customer: str,
        when: datetime,
        text: str | None = "hello",
        *,
        rep: str = "Lily",
        type: str = "text",
        caption: str | None = None,
    ) -> str:
        """A message from the customer; returns its wamid."""
        wamid = f"wamid.in.{next(self._ids)}"
        content = domain.MessageContent(type=type, text=text, caption=caption)
        self._apply(
            [
                domain.MessageEvent(
                    number=self._number(rep),
                    customer=domain.CustomerRef(wa_id=customer),
                    message_id=wamid,
                    direction=domain.Direction.INBOUND,
                    timestamp=when,
                    content=content,
                )
            ]
        )
        return wamid

    def outbound(
        self,
        customer: str,
        when: datetime,
        text: str | None = "hi, how can I help?",
        *,
        rep: str = "Lily",
        type: str = "text",
        read_after: timedelta | None = None,
        history_read: bool = False,
        template: str | None = None,
        automated: bool = False,
        filename: str | None = None,
        caption: str | None = None,
    ) -> str:
        """A message from the rep; ``read_after`` sends a read status that much later."""
        wamid = f"wamid.out.{next(self._ids)}"
        number = self._number(rep)
        ref = domain.CustomerRef(wa_id=customer)
        events: list[domain.DomainEvent] = [
            domain.MessageEvent(
                number=number,
                customer=ref,
                message_id=wamid,
                direction=domain.Direction.OUTBOUND,
                timestamp=when,
                content=domain.MessageContent(
                    type=type, text=text, filename=filename, caption=caption
                ),
                source=domain.MessageSource.HISTORY if history_read else domain.MessageSource.ECHO,
                history_status=domain.DeliveryStatus.READ if history_read else None,
            ),
            domain.StatusEvent(
                number=number,
                customer=ref,
                message_id=wamid,
                status=domain.DeliveryStatus.SENT,
                timestamp=when,
                pricing_category=template or ("service" if not automated else None),
                tracking_data="automated" if automated else None,
            ),
        ]
        if read_after is not None:
            events.append(
                domain.StatusEvent(
                    number=number,
                    customer=ref,
                    message_id=wamid,
                    status=domain.DeliveryStatus.READ,
                    timestamp=when + read_after,
                )
            )
        self._apply(events)
        return wamid

    def edit(
        self,
        wamid: str,
        when: datetime,
        text: str,
        *,
        customer: str = "c1",
        rep: str = "Lily",
        direction: domain.Direction = domain.Direction.INBOUND,
    ) -> None:
        """An edit of message ``wamid`` (stored or not yet) to ``text``."""
        self._apply(
            [
                domain.MessageEditEvent(
                    number=self._number(rep),
                    customer=domain.CustomerRef(wa_id=customer),
                    message_id=f"{wamid}.edit.{when.isoformat()}",
                    original_message_id=wamid,
                    timestamp=when,
                    direction=direction,
                    content=domain.MessageContent(type="text", text=text),
                )
            ]
        )

    def column(self, wamid: str, name: str) -> object:
        """The stored value of column ``name`` of message ``wamid``."""
        message = Message.__table__  # type: ignore[attr-defined]
        with self.engine.connect() as conn:
            query = select(message.c[name]).where(message.c.wamid == wamid)
            return conn.execute(query).scalar_one()

    def customer_id(self, wa_id: str) -> int:
        """The id of the customer with ``wa_id``."""
        with self.engine.connect() as conn:
            ids = select(Customer.id)  # type: ignore[call-overload]
            found = conn.execute(ids.where(Customer.wa_id == wa_id)).scalar_one()
        return int(found)

    def _add(self, row: object) -> None:
        with session_scope(self.sessions) as session:
            session.add(row)

    def tag(
        self, customer: str, when: datetime, tag: str = "high-intent", rep: str = "Lily"
    ) -> None:
        """The rep tags the customer."""
        self._add(
            CustomerTag(
                customer_id=self.customer_id(customer),
                rep_id=self.reps[rep],
                tag=tag,
                tagged_at=when,
            )
        )

    def event(self, kind: str, customer: str, when: datetime, rep: str | None = "Lily") -> None:
        """A recorded quote, sample or complaint."""
        self._add(
            CustomerEvent(
                kind=kind,
                customer_id=self.customer_id(customer),
                rep_id=self.reps[rep] if rep else None,
                occurred_at=when,
            )
        )

    def deal(
        self,
        customer: str,
        when: datetime,
        amount: str,
        currency: str = "USD",
        *,
        margin: float | None = None,
        referred_by: str | None = None,
        rep: str = "Lily",
    ) -> None:
        """A closed deal."""
        self._add(
            Deal(
                customer_id=self.customer_id(customer),
                rep_id=self.reps[rep],
                amount=Decimal(amount),
                currency=currency,
                margin=margin,
                closed_at=when,
                referred_by_customer_id=self.customer_id(referred_by) if referred_by else None,
            )
        )

    def account_event(
        self,
        kind: domain.AccountEventKind,
        when: datetime,
        *,
        rep: str = "Lily",
        whole_waba: bool = False,
        event: str = "FLAGGED",
    ) -> None:
        """An account event for the rep's number, or for the whole WABA."""
        self._apply(
            [
                domain.AccountEvent(
                    kind=kind,
                    event=event,
                    timestamp=when,
                    waba_id=f"waba-{rep}",
                    phone_number_id=None if whole_waba else f"pn-{rep}",
                )
            ]
        )
