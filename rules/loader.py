"""Load a rule file, reporting every problem as ``file:line:col: message``."""

from __future__ import annotations

import re
from collections.abc import Hashable
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError
from pydantic_core import ErrorDetails

from rules.calendar import WorkCalendar
from rules.schema import RuleSet, consistency_problems

__all__ = ["RulesError", "coverage_warnings", "default_rules_path", "load_ruleset", "parse_ruleset"]

Path_ = tuple[Any, ...]

# What a value of a closed set is called, by the key it sits under.
_NOUNS = {
    "base": "calendar",
    "risk": "risk",
    "risks": "risk",
    "acknowledgement": "risk",
    "from": "level",
    "to": "level",
    "level": "level",
    "fulfilled_by": "event kind",
    "after": "event kind",
    "when": "condition",
    "schedule": "schedule",
    "status": "status",
}


class RulesError(Exception):
    """A rule file that cannot be used; ``lines`` are ``file:line:col: message``."""

    def __init__(self, lines: list[str]) -> None:
        self.lines = list(lines)
        super().__init__("\n".join(self.lines))

    def __str__(self) -> str:
        return "\n".join(self.lines)


@dataclass
class _Tree:
    """Where each key and value of the YAML document starts (0-based line, col)."""

    values: dict[Path_, tuple[int, int]] = field(default_factory=dict)
    keys: dict[Path_, tuple[int, int]] = field(default_factory=dict)
    scalars: dict[Path_, Any] = field(default_factory=dict)
    sequences: set[Path_] = field(default_factory=set)
    problems: list[tuple[int, int, str]] = field(default_factory=list)


def default_rules_path() -> Path:
    """The rule file shipped with Fengqiao."""
    return Path(__file__).with_name("default.yaml")


def load_ruleset(path: str | Path) -> RuleSet:
    """Read, parse and validate a rule file; raise ``RulesError`` listing every problem."""
    name = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise RulesError([f"{name}: cannot read: {reason}"]) from None
    return parse_ruleset(text, name=name)


def parse_ruleset(text: str, *, name: str) -> RuleSet:
    """Parse and validate the text of a rule file (an upload, say), its problems named
    ``name:line:col``; raise ``RulesError`` listing every one."""
    tree = _Tree()
    try:
        data = _parse(text, tree)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"{mark.line + 1}:{mark.column + 1}" if mark else "1:1"
        message = exc.problem or "invalid YAML"
        if exc.context:
            started = f" at line {exc.context_mark.line + 1}" if exc.context_mark else ""
            message = f"{message} ({exc.context}{started})"
        raise RulesError([f"{name}:{where}: {message}"]) from None
    except yaml.YAMLError as exc:  # e.g. a control character the reader refuses
        raise RulesError([f"{name}: {exc}"]) from None
    if data is None:
        raise RulesError([f"{name}:1:1: the file is empty; a rule file needs obligations at least"])
    problems = list(tree.problems)
    try:
        ruleset = RuleSet.model_validate(data)
    except ValidationError as exc:
        problems.extend(_validation_problems(exc.errors(), tree))
    else:
        for problem in consistency_problems(ruleset):
            line, col = _refine(problem.path, problem.message, tree)
            problems.append((line, col, f"{_dotted(problem.path, tree)}: {problem.message}"))
    if problems:
        lines = (f"{name}:{line + 1}:{col + 1}: {msg}" for line, col, msg in sorted(problems))
        raise RulesError(list(dict.fromkeys(lines)))
    return ruleset


def coverage_warnings(ruleset: RuleSet, today: date, days: int = 90) -> list[str]:
    """One warning per year in the next ``days`` days that the working-day calendar lacks."""
    calendar = WorkCalendar(ruleset.calendar)
    warnings: list[str] = []
    start, end = today, today + timedelta(days=days)
    while start < end:
        missing = calendar.known_through(start, (end - start).days)
        if missing is None:
            break
        warnings.append(
            f"calendar: the working-day calendar does not cover {missing} (within the next "
            f"{days} days); add the year's holidays and make-up days under "
            f"calendar.years.{missing.year} — until then weekends-only is assumed"
        )
        start = date(missing.year + 1, 1, 1)
    return warnings


def _parse(text: str, tree: _Tree) -> Any:
    loader = yaml.SafeLoader(text)
    try:
        root = loader.get_single_node()
        if root is None:
            return None
        return _build(loader, root, (), tree, set())
    finally:
        loader.dispose()


def _mark(node: yaml.Node) -> tuple[int, int]:
    return node.start_mark.line, node.start_mark.column


def _build(
    loader: yaml.SafeLoader, node: yaml.Node, at: Path_, tree: _Tree, active: set[int]
) -> Any:
    tree.values[at] = _mark(node)
    if isinstance(node, yaml.ScalarNode):
        value = tree.scalars[at] = _scalar(loader, node)
        return value
    if node.tag not in ("tag:yaml.org,2002:seq", "tag:yaml.org,2002:map"):
        raise yaml.MarkedYAMLError(
            problem=f"unexpected tag {node.tag}", problem_mark=node.start_mark
        )
    if id(node) in active:
        raise yaml.MarkedYAMLError(problem="an alias contains itself", problem_mark=node.start_mark)
    active.add(id(node))
    try:
        if isinstance(node, yaml.SequenceNode):
            tree.sequences.add(at)
            items = enumerate(node.value)
            return [_build(loader, item, (*at, i), tree, active) for i, item in items]
        assert isinstance(node, yaml.MappingNode)
        _check_duplicates(loader, node, at, tree)
        loader.flatten_mapping(node)
        result: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = _key(loader, key_node, tree)
            tree.keys[(*at, key)] = _mark(key_node)
            result[key] = _build(loader, value_node, (*at, key), tree, active)
        return result
    finally:
        active.discard(id(node))


