"""Calling one of our ``public`` SQL functions on a direct connection, as an identity.

The direct-Postgres twin of an RPC call: ``select public.f(p_a => %s, ...)`` in its
own transaction with ``role`` and ``request.jwt.claims`` set first, and a driver
error turned into one ``DatabaseError`` line.
"""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb

from runner.db.connect import describe
from runner.db.identity import Identity, apply_identity
from runner.errors import DatabaseError

JSON_ARGUMENTS = frozenset({"p_data", "p_vars", "p_results", "p_request", "p_metadata"})
"""Arguments of our functions that are jsonb (the others are text, uuid, timestamptz or text[])."""


def call_statement(function: str, args: dict[str, Any]) -> tuple[sql.Composed, list[Any]]:
    """``select public.<function>(p_a => %s, ...)`` with named arguments, as RPC calls it."""
    statement = sql.SQL("select public.{}({})").format(
        sql.Identifier(function),
        sql.SQL(", ").join(sql.SQL("{} => %s").format(sql.Identifier(n)) for n in args),
    )
    return statement, [Jsonb(v) if n in JSON_ARGUMENTS else v for n, v in args.items()]


async def call_function(
    conn: psycopg.AsyncConnection[Any],
    identity: Identity,
    function: str,
    args: dict[str, Any],
    doing: str,
    refused: str = "",
) -> Any:
    """The value ``public.<function>`` returns for these named arguments.

    ``refused`` is appended to the message when the database says the caller lacks
    the privilege (SQLSTATE 42501).
    """
    statement, values = call_statement(function, args)
    try:
        async with conn.transaction():
            await apply_identity(conn, identity)
            cur = await conn.execute(statement, values)
            row = await cur.fetchone()
    except psycopg.Error as exc:
        hint = refused if exc.sqlstate == "42501" else ""
        raise DatabaseError(f"cannot {doing}: {describe(exc)}{hint}") from None
    return row[0] if row else None
