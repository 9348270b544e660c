"""Builds ``circular.docx`` beside this file: the Word template of the reports' circular,
laid out as an official document (公文), its blanks docxtpl's Jinja tags. The variables it
uses are listed in ``workflows/reports/word.py``. Run it again after changing it:

    .venv/bin/python workflows/reports/templates/make_circular.py

An office that wants its own layout edits the .docx in Word instead (and keeps the tags).
"""

from __future__ import annotations

import io
import sys
import zipfile
from datetime import datetime
from pathlib import Path

from docx import Document
from docx.document import Document as DocumentObject
from docx.enum.style import WD_STYLE_TYPE
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_LINE_SPACING
from docx.oxml.ns import qn
from docx.shared import Cm, Pt
from docx.styles.style import ParagraphStyle
from docx.table import Table

OUT = Path(__file__).with_name("circular.docx")

# The fonts of a government document: Word substitutes a similar one where they are missing.
BODY, TITLE, HEADING, TABLE = "仿宋_GB2312", "方正小标宋简体", "黑体", "宋体"
UNIT_COLUMNS = (
    ("单位", "name"),
    ("排查", "screened"),
    ("化解", "resolved"),
    ("化解率", "rate"),
    ("在办", "open"),
    ("超期", "overdue"),
    ("上交", "escalated"),
    ("挂牌督办", "supervised"),
    ("回访", "visits"),
    ("反复", "relapses"),
    ("诉调对接", "referred"),
)


def build(out: Path = OUT) -> None:
    document = Document()
    _page(document)
    styles = _styles(document)

    _say(document, "{{ title }}", styles["公文标题"])
    _say(document, "（{{ period_words }}）", styles["公文副题"])

    _say(document, "{{ headings.overview }}", styles["公文一级标题"])
    _say(document, "{{ summary }}")
    _if(document, "details", "{{ details }}")
    _say(document, "注：化解率 = {{ rate_definition }}。", styles["公文附注"])
    _say(document, "{{ rate_chart }}", styles["公文图片"])
    _say(document, "{{ trend_chart }}", styles["公文图片"])

    _say(document, "{{ headings.units }}", styles["公文一级标题"])
    _loop_table(
        document,
        UNIT_COLUMNS,
        "u in units",
        "u",
        total="total",
        style=styles["表格文字"],
    )

    _say(document, "{%p if show_ranking %}")
    _say(document, "{{ headings.ranking }}", styles["公文一级标题"])
    _say(document, "{{ ranking_words }}")
    _loop_table(
        document,
        (("名次", "rank"), ("单位", "name"), ("化解率", "rate")),
        "r in ranking_by_rate",
        "r",
        style=styles["表格文字"],
    )
    _say(document, "{{ overdue_words }}")
    _say(document, "{%p endif %}")

    _say(document, "{%p if show_named %}")
    _say(document, "{{ headings.named }}", styles["公文一级标题"])
    _say(document, "{{ named_words }}")
    _say(document, "{%p endif %}")

    _say(document, "{%p if show_listings %}")
    _say(document, "{{ headings.listings }}", styles["公文一级标题"])
    _say(document, "{{ listings_words }}")
    _say(document, "{%p for line in listings %}")
    _say(document, "{{ loop.index }}. {{ line }}")
    _say(document, "{%p endfor %}")
    _say(document, "{%p endif %}")

    _say(document, "{%p if show_assessment %}")
    _say(document, "{{ headings.assessment }}", styles["公文一级标题"])
    _say(document, "{{ assessment_words }}")
    _say(document, "{%p for line in assessment_lines %}")
    _say(document, "{{ line }}")
    _say(document, "{%p endfor %}")
    _say(document, "{%p endif %}")

    _say(document, "", styles["公文落款"])
    _say(document, "{{ unit_name }}", styles["公文落款"])
    _say(document, "{{ made_on }}", styles["公文落款"])

    properties = document.core_properties
    properties.title = "矛盾纠纷排查化解通报（模板）"
    properties.author = properties.last_modified_by = "Fengqiao"
    properties.created = properties.modified = datetime(2026, 1, 1)  # noqa: DTZ001 - Word's
    properties.revision = 1
    saved = io.BytesIO()
    document.save(saved)
    out.write_bytes(_dated(saved.getvalue()))


def _dated(package: bytes) -> bytes:
    """The package with its files dated 1980-01-01: built again, the same bytes (no diff)."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(package)) as given, zipfile.ZipFile(out, "w") as made:
        for entry in given.infolist():
            dated = zipfile.ZipInfo(entry.filename, date_time=(1980, 1, 1, 0, 0, 0))
            made.writestr(dated, given.read(entry), compress_type=zipfile.ZIP_DEFLATED)
    return out.getvalue()


def _page(document: DocumentObject) -> None:
    """A4 with a government document's margins (GB/T 9704)."""
    section = document.sections[0]
    section.page_width, section.page_height = Cm(21), Cm(29.7)
    section.top_margin, section.bottom_margin = Cm(3.7), Cm(3.5)
    section.left_margin, section.right_margin = Cm(2.8), Cm(2.6)


