"""Small SQL helpers whose text differs per dialect, compiled by SQLAlchemy.

Everything else in the feature definitions is portable Core; only "how many days lie between two
timestamps" needs ``julianday`` on SQLite and ``EXTRACT(EPOCH ...)`` on PostgreSQL, and one
planner hint is only worth its cost on PostgreSQL.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import Float, String, cast, func
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.functions import FunctionElement


class days_between(FunctionElement[float]):  # noqa: N801 - reads like the SQL function it is
    """``later - earlier`` in (fractional) days, as a float; either side may be a DATE."""

    type = Float()
    inherit_cache = True
    name = "days_between"


@compiles(days_between)
def _days_between_default(element: days_between, compiler: SQLCompiler, **kw: Any) -> str:
    later, earlier = list(element.clauses)
    return (
        f"(julianday({compiler.process(later, **kw)})"
        f" - julianday({compiler.process(earlier, **kw)}))"
    )


@compiles(days_between, "postgresql")
def _days_between_postgres(element: days_between, compiler: SQLCompiler, **kw: Any) -> str:
    later, earlier = list(element.clauses)
    return (
        f"(CAST(EXTRACT(EPOCH FROM (CAST({compiler.process(later, **kw)} AS TIMESTAMP)"
        f" - CAST({compiler.process(earlier, **kw)} AS TIMESTAMP))) AS DOUBLE PRECISION)"
        " / 86400.0)"
    )


class postgres_only(FunctionElement[bool]):  # noqa: N801 - reads like SQL
    """A redundant condition kept on PostgreSQL (a planner hint) and dropped (TRUE) elsewhere."""

    inherit_cache = True
    name = "postgres_only"


@compiles(postgres_only)
def _postgres_only_default(element: postgres_only, compiler: SQLCompiler, **kw: Any) -> str:
    return "1 = 1"


@compiles(postgres_only, "postgresql")
def _postgres_only_postgres(element: postgres_only, compiler: SQLCompiler, **kw: Any) -> str:
    (condition,) = list(element.clauses)
    return str(compiler.process(condition, **kw))


def as_float(expr: ColumnElement[Any]) -> ColumnElement[float]:
    """Cast to a double so that every numeric feature leaves the database as a float."""
    return cast(expr, Float)


def safe_ratio(
    numerator: ColumnElement[Any], denominator: ColumnElement[Any]
) -> ColumnElement[float]:
    """``numerator / denominator`` as a float, NULL when the denominator is 0 or NULL."""
    return as_float(numerator) / func.nullif(as_float(denominator), 0.0)


class json_number(FunctionElement[str]):  # noqa: N801 - reads like SQL
    """JSON text of a float that reads back exactly, or ``null``.

    SQLite prints 17 significant digits (``%!.17g``); PostgreSQL prints the shortest exact form
    (the feature session sets ``extra_float_digits = 1``).
    """

    type = String()
    inherit_cache = True
    name = "json_number"


class json_integer(FunctionElement[str]):  # noqa: N801 - reads like SQL
    """JSON text of a whole number held as a float (a count): ``3``, or ``null``."""

    type = String()
    inherit_cache = True
    name = "json_integer"


@compiles(json_integer)
def _json_integer(element: json_integer, compiler: SQLCompiler, **kw: Any) -> str:
    (value,) = list(element.clauses)
    return f"COALESCE(CAST(CAST({compiler.process(value, **kw)} AS BIGINT) AS TEXT), 'null')"


class json_text(FunctionElement[str]):  # noqa: N801 - reads like SQL
    """JSON text of a string (quoted and escaped), or ``null``."""

    type = String()
    inherit_cache = True
    name = "json_text"


@compiles(json_number)
def _json_number_default(element: json_number, compiler: SQLCompiler, **kw: Any) -> str:
    (value,) = list(element.clauses)
    sql = compiler.process(value, **kw)
    return f"(CASE WHEN {sql} IS NULL THEN 'null' ELSE printf('%!.17g', {sql}) END)"


@compiles(json_number, "postgresql")
def _json_number_postgres(element: json_number, compiler: SQLCompiler, **kw: Any) -> str:
    (value,) = list(element.clauses)
    return f"COALESCE(CAST({compiler.process(value, **kw)} AS TEXT), 'null')"


@compiles(json_text)
def _json_text_default(element: json_text, compiler: SQLCompiler, **kw: Any) -> str:
    (value,) = list(element.clauses)
    return f"json_quote({compiler.process(value, **kw)})"  # NULL -> null


@compiles(json_text, "postgresql")
def _json_text_postgres(element: json_text, compiler: SQLCompiler, **kw: Any) -> str:
    (value,) = list(element.clauses)
    return f"COALESCE(CAST(to_json({compiler.process(value, **kw)}) AS TEXT), 'null')"


class json_object_text(FunctionElement[str]):  # noqa: N801 - reads like SQL
    """``{"k1":v1,...}`` from alternating key literals and JSON-text values, in one call per
    chunk of pairs (a chain of ``||`` would copy the growing document once per pair)."""

    type = String()
    inherit_cache = True
    name = "json_object_text"


_KEY = re.compile(r"^[a-z][a-z0-9_]*$")
_PAIRS_PER_CALL = 45  # PostgreSQL's concat() takes at most 100 arguments, SQLite's printf 127


def _object_chunks(
    element: json_object_text, compiler: SQLCompiler, **kw: Any
) -> list[tuple[list[str], list[str]]]:
    parts = list(element.clauses)
    keys = [str(getattr(p, "value", "")) for p in parts[0::2]]
    bad = [k for k in keys if not _KEY.match(k)]
    if bad:
        raise ValueError(f"JSON keys {bad} must be lower_snake_case literals (they are inlined)")
    values = [compiler.process(p, **kw) for p in parts[1::2]]
    return [
        (keys[i : i + _PAIRS_PER_CALL], values[i : i + _PAIRS_PER_CALL])
        for i in range(0, len(keys), _PAIRS_PER_CALL)
    ]


@compiles(json_object_text)
def _json_object_default(element: json_object_text, compiler: SQLCompiler, **kw: Any) -> str:
    calls = []
    for i, (keys, values) in enumerate(_object_chunks(element, compiler, **kw)):
        template = ("{" if i == 0 else ",") + ",".join(f'"{k}":%s' for k in keys)
        calls.append(f"printf('{template}', {', '.join(values)})")
    return "(" + " || ".join(calls) + " || '}')"


@compiles(json_object_text, "postgresql")
def _json_object_postgres(element: json_object_text, compiler: SQLCompiler, **kw: Any) -> str:
    calls = []
    for i, (keys, values) in enumerate(_object_chunks(element, compiler, **kw)):
        args = []
        for j, (key, value) in enumerate(zip(keys, values, strict=True)):
            lead = "{" if i == 0 and j == 0 else ","
            args += [f"'{lead}\"{key}\":'", value]
        calls.append(f"concat({', '.join(args)})")
    return "(" + " || ".join(calls) + " || '}')"
