"""Which rule sets have been in force: every version is stored once, by its content hash."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import structlog
from sqlalchemy import bindparam
from sqlmodel import Session, col, select

from models.tables import RuleChange, RuleSetRecord
from rules.policy import Policy
from rules.schema import RuleSet
from workflows.db import insert_ignoring_duplicates
from workflows.driver import fetch_one

__all__ = ["current_version", "register_ruleset", "ruleset_query", "stored_policy"]

log = structlog.get_logger(__name__)


def ruleset_query(policy: Policy) -> tuple[Any, dict[str, Any]]:
    """The statement :func:`register_ruleset` reads, and its parameters: for a caller that
    sends it with its own reads, in one round trip (workflows.driver.fetch_together)."""
    return _REGISTERED, {"version": policy.version}


def register_ruleset(*, session: Session, policy: Policy, now: datetime, found: Any = None) -> None:
    """Store the policy's rule set the first time a record is made under it.

    Writing under rules other than the ones last put in force (`rules apply`) is allowed,
    since each record carries its version, but it is logged: it usually means a command ran
    with a draft rule file. ``found`` is the row of :func:`ruleset_query`, if the caller
    has read it already.
    """
    if found is None:
        found = fetch_one(session, *ruleset_query(policy))
    in_force, stored = found
    if in_force is not None and in_force != policy.version:
        log.warning("rules_not_in_force", version=policy.version, in_force=in_force)
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


def current_version(session: Session) -> str | None:
    """The version of the last rule change, or None before any."""
    version: str | None = session.execute(select(_LAST_CHANGE)).scalar_one()
    return version


def stored_policy(session: Session, *, version: str | None) -> Policy | None:
    """The stored rule set of ``version`` (the one last put in force if None), as a policy;
    None if there is none. Workers use this rather than a file that may be mid-edit."""
    version = version or current_version(session)
    record = session.get(RuleSetRecord, version) if version else None
    if record is None:
        return None
    rules = RuleSet.model_validate(record.content)
    return Policy.from_ruleset(rules, source=f"{record.source} (stored {record.version})")
