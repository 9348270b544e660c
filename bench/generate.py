"""Generate a county or a province of open disputes, fast, with rows exactly as the engine
writes them: the data set of the escalation sweep benchmarks.

    .venv/bin/python bench/generate.py --size county|province [--postgres URL] [--sqlite PATH]

How. A few dozen *scripts* (a risk, a report time, then events such as assign, acknowledge,
mediate and daily checks, every time relative to ``now``) are played through the real code
into a scratch SQLite database whose organisation is one county, township and village:
``report_dispute`` and ``record_events`` for the events, ``sweep_disputes`` at each run of
the escalation sweep after a threshold was crossed, and ``deliver`` (with a sender that always
succeeds) at each run of the delivery flow after a message fell due. The scheduler is taken
to have stopped ``OUTAGE`` before ``now``; events recorded since still record what fell due,
as they do in the engine. Every row a script wrote is a *template*, and the real code
decides whether it is due for a decision at ``now``. Each template is then copied many
times by bulk loading (COPY on PostgreSQL, executemany on SQLite), with ids, unit codes and
person ids rewritten wherever they occur: foreign keys, task targets, outbox keys and
addresses, message texts.

Not simulated: the reminder flow (no reminders or digests; tasks keep their first reminder
time), the cadence flows (``overdue_noted`` stays false), rule changes.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import multiprocessing
import os
import queue
import random
import re
import sqlite3
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import closing
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sqlalchemy import Engine, event, func, select, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402
from sqlmodel import col  # noqa: E402

from models.parties import validate_parties  # noqa: E402
from models.tables import Dispute, OutboxMessage  # noqa: E402
from models.values import OPERATOR, Actor  # noqa: E402
from rules.policy import Policy, load_policy  # noqa: E402
from rules.schedule import next_run  # noqa: E402
from workflows.db import make_engine, migrate, normalise_url, reading  # noqa: E402
from workflows.messaging import deliver  # noqa: E402
from workflows.recording import NewDispute, NewEvent, record_events, report_dispute  # noqa: E402
from workflows.reorganising import load_org  # noqa: E402
from workflows.sweeps import sweep_disputes  # noqa: E402

__all__ = [
    "OUTAGE",
    "SIZES",
    "Generated",
    "Org",
    "Script",
    "bump_ids",
    "drop_postgres",
    "fresh_postgres",
    "generate",
    "run_script",
    "script_named",
    "scripts",
]

# open disputes, of which due at ``now``
SIZES = {"county": (10_000, 1_000), "province": (1_000_000, 200_000)}
DISPUTES_PER_VILLAGE = 25
VILLAGES_PER_TOWNSHIP = 20
TOWNSHIPS_PER_COUNTY = 20
OUTAGE = timedelta(days=2)  # the scheduler stopped this long before ``now``
CHUNK = 2_000  # disputes per bulk write


# Tables holding one dispute's rows, in the order ids are allocated; the others are loaded
# from the organisation template (units, people) or copied once (rule_sets).
DISPUTE_TABLES = ("disputes", "dispute_events", "obligations", "tasks", "outbox", "escalations")
ORG_TABLES = ("units", "people")
COPIED_TABLES = ("rule_sets",)
SKIPPED_TABLES = ("alembic_version",)
# The template database numbers each table's rows from these, so that an id is a token that
# can be found wherever it was written (an outbox key, a message text) and rewritten.
_ID_BASES = {table: (91 + n) * 10**7 for n, table in enumerate(DISPUTE_TABLES)}
# The template organisation: unit codes and person ids that are tokens too.
_ORG_TOKENS = ("ZZC0", "ZZT0", "ZZV0", "ZZM0", "ZZS0", "ZZK0")
_ORG_INDEX = {token: n for n, token in enumerate(_ORG_TOKENS)}
_TOKEN = re.compile(r"(?<![0-9A-Za-z])(9[1-6][0-9]{7}|ZZ[CTVMSK]0)(?![0-9A-Za-z])")

_CATEGORIES = ("邻里纠纷", "土地纠纷", "婚姻家庭纠纷", "劳资纠纷", "物业纠纷", "合同纠纷")
_TITLES = ("宅基地边界", "噪音扰邻", "土地承包到期", "赡养老人", "拖欠工资", "停车位争议")
_PARTIES = ({"name": "张某", "role": "申请人"}, {"name": "李某", "role": "被申请人"})
# The mix of risks among the open disputes, and among the due ones.
_RISK_SHARE = {"low": 0.6, "medium": 0.3, "high": 0.1}


@dataclass(frozen=True)
class Org:
    """One village's chain: its county, township, and the people the scripts name."""

    county: str
    township: str
    village: str
    mediator: str  # of the village
    supervisor: str  # of the township
    county_supervisor: str

    def tokens(self) -> tuple[str, ...]:
        """The values that replace ``_ORG_TOKENS``, in that order."""
        return (
            self.county,
            self.township,
            self.village,
            self.mediator,
            self.supervisor,
            self.county_supervisor,
        )


TEMPLATE_ORG = Org(*_ORG_TOKENS)
ORG_LOADED_AT = datetime(2000, 1, 1, tzinfo=UTC)  # no org change moves work here


@dataclass(frozen=True)
class Step:
    """An event recorded ``ago`` before ``now``: ``report``, or a kind of event."""

    ago: timedelta
    kind: str


@dataclass(frozen=True)
class Script:
    """One dispute's life up to ``now``, played through the real code to make a template."""

    name: str
    risk: str
    category: str
    title: str
    steps: tuple[Step, ...]  # in time order, the report first

    @property
    def reported_ago(self) -> timedelta:
        """How long before ``now`` the dispute was reported."""
        return self.steps[0].ago


