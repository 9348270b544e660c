"""``fengqiao demo``: a county in a month of fast-forward, on the embedded SQLite default.

Modelled on seed 001's proportions (one grid worker per grid, a few hundred disputes a
month, nearly all resolved), scaled down to run in seconds. Every event goes through the
same workflow as ``fengqiao dispute event`` and every hour through the same sweep code as
``fengqiao sweep``; the flow functions are called directly, without the Prefect engine (a
flow run costs about a second). Seeded: two runs print the same.
"""

from __future__ import annotations

import json
import random
import sys
import tempfile
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import partial
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any

import structlog
import yaml
from sqlalchemy import case as sql_case
from sqlmodel import col, func, select

from fengqiao.render import dispute_lines
from models.sealing import Keyring
from models.tables import Dispute, Escalation, Obligation, Task
from models.values import ENGINE, OPERATOR, Actor, TaskState
from rules.reporting import period_before
from workflows.accounts import set_password
from workflows.db import make_engine, migrate, reading
from workflows.engine import sweep
from workflows.keys import key_file, save_keyring
from workflows.recording import NewDispute, NewEvent, record_event, report_dispute
from workflows.reorganising import load_org
from workflows.views import dispute_view, escalations_view

if TYPE_CHECKING:
    from fengqiao.context import Context

__all__ = ["noted_warnings", "run_demo"]

START = date(2026, 11, 2)  # a Monday
DAYS = 30
SEED = 20261102
TOWNSHIPS = ["东溪镇", "西岭镇", "南湖街道", "北山乡"]
VILLAGES_PER_TOWNSHIP = 8
GRIDS_PER_VILLAGE = 2
ARRIVALS_PER_DAY = 10
TITLES = {  # the categories, each with the titles its disputes get
    "邻里纠纷": ["宅基地边界", "排水沟堵塞", "房前屋后堆放杂物", "广场舞噪音"],
    "婚姻家庭": ["赡养老人费用分担", "离婚后子女探视", "家庭财产分割"],
    "土地承包": ["承包地界址不清", "土地流转租金拖欠", "灌溉用水分配"],
    "劳资纠纷": ["拖欠农民工工资", "工伤赔偿", "加班费结算"],
    "物业纠纷": ["物业费收缴", "小区停车位", "电梯维修费分摊"],
    "山林权属": ["山林界址争议", "林木采伐收益分配"],
    "损害赔偿": ["家禽毁坏庄稼", "房屋漏水殃及邻居", "交通事故赔偿"],
    "征地拆迁": ["征地补偿款分配", "拆迁安置面积"],
}
CATEGORIES = list(TITLES)
RISKS = ["low"] * 5 + ["medium"] * 3 + ["high"] * 2
MISSED_CHECK = 0.08  # a mediator skips a day's check
TELLS = 0.8  # a mediator tells the parties of 司法确认 on a given day after a written agreement
NEGLECTED = 0.05  # nobody follows the dispute up at all
WEB = "http://127.0.0.1:8000"  # where `fengqiao web` serves the demo: the messages link there
PASSWORD = "fengqiao-demo"  # of the demo accounts, printed at the end: a demo, not a secret


def _org(webhook: str | None = None) -> dict[str, list[dict[str, Any]]]:
    """The county; its supervisors and the first township's people get ``webhook``."""
    units: list[dict[str, Any]] = [{"code": "330100", "name": "枫桥县", "level": "county"}]
    people: list[dict[str, Any]] = [
        {
            "id": "county-sup",
            "name": "县综治中心",
            "role": "supervisor",
            "unit": "330100",
            "contacts": {"webhook": [webhook]} if webhook else {},
        }
    ]
    for t, t_name in enumerate(TOWNSHIPS, start=1):
        t_code = f"3301{t:02d}"
        units.append({"code": t_code, "name": t_name, "level": "township", "parent": "330100"})
        contacts = {"webhook": [webhook]} if webhook and t == 1 else {}
        people.append(
            {
                "id": f"sup-{t_code}",
                "name": f"{t_name}综治中心",
                "role": "supervisor",
                "unit": t_code,
                "contacts": contacts,
            }
        )
        for v in range(1, VILLAGES_PER_TOWNSHIP + 1):
            v_code = f"{t_code}{v:02d}"
            units.append(
                {"code": v_code, "name": f"{t_name}第{v}村", "level": "village", "parent": t_code}
            )
            for g in range(1, GRIDS_PER_VILLAGE + 1):
                g_code = f"{v_code}{g:02d}"
                units.append(
                    {"code": g_code, "name": f"第{g}网格", "level": "grid", "parent": v_code}
                )
                people.append(
                    {
                        "id": f"grid-{g_code}",
                        "name": f"网格员{g_code}",
                        "role": "mediator",
                        "unit": g_code,
                        "contacts": contacts,
                    }
                )
    return {"units": units, "people": people}


