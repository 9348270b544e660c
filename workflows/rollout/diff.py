"""What a new rule file would change before it is put in force: its keys against the rules
in force, and dispute by dispute what it would do differently, for the live disputes a
person may see. Read-only: every batch of disputes is read in a transaction of its own and
nothing is written."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import structlog
from sqlalchemy import Engine, func
from sqlmodel import Session

from models.lifecycle import Event
from models.values import LIVE_STATUSES, UnitPath
from rules.compare import DisputeChange, KeyChange, compare_evaluations, key_changes
from rules.evaluate import HistoryError
from rules.policy import Policy
from workflows.access import Viewer, disputes_in_scope
from workflows.changes import DISPUTES, evaluated, fold_of, histories, path_of
from workflows.db import reading
from workflows.rulesets import current_version, stored_policy

__all__ = ["KINDS", "ChangedDispute", "RulesDiff", "diff_rules"]

log = structlog.get_logger(__name__)

BATCH = 500

# The kinds of difference counted, in the order they are said.
KINDS = (
    "due_now",
    "no_longer_due",
    "next_earlier",
    "next_later",
    "next_other",
    "obligations_moved",
    "listed",
    "unlisted",
    "cannot_evaluate",
)


@dataclass(frozen=True)
class ChangedDispute:
    """A live dispute the new rules would treat differently, and how."""

    id: int
    unit: str
    level: str
    risk: str
    path: UnitPath
    change: DisputeChange | None
    problem: str | None = None  # the new rules cannot evaluate its history: why


@dataclass
class RulesDiff:
    """The rule file's changes and the counts of the disputes they move; the disputes
    themselves go to the caller one by one as they are found."""

    old: Policy
    new: Policy
    in_force: bool  # whether ``old`` is the rule set put in force (else: no change recorded yet)
    keys: list[KeyChange]
    examined: int = 0
    # Live disputes in scope; when more than the caller's ``largest``, none was compared.
    live: int = 0
    too_many: bool = False
    changed: int = 0
    counts: Counter[str] = field(default_factory=Counter)
    by_unit: Counter[str] = field(default_factory=Counter)
    by_risk: Counter[str] = field(default_factory=Counter)

    def note(self, found: ChangedDispute) -> None:
        self.changed += 1
        self.by_unit[found.unit] += 1
        self.by_risk[found.risk] += 1
        change = found.change
        if change is None:
            self.counts["cannot_evaluate"] += 1
            return
        self.counts["due_now"] += bool(change.due_now)
        self.counts["no_longer_due"] += bool(change.no_longer_due)
        if change.next is not None:
            moved = change.next.moved
            if moved is None:
                self.counts["next_other"] += 1
            else:
                self.counts["next_earlier" if moved.total_seconds() < 0 else "next_later"] += 1
        self.counts["obligations_moved"] += bool(change.obligations)
        if change.supervised is not None:
            self.counts["listed" if change.supervised else "unlisted"] += 1


def diff_rules(
    *,
    engine: Engine,
    policy: Policy,
    fallback: Policy,
    now: datetime,
    viewer: Viewer | None = None,
    begin: Callable[[RulesDiff], None] = lambda _: None,
    found: Callable[[ChangedDispute], None] = lambda _: None,
    progress: Callable[[int, int], None] = lambda _done, _total: None,
    largest: int | None = None,
) -> RulesDiff:
    """Compare ``policy`` with the rules in force (``fallback`` if none has been put in
    force yet) at ``now``: each live dispute of ``viewer``'s scope evaluated under both.

    ``begin`` is called once the rule file's changes are known, ``found`` with each dispute
    that differs, ``progress`` with how many of how many were examined after each batch, so
    that a caller can show them as they come: memory is bounded by the batch, however many
    disputes there are. With ``largest``, a scope of more live disputes than that is not
    compared (``too_many``): a web page cannot wait for a province's, the command line can."""
    with reading(engine) as session:
        version = current_version(session)
        old = stored_policy(session, version=version) if version is not None else None
        live = disputes_in_scope(viewer, func.count()).where(DISPUTES.c.status.in_(LIVE_STATUSES))
        total = session.execute(live).scalar_one()
    old = old or fallback
    diff = RulesDiff(
        old=old,
        new=policy,
        in_force=version is not None,
        keys=key_changes(_content(old), _content(policy)),
    )
    diff.live = total
    begin(diff)
    if largest is not None and total > largest:
        diff.too_many = True
        return diff
    if old.version == policy.version:  # the same rules: no dispute can differ
        diff.examined = total
        progress(total, total)
        return diff
    after = 0
    while True:
        with reading(engine) as session:
            rows = _batch(session, viewer, after)
            if not rows:
                break
            past = histories(session, [row.id for row in rows])
        for row in rows:
            changed = _compare(row, past.get(row.id, []), old, policy, now)
            if changed is not None:
                diff.note(changed)
                found(changed)
        diff.examined += len(rows)
        after = rows[-1].id
        progress(diff.examined, total)
    log.info(
        "rules_compared",
        old=old.version,
        new=policy.version,
        examined=diff.examined,
        changed=diff.changed,
    )
    return diff


def _content(policy: Policy) -> dict[str, object]:
    return policy.rules.model_dump(mode="json", by_alias=True)


def _batch(session: Session, viewer: Viewer | None, after: int) -> list[Any]:
    query = (
        disputes_in_scope(viewer)
        .where(DISPUTES.c.status.in_(LIVE_STATUSES), DISPUTES.c.id > after)
        .order_by(DISPUTES.c.id)
        .limit(BATCH)
    )
    return list(session.execute(query).all())


def _compare(
    row: Any, past: Sequence[Event], old: Policy, new: Policy, now: datetime
) -> ChangedDispute | None:
    """The dispute ``row`` under both rule sets; None if they treat it alike. One that a
    rule set cannot evaluate (a history it refuses) is reported with why."""
    where: dict[str, Any] = {
        "id": row.id,
        "unit": row.unit_code,
        "level": row.level,
        "risk": row.risk,
        "path": path_of(row),
    }
    try:
        before = evaluated(row, fold_of(row, old), past, policy=old, now=now)
    except (HistoryError, ValueError) as exc:
        return ChangedDispute(**where, change=None, problem=f"under the rules in force: {exc}")
    try:
        after = evaluated(row, fold_of(row, new), past, policy=new, now=now)
    except (HistoryError, ValueError) as exc:
        return ChangedDispute(**where, change=None, problem=f"under the new rules: {exc}")
    change = compare_evaluations(before, after)
    return None if change is None else ChangedDispute(**where, change=change)
