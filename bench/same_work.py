"""Method W: the rows our code writes, written by hand with the driver.

W reads what the planner needs and writes what it says with hand-written SQL on psycopg
(PostgreSQL: one pipeline to read, one to write and commit) or sqlite3 (executemany), with
values converted by hand. The evaluation and the planner are ours, the same functions
the engine runs (validating an event, going on from the stored fold, planning the rows),
timed apart: W is the same work with nothing of SQLAlchemy, the Session or our driver
layer (workflows/driver.py), and the fewest round trips. Where A's time is close to W's,
what is left to gain is in the work itself, not in how it reaches the database.

Not a product path: no scope, no people named, no rules-in-force check, and a dispute
without a stored fold is an error (every generated dispute has one).
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections import defaultdict, namedtuple
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import psycopg

from models.lifecycle import Event
from models.targets import Target
from models.values import LIVE_TASK_STATES, Channel, UnitLevel, UnitPath
from rules.evaluate import load_fold, resume
from rules.policy import Policy
from workflows.changes.plan import Plan, plan_dispute
from workflows.messaging.announcements import announcement_rows
from workflows.messaging.outbox import Address
from workflows.recording.validate import NewEvent, validated

DisputeRow = namedtuple(
    "DisputeRow",
    "id category reported_unit last_seq fold village_code township_code county_code "
    "assignee reported_at",
)
ObligationRow = namedtuple("ObligationRow", "dispute_id id kind due_at rules_version overdue_noted")
TaskRow = namedtuple("TaskRow", "dispute_id id kind target due_at")


@dataclass
class Timing:
    """Where W's time went: the evaluation and planning (ours), and the rest (database)."""

    evaluation: float = 0.0
    events: int = 0
    disputes: int = 0
    rows: dict[str, int] = field(default_factory=lambda: defaultdict(int))