@dataclass
class Generated:
    """What :func:`generate` wrote: the organisation, the disputes, and the due ones.

    ``due_ids`` are the disputes whose ``next_decision_at`` is before ``now`` (ascending);
    ``seconds`` is the whole time taken, migration included.
    """

    counties: int
    townships: int
    villages: int
    people: int
    open: int
    due_ids: list[int]
    seconds: float
    template_seconds: float = 0.0  # of ``seconds``, playing the scripts
    rows: dict[str, int] = field(default_factory=dict)
    # (first dispute id, how many, script name): ids are given in order of report time
    blocks: list[tuple[int, int, str]] = field(default_factory=list)


def _script(
    name: str,
    risk: str,
    index: int,
    reported_days: float,
    *,
    assigned: bool = False,
    mediate: bool = False,
    checks_every: timedelta | None = None,
    checks_until: timedelta = timedelta(hours=2),
) -> Script:
    """A script reported ``reported_days`` ago, with what happened since (what would fall
    after ``now`` is left out)."""
    reported = timedelta(days=reported_days)
    steps = [Step(reported, "report")]
    if assigned:
        steps += [Step(reported - timedelta(hours=1), "assign")]
        steps += [Step(reported - timedelta(hours=3), "acknowledge")]
    if mediate:
        steps.append(Step(reported - timedelta(days=1), "mediate"))
    if checks_every is not None:
        ago = reported - checks_every
        while ago >= checks_until:
            steps.append(Step(ago, "check"))
            ago -= checks_every
    kept = sorted((s for s in steps if s.ago >= timedelta(minutes=1)), key=lambda s: -s.ago)
    return Script(
        name=f"{risk}-{name}-{reported_days:g}d",
        risk=risk,
        category=_CATEGORIES[index % len(_CATEGORIES)],
        title=_TITLES[index % len(_TITLES)],
        steps=tuple(kept),
    )


def scripts() -> list[Script]:
    """The scripts: each risk at report ages either side of its thresholds, with and without
    an assignment and checks, so that some fall due within the outage whatever ``now`` is."""
    day, hour = timedelta(days=1), timedelta(hours=1)
    made: list[Script] = []
    for days in (0.3, 2.2, 5.4, 9.1, 13.6, 19.3, 24.8, 28.4, 29.6, 30.2, 30.7, 31.3, 33.5, 41.0):
        made.append(_script("new", "low", len(made), days))
        made.append(_script("mediating", "low", len(made), days, assigned=True, mediate=True))
    for days in (0.4, 1.3, 2.6, 3.7, 5.2, 8.4, 12.3, 14.8, 15.4, 16.2, 21.5):
        made.append(_script("new", "medium", len(made), days))
        made.append(_script("checked", "medium", len(made), days, assigned=True, checks_every=day))
        made.append(
            _script(
                "lapsed",
                "medium",
                len(made),
                days,
                assigned=True,
                checks_every=day,
                checks_until=3 * day + 5 * hour,
            )
        )
    for days in (0.2, 0.9, 1.6, 2.4, 3.3, 5.1, 7.7, 10.5, 16.2, 24.0):
        made.append(_script("new", "high", len(made), days))
        made.append(
            _script("checked", "high", len(made), days, assigned=True, checks_every=20 * hour)
        )
        made.append(
            _script(
                "lapsed",
                "high",
                len(made),
                days,
                assigned=True,
                checks_every=20 * hour,
                checks_until=day + 9 * hour,
            )
        )
    return made


def script_named(name: str) -> Script:
    """The script of that name, as :func:`Generated.blocks` names them."""
    return next(s for s in scripts() if s.name == name)


# ----------------------------------------------------------------------------- playing


def _event(step: Step, at: datetime, org: Org, risk: str) -> NewEvent:
    """The event of a step: an assignment is the township's, the rest the mediator's."""
    if step.kind == "assign":
        return NewEvent("assign", at, org.supervisor, {"person": org.mediator})
    if step.kind == "assess":
        return NewEvent("assess", at, org.mediator, {"risk": risk})
    return NewEvent(step.kind, at, org.mediator, None)


