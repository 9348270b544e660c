"""The ledger (台账) in the browser: an office's sheet uploaded, checked by a dry run and
previewed (its rows, or every problem), brought in on confirmation; a unit's ledger
downloaded as an Excel workbook, within the person's scope, masked as they see parties."""

from __future__ import annotations

import base64
import html
import io
import re
import tempfile
import zipfile
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

import pytest
from openpyxl import load_workbook
from sqlmodel import col, select

from fengqiao.web.ledger import LARGEST, LARGEST_UNPACKED
from models.tables import Dispute, LedgerExport
from rules.policy import Policy
from tests.support.db import EXAMPLE_ORG, dump
from tests.support.ledgers import ROWS, office_csv, office_workbook
from tests.support.web import Site, Visitor, site_on
from workflows.db import reading

SHANGHAI = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 5, 11, 9, 0, tzinfo=SHANGHAI)  # after every date of the ledger
NUMBERS = [str(row[0]) for row in ROWS]


@pytest.fixture
def site(tmp_path: Path, policy: Policy, monkeypatch: pytest.MonkeyPatch) -> Site:
    # The uploads and downloads are written to temporary files: here, to see them deleted.
    files = tmp_path / "temporary"
    files.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(files))
    return site_on(tmp_path, policy, EXAMPLE_ORG, NOW)


def _leftovers() -> list[Path]:
    """The ledger's temporary files left behind (other threads of the test process, a
    Prefect harness say, may make files of their own there meanwhile)."""
    return sorted(Path(tempfile.gettempdir()).glob("fq-ledger-*"))


def _upload(visitor: Visitor, path: Path, *, csrf: bool = True) -> Any:
    with path.open("rb") as file:
        return visitor.post("/ledger/import", csrf=csrf, files={"file": (path.name, file.read())})


def _hidden(page: str, name: str) -> str:
    found = re.search(rf'<input type="hidden" name="{name}" value="([^"]*)">', page)
    assert found, name
    return html.unescape(found.group(1))


def _confirm(visitor: Visitor, preview: str, *, csrf: bool = True) -> Any:
    form = preview.split('action="/ledger/import/confirm"', 1)[1]
    fields = {name: _hidden(form, name) for name in ("name", "data")}
    return visitor.post("/ledger/import/confirm", fields, csrf=csrf)


def _problems(page: str) -> list[str]:
    listed = page.split('<ul class="problems" id="ledger-problems">', 1)[1].split("</ul>", 1)[0]
    return [html.unescape(line) for line in re.findall(r"<li>(.*?)</li>", listed, re.S)]


def _disputes(site: Site) -> list[Dispute]:
    with reading(site.engine) as session:
        return list(session.exec(select(Dispute).order_by(col(Dispute.id))).all())


def _cells(content: bytes) -> list[list[object]]:
    sheet = load_workbook(io.BytesIO(content)).active
    assert sheet is not None
    return [list(row) for row in sheet.iter_rows(min_row=3, values_only=True)]


def test_a_good_ledger_is_previewed_row_by_row_and_nothing_is_recorded(
    site: Site, tmp_path: Path
) -> None:
    li = site.signed_in("li")
    before = dump(site.engine)
    preview = _upload(li, office_workbook(tmp_path / "东溪镇台账.xlsx"))
    assert preview.status_code == 200, preview.text
    page = preview.text
    assert "东溪镇台账.xlsx：共 4 行，将导入 4 件纠纷，补记办理经过 5 条" in page
    assert "导入后：已结案 1 件、调解中 1 件、已化解 1 件、已撤回 1 件" in page
    rows = re.findall(r'<tr data-row="台账!(\d+)">.*?<td class="number">([^<]+)<', page, re.S)
    assert rows == [(str(n), number) for n, number in zip((5, 6, 7, 8), NUMBERS, strict=True)]
    statuses = re.findall(r'<td data-label="导入后状态">([^<]+)</td>', page)
    assert statuses == ["已结案", "调解中", "已化解", "已撤回"]  # as the dry run counts them
    first = page.split('data-row="台账!5"', 1)[1].split("</tr>", 1)[0]
    for shown in ("2026-03-02", "上林村", "邻里", "低风险", "已结案", "人民调解", "2026-03-05 化解",
                  "回访稳定"):  # fmt: skip
        assert shown in first, shown
    # the parties are left out: their phones and ID numbers (and names) are never shown
    for private in ("13800138000", "0571-88776655", "057188776655", "13912345678", "张三"):
        assert private not in page
    assert 'action="/ledger/import/confirm"' in page and "确认导入 4 件纠纷" in page
    assert dump(site.engine) == before
    assert _leftovers() == []
    assert not re.search(r"\sstyle=|\son[a-z]+=|<script(?![^>]*\bsrc=)", page)


