"""The ``fengqiao`` command line: its parser, and how a refusal is said (exit code 2).

Exit 0 on success, 2 on bad input with one line per problem on stderr and nothing changed.
Each command's handler is in ``commands.py``; what it needs (rules, clock, database) in
``context.py``.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn

import structlog
from sqlalchemy.exc import DataError, OperationalError

from fengqiao import commands as c
from fengqiao.context import Context
from fengqiao.logs import configure_logging
from models.events import DataField, EventData
from models.sealing import SealError
from rules.evaluate import HistoryError
from rules.loader import RulesError
from workflows.errors import BadInput, ProblemList, first_line
from workflows.ledger import STATUS_FILTERS
from workflows.recording import RECORDABLE
from workflows.settings import load_settings

__all__ = ["build_parser", "main"]

log = structlog.get_logger("fengqiao.cli")

Handler = Callable[[Context, argparse.Namespace], int]


def _an_id(what: str) -> Callable[[str], int]:
    """The argument type of a ``what`` id: a number the database can hold."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a {what} id") from None
        if not 1 <= value < 2**63:
            raise argparse.ArgumentTypeError(f"{text!r} is not a {what} id")
        return value

    return parse


_dispute_id, _task_id = _an_id("dispute"), _an_id("task")


def _event_kinds() -> str:
    """Every kind ``dispute event`` records, with its data, from the models themselves."""
    lines = [
        "kinds, and the fields of their --data (* required); every kind also takes a note,",
        "and acknowledge needs --by, the person acknowledging (签收):",
    ]
    width = max(len(kind) for kind in RECORDABLE)
    for kind in RECORDABLE:
        fields = [f for f in EventData.fields(kind) if f.name != "note" or kind == "note"]
        lines.append(f"  {kind:<{width}}  {', '.join(map(_data_field, fields)) or '-'}")
    return "\n".join(lines)


def _data_field(field: DataField) -> str:
    shown = {
        "time": "a time with offset",
        "text": "text",
        "long_text": "text",
        "amount": "an amount in yuan",
    }
    what = "/".join(field.choices) if field.choices else shown[field.kind]
    return f"{field.name}{'*' if field.required else ''}: {what}"


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: {message}\n")


def _global_options(parser: argparse.ArgumentParser, *, top: bool) -> None:
    default = None if top else argparse.SUPPRESS
    parser.add_argument("--db", default=default, help="database URL (FENGQIAO_DB)")
    parser.add_argument("--rules", default=default, help="rule file (FENGQIAO_RULES)")
    parser.add_argument("--now", default=default, help="a fixed clock, ISO 8601 (FENGQIAO_NOW)")


def _command(
    subparsers: Any, name: str, handler: Handler, help_text: str, epilog: str | None = None
) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        name,
        help=help_text,
        description=help_text,
        epilog=epilog,
        # an epilog is a table, kept as it is written
        formatter_class=argparse.RawDescriptionHelpFormatter if epilog else argparse.HelpFormatter,
    )
    _global_options(parser, top=False)
    parser.set_defaults(handler=handler)
    return parser


