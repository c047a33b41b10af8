"""Broadcast detection against the definition read literally, on random sends.

:func:`bot.metrics.classify.broadcast_ids` slides a window with bisection and skips
windows already marked over the stored content keys; this checks it against every
24-hour window tried one by one over the texts themselves.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.content_keys import content_key, normalise_text
from bot.metrics.classify import BROADCAST_MIN_CUSTOMERS, BROADCAST_WINDOW, broadcast_ids

T0 = datetime(2025, 3, 1, tzinfo=UTC)


def _by_definition(sends: list[tuple[int, int, datetime, str]]) -> set[int]:
    """A send is a broadcast when some 24 hours that include it hold its normalised
    content sent to 5 or more distinct customers; such a span can start at a send."""
    found: set[int] = set()
    for message_id, _, at, content in sends:
        key = normalise_text(content)
        if not key:
            continue
        same = [(c, t) for _, c, t, text in sends if normalise_text(text) == key]
        for _, opened in same:
            if not opened <= at <= opened + BROADCAST_WINDOW:
                continue
            inside = {c for c, t in same if opened <= t <= opened + BROADCAST_WINDOW}
            if len(inside) >= BROADCAST_MIN_CUSTOMERS:
                found.add(message_id)
                break
    return found


_send = st.tuples(
    st.integers(1, 8),  # customer
    # Minutes over three days, so windows overlap, touch at exactly 24 h and fall apart.
    st.integers(0, 3 * 24 * 60).map(lambda minutes: T0 + timedelta(minutes=minutes)),
    st.sampled_from(("Hello 1", "hello  2", "Catalogue", "", "ok")),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(_send, max_size=40))
def test_broadcast_ids_match_the_definition(raw: list[tuple[int, datetime, str]]) -> None:
    sends = sorted(
        ((i, customer, at, text) for i, (customer, at, text) in enumerate(raw, start=1)),
        key=lambda send: (send[2], send[0]),
    )
    keyed = [(i, customer, at, content_key(text)) for i, customer, at, text in sends]
    assert broadcast_ids(keyed) == _by_definition(sends)


def test_window_of_exactly_24_hours_counts() -> None:
    key = content_key("price list")
    sends = [(i, i, T0 + i * BROADCAST_WINDOW / 4, key) for i in range(5)]
    assert broadcast_ids(sends) == {0, 1, 2, 3, 4}
    later = [*sends[:4], (4, 4, sends[4][2] + timedelta(microseconds=1), key)]
    assert broadcast_ids(later) == set()
