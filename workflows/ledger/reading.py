"""Reading an office's ledger (台账): its sheets, the header row under the titles, and
each row's cells as the record's fields, every bad cell named as ``FILE:SHEET!C12``.

Nothing here touches the database: the rows come out with their unit as the ledger gives
it (a name or a code), which the import finds in the org.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from importlib.resources import files
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import yaml

from models.parties import InvalidParties, validate_parties
from rules.schema import RuleSet
from rules.schema import names as code_names
from workflows.errors import BadInput, ProblemList
from workflows.ledger.words import AGREEMENTS, METHODS, RISKS, VISITS
from workflows.recording import decode_text, shown

__all__ = [
    "FIELDS",
    "LedgerRow",
    "Mapping_",
    "Problems",
    "load_mapping",
    "parse_date",
    "parse_risk",
    "read_ledger",
]

# The record's fields a ledger's columns are read into (headers.yaml names them).
FIELDS = (
    "number",
    "registered",
    "source",
    "category",
    "title",
    "description",
    "parties",
    "phones",
    "id_numbers",
    "addresses",
    "risk",
    "unit",
    "people_involved",
    "location",
    "mediators",
    "method",
    "outcome",
    "status",
    "resolved",
    "agreement",
    "amount",
    "terms",
    "visit",
    "visited",
    "confirmed",
    "closed",
)
_DEFAULTABLE = ("unit", "risk", "source", "category")
_HEADER_SEARCH = 30  # rows looked through for the header, under the titles
_MOST_PROBLEMS = 1000  # said in full; beyond, counted


@dataclass(frozen=True)
class Mapping_:
    """How headers name the fields: for each header (normalised), its field; and the
    values of fields the ledger has no column for."""

    headers: Mapping[str, str]
    defaults: Mapping[str, str] = field(default_factory=dict)


class Problems(ProblemList):
    """Every bad cell of a ledger, each ``FILE:SHEET!C12: message``, one per line."""

    def __init__(self, problems: Sequence[str]) -> None:
        lines = list(problems[:_MOST_PROBLEMS])
        if len(problems) > _MOST_PROBLEMS:
            lines.append(f"… and {len(problems) - _MOST_PROBLEMS:,} more problems")
        super().__init__(lines)


@dataclass(frozen=True)
class LedgerRow:
    """One dispute of the ledger, read: where it is (``SHEET!12``), the cell of each field
    (for what the import finds wrong later), and its values."""

    sheet: str
    row: int
    cells: Mapping[str, str]  # field -> its cell, ``SHEET!C12``
    number: str
    registered: datetime
    unit: str
    risk: str
    category: str
    title: str
    description: str | None = None
    source: str | None = None
    parties: tuple[dict[str, Any], ...] = ()
    people_involved: int = 1
    location: str | None = None
    method: str | None = None
    agreement: str | None = None
    amount: str | None = None
    terms: str | None = None
    mediators: str | None = None
    # what became of it, each with its date: resolved, visited (stable or relapsed),
    # closed, withdrawn, referred (to whom), the court's confirmation
    resolved: datetime | None = None
    visit: str | None = None
    visited: datetime | None = None
    closed: datetime | None = None
    withdrawn: datetime | None = None
    referred: tuple[str, str] | None = None  # (to, body)
    confirmed: bool | None = None


def _normal(header: Any) -> str:
    text = str(header or "")
    text = text.replace("（", "(").replace("）", ")").replace("：", ":")
    text = re.sub(r"[\s*＊]+", "", text).rstrip(":")
    return text.casefold()


def load_mapping(path: Path | None) -> Mapping_:
    """The shipped headers, after an office's own mapping file if given."""
    shipped = yaml.safe_load(files("workflows.ledger").joinpath("headers.yaml").read_text("utf-8"))
    layers = [shipped]
    if path is not None:
        where = str(path)
        try:
            own = yaml.safe_load(decode_text(path.read_bytes(), where=where))
        except OSError as exc:
            raise BadInput(f"{where}: cannot read the mapping: {exc.strerror}") from None
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            line = f":{mark.line + 1}" if mark is not None else ""
            raise BadInput(f"{where}{line}: not YAML: {getattr(exc, 'problem', exc)}") from None
        if not isinstance(own, dict) or not set(own) <= {"columns", "defaults"}:
            raise BadInput(f"{where}: a mapping has `columns` and `defaults`, nothing else")
        layers.insert(0, own)
    headers: dict[str, str] = {}
    defaults: dict[str, str] = {}
    for layer in layers:
        where = "the shipped headers" if layer is shipped else str(path)
        for name, names in (layer.get("columns") or {}).items():
            if name not in FIELDS:
                raise BadInput(
                    f"{where}: columns: unknown field {name!r}; known: {', '.join(FIELDS)}"
                )
            if isinstance(names, str):
                names = [names]
            if not isinstance(names, list) or not all(isinstance(n, str | int) for n in names):
                raise BadInput(f"{where}: columns.{name}: a list of headers")
            for header in names:
                headers.setdefault(_normal(header), name)
        for name, value in (layer.get("defaults") or {}).items():
            if name not in _DEFAULTABLE:
                raise BadInput(
                    f"{where}: defaults: {name!r} cannot have a default; "
                    f"these can: {', '.join(_DEFAULTABLE)}"
                )
            defaults.setdefault(name, str(value))
    return Mapping_(headers, defaults)


