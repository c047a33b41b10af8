"""content key: message.content_key, filled for stored messages, and covering indexes

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03

Broadcast detection groups a rep's sends by their normalised content. Ingest now stores
that as a 64-bit key (:func:`bot.content_keys.message_content_key`) with every outbound
message; existing rows are computed here. The rep-and-time index grows into one that
holds every column the KPI engine's period scans read, key included, and the
rep-customer-time index takes the direction, so those scans never visit the table.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from bot.content_keys import message_content_key

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_BATCH = 10_000

_message = sa.table(
    "message",
    sa.column("id", sa.Integer),
    sa.column("direction", sa.String),
    sa.column("text", sa.Text),
    sa.column("caption", sa.Text),
    sa.column("filename", sa.String),
    sa.column("content_key", sa.BigInteger),
)

_REP_TIME = [
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
]


def upgrade() -> None:
    op.add_column("message", sa.Column("content_key", sa.BigInteger(), nullable=True))
    _backfill(op.get_bind())
    # Built after the backfill: one sort instead of an update per index entry.
    op.drop_index("ix_message_rep_time", table_name="message")
    op.create_index("ix_message_rep_time", "message", _REP_TIME, unique=False)
    op.drop_index("ix_message_rep_customer_time", table_name="message")
    op.create_index(
        "ix_message_rep_customer_time",
        "message",
        ["rep_id", "customer_id", "timestamp", "direction"],
        unique=False,
    )


def _backfill(conn: sa.Connection) -> None:
    m = _message.c
    has_content = sa.or_(m.text.is_not(None), m.caption.is_not(None), m.filename.is_not(None))
    set_key = (
        sa.update(_message)
        .where(m.id == sa.bindparam("b_id"))
        .values(content_key=sa.bindparam("b_key"))
    )
    last = 0
    while True:
        rows = conn.execute(
            sa.select(m.id, m.direction, m.text, m.caption, m.filename)
            .where(m.id > last, m.direction == "outbound", has_content)
            .order_by(m.id)
            .limit(_BATCH)
        ).all()
        if not rows:
            return
        last = rows[-1][0]
        keys = [{"b_id": row[0], "b_key": message_content_key(*row[1:])} for row in rows]
        keyed = [key for key in keys if key["b_key"] is not None]
        if keyed:
            conn.execute(set_key, keyed)


def downgrade() -> None:
    op.drop_index("ix_message_rep_customer_time", table_name="message")
    op.create_index(
        "ix_message_rep_customer_time",
        "message",
        ["rep_id", "customer_id", "timestamp"],
        unique=False,
    )
    op.drop_index("ix_message_rep_time", table_name="message")
    op.create_index("ix_message_rep_time", "message", ["rep_id", "timestamp"], unique=False)
    with op.batch_alter_table("message", schema=None) as batch_op:
        batch_op.drop_column("content_key")
