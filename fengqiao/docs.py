"""Regenerate the docs' generated sections: ``python -m fengqiao.docs [FILE.md ...]`` (by
default docs/rules.md, with the lifecycle's transition table, and docs/web.md, with the
permission matrix)."""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from pathlib import Path

from models.lifecycle import transition_table_markdown
from workflows.access import matrix_markdown

__all__ = ["GENERATED", "main", "render"]

# Each generated table, by the name of its markers: <!-- NAME:start --> … <!-- NAME:end -->.
GENERATED: dict[str, Callable[[], str]] = {
    "transitions": transition_table_markdown,
    "permissions": matrix_markdown,
}


def _block(name: str) -> re.Pattern[str]:
    return re.compile(rf"(<!-- {name}:start -->\n).*?(<!-- {name}:end -->)", re.DOTALL)


def render(text: str) -> str:
    """``text`` with every generated table between its markers replaced by a fresh one."""
    found = [name for name in GENERATED if _block(name).search(text)]
    if not found:
        names = ", ".join(GENERATED)
        raise ValueError(f"the text has no <!-- NAME:start/end --> markers (NAME: {names})")
    for name in found:
        table = GENERATED[name]()

        def fresh(match: re.Match[str], table: str = table) -> str:
            return match.group(1) + table + "\n" + match.group(2)

        text = _block(name).sub(fresh, text)
    return text


def main() -> None:
    for path in [Path(p) for p in sys.argv[1:]] or [Path("docs/rules.md"), Path("docs/web.md")]:
        path.write_text(render(path.read_text(encoding="utf-8")), encoding="utf-8")


if __name__ == "__main__":
    main()
