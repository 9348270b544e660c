"""Recording: reporting disputes and recording their events, one at a time or a file of
them, each change in one transaction."""

from workflows.recording.importing import ImportSummary, import_events
from workflows.recording.service import (
    Recorded,
    Refusals,
    record,
    record_event,
    record_events,
    record_on_many,
    report_dispute,
)
from workflows.recording.validate import (
    RECORDABLE,
    EventForbidden,
    EventRefused,
    NewDispute,
    NewEvent,
    check_time,
)

__all__ = [
    "RECORDABLE",
    "EventForbidden",
    "EventRefused",
    "ImportSummary",
    "NewDispute",
    "NewEvent",
    "Recorded",
    "Refusals",
    "check_time",
    "import_events",
    "record",
    "record_event",
    "record_events",
    "record_on_many",
    "report_dispute",
]
