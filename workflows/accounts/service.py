"""Accounts: passwords (Argon2 hashes, never the password), API tokens (only their hash is
kept), browser sessions kept in the database, and sign-ins throttled by account and by
address. Each change is one transaction."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Engine, delete, func, or_, select, update
from sqlmodel import Session

from models.tables import Account, ApiToken, Person, SignInFailure, WebSession
from models.values import Actor
from workflows.access import Action, Viewer, permit, viewer_of
from workflows.db import reading, transaction
from workflows.errors import BadInput, NotFound
from workflows.org import ancestors

__all__ = [
    "SESSION_LIFETIME",
    "SignInRefused",
    "SignInThrottled",
    "SignedIn",
    "bearer_of",
    "close_accounts",
    "disable_account",
    "issue_token",
    "revoke_tokens",
    "session_of",
    "set_password",
    "sign_in",
    "sign_out",
]

log = structlog.get_logger(__name__)

SESSION_LIFETIME = timedelta(hours=12)  # from the last request: a working day and an evening
_SLIDE_AFTER = timedelta(minutes=5)  # a session's expiry moves on at most this often
THROTTLE_WINDOW = timedelta(minutes=15)
ACCOUNT_FAILURES = 5  # failed sign-ins to one account within the window
ADDRESS_FAILURES = 20  # failed sign-ins from one address within the window
SHORTEST_PASSWORD = 8
LONGEST_PASSWORD = 1024
TOKEN_PREFIX = "fq_"

ACCOUNTS = Account.__table__  # type: ignore[attr-defined]
TOKENS = ApiToken.__table__  # type: ignore[attr-defined]
SESSIONS = WebSession.__table__  # type: ignore[attr-defined]
FAILURES = SignInFailure.__table__  # type: ignore[attr-defined]

_HASHER = PasswordHasher()
# Checked against when the name is unknown, so that a wrong name takes as long as a
# wrong password.
_NOBODY = _HASHER.hash(secrets.token_urlsafe(16))


class SignInRefused(BadInput):
    """A wrong name or a wrong password: the same answer for both."""

    def __init__(self) -> None:
        super().__init__("wrong user name or password")


class SignInThrottled(BadInput):
    """Too many failed sign-ins lately, to this account or from this address."""

    def __init__(self, wait: timedelta) -> None:
        minutes = max(1, round(wait.total_seconds() / 60))
        super().__init__(f"too many failed sign-ins: try again in {minutes} minutes")
        self.wait = wait


@dataclass(frozen=True)
class SignedIn:
    """A new session: its cookie's value (given once, kept only as a hash), the secret its
    forms carry, and who signed in."""

    token: str
    csrf: str
    viewer: Viewer


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _managed(session: Session, actor: Actor, person: str) -> None:
    """Refuse an account change that ``actor`` may not make: for a signed-in
    administrator, the person must work in the administrator's subtree."""
    found = session.get(Person, person)
    if found is None:
        raise NotFound(f"unknown person {person!r}")
    if found.left_at is not None:
        raise BadInput(
            f"{person!r} left on {found.left_at.date().isoformat()}: their account stays "
            "closed (`left: false` in the org file brings them back)"
        )
    if not actor.checked:
        return
    assert actor.person is not None
    admin = viewer_of(session, actor.person)
    permit(admin, Action.org)
    unit = session.get(Person, person)
    codes = {u.code for u in ancestors(session, unit.unit_code)} if unit else set()
    if admin.unit not in codes:
        raise NotFound(f"unknown person {person!r}")


def set_password(
    *, engine: Engine, now: datetime, actor: Actor, person: str, password: str
) -> None:
    """Give ``person`` a new password (enabling the account), and sign them out everywhere."""
    if not SHORTEST_PASSWORD <= len(password) <= LONGEST_PASSWORD:
        raise BadInput(
            f"a password has {SHORTEST_PASSWORD} to {LONGEST_PASSWORD} characters, "
            f"this one {len(password)}"
        )
    hashed = _HASHER.hash(password)
    with transaction(engine) as session:
        _managed(session, actor, person)
        account = session.get(Account, person) or Account(person_id=person)
        account.password_hash, account.password_set_at, account.disabled = hashed, now, False
        session.add(account)
        session.execute(delete(SESSIONS).where(SESSIONS.c.person_id == person))
    log.info("password_set", person=person, actor=actor.name)


def disable_account(*, engine: Engine, now: datetime, actor: Actor, person: str) -> None:
    """Lock ``person`` out: no sign-in, no API token, and every session ends."""
    with transaction(engine) as session:
        _managed(session, actor, person)
        account = session.get(Account, person) or Account(person_id=person)
        account.disabled = True
        session.add(account)
        session.execute(delete(SESSIONS).where(SESSIONS.c.person_id == person))
    log.info("account_disabled", person=person, actor=actor.name)


