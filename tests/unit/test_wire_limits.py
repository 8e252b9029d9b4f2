"""Deadlines and caps on the wire: ``timeout`` bounds a whole attempt, bodies stop at a cap.

Every server here is a plain asyncio TCP server on 127.0.0.1 that writes exactly
what the test chooses, at the pace it chooses; each one sends a bounded number of
bytes and stops by itself (or as soon as the client hangs up, or the test ends).
Both transports (aiohttp, httpcore) must behave the same.
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import random
from collections.abc import AsyncIterator, Awaitable, Callable

import httpx
import pytest

from runner.api import make_client, run_suite
from runner.execute.http.send import WireLimits, build, send, wire_limits
from runner.models import Defaults, ErrorCategory, RetryPolicy, Status, TestResult
from runner.models.suite import MAX_RESPONSE_BYTES
from runner.settings import HttpClient, Settings
from runner.suite.load import load_suite_text
from runner.templating.render import RenderedRequest

KINDS: list[HttpClient] = ["httpcore", "aiohttp"]
Talk = Callable[[asyncio.StreamWriter, asyncio.Event], Awaitable[None]]


@contextlib.asynccontextmanager
async def server(talk: Talk) -> AsyncIterator[str]:
    """A server that reads each request's head, then lets ``talk`` answer (once)."""
    done = asyncio.Event()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await reader.readuntil(b"\r\n\r\n")
            await talk(writer, done)
        except (asyncio.IncompleteReadError, ConnectionError, OSError):
            pass  # the client hung up: that is what a cut or a deadline does
        finally:
            writer.close()

    srv = await asyncio.start_server(handle, "127.0.0.1", 0)
    try:
        yield f"http://127.0.0.1:{srv.sockets[0].getsockname()[1]}"
    finally:
        done.set()
        srv.close()
        await srv.wait_closed()


async def trickle(writer: asyncio.StreamWriter, data: bytes, done: asyncio.Event) -> None:
    """Write ``data`` one byte per second; stop at its end, or when the test is over."""
    for i in range(len(data)):
        writer.write(data[i : i + 1])
        await writer.drain()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(done.wait(), 1.0)
        if done.is_set():
            return


async def slow_headers(writer: asyncio.StreamWriter, done: asyncio.Event) -> None:
    await trickle(writer, b"HTTP/1.1 200 OK\r\nX-Pad: " + b"a" * 40 + b"\r\n\r\n", done)


async def slow_body(writer: asyncio.StreamWriter, done: asyncio.Event) -> None:
    writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 40\r\n\r\n")
    await trickle(writer, b"b" * 40, done)


def suite_text(base: str, test: str = "", defaults: str = "timeout: 2") -> str:
    return f"""
name: wire
base_url: {base}
defaults: {{{defaults}, retries: {{count: 1, backoff: 0}}}}
tests:
  - id: t
    request: {{url: /x}}
    checks: {{status: 200}}
    {test}
"""


async def run_one(kind: HttpClient, text: str) -> TestResult:
    async with make_client(4, kind) as client:
        result = await run_suite(
            load_suite_text(text, file="wire.yaml"),
            client=client,
            services=(),
            environ={},
            settings=Settings(_env_file=None),  # type: ignore[call-arg]
        )
    (only,) = result.results
    return only


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("talk", [slow_headers, slow_body], ids=["headers", "body"])
async def test_a_slow_loris_fails_each_attempt_by_the_deadline(
    kind: HttpClient, talk: Talk
) -> None:
    """Headers or body at 1 byte/s with timeout: 2: every attempt is a timeout within 2.5 s."""
    async with server(talk) as base:
        result = await run_one(kind, suite_text(base))
    assert (result.status, result.error_category) == (Status.ERROR, ErrorCategory.TIMEOUT)
    assert len(result.attempts) == 2
    for attempt in result.attempts:
        assert attempt.error_category is ErrorCategory.TIMEOUT
        assert 1900 <= attempt.duration_ms < 2500, attempt
    assert "within 2 s" in result.message


@pytest.mark.parametrize("kind", KINDS)
async def test_read_timeout_bounds_a_silent_server_before_the_deadline(kind: HttpClient) -> None:
    """read_timeout: 0.3 under timeout: 10: the silent server fails the attempt after ~0.3 s."""

    async def silent(writer: asyncio.StreamWriter, done: asyncio.Event) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(done.wait(), 10)

    async with server(silent) as base:
        text = suite_text(base, "read_timeout: 0.3", defaults="timeout: 10")
        result = await run_one(kind, text)
    assert result.error_category is ErrorCategory.TIMEOUT
    assert "ReadTimeout" in result.message
    assert all(a.duration_ms < 2000 for a in result.attempts)


