"""Insert, upsert, update and delete statements (``psycopg.sql``; the body is one parameter).

Rows are read from the JSON body by Postgres itself (``json_populate_recordset``), so
every value is converted to its column's type by the database exactly as PostgREST
does; a key missing from a row is null unless ``Prefer: missing=default``, then the
rows are inserted in groups of identical key sets so the column defaults apply.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from psycopg import sql

from runner.serve.rest import errors
from runner.serve.rest.build import Builder, aggregate
from runner.serve.rest.catalog import Table
from runner.serve.rest.parse import ReadRequest


@dataclass(frozen=True)
class Returning:
    """What the statement gives back: nothing, the primary keys, or the selected rows."""

    mode: str  # "minimal" | "headers-only" | "representation"
    single: bool = False
    strip_nulls: bool = False


def insert_groups(
    table: Table, body: Any, columns: tuple[str, ...] | None, *, missing_default: bool
) -> list[tuple[tuple[str, ...], list[dict[str, Any]]]]:
    """Split the body into (columns, rows) groups, checking every column against the table."""
    rows = body if isinstance(body, list) else [body]
    if not all(isinstance(row, dict) for row in rows):
        raise errors.ApiError(
            400, "PGRST102", "Empty or invalid json", details="expected an object or an array"
        )
    if columns is None:
        seen: dict[str, None] = {}
        for row in rows:
            seen.update(dict.fromkeys(row))
        columns = tuple(seen)
    for name in columns:
        if name not in table.columns:
            raise errors.write_column_not_found(table.name, name)
    if not missing_default:
        return [(columns, rows)] if rows else []
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for row in rows:
        key = tuple(name for name in columns if name in row)
        groups.setdefault(key, []).append(row)
    return list(groups.items())


def insert(
    builder: Builder,
    table: Table,
    req: ReadRequest,
    columns: tuple[str, ...],
    rows: list[dict[str, Any]],
    *,
    resolution: str | None,
    returning: Returning,
) -> sql.Composable:
    """One INSERT (or upsert) of ``rows`` into ``columns``."""
    target = sql.Identifier(table.name)
    body = builder.param(json.dumps(rows))
    if columns:
        names = sql.SQL(", ").join(sql.Identifier(c) for c in columns)
        statement = sql.SQL(
            "insert into public.{t} as pgrst_i ({cols}) select {cols} "
            "from json_populate_recordset(null::public.{t}, {body}::json)"
        ).format(t=target, cols=names, body=body)
    else:
        # every row is {}: one row of defaults each
        statement = sql.SQL(
            "insert into public.{t} as pgrst_i select from json_array_elements({body}::json)"
        ).format(t=target, body=body)
    if resolution:
        statement = statement + _on_conflict(table, req, columns, resolution)
    return _with_returning(builder, table, req, statement, returning)


def _on_conflict(
    table: Table, req: ReadRequest, columns: tuple[str, ...], resolution: str
) -> sql.Composable:
    keys = req.on_conflict or table.primary_key
    if not keys:
        raise errors.ApiError(
            400, "PGRST103", f"table {table.name} has no primary key: pass on_conflict"
        )
    for name in keys:
        if name not in table.columns:
            raise errors.column_not_found(table.name, name)
    target = sql.SQL(", ").join(sql.Identifier(k) for k in keys)
    updates = [c for c in columns if c not in keys]
    if resolution == "ignore" or not updates:
        return sql.SQL(" on conflict ({}) do nothing").format(target)
    assignments = sql.SQL(", ").join(
        sql.SQL("{c} = excluded.{c}").format(c=sql.Identifier(c)) for c in updates
    )
    return sql.SQL(" on conflict ({}) do update set {}").format(target, assignments)


def update(
    builder: Builder, table: Table, req: ReadRequest, body: Any, *, returning: Returning
) -> sql.Composable | None:
    """UPDATE the filtered rows with the body's columns (``None``: nothing to set)."""
    if not isinstance(body, dict):
        raise errors.ApiError(
            400, "PGRST102", "Empty or invalid json", details="expected an object"
        )
    for name in body:
        if name not in table.columns:
            raise errors.write_column_not_found(table.name, name)
    if not body:
        return None
    alias = builder.alias()
    assignments = sql.SQL(", ").join(
        sql.SQL("{c} = pgrst_b.{c}").format(c=sql.Identifier(c)) for c in body
    )
    statement = sql.SQL(
        "update public.{t} as {a} set {set} "
        "from json_populate_record(null::public.{t}, {body}::json) as pgrst_b{where}"
    ).format(
        t=sql.Identifier(table.name),
        a=alias,
        set=assignments,
        body=builder.param(json.dumps(body)),
        where=builder.where(table, alias, req.root.filters),
    )
    return _with_returning(builder, table, req, statement, returning, alias=alias)


def delete(
    builder: Builder, table: Table, req: ReadRequest, *, returning: Returning
) -> sql.Composable:
    """DELETE the filtered rows."""
    alias = builder.alias()
    statement = sql.SQL("delete from public.{} as {}{}").format(
        sql.Identifier(table.name), alias, builder.where(table, alias, req.root.filters)
    )
    return _with_returning(builder, table, req, statement, returning, alias=alias)


def _with_returning(
    builder: Builder,
    table: Table,
    req: ReadRequest,
    statement: sql.Composable,
    returning: Returning,
    *,
    alias: sql.Identifier | None = None,
) -> sql.Composable:
    """minimal: the bare statement (its row count is read from the cursor); otherwise a
    CTE ``returning *`` aggregated like a read of the written rows."""
    if returning.mode == "minimal":
        return statement
    star = sql.SQL("{}.*").format(alias) if alias else sql.SQL("pgrst_i.*")
    written = builder.alias()
    if returning.mode == "headers-only":
        keys = table.primary_key or table.columns
        select: sql.Composable = sql.SQL(", ").join(
            sql.SQL("{}.{}").format(written, sql.Identifier(k)) for k in keys
        )
    else:
        select = builder.select_list(table, written, req, req.select)
    inner = sql.SQL("select {} from pgrst_w as {}").format(select, written)
    return sql.SQL("with pgrst_w as ({} returning {}) {}").format(
        statement,
        star,
        aggregate(inner, single=returning.single, strip_nulls=returning.strip_nulls),
    )
