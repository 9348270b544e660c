"""Three indexes on dispute_id duplicated the leading column of a unique constraint.

Lookups by dispute use the constraint's index; every task, obligation and escalation
written no longer updates a second one.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_COVERED = {
    "tasks": "ix_tasks_dispute_id",  # by uq_tasks_once (dispute_id, kind, target, due_at)
    "obligations": "ix_obligations_dispute_id",  # by uq_obligations_kind (dispute_id, kind)
    "escalations": "ix_escalations_dispute_id",  # by uq_escalations_once (dispute_id, …)
}


def upgrade() -> None:
    for table, index in _COVERED.items():
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_index(index)


def downgrade() -> None:
    for table, index in _COVERED.items():
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.create_index(index, ["dispute_id"], unique=False)
