"""Putting a rule set in force: recompute live disputes from their history, log the change."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import structlog
from sqlalchemy import Engine
from sqlmodel import col, select

from models.tables import Dispute, Person, RuleChange
from models.values import ENGINE, LIVE_STATUSES, Actor
from rules.policy import Policy
from workflows.access import Action, permit, viewer_of
from workflows.changes import reevaluate
from workflows.db import transaction
from workflows.errors import BadInput, NotFound
from workflows.rulesets import current_version, register_ruleset

__all__ = ["RulesApplied", "apply_rules"]

log = structlog.get_logger(__name__)

BATCH = 500


@dataclass(frozen=True)
class RulesApplied:
    from_version: str | None
    to_version: str
    disputes_recomputed: int
    obligations_changed: int
    decisions_recorded: int


REASON_LONGEST = 500


def apply_rules(
    *,
    engine: Engine,
    policy: Policy,
    now: datetime,
    actor: Actor,
    reason: str,
    dry_run: bool = False,
) -> RulesApplied:
    """Put ``policy`` in force, in one transaction: recompute every live dispute from its
    history, and log the change with ``actor`` and ``reason``. With ``dry_run``, say what
    would change and change nothing.

    Escalations the new rules make due are recorded with the time their thresholds were
    crossed under the new rules, as if those rules had always been in force.
    """
    reason = reason.strip()
    if not reason:
        raise BadInput("a reason is required: say why these rules are put in force")
    if len(reason) > REASON_LONGEST or "\x00" in reason:
        raise BadInput(f"reason: at most {REASON_LONGEST} characters of text")
    if actor.person is None and actor.via != ENGINE.via:
        raise BadInput("who puts the rules in force is required: --by ADMIN")
    with transaction(engine) as session:
        if actor.person is not None and session.get(Person, actor.person) is None:
            raise NotFound(f"unknown person {actor.person!r}")
        if actor.person is not None:  # an administrator, whether signed in or named by --by
            permit(viewer_of(session, actor.person), Action.rules)
        register_ruleset(session=session, policy=policy, now=now, applying=True)
        previous = current_version(session)
        recomputed = changed = decisions = 0
        after = 0
        while True:
            ids = session.exec(
                select(Dispute.id)
                .where(col(Dispute.id) > after, col(Dispute.status).in_(LIVE_STATUSES))
                .order_by(col(Dispute.id))
                .limit(BATCH)
            ).all()
            if not ids:
                break
            outcome = reevaluate(
                session, [i for i in ids if i is not None], policy=policy, now=now, lock=True
            )
            recomputed += outcome.examined
            changed += outcome.obligations_changed
            decisions += outcome.decisions
            after = ids[-1] or after
        session.add(
            RuleChange(
                at=now,
                actor=actor.name,
                from_version=previous,
                to_version=policy.version,
                disputes_recomputed=recomputed,
                decisions_recorded=decisions,
                reason=reason,
            )
        )
        if dry_run:
            session.rollback()
    applied = RulesApplied(previous, policy.version, recomputed, changed, decisions)
    if not dry_run:
        log.info(
            "rules_applied",
            from_version=previous,
            to_version=policy.version,
            by=actor.name,
            disputes_recomputed=recomputed,
            decisions_recorded=decisions,
            reason=reason,
        )
    return applied
