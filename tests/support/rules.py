"""The shipped rules with one change, as an administrator edits a copy of them."""

from __future__ import annotations

from pathlib import Path

from rules.loader import default_rules_path
from rules.policy import Policy, load_policy

SHIPPED = default_rules_path().read_text(encoding="utf-8")
# The low-risk dispute's threshold at the village: the line most tests change.
LOW_AT_VILLAGE = "risk: low,\n     when: unresolved, after: 30d}"


def shipped_with(old: str, new: str) -> str:
    """The shipped rule file's text with ``old``, which it holds once, replaced by ``new``."""
    assert SHIPPED.count(old) == 1, f"the shipped rules no longer have {old!r} once"
    return SHIPPED.replace(old, new)


def edited_rules(directory: Path, old: str, new: str) -> Policy:
    """The shipped rules with one change, written to ``directory`` and loaded."""
    path = directory / "edited.yaml"
    path.write_text(shipped_with(old, new), encoding="utf-8")
    return load_policy(path)
