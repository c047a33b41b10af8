"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.types


revision: str = '0001'
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('customer',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('wa_id', sa.String(length=32), nullable=True),
    sa.Column('user_id', sa.String(length=128), nullable=True),
    sa.Column('name', sa.String(length=256), nullable=True),
    sa.Column('created_at', storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('user_id'),
    sa.UniqueConstraint('wa_id')
    )
    op.create_table('team',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('created_at', storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('name')
    )
    op.create_table('webhook_inbox',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('source', sa.String(length=16), nullable=False),
    sa.Column('received_at', storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('body', sa.LargeBinary(), nullable=False),
    sa.Column('body_sha256', sa.String(length=64), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('processed_at', storage.types.UTCDateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('body_sha256', name='uq_webhook_inbox_body_sha256')
    )
    with op.batch_alter_table('webhook_inbox', schema=None) as batch_op:
        batch_op.create_index('ix_webhook_inbox_status', ['status', 'id'], unique=False)

    op.create_table('rep',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.Column('seniority', sa.String(length=16), nullable=False),
    sa.Column('hire_date', sa.Date(), nullable=True),
    sa.Column('team_id', sa.Integer(), nullable=True),
    sa.Column('telegram_user_id', sa.BigInteger(), nullable=True),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['team_id'], ['team.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('name'),
    sa.UniqueConstraint('telegram_user_id')
    )
    with op.batch_alter_table('rep', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_rep_team_id'), ['team_id'], unique=False)

    op.create_table('business_number',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('phone_number_id', sa.String(length=64), nullable=False),
    sa.Column('display_number', sa.String(length=32), nullable=True),
    sa.Column('waba_id', sa.String(length=64), nullable=True),
    sa.Column('rep_id', sa.Integer(), nullable=True),
    sa.Column('first_seen_at', storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('registered_at', storage.types.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['rep_id'], ['rep.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('phone_number_id')
    )
    with op.batch_alter_table('business_number', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_business_number_display_number'), ['display_number'], unique=False)
        batch_op.create_index(batch_op.f('ix_business_number_rep_id'), ['rep_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_business_number_waba_id'), ['waba_id'], unique=False)

    op.create_table('customer_event',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('customer_id', sa.Integer(), nullable=False),
    sa.Column('rep_id', sa.Integer(), nullable=True),
    sa.Column('occurred_at', storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('source', sa.String(length=16), nullable=False),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('idempotency_key', sa.String(length=128), nullable=True),
    sa.Column('created_at', storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['customer_id'], ['customer.id'], ),
    sa.ForeignKeyConstraint(['rep_id'], ['rep.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('idempotency_key')
    )
    with op.batch_alter_table('customer_event', schema=None) as batch_op:
        batch_op.create_index('ix_customer_event_customer', ['customer_id', 'kind', 'occurred_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_customer_event_rep_id'), ['rep_id'], unique=False)

    op.create_table('customer_tag',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('customer_id', sa.Integer(), nullable=False),
    sa.Column('rep_id', sa.Integer(), nullable=True),
    sa.Column('tag', sa.String(length=64), nullable=False),
    sa.Column('tagged_at', storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('removed_at', storage.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('source', sa.String(length=16), nullable=False),
    sa.Column('idempotency_key', sa.String(length=128), nullable=True),
    sa.ForeignKeyConstraint(['customer_id'], ['customer.id'], ),
    sa.ForeignKeyConstraint(['rep_id'], ['rep.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('idempotency_key')
    )
    with op.batch_alter_table('customer_tag', schema=None) as batch_op:
        batch_op.create_index('ix_customer_tag_customer', ['customer_id', 'tag'], unique=False)
        batch_op.create_index(batch_op.f('ix_customer_tag_rep_id'), ['rep_id'], unique=False)

    op.create_table('deal',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('customer_id', sa.Integer(), nullable=False),
    sa.Column('rep_id', sa.Integer(), nullable=True),
    sa.Column('amount', storage.types.Money(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('margin', sa.Float(), nullable=True),
    sa.Column('closed_at', storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('referred_by_customer_id', sa.Integer(), nullable=True),
    sa.Column('source', sa.String(length=16), nullable=False),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('idempotency_key', sa.String(length=128), nullable=True),
    sa.Column('created_at', storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['customer_id'], ['customer.id'], ),
    sa.ForeignKeyConstraint(['referred_by_customer_id'], ['customer.id'], ),
    sa.ForeignKeyConstraint(['rep_id'], ['rep.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('idempotency_key')
    )
    with op.batch_alter_table('deal', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_deal_customer_id'), ['customer_id'], unique=False)
        batch_op.create_index('ix_deal_rep_closed', ['rep_id', 'closed_at'], unique=False)

    op.create_table('account_event',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('event', sa.String(length=64), nullable=False),
    sa.Column('occurred_at', storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('waba_id', sa.String(length=64), nullable=True),
    sa.Column('phone_number_id', sa.String(length=64), nullable=True),
    sa.Column('display_number', sa.String(length=32), nullable=True),
    sa.Column('business_number_id', sa.Integer(), nullable=True),
    sa.Column('detail', sa.JSON(), nullable=False),
    sa.Column('dedup_key', sa.String(length=64), nullable=False),
    sa.Column('created_at', storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['business_number_id'], ['business_number.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('dedup_key')
    )
    with op.batch_alter_table('account_event', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_account_event_business_number_id'), ['business_number_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_account_event_kind'), ['kind'], unique=False)
        batch_op.create_index(batch_op.f('ix_account_event_waba_id'), ['waba_id'], unique=False)

    op.create_table('message',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('wamid', sa.String(length=255), nullable=False),
    sa.Column('business_number_id', sa.Integer(), nullable=False),
    sa.Column('rep_id', sa.Integer(), nullable=True),
    sa.Column('customer_id', sa.Integer(), nullable=False),
    sa.Column('direction', sa.String(length=8), nullable=False),
    sa.Column('type', sa.String(length=32), nullable=False),
    sa.Column('source', sa.String(length=16), nullable=False),
    sa.Column('timestamp', storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('text', sa.Text(), nullable=True),
    sa.Column('caption', sa.Text(), nullable=True),
    sa.Column('filename', sa.String(length=512), nullable=True),
    sa.Column('mime_type', sa.String(length=128), nullable=True),
    sa.Column('is_template', sa.Boolean(), nullable=False),
    sa.Column('template_category', sa.String(length=32), nullable=True),
    sa.Column('is_automated', sa.Boolean(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=True),
    sa.Column('sent_at', storage.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('delivered_at', storage.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('read_at', storage.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('played_at', storage.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('failed_at', storage.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('error_code', sa.Integer(), nullable=True),
    sa.Column('error_title', sa.String(length=512), nullable=True),
    sa.Column('context_wamid', sa.String(length=255), nullable=True),
    sa.Column('forwarded', sa.Boolean(), nullable=False),
    sa.Column('reaction_to', sa.String(length=255), nullable=True),
    sa.Column('reaction_emoji', sa.String(length=32), nullable=True),
    sa.Column('referral_source_type', sa.String(length=16), nullable=True),
    sa.Column('referral_source_id', sa.String(length=128), nullable=True),
    sa.Column('referral_ctwa_clid', sa.String(length=512), nullable=True),
    sa.Column('edited_at', storage.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('revoked_at', storage.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_at', storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['business_number_id'], ['business_number.id'], ),
    sa.ForeignKeyConstraint(['customer_id'], ['customer.id'], ),
    sa.ForeignKeyConstraint(['rep_id'], ['rep.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('wamid')
    )
    with op.batch_alter_table('message', schema=None) as batch_op:
        batch_op.create_index('ix_message_customer_time', ['customer_id', 'timestamp'], unique=False)
        batch_op.create_index('ix_message_number_time', ['business_number_id', 'timestamp'], unique=False)
        batch_op.create_index('ix_message_rep_time', ['rep_id', 'timestamp'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('message', schema=None) as batch_op:
        batch_op.drop_index('ix_message_rep_time')
        batch_op.drop_index('ix_message_number_time')
        batch_op.drop_index('ix_message_customer_time')

    op.drop_table('message')
    with op.batch_alter_table('account_event', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_account_event_waba_id'))
        batch_op.drop_index(batch_op.f('ix_account_event_kind'))
        batch_op.drop_index(batch_op.f('ix_account_event_business_number_id'))

    op.drop_table('account_event')
    with op.batch_alter_table('deal', schema=None) as batch_op:
        batch_op.drop_index('ix_deal_rep_closed')
        batch_op.drop_index(batch_op.f('ix_deal_customer_id'))

    op.drop_table('deal')
    with op.batch_alter_table('customer_tag', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_customer_tag_rep_id'))
        batch_op.drop_index('ix_customer_tag_customer')

    op.drop_table('customer_tag')
    with op.batch_alter_table('customer_event', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_customer_event_rep_id'))
        batch_op.drop_index('ix_customer_event_customer')

    op.drop_table('customer_event')
    with op.batch_alter_table('business_number', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_business_number_waba_id'))
        batch_op.drop_index(batch_op.f('ix_business_number_rep_id'))
        batch_op.drop_index(batch_op.f('ix_business_number_display_number'))

    op.drop_table('business_number')
    with op.batch_alter_table('rep', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_rep_team_id'))

    op.drop_table('rep')
    with op.batch_alter_table('webhook_inbox', schema=None) as batch_op:
        batch_op.drop_index('ix_webhook_inbox_status')

    op.drop_table('webhook_inbox')
    op.drop_table('team')
    op.drop_table('customer')
