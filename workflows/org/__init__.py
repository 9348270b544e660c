"""The organisation: units and people, loaded from the org file, and the unit tree."""

from workflows.org.loading import (
    Loaded,
    OrgChange,
    OrgSummary,
    PersonEntry,
    UnitEntry,
    apply_org,
    read_org,
)
from workflows.org.tree import (
    ancestors,
    answers_for,
    people_below,
    subtree,
    supervising_unit,
    unit_in_scope,
    unit_path,
    unstaffed_grids,
)

__all__ = [
    "Loaded",
    "OrgChange",
    "OrgSummary",
    "PersonEntry",
    "UnitEntry",
    "apply_org",
    "read_org",
    "ancestors",
    "answers_for",
    "unstaffed_grids",
    "people_below",
    "subtree",
    "supervising_unit",
    "unit_in_scope",
    "unit_path",
]
