"""The figures of a report (周研判报告, 月督查通报), as of its period's end. Pure.

A report is of one unit and one period. Each dispute's history, as dated before the
period's end, is folded once (:func:`part_of`): what it did in the period (reported, resolved,
escalated, visited, referred) and where it stood at the end (open, overdue, under
supervised listing), each with the unit that handled it then. The escalations and listings
the rules had made due by the end count whether or not a sweep had recorded them yet: a
report made late, or made again, says what the one made on time said.

:func:`tally` then counts the parts of the unit's subtree, as the org stood at the end,
by sub-unit (and the unit's own level), category and risk: every figure is a set of
disputes, named in the report's ``disputes`` list.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from models.lifecycle import DisputeState, Event, apply
from models.values import OPEN_STATUSES, EventKind, Level, Risk, Status, UnitPath
from rules.evaluate import Fold, evaluate, resume
from rules.policy import Policy
from rules.schema import RESOLUTION_RATES, ReportRule

__all__ = [
    "COLUMNS",
    "FIGURES",
    "Case",
    "OrgUnit",
    "Part",
    "Period",
    "Where",
    "build_report",
    "part_of",
    "percent",
    "period_before",
    "period_named",
    "periods_before",
    "tally",
    "tree_as_of",
]

# The figures every row of a report has, in the order the tables give them.
FIGURES = (
    "screened",  # 排查数: reported in the period
    "resolved",  # 化解数: resolved in the period
    "open",  # 在办: open at the end
    "overdue",  # 超期: open at the end with an obligation overdue
    "escalated",  # 上交: escalated out of the unit in the period
    "supervised",  # 挂牌督办: under supervised listing at the end
    "supervised_missed",  # its deadline passed, the dispute still open
    "visits_done",  # 回访: return visits made in the period
    "visits_overdue",  # resolved, its return visit overdue at the end
    "relapses",  # 反复: return visits that found a relapse
    "referred",  # 诉调对接: referred in the period
)
# The columns of a report's table of units: the figures, 化解率 after the two it is made of.
COLUMNS = (*FIGURES[:2], "resolution_rate", *FIGURES[2:])
METHODS = ("people", "administrative", "judicial")


def percent(rate: float | None) -> str:
    """化解率 as a percentage with one decimal; a dash when nothing was screened."""
    return "—" if rate is None else f"{rate * 100:.1f}%"


_WEEK = re.compile(r"^(\d{4})-W(\d{2})$")
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")


@dataclass(frozen=True)
class Period:
    """A report's period: from ``start`` to ``end`` (not included), local midnights."""

    start: datetime
    end: datetime
    label: str  # 2026-W10, 2026-03

    @property
    def first_day(self) -> date:
        return self.start.date()

    @property
    def last_day(self) -> date:
        return self.end.date() - timedelta(days=1)

    def as_dict(self) -> dict[str, str]:
        return {
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "label": self.label,
            "first_day": self.first_day.isoformat(),
            "last_day": self.last_day.isoformat(),
        }


def _week(monday: date, zone: ZoneInfo) -> Period:
    year, week, _ = monday.isocalendar()
    return Period(
        datetime.combine(monday, time(0), zone),
        datetime.combine(monday + timedelta(days=7), time(0), zone),
        f"{year}-W{week:02d}",
    )


def _month(first: date, zone: ZoneInfo) -> Period:
    following = (first + timedelta(days=32)).replace(day=1)
    return Period(
        datetime.combine(first, time(0), zone),
        datetime.combine(following, time(0), zone),
        f"{first.year}-{first.month:02d}",
    )


def period_before(period: str, moment: datetime, zone: ZoneInfo) -> Period:
    """The last whole ``period`` (week, Monday to Sunday; or month) ended by ``moment``."""
    today = moment.astimezone(zone).date()
    if period == "week":
        return _week(today - timedelta(days=today.weekday() + 7), zone)
    this_month = today.replace(day=1)
    return _month((this_month - timedelta(days=1)).replace(day=1), zone)