class Hand:
    """One connection, the statements written out for its database."""

    def __init__(self, url: str) -> None:
        self.postgres = url.startswith("postgresql")
        if self.postgres:
            self.conn: Any = psycopg.connect(url.replace("postgresql+psycopg", "postgresql"))
            self.mark = "%s"
        else:
            self.conn = sqlite3.connect(url.removeprefix("sqlite:///"), isolation_level=None)
            self.conn.execute("PRAGMA journal_mode=WAL")
            self.conn.execute("PRAGMA synchronous=NORMAL")
            self.conn.execute("PRAGMA foreign_keys=ON")
            self.mark = "?"

    # -- values ------------------------------------------------------------------------

    def _value(self, value: Any) -> Any:
        if isinstance(value, datetime):
            naive = value.astimezone(UTC).replace(tzinfo=None)
            return naive if self.postgres else naive.strftime("%Y-%m-%d %H:%M:%S.%f")
        if isinstance(value, Mapping | list | tuple):
            return json.dumps(dict(value) if isinstance(value, Mapping) else list(value))
        return value

    def _time(self, value: Any) -> datetime:
        if isinstance(value, str):
            value = datetime.fromisoformat(value)
        return value.replace(tzinfo=UTC)

    def _json_cast(self, column: str) -> str:
        json_columns = {"data", "parties", "contacts"}
        return "::json" if self.postgres and column in json_columns else ""

    # -- reads -------------------------------------------------------------------------

    def _ids(self, column: str) -> str:
        if self.postgres:
            return f"{column} = ANY(%s)"
        return f"{column} IN (SELECT value FROM json_each(?))"

    def _id_list(self, ids: Sequence[int]) -> Any:
        return list(ids) if self.postgres else json.dumps(list(ids))

    def read_queries(self, ids: Sequence[int], *, lock: bool) -> list[tuple[str, tuple[Any]]]:
        live = ", ".join(f"'{state}'" for state in LIVE_TASK_STATES)
        param = (self._id_list(ids),)
        return [
            (
                "SELECT id, category, reported_unit, last_seq, fold, village_code, "
                "township_code, county_code, assignee, reported_at FROM disputes WHERE "
                + self._ids("id")
                + " ORDER BY id"
                + (" FOR UPDATE" if lock and self.postgres else ""),
                param,
            ),
            (
                "SELECT dispute_id, id, kind, due_at, rules_version, overdue_noted "
                "FROM obligations WHERE " + self._ids("dispute_id"),
                param,
            ),
            (
                "SELECT dispute_id, id, kind, target, due_at FROM tasks WHERE "
                + self._ids("dispute_id")
                + f" AND state IN ({live})",
                param,
            ),
        ]

    def read(
        self, ids: Sequence[int], *, lock: bool
    ) -> tuple[dict[int, DisputeRow], dict[int, list[Any]], dict[int, list[Any]]]:
        """The disputes' rows, obligations and live tasks: one round trip on PostgreSQL."""
        queries = self.read_queries(ids, lock=lock)
        if self.postgres:
            with self.conn.pipeline():
                cursors = []
                for sql, params in queries:
                    cursor = self.conn.cursor()
                    cursor.execute(sql, params)
                    cursors.append(cursor)
                raw = [cursor.fetchall() for cursor in cursors]
        else:
            raw = [self.conn.execute(sql, params).fetchall() for sql, params in queries]
        disputes = {row[0]: DisputeRow(*row[:9], self._time(row[9])) for row in raw[0]}
        obligations: dict[int, list[Any]] = defaultdict(list)
        for row in raw[1]:
            obligations[row[0]].append(
                ObligationRow(row[0], row[1], row[2], self._time(row[3]), row[4], bool(row[5]))
            )
        tasks: dict[int, list[Any]] = defaultdict(list)
        for row in raw[2]:
            tasks[row[0]].append(TaskRow(row[0], row[1], row[2], row[3], self._time(row[4])))
        return disputes, obligations, tasks

    def claim(self, now: datetime, limit: int) -> list[int]:
        """Due disputes, earliest first, locked (the sweep's claim)."""
        sql = (
            f"SELECT id FROM disputes WHERE next_decision_at < {self.mark} "
            f"ORDER BY next_decision_at, id LIMIT {int(limit)}"
            + (" FOR UPDATE SKIP LOCKED" if self.postgres else "")
        )
        return [row[0] for row in self.conn.execute(sql, (self._value(now),)).fetchall()]

    def begin(self) -> None:
        if not self.postgres:
            self.conn.execute("BEGIN IMMEDIATE")

    # -- writes ------------------------------------------------------------------------

    def _insert(self, table: str, rows: list[dict[str, Any]], suffix: str = "") -> None:
        if not rows:
            return
        columns = list(rows[0])
        marks = ", ".join(self.mark + self._json_cast(c) for c in columns)
        sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks}){suffix}"
        self._many(sql, [[self._value(row[c]) for c in columns] for row in rows])

    def _update(self, table: str, rows: list[dict[str, Any]]) -> None:
        if not rows:
            return
        columns = [c for c in rows[0] if c != "b_id"]
        sets = ", ".join(f"{c} = {self.mark}{self._json_cast(c)}" for c in columns)
        sql = f"UPDATE {table} SET {sets} WHERE id = {self.mark}"
        self._many(sql, [[*(self._value(row[c]) for c in columns), row["b_id"]] for row in rows])

    def _many(self, sql: str, params: list[list[Any]]) -> None:
        if self.postgres:
            self.conn.cursor().executemany(sql, params)
        else:
            self.conn.executemany(sql, params)

    def write(self, plan: Plan, *, policy: Policy, now: datetime, timing: Timing) -> None:
        """The plan's rows, then COMMIT: one round trip on PostgreSQL (more if it opens
        acknowledgements, whose ids the messages carry)."""
        if self.postgres:
            with self.conn.pipeline():
                self._write(plan, policy=policy, now=now, timing=timing)
                self.conn.commit()
        else:
            self._write(plan, policy=policy, now=now, timing=timing)
            self.conn.execute("COMMIT")

    def _write(self, plan: Plan, *, policy: Policy, now: datetime, timing: Timing) -> None:
        changes = plan.obligations
        self._insert("dispute_events", plan.events)
        self._insert("escalations", plan.escalations)
        self._update("disputes", plan.disputes)
        if changes.gone:
            self._many(
                f"DELETE FROM obligations WHERE id = {self.mark}", [[g] for g in changes.gone]
            )
        self._insert("obligations", changes.new)
        self._update("obligations", changes.moved)
        closed = [{**row, "next_reminder_at": None} for row in plan.tasks_closed]
        self._update("tasks", closed)
        self._insert(
            "tasks",
            plan.tasks_opened,
            " ON CONFLICT (dispute_id, kind, target, due_at) DO UPDATE SET state = 'open', "
            "closed_at = NULL, next_reminder_at = excluded.next_reminder_at, "
            "reminders_sent = 0 WHERE tasks.state = 'cancelled'",
        )
        self._acknowledgements(plan, policy=policy, now=now)
        for name, rows in (
            ("events", plan.events),
            ("escalations", plan.escalations),
            ("disputes", plan.disputes),
            ("tasks opened", plan.tasks_opened),
            ("tasks closed", plan.tasks_closed),
            ("acknowledgements", plan.acknowledgements),
        ):
            timing.rows[name] += len(rows)

    def _acknowledgements(self, plan: Plan, *, policy: Policy, now: datetime) -> None:
        if not plan.acknowledgements:
            return
        rows = [new.row for new in plan.acknowledgements]
        columns = list(rows[0])
        marks = ", ".join(self.mark for _ in columns)
        sql = f"INSERT INTO tasks ({', '.join(columns)}) VALUES ({marks}) RETURNING id"
        params = [[self._value(row[c]) for c in columns] for row in rows]
        ids = []
        if self.postgres:  # one pipelined executemany, its results read in one sync
            cursor = self.conn.cursor()
            cursor.executemany(sql, params, returning=True)
            while True:
                ids.extend(found[0] for found in cursor.fetchall())
                if not cursor.nextset():
                    break
        else:  # one by one: executemany returns nothing on sqlite3
            ids = [self.conn.execute(sql, values).fetchone()[0] for values in params]
        found = self._addresses({new.target for new in plan.acknowledgements if new.announce})
        messages: list[dict[str, Any]] = []
        for task_id, new in zip(ids, plan.acknowledgements, strict=True):
            if new.announce is None or not found.get(new.target):
                continue
            messages.extend(
                announcement_rows(
                    task_id=task_id,
                    task=new.row,
                    kind=new.announce,
                    at=new.at,
                    category=new.category,
                    found=found[new.target],
                    policy=policy,
                    now=now,
                )
            )
        self._insert("outbox", messages, " ON CONFLICT DO NOTHING")

    def _addresses(self, targets: Iterable[Target]) -> dict[Target, list[Address]]:
        """A unit's own addresses and its staff's; a person's own (the grid covered by its
        village's mediators is left out: the generated org has none)."""
        targets = list(targets)
        units = [t.ref for t in targets if not t.is_person]
        people = [t.ref for t in targets if t.is_person]
        found_units = {
            code: (level, json.loads(c) if isinstance(c, str) else c)
            for code, level, c in self.conn.execute(
                f"SELECT code, level, contacts FROM units WHERE {self._ids('code')}",
                (self._id_list(units),),
            ).fetchall()
        }
        staff: dict[str, list[tuple[str, Any]]] = defaultdict(list)
        for person, role, unit, c in self.conn.execute(
            "SELECT id, role, unit_code, contacts FROM people WHERE "
            f"{self._ids('unit_code')} OR {self._ids('id')} ORDER BY id",
            (self._id_list(units), self._id_list(people)),
        ).fetchall():
            staff[unit].append((person, role, json.loads(c) if isinstance(c, str) else c))
        by_person = {p: c for members in staff.values() for p, _, c in members}
        found: dict[Target, list[Address]] = {}
        for target in targets:
            holders: list[tuple[str, Any]] = []
            if target.is_person:
                if target.ref in by_person:
                    holders.append((str(target), by_person[target.ref]))
            elif target.ref in found_units:
                level, contacts = found_units[target.ref]
                holders.append((str(target), contacts))
                holders.extend(
                    (str(Target.of_person(p)), c)
                    for p, role, c in staff[target.ref]
                    if role == UnitLevel(level).staff
                )
            found[target] = [
                Address(holder, channel.value, str(address))
                for holder, contacts in holders
                for channel in Channel
                for address in _listed(contacts.get(channel.value, []))
            ]
        return found


