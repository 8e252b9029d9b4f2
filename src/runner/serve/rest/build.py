"""Parsed requests -> ``psycopg.sql`` statements.

Identifiers come only from the catalog (checked first, then ``sql.Identifier``);
values only as named parameters (collected in ``Builder.params``); the few keywords
(operators, ``asc``/``desc``, ``is null``, casts) come from fixed tables. Values are
sent untyped, so Postgres resolves them to the column's type exactly as it does for
PostgREST's literals (a list for ``in`` is one array literal: ``col = any('{a,b}')``).
"""

from __future__ import annotations

from typing import Any

from psycopg import sql

from runner.serve.rest import errors
from runner.serve.rest.catalog import Catalog, ForeignKey, Table
from runner.serve.rest.parse import (
    Column,
    Condition,
    Embed,
    Field,
    Filter,
    Logic,
    OrderTerm,
    ReadRequest,
    SelectItem,
    Shape,
    Star,
)

_COMPARE = {
    "eq": "=",
    "neq": "<>",
    "gt": ">",
    "gte": ">=",
    "lt": "<",
    "lte": "<=",
    "like": "like",
    "ilike": "ilike",
    "match": "~",
    "imatch": "~*",
    "cs": "@>",
    "cd": "<@",
    "ov": "&&",
    "sl": "<<",
    "sr": ">>",
    "nxr": "&<",
    "nxl": "&>",
    "adj": "-|-",
}
_IS = {
    "null": "is null",
    "not_null": "is not null",
    "true": "is true",
    "false": "is false",
    "unknown": "is unknown",
}
_TSQUERY = {
    "fts": "to_tsquery",
    "plfts": "plainto_tsquery",
    "phfts": "phraseto_tsquery",
    "wfts": "websearch_to_tsquery",
}


def output_label(name: str) -> sql.Composable:
    """A client-chosen output key (``alias:col``, a JSON key) as a quoted identifier.

    The only identifier that does not come from the catalog. Statements always run with
    parameters, so psycopg reads every ``%`` in the text as a placeholder: a ``%`` in the
    label is doubled (``select=a%25s:id`` is the key ``a%s``, not a placeholder).
    """
    quoted = '"' + name.replace('"', '""') + '"'
    return sql.SQL(quoted.replace("%", "%%"))


