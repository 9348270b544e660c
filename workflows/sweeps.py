"""The escalation sweep: batches of due disputes claimed by indexed due time, each batch
evaluated and written set-wise in one transaction; a batch that fails is gone through one
dispute at a time, so one dispute's failure is logged and counted while the others go on.

These are plain functions; ``workflows/flows.py`` runs them as Prefect flows.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from types import SimpleNamespace
from typing import Any

import structlog
from sqlalchemy import Engine, and_, insert, or_
from sqlmodel import Session, col, select

from models.tables import Dispute
from models.values import Level
from rules.evaluate import evaluate, resume
from rules.policy import Policy
from workflows.changes import (
    DISPUTES,
    TASKS,
    Writes,
    decision_rows,
    dispute_fields,
    escalation_row,
    obligation_changes,
    obligation_task_changes,
)
from workflows.db import transaction
from workflows.disputes import (
    Outcome,
    domain_event,
    events_of,
    fold_of,
    initial_state,
    log_decisions,
    obligations_of,
    reevaluate,
)
from workflows.outbox import addresses_of
from workflows.tasks import (
    acknowledgement_row,
    announcement,
    first_reminders,
    live_obligation_tasks,
    obligation_targets,
    unit_target,
)

__all__ = [
    "SweepResult",
    "claim_due",
    "due_for_decision",
    "escalation_sweep",
    "sweep_batch",
    "sweep_disputes",
    "sweep_once",
]

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
    of disputes due, not with the number open. (Read-only; the sweep claims with
    :func:`claim_due`.)
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


def claim_due(
    session: Session,
    *,
    now: datetime,
    limit: int,
    skip: Collection[int] = (),
    wait: bool = False,
) -> list[int]:
    """Lock and return up to ``limit`` disputes due for a decision by ``now``, earliest first.

    On PostgreSQL the rows are claimed ``FOR UPDATE SKIP LOCKED``: concurrent sweeps take
    disjoint batches, and a dispute being recorded by someone else is left for later. On
    SQLite the transaction already holds the database's write lock (BEGIN IMMEDIATE).
    ``skip`` are disputes that failed earlier in this sweep. With ``wait``, rows locked by
    others are waited for instead (PostgreSQL then checks again whether they are still due).
    """
    query = select(DISPUTES.c.id).where(DISPUTES.c.next_decision_at < now)
    if skip:
        query = query.where(DISPUTES.c.id.not_in(list(skip)))
    query = query.order_by(DISPUTES.c.next_decision_at, DISPUTES.c.id).limit(limit)
    return list(session.execute(query.with_for_update(skip_locked=not wait)).scalars())


def sweep_batch(
    session: Session, ids: Sequence[int], *, policy: Policy, now: datetime
) -> tuple[Outcome, list[int]]:
    """Evaluate the claimed disputes ``ids`` at ``now`` and write what fell due, set-wise.

    The same rows as :func:`workflows.disputes.reevaluate` writes for each dispute, read
    in three queries and written in about a dozen statements for the whole batch. Each goes
    on from the fold stored with it; only the disputes without a usable fold (made under
    other rules, say) have their events read and replayed. Returns what was written and
    the disputes, if any, still due afterwards.
    """
    disputes = session.execute(select(DISPUTES).where(DISPUTES.c.id.in_(ids))).all()
    folds = {dispute.id: fold_of(dispute, policy) for dispute in disputes}
    replay = [dispute_id for dispute_id, fold in folds.items() if fold is None]
    events = _grouped(session, events_of(replay)) if replay else {}
    stored = _grouped(session, obligations_of(ids))
    live = _grouped(session, live_obligation_tasks(ids))
    writes = Writes()
    # (task row, the dispute's category, when it was escalated)
    acknowledgements: list[tuple[dict[str, Any], str, datetime]] = []
    decisions = obligations_changed = 0
    stuck: list[int] = []
    for dispute in disputes:
        fold = folds[dispute.id]
        if fold is not None:
            evaluation = resume(fold, [], now=now)
        else:
            past = [domain_event(row) for row in events.get(dispute.id, ())]
            evaluation = evaluate(initial_state(dispute, past), past, policy=policy, now=now)
        state, path = evaluation.state, evaluation.state.path
        new_events, escalated = decision_rows(
            dispute.id, dispute.last_seq, evaluation.decisions, policy=policy, now=now
        )
        log_decisions(dispute.id, evaluation.decisions)
        decisions += len(evaluation.decisions)
        writes.events.extend(new_events)
        fields = dispute_fields(evaluation, policy, seq=dispute.last_seq + len(new_events))
        if fields["next_decision_at"] is not None and fields["next_decision_at"] < now:
            # Never expected (what is due by now was just decided); a guard against a sweep
            # that would claim the same dispute again and again.
            log.error("dispute_still_due", dispute_id=dispute.id)
            stuck.append(dispute.id)
        writes.disputes.append({"b_id": dispute.id, **fields})
        for move in escalated:
            writes.escalations.append(
                escalation_row(dispute.id, move, path, policy=policy, now=now)
            )
            task = acknowledgement_row(
                dispute_id=dispute.id,
                target=unit_target(path.at(Level(move.to_level))),
                at=move.at,
                risk=state.risk,
                policy=policy,
                now=now,
            )
            if task is not None and state.is_open:
                acknowledgements.append((task, dispute.category, move.at))
        changes = obligation_changes(
            dispute.id, stored.get(dispute.id, ()), evaluation.obligations, policy=policy
        )
        obligations_changed += len(changes)
        writes.add_obligations(changes)
        owed = {o.name: o.due_at for o in evaluation.obligations}
        closed, opened = obligation_task_changes(
            dispute.id,
            live.get(dispute.id, ()),
            owed,
            targets=obligation_targets(
                SimpleNamespace(**{**dispute._asdict(), **fields}), owed, policy
            ),
            fulfilled=set(),
            at=now,
            risk=state.risk,
            first_reminder=first_reminders(owed.values(), now=now, policy=policy),
            policy=policy,
            now=now,
        )
        writes.tasks_closed.extend(closed)
        writes.tasks_opened.extend(opened)
    writes.outbox.extend(_announcements(session, acknowledgements, policy=policy, now=now))
    writes.apply(session)
    return Outcome(obligations_changed=obligations_changed, decisions_recorded=decisions), stuck


def _announcements(
    session: Session,
    acknowledgements: list[tuple[dict[str, Any], str, datetime]],
    *,
    policy: Policy,
    now: datetime,
) -> list[dict[str, Any]]:
    """Open the acknowledgement tasks the escalations call for and return the outbox rows
    announcing them (their keys hold the tasks' ids, so the tasks are written first)."""
    if not acknowledgements:
        return []
    ids = session.execute(
        insert(TASKS).returning(TASKS.c.id, sort_by_parameter_order=True),
        [task for task, _, _ in acknowledgements],
    ).scalars()
    found = addresses_of(session, {task["target"] for task, _, _ in acknowledgements})
    rows: list[dict[str, Any]] = []
    unreachable: set[str] = set()
    for task_id, (task, category, at) in zip(ids, acknowledgements, strict=True):
        target = task["target"]
        if not found[target]:
            if target not in unreachable:
                unreachable.add(target)
                log.info("no_contact", target=target, dispute_id=task["dispute_id"])
        else:
            rows.extend(
                announcement(
                    task_id=task_id,
                    task=task,
                    kind="escalated",
                    at=at,
                    category=category,
                    found=found[target],
                    policy=policy,
                    now=now,
                )
            )
    return rows


def sweep_disputes(
    ids: list[int], *, engine: Engine, policy: Policy, now: datetime, flow: str
) -> SweepResult:
    """Evaluate each dispute again at ``now``, one transaction each; failures are counted.

    The slow, careful path: after a batch failed as a whole, it finds the one dispute
    that fails and records the others.
    """
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


def sweep_once(
    *,
    engine: Engine,
    policy: Policy,
    now: datetime,
    size: int = BATCH,
    skip: Collection[int] = (),
    wait: bool = False,
) -> SweepResult:
    """Claim one batch of due disputes and record what fell due, in one transaction.

    If the batch fails as a whole, it is rolled back and gone through one dispute per
    transaction, so that a dispute that cannot be evaluated is logged and counted while
    the others are recorded. ``examined`` plus ``failed`` is 0 when nothing is left.
    """
    result = SweepResult(flow="escalation", now=now)
    claimed: list[int] = []
    try:
        with transaction(engine) as session:
            claimed = claim_due(session, now=now, limit=size, skip=skip, wait=wait)
            if claimed:
                outcome, stuck = sweep_batch(session, claimed, policy=policy, now=now)
    except Exception as exc:
        if not claimed:
            raise  # the claim itself failed: the database is unreachable, say
        log.warning("sweep_batch_failed", disputes=len(claimed), error=type(exc).__name__)
        return sweep_disputes(claimed, engine=engine, policy=policy, now=now, flow="escalation")
    if claimed:
        result.failed.extend(stuck)
        result.examined = len(claimed) - len(stuck)
        result.decisions = outcome.decisions_recorded
        result.obligations_changed = outcome.obligations_changed
    return result


def escalation_sweep(
    *,
    engine: Engine,
    policy: Policy,
    now: datetime,
    size: int = BATCH,
    run_batch: Callable[[list[int], bool], SweepResult] | None = None,
) -> SweepResult:
    """Record every escalation and listing due by ``now``, with its crossing time.

    Batch after batch is claimed until none is left; ``run_batch(skip, wait)`` runs one
    (the Prefect flow makes each a task). Any number of sweeps may run at once: each claims
    its own disputes, and a dispute done by one is no longer due for the others. Before
    returning, a sweep waits for the due disputes others hold, so that it returns only
    once everything due by ``now`` is recorded.
    """
    result = SweepResult(flow="escalation", now=now)
    run = run_batch or (
        lambda skip, wait: sweep_once(
            engine=engine, policy=policy, now=now, size=size, skip=skip, wait=wait
        )
    )
    wait = False
    while True:
        batch = run(result.failed, wait)
        if batch.examined + len(batch.failed) > 0:
            result.merge(batch)
            wait = False
        elif wait:
            break
        else:
            # Nothing left that is not locked: wait for the disputes other sweeps (or
            # writers) hold, so that when this returns everything due by ``now`` is
            # recorded, and the cadence flows and reminders that follow see it.
            wait = True
    log.info("sweep_finished", **result.as_dict())
    return result


def _grouped(session: Session, query: Any) -> dict[int, list[Any]]:
    """Rows by their first column, the dispute id, in the query's order."""
    groups: dict[int, list[Any]] = defaultdict(list)
    for row in session.execute(query):
        groups[row[0]].append(row)
    return groups
