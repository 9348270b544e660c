"""What people do with their tasks (签收 and the like), and with the tasks their unit owes as
a whole (the county's monthly inspection). Tasks themselves follow obligations as every
change is planned (``workflows.changes``)."""

from workflows.tasks.acknowledging import (
    Acknowledged,
    acknowledge_dispute,
    acknowledge_disputes,
    acknowledge_task,
)
from workflows.tasks.units import UnitTaskDone, fulfil_unit_tasks

__all__ = [
    "Acknowledged",
    "UnitTaskDone",
    "acknowledge_dispute",
    "acknowledge_disputes",
    "acknowledge_task",
    "fulfil_unit_tasks",
]
