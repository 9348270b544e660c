"""Changing disputes: one planner for every change, and one way to write its plan.

Recording events and sweeping due disputes both evaluate a dispute's history under the
rules, then :func:`plan_dispute` (pure) says every row that follows, and
:func:`write_plan` writes the plan of any number of disputes set-wise. The modules:
``plan`` (the planner), ``read`` (what it needs, read set-wise), ``write`` (the writer),
``reevaluation`` (evaluate disputes again at a moment: the sweep's batches, the fallback of
one dispute per transaction, new rules put in force).
"""

from workflows.changes.plan import (
    NewAcknowledgement,
    ObligationChanges,
    Plan,
    Staff,
    StoredDispute,
    StoredObligation,
    StoredTask,
    acknowledgement_row,
    plan_dispute,
)
from workflows.changes.read import (
    DISPUTES,
    Stored,
    fold_of,
    histories,
    history,
    initial_state,
    path_of,
    read_stored,
    staff_of,
)
from workflows.changes.reevaluation import Outcome, evaluated, log_decisions, reevaluate
from workflows.changes.write import write_plan

__all__ = [
    "DISPUTES",
    "NewAcknowledgement",
    "ObligationChanges",
    "Outcome",
    "Plan",
    "Staff",
    "Stored",
    "StoredDispute",
    "StoredObligation",
    "StoredTask",
    "acknowledgement_row",
    "evaluated",
    "fold_of",
    "histories",
    "history",
    "initial_state",
    "log_decisions",
    "path_of",
    "plan_dispute",
    "read_stored",
    "reevaluate",
    "staff_of",
    "write_plan",
]
