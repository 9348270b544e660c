"""Loading a province's organisation: `org load` of a generated file of about 100,000 units
and 200,000 people, into an empty database, then the same file again (nothing changes).
Each load runs in a process of its own, so that its peak memory is its own. Prints a
table; nothing is asserted.

    .venv/bin/python bench/org_load.py [--counties 50] [--townships 20] [--villages 99]
        [--postgres URL] [--no-sqlite]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def write_org(path: Path, *, counties: int, townships: int, villages: int) -> tuple[int, int]:
    """A province: ``counties`` × ``townships`` × ``villages``, two supervisors for each
    township and two mediators for each village, everyone with an e-mail address. Returns
    how many units and people it holds."""
    units = people = 0
    with path.open("w", encoding="utf-8") as out:
        out.write("units:\n")
        staff: list[str] = []
        for c in range(counties):
            county = f"C{c:03d}"
            out.write(f"  - {{code: {county}, name: 县{c}, level: county}}\n")
            units += 1
            for t in range(townships):
                township = f"{county}T{t:02d}"
                out.write(
                    f"  - {{code: {township}, name: 镇{c}-{t}, level: township, "
                    f"parent: {county}}}\n"
                )
                units += 1
                staff += [f"{township}:supervisor:{n}" for n in range(2)]
                for v in range(villages):
                    village = f"{township}V{v:02d}"
                    out.write(
                        f"  - {{code: {village}, name: 村{c}-{t}-{v}, level: village, "
                        f"parent: {township}}}\n"
                    )
                    units += 1
                    staff += [f"{village}:mediator:{n}" for n in range(2)]
        out.write("people:\n")
        for entry in staff:
            unit, role, n = entry.split(":")
            person = f"{unit}P{n}"
            out.write(
                f"  - {{id: {person}, name: 人员{person}, role: {role}, unit: {unit}, "
                f"contacts: {{email: {person.lower()}@example.org}}}}\n"
            )
            people += 1
    return units, people


def load_once(url: str, path: Path) -> dict[str, object]:
    """In this process: load ``path`` into ``url``; the time, the summary, the peak memory."""
    from datetime import UTC, datetime

    from fengqiao.logs import configure_logging
    from models.values import OPERATOR
    from rules.policy import load_policy
    from workflows.db import make_engine, migrate
    from workflows.reorganising import load_org

    configure_logging(fmt="json", level="warning")
    engine = make_engine(url)
    migrate(engine)
    began = time.perf_counter()
    summary = load_org(
        engine=engine,
        policy=load_policy(),
        now=datetime(2026, 11, 23, 1, 30, tzinfo=UTC),
        actor=OPERATOR,
        path=path,
    )
    seconds = time.perf_counter() - began
    engine.dispose()
    return {
        "seconds": seconds,
        "summary": summary.__dict__,
        "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def _in_process(url: str, path: Path) -> dict[str, object]:
    command = [sys.executable, __file__, "--run", url, "--file", str(path)]
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    figures: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--counties", type=int, default=50)
    parser.add_argument("--townships", type=int, default=20)
    parser.add_argument("--villages", type=int, default=99)
    parser.add_argument("--postgres", help="also measure on this PostgreSQL server")
    parser.add_argument("--no-sqlite", action="store_true")
    parser.add_argument("--run", help=argparse.SUPPRESS)
    parser.add_argument("--file", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.run:
        print(json.dumps(load_once(args.run, args.file)))
        return
    from bench.generate import fresh_postgres

    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        path = workdir / "org.yaml"
        units, people = write_org(
            path, counties=args.counties, townships=args.townships, villages=args.villages
        )
        size = path.stat().st_size / 1e6
        print(f"org file: {units:,} units, {people:,} people, {size:.1f} MB\n")
        print(f"{'database':<11} {'load':<22} {'seconds':>8} {'peak MB':>8}  summary")
        targets = [] if args.no_sqlite else [("sqlite", f"sqlite:///{workdir / 'org.db'}")]
        if args.postgres:
            targets.append(("postgresql", fresh_postgres(args.postgres, "bench_org")))
        for label, url in targets:
            for load in ("into an empty database", "the same file again"):
                figures = _in_process(url, path)
                summary = ", ".join(
                    f"{k} {v:,}"
                    for k, v in figures["summary"].items()  # type: ignore[attr-defined]
                    if isinstance(v, int) and (v or k.startswith(("units", "people")))
                )
                print(
                    f"{label:<11} {load:<22} {figures['seconds']:>8.1f} "
                    f"{figures['peak_mb']:>8.0f}  {summary}",
                    flush=True,
                )


if __name__ == "__main__":
    main()
