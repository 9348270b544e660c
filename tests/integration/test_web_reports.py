"""The reports in the web app: the list of one's subtree, a report's page with its tables,
each figure linking to the disputes behind it, its charts and its files; scope as
everywhere (another unit's report is 404, a mediator's role reads none)."""

from __future__ import annotations

import html
import io
import re
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from openpyxl import load_workbook

from rules.policy import Policy
from tests.support.db import EXAMPLE_ORG
from tests.support.fonts import require_cjk_font
from tests.support.recording import record, report
from tests.support.web import Site, site_on

SHANGHAI = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 11, 9, 10, 0, tzinfo=SHANGHAI)
PAGE = "/reports/weekly/330101/2026-W45"


@pytest.fixture
def site(tmp_path: Path, policy: Policy) -> Site:
    site = site_on(tmp_path, policy, EXAMPLE_ORG, NOW)
    at = datetime(2026, 11, 3, 9, tzinfo=SHANGHAI)
    first = report(site.engine, policy, risk="low", at=at, unit="33010101", title="宅基地边界")
    record(
        site.engine,
        policy,
        first,
        "resolve",
        at.replace(day=5),
        {"method": "people", "agreement": "oral"},
    )
    report(
        site.engine,
        policy,
        risk="medium",
        at=at,
        unit="33010102",
        title="欠薪",
        category="劳资纠纷",
    )
    for person in ("li", "chen", "wang"):
        site.account(person)
    return site


def _cell(page: str, unit: str, figure: str) -> str:
    row = page.split(f'data-unit="{unit}"', 1)[1].split("</tr>", 1)[0]
    cell = row.split(f'data-figure="{figure}">', 1)[1].split("</td>", 1)[0]
    return html.unescape(re.sub(r"<[^>]+>", "", cell)).strip()


def test_a_township_supervisor_reads_the_weeks_report_with_its_figures_by_village(
    site: Site,
) -> None:
    li = site.signed_in("li")
    page = li.get(PAGE)
    assert page.status_code == 200
    text = page.text
    assert "东溪镇" in text and "2026-W45" in text
    assert (_cell(text, "33010101", "screened"), _cell(text, "33010101", "resolved")) == ("1", "1")
    assert _cell(text, "33010102", "resolution_rate") == "0.0%"
    assert _cell(text, "total", "resolution_rate") == "50.0%"
    assert "made now from the event log" not in text  # in Chinese by default
    assert f'href="{PAGE}/disputes?figure=screened&amp;row=33010101"' in text


def test_each_figure_opens_the_list_of_the_disputes_behind_it(site: Site) -> None:
    li = site.signed_in("li")
    behind = li.get(f"{PAGE}/disputes?figure=screened")
    assert behind.status_code == 200
    listed = re.findall(r'<a href="/disputes/(\d+)">', behind.text.split('id="behind-list"', 1)[1])
    assert sorted(listed) == ["1", "2"]
    resolved = li.get(f"{PAGE}/disputes?figure=resolved&row=33010101")
    assert "宅基地边界" in resolved.text and "欠薪" not in resolved.text
    assert li.get(f"{PAGE}/disputes?figure=gossip").status_code == 400


def test_the_reports_files_download_and_agree_with_the_page(site: Site) -> None:
    require_cjk_font()
    li = site.signed_in("li")
    workbook = li.get(f"{PAGE}/file.xlsx")
    assert workbook.status_code == 200
    assert (
        workbook.headers["content-disposition"]
        == 'attachment; filename="330101-weekly-2026-W45.xlsx"'
    )
    values = [
        c
        for row in load_workbook(io.BytesIO(workbook.content))
        .worksheets[0]
        .iter_rows(values_only=True)
        for c in row
    ]
    assert "上林村" in values
    word = li.get(f"{PAGE}/file.docx")
    assert word.status_code == 200 and word.content[:2] == b"PK"


def test_the_reports_page_lists_those_of_ones_subtree_and_opens_the_last_one(site: Site) -> None:
    chen = site.signed_in("chen")
    listing = chen.get("/reports")
    assert listing.status_code == 200
    assert 'name="unit"' in listing.text
    latest = chen.get("/reports/open?name=weekly&unit=330101&period=")
    assert latest.headers["location"] == "/reports/weekly/330101/latest"
    assert chen.get("/reports/weekly/330101/latest").headers["location"] == PAGE


def test_another_units_report_is_not_found_and_a_mediator_reads_none(site: Site) -> None:
    li = site.signed_in("li")
    assert li.get("/reports/monthly/330100/2026-10").status_code == 404
    wang = site.signed_in("wang")
    assert wang.get(PAGE).status_code == 403
    assert wang.get("/reports").status_code == 403


def test_a_badly_named_period_or_report_is_refused_in_one_line(site: Site) -> None:
    li = site.signed_in("li")
    bad_week = li.get("/reports/weekly/330101/2026-45")
    assert bad_week.status_code == 400
    assert "write it as an ISO week, such as 2026-W10" in html.unescape(bad_week.text)
    assert li.get("/reports/daily/330101/2026-W45").status_code == 400


def test_the_filing_board_shows_which_villages_filed_and_who_is_behind(site: Site) -> None:
    at = datetime(2026, 11, 3, 9, tzinfo=SHANGHAI)
    late = report(site.engine, site.policy, risk="medium", at=at, unit="33010102", title="灌溉水渠")
    record(site.engine, site.policy, late, "check", at.replace(day=5, hour=10))  # due the 4th
    li = site.signed_in("li")
    board = li.get("/filing?unit=330101&week=2026-W45")
    assert board.status_code == 200
    text = board.text
    assert _cell(text, "33010102", "late") == "1"
    assert "灌溉水渠" in text.split('id="filing-items"', 1)[1]
    assert li.get("/filing?unit=330100&week=2026-W45").status_code == 404
    assert li.get("/filing?unit=330101&week=W45").status_code == 400
    yesterday = li.get("/filing")  # the person's township, yesterday
    assert yesterday.status_code == 200 and "2026-11-08" in yesterday.text
