"""The rule file's schema: pydantic models, every one ``extra="forbid"``."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import date
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    field_serializer,
    field_validator,
    model_validator,
)

from models.events import EventData
from models.values import EventKind, Level, Risk
from rules.durations import Duration, parse_duration

__all__ = [
    "AppliesTo",
    "CalendarRules",
    "CalendarYear",
    "DateRange",
    "EscalationRule",
    "FlowSchedule",
    "Delivery",
    "Language",
    "ObligationRule",
    "RESOLUTION_RATES",
    "ReportRule",
    "ReportSection",
    "QuietHours",
    "Reminders",
    "Problem",
    "RuleSet",
    "SensitivePeriod",
    "Source",
    "Category",
    "lookup",
    "names",
    "SupervisionGrade",
    "UnitObligationRule",
    "SupervisionRule",
    "JudicialConfirmation",
    "DueByData",
    "consistency_problems",
]


def _to_duration(value: Any) -> Duration:
    if isinstance(value, Duration):
        return value
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise ValueError("a duration is written like 3d, 2wd, 36h or 90m")
    if isinstance(value, int):
        raise ValueError(f"{value} has no unit: write {value}d, {value}wd, {value}h or {value}m")
    return parse_duration(value)


DurationField = Annotated[Duration, BeforeValidator(_to_duration), PlainSerializer(str)]


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class DateRange(Model):
    """An inclusive range of local dates."""

    start: date = Field(alias="from")
    end: date = Field(alias="to")
    name: str | None = None

    @model_validator(mode="after")
    def _ordered(self) -> DateRange:
        if self.end < self.start:
            raise ValueError(f"range ends ({self.end}) before it starts ({self.start})")
        return self

    def days(self) -> list[date]:
        return [
            date.fromordinal(n) for n in range(self.start.toordinal(), self.end.toordinal() + 1)
        ]


class CalendarYear(Model):
    """One year's official schedule, as the State Council publishes it."""

    holidays: list[date | DateRange] = []
    workdays: list[date] = Field(default=[], description="make-up working days (调休)")

    def holiday_dates(self) -> set[date]:
        days: set[date] = set()
        for item in self.holidays:
            days.update(item.days() if isinstance(item, DateRange) else [item])
        return days


class CalendarRules(Model):
    base: Literal["chinese", "weekends"] = "chinese"
    years: dict[int, CalendarYear] = {}


class SensitivePeriod(Model):
    """A sensitive period (敏感时期): thresholds tighten for the clocks that start in it."""

    name: str
    start: date = Field(alias="from")
    end: date = Field(alias="to")
    risks: list[Risk] = [Risk.high, Risk.medium, Risk.low]
    checks_on_holidays: bool = False
    threshold_factor: float = Field(default=1.0, gt=0, le=1)

    @model_validator(mode="after")
    def _ordered(self) -> SensitivePeriod:
        if self.end < self.start:
            raise ValueError(f"period ends ({self.end}) before it starts ({self.start})")
        return self

    def covers(self, day: date, risk: Risk) -> bool:
        return self.start <= day <= self.end and risk in self.risks


StatusGroup = Literal["open", "resolved", "referred", "supervised", "any"]


class AppliesTo(Model):
    """Which disputes owe an obligation: by status (open: reported or mediating; supervised:
    under supervised listing, whatever the status; any: every status, closed and withdrawn
    included), risk, listing, and what their events
    said (``when: {report.source: [court_delegated]}``: the latest such event's field had
    one of these values)."""

    status: StatusGroup | list[StatusGroup]
    risks: list[Risk] = [Risk.high, Risk.medium, Risk.low]
    supervised: bool | None = None
    when: dict[str, list[str]] = {}

    @property
    def statuses(self) -> tuple[StatusGroup, ...]:
        return (self.status,) if isinstance(self.status, str) else tuple(self.status)


class DueByData(Model):
    """A due time chosen by what an event said: ``{by: refer.to, values: {police: 15d},
    otherwise: 30d}``."""

    by: str
    values: dict[str, DurationField]
    otherwise: DurationField | None = None

    def pick(self, value: object) -> Duration | None:
        found = self.values.get(str(value)) if value is not None else None
        return found if found is not None else self.otherwise


Language = Literal["zh", "en"]