def _flow_at(policy: Policy, flow: str, after: datetime, every: timedelta) -> datetime:
    """The first run of ``flow`` strictly after ``after``, on the rule file's schedule."""
    schedule = policy.rules.schedule.get(flow)
    if schedule is not None:
        return next_run(schedule, after, policy=policy)
    epoch = datetime(2000, 1, 1, tzinfo=UTC)
    return epoch + every * ((after - epoch) // every + 1)


def _flows_until(engine: Engine, policy: Policy, dispute_id: int, until: datetime) -> None:
    """Run the escalation sweep and the delivery flow on the dispute, in time order, at each
    of their scheduled runs that had something to do, up to ``until``."""
    last: tuple[Any, ...] | None = None
    while True:
        with reading(engine) as session:
            crossing = session.execute(
                select(col(Dispute.next_decision_at)).where(col(Dispute.id) == dispute_id)
            ).scalar_one()
            pending = session.execute(
                select(func.min(col(OutboxMessage.next_attempt_at))).where(
                    col(OutboxMessage.dispute_id) == dispute_id,
                    col(OutboxMessage.state) == "pending",
                )
            ).scalar_one_or_none()
        if (crossing, pending) == last:
            raise RuntimeError(f"dispute {dispute_id}: a flow run at its due time did nothing")
        last = (crossing, pending)
        runs = []
        if crossing is not None:
            crossing = crossing.replace(tzinfo=UTC) if crossing.tzinfo is None else crossing
            runs.append((_flow_at(policy, "escalation", crossing, timedelta(minutes=5)), 0))
        if pending is not None:
            pending = pending.replace(tzinfo=UTC) if pending.tzinfo is None else pending
            moment = pending - timedelta(microseconds=1)
            runs.append((_flow_at(policy, "delivery", moment, timedelta(minutes=1)), 1))
        runs = [run for run in runs if run[0] <= until]
        if not runs:
            return
        at, flow = min(runs)
        if flow == 0:
            swept = sweep_disputes(
                [dispute_id], engine=engine, policy=policy, now=at, flow="escalation"
            )
            if swept.failed:
                raise RuntimeError(f"dispute {dispute_id}: the escalation sweep failed at {at}")
        else:
            deliver(engine=engine, policy=policy, now=at, send=lambda url, title, body: True)


def run_script(engine: Engine, policy: Policy, script: Script, *, org: Org, now: datetime) -> int:
    """Play a script through the real code at the village of ``org``; return the dispute id.

    The scheduler's flows run until ``now - OUTAGE``; other disputes of the database are not
    touched, provided every earlier script ran to its end.
    """
    stop = now - OUTAGE
    report = script.steps[0]
    at = now - report.ago
    dispute_id = report_dispute(
        engine=engine,
        policy=policy,
        now=at,
        actor=Actor(person=org.mediator),
        dispute=NewDispute(
            unit=org.village,
            risk=script.risk,
            category=script.category,
            title=script.title,
            people_involved=len(_PARTIES),
            parties=[dict(p) for p in _PARTIES],
        ),
    )
    for step in script.steps[1:]:
        at = now - step.ago
        _flows_until(engine, policy, dispute_id, min(at, stop))
        new = _event(step, at, org, script.risk)
        record_events(
            engine=engine,
            policy=policy,
            now=at,
            actor=OPERATOR,
            dispute_id=dispute_id,
            events=[new],
        )
    _flows_until(engine, policy, dispute_id, stop)
    return dispute_id


def bump_ids(engine: Engine, first_ids: dict[str, int], *, org: Org) -> None:
    """Make the next id of each dispute table ``first_ids[table]``, with one placeholder row
    (SQLite only: it numbers a table's rows from its largest id); the placeholders belong to
    no dispute and are never sent."""
    when = "2000-01-01 00:00:00.000000"
    placeholders: dict[str, dict[str, Any]] = {
        "disputes": {
            "category": "-",
            "title": "-",
            "risk": "low",
            "status": "withdrawn",
            "level": "village",
            "unit_code": org.village,
            "reported_unit": org.village,
            "village_code": org.village,
            "township_code": org.township,
            "county_code": org.county,
            "people_involved": 1,
            "parties": "[]",
            "reported_at": when,
            "level_since": when,
            "paused": 0,
            "supervised": 0,
            "last_seq": 0,
            "rules_version": "-",
            "risk_rank": 2,
            "attention_at": when,
        },
        "dispute_events": {
            "dispute_id": 0,
            "seq": 0,
            "kind": "note",
            "at": when,
            "recorded_at": when,
            "data": "{}",
            "rules_version": "-",
        },
        "obligations": {
            "dispute_id": 0,
            "kind": "-",
            "due_at": when,
            "rule": "-",
            "rules_version": "-",
            "overdue_noted": 0,
        },
        "tasks": {
            "dispute_id": 0,
            "kind": "-",
            "target": "-",
            "due_at": when,
            "state": "cancelled",
            "created_at": when,
            "rules_version": "-",
            "risk": "low",
            "reminders_sent": 0,
        },
        "outbox": {
            "key": "-",
            "kind": "reminder",
            "recipient": "-",
            "channel": "-",
            "address": "-",
            "title": "-",
            "body": "-",
            "state": "void",
            "attempts": 0,
            "next_attempt_at": when,
            "created_at": when,
        },
        "escalations": {
            "dispute_id": 0,
            "from_level": "village",
            "to_level": "township",
            "from_unit": "-",
            "to_unit": "-",
            "rule": "-",
            "rules_version": "-",
            "effective_at": when,
            "recorded_at": when,
            "event_seq": 0,
        },
    }
    with engine.begin() as connection:
        for table, first in first_ids.items():
            values = {**placeholders[table], "id": first - 1}
            if "dispute_id" in values:  # unique per placeholder, and no dispute's
                values["dispute_id"] = -values["id"]
            if table == "outbox":
                values["key"] = f"placeholder:{values['id']}"
            names = ", ".join(values)
            marks = ", ".join(f":{name}" for name in values)
            connection.execute(text(f"INSERT INTO {table} ({names}) VALUES ({marks})"), values)


def _org_yaml(org: Org) -> str:
    hook = "http://127.0.0.1:9/hook/"
    return f"""units:
  - {{code: "{org.county}", name: "{org.county}县", level: county}}
  - {{code: "{org.township}", name: "{org.township}镇", level: township,
     parent: "{org.county}"}}
  - {{code: "{org.village}", name: "{org.village}村", level: village, parent: "{org.township}"}}
people:
  - {{id: "{org.mediator}", name: "调解员{org.mediator}", role: mediator, unit: "{org.village}",
     contacts: {{webhook: "{hook}{org.mediator}"}}}}
  - {{id: "{org.supervisor}", name: "主任{org.supervisor}", role: supervisor,
     unit: "{org.township}", contacts: {{webhook: "{hook}{org.supervisor}"}}}}
  - {{id: "{org.county_supervisor}", name: "科长{org.county_supervisor}", role: supervisor,
     unit: "{org.county}", contacts: {{webhook: "{hook}{org.county_supervisor}"}}}}
"""


def load_org_of(engine: Engine, org: Org, workdir: Path) -> None:
    """Load the three units and three people of ``org`` with the real org loader."""
    path = workdir / f"org-{org.village}.yaml"
    path.write_text(_org_yaml(org), encoding="utf-8")
    # Before any script's first event: the scripts' times are relative to their start.
    load_org(engine=engine, policy=load_policy(), now=ORG_LOADED_AT, actor=OPERATOR, path=path)


# ----------------------------------------------------------------------------- templates


@dataclass
class _Template:
    script: Script
    due: bool
    rows: dict[str, list[tuple[Any, ...]]]  # raw SQLite values, by table, in id order
    counts: tuple[int, ...]  # rows per dispute table


@dataclass
class _Captured:
    columns: dict[str, list[str]]
    templates: list[_Template]
    org: dict[str, list[tuple[Any, ...]]]  # units and people of the template org
    copied: dict[str, list[tuple[Any, ...]]]  # rule_sets


_PLAYED: dict[tuple[datetime, tuple[Script, ...]], _Captured] = {}


def _play(policy: Policy, now: datetime, chosen: Sequence[Script], workdir: Path) -> _Captured:
    """Play the scripts into scratch SQLite databases, one per processor, and capture what
    each one wrote; played once per process for the same ``now`` and scripts."""
    key = (now, tuple(chosen))
    if key not in _PLAYED:
        _PLAYED[key] = _play_all(policy, now, chosen, workdir)
    return _PLAYED[key]


def _play_all(policy: Policy, now: datetime, chosen: Sequence[Script], workdir: Path) -> _Captured:
    ordered = sorted(chosen, key=lambda s: (-s.reported_ago, s.name))
    workers = max(1, min(len(ordered), os.cpu_count() or 1, 4))
    if workers == 1:
        return _play_part(policy, now, ordered, workdir)
    parts = [ordered[k::workers] for k in range(workers)]
    dirs = [workdir / f"part{k}" for k in range(workers)]
    for folder in dirs:
        folder.mkdir()
    # Forking is quick, but only safe while no other thread might hold a lock.
    method = "fork" if threading.active_count() == 1 else "spawn"
    context = multiprocessing.get_context(method)
    quiet = _quiet if method == "spawn" else None  # forked workers keep the logging set-up
    with ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=quiet) as pool:
        captured = list(pool.map(_play_part, [policy] * workers, [now] * workers, parts, dirs))
    first = captured[0]
    templates = sorted(
        (t for c in captured for t in c.templates),
        key=lambda t: (-t.script.reported_ago, t.script.name),
    )
    # The rule set was first seen by the earliest report of all.
    seen = first.columns["rule_sets"].index("first_seen_at")
    copied = {
        "rule_sets": [min((c.copied["rule_sets"][0] for c in captured), key=lambda r: r[seen])]
    }
    return _Captured(columns=first.columns, templates=templates, org=first.org, copied=copied)


