"""``fengqiao demo``: a small county on the embedded SQLite default, driven by a fixed clock.

Everything goes through the same workflow functions as the command line; the story is
scripted, so two runs print the same.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml
from sqlmodel import col, func, select

from models.tables import Dispute, Escalation
from workflows.db import make_engine, migrate, transaction
from workflows.disputes import NewEvent, record_event, reevaluate, report_dispute
from workflows.org import load_org
from workflows.views import dispute_view

if TYPE_CHECKING:
    from fengqiao.cli import Context

__all__ = ["run_demo"]

START = date(2026, 11, 2)  # a Monday; the story runs for a month from here
DAYS = 30

TOWNSHIPS = [("330101", "东溪镇"), ("330102", "西岭镇"), ("330103", "南湖街道")]
VILLAGES = ["上林村", "下林村"]


def _org() -> dict[str, list[dict[str, Any]]]:
    units: list[dict[str, Any]] = [{"code": "330100", "name": "枫桥县", "level": "county"}]
    people: list[dict[str, Any]] = [
        {"id": "county-sup", "name": "县综治中心", "role": "supervisor", "unit": "330100"},
        {"id": "admin", "name": "规则管理员", "role": "administrator", "unit": "330100"},
    ]
    for t_code, t_name in TOWNSHIPS:
        units.append({"code": t_code, "name": t_name, "level": "township", "parent": "330100"})
        people.append(
            {
                "id": f"sup-{t_code}",
                "name": f"{t_name}综治中心",
                "role": "supervisor",
                "unit": t_code,
            }
        )
        for v_index, v_name in enumerate(VILLAGES, start=1):
            v_code = f"{t_code}{v_index:02d}"
            units.append({"code": v_code, "name": v_name, "level": "village", "parent": t_code})
            people.append(
                {
                    "id": f"med-{v_code}",
                    "name": f"{v_name}调解员",
                    "role": "mediator",
                    "unit": v_code,
                }
            )
            for g_index in (1, 2):
                units.append(
                    {
                        "code": f"{v_code}{g_index:02d}",
                        "name": f"{v_name}第{g_index}网格",
                        "level": "grid",
                        "parent": v_code,
                    }
                )
    return {"units": units, "people": people}


@dataclass
class Story:
    """One dispute: where and when it is reported, and what its mediator does."""

    grid: str
    risk: str
    category: str
    title: str
    day: int
    script: list[tuple[float, str, dict[str, Any]]] = field(default_factory=list)
    checks_until: float = -1  # the mediator checks every working day until this day

    @property
    def mediator(self) -> str:
        return f"med-{self.grid[:8]}"


def _stories() -> list[Story]:
    resolve_people = {"method": "people", "agreement": "written"}
    return [
        Story(
            "3301010101",
            "high",
            "邻里纠纷",
            "宅基地边界争议",
            0,
            [
                (1.6, "mediate", {}),
                (2.7, "resolve", resolve_people),
                (11.5, "visit", {"outcome": "stable"}),
            ],
            checks_until=2.7,
        ),
        Story("3301010201", "high", "土地承包", "承包地流转纠纷（无人跟进）", 1),
        Story(
            "3301020101",
            "medium",
            "婚姻家庭",
            "赡养老人分歧",
            1,
            [
                (4.5, "mediate", {}),
                (7.6, "assess", {"risk": "medium"}),
                (8.4, "resolve", {"method": "people", "agreement": "oral"}),
                (17.5, "visit", {"outcome": "relapsed"}),
                (18.5, "mediate", {}),
                (22.6, "resolve", resolve_people),
            ],
            checks_until=22.6,
        ),
        Story(
            "3301020202",
            "medium",
            "劳资纠纷",
            "工程款拖欠",
            2,
            [(4.5, "refer", {"to": "arbitration"})],
            checks_until=4.5,
        ),
        Story(
            "3301030101",
            "low",
            "物业纠纷",
            "小区停车位争议",
            2,
            [
                (5.4, "mediate", {"method": "administrative"}),
                (9.6, "resolve", {"method": "administrative", "agreement": "oral"}),
                (19.4, "visit", {"outcome": "stable"}),
            ],
        ),
        Story(
            "3301030202",
            "high",
            "征地拆迁",
            "拆迁补偿争议（当事人住院）",
            3,
            [
                (4.4, "pause", {"reason": "当事人住院"}),
                (11.4, "resume", {}),
                (12.5, "mediate", {}),
                (14.6, "resolve", resolve_people),
            ],
            checks_until=14.6,
        ),
        Story(
            "3301010102",
            "low",
            "邻里纠纷",
            "噪音扰民",
            4,
            [(6.5, "withdraw", {"note": "双方自行和解"})],
        ),
        Story(
            "3301020102",
            "medium",
            "山林权属",
            "山林界址纠纷",
            5,
            [(12.4, "assess", {"risk": "high"})],
            checks_until=30,
        ),
        Story(
            "3301010202",
            "medium",
            "合同纠纷",
            "农资买卖合同",
            8,
            [
                (9.5, "mediate", {"method": "judicial"}),
                (13.5, "resolve", {"method": "judicial", "agreement": "written"}),
            ],
            checks_until=13.5,
        ),
        Story(
            "3301030102",
            "high",
            "医疗纠纷",
            "卫生院诊疗争议",
            10,
            [(11.5, "mediate", {})],
            checks_until=11.2,
        ),
        Story(
            "3301020201", "low", "婚姻家庭", "离婚财产分割", 12, [(13.4, "assess", {"risk": "low"})]
        ),
        Story(
            "3301030201",
            "medium",
            "损害赔偿",
            "交通事故赔偿",
            16,
            [(17.5, "mediate", {}), (20.5, "resolve", resolve_people)],
            checks_until=20.5,
        ),
    ]


def _moment(day: float, zone: Any) -> datetime:
    whole = int(day)
    hour = round((day - whole) * 24, 2) if day != whole else 9.0
    local = datetime.combine(START + timedelta(days=whole), time(0), zone)
    return local + timedelta(hours=hour)


def run_demo(ctx: Context, *, database: Path) -> int:
    """Build the demo county afresh in ``database`` (a SQLite file) and tell its story."""
    policy, zone = ctx.policy, ctx.zone
    for stale in (database, Path(f"{database}-wal"), Path(f"{database}-shm")):
        stale.unlink(missing_ok=True)
    url = f"sqlite:///{database}"
    engine = make_engine(url)
    migrate(engine)
    with tempfile.TemporaryDirectory() as workdir:
        org_file = Path(workdir) / "org.yaml"
        org_file.write_text(yaml.safe_dump(_org(), allow_unicode=True), encoding="utf-8")
        with transaction(engine) as session:
            summary = load_org(session=session, path=org_file)
    print(f"Fengqiao demo — rules {policy.label}, database {url}")
    villages = len(TOWNSHIPS) * len(VILLAGES)
    print(
        f"County 枫桥县: {len(TOWNSHIPS)} townships, {villages} villages, {villages * 2} grids, "
        f"{summary.people_added} people (mediators and supervisors)."
    )
    print(
        f"A month from {START} in fast-forward: 12 disputes, each event recorded through "
        "the same workflow as `fengqiao dispute event`.\n"
    )

    stories = _stories()
    ids: dict[int, int] = {}
    timeline: list[tuple[datetime, int, str, dict[str, Any], str]] = []
    for index, story in enumerate(stories):
        timeline.append((_moment(story.day + 0.35, zone), index, "report", {}, story.mediator))
        if story.checks_until >= 0 or story.script:  # all but the neglected one acknowledge (签收)
            timeline.append(
                (_moment(story.day + 0.37, zone), index, "acknowledge", {}, story.mediator)
            )
        for day, kind, data in story.script:
            by = f"sup-{story.grid[:6]}" if kind in ("assess",) else story.mediator
            timeline.append((_moment(day, zone), index, kind, data, by))
        for offset in range(story.day, DAYS):
            moment = _moment(offset + 0.7, zone)
            if offset + 0.7 <= story.checks_until and policy.calendar.is_workday(moment.date()):
                timeline.append((moment, index, "check", {}, story.mediator))
    timeline.sort(key=lambda item: (item[0], item[1]))

    for moment, index, kind, data, by in timeline:
        story = stories[index]
        with transaction(engine) as session:
            if kind == "report":
                dispute = report_dispute(
                    session=session,
                    policy=policy,
                    now=moment,
                    unit=story.grid,
                    risk=story.risk,
                    category=story.category,
                    title=story.title,
                    by=by,
                    people_involved=2,
                    parties=[{"name": "当事人甲"}, {"name": "当事人乙"}],
                )
                assert dispute.id is not None
                ids[index] = dispute.id
                record_event(
                    session=session,
                    policy=policy,
                    now=moment,
                    dispute_id=dispute.id,
                    event=NewEvent("assign", data={"person": story.mediator}, by=by),
                )
                continue
            if index not in ids or kind == "check" and _closed(session, ids[index]):
                continue
            record_event(
                session=session,
                policy=policy,
                now=moment,
                dispute_id=ids[index],
                event=NewEvent(kind, data=data, by=by),
            )
    end = _moment(DAYS, zone)
    with transaction(engine) as session:
        for dispute_id in ids.values():
            reevaluate(session=session, policy=policy, now=end, dispute_id=dispute_id)
    _summary(engine, ids, end, zone)
    from fengqiao.commands import print_dispute

    for index in (1, 2, 5):
        print()
        with transaction(engine) as session:
            print_dispute(dispute_view(session=session, dispute_id=ids[index], now=end, zone=zone))
    print(
        f"\nThe demo county stays in {database} (rebuilt by each run). Look around with:\n"
        f"  fengqiao --db {url} --now {end.isoformat()} dispute show {ids[1]} --json\n"
        f"  fengqiao --db {url} --now {end.isoformat()} rules explain {ids[7]}"
    )
    return 0


def _closed(session: Any, dispute_id: int) -> bool:
    dispute = session.get(Dispute, dispute_id)
    return dispute is None or dispute.status not in ("reported", "mediating") or dispute.paused


def _summary(engine: Any, ids: dict[int, int], end: datetime, zone: Any) -> None:
    with transaction(engine) as session:
        by_status = dict(
            session.exec(select(Dispute.status, func.count()).group_by(Dispute.status)).all()
        )
        by_level = dict(
            session.exec(
                select(Escalation.to_level, func.count()).group_by(Escalation.to_level)
            ).all()
        )
        rows = session.exec(select(Dispute).order_by(col(Dispute.id))).all()
        print(f"{'id':>3}  {'risk':<6} {'status':<10} {'level':<9} {'category':<6}  title")
        for d in rows:
            print(f"{d.id:>3}  {d.risk:<6} {d.status:<10} {d.level:<9} {d.category:<6}  {d.title}")
    screened = len(ids)
    resolved = by_status.get("resolved", 0) + by_status.get("closed", 0)
    print(
        f"\nBy {end.date()}: {screened} screened, {resolved} resolved or closed — "
        f"化解率 {resolved / screened:.0%}; escalations to township "
        f"{by_level.get('township', 0)}, to county {by_level.get('county', 0)}."
    )
