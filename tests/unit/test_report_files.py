"""The report files: the Excel workbook, the Word circular and the charts, read back.

The charts and the Word document need a CJK font (Debian: fonts-noto-cjk). Without one
those tests skip with the reason shown; with FENGQIAO_REQUIRE_BROWSER=1 (set in CI, which
installs the fonts with the browser) that is a failure instead.
"""

from __future__ import annotations

import copy
import io
import json
import os
import re
import warnings
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docx
import numpy as np
import openpyxl
import pytest
from docx.shared import Pt
from matplotlib import font_manager
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties
from matplotlib.text import Text
from PIL import Image

from workflows.reports.charts import (
    FONT_VARIABLE,
    NoCJKFont,
    cjk_font,
    rate_chart,
    rate_figure,
    trend_chart,
    trend_figure,
)
from workflows.reports.excel import write_excel
from workflows.reports.templates.make_circular import build
from workflows.reports.word import SHIPPED_TEMPLATE, write_word

FIXTURES = Path(__file__).parent.parent / "fixtures" / "reports"
_CJK = re.compile(r"[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]")


def _content(kind: str) -> dict[str, Any]:
    content: dict[str, Any] = json.loads((FIXTURES / f"{kind}.json").read_text("utf-8"))
    return content


# Read only: a test that changes a report changes a copy.
@pytest.fixture(scope="module")
def monthly() -> dict[str, Any]:
    return _content("monthly")


@pytest.fixture(scope="module")
def weekly() -> dict[str, Any]:
    return _content("weekly")


@pytest.fixture(scope="module")
def font() -> FontProperties:
    """The charts' font; the tests that draw need one."""
    try:
        return cjk_font()
    except NoCJKFont as exc:
        if os.environ.get("FENGQIAO_REQUIRE_BROWSER") == "1":
            pytest.fail(f"a CJK font is required here (FENGQIAO_REQUIRE_BROWSER=1): {exc}")
        pytest.skip(str(exc))


def _all_zero(content: dict[str, Any]) -> dict[str, Any]:
    zero = copy.deepcopy(content)
    for figures in [zero["totals"], *zero["units"]]:
        for key, value in figures.items():
            if key == "resolution_rate":
                figures[key] = None
            elif isinstance(value, int) and not isinstance(value, bool):
                figures[key] = 0
        figures["methods"] = dict.fromkeys(figures["methods"], 0)
    zero.update(categories=[], risks=[], referrals={}, named=[], listings=[], disputes=[])
    zero["ranking"] = {
        "by_rate": [
            dict(r, rank=None, resolution_rate=None) for r in content["ranking"]["by_rate"]
        ],
        "by_overdue": [dict(r, rank=1, overdue=0) for r in content["ranking"]["by_overdue"]],
    }
    return zero


# The Excel workbook


def _sheet_rows(path: Path, sheet: str) -> list[tuple[Any, ...]]:
    book = openpyxl.load_workbook(path, read_only=True)
    try:
        return [tuple(row) for row in book[sheet].iter_rows(values_only=True)]
    finally:
        book.close()


def _unit_table(rows: list[tuple[Any, ...]]) -> dict[str, tuple[Any, ...]]:
    """The summary sheet's table of sub-units, by the first cell of each row."""
    header = next(i for i, row in enumerate(rows) if row[0] == "单位")
    table = {}
    for row in rows[header + 1 :]:
        if row[0] is None:
            break
        table[row[0]] = row
    return table


def test_the_excel_file_holds_the_totals_and_a_row_per_sub_unit(
    tmp_path: Path, monthly: dict[str, Any]
) -> None:
    write_excel(monthly, tmp_path / "report.xlsx")

    rows = _sheet_rows(tmp_path / "report.xlsx", "汇总")
    assert rows[0][0] == "某县月督查通报（2026-03）"
    assert "2026-03-01 至 2026-03-31" in rows[1][0]
    header = next(row for row in rows if row[0] == "单位")
    table = _unit_table(rows)
    column = {label: i for i, label in enumerate(header) if label}
    totals = monthly["totals"]
    for key, label in (("screened", "排查数"), ("resolved", "化解数"), ("resolution_rate", "化解率"),
                       ("open", "在办"), ("overdue", "超期"), ("escalated", "上交"),
                       ("supervised", "挂牌督办"), ("supervised_missed", "督办逾期"),
                       ("visits_done", "回访"), ("visits_overdue", "回访逾期"), ("relapses", "反复"),
                       ("referred", "诉调对接")):  # fmt: skip
        assert table["合计"][column[label]] == totals[key], label
        for unit in monthly["units"]:
            name = unit["name"] + ("（本级）" if unit["own"] else "")
            assert table[name][column[label]] == unit[key], (name, label)
    assert table["合计"][column["司法调解"]] == totals["methods"]["judicial"]
    assert list(table) == ["合计", "东镇", "西镇", "南镇", "某县（本级）"]


