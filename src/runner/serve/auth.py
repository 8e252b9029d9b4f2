"""``/auth/v1``: the GoTrue subset the clients use."""

from __future__ import annotations

from starlette.routing import BaseRoute

from runner.serve.state import ServeState


def routes(state: ServeState) -> list[BaseRoute]:
    """The routes mounted at ``/auth/v1`` (being built: issue #5)."""
    return []
