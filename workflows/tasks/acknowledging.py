"""What a person does with a task: acknowledge it (签收), or mark a cadence task seen."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime

import structlog
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from models.tables import Dispute, DisputeEvent, Person, Task
from models.targets import Target, answered_by
from models.values import ACKNOWLEDGEMENT, LIVE_TASK_STATES, Actor, TaskState, UnitPath
from rules.policy import Policy
from workflows.access import Action, Forbidden, Viewer, dispute_in_scope, permit, viewer_of
from workflows.db import transaction
from workflows.errors import BadInput, NotFound
from workflows.org import answers_for
from workflows.recording import NewEvent, Recorded, Refusals, record

__all__ = ["Acknowledged", "acknowledge_dispute", "acknowledge_disputes", "acknowledge_task"]

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class Acknowledged:
    """A task as it is once acknowledged; ``already`` if it was before (nothing changed),
    then ``by`` and ``at`` say who acknowledged it and when, where that is known."""

    id: int
    kind: str
    dispute_id: int
    state: TaskState
    already: bool = False
    by: str | None = None
    at: datetime | None = None


def acknowledge_task(
    *, engine: Engine, policy: Policy, now: datetime, actor: Actor, task_id: int
) -> Acknowledged:
    """Acknowledge a task, as ``actor`` (by default as the person it is for), in one
    transaction: for an assignment or escalation, record the dispute's ``acknowledge`` event
    (which closes it); for a cadence task, mark it seen. Only someone who may answer for the
    task's person or unit may; a task acknowledged before is left as it is (``already``)."""
    with transaction(engine) as session:
        task = session.get(Task, task_id)
        if task is None:
            raise NotFound(f"unknown task {task_id}")
        target = Target.parse(task.target)
        if actor.checked:  # a person signed in: a task of theirs, of a dispute they see
            assert actor.person is not None
            viewer = viewer_of(session, actor.person)
            try:
                dispute_in_scope(session, viewer, task.dispute_id)
            except NotFound:
                raise NotFound(f"unknown task {task_id}") from None
            permit(viewer, Action.acknowledge)
            if task.kind != ACKNOWLEDGEMENT and target not in _covered(session, viewer.person):
                raise Forbidden(f"task {task_id} is for {target}, not for {viewer.person}")
        if actor.person is None and not target.is_person:
            raise BadInput(
                f"task {task_id} is for {target}: say with --by which of its people acknowledges"
            )
        by = actor.person or target.ref
        giver = viewer_of(session, by)  # NotFound: unknown person
        covered = _covered(session, by) if task.kind != ACKNOWLEDGEMENT else set()
        if not _answers(giver, target, _path(session, task.dispute_id), covered=covered):
            raise BadInput(f"{by} cannot acknowledge task {task_id}: it is for {target}")
        if task.kind == ACKNOWLEDGEMENT:
            if task.state == TaskState.done:
                who, when = _acknowledged_by(session, task)
                return Acknowledged(
                    task_id, task.kind, task.dispute_id, TaskState.done, True, who, when
                )
            if task.state not in LIVE_TASK_STATES:
                raise BadInput(f"task {task_id} is {task.state}: nothing to acknowledge")
            record(
                session,
                {task.dispute_id: [NewEvent("acknowledge", at=now)]},
                policy=policy,
                now=now,
                actor=replace(actor, person=by),
            )
            state = TaskState(session.exec(select(Task.state).where(Task.id == task_id)).one())
            if state is TaskState.open:
                raise BadInput(f"{by} cannot acknowledge task {task_id}: it is for {target}")
            return Acknowledged(task_id, task.kind, task.dispute_id, state, by=by, at=now)
        if task.state == TaskState.acknowledged:
            return Acknowledged(task_id, task.kind, task.dispute_id, TaskState.acknowledged, True)
        if task.state not in LIVE_TASK_STATES:
            raise BadInput(f"task {task_id} is {task.state}: nothing to acknowledge")
        task.state = TaskState.acknowledged
        session.add(task)
    log.info("task_acknowledged", task_id=task_id, dispute_id=task.dispute_id, by=by)
    return Acknowledged(task_id, task.kind, task.dispute_id, TaskState.acknowledged, by=by, at=now)


def _path(session: Session, dispute_id: int) -> UnitPath:
    dispute = session.get(Dispute, dispute_id)
    if dispute is None:
        raise NotFound(f"unknown dispute {dispute_id}")
    return UnitPath(dispute.village_code, dispute.township_code, dispute.county_code)