def answer(body: bytes, *, chunked: bool, gzipped: bool = False) -> Talk:
    """A 200 with ``body`` (Content-Length, or chunks of 1,000 bytes)."""

    async def talk(writer: asyncio.StreamWriter, done: asyncio.Event) -> None:
        head = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
        head += "Content-Encoding: gzip\r\n" if gzipped else ""
        if not chunked:
            writer.write(f"{head}Content-Length: {len(body)}\r\n\r\n".encode() + body)
        else:
            writer.write(f"{head}Transfer-Encoding: chunked\r\n\r\n".encode())
            for i in range(0, len(body), 1000):
                part = body[i : i + 1000]
                writer.write(f"{len(part):x}\r\n".encode() + part + b"\r\n")
            writer.write(b"0\r\n\r\n")
        await writer.drain()

    return talk


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("chunked", [False, True], ids=["length", "chunked"])
async def test_a_body_at_the_cap_passes_one_byte_more_is_too_large(
    kind: HttpClient, chunked: bool
) -> None:
    """max_response_bytes: 5000 lets 5,000 bytes through; 5,001 fail, unretried."""
    cap = "max_response_bytes: 5000"
    async with server(answer(b"x" * 5000, chunked=chunked)) as base:
        fits = await run_one(kind, suite_text(base, cap))
    async with server(answer(b"x" * 5001, chunked=chunked)) as base:
        cut = await run_one(kind, suite_text(base, cap))
    assert fits.status is Status.PASSED
    assert fits.response is not None and fits.response.body == "x" * 5000
    assert (cut.status, cut.error_category) == (Status.ERROR, ErrorCategory.RESPONSE_TOO_LARGE)
    assert "more than 5000 bytes" in cut.message
    (attempt,) = cut.attempts  # retries: {count: 1}, but the answer would be as large again
    assert (attempt.status_code, attempt.error_category) == (
        200,
        ErrorCategory.RESPONSE_TOO_LARGE,
    )


@pytest.mark.parametrize("kind", KINDS)
async def test_the_cap_counts_the_decoded_body(kind: HttpClient) -> None:
    """A gzip body of ~8 KB that decodes to 8 MiB is cut by a 1 MiB suite-wide cap."""
    bomb = gzip.compress(b"\0" * (8 * 1024 * 1024))
    async with server(answer(bomb, chunked=False, gzipped=True)) as base:
        text = suite_text(base, defaults="timeout: 5, max_response_bytes: 1048576")
        result = await run_one(kind, text)
    assert result.error_category is ErrorCategory.RESPONSE_TOO_LARGE


@pytest.mark.parametrize("kind", KINDS)
async def test_after_a_cut_response_the_client_still_works(kind: HttpClient) -> None:
    """The cut connection is not reused for the next request, which gets its whole answer."""
    sizes = iter([50_000, 10])

    async def talk(writer: asyncio.StreamWriter, done: asyncio.Event) -> None:
        await answer(b"y" * next(sizes), chunked=True)(writer, done)

    async with server(talk) as base, make_client(2, kind) as client:
        limits = WireLimits(5.0, max_bytes=1000)
        outcomes = []
        for _ in range(2):
            request = build(client, get(f"{base}/x"), limits)
            outcomes.append(await send(client, request, **_plain(), limits=limits))
    assert outcomes[0].error_category is ErrorCategory.RESPONSE_TOO_LARGE
    assert outcomes[0].response is None
    assert outcomes[1].error_category is None
    assert outcomes[1].response is not None and outcomes[1].response.content == b"y" * 10


def get(url: str) -> RenderedRequest:
    return RenderedRequest("GET", url, None, {}, None, None, None)


def _plain() -> dict[str, object]:
    return {"policy": RetryPolicy(), "rng": random.Random(1), "redact": lambda s: s}


def test_limits_come_from_the_test_then_the_defaults() -> None:
    """Each of the four settings falls back to defaults on its own; the cap defaults to 10 MiB."""
    suite = load_suite_text(suite_text("http://h", "read_timeout: 4"), file="s.yaml").suite
    defaults = Defaults(timeout=9, connect_timeout=3, max_response_bytes=100)
    assert wire_limits(suite.tests[0], defaults) == WireLimits(9, 3, 4, 100)
    assert wire_limits(suite.tests[0], Defaults()) == WireLimits(30, None, 4, MAX_RESPONSE_BYTES)


def test_connect_and_read_timeouts_reach_the_transport() -> None:
    """The request carries connect/read waits when set, else the total for every wait."""
    client = httpx.AsyncClient()
    own = build(client, get("http://h/x"), WireLimits(9, 2, 4))
    assert own.extensions["timeout"] == {"connect": 2, "read": 4, "write": 9, "pool": 9}
    total = build(client, get("http://h/x"), WireLimits(9))
    assert total.extensions["timeout"] == {"connect": 9, "read": 9, "write": 9, "pool": 9}