def period_named(period: str, text: str, zone: ZoneInfo) -> Period:
    """The period ``text`` names: an ISO week (2026-W10) or a month (2026-03); ValueError
    with what is wrong."""
    if period == "week":
        found = _WEEK.match(text)
        if found is None:
            raise ValueError(f"week {text!r}: write it as an ISO week, such as 2026-W10")
        try:
            monday = date.fromisocalendar(int(found[1]), int(found[2]), 1)
        except ValueError:
            raise ValueError(f"week {text!r}: {found[1]} has no week {found[2]}") from None
        return _week(monday, zone)
    found = _MONTH.match(text)
    if found is None or not 1 <= int(found[2]) <= 12:
        raise ValueError(f"month {text!r}: write it as a year and month, such as 2026-03")
    return _month(date(int(found[1]), int(found[2]), 1), zone)


def periods_before(period: Period, kind: str, count: int, zone: ZoneInfo) -> list[Period]:
    """The ``count`` periods before ``period``, oldest first."""
    found: list[Period] = []
    current = period
    for _ in range(count):
        current = period_before(kind, current.start, zone)
        found.append(current)
    return found[::-1]


@dataclass(frozen=True)
class Where:
    """Where a dispute was handled at a moment: its units and its level."""

    path: UnitPath
    level: Level

    @property
    def unit(self) -> str:
        return self.path.at(self.level)

    @classmethod
    def of(cls, state: DisputeState) -> Where:
        return cls(state.path, state.level)


@dataclass(frozen=True)
class Case:
    """A dispute as a report reads it: its row's facts, as reported, and its history."""

    id: int
    title: str
    category: str
    initial: DisputeState
    events: Sequence[Event]  # in order
    # The fold stored after its last event (rules.evaluate.load_fold), if it can be gone on
    # from: a dispute whose history ended before the period's end is evaluated from it.
    fold: Fold | None = None


@dataclass(frozen=True)
class Escalated:
    where: Where  # where it left from
    to: Level


@dataclass(frozen=True)
class Part:
    """One dispute's part in a period: what it did then and where it stood at the end."""

    id: int
    title: str
    category: str
    risk: Risk  # at the end
    status: Status  # at the end
    at_end: Where
    at_start: Where | None  # None: not yet reported
    open_at_start: bool = False
    screened: Where | None = None
    resolved: Where | None = None
    resolved_by_end: bool = False  # resolved at some time between its report and the end
    method: str | None = None
    escalations: tuple[Escalated, ...] = ()
    visits: tuple[Where, ...] = ()
    relapses: tuple[Where, ...] = ()
    referred: tuple[tuple[Where, str], ...] = ()
    overdue: tuple[str, ...] = ()  # obligations overdue at the end, of an open dispute
    visit_overdue: bool = False
    supervised: bool = False
    supervision_deadline: datetime | None = None
    supervision_grade: str | None = None
    supervised_missed: bool = False  # its deadline passed by the end, the dispute open
    risk_before: Risk | None = None  # at the start, or as reported in the period

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES


