"""Read models: disputes, explanations, listings, as plain data that the command line
prints and the web app renders. Each reads in a transaction of its own that holds no lock."""

from workflows.views.accounts import ACCOUNTS_PAGE, accounts_view
from workflows.views.dispute import dispute_view, iso, shape_dispute
from workflows.views.explain import explain_view, shape_explanation
from workflows.views.finding import find_by_party
from workflows.views.listings import (
    escalations_view,
    ladder,
    outbox_view,
    tasks_view,
    unit_tasks_view,
)
from workflows.views.org import answering_view, staff_view, unit_names, units_view
from workflows.views.queue import LONGEST_PAGE, QueueFilters, overdue_count, queue_view
from workflows.views.rules import (
    rules_history_view,
    shape_changed,
    shape_counts,
    shape_keys,
    shape_versions,
)

__all__ = [
    "ACCOUNTS_PAGE",
    "LONGEST_PAGE",
    "QueueFilters",
    "accounts_view",
    "answering_view",
    "dispute_view",
    "escalations_view",
    "explain_view",
    "find_by_party",
    "iso",
    "ladder",
    "outbox_view",
    "overdue_count",
    "queue_view",
    "rules_history_view",
    "shape_changed",
    "shape_counts",
    "shape_dispute",
    "shape_explanation",
    "shape_keys",
    "shape_versions",
    "staff_view",
    "tasks_view",
    "unit_tasks_view",
    "unit_names",
    "units_view",
]