def _quiet() -> None:
    from fengqiao.logs import configure_logging

    configure_logging(fmt="json", level="warning")


def _play_part(
    policy: Policy, now: datetime, ordered: Sequence[Script], workdir: Path
) -> _Captured:
    """Play scripts, in order, into a scratch SQLite database; capture each one's rows."""
    path = workdir / "templates.db"
    engine = make_engine(f"sqlite:///{path}")
    # A scratch database: no need to wait for the disk.
    event.listen(engine, "connect", lambda dbapi, _: dbapi.execute("PRAGMA synchronous=OFF"))
    migrate(engine)
    load_org_of(engine, TEMPLATE_ORG, workdir)
    bump_ids(engine, {t: base + 1 for t, base in _ID_BASES.items()}, org=TEMPLATE_ORG)
    ids = [run_script(engine, policy, s, org=TEMPLATE_ORG, now=now) for s in ordered]
    engine.dispose()

    naive_now = now.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")
    with closing(sqlite3.connect(path)) as db:
        tables = [
            row[0]
            for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
            if not row[0].startswith("sqlite_")
        ]
        known = {*DISPUTE_TABLES, *ORG_TABLES, *COPIED_TABLES, *SKIPPED_TABLES}
        for table in tables:
            if table not in known and db.execute(f"SELECT count(*) FROM {table}").fetchone()[0]:
                raise RuntimeError(f"the recording path wrote to {table}, unknown to generate.py")
        columns = {
            t: [c[1] for c in db.execute(f"PRAGMA table_info({t})")]
            for t in (*DISPUTE_TABLES, *ORG_TABLES, *COPIED_TABLES)
        }
        templates = []
        for script, dispute_id in zip(ordered, ids, strict=True):
            rows: dict[str, list[tuple[Any, ...]]] = {}
            for table in DISPUTE_TABLES:
                key = "id" if table == "disputes" else "dispute_id"
                rows[table] = db.execute(
                    f"SELECT * FROM {table} WHERE {key} = ? ORDER BY id", (dispute_id,)
                ).fetchall()
            (decision,) = db.execute(
                "SELECT next_decision_at FROM disputes WHERE id = ?", (dispute_id,)
            ).fetchone()
            (status,) = db.execute(
                "SELECT status FROM disputes WHERE id = ?", (dispute_id,)
            ).fetchone()
            if status not in ("reported", "mediating"):
                raise RuntimeError(f"script {script.name} left its dispute {status}, not open")
            templates.append(
                _Template(
                    script=script,
                    due=decision is not None and decision < naive_now,
                    rows=rows,
                    counts=tuple(len(rows[t]) for t in DISPUTE_TABLES),
                )
            )
        org = {t: db.execute(f"SELECT * FROM {t}").fetchall() for t in ORG_TABLES}
        copied = {t: db.execute(f"SELECT * FROM {t}").fetchall() for t in COPIED_TABLES}
    return _Captured(columns=columns, templates=templates, org=org, copied=copied)


def _copy_escape(value: Any) -> str:
    """A value in PostgreSQL's COPY text format."""
    if value is None:
        return "\\N"
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, float):
        return repr(value)
    return (
        str(value)
        .replace("\\", "\\\\")
        .replace("\n", "\\n")
        .replace("\r", "\\r")
        .replace("\t", "\\t")
    )


