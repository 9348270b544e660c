"""The command handlers: read what the user typed, call one service or read model, print."""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from collections.abc import Iterable
from datetime import date, timedelta
from functools import partial
from typing import Any

from fengqiao.context import Context
from fengqiao.progress import progress_bar
from fengqiao.render import (
    changed_line,
    diff_summary_lines,
    dispute_lines,
    escalation_lines,
    explanation_lines,
    filing_lines,
    history_lines,
    json_text,
    outbox_lines,
    report_lines,
    report_list_lines,
    rule_key_lines,
    sweep_lines,
    task_lines,
    unit_task_lines,
)
from models.sealing import Keyring, SealError
from rules.filing import filing_period
from rules.loader import coverage_warnings, default_rules_path, load_ruleset
from rules.policy import load_policy
from workflows.access import viewer_of
from workflows.accounts import disable_account, issue_token, revoke_tokens, set_password
from workflows.db import migrate, reading
from workflows.engine import sweep as sweep_due
from workflows.errors import BadInput
from workflows.keys import save_keyring
from workflows.ledger import export_ledger, import_ledger
from workflows.messaging import deliver, retry_dead
from workflows.recording import (
    NewDispute,
    NewEvent,
    import_events,
    loads_limited,
    record_event,
    report_dispute,
)
from workflows.reorganising import load_org
from workflows.reorganising import org_history as org_history_of
from workflows.reports import (
    filing_board,
    find_period,
    list_reports,
    read_report,
    report_attachments,
    write_report_file,
)
from workflows.rollout import ChangedDispute, RulesDiff, apply_rules, diff_rules
from workflows.sealing import in_clear, prune_keys, rotate_keys, seal_in_clear
from workflows.tasks import acknowledge_dispute, acknowledge_task, fulfil_unit_tasks
from workflows.views import (
    dispute_view,
    escalations_view,
    explain_view,
    find_by_party,
    iso,
    outbox_view,
    rules_history_view,
    shape_changed,
    shape_counts,
    shape_keys,
    shape_versions,
    tasks_view,
    unit_tasks_view,
)


def _print(lines: Iterable[str]) -> None:
    for line in lines:
        print(line)


def _json(value: Any) -> None:
    print(json_text(value))


def _parse_json(text: str | None, what: str) -> Any:
    if text is None:
        return None
    return loads_limited(text, what=what)


def init(ctx: Context, args: argparse.Namespace) -> int:
    migrate(ctx.raw_engine)
    # Parties stored before sealing began (an upgraded database) are sealed now, if the
    # key is at hand; otherwise the command says how.
    clear = in_clear(ctx.raw_engine)
    if clear:
        try:
            sealed = seal_in_clear(ctx.raw_engine)
        except SealError as exc:
            print(
                f"fengqiao: the parties of {clear:,} disputes are stored in clear and stay so: "
                f"{exc}; then run `fengqiao init` again",
                file=sys.stderr,
            )
        else:
            print(f"sealed the parties of {sealed:,} disputes stored before sealing began")
    print(f"database ready: {ctx.db_label}")
    return 0


def org_load(ctx: Context, args: argparse.Namespace) -> int:
    summary = load_org(
        engine=ctx.engine, policy=ctx.policy, now=ctx.now, actor=ctx.actor(args.by), path=args.file
    )
    print(
        f"units: {summary.units_added} added, {summary.units_updated} updated, "
        f"{summary.units_unchanged} unchanged; people: {summary.people_added} added, "
        f"{summary.people_updated} updated, {summary.people_unchanged} unchanged"
    )
    if summary.changes:
        said = ", ".join(
            f"{count} {kind.replace('_', ' ')}" for kind, count in summary.changes.items()
        )
        print(
            f"changes: {said}; {summary.disputes_moved} live disputes moved with their unit, "
            f"{summary.disputes_released} released by people who moved or left"
        )
    return 0


def org_history(ctx: Context, args: argparse.Namespace) -> int:
    changes = [
        {**change, "at": change["at"].astimezone(ctx.zone).isoformat()}
        for change in org_history_of(engine=ctx.engine)
    ]
    if args.json:
        _json(changes)
    elif not changes:
        print("no org changes have moved work yet")
    else:
        for change in changes:
            before = ", ".join(f"{k} {v}" for k, v in change["before"].items()) or "-"
            after = ", ".join(f"{k} {v}" for k, v in change["after"].items()) or "-"
            print(
                f"{change['at']}  {change['actor'] or '(operator)'}  {change['kind']} "
                f"{change['subject']}: {before} -> {after}; {change['disputes']} live disputes"
            )
    return 0


