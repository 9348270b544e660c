"""Two baselines for the side-by-side escalation benchmark: one APScheduler job per deadline
in its SQLAlchemy job store, and one Prefect flow run per due dispute.

``bench/sweep_side_by_side.py`` imports :func:`apscheduler_per_deadline` and
:func:`prefect_flow_per_dispute`; run this file on its own for a self-check on synthetic data
(a table of counters that the work function bumps, so the listeners' counts are checked
against the rows really written):

    .venv/bin/python bench/baselines.py [--due 2000] [--prefect-sample 20] [--postgres URL]
"""

from __future__ import annotations

import argparse
import functools
import logging
import os
import resource
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, MetaData, Table, create_engine, event, text
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.generate import fresh_postgres  # noqa: E402
from workflows.db import make_engine, normalise_url  # noqa: E402

__all__ = ["Baseline", "apscheduler_per_deadline", "prefect_flow_per_dispute"]

Work = Callable[[int], None]

JOB_TABLE = "apscheduler_jobs"

# Jobs in the SQLAlchemy job store are pickled as a reference to a module-level function and
# their arguments, so the work function cannot travel with them: it waits here.
_WORK: dict[str, Work] = {}


@dataclass(frozen=True)
class Baseline:
    """What one baseline did with the due deadlines, and what all of them would cost.

    ``handled``, ``dropped`` and ``failed`` count the ``measured`` deadlines (all of ``due``,
    or the sample); ``seconds`` is the wall time of that measured run, set-up excluded (see
    ``phases``); ``total_seconds`` is the estimate for all of ``due``, the same as
    ``seconds`` unless ``extrapolated``.
    """

    name: str
    measured: int
    handled: int
    dropped: int
    failed: int
    seconds: float
    extrapolated: bool
    total_seconds: float
    peak_memory_mb: float | None
    memory_method: str
    note: str
    phases: dict[str, float] = field(default_factory=dict)


def _run_deadline(dispute_id: int) -> None:
    """The job APScheduler runs at a dispute's deadline (importable by reference)."""
    _WORK["work"](dispute_id)


# --- memory -----------------------------------------------------------------------------


def _rss_bytes(pid: int | str) -> int | None:
    try:
        with open(f"/proc/{pid}/statm", encoding="ascii") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return None


class _PeakRss:
    """Peak resident memory of this process above its level at start, sampled every 20 ms.

    Where ``/proc`` is missing (not Linux) it falls back to the growth of ``ru_maxrss``,
    which only shows memory beyond the process's earlier peak.
    """

    def __init__(self) -> None:
        self._start = _rss_bytes("self")
        self._peak = self._start or 0
        self._others: dict[int, tuple[int, int]] = {}  # pid -> (start, peak)
        self._maxrss_start = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    @property
    def method(self) -> str:
        if self._start is not None:
            return "peak RSS growth of this process, sampled every 20 ms from /proc/self/statm"
        return "growth of resource.getrusage(RUSAGE_SELF).ru_maxrss (beyond earlier peak only)"

    def watch(self, pid: int) -> None:
        """Also sample another process (a server), from its current RSS."""
        rss = _rss_bytes(pid) or 0
        self._others[pid] = (rss, rss)

    def _sample(self) -> None:
        while not self._stop.wait(0.02):
            self._peak = max(self._peak, _rss_bytes("self") or 0)
            for pid, (start, peak) in list(self._others.items()):
                self._others[pid] = (start, max(peak, _rss_bytes(pid) or 0))

    def __enter__(self) -> _PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def growth_mb(self) -> float:
        if self._start is not None:
            return (self._peak - self._start) / 2**20
        grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - self._maxrss_start
        return grown / (2**20 if sys.platform == "darwin" else 2**10)

    def other_peaks_mb(self) -> dict[int, tuple[float, float]]:
        """Each watched process: (RSS when first watched, peak RSS), in MB."""
        return {pid: (s / 2**20, p / 2**20) for pid, (s, p) in self._others.items()}


# --- D: one APScheduler job per deadline --------------------------------------------------


def _job_store_engine(db_url: str) -> Engine:
    """The job store's engine, with the durability settings our own SQLite engine uses.

    Not ``make_engine``: its BEGIN IMMEDIATE would make APScheduler's reads take the write lock.
    """
    url = normalise_url(db_url)
    if make_url(url).get_backend_name() != "sqlite":
        return create_engine(url, pool_pre_ping=True, hide_parameters=True)
    engine = create_engine(url, connect_args={"timeout": 30}, hide_parameters=True)

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    return engine


