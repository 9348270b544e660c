from __future__ import annotations

from collections.abc import MutableMapping
from datetime import date, timedelta
from typing import Any

import pytest
from structlog.testing import capture_logs

from rules.calendar import WorkCalendar
from rules.schema import CalendarRules, CalendarYear, DateRange


def chinese(years: dict[int, CalendarYear] | None = None) -> WorkCalendar:
    return WorkCalendar(CalendarRules(base="chinese", years=years or {}))


def year_2027() -> dict[int, CalendarYear]:
    return {
        2027: CalendarYear(
            holidays=[
                date(2027, 1, 1),
                DateRange.model_validate({"from": date(2027, 2, 8), "to": date(2027, 2, 12)}),
            ],
            workdays=[date(2027, 2, 14)],
        )
    }


def unknown_year_events(logs: list[MutableMapping[str, Any]]) -> list[MutableMapping[str, Any]]:
    return [entry for entry in logs if entry["event"] == "calendar_year_unknown"]


def test_national_day_week_2026_has_no_working_days() -> None:
    calendar = chinese()
    assert not any(calendar.is_workday(date(2026, 10, d)) for d in range(1, 8))
    assert calendar.is_workday(date(2026, 10, 8))


def test_make_up_saturday_2026_10_10_is_a_working_day() -> None:
    calendar = chinese()
    assert calendar.is_workday(date(2026, 10, 10))
    assert not calendar.is_workday(date(2026, 10, 11))


def test_the_working_day_after_the_last_day_before_national_day_is_october_8() -> None:
    assert chinese().nth_workday_after(date(2026, 9, 30), 1) == date(2026, 10, 8)


def test_spring_festival_2026_runs_from_february_15_to_23_with_saturday_14_worked() -> None:
    calendar = chinese()
    assert calendar.is_workday(date(2026, 2, 14))
    assert not any(calendar.is_workday(date(2026, 2, d)) for d in range(15, 24))
    assert calendar.nth_workday_after(date(2026, 2, 13), 2) == date(2026, 2, 24)


def test_friday_january_30_is_followed_by_monday_february_2() -> None:
    assert chinese().nth_workday_after(date(2026, 1, 30), 1) == date(2026, 2, 2)


def test_working_days_are_counted_across_a_month_end() -> None:
    # 2026-04-30 is a Thursday; May Day runs 1-5 May and Saturday 9 May is worked.
    calendar = chinese()
    assert calendar.nth_workday_after(date(2026, 4, 29), 1) == date(2026, 4, 30)
    assert calendar.nth_workday_after(date(2026, 4, 29), 2) == calendar.first_workday_on_or_after(
        date(2026, 5, 1)
    )


def test_first_workday_on_or_after_a_working_day_is_that_day() -> None:
    assert chinese().first_workday_on_or_after(date(2026, 10, 9)) == date(2026, 10, 9)


def test_first_workday_on_or_after_a_holiday_is_the_day_the_holiday_ends() -> None:
    assert chinese().first_workday_on_or_after(date(2026, 10, 1)) == date(2026, 10, 8)


def test_december_31_2026_is_followed_by_a_weekends_only_2027_and_a_warning() -> None:
    calendar = chinese()
    with capture_logs() as logs:
        # 2027-01-01 is a Friday: an official holiday, unknown to the library.
        assert calendar.nth_workday_after(date(2026, 12, 31), 1) == date(2027, 1, 1)
        assert calendar.nth_workday_after(date(2027, 1, 1), 1) == date(2027, 1, 4)
    assert unknown_year_events(logs) == [
        {
            "event": "calendar_year_unknown",
            "year": 2027,
            "fallback": "weekends",
            "log_level": "warning",
        }
    ]


def test_the_unknown_year_warning_is_logged_once_per_calendar() -> None:
    calendar = chinese()
    with capture_logs() as logs:
        for offset in range(60):
            calendar.is_workday(date(2027, 3, 1) + timedelta(days=offset))
        calendar.is_workday(date(2028, 3, 1))
    assert [entry["year"] for entry in unknown_year_events(logs)] == [2027, 2028]


def test_a_year_before_the_library_falls_back_to_weekends() -> None:
    calendar = chinese()
    with capture_logs() as logs:
        assert calendar.is_workday(date(2003, 1, 1))  # a Wednesday
    assert [entry["year"] for entry in unknown_year_events(logs)] == [2003]
    assert not calendar.knows(date(2003, 1, 1))


