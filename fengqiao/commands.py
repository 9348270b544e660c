"""The command handlers: parse what the user typed, call one workflow, print the result."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from fengqiao.cli import Context, json_out, parse_json
from models.tables import Dispute
from rules.evaluate import evaluate
from rules.loader import coverage_warnings, default_rules_path, load_ruleset
from workflows.db import database_now, migrate, transaction
from workflows.disputes import NewEvent, history, initial_state, record_event, report_dispute
from workflows.errors import BadInput, NotFound
from workflows.importer import import_events
from workflows.listings import escalations_view, outbox_view, tasks_view
from workflows.org import load_org
from workflows.outbox import deliver, retry_dead
from workflows.rollout import apply_rules
from workflows.runner import run_due
from workflows.task_actions import acknowledge_task
from workflows.views import dispute_view, iso


def init(ctx: Context, args: argparse.Namespace) -> int:
    migrate(ctx.raw_engine)
    print(f"database ready: {ctx.db_label}")
    return 0


def org_load(ctx: Context, args: argparse.Namespace) -> int:
    with transaction(ctx.engine) as session:
        summary = load_org(session=session, path=args.file)
    print(
        f"units: {summary.units_added} added, {summary.units_updated} updated; "
        f"people: {summary.people_added} added, {summary.people_updated} updated"
    )
    return 0


def dispute_new(ctx: Context, args: argparse.Namespace) -> int:
    parties = parse_json(args.parties, "--parties") or []
    if not isinstance(parties, list) or not all(isinstance(p, dict) for p in parties):
        raise BadInput("--parties must be a JSON list of objects")
    with transaction(ctx.engine) as session:
        dispute = report_dispute(
            session=session,
            policy=ctx.policy,
            now=ctx.now,
            unit=args.unit,
            risk=args.risk,
            category=args.category,
            title=args.title,
            at=ctx.time(args.at, "--at"),
            by=args.by,
            people_involved=args.people,
            parties=parties,
            location=args.location,
        )
        assert dispute.id is not None
        if args.json:
            json_out(
                dispute_view(session=session, dispute_id=dispute.id, now=ctx.now, zone=ctx.zone)
            )
        else:
            print(dispute.id)
    return 0


def dispute_event(ctx: Context, args: argparse.Namespace) -> int:
    data = parse_json(args.data, "--data")
    if data is not None and not isinstance(data, dict):
        raise BadInput("--data must be a JSON object")
    with transaction(ctx.engine) as session:
        row = record_event(
            session=session,
            policy=ctx.policy,
            now=ctx.now,
            dispute_id=args.id,
            event=NewEvent(kind=args.kind, at=ctx.time(args.at, "--at"), by=args.by, data=data),
        )
        view = dispute_view(session=session, dispute_id=args.id, now=ctx.now, zone=ctx.zone)
    if args.json:
        json_out(view)
    else:
        print(
            f"dispute {args.id}: #{row.seq} {row.kind} recorded; "
            f"now {view['status']} at {view['level']} ({view['unit']})"
        )
    return 0


def dispute_show(ctx: Context, args: argparse.Namespace) -> int:
    with transaction(ctx.engine) as session:
        view = dispute_view(session=session, dispute_id=args.id, now=ctx.now, zone=ctx.zone)
    if args.json:
        json_out(view)
        return 0
    print_dispute(view)
    return 0


def print_dispute(view: dict[str, Any]) -> None:
    """A dispute as ``dispute show`` prints it without ``--json``."""
    flags = [flag for flag in ("paused", "supervised") if view[flag]]
    print(f"dispute {view['id']}: {view['title']} [{view['category']}]")
    print(
        f"  {view['status']}, {view['risk']} risk, at {view['level']} ({view['unit']})"
        + (f", {', '.join(flags)}" if flags else "")
        + (f", assigned to {view['assignee']}" if view["assignee"] else "")
    )
    print(f"  reported {view['reported_at']} at {view['reported_unit']}")
    if view["obligations"]:
        print("  owes:")
        for o in view["obligations"]:
            print(f"    {o['kind']:<20} due {o['due_at']}{'  OVERDUE' if o['overdue'] else ''}")
    if view["escalations"]:
        print("  escalations:")
        for e in view["escalations"]:
            print(
                f"    {e['from_level']} -> {e['to_level']} ({e['unit']}) at {e['effective_at']}"
                f"  [{e['rule']}]"
            )
    open_tasks = [t for t in view["tasks"] if t["state"] == "open"]
    if open_tasks:
        print("  open tasks:")
        for t in open_tasks:
            late = "  OVERDUE" if t["overdue"] else ""
            print(f"    {t['kind']:<12} {t['target']:<20} due {t['due_at']}{late}")
    print("  events:")
    for e in view["events"]:
        by = f"  by {e['by']}" if e["by"] else ""
        print(f"    #{e['seq']:<3} {e['kind']:<12} {e['at']}{by}")


def events_import(ctx: Context, args: argparse.Namespace) -> int:
    with transaction(ctx.engine) as session:
        summary = import_events(
            session=session, policy=ctx.policy, now=ctx.now, path=args.file, zone=ctx.zone
        )
    print(
        f"{summary.events} events recorded on {summary.disputes} disputes "
        f"({summary.decisions} escalations and listings fell due)"
    )
    return 0


def rules_check(ctx: Context, args: argparse.Namespace) -> int:
    path = args.path or ctx.settings.rules or default_rules_path()
    ruleset = load_ruleset(path)
    today = ctx.now.astimezone(ctx.zone).date()
    for warning in coverage_warnings(ruleset, today):
        print(f"{path}: warning: {warning}", file=sys.stderr)
    print("ok")
    return 0


def rules_explain(ctx: Context, args: argparse.Namespace) -> int:
    policy, zone, now = ctx.policy, ctx.zone, ctx.now
    with transaction(ctx.engine) as session:
        dispute = session.get(Dispute, args.id)
        if dispute is None:
            raise NotFound(f"unknown dispute {args.id}")
        past = history(session, args.id)
        evaluation = evaluate(initial_state(dispute, past), past, policy=policy, now=now)
    state = evaluation.state
    result: dict[str, Any] = {
        "id": args.id,
        "rules": policy.source,
        "rules_version": policy.label,
        "now": iso(now, zone),
        "status": state.status.value,
        "risk": state.risk.value,
        "level": state.level.value,
        "level_since": iso(state.level_since, zone),
        "paused": state.paused,
        "obligations": [
            {
                "kind": o.name,
                "label": o.label,
                "due_at": iso(o.due_at, zone),
                "overdue": o.overdue(now),
                "rule": o.rule,
                "fulfilled_by": o.fulfilled_by.value,
            }
            for o in evaluation.obligations
        ],
        "due_unrecorded": [_decision(d, zone) for d in evaluation.decisions],
        "next": _decision(evaluation.next_decision, zone) if evaluation.next_decision else None,
    }
    if args.json:
        json_out(result)
        return 0
    print(f"dispute {args.id} under rules {result['rules_version']} ({policy.source})")
    print(
        f"  {result['status']}, {result['risk']} risk, at {result['level']} "
        f"since {result['level_since']}" + (", paused: clocks stopped" if state.paused else "")
    )
    for o in result["obligations"]:
        late = "  OVERDUE" if o["overdue"] else ""
        print(
            f"  {o['label']}: due {o['due_at']}{late}\n"
            f"      set by {o['rule']}; fulfilled by: {o['fulfilled_by']}"
        )
    for d in result["due_unrecorded"]:
        print(f"  already due, not yet recorded: {_sentence(d)}")
    if result["next"]:
        print(f"  if nothing is done: {_sentence(result['next'])}")
    else:
        print("  if nothing is done: no escalation follows")
    return 0


def _decision(decision: Any, zone: Any) -> dict[str, Any]:
    return {
        "kind": decision.kind,
        "rule": decision.rule,
        "from_level": decision.from_level.value,
        "to_level": decision.to_level.value,
        "effective_at": iso(decision.effective_at, zone),
        "reason": decision.reason,
        "deadline": iso(decision.deadline, zone),
    }


def _sentence(d: dict[str, Any]) -> str:
    if d["kind"] == "escalate":
        what = f"escalates {d['from_level']} -> {d['to_level']}"
    else:
        what = f"goes under supervised listing at {d['from_level']}, deadline {d['deadline']}"
    return f"{what} at {d['effective_at']} ({d['reason']}; rule {d['rule']})"


def rules_apply(ctx: Context, args: argparse.Namespace) -> int:
    with transaction(ctx.engine) as session:
        applied = apply_rules(session=session, policy=ctx.policy, now=ctx.now, by=args.by)
        if args.dry_run:
            session.rollback()
    verb = "would recompute" if args.dry_run else "recomputed"
    print(
        f"rules {ctx.policy.label} {'checked' if args.dry_run else 'in force'} "
        f"(was {applied.from_version or 'none recorded'}): {verb} {applied.disputes_recomputed} "
        f"live disputes, {applied.obligations_changed} obligations changed, "
        f"{applied.decisions_recorded} escalations and listings fell due"
    )
    return 0


def sweep(ctx: Context, args: argparse.Namespace) -> int:
    # Without --now, due times are compared with the database's clock, not this machine's:
    # sweeps on several machines against one PostgreSQL agree on what is due.
    now = ctx.now if ctx.settings.now else database_now(ctx.engine)
    results = run_due(
        engine=ctx.engine,
        policy=ctx.policy,
        now=now,
        clock=ctx.clock if ctx.settings.now else lambda: database_now(ctx.engine),
        smtp=ctx.settings.smtp,
    )
    if args.json:
        json_out([r.as_dict() for r in results])
    else:
        for r in results:
            failed = f", {len(r.failed)} FAILED: {r.failed[:10]}" if r.failed else ""
            print(
                f"{r.flow:<20} {r.examined:>6} examined, {r.decisions:>4} escalations and "
                f"listings recorded{failed}"
            )
    return 1 if any(r.failed for r in results) else 0


def escalations(ctx: Context, args: argparse.Namespace) -> int:
    with transaction(ctx.engine) as session:
        rows = escalations_view(
            session=session,
            now=ctx.now,
            zone=ctx.zone,
            unit=args.unit,
            level=args.level,
            risk=args.risk,
            overdue_only=args.overdue,
        )
    if args.json:
        json_out(rows)
        return 0
    if not rows:
        print("no escalated or overdue disputes")
    for row in rows:
        last = row["last_escalation"]
        moved = (
            f"{last['from_level']}->{last['to_level']} {last['effective_at']}"
            if last
            else "not escalated"
        )
        late = ", ".join(o["kind"] for o in row["overdue"]) or "-"
        flag = " supervised" if row["supervised"] else ""
        print(
            f"{row['id']:>6}  {row['risk']:<6} {row['status']:<9} {row['level']:<8} "
            f"{row['unit']:<10} {moved}  overdue: {late}{flag}"
        )
    return 0


def tasks(ctx: Context, args: argparse.Namespace) -> int:
    if args.action == "ack":
        if args.task is None:
            raise BadInput("tasks ack needs the task's id")
        with transaction(ctx.engine) as session:
            task = acknowledge_task(
                session=session, policy=ctx.policy, now=ctx.now, task_id=args.task, by=args.by
            )
            print(f"task {task.id} ({task.kind}, dispute {task.dispute_id}): {task.state}")
        return 0
    with transaction(ctx.engine) as session:
        rows = tasks_view(
            session=session,
            now=ctx.now,
            zone=ctx.zone,
            person=args.person,
            unit=args.unit,
            include_closed=args.all,
        )
    if args.json:
        json_out(rows)
        return 0
    if not rows:
        print("no open tasks")
    for row in rows:
        late = "  OVERDUE" if row["overdue"] else ""
        print(
            f"{row['id']:>6}  dispute {row['dispute']:<6} {row['kind']:<20} {row['target']:<22} "
            f"due {row['due_at']}  {row['state']}{late}"
        )
    return 0


def outbox(ctx: Context, args: argparse.Namespace) -> int:
    if args.action == "retry":
        with transaction(ctx.engine) as session:
            count = retry_dead(session, now=ctx.now)
        print(f"{count} dead messages queued again")
        return 0
    if args.action == "send":
        result = deliver(engine=ctx.engine, policy=ctx.policy, now=ctx.now, smtp=ctx.settings.smtp)
        print(f"{result.sent} sent, {result.failed} failed, {len(result.dead_ids)} dead")
        return 1 if result.dead_ids else 0
    with transaction(ctx.engine) as session:
        rows = outbox_view(session=session, zone=ctx.zone, state=args.state)
    if args.json:
        json_out(rows)
        return 0
    if not rows:
        print("the outbox is empty")
    for row in rows:
        print(
            f"{row['id']:>6}  {row['state']:<8} {row['channel']:<9} {row['recipient']:<22} "
            f"attempts {row['attempts']}  {row['title']}"
        )
    return 0


def serve(ctx: Context, args: argparse.Namespace) -> int:
    from scheduler import EmbeddedEngine, LockHeld
    from scheduler import serve as run

    try:
        embedded = EmbeddedEngine(
            engine=ctx.engine,
            db_url=ctx.settings.db,
            rules_path=ctx.settings.rules,
            kind=args.engine,
            now=ctx.now if ctx.settings.now else None,
            smtp=ctx.settings.smtp,
        )
        return run(
            embedded,
            ready=lambda: print(
                f"fengqiao serving {ctx.db_label} with rules {embedded.policy.label} "
                f"({args.engine}); stop with Ctrl-C or SIGTERM",
                flush=True,
            ),
        )
    except LockHeld as exc:
        raise BadInput(str(exc)) from None


def deploy(ctx: Context, args: argparse.Namespace) -> int:
    from workflows.deploy import apply_deployments, check_name, check_server, plan_deployments

    check_name(args.pool, what="--pool")
    planned = plan_deployments(ctx.policy, name=args.name, parallel=args.parallel)
    # Refused before anything is printed if there is no server to deploy to.
    url = None if args.dry_run else check_server()
    zone = ctx.policy.rules.timezone
    for plan in planned:
        print(f"{plan.full_name:<40} {plan.describe(timezone=zone)}")
    if url is None:
        print(f"{len(planned)} deployments (dry run: no server contacted)")
        return 0
    applied = apply_deployments(planned, policy=ctx.policy, pool=args.pool, name=args.name)
    created = " (created)" if applied.pool_created else ""
    removed = f"; removed {', '.join(applied.removed)}" if applied.removed else ""
    print(
        f"{len(applied.applied)} deployments applied to {url}, work pool {args.pool}{created}, "
        f"rules {ctx.policy.label}{removed}"
    )
    print(f"start workers with: FENGQIAO_DB=... prefect worker start --pool {args.pool}")
    return 0


def demo(ctx: Context, args: argparse.Namespace) -> int:
    from fengqiao.demo import run_demo

    return run_demo(ctx, database=args.database)