def _listening(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (127.0.0.1)")
    parser.add_argument(
        "--port", type=int, default=8000, help="port to listen on (8000; 0: any free one)"
    )


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="fengqiao", description="Dispute-escalation workflow engine.")
    _global_options(parser, top=True)
    top = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    _command(top, "init", c.init, "create or upgrade the database schema")

    org = top.add_parser("org", help="units and people").add_subparsers(
        dest="org_command", required=True, parser_class=_Parser
    )
    load = _command(
        org,
        "load",
        c.org_load,
        "upsert units and people from a YAML file; units moved, merged (merged_into) or "
        "removed, people moved or gone (left: true) take their live disputes with them",
    )
    load.add_argument("file", type=Path)
    load.add_argument("--by", help="the administrator making the change (default: the operator)")
    org_changes = _command(
        org,
        "history",
        c.org_history,
        "the org's changes that moved work: units moved, merged, removed; people moved, gone",
    )
    org_changes.add_argument("--json", action="store_true")

    dispute = top.add_parser("dispute", help="report, record, show").add_subparsers(
        dest="dispute_command", required=True, parser_class=_Parser
    )
    new = _command(dispute, "new", c.dispute_new, "report a new dispute")
    new.add_argument("--unit", required=True, help="village or grid code")
    new.add_argument("--risk", required=True, choices=["high", "medium", "low"])
    new.add_argument(
        "--category",
        required=True,
        help="its kind: a code of the rule file's categories, or its name (邻里, 婚姻家庭…)",
    )
    new.add_argument("--title", required=True)
    new.add_argument("--description", help="what it is about (纠纷简要情况)")
    new.add_argument("--at", help="when it was reported (default: now)")
    new.add_argument("--by", help="the person reporting it")
    new.add_argument("--people", type=int, default=1, help="number of people involved")
    new.add_argument("--location")
    new.add_argument(
        "--parties",
        help='JSON list of parties, e.g. [{"name": "张三", "role": "申请人", '
        '"phone": "13800138000"}] (fields: name, role, phone, id_number, address)',
    )
    new.add_argument(
        "--source",
        help="where it came from: a code of the rule file's sources, or its name (主动排查…); "
        "court_delegated (委派) or court_entrusted (委托) owes the court its result",
    )
    new.add_argument("--court", help="the court that delegated or entrusted it")
    new.add_argument(
        "--court-deadline", help="the court's deadline for the result (default: the rules')"
    )
    new.add_argument("--json", action="store_true", help="print the dispute as JSON")

    event = _command(
        dispute, "event", c.dispute_event, "record an event on a dispute", _event_kinds()
    )
    event.add_argument("id", type=_dispute_id)
    event.add_argument("kind", help="what happened: one of the kinds below")
    event.add_argument("--at", help="when it happened (default: now)")
    event.add_argument("--by", help="who did it")
    event.add_argument("--data", help="the event's data as a JSON object")
    event.add_argument("--json", action="store_true", help="print the dispute as JSON")

    show = _command(dispute, "show", c.dispute_show, "show a dispute")
    show.add_argument("id", type=_dispute_id)
    show.add_argument("--json", action="store_true")

    find = _command(
        dispute,
        "find",
        c.dispute_find,
        "the disputes with a party of this phone or ID number (found by its keyed hash)",
    )
    wanted = find.add_mutually_exclusive_group(required=True)
    wanted.add_argument("--phone")
    wanted.add_argument("--id-number")
    find.add_argument("--by", help="as this person: within their part of the org")
    find.add_argument("--json", action="store_true")

    events = top.add_parser("events", help="bulk loading").add_subparsers(
        dest="events_command", required=True, parser_class=_Parser
    )
    imp = _command(
        events, "import", c.events_import, "record the events of a JSON-lines file, all or nothing"
    )
    imp.add_argument("file", type=Path)

    ledger = top.add_parser("ledger", help="an office's ledger (台账) in and out of Excel")
    ledgers = ledger.add_subparsers(dest="ledger_command", required=True, parser_class=_Parser)
    bring = _command(
        ledgers,
        "import",
        c.ledger_import,
        "bring in an office's ledger (.xlsx or .csv), all or nothing; every bad cell is named",
    )
    bring.add_argument("file", type=Path)
    bring.add_argument(
        "--by", required=True, help="the person bringing it in: kept as their unit's"
    )
    bring.add_argument(
        "--mapping", type=Path, help="the office's own header names (YAML; docs/ledger.md)"
    )
    bring.add_argument("--dry-run", action="store_true", help="check everything, record nothing")

    give = _command(
        ledgers,
        "export",
        c.ledger_export,
        "write a unit's ledger as an Excel sheet with today's state (read back by import)",
    )
    give.add_argument("--unit", required=True, help="the unit whose disputes it lists")
    give.add_argument("--from", dest="start", help="reported on or after this day (2026-03-01)")
    give.add_argument("--to", dest="end", help="reported on or before this day")
    give.add_argument(
        "--status",
        choices=list(STATUS_FILTERS),
        help="only these: a status, open (reported, mediating) or live (not closed)",
    )
    give.add_argument("--out", required=True, type=Path, help="the .xlsx file to write")
    give.add_argument(
        "--by", help="export as this person: their scope, parties masked if their role says so"
    )

    paper = _command(
        top,
        "report",
        c.report,
        "read a report of the rule file (weekly: 周研判报告, monthly: 月督查通报) of a unit, "
        "or list those stored",
    )
    paper.add_argument("name", help="the report's name in the rule file (weekly, monthly), or list")
    paper.add_argument("--unit", help="the unit reported on (a township, a county…)")
    paper.add_argument("--week", help="its ISO week, such as 2026-W10 (default: last week)")
    paper.add_argument("--month", help="its month, such as 2026-03 (default: last month)")
    paper.add_argument(
        "--format",
        choices=["text", "json", "xlsx", "docx"],
        default="text",
        help="text (a table, the default), json, or a file: xlsx (Excel), docx (Word)",
    )
    paper.add_argument("--out", type=Path, help="the file to write (xlsx, docx)")
    paper.add_argument("--template", type=Path, help="an office's own Word template (docx)")
    paper.add_argument("--by", help="read as this person: their scope and role")

    board = _command(
        top,
        "filing",
        c.filing,
        "the filing board of a township or county: which villages made their daily checks "
        "and weekly assessments on every dispute that owed one, which did not, how late",
    )
    board.add_argument("--unit", required=True, help="the township or county")
    board.add_argument("--day", help="a day, such as 2026-03-02 (default: yesterday)")
    board.add_argument("--week", help="an ISO week, such as 2026-W10")
    board.add_argument("--format", choices=["text", "json"], default="text")
    board.add_argument("--by", help="read as this person: their scope and role")

    keys = top.add_parser("keys", help="the key that seals the parties' data").add_subparsers(
        dest="keys_command", required=True, parser_class=_Parser
    )
    fresh = _command(keys, "new", c.keys_new, "write a new key file (for FENGQIAO_DATA_KEY_FILE)")
    fresh.add_argument("--out", required=True, type=Path)
    rotate = _command(
        keys,
        "rotate",
        c.keys_rotate,
        "make a new current key and seal every dispute's parties again with it",
    )
    rotate.add_argument(
        "--prune",
        action="store_true",
        help="instead: drop the old keys, once nothing is sealed with them",
    )

    rules = top.add_parser("rules", help="the escalation rules").add_subparsers(
        dest="rules_command", required=True, parser_class=_Parser
    )
    check = _command(rules, "check", c.rules_check, "validate a rule file")
    check.add_argument("path", nargs="?", type=Path)
    explain = _command(
        rules, "explain", c.rules_explain, "why a dispute owes what it owes, and what happens next"
    )
    explain.add_argument("id", type=_dispute_id)
    explain.add_argument("--json", action="store_true")
    diff = _command(
        rules,
        "diff",
        c.rules_diff,
        "what a new rule file would change, dispute by dispute, against the rules in force",
    )
    diff.add_argument("path", type=Path, help="the new rule file")
    diff.add_argument("--json", action="store_true")
    apply = _command(
        rules,
        "apply",
        c.rules_apply,
        "put the rules in force: recompute live disputes, log the change",
    )
    apply.add_argument("--by", required=True, help="the administrator making the change")
    apply.add_argument("--reason", required=True, help="why, kept in the rules' history")
    apply.add_argument(
        "--dry-run", action="store_true", help="show what would change, change nothing"
    )
    history = _command(
        rules, "history", c.rules_history, "the changes of the rules in force: who, when, why, what"
    )
    history.add_argument("--json", action="store_true")

    user = top.add_parser("user", help="accounts: passwords and API tokens").add_subparsers(
        dest="user_command", required=True, parser_class=_Parser
    )
    password = _command(
        user,
        "password",
        c.user_password,
        "set a person's password (read from standard input, or asked for on a terminal)",
    )
    password.add_argument("person")
    password.add_argument("--disable", action="store_true", help="lock the account instead")
    token = _command(
        user, "token", c.user_token, "print a new API token for a person (shown only once)"
    )
    token.add_argument("person")
    token.add_argument("--revoke", action="store_true", help="revoke the person's tokens instead")

    sweep = _command(
        top,
        "sweep",
        c.sweep,
        "run once what is due at --now: the escalation sweep, the cadence flows, "
        "the reminders and the outbox delivery",
    )
    sweep.add_argument("--json", action="store_true")

    escalations = _command(
        top,
        "escalations",
        c.escalations,
        "escalated and overdue disputes of a unit's subtree, newest first",
    )
    escalations.add_argument("--unit", help="county, township or village code")
    escalations.add_argument("--level", choices=["village", "township", "county"])
    escalations.add_argument("--risk", choices=["high", "medium", "low"])
    escalations.add_argument("--overdue", action="store_true", help="only overdue ones")
    escalations.add_argument("--json", action="store_true")

    tasks = _command(
        top,
        "tasks",
        c.tasks,
        "open tasks of a person (and their unit) or a unit; `tasks ack ID` to acknowledge one",
    )
    tasks.add_argument("action", nargs="?", choices=["ack"], help="acknowledge the task ID")
    tasks.add_argument("task", nargs="?", type=_task_id, help="the task to acknowledge")
    tasks.add_argument(
        "--by",
        help="who acknowledges (default: the person the task is for; a unit's task needs --by)",
    )
    tasks.add_argument("--person", help="a person's tasks, theirs and their unit's")
    tasks.add_argument("--unit", help="a unit's tasks")
    tasks.add_argument("--all", action="store_true", help="include done and cancelled tasks")
    tasks.add_argument("--json", action="store_true")

    unit = top.add_parser("unit", help="what a unit owes as a whole").add_subparsers(
        dest="unit_command", required=True, parser_class=_Parser
    )
    unit_tasks = _command(
        unit,
        "tasks",
        c.unit_tasks,
        "open tasks of a unit as a whole (the county's monthly inspection): a supervisor's "
        "unit's, or a unit's",
    )
    unit_tasks.add_argument("--person", help="a supervisor: their unit's tasks")
    unit_tasks.add_argument("--unit", help="a unit's tasks")
    unit_tasks.add_argument("--all", action="store_true", help="include done tasks")
    unit_tasks.add_argument("--json", action="store_true")
    inspect = _command(
        unit,
        "inspect",
        c.unit_inspect,
        "record a unit's monthly inspection (月督查) done, closing its open task",
    )
    inspect.add_argument("code", help="the county (or unit) inspected")
    inspect.add_argument("--by", required=True, help="the supervisor of the unit who did it")
    inspect.add_argument("--at", help="when it was done (default: now)")
    inspect.add_argument("--note", help="what was inspected, in brief")

    outbox = _command(
        top,
        "outbox",
        c.outbox,
        "messages: pending, sent, dead; `outbox retry` re-queues the dead, "
        "`outbox send` delivers what is due now",
    )
    outbox.add_argument("action", nargs="?", choices=["retry", "send"])
    outbox.add_argument("--state", choices=["pending", "sent", "dead"])
    outbox.add_argument("--json", action="store_true")

    serve = _command(
        top,
        "serve",
        c.serve,
        "the embedded engine: run the sweep flows on the rule file's schedule",
    )
    serve.add_argument(
        "--engine",
        choices=["prefect", "direct"],
        default="prefect",
        help="run the sweeps as Prefect flows (default) or as plain functions",
    )
    serve.add_argument(
        "--no-web", action="store_true", help="run the scheduler only, without the web app"
    )
    _listening(serve)

    web = _command(
        top,
        "web",
        c.web,
        "serve the web app and its JSON API (any number of these against one PostgreSQL)",
    )
    _listening(web)
    web.add_argument(
        "--workers",
        type=int,
        default=1,
        metavar="N",
        help="uvicorn worker processes (default 1); all share the database, nothing else",
    )

    deploy = _command(
        top,
        "deploy",
        c.deploy,
        "create or update the Prefect deployments of the sweep flows, on the rule file's "
        "schedule, on the Prefect server of PREFECT_API_URL",
    )
    deploy.add_argument(
        "--pool", default="fengqiao", help="work pool (a process pool is created if missing)"
    )
    deploy.add_argument(
        "--name", default="fengqiao", help="the deployments' name (flow/NAME); default fengqiao"
    )
    deploy.add_argument(
        "--parallel",
        type=int,
        default=1,
        metavar="N",
        help="split the escalation sweep into N deployments run in parallel (default 1)",
    )
    deploy.add_argument(
        "--dry-run", action="store_true", help="print the deployments, contact no server"
    )

    demo = _command(
        top, "demo", c.demo, "a county in a month of fast-forward, on the embedded SQLite default"
    )
    demo.add_argument(
        "--database",
        type=Path,
        default=Path("fengqiao-demo.db"),
        help="the SQLite file the demo county is built in (rebuilt on each run)",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; its exit code. A reader that stops reading (``| head``) ends it
    quietly, as it ends Unix tools: exit 128 + SIGPIPE, no traceback."""
    try:
        try:
            return _main(argv)
        finally:
            sys.stdout.flush()  # inside the try: the reader may have gone before the last lines
    except BrokenPipeError:
        # What is still buffered goes nowhere, instead of failing again at exit
        # (https://docs.python.org/3/library/signal.html#note-on-sigpipe).
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 128 + getattr(signal, "SIGPIPE", 13)


def _main(argv: Sequence[str] | None) -> int:
    args = build_parser().parse_args(argv)
    configure_logging()  # the defaults, until the settings are known to be valid
    try:
        settings = load_settings(db=args.db, rules=args.rules, now=args.now)
        default_level = "info" if args.command in ("serve", "web") else "warning"
        configure_logging(fmt=settings.log_format, level=settings.log_level or default_level)
        handler: Handler = args.handler
        return handler(Context(settings), args)
    except RulesError as exc:
        return _refused(args, exc.lines, reason="rules")
    except ProblemList as exc:
        return _refused(args, exc.lines, reason="problems")
    except (BadInput, HistoryError, SealError) as exc:
        return _refused(args, [f"fengqiao: {exc}"], reason=type(exc).__name__)
    except OperationalError as exc:
        return _refused(
            args, [f"fengqiao: cannot use the database: {first_line(exc.orig)}"], reason="database"
        )
    except DataError as exc:
        return _refused(
            args,
            [f"fengqiao: the database refused a value: {first_line(exc.orig)}"],
            reason="database",
        )
    except (OverflowError, UnicodeError) as exc:
        return _refused(
            args,
            [f"fengqiao: a value is out of range or not valid text: {exc}"],
            reason=type(exc).__name__,
        )


def _refused(args: argparse.Namespace, lines: Sequence[str], *, reason: str) -> int:
    """Say what is wrong on stderr, log the refusal (without the input), exit code 2."""
    print("\n".join(lines), file=sys.stderr)
    log.info(
        "command_refused",
        command=args.command,
        dispute_id=getattr(args, "id", None),
        reason=reason,
        problems=len(lines),
    )
    return 2
