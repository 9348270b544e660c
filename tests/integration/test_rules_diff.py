"""`rules diff` on a generated county: exactly the disputes a rule change moves, and how;
nothing for a change that moves none; and what it says would be recorded now is what
putting the rules in force records."""

from __future__ import annotations

import shutil
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine
from sqlmodel import select

from bench.generate import generate
from models.tables import Escalation
from models.values import ENGINE
from rules.policy import Policy
from tests.support.recording import sweep
from tests.support.rules import LOW_AT_VILLAGE, edited_rules
from workflows.db import make_engine, reading
from workflows.rollout import ChangedDispute, apply_rules, diff_rules

SHANGHAI = ZoneInfo("Asia/Shanghai")
GENERATED_AT = datetime(2026, 11, 16, 9, 0, tzinfo=SHANGHAI)  # a Monday
NOW = GENERATED_AT + timedelta(days=2)


@pytest.fixture(scope="module")
def county(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A generated county of 400 open disputes, 40 of them due at the time it was made."""
    path = tmp_path_factory.mktemp("county") / "county.db"
    generate(f"sqlite:///{path}", open_disputes=400, due=40, now=GENERATED_AT, seed=5)
    return path


@pytest.fixture
def engine(county: Path, tmp_path: Path) -> Any:
    copy = tmp_path / "copy.db"
    shutil.copy(county, copy)
    engine = make_engine(f"sqlite:///{copy}")
    yield engine
    engine.dispose()


def _diff(engine: Engine, new: Policy, policy: Policy) -> tuple[Any, list[ChangedDispute]]:
    found: list[ChangedDispute] = []
    done: list[tuple[int, int]] = []
    diff = diff_rules(
        engine=engine,
        policy=new,
        fallback=policy,
        now=NOW,
        found=found.append,
        progress=lambda d, t: done.append((d, t)),
    )
    assert done and done[-1][0] == done[-1][1] == diff.examined
    return diff, found


def _escalations(engine: Engine) -> set[tuple[int, str, datetime]]:
    with reading(engine) as session:
        rows = session.exec(select(Escalation)).all()
    return {(e.dispute_id, e.to_level, e.effective_at) for e in rows}


def test_the_same_rules_move_no_dispute(engine: Engine, policy: Policy) -> None:
    diff, found = _diff(engine, policy, policy)
    assert diff.keys == [] and found == [] and diff.changed == 0


def test_a_change_of_wording_is_a_key_and_moves_no_dispute(
    engine: Engine, policy: Policy, tmp_path: Path
) -> None:
    new = edited_rules(tmp_path, "label: {en: daily check,", "label: {en: daily visit,")
    diff, found = _diff(engine, new, policy)
    assert [(k.key, k.old, k.new) for k in diff.keys] == [
        ("obligations.daily_check.label.en", "daily check", "daily visit")
    ]
    assert found == [] and diff.changed == 0 and diff.examined >= 400


def test_a_shorter_threshold_names_what_applying_it_records_beyond_the_rules_in_force(
    engine: Engine, county: Path, policy: Policy, tmp_path: Path
) -> None:
    new = edited_rules(tmp_path, LOW_AT_VILLAGE, LOW_AT_VILLAGE.replace("30d", "5d"))
    diff, found = _diff(engine, new, policy)
    assert found and diff.changed == len(found)
    assert {f.risk for f in found} == {"low"}  # only the low-risk rule changed
    assert diff.by_risk == {"low": diff.changed} and sum(diff.by_unit.values()) == diff.changed
    assert diff.counts["due_now"] == sum(bool(f.change and f.change.due_now) for f in found)

    def said(side: str) -> set[tuple[int, str, datetime]]:
        return {
            (f.id, d.to_level.value, d.effective_at)
            for f in found
            if f.change is not None
            for d in getattr(f.change, side)
        }

    # The same county twice: the rules in force swept now, and the new rules put in force now.
    other = tmp_path / "other.db"
    shutil.copy(county, other)
    swept = make_engine(f"sqlite:///{other}")
    sweep(swept, policy, NOW)
    apply_rules(engine=engine, policy=new, now=NOW, actor=ENGINE, reason="test")
    under_old, under_new = _escalations(swept), _escalations(engine)
    swept.dispose()
    assert under_new - under_old == said("due_now")
    assert under_old - under_new == said("no_longer_due")


def test_a_longer_threshold_takes_back_what_was_due_and_moves_the_rest_later(
    engine: Engine, policy: Policy, tmp_path: Path
) -> None:
    new = edited_rules(tmp_path, LOW_AT_VILLAGE, LOW_AT_VILLAGE.replace("30d", "45d"))
    diff, found = _diff(engine, new, policy)
    assert diff.counts["due_now"] == 0
    taken_back = [f for f in found if f.change is not None and f.change.no_longer_due]
    moved = [f for f in found if f not in taken_back]
    assert taken_back and moved  # some were due under 30 days, the others come later
    for f in moved:
        assert f.change is not None and f.change.next is not None
        assert f.change.next.moved == timedelta(days=15)
    assert diff.counts["next_later"] == len(moved)
    assert diff.counts["no_longer_due"] == len(taken_back)


def test_the_diff_is_against_the_rules_in_force_not_the_file_the_command_ran_with(
    engine: Engine, policy: Policy, tmp_path: Path
) -> None:
    new = edited_rules(tmp_path, LOW_AT_VILLAGE, LOW_AT_VILLAGE.replace("30d", "5d"))
    apply_rules(engine=engine, policy=new, now=NOW, actor=ENGINE, reason="test")
    diff, found = _diff(engine, new, policy)  # the command's own file is the old one
    assert diff.in_force and diff.old.version == new.version
    assert diff.keys == [] and found == []


def test_a_scope_larger_than_asked_is_not_compared_but_its_keys_are_given(
    engine: Engine, policy: Policy, tmp_path: Path
) -> None:
    new = edited_rules(tmp_path, LOW_AT_VILLAGE, LOW_AT_VILLAGE.replace("30d", "5d"))
    found: list[ChangedDispute] = []
    diff = diff_rules(
        engine=engine, policy=new, fallback=policy, now=NOW, found=found.append, largest=10
    )
    assert diff.too_many and diff.live >= 400 and diff.examined == 0 and found == []
    assert [k.key for k in diff.keys] == ["escalations[village-low-unresolved].after"]
