"""Filing completeness (填报完整性): in a period of whole local days, which units made the
daily checks and weekly assessments their disputes owed, and how late. Pure.

The obligations watched are those of the rule file fulfilled by a ``check`` or an
``assess`` event. Each dispute's history is folded once, record by record: its events
and, in between, the escalations and listings the rules took (those a sweep recorded are
events; those due but not yet recorded come from :func:`rules.evaluate.evaluate`). After
each record the obligations owed give each one's due time; a fulfilling event meets the
due time owed just before it. So a due time is:

- met on time, by a fulfilling event at or before it, unless that makes the obligation
  fall due again at the same time (after a second check the same day, or a check on a day
  off, the next is due by the end of the same working day): one due time, met only if
  met again;
- met late, by a fulfilling event after it, while still the one owed: a check missed on
  Monday and made on Wednesday met Monday's due time (no other came in between: a daily
  check falls due again only once made), one due time, late;
- missed, if nothing met it by ``now`` (still open, late until now), or if the rules moved
  the obligation on after it passed: an escalation or a hand-back restarts the clocks, so
  a high-risk dispute whose check was missed goes up to the township, which owes a check
  of its own; or if the obligation ended after it passed (the dispute resolved, its risk
  lowered). Either way late until then.

A due time that moves before it passes (a pause, a clock restarted) and one whose
obligation ends first (the dispute resolved before it) were never owed. A due time after
``now`` is not owed yet and is not counted, even if already met: a day's board fills as
its due times pass (they are mostly at its end, 24:00 local).

Each due time counts at the unit that handled the dispute just before it: its village,
or the township or county when it was handled there.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

from models.lifecycle import DisputeState, Event
from models.values import EventKind, Level
from rules.evaluate import Decision, DueObligation, evaluate
from rules.policy import Policy
from rules.reporting import Case, OrgUnit, Period, Where, period_named
from rules.schema import ObligationRule

__all__ = [
    "FILED_BY",
    "Item",
    "board",
    "filing_items",
    "filing_period",
    "watched_obligations",
]

# The events that file the cadence's work: a daily check (日排查), an assessment (周研判).
FILED_BY = (EventKind.check, EventKind.assess)
_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_MINUTE = timedelta(minutes=1)
_RANK = {level: rank for rank, level in enumerate(Level)}
_DECISIONS = (EventKind.escalate, EventKind.supervise)

State = Literal["on_time", "late", "missed"]


@dataclass(frozen=True)
class Item:
    """One due time of one obligation of one dispute, and how it was met."""

    dispute: int
    title: str
    obligation: str
    due_at: datetime
    done_at: datetime | None  # the fulfilling event; None: missed
    # None: on time; late, or missed: how long it stood unmet (a part of a minute counts as
    # one; 0 if the rules moved it on at its very due time)
    late_minutes: int | None
    where: Where  # where the dispute was handled just before the due time
    open: bool = False  # missed, and still owed at the board's moment

    @property
    def unit(self) -> str:
        """The row it counts in: the unit that handled the dispute."""
        return self.where.unit

    @property
    def state(self) -> State:
        if self.done_at is None:
            return "missed"
        return "on_time" if self.late_minutes is None else "late"


def watched_obligations(policy: Policy) -> dict[str, ObligationRule]:
    """The rule file's obligations that a check or an assessment fulfils, in its order."""
    return {
        name: rule
        for name, rule in policy.rules.obligations.items()
        if rule.fulfilled_by in FILED_BY
    }


def filing_period(*, day: str | None = None, week: str | None = None, zone: ZoneInfo) -> Period:
    """The period ``--day 2026-03-02`` or ``--week 2026-W10`` names, from local midnight to
    local midnight; ValueError with what is wrong."""
    if (day is None) == (week is None):
        raise ValueError("name one period: a day (such as 2026-03-02) or a week (2026-W10)")
    if week is not None:
        return period_named("week", week, zone)
    assert day is not None
    if _DAY.fullmatch(day) is None:
        raise ValueError(f"day {day!r}: write it as a date, such as 2026-03-02")
    try:
        first = date.fromisoformat(day)
    except ValueError:
        raise ValueError(f"day {day!r}: there is no such date") from None
    return Period(
        datetime.combine(first, time(0), zone),
        datetime.combine(first + timedelta(days=1), time(0), zone),
        first.isoformat(),
    )