class _Slots:
    """The tokens of one template: its row ids, and the organisation's codes."""

    def __init__(self, rows: dict[str, list[tuple[Any, ...]]]) -> None:
        self.ids: dict[int, str] = {}
        for n, table in enumerate(DISPUTE_TABLES):
            for offset, row in enumerate(rows.get(table, [])):
                self.ids[row[0]] = f"b{n}" if offset == 0 else f"(b{n} + {offset})"

    def int_expr(self, value: int) -> str | None:
        return self.ids.get(value)

    def pieces(self, value: str) -> tuple[str, list[str]]:
        """``value`` as a %-format with the expressions that fill it (str of ints)."""
        parts, args, last = [], [], 0
        for match in _TOKEN.finditer(value):
            token = match.group(1)
            if token in _ORG_INDEX:
                expr = f"O[{_ORG_INDEX[token]}]"
            elif int(token) in self.ids:
                expr = f"str({self.ids[int(token)]})"
            else:
                raise RuntimeError(f"{token} in a template row is not one of its own ids")
            parts.append(value[last : match.start()].replace("%", "%%"))
            parts.append("%s")
            args.append(expr)
            last = match.end()
        parts.append(value[last:].replace("%", "%%"))
        return "".join(parts), args


def _sqlite_cell(value: Any, slots: _Slots) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        return slots.int_expr(value) or repr(value)
    if isinstance(value, str):
        fmt, args = slots.pieces(value)
        if not args:
            return repr(value)
        if fmt == "%s":
            return args[0]
        return f"({fmt!r} % ({', '.join(args)},))"
    return repr(value)


def _pg_table(rows: Sequence[tuple[Any, ...]], slots: _Slots) -> str:
    fmts, args = [], []
    for row in rows:
        cells = []
        for value in row:
            if isinstance(value, int) and not isinstance(value, bool):
                expr = slots.int_expr(value)
                if expr is not None:
                    cells.append("%s")
                    args.append(f"str({expr})")
                    continue
            if isinstance(value, str):
                fmt, extra = slots.pieces(_copy_escape(value))
                cells.append(fmt)
                args.extend(extra)
                continue
            cells.append(_copy_escape(value).replace("%", "%%"))
        fmts.append("\t".join(cells) + "\n")
    fmt = "".join(fmts)
    if not args:
        return repr(fmt.replace("%%", "%"))
    return f"({fmt!r} % ({', '.join(args)},))"


def _compile(
    name: str, tables: Sequence[Sequence[tuple[Any, ...]]], slots: _Slots, postgres: bool
) -> Callable[..., tuple[Any, ...]]:
    """A function of the dispute tables' first ids ``b0``… and the org tokens ``O`` that
    returns, per table, the rows (SQLite: a list of tuples; PostgreSQL: COPY text)."""
    outputs = []
    for rows in tables:
        if postgres:
            outputs.append(_pg_table(rows, slots) if rows else "''")
        else:
            tuples = ", ".join(
                "(" + ", ".join(_sqlite_cell(v, slots) for v in row) + ",)" for row in rows
            )
            outputs.append(f"[{tuples}]")
    params = ", ".join(f"b{n}" for n in range(len(DISPUTE_TABLES)))
    source = f"def make({params}, O):\n    return ({', '.join(outputs)},)\n"
    namespace: dict[str, Any] = {}
    exec(compile(source, f"<template {name}>", "exec"), namespace)
    return namespace["make"]  # type: ignore[no-any-return]


# ----------------------------------------------------------------------------- organisation


def _code(prefix: str, n: int) -> str:
    return f"{prefix}{n:03d}"


def _orgs(villages: int) -> tuple[list[Org], int, int]:
    """Every village's chain; and how many townships and counties."""
    townships = math.ceil(villages / VILLAGES_PER_TOWNSHIP)
    counties = math.ceil(townships / TOWNSHIPS_PER_COUNTY)
    chains = []
    for v in range(villages):
        t = v // VILLAGES_PER_TOWNSHIP
        c = t // TOWNSHIPS_PER_COUNTY
        county = f"33{c + 1:04d}"
        township = _code(county, t % TOWNSHIPS_PER_COUNTY + 1)
        village = _code(township, v % VILLAGES_PER_TOWNSHIP + 1)
        chains.append(Org(county, township, village, f"m{village}", f"s{township}", f"s{county}"))
    return chains, townships, counties


def _org_rows(captured: _Captured, chains: list[Org]) -> dict[str, list[tuple[Any, ...]]]:
    """Units and people of the whole organisation, parents first, as raw SQLite values."""
    code, level_col = (captured.columns["units"].index(c) for c in ("code", "level"))
    levels = {row[code]: row[level_col] for row in captured.org["units"]}
    unit_col = captured.columns["people"].index("unit_code")

    def level_of(table: str, row: tuple[Any, ...]) -> str:
        return str(row[level_col] if table == "units" else levels[row[unit_col]])

    out: dict[str, list[tuple[Any, ...]]] = {t: [] for t in ORG_TABLES}
    for level in ("county", "township", "village"):
        seen: set[str] = set()
        for chain in chains:
            key = {"county": chain.county, "township": chain.township}.get(level, chain.village)
            if key in seen:
                continue
            seen.add(key)
            tokens = dict(zip(_ORG_TOKENS, chain.tokens(), strict=True))

            def rewrite(match: re.Match[str], tokens: dict[str, str] = tokens) -> str:
                return tokens[match.group(1)]

            for table in ORG_TABLES:
                for row in captured.org[table]:
                    if level_of(table, row) == level:
                        out[table].append(
                            tuple(_TOKEN.sub(rewrite, v) if isinstance(v, str) else v for v in row)
                        )
    return out


# ----------------------------------------------------------------------------- writers

# Every table the generator fills, and those that refer to them, checked empty first.
_REFERRING = ("rule_changes", "accounts", "api_tokens", "web_sessions", "unit_tasks")
_LOADED = (*ORG_TABLES, *COPIED_TABLES, *DISPUTE_TABLES, *_REFERRING)
# PostgreSQL loads on two connections at once; each truncates its own tables (the tables
# that refer to one another by foreign keys on the same one), which lets COPY freeze them.
_POSTGRES_LANES = (
    ("units", "people", "rule_sets", *_REFERRING, "disputes", "dispute_events"),
    ("obligations", "tasks", "outbox", "escalations"),
)


def _all_empty(count: Callable[[str], Any]) -> bool:
    return all(count(table)[0] == 0 for table in _LOADED)


