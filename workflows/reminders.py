"""The reminder sweep: tasks whose next reminder has come (indexed), each reminder queued
in the outbox in the same transaction that moves the task to its next one; the morning
digest; and acknowledgements nobody gave, passed to the supervisors one level up."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from models.tables import Dispute, Task
from models.values import LIVE_TASK_STATES, Risk
from rules.policy import Policy
from rules.reminders import after_quiet_hours, digest_time, next_reminder, reminders_due
from workflows.cadence import claim_run, finish_run
from workflows.db import transaction
from workflows.messages import Notice, render, task_notice
from workflows.outbox import addresses, enqueue
from workflows.sweeps import SweepResult

__all__ = ["ReminderResult", "digests", "notice_for", "remind"]

log = structlog.get_logger(__name__)

BATCH = 200


@dataclass
class ReminderResult:
    reminded: int = 0
    escalated: int = 0
    digests: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "flow": "reminders",
            "reminded": self.reminded,
            "escalated": self.escalated,
            "digests": self.digests,
        }


def notice_for(session: Session, task: Task, *, policy: Policy) -> Notice:
    """What a message about ``task`` says: the dispute, the task, and the command to act."""
    dispute = session.get(Dispute, task.dispute_id)
    assert dispute is not None and task.id is not None
    return task_notice(
        dispute_id=task.dispute_id,
        category=dispute.category,
        risk=dispute.risk,
        task_id=task.id,
        kind=task.kind,
        target=task.target,
        due=task.due_at,
        policy=policy,
    )


def remind(*, engine: Engine, policy: Policy, now: datetime) -> ReminderResult:
    """Queue every reminder due by ``now``: before and at tasks' due times, and for
    acknowledgements, the reminder at the deadline and then the supervisors one level up."""
    result = ReminderResult()
    while True:
        with transaction(engine) as session:
            tasks = session.exec(
                select(Task)
                .where(col(Task.state).in_(LIVE_TASK_STATES), col(Task.next_reminder_at) <= now)
                .order_by(col(Task.next_reminder_at), col(Task.id))
                .limit(BATCH)
                .with_for_update(skip_locked=True)
            ).all()
            if not tasks:
                break
            for task in tasks:
                if task.kind == "acknowledge":
                    _acknowledgement(session, task, policy=policy, now=now, result=result)
                else:
                    _obligation(session, task, policy=policy, now=now, result=result)
                session.add(task)
    result.digests = digests(engine=engine, policy=policy, now=now)
    log.info("reminders_finished", **result.as_dict())
    return result


def _send(
    session: Session,
    task: Task,
    kind: str,
    moment: datetime,
    *,
    target: str,
    policy: Policy,
    now: datetime,
    stage: str | None = None,
) -> None:
    title, body = render(
        kind,
        notice_for(session, task, policy=policy),
        language=policy.rules.reminders.language,
        zone=policy.zone,
    )
    enqueue(
        session,
        key=f"task:{task.id}:{stage or kind}:{moment.isoformat()}",
        target=target,
        title=title,
        body=body,
        not_before=after_quiet_hours(max(moment, now), risk=Risk(task.risk), policy=policy),
        now=now,
        dispute_id=task.dispute_id,
        task_id=task.id,
        risk=task.risk,
    )


def _obligation(
    session: Session, task: Task, *, policy: Policy, now: datetime, result: ReminderResult
) -> None:
    """Send the latest reminder whose moment has come (after downtime, not every one
    missed); a reminder before the due time that could only go out after it is dropped."""
    stages = [
        (k, m)
        for k, m in reminders_due(task.due_at, policy=policy)
        if task.next_reminder_at is not None and task.next_reminder_at <= m <= now
    ]
    if stages:
        stage, moment = stages[-1]
        goes_out = after_quiet_hours(moment, risk=Risk(task.risk), policy=policy)
        if stage == "due" or goes_out < task.due_at:
            _send(
                session,
                task,
                "due" if stage == "due" else "reminder",
                moment,
                target=task.target,
                policy=policy,
                now=now,
                stage=stage,
            )
            task.reminders_sent += 1
            result.reminded += 1
    upcoming = next_reminder(task.due_at, after=now, policy=policy)
    task.next_reminder_at = upcoming[1] if upcoming else None  # overdue: the morning digest


def _acknowledgement(
    session: Session, task: Task, *, policy: Policy, now: datetime, result: ReminderResult
) -> None:
    moment = task.next_reminder_at
    assert moment is not None
    risk = Risk(task.risk)
    after = policy.rules.acknowledgement_escalation.get(risk)
    grace = policy.rules.acknowledgement.get(risk)
    # Timed from the assignment or escalation itself, not from when it was recorded.
    escalate_at = task.due_at - grace.exact() + after.exact() if after and grace else None
    if task.reminders_sent == 0:  # the deadline: reminded once more
        if escalate_at is None or now < escalate_at:
            _send(session, task, "due", moment, target=task.target, policy=policy, now=now)
            result.reminded += 1
        task.reminders_sent = 1
        task.next_reminder_at = escalate_at
        if escalate_at is None or now < escalate_at:
            return
    up = _one_level_up(session, task)
    task.next_reminder_at = None
    if up is None or escalate_at is None:
        return
    _send(session, task, "unacknowledged", escalate_at, target=up, policy=policy, now=now)
    task.escalated_at = escalate_at
    result.escalated += 1
    log.info("acknowledgement_escalated", task_id=task.id, dispute_id=task.dispute_id, to=up)


def _one_level_up(session: Session, task: Task) -> str | None:
    """The supervisors above whoever failed to acknowledge: a village's person or unit goes
    to the township, the township to the county; nothing is above the county."""
    dispute = session.get(Dispute, task.dispute_id)
    assert dispute is not None
    if task.target == f"unit:{dispute.county_code}":
        return None
    if task.target == f"unit:{dispute.township_code}":
        return f"unit:{dispute.county_code}"
    return f"unit:{dispute.township_code}"


DIGEST_LINES = 30


def digests(*, engine: Engine, policy: Policy, now: datetime) -> int:
    """Once a day, one message per person (and per unit address) listing the open tasks
    they are reached for, due by the next digest; return how many were queued."""
    local_day = now.astimezone(policy.zone).date()
    moment = digest_time(local_day, policy=policy)
    if moment is None or now < moment:
        return 0
    with transaction(engine) as session:
        run = claim_run(session, flow="digest", window_end=moment, started=now)
    if run is None:
        return 0
    horizon = moment + timedelta(days=1)
    language = policy.rules.reminders.language
    lines: dict[str, list[str]] = defaultdict(list)
    with transaction(engine) as session:
        reached: dict[str, list[str]] = {}
        for task in session.exec(
            select(Task)
            .where(col(Task.state).in_(LIVE_TASK_STATES), col(Task.due_at) <= horizon)
            .order_by(col(Task.due_at), col(Task.id))
        ):
            if task.target not in reached:
                reached[task.target] = sorted({r for r, _, _ in addresses(session, task.target)})
            late = (" (逾期)" if language == "zh" else " (overdue)") if task.due_at < now else ""
            _, line = render(
                "digest_line",
                notice_for(session, task, policy=policy),
                language=language,
                zone=policy.zone,
                late=late,
            )
            for recipient in reached[task.target]:
                lines[recipient].append(line)
    queued = 0
    for recipient, items in sorted(lines.items()):
        shown = items[:DIGEST_LINES]
        if len(items) > len(shown):
            more = len(items) - len(shown)
            shown.append(f"……另有 {more} 项" if language == "zh" else f"... and {more} more")
        title, body = render(
            "digest",
            None,
            language=language,
            zone=policy.zone,
            count=len(items),
            lines="\n".join(shown),
        )
        with transaction(engine) as session:  # one recipient's digest cannot stop another's
            queued += (
                enqueue(
                    session,
                    key=f"digest:{recipient}:{local_day}",
                    target=recipient,
                    title=title,
                    body=body,
                    not_before=now,
                    now=now,
                    own_addresses_only=True,
                )
                > 0
            )
    with transaction(engine) as session:
        finish_run(
            session,
            session.merge(run),
            result=SweepResult(flow="digest", now=moment, examined=queued),
            finished=now,
        )
    return queued