def test_a_csv_ledger_in_gbk_is_previewed_too(site: Site, tmp_path: Path) -> None:
    ledger = office_csv(tmp_path / "台账.csv", ROWS).read_bytes()
    # named as an old browser names it, with its folder: the problems and summary do not
    preview = site.signed_in("li").post(
        "/ledger/import", files={"file": ("C:\\fakepath\\台账.csv", ledger)}
    )
    assert preview.status_code == 200
    assert "台账.csv：共 4 行，将导入 4 件纠纷" in preview.text and "fakepath" not in preview.text
    english = site.signed_in("li")
    english.get("/ledger?lang=en")
    said = _upload(english, office_csv(tmp_path / "台账.csv", ROWS)).text
    assert "台账.csv: 4 rows; would bring in 4 disputes with 5 events" in said
    assert "Afterwards: 1 closed, 1 mediating, 1 resolved, 1 withdrawn" in said


def test_a_bad_ledger_shows_every_problem_and_records_nothing(site: Site, tmp_path: Path) -> None:
    bad = [list(row) for row in ROWS]
    bad[0][1] = "2026-13-01"  # no such month
    bad[1][3] = "吵架"  # no such category
    bad[1][5] = "12345"  # not a phone
    bad[2][7] = "很高"  # not a risk
    bad[3][0] = bad[2][0]  # a number twice
    li = site.signed_in("li")
    before = dump(site.engine)
    refused = _upload(li, office_csv(tmp_path / "台账.csv", bad))
    assert refused.status_code == 400
    assert _problems(refused.text) == [
        "台账.csv:台账!B3: no such day: 2026-13-01",
        "台账.csv:台账!D4: unknown category '吵架'; known: 婚姻家庭、邻里、房屋宅基地、合同、生产经营、"
        "损害赔偿、山林土地、征地拆迁、环境污染、劳动争议、消费、医疗、道路交通事故、物业、其它",
        "台账.csv:台账!F4: parties[0].phone: not a phone number (a mobile such as 13800138000, "
        "or a landline such as 0575-87654321)",
        "台账.csv:台账!H5: not a risk; give 高/中/低 or 红/橙/黄",
        "台账.csv:台账!A6: number '东溪调〔2026〕3号' is also at 台账!A5",
    ]
    assert "台账.csv 有 5 处问题，未导入任何内容" in refused.text
    assert "/ledger/import/confirm" not in refused.text
    assert tempfile.gettempdir() not in refused.text  # problems name the file as uploaded
    not_a_workbook = li.post("/ledger/import", files={"file": ("坏.xlsx", b"not a zip")})
    assert not_a_workbook.status_code == 400
    assert "坏.xlsx: not an Excel workbook (.xlsx)" in html.unescape(not_a_workbook.text)
    other_kind = li.post("/ledger/import", files={"file": ("台账.pdf", b"%PDF")})
    assert other_kind.status_code == 400 and "Excel workbook (.xlsx) or a CSV file" in (
        other_kind.text
    )
    nothing = li.post("/ledger/import", {})
    assert nothing.status_code == 400 and "请选择要导入的台账文件" in nothing.text
    assert dump(site.engine) == before
    assert _leftovers() == []


def test_confirming_brings_the_ledger_in_and_a_second_time_brings_nothing_new(
    site: Site, tmp_path: Path
) -> None:
    li = site.signed_in("li")
    preview = _upload(li, office_workbook(tmp_path / "台账.xlsx")).text
    done = _confirm(li, preview)
    assert done.status_code == 303
    assert done.headers["location"] == "/ledger?rows=4&recorded=4&already=0&events=5"
    assert "已导入 4 件纠纷，补记办理经过 5 条" in li.get(done.headers["location"]).text
    disputes = _disputes(site)
    assert [(d.record["ledger_no"], d.status) for d in disputes] == [
        (NUMBERS[0], "closed"),
        (NUMBERS[1], "mediating"),
        (NUMBERS[2], "resolved"),
        (NUMBERS[3], "withdrawn"),
    ]
    before = dump(site.engine)
    again = _upload(li, office_workbook(tmp_path / "台账.xlsx")).text
    assert "将导入 0 件纠纷" in again and "；4 行此前已导入，不再导入" in again
    assert "/ledger/import/confirm" not in again and "都已导入过" in again
    twice = _confirm(li, preview)  # the first preview's confirmation, posted again
    assert twice.headers["location"] == "/ledger?rows=4&recorded=0&already=4&events=0"
    assert dump(site.engine) == before
    assert _leftovers() == []


