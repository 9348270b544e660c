"""Message templates render in both languages, name obligations by the rule file's labels,
and never carry the parties."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from models.values import MessageKind
from rules.policy import Policy
from workflows.messaging import LANGUAGES, Notice, render, texts

SHANGHAI = ZoneInfo("Asia/Shanghai")
NOTICE = Notice(
    dispute=42,
    category="邻里纠纷",
    risk="high",
    task="daily_check",
    due=datetime(2026, 11, 5, tzinfo=SHANGHAI),
    act="fengqiao dispute event 42 check",
)


def test_a_reminder_reads_in_chinese_by_default(policy: Policy) -> None:
    title, body = render("reminder", NOTICE, policy=policy)
    assert title == "【枫桥】日排查提醒 #42"
    assert body == (
        "纠纷 #42（邻里纠纷，高风险）的日排查将于 2026-11-05 00:00 到期："
        "fengqiao dispute event 42 check"
    )


def test_a_reminder_reads_in_english_as_an_option(policy: Policy) -> None:
    title, body = render("reminder", NOTICE, policy=policy, language="en")
    assert title == "[Fengqiao] daily check reminder #42"
    assert "high risk" in body and "2026-11-05 00:00" in body and body.endswith("event 42 check")


@pytest.mark.parametrize("language", ["zh", "en"])
@pytest.mark.parametrize("kind", ["assigned", "escalated", "reminder", "due", "unacknowledged"])
def test_every_task_message_renders_in_both_languages(
    kind: str, language: str, policy: Policy
) -> None:
    title, body = render(kind, NOTICE, policy=policy, language=language)  # type: ignore[arg-type]
    assert "#42" in title + body and "{" not in title + body
    assert set(texts("zh").messages) == set(texts("en").messages)


def test_every_kind_of_message_has_a_template_in_every_language() -> None:
    for language in LANGUAGES:
        words = texts(language)
        assert set(words.messages) == {kind.value for kind in MessageKind}, language
        assert set(words.digest) == {"line", "unit_line", "late", "more"}
        assert set(words.act) == {"acknowledge", "anyone", "event", "inspect", "queue", "report"}


def test_an_obligation_is_named_by_its_label_in_the_rule_file(policy: Policy) -> None:
    renamed = policy.rules.obligations["daily_check"].model_copy(
        update={"label": {"zh": "每日排查", "en": "daily screening"}}
    )
    rules = policy.rules.model_copy(
        update={"obligations": {**policy.rules.obligations, "daily_check": renamed}}
    )
    other = Policy.from_ruleset(rules, source="renamed.yaml")
    assert render("reminder", NOTICE, policy=other)[0] == "【枫桥】每日排查提醒 #42"
    assert render("reminder", NOTICE, policy=other, language="en")[0] == (
        "[Fengqiao] daily screening reminder #42"
    )


def test_a_body_links_to_the_page_in_place_of_the_command_once_the_address_is_known() -> None:
    from workflows.messaging import linked

    body = "纠纷 #42 的日排查将于 2026-11-05 00:00 到期：fengqiao dispute event 42 check"
    act, link = "fengqiao dispute event 42 check", "/disputes/42/record/check"
    assert linked(body, act=act, link=link, base_url=None) == body
    assert linked(body, act=act, link=link, base_url="https://fq.example.cn") == (
        "纠纷 #42 的日排查将于 2026-11-05 00:00 到期：https://fq.example.cn/disputes/42/record/check"
    )
    assert linked("您有 2 项待办", act=None, link="/tasks", base_url="http://h") == (
        "您有 2 项待办\nhttp://h/tasks"
    )


def test_a_task_notice_names_the_page_where_the_task_is_done(policy: Policy) -> None:
    from models.targets import Target
    from workflows.messaging import task_notice

    due = datetime(2026, 11, 5, tzinfo=SHANGHAI)
    check = task_notice(
        dispute_id=7,
        category="c",
        risk="low",
        task_id=3,
        kind="daily_check",
        target=Target.of_person("wang"),
        due=due,
        policy=policy,
    )
    assert (check.act, check.link) == ("fengqiao dispute event 7 check", "/disputes/7/record/check")
    ack = task_notice(
        dispute_id=7,
        category="c",
        risk="low",
        task_id=3,
        kind="acknowledge",
        target=Target.of_person("wang"),
        due=due,
        policy=policy,
    )
    assert (ack.act, ack.link) == ("fengqiao tasks ack 3 --by wang", "/disputes/7")