def dispute_new(ctx: Context, args: argparse.Namespace) -> int:
    parties = _parse_json(args.parties, "--parties") or []
    if not isinstance(parties, list) or not all(isinstance(p, dict) for p in parties):
        raise BadInput("--parties must be a JSON list of objects")
    dispute_id = report_dispute(
        engine=ctx.engine,
        policy=ctx.policy,
        now=ctx.now,
        actor=ctx.actor(args.by),
        dispute=NewDispute(
            unit=args.unit,
            risk=args.risk,
            category=args.category,
            title=args.title,
            description=args.description,
            at=ctx.time(args.at, "--at"),
            people_involved=args.people,
            parties=parties,
            location=args.location,
            source=args.source,
            court=args.court,
            court_deadline=ctx.time(args.court_deadline, "--court-deadline"),
        ),
    )
    if args.json:
        _json(dispute_view(engine=ctx.engine, dispute_id=dispute_id, now=ctx.now, zone=ctx.zone))
    else:
        print(dispute_id)
    return 0


def dispute_event(ctx: Context, args: argparse.Namespace) -> int:
    data = _parse_json(args.data, "--data")
    if data is not None and not isinstance(data, dict):
        raise BadInput("--data must be a JSON object")
    # An acknowledgement that would close none owed is refused, not recorded in vain.
    record = acknowledge_dispute if args.kind == "acknowledge" else record_event
    recorded = record(
        engine=ctx.engine,
        policy=ctx.policy,
        now=ctx.now,
        actor=ctx.actor(args.by),
        dispute_id=args.id,
        event=NewEvent(kind=args.kind, at=ctx.time(args.at, "--at"), data=data),
    )
    view = dispute_view(engine=ctx.engine, dispute_id=args.id, now=ctx.now, zone=ctx.zone)
    if args.json:
        _json(view)
    else:
        event = recorded.events[0]
        print(
            f"dispute {args.id}: #{event.seq} {event.kind} recorded; "
            f"now {view['status']} at {view['level']} ({view['unit']})"
        )
    return 0


def dispute_show(ctx: Context, args: argparse.Namespace) -> int:
    view = dispute_view(engine=ctx.engine, dispute_id=args.id, now=ctx.now, zone=ctx.zone)
    if args.json:
        _json(view)
    else:
        _print(dispute_lines(view))
    return 0


def events_import(ctx: Context, args: argparse.Namespace) -> int:
    summary = import_events(
        engine=ctx.engine,
        policy=ctx.policy,
        now=ctx.now,
        actor=ctx.actor(None),
        path=args.file,
        zone=ctx.zone,
    )
    print(
        f"{summary.events} events recorded on {summary.disputes} disputes "
        f"({summary.decisions} escalations and listings fell due)"
        + (f"; {summary.already} lines recorded before, not again" if summary.already else "")
    )
    return 0


def dispute_find(ctx: Context, args: argparse.Namespace) -> int:
    viewer = None
    if args.by is not None:
        with reading(ctx.engine) as session:
            viewer = viewer_of(session, args.by)
    found = find_by_party(
        engine=ctx.engine, viewer=viewer, zone=ctx.zone, phone=args.phone, id_number=args.id_number
    )
    if args.json:
        _json(found)
        return 0
    print("id\tstatus\trisk\tunit\treported_at\ttitle")
    for row in found:
        print(
            f"{row['id']}\t{row['status']}\t{row['risk']}\t{row['unit']}\t"
            f"{row['reported_at']}\t{row['title']}"
        )
    return 0


def keys_new(ctx: Context, args: argparse.Namespace) -> int:
    if not save_keyring(args.out, Keyring.generate(), create=True):
        raise BadInput(f"{args.out} exists: a key file is never overwritten")
    print(f"{args.out}: a new key; set FENGQIAO_DATA_KEY_FILE={args.out} and keep a copy safe")
    return 0


def keys_rotate(ctx: Context, args: argparse.Namespace) -> int:
    if args.prune:
        path, dropped = prune_keys(engine=ctx.engine, url=ctx.settings.db)
        print(f"{path}: dropped {len(dropped)} old key{'s' if len(dropped) != 1 else ''}"
              + (f" ({', '.join(dropped)})" if dropped else ""))  # fmt: skip
        return 0
    print(rotate_keys(engine=ctx.engine, url=ctx.settings.db))
    return 0


