"""What people give, checked before anything is recorded: events and new disputes."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from types import MappingProxyType
from typing import Any

from models.events import EventData, InvalidEventData
from models.lifecycle import BY_ORG_ONLY, Event
from models.parties import InvalidParties, validate_parties
from models.values import EventKind, Risk
from rules.schema import Category, Source, lookup
from workflows.access import Forbidden
from workflows.errors import BadInput, NotFound
from workflows.recording.lines import shown

__all__ = [
    "RECORDABLE",
    "EventForbidden",
    "EventRefused",
    "NewDispute",
    "category_of",
    "NewEvent",
    "check_dispute",
    "check_time",
    "checked_parties",
    "named_people",
    "report_data",
    "validated",
]

RECORDABLE = tuple(k for k in EventKind if k is not EventKind.report and k not in BY_ORG_ONLY)


@dataclass(frozen=True)
class NewEvent:
    """An event as a person gives it, not yet validated. ``actor`` is who did it, by
    default whoever records it."""

    kind: str
    at: datetime | None = None
    actor: str | None = None
    data: dict[str, Any] | None = field(default=None)
    key: str | None = None  # an imported line's: recorded once, however often imported


@dataclass(frozen=True)
class NewDispute:
    """A dispute as it is reported, not yet validated; it is reported by whoever records it."""

    unit: str
    risk: str
    category: str
    title: str
    at: datetime | None = None
    people_involved: int = 1
    parties: Sequence[dict[str, Any]] = ()
    location: str | None = None
    # where it came from; a court's delegation (court_delegated, 委派) or entrustment
    # (court_entrusted, 委托) names the court and may give the court's deadline
    source: str | None = None
    court: str | None = None
    court_deadline: datetime | None = None
    description: str | None = None  # 纠纷简要情况
    # a row of an office's ledger: its number there (kept with the importing unit's code,
    # so the row is brought in once), and when its clocks start (the import)
    ledger_no: str | None = None
    ledger_unit: str | None = None
    clocks_from: datetime | None = None


class EventRefused(BadInput):
    """An event that cannot be recorded; ``index`` is its position in the batch."""

    def __init__(self, message: str, *, index: int) -> None:
        super().__init__(message)
        self.index = index


class EventForbidden(EventRefused, Forbidden):
    """An event the person's role may not record (HTTP 403, with the reason)."""


def report_data(new: NewDispute, *, now: datetime, sources: Mapping[str, Source]) -> dict[str, Any]:
    """The data of the dispute's ``report`` event, its source one of ``sources`` (the rule
    file's, by code or name; any, if it has none); raise :class:`BadInput`."""
    if new.source is not None and sources:
        code = lookup(sources, new.source)
        if code is None:
            raise BadInput(f"unknown source {new.source!r}; known: {', '.join(sources)}")
        new = replace(new, source=code)
    court_source = new.source is not None and new.source in sources and sources[new.source].court
    if court_source and not (new.court or "").strip():
        raise BadInput(f"a dispute from a court ({new.source}) names the court: give the court")
    if not court_source and (new.court is not None or new.court_deadline is not None):
        raise BadInput("a court and its deadline go with a court's source (court_delegated, …)")
    raw: dict[str, Any] = {"risk": new.risk}
    for name in ("source", "court", "court_deadline", "description", "ledger_no", "clocks_from"):
        value = getattr(new, name)
        if value is not None:
            raw[name] = value.isoformat() if isinstance(value, datetime) else value
    try:
        data = EventData.validate(EventKind.report, raw)
    except InvalidEventData as exc:
        raise BadInput(str(exc).replace("report data: ", "", 1)) from None
    at = new.at or now
    if new.court_deadline is not None and new.court_deadline <= at:
        raise BadInput(
            f"the court's deadline {new.court_deadline.isoformat()} is not after the report "
            f"({at.isoformat()})"
        )
    return data


def category_of(new: NewDispute, categories: Mapping[str, Category]) -> str:
    """The code of the dispute's category, one of ``categories`` (the rule file's, by code
    or any of its names); as given if the rules keep no list; raise :class:`BadInput`."""
    given = new.category.strip()
    if not categories:
        return given
    code = lookup(categories, given)
    if code is None:
        raise BadInput(
            f"unknown category {shown(given)}; known: {', '.join(categories)} "
            "(or their names, as the rule file gives them)"
        )
    return code


