"""Parties' phones and ID numbers are found by a keyed hash (their data is sealed).

The parties stored before are sealed by `fengqiao keys rotate`, which also makes their
digests: a migration does not hold the key.

Revision ID: 0017
Revises: 0016
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

_TEXT = sqlmodel.sql.sqltypes.AutoString
_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "party_digests",
        sa.Column("digest", _TEXT(length=64), nullable=False),
        sa.Column("dispute_id", _ID, nullable=False),
        sa.PrimaryKeyConstraint("digest", "dispute_id"),
    )


def downgrade() -> None:
    op.drop_table("party_digests")