class Labelled(Model):
    """What people call a thing of the rules: one name, or one per language of the messages
    (zh, en)."""

    label: (
        Annotated[str, Field(min_length=1)]
        | Annotated[dict[Language, Annotated[str, Field(min_length=1)]], Field(min_length=1)]
    )

    def label_in(self, language: Language) -> str:
        """The label in ``language``, else in English, else the one given."""
        if isinstance(self.label, str):
            return self.label
        return self.label.get(language) or self.label.get("en") or next(iter(self.label.values()))


class ObligationRule(Labelled):
    """One cadence obligation: who owes it, when it falls due, what fulfils it."""

    applies_to: AppliesTo
    fulfilled_by: EventKind
    after: list[EventKind] = [EventKind.report]
    # after_last: due after the latest of `after`, again after each fulfilment; once: owed
    # until fulfilled, its clock not restarted by a change of level; every: each period
    schedule: Literal["after_last", "once", "every", "first_working_day_of_next_month"] = (
        "after_last"
    )
    due: DurationField | DueByData | None = None
    # a time an event gave (`supervise.deadline`, `extend.until`): it replaces `due`
    due_at: str | None = None
    owner: Literal["responsible", "township", "county", "listing"] = "responsible"

    @field_serializer("due")
    def _due_as_written(self, due: Duration | DueByData | None) -> object:
        """``due`` as the file writes it. Without this, pydantic serialised a DueByData in
        this union with the Duration's ``str``, and a stored rule set could not be read back."""
        if isinstance(due, DueByData):
            return due.model_dump(mode="json", by_alias=True)
        return None if due is None else str(due)

    @model_validator(mode="after")
    def _due_matches_schedule(self) -> ObligationRule:
        if self.schedule == "first_working_day_of_next_month":
            if self.due is not None or self.due_at is not None:
                raise ValueError(
                    "'due' and 'due_at' are not used with schedule first_working_day_of_next_month"
                )
        elif self.schedule == "every":
            if not isinstance(self.due, Duration) or self.due_at is not None:
                raise ValueError("schedule every needs 'due', a duration such as 15d")
        elif self.due is None and self.due_at is None:
            raise ValueError(f"'due' or 'due_at' is required with schedule {self.schedule}")
        return self

    def fields_read(self) -> list[tuple[tuple[str | int, ...], str]]:
        """The event fields (``kind.field``) this rule reads, with where it names them."""
        read: list[tuple[tuple[str | int, ...], str]] = [
            (("applies_to", "when", key), key) for key in self.applies_to.when
        ]
        if isinstance(self.due, DueByData):
            read.append((("due", "by"), self.due.by))
        if self.due_at is not None:
            read.append((("due_at",), self.due_at))
        return read


class EscalationRule(Model):
    """Move a dispute one level up when a threshold is crossed at its level."""

    id: str
    from_level: Level = Field(alias="from")
    to_level: Level = Field(alias="to")
    risk: Risk
    when: Literal["unresolved", "overdue"]
    after: DurationField | None = None
    # an obligation's name, a list of them, or any
    obligation: str | list[str] | None = None
    by: DurationField | None = None

    def watches(self, obligation: str) -> bool:
        """Whether an overdue ``obligation`` counts for this rule."""
        if isinstance(self.obligation, list):
            return obligation in self.obligation
        return self.obligation in ("any", obligation)

    @model_validator(mode="after")
    def _fields_match_when(self) -> EscalationRule:
        if self.when == "unresolved":
            if self.after is None:
                raise ValueError(
                    "an 'unresolved' rule needs 'after' (time since reaching the level)"
                )
            if self.obligation is not None or self.by is not None:
                raise ValueError("'obligation' and 'by' belong to 'overdue' rules")
        else:
            if self.obligation is None:
                raise ValueError("an 'overdue' rule needs 'obligation' (a name, a list, or any)")
            if self.after is not None:
                raise ValueError("'after' belongs to 'unresolved' rules; use 'by' for a grace time")
        return self


class SupervisionRule(Model):
    """Put a dispute under supervised listing (挂牌督办) when unresolved too long at a level."""

    id: str
    level: Level
    risk: Risk
    after: DurationField
    deadline: DurationField


