"""Making a report: reading what it needs from the database, set-wise, and the pure fold
of ``rules.reporting``; storing each of a schedule's reports once; reading them back."""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import structlog
from sqlalchemy import Engine, bindparam, case, exists, func, or_, select
from sqlmodel import Session

from models.lifecycle import Event
from models.tables import Dispute, DisputeEvent, OrgChange, OutboxMessage, Report, Unit
from models.targets import Target
from models.values import LIVE_STATUSES, Actor, EventKind, MessageKind
from rules.evaluate import load_fold
from rules.policy import Policy
from rules.reporting import (
    Case,
    OrgUnit,
    Part,
    Period,
    build_report,
    part_of,
    period_before,
    period_named,
    periods_before,
    tree_as_of,
)
from rules.schema import ReportRule, RuleSet
from workflows.access import Action, Viewer, disputes_in_scope, permit, viewer_of
from workflows.changes import initial_state, path_of
from workflows.db import insert_ignoring_duplicates, make_engine, reading, transaction
from workflows.driver import each, fetch, one_of
from workflows.errors import BadInput, NotFound
from workflows.messaging import enqueue, render, texts
from workflows.org import unit_in_scope
from workflows.reports.files import FORMATS, write_report_file

__all__ = [
    "StoredReport",
    "candidate_rows",
    "histories_of",
    "list_reports",
    "read_report",
    "report_attachments",
    "report_path",
    "disputes_now",
    "traced_disputes",
    "find_period",
    "make_report",
    "report_rule",
    "stored_report",
    "stored_reports",
    "store_reports",
]

log = structlog.get_logger(__name__)

DISPUTES = Dispute.__table__  # type: ignore[attr-defined]
EVENTS = DisputeEvent.__table__  # type: ignore[attr-defined]
REPORTS = Report.__table__  # type: ignore[attr-defined]
UNITS = Unit.__table__  # type: ignore[attr-defined]
_KINDS = {kind.value: kind for kind in EventKind}  # faster than EventKind(text), per event
# A report that reads more disputes than this folds them in worker processes, one per core
# (a province's month in bench/reports.py); TASK disputes to a worker at a time.
PARALLEL_FROM = 20_000
TASK = 10_000
# How many disputes' histories are read at a time.
CHUNK = 2_000
_COLUMNS = {
    "county": DISPUTES.c.county_code,
    "township": DISPUTES.c.township_code,
    "village": DISPUTES.c.village_code,
}


def _candidates(level: str) -> Any:
    """The disputes a report of a unit at ``level`` may count: of its subtree now, reported
    before the end, and either live now or with an event since the start (a dispute ended
    before the period and untouched since does nothing in it)."""
    touched = exists().where(
        EVENTS.c.dispute_id == DISPUTES.c.id, EVENTS.c.at >= bindparam("start")
    )
    live = or_(*(DISPUTES.c.status == status.value for status in LIVE_STATUSES))
    return (
        select(
            DISPUTES.c.id,
            DISPUTES.c.title,
            DISPUTES.c.category,
            DISPUTES.c.risk,
            DISPUTES.c.reported_at,
            DISPUTES.c.village_code,
            DISPUTES.c.township_code,
            DISPUTES.c.county_code,
            DISPUTES.c.assignee,
            DISPUTES.c.last_seq,
            # a dispute that may still owe something: its stored fold is read with its history
            case((live, True), else_=False).label("live"),
        )
        .where(
            _COLUMNS[level] == bindparam("unit"),
            DISPUTES.c.reported_at < bindparam("end"),
            or_(live, touched),
        )
        .order_by(DISPUTES.c.id)
    )


