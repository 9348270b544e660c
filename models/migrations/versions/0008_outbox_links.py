"""Messages link to the page where their task is done: each outbox row keeps the page's
path and the command-line text it stands in for, and the sender puts the web app's public
address (FENGQIAO_BASE_URL) in front of the path when it delivers.

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

_TEXT = sqlmodel.sql.sqltypes.AutoString


def upgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.add_column(sa.Column("act", _TEXT(length=300), nullable=True))
        batch_op.add_column(sa.Column("link", _TEXT(length=300), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_column("link")
        batch_op.drop_column("act")