def test_the_excel_file_keeps_the_categories_risks_and_trend(
    tmp_path: Path, monthly: dict[str, Any]
) -> None:
    write_excel(monthly, tmp_path / "report.xlsx")

    rows = _sheet_rows(tmp_path / "report.xlsx", "汇总")
    assert next(r for r in rows if r[0] == "劳动争议")[:4] == ("劳动争议", 7, 5, 3)
    assert next(r for r in rows if r[0] == "高")[:5] == ("高", 3, 2, 2, 1)
    assert next(r for r in rows if r[0] == "法院")[:2] == ("法院", 1)
    assert [r[:4] for r in rows if r[0] in ("2026-01", "2026-02", "2026-03")] == [
        ("2026-01", 10, 8, 0.8),
        ("2026-02", 6, 6, 1),
        ("2026-03", 12, 9, 0.75),
    ]


def test_the_disputes_sheet_has_a_row_per_dispute_naming_the_unit_each_figure_counts_in(
    tmp_path: Path, monthly: dict[str, Any]
) -> None:
    write_excel(monthly, tmp_path / "report.xlsx")

    header, *rows = _sheet_rows(tmp_path / "report.xlsx", "纠纷明细")
    assert len(rows) == len(monthly["disputes"])
    assert header[:6] == ("编号", "标题", "单位", "类型", "风险", "状态")
    cells = dict(zip(header, rows[1], strict=True))
    assert cells["编号"] == 41
    assert (cells["标题"], cells["单位"], cells["类型"]) == ("某公司欠薪", "某县", "劳动争议")
    assert (cells["风险"], cells["状态"]) == ("高", "调解中")
    assert cells["在办"] == cells["挂牌督办"] == cells["督办逾期"] == "某县（本级）"
    assert cells["排查"] is None and cells["化解"] is None and cells["超期"] is None
    first = dict(zip(header, rows[0], strict=True))
    assert (first["排查"], first["化解"], first["在办"]) == ("东镇", "东镇", None)


def test_the_workbook_has_native_charts_titled_in_chinese_over_the_sheet_cells(
    tmp_path: Path, monthly: dict[str, Any]
) -> None:
    write_excel(monthly, tmp_path / "report.xlsx")

    with zipfile.ZipFile(tmp_path / "report.xlsx") as package:
        rate = package.read("xl/charts/chart1.xml").decode("utf-8")
        trend = package.read("xl/charts/chart2.xml").decode("utf-8")
    # The table's header is row 4, the total row 5, the four sub-units rows 6 to 9.
    assert "各单位化解率 2026-03" in rate
    assert "<c:f>汇总!$A$6:$A$9</c:f>" in rate
    assert "<c:f>汇总!$D$6:$D$9</c:f>" in rate
    assert "<c:v>某县（本级）</c:v>" in rate
    assert "某县排查化解趋势" in trend
    assert "<c:v>排查数</c:v>" in trend and "<c:v>化解率</c:v>" in trend
    rows = _sheet_rows(tmp_path / "report.xlsx", "汇总")
    first = 1 + next(i for i, row in enumerate(rows) if row[0] == "2026-01")
    assert f"<c:f>汇总!$B${first}:$B${first + 2}</c:f>" in trend


def test_the_monthly_workbook_has_the_ranking_and_the_weekly_one_the_assessment(
    tmp_path: Path, monthly: dict[str, Any], weekly: dict[str, Any]
) -> None:
    write_excel(monthly, tmp_path / "monthly.xlsx")
    write_excel(weekly, tmp_path / "weekly.xlsx")

    assert openpyxl.load_workbook(tmp_path / "monthly.xlsx").sheetnames == [
        "汇总",
        "纠纷明细",
        "排名与通报",
    ]
    ranking = _sheet_rows(tmp_path / "monthly.xlsx", "排名与通报")
    assert (1, "东镇", 0.875) in [row[:3] for row in ranking]
    assert ("西镇", 2, 1) in [row[:3] for row in ranking]
    assert next(row for row in ranking if row[0] == 41)[1:4] == ("某公司欠薪", "某县", "黄牌")
    assert openpyxl.load_workbook(tmp_path / "weekly.xlsx").sheetnames == [
        "汇总",
        "纠纷明细",
        "研判",
    ]
    assessment = _sheet_rows(tmp_path / "weekly.xlsx", "研判")
    assert (7, "张李两家宅基地", "东村", "低", "中") in [row[:5] for row in assessment]
    assert (9, "王某讨薪", "东村", "调解中", "是") in [row[:5] for row in assessment]


