"""What a command needs, built on first use from the validated settings: the rules, the
clock, the database. This and the scheduler are the only code that reads the wall clock."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import Engine
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from models.values import Actor
from rules.policy import Policy, load_policy
from workflows.db import database_now, is_current, make_engine
from workflows.errors import BadInput
from workflows.rulesets import rules_in_force
from workflows.settings import Settings, parse_time

__all__ = ["Context"]


class Context:
    """The settings of one command, and what follows from them."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    @cached_property
    def policy(self) -> Policy:
        """The rules a command runs under: the file given (``--rules``, FENGQIAO_RULES; a
        write under it is refused unless it is in force), else the rules in force in the
        database, else the shipped default."""
        if self.settings.rules is not None:
            return load_policy(self.settings.rules)
        return self.rules_in_force() or load_policy(None)

    def rules_in_force(self) -> Policy | None:
        """The rules last put in force in the database; None before any, or when there is no
        database to ask yet (``init`` has not run)."""
        try:
            engine = self.engine
        except BadInput:
            return None
        return rules_in_force(engine)

    @cached_property
    def zone(self) -> ZoneInfo:
        """The zone times are printed in."""
        return ZoneInfo(self.settings.timezone or self.policy.rules.timezone)

    @cached_property
    def input_zone(self) -> ZoneInfo:
        """The zone a time written without an offset is read in: the rules' zone."""
        return self.policy.zone

    @cached_property
    def now(self) -> datetime:
        if self.settings.now:
            return parse_time(self.settings.now, zone=self.input_zone, what="--now")
        return datetime.now(UTC)

    @property
    def fixed(self) -> bool:
        """True when the clock is fixed by ``--now``."""
        return self.settings.now is not None

    def clock(self) -> datetime:
        """The time to stamp a run with: the fixed ``--now`` if given, else the wall clock."""
        return self.now if self.fixed else datetime.now(UTC)

    def database_clock(self) -> datetime:
        """The time sweeps compare due times with: the fixed ``--now`` if given, else the
        database's clock, so that sweeps on several machines agree on what is due."""
        return self.now if self.fixed else database_now(self.engine)

    def time(self, text: str | None, what: str) -> datetime | None:
        return None if text is None else parse_time(text, zone=self.input_zone, what=what)

    @staticmethod
    def actor(person: str | None) -> Actor:
        """Who a command acts as: the person of ``--by``, or the operator."""
        return Actor(person=person)

    @cached_property
    def raw_engine(self) -> Engine:
        return make_engine(self.settings.db)

    @cached_property
    def engine(self) -> Engine:
        """The engine of a database whose schema is current; a missing SQLite file stays so."""
        url = make_url(self.settings.db)
        file = url.database if url.get_backend_name() == "sqlite" else None
        if file not in (None, "", ":memory:") and not Path(str(file)).exists():
            raise BadInput(f"database {self.db_label} does not exist: run `fengqiao init`")
        try:
            current = is_current(self.raw_engine)
        except OperationalError as exc:
            raise BadInput(f"cannot open database {self.db_label}: {exc.orig}") from None
        if not current:
            raise BadInput(f"database {self.db_label} is not initialised: run `fengqiao init`")
        return self.raw_engine

    @property
    def db_label(self) -> str:
        return make_url(self.settings.db).render_as_string(hide_password=True)
