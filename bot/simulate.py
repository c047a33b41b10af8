"""A deterministic simulator of an export sales team on WhatsApp, as Meta delivers it.

It produces the webhook bodies the WhatsApp Business Platform would POST for a team of
reps, each rep playing one of four personas whose numbers tell them apart:

- the **friendly chatter**: many customers, many messages, a high reply rate, few price
  questions and no deals;
- the **broadcaster**: the same text pasted to every customer each working day and
  marketing templates on top, a low reply rate, and in the end a ``FLAGGED`` quality
  update for their number (a red line) and a restriction of their account;
- the **quiet closer**: few customers, fast answers, quotation documents sent from the
  WhatsApp Business app, deals; their number was onboarded with a history backfill;
- the **slow responder**: answers after 12 to 30 hours, and loses customers.

Customers write in their own language and time zone and ask for prices in their own
words. The mechanics are Meta's: statuses of Cloud API messages (``sent``, ``delivered``,
``read``; customers with read receipts off never send ``read``, their reply proves it),
Business-app echoes, a ``history`` chunk, ``account_update`` and
``phone_number_quality_update`` events, several updates batched into one body.

It also produces what the reps record through the bot (:meth:`TrafficSimulator.records`):
``/tag`` (``high-intent``, some leading nowhere), ``/quote``, ``/sample`` and ``/deal``
commands at the moments a rep would type them. The same seed gives the same bytes and
the same records.
"""

from __future__ import annotations

import json
import logging
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

logger = logging.getLogger(__name__)

CHATTER, BROADCASTER, CLOSER, SLOW = "chatter", "broadcaster", "closer", "slow"
PERSONAS = (CHATTER, BROADCASTER, CLOSER, SLOW)
PERSONA_TITLES = {
    CHATTER: "the friendly chatter",
    BROADCASTER: "the broadcaster",
    CLOSER: "the quiet closer",
    SLOW: "the slow responder",
}
REP_NAMES = (
    "Li Wei",
    "Chen Jing",
    "Zhang Min",
    "Wang Fang",
    "Liu Yang",
    "Zhao Lei",
    "Sun Hui",
    "Zhou Tao",
)
MANAGER_NAME = "Maria"
HIGH_INTENT = "high-intent"
TEAM_ZONE_OFFSET = 8  # Asia/Shanghai: the reps' working day


@dataclass(frozen=True, slots=True)
class Language:
    """How customers of one market write: their country code, UTC offset and words."""

    code: str
    country: str
    utc_offset: int
    greetings: tuple[str, ...]
    price_asks: tuple[str, ...]
    small_talk: tuple[str, ...]


LANGUAGES = (
    Language(
        "en", "1", -5,
        ("Hello, is this the factory for LED panels?", "Hi, do you make 600x600 panels?"),
        ("How much for 500 pcs FOB Shenzhen?", "What is your price list for the 40W model?",
         "Can you quote CIF Los Angeles, MOQ 300?"),
        ("Thanks, I will check with my boss.", "Can you send more pictures?",
         "What is the lead time?", "OK 👍", "Is the driver included?"),
    ),
    Language(
        "es", "34", 1,
        ("Hola, ¿tienen stock de este modelo?", "Buenos días, ¿fabrican paneles LED?"),
        ("¿Cuál es el precio por 1000 unidades?", "Necesito una cotización CIF Valencia."),
        ("Gracias, lo reviso.", "¿Tienen certificado CE?", "Perfecto, gracias."),
    ),
    Language(
        "es-mx", "52", -6,
        ("Hola, ¿venden al por mayor?",),
        ("¿Me pasa el precio FOB?", "Mándeme la cotización por favor."),
        ("Muy bien, gracias.", "¿Cuánto tarda el envío?"),
    ),
    Language(
        "pt", "55", -3,
        ("Olá, vocês enviam para o Brasil?", "Bom dia, têm catálogo?"),
        ("Qual é o preço CIF Santos?", "Pode me mandar uma cotação?"),
        ("Obrigado, vou analisar.", "Qual o prazo de entrega?"),
    ),
    Language(
        "fr", "33", 1,
        ("Bonjour, vous livrez en France ?",),
        ("Pouvez-vous m'envoyer un devis ?", "Quel est votre prix pour 200 pièces ?"),
        ("Merci beaucoup !", "Avez-vous la certification CE ?"),
    ),
    Language(
        "ru", "7", 3,
        ("Здравствуйте, есть ли каталог?",),
        ("Какая цена за контейнер?", "Пришлите, пожалуйста, цену на 40W."),
        ("Спасибо, посмотрю.", "Какой срок поставки?"),
    ),
    Language(
        "ar", "971", 4,
        ("مرحبا، هل لديكم كتالوج؟",),
        ("كم سعر الحاوية؟", "أرسل لي السعر من فضلك"),
        ("شكرا، سأراجع.", "ما هي مدة التسليم؟"),
    ),
    Language(
        "zh", "86", 8,
        ("你好，请问有现货吗？",),
        ("请给我报价，谢谢", "这个型号的价格是多少？"),
        ("好的，谢谢。", "交期多久？"),
    ),
)  # fmt: skip

