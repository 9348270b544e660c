"""One name for the unit a dispute was reported at, and each message's kind in a column.

``disputes.origin_unit`` is renamed ``reported_unit``, the name ``dispute show`` always gave
it. ``outbox.kind`` says what a message is (assigned, escalated, reminder, due,
unacknowledged, digest, undeliverable); the messages already queued get it from their key.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

# The key of each kind of message, as the engine has always written it.
_KEYS = [
    ("digest:%", "digest"),
    ("undeliverable:%", "undeliverable"),
    ("task:%:assigned", "assigned"),
    ("task:%:escalated", "escalated"),
    ("task:%:unacknowledged:%", "unacknowledged"),
    ("task:%:due:%", "due"),
]


def upgrade() -> None:
    with op.batch_alter_table("disputes", schema=None) as batch_op:
        batch_op.alter_column("origin_unit", new_column_name="reported_unit")
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True)
        )
    outbox = sa.table("outbox", sa.column("key", sa.String), sa.column("kind", sa.String))
    kind = sa.case(*((outbox.c.key.like(key), name) for key, name in _KEYS), else_="reminder")
    op.execute(outbox.update().values(kind=kind))
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.alter_column(
            "kind", existing_type=sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False
        )


def downgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_column("kind")
    with op.batch_alter_table("disputes", schema=None) as batch_op:
        batch_op.alter_column("reported_unit", new_column_name="origin_unit")
