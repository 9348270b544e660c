"""Evaluating disputes again at a moment, set-wise: what the sweep, the fallback of one
dispute per transaction and putting new rules in force all do."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import structlog
from sqlmodel import Session

from models.lifecycle import Event
from rules.evaluate import Decision, Evaluation, Fold, evaluate, resume
from rules.policy import Policy
from workflows.changes.plan import Plan, plan_dispute
from workflows.changes.read import fold_of, histories, initial_state, read_stored
from workflows.changes.write import write_plan

__all__ = ["Outcome", "evaluated", "log_decisions", "reevaluate"]

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class Outcome:
    """What evaluating some disputes again wrote."""

    examined: int
    decisions: int
    obligations_changed: int
    still_due: list[int] = field(default_factory=list)


def reevaluate(
    session: Session, ids: Collection[int], *, policy: Policy, now: datetime, lock: bool = False
) -> Outcome:
    """Evaluate the disputes ``ids`` at ``now`` and write what fell due, in the caller's
    transaction: the decisions with the times their thresholds were crossed, the disputes'
    state, their obligations and tasks.

    Read in a few queries and written in about a dozen statements however many disputes
    there are. Each goes on from the fold stored with it; only those without a usable fold
    (made under other rules, say) have their events read and replayed. With ``lock`` the
    disputes are locked first (the sweep has locked them already, by its claim).
    """
    stored, _ = read_stored(session, ids, lock=lock)
    rows = stored.rows
    folds = {dispute_id: fold_of(row, policy) for dispute_id, row in rows.items()}
    past = histories(session, [dispute_id for dispute_id, fold in folds.items() if fold is None])
    plan = Plan()
    for dispute_id, row in rows.items():
        evaluation = evaluated(
            row, folds[dispute_id], past.get(dispute_id, []), policy=policy, now=now
        )
        plan.extend(
            plan_dispute(
                row,
                evaluation,
                obligations=stored.obligations.get(dispute_id, ()),
                tasks=stored.tasks.get(dispute_id, ()),
                policy=policy,
                now=now,
            )
        )
    write_plan(session, plan, policy=policy, now=now)
    log_decisions(plan.decisions)
    return Outcome(
        examined=len(rows),
        decisions=len(plan.decisions),
        obligations_changed=len(plan.obligations),
        still_due=plan.still_due,
    )


def evaluated(
    row: Any, fold: Fold | None, past: Sequence[Event], *, policy: Policy, now: datetime
) -> Evaluation:
    """A dispute (its row) evaluated at ``now`` with no new event: on from its stored
    ``fold`` (``fold_of(row, policy)``) when there is one, else its history ``past``
    replayed; the same evaluation either way."""
    if fold is not None:
        return resume(fold, [], now=now)
    return evaluate(initial_state(row, past), past, policy=policy, now=now)


def log_decisions(decisions: Sequence[tuple[int, Decision]]) -> None:
    """One log event per escalation or listing recorded."""
    for dispute_id, decision in decisions:
        log.info(
            "dispute_" + ("escalated" if decision.kind == "escalate" else "supervised"),
            dispute_id=dispute_id,
            rule=decision.rule,
            from_level=decision.from_level,
            to_level=decision.to_level,
            effective_at=decision.effective_at.isoformat(),
        )