REP_LINES = (
    "Hi! Thanks for your message, here is our catalogue.",
    "Sure, the lead time is 15 days after deposit.",
    "Let me check the stock and come back to you today.",
    "We ship worldwide, FOB or CIF as you prefer.",
    "Yes, CE and RoHS certified. I can send the certificates.",
    "Happy to help, what quantity do you have in mind?",
)
CHATTER_LINES = (
    "How is your week going? 😊",
    "Great to hear from you again!",
    "Haha yes, the weather here is hot too.",
    "No problem at all, take your time.",
    "I will send you some photos of our showroom.",
    "Did you see our new colours?",
)
PRICE_ANSWERS = (
    "It depends on the quantity, usually a good price for you.",
    "Prices change every week, let's talk more first.",
)
BROADCAST_TEXTS = (
    "🔥 BIG SALE! LED panels from $3.99, order now, limited stock!!!",
    "Dear customer, new catalogue 2026 is out, reply YES to receive it",
    "Special offer this week only: free shipping on 2 containers!",
)
CUSTOMER_PUSHBACK = ("Please stop sending me ads.", "Who is this?", "Not interested, thanks.")
QUOTATION_FILES = (
    "Quotation_LED-600_{n}.pdf",
    "Proforma Invoice PI-{n}.pdf",
    "Price list 2026 rev{n}.pdf",
)
HISTORY_LINES = ("Thanks, the goods arrived in good condition.", "We will reorder next season.")


@dataclass(frozen=True, slots=True)
class SimRep:
    """A simulated rep: the business number they own and the persona they play.

    Attributes:
        name: the rep's name.
        phone_number_id: Meta's id of the rep's number.
        display_number: the number, digits only.
        waba_id: the WhatsApp Business Account the number belongs to.
        persona: chatter, broadcaster, closer or slow.
        hire_date: when the rep started (a new hire: within 90 days of the stretch).
        seniority: ``standard`` or ``senior`` (scored with result-heavy weights).
        telegram_user_id: the fake Telegram user the demo links to the rep.
    """

    name: str
    phone_number_id: str
    display_number: str
    waba_id: str
    persona: str = CHATTER
    hire_date: date | None = None
    seniority: str = "standard"
    telegram_user_id: int = 0

    @property
    def title(self) -> str:
        """The persona in words, e.g. "the quiet closer"."""
        return PERSONA_TITLES[self.persona]


@dataclass(frozen=True, slots=True)
class Delivery:
    """One webhook POST: when Meta sends it, and the exact body bytes."""

    at: datetime
    body: bytes
    kind: str  # inbound | status | echo | history | account | batch


