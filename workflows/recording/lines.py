"""Reading what people hand in as JSON, safely: a file's text in the encodings offices save
in, and a JSON value within limits, refused with a message that names where the problem is
and never echoes the value. Pure.

The standard library's ``json`` takes any nesting until Python's recursion limit (a
20,000-deep value ends in a ``RecursionError``), keeps the last of duplicate keys without a
word, and takes any length: the limits are checked here, the depth before parsing.
"""

from __future__ import annotations

import codecs
import json
from typing import Any

from workflows.errors import BadInput

__all__ = [
    "LONGEST_KEY",
    "LONGEST_LINE",
    "LONGEST_TEXT",
    "DEEPEST",
    "decode_text",
    "loads_limited",
    "shown",
]

LONGEST_LINE = 65_536  # characters of one line, or of one --data value
LONGEST_KEY = 64  # characters of an object's key
LONGEST_TEXT = 10_000  # characters of one text value
DEEPEST = 16  # objects and lists within one another

_BOM = codecs.BOM_UTF8


def decode_text(data: bytes, *, where: str) -> str:
    """A file's text: UTF-8 (a byte-order mark, which Windows tools write, is dropped), or
    GBK (GB18030, of which it is a part: what Chinese Excel saves a CSV in). Raise
    :class:`BadInput` naming the first byte that is neither."""
    if data.startswith(_BOM):
        data = data[len(_BOM) :]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as utf8:
        try:
            return data.decode("gb18030")
        except UnicodeDecodeError:
            raise BadInput(
                f"{where}: not text in UTF-8 or GBK (byte {data[utf8.start]:#04x} at offset "
                f"{utf8.start:,})"
            ) from None


def shown(value: object, longest: int = 40) -> str:
    """``value`` as a message shows it: its repr, cut to ``longest`` characters."""
    text = repr(value)
    return text if len(text) <= longest else f"{text[: longest - 1]}…"


def loads_limited(text: str, *, what: str = "line") -> Any:
    """The JSON value of ``text``, within the limits above; raise :class:`BadInput` with a
    one-line message that says which limit and where (``data.note``), never the value."""
    if len(text) > LONGEST_LINE:
        raise BadInput(f"{what} is {len(text):,} characters long; at most {LONGEST_LINE:,}")
    depth = _depth(text)
    if depth > DEEPEST:
        raise BadInput(f"{what} is nested {depth} deep; at most {DEEPEST}")
    try:
        value = json.loads(text, object_pairs_hook=_object)
    except json.JSONDecodeError as exc:
        raise BadInput(f"{what} is not valid JSON: {exc.msg} at column {exc.colno}") from None
    except _Duplicate as exc:
        raise BadInput(f"{what}: duplicate key {shown(exc.key)}") from None
    _check_sizes(value, what, ())
    return value


class _Duplicate(ValueError):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for key, value in pairs:
        if key in found:
            raise _Duplicate(key)
        found[key] = value
    return found


def _depth(text: str) -> int:
    """How deep objects and lists go in ``text`` (outside strings), without parsing it."""
    deepest = depth = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    return deepest


def _check_sizes(value: Any, what: str, where: tuple[str, ...]) -> None:
    at = ".".join(where) or what
    if isinstance(value, str) and len(value) > LONGEST_TEXT:
        raise BadInput(f"{at}: text of {len(value):,} characters; at most {LONGEST_TEXT:,}")
    if isinstance(value, dict):
        for key, item in value.items():
            if len(key) > LONGEST_KEY:
                raise BadInput(
                    f"{at}: a key of {len(key):,} characters ({shown(key, 20)}); "
                    f"at most {LONGEST_KEY}"
                )
            _check_sizes(item, what, (*where, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _check_sizes(item, what, (*where, str(index)))