@dataclass
class Case:
    """What the simulation knows of one dispute: who follows it and how it will go."""

    id: int
    day: int  # the day it was reported
    mediator: str
    supervisor: str
    risk: str
    resolve_on: int  # the day it will be resolved, if followed up
    neglected: bool
    relapse: bool
    # a written agreement whose parties are still to be told of 司法确认
    to_tell: bool = False


class Simulation:
    def __init__(self, ctx: Context, database: Path) -> None:
        self.policy, self.zone, self.rng = ctx.policy, ctx.zone, random.Random(SEED)
        for stale in (database, Path(f"{database}-wal"), Path(f"{database}-shm")):
            stale.unlink(missing_ok=True)
        self.url = f"sqlite:///{database}"
        # A throwaway county: its parties are sealed with a key of its own, made afresh
        # with it (no note to back it up).
        key = key_file(self.url)
        if key is not None and key.name == f"{database.name}.key":
            key.unlink(missing_ok=True)
            save_keyring(key, Keyring.generate(), create=True)
        self.engine = make_engine(self.url)
        migrate(self.engine)
        self.cases: list[Case] = []
        self.plan: list[tuple[datetime, int, Callable[[], None]]] = []
        self.events = 0

    def at(self, day: int, hour: float) -> datetime:
        local = datetime.combine(START + timedelta(days=day), time(0), self.zone)
        return local + timedelta(minutes=round(hour * 60))

    def record(
        self, case: Case, kind: str, moment: datetime, by: str, data: dict[str, Any] | None = None
    ) -> None:
        """Plan an event for its moment; the day's plan runs in time order with the sweeps."""
        self.plan.append((moment, 1, lambda: self._record(case, kind, moment, by, data)))

    def _record(
        self, case: Case, kind: str, moment: datetime, by: str, data: dict[str, Any] | None
    ) -> None:
        record_event(
            engine=self.engine,
            policy=self.policy,
            now=moment,
            actor=Actor(person=by),
            dispute_id=case.id,
            event=NewEvent(kind, at=moment, data=data),
        )
        self.events += 1

    def status(self, case: Case) -> tuple[str, str]:
        with reading(self.engine) as session:
            dispute = session.get(Dispute, case.id)
            assert dispute is not None
            return dispute.status, dispute.level

    def arrive(self, day: int, grids: list[str]) -> None:
        for _ in range(self.rng.randint(ARRIVALS_PER_DAY - 4, ARRIVALS_PER_DAY + 4)):
            grid, risk = self.rng.choice(grids), self.rng.choice(RISKS)
            moment = self.at(day, self.rng.uniform(8, 18))
            spread = {"low": (1, 5), "medium": (2, 9), "high": (2, 7)}[risk]
            case = Case(
                0,
                day,
                f"grid-{grid}",
                f"sup-{grid[:6]}",
                risk,
                day + self.rng.randint(*spread),
                self.rng.random() < NEGLECTED,
                self.rng.random() < 0.05,
            )
            category, people = self.rng.choice(CATEGORIES), self.rng.randint(2, 6)
            title = self.rng.choice(TITLES[category])
            self.plan.append(
                (
                    moment,
                    1,
                    partial(self._report, case, grid, moment, category, title, people),
                )
            )
            if not case.neglected:
                self.record(
                    case,
                    "assign",
                    moment + timedelta(minutes=1),
                    case.supervisor,
                    {"person": case.mediator},
                )
                self.record(case, "acknowledge", moment + timedelta(minutes=20), case.mediator)

    def _report(
        self, case: Case, grid: str, moment: datetime, category: str, title: str, people: int
    ) -> None:
        case.id = report_dispute(
            engine=self.engine,
            policy=self.policy,
            now=moment,
            actor=Actor(person=f"grid-{grid}"),
            dispute=NewDispute(
                unit=grid,
                risk=case.risk,
                category=category,
                title=title,
                people_involved=people,
            ),
        )
        self.cases.append(case)
        self.events += 1

    def work(self, day: int) -> None:
        """Plan the day's work on every dispute followed up, from its state in the morning."""
        workday = self.policy.calendar.is_workday(START + timedelta(days=day))
        for case in self.cases:
            if case.neglected:
                continue
            status, level = self.status(case)
            evening = self.at(day, 17 + self.rng.random())
            if status in ("reported", "mediating"):
                if level != "village" and self.rng.random() < 0.9:
                    by = case.supervisor if level == "township" else "county-sup"
                    self.record(case, "acknowledge", self.at(day, 9), by)
                if day >= case.resolve_on:
                    method = self.rng.choice(["people", "people", "administrative", "judicial"])
                    agreement = self.rng.choice(["oral", "written"])
                    case.to_tell = agreement == "written"
                    self.record(
                        case,
                        "resolve",
                        evening,
                        case.mediator,
                        {"method": method, "agreement": agreement},
                    )
                    continue
                if workday and self.rng.random() > MISSED_CHECK:
                    self.record(case, "check", self.at(day, 10 + self.rng.random()), case.mediator)
                if day % 7 == 0:
                    self.record(
                        case, "assess", self.at(day, 11), case.supervisor, {"risk": case.risk}
                    )
            elif status == "resolved" and case.to_tell and self.rng.random() < TELLS:
                # the parties told of 司法确认, mostly the day after the agreement
                case.to_tell = False
                self.record(case, "confirmation_notice", self.at(day, 15), case.mediator)
            elif status == "resolved" and day >= case.resolve_on + 9:
                outcome = "relapsed" if case.relapse else "stable"
                case.relapse, case.resolve_on = False, day + 3
                self.record(case, "visit", evening, case.mediator, {"outcome": outcome})

    def run_day(self, day: int) -> None:
        """The day's events and hourly sweeps, in time order (a sweep first at a tie)."""
        for hour in range(24):
            moment = self.at(day, hour)
            self.plan.append((moment, 0, partial(self.sweep, moment)))
        plan, self.plan = sorted(self.plan, key=lambda item: (item[0], item[1])), []
        for _, _, action in plan:
            action()

    def sweep(self, moment: datetime) -> None:
        sweep(
            engine=self.engine,
            policy=self.policy,
            now=moment,
            actor=ENGINE,
            clock=lambda: moment,
            base_url=WEB,
        )


