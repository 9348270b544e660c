"""``fengqiao report`` as a township supervisor runs it: this week's report in the terminal,
as JSON, in Excel and in Word, the county's circular, the list of those stored; the figures agree in every format and
with the disputes behind them, stored or made again."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import docx
import openpyxl
import pytest

from tests.support.cli import Cli
from tests.support.fonts import require_cjk_font

WEEK = ("--week", "2026-W45")
AFTER = {"FENGQIAO_NOW": "2026-11-09T10:00+08:00"}


def _county_week(county: Cli) -> None:
    """Three disputes of week 45 in the example county: one resolved, one referred, one
    neglected (escalated by the rules); then the sweep of Monday 9 November."""
    steps = [
        ("2026-11-03T09:00+08:00", "dispute", "new", "--unit", "33010101", "--risk", "low",
         "--category", "劳资纠纷", "--title", "欠薪"),
        ("2026-11-05T09:00+08:00", "dispute", "event", "1", "resolve", "--data",
         '{"method": "people", "agreement": "oral"}'),
        ("2026-11-04T09:00+08:00", "dispute", "new", "--unit", "33010102", "--risk", "medium",
         "--category", "合同", "--title", "货款"),
        ("2026-11-06T09:00+08:00", "dispute", "event", "2", "refer", "--data",
         '{"to": "court", "body": "某区人民法院"}'),
        ("2026-11-02T09:00+08:00", "dispute", "new", "--unit", "3301010101", "--risk", "high",
         "--category", "邻里", "--title", "宅基地边界"),
    ]  # fmt: skip
    for now, *args in steps:
        done = county(*args, env={"FENGQIAO_NOW": now})
        assert done.code == 0, done.err


def _json(county: Cli, *args: str, env: dict[str, str] = AFTER) -> dict[str, Any]:
    done = county("report", *args, "--format", "json", env=env)
    assert done.code == 0, done.err
    content: dict[str, Any] = json.loads(done.out)
    return content


def _text_totals(out: str) -> list[str]:
    line = next(line for line in out.splitlines() if line.startswith("合计"))
    return line.split()[1:]


def test_this_weeks_report_agrees_in_the_terminal_json_excel_and_word(
    county: Cli, tmp_path: Path
) -> None:
    require_cjk_font()
    _county_week(county)
    made = _json(county, "weekly", "--unit", "330101", *WEEK)  # before any sweep
    assert made["stored"] is False
    assert county("sweep", env=AFTER).code == 0
    report = _json(county, "weekly", "--unit", "330101", *WEEK)
    assert report["stored"] is True
    assert {k: v for k, v in report.items() if k not in ("stored", "made_at")} == {
        k: v for k, v in made.items() if k not in ("stored", "made_at")
    }
    totals = report["totals"]
    assert (totals["screened"], totals["resolved"], totals["escalated"]) == (3, 1, 1)
    assert report["period"] == {
        "start": "2026-11-02T00:00:00+08:00",
        "end": "2026-11-09T00:00:00+08:00",
        "label": "2026-W45",
        "first_day": "2026-11-02",
        "last_day": "2026-11-08",
    }
    assert [u["unit"] for u in report["units"]] == ["33010101", "33010102", "330101"]
    # every figure is the count of the disputes behind it
    for figure in ("screened", "resolved", "open", "overdue", "referred"):
        assert totals[figure] == sum(figure in d["figures"] for d in report["disputes"])

    text = county("report", "weekly", "--unit", "330101", *WEEK, env=AFTER)
    assert text.code == 0, text.err
    assert text.out.startswith("东溪镇 周研判报告 2026-W45 (2026-11-02 – 2026-11-08)")
    assert _text_totals(text.out)[:4] == ["3", "1", "33.3%", str(totals["open"])]

    xlsx = tmp_path / "week.xlsx"
    done = county("report", "weekly", "--unit", "330101", *WEEK, "--format", "xlsx",
                  "--out", str(xlsx), env=AFTER)  # fmt: skip
    assert done.code == 0, done.err
    rows = [
        r for r in openpyxl.load_workbook(xlsx, read_only=True)["汇总"].iter_rows(values_only=True)
    ]
    header = next(r for r in rows if r[0] == "单位")
    total = next(r for r in rows if r[0] == "合计")
    cell = dict(zip(header, total, strict=False))
    assert (cell["排查数"], cell["化解数"], cell["上交"]) == (3, 1, 1)
    assert cell["化解率"] == pytest.approx(totals["resolution_rate"])

    word = tmp_path / "week.docx"
    done = county("report", "weekly", "--unit", "330101", *WEEK, "--format", "docx",
                  "--out", str(word), env=AFTER)  # fmt: skip
    assert done.code == 0, done.err
    paragraphs = [p.text for p in docx.Document(str(word)).paragraphs]
    assert paragraphs[0] == "东溪镇2026年第45周矛盾纠纷研判报告"
    assert any("本周共排查矛盾纠纷3件，化解1件，化解率33.3%" in p for p in paragraphs)

    listed = county("report", "list", env=AFTER)  # the reports the sweep stored
    assert listed.code == 0, listed.err
    lines = listed.out.splitlines()
    assert lines[0].split()[:4] == ["report", "period", "unit", "name"]
    assert any(re.match(r"weekly\s+2026-W45\s+330101\s+东溪镇\s+3\s+1\s+33.3%", x) for x in lines)


def test_the_countys_monthly_circular_in_word_from_the_offices_own_template(
    county: Cli, tmp_path: Path
) -> None:
    require_cjk_font()
    _county_week(county)
    template = tmp_path / "ours.docx"
    document = docx.Document()
    document.add_paragraph("{{ unit_name }}督查通报（{{ period_label }}）")
    document.add_paragraph("{{ summary }}")
    document.save(str(template))
    out = tmp_path / "circular.docx"
    env = {"FENGQIAO_NOW": "2026-12-01T10:00+08:00"}
    done = county("report", "monthly", "--unit", "330100", "--month", "2026-11", "--format",
                  "docx", "--out", str(out), "--template", str(template), env=env)  # fmt: skip
    assert done.code == 0, done.err
    paragraphs = [p.text for p in docx.Document(str(out)).paragraphs]
    assert paragraphs[0] == "枫桥县督查通报（2026-11）"
    assert paragraphs[1].startswith("本月共排查矛盾纠纷3件，化解1件")


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (("weekly",), "--unit is required: the unit reported on"),
        (
            ("weekly", "--unit", "330101", "--week", "2026-45"),
            "week '2026-45': write it as an ISO week, such as 2026-W10",
        ),
        (
            ("weekly", "--unit", "330101", "--month", "2026-10"),
            "report 'weekly' is weekly: --month does not apply to it",
        ),
        (
            ("daily", "--unit", "330101"),
            "unknown report 'daily'; the rule file has: monthly, weekly",
        ),
        (("weekly", "--unit", "999"), "unknown unit '999'"),
        (
            ("weekly", "--unit", "330101", "--format", "xlsx"),
            "--format xlsx writes a file: give --out FILE",
        ),
        (("weekly", "--unit", "330101", "--by", "wang"), "mediator"),
    ],
)
def test_a_bad_report_request_is_refused_in_one_line_with_exit_2(
    county: Cli, args: tuple[str, ...], said: str
) -> None:
    done = county("report", *args, env=AFTER)
    assert done.code == 2
    assert said in done.err
    assert len(done.err.strip().splitlines()) == 1


def test_the_filing_board_names_the_villages_behind_and_refuses_a_village(county: Cli) -> None:
    _county_week(county)
    board = county("filing", "--unit", "330101", "--week", "2026-W45", env=AFTER)
    assert board.code == 0, board.err
    lines = board.out.splitlines()
    assert lines[0].startswith("东溪镇 填报完整性 2026-W45 (2026-11-02 – 2026-11-08)")
    # the neglected high-risk dispute missed its check at 上林村, then the township's
    assert any(line.startswith("上林村") and line.split()[4] == "1" for line in lines)
    assert any(
        "宅基地边界 (上林村): 日排查 due 2026-11-04T00:00:00+08:00, missed" in x for x in lines
    )
    as_json = json.loads(
        county(
            "filing", "--unit", "330101", "--week", "2026-W45", "--format", "json", env=AFTER
        ).out
    )
    assert as_json["totals"]["missed"] >= 1
    village = county("filing", "--unit", "33010101", env=AFTER)
    assert village.code == 2
    assert village.err.strip() == (
        "fengqiao: unit '33010101' is a village: the filing board is of a township or a county"
    )