class _SQLiteWriter:
    """executemany in one transaction, with the journal and syncing off while it lasts, and
    the tables' own indexes (not those of their unique constraints) dropped and created
    again afterwards from their stored definitions."""

    postgres = False

    def __init__(self, path: str) -> None:
        self.tables = _LOADED
        self.db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self.statements: dict[str, str] = {}
        self.indexes: list[tuple[str, str]] = []

    def empty(self) -> bool:
        return _all_empty(lambda table: self.db.execute(f"SELECT count(*) FROM {table}").fetchone())

    def close(self) -> None:
        self.db.close()

    def start(self, columns: dict[str, list[str]]) -> None:
        self.statements = {
            t: f"INSERT INTO {t} ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})"
            for t, cols in columns.items()
        }
        for pragma in (
            "journal_mode=OFF",
            "synchronous=OFF",
            "foreign_keys=OFF",
            "cache_size=-65536",
            "threads=2",  # CREATE INDEX sorts on two threads
        ):
            self.db.execute(f"PRAGMA {pragma}")
        self.db.execute("BEGIN")
        marks = ", ".join("?" * len(_LOADED))
        self.indexes = self.db.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL "
            f"AND tbl_name IN ({marks})",
            _LOADED,
        ).fetchall()
        for name, _ in self.indexes:
            self.db.execute(f"DROP INDEX {name}")

    def write(self, table: str, rows: Sequence[Any]) -> None:
        if rows:
            self.db.executemany(self.statements[table], rows)

    def finish(self) -> None:
        for _, sql in self.indexes:
            self.db.execute(sql)
        self.db.execute("COMMIT")
        self.db.execute("PRAGMA journal_mode=WAL")  # as the engine keeps it
        self.db.close()


class _PostgresWriter:
    """COPY … FREEZE into ``tables`` in one transaction that first truncated them (they are
    empty), so the rows are loaded already frozen and visible to index-only scans; their own
    indexes (not those of constraints) dropped meanwhile and created again from their
    definitions; then their sequences set as the engine would have them."""

    postgres = True

    def __init__(self, url: str, tables: Sequence[str] = _LOADED) -> None:
        import psycopg

        conninfo = make_url(normalise_url(url)).set(drivername="postgresql")
        self.db = psycopg.connect(conninfo.render_as_string(hide_password=False))
        self.tables = tuple(tables)
        self.columns: dict[str, list[str]] = {}
        self.indexes: list[tuple[str, str]] = []

    def empty(self) -> bool:
        try:
            return _all_empty(
                lambda table: self.db.execute(f"SELECT count(*) FROM {table}").fetchone()
            )
        finally:
            self.db.rollback()  # its locks would keep the other connection from truncating

    def close(self) -> None:
        self.db.close()

    def start(self, columns: dict[str, list[str]]) -> None:
        self.columns = columns
        self.db.execute(f"TRUNCATE {', '.join(self.tables)}")
        # Foreign keys are checked by row triggers; the rows are written parents first anyway.
        self.db.execute("SET session_replication_role = replica")
        self.db.execute("SET maintenance_work_mem = '256MB'")
        self.indexes = self.db.execute(
            "SELECT i.indexname, i.indexdef FROM pg_indexes i "
            "WHERE i.schemaname = current_schema() AND i.tablename = ANY(%s) AND NOT EXISTS "
            "(SELECT 1 FROM pg_constraint c WHERE c.conindid = "
            "(quote_ident(i.schemaname) || '.' || quote_ident(i.indexname))::regclass)",
            (list(self.tables),),
        ).fetchall()
        for name, _ in self.indexes:
            self.db.execute(f'DROP INDEX "{name}"')

    def write(self, table: str, data: Sequence[Any]) -> None:
        payload = "".join(data)
        if not payload:
            return
        columns = ", ".join(self.columns[table])
        with self.db.cursor().copy(f"COPY {table} ({columns}) FROM STDIN (FREEZE)") as copy:
            copy.write(payload)

    def finish(self) -> None:
        for _, definition in self.indexes:
            self.db.execute(definition)
        self.db.execute("SET session_replication_role = DEFAULT")
        for table in self.tables:
            if table in DISPUTE_TABLES:
                self.db.execute(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                    f"coalesce(max(id), 1), max(id) IS NOT NULL) FROM {table}"
                )
        self.db.commit()
        self.db.close()


def _analyze(url: str) -> None:
    """Statistics, as autovacuum would gather them after such a load."""
    import psycopg

    conninfo = make_url(normalise_url(url)).set(drivername="postgresql")
    with psycopg.connect(conninfo.render_as_string(hide_password=False), autocommit=True) as db:
        db.execute("ANALYZE")


class _Lane(threading.Thread):
    """A writer on its own thread, so that the next chunk is made while this one is written
    (sqlite3 and psycopg let go of the interpreter while the database works)."""

    def __init__(self, writer: Any) -> None:
        super().__init__(daemon=True)
        self.writer = writer
        self.queue: queue.Queue[list[tuple[str, Any]] | None] = queue.Queue(maxsize=2)
        self.error: BaseException | None = None

    def run(self) -> None:
        while (item := self.queue.get()) is not None:
            if self.error is not None:
                continue  # failed: drain until told to stop
            try:
                for table, payload in item:
                    self.writer.write(table, payload)
            except BaseException as exc:  # reported by the generating thread
                self.error = exc
        if self.error is None:
            try:
                self.writer.finish()
            except BaseException as exc:
                self.error = exc
        if self.error is not None:
            self.writer.close()


