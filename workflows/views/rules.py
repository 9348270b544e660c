"""The JSON of ``fengqiao rules diff`` and ``rules history`` (and the administrators' pages):
a rule change's keys, the disputes it moves and how, and the changes put in force."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Engine
from sqlmodel import col, select

from models.tables import RuleChange, RuleSetRecord
from rules.compare import KeyChange, key_changes
from rules.policy import rules_label
from workflows.db import reading
from workflows.rollout import KINDS, ChangedDispute, RulesDiff
from workflows.views.dispute import iso
from workflows.views.explain import decision_json

__all__ = [
    "rules_history_view",
    "shape_changed",
    "shape_counts",
    "shape_keys",
    "shape_versions",
]


def rules_history_view(*, engine: Engine, zone: ZoneInfo) -> list[dict[str, Any]]:
    """Every change of the rules in force, oldest first: when, who, why, from which version
    to which, what it recomputed and recorded, and the rule file's keys it changed."""
    with reading(engine) as session:
        changes = session.exec(select(RuleChange).order_by(col(RuleChange.id))).all()
        versions = {c.to_version for c in changes} | {c.from_version for c in changes}
        records = {
            r.version: r
            for r in session.exec(
                select(RuleSetRecord).where(col(RuleSetRecord.version).in_(versions))
            ).all()
        }
    history = []
    for change in changes:
        old = records.get(change.from_version) if change.from_version else None
        new = records[change.to_version]
        history.append(
            {
                "id": change.id,
                "at": iso(change.at, zone),
                "by": change.actor,
                "reason": change.reason,
                "from_version": change.from_version,
                "to_version": change.to_version,
                "name": new.name,
                "label": rules_label(new.name, change.to_version),
                "source": new.source,
                "disputes_recomputed": change.disputes_recomputed,
                "decisions_recorded": change.decisions_recorded,
                "changes": shape_keys(key_changes(old.content if old else None, new.content)),
            }
        )
    return history


def shape_keys(keys: Sequence[KeyChange]) -> list[dict[str, Any]]:
    """The rule file's changed keys: ``{key, old, new}`` (null: absent on that side)."""
    return [{"key": k.key, "old": k.old, "new": k.new} for k in keys]


def shape_versions(diff: RulesDiff) -> dict[str, Any]:
    """Which rules are compared: the rules in force (or, before any was put in force, the
    file the command ran with) and the new ones."""
    return {
        "from": {"version": diff.old.version, "label": diff.old.label, "in_force": diff.in_force},
        "to": {"version": diff.new.version, "label": diff.new.label, "source": diff.new.source},
    }


def shape_changed(found: ChangedDispute, zone: ZoneInfo) -> dict[str, Any]:
    """One dispute the new rules treat differently: what they would record now that the
    rules in force would not (and the reverse), its next decision under each and how far it
    moved, the obligations whose due time changes, and whether it would go under or leave
    supervised listing."""
    shaped: dict[str, Any] = {
        "id": found.id,
        "unit": found.unit,
        "level": found.level,
        "risk": found.risk,
    }
    change = found.change
    if change is None:
        shaped["problem"] = found.problem
        return shaped
    path = found.path
    nxt = None
    if change.next is not None:
        moved = change.next.moved
        nxt = {
            "old": decision_json(change.next.old, path, zone) if change.next.old else None,
            "new": decision_json(change.next.new, path, zone) if change.next.new else None,
            "moved_seconds": None if moved is None else int(moved.total_seconds()),
        }
    shaped.update(
        due_now=[decision_json(d, path, zone) for d in change.due_now],
        no_longer_due=[decision_json(d, path, zone) for d in change.no_longer_due],
        next=nxt,
        obligations=[
            {"kind": name, "old_due_at": iso(old, zone), "new_due_at": iso(new, zone)}
            for name, old, new in change.obligations
        ],
        supervised=change.supervised,
    )
    return shaped


def shape_counts(diff: RulesDiff) -> dict[str, Any]:
    """How many live disputes were compared and how many differ, by kind of difference, by
    unit and by risk."""
    return {
        "live": diff.live,
        "compared": not diff.too_many,
        "examined": diff.examined,
        "changed": diff.changed,
        **{kind: diff.counts[kind] for kind in KINDS},
        "by_unit": dict(sorted(diff.by_unit.items())),
        "by_risk": dict(sorted(diff.by_risk.items())),
    }
