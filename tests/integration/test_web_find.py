"""Finding disputes by a party's phone or ID number in the web app: posted, never in an
address, found by the keyed hash within the person's scope."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine

from models.values import Actor
from rules.policy import Policy
from tests.support.db import load_county
from tests.support.recording import MONDAY
from tests.support.web import Site
from workflows.db import make_engine, migrate
from workflows.recording import NewDispute, report_dispute

PARTIES = [{"name": "欧阳春花", "phone": "13812345678", "id_number": "11010519491231002X"}]


@pytest.fixture
def site(tmp_path: Path, policy: Policy) -> Site:
    engine = make_engine(f"sqlite:///{tmp_path / 'fengqiao.db'}")
    migrate(engine)
    load_county(engine)
    return Site(engine, policy, MONDAY + timedelta(hours=1))


def _report(engine: Engine, policy: Policy, unit: str, title: str) -> int:
    return report_dispute(
        engine=engine,
        policy=policy,
        now=MONDAY,
        actor=Actor("li"),
        dispute=NewDispute(
            unit=unit, risk="low", category="邻里", title=title, at=MONDAY, parties=PARTIES
        ),
    )


def test_a_supervisor_finds_the_disputes_naming_a_phone_within_their_scope(
    site: Site, policy: Policy
) -> None:
    ours = _report(site.engine, policy, "3301010102", "排水沟堵塞")
    theirs = _report(site.engine, policy, "3301010201", "宅基地边界")
    li, zhao = site.signed_in("li"), site.signed_in("zhao")
    assert "按当事人查找" in li.get("/find").text
    found = li.post("/find", {"phone": "138-1234-5678", "id_number": ""})
    assert found.status_code == 200
    assert "找到 2 件纠纷" in found.text
    assert f'href="/disputes/{ours}"' in found.text and f'href="/disputes/{theirs}"' in found.text
    assert "13812345678" not in found.text.replace('value=""', "")  # not echoed back
    mine = zhao.post("/find", {"phone": "", "id_number": "11010519491231002x"})
    assert f'href="/disputes/{ours}"' in mine.text  # 上林村第二网格's worker: only theirs
    assert f'href="/disputes/{theirs}"' not in mine.text
    nothing = li.post("/find", {"phone": "13900000000", "id_number": ""})
    assert "没有涉及此号码的纠纷" in nothing.text


def test_a_bad_number_is_refused_in_one_line_and_the_form_needs_its_secret(site: Site) -> None:
    li = site.signed_in("li")
    bad = li.post("/find", {"phone": "12345", "id_number": ""})
    assert bad.status_code == 400 and "phone: not a phone number" in bad.text
    both = li.post("/find", {"phone": "", "id_number": ""})
    assert both.status_code == 400 and "give a phone or an ID number" in both.text
    assert li.post("/find", {"phone": "13812345678"}, csrf=False).status_code == 403
