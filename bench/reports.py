"""The reports: a county's monthly circular (10,000 disputes in the year), a province-sized
unit's (1,000,000), and the Excel of 200,000 disputes behind a report's figures.

    .venv/bin/python bench/reports.py [--postgres URL] [--no-sqlite] [--province N]

The data. A year of disputes, 1 January to 30 November 2026, reported evenly over it at
the villages of one county (or of a province-sized unit: one top unit over 200 townships
of 50 villages), each with a history of the usual shapes: 84 % resolved within ten days
and closed by a stable return visit ten days later; 6 % escalated to the township and
resolved there; 3 % referred to a court; 3 % withdrawn; 3 % relapsing at the visit and
resolved again; 1 % still open, mediated (the seeds' county resolved 3,556 of 3,586). The
rows are written straight (COPY on PostgreSQL), as the engine writes a dispute's row and its
events, not through it (the report reads only those, and a million disputes through the
recording service would take an hour); a live dispute gets what the sweep would have
recorded by then, and its row and stored fold as the real evaluation leaves them. The report
then made is of November, in a process of its own, from the rows as they stand (none stored
before).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from models.values import NO_DEADLINE  # noqa: E402

ZONE = ZoneInfo("Asia/Shanghai")
START = datetime(2026, 1, 1, 8, tzinfo=ZONE)
END = datetime(2026, 12, 1, tzinfo=ZONE)
NOW = datetime(2026, 12, 1, 9, tzinfo=ZONE)
CATEGORIES = ["neighbour", "marriage_family", "housing_land", "labour", "contract", "damages"]
METHODS = ["people"] * 8 + ["administrative", "judicial"]


def _org(townships: int, villages: int) -> str:
    """An org file: one county over ``townships`` of ``villages`` each."""
    lines = ["units:", '  - {code: "C", name: 测试县, level: county}']
    for t in range(townships):
        lines.append(f'  - {{code: "T{t:03d}", name: 第{t}镇, level: township, parent: "C"}}')
        for v in range(villages):
            code = f"V{t:03d}{v:03d}"
            lines.append(
                f'  - {{code: "{code}", name: 第{t}镇{v}村, level: village, parent: "T{t:03d}"}}'
            )
    lines.append("people:")
    lines.append('  - {id: chief, name: 主任, role: supervisor, unit: "C"}')
    return "\n".join(lines) + "\n"


def _histories(count: int, townships: int, villages: int, seed: int = 14) -> Iterator[Any]:
    """(dispute row, its events) for ``count`` disputes over the year."""
    rng = random.Random(seed)
    span = (END - START).total_seconds()
    for number in range(1, count + 1):
        t, v = rng.randrange(townships), rng.randrange(villages)
        village, township = f"V{t:03d}{v:03d}", f"T{t:03d}"
        at = START + timedelta(seconds=span * (number - 1) / count)
        risk = rng.choice(["low", "low", "medium", "high"])
        events: list[tuple[str, datetime, dict[str, Any]]] = []
        report = {"risk": risk, "category": rng.choice(CATEGORIES), "title": f"纠纷{number}"}
        events.append(("report", at, report))
        shape, level, status = rng.random(), "village", "closed"
        day = timedelta(days=1)
        if shape < 0.84:
            settled = at + day * rng.uniform(0.5, 9)
            events += [("mediate", at + day * 0.3, {"method": "people"})]
            events += [("resolve", settled, {"method": rng.choice(METHODS), "agreement": "oral"})]
            events += [("visit", settled + day * 9.5, {"outcome": "stable"})]
        elif shape < 0.90:
            events += [("escalate", at + day * 3, {"rule": "village-high-unresolved"})]
            settled = at + day * rng.uniform(4, 12)
            events += [("resolve", settled, {"method": "administrative", "agreement": "written"})]
            events += [("visit", settled + day * 9, {"outcome": "stable"})]
            level = "township"
        elif shape < 0.93:
            events += [("refer", at + day * 2, {"to": "court", "body": "某区人民法院"})]
            status = "referred"
        elif shape < 0.96:
            events += [("withdraw", at + day * 1.5, {})]
            status = "withdrawn"
        elif shape < 0.99:
            first = at + day * 2
            events += [("resolve", first, {"method": "people", "agreement": "oral"})]
            events += [("visit", first + day * 8, {"outcome": "relapsed"})]
            events += [("resolve", first + day * 12, {"method": "judicial", "agreement": "oral"})]
            events += [("visit", first + day * 21, {"outcome": "stable"})]
        else:
            events += [("mediate", at + day * 0.5, {"method": "people"})]
            status = "mediating"
        events = [e for e in events if e[1] < NOW]
        if events[-1][0] in ("resolve",):
            status = "resolved"
        elif any(e[0] == "visit" and e[2].get("outcome") == "stable" for e in events):
            status = "closed"
        elif status == "closed":  # its history not ended by now
            status = "mediating" if events[-1][0] != "resolve" else "resolved"
        risk_now = "medium" if any(e[2].get("outcome") == "relapsed" for e in events) else risk
        row = {
            "id": number,
            "category": report["category"],
            "title": report["title"],
            "risk": risk_now,
            "status": status,
            "level": level,
            "unit_code": township if level == "township" else village,
            "reported_unit": village,
            "village_code": village,
            "township_code": township,
            "county_code": "C",
            "people_involved": 1,
            "parties": [],
            "reported_at": at,
            "level_since": at,
            "paused": False,
            "supervised": False,
            "last_seq": len(events),
            "rules_version": "bench",
            "risk_rank": {"high": 0, "medium": 1, "low": 2}[risk_now],
            "record": {},
            "attention_at": NO_DEADLINE,
            "supervision_deadline": None,
            "fold": None,
        }
        yield row, events


def _swept(item: Any, policy: Any) -> Any:
    """A live dispute as the engine leaves it at ``NOW``: what the rules made due recorded
    as its events (the sweep's), its row as they leave it, and the fold stored after."""
    from types import MappingProxyType

    from models.lifecycle import DisputeState, Event
    from models.values import EventKind, Risk, UnitPath
    from rules.evaluate import evaluate

    row, events = item
    path = UnitPath(row["village_code"], row["township_code"], "C")
    initial = DisputeState.reported(
        path=path, risk=Risk(events[0][2]["risk"]), at=row["reported_at"]
    )

    def history() -> list[Event]:
        return [
            Event(kind=EventKind(kind), at=at, data=MappingProxyType(data), seq=seq)
            for seq, (kind, at, data) in enumerate(events, start=1)
        ]

    made = evaluate(initial, history(), policy=policy, now=NOW).decisions
    events = [*events, *((d.kind, d.effective_at, dict(d.as_event().data)) for d in made)]
    evaluation = evaluate(initial, history(), policy=policy, now=NOW)
    state = evaluation.state
    row = {
        **row,
        "status": state.status.value,
        "risk": state.risk.value,
        "level": state.level.value,
        "unit_code": state.unit,
        "level_since": state.level_since,
        "supervised": state.supervised,
        "supervision_deadline": state.supervision_deadline,
        "last_seq": len(events),
        "fold": evaluation.folded(seq=len(events)),
        "rules_version": policy.version,
    }
    return row, events


def generate(url: str, count: int, townships: int, villages: int, workdir: Path) -> None:
    """A fresh database at ``url`` with the org and ``count`` disputes of the year."""
    from fengqiao.logs import configure_logging
    from models.tables import Dispute, DisputeEvent
    from models.values import OPERATOR
    from rules.policy import load_policy
    from workflows.db import make_engine, migrate, transaction
    from workflows.driver import insert_rows
    from workflows.reorganising import load_org

    configure_logging(fmt="json", level="warning")
    engine = make_engine(url)
    migrate(engine)
    org = workdir / "org.yaml"
    org.write_text(_org(townships, villages), encoding="utf-8")
    load_org(engine=engine, policy=load_policy(), now=START, actor=OPERATOR, path=org)
    disputes, events = Dispute.__table__, DisputeEvent.__table__  # type: ignore[attr-defined]
    batch: list[tuple[dict[str, Any], list[tuple[str, datetime, dict[str, Any]]]]] = []

    def flush() -> None:
        with transaction(engine) as session:
            insert_rows(session, disputes, (row for row, _ in batch))
            insert_rows(
                session,
                events,
                (
                    {
                        "dispute_id": row["id"],
                        "seq": seq,
                        "kind": kind,
                        "at": at,
                        "recorded_at": at,
                        "actor": None,
                        "data": data,
                        "rules_version": row["rules_version"],
                    }
                    for row, history in batch
                    for seq, (kind, at, data) in enumerate(history, start=1)
                ),
            )
        batch.clear()

    policy = load_policy()
    for item in _histories(count, townships, villages):
        if item[0]["status"] in ("reported", "mediating", "resolved", "referred"):
            item = _swept(item, policy)
        batch.append(item)
        if len(batch) >= 20_000:
            flush()
    if batch:
        flush()
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.exec_driver_sql("ANALYZE")
    engine.dispose()


def measure(url: str, excel_rows: int, workdir: Path) -> dict[str, Any]:
    """November's circular of the top unit, made from the rows; then its Excel, and an Excel
    with ``excel_rows`` disputes behind its figures."""
    from fengqiao.logs import configure_logging
    from rules.policy import load_policy
    from rules.reporting import period_named
    from workflows.db import make_engine, reading
    from workflows.reports import make_report, write_report_file

    configure_logging(fmt="json", level="warning")
    engine = make_engine(url)
    policy = load_policy()
    period = period_named("month", "2026-11", policy.zone)
    started = time.perf_counter()
    with reading(engine) as session:
        content = make_report(
            session, policy=policy, name="monthly", unit="C", period=period, now=NOW
        )
    made = time.perf_counter() - started
    started = time.perf_counter()
    write_report_file(content, "xlsx", workdir / "circular.xlsx")
    excel = time.perf_counter() - started
    behind = content["disputes"]
    many = dict(
        content, disputes=[dict(behind[i % len(behind)], id=i + 1) for i in range(excel_rows)]
    )
    started = time.perf_counter()
    write_report_file(many, "xlsx", workdir / "many.xlsx")
    excel_many = time.perf_counter() - started
    totals = content["totals"]
    return {
        "made": made,
        "excel": excel,
        "excel_many": excel_many,
        "disputes": len(behind),
        "said": f"screened {totals['screened']:,}, resolved {totals['resolved']:,}, "
        f"open {totals['open']:,}, overdue {totals['overdue']:,}",
    }


def _in_process(*args: str) -> dict[str, Any]:
    command = [sys.executable, __file__, *args]
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    figures: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--county", type=int, default=10_000)
    parser.add_argument("--province", type=int, default=1_000_000)
    parser.add_argument("--excel-rows", type=int, default=200_000)
    parser.add_argument(
        "--postgres", help="also measure on this PostgreSQL server (and the province)"
    )
    parser.add_argument("--no-sqlite", action="store_true")
    parser.add_argument("--run", help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--size", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--dir", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.run:
        started = time.perf_counter()
        if args.run == "generate":
            townships, villages = (20, 20) if args.size <= 100_000 else (200, 50)
            generate(args.url, args.size, townships, villages, args.dir)
            figures: dict[str, Any] = {"seconds": time.perf_counter() - started}
        else:
            figures = measure(args.url, args.size, args.dir)
        peaks = (
            resource.getrusage(who).ru_maxrss
            for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)
        )
        figures["peak_mb"] = max(peaks) / 1024  # a large report's workers are processes too
        print(json.dumps(figures))
        return
    from bench.generate import fresh_postgres
    from models.sealing import Keyring
    from workflows.keys import KEY_FILE_ENV, save_keyring

    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        save_keyring(workdir / "data.key", Keyring.generate(), create=True)
        os.environ[KEY_FILE_ENV] = str(workdir / "data.key")
        targets = []
        if not args.no_sqlite:
            targets.append(("sqlite", "county", args.county, f"sqlite:///{workdir / 'c.db'}"))
        if args.postgres:
            for size, count in (("county", args.county), ("province", args.province)):
                url = fresh_postgres(args.postgres, f"bench_reports_{size}")
                targets.append(("postgresql", size, count, url))
        heads = ("database", "size", "disputes", "load s", "report s", "peak MB", "excel s")
        print("{:<11} {:<9} {:>10} {:>7} {:>9} {:>8} {:>8}".format(*heads), "excel 200k s  figures")
        for label, size, count, url in targets:
            loaded = _in_process(
                "--run", "generate", "--url", url, "--size", str(count), "--dir", tmp
            )
            figures = _in_process(
                "--run", "measure", "--url", url, "--size", str(args.excel_rows), "--dir", tmp
            )
            print(
                f"{label:<11} {size:<9} {count:>10,} {loaded['seconds']:>7.0f} "
                f"{figures['made']:>9.2f} {figures['peak_mb']:>8.0f} {figures['excel']:>8.2f} "
                f"{figures['excel_many']:>13.1f}  {figures['disputes']:,} behind; "
                f"{figures['said']}",
                flush=True,
            )


if __name__ == "__main__":
    main()
