"""Why rules were put in force: a rule change keeps the reason its administrator gave.

Revision ID: 0012
Revises: 0011
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

_TEXT = sqlmodel.sql.sqltypes.AutoString


def upgrade() -> None:
    with op.batch_alter_table("rule_changes", schema=None) as batch_op:
        batch_op.add_column(sa.Column("reason", _TEXT(length=500), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("rule_changes", schema=None) as batch_op:
        batch_op.drop_column("reason")
