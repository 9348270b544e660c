"""Errors the entry points turn into one line on stderr and exit code 2."""

from __future__ import annotations

from typing import Any

__all__ = ["BadInput", "NotFound", "ProblemList", "first_line", "has_nul"]


class BadInput(ValueError):
    """Input that cannot be accepted; nothing has been changed."""


class NotFound(BadInput):
    """A unit, person or dispute that does not exist."""


class ProblemList(BadInput):
    """Several problems, each a self-contained line such as ``file:line: message``."""

    def __init__(self, lines: list[str]) -> None:
        super().__init__("\n".join(lines))
        self.lines = lines


def first_line(error: object) -> str:
    """The first line of an error's text (a driver's or a server's), or its class's name."""
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def has_nul(value: Any) -> bool:
    """True if a NUL character is anywhere in ``value``, a JSON value: input no database
    keeps alike (PostgreSQL refuses it, SQLite stores it), refused before either sees it."""
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(has_nul(k) or has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(has_nul(v) for v in value)
    return False
