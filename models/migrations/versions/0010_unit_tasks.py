"""Tasks a unit owes as a whole, not for one dispute: the county's monthly inspection.

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

from models.tables import UTCDateTime

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_TEXT = sqlmodel.sql.sqltypes.AutoString


def upgrade() -> None:
    op.create_table(
        "unit_tasks",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("unit_code", _TEXT(length=32), nullable=False),
        sa.Column("kind", _TEXT(length=32), nullable=False),
        sa.Column("opened_on", sa.Date(), nullable=False),
        sa.Column("due_at", UTCDateTime(), nullable=False),
        sa.Column("state", _TEXT(length=16), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("closed_at", UTCDateTime(), nullable=True),
        sa.Column("closed_by", _TEXT(length=64), nullable=True),
        sa.Column("note", _TEXT(length=2000), nullable=True),
        sa.Column("rules_version", _TEXT(length=64), nullable=False),
        sa.ForeignKeyConstraint(["unit_code"], ["units.code"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("unit_code", "kind", "opened_on", name="uq_unit_tasks_once"),
    )
    with op.batch_alter_table("unit_tasks", schema=None) as batch_op:
        batch_op.create_index("ix_unit_tasks_unit_state", ["unit_code", "state"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("unit_tasks", schema=None) as batch_op:
        batch_op.drop_index("ix_unit_tasks_unit_state")
    op.drop_table("unit_tasks")
