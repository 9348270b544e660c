"""The planner, without a database: what recording events on a dispute, or sweeping it,
writes. Rows stored are stand-ins with the fields the planner reads."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from types import MappingProxyType
from typing import Any

from models.lifecycle import DisputeState, Event
from models.values import (
    ACKNOWLEDGEMENT,
    NO_DEADLINE,
    EventKind,
    MessageKind,
    Risk,
    Role,
    TaskState,
)
from rules.evaluate import Evaluation, evaluate
from tests.support.histories import PATH, POLICY, at, end
from workflows.changes import Plan, Staff, plan_dispute

K = EventKind
REPORTED = at(2026, 11, 2, 10)  # Monday


@dataclass(frozen=True)
class Row:
    """A ``disputes`` row: what the planner reads of it."""

    id: int = 7
    category: str = "邻里纠纷"
    reported_unit: str = "3301010101"
    last_seq: int = 1
    record: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Obligation:
    id: int
    kind: str
    due_at: datetime
    rules_version: str = POLICY.version
    overdue_noted: bool = False


@dataclass(frozen=True)
class Task:
    id: int
    kind: str
    target: str
    due_at: datetime


def _event(
    kind: EventKind, moment: datetime, seq: int, actor: str | None = None, **data: Any
) -> Event:
    return Event(kind, moment, MappingProxyType(data), actor=actor, seq=seq)


def _evaluation(risk: Risk, past: Sequence[Event], now: datetime) -> Evaluation:
    initial = DisputeState.reported(path=PATH, risk=risk, at=REPORTED)
    return evaluate(initial, past, policy=POLICY, now=now)


def _recorded_obligations(evaluation: Evaluation) -> list[Obligation]:
    return [Obligation(n, o.name, o.due_at) for n, o in enumerate(evaluation.obligations, 100)]


def _recorded_tasks(evaluation: Evaluation) -> list[Task]:
    """The task of each obligation, for nobody assigned: the grid's, the review the township's."""
    return [
        Task(
            n,
            o.name,
            "unit:330101" if o.name == "half_month_review" else "unit:3301010101",
            o.due_at,
        )
        for n, o in enumerate(evaluation.obligations, 1)
    ]


def test_a_check_is_planned_as_its_event_and_closes_the_check_task_as_done() -> None:
    before = _evaluation(Risk.high, [], REPORTED)
    check = _event(K.check, at(2026, 11, 3, 17), 2, actor="wang")  # Tuesday
    after = _evaluation(Risk.high, [check], check.at)
    tasks = _recorded_tasks(before)
    assert (tasks[0].kind, tasks[0].due_at) == ("daily_check", end(2026, 11, 3))
    plan = plan_dispute(
        Row(),
        after,
        fresh=[check],
        obligations=_recorded_obligations(before),
        tasks=tasks,
        policy=POLICY,
        now=check.at,
    )
    assert [(e["seq"], e["kind"], e["actor"]) for e in plan.events] == [(2, "check", "wang")]
    assert plan.escalations == [] and plan.decisions == [] and plan.acknowledgements == []
    [dispute] = plan.disputes
    assert (dispute["b_id"], dispute["last_seq"], dispute["status"]) == (7, 2, "reported")
    assert plan.tasks_closed == [{"b_id": 1, "state": TaskState.done, "closed_at": check.at}]
    assert [(t["kind"], t["target"], t["due_at"]) for t in plan.tasks_opened] == [
        ("daily_check", "unit:3301010101", end(2026, 11, 4))  # a working day after the check
    ]
    daily = next(o for o in plan.obligations.moved)
    assert daily == {
        "b_id": 100,
        "due_at": end(2026, 11, 4),
        "rule": "obligations.daily_check",
        "rules_version": POLICY.version,
        "overdue_noted": False,
    }


def test_a_missed_check_found_by_the_sweep_escalates_with_an_acknowledgement_for_the_township() -> (
    None
):
    before = _evaluation(Risk.high, [], REPORTED)
    now = at(2026, 11, 4, 8, 30)
    swept = _evaluation(Risk.high, [], now)
    plan = plan_dispute(
        Row(), swept, obligations=_recorded_obligations(before), policy=POLICY, now=now
    )
    assert [(e["seq"], e["kind"], e["at"], e["actor"]) for e in plan.events] == [
        (2, "escalate", end(2026, 11, 3), None)
    ]
    assert [(rule, d.to_level) for _, d in plan.decisions for rule in [d.rule]] == [
        ("village-high-missed-check", "township")
    ]
    [escalation] = plan.escalations
    assert (escalation["from_unit"], escalation["to_unit"], escalation["event_seq"]) == (
        "33010101",
        "330101",
        2,
    )
    assert escalation["rule"] == "village-high-missed-check"
    [ack] = plan.acknowledgements
    assert (ack.row["kind"], ack.row["target"], ack.announce) == (
        ACKNOWLEDGEMENT,
        "unit:330101",
        MessageKind.escalated,
    )
    assert ack.row["due_at"] == end(2026, 11, 3) + timedelta(hours=2)  # high risk: 2h
    assert plan.disputes[0]["last_seq"] == 2 and plan.disputes[0]["level"] == "township"


def test_decisions_are_numbered_after_the_events_recorded_with_them() -> None:
    late = _event(K.check, at(2026, 11, 4, 15), 2)  # the check was due at 24:00 on the 3rd
    evaluation = _evaluation(Risk.high, [late], late.at)
    plan = plan_dispute(Row(), evaluation, fresh=[late], policy=POLICY, now=late.at)
    assert [(e["seq"], e["kind"]) for e in plan.events] == [(2, "check"), (3, "escalate")]
    assert plan.escalations[0]["event_seq"] == 3
    assert plan.disputes[0]["last_seq"] == 3


def test_an_assignment_opens_the_persons_acknowledgement_and_cancels_the_one_owed_before() -> None:
    assign = _event(K.assign, at(2026, 11, 2, 11), 2, actor="li", person="zhao")
    evaluation = _evaluation(Risk.medium, [assign], assign.at)
    owed = [Task(5, ACKNOWLEDGEMENT, "person:wang", at(2026, 11, 3, 10))]
    plan = plan_dispute(Row(), evaluation, fresh=[assign], tasks=owed, policy=POLICY, now=assign.at)
    assert {"b_id": 5, "state": TaskState.cancelled, "closed_at": assign.at} in plan.tasks_closed
    [ack] = plan.acknowledgements
    assert (ack.row["target"], ack.row["state"], ack.announce) == (
        "person:zhao",
        TaskState.open,
        MessageKind.assigned,
    )
    assert ack.row["due_at"] == assign.at + timedelta(hours=24)  # medium risk


def test_a_township_supervisors_acknowledgement_answers_for_what_was_passed_up_to_them() -> None:
    escalate = _event(K.escalate, at(2026, 11, 2, 11), 2, actor="li")
    acknowledge = _event(K.acknowledge, at(2026, 11, 2, 12), 3, actor="li")
    evaluation = _evaluation(Risk.high, [escalate, acknowledge], acknowledge.at)
    owed = [Task(5, ACKNOWLEDGEMENT, "person:wang", at(2026, 11, 2, 12))]
    plan = plan_dispute(
        Row(),
        evaluation,
        fresh=[escalate, acknowledge],
        tasks=owed,
        people={"li": Staff(Role.supervisor, "330101")},
        policy=POLICY,
        now=acknowledge.at,
    )
    assert {"b_id": 5, "state": TaskState.done, "closed_at": acknowledge.at} in plan.tasks_closed
    [township] = plan.acknowledgements  # opened by the escalation, acknowledged at once
    assert (township.row["target"], township.row["state"], township.row["closed_at"]) == (
        "unit:330101",
        TaskState.done,
        acknowledge.at,
    )
    assert township.announce is MessageKind.escalated  # announced all the same
    assert [e["rule"] for e in plan.escalations] == ["manual"]


def test_a_mediators_acknowledgement_gives_only_their_own() -> None:
    acknowledge = _event(K.acknowledge, at(2026, 11, 2, 12), 2, actor="wang")
    evaluation = _evaluation(Risk.high, [acknowledge], acknowledge.at)
    owed = [
        Task(5, ACKNOWLEDGEMENT, "person:wang", at(2026, 11, 2, 13)),
        Task(6, ACKNOWLEDGEMENT, "unit:330101", at(2026, 11, 2, 13)),
    ]
    plan = plan_dispute(
        Row(),
        evaluation,
        fresh=[acknowledge],
        tasks=owed,
        people={"wang": Staff(Role.mediator, "33010101")},
        policy=POLICY,
        now=acknowledge.at,
    )
    assert plan.tasks_closed == [{"b_id": 5, "state": TaskState.done, "closed_at": acknowledge.at}]


def test_a_dispute_no_longer_open_cancels_what_is_left_to_acknowledge_and_announces_nothing() -> (
    None
):
    assign = _event(K.assign, at(2026, 11, 2, 11), 2, actor="li", person="wang")
    resolve = _event(
        K.resolve, at(2026, 11, 2, 15), 3, actor="wang", method="people", agreement="oral"
    )
    evaluation = _evaluation(Risk.low, [assign, resolve], resolve.at)
    plan = plan_dispute(Row(), evaluation, fresh=[assign, resolve], policy=POLICY, now=resolve.at)
    [ack] = plan.acknowledgements
    assert (ack.row["state"], ack.row["closed_at"], ack.announce) == (
        TaskState.cancelled,
        resolve.at,
        None,
    )
    assert ack.row["next_reminder_at"] is None


def test_an_obligation_whose_due_time_moves_is_noticed_overdue_again_in_its_turn() -> None:
    assess = _event(K.assess, at(2026, 11, 5, 10), 2, risk="low")
    evaluation = _evaluation(Risk.low, [assess], assess.at)
    stored = [Obligation(9, "weekly_assessment", end(2026, 11, 9), overdue_noted=True)]
    plan = plan_dispute(
        Row(), evaluation, fresh=[assess], obligations=stored, policy=POLICY, now=assess.at
    )
    [moved] = plan.obligations.moved
    assert moved["due_at"] == end(2026, 11, 12) and moved["overdue_noted"] is False


def test_a_sweep_of_a_dispute_with_nothing_due_changes_only_its_row() -> None:
    evaluation = _evaluation(Risk.low, [], REPORTED)
    plan = plan_dispute(
        Row(),
        evaluation,
        obligations=_recorded_obligations(evaluation),
        tasks=_recorded_tasks(evaluation),
        policy=POLICY,
        now=REPORTED,
    )
    assert (plan.events, plan.escalations, plan.acknowledgements) == ([], [], [])
    assert len(plan.obligations) == 0
    assert (plan.tasks_closed, plan.tasks_opened) == ([], [])
    assert [d["b_id"] for d in plan.disputes] == [7]


def test_plans_of_several_disputes_add_up_to_one_plan() -> None:
    evaluation = _evaluation(Risk.high, [], at(2026, 11, 4, 8, 30))
    total = Plan()
    for dispute_id in (1, 2, 3):
        total.extend(
            plan_dispute(Row(id=dispute_id), evaluation, policy=POLICY, now=at(2026, 11, 4, 9))
        )
    assert [d["b_id"] for d in total.disputes] == [1, 2, 3]
    assert [e["dispute_id"] for e in total.events] == [1, 2, 3]
    assert [a.row["dispute_id"] for a in total.acknowledgements] == [1, 2, 3]
    assert len(total.obligations.new) == 3 * len(evaluation.obligations)


def test_the_next_deadline_is_the_earliest_obligation_or_acknowledgement_owed() -> None:
    reported = _evaluation(Risk.high, [], REPORTED)
    plan = plan_dispute(Row(), reported, policy=POLICY, now=REPORTED)
    assert plan.disputes[0]["attention_at"] == end(2026, 11, 3)  # the daily check
    assert plan.disputes[0]["risk_rank"] == 0
    now = at(2026, 11, 4, 8, 30)
    swept = plan_dispute(
        Row(),
        _evaluation(Risk.high, [], now),
        obligations=_recorded_obligations(reported),
        policy=POLICY,
        now=now,
    )
    # escalated at 24:00 on the 3rd: the township owes its acknowledgement by 02:00
    assert swept.disputes[0]["attention_at"] == end(2026, 11, 3) + timedelta(hours=2)
    acknowledge = _event(K.acknowledge, at(2026, 11, 4, 9), 3, actor="li")
    owed = [Task(8, ACKNOWLEDGEMENT, "unit:330101", end(2026, 11, 3) + timedelta(hours=2))]
    evaluation = _evaluation(
        Risk.high, [_event(K.escalate, end(2026, 11, 3), 2), acknowledge], acknowledge.at
    )
    acknowledged = plan_dispute(
        Row(last_seq=2),
        evaluation,
        fresh=[acknowledge],
        tasks=owed,
        people={"li": Staff(Role.supervisor, "330101")},
        policy=POLICY,
        now=acknowledge.at,
    )
    assert acknowledged.disputes[0]["attention_at"] == min(o.due_at for o in evaluation.obligations)


def test_a_dispute_that_owes_nothing_sorts_last() -> None:
    resolve = _event(K.resolve, at(2026, 11, 2, 15), 2, method="people", agreement="oral")
    visit = _event(K.visit, at(2026, 11, 3, 15), 3, outcome="stable")
    evaluation = _evaluation(Risk.low, [resolve, visit], visit.at)
    plan = plan_dispute(
        Row(last_seq=1), evaluation, fresh=[resolve, visit], policy=POLICY, now=visit.at
    )
    assert plan.disputes[0]["attention_at"] == NO_DEADLINE
