"""The web app's words and how pages show things, without a server: both languages have
every word, times read as people say them, a queue row's state, where to go back to."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from fengqiao.web.i18n import LANGUAGES, Words, keys_of, locale
from fengqiao.web.present import local_path, next_decision_text, row_state, when
from models.values import EventKind, Level, Risk, Role, Status, TaskState, UnitLevel
from rules.policy import Policy

SHANGHAI = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 11, 23, 9, 0, tzinfo=SHANGHAI)


def test_both_languages_have_the_same_words() -> None:
    assert keys_of(locale("zh")) == keys_of(locale("en"))


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_status_level_risk_role_event_and_task_state_has_a_word(language: str) -> None:
    words = locale(language)
    for group, values in (
        ("status", Status),
        ("level", Level),
        ("unit_level", UnitLevel),
        ("risk", Risk),
        ("role", Role),
        ("event", EventKind),
        ("task_state", TaskState),
    ):
        assert set(words[group]) == {v.value for v in values}, group


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_field_and_choice_of_event_data_has_a_word(language: str) -> None:
    from models.events import EventData

    words = locale(language)
    for kind in EventKind:
        for field in EventData.fields(kind):
            assert field.name in words["field"], field.name
            if field.name != "risk":
                assert set(field.choices) <= set(words["choice"]), field.name


def test_a_countdown_says_what_is_left_or_how_late_coarsely(policy: Policy) -> None:
    t = Words("zh", policy)
    assert t.countdown(timedelta(hours=3, minutes=10)) == "剩 3 小时"
    assert t.countdown(-timedelta(days=1)) == "逾期 1 天"
    assert t.countdown(timedelta(days=2, hours=4, minutes=59)) == "剩 2 天 4 小时"
    assert t.countdown(timedelta(minutes=20)) == "剩 20 分钟"
    assert t.countdown(timedelta(seconds=20)) == t.countdown(-timedelta(seconds=20)) == "即将到期"
    assert Words("en", policy).countdown(-timedelta(hours=5)) == "5 h overdue"


def test_an_unknown_language_falls_back_to_chinese(policy: Policy) -> None:
    assert Words("fr", policy)("nav.queue") == "纠纷队列"


def test_a_task_is_named_by_its_obligations_label_in_the_rule_file(policy: Policy) -> None:
    assert Words("zh", policy).task("daily_check") == "日排查"
    assert Words("en", policy).task("daily_check") == "daily check"
    assert Words("zh", policy).task("acknowledge") == "签收"


def test_the_next_escalation_is_said_with_its_level_unit_and_time(policy: Policy) -> None:
    t = Words("zh", policy)
    decision = {
        "kind": "escalate",
        "to_level": "county",
        "unit": "330100",
        "at": (NOW + timedelta(days=2, hours=4)).isoformat(),
    }
    assert next_decision_text(t, decision, NOW) == "2 天 4 小时后将上报至县级（330100）"
    due = {**decision, "at": (NOW - timedelta(hours=1)).isoformat()}
    assert next_decision_text(t, due, NOW) == "下次巡查时将上报至县级（330100）"
    listing = {**decision, "kind": "supervise"}
    assert next_decision_text(Words("en", policy), listing, NOW) == (
        "is listed for supervision at the county in 2 d 4 h"
    )
    assert next_decision_text(t, None, NOW) is None


def test_a_time_is_shown_without_its_year_in_the_same_year() -> None:
    assert when("2026-11-24T00:00:00+08:00", NOW) == "11-24 00:00"
    assert when("2025-11-24T00:00:00+08:00", NOW) == "2025-11-24 00:00"
    assert when(None, NOW) == ""


def test_a_queue_rows_state_is_overdue_paused_escalated_soon_or_calm() -> None:
    row = {"overdue": False, "paused": False, "level": "village", "next_deadline": None}
    soon = (NOW + timedelta(hours=5)).isoformat()
    assert row_state({**row, "overdue": True, "paused": True}, NOW) == "overdue"
    assert row_state({**row, "paused": True, "level": "county"}, NOW) == "paused"
    assert row_state({**row, "level": "township", "next_deadline": soon}, NOW) == "escalated"
    assert row_state({**row, "next_deadline": soon}, NOW) == "soon"
    assert row_state({**row, "next_deadline": (NOW + timedelta(days=3)).isoformat()}, NOW) == (
        "calm"
    )


def test_only_a_path_of_this_site_is_somewhere_to_go_back_to() -> None:
    assert local_path("/queue?risk=high") == "/queue?risk=high"
    for elsewhere in ("https://evil.example/", "//evil.example", "/\\evil", "queue", None, ""):
        assert local_path(elsewhere, "/tasks") == "/tasks"


def test_an_org_change_reads_as_a_line_of_the_timeline(policy: Policy) -> None:
    moved = {
        "change": "unit_moved",
        "unit": "33010101",
        "was": {"village": "33010101", "township": "330101", "county": "330100"},
        "path": {"village": "33010101", "township": "330102", "county": "330100"},
    }
    assert (
        Words("zh", policy).reorganised(moved)
        == "33010101 划归新的上级；镇（街道） 330101 → 330102"
    )
    left = {"change": "person_left", "staff": "wang", "unassigned": "wang"}
    assert Words("en", policy).reorganised(left) == (
        "assignee wang left; the dispute is back with the unit"
    )