def test_holidays_added_by_the_rule_file_are_not_working_days() -> None:
    calendar = chinese(year_2027())
    with capture_logs() as logs:
        assert not calendar.is_workday(date(2027, 1, 1))
        assert not any(calendar.is_workday(date(2027, 2, d)) for d in range(8, 13))
        assert calendar.nth_workday_after(date(2027, 2, 5), 1) == date(2027, 2, 14)
    assert unknown_year_events(logs) == []


def test_sunday_2027_02_14_listed_as_a_make_up_day_is_a_working_day() -> None:
    calendar = chinese(year_2027())
    assert calendar.is_workday(date(2027, 2, 14))
    assert calendar.first_workday_on_or_after(date(2027, 2, 13)) == date(2027, 2, 14)


def test_days_a_file_year_does_not_list_follow_weekends_only() -> None:
    calendar = chinese(year_2027())
    assert calendar.is_workday(date(2027, 3, 1))  # a Monday
    assert not calendar.is_workday(date(2027, 3, 6))  # a Saturday


def test_an_override_turns_a_library_working_day_into_a_holiday() -> None:
    calendar = chinese({2026: CalendarYear(holidays=[date(2026, 10, 8)])})
    assert not calendar.is_workday(date(2026, 10, 8))
    assert calendar.nth_workday_after(date(2026, 9, 30), 1) == date(2026, 10, 9)
    # Days the file does not list still follow the library.
    assert calendar.is_workday(date(2026, 10, 10))
    assert not calendar.is_workday(date(2026, 10, 5))


def test_an_override_turns_a_library_holiday_into_a_working_day() -> None:
    calendar = chinese({2026: CalendarYear(workdays=[date(2026, 10, 7)])})
    assert calendar.is_workday(date(2026, 10, 7))


def test_the_weekends_base_ignores_chinese_holidays_and_never_warns() -> None:
    calendar = WorkCalendar(CalendarRules(base="weekends"))
    with capture_logs() as logs:
        assert calendar.is_workday(date(2026, 10, 1))
        assert not calendar.is_workday(date(2026, 10, 10))
        assert calendar.is_workday(date(2030, 1, 1))
    assert logs == []
    assert calendar.knows(date(2099, 1, 1))


def test_the_weekends_base_still_applies_the_file_years() -> None:
    calendar = WorkCalendar(CalendarRules(base="weekends", years=year_2027()))
    assert not calendar.is_workday(date(2027, 2, 8))
    assert calendar.is_workday(date(2027, 2, 14))


@pytest.mark.parametrize("n", [0, -1])
def test_nth_workday_after_rejects_n_below_one(n: int) -> None:
    with pytest.raises(ValueError, match="at least 1"):
        chinese().nth_workday_after(date(2026, 1, 5), n)


def test_knows_the_library_years_and_the_file_years_only() -> None:
    calendar = chinese(year_2027())
    assert calendar.knows(date(2004, 1, 1))
    assert calendar.knows(date(2026, 12, 31))
    assert calendar.knows(date(2027, 6, 1))
    assert not calendar.knows(date(2028, 1, 1))


def test_known_through_returns_the_first_unknown_day_in_the_window() -> None:
    calendar = chinese()
    assert calendar.known_through(date(2026, 11, 22), 90) == date(2027, 1, 1)
    assert calendar.known_through(date(2026, 11, 22), 40) is None
    assert calendar.known_through(date(2026, 12, 31), 1) is None
    assert calendar.known_through(date(2026, 12, 31), 2) == date(2027, 1, 1)


def test_known_through_is_none_when_the_file_adds_the_next_year() -> None:
    assert chinese(year_2027()).known_through(date(2026, 11, 22), 90) is None
    assert chinese(year_2027()).known_through(date(2026, 11, 22), 500) == date(2028, 1, 1)


def test_known_through_an_empty_window_is_none() -> None:
    assert chinese().known_through(date(2030, 1, 1), 0) is None


def test_checking_coverage_logs_no_warning() -> None:
    with capture_logs() as logs:
        chinese().known_through(date(2026, 11, 22), 90)
    assert logs == []
