"""The ledger (台账) on the web: a ledger uploaded (read within a size limit, checked by a
dry run, kept between the preview and its confirmation in the page, base64), the rows its
preview shows, and the file name of a ledger given out."""

from __future__ import annotations

import base64
import binascii
import io
import tempfile
import unicodedata
import zipfile
from collections.abc import AsyncGenerator, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from sqlalchemy import Engine
from starlette.datastructures import FormData
from starlette.formparsers import FormParser, MultiPartException, MultiPartParser
from starlette.requests import Request

from models.values import Actor
from rules.policy import Policy
from workflows.errors import BadInput, NotFound
from workflows.ledger import PREVIEW, LedgerRow, LedgerSummary, Problems, import_ledger

__all__ = [
    "CONFIRM_BODY",
    "LARGEST",
    "LARGEST_UNPACKED",
    "PREVIEW_ROWS",
    "UPLOAD_BODY",
    "XLSX",
    "Preview",
    "TooLarge",
    "bring_in",
    "check",
    "decoded",
    "download_disposition",
    "encoded",
    "ledger_name",
    "read_form",
]

# Bytes of a ledger uploaded: about 28,000 rows, checked in some 20 s (bench/ledger.py), and
# as long again to bring in; a larger ledger goes by the command line, not a web request.
LARGEST = 2 * 1024 * 1024
# An .xlsx is a zip of XML read whole into memory: what it unpacks to is bounded too.
LARGEST_UNPACKED = 20 * LARGEST
PREVIEW_ROWS = PREVIEW  # rows a preview lists: the import's own
SUFFIXES = (".xlsx", ".csv")
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
_ENCODED = 4 * -(-LARGEST // 3)  # the largest ledger in base64, as the confirmation carries it
_FRAMING = 64 * 1024  # the form's other fields and its multipart boundaries
UPLOAD_BODY = LARGEST + _FRAMING
CONFIRM_BODY = _ENCODED + _FRAMING
_LONGEST_NAME = 180  # bytes of a file name kept (file systems take 255)


class TooLarge(BadInput):
    """A ledger, or a request carrying one, larger than the app takes (HTTP 413)."""

    def __init__(self) -> None:
        super().__init__(f"a ledger uploaded is at most {LARGEST // 2**20} MB")


async def read_form(request: Request, *, largest: int) -> FormData:
    """The form of ``request``, refused as :class:`TooLarge` once its body is larger than
    ``largest`` bytes: at once if it says so, else as soon as that much has come, before
    the rest is read or spooled to disk."""
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > largest:
        raise TooLarge()

    async def limited() -> AsyncGenerator[bytes, None]:
        seen = 0
        async for chunk in request.stream():
            seen += len(chunk)
            if seen > largest:
                raise TooLarge()
            yield chunk

    kind = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    try:
        if kind == "multipart/form-data":
            return await MultiPartParser(
                request.headers,
                limited(),
                max_files=1,
                max_fields=8,
                max_part_size=_ENCODED + 1024,
            ).parse()
        if kind == "application/x-www-form-urlencoded":
            return await FormParser(
                request.headers, limited(), max_fields=8, max_part_size=_ENCODED + 1024
            ).parse()
    except MultiPartException as exc:
        raise BadInput(exc.message) from None
    return FormData()


def ledger_name(given: str) -> str:
    """The name of a ledger uploaded, as problems name it: without a folder or control
    characters, not too long, of a kind the import reads (.xlsx or .csv)."""
    name = given.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(c for c in name if unicodedata.category(c)[0] != "C").strip()
    stem, suffix = Path(name).stem, Path(name).suffix.lower()
    if suffix not in SUFFIXES or not stem:
        raise BadInput(
            f"{name or 'the file'}: a ledger is an Excel workbook (.xlsx) or a CSV file (.csv)"
        )
    while len((stem + suffix).encode()) > _LONGEST_NAME:
        stem = stem[:-1]
    return stem + suffix


def encoded(content: bytes) -> str:
    """A ledger as the confirmation's hidden field carries it."""
    return base64.urlsafe_b64encode(content).decode("ascii")


def decoded(data: str) -> bytes:
    """The ledger a confirmation carries back; BadInput if it is not one."""
    if len(data) > _ENCODED:
        raise TooLarge()
    try:
        content = base64.b64decode(data, altchars=b"-_", validate=True)
    except (binascii.Error, ValueError):
        raise BadInput("the ledger was not carried back whole: upload it again") from None
    if not content:
        raise BadInput("the ledger was not carried back: upload it again")
    return content


@dataclass(frozen=True)
class Preview:
    """A dry run's answer: what the import would do, the first rows as read, and the
    ledger for the confirmation to carry back."""

    name: str
    summary: LedgerSummary
    rows: list[dict[str, Any]]  # the first PREVIEW_ROWS, shaped for the page
    data: str


def check(
    *, engine: Engine, policy: Policy, now: datetime, actor: Actor, name: str, content: bytes
) -> Preview:
    """Check the ledger uploaded as ``name`` as its import would, recording nothing; raise
    :class:`Problems` (each line naming ``name``) or BadInput as the import does."""
    with _uploaded(name, content) as path:
        summary = _named(
            lambda: import_ledger(
                engine=engine, policy=policy, now=now, actor=actor, path=path, dry_run=True
            ),
            path,
            name,
        )
    return Preview(
        name=name,
        summary=replace(summary, path=name, preview=()),
        rows=[_shown(row, status) for row, status in summary.preview[:PREVIEW_ROWS]],
        data=encoded(content),
    )


def bring_in(
    *, engine: Engine, policy: Policy, now: datetime, actor: Actor, name: str, content: bytes
) -> LedgerSummary:
    """Bring in the ledger uploaded as ``name``, checked again in full."""
    with _uploaded(name, content) as path:
        summary = _named(
            lambda: import_ledger(engine=engine, policy=policy, now=now, actor=actor, path=path),
            path,
            name,
        )
    return replace(summary, path=name)


@contextmanager
def _uploaded(name: str, content: bytes) -> Iterator[Path]:
    """The ledger in a temporary file of its own name (its suffix tells the reader its kind,
    a CSV's sheet is its name), deleted afterwards."""
    if len(content) > LARGEST:
        raise TooLarge()
    if name.lower().endswith(".xlsx"):
        _unpacked(name, content)
    with tempfile.TemporaryDirectory(prefix="fq-ledger-") as folder:
        path = Path(folder) / name
        path.write_bytes(content)
        yield path


def _unpacked(name: str, content: bytes) -> None:
    """Refuse a workbook that would unpack to more than LARGEST_UNPACKED (a zip bomb)."""
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as book:
            size = sum(member.file_size for member in book.infolist())
    except (zipfile.BadZipFile, OSError, EOFError, ValueError):
        return  # the reader says what is wrong with it
    if size > LARGEST_UNPACKED:
        raise BadInput(
            f"{name}: unpacks to {size // 2**20:,} MB; a ledger uploaded unpacks to at most "
            f"{LARGEST_UNPACKED // 2**20} MB"
        )


def _named(run: Callable[[], LedgerSummary], path: Path, name: str) -> LedgerSummary:
    """``run()``, its problems naming the ledger as uploaded, not its temporary file."""
    where = str(path)
    try:
        summary = run()
    except Problems as exc:
        raise Problems([line.replace(where, name) for line in exc.lines]) from None
    except BadInput as exc:  # a file the reader cannot read says where it is
        if where not in str(exc) or type(exc) not in (BadInput, NotFound):
            raise
        raise type(exc)(str(exc).replace(where, name)) from None
    return summary


def _shown(row: LedgerRow, status: str | None) -> dict[str, Any]:
    """What a preview shows of a row: never the parties' phones or ID numbers."""
    return {
        "at": f"{row.sheet}!{row.row}",
        "number": row.number,
        "registered": _day(row.registered),
        "unit": row.unit,
        "category": row.category,
        "risk": row.risk,
        "title": row.title,
        "status": status,  # None: brought in before
        "method": row.method,
        "resolved": _day(row.resolved),
        "visit": row.visit,
        "closed": _day(row.closed),
        "withdrawn": _day(row.withdrawn),
        "referred": row.referred[0] if row.referred else None,
    }


def _day(moment: datetime | None) -> str | None:
    return moment.date().isoformat() if moment is not None else None


def download_disposition(unit: str, day: date) -> str:
    """The Content-Disposition of a ledger given out: 台账-UNIT-DAY.xlsx (RFC 5987), with
    an ASCII name for clients that know no other."""
    name = f"台账-{unit}-{day.isoformat()}.xlsx"
    plain = "".join(c if c.isascii() and (c.isalnum() or c in "-_.") else "_" for c in unit)
    return (
        f'attachment; filename="ledger-{plain}-{day.isoformat()}.xlsx"; '
        f"filename*=UTF-8''{quote(name, safe='')}"
    )
