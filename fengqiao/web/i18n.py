"""The web app's words, in Chinese by default or in English: ``locales/<language>.yaml``,
with the obligations' names from the rule file. Pure, but for reading the two files."""

from __future__ import annotations

from datetime import timedelta
from functools import cache
from pathlib import Path
from typing import Any, cast

import yaml

from models.values import ACKNOWLEDGEMENT
from rules.policy import Policy
from rules.schema import Language

__all__ = ["DEFAULT_LANGUAGE", "LANGUAGES", "Words", "keys_of", "locale"]

LANGUAGES = ("zh", "en")
DEFAULT_LANGUAGE = "zh"
_LOCALES = Path(__file__).with_name("locales")


@cache
def locale(language: str) -> dict[str, Any]:
    """The words of ``language``, as the YAML file has them."""
    loaded: dict[str, Any] = yaml.safe_load(
        (_LOCALES / f"{language}.yaml").read_text(encoding="utf-8")
    )
    return loaded


def keys_of(tree: dict[str, Any], prefix: str = "") -> set[str]:
    """Every dotted key of a locale."""
    keys: set[str] = set()
    for key, value in tree.items():
        name = f"{prefix}{key}"
        keys |= keys_of(value, f"{name}.") if isinstance(value, dict) else {name}
    return keys


class Words:
    """The words of one language, for templates: ``t("nav.tasks")``, ``t.of("risk", r)``."""

    def __init__(self, language: str, policy: Policy) -> None:
        self.language = language if language in LANGUAGES else DEFAULT_LANGUAGE
        self._tree = locale(self.language)
        self._policy = policy

    def reorganised(self, data: dict[str, Any]) -> str:
        """What an org change did to a dispute (its ``reorganise`` event's data), in a line
        of its timeline: the change, and each of its units that changed."""
        said = self._tree["reorganised"]
        parts = [str(said[data["change"]]).format(**data)]
        was, now = data.get("was"), data.get("path")
        if was and now:
            parts.extend(
                str(said["units"]).format(
                    level=self.of("unit_level", level), was=was[level], now=now[level]
                )
                for level in ("village", "township", "county")
                if was[level] != now[level]
            )
        return str(said["separator"]).join(parts)

    def __call__(self, key: str, **values: Any) -> str:
        node: Any = self._tree
        for part in key.split("."):
            node = node[part]
        text = str(node)
        return text.format(**values) if values else text

    def of(self, group: str, value: object) -> str:
        """The label of ``value`` in ``group`` (a status, a risk…), or the value itself."""
        labels = self._tree.get(group, {})
        return str(labels.get(str(value), value))

    @staticmethod
    def language_name(language: str) -> str:
        """A language's own name, for the switch between them."""
        return str(locale(language)["language"])

    def task(self, kind: str) -> str:
        """A task's name: an obligation's (or a unit obligation's) label from the rule file,
        or 签收."""
        if kind == ACKNOWLEDGEMENT:
            return self.of("event", "acknowledge")
        rules = self._policy.rules
        obligation = rules.obligations.get(kind) or rules.unit_obligations.get(kind)
        return obligation.label_in(cast(Language, self.language)) if obligation else kind

    def grade(self, name: str) -> str:
        """A listing's grade as the rule file labels it (黄牌, 红牌…)."""
        grade = next((g for g in self._policy.rules.supervision_grades if g.name == name), None)
        return grade.label_in(cast(Language, self.language)) if grade else name

    def span(self, delta: timedelta) -> str:
        """A length of time, coarsely: ``2 天 4 小时``, ``3 小时``, ``20 分钟``."""
        minutes = int(abs(delta).total_seconds() // 60)
        days, hours = minutes // (24 * 60), minutes // 60 % 24
        if days:
            parts = [self("time.days", n=days)]
            if hours:
                parts.append(self("time.hours", n=hours))
            return " ".join(parts)
        if hours:
            return self("time.hours", n=hours)
        if minutes:
            return self("time.minutes", n=minutes)
        return self("time.now")

    def countdown(self, delta: timedelta) -> str:
        """Time to a deadline (``剩 3 小时``), or past it (``逾期 1 天``)."""
        if abs(delta) < timedelta(minutes=1):
            return self("time.due_now")
        if delta < timedelta(0):
            return self("time.late", span=self.span(delta))
        return self("time.left", span=self.span(delta))
