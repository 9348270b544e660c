"""What a change of the rules changes: the rule file's keys, and one dispute's evaluation
under the rules in force and under the new ones (pure: no database)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from models.lifecycle import DisputeState
from models.values import Level, Risk
from rules.compare import KeyChange, compare_evaluations, key_changes
from rules.evaluate import evaluate
from rules.policy import Policy
from tests.support.histories import MONDAY, PATH, POLICY, at, end
from tests.support.rules import LOW_AT_VILLAGE, edited_rules


def _content(policy: Policy) -> dict[str, object]:
    return policy.rules.model_dump(mode="json", by_alias=True)


def _both(new: Policy, risk: Risk, *, now: object):
    initial = DisputeState.reported(path=PATH, risk=risk, at=MONDAY)
    return (
        evaluate(initial, [], policy=POLICY, now=now),  # type: ignore[arg-type]
        evaluate(initial, [], policy=new, now=now),  # type: ignore[arg-type]
    )


def test_the_same_rules_change_no_key() -> None:
    assert key_changes(_content(POLICY), _content(POLICY)) == []


def test_a_changed_threshold_is_one_key_named_by_its_rule_id(tmp_path: Path) -> None:
    new = edited_rules(tmp_path, LOW_AT_VILLAGE, LOW_AT_VILLAGE.replace("30d", "5d"))
    assert key_changes(_content(POLICY), _content(new)) == [
        KeyChange("escalations[village-low-unresolved].after", "30d", "5d")
    ]


def test_a_rule_inserted_first_is_added_without_moving_the_others(tmp_path: Path) -> None:
    first = "escalations:\n"
    added = (
        "escalations:\n  - {id: township-low-unresolved, from: township, to: county, risk: low,\n"
        "     when: unresolved, after: 60d}\n"
    )
    new = edited_rules(tmp_path, first, added)
    changes = key_changes(_content(POLICY), _content(new))
    assert "escalations[township-low-unresolved].after" in {c.key for c in changes}
    assert all(c.key.startswith("escalations[township-low-unresolved].") for c in changes)
    assert all(c.old is None for c in changes)


def test_a_key_only_the_old_rules_had_is_removed() -> None:
    old = {"calendar": {"base": "chinese"}, "name": "a"}
    assert key_changes(old, {"name": "a"}) == [KeyChange("calendar.base", "chinese", None)]


def test_a_list_of_plain_values_is_one_key() -> None:
    old = {"obligations": {"daily_check": {"applies_to": {"risks": ["high", "medium"]}}}}
    new = {"obligations": {"daily_check": {"applies_to": {"risks": ["high"]}}}}
    assert key_changes(old, new) == [
        KeyChange("obligations.daily_check.applies_to.risks", ["high", "medium"], ["high"])
    ]


def test_a_dispute_both_rule_sets_treat_alike_is_no_change(tmp_path: Path) -> None:
    new = edited_rules(tmp_path, LOW_AT_VILLAGE, LOW_AT_VILLAGE.replace("30d", "5d"))
    old_eval, new_eval = _both(new, Risk.high, now=at(2026, 11, 10))  # the change is for low risk
    assert compare_evaluations(old_eval, new_eval) is None


def test_a_shorter_threshold_makes_an_escalation_due_now_with_its_crossing_time(
    tmp_path: Path,
) -> None:
    new = edited_rules(tmp_path, LOW_AT_VILLAGE, LOW_AT_VILLAGE.replace("30d", "5d"))
    change = compare_evaluations(*_both(new, Risk.low, now=at(2026, 11, 10)))
    assert change is not None
    [escalation] = change.due_now
    assert (escalation.to_level, escalation.effective_at) == (Level.township, end(2026, 11, 7))
    assert change.no_longer_due == ()
    assert change.next is not None and change.next.old is not None
    assert change.next.old.effective_at == end(2026, 12, 2)
    assert change.next.new is None  # at the township a low-risk dispute is not escalated
    assert change.next.moved is None
    weekly = dict((name, (old, new)) for name, old, new in change.obligations)["weekly_assessment"]
    assert weekly == (end(2026, 11, 9), end(2026, 11, 14))  # counted again from the township


def test_a_longer_threshold_moves_the_next_escalation_later_by_the_difference(
    tmp_path: Path,
) -> None:
    new = edited_rules(tmp_path, LOW_AT_VILLAGE, LOW_AT_VILLAGE.replace("30d", "40d"))
    change = compare_evaluations(*_both(new, Risk.low, now=at(2026, 11, 10)))
    assert change is not None and change.due_now == () and change.obligations == ()
    assert change.next is not None and change.next.moved == timedelta(days=10)


def test_an_escalation_the_current_rules_make_anyway_is_not_a_change(tmp_path: Path) -> None:
    # Both rule sets escalate the low-risk dispute after 30 days; only the high-risk rule changed.
    new = edited_rules(tmp_path, "when: unresolved, after: 3d}", "when: unresolved, after: 2d}")
    old_eval, new_eval = _both(new, Risk.low, now=at(2026, 12, 10))
    assert old_eval.decisions and compare_evaluations(old_eval, new_eval) is None


@pytest.mark.parametrize("supervised_after", ["15d", "10d"])
def test_listing_differs_only_when_one_rule_set_lists_and_the_other_not(
    tmp_path: Path, supervised_after: str
) -> None:
    line = "risk: high, after: 15d, deadline: 15d}"
    new = edited_rules(tmp_path, line, line.replace("after: 15d", f"after: {supervised_after}"))
    old_eval, new_eval = _both(new, Risk.high, now=at(2026, 11, 18))
    change = compare_evaluations(old_eval, new_eval)
    if supervised_after == "15d":
        assert change is None
    else:
        assert change is not None and change.supervised is True
