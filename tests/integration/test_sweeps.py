"""The sweeps on real databases: idempotent, independent of how often they run, and a
failing dispute isolated from the others."""

from __future__ import annotations

import contextlib
import re
from datetime import datetime, timedelta
from typing import Any

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, text
from sqlmodel import SQLModel, col, select
from structlog.testing import capture_logs

from models.tables import Dispute, Escalation, FlowRun, Obligation, Report, Task
from rules.policy import Policy
from tests.support.db import dump, load_county
from tests.support.recording import (
    ENGINE,
    MONDAY,
    SHANGHAI,
    record,
    report,
    run_together,
    sweep,
)
from workflows.db import make_engine, migrate, reading
from workflows.sweeps import escalation_sweep, sweep_disputes


def _sweep(engine: Engine, policy: Policy, now: datetime) -> list[dict[str, Any]]:
    return [r.as_dict() for r in sweep(engine, policy, now)]


def _outcome(engine: Engine) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    with reading(engine) as session:
        escalations = session.exec(
            select(Escalation).order_by(col(Escalation.dispute_id), col(Escalation.effective_at))
        ).all()
        owed = session.exec(
            select(Obligation).order_by(col(Obligation.dispute_id), col(Obligation.kind))
        ).all()
    return (
        [(e.dispute_id, e.from_level, e.to_level, e.rule, e.effective_at) for e in escalations],
        [(o.dispute_id, o.kind, o.due_at) for o in owed],
    )


def test_a_neglected_high_risk_dispute_goes_to_township_then_county_on_schedule(
    org_engine: Engine, policy: Policy
) -> None:
    dispute_id = report(org_engine, policy, risk="high")
    _sweep(org_engine, policy, datetime(2026, 11, 3, 23, 55, tzinfo=SHANGHAI))
    assert _outcome(org_engine)[0] == []
    _sweep(org_engine, policy, datetime(2026, 11, 4, 0, 5, tzinfo=SHANGHAI))
    _sweep(org_engine, policy, datetime(2026, 11, 7, 0, 5, tzinfo=SHANGHAI))
    assert _outcome(org_engine)[0] == [
        (
            dispute_id,
            "village",
            "township",
            "village-high-missed-check",
            datetime(2026, 11, 4, tzinfo=SHANGHAI),
        ),
        (
            dispute_id,
            "township",
            "county",
            "township-high-overdue",
            datetime(2026, 11, 6, tzinfo=SHANGHAI),
        ),
    ]
    with reading(org_engine) as session:
        targets = {t.target for t in session.exec(select(Task).where(Task.kind == "acknowledge"))}
    assert targets == {"unit:330101", "unit:330100"}


def test_sweeping_twice_at_the_same_moment_changes_nothing_the_second_time(
    org_engine: Engine, policy: Policy
) -> None:
    for risk in ("high", "medium", "low"):
        report(org_engine, policy, risk=risk)
    now = MONDAY + timedelta(days=9)
    _sweep(org_engine, policy, now)
    before = dump(org_engine)
    second = _sweep(org_engine, policy, now)
    assert dump(org_engine) == before
    assert [r["flow"] for r in second] == ["escalation", "reminders", "delivery"]


def test_one_failing_dispute_is_logged_and_counted_and_the_others_go_on(
    org_engine: Engine, policy: Policy
) -> None:
    broken, healthy = report(org_engine, policy), report(org_engine, policy)
    with org_engine.begin() as connection:  # a bug elsewhere left an event no one can replay
        connection.execute(
            text("UPDATE dispute_events SET kind = 'teleport' WHERE dispute_id = :id"),
            {"id": broken},
        )
        # and no fold to go on from (as after a change of rules): the history is replayed
        connection.execute(text("UPDATE disputes SET fold = NULL WHERE id = :id"), {"id": broken})
    with capture_logs() as logs:
        result = escalation_sweep(
            engine=org_engine, policy=policy, actor=ENGINE, now=MONDAY + timedelta(days=3)
        )
    assert result.failed == [broken]
    assert result.examined == 1 and result.decisions == 1
    failures = [entry for entry in logs if entry["log_level"] == "error"]
    assert len(failures) == 1
    assert {
        "event": "sweep_dispute_failed",
        "flow": "escalation",
        "dispute_id": broken,
        "error": "ValueError",
    }.items() <= failures[0].items()
    assert [e[0] for e in _outcome(org_engine)[0]] == [healthy]


