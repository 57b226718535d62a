"""Feature expressions written as text in a YAML definition, compiled to SQLAlchemy expressions.

A small, closed language parsed with Python's ``ast`` (nothing is evaluated): column names of the
view's source table, ``as_of``, numbers and strings, ``== != < <= > >=``, ``in (...)``, ``is None``,
``and or not``, ``+ - * /``, and the functions

- ``case(cond, value, cond, value, ..., else_=value)``
- ``coalesce(a, b, ...)``
- ``days_between(later, earlier)`` (fractional days)
- ``window_start(days)`` (``as_of - days``, one of the feature windows)
- ``state_at_as_of(column)`` (a record's column in its latest state exported by as_of; the
  source must declare its ``states`` table)

e.g. ``txn_type == 'charge'``, ``case(txn_type == 'charge', amount, else_=0)``. Anything else is an
``ExpressionError`` naming the text and what is not allowed.
"""

from __future__ import annotations

import ast
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Table, and_, case, func, not_, or_

from tasks.features.entity import AS_OF, state_at_as_of, window_start
from tasks.features.sql import days_between


class ExpressionError(ValueError):
    """A feature expression that is not in the language (the message names it)."""


@dataclass(frozen=True)
class States:
    """Where a records source keeps the history of its records' states."""

    table: Table
    key: str
    time: str


_COMPARE: dict[type[ast.cmpop], Callable[[Any, Any], Any]] = {
    ast.Eq: lambda a, b: a == b,
    ast.NotEq: lambda a, b: a != b,
    ast.Lt: lambda a, b: a < b,
    ast.LtE: lambda a, b: a <= b,
    ast.Gt: lambda a, b: a > b,
    ast.GtE: lambda a, b: a >= b,
}
_ARITHMETIC: dict[type[ast.operator], Callable[[Any, Any], Any]] = {
    ast.Add: lambda a, b: a + b,
    ast.Sub: lambda a, b: a - b,
    ast.Mult: lambda a, b: a * b,
    ast.Div: lambda a, b: a / b,
}


def parse_expression(text: str, *, table: Table, states: States | None = None) -> Any:
    """The SQLAlchemy expression of ``text`` over ``table`` (a column, or a constant)."""
    try:
        tree = ast.parse(str(text).strip(), mode="eval")
    except SyntaxError as exc:
        raise ExpressionError(f"expression {text!r} does not parse: {exc.msg}") from None
    return _Compiler(str(text), table, states).visit(tree.body)


class _Compiler:
    def __init__(self, text: str, table: Table, states: States | None) -> None:
        self.text, self.table, self.states = text, table, states

    def fail(self, what: str) -> ExpressionError:
        return ExpressionError(f"expression {self.text!r}: {what}")

    def visit(self, node: ast.expr) -> Any:
        method = getattr(self, f"_{type(node).__name__.lower()}", None)
        if method is None:
            raise self.fail(
                f"{type(node).__name__} is not allowed (see tasks.definitions.expressions)"
            )
        return method(node)

    def _name(self, node: ast.Name) -> Any:
        if node.id == "as_of":
            return AS_OF
        if node.id not in self.table.c:
            raise self.fail(
                f"table {self.table.name!r} has no column {node.id!r} (columns:"
                f" {', '.join(self.table.c.keys())})"
            )
        return self.table.c[node.id]

    def _constant(self, node: ast.Constant) -> Any:
        if node.value is None or isinstance(node.value, bool | int | float | str):
            return node.value
        raise self.fail(f"constant {node.value!r} is not a number or a string")

    def _unaryop(self, node: ast.UnaryOp) -> Any:
        operand = self.visit(node.operand)
        if isinstance(node.op, ast.USub):
            return -operand
        if isinstance(node.op, ast.Not):
            return not_(operand)
        raise self.fail(f"operator {type(node.op).__name__} is not allowed")

    def _binop(self, node: ast.BinOp) -> Any:
        operator = _ARITHMETIC.get(type(node.op))
        if operator is None:
            raise self.fail(f"operator {type(node.op).__name__} is not allowed")
        return operator(self.visit(node.left), self.visit(node.right))

    def _boolop(self, node: ast.BoolOp) -> Any:
        parts = [self.visit(v) for v in node.values]
        return and_(*parts) if isinstance(node.op, ast.And) else or_(*parts)

    def _compare(self, node: ast.Compare) -> Any:
        if len(node.ops) != 1:
            raise self.fail("chained comparisons are not allowed; join them with and")
        op, right = node.ops[0], node.comparators[0]
        left = self.visit(node.left)
        if isinstance(op, ast.In | ast.NotIn):
            if not isinstance(right, ast.Tuple | ast.List):
                raise self.fail("in takes a list of values: x in ('a', 'b')")
            values = tuple(self.visit(v) for v in right.elts)
            return left.in_(values) if isinstance(op, ast.In) else left.not_in(values)
        if isinstance(op, ast.Is | ast.IsNot):
            if not (isinstance(right, ast.Constant) and right.value is None):
                raise self.fail("is compares with None only")
            return left.is_(None) if isinstance(op, ast.Is) else left.is_not(None)
        compare = _COMPARE.get(type(op))
        if compare is None:
            raise self.fail(f"comparison {type(op).__name__} is not allowed")
        return compare(left, self.visit(right))

    def _call(self, node: ast.Call) -> Any:
        name = node.func.id if isinstance(node.func, ast.Name) else None
        args = [self.visit(a) for a in node.args]
        keywords = {k.arg: self.visit(k.value) for k in node.keywords}
        if name == "case" and len(args) >= 2 and len(args) % 2 == 0 and set(keywords) <= {"else_"}:
            whens = [(args[i], args[i + 1]) for i in range(0, len(args), 2)]
            return case(*whens, else_=keywords.get("else_"))
        if keywords:
            raise self.fail(f"{name}() takes no keyword arguments")
        if name == "coalesce" and args:
            return func.coalesce(*args)
        if name == "days_between" and len(args) == 2:
            return days_between(args[0], args[1])
        if name == "window_start" and len(args) == 1 and isinstance(args[0], int):
            return window_start(args[0])
        if name == "state_at_as_of" and len(args) == 1 and isinstance(args[0], str):
            if self.states is None:
                raise self.fail(f"source table {self.table.name!r} declares no states table")
            s = self.states
            return state_at_as_of(self.table, s.table, key=s.key, time=s.time, column=args[0])
        raise self.fail(
            f"call {ast.unparse(node)} is not one of case(cond, value, ..., else_=value),"
            " coalesce(...), days_between(a, b), window_start(days), state_at_as_of('column')"
        )
