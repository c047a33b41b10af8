"""telegram: invite codes, the team chat, settings changed in Telegram, button actions

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-12
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.types


revision: str = '0004'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('rep_setting',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('rep_id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=64), nullable=False),
    sa.Column('value', sa.String(length=256), nullable=False),
    sa.Column('updated_at', storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['rep_id'], ['rep.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('rep_id', 'key', name='uq_rep_setting_rep_key')
    )
    op.create_table('team_setting',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('team_id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=64), nullable=False),
    sa.Column('value', sa.String(length=256), nullable=False),
    sa.Column('updated_by_rep_id', sa.Integer(), nullable=True),
    sa.Column('updated_at', storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['team_id'], ['team.id'], ),
    sa.ForeignKeyConstraint(['updated_by_rep_id'], ['rep.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('team_id', 'key', name='uq_team_setting_team_key')
    )
    op.create_table('telegram_action',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('token', sa.String(length=32), nullable=False),
    sa.Column('rep_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('payload', sa.JSON(), nullable=False),
    sa.Column('created_at', storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('used_at', storage.types.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['rep_id'], ['rep.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('token')
    )
    with op.batch_alter_table('telegram_action', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_telegram_action_rep_id'), ['rep_id'], unique=False)

    op.create_table('telegram_invite',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=64), nullable=False),
    sa.Column('rep_id', sa.Integer(), nullable=False),
    sa.Column('created_by_rep_id', sa.Integer(), nullable=True),
    sa.Column('created_at', storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('expires_at', storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('used_at', storage.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('used_by_telegram_user_id', sa.BigInteger(), nullable=True),
    sa.ForeignKeyConstraint(['created_by_rep_id'], ['rep.id'], ),
    sa.ForeignKeyConstraint(['rep_id'], ['rep.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('code')
    )
    with op.batch_alter_table('telegram_invite', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_telegram_invite_rep_id'), ['rep_id'], unique=False)

    op.create_table('telegram_team_chat',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('team_id', sa.Integer(), nullable=False),
    sa.Column('chat_id', sa.BigInteger(), nullable=False),
    sa.Column('bound_by_rep_id', sa.Integer(), nullable=True),
    sa.Column('bound_at', storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['bound_by_rep_id'], ['rep.id'], ),
    sa.ForeignKeyConstraint(['team_id'], ['team.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('chat_id'),
    sa.UniqueConstraint('team_id')
    )


def downgrade() -> None:
    op.drop_table('telegram_team_chat')
    with op.batch_alter_table('telegram_invite', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_telegram_invite_rep_id'))

    op.drop_table('telegram_invite')
    with op.batch_alter_table('telegram_action', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_telegram_action_rep_id'))

    op.drop_table('telegram_action')
    op.drop_table('team_setting')
    op.drop_table('rep_setting')
