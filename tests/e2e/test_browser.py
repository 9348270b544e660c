"""The web app in a real browser: headless Chromium (the machine's Debian ``chromium``, through
Playwright's ``executable_path``) against the app served by uvicorn on a loopback port.

Without that browser these tests skip with the reason shown; with
FENGQIAO_REQUIRE_BROWSER=1 (set in CI) that is a failure instead. ``make screens`` runs the
last test with FENGQIAO_SCREENS=docs/screens to refresh the screenshots of the docs.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from rules.loader import default_rules_path
from rules.policy import Policy
from tests.support.db import TWO_TOWNSHIPS, load_county
from tests.support.recording import MONDAY, record, report
from tests.support.web import PASSWORD, LiveSite, Site
from workflows.db import make_engine, migrate
from workflows.views import dispute_view

ORG = TWO_TOWNSHIPS
PHONE = {"width": 360, "height": 740}
DESK = {"width": 1280, "height": 860}


def _chromium() -> str:
    found = os.environ.get("FENGQIAO_CHROMIUM") or shutil.which("chromium")
    if found:
        return found
    reason = "no chromium on this machine (apt-get install chromium) to run the browser tests"
    if os.environ.get("FENGQIAO_REQUIRE_BROWSER") == "1":
        pytest.fail(f"a browser is required here (FENGQIAO_REQUIRE_BROWSER=1): {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, Any]) -> dict[str, Any]:
    """pytest-playwright's launch, with the machine's Chromium instead of a download."""
    return {
        **browser_type_launch_args,
        "executable_path": _chromium(),
        "args": ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
    }


@pytest.fixture
def site(tmp_path: Path, policy: Policy) -> Site:
    engine = make_engine(f"sqlite:///{tmp_path / 'fengqiao.db'}")
    migrate(engine)
    load_county(engine, ORG)
    return Site(engine, policy, MONDAY + timedelta(hours=1))


@pytest.fixture
def live(site: Site) -> Iterator[LiveSite]:
    with LiveSite(site) as served:
        yield served


def _open(browser: Browser, live: LiveSite, person: str, viewport: dict[str, int]) -> Page:
    """A new browser window of ``viewport``, signed in as ``person`` through the form."""
    live.site.account(person)
    context = browser.new_context(viewport=viewport, locale="zh-CN", base_url=live.url)
    page = context.new_page()
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/login"))
    page.get_by_label("用户名").fill(person)
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    return page


def _no_sideways_scroll(page: Page) -> None:
    wide = page.evaluate("document.documentElement.scrollWidth")
    assert wide <= page.viewport_size["width"], f"{page.url} is {wide}px wide"  # type: ignore[index]


def _daily_check_due(site: Site, dispute: int) -> str:
    view = dispute_view(engine=site.engine, dispute_id=dispute, now=site.now, zone=site.policy.zone)
    return next(o["due_at"] for o in view["obligations"] if o["kind"] == "daily_check")


def test_a_mediator_on_a_phone_signs_in_records_the_overdue_check_and_its_obligation_moves(
    browser: Browser, live: LiveSite
) -> None:
    site = live.site
    late = report(site.engine, site.policy, unit="33010101", risk="high", title="灌溉水渠")
    site.now = MONDAY + timedelta(days=1, hours=20)  # the first daily check is 5 hours late
    due_before = _daily_check_due(site, late)

    page = _open(browser, live, "wang", PHONE)
    expect(page).to_have_url(re.compile(r"/tasks$"))
    first = page.locator("li.card").first
    expect(first).to_have_class(re.compile(r"\boverdue\b"))
    expect(first).to_contain_text(f"#{late}")
    expect(first).to_contain_text("逾期 5 小时")
    _no_sideways_scroll(page)

    first.get_by_role("link", name="排查", exact=True).click()
    form = page.locator("form.event")
    expect(form).to_be_visible()
    form.get_by_label("备注").fill("已到现场查看水渠")
    form.get_by_role("button", name=re.compile("记录")).click()

    expect(page.locator("p.notice")).to_contain_text("已记录：排查")
    expect(page.locator("ol.timeline")).to_contain_text("已到现场查看水渠")
    _no_sideways_scroll(page)
    assert _daily_check_due(site, late) > due_before
    obligations = page.locator("section[aria-labelledby=obligations-h]")
    expect(obligations).not_to_contain_text("逾期")


def test_a_supervisor_filters_the_queue_hands_a_dispute_back_and_the_mediator_sees_it_again(
    browser: Browser, live: LiveSite
) -> None:
    site = live.site
    up = report(site.engine, site.policy, unit="33010101", risk="high", title="灌溉水渠")
    report(site.engine, site.policy, unit="33010102", risk="low", title="噪音扰民")
    record(site.engine, site.policy, up, "escalate", site.now, by="wang")

    li = _open(browser, live, "li", DESK)
    expect(li).to_have_url(re.compile(r"/queue$"))
    expect(li.locator("tr[data-dispute]")).to_have_count(2)
    li.locator("details.filter-box summary").click()
    li.locator("form.filters select[name=risk]").select_option("high")
    li.locator("form.filters button[type=submit]").click()
    expect(li).to_have_url(re.compile(r"risk=high"))
    expect(li.locator("tr[data-dispute]")).to_have_count(1)
    li.get_by_role("link", name="灌溉水渠").click()
    expect(li).to_have_url(re.compile(rf"/disputes/{up}$"))
    expect(li.locator("p.badges")).to_contain_text("镇级")
    expect(li.locator("dl.facts")).to_contain_text("东溪镇")

    li.get_by_role("link", name="退回", exact=True).click()
    li.locator("form.event").get_by_role("button", name=re.compile("记录")).click()
    expect(li.locator("p.notice")).to_contain_text("已记录：退回")

    wang = _open(browser, live, "wang", PHONE)
    expect(wang.locator(f"#tasks a[href='/disputes/{up}']").first).to_be_visible()
    wang.goto(f"/disputes/{up}")
    expect(wang.locator("ol.timeline")).to_contain_text("退回")
    expect(wang.locator("p.badges")).to_contain_text("村级")


SCREENS = os.environ.get("FENGQIAO_SCREENS")


def test_the_main_pages_render_in_the_browser_for_the_docs(
    browser: Browser, live: LiveSite, tmp_path: Path
) -> None:
    """Every main page, phone-sized for the mediator and desk-sized for the supervisor,
    shot (into FENGQIAO_SCREENS when given) and none scrolling sideways."""
    site = live.site
    into = Path(SCREENS) if SCREENS else tmp_path
    into.mkdir(parents=True, exist_ok=True)
    water = report(site.engine, site.policy, unit="33010101", risk="high", title="灌溉水渠纠纷")
    report(site.engine, site.policy, unit="3301010102", risk="medium", title="宅基地边界")
    noise = report(site.engine, site.policy, unit="33010102", risk="low", title="广场舞噪音")
    wages = report(site.engine, site.policy, unit="33010101", risk="high", title="拖欠工资")
    record(site.engine, site.policy, wages, "escalate", site.now, by="wang")
    site.now = MONDAY + timedelta(days=1, hours=20)
    record(site.engine, site.policy, noise, "check", site.now, {"note": "双方已沟通"}, by="sun")

    def shot(page: Page, name: str) -> None:
        page.wait_for_load_state("networkidle")
        _no_sideways_scroll(page)
        page.screenshot(path=str(into / f"{name}.png"), full_page=True)

    wang = browser.new_context(viewport=PHONE, locale="zh-CN", base_url=live.url).new_page()
    wang.goto("/login")
    shot(wang, "login")
    wang.close()
    wang = _open(browser, live, "wang", PHONE)
    shot(wang, "mediator-tasks")
    wang.goto(f"/disputes/{water}/record/check#event-form")
    shot(wang, "mediator-record")
    wang.goto("/disputes/new")
    shot(wang, "mediator-report")

    li = _open(browser, live, "li", DESK)
    shot(li, "supervisor-queue")
    li.goto("/escalations")
    shot(li, "supervisor-escalations")
    li.goto(f"/disputes/{wages}")
    shot(li, "supervisor-dispute")

    admin = _open(browser, live, "admin", DESK)
    admin.goto("/rules")
    shipped = default_rules_path().read_text(encoding="utf-8")
    low = "risk: low,\n     when: unresolved, after: 30d}"
    admin.get_by_label("规则文件（YAML）").fill(shipped.replace(low, low.replace("30d", "5d")))
    admin.get_by_role("button", name="预览改变").click()
    expect(admin.locator(f'li[data-dispute="{noise}"]')).to_be_visible()
    shot(admin, "administrator-rules")
    admin.goto("/accounts")
    shot(admin, "administrator-accounts")
    assert sorted(p.name for p in into.glob("*.png")) >= sorted(
        f"{n}.png"
        for n in (
            "administrator-accounts",
            "administrator-rules",
            "login",
            "mediator-record",
            "mediator-report",
            "mediator-tasks",
            "supervisor-dispute",
            "supervisor-escalations",
            "supervisor-queue",
        )
    )


def test_a_supervisor_reads_the_weeks_report_sees_its_charts_and_opens_a_figure(
    browser: Browser, live: LiveSite
) -> None:
    site = live.site
    first = report(site.engine, site.policy, unit="33010101", risk="low", title="灌溉水渠")
    record(site.engine, site.policy, first, "resolve", site.now + timedelta(days=1),
           {"method": "people", "agreement": "oral"})  # fmt: skip
    report(site.engine, site.policy, unit="33010102", risk="medium", title="噪音扰民")
    site.now = MONDAY + timedelta(days=7, hours=2)  # the Monday after

    li = _open(browser, live, "li", DESK)
    li.get_by_role("link", name="报告", exact=True).click()
    expect(li).to_have_url(re.compile(r"/reports$"))
    li.get_by_role("button", name="打开").click()  # the last week, of the person's township
    expect(li).to_have_url(re.compile(r"/reports/weekly/330101/2026-W45$"))
    total = li.locator("tr[data-unit=total]")
    expect(total.locator("td[data-figure=screened]")).to_have_text("2")
    expect(total.locator("td[data-figure=resolution_rate]")).to_have_text("50.0%")
    for chart in ("#rate-chart", "#trend-chart"):  # drawn, and shown by the browser
        expect(li.locator(chart)).to_be_visible()
        expect(li.locator(chart)).to_have_js_property("complete", True)
        assert li.evaluate(f"document.querySelector('{chart}').naturalWidth") > 300
    _no_sideways_scroll(li)

    total.locator("td[data-figure=screened] a").click()
    expect(li.locator("#behind")).to_contain_text("排查")
    expect(li.locator("#behind-list li")).to_have_count(2)
    li.get_by_role("link", name=re.compile("灌溉水渠")).click()
    expect(li).to_have_url(re.compile(rf"/disputes/{first}$"))
