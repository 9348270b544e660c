"""The escalation sweep: batches of due disputes claimed by indexed due time, each batch
evaluated and written set-wise in one transaction; a batch that fails is gone through one
dispute at a time, so one dispute's failure is logged and counted while the others go on.

These are plain functions; ``workflows.engine.flows`` runs them as Prefect flows.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from datetime import datetime

import structlog
from sqlalchemy import Engine, select
from sqlmodel import Session

from models.values import Actor
from rules.policy import Policy
from workflows.changes import DISPUTES, reevaluate
from workflows.db import transaction
from workflows.runs import SweepResult

__all__ = ["BATCH", "claim_due", "escalation_sweep", "sweep_disputes", "sweep_once"]

log = structlog.get_logger(__name__)

BATCH = 500


def claim_due(
    session: Session,
    *,
    now: datetime,
    limit: int,
    skip: Collection[int] = (),
    wait: bool = False,
) -> list[int]:
    """Lock and return up to ``limit`` disputes due for a decision by ``now``, earliest first.

    On PostgreSQL the rows are claimed ``FOR UPDATE SKIP LOCKED``: concurrent sweeps take
    disjoint batches, and a dispute being recorded by someone else is left for later. On
    SQLite the transaction already holds the database's write lock (BEGIN IMMEDIATE).
    ``skip`` are disputes that failed earlier in this sweep. With ``wait``, rows locked by
    others are waited for instead (PostgreSQL then checks again whether they are still due).
    """
    query = select(DISPUTES.c.id).where(DISPUTES.c.next_decision_at < now)
    if skip:
        query = query.where(DISPUTES.c.id.not_in(list(skip)))
    query = query.order_by(DISPUTES.c.next_decision_at, DISPUTES.c.id).limit(limit)
    return list(session.execute(query.with_for_update(skip_locked=not wait)).scalars())


def sweep_disputes(
    ids: list[int], *, engine: Engine, policy: Policy, now: datetime, flow: str
) -> SweepResult:
    """Evaluate each dispute again at ``now``, one transaction each; failures are counted.

    The slow, careful path: after a batch failed as a whole, it finds the one dispute
    that fails and records the others.
    """
    result = SweepResult(flow=flow, now=now)
    for dispute_id in ids:
        try:
            with transaction(engine) as session:
                outcome = reevaluate(session, [dispute_id], policy=policy, now=now, lock=True)
        except Exception as exc:  # isolate one dispute's failure; it is logged and counted
            log.error(
                "sweep_dispute_failed",
                flow=flow,
                dispute_id=dispute_id,
                error=type(exc).__name__,
                detail=str(exc)[:200],
            )
            result.failed.append(dispute_id)
            continue
        result.examined += outcome.examined
        result.decisions += outcome.decisions
        result.obligations_changed += outcome.obligations_changed
    return result


def sweep_once(
    *,
    engine: Engine,
    policy: Policy,
    now: datetime,
    size: int = BATCH,
    skip: Collection[int] = (),
    wait: bool = False,
) -> SweepResult:
    """Claim one batch of due disputes and record what fell due, in one transaction.

    If the batch fails as a whole, it is rolled back and gone through one dispute per
    transaction, so that a dispute that cannot be evaluated is logged and counted while
    the others are recorded. ``examined`` plus ``failed`` is 0 when nothing is left.
    """
    result = SweepResult(flow="escalation", now=now)
    claimed: list[int] = []
    try:
        with transaction(engine) as session:
            claimed = claim_due(session, now=now, limit=size, skip=skip, wait=wait)
            if claimed:
                outcome = reevaluate(session, claimed, policy=policy, now=now)
    except Exception as exc:
        if not claimed:
            raise  # the claim itself failed: the database is unreachable, say
        log.warning("sweep_batch_failed", disputes=len(claimed), error=type(exc).__name__)
        return sweep_disputes(claimed, engine=engine, policy=policy, now=now, flow="escalation")
    if claimed:
        for dispute_id in outcome.still_due:
            log.error("dispute_still_due", dispute_id=dispute_id)
        result.failed.extend(outcome.still_due)
        result.examined = len(claimed) - len(outcome.still_due)
        result.decisions = outcome.decisions
        result.obligations_changed = outcome.obligations_changed
    return result


def escalation_sweep(
    *,
    engine: Engine,
    policy: Policy,
    now: datetime,
    actor: Actor,
    size: int = BATCH,
    run_batch: Callable[[list[int], bool], SweepResult] | None = None,
) -> SweepResult:
    """Record every escalation and listing due by ``now``, with its crossing time.

    Batch after batch is claimed until none is left; ``run_batch(skip, wait)`` runs one
    (the Prefect flow makes each a task). Any number of sweeps may run at once: each claims
    its own disputes, and a dispute done by one is no longer due for the others. Before
    returning, a sweep waits for the due disputes others hold, so that it returns only
    once everything due by ``now`` is recorded.
    """
    result = SweepResult(flow="escalation", now=now)
    run = run_batch or (
        lambda skip, wait: sweep_once(
            engine=engine, policy=policy, now=now, size=size, skip=skip, wait=wait
        )
    )
    wait = False
    while True:
        batch = run(result.failed, wait)
        if batch.examined + len(batch.failed) > 0:
            result.merge(batch)
            wait = False
        elif wait:
            break
        else:
            # Nothing left that is not locked: wait for the disputes other sweeps (or
            # writers) hold, so that when this returns everything due by ``now`` is
            # recorded, and the cadence flows and reminders that follow see it.
            wait = True
    log.info("sweep_finished", actor=actor.name, **result.as_dict())
    return result
