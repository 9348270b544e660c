"""Event ingestion, our code (A) beside the same work written by hand (W,
bench/same_work.py): one transaction per event, and a file through `events import`.
Each comparison runs A and W alternately, each on a fresh copy of the same database, and
prints the median of the runs, W's evaluation time apart, and A's time over W's. Prints a
table; nothing is asserted.

    .venv/bin/python bench/record_events.py [--one 1000] [--disputes 1000] [--events 10000]
        [--runs 3] [--postgres URL]
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import same_work  # noqa: E402
from bench.generate import fresh_postgres  # noqa: E402
from fengqiao.logs import configure_logging  # noqa: E402
from models.values import OPERATOR  # noqa: E402
from rules.policy import load_policy  # noqa: E402
from workflows.db import make_engine, migrate  # noqa: E402
from workflows.recording import (  # noqa: E402
    NewDispute,
    NewEvent,
    import_events,
    record_event,
    report_dispute,
)
from workflows.reorganising import load_org  # noqa: E402

ZONE = ZoneInfo("Asia/Shanghai")
START = datetime(2026, 11, 2, 8, 0, tzinfo=ZONE)
KINDS = ["check", "check", "check", "assess", "mediate", "note"]


def _data(kind: str, rng: random.Random) -> dict[str, object] | None:
    if kind == "assess":
        return {"risk": rng.choice(["high", "medium", "low"])}
    if kind == "note":
        return {"text": "跟进记录"}
    return None


def _setup(url: str, disputes: int) -> list[int]:
    engine = make_engine(url)
    migrate(engine)
    policy = load_policy()
    load_org(
        engine=engine,
        policy=policy,
        now=START,
        actor=OPERATOR,
        path=ROOT / "examples" / "org.yaml",
    )
    ids = [
        report_dispute(
            engine=engine,
            policy=policy,
            now=START,
            actor=OPERATOR,
            dispute=NewDispute(
                unit="33010101",
                risk=["high", "medium", "low"][n % 3],
                category="邻里纠纷",
                title=f"bench {n}",
            ),
        )
        for n in range(disputes)
    ]
    engine.dispose()
    return ids


Plan = list[tuple[int, str, datetime, dict[str, object] | None]]


def _plan(ids: list[int], events: int, seed: int) -> Plan:
    rng = random.Random(seed)
    step = timedelta(hours=1) / max(1, events // len(ids))
    plan = []
    for i in range(events):
        kind = rng.choice(KINDS)
        plan.append((rng.choice(ids), kind, START + step * (i + 1), _data(kind, rng)))
    return plan


def a_one_by_one(url: str, plan: Plan, workdir: Path) -> tuple[float, float | None]:
    engine, policy = make_engine(url), load_policy()
    began = time.perf_counter()
    for dispute_id, kind, at, data in plan:
        record_event(
            engine=engine,
            policy=policy,
            now=at,
            actor=OPERATOR,
            dispute_id=dispute_id,
            event=NewEvent(kind, at=at, data=data),
        )
    elapsed = time.perf_counter() - began
    engine.dispose()
    return elapsed, None


def w_one_by_one(url: str, plan: Plan, workdir: Path) -> tuple[float, float | None]:
    hand, policy, timing = same_work.Hand(url), load_policy(), same_work.Timing()
    began = time.perf_counter()
    for dispute_id, kind, at, data in plan:
        same_work.record_one(
            hand, dispute_id, NewEvent(kind, at=at, data=data), policy=policy, now=at, timing=timing
        )
    elapsed = time.perf_counter() - began
    hand.conn.close()
    return elapsed, timing.evaluation


def _file(plan: Plan, workdir: Path) -> Path:
    path = workdir / "events.jsonl"
    with path.open("w", encoding="utf-8") as out:
        for dispute_id, kind, at, data in plan:
            line: dict[str, object] = {"dispute": dispute_id, "kind": kind, "at": at.isoformat()}
            if data is not None:
                line["data"] = data
            out.write(json.dumps(line, ensure_ascii=False) + "\n")
    return path


def a_import(url: str, plan: Plan, workdir: Path) -> tuple[float, float | None]:
    path = _file(plan, workdir)
    engine, policy = make_engine(url), load_policy()
    began = time.perf_counter()
    import_events(
        engine=engine, policy=policy, now=plan[-1][2], actor=OPERATOR, path=path, zone=ZONE
    )
    elapsed = time.perf_counter() - began
    engine.dispose()
    return elapsed, None


def w_import(url: str, plan: Plan, workdir: Path) -> tuple[float, float | None]:
    path = _file(plan, workdir)
    hand, policy, timing = same_work.Hand(url), load_policy(), same_work.Timing()
    began = time.perf_counter()
    changes: dict[int, list[NewEvent]] = {}
    for raw in path.read_text(encoding="utf-8").split("\n"):
        if raw.strip():
            line = json.loads(raw)
            at = datetime.fromisoformat(line["at"])
            new = NewEvent(line["kind"], at=at, data=line.get("data"))
            changes.setdefault(line["dispute"], []).append(new)
    same_work.import_all(hand, changes, policy=policy, now=plan[-1][2], timing=timing)
    elapsed = time.perf_counter() - began
    hand.conn.close()
    return elapsed, timing.evaluation


Method = Callable[[str, Plan, Path], tuple[float, float | None]]


def compare(
    label: str,
    path: str,
    copy: Callable[[str], str],
    plan: Plan,
    workdir: Path,
    methods: tuple[Method, Method],
    runs: int,
) -> None:
    """A and W alternately, each on a fresh copy; the medians, and A's time over W's."""
    seconds: dict[str, list[float]] = {"A": [], "W": []}
    evaluation: list[float] = []
    written: dict[str, dict[str, int]] = {}
    for run in range(runs):
        for name, method in zip(("A", "W"), methods, strict=True):
            url = copy(f"{name.lower()}{run}")
            elapsed, evaluated = method(url, plan, workdir)
            seconds[name].append(elapsed)
            if evaluated is not None:
                evaluation.append(evaluated)
            if run == 0:
                written[name] = _rows(url)
    if written["A"] != written["W"]:  # W must do A's work, or its time says nothing
        print(f"!! A and W wrote different rows: A {written['A']}, W {written['W']}")
    a, w = statistics.median(seconds["A"]), statistics.median(seconds["W"])
    events = len(plan)
    spread = " ".join(f"{name} {min(v):.2f}–{max(v):.2f}s" for name, v in seconds.items())
    print(
        f"{label:<11} {path:<30} {events / a:>9,.0f} {events / w:>9,.0f} "
        f"{statistics.median(evaluation) / events * 1e6:>10.0f} {a / w:>7.2f}   ({spread})"
    )


ROW_TABLES = ("dispute_events", "escalations", "obligations", "tasks", "outbox")


def _rows(url: str) -> dict[str, int]:
    """How many rows each table the recording writes holds."""
    engine = make_engine(url)
    with engine.connect() as connection:
        counts = {
            table: int(connection.exec_driver_sql(f"SELECT count(*) FROM {table}").scalar_one())
            for table in ROW_TABLES
        }
    engine.dispose()
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--one", type=int, default=1000, help="events recorded one by one")
    parser.add_argument("--disputes", type=int, default=1000)
    parser.add_argument("--events", type=int, default=10000, help="events in the file")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--postgres", help="also measure on this PostgreSQL server")
    args = parser.parse_args()
    configure_logging(fmt="json", level="error")  # not 2027's calendar warning, once a run
    print(
        f"{args.one:,} events one transaction each, then {args.events:,} in one file, over "
        f"{args.disputes:,} disputes (seeded); medians of {args.runs} runs, A and W "
        f"alternately; {sys.platform}, Python {sys.version.split()[0]}\n"
    )
    print(
        f"{'database':<11} {'path':<30} {'A ev/s':>9} {'W ev/s':>9} {'W eval µs':>10} {'A / W':>7}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        template = workdir / "template.db"
        ids = _setup(f"sqlite:///{template}", args.disputes)

        def sqlite_copy(name: str) -> str:
            target = workdir / f"{name}.db"
            for suffix in ("-wal", "-shm"):
                (workdir / f"{name}.db{suffix}").unlink(missing_ok=True)
            shutil.copyfile(template, target)
            return f"sqlite:///{target}"

        targets: list[tuple[str, Callable[[str], str]]] = [("sqlite", sqlite_copy)]
        if args.postgres:
            _setup(fresh_postgres(args.postgres, "bench_events_template"), args.disputes)

            def postgres_copy(name: str) -> str:
                return fresh_postgres(
                    args.postgres, f"bench_events_{name}", template="bench_events_template"
                )

            targets.append(("postgresql", postgres_copy))
        one = _plan(ids, args.one, seed=7)
        many = _plan(ids, args.events, seed=11)
        for label, copy in targets:
            compare(
                label,
                "1 transaction each",
                copy,
                one,
                workdir,
                (a_one_by_one, w_one_by_one),
                args.runs,
            )
            compare(
                label, "events import, 1 file", copy, many, workdir, (a_import, w_import), args.runs
            )
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\npeak memory {peak:.0f} MB")


if __name__ == "__main__":
    main()