def _drop_job_table(engine: Engine) -> None:
    Table(JOB_TABLE, MetaData()).drop(engine, checkfirst=True)


class _Outcomes:
    """Counts APScheduler's job events as they come, from the executor's threads."""

    def __init__(self) -> None:
        self.lock = threading.Condition()
        self.executed = self.missed = self.errors = 0
        self.last_event = self.last_executed = 0.0  # time.monotonic()

    @property
    def settled(self) -> int:
        return self.executed + self.missed + self.errors

    def listen(self, scheduled_event: Any) -> None:
        from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_EXECUTED, EVENT_JOB_MISSED

        now = time.monotonic()
        with self.lock:
            if scheduled_event.code == EVENT_JOB_EXECUTED:
                self.executed += 1
                self.last_executed = now
            elif scheduled_event.code == EVENT_JOB_MISSED:
                self.missed += 1
            elif scheduled_event.code == EVENT_JOB_ERROR:
                self.errors += 1
            self.last_event = now
            self.lock.notify_all()

    def wait_for(self, count: int, *, stall: float) -> None:
        """Until ``count`` jobs have settled, or nothing has settled for ``stall`` seconds."""
        with self.lock:
            seen, since = self.settled, time.monotonic()
            while self.settled < count:
                self.lock.wait(1.0)
                if self.settled != seen:
                    seen, since = self.settled, time.monotonic()
                elif time.monotonic() - since > stall:
                    return


@contextmanager
def _quiet(logger_name: str, level: int) -> Iterator[None]:
    """One warning per missed job would bury the output; the listeners count them instead."""
    logger = logging.getLogger(logger_name)
    before = logger.level
    logger.setLevel(level)
    try:
        yield
    finally:
        logger.setLevel(before)


