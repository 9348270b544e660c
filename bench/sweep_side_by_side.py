"""The escalation sweep side by side with four other ways to do the same work, in one run,
on the same generated data, on SQLite and on PostgreSQL:

    A  our escalation sweep: ``workflows.sweeps.escalation_sweep``, the flows' code path
    W  the same rows written by hand with the driver (bench/same_work.py): A's work with
       nothing of SQLAlchemy, our evaluation and planner included and timed apart
    B  a raw-SQL floor: one indexed claim-and-update statement per batch of 500, writing
       one column of one row per due dispute and nothing else
    C  the same work one transaction per dispute (``sweep_disputes``)
    D  one APScheduler job per deadline in its SQLAlchemy job store (default misfire grace)
    E  one Prefect flow run per due dispute

    .venv/bin/python bench/sweep_side_by_side.py [--sizes county,province]
        [--methods A,W,B,C,D,E] [--runs 3]
        [--postgres postgresql://postgres@127.0.0.1:5432/test] [--no-sqlite]

Each method runs in a process of its own on a fresh copy of the generated database (a file
copy on SQLite, ``CREATE DATABASE … TEMPLATE`` on PostgreSQL), so that peak memory is its
own and every method starts from the same rows. C, D and E are slow: where a size would
take too long they run on a sample of the due disputes and the total is extrapolated
linearly; the table says so ("~"). With ``--runs N``, A and W run N times each, alternately,
and the table gives their medians (with the range).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import structlog  # noqa: E402
from sqlalchemy import Engine, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from models.values import ENGINE  # noqa: E402
from rules.policy import Policy, load_policy  # noqa: E402
from workflows.db import make_engine  # noqa: E402
from workflows.sweeps import escalation_sweep, sweep_disputes  # noqa: E402

NOW = datetime(2026, 11, 23, 1, 30, tzinfo=UTC)  # Monday 09:30 in Shanghai
METHODS = ("A", "W", "B", "C", "D", "E")
REPEATED = ("A", "W")  # run --runs times, alternately
NAMES = {
    "A": "A our sweep",
    "W": "W same rows by hand",
    "B": "B raw SQL bound",
    "C": "C tx per dispute",
    "D": "D APScheduler job/deadline",
    "E": "E Prefect flow run/dispute",
}
# Due disputes run by the slow methods before extrapolating, per size.
SAMPLES = {
    "county": {"C": None, "D": None, "E": 20},
    "province": {"C": 5_000, "D": 20_000, "E": 20},
}
BOUND_BATCH = 500


# ---------------------------------------------------------------- in the method's process


def _quiet() -> None:
    """No per-decision log lines while timing: they would be most of the output."""
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    logging.getLogger().setLevel(logging.WARNING)


def _peak_mb() -> float:
    """This process's peak resident memory (VmHWM: unlike ru_maxrss, not inherited from
    the parent that started it)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


_ENGINE: Engine | None = None
_POLICY: Policy | None = None


def one_dispute(dispute_id: int) -> None:
    """The work of one deadline for C, D and E: evaluate one dispute in its own transaction."""
    assert _ENGINE is not None and _POLICY is not None
    done = sweep_disputes([dispute_id], engine=_ENGINE, policy=_POLICY, now=NOW, flow="bench")
    if done.failed:
        raise RuntimeError(f"dispute {dispute_id} failed")


def due_set_ms(engine: Engine) -> tuple[float, float, int]:
    """The due-set query: every dispute due by now, by the index on next_decision_at.

    Run three times: the first in a database nobody has queried yet also loads the
    server's catalog caches for it (about 60 ms on PostgreSQL); the best of the others is
    what a sweep every 15 minutes meets. Returns (first ms, best ms, rows).
    """
    times = []
    with engine.connect() as connection:
        connection.execute(text("SELECT 1"))  # the connection is made before timing
        for _ in range(3):
            began = time.perf_counter()
            ids = connection.execute(
                text(
                    "SELECT id FROM disputes WHERE next_decision_at < :now "
                    "ORDER BY next_decision_at, id"
                ),
                {"now": NOW.replace(tzinfo=None)},
            ).all()
            times.append((time.perf_counter() - began) * 1000)
    return times[0], min(times[1:]), len(ids)


def raw_bound(engine: Engine) -> int:
    """B: per batch, one statement that claims the due rows by the index and updates them."""
    lock = " FOR UPDATE SKIP LOCKED" if engine.dialect.name == "postgresql" else ""
    statement = text(
        "UPDATE disputes SET level = 'township', next_decision_at = NULL, "
        "last_seq = last_seq + 1 WHERE id IN (SELECT id FROM disputes "
        "WHERE next_decision_at < :now ORDER BY next_decision_at, id "
        f"LIMIT {BOUND_BATCH}{lock}) RETURNING id"
    )
    handled = 0
    while True:
        with engine.begin() as connection:
            count = len(connection.execute(statement, {"now": NOW.replace(tzinfo=None)}).all())
        if count == 0:
            return handled
        handled += count


