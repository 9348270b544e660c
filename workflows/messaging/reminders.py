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

from models.tables import Dispute, Task, UnitTask
from models.targets import Target, one_level_up
from models.values import (
    ACKNOWLEDGEMENT,
    LIVE_TASK_STATES,
    MessageKind,
    Risk,
    TaskState,
    UnitPath,
)
from rules.policy import Policy
from rules.reminders import after_quiet_hours, digest_time, next_reminder, reminders_due
from workflows.db import transaction
from workflows.messaging.outbox import addresses, enqueue
from workflows.messaging.texts import (
    TASKS_PAGE,
    Notice,
    acted,
    digest_line,
    digest_more,
    render,
    task_notice,
    texts,
)
from workflows.runs import SweepResult, claim_run, finish_run

__all__ = ["ReminderResult", "digests", "notice_for", "remind"]

log = structlog.get_logger(__name__)

BATCH = 200
DIGEST_LINES = 30


@dataclass
class ReminderResult:
    now: datetime
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

    def as_sweep(self) -> SweepResult:
        """As the steps of a sweep report: examined is every message queued."""
        return SweepResult(
            flow="reminders", now=self.now, examined=self.reminded + self.escalated + self.digests
        )


def notice_for(session: Session, task: Task, *, policy: Policy) -> Notice:
    """What a message about ``task`` says: the dispute, the task, and what to do."""
    dispute = session.get(Dispute, task.dispute_id)
    assert dispute is not None and task.id is not None
    return task_notice(
        dispute_id=task.dispute_id,
        category=dispute.category,
        risk=dispute.risk,
        task_id=task.id,
        kind=task.kind,
        target=Target.parse(task.target),
        due=task.due_at,
        policy=policy,
    )


def remind(*, engine: Engine, policy: Policy, now: datetime) -> ReminderResult:
    """Queue every reminder due by ``now``: before and at tasks' due times, and for
    acknowledgements, the reminder at the deadline and then the supervisors one level up."""
    result = ReminderResult(now=now)
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
                if task.kind == ACKNOWLEDGEMENT:
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
    kind: MessageKind,
    moment: datetime,
    *,
    target: Target,
    policy: Policy,
    now: datetime,
    stage: str | None = None,
) -> None:
    notice = notice_for(session, task, policy=policy)
    title, body = render(kind, notice, policy=policy)
    enqueue(
        session,
        target=target,
        kind=kind,
        key=f"task:{task.id}:{stage or kind}:{moment.isoformat()}",
        title=title,
        body=body,
        not_before=after_quiet_hours(max(moment, now), risk=Risk(task.risk), policy=policy),
        now=now,
        dispute_id=task.dispute_id,
        task_id=task.id,
        risk=task.risk,
        act=acted(kind, notice, policy=policy),
        link=notice.link,
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
                MessageKind.due if stage == "due" else MessageKind.reminder,
                moment,
                target=Target.parse(task.target),
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
    target = Target.parse(task.target)
    if task.reminders_sent == 0:  # the deadline: reminded once more
        if escalate_at is None or now < escalate_at:
            _send(session, task, MessageKind.due, moment, target=target, policy=policy, now=now)
            result.reminded += 1
        task.reminders_sent = 1
        task.next_reminder_at = escalate_at
        if escalate_at is None or now < escalate_at:
            return
    dispute = session.get(Dispute, task.dispute_id)
    assert dispute is not None
    up = one_level_up(
        target, UnitPath(dispute.village_code, dispute.township_code, dispute.county_code)
    )
    task.next_reminder_at = None
    if up is None or escalate_at is None:
        return
    _send(session, task, MessageKind.unacknowledged, escalate_at, target=up, policy=policy, now=now)
    task.escalated_at = escalate_at
    result.escalated += 1
    log.info("acknowledgement_escalated", task_id=task.id, dispute_id=task.dispute_id, to=str(up))


def _unit_task_lines(
    session: Session,
    lines: dict[str, list[str]],
    reached: dict[str, list[str]],
    *,
    horizon: datetime,
    policy: Policy,
    now: datetime,
) -> None:
    """The open tasks of units as a whole (a county's monthly inspection) in the digest of
    the unit's supervisors."""
    words = texts(policy.rules.reminders.language).digest
    for task in session.exec(
        select(UnitTask)
        .where(UnitTask.state == TaskState.open, col(UnitTask.due_at) <= horizon)
        .order_by(col(UnitTask.due_at), col(UnitTask.id))
    ):
        rule = policy.rules.unit_obligations.get(task.kind)
        target = str(Target.of_unit(task.unit_code))
        if target not in reached:
            found = addresses(session, Target.of_unit(task.unit_code))
            reached[target] = sorted({a.recipient for a in found})
        line = words["unit_line"].format(
            unit=task.unit_code,
            task=rule.label_in(policy.rules.reminders.language) if rule else task.kind,
            due=task.due_at.astimezone(policy.zone).strftime("%Y-%m-%d %H:%M"),
            late=words["late"] if task.due_at < now else "",
        )
        for recipient in reached[target]:
            lines[recipient].append(line)


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
    lines: dict[str, list[str]] = defaultdict(list)
    with transaction(engine) as session:
        reached: dict[str, list[str]] = {}
        for task in session.exec(
            select(Task)
            .where(col(Task.state).in_(LIVE_TASK_STATES), col(Task.due_at) <= horizon)
            .order_by(col(Task.due_at), col(Task.id))
        ):
            if task.target not in reached:
                found = addresses(session, Target.parse(task.target))
                reached[task.target] = sorted({a.recipient for a in found})
            line = digest_line(
                notice_for(session, task, policy=policy), late=task.due_at < now, policy=policy
            )
            for recipient in reached[task.target]:
                lines[recipient].append(line)
        _unit_task_lines(session, lines, reached, horizon=horizon, policy=policy, now=now)
    queued = 0
    for recipient, items in sorted(lines.items()):
        shown = items[:DIGEST_LINES]
        if len(items) > len(shown):
            shown.append(digest_more(len(items) - len(shown), policy=policy))
        title, body = render(
            MessageKind.digest, None, policy=policy, count=len(items), lines="\n".join(shown)
        )
        with transaction(engine) as session:  # one recipient's digest cannot stop another's
            queued += (
                enqueue(
                    session,
                    target=Target.parse(recipient),
                    own_addresses_only=True,
                    kind=MessageKind.digest,
                    key=f"digest:{recipient}:{local_day}",
                    title=title,
                    body=body,
                    not_before=now,
                    now=now,
                    link=TASKS_PAGE,
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
