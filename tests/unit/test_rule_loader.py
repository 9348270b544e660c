from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from rules.loader import RulesError, coverage_warnings, default_rules_path, load_ruleset
from rules.schema import RuleSet

# Lines 1-7; the tests append from line 8 on.
OBLIGATIONS = """\
timezone: Asia/Shanghai
obligations:
  daily_check:
    label: daily check
    applies_to: {status: open, risks: [high, medium]}
    fulfilled_by: check
    due: 1wd
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "rules.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def problems(tmp_path: Path, text: str) -> list[str]:
    """The error lines without the file name: ``line:col: message``."""
    path = write(tmp_path, text)
    with pytest.raises(RulesError) as caught:
        load_ruleset(path)
    prefix = f"{path}:"
    assert all(line.startswith(prefix) for line in caught.value.lines)
    assert str(caught.value) == "\n".join(caught.value.lines)
    return [line.removeprefix(prefix) for line in caught.value.lines]


def escalations(*rules: str) -> str:
    return OBLIGATIONS + "escalations:\n" + "".join(f"  - {rule}\n" for rule in rules)


def test_the_shipped_default_rules_load_without_problems() -> None:
    rules = load_ruleset(default_rules_path())
    assert isinstance(rules, RuleSet)
    assert rules.name == "default-2026"
    assert "daily_check" in rules.obligations


def test_a_minimal_rule_file_loads(tmp_path: Path) -> None:
    assert load_ruleset(str(write(tmp_path, OBLIGATIONS))).timezone == "Asia/Shanghai"


def test_a_missing_file_cannot_be_read(tmp_path: Path) -> None:
    path = tmp_path / "nowhere.yaml"
    with pytest.raises(RulesError) as caught:
        load_ruleset(path)
    assert caught.value.lines == [f"{path}: cannot read: No such file or directory"]


def test_an_unknown_top_level_key_points_at_the_key(tmp_path: Path) -> None:
    assert problems(tmp_path, OBLIGATIONS + "colour: red\n") == [
        "8:1: colour: unknown key 'colour'"
    ]


def test_an_unknown_nested_key_points_at_the_key(tmp_path: Path) -> None:
    text = OBLIGATIONS.replace("    due: 1wd\n", "    due: 1wd\n    deu: 2wd\n")
    assert problems(tmp_path, text) == ["8:5: obligations.daily_check.deu: unknown key 'deu'"]


def test_an_unknown_key_in_a_date_range_is_found_through_the_union(tmp_path: Path) -> None:
    text = (
        OBLIGATIONS + "calendar:\n  years:\n    2027:\n      holidays:\n"
        "        - {from: 2027-02-08, to: 2027-02-12, nmae: 春节}\n"
    )
    assert problems(tmp_path, text) == [
        "12:46: calendar.years.2027.holidays[0].nmae: unknown key 'nmae'"
    ]


def test_a_wrong_type_names_what_was_given(tmp_path: Path) -> None:
    assert problems(tmp_path, OBLIGATIONS + "escalations: 3\n") == [
        "8:14: escalations: Input should be a valid list, got 3"
    ]


@pytest.mark.parametrize(
    ("due", "message"),
    [
        ("0d", "duration '0d' must be positive"),
        ("-3d", "duration '-3d' must be positive"),
        ("3", "3 has no unit: write 3d, 3wd, 3h or 3m"),
        ("3 days", "'3 days' is not a duration"),
    ],
)
def test_a_bad_duration_points_at_its_value(tmp_path: Path, due: str, message: str) -> None:
    text = OBLIGATIONS.replace("due: 1wd", f"due: {due}")
    [line] = problems(tmp_path, text)
    assert line.startswith(f"7:10: obligations.daily_check.due: {message}")


def test_an_unknown_risk_lists_the_known_ones(tmp_path: Path) -> None:
    text = escalations(
        "{id: a, from: village, to: township, risk: hihg, when: unresolved, after: 3d}"
    )
    assert problems(tmp_path, text) == [
        "9:48: escalations[0].risk: unknown risk 'hihg'; expected one of low, medium, high"
    ]


def test_an_unknown_risk_as_a_key_points_at_the_key(tmp_path: Path) -> None:
    text = OBLIGATIONS + "acknowledgement:\n  high: 2h\n  hihg: 24h\n"
    assert problems(tmp_path, text) == [
        "10:3: acknowledgement.hihg: unknown risk 'hihg'; expected one of low, medium, high"
    ]


def test_an_unknown_level_lists_the_known_ones(tmp_path: Path) -> None:
    text = escalations(
        "id: a\n    from: vilage\n    to: township\n    risk: high\n"
        "    when: unresolved\n    after: 3d"
    )
    assert problems(tmp_path, text) == [
        "10:11: escalations[0].from: unknown level 'vilage'; "
        "expected one of village, township, county"
    ]


def test_an_escalation_that_goes_down_is_refused(tmp_path: Path) -> None:
    text = escalations(
        "{id: a, from: village, to: township, risk: high, when: unresolved, after: 3d}",
        "{id: b, from: township, to: village, risk: high, when: unresolved, after: 3d}",
    )
    assert problems(tmp_path, text) == [
        "10:33: escalations[1].to: escalation from township to village goes down: "
        "township escalates to county"
    ]


def test_an_escalation_that_skips_a_level_is_refused(tmp_path: Path) -> None:
    text = escalations(
        "{id: a, from: village, to: county, risk: high, when: unresolved, after: 3d}"
    )
    assert problems(tmp_path, text) == [
        "9:32: escalations[0].to: escalation from village to county skips a level: "
        "village escalates to township"
    ]


def test_an_escalation_from_county_leads_nowhere(tmp_path: Path) -> None:
    text = escalations("{id: a, from: county, to: county, risk: high, when: unresolved, after: 3d}")
    assert problems(tmp_path, text) == [
        "9:19: escalations[0].from: nothing escalates beyond county"
    ]


def test_two_rules_for_the_same_threshold_contradict(tmp_path: Path) -> None:
    text = escalations(
        "{id: a, from: village, to: township, risk: high, when: unresolved, after: 3d}",
        "{id: b, from: village, to: township, risk: high, when: unresolved, after: 5d}",
    )
    assert problems(tmp_path, text) == [
        "10:5: escalations[1]: contradicts escalations[0]: both set when a high-risk dispute "
        "at village escalates for being unresolved"
    ]


def test_a_rule_id_used_twice_is_refused(tmp_path: Path) -> None:
    text = escalations(
        "{id: a, from: village, to: township, risk: high, when: unresolved, after: 3d}",
        "{id: a, from: village, to: township, risk: low, when: unresolved, after: 30d}",
    )
    assert problems(tmp_path, text) == ["10:10: escalations[1].id: rule id 'a' is used twice"]


def test_an_escalation_naming_an_unknown_obligation_is_refused(tmp_path: Path) -> None:
    text = escalations(
        "{id: a, from: village, to: township, risk: high, when: overdue, obligation: daily}"
    )
    assert problems(tmp_path, text) == [
        "9:81: escalations[0].obligation: unknown obligation 'daily'; known: any, daily_check"
    ]


def test_an_unknown_calendar_base_is_refused(tmp_path: Path) -> None:
    assert problems(tmp_path, OBLIGATIONS + "calendar:\n  base: lunar\n") == [
        "9:9: calendar.base: unknown calendar 'lunar'; expected chinese or weekends"
    ]


def test_an_unknown_time_zone_is_refused(tmp_path: Path) -> None:
    text = OBLIGATIONS.replace("Asia/Shanghai", "Asia/Beijing")
    assert problems(tmp_path, text) == ["1:11: timezone: unknown time zone 'Asia/Beijing'"]


def test_a_date_both_holiday_and_working_day_points_at_the_working_day(tmp_path: Path) -> None:
    text = OBLIGATIONS + (
        "calendar:\n"
        "  years:\n"
        "    2027:\n"
        "      holidays:\n"
        "        - {from: 2027-02-08, to: 2027-02-12}\n"
        "      workdays:\n"
        "        - 2027-02-14\n"
        "        - 2027-02-09\n"
    )
    assert problems(tmp_path, text) == [
        "15:11: calendar.years.2027: 2027-02-09 is listed both as a holiday and as a working day"
    ]


def test_a_date_outside_its_year_is_refused(tmp_path: Path) -> None:
    text = OBLIGATIONS + "calendar:\n  years:\n    2027:\n      workdays: [2026-02-14]\n"
    assert problems(tmp_path, text) == ["11:18: calendar.years.2027: 2026-02-14 is not in 2027"]


def test_a_duplicate_yaml_key_is_reported_at_its_second_occurrence(tmp_path: Path) -> None:
    text = OBLIGATIONS.replace("    due: 1wd\n", "    due: 1wd\n    label: again\n")
    assert problems(tmp_path, text) == [
        "8:5: obligations.daily_check.label: duplicate key 'label' (first at line 4)"
    ]


def test_a_duplicate_top_level_key_is_reported(tmp_path: Path) -> None:
    text = OBLIGATIONS + "timezone: Asia/Shanghai\n"
    assert problems(tmp_path, text) == ["8:1: timezone: duplicate key 'timezone' (first at line 1)"]


def test_a_yaml_syntax_error_gives_its_line_and_column(tmp_path: Path) -> None:
    text = OBLIGATIONS.replace("risks: [high, medium]}", "risks: [high, medium}")
    [line] = problems(tmp_path, text)
    assert line == (
        "5:52: expected ',' or ']', but got '}' (while parsing a flow sequence at line 5)"
    )


def test_a_badly_indented_key_is_a_yaml_error(tmp_path: Path) -> None:
    text = OBLIGATIONS + "escalations: []\n   extra: 1\n"
    assert problems(tmp_path, text) == [
        "9:4: expected <block end>, but found '<block mapping start>' "
        "(while parsing a block mapping at line 1)"
    ]


def test_an_impossible_date_is_refused_at_its_line(tmp_path: Path) -> None:
    text = OBLIGATIONS + "calendar:\n  years:\n    2027:\n      workdays: [2027-02-30]\n"
    assert problems(tmp_path, text) == [
        "11:18: calendar.years.2027.workdays[0]: Input should be a valid date or datetime, "
        "day value is outside expected range, got '2027-02-30'"
    ]


def test_a_tagged_mapping_is_refused_not_ignored(tmp_path: Path) -> None:
    text = OBLIGATIONS + "calendar: !!python/object:os.system {}\n"
    assert problems(tmp_path, text) == [
        "8:11: unexpected tag tag:yaml.org,2002:python/object:os.system"
    ]


def test_a_missing_required_field_points_at_its_mapping(tmp_path: Path) -> None:
    text = OBLIGATIONS.replace("    fulfilled_by: check\n", "")
    assert problems(tmp_path, text) == [
        "4:5: obligations.daily_check.fulfilled_by: required key 'fulfilled_by' is missing"
    ]


def test_a_missing_obligations_section_points_at_the_top(tmp_path: Path) -> None:
    assert problems(tmp_path, "timezone: Asia/Shanghai\n") == [
        "1:1: obligations: required key 'obligations' is missing"
    ]


def test_an_empty_file_is_refused(tmp_path: Path) -> None:
    assert problems(tmp_path, "# nothing yet\n") == [
        "1:1: the file is empty; a rule file needs obligations at least"
    ]


def test_a_rule_that_breaks_a_cross_field_check_points_at_the_rule(tmp_path: Path) -> None:
    text = escalations("{id: a, from: village, to: township, risk: high, when: unresolved}")
    assert problems(tmp_path, text) == [
        "9:5: escalations[0]: an 'unresolved' rule needs 'after' (time since reaching the level)"
    ]


def test_a_holiday_that_is_neither_a_date_nor_a_range_says_so_once(tmp_path: Path) -> None:
    text = OBLIGATIONS + "calendar:\n  years:\n    2027:\n      holidays: [christmas]\n"
    assert problems(tmp_path, text) == [
        "11:18: calendar.years.2027.holidays[0]: Input should be a valid date or datetime, "
        "input is too short, got 'christmas'"
    ]


def test_a_year_that_is_not_a_number_points_at_the_key(tmp_path: Path) -> None:
    text = OBLIGATIONS + "calendar:\n  years:\n    next: {}\n"
    assert problems(tmp_path, text) == [
        "10:5: calendar.years.next: Input should be a valid integer, unable to parse string "
        "as an integer, got 'next'"
    ]


def test_a_time_zone_that_names_a_region_is_refused(tmp_path: Path) -> None:
    text = OBLIGATIONS.replace("Asia/Shanghai", "Asia")
    assert problems(tmp_path, text) == ["1:11: timezone: unknown time zone 'Asia'"]


def test_merge_keys_may_repeat_a_key_without_a_duplicate_error(tmp_path: Path) -> None:
    text = OBLIGATIONS + (
        "escalations:\n"
        "  - &village {id: a, from: village, to: township, risk: high, when: unresolved, "
        "after: 3d}\n"
        "  - {<<: *village, id: b, risk: low, after: 30d}\n"
    )
    rules = load_ruleset(write(tmp_path, text))
    assert [(rule.id, rule.risk, str(rule.after)) for rule in rules.escalations] == [
        ("a", "high", "3d"),
        ("b", "low", "30d"),
    ]


def test_a_file_with_several_problems_reports_all_of_them_in_line_order(tmp_path: Path) -> None:
    text = (
        "timezone: Mars/Olympus\n"  # 1
        "calendar: {base: lunar}\n"  # 2
        "obligations:\n"  # 3
        "  daily_check:\n"  # 4
        "    label: daily check\n"  # 5
        "    applies_to: {status: open, risks: [high, hihg]}\n"  # 6
        "    due: 0d\n"  # 7
        "    label: again\n"  # 8
        "escalations:\n"  # 9
        "  - {id: a, from: village, to: township, risk: high, when: unresolved, after: 3}\n"
        "colour: red\n"  # 11
    )
    found = problems(tmp_path, text)
    assert [line.split(":", 2)[0] for line in found] == ["1", "2", "5", "6", "7", "8", "10", "11"]
    assert found == [
        "1:11: timezone: unknown time zone 'Mars/Olympus'",
        "2:18: calendar.base: unknown calendar 'lunar'; expected chinese or weekends",
        "5:5: obligations.daily_check.fulfilled_by: required key 'fulfilled_by' is missing",
        "6:46: obligations.daily_check.applies_to.risks[1]: unknown risk 'hihg'; "
        "expected one of low, medium, high",
        "7:10: obligations.daily_check.due: duration '0d' must be positive",
        "8:5: obligations.daily_check.label: duplicate key 'label' (first at line 5)",
        "10:79: escalations[0].after: 3 has no unit: write 3d, 3wd, 3h or 3m",
        "11:1: colour: unknown key 'colour'",
    ]


def test_consistency_problems_are_all_reported_too(tmp_path: Path) -> None:
    text = escalations(
        "{id: a, from: village, to: county, risk: high, when: unresolved, after: 3d}",
        "{id: a, from: county, to: county, risk: low, when: overdue, obligation: nope}",
    )
    assert [line.split(": ", 1)[0] for line in problems(tmp_path, text)] == [
        "9:32",
        "10:10",
        "10:19",
        "10:77",
    ]


def test_the_default_rules_warn_that_2027_is_not_covered(tmp_path: Path) -> None:
    rules = load_ruleset(default_rules_path())
    assert coverage_warnings(rules, date(2026, 11, 22)) == [
        "calendar: the working-day calendar does not cover 2027-01-01 (within the next 90 "
        "days); add the year's holidays and make-up days under calendar.years.2027 — until "
        "then weekends-only is assumed"
    ]


def test_no_coverage_warning_when_the_next_90_days_are_known() -> None:
    rules = load_ruleset(default_rules_path())
    assert coverage_warnings(rules, date(2026, 9, 1)) == []


def test_a_calendar_entry_for_2027_silences_the_coverage_warning(tmp_path: Path) -> None:
    text = OBLIGATIONS + (
        "calendar:\n"
        "  years:\n"
        "    2027:\n"
        "      holidays: [2027-01-01, {from: 2027-02-06, to: 2027-02-12, name: 春节}]\n"
        "      workdays: [2027-02-14]\n"
    )
    rules = load_ruleset(write(tmp_path, text))
    assert coverage_warnings(rules, date(2026, 11, 22)) == []
    [warning] = coverage_warnings(rules, date(2026, 11, 22), days=500)
    assert warning.startswith("calendar: the working-day calendar does not cover 2028-01-01 ")


def test_the_weekends_calendar_never_needs_covering(tmp_path: Path) -> None:
    rules = load_ruleset(write(tmp_path, OBLIGATIONS + "calendar: {base: weekends}\n"))
    assert coverage_warnings(rules, date(2040, 1, 1), days=3650) == []


def test_default_rules_path_is_the_shipped_yaml() -> None:
    path = default_rules_path()
    assert path.name == "default.yaml"
    assert path.is_file()


def test_an_unquoted_time_of_day_says_it_must_be_quoted(tmp_path: Path) -> None:
    text = OBLIGATIONS + "reminders:\n  digest_at: 8:00\n"
    assert problems(tmp_path, text) == [
        '9:14: reminders.digest_at: a time of day is written in quotes, like "08:00": '
        "unquoted, YAML reads it as the number 480"
    ]


def referral_rule(*lines: str) -> str:
    return (
        OBLIGATIONS
        + "  referral_feedback:\n    label: referral feedback\n    applies_to: {status: referred}\n"
        + "    fulfilled_by: referral_result\n    schedule: once\n"
        + "".join(f"    {line}\n" for line in lines)
    )


def test_a_due_time_chosen_by_an_event_field_loads(tmp_path: Path) -> None:
    text = referral_rule("due: {by: refer.to, values: {police: 15d}, otherwise: 30d}")
    rules = load_ruleset(write(tmp_path, text))
    assert str(rules.obligations["referral_feedback"].due.pick("court")) == "30d"  # type: ignore[union-attr]


def test_an_obligation_reading_a_field_no_event_has_is_refused(tmp_path: Path) -> None:
    text = referral_rule("due: {by: refer.destination, values: {police: 15d}}")
    assert problems(tmp_path, text) == [
        "13:15: obligations.referral_feedback.due.by: refer events have no field "
        "'destination'; fields: body, note, to"
    ]


def test_an_obligation_matching_a_value_the_field_never_takes_is_refused(tmp_path: Path) -> None:
    text = referral_rule("due: {by: refer.to, values: {polic: 15d}}")
    assert problems(tmp_path, text) == [
        "13:15: obligations.referral_feedback.due.by: refer.to is never 'polic'; "
        "it is one of court, arbitration, police, petition"
    ]


def test_due_at_must_name_a_time(tmp_path: Path) -> None:
    text = referral_rule("due_at: refer.to")
    assert problems(tmp_path, text) == [
        "13:13: obligations.referral_feedback.due_at: refer.to is not a time: due_at needs one"
    ]


def test_an_obligation_without_any_due_time_is_refused(tmp_path: Path) -> None:
    assert problems(tmp_path, referral_rule()) == [
        "9:5: obligations.referral_feedback: 'due' or 'due_at' is required with schedule once"
    ]


def test_a_unit_obligation_opened_by_no_cadence_flow_is_refused(tmp_path: Path) -> None:
    text = OBLIGATIONS + (
        "unit_obligations:\n  county_inspection:\n    label: inspection\n"
        "    level: county\n    opened_by: monthly\n"
    )
    assert problems(tmp_path, text) == [
        "12:16: unit_obligations.county_inspection.opened_by: 'monthly' is not a cadence flow;"
        " known: daily_check"
    ]


def test_an_overdue_rule_may_watch_a_list_of_obligations_each_of_them_known(
    tmp_path: Path,
) -> None:
    watching = "{id: a, from: village, to: township, risk: high, when: overdue, obligation: %s}"
    rules = load_ruleset(write(tmp_path, escalations(watching % "[daily_check]")))
    assert rules.escalations[0].watches("daily_check")
    assert not rules.escalations[0].watches("weekly_assessment")
    assert problems(tmp_path, escalations(watching % "[daily_check, daily]")) == [
        "9:95: escalations[0].obligation[1]: unknown obligation 'daily'; known: any, daily_check"
    ]


def test_an_obligation_name_longer_than_a_task_can_hold_is_refused(tmp_path: Path) -> None:
    long = "a_daily_check_with_a_very_long_name"
    text = OBLIGATIONS.replace("daily_check:", f"{long}:")
    assert problems(tmp_path, text) == [
        f"4:5: obligations.{long}: '{long}' is 35 characters long; a name is at most 32 "
        "(it names tasks)"
    ]


def test_a_rule_set_as_stored_reads_back_as_the_same_rules_and_version() -> None:
    # The database keeps each rule set as this JSON; workers and `rules diff` read it back.
    shipped = load_ruleset(default_rules_path())
    stored = shipped.model_dump(mode="json", by_alias=True)
    assert stored["obligations"]["referral_feedback"]["due"]["values"]["police"] == "15d"
    again = RuleSet.model_validate(stored)
    assert again == shipped and again.version() == shipped.version()


REPORT = """\
reports:
  weekly:
    label: 周研判报告
    level: township
    period: week