def filing_items(
    case: Case, *, policy: Policy, start: datetime, end: datetime, now: datetime
) -> list[Item]:
    """The due times of ``case``'s watched obligations with ``start < due <= end`` that were
    owed by ``now``, each met on time, late or missed; events after ``now`` are not seen."""
    rules = watched_obligations(policy)
    if not rules or case.initial.reported_at >= min(end, now):
        return []
    history = [e for e in case.events if e.at <= now]
    # The decisions the rules took between events; then the fold again, a record at a time,
    # under the rules reduced to the obligations watched (the others' due times are not
    # needed again, and what a fold does for one obligation does not depend on the others).
    decisions = evaluate(case.initial, history, policy=policy, now=now).decisions
    report = [e for e in history if e.kind is EventKind.report][:1]
    reported = case.initial.reported_at
    fold = evaluate(case.initial, report, policy=_watching(policy), now=reported).fold_state
    assert fold is not None
    # A due time after now is not owed yet, even if already met.
    ledger = _Ledger(case, rules, start=start, end=min(end, now))
    ledger.look(fold.state, fold.obligations(), at=reported)
    for record, decided in _records(history, decisions):
        ledger.fulfil(record)
        fold.record(record)
        ledger.look(fold.state, fold.obligations(), at=record.at, decided=decided)
    ledger.close(now)
    return sorted(ledger.items, key=lambda i: (i.due_at, i.obligation))


# The rules reduced to the obligations watched, by version: made once for many disputes, so
# that their date arithmetic is remembered.
_WATCHING: dict[str, Policy] = {}


def _watching(policy: Policy) -> Policy:
    found = _WATCHING.get(policy.version)
    if found is None:
        if len(_WATCHING) >= 8:
            _WATCHING.clear()
        rules = policy.rules.model_copy(update={"obligations": watched_obligations(policy)})
        found = _WATCHING[policy.version] = Policy(
            rules=rules,
            calendar=policy.calendar,
            zone=policy.zone,
            version=policy.version,
            source=policy.source,
        )
    return found


def _records(
    history: Iterable[Event], decisions: Sequence[Decision]
) -> Iterator[tuple[Event, bool]]:
    """The events and the decisions in the order the evaluation folded them (a decision
    before the events dated after it), each with whether it is a decision."""
    events = sorted(
        (e for e in history if e.kind is not EventKind.report), key=lambda e: (e.at, e.seq)
    )
    pending = deque(d.as_event() for d in decisions)
    for event in events:
        while pending and pending[0].at < event.at:
            yield pending.popleft(), True
        yield event, _decided(event)
    for decision in pending:
        yield decision, True


def _decided(event: Event) -> bool:
    """Whether a recorded event is a decision of the rules that a sweep recorded (it names
    the rule; a person's escalation does not)."""
    return event.kind in _DECISIONS and event.actor is None and "rule" in event.data


@dataclass
class _Owed:
    due: datetime
    where: Where


