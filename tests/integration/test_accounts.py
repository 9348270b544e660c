"""Accounts on real databases: passwords kept as Argon2 hashes, the same answer for a wrong
name and a wrong password, throttling, sessions that any process can read, tokens kept as
hashes, and disabled accounts that cannot get in."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import Engine, text
from structlog.testing import capture_logs

from models.values import OPERATOR, Actor
from tests.support.db import dump
from tests.support.recording import MONDAY
from workflows.access import Forbidden
from workflows.accounts import (
    SignInRefused,
    SignInThrottled,
    bearer_of,
    disable_account,
    issue_token,
    revoke_tokens,
    session_of,
    set_password,
    sign_in,
    sign_out,
)
from workflows.errors import BadInput, NotFound

PASSWORD = "上林村-2026-wang"


def _with_password(engine: Engine, person: str = "wang") -> None:
    set_password(engine=engine, now=MONDAY, actor=OPERATOR, person=person, password=PASSWORD)


def _sign_in(engine: Engine, password: str = PASSWORD, *, at: datetime = MONDAY, **kw: str):  # type: ignore[no-untyped-def]
    options = {"username": "wang", "address": "10.0.0.1", **kw}
    return sign_in(engine=engine, now=at, password=password, **options)


def test_a_password_is_kept_only_as_an_argon2_hash(org_engine: Engine) -> None:
    _with_password(org_engine)
    with org_engine.connect() as connection:
        stored = connection.execute(text("SELECT password_hash FROM accounts")).scalar_one()
    assert stored.startswith("$argon2id$") and PASSWORD not in str(dump(org_engine))


def test_a_right_password_opens_a_session_that_any_process_can_read(org_engine: Engine) -> None:
    _with_password(org_engine)
    signed = _sign_in(org_engine)
    assert (signed.viewer.person, signed.viewer.role, signed.viewer.unit) == (
        "wang",
        "mediator",
        "33010101",
    )
    found = session_of(engine=org_engine, now=MONDAY + timedelta(hours=1), token=signed.token)
    assert found is not None and found == (signed.viewer, signed.csrf)
    with org_engine.connect() as connection:  # only a hash of the cookie is kept
        kept = connection.execute(text("SELECT token_hash FROM web_sessions")).scalar_one()
    assert signed.token not in kept


def test_a_wrong_name_and_a_wrong_password_get_the_same_answer(org_engine: Engine) -> None:
    _with_password(org_engine)
    with pytest.raises(SignInRefused) as wrong_password:
        _sign_in(org_engine, "not-the-password")
    with pytest.raises(SignInRefused) as wrong_name:
        _sign_in(org_engine, PASSWORD, username="nobody-at-all")
    with pytest.raises(SignInRefused) as no_password_yet:
        _sign_in(org_engine, PASSWORD, username="li")
    assert str(wrong_password.value) == str(wrong_name.value) == str(no_password_yet.value)


def test_failed_sign_ins_are_logged_without_the_password_and_then_throttled(
    org_engine: Engine,
) -> None:
    _with_password(org_engine)
    with capture_logs() as logs:
        for minute in range(5):
            with pytest.raises(SignInRefused):
                _sign_in(org_engine, "guess", at=MONDAY + timedelta(minutes=minute))
    assert [entry["event"] for entry in logs] == ["sign_in_failed"] * 5
    assert "guess" not in str(logs)
    with pytest.raises(SignInThrottled, match="try again in 10 minutes"):
        _sign_in(org_engine, PASSWORD, at=MONDAY + timedelta(minutes=5))  # even the right one
    later = MONDAY + timedelta(minutes=16)
    assert _sign_in(org_engine, at=later).viewer.person == "wang"


def test_one_address_that_keeps_failing_is_throttled_for_every_account(org_engine: Engine) -> None:
    _with_password(org_engine)
    for n in range(20):
        with pytest.raises(SignInRefused):
            _sign_in(org_engine, "guess", username=f"user{n}", address="10.9.9.9")
    with pytest.raises(SignInThrottled):
        _sign_in(org_engine, address="10.9.9.9")
    assert _sign_in(org_engine, address="10.0.0.2").viewer.person == "wang"


def test_signing_in_again_ends_the_session_the_browser_had(org_engine: Engine) -> None:
    _with_password(org_engine)
    first = _sign_in(org_engine)
    second = _sign_in(org_engine, replacing=first.token)
    assert first.token != second.token
    assert session_of(engine=org_engine, now=MONDAY, token=first.token) is None
    assert session_of(engine=org_engine, now=MONDAY, token=second.token) is not None


def test_a_session_ends_at_sign_out_and_after_twelve_idle_hours(org_engine: Engine) -> None:
    _with_password(org_engine)
    signed = _sign_in(org_engine)
    assert session_of(engine=org_engine, now=MONDAY + timedelta(hours=11), token=signed.token)
    # used at 11 h, it lives on to 23 h
    assert session_of(engine=org_engine, now=MONDAY + timedelta(hours=22), token=signed.token)
    assert not session_of(engine=org_engine, now=MONDAY + timedelta(days=2), token=signed.token)
    other = _sign_in(org_engine, at=MONDAY + timedelta(days=2))
    sign_out(engine=org_engine, token=other.token)
    assert session_of(engine=org_engine, now=MONDAY + timedelta(days=2), token=other.token) is None


def test_a_disabled_account_cannot_sign_in_nor_use_a_token_nor_its_sessions(
    org_engine: Engine,
) -> None:
    _with_password(org_engine)
    signed = _sign_in(org_engine)
    token = issue_token(engine=org_engine, now=MONDAY, actor=OPERATOR, person="wang")
    assert bearer_of(engine=org_engine, now=MONDAY, token=token) == signed.viewer
    disable_account(engine=org_engine, now=MONDAY, actor=OPERATOR, person="wang")
    with pytest.raises(SignInRefused):
        _sign_in(org_engine)
    assert session_of(engine=org_engine, now=MONDAY, token=signed.token) is None
    assert bearer_of(engine=org_engine, now=MONDAY, token=token) is None
    _with_password(org_engine)  # a new password opens it again
    assert _sign_in(org_engine).viewer.person == "wang"


def test_a_token_is_kept_as_a_hash_and_a_revoked_one_cannot_get_in(org_engine: Engine) -> None:
    token = issue_token(engine=org_engine, now=MONDAY, actor=OPERATOR, person="li")
    assert token.startswith("fq_") and token not in str(dump(org_engine))
    assert bearer_of(engine=org_engine, now=MONDAY, token=token) is not None
    assert bearer_of(engine=org_engine, now=MONDAY, token=token + "x") is None
    assert revoke_tokens(engine=org_engine, now=MONDAY, actor=OPERATOR, person="li") == 1
    assert bearer_of(engine=org_engine, now=MONDAY, token=token) is None


def test_a_bad_password_or_person_is_refused_and_changes_nothing(org_engine: Engine) -> None:
    before = dump(org_engine)
    with pytest.raises(BadInput, match="8 to 1024 characters"):
        set_password(engine=org_engine, now=MONDAY, actor=OPERATOR, person="wang", password="x")
    with pytest.raises(NotFound, match="unknown person 'ghost'"):
        issue_token(engine=org_engine, now=MONDAY, actor=OPERATOR, person="ghost")
    assert dump(org_engine) == before


def test_on_the_web_only_an_administrator_keeps_accounts_and_only_of_their_subtree(
    org_engine: Engine,
) -> None:
    with pytest.raises(Forbidden, match="may not org"):
        issue_token(engine=org_engine, now=MONDAY, actor=Actor("li", via="web"), person="wang")
    token = issue_token(engine=org_engine, now=MONDAY, actor=Actor("admin", via="web"), person="li")
    assert bearer_of(engine=org_engine, now=MONDAY, token=token) is not None
