"""A plain reference implementation of the KPI definitions, over a list of events.

Deliberately naive: every metric is a loop over all events, straight from the words of
``docs/metrics.md``, with no SQL, no windows cut short and no cleverness. The
property tests compare it with the engine on random event streams; the benchmark
times it against the engine on the same data. It shares only the quote lexicon and the
text folding with the engine (data, not logic) and counts time round the clock.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from bot.content_keys import normalise_text
from bot.quotes import asks_for_price, names_a_quote

H = timedelta(hours=1)
DAY = timedelta(days=1)


@dataclass(frozen=True)
class Msg:
    """A message between the rep and a customer."""

    customer: int
    ts: datetime
    inbound: bool
    type: str = "text"
    text: str | None = None
    filename: str | None = None
    template: str | None = None
    automated: bool = False
    read_at: datetime | None = None
    history_read: bool = False


@dataclass(frozen=True)
class Record:
    """A tag (``high-intent``), a customer event (quote, sample, complaint) or a deal."""

    kind: str
    customer: int
    ts: datetime
    amount: Decimal = Decimal(0)
    margin: float | None = None
    referred_by: int | None = None


@dataclass
class Events:
    """Everything about one rep."""

    messages: list[Msg] = field(default_factory=list)
    records: list[Record] = field(default_factory=list)


def _seen_out(m: Msg) -> bool:
    return not m.inbound and m.type != "reaction"


def _work(m: Msg) -> bool:
    return _seen_out(m) and not m.automated


def _turn_msg(m: Msg) -> bool:
    return (m.inbound and m.type != "reaction") or _work(m)


def _content(m: Msg) -> str | None:
    return m.text if m.text is not None else m.filename


def _is_broadcast(m: Msg, msgs: list[Msg], as_of: datetime) -> bool:
    key = normalise_text(_content(m) or "")
    if not key:
        return False
    same = [
        s
        for s in msgs
        if _seen_out(s) and s.ts < as_of and normalise_text(_content(s) or "") == key
    ]
    for opener in same:
        if opener.ts <= m.ts <= opener.ts + DAY:
            customers = {s.customer for s in same if opener.ts <= s.ts <= opener.ts + DAY}
            if len(customers) >= 5:
                return True
    return False


def _read(m: Msg, msgs: list[Msg], as_of: datetime) -> bool:
    if m.read_at is not None and m.read_at < as_of:
        return True
    if m.history_read:
        return True
    return any(i.inbound and i.customer == m.customer and m.ts < i.ts < as_of for i in msgs)


def reached(ev: Events, start: datetime, as_of: datetime) -> dict[int, datetime]:
    """Customers whose contact started in [start, as_of) and who got a personalised,
    read message within 24 h of contact start."""
    msgs = ev.messages
    found: dict[int, datetime] = {}
    for customer in {m.customer for m in msgs}:
        contact = min(m.ts for m in msgs if m.customer == customer)
        if not start <= contact < as_of:
            continue
        for m in msgs:
            if (
                m.customer == customer
                and _work(m)
                and m.template is None
                and contact <= m.ts <= contact + DAY
                and m.ts < as_of
                and not _is_broadcast(m, msgs, as_of)
                and _read(m, msgs, as_of)
            ):
                found[customer] = contact
                break
    return found


def _quote_times(ev: Events, customer: int) -> list[datetime]:
    times = [
        m.ts
        for m in ev.messages
        if m.customer == customer
        and (
            (m.inbound and asks_for_price(m.text))
            or (_seen_out(m) and m.type == "document" and names_a_quote(m.filename, None))
        )
    ]
    times += [r.ts for r in ev.records if r.customer == customer and r.kind == "quote"]
    return sorted(times)


def _turns(
    ev: Events, as_of: datetime
) -> tuple[list[tuple[datetime, datetime | None]], list[datetime]]:
    """Customer turns (start, answer) and the moments conversations passed 10 turns."""
    customer_turns: list[tuple[datetime, datetime | None]] = []
    deep: list[datetime] = []
    for customer in sorted({m.customer for m in ev.messages}):
        seq = sorted(
            (m for m in ev.messages if m.customer == customer and _turn_msg(m) and m.ts < as_of),
            key=lambda m: m.ts,
        )
        turns = 0
        for n, m in enumerate(seq):
            prev = seq[n - 1] if n else None
            new_conv = prev is None or m.ts - prev.ts > DAY
            if new_conv:
                turns = 0
            if new_conv or (prev is not None and prev.inbound != m.inbound):
                turns += 1
                if turns == 11:
                    deep.append(m.ts)
                if m.inbound:
                    answer = next((a.ts for a in seq[n + 1 :] if not a.inbound), None)
                    customer_turns.append((m.ts, answer))
    return customer_turns, deep


def compute(
    ev: Events, start: datetime, end: datetime, at: datetime, min_margin: float | None = None
) -> dict[str, Any]:
    """Every metric of the rep for the period [start, end) seen at ``at``."""
    as_of = min(max(at, start), end)
    msgs = ev.messages
    out: dict[str, Any] = {}

    reach30 = reached(ev, min(start, as_of - 30 * DAY), as_of)
    out["effective_reach"] = sum(1 for c in reach30.values() if c >= start)
    out["messages_sent"] = sum(1 for m in msgs if _work(m) and start <= m.ts < as_of)

    messaged = {m.customer for m in msgs if _work(m) and start <= m.ts < as_of}
    replied = 0
    for c in messaged:
        first = min(m.ts for m in msgs if m.customer == c and _work(m) and start <= m.ts < as_of)
        if any(
            i.inbound and i.customer == c and first < i.ts <= first + 72 * H and i.ts < as_of
            for i in msgs
        ):
            replied += 1
    out["reply_rate"] = replied / len(messaged) if messaged else None

    week = [m for m in msgs if as_of - 7 * DAY <= m.ts < as_of]
    out["active_customers"] = len(
        {m.customer for m in week if _work(m)} & {m.customer for m in week if m.inbound}
    )

    customer_turns, deep = _turns(ev, as_of)
    values: list[float] = []
    bands = [0, 0, 0, 0]
    for started, answer in customer_turns:
        if not start <= started < as_of:
            continue
        elapsed = (answer if answer is not None else as_of) - started
        if answer is None and elapsed < 24 * H:
            continue
        values.append(min(elapsed, 24 * H).total_seconds())
        if answer is None or elapsed > 24 * H:
            bands[3] += 1
        else:
            bands[0 if elapsed <= 4 * H else 1 if elapsed <= 12 * H else 2] += 1
    out["response_turns"] = len(values)
    out["response_mean_s"] = statistics.fmean(values) if values else None
    out["response_median_s"] = float(statistics.median(values)) if values else None
    out["response_bands"] = [b / len(values) for b in bands] if values else None
    out["deep_conversations"] = sum(1 for t in deep if start <= t < as_of)

    base = {c for c, contact in reach30.items() if contact >= as_of - 30 * DAY}
    quoted = {c for c in base if any(t < as_of for t in _quote_times(ev, c))}
    out["quote_rate"] = len(quoted) / len(base) if base else None

    tags = [r for r in ev.records if r.kind == "tag" and start <= r.ts + 7 * DAY < as_of]
    followed = 0
    for tag in tags:
        times = _quote_times(ev, tag.customer) + [
            r.ts for r in ev.records if r.customer == tag.customer and r.kind in ("sample", "deal")
        ]
        if any(tag.ts <= t <= tag.ts + 7 * DAY for t in times):
            followed += 1
    out["tag_accuracy"] = followed / len(tags) if tags else None

    first_quote = {}
    for c in {m.customer for m in msgs} | {r.customer for r in ev.records}:
        times = [t for t in _quote_times(ev, c) if t < as_of]
        if times and times[0] >= as_of - 90 * DAY:
            first_quote[c] = times[0]
    converted = {
        c
        for c, first in first_quote.items()
        if any(r.kind == "deal" and r.customer == c and first <= r.ts < as_of for r in ev.records)
    }
    out["conversion_rate"] = len(converted) / len(first_quote) if first_quote else None

    deals = [r for r in ev.records if r.kind == "deal" and start <= r.ts < as_of]
    below = [
        d
        for d in deals
        if min_margin is not None and d.margin is not None and d.margin < min_margin
    ]
    out["deal_amount"] = sum((d.amount for d in deals if d not in below), Decimal(0))
    out["order_value"] = (
        (sum((d.amount for d in deals), Decimal(0)) / len(deals)).quantize(Decimal("0.0001"))
        if deals
        else None
    )
    with_margin = [d for d in deals if d.margin is not None]
    weight = sum((d.amount for d in with_margin), Decimal(0))
    out["margin"] = (
        float(sum(Decimal(str(d.margin)) * d.amount for d in with_margin) / weight)
        if with_margin and weight
        else None
    )
    all_deals = [r for r in ev.records if r.kind == "deal"]
    repeat = [d for d in deals if any(e.customer == d.customer and e.ts < d.ts for e in all_deals)]
    out["repeat_amount"] = sum((d.amount for d in repeat), Decimal(0))
    out["referrals"] = len(
        {d.customer for d in deals if d.referred_by is not None and d not in repeat}
    )
    return out
