"""Runs of the sweep flows: the claim that makes a flow run once per scheduled time, and
what a run did.

Each run is a ``flow_runs`` row, one per flow and scheduled time (its window's end). The
row is also the claim: a second sweep that finds it skips the run; a claim left by a crash
is taken over after a while.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, select

from models.tables import FlowRun
from workflows.db import insert_ignoring_duplicates

__all__ = ["SweepResult", "claim_run", "finish_run", "previous_window_end"]

STALE_CLAIM = timedelta(minutes=10)


@dataclass
class SweepResult:
    """What one run of a flow did, for the flow's result, the command line and the logs."""

    flow: str
    now: datetime
    examined: int = 0
    decisions: int = 0
    obligations_changed: int = 0
    reports: int = 0
    failed: list[int] = field(default_factory=list)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SweepResult:
        return cls(
            flow=data["flow"],
            now=datetime.fromisoformat(data["now"]),
            examined=data["examined"],
            decisions=data["decisions"],
            obligations_changed=data["obligations_changed"],
            reports=data["reports"],
            failed=list(data["failed"]),
        )

    def merge(self, other: SweepResult) -> None:
        self.examined += other.examined
        self.decisions += other.decisions
        self.obligations_changed += other.obligations_changed
        self.reports += other.reports
        self.failed.extend(other.failed)

    def as_dict(self) -> dict[str, Any]:
        return {
            "flow": self.flow,
            "now": self.now.isoformat(),
            "examined": self.examined,
            "decisions": self.decisions,
            "obligations_changed": self.obligations_changed,
            "reports": self.reports,
            "failed": self.failed,
        }


def previous_window_end(session: Session, *, flow: str) -> datetime | None:
    """The scheduled time of the flow's last finished run, if any."""
    return session.exec(
        select(func.max(FlowRun.window_end)).where(
            FlowRun.flow == flow, col(FlowRun.finished_at).is_not(None)
        )
    ).one()


def claim_run(
    session: Session,
    *,
    flow: str,
    window_end: datetime,
    started: datetime,
    stale_after: timedelta = STALE_CLAIM,
) -> FlowRun | None:
    """Claim a flow's run for one scheduled time; None if it is done or being done.

    A claim left unfinished (a crash) for ``stale_after`` is taken over.
    """
    run = session.exec(
        select(FlowRun)
        .where(FlowRun.flow == flow, FlowRun.window_end == window_end)
        .with_for_update()
    ).one_or_none()
    if run is None:
        inserted = insert_ignoring_duplicates(
            session,
            FlowRun,
            [{"flow": flow, "window_end": window_end, "started_at": started, "result": {}}],
        )
        if not inserted:
            return None
        return session.exec(
            select(FlowRun).where(FlowRun.flow == flow, FlowRun.window_end == window_end)
        ).one()
    if run.finished_at is not None or started - run.started_at < stale_after:
        return None
    run.started_at = started
    session.add(run)
    return run


def finish_run(session: Session, run: FlowRun, *, result: SweepResult, finished: datetime) -> None:
    run.finished_at, run.result = finished, result.as_dict()
    session.add(run)
