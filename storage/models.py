"""The tables of kpibot's store.

The schema, in the KPI model's words: a **team** has **reps**; a rep owns WhatsApp
**business numbers**; a **customer** is a WhatsApp user, and the customer belongs to the
rep whose number they talk to. **Messages** run between a business number and a
customer; what the message stream cannot show is recorded as **tags**, **customer
events** (quote, sample, complaint) and **deals**. **Account events** are the standing
of a number (bans, restrictions, quality flags). The **webhook inbox** keeps every
accepted webhook body, raw, before anything else is done with it.

Every datetime column is :class:`~storage.types.UTCDateTime`; amounts are
:class:`~storage.types.Money`. Schema changes go through Alembic migrations in
``storage/migrations``.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, BigInteger, Column, Index, LargeBinary, String, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from storage.types import Money, UTCDateTime, utcnow


def _utc(**kwargs: Any) -> Any:
    """A UTCDateTime field."""
    return Field(sa_type=UTCDateTime, **kwargs)


class Team(SQLModel, table=True):
    """A sales team: the unit of settings, leaderboards and the team chat."""

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(sa_type=String(120), unique=True)
    created_at: datetime = _utc(default_factory=utcnow)


class Rep(SQLModel, table=True):
    """A salesperson, or a manager, of a team."""

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(sa_type=String(120), unique=True)
    role: str = Field(default="rep", sa_type=String(16))  # rep | manager
    seniority: str = Field(default="standard", sa_type=String(16))  # standard | senior
    hire_date: date | None = None
    team_id: int | None = Field(default=None, foreign_key="team.id", index=True)
    telegram_user_id: int | None = Field(default=None, sa_type=BigInteger, unique=True)
    active: bool = True
    created_at: datetime = _utc(default_factory=utcnow)


class BusinessNumber(SQLModel, table=True):
    """A WhatsApp business phone number, and the rep who owns it (once registered).

    A number appears here the first time traffic for it arrives, with no rep; its
    messages are attributed when a rep claims it.
    """

    __tablename__ = "business_number"

    id: int | None = Field(default=None, primary_key=True)
    phone_number_id: str = Field(sa_type=String(64), unique=True)
    display_number: str | None = Field(default=None, sa_type=String(32), index=True)
    waba_id: str | None = Field(default=None, sa_type=String(64), index=True)
    rep_id: int | None = Field(default=None, foreign_key="rep.id", index=True)
    first_seen_at: datetime = _utc(default_factory=utcnow)
    registered_at: datetime | None = _utc(default=None)


class Customer(SQLModel, table=True):
    """A WhatsApp user, keyed by ``wa_id`` or, where that is empty, the business-scoped id."""

    id: int | None = Field(default=None, primary_key=True)
    wa_id: str | None = Field(default=None, sa_type=String(32), unique=True)
    user_id: str | None = Field(default=None, sa_type=String(128), unique=True)
    name: str | None = Field(default=None, sa_type=String(256))
    assigned_rep_id: int | None = Field(default=None, foreign_key="rep.id")
    created_at: datetime = _utc(default_factory=utcnow)
    updated_at: datetime = _utc(default_factory=utcnow)


class Message(SQLModel, table=True):
    """One WhatsApp message between a business number and a customer.

    ``timestamp`` is when the message was sent (for an outbound message known only from
    its statuses, the earliest status time). ``status`` is the highest step reached on
    sent < delivered < read < played; the ``*_at`` columns hold when each step was first
    seen, which may be unknown (a history backfill says "read" but not when).
    ``rep_id`` is the owner of the business number, filled in when the number is claimed.
    """

    __table_args__ = (
        # Covers the KPI engine's scans of a rep's period (sends, turns, active
        # customers): each reads only the index, never the wide message rows.
        Index(
            "ix_message_rep_time",
            "rep_id",
            "timestamp",
            "direction",
            "customer_id",
            "type",
            "is_automated",
            "status",
            "failed_at",
            "revoked_at",
            "content_key",
        ),
        Index("ix_message_customer_time", "customer_id", "timestamp"),
        Index("ix_message_number_time", "business_number_id", "timestamp"),
        Index(
            "ix_message_rep_quote",
            "rep_id",
            "quote_request",
            "direction",
            "customer_id",
            "timestamp",
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    wamid: str = Field(sa_type=String(255), unique=True)
    business_number_id: int = Field(foreign_key="business_number.id")
    rep_id: int | None = Field(default=None, foreign_key="rep.id")
    customer_id: int = Field(foreign_key="customer.id")
    direction: str = Field(sa_type=String(8))  # inbound | outbound
    type: str = Field(sa_type=String(32))
    source: str = Field(sa_type=String(16))  # webhook | echo | history | import | api
    timestamp: datetime = _utc()
    text: str | None = Field(default=None, sa_type=Text)
    caption: str | None = Field(default=None, sa_type=Text)
    filename: str | None = Field(default=None, sa_type=String(512))
    mime_type: str | None = Field(default=None, sa_type=String(128))
    is_template: bool = False
    template_category: str | None = Field(default=None, sa_type=String(32))
    is_automated: bool = False
    # Whether the content asks for or names a quote (bot.quotes.is_quote_content);
    # None when not known (the KPI engine then reads the text itself).
    quote_request: bool | None = None
    # For outbound messages, the key of the normalised content that tells a broadcast
    # (bot.content_keys.message_content_key); None for inbound messages and no content.
    content_key: int | None = Field(default=None, sa_type=BigInteger)
    status: str | None = Field(default=None, sa_type=String(16))
    sent_at: datetime | None = _utc(default=None)
    delivered_at: datetime | None = _utc(default=None)
    read_at: datetime | None = _utc(default=None)
    played_at: datetime | None = _utc(default=None)
    failed_at: datetime | None = _utc(default=None)
    error_code: int | None = None
    error_title: str | None = Field(default=None, sa_type=String(512))
    context_wamid: str | None = Field(default=None, sa_type=String(255))
    forwarded: bool = False
    reaction_to: str | None = Field(default=None, sa_type=String(255))
    reaction_emoji: str | None = Field(default=None, sa_type=String(32))
    referral_source_type: str | None = Field(default=None, sa_type=String(16))
    referral_source_id: str | None = Field(default=None, sa_type=String(128))
    referral_ctwa_clid: str | None = Field(default=None, sa_type=String(512))
    edited_at: datetime | None = _utc(default=None)
    revoked_at: datetime | None = _utc(default=None)
    created_at: datetime = _utc(default_factory=utcnow)
    updated_at: datetime = _utc(default_factory=utcnow)


class CustomerTag(SQLModel, table=True):
    """A tag on a customer (``high-intent`` …); removing it keeps the row, so history stays."""

    __tablename__ = "customer_tag"
    __table_args__ = (Index("ix_customer_tag_customer", "customer_id", "tag"),)

    id: int | None = Field(default=None, primary_key=True)
    customer_id: int = Field(foreign_key="customer.id")
    rep_id: int | None = Field(default=None, foreign_key="rep.id", index=True)
    tag: str = Field(sa_type=String(64))
    tagged_at: datetime = _utc()
    removed_at: datetime | None = _utc(default=None)
    source: str = Field(default="bot", sa_type=String(16))
    idempotency_key: str | None = Field(default=None, sa_type=String(128), unique=True)


class CustomerEvent(SQLModel, table=True):
    """Something a rep or a CRM recorded about a customer: a quote, a sample, a complaint."""

    __tablename__ = "customer_event"
    __table_args__ = (Index("ix_customer_event_customer", "customer_id", "kind", "occurred_at"),)

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(sa_type=String(16))  # quote | sample | complaint
    customer_id: int = Field(foreign_key="customer.id")
    rep_id: int | None = Field(default=None, foreign_key="rep.id", index=True)
    occurred_at: datetime = _utc()
    source: str = Field(default="bot", sa_type=String(16))
    note: str | None = Field(default=None, sa_type=Text)
    idempotency_key: str | None = Field(default=None, sa_type=String(128), unique=True)
    created_at: datetime = _utc(default_factory=utcnow)


class Deal(SQLModel, table=True):
    """A closed deal: amount in its own currency and the gross margin as a fraction."""

    __table_args__ = (Index("ix_deal_rep_closed", "rep_id", "closed_at"),)

    id: int | None = Field(default=None, primary_key=True)
    customer_id: int = Field(foreign_key="customer.id", index=True)
    rep_id: int | None = Field(default=None, foreign_key="rep.id")
    amount: Decimal = Field(sa_type=Money)
    currency: str = Field(sa_type=String(3))
    margin: float | None = None
    closed_at: datetime = _utc()
    referred_by_customer_id: int | None = Field(default=None, foreign_key="customer.id")
    source: str = Field(default="bot", sa_type=String(16))
    note: str | None = Field(default=None, sa_type=Text)
    idempotency_key: str | None = Field(default=None, sa_type=String(128), unique=True)
    created_at: datetime = _utc(default_factory=utcnow)


class AccountEvent(SQLModel, table=True):
    """A change of standing of a business account or number: ban, restriction, flag.

    ``business_number_id`` is set when the event names one known number; an event for
    a whole WhatsApp Business Account names ``waba_id`` and concerns all its numbers.
    ``dedup_key`` makes a redelivered event land once.
    """

    __tablename__ = "account_event"

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(sa_type=String(32), index=True)
    event: str = Field(sa_type=String(64))
    occurred_at: datetime = _utc()
    waba_id: str | None = Field(default=None, sa_type=String(64), index=True)
    phone_number_id: str | None = Field(default=None, sa_type=String(64))
    display_number: str | None = Field(default=None, sa_type=String(32))
    business_number_id: int | None = Field(
        default=None, foreign_key="business_number.id", index=True
    )
    detail: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    dedup_key: str = Field(sa_type=String(64), unique=True)
    created_at: datetime = _utc(default_factory=utcnow)


class WebhookInbox(SQLModel, table=True):
    """Every accepted webhook body, raw and durable, before it is normalised.

    ``status`` is ``pending`` until the normaliser has run, then ``processed`` or
    ``failed`` (with ``error``). ``body_sha256`` makes a byte-identical redelivery land
    once.
    """

    __tablename__ = "webhook_inbox"
    __table_args__ = (
        UniqueConstraint("body_sha256", name="uq_webhook_inbox_body_sha256"),
        Index("ix_webhook_inbox_status", "status", "id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    source: str = Field(default="whatsapp", sa_type=String(16))
    received_at: datetime = _utc(default_factory=utcnow)
    body: bytes = Field(sa_type=LargeBinary)
    body_sha256: str = Field(sa_type=String(64))
    status: str = Field(default="pending", sa_type=String(16))
    error: str | None = Field(default=None, sa_type=Text)
    attempts: int = 0
    processed_at: datetime | None = _utc(default=None)


# The KPI engine reads each rep's history customer by customer (contact starts, the
# next inbound message after an outbound one): one index serves all of those probes,
# from the index alone.
Index(
    "ix_message_rep_customer_time",
    Message.__table__.c.rep_id,  # type: ignore[attr-defined]
    Message.__table__.c.customer_id,  # type: ignore[attr-defined]
    Message.__table__.c.timestamp,  # type: ignore[attr-defined]
    Message.__table__.c.direction,  # type: ignore[attr-defined]
)


class KpiSnapshot(SQLModel, table=True):
    """A rep's KPIs for one period, as computed at ``computed_at`` as of ``evaluated_at``.

    Recomputing a period replaces its row. ``values`` holds every metric as the engine
    reported it (rates as fractions, amounts as decimal strings, null for no data).
    """

    __tablename__ = "kpi_snapshot"
    __table_args__ = (
        UniqueConstraint(
            "rep_id", "period_kind", "period_start", name="uq_kpi_snapshot_rep_period"
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    rep_id: int = Field(foreign_key="rep.id")
    period_kind: str = Field(sa_type=String(8))  # day | week | month
    period_start: datetime = _utc()
    period_end: datetime = _utc()
    computed_at: datetime = _utc(default_factory=utcnow)
    evaluated_at: datetime = _utc()
    score: float | None = None
    profile: str = Field(sa_type=String(16))  # standard | new_hire | senior
    red_line: str | None = Field(default=None, sa_type=Text)
    values: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))


class TelegramInvite(SQLModel, table=True):
    """A one-time code that links a Telegram user to a rep through ``/start <code>``.

    A code works once (``used_at``) and only until ``expires_at``.
    """

    __tablename__ = "telegram_invite"

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(sa_type=String(64), unique=True)
    rep_id: int = Field(foreign_key="rep.id", index=True)
    created_by_rep_id: int | None = Field(default=None, foreign_key="rep.id")
    created_at: datetime = _utc(default_factory=utcnow)
    expires_at: datetime = _utc()
    used_at: datetime | None = _utc(default=None)
    used_by_telegram_user_id: int | None = Field(default=None, sa_type=BigInteger)


class TelegramTeamChat(SQLModel, table=True):
    """The Telegram group bound as a team's chat, where praise and reviews are posted."""

    __tablename__ = "telegram_team_chat"

    id: int | None = Field(default=None, primary_key=True)
    team_id: int = Field(foreign_key="team.id", unique=True)
    chat_id: int = Field(sa_type=BigInteger, unique=True)
    bound_by_rep_id: int | None = Field(default=None, foreign_key="rep.id")
    bound_at: datetime = _utc(default_factory=utcnow)


