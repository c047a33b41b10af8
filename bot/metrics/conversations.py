"""Conversations and turns, built in one pass over a customer's messages.

A **conversation** is a run of messages with one customer in which no gap exceeds
24 hours. A **turn** is a maximal run of consecutive messages from the same side
within a conversation: a gap of more than 24 hours ends the conversation, and with it
the turn. The messages are the rep's non-automated outbound messages and the
customer's inbound messages; reactions make no turn.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

CONVERSATION_GAP = timedelta(hours=24)
DEEP_CONVERSATION_TURNS = 10


@dataclass(frozen=True, slots=True)
class CustomerTurn:
    """A turn of the customer's and the rep's first answer after it.

    Attributes:
        customer_id: the customer.
        started_at: the turn's first inbound message.
        answered_at: the rep's next outbound message (at any later time), or None.
    """

    customer_id: int
    started_at: datetime
    answered_at: datetime | None


@dataclass(slots=True)
class TurnSummary:
    """What one pass over a customer's messages found.

    Attributes:
        customer_turns: every customer turn, with its answer.
        deep_passed_at: for each conversation that reached more than 10 turns, when it
            did (the start of its 11th turn).
    """

    customer_turns: list[CustomerTurn]
    deep_passed_at: list[datetime]


def summarise_customer(customer_id: int, rows: list[tuple[datetime, bool]]) -> TurnSummary:
    """Build one customer's turns and conversations.

    Args:
        customer_id: the customer.
        rows: ``(timestamp, is_inbound)`` in time order.

    Returns:
        The customer turns, with their answers, and when conversations passed 10 turns.
    """
    turns_found: list[CustomerTurn] = []
    deep_passed_at: list[datetime] = []
    # Locals rather than a ``previous`` tuple: this runs for every message of every rep's
    # lookback and period, and compute_team does it for the whole team.
    last_at: datetime | None = None
    last_inbound = False
    turns = 0
    waiting: list[datetime] = []  # customer turns not answered yet
    for timestamp, inbound in rows:
        new_conversation = last_at is None or timestamp - last_at > CONVERSATION_GAP
        if new_conversation:
            turns = 0
        if new_conversation or last_inbound != inbound:
            turns += 1
            if turns == DEEP_CONVERSATION_TURNS + 1:
                deep_passed_at.append(timestamp)
            if inbound:
                waiting.append(timestamp)
        if not inbound and waiting:
            # The rep's message answers every customer turn still waiting for one.
            turns_found.extend(
                CustomerTurn(customer_id, started_at, timestamp) for started_at in waiting
            )
            waiting.clear()
        last_at, last_inbound = timestamp, inbound
    turns_found.extend(CustomerTurn(customer_id, at, None) for at in waiting)
    return TurnSummary(customer_turns=turns_found, deep_passed_at=deep_passed_at)