def _styles(document: DocumentObject) -> dict[str, ParagraphStyle]:
    normal = document.styles["Normal"]
    assert isinstance(normal, ParagraphStyle)
    _font(normal, BODY, 16)  # 三号
    normal.paragraph_format.first_line_indent = Pt(32)  # two characters
    normal.paragraph_format.line_spacing_rule = WD_LINE_SPACING.EXACTLY
    normal.paragraph_format.line_spacing = Pt(28)
    normal.paragraph_format.space_after = Pt(0)

    made: dict[str, ParagraphStyle] = {}
    for name, font, size, align, bold in (
        ("公文标题", TITLE, 22, WD_ALIGN_PARAGRAPH.CENTER, False),  # 二号
        ("公文副题", "楷体_GB2312", 16, WD_ALIGN_PARAGRAPH.CENTER, False),
        ("公文一级标题", HEADING, 16, None, False),
        ("公文附注", BODY, 12, None, False),
        ("公文图片", BODY, 12, WD_ALIGN_PARAGRAPH.CENTER, False),
        ("公文落款", BODY, 16, WD_ALIGN_PARAGRAPH.RIGHT, False),
        ("表格文字", TABLE, 10.5, WD_ALIGN_PARAGRAPH.CENTER, False),  # 五号
    ):
        style = document.styles.add_style(name, WD_STYLE_TYPE.PARAGRAPH)
        assert isinstance(style, ParagraphStyle)
        style.base_style = normal
        style.quick_style = True
        _font(style, font, size, bold=bold)
        if align is not None:
            style.paragraph_format.alignment = align
        made[name] = style
    for name in ("公文标题", "公文副题", "公文图片", "公文落款", "表格文字"):
        made[name].paragraph_format.first_line_indent = Pt(0)
    made["公文标题"].paragraph_format.line_spacing = Pt(36)
    made["公文标题"].paragraph_format.space_before = Pt(12)
    made["公文副题"].paragraph_format.space_after = Pt(12)
    made["公文图片"].paragraph_format.line_spacing_rule = WD_LINE_SPACING.SINGLE
    made["公文落款"].paragraph_format.right_indent = Pt(64)
    made["表格文字"].paragraph_format.line_spacing_rule = WD_LINE_SPACING.SINGLE
    return made


def _font(style: ParagraphStyle, name: str, size: float, *, bold: bool = False) -> None:
    style.font.name = name
    style.font.size = Pt(size)
    style.font.bold = bold
    # python-docx names the Latin font only: Chinese text reads the East Asian one.
    style.element.get_or_add_rPr().get_or_add_rFonts().set(qn("w:eastAsia"), name)


def _say(document: DocumentObject, text: str, style: ParagraphStyle | None = None) -> None:
    """A paragraph of one run, so that a tag in it is never split."""
    paragraph = document.add_paragraph(style=style)
    if text:
        paragraph.add_run(text)


def _if(document: DocumentObject, variable: str, text: str) -> None:
    _say(document, f"{{%p if {variable} %}}")
    _say(document, text)
    _say(document, "{%p endif %}")


def _loop_table(
    document: DocumentObject,
    columns: tuple[tuple[str, str], ...],
    loop: str,
    item: str,
    *,
    style: ParagraphStyle,
    total: str | None = None,
) -> None:
    """A table: the header, a row repeated for each ``item`` of ``loop``, a total row."""
    rows = 4 + (total is not None)
    table: Table = document.add_table(rows=rows, cols=len(columns))
    table.style = document.styles["Table Grid"]
    table.alignment = WD_TABLE_ALIGNMENT.CENTER
    body = [(label, f"{{{{ {item}.{key} }}}}") for label, key in columns]
    texts = [
        [label for label, _ in body],
        [f"{{%tr for {loop} %}}"] + [""] * (len(columns) - 1),
        [cell for _, cell in body],
        ["{%tr endfor %}"] + [""] * (len(columns) - 1),
    ]
    if total is not None:
        texts.append([f"{{{{ {total}.{key} }}}}" for _, key in columns])
    for index, (row, cells) in enumerate(zip(table.rows, texts, strict=True)):
        for cell, text in zip(row.cells, cells, strict=True):
            paragraph = cell.paragraphs[0]
            paragraph.style = style
            if text:
                paragraph.add_run(text).bold = index == 0


if __name__ == "__main__":
    build(Path(sys.argv[1]) if len(sys.argv) > 1 else OUT)
    print(f"wrote {sys.argv[1] if len(sys.argv) > 1 else OUT}")
