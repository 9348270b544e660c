"""An office's ledger (台账) brought in: every row a dispute with its history, all or
nothing, every bad cell named, nothing new the second time, clocks started at the import."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine
from sqlmodel import col, select

from models.tables import Dispute, Escalation, LedgerExport
from models.values import Actor
from rules.policy import Policy
from tests.support.db import dump, load_county
from tests.support.ledgers import ROWS, office_csv, office_workbook
from tests.support.recording import sweep
from workflows.db import make_engine, migrate, reading
from workflows.errors import NotFound
from workflows.ledger import COLUMNS, Problems, export_ledger, import_ledger
from workflows.recording import NewDispute, report_dispute
from workflows.views import dispute_view

SHANGHAI = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 5, 11, 9, 0, tzinfo=SHANGHAI)
LI = Actor("li")  # the township's supervisor, at 东溪镇 (330101)


def _bring_in(engine: Engine, policy: Policy, path: Path, **options: object) -> object:
    return import_ledger(engine=engine, policy=policy, now=NOW, actor=LI, path=path, **options)  # type: ignore[arg-type]


def test_an_office_ledger_becomes_disputes_with_their_histories_and_retrying_adds_nothing(
    org_engine: Engine, policy: Policy, tmp_path: Path
) -> None:
    ledger = office_workbook(tmp_path / "台账.xlsx")
    summary = _bring_in(org_engine, policy, ledger)
    assert str(summary) == (
        f"{ledger}: 4 rows; brought in 4 disputes (1 closed, 1 mediating, 1 resolved, "
        "1 withdrawn) with 5 events of their histories"
    )
    with reading(org_engine) as session:
        disputes = session.exec(select(Dispute).order_by(col(Dispute.id))).all()
    first = dispute_view(engine=org_engine, dispute_id=disputes[0].id or 0, now=NOW, zone=SHANGHAI)
    assert (first["status"], first["category"], first["source"]) == ("closed", "neighbour", "visit")
    assert first["reported_unit"] == "33010101" and first["reported_at"].startswith("2026-03-02")
    assert first["parties"] == [
        {"name": "张三", "role": "applicant", "phone": "13800138000"},
        {"name": "李四", "phone": "057188776655"},
    ]
    assert first["agreement"] == {"form": "written", "amount": "1200", "terms": None}
    assert (first["ledger_no"], first["mediators"], first["method"]) == (
        "东溪调〔2026〕1号",
        "王调解",
        "people",
    )
    assert first["visits"]["last"] == "stable" and first["closed_at"].startswith("2026-03-21")
    assert [d.reported_unit for d in disputes] == ["33010101", "33010102", "3301010101", "33010101"]
    assert disputes[2].record["amount"] == "12000"  # 1.2万
    before = dump(org_engine)
    again = _bring_in(org_engine, policy, ledger)
    assert str(again).endswith("brought in 0 disputes with 0 events of their histories; "
                               "4 rows brought in before, not again")  # fmt: skip
    assert dump(org_engine) == before


def test_an_open_imported_dispute_is_not_escalated_for_the_time_before_the_import(
    org_engine: Engine, policy: Policy, tmp_path: Path
) -> None:
    _bring_in(org_engine, policy, office_workbook(tmp_path / "台账.xlsx"))
    sweep(org_engine, policy, now=NOW)
    with reading(org_engine) as session:
        open_one = session.exec(select(Dispute).where(Dispute.status == "mediating")).one()
        assert session.exec(select(Escalation)).all() == []
    assert open_one.reported_at.astimezone(SHANGHAI).date().isoformat() == "2026-03-10"
    assert open_one.level_since == NOW  # its clocks start at the import
    assert open_one.attention_at > NOW  # nothing of it overdue


def test_every_bad_cell_is_named_and_nothing_is_recorded_until_the_ledger_is_good(
    org_engine: Engine, policy: Policy, tmp_path: Path
) -> None:
    bad = [list(row) for row in ROWS]
    bad[0][1] = "2026-13-01"  # no such month
    bad[1][3] = "吵架"  # no such category
    bad[1][5] = "12345"  # not a phone
    bad[2][7] = "很高"  # not a risk
    bad[3][0] = bad[2][0]  # a number twice
    bad[3][8] = "不存在村"
    ledger = office_csv(tmp_path / "台账.csv", bad)  # GBK, as Chinese Excel saves it
    before = dump(org_engine)
    with pytest.raises(Problems) as refused:
        _bring_in(org_engine, policy, ledger)
    assert refused.value.lines == [
        f"{ledger}:台账!B3: no such day: 2026-13-01",
        f"{ledger}:台账!D4: unknown category '吵架'; known: 婚姻家庭、邻里、房屋宅基地、合同、生产经营、"
        "损害赔偿、山林土地、征地拆迁、环境污染、劳动争议、消费、医疗、道路交通事故、物业、其它",
        f"{ledger}:台账!F4: parties[0].phone: not a phone number (a mobile such as 13800138000, "
        "or a landline such as 0575-87654321)",
        f"{ledger}:台账!H5: not a risk; give 高/中/低 or 红/橙/黄",
        f"{ledger}:台账!A6: number '东溪调〔2026〕3号' is also at 台账!A5",
    ]
    assert dump(org_engine) == before
    fixed = [list(row) for row in ROWS]
    fixed[3][8] = "不存在村"
    with pytest.raises(Problems) as unknown_unit:
        _bring_in(org_engine, policy, office_csv(ledger, fixed))
    assert unknown_unit.value.lines == [
        f"{ledger}:台账!I6: no village or grid '不存在村' in your part of the org"
    ]
    summary = _bring_in(org_engine, policy, office_csv(ledger, ROWS), dry_run=True)
    assert str(summary).endswith("; nothing recorded (--dry-run)")
    assert dump(org_engine) == before
    assert "brought in 4 disputes" in str(_bring_in(org_engine, policy, ledger))


def test_a_ledger_is_brought_in_only_within_the_persons_part_of_the_org(
    org_engine: Engine, policy: Policy, tmp_path: Path
) -> None:
    ledger = office_workbook(tmp_path / "台账.xlsx", ROWS[:1])
    with pytest.raises(Problems, match=r"台账!I5: no village or grid '上林村' in your part"):
        import_ledger(engine=org_engine, policy=policy, now=NOW, actor=Actor("zhao"), path=ledger)
    with pytest.raises(NotFound, match="unknown person 'nobody'"):
        import_ledger(engine=org_engine, policy=policy, now=NOW, actor=Actor("nobody"), path=ledger)


def _cells(path: Path) -> list[list[object]]:
    from openpyxl import load_workbook

    sheet = load_workbook(path).active
    assert sheet is not None
    return [list(row) for row in sheet.iter_rows(min_row=3, values_only=True)]


def test_the_ledger_exported_reads_back_into_an_empty_database_as_the_same_ledger(
    org_engine: Engine, policy: Policy, tmp_path: Path
) -> None:
    _bring_in(org_engine, policy, office_workbook(tmp_path / "台账.xlsx"))
    report_dispute(
        engine=org_engine,
        policy=policy,
        now=NOW,
        actor=Actor("wang"),
        dispute=NewDispute(
            unit="3301010102",
            risk="medium",
            category="物业纠纷",
            title="电梯维修费分摊",
            description="三户不肯分摊电梯维修费",
            source="online",
            at=NOW,
            people_involved=3,
            parties=[
                {"name": "郑十", "role": "被申请人", "id_number": "11010519491231002X"},
                {"name": "冯十一", "phone": "13700001111", "address": "上林村12号"},
            ],
        ),
    )
    first = tmp_path / "first.xlsx"
    summary = export_ledger(
        engine=org_engine, policy=policy, now=NOW, actor=LI, unit="330101", out=first
    )
    assert str(summary) == f"{first}: 5 disputes of 330101"
    exported = _cells(first)
    assert exported[0][:19] == list(COLUMNS[:19])
    assert exported[1][:19] == [
        "东溪调〔2026〕1号", datetime(2026, 3, 2), "来访", "邻里", "张三（申请人）、李四",  # noqa: DTZ001
        "13800138000、057188776655", "两户之间排水沟堵塞，雨天积水", "低", "上林村", "村级",
        "王调解", "人民调解", "调解成功", 1200, "已回访1次（稳定）", None,
        datetime(2026, 3, 21), "否", "否",  # noqa: DTZ001
    ]  # fmt: skip
    assert exported[5][4:6] == ["郑十（被申请人）、冯十一", "、13700001111"]

    empty = make_engine(f"sqlite:///{tmp_path / 'empty.db'}")
    migrate(empty)
    load_county(empty)
    assert "brought in 5 disputes" in str(_bring_in(empty, policy, first))
    second = tmp_path / "second.xlsx"
    export_ledger(engine=empty, policy=policy, now=NOW, actor=LI, unit="330101", out=second)
    assert _cells(second) == exported


def test_an_export_by_someone_who_does_not_handle_disputes_masks_the_parties_and_is_logged(
    org_engine: Engine, policy: Policy, tmp_path: Path
) -> None:
    _bring_in(org_engine, policy, office_workbook(tmp_path / "台账.xlsx"))
    out = tmp_path / "masked.xlsx"
    summary = export_ledger(
        engine=org_engine,
        policy=policy,
        now=NOW,
        actor=Actor("admin"),
        unit="330101",
        out=out,
        start=date(2026, 3, 1),
        end=date(2026, 3, 31),
        status="closed",
    )
    assert str(summary) == f"{out}: 1 disputes of 330101; parties masked"
    (row,) = _cells(out)[1:]
    assert row[4:6] == ["张**（申请人）、李**", "138****8000、057*****6655"]
    with pytest.raises(NotFound):  # a mediator of a grid cannot export the township
        export_ledger(
            engine=org_engine, policy=policy, now=NOW, actor=Actor("zhao"), unit="330101", out=out
        )
    with reading(org_engine) as session:
        logged = session.exec(select(LedgerExport)).all()
    assert [(e.actor, e.unit, e.start, e.end, e.status, e.rows, e.masked) for e in logged] == [
        ("admin", "330101", "2026-03-01", "2026-03-31", "closed", 1, True)
    ]


def test_a_large_ledger_is_written_by_a_process_of_its_own_with_the_same_cells(
    org_engine: Engine, policy: Policy, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from workflows.ledger import exporting

    _bring_in(org_engine, policy, office_workbook(tmp_path / "台账.xlsx"))
    here = tmp_path / "here.xlsx"
    export_ledger(engine=org_engine, policy=policy, now=NOW, actor=LI, unit="330101", out=here)
    monkeypatch.setattr(exporting, "_BATCH", 2)  # "large": more than a batch of rows
    apart = tmp_path / "apart.xlsx"
    summary = export_ledger(
        engine=org_engine, policy=policy, now=NOW, actor=LI, unit="330101", out=apart
    )
    assert summary.rows == 4 and _cells(apart) == _cells(here)
    assert not list(tmp_path.glob("*.rows"))


def test_every_row_refused_is_named_at_once_units_and_events_alike(
    org_engine: Engine, policy: Policy, tmp_path: Path
) -> None:
    rows = [list(row) for row in ROWS]
    rows[2][15] = "2026-04-10"  # resolved, then closed without a return visit
    ledger = office_workbook(tmp_path / "台账.xlsx", rows)
    before = dump(org_engine)
    wang = Actor("wang", via="web")  # a village's mediator, signed in: their role is checked
    with pytest.raises(Problems) as refused:
        import_ledger(engine=org_engine, policy=policy, now=NOW, actor=wang, path=ledger)
    lines = [line.removeprefix(f"{ledger}:") for line in refused.value.lines]
    assert [line.split(": ", 1)[0] for line in lines] == ["台账!I6", "台账!P7", "台账!P8"]
    assert lines[0] == "台账!I6: no village or grid '下林村' in your part of the org"
    assert "may not close" in lines[1] and "may not withdraw" in lines[2]
    assert dump(org_engine) == before
