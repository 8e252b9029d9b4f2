"""The web UI: static files at ``/`` and ``/config.json`` for the page."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Route

from runner.serve.state import ServeState


def routes(state: ServeState) -> list[BaseRoute]:
    """``/config.json`` (Supabase URL and anon key for the page); the UI comes with issue #6."""

    async def config(request: Request) -> JSONResponse:
        return JSONResponse({"supabaseUrl": state.public_url, "anonKey": state.keys.anon_key})

    return [Route("/config.json", config)]