def apscheduler_per_deadline(
    db_url: str, due: list[int], work: Work, *, sample: int | None = None
) -> Baseline:
    """Baseline D: one APScheduler ``date`` job per due dispute, all due at the same instant.

    APScheduler 3.x, ``BackgroundScheduler`` with its default executor (a pool of 10
    threads) and default job options, so ``misfire_grace_time`` is 1 s: a job that starts
    more than a second after its time is dropped (``EVENT_JOB_MISSED``) and never runs.
    The jobs live in a ``SQLAlchemyJobStore`` on ``db_url``, table ``apscheduler_jobs``,
    dropped before and after. With ``sample``, only the first ``sample`` deadlines are
    scheduled and the time is extrapolated linearly to all of ``due``.
    """
    from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_EXECUTED, EVENT_JOB_MISSED
    from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
    from apscheduler.schedulers.background import BackgroundScheduler

    ids = due if sample is None or sample >= len(due) else due[:sample]
    extrapolated = len(ids) < len(due)
    engine = _job_store_engine(db_url)
    _drop_job_table(engine)
    _WORK["work"] = work
    outcomes = _Outcomes()
    scheduler = BackgroundScheduler(
        jobstores={"default": SQLAlchemyJobStore(engine=engine, tablename=JOB_TABLE)},
        timezone=UTC,
    )
    scheduler.add_listener(outcomes.listen, EVENT_JOB_EXECUTED | EVENT_JOB_MISSED | EVENT_JOB_ERROR)
    phases: dict[str, float] = {}
    try:
        with _quiet("apscheduler", logging.ERROR), _PeakRss() as memory:
            # Paused: jobs go straight into the job store (one INSERT each) and the scheduler
            # thread does not wake up at every add. Resumed before T, it sleeps until T.
            scheduler.start(paused=True)

            # Choose T so that adding finishes before it: time adding a few jobs first.
            calibration = ids[: min(len(ids), 100)]
            far = datetime.now(UTC) + timedelta(days=1)
            began = time.perf_counter()
            for dispute_id in calibration:
                scheduler.add_job(
                    _run_deadline, "date", run_date=far, args=[dispute_id], id=f"c{dispute_id}"
                )
            per_add = (time.perf_counter() - began) / max(1, len(calibration))
            scheduler.remove_all_jobs()
            phases["calibration"] = per_add * len(calibration)
            deadline = datetime.now(UTC) + timedelta(seconds=2 + 1.5 * per_add * len(ids))

            began = time.perf_counter()
            for dispute_id in ids:
                scheduler.add_job(
                    _run_deadline,
                    "date",
                    run_date=deadline,
                    args=[dispute_id],
                    id=f"deadline-{dispute_id}",
                )
            phases["add"] = time.perf_counter() - began
            overrun = (datetime.now(UTC) - deadline).total_seconds()
            scheduler.resume()

            # Time from T is measured on the monotonic clock, T located by the wall clock once.
            t_mono = time.monotonic() + (deadline - datetime.now(UTC)).total_seconds()
            phases["idle_before_T"] = max(0.0, -overrun)
            outcomes.wait_for(len(ids), stall=120.0)
            settled_at = max(outcomes.last_event, t_mono)
            phases["burst"] = settled_at - t_mono
            phases["last_executed_after_T"] = (
                outcomes.last_executed - t_mono if outcomes.executed else 0.0
            )
            scheduler.shutdown(wait=True)
            phases["jobs_left_in_store"] = float(_count_jobs(engine))
    finally:
        if scheduler.running:
            scheduler.shutdown(wait=False)
        _WORK.pop("work", None)
        _drop_job_table(engine)
        engine.dispose()

    with outcomes.lock:
        executed, missed, errors = outcomes.executed, outcomes.missed, outcomes.errors
    never_ran = len(ids) - executed - missed - errors
    seconds = phases["add"] + phases["burst"]
    scale = len(due) / len(ids) if ids else 1.0
    note = (
        f"{len(ids)} date jobs added with the scheduler paused ({phases['add']:.2f} s, one "
        f"INSERT each), all due at one instant T set {2 + 1.5 * per_add * len(ids):.1f} s "
        f"after adding began (from {len(calibration)} timed calibration adds); resumed "
        f"before T; burst = T until the last job executed or missed. Default executor (10 "
        f"threads) and default misfire_grace_time (1 s): {missed} of {len(ids)} missed"
        + (f", {never_ran} never reported" if never_ran else "")
        + (f", {errors} raised" if errors else "")
        + f"; the last executed job ended {phases['last_executed_after_T']:.2f} s after T."
    )
    if overrun > 0:
        note += f" WARNING: adding overran T by {overrun:.2f} s, so every job started late."
    if extrapolated:
        note += (
            f" Sampled {len(ids)} of {len(due)} deadlines: time extrapolated linearly "
            f"(x{scale:.1f}); the same drop rate would drop about {missed * scale:.0f} of "
            f"{len(due)}, a lower bound, since a bigger burst makes later jobs later."
        )
    return Baseline(
        name="D APScheduler job per deadline",
        measured=len(ids),
        handled=executed,
        dropped=missed + never_ran,
        failed=errors,
        seconds=seconds,
        extrapolated=extrapolated,
        total_seconds=seconds * scale,
        peak_memory_mb=memory.growth_mb(),
        memory_method=memory.method,
        note=note,
        phases=phases,
    )


