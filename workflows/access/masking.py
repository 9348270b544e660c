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
_KEPT_DIGITS = 4


def sees_parties(viewer: Viewer | None) -> bool:
    """True if ``viewer`` (None: the operator at the server) sees parties as they are."""
    return viewer is None or viewer.role in HANDLING_ROLES


def mask_parties(parties: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The parties with every value masked, keeping its field: a name's first character,
    a number's last four digits; any other value wholly."""
    return [{key: _masked(value) for key, value in party.items()} for party in parties]


def _masked(value: Any) -> str:
    if not isinstance(value, str) or not value:
        return "***"
    digits = sum(c.isdigit() for c in value)
    if digits >= len(value) // 2 + 1 and len(value) > _KEPT_DIGITS:  # a phone or ID number
        return "*" * (len(value) - _KEPT_DIGITS) + value[-_KEPT_DIGITS:]
    return value[0] + "*" * max(2, len(value) - 1)
