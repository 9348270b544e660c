"""Parties' names, phone numbers and ID numbers are for the people who handle a dispute:
its mediators and supervisors. Anyone else who may see the dispute (an administrator) sees
them masked. Pure."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from models.values import Role
from workflows.access.scope import Viewer

__all__ = ["HANDLING_ROLES", "mask_parties", "sees_parties"]

HANDLING_ROLES = (Role.mediator, Role.supervisor)


def sees_parties(viewer: Viewer | None) -> bool:
    """True if ``viewer`` (None: the operator at the server) sees parties as they are."""
    return viewer is None or viewer.role in HANDLING_ROLES


def mask_parties(parties: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The parties with their personal data masked, keeping each field: a name's first
    character (张**), a phone's first three and last four digits (138****1234), an ID
    number's first four and last four (3301**********1234), an address's first three
    characters; the role as it is; any other value wholly."""
    return [{key: _masked(key, value) for key, value in party.items()} for party in parties]


def _masked(key: str, value: Any) -> Any:
    if key == "role":
        return value
    if not isinstance(value, str) or not value:
        return "***"
    if key == "name":
        return value[0] + "**"
    if key == "phone" and len(value) > 7:
        return value[:3] + "*" * (len(value) - 7) + value[-4:]
    if key == "id_number" and len(value) > 8:
        return value[:4] + "*" * (len(value) - 8) + value[-4:]
    if key == "address":
        return value[:3] + "***"
    return "***"
