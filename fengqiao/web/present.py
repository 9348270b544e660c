"""How the pages show things: times, countdowns, the next escalation in words, a queue
row's state. Pure."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from fengqiao.web.i18n import Words

__all__ = ["local_path", "next_decision_text", "row_state", "spent", "until", "when"]

SOON = timedelta(hours=24)


def _time(text: str) -> datetime:
    return datetime.fromisoformat(text)


def when(text: str | None, now: datetime) -> str:
    """A time as the pages show it: ``11-23 09:30`` this year, with the year otherwise (in
    the zone it was given in)."""
    if text is None:
        return ""
    moment = _time(text)
    same_year = moment.year == now.astimezone(moment.tzinfo).year
    return moment.strftime("%m-%d %H:%M" if same_year else "%Y-%m-%d %H:%M")


def until(text: str, now: datetime) -> timedelta:
    """How long from ``now`` to the time ``text`` (negative once past)."""
    return _time(text) - now


def spent(since: str, until_: str | None, now: datetime) -> timedelta:
    """How long a ladder's step lasted, or has lasted so far."""
    return (_time(until_) if until_ else now) - _time(since)


def row_state(item: dict[str, Any], now: datetime) -> str:
    """A queue row's state, for its colour: ``overdue``, ``paused``, ``escalated`` (above
    the village), ``soon`` (a deadline within a day), or ``calm``."""
    if item["overdue"]:
        return "overdue"
    if item["paused"]:
        return "paused"
    if item["level"] != "village":
        return "escalated"
    if item["next_deadline"] and until(item["next_deadline"], now) < SOON:
        return "soon"
    return "calm"


def next_decision_text(
    t: Words,
    decision: dict[str, Any] | None,
    now: datetime,
    names: Mapping[str, str] | None = None,
) -> str | None:
    """The next automatic escalation or listing if nothing is done, in words: ``2 天 4 小时后
    将上报至县级（枫桥县）`` (the unit's name from ``names``, else its code); None if there is
    none to come."""
    if decision is None or decision["kind"] is None:
        return None
    level = t.of("level", decision["to_level"])
    if decision["kind"] == "escalate":
        unit = decision["unit"]
        what = t("dispute.escalate_to", level=level, unit=(names or {}).get(unit, unit))
    else:
        what = t("dispute.list_at", level=level)
    left = until(decision["at"], now)
    if left <= timedelta(0):
        return t("dispute.decision_due", what=what)
    return t("dispute.next_escalation", when=t.span(left), what=what)


def local_path(text: str | None, default: str = "/") -> str:
    """``text`` if it is a path of this site (where to go back to), else ``default``: never
    another site's address."""
    if not text or not text.startswith("/") or text.startswith("//") or "\\" in text:
        return default
    parts = urlsplit(text)
    if parts.scheme or parts.netloc:
        return default
    return text