def test_every_obligation_has_a_task_for_whoever_is_responsible_done_when_fulfilled(
    org_engine: Engine, policy: Policy
) -> None:
    dispute_id = report(org_engine, policy, risk="medium")
    record(org_engine, policy, dispute_id, "assign", MONDAY, {"person": "wang"}, by="li")
    record(
        org_engine,
        policy,
        dispute_id,
        "check",
        datetime(2026, 11, 3, 20, tzinfo=SHANGHAI),
        by="wang",
    )
    with reading(org_engine) as session:
        owed = session.exec(
            select(Task).where(Task.kind == "daily_check").order_by(col(Task.id))
        ).all()
    tuesday_end, wednesday_end = (datetime(2026, 11, d, tzinfo=SHANGHAI) for d in (4, 5))
    assert [(t.target, t.due_at, t.state) for t in owed] == [
        ("unit:3301010101", tuesday_end, "cancelled"),  # nobody was assigned yet
        ("person:wang", tuesday_end, "done"),
        ("person:wang", wednesday_end, "open"),
    ]
    results = _sweep(org_engine, policy, datetime(2026, 11, 5, 8, 30, tzinfo=SHANGHAI))
    assert {r["flow"]: r["examined"] for r in results}["daily_check"] == 1  # noticed overdue
    again = _sweep(org_engine, policy, datetime(2026, 11, 6, 8, 30, tzinfo=SHANGHAI))
    assert {r["flow"]: r["examined"] for r in again}["daily_check"] == 0  # once per due time


def test_the_weekly_and_monthly_flows_store_their_reports_once(
    org_engine: Engine, policy: Policy
) -> None:
    dispute_id = report(
        org_engine, policy, risk="high", at=datetime(2026, 10, 20, 9, tzinfo=SHANGHAI)
    )
    _sweep(org_engine, policy, datetime(2026, 11, 2, 9, 30, tzinfo=SHANGHAI))
    _sweep(org_engine, policy, datetime(2026, 11, 2, 9, 45, tzinfo=SHANGHAI))
    with reading(org_engine) as session:
        reports = session.exec(select(Report).order_by(col(Report.kind))).all()
    assert [(r.kind, r.unit_code) for r in reports] == [("monthly", "330100"), ("weekly", "330101")]
    circular, weekly = reports
    assert circular.period_start == datetime(2026, 10, 1, tzinfo=SHANGHAI)
    assert circular.period_end == datetime(2026, 11, 1, tzinfo=SHANGHAI)
    figures = {
        u["unit"]: (u["screened"], u["escalated"], u["open"], u["overdue"])
        for u in circular.content["units"]
    }
    # Reported 20 October, never checked: up to township on the 22nd and county on the 24th;
    # open at the county at the month's end, its checks overdue.
    assert figures == {"330101": (1, 1, 0, 0), "330100": (0, 0, 1, 1)}
    assert circular.content["named"] == [
        {"unit": "330101", "name": "东溪镇", "overdue": 0, "escalated": 1}
    ]
    assert [d["id"] for d in circular.content["disputes"]] == [dispute_id]
    # The week of 26 October to 1 November: nothing happened in the township (零报告).
    assert weekly.period_start == datetime(2026, 10, 26, tzinfo=SHANGHAI)
    assert weekly.content["totals"]["screened"] == weekly.content["totals"]["open"] == 0
    assert [u["unit"] for u in weekly.content["units"]] == ["33010101", "33010102", "330101"]


