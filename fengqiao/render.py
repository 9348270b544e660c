"""How the command line prints the read models: JSON, or lines for a terminal."""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Collection, Iterable, Sequence
from typing import Any

from rules.reporting import COLUMNS, FIGURES
from rules.reporting import percent as rate
from workflows.rollout import KINDS
from workflows.runs import SweepResult

__all__ = [
    "changed_line",
    "diff_summary_lines",
    "dispute_lines",
    "escalation_lines",
    "explanation_lines",
    "history_lines",
    "json_text",
    "outbox_lines",
    "rule_key_lines",
    "sweep_lines",
    "table",
    "task_lines",
    "unit_task_lines",
    "width",
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
        yield from table(
            [[o["kind"], f"due {o['due_at']}", _late(o)] for o in view["obligations"]],
            indent="    ",
        )
    if view["escalations"]:
        yield "  escalations:"
        yield from table(
            [
                [
                    f"{e['from_level']} -> {e['to_level']}",
                    f"({e['unit']})",
                    f"at {e['effective_at']}",
                    f"[{e['rule']}]",
                ]
                for e in view["escalations"]
            ],
            indent="    ",
        )
    open_tasks = [t for t in view["tasks"] if t["state"] == "open"]
    if open_tasks:
        yield "  open tasks:"
        yield from table(
            [[t["kind"], t["target"], f"due {t['due_at']}", _late(t)] for t in open_tasks],
            indent="    ",
        )
    yield "  events:"
    yield from table(
        [
            [f"#{e['seq']}", e["kind"], e["at"], f"by {e['by']}" if e["by"] else ""]
            for e in view["events"]
        ],
        indent="    ",
    )


def _late(item: dict[str, Any]) -> str:
    return "OVERDUE" if item["overdue"] else ""


def width(text: str) -> int:
    """How many columns ``text`` takes on a terminal: East Asian wide and full-width
    characters (汉字) two, combining marks none, the rest one."""
    return sum(
        0 if unicodedata.combining(c) else 2 if unicodedata.east_asian_width(c) in "WF" else 1
        for c in text
    )


def table(
    rows: Sequence[Sequence[str]],
    *,
    header: Sequence[str] | None = None,
    right: Collection[int] = (),
    indent: str = "",
) -> list[str]:
    """Rows as lines whose columns line up, each as wide as its widest value (a header's
    included), two spaces apart; the columns ``right`` aligned right."""
    lines = [list(header)] if header else []
    lines += [list(row) for row in rows]
    if not lines:
        return []
    widths = [max(width(line[i]) for line in lines) for i in range(len(lines[0]))]
    out = []
    for line in lines:
        cells = []
        for i, cell in enumerate(line):
            pad = " " * (widths[i] - width(cell))
            cells.append(pad + cell if i in right else cell + pad)
        out.append((indent + "  ".join(cells)).rstrip())
    return out


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
    """``fengqiao escalations`` without ``--json``: a header, then a line per dispute."""
    if not rows:
        yield "no escalated or overdue disputes"
        return
    cells = []
    for row in rows:
        last = row["last_escalation"]
        moved = f"{last['from_level']}->{last['to_level']} {last['effective_at']}" if last else "-"
        late = ", ".join(o["kind"] for o in row["overdue"]) or "-"
        status = f"{row['status']}, supervised" if row["supervised"] else row["status"]
        cells.append([str(row["id"]), row["risk"], status, row["level"], row["unit"], moved, late])
    header = ["id", "risk", "status", "level", "unit", "escalated", "overdue"]
    yield from table(cells, header=header, right={0})


def task_lines(rows: list[dict[str, Any]]) -> Iterable[str]:
    """``fengqiao tasks`` without ``--json``: a header, then a line per task."""
    if not rows:
        yield "no open tasks"
        return
    cells = [
        [
            str(row["id"]),
            str(row["dispute"]),
            row["kind"],
            row["target"],
            row["due_at"],
            f"{row['state']}, OVERDUE" if row["overdue"] else row["state"],
        ]
        for row in rows
    ]
    header = ["id", "dispute", "kind", "target", "due", "state"]
    yield from table(cells, header=header, right={0, 1})


def unit_task_lines(rows: list[dict[str, Any]]) -> Iterable[str]:
    """``fengqiao unit tasks`` without ``--json``: a header, then a line per task."""
    if not rows:
        yield "no open tasks of a unit"
        return
    cells = [
        [
            str(row["id"]),
            row["unit"],
            row["kind"],
            row["opened_on"],
            row["due_at"],
            f"{row['state']}, OVERDUE" if row["overdue"] else row["state"],
        ]
        for row in rows
    ]
    header = ["id", "unit", "kind", "opened", "due", "state"]
    yield from table(cells, header=header, right={0})


def outbox_lines(rows: list[dict[str, Any]]) -> Iterable[str]:
    """``fengqiao outbox`` without ``--json``: a header, then a line per message."""
    if not rows:
        yield "the outbox is empty"
        return
    cells = [
        [
            str(row["id"]),
            row["state"],
            row["channel"],
            row["recipient"],
            str(row["attempts"]),
            row["title"],
        ]
        for row in rows
    ]
    header = ["id", "state", "channel", "recipient", "attempts", "title"]
    yield from table(cells, header=header, right={0, 4})


def rule_key_lines(keys: Sequence[dict[str, Any]]) -> Iterable[str]:
    """A rule change's keys, ``key: old -> new``."""
    if not keys:
        yield "rule changes: none"
        return
    yield f"rule changes ({len(keys)}):"
    for k in keys:
        yield f"  {k['key']}: {_value(k['old'])} -> {_value(k['new'])}"


def _value(value: Any) -> str:
    if value is None:
        return "(absent)"
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def changed_line(found: dict[str, Any]) -> str:
    """One dispute of ``rules diff``: what the new rules would do differently to it."""
    head = f"  dispute {found['id']} ({found['risk']} risk, at {found['level']}, {found['unit']}):"
    if "problem" in found:
        return f"{head} cannot be evaluated {found['problem']}"
    parts = [f"would record now: {_sentence(d)}" for d in found["due_now"]]
    parts += [f"would no longer record: {_sentence(d)}" for d in found["no_longer_due"]]
    nxt = found["next"]
    if nxt is not None:
        old = _sentence(nxt["old"]) if nxt["old"] else "none"
        new = _sentence(nxt["new"]) if nxt["new"] else "none"
        moved = nxt["moved_seconds"]
        how = "" if moved is None else f" ({_span(moved)} {'later' if moved > 0 else 'earlier'})"
        parts.append(f"next decision{how}: {old} => {new}")
    parts += [
        f"{o['kind']} due {o['old_due_at'] or '(not owed)'} => {o['new_due_at'] or '(not owed)'}"
        for o in found["obligations"]
    ]
    if found["supervised"] is not None:
        parts.append("goes under supervised listing" if found["supervised"] else "leaves it")
    return head + "".join(f"\n      {part}" for part in parts)


def _span(seconds: int) -> str:
    """A length of time as people say it: 2d 3h, 45m."""
    minutes = abs(seconds) // 60
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    said = [f"{n}{unit}" for n, unit in ((days, "d"), (hours, "h"), (minutes, "m")) if n]
    return " ".join(said) or f"{abs(seconds)}s"


# How ``rules diff`` says each kind of difference (workflows.rollout.KINDS).
_DIFF_SAID = {
    "due_now": "escalated or listed now",
    "no_longer_due": "no longer escalated now",
    "next_earlier": "next decision earlier",
    "next_later": "next decision later",
    "next_other": "next decision of another kind",
    "obligations_moved": "obligations due at other times",
    "listed": "go under supervised listing",
    "unlisted": "leave supervised listing",
    "cannot_evaluate": "cannot be evaluated",
}


def diff_summary_lines(counts: dict[str, Any]) -> Iterable[str]:
    """The counts of ``rules diff``."""
    yield (
        f"{counts['examined']} live disputes compared, {counts['changed']} would change"
        + (":" if counts["changed"] else "")
    )
    if not counts["changed"]:
        return
    yield "  " + ", ".join(f"{counts[kind]} {_DIFF_SAID[kind]}" for kind in KINDS if counts[kind])
    yield "  by unit: " + ", ".join(f"{unit} {n}" for unit, n in counts["by_unit"].items())
    yield "  by risk: " + ", ".join(f"{risk} {n}" for risk, n in counts["by_risk"].items())


def history_lines(history: Sequence[dict[str, Any]]) -> Iterable[str]:
    """``rules history`` without ``--json``: each change and the keys it changed."""
    if not history:
        yield "no rules have been put in force yet"
        return
    for change in history:
        was = change["from_version"] or "none"
        yield (
            f"{change['at']}  {change['by'] or '(not recorded)'}  {was} -> "
            f"{change['label']}  ({change['source']})"
        )
        yield f"  why: {change['reason'] or '(not recorded)'}"
        yield (
            f"  recomputed {change['disputes_recomputed']} live disputes, "
            f"{change['decisions_recorded']} escalations and listings recorded"
        )
        if change["from_version"] is None:
            yield "  the first rules put in force"
        else:
            for line in rule_key_lines(change["changes"]):
                yield "  " + line


# The Chinese headings of a report's columns (rules.reporting.COLUMNS).
HEADINGS = {
    "screened": "排查",
    "resolved": "化解",
    "resolution_rate": "化解率",
    "open": "在办",
    "overdue": "超期",
    "escalated": "上交",
    "supervised": "督办",
    "supervised_missed": "督办逾期",
    "visits_done": "回访",
    "visits_overdue": "回访逾期",
    "relapses": "反复",
    "referred": "转办",
}
METHOD_NAMES = {"people": "人民调解", "administrative": "行政调解", "judicial": "司法调解"}
RISK_NAMES = {"high": "高", "medium": "中", "low": "低"}


def _figures(row: dict[str, Any]) -> list[str]:
    return [rate(row[key]) if key == "resolution_rate" else str(row[key]) for key in COLUMNS]


def report_lines(content: dict[str, Any]) -> Iterable[str]:
    """A report as the terminal shows it: its heading, the table of sub-units and totals,
    the breakdowns, and the sections its rule asks for."""
    period = content["period"]
    yield (
        f"{content['name']} {content['title']} {period['label']} "
        f"({period['first_day']} – {period['last_day']})"
    )
    stored = "stored" if content.get("stored") else "made now from the event log"
    yield f"made {content['made_at']} ({stored}); 化解率 = {content['resolution_rate']['label']}"
    yield ""
    rows = [
        [row["name"] + ("（本级）" if row["own"] else ""), *_figures(row)]
        for row in content["units"]
    ]
    rows.append(["合计", *_figures(content["totals"])])
    right = range(1, len(COLUMNS) + 1)
    yield from table(rows, header=["单位", *(HEADINGS[key] for key in COLUMNS)], right=right)
    totals = content["totals"]
    if not any(totals[key] for key in FIGURES):
        yield ""
        yield "零报告: nothing to report in this period."
    yield ""
    methods = ", ".join(f"{METHOD_NAMES[k]} {v}" for k, v in totals["methods"].items())
    yield f"化解方式: {methods}"
    if content["referrals"]:
        yield "转办: " + ", ".join(f"{to} {n}" for to, n in content["referrals"].items())
    if content["categories"]:
        yield ""
        yield from _breakdown("纠纷类型", [(c["label"], c) for c in content["categories"]])
    yield ""
    yield from _breakdown("风险", [(RISK_NAMES[r["risk"]], r) for r in content["risks"]])
    yield from _sections(content)


def _breakdown(heading: str, rows: list[tuple[str, dict[str, Any]]]) -> list[str]:
    """A breakdown of a report (by kind, by risk): 排查, 化解, 在办, 超期 of each."""
    figures = ("screened", "resolved", "open", "overdue")
    return table(
        [[label, *(str(row[f]) for f in figures)] for label, row in rows],
        header=[heading, *(HEADINGS[f] for f in figures)],
        right=range(1, 5),
    )


def _sections(content: dict[str, Any]) -> Iterable[str]:
    if "assessment" in content:
        assessment = content["assessment"]
        yield ""
        yield "研判:"
        for word, changes in (
            ("风险上升", assessment["raised"]),
            ("风险下降", assessment["lowered"]),
        ):
            for c in changes:
                yield (
                    f"  {word} #{c['dispute']} {c['title']} ({c['unit_name']}): "
                    f"{RISK_NAMES[c['from']]} → {RISK_NAMES[c['to']]}"
                )
        for h in assessment["high_risk"]:
            late = ", 超期" if h["overdue"] else ""
            yield f"  高风险 #{h['dispute']} {h['title']} ({h['unit_name']}{late})"
        if not any(assessment.values()):
            yield "  no risk changed; no open high-risk dispute"
    if "ranking" in content:
        yield ""
        yield "排名 (化解率): " + ", ".join(
            f"{r['rank'] or '-'} {r['name']} {rate(r['resolution_rate'])}"
            for r in content["ranking"]["by_rate"]
        )
        yield "排名 (超期): " + ", ".join(
            f"{r['rank']} {r['name']} {r['overdue']}" for r in content["ranking"]["by_overdue"]
        )
    if "named" in content:
        named = [
            f"{n['name']} (超期 {n['overdue']}, 上交 {n['escalated']})" for n in content["named"]
        ]
        yield "通报: " + ("; ".join(named) if named else "none")
    if "listings" in content:
        for m in content["listings"]:
            grade = m["grade_label"] or "督办"
            deadline = m["deadline"] or "—"
            yield f"督办逾期: #{m['dispute']} {m['title']} ({m['name']}, {grade}, 期限 {deadline})"


def report_list_lines(found: Sequence[dict[str, Any]]) -> Iterable[str]:
    """The reports stored, one a line."""
    if not found:
        yield "no report stored yet"
        return
    yield from table(
        [
            [
                r["kind"],
                r["period"]["label"],
                r["unit"],
                r["name"],
                str(r["totals"]["screened"]),
                str(r["totals"]["resolved"]),
                rate(r["totals"]["resolution_rate"]),
                str(r["totals"]["open"]),
                str(r["totals"]["overdue"]),
                r["made_at"],
            ]
            for r in found
        ],
        header=[
            "report",
            "period",
            "unit",
            "name",
            "排查",
            "化解",
            "化解率",
            "在办",
            "超期",
            "made",
        ],
        right=range(4, 9),
    )


def _lateness(minutes: int | None) -> str:
    """How late, in words a supervisor reads at a glance: 40 min, 5 h, 2 d."""
    if minutes is None:
        return "—"
    if minutes < 60:
        return f"{minutes} min"
    if minutes < 48 * 60:
        return f"{minutes // 60} h"
    return f"{minutes // (24 * 60)} d"


def filing_lines(found: dict[str, Any]) -> Iterable[str]:
    """The filing board: a row per unit (owed, on time, late, missed, complete), then the
    checks and assessments late or missed, newest due first."""
    period = found["period"]
    yield (
        f"{found['name']} 填报完整性 {period['label']} "
        f"({period['first_day']} – {period['last_day']}), as of {found['now']}"
    )
    watched = ", ".join(o["label"] for o in found["obligations"])
    yield f"watched: {watched}"
    yield ""
    rows = []
    for row in found["units"]:
        done = "—" if not row["owed"] else ("是" if row["complete"] else "否")
        rows.append(
            [
                row["name"] + ("（本级）" if row["level"] != "village" else ""),
                str(row["owed"]),
                str(row["on_time"]),
                str(row["late"]),
                str(row["missed"]),
                done,
                _lateness(row["latest_minutes"]) if row["late"] or row["missed"] else "—",
            ]
        )
    totals = found["totals"]
    rows.append(
        [
            "合计",
            str(totals["owed"]),
            str(totals["on_time"]),
            str(totals["late"]),
            str(totals["missed"]),
            f"{totals['complete_units']}/{totals['owing_units']}",
            "",
        ]
    )
    yield from table(
        rows, header=["单位", "应报", "按时", "迟报", "漏报", "完成", "最迟"], right=range(1, 7)
    )
    labels = {o["name"]: o["label"] for o in found["obligations"]}
    if found["items"]:
        yield ""
        yield "behind:"
        for item in found["items"]:
            minutes = item["late_minutes"]
            if item["state"] == "late":
                state = f"made {_lateness(minutes)} late"
            else:
                state = "missed" + (f", {_lateness(minutes)} so far" if item["open"] else "")
            yield (
                f"  #{item['dispute']} {item['title']} ({item['unit_name']}): "
                f"{labels.get(item['obligation'], item['obligation'])} due {item['due']}, {state}"
            )
