"""Local change capture for postgres_changes, and the per-subscriber RLS check.

Real Supabase reads changes from the write-ahead log. Locally, ``serve`` installs
``sql/serve/local_changes.sql`` (row triggers on the supabase_realtime tables that
record each change and NOTIFY its id) — only on the local compatibility stack, never
on hosted Supabase. A change reaches a subscriber only if the subscriber's role and
claims may SELECT the row (one query per change per distinct identity), like the
Realtime server's RLS check.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb

from runner.db.identity import apply_identity
from runner.db.sqlfiles import serve_sql
from runner.serve.realtime.authz import ChannelIdentity
from runner.serve.realtime.changes import Change, TableInfo

log = logging.getLogger("runner.serve.realtime")


class ChangeCapture:
    """Installs the capture triggers and answers questions about published tables."""

    def __init__(self, pool: Any) -> None:
        self.pool = pool
        self.local: bool | None = None
        self._tables: dict[tuple[str, str], TableInfo | None] = {}

    async def install(self) -> bool:
        """Install the capture when the database is the local stack; whether it is."""
        async with self.pool.connection() as conn:
            cur = await conn.execute(serve_sql("is_local_stack"))
            row = await cur.fetchone()
            self.local = bool(row and row[0])
            if self.local:
                async with conn.transaction():
                    await conn.execute(serve_sql("local_changes"))
        if not self.local:
            log.info("not the local stack: postgres_changes capture is not installed")
        return self.local

    async def sync(self) -> bool:
        """Capture every table published now (a subscriber may want a new one)."""
        if self.local is None:
            await self.install()
        if not self.local:
            return False
        async with self.pool.connection() as conn:
            await conn.execute(serve_sql("sync_change_triggers"))
        self._tables.clear()
        return True

    async def table(self, schema: str, table: str) -> TableInfo | None:
        """Columns, primary key, RLS and replica identity of a table (cached)."""
        key = (schema, table)
        if key not in self._tables:
            async with self.pool.connection() as conn:
                cur = await conn.execute(
                    serve_sql("table_info"), {"schema": schema, "table": table}
                )
                row = await cur.fetchone()
            self._tables[key] = (
                None
                if row is None
                else TableInfo(row[0], list(row[1]), list(row[2]), row[3], row[4])
            )
        return self._tables[key]

    async def visible(
        self, who: list[ChannelIdentity], change: Change, info: TableInfo
    ) -> dict[str, bool]:
        """Per identity key: may this identity see the changed row?

        The question is asked of the row as the change recorded it: inside a
        transaction that is rolled back, the row with its primary key is replaced by
        that image (an insert or update may have been updated again or deleted since,
        a delete's row is gone), then a SELECT as the identity must find it. Supabase
        cannot check RLS on deletes and sends their primary key to every subscriber;
        this is stricter. If the image cannot be put back, inserts and updates are
        judged by the row as it is now, and deletes by the table privilege, as on
        Supabase.
        """
        if not info.primary_key:
            # no key to find the row by: only tables without RLS show their changes
            return await self._ask(who, sql.SQL(serve_sql("table_privilege")), change, rls=info.rls)
        table = sql.Identifier(change.schema, change.table)
        key = sql.SQL(", ").join(sql.Identifier(c) for c in info.primary_key)
        query = sql.SQL(serve_sql("row_visible")).format(table=table, key=key)
        columns = sql.SQL(", ").join(sql.Identifier(c) for c in info.insertable)
        prepare = [
            sql.SQL(serve_sql("remove_current")).format(table=table, key=key),
            sql.SQL(serve_sql("restore_row")).format(table=table, columns=columns),
        ]
        row = change.old_record if change.type == "DELETE" else change.record
        try:
            return await self._ask(who, query, change, row=row, prepare=prepare)
        except psycopg.Error as exc:
            log.debug("cannot put the changed row back for its RLS check: %s", exc)
        if change.type != "DELETE":
            return await self._ask(who, query, change, row=row)
        return await self._ask(who, sql.SQL(serve_sql("table_privilege")), change)

    async def _ask(
        self,
        who: list[ChannelIdentity],
        query: sql.Composable,
        change: Change,
        *,
        row: dict[str, Any] | None = None,
        prepare: Sequence[sql.Composable] = (),
        rls: bool = False,
    ) -> dict[str, bool]:
        params: dict[str, Any] = {"schema": change.schema, "table": change.table}
        if row is not None:
            params["row"] = Jsonb(row)
        out: dict[str, bool] = {}
        async with self.pool.connection() as conn, conn.transaction(force_rollback=True):
            if prepare:
                await conn.execute(serve_sql("replica_role"))
                for statement in prepare:
                    await conn.execute(statement, params)
            for identity in who:
                try:
                    # a savepoint per identity: its role and claims end with it
                    async with conn.transaction(force_rollback=True):
                        await apply_identity(conn, identity.identity)
                        cur = await conn.execute(query, params)
                        answer = await cur.fetchone()
                    out[identity.key] = bool(answer and answer[0]) and not rls
                except psycopg.Error as exc:
                    log.debug("RLS check on %s.%s failed: %s", change.schema, change.table, exc)
                    out[identity.key] = False
        return out