def part_of(case: Case, period: Period, *, policy: Policy) -> Part | None:
    """The dispute's part in ``period``, from its events dated before the end and the
    decisions (escalations, listings) the rules had made due by then; None if it was not
    yet reported, or ended before the period and did nothing in it."""
    start, end = period.start, period.end
    if case.initial.reported_at >= end:
        return None
    # In time order, as the evaluation folds them: an event recorded late comes where it
    # happened.
    history = sorted((e for e in case.events if e.at < end), key=lambda e: (e.at, e.seq))
    stored = case.fold if len(history) == len(case.events) else None
    # Nothing recorded since before the start: the stored fold says how it stood.
    quiet = stored is not None and (not history or history[-1].at < start)
    evaluation = None
    if quiet and stored is not None:
        evaluation = resume(stored, (), now=end)
        fold = _Fold(evaluation.state if not evaluation.decisions else stored.state().state, start)
    else:
        fold = _Fold(case.initial, start)
        for event in history:
            fold.take(event)
    state = fold.state
    obligations: Sequence[Any] = ()
    if state.status in (*OPEN_STATUSES, Status.resolved):
        if evaluation is None:
            evaluation = (
                resume(stored, (), now=end)
                if stored is not None
                else evaluate(case.initial, history, policy=policy, now=end)
            )
        if evaluation.decisions:  # due by the end, not yet recorded: they happened
            made = [d.as_event() for d in evaluation.decisions]
            if not quiet:
                fold = _Fold(case.initial, start)
                made = sorted([*history, *made], key=lambda e: (e.at, e.seq))
            for event in made:
                fold.take(event)
        state = evaluation.state
        obligations = evaluation.obligations
    overdue: tuple[str, ...] = ()
    visit_overdue = False
    if state.status in OPEN_STATUSES:
        overdue = tuple(o.name for o in obligations if o.overdue(end))
    if state.status is Status.resolved:
        visit_overdue = any(
            o.fulfilled_by is EventKind.visit and o.overdue(end) for o in obligations
        )
    at_start = fold.state_at_start
    return Part(
        id=case.id,
        title=case.title,
        category=case.category,
        risk=state.risk,
        status=state.status,
        at_end=Where.of(state),
        at_start=Where.of(at_start) if at_start is not None else None,
        open_at_start=at_start is not None and at_start.status in OPEN_STATUSES,
        screened=Where.of(case.initial) if case.initial.reported_at >= start else None,
        resolved=fold.resolved,
        resolved_by_end=fold.settled,
        method=fold.method,
        escalations=tuple(fold.escalations),
        visits=tuple(fold.visits),
        relapses=tuple(fold.relapses),
        referred=tuple(fold.referred),
        overdue=overdue,
        visit_overdue=visit_overdue,
        supervised=state.supervised,
        supervision_deadline=state.supervision_deadline,
        supervision_grade=state.supervision_grade,
        supervised_missed=bool(
            state.supervised
            and state.status in OPEN_STATUSES
            and state.supervision_deadline is not None
            and state.supervision_deadline < end
        ),
        risk_before=(at_start or case.initial).risk,
    )


class _Fold:
    """What a history did in a period, event by event, and how it stood at the start."""

    def __init__(self, initial: DisputeState, start: datetime) -> None:
        self.state = initial
        self.start = start
        self.state_at_start: DisputeState | None = initial if initial.reported_at < start else None
        self.resolved: Where | None = None  # the last resolution in the period
        self.method: str | None = None
        self.settled = False  # resolved, and not reopened since
        self.escalations: list[Escalated] = []
        self.visits: list[Where] = []
        self.relapses: list[Where] = []
        self.referred: list[tuple[Where, str]] = []

    def take(self, event: Event) -> None:
        if event.kind is EventKind.report:
            return
        before = self.state
        after = self.state = apply(before, event)
        if event.kind is EventKind.resolve:
            self.settled = True
        elif after.status is Status.mediating and before.status is not Status.mediating:
            self.settled = False  # reopened, relapsed, refused confirmation, sent back
        if event.at < self.start:
            self.state_at_start = after
            return
        where = Where.of(before)
        kind = event.kind
        if kind is EventKind.resolve:
            self.resolved = where
            self.method = event.data.get("method")
        elif kind is EventKind.escalate:
            self.escalations.append(Escalated(where, after.level))
        elif kind is EventKind.visit:
            self.visits.append(where)
            if event.data.get("outcome") == "relapsed":
                self.relapses.append(where)
        elif kind is EventKind.refer:
            self.referred.append((where, str(event.data.get("to", "other"))))


@dataclass(frozen=True)
class OrgUnit:
    """A unit as the org stood at a moment."""

    code: str
    name: str
    level: str
    parent: str | None


