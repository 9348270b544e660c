"""A dispute's record as a ledger (台账) row holds it: what its events say of it, folded.

The lifecycle says where a dispute stands; the record keeps what an office writes down of
it: what it is about, where it came from, how it was mediated and settled, the return
visits, the court's confirmation, when it closed. It is a pure fold of the events, kept
on the dispute's row (``disputes.record``) and brought up to date with each new event.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from models.lifecycle import Event
from models.values import EventKind

__all__ = ["OUTCOMES", "record_after"]

# 调解结果: how the mediation ended, if it has
OUTCOMES = {
    "resolved": "调解成功",
    "failed": "调解不成功",
    "referred": "转交办理",
    "withdrawn": "撤回",
}

_REPORTED = ("description", "source", "court", "ledger_no")
_SETTLED = ("method", "agreement", "amount", "terms", "mediators")


def record_after(record: Mapping[str, Any], events: Iterable[Event]) -> dict[str, Any]:
    """The record once ``events`` (in order) are added to it; fields not known are absent.

    Times are kept as ISO text (UTC, as the events have them).
    """
    folded = dict(record)
    for event in events:
        _add(folded, event)
    return folded


def _add(record: dict[str, Any], event: Event) -> None:
    data, at = event.data, event.at.isoformat()
    kind = event.kind
    if kind is EventKind.report:
        record.update({name: data[name] for name in _REPORTED if data.get(name) is not None})
    elif kind is EventKind.mediate:
        if data.get("method"):
            record["method"] = data["method"]
        _mediated_by(record, event)
    elif kind is EventKind.resolve:
        for name in _SETTLED:
            if data.get(name) is not None:
                record[name] = data[name]
            elif name in ("amount", "terms", "mediators"):
                record.pop(name, None)  # a new agreement replaces the old one whole
        record["outcome"] = "resolved"
        record["resolved_at"] = at
        _mediated_by(record, event)
    elif kind is EventKind.visit:
        record["visits"] = int(record.get("visits", 0)) + 1
        record["visit_outcome"] = data["outcome"]
        record["visited_at"] = at
        if data["outcome"] == "stable":  # the visit closes it
            record["closed_at"] = at
        if data["outcome"] == "relapsed":
            record.pop("outcome", None)
            record.pop("resolved_at", None)
    elif kind is EventKind.reopen:
        record.pop("outcome", None)
        record.pop("resolved_at", None)
        record.pop("closed_at", None)
    elif kind is EventKind.refer:
        record["outcome"] = "referred"
        record["referred_to"] = data["to"]
    elif kind is EventKind.referral_result and data.get("result") == "returned":
        record.pop("outcome", None)  # sent back: mediated here again
    elif kind is EventKind.court_result and data.get("outcome") == "no_agreement":
        record["outcome"] = "failed"
    elif kind is EventKind.withdraw:
        record["outcome"] = "withdrawn"
        record["closed_at"] = at
    elif kind is EventKind.confirmation_result:
        record["confirmed"] = data["result"] == "confirmed"
        if not record["confirmed"]:  # the agreement not confirmed: mediated again
            record.pop("outcome", None)
            record.pop("resolved_at", None)
    elif kind is EventKind.close:
        record["closed_at"] = at


def _mediated_by(record: dict[str, Any], event: Event) -> None:
    """The people who recorded its mediation, in the order they first did."""
    if event.actor is not None:
        people = list(record.get("mediated_by", []))
        if event.actor not in people:
            record["mediated_by"] = [*people, event.actor]
