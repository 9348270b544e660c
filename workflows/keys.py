"""Where the keyring that seals the parties' data comes from (models.sealing), for an
engine: the ``FENGQIAO_DATA_KEY`` setting (the key itself), the ``FENGQIAO_DATA_KEY_FILE``
setting (a file holding it), or, for a SQLite database file, ``<database>.key`` beside it,
created the first time it is needed (readable by its owner only). A PostgreSQL database
needs one of the settings. The key is read when the parties' data is first sealed or
opened, not when the engine is made: commands that do not touch it need no key.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from pathlib import Path

import structlog
from sqlalchemy.engine import make_url

from models.sealing import Keyring, SealError

__all__ = ["KEY_ENV", "KEY_FILE_ENV", "key_file", "keyring_source", "save_keyring"]

log = structlog.get_logger(__name__)

KEY_ENV = "FENGQIAO_DATA_KEY"
KEY_FILE_ENV = "FENGQIAO_DATA_KEY_FILE"


def key_file(url: str) -> Path | None:
    """The key file of the database at ``url``: the setting's, or a SQLite file's own;
    None when the key is given itself, or for a database that has no default."""
    if os.environ.get(KEY_ENV):
        return None
    given = os.environ.get(KEY_FILE_ENV)
    if given:
        return Path(given)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        database = Path(parsed.database or "")
        return database.with_name(database.name + ".key")
    return None


def keyring_source(url: str) -> Callable[[], Keyring]:
    """The keyring of ``url``, read (or, for a SQLite file, made) on first use, then kept."""
    lock = threading.Lock()
    found: list[Keyring] = []

    def keyring() -> Keyring:
        with lock:
            if not found:
                found.append(_read(url))
            return found[0]

    return keyring


def _read(url: str) -> Keyring:
    given = os.environ.get(KEY_ENV)
    if given:
        return Keyring.from_text(given, where=KEY_ENV)
    path = key_file(url)
    if path is None:
        if make_url(url).get_backend_name() == "sqlite":  # in memory: for its life only
            return Keyring.generate()
        raise SealError(
            "the parties' data is kept encrypted: give its key with FENGQIAO_DATA_KEY_FILE "
            "(a file; `fengqiao keys new --out FILE` makes one) or FENGQIAO_DATA_KEY"
        )
    made = not path.exists() and os.environ.get(KEY_FILE_ENV) is None
    if made and save_keyring(path, Keyring.generate(), create=True):
        log.warning("data_key_created", path=str(path), advice="back it up with the database")
    try:
        return Keyring.from_text(path.read_text("utf-8"), where=str(path))
    except OSError as exc:
        raise SealError(f"{path}: cannot read the key: {exc.strerror}") from None


def save_keyring(path: Path, keyring: Keyring, *, create: bool = False) -> bool:
    """Write ``keyring`` to ``path`` whole or not at all (a file beside it, renamed over
    it), readable by its owner only; with ``create``, only if there is none yet (False if
    there was: another process made it first, and theirs is the key)."""
    if create:
        spare = path.with_name(f"{path.name}.{os.getpid()}.new")
        _write(spare, keyring)
        try:
            os.link(spare, path)  # fails if it exists: never two keys for one database
        except FileExistsError:
            return False
        finally:
            spare.unlink()
        return True
    spare = path.with_name(path.name + ".new")
    _write(spare, keyring)
    os.replace(spare, path)
    return True


def _write(path: Path, keyring: Keyring) -> None:
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as out:
        out.write(keyring.to_text())
        out.flush()
        os.fsync(out.fileno())
