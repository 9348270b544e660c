"""A loaded rule set with its calendar and time zone: the date arithmetic of the rules."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import cached_property
from pathlib import Path
from zoneinfo import ZoneInfo

from models.values import EventKind, Risk
from rules.calendar import WorkCalendar
from rules.durations import Duration
from rules.loader import default_rules_path, load_ruleset
from rules.schema import RuleSet, SensitivePeriod

__all__ = ["Policy", "load_policy", "rules_label"]

_ONE_DAY = timedelta(days=1)


@dataclass(frozen=True)
class Policy:
    rules: RuleSet
    calendar: WorkCalendar
    zone: ZoneInfo
    version: str
    source: str
    # Date arithmetic by local day, remembered: results depend on the day, not the moment,
    # and a sweep of many disputes asks about the same few hundred days again and again.
    _days: dict[tuple[object, ...], object] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    @classmethod
    def from_ruleset(cls, rules: RuleSet, *, source: str) -> Policy:
        return cls(
            rules=rules,
            calendar=WorkCalendar(rules.calendar),
            zone=ZoneInfo(rules.timezone),
            version=rules.version(),
            source=source,
        )

    @cached_property
    def fields_kept(self) -> dict[EventKind, tuple[str, ...]]:
        """The event fields (``kind.field``) an evaluation keeps, by event kind: those the
        obligations read, and the agreement's form (司法确认 is applied for on a written one)."""
        keys = {"resolve.agreement"}
        for rule in self.rules.obligations.values():
            keys.update(ref for _, ref in rule.fields_read())
        by_kind: dict[EventKind, list[str]] = {}
        for key in sorted(keys):
            kind = key.partition(".")[0]
            if kind in EventKind.__members__:
                by_kind.setdefault(EventKind(kind), []).append(key)
        return {kind: tuple(names) for kind, names in by_kind.items()}

    @property
    def label(self) -> str:
        """The version as people read it: the name, if any, and the content hash."""
        return rules_label(self.rules.name, self.version)

    def local_day(self, moment: datetime) -> date:
        """The local date a moment belongs to; exactly 24:00 is the end of the day before."""
        local = moment.astimezone(self.zone)
        if not (local.hour or local.minute or local.second or local.microsecond):
            return local.date() - _ONE_DAY
        return local.date()

    def end_of(self, day: date) -> datetime:
        """24:00 local at the end of ``day``, in UTC."""
        return datetime.combine(day + _ONE_DAY, time(0), self.zone).astimezone(UTC)

    def sensitive_period(self, moment: datetime, risk: Risk) -> SensitivePeriod | None:
        return self._period_on(self.local_day(moment), risk)

    def due_after(self, start: datetime, duration: Duration, *, risk: Risk) -> datetime:
        """When an obligation of ``duration`` whose clock starts at ``start`` falls due."""
        if not duration.counts_days:
            return start + duration.exact()
        day = self.local_day(start)
        period = self._period_on(day, risk)
        every_day = period is not None and period.checks_on_holidays
        return self._add(start, day, duration, every_day=every_day)

    def threshold_after(self, start: datetime, duration: Duration, *, risk: Risk) -> datetime:
        """When an escalation threshold of ``duration`` counted from ``start`` is crossed."""
        day = self.local_day(start)
        period = self._period_on(day, risk)
        if period is None:
            return self._add(start, day, duration, every_day=False)
        scaled = duration.scaled(period.threshold_factor)
        return self._add(start, day, scaled, every_day=period.checks_on_holidays)

    def _period_on(self, day: date, risk: Risk) -> SensitivePeriod | None:
        key = ("period", day, risk)
        if key not in self._days:
            self._days[key] = next(
                (p for p in self.rules.sensitive_periods if p.covers(day, risk)), None
            )
        return self._days[key]  # type: ignore[return-value]

    def first_working_day_of_next_month(self, start: datetime) -> datetime:
        day = self.local_day(start)
        first = date(day.year + day.month // 12, day.month % 12 + 1, 1)
        return self.end_of(self.calendar.first_workday_on_or_after(first))

    def _add(self, start: datetime, day: date, duration: Duration, *, every_day: bool) -> datetime:
        """``start`` (on local ``day``) plus ``duration``: exact, or to the end of a day."""
        if not duration.counts_days:
            return start + duration.exact()
        key = ("add", day, duration.amount, duration.unit, every_day)
        found = self._days.get(key)
        if found is None:
            if duration.unit == "d" or every_day:
                found = self.end_of(day + timedelta(days=duration.amount))
            else:
                found = self.end_of(self.calendar.nth_workday_after(day, duration.amount))
            self._days[key] = found
        return found  # type: ignore[return-value]


def rules_label(name: str | None, version: str) -> str:
    """A rule set as people read it (``default-2026@20d355bb0d68``): its name, if any, and
    its content hash."""
    return f"{name}@{version}" if name else version


def load_policy(path: str | Path | None = None) -> Policy:
    """Load and validate a rule file (the shipped default if ``path`` is None)."""
    source = Path(path) if path is not None else default_rules_path()
    return Policy.from_ruleset(load_ruleset(source), source=str(source))