class Builder:
    """Builds one request's statements; ``params`` holds every value, by name."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self.params: dict[str, Any] = {}
        self._aliases = 0

    # ----------------------------------------------------------------- names and values
    def table(self, name: str) -> Table:
        """The exposed table ``name`` (PGRST205 otherwise)."""
        table = self.catalog.tables.get(name)
        if table is None:
            raise errors.table_not_found(name, list(self.catalog.tables))
        return table

    def param(self, value: Any) -> sql.Composable:
        name = f"p{len(self.params)}"
        self.params[name] = value
        return sql.Placeholder(name)

    def alias(self) -> sql.Identifier:
        name = f"pgrst_{self._aliases}"
        self._aliases += 1
        return sql.Identifier(name)

    def column(self, table: Table, alias: sql.Identifier, name: str) -> sql.Composable:
        if not table.open and name not in table.columns:
            raise errors.column_not_found(table.name, name)
        return sql.SQL("{}.{}").format(alias, sql.Identifier(name))

    def field(self, table: Table, alias: sql.Identifier, field: Field) -> sql.Composable:
        expr = self.column(table, alias, field.name)
        for arrow, key in field.json_path:
            step = self.param(int(key)) if key.lstrip("-").isdigit() else self.param(key)
            expr = sql.SQL("{} {} {}").format(expr, sql.SQL(arrow), step)
        return expr

    # --------------------------------------------------------------------- select lists
    def select_list(
        self,
        table: Table,
        alias: sql.Identifier,
        req: ReadRequest,
        items: tuple[SelectItem, ...],
        path: tuple[str, ...] = (),
    ) -> sql.Composable:
        parts: list[sql.Composable] = []
        for item in items:
            if isinstance(item, Star) and table.open:
                parts.append(sql.SQL("{}.*").format(alias))
            elif isinstance(item, Star):
                parts.extend(
                    sql.SQL("{}.{}").format(alias, sql.Identifier(name)) for name in table.columns
                )
            elif isinstance(item, Column):
                expr = self.field(table, alias, item.field)
                if item.cast:
                    expr = sql.SQL("({})::{}").format(expr, sql.SQL(item.cast))
                label = item.alias or item.field.label
                parts.append(sql.SQL("{} as {}").format(expr, output_label(label)))
            else:
                embed_expr = self.embed(table, alias, req, item, path)
                parts.append(sql.SQL("{} as {}").format(embed_expr, output_label(item.label)))
        if not parts:
            return sql.SQL("null")
        return sql.SQL(", ").join(parts)

    def embed(
        self,
        parent: Table,
        parent_alias: sql.Identifier,
        req: ReadRequest,
        item: Embed,
        path: tuple[str, ...],
    ) -> sql.Composable:
        """A scalar subquery: the related rows as a JSON array (or one object)."""
        child = self.table(item.relation)
        fkey, to_one = self.relationship(parent, child, item.hint)
        alias = self.alias()
        here = (*path, item.label)
        shape = req.embedded.get(here, Shape())
        if to_one:
            pairs = zip(fkey.source_columns, fkey.target_columns, strict=True)
        else:
            pairs = zip(fkey.target_columns, fkey.source_columns, strict=True)
        join = [
            sql.SQL("{}.{} = {}.{}").format(
                alias, sql.Identifier(child_col), parent_alias, sql.Identifier(parent_col)
            )
            for parent_col, child_col in pairs
        ]
        where = sql.SQL(" and ").join([*join, *self.conditions(child, alias, shape.filters)])
        if not to_one and item.items == (Column(Field("count")),) and "count" not in child.columns:
            # rel(count): PostgREST's aggregate, [{"count": n}]
            return sql.SQL(
                "(select json_build_array(json_build_object('count', count(*))) "
                "from public.{} as {} where {})"
            ).format(sql.Identifier(child.name), alias, where)
        nested = self.select_list(child, alias, req, item.items, here)
        inner = sql.SQL("select {} from public.{} as {} where {}{}").format(
            nested, sql.Identifier(child.name), alias, where, self.paging(child, alias, shape)
        )
        row = self.alias()
        if to_one:
            return sql.SQL("(select row_to_json({row}) from ({inner}) as {row} limit 1)").format(
                row=row, inner=inner
            )
        return sql.SQL("(select coalesce(json_agg({row}), '[]') from ({inner}) as {row})").format(
            row=row, inner=inner
        )

    def relationship(
        self, parent: Table, child: Table, hint: str | None
    ) -> tuple[ForeignKey, bool]:
        """The foreign key joining ``parent`` to ``child`` and whether child is to-one."""
        found: list[tuple[ForeignKey, bool]] = []
        for fk in self.catalog.foreign_keys:
            if fk.source == parent.name and fk.target == child.name:
                found.append((fk, True))
            elif fk.source == child.name and fk.target == parent.name:
                found.append((fk, False))
        if hint:
            found = [
                (fk, one)
                for fk, one in found
                if hint == fk.name or hint in fk.source_columns or hint in fk.target_columns
            ]
        if not found:
            raise errors.relationship_not_found(parent.name, child.name)
        if len(found) > 1:
            names = ", ".join(sorted(fk.name for fk, _ in found))
            raise errors.ApiError(
                300,
                "PGRST201",
                f"Could not embed because more than one relationship was found for "
                f"'{parent.name}' and '{child.name}'",
                details=names,
                hint=f"Try changing '{child.name}' to one of the relationships: "
                f"'{child.name}!<foreign key name>'",
            )
        return found[0]

    def inner_joins(
        self, table: Table, alias: sql.Identifier, req: ReadRequest
    ) -> list[sql.Composable]:
        """``!inner`` embeds of the root: keep only parents with at least one match."""
        out: list[sql.Composable] = []
        for item in req.select:
            if isinstance(item, Embed) and item.inner:
                expr = self.embed(table, alias, req, item, ())
                out.append(
                    sql.SQL("coalesce(({})::text, 'null') not in ('[]', 'null')").format(expr)
                )
        return out

    # -------------------------------------------------------------------------- filters
    def conditions(
        self, table: Table, alias: sql.Identifier, filters: list[Filter]
    ) -> list[sql.Composable]:
        return [self.filter(table, alias, f) for f in filters]

    def where(self, table: Table, alias: sql.Identifier, filters: list[Filter]) -> sql.Composable:
        parts = self.conditions(table, alias, filters)
        if not parts:
            return sql.SQL("")
        return sql.SQL(" where ") + sql.SQL(" and ").join(parts)

    def filter(self, table: Table, alias: sql.Identifier, item: Filter) -> sql.Composable:
        if isinstance(item, Logic):
            joiner = sql.SQL(" and " if item.op == "and" else " or ")
            inner = joiner.join(self.filter(table, alias, sub) for sub in item.items)
            expr: sql.Composable = sql.SQL("({})").format(inner)
        else:
            expr = self.condition(table, alias, item)
        return sql.SQL("not {}").format(expr) if item.negated else expr

    def condition(self, table: Table, alias: sql.Identifier, cond: Condition) -> sql.Composable:
        lhs = self.field(table, alias, cond.field)
        if cond.op == "is":
            assert isinstance(cond.value, str)
            return sql.SQL("({} {})").format(lhs, sql.SQL(_IS[cond.value]))
        if cond.op == "isdistinct":
            return sql.SQL("({} is distinct from {})").format(lhs, self.param(cond.value))
        if cond.op == "in":
            assert isinstance(cond.value, tuple)
            return sql.SQL("({} = any({}))").format(lhs, self.param(array_literal(cond.value)))
        if cond.op in _TSQUERY:
            function = sql.SQL(_TSQUERY[cond.op])
            args: sql.Composable
            if cond.language:
                args = sql.SQL("{}::regconfig, {}").format(
                    self.param(cond.language), self.param(cond.value)
                )
            else:
                args = self.param(cond.value)
            return sql.SQL("({} @@ {}({}))").format(lhs, function, args)
        op = sql.SQL(_COMPARE[cond.op])
        value: Any = cond.value
        if cond.op in ("like", "ilike"):
            value = (
                tuple(v.replace("*", "%") for v in value)
                if isinstance(value, tuple)
                else value.replace("*", "%")
            )
        if cond.quantifier:
            assert isinstance(value, tuple)
            return sql.SQL("({} {} {}({}))").format(
                lhs, op, sql.SQL(cond.quantifier), self.param(array_literal(value))
            )
        return sql.SQL("({} {} {})").format(lhs, op, self.param(value))

    # ------------------------------------------------------------------ order and paging
    def order(self, table: Table, alias: sql.Identifier, terms: list[OrderTerm]) -> sql.Composable:
        if not terms:
            return sql.SQL("")
        parts = []
        for term in terms:
            text = "desc" if term.desc else "asc"
            if term.nulls:
                text += f" nulls {term.nulls}"
            parts.append(
                sql.SQL("{} {}").format(self.field(table, alias, term.field), sql.SQL(text))
            )
        return sql.SQL(" order by ") + sql.SQL(", ").join(parts)

    def paging(self, table: Table, alias: sql.Identifier, shape: Shape) -> sql.Composable:
        out = self.order(table, alias, shape.order)
        if shape.limit is not None:
            out = out + sql.SQL(" limit {}").format(self.param(shape.limit))
        if shape.offset:
            out = out + sql.SQL(" offset {}").format(self.param(shape.offset))
        return out

    # --------------------------------------------------------------------------- reads
    def read(
        self, table: Table, req: ReadRequest, shape: Shape, *, single: bool, strip_nulls: bool
    ) -> tuple[sql.Composable, sql.Composable]:
        """(rows statement -> (body, row count), count statement -> total)."""
        alias = self.alias()
        filters = [
            *self.conditions(table, alias, shape.filters),
            *self.inner_joins(table, alias, req),
        ]
        where = sql.SQL(" where ") + sql.SQL(" and ").join(filters) if filters else sql.SQL("")
        source = sql.SQL("public.{} as {}").format(sql.Identifier(table.name), alias)
        inner = sql.SQL("select {} from {}{}{}").format(
            self.select_list(table, alias, req, req.select),
            source,
            where,
            self.paging(table, alias, shape),
        )
        rows = aggregate(inner, single=single, strip_nulls=strip_nulls)
        total = sql.SQL("select count(*) from {}{}").format(source, where)
        return rows, total


def aggregate(inner: sql.Composable, *, single: bool, strip_nulls: bool) -> sql.Composable:
    """``select <json body>, <row count> from (inner)``: PostgREST's response shape."""
    body: sql.Composable = sql.SQL("coalesce(json_agg(pgrst_t), '[]')")
    if single:
        body = sql.SQL("(json_agg(pgrst_t) -> 0)")
    if strip_nulls:
        body = sql.SQL("json_strip_nulls({})").format(body)
    return sql.SQL("select {}::text, count(*) from ({}) as pgrst_t").format(body, inner)


def array_literal(values: tuple[str, ...] | list[Any]) -> str:
    """A Postgres array literal ``{"a","b"}`` (every element quoted and escaped)."""
    items = []
    for value in values:
        if value is None:
            items.append("NULL")
            continue
        text = value if isinstance(value, str) else str(value)
        if isinstance(value, bool):
            text = "true" if value else "false"
        escaped = text.replace("\\", "\\\\").replace('"', '\\"')
        items.append(f'"{escaped}"')
    return "{" + ",".join(items) + "}"