def test_the_workbook_streams_disputes_from_an_iterator_into_a_stream(
    monthly: dict[str, Any],
) -> None:
    def disputes() -> Iterator[dict[str, Any]]:
        for number in range(1_000):
            yield dict(monthly["disputes"][number % 2], id=number)

    out = io.BytesIO()
    write_excel(dict(monthly, disputes=disputes()), out)

    book = openpyxl.load_workbook(io.BytesIO(out.getvalue()), read_only=True)
    sheet = book["纠纷明细"]
    assert sheet.max_row == 1_001
    assert next(sheet.iter_rows(min_row=1_001, values_only=True))[:3] == (
        999,
        "某公司欠薪",
        "某县",
    )


def test_a_workbook_that_fails_half_way_leaves_no_file(
    tmp_path: Path, monthly: dict[str, Any]
) -> None:
    broken = dict(monthly, disputes=[*monthly["disputes"], {"id": 99}])

    with pytest.raises(KeyError):
        write_excel(broken, tmp_path / "report.xlsx")

    assert list(tmp_path.iterdir()) == []


# The charts


def _texts(figure: Figure) -> list[Text]:
    return [t for t in figure.findobj(Text) if t.get_visible() and _CJK.search(t.get_text())]


def test_every_chinese_character_of_the_charts_has_a_glyph_in_the_font_it_is_drawn_with(
    font: FontProperties, monthly: dict[str, Any]
) -> None:
    for figure in (rate_figure(monthly), trend_figure(monthly)):
        FigureCanvasAgg(figure)
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # "Glyph … missing from font(s)" would fail here
            figure.canvas.draw()
        texts = _texts(figure)
        drawn = "".join(t.get_text() for t in texts)
        assert "各单位化解率" in drawn or "排查化解趋势" in drawn
        for text in texts:
            face = font_manager.get_font(font_manager.findfont(text.get_fontproperties()))
            missing = [
                ch for ch in _CJK.findall(text.get_text()) if face.get_char_index(ord(ch)) == 0
            ]
            assert not missing, (text.get_text(), face.fname)


def _drawn(text: str, font: FontProperties) -> np.ndarray[Any, Any]:
    figure = Figure(figsize=(1.2, 0.5), dpi=100)
    FigureCanvasAgg(figure)
    figure.text(0.5, 0.5, text, fontproperties=font, fontsize=20, ha="center", va="center")
    figure.canvas.draw()
    return np.asarray(figure.canvas.buffer_rgba())[..., 0].copy()


