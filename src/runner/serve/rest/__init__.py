"""``/rest/v1``: the PostgREST subset supabase-py and supabase-js use."""

from __future__ import annotations

from starlette.routing import BaseRoute

from runner.serve.state import ServeState


def routes(state: ServeState) -> list[BaseRoute]:
    """The routes mounted at ``/rest/v1`` (being built: issue #5)."""
    return []