class UnitObligationRule(Labelled):
    """What a unit's supervisors owe for the unit as a whole (the county's monthly inspection,
    月督查): a task for every unit of ``level``, opened each time the cadence flow
    ``opened_by`` runs and due at the end of that local day (or ``due`` after its start);
    done when one of them records ``fulfilled_by`` for the unit."""

    level: Literal["township", "county"]
    opened_by: str
    fulfilled_by: EventKind = EventKind.inspect
    due: DurationField | None = None


class SupervisionGrade(Labelled):
    """A grade of supervised listing (黄牌, 红牌…): when a listing's deadline passes with the
    dispute unresolved, the next grade applies, with a new deadline counted from the old."""

    name: str = Field(min_length=1, max_length=64)
    deadline: DurationField


class Source(Labelled):
    """Where disputes come from (来源): a code of the rule file's list; ``court`` when the
    source is a court (委派, 委托), which must then be named."""

    court: bool = False


class Category(Labelled):
    """A kind of dispute (纠纷类型): a code of the rule file's list, which also answers to
    ``aliases`` (the other names ledgers give it)."""

    aliases: list[Annotated[str, Field(min_length=1, max_length=64)]] = []


def _names_of(code: str, labelled: Labelled, aliases: list[str]) -> list[str]:
    """The names a code answers to: itself, its labels and its aliases, each also with 纠纷
    added or taken off; compared without case or surrounding space."""
    labels = [labelled.label] if isinstance(labelled.label, str) else list(labelled.label.values())
    names = [code, *labels, *aliases]
    for label in [*labels, *aliases]:
        names.append(label[: -len("纠纷")] if label.endswith("纠纷") else f"{label}纠纷")
    return [name.strip().casefold() for name in names]


def lookup(table: Mapping[str, Any], text: str) -> str | None:
    """The code of ``table`` (categories or sources) that ``text`` names, or None."""
    return names(table).get(text.strip().casefold())


# The names of each table looked up, made once: the table is kept with them, so that its
# identity is not taken by another.
_NAMES: dict[int, tuple[Mapping[str, Any], dict[str, str]]] = {}


def names(table: Mapping[str, Any]) -> dict[str, str]:
    """Every name of ``table``'s codes (compared without case or surrounding space), and
    its code: the first code to take a name keeps it."""
    kept = _NAMES.get(id(table))
    if kept is not None and kept[0] is table:
        return kept[1]
    found: dict[str, str] = {}
    for code, entry in table.items():
        for name in _names_of(code, entry, getattr(entry, "aliases", [])):
            found.setdefault(name, code)
    _NAMES[id(table)] = (table, found)
    return found


ReportSection = Literal["assessment", "ranking", "named_units", "missed_listings"]
# 化解率: resolved ÷ screened in the period (the glossary's); of the disputes screened in the
# period, the share resolved by its end; resolved ÷ (open at the start + screened).
RESOLUTION_RATES = {
    "screened": "化解数 ÷ 排查数",
    "cohort": "本期排查中已化解 ÷ 排查数",
    "handled": "化解数 ÷ (期初在办 + 排查数)",
}


class ReportRule(Labelled):
    """A report (周研判报告, 月督查通报): stored for every unit of ``level`` each time the
    schedule's flow of the same name runs, of the last whole ``period`` (week: Monday to
    Sunday, local; month) before it; its optional ``sections``; the 化解率 it gives."""

    level: Literal["village", "township", "county"]
    period: Literal["week", "month"]
    resolution_rate: Literal["screened", "cohort", "handled"] = "screened"
    sections: list[ReportSection] = []
    trend: int = Field(default=6, ge=1, le=24)  # the periods the trend shows, this one last


class JudicialConfirmation(Model):
    """司法确认: the parties to a written agreement may apply jointly to a court ``within``
    this time of it (人民调解法 art. 33); later applications are refused."""

    within: DurationField


def _quoted_time(value: Any) -> Any:
    if isinstance(value, int) and not isinstance(value, bool):
        # YAML reads an unquoted 8:00 as a number of minutes (sexagesimal): 480
        hours, minutes = divmod(value, 60)
        raise ValueError(
            f'a time of day is written in quotes, like "{hours:02d}:{minutes:02d}": '
            f"unquoted, YAML reads it as the number {value}"
        )
    return value