class TeamSetting(SQLModel, table=True):
    """A team setting changed in Telegram (``/settings``), overriding the settings file."""

    __tablename__ = "team_setting"
    __table_args__ = (UniqueConstraint("team_id", "key", name="uq_team_setting_team_key"),)

    id: int | None = Field(default=None, primary_key=True)
    team_id: int = Field(foreign_key="team.id")
    key: str = Field(sa_type=String(64))
    value: str = Field(sa_type=String(256))
    updated_by_rep_id: int | None = Field(default=None, foreign_key="rep.id")
    updated_at: datetime = _utc(default_factory=utcnow)


class RepSetting(SQLModel, table=True):
    """A rep's own preference (the language the bot speaks to them)."""

    __tablename__ = "rep_setting"
    __table_args__ = (UniqueConstraint("rep_id", "key", name="uq_rep_setting_rep_key"),)

    id: int | None = Field(default=None, primary_key=True)
    rep_id: int = Field(foreign_key="rep.id")
    key: str = Field(sa_type=String(64))
    value: str = Field(sa_type=String(256))
    updated_at: datetime = _utc(default_factory=utcnow)


class TelegramAction(SQLModel, table=True):
    """A pending inline-button action: an Undo of a record, or a customer to pick.

    The button carries only ``token``; ``payload`` holds what the action does, and
    ``used_at`` makes it work once.
    """

    __tablename__ = "telegram_action"

    id: int | None = Field(default=None, primary_key=True)
    token: str = Field(sa_type=String(32), unique=True)
    rep_id: int = Field(foreign_key="rep.id", index=True)
    kind: str = Field(sa_type=String(16))  # undo | pick
    payload: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    created_at: datetime = _utc(default_factory=utcnow)
    used_at: datetime | None = _utc(default=None)


