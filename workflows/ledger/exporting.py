"""The ledger (台账) given back: the disputes of a unit as an Excel sheet with today's
state, in the columns offices keep, written row by row in constant memory.

The sheet reads back in (`ledger import`): exported, then imported into an empty database,
it gives the same ledger.
"""

from __future__ import annotations

import multiprocessing
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from itertools import chain, islice
from pathlib import Path
from queue import Full
from typing import Any

import structlog
from sqlalchemy import Engine, select
from sqlmodel import col

from models.parties import PARTY_ROLES
from models.record import OUTCOMES
from models.tables import Dispute, LedgerExport, Person, Unit
from models.values import LIVE_STATUSES, OPEN_STATUSES, Actor, Status, UnitLevel
from rules.policy import Policy
from workflows.access import disputes_in_scope, mask_parties, sees_parties, viewer_of
from workflows.db import reading, transaction
from workflows.errors import BadInput
from workflows.ledger.words import AGREEMENTS, METHODS, RISKS, VISITS, written
from workflows.org import unit_in_scope

__all__ = ["COLUMNS", "ExportSummary", "STATUS_FILTERS", "export_ledger"]

log = structlog.get_logger(__name__)

# The columns of the ledger: the standard ones first, then what a ledger read back needs.
COLUMNS = (
    "编号",
    "登记日期",
    "来源",
    "纠纷类型",
    "当事人",
    "联系方式",
    "纠纷简要情况",
    "风险等级",
    "责任单位",
    "当前层级",
    "调解员",
    "调解方式",
    "调解结果",
    "协议金额",
    "回访情况",
    "是否司法确认",
    "结案日期",
    "是否逾期",
    "挂牌督办",
    "纠纷名称",
    "登记单位",
    "状态",
    "化解日期",
    "协议形式",
    "协议内容",
    "回访日期",
    "涉及人数",
    "身份证号",
    "住址",
    "发生地点",
)
_WIDTHS = {"编号": 18, "纠纷简要情况": 40, "当事人": 18, "联系方式": 26, "纠纷名称": 24,
           "身份证号": 22, "住址": 24, "协议内容": 24}  # fmt: skip
# --status: a status, or open (reported, mediating) or live (not yet closed or withdrawn)
STATUS_FILTERS = {
    **{status.value: (status,) for status in Status},
    "open": OPEN_STATUSES,
    "live": LIVE_STATUSES,
}
_LEVELS = {"village": "村级", "township": "镇级", "county": "县级"}
_STATUSES = {"reported": "已登记", "mediating": "调解中", "resolved": "已化解",
             "closed": "已结案", "referred": "已移交", "withdrawn": "撤回"}  # fmt: skip
_REFERRED = {"court": "转法院", "arbitration": "转仲裁", "police": "移交公安", "petition": "转信访"}
_ROLES = {code: words[0] for code, words in PARTY_ROLES.items() if code != "party"}
_SUBTREE = {
    UnitLevel.county: Dispute.county_code,
    UnitLevel.township: Dispute.township_code,
    UnitLevel.village: Dispute.village_code,
    UnitLevel.grid: Dispute.reported_unit,
}


# What a row of the ledger reads of a dispute (not its fold, which is most of its row).
_READ = tuple(
    getattr(Dispute.__table__.c, name)  # type: ignore[attr-defined]
    for name in (
        "id", "category", "title", "risk", "status", "level", "unit_code", "reported_unit",
        "people_involved", "parties", "location", "reported_at", "supervised",
        "supervision_deadline", "attention_at", "record",
    )
)  # fmt: skip


@dataclass(frozen=True)
class ExportSummary:
    path: str
    rows: int
    unit: str
    masked: bool  # the parties' data masked: the exporting role does not handle disputes

    def __str__(self) -> str:
        told = "; parties masked" if self.masked else ""
        return f"{self.path}: {self.rows:,} disputes of {self.unit}{told}"


