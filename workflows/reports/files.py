"""A report's files: Excel (XlsxWriter, with native charts) and Word (the office's circular
from a template), written where the caller says."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, BinaryIO

import structlog

from workflows.errors import BadInput

__all__ = ["CHARTS", "FORMATS", "chart_png", "write_report_file"]

log = structlog.get_logger(__name__)

# The file formats a report is written in, and the type each is served as.
FORMATS = {
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
}


CHARTS = ("rate", "trend")


def chart_png(content: Mapping[str, Any], chart: str) -> bytes:
    """A report's chart as a PNG: 化解率 by unit (``rate``) or the trend (``trend``);
    BadInput when no CJK font can draw it."""
    from workflows.reports.charts import NoCJKFont, rate_chart, trend_chart

    try:
        return rate_chart(content) if chart == "rate" else trend_chart(content)
    except NoCJKFont as exc:
        raise BadInput(str(exc)) from None


def write_report_file(
    content: Mapping[str, Any],
    kind: str,
    out: Path | BinaryIO,
    *,
    template: Path | None = None,
) -> None:
    """Write the report ``content`` as ``kind`` (xlsx or docx) to ``out``; a Word file from
    ``template`` (an office's own) if given, else the shipped one. BadInput for a template
    that cannot be used, or a chart that cannot be drawn (no CJK font)."""
    if kind not in FORMATS:
        raise BadInput(f"unknown report format {kind!r}; known: {', '.join(FORMATS)}")
    # Imported here: XlsxWriter, and matplotlib and docxtpl (a Word file draws its charts),
    # are paid for only by those who write files.
    if kind == "xlsx":
        from workflows.reports.excel import write_excel

        write_excel(content, out)
    else:
        from workflows.reports.charts import NoCJKFont
        from workflows.reports.word import write_word

        try:
            write_word(content, out, template=template)
        except NoCJKFont as exc:
            raise BadInput(str(exc)) from None
    log.info(
        "report_written",
        report=content["kind"],
        unit=content["unit"],
        period=content["period"]["label"],
        format=kind,
    )