def run_method(method: str, url: str, due_file: Path, sample: int | None) -> dict[str, Any]:
    """Run one method on the database at ``url``; return its figures."""
    global _ENGINE, _POLICY
    _quiet()
    due: list[int] = json.loads(due_file.read_text())
    engine = _ENGINE = make_engine(url)
    policy = _POLICY = load_policy(None)
    figures: dict[str, Any] = {"method": method, "due": len(due), "extrapolated": False}
    if method == "A":
        figures["due_set_first_ms"], figures["due_set_ms"], figures["due_found"] = due_set_ms(
            engine
        )
        began = time.perf_counter()
        result = escalation_sweep(engine=engine, policy=policy, now=NOW, actor=ENGINE)
        figures["seconds"] = time.perf_counter() - began
        figures["handled"] = result.examined
        figures["decisions"] = result.decisions
        figures["failed"] = len(result.failed)
    elif method == "W":
        from bench import same_work

        hand, timing = same_work.Hand(url), same_work.Timing()
        began = time.perf_counter()
        same_work.sweep(hand, policy=policy, now=NOW, batch=500, timing=timing)
        figures["seconds"] = time.perf_counter() - began
        figures["handled"] = timing.disputes
        figures["evaluation_us"] = timing.evaluation / max(1, timing.disputes) * 1e6
        hand.conn.close()
    elif method == "B":
        began = time.perf_counter()
        figures["handled"] = raw_bound(engine)
        figures["seconds"] = time.perf_counter() - began
    elif method == "C":
        chosen = due if sample is None else due[:sample]
        began = time.perf_counter()
        result = sweep_disputes(chosen, engine=engine, policy=policy, now=NOW, flow="escalation")
        took = time.perf_counter() - began
        figures.update(handled=result.examined, failed=len(result.failed), measured=len(chosen))
        figures["seconds"] = took * len(due) / len(chosen)
        figures["extrapolated"] = len(chosen) < len(due)
    else:
        from bench.baselines import apscheduler_per_deadline, prefect_flow_per_dispute

        if method == "D":
            baseline = apscheduler_per_deadline(url, due, one_dispute, sample=sample)
        else:
            baseline = prefect_flow_per_dispute(url, due, one_dispute, sample=sample or 20)
        figures.update(
            handled=baseline.handled,
            dropped=baseline.dropped,
            measured=baseline.measured,
            seconds=baseline.total_seconds,
            extrapolated=baseline.extrapolated,
            note=baseline.note,
        )
    figures["peak_mb"] = _peak_mb()
    if method in REPEATED:
        figures["rows"] = _rows(engine)
    engine.dispose()
    return figures


def _rows(engine: Engine) -> dict[str, int]:
    """How many rows each table the sweep writes holds: A and W must write the same."""
    with engine.connect() as connection:
        return {
            table: int(connection.exec_driver_sql(f"SELECT count(*) FROM {table}").scalar_one())
            for table in ("dispute_events", "escalations", "obligations", "tasks", "outbox")
        }


# ---------------------------------------------------------------------------- the driver


def _copy(backend: str, base: str, name: str, workdir: Path) -> str:
    """A fresh copy of the generated database ``base`` for one method."""
    if backend == "sqlite":
        source = Path(make_url(base).database or "")
        target = workdir / f"{name}.db"
        shutil.copyfile(source, target)
        return f"sqlite:///{target}"
    from bench.generate import fresh_postgres

    return fresh_postgres(base, name, template=make_url(base).database)


def _analyze(url: str) -> None:
    """What autovacuum would do in time after the bulk load: planner statistics and, on
    PostgreSQL, the visibility map and hint bits, so that the first reads of the fresh
    load do not set them (and index-only scans need not visit the table)."""
    engine = make_engine(url)
    statement = "VACUUM ANALYZE" if engine.dialect.name == "postgresql" else "ANALYZE"
    with engine.connect() as connection:
        connection.execution_options(isolation_level="AUTOCOMMIT").execute(text(statement))
    engine.dispose()


def _drop(backend: str, url: str) -> None:
    if backend == "sqlite":
        Path(make_url(url).database or "").unlink(missing_ok=True)
        return
    from bench.generate import drop_postgres

    drop_postgres(url)


def _in_process(method: str, url: str, due_file: Path, sample: int | None) -> dict[str, Any]:
    command = [sys.executable, __file__, "--run", method, "--url", url, "--due-file", str(due_file)]
    if sample is not None:
        command += ["--sample", str(sample)]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        return {"method": method, "error": done.stderr.strip().splitlines()[-1:]}
    figures: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return figures


def _fresh_run(
    backend: str,
    base: str,
    method: str,
    workdir: Path,
    due_file: Path,
    sample: int | None = None,
) -> dict[str, Any]:
    url = _copy(backend, base, f"fengqiao_bench_{method.lower()}", workdir)
    try:
        return _in_process(method, url, due_file, sample)
    finally:
        _drop(backend, url)


