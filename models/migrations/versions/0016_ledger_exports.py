"""Every ledger given out is logged: who, when, which unit and filters, how many rows.

Revision ID: 0016
Revises: 0015
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

from models.tables import UTCDateTime

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

_TEXT = sqlmodel.sql.sqltypes.AutoString
_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "ledger_exports",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("actor", _TEXT(length=64), nullable=False),
        sa.Column("unit", _TEXT(length=32), nullable=False),
        sa.Column("start", _TEXT(length=10), nullable=True),
        sa.Column("end", _TEXT(length=10), nullable=True),
        sa.Column("status", _TEXT(length=16), nullable=True),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.Column("masked", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_ledger_exports_at", "ledger_exports", ["at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_ledger_exports_at", table_name="ledger_exports")
    op.drop_table("ledger_exports")
