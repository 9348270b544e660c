"""Messages: the outbox written with each change, its delivery through Apprise, the
reminders and digests of tasks, and every text in ``templates/``."""

from workflows.messaging.announcements import announcement_rows
from workflows.messaging.delivery import (
    Attachments,
    DeliveryResult,
    Sender,
    apprise_send,
    apprise_url,
    deliver,
)
from workflows.messaging.outbox import (
    Address,
    addresses,
    addresses_of,
    enqueue,
    message_rows,
    queue_messages,
    retry_dead,
)
from workflows.messaging.reminders import ReminderResult, remind
from workflows.messaging.texts import LANGUAGES, Notice, linked, render, task_notice, texts

__all__ = [
    "LANGUAGES",
    "Address",
    "Attachments",
    "DeliveryResult",
    "Notice",
    "ReminderResult",
    "Sender",
    "addresses",
    "addresses_of",
    "announcement_rows",
    "apprise_send",
    "apprise_url",
    "deliver",
    "enqueue",
    "linked",
    "message_rows",
    "queue_messages",
    "remind",
    "render",
    "retry_dead",
    "task_notice",
    "texts",
]
