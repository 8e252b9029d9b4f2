"""Sends one rendered request with the test's wire limits and retry policy.

Each attempt has a total deadline (``timeout``: pool wait, connect, send, headers
and body together), enforced here the same way for every transport; the optional
``connect_timeout`` and ``read_timeout`` go to the transport as httpx timeouts.
The body is read in chunks and reading stops at ``max_response_bytes`` (decoded),
so memory stays bounded whatever the server sends.

Connection errors, timeouts and the statuses listed in ``retries.on_status`` are
retried with exponential backoff and seeded jitter (an oversized response is not).
Every attempt is kept as an ``Attempt``; the outcome is data (``Exchange``), never
an exception.
"""

from __future__ import annotations

import asyncio
import random
import ssl
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, get_args

import httpx

from runner.execute.http.deadline import Deadline
from runner.models import Attempt, Defaults, ErrorCategory, RetryPolicy, TestSpec
from runner.models.suite import MAX_RESPONSE_BYTES
from runner.settings import HttpClient
from runner.templating.render import RenderedRequest

Sleep = Callable[[float], Awaitable[Any]]


@dataclass(slots=True)
class Exchange:
    """What sending produced: the last response (if any) and every attempt."""

    response: httpx.Response | None
    attempts: tuple[Attempt, ...]
    elapsed_ms: float | None
    error_category: ErrorCategory | None = None
    error: str | None = None


@dataclass(frozen=True, slots=True)
class WireLimits:
    """How long one attempt may take and how much of a response it may read.

    ``total`` is the attempt's deadline (None: only the httpx timeouts of the
    request bound it); ``connect`` and ``read`` are the transport's connect and
    per-read waits, each ``total`` when not set.
    """

    total: float | None = None
    connect: float | None = None
    read: float | None = None
    max_bytes: int = MAX_RESPONSE_BYTES
    timeout: httpx.Timeout = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        total = self.total
        timeout = httpx.Timeout(
            total, connect=self.connect or total, read=self.read or total, pool=total
        )
        object.__setattr__(self, "timeout", timeout)


@lru_cache(maxsize=256)
def _limits(total: float, connect: float | None, read: float | None, max_bytes: int) -> WireLimits:
    return WireLimits(total, connect, read, max_bytes)


def wire_limits(spec: TestSpec, defaults: Defaults) -> WireLimits:
    """The test's limits: its own settings, else the suite's defaults."""
    return _limits(
        spec.timeout or defaults.timeout,
        defaults.connect_timeout if spec.connect_timeout is None else spec.connect_timeout,
        defaults.read_timeout if spec.read_timeout is None else spec.read_timeout,
        spec.max_response_bytes or defaults.max_response_bytes,
    )


NO_LIMITS = WireLimits()
"""No deadline beyond the request's own httpx timeouts; the default body cap."""