"""


def test_a_report_without_a_schedule_is_refused_as_it_would_never_be_made(
    tmp_path: Path,
) -> None:
    assert problems(tmp_path, OBLIGATIONS + REPORT) == [
        "10:5: reports.weekly: report 'weekly' has no schedule: add schedule.weekly "
        '(e.g. {at: "09:00", days: [mon]})'
    ]


def test_a_report_named_like_an_obligation_is_refused(tmp_path: Path) -> None:
    text = OBLIGATIONS + REPORT.replace("weekly:", "daily_check:")
    text += 'schedule:\n  daily_check: {at: "08:00", days: working}\n'
    assert problems(tmp_path, text) == [
        "10:5: reports.daily_check: 'daily_check' also names a flow of the schedule: give "
        "the report another name"
    ]


def test_a_report_over_a_period_or_with_a_section_there_is_not_is_refused(
    tmp_path: Path,
) -> None:
    text = OBLIGATIONS + REPORT.replace("period: week", "period: fortnight")
    text += "    sections: [gossip]\n" + 'schedule:\n  weekly: {at: "09:00", days: [mon]}\n'
    assert problems(tmp_path, text) == [
        "12:13: reports.weekly.period: unknown value 'fortnight'; expected week or month",
        "13:16: reports.weekly.sections[0]: unknown value 'gossip'; expected one of "
        "assessment, ranking, named_units, missed_listings",
    ]


def test_the_shipped_reports_are_the_weekly_report_and_the_monthly_circular() -> None:
    from rules.loader import default_rules_path

    shipped = load_ruleset(default_rules_path()).reports
    assert {name: (r.level, r.period) for name, r in shipped.items()} == {
        "weekly": ("township", "week"),
        "monthly": ("county", "month"),
    }
