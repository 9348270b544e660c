"""The sweeps: the escalation sweep over due disputes, and the cadence sweeps over due
obligations, and the reports. ``workflows.engine`` says when they run."""

from workflows.sweeps.cadence import obligation_sweep, run_cadence
from workflows.sweeps.escalation import (
    BATCH,
    claim_due,
    escalation_sweep,
    sweep_disputes,
    sweep_once,
)
from workflows.sweeps.unit_tasks import open_unit_tasks

__all__ = [
    "BATCH",
    "claim_due",
    "escalation_sweep",
    "obligation_sweep",
    "open_unit_tasks",
    "run_cadence",
    "sweep_disputes",
    "sweep_once",
]
