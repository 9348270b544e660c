"""The embedded engine writes only under the rules in force: it starts under them, refuses to
start under another file, reloads its rule file (the shipped one included) when it changes,
and takes up rules put in force meanwhile by `rules apply`."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlmodel import select

import scheduler
from models.tables import RuleChange, SchedulerLock
from models.values import ENGINE
from rules.loader import default_rules_path
from rules.policy import Policy, load_policy
from scheduler import EmbeddedEngine
from tests.support.recording import MONDAY
from tests.support.rules import SHIPPED
from workflows.db import reading
from workflows.rollout import apply_rules
from workflows.rulesets import RulesNotInForce


def _file(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _engine_of(engine: Engine, rules_path: Path | None) -> EmbeddedEngine:
    return EmbeddedEngine(
        engine=engine, db_url=str(engine.url), rules_path=rules_path, kind="direct", now=MONDAY
    )


def _put_in_force(engine: Engine, path: Path) -> Policy:
    policy = load_policy(path)
    apply_rules(engine=engine, policy=policy, now=MONDAY, actor=ENGINE, reason="test")
    return policy


def test_without_a_rule_file_the_engine_starts_under_the_rules_in_force(
    org_engine: Engine, tmp_path: Path
) -> None:
    stricter = _put_in_force(
        org_engine, _file(tmp_path, "s.yaml", SHIPPED.replace("due: 7d", "due: 3d"))
    )
    assert _engine_of(org_engine, None).policy.version == stricter.version


def test_a_rule_file_not_in_force_is_refused_before_the_lock_is_taken(
    org_engine: Engine, tmp_path: Path
) -> None:
    _put_in_force(org_engine, _file(tmp_path, "s.yaml", SHIPPED.replace("due: 7d", "due: 3d")))
    other = _engine_of(org_engine, default_rules_path())
    with pytest.raises(RulesNotInForce, match="are not the rules in force"):
        other.start()
    with reading(org_engine) as session:
        assert session.exec(select(SchedulerLock)).all() == []


def test_a_changed_rule_file_is_put_in_force_by_the_engine_with_its_reason(
    org_engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shipped = _file(tmp_path, "default.yaml", SHIPPED)
    monkeypatch.setattr(scheduler, "default_rules_path", lambda: shipped)
    embedded = _engine_of(org_engine, None)  # watches the shipped file
    shipped.write_text(SHIPPED.replace("due: 7d", "due: 5d"), encoding="utf-8")
    embedded._reload()
    assert embedded.policy.version == load_policy(shipped).version
    with reading(org_engine) as session:
        change = session.exec(select(RuleChange)).one()
    assert (change.actor, change.to_version) == ("engine", embedded.policy.version)
    assert change.reason is not None and str(shipped) in change.reason


def test_the_engine_takes_up_rules_put_in_force_meanwhile(
    org_engine: Engine, tmp_path: Path, policy: Policy
) -> None:
    embedded = _engine_of(org_engine, None)
    assert embedded.policy.version == policy.version
    stricter = _put_in_force(
        org_engine, _file(tmp_path, "s.yaml", SHIPPED.replace("due: 7d", "due: 3d"))
    )
    embedded._reload()  # the file did not change: the database's rules did
    assert embedded.policy.version == stricter.version


def test_a_changed_file_already_put_in_force_is_taken_up_without_a_second_change(
    org_engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shipped = _file(tmp_path, "default.yaml", SHIPPED)
    monkeypatch.setattr(scheduler, "default_rules_path", lambda: shipped)
    embedded = _engine_of(org_engine, None)
    edited = SHIPPED.replace("due: 7d", "due: 5d")
    applied = _put_in_force(org_engine, _file(tmp_path, "edited.yaml", edited))
    shipped.write_text(edited, encoding="utf-8")  # the administrator saves the same file
    embedded._reload()
    assert embedded.policy.version == applied.version
    with reading(org_engine) as session:
        assert len(session.exec(select(RuleChange)).all()) == 1