def test_a_confirmation_is_checked_again_as_it_is_brought_in(site: Site, tmp_path: Path) -> None:
    li = site.signed_in("li")
    before = dump(site.engine)
    garbled = li.post("/ledger/import/confirm", {"name": "台账.xlsx", "data": "不是base64"})
    assert garbled.status_code == 400 and "upload it again" in garbled.text
    bad = [list(row) for row in ROWS]
    bad[0][7] = "很高"
    forged = office_csv(tmp_path / "台账.csv", bad).read_bytes()
    refused = li.post(
        "/ledger/import/confirm",
        {"name": "台账.csv", "data": base64.urlsafe_b64encode(forged).decode()},
    )
    assert refused.status_code == 400
    assert _problems(refused.text) == ["台账.csv:台账!H3: not a risk; give 高/中/低 or 红/橙/黄"]
    assert dump(site.engine) == before


def test_a_mediator_brings_in_what_their_role_records_and_is_told_what_it_does_not(
    site: Site, tmp_path: Path
) -> None:
    wang = site.signed_in("wang")  # the mediator of 上林村: no closing, no withdrawal
    before = dump(site.engine)
    withdrawn = _upload(wang, office_workbook(tmp_path / "台账.xlsx", [ROWS[0], ROWS[3]]))
    assert withdrawn.status_code == 400
    assert _problems(withdrawn.text) == [
        "台账.xlsx:台账!P6: a mediator of a village may not withdraw: it is for supervisors of "
        "a township or county"
    ]
    elsewhere = _upload(wang, office_workbook(tmp_path / "台账.xlsx", [ROWS[1]]))
    assert _problems(elsewhere.text) == [
        "台账.xlsx:台账!I5: no village or grid '下林村' in your part of the org"
    ]
    assert dump(site.engine) == before
    own = _upload(wang, office_workbook(tmp_path / "台账.xlsx", [ROWS[0], ROWS[2]])).text
    assert "将导入 2 件纠纷，补记办理经过 3 条" in own
    assert _confirm(wang, own).status_code == 303
    assert [d.status for d in _disputes(site)] == ["closed", "resolved"]


def test_an_administrator_gives_the_ledger_out_but_brings_none_in(
    site: Site, tmp_path: Path
) -> None:
    admin = site.signed_in("admin")
    page = admin.get("/ledger").text
    assert 'action="/ledger/export.xlsx"' in page and 'action="/ledger/import"' not in page
    refused = _upload(admin, office_workbook(tmp_path / "台账.xlsx"))
    assert refused.status_code == 403 and "may not report" in refused.text
    assert _disputes(site) == []


