"""Reading the org file entry by entry, with each entry's line.

PyYAML composes a whole document into nodes before it builds a single value: a province's
file (100,000 units and 200,000 people, 33 MB) became 1.9 GB of nodes and took 73 s, most
of it the cyclic garbage collector walking them. Here libyaml's parser (PyYAML's
``CSafeLoader``, the pure-Python one where libyaml is missing) gives the events, and each
entry of ``units`` and ``people`` is built from them and handed on at once; scalars are
typed by PyYAML's own resolver and constructor, so a value means what ``yaml.safe_load``
makes of it. PyYAML has no per-entry loading, hence this small builder.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml
from yaml.events import (
    AliasEvent,
    DocumentEndEvent,
    MappingEndEvent,
    MappingStartEvent,
    ScalarEvent,
    SequenceEndEvent,
    SequenceStartEvent,
    StreamEndEvent,
)
from yaml.nodes import ScalarNode

from workflows.errors import BadInput

__all__ = ["SECTIONS", "Entry", "entries"]

SECTIONS = ("units", "people")
_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_STR = "tag:yaml.org,2002:str"
_TEXTS = 10_000  # plain scalars remembered as resolved to text or not
_DEPTH = 50  # nesting an entry may have (an entry is two levels deep)


class _Always:
    """Contains every character."""

    def __contains__(self, _: object) -> bool:
        return True


_ALWAYS: Any = _Always()

# (section, index, line, value) for an entry of a section; (key, -1, line, value) for any
# other key of the document, which the caller refuses or checks.
Entry = tuple[str, int, int, Any]


def entries(path: Path, text: str | bytes) -> Iterator[Entry]:
    """The entries of the org file, in order, each as soon as it is read; a document that
    is not a mapping is yielded whole as ``("", -1, 1, value)``. Raise :class:`BadInput`
    with ``file:line:col`` if the YAML is not valid."""
    loader = _Loader(text)
    # Plain scalars the resolver found to be text (or not), by value: "name" as a key
    # starts like "null" and "no", so the resolver's patterns would be tried on every entry.
    loader.fengqiao_texts = {}
    try:
        yield from _document(loader, path)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        raise BadInput(f"{where}: not valid YAML: {getattr(exc, 'problem', exc)}") from None
    finally:
        loader.dispose()


def _document(loader: Any, path: Path) -> Iterator[Entry]:
    get = loader.get_event
    get()  # the stream's start
    if loader.check_event(StreamEndEvent):
        return  # an empty file
    get()  # the document's start
    anchors: dict[str, Any] = {}
    first = get()
    if type(first) is not MappingStartEvent:
        yield "", -1, 1, _value(loader, first, anchors, path, 0)
    else:
        while True:
            key_event = get()
            if type(key_event) is MappingEndEvent:
                break
            key = _value(loader, key_event, anchors, path, 1)
            line = key_event.start_mark.line + 1
            if key in SECTIONS and loader.check_event(SequenceStartEvent):
                get()
                index = 0
                while True:
                    event = get()
                    kind = type(event)
                    if kind is SequenceEndEvent:
                        break
                    if kind is MappingStartEvent:
                        value = _mapping(loader, event, anchors, path, 2)
                    else:
                        value = _value(loader, event, anchors, path, 2)
                    yield key, index, event.start_mark.line + 1, value
                    index += 1
            else:
                yield str(key), -1, line, _value(loader, get(), anchors, path, 1)
    end = get()
    if type(end) is DocumentEndEvent and not loader.check_event(StreamEndEvent):
        at = loader.peek_event().start_mark
        raise BadInput(f"{path}:{at.line + 1}:{at.column + 1}: more than one YAML document")


def _value(loader: Any, event: Any, anchors: dict[str, Any], path: Path, depth: int) -> Any:
    """The value that starts with ``event`` (already taken), its events taken. Its plain
    and quoted scalars that are text (most of a file) are taken here without a call."""
    kind = type(event)
    if kind is ScalarEvent and event.anchor is None:
        return _scalar(loader, event)
    if depth > _DEPTH:
        at: Any = event.start_mark
        raise BadInput(f"{path}:{at.line + 1}:{at.column + 1}: nested too deeply")
    if kind is AliasEvent:
        if event.anchor not in anchors:
            mark: Any = event.start_mark
            raise BadInput(
                f"{path}:{mark.line + 1}:{mark.column + 1}: unknown alias {event.anchor}"
            )
        return anchors[event.anchor]
    get = loader.get_event
    value: Any
    if kind is ScalarEvent:
        value = _scalar(loader, event)
    elif kind is SequenceStartEvent:
        value = []
        while True:
            item = get()
            if type(item) is SequenceEndEvent:
                break
            value.append(_value(loader, item, anchors, path, depth + 1))
    else:
        return _mapping(loader, event, anchors, path, depth)
    if event.anchor is not None:
        anchors[event.anchor] = value
    return value


def _mapping(loader: Any, event: Any, anchors: dict[str, Any], path: Path, depth: int) -> Any:
    """The mapping that starts with ``event`` (already taken), its events taken."""
    if depth > _DEPTH:
        at: Any = event.start_mark
        raise BadInput(f"{path}:{at.line + 1}:{at.column + 1}: nested too deeply")
    get = loader.get_event
    value = {}
    first = _RESOLVED_FIRST
    texts = loader.fengqiao_texts
    while True:
        key_event = get()
        kind = type(key_event)
        if kind is MappingEndEvent:
            break
        if (
            kind is ScalarEvent
            and key_event.anchor is None
            and key_event.tag is None
            and (
                not key_event.implicit[0]
                or (key_event.value and key_event.value[0] not in first)
                or texts.get(key_event.value) is True
            )
        ):
            key = key_event.value  # text: _scalar's answer without asking
        else:
            key = _value(loader, key_event, anchors, path, depth + 1)
        item = get()
        if (
            type(item) is ScalarEvent
            and item.anchor is None
            and item.tag is None
            and (
                not item.implicit[0]
                or (item.value and item.value[0] not in first)
                or texts.get(item.value) is True
            )
        ):
            found = item.value
        elif type(item) is MappingStartEvent:
            found = _mapping(loader, item, anchors, path, depth + 1)
        else:
            found = _value(loader, item, anchors, path, depth + 1)
        try:
            value[key] = found
        except TypeError:  # a list or a mapping as a key
            at = key_event.start_mark
            raise BadInput(
                f"{path}:{at.line + 1}:{at.column + 1}: a key must be a plain value"
            ) from None
    if event.anchor is not None:
        anchors[event.anchor] = value
    return value


def _scalar(loader: Any, event: ScalarEvent) -> Any:
    """A scalar as ``yaml.safe_load`` reads it: its tag given or resolved (a plain ``12``
    is a number, ``"12"`` text), then constructed. A quoted scalar, and a plain one whose
    first character no implicit type starts with (PyYAML's resolver looks no further), is
    text without asking."""
    tag = event.tag
    value = event.value
    if tag is None or tag == "!":
        plain = event.implicit[0]
        if not plain or (value and value[0] not in _RESOLVED_FIRST):
            return value
        tag = loader.resolve(ScalarNode, value, event.implicit)
        if len(loader.fengqiao_texts) < _TEXTS:
            loader.fengqiao_texts[value] = tag == _STR
    if tag == _STR:
        return value
    start: Any = event.start_mark
    node = ScalarNode(tag, value, start, event.end_mark, event.style)  # type: ignore[arg-type]
    constructed = loader.construct_object(node)
    loader.constructed_objects.clear()
    return constructed


# The first characters of the plain scalars PyYAML's resolver may type as other than text
# (numbers, booleans, null, times, merge keys …); a resolver for any first character
# (None) would make every plain scalar go through it.
_RESOLVED_FIRST = (
    set(_Loader.yaml_implicit_resolvers) if None not in _Loader.yaml_implicit_resolvers else _ALWAYS
)