def run_demo(ctx: Context, *, database: Path) -> int:
    """Build the demo county afresh in ``database`` and drive it through a month; the
    warnings logged meanwhile are said once each, in words, after the progress bar."""
    with noted_warnings() as notes:
        said: set[str] = set()
        code = _run(ctx, database=database, say=lambda: _say(notes, said))
    _say(notes, said)
    return code


def _say(notes: list[str], said: set[str]) -> None:
    """Print the notes not yet said, once each, and a blank line after them."""
    fresh = [note for note in dict.fromkeys(notes) if note not in said]
    for note in fresh:
        print(f"Note: {note}.")
    said.update(fresh)
    if fresh:
        print()


@contextmanager
def noted_warnings() -> Iterator[list[str]]:
    """Collect the warnings logged inside the block, as sentences, instead of printing
    them as log lines into the demo's progress bar; the logging set-up is kept otherwise."""
    notes: list[str] = []

    def note(_: object, method: str, event: structlog.typing.EventDict) -> Any:
        if method in ("warning", "error", "critical", "exception"):
            notes.append(_sentence(dict(event)))
            raise structlog.DropEvent
        return event

    before = structlog.get_config()
    structlog.configure(processors=[note, *before["processors"]])
    try:
        yield notes
    finally:
        structlog.configure(processors=before["processors"])


def _sentence(event: dict[str, Any]) -> str:
    """A warning of the log as the demo says it."""
    name = event.pop("event", "warning")
    if name == "calendar_year_unknown":
        return (
            f"the official working-day calendar does not cover {event.get('year')} yet: "
            "working days there are counted as Monday to Friday until its holidays are added "
            "to the rule file (calendar.years)"
        )
    event.pop("timestamp", None)
    return f"{name} " + " ".join(f"{key}={value}" for key, value in event.items())


