"""``/rest/v1``: the PostgREST subset supabase-py and supabase-js use.

``parse`` (query grammar -> typed request), ``catalog`` (schema cache: what may be
named), ``build``/``write``/``rpc`` (typed request -> ``psycopg.sql``), ``access`` (API
key and JWT -> identity), ``execute`` (one transaction per request), ``handlers`` (HTTP).
"""

from __future__ import annotations

from starlette.routing import BaseRoute, Route

from runner.serve.state import ServeState

TABLE_METHODS = ["GET", "HEAD", "POST", "PATCH", "DELETE"]


def routes(state: ServeState) -> list[BaseRoute]:
    """The routes mounted at ``/rest/v1``."""
    from runner.serve.rest.handlers import RestApi

    api = RestApi(state)
    return [
        Route("/rpc/{name}", api.rpc, methods=["GET", "HEAD", "POST"]),
        Route("/{name}", api.table, methods=TABLE_METHODS),
    ]