LocalTime = Annotated[
    str,
    BeforeValidator(_quoted_time),
    Field(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$"),
]


Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class FlowSchedule(Model):
    """When a sweep flow runs: ``every`` few minutes, or ``at`` a local time on ``days``."""

    every: DurationField | None = None
    at: LocalTime | None = None
    days: (
        Literal["every", "working", "first_working_day"]
        | list[Weekday]
        | list[Annotated[int, Field(ge=1, le=28)]]
    ) = "every"

    @model_validator(mode="after")
    def _one_way(self) -> FlowSchedule:
        if (self.every is None) == (self.at is None):
            raise ValueError("give either 'every' (e.g. 5m) or 'at' (a quoted \"HH:MM\")")
        if self.every is not None and self.every.counts_days:
            raise ValueError("'every' is in hours or minutes (e.g. 5m, 1h)")
        if self.every is not None and self.days != "every":
            raise ValueError("'days' goes with 'at', not with 'every'")
        return self


class QuietHours(Model):
    """No messages between ``start`` and ``end`` local time, except for the listed risks."""

    start: LocalTime = Field(alias="from")
    end: LocalTime = Field(alias="to")
    except_risks: list[Risk] = [Risk.high]


class Reminders(Model):
    """When tasks are reminded: before and at their due time, and overdue in a morning digest."""

    before: list[DurationField] = []
    at_due: bool = True
    digest_at: LocalTime | None = "08:00"
    quiet_hours: QuietHours | None = None
    language: Language = "zh"

    @field_validator("before")
    @classmethod
    def _exact(cls, value: list[Duration]) -> list[Duration]:
        for offset in value:
            if offset.counts_days:
                raise ValueError(f"reminder offsets are in hours or minutes, not {offset}")
        return sorted(value, reverse=True)


class Delivery(Model):
    """How the outbox is delivered: attempts before a message is dead, and the first backoff."""

    max_attempts: int = Field(default=20, ge=1, le=100)
    backoff: DurationField = Duration(1, "m")


# The flows that are not an obligation's cadence step.
SWEEPS = ("escalation", "reminders", "delivery")


class RuleSet(Model):
    name: str | None = None
    timezone: str = "Asia/Shanghai"
    calendar: CalendarRules = CalendarRules()
    obligations: dict[str, ObligationRule]
    escalations: list[EscalationRule] = []
    supervision: list[SupervisionRule] = []
    supervision_grades: list[SupervisionGrade] = []
    unit_obligations: dict[str, UnitObligationRule] = {}
    judicial_confirmation: JudicialConfirmation | None = None
    sources: dict[str, Source] = {}
    categories: dict[str, Category] = {}
    sensitive_periods: list[SensitivePeriod] = []
    acknowledgement: dict[Risk, DurationField] = {}
    acknowledgement_escalation: dict[Risk, DurationField] = {}
    reminders: Reminders = Reminders()
    delivery: Delivery = Delivery()
    reports: dict[str, ReportRule] = {}
    schedule: dict[str, FlowSchedule] = {}

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError, OSError):
            raise ValueError(f"unknown time zone {value!r}") from None
        return value

    def version(self) -> str:
        """A content hash: equal rules have equal versions, whatever the comments or layout."""
        canonical = json.dumps(self.model_dump(mode="json", by_alias=True), sort_keys=True)
        return hashlib.sha256(canonical.encode()).hexdigest()[:12]


class Problem(Model):
    """A problem found in a rule file, at a path of keys and indexes."""

    path: tuple[str | int, ...]
    message: str


