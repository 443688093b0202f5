"""Statements compiled once and run on the driver's cursor, for the per-message path.

The gateway writes five or six rows per message. Through ``Connection.execute``
each statement pays for SQLAlchemy's execution context (parameter processing,
events, result set-up): several times SQLite's own work on these small rows,
and a fifth of the server's CPU per message in ``bench/gateway``. A
:class:`Prepared` statement is a Core statement compiled once per dialect; it
runs on the DBAPI cursor of the session's connection, inside the same
transaction, with the SQL and the type conversions (enum values, SQLite's
datetime strings, JSON) that SQLAlchemy itself would use — the compiled
statement's own bind and result processors — so what is stored is the same.

Parameters are the statement's bind parameters: literal values in the
statement are used as they are, but column defaults are not filled in, so an
INSERT must name every column it sets (``values({...: bindparam(...)})``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Connection
from sqlalchemy.engine import Dialect
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import ClauseElement

Processor = Callable[[Any], Any]


@dataclass(frozen=True, slots=True)
class _Compiled:
    sql: str
    positional: tuple[str, ...] | None  # parameter order for qmark/format drivers; None for named ones
    literals: dict[str, Any]  # parameters with a value in the statement itself (e.g. ``status == HELD``)
    binds: tuple[tuple[str, Processor], ...]  # parameters that need converting, and how
    results: tuple[Processor | None, ...]  # per result column


class Prepared:
    """A Core statement compiled once per dialect and executed on the DBAPI cursor."""

    def __init__(self, statement: ClauseElement) -> None:
        self.statement = statement
        self._compiled: dict[str, _Compiled] = {}

    def _for(self, dialect: Dialect) -> _Compiled:
        compiled = self._compiled.get(dialect.name)
        if compiled is None:
            compiled = self._compiled[dialect.name] = self._compile(dialect)
        return compiled

    def _compile(self, dialect: Dialect) -> _Compiled:
        compiled = cast(SQLCompiler, self.statement.compile(dialect=dialect))
        binds = []
        literals = {}
        for name, bind in compiled.binds.items():
            if bind.callable is not None:
                raise ValueError(f"bind parameter {name!r} has a callable value; pass it as a parameter")
            if not bind.required:
                literals[name] = bind.value
            processor = bind.type.dialect_impl(dialect).bind_processor(dialect)
            if processor is not None:
                binds.append((name, processor))
        results: list[Processor | None] = []
        selected = getattr(self.statement, "selected_columns", None)
        returning = getattr(self.statement, "_returning", ())
        for column in selected if selected is not None else returning:
            results.append(column.type.dialect_impl(dialect).result_processor(dialect, None))
        positional = tuple(compiled.positiontup) if compiled.positiontup is not None else None
        return _Compiled(compiled.string, positional, literals, tuple(binds), tuple(results))

    def execute(self, conn: Connection, params: Mapping[str, Any]) -> Any:
        """Run on ``conn``'s driver connection (in its transaction); the DBAPI cursor, for rows or rowcount."""
        compiled = self._for(conn.dialect)
        values = {**compiled.literals, **params}
        for name, processor in compiled.binds:
            if name in values:
                values[name] = processor(values[name])
        cursor = conn.connection.cursor()
        if compiled.positional is not None:
            cursor.execute(compiled.sql, [values[name] for name in compiled.positional])
        else:
            cursor.execute(compiled.sql, values)
        return cursor

    def first(self, conn: Connection, params: Mapping[str, Any]) -> tuple[Any, ...] | None:
        """The first row, its columns converted as SQLAlchemy converts them; None when there is none."""
        cursor = self.execute(conn, params)
        try:
            row = cursor.fetchone()
        finally:
            cursor.close()
        if row is None:
            return None
        return _convert(row, self._for(conn.dialect).results)

    def rowcount(self, conn: Connection, params: Mapping[str, Any]) -> int:
        cursor = self.execute(conn, params)
        try:
            return int(cursor.rowcount)
        finally:
            cursor.close()


def _convert(row: Sequence[Any], processors: tuple[Processor | None, ...]) -> tuple[Any, ...]:
    return tuple(value if p is None or value is None else p(value) for value, p in zip(row, processors, strict=True))
