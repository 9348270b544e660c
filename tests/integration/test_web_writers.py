"""Eight clients recording events through the web API at once, over HTTP on loopback to the
app served by uvicorn: every post is answered 201 and stored exactly once."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import httpx
from sqlalchemy import Engine
from sqlmodel import col, select

from models.tables import Dispute, DisputeEvent
from models.values import OPERATOR
from rules.policy import Policy
from tests.support.recording import MONDAY, report, run_together
from tests.support.web import LiveSite, Site
from workflows.accounts import issue_token
from workflows.db import reading

CLIENTS = 8
POSTS_EACH = 6


def _tokens(site: Site) -> list[str]:
    """An API token of its own for each client, all the village mediator's."""
    return [
        issue_token(engine=site.engine, now=site.now, actor=OPERATOR, person="wang")
        for _ in range(CLIENTS)
    ]


def _post_notes(live: LiveSite, tokens: list[str], disputes: list[int]) -> None:
    """Each client posts its notes, the n-th on ``disputes[n % len(disputes)]``."""

    def client(number: int) -> None:
        headers = {"Authorization": f"Bearer {tokens[number]}"}
        with httpx.Client(base_url=live.url, headers=headers, timeout=60) as http:
            for index in range(POSTS_EACH):
                dispute = disputes[(number * POSTS_EACH + index) % len(disputes)]
                answer = http.post(
                    f"/api/v1/disputes/{dispute}/events",
                    json={"kind": "note", "data": {"text": f"client {number} #{index}"}},
                )
                assert answer.status_code == 201, answer.text

    run_together(CLIENTS, client)


def _notes(engine: Engine, disputes: list[int]) -> tuple[Counter[str], dict[int, list[int]]]:
    """The notes stored, counted by their text, and each dispute's event numbers."""
    with reading(engine) as session:
        events = session.exec(
            select(DisputeEvent)
            .where(col(DisputeEvent.dispute_id).in_(disputes))
            .order_by(col(DisputeEvent.dispute_id), col(DisputeEvent.seq))
        ).all()
        rows = {d: session.get(Dispute, d) for d in disputes}
    seqs: dict[int, list[int]] = {d: [] for d in disputes}
    for event in events:
        seqs[event.dispute_id].append(event.seq)
    for dispute, row in rows.items():
        assert row is not None and row.last_seq == len(seqs[dispute])
    return Counter(e.data["text"] for e in events if e.kind == "note"), seqs


def _expected() -> Counter[str]:
    return Counter(f"client {n} #{i}" for n in range(CLIENTS) for i in range(POSTS_EACH))


def test_eight_web_clients_on_one_dispute_lose_no_event_and_double_none(
    org_engine: Engine, policy: Policy
) -> None:
    dispute = report(org_engine, policy, unit="33010101", risk="medium")
    site = Site(org_engine, policy, MONDAY + timedelta(hours=1))
    tokens = _tokens(site)
    with LiveSite(site) as live:
        _post_notes(live, tokens, [dispute])
    notes, seqs = _notes(org_engine, [dispute])
    assert notes == _expected()
    assert seqs[dispute] == list(range(1, 2 + CLIENTS * POSTS_EACH))


def test_eight_web_clients_on_many_disputes_lose_no_event_and_double_none(
    org_engine: Engine, policy: Policy
) -> None:
    disputes = [report(org_engine, policy, unit="33010101", risk="high") for _ in range(5)]
    site = Site(org_engine, policy, MONDAY + timedelta(hours=1))
    tokens = _tokens(site)
    with LiveSite(site) as live:
        _post_notes(live, tokens, disputes)
    notes, seqs = _notes(org_engine, disputes)
    assert notes == _expected()
    for numbers in seqs.values():
        assert numbers == list(range(1, len(numbers) + 1))
