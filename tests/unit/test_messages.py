"""Message templates render in both languages and never carry the parties."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from workflows.messages import TEMPLATES, Notice, render

SHANGHAI = ZoneInfo("Asia/Shanghai")
NOTICE = Notice(
    dispute=42,
    category="邻里纠纷",
    risk="high",
    task="daily_check",
    due=datetime(2026, 11, 5, tzinfo=SHANGHAI),
    act="fengqiao dispute event 42 check",
)


def test_a_reminder_reads_in_chinese_by_default() -> None:
    title, body = render("reminder", NOTICE, language="zh", zone=SHANGHAI)
    assert title == "【枫桥】日排查提醒 #42"
    assert body == (
        "纠纷 #42（邻里纠纷，高风险）的日排查将于 2026-11-05 00:00 到期："
        "fengqiao dispute event 42 check"
    )


def test_a_reminder_reads_in_english_as_an_option() -> None:
    title, body = render("reminder", NOTICE, language="en", zone=SHANGHAI)
    assert title == "[Fengqiao] daily check reminder #42"
    assert "high risk" in body and "2026-11-05 00:00" in body and body.endswith("event 42 check")


@pytest.mark.parametrize("language", ["zh", "en"])
@pytest.mark.parametrize("kind", ["assigned", "escalated", "reminder", "due", "unacknowledged"])
def test_every_task_message_renders_in_both_languages(kind: str, language: str) -> None:
    title, body = render(kind, NOTICE, language=language, zone=SHANGHAI)  # type: ignore[arg-type]
    assert "#42" in title + body and "{" not in title + body
    assert set(TEMPLATES["zh"]) == set(TEMPLATES["en"])
