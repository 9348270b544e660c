"""The reports people read: the weekly assessment report (周研判报告) and the monthly
circular (月督查通报), their figures as of the period's end, and their files."""

from workflows.reports.files import CHARTS, FORMATS, chart_png, write_report_file
from workflows.reports.filing import filing_board
from workflows.reports.making import (
    StoredReport,
    disputes_now,
    find_period,
    list_reports,
    make_report,
    read_report,
    report_attachments,
    report_path,
    report_rule,
    store_reports,
    stored_report,
    stored_reports,
    traced_disputes,
)

__all__ = [
    "CHARTS",
    "FORMATS",
    "chart_png",
    "StoredReport",
    "disputes_now",
    "filing_board",
    "find_period",
    "list_reports",
    "make_report",
    "read_report",
    "report_attachments",
    "report_path",
    "report_rule",
    "store_reports",
    "stored_report",
    "stored_reports",
    "traced_disputes",
    "write_report_file",
]