class _Lanes:
    """The writers of one database, each owning some tables."""

    def __init__(self, writers: list[Any]) -> None:
        self.lanes = [_Lane(w) for w in writers]
        self.owner = {table: lane for lane in self.lanes for table in lane.writer.tables}

    def start(self, columns: dict[str, list[str]]) -> None:
        for lane in self.lanes:
            lane.writer.start(columns)
            lane.start()

    def send(self, parts: dict[str, Any]) -> None:
        """Write, per table, a list of rows (SQLite) or of COPY texts (PostgreSQL)."""
        for lane in self.lanes:
            if lane.error is not None:
                self.stop()
            mine = [(t, parts[t]) for t in lane.writer.tables if parts.get(t)]
            if mine:
                lane.queue.put(mine)

    def stop(self) -> None:
        """Finish every writer; raise the first failure."""
        for lane in self.lanes:
            if lane.is_alive():
                lane.queue.put(None)
        for lane in self.lanes:
            lane.join()
        for lane in self.lanes:
            if lane.error is not None:
                raise lane.error

    def abort(self) -> None:
        """Stop every writer without committing (SQLite: what was written stays)."""
        for lane in self.lanes:
            lane.error = lane.error or RuntimeError("aborted")
        with contextlib.suppress(BaseException):  # the failure to report is the caller's
            self.stop()

    def close(self) -> None:
        for lane in self.lanes:
            lane.writer.close()


def _copy_text(rows: list[tuple[Any, ...]]) -> list[str]:
    return ["\t".join(_copy_escape(v) for v in row) + "\n" for row in rows]


# ----------------------------------------------------------------------------- generate


def _allocate(total: int, weights: list[float]) -> list[int]:
    """``total`` shared by ``weights``, largest remainders first: exact and reproducible."""
    whole = sum(weights)
    shares = [total * w / whole for w in weights]
    counts = [int(s) for s in shares]
    by_remainder = sorted(range(len(weights)), key=lambda i: (counts[i] - shares[i], i))
    for i in by_remainder[: total - sum(counts)]:
        counts[i] += 1
    return counts


def _weights(templates: list[_Template]) -> list[float]:
    """Each risk its share of the disputes, split evenly among its templates."""
    per_risk: dict[str, int] = {}
    for template in templates:
        per_risk[template.script.risk] = per_risk.get(template.script.risk, 0) + 1
    return [_RISK_SHARE[t.script.risk] / per_risk[t.script.risk] for t in templates]


def _plan(templates: list[_Template], open_disputes: int, due: int) -> list[tuple[_Template, int]]:
    """How many disputes each template gives, in order of report time."""
    due_ones = [t for t in templates if t.due]
    others = [t for t in templates if not t.due]
    if due and not due_ones:
        raise RuntimeError("no script falls due at this now: cannot generate due disputes")
    if open_disputes - due and not others:
        raise RuntimeError("every script falls due at this now: cannot generate others")
    counts = {id(t): n for t, n in zip(due_ones, _allocate(due, _weights(due_ones)), strict=True)}
    rest = _allocate(open_disputes - due, _weights(others))
    counts.update({id(t): n for t, n in zip(others, rest, strict=True)})
    return [(t, counts[id(t)]) for t in templates if counts[id(t)]]


def _target(url: str) -> tuple[str, str]:
    parsed = make_url(normalise_url(url))
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        if not parsed.database or parsed.database == ":memory:":
            raise ValueError("generate into a SQLite file, not an in-memory database")
        return backend, parsed.database
    if backend != "postgresql":
        raise ValueError(f"unsupported database {backend!r}")
    return backend, url


def _at_random(chains: list[Org], seed: int) -> Iterator[tuple[str, ...]]:
    """Villages drawn at random, as the tokens that replace the template organisation's."""
    rng = random.Random(seed)
    tokens = [chain.tokens() for chain in chains]
    while True:
        yield tokens[rng.randrange(len(tokens))]


def _write_disputes(
    lanes: _Lanes,
    plan: list[tuple[_Template, int]],
    villages: Iterator[tuple[str, ...]],
    *,
    postgres: bool,
) -> tuple[list[int], list[tuple[int, int, str]], dict[str, int]]:
    """Copy each template as many times as planned, chunk by chunk, each copy in the next
    of ``villages``; return the due ids, the blocks of ids by script, and rows per table."""
    next_ids = [1] * len(DISPUTE_TABLES)
    pending: list[list[Any]] = [[] for _ in DISPUTE_TABLES]
    in_chunk = 0
    due_ids: list[int] = []
    blocks: list[tuple[int, int, str]] = []
    for template, count in plan:
        make = _compile(
            template.script.name,
            [template.rows[t] for t in DISPUTE_TABLES],
            _Slots(template.rows),
            postgres,
        )
        blocks.append((next_ids[0], count, template.script.name))
        if template.due:
            due_ids.extend(range(next_ids[0], next_ids[0] + count))
        sizes = template.counts
        for _ in range(count):
            produced = make(*next_ids, next(villages))
            for n, part in enumerate(produced):
                if postgres:
                    pending[n].append(part)
                else:
                    pending[n].extend(part)
                next_ids[n] += sizes[n]
            in_chunk += 1
            if in_chunk >= CHUNK:
                lanes.send(dict(zip(DISPUTE_TABLES, pending, strict=True)))
                pending = [[] for _ in DISPUTE_TABLES]
                in_chunk = 0
    lanes.send(dict(zip(DISPUTE_TABLES, pending, strict=True)))
    return due_ids, blocks, {t: next_ids[n] - 1 for n, t in enumerate(DISPUTE_TABLES)}