class Outbox(SQLModel, table=True):
    """One push message waiting to be delivered, or delivered: one Bot API call per row.

    ``(kind, recipient, subject, period)`` is unique, so the same push can never be
    enqueued twice. A sender takes a row by setting ``status`` to ``sending`` with a
    lease (``claimed_by``, ``claimed_until``); a row whose lease ran out is taken again.
    ``payload`` holds what the call sends (text, parse mode, a photo, inline buttons).
    """

    __tablename__ = "outbox"
    __table_args__ = (
        UniqueConstraint("kind", "recipient", "subject", "period", name="uq_outbox_key"),
        Index("ix_outbox_due", "status", "next_attempt_at"),
        Index("ix_outbox_recipient", "recipient", "id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(sa_type=String(32))
    recipient: int = Field(sa_type=BigInteger)  # Telegram chat id
    subject: str = Field(default="", sa_type=String(160))
    period: str = Field(default="", sa_type=String(64))
    payload: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    status: str = Field(default="pending", sa_type=String(16))  # pending|sending|sent|failed
    attempts: int = 0
    next_attempt_at: datetime = _utc(default_factory=utcnow)
    claimed_by: str | None = Field(default=None, sa_type=String(64))
    claimed_until: datetime | None = _utc(default=None)
    created_at: datetime = _utc(default_factory=utcnow)
    sent_at: datetime | None = _utc(default=None)
    telegram_message_id: int | None = Field(default=None, sa_type=BigInteger)
    error: str | None = Field(default=None, sa_type=Text)


class JobRun(SQLModel, table=True):
    """A scheduled job's run for one period: the row is the claim that it ran once."""

    __tablename__ = "job_run"
    __table_args__ = (UniqueConstraint("job_id", "period_key", name="uq_job_run_job_period"),)

    id: int | None = Field(default=None, primary_key=True)
    job_id: str = Field(sa_type=String(64))
    period_key: str = Field(sa_type=String(64))
    ran_at: datetime = _utc()
    ran_by: str | None = Field(default=None, sa_type=String(64))
