"""Why a dispute owes what it owes, and what happens next if nothing is done: the view of
``fengqiao rules explain``, under any rule file (the one in force or a draft)."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Engine

from models.values import UnitPath
from rules.evaluate import Decision, Evaluation
from rules.policy import Policy
from workflows.access import Viewer, dispute_in_scope
from workflows.changes import evaluated, fold_of, history
from workflows.db import reading
from workflows.views.dispute import iso

__all__ = ["decision_json", "explain_view", "shape_explanation"]


def explain_view(
    *,
    engine: Engine,
    dispute_id: int,
    policy: Policy,
    now: datetime,
    zone: ZoneInfo,
    viewer: Viewer | None = None,
) -> dict[str, Any]:
    """The dispute's whole history evaluated under ``policy`` at ``now`` (as ``viewer`` may
    see it): gone on from the fold stored with the dispute when it was made under
    ``policy`` (the same evaluation, without reading the history), else replayed."""
    with reading(engine) as session:
        dispute = dispute_in_scope(session, viewer, dispute_id)
        fold = fold_of(dispute, policy)
        past = history(session, dispute_id) if fold is None else []
    evaluation = evaluated(dispute, fold, past, policy=policy, now=now)
    return shape_explanation(dispute_id, evaluation, policy=policy, now=now, zone=zone)


def shape_explanation(
    dispute_id: int, evaluation: Evaluation, *, policy: Policy, now: datetime, zone: ZoneInfo
) -> dict[str, Any]:
    """The JSON of ``rules explain --json``: each obligation with its due time and the rule
    that set it, the decisions already due but not yet recorded, and the next one."""
    state = evaluation.state
    return {
        "id": dispute_id,
        "rules": policy.source,
        "rules_version": policy.label,
        "now": iso(now, zone),
        "status": state.status.value,
        "risk": state.risk.value,
        "level": state.level.value,
        "level_since": iso(state.level_since, zone),
        "paused": state.paused,
        "obligations": [
            {
                "kind": o.name,
                "label": o.label,
                "due_at": iso(o.due_at, zone),
                "overdue": o.overdue(now),
                "rule": o.rule,
                "fulfilled_by": o.fulfilled_by.value,
            }
            for o in evaluation.obligations
        ],
        "due_unrecorded": [decision_json(d, state.path, zone) for d in evaluation.decisions],
        "next": (
            decision_json(evaluation.next_decision, state.path, zone)
            if evaluation.next_decision
            else None
        ),
    }


def decision_json(decision: Decision, path: UnitPath, zone: ZoneInfo) -> dict[str, Any]:
    """An escalation or listing as the JSON of ``rules explain`` and ``rules diff`` says it."""
    return {
        "kind": decision.kind,
        "rule": decision.rule,
        "from_level": decision.from_level.value,
        "to_level": decision.to_level.value,
        "unit": path.at(decision.to_level),
        "effective_at": iso(decision.effective_at, zone),
        "reason": decision.reason,
        "deadline": iso(decision.deadline, zone),
    }
