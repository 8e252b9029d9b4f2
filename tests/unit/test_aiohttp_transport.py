"""The aiohttp transport under httpx sends and reports exactly what httpx's own does.

Each test talks to a raw asyncio TCP server on 127.0.0.1 that records the bytes it
was sent and answers with bytes chosen by the test, so both transports are judged
on the wire, including the broken answers a real API can give.
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import random
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

import httpx
import pytest

from runner.api import make_client
from runner.execute.http.send import send
from runner.models import ErrorCategory, RetryPolicy
from support import free_port

KINDS = ["httpcore", "aiohttp"]
Answer = Callable[[bytes], Awaitable[bytes | None]]


@dataclass
class Seen:
    requests: list[bytes] = field(default_factory=list)
    connections: int = 0


def _split(raw: bytes) -> tuple[str, list[tuple[str, str]], bytes]:
    head, _, body = raw.partition(b"\r\n\r\n")
    line, *fields = head.decode("latin-1").split("\r\n")
    headers = [(k.strip().lower(), v.strip()) for k, _, v in (f.partition(":") for f in fields)]
    return line, headers, body


@contextlib.asynccontextmanager
async def raw_server(
    answer: Answer, *, close_after_reply: bool = False
) -> AsyncIterator[tuple[str, Seen]]:
    """A server calling ``answer(request bytes)``; None closes the connection unanswered."""
    seen = Seen()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        seen.connections += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = next((int(v) for k, v in _split(head)[1] if k == "content-length"), 0)
                raw = head + (await reader.readexactly(length) if length else b"")
                seen.requests.append(raw)
                reply = await answer(raw)
                if reply is None:
                    break
                writer.write(reply)
                await writer.drain()
                if close_after_reply:
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}", seen
    finally:
        server.close()
        await server.wait_closed()


def _ok(body: bytes = b'{"ok": true}', extra: str = "") -> bytes:
    head = f"HTTP/1.1 200 Fine Thanks\r\nContent-Type: application/json\r\n{extra}"
    return head.encode() + f"Content-Length: {len(body)}\r\n\r\n".encode() + body


async def _exchange(kind: str, url: str, **kwargs: object) -> httpx.Response:
    async with make_client(4, kind) as client:
        request = client.build_request(url=url, **kwargs)  # type: ignore[arg-type]
        return await client.send(request)


@pytest.mark.parametrize("kind", KINDS)
async def test_what_goes_out_is_what_httpx_built(kind: str) -> None:
    """Method, path, query, every header (repeats too) and the body reach the server as built."""

    async def answer(raw: bytes) -> bytes:
        return _ok()

    async with raw_server(answer) as (base, seen):
        await _exchange(
            kind,
            f"{base}/items/7",
            method="PUT",
            params={"q": "a b"},
            headers=[("X-Many", "1"), ("X-Many", "2"), ("Authorization", "Bearer t")],
            content=b"raw-bytes",
        )
    line, headers, body = _split(seen.requests[0])
    assert line == "PUT /items/7?q=a+b HTTP/1.1"
    assert body == b"raw-bytes"
    assert [v for k, v in headers if k == "x-many"] == ["1", "2"]
    names = sorted(k for k, _ in headers)
    # httpx's own headers and nothing more: no Content-Type guessed for raw bytes
    assert names == sorted(
        [
            "host",
            "accept",
            "accept-encoding",
            "connection",
            "user-agent",
            "x-many",
            "x-many",
            "authorization",
            "content-length",
        ]
    )


async def test_both_transports_send_the_same_headers() -> None:
    """A JSON POST leaves with the same header names and values through either transport."""

    async def answer(raw: bytes) -> bytes:
        return _ok()

    sent: list[list[tuple[str, str]]] = []
    async with raw_server(answer) as (base, seen):
        for kind in KINDS:
            await _exchange(kind, f"{base}/x", method="POST", json={"a": 1})
    for raw in seen.requests:
        line, headers, body = _split(raw)
        assert (line, body) == ("POST /x HTTP/1.1", b'{"a":1}')
        sent.append(sorted(headers))
    assert len(sent) == 2 and sent[0] == sent[1]


@pytest.mark.parametrize("kind", KINDS)
async def test_what_comes_back_is_the_servers_answer(kind: str) -> None:
    """Status, reason, repeated headers and a gzip body decoded once by httpx."""
    payload = b'{"name": "caf\xc3\xa9"}'

    async def answer(raw: bytes) -> bytes:
        return _ok(gzip.compress(payload), "Content-Encoding: gzip\r\nX-Rep: a\r\nX-Rep: b\r\n")

    async with raw_server(answer) as (base, _):
        response = await _exchange(kind, f"{base}/x", method="GET")
    assert response.status_code == 200
    assert response.reason_phrase == "Fine Thanks"
    assert response.headers.get_list("x-rep") == ["a", "b"]
    assert response.json() == {"name": "café"}
    assert response.http_version == "HTTP/1.1"


@pytest.mark.parametrize("kind", KINDS)
async def test_cookies_are_kept_by_httpx_once(kind: str) -> None:
    """A Set-Cookie is sent back on the next request exactly once (aiohttp keeps no jar)."""

    async def answer(raw: bytes) -> bytes:
        return _ok(extra="Set-Cookie: sid=abc; Path=/\r\n")

    async with raw_server(answer) as (base, seen), make_client(2, kind) as client:
        await client.get(f"{base}/login")
        await client.get(f"{base}/me")
    cookies = [v for k, v in _split(seen.requests[1])[1] if k == "cookie"]
    assert cookies == ["sid=abc"]


@pytest.mark.parametrize("kind", KINDS)
async def test_connections_are_reused(kind: str) -> None:
    """Sequential requests share one kept-alive connection."""

    async def answer(raw: bytes) -> bytes:
        return _ok()

    async with raw_server(answer) as (base, seen), make_client(4, kind) as client:
        for i in range(5):
            assert (await client.get(f"{base}/{i}")).status_code == 200
    assert (len(seen.requests), seen.connections) == (5, 1)


async def _outcome(kind: str, url: str, wait: float = 5.0) -> tuple[ErrorCategory | None, str]:
    async with make_client(2, kind) as client:
        request = client.build_request("GET", url, timeout=wait)
        exchange = await send(
            client, request, policy=RetryPolicy(), rng=random.Random(1), redact=lambda s: s
        )
    return exchange.error_category, exchange.error or ""


@pytest.mark.parametrize("kind", KINDS)
async def test_a_refused_connection_is_a_connection_error(kind: str) -> None:
    """Nothing listening: ConnectError, recorded as a connection failure (not a timeout)."""
    category, error = await _outcome(kind, f"http://127.0.0.1:{free_port()}/x")
    assert category is ErrorCategory.CONNECTION
    assert "ConnectError" in error


@pytest.mark.parametrize("kind", KINDS)
async def test_a_silent_server_is_a_read_timeout(kind: str) -> None:
    """A server that never answers: ReadTimeout after the request's timeout."""
    never = asyncio.Event()

    async def answer(raw: bytes) -> bytes | None:
        await never.wait()
        return None

    async with raw_server(answer) as (base, _):
        category, error = await _outcome(kind, f"{base}/slow", wait=0.2)
        never.set()
    assert category is ErrorCategory.TIMEOUT
    assert "ReadTimeout" in error


