"""Finding disputes by a party's phone or ID number: through the keyed hash of it
(workflows.sealing), the parties' data itself staying sealed; within the viewer's scope."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, select

from models.parties import InvalidParties, validate_parties
from models.tables import Dispute, PartyDigest
from workflows.access import Viewer, disputes_in_scope
from workflows.db import reading
from workflows.errors import BadInput
from workflows.sealing import keyring_of
from workflows.views.dispute import iso

__all__ = ["find_by_party"]

DISPUTES = Dispute.__table__  # type: ignore[attr-defined]
DIGESTS = PartyDigest.__table__  # type: ignore[attr-defined]

_MOST = 200


def find_by_party(
    *,
    engine: Engine,
    viewer: Viewer | None,
    zone: ZoneInfo,
    phone: str | None = None,
    id_number: str | None = None,
) -> list[dict[str, Any]]:
    """The disputes (newest first, at most 200) with a party of that phone or ID number,
    as ``viewer`` may see them; the number is checked as a party's would be."""
    if (phone is None) == (id_number is None):
        raise BadInput("give a phone or an ID number, one of them")
    kind, given = ("phone", phone) if phone is not None else ("id_number", id_number)
    try:
        (party,) = validate_parties([{"name": "-", kind: given}])
    except InvalidParties as exc:
        raise BadInput(str(exc).replace("parties[0].", "", 1)) from None
    with reading(engine) as session:
        digest = keyring_of(session).digest(kind, party[kind])
        found = session.execute(
            disputes_in_scope(
                viewer,
                DISPUTES.c.id,
                DISPUTES.c.title,
                DISPUTES.c.category,
                DISPUTES.c.status,
                DISPUTES.c.risk,
                DISPUTES.c.unit_code,
                DISPUTES.c.reported_at,
            )
            .where(
                DISPUTES.c.id.in_(select(DIGESTS.c.dispute_id).where(DIGESTS.c.digest == digest))
            )
            .order_by(DISPUTES.c.reported_at.desc(), DISPUTES.c.id.desc())
            .limit(_MOST)
        ).all()
    return [
        {
            "id": row.id,
            "title": row.title,
            "category": row.category,
            "status": row.status,
            "risk": row.risk,
            "unit": row.unit_code,
            "reported_at": iso(row.reported_at, zone),
        }
        for row in found
    ]
