"""Reminders delivered through real servers on loopback: an SMTP server (aiosmtpd) and an
HTTP server receiving webhook JSON; a channel down for a while; a sender killed between
sending and marking; quiet hours and digests on a fixed clock."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from functools import partial
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import Engine
from sqlmodel import col, select

from models.tables import OutboxMessage, Task
from models.values import Actor
from rules.policy import Policy
from tests.support.db import load_county
from tests.support.recording import SHANGHAI, record, report
from workflows.db import reading
from workflows.messaging import apprise_send, deliver, remind, retry_dead
from workflows.tasks import acknowledge_task

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
    load_county(engine, org)
    return engine


def _outbox(engine: Engine) -> list[OutboxMessage]:
    with reading(engine) as session:
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


def test_with_the_apps_address_a_message_links_to_the_page_instead_of_a_command(
    wired: Engine, policy: Policy, hook: Hook
) -> None:
    hook.start()
    dispute = _assign(wired, policy)
    deliver(engine=wired, policy=policy, now=MONDAY_9, smtp=None, base_url="https://fq.example.cn/")
    ((_, payload),) = hook.received
    assert payload["message"].endswith(f"前签收：https://fq.example.cn/disputes/{dispute}")
    assert "fengqiao" not in payload["message"]
    (stored,) = [m for m in _outbox(wired) if m.channel == "webhook"]
    command = f"fengqiao tasks ack {stored.task_id} --by wang"
    assert stored.body.endswith(command)  # as queued: what is sent without the address
    assert (stored.act, stored.link) == (command, f"/disputes/{dispute}")


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
    _assign(wired, policy, risk="high")  # high risk: quiet hours do not hold it back
    moment = MONDAY_9
    for _ in range(100):
        deliver(engine=wired, policy=policy, now=moment, smtp=None)
        if any(m.state == "dead" for m in _outbox(wired)):
            break
        moment += timedelta(hours=1)
    dead = [m for m in _outbox(wired) if m.state == "dead"]
    assert [(m.channel, m.attempts) for m in dead] == [
        ("webhook", policy.rules.delivery.max_attempts)
    ]
    assert moment - MONDAY_9 > timedelta(hours=12)  # a night's outage does not kill a message
    told = [m for m in _outbox(wired) if m.key.startswith("undeliverable:")]
    assert [m.recipient for m in told] == ["person:li"]
    assert retry_dead(engine=wired, now=moment, actor=Actor()) == 1
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


@pytest.mark.parametrize(
    ("risk", "sent_at"),
    [
        ("low", datetime(2026, 11, 10, 7, tzinfo=SHANGHAI)),
        ("high", datetime(2026, 11, 10, 0, 30, tzinfo=SHANGHAI)),
    ],
)
def test_a_reminder_due_in_quiet_hours_waits_for_the_morning_unless_high_risk(
    wired: Engine, policy: Policy, risk: str, sent_at: datetime
) -> None:
    dispute = report(wired, policy, risk=risk, unit="33010101", at=MONDAY_9)
    record(wired, policy, dispute, "assign", MONDAY_9, {"person": "wang"}, by="li")
    # The weekly assessment falls due at 24:00 on the 9th, in the quiet hours.
    remind(engine=wired, policy=policy, now=datetime(2026, 11, 10, 0, 30, tzinfo=SHANGHAI))
    due = [m for m in _outbox(wired) if ":due:" in m.key and m.body.find("周研判") >= 0]
    assert due and {m.next_attempt_at for m in due} == {sent_at}


def test_a_reminder_before_the_due_time_that_could_only_go_out_after_it_is_dropped(
    wired: Engine, policy: Policy
) -> None:
    dispute = report(wired, policy, risk="low", unit="33010101", at=MONDAY_9)
    record(wired, policy, dispute, "assign", MONDAY_9, {"person": "wang"}, by="li")
    remind(engine=wired, policy=policy, now=datetime(2026, 11, 9, 22, 30, tzinfo=SHANGHAI))
    assert not [m for m in _outbox(wired) if ":before-2h:" in m.key]


def test_a_reminder_of_a_task_done_before_it_goes_out_is_not_sent(
    wired: Engine, policy: Policy, hook: Hook
) -> None:
    hook.start()
    dispute = report(wired, policy, risk="low", unit="33010101", at=MONDAY_9)
    record(wired, policy, dispute, "assign", MONDAY_9, {"person": "wang"}, by="li")
    remind(engine=wired, policy=policy, now=datetime(2026, 11, 10, 0, 30, tzinfo=SHANGHAI))
    record(
        wired,
        policy,
        dispute,
        "assess",
        datetime(2026, 11, 10, 6, 30, tzinfo=SHANGHAI),
        {"risk": "low"},
        by="wang",
    )
    deliver(engine=wired, policy=policy, now=datetime(2026, 11, 10, 7, 0, tzinfo=SHANGHAI))
    assert not [p for _, p in hook.received if "周研判" in p["message"]]
    assert {m.state for m in _outbox(wired) if ":due:" in m.key} == {"void"}


def test_the_morning_digest_lists_each_persons_open_tasks_in_one_message(
    wired: Engine, policy: Policy
) -> None:
    for _ in range(2):
        _assign(wired, policy)
    remind(engine=wired, policy=policy, now=datetime(2026, 11, 4, 8, 5, tzinfo=SHANGHAI))
    digests = [m for m in _outbox(wired) if m.key.startswith("digest:")]
    assert {(m.recipient, m.channel) for m in digests} >= {
        ("person:wang", "email"),
        ("person:wang", "webhook"),
    }
    assert len([m for m in digests if m.recipient == "person:wang"]) == 2  # one per address
    assert "您有" in digests[0].body and digests[0].body.count("#") >= 4
    before = len([m for m in _outbox(wired) if m.key.startswith("digest:")])
    remind(engine=wired, policy=policy, now=datetime(2026, 11, 4, 9, 5, tzinfo=SHANGHAI))
    assert len([m for m in _outbox(wired) if m.key.startswith("digest:")]) == before  # once a day


@pytest.mark.parametrize(
    ("minutes", "first_marks", "copies"),
    [
        (1, 3, 3),  # within the lease: the second sender finds nothing to claim
        (6, 0, 4),  # the lease ran out: only the message in flight goes twice, not the rest
    ],
)
def test_two_senders_at_once_send_each_message_once_while_the_lease_holds(
    wired: Engine, policy: Policy, hook: Hook, minutes: int, first_marks: int, copies: int
) -> None:
    hook.start()
    for _ in range(3):
        _assign(wired, policy, risk="high")
    second: list[int] = []

    def slow(url: str, title: str, body: str) -> bool:
        if not second:  # while the first sender is busy with its first message
            later = MONDAY_9 + timedelta(minutes=minutes)
            second.append(deliver(engine=wired, policy=policy, now=later, smtp=None).sent)
        return apprise_send(url, title, body)

    first = deliver(engine=wired, policy=policy, now=MONDAY_9, smtp=None, send=slow)
    assert first.sent == first_marks and first.sent + second[0] == 3  # each marked sent once
    assert len(hook.received) == copies and len({key for key, _ in hook.received}) == 3


def test_an_acknowledged_cadence_task_is_done_when_its_event_is_recorded(
    wired: Engine, policy: Policy
) -> None:
    dispute = _assign(wired, policy)
    with reading(wired) as session:
        check = session.exec(
            select(Task).where(Task.kind == "daily_check", Task.state == "open")
        ).one()
    acknowledge_task(
        engine=wired, policy=policy, now=MONDAY_9, actor=Actor(), task_id=check.id or 0
    )
    record(wired, policy, dispute, "check", MONDAY_9 + timedelta(days=1), by="wang")  # Tuesday
    with reading(wired) as session:
        assert session.get(Task, check.id).state == "done"  # type: ignore[union-attr]


def test_the_acknowledgement_escalation_is_timed_from_the_assignment_not_its_recording(
    wired: Engine, policy: Policy
) -> None:
    dispute = report(wired, policy, risk="high", unit="33010101", at=MONDAY_9)
    record(
        wired,
        policy,
        dispute,
        "assign",
        MONDAY_9,
        {"person": "wang"},
        by="li",
        now=MONDAY_9 + timedelta(hours=3),
    )
    remind(engine=wired, policy=policy, now=MONDAY_9 + timedelta(hours=4, minutes=30))
    up = [m for m in _outbox(wired) if ":unacknowledged:" in m.key]
    assert up and up[0].key.endswith((MONDAY_9 + timedelta(hours=4)).astimezone(UTC).isoformat())


def test_the_supervisor_told_of_an_unacknowledged_assignment_can_acknowledge_it(
    wired: Engine, policy: Policy
) -> None:
    _assign(wired, policy, risk="high")
    remind(engine=wired, policy=policy, now=MONDAY_9 + timedelta(hours=5))
    with reading(wired) as session:
        task = session.exec(select(Task).where(Task.kind == "acknowledge")).one()
    done = acknowledge_task(
        engine=wired,
        policy=policy,
        now=MONDAY_9 + timedelta(hours=6),
        actor=Actor(person="li"),
        task_id=task.id or 0,
    )
    assert done.state == "done"


def test_the_half_month_review_is_the_townships_task(wired: Engine, policy: Policy) -> None:
    _assign(wired, policy)
    with reading(wired) as session:
        review = session.exec(select(Task).where(Task.kind == "half_month_review")).one()
    assert review.target == "unit:330101"


def test_a_report_is_e_mailed_to_the_townships_supervisor_with_its_excel_and_word_files(
    org_engine: Engine, policy: Policy, smtp: tuple[str, Mailbox]
) -> None:
    from tests.support.fonts import require_cjk_font
    from workflows.reports import report_attachments, store_reports

    require_cjk_font()
    report(org_engine, policy, risk="low", at=MONDAY_9, unit="33010101")
    monday = MONDAY_9 + timedelta(days=7)
    assert (
        store_reports(engine=org_engine, policy=policy, name="weekly", moments=[monday], now=monday)
        == 1
    )
    result = deliver(
        engine=org_engine,
        policy=policy,
        now=monday,
        smtp=smtp[0],
        attach=partial(report_attachments, org_engine, policy),
    )
    assert result.sent == 1 and result.failed == 0
    [(to, mail)] = smtp[1].messages
    assert to == ["li@example.org"]
    assert 'filename="330101-weekly-2026-W45.xlsx"' in mail
    assert 'filename="330101-weekly-2026-W45.docx"' in mail
