"""A team for the push tests: a manager and reps linked to Telegram, a team chat, and helpers
that write messages and records the way the store's writers do."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from itertools import count
from zoneinfo import ZoneInfo

from sqlalchemy import Engine

from bot import domain
from bot.metrics import TeamSettings
from bot.push.clock import FakeClock
from bot.push.context import PushContext
from bot.push.scheduler import Cadence, PushScheduler
from bot.render import Renderer
from storage import telegram as store
from storage.db import session_factory, session_scope
from storage.ingest import apply_events
from storage.records import apply_record
from storage.reps import add_rep

MANAGER_CHAT, ALICE_CHAT, BOB_CHAT, TEAM_CHAT = 3001, 3002, 3003, -100500
BERLIN = ZoneInfo("Europe/Berlin")


class Team:
    """The Export team: manager Mia, reps Alice and 王芳 (Wang Fang), a bound team chat."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.sessions = session_factory(engine)
        self._ids = count(1)
        with session_scope(self.sessions) as session:
            alice, _ = add_rep(session, "Alice", ["pn-alice"], team="Export")
            wang, _ = add_rep(session, "王芳", ["pn-wang"], team="Export")
            mia, _ = add_rep(session, "Mia", [], team="Export", role="manager")
            alice.telegram_user_id, wang.telegram_user_id = ALICE_CHAT, BOB_CHAT
            mia.telegram_user_id = MANAGER_CHAT
            session.flush()
            assert alice.team_id is not None
            assert mia.id is not None
            self.team_id = alice.team_id
            store.bind_team_chat(session, self.team_id, TEAM_CHAT, mia.id, datetime.now(BERLIN))
            self.rep_ids = {"Alice": alice.id, "王芳": wang.id}

    def number(self, rep: str) -> domain.BusinessNumber:
        pn = "pn-alice" if rep == "Alice" else "pn-wang"
        return domain.BusinessNumber(phone_number_id=pn, waba_id=f"waba-{pn}")

    def message(
        self,
        customer: str,
        when: datetime,
        *,
        inbound: bool,
        rep: str = "Alice",
        text: str = "hello",
        read: bool = True,
    ) -> None:
        """A message between the rep and the customer (an outbound one read at once)."""
        number = self.number(rep)
        ref = domain.CustomerRef(wa_id=customer, name=f"Customer {customer[-4:]}")
        wamid = f"wamid.{next(self._ids)}"
        direction = domain.Direction.INBOUND if inbound else domain.Direction.OUTBOUND
        events: list[domain.DomainEvent] = [
            domain.MessageEvent(
                number=number,
                customer=ref,
                message_id=wamid,
                direction=direction,
                timestamp=when,
                content=domain.MessageContent(type="text", text=text),
                source=domain.MessageSource.WEBHOOK if inbound else domain.MessageSource.ECHO,
            )
        ]
        if not inbound:
            for status in (domain.DeliveryStatus.SENT,) + (
                (domain.DeliveryStatus.READ,) if read else ()
            ):
                events.append(
                    domain.StatusEvent(
                        number=number,
                        customer=ref,
                        message_id=wamid,
                        status=status,
                        timestamp=when + timedelta(seconds=30),
                        pricing_category="service",
                    )
                )
        with session_scope(self.sessions) as session:
            apply_events(session, events)

    def record(self, rec: domain.Record) -> None:
        """Store a tag, quote, sample or deal."""
        with session_scope(self.sessions) as session:
            apply_record(session, rec)

    def deal(self, customer: str, when: datetime, amount: str, rep: str = "Alice") -> None:
        """Alice (or ``rep``) closes a deal."""
        self.record(
            domain.DealRecord(
                customer=domain.CustomerRef(wa_id=customer),
                amount=Decimal(amount),
                currency="USD",
                timestamp=when,
                rep=rep,
            )
        )

    def tag(self, customer: str, when: datetime, rep: str = "Alice") -> None:
        """The rep tags the customer high-intent."""
        self.record(
            domain.TagRecord(
                customer=domain.CustomerRef(wa_id=customer),
                tag="high-intent",
                timestamp=when,
                rep=rep,
            )
        )


def berlin_settings(**changes: object) -> TeamSettings:
    """Default team settings in Europe/Berlin, which changes clocks in March and October."""
    return TeamSettings(timezone=BERLIN, **changes)  # type: ignore[arg-type]


def scheduler(
    engine: Engine,
    clock: FakeClock,
    settings: TeamSettings | None = None,
    cadence: Cadence | None = None,
    worker: str = "test",
) -> PushScheduler:
    """A push scheduler on the store, in the team's zone, with a fake clock."""
    settings = settings or berlin_settings()
    ctx = PushContext(engine, Renderer(settings.timezone), settings, clock, worker)
    return PushScheduler(ctx, cadence=cadence)


def local(day: str, clock_time: str = "00:00", zone: ZoneInfo = BERLIN) -> datetime:
    """An aware instant from a local date and time in ``zone``."""
    return datetime.fromisoformat(f"{day}T{clock_time}").replace(tzinfo=zone)