KINDS = st.sampled_from(["check", "check", "check", "assess", "mediate", "resolve", "note"])


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
# A check recorded exactly when a threshold is crossed: on time, whenever the sweep ran.
@example(risks=["high"], steps=[(0, 87, "check")])
@given(
    risks=st.lists(st.sampled_from(["high", "medium", "low"]), min_size=1, max_size=3),
    steps=st.lists(st.tuples(st.integers(0, 2), st.integers(1, 20 * 24), KINDS), max_size=12),
)
def test_sweeping_every_15_minutes_or_once_at_the_end_leaves_the_same_escalations(
    tmp_path_factory: Any, policy: Policy, risks: list[str], steps: list[tuple[int, int, str]]
) -> None:
    end = MONDAY + timedelta(days=20)
    outcomes = []
    for often in (True, False):
        engine = make_engine(f"sqlite:///{tmp_path_factory.mktemp('freq') / 'f.db'}")
        migrate(engine)
        load_county(engine)
        ids = [report(engine, policy, risk=risk) for risk in risks]
        events = sorted(
            (MONDAY + timedelta(hours=hours), ids[n % len(ids)], kind) for n, hours, kind in steps
        )
        moment = MONDAY
        for at, dispute_id, kind in [*events, (end, None, None)]:
            while often and moment + timedelta(minutes=15) <= at:
                moment += timedelta(minutes=15)
                escalation_sweep(engine=engine, policy=policy, actor=ENGINE, now=moment)
            if dispute_id is None:
                break
            data = (
                {"risk": "high"}
                if kind == "assess"
                else {"method": "people", "agreement": "oral"}
                if kind == "resolve"
                else {"text": "n"}
                if kind == "note"
                else None
            )
            # An event not allowed at that point (resolved already, say) is refused either way.
            with contextlib.suppress(ValueError):
                record(engine, policy, dispute_id, kind, at, data)
        escalation_sweep(engine=engine, policy=policy, actor=ENGINE, now=end)
        outcomes.append(_outcome(engine))
        engine.dispose()
    assert outcomes[0] == outcomes[1]


def test_after_downtime_each_missed_flow_runs_once_and_each_missed_report_is_made_once(
    org_engine: Engine, policy: Policy
) -> None:
    report(org_engine, policy, risk="medium")
    _sweep(org_engine, policy, datetime(2026, 11, 2, 9, 30, tzinfo=SHANGHAI))
    with reading(org_engine) as session:
        runs_before = len(
            session.exec(
                select(FlowRun).where(col(FlowRun.flow).not_in(["escalation", "digest"]))
            ).all()
        )
    # Down from Monday the 2nd until Tuesday the 17th: two Mondays and a 16th missed.
    results = _sweep(org_engine, policy, datetime(2026, 11, 17, 10, tzinfo=SHANGHAI))
    assert sorted(r["flow"] for r in results) == sorted(
        [
            "escalation",
            "daily_check",
            "weekly_assessment",
            "return_visit",
            "half_month_review",
            "weekly",
            "reminders",
            "delivery",
        ]
    )
    with reading(org_engine) as session:
        runs = session.exec(
            select(FlowRun).where(col(FlowRun.flow).not_in(["escalation", "digest"]))
        ).all()
        weekly = session.exec(
            select(Report).where(Report.kind == "weekly").order_by(col(Report.period_end))
        ).all()
    assert len(runs) == runs_before + 5
    # the week before each Monday missed (not 26 October-1 November, before the first dispute)
    assert [r.period_end for r in weekly] == [
        datetime(2026, 11, d, tzinfo=SHANGHAI) for d in (9, 16)
    ]


def _tasks(engine: Engine, kind: str) -> list[tuple[datetime, str]]:
    with reading(engine) as session:
        rows = session.exec(select(Task).where(Task.kind == kind).order_by(col(Task.id))).all()
    return [(t.due_at, t.state) for t in rows]


