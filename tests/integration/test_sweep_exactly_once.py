"""However many sweeps run at once, each escalation, task and message is written once.

A county with a few hundred disputes, many of them due, is built once and copied (as a
PostgreSQL template) for every test. Then:

- 1, 2, 4 and 8 sweep processes are released together over the same due disputes, and
  the full ``run_due`` (cadence flows, reminders, delivery) by 4 processes at once;
- sweep processes are killed with SIGKILL at seeded random moments and restarted;
- workers whose clocks are five minutes fast and slow sweep on the database's clock;

and each time the database must hold exactly what one uninterrupted sweep leaves: nothing
doubled, nothing lost, nothing early. PostgreSQL only: SQLite has one writer at a time.
"""

from __future__ import annotations

import json
import os
import random
import signal
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, text
from sqlmodel import col, select
from structlog.testing import capture_logs

from models.tables import Dispute, Escalation
from rules.evaluate import evaluate
from rules.policy import Policy, load_policy
from tests.support import fleet as f
from tests.support.db import load_county
from tests.support.fleet import NOW, Fleet, Job
from tests.support.recording import report
from workflows.changes import history, initial_state
from workflows.db import database_now, make_engine, migrate, reading

pytestmark = pytest.mark.postgres

# A few hundred disputes keep the file under a minute or so on two cores; set
# FENGQIAO_EXACTLY_ONCE_DISPUTES for a bigger county (the same tests, slower).
DISPUTES = int(os.environ.get("FENGQIAO_EXACTLY_ONCE_DISPUTES", "300"))
SEED = 20261109
BATCH = 10  # small batches: a sweep goes through many of them
FLEET = 8
FULL_RUNS = 4  # full runs (`fengqiao sweep`) released together
SKEW = timedelta(minutes=5)


@dataclass
class County:
    """The county built once; ``clone`` copies it into a fresh database."""

    server: str
    template: str
    policy: Policy
    due: int  # disputes due for a decision at NOW
    expected: list[tuple[Any, ...]]  # (dispute, kind, from, to, rule, effective_at) due at NOW
    clones: list[str] = field(default_factory=list)

    def clone(self) -> str:
        """A new database holding what the county holds; dropped at the end of the module."""
        name = f"fengqiao_test_{uuid.uuid4().hex[:12]}"
        self.clones.append(name)
        return f.create_database(self.server, name, template=self.template)

    def drop(self, name: str) -> None:
        if name in self.clones:
            self.clones.remove(name)
            f.drop_database(self.server, name)


@dataclass(frozen=True)
class Reference:
    """What one uninterrupted run leaves, and how long it took."""

    url: str
    snapshot: dict[str, list[tuple[Any, ...]]]
    results: list[dict[str, Any]]
    seconds: float
    sent: list[tuple[str, str]] = field(default_factory=list)


@pytest.fixture(scope="module")
def fleet(postgres_server: str) -> Iterator[Fleet]:
    workers = Fleet()
    workers.start(FLEET)  # they import while the county is being built
    yield workers
    workers.close()