_CANDIDATES = {level: _candidates(level) for level in _COLUMNS}
# Disputes an org change moved since the start: they may have been of the unit then.
_MOVED = (
    select(EVENTS.c.dispute_id)
    .where(EVENTS.c.kind == EventKind.reorganise.value, EVENTS.c.at >= bindparam("start"))
    .distinct()
)
_MOVED_ROWS = {
    dialect: select(*_CANDIDATES["county"].selected_columns).where(
        one_of(DISPUTES.c.id, "ids", dialect)
    )
    for dialect in ("postgresql", "sqlite")
}
# The stored folds of the live disputes of a chunk.
_FOLDS = {
    dialect: select(DISPUTES.c.id, DISPUTES.c.fold).where(
        one_of(DISPUTES.c.id, "ids", dialect), DISPUTES.c.fold.is_not(None)
    )
    for dialect in ("postgresql", "sqlite")
}
_HISTORIES = {
    dialect: select(
        EVENTS.c.dispute_id, EVENTS.c.seq, EVENTS.c.kind, EVENTS.c.at, EVENTS.c.actor, EVENTS.c.data
    )
    .where(one_of(EVENTS.c.dispute_id, "ids", dialect))
    .order_by(EVENTS.c.dispute_id, EVENTS.c.seq)
    for dialect in ("postgresql", "sqlite")
}


def report_rule(policy: Policy, name: str) -> ReportRule:
    """The rule file's report ``name``; BadInput naming those there are if there is none."""
    rule = policy.rules.reports.get(name)
    if rule is None:
        known = ", ".join(sorted(policy.rules.reports)) or "none"
        raise BadInput(f"unknown report {name!r}; the rule file has: {known}")
    return rule


def find_period(
    policy: Policy, name: str, *, week: str | None, month: str | None, now: datetime
) -> Period:
    """The period of report ``name`` that ``--week`` or ``--month`` names, or the last whole
    one before ``now``."""
    rule = report_rule(policy, name)
    given = week if rule.period == "week" else month
    other = month if rule.period == "week" else week
    if other is not None:
        option = "--month" if rule.period == "week" else "--week"
        raise BadInput(f"report {name!r} is {rule.period}ly: {option} does not apply to it")
    if given is None:
        return period_before(rule.period, now, policy.zone)
    try:
        return period_named(rule.period, given, policy.zone)
    except ValueError as exc:
        raise BadInput(str(exc)) from None


def _tree(session: Session, at: datetime) -> dict[str, OrgUnit]:
    units = session.execute(
        select(Unit.code, Unit.name, Unit.level, Unit.parent_code, Unit.ended_at)  # type: ignore[call-overload]
    ).all()
    changes = session.execute(
        select(OrgChange.at, OrgChange.kind, OrgChange.subject, OrgChange.before).where(  # type: ignore[call-overload]
            OrgChange.at > at
        )
    ).all()
    return tree_as_of([tuple(u) for u in units], [tuple(c) for c in changes], at)


def candidate_rows(session: Session, unit: OrgUnit, *, start: datetime, end: datetime) -> list[Any]:
    """The disputes of ``unit``'s subtree that may count from ``start`` to ``end`` (live
    now, or with an event since the start; and those an org change moved since the start,
    which may have been of it then): rows of id, title, category, risk, reported_at, the
    path, assignee, last_seq and live."""
    dialect = session.get_bind().dialect.name
    params = {"unit": unit.code, "start": start, "end": end}
    rows = list(each(session, _CANDIDATES[unit.level], params))
    moved_since = session.execute(
        select(OrgChange.id).where(OrgChange.at >= start).limit(1)  # type: ignore[call-overload]
    ).first()
    if moved_since is not None:  # rare: an org change since the start
        seen = {row.id for row in rows}
        ids = [i for (i,) in session.execute(_MOVED, {"start": start}) if i not in seen]
        if ids:
            rows += fetch(session, _MOVED_ROWS[dialect], {"ids": ids})
    return rows


def histories_of(session: Session, rows: Sequence[Any]) -> dict[int, list[Event]]:
    """The events of the disputes ``rows`` (a chunk of candidates), in order, by id."""
    dialect = session.get_bind().dialect.name
    events: dict[int, list[Event]] = {row.id: [] for row in rows}
    for event in fetch(session, _HISTORIES[dialect], {"ids": [row.id for row in rows]}):
        events[event.dispute_id].append(
            Event(
                kind=_KINDS[event.kind],
                at=event.at,
                data=event.data,
                actor=event.actor,
                seq=event.seq,
            )
        )
    return events


