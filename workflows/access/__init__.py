"""Who may see and do what: the permission matrix (as data) and the one scope of disputes
a person may see, for every list, page, action, export and report."""

from workflows.access.masking import HANDLING_ROLES, mask_parties, sees_parties
from workflows.access.matrix import GRANTS, Action, Grant, allowed, matrix_markdown, refusal
from workflows.access.scope import (
    Forbidden,
    Viewer,
    dispute_in_scope,
    disputes_in_scope,
    in_scope,
    permit,
    scope_condition,
    viewer_of,
)

__all__ = [
    "GRANTS",
    "Action",
    "Forbidden",
    "Grant",
    "HANDLING_ROLES",
    "Viewer",
    "allowed",
    "dispute_in_scope",
    "disputes_in_scope",
    "in_scope",
    "mask_parties",
    "matrix_markdown",
    "permit",
    "refusal",
    "scope_condition",
    "sees_parties",
    "viewer_of",
]
