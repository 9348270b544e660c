"""Event kinds up to 32 characters: confirmation_notice and its like are longer than 16
(PostgreSQL refused them; SQLite does not check a VARCHAR's length).

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

import sqlmodel
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

_TEXT = sqlmodel.sql.sqltypes.AutoString


def upgrade() -> None:
    with op.batch_alter_table("dispute_events", schema=None) as batch_op:
        batch_op.alter_column(
            "kind", existing_type=_TEXT(length=16), type_=_TEXT(length=32), existing_nullable=False
        )


def downgrade() -> None:
    with op.batch_alter_table("dispute_events", schema=None) as batch_op:
        batch_op.alter_column(
            "kind", existing_type=_TEXT(length=32), type_=_TEXT(length=16), existing_nullable=False
        )
