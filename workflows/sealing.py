"""The parties' data sealed at rest, in the database: the digests that find a dispute by
a party's phone or ID number, and rotating the key that seals them.

Rotating (`fengqiao keys rotate`) adds a new current key to the key file (the old ones
stay, to open what they sealed), then seals every dispute's parties again with it, a
batch at a time, each batch its own transaction, and makes their digests anew. A crash
leaves every value sealed with a key of the file; running it again finishes. Processes
already running keep sealing with the key they read until they are restarted, so the old
keys are dropped only by `--prune`, which first checks that nothing is sealed with them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import structlog
from sqlalchemy import Engine, String, bindparam, cast, delete, func, insert, select, update
from sqlmodel import Session, col

from models.sealing import Keyring
from models.tables import Dispute, PartyDigest
from workflows.db import reading, transaction
from workflows.errors import BadInput
from workflows.keys import key_file, save_keyring

__all__ = [
    "Rotated",
    "digest_rows",
    "in_clear",
    "keyring_of",
    "prune_keys",
    "rotate_keys",
    "seal_in_clear",
]

log = structlog.get_logger(__name__)

_BATCH = 1_000
_DISPUTES = Dispute.__table__  # type: ignore[attr-defined]
_DIGESTS = PartyDigest.__table__  # type: ignore[attr-defined]
_RAW = cast(_DISPUTES.c.parties, String)  # the stored text, not opened
_CLEAR = _RAW.not_like('%"fq1:%') & (_RAW != "[]")  # parties stored before sealing began
_SEAL_AGAIN = (
    update(_DISPUTES)
    .where(_DISPUTES.c.id == bindparam("b_id"))
    .values(parties=bindparam("p", type_=_DISPUTES.c.parties.type))
)


def keyring_of(session: Session) -> Keyring:
    """The keyring the session's engine seals with."""
    source = session.get_bind().dialect.fengqiao_keyring  # type: ignore[attr-defined]
    keyring: Keyring = source()
    return keyring


def digest_rows(
    keyring: Keyring, disputes: Iterable[tuple[int, Sequence[Mapping[str, Any]]]]
) -> list[dict[str, Any]]:
    """The ``party_digests`` rows of some disputes' parties: one per phone and ID number."""
    rows: dict[tuple[str, int], dict[str, Any]] = {}
    for dispute_id, parties in disputes:
        for party in parties:
            for kind in ("phone", "id_number"):
                value = party.get(kind)
                if isinstance(value, str) and value:
                    digest = keyring.digest(kind, value)
                    rows[(digest, dispute_id)] = {"digest": digest, "dispute_id": dispute_id}
    return list(rows.values())


@dataclass(frozen=True)
class Rotated:
    path: str
    key: str  # the new current key's id
    disputes: int  # sealed again with it
    kept: int  # old keys kept in the file (until --prune)

    def __str__(self) -> str:
        return (
            f"{self.path}: key {self.key} is current; the parties of {self.disputes:,} disputes "
            f"sealed with it; {self.kept} old key{'s' if self.kept != 1 else ''} kept to open "
            "what running processes seal until they restart (drop them with --prune)"
        )


def rotate_keys(*, engine: Engine, url: str) -> Rotated:
    """Make a new current key and seal every dispute's parties again with it."""
    path = _key_file(url)
    source = engine.dialect.fengqiao_keyring  # type: ignore[attr-defined]
    keyring: Keyring = source().rotated()
    save_keyring(path, keyring)
    engine.dialect.fengqiao_keyring = lambda: keyring  # type: ignore[attr-defined]
    sealed = _seal_again(engine, keyring, only_clear=False)
    log.info("data_key_rotated", key=keyring.current, disputes=sealed)
    return Rotated(str(path), keyring.current, sealed, len(keyring.keys) - 1)


def in_clear(engine: Engine) -> int:
    """How many disputes keep their parties in clear: stored before sealing began."""
    with reading(engine) as session:
        count: int = session.execute(select(func.count()).where(_CLEAR)).scalar_one()
    return count


def seal_in_clear(engine: Engine) -> int:
    """Seal, with the current key, the parties stored before sealing began (a database
    upgraded from an earlier version), and make their digests; how many disputes."""
    keyring: Keyring = engine.dialect.fengqiao_keyring()  # type: ignore[attr-defined]
    sealed = _seal_again(engine, keyring, only_clear=True)
    if sealed:
        log.info("parties_sealed", key=keyring.current, disputes=sealed)
    return sealed


def _seal_again(engine: Engine, keyring: Keyring, *, only_clear: bool) -> int:
    """Write every dispute's parties again (sealed with ``keyring``'s current key, through
    the column's type) with their digests, a batch a transaction; how many disputes."""
    sealed = 0
    after = 0
    while True:
        with transaction(engine) as session:
            query = select(col(Dispute.id), col(Dispute.parties)).where(col(Dispute.id) > after)
            if only_clear:
                query = query.where(_CLEAR)
            found = session.execute(query.order_by(col(Dispute.id)).limit(_BATCH)).all()
            if not found:
                return sealed
            after = found[-1][0]
            batch = [(row[0], row[1]) for row in found if row[1]]
            if batch:
                session.execute(_SEAL_AGAIN, [{"b_id": d, "p": parties} for d, parties in batch])
                ids = [d for d, _ in batch]
                session.execute(delete(PartyDigest).where(col(PartyDigest.dispute_id).in_(ids)))
                digests = digest_rows(keyring, batch)
                if digests:
                    session.execute(insert(_DIGESTS), digests)
                sealed += len(batch)


def prune_keys(*, engine: Engine, url: str) -> tuple[str, list[str]]:
    """Drop the keys of the file that seal nothing in the database; the path and the ids
    dropped. Refuse if anything is still sealed with an old key: rotate first."""
    path = _key_file(url)
    keyring: Keyring = engine.dialect.fengqiao_keyring()  # type: ignore[attr-defined]
    raw = _RAW
    in_use: set[str] = set()
    with reading(engine) as session:
        for key in keyring.keys:
            if key == keyring.current:
                continue
            count = session.execute(
                select(func.count()).where(raw.like(f'%"fq1:{key}:%'))
            ).scalar_one()
            if count:
                in_use.add(key)
        legacy = session.execute(select(func.count()).where(_CLEAR)).scalar_one()
    if in_use or legacy:
        said = ", ".join(sorted(in_use)) or "no key (stored before sealing began)"
        raise BadInput(f"some parties are still sealed with {said}: run `fengqiao keys rotate`")
    dropped = sorted(k for k in keyring.keys if k != keyring.current)
    save_keyring(path, keyring.only_current())
    log.info("data_keys_pruned", dropped=dropped)
    return str(path), dropped


def _key_file(url: str) -> Any:
    path = key_file(url)
    if path is None:
        raise BadInput(
            "the key is given in FENGQIAO_DATA_KEY: keep it in a file (FENGQIAO_DATA_KEY_FILE) "
            "to rotate it"
        )
    return path
