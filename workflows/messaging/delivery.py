"""Delivering the outbox, at least once: a message is claimed with a lease, sent, then
marked sent; a sender killed in between leaves it to be sent again when the lease runs out.
Webhooks carry the message's key in an ``Idempotency-Key`` header so that a receiver can
drop the second copy; e-mail and chat channels cannot be deduplicated by us.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urlsplit

import structlog
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from models.tables import OutboxMessage, Task
from models.targets import Target
from models.values import LIVE_TASK_STATES, MessageKind, OutboxState, Risk
from rules.policy import Policy
from rules.reminders import after_quiet_hours
from workflows.db import transaction
from workflows.messaging.outbox import enqueue
from workflows.messaging.texts import linked, render
from workflows.org import supervising_unit
from workflows.runs import SweepResult

__all__ = [
    "Attachments",
    "DeliveryResult",
    "Sender",
    "apprise_send",
    "apprise_url",
    "deliver",
    "robot_send",
]

log = structlog.get_logger(__name__)

# (url, title, body) -> sent; with files to attach, also attach=[paths] (e-mail only)
Sender = Callable[..., bool]
# The files an e-mail of a message carries (a report's Excel and Word), written into a folder
# that is removed once it is sent; none for most messages.
Attachments = Callable[[OutboxMessage, Path], list[Path]]
LEASE = timedelta(minutes=5)
BACKOFF_CAP = timedelta(hours=1)
UNCONFIGURED_WAIT = timedelta(hours=1)
BATCH = 100
# Announcements of a new task go out even once the task is done: they say it was given.
_ANNOUNCEMENTS = (MessageKind.assigned, MessageKind.escalated, MessageKind.listed)
# Chat robots answer a refusal (a wrong signature, a missing keyword, over 20 messages a
# minute) with HTTP 200 and an error code in the JSON, which Apprise 1.13 does not read, and
# Apprise encodes DingTalk's signature twice: Fengqiao posts to these robots itself.
_ROBOTS = {
    "dingtalk": "https://oapi.dingtalk.com/robot/send?access_token={token}",
    "wecombot": "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key={token}",
    "feishu": "https://open.feishu.cn/open-apis/bot/v2/hook/{token}",
}
_ROBOT_TOKEN = re.compile(r"[A-Za-z0-9_-]+")
ROBOT_TIMEOUT = 10.0  # seconds


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


def apprise_send(url: str, title: str, body: str, attach: Sequence[Path] = ()) -> bool:
    """Send through Apprise (an e-mail with the files ``attach``), or to a chat robot
    itself; False on any failure (the sender retries)."""
    if urlsplit(url).scheme in _ROBOTS:
        return robot_send(url, title, body)
    import apprise

    notifier = apprise.Apprise()
    if not notifier.add(url):
        return False
    try:
        files = apprise.AppriseAttachment([str(path) for path in attach]) if attach else None
        return bool(notifier.notify(title=title, body=body, attach=files))
    except Exception:  # a channel library failing is a failed delivery, retried later
        return False


def robot_send(url: str, title: str, body: str, *, clock: Callable[[], float] = time.time) -> bool:
    """Post to the DingTalk, WeCom or Feishu robot of an Apprise URL
    (``dingtalk://[secret@]token[/mobile…]``, ``wecombot://key``, ``feishu://token``); True
    only if the robot answers that it took the message. ``clock`` dates DingTalk's signature:
    the real clock, since DingTalk refuses one an hour off its own."""
    request = _robot_request(url, f"{title}\n{body}", now=clock())
    if request is None:
        return False
    try:
        with urllib.request.urlopen(request, timeout=ROBOT_TIMEOUT) as response:
            answer = json.loads(response.read())
    except (OSError, ValueError):  # unreachable, an HTTP error status, or not JSON
        return False
    fields = ("errcode", "code", "StatusCode")  # DingTalk and WeCom; Feishu, new and old
    return isinstance(answer, dict) and all(answer.get(f, 0) == 0 for f in fields)


def _robot_request(url: str, text: str, *, now: float) -> urllib.request.Request | None:
    """The robot's request for an Apprise URL, or None if the URL is not one."""
    parts = urlsplit(url)
    secret, _, token = (unquote(p) for p in parts.netloc.rpartition("@"))
    if parts.scheme not in _ROBOTS or not _ROBOT_TOKEN.fullmatch(token):
        return None
    endpoint = _ROBOTS[parts.scheme].format(token=token)
    payload: dict[str, Any]
    if parts.scheme == "dingtalk":
        mobiles = [unquote(m) for m in parts.path.split("/") if m]
        content = text + "".join(f" @{m}" for m in mobiles)  # @ shows only if in the text
        payload = {"msgtype": "text", "text": {"content": content}}
        payload["at"] = {"atMobiles": mobiles, "isAtAll": False}
        if secret:  # 加签: base64 of HMAC-SHA256 of "timestamp\nsecret", URL-encoded once
            timestamp = str(round(now * 1000))
            mac = hmac.new(secret.encode(), f"{timestamp}\n{secret}".encode(), hashlib.sha256)
            sign = quote(base64.b64encode(mac.digest()), safe="")
            endpoint += f"&timestamp={timestamp}&sign={sign}"
    elif parts.scheme == "wecombot":
        payload = {"msgtype": "text", "text": {"content": text}}
    else:
        payload = {"msg_type": "text", "content": {"text": text}}
    return urllib.request.Request(
        endpoint,
        data=json.dumps(payload, ensure_ascii=False).encode(),
        headers={"Content-Type": "application/json; charset=utf-8"},
        method="POST",
    )


@dataclass
class DeliveryResult:
    """What a delivery did: messages sent, attempts failed, and the messages that died."""

    now: datetime
    sent: int = 0
    failed: int = 0
    dead_ids: list[int] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"flow": "delivery", "sent": self.sent, "failed": self.failed, "dead": self.dead_ids}

    def as_sweep(self) -> SweepResult:
        """As the steps of a sweep report: examined is sent, failed are the dead."""
        return SweepResult(flow="delivery", now=self.now, examined=self.sent, failed=self.dead_ids)


