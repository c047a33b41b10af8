"""The team simulator: the same seed gives the same bytes, and each persona's traffic has
the properties that tell it apart, checked on the webhook payloads themselves."""

from __future__ import annotations

import json
import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest

from bot.simulate import (
    BROADCASTER,
    CHATTER,
    CLOSER,
    HIGH_INTENT,
    SLOW,
    BotRecord,
    SimRep,
    TrafficSimulator,
)

START = datetime(2026, 11, 1, 16, 0, tzinfo=UTC)  # Monday 00:00 in Shanghai


@dataclass
class Seen:
    """One rep's traffic as read back from the payloads."""

    inbound: list[tuple[datetime, str, str]] = field(default_factory=list)
    echoes: list[tuple[datetime, str, dict[str, object]]] = field(default_factory=list)
    statuses: list[dict[str, object]] = field(default_factory=list)
    history: list[dict[str, object]] = field(default_factory=list)
    account: list[tuple[str, dict[str, object]]] = field(default_factory=list)

    def outbound(self) -> list[tuple[datetime, str]]:
        """(time, customer) of every message the rep sent, echoes and Cloud API alike."""
        sent = [(at, to) for at, to, _ in self.echoes]
        sent += [
            (_time(s["timestamp"]), str(s["recipient_id"]))
            for s in self.statuses
            if s["status"] == "sent"
        ]
        return sorted(sent)


def _time(raw: object) -> datetime:
    return datetime.fromtimestamp(int(str(raw)), UTC)


def read_back(sim: TrafficSimulator) -> tuple[dict[str, Seen], list[bytes], list[str]]:
    """Parse every delivery; returns traffic per rep name, the bodies and their kinds."""
    team = sim.team()
    by_number = {rep.phone_number_id: rep for rep in team}
    by_waba = {rep.waba_id: rep for rep in team}
    seen: dict[str, Seen] = defaultdict(Seen)
    bodies, kinds = [], []
    for delivery in sim.deliveries():
        bodies.append(delivery.body)
        kinds.append(delivery.kind)
        payload = json.loads(delivery.body)
        assert payload["object"] == "whatsapp_business_account"
        for entry in payload["entry"]:
            for change in entry["changes"]:
                value, name = change["value"], change["field"]
                if name in ("account_update", "phone_number_quality_update"):
                    assert isinstance(entry["time"], int)
                    assert "metadata" not in value
                    seen[by_waba[entry["id"]].name].account.append((name, value))
                    continue
                rep = by_number[value["metadata"]["phone_number_id"]]
                assert value["metadata"]["display_phone_number"] == rep.display_number
                mine = seen[rep.name]
                for message in value.get("messages", []):
                    text = message["text"]["body"]
                    mine.inbound.append((_time(message["timestamp"]), message["from"], text))
                for echo in value.get("message_echoes", []):
                    mine.echoes.append((_time(echo["timestamp"]), echo["to"], echo))
                mine.statuses.extend(value.get("statuses", []))
                mine.history.extend(value.get("history", []))
    return seen, bodies, kinds


def persona(sim: TrafficSimulator, key: str) -> SimRep:
    """The rep who plays ``key``."""
    return next(rep for rep in sim.team() if rep.persona == key)


def reply_share(seen: Seen) -> float:
    """Customers who wrote after the rep's first message to them ÷ customers messaged."""
    first: dict[str, datetime] = {}
    for at, customer in seen.outbound():
        first.setdefault(customer, at)
    replied = {c for at, c, _ in seen.inbound if c in first and at > first[c]}
    return len(replied) / len(first)


@pytest.fixture(scope="module")
def sim() -> TrafficSimulator:
    """A four-rep team over a fortnight."""
    return TrafficSimulator(reps=4, customers_per_rep=15, days=14, seed=11, start=START)


@pytest.fixture(scope="module")
def traffic(sim: TrafficSimulator) -> tuple[dict[str, Seen], list[bytes], list[str]]:
    """That team's deliveries, read back."""
    return read_back(sim)


def test_the_same_seed_gives_the_same_bytes_and_records() -> None:
    def run(seed: int) -> tuple[list[bytes], list[BotRecord]]:
        sim = TrafficSimulator(reps=4, customers_per_rep=6, days=9, seed=seed, start=START)
        return [d.body for d in sim.deliveries()], sim.records()

    first, again, other = run(3), run(3), run(4)
    assert first == again
    assert first[0] != other[0]
    assert len(first[0]) > 100
    assert len(first[1]) > 5


