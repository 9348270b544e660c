"""Accounts: passwords, API tokens, browser sessions and sign-in throttling."""

from workflows.accounts.service import (
    SESSION_LIFETIME,
    SignedIn,
    SignInRefused,
    SignInThrottled,
    bearer_of,
    close_accounts,
    disable_account,
    issue_token,
    revoke_tokens,
    session_of,
    set_password,
    sign_in,
    sign_out,
)

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