@pytest.mark.parametrize("kind", KINDS)
async def test_a_dropped_answer_is_a_connection_error(kind: str) -> None:
    """The server closes before answering: a transport error, not a timeout or a crash."""

    async def answer(raw: bytes) -> bytes | None:
        return None

    async with raw_server(answer) as (base, _):
        category, error = await _outcome(kind, f"{base}/x")
    assert category is ErrorCategory.CONNECTION
    assert "Error" in error and "Timeout" not in error


@pytest.mark.parametrize("kind", KINDS)
async def test_a_truncated_body_is_a_connection_error(kind: str) -> None:
    """A body shorter than its Content-Length, then EOF: a transport error while reading."""

    async def answer(raw: bytes) -> bytes | None:
        return b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly-this"

    async with (
        raw_server(answer, close_after_reply=True) as (base, _),
        make_client(2, kind) as client,
    ):
        with pytest.raises(httpx.TransportError) as caught:
            await client.get(f"{base}/x")
    assert not isinstance(caught.value, httpx.TimeoutException)


@pytest.mark.parametrize("kind", KINDS)
async def test_a_malformed_answer_is_a_protocol_error(kind: str) -> None:
    """Bytes that are not HTTP: httpx.RemoteProtocolError from either transport."""

    async def answer(raw: bytes) -> bytes | None:
        return b"this is not http\r\n\r\n"

    async with raw_server(answer) as (base, _), make_client(2, kind) as client:
        with pytest.raises(httpx.RemoteProtocolError):
            await client.get(f"{base}/x")
