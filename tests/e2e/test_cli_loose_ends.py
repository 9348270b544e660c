"""Loose ends a newcomer found on the command line (issue 16): acknowledging tasks, piping
into ``head``, settings errors, the help of ``dispute event``, table headers."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from models.events import EventData
from tests.support.cli import FENGQIAO, Cli
from tests.support.db import dump_file
from workflows.recording import RECORDABLE

NOW = "2026-11-02T09:00:00+08:00"
LATER = "2026-11-02T10:00:00+08:00"


def _assigned(county: Cli) -> int:
    """A high-risk dispute at 上林村's first grid, assigned to wang by li: it owes wang's
    acknowledgement (签收), his daily check and weekly assessment, the township's review."""
    made = county(
        "--now",
        NOW,
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
    )
    assert made.code == 0, made.err
    dispute = int(made.out)
    done = county(
        "--now", NOW, "dispute", "event", str(dispute), "assign", "--by", "li", "--data",
        '{"person": "wang"}',
    )  # fmt: skip
    assert done.code == 0, done.err
    return dispute


def _task(county: Cli, kind: str, target: str) -> int:
    rows = json.loads(county("--now", LATER, "tasks", "--all", "--json").out)
    (found,) = [r["id"] for r in rows if r["kind"] == kind and r["target"] == target]
    return int(found)


def _refused(county: Cli, tmp_path: Path, *args: str) -> str:
    """Run a command that must be refused: exit 2, one line, nothing changed; its line."""
    before = dump_file(tmp_path)
    done = county("--now", LATER, *args)
    assert done.code == 2, (done.out, done.err)
    assert len(done.err.strip().splitlines()) == 1, done.err
    assert dump_file(tmp_path) == before
    return done.err.strip()


def test_an_unknown_person_cannot_acknowledge_a_cadence_task(county: Cli, tmp_path: Path) -> None:
    _assigned(county)
    check = _task(county, "daily_check", "person:wang")
    line = _refused(county, tmp_path, "tasks", "ack", str(check), "--by", "nobody-at-all")
    assert "unknown person 'nobody-at-all'" in line


def test_a_person_cannot_mark_seen_a_task_that_is_another_units(
    county: Cli, tmp_path: Path
) -> None:
    _assigned(county)
    review = _task(county, "half_month_review", "unit:330101")
    line = _refused(county, tmp_path, "tasks", "ack", str(review), "--by", "wang")
    assert "wang" in line and "unit:330101" in line


def test_a_supervisor_of_the_unit_marks_its_cadence_task_seen(county: Cli) -> None:
    _assigned(county)
    review = _task(county, "half_month_review", "unit:330101")
    done = county("--now", LATER, "tasks", "ack", str(review), "--by", "li")
    assert done.code == 0, done.err
    assert done.out == f"task {review} (half_month_review, dispute 1): acknowledged\n"


def test_acknowledging_a_cadence_task_twice_says_so_and_changes_nothing(
    county: Cli, tmp_path: Path
) -> None:
    _assigned(county)
    check = _task(county, "daily_check", "person:wang")
    first = county("--now", LATER, "tasks", "ack", str(check), "--by", "wang")
    assert first.code == 0 and first.out.endswith(": acknowledged\n"), first
    before = dump_file(tmp_path)
    again = county("--now", LATER, "tasks", "ack", str(check), "--by", "wang")
    assert again.code == 0, again.err
    assert "already acknowledged" in again.out and "nothing changed" in again.out
    assert dump_file(tmp_path) == before


def test_acknowledging_an_assignment_twice_says_who_already_did_and_when(
    county: Cli, tmp_path: Path
) -> None:
    _assigned(county)
    owed = _task(county, "acknowledge", "person:wang")
    assert county("--now", LATER, "tasks", "ack", str(owed), "--by", "wang").code == 0
    before = dump_file(tmp_path)
    again = county("--now", "2026-11-02T10:30+08:00", "tasks", "ack", str(owed), "--by", "li")
    assert again.code == 0, again.err
    assert again.out == (
        f"task {owed} (acknowledge, dispute 1): already acknowledged by wang "
        "at 2026-11-02T10:00:00+08:00; nothing changed\n"
    )
    assert dump_file(tmp_path) == before


def test_tasks_ack_without_by_acknowledges_as_the_person_the_task_is_for(county: Cli) -> None:
    dispute = _assigned(county)
    owed = _task(county, "acknowledge", "person:wang")
    done = county("--now", LATER, "tasks", "ack", str(owed))
    assert done.code == 0, done.err
    assert done.out == f"task {owed} (acknowledge, dispute {dispute}): done\n"
    shown = json.loads(county("--now", LATER, "dispute", "show", str(dispute), "--json").out)
    last = shown["events"][-1]
    assert (last["kind"], last["by"]) == ("acknowledge", "wang")


def test_tasks_ack_without_by_on_a_units_task_says_who_may_acknowledge_it(
    county: Cli, tmp_path: Path
) -> None:
    _assigned(county)
    review = _task(county, "half_month_review", "unit:330101")
    line = _refused(county, tmp_path, "tasks", "ack", str(review))
    assert "--by" in line and "unit:330101" in line
    helped = county("tasks", "--help").out
    assert "default: the person the task is for" in " ".join(helped.split())


def test_tasks_ack_of_a_word_says_it_is_not_a_task_id(county: Cli) -> None:
    done = county("tasks", "ack", "abc")
    assert done.code == 2
    assert "'abc' is not a task id" in done.err and "dispute" not in done.err