def test_an_obligation_recorded_late_has_its_task_at_once(
    org_engine: Engine, policy: Policy
) -> None:
    _sweep(org_engine, policy, datetime(2026, 11, 9, 8, 30, tzinfo=SHANGHAI))
    late = datetime(2026, 11, 5, 10, tzinfo=SHANGHAI)  # reported on the 9th, for the 5th
    report(
        org_engine,
        policy,
        now=datetime(2026, 11, 9, 12, tzinfo=SHANGHAI),
        unit="33010101",
        risk="medium",
        category="other",
        title="t",
        at=late,
    )
    assert _tasks(org_engine, "daily_check") == [(datetime(2026, 11, 7, tzinfo=SHANGHAI), "open")]
    results = _sweep(org_engine, policy, datetime(2026, 11, 10, 8, 30, tzinfo=SHANGHAI))
    assert {r["flow"]: r["examined"] for r in results}["daily_check"] == 1


def test_a_task_is_done_only_by_its_fulfilling_event_and_comes_back_after_a_pause(
    org_engine: Engine, policy: Policy
) -> None:
    dispute_id = report(org_engine, policy, risk="low")
    _sweep(org_engine, policy, datetime(2026, 11, 9, 9, 30, tzinfo=SHANGHAI))
    due = datetime(2026, 11, 10, tzinfo=SHANGHAI)
    assert _tasks(org_engine, "weekly_assessment") == [(due, "open")]
    record(
        org_engine,
        policy,
        dispute_id,
        "pause",
        datetime(2026, 11, 9, 10, tzinfo=SHANGHAI),
        {"reason": "当事人住院"},
    )
    assert _tasks(org_engine, "weekly_assessment") == [(due, "cancelled")]
    record(org_engine, policy, dispute_id, "resume", datetime(2026, 11, 9, 11, tzinfo=SHANGHAI))
    shifted = due + timedelta(hours=1)
    assert _tasks(org_engine, "weekly_assessment") == [(due, "cancelled"), (shifted, "open")]
    record(
        org_engine,
        policy,
        dispute_id,
        "assess",
        datetime(2026, 11, 10, 10, tzinfo=SHANGHAI),
        {"risk": "low"},
    )
    assert _tasks(org_engine, "weekly_assessment")[-2:] == [
        (shifted, "done"),
        (datetime(2026, 11, 18, tzinfo=SHANGHAI), "open"),
    ]


def test_the_monthly_inspection_task_is_opened_by_the_run_before_it_falls_due(
    org_engine: Engine, policy: Policy
) -> None:
    dispute_id = report(org_engine, policy, risk="low")
    record(
        org_engine,
        policy,
        dispute_id,
        "supervise",
        datetime(2026, 11, 3, 9, tzinfo=SHANGHAI),
        {"deadline": "2026-12-31T00:00:00+08:00"},
    )
    _sweep(org_engine, policy, datetime(2026, 12, 1, 9, 30, tzinfo=SHANGHAI))
    assert _tasks(org_engine, "monthly_inspection") == [
        (datetime(2026, 12, 2, tzinfo=SHANGHAI), "open")
    ]


def test_concurrent_sweeps_at_the_same_moment_run_each_flow_once(
    org_engine: Engine, policy: Policy
) -> None:
    for risk in ("high", "medium", "low") * 3:
        report(org_engine, policy, risk=risk)
    now = datetime(2026, 11, 9, 9, 30, tzinfo=SHANGHAI)
    run_together(3, lambda _: _sweep(org_engine, policy, now))
    with reading(org_engine) as session:
        runs = session.exec(select(FlowRun.flow)).all()
        tasks = session.exec(select(Task.dispute_id, Task.kind).where(Task.state == "open")).all()
        escalations = session.exec(select(Escalation.dispute_id, Escalation.effective_at)).all()
    assert sorted(runs) == sorted(set(runs))
    assert len([t for t in tasks if t[1] != "acknowledge"]) == len(
        {t for t in tasks if t[1] != "acknowledge"}
    )  # one open task per obligation
    assert len(escalations) == len(set(escalations)) > 0