def tree_as_of(
    units: Iterable[tuple[str, str, str, str | None, datetime | None]],
    changes: Iterable[tuple[datetime, str, str, Mapping[str, Any]]],
    at: datetime,
) -> dict[str, OrgUnit]:
    """The org at ``at``: ``units`` as they are now (code, name, level, parent, ended_at),
    with the ``changes`` made since (at, kind, subject, before) undone, newest first. A
    unit ended by ``at`` is not in it."""
    tree = {code: OrgUnit(code, name, level, parent) for code, name, level, parent, _ in units}
    ended = {code: ended_at for code, _, _, _, ended_at in units}
    for moment, kind, subject, before in sorted(changes, key=lambda c: c[0], reverse=True):
        if moment <= at or subject not in tree:
            continue
        if kind in ("unit_moved", "unit_merged", "unit_removed") and "parent" in before:
            tree[subject] = replace(tree[subject], parent=before["parent"])
    return {
        code: unit
        for code, unit in tree.items()
        if ended[code] is None or ended[code] > at  # type: ignore[operator]
    }


_CHILD = {"county": Level.township, "township": Level.village}
_RANK = {level: rank for rank, level in enumerate(Level)}


def _row(where: Where, unit: str, level: Level) -> str | None:
    """The row of a report of ``unit`` (at ``level``) that a dispute handled at ``where``
    counts in: the sub-unit below, or the unit itself for its own level; None if outside."""
    if where.path.at(level) != unit or _RANK[where.level] > _RANK[level]:
        return None
    child = _CHILD.get(level.value)
    if child is None or where.level is level:
        return unit
    return where.path.at(child)


def tally(
    parts: Iterable[Part], *, unit: str, level: Level, rows: Sequence[str]
) -> tuple[dict[str, dict[str, Any]], list[Traced]]:
    """Count ``parts`` for a report of ``unit`` at ``level``: the figures of each row
    (``rows``: the sub-units, then the unit itself for its own level; a row is added for a
    sub-unit not listed) and, for each dispute of the unit's subtree, the row of each
    figure it counts in. 上交 counts in a row when the dispute left the row's subtree."""
    table: dict[str, dict[str, Any]] = {code: _zero() for code in rows}
    traced: list[Traced] = []

    def count(
        counted: dict[str, str], figure: str, where: Where | None, *, shown: bool = True
    ) -> str | None:
        row = None if where is None else _row(where, unit, level)
        if row is not None:
            table.setdefault(row, _zero())[figure] += 1
            if shown:
                counted.setdefault(figure, row)
        return row

    for part in parts:
        counted: dict[str, str] = {}
        count(counted, "screened", part.screened)
        resolved = count(counted, "resolved", part.resolved)
        if resolved is not None and part.method in METHODS:
            table[resolved]["methods"][part.method] += 1
        if part.is_open:
            count(counted, "open", part.at_end)
            if part.overdue:
                count(counted, "overdue", part.at_end)
        if part.supervised and part.status in (*OPEN_STATUSES, Status.resolved):
            count(counted, "supervised", part.at_end)
            if part.supervised_missed:
                count(counted, "supervised_missed", part.at_end)
        if part.visit_overdue:
            count(counted, "visits_overdue", part.at_end)
        for escalated in part.escalations:
            row = _row(escalated.where, unit, level)
            if (
                row is not None
                and _row(Where(escalated.where.path, escalated.to), unit, level) != row
            ):
                table[row]["escalated"] += 1
                counted.setdefault("escalated", row)
        for visit in part.visits:
            count(counted, "visits_done", visit)
        for relapse in part.relapses:
            count(counted, "relapses", relapse)
        for where, to in part.referred:
            row = count(counted, "referred", where)
            if row is not None:
                table[row]["referrals"][to] = table[row]["referrals"].get(to, 0) + 1
        if part.open_at_start:
            count(counted, "open_at_start", part.at_start, shown=False)
        if part.resolved_by_end:
            count(counted, "screened_resolved", part.screened, shown=False)
        here = _row(part.at_end, unit, level) is not None
        if counted or here:
            traced.append(Traced(part, counted, here))
    return table, traced


@dataclass(frozen=True)
class Traced:
    """A dispute of a report: the row of each figure it counts in; ``here`` when it is
    in the unit's subtree at the end."""

    part: Part
    figures: dict[str, str]
    here: bool