def _parts(session: Session, policy: Policy, unit: OrgUnit, period: Period) -> Iterator[Part]:
    """Each dispute's part in ``period``, for a report of ``unit``: the candidates read at
    once, their histories a chunk at a time; a large report folds them in worker
    processes, one per core."""
    rows = candidate_rows(session, unit, start=period.start, end=period.end)
    cores = os.cpu_count() or 1
    if len(rows) < PARALLEL_FROM or cores < 2:
        yield from _folded(session, policy, rows, period)
        return
    # Each worker reads its disputes' histories in a transaction of its own: they are of
    # the past (dated before the end), which what is recorded meanwhile does not change.
    url = session.get_bind().engine.url.render_as_string(hide_password=False)
    rules = policy.rules.model_dump(mode="json", by_alias=True)
    tasks = [[tuple(row) for row in rows[i : i + TASK]] for i in range(0, len(rows), TASK)]
    fields = list(rows[0]._fields)
    context = multiprocessing.get_context("spawn")  # never fork a threaded server
    with ProcessPoolExecutor(max_workers=min(cores, 4), mp_context=context) as pool:
        work = partial(_fold_apart, url, rules, policy.source, period, fields)
        for parts in pool.map(work, tasks):
            yield from parts


def _fold_apart(
    url: str,
    rules: dict[str, Any],
    source: str,
    period: Period,
    fields: list[str],
    rows: list[tuple[Any, ...]],
) -> list[Part]:
    """:func:`_folded` in a worker process, for the rows (as dicts) of one task."""
    policy = _WORKER_POLICIES.get(url)
    if policy is None or policy.rules.model_dump(mode="json", by_alias=True) != rules:
        policy = Policy.from_ruleset(RuleSet.model_validate(rules), source=source)
        _WORKER_POLICIES[url] = policy
    engine = _WORKER_ENGINES.get(url)
    if engine is None:
        engine = _WORKER_ENGINES[url] = make_engine(url)
    with reading(engine) as session:
        named = [SimpleNamespace(**dict(zip(fields, row, strict=True))) for row in rows]
        return list(_folded(session, policy, named, period))


# A worker's engine and rules, made once per process.
_WORKER_ENGINES: dict[str, Engine] = {}
_WORKER_POLICIES: dict[str, Policy] = {}


def _folded(
    session: Session, policy: Policy, rows: Sequence[Any], period: Period
) -> Iterator[Part]:
    """The parts of the disputes ``rows`` (candidates), their histories read a chunk at a
    time."""
    dialect = session.get_bind().dialect.name
    for first in range(0, len(rows), CHUNK):
        chunk = rows[first : first + CHUNK]
        live = [row.id for row in chunk if row.live]
        folds = dict(fetch(session, _FOLDS[dialect], {"ids": live})) if live else {}
        events = histories_of(session, chunk)
        for row in chunk:
            history = events[row.id]
            text = folds.get(row.id)
            folded = None
            if text is not None:
                folded = load_fold(
                    text,
                    seq=row.last_seq,
                    path=path_of(row),
                    assignee=row.assignee,
                    policy=policy,
                )
            told = Case(
                row.id, row.title, row.category, initial_state(row, history), history, folded
            )
            part = part_of(told, period, policy=policy)
            if part is not None:
                yield part