def _median(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The run of median time, with the range of all."""
    good = [r for r in runs if "error" in r] or sorted(runs, key=lambda r: r["seconds"])
    chosen = dict(good[len(good) // 2])
    if len(runs) > 1 and "error" not in chosen:
        times = [r["seconds"] for r in runs]
        chosen["range"] = f"median of {len(runs)} ({min(times):.2f}–{max(times):.2f} s)"
    return chosen


def _row(size: str, backend: str, figures: dict[str, Any], ours: float | None) -> str:
    name = NAMES[figures["method"]]
    if "error" in figures:
        return f"| {size} | {backend} | {name} | failed: {figures['error']} | | | | |"
    seconds = figures["seconds"]
    mark = "~" if figures.get("extrapolated") else ""
    rate = figures["due"] / seconds if seconds else float("inf")
    handled = f"{figures['handled']:,}"
    if figures.get("measured") not in (None, figures["due"]):
        handled += f" of {figures['measured']:,} run"
    if figures.get("dropped"):
        handled += f", {figures['dropped']:,} DROPPED"
    ratio = "1" if ours is None else f"{ours / seconds:.3g}"
    notes = [figures["range"]] if "range" in figures else []
    if "evaluation_us" in figures:
        notes.append(f"evaluation and planning {figures['evaluation_us']:.0f} µs per due dispute")
    if "due_set_ms" in figures:
        notes.append(
            f"due-set query {figures['due_set_ms']:.0f} ms "
            f"(first in a fresh database {figures['due_set_first_ms']:.0f} ms)"
        )
    extra = "; ".join(notes)
    return (
        f"| {size} | {backend} | {name} | {mark}{seconds:,.2f} | {mark}{rate:,.0f} | "
        f"{handled} | {figures['peak_mb']:.0f} | {ratio} | {extra} |"
    )


def drive(args: argparse.Namespace) -> None:
    from bench.generate import SIZES, fresh_postgres, generate

    backends = [] if args.no_sqlite else ["sqlite"]
    if args.postgres:
        backends.append("postgresql")
    print(
        "| size | database | method | seconds | deadlines/s | handled | peak MB "
        "| A's time / this | notes |"
    )
    print("|---|---|---|---:|---:|---|---:|---:|---|")
    with tempfile.TemporaryDirectory(prefix="fengqiao-bench-") as scratch:
        workdir = Path(scratch)
        for size in args.sizes.split(","):
            open_disputes, due = SIZES[size]
            for backend in backends:
                if backend == "sqlite":
                    base = f"sqlite:///{workdir / 'base.db'}"
                else:
                    base = fresh_postgres(args.postgres, "fengqiao_bench_base")
                generated = generate(base, open_disputes=open_disputes, due=due, now=NOW)
                _analyze(base)
                print(
                    f"<!-- generated {size} on {backend}: {generated.open:,} open, "
                    f"{len(generated.due_ids):,} due, {generated.seconds:.0f} s -->",
                    flush=True,
                )
                due_file = workdir / "due.json"
                due_file.write_text(json.dumps(generated.due_ids))
                results: dict[str, dict[str, Any]] = {}
                methods = args.methods.split(",")
                repeated = [m for m in methods if m in REPEATED]
                runs: dict[str, list[dict[str, Any]]] = {m: [] for m in repeated}
                for _ in range(args.runs):  # A and W alternately, each on a fresh copy
                    for method in repeated:
                        runs[method].append(_fresh_run(backend, base, method, workdir, due_file))
                rows = {
                    m: results_of[0].get("rows") for m, results_of in runs.items() if results_of
                }
                if len({str(r) for r in rows.values()}) > 1:
                    print(f"<!-- !! A and W wrote different rows: {rows} -->", flush=True)
                for method in methods:
                    if method in REPEATED:
                        results[method] = _median(runs[method])
                    else:
                        results[method] = _fresh_run(
                            backend, base, method, workdir, due_file, SAMPLES[size].get(method)
                        )
                    ours = results.get("A", {}).get("seconds")
                    row = _row(size, backend, results[method], None if method == "A" else ours)
                    print(row, flush=True)
                _drop(backend, base)
    print(
        f"\nmachine: {os.cpu_count()} cores, Python {sys.version.split()[0]}, "
        f"{datetime.now(UTC):%Y-%m-%d}; ~ = a sample run, extrapolated linearly"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="county,province")
    parser.add_argument("--methods", default=",".join(METHODS))
    parser.add_argument("--postgres", help="a PostgreSQL server URL to run on as well")
    parser.add_argument("--no-sqlite", action="store_true")
    parser.add_argument("--runs", type=int, default=1, help="runs of A and W, alternately")
    parser.add_argument("--run", choices=METHODS, help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--due-file", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--sample", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.run:
        print(json.dumps(run_method(args.run, args.url, args.due_file, args.sample)))
        return
    drive(args)


if __name__ == "__main__":
    main()
