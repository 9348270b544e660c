"""Loading the org file, and what its changes do to live disputes and to people's work, in
one transaction.

A unit moved (a village to another township) or merged into another (撤并村): its live
disputes follow it. Each gets a ``reorganise`` event with its units before and after, so
its timeline says what happened and a replay of its history knows which units it had when;
its escalation path, its tasks and the acknowledgements it waits for are worked out again
from its new units, as for any event. Closed disputes keep the units they had: history
keeps the old path. A person moved or gone: the live disputes assigned to them are
released (a ``reorganise`` event too), their tasks go back to the unit, and the supervisors
of their old unit are told. A unit is removed only once no live dispute is there.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

import structlog
from sqlalchemy import Engine, and_, func, insert, or_, select, update
from sqlmodel import Session

from models.tables import OrgChange as OrgChangeRecord
from models.tables import Unit, UnitTask
from models.targets import Target
from models.values import (
    LIVE_STATUSES,
    Actor,
    Level,
    MessageKind,
    TaskState,
    UnitLevel,
    UnitPath,
)
from rules.policy import Policy
from workflows.access import Action, permit, viewer_of
from workflows.accounts import close_accounts
from workflows.changes import DISPUTES
from workflows.db import reading, transaction
from workflows.driver import fetch
from workflows.errors import BadInput
from workflows.messaging import enqueue, render, texts
from workflows.org import OrgChange, OrgSummary, apply_org, read_org, supervising_unit
from workflows.recording import NewEvent, record

__all__ = ["ORG_CHANGE_KINDS", "load_org", "org_history"]

log = structlog.get_logger(__name__)

ORG_CHANGES = OrgChangeRecord.__table__  # type: ignore[attr-defined]
UNITS = Unit.__table__  # type: ignore[attr-defined]
UNIT_TASKS = UnitTask.__table__  # type: ignore[attr-defined]
ORG_CHANGE_KINDS = ("unit_moved", "unit_merged", "unit_removed", "person_moved", "person_left")
_BATCH = 500  # disputes recorded on together
_NAMED = 20  # disputes a refusal or a message names, at most
_LIVE = [status.value for status in LIVE_STATUSES]
_PATH_COLUMNS = (
    DISPUTES.c.reported_unit,
    DISPUTES.c.village_code,
    DISPUTES.c.township_code,
    DISPUTES.c.county_code,
)


def load_org(
    *, engine: Engine, policy: Policy, now: datetime, actor: Actor, path: Path
) -> OrgSummary:
    """Validate the whole file against itself and the database, then upsert it and carry
    out its changes, in one transaction: a file with a problem changes nothing. ``policy``
    (the rules in force) evaluates the disputes an org change moves."""
    units, people = read_org(path)  # before the transaction: a bad file holds no lock
    with transaction(engine) as session:
        if actor.checked:
            assert actor.person is not None
            permit(viewer_of(session, actor.person), Action.org)
        loaded = apply_org(session, path, units, people, now=now)
        summary = loaded.summary
        if loaded.changes:
            moved, released = _carry_out(
                session, path, loaded.changes, policy=policy, now=now, actor=actor
            )
            summary = replace(summary, disputes_moved=moved, disputes_released=released)
    log.info(
        "org_loaded",
        file=str(path),
        actor=actor.name,
        units_added=summary.units_added,
        units_updated=summary.units_updated,
        units_unchanged=summary.units_unchanged,
        people_added=summary.people_added,
        people_updated=summary.people_updated,
        people_unchanged=summary.people_unchanged,
        disputes_moved=summary.disputes_moved,
        disputes_released=summary.disputes_released,
        **{f"changes_{kind}": count for kind, count in summary.changes.items()},
    )
    return summary


def org_history(*, engine: Engine, limit: int | None = None) -> list[dict[str, Any]]:
    """The org's changes that moved work, newest first: when, by whom, what, from and to,
    and how many live disputes followed."""
    statement = select(ORG_CHANGES).order_by(ORG_CHANGES.c.at.desc(), ORG_CHANGES.c.id.desc())
    if limit is not None:
        statement = statement.limit(limit)
    with reading(engine) as session:
        return [
            {
                "id": row.id,
                "at": row.at,
                "actor": row.actor,
                "kind": row.kind,
                "subject": row.subject,
                "before": row.before,
                "after": row.after,
                "disputes": row.disputes,
            }
            for row in fetch(session, statement)
        ]


def _carry_out(
    session: Session,
    path: Path,
    changes: Sequence[OrgChange],
    *,
    policy: Policy,
    now: datetime,
    actor: Actor,
) -> tuple[int, int]:
    """Refuse a removal with live disputes; record the ``reorganise`` events of the
    disputes the changes move or release, log the changes and tell who must know. How many
    disputes were moved, and released."""
    for change in changes:
        if change.kind == "unit_removed":
            _refuse_removal(session, path, change)
    tree = {
        row.code: row
        for row in fetch(
            session, select(UNITS.c.code, UNITS.c.parent_code, UNITS.c.level, UNITS.c.merged_into)
        )
    }
    events: dict[int, list[dict[str, Any]]] = defaultdict(list)
    by_change: dict[int, list[int]] = defaultdict(list)  # change's index: its disputes
    units = {c.subject: i for i, c in enumerate(changes) if c.kind in ("unit_moved", "unit_merged")}
    for row in _touching(session, list(units)):
        if row.id in events:
            continue  # found again through another of its units, in another batch
        data = _moved(row, tree, units, changes)
        if data is not None:
            events[row.id].append(data)
            by_change[units[data["unit"]]].append(row.id)
    moved = len(events)
    people = {c.subject: i for i, c in enumerate(changes) if c.kind.startswith("person_")}
    released = 0
    for ids in _chunks(list(people)):
        for row in session.execute(
            select(DISPUTES.c.id, DISPUTES.c.assignee)
            .where(DISPUTES.c.assignee.in_(ids), DISPUTES.c.status.in_(_LIVE))
            .order_by(DISPUTES.c.id),
        ):
            change = changes[people[row.assignee]]
            events[row.id].append(
                {"change": change.kind, "staff": row.assignee, "unassigned": row.assignee}
            )
            by_change[people[row.assignee]].append(row.id)
            released += 1
    ordered = sorted(events)
    for batch in _chunks(ordered):
        record(
            session,
            {
                dispute: [
                    NewEvent(kind="reorganise", at=now, actor=actor.person, data=data)
                    for data in events[dispute]
                ]
                for dispute in batch
            },
            policy=policy,
            now=now,
            actor=actor,
            reorganising=True,
        )
    left = [c.subject for c in changes if c.kind == "person_left"]
    if left:
        close_accounts(session, left, now=now)
    ended = [c.subject for c in changes if c.kind in ("unit_merged", "unit_removed")]
    if ended:  # what an ended unit owed as a whole (its monthly inspection) is owed no more
        session.execute(
            update(UNIT_TASKS)
            .where(UNIT_TASKS.c.unit_code.in_(ended), UNIT_TASKS.c.state == TaskState.open)
            .values(state=TaskState.cancelled, closed_at=now)
        )
    for index, change in enumerate(changes):
        disputes = by_change.get(index, [])
        change_id = session.execute(
            insert(ORG_CHANGES).returning(ORG_CHANGES.c.id),
            {
                "at": now,
                "actor": actor.person,
                "kind": change.kind,
                "subject": change.subject,
                "before": change.before,
                "after": change.after,
                "disputes": len(disputes),
            },
        ).scalar_one()
        if disputes:
            _tell(session, change, change_id, disputes, policy=policy, now=now)
        log.info(
            "org_changed",
            kind=change.kind,
            subject=change.subject,
            disputes=len(disputes),
            actor=actor.name,
        )
    return moved, released


def _refuse_removal(session: Session, path: Path, change: OrgChange) -> None:
    """A unit with live disputes is not removed: they would have nowhere to be."""
    code = change.subject
    there = and_(
        DISPUTES.c.status.in_(_LIVE),
        or_(*(column == code for column in _PATH_COLUMNS), DISPUTES.c.unit_code == code),
    )
    count = session.execute(select(func.count()).select_from(DISPUTES).where(there)).scalar_one()
    if count:
        found = session.execute(
            select(DISPUTES.c.id).where(there).order_by(DISPUTES.c.id).limit(_NAMED)
        ).scalars()
        raise BadInput(
            f"{path}:{change.line}: unit {code!r} cannot be removed: "
            + ("1 live dispute is" if count == 1 else f"{count} live disputes are")
            + f" there: {_listed(list(found), count)}; close them, or merge the unit into "
            "another (merged_into), which takes them"
        )


def _touching(session: Session, codes: list[str]) -> Iterable[Any]:
    """The live disputes whose units include one of ``codes``."""
    for batch in _chunks(codes):
        yield from session.execute(
            select(DISPUTES.c.id, *_PATH_COLUMNS)
            .where(
                DISPUTES.c.status.in_(_LIVE),
                or_(*(column.in_(batch) for column in _PATH_COLUMNS)),
            )
            .order_by(DISPUTES.c.id),
        )


def _moved(
    row: Any, tree: dict[str, Any], units: dict[str, int], changes: Sequence[OrgChange]
) -> dict[str, Any] | None:
    """The ``reorganise`` event's data for a dispute (its row) whose units changed: named
    by the change nearest to where it was reported; None if its units came out the same."""
    reported = row.reported_unit
    while tree[reported].merged_into is not None:
        reported = tree[reported].merged_into
    was = UnitPath(row.village_code, row.township_code, row.county_code)
    path = _path_in(tree, reported)
    if path == was and reported == row.reported_unit:
        return None
    nearest = next(
        code
        for code in (row.reported_unit, row.village_code, row.township_code, row.county_code)
        if code in units
    )
    change = changes[units[nearest]]
    data: dict[str, Any] = {
        "change": change.kind,
        "unit": nearest,
        "was": _units(was),
        "path": _units(path),
    }
    if change.kind == "unit_merged":
        data["into"] = change.after["into"]
    if reported != row.reported_unit:
        data["reported_unit"] = reported
    return data


def _path_in(tree: dict[str, Any], code: str) -> UnitPath:
    """The village, township and county above ``code`` (a village or grid), as the tree
    stands now."""
    found: dict[str, str] = {}
    at: str | None = code
    while at is not None:
        node = tree[at]
        found.setdefault(node.level, at)
        at = node.parent_code
    return UnitPath(found[UnitLevel.village], found[UnitLevel.township], found[UnitLevel.county])


def _units(path: UnitPath) -> dict[str, str]:
    return {level.value: path.at(level) for level in Level}


def _tell(
    session: Session,
    change: OrgChange,
    change_id: int,
    disputes: list[int],
    *,
    policy: Policy,
    now: datetime,
) -> None:
    """Tell the supervisors who must act: those the disputes of a moved or merged unit now
    come under; those of the unit a person moved or left from, whose disputes they assign
    again."""
    if change.kind.startswith("person_"):
        kind = MessageKind.released
        unit = supervising_unit(session, Target.of_unit(change.before["unit"]))
        said: dict[str, Any] = {"person": change.name, "staff": change.subject}
    else:
        kind = MessageKind.reorganised
        where = change.after.get("into") or change.after.get("parent")
        unit = supervising_unit(session, Target.of_unit(where)) if where else None
        said = {"unit": change.name, "code": change.subject}
    if unit is None:
        return
    words = texts(policy.rules.reminders.language)
    act = words.act["queue"].format(unit=unit)
    title, body = render(
        kind,
        None,
        policy=policy,
        count=len(disputes),
        disputes=_listed(disputes),
        change=words.labels[change.kind].format(**change.after),
        act=act,
        **said,
    )
    enqueue(
        session,
        target=Target.of_unit(unit),
        kind=kind,
        key=f"org:{change_id}",
        title=title,
        body=body,
        not_before=now,
        now=now,
        act=act,
        link="/queue",
    )


def _listed(ids: list[int], count: int | None = None) -> str:
    """The disputes ``ids`` by number, the first few of ``count``."""
    count = len(ids) if count is None else count
    shown = ", ".join(f"#{i}" for i in ids[:_NAMED])
    return shown if count <= _NAMED else f"{shown} and {count - _NAMED} more"


_T = TypeVar("_T")


def _chunks(items: list[_T]) -> Iterable[list[_T]]:
    for start in range(0, len(items), _BATCH):
        yield items[start : start + _BATCH]
