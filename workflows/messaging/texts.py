"""Message texts: the templates of ``templates/<language>.yaml`` filled in. Obligations are
named by their labels in the rule file; every other word is in the templates."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from models.targets import Target
from models.values import MessageKind
from rules.policy import Policy
from rules.schema import Language

__all__ = [
    "LANGUAGES",
    "Notice",
    "Texts",
    "digest_line",
    "digest_more",
    "TASKS_PAGE",
    "label",
    "linked",
    "render",
    "task_notice",
    "texts",
]

LANGUAGES: tuple[Language, ...] = ("zh", "en")
_TEMPLATES = Path(__file__).with_name("templates")


@dataclass(frozen=True)
class Texts:
    """One language's templates."""

    labels: dict[str, str]
    act: dict[str, str]
    messages: dict[str, dict[str, str]]
    digest: dict[str, str]


@cache
def texts(language: Language) -> Texts:
    """The templates of ``language``, read once."""
    data: dict[str, Any] = yaml.safe_load(
        (_TEMPLATES / f"{language}.yaml").read_text(encoding="utf-8")
    )
    return Texts(
        labels=data["labels"], act=data["act"], messages=data["messages"], digest=data["digest"]
    )


@dataclass(frozen=True)
class Notice:
    """What a message is about: a dispute's task, due at a time, and what to do about it."""

    dispute: int
    category: str
    risk: str
    task: str  # the task's kind: an obligation's name, or "acknowledge"
    due: datetime
    act: str  # what to do, as a command line
    link: str | None = None  # the web app's page where it is done (a path)


def _language(policy: Policy, language: Language | None) -> Language:
    return language or policy.rules.reminders.language


def label(policy: Policy, name: str, language: Language | None = None) -> str:
    """How messages call an obligation (its label in the rule file), a risk or a task."""
    language = _language(policy, language)
    obligation = policy.rules.obligations.get(name)
    if obligation is not None:
        return obligation.label_in(language)
    return texts(language).labels.get(name, name)


def render(
    kind: MessageKind | str,
    notice: Notice | None,
    *,
    policy: Policy,
    language: Language | None = None,
    **extra: object,
) -> tuple[str, str]:
    """The title and body of a message of ``kind``, in the rules' language unless told."""
    language = _language(policy, language)
    values: dict[str, object] = dict(extra)
    if notice is not None:
        values.update(
            dispute=notice.dispute,
            category=notice.category,
            risk=label(policy, notice.risk, language),
            task=label(policy, notice.task, language),
            due=notice.due.astimezone(policy.zone).strftime("%Y-%m-%d %H:%M"),
            act=notice.act,
        )
    template = texts(language).messages[str(kind)]
    return template["title"].format(**values), template["body"].format(**values)


def digest_line(notice: Notice, *, late: bool, policy: Policy) -> str:
    """One task of the morning digest."""
    words = texts(_language(policy, None)).digest
    return words["line"].format(
        dispute=notice.dispute,
        task=label(policy, notice.task),
        due=notice.due.astimezone(policy.zone).strftime("%Y-%m-%d %H:%M"),
        late=words["late"] if late else "",
    )


def digest_more(more: int, *, policy: Policy) -> str:
    """The digest's last line when it lists only its first tasks."""
    return texts(_language(policy, None)).digest["more"].format(more=more)


def task_notice(
    *,
    dispute_id: int,
    category: str,
    risk: str,
    task_id: int,
    kind: str,
    target: Target,
    due: datetime,
    policy: Policy,
) -> Notice:
    """The notice of a task from its fields: for an acknowledgement, the command that
    acknowledges it and the dispute's page (where 签收 is one tap); for an obligation, the
    event that fulfils it and the page with its form."""
    act = texts(_language(policy, None)).act
    obligation = policy.rules.obligations.get(kind)
    if obligation is None:  # an acknowledgement (签收)
        who = target.ref if target.is_person else act["anyone"]
        text = act["acknowledge"].format(task_id=task_id, who=who)
        link = f"/disputes/{dispute_id}"
    else:
        event = obligation.fulfilled_by.value
        text = act["event"].format(dispute=dispute_id, event=event)
        link = f"/disputes/{dispute_id}/record/{event}"
    return Notice(
        dispute=dispute_id, category=category, risk=risk, task=kind, due=due, act=text, link=link
    )


# The page of a person's tasks, where the morning digest leads.
TASKS_PAGE = "/tasks"


def linked(body: str, *, act: str | None, link: str | None, base_url: str | None) -> str:
    """The body as delivered: with the web app's public address known, the page where the
    task is done in place of the command line ``act`` (or after the body). Pure."""
    if base_url is None or link is None:
        return body
    url = base_url.rstrip("/") + link
    if act and act in body:
        head, _, tail = body.rpartition(act)
        return head + url + tail
    return f"{body}\n{url}"