def test_the_charts_chinese_characters_are_drawn_as_distinct_glyphs_not_boxes(
    font: FontProperties, monthly: dict[str, Any]
) -> None:
    characters = sorted(
        set(_CJK.findall("".join(t.get_text() for t in _texts(rate_figure(monthly)))))
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        pictures = {ch: _drawn(ch, font) for ch in characters}
    for ch, picture in pictures.items():
        assert (picture < 128).any(), f"{ch} draws nothing"
    # A missing glyph is drawn as the same box whatever the character: all differ here.
    distinct = {picture.tobytes() for picture in pictures.values()}
    assert len(distinct) == len(characters)
    assert not np.array_equal(_drawn("东镇", font), _drawn("西镇", font))


def test_renaming_a_unit_by_one_character_changes_the_chart_picture(
    font: FontProperties, monthly: dict[str, Any]
) -> None:
    renamed = copy.deepcopy(monthly)
    renamed["units"][0]["name"] = "北镇"

    before = np.asarray(Image.open(io.BytesIO(rate_chart(monthly))).convert("L"))
    after = np.asarray(Image.open(io.BytesIO(rate_chart(renamed))).convert("L"))

    assert before.shape == after.shape
    changed = np.argwhere(before != after)
    assert len(changed) > 0
    # Only where the name is written: below the bars, in the first quarter of the width.
    assert changed[:, 0].min() > before.shape[0] * 0.8
    assert changed[:, 1].max() < before.shape[1] * 0.4


def test_the_chart_pictures_are_pngs_of_their_size_with_something_drawn(
    font: FontProperties, monthly: dict[str, Any], weekly: dict[str, Any]
) -> None:
    for png in (rate_chart(monthly), trend_chart(monthly), trend_chart(weekly)):
        picture = Image.open(io.BytesIO(png))
        assert picture.format == "PNG"
        assert picture.size == (900, 570)
        grey = np.asarray(picture.convert("L"))
        assert (grey < 200).mean() > 0.02  # bars, text and axes, not a blank page
        assert len(np.unique(grey)) > 16


def test_the_same_content_gives_the_same_chart_bytes(
    font: FontProperties, monthly: dict[str, Any]
) -> None:
    assert rate_chart(monthly) == rate_chart(copy.deepcopy(monthly))


def test_a_font_file_named_by_the_environment_is_used(
    font: FontProperties, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = str(font.get_file())
    monkeypatch.setenv(FONT_VARIABLE, path)
    assert str(cjk_font().get_file()) == path


def test_a_font_named_by_the_environment_that_is_no_font_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    not_a_font = tmp_path / "font.ttf"
    not_a_font.write_text("not a font")
    monkeypatch.setenv(FONT_VARIABLE, str(not_a_font))
    with pytest.raises(NoCJKFont, match=f"{FONT_VARIABLE}=.*font.ttf"):
        cjk_font()


def test_a_font_named_by_the_environment_without_chinese_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    latin = font_manager.findfont(FontProperties(family="DejaVu Sans"))
    monkeypatch.setenv(FONT_VARIABLE, str(latin))
    with pytest.raises(NoCJKFont, match="no Chinese characters"):
        cjk_font()


# The Word circular


def _document(out: io.BytesIO) -> Any:
    return docx.Document(io.BytesIO(out.getvalue()))


def _paragraphs(document: Any) -> list[str]:
    return [p.text for p in document.paragraphs if p.text.strip()]


@pytest.fixture(scope="module")
def monthly_docx(font: FontProperties, monthly: dict[str, Any]) -> Any:
    out = io.BytesIO()
    write_word(monthly, out)
    return _document(out)


def test_the_circular_has_the_title_the_period_in_words_and_the_figures_in_prose(
    monthly_docx: Any,
) -> None:
    paragraphs = _paragraphs(monthly_docx)
    assert paragraphs[0] == "某县2026年3月矛盾纠纷排查化解督查通报"
    assert paragraphs[1] == "（2026年3月1日至3月31日）"
    assert (
        "本月共排查矛盾纠纷12件，化解9件，化解率75.0%，在办5件，其中超期2件；上交1件；"
        "挂牌督办1件，逾期1件。"
    ) in paragraphs
    assert any(
        p.startswith("回访6件，回访逾期1件；反复1件；诉调对接1件（法院1件）") for p in paragraphs
    )
    assert paragraphs[-2:] == ["某县", "2026年4月1日"]


def test_the_circular_has_a_table_row_per_sub_unit_and_the_total(monthly_docx: Any) -> None:
    units = [[cell.text for cell in row.cells] for row in monthly_docx.tables[0].rows]
    assert units[0][:4] == ["单位", "排查", "化解", "化解率"]
    assert units[1][:6] == ["东镇", "8", "7", "87.5%", "2", "0"]
    assert units[3][:4] == ["南镇", "0", "0", "—"]
    assert units[4][0] == "某县（本级）"
    assert units[-1][:6] == ["合计", "12", "9", "75.0%", "5", "2"]
    assert len(units) == 1 + 4 + 1


def test_the_circular_ranks_names_the_units_and_lists_the_missed_listings(
    monthly_docx: Any,
) -> None:
    paragraphs = _paragraphs(monthly_docx)
    assert "三、排名情况" in paragraphs
    assert (
        "按化解率排名：1.东镇（87.5%）；2.西镇（25.0%）；南镇本月未排查纠纷，不参与排名。"
        in paragraphs
    )
    ranking = [[cell.text for cell in row.cells] for row in monthly_docx.tables[1].rows]
    assert ranking == [
        ["名次", "单位", "化解率"],
        ["1", "东镇", "87.5%"],
        ["2", "西镇", "25.0%"],
        ["—", "南镇", "—"],
    ]
    assert "以下单位存在超期或上交纠纷，予以通报：西镇（超期2件，上交1件）。" in paragraphs
    assert "1. 某公司欠薪（某县，黄牌，督办期限2026年3月20日，已逾期）" in paragraphs
    assert not any("研判" in p for p in paragraphs)


def test_the_circular_embeds_both_charts_as_pictures(monthly_docx: Any) -> None:
    shapes = list(monthly_docx.inline_shapes)
    assert len(shapes) == 2
    assert all(abs(shape.width.mm - 150) < 1 for shape in shapes)
    pictures = [
        part for part in monthly_docx.part.package.iter_parts() if part.partname.endswith(".png")
    ]
    assert len(pictures) == 2


def test_the_weekly_report_has_the_assessment_and_no_ranking(
    font: FontProperties, weekly: dict[str, Any]
) -> None:
    out = io.BytesIO()
    write_word(weekly, out)

    paragraphs = _paragraphs(_document(out))
    assert paragraphs[0] == "东镇2026年第10周矛盾纠纷研判报告"
    assert paragraphs[1] == "（2026年3月2日至3月8日）"
    assert paragraphs[2 + 1].startswith("本周共排查矛盾纠纷12件")
    assert "三、风险研判情况" in paragraphs
    assert "风险升级：张李两家宅基地（东村），低风险→中风险" in paragraphs
    assert "高风险：王某讨薪（东村，调解中，已超期）" in paragraphs
    assert not any("排名" in p or "予以通报" in p for p in paragraphs)


def test_an_all_zero_report_is_a_zero_report(font: FontProperties, monthly: dict[str, Any]) -> None:
    out = io.BytesIO()
    write_word(_all_zero(monthly), out)

    paragraphs = _paragraphs(_document(out))
    assert "本月某县未排查到矛盾纠纷，无在办、超期、上交和挂牌督办纠纷，特此零报告。" in paragraphs
    assert not any(p.startswith("回访") for p in paragraphs)
    assert "本月无存在超期或上交纠纷的单位。" in paragraphs
    assert "本月无逾期的挂牌督办纠纷。" in paragraphs


def _template(path: Path, *lines: str) -> Path:
    document = docx.Document()
    for line in lines:
        document.add_paragraph(line).runs[0].font.size = Pt(12)
    document.save(str(path))
    return path


def test_a_template_given_by_the_office_is_used_instead(
    font: FontProperties, tmp_path: Path, monthly: dict[str, Any]
) -> None:
    template = _template(
        tmp_path / "ours.docx",
        "东风县综治中心 {{ title }}",
        "{% for name in named %}通报：{{ name }}{% endfor %}{% for _ in range(0) %}{% endfor %}",
        "{{ rate_chart }}",
    )
    out = tmp_path / "out.docx"

    write_word(monthly, out, template=template)

    document = docx.Document(str(out))
    assert _paragraphs(document) == [
        "东风县综治中心 某县2026年3月矛盾纠纷排查化解督查通报",
        "通报：西镇（超期2件，上交1件）",
    ]
    assert len(document.inline_shapes) == 1


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ("{{ title }", "unexpected '}'"),
        ("{% if show_named %}open", "endif"),
        ("{{ issuer }}", "blanks no report fills: issuer"),
        ("{% for u in units %}{{ u.nmae }}{% endfor %}", "no attribute 'nmae'"),
        ("{{ title.__class__ }}", "unsafe"),
    ],
)
def test_a_template_that_does_not_render_is_refused_naming_it(
    tmp_path: Path, monthly: dict[str, Any], line: str, problem: str
) -> None:
    template = _template(tmp_path / "broken.docx", "{{ unit_name }}", line)

    with pytest.raises(ValueError, match=r"broken\.docx") as raised:
        write_word(monthly, tmp_path / "out.docx", template=template)

    message = str(raised.value)
    assert "\n" not in message
    assert problem in message
    assert not (tmp_path / "out.docx").exists()


def test_a_template_that_is_no_word_document_is_refused_naming_it(
    tmp_path: Path, monthly: dict[str, Any]
) -> None:
    template = tmp_path / "notes.docx"
    template.write_text("not a document")

    with pytest.raises(ValueError, match=r"notes\.docx: not a Word document"):
        write_word(monthly, tmp_path / "out.docx", template=template)


def test_the_shipped_template_is_the_one_its_script_builds(tmp_path: Path) -> None:
    build(tmp_path / "circular.docx")

    assert (tmp_path / "circular.docx").read_bytes() == SHIPPED_TEMPLATE.read_bytes()