def test_an_acknowledge_event_by_someone_the_task_is_not_for_is_refused(
    county: Cli, tmp_path: Path
) -> None:
    dispute = _assigned(county)
    line = _refused(
        county, tmp_path, "dispute", "event", str(dispute), "acknowledge", "--by", "zhao"
    )
    assert "zhao" in line and "person:wang" in line


def test_an_acknowledge_event_by_the_supervisor_above_closes_the_assignees_task(
    county: Cli,
) -> None:
    dispute = _assigned(county)
    done = county("--now", LATER, "dispute", "event", str(dispute), "acknowledge", "--by", "li")
    assert done.code == 0, done.err
    rows = json.loads(county("--now", LATER, "tasks", "--all", "--json").out)
    assert [r["state"] for r in rows if r["kind"] == "acknowledge"] == ["done"]


def test_an_acknowledge_event_with_nothing_owed_is_refused(county: Cli, tmp_path: Path) -> None:
    dispute = _assigned(county)
    first = county("--now", LATER, "dispute", "event", str(dispute), "acknowledge", "--by", "wang")
    assert first.code == 0, first.err
    line = _refused(
        county, tmp_path, "dispute", "event", str(dispute), "acknowledge", "--by", "wang"
    )
    assert f"nothing to acknowledge on dispute {dispute}" in line


@pytest.mark.parametrize(
    "args",
    [["escalations"], ["tasks", "--all"], ["tasks", "--all", "--json"], ["outbox"]],
    ids=" ".join,
)
def test_a_listing_piped_into_a_reader_that_stops_ends_quietly(
    county: Cli, tmp_path: Path, args: list[str]
) -> None:
    _assigned(county)
    county("--now", "2026-11-06T00:05+08:00", "sweep")
    read, write = os.pipe()
    os.close(read)  # like `| head -1` once it has its line: nobody reads what comes next
    try:
        done = subprocess.run(
            [str(FENGQIAO), "--now", "2026-11-06T00:05+08:00", *args],
            cwd=tmp_path,
            stdout=write,
            stderr=subprocess.PIPE,
            timeout=120,
        )
    finally:
        os.close(write)
    assert done.stderr.decode() == ""
    assert done.returncode == 141  # 128 + SIGPIPE: what a shell reports of `yes | head -1`


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("FENGQIAO_LOG_LEVEL", "verbose"),
        ("FENGQIAO_LOG_FORMAT", "pretty"),
        ("FENGQIAO_TIMEZONE", "Mars/Olympus"),
        ("FENGQIAO_HTTPS", "maybe"),
        ("FENGQIAO_BASE_URL", "ftp://example.org"),
    ],
)
def test_a_bad_environment_variable_is_named_as_the_variable_not_as_an_option(
    county: Cli, tmp_path: Path, variable: str, value: str
) -> None:
    done = county("--now", LATER, "tasks", env={variable: value})
    assert done.code == 2 and len(done.err.strip().splitlines()) == 1, done.err
    assert variable in done.err and "--" not in done.err


def test_a_bad_setting_in_the_env_file_says_it_is_in_the_env_file(
    county: Cli, tmp_path: Path
) -> None:
    (tmp_path / ".env").write_text("FENGQIAO_LOG_LEVEL=loud\n", encoding="utf-8")
    done = county("--now", LATER, "tasks")
    assert done.code == 2 and len(done.err.strip().splitlines()) == 1, done.err
    assert "FENGQIAO_LOG_LEVEL in .env" in done.err and "--" not in done.err


def test_dispute_event_help_lists_every_kind_with_its_data_fields(cli: Cli) -> None:
    helped = cli("dispute", "event", "--help")
    assert helped.code == 0
    lines = helped.out.splitlines()
    for kind in RECORDABLE:
        (line,) = [line for line in lines if line.split()[:1] == [str(kind)]]
        fields = [f for f in EventData.fields(kind) if f.name != "note" or kind == "note"]
        for field in fields:
            assert field.name in line, (kind, field.name, line)
            assert all(choice in line for choice in field.choices), (kind, field.name, line)
    assert "every kind also takes a note" in helped.out


@pytest.mark.parametrize(
    ("args", "header"),
    [
        (["escalations"], ["id", "risk", "status", "level", "unit", "escalated", "overdue"]),
        (["tasks", "--all"], ["id", "dispute", "kind", "target", "due", "state"]),
        (["outbox"], ["id", "state", "channel", "recipient", "attempts", "title"]),
    ],
    ids=["escalations", "tasks", "outbox"],
)
def test_a_listing_starts_with_a_header_naming_its_columns(
    county: Cli, args: list[str], header: list[str]
) -> None:
    _assigned(county)
    county("--now", "2026-11-06T00:05+08:00", "sweep")
    done = county("--now", "2026-11-06T00:05+08:00", *args)
    assert done.code == 0, done.err
    first, *rows = done.out.splitlines()
    assert first.split() == header and rows


def test_the_open_tasks_of_dispute_show_line_up_whatever_their_kind(county: Cli) -> None:
    dispute = _assigned(county)
    shown = county("--now", LATER, "dispute", "show", str(dispute)).out.splitlines()
    start = shown.index("  open tasks:") + 1
    tasks = shown[start : shown.index("  events:")]
    assert len(tasks) >= 4, "\n".join(tasks)  # 签收, check, assessment, review, …
    targets = {
        line.index("person:") if "person:" in line else line.index("unit:") for line in tasks
    }
    assert len(targets) == 1 and len({line.index(" due ") for line in tasks}) == 1, tasks
