"""kpi speed: message.quote_request, filled for stored messages, and its index

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-20

Whether a message's content is a quote request's (see
:func:`bot.quotes.is_quote_content`) is stored when the message is, so the KPI
engine need not read every inbound text of a rep's history again. Existing rows are
computed here with the lexicon as it is today; NULL would also be correct (the engine
reads the text of a row whose flag is unknown), only slower.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from bot.quotes import is_quote_content

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_BATCH = 10_000

_message = sa.table(
    "message",
    sa.column("id", sa.Integer),
    sa.column("direction", sa.String),
    sa.column("type", sa.String),
    sa.column("text", sa.Text),
    sa.column("caption", sa.Text),
    sa.column("filename", sa.String),
    sa.column("quote_request", sa.Boolean),
)


def upgrade() -> None:
    op.add_column("message", sa.Column("quote_request", sa.Boolean(), nullable=True))
    _backfill(op.get_bind())
    # Built after the backfill: one sort instead of an update per index entry.
    op.create_index(
        "ix_message_rep_quote",
        "message",
        ["rep_id", "quote_request", "direction", "customer_id", "timestamp"],
        unique=False,
    )


def _backfill(conn: sa.Connection) -> None:
    m = _message.c
    # Only inbound texts and captions and outbound documents can be quote requests.
    maybe = sa.or_(
        sa.and_(m.direction == "inbound", sa.or_(m.text.is_not(None), m.caption.is_not(None))),
        sa.and_(m.direction != "inbound", m.type == "document"),
    )
    conn.execute(sa.update(_message).where(~maybe).values(quote_request=False))
    last = 0
    while True:
        rows = conn.execute(
            sa.select(m.id, m.direction, m.type, m.text, m.caption, m.filename)
            .where(m.id > last, maybe)
            .order_by(m.id)
            .limit(_BATCH)
        ).all()
        if not rows:
            return
        last = rows[-1][0]
        flags = {row[0]: is_quote_content(*row[1:]) for row in rows}
        for value in (True, False):
            ids = [message_id for message_id, flag in flags.items() if flag is value]
            if ids:
                conn.execute(sa.update(_message).where(m.id.in_(ids)).values(quote_request=value))


def downgrade() -> None:
    op.drop_index("ix_message_rep_quote", table_name="message")
    with op.batch_alter_table("message", schema=None) as batch_op:
        batch_op.drop_column("quote_request")