def _listed(values: Any) -> list[Any]:
    return values if isinstance(values, list) else [values]


def plan_of(
    row: DisputeRow,
    fresh: Sequence[Event],
    obligations: Sequence[Any],
    tasks: Sequence[Any],
    *,
    policy: Policy,
    now: datetime,
) -> Plan:
    """The evaluation and the plan, ours: on from the stored fold."""
    path = UnitPath(row.village_code, row.township_code, row.county_code)
    fold = load_fold(row.fold, seq=row.last_seq, path=path, assignee=row.assignee, policy=policy)
    if fold is None:
        raise RuntimeError(f"dispute {row.id} has no fold to go on from")
    evaluation = resume(fold, list(fresh), now=now)
    return plan_dispute(
        row, evaluation, fresh=fresh, obligations=obligations, tasks=tasks, policy=policy, now=now
    )


def record_one(
    hand: Hand, dispute_id: int, new: NewEvent, *, policy: Policy, now: datetime, timing: Timing
) -> None:
    """W's recording of one event: read (one round trip), evaluate, write and commit (one)."""
    hand.begin()
    disputes, obligations, tasks = hand.read([dispute_id], lock=True)
    began = time.perf_counter()
    row = disputes[dispute_id]
    event = validated(
        new, seq=row.last_seq + 1, reported_at=row.reported_at, now=now, actor=None, people=()
    )
    plan = plan_of(row, [event], obligations[dispute_id], tasks[dispute_id], policy=policy, now=now)
    timing.evaluation += time.perf_counter() - began
    hand.write(plan, policy=policy, now=now, timing=timing)
    timing.events += 1