class ShardedTransport(httpx.AsyncBaseTransport):
    """Several small httpx connection pools behind one transport.

    httpcore's pool scans every connection it holds (with a readability syscall on
    each idle one) whenever a request starts or ends, so one pool of C connections
    costs O(C) per request: at 256 tests in flight that scan was ~85 % of the CPU.
    Each request goes to the shard with the fewest requests in flight, so every
    scan covers ``per_shard`` connections at most.
    """

    def __init__(
        self, connections: int, per_shard: int = 8, *, tls: ssl.SSLContext | None = None
    ) -> None:
        count = max(1, -(-connections // per_shard))
        limits = httpx.Limits(max_connections=per_shard, max_keepalive_connections=per_shard)
        # one TLS context for all (each new one loads the CA bundle: ~40 ms)
        tls = tls or httpx.create_ssl_context()
        self._shards = [httpx.AsyncHTTPTransport(verify=tls, limits=limits) for _ in range(count)]
        self._busy = [0] * count

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        busy = self._busy
        index = busy.index(min(busy))
        busy[index] += 1
        try:
            return await self._shards[index].handle_async_request(request)
        finally:
            busy[index] -= 1

    async def aclose(self) -> None:
        for shard in self._shards:
            await shard.aclose()


def refusing_tls_context() -> ssl.SSLContext:
    """A client TLS context that trusts no certificate: any handshake fails.

    Made in well under a millisecond, where the real one loads the CA bundle. It
    is given to pools that only ever carry ``http://`` (which never use TLS), so
    if one ever did attempt TLS, it would fail closed rather than skip checks.
    """
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # CERT_REQUIRED, check_hostname
    context.verify_mode = ssl.CERT_REQUIRED
    context.check_hostname = True
    return context


class SchemeTransport(httpx.AsyncBaseTransport):
    """``http://`` through one pool, ``https://`` through another made on first use.

    Creating an httpx transport loads the CA bundle (~40-80 ms, a fifth of a short
    run's start-up) even when every request is plain HTTP. Here the plain pool gets
    ``refusing_tls_context()`` and the verifying context is only created, by
    ``httpx.create_ssl_context()`` exactly as httpx would, for the first ``https``
    request.
    """

    def __init__(self, build: Callable[[ssl.SSLContext], httpx.AsyncBaseTransport]) -> None:
        self._build = build
        self._plain = build(refusing_tls_context())
        self._secure: httpx.AsyncBaseTransport | None = None

    @property
    def plain(self) -> httpx.AsyncBaseTransport:
        """The pool for ``http://`` requests."""
        return self._plain

    @property
    def secure(self) -> httpx.AsyncBaseTransport | None:
        """The pool for ``https://`` requests, None until the first one."""
        return self._secure

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.scheme == "http":
            return await self._plain.handle_async_request(request)
        if self._secure is None:
            self._secure = self._build(httpx.create_ssl_context())
        return await self._secure.handle_async_request(request)

    async def aclose(self) -> None:
        await self._plain.aclose()
        if self._secure is not None:
            await self._secure.aclose()


HTTP_CLIENTS: tuple[str, ...] = get_args(HttpClient)


def make_transport(concurrency: int, kind: HttpClient = "aiohttp") -> httpx.AsyncBaseTransport:
    """The transport under the run's httpx client, per scheme (``SchemeTransport``).

    ``aiohttp`` (the default): one aiohttp connector per scheme, sized to the
    concurrency (``runner.execute.http.aiohttp_transport``). ``httpcore``: httpx's own transport,
    one pool sized to the concurrency, or shards of 8 above 16 tests in flight.
    Either way no CA bundle is loaded unless an ``https`` URL is requested.
    """
    if kind not in HTTP_CLIENTS:
        raise ValueError(f"unknown HTTP client {kind!r}: use one of {', '.join(HTTP_CLIENTS)}")
    size = max(concurrency, 10)
    if kind == "aiohttp":
        from runner.execute.http.aiohttp_transport import AiohttpTransport

        return SchemeTransport(lambda tls: AiohttpTransport(tls=tls, connections=size))
    if concurrency <= 16:
        limits = httpx.Limits(max_connections=size, max_keepalive_connections=size)
        return SchemeTransport(lambda tls: httpx.AsyncHTTPTransport(verify=tls, limits=limits))
    return SchemeTransport(lambda tls: ShardedTransport(concurrency, tls=tls))


class RequestBuildError(Exception):
    """httpx refused the rendered request (invalid URL, unserialisable JSON)."""


def backoff_delay(policy: RetryPolicy, retry: int, rng: random.Random) -> float:
    """Seconds to wait before retry number ``retry`` (1 = the first retry)."""
    base = min(policy.max_backoff, policy.backoff * (2 ** (retry - 1)))
    return float(base * (1 + policy.jitter * rng.random()))


def build(client: httpx.AsyncClient, request: RenderedRequest, limits: WireLimits) -> httpx.Request:
    """The httpx request; raises ``RequestBuildError`` with a readable reason."""
    try:
        return client.build_request(
            request.method,
            request.url,
            params=request.params,
            headers=request.headers,
            json=request.json_body,
            data=request.form,
            content=request.body,
            timeout=limits.timeout,
        )
    except (httpx.InvalidURL, httpx.UnsupportedProtocol, TypeError, ValueError) as exc:
        raise RequestBuildError(f"cannot build the request: {type(exc).__name__}: {exc}") from exc


async def send(
    client: httpx.AsyncClient,
    request: httpx.Request,
    *,
    policy: RetryPolicy,
    rng: random.Random,
    redact: Callable[[str], str],
    sleep: Sleep = asyncio.sleep,
    limits: WireLimits = NO_LIMITS,
) -> Exchange:
    """Send ``request`` until it succeeds or the policy's retries are spent."""
    attempts: list[Attempt] = []
    number = 0
    total, cap = limits.total, limits.max_bytes
    while True:
        number += 1
        started_at = datetime.now(UTC)
        t0 = time.perf_counter()
        category: ErrorCategory | None = None
        error: str | None = None
        response: httpx.Response | None = None
        status: int | None = None
        try:
            with Deadline(total):
                response = await client.send(request, stream=True)
                status = response.status_code
                if not await read_body(response, cap):
                    response = None
                    category = ErrorCategory.RESPONSE_TOO_LARGE
                    error = redact(
                        f"response too large: more than {cap} bytes ({request.method} "
                        f"{request.url})"
                    )
        except TimeoutError:  # the attempt's deadline
            response, category = None, ErrorCategory.TIMEOUT
            within = f"within {total:g} s " if total is not None else ""
            error = redact(
                f"timeout error: no complete response {within}({request.method} {request.url})"
            )
        except httpx.TimeoutException as exc:
            response, category = None, ErrorCategory.TIMEOUT
            error = _describe("timeout", exc, request, redact)
        except httpx.TransportError as exc:
            response, category = None, ErrorCategory.CONNECTION
            error = _describe("connection", exc, request, redact)
        elapsed = (time.perf_counter() - t0) * 1000
        attempts.append(
            Attempt(
                number=number,
                started_at=started_at,
                duration_ms=elapsed,
                status_code=status,
                error_category=category,
                error=error,
            )
        )
        if category is None:
            retryable = status in policy.on_status
        else:  # an oversized answer would be as large again
            retryable = category is not ErrorCategory.RESPONSE_TOO_LARGE
        if not retryable or number > policy.count:
            return Exchange(response, tuple(attempts), elapsed, category, error)
        delay = backoff_delay(policy, number, rng)
        if delay > 0:
            await sleep(delay)


async def read_body(response: httpx.Response, cap: int) -> bool:
    """Read a streamed response's (decoded) body, as ``aread`` would; False above ``cap``.

    The body is read chunk by chunk and reading stops at the first chunk past the
    cap: the response is then closed (its connection dropped) and holds no body.
    """
    parts: list[bytes] = []
    size = 0
    try:
        async for part in response.aiter_bytes():
            size += len(part)
            if size > cap:
                break
            parts.append(part)
        else:
            # what ``Response.aread`` stores: .content, .text and .json() read it
            response._content = b"".join(parts)
            return True
    except BaseException:
        await response.aclose()
        raise
    await response.aclose()
    return False


def _describe(
    kind: str, exc: Exception, request: httpx.Request, redact: Callable[[str], str]
) -> str:
    detail = str(exc) or type(exc).__name__
    # the URL may carry a token in its query: it goes through the redactor too
    return redact(f"{kind} error: {type(exc).__name__}: {detail} ({request.method} {request.url})")
