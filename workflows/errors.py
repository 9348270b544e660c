"""Errors the entry points turn into one line on stderr and exit code 2."""

from __future__ import annotations

__all__ = ["BadInput", "NotFound", "ProblemList", "first_line"]


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
