"""The ledger (台账) an office keeps: brought in from its Excel sheet or CSV, and given
back as an Excel sheet with today's state."""

from workflows.ledger.exporting import COLUMNS, STATUS_FILTERS, ExportSummary, export_ledger
from workflows.ledger.importing import PREVIEW, LedgerSummary, import_ledger
from workflows.ledger.reading import (
    LedgerRow,
    Problems,
    load_mapping,
    parse_date,
    parse_risk,
    read_ledger,
)

__all__ = [
    "COLUMNS",
    "PREVIEW",
    "STATUS_FILTERS",
    "ExportSummary",
    "LedgerRow",
    "LedgerSummary",
    "Problems",
    "export_ledger",
    "import_ledger",
    "load_mapping",
    "parse_date",
    "parse_risk",
    "read_ledger",
]