def report(ctx: Context, args: argparse.Namespace) -> int:
    """``report NAME --unit``: a report as a table, JSON, Excel or Word; ``report list``."""
    if args.name == "list":
        found = list_reports(
            engine=ctx.engine, policy=ctx.policy, actor=ctx.actor(args.by), unit=args.unit
        )
        if args.format == "json":
            _json(found)
        else:
            _print(report_list_lines(found))
        return 0
    if args.unit is None:
        raise BadInput("--unit is required: the unit reported on")
    files = ("xlsx", "docx")
    if (args.format in files) != (args.out is not None):
        raise BadInput(
            "--out FILE goes with --format xlsx or docx"
            if args.out is not None
            else f"--format {args.format} writes a file: give --out FILE"
        )
    if args.template is not None and args.format != "docx":
        raise BadInput("--template is a Word template: it goes with --format docx")
    period = find_period(ctx.policy, args.name, week=args.week, month=args.month, now=ctx.now)
    content = read_report(
        engine=ctx.engine,
        policy=ctx.policy,
        name=args.name,
        unit=args.unit,
        period=period,
        now=ctx.now,
        actor=ctx.actor(args.by),
    )
    if args.format == "json":
        _json(content)
    elif args.format == "text":
        _print(report_lines(content))
    else:
        write_report_file(content, args.format, args.out, template=args.template)
        print(
            f"wrote {args.out}: {content['title']} {content['name']} {content['period']['label']}"
        )
    return 0


def filing(ctx: Context, args: argparse.Namespace) -> int:
    """``filing --unit``: who made their checks and assessments in a day or week."""
    day = args.day
    if day is None and args.week is None:  # yesterday, the last whole day
        day = (ctx.now.astimezone(ctx.zone).date() - timedelta(days=1)).isoformat()
    try:
        period = filing_period(day=day, week=args.week, zone=ctx.zone)
    except ValueError as exc:
        raise BadInput(str(exc)) from None
    found = filing_board(
        engine=ctx.engine,
        policy=ctx.policy,
        unit=args.unit,
        start=period.start,
        end=period.end,
        label=period.label,
        now=ctx.now,
        actor=ctx.actor(args.by),
    )
    if args.format == "json":
        _json(found)
    else:
        _print(filing_lines(found))
    return 0


def ledger_import(ctx: Context, args: argparse.Namespace) -> int:
    summary = import_ledger(
        engine=ctx.engine,
        policy=ctx.policy,
        now=ctx.now,
        actor=ctx.actor(args.by),
        path=args.file,
        mapping=args.mapping,
        dry_run=args.dry_run,
    )
    print(summary)
    return 0


def ledger_export(ctx: Context, args: argparse.Namespace) -> int:
    summary = export_ledger(
        engine=ctx.engine,
        policy=ctx.policy,
        now=ctx.now,
        actor=ctx.actor(args.by),
        unit=args.unit,
        out=args.out,
        start=_day(args.start, "--from"),
        end=_day(args.end, "--to"),
        status=args.status,
    )
    print(summary)
    return 0


def _day(text: str | None, option: str) -> date | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise BadInput(f"{option}: not a day: {text!r}; give it as 2026-03-01") from None


def rules_check(ctx: Context, args: argparse.Namespace) -> int:
    path = args.path or ctx.settings.rules or default_rules_path()
    ruleset = load_ruleset(path)
    today = ctx.now.astimezone(ctx.zone).date()
    for warning in coverage_warnings(ruleset, today):
        print(f"{path}: warning: {warning}", file=sys.stderr)
    print("ok")
    return 0


def rules_explain(ctx: Context, args: argparse.Namespace) -> int:
    result = explain_view(
        engine=ctx.engine, dispute_id=args.id, policy=ctx.policy, now=ctx.now, zone=ctx.zone
    )
    if args.json:
        _json(result)
    else:
        _print(explanation_lines(result))
    return 0


def rules_diff(ctx: Context, args: argparse.Namespace) -> int:
    """What NEW.yaml would change, streamed: the rule file's keys first, each dispute as it
    is found, the counts last (in JSON, one document written as it goes)."""
    new = load_policy(args.path)
    out, first = sys.stdout, [True]

    def begin(diff: RulesDiff) -> None:
        versions, keys = shape_versions(diff), shape_keys(diff.keys)
        if args.json:
            head = {**versions, "now": iso(ctx.now, ctx.zone), "rules": keys}
            out.write(json_text(head)[:-2] + ',\n  "disputes": [')
            return
        print(_compared(diff))
        _print(rule_key_lines(keys))

    def found(changed: ChangedDispute) -> None:
        shaped = shape_changed(changed, ctx.zone)
        if args.json:
            out.write(
                ("\n    " if first[0] else ",\n    ") + json.dumps(shaped, ensure_ascii=False)
            )
            first[0] = False
        else:
            print(changed_line(shaped))

    with progress_bar("comparing live disputes") as progress:
        diff = diff_rules(
            engine=ctx.engine,
            policy=new,
            fallback=ctx.policy,
            now=ctx.now,
            begin=begin,
            found=found,
            progress=progress,
        )
    counts = shape_counts(diff)
    if args.json:
        tail = json_text(counts).replace("\n", "\n  ")
        out.write(("\n  ]" if not first[0] else "]") + f',\n  "counts": {tail}\n}}\n')
    else:
        _print(diff_summary_lines(counts))
    return 0