def export_ledger(
    *,
    engine: Engine,
    policy: Policy,
    now: datetime,
    actor: Actor,
    unit: str,
    out: Path,
    start: date | None = None,
    end: date | None = None,
    status: str | None = None,
) -> ExportSummary:
    """Write the ledger of ``unit``'s disputes (reported from ``start`` to ``end``, local
    days, both included; of ``status``) to ``out``, as ``actor`` may see them (the operator
    with no person named: everything; a person: their scope, the parties masked unless
    they handle disputes); the export is logged with who, when, what and how many rows."""
    if status is not None and status not in STATUS_FILTERS:
        raise BadInput(f"unknown status {status!r}; known: {', '.join(STATUS_FILTERS)}")
    if start is not None and end is not None and end < start:
        raise BadInput(f"the end {end.isoformat()} is before the start {start.isoformat()}")
    if out.suffix.lower() != ".xlsx":
        raise BadInput(f"{out}: the ledger is written as an Excel workbook (.xlsx)")
    zone = policy.zone
    with reading(engine) as session:
        viewer = viewer_of(session, actor.person) if actor.person is not None else None
        chain = unit_in_scope(session, viewer, unit)
        if not chain:
            raise BadInput(f"unknown unit {unit!r}")
        level = UnitLevel(chain[0].level)
        names = dict(session.execute(select(col(Unit.code), col(Unit.name))).tuples().all())
        people = dict(session.execute(select(col(Person.id), col(Person.name))).tuples().all())
        query = disputes_in_scope(viewer, *_READ).where(col(_SUBTREE[level]) == unit)
        if start is not None:
            query = query.where(col(Dispute.reported_at) >= datetime.combine(start, time(), zone))
        if end is not None:
            after = datetime.combine(end + timedelta(days=1), time(), zone)
            query = query.where(col(Dispute.reported_at) < after)
        if status is not None:
            query = query.where(col(Dispute.status).in_(STATUS_FILTERS[status]))
        query = query.order_by(col(Dispute.reported_at), col(Dispute.id))
        masked = not sees_parties(viewer)
        title = f"{names.get(unit, unit)}矛盾纠纷排查调处台账"
        rows = _write(
            out,
            iter(session.execute(query.execution_options(yield_per=2_000))),
            title=title,
            policy=policy,
            now=now,
            names=names,
            people=people,
            masked=masked,
            period=(start, end),
        )
    with transaction(engine) as session:
        session.add(
            LedgerExport(
                at=now,
                actor=actor.name,
                unit=unit,
                start=start.isoformat() if start else None,
                end=end.isoformat() if end else None,
                status=status,
                rows=rows,
                masked=masked,
            )
        )
    log.info(
        "ledger_exported",
        unit=unit,
        start=start.isoformat() if start else None,
        end=end.isoformat() if end else None,
        status=status,
        rows=rows,
        masked=masked,
        actor=actor.name,
    )
    return ExportSummary(str(out), rows, unit, masked)


def _write(
    out: Path,
    disputes: Iterator[Any],
    *,
    title: str,
    policy: Policy,
    now: datetime,
    names: Mapping[str, str],
    people: Mapping[str, str],
    masked: bool,
    period: tuple[date | None, date | None],
) -> int:
    """Write the sheet: here for a small ledger; for a large one, the rows' cells made here
    while a process of its own writes them (XlsxWriter's time is most of an export's, and
    the two then take a core each), a few batches in flight at most."""
    counted = Counter(names.values())
    shared = frozenset(name for name, count in counted.items() if count > 1)
    start, end = period
    span = f"{start.isoformat() if start else '…'} 至 {end.isoformat() if end else '…'}"
    made = now.astimezone(policy.zone).strftime("%Y-%m-%d %H:%M")
    line = f"登记日期：{span}；导出时间：{made}"
    rows = (
        _cells(d, policy=policy, now=now, names=names, people=people, masked=masked,
               shared=shared)
        for d in disputes
    )  # fmt: skip
    batches = iter(lambda: list(islice(rows, _BATCH)), [])
    first = next(batches, [])
    if len(first) < _BATCH:
        return _write_sheet(str(out), title, line, [first])
    context = multiprocessing.get_context("spawn")  # never fork a threaded server
    queue: Any = context.Queue(maxsize=4)
    writer = context.Process(
        target=_sheet_process, args=(str(out), title, line, queue), name="ledger-writer"
    )
    writer.start()
    try:
        for batch in chain([first], batches, [None]):
            while True:
                try:
                    queue.put(batch, timeout=1)
                    break
                except Full:
                    if not writer.is_alive():
                        raise RuntimeError("the ledger's writer stopped") from None
        writer.join()
    finally:
        if writer.is_alive():
            writer.terminate()
            writer.join()
        queue.close()
    if writer.exitcode != 0:
        raise RuntimeError(f"the ledger's writer stopped (exit code {writer.exitcode})")
    return _counted(out)


_BATCH = 2_000  # rows handed to the writer at a time


def _sheet_process(path: str, title: str, line: str, queue: Any) -> None:
    """In the writer's process: the rows as they come, until None."""
    _write_sheet(path, title, line, iter(queue.get, None))


def _counted(out: Path) -> int:
    """The rows the writer wrote: it leaves their count beside the sheet."""
    count = out.with_name(out.name + ".rows")
    try:
        return int(count.read_text())
    finally:
        count.unlink(missing_ok=True)