@dataclass(frozen=True, slots=True)
class BotRecord:
    """A command a rep types to the bot at ``at`` (``/tag``, ``/quote``, ``/sample``, ``/deal``).

    Attributes:
        at: when the rep types it.
        rep: the rep's name.
        command: the text of the message, e.g. ``/deal 34612345678 12500 EUR 18%``.
    """

    at: datetime
    rep: str
    command: str

    @property
    def kind(self) -> str:
        """The command's name without the slash."""
        return self.command.split()[0].lstrip("/")


@dataclass
class _Update:
    at: datetime
    kind: str
    rep: SimRep
    field_name: str
    value_item: dict[str, Any]
    list_key: str
    contact: dict[str, Any] | None = None
    account_level: bool = False


@dataclass
class _Customer:
    wa_id: str
    contact: dict[str, Any]
    language: Language
    receipts_on: bool


@dataclass
class TrafficSimulator:
    """Generates a team's deliveries and bot records over ``days`` days, from ``seed``.

    Reps play the personas in turn (chatter, broadcaster, closer, slow responder, then
    again); the slow responder is a new hire and the closer a senior.

    Args:
        reps: how many reps (one business number each).
        customers_per_rep: customers of a typical rep; the chatter and the broadcaster
            have more, the closer fewer.
        days: length of the simulated stretch.
        seed: the same seed gives the same deliveries and records.
        start: the first moment of the stretch (aware).
        batch_share: the share of updates that Meta groups into multi-update bodies.
    """

    reps: int = 3
    customers_per_rep: int = 20
    days: int = 7
    seed: int = 7
    start: datetime = field(default_factory=lambda: datetime(2026, 11, 2, 1, 0, tzinfo=UTC))
    batch_share: float = 0.1

    def __post_init__(self) -> None:
        if self.start.tzinfo is None:
            raise ValueError("the simulator's start must be an aware datetime")
        self._rng = random.Random(self.seed)
        self._counter = 0
        self._wa_ids: set[str] = set()
        self._records: list[BotRecord] = []
        self._updates_cache: list[_Update] | None = None

    @property
    def end(self) -> datetime:
        """The first moment after the stretch."""
        return self.start + timedelta(days=self.days)

    def team(self) -> list[SimRep]:
        """The simulated reps, with stable ids and personas."""
        team = []
        for i in range(self.reps):
            persona = PERSONAS[i % len(PERSONAS)]
            name = REP_NAMES[i % len(REP_NAMES)]
            if i >= len(REP_NAMES):
                name = f"{name} {i // len(REP_NAMES) + 1}"
            hire_date = self.start.date() - timedelta(days=900 + 37 * i)
            if persona == SLOW:
                hire_date = self.start.date() - timedelta(days=40)
            team.append(
                SimRep(
                    name=name,
                    phone_number_id=f"10654035224{i:04d}",
                    display_number=f"8613800{i:06d}",
                    waba_id=f"1022901293{i:05d}",
                    persona=persona,
                    hire_date=hire_date,
                    seniority="senior" if persona == CLOSER else "standard",
                    telegram_user_id=9_100_000_000 + i,
                )
            )
        return team

    @property
    def manager_name(self) -> str:
        """The name of the team's manager."""
        return MANAGER_NAME

    def deliveries(self) -> Iterator[Delivery]:
        """Every delivery of the stretch, in the order Meta would send them."""
        updates = sorted(self._updates(), key=lambda u: (u.at, u.kind))
        i = 0
        while i < len(updates):
            size = 1
            if not updates[i].account_level and self._rng.random() < self.batch_share:
                size = self._rng.randint(2, 6)
            group = updates[i : i + size]
            # Account-level updates travel alone: their entry carries its own time.
            cut = next((n for n, u in enumerate(group) if u.account_level), None)
            if cut is not None:
                group = group[: max(cut, 1)]
            i += len(group)
            kind = group[0].kind if len(group) == 1 else "batch"
            yield Delivery(at=group[-1].at, body=_envelope(group), kind=kind)

    def records(self) -> list[BotRecord]:
        """What the reps record through the bot during the stretch, oldest first."""
        self._updates()
        return sorted(self._records, key=lambda r: (r.at, r.rep, r.command))

    # --- the stories ------------------------------------------------------------------------

    def _updates(self) -> list[_Update]:
        if self._updates_cache is None:
            updates: list[_Update] = []
            for rep in self.team():
                story = {
                    CHATTER: self._chatter,
                    BROADCASTER: self._broadcaster,
                    CLOSER: self._closer,
                    SLOW: self._slow,
                }[rep.persona]
                updates.extend(u for u in story(rep) if u.at < self.end)
            self._records = [r for r in self._records if r.at < self.end]
            self._updates_cache = updates
        return self._updates_cache

    def _customer(self, rep: SimRep, index: int) -> _Customer:
        rng = self._rng
        language = rng.choice(LANGUAGES)
        while True:
            wa_id = f"{language.country}{rng.randint(10**8, 10**9 - 1)}"
            if wa_id not in self._wa_ids:
                self._wa_ids.add(wa_id)
                break
        contact = {"profile": {"name": f"Buyer {rep.name.split()[0]}-{index + 1}"}, "wa_id": wa_id}
        return _Customer(wa_id, contact, language, receipts_on=rng.random() > 0.25)

    def _awake(self, at: datetime, utc_offset: int, opens: int = 8, closes: int = 22) -> datetime:
        """``at``, or the next moment someone at ``utc_offset`` is awake (``opens``-``closes``)."""
        local = at + timedelta(hours=utc_offset)
        if opens <= local.hour < closes:
            return at
        next_open = local.replace(hour=opens, minute=0, second=0, microsecond=0)
        if local.hour >= closes:
            next_open += timedelta(days=1)
        minutes = self._rng.randint(0, 90)
        return next_open - timedelta(hours=utc_offset) + timedelta(minutes=minutes)

    def _contact_time(self, customer: _Customer, share: float = 0.8) -> datetime:
        offset = timedelta(minutes=self._rng.randint(0, int(self.days * 24 * 60 * share)))
        return self._awake(self.start + offset, customer.language.utc_offset)

    def _working_days(self) -> list[datetime]:
        """Each Monday-to-Friday of the stretch at 10:00 in the team's zone."""
        days = []
        for d in range(self.days + 1):
            local_day = (self.start + timedelta(hours=TEAM_ZONE_OFFSET) + timedelta(days=d)).date()
            if local_day.weekday() < 5:
                days.append(
                    datetime(local_day.year, local_day.month, local_day.day, 10, tzinfo=UTC)
                    - timedelta(hours=TEAM_ZONE_OFFSET)
                )
        return [d for d in days if self.start <= d < self.end]

    def _record(self, at: datetime, rep: SimRep, command: str) -> None:
        self._records.append(BotRecord(at, rep.name, command))

    def _rep_says(
        self, rep: SimRep, customer: _Customer, at: datetime, text: str, *, echo_share: float
    ) -> Iterator[_Update]:
        """A rep's own message: typed in the Business app (an echo) or sent by Cloud API."""
        if self._rng.random() < echo_share:
            yield self._echo(rep, customer.wa_id, at, text=text)
        else:
            yield from self._outbound_statuses(rep, customer, at, "service")

    def _chatter(self, rep: SimRep) -> Iterator[_Update]:
        rng = self._rng
        for index in range(max(2, int(self.customers_per_rep * 1.6))):
            customer = self._customer(rep, index)
            at = self._contact_time(customer, share=0.6)
            rep_first = rng.random() < 0.4
            if rep_first:
                at = self._awake(at, TEAM_ZONE_OFFSET)
                yield from self._rep_says(
                    rep, customer, at, rng.choice(CHATTER_LINES), echo_share=0.4
                )
            else:
                yield self._inbound(rep, customer, at, rng.choice(customer.language.greetings))
            tagged = False
            for round_ in range(rng.randint(8, 15)):
                if rep_first or round_ > 0:
                    if rng.random() > 0.88:
                        break  # the customer went quiet
                    at = self._awake(
                        at + timedelta(minutes=rng.randint(30, 960)), customer.language.utc_offset
                    )
                    asks = rng.random() < 0.06
                    pool = customer.language.price_asks if asks else customer.language.small_talk
                    yield self._inbound(rep, customer, at, rng.choice(pool))
                    if asks and not tagged and rng.random() < 0.7:
                        tagged = True
                        self._record(at + timedelta(minutes=rng.randint(5, 30)), rep,
                                     f"/tag {customer.wa_id} {HIGH_INTENT}")  # fmt: skip
                at += timedelta(minutes=rng.randint(3, 50))
                line = rng.choice(CHATTER_LINES + REP_LINES)
                yield from self._rep_says(rep, customer, at, line, echo_share=0.4)
                if rng.random() < 0.35:
                    at += timedelta(minutes=rng.randint(1, 4))
                    yield from self._rep_says(
                        rep, customer, at, rng.choice(CHATTER_LINES), echo_share=0.4
                    )
            if not tagged and index % 5 == 1:
                # A hopeful tag on a friendly customer who will not ask for anything.
                self._record(at + timedelta(hours=1), rep, f"/tag {customer.wa_id} {HIGH_INTENT}")

    def _broadcaster(self, rep: SimRep) -> Iterator[_Update]:
        rng = self._rng
        customers = [self._customer(rep, i) for i in range(max(5, self.customers_per_rep * 2))]
        blast_days = self._working_days()
        for day_index, day in enumerate(blast_days):
            text = BROADCAST_TEXTS[day_index % len(BROADCAST_TEXTS)]
            for number, customer in enumerate(customers):
                at = day + timedelta(seconds=20 * number + rng.randint(0, 15))
                if day_index % 3 == 2:
                    yield from self._outbound_statuses(rep, customer, at, "marketing")
                else:
                    yield self._echo(rep, customer.wa_id, at, text=text)
                if rng.random() < 0.015:
                    reply_at = at + timedelta(minutes=rng.randint(30, 600))
                    pool = CUSTOMER_PUSHBACK + customer.language.price_asks
                    yield self._inbound(rep, customer, reply_at, rng.choice(pool))
                    answer_at = reply_at + timedelta(hours=rng.randint(2, 20))
                    yield from self._rep_says(rep, customer, answer_at, text, echo_share=1.0)
        if blast_days:
            self._record(blast_days[0] + timedelta(minutes=45), rep,
                         f"/tag {customers[0].wa_id} {HIGH_INTENT}")  # fmt: skip
        flagged_at = self.start + timedelta(days=max(1, self.days * 3 // 5), hours=3)
        yield self._quality_update(rep, flagged_at, "FLAGGED")
        yield self._restriction(rep, flagged_at + timedelta(hours=20))

    def _closer(self, rep: SimRep) -> Iterator[_Update]:
        rng = self._rng
        yield self._history(rep)
        for index in range(max(3, self.customers_per_rep // 2)):
            customer = self._customer(rep, index)
            at = self._contact_time(customer, share=0.7)
            yield self._inbound(rep, customer, at, rng.choice(customer.language.greetings))
            at += timedelta(minutes=rng.randint(2, 25))
            yield from self._rep_says(rep, customer, at, rng.choice(REP_LINES), echo_share=0.5)
            if rng.random() < 0.15:
                continue  # browsing only
            at = self._awake(
                at + timedelta(minutes=rng.randint(20, 300)), customer.language.utc_offset
            )
            yield self._inbound(rep, customer, at, rng.choice(customer.language.price_asks))
            self._record(at + timedelta(minutes=rng.randint(3, 15)), rep,
                         f"/tag {customer.wa_id} {HIGH_INTENT}")  # fmt: skip
            at += timedelta(minutes=rng.randint(5, 40))
            filename = rng.choice(QUOTATION_FILES).format(n=rng.randint(1000, 9999))
            yield self._echo(rep, customer.wa_id, at, filename=filename)
            self._record(at + timedelta(minutes=2), rep, f"/quote {customer.wa_id}")
            at = self._awake(
                at + timedelta(hours=rng.randint(2, 30)), customer.language.utc_offset
            )
            yield self._inbound(rep, customer, at, rng.choice(customer.language.small_talk))
            at += timedelta(minutes=rng.randint(3, 30))
            yield from self._rep_says(rep, customer, at, rng.choice(REP_LINES), echo_share=0.5)
            if rng.random() < 0.62:
                if rng.random() < 0.5:
                    self._record(at + timedelta(hours=rng.randint(1, 12)), rep,
                                 f"/sample {customer.wa_id}")  # fmt: skip
                deal_at = at + timedelta(hours=rng.randint(12, 72))
                amount = rng.randrange(3000, 42000, 50)
                currency = rng.choice(("USD", "USD", "EUR"))
                margin = rng.randint(11, 28)
                self._record(deal_at, rep, f"/deal {customer.wa_id} {amount} {currency} {margin}%")
                confirm_at = deal_at - timedelta(minutes=rng.randint(30, 90))
                yield self._inbound(
                    rep, customer, confirm_at, rng.choice(customer.language.small_talk)
                )
                answer_at = confirm_at + timedelta(minutes=rng.randint(3, 20))
                yield from self._rep_says(
                    rep, customer, answer_at, rng.choice(REP_LINES), echo_share=0.5
                )

    def _slow(self, rep: SimRep) -> Iterator[_Update]:
        rng = self._rng
        for index in range(self.customers_per_rep):
            customer = self._customer(rep, index)
            at = self._contact_time(customer)
            asks = rng.random() < 0.45
            pool = customer.language.price_asks if asks else customer.language.greetings
            yield self._inbound(rep, customer, at, rng.choice(pool))
            if asks and rng.random() < 0.5:
                self._record(at + timedelta(hours=rng.randint(12, 20)), rep,
                             f"/tag {customer.wa_id} {HIGH_INTENT}")  # fmt: skip
            if rng.random() < 0.15:
                continue  # never answered: the customer waits, then goes elsewhere
            for _ in range(rng.randint(1, 3)):
                at += timedelta(hours=rng.uniform(12.2, 29.5))
                line = rng.choice(PRICE_ANSWERS if asks else REP_LINES)
                yield from self._rep_says(rep, customer, at, line, echo_share=0.3)
                if rng.random() > 0.4:
                    break  # lost: the customer does not come back
                at = self._awake(
                    at + timedelta(minutes=rng.randint(20, 400)), customer.language.utc_offset
                )
                yield self._inbound(rep, customer, at, rng.choice(customer.language.small_talk))

    # --- payload items ------------------------------------------------------------------------

    def _wamid(self) -> str:
        self._counter += 1
        return f"wamid.SIM{self.seed:04d}{self._counter:010d}"

    def _inbound(self, rep: SimRep, customer: _Customer, at: datetime, text: str) -> _Update:
        message = {
            "from": customer.wa_id,
            "id": self._wamid(),
            "timestamp": str(int(at.timestamp())),
            "type": "text",
            "text": {"body": text},
        }
        return _Update(at, "inbound", rep, "messages", message, "messages", customer.contact)

    def _echo(
        self,
        rep: SimRep,
        wa_id: str,
        at: datetime,
        *,
        text: str | None = None,
        filename: str | None = None,
    ) -> _Update:
        base = {
            "from": rep.display_number,
            "to": wa_id,
            "id": self._wamid(),
            "timestamp": str(int(at.timestamp())),
        }
        if filename is not None:
            message = {
                **base,
                "type": "document",
                "document": {
                    "filename": filename,
                    "mime_type": "application/pdf",
                    "id": str(self._rng.randint(10**14, 10**15 - 1)),
                },
            }
        else:
            message = {**base, "type": "text", "text": {"body": text or ""}}
        return _Update(at, "echo", rep, "smb_message_echoes", message, "message_echoes")

    def _outbound_statuses(
        self, rep: SimRep, customer: _Customer, at: datetime, category: str
    ) -> Iterator[_Update]:
        wamid = self._wamid()
        steps = [("sent", at), ("delivered", at + timedelta(seconds=self._rng.randint(1, 90)))]
        if customer.receipts_on and self._rng.random() < 0.9:
            steps.append(("read", steps[-1][1] + timedelta(minutes=self._rng.randint(1, 300))))
        for status, when in steps:
            item: dict[str, Any] = {
                "id": wamid,
                "status": status,
                "timestamp": str(int(when.timestamp())),
                "recipient_id": customer.wa_id,
            }
            if status == "sent":
                item["pricing"] = {
                    "billable": category != "service",
                    "pricing_model": "PMP",
                    "type": "regular" if category != "service" else "free_customer_service",
                    "category": category,
                }
            yield _Update(when, "status", rep, "messages", item, "statuses")

    def _history(self, rep: SimRep) -> _Update:
        """A backfill chunk: earlier chats of a number onboarded from the Business app."""
        rng = self._rng
        threads = []
        for index in range(3):
            customer = self._customer(rep, 100 + index)
            at = self.start - timedelta(days=rng.randint(40, 80))
            messages = []
            for turn in range(4):
                ours = turn % 2 == 1  # the customer opens, the rep answers last
                messages.append(
                    {
                        "from": rep.display_number if ours else customer.wa_id,
                        "id": self._wamid(),
                        "timestamp": str(int(at.timestamp())),
                        "type": "text",
                        "text": {"body": rng.choice(REP_LINES if ours else HISTORY_LINES)},
                        "history_context": {"status": "READ"},
                    }
                )
                at += timedelta(minutes=rng.randint(5, 120))
            threads.append({"id": customer.wa_id, "messages": messages})
        chunk = {"metadata": {"phase": 1, "chunk_order": 1, "progress": 100}, "threads": threads}
        return _Update(
            self.start + timedelta(minutes=5), "history", rep, "history", chunk, "history"
        )

    def _quality_update(self, rep: SimRep, at: datetime, event: str) -> _Update:
        value = {
            "display_phone_number": rep.display_number,
            "event": event,
            "current_limit": "TIER_1K",
        }
        return _Update(at, "account", rep, "phone_number_quality_update", value, "",
                       account_level=True)  # fmt: skip

    def _restriction(self, rep: SimRep, at: datetime) -> _Update:
        expiration = int((at + timedelta(days=7)).timestamp())
        value = {
            "event": "ACCOUNT_RESTRICTION",
            "restriction_info": [
                {
                    "restriction_type": "RESTRICTED_BIZ_INITIATED_MESSAGING",
                    "expiration": expiration,
                }
            ],
        }
        return _Update(at, "account", rep, "account_update", value, "", account_level=True)


def _envelope(updates: list[_Update]) -> bytes:
    """One webhook body holding ``updates``: one change per update, grouped by account."""
    changes: dict[str, list[dict[str, Any]]] = {}
    times: dict[str, int] = {}
    for update in updates:
        if update.account_level:
            value = update.value_item
            times[update.rep.waba_id] = int(update.at.timestamp())
        else:
            value = {
                "messaging_product": "whatsapp",
                "metadata": {
                    "display_phone_number": update.rep.display_number,
                    "phone_number_id": update.rep.phone_number_id,
                },
                update.list_key: [update.value_item],
            }
            if update.contact is not None:
                value["contacts"] = [update.contact]
        changes.setdefault(update.rep.waba_id, []).append(
            {"value": value, "field": update.field_name}
        )
    entries = []
    for waba, items in changes.items():
        entry: dict[str, Any] = {"id": waba}
        if waba in times:
            entry["time"] = times[waba]
        entry["changes"] = items
        entries.append(entry)
    payload = {"object": "whatsapp_business_account", "entry": entries}
    # Meta sends non-ASCII escaped; the signature is over exactly these bytes.
    return json.dumps(payload, separators=(",", ":")).encode()
