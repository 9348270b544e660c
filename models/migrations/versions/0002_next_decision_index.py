"""The escalation sweep's claim reads due disputes in (next_decision_at, id) order.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("disputes", schema=None) as batch_op:
        batch_op.drop_index("ix_disputes_next_decision_at")
        batch_op.create_index("ix_disputes_next_decision", ["next_decision_at", "id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("disputes", schema=None) as batch_op:
        batch_op.drop_index("ix_disputes_next_decision")
        batch_op.create_index("ix_disputes_next_decision_at", ["next_decision_at"], unique=False)
