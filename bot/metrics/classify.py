"""Which outbound messages are the rep's own words: automated, template, broadcast, personalised.

- **Automated**: greeting and away messages, chatbot replies (``is_automated``).
- **Template**: a WhatsApp message template (``is_template``).
- **Broadcast**: an outbound message whose normalised text (case, white space and digits
  folded) the same rep sent to 5 or more distinct customers within 24 hours, and every
  template message of the marketing category.
- **Personalised**: outbound, not automated, not a template, not a broadcast.

A message's content for broadcast detection is its text, else its caption, else its
file name (the same catalogue sent to twenty new numbers is a mass send too).
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta

BROADCAST_MIN_CUSTOMERS = 5
BROADCAST_WINDOW = timedelta(hours=24)

_DIGITS = re.compile(r"\d+")


def normalise_text(content: str) -> str:
    """Fold ``content`` for comparing sends: case and white space folded, digit runs as ``0``.

    Args:
        content: a text, caption or file name.

    Returns:
        The normalised form; "Order 12 ready" and "order  907 READY" give the same.
    """
    return _DIGITS.sub("0", " ".join(content.casefold().split()))


def broadcast_ids(sends: Iterable[tuple[int, int, datetime, str]]) -> set[int]:
    """The outbound messages that are broadcasts by content.

    Args:
        sends: ``(message_id, customer_id, timestamp, content)`` of one rep's outbound
            messages; every send that could be in the same 24-hour window as a message
            of interest must be included.

    Returns:
        Ids of the messages whose normalised content the rep sent to 5 or more distinct
        customers within some 24 hours that include the message.
    """
    groups: dict[str, list[tuple[datetime, int, int]]] = defaultdict(list)
    for message_id, customer_id, timestamp, content in sends:
        key = normalise_text(content)
        if key:
            groups[key].append((timestamp, message_id, customer_id))

    found: set[int] = set()
    for group in groups.values():
        if len(group) >= BROADCAST_MIN_CUSTOMERS:
            group.sort()
            found.update(_marked_in_group(group))
    return found


def _marked_in_group(group: Sequence[tuple[datetime, int, int]]) -> list[int]:
    """Slide a 24-hour window that starts at each send; mark every window of 5+ customers."""
    marked: list[int] = []
    customers: Counter[int] = Counter()
    end = 0
    marked_until = 0
    for begin, (opened_at, _, _) in enumerate(group):
        while end < len(group) and group[end][0] - opened_at <= BROADCAST_WINDOW:
            customers[group[end][2]] += 1
            end += 1
        if len(customers) >= BROADCAST_MIN_CUSTOMERS:
            marked.extend(message_id for _, message_id, _ in group[max(begin, marked_until) : end])
            marked_until = end
        leaving = group[begin][2]
        customers[leaving] -= 1
        if not customers[leaving]:
            del customers[leaving]
    return marked
