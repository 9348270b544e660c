"""Putting new rules in force on real databases (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import Engine
from sqlmodel import select

from models.tables import Obligation, RuleChange
from models.values import ENGINE, Actor
from rules.policy import Policy
from tests.support.db import dump
from tests.support.recording import MONDAY, SHANGHAI, escalation_chain, record, report, sweep
from workflows.db import reading
from workflows.errors import BadInput
from workflows.rollout import apply_rules
from workflows.rulesets import RulesNotInForce
from workflows.tasks import fulfil_unit_tasks


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
        reason="周研判改为三日一次",
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
    assert change.reason == "周研判改为三日一次"


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
        reason="faster",
    )
    assert escalation_chain(org_engine, dispute_id) == recorded


def _stricter(policy: Policy) -> Policy:
    rules = policy.rules.model_copy(update={"name": "stricter"})
    return Policy.from_ruleset(rules, source="stricter.yaml")


@pytest.mark.parametrize(
    ("actor", "reason", "said"),
    [
        (Actor(), "why", "who puts the rules in force is required: --by ADMIN"),
        (
            Actor(person="admin"),
            "   ",
            "a reason is required: say why these rules are put in force",
        ),
        (Actor(person="admin"), "x" * 501, "reason: at most 500 characters of text"),
        (Actor(person="wang"), "why", None),  # a mediator: not allowed
        (Actor(person="nobody"), "why", "unknown person 'nobody'"),
    ],
)
def test_putting_rules_in_force_needs_an_administrator_and_a_reason_and_changes_nothing_else(
    org_engine: Engine, policy: Policy, actor: Actor, reason: str, said: str | None
) -> None:
    report(org_engine, policy, risk="low")
    before = dump(org_engine)
    with pytest.raises(BadInput) as refused:
        apply_rules(
            engine=org_engine, policy=_stricter(policy), now=MONDAY, actor=actor, reason=reason
        )
    if said is not None:
        assert str(refused.value) == said
    assert dump(org_engine) == before


def test_a_write_under_rules_not_in_force_is_refused_naming_the_rules_in_force(
    org_engine: Engine, policy: Policy
) -> None:
    dispute_id = report(org_engine, policy, risk="low")
    apply_rules(
        engine=org_engine, policy=_stricter(policy), now=MONDAY, actor=ENGINE, reason="stricter"
    )
    before = dump(org_engine)
    with pytest.raises(RulesNotInForce) as refused:
        record(org_engine, policy, dispute_id, "check", MONDAY + timedelta(hours=1))
    assert refused.value.in_force == _stricter(policy).version
    assert f"are not the rules in force ({_stricter(policy).version})" in str(refused.value)
    with pytest.raises(RulesNotInForce):
        report(org_engine, policy, risk="high")
    with pytest.raises(RulesNotInForce):
        sweep(org_engine, policy, MONDAY + timedelta(days=40))
    with pytest.raises(RulesNotInForce):
        fulfil_unit_tasks(
            engine=org_engine,
            policy=policy,
            now=MONDAY,
            actor=Actor(person="chen"),
            unit="330100",
            kind="inspect",
        )
    assert dump(org_engine) == before
    record(org_engine, _stricter(policy), dispute_id, "check", MONDAY + timedelta(hours=1))
