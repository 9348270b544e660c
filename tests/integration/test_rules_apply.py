"""Putting new rules in force on real databases (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Engine
from sqlmodel import select

from models.tables import Obligation, RuleChange
from models.values import Actor
from rules.policy import Policy
from tests.support.recording import MONDAY, SHANGHAI, escalation_chain, record, report
from workflows.db import reading
from workflows.rollout import apply_rules


def test_putting_new_rules_in_force_recomputes_open_disputes_and_logs_who_did_it(
    org_engine: Engine, policy: Policy
) -> None:
    dispute_id = report(org_engine, policy, risk="low", by="wang")
    stricter = policy.rules.model_copy(update={"name": "stricter"})
    stricter_obligations = dict(stricter.obligations)
    weekly = stricter_obligations["weekly_assessment"]
    stricter_obligations["weekly_assessment"] = weekly.model_copy(
        update={"due": weekly.due.__class__(3, "d") if weekly.due else None}
    )
    new_policy = Policy.from_ruleset(
        stricter.model_copy(update={"obligations": stricter_obligations}), source="stricter.yaml"
    )
    applied = apply_rules(
        engine=org_engine,
        policy=new_policy,
        now=MONDAY + timedelta(hours=2),
        actor=Actor(person="admin"),
    )
    with reading(org_engine) as session:
        weekly_row = session.exec(
            select(Obligation).where(
                Obligation.dispute_id == dispute_id, Obligation.kind == "weekly_assessment"
            )
        ).one()
        change = session.exec(select(RuleChange)).one()
    assert applied.disputes_recomputed == 1 and applied.obligations_changed >= 1
    assert weekly_row.due_at == datetime(2026, 11, 6, tzinfo=SHANGHAI)
    assert weekly_row.rules_version == new_policy.version
    assert (change.actor, change.to_version) == ("admin", new_policy.version)


def test_new_rules_do_not_reorder_an_escalation_already_recorded(
    org_engine: Engine, policy: Policy
) -> None:
    dispute_id = report(org_engine, policy, risk="high")
    for day in range(2, 7):
        record(
            org_engine, policy, dispute_id, "check", datetime(2026, 11, day, 17, tzinfo=SHANGHAI)
        )
    recorded = escalation_chain(org_engine, dispute_id)
    assert recorded == (
        "township",
        [("village", "township", datetime(2026, 11, 6, tzinfo=SHANGHAI))],
    )
    escalations = [
        rule.model_copy(update={"after": rule.after.__class__(1, "d")})
        if rule.id == "village-high-unresolved"
        else rule
        for rule in policy.rules.escalations
    ]
    faster = Policy.from_ruleset(
        policy.rules.model_copy(update={"escalations": escalations}), source="faster.yaml"
    )
    apply_rules(
        engine=org_engine,
        policy=faster,
        now=datetime(2026, 11, 6, 18, tzinfo=SHANGHAI),
        actor=Actor(person="admin"),
    )
    assert escalation_chain(org_engine, dispute_id) == recorded
