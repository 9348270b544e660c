"""Around the ladder on the real command line: a dispute a court sent, a referral that comes
back, the county's monthly inspection, a grid without a worker, handing back with a reason."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.cli import Cli
from tests.support.db import dump_file

NOW = "2026-11-02T09:00:00+08:00"


def _new(county: Cli, *more: str, unit: str = "33010101", risk: str = "medium") -> int:
    made = county(
        "--now", NOW, "dispute", "new", "--unit", unit, "--risk", risk, "--category", "合同纠纷",
        "--title", "买卖合同", "--by", "wang", *more,
    )  # fmt: skip
    assert made.code == 0, made.err
    return int(made.out)


def _show(county: Cli, dispute: int, now: str) -> dict[str, object]:
    shown = county("--now", now, "dispute", "show", str(dispute), "--json")
    assert shown.code == 0, shown.err
    result: dict[str, object] = json.loads(shown.out)
    return result


def test_a_dispute_a_court_entrusted_shows_its_source_and_owes_the_court_its_result(
    county: Cli,
) -> None:
    dispute = _new(
        county, "--source", "court_entrusted", "--court", "某县人民法院",
        "--court-deadline", "2026-11-20T00:00+08:00",
    )  # fmt: skip
    shown = _show(county, dispute, NOW)
    assert (shown["source"], shown["court"]) == ("court_entrusted", "某县人民法院")
    owed = {o["kind"]: o["due_at"] for o in shown["obligations"]}  # type: ignore[attr-defined]
    assert owed["court_result"] == "2026-11-20T00:00:00+08:00"
    explained = county("--now", NOW, "rules", "explain", str(dispute))
    assert "result to the court: due 2026-11-20T00:00:00+08:00" in explained.out
    done = county(
        "--now", "2026-11-10T09:00+08:00", "dispute", "event", str(dispute), "court_result",
        "--by", "wang", "--data", '{"outcome": "agreement"}',
    )  # fmt: skip
    assert done.code == 0, done.err
    later = _show(county, dispute, "2026-11-10T09:00+08:00")
    assert "court_result" not in {o["kind"] for o in later["obligations"]}  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("given", "message"),
    [
        (["--source", "court_delegatd"], "unknown source 'court_delegatd'; known: screening,"),
        (["--source", "court_delegated"], "names the court: give the court"),
        (["--source", "visit", "--court", "某县人民法院"], "go with a court's source"),
        (
            [
                "--source",
                "court_delegated",
                "--court",
                "某县人民法院",
                "--court-deadline",
                "2026-11-01",
            ],
            "the court's deadline 2026-11-01T00:00:00+08:00 is not after the report",
        ),
    ],
)
def test_a_source_the_rules_do_not_know_or_a_court_wrongly_named_is_refused(
    county: Cli, tmp_path: Path, given: list[str], message: str
) -> None:
    before = dump_file(tmp_path)
    done = county(
        "--now", NOW, "dispute", "new", "--unit", "33010101", "--risk", "low", "--category", "other",
        "--title", "t", *given,
    )  # fmt: skip
    assert done.code == 2 and message in done.err, done.err
    assert len(done.err.strip().splitlines()) == 1
    assert dump_file(tmp_path) == before


def test_a_referral_returned_comes_back_to_mediating_and_its_feedback_is_owed_no_more(
    county: Cli,
) -> None:
    dispute = _new(county)
    referred = county(
        "--now", NOW, "dispute", "event", str(dispute), "refer", "--by", "li", "--data",
        '{"to": "police", "body": "东溪派出所"}',
    )  # fmt: skip
    assert referred.code == 0, referred.err
    late = "2026-11-20T09:00:00+08:00"
    shown = county("--now", late, "dispute", "show", str(dispute))
    assert "referral_feedback" in shown.out and "OVERDUE" in shown.out
    back = county(
        "--now", late, "dispute", "event", str(dispute), "referral_result", "--by", "wang",
        "--data", '{"result": "returned"}',
    )  # fmt: skip
    assert back.code == 0, back.err
    assert _show(county, dispute, late)["status"] == "mediating"


def test_a_handback_says_why(county: Cli) -> None:
    dispute = _new(county)
    for kind, by, data in (
        ("escalate", "li", "{}"),
        ("handback", "li", '{"reason": "村里已有调解方案，退回就地化解"}'),
    ):
        done = county(
            "--now", NOW, "dispute", "event", str(dispute), kind, "--by", by, "--data", data
        )
        assert done.code == 0, done.err
    events = _show(county, dispute, NOW)["events"]
    assert events[-1]["kind"] == "handback"  # type: ignore[index]


def test_the_county_records_its_monthly_inspection_with_unit_inspect(county: Cli) -> None:
    first_working_day = "2026-12-01T10:00:00+08:00"
    assert county("--now", first_working_day, "sweep").code == 0
    listed = county("--now", first_working_day, "unit", "tasks", "--person", "chen")
    assert "330100  county_inspection  2026-12-01" in listed.out
    refused = county("--now", first_working_day, "unit", "inspect", "330100", "--by", "li")
    assert refused.code == 2 and "li is not a supervisor of 330100" in refused.err
    done = county(
        "--now",
        first_working_day,
        "unit",
        "inspect",
        "330100",
        "--by",
        "chen",
        "--note",
        "抽查12件",
    )
    assert done.code == 0, done.err
    assert done.out == "330100: county_inspection of 2026-12-01 done\n"
    after = county("--now", first_working_day, "unit", "tasks", "--person", "chen")
    assert after.out == "no open tasks of a unit\n"


def test_the_village_mediator_answers_for_a_grid_without_a_worker(county: Cli) -> None:
    dispute = _new(county, unit="3301010101", risk="high")  # the first grid has no worker
    rows = json.loads(county("--now", NOW, "tasks", "--person", "wang", "--json").out)
    (check,) = [r["id"] for r in rows if r["dispute"] == dispute and r["kind"] == "daily_check"]
    done = county("--now", NOW, "tasks", "ack", str(check), "--by", "wang")
    assert done.code == 0, done.err
    zhao = json.loads(county("--now", NOW, "tasks", "--person", "zhao", "--json").out)
    assert dispute not in {r["dispute"] for r in zhao}  # the second grid's worker
