"""``rules explain`` and the dispute page's explanation: gone on from the stored fold when it
was made under the rules asked about, without reading the history, and the same as the
history replayed."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, event

from rules.evaluate import evaluate
from rules.policy import Policy, load_policy
from tests.support.recording import MONDAY, record, report, sweep
from workflows.access import dispute_in_scope
from workflows.changes import history, initial_state
from workflows.db import reading
from workflows.views import explain_view, shape_explanation


@contextmanager
def _statements(engine: Engine) -> Iterator[list[str]]:
    seen: list[str] = []

    def note(*args: Any) -> None:
        seen.append(args[2])

    event.listen(engine, "before_cursor_execute", note)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", note)


def _replayed(engine: Engine, dispute: int, policy: Policy, now: Any) -> dict[str, Any]:
    with reading(engine) as session:
        row = dispute_in_scope(session, None, dispute)
        past = history(session, dispute)
    evaluation = evaluate(initial_state(row, past), past, policy=policy, now=now)
    return shape_explanation(dispute, evaluation, policy=policy, now=now, zone=policy.zone)


def test_the_explanation_goes_on_from_the_fold_and_says_what_the_replay_says(
    org_engine: Engine, policy: Policy
) -> None:
    dispute = report(org_engine, policy, unit="33010101", risk="high")
    record(org_engine, policy, dispute, "check", MONDAY + timedelta(hours=3))
    sweep(org_engine, policy, MONDAY + timedelta(days=3))  # escalates: the fold moves on
    for days in (4, 9):  # later, with decisions due that no sweep has recorded yet
        now = MONDAY + timedelta(days=days)
        with _statements(org_engine) as seen:
            explained = explain_view(
                engine=org_engine, dispute_id=dispute, policy=policy, now=now, zone=policy.zone
            )
        assert not [s for s in seen if "dispute_events" in s]
        assert explained == _replayed(org_engine, dispute, policy, now)
    assert explained["due_unrecorded"]


def test_under_a_draft_rule_file_the_explanation_replays_the_history(
    org_engine: Engine, policy: Policy, tmp_path: Path
) -> None:
    dispute = report(org_engine, policy, unit="33010101", risk="high")
    record(org_engine, policy, dispute, "check", MONDAY + timedelta(hours=3))
    shipped = (Path(__file__).resolve().parents[2] / "rules" / "default.yaml").read_text("utf-8")
    draft = tmp_path / "draft.yaml"
    draft.write_text(
        shipped.replace("when: unresolved, after: 3d}", "when: unresolved, after: 1d}")
    )
    other = load_policy(draft)
    assert other.version != policy.version
    now = MONDAY + timedelta(days=2)
    with _statements(org_engine) as seen:
        explained = explain_view(
            engine=org_engine, dispute_id=dispute, policy=other, now=now, zone=other.zone
        )
    assert [s for s in seen if "dispute_events" in s]
    assert explained == _replayed(org_engine, dispute, other, now)
    assert explained["due_unrecorded"]  # one day, not three: the draft's escalation
