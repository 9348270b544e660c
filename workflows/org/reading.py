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
_DEPTH = 50  # nesting an entry may have (an entry is two levels deep)


class _Always:
    """Contains every character."""

    def __contains__(self, _: object) -> bool:
        return True


_ALWAYS: Any = _Always()

# (section, index, line, value) for an entry of a section; (key, -1, line, value) for any
# other key of the document, which the caller refuses or checks.
Entry = tuple[str, int, int, Any]


def entries(path: Path, text: str) -> Iterator[Entry]:
    """The entries of the org file, in order, each as soon as it is read; a document that
    is not a mapping is yielded whole as ``("", -1, 1, value)``. Raise :class:`BadInput`
    with ``file:line:col`` if the YAML is not valid."""
    loader = _Loader(text)
    try:
        yield from _document(loader, path)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        raise BadInput(f"{where}: not valid YAML: {getattr(exc, 'problem', exc)}") from None
    finally:
        loader.dispose()


def _document(loader: Any, path: Path) -> Iterator[Entry]:
    loader.get_event()  # the stream's start
    if loader.check_event(StreamEndEvent):
        return  # an empty file
    loader.get_event()  # the document's start
    anchors: dict[str, Any] = {}
    first = loader.get_event()
    if not isinstance(first, MappingStartEvent):
        yield "", -1, 1, _value(loader, first, anchors, path, 0)
    else:
        while not loader.check_event(MappingEndEvent):
            key_event = loader.get_event()
            key = _value(loader, key_event, anchors, path, 1)
            line = key_event.start_mark.line + 1
            if key in SECTIONS and loader.check_event(SequenceStartEvent):
                loader.get_event()
                index = 0
                while not loader.check_event(SequenceEndEvent):
                    event = loader.get_event()
                    value = _value(loader, event, anchors, path, 2)
                    yield key, index, event.start_mark.line + 1, value
                    index += 1
                loader.get_event()
            else:
                yield str(key), -1, line, _value(loader, loader.get_event(), anchors, path, 1)
        loader.get_event()
    end = loader.get_event()
    if isinstance(end, DocumentEndEvent) and not loader.check_event(StreamEndEvent):
        at = loader.peek_event().start_mark
        raise BadInput(f"{path}:{at.line + 1}:{at.column + 1}: more than one YAML document")


def _value(loader: Any, event: Any, anchors: dict[str, Any], path: Path, depth: int) -> Any:
    """The value that starts with ``event`` (already taken), its events taken."""
    if type(event) is ScalarEvent and event.anchor is None:
        return _scalar(loader, event)
    if depth > _DEPTH:
        at: Any = event.start_mark
        raise BadInput(f"{path}:{at.line + 1}:{at.column + 1}: nested too deeply")
    if isinstance(event, AliasEvent):
        if event.anchor not in anchors:
            mark: Any = event.start_mark
            raise BadInput(
                f"{path}:{mark.line + 1}:{mark.column + 1}: unknown alias {event.anchor}"
            )
        return anchors[event.anchor]
    value: Any
    if isinstance(event, ScalarEvent):
        value = _scalar(loader, event)
    elif isinstance(event, SequenceStartEvent):
        value = []
        while not loader.check_event(SequenceEndEvent):
            value.append(_value(loader, loader.get_event(), anchors, path, depth + 1))
        loader.get_event()
    else:
        value = {}
        while not loader.check_event(MappingEndEvent):
            key_event = loader.get_event()
            key = _value(loader, key_event, anchors, path, depth + 1)
            try:
                value[key] = _value(loader, loader.get_event(), anchors, path, depth + 1)
            except TypeError:  # a list or a mapping as a key
                at = key_event.start_mark
                raise BadInput(
                    f"{path}:{at.line + 1}:{at.column + 1}: a key must be a plain value"
                ) from None
        loader.get_event()
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
