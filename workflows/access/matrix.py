"""Who may do what: the permission matrix, as data. Pure.

A person acts by role and by the level of the unit they work in: mediators and grid
workers record the work of the village; supervisors of a township or county also assign,
hand back, escalate, list for supervision and the like, and the township reviews
(半月调度) while the county inspects (月督查), and supervisors read their subtree's reports
(周研判报告, 月督查通报); administrators keep accounts and rules. Which disputes a person
may act on at all is the scope (``workflows.access.scope``).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from models.values import EventKind, Role, UnitLevel

__all__ = ["Action", "GRANTS", "Grant", "allowed", "matrix_markdown", "refusal"]


class Action(StrEnum):
    """Everything a person can do: report a dispute, record an event of each kind (acknowledge
    also covers their own cadence tasks), keep the org (units, people and their accounts),
    keep the rules."""

    report = "report"
    assign = "assign"
    acknowledge = "acknowledge"
    check = "check"
    assess = "assess"
    mediate = "mediate"
    resolve = "resolve"
    visit = "visit"
    review = "review"
    inspect = "inspect"
    close = "close"
    reopen = "reopen"
    refer = "refer"
    pause = "pause"
    resume = "resume"
    escalate = "escalate"
    handback = "handback"
    supervise = "supervise"
    note = "note"
    withdraw = "withdraw"
    referral_result = "referral_result"
    court_result = "court_result"
    confirmation_notice = "confirmation_notice"
    confirmation_apply = "confirmation_apply"
    confirmation_result = "confirmation_result"
    extend = "extend"
    org = "org"
    rules = "rules"
    reports = "reports"  # read the reports (周研判报告, 月督查通报) of the unit's subtree

    @classmethod
    def of_event(cls, kind: EventKind) -> Action:
        """What recording an event of ``kind`` takes: the org's own changes are keeping
        the org."""
        return cls.org if kind is EventKind.reorganise else cls(kind.value)


_VILLAGE = (UnitLevel.village, UnitLevel.grid)
_ABOVE = (UnitLevel.township, UnitLevel.county)
_WORK = (
    Action.report,
    Action.acknowledge,
    Action.check,
    Action.assess,
    Action.mediate,
    Action.resolve,
    Action.visit,
    Action.note,
    # what the village follows up: the answer of a referral, the court's own cases, 司法确认,
    # a time limit the parties agreed to extend
    Action.referral_result,
    Action.court_result,
    Action.confirmation_notice,
    Action.confirmation_apply,
    Action.confirmation_result,
    Action.extend,
)


@dataclass(frozen=True)
class Grant:
    """A role working at units of ``levels`` may take ``actions``."""

    role: Role
    levels: tuple[UnitLevel, ...]
    actions: tuple[Action, ...]


GRANTS: tuple[Grant, ...] = (
    Grant(Role.mediator, _VILLAGE, _WORK),
    Grant(
        Role.supervisor,
        _ABOVE,
        (
            *_WORK,
            Action.assign,
            Action.handback,
            Action.escalate,
            Action.supervise,
            Action.pause,
            Action.resume,
            Action.refer,
            Action.close,
            Action.reopen,
            Action.withdraw,
            Action.reports,
        ),
    ),
    Grant(Role.supervisor, (UnitLevel.township,), (Action.review,)),
    Grant(Role.supervisor, (UnitLevel.county,), (Action.inspect,)),
    Grant(Role.administrator, tuple(UnitLevel), (Action.org, Action.rules)),
)

_ALLOWED: dict[tuple[Role, UnitLevel], frozenset[Action]] = {}
for _grant in GRANTS:
    for _level in _grant.levels:
        key = (_grant.role, _level)
        _ALLOWED[key] = _ALLOWED.get(key, frozenset()) | frozenset(_grant.actions)


def allowed(role: Role, level: UnitLevel) -> frozenset[Action]:
    """What a person of ``role`` working at a unit of ``level`` may do."""
    return _ALLOWED.get((role, level), frozenset())


def refusal(role: Role, level: UnitLevel, action: Action) -> str | None:
    """Why ``action`` is not for this role and level, in one line; None if it is."""
    if action in allowed(role, level):
        return None
    who = [g for g in GRANTS if action in g.actions]
    by = "; ".join(f"{g.role}s of a {' or '.join(g.levels)}" for g in who)
    return f"a {role} of a {level} may not {action}: it is for {by}"


def matrix_markdown() -> str:
    """The matrix as a Markdown table, generated for docs/web.md: a column per role and the
    unit levels where it may do the same."""
    columns: list[tuple[Role, list[UnitLevel]]] = []
    for role in Role:
        groups: dict[frozenset[Action], list[UnitLevel]] = {}
        for level in UnitLevel:
            if allowed(role, level):
                groups.setdefault(allowed(role, level), []).append(level)
        columns.extend((role, levels) for levels in groups.values())
    heads = [
        f"{role} ({'any unit' if len(levels) == len(UnitLevel) else ', '.join(levels)})"
        for role, levels in columns
    ]
    rows = ["| action | " + " | ".join(heads) + " |", "|---|" + "---|" * len(columns)]
    for action in Action:
        marks = ["yes" if action in allowed(role, levels[0]) else "" for role, levels in columns]
        rows.append(f"| {action} | " + " | ".join(marks) + " |")
    return "\n".join(rows)
