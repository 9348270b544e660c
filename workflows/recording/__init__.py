"""Recording: reporting disputes and recording their events, one at a time or a file of
them, each change in one transaction."""

from workflows.recording.importing import ImportSummary, import_events
from workflows.recording.service import (
    Recorded,
    Refusals,
    record,
    record_event,
    record_events,
    report_dispute,
)
from workflows.recording.validate import RECORDABLE, EventRefused, NewDispute, NewEvent

__all__ = [
    "RECORDABLE",
    "EventRefused",
    "ImportSummary",
    "NewDispute",
    "NewEvent",
    "Recorded",
    "Refusals",
    "import_events",
    "record",
    "record_event",
    "record_events",
    "report_dispute",
]
