"""Durations as people say them: ``3d``, ``2wd``, ``36h``, ``90m``."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Literal

__all__ = ["Duration", "DurationUnit", "parse_duration"]

DurationUnit = Literal["d", "wd", "h", "m"]

# Ten years: no deadline of the policy is longer, and dates must stay computable.
LONGEST: dict[str, int] = {"d": 3650, "wd": 2500, "h": 87_600, "m": 5_256_000}

_PATTERN = re.compile(r"^\s*(-?\d+)\s*(wd|d|h|m)\s*$")


@dataclass(frozen=True, order=True)
class Duration:
    """A positive amount of natural days, working days, hours or minutes."""

    amount: int
    unit: DurationUnit

    def __post_init__(self) -> None:
        if self.amount <= 0:
            raise ValueError(f"a duration must be positive, got {self}")
        if self.amount > LONGEST[self.unit]:
            raise ValueError(
                f"duration {self} is longer than ten years (at most {LONGEST[self.unit]}"
                f"{self.unit})"
            )

    def __str__(self) -> str:
        return f"{self.amount}{self.unit}"

    @property
    def counts_days(self) -> bool:
        """True for ``d`` and ``wd``: they end at 24:00 local, not at an exact offset."""
        return self.unit in ("d", "wd")

    def exact(self) -> timedelta:
        """The exact length of an ``h`` or ``m`` duration."""
        if self.unit == "h":
            return timedelta(hours=self.amount)
        if self.unit == "m":
            return timedelta(minutes=self.amount)
        raise ValueError(f"{self} counts calendar days and has no exact length")

    def scaled(self, factor: float) -> Duration:
        """This duration times ``factor``, rounded up, never below one unit."""
        return Duration(max(1, math.ceil(self.amount * factor)), self.unit)


def parse_duration(text: str) -> Duration:
    """Parse ``3d``, ``2wd``, ``36h`` or ``90m``; raise ``ValueError`` naming the problem."""
    match = _PATTERN.match(text)
    if match is None:
        raise ValueError(
            f"{text!r} is not a duration: write a whole number and a unit, "
            "d (days), wd (working days), h (hours) or m (minutes), e.g. 3d, 2wd, 36h"
        )
    amount = int(match.group(1))
    if amount <= 0:
        raise ValueError(f"duration {text!r} must be positive")
    unit: DurationUnit = match.group(2)  # type: ignore[assignment]
    return Duration(amount, unit)  # raises if longer than ten years
