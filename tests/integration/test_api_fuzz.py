"""A property-based fuzz of the JSON API from its own OpenAPI schema (Schemathesis), on
SQLite and PostgreSQL: whatever it is sent, it answers no 500 and nothing outside the
schema it publishes.

Each operation's cases are drawn with Hypothesis directly (``as_strategy``):
``schemathesis.pytest.from_fixture`` does not run under pytest 9."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import checks
from sqlalchemy import Engine

from models.values import OPERATOR
from rules.policy import Policy
from tests.support.db import TWO_TOWNSHIPS, load_county
from tests.support.recording import MONDAY, record, report
from tests.support.web import Site
from workflows.accounts import issue_token

ORG = TWO_TOWNSHIPS
EXAMPLES = 30  # per operation


def test_the_api_answers_anything_sent_without_a_500_and_within_its_schema(
    engine: Engine, policy: Policy
) -> None:
    load_county(engine, ORG)
    first = report(engine, policy, unit="33010101", risk="high")
    record(engine, policy, first, "assign", MONDAY, {"person": "wang"}, by="li")
    report(engine, policy, unit="33010102", risk="low")
    token = issue_token(engine=engine, now=MONDAY, actor=OPERATOR, person="li")
    site = Site(engine, policy, MONDAY + timedelta(days=2))
    schema = schemathesis.openapi.from_asgi("/api/v1/openapi.json", site.app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert {op.label for op in operations} >= {
        "GET /disputes",
        "POST /disputes",
        "GET /disputes/{dispute_id}",
        "POST /disputes/{dispute_id}/events",
        "GET /tasks",
        "POST /tasks/{task_id}/ack",
        "GET /escalations",
        "GET /me",
    }
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def answers_within_the_schema(case: Any) -> None:
            case.call_and_validate(
                headers={"Authorization": f"Bearer {token}"},
                # A request the schema allows may still be refused, rightly: a cursor this
                # server never gave, a transition the lifecycle does not take (400).
                excluded_checks=[checks.positive_data_acceptance],
            )

        answers_within_the_schema()