def _compared(diff: RulesDiff) -> str:
    old = diff.old
    was = "in force" if diff.in_force else f"none put in force yet: compared with {old.source}"
    return f"rules {old.label} ({was}) -> {diff.new.label} ({diff.new.source})"


def rules_apply(ctx: Context, args: argparse.Namespace) -> int:
    """The change shown first (the rule file's keys, and how many disputes it moves and
    how), then put in force; with --dry-run only shown."""
    actor = ctx.actor(args.by)
    with progress_bar("comparing live disputes") as progress:
        diff = diff_rules(
            engine=ctx.engine,
            policy=ctx.policy,
            fallback=load_policy(None),  # before any was put in force: the shipped rules
            now=ctx.now,
            progress=progress,
        )
    print(_compared(diff))
    _print(rule_key_lines(shape_keys(diff.keys)))
    _print(diff_summary_lines(shape_counts(diff)))
    if diff.in_force and diff.old.version == ctx.policy.version:
        print(f"rules {ctx.policy.label} are already in force: nothing to do")
        return 0
    applied = apply_rules(
        engine=ctx.engine,
        policy=ctx.policy,
        now=ctx.now,
        actor=actor,
        reason=args.reason,
        dry_run=args.dry_run,
    )
    verb = "would recompute" if args.dry_run else "recomputed"
    print(
        f"rules {ctx.policy.label} {'checked' if args.dry_run else 'in force'} "
        f"(was {applied.from_version or 'none recorded'}): {verb} {applied.disputes_recomputed} "
        f"live disputes, {applied.obligations_changed} obligations changed, "
        f"{applied.decisions_recorded} escalations and listings recorded"
    )
    return 0


def rules_history(ctx: Context, args: argparse.Namespace) -> int:
    history = rules_history_view(engine=ctx.engine, zone=ctx.zone)
    if args.json:
        _json(history)
    else:
        _print(history_lines(history))
    return 0


def user_password(ctx: Context, args: argparse.Namespace) -> int:
    if args.disable:
        disable_account(engine=ctx.engine, now=ctx.now, actor=ctx.actor(None), person=args.person)
        print(f"account of {args.person} disabled")
        return 0
    set_password(
        engine=ctx.engine,
        now=ctx.now,
        actor=ctx.actor(None),
        person=args.person,
        password=_new_password(),
    )
    print(f"password of {args.person} set")
    return 0


def _new_password() -> str:
    """The new password: asked for twice on a terminal, else the first line of stdin."""
    if sys.stdin.isatty():
        first = getpass.getpass("new password: ")
        if getpass.getpass("the same again: ") != first:
            raise BadInput("the two passwords differ")
        return first
    line = sys.stdin.readline()
    if not line:
        raise BadInput("no password on standard input")
    return line.removesuffix("\n").removesuffix("\r")


def user_token(ctx: Context, args: argparse.Namespace) -> int:
    if args.revoke:
        count = revoke_tokens(
            engine=ctx.engine, now=ctx.now, actor=ctx.actor(None), person=args.person
        )
        print(f"{count} tokens of {args.person} revoked")
        return 0
    print(issue_token(engine=ctx.engine, now=ctx.now, actor=ctx.actor(None), person=args.person))
    return 0


def sweep(ctx: Context, args: argparse.Namespace) -> int:
    # Without --now, due times are compared with the database's clock, not this machine's:
    # sweeps on several machines against one PostgreSQL agree on what is due.
    results = sweep_due(
        engine=ctx.engine,
        policy=ctx.policy,
        now=ctx.database_clock(),
        actor=ctx.actor(None),
        clock=ctx.database_clock,
        smtp=ctx.settings.smtp,
        base_url=ctx.settings.base_url,
    )
    if args.json:
        _json([r.as_dict() for r in results])
    else:
        _print(sweep_lines(results))
    return 1 if any(r.failed for r in results) else 0


def escalations(ctx: Context, args: argparse.Namespace) -> int:
    rows = escalations_view(
        engine=ctx.engine,
        now=ctx.now,
        zone=ctx.zone,
        unit=args.unit,
        level=args.level,
        risk=args.risk,
        overdue_only=args.overdue,
    )
    if args.json:
        _json(rows)
    else:
        _print(escalation_lines(rows))
    return 0


