"""A deterministic generator of a sales team's WhatsApp traffic, as Meta delivers it.

It produces the webhook bodies the WhatsApp Business Platform would POST for a team:
customers writing in (in several languages, sometimes asking for a price), the statuses
of the reps' Cloud API messages (sent, delivered, read; some customers have read
receipts off, so their ``read`` never comes), messages the reps typed in the WhatsApp
Business app (``smb_message_echoes``, quotation documents among them), and several
updates batched into one body as Meta sometimes does. The same seed gives the same
bytes, so benchmarks and tests can rely on it.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

GREETINGS = [
    "Hello, is this the factory for LED panels?",
    "Hola, ¿tienen stock de este modelo?",
    "Bonjour, vous livrez en France ?",
    "Olá, vocês enviam para o Brasil?",
    "Здравствуйте, есть ли каталог?",
    "مرحبا، هل لديكم كتالوج؟",
    "你好，请问有现货吗？",
]
PRICE_ASKS = [
    "What is the price for 500 pcs FOB Shenzhen?",
    "¿Cuál es el precio por 1000 unidades?",
    "Pouvez-vous m'envoyer un devis ?",
    "Qual é o preço CIF Santos?",
    "Какая цена за контейнер?",
    "كم سعر الحاوية؟",
    "请给我报价，谢谢",
    "How much is the MOQ?",
]
SMALL_TALK = [
    "Thanks, I will check with my boss.",
    "Can you send more pictures?",
    "OK 👍",
    "What is the lead time?",
    "Gracias, lo reviso.",
    "Merci beaucoup !",
]
REP_LINES = [
    "Hi! Thanks for your message, here is our catalogue.",
    "Sure, the lead time is 15 days after deposit.",
    "Let me check the stock and come back to you today.",
    "We ship worldwide, FOB or CIF as you prefer.",
]
QUOTATION_FILES = ["Quotation_LED-600.pdf", "Proforma Invoice PI-2291.pdf", "Price list 2026.xlsx"]


@dataclass(frozen=True, slots=True)
class SimRep:
    """A simulated rep and the business number they own."""

    name: str
    phone_number_id: str
    display_number: str
    waba_id: str


@dataclass(frozen=True, slots=True)
class Delivery:
    """One webhook POST: when Meta sends it, and the exact body bytes."""

    at: datetime
    body: bytes
    kind: str  # inbound | status | echo | batch


@dataclass
class _Update:
    at: datetime
    kind: str
    rep: SimRep
    field_name: str
    value_item: dict[str, Any]
    list_key: str
    contact: dict[str, Any] | None = None


@dataclass
class TrafficSimulator:
    """Generates deliveries for ``reps`` reps over ``days`` days, from ``seed``.

    Args:
        reps: how many reps (one business number each).
        customers_per_rep: customers each rep talks to.
        days: length of the simulated stretch.
        seed: the same seed gives the same deliveries.
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
        self._rng = random.Random(self.seed)
        self._counter = 0

    def team(self) -> list[SimRep]:
        """The simulated reps, with stable ids."""
        return [
            SimRep(
                name=f"Rep {i + 1}",
                phone_number_id=f"10654035224{i:04d}",
                display_number=f"8613800{i:06d}",
                waba_id="102290129340398",
            )
            for i in range(self.reps)
        ]

    def deliveries(self) -> Iterator[Delivery]:
        """Every delivery of the stretch, in the order Meta would send them."""
        updates = sorted(self._updates(), key=lambda u: (u.at, u.kind))
        i = 0
        while i < len(updates):
            size = self._rng.randint(2, 6) if self._rng.random() < self.batch_share else 1
            group = updates[i : i + size]
            i += size
            yield Delivery(
                at=group[-1].at,
                body=_envelope(group),
                kind="batch" if len(group) > 1 else group[0].kind,
            )

    def _wamid(self) -> str:
        self._counter += 1
        return f"wamid.SIM{self.seed:04d}{self._counter:010d}"

    def _updates(self) -> Iterator[_Update]:
        for rep in self.team():
            for c in range(self.customers_per_rep):
                yield from self._customer_story(rep, c)

    def _customer_story(self, rep: SimRep, index: int) -> Iterator[_Update]:
        rng = self._rng
        country = rng.choice(["1", "34", "33", "55", "7", "971", "49"])
        wa_id = f"{country}{rng.randint(10**8, 10**9 - 1)}"
        contact = {"profile": {"name": f"Buyer {rep.name[-1]}-{index}"}, "wa_id": wa_id}
        receipts_on = rng.random() > 0.25
        at = self.start + timedelta(minutes=rng.randint(0, self.days * 24 * 60 - 1))
        end = self.start + timedelta(days=self.days)

        inbound_first = rng.random() < 0.5
        for turn in range(rng.randint(1, 8)):
            if at >= end:
                return
            customer_speaks = (turn % 2 == 0) == inbound_first
            if customer_speaks:
                text = rng.choice(PRICE_ASKS if rng.random() < 0.3 else GREETINGS + SMALL_TALK)
                yield self._inbound(rep, contact, at, text)
                at += timedelta(minutes=rng.randint(5, 60 * 20))
                continue
            if rng.random() < 0.2:
                yield self._echo(rep, wa_id, at)
            else:
                yield from self._outbound_statuses(rep, wa_id, at, receipts_on)
            at += timedelta(minutes=rng.randint(10, 60 * 30))

    def _inbound(self, rep: SimRep, contact: dict[str, Any], at: datetime, text: str) -> _Update:
        message = {
            "from": contact["wa_id"],
            "id": self._wamid(),
            "timestamp": str(int(at.timestamp())),
            "type": "text",
            "text": {"body": text},
        }
        return _Update(at, "inbound", rep, "messages", message, "messages", contact)

    def _echo(self, rep: SimRep, wa_id: str, at: datetime) -> _Update:
        base = {
            "from": rep.display_number,
            "to": wa_id,
            "id": self._wamid(),
            "timestamp": str(int(at.timestamp())),
        }
        if self._rng.random() < 0.4:
            filename = self._rng.choice(QUOTATION_FILES)
            message = {
                **base,
                "type": "document",
                "document": {"filename": filename, "mime_type": "application/pdf", "id": "1"},
            }
        else:
            message = {**base, "type": "text", "text": {"body": self._rng.choice(REP_LINES)}}
        return _Update(at, "echo", rep, "smb_message_echoes", message, "message_echoes")

    def _outbound_statuses(
        self, rep: SimRep, wa_id: str, at: datetime, receipts_on: bool
    ) -> Iterator[_Update]:
        wamid = self._wamid()
        category = "marketing" if self._rng.random() < 0.15 else "service"
        steps = [("sent", at), ("delivered", at + timedelta(seconds=self._rng.randint(1, 90)))]
        if receipts_on and self._rng.random() < 0.8:
            steps.append(("read", steps[-1][1] + timedelta(minutes=self._rng.randint(1, 600))))
        for status, when in steps:
            item: dict[str, Any] = {
                "id": wamid,
                "status": status,
                "timestamp": str(int(when.timestamp())),
                "recipient_id": wa_id,
            }
            if status != "read":
                item["pricing"] = {
                    "billable": category != "service",
                    "pricing_model": "PMP",
                    "type": "regular" if category != "service" else "free_customer_service",
                    "category": category,
                }
            yield _Update(when, "status", rep, "messages", item, "statuses")


def _envelope(updates: list[_Update]) -> bytes:
    """One webhook body holding ``updates``: one change per update, grouped by rep."""
    changes: dict[str, list[dict[str, Any]]] = {}
    for update in updates:
        value: dict[str, Any] = {
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
    payload = {
        "object": "whatsapp_business_account",
        "entry": [{"id": waba, "changes": items} for waba, items in changes.items()],
    }
    # Meta sends non-ASCII escaped; the signature is over exactly these bytes.
    return json.dumps(payload, separators=(",", ":")).encode()
