"""Reminders delivered through real servers on loopback: an SMTP server (aiosmtpd) and an
HTTP server receiving webhook JSON; a channel down for a while; a sender killed between
sending and marking; quiet hours and digests on a fixed clock."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import Engine
from sqlmodel import col, select

from models.tables import OutboxMessage
from rules.policy import Policy
from tests.integration.support import SHANGHAI, record, report
from workflows.db import transaction
from workflows.org import load_org
from workflows.outbox import apprise_send, deliver, retry_dead
from workflows.reminders import remind

MONDAY_9 = datetime(2026, 11, 2, 9, 0, tzinfo=SHANGHAI)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Mailbox:
    def __init__(self) -> None:
        self.messages: list[tuple[list[str], str]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append((list(envelope.rcpt_tos), envelope.content.decode("utf-8", "replace")))
        return "250 OK"


@pytest.fixture
def smtp() -> Iterator[tuple[str, Mailbox]]:
    mailbox, port = Mailbox(), _free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield f"mailto://127.0.0.1:{port}?from=fengqiao@example.org&mode=insecure", mailbox
    controller.stop()


class Hook:
    """A webhook receiver on loopback that can be started and stopped on the same port."""

    def __init__(self) -> None:
        self.port, self.received = _free_port(), []  # type: ignore[var-annotated]
        self.server: HTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/fengqiao"

    def start(self) -> None:
        received = self.received

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers["Content-Length"])
                received.append(
                    (self.headers.get("Idempotency-Key"), json.loads(self.rfile.read(length)))
                )
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = HTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None


@pytest.fixture
def hook() -> Iterator[Hook]:
    receiver = Hook()
    yield receiver
    receiver.stop()


@pytest.fixture
def wired(engine: Engine, tmp_path: Path, hook: Hook) -> Engine:
    """A county whose mediator wang has an e-mail address and a webhook."""
    org = tmp_path / "org.yaml"
    org.write_text(
        "units:\n"
        '  - {code: "330100", name: 县, level: county}\n'
        '  - {code: "330101", name: 镇, level: township, parent: "330100"}\n'
        '  - {code: "33010101", name: 村, level: village, parent: "330101"}\n'
        "people:\n"
        f'  - {{id: wang, name: 王, role: mediator, unit: "33010101", '
        f'contacts: {{email: wang@example.org, webhook: "{hook.url}"}}}}\n'
        f'  - {{id: li, name: 李, role: supervisor, unit: "330101", '
        f"contacts: {{email: li@example.org}}}}\n",
        encoding="utf-8",
    )
    with transaction(engine) as session:
        load_org(session=session, path=org)
    return engine


def _outbox(engine: Engine) -> list[OutboxMessage]:
    with transaction(engine) as session:
        return list(session.exec(select(OutboxMessage).order_by(col(OutboxMessage.id))))


def _assign(engine: Engine, policy: Policy, risk: str = "medium") -> int:
    dispute = report(engine, policy, risk=risk, unit="33010101", at=MONDAY_9)
    record(engine, policy, dispute, "assign", MONDAY_9, {"person": "wang"}, by="li")
    return dispute


def test_an_assignment_reaches_the_mediator_by_email_and_webhook(
    wired: Engine, policy: Policy, smtp: tuple[str, Mailbox], hook: Hook
) -> None:
    hook.start()
    dispute = _assign(wired, policy)
    result = deliver(engine=wired, policy=policy, now=MONDAY_9, smtp=smtp[0])
    assert result.sent == 2
    ((recipients, mail),) = smtp[1].messages
    assert recipients == ["wang@example.org"] and f"#{dispute}" in mail
    ((key, payload),) = hook.received
    assert key == f"task:{_outbox(wired)[0].task_id}:assigned"
    assert "fengqiao tasks ack" in payload["message"] and "请于" in payload["message"]
    assert {m.state for m in _outbox(wired)} == {"sent"}


def test_messages_wait_while_a_channel_is_down_and_all_arrive_once_it_is_back(
    wired: Engine, policy: Policy, hook: Hook
) -> None:
    for _ in range(3):
        _assign(wired, policy)
    moment = MONDAY_9
    for _ in range(3):  # the webhook is down: attempts fail and back off
        deliver(engine=wired, policy=policy, now=moment, smtp=None)
        moment += timedelta(minutes=10)
    webhooks = [m for m in _outbox(wired) if m.channel == "webhook"]
    assert {(m.state, m.attempts) for m in webhooks} == {("pending", 3)}
    hook.start()
    deliver(engine=wired, policy=policy, now=moment + timedelta(hours=1), smtp=None)
    assert len(hook.received) == 3
    assert len({key for key, _ in hook.received}) == 3
    assert {m.state for m in _outbox(wired) if m.channel == "webhook"} == {"sent"}


def test_a_sender_killed_between_sending_and_marking_sends_again_with_the_same_key(
    wired: Engine, policy: Policy, hook: Hook
) -> None:
    hook.start()
    _assign(wired, policy)

    def send_then_die(url: str, title: str, body: str) -> bool:
        apprise_send(url, title, body)
        raise KeyboardInterrupt  # the process is killed before it can mark the message sent

    with pytest.raises(KeyboardInterrupt):
        deliver(engine=wired, policy=policy, now=MONDAY_9, smtp=None, send=send_then_die)
    assert [m.state for m in _outbox(wired) if m.channel == "webhook"] == ["pending"]
    deliver(engine=wired, policy=policy, now=MONDAY_9 + timedelta(minutes=6), smtp=None)
    assert [m.state for m in _outbox(wired) if m.channel == "webhook"] == ["sent"]
    keys = [key for key, _ in hook.received]
    assert len(keys) == 2 and keys[0] == keys[1]  # at least once; the receiver can dedupe


def test_a_message_that_keeps_failing_is_dead_the_supervisors_are_told_and_retry_requeues_it(
    wired: Engine, policy: Policy
) -> None:
    _assign(wired, policy)
    moment = MONDAY_9
    for _ in range(policy.rules.delivery.max_attempts):
        deliver(engine=wired, policy=policy, now=moment, smtp=None)
        moment += timedelta(hours=2)
    dead = [m for m in _outbox(wired) if m.state == "dead"]
    assert [m.channel for m in dead] == ["webhook"]
    told = [m for m in _outbox(wired) if m.key.startswith("undeliverable:")]
    assert [m.recipient for m in told] == ["person:li"]
    with transaction(wired) as session:
        assert retry_dead(session, now=moment) == 1
    assert {m.state for m in _outbox(wired) if m.channel == "webhook"} == {"pending"}


def test_an_unacknowledged_assignment_is_reminded_at_the_deadline_then_goes_to_the_township(
    wired: Engine, policy: Policy
) -> None:
    _assign(wired, policy, risk="high")  # acknowledge within 2h, escalate after 4h
    remind(engine=wired, policy=policy, now=MONDAY_9 + timedelta(hours=2))
    remind(engine=wired, policy=policy, now=MONDAY_9 + timedelta(hours=4))
    kinds = [(m.key.split(":")[2], m.recipient) for m in _outbox(wired) if m.task_id]
    assert ("due", "person:wang") in kinds
    assert ("unacknowledged", "person:li") in kinds


def test_an_acknowledged_assignment_is_not_reminded(wired: Engine, policy: Policy) -> None:
    dispute = _assign(wired, policy, risk="high")
    record(wired, policy, dispute, "acknowledge", MONDAY_9 + timedelta(minutes=30), by="wang")
    remind(engine=wired, policy=policy, now=MONDAY_9 + timedelta(hours=5))
    assert [m.key.split(":")[2] for m in _outbox(wired) if m.task_id] == ["assigned", "assigned"]


def test_a_reminder_due_in_quiet_hours_waits_for_the_morning_unless_high_risk(
    wired: Engine, policy: Policy
) -> None:
    low = report(wired, policy, risk="low", unit="33010101", at=MONDAY_9)
    record(wired, policy, low, "assign", MONDAY_9, {"person": "wang"}, by="li")
    # The weekly assessment is due at 24:00 on the 9th: its 2-hour reminder falls at 22:00.
    remind(engine=wired, policy=policy, now=datetime(2026, 11, 9, 22, 30, tzinfo=SHANGHAI))
    late = [m for m in _outbox(wired) if ":before-2h:" in m.key]
    assert late and {m.next_attempt_at for m in late} == {
        datetime(2026, 11, 10, 7, tzinfo=SHANGHAI)
    }


def test_the_morning_digest_lists_each_persons_open_tasks_in_one_message(
    wired: Engine, policy: Policy
) -> None:
    for _ in range(2):
        _assign(wired, policy)
    remind(engine=wired, policy=policy, now=datetime(2026, 11, 4, 8, 5, tzinfo=SHANGHAI))
    digests = [m for m in _outbox(wired) if m.key.startswith("digest:person:wang")]
    assert {m.channel for m in digests} == {"email", "webhook"}
    assert "您有" in digests[0].body and digests[0].body.count("#") >= 4
    before = len([m for m in _outbox(wired) if m.key.startswith("digest:")])
    remind(engine=wired, policy=policy, now=datetime(2026, 11, 4, 9, 5, tzinfo=SHANGHAI))
    assert len([m for m in _outbox(wired) if m.key.startswith("digest:")]) == before  # once a day
