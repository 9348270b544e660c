"""The administrators' accounts page: the people of their subtree with their accounts; a
password set or reset and shown once (and never again, nor cached, nor logged); an account
disabled; API tokens revoked."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from models.values import OPERATOR
from rules.policy import Policy
from tests.support.db import TWO_TOWNSHIPS
from tests.support.recording import MONDAY
from tests.support.web import Site, bearer, site_on
from workflows.accounts import issue_token


@pytest.fixture
def site(tmp_path: Path, policy: Policy) -> Site:
    return site_on(tmp_path, policy, TWO_TOWNSHIPS, MONDAY + timedelta(hours=1))


def _row(page: str, person: str) -> str:
    found = re.search(rf'<tr data-person="{person}".*?</tr>', page, re.S)
    assert found, f"{person} is not listed"
    return found.group(0)


def test_only_an_administrator_opens_the_accounts_page(site: Site) -> None:
    admin = site.signed_in("admin")
    page = admin.get("/accounts")
    assert page.status_code == 200 and 'href="/accounts"' in page.text
    assert "未开通" in _row(page.text, "wang") and "正常" in _row(page.text, "admin")
    assert site.signed_in("li").get("/accounts").status_code == 403


def test_a_password_is_shown_once_and_the_person_signs_in_with_it(site: Site) -> None:
    admin = site.signed_in("admin")
    admin.get("/accounts")
    with capture_logs() as logs:
        answer = admin.post("/accounts/wang/password", {"back": "/accounts"})
    assert answer.status_code == 200
    assert answer.headers["cache-control"] == "no-store"
    shown = re.search(r'<code class="password">([^<]+)</code>', answer.text)
    assert shown and len(shown.group(1)) == 16
    password = shown.group(1)
    assert password not in str(logs)
    assert "正常" in _row(answer.text, "wang")
    assert password not in admin.get("/accounts").text  # shown once
    wang = site.visitor()
    assert wang.sign_in("wang", password).status_code == 303


def test_a_disabled_account_cannot_sign_in_and_revoked_tokens_stop_working(site: Site) -> None:
    site.account("wang")
    token = issue_token(engine=site.engine, now=site.now, actor=OPERATOR, person="wang")
    client = site.client()
    assert bearer(client, token, "GET", "/me").status_code == 200
    admin = site.signed_in("admin")
    page = admin.get("/accounts").text
    assert re.search(r"<td>1<small>|<td>1</td>", _row(page, "wang"))
    revoked = admin.post("/accounts/wang/revoke", {"back": "/accounts"})
    assert revoked.status_code == 303
    assert "已吊销 wang 的 1 个 API 令牌" in admin.get(revoked.headers["location"]).text
    assert bearer(client, token, "GET", "/me").status_code == 401
    disabled = admin.post("/accounts/wang/disable", {"back": "/accounts"})
    assert disabled.status_code == 303
    assert "已停用" in _row(admin.get("/accounts").text, "wang")
    assert site.visitor().sign_in("wang", "correct horse battery").status_code != 303


def test_a_person_outside_the_administrators_subtree_or_unknown_is_not_found(site: Site) -> None:
    admin = site.signed_in("admin")
    admin.get("/accounts")
    assert admin.post("/accounts/nobody/password", {"back": "/accounts"}).status_code == 404
    assert admin.get("/accounts?unit=nowhere").status_code == 404


def test_an_administrator_cannot_lock_themselves_out(site: Site) -> None:
    admin = site.signed_in("admin")
    admin.get("/accounts")
    refused = admin.post("/accounts/admin/disable", {"back": "/accounts"})
    assert refused.status_code == 400 and "your own account" in refused.text
    assert admin.get("/accounts").status_code == 200
