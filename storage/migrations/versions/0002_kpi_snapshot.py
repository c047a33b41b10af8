"""kpi snapshots, and an index for per-customer reads of a rep's messages

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-10
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.types


revision: str = '0002'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('kpi_snapshot',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('rep_id', sa.Integer(), nullable=False),
    sa.Column('period_kind', sa.String(length=8), nullable=False),
    sa.Column('period_start', storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('period_end', storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('computed_at', storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('evaluated_at', storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('score', sa.Float(), nullable=True),
    sa.Column('profile', sa.String(length=16), nullable=False),
    sa.Column('red_line', sa.Text(), nullable=True),
    sa.Column('values', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['rep_id'], ['rep.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('rep_id', 'period_kind', 'period_start', name='uq_kpi_snapshot_rep_period')
    )
    with op.batch_alter_table('message', schema=None) as batch_op:
        batch_op.create_index('ix_message_rep_customer_time', ['rep_id', 'customer_id', 'timestamp'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('message', schema=None) as batch_op:
        batch_op.drop_index('ix_message_rep_customer_time')

    op.drop_table('kpi_snapshot')
