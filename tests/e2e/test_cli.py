"""The command line end to end, through its real entry point."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import Engine

from tests.support.cli import Cli
from tests.support.db import EXAMPLE_ORG, dump
from workflows.db import make_engine

NOW = "2026-11-02T09:00:00+08:00"


def _engine(tmp_path: Path) -> Engine:
    return make_engine(f"sqlite:///{tmp_path / 'fengqiao.db'}")


def _new(cli: Cli, *extra: str, at: str = NOW) -> int:
    made = cli(
        "--now",
        at,
        "dispute",
        "new",
        "--unit",
        "3301010101",
        "--risk",
        "high",
        "--category",
        "邻里纠纷",
        "--title",
        "宅基地边界",
        "--by",
        "wang",
        *extra,
    )
    assert made.code == 0, made.err
    return int(made.out)


def test_a_newcomer_records_a_dispute_through_to_closed_and_reads_it_as_json(cli: Cli) -> None:
    assert cli("init").out.startswith("database ready")
    loaded = cli("org", "load", str(EXAMPLE_ORG))
    assert loaded.out == (
        "units: 7 added, 0 updated, 0 unchanged; people: 5 added, 0 updated, 0 unchanged\n"
    )
    county = cli
    dispute = _new(county)
    steps = [
        ("2026-11-02T10:00+08:00", "assign", '{"person": "wang"}', "li"),
        ("2026-11-02T16:00+08:00", "check", None, "wang"),
        ("2026-11-03T10:00+08:00", "mediate", '{"method": "people"}', "wang"),
        (
            "2026-11-03T15:00+08:00",
            "resolve",
            '{"method": "people", "agreement": "written"}',
            "wang",
        ),
        ("2026-11-12T10:00+08:00", "visit", '{"outcome": "stable"}', "wang"),
    ]
    for at, kind, data, by in steps:
        args = ["--now", at, "dispute", "event", str(dispute), kind, "--by", by]
        done = county(*args, *(["--data", data] if data else []))
        assert done.code == 0, done.err
    shown = county("--now", "2026-11-12T11:00+08:00", "dispute", "show", str(dispute), "--json")
    view = json.loads(shown.out)
    assert {
        k: view[k]
        for k in ("id", "status", "risk", "level", "unit", "assignee", "paused", "supervised")
    } == {
        "id": dispute,
        "status": "closed",
        "risk": "high",
        "level": "village",
        "unit": "33010101",
        "assignee": "wang",
        "paused": False,
        "supervised": False,
    }
    assert view["obligations"] == [] and view["escalations"] == []
    assert [(e["seq"], e["kind"], e["by"]) for e in view["events"]] == [
        (1, "report", "wang"),
        (2, "assign", "li"),
        (3, "check", "wang"),
        (4, "mediate", "wang"),
        (5, "resolve", "wang"),
        (6, "visit", "wang"),
    ]
    assert view["events"][3]["at"] == "2026-11-03T10:00:00+08:00"


def test_show_lists_obligations_with_due_times_and_whether_they_are_overdue(county: Cli) -> None:
    dispute = _new(county)
    view = json.loads(
        county("--now", "2026-11-04T08:00+08:00", "dispute", "show", str(dispute), "--json").out
    )
    owed = {o["kind"]: (o["due_at"], o["overdue"]) for o in view["obligations"]}
    assert owed["daily_check"] == ("2026-11-04T00:00:00+08:00", True)
    assert owed["weekly_assessment"] == ("2026-11-10T00:00:00+08:00", False)


def test_options_and_environment_variables_work_before_or_after_the_command(
    cli: Cli, tmp_path: Path
) -> None:
    db = f"sqlite:///{tmp_path / 'other.db'}"
    assert cli("init", "--db", db).code == 0
    assert cli("org", "load", str(EXAMPLE_ORG), env={"FENGQIAO_DB": db}).code == 0
    made = cli(
        "dispute",
        "new",
        "--unit",
        "33010102",
        "--risk",
        "low",
        "--category",
        "other",
        "--title",
        "t",
        "--json",
        env={"FENGQIAO_DB": db, "FENGQIAO_NOW": NOW},
    )
    assert json.loads(made.out)["reported_at"] == NOW
    assert not (tmp_path / "fengqiao.db").exists()


def test_a_dotenv_file_supplies_settings(cli: Cli, tmp_path: Path) -> None:
    (tmp_path / ".env").write_text(f"FENGQIAO_DB=sqlite:///{tmp_path / 'dotenv.db'}\n")
    assert cli("init").code == 0
    assert (tmp_path / "dotenv.db").exists()


BAD_INPUT = [
    (
        [
            "dispute",
            "new",
            "--unit",
            "999",
            "--risk",
            "high",
            "--category",
            "other",
            "--title",
            "t",
        ],
        "unknown unit '999'",
    ),
    (
        [
            "dispute",
            "new",
            "--unit",
            "330101",
            "--risk",
            "high",
            "--category",
            "other",
            "--title",
            "t",
        ],
        "disputes are reported at a village or a grid",
    ),
    (
        [
            "dispute",
            "new",
            "--unit",
            "33010101",
            "--risk",
            "high",
            "--category",
            "other",
            "--title",
            "t",
            "--by",
            "nobody",
        ],
        "unknown person 'nobody'",
    ),
    (
        [
            "dispute",
            "new",
            "--unit",
            "33010101",
            "--risk",
            "severe",
            "--category",
            "other",
            "--title",
            "t",
        ],
        "invalid choice: 'severe'",
    ),
    (["dispute", "event", "99", "check"], "unknown dispute 99"),
    (["dispute", "event", "{id}", "chek"], "unknown event kind 'chek'"),
    (["dispute", "event", "{id}", "assess", "--data", '{"risk": "extreme"}'], "assess data: risk"),
    (
        ["dispute", "event", "{id}", "resolve", "--data", '{"method": "people"}'],
        "resolve data: agreement: Field required",
    ),
    (["dispute", "event", "{id}", "check", "--data", '{"colour": 1}'], "colour: unknown field"),
    (["dispute", "event", "{id}", "check", "--data", "{not json"], "--data is not valid JSON"),
    (
        ["dispute", "event", "{id}", "visit", "--data", '{"outcome": "stable"}'],
        "cannot visit a reported dispute",
    ),
    (
        ["dispute", "event", "{id}", "assign", "--data", '{"person": "ghost"}'],
        "unknown person 'ghost'",
    ),
    (["dispute", "event", "{id}", "check", "--at", "yesterday"], "is not an ISO 8601 time"),
    (["dispute", "event", "{id}", "check", "--at", "2027-01-01T00:00+08:00"], "in the future"),
    (["dispute", "event", "{id}", "handback"], "already at village level"),
    (["dispute", "event", "{id}", "report"], "reported once"),
    (
        ["--now", "soon", "dispute", "show", "{id}"],
        "setting now (--now or FENGQIAO_NOW): time 'soon'",
    ),
    (["--now", "9999-12-31T12:00+08:00", "dispute", "show", "{id}"], "outside the years 2000-2100"),
    (["dispute", "show", "99999999999999999999"], "is not a dispute id"),
    (
        [
            "dispute",
            "new",
            "--unit",
            "33010101",
            "--risk",
            "low",
            "--category",
            "c" * 65,
            "--title",
            "t",
        ],
        "category is 65 characters long; at most 64",
    ),
    (
        [
            "dispute",
            "new",
            "--unit",
            "33010101",
            "--risk",
            "low",
            "--category",
            "other",
            "--title",
            "t",
            "--people",
            "99999999999",
        ],
        "people involved must be between 1 and 1000000",
    ),
    (
        [
            "dispute",
            "event",
            "{id}",
            "supervise",
            "--data",
            '{"deadline": "9999-12-31T23:00-08:00"}',
        ],
        "deadline must fall in the years 2000-2100",
    ),
    (["--db", "postgresql://h:abc/x", "dispute", "show", "{id}"], "setting db"),
    (["--db", "mysql://x", "dispute", "show", "{id}"], "setting db"),
    (["--rules", "missing.yaml", "dispute", "event", "{id}", "check"], "missing.yaml: cannot read"),
]


@pytest.mark.parametrize(("args", "message"), BAD_INPUT, ids=[m for _, m in BAD_INPUT])
def test_bad_input_gets_one_line_exit_2_and_changes_nothing(
    county: Cli, tmp_path: Path, args: list[str], message: str
) -> None:
    dispute = _new(county)
    before = dump(_engine(tmp_path))
    done = county(
        *[a.replace("{id}", str(dispute)) for a in args],
        env={"FENGQIAO_NOW": "2026-11-02T12:00+08:00"},
    )
    assert done.code == 2
    assert message in done.err
    assert len(done.err.strip().splitlines()) == 1, done.err
    assert dump(_engine(tmp_path)) == before


ORG_ERRORS = [
    (
        'units:\n  - {code: "1", name: a, level: county}\n  - {code: "1", name: b, level: county}\n',
        "org.yaml:3: duplicate unit code '1' (first at line 2)",
    ),
    (
        'units:\n  - {code: "2", name: t, level: township, parent: "9"}\n',
        "org.yaml:2: unit '2': missing parent '9'",
    ),
    (
        'units:\n  - {code: "1", name: c, level: county}\n'
        '  - {code: "2", name: t, level: township, parent: "1"}\n'
        '  - {code: "3", name: g, level: grid, parent: "2"}\n',
        "org.yaml:4: unit '3': a grid must be directly under a village, not under township '2'",
    ),
    (
        'units:\n  - {code: "2", name: t, level: township, parent: "3"}\n'
        '  - {code: "3", name: v, level: village, parent: "2"}\n',
        "org.yaml:2: unit '2': parents form a cycle: 2 -> 3 -> 2",
    ),
    (
        'units:\n  - {code: "1", name: c, level: county, colour: red}\n',
        "org.yaml:2: units[0].colour: unknown field",
    ),
    (
        'people:\n  - {id: x, name: X, role: mediator, unit: "404"}\n',
        "org.yaml:2: person 'x': unknown unit '404'",
    ),
    ('people:\n  - {id: x, name: X, role: boss, unit: "330100"}\n', "org.yaml:2: people[0].role"),
    ("units: [\n", "org.yaml:2:1: not valid YAML"),
    (
        'units:\n  - {code: "33010101", name: X, level: township, parent: "330100"}\n',
        "org.yaml:2: unit '33010101': is a village; changing a unit's level is not supported",
    ),
    ("units: []\n---\npeople: []\n", "org.yaml:2:1: more than one YAML document"),
    ("units:\n  - {code: 1, name: c, level: county}\n", "org.yaml:2: units[0].code"),
    ("units:\n  - *nowhere\n", "org.yaml:2:5: unknown alias nowhere"),
    ("units:\n  - " + "[" * 60 + "]" * 60 + "\n", "nested too deeply"),
    ("- a list\n", "org.yaml: : Input should be a valid dictionary"),
]


@pytest.mark.parametrize(("text", "message"), ORG_ERRORS, ids=[m for _, m in ORG_ERRORS])
def test_a_bad_org_file_is_refused_with_its_line_and_changes_nothing(
    county: Cli, tmp_path: Path, text: str, message: str
) -> None:
    (tmp_path / "org.yaml").write_text(text, encoding="utf-8")
    before = dump(_engine(tmp_path))
    done = county("org", "load", "org.yaml")
    assert done.code == 2
    assert message in done.err
    assert len(done.err.strip().splitlines()) == 1, done.err
    assert dump(_engine(tmp_path)) == before


def test_loading_the_same_org_file_again_changes_nothing_and_says_so(county: Cli) -> None:
    again = county("org", "load", str(EXAMPLE_ORG))
    assert again.out == (
        "units: 0 added, 0 updated, 7 unchanged; people: 0 added, 0 updated, 5 unchanged\n"
    )


def test_an_org_file_may_share_contacts_through_an_anchor(county: Cli, tmp_path: Path) -> None:
    (tmp_path / "org.yaml").write_text(
        "people:\n"
        '  - {id: a1, name: A, role: mediator, unit: "33010101", '
        "contacts: &office {email: office@example.org}}\n"
        '  - {id: a2, name: B, role: mediator, unit: "33010101", contacts: *office}\n',
        encoding="utf-8",
    )
    done = county("org", "load", "org.yaml")
    assert done.code == 0, done.err
    assert "people: 2 added" in done.out


def test_a_command_on_an_uninitialised_database_says_to_run_init(cli: Cli) -> None:
    done = cli("dispute", "show", "1")
    assert done.code == 2 and "run `fengqiao init`" in done.err


def test_events_import_records_a_whole_file(county: Cli, tmp_path: Path) -> None:
    first, second = _new(county), _new(county)
    lines = [
        {
            "dispute": first,
            "kind": "assign",
            "at": "2026-11-02T10:00+08:00",
            "by": "li",
            "data": {"person": "wang"},
        },
        {"dispute": second, "kind": "check", "at": "2026-11-02T11:00+08:00", "by": "wang"},
        {"dispute": second, "kind": "note", "data": {"text": "line\u2028separator"}},
        {
            "dispute": first,
            "kind": "resolve",
            "at": "2026-11-02T11:30+08:00",
            "data": {"method": "people", "agreement": "oral"},
        },
    ]
    (tmp_path / "events.jsonl").write_text(
        "\n".join(json.dumps(x, ensure_ascii=False) for x in lines) + "\n"
    )
    done = county("--now", "2026-11-02T12:00+08:00", "events", "import", "events.jsonl")
    assert done.code == 0, done.err
    assert done.out.startswith("4 events recorded on 2 disputes")
    view = json.loads(
        county("--now", "2026-11-02T12:00+08:00", "dispute", "show", str(first), "--json").out
    )
    assert view["status"] == "resolved" and view["assignee"] == "wang"


def test_events_import_is_all_or_nothing_and_names_every_bad_line(
    county: Cli, tmp_path: Path
) -> None:
    dispute = _new(county)
    (tmp_path / "events.jsonl").write_text(
        "\n".join(
            [
                json.dumps({"dispute": dispute, "kind": "check", "at": "2026-11-02T10:00+08:00"}),
                "{oops",
                json.dumps({"dispute": dispute, "kind": "visit", "data": {"outcome": "stable"}}),
                json.dumps({"dispute": 404, "kind": "check"}),
                json.dumps({"dispute": dispute, "kind": "check", "colour": "red"}),
                json.dumps({"dispute": True, "kind": "check"}),
            ]
        )
        + "\n"
    )
    before = dump(_engine(tmp_path))
    done = county("--now", "2026-11-02T12:00+08:00", "events", "import", "events.jsonl")
    assert done.code == 2
    errors = done.err.strip().splitlines()
    assert [e.split(":")[1] for e in errors] == ["2", "3", "4", "5", "6"]
    assert "cannot visit a reported dispute" in errors[1]
    assert "unknown dispute 404" in errors[2]
    assert dump(_engine(tmp_path)) == before


def test_logs_are_json_lines_naming_the_dispute_and_never_the_parties(county: Cli) -> None:
    env = {"FENGQIAO_LOG_LEVEL": "info", "FENGQIAO_NOW": NOW}
    parties = '[{"name": "张三", "phone": "13800138000", "id_number": "330100199001011231"}]'
    made = county(
        "dispute",
        "new",
        "--unit",
        "33010101",
        "--risk",
        "high",
        "--category",
        "other",
        "--title",
        "t",
        "--parties",
        parties,
        env=env,
    )
    dispute = made.out.strip()
    checked = county("dispute", "event", dispute, "check", env=env)
    refused = county("dispute", "event", dispute, "close", env=env)
    records = [
        json.loads(line)
        for r in (made, checked, refused)
        for line in r.err.splitlines()
        if line.startswith("{")
    ]
    events = {r["event"]: r for r in records}
    assert events["dispute_reported"]["dispute_id"] == int(dispute)
    assert events["event_recorded"]["kind"] == "check"
    assert events["command_refused"]["dispute_id"] == int(dispute)
    everything = made.err + checked.err + refused.err
    for secret in ("张三", "13800138000", "330100199001011231"):
        assert secret not in everything


def test_rules_check_says_ok_for_the_shipped_rules(cli: Cli) -> None:
    done = cli("--now", "2026-06-01T00:00+08:00", "rules", "check")
    assert (done.code, done.out, done.err) == (0, "ok\n", "")


def test_rules_check_warns_when_the_calendar_does_not_cover_the_next_90_days(cli: Cli) -> None:
    done = cli("--now", NOW, "rules", "check")
    assert done.code == 0 and done.out == "ok\n"
    assert "does not cover 2027-01-01" in done.err


def test_rules_check_lists_every_problem_with_its_line(cli: Cli, tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_text(
        "obligations:\n"
        "  daily_check:\n"
        "    label: x\n"
        "    applies_to: {status: open, risks: [hihg]}\n"
        "    fulfilled_by: check\n"
        "    due: 0d\n"
    )
    done = cli("rules", "check", "bad.yaml")
    assert done.code == 2 and done.out == ""
    lines = done.err.strip().splitlines()
    assert lines[0].startswith("bad.yaml:4:") and "hihg" in lines[0]
    assert lines[1].startswith("bad.yaml:6:") and "positive" in lines[1]


def test_an_administrator_changes_a_threshold_and_sees_the_new_due_time(
    county: Cli, tmp_path: Path
) -> None:
    dispute = _new(county)
    default = Path(__file__).resolve().parents[2] / "rules" / "default.yaml"
    text = default.read_text(encoding="utf-8")
    changed = text.replace(
        "after: [report, assess]\n    due: 7d", "after: [report, assess]\n    due: 3d"
    )
    assert changed != text
    (tmp_path / "mine.yaml").write_text(changed, encoding="utf-8")
    assert county("--now", "2026-06-01T00:00+08:00", "rules", "check", "mine.yaml").out == "ok\n"
    before = json.loads(county("--now", NOW, "rules", "explain", str(dispute), "--json").out)
    after = json.loads(
        county("--now", NOW, "--rules", "mine.yaml", "rules", "explain", str(dispute), "--json").out
    )
    due = {o["kind"]: o["due_at"] for o in before["obligations"]}
    due_after = {o["kind"]: o["due_at"] for o in after["obligations"]}
    assert due["weekly_assessment"] == "2026-11-10T00:00:00+08:00"
    assert due_after["weekly_assessment"] == "2026-11-06T00:00:00+08:00"
    assert before["next"]["rule"] == "village-high-missed-check"
    assert before["next"]["effective_at"] == "2026-11-04T00:00:00+08:00"


def test_rules_apply_shows_the_change_puts_it_in_force_and_keeps_who_and_why(
    county: Cli, tmp_path: Path
) -> None:
    dispute = _new(county)
    default = Path(__file__).resolve().parents[2] / "rules" / "default.yaml"
    text = default.read_text(encoding="utf-8").replace("due: 7d", "due: 3d")
    (tmp_path / "mine.yaml").write_text(text, encoding="utf-8")
    mine = ("--now", NOW, "--rules", "mine.yaml")
    no_reason = county(*mine, "rules", "apply", "--by", "admin")
    assert no_reason.code == 2 and "--reason" in no_reason.err
    dry = county(*mine, "rules", "apply", "--by", "admin", "--reason", "试行", "--dry-run")
    assert dry.code == 0, dry.err
    assert "obligations.weekly_assessment.due: 7d -> 3d" in dry.out
    assert "1 live disputes compared, 1 would change" in dry.out
    assert "would recompute 1 live disputes" in dry.out
    assert "no rules have been put in force yet" in county("rules", "history").out
    shown = json.loads(county("--now", NOW, "dispute", "show", str(dispute), "--json").out)
    assert {o["kind"]: o["due_at"] for o in shown["obligations"]}["weekly_assessment"] == (
        "2026-11-10T00:00:00+08:00"
    )
    done = county(*mine, "rules", "apply", "--by", "admin", "--reason", "周研判改为三日")
    assert done.code == 0, done.err
    # Without --rules, commands now run under the rules in force, read from the database.
    shown = json.loads(county("--now", NOW, "dispute", "show", str(dispute), "--json").out)
    assert {o["kind"]: o["due_at"] for o in shown["obligations"]}["weekly_assessment"] == (
        "2026-11-06T00:00:00+08:00"
    )
    assert county("--now", NOW, "dispute", "event", str(dispute), "check").code == 0
    history = json.loads(county("rules", "history", "--json").out)
    assert [(h["by"], h["reason"], h["to_version"]) for h in history] == [
        ("admin", "周研判改为三日", history[0]["to_version"])
    ]
    assert history[0]["from_version"] is None
    human = county("rules", "history").out
    assert "admin" in human and "why: 周研判改为三日" in human
    again = county(*mine, "rules", "apply", "--by", "admin", "--reason", "again")
    assert again.code == 0 and "already in force: nothing to do" in again.out
    assert len(json.loads(county("rules", "history", "--json").out)) == 1


def test_a_write_with_a_rule_file_not_in_force_is_refused_and_reads_may_use_any(
    county: Cli, tmp_path: Path
) -> None:
    dispute = _new(county)
    default = Path(__file__).resolve().parents[2] / "rules" / "default.yaml"
    text = default.read_text(encoding="utf-8")
    (tmp_path / "mine.yaml").write_text(text.replace("due: 7d", "due: 3d"), encoding="utf-8")
    applied = county(
        "--now", NOW, "--rules", "mine.yaml", "rules", "apply", "--by", "admin", "--reason", "三日"
    )
    assert applied.code == 0, applied.err
    before = county("--now", NOW, "dispute", "show", str(dispute), "--json").out
    shipped = ("--now", NOW, "--rules", str(default))
    refused = county(*shipped, "dispute", "event", str(dispute), "check")
    assert refused.code == 2 and refused.out == ""
    assert "are not the rules in force" in refused.err and len(refused.err.splitlines()) == 1
    assert county(*shipped, "sweep").code == 2
    assert county("--now", NOW, "dispute", "show", str(dispute), "--json").out == before
    # Reading under another file is fine: explain and diff.
    assert county(*shipped, "rules", "explain", str(dispute)).code == 0
    diff = county("--now", NOW, "rules", "diff", str(default))
    assert diff.code == 0 and "obligations.weekly_assessment.due: 3d -> 7d" in diff.out


def test_rules_diff_lists_the_disputes_a_change_moves_and_none_for_the_same_rules(
    county: Cli, tmp_path: Path
) -> None:
    dispute = _new(county, "--unit", "33010102", "--risk", "low")
    default = Path(__file__).resolve().parents[2] / "rules" / "default.yaml"
    same = county("--now", NOW, "rules", "diff", str(default))
    assert same.code == 0, same.err
    assert (
        "rule changes: none" in same.out and "1 live disputes compared, 0 would change" in same.out
    )
    text = default.read_text(encoding="utf-8").replace(
        "risk: low,\n     when: unresolved, after: 30d}",
        "risk: low,\n     when: unresolved, after: 10d}",
    )
    (tmp_path / "mine.yaml").write_text(text, encoding="utf-8")
    later = "2026-11-20T09:00+08:00"
    shown = json.loads(county("--now", later, "rules", "diff", "mine.yaml", "--json").out)
    assert shown["rules"] == [
        {"key": "escalations[village-low-unresolved].after", "old": "30d", "new": "10d"}
    ]
    [moved] = shown["disputes"]
    assert moved["id"] == dispute and moved["risk"] == "low"
    assert [(d["to_level"], d["effective_at"]) for d in moved["due_now"]] == [
        ("township", "2026-11-13T00:00:00+08:00")
    ]
    assert shown["counts"]["changed"] == 1 and shown["counts"]["by_unit"] == {"33010102": 1}
    human = county("--now", later, "rules", "diff", "mine.yaml").out
    assert f"dispute {dispute} (low risk, at village, 33010102):" in human
    assert "would record now: escalates village -> township at 2026-11-13T00:00:00+08:00" in human


def test_the_demo_runs_and_prints_the_same_twice(cli: Cli) -> None:
    first, second = cli("demo"), cli("demo")
    assert first.code == 0, first.err
    assert first.out == second.out
    assert "化解率" in first.out and "escalations: to township" in first.out
    assert "without the Prefect engine" in first.out
    assert "The demo webhook received" in first.out and "的日排查已于" in first.out
    # a warning logged meanwhile (2027 not in the calendar) is said once as a sentence, not
    # printed as a JSON log line into the progress bar
    assert "{" not in first.err, first.err
    assert "Note: the official working-day calendar does not cover 2027" in first.out


def test_an_administrator_shortens_an_escalation_threshold_and_explain_shows_the_new_time(
    county: Cli, tmp_path: Path
) -> None:
    made = county(
        "--now",
        NOW,
        "dispute",
        "new",
        "--unit",
        "33010102",
        "--risk",
        "low",
        "--category",
        "物业纠纷",
        "--title",
        "停车位",
    )
    dispute = made.out.strip()
    default = Path(__file__).resolve().parents[2] / "rules" / "default.yaml"
    text = default.read_text(encoding="utf-8")
    changed = text.replace(
        "risk: low,\n     when: unresolved, after: 30d}",
        "risk: low,\n     when: unresolved, after: 10d}",
    )
    assert changed != text
    (tmp_path / "mine.yaml").write_text(changed, encoding="utf-8")
    assert county("--now", "2026-06-01T00:00+08:00", "rules", "check", "mine.yaml").out == "ok\n"
    before = json.loads(county("--now", NOW, "rules", "explain", dispute, "--json").out)["next"]
    after = json.loads(
        county("--now", NOW, "--rules", "mine.yaml", "rules", "explain", dispute, "--json").out
    )["next"]
    assert (before["rule"], before["effective_at"]) == (
        "village-low-unresolved",
        "2026-12-03T00:00:00+08:00",
    )
    assert (after["rule"], after["effective_at"]) == (
        "village-low-unresolved",
        "2026-11-13T00:00:00+08:00",
    )
    human = county("--now", NOW, "--rules", "mine.yaml", "rules", "explain", dispute).out
    assert "if nothing is done: escalates village -> township at 2026-11-13T00:00:00+08:00" in human


def test_passwords_and_tokens_are_given_from_the_command_line_and_never_echoed(
    county: Cli, tmp_path: Path
) -> None:
    secret = "上林村-密码-2026"
    done = county("user", "password", "wang", stdin=secret + "\n")
    assert (done.code, done.out) == (0, "password of wang set\n")
    token = county("user", "token", "li")
    assert token.code == 0 and token.out.startswith("fq_") and len(token.out.split()) == 1
    everything = str(dump(_engine(tmp_path)))
    assert secret not in everything and token.out.strip() not in everything
    assert secret not in done.out + done.err
    assert county("user", "token", "li", "--revoke").out == "1 tokens of li revoked\n"
    assert county("user", "password", "wang", "--disable").out == "account of wang disabled\n"


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (["user", "password", "ghost"], "long-enough-1\n", "unknown person 'ghost'"),
        (["user", "password", "wang"], "short\n", "a password has 8 to 1024 characters"),
        (["user", "password", "wang"], "", "no password on standard input"),
        (["user", "token", "ghost"], None, "unknown person 'ghost'"),
    ],
)
def test_a_bad_account_change_gets_one_line_exit_2_and_changes_nothing(
    county: Cli, tmp_path: Path, args: list[str], stdin: str | None, message: str
) -> None:
    before = dump(_engine(tmp_path))
    done = county(*args, stdin=stdin)
    assert done.code == 2 and message in done.err and len(done.err.strip().splitlines()) == 1
    assert dump(_engine(tmp_path)) == before


def test_a_village_merger_is_loaded_said_and_listed_in_the_org_history(
    county: Cli, tmp_path: Path
) -> None:
    dispute = _new(county)
    merged = EXAMPLE_ORG.read_text(encoding="utf-8").replace(
        '{code: "33010101", name: 上林村, level: village, parent: "330101"}',
        '{code: "33010101", name: 上林村, level: village, parent: "330101", merged_into: "33010102"}',
    )
    assert "merged_into" in merged
    (tmp_path / "merged.yaml").write_text(
        merged.replace('unit: "33010101"', 'unit: "33010102"').replace(
            'parent: "33010101"',
            'parent: "33010102"',  # its grids, under the one it joins
        ),
        encoding="utf-8",
    )
    later = "2026-11-02T15:00+08:00"
    done = county("--now", later, "org", "load", "merged.yaml", "--by", "admin")
    assert done.code == 0, done.err
    assert "changes: 1 unit merged; 1 live disputes moved with their unit" in done.out
    shown = json.loads(county("--now", later, "dispute", "show", str(dispute), "--json").out)
    assert shown["unit"] == "33010102" and shown["events"][-1]["kind"] == "reorganise"
    (change,) = json.loads(county("org", "history", "--json").out)
    assert (change["kind"], change["subject"], change["actor"], change["disputes"]) == (
        "unit_merged",
        "33010101",
        "admin",
        1,
    )
    assert change["at"] == "2026-11-02T15:00:00+08:00"
    refused = county("--now", later, "dispute", "event", str(dispute), "reorganise")
    assert refused.code == 2 and "recorded by `fengqiao org load`" in refused.err


def _lines(*lines: object) -> str:
    return (
        "\n".join(x if isinstance(x, str) else json.dumps(x, ensure_ascii=False) for x in lines)
        + "\n"
    )


def test_events_import_again_records_each_line_once(county: Cli, tmp_path: Path) -> None:
    dispute = _new(county)
    first = _lines(
        {"dispute": dispute, "kind": "check", "at": "2026-11-02T10:00+08:00", "by": "wang"},
        {"dispute": dispute, "kind": "note", "data": {"text": "电话联系"}, "key": "ledger-7"},
    )
    (tmp_path / "events.jsonl").write_text(first, encoding="utf-8")
    now = ("--now", "2026-11-02T12:00+08:00")
    assert county(*now, "events", "import", "events.jsonl").out.startswith("2 events recorded")
    # Retried, then with a line added: only the new line is recorded.
    again = county(*now, "events", "import", "events.jsonl")
    assert again.code == 0 and again.out.startswith("0 events recorded on 0 disputes")
    assert "2 lines recorded before, not again" in again.out
    added = first + _lines(
        {"dispute": dispute, "kind": "check", "at": "2026-11-02T11:00+08:00", "by": "wang"}
    )
    (tmp_path / "events.jsonl").write_text(added, encoding="utf-8")
    done = county(*now, "events", "import", "events.jsonl")
    assert (
        done.out.startswith("1 events recorded on 1 disputes")
        and "2 lines recorded before" in done.out
    )
    shown = json.loads(county(*now, "dispute", "show", str(dispute), "--json").out)
    assert [e["kind"] for e in shown["events"]] == ["report", "check", "note", "check"]


@pytest.mark.parametrize("encoding", ["utf-8-sig", "gbk"])
def test_events_import_reads_a_file_with_a_bom_or_in_gbk(
    county: Cli, tmp_path: Path, encoding: str
) -> None:
    dispute = _new(county)
    line = _lines({"dispute": dispute, "kind": "note", "data": {"text": "双方同意再协商"}})
    (tmp_path / "events.jsonl").write_bytes(line.encode(encoding))
    done = county("--now", "2026-11-02T12:00+08:00", "events", "import", "events.jsonl")
    assert done.code == 0, done.err


def test_events_import_refuses_what_it_cannot_take_in_one_line_each_without_echoing_it(
    county: Cli, tmp_path: Path
) -> None:
    dispute = _new(county)
    huge = "x" * 1_000_000
    (tmp_path / "events.jsonl").write_text(
        _lines(
            f'{{"dispute": {dispute}, "kind": "check", "kind": "visit"}}',
            {"dispute": dispute, "kind": "note", "data": {"text": huge[:20_000]}},
            "[" * 30 + "]" * 30,
            ["not", "an", "object"],
            {"dispute": dispute, "kind": huge[:5_000]},
            {"dispute": dispute, "kind": "note", "data": {"text": "a"}, "key": "k1"},
            {"dispute": dispute, "kind": "note", "data": {"text": "b"}, "key": "k1"},
            f'{{"dispute": {dispute}, "kind": "note", "data": {{"text": "{huge}"}}}}',
        ),
        encoding="utf-8",
    )
    before = dump(_engine(tmp_path))
    done = county("--now", "2026-11-02T12:00+08:00", "events", "import", "events.jsonl")
    assert done.code == 2
    errors = done.err.strip().splitlines()
    assert [e.split(":")[1] for e in errors] == ["1", "2", "3", "4", "5", "7", "8"]
    assert errors[0].endswith("duplicate key 'kind'")
    assert errors[1].endswith("data.text: text of 20,000 characters; at most 10,000")
    assert errors[2].endswith("line is nested 30 deep; at most 16")
    assert "a line is a JSON object" in errors[3]
    assert "kind: String should have at most 32 characters" in errors[4]
    assert errors[5].endswith("the key of line 6 again")
    assert "at most 65,536" in errors[6]
    assert all(len(e) < 200 for e in errors) and "_Line" not in done.err
    assert dump(_engine(tmp_path)) == before


def test_a_data_value_nested_too_deeply_is_refused_in_one_line(county: Cli) -> None:
    dispute = _new(county)
    deep = "[" * 20_000 + "]" * 20_000  # a RecursionError in the json module
    done = county(
        "--now", "2026-11-02T12:00+08:00", "dispute", "event", str(dispute), "note", "--data", deep
    )
    assert done.code == 2 and done.err.strip().endswith("--data is nested 20000 deep; at most 16")
    duplicate = '{"text": "a", "text": "b"}'
    done = county(
        "--now",
        "2026-11-02T12:00+08:00",
        "dispute",
        "event",
        str(dispute),
        "note",
        "--data",
        duplicate,
    )
    assert done.code == 2 and done.err.strip().endswith("--data: duplicate key 'text'")


def test_an_office_ledger_is_brought_in_given_out_and_its_parties_found_sealed(
    county: Cli, tmp_path: Path
) -> None:
    from tests.support.ledgers import ROWS, office_workbook

    bad = [list(row) for row in ROWS]
    bad[1][7] = "很高"
    office_workbook(tmp_path / "台账.xlsx", bad)
    at = ("--now", "2026-05-11T09:00+08:00")
    refused = county(*at, "ledger", "import", "台账.xlsx", "--by", "li")
    assert (refused.code, refused.err) == (
        2,
        "台账.xlsx:台账!H6: not a risk; give 高/中/低 or 红/橙/黄\n",
    )
    office_workbook(tmp_path / "台账.xlsx")
    tried = county(*at, "ledger", "import", "台账.xlsx", "--by", "li", "--dry-run")
    assert tried.code == 0 and tried.out.endswith("; nothing recorded (--dry-run)\n")
    done = county(*at, "ledger", "import", "台账.xlsx", "--by", "li")
    assert done.code == 0 and "brought in 4 disputes" in done.out, done.err
    again = county(*at, "ledger", "import", "台账.xlsx", "--by", "li")
    assert "4 rows brought in before, not again" in again.out
    given = county(
        *at, "ledger", "export", "--unit", "330101", "--out", "out.xlsx", "--by", "admin"
    )
    assert given.out == "out.xlsx: 4 disputes of 330101; parties masked\n"
    found = county(*at, "dispute", "find", "--phone", "138-0013-8000", "--json")
    assert [d["id"] for d in json.loads(found.out)] == [1]
    assert b"13800138000" not in (tmp_path / "fengqiao.db").read_bytes()
    key = tmp_path / "fengqiao.db.key"
    assert key.exists()  # made beside the database the first time a party was sealed
    rotated = county(*at, "keys", "rotate")
    assert rotated.code == 0 and "the parties of 4 disputes sealed with it" in rotated.out
    pruned = county(*at, "keys", "rotate", "--prune")
    assert pruned.code == 0 and "dropped 1 old key" in pruned.out
    shown = county(*at, "dispute", "show", "1", "--json")
    assert json.loads(shown.out)["parties"][0]["phone"] == "13800138000"
    key.write_text(key.read_text().replace(key.read_text()[-20:-10], "A" * 10))
    broken = county(*at, "dispute", "show", "1", "--json")
    assert broken.code == 2 and broken.err.startswith("fengqiao: ")