def test_the_ledger_downloads_as_a_workbook_parties_masked_for_an_administrator_only(
    site: Site, tmp_path: Path
) -> None:
    li = site.signed_in("li")
    _confirm(li, _upload(li, office_workbook(tmp_path / "台账.xlsx")).text)
    mine = li.get("/ledger/export.xlsx")  # their own unit, 东溪镇
    assert mine.status_code == 200
    assert mine.headers["content-type"] == (
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    assert mine.headers["content-disposition"] == (
        'attachment; filename="ledger-330101-2026-05-11.xlsx"; '
        f"filename*=UTF-8''{quote('台账-330101-2026-05-11.xlsx')}"
    )
    rows = _cells(mine.content)
    assert [row[0] for row in rows[1:]] == NUMBERS
    assert rows[1][:6] == [
        NUMBERS[0],
        datetime(2026, 3, 2),  # noqa: DTZ001 - an Excel date
        "来访",
        "邻里",
        "张三（申请人）、李四",
        "13800138000、057188776655",
    ]
    admin = site.signed_in("admin")
    closed = admin.get(
        "/ledger/export.xlsx?unit=330101&from=2026-03-01&to=2026-03-31&status=closed"
    )
    assert closed.status_code == 200
    (row,) = _cells(closed.content)[1:]
    assert row[4:6] == ["张**（申请人）、李**", "138****8000、057*****6655"]
    with reading(site.engine) as session:
        logged = session.exec(select(LedgerExport).order_by(col(LedgerExport.id))).all()
    assert [(e.actor, e.unit, e.start, e.end, e.status, e.rows, e.masked) for e in logged] == [
        ("li", "330101", None, None, None, 4, False),
        ("admin", "330101", "2026-03-01", "2026-03-31", "closed", 1, True),
    ]
    assert _leftovers() == []  # each written to a temporary file, deleted once sent


def test_a_unit_outside_ones_scope_is_not_found_and_bad_input_is_one_line(site: Site) -> None:
    li, wang = site.signed_in("li"), site.signed_in("wang")
    assert li.get("/ledger/export.xlsx?unit=330100").status_code == 404  # the county above
    assert wang.get("/ledger/export.xlsx?unit=33010102").status_code == 404  # another village
    assert li.get("/ledger/export.xlsx?unit=999").status_code == 404
    assert wang.get("/ledger/export.xlsx?unit=3301010101").status_code == 200  # one of its grids
    day = li.get("/ledger/export.xlsx?from=2026-13-01")
    assert day.status_code == 400 and "from: not a day (YYYY-MM-DD): &#39;2026-13-01&#39;" in (
        day.text
    )
    status = li.get("/ledger/export.xlsx?status=moon")
    assert status.status_code == 400 and "unknown status" in status.text
    backwards = li.get("/ledger/export.xlsx?from=2026-05-01&to=2026-04-01")
    assert backwards.status_code == 400
    assert _leftovers() == []


def test_the_posts_need_the_forms_csrf_secret(site: Site, tmp_path: Path) -> None:
    li = site.signed_in("li")
    ledger = office_workbook(tmp_path / "台账.xlsx")
    assert _upload(li, ledger, csrf=False).status_code == 403
    preview = _upload(li, ledger).text
    before = dump(site.engine)
    refused = _confirm(li, preview, csrf=False)
    assert refused.status_code == 403 and "reload the page" in refused.text
    assert dump(site.engine) == before


def test_an_upload_larger_than_the_limit_is_refused_before_it_is_read(
    site: Site, tmp_path: Path
) -> None:
    li = site.signed_in("li")
    before = dump(site.engine)
    huge = li.post("/ledger/import", files={"file": ("台账.xlsx", b"x" * (LARGEST + 2**17))})
    assert huge.status_code == 413  # its Content-Length says so: not read at all
    assert (
        f"台账文件超过 {LARGEST // 2**20} MB" in huge.text
        and 'action="/ledger/import"' in huge.text
    )
    just = li.post("/ledger/import", files={"file": ("台账.xlsx", b"x" * (LARGEST + 1))})
    assert just.status_code == 413  # one byte over

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it comes
        yield b'--b\r\nContent-Disposition: form-data; name="file"; filename="t.csv"\r\n\r\n'
        for _ in range(LARGEST // 2**20 + 2):
            yield b"x" * 2**20

    streamed = li.client.post(
        "/ledger/import",
        content=chunks(),
        headers={"Content-Type": "multipart/form-data; boundary=b"},
    )
    assert streamed.status_code == 413
    bomb = io.BytesIO()  # small, but unpacking to more than the reader should hold
    with (
        zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as book,
        book.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as sheet,
    ):
        for _ in range(LARGEST_UNPACKED // 2**20 + 1):
            sheet.write(bytes(2**20))
    unpacked = li.post("/ledger/import", files={"file": ("台账.xlsx", bomb.getvalue())})
    over = LARGEST_UNPACKED // 2**20 + 1
    assert unpacked.status_code == 400 and f"台账.xlsx: unpacks to {over} MB" in unpacked.text
    assert dump(site.engine) == before
    assert _leftovers() == []


def test_the_ledger_page_and_the_export_form_are_where_people_look(site: Site) -> None:
    li = site.signed_in("li")
    page = li.get("/ledger").text
    assert 'href="/ledger" aria-current="page"' in page
    assert 'action="/ledger/import"' in page and 'enctype="multipart/form-data"' in page
    assert '<option value="330101" selected>东溪镇</option>' in page
    queue = li.get("/queue?unit=33010101").text
    assert 'action="/ledger/export.xlsx"' in queue
    assert '<option value="33010101" selected>　上林村</option>' in queue.split("ledger-export")[1]
    wang = site.signed_in("wang").get("/ledger").text
    assert 'href="/ledger"' in wang and 'action="/ledger/import"' in wang
    assert '<option value="3301010101">　　上林村第一网格</option>' in wang
    assert "Bring a ledger in" in li.get("/ledger?lang=en").text
    assert li.get("/ledger/import").headers["location"] == "/ledger"