def _natural(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    """Every row without surrogate ids: tasks by (dispute, kind, target, due), messages by
    their task's natural key rather than its id."""
    tables = SQLModel.metadata.tables
    with engine.connect() as connection:
        tasks = {
            row.id: f"{row.dispute_id}/{row.kind}/{row.target}/{row.due_at}"
            for row in connection.execute(select(tables["tasks"]))
        }
        content = {}
        for name in ("disputes", "dispute_events", "escalations", "obligations", "tasks"):
            rows = connection.execute(select(tables[name])).mappings().all()
            content[name] = sorted(
                tuple(repr(v) for k, v in row.items() if k != "id" or name == "disputes")
                for row in rows
            )
        content["outbox"] = sorted(
            (
                tasks[row.task_id] if row.task_id else row.key,
                row.recipient,
                row.channel,
                row.address,
                row.title,
                re.sub(r"tasks ack \d+", "tasks ack <task>", row.body),
                repr(row.next_attempt_at),
            )
            for row in connection.execute(select(tables["outbox"]))
        )
    return content


def _twin(org_engine: Engine, policy: Policy, tmp_path: Any) -> Engine:
    """A SQLite database with the organisation, and the same histories as ``org_engine``
    recorded in the same order in both."""
    reference = make_engine(f"sqlite:///{tmp_path / 'reference.db'}")
    migrate(reference)
    load_county(reference)
    for engine in (org_engine, reference):
        for day in range(12):
            at = MONDAY + timedelta(days=day, hours=day % 5)
            for risk in ("high", "medium", "low"):
                dispute = report(engine, policy, risk=risk, at=at, unit="3301010102")
                if day % 3 == 0:
                    record(engine, policy, dispute, "assign", at, {"person": "zhao"})
                if day % 4 == 1:
                    record(engine, policy, dispute, "check", at + timedelta(hours=20))
                if day == 6:
                    record(
                        engine,
                        policy,
                        dispute,
                        "pause",
                        at + timedelta(hours=1),
                        {"reason": "住院"},
                    )
    return reference


def test_the_batched_sweep_writes_exactly_what_one_transaction_per_dispute_writes(
    org_engine: Engine, policy: Policy, tmp_path: Any
) -> None:
    reference = _twin(org_engine, policy, tmp_path)
    now = MONDAY + timedelta(days=40)
    with reading(reference) as session:
        due = list(
            session.exec(
                select(Dispute.id)
                .where(col(Dispute.next_decision_at) < now)
                .order_by(col(Dispute.next_decision_at), col(Dispute.id))
            )
        )
    assert len(due) > 20

    with capture_logs() as logs:
        batched = escalation_sweep(engine=org_engine, policy=policy, actor=ENGINE, now=now, size=7)
    assert not [e for e in logs if e["event"] == "sweep_batch_failed"]  # no fallback taken
    one_by_one = sweep_disputes(due, engine=reference, policy=policy, now=now, flow="escalation")

    assert batched.failed == one_by_one.failed == []
    assert (batched.examined, batched.decisions) == (one_by_one.examined, one_by_one.decisions)
    assert (batched.obligations_changed) == one_by_one.obligations_changed
    assert _natural(org_engine) == _natural(reference)
    reference.dispose()


def test_going_on_from_the_stored_folds_writes_exactly_what_replaying_every_history_writes(
    org_engine: Engine, policy: Policy, tmp_path: Any
) -> None:
    reference = _twin(org_engine, policy, tmp_path)
    now = MONDAY + timedelta(days=40)
    with reference.begin() as connection:  # as after a change of rules: nothing to go on from
        forgotten = connection.execute(
            text("UPDATE disputes SET fold = NULL WHERE next_decision_at < :now"), {"now": now}
        )
        assert forgotten.rowcount > 20
    going_on = escalation_sweep(engine=org_engine, policy=policy, actor=ENGINE, now=now, size=7)
    replayed = escalation_sweep(engine=reference, policy=policy, actor=ENGINE, now=now, size=7)
    assert going_on.decisions == replayed.decisions > 20
    assert _natural(org_engine) == _natural(reference)  # the new folds too
    later = now + timedelta(days=20)  # and again, now that both go on from their folds
    escalation_sweep(engine=org_engine, policy=policy, actor=ENGINE, now=later)
    escalation_sweep(engine=reference, policy=policy, actor=ENGINE, now=later)
    assert _natural(org_engine) == _natural(reference)
    reference.dispose()