def import_all(
    hand: Hand,
    changes: Mapping[int, Sequence[NewEvent]],
    *,
    policy: Policy,
    now: datetime,
    timing: Timing,
) -> None:
    """W's import: every dispute of the file read set-wise, evaluated, the whole plan
    written, one transaction."""
    hand.begin()
    disputes, obligations, tasks = hand.read(list(changes), lock=True)
    began = time.perf_counter()
    plan = Plan()
    for dispute_id, news in changes.items():
        row = disputes[dispute_id]
        events = [
            validated(
                new,
                seq=row.last_seq + index + 1,
                reported_at=row.reported_at,
                now=now,
                actor=None,
                people=(),
            )
            for index, new in enumerate(news)
        ]
        plan.extend(
            plan_of(row, events, obligations[dispute_id], tasks[dispute_id], policy=policy, now=now)
        )
        timing.events += len(events)
    timing.evaluation += time.perf_counter() - began
    hand.write(plan, policy=policy, now=now, timing=timing)


def sweep(hand: Hand, *, policy: Policy, now: datetime, batch: int, timing: Timing) -> None:
    """W's escalation sweep: batches of due disputes claimed by due time, each read,
    evaluated at ``now`` and written in one transaction."""
    done: set[int] = set()
    while True:
        hand.begin()
        ids = hand.claim(now, batch)
        if not ids:
            hand.conn.commit() if hand.postgres else hand.conn.execute("COMMIT")
            return
        if done.intersection(ids):
            raise RuntimeError("a dispute swept is still due: the plan did not move it")
        done.update(ids)
        disputes, obligations, tasks = hand.read(ids, lock=False)
        began = time.perf_counter()
        plan = Plan()
        for dispute_id in ids:
            plan.extend(
                plan_of(
                    disputes[dispute_id],
                    [],
                    obligations[dispute_id],
                    tasks[dispute_id],
                    policy=policy,
                    now=now,
                )
            )
        timing.evaluation += time.perf_counter() - began
        timing.disputes += len(ids)
        hand.write(plan, policy=policy, now=now, timing=timing)
