"""``/rpc/<function>``: call a function of ``public`` with named arguments.

Results are shaped like PostgREST's: ``void`` -> 204 without a body; a scalar -> that
JSON value; ``setof`` scalar -> an array of values; a single composite -> one object
(or null); ``setof``/``returns table`` -> an array of objects that the query string can
filter, order and page like a table.
"""

from __future__ import annotations

import json
from typing import Any

from psycopg import sql

from runner.serve.rest import errors
from runner.serve.rest.build import Builder, aggregate, array_literal
from runner.serve.rest.catalog import Function, Table
from runner.serve.rest.parse import ReadRequest


def choose(builder: Builder, name: str, args: dict[str, Any]) -> Function:
    """The overload of ``name`` that takes exactly these named arguments (PGRST202)."""
    names = frozenset(args)
    for function in builder.catalog.functions.get(name, ()):
        if function.accepts(names):
            return function
    raise errors.function_not_found(name, list(args))


def call(
    builder: Builder, function: Function, args: dict[str, Any], *, raw: bool = False
) -> sql.Composable:
    """``public.f(a => $1, b => $2)`` with every value untyped (Postgres casts it).

    ``raw``: the values are query-string text (GET/HEAD calls), passed as they are.
    """
    parts = []
    for name, value in args.items():
        index = function.arg_names.index(name)
        parts.append(
            sql.SQL("{} => {}").format(
                sql.Identifier(name),
                builder.param(
                    value
                    if raw
                    else _argument(value, function.arg_types[index], function.arg_categories[index])
                ),
            )
        )
    return sql.SQL("public.{}({})").format(sql.Identifier(function.name), sql.SQL(", ").join(parts))


def _argument(value: Any, type_name: str, category: str) -> str | None:
    if value is None:
        return None
    if type_name in ("json", "jsonb"):
        return json.dumps(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list) and category == "A":
        return array_literal(value)
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return str(value)


def statement(
    builder: Builder,
    function: Function,
    args: dict[str, Any],
    req: ReadRequest,
    *,
    single: bool,
    strip_nulls: bool,
    raw: bool = False,
) -> tuple[sql.Composable, bool]:
    """(statement returning (body, row count), whether the result is a set of rows)."""
    invocation = call(builder, function, args, raw=raw)
    if function.return_type == "void":
        return sql.SQL("select {}::text, 1").format(invocation), False
    if function.returns_composite:
        alias = builder.alias()
        table = Table(function.name, (), (), is_view=True, open=True)
        shape = req.root
        inner = sql.SQL("select {} from {} as {}{}{}").format(
            builder.select_list(table, alias, req, req.select),
            invocation,
            alias,
            builder.where(table, alias, shape.filters),
            builder.paging(table, alias, shape),
        )
        one = single or not function.returns_set
        return aggregate(inner, single=one, strip_nulls=strip_nulls), function.returns_set
    if function.returns_set:
        body = sql.SQL(
            "select coalesce(json_agg(pgrst_v.v), '[]')::text, count(*) from {} as pgrst_v(v)"
        ).format(invocation)
        return body, True
    return sql.SQL("select to_json({})::text, 1").format(invocation), False