def close_accounts(session: Session, people: list[str], *, now: datetime) -> None:
    """Lock out people who left, in the caller's transaction (an org change): their
    accounts disabled, their API tokens revoked, their sessions ended."""
    session.execute(update(ACCOUNTS).where(ACCOUNTS.c.person_id.in_(people)).values(disabled=True))
    session.execute(
        update(TOKENS)
        .where(TOKENS.c.person_id.in_(people), TOKENS.c.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    session.execute(delete(SESSIONS).where(SESSIONS.c.person_id.in_(people)))
    log.info("accounts_closed", people=len(people))


def issue_token(*, engine: Engine, now: datetime, actor: Actor, person: str) -> str:
    """A new API token for ``person``, given once: only its hash is kept."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    with transaction(engine) as session:
        _managed(session, actor, person)
        session.add(ApiToken(person_id=person, token_hash=_digest(token), created_at=now))
    log.info("token_issued", person=person, actor=actor.name)
    return token


def revoke_tokens(*, engine: Engine, now: datetime, actor: Actor, person: str) -> int:
    """Revoke every API token of ``person``; how many were live."""
    with transaction(engine) as session:
        _managed(session, actor, person)
        revoked: int = getattr(
            session.execute(
                update(TOKENS)
                .where(TOKENS.c.person_id == person, TOKENS.c.revoked_at.is_(None))
                .values(revoked_at=now)
            ),
            "rowcount",
            0,
        )
    log.info("tokens_revoked", person=person, actor=actor.name, tokens=revoked)
    return int(revoked or 0)


def _throttled(session: Session, username: str, address: str, now: datetime) -> timedelta | None:
    """How long to wait, if this account or address failed too often lately."""
    since = now - THROTTLE_WINDOW
    for column, value, limit in (
        (FAILURES.c.username, username, ACCOUNT_FAILURES),
        (FAILURES.c.address, address, ADDRESS_FAILURES),
    ):
        count, first = session.execute(
            select(func.count(), func.min(FAILURES.c.at)).where(
                column == value, FAILURES.c.at > since
            )
        ).one()
        if count >= limit and first is not None:
            wait: timedelta = first + THROTTLE_WINDOW - now
            return wait
    return None


def sign_in(
    *,
    engine: Engine,
    now: datetime,
    username: str,
    password: str,
    address: str,
    replacing: str | None = None,
) -> SignedIn:
    """Check a name and password, and open a session (a new one each time: the session a
    browser had before, ``replacing``, ends). Raise :class:`SignInRefused` for a wrong name
    or password alike, :class:`SignInThrottled` after too many failures."""
    username, address = username[:64], address[:64]
    with transaction(engine) as session:
        wait = _throttled(session, username, address, now)
        if wait is not None:
            log.warning("sign_in_throttled", username=username, address=address)
            raise SignInThrottled(wait)
        account = session.get(Account, username)
        stored = account.password_hash if account is not None and not account.disabled else None
        try:
            _HASHER.verify(stored or _NOBODY, password)
            good = stored is not None
        except (VerificationError, InvalidHashError):
            good = False
    if not good:
        with transaction(engine) as session:  # the failure is kept, though the sign-in fails
            session.add(SignInFailure(username=username, address=address, at=now))
            session.execute(delete(FAILURES).where(FAILURES.c.at < now - timedelta(days=1)))
        log.warning("sign_in_failed", username=username, address=address)
        raise SignInRefused()
    token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    with transaction(engine) as session:
        signed = session.get(Account, username)
        assert signed is not None and signed.password_hash is not None
        if _HASHER.check_needs_rehash(signed.password_hash):
            signed.password_hash = _HASHER.hash(password)
        signed.last_sign_in_at = now
        session.add(signed)
        session.execute(delete(FAILURES).where(FAILURES.c.username == username))
        stale = [SESSIONS.c.expires_at < now]
        if replacing:
            stale.append(SESSIONS.c.token_hash == _digest(replacing))
        session.execute(delete(SESSIONS).where(or_(*stale)))
        session.add(
            WebSession(
                token_hash=_digest(token),
                person_id=username,
                csrf=csrf,
                created_at=now,
                seen_at=now,
                expires_at=now + SESSION_LIFETIME,
            )
        )
        viewer = viewer_of(session, username)
    log.info("signed_in", person=username)
    return SignedIn(token, csrf, viewer)


def sign_out(*, engine: Engine, token: str) -> None:
    """End the session whose cookie is ``token``."""
    with transaction(engine) as session:
        session.execute(delete(SESSIONS).where(SESSIONS.c.token_hash == _digest(token)))


def session_of(*, engine: Engine, now: datetime, token: str) -> tuple[Viewer, str] | None:
    """Who a session cookie is for, and its forms' secret; None if it is unknown, expired,
    or its account disabled. A session in use lives on."""
    digest = _digest(token)
    with reading(engine) as session:
        found = session.get(WebSession, digest)
        if found is None or found.expires_at <= now or _disabled(session, found.person_id):
            return None
        viewer, csrf, seen = viewer_of(session, found.person_id), found.csrf, found.seen_at
    if now - seen > _SLIDE_AFTER:
        with transaction(engine) as session:
            session.execute(
                update(SESSIONS)
                .where(SESSIONS.c.token_hash == digest)
                .values(seen_at=now, expires_at=now + SESSION_LIFETIME)
            )
    return viewer, csrf


def bearer_of(*, engine: Engine, now: datetime, token: str) -> Viewer | None:
    """Who an API token is for; None if it is unknown, revoked, or its account disabled."""
    digest = _digest(token)
    with reading(engine) as session:
        found = session.execute(
            select(TOKENS.c.person_id, TOKENS.c.revoked_at, TOKENS.c.last_used_at).where(
                TOKENS.c.token_hash == digest
            )
        ).one_or_none()
        if found is None or found.revoked_at is not None or _disabled(session, found.person_id):
            return None
        viewer, used = viewer_of(session, found.person_id), found.last_used_at
    if used is None or now - used > _SLIDE_AFTER:
        with transaction(engine) as session:
            session.execute(
                update(TOKENS).where(TOKENS.c.token_hash == digest).values(last_used_at=now)
            )
    return viewer


def _disabled(session: Session, person: str) -> bool:
    account = session.get(Account, person)
    return account is not None and account.disabled
