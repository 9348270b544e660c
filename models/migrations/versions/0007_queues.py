"""The queues: each dispute's risk as a rank and its next deadline, and an index per scope
(county, township, village, the unit reported at) over the live disputes in queue order.

The next deadline of the disputes already recorded is the earliest of their obligations
and open acknowledgements; from now on the planner keeps it with every change.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from models.tables import UTCDateTime
from models.values import NO_DEADLINE

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

# The live disputes as they were then (0009 adds the referred ones).
LIVE = sa.text("status IN ('reported', 'mediating', 'resolved')")

_SCOPES = {
    "ix_disputes_queue_county": "county_code",
    "ix_disputes_queue_township": "township_code",
    "ix_disputes_queue_village": "village_code",
    "ix_disputes_queue_reported": "reported_unit",
}


def upgrade() -> None:
    with op.batch_alter_table("disputes", schema=None) as batch_op:
        batch_op.add_column(sa.Column("risk_rank", sa.SmallInteger(), nullable=True))
        batch_op.add_column(sa.Column("attention_at", UTCDateTime(), nullable=True))
    disputes = sa.table(
        "disputes",
        sa.column("id", sa.BigInteger),
        sa.column("risk", sa.String),
        sa.column("risk_rank", sa.SmallInteger),
        sa.column("attention_at", UTCDateTime()),
    )
    obligations = sa.table(
        "obligations", sa.column("dispute_id", sa.BigInteger), sa.column("due_at", UTCDateTime())
    )
    tasks = sa.table(
        "tasks",
        sa.column("dispute_id", sa.BigInteger),
        sa.column("due_at", UTCDateTime()),
        sa.column("kind", sa.String),
        sa.column("state", sa.String),
    )
    obligation = (
        sa.select(sa.func.min(obligations.c.due_at))
        .where(obligations.c.dispute_id == disputes.c.id)
        .scalar_subquery()
    )
    acknowledgement = (
        sa.select(sa.func.min(tasks.c.due_at))
        .where(
            tasks.c.dispute_id == disputes.c.id,
            tasks.c.kind == "acknowledge",
            tasks.c.state == "open",
        )
        .scalar_subquery()
    )
    rank = sa.case((disputes.c.risk == "high", 0), (disputes.c.risk == "medium", 1), else_=2)
    op.execute(disputes.update().values(risk_rank=rank, attention_at=obligation))
    earlier = sa.and_(
        acknowledgement.is_not(None),
        sa.or_(disputes.c.attention_at.is_(None), acknowledgement < disputes.c.attention_at),
    )
    op.execute(
        disputes.update().values(
            attention_at=sa.case((earlier, acknowledgement), else_=disputes.c.attention_at)
        )
    )
    op.execute(
        disputes.update().where(disputes.c.attention_at.is_(None)).values(attention_at=NO_DEADLINE)
    )
    with op.batch_alter_table("disputes", schema=None) as batch_op:
        batch_op.alter_column("risk_rank", existing_type=sa.SmallInteger(), nullable=False)
        batch_op.alter_column("attention_at", existing_type=UTCDateTime(), nullable=False)
        for name, scope in _SCOPES.items():
            batch_op.create_index(
                name,
                [scope, "risk_rank", "attention_at", "id"],
                unique=False,
                postgresql_where=LIVE,
                sqlite_where=LIVE,
            )


def downgrade() -> None:
    with op.batch_alter_table("disputes", schema=None) as batch_op:
        for name in _SCOPES:
            batch_op.drop_index(name)
        batch_op.drop_column("attention_at")
        batch_op.drop_column("risk_rank")
