"""The outbox: messages written in the transaction of the change that causes them, one row
per address, delivered later by ``messaging.delivery``."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any, NamedTuple

import structlog
from sqlalchemy import Engine
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, select

from models.tables import OutboxMessage, Person, Unit
from models.targets import Target
from models.values import Actor, Channel, MessageKind, OutboxState, Role, UnitLevel
from workflows.access import Forbidden
from workflows.db import insert_ignoring_duplicates, transaction
from workflows.driver import execute_many, fetch, fetch_together, one_of

__all__ = [
    "OUTBOX",
    "Address",
    "addresses",
    "addresses_of",
    "enqueue",
    "message_rows",
    "queue_messages",
    "retry_dead",
]

log = structlog.get_logger(__name__)

OUTBOX = OutboxMessage.__table__  # type: ignore[attr-defined]
PEOPLE = Person.__table__  # type: ignore[attr-defined]
UNITS = Unit.__table__  # type: ignore[attr-defined]


# Each dialect's insert ignoring a message already queued, compiled once (workflows.driver).
_QUEUED = {
    "postgresql": postgresql_insert(OUTBOX).on_conflict_do_nothing(),
    "sqlite": sqlite_insert(OUTBOX).on_conflict_do_nothing(),
}


class Address(NamedTuple):
    """Where one copy of a message goes: whom it is for (a target), by which channel, to
    which address."""

    recipient: str
    channel: str
    address: str


def addresses(session: Session, target: Target, *, own_only: bool = False) -> list[Address]:
    """The addresses of a person, or of a unit: its own and those of its staff (the
    supervisors of a township or county, the mediators of a village or grid)."""
    return addresses_of(session, [target], own_only=own_only)[target]


def _statements(dialect: str) -> dict[str, Any]:
    return {
        # Someone who left is not written to, nor as their unit's staff.
        "people": select(PEOPLE.c.id, PEOPLE.c.contacts).where(
            one_of(PEOPLE.c.id, "ids", dialect), PEOPLE.c.left_at.is_(None)
        ),
        "units": select(UNITS.c.code, UNITS.c.level, UNITS.c.parent_code, UNITS.c.contacts).where(
            one_of(UNITS.c.code, "ids", dialect)
        ),
        "staff": select(PEOPLE.c.id, PEOPLE.c.unit_code, PEOPLE.c.role, PEOPLE.c.contacts)
        .where(one_of(PEOPLE.c.unit_code, "ids", dialect), PEOPLE.c.left_at.is_(None))
        .order_by(PEOPLE.c.id),
    }


_ADDRESSES = {dialect: _statements(dialect) for dialect in ("postgresql", "sqlite")}


def addresses_of(
    session: Session, targets: Collection[Target], *, own_only: bool = False
) -> dict[Target, list[Address]]:
    """:func:`addresses` of each of ``targets``, in one round trip however many they are
    (two if a grid without a worker of its own is among them)."""
    statements = _ADDRESSES[session.get_bind().dialect.name]
    people_ids = sorted({t.ref for t in targets if t.is_person})
    unit_codes = sorted({t.ref for t in targets if not t.is_person})
    found_people, found_units, found_staff = fetch_together(
        session,
        [
            (statements["people"], {"ids": people_ids}),
            (statements["units"], {"ids": unit_codes}),
            (statements["staff"], {"ids": [] if own_only else unit_codes}),
        ],
    )
    people = {p.id: p for p in found_people}
    units = {u.code: u for u in found_units}
    staff: dict[str, list[Any]] = {}
    for person in found_staff:
        if person.role == UnitLevel(units[person.unit_code].level).staff:
            staff.setdefault(person.unit_code, []).append(person)
    if units and not own_only:
        # A grid with no worker of its own is covered by its village's mediators.
        bare = {
            code: unit.parent_code
            for code, unit in units.items()
            if unit.level == UnitLevel.grid and code not in staff and unit.parent_code
        }
        if bare:
            covering: dict[str, list[Any]] = {}
            villages = sorted(set(bare.values()))
            for person in fetch(session, statements["staff"], {"ids": villages}):
                if person.role == Role.mediator:
                    covering.setdefault(person.unit_code, []).append(person)
            for grid, village in bare.items():
                staff[grid] = covering.get(village, [])
    found: dict[Target, list[Address]] = {}
    for target in targets:
        holders: list[tuple[Target, dict[str, Any]]] = []
        if target.is_person:
            if target.ref in people:
                holders.append((target, people[target.ref].contacts))
        elif target.ref in units:
            holders.append((target, units[target.ref].contacts))
            holders.extend((Target.of_person(p.id), p.contacts) for p in staff.get(target.ref, []))
        found[target] = [
            Address(str(holder), channel.value, str(address))
            for holder, contacts in holders
            for channel in Channel
            for address in _listed(contacts.get(channel.value, []))
        ]
    return found


def _listed(values: Any) -> list[Any]:
    return values if isinstance(values, list) else [values]


def message_rows(
    found: list[Address],
    *,
    kind: MessageKind,
    key: str,
    title: str,
    body: str,
    not_before: datetime,
    now: datetime,
    dispute_id: int | None = None,
    task_id: int | None = None,
    risk: str | None = None,
    act: str | None = None,
    link: str | None = None,
) -> list[dict[str, Any]]:
    """The outbox rows of one message to the addresses ``found``; ``key`` identifies the
    message, so that it is queued once however often the change that causes it runs.
    ``link`` is the page where its task is done, which stands in for the text ``act`` of
    the body once the sender knows the web app's address."""
    return [
        {
            "key": key,
            "kind": kind,
            "recipient": recipient,
            "channel": channel,
            "address": address,
            "dispute_id": dispute_id,
            "task_id": task_id,
            "title": title,
            "body": body,
            "state": OutboxState.pending,
            "attempts": 0,
            "next_attempt_at": not_before,
            "created_at": now,
            "risk": risk,
            "act": act,
            "link": link,
        }
        for recipient, channel, address in found
    ]


def queue_messages(session: Session, rows: list[dict[str, Any]]) -> None:
    """Queue messages, skipping any whose (key, channel, address) is already queued: the
    idempotency key is the last line of defence against a message written twice."""
    if rows:
        execute_many(session, _QUEUED[session.get_bind().dialect.name], rows)


def enqueue(
    session: Session,
    *,
    target: Target,
    own_addresses_only: bool = False,
    **message: Any,
) -> int:
    """Queue a message (the fields of :func:`message_rows`) to every address of ``target``,
    once per key; return how many copies are new."""
    found = addresses(session, target, own_only=own_addresses_only)
    if not found:
        log.info(
            "no_contact",
            target=str(target),
            dispute_id=message.get("dispute_id"),
            key=message["key"],
        )
        return 0
    return insert_ignoring_duplicates(session, OutboxMessage, message_rows(found, **message))


def retry_dead(*, engine: Engine, now: datetime, actor: Actor) -> int:
    """Queue every dead message again; return how many. The operator's, not the web's."""
    if actor.checked:
        raise Forbidden("dead messages are queued again by the operator, not on the web")
    with transaction(engine) as session:
        rows = session.exec(
            select(OutboxMessage).where(OutboxMessage.state == OutboxState.dead)
        ).all()
        for row in rows:
            row.state, row.attempts, row.next_attempt_at = OutboxState.pending, 0, now
            row.last_error = None
            session.add(row)
    log.info("outbox_retried", messages=len(rows), actor=actor.name)
    return len(rows)
