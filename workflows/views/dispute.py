"""A dispute as ``fengqiao dispute show --json`` (and, later, the web app) shows it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, func
from sqlmodel import Session, col, select

from models.tables import DisputeEvent, Escalation, Obligation, Task
from models.values import EventKind, TaskState
from workflows.access import Viewer, dispute_in_scope, mask_parties, sees_parties
from workflows.db import reading

__all__ = ["dispute_view", "iso", "shape_dispute"]


def iso(moment: datetime | None, zone: ZoneInfo) -> str | None:
    """ISO 8601 with the offset of ``zone``."""
    return None if moment is None else moment.astimezone(zone).isoformat()


def dispute_view(
    *,
    engine: Engine,
    dispute_id: int,
    now: datetime,
    zone: ZoneInfo,
    viewer: Viewer | None = None,
    latest: int | None = None,
) -> dict[str, Any]:
    """The documented JSON of ``fengqiao dispute show --json``; as ``viewer`` may see it
    (NotFound outside their scope; the parties masked unless they handle disputes;
    everything for the operator, None).

    With ``latest``, only the latest so many events and closed tasks are read (the web's
    page of a dispute with a long history): ``totals`` says how many there are, and
    ``kinds`` which kinds of event it has had."""
    with reading(engine) as session:
        dispute = dispute_in_scope(session, viewer, dispute_id)
        obligations = session.exec(
            select(Obligation)
            .where(Obligation.dispute_id == dispute_id)
            .order_by(col(Obligation.due_at), col(Obligation.kind))
        ).all()
        escalations = session.exec(
            select(Escalation)
            .where(Escalation.dispute_id == dispute_id)
            .order_by(col(Escalation.effective_at))
        ).all()
        if latest is None:
            tasks = session.exec(
                select(Task).where(Task.dispute_id == dispute_id).order_by(col(Task.id))
            ).all()
            events = session.exec(
                select(DisputeEvent)
                .where(DisputeEvent.dispute_id == dispute_id)
                .order_by(col(DisputeEvent.seq))
            ).all()
            shaped = shape_dispute(
                dispute, obligations, escalations, tasks, events, now=now, zone=zone
            )
        else:
            shaped = _latest(session, dispute, obligations, escalations, latest, now, zone)
    if not sees_parties(viewer):
        shaped["parties"] = mask_parties(shaped["parties"])
    return shaped


_LIVE = (TaskState.open, TaskState.acknowledged)


def _record(record: dict[str, Any], zone: ZoneInfo) -> dict[str, Any]:
    """What a ledger keeps of the dispute (models.record), as ``dispute show`` gives it."""

    def moment(name: str) -> str | None:
        value = record.get(name)
        return iso(datetime.fromisoformat(value), zone) if value else None

    agreement = None
    if record.get("agreement"):
        agreement = {
            "form": record["agreement"],
            "amount": record.get("amount"),
            "terms": record.get("terms"),
        }
    return {
        "description": record.get("description"),
        "ledger_no": record.get("ledger_no"),
        "method": record.get("method"),
        "agreement": agreement,
        "mediators": record.get("mediators"),
        "mediated_by": record.get("mediated_by", []),
        "outcome": record.get("outcome"),
        "resolved_at": moment("resolved_at"),
        "visits": {
            "count": record.get("visits", 0),
            "last": record.get("visit_outcome"),
            "last_at": moment("visited_at"),
        },
        "confirmed": record.get("confirmed"),
        "closed_at": moment("closed_at"),
    }


def _latest(
    session: Session,
    dispute: Any,
    obligations: Sequence[Obligation],
    escalations: Sequence[Escalation],
    latest: int,
    now: datetime,
    zone: ZoneInfo,
) -> dict[str, Any]:
    """The dispute's JSON with its live tasks, and its latest ``latest`` events and closed
    tasks: what a page shows first, read without the whole history."""
    events = session.exec(
        select(DisputeEvent)
        .where(DisputeEvent.dispute_id == dispute.id)
        .order_by(col(DisputeEvent.seq).desc())
        .limit(latest)
    ).all()[::-1]
    live = session.exec(
        select(Task)
        .where(Task.dispute_id == dispute.id, col(Task.state).in_(_LIVE))
        .order_by(col(Task.id))
    ).all()
    closed_filter = (Task.dispute_id == dispute.id, col(Task.state).not_in(_LIVE))
    closed = session.exec(
        select(Task).where(*closed_filter).order_by(col(Task.id).desc()).limit(latest)
    ).all()[::-1]
    closed_total = session.exec(select(func.count()).select_from(Task).where(*closed_filter))
    report = None if events and events[0].seq == 1 else _data_of(session, dispute.id, "report")
    listing = None
    if dispute.supervised and not any(e.kind == EventKind.supervise for e in events):
        listing = _data_of(session, dispute.id, EventKind.supervise, last=True)
    shaped = shape_dispute(
        dispute,
        obligations,
        escalations,
        sorted([*closed, *live], key=lambda task: task.id or 0),
        events,
        now=now,
        zone=zone,
        report=report,
        listing=listing,
    )
    shaped["totals"] = {"events": dispute.last_seq, "closed_tasks": closed_total.one()}
    # Which kinds of event it has had at all (a follow-up is offered after its cause).
    kinds = select(DisputeEvent.kind).where(DisputeEvent.dispute_id == dispute.id).distinct()
    shaped["kinds"] = sorted(session.exec(kinds).all())
    return shaped


def _data_of(
    session: Session, dispute_id: int, kind: str, *, last: bool = False
) -> dict[str, Any] | None:
    """The data of the dispute's first (or ``last``) event of ``kind``, if it has one."""
    seq = col(DisputeEvent.seq)
    event = session.exec(
        select(DisputeEvent)
        .where(DisputeEvent.dispute_id == dispute_id, DisputeEvent.kind == kind)
        .order_by(seq.desc() if last else seq)
        .limit(1)
    ).first()
    return None if event is None else dict(event.data)


