"""A report as an Excel workbook: the figures and their sub-units with native charts
(汇总), one row per dispute behind the figures (纠纷明细), and the report's own sections
(排名与通报 for the monthly circular, 研判 for the weekly report).

Written with XlsxWriter in constant memory, row by row: the disputes may be an iterator,
read once, so a county's year of them never sits in memory twice.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, BinaryIO

import xlsxwriter
from xlsxwriter.format import Format
from xlsxwriter.workbook import Workbook
from xlsxwriter.worksheet import Worksheet

__all__ = [
    "FIGURES",
    "METHODS",
    "REFERRALS",
    "RISKS",
    "STATUSES",
    "deadline_day",
    "unit_label",
    "write_excel",
]

# The figures of a unit, in the order the tables show them.
FIGURES = {
    "screened": "排查数",
    "resolved": "化解数",
    "resolution_rate": "化解率",
    "open": "在办",
    "overdue": "超期",
    "escalated": "上交",
    "supervised": "挂牌督办",
    "supervised_missed": "督办逾期",
    "visits_done": "回访",
    "visits_overdue": "回访逾期",
    "relapses": "反复",
    "referred": "诉调对接",
}
METHODS = {"people": "人民调解", "administrative": "行政调解", "judicial": "司法调解"}
RISKS = {"high": "高", "medium": "中", "low": "低"}
STATUSES = {"reported": "已登记", "mediating": "调解中", "resolved": "已化解",
            "closed": "已结案", "referred": "已移交", "withdrawn": "已撤回"}  # fmt: skip
REFERRALS = {"court": "法院", "arbitration": "仲裁", "police": "公安", "petition": "信访"}
LEVELS = {"village": "村级", "township": "镇级", "county": "县级"}

# The figures a dispute can count in: every one but the rate, which no dispute is.
_COUNTED = tuple(key for key in FIGURES if key != "resolution_rate")
_UNIT_COLUMNS = ("单位", *FIGURES.values(), *METHODS.values())
_RATE_COLUMN = 1 + list(FIGURES).index("resolution_rate")
_CHART_COLUMN = len(_UNIT_COLUMNS) + 1
_SUMMARY, _DISPUTES = "汇总", "纠纷明细"


def write_excel(content: Mapping[str, Any], out: Path | BinaryIO) -> None:
    """Write the workbook of the report ``content`` to the file or stream ``out``."""
    target: str | BinaryIO = str(out) if isinstance(out, Path) else out
    book = xlsxwriter.Workbook(target, {"constant_memory": True})
    try:
        _write_book(book, content)
    except BaseException:
        book.close()  # its temporary files go; so does the half-written workbook
        if isinstance(out, Path):
            out.unlink(missing_ok=True)
        raise
    book.close()


def _write_book(book: Workbook, content: Mapping[str, Any]) -> None:
    styles = _Styles(book)
    _write_summary(book, styles, content)
    _write_disputes(book.add_worksheet(_DISPUTES), styles, content)
    sections = set(content.get("sections", ()))
    if sections & {"ranking", "named_units", "missed_listings"}:
        _write_ranking(book.add_worksheet("排名与通报"), styles, content, sections)
    if "assessment" in sections and content.get("assessment") is not None:
        _write_assessment(book.add_worksheet("研判"), styles, content["assessment"])


def unit_label(row: Mapping[str, Any]) -> str:
    """A sub-unit row's name; the row of the unit's own level says so (某县（本级）)."""
    name = str(row["name"])
    return f"{name}（本级）" if row.get("own") else name


def deadline_day(moment: str) -> date:
    """The last day of a deadline: one at local midnight ends the day before (24:00)."""
    at = datetime.fromisoformat(moment)
    day = at.date()
    return day - timedelta(days=1) if at.time() == datetime.min.time() else day


class _Styles:
    def __init__(self, book: Workbook) -> None:
        self.title = book.add_format({"bold": True, "font_size": 16})
        self.note = book.add_format({"font_color": "#555555"})
        self.heading = book.add_format({"bold": True, "font_size": 12})
        self.header = book.add_format(
            {"bold": True, "bg_color": "#dde6f0", "border": 1, "align": "center"}
        )
        self.total = book.add_format({"bold": True, "border": 1})
        self.total_rate = book.add_format({"bold": True, "border": 1, "num_format": "0.0%"})
        self.cell = book.add_format({"border": 1})
        self.rate = book.add_format({"border": 1, "num_format": "0.0%"})
        self.day = book.add_format({"border": 1, "num_format": "yyyy-mm-dd"})


class _Rows:
    """The next free row of a sheet written in constant memory, where rows go in order."""

    def __init__(self, sheet: Worksheet) -> None:
        self.sheet, self.next = sheet, 0

    def row(self, values: Sequence[Any], style: Format | None = None) -> int:
        self.sheet.write_row(self.next, 0, values, style)
        self.next += 1
        return self.next - 1

    def skip(self) -> None:
        self.next += 1

    def table(
        self,
        title: str,
        header: Sequence[str],
        rows: Iterable[Sequence[Any]],
        styles: _Styles,
        formats: Mapping[int, Format] | None = None,
    ) -> None:
        """A titled table, then a blank row; ``formats`` by column, else bordered cells."""
        self.row([title], styles.heading)
        self.row(header, styles.header)
        for values in rows:
            for column, value in enumerate(values):
                style = (formats or {}).get(column, styles.cell)
                if value is None:
                    self.sheet.write_blank(self.next, column, None, style)
                else:
                    self.sheet.write(self.next, column, value, style)
            self.next += 1
        self.skip()


def _write_summary(book: Workbook, styles: _Styles, content: Mapping[str, Any]) -> None:
    sheet = book.add_worksheet(_SUMMARY)
    sheet.set_column(0, 0, 16)
    sheet.set_column(1, len(_UNIT_COLUMNS) - 1, 9)
    rows = _Rows(sheet)
    period = content["period"]
    rows.row([f"{content['name']}{content['title']}（{period['label']}）"], styles.title)
    made = datetime.fromisoformat(content["made_at"]).strftime("%Y-%m-%d %H:%M")
    rate = content.get("resolution_rate", {}).get("label", "化解数 ÷ 排查数")
    rows.row(
        [f"统计期间：{period['first_day']} 至 {period['last_day']}；制表：{made}；化解率 = {rate}"],
        styles.note,
    )
    rows.skip()
    rows.row(_UNIT_COLUMNS, styles.header)
    _unit_row(rows, "合计", content["totals"], styles.total, styles.total_rate)
    units = list(content.get("units", []))
    first = rows.next
    for unit in units:
        _unit_row(rows, unit_label(unit), unit, styles.cell, styles.rate)
    rows.skip()
    if units:
        _insert_rate_chart(book, sheet, content, first, units)

    _figure_table(rows, styles, "按纠纷类型", "类型", content.get("categories", []))
    _figure_table(rows, styles, "按风险等级", "风险等级", content.get("risks", []))
    referrals = content.get("referrals") or {}
    if referrals:
        rows.table(
            "诉调对接去向",
            ("去向", "件数"),
            ((REFERRALS.get(to, to), count) for to, count in referrals.items()),
            styles,
        )
    trend = list(content.get("trend", []))
    if trend:
        rows.row(["近期趋势"], styles.heading)
        header = rows.row(("期间", "排查数", "化解数", "化解率"), styles.header)
        for point in trend:
            rows.sheet.write_string(rows.next, 0, str(point["label"]), styles.cell)
            rows.sheet.write_number(rows.next, 1, point["screened"], styles.cell)
            rows.sheet.write_number(rows.next, 2, point["resolved"], styles.cell)
            _write_rate(rows.sheet, rows.next, 3, point.get("resolution_rate"), styles.rate)
            rows.next += 1
        _insert_trend_chart(book, sheet, content, header, trend)


def _unit_row(
    rows: _Rows, name: str, figures: Mapping[str, Any], style: Format, rate: Format
) -> None:
    sheet, row = rows.sheet, rows.next
    sheet.write_string(row, 0, name, style)
    for column, key in enumerate(FIGURES, start=1):
        if key == "resolution_rate":
            _write_rate(sheet, row, column, figures.get(key), rate)
        else:
            sheet.write_number(row, column, figures.get(key, 0), style)
    methods = figures.get("methods") or {}
    for column, key in enumerate(METHODS, start=1 + len(FIGURES)):
        sheet.write_number(row, column, methods.get(key, 0), style)
    rows.next += 1


def _write_rate(sheet: Worksheet, row: int, column: int, rate: float | None, style: Format) -> None:
    # No rate (nothing screened) stays an empty cell: a chart reads text as a zero.
    if rate is None:
        sheet.write_blank(row, column, None, style)
    else:
        sheet.write_number(row, column, rate, style)


def _figure_table(
    rows: _Rows, styles: _Styles, title: str, first: str, lines: Sequence[Mapping[str, Any]]
) -> None:
    if not lines:
        return
    keys = [key for key in FIGURES if key in lines[0]]
    header = (first, *(FIGURES[key] for key in keys))
    rows.table(title, header, ([line["label"], *(line[k] for k in keys)] for line in lines), styles)


# The charts reference the sheet's cells, and carry their values too (XlsxWriter cannot
# read cells back in constant memory): viewers that do not recalculate show them as well.
def _insert_rate_chart(
    book: Workbook,
    sheet: Worksheet,
    content: Mapping[str, Any],
    first: int,
    units: Sequence[Mapping[str, Any]],
) -> None:
    chart = book.add_chart({"type": "column"})
    assert chart is not None
    last = first + len(units) - 1
    chart.add_series(
        {
            "name": "化解率",
            "categories": [_SUMMARY, first, 0, last, 0],
            "categories_data": [unit_label(unit) for unit in units],
            "values": [_SUMMARY, first, _RATE_COLUMN, last, _RATE_COLUMN],
            "values_data": [unit.get("resolution_rate") for unit in units],
            "data_labels": {"value": True, "num_format": "0.0%"},
            "fill": {"color": "#2f6fb0"},
        }
    )
    chart.set_title({"name": f"各单位化解率 {content['period']['label']}"})
    chart.set_y_axis({"num_format": "0%", "min": 0, "max": 1})
    chart.set_legend({"none": True})
    sheet.insert_chart(3, _CHART_COLUMN, chart, {"x_scale": 1.3, "y_scale": 1.1})


def _insert_trend_chart(
    book: Workbook,
    sheet: Worksheet,
    content: Mapping[str, Any],
    header: int,
    trend: Sequence[Mapping[str, Any]],
) -> None:
    counts = book.add_chart({"type": "column"})
    rate = book.add_chart({"type": "line"})
    assert counts is not None and rate is not None
    first, last = header + 1, header + len(trend)
    labels = [str(point["label"]) for point in trend]
    for column, key, color in ((1, "screened", "#2f6fb0"), (2, "resolved", "#4c9a52")):
        counts.add_series(
            {
                "name": FIGURES[key],
                "categories": [_SUMMARY, first, 0, last, 0],
                "categories_data": labels,
                "values": [_SUMMARY, first, column, last, column],
                "values_data": [point[key] for point in trend],
                "fill": {"color": color},
            }
        )
    rate.add_series(
        {
            "name": FIGURES["resolution_rate"],
            "categories": [_SUMMARY, first, 0, last, 0],
            "categories_data": labels,
            "values": [_SUMMARY, first, 3, last, 3],
            "values_data": [point.get("resolution_rate") for point in trend],
            "y2_axis": True,
            "marker": {"type": "circle"},
            "line": {"color": "#d9822b"},
        }
    )
    rate.set_y2_axis({"num_format": "0%", "min": 0, "max": 1})
    counts.combine(rate)
    counts.set_title({"name": f"{content['name']}排查化解趋势"})
    counts.set_y_axis({"name": "件数", "min": 0})
    counts.set_legend({"position": "bottom"})
    sheet.insert_chart(21, _CHART_COLUMN, counts, {"x_scale": 1.3, "y_scale": 1.1})


def _write_disputes(sheet: Worksheet, styles: _Styles, content: Mapping[str, Any]) -> None:
    """One row per dispute; each figure's column names the unit it counts in there."""
    names = {str(row["unit"]): unit_label(row) for row in content.get("units", [])}
    figure_column = {key: 6 + i for i, key in enumerate(_COUNTED)}
    header = ("编号", "标题", "单位", "类型", "风险", "状态") + tuple(
        FIGURES[key].removesuffix("数") for key in _COUNTED
    )
    sheet.set_column(0, 0, 8)
    sheet.set_column(1, 1, 28)
    sheet.set_column(2, 3, 12)
    sheet.set_column(4, 5, 7)
    sheet.set_column(6, len(header) - 1, 10)
    sheet.write_row(0, 0, header, styles.header)
    sheet.freeze_panes(1, 0)
    # Bound once: this loop runs for every dispute of the report.
    number, string = sheet.write_number, sheet.write_string
    risks, statuses = RISKS.get, STATUSES.get
    row = 0
    for row, dispute in enumerate(content.get("disputes", ()), start=1):
        number(row, 0, dispute["id"])
        string(row, 1, dispute["title"])
        string(row, 2, dispute["unit_name"])
        string(row, 3, dispute["category_label"])
        string(row, 4, risks(dispute["risk"], dispute["risk"]))
        string(row, 5, statuses(dispute["status"], dispute["status"]))
        for key, unit in dispute["figures"].items():
            column = figure_column.get(key)
            if column is not None:
                string(row, column, names.get(unit, unit))
    sheet.autofilter(0, 0, row, len(header) - 1)