def deliver(
    *,
    engine: Engine,
    policy: Policy,
    now: datetime,
    smtp: str | None = None,
    base_url: str | None = None,
    send: Sender = apprise_send,
    attach: Attachments | None = None,
) -> DeliveryResult:
    """Send every pending message due by ``now``; back off and finally bury failures. With
    the web app's public address ``base_url``, a message links to the page of its task.

    Each batch is claimed with a token and a lease; a message is sent only while its claim
    is still this sender's, so two senders never both send it (a lease that ran out while
    this sender was slow belongs to whoever claimed the message next). ``attach`` gives the
    files an e-mail carries.
    """
    result = DeliveryResult(now=now)
    token = uuid.uuid4().hex
    while True:
        with transaction(engine) as session:
            claimed = session.exec(
                select(OutboxMessage)
                .where(
                    OutboxMessage.state == OutboxState.pending,
                    col(OutboxMessage.next_attempt_at) <= now,
                )
                .order_by(col(OutboxMessage.next_attempt_at), col(OutboxMessage.id))
                .limit(BATCH)
                .with_for_update(skip_locked=True)
            ).all()
            for message in claimed:  # leased: another sender leaves them alone meanwhile
                message.next_attempt_at, message.claim = now + LEASE, token
                session.add(message)
        if not claimed:
            break
        for message in claimed:
            if _still_wanted(engine, policy, message, token=token, now=now):
                _attempt(
                    engine,
                    policy,
                    message,
                    now=now,
                    smtp=smtp,
                    base_url=base_url,
                    send=send,
                    attach=attach,
                    result=result,
                )
    return result


def _still_wanted(
    engine: Engine, policy: Policy, message: OutboxMessage, *, token: str, now: datetime
) -> bool:
    """Check, just before sending, that the claim is still ours, that the task it reminds of
    is still owed, and that it is not quiet hours for its risk; else void or postpone it."""
    with transaction(engine) as session:
        row = session.exec(
            select(OutboxMessage).where(OutboxMessage.id == message.id).with_for_update()
        ).one_or_none()
        if row is None or row.state != OutboxState.pending or row.claim != token:
            return False
        if row.task_id is not None and row.kind not in _ANNOUNCEMENTS:
            task = session.get(Task, row.task_id)
            if task is not None and task.state not in LIVE_TASK_STATES:
                row.state, row.last_error = OutboxState.void, f"task {task.state} before sending"
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
    base_url: str | None,
    send: Sender,
    attach: Attachments | None,
    result: DeliveryResult,
) -> None:
    """Send one message and record how it went."""
    url = apprise_url(message.channel, message.address, key=message.key, smtp=smtp)
    body = linked(message.body, act=message.act, link=message.link, base_url=base_url)
    with tempfile.TemporaryDirectory(prefix="fq-attach-") as folder:
        files: list[Path] = []
        if url is not None and attach is not None and message.channel == "email":
            try:
                files = attach(message, Path(folder))
            except Exception as exc:  # the message still goes, with its link, without them
                log.warning("attachments_failed", outbox_id=message.id, error=type(exc).__name__)
        if url is None:
            ok = False
        elif files:
            ok = send(url, message.title, body, attach=files)
        else:
            ok = send(url, message.title, body)
    with transaction(engine) as session:
        row = session.get(OutboxMessage, message.id)
        if row is None or row.state != OutboxState.pending or row.claim != message.claim:
            return
        row.claim = None
        if url is None:  # e-mail without FENGQIAO_SMTP: kept, not counted as a failure
            row.next_attempt_at, row.last_error = now + UNCONFIGURED_WAIT, "channel not configured"
            session.add(row)
            log.warning("channel_unconfigured", outbox_id=row.id, channel=row.channel)
            return
        if ok:
            row.state, row.sent_at, row.attempts = OutboxState.sent, now, row.attempts + 1
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
            row.state = OutboxState.dead
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
    """A dead message is reported to the supervisors above its recipient (not a report
    that died itself)."""
    unit = supervising_unit(session, Target.parse(dead.recipient))
    if unit is None or dead.kind == MessageKind.undeliverable:
        return
    title, body = render(
        MessageKind.undeliverable,
        None,
        policy=policy,
        recipient=dead.recipient,
        dispute=dead.dispute_id or "-",
        attempts=dead.attempts,
    )
    enqueue(
        session,
        target=Target.of_unit(unit),
        kind=MessageKind.undeliverable,
        key=f"undeliverable:{dead.id}",
        title=title,
        body=body,
        not_before=now,
        now=now,
        dispute_id=dead.dispute_id,
    )
