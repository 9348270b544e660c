"""The README and the docs stay true: the generated tables are current, the two commands
come first, and every link leads somewhere."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from fengqiao.docs import render
from tests.support.db import REPO

README = REPO / "README.md"
DOCS = sorted((REPO / "docs").glob("*.md")) + [README, REPO / "bench" / "README.md"]
LINK = re.compile(r"\]\(([^)\s]+)\)")


def _anchors(path: Path) -> set[str]:
    """The anchors of a Markdown file's headings, as GitHub makes them."""
    found = set()
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("#"):
            title = line.lstrip("#").strip().lower()
            found.add(re.sub(r"[^\w\- ]", "", title).replace(" ", "-"))
    return found


@pytest.mark.parametrize("name", ["rules.md", "web.md"])
def test_the_generated_tables_in_the_docs_are_current(name: str) -> None:
    """The lifecycle's transitions in docs/rules.md, the permission matrix in docs/web.md."""
    text = (REPO / "docs" / name).read_text(encoding="utf-8")
    assert render(text) == text, f"docs/{name} is out of date: run `make docs`"


def test_the_readme_opens_with_the_two_commands() -> None:
    head = README.read_text(encoding="utf-8").split("```")[1]
    assert "make demo" in head and "make test" in head


@pytest.mark.parametrize("doc", DOCS, ids=[str(p.relative_to(REPO)) for p in DOCS])
def test_every_link_between_the_docs_leads_to_a_file_and_a_heading_that_exist(doc: Path) -> None:
    broken = []
    for target in LINK.findall(doc.read_text(encoding="utf-8")):
        if target.startswith(("http://", "https://")):
            continue
        file, _, anchor = target.partition("#")
        linked = (doc.parent / file).resolve() if file else doc
        if not linked.exists() or (anchor and anchor not in _anchors(linked)):
            broken.append(target)
    assert broken == []