def test_deliveries_come_in_time_order_and_some_are_batched(
    traffic: tuple[dict[str, Seen], list[bytes], list[str]], sim: TrafficSimulator
) -> None:
    times = [d.at for d in TrafficSimulator(reps=2, days=3, seed=2, start=START).deliveries()]
    assert times == sorted(times)
    _, bodies, kinds = traffic
    batched = [json.loads(b) for b, k in zip(bodies, kinds, strict=True) if k == "batch"]
    assert batched
    assert all(sum(len(e["changes"]) for e in p["entry"]) > 1 for p in batched)
    assert {"inbound", "status", "echo", "history", "account"} <= set(kinds)


def test_the_personas_and_their_profiles(sim: TrafficSimulator) -> None:
    team = sim.team()
    assert [rep.persona for rep in team] == [CHATTER, BROADCASTER, CLOSER, SLOW]
    new_hire = persona(sim, SLOW)
    assert new_hire.hire_date is not None
    assert (START.date() - new_hire.hire_date) < timedelta(days=90)
    assert persona(sim, CLOSER).seniority == "senior"
    others = [r for r in team if r.persona in (CHATTER, BROADCASTER)]
    assert all(r.hire_date and START.date() - r.hire_date > timedelta(days=365) for r in others)
    assert len({rep.telegram_user_id for rep in team}) == len(team)


def test_the_chatter_talks_a_lot_and_gets_answers(
    sim: TrafficSimulator, traffic: tuple[dict[str, Seen], list[bytes], list[str]]
) -> None:
    seen = traffic[0]
    chatter = seen[persona(sim, CHATTER).name]
    closer = seen[persona(sim, CLOSER).name]
    assert len({c for _, c in chatter.outbound()}) > len({c for _, c in closer.outbound()})
    assert len(chatter.outbound()) > 3 * len(closer.outbound())
    assert reply_share(chatter) > 0.6
    deals = [r for r in sim.records() if r.rep == persona(sim, CHATTER).name]
    assert deals
    assert all(r.kind == "tag" for r in deals)


def test_the_broadcaster_pastes_one_text_to_many_and_gets_flagged(
    sim: TrafficSimulator, traffic: tuple[dict[str, Seen], list[bytes], list[str]]
) -> None:
    rep = persona(sim, BROADCASTER)
    seen = traffic[0][rep.name]
    assert len(seen.outbound()) >= 200  # hundreds of messages

    # The same text to 5 or more customers within 24 hours.
    by_text: dict[str, list[tuple[datetime, str]]] = defaultdict(list)
    for at, to, echo in seen.echoes:
        body = echo["text"]["body"] if echo["type"] == "text" else ""  # type: ignore[index]
        by_text[str(body)].append((at, to))
    mass = [
        sends
        for sends in by_text.values()
        if len({to for at, to in sends if at - sends[0][0] <= timedelta(hours=24)}) >= 5
    ]
    assert mass
    # Marketing templates on top, and no one else sends any.
    marketing = [s for s in seen.statuses if s.get("pricing", {}).get("category") == "marketing"]  # type: ignore[attr-defined]
    assert len(marketing) >= 20
    for other in sim.team():
        if other.persona != BROADCASTER:
            assert not [
                s for s in traffic[0][other.name].statuses
                if s.get("pricing", {}).get("category") == "marketing"  # type: ignore[attr-defined]
            ]  # fmt: skip
    assert reply_share(seen) < 0.2
    assert reply_share(seen) < reply_share(traffic[0][persona(sim, CHATTER).name])

    # WhatsApp flags the number, then restricts the account.
    fields = {name: value for name, value in seen.account}
    quality = fields["phone_number_quality_update"]
    assert quality["event"] == "FLAGGED"
    assert quality["display_phone_number"] == rep.display_number
    assert fields["account_update"]["event"] == "ACCOUNT_RESTRICTION"


