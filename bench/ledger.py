"""An office's ledger in and out: `ledger import` of a sheet of 10,000 rows (a township's
years), the same sheet again (nothing new), then `ledger export` of a county of 200,000
disputes. Each step runs in a process of its own, so that its peak memory is its own.
Prints a table; nothing is asserted.

    .venv/bin/python bench/ledger.py [--rows 10000] [--export-rows 200000]
        [--postgres URL] [--no-sqlite]

The sheets are written the way offices write them (tests/support/ledgers.py: a title,
a two-row header, dates in every form); their rows cycle through closed, resolved,
open and withdrawn disputes of the example county's villages and grids.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

NOW = "2026-11-30T09:00:00+08:00"
_UNITS = ("上林村", "下林村", "上林村第一网格", "上林村第二网格", "下林村第一网格")
_CATEGORIES = ("邻里纠纷", "婚姻家庭", "劳资纠纷", "土地承包", "物业纠纷", "损害赔偿")
_SOURCES = ("来访", "群众申请", "主动排查", "来电")
_DATES = ("{:%Y-%m-%d}", "{:%Y/%-m/%-d}", "{:%Y年%-m月%-d日}", "{:%Y.%-m.%-d}")


def write_sheet(path: Path, rows: int, *, prefix: str = "东溪调") -> None:
    """A ledger of ``rows`` disputes, the way tests/support/ledgers.py builds one, written
    with XlsxWriter in constant memory."""
    import xlsxwriter

    from tests.support.ledgers import HEADER, TITLE, UNDER

    book = xlsxwriter.Workbook(str(path), {"constant_memory": True})
    sheet = book.add_worksheet("台账")
    sheet.merge_range(0, 0, 0, len(HEADER) - 1, TITLE)
    sheet.write_string(1, 0, "填报单位：东溪镇司法所")
    for column, name in enumerate(HEADER):
        if column in UNDER:
            continue
        sheet.merge_range(2, column, 3, column, name)
    sheet.merge_range(2, 4, 2, 5, "当事人")
    sheet.write_string(3, 4, UNDER[4])
    sheet.write_string(3, 5, UNDER[5])
    start = date(2024, 1, 2)
    for n in range(rows):
        day = start + timedelta(days=n % 1000)
        kind = n % 4  # closed, resolved, open, withdrawn
        later = [day + timedelta(days=d) for d in (3, 18)]
        values = [
            f"{prefix}〔{day.year}〕{n + 1}号",
            _DATES[n % 4].format(day),
            _SOURCES[n % len(_SOURCES)],
            _CATEGORIES[n % len(_CATEGORIES)],
            f"张{n}（申请人）、李{n}",
            f"138{n % 100_000_000:08d}",
            f"第{n}号纠纷的简要情况：双方因琐事发生争执",
            "高中低"[n % 3],
            _UNITS[n % len(_UNITS)],
            "王调解" if kind < 2 else "",
            "人民调解" if kind < 3 else "",
            ("调解成功", "调解成功", "调解中", "撤回")[kind],
            f"{(n % 50) * 100}" if kind < 2 else "",
            f"{later[0]:%Y-%m-%d}" if kind < 2 else "",
            "稳定" if kind == 0 else "",
            f"{later[1]:%Y-%m-%d}" if kind in (0, 3) else "",
        ]
        for column, value in enumerate(values):
            if value:
                sheet.write_string(4 + n, column, value)
    book.close()


def _engine(url: str) -> object:
    from fengqiao.logs import configure_logging
    from tests.support.db import load_county
    from workflows.db import make_engine, migrate

    configure_logging(fmt="json", level="warning")
    engine = make_engine(url)
    migrate(engine)
    from sqlalchemy import text

    with engine.connect() as connection:
        loaded = connection.execute(text("SELECT count(*) FROM units")).scalar_one()
    if not loaded:
        load_county(engine)
    return engine


def run_import(url: str, path: Path) -> dict[str, object]:
    from datetime import datetime

    from models.values import Actor
    from rules.policy import load_policy
    from workflows.ledger import import_ledger

    engine = _engine(url)
    began = time.perf_counter()
    summary = import_ledger(
        engine=engine,  # type: ignore[arg-type]
        policy=load_policy(),
        now=datetime.fromisoformat(NOW),
        actor=Actor("li"),
        path=path,
    )
    return {"seconds": time.perf_counter() - began, "said": str(summary).split(": ", 1)[1]}


def run_export(url: str, path: Path) -> dict[str, object]:
    from datetime import datetime

    from models.values import OPERATOR
    from rules.policy import load_policy
    from workflows.ledger import export_ledger

    engine = _engine(url)
    began = time.perf_counter()
    summary = export_ledger(
        engine=engine,  # type: ignore[arg-type]
        policy=load_policy(),
        now=datetime.fromisoformat(NOW),
        actor=OPERATOR,
        unit="330100",
        out=path,
    )
    return {"seconds": time.perf_counter() - began, "said": f"{summary.rows:,} rows"}


def _in_process(step: str, url: str, path: Path) -> dict[str, object]:
    command = [sys.executable, __file__, "--run", step, "--url", url, "--file", str(path)]
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    figures: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--export-rows", type=int, default=200_000)
    parser.add_argument("--postgres", help="also measure on this PostgreSQL server")
    parser.add_argument("--no-sqlite", action="store_true")
    parser.add_argument("--run", help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--file", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.run:
        step = run_import if args.run == "import" else run_export
        figures = step(args.url, args.file)
        peaks = (
            resource.getrusage(who).ru_maxrss
            for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)
        )
        figures["peak_mb"] = max(peaks) / 1024  # the export's writer is a process of its own
        print(json.dumps(figures))
        return
    from bench.generate import fresh_postgres

    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        from models.sealing import Keyring
        from workflows.keys import KEY_FILE_ENV, save_keyring

        save_keyring(workdir / "data.key", Keyring.generate(), create=True)
        os.environ[KEY_FILE_ENV] = str(workdir / "data.key")  # the steps' processes seal with it
        small, big = workdir / "ledger.xlsx", workdir / "county.xlsx"
        write_sheet(small, args.rows)
        write_sheet(big, args.export_rows, prefix="全县")
        print(f"sheets: {args.rows:,} rows ({small.stat().st_size / 1e6:.1f} MB), "
              f"{args.export_rows:,} rows ({big.stat().st_size / 1e6:.1f} MB)\n")  # fmt: skip
        print(f"{'database':<11} {'step':<34} {'seconds':>8} {'peak MB':>8}  result")
        targets = [] if args.no_sqlite else [("sqlite", f"sqlite:///{workdir / 'ledger.db'}")]
        if args.postgres:
            targets.append(("postgresql", fresh_postgres(args.postgres, "bench_ledger")))
        for label, url in targets:
            steps = (
                ("import", small, f"import {args.rows:,} rows"),
                ("import", small, "import the same sheet again"),
                ("import", big, f"import {args.export_rows:,} rows (to export)"),
                ("export", workdir / "out.xlsx", "export the county"),
            )
            for step, path, said in steps:
                figures = _in_process(step, url, path)
                print(
                    f"{label:<11} {said:<34} {figures['seconds']:>8.1f} "
                    f"{figures['peak_mb']:>8.0f}  {figures['said']}",
                    flush=True,
                )


if __name__ == "__main__":
    main()
