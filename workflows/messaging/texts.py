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
    "acted",
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
    task_id: int | None = None
    target: Target | None = None  # whom the task is for


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
            category=(
                policy.rules.categories[notice.category].label_in(language)
                if notice.category in policy.rules.categories
                else notice.category
            ),
            risk=label(policy, notice.risk, language),
            task=label(policy, notice.task, language),
            due=notice.due.astimezone(policy.zone).strftime("%Y-%m-%d %H:%M"),
            act=notice.act,
        )
        if kind == MessageKind.unacknowledged:  # to the supervisors above whoever it is for
            values.update(_for_supervisors(notice, language))
    template = texts(language).messages[str(kind)]
    return template["title"].format(**values), template["body"].format(**values)


def _for_supervisors(notice: Notice, language: Language) -> dict[str, object]:
    """What a supervisor told of a missed acknowledgement can do: have the person (or unit)
    it was for acknowledge it, or acknowledge it themselves, in their own name (the page of
    the dispute, once the web app's address is known: see :func:`linked`)."""
    act = texts(language).act
    who = notice.target.ref if notice.target else act["anyone"]
    if notice.task_id is None:
        return {"who": who}
    return {"who": who, "act": act["acknowledge"].format(task_id=notice.task_id, who=act["anyone"])}


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
        dispute=dispute_id,
        category=category,
        risk=risk,
        task=kind,
        due=due,
        act=text,
        link=link,
        task_id=task_id,
        target=target,
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


def acted(
    kind: MessageKind | str, notice: Notice, *, policy: Policy, language: Language | None = None
) -> str:
    """The command a message of ``kind`` about ``notice`` ends with (what its outbox row
    keeps, for :func:`linked`): the supervisor's own, for an acknowledgement passed up."""
    if kind == MessageKind.unacknowledged:
        found = _for_supervisors(notice, _language(policy, language)).get("act")
        return str(found) if found is not None else notice.act
    return notice.act
