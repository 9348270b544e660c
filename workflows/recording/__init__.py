"""Recording: reporting disputes and recording their events, one at a time or a file of
them, each change in one transaction."""

from workflows.recording.importing import ImportSummary, import_events
from workflows.recording.lines import decode_text, loads_limited, shown
from workflows.recording.service import (
    DisputeRefused,
    Recorded,
    Refusals,
    record,
    record_event,
    record_events,
    record_on_many,
    report_dispute,
    report_disputes,
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
    "DisputeRefused",
    "EventForbidden",
    "EventRefused",
    "ImportSummary",
    "NewDispute",
    "NewEvent",
    "Recorded",
    "Refusals",
    "check_time",
    "decode_text",
    "import_events",
    "loads_limited",
    "record",
    "record_event",
    "record_events",
    "record_on_many",
    "report_dispute",
    "report_disputes",
    "shown",
]