def check_dispute(new: NewDispute, *, now: datetime) -> Risk:
    """Refuse a dispute that cannot be reported as given; its risk."""
    check_time(new.at or now, now=now)
    try:
        risk = Risk(new.risk)
    except ValueError:
        raise BadInput(f"unknown risk {new.risk!r}; expected one of high, medium, low") from None
    _check_text("category", new.category, 64, required=True)
    _check_text("title", new.title, 500, required=True)
    _check_text("location", new.location, 500)
    _check_text("description", new.description, 2000)
    _check_text("ledger number", new.ledger_no, 64)
    if not 1 <= new.people_involved <= 1_000_000:
        raise BadInput(f"people involved must be between 1 and 1000000, got {new.people_involved}")
    if "\x00" in new.unit:
        raise BadInput("unit may not contain a NUL character")
    return risk


def checked_parties(new: NewDispute) -> list[dict[str, Any]]:
    """The dispute's parties as they are kept: each checked against the schema
    (``models.parties``); raise :class:`BadInput` naming the first problem."""
    try:
        return validate_parties(list(new.parties))
    except InvalidParties as exc:
        raise BadInput(str(exc)) from None


def named_people(events: Sequence[NewEvent], *, actor: str | None) -> set[str]:
    """Everyone the events name: who did them, and who is assigned."""
    named = {e.actor or actor for e in events} | {
        str(e.data["person"]) for e in events if e.data and e.data.get("person")
    }
    return {person for person in named if person and "\x00" not in person}


def validated(
    new: NewEvent,
    *,
    seq: int,
    reported_at: datetime,
    now: datetime,
    actor: str | None,
    people: Collection[str],
    reorganising: bool = False,
) -> Event:
    """The event ``new`` as it is recorded, numbered ``seq``; raise :class:`BadInput`
    naming what is wrong with it. The org's own changes (``reorganise``) are taken only
    from the org's service (``reorganising``)."""
    try:
        kind = EventKind(new.kind)
    except ValueError:
        raise BadInput(
            f"unknown event kind {shown(new.kind)}; expected one of {', '.join(RECORDABLE)}"
        ) from None
    if kind is EventKind.report:
        raise BadInput("a dispute is reported once, by `fengqiao dispute new`")
    if kind in BY_ORG_ONLY and not reorganising:
        raise BadInput(f"{kind} is recorded by `fengqiao org load` when the org changes")
    try:
        data = EventData.validate(kind, new.data)
    except InvalidEventData as exc:
        raise BadInput(str(exc)) from None
    by = new.actor or actor
    if kind is EventKind.acknowledge and not by:
        raise BadInput("acknowledge needs --by: the person acknowledging")
    at = new.at or now
    check_time(at, now=now)
    if at < reported_at:
        raise BadInput(
            f"event time {at.isoformat()} is before the dispute was reported "
            f"({reported_at.isoformat()})"
        )
    for name in ("deadline", "until"):  # a listing's deadline, an extended time limit
        if name in data and datetime.fromisoformat(data[name]) <= at:
            raise BadInput(
                f"{kind} {name} {data[name]} is not after the event's time ({at.isoformat()})"
            )
    for person in (by, data.get("person")):
        if person is not None and person not in people:
            raise NotFound(f"unknown person {shown(person)}")
    return Event(kind=kind, at=at, data=MappingProxyType(data), actor=by, seq=seq, key=new.key)


def check_time(at: datetime, *, now: datetime) -> None:
    if at.tzinfo is None:
        raise BadInput(f"time {at.isoformat()} has no UTC offset")
    if at > now:
        raise BadInput(f"time {at.isoformat()} is in the future (now is {now.isoformat()})")


def _check_text(field: str, value: str | None, longest: int, *, required: bool = False) -> None:
    if value is None or not value.strip():
        if required:
            raise BadInput(f"a dispute needs a non-empty {field}")
        return
    if len(value) > longest:
        raise BadInput(f"{field} is {len(value)} characters long; at most {longest}")
    if "\x00" in value:
        raise BadInput(f"{field} may not contain a NUL character")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise BadInput(f"{field} is not valid text (UTF-8)") from None