# Reading the sheets ---------------------------------------------------------------------


@dataclass(frozen=True)
class _Sheet:
    name: str
    rows: list[list[Any]]  # merged cells' value in each of their cells


def _sheets(path: Path) -> Iterator[_Sheet]:
    where = str(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise BadInput(f"{where}: cannot read the ledger: {exc.strerror}") from None
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        from openpyxl import load_workbook  # noqa: PLC0415 - only when a workbook is read

        try:
            # Read-only: the rows stream from the file, not a cell object each.
            book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        except Exception as exc:  # noqa: BLE001 - openpyxl raises many kinds on a bad file
            raise BadInput(f"{where}: not an Excel workbook (.xlsx): {first(exc)}") from None
        try:
            for sheet in book.worksheets:
                merged = _merged_ranges(book, sheet)
                rows = [list(row) for row in sheet.iter_rows(values_only=True)]
                for first_row, first_column, last_row, last_column in merged:
                    if first_row > len(rows):
                        continue
                    top = rows[first_row - 1]
                    value = top[first_column - 1] if first_column - 1 < len(top) else None
                    for line in rows[first_row - 1 : last_row]:
                        line.extend([None] * (last_column - len(line)))
                        line[first_column - 1 : last_column] = [value] * (
                            last_column - first_column + 1
                        )
                yield _Sheet(sheet.title, rows)
        finally:
            book.close()
    elif path.suffix.lower() in (".csv", ".txt"):
        text = decode_text(data, where=where)
        yield _Sheet(path.stem, [list(row) for row in csv.reader(io.StringIO(text))])
    else:
        raise BadInput(f"{where}: a ledger is an Excel workbook (.xlsx) or a CSV file")


_MERGE = re.compile(rb'<(?:\w+:)?mergeCell\s+ref="([A-Z]+)(\d+):([A-Z]+)(\d+)"')


def _merged_ranges(book: Any, sheet: Any) -> list[tuple[int, int, int, int]]:
    """The merged cells of a sheet read in read-only mode (which leaves them out): each
    as first row, first column, last row, last column, read from the sheet's XML."""
    with book._archive.open(sheet._worksheet_path) as xml:  # noqa: SLF001 - what read-only keeps
        text = xml.read()
    return [
        (int(top), _column_number(left), int(bottom), _column_number(right))
        for left, top, right, bottom in _MERGE.findall(text)
    ]


def _column_number(letters: bytes) -> int:
    number = 0
    for letter in letters:
        number = number * 26 + letter - ord("A") + 1
    return number


def get_column_letter(number: int) -> str:
    """A column's letters (1: A, 27: AA), as the cells of a message name it."""
    letters = ""
    while number:
        number, left = divmod(number - 1, 26)
        letters = chr(ord("A") + left) + letters
    return letters


def first(exc: BaseException) -> str:
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


def _header(sheet: _Sheet, mapping: Mapping_) -> tuple[int, dict[int, str]] | None:
    """The header row (its index) and the field of each of its columns: the row among the
    first that names most fields (at least three), with a second header row under merged
    group headers (当事人 over 姓名 | 电话) read into the first."""
    best: tuple[int, dict[int, str]] | None = None
    for index, row in enumerate(sheet.rows[:_HEADER_SEARCH]):
        found = _named(row, mapping)
        if len(found) >= 3 and (best is None or len(found) > len(best[1])):
            best = (index, found)
    if best is None:
        return None
    index, found = best
    if index + 1 < len(sheet.rows):
        under = _named(sheet.rows[index + 1], mapping)
        above = sheet.rows[index]
        # a second header row: its names sit under a group spread over several columns
        grouped = {
            c: name
            for c, name in under.items()
            if c < len(above) and above[c] is not None and sum(v == above[c] for v in above) > 1
        }
        if len(grouped) >= 2:
            found.update(grouped)
            index += 1
    return index, found


def _named(row: Sequence[Any], mapping: Mapping_) -> dict[int, str]:
    found: dict[int, str] = {}
    taken: set[str] = set()
    for column, value in enumerate(row):
        name = mapping.headers.get(_normal(value)) if value is not None else None
        if name is not None and name not in taken:
            found[column] = name
            taken.add(name)
    return found


# The cells ------------------------------------------------------------------------------

_DATE = re.compile(
    r"^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?"
    r"(?:[\sT]+(\d{1,2})[:：时](\d{1,2})(?:[:：分](\d{1,2})秒?)?)?$"
)
_COMPACT_DATE = re.compile(r"^(\d{4})(\d{2})(\d{2})$")
DATE_FORMS = "2026-03-02, 2026/3/2, 2026年3月2日 or 2026.3.2"


def parse_date(value: Any, zone: ZoneInfo) -> datetime:
    """A moment from a ledger's cell: an Excel date (a date cell, or its serial number) or
    text in the forms offices type; a day alone is its start, in ``zone``. Raise
    ValueError with what it takes."""
    if isinstance(value, datetime):
        return value.replace(tzinfo=zone) if value.tzinfo is None else value
    if isinstance(value, date):
        return datetime.combine(value, time(), zone)
    if isinstance(value, int | float) and not isinstance(value, bool):
        if 20_000 <= value <= 80_000:  # an Excel serial: 1954 to 2119
            moment = datetime(1899, 12, 30, tzinfo=zone) + timedelta(days=value)
            return moment
        raise ValueError(f"not a date; give {DATE_FORMS}")
    text = str(value).strip()
    found = _DATE.match(text) or _COMPACT_DATE.match(text)
    if found is None:
        raise ValueError(f"not a date; give {DATE_FORMS}")
    year, month, day, *clock = [int(p) if p else 0 for p in found.groups()]
    clock += [0] * (3 - len(clock))
    try:
        return datetime(year, month, day, clock[0], clock[1], clock[2], tzinfo=zone)
    except ValueError:
        raise ValueError(f"no such day: {text}") from None


def parse_risk(value: Any) -> str:
    """high, medium or low from 高/中/低, 红/橙/黄 (or high, medium, low)."""
    text = _normal(value).removesuffix("等级").removesuffix("预警")
    for risk, names in RISKS.items():
        if text in names:
            return risk
    raise ValueError("not a risk; give 高/中/低 or 红/橙/黄")


_NOT_VISITED = ("未回访", "无", "-", "/", "")
_YES = ("是", "已确认", "已司法确认", "确认", "yes", "y", "true", "1", "√")
_NO = ("否", "未确认", "无", "no", "n", "false", "0", "-", "/")
_REFERRED = (("法院", "court"), ("诉讼", "court"), ("仲裁", "arbitration"), ("公安", "police"),
             ("派出所", "police"), ("信访", "petition"))  # fmt: skip


def _choice(value: Any, choices: Mapping[str, tuple[str, ...]], what: str) -> str:
    text = _normal(value)
    for code, names in choices.items():
        if text in names:
            return code
    known = "/".join(names[0] for names in choices.values())
    raise ValueError(f"not a {what}; give {known}")


def _amount(value: Any) -> str:
    if isinstance(value, int | float) and not isinstance(value, bool):
        amount = Decimal(str(value))
    else:
        text = _normal(value).replace(",", "").replace("，", "").removesuffix("元")
        factor = Decimal(1)
        if text.endswith("万"):
            text, factor = text[:-1], Decimal(10_000)
        try:
            amount = Decimal(text) * factor
        except InvalidOperation:
            raise ValueError("not an amount; give yuan, e.g. 1200, 1,200.50 or 1.2万") from None
    if amount < 0 or amount != amount.quantize(Decimal("0.01")):
        raise ValueError("not an amount; give yuan, at most two decimals")
    return str(amount.quantize(Decimal("0.01")) if amount % 1 else amount.quantize(Decimal(1)))


_SPLIT = re.compile(r"[、，,;；/\n]+")
_ROLE = re.compile(r"^(.*?)[(（](.+?)[)）]$")


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = str(value).strip()
    return text or None


def _parts(parts: list[str]) -> list[str]:
    stripped = [p.strip() for p in parts]
    while stripped and not stripped[-1]:
        stripped.pop()
    return stripped


def _parties(names: Any, phones: Any, ids: Any, addresses: Any) -> list[dict[str, Any]]:
    """The parties from the cells that list them in the same order: 张三（申请人）、李四."""
    # each cell's parts in place, an empty part kept (the party with no phone: 、139…)
    columns = [_parts(_SPLIT.split(_text(cell) or "")) for cell in (names, phones, ids)]
    places = _parts(re.split(r"[;；\n]+", _text(addresses) or ""))
    parties: list[dict[str, Any]] = []
    for index in range(max(len(columns[0]), len(columns[1]), len(columns[2]), len(places))):
        party: dict[str, Any] = {}
        if index < len(columns[0]) and columns[0][index]:
            name = columns[0][index]
            role = _ROLE.match(name)
            if role is not None:
                name, party["role"] = role.group(1).strip(), role.group(2).strip()
            party["name"] = name
        for key, values in (("phone", columns[1]), ("id_number", columns[2]), ("address", places)):
            if index < len(values) and values[index]:
                party[key] = values[index]
        parties.append(party)
    return parties


# The rows -------------------------------------------------------------------------------


def read_ledger(
    path: Path, mapping: Mapping_, *, rules: RuleSet, zone: ZoneInfo
) -> list[LedgerRow]:
    """Every dispute row of every sheet with a header row; raise :class:`Problems` naming
    every bad cell (and a ledger with no header at all, or a number given twice)."""
    problems: list[str] = []
    rows: list[LedgerRow] = []
    found_header = False
    numbers: dict[str, str] = {}
    called = (code_names(rules.categories), code_names(rules.sources))
    for sheet in _sheets(path):
        header = _header(sheet, mapping)
        if header is None:
            continue
        found_header = True
        index, columns = header
        missing = [name for name in ("number", "registered") if name not in columns.values()]
        if "unit" not in columns.values() and "unit" not in mapping.defaults:
            missing.append("unit")
        if missing:
            problems.append(
                f"{path}:{sheet.name}!{index + 1}: no column for "
                + ", ".join(_HEADER_NAMES.get(m, m) for m in missing)
                + " (name it as headers.yaml does, or give a mapping)"
            )
            continue
        number_column = next(c for c, name in columns.items() if name == "number")
        for number, line in enumerate(sheet.rows[index + 1 :], start=index + 2):
            if all(_text(v) is None for v in line):
                continue
            given = _text(line[number_column]) if number_column < len(line) else None
            cell = f"{sheet.name}!{get_column_letter(number_column + 1)}{number}"
            if given is not None and given in numbers:
                problems.append(f"{path}:{cell}: number {shown(given)} is also at {numbers[given]}")
                continue
            if given is not None:
                numbers[given] = cell
            row = _row(path, sheet.name, number, line, columns, mapping, rules, called, zone,
                       problems)  # fmt: skip
            if row is not None:
                rows.append(row)
    if not found_header:
        raise BadInput(
            f"{path}: no header row found: a row naming at least three of the columns "
            "(编号, 登记日期, 当事人, 纠纷类型, …) in the first 30 rows"
        )
    if problems:
        raise Problems(problems)
    return rows


_HEADER_NAMES = {"number": "编号 (number)", "registered": "登记日期 (registered)",
                 "unit": "登记单位 (unit; or a default in the mapping)"}  # fmt: skip


def _row(
    path: Path,
    sheet: str,
    number: int,
    line: Sequence[Any],
    columns: Mapping[int, str],
    mapping: Mapping_,
    rules: RuleSet,
    called: tuple[dict[str, str], dict[str, str]],
    zone: ZoneInfo,
    problems: list[str],
) -> LedgerRow | None:
    cells = {name: f"{sheet}!{get_column_letter(c + 1)}{number}" for c, name in columns.items()}
    raw = {name: (line[c] if c < len(line) else None) for c, name in columns.items()}
    before = len(problems)

    def bad(name: str, message: str) -> None:
        where = cells.get(name, f"{sheet}!{number}")
        problems.append(f"{path}:{where}: {message}")

    def value(name: str, parse: Any, *, required: str | None = None) -> Any:
        cell = raw.get(name)
        if _text(cell) is None:
            if name in mapping.defaults:
                cell = mapping.defaults[name]
            else:
                if required:
                    bad(name, f"{required} is empty")
                return None
        try:
            return parse(cell)
        except ValueError as exc:
            bad(name, str(exc))
            return None

    ledger_no = value("number", _number, required="the number (编号)")
    registered = value("registered", lambda v: parse_date(v, zone), required="the date (登记日期)")
    unit = value("unit", lambda v: _text(v) or "", required="the unit (登记单位)")
    risk = value("risk", parse_risk) if ("risk" in raw or "risk" in mapping.defaults) else "low"
    category = value("category", lambda v: _coded(rules.categories, called[0], v, "category"))
    source = value("source", lambda v: _coded(rules.sources, called[1], v, "source"))
    description = value("description", lambda v: _long(v, 2000))
    title = value("title", lambda v: _long(v, 500))
    people = value("people_involved", _count)
    location = value("location", lambda v: _long(v, 500))
    method = value("method", lambda v: _choice(v, METHODS, "method of mediation"))
    agreement = value("agreement", lambda v: _choice(v, AGREEMENTS, "form of agreement"))
    amount = value("amount", _amount)
    terms = value("terms", lambda v: _long(v, 500))
    mediators = value("mediators", lambda v: _long(v, 200))
    dates = {
        name: value(name, lambda v: parse_date(v, zone))
        for name in ("resolved", "visited", "closed")
    }
    visit = value("visit", _visit)
    confirmed = value("confirmed", _yes_no)
    ending = value("outcome", _ending) or value("status", _ending)
    parties: list[dict[str, Any]] = []
    if any(raw.get(n) is not None for n in ("parties", "phones", "id_numbers", "addresses")):
        try:
            parties = validate_parties(
                _parties(
                    raw.get("parties"),
                    raw.get("phones"),
                    raw.get("id_numbers"),
                    raw.get("addresses"),
                )  # fmt: skip
            )
        except InvalidParties as exc:
            field_of = {"phone": "phones", "id_number": "id_numbers", "address": "addresses"}
            named = next((f for key, f in field_of.items() if f".{key}" in str(exc)), "parties")
            bad(named if named in cells else "parties", str(exc))
    if len(problems) > before:
        return None
    assert ledger_no is not None and registered is not None and unit is not None
    category = category or ("other" if "other" in rules.categories else "其它")
    if title is None:
        label = (
            rules.categories[category].label_in("zh") if category in rules.categories else category
        )
        title = (description or f"{label}纠纷")[:30]
    state, referred = ending if ending is not None else (None, None)
    resolved, visited, closed = dates["resolved"], dates["visited"], dates["closed"]
    withdrawn = None
    if state == "withdrawn":
        withdrawn = closed or registered
        closed = None
    elif state == "referred":
        pass
    elif resolved is None and (
        state in ("resolved", "closed") or visit is not None or agreement or amount is not None
    ):
        resolved = closed or visited or registered
    if state == "closed" and closed is None:
        closed = visited or resolved or registered
    for name, moment in (("resolved", resolved), ("visited", visited), ("closed", closed)):
        if moment is not None and moment < registered:
            bad(name, f"{moment.date().isoformat()} is before the date registered "
                      f"({registered.date().isoformat()})")  # fmt: skip
    if visit is not None and visited is None:
        visited = closed or resolved
    if visited is not None and visit is None:
        visit = "stable"
    if len(problems) > before:
        return None
    return LedgerRow(
        sheet=sheet,
        row=number,
        cells=cells,
        number=ledger_no,
        registered=registered,
        unit=unit,
        risk=risk or "low",
        category=category,
        title=title,
        description=description,
        source=source,
        parties=tuple(parties),
        people_involved=people or max(1, len(parties)),
        location=location,
        method=method,
        agreement=agreement or ("written" if amount is not None or terms else "oral"),
        amount=amount,
        terms=terms,
        mediators=mediators,
        resolved=resolved if state != "referred" else None,
        visit=visit if resolved is not None else None,
        visited=visited if resolved is not None else None,
        closed=closed,
        withdrawn=withdrawn,
        referred=referred,
        confirmed=confirmed,
    )


def _number(value: Any) -> str:
    text = _text(value) or ""
    if len(text) > 64:
        raise ValueError(f"a number of {len(text)} characters; at most 64")
    return text


def _long(value: Any, longest: int) -> str:
    text = _text(value) or ""
    if len(text) > longest:
        raise ValueError(f"{len(text):,} characters; at most {longest:,}")
    if "\x00" in text:
        raise ValueError("may not contain a NUL character")
    return text


def _count(value: Any) -> int:
    text = _text(value) or ""
    text = text.removesuffix("人")
    if not text.isdigit() or not 1 <= int(text) <= 1_000_000:
        raise ValueError("not a number of people; give a whole number from 1")
    return int(text)


def _coded(table: Mapping[str, Any], called: Mapping[str, str], value: Any, what: str) -> str:
    text = _text(value) or ""
    if not table:
        return text
    code = called.get(text.strip().casefold())
    if code is None:
        known = "、".join(entry.label_in("zh") for entry in table.values())
        raise ValueError(f"unknown {what} {shown(text)}; known: {known}")
    return code


def _visit(value: Any) -> str | None:
    text = _normal(value)
    if text in _NOT_VISITED:
        return None
    if any(text.startswith(word) or word in text for word in VISITS["relapsed"]):
        return "relapsed"
    if any(word in text for word in VISITS["stable"]):
        return "stable"
    raise ValueError("not a return visit's outcome; give 稳定 (已回访) or 反复 (复发), or 未回访")


def _yes_no(value: Any) -> bool:
    text = _normal(value)
    if text in _YES:
        return True
    if text in _NO:
        return False
    raise ValueError("give 是 or 否")


_RESOLVED = ("调解成功", "成功", "已化解", "化解", "达成协议", "已调解", "调解成功结案")
_CLOSED = ("已结案", "结案", "已办结", "办结", "已完结")
_OPEN = ("调解中", "在办", "办理中", "未化解", "正在调解", "待调解", "调解不成功", "未结案", "失败")
_WITHDRAWN = ("撤回", "已撤回", "撤诉", "当事人撤回")


def _ending(value: Any) -> tuple[str | None, tuple[str, str] | None]:
    """What became of it: resolved, closed, open (None), withdrawn, or referred and to whom."""
    text = _normal(value)
    if text in _RESOLVED:
        return "resolved", None
    if text in _CLOSED:
        return "closed", None
    if text in _OPEN:
        return None, None
    if text in _WITHDRAWN:
        return "withdrawn", None
    if text.startswith(("转", "移交", "移送", "引导")):
        for word, to in _REFERRED:
            if word in text:
                return "referred", (to, _text(value) or "")
    raise ValueError(
        "not an outcome; give 调解成功, 已结案, 调解中, 撤回, or 转法院 (转仲裁, 移交公安, 转信访)"
    )