def _count_jobs(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(connection.execute(text(f"SELECT count(*) FROM {JOB_TABLE}")).scalar_one())


# --- E: one Prefect flow run per due dispute ----------------------------------------------


@functools.cache
def _dispute_flow() -> Any:
    """A flow with one task that calls the work function, built on first use.

    Built lazily so that importing this module does not import Prefect.
    """
    from prefect import flow, task

    @task(name="evaluate-dispute")
    def evaluate(dispute_id: int) -> None:
        _WORK["work"](dispute_id)

    @flow(name="escalate-dispute")
    def escalate(dispute_id: int) -> None:
        evaluate(dispute_id)

    return escalate


@contextmanager
def _environment(**values: str) -> Iterator[None]:
    before = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in before.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def prefect_flow_per_dispute(
    db_url: str, due: list[int], work: Work, *, sample: int = 20, heartbeats: bool = True
) -> Baseline:
    """Baseline E: one Prefect flow run (with one task calling ``work``) per due dispute.

    Against a temporary local Prefect server (``prefect_test_harness``, its own SQLite) with a
    temporary PREFECT_HOME; the server's start-up is timed but not counted. The first
    ``sample`` due disputes run one after the other; the time for all of ``due`` is the first
    run (which pays one-time set-up) plus the mean of the others times the rest. ``db_url``
    is not used by the flow machinery; ``work`` reaches the disputes' database itself.

    Prefect's defaults are kept, flow-run heartbeats included: at the end of each run the
    engine joins its heartbeat thread, which sleeps in one-second steps, and that wait is
    most of a short run. ``heartbeats=False`` turns them off
    (``PREFECT_FLOWS_HEARTBEAT_FREQUENCY`` unset) to show the rest of the cost. Prefect's
    console log lines are held back to warnings while timing; what it sends to its API
    is unchanged.
    """
    del db_url  # the work function carries its own connection
    if not due:
        raise ValueError("no due disputes to run flows for")
    from prefect.settings import (
        PREFECT_FLOWS_HEARTBEAT_FREQUENCY,
        PREFECT_HOME,
        temporary_settings,
    )
    from prefect.testing.utilities import prefect_test_harness

    ids = due[: max(1, sample)]
    extrapolated = len(ids) < len(due)
    escalate = _dispute_flow()
    _WORK["work"] = work
    phases: dict[str, float] = {}
    durations: list[float] = []
    completed = failed = 0
    server_mb: tuple[float, float] | None = None
    try:
        with (
            tempfile.TemporaryDirectory(prefix="fengqiao-prefect-") as home,
            _environment(PREFECT_HOME=home, PREFECT_SERVER_ANALYTICS_ENABLED="false"),
            temporary_settings(updates={PREFECT_HOME: Path(home)}),
            _quiet_prefect_console(),
            _PeakRss() as memory,
        ):
            began = time.perf_counter()
            with prefect_test_harness(server_startup_timeout=120):
                phases["server_start"] = time.perf_counter() - began
                server_pid = _harness_server_pid()
                if server_pid is not None:
                    memory.watch(server_pid)
                heartbeat = {} if heartbeats else {PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}
                with temporary_settings(updates=heartbeat):
                    for dispute_id in ids:
                        began = time.perf_counter()
                        state = escalate(dispute_id, return_state=True)
                        durations.append(time.perf_counter() - began)
                        if state.is_completed():
                            completed += 1
                        else:
                            failed += 1
                if server_pid is not None:
                    server_mb = memory.other_peaks_mb().get(server_pid)
    finally:
        _WORK.pop("work", None)

    seconds = sum(durations)
    first, rest = durations[0], durations[1:]
    per_run = statistics.fmean(rest) if rest else first
    total = first + per_run * (len(due) - 1) if extrapolated else seconds
    phases |= {"first_run": first, "per_run_mean": per_run}
    if rest:
        phases |= {"per_run_median": statistics.median(rest), "per_run_max": max(rest)}
    note = (
        f"timed {len(ids)} flow runs, one after the other, each with one task, "
        + ("Prefect defaults (flow-run heartbeats on)" if heartbeats else "heartbeats off")
        + (
            f", extrapolated to {len(due)}: first run {first:.2f} s + "
            f"{per_run:.2f} s mean of the others x {len(due) - 1}"
            if extrapolated
            else ""
        )
        + f"; temporary local Prefect server (start-up {phases['server_start']:.1f} s, "
        "not counted)"
    )
    if server_mb is not None:
        note += f", its process {server_mb[0]:.0f} MB RSS at start, peak {server_mb[1]:.0f} MB"
    if failed:
        note += f"; {failed} flow runs did not complete"
    return Baseline(
        name="E Prefect flow run per dispute" + ("" if heartbeats else ", no heartbeat"),
        measured=len(ids),
        handled=completed,
        dropped=0,
        failed=failed,
        seconds=seconds,
        extrapolated=extrapolated,
        total_seconds=total,
        peak_memory_mb=memory.growth_mb(),
        memory_method=memory.method + " (the server's own process is in the note)",
        note=note + ".",
        phases=phases,
    )


@contextmanager
def _quiet_prefect_console() -> Iterator[None]:
    """Four console lines per flow run would bury the table; keep the console's warnings."""
    handlers = [
        handler
        for handler in logging.getLogger().handlers
        if type(handler).__name__ == "PrefectConsoleHandler"
    ]
    levels = [handler.level for handler in handlers]
    for handler in handlers:
        handler.setLevel(max(handler.level, logging.WARNING))
    try:
        yield
    finally:
        for handler, level in zip(handlers, levels, strict=True):
            handler.setLevel(level)


def _harness_server_pid() -> int | None:
    from prefect.server.api.server import SubprocessASGIServer

    server = SubprocessASGIServer._instances.get(None)
    process = getattr(server, "server_process", None)
    return process.pid if process is not None else None


# --- self-check ---------------------------------------------------------------------------


COUNTERS = "bench_baselines_work"


def _counter_work(engine: Engine) -> Work:
    """A trivial work function: bump the dispute's counter, in its own transaction."""

    def work(dispute_id: int) -> None:
        with engine.begin() as connection:
            connection.execute(
                text(f"UPDATE {COUNTERS} SET runs = runs + 1 WHERE id = :id"), {"id": dispute_id}
            )

    return work


def _reset_counters(engine: Engine, n: int) -> None:
    with engine.begin() as connection:
        connection.execute(text(f"DROP TABLE IF EXISTS {COUNTERS}"))
        connection.execute(text(f"CREATE TABLE {COUNTERS} (id INTEGER PRIMARY KEY, runs INTEGER)"))
        connection.execute(
            text(f"INSERT INTO {COUNTERS} (id, runs) VALUES (:id, 0)"),
            [{"id": i} for i in range(1, n + 1)],
        )


def _rows_run(engine: Engine) -> tuple[int, int]:
    """(rows whose work ran at least once, rows whose work ran more than once)."""
    with engine.connect() as connection:
        once = connection.execute(text(f"SELECT count(*) FROM {COUNTERS} WHERE runs > 0"))
        twice = connection.execute(text(f"SELECT count(*) FROM {COUNTERS} WHERE runs > 1"))
        return int(once.scalar_one()), int(twice.scalar_one())


def _drop_postgres(url: str, name: str) -> None:
    admin = create_engine(normalise_url(url), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _print(label: str, result: Baseline, rows: tuple[int, int]) -> None:
    memory = "-" if result.peak_memory_mb is None else f"{result.peak_memory_mb:.0f}"
    print(
        f"{label:<10} {result.name:<44} {result.measured:>8} {result.handled:>8} "
        f"{result.dropped:>8} {result.failed:>6} {result.seconds:>8.2f} "
        f"{'yes' if result.extrapolated else 'no':>6} {result.total_seconds:>9.1f} {memory:>6}"
    )
    print(f"{'':<10} rows written by work: {rows[0]} (more than once: {rows[1]})")
    print(f"{'':<10} {result.note}")
    print(f"{'':<10} phases: " + ", ".join(f"{k} {v:.2f}" for k, v in result.phases.items()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--due", type=int, default=2000, help="due disputes (default 2000)")
    parser.add_argument("--apscheduler-sample", type=int, help="schedule only this many")
    parser.add_argument("--prefect-sample", type=int, default=20, help="flow runs to time")
    parser.add_argument("--postgres", help="also measure on this PostgreSQL server")
    parser.add_argument("--skip-prefect", action="store_true", help="only baseline D")
    parser.add_argument(
        "--prefect-no-heartbeat", action="store_true", help="also time E with heartbeats off"
    )
    args = parser.parse_args()
    due = list(range(1, args.due + 1))
    print(
        f"{args.due} disputes due at once, work = one UPDATE in its own transaction; "
        f"{sys.platform}, Python {sys.version.split()[0]}, {os.cpu_count()} CPUs\n"
    )
    header = (
        f"{'database':<10} {'baseline':<44} {'measured':>8} {'handled':>8} {'dropped':>8} "
        f"{'failed':>6} {'seconds':>8} {'extrap':>6} {'est. all s':>9} {'+MB':>6}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        targets: list[tuple[str, Callable[[], str], Callable[[], None]]] = [
            ("sqlite", lambda: f"sqlite:///{Path(tmp) / 'baselines.db'}", lambda: None)
        ]
        if args.postgres:
            targets.append(
                (
                    "postgresql",
                    lambda: fresh_postgres(args.postgres, "bench_baselines"),
                    lambda: _drop_postgres(args.postgres, "bench_baselines"),
                )
            )
        print(header)
        for label, make_url_for, cleanup in targets:
            url = make_url_for()
            engine = make_engine(url)
            try:
                work = _counter_work(engine)
                _reset_counters(engine, args.due)
                result = apscheduler_per_deadline(url, due, work, sample=args.apscheduler_sample)
                _print(label, result, _rows_run(engine))
                if not args.skip_prefect:
                    _reset_counters(engine, args.due)
                    result = prefect_flow_per_dispute(url, due, work, sample=args.prefect_sample)
                    _print(label, result, _rows_run(engine))
                if not args.skip_prefect and args.prefect_no_heartbeat:
                    _reset_counters(engine, args.due)
                    result = prefect_flow_per_dispute(
                        url, due, work, sample=args.prefect_sample, heartbeats=False
                    )
                    _print(label, result, _rows_run(engine))
            finally:
                engine.dispose()
                cleanup()
        print("\n+MB: " + _PeakRss().method)


if __name__ == "__main__":
    main()
