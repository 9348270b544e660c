"""The accounts of the people of an administrator's subtree, as the accounts page shows them:
whether each can sign in, when the password was set, the last sign-in, live API tokens."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, and_, func, or_
from sqlmodel import col, select

from models.tables import Account, ApiToken, Person
from models.values import UnitLevel
from workflows.access import Viewer
from workflows.db import reading
from workflows.org import subtree, unit_in_scope
from workflows.views.dispute import iso

__all__ = ["ACCOUNTS_PAGE", "accounts_view"]

ACCOUNTS_PAGE = 100


def accounts_view(
    *,
    engine: Engine,
    viewer: Viewer,
    zone: ZoneInfo,
    unit: str | None = None,
    after: tuple[str, str] | None = None,
    limit: int = ACCOUNTS_PAGE,
) -> dict[str, Any]:
    """The people of ``unit``'s subtree (the viewer's own unit by default; NotFound outside
    the viewer's subtree), by unit and id, ``limit`` at a time after the ``(unit, id)`` of
    ``after``, each with their account: ``state`` none (no password yet), active or
    disabled."""
    with reading(engine) as session:
        top = unit_in_scope(session, viewer, unit or viewer.unit)[0].code
        codes = [u.code for u in subtree(session, top, levels=tuple(UnitLevel))]
        query = select(Person.id, Person.name, Person.role, Person.unit_code).where(
            col(Person.unit_code).in_(codes)
        )
        if after is not None:
            at, person = after
            query = query.where(
                or_(
                    col(Person.unit_code) > at,
                    and_(col(Person.unit_code) == at, col(Person.id) > person),
                )
            )
        people: list[Any] = list(
            session.execute(
                query.order_by(col(Person.unit_code), col(Person.id)).limit(limit + 1)
            ).all()
        )
        ids = [p.id for p in people[:limit]]
        accounts = {
            a.person_id: a
            for a in session.exec(select(Account).where(col(Account.person_id).in_(ids))).all()
        }
        tokens = {
            person: (count, used)
            for person, count, used in session.exec(
                select(ApiToken.person_id, func.count(), func.max(ApiToken.last_used_at))
                .where(col(ApiToken.person_id).in_(ids), col(ApiToken.revoked_at).is_(None))
                .group_by(col(ApiToken.person_id))
            ).all()
        }
    rows = []
    for person in people[:limit]:
        account = accounts.get(person.id)
        count, used = tokens.get(person.id, (0, None))
        if account is not None and account.disabled:
            state = "disabled"
        elif account is None or account.password_hash is None:
            state = "none"
        else:
            state = "active"
        rows.append(
            {
                "id": person.id,
                "name": person.name,
                "role": person.role,
                "unit": person.unit_code,
                "state": state,
                "password_set_at": iso(account.password_set_at if account else None, zone),
                "last_sign_in_at": iso(account.last_sign_in_at if account else None, zone),
                "tokens": count,
                "token_last_used_at": iso(used, zone),
            }
        )
    last = people[limit - 1] if len(people) > limit else None
    return {
        "unit": top,
        "rows": rows,
        "next": f"{last.unit_code}|{last.id}" if last is not None else None,
    }
