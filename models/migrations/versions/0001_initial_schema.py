"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-22 18:05:00.304185
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

import models.tables


revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('dispute_events',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('dispute_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('at', models.tables.UTCDateTime(), nullable=False),
    sa.Column('recorded_at', models.tables.UTCDateTime(), nullable=False),
    sa.Column('actor', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.Column('data', sa.JSON(), nullable=False),
    sa.Column('rules_version', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('dispute_id', 'seq', name='uq_dispute_events_seq')
    )
    op.create_table('escalations',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('dispute_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('from_level', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('to_level', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('from_unit', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('to_unit', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('rule', sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
    sa.Column('rules_version', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('effective_at', models.tables.UTCDateTime(), nullable=False),
    sa.Column('recorded_at', models.tables.UTCDateTime(), nullable=False),
    sa.Column('event_seq', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('dispute_id', 'from_level', 'effective_at', name='uq_escalations_once')
    )
    with op.batch_alter_table('escalations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_escalations_dispute_id'), ['dispute_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_escalations_effective_at'), ['effective_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_escalations_to_unit'), ['to_unit'], unique=False)

    op.create_table('flow_runs',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('flow', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('window_end', models.tables.UTCDateTime(), nullable=False),
    sa.Column('started_at', models.tables.UTCDateTime(), nullable=False),
    sa.Column('finished_at', models.tables.UTCDateTime(), nullable=True),
    sa.Column('result', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('flow', 'window_end', name='uq_flow_runs_window')
    )
    op.create_table('obligations',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('dispute_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('due_at', models.tables.UTCDateTime(), nullable=False),
    sa.Column('rule', sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
    sa.Column('rules_version', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('overdue_noted', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('dispute_id', 'kind', name='uq_obligations_kind')
    )
    with op.batch_alter_table('obligations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_obligations_dispute_id'), ['dispute_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_obligations_due_at'), ['due_at'], unique=False)
        batch_op.create_index('ix_obligations_kind_noted_due', ['kind', 'overdue_noted', 'due_at'], unique=False)

    op.create_table('outbox',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('key', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('recipient', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.Column('channel', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('address', sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=False),
    sa.Column('dispute_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('task_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('title', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
    sa.Column('body', sqlmodel.sql.sqltypes.AutoString(length=5000), nullable=False),
    sa.Column('state', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', models.tables.UTCDateTime(), nullable=False),
    sa.Column('created_at', models.tables.UTCDateTime(), nullable=False),
    sa.Column('sent_at', models.tables.UTCDateTime(), nullable=True),
    sa.Column('last_error', sqlmodel.sql.sqltypes.AutoString(length=300), nullable=True),
    sa.Column('risk', sqlmodel.sql.sqltypes.AutoString(length=8), nullable=True),
    sa.Column('claim', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('key', 'channel', 'address', name='uq_outbox_once')
    )
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_outbox_dispute_id'), ['dispute_id'], unique=False)
        batch_op.create_index('ix_outbox_state_next', ['state', 'next_attempt_at'], unique=False)

    op.create_table('reports',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('unit_code', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('period_start', models.tables.UTCDateTime(), nullable=False),
    sa.Column('period_end', models.tables.UTCDateTime(), nullable=False),
    sa.Column('created_at', models.tables.UTCDateTime(), nullable=False),
    sa.Column('content', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('kind', 'unit_code', 'period_start', name='uq_reports_period')
    )
    with op.batch_alter_table('reports', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_reports_unit_code'), ['unit_code'], unique=False)

    op.create_table('rule_sets',
    sa.Column('version', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
    sa.Column('source', sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=False),
    sa.Column('content', sa.JSON(), nullable=False),
    sa.Column('first_seen_at', models.tables.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('version')
    )
    op.create_table('scheduler_lock',
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('holder', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('acquired_at', models.tables.UTCDateTime(), nullable=False),
    sa.Column('heartbeat_at', models.tables.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('name')
    )
    op.create_table('tasks',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('dispute_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('target', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.Column('due_at', models.tables.UTCDateTime(), nullable=False),
    sa.Column('state', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('created_at', models.tables.UTCDateTime(), nullable=False),
    sa.Column('closed_at', models.tables.UTCDateTime(), nullable=True),
    sa.Column('rules_version', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('risk', sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
    sa.Column('next_reminder_at', models.tables.UTCDateTime(), nullable=True),
    sa.Column('reminders_sent', sa.Integer(), nullable=False),
    sa.Column('escalated_at', models.tables.UTCDateTime(), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('dispute_id', 'kind', 'target', 'due_at', name='uq_tasks_once')
    )
    with op.batch_alter_table('tasks', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_tasks_dispute_id'), ['dispute_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_tasks_due_at'), ['due_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_tasks_next_reminder_at'), ['next_reminder_at'], unique=False)
        batch_op.create_index('ix_tasks_target_state', ['target', 'state'], unique=False)

    op.create_table('units',
    sa.Column('code', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('level', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('parent_code', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('contacts', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['parent_code'], ['units.code'], ),
    sa.PrimaryKeyConstraint('code')
    )
    with op.batch_alter_table('units', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_units_parent_code'), ['parent_code'], unique=False)

    op.create_table('people',
    sa.Column('id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('role', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('unit_code', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('contacts', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['unit_code'], ['units.code'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('people', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_people_unit_code'), ['unit_code'], unique=False)

    op.create_table('rule_changes',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('at', models.tables.UTCDateTime(), nullable=False),
    sa.Column('actor', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.Column('from_version', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.Column('to_version', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('disputes_recomputed', sa.Integer(), nullable=False),
    sa.Column('decisions_recorded', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['to_version'], ['rule_sets.version'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('rule_changes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_rule_changes_at'), ['at'], unique=False)

    op.create_table('disputes',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('category', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('title', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
    sa.Column('risk', sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
    sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('level', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('unit_code', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('origin_unit', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('village_code', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('township_code', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('county_code', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('assignee', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('people_involved', sa.Integer(), nullable=False),
    sa.Column('parties', sa.JSON(), nullable=False),
    sa.Column('location', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True),
    sa.Column('reported_at', models.tables.UTCDateTime(), nullable=False),
    sa.Column('level_since', models.tables.UTCDateTime(), nullable=False),
    sa.Column('paused', sa.Boolean(), nullable=False),
    sa.Column('supervised', sa.Boolean(), nullable=False),
    sa.Column('supervision_deadline', models.tables.UTCDateTime(), nullable=True),
    sa.Column('last_seq', sa.Integer(), nullable=False),
    sa.Column('next_decision_at', models.tables.UTCDateTime(), nullable=True),
    sa.Column('rules_version', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.ForeignKeyConstraint(['assignee'], ['people.id'], ),
    sa.ForeignKeyConstraint(['origin_unit'], ['units.code'], ),
    sa.ForeignKeyConstraint(['unit_code'], ['units.code'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('disputes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_disputes_assignee'), ['assignee'], unique=False)
        batch_op.create_index('ix_disputes_county_level', ['county_code', 'level'], unique=False)
        batch_op.create_index(batch_op.f('ix_disputes_next_decision_at'), ['next_decision_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_disputes_status'), ['status'], unique=False)
        batch_op.create_index('ix_disputes_township_level', ['township_code', 'level'], unique=False)
        batch_op.create_index(batch_op.f('ix_disputes_unit_code'), ['unit_code'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('disputes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_disputes_unit_code'))
        batch_op.drop_index('ix_disputes_township_level')
        batch_op.drop_index(batch_op.f('ix_disputes_status'))
        batch_op.drop_index(batch_op.f('ix_disputes_next_decision_at'))
        batch_op.drop_index('ix_disputes_county_level')
        batch_op.drop_index(batch_op.f('ix_disputes_assignee'))

    op.drop_table('disputes')
    with op.batch_alter_table('rule_changes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_rule_changes_at'))

    op.drop_table('rule_changes')
    with op.batch_alter_table('people', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_people_unit_code'))

    op.drop_table('people')
    with op.batch_alter_table('units', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_units_parent_code'))

    op.drop_table('units')
    with op.batch_alter_table('tasks', schema=None) as batch_op:
        batch_op.drop_index('ix_tasks_target_state')
        batch_op.drop_index(batch_op.f('ix_tasks_next_reminder_at'))
        batch_op.drop_index(batch_op.f('ix_tasks_due_at'))
        batch_op.drop_index(batch_op.f('ix_tasks_dispute_id'))

    op.drop_table('tasks')
    op.drop_table('scheduler_lock')
    op.drop_table('rule_sets')
    with op.batch_alter_table('reports', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_reports_unit_code'))

    op.drop_table('reports')
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_index('ix_outbox_state_next')
        batch_op.drop_index(batch_op.f('ix_outbox_dispute_id'))

    op.drop_table('outbox')
    with op.batch_alter_table('obligations', schema=None) as batch_op:
        batch_op.drop_index('ix_obligations_kind_noted_due')
        batch_op.drop_index(batch_op.f('ix_obligations_due_at'))
        batch_op.drop_index(batch_op.f('ix_obligations_dispute_id'))

    op.drop_table('obligations')
    op.drop_table('flow_runs')
    with op.batch_alter_table('escalations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_escalations_to_unit'))
        batch_op.drop_index(batch_op.f('ix_escalations_effective_at'))
        batch_op.drop_index(batch_op.f('ix_escalations_dispute_id'))

    op.drop_table('escalations')
    op.drop_table('dispute_events')
