"""The organisation: units and people, loaded from the org file, and the unit tree."""

from workflows.org.loading import OrgSummary, load_org
from workflows.org.tree import ancestors, supervising_unit, unit_path

__all__ = ["OrgSummary", "ancestors", "load_org", "supervising_unit", "unit_path"]
