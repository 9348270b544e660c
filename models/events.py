"""The data each kind of event carries, validated with pydantic (``extra="forbid"``)."""

from __future__ import annotations

import types
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import Enum
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
)
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


def _plausible_time(value: datetime, info: ValidationInfo) -> datetime:
    if not 2000 <= value.year <= 2100:
        raise ValueError(f"the {info.field_name or 'time'} must fall in the years 2000-2100")
    return value


Time = Annotated[AwareDatetime, AfterValidator(_plausible_time)]
Name = Annotated[str, Field(min_length=1, max_length=200)]


class _Report(_Data):
    risk: Risk
    # where the dispute came from; court_delegated (委派) and court_entrusted (委托) owe
    # their result to the court
    source: str | None = Field(default=None, min_length=1, max_length=64)
    court: Name | None = None
    court_deadline: Time | None = None
    # 纠纷简要情况: what the dispute is about, as the ledger says it
    description: str | None = Field(default=None, min_length=1, max_length=2000)
    # a dispute brought in from an office's ledger: its number there, and when its clocks
    # start (the import: it is not escalated for the time before)
    ledger_no: str | None = Field(default=None, min_length=1, max_length=64)
    clocks_from: Time | None = None


class _Assign(_Data):
    person: str = Field(min_length=1)


class _Assess(_Data):
    risk: Risk


class _Mediate(_Data):
    method: Literal["people", "administrative", "judicial"] | None = None


class _Resolve(_Data):
    method: Literal["people", "administrative", "judicial"]
    agreement: Literal["oral", "written"]
    # the agreement: the sum it settles (yuan), its terms in brief, who mediated it
    amount: Decimal | None = Field(default=None, ge=0, le=Decimal("1e12"), decimal_places=2)
    terms: str | None = Field(default=None, min_length=1, max_length=500)
    mediators: str | None = Field(default=None, min_length=1, max_length=200)


class _Visit(_Data):
    outcome: Literal["stable", "relapsed"]


class _Reopen(_Data):
    risk: Risk | None = None


class _Refer(_Data):
    to: Literal["court", "arbitration", "police", "petition"]
    body: Name  # the receiving body: which court, police station, office


class _ReferralResult(_Data):
    # handled: accepted and handled there; resolved: resolved there; returned: sent back
    result: Literal["handled", "resolved", "returned"]


class _CourtResult(_Data):
    outcome: Literal["agreement", "no_agreement"]


class _ConfirmationApply(_Data):
    court: Name


class _ConfirmationResult(_Data):
    result: Literal["confirmed", "refused"]


class _Extend(_Data):
    until: Time  # the new time limit both parties agreed to


class _Handback(_Data):
    reason: str | None = Field(default=None, min_length=1, max_length=500)


class _Pause(_Data):
    reason: str = Field(min_length=1, max_length=500)


class _Escalate(_Data):
    rule: str | None = None


class _Supervise(_Data):
    deadline: Time
    rule: str | None = None
    grade: str | None = Field(default=None, min_length=1, max_length=64)
    unit: str | None = Field(default=None, min_length=1, max_length=64)  # who lists it


Code = Annotated[str, Field(min_length=1, max_length=64)]


class _Path(BaseModel):
    """A dispute's units, one per level."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    village: Code
    township: Code
    county: Code


class _Reorganise(_Data):
    # unit_moved: a unit of the dispute's path went under another parent; unit_merged: it
    # was merged into another (``into``); person_moved, person_left: its assignee did
    change: Literal["unit_moved", "unit_merged", "person_moved", "person_left"]
    unit: Code | None = None  # the unit that moved or was merged
    into: Code | None = None  # the unit it was merged into
    staff: Code | None = None  # the person who moved or left
    was: _Path | None = None  # the dispute's units before, and after
    path: _Path | None = None
    reported_unit: Code | None = None  # where it counts as reported, when that changed
    unassigned: Code | None = None  # the assignee released


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
    EventKind.referral_result: _ReferralResult,
    EventKind.court_result: _CourtResult,
    EventKind.confirmation_apply: _ConfirmationApply,
    EventKind.confirmation_result: _ConfirmationResult,
    EventKind.extend: _Extend,
    EventKind.handback: _Handback,
    EventKind.reorganise: _Reorganise,
}


@dataclass(frozen=True)
class DataField:
    """One field of a kind's data, as a form asks for it: ``kind`` is ``choice`` (one of
    ``choices``), ``text``, ``long_text`` or ``time`` (with an offset)."""

    name: str
    kind: Literal["choice", "text", "long_text", "time", "amount"]
    required: bool
    choices: tuple[str, ...] = ()
    max_length: int | None = None


class EventData:
    """Validation and description of event data by kind."""

    @staticmethod
    def fields(kind: EventKind) -> tuple[DataField, ...]:
        """The fields of a kind's data, its own first and the free ``note`` last (a ``note``
        event's own ``text`` is its note); none for what no form records (``reorganise``,
        the org's own)."""
        if kind is EventKind.reorganise:
            return ()
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
        for name in ("deadline", "until", "court_deadline", "clocks_from"):
            moment = getattr(parsed, name, None)
            if isinstance(moment, datetime):
                data[name] = moment.isoformat()  # as given, offset included
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
    metadata = list(info.metadata)
    if get_origin(annotation) is Annotated:
        annotation, *more = get_args(annotation)
        for item in more:
            metadata.extend(item.metadata if isinstance(item, FieldInfo) else [item])
    longest = next((m.max_length for m in metadata if hasattr(m, "max_length")), None)
    required = info.is_required()
    if get_origin(annotation) is Literal:
        return DataField(name, "choice", required, tuple(str(a) for a in get_args(annotation)))
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        return DataField(name, "choice", required, tuple(str(m.value) for m in annotation))
    if annotation is AwareDatetime or annotation is datetime:
        return DataField(name, "time", required)
    if annotation is Decimal:
        return DataField(name, "amount", required)
    kind: Literal["text", "long_text"] = "long_text" if (longest or 0) > 500 else "text"
    return DataField(name, kind, required, max_length=longest)


def _type_name(annotation: Any) -> str:
    if get_origin(annotation) is Annotated:
        annotation = get_args(annotation)[0]
    origin = get_origin(annotation)
    if origin is Literal:
        return "/".join(str(a) for a in get_args(annotation))
    if origin in (Union, types.UnionType):
        return " or ".join(_type_name(a) for a in get_args(annotation) if a is not type(None))
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        return "/".join(str(m.value) for m in annotation)
    if annotation is AwareDatetime or annotation is datetime:
        return "time with offset"
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return "{" + ", ".join(annotation.model_fields) + "}"
    if annotation is str:
        return "text"
    if annotation is Decimal:
        return "amount (up to 2 decimals)"
    return getattr(annotation, "__name__", str(annotation))
