"""Which outbound messages are the rep's own words: automated, template, broadcast, personalised.

- **Automated**: greeting and away messages, chatbot replies (``is_automated``).
- **Template**: a WhatsApp message template (``is_template``).
- **Broadcast**: an outbound message whose normalised text (case, white space and digits
  folded) the same rep sent to 5 or more distinct customers within 24 hours, and every
  template message of the marketing category.
- **Personalised**: outbound, not automated, not a template, not a broadcast.

A message's content for broadcast detection is its text, else its caption, else its
file name (the same catalogue sent to twenty new numbers is a mass send too); ingest
stores its normalised form as a key (:mod:`bot.content_keys`).
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Hashable, Iterable, Sequence
from datetime import datetime, timedelta

BROADCAST_MIN_CUSTOMERS = 5
BROADCAST_WINDOW = timedelta(hours=24)


def broadcast_ids(sends: Iterable[tuple[int, int, datetime, Hashable | None]]) -> set[int]:
    """The outbound messages that are broadcasts by content.

    Args:
        sends: ``(message_id, customer_id, timestamp, key)`` of one rep's outbound
            messages in time order, where equal keys mean the same normalised content
            (the stored ``message.content_key``) and None means no content; every send
            that could be in the same 24-hour window as a message of interest must be
            included.

    Returns:
        Ids of the messages whose content the rep sent to 5 or more distinct customers
        within some 24 hours that include the message.
    """
    # Per key: the send times, message ids and customers, in time order.
    groups: dict[Hashable, tuple[list[datetime], list[int], list[int]]] = {}
    for message_id, customer_id, timestamp, key in sends:
        if key is None:
            continue
        group = groups.get(key)
        if group is None:
            group = groups[key] = ([], [], [])
        group[0].append(timestamp)
        group[1].append(message_id)
        group[2].append(customer_id)

    found: set[int] = set()
    for times, ids, customers in groups.values():
        if len(times) >= BROADCAST_MIN_CUSTOMERS:
            found.update(_marked_in_group(times, ids, customers))
    return found


def _marked_in_group(
    times: Sequence[datetime], ids: Sequence[int], customers: Sequence[int]
) -> list[int]:
    """Slide a 24-hour window that starts at each send; mark every window of 5+ customers."""
    marked: list[int] = []
    marked_until = 0
    for begin, opened_at in enumerate(times):
        # The window is every send at most 24 hours after this one; the group is in time
        # order, so it ends where bisect says (``t <= opened + 24h`` is ``t - opened <=
        # 24h`` exactly, for datetimes).
        end = bisect_right(times, opened_at + BROADCAST_WINDOW, begin)
        # A window inside what is marked already marks nothing new: skip counting it.
        if end > marked_until and len(set(customers[begin:end])) >= BROADCAST_MIN_CUSTOMERS:
            marked.extend(ids[max(begin, marked_until) : end])
            marked_until = end
    return marked
