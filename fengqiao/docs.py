"""Regenerate the docs' generated sections: ``python -m fengqiao.docs [docs/rules.md]``."""

from __future__ import annotations

import re
import sys
from pathlib import Path

from models.lifecycle import transition_table_markdown

__all__ = ["render", "main"]

_BLOCK = re.compile(r"(<!-- transitions:start -->\n).*?(<!-- transitions:end -->)", re.DOTALL)


def render(text: str) -> str:
    """``text`` with the transition table between its markers replaced by the generated one."""
    if not _BLOCK.search(text):
        raise ValueError("the text has no <!-- transitions:start/end --> markers")
    return _BLOCK.sub(lambda m: m.group(1) + transition_table_markdown() + "\n" + m.group(2), text)


def main() -> None:
    path = Path(sys.argv[1] if len(sys.argv) > 1 else "docs/rules.md")
    path.write_text(render(path.read_text(encoding="utf-8")), encoding="utf-8")


if __name__ == "__main__":
    main()