def _run(ctx: Context, *, database: Path, say: Callable[[], None]) -> int:
    sim = Simulation(ctx, database)
    hook = DemoWebhook()
    with tempfile.TemporaryDirectory() as workdir:
        org_file = Path(workdir) / "org.yaml"
        org_file.write_text(yaml.safe_dump(_org(hook.url), allow_unicode=True), encoding="utf-8")
        load_org(
            engine=sim.engine, policy=sim.policy, now=sim.at(0, 0), actor=ENGINE, path=org_file
        )
    grids = [u["code"] for u in _org()["units"] if u["level"] == "grid"]
    villages = len(TOWNSHIPS) * VILLAGES_PER_TOWNSHIP
    print(f"Fengqiao demo — rules {ctx.policy.label}, database {sim.url}")
    print(
        f"County 枫桥县: {len(TOWNSHIPS)} townships, {villages} villages, {len(grids)} grids, "
        f"one grid worker each (seed 001's proportions, scaled down)."
    )
    print(
        f"A month from {START} in fast-forward: about {ARRIVALS_PER_DAY} disputes a day; "
        f"mediators miss {MISSED_CHECK:.0%} of daily checks and {NEGLECTED:.0%} of disputes "
        "are never followed up."
    )
    print(
        "Events go through the same workflow as `fengqiao dispute event`; every simulated "
        "hour runs the same sweep code as `fengqiao sweep`, calling the flow functions "
        "directly, without the Prefect engine. The people of "
        f"{TOWNSHIPS[0]} and the county's supervisors get their messages on a webhook the demo "
        "runs on loopback.\n"
    )
    for day in range(DAYS):
        sim.work(day)  # on the disputes of the days before
        sim.arrive(day, grids)
        sim.run_day(day)
        _progress(day + 1)
    sim.sweep(sim.at(DAYS, 0))
    print(file=sys.stderr)
    say()  # what was logged meanwhile, under the progress bar, not inside it
    hook.stop()
    _summary(sim)
    _messages(hook)
    _accounts(sim)
    return 0


def _busiest_mediator(sim: Simulation) -> str:
    """The grid worker of the first township with the most overdue tasks at the end, then
    the most open ones: the one with the most to show."""
    end = sim.at(DAYS, 0)
    overdue = func.sum(sql_case((col(Task.due_at) < end, 1), else_=0))
    with reading(sim.engine) as session:
        rows = session.exec(
            select(Task.target, overdue, func.count())
            .where(col(Task.state) == TaskState.open, col(Task.target).like("person:grid-330101%"))
            .group_by(col(Task.target))
        ).all()
    ranked = sorted(rows, key=lambda row: (-(row[1] or 0), -row[2], row[0]))
    return ranked[0][0].split(":", 1)[1] if ranked else "grid-3301010101"


def _accounts(sim: Simulation) -> None:
    """Demo accounts for the three kinds of user, and how to open the county in a browser."""
    end = sim.at(DAYS, 0)
    mediator = _busiest_mediator(sim)
    people = [
        (mediator, "a grid worker (网格员): today's tasks, recording the work, phone first"),
        ("sup-330101", f"{TOWNSHIPS[0]}'s centre: the township's queue, assigning, handing back"),
        ("county-sup", "the county's centre: every dispute, escalations, inspections, reports"),
    ]
    for person, _ in people:
        set_password(engine=sim.engine, now=end, actor=OPERATOR, person=person, password=PASSWORD)
    print(
        "\nOpen the demo county in a browser:\n"
        f"  {_fengqiao()} --db {sim.url} --now {end.isoformat()} web\n"
        f"then {WEB} and sign in with the password {PASSWORD} as"
    )
    width = max(len(person) for person, _ in people)
    for person, what in people:
        print(f"  {person:<{width}}  {what}")


def _fengqiao() -> str:
    """How to call this same command from the current directory (``.venv/bin/fengqiao``
    after ``make demo``)."""
    called = Path(sys.argv[0])
    try:
        return str(called.resolve().relative_to(Path.cwd()))
    except ValueError:
        return "fengqiao"


