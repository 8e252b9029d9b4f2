"""The HTTP side of ``/rest/v1``: tables (GET/HEAD/POST/PATCH/DELETE) and ``/rpc/<fn>``."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import Response

from runner.serve.rest import errors, negotiate, rpc, write
from runner.serve.rest.access import request_identity
from runner.serve.rest.build import Builder
from runner.serve.rest.catalog import Catalog, CatalogCache
from runner.serve.rest.execute import Connector, in_transaction
from runner.serve.rest.parse import ParseError, ReadRequest, parse_query
from runner.serve.rest.query import query_pairs
from runner.serve.state import ServeState


class RestApi:
    """Handlers sharing the serve state and one schema cache."""

    def __init__(self, state: ServeState) -> None:
        self.state = state
        self.cache = CatalogCache()
        self.connector = Connector(state)

    # ------------------------------------------------------------------------- tables
    async def table(self, request: Request) -> Response:
        try:
            return await self._table(request)
        except errors.ApiError as exc:
            return exc.response()
        except ParseError as exc:
            return errors.from_parse_error(exc).response()

    async def _table(self, request: Request) -> Response:
        identity = request_identity(request, self.state.keys)
        negotiate.check_profile(request)
        name: str = request.path_params["name"]
        method = request.method
        accept = negotiate.accept(request)
        prefs = negotiate.prefer(request)
        req = parse_query(query_pairs(request.scope["query_string"]))
        if method in ("GET", "HEAD"):
            paging = negotiate.range_header(request)
            if paging and req.root.limit is None and req.root.offset is None:
                req.root.offset, req.root.limit = paging
            return await self._read(request, identity, name, req, accept, prefs)
        body = await _json_body(request) if method in ("POST", "PATCH") else None
        returning = write.Returning(
            prefs.returning or "minimal", single=accept.single, strip_nulls=accept.strip_nulls
        )

        async def work(conn: Any, catalog: Catalog) -> tuple[str | None, int, str | None]:
            builder = Builder(catalog)
            table = builder.table(name)
            statements: list[Any] = []
            if method == "POST":
                groups = write.insert_groups(
                    table, body, req.columns, missing_default=prefs.missing_default
                )
                for columns, rows in groups:
                    statements.append(
                        write.insert(
                            builder,
                            table,
                            req,
                            columns,
                            rows,
                            resolution=prefs.resolution,
                            returning=returning,
                        )
                    )
            elif method == "PATCH":
                statement = write.update(builder, table, req, body, returning=returning)
                if statement is not None:
                    statements.append(statement)
            else:
                statements.append(write.delete(builder, table, req, returning=returning))
            return await _run_writes(conn, builder, statements, returning, table.primary_key)

        text, count, location = await in_transaction(
            self.connector, self.cache, identity, work, read_only=False
        )
        headers = {
            "Content-Range": negotiate.content_range(0, count, count if prefs.count else None)
        }
        if method == "POST":
            headers["Content-Range"] = f"*/{count if prefs.count else '*'}"
        if prefs.applied:
            headers["Preference-Applied"] = ", ".join(prefs.applied)
        status = 201 if method == "POST" else 200
        if returning.mode == "headers-only" and location is not None:
            headers["Location"] = f"/{name}?{location}"
        if returning.mode != "representation":
            return Response(status_code=201 if method == "POST" else 204, headers=headers)
        return Response(text, status_code=status, media_type=accept.media_type, headers=headers)

    async def _read(
        self,
        request: Request,
        identity: Any,
        name: str,
        req: ReadRequest,
        accept: negotiate.Accept,
        prefs: negotiate.Prefer,
    ) -> Response:
        async def work(conn: Any, catalog: Catalog) -> tuple[str, int, int | None]:
            builder = Builder(catalog)
            table = builder.table(name)
            rows_sql, total_sql = builder.read(
                table, req, req.root, single=accept.single, strip_nulls=accept.strip_nulls
            )
            cur = await conn.execute(rows_sql, builder.params)
            text, count = await cur.fetchone()
            total: int | None = None
            if prefs.count:
                cur = await conn.execute(total_sql, builder.params)
                total = (await cur.fetchone())[0]
            return text, count, total

        text, count, total = await in_transaction(
            self.connector, self.cache, identity, work, read_only=True
        )
        if accept.single and count != 1:
            raise errors.not_one_row(count)
        offset = req.root.offset or 0
        if total is not None and offset > total and offset > 0:
            raise errors.ApiError(
                416,
                "PGRST103",
                "Requested range not satisfiable",
                details=f"An offset of {offset} was requested, but there are only {total} rows.",
                headers={"Content-Range": f"*/{total}"},
            )
        headers = {"Content-Range": negotiate.content_range(offset, count, total)}
        if prefs.applied:
            headers["Preference-Applied"] = ", ".join(prefs.applied)
        status = 206 if total is not None and (offset > 0 or count < total) and count else 200
        if request.method == "HEAD":
            return Response(status_code=status, headers=headers, media_type=accept.media_type)
        return Response(text, status_code=status, media_type=accept.media_type, headers=headers)

    # ---------------------------------------------------------------------------- rpc
    async def rpc(self, request: Request) -> Response:
        try:
            return await self._rpc(request)
        except errors.ApiError as exc:
            return exc.response()
        except ParseError as exc:
            return errors.from_parse_error(exc).response()

    async def _rpc(self, request: Request) -> Response:
        identity = request_identity(request, self.state.keys)
        negotiate.check_profile(request)
        name: str = request.path_params["name"]
        accept = negotiate.accept(request)
        prefs = negotiate.prefer(request)
        pairs = query_pairs(request.scope["query_string"])
        get = request.method in ("GET", "HEAD")
        body = {} if get else await _json_body(request, empty={})
        if not isinstance(body, dict):
            raise errors.ApiError(
                400, "PGRST102", "Empty or invalid json", details="expected an object of arguments"
            )

        async def work(conn: Any, catalog: Catalog) -> tuple[str | None, int, bool]:
            builder = Builder(catalog)
            req = parse_query(pairs, keep_unknown=_arg_names(catalog, name) if get else frozenset())
            args: dict[str, Any] = dict(req.extra) if get else dict(body)
            function = rpc.choose(builder, name, args)
            statement, is_set = rpc.statement(
                builder,
                function,
                args,
                req,
                single=accept.single,
                strip_nulls=accept.strip_nulls,
                raw=get,
            )
            cur = await conn.execute(statement, builder.params)
            text, count = await cur.fetchone()
            if function.return_type == "void":
                return None, 0, False
            if accept.single and is_set and count != 1:
                raise errors.not_one_row(count)
            return text, count, is_set

        text, count, is_set = await in_transaction(
            self.connector, self.cache, identity, work, read_only=get
        )
        if text is None and not is_set:
            return Response(status_code=204)
        headers = {}
        if is_set:
            headers["Content-Range"] = negotiate.content_range(
                0, count, count if prefs.count else None
            )
        if request.method == "HEAD":
            return Response(status_code=200, headers=headers, media_type=accept.media_type)
        return Response(
            text or "null", status_code=200, media_type=accept.media_type, headers=headers
        )


def _arg_names(catalog: Catalog, name: str) -> frozenset[str]:
    return frozenset(a for f in catalog.functions.get(name, ()) for a in f.arg_names)


async def _json_body(request: Request, *, empty: Any = None) -> Any:
    raw = await request.body()
    if not raw.strip():
        if empty is not None:
            return empty
        raise errors.ApiError(400, "PGRST102", "Empty or invalid json")
    try:
        return json.loads(raw)
    except ValueError:
        raise errors.ApiError(400, "PGRST102", "Empty or invalid json") from None


async def _run_writes(
    conn: Any,
    builder: Builder,
    statements: list[Any],
    returning: write.Returning,
    primary_key: tuple[str, ...],
) -> tuple[str | None, int, str | None]:
    """Execute the statements; (JSON body of all written rows, row count, Location query)."""
    if returning.mode == "minimal":
        count = 0
        for statement in statements:
            cur = await conn.execute(statement, builder.params)
            count += max(cur.rowcount, 0)
        return None, count, None
    bodies: list[Any] = []
    texts: list[str] = []
    count = 0
    for statement in statements:
        cur = await conn.execute(statement, builder.params)
        text, rows = await cur.fetchone()
        count += rows
        texts.append(text)
    if returning.single and count != 1:
        raise errors.not_one_row(count)
    location: str | None = None
    if len(texts) == 1:
        body = texts[0]
    elif returning.single:
        body = next((t for t in texts if t and t != "null"), "null")
    else:
        for text in texts:
            bodies.extend(json.loads(text))
        body = json.dumps(bodies)
    if returning.mode == "headers-only" and count:
        first = json.loads(texts[0])
        first = first[0] if isinstance(first, list) else first
        if isinstance(first, dict):
            location = "&".join(
                f"{quote(k)}=eq.{quote(str(first.get(k)))}" for k in primary_key if k in first
            )
    return body, count, location
