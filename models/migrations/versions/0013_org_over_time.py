"""The org over time: units end (removed, or merged into another), people leave, and the
changes that move disputes are logged.

Revision ID: 0013
Revises: 0012
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

from models.tables import UTCDateTime

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_TEXT = sqlmodel.sql.sqltypes.AutoString


def upgrade() -> None:
    with op.batch_alter_table("units", schema=None) as batch_op:
        batch_op.add_column(sa.Column("ended_at", UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column("merged_into", _TEXT(length=32), nullable=True))
    with op.batch_alter_table("people", schema=None) as batch_op:
        batch_op.add_column(sa.Column("left_at", UTCDateTime(), nullable=True))
    op.create_table(
        "org_changes",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("actor", _TEXT(length=64), nullable=True),
        sa.Column("kind", _TEXT(length=16), nullable=False),
        sa.Column("subject", _TEXT(length=64), nullable=False),
        sa.Column("before", sa.JSON(), nullable=False),
        sa.Column("after", sa.JSON(), nullable=False),
        sa.Column("disputes", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("org_changes", schema=None) as batch_op:
        batch_op.create_index("ix_org_changes_at", ["at"], unique=False)
        batch_op.create_index("ix_org_changes_subject", ["subject"], unique=False)


def downgrade() -> None:
    op.drop_table("org_changes")
    with op.batch_alter_table("people", schema=None) as batch_op:
        batch_op.drop_column("left_at")
    with op.batch_alter_table("units", schema=None) as batch_op:
        batch_op.drop_column("merged_into")
        batch_op.drop_column("ended_at")
