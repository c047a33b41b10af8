"""customer assignment: the rep a customer is assigned to

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-12
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Batch mode: SQLite cannot add a foreign key to an existing table in place.
    with op.batch_alter_table('customer', schema=None) as batch_op:
        batch_op.add_column(sa.Column('assigned_rep_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            'fk_customer_assigned_rep_id_rep', 'rep', ['assigned_rep_id'], ['id']
        )


def downgrade() -> None:
    with op.batch_alter_table('customer', schema=None) as batch_op:
        batch_op.drop_constraint('fk_customer_assigned_rep_id_rep', type_='foreignkey')
        batch_op.drop_column('assigned_rep_id')
