"""Event ingestion: one transaction per event through the recording function, and a
JSON-lines file through `events import`. Prints a table; nothing is asserted.

    .venv/bin/python bench/record_events.py [--disputes 200] [--events 2000] [--postgres URL]
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.generate import fresh_postgres  # noqa: E402
from fengqiao.logs import configure_logging  # noqa: E402
from models.values import OPERATOR  # noqa: E402
from rules.policy import load_policy  # noqa: E402
from workflows.db import make_engine, migrate  # noqa: E402
from workflows.org import load_org  # noqa: E402
from workflows.recording import (  # noqa: E402
    NewDispute,
    NewEvent,
    import_events,
    record_event,
    report_dispute,
)

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
    load_org(engine=engine, actor=OPERATOR, path=ROOT / "examples" / "org.yaml")
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


def _plan(ids: list[int], events: int, seed: int) -> list[tuple[int, str, datetime]]:
    rng = random.Random(seed)
    step = timedelta(hours=1) / max(1, events // len(ids))
    return [(rng.choice(ids), rng.choice(KINDS), START + step * (i + 1)) for i in range(events)]


def bench_one_by_one(url: str, ids: list[int], plan: list[tuple[int, str, datetime]]) -> float:
    engine, policy, rng = make_engine(url), load_policy(), random.Random(1)
    began = time.perf_counter()
    for dispute_id, kind, at in plan:
        record_event(
            engine=engine,
            policy=policy,
            now=at,
            actor=OPERATOR,
            dispute_id=dispute_id,
            event=NewEvent(kind, at=at, data=_data(kind, rng)),
        )
    elapsed = time.perf_counter() - began
    engine.dispose()
    return elapsed


def bench_import(url: str, plan: list[tuple[int, str, datetime]], workdir: Path) -> float:
    rng = random.Random(1)
    path = workdir / "events.jsonl"
    with path.open("w", encoding="utf-8") as out:
        for dispute_id, kind, at in plan:
            line = {"dispute": dispute_id, "kind": kind, "at": at.isoformat()}
            if (data := _data(kind, rng)) is not None:
                line["data"] = data
            out.write(json.dumps(line, ensure_ascii=False) + "\n")
    engine, policy = make_engine(url), load_policy()
    began = time.perf_counter()
    import_events(
        engine=engine, policy=policy, now=plan[-1][2], actor=OPERATOR, path=path, zone=ZONE
    )
    elapsed = time.perf_counter() - began
    engine.dispose()
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--disputes", type=int, default=200)
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--postgres", help="also measure on this PostgreSQL server")
    args = parser.parse_args()
    configure_logging(fmt="json", level="warning")
    print(
        f"{args.events} events over {args.disputes} disputes (seeded), one machine, "
        f"{sys.platform}, Python {sys.version.split()[0]}\n"
    )
    print(f"{'database':<11} {'path':<34} {'seconds':>8} {'events/s':>9}")
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        targets = [("sqlite", lambda n: f"sqlite:///{workdir / n}.db")]
        if args.postgres:
            targets.append(("postgresql", lambda n: fresh_postgres(args.postgres, f"bench_{n}")))
        for label, url_for in targets:
            for path, run in (
                ("record_event, 1 transaction each", "one"),
                ("events import, 1 file", "import"),
            ):
                url = url_for(run)
                ids = _setup(url, args.disputes)
                plan = _plan(ids, args.events, seed=7)
                seconds = (
                    bench_one_by_one(url, ids, plan)
                    if run == "one"
                    else bench_import(url, plan, workdir)
                )
                print(f"{label:<11} {path:<34} {seconds:>8.2f} {args.events / seconds:>9.0f}")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\npeak memory {peak:.0f} MB")


if __name__ == "__main__":
    main()
