"""Statements run on the database driver itself, for the paths that run the same few
statements thousands of times: recording an event, the sweep's and an import's writes.

Through the Session each statement costs some 0.3–0.6 ms of SQLAlchemy's own work (its
cache key, parameter and result processing, the ORM's execution events), several times
what the database spends on it (bench/README.md). Here a Core statement is compiled once
per dialect (and per set of columns, for an insert or an update), and its values are
converted by the columns' own types (``UTCDateTime``, JSON, booleans), the conversions
SQLAlchemy would apply, worked out once. The statements run on the DBAPI cursor of the
Session's connection, inside its transaction; the driver's errors are raised as
SQLAlchemy's own (``DataError``, ``IntegrityError`` …), without their parameters.

SQLAlchemy offers nothing between its full execution path and the bare driver (its
``exec_driver_sql`` still pays the execution context and result processing), hence this
small module: compiling, the type processors and the error wrapping remain SQLAlchemy's.
"""

from __future__ import annotations

import itertools
import re
from collections import namedtuple
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import (
    JSON,
    ColumnElement,
    Table,
    bindparam,
    exc,
    func,
    insert,
    literal_column,
    select,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.engine import Dialect
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.compiler import SQLCompiler
from sqlmodel import Session

__all__ = [
    "each",
    "execute_many",
    "fetch",
    "fetch_one",
    "fetch_together",
    "insert_returning",
    "insert_rows",
    "one_of",
    "pipelined",
]

Processor = Callable[[Any], Any] | None


@dataclass(frozen=True)
class _Compiled:
    sql: str
    names: tuple[str, ...]  # the parameters, in the order the driver takes them
    processors: tuple[Processor, ...]
    defaults: Mapping[str, Any]  # values fixed in the statement (a limit, a constant list)
    row: Any  # a named tuple of the selected columns, if the statement selects
    results: tuple[Processor, ...]


_NAMED = re.compile(r"%\((\w+)\)s")
_COMPILED: dict[
    tuple[int, int, tuple[str, ...]], tuple[tuple[ClauseElement, Dialect], _Compiled]
] = {}


def _compiled(statement: ClauseElement, dialect: Dialect, keys: tuple[str, ...]) -> _Compiled:
    """``statement`` compiled for ``dialect`` (with ``keys`` as an insert's or update's
    columns), once per engine. Statements are module constants: the cache holds them by
    identity, and keeps each alive so that its identity is never reused; so too the
    dialect, whose processors are the engine's (the parties' data is sealed with its key)."""
    cache_key = (id(statement), id(dialect), keys)
    found = _COMPILED.get(cache_key)
    if found is not None:
        return found[1]
    compiled: SQLCompiler = statement.compile(  # type: ignore[assignment]
        dialect=dialect, column_keys=list(keys) if keys else None
    )
    sql = compiled.string
    if compiled.positional:
        names = tuple(compiled.positiontup or ())
    else:
        # Named ``%(name)s`` (psycopg's paramstyle) made positional ``%s``: the driver then
        # takes a tuple, without mapping names to places on every execution.
        names = tuple(_NAMED.findall(sql))
        sql = _NAMED.sub("%s", sql)
    binds = compiled.binds
    processors = tuple(
        binds[name].type.dialect_impl(dialect).bind_processor(dialect) for name in names
    )
    defaults = {
        name: bind.effective_value
        for bind, name in compiled.bind_names.items()
        if not bind.required and bind.effective_value is not None
    }
    # An insert's columns left out of ``keys`` that have a default in Python: the value
    # SQLAlchemy would compute for them.
    for column in compiled.insert_prefetch:
        default: Any = column.default
        if default is not None and default.is_scalar:
            defaults[column.key] = default.arg
        elif default is not None and default.is_callable:
            defaults[column.key] = default.arg(None)
    selected = getattr(statement, "selected_columns", None)
    returning = getattr(statement, "_returning", ())  # an insert's RETURNING columns
    columns = list(selected) if selected is not None else list(returning)
    row = namedtuple("Row", [c.key for c in columns], rename=True) if columns else None
    results = tuple(c.type.dialect_impl(dialect).result_processor(dialect, None) for c in columns)
    made = _Compiled(sql, names, processors, defaults, row, results)
    _COMPILED[cache_key] = ((statement, dialect), made)
    return made


def _values(compiled: _Compiled, params: Mapping[str, Any]) -> Any:
    values = [
        params[name] if name in params else compiled.defaults.get(name) for name in compiled.names
    ]
    converted = [
        value if process is None or value is None else process(value)
        for process, value in zip(compiled.processors, values, strict=True)
    ]
    return tuple(converted)


def _rows(compiled: _Compiled, raw: Iterable[Sequence[Any]]) -> list[Any]:
    make, processors = compiled.row._make, compiled.results
    if not any(processors):
        return [make(values) for values in raw]
    return [
        make(
            [
                value if process is None or value is None else process(value)
                for process, value in zip(processors, values, strict=True)
            ]
        )
        for values in raw
    ]


_CONNECTION = "fengqiao_driver_connection"


def _connection(session: Session) -> tuple[Dialect, Any]:
    """The dialect and the pooled DBAPI connection of the Session's transaction, found once
    per transaction (asking the Session for its connection costs more than a statement on
    SQLite)."""
    transaction = session.get_transaction()
    held = session.info.get(_CONNECTION)
    if held is None or transaction is None or held[0] is not transaction:
        connection = session.connection()
        held = (session.get_transaction(), connection.dialect, connection.connection)
        session.info[_CONNECTION] = held
    return held[1], held[2]


class _Cursor:
    """A driver cursor of the Session's connection, its errors made SQLAlchemy's. Cursors
    are left to the garbage collector: in a pipeline a cursor's results may come after
    the block that made it."""

    def __init__(self, session: Session) -> None:
        self.dialect, connection = _connection(session)
        self.cursor: Any = connection.cursor()

    def __enter__(self) -> _Cursor:
        return self

    def __exit__(self, kind: Any, error: BaseException | None, _tb: Any) -> None:
        _reraise(self.dialect, error)


def _reraise(dialect: Dialect, error: BaseException | None) -> None:
    base = dialect.loaded_dbapi.Error
    if error is not None and isinstance(error, base):
        raise exc.DBAPIError.instance(
            None, None, error, base, hide_parameters=True, dialect=dialect
        ) from error


@contextmanager
def pipelined(session: Session) -> Iterator[None]:
    """Send the statements of the block together (PostgreSQL's pipeline mode): the block
    costs one round trip to the server, plus one for each result read inside it. On
    SQLite, embedded, there is no round trip to save and nothing changes."""
    dialect, connection = _connection(session)
    driver = connection.driver_connection
    if dialect.name != "postgresql" or driver._pipeline is not None:
        yield
        return
    try:
        with driver.pipeline():
            yield
    except Exception as error:
        _reraise(dialect, error)
        raise


def fetch(
    session: Session, statement: ClauseElement, params: Mapping[str, Any] | None = None
) -> list[Any]:
    """Run ``statement`` once with ``params``; the rows it returns (a select's, or an
    insert's RETURNING), as named tuples."""
    return fetch_together(session, [(statement, params or {})])[0]


def fetch_one(
    session: Session, statement: ClauseElement, params: Mapping[str, Any] | None = None
) -> Any:
    """The first row a select returns, or None."""
    rows = fetch(session, statement, params)
    return rows[0] if rows else None


def fetch_together(
    session: Session, queries: Sequence[tuple[ClauseElement, Mapping[str, Any]]]
) -> list[list[Any]]:
    """Run several statements, in order, in one round trip to the server (all are sent
    before any result is read); the rows of each."""
    with pipelined(session) if len(queries) > 1 else nullcontext():
        sent = []
        for statement, params in queries:
            with _Cursor(session) as run:
                keys = tuple(params) if _takes_columns(statement) else ()
                compiled = _compiled(statement, run.dialect, keys)
                run.cursor.execute(compiled.sql, _values(compiled, params))
                sent.append((run, compiled))
        found = []
        for run, compiled in sent:
            with run:
                found.append([] if compiled.row is None else _rows(compiled, run.cursor.fetchall()))
    return found


def execute_many(
    session: Session, statement: ClauseElement, rows: Sequence[Mapping[str, Any]]
) -> None:
    """Run ``statement`` once per row (the driver's executemany; on PostgreSQL psycopg
    pipelines them). Every row has the keys of the first."""
    if not rows:
        return
    with _Cursor(session) as run:
        keys = tuple(rows[0]) if _takes_columns(statement) else ()
        compiled = _compiled(statement, run.dialect, keys)
        params = [_values(compiled, row) for row in rows]
        if len(params) == 1:
            run.cursor.execute(compiled.sql, params[0])  # no pipeline of its own for one
        else:
            run.cursor.executemany(compiled.sql, params)


def insert_rows(
    session: Session,
    table: Table,
    rows: Iterable[Mapping[str, Any]],
    *,
    raw: tuple[str, ...] = (),
) -> int:
    """Insert many rows into ``table``: PostgreSQL's COPY (one stream, no statement per
    row), or SQLite's executemany; how many. Every row has the keys of the first; the rows
    may come from a generator, converted one by one as the driver takes them (none is kept).
    The columns ``raw`` are given as the driver takes them (a JSON column's text)."""
    rows = iter(rows)
    first = next(rows, None)
    if first is None:
        return 0
    with _Cursor(session) as run:
        statement = _INSERTS.setdefault(table.name, insert(table))
        compiled = _compiled(statement, run.dialect, tuple(first))
        if raw:
            compiled = replace(
                compiled,
                processors=tuple(
                    None if name in raw else process
                    for name, process in zip(compiled.names, compiled.processors, strict=True)
                ),
            )
        counted = [0]

        def params() -> Iterator[Any]:
            for row in itertools.chain([first], rows):
                counted[0] += 1
                yield _values(compiled, row)

        if run.dialect.name != "postgresql":
            run.cursor.executemany(compiled.sql, params())
        else:
            columns = ", ".join(compiled.names)
            with run.cursor.copy(f"COPY {table.name} ({columns}) FROM STDIN") as copy:
                for values in params():
                    copy.write_row(values)
    return counted[0]


def each(
    session: Session, statement: ClauseElement, params: Mapping[str, Any] | None = None
) -> Iterator[Any]:
    """The rows a select returns, as named tuples, a few thousand at a time: on PostgreSQL
    from a cursor on the server, so that neither side holds them all at once."""
    with _Cursor(session) as run:
        compiled = _compiled(statement, run.dialect, ())
        cursor = run.cursor
        if run.dialect.name == "postgresql":
            cursor = _connection(session)[1].cursor(name="fengqiao_each")
        try:
            cursor.execute(compiled.sql, _values(compiled, params or {}))
            while True:
                batch = cursor.fetchmany(5_000)
                if not batch:
                    return
                yield from _rows(compiled, batch)
        finally:
            cursor.close()


_INSERTS: dict[str, Any] = {}


def insert_returning(
    session: Session, statement: ClauseElement, rows: Sequence[Mapping[str, Any]]
) -> list[Any]:
    """Run an insert with one RETURNING column once per row; the values returned, in the
    rows' order. PostgreSQL takes them in one pipelined executemany; SQLite, embedded,
    one execute each."""
    if not rows:
        return []
    with _Cursor(session) as run:
        keys = tuple(rows[0])
        compiled = _compiled(statement, run.dialect, keys)
        params = [_values(compiled, row) for row in rows]
        found: list[Any] = []
        if run.dialect.name == "postgresql":
            run.cursor.executemany(compiled.sql, params, returning=True)
            while True:
                found.extend(_rows(compiled, run.cursor.fetchall()))
                if not run.cursor.nextset():
                    break
        else:
            for values in params:
                run.cursor.execute(compiled.sql, values)
                found.extend(_rows(compiled, run.cursor.fetchall()))
        return [row[0] for row in found]


def one_of(column: ColumnElement[Any], name: str, dialect: str) -> ColumnElement[bool]:
    """``column`` is one of the list given as the parameter ``name``: one statement for one
    value or thousands (``= ANY(array)`` on PostgreSQL, ``IN json_each(…)`` on SQLite),
    where ``IN (…)`` would be a new statement for each length."""
    if dialect == "postgresql":
        return column == func.any(bindparam(name, type_=ARRAY(column.type)))
    values: Any = func.json_each(bindparam(name, type_=JSON))
    return column.in_(select(literal_column("value")).select_from(values))


def _takes_columns(statement: ClauseElement) -> bool:
    """An insert or an update without values of its own: its columns are the row's keys."""
    return bool(statement.is_dml) and not getattr(statement, "_values", None)
