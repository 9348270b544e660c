"""The messages that announce a new acknowledgement task (签收): a dispute assigned to a
person, or escalated to a unit. Pure: the caller looks up the addresses."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from models.targets import Target
from models.values import MessageKind, Risk
from rules.policy import Policy
from rules.reminders import after_quiet_hours
from workflows.messaging.outbox import Address, message_rows
from workflows.messaging.texts import render, task_notice

__all__ = ["announcement_rows"]


def announcement_rows(
    *,
    task_id: int,
    task: dict[str, Any],
    kind: MessageKind,
    at: datetime,
    category: str,
    found: list[Address],
    policy: Policy,
    now: datetime,
) -> list[dict[str, Any]]:
    """The outbox rows announcing the acknowledgement task ``task`` (a ``tasks`` row, now
    numbered ``task_id``), which an assignment or escalation at ``at`` opened, to the
    addresses ``found``; in quiet hours they wait for the morning unless the risk is high."""
    notice = task_notice(
        dispute_id=task["dispute_id"],
        category=category,
        risk=task["risk"],
        task_id=task_id,
        kind=task["kind"],
        target=Target.parse(task["target"]),
        due=task["due_at"],
        policy=policy,
    )
    title, body = render(kind, notice, policy=policy)
    return message_rows(
        found,
        kind=kind,
        key=f"task:{task_id}:{kind}",
        title=title,
        body=body,
        not_before=after_quiet_hours(at, risk=Risk(task["risk"]), policy=policy),
        now=now,
        dispute_id=task["dispute_id"],
        task_id=task_id,
        risk=task["risk"],
        act=notice.act,
        link=notice.link,
    )
