"""Message texts, in Chinese (default) and English. They name the dispute by its number,
category and risk, never by its parties, and say what to do with a command."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal
from zoneinfo import ZoneInfo

from rules.policy import Policy

__all__ = ["Language", "Notice", "render", "task_notice"]

Language = Literal["zh", "en"]

LABELS: dict[Language, dict[str, str]] = {
    "zh": {
        "daily_check": "日排查",
        "weekly_assessment": "周研判",
        "return_visit": "十日回访",
        "half_month_review": "半月调度",
        "monthly_inspection": "月督查",
        "acknowledge": "签收",
        "high": "高",
        "medium": "中",
        "low": "低",
    },
    "en": {
        "daily_check": "daily check",
        "weekly_assessment": "weekly assessment",
        "return_visit": "return visit",
        "half_month_review": "half-month review",
        "monthly_inspection": "monthly inspection",
        "acknowledge": "acknowledgement",
        "high": "high",
        "medium": "medium",
        "low": "low",
    },
}

TEMPLATES: dict[Language, dict[str, tuple[str, str]]] = {
    "zh": {
        "assigned": (
            "【枫桥】新纠纷待签收 #{dispute}",
            "纠纷 #{dispute}（{category}，{risk}风险）已交办给您，请于 {due} 前签收：{act}",
        ),
        "escalated": (
            "【枫桥】纠纷上报待签收 #{dispute}",
            "纠纷 #{dispute}（{category}，{risk}风险）已上报至本级，请于 {due} 前签收：{act}",
        ),
        "reminder": (
            "【枫桥】{task}提醒 #{dispute}",
            "纠纷 #{dispute}（{category}，{risk}风险）的{task}将于 {due} 到期：{act}",
        ),
        "due": (
            "【枫桥】{task}已到期 #{dispute}",
            "纠纷 #{dispute}（{category}，{risk}风险）的{task}已于 {due} 到期，请尽快处理：{act}",
        ),
        "unacknowledged": (
            "【枫桥】纠纷未签收 #{dispute}",
            "纠纷 #{dispute}（{category}，{risk}风险）交办后未在 {due} 前签收，"
            "已提请上级督办：{act}",
        ),
        "digest": ("【枫桥】今日待办 {count} 项", "您有 {count} 项待办：\n{lines}"),
        "digest_line": ("", "#{dispute} {task} {due}到期{late}"),
        "undeliverable": (
            "【枫桥】消息无法送达",
            "发给 {recipient} 的消息（纠纷 #{dispute}）经 {attempts} 次尝试仍未送达，"
            "请核实其联系方式。",
        ),
    },
    "en": {
        "assigned": (
            "[Fengqiao] New dispute to acknowledge #{dispute}",
            "Dispute #{dispute} ({category}, {risk} risk) is assigned to you; "
            "acknowledge it by {due}: {act}",
        ),
        "escalated": (
            "[Fengqiao] Escalated dispute to acknowledge #{dispute}",
            "Dispute #{dispute} ({category}, {risk} risk) was escalated to your level; "
            "acknowledge it by {due}: {act}",
        ),
        "reminder": (
            "[Fengqiao] {task} reminder #{dispute}",
            "The {task} of dispute #{dispute} ({category}, {risk} risk) is due {due}: {act}",
        ),
        "due": (
            "[Fengqiao] {task} due #{dispute}",
            "The {task} of dispute #{dispute} ({category}, {risk} risk) fell due {due}; "
            "please see to it: {act}",
        ),
        "unacknowledged": (
            "[Fengqiao] Dispute not acknowledged #{dispute}",
            "Dispute #{dispute} ({category}, {risk} risk) was not acknowledged "
            "by {due}; it is passed to you for supervision: {act}",
        ),
        "digest": ("[Fengqiao] {count} open tasks today", "You have {count} open tasks:\n{lines}"),
        "digest_line": ("", "#{dispute} {task} due {due}{late}"),
        "undeliverable": (
            "[Fengqiao] Message could not be delivered",
            "A message to {recipient} (dispute #{dispute}) failed {attempts} "
            "times; please check their contact addresses.",
        ),
    },
}


@dataclass(frozen=True)
class Notice:
    """What a message is about: a dispute's task, due at a time, and the command to act."""

    dispute: int
    category: str
    risk: str
    task: str
    due: datetime
    act: str


def render(
    kind: str, notice: Notice | None, *, language: Language, zone: ZoneInfo, **extra: object
) -> tuple[str, str]:
    """The title and body of a message of ``kind``."""
    labels = LABELS[language]
    values: dict[str, object] = dict(extra)
    if notice is not None:
        values.update(
            dispute=notice.dispute,
            category=notice.category,
            risk=labels.get(notice.risk, notice.risk),
            task=labels.get(notice.task, notice.task),
            due=notice.due.astimezone(zone).strftime("%Y-%m-%d %H:%M"),
            act=notice.act,
        )
    title, body = TEMPLATES[language][kind]
    return title.format(**values), body.format(**values)


def task_notice(
    *,
    dispute_id: int,
    category: str,
    risk: str,
    task_id: int,
    kind: str,
    target: str,
    due: datetime,
    policy: Policy,
) -> Notice:
    """The notice of a task from its fields: for an acknowledgement, the command that
    acknowledges it; for an obligation, the event that fulfils it."""
    obligation = policy.rules.obligations.get(kind)
    if obligation is None:
        who = target.removeprefix("person:") if target.startswith("person:") else "<id>"
        act = f"fengqiao tasks ack {task_id} --by {who}"
    else:
        act = f"fengqiao dispute event {dispute_id} {obligation.fulfilled_by.value}"
    return Notice(dispute=dispute_id, category=category, risk=risk, task=kind, due=due, act=act)
