"""The administrators' rules page: the rules in force and their history, a new rule file
previewed dispute by dispute (its problems shown in place), and put in force with a reason
after confirming."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlmodel import select

from fengqiao.web import pages
from models.tables import RuleChange
from rules.policy import Policy
from tests.support.db import TWO_TOWNSHIPS, dump
from tests.support.recording import MONDAY, report
from tests.support.rules import LOW_AT_VILLAGE, SHIPPED, shipped_with
from tests.support.web import Site, site_on
from workflows.db import reading

FASTER = shipped_with(LOW_AT_VILLAGE, LOW_AT_VILLAGE.replace("30d", "5d"))


@pytest.fixture
def site(tmp_path: Path, policy: Policy) -> Site:
    return site_on(tmp_path, policy, TWO_TOWNSHIPS, MONDAY + timedelta(days=8))


def _changes(engine: Engine) -> list[RuleChange]:
    with reading(engine) as session:
        return list(session.exec(select(RuleChange)).all())


def test_only_an_administrator_opens_the_rules_page(site: Site) -> None:
    assert site.signed_in("admin").get("/rules").status_code == 200
    assert site.signed_in("li").get("/rules").status_code == 403
    assert 'href="/rules"' in site.signed_in("admin").get("/queue").text
    assert 'href="/rules"' not in site.signed_in("li").get("/queue").text


def test_a_rule_file_with_problems_is_shown_in_place_and_changes_nothing(site: Site) -> None:
    admin = site.signed_in("admin")
    admin.get("/rules")
    before = dump(site.engine)
    bad = SHIPPED.replace("due: 7d", "due: 7x")
    page = admin.post("/rules/preview", {"text": bad})
    assert page.status_code == 400
    problems = re.findall(r"<li>(rules\.yaml:\d+:\d+: [^<]+)</li>", page.text)
    assert problems and "7x" in problems[0]
    assert 'aria-invalid="true"' in page.text and "due: 7x" in page.text  # kept to correct
    assert dump(site.engine) == before


def test_a_preview_lists_the_disputes_moved_and_applying_needs_a_reason_and_confirmation(
    site: Site,
) -> None:
    low = report(site.engine, site.policy, unit="33010101", risk="low")
    high = report(site.engine, site.policy, unit="33010101", risk="high")
    admin = site.signed_in("admin")
    admin.get("/rules")
    page = admin.post("/rules/preview", {"text": FASTER})
    assert page.status_code == 200, page.text
    assert "escalations[village-low-unresolved].after" in page.text
    moved = [int(i) for i in re.findall(r'<li data-dispute="(\d+)">', page.text)]
    assert moved == [low] and high not in moved
    version = re.search(r'name="version" value="([0-9a-f]+)"', page.text)
    assert version
    before = dump(site.engine)
    unconfirmed = admin.post(
        "/rules/apply", {"text": FASTER, "version": version.group(1), "reason": "加快"}
    )
    assert unconfirmed.status_code == 400 and dump(site.engine) == before
    no_reason = admin.post(
        "/rules/apply",
        {"text": FASTER, "version": version.group(1), "reason": " ", "confirm": "yes"},
    )
    assert no_reason.status_code == 400 and dump(site.engine) == before
    edited = admin.post(
        "/rules/apply",
        {"text": SHIPPED, "version": version.group(1), "reason": "加快", "confirm": "yes"},
    )
    assert edited.status_code == 400 and dump(site.engine) == before
    done = admin.post(
        "/rules/apply",
        {"text": FASTER, "version": version.group(1), "reason": "低风险五日上报", "confirm": "yes"},
    )
    assert done.status_code == 303 and done.headers["location"].startswith("/rules?applied=")
    [change] = _changes(site.engine)
    assert (change.actor, change.reason, change.to_version) == (
        "admin",
        "低风险五日上报",
        version.group(1),
    )
    after = admin.get(done.headers["location"]).text
    assert "低风险五日上报" in after and "已启用规则" in after


def test_a_scope_too_large_to_compare_while_the_page_waits_shows_the_keys_and_says_so(
    site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pages, "RULES_PREVIEW_LARGEST", 1)
    for _ in range(2):
        report(site.engine, site.policy, unit="33010101", risk="low")
    admin = site.signed_in("admin")
    admin.get("/rules")
    page = admin.post("/rules/preview", {"text": FASTER})
    assert page.status_code == 200
    assert "escalations[village-low-unresolved].after" in page.text
    assert "有 2 件在办纠纷" in page.text and "fengqiao rules diff" in page.text
    assert "data-dispute=" not in page.text
