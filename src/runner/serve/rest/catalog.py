"""The schema cache: exposed tables, columns, foreign keys and functions of ``public``.

Every identifier a request names is checked here before it becomes a
``psycopg.sql.Identifier``; an unknown name is a PostgREST error, never SQL. The cache
is loaded on first use and reloaded once when a request names something it lacks
(a migration applied while ``serve`` runs), like PostgREST's schema cache reload.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from runner.db.sqlfiles import query


@dataclass(frozen=True)
class Table:
    """A table or view of ``public``."""

    name: str
    columns: tuple[str, ...]
    primary_key: tuple[str, ...]
    is_view: bool
    open: bool = False  # a function's result: columns known only to Postgres


@dataclass(frozen=True)
class ForeignKey:
    """``source(source_columns) -> target(target_columns)``."""

    name: str
    source: str
    source_columns: tuple[str, ...]
    target: str
    target_columns: tuple[str, ...]


@dataclass(frozen=True)
class Function:
    """A function of ``public``: input argument names and the shape of its result."""

    name: str
    arg_names: tuple[str, ...]
    arg_types: tuple[str, ...]  # pg_type.typname per input argument
    arg_categories: tuple[str, ...]  # pg_type.typcategory per input argument ("A" = array)
    defaults: int
    returns_set: bool
    return_type: str
    returns_composite: bool
    volatility: str

    @property
    def required(self) -> frozenset[str]:
        """Argument names without a default."""
        count = len(self.arg_names) - self.defaults
        return frozenset(self.arg_names[:count])

    def accepts(self, names: frozenset[str]) -> bool:
        """Whether a call with exactly these named arguments matches this function."""
        return self.required <= names <= frozenset(self.arg_names)


@dataclass(frozen=True)
class Catalog:
    """What ``/rest/v1`` may name."""

    tables: dict[str, Table]
    foreign_keys: tuple[ForeignKey, ...]
    functions: dict[str, tuple[Function, ...]]


class CatalogCache:
    """Loads the catalog once; ``refresh`` reloads it (at most one load at a time)."""

    def __init__(self) -> None:
        self._catalog: Catalog | None = None
        self._lock = asyncio.Lock()

    async def get(self, conn: Any) -> Catalog:
        """The cached catalog, loading it through ``conn`` the first time."""
        if self._catalog is None:
            await self.refresh(conn)
        assert self._catalog is not None
        return self._catalog

    async def refresh(self, conn: Any) -> Catalog:
        """Reload the catalog through ``conn``."""
        async with self._lock:
            self._catalog = await load_catalog(conn)
            return self._catalog


async def load_catalog(conn: Any) -> Catalog:
    """Read tables, foreign keys and functions of ``public`` through ``conn``."""
    tables: dict[str, Table] = {}
    cur = await conn.execute(query("rest_catalog_tables"))
    for name, kind, columns, primary_key in await cur.fetchall():
        tables[name] = Table(name, tuple(columns), tuple(primary_key), kind in ("v", "m"))
    cur = await conn.execute(query("rest_catalog_fkeys"))
    fkeys = tuple(
        ForeignKey(name, source, tuple(src_cols), target, tuple(dst_cols))
        for name, source, src_cols, target, dst_cols in await cur.fetchall()
    )
    functions: dict[str, list[Function]] = {}
    cur = await conn.execute(query("rest_catalog_functions"))
    for row in await cur.fetchall():
        _oid, name, arg_names, types, categories, defaults, rset, rtype, composite, volatility = row
        functions.setdefault(name, []).append(
            Function(
                name=name,
                arg_names=tuple(arg_names),
                arg_types=tuple(types),
                arg_categories=tuple(categories),
                defaults=defaults,
                returns_set=rset,
                return_type=rtype,
                returns_composite=bool(composite),
                volatility=volatility,
            )
        )
    return Catalog(tables, fkeys, {k: tuple(v) for k, v in functions.items()})
