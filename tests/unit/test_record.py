"""The record a ledger keeps of a dispute: a fold of its events (models.record), and the
rule file's code lists it names its kind and source by."""

from __future__ import annotations

from dataclasses import replace

import pytest

from models.events import EventData, InvalidEventData
from models.lifecycle import DisputeState
from models.record import record_after
from models.values import Risk
from rules.evaluate import evaluate
from rules.schema import lookup
from tests.support.histories import PATH, POLICY, K, at, ev
from workflows.errors import BadInput
from workflows.recording.validate import NewDispute, category_of, report_data

RULES = POLICY.rules


def test_the_record_keeps_what_the_report_the_mediation_and_the_agreement_say() -> None:
    record = record_after(
        {},
        [
            ev(K.report, at(2026, 3, 2, 9), risk="low", source="visit", description="两户排水沟"),
            replace(ev(K.mediate, at(2026, 3, 3, 9), method="people"), actor="li"),
            replace(
                ev(
                    K.resolve,
                    at(2026, 3, 5, 10),
                    method="people",
                    agreement="written",
                    amount="1200.50",
                    terms="王家赔偿修沟费用",
                    mediators="李四、王五",
                ),
                actor="wang",
            ),
            ev(K.visit, at(2026, 3, 20, 10), outcome="stable"),
        ],
    )
    assert record == {
        "description": "两户排水沟",
        "source": "visit",
        "method": "people",
        "mediated_by": ["li", "wang"],
        "agreement": "written",
        "amount": "1200.50",
        "terms": "王家赔偿修沟费用",
        "mediators": "李四、王五",
        "outcome": "resolved",
        "resolved_at": at(2026, 3, 5, 10).isoformat(),
        "visits": 1,
        "visit_outcome": "stable",
        "visited_at": at(2026, 3, 20, 10).isoformat(),
        "closed_at": at(2026, 3, 20, 10).isoformat(),  # closed by the visit
    }


def test_a_relapse_takes_the_outcome_back_and_a_new_agreement_replaces_the_old_whole() -> None:
    resolved = record_after(
        {},
        [ev(K.resolve, at(2026, 3, 5), method="people", agreement="written", amount="900")],
    )
    relapsed = record_after(resolved, [ev(K.visit, at(2026, 3, 20), outcome="relapsed")])
    assert "outcome" not in relapsed and relapsed["visits"] == 1
    again = record_after(
        relapsed, [ev(K.resolve, at(2026, 4, 1), method="judicial", agreement="oral")]
    )
    assert (again["outcome"], again["agreement"], again["method"]) == (
        "resolved",
        "oral",
        "judicial",
    )
    assert "amount" not in again  # the oral agreement names no sum


def test_a_referral_a_withdrawal_and_a_refused_confirmation_say_how_it_ended() -> None:
    assert record_after({}, [ev(K.refer, at(2026, 3, 5), to="court", body="区法院")])[
        "outcome"
    ] == ("referred")
    withdrawn = record_after({}, [ev(K.withdraw, at(2026, 3, 5))])
    assert (withdrawn["outcome"], withdrawn["closed_at"]) == (
        "withdrawn",
        at(2026, 3, 5).isoformat(),
    )
    confirmed = record_after(
        {"outcome": "resolved"}, [ev(K.confirmation_result, at(2026, 4, 1), result="confirmed")]
    )
    assert confirmed == {"outcome": "resolved", "confirmed": True}
    refused = record_after(
        {"outcome": "resolved"}, [ev(K.confirmation_result, at(2026, 4, 1), result="refused")]
    )
    assert refused == {"confirmed": False}


def test_an_amount_is_a_sum_in_yuan_with_at_most_two_decimals() -> None:
    resolve = {"method": "people", "agreement": "written"}
    assert EventData.validate(K.resolve, {**resolve, "amount": "3000"})["amount"] == "3000"
    for bad, says in (("-1", "greater than or equal to 0"), ("1.234", "2 decimal places"),
                      ("三千", "valid decimal")):  # fmt: skip
        with pytest.raises(InvalidEventData, match=f"amount: .*{says}"):
            EventData.validate(K.resolve, {**resolve, "amount": bad})


def test_a_category_or_source_is_found_by_its_code_its_names_and_its_aliases() -> None:
    assert lookup(RULES.categories, "neighbour") == "neighbour"
    assert lookup(RULES.categories, "邻里纠纷") == lookup(RULES.categories, "邻里") == "neighbour"
    assert lookup(RULES.categories, "劳资纠纷") == "labour"  # an alias
    assert lookup(RULES.categories, " Marriage and family ") == "marriage_family"
    assert lookup(RULES.categories, "吵架") is None
    assert lookup(RULES.sources, "群众申请") == "application"


def test_a_dispute_of_an_unknown_category_or_source_is_refused_naming_the_known_ones() -> None:
    new = NewDispute(unit="33010101", risk="low", category="吵架", title="t")
    with pytest.raises(BadInput, match=r"unknown category '吵架'; known: marriage_family, "):
        category_of(new, RULES.categories)
    assert category_of(replace(new, category="婚姻家庭纠纷"), RULES.categories) == "marriage_family"
    assert category_of(new, {}) == "吵架"  # rules without a list take any
    data = report_data(replace(new, source="来访"), now=at(2026, 3, 2), sources=RULES.sources)
    assert data["source"] == "visit"
    with pytest.raises(BadInput, match="unknown source '路过'"):
        report_data(replace(new, source="路过"), now=at(2026, 3, 2), sources=RULES.sources)


def test_two_codes_may_not_answer_to_the_same_name() -> None:
    from rules.schema import Category, consistency_problems

    rules = RULES.model_copy(
        update={
            "categories": {
                **RULES.categories,
                "quarrel": Category(label={"zh": "吵架"}, aliases=["邻里纠纷"]),
            }
        }
    )
    problems = [p for p in consistency_problems(rules) if p.path[0] == "categories"]
    assert [(p.path, p.message) for p in problems] == [
        (("categories", "quarrel"), "'邻里纠纷' already names 'neighbour'"),
        (("categories", "quarrel"), "'邻里' already names 'neighbour'"),  # 纠纷 taken off
    ]


def test_a_dispute_brought_in_from_a_ledger_starts_its_clocks_at_the_import() -> None:
    registered, imported = at(2026, 3, 2, 9), at(2026, 5, 11, 9)
    initial = DisputeState.reported(path=PATH, risk=Risk.high, at=registered, clocks_from=imported)
    report = ev(K.report, registered, risk="high", clocks_from=imported.isoformat())
    evaluation = evaluate(initial, [report], policy=POLICY, now=imported)
    assert evaluation.decisions == ()  # nothing escalated for the months before the import
    assert all(o.due_at > imported for o in evaluation.obligations)
    without = evaluate(
        DisputeState.reported(path=PATH, risk=Risk.high, at=registered),
        [ev(K.report, registered, risk="high")],
        policy=POLICY,
        now=imported,
    )
    assert without.decisions  # reported then, it would have gone up long ago