def _write_ranking(
    sheet: Worksheet, styles: _Styles, content: Mapping[str, Any], sections: set[str]
) -> None:
    sheet.set_column(0, 0, 8)
    sheet.set_column(1, 2, 24)
    sheet.set_column(3, 5, 12)
    rows = _Rows(sheet)
    ranking = content.get("ranking") or {}
    if "ranking" in sections:
        rows.table(
            "化解率排名",
            ("名次", "单位", "化解率"),
            ((_rank(r), r["name"], r["resolution_rate"]) for r in ranking.get("by_rate", [])),
            styles,
            {2: styles.rate},
        )
        rows.table(
            "超期纠纷排名",
            ("名次", "单位", "超期"),
            ((_rank(r), r["name"], r["overdue"]) for r in ranking.get("by_overdue", [])),
            styles,
        )
    if "named_units" in sections:
        named = content.get("named", [])
        rows.table(
            "通报单位（有超期或上交纠纷）",
            ("单位", "超期", "上交"),
            ((n["name"], n.get("overdue", 0), n.get("escalated", 0)) for n in named),
            styles,
        )
    if "missed_listings" in sections:
        rows.row(["挂牌督办逾期"], styles.heading)
        rows.row(("编号", "纠纷", "单位", "督办等级", "督办期限", "是否逾期"), styles.header)
        for listing in content.get("listings", []):
            row = rows.row(
                (
                    listing["dispute"],
                    listing["title"],
                    listing["name"],
                    listing.get("grade_label", ""),
                ),
                styles.cell,
            )
            sheet.write_datetime(row, 4, deadline_day(listing["deadline"]), styles.day)
            sheet.write_string(row, 5, "是" if listing.get("missed") else "否", styles.cell)


def _write_assessment(sheet: Worksheet, styles: _Styles, assessment: Mapping[str, Any]) -> None:
    sheet.set_column(0, 0, 8)
    sheet.set_column(1, 1, 28)
    sheet.set_column(2, 4, 12)
    rows = _Rows(sheet)
    for title, key in (("风险升级", "raised"), ("风险降级", "lowered")):
        rows.table(
            title,
            ("编号", "纠纷", "单位", "原风险", "现风险"),
            (
                (c["dispute"], c["title"], c["unit_name"], _risk(c["from"]), _risk(c["to"]))
                for c in assessment.get(key, [])
            ),
            styles,
        )
    rows.table(
        "高风险纠纷",
        ("编号", "纠纷", "单位", "状态", "是否超期"),
        (
            (
                h["dispute"],
                h["title"],
                h["unit_name"],
                STATUSES.get(h["status"], h["status"]),
                "是" if h.get("overdue") else "否",
            )
            for h in assessment.get("high_risk", [])
        ),
        styles,
    )


def _rank(row: Mapping[str, Any]) -> int | str:
    return "—" if row.get("rank") is None else int(row["rank"])


def _risk(code: str) -> str:
    return RISKS.get(code, code)