def shape_dispute(
    dispute: Any,
    obligations: Sequence[Obligation],
    escalations: Sequence[Escalation],
    tasks: Sequence[Task],
    events: Sequence[DisputeEvent],
    *,
    now: datetime,
    zone: ZoneInfo,
    report: Mapping[str, Any] | None = None,
    listing: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The JSON of a dispute (its row) and its rows, times in ``zone``, overdue as of ``now``.
    ``report`` and ``listing`` are the data of its report and its last listing when
    ``events`` are not all of them."""
    if listing is None:
        listing = next((e.data for e in reversed(events) if e.kind == "supervise"), None)
    listed = listing if dispute.supervised and listing is not None else {}
    if report is None:
        report = next((e.data for e in events if e.kind == "report"), {})
    return {
        "id": dispute.id,
        "status": dispute.status,
        "risk": dispute.risk,
        "level": dispute.level,
        "unit": dispute.unit_code,
        "assignee": dispute.assignee,
        "paused": dispute.paused,
        "supervised": dispute.supervised,
        "supervision_deadline": iso(dispute.supervision_deadline, zone),
        "supervision_grade": listed.get("grade"),
        "listing_unit": listed.get("unit"),
        "source": report.get("source"),
        "court": report.get("court"),
        "category": dispute.category,
        "title": dispute.title,
        "reported_unit": dispute.reported_unit,
        "reported_at": iso(dispute.reported_at, zone),
        "level_since": iso(dispute.level_since, zone),
        "people_involved": dispute.people_involved,
        "location": dispute.location,
        "parties": dispute.parties,
        **_record(dispute.record or {}, zone),
        "rules_version": dispute.rules_version,
        "obligations": [
            {
                "kind": o.kind,
                "due_at": iso(o.due_at, zone),
                "overdue": now > o.due_at,
                "rule": o.rule,
                "rules_version": o.rules_version,
            }
            for o in obligations
        ],
        "escalations": [
            {
                "from_level": e.from_level,
                "to_level": e.to_level,
                "unit": e.to_unit,
                "from_unit": e.from_unit,
                "rule": e.rule,
                "rules_version": e.rules_version,
                "effective_at": iso(e.effective_at, zone),
                "recorded_at": iso(e.recorded_at, zone),
            }
            for e in escalations
        ],
        "tasks": [
            {
                "id": t.id,
                "kind": t.kind,
                "target": t.target,
                "due_at": iso(t.due_at, zone),
                "state": t.state,
                "overdue": t.state == TaskState.open and now > t.due_at,
                "closed_at": iso(t.closed_at, zone),
            }
            for t in tasks
        ],
        "events": [
            {
                "seq": e.seq,
                "kind": e.kind,
                "at": iso(e.at, zone),
                "by": e.actor,
                "recorded_at": iso(e.recorded_at, zone),
                "data": e.data,
                "rules_version": e.rules_version,
            }
            for e in events
        ],
    }