def consistency_problems(rules: RuleSet) -> list[Problem]:
    """Problems that no single field shows: rules that contradict or lead nowhere."""
    problems: list[Problem] = []
    for listing, coded in (("categories", rules.categories), ("sources", rules.sources)):
        called: dict[str, str] = {}
        for code, entry in coded.items():
            for alias in dict.fromkeys(_names_of(code, entry, getattr(entry, "aliases", []))):
                if called.get(alias, code) != code:
                    problems.append(
                        Problem(
                            path=(listing, code),
                            message=f"{alias!r} already names {called[alias]!r}",
                        )
                    )
                called.setdefault(alias, code)
    seen_ids: dict[str, tuple[str | int, ...]] = {}
    thresholds: dict[tuple[Level, Risk, str, str | tuple[str, ...] | None], int] = {}
    for index, rule in enumerate(rules.escalations):
        at: tuple[str | int, ...] = ("escalations", index)
        if rule.id in seen_ids:
            problems.append(Problem(path=(*at, "id"), message=f"rule id {rule.id!r} is used twice"))
        seen_ids[rule.id] = at
        if rule.from_level.up is None:
            problems.append(Problem(path=(*at, "from"), message="nothing escalates beyond county"))
        elif rule.to_level != rule.from_level.up:
            direction = (
                "goes down"
                if list(Level).index(rule.to_level) <= list(Level).index(rule.from_level)
                else "skips a level"
            )
            problems.append(
                Problem(
                    path=(*at, "to"),
                    message=f"escalation from {rule.from_level} to {rule.to_level} {direction}: "
                    f"{rule.from_level} escalates to {rule.from_level.up}",
                )
            )
        named = rule.obligation if isinstance(rule.obligation, list) else [rule.obligation]
        for index_in, name in enumerate(named):
            if name is not None and name != "any" and name not in rules.obligations:
                where: tuple[str | int, ...] = (*at, "obligation")
                if isinstance(rule.obligation, list):
                    where = (*where, index_in)
                problems.append(
                    Problem(
                        path=where,
                        message=f"unknown obligation {name!r}; "
                        f"known: any, {', '.join(sorted(rules.obligations))}",
                    )
                )
        watched = (
            tuple(sorted(rule.obligation)) if isinstance(rule.obligation, list) else rule.obligation
        )
        key = (rule.from_level, rule.risk, rule.when, watched)
        if key in thresholds:
            other = thresholds[key]
            problems.append(
                Problem(
                    path=at,
                    message=f"contradicts escalations[{other}]: both set when a {rule.risk}-risk "
                    f"dispute at {rule.from_level} escalates for being {rule.when}"
                    + (f" ({', '.join(n for n in named if n)})" if rule.obligation else ""),
                )
            )
        else:
            thresholds[key] = index
    supervised: dict[tuple[Level, Risk], int] = {}
    for index, srule in enumerate(rules.supervision):
        at = ("supervision", index)
        if srule.id in seen_ids:
            problems.append(
                Problem(path=(*at, "id"), message=f"rule id {srule.id!r} is used twice")
            )
        seen_ids[srule.id] = at
        if (srule.level, srule.risk) in supervised:
            problems.append(
                Problem(
                    path=at,
                    message=f"contradicts supervision[{supervised[(srule.level, srule.risk)]}]: "
                    f"both list {srule.risk}-risk disputes at {srule.level}",
                )
            )
        supervised[(srule.level, srule.risk)] = index
    for year, schedule in rules.calendar.years.items():
        both = schedule.holiday_dates() & set(schedule.workdays)
        for day in sorted(both):
            problems.append(
                Problem(
                    path=("calendar", "years", year),
                    message=f"{day} is listed both as a holiday and as a working day",
                )
            )
        for day in sorted(schedule.holiday_dates() | set(schedule.workdays)):
            if day.year != year:
                problems.append(
                    Problem(
                        path=("calendar", "years", year),
                        message=f"{day} is not in {year}",
                    )
                )
    for risk, after in rules.acknowledgement_escalation.items():
        deadline = rules.acknowledgement.get(risk)
        if (
            deadline is None
            or after.counts_days
            or deadline.counts_days
            or (after.exact() <= deadline.exact())
        ):
            problems.append(
                Problem(
                    path=("acknowledgement_escalation", risk.value),
                    message=f"must be longer than acknowledgement.{risk.value} "
                    f"({deadline or 'not set'}), in hours or minutes",
                )
            )
    for flow in rules.schedule:
        if flow not in SWEEPS and flow not in rules.obligations and flow not in rules.reports:
            problems.append(
                Problem(
                    path=("schedule", flow),
                    message=f"unknown flow {flow!r}; known: {', '.join(SWEEPS)}, "
                    f"{', '.join(sorted([*rules.obligations, *rules.reports]))}",
                )
            )
    for name in rules.reports:
        if name in rules.obligations or name in SWEEPS:
            problems.append(
                Problem(
                    path=("reports", name),
                    message=f"{name!r} also names a flow of the schedule: give the report "
                    "another name",
                )
            )
        elif name not in rules.schedule:
            problems.append(
                Problem(
                    path=("reports", name),
                    message=f"report {name!r} has no schedule: add schedule.{name} "
                    '(e.g. {at: "09:00", days: [mon]})',
                )
            )
    problems.extend(_field_problems(rules))
    for section, names in (
        ("obligations", rules.obligations),
        ("unit_obligations", rules.unit_obligations),
        ("reports", rules.reports),
    ):
        for name in names:
            if len(name) > 32:
                problems.append(
                    Problem(
                        path=(section, name),
                        message=f"{name!r} is {len(name)} characters long; a name is at "
                        f"most 32 (it names {'flows' if section == 'reports' else 'tasks'})",
                    )
                )
    for name, unit_rule in rules.unit_obligations.items():
        if name in rules.obligations:
            problems.append(
                Problem(
                    path=("unit_obligations", name),
                    message=f"{name!r} is also an obligation of disputes: give it another name",
                )
            )
        if unit_rule.opened_by not in rules.obligations:  # unscheduled, it opens nothing
            problems.append(
                Problem(
                    path=("unit_obligations", name, "opened_by"),
                    message=f"{unit_rule.opened_by!r} is not a cadence flow; known: "
                    f"{', '.join(sorted(rules.obligations))}",
                )
            )
    grades: set[str] = set()
    for index, grade in enumerate(rules.supervision_grades):
        if grade.name in grades:
            problems.append(
                Problem(
                    path=("supervision_grades", index, "name"),
                    message=f"grade {grade.name!r} is named twice",
                )
            )
        grades.add(grade.name)
    fulfilling: dict[EventKind, list[str]] = {}
    for name, obligation in rules.obligations.items():
        if obligation.schedule == "once":
            continue  # ended by its event: two may end on the same one
        for other_name in fulfilling.get(obligation.fulfilled_by, []):
            earlier = rules.obligations[other_name].applies_to
            if set(earlier.statuses) & set(obligation.applies_to.statuses) and (
                set(earlier.risks) & set(obligation.applies_to.risks)
            ):
                problems.append(
                    Problem(
                        path=("obligations", name, "fulfilled_by"),
                        message=f"contradicts obligation {other_name!r}: both are fulfilled by "
                        f"{obligation.fulfilled_by} for the same disputes",
                    )
                )
                break
        fulfilling.setdefault(obligation.fulfilled_by, []).append(name)
    return problems


