"""What people do with their tasks (签收 and the like). Tasks themselves follow obligations
as every change is planned (``workflows.changes``)."""

from workflows.tasks.acknowledging import Acknowledged, acknowledge_disputes, acknowledge_task

__all__ = ["Acknowledged", "acknowledge_disputes", "acknowledge_task"]