def tasks(ctx: Context, args: argparse.Namespace) -> int:
    if args.action == "ack":
        if args.task is None:
            raise BadInput("tasks ack needs the task's id")
        task = acknowledge_task(
            engine=ctx.engine,
            policy=ctx.policy,
            now=ctx.now,
            actor=ctx.actor(args.by),
            task_id=args.task,
        )
        what = f"task {task.id} ({task.kind}, dispute {task.dispute_id})"
        if not task.already:
            print(f"{what}: {task.state}")
            return 0
        by = f" by {task.by}" if task.by else ""
        at = f" at {task.at.astimezone(ctx.zone).isoformat()}" if task.at else ""
        print(f"{what}: already acknowledged{by}{at}; nothing changed")
        return 0
    rows = tasks_view(
        engine=ctx.engine,
        now=ctx.now,
        zone=ctx.zone,
        person=args.person,
        unit=args.unit,
        include_closed=args.all,
    )
    if args.json:
        _json(rows)
    else:
        _print(task_lines(rows))
    return 0


def outbox(ctx: Context, args: argparse.Namespace) -> int:
    if args.action == "retry":
        count = retry_dead(engine=ctx.engine, now=ctx.now, actor=ctx.actor(None))
        print(f"{count} dead messages queued again")
        return 0
    if args.action == "send":
        result = deliver(
            engine=ctx.engine,
            policy=ctx.policy,
            now=ctx.now,
            smtp=ctx.settings.smtp,
            base_url=ctx.settings.base_url,
            attach=partial(
                report_attachments, ctx.engine, ctx.policy
            ),  # a report's files, on e-mail
        )
        print(f"{result.sent} sent, {result.failed} failed, {len(result.dead_ids)} dead")
        return 1 if result.dead_ids else 0
    rows = outbox_view(engine=ctx.engine, zone=ctx.zone, state=args.state)
    if args.json:
        _json(rows)
    else:
        _print(outbox_lines(rows))
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
            now=ctx.now if ctx.fixed else None,
            smtp=ctx.settings.smtp,
            base_url=ctx.settings.base_url,
        )
        if args.no_web:
            return run(
                embedded,
                ready=lambda: print(
                    f"fengqiao serving {ctx.db_label} with rules {embedded.policy.label} "
                    f"({args.engine}); stop with Ctrl-C or SIGTERM",
                    flush=True,
                ),
            )
        from fengqiao.web.serving import serve_beside

        return serve_beside(
            ctx,
            embedded,
            host=args.host,
            port=args.port,
            ready=lambda address: print(
                f"fengqiao serving {ctx.db_label} with rules {embedded.policy.label} "
                f"({args.engine}), the web app on {address}; stop with Ctrl-C or SIGTERM",
                flush=True,
            ),
        )
    except LockHeld as exc:
        raise BadInput(str(exc)) from None


def web(ctx: Context, args: argparse.Namespace) -> int:
    from fengqiao.web.serving import serve_web

    if not 1 <= args.workers <= 64:
        raise BadInput(f"--workers: from 1 to 64, not {args.workers}")
    return serve_web(
        ctx,
        host=args.host,
        port=args.port,
        workers=args.workers,
        ready=lambda address: print(
            f"fengqiao web app of {ctx.db_label} on {address} "
            f"({args.workers} {'process' if args.workers == 1 else 'processes'}); "
            "stop with Ctrl-C or SIGTERM",
            flush=True,
        ),
    )


def deploy(ctx: Context, args: argparse.Namespace) -> int:
    from workflows.engine.deploy import (
        apply_deployments,
        check_name,
        check_server,
        plan_deployments,
    )

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


def unit_tasks(ctx: Context, args: argparse.Namespace) -> int:
    rows = unit_tasks_view(
        engine=ctx.engine,
        now=ctx.now,
        zone=ctx.zone,
        person=args.person,
        unit=args.unit,
        include_closed=args.all,
    )
    if args.json:
        _json(rows)
    else:
        _print(unit_task_lines(rows))
    return 0


def unit_inspect(ctx: Context, args: argparse.Namespace) -> int:
    done = fulfil_unit_tasks(
        engine=ctx.engine,
        policy=ctx.policy,
        now=ctx.now,
        actor=ctx.actor(args.by),
        unit=args.code,
        kind="inspect",
        at=ctx.time(args.at, "--at"),
        note=args.note,
    )
    for task in done:
        late = ", late" if task.late else ""
        print(f"{args.code}: {task.kind} of {task.opened_on} done{late}")
    return 0