def make_report(
    session: Session,
    *,
    policy: Policy,
    name: str,
    unit: str,
    period: Period,
    now: datetime,
    viewer: Viewer | None = None,
) -> dict[str, Any]:
    """The content of report ``name`` of ``unit`` for ``period``, made now from the event
    log (not stored): NotFound if the unit is outside ``viewer``'s scope or did not stand
    at the period's end."""
    rule = report_rule(policy, name)
    unit_in_scope(session, viewer, unit)
    tree = _tree(session, period.end)
    head = tree.get(unit)
    if head is None:
        raise NotFound(f"unit {unit!r} was not in the org at the end of {period.label}")
    if head.level not in _COLUMNS:
        raise BadInput(f"unit {unit!r} is a {head.level}: reports are of villages and above")
    children = sorted(
        (u for u in tree.values() if u.parent == unit and u.level in _COLUMNS),
        key=lambda u: u.code,
    )
    parts = list(_parts(session, policy, head, period))
    names = {code: u.name for code, u in tree.items()}
    missing = {p.at_end.unit for p in parts} - set(names)
    if missing:  # a unit ended before the end that a dispute still names
        for code, found in session.execute(
            select(UNITS.c.code, UNITS.c.name).where(UNITS.c.code.in_(sorted(missing)))
        ):
            names[code] = found
    content = build_report(
        name,
        rule,
        unit=head,
        children=children,
        names=names,
        period=period,
        parts=parts,
        categories={code: c.label_in("zh") for code, c in policy.rules.categories.items()},
        grades={g.name: g.label_in("zh") for g in policy.rules.supervision_grades},
        trend=_trend(session, policy, name, rule, unit, period),
    )
    content["made_at"] = now.astimezone(policy.zone).isoformat()
    return content


def _trend(
    session: Session, policy: Policy, name: str, rule: ReportRule, unit: str, period: Period
) -> list[dict[str, Any]]:
    """The totals of the stored reports of the periods before, oldest first; a period with
    none stored is left out."""
    before = periods_before(period, rule.period, rule.trend - 1, policy.zone)
    if not before:
        return []
    stored = {
        row.period_start: row.content
        for row in session.execute(
            select(REPORTS.c.period_start, REPORTS.c.content).where(
                REPORTS.c.kind == name,
                REPORTS.c.unit_code == unit,
                REPORTS.c.period_start >= before[0].start,
                REPORTS.c.period_start < period.start,
            )
        )
    }
    trend = []
    for earlier in before:
        content = stored.get(earlier.start)
        if content is None or "totals" not in content:
            continue
        totals = content["totals"]
        trend.append(
            {
                "label": earlier.label,
                "screened": totals["screened"],
                "resolved": totals["resolved"],
                "resolution_rate": totals["resolution_rate"],
            }
        )
    return trend


@dataclass(frozen=True)
class StoredReport:
    """A report as stored: which, of which unit and period, when made, and its content."""

    id: int
    kind: str
    unit: str
    period_start: datetime
    period_end: datetime
    created_at: datetime
    content: dict[str, Any]


def stored_report(session: Session, *, name: str, unit: str, period: Period) -> StoredReport | None:
    """The report ``name`` of ``unit`` for ``period``, if one was stored."""
    row = session.execute(
        select(REPORTS).where(
            REPORTS.c.kind == name,
            REPORTS.c.unit_code == unit,
            REPORTS.c.period_start == period.start,
        )
    ).one_or_none()
    return None if row is None or "totals" not in row.content else _stored(row)


def stored_reports(
    session: Session,
    *,
    viewer: Viewer | None = None,
    name: str | None = None,
    unit: str | None = None,
    limit: int = 200,
) -> list[StoredReport]:
    """The reports stored (newest period first), those of units in ``viewer``'s scope;
    without their figures' content beyond the totals."""
    query = select(REPORTS).order_by(REPORTS.c.period_start.desc(), REPORTS.c.unit_code)
    if name is not None:
        query = query.where(REPORTS.c.kind == name)
    if unit is not None:
        query = query.where(REPORTS.c.unit_code == unit)
    found = []
    allowed: dict[str, bool] = {}
    for row in session.execute(query):
        if "totals" not in row.content:
            continue  # made before the figures were (issue 14): not comparable
        if viewer is not None:
            if row.unit_code not in allowed:
                try:
                    unit_in_scope(session, viewer, row.unit_code)
                    allowed[row.unit_code] = True
                except NotFound:
                    allowed[row.unit_code] = False
            if not allowed[row.unit_code]:
                continue
        found.append(_stored(row))
        if len(found) >= limit:
            break
    return found


def _stored(row: Any) -> StoredReport:
    return StoredReport(
        id=row.id,
        kind=row.kind,
        unit=row.unit_code,
        period_start=row.period_start,
        period_end=row.period_end,
        created_at=row.created_at,
        content=row.content,
    )


