"""A fleet of sweep workers for the exactly-once tests: real OS processes (spawned, so each
has its own interpreter, engine and connections), a county full of due disputes built once
and cloned per test, and the database's content in a form two databases can be compared in.
"""

from __future__ import annotations

import io
import json
import multiprocessing
import os
import random
import re
import time
import traceback
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, redirect_stdout, suppress
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import yaml
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

from fengqiao.cli import main
from fengqiao.logs import configure_logging
from rules.policy import load_policy
from tests.support.db import EXAMPLE_ORG
from tests.support.recording import ENGINE, SHANGHAI, record, report, sweep
from workflows.db import database_now, make_engine, normalise_url
from workflows.sweeps import escalation_sweep

# Monday 9 November 2026, 09:30: every cadence flow and the morning digest are due too.
NOW = datetime(2026, 11, 9, 9, 30, tzinfo=SHANGHAI)
REPORTING_UNITS = ("3301010101", "3301010102", "33010101", "33010102", "3301010201")
_SPAWN = multiprocessing.get_context("spawn")


# --- the county -----------------------------------------------------------------------------


def org_with_webhooks(directory: Path) -> Path:
    """The example county, where a grid's mediator and the county's supervisor have a
    webhook (which carries each message's key, so that a fake sender can tell messages
    apart) and nobody else has an address: messages of every kind, but not so many that
    delivering them takes long."""
    org = yaml.safe_load(EXAMPLE_ORG.read_text(encoding="utf-8"))
    for person in org["people"]:
        hooked = person["id"] in ("zhao", "chen")
        person["contacts"] = (
            {"webhook": f"http://127.0.0.1:9/hook/{person['id']}"} if hooked else {}
        )
    path = directory / "org.yaml"
    path.write_text(yaml.safe_dump(org, allow_unicode=True), encoding="utf-8")
    return path


@dataclass(frozen=True)
class Plan:
    """One dispute to report and what its mediators did before ``NOW``."""

    unit: str
    risk: str
    at: datetime
    events: tuple[tuple[str, datetime, dict[str, Any] | None, str | None], ...]


def plans(count: int, *, seed: int, now: datetime = NOW) -> list[Plan]:
    """Disputes reported over the 40 days before ``now``, of every risk; some assigned,
    some checked, a few resolved; most of them neglected enough to have something due."""
    rng = random.Random(seed)
    made = []
    for _ in range(count):
        at = now - timedelta(minutes=rng.randrange(10, 40 * 24 * 60))
        risk = rng.choices(("high", "medium", "low"), weights=(5, 3, 2))[0]
        events: list[tuple[str, datetime, dict[str, Any] | None, str | None]] = []
        moment = at
        if rng.random() < 0.15:
            moment += timedelta(minutes=30)
            events.append(("assign", moment, {"person": rng.choice(["wang", "zhao"])}, "li"))
        if rng.random() < 0.2:
            moment += timedelta(hours=rng.randrange(2, 30))
            events.append(("check", moment, None, None))
        if rng.random() < 0.05:
            moment += timedelta(days=rng.randrange(1, 6))
            events.append(("resolve", moment, {"method": "people", "agreement": "oral"}, None))
        made.append(
            Plan(
                unit=rng.choice(REPORTING_UNITS),
                risk=risk,
                at=at,
                events=tuple(e for e in events if e[1] <= now),
            )
        )
    return made


def populate(engine: Engine, policy: Any, todo: Sequence[Plan]) -> None:
    """Report each dispute and record its events, each at its own time (so that what fell
    due before an event was recorded with it)."""
    for plan in todo:
        dispute = report(engine, policy, at=plan.at, unit=plan.unit, risk=plan.risk)
        for kind, at, data, by in plan.events:
            record(engine, policy, dispute, kind, at, data, by=by)


# --- databases ------------------------------------------------------------------------------


def database_url(server: str, name: str) -> str:
    return make_url(normalise_url(server)).set(database=name).render_as_string(hide_password=False)


