from __future__ import annotations

from pathlib import Path

from fengqiao.readme import render

README = Path(__file__).resolve().parents[2] / "README.md"


def test_the_readme_transition_table_is_the_generated_one() -> None:
    text = README.read_text(encoding="utf-8")
    assert render(text) == text, "the README is out of date: run `make readme`"


def test_the_readme_opens_with_the_two_commands() -> None:
    head = README.read_text(encoding="utf-8").split("```")[1]
    assert "make demo" in head and "make test" in head