@pytest.fixture(scope="module")
def county(
    postgres_server: str, fleet: Fleet, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[County]:
    policy = load_policy()
    template = f"fengqiao_county_{uuid.uuid4().hex[:12]}"
    url = f.create_database(postgres_server, template)
    try:
        engine = make_engine(url)
        migrate(engine)
        with capture_logs():
            load_county(engine, f.org_with_webhooks(tmp_path_factory.mktemp("org")))
        with capture_logs():
            f.populate(engine, policy, f.plans(DISPUTES, seed=SEED))
        expected = _due_decisions(engine, policy)
        due = f.still_due(engine, NOW)
        engine.dispose()
        built = County(postgres_server, template, policy, due=due, expected=expected)
        yield built
        for name in list(built.clones):
            built.drop(name)
    finally:
        f.drop_database(postgres_server, template)


def _due_decisions(engine: Engine, policy: Policy) -> list[tuple[Any, ...]]:
    """The escalations and listings due at NOW, by evaluating the rules on each history."""
    expected = []
    with reading(engine) as session:
        for dispute in session.exec(select(Dispute).where(col(Dispute.next_decision_at) < NOW)):
            assert dispute.id is not None
            past = history(session, dispute.id)
            evaluation = evaluate(initial_state(dispute, past), past, policy=policy, now=NOW)
            expected.extend(
                (dispute.id, d.kind, d.from_level, d.to_level, d.rule, d.effective_at)
                for d in evaluation.decisions
            )
    return expected


@pytest.fixture
def clone(county: County) -> Iterator[Callable[[], str]]:
    """Copies of the county for one test, dropped after it."""
    made: list[str] = []

    def make() -> str:
        url = county.clone()
        made.append(county.clones[-1])
        return url

    yield make
    for name in made:
        county.drop(name)


@pytest.fixture(scope="module")
def swept_once(county: County) -> Reference:
    """One escalation sweep, alone and uninterrupted, over a copy of the county."""
    url = county.clone()
    engine = make_engine(url)
    started = time.monotonic()
    with capture_logs():
        results = f.run_job(Job(url, NOW, size=BATCH))
    seconds = time.monotonic() - started
    snapshot = f.snapshot(engine)
    engine.dispose()
    return Reference(url, snapshot, results, seconds)


@pytest.fixture(scope="module")
def ran_once(county: County, tmp_path_factory: pytest.TempPathFactory) -> Reference:
    """One full run (``fengqiao sweep``'s ``run_due``), alone, over a copy of the county."""
    url = county.clone()
    sent_log = tmp_path_factory.mktemp("sent") / "sent.jsonl"
    engine = make_engine(url)
    started = time.monotonic()
    with capture_logs():
        results = f.run_job(Job(url, NOW, kind="run_due", sent_log=str(sent_log)))
    seconds = time.monotonic() - started
    snapshot = f.snapshot(engine)
    sent = _sent(sent_log, engine)
    engine.dispose()
    return Reference(url, snapshot, results, seconds, sent)


def _sent(path: Path, engine: Engine) -> list[tuple[str, str]]:
    """What the fake sender sent: (address, key with task ids replaced by what the task is)."""
    if not path.exists():
        return []
    natural = f.natural_keys(engine)
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    return sorted((line["address"], natural(line["key"])) for line in lines)


def _assert_same(
    actual: dict[str, list[Any]], expected: dict[str, list[Any]], tables: list[str] | None = None
) -> None:
    """The same rows as the reference: for each table that differs, the rows one has and
    the other has not (duplicates included)."""
    differences = {}
    for table in tables or list(expected):
        more = Counter(actual[table]) - Counter(expected[table])
        fewer = Counter(expected[table]) - Counter(actual[table])
        if more or fewer:
            differences[table] = (
                f"{sum(more.values())} rows more than the uninterrupted run left, e.g. "
                f"{sorted(more)[:2]}; {sum(fewer.values())} rows fewer, e.g. {sorted(fewer)[:2]}"
            )
    assert differences == {}


def _decisions(results: list[list[dict[str, Any]]], flow: str = "escalation") -> int:
    return sum(r["decisions"] for worker in results for r in worker if r["flow"] == flow)


def _failed(results: list[list[dict[str, Any]]]) -> list[Any]:
    return [r["failed"] for worker in results for r in worker if r["failed"]]


# --- the reference ---------------------------------------------------------------------------


def test_the_county_has_hundreds_of_disputes_due_with_several_levels_to_cross(
    county: County,
) -> None:
    kinds = Counter((kind, to_level) for _, kind, _, to_level, _, _ in county.expected)
    assert county.due >= 150, county.due
    assert county.due > 10 * BATCH  # many batches
    assert kinds[("escalate", "township")] >= 50 and kinds[("escalate", "county")] >= 30, kinds
    assert kinds[("supervise", "county")] >= 1, kinds


def test_one_uninterrupted_sweep_records_exactly_what_the_rules_say_fell_due(
    county: County, swept_once: Reference
) -> None:
    engine = make_engine(swept_once.url)
    with reading(engine) as session:
        escalations = session.exec(
            select(Escalation).where(col(Escalation.recorded_at) == NOW)
        ).all()
        listings = session.execute(
            text(
                "SELECT dispute_id, at, CAST(data AS TEXT) FROM dispute_events"
                " WHERE kind = 'supervise' AND recorded_at = :now"
            ),
            {"now": NOW.astimezone(UTC).replace(tzinfo=None)},
        ).all()
    engine.dispose()
    recorded = sorted(
        (e.dispute_id, "escalate", e.from_level, e.to_level, e.rule, e.effective_at)
        for e in escalations
    ) + sorted((d, "supervise", at.replace(tzinfo=UTC)) for d, at, _ in listings)
    wanted = sorted(e for e in county.expected if e[1] == "escalate") + sorted(
        (d, "supervise", at) for d, kind, _, _, _, at in county.expected if kind == "supervise"
    )
    assert recorded == wanted
    assert _decisions([swept_once.results]) == len(county.expected)
    assert _failed([swept_once.results]) == []


# --- concurrent sweeps -----------------------------------------------------------------------


@pytest.mark.parametrize("workers", [1, 2, 4, 8])
def test_concurrent_escalation_sweeps_over_the_same_due_disputes_write_each_escalation_once(
    workers: int, swept_once: Reference, fleet: Fleet, clone: Callable[[], str]
) -> None:
    url = clone()
    results = fleet.run([Job(url, NOW, size=BATCH)] * workers)
    engine = make_engine(url)
    try:
        assert f.duplicates(engine) == {}
        assert f.still_due(engine, NOW) == 0
        _assert_same(f.snapshot(engine), swept_once.snapshot)
    finally:
        engine.dispose()
    assert _failed(results) == []
    # Each decision is counted by the one sweep that recorded it.
    assert _decisions(results) == _decisions([swept_once.results])


@dataclass(frozen=True)
class Together:
    """What full runs by several processes at once left."""

    snapshot: dict[str, list[tuple[Any, ...]]]
    results: list[list[dict[str, Any]]]
    sent: list[tuple[str, str]]
    marked_sent: list[tuple[str, str]]  # outbox rows in state sent: (address, natural key)
    duplicates: dict[str, list[tuple[Any, ...]]]
    still_due: int


@pytest.fixture(scope="module")
def ran_together(
    county: County, fleet: Fleet, tmp_path_factory: pytest.TempPathFactory
) -> Together:
    """``FULL_RUNS`` full runs released together over a copy of the county."""
    url = county.clone()
    sent_log = tmp_path_factory.mktemp("sent") / "sent.jsonl"
    results = fleet.run([Job(url, NOW, kind="run_due", sent_log=str(sent_log))] * FULL_RUNS)
    engine = make_engine(url)
    natural = f.natural_keys(engine)
    with engine.connect() as c:
        marked = c.execute(text("SELECT address, key FROM outbox WHERE state = 'sent'")).all()
    together = Together(
        snapshot=f.snapshot(engine),
        results=results,
        sent=_sent(sent_log, engine),
        marked_sent=sorted((address, natural(key)) for address, key in marked),
        duplicates=f.duplicates(engine),
        still_due=f.still_due(engine, NOW),
    )
    engine.dispose()
    return together


# What exists, without what depends on when another process's escalations committed:
# obligations without their overdue notice, tasks without their reminder state, reports
# without their content.
LEADING = {"obligations": 4, "tasks": 7, "reports": 4}


def _leading(snapshot: dict[str, list[tuple[Any, ...]]]) -> dict[str, list[tuple[Any, ...]]]:
    return {
        table: sorted(row[: LEADING.get(table, len(row))] for row in rows)
        for table, rows in snapshot.items()
    }


def test_concurrent_full_sweeps_write_each_escalation_task_and_message_once_and_send_each_once(
    ran_once: Reference, ran_together: Together
) -> None:
    assert ran_together.duplicates == {}
    assert ran_together.still_due == 0
    assert _failed(ran_together.results) == []
    _assert_same(
        _leading(ran_together.snapshot),
        _leading(ran_once.snapshot),
        tables=["disputes", "escalations", "events", "flow_runs", *LEADING],
    )
    doubled = [message for message, n in Counter(ran_together.sent).items() if n > 1]
    assert doubled == [], f"{len(doubled)} messages sent twice, e.g. {doubled[:3]}"
    assert ran_together.sent == ran_together.marked_sent  # sent once, and marked sent
    lost = sorted(set(ran_once.sent) - set(ran_together.sent))
    assert lost == [], f"{len(lost)} messages one run sends were not sent, e.g. {lost[:3]}"
    flows = Counter(r["flow"] for worker in ran_together.results for r in worker)
    assert flows["escalation"] == flows["reminders"] == flows["delivery"] == FULL_RUNS
    cadence = {r["flow"] for r in ran_once.results} - {"escalation", "reminders", "delivery"}
    assert len(cadence) == 7, "NOW should make every cadence and report flow due"


def test_concurrent_full_sweeps_store_reports_and_notice_overdue_only_after_every_escalation_due(
    ran_once: Reference, ran_together: Together
) -> None:
    """Reports, overdue notices and reminders are computed after the escalations due by
    the same moment are recorded, as in one run: not on a copy of the disputes that
    another process is escalating at that very moment."""
    _assert_same(ran_together.snapshot, ran_once.snapshot)
    assert ran_together.sent == ran_once.sent


# --- sweeps killed and restarted -------------------------------------------------------------


def _escalations(engine: Engine) -> int:
    with engine.connect() as c:
        return int(c.execute(text("SELECT count(*) FROM escalations")).scalar_one())


def test_sweeps_killed_with_sigkill_at_random_points_then_restarted_leave_what_one_sweep_leaves(
    county: County, swept_once: Reference, fleet: Fleet, clone: Callable[[], str]
) -> None:
    url = clone()
    engine = make_engine(url)
    rng = random.Random(SEED)
    initially = _escalations(engine)
    total = len(swept_once.snapshot["escalations"])
    # Fractions of the work left: at once (before anything is committed), part-way, near the end.
    fractions = [0.0, rng.uniform(0.1, 0.3), rng.uniform(0.3, 0.6), rng.uniform(0.3, 0.6)]
    fractions.append(rng.uniform(0.7, 0.9))
    rounds = []
    try:
        for fraction in fractions:
            left = f.still_due(engine, NOW) / county.due
            worker = fleet.take()
            worker.arm(Job(url, NOW, size=BATCH))
            worker.expect("armed", timeout=60)
            worker.go()
            time.sleep(fraction * left * swept_once.seconds)
            finished = worker.connection.poll()  # it answered: the sweep was over
            os.kill(worker.pid, signal.SIGKILL)
            worker.process.join(10)
            assert worker.process.exitcode == -signal.SIGKILL
            rounds.append((round(fraction, 2), not finished, _escalations(engine) - initially))
        [restarted] = fleet.run([Job(url, NOW, size=BATCH)])
        assert _failed([restarted]) == []
        assert f.duplicates(engine) == {}
        assert f.still_due(engine, NOW) == 0
        _assert_same(f.snapshot(engine), swept_once.snapshot)
    finally:
        engine.dispose()
    # The rounds did interrupt sweeps part-way (fraction, interrupted, escalations by then).
    assert any(cut and 0 < done < total - initially for _, cut, done in rounds), rounds


# --- clocks five minutes off -----------------------------------------------------------------

THRESHOLD = timedelta(minutes=10)


def _rules_with_a_ten_minute_threshold(directory: Path) -> Path:
    """The default rules, but a high-risk dispute escalates after 10 minutes unresolved."""
    shipped = (Path(__file__).resolve().parents[2] / "rules" / "default.yaml").read_text("utf-8")
    changed = shipped.replace("when: unresolved, after: 3d}", "when: unresolved, after: 10m}")
    assert changed.count("after: 10m}") == 1, "the shipped rules no longer have that line"
    path = directory / "ten-minutes.yaml"
    path.write_text(changed, encoding="utf-8")
    return path


def _escalated(engine: Engine) -> dict[int, list[tuple[datetime, datetime]]]:
    with reading(engine) as session:
        rows = session.exec(select(Escalation).order_by(col(Escalation.id))).all()
    found: dict[int, list[tuple[datetime, datetime]]] = {}
    for row in rows:
        found.setdefault(row.dispute_id, []).append((row.effective_at, row.recorded_at))
    return found


def test_workers_with_clocks_five_minutes_off_escalate_nothing_early_and_each_due_dispute_once(
    postgres_url: str, fleet: Fleet, tmp_path: Path
) -> None:
    pytest.importorskip("time_machine", reason="time-machine simulates the skewed clocks")
    rules = _rules_with_a_ten_minute_threshold(tmp_path)
    policy = load_policy(rules)
    engine = make_engine(postgres_url)
    migrate(engine)
    with capture_logs():
        load_county(engine)

    def reported(count: int, *, crossing_in: timedelta) -> dict[int, datetime]:
        """Disputes whose threshold is crossed ``crossing_in`` from now, on the database's
        clock; their ids with that crossing time."""
        at = database_now(engine) + crossing_in - THRESHOLD
        with capture_logs():
            return {
                report(engine, policy, risk="high", at=at): at + THRESHOLD for _ in range(count)
            }

    def sweep(*skews: timedelta) -> tuple[datetime, datetime, list[dict[str, Any]]]:
        jobs = [Job(postgres_url, kind="cli", skew=s, rules=str(rules)) for s in skews]
        before = database_now(engine)
        results = fleet.run(jobs)
        after = database_now(engine)
        for skew, result in zip(skews, results, strict=True):
            assert result["code"] == 0, result["output"]
            off = result["own_clock"] - before  # the worker's own clock really is that far off
            assert abs(off - skew) < timedelta(seconds=30), (skew, off)
        return before, after, results

    try:
        due = reported(10, crossing_in=-timedelta(minutes=1))
        soon = reported(10, crossing_in=timedelta(minutes=2))

        # A slow worker alone: what is due by the database's clock is escalated, though by
        # its own clock it will not be for another four minutes.
        before, after, _ = sweep(-SKEW)
        escalated = _escalated(engine)
        assert sorted(escalated) == sorted(due)
        for dispute_id, crossing in due.items():
            [(effective, recorded)] = escalated[dispute_id]
            assert effective == crossing  # when the threshold was crossed
            assert before <= recorded <= after  # stamped with the database's clock

        # A fast and a slow worker together: the disputes due two minutes from now (by the
        # fast worker's clock, three minutes ago) wait; the newly due are escalated once.
        due_next = reported(10, crossing_in=-timedelta(minutes=1))
        before, after, _ = sweep(+SKEW, -SKEW)
        assert after < min(soon.values()), "the machine was too slow for this test's margins"
        escalated = _escalated(engine)
        assert sorted(escalated) == sorted({**due, **due_next})
        assert all(len(rows) == 1 for rows in escalated.values()), escalated
        for dispute_id, crossing in due_next.items():
            [(effective, recorded)] = escalated[dispute_id]
            assert effective == crossing and before <= recorded <= after
        assert f.duplicates(engine) == {}
        assert f.still_due(engine, before) == 0
    finally:
        engine.dispose()