def store_reports(
    *, engine: Engine, policy: Policy, name: str, moments: Sequence[datetime], now: datetime
) -> int:
    """Store report ``name``, of the last whole period before each of ``moments``, for every
    unit of its level that stood at the period's end, once (a report stored before is kept
    as it was issued); return how many were new. Each unit's in a transaction of its own.
    A period that ended before the first dispute was reported is not reported on."""
    rule = report_rule(policy, name)
    with reading(engine) as session:
        first = session.execute(select(func.min(DISPUTES.c.reported_at))).scalar_one()
    stored = 0
    for period in sorted(
        {period_before(rule.period, m, policy.zone) for m in moments}, key=lambda p: p.start
    ):
        if first is None or period.end <= first:
            # Nothing was recorded by then: a period before the first dispute is not reported
            # (the engine's first run would report the week before it was set up).
            log.info("report_skipped", report=name, period=period.label, reason="before_data")
            continue
        with reading(engine) as session:
            tree = _tree(session, period.end)
            done = set(
                session.execute(
                    select(REPORTS.c.unit_code).where(
                        REPORTS.c.kind == name, REPORTS.c.period_start == period.start
                    )
                ).scalars()
            )
        heads = sorted(
            code for code, u in tree.items() if u.level == rule.level and code not in done
        )
        for code in heads:
            # Made from a snapshot, then stored in a short transaction of its own: making a
            # county's report takes a while, and SQLite's write lock is taken at BEGIN.
            with reading(engine) as session:
                content = make_report(
                    session, policy=policy, name=name, unit=code, period=period, now=now
                )
            with transaction(engine) as session:
                new = insert_ignoring_duplicates(
                    session,
                    Report,
                    [
                        {
                            "kind": name,
                            "unit_code": code,
                            "period_start": period.start,
                            "period_end": period.end,
                            "created_at": now,
                            "content": content,
                        }
                    ],
                )
                if new:
                    _tell(session, policy, name, rule, content, now=now)
            stored += new
            if new:
                log.info(
                    "report_stored",
                    report=name,
                    unit=code,
                    period=period.label,
                    screened=content["totals"]["screened"],
                    resolved=content["totals"]["resolved"],
                )
    return stored


def read_report(
    *,
    engine: Engine,
    policy: Policy,
    name: str,
    unit: str,
    period: Period,
    now: datetime,
    actor: Actor,
) -> dict[str, Any]:
    """Report ``name`` of ``unit`` for ``period``, as ``actor`` reads it: the one stored
    (as it was issued) if there is one, else made now from the event log, which says the
    same figures. A person reads the reports of their subtree, if their role reads reports."""
    report_rule(policy, name)
    with reading(engine) as session:
        viewer = viewer_of(session, actor.person) if actor.person is not None else None
        if viewer is not None:
            permit(viewer, Action.reports)
        unit_in_scope(session, viewer, unit)
        stored = stored_report(session, name=name, unit=unit, period=period)
        if stored is not None:
            content = {**stored.content, "stored": True}
        else:
            made = make_report(
                session, policy=policy, name=name, unit=unit, period=period, now=now, viewer=viewer
            )
            content = {**made, "stored": False}
    log.info("report_read", actor=actor.name, report=name, unit=unit, period=period.label)
    return content


def list_reports(
    *,
    engine: Engine,
    policy: Policy,
    actor: Actor,
    name: str | None = None,
    unit: str | None = None,
) -> list[dict[str, Any]]:
    """The reports stored, newest period first, of the units ``actor`` may read: which, of
    which unit and period, when made, and the headline figures."""
    if name is not None:
        report_rule(policy, name)
    with reading(engine) as session:
        viewer = viewer_of(session, actor.person) if actor.person is not None else None
        if viewer is not None:
            permit(viewer, Action.reports)
        if unit is not None:
            unit_in_scope(session, viewer, unit)
        found = stored_reports(session, viewer=viewer, name=name, unit=unit)
    return [
        {
            "id": r.id,
            "kind": r.kind,
            "title": r.content.get("title", r.kind),
            "unit": r.unit,
            "name": r.content.get("name", r.unit),
            "period": r.content["period"],
            "made_at": r.created_at.astimezone(policy.zone).isoformat(),
            "totals": {
                key: r.content["totals"][key]
                for key in ("screened", "resolved", "resolution_rate", "open", "overdue")
            },
        }
        for r in found
    ]


