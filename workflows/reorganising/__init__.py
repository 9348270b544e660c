"""The org over time: `org load` and what its changes do to the disputes and the people."""

from workflows.reorganising.service import ORG_CHANGE_KINDS, load_org, org_history

__all__ = ["ORG_CHANGE_KINDS", "load_org", "org_history"]