class _Ledger:
    """The due time each watched obligation owes, followed record by record."""

    def __init__(
        self, case: Case, rules: Mapping[str, ObligationRule], *, start: datetime, end: datetime
    ) -> None:
        self.case = case
        self.rules = rules
        self.start = start
        self.end = end
        self.owed: dict[str, _Owed] = {}
        self.stopped: datetime | None = None  # when the dispute was paused, if it is
        self.items: list[Item] = []
        self.met: dict[str, tuple[_Owed, datetime]] = {}  # by the record being folded

    def fulfil(self, event: Event) -> None:
        """Meet the due times ``event`` fulfils, as owed just before it."""
        for name, rule in self.rules.items():
            owed = self.owed.get(name)
            if owed is not None and event.kind is rule.fulfilled_by:
                self.met[name] = (self.owed.pop(name), event.at)

    def look(
        self,
        state: DisputeState,
        obligations: Iterable[DueObligation],
        *,
        at: datetime,
        decided: bool = False,
    ) -> None:
        """Follow the obligations owed after a record at ``at`` (a decision if ``decided``)."""
        met, self.met = self.met, {}
        due = {o.name: o.due_at for o in obligations if o.name in self.rules}
        for name, (fulfilled, done) in met.items():
            if not state.paused and due.get(name) == fulfilled.due:
                # Owed again by the same time (after two checks in a day, or one on a day
                # off): one due time, met only if met again.
                self.owed[name] = fulfilled
            else:
                self._count(name, fulfilled, done=done, until=done)
        if state.paused:  # owes nothing while paused; its due times move when it resumes
            if self.stopped is None:
                self.stopped = at
            self._follow(state, at)
            return
        moment, decided = (at, decided) if self.stopped is None else (self.stopped, False)
        self.stopped = None
        for name in self.rules:
            owed = self.owed.get(name)
            found = due.get(name)
            if owed is not None and owed.due != found:
                del self.owed[name]
                # A decision at a due time is taken because it passed unmet (a threshold
                # at T is crossed just after T); an event at it is still in time. Moved or
                # ended before it passed, it was never owed.
                if owed.due < moment or (decided and owed.due == moment):
                    self._count(name, owed, done=None, until=moment)
            if found is not None and name not in self.owed:
                self.owed[name] = _Owed(found, Where.of(state))
        self._follow(state, at)

    def close(self, now: datetime) -> None:
        """The due times still owed at ``now``: missed if passed (when paused: before the
        pause; the others move when it resumes)."""
        moment = now if self.stopped is None else self.stopped
        for name, owed in self.owed.items():
            if owed.due < moment:
                self._count(name, owed, done=None, until=now, still_open=True)
        self.owed = {}

    def _follow(self, state: DisputeState, at: datetime) -> None:
        """The dispute stands so until each due time not yet reached."""
        for owed in self.owed.values():
            if owed.due > at:
                owed.where = Where.of(state)

    def _count(
        self,
        name: str,
        owed: _Owed,
        *,
        done: datetime | None,
        until: datetime,
        still_open: bool = False,
    ) -> None:
        if not self.start < owed.due <= self.end:
            return
        late: int | None = max(0, -(-(until - owed.due) // _MINUTE))
        if done is not None and late == 0:
            late = None  # on time
        self.items.append(
            Item(
                dispute=self.case.id,
                title=self.case.title,
                obligation=name,
                due_at=owed.due,
                done_at=done,
                late_minutes=late,
                where=owed.where,
                open=still_open,
            )
        )


def board(
    items: Iterable[Item],
    *,
    unit: OrgUnit,
    rows: Sequence[OrgUnit],
    period: Period,
    now: datetime,
    policy: Policy,
    names: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The filing board of ``unit`` (a township or a county), JSON-shaped: per row (``rows``:
    its villages, then its own row and its townships'), how many due times were owed, met
    on time, late and missed; and who is behind (late and missed, newest due first).

    Items of disputes outside ``unit``'s subtree at their due time, or handled above it,
    are left out; a unit of an item not in ``rows`` (a village since ended or moved) gets
    a row at the end, named by ``names``."""
    head = Level(unit.level)
    zone = policy.zone
    rules = watched_obligations(policy)
    known = {**(names or {}), **{row.code: row.name for row in rows}}
    table: dict[str, dict[str, Any]] = {}
    order: list[tuple[str, str]] = []  # (code, level)
    for row in rows:
        if row.code not in table:
            table[row.code] = _zero(rules)
            order.append((row.code, row.level))
    behind: list[Item] = []
    for item in items:
        where = item.where
        if where.path.at(head) != unit.code or _RANK[where.level] > _RANK[head]:
            continue
        if item.unit not in table:
            table[item.unit] = _zero(rules)
            order.append((item.unit, where.level.value))
        figures = table[item.unit]
        state = item.state
        for counted in (figures, figures["by_obligation"][item.obligation]):
            counted["owed"] += 1
            counted[state] += 1
        if item.late_minutes is not None:
            latest = figures["latest_minutes"]
            figures["latest_minutes"] = max(latest or 0, item.late_minutes)
        if state != "on_time":
            behind.append(item)
    units = []
    for code, level in order:
        figures = table[code]
        complete = figures["owed"] > 0 and figures["on_time"] == figures["owed"]
        units.append(
            {
                "unit": code,
                "name": known.get(code, code),
                "level": level,
                **{name: figures[name] for name in ("owed", "on_time", "late", "missed")},
                "complete": complete,
                "latest_minutes": figures["latest_minutes"],
                "by_obligation": figures["by_obligation"],
            }
        )
    totals = {
        name: sum(row[name] for row in units) for name in ("owed", "on_time", "late", "missed")
    }
    totals.update(
        complete_units=sum(row["complete"] for row in units),
        owing_units=sum(row["owed"] > 0 for row in units),
        units=len(units),
    )
    behind.sort(key=lambda i: (i.dispute, i.obligation))
    behind.sort(key=lambda i: i.due_at, reverse=True)
    return {
        "unit": unit.code,
        "name": unit.name,
        "level": unit.level,
        "period": {
            "label": period.label,
            "start": period.start.astimezone(zone).isoformat(),
            "end": period.end.astimezone(zone).isoformat(),
            "first_day": period.start.astimezone(zone).date().isoformat(),
            "last_day": policy.local_day(period.end).isoformat(),
        },
        "now": now.astimezone(zone).isoformat(),
        "obligations": [
            {"name": name, "label": rule.label_in("zh")} for name, rule in rules.items()
        ],
        "totals": totals,
        "units": units,
        "items": [
            {
                "dispute": item.dispute,
                "title": item.title,
                "unit": item.unit,
                "unit_name": known.get(item.unit, item.unit),
                "obligation": item.obligation,
                "due": item.due_at.astimezone(zone).isoformat(),
                "done_at": item.done_at.astimezone(zone).isoformat() if item.done_at else None,
                "late_minutes": item.late_minutes,
                "state": item.state,
                "open": item.open,
            }
            for item in behind
        ],
    }


def _zero(rules: Mapping[str, ObligationRule]) -> dict[str, Any]:
    return {
        "owed": 0,
        "on_time": 0,
        "late": 0,
        "missed": 0,
        "latest_minutes": None,
        "by_obligation": {
            name: {"owed": 0, "on_time": 0, "late": 0, "missed": 0} for name in rules
        },
    }
