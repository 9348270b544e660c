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
from models.values import Risk
from rules.policy import Policy
from rules.reminders import after_quiet_hours, digest_time, next_reminder, reminders_due
from workflows.cadence import claim_run, finish_run
from workflows.db import transaction
from workflows.messages import Notice, render
from workflows.outbox import enqueue
from workflows.sweeps import SweepResult

__all__ = ["ReminderResult", "digests", "notice_for", "remind"]

log = structlog.get_logger(__name__)

LIVE = ("open", "acknowledged")
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
    assert dispute is not None
    obligation = policy.rules.obligations.get(task.kind)
    if obligation is None:
        act = f"fengqiao tasks ack {task.id}"
    else:
        act = f"fengqiao dispute event {dispute.id} {obligation.fulfilled_by.value}"
    return Notice(
        dispute=dispute.id or 0,
        category=dispute.category,
        risk=dispute.risk,
        task=task.kind,
        due=task.due_at,
        act=act,
    )


def remind(*, engine: Engine, policy: Policy, now: datetime) -> ReminderResult:
    """Queue every reminder due by ``now``: before and at tasks' due times, and for
    acknowledgements, the reminder at the deadline and then the supervisors one level up."""
    result = ReminderResult()
    while True:
        with transaction(engine) as session:
            tasks = session.exec(
                select(Task)
                .where(col(Task.state).in_(LIVE), col(Task.next_reminder_at) <= now)
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
        not_before=after_quiet_hours(
            max(moment, now - timedelta(days=1)), risk=Risk(task.risk), policy=policy
        ),
        now=now,
        dispute_id=task.dispute_id,
        task_id=task.id,
    )


def _obligation(
    session: Session, task: Task, *, policy: Policy, now: datetime, result: ReminderResult
) -> None:
    moment = task.next_reminder_at
    assert moment is not None
    stage = dict((m, k) for k, m in reminders_due(task.due_at, policy=policy)).get(moment)
    if stage is not None:
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
    upcoming = next_reminder(task.due_at, after=moment, policy=policy)
    task.next_reminder_at = upcoming[1] if upcoming else None  # overdue: the morning digest


def _acknowledgement(
    session: Session, task: Task, *, policy: Policy, now: datetime, result: ReminderResult
) -> None:
    moment = task.next_reminder_at
    assert moment is not None
    if task.reminders_sent == 0:  # the deadline: reminded once more
        _send(session, task, "due", moment, target=task.target, policy=policy, now=now)
        task.reminders_sent = 1
        result.reminded += 1
        after = policy.rules.acknowledgement_escalation.get(Risk(task.risk))
        task.next_reminder_at = task.created_at + after.exact() if after else None
        return
    up = _one_level_up(session, task)
    task.next_reminder_at = None
    if up is None:
        return
    _send(session, task, "unacknowledged", moment, target=up, policy=policy, now=now)
    task.escalated_at = moment
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


def digests(*, engine: Engine, policy: Policy, now: datetime) -> int:
    """Once a day, one message per person or unit listing their open tasks due by the next
    digest; return how many were queued."""
    local_day = now.astimezone(policy.zone).date()
    moment = digest_time(local_day, policy=policy)
    if moment is None or now < moment:
        return 0
    with transaction(engine) as session:
        run = claim_run(session, flow="digest", window_end=moment, started=now)
    if run is None:
        return 0
    horizon = moment + timedelta(days=1)
    queued = 0
    with transaction(engine) as session:
        grouped: dict[str, list[Task]] = defaultdict(list)
        for task in session.exec(
            select(Task)
            .where(col(Task.state).in_(LIVE), col(Task.due_at) <= horizon)
            .order_by(col(Task.due_at), col(Task.id))
        ):
            grouped[task.target].append(task)
        language = policy.rules.reminders.language
        for target, tasks in sorted(grouped.items()):
            lines = []
            for task in tasks:
                _, line = render(
                    "digest_line",
                    notice_for(session, task, policy=policy),
                    language=language,
                    zone=policy.zone,
                    late=(" (逾期)" if language == "zh" else " (overdue)")
                    if task.due_at < now
                    else "",
                )
                lines.append(line)
            title, body = render(
                "digest",
                None,
                language=language,
                zone=policy.zone,
                count=len(tasks),
                lines="\n".join(lines),
            )
            queued += (
                enqueue(
                    session,
                    key=f"digest:{target}:{local_day}",
                    target=target,
                    title=title,
                    body=body,
                    not_before=now,
                    now=now,
                )
                > 0
            )
        finish_run(
            session,
            session.merge(run),
            result=SweepResult(flow="digest", now=moment, examined=queued),
            finished=now,
        )
    return queued