def _zero() -> dict[str, Any]:
    figures: dict[str, Any] = dict.fromkeys(FIGURES, 0)
    figures.update(open_at_start=0, screened_resolved=0, referrals={})
    figures["methods"] = dict.fromkeys(METHODS, 0)
    return figures


def _rate(figures: Mapping[str, Any], definition: str) -> float | None:
    if definition == "cohort":
        top, bottom = figures["screened_resolved"], figures["screened"]
    elif definition == "handled":
        top, bottom = figures["resolved"], figures["open_at_start"] + figures["screened"]
    else:
        top, bottom = figures["resolved"], figures["screened"]
    return round(top / bottom, 4) if bottom else None


def _summed(rows: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    total = _zero()
    for row in rows:
        for name in (*FIGURES, "open_at_start", "screened_resolved"):
            total[name] += row[name]
        for method in METHODS:
            total["methods"][method] += row["methods"][method]
        for to, count in row["referrals"].items():
            total["referrals"][to] = total["referrals"].get(to, 0) + count
    return total


def _public(figures: Mapping[str, Any], definition: str) -> dict[str, Any]:
    """A row's figures as the report gives them: in the table's order, 化解率 with them."""
    rate = _rate(figures, definition)
    shown = {name: rate if name == "resolution_rate" else figures[name] for name in COLUMNS}
    return {**shown, "methods": dict(figures["methods"])}


def build_report(
    name: str,
    rule: ReportRule,
    *,
    unit: OrgUnit,
    children: Sequence[OrgUnit],
    names: Mapping[str, str],
    period: Period,
    parts: Iterable[Part],
    categories: Mapping[str, str],
    grades: Mapping[str, str],
    trend: Sequence[Mapping[str, Any]] = (),
) -> dict[str, Any]:
    """The content of a report, JSON-shaped: its figures by sub-unit, category and risk,
    the sections its rule asks for, and the disputes behind every figure.

    ``names`` gives units' names, ``categories`` the categories' labels, ``grades`` the
    listing grades' labels; ``trend`` the totals of the periods before, oldest first."""
    level = Level(unit.level)
    order = [child.code for child in children] + [unit.code]
    table, traced = tally(parts, unit=unit.code, level=level, rows=order)
    definition = rule.resolution_rate
    rows = []
    for code in [*order, *sorted(set(table) - set(order))]:  # a sub-unit since ended, last
        figures = table[code]
        rows.append(
            {
                "unit": code,
                "name": names.get(code, code),
                "level": unit.level if code == unit.code else (_CHILD[unit.level].value),
                "own": code == unit.code,
                **_public(figures, definition),
            }
        )
    if level.value not in _CHILD:  # a village's report: its own row only
        rows = [row for row in rows if row["own"]]
    total = _summed(table.values())
    totals = _public(total, definition)
    own = table.get(unit.code, _zero())
    totals["escalated"] = own["escalated"]  # 上交: out of the unit itself
    by_category: dict[str, dict[str, int]] = {}
    by_risk: dict[str, dict[str, int]] = {risk.value: _small() for risk in reversed(Risk)}
    disputes = []
    high_risk = []
    raised: list[dict[str, Any]] = []
    lowered: list[dict[str, Any]] = []
    for entry in sorted(traced, key=lambda t: t.part.id):
        part, figures = entry.part, entry.figures
        for counted in (by_category.setdefault(part.category, _small()), by_risk[part.risk]):
            for figure in ("screened", "resolved", "open", "overdue"):
                counted[figure] += figure in figures
        here = part.at_end.unit
        row = {
            "id": part.id,
            "title": part.title,
            "category": part.category,
            "category_label": categories.get(part.category, part.category),
            "risk": part.risk.value,
            "status": part.status.value,
            "unit": here,
            "unit_name": names.get(here, here),
            "figures": figures,
        }
        if figures:
            disputes.append(row)
        brief = {
            "dispute": part.id,
            "title": part.title,
            "unit": here,
            "unit_name": row["unit_name"],
        }
        if part.is_open and part.risk is Risk.high and "open" in figures:
            high_risk.append({**brief, "status": part.status.value, "overdue": bool(part.overdue)})
        before = part.risk_before
        if before is not None and before != part.risk and entry.here:
            change = {**brief, "from": before.value, "to": part.risk.value}
            (raised if part.risk.rank < before.rank else lowered).append(change)
    content: dict[str, Any] = {
        "kind": name,
        "title": rule.label_in("zh"),
        "unit": unit.code,
        "name": unit.name,
        "level": unit.level,
        "period": period.as_dict(),
        "resolution_rate": {"definition": definition, "label": RESOLUTION_RATES[definition]},
        "sections": list(rule.sections),
        "totals": totals,
        "units": rows,
        "categories": [
            {"category": code, "label": categories.get(code, code), **counts}
            for code, counts in sorted(by_category.items())
        ],
        "risks": [
            {"risk": risk, "label": _RISK_LABELS[risk], **counts}
            for risk, counts in by_risk.items()
        ],
        "referrals": dict(sorted(total["referrals"].items())),
    }
    subunits = [row for row in rows if not row["own"]]
    if "assessment" in rule.sections:
        content["assessment"] = {"raised": raised, "lowered": lowered, "high_risk": high_risk}
    if "ranking" in rule.sections:
        content["ranking"] = {
            "by_rate": _ranked(subunits, "resolution_rate"),
            "by_overdue": _ranked(subunits, "overdue"),
        }
    if "named_units" in rule.sections:
        content["named"] = [
            {
                "unit": r["unit"],
                "name": r["name"],
                "overdue": r["overdue"],
                "escalated": r["escalated"],
            }
            for r in subunits
            if r["overdue"] or r["escalated"]
        ]
    if "missed_listings" in rule.sections:
        content["listings"] = [
            {
                "dispute": d["id"],
                "title": d["title"],
                "unit": d["figures"]["supervised_missed"],
                "name": names.get(d["figures"]["supervised_missed"], ""),
                "grade": part_grade,
                "grade_label": grades.get(part_grade or "", part_grade or ""),
                "deadline": deadline.astimezone(period.end.tzinfo).isoformat()
                if deadline
                else None,
                "missed": True,
            }
            for d, part_grade, deadline in _missed(traced)
        ]
    content["trend"] = [
        *trend,
        {
            "label": period.label,
            "screened": totals["screened"],
            "resolved": totals["resolved"],
            "resolution_rate": totals["resolution_rate"],
        },
    ]
    content["disputes"] = disputes
    return content


_RISK_LABELS = {"high": "高", "medium": "中", "low": "低"}


def _small() -> dict[str, int]:
    return {"screened": 0, "resolved": 0, "open": 0, "overdue": 0}


def _missed(
    traced: Iterable[Traced],
) -> Iterable[tuple[dict[str, Any], str | None, datetime | None]]:
    for entry in sorted(traced, key=lambda t: t.part.id):
        part = entry.part
        if "supervised_missed" in entry.figures:
            yield (
                {"id": part.id, "title": part.title, "figures": entry.figures},
                part.supervision_grade,
                part.supervision_deadline,
            )


def _ranked(rows: Sequence[Mapping[str, Any]], figure: str) -> list[dict[str, Any]]:
    """Rows ranked by ``figure``, highest first, ties sharing a rank; a unit without a rate
    (nothing screened) unranked, last."""
    ranked = sorted(
        rows,
        key=lambda r: (r[figure] is None, -(r[figure] or 0), r["unit"]),
    )
    found: list[dict[str, Any]] = []
    rank = 0
    previous: object = object()
    for position, row in enumerate(ranked, start=1):
        value = row[figure]
        if value != previous:
            rank = position
            previous = value
        found.append(
            {
                "rank": rank if value is not None else None,
                "unit": row["unit"],
                "name": row["name"],
                figure: value,
            }
        )
    return found