def _field_problems(rules: RuleSet) -> list[Problem]:
    """Event fields the obligations read that no event has, or values it never takes."""
    problems: list[Problem] = []
    for name, obligation in rules.obligations.items():
        for where, ref in obligation.fields_read():
            at: tuple[str | int, ...] = ("obligations", name, *where)
            kind_name, _, field_name = ref.partition(".")
            try:
                kind = EventKind(kind_name)
            except ValueError:
                problems.append(
                    Problem(path=at, message=f"{ref!r} names no event kind: write kind.field")
                )
                continue
            fields = {f.name: f for f in EventData.fields(kind)}
            found = fields.get(field_name)
            if found is None:
                known = ", ".join(sorted(fields)) or "none"
                problems.append(
                    Problem(
                        path=at,
                        message=f"{kind} events have no field {field_name!r}; fields: {known}",
                    )
                )
                continue
            if where == ("due_at",):
                if found.kind != "time":
                    problems.append(
                        Problem(path=at, message=f"{ref} is not a time: due_at needs one")
                    )
                continue
            if found.kind == "time":
                problems.append(Problem(path=at, message=f"{ref} is a time, not a value to match"))
                continue
            values = (
                obligation.applies_to.when[ref]
                if where[0] == "applies_to"
                else list(obligation.due.values)  # type: ignore[union-attr]
            )
            takes = list(found.choices)
            if ref == "report.source" and rules.sources:
                takes = list(rules.sources)
            unknown = [v for v in values if takes and v not in takes]
            if unknown:
                problems.append(
                    Problem(
                        path=at,
                        message=f"{ref} is never {', '.join(map(repr, unknown))}; "
                        f"it is one of {', '.join(takes)}",
                    )
                )
    return problems