def _answers(giver: Viewer, target: Target, path: UnitPath, *, covered: set[Target]) -> bool:
    """Whether ``giver`` may acknowledge a task for ``target``: an acknowledgement (签收) as
    the planner closes it (their own, their unit's if they supervise it, and what waits
    below a township or county they supervise); a cadence task also by those it is
    ``covered`` for (its unit's staff, a village's mediators for a grid without a worker)."""
    mine = answered_by(giver.person, role=giver.role, unit=giver.unit, path=path, waiting=[target])
    return target in mine | covered


def _covered(session: Session, person: str) -> set[Target]:
    """The targets whose cadence tasks ``person`` answers for (see ``answers_for``)."""
    row = session.get(Person, person)
    return set(answers_for(session, row)) if row is not None else set()


def _acknowledged_by(session: Session, task: Task) -> tuple[str | None, datetime | None]:
    """Who gave the acknowledgement that closed ``task``, and when (its event's time)."""
    found = session.exec(
        select(DisputeEvent.actor)
        .where(
            DisputeEvent.dispute_id == task.dispute_id,
            DisputeEvent.kind == ACKNOWLEDGEMENT,
            DisputeEvent.at == task.closed_at,
        )
        .order_by(col(DisputeEvent.seq).desc())
    ).first()
    return found, task.closed_at


def acknowledge_dispute(
    *, engine: Engine, policy: Policy, now: datetime, actor: Actor, dispute_id: int, event: NewEvent
) -> Recorded:
    """Record an ``acknowledge`` event on one dispute, in one transaction, only if it gives
    an acknowledgement (签收) owed: refused, saying whose it is, if it would close none."""
    try:
        with transaction(engine) as session:
            owed = _owed(session, [dispute_id]).get(dispute_id, set())
            recorded = record(session, {dispute_id: [event]}, policy=policy, now=now, actor=actor)
            if not owed:
                raise BadInput(f"nothing to acknowledge on dispute {dispute_id}")
            if owed <= _owed(session, [dispute_id]).get(dispute_id, set()):
                targets = session.exec(select(Task.target).where(col(Task.id).in_(owed))).all()
                raise BadInput(
                    f"{actor.person} cannot acknowledge dispute {dispute_id}: its "
                    f"acknowledgement (签收) is for {', '.join(sorted(targets))}"
                )
    except Refusals as refusals:
        raise refusals.refused[dispute_id] from None
    return recorded[dispute_id]


def acknowledge_disputes(
    *, engine: Engine, policy: Policy, now: datetime, actor: Actor, dispute_ids: Sequence[int]
) -> int:
    """Acknowledge (签收) the disputes ``dispute_ids`` as ``actor``, all or none, in one
    transaction: each must have an acknowledgement owed that ``actor`` gives. How many."""
    if actor.person is None:
        raise BadInput("an acknowledgement (签收) needs a person: say who with --by")
    ids = list(dict.fromkeys(dispute_ids))
    with transaction(engine) as session:
        owed = _owed(session, ids)
        nothing = [d for d in ids if not owed.get(d)]
        if nothing:
            listed = ", ".join(str(d) for d in nothing)
            raise BadInput(f"nothing to acknowledge on dispute {listed}; nothing was changed")
        record(
            session,
            {d: [NewEvent("acknowledge", at=now)] for d in ids},
            policy=policy,
            now=now,
            actor=actor,
        )
        still = _owed(session, ids)
        # none of its own closed (an escalation that fell due meanwhile may add new ones)
        mine = [d for d in ids if owed[d] <= still.get(d, set())]
        if mine:
            listed = ", ".join(str(d) for d in mine)
            raise Forbidden(
                f"the acknowledgements of dispute {listed} are not for {actor.person}; "
                "nothing was changed"
            )
    log.info("disputes_acknowledged", disputes=len(ids), by=actor.person)
    return len(ids)


def _owed(session: Session, ids: list[int]) -> dict[int, set[int]]:
    """The live acknowledgement tasks of each dispute of ``ids``, by id."""
    owed: dict[int, set[int]] = {}
    for task_id, dispute_id in session.exec(
        select(Task.id, Task.dispute_id).where(
            col(Task.dispute_id).in_(ids),
            Task.kind == ACKNOWLEDGEMENT,
            col(Task.state).in_(LIVE_TASK_STATES),
        )
    ):
        if task_id is not None:
            owed.setdefault(dispute_id, set()).add(task_id)
    return owed
