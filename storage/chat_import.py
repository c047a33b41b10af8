"""What ``kpibot import chat-export`` needs from the store: the rep's number, and batches.

Imported messages are stored under one of the rep's business numbers, so the KPIs read
them with the webhook traffic. A rep on the WhatsApp Business app may have no number
registered with the Cloud API; such a rep gets one made for the import, named
``chat-export:<rep id>``, which a later real registration does not collide with.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from sqlalchemy.orm import Session
from sqlmodel import col, select

from bot import domain
from storage.ingest import ApplyStats, insert_messages
from storage.models import BusinessNumber
from storage.types import utcnow

logger = logging.getLogger(__name__)

IMPORT_NUMBER_PREFIX = "chat-export:"


def import_number(session: Session, rep_id: int) -> domain.BusinessNumber:
    """The business number a rep's imported chats are stored under.

    The rep's first registered number (lowest id) when they have one; otherwise one
    created for them with ``phone_number_id = "chat-export:<rep id>"``.

    Args:
        session: the open session; the caller commits.
        rep_id: the rep's id.

    Returns:
        The number as the ingestion layer names it.
    """
    number = (
        session.execute(
            select(BusinessNumber)
            .where(col(BusinessNumber.rep_id) == rep_id)
            .order_by(col(BusinessNumber.id))
            .limit(1)
        )
        .scalars()
        .first()
    )
    if number is None:
        phone_number_id = f"{IMPORT_NUMBER_PREFIX}{rep_id}"
        number = session.execute(
            select(BusinessNumber).where(col(BusinessNumber.phone_number_id) == phone_number_id)
        ).scalar_one_or_none()
        if number is None:
            now = utcnow()
            number = BusinessNumber(
                phone_number_id=phone_number_id,
                rep_id=rep_id,
                first_seen_at=now,
                registered_at=now,
            )
            session.add(number)
        else:
            # Someone released the number from the rep; the import gives it back.
            number.rep_id = rep_id
        session.flush()
        logger.info("chat-export number created rep_id=%s number_id=%s", rep_id, number.id)
    return domain.BusinessNumber(
        phone_number_id=number.phone_number_id,
        display_number=number.display_number,
        waba_id=number.waba_id,
    )


def store_batch(session: Session, events: Sequence[domain.MessageEvent]) -> ApplyStats:
    """Store one batch of imported messages; a message already stored is not added again.

    Args:
        session: the open session; the caller commits, one transaction per batch.
        events: the batch's message events.

    Returns:
        ``messages_new`` for messages stored now, ``messages_merged`` for messages the
        store already had from an earlier import of the same chat.

    Raises:
        sqlalchemy.exc.SQLAlchemyError: the database refused a write.
    """
    stats = insert_messages(session, events)
    logger.debug(
        "chat-export batch stored new=%d present=%d", stats.messages_new, stats.messages_merged
    )
    return stats
