"""Referred disputes stay in the queues: a referral owes its feedback (诉调对接), and a late
one is overdue like any other obligation. The queue indexes cover them too.

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

_SCOPES = {
    "ix_disputes_queue_county": "county_code",
    "ix_disputes_queue_township": "township_code",
    "ix_disputes_queue_village": "village_code",
    "ix_disputes_queue_reported": "reported_unit",
}
_BEFORE = sa.text("status IN ('reported', 'mediating', 'resolved')")
_AFTER = sa.text("status IN ('reported', 'mediating', 'resolved', 'referred')")


def _recreate(where: sa.TextClause) -> None:
    with op.batch_alter_table("disputes", schema=None) as batch_op:
        for name, scope in _SCOPES.items():
            batch_op.drop_index(name)
            batch_op.create_index(
                name,
                [scope, "risk_rank", "attention_at", "id"],
                unique=False,
                postgresql_where=where,
                sqlite_where=where,
            )


def upgrade() -> None:
    _recreate(_AFTER)


def downgrade() -> None:
    _recreate(_BEFORE)
