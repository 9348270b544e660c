"""The sweeps: the escalation sweep over due disputes, and the cadence sweeps over due
obligations with their reports. ``workflows.engine`` says when they run."""

from workflows.sweeps.cadence import REPORTS, obligation_sweep, run_cadence
from workflows.sweeps.escalation import (
    BATCH,
    claim_due,
    escalation_sweep,
    sweep_disputes,
    sweep_once,
)
from workflows.sweeps.reports import store_reports
from workflows.sweeps.unit_tasks import open_unit_tasks

__all__ = [
    "BATCH",
    "REPORTS",
    "claim_due",
    "escalation_sweep",
    "obligation_sweep",
    "open_unit_tasks",
    "run_cadence",
    "store_reports",
    "sweep_disputes",
    "sweep_once",
]
