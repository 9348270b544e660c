"""The working-day calendar: the official Chinese schedule, overridden by the rule file."""

from __future__ import annotations

from datetime import date, timedelta

import chinese_calendar
import structlog

from rules.schema import CalendarRules, DateRange

__all__ = ["WorkCalendar"]

_ONE_DAY = timedelta(days=1)


def _weekday(day: date) -> bool:
    return day.weekday() < 5


class WorkCalendar:
    """Answers whether a local date is a working day; results are cached per day."""

    def __init__(self, rules: CalendarRules) -> None:
        self._library = rules.base == "chinese"
        self._file_years = frozenset(rules.years)
        self._overrides: dict[date, bool] = {}
        for schedule in rules.years.values():
            for item in schedule.holidays:
                for day in item.days() if isinstance(item, DateRange) else [item]:
                    self._overrides[day] = False
            # A make-up day listed as a holiday too is a rule-file error; working wins here.
            for day in schedule.workdays:
                self._overrides[day] = True
        self._workday: dict[date, bool] = {}
        self._library_knows: dict[int, bool] = {}
        self._warned: set[int] = set()

    def knows(self, day: date) -> bool:
        """True when the rule file or the library has this day's year; weekends-only always does."""
        if not self._library or day.year in self._file_years:
            return True
        return self._library_has(day)

    def is_workday(self, day: date) -> bool:
        cached = self._workday.get(day)
        if cached is None:
            cached = self._workday[day] = self._compute(day)
        return cached

    def nth_workday_after(self, day: date, n: int) -> date:
        """The n-th working day strictly after ``day``."""
        if n < 1:
            raise ValueError(f"n must be at least 1, got {n}")
        while n:
            day += _ONE_DAY
            if self.is_workday(day):
                n -= 1
        return day

    def first_workday_on_or_after(self, day: date) -> date:
        while not self.is_workday(day):
            day += _ONE_DAY
        return day

    def known_through(self, start: date, days: int) -> date | None:
        """The first date in [start, start + days) this calendar does not know, or None."""
        if days < 0:
            raise ValueError(f"days must not be negative, got {days}")
        day, end = start, start + timedelta(days=days)
        while day < end:
            if not self.knows(day):
                return day
            # Knowledge is per year: skip to the next year's first day.
            day = date(day.year + 1, 1, 1)
        return None

    def _compute(self, day: date) -> bool:
        override = self._overrides.get(day)
        if override is not None:
            return override
        if self._library and self._library_has(day):
            return bool(chinese_calendar.is_workday(day))
        if self._library and day.year not in self._file_years and day.year not in self._warned:
            self._warned.add(day.year)
            structlog.get_logger(__name__).warning(
                "calendar_year_unknown", year=day.year, fallback="weekends"
            )
        return _weekday(day)

    def _library_has(self, day: date) -> bool:
        known = self._library_knows.get(day.year)
        if known is None:
            try:
                chinese_calendar.is_workday(day)
            except NotImplementedError:
                known = False
            else:
                known = True
            self._library_knows[day.year] = known
        return known
