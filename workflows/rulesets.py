"""Which rule sets have been in force: every version is stored once, by its content hash."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import structlog
from pydantic import ValidationError
from sqlalchemy import Engine, bindparam
from sqlmodel import Session, col, select

from models.tables import RuleChange, RuleSetRecord
from rules.policy import Policy
from rules.schema import RuleSet
from workflows.db import insert_ignoring_duplicates, reading
from workflows.driver import fetch_one
from workflows.errors import BadInput

__all__ = [
    "RulesNotInForce",
    "current_version",
    "register_ruleset",
    "require_in_force",
    "rules_in_force",
    "ruleset_query",
    "stored_policy",
]

log = structlog.get_logger(__name__)


def ruleset_query(policy: Policy) -> tuple[Any, dict[str, Any]]:
    """The statement :func:`register_ruleset` reads, and its parameters: for a caller that
    sends it with its own reads, in one round trip (workflows.driver.fetch_together)."""
    return _REGISTERED, {"version": policy.version}


class RulesNotInForce(BadInput):
    """A write under rules other than the ones put in force: nothing is written."""

    def __init__(self, policy: Policy, in_force: str) -> None:
        super().__init__(
            f"rules {policy.label} ({policy.source}) are not the rules in force ({in_force}): "
            "records are made under the rules in force; run without --rules, or put these in "
            "force first with `fengqiao rules apply --by ADMIN --reason WHY`"
        )
        self.in_force = in_force


def register_ruleset(
    *,
    session: Session,
    policy: Policy,
    now: datetime,
    found: Any = None,
    applying: bool = False,
) -> None:
    """Store the policy's rule set the first time a record is made under it.

    Every record is made under the rules last put in force (`rules apply`): a write under
    others (a command run with a draft file) is refused with :class:`RulesNotInForce`,
    unless ``applying`` them is the write. Until rules are first put in force, any rules
    may be written under. ``found`` is the row of :func:`ruleset_query`, if the caller has
    read it already.
    """
    if found is None:
        found = fetch_one(session, *ruleset_query(policy))
    in_force, stored = found
    if in_force is not None and in_force != policy.version and not applying:
        raise RulesNotInForce(policy, in_force)
    if stored is not None:
        return
    # Two writers may meet a new version at once: the second insert does nothing.
    insert_ignoring_duplicates(
        session,
        RuleSetRecord,
        [
            {
                "version": policy.version,
                "name": policy.rules.name,
                "source": policy.source,
                "content": policy.rules.model_dump(mode="json", by_alias=True),
                "first_seen_at": now,
            }
        ],
    )


_LAST_CHANGE = (
    select(RuleChange.to_version).order_by(col(RuleChange.id).desc()).limit(1).scalar_subquery()
)
_REGISTERED = select(
    _LAST_CHANGE,
    select(RuleSetRecord.version)
    .where(RuleSetRecord.version == bindparam("version"))
    .scalar_subquery(),
)


def require_in_force(session: Session, policy: Policy) -> None:
    """Refuse (:class:`RulesNotInForce`) to go on under rules other than those in force."""
    in_force = current_version(session)
    if in_force is not None and in_force != policy.version:
        raise RulesNotInForce(policy, in_force)


def current_version(session: Session) -> str | None:
    """The version of the last rule change, or None before any."""
    version: str | None = session.execute(select(_LAST_CHANGE)).scalar_one()
    return version


def rules_in_force(engine: Engine) -> Policy | None:
    """The rules last put in force, read from the database; None before any."""
    with reading(engine) as session:
        return stored_policy(session, version=None)


def stored_policy(session: Session, *, version: str | None) -> Policy | None:
    """The stored rule set of ``version`` (the one last put in force if None), as a policy;
    None if there is none, or it cannot be read back (a rule set stored before the fix of
    its ``due`` chosen by an event's value). Workers use this rather than a file that may be
    mid-edit."""
    version = version or current_version(session)
    record = session.get(RuleSetRecord, version) if version else None
    if record is None:
        return None
    try:
        rules = RuleSet.model_validate(record.content)
    except ValidationError as exc:
        log.warning("rules_stored_unreadable", version=version, problems=exc.error_count())
        return None
    return Policy.from_ruleset(rules, source=f"{record.source} (stored {record.version})")
