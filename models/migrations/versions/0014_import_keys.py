"""An imported line is recorded once: the event keeps the line's key, unique per dispute.

Revision ID: 0014
Revises: 0013
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

_TEXT = sqlmodel.sql.sqltypes.AutoString


def upgrade() -> None:
    with op.batch_alter_table("dispute_events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("import_key", _TEXT(length=200), nullable=True))
    op.create_index(
        "uq_dispute_events_import_key",
        "dispute_events",
        ["dispute_id", "import_key"],
        unique=True,
        postgresql_where=sa.text("import_key IS NOT NULL"),
        sqlite_where=sa.text("import_key IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index("uq_dispute_events_import_key", table_name="dispute_events")
    with op.batch_alter_table("dispute_events", schema=None) as batch_op:
        batch_op.drop_column("import_key")
