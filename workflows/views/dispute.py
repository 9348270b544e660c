"""A dispute as ``fengqiao dispute show --json`` (and, later, the web app) shows it."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Engine
from sqlmodel import col, select

from models.tables import DisputeEvent, Escalation, Obligation, Task
from models.values import TaskState
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
) -> dict[str, Any]:
    """The documented JSON of ``fengqiao dispute show --json``; as ``viewer`` may see it
    (NotFound outside their scope; the parties masked unless they handle disputes;
    everything for the operator, None)."""
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
        tasks = session.exec(
            select(Task).where(Task.dispute_id == dispute_id).order_by(col(Task.id))
        ).all()
        events = session.exec(
            select(DisputeEvent)
            .where(DisputeEvent.dispute_id == dispute_id)
            .order_by(col(DisputeEvent.seq))
        ).all()
    shaped = shape_dispute(dispute, obligations, escalations, tasks, events, now=now, zone=zone)
    if not sees_parties(viewer):
        shaped["parties"] = mask_parties(shaped["parties"])
    return shaped


def shape_dispute(
    dispute: Any,
    obligations: Sequence[Obligation],
    escalations: Sequence[Escalation],
    tasks: Sequence[Task],
    events: Sequence[DisputeEvent],
    *,
    now: datetime,
    zone: ZoneInfo,
) -> dict[str, Any]:
    """The JSON of a dispute (its row) and its rows, times in ``zone``, overdue as of ``now``."""
    listing = next((e.data for e in reversed(events) if e.kind == "supervise"), None)
    listed = listing if dispute.supervised and listing is not None else {}
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
