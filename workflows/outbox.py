"""The outbox: messages written with the change that causes them, delivered by a sender.

Delivery is at least once: a message is claimed with a lease, sent, then marked sent; a
sender killed in between leaves it to be sent again when the lease runs out. Webhooks carry
the message's key in an ``Idempotency-Key`` header so that a receiver can drop the second
copy; e-mail and chat channels cannot be deduplicated by us.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote, urlsplit

import structlog
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from models.tables import OutboxMessage, Person, Task, Unit
from models.values import LIVE_TASK_STATES, Risk
from rules.policy import Policy
from rules.reminders import after_quiet_hours
from workflows.db import insert_ignoring_duplicates, transaction
from workflows.messages import render

__all__ = [
    "DeliveryResult",
    "addresses_of",
    "addresses",
    "Sender",
    "apprise_send",
    "apprise_url",
    "deliver",
    "enqueue",
    "message_rows",
    "retry_dead",
]

log = structlog.get_logger(__name__)

Sender = Callable[[str, str, str], bool]
LEASE = timedelta(minutes=5)
BACKOFF_CAP = timedelta(hours=1)
UNCONFIGURED_WAIT = timedelta(hours=1)
BATCH = 100
CHANNELS = ("email", "webhook", "dingtalk", "wecom", "feishu", "sms", "apprise")


def addresses(
    session: Session, target: str, *, own_only: bool = False
) -> list[tuple[str, str, str]]:
    """(recipient, channel, address) for a ``person:ID`` or ``unit:CODE`` target: a unit
    means its own addresses and those of its supervisors (township, county) or mediators."""
    return addresses_of(session, [target], own_only=own_only)[target]


def addresses_of(
    session: Session, targets: Collection[str], *, own_only: bool = False
) -> dict[str, list[tuple[str, str, str]]]:
    """:func:`addresses` of each of ``targets``, in three queries however many they are."""
    people_ids = {t.partition(":")[2] for t in targets if t.startswith("person:")}
    unit_codes = {t.partition(":")[2] for t in targets if not t.startswith("person:")}
    people = (
        {p.id: p for p in session.exec(select(Person).where(col(Person.id).in_(people_ids)))}
        if people_ids
        else {}
    )
    units = (
        {u.code: u for u in session.exec(select(Unit).where(col(Unit.code).in_(unit_codes)))}
        if unit_codes
        else {}
    )
    staff: dict[str, list[Person]] = {}
    if units and not own_only:
        query = (
            select(Person).where(col(Person.unit_code).in_(list(units))).order_by(col(Person.id))
        )
        for person in session.exec(query):
            unit = units[person.unit_code]
            role = "supervisor" if unit.level in ("township", "county") else "mediator"
            if person.role == role:
                staff.setdefault(unit.code, []).append(person)
    found: dict[str, list[tuple[str, str, str]]] = {}
    for target in targets:
        kind, _, ref = target.partition(":")
        holders: list[tuple[str, dict[str, Any]]] = []
        if kind == "person":
            if ref in people:
                holders.append((target, people[ref].contacts))
        elif ref in units:
            holders.append((target, units[ref].contacts))
            holders.extend((f"person:{p.id}", p.contacts) for p in staff.get(ref, []))
        found[target] = [
            (recipient, channel, str(address))
            for recipient, contacts in holders
            for channel in CHANNELS
            for address in _listed(contacts.get(channel, []))
        ]
    return found


def _listed(values: Any) -> list[Any]:
    return values if isinstance(values, list) else [values]


def enqueue(
    session: Session,
    *,
    key: str,
    target: str,
    title: str,
    body: str,
    not_before: datetime,
    now: datetime,
    dispute_id: int | None = None,
    task_id: int | None = None,
    risk: str | None = None,
    own_addresses_only: bool = False,
) -> int:
    """Queue a message to every address of ``target``, once per key; return how many."""
    found = addresses(session, target, own_only=own_addresses_only)
    if not found:
        log.info("no_contact", target=target, dispute_id=dispute_id, key=key)
        return 0
    return insert_ignoring_duplicates(
        session,
        OutboxMessage,
        message_rows(
            found,
            key=key,
            title=title,
            body=body,
            not_before=not_before,
            now=now,
            dispute_id=dispute_id,
            task_id=task_id,
            risk=risk,
        ),
    )


def message_rows(
    found: list[tuple[str, str, str]],
    *,
    key: str,
    title: str,
    body: str,
    not_before: datetime,
    now: datetime,
    dispute_id: int | None,
    task_id: int | None,
    risk: str | None,
) -> list[dict[str, Any]]:
    """The outbox rows of one message to the (recipient, channel, address) ``found``."""
    return [
        {
            "key": key,
            "recipient": recipient,
            "channel": channel,
            "address": address,
            "dispute_id": dispute_id,
            "task_id": task_id,
            "title": title,
            "body": body,
            "state": "pending",
            "attempts": 0,
            "next_attempt_at": not_before,
            "created_at": now,
            "risk": risk,
        }
        for recipient, channel, address in found
    ]


def apprise_url(channel: str, address: str, *, key: str, smtp: str | None) -> str | None:
    """The Apprise URL for one address, or None if the channel is not configured."""
    if channel == "email":
        if smtp is None:
            return None
        joiner = "&" if "?" in smtp else "?"
        return f"{smtp}{joiner}to={quote(address, safe='@')}"
    if channel == "webhook":
        parts = urlsplit(address)
        scheme = "jsons" if parts.scheme == "https" else "json"
        query = f"{parts.query}&" if parts.query else ""
        return f"{scheme}://{parts.netloc}{parts.path}?{query}+Idempotency-Key={quote(key)}"
    return address  # DingTalk, WeCom, Feishu, SMS gateways: an Apprise URL as given


def apprise_send(url: str, title: str, body: str) -> bool:
    """Send through Apprise; False on any failure (the sender retries)."""
    import apprise

    notifier = apprise.Apprise()
    if not notifier.add(url):
        return False
    try:
        return bool(notifier.notify(title=title, body=body))
    except Exception:  # a channel library failing is a failed delivery, retried later
        return False


@dataclass
class DeliveryResult:
    sent: int = 0
    failed: int = 0
    dead_ids: list[int] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"flow": "delivery", "sent": self.sent, "failed": self.failed, "dead": self.dead_ids}


def deliver(
    *,
    engine: Engine,
    policy: Policy,
    now: datetime,
    smtp: str | None = None,
    send: Sender = apprise_send,
) -> DeliveryResult:
    """Send every pending message due by ``now``; back off and finally bury failures.

    Each batch is claimed with a token and a lease; a message is sent only while its claim
    is still this sender's, so two senders never both send it (a lease that ran out while
    this sender was slow belongs to whoever claimed the message next).
    """
    result = DeliveryResult()
    token = uuid.uuid4().hex
    while True:
        with transaction(engine) as session:
            claimed = session.exec(
                select(OutboxMessage)
                .where(OutboxMessage.state == "pending", col(OutboxMessage.next_attempt_at) <= now)
                .order_by(col(OutboxMessage.next_attempt_at), col(OutboxMessage.id))
                .limit(BATCH)
                .with_for_update(skip_locked=True)
            ).all()
            for message in claimed:  # leased: another sender leaves them alone meanwhile
                message.next_attempt_at, message.claim = now + LEASE, token
                session.add(message)
        if not claimed:
            return result
        for message in claimed:
            if _still_wanted(engine, policy, message, token=token, now=now):
                _attempt(engine, policy, message, now=now, smtp=smtp, send=send, result=result)


def _still_wanted(
    engine: Engine, policy: Policy, message: OutboxMessage, *, token: str, now: datetime
) -> bool:
    """Check, just before sending, that the claim is still ours, that the task it reminds of
    is still owed, and that it is not quiet hours for its risk; else void or postpone it."""
    with transaction(engine) as session:
        row = session.exec(
            select(OutboxMessage).where(OutboxMessage.id == message.id).with_for_update()
        ).one_or_none()
        if row is None or row.state != "pending" or row.claim != token:
            return False
        if row.task_id is not None and not row.key.endswith((":assigned", ":escalated")):
            task = session.get(Task, row.task_id)
            if task is not None and task.state not in LIVE_TASK_STATES:
                row.state, row.last_error = "void", f"task {task.state} before sending"
                session.add(row)
                return False
        if row.risk is not None:
            later = after_quiet_hours(now, risk=Risk(row.risk), policy=policy)
            if later > now:
                row.next_attempt_at, row.claim = later, None
                session.add(row)
                return False
        return True


def _attempt(
    engine: Engine,
    policy: Policy,
    message: OutboxMessage,
    *,
    now: datetime,
    smtp: str | None,
    send: Sender,
    result: DeliveryResult,
) -> None:
    url = apprise_url(message.channel, message.address, key=message.key, smtp=smtp)
    ok = url is not None and send(url, message.title, message.body)
    with transaction(engine) as session:
        row = session.get(OutboxMessage, message.id)
        if row is None or row.state != "pending" or row.claim != message.claim:
            return
        row.claim = None
        if url is None:  # e-mail without FENGQIAO_SMTP: kept, not counted as a failure
            row.next_attempt_at, row.last_error = now + UNCONFIGURED_WAIT, "channel not configured"
            session.add(row)
            log.warning("channel_unconfigured", outbox_id=row.id, channel=row.channel)
            return
        if ok:
            row.state, row.sent_at, row.attempts = "sent", now, row.attempts + 1
            session.add(row)
            result.sent += 1
            log.info(
                "message_sent", outbox_id=row.id, dispute_id=row.dispute_id, channel=row.channel
            )
            return
        row.attempts += 1
        row.last_error = "delivery failed"
        result.failed += 1
        if row.attempts >= policy.rules.delivery.max_attempts:
            row.state = "dead"
            result.dead_ids.append(row.id or 0)
            _tell_supervisors(session, row, policy=policy, now=now)
        else:
            delay = policy.rules.delivery.backoff.exact() * 2 ** (row.attempts - 1)
            row.next_attempt_at = now + min(delay, BACKOFF_CAP)
        session.add(row)
        log.warning(
            "message_failed",
            outbox_id=row.id,
            dispute_id=row.dispute_id,
            channel=row.channel,
            attempts=row.attempts,
            state=row.state,
            error=row.last_error,
        )


def _tell_supervisors(
    session: Session, dead: OutboxMessage, *, policy: Policy, now: datetime
) -> None:
    """A dead message is reported to the supervisors above its recipient."""
    kind, _, ref = dead.recipient.partition(":")
    unit_code = None
    if kind == "person":
        person = session.get(Person, ref)
        unit_code = person.unit_code if person else None
    else:
        unit_code = ref
    unit = session.get(Unit, unit_code) if unit_code else None
    while unit is not None and unit.level not in ("township", "county"):
        unit = session.get(Unit, unit.parent_code) if unit.parent_code else None
    if unit is None or dead.key.startswith("undeliverable:"):
        return
    title, body = render(
        "undeliverable",
        None,
        language=policy.rules.reminders.language,
        zone=policy.zone,
        recipient=dead.recipient,
        dispute=dead.dispute_id or "-",
        attempts=dead.attempts,
    )
    enqueue(
        session,
        key=f"undeliverable:{dead.id}",
        target=f"unit:{unit.code}",
        title=title,
        body=body,
        not_before=now,
        now=now,
        dispute_id=dead.dispute_id,
    )


def retry_dead(session: Session, *, now: datetime) -> int:
    """Queue every dead message again; return how many."""
    rows = session.exec(select(OutboxMessage).where(OutboxMessage.state == "dead")).all()
    for row in rows:
        row.state, row.attempts, row.next_attempt_at, row.last_error = "pending", 0, now, None
        session.add(row)
    log.info("outbox_retried", messages=len(rows))
    return len(rows)
