"""Putting a rule set in force: recompute live disputes from their history, log the change."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import structlog
from sqlmodel import Session, col, select

from models.tables import Dispute, Person, RuleChange
from models.values import LIVE_STATUSES
from rules.policy import Policy
from workflows.disputes import reevaluate
from workflows.errors import NotFound
from workflows.rulesets import current_version, register_ruleset

__all__ = ["RulesApplied", "apply_rules"]

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class RulesApplied:
    from_version: str | None
    to_version: str
    disputes_recomputed: int
    obligations_changed: int
    decisions_recorded: int


def apply_rules(
    *, session: Session, policy: Policy, now: datetime, by: str | None, batch: int = 500
) -> RulesApplied:
    """Put ``policy`` in force: recompute every open dispute from its history, log the change.

    Escalations the new rules make due are recorded with the time their thresholds were
    crossed under the new rules, as if those rules had always been in force.
    """
    if by is not None and session.get(Person, by) is None:
        raise NotFound(f"unknown person {by!r}")
    register_ruleset(session=session, policy=policy, now=now)
    previous = current_version(session)
    recomputed = changed = decisions = 0
    after = 0
    while True:
        ids = session.exec(
            select(Dispute.id)
            .where(col(Dispute.id) > after, col(Dispute.status).in_(LIVE_STATUSES))
            .order_by(col(Dispute.id))
            .limit(batch)
        ).all()
        if not ids:
            break
        for dispute_id in ids:
            assert dispute_id is not None
            outcome = reevaluate(session=session, policy=policy, now=now, dispute_id=dispute_id)
            recomputed += 1
            changed += outcome.obligations_changed
            decisions += outcome.decisions_recorded
        after = ids[-1] or after
        session.flush()
    session.add(
        RuleChange(
            at=now,
            actor=by,
            from_version=previous,
            to_version=policy.version,
            disputes_recomputed=recomputed,
            decisions_recorded=decisions,
        )
    )
    log.info(
        "rules_applied",
        from_version=previous,
        to_version=policy.version,
        by=by,
        disputes_recomputed=recomputed,
        decisions_recorded=decisions,
    )
    return RulesApplied(previous, policy.version, recomputed, changed, decisions)
