"""The ASGI app of ``serve``: one Starlette app, four parts mounted side by side."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.routing import BaseRoute, Mount, WebSocketRoute

from runner.serve.state import ServeState

# what supabase-js sends and reads across origins (the web UI may be served elsewhere)
CORS_HEADERS = [
    "apikey",
    "authorization",
    "x-client-info",
    "x-supabase-api-version",
    "content-type",
    "content-profile",
    "accept-profile",
    "prefer",
    "range",
    "range-unit",
]
EXPOSED_HEADERS = ["content-range", "content-location", "location", "preference-applied"]


def create_app(state: ServeState) -> Starlette:
    """The app: ``/rest/v1``, ``/auth/v1``, ``/realtime/v1/websocket`` and the web UI."""
    from runner.serve import auth, rest, web
    from runner.serve.realtime import RealtimeService

    realtime = RealtimeService(state)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await state.open()
        await realtime.start()
        # runs whose runner died are marked interrupted while serve is up
        reaper = asyncio.create_task(state.reap_periodically(), name="serve-reaper")
        try:
            yield
        finally:
            reaper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reaper
            await realtime.stop()
            await state.close()

    routes: list[BaseRoute] = [
        Mount("/rest/v1", routes=rest.routes(state)),
        Mount("/auth/v1", routes=auth.routes(state)),
        WebSocketRoute("/realtime/v1/websocket", realtime.endpoint),
        *web.routes(state),
    ]
    middleware = [
        Middleware(
            CORSMiddleware,
            allow_origins=["*"],
            allow_methods=["GET", "POST", "PATCH", "PUT", "DELETE", "OPTIONS", "HEAD"],
            allow_headers=CORS_HEADERS,
            expose_headers=EXPOSED_HEADERS,
        )
    ]
    app = Starlette(routes=routes, middleware=middleware, lifespan=lifespan)
    app.state.serve = state
    app.state.realtime = realtime
    return app