def _tell(
    session: Session,
    policy: Policy,
    name: str,
    rule: ReportRule,
    content: dict[str, Any],
    *,
    now: datetime,
) -> None:
    """Tell the unit's supervisors (and its own addresses) that its report is out, with its
    headline figures and where to read it."""
    language = policy.rules.reminders.language
    unit, label = content["unit"], content["period"]["label"]
    act = (
        texts(language)
        .act["report"]
        .format(report=name, unit=unit, period=rule.period, label=label)
    )
    totals = content["totals"]
    rate = totals["resolution_rate"]
    title, body = render(
        MessageKind.report,
        None,
        policy=policy,
        title=rule.label_in(language),
        name=content["name"],
        label=label,
        screened=totals["screened"],
        resolved=totals["resolved"],
        rate="—" if rate is None else f"{rate * 100:.1f}%",
        open=totals["open"],
        overdue=totals["overdue"],
        act=act,
    )
    enqueue(
        session,
        target=Target.of_unit(unit),
        kind=MessageKind.report,
        key=f"report:{name}:{unit}:{label}",
        title=title,
        body=body,
        not_before=now,
        now=now,
        act=act,
        link=report_path(name, unit, label),
    )


def report_path(name: str, unit: str, label: str) -> str:
    """The web app's page of a report."""
    return f"/reports/{name}/{unit}/{label}"


def traced_disputes(content: dict[str, Any], *, figure: str, row: str | None = None) -> list[int]:
    """The disputes behind ``figure`` of a report (of its row ``row``, or of the totals):
    the report's own list, as it counted them."""
    return [
        d["id"]
        for d in content["disputes"]
        if figure in d["figures"] and (row is None or d["figures"][figure] == row)
    ]


def disputes_now(*, engine: Engine, actor: Actor, ids: Sequence[int]) -> list[dict[str, Any]]:
    """Of the disputes ``ids``, those ``actor`` may see now, as they stand: id, title,
    category, risk, status, level, unit (by id)."""
    if not ids:
        return []
    with reading(engine) as session:
        viewer = viewer_of(session, actor.person) if actor.person is not None else None
        query = disputes_in_scope(
            viewer,
            DISPUTES.c.id,
            DISPUTES.c.title,
            DISPUTES.c.category,
            DISPUTES.c.risk,
            DISPUTES.c.status,
            DISPUTES.c.level,
            DISPUTES.c.unit_code,
        ).where(DISPUTES.c.id.in_(list(ids)))
        return [dict(row._mapping) for row in session.execute(query.order_by(DISPUTES.c.id))]


def report_attachments(
    engine: Engine, policy: Policy, message: OutboxMessage, folder: Path
) -> list[Path]:
    """The files an e-mail announcing a report carries (its key ``report:NAME:UNIT:PERIOD``):
    the report as stored, as an Excel workbook and a Word circular, written into ``folder``;
    none for another message. The Word file is left out, and said, when no CJK font can
    draw its charts."""
    if message.kind != MessageKind.report:
        return []
    _, name, unit, label = message.key.split(":", 3)
    rule = policy.rules.reports.get(name)
    if rule is None:  # a report the rules in force no longer have
        return []
    with reading(engine) as session:
        stored = stored_report(
            session, name=name, unit=unit, period=period_named(rule.period, label, policy.zone)
        )
    if stored is None:
        return []
    content = stored.content
    files = []
    for kind in FORMATS:
        path = folder / f"{unit}-{name}-{label}.{kind}"
        try:
            write_report_file(content, kind, path)
        except BadInput as exc:
            log.warning("attachment_left_out", report=name, unit=unit, format=kind, error=str(exc))
            continue
        files.append(path)
    return files