def test_the_closer_quotes_and_closes(
    sim: TrafficSimulator, traffic: tuple[dict[str, Seen], list[bytes], list[str]]
) -> None:
    rep = persona(sim, CLOSER)
    seen = traffic[0][rep.name]
    documents = [e for _, _, e in seen.echoes if e["type"] == "document"]
    names = [str(d["document"]["filename"]) for d in documents]  # type: ignore[index]
    assert names
    assert all(re.search(r"Quotation|Proforma|Price list", n) for n in names)

    records = [r for r in sim.records() if r.rep == rep.name]
    quoted = {r.command.split()[1] for r in records if r.kind == "quote"}
    bought = {r.command.split()[1] for r in records if r.kind == "deal"}
    assert bought
    assert bought <= quoted
    assert len(bought) / len(quoted) >= 0.3
    dealers = {r.rep for r in sim.records() if r.kind == "deal"}
    assert dealers == {rep.name}
    for record in records:
        if record.kind == "deal":
            _, _, amount, currency, margin = record.command.split()
            assert int(amount) > 0
            assert currency in ("USD", "EUR")
            assert margin.endswith("%")

    # Fast answers: every customer message is answered within the hour.
    outbound = seen.outbound()
    for at, customer, _ in seen.inbound:
        answers = [t for t, c in outbound if c == customer and t > at]
        assert answers
        assert answers[0] - at <= timedelta(hours=1)

    # The number came with a history backfill of earlier chats.
    assert seen.history
    assert seen.history[0]["threads"]


def test_the_slow_responder_answers_after_12_to_30_hours_and_loses_customers(
    sim: TrafficSimulator, traffic: tuple[dict[str, Seen], list[bytes], list[str]]
) -> None:
    seen = traffic[0][persona(sim, SLOW).name]
    outbound = seen.outbound()
    assert outbound
    for at, customer in outbound:
        waiting = [t for t, c, _ in seen.inbound if c == customer and t < at]
        assert waiting
        delay = at - max(waiting)
        assert timedelta(hours=12) <= delay <= timedelta(hours=30)
    # Customers who never come back after the answer, or were never answered.
    last_word = {}
    for at, customer, _ in seen.inbound:
        last_word[customer] = at
    gone = [c for c, at in last_word.items() if all(t < at for t, o in outbound if o == c)]
    assert len(gone) >= 5


def test_customers_ask_for_prices_in_their_own_words(
    traffic: tuple[dict[str, Seen], list[bytes], list[str]],
) -> None:
    texts = " ".join(text for seen in traffic[0].values() for _, _, text in seen.inbound)
    words = ["precio", "cotización", "preço", "cotação", "devis", "цена", "سعر", "报价",
             "How much", "FOB", "CIF", "MOQ"]  # fmt: skip
    found = [word for word in words if word in texts]
    assert len(found) >= 7, found
    countries = {c[:2] for seen in traffic[0].values() for _, c, _ in seen.inbound}
    assert len(countries) >= 5


def test_some_customers_turn_read_receipts_off_and_their_reply_proves_the_read(
    traffic: tuple[dict[str, Seen], list[bytes], list[str]],
) -> None:
    proven = 0
    for seen in traffic[0].values():
        by_customer: dict[str, set[str]] = defaultdict(set)
        for status in seen.statuses:
            by_customer[str(status["recipient_id"])].add(str(status["status"]))
        for customer, statuses in by_customer.items():
            if "read" in statuses:
                continue
            sent = [t for t, c in seen.outbound() if c == customer]
            if any(c == customer and t > min(sent) for t, c, _ in seen.inbound):
                proven += 1
    assert proven >= 3


def test_reps_record_tags_and_some_lead_nowhere_within_a_week(sim: TrafficSimulator) -> None:
    records = sim.records()
    assert records == sorted(records, key=lambda r: (r.at, r.rep, r.command))
    tags = [r for r in records if r.kind == "tag"]
    assert tags
    assert all(r.command.endswith(HIGH_INTENT) for r in tags)
    follow_ups = [r for r in records if r.kind in ("quote", "sample", "deal")]

    def followed(tag: BotRecord) -> bool:
        customer = tag.command.split()[1]
        return any(
            r.command.split()[1] == customer and tag.at <= r.at <= tag.at + timedelta(days=7)
            for r in follow_ups
        )

    assert any(followed(t) for t in tags)
    assert sum(1 for t in tags if not followed(t)) >= 3
    assert all(START <= r.at < sim.end for r in records)