class DemoWebhook:
    """An HTTP server on loopback that keeps what the outbox delivers to it."""

    def __init__(self) -> None:
        received: list[tuple[str, dict[str, Any]]] = []
        self.received = received

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                received.append((self.headers.get("Idempotency-Key", ""), json.loads(body)))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/fengqiao"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _messages(hook: DemoWebhook) -> None:
    kinds: Counter[str] = Counter()
    examples: dict[str, str] = {}
    for key, payload in hook.received:
        parts = key.split(":")
        whole = parts[0] in ("digest", "report")  # digest:…, report:NAME:UNIT:PERIOD
        kind = parts[0] if whole else parts[2] if len(parts) > 2 else parts[0]
        kinds[kind] += 1
        text = payload["message"].splitlines()[0]
        if kind not in examples or ("日排查" in text and "日排查" not in examples[kind]):
            examples[kind] = text  # a missed daily check makes the best example
    if not kinds:
        return
    print(
        f"\nThe demo webhook received {sum(kinds.values())} messages for {TOWNSHIPS[0]} and "
        "the county: " + ", ".join(f"{kind} {count}" for kind, count in sorted(kinds.items())) + "."
    )
    for kind in ("due", "unacknowledged", "report"):
        if kind in examples:
            print(f"  e.g. {kind}: {examples[kind]}")


def _progress(done: int) -> None:
    filled = round(30 * done / DAYS)
    day = START + timedelta(days=done - 1)
    print(
        f"\r[{'#' * filled}{'.' * (30 - filled)}] {day} ({done}/{DAYS} days)",
        end="",
        file=sys.stderr,
        flush=True,
    )


def _summary(sim: Simulation) -> None:
    end = sim.at(DAYS, 0)
    with reading(sim.engine) as session:
        statuses = dict(
            session.exec(select(Dispute.status, func.count()).group_by(col(Dispute.status))).all()
        )
        levels = dict(
            session.exec(
                select(Escalation.to_level, func.count()).group_by(col(Escalation.to_level))
            ).all()
        )
        overdue = dict(
            session.exec(
                select(Obligation.kind, func.count())
                .where(col(Obligation.due_at) < end)
                .group_by(col(Obligation.kind))
            ).all()
        )
        supervised = session.exec(
            select(func.count()).select_from(Dispute).where(col(Dispute.supervised).is_(True))
        ).one()
    listing = escalations_view(engine=sim.engine, now=end, zone=sim.zone)
    escalated = [row for row in listing if row["last_escalation"]]
    showcase = escalated[0]["id"] if escalated else None
    view = (
        dispute_view(engine=sim.engine, dispute_id=showcase, now=end, zone=sim.zone)
        if showcase
        else None
    )
    screened = sum(statuses.values())
    resolved = statuses.get("resolved", 0) + statuses.get("closed", 0)
    print(
        f"By {end.date()}: {screened} disputes screened, {resolved} resolved or closed — "
        f"化解率 {resolved / screened:.1%}; {sim.events} events recorded."
    )
    print("  status:      " + ", ".join(f"{k} {v}" for k, v in sorted(statuses.items())))
    print(
        f"  escalations: to township {levels.get('township', 0)}, "
        f"to county {levels.get('county', 0)}; under supervised listing {supervised}"
    )
    print(
        "  overdue:     " + (", ".join(f"{k} {v}" for k, v in sorted(overdue.items())) or "nothing")
    )
    if view is not None:
        print("\nThe most recently escalated dispute:")
        for line in dispute_lines(view):
            print(line)
    last_week = period_before("week", end, sim.zone).label
    print(
        f"\nThe demo county stays in {sim.url} (rebuilt by each run). Look around with:\n"
        f"  {_fengqiao()} --db {sim.url} --now {end.isoformat()} escalations\n"
        f"  {_fengqiao()} --db {sim.url} --now {end.isoformat()} tasks --person sup-330101\n"
        f"  {_fengqiao()} --db {sim.url} --now {end.isoformat()} report list\n"
        f"  {_fengqiao()} --db {sim.url} --now {end.isoformat()} report weekly --unit 330101 "
        f"--week {last_week}\n"
        f"  {_fengqiao()} --db {sim.url} --now {end.isoformat()} report monthly --unit 330100"
    )
