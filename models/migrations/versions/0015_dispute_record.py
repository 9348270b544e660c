"""A dispute's record (台账): the fold of what its events say of it, and the key of the
ledger row it was brought in from. Existing disputes get their record from their events.

Revision ID: 0015
Revises: 0014
"""

from __future__ import annotations

from datetime import UTC, datetime
from itertools import groupby
from types import MappingProxyType

import sqlalchemy as sa
import sqlmodel
from alembic import op

from models.lifecycle import Event
from models.record import record_after
from models.values import EventKind

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

_TEXT = sqlmodel.sql.sqltypes.AutoString


def upgrade() -> None:
    with op.batch_alter_table("disputes", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("record", sa.JSON(), nullable=False, server_default=sa.text("'{}'"))
        )
        batch_op.add_column(sa.Column("ledger_key", _TEXT(length=200), nullable=True))
    op.create_index(
        "uq_disputes_ledger_key",
        "disputes",
        ["ledger_key"],
        unique=True,
        postgresql_where=sa.text("ledger_key IS NOT NULL"),
        sqlite_where=sa.text("ledger_key IS NOT NULL"),
    )
    _fill_records()


def _fill_records() -> None:
    """Fold each dispute's events into its record, a dispute at a time."""
    bind = op.get_bind()
    events = sa.table(
        "dispute_events",
        sa.column("dispute_id"),
        sa.column("seq"),
        sa.column("kind"),
        sa.column("at"),
        sa.column("actor"),
        sa.column("data", sa.JSON()),
    )
    disputes = sa.table("disputes", sa.column("id"), sa.column("record", sa.JSON()))
    rows = bind.execute(
        sa.select(
            events.c.dispute_id, events.c.kind, events.c.at, events.c.actor, events.c.data
        ).order_by(events.c.dispute_id, events.c.seq)
    )
    updates = []
    for dispute_id, group in groupby(rows, key=lambda row: row[0]):
        history = [
            Event(EventKind(kind), _utc(at), MappingProxyType(data or {}), actor)
            for _, kind, at, actor, data in group
            if kind in EventKind.__members__
        ]
        updates.append({"b_id": dispute_id, "record": record_after({}, history)})
    if updates:
        bind.execute(
            disputes.update().where(disputes.c.id == sa.bindparam("b_id")),
            updates,
        )


def _utc(at: datetime | str) -> datetime:
    moment = datetime.fromisoformat(at) if isinstance(at, str) else at
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def downgrade() -> None:
    op.drop_index("uq_disputes_ledger_key", table_name="disputes")
    with op.batch_alter_table("disputes", schema=None) as batch_op:
        batch_op.drop_column("ledger_key")
        batch_op.drop_column("record")
