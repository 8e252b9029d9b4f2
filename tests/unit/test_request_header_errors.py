"""A header whose value holds a CR, LF or NUL is a ``request`` error naming it, not ``internal``."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest

from runner.execute.engine import execute
from runner.execute.http.send import HTTP_CLIENTS, make_transport
from runner.models import ErrorCategory, Status
from runner.plan.graph import build_plan
from runner.store.base import NullStore
from runner.suite.environment import resolve_environment
from runner.suite.load import load_suite_text


@pytest.fixture
async def server() -> AsyncIterator[tuple[str, list[bytes]]]:
    """A plain TCP server answering 200 to anything; the requests it received."""
    received: list[bytes] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        received.append(await reader.readuntil(b"\r\n\r\n"))
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
        await writer.drain()
        writer.close()

    srv = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = srv.sockets[0].getsockname()[1]
    async with srv:
        yield f"http://127.0.0.1:{port}", received


@pytest.mark.parametrize("kind", HTTP_CLIENTS)
async def test_crlf_in_a_header_value_is_a_request_error_naming_the_header(
    server: tuple[str, list[bytes]], kind: str
) -> None:
    """With either real transport: category request, the header named, its value not shown."""
    base_url, received = server
    text = (
        f"name: s\nbase_url: {base_url}\ntests:\n"
        "  - id: inject\n"
        '    request: {url: /x, headers: {X-Token: "secret\\r\\nX-Injected: 1"}}\n'
    )
    plan = build_plan(load_suite_text(text, file="suite.yaml"))
    environment = resolve_environment(plan.loaded, None, {}, dotenv={})
    async with httpx.AsyncClient(transport=make_transport(1, kind)) as client:  # type: ignore[arg-type]
        result = await execute(
            plan,
            store=NullStore(),
            client=client,
            environment=environment,
            concurrency=1,
            bail=False,
            seed=7,
            body_limit=8192,
        )
    (outcome,) = result.results
    assert outcome.status is Status.ERROR
    assert outcome.error_category is ErrorCategory.REQUEST
    assert "header 'X-Token'" in outcome.message
    assert "X-Injected" not in outcome.message and "secret" not in outcome.message
    assert received == []
