"""What a change of the rules changes: the rule file's keys (old → new), and for one dispute
what the new rules would do differently from the old at a moment. Pure: the two rule sets'
contents, and the two evaluations of the same history.

Only differences are reported: a dispute the two rule sets treat alike gives None.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from rules.evaluate import Decision, Evaluation

__all__ = ["DisputeChange", "KeyChange", "NextChange", "compare_evaluations", "key_changes"]

# Items of a list that carry one of these are named by it, not by their place: an escalation
# rule inserted first does not make every later rule look changed.
_NAMED_BY = ("id", "name")


@dataclass(frozen=True)
class KeyChange:
    """One key of the rule file: its value before (None: added) and after (None: removed)."""

    key: str
    old: Any
    new: Any


def key_changes(old: Mapping[str, Any] | None, new: Mapping[str, Any]) -> list[KeyChange]:
    """The keys whose values differ between two rule sets' contents (as stored: JSON, by
    the file's own names), in the order of the keys."""
    before, after = _flat(old or {}, ""), _flat(new, "")
    return [
        KeyChange(key, before.get(key), after.get(key))
        for key in sorted(before.keys() | after.keys(), key=_order(before, after))
        if before.get(key) != after.get(key)
    ]


def _order(before: dict[str, Any], after: dict[str, Any]) -> Any:
    """The keys in the order the new file has them, then those only the old one had."""
    place = {key: index for index, key in enumerate([*after, *before])}
    return lambda key: place[key]


def _flat(value: Any, prefix: str) -> dict[str, Any]:
    """``value`` as leaves keyed by their path: ``escalations[high-village].after``; a list
    of plain values (risks, dates) is one leaf."""
    if isinstance(value, Mapping):
        if not value and prefix:
            return {prefix: {}}
        leaves: dict[str, Any] = {}
        for key, item in value.items():
            leaves.update(_flat(item, f"{prefix}.{key}" if prefix else str(key)))
        return leaves
    if isinstance(value, list) and value and all(isinstance(i, Mapping) for i in value):
        leaves = {}
        for index, item in enumerate(value):
            name = next((str(item[k]) for k in _NAMED_BY if item.get(k) is not None), None)
            leaves.update(_flat(item, f"{prefix}[{name if name is not None else index}]"))
        return leaves
    return {prefix: value}


@dataclass(frozen=True)
class NextChange:
    """The next automatic decision under each rule set, when they differ; ``moved`` is how
    much later (negative: earlier) the new one falls when both are the same kind of step."""

    old: Decision | None
    new: Decision | None

    @property
    def moved(self) -> timedelta | None:
        if self.old is None or self.new is None or _step(self.old) != _step(self.new):
            return None
        return self.new.effective_at - self.old.effective_at


@dataclass(frozen=True)
class DisputeChange:
    """What the new rules would do differently to one dispute."""

    # Escalations and listings due by the moment under one rule set and not the other.
    due_now: tuple[Decision, ...]
    no_longer_due: tuple[Decision, ...]
    next: NextChange | None
    # Obligations whose due time differs: (name, due before or None, due after or None).
    obligations: tuple[tuple[str, datetime | None, datetime | None], ...]
    # Whether it would be under supervised listing: None if both agree.
    supervised: bool | None


def compare_evaluations(old: Evaluation, new: Evaluation) -> DisputeChange | None:
    """How ``new`` differs from ``old``, two evaluations of the same dispute at the same
    moment; None if in nothing."""
    old_due, new_due = {_key(d): d for d in old.decisions}, {_key(d): d for d in new.decisions}
    due_now = tuple(d for k, d in new_due.items() if k not in old_due)
    no_longer = tuple(d for k, d in old_due.items() if k not in new_due)
    nxt = None
    if _key_or_none(old.next_decision) != _key_or_none(new.next_decision):
        nxt = NextChange(old.next_decision, new.next_decision)
    before = {o.name: o.due_at for o in old.obligations}
    after = {o.name: o.due_at for o in new.obligations}
    owed = tuple(
        (name, before.get(name), after.get(name))
        for name in sorted(before.keys() | after.keys())
        if before.get(name) != after.get(name)
    )
    supervised = new.state.supervised if old.state.supervised != new.state.supervised else None
    if not (due_now or no_longer or nxt or owed) and supervised is None:
        return None
    return DisputeChange(due_now, no_longer, nxt, owed, supervised)


def _step(decision: Decision) -> tuple[str, str, str]:
    return decision.kind, decision.from_level.value, decision.to_level.value


def _key(decision: Decision) -> tuple[Any, ...]:
    """A decision as the same step at the same time, whatever rule id names it."""
    return (*_step(decision), decision.effective_at)


def _key_or_none(decision: Decision | None) -> tuple[Any, ...] | None:
    return None if decision is None else _key(decision)
