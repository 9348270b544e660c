"""The organisation: units and people, loaded from the org file, and the unit tree."""

from workflows.org.loading import OrgSummary, load_org
from workflows.org.tree import (
    ancestors,
    people_below,
    subtree,
    supervising_unit,
    unit_in_scope,
    unit_path,
)

__all__ = [
    "OrgSummary",
    "ancestors",
    "load_org",
    "people_below",
    "subtree",
    "supervising_unit",
    "unit_in_scope",
    "unit_path",
]
