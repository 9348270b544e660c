"""The sweeps: batches of disputes found by indexed due time, each dispute in its own
transaction, one dispute's failure logged and counted while the others go on.

These are plain functions; ``workflows/flows.py`` runs them as Prefect flows.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import structlog
from sqlalchemy import Engine, and_, or_
from sqlmodel import Session, col, select

from models.tables import Dispute
from rules.policy import Policy
from workflows.db import transaction
from workflows.disputes import Outcome, reevaluate

__all__ = ["SweepResult", "due_for_decision", "escalation_sweep", "sweep_disputes"]

log = structlog.get_logger(__name__)

BATCH = 500


@dataclass
class SweepResult:
    """What one sweep did, for the flow's result, the command line and the logs."""

    flow: str
    now: datetime
    examined: int = 0
    decisions: int = 0
    obligations_changed: int = 0
    reports: int = 0
    failed: list[int] = field(default_factory=list)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SweepResult:
        return cls(
            flow=data["flow"],
            now=datetime.fromisoformat(data["now"]),
            examined=data["examined"],
            decisions=data["decisions"],
            obligations_changed=data["obligations_changed"],
            reports=data["reports"],
            failed=list(data["failed"]),
        )

    def summary(self) -> str:
        """One line for the command line."""
        if self.flow == "escalation":
            text = (
                f"{self.examined} disputes due, {self.decisions} escalations and listings recorded"
            )
            failed = "disputes FAILED"
        elif self.flow == "reminders":
            text = f"{self.examined} reminders, acknowledgement escalations and digests queued"
            failed = "FAILED"
        elif self.flow == "delivery":
            text = f"{self.examined} messages sent"
            failed = "messages DEAD, outbox ids"
        else:
            text = f"{self.examined} obligations noticed overdue"
            if self.reports:
                text += f", {self.reports} reports stored"
            failed = "FAILED"
        if self.failed:
            text += f"; {len(self.failed)} {failed}: {self.failed[:10]}"
        return f"{self.flow:<20} {text}"

    def add(self, outcome: Outcome) -> None:
        self.examined += 1
        self.decisions += outcome.decisions_recorded
        self.obligations_changed += outcome.obligations_changed

    def merge(self, other: SweepResult) -> None:
        self.examined += other.examined
        self.decisions += other.decisions
        self.obligations_changed += other.obligations_changed
        self.reports += other.reports
        self.failed.extend(other.failed)

    def as_dict(self) -> dict[str, Any]:
        return {
            "flow": self.flow,
            "now": self.now.isoformat(),
            "examined": self.examined,
            "decisions": self.decisions,
            "obligations_changed": self.obligations_changed,
            "reports": self.reports,
            "failed": self.failed,
        }


def due_for_decision(
    session: Session, *, now: datetime, after: tuple[datetime, int] | None, limit: int
) -> list[tuple[datetime, int]]:
    """The next batch of disputes whose next escalation or listing is due by ``now``.

    Keyset pagination on the index of ``next_decision_at``: the cost grows with the number
    of disputes due, not with the number open.
    """
    query = select(Dispute.next_decision_at, Dispute.id).where(col(Dispute.next_decision_at) < now)
    if after is not None:
        at, dispute_id = after
        query = query.where(
            or_(
                col(Dispute.next_decision_at) > at,
                and_(col(Dispute.next_decision_at) == at, col(Dispute.id) > dispute_id),
            )
        )
    rows = session.exec(
        query.order_by(col(Dispute.next_decision_at), col(Dispute.id)).limit(limit)
    ).all()
    return [(at, dispute_id) for at, dispute_id in rows if at is not None and dispute_id]


def batches(engine: Engine, *, now: datetime, size: int = BATCH) -> Iterator[list[int]]:
    """The ids of disputes due for a decision, batch by batch."""
    cursor: tuple[datetime, int] | None = None
    while True:
        with transaction(engine) as session:
            rows = due_for_decision(session, now=now, after=cursor, limit=size)
        if not rows:
            return
        yield [dispute_id for _, dispute_id in rows]
        cursor = rows[-1]


def sweep_disputes(
    ids: list[int], *, engine: Engine, policy: Policy, now: datetime, flow: str
) -> SweepResult:
    """Evaluate each dispute again at ``now``, one transaction each; failures are counted."""
    result = SweepResult(flow=flow, now=now)
    for dispute_id in ids:
        try:
            with transaction(engine) as session:
                outcome = reevaluate(session=session, policy=policy, now=now, dispute_id=dispute_id)
        except Exception as exc:  # isolate one dispute's failure; it is logged and counted
            log.error(
                "sweep_dispute_failed",
                flow=flow,
                dispute_id=dispute_id,
                error=type(exc).__name__,
                detail=str(exc)[:200],
            )
            result.failed.append(dispute_id)
            continue
        result.add(outcome)
    return result


def escalation_sweep(
    *,
    engine: Engine,
    policy: Policy,
    now: datetime,
    size: int = BATCH,
    run_batch: Callable[[list[int]], SweepResult] | None = None,
) -> SweepResult:
    """Record every escalation and listing due by ``now``, with its crossing time."""
    result = SweepResult(flow="escalation", now=now)
    run = run_batch or (
        lambda ids: sweep_disputes(ids, engine=engine, policy=policy, now=now, flow="escalation")
    )
    for ids in batches(engine, now=now, size=size):
        result.merge(run(ids))
    log.info("sweep_finished", **result.as_dict())
    return result