def _write_sheet(path: str, title: str, line: str, batches: Iterable[list[list[Any]]]) -> int:
    """The ledger's workbook at ``path``: the title, ``line``, the header, the rows' cells
    (batches of rows), in XlsxWriter's constant-memory mode; how many rows. In a process of
    its own, the count is also left in ``path.rows``."""
    import xlsxwriter  # noqa: PLC0415 - only when a ledger is written

    book = xlsxwriter.Workbook(path, {"constant_memory": True})
    written = 0
    try:
        sheet = book.add_worksheet("台账")
        heading = book.add_format({"bold": True, "font_size": 14, "align": "center"})
        header = book.add_format(
            {"bold": True, "bg_color": "#DDEBF7", "border": 1, "text_wrap": True,
             "align": "center", "valign": "vcenter"}
        )  # fmt: skip
        day = book.add_format({"num_format": "yyyy-mm-dd"})
        money = book.add_format({"num_format": "#,##0.00"})
        for index, name in enumerate(COLUMNS):
            sheet.set_column(index, index, _WIDTHS.get(name, 12))
        sheet.merge_range(0, 0, 0, len(COLUMNS) - 1, title, heading)
        sheet.write_string(1, 0, line)
        sheet.write_row(2, 0, COLUMNS, header)
        sheet.freeze_panes(3, 1)
        amount = COLUMNS.index("协议金额")
        for batch in batches:
            for cells in batch:
                written += 1
                row = 2 + written
                for column, value in enumerate(cells):
                    if value is None or value == "":
                        continue
                    if isinstance(value, date):
                        sheet.write_datetime(row, column, datetime.combine(value, time()), day)
                    elif isinstance(value, int):
                        sheet.write_number(row, column, value)
                    elif column == amount:
                        sheet.write_number(row, column, float(value), money)
                    else:
                        sheet.write_string(row, column, value)
        if written:
            sheet.autofilter(2, 0, 2 + written, len(COLUMNS) - 1)
    finally:
        book.close()
    if multiprocessing.parent_process() is not None:
        Path(path + ".rows").write_text(str(written))
    return written


def _joined(parties: list[dict[str, Any]], key: str, between: str) -> str:
    """A field of every party, in their order, an empty place kept for one without it."""
    return between.join(str(p.get(key, "")) for p in parties).rstrip(between)


def _place(code: str, names: Mapping[str, str], shared: frozenset[str]) -> str:
    """The unit a dispute was reported at, by name, with its code if another has that name."""
    name = names.get(code, code)
    return f"{name}（{code}）" if name in shared else name


def _local_day(text: str | None, policy: Policy) -> date | None:
    return datetime.fromisoformat(text).astimezone(policy.zone).date() if text else None


def _cells(
    dispute: Any,
    *,
    policy: Policy,
    now: datetime,
    names: Mapping[str, str],
    people: Mapping[str, str],
    masked: bool,
    shared: frozenset[str],
) -> list[Any]:
    record: dict[str, Any] = dispute.record or {}
    rules = policy.rules
    parties = mask_parties(dispute.parties) if masked else list(dispute.parties)
    source = record.get("source")
    outcome = record.get("outcome")
    if outcome == "referred":
        said = _REFERRED.get(record.get("referred_to", ""), "转交办理")
    elif outcome is not None:
        said = OUTCOMES[outcome]
    else:
        said = "调解中" if dispute.status in OPEN_STATUSES else ""
    visits = record.get("visits", 0)
    visit = written(VISITS, record.get("visit_outcome"))
    confirmed = record.get("confirmed")
    mediators = record.get("mediators") or "、".join(
        people.get(p, p) for p in record.get("mediated_by", [])
    )
    overdue = dispute.status in LIVE_STATUSES and dispute.attention_at < now
    supervised = ""
    if dispute.supervised:
        deadline = dispute.supervision_deadline
        supervised = (
            f"是（期限 {deadline.astimezone(policy.zone).date().isoformat()}）"
            if deadline
            else "是"
        )
    category = dispute.category
    return [
        record.get("ledger_no") or str(dispute.id),
        dispute.reported_at.astimezone(policy.zone).date(),
        rules.sources[source].label_in("zh") if source in rules.sources else (source or ""),
        rules.categories[category].label_in("zh") if category in rules.categories else category,
        "、".join(
            p.get("name", "") + (f"（{_ROLES[p['role']]}）" if p.get("role") in _ROLES else "")
            for p in parties
        ),
        _joined(parties, "phone", "、"),
        record.get("description", ""),
        written(RISKS, dispute.risk) or dispute.risk,
        names.get(dispute.unit_code, dispute.unit_code),
        _LEVELS.get(dispute.level, dispute.level),
        mediators,
        written(METHODS, record.get("method")),
        said,
        record.get("amount"),
        (f"已回访{visits}次（{visit}）" if visits else "未回访")
        if record.get("resolved_at") or visits
        else "",
        {True: "是", False: "否"}.get(confirmed, "") if confirmed is not None else "",
        _local_day(record.get("closed_at"), policy),
        "是" if overdue else "否",
        supervised or "否",
        dispute.title,
        _place(dispute.reported_unit, names, shared),
        _STATUSES.get(dispute.status, dispute.status),
        _local_day(record.get("resolved_at"), policy),
        written(AGREEMENTS, record.get("agreement")),
        record.get("terms", ""),
        _local_day(record.get("visited_at"), policy),
        dispute.people_involved,
        _joined(parties, "id_number", "、"),
        _joined(parties, "address", "；"),
        dispute.location or "",
    ]