@contextmanager
def admin(server: str) -> Iterator[Any]:
    engine = create_engine(normalise_url(server), isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            yield connection
    finally:
        engine.dispose()


def create_database(server: str, name: str, *, template: str | None = None) -> str:
    """A new database, empty or a copy of ``template`` (which nobody may be connected to)."""
    with admin(server) as connection:
        copy = f' TEMPLATE "{template}"' if template else ""
        connection.execute(text(f'CREATE DATABASE "{name}"{copy}'))
    return database_url(server, name)


def drop_database(server: str, name: str) -> None:
    with admin(server) as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


# --- what a database holds, comparable across databases ------------------------------------

_TASK_KEY = re.compile(r"task:(\d+)")


def _task_names(engine: Engine) -> dict[int, str]:
    """Each task's id, and what identifies it in any database: dispute, kind, target, due."""
    with engine.connect() as c:
        return {
            row.id: f"{row.dispute_id}/{row.kind}/{row.target}/{row.due_at.isoformat()}"
            for row in c.execute(text("SELECT id, dispute_id, kind, target, due_at FROM tasks"))
        }


def natural_keys(engine: Engine) -> Callable[[str], str]:
    """A function that replaces the task ids in an outbox key by what the tasks are."""
    tasks = _task_names(engine)

    def natural(key: str) -> str:
        return _TASK_KEY.sub(lambda m: f"task:{tasks.get(int(m.group(1)), m.group(0))}", key)

    return natural


def snapshot(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    """The rows the sweeps write, without surrogate ids (a task's id is replaced by what
    identifies it: dispute, kind, target, due time), sorted: equal for two databases that
    hold the same facts, whichever process wrote them in whichever order."""
    tasks = _task_names(engine)
    natural = natural_keys(engine)
    with engine.connect() as c:

        def rows(sql: str) -> list[tuple[Any, ...]]:
            return sorted(tuple(map(repr, row)) for row in c.execute(text(sql)))

        content = {
            "disputes": rows(
                "SELECT id, status, risk, level, unit_code, assignee, supervised,"
                " supervision_deadline, level_since, last_seq, next_decision_at FROM disputes"
            ),
            "escalations": rows(
                "SELECT dispute_id, from_level, to_level, from_unit, to_unit, rule,"
                " effective_at, recorded_at, event_seq FROM escalations"
            ),
            "events": rows(
                "SELECT dispute_id, seq, kind, at, recorded_at, actor, CAST(data AS TEXT)"
                " FROM dispute_events"
            ),
            "obligations": rows(
                "SELECT dispute_id, kind, due_at, rule, overdue_noted FROM obligations"
            ),
            "tasks": rows(
                "SELECT dispute_id, kind, target, due_at, state, created_at, closed_at,"
                " next_reminder_at, reminders_sent, escalated_at FROM tasks"
            ),
            "flow_runs": rows("SELECT flow, window_end FROM flow_runs"),
            "reports": rows(
                "SELECT kind, unit_code, period_start, period_end, CAST(content AS TEXT)"
                " FROM reports"
            ),
        }
        outbox = c.execute(
            text(
                "SELECT key, recipient, channel, address, dispute_id, task_id, state, attempts"
                " FROM outbox"
            )
        ).all()
    content["outbox"] = sorted(
        (
            natural(row.key),
            row.recipient,
            row.channel,
            row.address,
            repr(row.dispute_id),
            tasks.get(row.task_id, repr(row.task_id)),
            row.state,
            repr(row.attempts),
        )
        for row in outbox
    )
    return content


def duplicates(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    """Everything written twice or with a gap, by the natural key it should be unique on;
    empty when every escalation, event, task and message exists once."""
    queries = {
        # One escalation per level crossed (the set-up has no hand-back, so a dispute
        # leaves each level at most once).
        "escalations (dispute, from level)": (
            "SELECT dispute_id, from_level, count(*) FROM escalations"
            " GROUP BY dispute_id, from_level HAVING count(*) > 1"
        ),
        "escalate/supervise events (dispute, kind, rule, at)": (
            "SELECT dispute_id, kind, CAST(data AS TEXT), at, count(*) FROM dispute_events"
            " WHERE kind IN ('escalate', 'supervise')"
            " GROUP BY dispute_id, kind, CAST(data AS TEXT), at HAVING count(*) > 1"
        ),
        "event numbers not 1..last_seq": (
            "SELECT d.id, d.last_seq, count(e.id), min(e.seq), max(e.seq)"
            " FROM disputes d LEFT JOIN dispute_events e ON e.dispute_id = d.id"
            " GROUP BY d.id, d.last_seq"
            " HAVING count(e.id) <> d.last_seq OR min(e.seq) <> 1"
            " OR max(e.seq) <> d.last_seq OR count(DISTINCT e.seq) <> count(e.id)"
        ),
        "escalations without their event": (
            "SELECT s.dispute_id, s.event_seq FROM escalations s"
            " LEFT JOIN dispute_events e ON e.dispute_id = s.dispute_id AND e.seq = s.event_seq"
            " WHERE e.id IS NULL OR e.kind <> 'escalate'"
        ),
        # A unit may owe several at once (an escalation to the county, then its listing and
        # the listing's next grade), each due at its own time.
        "live acknowledgements per (dispute, target, due)": (
            "SELECT dispute_id, target, due_at, count(*) FROM tasks"
            " WHERE kind = 'acknowledge' AND state = 'open'"
            " GROUP BY dispute_id, target, due_at HAVING count(*) > 1"
        ),
        # The county also acknowledges each listing it makes or grades up (at other times).
        "acknowledgement tasks per escalation (dispute, unit reached)": (
            "SELECT s.dispute_id, s.to_unit, count(t.id) FROM escalations s"
            " JOIN tasks t ON t.dispute_id = s.dispute_id AND t.kind = 'acknowledge'"
            " AND t.target = 'unit:' || s.to_unit"
            " GROUP BY s.id, s.dispute_id, s.to_unit, t.due_at HAVING count(t.id) > 1"
        ),
        "open tasks per obligation (dispute, kind)": (
            "SELECT dispute_id, kind, count(*) FROM tasks"
            " WHERE kind <> 'acknowledge' AND state = 'open'"
            " GROUP BY dispute_id, kind HAVING count(*) > 1"
        ),
        "tasks (dispute, kind, target, due)": (
            "SELECT dispute_id, kind, target, due_at, count(*) FROM tasks"
            " GROUP BY dispute_id, kind, target, due_at HAVING count(*) > 1"
        ),
        "outbox (key, channel, address)": (
            "SELECT key, channel, address, count(*) FROM outbox"
            " GROUP BY key, channel, address HAVING count(*) > 1"
        ),
        "flow runs (flow, scheduled time)": (
            "SELECT flow, window_end, count(*) FROM flow_runs"
            " GROUP BY flow, window_end HAVING count(*) > 1"
        ),
        "reports (kind, unit, period)": (
            "SELECT kind, unit_code, period_start, count(*) FROM reports"
            " GROUP BY kind, unit_code, period_start HAVING count(*) > 1"
        ),
    }
    found: dict[str, list[tuple[Any, ...]]] = {}
    with engine.connect() as c:
        for name, sql in queries.items():
            rows = [tuple(row) for row in c.execute(text(sql))]
            if rows:
                found[name] = rows[:10]
    # A message queued twice under two keys would show up as the same task message twice
    # once task ids are replaced by what the task is.
    keys = [row[0] + "|" + row[2] + "|" + row[3] for row in snapshot(engine)["outbox"]]
    doubled = sorted({k for k in keys if keys.count(k) > 1})
    if doubled:
        found["outbox messages of the same task, kind and moment"] = [(k,) for k in doubled[:10]]
    return found


def still_due(engine: Engine, now: datetime) -> int:
    with engine.connect() as c:
        return int(
            c.execute(
                text("SELECT count(*) FROM disputes WHERE next_decision_at < :now"),
                {"now": now.astimezone(UTC).replace(tzinfo=None)},
            ).scalar_one()
        )


# --- the workers ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Job:
    """What one worker runs once released, against the database at ``url``:

    - ``sweep``: the escalation sweep alone at ``now``, in batches of ``size``;
    - ``run_due``: everything ``fengqiao sweep`` runs at ``now``, with a fake sender that
      writes what it sent to ``sent_log``;
    - ``cli``: ``fengqiao sweep`` itself, without ``--now`` (so on the database's clock),
      on a machine whose own clock is ``skew`` off, with the rule file ``rules``.
    """

    url: str
    now: datetime | None = None
    kind: str = "sweep"
    size: int | None = None
    sent_log: str | None = None
    skew: timedelta = timedelta(0)
    rules: str | None = None


def record_sent(path: str, url: str, title: str, body: str) -> bool:
    """A sender that delivers nothing: it appends the message's address and key to ``path``
    (one write per line, O_APPEND, so lines of concurrent workers never interleave)."""
    parts = urlsplit(url)
    key = unquote(parts.query.partition("Idempotency-Key=")[2])
    line = json.dumps({"address": f"http://{parts.netloc}{parts.path}", "key": key}) + "\n"
    descriptor = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(descriptor, line.encode())
    finally:
        os.close(descriptor)
    return True


def run_job(job: Job) -> Any:
    """Run a job in this process; what it returns goes back to the test."""
    if job.kind == "cli":
        return _skewed_cli(job)
    assert job.now is not None
    now = job.now
    policy = load_policy()
    engine = make_engine(job.url)
    try:
        if job.kind == "sweep":
            extra = {"size": job.size} if job.size else {}
            return [
                escalation_sweep(
                    engine=engine, policy=policy, now=now, actor=ENGINE, **extra
                ).as_dict()
            ]
        assert job.sent_log is not None
        results = sweep(engine, policy, now, send=partial(record_sent, job.sent_log))
        return [r.as_dict() for r in results]
    finally:
        engine.dispose()


def _skewed_cli(job: Job) -> dict[str, Any]:
    """``fengqiao sweep`` on a worker whose wall clock is ``job.skew`` off; returns the
    worker's own clock as it saw it, and the command's exit code and output."""
    import time_machine  # only this test needs it

    assert job.rules is not None
    os.environ.pop("FENGQIAO_NOW", None)  # the command must read the clock, not a fixed now
    out = io.StringIO()
    with time_machine.travel(datetime.now(UTC) + job.skew, tick=True):
        own_clock = datetime.now(UTC)
        with redirect_stdout(out):
            code = main(["--db", job.url, "--rules", job.rules, "sweep", "--json"])
    return {"own_clock": own_clock, "code": code, "output": out.getvalue()}


def _serve(connection: Connection) -> None:
    """A worker's life: import everything, say ready; then for each job, connect, say
    armed, wait for go, run it and answer with its result (or the traceback)."""
    configure_logging(level="warning")  # failures still show, on stderr
    load_policy()  # reads and checks the shipped rules once, before the first job
    connection.send(("ready", os.getpid()))
    while True:
        job = connection.recv()
        if job is None:
            return
        probe = make_engine(job.url)
        database_now(probe)  # the server is reachable from this worker
        probe.dispose()
        connection.send(("armed", os.getpid()))
        connection.recv()  # go
        try:
            connection.send(("done", run_job(job)))
        except Exception:
            connection.send(("failed", traceback.format_exc()))


@dataclass
class Worker:
    process: Any
    connection: Connection

    @property
    def pid(self) -> int:
        return int(self.process.pid)

    def expect(self, what: str, *, timeout: float) -> Any:
        if not self.connection.poll(timeout):
            raise TimeoutError(f"worker {self.pid} did not say {what} within {timeout} s")
        said, payload = self.connection.recv()
        if said != what:
            raise AssertionError(f"worker {self.pid} said {said} instead of {what}:\n{payload}")
        return payload

    def arm(self, job: Job) -> None:
        self.connection.send(job)

    def go(self) -> None:
        self.connection.send("go")


class Fleet:
    """Spawned worker processes, started ahead of need (a worker takes a second or two to
    import everything); ``run`` releases several at the same moment."""

    def __init__(self) -> None:
        self.idle: list[Worker] = []
        self.starting: list[Worker] = []

    def start(self, count: int) -> None:
        """Start workers until ``count`` are idle or starting; do not wait for them."""
        while len(self.idle) + len(self.starting) < count:
            here, there = _SPAWN.Pipe()
            process = _SPAWN.Process(target=_serve, args=(there,), daemon=True)
            process.start()
            there.close()
            self.starting.append(Worker(process, here))

    def ready(self, count: int) -> list[Worker]:
        """``count`` idle workers, started if needed."""
        self.start(count)
        for worker in self.starting:
            worker.expect("ready", timeout=120)
        self.idle.extend(self.starting)
        self.starting = []
        return self.idle[:count]

    def take(self) -> Worker:
        """An idle worker, out of the fleet for good (to be killed)."""
        worker = self.ready(1)[0]
        self.idle.remove(worker)
        return worker

    def run(self, jobs: Sequence[Job], *, timeout: float = 180) -> list[Any]:
        """Run the jobs, one per worker, all released together; their results in order."""
        chosen = self.ready(len(jobs))
        for worker, job in zip(chosen, jobs, strict=True):
            worker.arm(job)
        for worker in chosen:
            worker.expect("armed", timeout=60)
        for worker in chosen:
            worker.go()
        return [worker.expect("done", timeout=timeout) for worker in chosen]

    def close(self) -> None:
        workers = [*self.idle, *self.starting]
        for worker in workers:
            with suppress(OSError):
                worker.connection.send(None)
        deadline = time.monotonic() + 10
        for worker in workers:
            worker.process.join(max(0.0, deadline - time.monotonic()))
            if worker.process.is_alive():
                worker.process.kill()
                worker.process.join()