def _scalar(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> Any:
    try:
        return loader.construct_object(node, deep=True)
    except ValueError:  # a timestamp like 2027-02-30: let validation name the field
        loader.recursive_objects.pop(node, None)  # PyYAML leaves it marked as in progress
        return node.value


def _key(loader: yaml.SafeLoader, node: yaml.Node, tree: _Tree) -> Hashable:
    if isinstance(node, yaml.ScalarNode):
        return _scalar(loader, node)  # type: ignore[no-any-return]
    key = loader.construct_object(node, deep=True)
    if isinstance(key, Hashable):
        return key
    tree.problems.append((*_mark(node), "a key must be a plain value"))
    return repr(key)


def _check_duplicates(
    loader: yaml.SafeLoader, node: yaml.MappingNode, at: Path_, tree: _Tree
) -> None:
    # PyYAML keeps the last of two equal keys without a word; merge keys (<<) may repeat.
    first: dict[Any, int] = {}
    for key_node, _ in node.value:
        if key_node.tag == "tag:yaml.org,2002:merge" or not isinstance(key_node, yaml.ScalarNode):
            continue
        key = _scalar(loader, key_node)
        mark = key_node.start_mark
        if key in first:
            tree.problems.append(
                (
                    mark.line,
                    mark.column,
                    f"{_dotted((*at, key), tree)}: duplicate key {key!r} "
                    f"(first at line {first[key] + 1})",
                )
            )
        else:
            first[key] = mark.line


def _validation_problems(errors: list[ErrorDetails], tree: _Tree) -> list[tuple[int, int, str]]:
    # Union members add their own names to loc (``date``, ``function-after[...]``): group the
    # errors by the union's position and keep the branch that fits the input's shape.
    by_union: dict[Path_, list[tuple[int, int, str, bool]]] = {}
    problems: list[tuple[int, int, str]] = []
    for error in errors:
        kept, union_at, missing = _resolve(error, tree)
        line, col = _position(kept, error, tree)
        shown = (*kept, missing) if missing is not None else kept
        message = f"{_dotted(shown, tree)}: {_message(error, kept, missing)}"
        if union_at is None:
            problems.append((line, col, message))
        else:
            mismatch = error["type"].endswith("_type")
            by_union.setdefault(union_at, []).append((line, col, message, mismatch))
    for group in by_union.values():
        fitting = [item for item in group if not item[3]]
        if fitting:
            problems.extend((line, col, message) for line, col, message, _ in fitting)
        else:
            line, col = group[0][0], group[0][1]
            prefix = group[0][2].split(": ", 1)[0]
            alternatives = " or ".join(dict.fromkeys(m.split(": ", 1)[1] for *_, m, _ in group))
            problems.append((line, col, f"{prefix}: {alternatives}"))
    return problems


def _resolve(error: ErrorDetails, tree: _Tree) -> tuple[Path_, Path_ | None, str | None]:
    """The loc's parts that are keys in the YAML, where a union branch began, a missing key."""
    loc = error["loc"]
    kept: Path_ = ()
    union_at: Path_ | None = None
    for index, part in enumerate(loc):
        candidate = (*kept, part)
        if candidate in tree.values or candidate in tree.keys:
            kept = candidate
        elif part == "[key]":
            continue
        elif index == len(loc) - 1 and error["type"] == "missing":
            return kept, union_at, str(part)
        elif union_at is None:
            union_at = kept
    return kept, union_at, None


def _position(kept: Path_, error: ErrorDetails, tree: _Tree) -> tuple[int, int]:
    # An unknown key and a bad key point at the key; everything else at its value.
    about_key = error["type"] == "extra_forbidden" or error["loc"][-1:] == ("[key]",)
    if about_key and kept in tree.keys:
        return tree.keys[kept]
    while kept not in tree.values and kept:
        kept = kept[:-1]
    return tree.values.get(kept, (0, 0))


def _message(error: ErrorDetails, kept: Path_, missing: str | None) -> str:
    kind = error["type"]
    given = error.get("input")
    if kind == "extra_forbidden":
        return f"unknown key {kept[-1]!r}" if kept else "unknown key"
    if kind == "missing":
        return f"required key {missing!r} is missing" if missing else "required key is missing"
    if kind in ("literal_error", "enum"):
        expected = re.findall(r"'([^']*)'", str(error.get("ctx", {}).get("expected", "")))
        names = [p for p in kept if isinstance(p, str)]
        if error["loc"][-1:] == ("[key]",):
            names = names[:-1]
        noun = _NOUNS.get(names[-1], "value") if names else "value"
        choices = (
            f"{expected[0]} or {expected[1]}"
            if len(expected) == 2
            else "one of " + ", ".join(expected)
        )
        return f"unknown {noun} {given!r}; expected {choices}"
    message = error["msg"].removeprefix("Value error, ")
    if kind.endswith(("_type", "_parsing")):
        message += f", got {_describe(given)}"
    return message


def _describe(value: Any) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return repr(value)


def _dotted(at: Path_, tree: _Tree) -> str:
    text = ""
    for index, part in enumerate(at):
        if isinstance(part, int) and at[:index] in tree.sequences:
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text or "(top level)"


def _refine(at: Path_, message: str, tree: _Tree) -> tuple[int, int]:
    """Point a problem that names a date at that date's last entry under ``at``."""
    found = re.search(r"\d{4}-\d{2}-\d{2}", message)
    if found:
        day = date.fromisoformat(found.group())
        entries = [
            tree.values[p]
            for p, value in tree.scalars.items()
            if p[: len(at)] == at and type(value) is date and value == day
        ]
        if entries:
            return max(entries)
    while at not in tree.values and at:
        at = at[:-1]
    return tree.values.get(at, (0, 0))
