"""The web app's security, through the real app on SQLite and PostgreSQL: sign-in and its
cookie, CSRF on every state-changing form, the security headers, a scope that no path
leaks out of (404), roles (403 with the reason), disabled accounts and revoked tokens."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import structlog
from sqlalchemy import Engine

from models.values import OPERATOR
from rules.policy import Policy
from tests.support.db import TWO_TOWNSHIPS, dump, load_county
from tests.support.recording import MONDAY, record, report
from tests.support.web import PASSWORD, Site, bearer
from workflows.accounts import disable_account, issue_token, revoke_tokens
from workflows.views import tasks_view

ORG = TWO_TOWNSHIPS
LATER = MONDAY + timedelta(hours=1)


@pytest.fixture
def site(engine: Engine, policy: Policy) -> Site:
    load_county(engine, ORG)
    return Site(engine, policy, LATER)


def _session_cookie(response: object) -> str:
    headers = response.headers.get_list("set-cookie")  # type: ignore[attr-defined]
    (cookie,) = [h for h in headers if h.startswith("fq_session=")]
    return str(cookie)


def test_signing_in_sets_an_http_only_same_site_cookie_and_goes_where_asked(site: Site) -> None:
    site.account("wang")
    visitor = site.visitor()
    response = visitor.sign_in("wang", PASSWORD, next="/disputes/new")
    assert response.status_code == 303 and response.headers["location"] == "/disputes/new"
    cookie = _session_cookie(response).lower()
    assert "httponly" in cookie and "samesite=lax" in cookie and "path=/" in cookie
    assert "secure" not in cookie  # served over plain HTTP here
    assert visitor.get("/tasks").status_code == 200


def test_the_cookie_is_secure_when_served_over_https(engine: Engine, policy: Policy) -> None:
    load_county(engine, ORG)
    site = Site(engine, policy, LATER, https=True)
    site.account("wang")
    response = site.visitor().sign_in("wang", PASSWORD)
    assert "secure" in _session_cookie(response).lower()
    assert "max-age=31536000" in response.headers["strict-transport-security"]


def test_signing_in_again_gives_a_new_session_and_ends_the_old_one(site: Site) -> None:
    visitor = site.signed_in("wang")
    old = visitor.client.cookies["fq_session"]
    assert visitor.sign_in("wang", PASSWORD).status_code == 303
    new = visitor.client.cookies["fq_session"]
    assert new != old
    stale = site.client()
    stale.cookies["fq_session"] = old
    assert stale.get("/tasks").headers["location"].startswith("/login")


def test_only_a_local_path_is_followed_after_signing_in(site: Site) -> None:
    site.account("wang")
    for elsewhere in ("https://evil.example/", "//evil.example/x", "/\\evil.example"):
        response = site.visitor().sign_in("wang", PASSWORD, next=elsewhere)
        assert response.headers["location"] == "/"


def test_a_wrong_name_and_a_wrong_password_get_the_same_answer(site: Site) -> None:
    site.account("wang")
    wrong_password = site.visitor().sign_in("wang", "not the password")
    wrong_name = site.visitor().sign_in("nobody", "not the password")
    assert wrong_password.status_code == wrong_name.status_code == 401

    def message(text: str) -> str:
        return re.findall(r'<p class="error" role="alert">([^<]*)</p>', text)[0]

    assert message(wrong_password.text) == message(wrong_name.text) == "用户名或密码错误"


def test_repeated_failures_are_throttled_per_account_and_logged(site: Site) -> None:
    site.account("wang")
    with structlog.testing.capture_logs() as logs:
        for _ in range(5):
            assert site.visitor().sign_in("wang", "guess-guess").status_code == 401
        throttled = site.visitor().sign_in("wang", PASSWORD)  # even the right one, for now
    assert throttled.status_code == 429 and "15 分钟后再试" in throttled.text
    events = [e["event"] for e in logs]
    assert events.count("sign_in_failed") == 5 and "sign_in_throttled" in events
    site.now = LATER + timedelta(minutes=16)
    assert site.visitor().sign_in("wang", PASSWORD).status_code == 303


def test_a_password_is_never_logged_nor_echoed(site: Site) -> None:
    site.account("wang")
    with structlog.testing.capture_logs() as logs:
        refused = site.visitor().sign_in("wang", "the-wrong-secret")
        site.visitor().sign_in("wang", PASSWORD)
    assert "the-wrong-secret" not in refused.text
    assert 'type="password" autocomplete' in refused.text
    assert "the-wrong-secret" not in repr(logs) and PASSWORD not in repr(logs)


def test_a_sign_in_form_without_its_secret_is_refused(site: Site) -> None:
    site.account("wang")
    client = site.client()
    response = client.post("/login", data={"username": "wang", "password": PASSWORD})
    assert response.status_code == 403 and "fq_session" not in client.cookies


def test_a_form_without_its_csrf_token_is_refused_and_changes_nothing(site: Site) -> None:
    dispute = report(site.engine, site.policy, unit="33010101")
    visitor = site.signed_in("wang")
    before = dump(site.engine)
    forms = [
        (f"/disputes/{dispute}/events", {"kind": "check"}),
        ("/disputes/new", {"unit": "33010101", "risk": "low", "category": "other", "title": "t"}),
        ("/queue/bulk", {"action": "acknowledge", "dispute": str(dispute)}),
        ("/logout", {}),
    ]
    for path, data in forms:
        for token in (None, "forged"):
            fields = data if token is None else {**data, "csrf": token}
            response = visitor.post(path, fields, csrf=False)
            assert response.status_code == 403, path
            assert "表单已过期" in response.text or "did not come from this site" in response.text
    api = visitor.api("POST", f"/disputes/{dispute}/events", json={"kind": "check"}, csrf=False)
    assert api.status_code == 403 and "did not come from this site" in api.json()["error"]
    assert dump(site.engine) == before
    assert visitor.post(f"/disputes/{dispute}/events", {"kind": "check"}).status_code == 303


def test_every_answer_carries_the_security_headers_and_pages_are_not_cached(site: Site) -> None:
    visitor = site.signed_in("wang")
    for path in ("/tasks", "/login", "/api/v1/me", "/no-such-page"):
        response = visitor.get(path)
        csp = response.headers["content-security-policy"]
        assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
        assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
        assert response.headers["x-frame-options"] == "DENY"
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["cache-control"] == "no-store"
    static = visitor.get("/static/app.css")
    assert static.status_code == 200 and "max-age" in static.headers["cache-control"]


def test_no_page_has_an_inline_script_a_style_attribute_or_an_event_handler(site: Site) -> None:
    dispute = report(site.engine, site.policy, unit="33010101")
    visitor = site.signed_in("li")
    pages = ["/tasks", "/queue", "/escalations", "/disputes/new", f"/disputes/{dispute}"]
    pages += [f"/disputes/{dispute}/record/{kind}" for kind in ("assign", "resolve", "supervise")]
    for path in pages:
        html = visitor.get(path).text
        assert re.findall(r"<script(?![^>]*\bsrc=)[^>]*>", html) == [], path
        assert not re.search(r"\sstyle=", html), path
        assert not re.search(r"\son[a-z]+=", html), path


def test_a_dispute_of_another_township_is_not_found_on_every_path(site: Site) -> None:
    dispute = report(site.engine, site.policy, unit="33010101", risk="high")
    record(site.engine, site.policy, dispute, "assign", MONDAY, {"person": "wang"}, by="li")
    (task, *_) = tasks_view(engine=site.engine, now=LATER, zone=site.policy.zone, person="wang")
    other = site.signed_in("zhou")  # the supervisor of the other township
    before = dump(site.engine)
    for path in (
        f"/disputes/{dispute}",
        f"/disputes/{dispute}/record/check",
        "/queue?unit=330101",
        "/escalations?unit=330101",
    ):
        assert other.get(path).status_code == 404, path
    for path, data in (
        (f"/disputes/{dispute}/events", {"kind": "note", "text": "x"}),
        (f"/tasks/{task['id']}/ack", {}),
        ("/queue/bulk", {"action": "handback", "dispute": str(dispute)}),
        ("/queue/bulk", {"action": "acknowledge", "dispute": str(dispute)}),
    ):
        assert other.post(path, data).status_code == 404, path
    assert f'href="/disputes/{dispute}"' not in other.get("/queue").text
    assert f'href="/disputes/{dispute}"' not in other.get("/escalations").text
    for method, path, body in (
        ("GET", f"/disputes/{dispute}", None),
        ("POST", f"/disputes/{dispute}/events", {"kind": "note", "data": {"text": "x"}}),
        ("POST", f"/tasks/{task['id']}/ack", None),
        ("GET", "/tasks?unit=330101", None),
        ("GET", "/escalations?unit=330101", None),
        ("GET", "/disputes?unit=330101", None),
    ):
        response = other.api(method, path, json=body)
        assert response.status_code == 404, path
        assert response.json()["error"].startswith("unknown"), path
    assert other.api("GET", "/disputes").json()["items"] == []
    assert dump(site.engine) == before


def test_a_mediator_gets_403_with_the_reason_for_a_supervisors_action(site: Site) -> None:
    dispute = report(site.engine, site.policy, unit="33010101", risk="high")
    wang = site.signed_in("wang")
    before = dump(site.engine)
    page = wang.post(f"/disputes/{dispute}/events", {"kind": "escalate"})
    assert page.status_code == 403 and "a mediator of a village may not escalate" in page.text
    bulk = wang.post("/queue/bulk", {"action": "handback", "dispute": str(dispute)})
    assert bulk.status_code == 403
    api = wang.api("POST", f"/disputes/{dispute}/events", json={"kind": "withdraw"})
    assert api.status_code == 403
    assert api.json() == {
        "error": "a mediator of a village may not withdraw: it is for supervisors of a "
        "township or county"
    }
    assert dump(site.engine) == before
    assert "上报" not in _buttons(wang.get(f"/disputes/{dispute}").text)


def _buttons(html: str) -> list[str]:
    return re.findall(
        r'<a class="button[^"]*" href="/disputes/\d+/record/[^"]+"[^>]*>([^<]+)<', html
    )


def test_the_acting_person_is_always_the_one_signed_in(site: Site) -> None:
    dispute = report(site.engine, site.policy, unit="33010101", risk="high")
    wang = site.signed_in("wang")
    wang.post(f"/disputes/{dispute}/events", {"kind": "check", "by": "sun", "actor": "sun"})
    named = wang.api("POST", f"/disputes/{dispute}/events", json={"kind": "check", "actor": "sun"})
    assert named.status_code == 422 and "actor" in named.json()["error"]
    shown = wang.api("GET", f"/disputes/{dispute}").json()
    assert [(e["kind"], e["by"]) for e in shown["events"]][1:] == [("check", "wang")]


def test_a_disabled_account_cannot_get_in_and_its_sessions_end(site: Site) -> None:
    wang = site.signed_in("wang")
    disable_account(engine=site.engine, now=LATER, actor=OPERATOR, person="wang")
    assert wang.get("/tasks").headers["location"].startswith("/login")
    assert wang.api("GET", "/me").status_code == 401
    again = site.visitor().sign_in("wang", PASSWORD)
    assert again.status_code == 401 and "用户名或密码错误" in again.text


def test_a_revoked_token_cannot_get_in(site: Site) -> None:
    token = issue_token(engine=site.engine, now=LATER, actor=OPERATOR, person="li")
    client = site.client()
    assert bearer(client, token, "GET", "/me").json()["person"] == "li"
    revoke_tokens(engine=site.engine, now=LATER, actor=OPERATOR, person="li")
    refused = bearer(client, token, "GET", "/me")
    assert refused.status_code == 401 and refused.headers["www-authenticate"] == "Bearer"
    assert bearer(client, "fq_made-up", "GET", "/disputes").status_code == 401


def test_a_token_changes_things_without_a_csrf_header(site: Site) -> None:
    dispute = report(site.engine, site.policy, unit="33010101", risk="high")
    token = issue_token(engine=site.engine, now=LATER, actor=OPERATOR, person="wang")
    response = bearer(
        site.client(), token, "POST", f"/disputes/{dispute}/events", json={"kind": "check"}
    )
    assert response.status_code == 201 and response.json()["events"][-1]["by"] == "wang"


def test_parties_are_shown_to_the_mediator_and_masked_for_an_administrator(site: Site) -> None:
    wang = site.signed_in("wang")
    with structlog.testing.capture_logs() as logs:
        made = wang.api(
            "POST",
            "/disputes",
            json={
                "unit": "33010101",
                "risk": "medium",
                "category": "邻里纠纷",
                "title": "院墙",
                "parties": [{"name": "张三丰", "phone": "13812345678"}],
            },
        )
    assert made.status_code == 201
    dispute = made.json()["id"]
    assert made.json()["parties"] == [{"name": "张三丰", "phone": "13812345678"}]
    assert "张三丰" in wang.get(f"/disputes/{dispute}").text
    admin = site.signed_in("admin")
    assert admin.api("GET", f"/disputes/{dispute}").json()["parties"] == [
        {"name": "张**", "phone": "138****5678"}
    ]
    page = admin.get(f"/disputes/{dispute}").text
    assert "张三丰" not in page and "13812345678" not in page and "张**" in page
    assert "张三丰" not in repr(logs) and "13812345678" not in repr(logs)
