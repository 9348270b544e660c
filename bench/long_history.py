"""A dispute with a long history (by default 3,000 events: a high-risk dispute's daily checks
and notes over years) read as people read it: its web page, its JSON, and the explanation
of what it owes, from the stored fold and by replaying the history. Prints a table; nothing
is asserted.

    .venv/bin/python bench/long_history.py [--events 3000] [--runs 30] [--postgres URL]

Server time: each request to the app in the same process (Starlette's test client, no
network), signed in as the village's mediator, once untimed first, then ``--runs`` times;
medians and 95th percentiles.
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import structlog  # noqa: E402
from sqlalchemy import Engine  # noqa: E402

from bench.generate import drop_postgres, fresh_postgres  # noqa: E402
from models.values import OPERATOR, Actor  # noqa: E402
from rules.evaluate import evaluate  # noqa: E402
from rules.policy import Policy, load_policy  # noqa: E402
from tests.support.db import load_county  # noqa: E402
from tests.support.web import Site  # noqa: E402
from workflows.access import dispute_in_scope  # noqa: E402
from workflows.changes import history, initial_state  # noqa: E402
from workflows.db import make_engine, migrate, reading  # noqa: E402
from workflows.recording import NewDispute, import_events, report_dispute  # noqa: E402
from workflows.views import explain_view  # noqa: E402

ZONE = ZoneInfo("Asia/Shanghai")
REPORTED = datetime(2022, 1, 10, 9, 0, tzinfo=ZONE)  # a Monday; 1,500 days stay in 2026


def _quiet() -> None:
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))


def build(url: str, policy: Policy, events: int, workdir: Path) -> tuple[Engine, int, datetime]:
    """A database holding the example county and one dispute with ``events`` events: a
    daily check each morning and a note each evening."""
    engine = make_engine(url)
    migrate(engine)
    load_county(engine)
    dispute = report_dispute(
        engine=engine,
        policy=policy,
        now=REPORTED,
        actor=Actor(person="wang"),
        dispute=NewDispute(
            unit="33010101", risk="high", category="邻里纠纷", title="长期纠纷", at=REPORTED
        ),
    )
    path, at = workdir / "events.jsonl", REPORTED
    with path.open("w", encoding="utf-8") as out:
        for number in range(events - 1):
            at = REPORTED + timedelta(days=number // 2, hours=1 + 8 * (number % 2))
            kind = "check" if number % 2 == 0 else "note"
            line: dict[str, Any] = {"dispute": dispute, "kind": kind, "at": at.isoformat()}
            if kind == "note":
                line["data"] = {"text": f"第{number // 2}天：双方情绪平稳"}
            out.write(json.dumps(line, ensure_ascii=False) + "\n")
    import_events(engine=engine, policy=policy, now=at, actor=OPERATOR, path=path, zone=ZONE)
    return engine, dispute, at + timedelta(hours=1)


def timed(work: Callable[[], object], runs: int) -> tuple[float, float]:
    work()
    took = []
    for _ in range(runs):
        began = time.perf_counter()
        work()
        took.append((time.perf_counter() - began) * 1000)
    took.sort()
    return statistics.median(took), took[max(0, round(0.95 * len(took)) - 1)]


def measure(url: str, name: str, args: argparse.Namespace, workdir: Path) -> None:
    policy = load_policy()
    engine, dispute, now = build(url, policy, args.events, workdir)
    site = Site(engine, policy, now)
    wang = site.signed_in("wang")

    def page(path: str) -> Callable[[], object]:
        def get() -> object:
            answer = wang.client.get(path)
            assert answer.status_code == 200, answer.text
            return answer

        return get

    def replayed() -> object:
        with reading(engine) as session:
            row = dispute_in_scope(session, None, dispute)
            past = history(session, dispute)
        return evaluate(initial_state(row, past), past, policy=policy, now=now)

    def from_fold() -> object:
        return explain_view(engine=engine, dispute_id=dispute, policy=policy, now=now, zone=ZONE)

    rows = [
        ("dispute page, latest 50 events (`/disputes/ID`)", page(f"/disputes/{dispute}")),
        ("dispute page, every event (`/disputes/ID?all=1`)", page(f"/disputes/{dispute}?all=1")),
        ("dispute JSON, every event (`/api/v1/disputes/ID`)", page(f"/api/v1/disputes/{dispute}")),
        ("explanation from the stored fold (`explain_view`)", from_fold),
        ("explanation by replaying the history", replayed),
    ]
    for label, work in rows:
        p50, p95 = timed(work, args.runs)
        print(f"| {name} | {label} | {p50:.1f} ms | {p95:.1f} ms |", flush=True)
    engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=3000)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--postgres", help="a PostgreSQL server URL to run on as well")
    args = parser.parse_args()
    _quiet()
    print(f"<!-- one dispute of {args.events:,} events; {args.runs} runs a row -->")
    print("| database | request | p50 | p95 |")
    print("|---|---|---:|---:|")
    with tempfile.TemporaryDirectory(prefix="fengqiao-bench-") as scratch:
        workdir = Path(scratch)
        measure(f"sqlite:///{workdir / 'long.db'}", "SQLite", args, workdir)
        if args.postgres:
            url = fresh_postgres(args.postgres, "fengqiao_bench_long")
            try:
                measure(url, "PostgreSQL", args, workdir)
            finally:
                drop_postgres(url)


if __name__ == "__main__":
    main()
