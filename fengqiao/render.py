"""How the command line prints the read models: JSON, or lines for a terminal."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from workflows.runs import SweepResult

__all__ = [
    "dispute_lines",
    "escalation_lines",
    "explanation_lines",
    "json_text",
    "outbox_lines",
    "sweep_lines",
    "task_lines",
]


def json_text(value: Any) -> str:
    """JSON as the commands print it: indented, Chinese as it is."""
    return json.dumps(value, ensure_ascii=False, indent=2)


def dispute_lines(view: dict[str, Any]) -> Iterable[str]:
    """A dispute as ``dispute show`` prints it without ``--json``."""
    flags = [flag for flag in ("paused", "supervised") if view[flag]]
    yield f"dispute {view['id']}: {view['title']} [{view['category']}]"
    yield (
        f"  {view['status']}, {view['risk']} risk, at {view['level']} ({view['unit']})"
        + (f", {', '.join(flags)}" if flags else "")
        + (f", assigned to {view['assignee']}" if view["assignee"] else "")
    )
    yield f"  reported {view['reported_at']} at {view['reported_unit']}"
    if view["obligations"]:
        yield "  owes:"
        for o in view["obligations"]:
            yield f"    {o['kind']:<20} due {o['due_at']}{'  OVERDUE' if o['overdue'] else ''}"
    if view["escalations"]:
        yield "  escalations:"
        for e in view["escalations"]:
            yield (
                f"    {e['from_level']} -> {e['to_level']} ({e['unit']}) at {e['effective_at']}"
                f"  [{e['rule']}]"
            )
    open_tasks = [t for t in view["tasks"] if t["state"] == "open"]
    if open_tasks:
        yield "  open tasks:"
        for t in open_tasks:
            late = "  OVERDUE" if t["overdue"] else ""
            yield f"    {t['kind']:<12} {t['target']:<20} due {t['due_at']}{late}"
    yield "  events:"
    for e in view["events"]:
        by = f"  by {e['by']}" if e["by"] else ""
        yield f"    #{e['seq']:<3} {e['kind']:<12} {e['at']}{by}"


def explanation_lines(result: dict[str, Any]) -> Iterable[str]:
    """``rules explain`` without ``--json``."""
    yield f"dispute {result['id']} under rules {result['rules_version']} ({result['rules']})"
    yield (
        f"  {result['status']}, {result['risk']} risk, at {result['level']} "
        f"since {result['level_since']}" + (", paused: clocks stopped" if result["paused"] else "")
    )
    for o in result["obligations"]:
        late = "  OVERDUE" if o["overdue"] else ""
        yield (
            f"  {o['label']}: due {o['due_at']}{late}\n"
            f"      set by {o['rule']}; fulfilled by: {o['fulfilled_by']}"
        )
    for d in result["due_unrecorded"]:
        yield f"  already due, not yet recorded: {_sentence(d)}"
    if result["next"]:
        yield f"  if nothing is done: {_sentence(result['next'])}"
    else:
        yield "  if nothing is done: no escalation follows"


def _sentence(d: dict[str, Any]) -> str:
    if d["kind"] == "escalate":
        what = f"escalates {d['from_level']} -> {d['to_level']}"
    else:
        what = f"goes under supervised listing at {d['from_level']}, deadline {d['deadline']}"
    return f"{what} at {d['effective_at']} ({d['reason']}; rule {d['rule']})"


def sweep_lines(results: Iterable[SweepResult]) -> Iterable[str]:
    """``fengqiao sweep`` without ``--json``: one line per step."""
    for r in results:
        failed = f", {len(r.failed)} FAILED: {r.failed[:10]}" if r.failed else ""
        yield (
            f"{r.flow:<20} {r.examined:>6} examined, {r.decisions:>4} escalations and "
            f"listings recorded{failed}"
        )


def escalation_lines(rows: list[dict[str, Any]]) -> Iterable[str]:
    """``fengqiao escalations`` without ``--json``."""
    if not rows:
        yield "no escalated or overdue disputes"
    for row in rows:
        last = row["last_escalation"]
        moved = (
            f"{last['from_level']}->{last['to_level']} {last['effective_at']}"
            if last
            else "not escalated"
        )
        late = ", ".join(o["kind"] for o in row["overdue"]) or "-"
        flag = " supervised" if row["supervised"] else ""
        yield (
            f"{row['id']:>6}  {row['risk']:<6} {row['status']:<9} {row['level']:<8} "
            f"{row['unit']:<10} {moved}  overdue: {late}{flag}"
        )


def task_lines(rows: list[dict[str, Any]]) -> Iterable[str]:
    """``fengqiao tasks`` without ``--json``."""
    if not rows:
        yield "no open tasks"
    for row in rows:
        late = "  OVERDUE" if row["overdue"] else ""
        yield (
            f"{row['id']:>6}  dispute {row['dispute']:<6} {row['kind']:<20} {row['target']:<22} "
            f"due {row['due_at']}  {row['state']}{late}"
        )


def outbox_lines(rows: list[dict[str, Any]]) -> Iterable[str]:
    """``fengqiao outbox`` without ``--json``."""
    if not rows:
        yield "the outbox is empty"
    for row in rows:
        yield (
            f"{row['id']:>6}  {row['state']:<8} {row['channel']:<9} {row['recipient']:<22} "
            f"attempts {row['attempts']}  {row['title']}"
        )
