"""The data each kind of event carries, validated with pydantic (``extra="forbid"``)."""

from __future__ import annotations

import types
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import Any, Literal, Union, get_args, get_origin

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError, field_validator
from pydantic.fields import FieldInfo

from models.values import EventKind, Risk

__all__ = ["DataField", "EventData", "InvalidEventData"]


class InvalidEventData(ValueError):
    """Event data that does not fit its kind."""


class _Data(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    note: str | None = Field(default=None, max_length=2000)

    @field_validator("*")
    @classmethod
    def _no_nul(cls, value: Any) -> Any:
        if isinstance(value, str) and "\x00" in value:
            raise ValueError("text may not contain a NUL character")
        return value


class _Report(_Data):
    risk: Risk


class _Assign(_Data):
    person: str = Field(min_length=1)


class _Assess(_Data):
    risk: Risk


class _Mediate(_Data):
    method: Literal["people", "administrative", "judicial"] | None = None


class _Resolve(_Data):
    method: Literal["people", "administrative", "judicial"]
    agreement: Literal["oral", "written"]


class _Visit(_Data):
    outcome: Literal["stable", "relapsed"]


class _Reopen(_Data):
    risk: Risk | None = None


class _Refer(_Data):
    to: Literal["court", "arbitration", "police", "petition"]


class _Pause(_Data):
    reason: str = Field(min_length=1, max_length=500)


class _Escalate(_Data):
    rule: str | None = None


class _Supervise(_Data):
    deadline: AwareDatetime
    rule: str | None = None

    @field_validator("deadline")
    @classmethod
    def _plausible(cls, value: datetime) -> datetime:
        if not 2000 <= value.year <= 2100:
            raise ValueError("the deadline must fall in the years 2000-2100")
        return value


class _Note(_Data):
    text: str = Field(min_length=1, max_length=2000)


_MODELS: dict[EventKind, type[_Data]] = {
    EventKind.report: _Report,
    EventKind.assign: _Assign,
    EventKind.assess: _Assess,
    EventKind.mediate: _Mediate,
    EventKind.resolve: _Resolve,
    EventKind.visit: _Visit,
    EventKind.reopen: _Reopen,
    EventKind.refer: _Refer,
    EventKind.pause: _Pause,
    EventKind.escalate: _Escalate,
    EventKind.supervise: _Supervise,
    EventKind.note: _Note,
}


@dataclass(frozen=True)
class DataField:
    """One field of a kind's data, as a form asks for it: ``kind`` is ``choice`` (one of
    ``choices``), ``text``, ``long_text`` or ``time`` (with an offset)."""

    name: str
    kind: Literal["choice", "text", "long_text", "time"]
    required: bool
    choices: tuple[str, ...] = ()
    max_length: int | None = None


class EventData:
    """Validation and description of event data by kind."""

    @staticmethod
    def fields(kind: EventKind) -> tuple[DataField, ...]:
        """The fields of a kind's data, its own first and the free ``note`` last (a ``note``
        event's own ``text`` is its note)."""
        model = _MODELS.get(kind, _Data)
        own = [_field(name, info) for name, info in model.model_fields.items() if name != "note"]
        if kind is EventKind.note:
            return tuple(own)
        return (*own, _field("note", model.model_fields["note"]))

    @staticmethod
    def validate(kind: EventKind, raw: dict[str, Any] | None) -> dict[str, Any]:
        """The data normalised to JSON-ready values; raise :class:`InvalidEventData`."""
        model = _MODELS.get(kind, _Data)
        try:
            parsed = model.model_validate(raw or {})
        except ValidationError as exc:
            problems = []
            for error in exc.errors():
                where = ".".join(str(p) for p in error["loc"]) or "data"
                message = (
                    "unknown field"
                    if error["type"] == "extra_forbidden"
                    else error["msg"].removeprefix("Value error, ")
                )
                problems.append(f"{where}: {message}")
            raise InvalidEventData(f"{kind} data: {'; '.join(problems)}") from None
        data = parsed.model_dump(mode="json", exclude_none=True)
        if isinstance(getattr(parsed, "deadline", None), datetime):
            data["deadline"] = parsed.deadline.isoformat()  # type: ignore[attr-defined]
        return data

    @staticmethod
    def describe(kind: EventKind) -> str:
        """The fields of a kind's data, for the transition table of docs/rules.md."""
        model = _MODELS.get(kind, _Data)
        parts = []
        for name, info in model.model_fields.items():
            if name == "note":
                continue
            required = "" if info.is_required() else " (optional)"
            parts.append(f"`{name}`{required}: {_type_name(info.annotation)}")
        return ", ".join(parts)


def _field(name: str, info: FieldInfo) -> DataField:
    annotation = info.annotation
    if get_origin(annotation) in (Union, types.UnionType):
        annotation = next(a for a in get_args(annotation) if a is not type(None))
    longest = next((m.max_length for m in info.metadata if hasattr(m, "max_length")), None)
    required = info.is_required()
    if get_origin(annotation) is Literal:
        return DataField(name, "choice", required, tuple(str(a) for a in get_args(annotation)))
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        return DataField(name, "choice", required, tuple(str(m.value) for m in annotation))
    if annotation is AwareDatetime or annotation is datetime:
        return DataField(name, "time", required)
    kind: Literal["text", "long_text"] = "long_text" if (longest or 0) > 500 else "text"
    return DataField(name, kind, required, max_length=longest)


def _type_name(annotation: Any) -> str:
    origin = get_origin(annotation)
    if origin is Literal:
        return "/".join(str(a) for a in get_args(annotation))
    if origin in (Union, types.UnionType):
        return " or ".join(_type_name(a) for a in get_args(annotation) if a is not type(None))
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        return "/".join(str(m.value) for m in annotation)
    if annotation is AwareDatetime or annotation is datetime:
        return "time with offset"
    if annotation is str:
        return "text"
    return getattr(annotation, "__name__", str(annotation))