def generate(
    url: str,
    *,
    open_disputes: int,
    due: int,
    now: datetime,
    seed: int = 1,
    chosen: Sequence[Script] | None = None,
) -> Generated:
    """Fill the empty database at ``url`` with an organisation and ``open_disputes`` open
    disputes, ``due`` of them due for an escalation or listing at ``now``.

    The schema is migrated first; a database that already holds units, people or disputes
    is refused. ``seed`` picks each dispute's village; ``chosen`` plays fewer scripts than
    :func:`scripts` (tests).
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    if not 0 <= due <= open_disputes:
        raise ValueError(f"due ({due}) must be between 0 and open_disputes ({open_disputes})")
    began = time.perf_counter()
    backend, where = _target(url)
    engine = make_engine(url)
    migrate(engine)
    engine.dispose()
    postgres = backend == "postgresql"
    lanes = _Lanes(
        [_PostgresWriter(where, tables) for tables in _POSTGRES_LANES]
        if postgres
        else [_SQLiteWriter(where)]
    )
    try:
        if not lanes.lanes[0].writer.empty():
            raise ValueError(f"{url} already holds data: generate into an empty database")
        policy = load_policy(None)
        played = time.perf_counter()
        with tempfile.TemporaryDirectory(prefix="fengqiao-generate-") as tmp:
            captured = _play(policy, now, chosen or scripts(), Path(tmp))
        _reseal(captured, url)
        played = time.perf_counter() - played
    except BaseException:
        lanes.close()
        raise
    lanes.start(captured.columns)
    try:
        villages = max(1, math.ceil(open_disputes / DISPUTES_PER_VILLAGE))
        chains, townships, counties = _orgs(villages)
        fixed = {**_org_rows(captured, chains), **captured.copied}
        rows = {table: len(fixed[table]) for table in fixed}
        lanes.send({t: _copy_text(r) if postgres else r for t, r in fixed.items()})

        plan = _plan(captured.templates, open_disputes, due)
        at_random = _at_random(chains, seed)
        due_ids, blocks, counted = _write_disputes(lanes, plan, at_random, postgres=postgres)
        rows.update(counted)
        lanes.stop()
    except BaseException:
        lanes.abort()
        raise
    if postgres:
        _analyze(where)
    return Generated(
        counties=counties,
        townships=townships,
        villages=villages,
        people=rows["people"],
        open=open_disputes,
        due_ids=due_ids,
        seconds=time.perf_counter() - began,
        template_seconds=played,
        rows=rows,
        blocks=blocks,
    )


def _reseal(captured: _Captured, url: str) -> None:
    """The parties of the templates, sealed with the key of the database at ``url``: the
    scratch databases the scripts played in had keys of their own. (Every copy of a
    template holds the same sealed value: bench data, not a secret.)"""
    keyring = make_engine(url).dialect.fengqiao_keyring()  # type: ignore[attr-defined]
    plain = validate_parties([dict(p) for p in _PARTIES])
    token = keyring.seal(json.dumps(plain, ensure_ascii=False, separators=(",", ":")).encode())
    column = captured.columns["disputes"].index("parties")
    for template in captured.templates:
        template.rows["disputes"] = [
            (*row[:column], json.dumps(token), *row[column + 1 :])
            for row in template.rows["disputes"]
        ]


# ----------------------------------------------------------------------------- command line


def fresh_postgres(url: str, name: str, *, template: str | None = None) -> str:
    """Drop and create the database ``name`` on the server of ``url`` (a copy of the
    database ``template`` if given); return its URL."""
    from sqlalchemy import create_engine

    server = make_url(normalise_url(url)).set(database="postgres")
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    copy = f' TEMPLATE "{template}"' if template else ""
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        connection.execute(text(f'CREATE DATABASE "{name}"{copy}'))
    admin.dispose()
    return make_url(normalise_url(url)).set(database=name).render_as_string(hide_password=False)


def drop_postgres(url: str) -> None:
    """Drop the database of ``url`` (made by :func:`fresh_postgres`), if it is there."""
    from sqlalchemy import create_engine

    database = make_url(normalise_url(url))
    admin = create_engine(database.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{database.database}" WITH (FORCE)'))
    admin.dispose()


def _size_of(url: str) -> int:
    backend, where = _target(url)
    if backend == "sqlite":
        return sum(p.stat().st_size for p in Path(where).parent.glob(Path(where).name + "*"))
    engine = make_engine(url)
    with engine.connect() as connection:
        size = connection.execute(text("SELECT pg_database_size(current_database())")).scalar()
    engine.dispose()
    return int(size or 0)


def _report(label: str, url: str, result: Generated) -> None:
    rows = ", ".join(f"{t} {n:,}" for t, n in result.rows.items())
    print(
        f"{label}: {result.counties} counties, {result.townships} townships, "
        f"{result.villages} villages, {result.people} people; {result.open:,} open, "
        f"{len(result.due_ids):,} due; {result.seconds:.1f} s "
        f"(scripts {result.template_seconds:.1f} s); {_size_of(url) / 2**20:.0f} MB\n  {rows}"
    )


def _iter_targets(args: argparse.Namespace) -> Iterator[tuple[str, str]]:
    if args.sqlite:
        path = Path(args.sqlite)
        if path.exists():
            if not args.replace:
                raise SystemExit(f"{path} exists; pass --replace to overwrite it")
            for stale in path.parent.glob(path.name + "*"):
                stale.unlink()
        yield "sqlite", f"sqlite:///{path}"
    if args.postgres:
        url = args.postgres
        if args.replace:
            database = make_url(normalise_url(url)).database
            assert database
            url = fresh_postgres(url, database)
        yield "postgresql", url


def main() -> None:
    from fengqiao.logs import configure_logging

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", choices=sorted(SIZES), default="county")
    parser.add_argument("--sqlite", help="a SQLite file to create")
    parser.add_argument("--postgres", help="an empty PostgreSQL database's URL")
    parser.add_argument(
        "--replace", action="store_true", help="overwrite the file, drop and create the database"
    )
    parser.add_argument("--now", default="2026-11-16T09:00+08:00", help="ISO 8601, with offset")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    if not (args.sqlite or args.postgres):
        parser.error("name a target: --sqlite PATH and/or --postgres URL")
    configure_logging(fmt="json", level="warning")
    now = datetime.fromisoformat(args.now)
    open_disputes, due = SIZES[args.size]
    for label, url in _iter_targets(args):
        result = generate(url, open_disputes=open_disputes, due=due, now=now, seed=args.seed)
        _report(label, url, result)


if __name__ == "__main__":
    main()
